/* Scalar fp32 peak: independent multiply-then-add chains on single floats.
 * Compiled with no ISA flags, so it is the baseline of the "scalar" kernels.
 * On x86-64 the scalar SSE intrinsics keep the compiler from packing the
 * chains into vectors (which would measure something else). */
#include "fma_peak.h"

/* 12 chains: enough to keep two multipliers and two adders busy through
 * their latencies, and with the two constants within the 16 xmm registers. */
#define CHAINS 12

#if defined(__x86_64__)
#include <immintrin.h>
double fma_peak_scalar_run(uint64_t rounds, float *sink)
{
    __m128 acc[CHAINS];
    const __m128 factor = _mm_set_ss(0.9999999f), term = _mm_set_ss(1e-7f);
    for (int c = 0; c < CHAINS; c++)
        acc[c] = _mm_set_ss(1.0f + (float)c * 1e-3f);
    for (uint64_t r = 0; r < rounds; r++) {
#pragma GCC unroll 12
        for (int c = 0; c < CHAINS; c++)
            acc[c] = _mm_add_ss(_mm_mul_ss(acc[c], factor), term);
    }
    __m128 total = acc[0];
    for (int c = 1; c < CHAINS; c++)
        total = _mm_add_ss(total, acc[c]);
    *sink = _mm_cvtss_f32(total);
    return 2.0 * CHAINS * (double)rounds;
}
#else
double fma_peak_scalar_run(uint64_t rounds, float *sink)
{
    volatile float factor_source = 0.9999999f, term_source = 1e-7f;
    const float factor = factor_source, term = term_source;
    float acc[CHAINS];
    for (int c = 0; c < CHAINS; c++)
        acc[c] = 1.0f + (float)c * 1e-3f;
    for (uint64_t r = 0; r < rounds; r++)
        for (int c = 0; c < CHAINS; c++)
            acc[c] = acc[c] * factor + term;
    float total = 0.0f;
    for (int c = 0; c < CHAINS; c++)
        total += acc[c];
    *sink = total;
    return 2.0 * CHAINS * (double)rounds;
}
#endif
