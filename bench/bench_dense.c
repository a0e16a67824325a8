/* Dense-layer kernel benchmark: the machine's fp32 FMA peak per variant,
 * measured in this run, then every dense kernel variant on the dense heads
 * of issue 8 (flatten 64x7x7 = 3136 -> 128 -> 25 and 1568 -> 256 -> 25), as
 * GFLOP/s and as a fraction of that variant's single-thread peak.
 *
 *   bench_dense [--reps N] [--batches N,N,...] [--variant NAME]
 *               [--only TEXT] [--min-time SECONDS]
 *
 * --batches (default 64,16,4): the batch sizes (64 and 16 for training, 4
 * for an inference chunk); --only keeps the lines whose label contains TEXT.
 *
 * Each figure is the median of --reps repetitions (default 9); a repetition
 * runs the kernel often enough to last --min-time (default 0.05 s). Times
 * are the running thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so time the
 * thread spends descheduled on a shared machine does not count; 'best' is
 * the fastest repetition. Each kernel call reuses the same buffers, so the
 * weights stay in cache between calls as they do in training loops.
 * Flops: 2 per multiply-add; each of forward, input gradient and weight
 * gradient does count x in x out multiply-adds (the bias and ReLU work is
 * not counted). "d-weights summed" is the weight gradient as the trainer
 * takes it for a batch (dense_backward_weights_summed: 8 pieces, chunks
 * of 5 images; batches up to 64). ReLU backward is reported in GB/s of its
 * reads and writes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/rng.h"
#include "fma_peak.h"
#include "kernels/dense.h"
#include "kernels/kernels.h"

#define BENCH_PROGRAM "bench_dense"
#include "bench_timing.h"

typedef struct options {
    int repetitions;
    size_t batches[8];
    int batch_count;
    const char *variant, *only;
    double min_time;
} options;

/* ---- FMA peak ---------------------------------------------------------- */

/* Single-thread GFLOP/s: the median of the repetitions, each calibrated to
 * last about 4 x min_time. */
static double measure_peak(peak_function run, const options *o)
{
    uint64_t rounds = 1000;
    float sink;
    for (;;) {
        const double start = cpu_seconds();
        run(rounds, &sink);
        if (cpu_seconds() - start > o->min_time * 4 || rounds > (1ull << 40))
            break;
        rounds *= 2;
    }
    double samples[64];
    for (int r = 0; r < o->repetitions; r++) {
        const double start = cpu_seconds();
        const double flops = run(rounds, &sink);
        samples[r] = flops / (cpu_seconds() - start) * 1e-9;
    }
    if (!(sink > 0.0f))
        fprintf(stderr, "peak: unexpected chain value %g\n", sink);
    return fma_peak_checked(median(samples, o->repetitions));
}

/* ---- timing kernels ---------------------------------------------------- */

typedef struct dense_context {
    const dense_kernels *kernels;
    size_t count, in, out;
    float *x, *w, *b, *y, *dy, *dx, *dw, *db;
    dense_summation summation; /* the trainer's: 8 pieces, chunks of 5 */
} dense_context;

static void run_forward(void *context)
{
    const dense_context *c = context;
    c->kernels->forward(c->count, c->in, c->out, c->x, c->w, c->b, 1, c->y);
}
static void run_backward_input(void *context)
{
    const dense_context *c = context;
    c->kernels->backward_input(c->count, c->in, c->out, c->w, c->dy, c->dx);
}
static void run_backward_weights(void *context)
{
    const dense_context *c = context;
    c->kernels->backward_weights(c->count, c->in, c->out, c->x, c->dy, c->dw,
                                 c->db);
}
static void run_backward_weights_summed(void *context)
{
    const dense_context *c = context;
    c->kernels->backward_weights_summed(&c->summation, 0, 0, c->out, c->in,
                                        c->out, c->x, c->dy, c->dw, c->db);
}
static void run_relu_backward(void *context)
{
    const dense_context *c = context;
    /* Masks the input-sized gradient by the input (as for the flatten
     * layer's ReLU); y >= 0 there, so repeated calls stay comparable. */
    c->kernels->relu_backward(c->count * c->in, c->x, c->dx);
}

static void measure(const options *o, const char *label, bench_body body,
                    dense_context *c, double flops, double bytes, double peak)
{
    if (o->only && !strstr(label, o->only))
        return;
    double best;
    const double seconds =
        time_call(body, c, o->min_time, o->repetitions, &best);
    if (flops > 0.0) {
        const double gflops = flops / seconds * 1e-9;
        printf("%-7s %-28s %5zu %10.2f %8.2f %6.1f%% %6.1f%%\n",
               c->kernels->name, label, c->count, seconds * 1e6, gflops,
               100.0 * gflops / peak, 100.0 * flops / best * 1e-9 / peak);
    } else {
        printf("%-7s %-28s %5zu %10.2f %8s %7s %7s  %.2f GB/s\n",
               c->kernels->name, label, c->count, seconds * 1e6, "-", "-", "-",
               bytes / seconds * 1e-9);
    }
}

static void layer_bench(const dense_kernels *kernels, size_t count, size_t in,
                        size_t out, double peak, random_generator *rng,
                        const options *o)
{
    dense_context c = {kernels, count, in,   out,  NULL, NULL,           NULL,
                       NULL,    NULL,  NULL, NULL, NULL, {0, NULL, NULL}};
    /* The trainer's grouping of a batch (lib/train/trainer.c): 8 pieces
     * of count / 8 images (the first ones shorter), each cut into chunks
     * of 5 (the deep classifier's). */
    enum { PIECES = 8, CHUNK = 5 };
    size_t piece_segments[PIECES], segment_images[64 / CHUNK + PIECES + 1];
    size_t segments = 0;
    for (size_t p = 0; p < PIECES; p++) {
        const size_t n = (p + 1) * count / PIECES - p * count / PIECES;
        piece_segments[p] = 0;
        for (size_t done = 0;
             done < n &&
             segments < sizeof segment_images / sizeof segment_images[0];
             done += CHUNK) {
            segment_images[segments++] = n - done < CHUNK ? n - done : CHUNK;
            piece_segments[p]++;
        }
    }
    c.summation = (dense_summation){PIECES, piece_segments, segment_images};
    c.x = random_floats(rng, count * in);
    c.w = random_floats(rng, out * in);
    c.b = random_floats(rng, out);
    c.y = random_floats(rng, count * out);
    c.dy = random_floats(rng, count * out);
    c.dx = random_floats(rng, count * in);
    c.dw = random_floats(rng, out * in);
    c.db = random_floats(rng, out);
    const double flops = 2.0 * (double)count * (double)in * (double)out;
    char label[64];
    snprintf(label, sizeof label, "%zu->%zu forward+relu", in, out);
    measure(o, label, run_forward, &c, flops, 0.0, peak);
    snprintf(label, sizeof label, "%zu->%zu d-input", in, out);
    measure(o, label, run_backward_input, &c, flops, 0.0, peak);
    snprintf(label, sizeof label, "%zu->%zu d-weights+bias", in, out);
    measure(o, label, run_backward_weights, &c, flops, 0.0, peak);
    if (count <= 64) { /* the segment list's room */
        snprintf(label, sizeof label, "%zu->%zu d-weights summed", in, out);
        measure(o, label, run_backward_weights_summed, &c, flops, 0.0, peak);
    }
    snprintf(label, sizeof label, "relu backward %zu", in);
    measure(o, label, run_relu_backward, &c, 0.0,
            3.0 * sizeof(float) * (double)count * (double)in, peak);
    free(c.x);
    free(c.w);
    free(c.b);
    free(c.y);
    free(c.dy);
    free(c.dx);
    free(c.dw);
    free(c.db);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_dense [--reps N] [--batches N,N,...] "
                    "[--variant NAME] [--only TEXT] [--min-time S]\n");
    exit(2);
}

static int parse_batches(const char *text, options *o)
{
    o->batch_count = 0;
    while (*text) {
        char *end;
        const long value = strtol(text, &end, 10);
        if (end == text || value < 1 || o->batch_count == 8)
            return 0;
        o->batches[o->batch_count++] = (size_t)value;
        text = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return 0;
    }
    return o->batch_count > 0;
}

int main(int argc, char **argv)
{
    options o = {9, {64, 16, 4}, 3, NULL, NULL, 0.05};
    for (int i = 1; i < argc; i += 2) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!value)
            usage();
        if (strcmp(argv[i], "--reps") == 0)
            o.repetitions = atoi(value);
        else if (strcmp(argv[i], "--batches") == 0) {
            if (!parse_batches(value, &o))
                usage();
        } else if (strcmp(argv[i], "--variant") == 0)
            o.variant = value;
        else if (strcmp(argv[i], "--only") == 0)
            o.only = value;
        else if (strcmp(argv[i], "--min-time") == 0)
            o.min_time = atof(value);
        else
            usage();
    }
    if (o.repetitions < 1 || o.repetitions > 64 || !(o.min_time > 0.0))
        usage();

    printf("command:");
    for (int i = 0; i < argc; i++)
        printf(" %s", argv[i]);
    printf("\nmedians of %d repetitions of >= %.3f s (thread CPU time)\n\n",
           o.repetitions, o.min_time);

    static const size_t layers[4][2] = {
        {3136, 128}, {128, 25}, {1568, 256}, {256, 25}};
    int found = 0;
    for (int v = 0; kernel_variant_names[v]; v++) {
        const char *name = kernel_variant_names[v];
        const dense_kernels *kernels = dense_kernels_compiled(name);
        if (!kernels || !kernels_by_name(name) ||
            (o.variant && strcmp(o.variant, name) != 0))
            continue;
        /* NEON has no peak program yet: its fraction is left out. */
        const peak_function peak_run = peak_of(name);
        const double peak = peak_run ? measure_peak(peak_run, &o) : 0.0;
        printf("%s: fp32 FMA peak %.2f GFLOP/s, 1 thread, measured now\n", name,
               peak);
        printf("%-7s %-28s %5s %10s %8s %7s %7s\n", "variant", "kernel",
               "batch", "us/call", "GFLOP/s", "% peak", "best");
        random_generator rng;
        random_seed(&rng, 11);
        for (int b = 0; b < o.batch_count; b++)
            for (int l = 0; l < 4; l++)
                layer_bench(kernels, o.batches[b], layers[l][0], layers[l][1],
                            peak, &rng, &o);
        printf("\n");
        found = 1;
    }
    if (!found) {
        fprintf(stderr, "bench_dense: no such variant on this CPU\n");
        return 1;
    }
    return 0;
}
