/* Kernel benchmark: the machine's fp32 FMA peak per variant, measured in
 * this run, then every kernel variant on the seed network's shapes, as
 * GFLOP/s and as a fraction of that variant's single-core peak.
 *
 *   bench_kernels [--reps N] [--batch N] [--train-batch N] [--variant NAME]
 *                 [--only TEXT] [--min-time SECONDS]
 *
 * --batch (default 256) is the prediction batch (forward passes), and
 * --train-batch (default 20) the training batch (gradients); --only keeps
 * the kernel lines whose label contains TEXT.
 *
 * Each figure is the median of --reps repetitions (default 15); a repetition
 * runs the kernel often enough to last --min-time (default 0.02 s). Times
 * are the running thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so that time
 * the thread spends descheduled by other processes on a shared machine does
 * not count; the all-core peak is also given in wall-clock time.
 * Flop counts, 2 per multiply-add: convolution forward and weight gradient
 * do out_channels x in_channels x 9 x out_height x out_width multiply-adds
 * per image (docs/math.md: 415,008 per image forward); the input gradient
 * out_channels x in_channels x 9 x in_height x in_width.
 * Max-pool does no flops; it is reported in GB/s of its reads and writes.
 * The "rule" lines time the forward pass by the direct kernels and by
 * Winograd F(2x2, 3x3) on a grid of channel counts (batch --train-batch),
 * both in direct-convolution flops, so above 100% of the peak means fewer
 * multiplications than the direct sum: the evidence for the per-ISA rule
 * in lib/kernels/winograd_*.c.
 * Weight gradients run on scratch allocated once, as the trainer's; where
 * the driver computes one by Winograd (winograd_weights.h), a "d-weights
 * direct" line times the direct kernels on the same data, in the same
 * direct-convolution flops. For conv1, "d-weights from pool" times the
 * training step's conv3x3_pool_backward_weights and "d-weights unfused"
 * the max-pool gradient and the weight gradient it replaces, both in the
 * convolution's direct flops. The deep classifier's 32 -> 32 layer is
 * measured too. Where the forward pass runs F(4x4), a "pack" line times
 * what a training step does per layer and worker: U of the forward pass and
 * of the input gradient, reported in GB/s of U written; "pack plain-C" the
 * same with the plain-C packing.
 * Cosine counts 6 flops per element for similarity (three dot products) and
 * 10 for loss with gradient. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/rng.h"
#include "fma_peak.h"
#include "kernels/conv_driver.h"
#include "kernels/kernels.h"
#include "kernels/winograd.h"
#include "kernels/winograd4.h"
#include "network/architecture.h"

#define BENCH_PROGRAM "bench_kernels"
#include "bench_timing.h"

typedef struct options {
    int repetitions;
    size_t batch, train_batch;
    const char *variant, *only;
    double min_time;
} options;

/* Whether a kernel line is selected by --only (a substring). */
static int selected(const options *o, const char *label)
{
    return !o->only || strstr(label, o->only) != NULL;
}

static double clock_seconds(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double now_seconds(void)
{
    return clock_seconds(CLOCK_MONOTONIC);
}

/* ---- FMA peak ---------------------------------------------------------- */

typedef struct peak_thread {
    peak_function run;
    uint64_t rounds;
    pthread_barrier_t *barrier;
    double flops, cpu_time;
    float sink;
} peak_thread;

static void *peak_thread_main(void *argument)
{
    peak_thread *t = argument;
    pthread_barrier_wait(t->barrier);
    const double start = cpu_seconds();
    t->flops = t->run(t->rounds, &t->sink);
    t->cpu_time = cpu_seconds() - start;
    pthread_barrier_wait(t->barrier);
    return NULL;
}

/* GFLOP/s of `threads` threads each running `rounds` rounds: the sum of
 * each thread's flops over its own CPU time (returned), and all flops over
 * the wall time from the first barrier to the second (in *wall_gflops),
 * which covers the slowest thread and any time-sharing. */
static double peak_gflops(peak_function run, uint64_t rounds, int threads,
                          double *wall_gflops)
{
    peak_thread state[64];
    pthread_t ids[64];
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, (unsigned)threads + 1);
    for (int t = 0; t < threads; t++) {
        state[t] = (peak_thread){run, rounds, &barrier, 0.0, 0.0, 0.0f};
        pthread_create(&ids[t], NULL, peak_thread_main, &state[t]);
    }
    pthread_barrier_wait(&barrier);
    const double start = now_seconds();
    pthread_barrier_wait(&barrier);
    const double elapsed = now_seconds() - start;
    double flops = 0.0, rate = 0.0;
    for (int t = 0; t < threads; t++) {
        pthread_join(ids[t], NULL);
        flops += state[t].flops;
        rate += state[t].flops / state[t].cpu_time;
        if (!(state[t].sink > 0.0f))
            fprintf(stderr, "peak: unexpected chain value %g\n", state[t].sink);
    }
    pthread_barrier_destroy(&barrier);
    *wall_gflops = flops / elapsed * 1e-9;
    return rate * 1e-9;
}

static double measure_peak(peak_function run, int threads, const options *o,
                           double *wall_gflops)
{
    /* Calibrate single-threaded to about min_time x 4 per repetition. */
    uint64_t rounds = 1000;
    float sink;
    for (;;) {
        const double start = cpu_seconds();
        run(rounds, &sink);
        const double elapsed = cpu_seconds() - start;
        if (elapsed > o->min_time * 4 || rounds > (1ull << 40))
            break;
        rounds *= 2;
    }
    double samples[64], walls[64];
    for (int r = 0; r < o->repetitions; r++)
        samples[r] = peak_gflops(run, rounds, threads, &walls[r]);
    *wall_gflops = median(walls, o->repetitions);
    return fma_peak_checked(median(samples, o->repetitions) / threads) *
           threads;
}

/* ---- timing kernels ---------------------------------------------------- */

typedef struct conv_context {
    const kernel_table *table;
    conv_shape shape;
    size_t count;
    float *input, *weights, *bias, *output, *dy, *dx, *dw, *db;
    float *scratch; /* the weight gradient's, allocated once as the trainer
                       does, for the largest table the context runs */
} conv_context;

static void run_conv_forward(void *p)
{
    conv_context *c = p;
    conv3x3_forward_unpacked(c->table->conv3x3, &c->shape, c->count, c->input,
                             c->weights, c->bias, 1, c->output);
}
/* The weight packings of one training step for one layer. */
typedef struct pack_context {
    const kernel_table *table;
    conv_shape shape;
    const float *weights;
    float *forward, *backward;
} pack_context;

static void run_pack(void *p)
{
    pack_context *c = p;
    conv3x3_pack_forward(c->table, &c->shape, c->weights, c->forward);
    conv3x3_pack_backward(c->table, &c->shape, c->weights, c->backward);
}

static void run_conv_backward_input(void *p)
{
    conv_context *c = p;
    conv3x3_backward_input_unpacked(c->table->conv3x3, &c->shape, c->count,
                                    c->weights, c->dy, c->dx);
}
static void run_conv_backward_weights(void *p)
{
    conv_context *c = p;
    if (!c->table->conv3x3) {
        conv3x3_backward_weights_unpacked(NULL, &c->shape, c->count, c->input,
                                          c->dy, c->dw, c->db);
        return;
    }
    conv3x3_backward_weights_with(c->table, &c->shape, c->count, c->input,
                                  c->dy, c->dw, c->db, c->scratch);
}

static conv_context conv_setup(const kernel_table *table,
                               const conv_shape *shape, size_t count,
                               random_generator *rng)
{
    conv_context c = {table, *shape, count, NULL, NULL, NULL,
                      NULL,  NULL,   NULL,  NULL, NULL, NULL};
    const size_t in_plane =
        (size_t)conv_padded_height(shape) * conv_padded_width(shape);
    const size_t out_plane =
        (size_t)conv_out_height(shape) * conv_out_width(shape);
    const size_t weights = (size_t)shape->out_channels * shape->in_channels * 9;
    c.input = random_floats(rng, count * shape->in_channels * in_plane);
    c.weights = random_floats(rng, weights);
    c.bias = random_floats(rng, (size_t)shape->out_channels);
    c.output = random_floats(rng, count * shape->out_channels * out_plane);
    c.dy = random_floats(rng, count * shape->out_channels * out_plane);
    c.dx = random_floats(rng, count * shape->in_channels *
                                  (size_t)shape->in_height * shape->in_width);
    c.dw = random_floats(rng, weights);
    c.db = random_floats(rng, (size_t)shape->out_channels);
    c.scratch = aligned_alloc(64, (conv3x3_scratch_floats(table, shape) + 16) /
                                      16 * 64);
    if (!c.scratch)
        abort();
    return c;
}

/* Runs c's calls with `table` from now on, its scratch grown to what that
 * table needs (the comparison tables may need more than c's own). */
static void conv_use_table(conv_context *c, const kernel_table *table)
{
    const size_t need = conv3x3_scratch_floats(table, &c->shape);
    if (need > conv3x3_scratch_floats(c->table, &c->shape)) {
        free(c->scratch);
        c->scratch = aligned_alloc(64, (need + 16) / 16 * 64);
        if (!c->scratch)
            abort();
    }
    c->table = table;
}

static void conv_teardown(conv_context *c)
{
    free(c->input);
    free(c->weights);
    free(c->bias);
    free(c->output);
    free(c->dy);
    free(c->dx);
    free(c->dw);
    free(c->db);
    free(c->scratch);
}

/* A first layer's weight gradient through its ReLU and pool: by
 * conv3x3_pool_backward_weights (from the pool's gradient) or unfused
 * (maxpool2x2_backward, then the convolution's weight gradient). */
typedef struct pool_weights_context {
    conv_context *conv; /* input, dy (the unfused gradient), dw, db */
    conv3x3_pool_backward_weights_kernel fused;
    float *pooled, *pooled_grad;
    uint8_t *argmax;
} pool_weights_context;

static void run_pool_weights_fused(void *p)
{
    pool_weights_context *c = p;
    c->fused(&c->conv->shape, c->conv->count, c->conv->input, c->pooled,
             c->pooled_grad, c->argmax, c->conv->dw, c->conv->db);
}

static void run_pool_weights_unfused(void *p)
{
    pool_weights_context *c = p;
    const conv_shape *s = &c->conv->shape;
    c->conv->table->maxpool2x2_backward(
        c->conv->count * (size_t)s->out_channels, conv_out_height(s),
        conv_out_width(s), c->pooled_grad, c->argmax, c->pooled, c->conv->dy);
    run_conv_backward_weights(c->conv);
}

static double conv_macs(const conv_shape *s)
{
    return (double)s->out_channels * s->in_channels * 9.0 * conv_out_height(s) *
           conv_out_width(s);
}

typedef struct pool_context {
    const kernel_table *table;
    size_t planes;
    int size;
    float *input, *output, *dy, *relu, *dx;
    uint8_t *argmax;
} pool_context;

static void run_pool_forward(void *p)
{
    pool_context *c = p;
    const int half = c->size / 2;
    c->table->maxpool2x2_forward(c->planes, c->size, c->size, c->input,
                                 c->output, (size_t)half * half, (size_t)half,
                                 c->argmax);
}
static void run_pool_backward(void *p)
{
    pool_context *c = p;
    c->table->maxpool2x2_backward(c->planes, c->size, c->size, c->dy, c->argmax,
                                  c->relu, c->dx);
}

typedef struct cosine_context {
    const kernel_table *table;
    size_t count, dims;
    float *a, *b, *grad, *cos;
    float sink;
} cosine_context;

static void run_cosine_similarity(void *p)
{
    cosine_context *c = p;
    c->table->cosine_similarity(c->count, c->dims, c->a, c->b, 0, c->cos);
}
static void run_cosine_loss(void *p)
{
    cosine_context *c = p;
    c->sink += c->table->cosine_loss(c->count, c->dims, c->a, c->b, 0, c->grad);
}

/* Layer `layer` of the seed network, from the description the network
 * itself runs. */
static const conv_shape *seed_shape(int layer)
{
    static conv_shape shapes[3];
    architecture_description seed;
    if (architecture_find(COSNET_ARCHITECTURE_SEED, &seed) != COSNET_OK)
        abort();
    for (int l = 0, conv = 0; l < seed.layer_count; l++)
        if (seed.layers[l].kind == LAYER_CONV3X3)
            shapes[conv++] = seed.layers[l].shape;
    return &shapes[layer];
}

/* Times body(context) if `label` is selected and prints one line: GFLOP/s
 * and % of `peak` when flops > 0, else GB/s of `bytes`. */
static void measure(const options *o, const char *variant, const char *label,
                    size_t count, bench_body body, void *context, double flops,
                    double bytes, double peak)
{
    if (!selected(o, label))
        return;
    double best;
    const double seconds =
        time_call(body, context, o->min_time, o->repetitions, &best);
    if (flops > 0.0) {
        const double gflops = flops / seconds * 1e-9;
        printf("%-7s %-36s %5zu %10.2f %8.2f %6.1f%% %6.1f%%\n", variant, label,
               count, seconds * 1e6, gflops, 100.0 * gflops / peak,
               100.0 * flops / best * 1e-9 / peak);
    } else {
        printf("%-7s %-36s %5zu %10.2f %8s %7s %7s  %.2f GB/s\n", variant,
               label, count, seconds * 1e6, "-", "-", "-",
               bytes / seconds * 1e-9);
    }
}

/* The seed network through the kernels alone: forward (conv, ReLU, pooling
 * straight into the next layer's padded buffer, cosine) and a training step
 * (forward, cosine loss, then every gradient the network needs). It is the
 * most the network code can reach, before its own glue. */
typedef struct network_context {
    const kernel_table *table;
    size_t count;
    float *x1, *y1, *x2, *y2, *x3, *y3, *pooled, *label, *cos;
    float *w1, *b1, *w2, *b2, *w3, *b3;
    float *d_pooled, *d_y3, *d_x3, *d_y2, *d_x2, *d_y1;
    float *dw1, *db1, *dw2, *db2, *dw3, *db3;
    uint8_t *a1, *a2, *a3;
    float sink;
} network_context;

static void run_network_forward(void *p)
{
    network_context *c = p;
    const kernel_table *t = c->table;
    conv3x3_forward_unpacked(t->conv3x3, seed_shape(0), c->count, c->x1, c->w1,
                             c->b1, 1, c->y1);
    /* Pool into the interior of conv2's 18 x 18 padded input. */
    t->maxpool2x2_forward(16 * c->count, 28, 28, c->y1, c->x2 + 2 * 18 + 2,
                          18 * 18, 18, c->a1);
    conv3x3_forward_unpacked(t->conv3x3, seed_shape(1), c->count, c->x2, c->w2,
                             c->b2, 1, c->y2);
    t->maxpool2x2_forward(8 * c->count, 16, 16, c->y2, c->x3 + 2 * 12 + 2,
                          12 * 12, 12, c->a2);
    conv3x3_forward_unpacked(t->conv3x3, seed_shape(2), c->count, c->x3, c->w3,
                             c->b3, 1, c->y3);
    t->maxpool2x2_forward(c->count, 10, 10, c->y3, c->pooled, 25, 5, c->a3);
}

static void run_network_predict(void *p)
{
    network_context *c = p;
    run_network_forward(c);
    c->table->cosine_similarity(c->count, 25, c->pooled, c->label, 0, c->cos);
}

static void run_network_train(void *p)
{
    network_context *c = p;
    const kernel_table *t = c->table;
    run_network_forward(c);
    c->sink +=
        t->cosine_loss(c->count, 25, c->pooled, c->label, 0, c->d_pooled);
    t->maxpool2x2_backward(c->count, 10, 10, c->d_pooled, c->a3, c->pooled,
                           c->d_y3);
    conv3x3_backward_weights_unpacked(t->conv3x3, seed_shape(2), c->count,
                                      c->x3, c->d_y3, c->dw3, c->db3);
    conv3x3_backward_input_unpacked(t->conv3x3, seed_shape(2), c->count, c->w3,
                                    c->d_y3, c->d_x3);
    /* (The network masks d_x3 by ReLU through the pooled values.) */
    t->maxpool2x2_backward(8 * c->count, 16, 16, c->d_x3, c->a2, NULL, c->d_y2);
    conv3x3_backward_weights_unpacked(t->conv3x3, seed_shape(1), c->count,
                                      c->x2, c->d_y2, c->dw2, c->db2);
    conv3x3_backward_input_unpacked(t->conv3x3, seed_shape(1), c->count, c->w2,
                                    c->d_y2, c->d_x2);
    t->maxpool2x2_backward(16 * c->count, 28, 28, c->d_x2, c->a1, NULL,
                           c->d_y1);
    conv3x3_backward_weights_unpacked(t->conv3x3, seed_shape(0), c->count,
                                      c->x1, c->d_y1, c->dw1, c->db1);
}

/* Multiply-adds of one image: forward 415,008 (docs/math.md); a training step
 * adds the weight gradients of all three layers (as many again) and the input
 * gradients of conv3 and conv2 (out x in x 9 x input height x width). */
#define SEED_FORWARD_MACS 415008.0
#define SEED_TRAIN_MACS                                                        \
    (2.0 * SEED_FORWARD_MACS + 1.0 * 8 * 9 * 8 * 8 + 8.0 * 16 * 9 * 14 * 14)

static void network_bench(const kernel_table *table, size_t count, double peak,
                          random_generator *rng, const options *o)
{
    network_context c = {.table = table, .count = count};
    float **buffers[] = {
        &c.x1,    &c.y1,       &c.x2,   &c.y2,   &c.x3,   &c.y3,   &c.pooled,
        &c.label, &c.cos,      &c.w1,   &c.b1,   &c.w2,   &c.b2,   &c.w3,
        &c.b3,    &c.d_pooled, &c.d_y3, &c.d_x3, &c.d_y2, &c.d_x2, &c.d_y1,
        &c.dw1,   &c.db1,      &c.dw2,  &c.db2,  &c.dw3,  &c.db3};
    const size_t sizes[] = {30 * 30 * count,
                            16 * 28 * 28 * count,
                            16 * 18 * 18 * count,
                            8 * 16 * 16 * count,
                            8 * 12 * 12 * count,
                            10 * 10 * count,
                            25 * count,
                            25,
                            count,
                            16 * 9,
                            16,
                            8 * 16 * 9,
                            8,
                            8 * 9,
                            1,
                            25 * count,
                            10 * 10 * count,
                            8 * 8 * 8 * count,
                            8 * 16 * 16 * count,
                            16 * 14 * 14 * count,
                            16 * 28 * 28 * count,
                            16 * 9,
                            16,
                            8 * 16 * 9,
                            8,
                            8 * 9,
                            1};
    const size_t n = sizeof sizes / sizeof sizes[0];
    for (size_t k = 0; k < n; k++)
        *buffers[k] = random_floats(rng, sizes[k]);
    /* The pads of the padded buffers are zeros, as the network keeps them. */
    memset(c.x2, 0, sizeof(float) * sizes[2]);
    memset(c.x3, 0, sizeof(float) * sizes[4]);
    c.a1 = calloc(count * 16 * 14 * 14, 1);
    c.a2 = calloc(count * 8 * 8 * 8, 1);
    c.a3 = calloc(count * 25, 1);
    if (!c.a1 || !c.a2 || !c.a3) {
        fprintf(stderr, "bench_kernels: out of memory\n");
        exit(1);
    }
    measure(o, table->name, "seed predict (kernels only)", count,
            run_network_predict, &c, 2.0 * SEED_FORWARD_MACS * (double)count,
            0.0, peak);
    measure(o, table->name, "seed train step (kernels only)", count,
            run_network_train, &c, 2.0 * SEED_TRAIN_MACS * (double)count, 0.0,
            peak);
    for (size_t k = 0; k < n; k++)
        free(*buffers[k]);
    free(c.a1);
    free(c.a2);
    free(c.a3);
}

/* The Winograd rule's evidence: the direct forward pass (the variant's
 * microkernels without their Winograd stages) and Winograd's, on a grid of
 * channel counts and sizes, both counted in direct-convolution flops. */
typedef struct rule_context {
    conv_context conv;
    conv3x3_microkernels direct;
    float *packed;
} rule_context;

static void run_rule_direct(void *p)
{
    rule_context *r = p;
    conv3x3_forward_unpacked(&r->direct, &r->conv.shape, r->conv.count,
                             r->conv.input, r->conv.weights, r->conv.bias, 1,
                             r->conv.output);
}
static void run_rule_winograd(void *p)
{
    rule_context *r = p;
    const winograd_microkernels *w = r->direct.winograd;
    winograd_pack(w, &r->conv.shape, r->conv.weights, 0, r->packed);
    winograd_forward(w, &r->conv.shape, r->conv.count, r->conv.input, r->packed,
                     r->conv.bias, 1, r->conv.output);
}

static void run_rule_winograd4(void *p)
{
    rule_context *r = p;
    const winograd4_microkernels *w = r->direct.winograd4;
    winograd4_pack(w, &r->conv.shape, r->conv.weights, 0, r->packed);
    winograd4_forward(w, &r->conv.shape, r->conv.count, r->conv.input,
                      r->packed, r->conv.bias, 1, r->conv.output);
}

static void rule_bench(const kernel_table *table, double peak, const options *o)
{
    if (!table->conv3x3 || !table->conv3x3->winograd)
        return;
    static const int channels[][2] = {{2, 2},   {4, 4},   {4, 8},  {8, 4},
                                      {8, 8},   {8, 16},  {16, 8}, {16, 16},
                                      {16, 32}, {32, 16}, {32, 32}};
    static const int sizes[] = {14, 28};
    random_generator rng;
    random_seed(&rng, 11);
    for (size_t k = 0; k < sizeof channels / sizeof channels[0]; k++)
        for (int z = 0; z < 2; z++) {
            const conv_shape s = {channels[k][0], channels[k][1], sizes[z],
                                  sizes[z], 1};
            const winograd_microkernels *w = table->conv3x3->winograd;
            if (!winograd_fits(w, &s))
                continue;
            rule_context r;
            r.conv = conv_setup(table, &s, o->train_batch, &rng);
            r.direct = *table->conv3x3;
            const winograd4_microkernels *w4 = table->conv3x3->winograd4;
            if (w4 && !winograd4_fits(w4, &s))
                w4 = NULL;
            const size_t f2_floats = winograd_packed_floats(w, &s);
            const size_t f4_floats = w4 ? winograd4_packed_floats(w4, &s) : 0;
            r.packed = malloc(sizeof(float) *
                              (f2_floats > f4_floats ? f2_floats : f4_floats));
            if (!r.packed)
                exit(1);
            const double flops = 2.0 * conv_macs(&s) * (double)r.conv.count;
            char label[64];
            snprintf(label, sizeof label, "rule %d->%d %dx%d direct",
                     s.in_channels, s.out_channels, s.in_height, s.in_width);
            r.direct.winograd = NULL;
            measure(o, table->name, label, r.conv.count, run_rule_direct, &r,
                    flops, 0.0, peak);
            r.direct.winograd = w;
            snprintf(label, sizeof label, "rule %d->%d %dx%d winograd",
                     s.in_channels, s.out_channels, s.in_height, s.in_width);
            measure(o, table->name, label, r.conv.count, run_rule_winograd, &r,
                    flops, 0.0, peak);
            if (w4) {
                r.direct.winograd4 = w4;
                snprintf(label, sizeof label, "rule %d->%d %dx%d winograd4",
                         s.in_channels, s.out_channels, s.in_height,
                         s.in_width);
                measure(o, table->name, label, r.conv.count, run_rule_winograd4,
                        &r, flops, 0.0, peak);
            }
            free(r.packed);
            conv_teardown(&r.conv);
        }
}

/* The weight-gradient rule's evidence: F(2x2) against F(4x4) on a grid
 * of the shapes F(2x2)'s weight rule takes (at least 8 channels a side),
 * outputs from one 4 x 4 tile to the AVX-512 stages' 16 x 16. */
static void weight_rule_bench(const kernel_table *table, double peak,
                              const options *o)
{
    if (!table->conv3x3 || !table->conv3x3->winograd4)
        return;
    static const int channels[][2] = {{8, 8},   {8, 16},  {16, 8},
                                      {16, 16}, {16, 32}, {32, 32}};
    static const int sizes[] = {4, 6, 8, 10, 12, 14, 16};
    kernel_table f2_table = *table;
    conv3x3_microkernels f2_conv = *table->conv3x3;
    f2_conv.winograd4 = NULL;
    f2_table.conv3x3 = &f2_conv;
    random_generator rng;
    random_seed(&rng, 12);
    for (size_t k = 0; k < sizeof channels / sizeof channels[0]; k++)
        for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
            const conv_shape s = {channels[k][0], channels[k][1], sizes[z],
                                  sizes[z], 1};
            if (!conv3x3_backward_weights_uses_winograd(table, &s))
                continue;
            conv_context c = conv_setup(&f2_table, &s, o->train_batch, &rng);
            const double flops = 2.0 * conv_macs(&s) * (double)c.count;
            char label[64];
            snprintf(label, sizeof label, "weight rule %d->%d %dx%d f2x2",
                     s.in_channels, s.out_channels, s.in_height, s.in_width);
            measure(o, table->name, label, c.count, run_conv_backward_weights,
                    &c, flops, 0.0, peak);
            conv_use_table(&c, table);
            snprintf(label, sizeof label, "weight rule %d->%d %dx%d %s",
                     s.in_channels, s.out_channels, s.in_height, s.in_width,
                     conv3x3_backward_weights_uses_winograd4(table, &s)
                         ? "f4x4"
                         : "f2x2 (rule)");
            measure(o, table->name, label, c.count, run_conv_backward_weights,
                    &c, flops, 0.0, peak);
            conv_teardown(&c);
        }
}

/* The "pack" lines: the variant's packing and the plain-C one, in one
 * table each (the plain-C line swaps only F(4x4)'s pack). */
static void pack_bench(const options *o, const kernel_table *table,
                       const conv_shape *s, const char *layer_name,
                       const float *weights, double peak)
{
    const size_t forward = conv3x3_packed_forward_floats(table, s),
                 backward = conv3x3_packed_backward_floats(table, s);
    pack_context c = {
        table, *s, weights,
        aligned_alloc(64, (forward * sizeof(float) + 63) / 64 * 64),
        aligned_alloc(64, (backward * sizeof(float) + 63) / 64 * 64)};
    if (!c.forward || !c.backward)
        exit(1);
    const double bytes = 4.0 * (double)(forward + backward);
    char label[64];
    snprintf(label, sizeof label, "%.47s pack", layer_name);
    measure(o, table->name, label, 1, run_pack, &c, 0.0, bytes, peak);
    kernel_table plain_table = *table;
    conv3x3_microkernels plain_conv = *table->conv3x3;
    winograd4_microkernels plain_w4 = *table->conv3x3->winograd4;
    plain_w4.pack = winograd4_pack_scalar;
    plain_conv.winograd4 = &plain_w4;
    plain_table.conv3x3 = &plain_conv;
    c.table = &plain_table;
    snprintf(label, sizeof label, "%.40s pack plain-C", layer_name);
    measure(o, table->name, label, 1, run_pack, &c, 0.0, bytes, peak);
    free(c.forward);
    free(c.backward);
}

static void variant_bench(const kernel_table *table, double peak,
                          const options *o)
{
    random_generator rng;
    random_seed(&rng, 7);
    /* Every convolution of the seed network and of the honest classifier,
     * from the descriptions the networks run. */
    const cosnet_architecture networks[2] = {COSNET_ARCHITECTURE_SEED,
                                             COSNET_ARCHITECTURE_CLASSIFIER};
    conv_shape shapes[8];
    char layer_names[8][48];
    int shape_count = 0;
    for (int n = 0; n < 2; n++) {
        architecture_description arch;
        if (architecture_find(networks[n], &arch) != COSNET_OK)
            abort();
        for (int l = 0, conv = 0; l < arch.layer_count && shape_count < 8; l++)
            if (arch.layers[l].kind == LAYER_CONV3X3) {
                const conv_shape *c = &arch.layers[l].shape;
                snprintf(layer_names[shape_count], sizeof layer_names[0],
                         "%s conv%d %d->%d %dx%d pad%d", arch.name, ++conv,
                         c->in_channels, c->out_channels, c->in_height,
                         c->in_width, c->pad);
                shapes[shape_count++] = *c;
            }
    }
    /* The deep classifier's third convolution (32 -> 32; its first two are
     * the classifier's). */
    architecture_description deep;
    if (architecture_find(COSNET_ARCHITECTURE_DEEP_CLASSIFIER, &deep) !=
        COSNET_OK)
        abort();
    for (int l = 0, conv = 0; l < deep.layer_count && shape_count < 8; l++)
        if (deep.layers[l].kind == LAYER_CONV3X3 && ++conv == 3) {
            const conv_shape *c = &deep.layers[l].shape;
            snprintf(layer_names[shape_count], sizeof layer_names[0],
                     "%s conv3 %d->%d %dx%d pad%d", deep.name, c->in_channels,
                     c->out_channels, c->in_height, c->in_width, c->pad);
            shapes[shape_count++] = *c;
        }
    const char *name = table->name;
    char label[64];
    /* The same table without Winograd: the "direct" weight-gradient lines,
     * for the comparison. */
    kernel_table direct_table = *table;
    conv3x3_microkernels direct_conv;
    if (table->conv3x3) {
        direct_conv = *table->conv3x3;
        direct_conv.winograd = NULL;
        direct_conv.winograd4 = NULL;
        direct_table.conv3x3 = &direct_conv;
    }
    /* The same table with F(2x2) where it would run F(4x4): the "f2x2"
     * lines, for the comparison. */
    kernel_table f2_table = *table;
    conv3x3_microkernels f2_conv;
    if (table->conv3x3 && table->conv3x3->winograd4) {
        f2_conv = *table->conv3x3;
        f2_conv.winograd4 = NULL;
        f2_table.conv3x3 = &f2_conv;
    }
    for (int layer = 0; layer < shape_count; layer++) {
        const conv_shape *s = &shapes[layer];
        const double flops = 2.0 * conv_macs(s);
        /* The input gradient computes out x in x 9 terms per input pixel. */
        const double input_flops = 2.0 * s->out_channels * s->in_channels *
                                   9.0 * s->in_height * s->in_width;
        conv_context c = conv_setup(table, s, o->batch, &rng);
        snprintf(label, sizeof label, "%.47s forward", layer_names[layer]);
        measure(o, name, label, c.count, run_conv_forward, &c,
                flops * (double)c.count, 0.0, peak);
        c.count = o->train_batch;
        snprintf(label, sizeof label, "%.47s forward", layer_names[layer]);
        if (o->train_batch != o->batch)
            measure(o, name, label, c.count, run_conv_forward, &c,
                    flops * (double)c.count, 0.0, peak);
        snprintf(label, sizeof label, "%.47s d-input", layer_names[layer]);
        measure(o, name, label, c.count, run_conv_backward_input, &c,
                input_flops * (double)c.count, 0.0, peak);
        if (conv3x3_forward_uses_winograd4(table, s) ||
            conv3x3_backward_input_uses_winograd4(table, s)) {
            conv_use_table(&c, &f2_table);
            c.count = o->batch;
            snprintf(label, sizeof label, "%.40s forward f2x2",
                     layer_names[layer]);
            measure(o, name, label, c.count, run_conv_forward, &c,
                    flops * (double)c.count, 0.0, peak);
            c.count = o->train_batch;
            snprintf(label, sizeof label, "%.40s d-input f2x2",
                     layer_names[layer]);
            measure(o, name, label, c.count, run_conv_backward_input, &c,
                    input_flops * (double)c.count, 0.0, peak);
            conv_use_table(&c, table);
        }
        snprintf(label, sizeof label, "%.47s d-weights", layer_names[layer]);
        measure(o, name, label, c.count, run_conv_backward_weights, &c,
                flops * (double)c.count, 0.0, peak);
        if (conv3x3_backward_weights_uses_winograd(table, s)) {
            conv_use_table(&c, &direct_table);
            snprintf(label, sizeof label, "%.40s d-weights direct",
                     layer_names[layer]);
            measure(o, name, label, c.count, run_conv_backward_weights, &c,
                    flops * (double)c.count, 0.0, peak);
            conv_use_table(&c, table);
        }
        if (conv3x3_backward_weights_uses_winograd4(table, s)) {
            conv_use_table(&c, &f2_table);
            snprintf(label, sizeof label, "%.40s d-weights f2x2",
                     layer_names[layer]);
            measure(o, name, label, c.count, run_conv_backward_weights, &c,
                    flops * (double)c.count, 0.0, peak);
            conv_use_table(&c, table);
        }
        if (layer == 0) {
            /* conv1 (the same shape in every network) in training: its
             * weight gradient from the pool's, with the ReLU mask of
             * pooled values of which a quarter are 0. */
            const size_t pooled = c.count * s->out_channels *
                                  (size_t)(conv_out_height(s) / 2) *
                                  (conv_out_width(s) / 2);
            /* A variant without the op (the network keeps the unfused
             * ones there): the plain-C op, for the comparison. */
            conv3x3_pool_backward_weights_kernel fused =
                table->conv3x3_pool_backward_weights;
            pool_weights_context p = {
                &c, fused ? fused : conv3x3_pool_backward_weights_scalar,
                random_floats(&rng, pooled), random_floats(&rng, pooled),
                malloc(pooled)};
            if (!p.argmax)
                exit(1);
            for (size_t k = 0; k < pooled; k++) {
                p.pooled[k] = p.pooled[k] < -0.5f ? 0.0f : p.pooled[k] + 1.0f;
                p.argmax[k] = (uint8_t)random_below(&rng, 4);
            }
            snprintf(label, sizeof label, "%.32s d-weights from pool%s",
                     layer_names[layer], fused ? "" : " plain-C");
            measure(o, name, label, c.count, run_pool_weights_fused, &p,
                    flops * (double)c.count, 0.0, peak);
            snprintf(label, sizeof label, "%.32s d-weights unfused",
                     layer_names[layer]);
            measure(o, name, label, c.count, run_pool_weights_unfused, &p,
                    flops * (double)c.count, 0.0, peak);
            free(p.pooled);
            free(p.pooled_grad);
            free(p.argmax);
        }
        if (conv3x3_forward_uses_winograd4(table, s))
            pack_bench(o, table, s, layer_names[layer], c.weights, peak);
        conv_teardown(&c);
    }
    static const int pool_planes[3] = {16, 8, 1}, pool_sizes[3] = {28, 16, 10};
    for (int k = 0; k < 3; k++) {
        pool_context c = {table,         (size_t)pool_planes[k] * o->batch,
                          pool_sizes[k], NULL,
                          NULL,          NULL,
                          NULL,          NULL,
                          NULL};
        const size_t in = c.planes * c.size * c.size, out = in / 4;
        c.input = random_floats(&rng, in);
        c.output = random_floats(&rng, out);
        c.dy = random_floats(&rng, out);
        c.relu = random_floats(&rng, out);
        c.dx = random_floats(&rng, in);
        c.argmax = calloc(out, 1);
        if (!c.argmax)
            exit(1);
        run_pool_forward(&c);
        snprintf(label, sizeof label, "pool %dx%dx%d forward", pool_planes[k],
                 pool_sizes[k], pool_sizes[k]);
        measure(o, name, label, o->batch, run_pool_forward, &c, 0.0,
                4.0 * (double)(in + out) + (double)out, peak);
        snprintf(label, sizeof label, "pool %dx%dx%d backward", pool_planes[k],
                 pool_sizes[k], pool_sizes[k]);
        measure(o, name, label, o->batch, run_pool_backward, &c, 0.0,
                4.0 * (double)(in + 2 * out) + (double)out, peak);
        free(c.input);
        free(c.output);
        free(c.dy);
        free(c.relu);
        free(c.dx);
        free(c.argmax);
    }
    const size_t cosine_counts[2] = {o->train_batch, o->batch};
    for (int k = 0; k < 2; k++) {
        if (k == 1 && o->batch == o->train_batch)
            break;
        cosine_context c = {table, cosine_counts[k], 25, NULL, NULL, NULL, NULL,
                            0.0f};
        c.a = random_floats(&rng, c.count * 25);
        c.b = random_floats(&rng, 25);
        c.grad = random_floats(&rng, c.count * 25);
        c.cos = random_floats(&rng, c.count);
        measure(o, name, "cosine similarity d=25", c.count,
                run_cosine_similarity, &c, 6.0 * 25 * (double)c.count, 0.0,
                peak);
        measure(o, name, "cosine loss+gradient d=25", c.count, run_cosine_loss,
                &c, 10.0 * 25 * (double)c.count, 0.0, peak);
        free(c.a);
        free(c.b);
        free(c.grad);
        free(c.cos);
    }
    network_bench(table, o->batch, peak, &rng, o);
    if (o->train_batch != o->batch)
        network_bench(table, o->train_batch, peak, &rng, o);
    network_bench(table, 1, peak, &rng, o);
    rule_bench(table, peak, o);
    weight_rule_bench(table, peak, o);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_kernels [--reps N] [--batch N] "
                    "[--train-batch N] [--variant NAME] [--only TEXT] "
                    "[--min-time S]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    options o = {15, 256, 20, NULL, NULL, 0.02};
    /* Options come in (name, value) pairs. */
    for (int i = 1; i < argc; i += 2) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!value)
            usage();
        if (strcmp(argv[i], "--reps") == 0)
            o.repetitions = atoi(value);
        else if (strcmp(argv[i], "--batch") == 0)
            o.batch = (size_t)atol(value);
        else if (strcmp(argv[i], "--train-batch") == 0)
            o.train_batch = (size_t)atol(value);
        else if (strcmp(argv[i], "--variant") == 0)
            o.variant = value;
        else if (strcmp(argv[i], "--only") == 0)
            o.only = value;
        else if (strcmp(argv[i], "--min-time") == 0)
            o.min_time = atof(value);
        else
            usage();
    }
    if (o.repetitions < 1 || o.repetitions > 64 || o.batch < 1 ||
        o.train_batch < 1 || !(o.min_time > 0.0))
        usage();

    printf("command:");
    for (int i = 0; i < argc; i++)
        printf(" %s", argv[i]);
    printf("\n");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    if (cores > 64)
        cores = 64;
    printf("online CPUs: %ld; medians of %d repetitions of >= %.3f s\n\n",
           cores, o.repetitions, o.min_time);

    const char *names[8];
    double peaks[8];
    int variants = 0;
    printf("fp32 FMA peak, measured now (16 independent chains; 2 flops per "
           "lane per multiply-add):\n");
    printf("%-7s %17s %18s %18s\n", "variant", "1 thread (CPU t)",
           "all cores (CPU t)", "all cores (wall)");
    for (int i = 0; kernel_variant_names[i]; i++) {
        const char *name = kernel_variant_names[i];
        if (!kernels_by_name(name) || !peak_of(name))
            continue;
        if (o.variant && strcmp(o.variant, name) != 0)
            continue;
        double wall_one, wall_all;
        const double one = measure_peak(peak_of(name), 1, &o, &wall_one);
        const double all =
            measure_peak(peak_of(name), (int)cores, &o, &wall_all);
        printf("%-7s %17.2f %18.2f %18.2f  GFLOP/s, %ld threads\n", name, one,
               all, wall_all, cores);
        names[variants] = name;
        peaks[variants++] = one;
    }
    if (variants == 0) {
        fprintf(stderr, "bench_kernels: no such variant on this CPU\n");
        return 1;
    }
    printf(
        "\nkernels, single thread; us/call, GFLOP/s and %% of that variant's "
        "1-thread peak\nfrom the median repetition, 'best' from the "
        "fastest:\n");
    printf("%-7s %-36s %5s %10s %8s %7s %7s\n", "variant", "kernel", "batch",
           "us/call", "GFLOP/s", "% peak", "best");
    for (int v = 0; v < variants; v++) {
        variant_bench(kernels_by_name(names[v]), peaks[v], &o);
        printf("\n");
    }
    return 0;
}
