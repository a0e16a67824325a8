/* report_data from libcosnet: evaluation counts, and the gallery of
 * misclassified images, which needs every model's score per image (the
 * evaluation object keeps only counts), so the test set is scored again. */
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
    const cosnet_labels *labels;
    const cosnet_dataset *dataset;
    size_t count;
    scored *results;
    progress *line;
    pthread_mutex_t lock;
    size_t next_chunk;
    cosnet_status status;
} gallery_job;

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

static void *gallery_worker(void *argument)
{
    gallery_job *job = argument;
    size_t models = job->model_count, dims = job->dims;
    float *outputs = malloc(models * GALLERY_CHUNK * dims * sizeof *outputs);
    float *scores = malloc(models * sizeof *scores);
    if (!outputs || !scores) {
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
        cosnet_status status = COSNET_OK;
        for (size_t k = 0; k < models && status == COSNET_OK; k++)
            status = cosnet_model_predict_dataset(
                job->models[k], job->dataset, first, n,
                outputs + k * GALLERY_CHUNK * dims);
        if (status != COSNET_OK) {
            pthread_mutex_lock(&job->lock);
            job->status = status;
            pthread_mutex_unlock(&job->lock);
            break;
        }
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
        progress_add(job->line, n);
    }
    free(outputs);
    free(scores);
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

cosnet_status report_collect_gallery(
    const cosnet_model *const *models, size_t model_count,
    const cosnet_labels *labels, const cosnet_dataset *dataset,
    unsigned threads, size_t limit, progress *line,
    report_gallery_entry **entries, size_t *entry_count, size_t *errors)
{
    *entries = NULL;
    *entry_count = 0;
    *errors = 0;
    size_t rows = cosnet_dataset_rows(dataset);
    size_t columns = cosnet_dataset_columns(dataset);
    if (model_count == 0 || rows * columns > REPORT_IMAGE_MAX_PIXELS ||
        cosnet_labels_count(labels) < model_count)
        return COSNET_ERROR_INVALID_ARGUMENT;
    gallery_job job;
    memset(&job, 0, sizeof job);
    job.models = models;
    job.model_count = model_count;
    job.dims = cosnet_labels_dims(labels);
    job.labels = labels;
    job.dataset = dataset;
    job.count = cosnet_dataset_count(dataset);
    job.line = line;
    job.status = COSNET_OK;
    job.results = calloc(job.count ? job.count : 1, sizeof *job.results);
    if (!job.results)
        return COSNET_ERROR_OUT_OF_MEMORY;
    if (pthread_mutex_init(&job.lock, NULL) != 0) {
        free(job.results);
        return COSNET_ERROR_THREAD;
    }
    pthread_t handles[64];
    unsigned started = 0;
    for (unsigned t = 1; t < threads && t <= 64; t++) {
        if (pthread_create(&handles[started], NULL, gallery_worker, &job) != 0)
            break;
        started++;
    }
    gallery_worker(&job);
    for (unsigned t = 0; t < started; t++)
        pthread_join(handles[t], NULL);
    pthread_mutex_destroy(&job.lock);
    if (job.status != COSNET_OK) {
        free(job.results);
        return job.status;
    }

    size_t missed = 0;
    for (size_t i = 0; i < job.count; i++)
        if ((int)job.results[i].predicted != cosnet_dataset_label(dataset, i))
            missed++;
    miss *misses = malloc((missed ? missed : 1) * sizeof *misses);
    size_t keep = missed < limit ? missed : limit;
    report_gallery_entry *kept = calloc(keep ? keep : 1, sizeof *kept);
    if (!misses || !kept) {
        free(misses);
        free(kept);
        free(job.results);
        return COSNET_ERROR_OUT_OF_MEMORY;
    }
    size_t m = 0;
    for (size_t i = 0; i < job.count; i++)
        if ((int)job.results[i].predicted != cosnet_dataset_label(dataset, i)) {
            misses[m].index = i;
            float margin = job.results[i].predicted_similarity -
                           job.results[i].true_similarity;
            misses[m].margin = isnan(margin) ? INFINITY : margin;
            m++;
        }
    qsort(misses, missed, sizeof *misses, by_margin);
    for (size_t j = 0; j < keep; j++) {
        size_t i = misses[j].index;
        report_gallery_entry *entry = &kept[j];
        entry->index = i;
        entry->truth = (unsigned)cosnet_dataset_label(dataset, i);
        entry->predicted = job.results[i].predicted;
        entry->predicted_similarity = job.results[i].predicted_similarity;
        entry->true_similarity = job.results[i].true_similarity;
        memcpy(entry->pixels, cosnet_dataset_image(dataset, i), rows * columns);
    }
    free(misses);
    free(job.results);
    *entries = kept;
    *entry_count = keep;
    *errors = missed;
    return COSNET_OK;
}
