/* cosnet-mnist's training: a pool of threads pulling digits from a
 * counter. Each digit's work (subset, model, optimiser) is its own, so the
 * digits may be trained in any order on any thread with bit-identical
 * results. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cosnet-mnist.h"

typedef struct digit_training {
    unsigned digit;
    size_t *indices; /* the digit's subset, chosen before training */
    cosnet_model *model;
    float final_loss;
    cosnet_status status;
    char message[512];
} digit_training;

typedef struct training_pool {
    const options *opt;
    const cosnet_dataset *train;
    const cosnet_labels *labels;
    size_t image_count; /* per digit */
    loss_history *history;
    progress *line;
    digit_training digits[DIGITS];
    pthread_mutex_t lock;
    unsigned next_digit;
    int failed;
} training_pool;

static void training_fail(digit_training *work, cosnet_status status)
{
    work->status = status;
    snprintf(work->message, sizeof work->message, "digit %u: %s", work->digit,
             cosnet_last_error());
}

/* Everything one digit needs is its own, so the digits may be trained in
 * any order on any thread with bit-identical results. */
static void train_digit(training_pool *pool, digit_training *work)
{
    const options *opt = pool->opt;
    size_t pixels =
        cosnet_dataset_rows(pool->train) * cosnet_dataset_columns(pool->train);
    cosnet_optimizer *optimizer = NULL;
    cosnet_status status;
    float *images = NULL;
    if (pool->image_count > SIZE_MAX / sizeof(float) / pixels ||
        !(images = malloc(pool->image_count * pixels * sizeof *images))) {
        work->status = COSNET_ERROR_OUT_OF_MEMORY;
        snprintf(work->message, sizeof work->message,
                 "digit %u: out of memory for %zu training images", work->digit,
                 pool->image_count);
        return;
    }
    status = cosnet_dataset_gather_float(pool->train, work->indices,
                                         pool->image_count, images);
    if (status == COSNET_OK)
        status = cosnet_model_create(COSNET_ARCHITECTURE_SEED,
                                     opt->seed * SEED_STRIDE + work->digit,
                                     &work->model);
    if (status == COSNET_OK)
        status = cosnet_optimizer_create(work->model, &optimizer);
    const float *target = cosnet_labels_vector(pool->labels, work->digit);
    /* Every batch's loss into the history (when kept) and its images onto
     * the one progress line that all the training threads share. */
    loss_tracker tracker = {pool->history, pool->line, work->digit,
                            opt->batch_size};
    for (unsigned epoch = 1; status == COSNET_OK && epoch <= opt->epochs;
         epoch++) {
        float loss = 0.0f;
        status = cosnet_train_epoch(
            work->model, optimizer, images, pool->image_count, opt->batch_size,
            target, 0, epoch, loss_tracker_callback, &tracker, &loss);
        if (status != COSNET_OK)
            break;
        work->final_loss = loss;
        loss_history_epoch(pool->history, work->digit, epoch, loss);
    }
    if (status != COSNET_OK)
        training_fail(work, status);
    cosnet_optimizer_free(optimizer);
    free(images);
}

static void *training_worker(void *argument)
{
    training_pool *pool = argument;
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        unsigned digit = pool->next_digit;
        int stop = pool->failed || digit >= DIGITS;
        if (!stop)
            pool->next_digit++;
        pthread_mutex_unlock(&pool->lock);
        if (stop)
            return NULL;
        digit_training *work = &pool->digits[digit];
        train_digit(pool, work);
        if (work->status != COSNET_OK) {
            pthread_mutex_lock(&pool->lock);
            pool->failed = 1;
            pthread_mutex_unlock(&pool->lock);
        }
    }
}

/* Runs the pool with `threads` workers, the calling thread being one of
 * them; a thread that cannot be started only means fewer workers. */
static void run_training(training_pool *pool, unsigned threads)
{
    pthread_t handles[DIGITS];
    unsigned started = 0;
    for (unsigned t = 1; t < threads && t < DIGITS; t++) {
        if (pthread_create(&handles[started], NULL, training_worker, pool) != 0)
            break;
        started++;
    }
    training_worker(pool);
    for (unsigned t = 0; t < started; t++)
        pthread_join(handles[t], NULL);
}

/* Subsets are chosen here, in digit order, so a class too small for the
 * configuration fails the same way whatever the thread count. */
static int choose_subsets(training_pool *pool)
{
    const options *opt = pool->opt;
    for (unsigned k = 0; k < DIGITS; k++) {
        digit_training *work = &pool->digits[k];
        work->digit = k;
        if (pool->image_count > SIZE_MAX / sizeof(size_t) ||
            !(work->indices =
                  malloc(pool->image_count * sizeof *work->indices))) {
            fprintf(stderr, PROGRAM ": out of memory for %zu indices\n",
                    pool->image_count);
            return EXIT_FAILURE;
        }
        cosnet_status status = cosnet_dataset_class_subset(
            pool->train, k, pool->image_count,
            opt->seed * SEED_STRIDE + SUBSET_OFFSET + k, work->indices);
        if (status != COSNET_OK)
            return library_failure(NULL, status);
    }
    return 0;
}

int train_models(const options *opt, const cosnet_dataset *train,
                 const cosnet_labels *labels, unsigned threads,
                 cosnet_model **models, float *final_loss,
                 loss_history *history, progress *line)
{
    training_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return out_of_memory("the training pool");
    if (pthread_mutex_init(&pool->lock, NULL) != 0) {
        free(pool);
        fprintf(stderr, PROGRAM ": cannot create a mutex\n");
        return EXIT_FAILURE;
    }
    pool->opt = opt;
    pool->train = train;
    pool->labels = labels;
    pool->image_count = opt->batches * opt->batch_size;
    pool->history = history;
    pool->line = line;
    int result = choose_subsets(pool);
    if (!result)
        run_training(pool, threads);
    for (unsigned k = 0; k < DIGITS; k++) {
        /* Models are handed over even on failure, so they are freed. */
        models[k] = pool->digits[k].model;
        final_loss[k] = pool->digits[k].final_loss;
        if (!result && pool->digits[k].status != COSNET_OK) {
            fprintf(stderr, PROGRAM ": %s\n", pool->digits[k].message);
            result = EXIT_FAILURE;
        }
        free(pool->digits[k].indices);
    }
    pthread_mutex_destroy(&pool->lock);
    free(pool);
    return result;
}
