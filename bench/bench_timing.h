/* What the kernel benchmarks (bench_kernels.c, bench_dense.c) share: the
 * thread's CPU clock, medians, the calibrated timing loop and random
 * inputs. */
#ifndef COSNET_BENCH_BENCH_TIMING_H
#define COSNET_BENCH_BENCH_TIMING_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/rng.h"

static inline double cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static inline int compare_doubles(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts `values` and returns their median. */
static inline double median(double *values, int n)
{
    qsort(values, (size_t)n, sizeof(double), compare_doubles);
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

typedef void (*bench_body)(void *context);

/* Median seconds per call of body(context) over `repetitions` (at most 64)
 * runs of as many calls as take min_time; *best gets the fastest
 * repetition (on a shared machine, the least disturbed one). */
static inline double time_call(bench_body body, void *context, double min_time,
                               int repetitions, double *best)
{
    body(context); /* warm caches and the scratch paths */
    int calls = 1;
    for (;;) {
        const double start = cpu_seconds();
        for (int c = 0; c < calls; c++)
            body(context);
        if (cpu_seconds() - start >= min_time || calls >= (1 << 24))
            break;
        calls *= 2;
    }
    double samples[64];
    for (int r = 0; r < repetitions; r++) {
        const double start = cpu_seconds();
        for (int c = 0; c < calls; c++)
            body(context);
        samples[r] = (cpu_seconds() - start) / calls;
    }
    const double middle = median(samples, repetitions);
    *best = samples[0]; /* sorted by median() */
    return middle;
}

/* n values uniform in [-1, 1); exits naming BENCH_PROGRAM (defined by
 * the including file) when out of memory. */
static inline float *random_floats(random_generator *rng, size_t n)
{
    float *x = malloc(sizeof(float) * (n ? n : 1));
    if (!x) {
        fprintf(stderr, BENCH_PROGRAM ": out of memory (%zu floats)\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(2.0 * random_uniform(rng) - 1.0);
    return x;
}

#endif
