/* report_data from libcosnet: evaluation counts, and the gallery of
 * misclassified images, which needs every image's scores (the evaluation
 * object keeps only counts), so the test set is scored again: per-class
 * models by their outputs, one classifier through cosnet_classify. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "collect.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define GALLERY_CHUNK 500

void report_collect_evaluation(report_data *data,
                               const cosnet_evaluation *train,
                               const cosnet_evaluation *test)
{
    const cosnet_evaluation *splits[REPORT_SPLITS] = {train, test};
    for (int s = 0; s < REPORT_SPLITS; s++) {
        const cosnet_evaluation *e = splits[s];
        data->total[s] = cosnet_evaluation_total(e);
        for (int r = 0; r < REPORT_RULES; r++) {
            data->correct[r][s] = cosnet_evaluation_correct(e, (cosnet_rule)r);
            for (unsigned a = 0; a < data->classes; a++)
                for (unsigned p = 0; p < data->classes; p++)
                    data->confusion[r][s][a][p] =
                        cosnet_evaluation_confusion(e, (cosnet_rule)r, a, p);
        }
    }
}

/* What the scoring keeps of one image. */
typedef struct scored {
    unsigned predicted;
    float predicted_similarity, true_similarity;
} scored;

typedef struct gallery_job {
    const cosnet_model *const *models;
    size_t model_count, dims;
    /* One network for all classes (cosnet-train): models[0] scored with
     * cosnet_classify against the first `classes` label vectors. */
    int classifier;
    size_t classes;
    const cosnet_labels *labels;
    const cosnet_dataset *dataset;
    size_t count;
    scored *results;
    progress *line;
    pthread_mutex_t lock;
    size_t next_chunk;
    cosnet_status status;
} gallery_job;

/* A worker's scratch for one chunk of images, carved from one block. */
typedef struct chunk_scratch {
    void *block;
    size_t *predicted;   /* classifier: GALLERY_CHUNK classes */
    float *outputs;      /* models x GALLERY_CHUNK x dims */
    float *scores;       /* models */
    float *pixels;       /* classifier: GALLERY_CHUNK images as floats */
    float *similarities; /* classifier: GALLERY_CHUNK */
} chunk_scratch;

/* The library's torch-form cosine, in float. */
static float cosine(const float *a, const float *b, size_t dims)
{
    float dot = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < dims; i++) {
        dot += a[i] * b[i];
        aa += a[i] * a[i];
        bb += b[i] * b[i];
    }
    float product = aa * bb;
    const float eps2 = 1e-12f;
    return dot / sqrtf(product > eps2 ? product : eps2);
}

static int scratch_create(const gallery_job *job, chunk_scratch *scratch)
{
    size_t models = job->model_count, dims = job->dims;
    size_t pixels = job->classifier ? cosnet_dataset_rows(job->dataset) *
                                          cosnet_dataset_columns(job->dataset)
                                    : 0;
    size_t classified = job->classifier ? GALLERY_CHUNK : 0;
    size_t floats = models * GALLERY_CHUNK * dims + models +
                    classified * pixels + classified;
    /* The size_t array first keeps every part aligned. */
    scratch->block =
        malloc(classified * sizeof(size_t) + floats * sizeof(float));
    if (!scratch->block)
        return -1;
    scratch->predicted = scratch->block;
    scratch->outputs = (float *)(scratch->predicted + classified);
    scratch->scores = scratch->outputs + models * GALLERY_CHUNK * dims;
    scratch->pixels = scratch->scores + models;
    scratch->similarities = scratch->pixels + classified * pixels;
    return 0;
}

/* One model per class: s_k = cos(f_k(x), v_k), the own-label rule. */
static cosnet_status score_models(const gallery_job *job, size_t first,
                                  size_t n, chunk_scratch *scratch)
{
    size_t models = job->model_count, dims = job->dims;
    float *outputs = scratch->outputs, *scores = scratch->scores;
    cosnet_status status = COSNET_OK;
    for (size_t k = 0; k < models && status == COSNET_OK; k++)
        status =
            cosnet_model_predict_dataset(job->models[k], job->dataset, first, n,
                                         outputs + k * GALLERY_CHUNK * dims);
    if (status != COSNET_OK)
        return status;
    for (size_t i = 0; i < n; i++) {
        unsigned best = 0;
        for (size_t k = 0; k < models; k++) {
            scores[k] = cosine(outputs + (k * GALLERY_CHUNK + i) * dims,
                               cosnet_labels_vector(job->labels, k), dims);
            if (scores[k] > scores[best])
                best = (unsigned)k;
        }
        int truth = cosnet_dataset_label(job->dataset, first + i);
        scored *result = &job->results[first + i];
        result->predicted = best;
        result->predicted_similarity = scores[best];
        result->true_similarity =
            truth >= 0 && (size_t)truth < models ? scores[truth] : NAN;
    }
    return COSNET_OK;
}

/* One network for all classes: the prediction and its similarity are the
 * library's own (cosnet_classify, as cosnet_evaluate_classifier counts
 * them); the true class's similarity is needed only for the misclassified
 * images, whose output is computed again. */
static cosnet_status score_classifier(const gallery_job *job, size_t first,
                                      size_t n, chunk_scratch *scratch)
{
    const cosnet_model *model = job->models[0];
    size_t pixels = cosnet_dataset_rows(job->dataset) *
                    cosnet_dataset_columns(job->dataset);
    cosnet_status status =
        cosnet_dataset_to_float(job->dataset, first, n, scratch->pixels);
    if (status == COSNET_OK)
        status = cosnet_classify(model, job->labels, scratch->pixels, n,
                                 scratch->predicted, scratch->similarities,
                                 NULL, NULL);
    for (size_t i = 0; i < n && status == COSNET_OK; i++) {
        int truth = cosnet_dataset_label(job->dataset, first + i);
        scored *result = &job->results[first + i];
        result->predicted = (unsigned)scratch->predicted[i];
        result->predicted_similarity = scratch->similarities[i];
        result->true_similarity = result->predicted_similarity;
        if ((int)result->predicted == truth)
            continue;
        result->true_similarity = NAN;
        if (truth < 0 || (size_t)truth >= job->classes)
            continue;
        status = cosnet_model_predict(model, scratch->pixels + i * pixels, 1,
                                      scratch->outputs);
        if (status == COSNET_OK)
            result->true_similarity = cosine(
                scratch->outputs,
                cosnet_labels_vector(job->labels, (size_t)truth), job->dims);
    }
    return status;
}

static void *gallery_worker(void *argument)
{
    gallery_job *job = argument;
    chunk_scratch scratch = {NULL, NULL, NULL, NULL, NULL, NULL};
    if (scratch_create(job, &scratch) != 0) {
        pthread_mutex_lock(&job->lock);
        job->status = COSNET_ERROR_OUT_OF_MEMORY;
        pthread_mutex_unlock(&job->lock);
    }
    for (;;) {
        pthread_mutex_lock(&job->lock);
        size_t first = job->next_chunk * GALLERY_CHUNK;
        int stop = job->status != COSNET_OK || first >= job->count;
        job->next_chunk++;
        pthread_mutex_unlock(&job->lock);
        if (stop)
            break;
        size_t n = job->count - first < GALLERY_CHUNK ? job->count - first
                                                      : GALLERY_CHUNK;
        cosnet_status status = job->classifier
                                   ? score_classifier(job, first, n, &scratch)
                                   : score_models(job, first, n, &scratch);
        if (status != COSNET_OK) {
            pthread_mutex_lock(&job->lock);
            job->status = status;
            pthread_mutex_unlock(&job->lock);
            break;
        }
        progress_add(job->line, n);
    }
    free(scratch.block);
    return NULL;
}

typedef struct miss {
    size_t index;
    float margin;
} miss;

static int by_margin(const void *a, const void *b)
{
    const miss *x = a, *y = b;
    if (x->margin != y->margin)
        return x->margin < y->margin ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Scores job->dataset on `threads` threads, then keeps the `limit`
 * misclassified images with the lowest margin. */
static cosnet_status collect(gallery_job *job, unsigned threads, size_t limit,
                             report_gallery_entry **entries,
                             size_t *entry_count, size_t *errors)
{
    *entries = NULL;
    *entry_count = 0;
    *errors = 0;
    const cosnet_dataset *dataset = job->dataset;
    size_t rows = cosnet_dataset_rows(dataset);
    size_t columns = cosnet_dataset_columns(dataset);
    /* A classifier needs a label vector for every class of the data. */
    if (!dataset || job->model_count == 0 || !job->models[0] ||
        cosnet_labels_count(job->labels) < job->classes ||
        (job->classifier &&
         job->classes < cosnet_dataset_class_count(dataset)) ||
        rows * columns > REPORT_IMAGE_MAX_PIXELS)
        return COSNET_ERROR_INVALID_ARGUMENT;
    job->dims = cosnet_labels_dims(job->labels);
    job->count = cosnet_dataset_count(dataset);
    job->status = COSNET_OK;
    job->results = calloc(job->count ? job->count : 1, sizeof *job->results);
    if (!job->results)
        return COSNET_ERROR_OUT_OF_MEMORY;
    if (pthread_mutex_init(&job->lock, NULL) != 0) {
        free(job->results);
        return COSNET_ERROR_THREAD;
    }
    pthread_t handles[64];
    unsigned started = 0;
    for (unsigned t = 1; t < threads && t <= 64; t++) {
        if (pthread_create(&handles[started], NULL, gallery_worker, job) != 0)
            break;
        started++;
    }
    gallery_worker(job);
    for (unsigned t = 0; t < started; t++)
        pthread_join(handles[t], NULL);
    pthread_mutex_destroy(&job->lock);
    if (job->status != COSNET_OK) {
        free(job->results);
        return job->status;
    }

    size_t missed = 0;
    for (size_t i = 0; i < job->count; i++)
        if ((int)job->results[i].predicted != cosnet_dataset_label(dataset, i))
            missed++;
    miss *misses = malloc((missed ? missed : 1) * sizeof *misses);
    size_t keep = missed < limit ? missed : limit;
    report_gallery_entry *kept = calloc(keep ? keep : 1, sizeof *kept);
    if (!misses || !kept) {
        free(misses);
        free(kept);
        free(job->results);
        return COSNET_ERROR_OUT_OF_MEMORY;
    }
    size_t m = 0;
    for (size_t i = 0; i < job->count; i++)
        if ((int)job->results[i].predicted !=
            cosnet_dataset_label(dataset, i)) {
            misses[m].index = i;
            float margin = job->results[i].predicted_similarity -
                           job->results[i].true_similarity;
            misses[m].margin = isnan(margin) ? INFINITY : margin;
            m++;
        }
    qsort(misses, missed, sizeof *misses, by_margin);
    for (size_t j = 0; j < keep; j++) {
        size_t i = misses[j].index;
        report_gallery_entry *entry = &kept[j];
        entry->index = i;
        entry->truth = (unsigned)cosnet_dataset_label(dataset, i);
        entry->predicted = job->results[i].predicted;
        entry->predicted_similarity = job->results[i].predicted_similarity;
        entry->true_similarity = job->results[i].true_similarity;
        memcpy(entry->pixels, cosnet_dataset_image(dataset, i), rows * columns);
    }
    free(misses);
    free(job->results);
    *entries = kept;
    *entry_count = keep;
    *errors = missed;
    return COSNET_OK;
}

cosnet_status report_collect_gallery(
    const cosnet_model *const *models, size_t model_count,
    const cosnet_labels *labels, const cosnet_dataset *dataset,
    unsigned threads, size_t limit, progress *line,
    report_gallery_entry **entries, size_t *entry_count, size_t *errors)
{
    gallery_job job = {.models = models,
                       .model_count = model_count,
                       .classes = model_count,
                       .labels = labels,
                       .dataset = dataset,
                       .line = line};
    return collect(&job, threads, limit, entries, entry_count, errors);
}

cosnet_status report_collect_classifier_gallery(
    const cosnet_model *model, const cosnet_labels *labels,
    const cosnet_dataset *dataset, unsigned threads, size_t limit,
    progress *line, report_gallery_entry **entries, size_t *entry_count,
    size_t *errors)
{
    gallery_job job = {.models = &model,
                       .model_count = 1,
                       .classifier = 1,
                       .classes = cosnet_labels_count(labels),
                       .labels = labels,
                       .dataset = dataset,
                       .line = line};
    return collect(&job, threads, limit, entries, entry_count, errors);
}
