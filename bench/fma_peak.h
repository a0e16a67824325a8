/* The machine's fp32 multiply-add peak, measured per instruction set.
 *
 * Each fma_peak_<isa>_run() executes `rounds` rounds of independent
 * multiply-adds (enough independent chains to hide the FMA latency behind its
 * throughput) and returns the number of floating-point operations done, two
 * per lane per multiply-add. Each lives in its own file compiled with that
 * ISA's flags; call only the ones the CPU runs. `sink` receives a value that
 * depends on every chain so the compiler cannot drop the work. */
#ifndef COSNET_BENCH_FMA_PEAK_H
#define COSNET_BENCH_FMA_PEAK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double fma_peak_scalar_run(uint64_t rounds, float *sink);
double fma_peak_avx2_run(uint64_t rounds, float *sink);
double fma_peak_avx512_run(uint64_t rounds, float *sink);

typedef double (*peak_function)(uint64_t rounds, float *sink);

/* Returns one core's measured GFLOP/s, or exits with a message when no
 * core could reach it: 2 flops x 16 lanes x 2 pipes x 6 GHz is under 400,
 * so 10,000 or more means the compiler removed the multiply-adds (clang
 * once folded the vector loops into a constant). */
static inline double fma_peak_checked(double gflops_per_core)
{
    if (!(gflops_per_core < 10000.0)) {
        fprintf(stderr,
                "peak: %g GFLOP/s per core is impossible: the compiler "
                "removed the multiply-adds of the peak loop\n",
                gflops_per_core);
        exit(1);
    }
    return gflops_per_core;
}

/* The run of the kernel variant named `variant`, NULL if there is none. */
static inline peak_function peak_of(const char *variant)
{
    static const struct {
        const char *name;
        peak_function run;
    } runs[] = {
        {"scalar", fma_peak_scalar_run},
#if defined(__x86_64__)
        {"avx2", fma_peak_avx2_run},
        {"avx512", fma_peak_avx512_run},
#endif
    };
    for (size_t k = 0; k < sizeof runs / sizeof *runs; k++)
        if (strcmp(variant, runs[k].name) == 0)
            return runs[k].run;
    return NULL;
}

#endif
