/* Evaluation of a set of per-class models under the three rules of SPEC
 * section 3: the article's seed rule, the honest own-label rule and the
 * image-blind audit, all computed from one forward pass per model and image.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>

#include "common/memory.h"
#include "common/thread.h"
#include "common/error.h"

/* Images per cosnet_model_predict_dataset call. Thread ranges are cut at
 * multiples of it, so every image is always predicted in the same chunk
 * whatever the thread count: the counts cannot depend on it even if a
 * kernel's rounding depended on the batch. */
enum { EVALUATION_CHUNK = 256 };

/* More threads than this only cost memory; counts never depend on it. */
enum { EVALUATION_MAX_THREADS = 256 };

struct cosnet_evaluation {
    size_t total;
    size_t classes;
    size_t correct[COSNET_RULE_COUNT];
    /* COSNET_RULE_COUNT matrices of classes x classes, row = actual. */
    size_t *confusion;
};

/* The torch-compatible cosine in float, as the training loss computes it. */
static float cosine_float(const float *a, const float *b, size_t dims)
{
    float dot = 0.0f, aa = 0.0f, bb = 0.0f;
    for (size_t d = 0; d < dims; d++) {
        dot += a[d] * b[d];
        aa += a[d] * a[d];
        bb += b[d] * b[d];
    }
    const float floor = 1e-6f * 1e-6f;
    float product = aa * bb;
    return dot / sqrtf(product > floor ? product : floor);
}

/* Shared, read-only description of one evaluation. */
typedef struct evaluation_job {
    const cosnet_model *const *models;
    size_t model_count;
    const cosnet_labels *labels;
    size_t dims;
    const cosnet_dataset *dataset;
    /* audit_prediction[y]: the image-blind prediction for true class y. */
    const size_t *audit_prediction;
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

static size_t argmax_lowest(const float *scores, size_t count)
{
    size_t best = 0;
    for (size_t k = 1; k < count; k++)
        if (scores[k] > scores[best])
            best = k; /* strict: ties stay at the lowest index */
    return best;
}

static void *evaluation_worker_run(void *argument)
{
    evaluation_worker *worker = argument;
    const evaluation_job *job = worker->job;
    const size_t classes = job->model_count, dims = job->dims;
    size_t chunk =
        worker->count < EVALUATION_CHUNK ? worker->count : EVALUATION_CHUNK;
    float *outputs = NULL, *scores = NULL;
    if (worker->count == 0)
        return NULL;
    size_t output_floats = classes * chunk * dims;
    outputs = memory_allocate(output_floats * sizeof *outputs);
    scores = memory_allocate(2 * classes * sizeof *scores);
    if (!outputs || !scores) {
        memory_free(outputs);
        memory_free(scores);
        worker_fail(worker,
                    error_out_of_memory("evaluation outputs",
                                        output_floats * sizeof *outputs));
        return NULL;
    }
    float *seed_scores = scores, *own_scores = scores + classes;
    size_t *seed_matrix = worker->confusion;
    size_t *own_matrix = worker->confusion + classes * classes;
    size_t *audit_matrix = worker->confusion + 2 * classes * classes;

    for (size_t done = 0; done < worker->count; done += chunk) {
        size_t n = worker->count - done < chunk ? worker->count - done : chunk;
        size_t first = worker->first + done;
        for (size_t k = 0; k < classes; k++) {
            cosnet_status status = cosnet_model_predict_dataset(
                job->models[k], job->dataset, first, n,
                outputs + k * chunk * dims);
            if (status != COSNET_OK) {
                worker_fail(worker, status);
                goto done;
            }
        }
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
            size_t y = (size_t)label;
            const float *true_vector = cosnet_labels_vector(job->labels, y);
            for (size_t k = 0; k < classes; k++) {
                const float *output = outputs + (k * chunk + i) * dims;
                seed_scores[k] = cosine_float(output, true_vector, dims);
                own_scores[k] = cosine_float(
                    output, cosnet_labels_vector(job->labels, k), dims);
            }
            size_t seed = argmax_lowest(seed_scores, classes);
            size_t own = argmax_lowest(own_scores, classes);
            size_t audit = job->audit_prediction[y];
            worker->correct[COSNET_RULE_SEED] += seed == y;
            worker->correct[COSNET_RULE_OWN_LABEL] += own == y;
            worker->correct[COSNET_RULE_IMAGE_BLIND] += audit == y;
            seed_matrix[y * classes + seed]++;
            own_matrix[y * classes + own]++;
            audit_matrix[y * classes + audit]++;
        }
    }
done:
    memory_free(outputs);
    memory_free(scores);
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
        if (model_rows != rows || model_columns != columns)
            return error_set(COSNET_ERROR_MISMATCH,
                             "cosnet_evaluate: model %zu takes %zux%zu "
                             "images but the dataset's are %zux%zu",
                             k, model_rows, model_columns, rows, columns);
    }
    /* Every computing call fails the same way when the kernel variant is
     * unusable, even on an empty dataset. */
    cosnet_status status = cosnet_isa(NULL);
    if (status != COSNET_OK) {
        char message[512];
        snprintf(message, sizeof message, "%s", cosnet_last_error());
        return error_set(status, "cosnet_evaluate: %s", message);
    }
    return COSNET_OK;
}

static cosnet_status run_workers(evaluation_worker *workers, size_t threads)
{
    if (threads == 1) {
        evaluation_worker_run(&workers[0]);
        return COSNET_OK;
    }
    pthread_t *handles = memory_allocate(threads * sizeof *handles);
    if (!handles)
        return error_out_of_memory("evaluation threads",
                                   threads * sizeof *handles);
    size_t started = 0;
    cosnet_status status = COSNET_OK;
    for (; started < threads; started++) {
        char what[64];
        snprintf(what, sizeof what, "cosnet_evaluate worker %zu of %zu",
                 started + 1, threads);
        status = thread_start(&handles[started], evaluation_worker_run,
                              &workers[started], what);
        if (status != COSNET_OK)
            break;
    }
    for (size_t t = 0; t < started; t++)
        pthread_join(handles[t], NULL);
    memory_free(handles);
    return status;
}

COSNET_API cosnet_status cosnet_evaluate(const cosnet_model *const *models,
                                         size_t model_count,
                                         const cosnet_labels *labels,
                                         const cosnet_dataset *dataset,
                                         unsigned threads,
                                         cosnet_evaluation **out)
{
    cosnet_status status = validate(models, model_count, labels, dataset, out);
    if (status != COSNET_OK)
        return status;

    const size_t classes = model_count, dims = cosnet_labels_dims(labels);
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
            audit_scores[k] = cosine_float(cosnet_labels_vector(labels, k),
                                           true_vector, dims);
        audit_prediction[y] = argmax_lowest(audit_scores, classes);
    }

    evaluation_job job = {models, model_count, labels,
                          dims,   dataset,     audit_prediction};
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
