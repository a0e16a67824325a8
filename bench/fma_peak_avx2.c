/* avx2 fp32 peak: CHAINS independent vector FMA chains. CHAINS must cover
 * FMA latency x FMA issue rate (4 cycles x 2 per cycle on current cores);
 * 12 covers that and, with the two constants, fits the 16 ymm registers
 * (16 chains would spill). The chains converge to 1.0, never denormal. */
#include <immintrin.h>

#include "fma_peak.h"

#define CHAINS 12
#define LANES 8

double fma_peak_avx2_run(uint64_t rounds, float *sink)
{
    __m256 acc[CHAINS];
    /* Constants the compiler cannot see: with them known, clang folded
     * the whole loop into a constant (a peak of 2 * 10^21 flop/s). */
    volatile float factor_source = 0.9999999f, term_source = 1e-7f;
    const __m256 factor = _mm256_set1_ps(factor_source),
                 term = _mm256_set1_ps(term_source);
    for (int c = 0; c < CHAINS; c++)
        acc[c] = _mm256_set1_ps(1.0f + (float)c * 1e-3f);
    for (uint64_t r = 0; r < rounds; r++) {
#pragma GCC unroll 12
        for (int c = 0; c < CHAINS; c++)
            acc[c] = _mm256_fmadd_ps(acc[c], factor, term);
    }
    __m256 total = acc[0];
    for (int c = 1; c < CHAINS; c++)
        total = _mm256_add_ps(total, acc[c]);
    float lanes[LANES];
    _mm256_storeu_ps(lanes, total);
    *sink = lanes[0];
    return 2.0 * LANES * CHAINS * (double)rounds;
}
