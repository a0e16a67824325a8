/* Internal helpers shared by the SIMD kernel files, each compiled under its
 * own ISA flags: inlining and unrolling macros, and AVX2 tail stores. */
#ifndef COSNET_KERNELS_SIMD_COMMON_H
#define COSNET_KERNELS_SIMD_COMMON_H

#include "kernels/kernels.h"

#define SIMD_INLINE static inline __attribute__((always_inline))

/* Fully unrolls the next loop (trip counts are compile-time constants
 * after inlining), so that tile accumulators indexed by the loop counters
 * become registers. */
#if defined(__clang__)
#define UNROLL_FULL _Pragma("clang loop unroll(full)")
#else
#define UNROLL_FULL _Pragma("GCC unroll 32")
#endif

#if defined(__AVX2__)
#include <immintrin.h>

/* Stores the first `lanes` lanes of v (none if lanes <= 0). vmaskmovps
 * stores are slow on AMD cores, so a tail goes out in 4-, 2- and 1-lane
 * pieces instead. */
static inline void store_lanes_256(float *p, __m256 v, int lanes)
{
    if (lanes >= 8) {
        _mm256_storeu_ps(p, v);
        return;
    }
    if (lanes <= 0)
        return;
    __m128 part = _mm256_castps256_ps128(v);
    if (lanes & 4) {
        _mm_storeu_ps(p, part);
        part = _mm256_extractf128_ps(v, 1);
        p += 4;
    }
    if (lanes & 2) {
        _mm_storel_pi((__m64 *)(void *)p, part);
        part = _mm_movehl_ps(part, part);
        p += 2;
    }
    if (lanes & 1)
        _mm_store_ss(p, part);
}
#endif

#endif
