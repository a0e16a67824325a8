/* Network benchmark: the seed network's forward pass (prediction) and
 * training step, per kernel variant, on one core, against that variant's
 * fp32 FMA peak measured in the same run.
 *
 *   bench_network [--variant NAME] [--images N] [--train-images N]
 *                 [--batch N] [--reps N]
 *
 * Forward: --images images (default 10,000) through network_forward, the
 * code behind cosnet_model_predict, with the variant's table passed in.
 * Training: epochs over --train-images images (default 2,000) in batches of
 * --batch (default 20): loss + gradient (network_loss_gradient) and one
 * AdamW step per batch, the work of cosnet_train_batch without its checks.
 * The public calls (cosnet_model_predict, cosnet_train_epoch, and
 * cosnet_train_batch once per batch) are also timed for the active
 * variant, to show what the checks, copies and buffers cost.
 *
 * Flops: a forward pass is 415,008 multiply-adds per image (docs/math.md), 2
 * flops each. A training image-step does the forward, the weight gradient of
 * all three convolutions (415,008 multiply-adds) and the input gradient of the
 * second and third (294,912 + 7,200): 1,132,128 multiply-adds, 2.73 times
 * the forward (docs/math.md rounds this to 3; the figures here use the exact
 * count). Times are the median of --reps (default 5) runs, in the thread's CPU
 * time (CLOCK_THREAD_CPUTIME_ID) so that time-sharing with other processes does
 * not count; wall-clock medians are printed too. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/rng.h"
#include "fma_peak.h"
#include "kernels/conv_driver.h"
#include "kernels/kernels.h"
#include "network/architecture.h"
#include "network/passes.h"
#include "optimizer/adamw_internal.h"

#define FORWARD_MACS 415008.0
#define TRAINING_MACS (415008.0 + 415008.0 + 294912.0 + 7200.0)

typedef struct options {
    const char *variant; /* NULL: all the CPU runs */
    size_t images, train_images, batch;
    int repetitions;
} options;

typedef struct timing {
    double cpu, wall; /* medians, seconds */
} timing;

static double clock_seconds(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *values, int n)
{
    qsort(values, (size_t)n, sizeof(double), compare_doubles);
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

typedef void (*body)(void *context);

/* Runs body once to warm up, then `repetitions` timed times. */
static timing time_body(body run, void *context, int repetitions)
{
    double cpu[64], wall[64];
    run(context);
    for (int r = 0; r < repetitions; r++) {
        const double cpu_start = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
        const double wall_start = clock_seconds(CLOCK_MONOTONIC);
        run(context);
        cpu[r] = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
        wall[r] = clock_seconds(CLOCK_MONOTONIC) - wall_start;
    }
    return (timing){median(cpu, repetitions), median(wall, repetitions)};
}

static void die(const char *what)
{
    fprintf(stderr, "bench_network: %s\n", what);
    exit(1);
}

static void *checked_malloc(size_t bytes)
{
    void *p = malloc(bytes);
    if (!p)
        die("out of memory");
    return p;
}

/* ---- FMA peak (single core) --------------------------------------------- */

/* GFLOP/s of one core: rounds calibrated to ~0.2 s, median of 5. */
static double measure_peak(peak_function run)
{
    uint64_t rounds = 1000;
    float sink = 0;
    for (;;) {
        const double start = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
        run(rounds, &sink);
        if (clock_seconds(CLOCK_THREAD_CPUTIME_ID) - start > 0.2 ||
            rounds > (1ull << 40))
            break;
        rounds *= 2;
    }
    double samples[5];
    for (int r = 0; r < 5; r++) {
        const double start = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
        const double flops = run(rounds, &sink);
        samples[r] =
            flops / (clock_seconds(CLOCK_THREAD_CPUTIME_ID) - start) * 1e-9;
    }
    if (!(sink > 0.0f))
        fprintf(stderr, "peak: unexpected chain value %g\n", sink);
    return fma_peak_checked(median(samples, 5));
}

/* ---- Workloads ---------------------------------------------------------- */

typedef struct forward_context {
    const kernel_table *kernels;
    network_workspace *workspace;
    const float *parameters, *images;
    size_t count;
    float *outputs;
} forward_context;

static void run_forward(void *p)
{
    forward_context *c = p;
    network_forward(c->workspace, c->parameters, c->images, c->count,
                    c->outputs);
}

typedef struct training_context {
    const kernel_table *kernels;
    network_workspace *workspace;
    cosnet_optimizer *optimizer;
    float *parameters, *gradient;
    const float *images, *target;
    size_t count, batch;
    double loss_sum;
} training_context;

/* One epoch: last slice first, as cosnet_train_epoch. */
static void run_training(void *p)
{
    training_context *c = p;
    const size_t batches = c->count / c->batch;
    for (size_t b = 0; b < batches; b++) {
        const size_t first = (batches - 1 - b) * c->batch;
        c->loss_sum += network_loss_gradient(c->workspace, c->parameters,
                                             c->images + first * 784, c->batch,
                                             c->target, 0, c->gradient, NULL);
        adamw_step(c->optimizer, c->parameters, c->gradient);
    }
}

typedef struct public_context {
    cosnet_model *model;
    cosnet_optimizer *optimizer;
    const float *images, *target;
    size_t count, batch;
    float *outputs;
} public_context;

static void run_public_predict(void *p)
{
    public_context *c = p;
    if (cosnet_model_predict(c->model, c->images, c->count, c->outputs) !=
        COSNET_OK)
        die(cosnet_last_error());
}

static void run_public_epoch(void *p)
{
    public_context *c = p;
    if (cosnet_train_epoch(c->model, c->optimizer, c->images, c->count,
                           c->batch, c->target, 0, 1, NULL, NULL,
                           NULL) != COSNET_OK)
        die(cosnet_last_error());
}

/* The same epoch as one cosnet_train_batch call per batch: what a caller
 * with its own loop pays per call. */
static void run_public_batches(void *p)
{
    public_context *c = p;
    const size_t batches = c->count / c->batch;
    for (size_t b = 0; b < batches; b++) {
        const size_t first = (batches - 1 - b) * c->batch;
        if (cosnet_train_batch(c->model, c->optimizer, c->images + first * 784,
                               c->batch, c->target, 0, NULL) != COSNET_OK)
            die(cosnet_last_error());
    }
}

static void print_row(const char *variant, const char *what, size_t items,
                      const char *unit, timing t, double macs_per_item,
                      double peak)
{
    const double rate = (double)items / t.cpu;
    const double gflops = 2.0 * macs_per_item * rate * 1e-9;
    printf("%-7s %-26s %8.3f s %8.3f s %10.0f %-12s %7.2f %6.1f%%\n", variant,
           what, t.cpu, t.wall, rate, unit, gflops, 100.0 * gflops / peak);
}

static void bench_variant(const kernel_table *kernels, const options *o,
                          const float *parameters, const float *images,
                          const float *target)
{
    const double peak = measure_peak(peak_of(kernels->name));
    printf("%-7s single-core fp32 FMA peak %.1f GFLOP/s\n", kernels->name,
           peak);
    architecture_description seed;
    if (architecture_find(COSNET_ARCHITECTURE_SEED, &seed) != COSNET_OK)
        die(cosnet_last_error());
    const architecture_description *arch = &seed;

    forward_context f = {kernels, NULL, parameters, images, o->images, NULL};
    f.outputs = checked_malloc(sizeof(float) * o->images * 25);
    if (network_workspace_create(arch, kernels, 0, &f.workspace) != COSNET_OK)
        die(cosnet_last_error());
    print_row(kernels->name, "forward", o->images, "images/s",
              time_body(run_forward, &f, o->repetitions), FORWARD_MACS, peak);
    network_workspace_free(f.workspace);
    free(f.outputs);

    training_context t = {.kernels = kernels,
                          .images = images,
                          .target = target,
                          .count = o->train_images,
                          .batch = o->batch};
    t.parameters = checked_malloc(sizeof(float) * arch->parameter_count);
    t.gradient = checked_malloc(sizeof(float) * arch->parameter_count);
    memcpy(t.parameters, parameters, sizeof(float) * arch->parameter_count);
    cosnet_model *model = NULL;
    if (cosnet_model_create(COSNET_ARCHITECTURE_SEED, 1, &model) != COSNET_OK ||
        cosnet_optimizer_create(model, &t.optimizer) != COSNET_OK ||
        network_workspace_create(arch, kernels, 1, &t.workspace) != COSNET_OK)
        die(cosnet_last_error());
    char label[64];
    snprintf(label, sizeof label, "training, batch %zu", o->batch);
    print_row(kernels->name, label, o->train_images, "image-steps/s",
              time_body(run_training, &t, o->repetitions), TRAINING_MACS, peak);
    network_workspace_free(t.workspace);
    cosnet_optimizer_free(t.optimizer);
    cosnet_model_free(model);
    free(t.parameters);
    free(t.gradient);

    /* The public calls use the active table: time them for it only. */
    const kernel_table *active = NULL;
    if (kernels_active(&active) != COSNET_OK || active != kernels)
        return;
    public_context c = {.images = images,
                        .target = target,
                        .count = o->images,
                        .batch = o->batch};
    c.outputs = checked_malloc(sizeof(float) * o->images * 25);
    if (cosnet_model_create(COSNET_ARCHITECTURE_SEED, 1, &c.model) !=
            COSNET_OK ||
        cosnet_model_set_parameters(c.model, parameters,
                                    arch->parameter_count) != COSNET_OK ||
        cosnet_optimizer_create(c.model, &c.optimizer) != COSNET_OK)
        die(cosnet_last_error());
    print_row(kernels->name, "cosnet_model_predict", o->images, "images/s",
              time_body(run_public_predict, &c, o->repetitions), FORWARD_MACS,
              peak);
    c.count = o->train_images;
    snprintf(label, sizeof label, "cosnet_train_epoch, b %zu", o->batch);
    print_row(kernels->name, label, o->train_images, "image-steps/s",
              time_body(run_public_epoch, &c, o->repetitions), TRAINING_MACS,
              peak);
    snprintf(label, sizeof label, "cosnet_train_batch, b %zu", o->batch);
    print_row(kernels->name, label, o->train_images, "image-steps/s",
              time_body(run_public_batches, &c, o->repetitions), TRAINING_MACS,
              peak);
    cosnet_optimizer_free(c.optimizer);
    cosnet_model_free(c.model);
    free(c.outputs);
}

static size_t parse_size(const char *text, const char *flag)
{
    char *end;
    unsigned long long value = strtoull(text, &end, 10);
    if (*end || value == 0)
        die(flag);
    return (size_t)value;
}

int main(int argc, char **argv)
{
    options o = {NULL, 10000, 2000, 20, 5};
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--variant") == 0)
            o.variant = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--images") == 0)
            o.images = parse_size(argv[++i], "bad --images");
        else if (i + 1 < argc && strcmp(argv[i], "--train-images") == 0)
            o.train_images = parse_size(argv[++i], "bad --train-images");
        else if (i + 1 < argc && strcmp(argv[i], "--batch") == 0)
            o.batch = parse_size(argv[++i], "bad --batch");
        else if (i + 1 < argc && strcmp(argv[i], "--reps") == 0)
            o.repetitions = (int)parse_size(argv[++i], "bad --reps");
        else
            die("usage: bench_network [--variant NAME] [--images N] "
                "[--train-images N] [--batch N] [--reps N]");
    }
    if (o.repetitions > 64)
        o.repetitions = 64;
    if (o.train_images % o.batch != 0)
        die("--train-images must be a multiple of --batch");
    const char *active = "none";
    if (cosnet_isa(&active) != COSNET_OK)
        die(cosnet_last_error());

    const size_t image_count =
        o.images > o.train_images ? o.images : o.train_images;
    float *images = checked_malloc(sizeof(float) * image_count * 784);
    random_generator g;
    random_seed(&g, 2024);
    for (size_t i = 0; i < image_count * 784; i++)
        images[i] = (float)random_uniform(&g);
    float target[25];
    for (int d = 0; d < 25; d++)
        target[d] = 0.2f;
    cosnet_model *model = NULL;
    if (cosnet_model_create(COSNET_ARCHITECTURE_SEED, 7, &model) != COSNET_OK)
        die(cosnet_last_error());
    float parameters[1393];
    if (cosnet_model_get_parameters(model, parameters, 1393) != COSNET_OK)
        die(cosnet_last_error());
    cosnet_model_free(model);

    architecture_description seed;
    if (architecture_find(COSNET_ARCHITECTURE_SEED, &seed) != COSNET_OK)
        die(cosnet_last_error());
    printf("seed network, one core; forward %zu images, training %zu images "
           "in batches of %zu; active variant %s; chunks of %zu images\n",
           o.images, o.train_images, o.batch, active, seed.chunk);
    printf("%-7s %-26s %10s %10s %10s %-12s %7s %7s\n", "variant", "work",
           "cpu", "wall", "rate", "", "GFLOP/s", "peak");
    int ran = 0;
    for (int i = 0; kernel_variant_names[i]; i++) {
        const char *name = kernel_variant_names[i];
        if (o.variant && strcmp(o.variant, name) != 0)
            continue;
        const kernel_table *kernels = kernels_by_name(name);
        if (!kernels || !peak_of(name)) {
            printf("%-7s not run by this CPU\n", name);
            continue;
        }
        bench_variant(kernels, &o, parameters, images, target);
        ran++;
    }
    free(images);
    if (!ran)
        die("no variant ran");
    return 0;
}
