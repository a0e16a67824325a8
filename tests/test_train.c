/* Training: loss goes down, the article's epoch order, the epoch-loss
 * formula, cancellation, NaN safety, determinism (also with two models
 * training at once on two threads), argument checks, and the buffers an
 * optimiser keeps between calls. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cosnet.h"
#include "common/rng.h"
#include "optimizer/adamw_internal.h"

#define PARAMETERS 1393
#define IMAGE 784
#define OUTPUTS 25
#define COUNT 40
#define BATCH 20

/* 40 images in [0, 1) and two unit targets (each image gets one of them
 * by parity), fixed by seeds. */
typedef struct data {
    float images[COUNT * IMAGE];
    float targets[COUNT * OUTPUTS];
} data;

static data *make_data(uint64_t seed)
{
    data *d = malloc(sizeof *d);
    assert_non_null(d);
    random_generator g;
    random_seed(&g, seed);
    for (size_t i = 0; i < COUNT * IMAGE; i++)
        d->images[i] = (float)random_uniform(&g);
    float vectors[2][OUTPUTS];
    for (int k = 0; k < 2; k++) {
        double norm = 0;
        for (int j = 0; j < OUTPUTS; j++) {
            vectors[k][j] = (float)fabs(random_normal(&g));
            norm += (double)vectors[k][j] * vectors[k][j];
        }
        for (int j = 0; j < OUTPUTS; j++)
            vectors[k][j] = (float)(vectors[k][j] / sqrt(norm));
    }
    for (size_t i = 0; i < COUNT; i++)
        memcpy(d->targets + i * OUTPUTS, vectors[i % 2], sizeof vectors[0]);
    return d;
}

typedef struct trainer {
    cosnet_model *model;
    cosnet_optimizer *optimizer;
} trainer;

static trainer make_trainer(uint64_t seed)
{
    trainer t = {NULL, NULL};
    assert_int_equal(
        cosnet_model_create(COSNET_ARCHITECTURE_SEED, seed, &t.model),
        COSNET_OK);
    assert_int_equal(cosnet_optimizer_create(t.model, &t.optimizer), COSNET_OK);
    return t;
}

static void free_trainer(trainer *t)
{
    cosnet_optimizer_free(t->optimizer);
    cosnet_model_free(t->model);
}

static void get_parameters(const cosnet_model *model, float *out)
{
    assert_int_equal(cosnet_model_get_parameters(model, out, PARAMETERS),
                     COSNET_OK);
}

/* Everything training can change: parameters, moments, step count. */
typedef struct snapshot {
    float parameters[PARAMETERS];
    float first[PARAMETERS], second[PARAMETERS];
    uint64_t steps;
} snapshot;

static void take_snapshot(const trainer *t, snapshot *s)
{
    get_parameters(t->model, s->parameters);
    memcpy(s->first, t->optimizer->first_moment, sizeof s->first);
    memcpy(s->second, t->optimizer->second_moment, sizeof s->second);
    s->steps = cosnet_optimizer_steps(t->optimizer);
}

static void assert_same_state(const trainer *t, const snapshot *before)
{
    snapshot now;
    take_snapshot(t, &now);
    assert_memory_equal(now.parameters, before->parameters,
                        sizeof now.parameters);
    assert_memory_equal(now.first, before->first, sizeof now.first);
    assert_memory_equal(now.second, before->second, sizeof now.second);
    assert_int_equal(now.steps, before->steps);
}

typedef struct recorder {
    size_t calls;
    unsigned epochs[16];
    size_t batches[16];
    float losses[16];
    size_t cancel_after; /* cancel once this many calls were made; 0 never */
} recorder;

static int record(void *user_data, unsigned epoch, size_t batch, float loss)
{
    recorder *r = user_data;
    if (r->calls < 16) {
        r->epochs[r->calls] = epoch;
        r->batches[r->calls] = batch;
        r->losses[r->calls] = loss;
    }
    r->calls++;
    return r->cancel_after != 0 && r->calls >= r->cancel_after;
}

/* ---- Tests -------------------------------------------------------------- */

static void test_loss_decreases(void **state)
{
    (void)state;
    data *d = make_data(1);
    trainer t = make_trainer(2);
    float losses[12];
    for (unsigned epoch = 1; epoch <= 12; epoch++)
        assert_int_equal(cosnet_train_epoch(t.model, t.optimizer, d->images,
                                            COUNT, BATCH, d->targets, OUTPUTS,
                                            epoch, NULL, NULL,
                                            &losses[epoch - 1]),
                         COSNET_OK);
    print_message("  epoch losses: %.4f %.4f %.4f ... %.4f\n", losses[0],
                  losses[1], losses[2], losses[11]);
    assert_int_equal(cosnet_optimizer_steps(t.optimizer), 24);
    assert_true(losses[0] > 0.0f && losses[0] <= 2.0f);
    assert_true(losses[11] < 0.8f * losses[0]);
    assert_true(losses[11] < losses[5]);
    free_trainer(&t);
    free(d);
}

/* train_epoch == train_batch on the slices from the last to the first,
 * bit for bit, and the epoch loss is sum_b loss_b * B / n. */
static void test_epoch_order_and_loss(void **state)
{
    (void)state;
    enum { N = 60, B = 15 }; /* 4 batches, so the order is visible */
    data *d = make_data(3);
    float *images = malloc(sizeof(float) * N * IMAGE);
    float *targets = malloc(sizeof(float) * N * OUTPUTS);
    assert_non_null(images);
    assert_non_null(targets);
    memcpy(images, d->images, sizeof(float) * COUNT * IMAGE);
    memcpy(images + COUNT * IMAGE, d->images, sizeof(float) * 20 * IMAGE);
    /* Make the copied images differ from their originals. */
    for (size_t i = COUNT * IMAGE; i < N * IMAGE; i++)
        images[i] = 1.0f - images[i];
    for (size_t i = 0; i < N; i++)
        memcpy(targets + i * OUTPUTS, d->targets + (i % 2) * OUTPUTS,
               sizeof(float) * OUTPUTS);

    trainer epoch_trainer = make_trainer(4), manual = make_trainer(4);
    for (unsigned epoch = 1; epoch <= 2; epoch++) {
        recorder r = {0};
        float epoch_loss = -1;
        assert_int_equal(cosnet_train_epoch(epoch_trainer.model,
                                            epoch_trainer.optimizer, images, N,
                                            B, targets, OUTPUTS, epoch, record,
                                            &r, &epoch_loss),
                         COSNET_OK);
        assert_int_equal(r.calls, N / B);
        double sum = 0;
        for (size_t b = 0; b < N / B; b++) {
            size_t slice = N / B - 1 - b;
            float loss = -1;
            assert_int_equal(cosnet_train_batch(manual.model, manual.optimizer,
                                                images + slice * B * IMAGE, B,
                                                targets + slice * B * OUTPUTS,
                                                OUTPUTS, &loss),
                             COSNET_OK);
            assert_int_equal(r.epochs[b], epoch);
            assert_int_equal(r.batches[b], b);
            assert_memory_equal(&r.losses[b], &loss, sizeof loss);
            sum += loss;
        }
        const double expected = sum * B / N;
        assert_true(fabs(epoch_loss - expected) <= 1e-6 * expected);
        float a[PARAMETERS], m[PARAMETERS];
        get_parameters(epoch_trainer.model, a);
        get_parameters(manual.model, m);
        assert_memory_equal(a, m, sizeof a);
        assert_int_equal(cosnet_optimizer_steps(epoch_trainer.optimizer),
                         epoch * (N / B));
    }

    /* The first-to-last order gives different weights: the test above can
     * tell the orders apart. */
    trainer forward = make_trainer(4);
    for (size_t slice = 0; slice < N / B; slice++)
        assert_int_equal(cosnet_train_batch(forward.model, forward.optimizer,
                                            images + slice * B * IMAGE, B,
                                            targets + slice * B * OUTPUTS,
                                            OUTPUTS, NULL),
                         COSNET_OK);
    trainer one_epoch = make_trainer(4);
    assert_int_equal(cosnet_train_epoch(one_epoch.model, one_epoch.optimizer,
                                        images, N, B, targets, OUTPUTS, 1, NULL,
                                        NULL, NULL),
                     COSNET_OK);
    float f[PARAMETERS], e[PARAMETERS];
    get_parameters(forward.model, f);
    get_parameters(one_epoch.model, e);
    assert_true(memcmp(f, e, sizeof f) != 0);
    free_trainer(&forward);
    free_trainer(&one_epoch);
    free_trainer(&epoch_trainer);
    free_trainer(&manual);
    free(images);
    free(targets);
    free(d);
}

/* The batch loss is (1/n) sum (1 - cos(f(x_i), t_i)) of the model before
 * the step. */
static void test_batch_loss_value(void **state)
{
    (void)state;
    data *d = make_data(5);
    trainer t = make_trainer(6);
    float outputs[BATCH * OUTPUTS];
    assert_int_equal(cosnet_model_predict(t.model, d->images, BATCH, outputs),
                     COSNET_OK);
    double expected = 0;
    for (size_t i = 0; i < BATCH; i++) {
        double dot = 0, aa = 0, bb = 0;
        for (int j = 0; j < OUTPUTS; j++) {
            double a = outputs[i * OUTPUTS + j],
                   b = d->targets[i * OUTPUTS + j];
            dot += a * b;
            aa += a * a;
            bb += b * b;
        }
        expected += 1 - dot / sqrt(fmax(aa * bb, 1e-12));
    }
    expected /= BATCH;
    float loss = -1;
    assert_int_equal(cosnet_train_batch(t.model, t.optimizer, d->images, BATCH,
                                        d->targets, OUTPUTS, &loss),
                     COSNET_OK);
    assert_true(fabs(loss - expected) <= 1e-5 * expected);
    assert_int_equal(cosnet_optimizer_steps(t.optimizer), 1);

    /* Stride 0 (one shared target) equals repeating the target. */
    trainer shared = make_trainer(6), repeated = make_trainer(6);
    float rows[BATCH * OUTPUTS];
    for (size_t i = 0; i < BATCH; i++)
        memcpy(rows + i * OUTPUTS, d->targets, sizeof(float) * OUTPUTS);
    float loss_shared, loss_repeated;
    assert_int_equal(cosnet_train_batch(shared.model, shared.optimizer,
                                        d->images, BATCH, d->targets, 0,
                                        &loss_shared),
                     COSNET_OK);
    assert_int_equal(cosnet_train_batch(repeated.model, repeated.optimizer,
                                        d->images, BATCH, rows, OUTPUTS,
                                        &loss_repeated),
                     COSNET_OK);
    assert_true(fabs(loss_shared - loss_repeated) <= 1e-6);
    float a[PARAMETERS], b[PARAMETERS];
    get_parameters(shared.model, a);
    get_parameters(repeated.model, b);
    for (size_t i = 0; i < PARAMETERS; i++)
        assert_true(fabs(a[i] - b[i]) <= 1e-6);
    free_trainer(&shared);
    free_trainer(&repeated);
    free_trainer(&t);
    free(d);
}

static void test_cancel(void **state)
{
    (void)state;
    data *d = make_data(7);
    trainer t = make_trainer(8), manual = make_trainer(8);
    recorder r = {0};
    r.cancel_after = 1;
    float epoch_loss = -7.0f;
    assert_int_equal(cosnet_train_epoch(t.model, t.optimizer, d->images, COUNT,
                                        BATCH, d->targets, OUTPUTS, 3, record,
                                        &r, &epoch_loss),
                     COSNET_ERROR_CANCELLED);
    assert_non_null(strstr(cosnet_last_error(), "cancelled"));
    assert_non_null(strstr(cosnet_last_error(), "batch 1 of 2"));
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.epochs[0], 3);
    assert_true(epoch_loss == -7.0f); /* outputs untouched on failure */
    /* The cancelled batch's step is kept: the last slice was trained. */
    assert_int_equal(cosnet_optimizer_steps(t.optimizer), 1);
    assert_int_equal(cosnet_train_batch(manual.model, manual.optimizer,
                                        d->images + BATCH * IMAGE, BATCH,
                                        d->targets + BATCH * OUTPUTS, OUTPUTS,
                                        NULL),
                     COSNET_OK);
    float a[PARAMETERS], b[PARAMETERS];
    get_parameters(t.model, a);
    get_parameters(manual.model, b);
    assert_memory_equal(a, b, sizeof a);
    free_trainer(&t);
    free_trainer(&manual);
    free(d);
}

static void test_not_finite(void **state)
{
    (void)state;
    data *d = make_data(9);
    trainer t = make_trainer(10);
    /* One step first, so that the moments are not all zero. */
    assert_int_equal(cosnet_train_batch(t.model, t.optimizer, d->images, BATCH,
                                        d->targets, OUTPUTS, NULL),
                     COSNET_OK);
    snapshot before;
    take_snapshot(&t, &before);

    /* A NaN pixel. */
    d->images[3 * IMAGE + 100] = NAN;
    float loss = -3.0f;
    assert_int_equal(cosnet_train_batch(t.model, t.optimizer, d->images, BATCH,
                                        d->targets, OUTPUTS, &loss),
                     COSNET_ERROR_NOT_FINITE);
    assert_non_null(strstr(cosnet_last_error(), "image 3, value 100"));
    assert_true(loss == -3.0f);
    assert_same_state(&t, &before);

    /* In an epoch: the NaN is in the first slice, trained second, so the
     * model keeps the step of the last slice and nothing more. */
    trainer manual = make_trainer(10);
    assert_int_equal(cosnet_train_batch(manual.model, manual.optimizer,
                                        d->images + BATCH * IMAGE, BATCH,
                                        d->targets + BATCH * OUTPUTS, OUTPUTS,
                                        NULL),
                     COSNET_OK);
    trainer epoch = make_trainer(10);
    assert_int_equal(cosnet_train_epoch(epoch.model, epoch.optimizer, d->images,
                                        COUNT, BATCH, d->targets, OUTPUTS, 1,
                                        NULL, NULL, NULL),
                     COSNET_ERROR_NOT_FINITE);
    assert_non_null(strstr(cosnet_last_error(), "image 3"));
    snapshot after_one;
    take_snapshot(&manual, &after_one);
    assert_same_state(&epoch, &after_one);
    free_trainer(&manual);
    free_trainer(&epoch);
    d->images[3 * IMAGE + 100] = 0.5f;

    /* An infinite target (and a shared one). */
    d->targets[5 * OUTPUTS + 2] = INFINITY;
    assert_int_equal(cosnet_train_batch(t.model, t.optimizer, d->images, BATCH,
                                        d->targets, OUTPUTS, NULL),
                     COSNET_ERROR_NOT_FINITE);
    assert_non_null(strstr(cosnet_last_error(), "target of image 5"));
    assert_same_state(&t, &before);
    assert_int_equal(cosnet_train_batch(t.model, t.optimizer, d->images, BATCH,
                                        d->targets + 5 * OUTPUTS, 0, NULL),
                     COSNET_ERROR_NOT_FINITE);
    assert_same_state(&t, &before);
    d->targets[5 * OUTPUTS + 2] = 0.1f;

    /* A finite gradient but a step that overflows the weights: undone. */
    assert_int_equal(cosnet_optimizer_set(
                         t.optimizer, COSNET_OPTIMIZER_LEARNING_RATE, 1e300),
                     COSNET_OK);
    assert_int_equal(cosnet_train_batch(t.model, t.optimizer, d->images, BATCH,
                                        d->targets, OUTPUTS, NULL),
                     COSNET_ERROR_NOT_FINITE);
    assert_non_null(strstr(cosnet_last_error(), "step undone"));
    assert_same_state(&t, &before);
    /* And training goes on normally afterwards. */
    assert_int_equal(
        cosnet_optimizer_set(t.optimizer, COSNET_OPTIMIZER_LEARNING_RATE, 0.01),
        COSNET_OK);
    assert_int_equal(cosnet_train_batch(t.model, t.optimizer, d->images, BATCH,
                                        d->targets, OUTPUTS, NULL),
                     COSNET_OK);
    assert_int_equal(cosnet_optimizer_steps(t.optimizer), 2);
    free_trainer(&t);
    free(d);
}

typedef struct training_job {
    const data *d;
    uint64_t seed;
    float parameters[PARAMETERS];
    cosnet_status status;
} training_job;

static void *train_thread(void *argument)
{
    training_job *job = argument;
    cosnet_model *model = NULL;
    cosnet_optimizer *optimizer = NULL;
    job->status =
        cosnet_model_create(COSNET_ARCHITECTURE_SEED, job->seed, &model);
    if (job->status == COSNET_OK)
        job->status = cosnet_optimizer_create(model, &optimizer);
    for (unsigned epoch = 1; epoch <= 4 && job->status == COSNET_OK; epoch++)
        job->status = cosnet_train_epoch(model, optimizer, job->d->images,
                                         COUNT, BATCH, job->d->targets, OUTPUTS,
                                         epoch, NULL, NULL, NULL);
    if (job->status == COSNET_OK)
        job->status =
            cosnet_model_get_parameters(model, job->parameters, PARAMETERS);
    cosnet_optimizer_free(optimizer);
    cosnet_model_free(model);
    return NULL;
}

static void test_determinism_and_threads(void **state)
{
    (void)state;
    data *d = make_data(11);
    training_job *serial = calloc(2, sizeof *serial);
    training_job *parallel = calloc(2, sizeof *parallel);
    assert_non_null(serial);
    assert_non_null(parallel);
    for (int i = 0; i < 2; i++) {
        serial[i].d = parallel[i].d = d;
        serial[i].seed = parallel[i].seed = 12;
        train_thread(&serial[i]);
        assert_int_equal(serial[i].status, COSNET_OK);
    }
    /* Same seed, same variant: the same bits. */
    assert_memory_equal(serial[0].parameters, serial[1].parameters,
                        sizeof serial[0].parameters);
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(
            pthread_create(&threads[i], NULL, train_thread, &parallel[i]), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(parallel[i].status, COSNET_OK);
        assert_memory_equal(parallel[i].parameters, serial[0].parameters,
                            sizeof serial[0].parameters);
    }
    /* Training moved the weights away from their start. */
    cosnet_model *fresh = NULL;
    assert_int_equal(cosnet_model_create(COSNET_ARCHITECTURE_SEED, 12, &fresh),
                     COSNET_OK);
    float start[PARAMETERS];
    get_parameters(fresh, start);
    assert_true(memcmp(start, serial[0].parameters, sizeof start) != 0);
    cosnet_model_free(fresh);
    free(serial);
    free(parallel);
    free(d);
}

static void test_arguments(void **state)
{
    (void)state;
    data *d = make_data(13);
    trainer t = make_trainer(14);
    snapshot before;
    take_snapshot(&t, &before);
    float loss;
    assert_int_equal(cosnet_train_epoch(t.model, t.optimizer, d->images, 30, 20,
                                        d->targets, OUTPUTS, 1, NULL, NULL,
                                        &loss),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(cosnet_last_error(), "n = 30"));
    assert_int_equal(cosnet_train_epoch(t.model, t.optimizer, d->images, 40, 0,
                                        d->targets, OUTPUTS, 1, NULL, NULL,
                                        &loss),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_train_epoch(t.model, t.optimizer, d->images, 0, 20,
                                        d->targets, OUTPUTS, 1, NULL, NULL,
                                        &loss),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_train_epoch(t.model, t.optimizer, NULL, 40, 20,
                                        d->targets, OUTPUTS, 1, NULL, NULL,
                                        &loss),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_train_batch(NULL, t.optimizer, d->images, 20,
                                        d->targets, OUTPUTS, &loss),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_train_batch(t.model, NULL, d->images, 20,
                                        d->targets, OUTPUTS, &loss),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_train_batch(t.model, t.optimizer, d->images, 20,
                                        NULL, OUTPUTS, &loss),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(cosnet_last_error(), "targets"));
    assert_int_equal(cosnet_train_batch(t.model, t.optimizer, d->images, 0,
                                        d->targets, OUTPUTS, &loss),
                     COSNET_ERROR_INVALID_ARGUMENT);
    /* An optimiser sized for another parameter count. */
    t.optimizer->parameter_count = PARAMETERS - 1;
    assert_int_equal(cosnet_train_batch(t.model, t.optimizer, d->images, 20,
                                        d->targets, OUTPUTS, &loss),
                     COSNET_ERROR_MISMATCH);
    assert_non_null(strstr(cosnet_last_error(), "1392"));
    assert_int_equal(cosnet_train_epoch(t.model, t.optimizer, d->images, 40, 20,
                                        d->targets, OUTPUTS, 1, NULL, NULL,
                                        &loss),
                     COSNET_ERROR_MISMATCH);
    t.optimizer->parameter_count = PARAMETERS;
    assert_same_state(&t, &before);
    free_trainer(&t);
    free(d);
}

/* ---- The optimiser keeps the training buffers ------------------------------
 * Two networks of the same layers and parameter count (114) on 8 x 8 and
 * 12 x 12 inputs need buffers of different sizes; one optimiser trains
 * both. */
#define KEPT_LAYERS "conv3x3 4 pad 1, relu, conv3x3 2 pad 1"
#define KEPT_BATCH 4

static size_t allocations;

static void *counting_allocate(void *user_data, size_t size)
{
    (void)user_data;
    allocations++;
    return malloc(size);
}

static void counting_release(void *user_data, void *memory)
{
    (void)user_data;
    free(memory);
}

static cosnet_model *kept_model(size_t side)
{
    cosnet_model *model = NULL;
    assert_int_equal(
        cosnet_model_create_layers(KEPT_LAYERS, 1, side, side, 21, &model),
        COSNET_OK);
    assert_int_equal(cosnet_model_parameter_count(model), 114);
    return model;
}

static float kept_step(cosnet_model *model, cosnet_optimizer *optimizer,
                       const float *images, const float *target)
{
    float loss = -1.0f;
    assert_int_equal(cosnet_train_batch(model, optimizer, images, KEPT_BATCH,
                                        target, 0, &loss),
                     COSNET_OK);
    return loss;
}

static void test_optimizer_keeps_buffers(void **state)
{
    (void)state;
    /* Count the allocations: nothing else of the library is alive here. */
    assert_int_equal(
        cosnet_set_allocator(counting_allocate, counting_release, NULL),
        COSNET_OK);
    float images[2 * KEPT_BATCH * 144], target[2 * 144],
        not_finite[KEPT_BATCH * 64];
    random_generator g;
    random_seed(&g, 22);
    for (size_t i = 0; i < 2 * KEPT_BATCH * 144; i++)
        images[i] = (float)random_uniform(&g);
    for (size_t i = 0; i < 2 * 144; i++)
        target[i] = (float)random_normal(&g);
    for (size_t i = 0; i < KEPT_BATCH * 64; i++)
        not_finite[i] = NAN;
    cosnet_model *small = kept_model(8), *first = kept_model(12),
                 *second = kept_model(12);
    cosnet_optimizer *kept = NULL, *rebuilt = NULL;
    assert_int_equal(cosnet_optimizer_create(first, &kept), COSNET_OK);
    assert_int_equal(cosnet_optimizer_create(first, &rebuilt), COSNET_OK);

    /* kept: buffers made for the 8 x 8 network, then (after a reset)
     * replaced for the 12 x 12 one, which two batches share. */
    kept_step(small, kept, images, target);
    cosnet_optimizer_reset(kept);
    const float kept_first = kept_step(first, kept, images, target);
    const size_t before = allocations;
    const float kept_second =
        kept_step(first, kept, images + KEPT_BATCH * 144, target);
    assert_int_equal(allocations, before); /* the second batch allocates none */

    /* rebuilt: the same two batches, with the buffers replaced between
     * them by a call for the 8 x 8 network that changes nothing else. */
    const float rebuilt_first = kept_step(second, rebuilt, images, target);
    assert_int_equal(cosnet_train_batch(small, rebuilt, not_finite, KEPT_BATCH,
                                        target, 0, NULL),
                     COSNET_ERROR_NOT_FINITE);
    const float rebuilt_second =
        kept_step(second, rebuilt, images + KEPT_BATCH * 144, target);

    assert_true(kept_first == rebuilt_first);
    assert_true(kept_second == rebuilt_second);
    float a[114], b[114];
    assert_int_equal(cosnet_model_get_parameters(first, a, 114), COSNET_OK);
    assert_int_equal(cosnet_model_get_parameters(second, b, 114), COSNET_OK);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(kept->first_moment, rebuilt->first_moment, sizeof a);
    assert_memory_equal(kept->second_moment, rebuilt->second_moment, sizeof a);
    assert_int_equal(cosnet_optimizer_steps(kept), 2);

    cosnet_optimizer_free(kept);
    cosnet_optimizer_free(rebuilt);
    cosnet_model_free(small);
    cosnet_model_free(first);
    cosnet_model_free(second);
    assert_int_equal(cosnet_set_allocator(NULL, NULL, NULL), COSNET_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_decreases),
        cmocka_unit_test(test_epoch_order_and_loss),
        cmocka_unit_test(test_batch_loss_value),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_not_finite),
        cmocka_unit_test(test_determinism_and_threads),
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_optimizer_keeps_buffers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
