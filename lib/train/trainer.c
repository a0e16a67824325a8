/* Training one classifier on a whole labelled dataset (cosnet_trainer).
 *
 * Each image's target is its class's label vector; the loss is the
 * cosine loss of docs/math.md, or the softmax cross-entropy of the scaled
 * cosines to every label vector (kernels/softmax_cosine.h); AdamW steps with a
 * learning rate that warms up linearly and then follows a cosine down to zero.
 * The training images are reshuffled every epoch by the seeded generator,
 * optionally moved (train/augment.c: shifts, rotations, scaling, elastic
 * distortion), and a validation part is held out once.
 *
 * Threads split each batch into TRAINER_PIECES fixed pieces: each piece's
 * gradient is computed on its own, and the pieces are added in piece order,
 * every parameter range by one thread. The weight gradients of a dense
 * tail are instead taken once for the whole batch from what the pieces
 * leave (TASK_TAIL), every layer's rows shared among the threads, with the
 * same sums added in the same order. Which thread computes a piece or a
 * row never changes a bit of the result, so any thread count gives the
 * same model. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/memory.h"
#include "common/numeric.h"
#include "common/rng.h"
#include "common/thread.h"
#include "eval/classify.h"
#include "network/model_internal.h"
#include "network/passes.h"
#include "optimizer/adamw_internal.h"
#include "train/augment.h"

/* Pieces per batch: the most threads one batch can use. */
#define TRAINER_PIECES 8
#define TRAINER_MAX_THREADS TRAINER_PIECES
#define TRAINER_MAX_EPOCHS 100000
#define TRAINER_MAX_SHIFT 16
#define VALIDATION_CHUNK 256

struct cosnet_trainer {
    double options[COSNET_TRAINER_OPTION_COUNT];
    cosnet_trainer_progress progress;
    void *user_data;
    /* Results of the last run, one entry per finished epoch. */
    unsigned epochs_done;
    float *epoch_loss;
    double *validation_accuracy;
};

typedef struct option_rule {
    double initial, low, high;
    int integer;
    const char *name;
} option_rule;

static const option_rule rules[COSNET_TRAINER_OPTION_COUNT] = {
    [COSNET_TRAINER_EPOCHS] = {10, 1, TRAINER_MAX_EPOCHS, 1, "epochs"},
    [COSNET_TRAINER_BATCH_SIZE] = {64, 1, 1 << 20, 1, "batch size"},
    [COSNET_TRAINER_LEARNING_RATE] = {0.003, 0, 1e3, 0, "learning rate"},
    [COSNET_TRAINER_WEIGHT_DECAY] = {0.0001, 0, 1e3, 0, "weight decay"},
    [COSNET_TRAINER_WARMUP] = {0.1, 0, 1, 0, "warm-up fraction"},
    [COSNET_TRAINER_SHIFT] = {0, 0, TRAINER_MAX_SHIFT, 1, "shift"},
    [COSNET_TRAINER_VALIDATION] = {0, 0, 1e12, 1, "validation images"},
    [COSNET_TRAINER_THREADS] = {0, 0, 1024, 1, "threads"},
    [COSNET_TRAINER_SEED] = {0, 0, 9007199254740992.0, 1, "seed"},
    [COSNET_TRAINER_ROTATE] = {0, 0, 45, 0, "rotation (degrees)"},
    [COSNET_TRAINER_SCALE] = {0, 0, 0.5, 0, "scale change"},
    [COSNET_TRAINER_ELASTIC] = {0, 0, 8, 0, "elastic displacement (pixels)"},
    [COSNET_TRAINER_SOFTMAX_SCALE] = {0, 0, 100, 0, "softmax scale"},
};

COSNET_API cosnet_status cosnet_trainer_create(cosnet_trainer **out)
{
    if (!out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_trainer_create: out is NULL");
    cosnet_trainer *trainer = memory_allocate_zeroed(1, sizeof *trainer);
    if (!trainer)
        return error_out_of_memory("trainer", sizeof *trainer);
    for (int o = 0; o < COSNET_TRAINER_OPTION_COUNT; o++)
        trainer->options[o] = rules[o].initial;
    *out = trainer;
    return COSNET_OK;
}

COSNET_API void cosnet_trainer_free(cosnet_trainer *trainer)
{
    if (!trainer)
        return;
    memory_free(trainer->epoch_loss);
    memory_free(trainer->validation_accuracy);
    memory_free(trainer);
}

static int option_known(cosnet_trainer_option option)
{
    return (int)option >= 0 && (int)option < COSNET_TRAINER_OPTION_COUNT;
}

COSNET_API cosnet_status cosnet_trainer_set(cosnet_trainer *trainer,
                                            cosnet_trainer_option option,
                                            double value)
{
    if (!trainer || !option_known(option))
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_trainer_set: %s",
                         !trainer ? "trainer is NULL" : "unknown option");
    const option_rule *rule = &rules[option];
    if (!(value >= rule->low && value <= rule->high) ||
        (rule->integer && value != floor(value)))
        return error_set(COSNET_ERROR_OUT_OF_RANGE,
                         "cosnet_trainer_set: %s %g must be %s in [%g, %g]",
                         rule->name, value,
                         rule->integer ? "a whole number" : "a number",
                         rule->low, rule->high);
    trainer->options[option] = value;
    return COSNET_OK;
}

COSNET_API cosnet_status cosnet_trainer_get(const cosnet_trainer *trainer,
                                            cosnet_trainer_option option,
                                            double *value)
{
    if (!trainer || !value || !option_known(option))
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_trainer_get: %s",
                         !trainer ? "trainer is NULL"
                         : !value ? "value is NULL"
                                  : "unknown option");
    *value = trainer->options[option];
    return COSNET_OK;
}

COSNET_API cosnet_status cosnet_trainer_set_progress(
    cosnet_trainer *trainer, cosnet_trainer_progress progress, void *user_data)
{
    if (!trainer)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_trainer_set_progress: trainer is NULL");
    trainer->progress = progress;
    trainer->user_data = user_data;
    return COSNET_OK;
}

COSNET_API unsigned cosnet_trainer_epochs_done(const cosnet_trainer *trainer)
{
    return trainer ? trainer->epochs_done : 0;
}

COSNET_API float cosnet_trainer_epoch_loss(const cosnet_trainer *trainer,
                                           unsigned epoch)
{
    if (!trainer || epoch < 1 || epoch > trainer->epochs_done)
        return NAN;
    return trainer->epoch_loss[epoch - 1];
}

COSNET_API double
cosnet_trainer_validation_accuracy(const cosnet_trainer *trainer,
                                   unsigned epoch)
{
    if (!trainer || epoch < 1 || epoch > trainer->epochs_done)
        return -1.0;
    return trainer->validation_accuracy[epoch - 1];
}

/* ---- One run ------------------------------------------------------------ */

typedef struct run_state run_state;

/* One worker thread's own things. */
typedef struct worker {
    run_state *run;
    unsigned index;
    network_workspace *workspace;
    classify_scratch scratch;
    float *pixels;       /* validation chunk */
    size_t *predictions; /* validation chunk */
    size_t correct;      /* validation result */
    /* TASK_STEP: the first non-finite gradient sum or new parameter of
     * the worker's range (its end if none), which of the two it is, and
     * the end of the part it saved and stepped ([range start, saved_end)
     * is what an undo restores). */
    size_t bad;
    int bad_gradient;
    size_t saved_end;
    cosnet_status status;
    char message[512];
} worker;

struct run_state {
    const cosnet_trainer *trainer;
    cosnet_model *model;
    const cosnet_labels *labels;
    const cosnet_dataset *dataset;
    const kernel_table *kernels;
    unsigned threads;
    worker workers[TRAINER_MAX_THREADS];
    size_t image_size, dims, parameters;
    /* The batch being trained: which images, how each is moved (drawn in
     * batch order on the calling thread), and the moved images (made by
     * the worker that computes their piece). */
    size_t *indices;        /* batch */
    image_motion *motions;  /* batch */
    float *images;          /* batch x image_size */
    float *targets;         /* batch x dims */
    uint32_t *classes;      /* batch: for the softmax loss */
    float *label_table;     /* every label vector, for the softmax loss */
    float softmax_scale;    /* 0: the cosine loss */
    size_t batch;           /* images in it */
    uint64_t dropout_seed;  /* this step's; each piece mixes in its number */
    float *piece_gradients; /* TRAINER_PIECES x piece_stride */
    float piece_loss[TRAINER_PIECES];
    float *gradient; /* the batch's, summed in piece order */
    /* The network's dense tail (layers tail .. the last; none when tail is
     * the layer count): its weight gradients are taken for the whole batch
     * (TASK_TAIL) from each image's inputs and output gradients, which the
     * pieces leave in these batch-sized buffers, with the same sums in the
     * same order as the pieces' chunks would add them; the pieces' own
     * gradients then hold only the parameters before the tail's
     * (piece_stride of them). */
    int tail;
    size_t piece_stride;
    float *tail_inputs[ARCHITECTURE_MAX_LAYERS];    /* batch x in_size */
    float *tail_gradients[ARCHITECTURE_MAX_LAYERS]; /* dense: batch x out */
    size_t piece_segments[TRAINER_PIECES];
    size_t *segment_images; /* every piece's chunks, piece by piece */
    dense_summation summation;
    /* Validation. */
    const size_t *validation;
    size_t validation_count;
    /* The step: each worker sums and updates its range of the
     * parameters. */
    cosnet_optimizer *optimizer;
    adamw_snapshot *snapshot;
    adamw_factors factors;
    /* What the workers do next. */
    enum { TASK_GRADIENTS, TASK_TAIL, TASK_STEP, TASK_VALIDATE } task;
    /* Workers 1 .. threads - 1 run on threads started once per run and
     * woken for every task (a batch has two, three with a dense tail):
     * starting threads per task cost tens of microseconds each, a few
     * percent of a run. */
    pthread_mutex_t lock;
    pthread_cond_t task_ready, task_done;
    unsigned long task_number; /* tasks handed out so far */
    unsigned running;          /* pool threads still on the current task */
    int stopping;
    pthread_t handles[TRAINER_MAX_THREADS];
    unsigned started; /* pool threads started (workers 1 .. started) */
};

static size_t piece_start(size_t batch, size_t piece)
{
    return piece * batch / TRAINER_PIECES;
}

static void worker_fail(worker *w, cosnet_status status)
{
    w->status = status;
    snprintf(w->message, sizeof w->message, "%s", cosnet_last_error());
}

static void compute_gradients(worker *w)
{
    run_state *r = w->run;
    /* The parameters change only between tasks: each gradient task is a
     * generation, and its pieces share one packing of the weights. */
    network_set_weights_generation(w->workspace, r->task_number);
    for (size_t p = w->index; p < TRAINER_PIECES; p += r->threads) {
        const size_t first = piece_start(r->batch, p);
        const size_t n = piece_start(r->batch, p + 1) - first;
        float *gradient = r->piece_gradients + p * r->piece_stride;
        if (n == 0) {
            memset(gradient, 0, r->piece_stride * sizeof(float));
            r->piece_loss[p] = 0.0f;
            continue;
        }
        for (size_t i = first; i < first + n; i++)
            augment_image(
                r->kernels, cosnet_dataset_image(r->dataset, r->indices[i]),
                r->model->arch.input_rows, r->model->arch.input_columns,
                &r->motions[i], r->images + i * r->image_size);
        network_set_dropout_seed(w->workspace,
                                 r->dropout_seed ^
                                     (0xbf58476d1ce4e5b9u * (uint64_t)(p + 1)));
        network_set_softmax_loss(w->workspace, r->softmax_scale, r->label_table,
                                 cosnet_labels_count(r->labels),
                                 r->classes + first);
        /* The piece's share of the batch's mean loss and gradient. */
        const architecture_description *arch = &r->model->arch;
        if (r->tail < arch->layer_count) {
            float *inputs[ARCHITECTURE_MAX_LAYERS] = {NULL};
            float *gradients[ARCHITECTURE_MAX_LAYERS] = {NULL};
            for (int l = r->tail; l < arch->layer_count; l++) {
                inputs[l] = r->tail_inputs[l] + first * arch->layers[l].in_size;
                if (r->tail_gradients[l])
                    gradients[l] =
                        r->tail_gradients[l] + first * arch->layers[l].out_size;
            }
            r->piece_loss[p] = network_loss_gradient_deferred(
                w->workspace, r->model->parameters,
                r->images + first * r->image_size, n, r->batch,
                r->targets + first * r->dims, r->dims, gradient, NULL, inputs,
                gradients);
        } else {
            r->piece_loss[p] = network_loss_gradient_share(
                w->workspace, r->model->parameters,
                r->images + first * r->image_size, n, r->batch,
                r->targets + first * r->dims, r->dims, gradient, NULL);
        }
    }
}

/* The pieces' chunks as the segments of the tail's weight gradients. */
static void plan_tail_summation(run_state *r)
{
    const size_t chunk = r->model->arch.chunk;
    size_t segments = 0;
    for (size_t p = 0; p < TRAINER_PIECES; p++) {
        const size_t first = piece_start(r->batch, p);
        const size_t n = piece_start(r->batch, p + 1) - first;
        r->piece_segments[p] = 0;
        for (size_t done = 0; done < n; done += chunk) {
            r->segment_images[segments++] = n - done < chunk ? n - done : chunk;
            r->piece_segments[p]++;
        }
    }
    r->summation =
        (dense_summation){TRAINER_PIECES, r->piece_segments, r->segment_images};
}

/* The batch's weight and bias gradients of the dense tail, into gradient:
 * each worker an equal share of every dense layer's rows. */
static void tail_gradients(worker *w)
{
    run_state *r = w->run;
    const architecture_description *arch = &r->model->arch;
    for (int l = r->tail; l < arch->layer_count; l++) {
        const network_layer *layer = &arch->layers[l];
        if (layer->kind != LAYER_DENSE)
            continue;
        const size_t rows = layer->out_size;
        r->kernels->dense_backward_weights_summed(
            &r->summation, 0, w->index * rows / r->threads,
            (w->index + 1) * rows / r->threads, layer->in_size, rows,
            r->tail_inputs[l], r->tail_gradients[l],
            r->gradient + layer->weight_offset,
            r->gradient + layer->bias_offset);
    }
}

/* Worker w's range of the parameters, for the sum and the step. */
static void parameter_range(const worker *w, size_t *first, size_t *end)
{
    const run_state *r = w->run;
    *first = w->index * r->parameters / r->threads;
    *end = (w->index + 1) * r->parameters / r->threads;
}

/* Parameters per block of the step: the block's gradient, parameters,
 * moments and their saved copies (28 KB) stay in L1 from the sum to the
 * finiteness check, instead of each pass streaming the whole range. */
#define STEP_BLOCK 1024

/* Each thread, over its range of the parameters, block by block: adds the
 * pieces' gradients in piece order, saves the block for an undo, takes
 * the AdamW step (elementwise, so the result is that of one whole step)
 * and checks the new parameters. It stops at the first non-finite
 * gradient sum (before stepping its block) or new parameter. The caller
 * advances the step counter. */
static void sum_and_step(worker *w)
{
    run_state *r = w->run;
    size_t first, end;
    parameter_range(w, &first, &end);
    float *const parameters = r->model->parameters;
    for (size_t block = first; block < end; block += STEP_BLOCK) {
        const size_t stop = end - block < STEP_BLOCK ? end : block + STEP_BLOCK;
        /* (The tail's part of the gradient is TASK_TAIL's.) */
        const size_t shared_stop =
            stop < r->piece_stride ? stop : r->piece_stride;
        for (size_t k = block; k < shared_stop; k++) {
            float sum = r->piece_gradients[k];
            for (size_t p = 1; p < TRAINER_PIECES; p++)
                sum += r->piece_gradients[p * r->piece_stride + k];
            r->gradient[k] = sum;
        }
        size_t bad = first_non_finite(r->gradient + block, stop - block);
        if (bad < stop - block) {
            w->bad = block + bad;
            w->bad_gradient = 1;
            return;
        }
        float *const saved = r->snapshot->memory;
        r->kernels->adamw_step(
            stop - block, &r->factors, r->gradient + block, parameters + block,
            r->optimizer->first_moment + block,
            r->optimizer->second_moment + block, saved + block,
            saved + r->parameters + block, saved + 2 * r->parameters + block);
        w->saved_end = stop;
        bad = first_non_finite(parameters + block, stop - block);
        if (bad < stop - block) {
            w->bad = block + bad;
            return;
        }
    }
}

/* The worker whose range holds the first non-finite value the step found,
 * or NULL if none. */
static const worker *first_bad(const run_state *r)
{
    for (unsigned t = 0; t < r->threads; t++) {
        size_t first, end;
        parameter_range(&r->workers[t], &first, &end);
        if (r->workers[t].bad < end)
            return &r->workers[t];
    }
    return NULL;
}

/* Undoes what every worker saved and stepped. */
static void undo_step(run_state *r)
{
    for (unsigned t = 0; t < r->threads; t++) {
        size_t first, end;
        parameter_range(&r->workers[t], &first, &end);
        adamw_restore_range(r->optimizer, r->model->parameters, r->snapshot,
                            first, r->workers[t].saved_end);
    }
}

static void validate_range(worker *w)
{
    run_state *r = w->run;
    const size_t first = w->index * r->validation_count / r->threads;
    const size_t end = (w->index + 1) * r->validation_count / r->threads;
    w->correct = 0;
    for (size_t at = first; at < end; at += VALIDATION_CHUNK) {
        size_t n = end - at < VALIDATION_CHUNK ? end - at : VALIDATION_CHUNK;
        for (size_t i = 0; i < n; i++)
            model_convert_images(r->kernels, r->dataset, r->validation[at + i],
                                 1, w->pixels + i * r->image_size);
        size_t bad = classify_images(
            w->workspace, r->kernels, r->model->parameters, r->labels,
            w->pixels, n, &w->scratch, w->predictions, NULL, NULL, NULL);
        if (bad < n) {
            worker_fail(w, error_set(COSNET_ERROR_NOT_FINITE,
                                     "cosnet_trainer_run: the network output "
                                     "of validation image %zu is not finite",
                                     r->validation[at + bad]));
            return;
        }
        for (size_t i = 0; i < n; i++)
            w->correct +=
                w->predictions[i] ==
                (size_t)cosnet_dataset_label(r->dataset, r->validation[at + i]);
    }
}

static void *worker_run(void *argument)
{
    worker *w = argument;
    switch (w->run->task) {
    case TASK_GRADIENTS: compute_gradients(w); break;
    case TASK_TAIL: tail_gradients(w); break;
    case TASK_STEP: sum_and_step(w); break;
    case TASK_VALIDATE: validate_range(w); break;
    }
    return NULL;
}

/* A pool thread: runs worker w's part of every task until the run stops. */
static void *pool_thread(void *argument)
{
    worker *w = argument;
    run_state *r = w->run;
    unsigned long done = 0;
    for (;;) {
        pthread_mutex_lock(&r->lock);
        while (r->task_number == done && !r->stopping)
            pthread_cond_wait(&r->task_ready, &r->lock);
        if (r->stopping) {
            pthread_mutex_unlock(&r->lock);
            return NULL;
        }
        done = r->task_number;
        pthread_mutex_unlock(&r->lock);
        worker_run(w);
        pthread_mutex_lock(&r->lock);
        if (--r->running == 0)
            pthread_cond_signal(&r->task_done);
        pthread_mutex_unlock(&r->lock);
    }
}

static void pool_stop(run_state *r)
{
    pthread_mutex_lock(&r->lock);
    r->stopping = 1;
    pthread_cond_broadcast(&r->task_ready);
    pthread_mutex_unlock(&r->lock);
    for (unsigned t = 1; t <= r->started; t++)
        pthread_join(r->handles[t], NULL);
    r->started = 0;
}

/* Starts the pool's threads - 1 threads; if one cannot start, stops the
 * others and returns its THREAD status. */
static cosnet_status pool_start(run_state *r)
{
    for (unsigned t = 1; t < r->threads; t++) {
        cosnet_status status = thread_start(
            &r->handles[t], pool_thread, &r->workers[t], "cosnet_trainer_run");
        if (status != COSNET_OK) {
            pool_stop(r);
            return status;
        }
        r->started = t;
    }
    return COSNET_OK;
}

/* Runs the current task on every worker: the pool's threads and the
 * calling one, and waits for all of them. */
static cosnet_status run_task(run_state *r)
{
    pthread_mutex_lock(&r->lock);
    r->running = r->threads - 1;
    r->task_number++;
    pthread_cond_broadcast(&r->task_ready);
    pthread_mutex_unlock(&r->lock);
    worker_run(&r->workers[0]);
    pthread_mutex_lock(&r->lock);
    while (r->running > 0)
        pthread_cond_wait(&r->task_done, &r->lock);
    pthread_mutex_unlock(&r->lock);
    for (unsigned t = 0; t < r->threads; t++)
        if (r->workers[t].status != COSNET_OK)
            return error_set(r->workers[t].status, "%s", r->workers[t].message);
    return COSNET_OK;
}

static void run_free(run_state *r)
{
    for (unsigned t = 0; t < TRAINER_MAX_THREADS; t++) {
        network_workspace_free(r->workers[t].workspace);
        classify_scratch_free(&r->workers[t].scratch);
        memory_free(r->workers[t].pixels);
        memory_free(r->workers[t].predictions);
    }
    memory_free(r->indices);
    memory_free(r->motions);
    memory_free(r->images);
    memory_free(r->targets);
    memory_free(r->classes);
    memory_free(r->label_table);
    memory_free(r->piece_gradients);
    memory_free(r->gradient);
    for (int l = 0; l < ARCHITECTURE_MAX_LAYERS; l++) {
        memory_free(r->tail_inputs[l]);
        memory_free(r->tail_gradients[l]);
    }
    memory_free(r->segment_images);
}

static cosnet_status run_create(run_state *r, size_t batch)
{
    const size_t classes = cosnet_labels_count(r->labels);
    r->indices = memory_allocate(batch * sizeof *r->indices);
    r->motions = memory_allocate(batch * sizeof *r->motions);
    r->images = memory_allocate(batch * r->image_size * sizeof(float));
    r->targets = memory_allocate(batch * r->dims * sizeof(float));
    r->classes = memory_allocate(batch * sizeof *r->classes);
    r->label_table = memory_allocate(classes * r->dims * sizeof(float));
    r->gradient = memory_allocate(r->parameters * sizeof(float));
    if (!r->indices || !r->motions || !r->images || !r->targets ||
        !r->classes || !r->label_table || !r->gradient)
        return error_out_of_memory("training batch",
                                   batch * r->image_size * sizeof(float));
    for (size_t k = 0; k < classes; k++)
        memcpy(r->label_table + k * r->dims, cosnet_labels_vector(r->labels, k),
               r->dims * sizeof(float));
    const architecture_description *arch = &r->model->arch;
    r->tail = arch->layer_count;
    r->piece_stride = r->parameters;
    for (unsigned t = 0; t < r->threads; t++) {
        worker *w = &r->workers[t];
        w->run = r;
        w->index = t;
        cosnet_status status = network_workspace_create(
            &r->model->arch, r->kernels, 1, &w->workspace);
        if (status == COSNET_OK && r->validation_count > 0) {
            status = classify_scratch_create(VALIDATION_CHUNK, classes, r->dims,
                                             &w->scratch);
            w->pixels = memory_allocate(VALIDATION_CHUNK * r->image_size *
                                        sizeof(float));
            w->predictions = memory_allocate(VALIDATION_CHUNK * sizeof(size_t));
            if (status == COSNET_OK && (!w->pixels || !w->predictions))
                status = error_out_of_memory("validation buffers",
                                             VALIDATION_CHUNK * r->image_size *
                                                 sizeof(float));
        }
        if (status != COSNET_OK)
            return status;
    }
    r->tail = network_dense_tail(r->workers[0].workspace);
    if (r->tail < arch->layer_count) {
        r->piece_stride = network_tail_parameters(r->workers[0].workspace);
        /* Every piece's chunks: at most batch / chunk + 1 each. */
        r->segment_images = memory_allocate(
            (batch / arch->chunk + TRAINER_PIECES) * sizeof(size_t));
        if (!r->segment_images)
            return error_out_of_memory("training batch", batch);
        for (int l = r->tail; l < arch->layer_count; l++) {
            const network_layer *layer = &arch->layers[l];
            r->tail_inputs[l] = memory_allocate_aligned(
                64, batch * layer->in_size * sizeof(float));
            if (!r->tail_inputs[l])
                return error_out_of_memory(
                    "training batch", batch * layer->in_size * sizeof(float));
            if (layer->kind != LAYER_DENSE)
                continue;
            r->tail_gradients[l] = memory_allocate_aligned(
                64, batch * layer->out_size * sizeof(float));
            if (!r->tail_gradients[l])
                return error_out_of_memory(
                    "training batch", batch * layer->out_size * sizeof(float));
        }
    }
    r->piece_gradients = memory_allocate_aligned(
        64, (size_t)TRAINER_PIECES * r->piece_stride * sizeof(float));
    if (!r->piece_gradients)
        return error_out_of_memory("training batch", (size_t)TRAINER_PIECES *
                                                         r->piece_stride *
                                                         sizeof(float));
    return COSNET_OK;
}

/* Learning rate of step `step` (0-based) of `steps`: linear warm-up, then
 * cosine decay to zero. */
static double scheduled_rate(double peak, double warmup, size_t step,
                             size_t steps)
{
    const double warm = warmup * (double)steps;
    const double t = (double)step + 1.0;
    if (t <= warm)
        return peak * t / warm;
    const double progress = (t - warm) / ((double)steps - warm + 1.0);
    return peak * 0.5 * (1.0 + cos(3.14159265358979323846 * progress));
}

static cosnet_status check_inputs(const cosnet_trainer *trainer,
                                  const cosnet_model *model,
                                  const cosnet_labels *labels,
                                  const cosnet_dataset *dataset)
{
    if (!trainer || !model || !labels || !dataset)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_trainer_run: %s is NULL",
                         !trainer  ? "trainer"
                         : !model  ? "model"
                         : !labels ? "labels"
                                   : "dataset");
    if (model->arch.output_dims != cosnet_labels_dims(labels))
        return error_set(COSNET_ERROR_MISMATCH,
                         "cosnet_trainer_run: the model has %zu outputs but "
                         "the label vectors have %zu dimensions",
                         model->arch.output_dims, cosnet_labels_dims(labels));
    if (cosnet_labels_count(labels) < cosnet_dataset_class_count(dataset))
        return error_set(COSNET_ERROR_MISMATCH,
                         "cosnet_trainer_run: %zu label vectors for a dataset "
                         "of %u classes",
                         cosnet_labels_count(labels),
                         cosnet_dataset_class_count(dataset));
    cosnet_status status =
        model_check_dataset("cosnet_trainer_run", &model->arch, dataset);
    if (status != COSNET_OK)
        return status;
    const size_t count = cosnet_dataset_count(dataset);
    const size_t validation =
        (size_t)trainer->options[COSNET_TRAINER_VALIDATION];
    if (validation >= count)
        return error_set(COSNET_ERROR_NOT_ENOUGH_DATA,
                         "cosnet_trainer_run: %zu validation images leave "
                         "none of the %zu to train on",
                         validation, count);
    return COSNET_OK;
}

COSNET_API cosnet_status cosnet_trainer_run(cosnet_trainer *trainer,
                                            cosnet_model *model,
                                            const cosnet_labels *labels,
                                            const cosnet_dataset *dataset)
{
    cosnet_status status = check_inputs(trainer, model, labels, dataset);
    if (status != COSNET_OK)
        return status;
    const double *o = trainer->options;
    const unsigned epochs = (unsigned)o[COSNET_TRAINER_EPOCHS];
    const size_t batch_size = (size_t)o[COSNET_TRAINER_BATCH_SIZE];
    const int shift = (int)o[COSNET_TRAINER_SHIFT];
    const double rotate = o[COSNET_TRAINER_ROTATE];
    const double scale = o[COSNET_TRAINER_SCALE];
    const double elastic = o[COSNET_TRAINER_ELASTIC];
    const size_t count = cosnet_dataset_count(dataset);
    const size_t validation_count = (size_t)o[COSNET_TRAINER_VALIDATION];
    const size_t training_count = count - validation_count;
    unsigned threads = (unsigned)o[COSNET_TRAINER_THREADS];
    if (threads == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        threads = online > 0 ? (unsigned)online : 1;
    }
    if (threads > TRAINER_MAX_THREADS)
        threads = TRAINER_MAX_THREADS;

    run_state r = {.trainer = trainer,
                   .model = model,
                   .labels = labels,
                   .dataset = dataset,
                   .threads = threads,
                   .image_size = architecture_input_size(&model->arch),
                   .dims = model->arch.output_dims,
                   .parameters = model->arch.parameter_count,
                   .validation_count = validation_count,
                   .softmax_scale = (float)o[COSNET_TRAINER_SOFTMAX_SCALE],
                   .lock = PTHREAD_MUTEX_INITIALIZER,
                   .task_ready = PTHREAD_COND_INITIALIZER,
                   .task_done = PTHREAD_COND_INITIALIZER};
    status = kernels_active(&r.kernels);
    if (status != COSNET_OK)
        return status;

    /* The history of this run replaces the last one's once it has
     * finished an epoch; a run that finishes none leaves the trainer as it
     * was. */
    float *const previous_loss = trainer->epoch_loss;
    double *const previous_accuracy = trainer->validation_accuracy;
    const unsigned previous_epochs = trainer->epochs_done;
    float *epoch_loss = memory_allocate_zeroed(epochs, sizeof(float));
    double *accuracy = memory_allocate_zeroed(epochs, sizeof(double));
    trainer->epochs_done = 0;
    trainer->epoch_loss = epoch_loss;
    trainer->validation_accuracy = accuracy;
    size_t *order = memory_allocate(count * sizeof *order);
    cosnet_optimizer *optimizer = NULL;
    adamw_snapshot snapshot = {0, NULL, 0};
    if (!order || !epoch_loss || !accuracy) {
        status = error_out_of_memory("training order", count * sizeof *order);
        goto done;
    }
    status = cosnet_optimizer_create(model, &optimizer);
    if (status == COSNET_OK)
        status = adamw_snapshot_create(r.parameters, &snapshot);
    if (status == COSNET_OK)
        status = run_create(&r, batch_size);
    if (status == COSNET_OK)
        status = pool_start(&r);
    if (status != COSNET_OK)
        goto done;
    optimizer->weight_decay = o[COSNET_TRAINER_WEIGHT_DECAY];
    r.optimizer = optimizer;
    r.snapshot = &snapshot;

    /* The held-out images: the last ones of one seeded shuffle. */
    random_generator generator;
    random_seed(&generator, (uint64_t)o[COSNET_TRAINER_SEED]);
    for (size_t i = 0; i < count; i++)
        order[i] = i;
    for (size_t i = count; i > 1; i--) {
        size_t j = (size_t)random_below(&generator, i);
        size_t swap = order[i - 1];
        order[i - 1] = order[j], order[j] = swap;
    }
    r.validation = order + training_count;

    const size_t batches = (training_count + batch_size - 1) / batch_size;
    const size_t steps = batches * epochs;
    size_t step = 0;
    for (unsigned epoch = 1; epoch <= epochs && status == COSNET_OK; epoch++) {
        /* Reshuffle the training part. */
        for (size_t i = training_count; i > 1; i--) {
            size_t j = (size_t)random_below(&generator, i);
            size_t swap = order[i - 1];
            order[i - 1] = order[j], order[j] = swap;
        }
        double loss_sum = 0.0;
        for (size_t b = 0; b < batches; b++, step++) {
            const size_t first = b * batch_size;
            r.batch = training_count - first < batch_size
                          ? training_count - first
                          : batch_size;
            for (size_t i = 0; i < r.batch; i++) {
                const size_t index = order[first + i];
                image_motion motion = augment_identity();
                if (shift > 0) {
                    motion.dx =
                        (int)random_below(&generator, 2 * shift + 1) - shift;
                    motion.dy =
                        (int)random_below(&generator, 2 * shift + 1) - shift;
                }
                if (rotate > 0.0)
                    motion.angle = (2.0 * random_uniform(&generator) - 1.0) *
                                   rotate * (3.14159265358979323846 / 180.0);
                if (scale > 0.0)
                    motion.scale =
                        1.0 + (2.0 * random_uniform(&generator) - 1.0) * scale;
                if (elastic > 0.0) {
                    motion.elastic = elastic;
                    motion.elastic_seed = random_next(&generator);
                }
                const unsigned label =
                    (unsigned)cosnet_dataset_label(dataset, index);
                r.indices[i] = index;
                r.motions[i] = motion;
                r.classes[i] = label;
                memcpy(r.targets + i * r.dims,
                       cosnet_labels_vector(labels, label),
                       r.dims * sizeof(float));
            }
            /* Dropout masks: from the seed and the step alone, so the
             * shuffles and motions drawn above stay what they were. */
            r.dropout_seed =
                (uint64_t)o[COSNET_TRAINER_SEED] * 0x94d049bb133111ebu ^ step;
            r.task = TASK_GRADIENTS;
            status = run_task(&r);
            if (status == COSNET_OK && r.tail < model->arch.layer_count) {
                plan_tail_summation(&r);
                r.task = TASK_TAIL;
                status = run_task(&r);
            }
            if (status != COSNET_OK)
                break;
            float loss = 0.0f;
            for (size_t p = 0; p < TRAINER_PIECES; p++)
                loss += r.piece_loss[p];
            if (!isfinite(loss)) {
                status = error_set(COSNET_ERROR_NOT_FINITE,
                                   "cosnet_trainer_run: epoch %u, batch %zu: "
                                   "the loss is %g",
                                   epoch, b + 1, (double)loss);
                break;
            }
            optimizer->learning_rate =
                scheduled_rate(o[COSNET_TRAINER_LEARNING_RATE],
                               o[COSNET_TRAINER_WARMUP], step, steps);
            r.factors = adamw_step_factors(optimizer);
            for (unsigned t = 0; t < threads; t++) {
                size_t first_parameter, end_parameter;
                parameter_range(&r.workers[t], &first_parameter,
                                &end_parameter);
                r.workers[t].bad = end_parameter;
                r.workers[t].bad_gradient = 0;
                r.workers[t].saved_end = first_parameter;
            }
            snapshot.steps = optimizer->steps;
            r.task = TASK_STEP;
            status = run_task(&r);
            if (status != COSNET_OK)
                break;
            const worker *bad = first_bad(&r);
            if (bad) {
                undo_step(&r);
                status =
                    bad->bad_gradient
                        ? error_set(COSNET_ERROR_NOT_FINITE,
                                    "cosnet_trainer_run: epoch %u, batch %zu: "
                                    "the loss is %g and gradient %zu is not "
                                    "finite; step undone",
                                    epoch, b + 1, (double)loss, bad->bad)
                        : error_set(COSNET_ERROR_NOT_FINITE,
                                    "cosnet_trainer_run: epoch %u, batch %zu: "
                                    "the AdamW step made parameter %zu "
                                    "non-finite; step undone",
                                    epoch, b + 1, bad->bad);
                break;
            }
            optimizer->steps++;
            loss_sum += (double)loss * (double)r.batch;
            if (trainer->progress &&
                trainer->progress(trainer->user_data, epoch, first + r.batch,
                                  training_count, loss, 0) != 0) {
                status = error_set(COSNET_ERROR_CANCELLED,
                                   "cosnet_trainer_run: cancelled by the "
                                   "progress callback in epoch %u",
                                   epoch);
                break;
            }
        }
        if (status != COSNET_OK)
            break;
        epoch_loss[epoch - 1] = (float)(loss_sum / (double)training_count);
        accuracy[epoch - 1] = -1.0;
        if (validation_count > 0) {
            r.task = TASK_VALIDATE;
            status = run_task(&r);
            if (status != COSNET_OK)
                break;
            size_t correct = 0;
            for (unsigned t = 0; t < threads; t++)
                correct += r.workers[t].correct;
            accuracy[epoch - 1] = (double)correct / (double)validation_count;
        }
        /* Results so far are readable from the epoch callback. */
        trainer->epochs_done = epoch;
        if (trainer->progress &&
            trainer->progress(trainer->user_data, epoch, training_count,
                              training_count, epoch_loss[epoch - 1], 1) != 0) {
            status = error_set(COSNET_ERROR_CANCELLED,
                               "cosnet_trainer_run: cancelled by the progress "
                               "callback after epoch %u",
                               epoch);
            break;
        }
    }
done:
    pool_stop(&r);
    pthread_mutex_destroy(&r.lock);
    pthread_cond_destroy(&r.task_ready);
    pthread_cond_destroy(&r.task_done);
    run_free(&r);
    adamw_snapshot_free(&snapshot);
    cosnet_optimizer_free(optimizer);
    memory_free(order);
    if (trainer->epochs_done == 0) {
        memory_free(epoch_loss);
        memory_free(accuracy);
        trainer->epoch_loss = previous_loss;
        trainer->validation_accuracy = previous_accuracy;
        trainer->epochs_done = previous_epochs;
    } else {
        memory_free(previous_loss);
        memory_free(previous_accuracy);
    }
    return status;
}
