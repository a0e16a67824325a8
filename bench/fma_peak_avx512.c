/* avx512 fp32 peak: CHAINS independent vector FMA chains. CHAINS must cover
 * FMA latency x FMA issue rate (4 cycles x 2 per cycle on current cores), so
 * 16 (of 32 zmm registers) leaves headroom. The chains converge to 1.0 and
 * never go denormal. */
#include <immintrin.h>

#include "fma_peak.h"

#define CHAINS 16
#define LANES 16

double fma_peak_avx512_run(uint64_t rounds, float *sink)
{
    __m512 acc[CHAINS];
    /* Constants the compiler cannot see: with them known, clang folded
     * the whole loop into a constant (a peak of 2 * 10^21 flop/s). */
    volatile float factor_source = 0.9999999f, term_source = 1e-7f;
    const __m512 factor = _mm512_set1_ps(factor_source),
                 term = _mm512_set1_ps(term_source);
    for (int c = 0; c < CHAINS; c++)
        acc[c] = _mm512_set1_ps(1.0f + (float)c * 1e-3f);
    for (uint64_t r = 0; r < rounds; r++) {
#pragma GCC unroll 16
        for (int c = 0; c < CHAINS; c++)
            acc[c] = _mm512_fmadd_ps(acc[c], factor, term);
    }
    __m512 total = acc[0];
    for (int c = 1; c < CHAINS; c++)
        total = _mm512_add_ps(total, acc[c]);
    float lanes[LANES];
    _mm512_storeu_ps(lanes, total);
    *sink = lanes[0];
    return 2.0 * LANES * CHAINS * (double)rounds;
}
