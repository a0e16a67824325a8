/* Evaluation of a set of per-class models under the three rules of
 * docs/evaluation-rules.md: the article's seed rule, the honest own-label rule
 * and the image-blind audit, all computed from one forward pass per model and
 * image.
 *
 * Each worker thread owns its workspaces; it converts a chunk of pixels
 * once, runs the chunk through every model with the internal passes while
 * the pixels are in cache, and scores with the kernel table's cosine. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>

#include "common/error.h"
#include "common/memory.h"
#include "common/numeric.h"
#include "common/thread.h"
#include "eval/classify.h"
#include "kernels/conv_driver.h"
#include "kernels/kernels.h"
#include "network/model_internal.h"
#include "network/passes.h"

/* Images converted and scored together. Thread ranges are cut at
 * multiples of it, so every image is always predicted in the same chunk
 * whatever the thread count: the counts cannot depend on it even if a
 * kernel's rounding depended on the batch. */
enum { EVALUATION_CHUNK = 256 };

/* More threads than this only cost memory; counts never depend on it. */
enum { EVALUATION_MAX_THREADS = 256 };

/* Label sets for evaluation hold at most this many classes (the dataset's
 * own bound). */
enum { EVALUATION_MAX_CLASSES = 256 };

struct cosnet_evaluation {
    size_t total;
    size_t classes;
    size_t correct[COSNET_RULE_COUNT];
    /* COSNET_RULE_COUNT matrices of classes x classes, row = actual. */
    size_t *confusion;
};

/* Shared, read-only description of one evaluation. */
typedef struct evaluation_job {
    const kernel_table *kernels;
    const cosnet_model *const *models;
    size_t model_count;
    size_t classes; /* model_count, or the label count for one model */
    int single;     /* one model used as a classifier */
    const cosnet_labels *labels;
    size_t dims;
    const cosnet_dataset *dataset;
    /* audit_prediction[y]: the image-blind prediction for true class y. */
    const size_t *audit_prediction;
    cosnet_evaluation_progress progress; /* may be NULL */
    void *user_data;
} evaluation_job;

/* One worker: images [first, first + count), its own counts. */
typedef struct evaluation_worker {
    const evaluation_job *job;
    size_t first, count;
    size_t correct[COSNET_RULE_COUNT];
    size_t *confusion; /* COSNET_RULE_COUNT * classes * classes */
    cosnet_status status;
    /* The worker's message: error messages are thread-local. */
    char message[512];
} evaluation_worker;

static void worker_fail(evaluation_worker *worker, cosnet_status status)
{
    worker->status = status;
    snprintf(worker->message, sizeof worker->message, "%s",
             cosnet_last_error());
}

typedef struct worker_buffers {
    network_workspace **workspaces; /* one per model, shared when equal */
    float *pixels;                  /* chunk x image floats */
    int bordered; /* pixels in model_convert_input's layout, which every
                     model takes; else dense images */
    /* With bordered pixels: the first convolution's column spans of the
     * chunk (span_bytes per image), made once for every model; NULL when
     * the kernels make none for its shape. */
    uint8_t *spans;
    size_t span_bytes;
    float *outputs;      /* models x chunk x dims */
    float *true_vectors; /* chunk x dims: v_y of each image */
    float *scores;       /* 2 x models x chunk: seed, own-label */
} worker_buffers;

static void buffers_free(worker_buffers *b, size_t models)
{
    if (b->workspaces)
        for (size_t k = 0; k < models; k++)
            if (k == 0 || b->workspaces[k] != b->workspaces[k - 1])
                network_workspace_free(b->workspaces[k]);
    memory_free(b->workspaces);
    memory_free(b->pixels);
    memory_free(b->spans);
    memory_free(b->outputs);
    memory_free(b->true_vectors);
    memory_free(b->scores);
}

static cosnet_status buffers_create(const evaluation_job *job, size_t chunk,
                                    worker_buffers *b)
{
    const size_t classes = job->model_count, dims = job->dims;
    const architecture_description *first = &job->models[0]->arch;
    memset(b, 0, sizeof *b);
    /* Only a network that starts with a convolution has a bordered input
     * (and spans); one that starts with a dense layer takes plain images. */
    b->bordered = network_padded_input(first) != NULL;
    for (size_t k = 1; k < classes && b->bordered; k++)
        b->bordered &= model_same_input_layout(first, &job->models[k]->arch);
    const size_t image = b->bordered ? model_input_floats(first)
                                     : architecture_input_size(first);
    b->workspaces = memory_allocate_zeroed(classes, sizeof *b->workspaces);
    /* Zeroed: the border of the bordered layout is never written. */
    b->pixels = memory_allocate_zeroed(chunk * image, sizeof(float));
    b->outputs = memory_allocate(classes * chunk * dims * sizeof(float));
    b->true_vectors = memory_allocate(chunk * dims * sizeof(float));
    b->scores = memory_allocate(2 * classes * chunk * sizeof(float));
    if (!b->workspaces || !b->pixels || !b->outputs || !b->true_vectors ||
        !b->scores)
        return error_out_of_memory("evaluation buffers",
                                   classes * chunk * dims * sizeof(float));
    if (b->bordered) {
        b->span_bytes =
            conv3x3_pool_span_bytes(job->kernels, network_padded_input(first));
        if (b->span_bytes > 0) {
            b->spans = memory_allocate(chunk * b->span_bytes);
            if (!b->spans)
                return error_out_of_memory("evaluation spans",
                                           chunk * b->span_bytes);
        }
    }
    for (size_t k = 0; k < classes; k++) {
        if (k > 0 && architecture_same_layers(&job->models[k]->arch,
                                              &job->models[k - 1]->arch)) {
            b->workspaces[k] = b->workspaces[k - 1];
            continue;
        }
        cosnet_status status = network_workspace_create(
            &job->models[k]->arch, job->kernels, 0, &b->workspaces[k]);
        if (status != COSNET_OK)
            return status;
    }
    return COSNET_OK;
}

static void *evaluation_worker_run(void *argument)
{
    evaluation_worker *worker = argument;
    const evaluation_job *job = worker->job;
    const size_t classes = job->model_count, dims = job->dims;
    const kernel_table *kernels = job->kernels;
    if (worker->count == 0)
        return NULL;
    size_t chunk =
        worker->count < EVALUATION_CHUNK ? worker->count : EVALUATION_CHUNK;
    worker_buffers b;
    cosnet_status status = buffers_create(job, chunk, &b);
    if (status != COSNET_OK) {
        worker_fail(worker, status);
        buffers_free(&b, classes);
        return NULL;
    }
    float *seed_scores = b.scores, *own_scores = b.scores + classes * chunk;
    size_t *seed_matrix = worker->confusion;
    size_t *own_matrix = worker->confusion + classes * classes;
    size_t *audit_matrix = worker->confusion + 2 * classes * classes;
    float image_seed[EVALUATION_MAX_CLASSES], image_own[EVALUATION_MAX_CLASSES];

    for (size_t done = 0; done < worker->count; done += chunk) {
        size_t n = worker->count - done < chunk ? worker->count - done : chunk;
        size_t first = worker->first + done;
        for (size_t i = 0; i < n; i++) {
            int label = cosnet_dataset_label(job->dataset, first + i);
            if (label < 0 || (size_t)label >= classes) {
                worker_fail(worker,
                            error_set(COSNET_ERROR_OUT_OF_RANGE,
                                      "cosnet_evaluate: image %zu has label "
                                      "%d, outside the %zu classes",
                                      first + i, label, classes));
                goto done;
            }
            memcpy(b.true_vectors + i * dims,
                   cosnet_labels_vector(job->labels, (size_t)label),
                   dims * sizeof(float));
        }
        /* Pixels converted once, then every model while they are cached. */
        if (b.bordered) {
            model_convert_input(kernels, &job->models[0]->arch, job->dataset,
                                first, n, b.pixels);
            if (b.spans)
                conv3x3_pool_spans(kernels,
                                   network_padded_input(&job->models[0]->arch),
                                   n, b.pixels, b.spans);
        } else
            model_convert_images(kernels, job->dataset, first, n, b.pixels);
        for (size_t k = 0; k < classes; k++) {
            float *out = b.outputs + k * chunk * dims;
            if (b.bordered)
                model_forward_input(b.workspaces[k], &job->models[k]->arch,
                                    job->models[k]->parameters, b.pixels,
                                    b.spans, n, out);
            else
                network_forward(b.workspaces[k], job->models[k]->parameters,
                                b.pixels, n, out);
            /* Overflowing parameters: no score to count. */
            const size_t bad = first_non_finite(out, n * dims);
            if (bad < n * dims) {
                worker_fail(worker,
                            error_set(COSNET_ERROR_NOT_FINITE,
                                      "cosnet_evaluate: output %zu of model "
                                      "%zu for image %zu is %g (the "
                                      "parameters overflow float arithmetic)",
                                      bad % dims, k, first + bad / dims,
                                      (double)out[bad]));
                goto done;
            }
            kernels->cosine_similarity(n, dims, out, b.true_vectors, dims,
                                       seed_scores + k * chunk);
            kernels->cosine_similarity(n, dims, out,
                                       cosnet_labels_vector(job->labels, k), 0,
                                       own_scores + k * chunk);
        }
        for (size_t i = 0; i < n; i++) {
            size_t y = (size_t)cosnet_dataset_label(job->dataset, first + i);
            for (size_t k = 0; k < classes; k++) {
                image_seed[k] = seed_scores[k * chunk + i];
                image_own[k] = own_scores[k * chunk + i];
            }
            size_t seed = argmax_lowest(image_seed, classes);
            size_t own = argmax_lowest(image_own, classes);
            size_t audit = job->audit_prediction[y];
            worker->correct[COSNET_RULE_SEED] += seed == y;
            worker->correct[COSNET_RULE_OWN_LABEL] += own == y;
            worker->correct[COSNET_RULE_IMAGE_BLIND] += audit == y;
            seed_matrix[y * classes + seed]++;
            own_matrix[y * classes + own]++;
            audit_matrix[y * classes + audit]++;
        }
        if (job->progress)
            job->progress(job->user_data, n);
    }
done:
    buffers_free(&b, classes);
    return NULL;
}

/* One model as a classifier: predict(x) = argmax_k cos(f(x), v_k); the
 * results go under the own-label rule. */
static void *classifier_worker_run(void *argument)
{
    evaluation_worker *worker = argument;
    const evaluation_job *job = worker->job;
    const cosnet_model *model = job->models[0];
    const size_t classes = job->classes;
    if (worker->count == 0)
        return NULL;
    size_t chunk =
        worker->count < EVALUATION_CHUNK ? worker->count : EVALUATION_CHUNK;
    network_workspace *workspace = NULL;
    classify_scratch scratch = {NULL, NULL, 0};
    float *pixels = NULL;
    size_t *predicted = NULL;
    cosnet_status status =
        network_workspace_create(&model->arch, job->kernels, 0, &workspace);
    if (status == COSNET_OK)
        status = classify_scratch_create(chunk, classes, job->dims, &scratch);
    if (status == COSNET_OK) {
        pixels = memory_allocate(chunk * architecture_input_size(&model->arch) *
                                 sizeof(float));
        predicted = memory_allocate(chunk * sizeof *predicted);
        if (!pixels || !predicted)
            status = error_out_of_memory("evaluation buffers",
                                         chunk * sizeof(float));
    }
    if (status != COSNET_OK) {
        worker_fail(worker, status);
        goto done;
    }
    size_t *matrix = worker->confusion + classes * classes;
    for (size_t done = 0; done < worker->count; done += chunk) {
        size_t n = worker->count - done < chunk ? worker->count - done : chunk;
        size_t first = worker->first + done;
        model_convert_images(job->kernels, job->dataset, first, n, pixels);
        size_t bad = classify_images(workspace, job->kernels, model->parameters,
                                     job->labels, pixels, n, &scratch,
                                     predicted, NULL, NULL, NULL);
        if (bad < n) {
            worker_fail(worker, error_set(COSNET_ERROR_NOT_FINITE,
                                          "cosnet_evaluate_classifier: the "
                                          "network output of image %zu is "
                                          "not finite",
                                          first + bad));
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            size_t y = (size_t)cosnet_dataset_label(job->dataset, first + i);
            worker->correct[COSNET_RULE_OWN_LABEL] += predicted[i] == y;
            matrix[y * classes + predicted[i]]++;
        }
        if (job->progress)
            job->progress(job->user_data, n);
    }
done:
    memory_free(pixels);
    memory_free(predicted);
    classify_scratch_free(&scratch);
    network_workspace_free(workspace);
    return NULL;
}

static cosnet_status validate(const cosnet_model *const *models,
                              size_t model_count, const cosnet_labels *labels,
                              const cosnet_dataset *dataset,
                              cosnet_evaluation **out)
{
    if (!models || !labels || !dataset || !out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_evaluate: NULL %s",
                         !models    ? "models"
                         : !labels  ? "labels"
                         : !dataset ? "dataset"
                                    : "out");
    if (model_count == 0)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_evaluate: model_count is 0");
    for (size_t k = 0; k < model_count; k++)
        if (!models[k])
            return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                             "cosnet_evaluate: model %zu is NULL", k);
    size_t label_count = cosnet_labels_count(labels);
    if (model_count != label_count)
        return error_set(COSNET_ERROR_MISMATCH,
                         "cosnet_evaluate: %zu models but %zu label vectors",
                         model_count, label_count);
    unsigned class_count = cosnet_dataset_class_count(dataset);
    if (model_count < class_count)
        return error_set(COSNET_ERROR_MISMATCH,
                         "cosnet_evaluate: %zu models for a dataset of %u "
                         "classes",
                         model_count, class_count);
    size_t dims = cosnet_labels_dims(labels);
    size_t rows = cosnet_dataset_rows(dataset);
    size_t columns = cosnet_dataset_columns(dataset);
    for (size_t k = 0; k < model_count; k++) {
        size_t output_dims = cosnet_model_output_dims(models[k]);
        if (output_dims != dims)
            return error_set(COSNET_ERROR_MISMATCH,
                             "cosnet_evaluate: model %zu has %zu outputs but "
                             "the label vectors have %zu dimensions",
                             k, output_dims, dims);
        size_t model_rows = cosnet_model_input_rows(models[k]);
        size_t model_columns = cosnet_model_input_columns(models[k]);
        size_t model_channels = cosnet_model_input_channels(models[k]);
        /* A dataset's images have one channel: a model of more would read
         * past each image. */
        if (model_channels != 1 || model_rows != rows ||
            model_columns != columns)
            return error_set(COSNET_ERROR_MISMATCH,
                             "cosnet_evaluate: model %zu takes %zux%zux%zu "
                             "images but the dataset's are 1x%zux%zu",
                             k, model_channels, model_rows, model_columns, rows,
                             columns);
    }
    if (model_count > EVALUATION_MAX_CLASSES)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_evaluate: %zu models, at most %d", model_count,
                         EVALUATION_MAX_CLASSES);
    return COSNET_OK;
}

static cosnet_status run_workers(evaluation_worker *workers, size_t threads)
{
    void *(*run)(void *) =
        workers[0].job->single ? classifier_worker_run : evaluation_worker_run;
    if (threads == 1) {
        run(&workers[0]);
        return COSNET_OK;
    }
    pthread_t *handles = memory_allocate(threads * sizeof *handles);
    if (!handles)
        return error_out_of_memory("evaluation threads",
                                   threads * sizeof *handles);
    size_t started = 0;
    cosnet_status status = COSNET_OK;
    for (; started < threads; started++) {
        char what[96];
        snprintf(what, sizeof what, "cosnet_evaluate worker %zu of %zu",
                 started + 1, threads);
        status = thread_start(&handles[started], run, &workers[started], what);
        if (status != COSNET_OK)
            break;
    }
    for (size_t t = 0; t < started; t++)
        pthread_join(handles[t], NULL);
    memory_free(handles);
    return status;
}

static cosnet_status run_evaluation(evaluation_job *template, unsigned threads,
                                    cosnet_evaluation **out);

COSNET_API cosnet_status cosnet_evaluate(const cosnet_model *const *models,
                                         size_t model_count,
                                         const cosnet_labels *labels,
                                         const cosnet_dataset *dataset,
                                         unsigned threads,
                                         cosnet_evaluation **out)
{
    return cosnet_evaluate_with_progress(models, model_count, labels, dataset,
                                         threads, NULL, NULL, out);
}

COSNET_API cosnet_status cosnet_evaluate_with_progress(
    const cosnet_model *const *models, size_t model_count,
    const cosnet_labels *labels, const cosnet_dataset *dataset,
    unsigned threads, cosnet_evaluation_progress progress, void *user_data,
    cosnet_evaluation **out)
{
    cosnet_status status = validate(models, model_count, labels, dataset, out);
    if (status != COSNET_OK)
        return status;
    evaluation_job job = {.models = models,
                          .model_count = model_count,
                          .classes = model_count,
                          .labels = labels,
                          .dims = cosnet_labels_dims(labels),
                          .dataset = dataset,
                          .progress = progress,
                          .user_data = user_data};
    return run_evaluation(&job, threads, out);
}

/* Splits the dataset into whole chunks per thread, runs the workers and
 * adds their counts in thread order. job->kernels and audit_prediction are
 * filled here. */
static cosnet_status run_evaluation(evaluation_job *template, unsigned threads,
                                    cosnet_evaluation **out)
{
    /* Every computing call fails the same way when the kernel variant is
     * unusable, even on an empty dataset. */
    const kernel_table *kernels = NULL;
    cosnet_status status = kernels_active(&kernels);
    if (status != COSNET_OK)
        return status;
    const cosnet_labels *labels = template->labels;
    const cosnet_dataset *dataset = template->dataset;
    const size_t classes = template->classes, dims = template->dims;
    const size_t count = cosnet_dataset_count(dataset);
    const size_t matrix_entries = COSNET_RULE_COUNT * classes * classes;
    if (classes > ((size_t)-1 / sizeof(size_t)) / COSNET_RULE_COUNT / classes)
        return error_set(COSNET_ERROR_OVERFLOW,
                         "cosnet_evaluate: %zu classes overflow the "
                         "confusion matrices",
                         classes);

    size_t chunks = (count + EVALUATION_CHUNK - 1) / EVALUATION_CHUNK;
    size_t thread_count = threads;
    if (thread_count == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        thread_count = online > 0 ? (size_t)online : 1;
    }
    if (thread_count > EVALUATION_MAX_THREADS)
        thread_count = EVALUATION_MAX_THREADS;
    if (thread_count > chunks)
        thread_count = chunks;
    if (thread_count == 0)
        thread_count = 1;

    cosnet_evaluation *evaluation =
        memory_allocate_zeroed(1, sizeof *evaluation);
    size_t *audit_prediction =
        memory_allocate(classes * sizeof *audit_prediction);
    float *audit_scores = memory_allocate(classes * sizeof *audit_scores);
    evaluation_worker *workers =
        memory_allocate_zeroed(thread_count, sizeof *workers);
    size_t *worker_matrices = memory_allocate_zeroed(
        thread_count * matrix_entries, sizeof *worker_matrices);
    if (evaluation)
        evaluation->confusion = memory_allocate_zeroed(
            matrix_entries, sizeof *evaluation->confusion);
    if (!evaluation || !evaluation->confusion || !audit_prediction ||
        !audit_scores || !workers || !worker_matrices) {
        status = error_out_of_memory("evaluation counts", (thread_count + 1) *
                                                              matrix_entries *
                                                              sizeof(size_t));
        goto fail;
    }

    /* The image-blind audit does not depend on the image, only on y. */
    for (size_t y = 0; y < classes; y++) {
        const float *true_vector = cosnet_labels_vector(labels, y);
        for (size_t k = 0; k < classes; k++)
            kernels->cosine_similarity(1, dims, cosnet_labels_vector(labels, k),
                                       true_vector, 0, &audit_scores[k]);
        audit_prediction[y] = argmax_lowest(audit_scores, classes);
    }

    evaluation_job job = *template;
    job.kernels = kernels;
    job.audit_prediction = audit_prediction;
    for (size_t t = 0; t < thread_count; t++) {
        size_t first_chunk = t * chunks / thread_count;
        size_t end_chunk = (t + 1) * chunks / thread_count;
        size_t first = first_chunk * EVALUATION_CHUNK;
        size_t end = end_chunk * EVALUATION_CHUNK;
        if (end > count)
            end = count;
        workers[t].job = &job;
        workers[t].first = first;
        workers[t].count = end > first ? end - first : 0;
        workers[t].confusion = worker_matrices + t * matrix_entries;
        workers[t].status = COSNET_OK;
    }

    status = run_workers(workers, thread_count);
    if (status != COSNET_OK)
        goto fail;
    /* Report the failure of the lowest image range, whatever the timing. */
    for (size_t t = 0; t < thread_count; t++)
        if (workers[t].status != COSNET_OK) {
            status = error_set(workers[t].status, "%s", workers[t].message);
            goto fail;
        }

    evaluation->total = count;
    evaluation->classes = classes;
    for (size_t t = 0; t < thread_count; t++) {
        for (int rule = 0; rule < COSNET_RULE_COUNT; rule++)
            evaluation->correct[rule] += workers[t].correct[rule];
        for (size_t e = 0; e < matrix_entries; e++)
            evaluation->confusion[e] += workers[t].confusion[e];
    }
    memory_free(audit_prediction);
    memory_free(audit_scores);
    memory_free(workers);
    memory_free(worker_matrices);
    *out = evaluation;
    return COSNET_OK;

fail:
    memory_free(audit_prediction);
    memory_free(audit_scores);
    memory_free(workers);
    memory_free(worker_matrices);
    cosnet_evaluation_free(evaluation);
    return status;
}

COSNET_API cosnet_status cosnet_evaluate_classifier(
    const cosnet_model *model, const cosnet_labels *labels,
    const cosnet_dataset *dataset, unsigned threads, cosnet_evaluation **out)
{
    if (!model || !labels || !dataset || !out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_evaluate_classifier: NULL %s",
                         !model     ? "model"
                         : !labels  ? "labels"
                         : !dataset ? "dataset"
                                    : "out");
    const size_t classes = cosnet_labels_count(labels);
    const size_t dims = cosnet_labels_dims(labels);
    if (classes > EVALUATION_MAX_CLASSES)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_evaluate_classifier: %zu label vectors, at "
                         "most %d",
                         classes, EVALUATION_MAX_CLASSES);
    if (classes < cosnet_dataset_class_count(dataset))
        return error_set(COSNET_ERROR_MISMATCH,
                         "cosnet_evaluate_classifier: %zu label vectors for a "
                         "dataset of %u classes",
                         classes, cosnet_dataset_class_count(dataset));
    if (model->arch.output_dims != dims)
        return error_set(COSNET_ERROR_MISMATCH,
                         "cosnet_evaluate_classifier: the model has %zu "
                         "outputs but the label vectors have %zu dimensions",
                         model->arch.output_dims, dims);
    cosnet_status status = model_check_dataset("cosnet_evaluate_classifier",
                                               &model->arch, dataset);
    if (status != COSNET_OK)
        return status;
    const cosnet_model *const models[1] = {model};
    evaluation_job job = {.models = models,
                          .model_count = 1,
                          .classes = classes,
                          .single = 1,
                          .labels = labels,
                          .dims = dims,
                          .dataset = dataset};
    return run_evaluation(&job, threads, out);
}

COSNET_API void cosnet_evaluation_free(cosnet_evaluation *evaluation)
{
    if (!evaluation)
        return;
    memory_free(evaluation->confusion);
    memory_free(evaluation);
}

COSNET_API size_t cosnet_evaluation_total(const cosnet_evaluation *evaluation)
{
    return evaluation ? evaluation->total : 0;
}

static int rule_known(cosnet_rule rule)
{
    return (int)rule >= 0 && (int)rule < COSNET_RULE_COUNT;
}

COSNET_API size_t cosnet_evaluation_correct(const cosnet_evaluation *evaluation,
                                            cosnet_rule rule)
{
    if (!evaluation || !rule_known(rule))
        return 0;
    return evaluation->correct[rule];
}

COSNET_API size_t cosnet_evaluation_classes(const cosnet_evaluation *evaluation)
{
    return evaluation ? evaluation->classes : 0;
}

COSNET_API size_t
cosnet_evaluation_confusion(const cosnet_evaluation *evaluation,
                            cosnet_rule rule, size_t actual, size_t predicted)
{
    if (!evaluation || !rule_known(rule) || actual >= evaluation->classes ||
        predicted >= evaluation->classes)
        return 0;
    size_t classes = evaluation->classes;
    return evaluation->confusion[(size_t)rule * classes * classes +
                                 actual * classes + predicted];
}
