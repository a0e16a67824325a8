/* The AVX-512 vector vocabulary of the x86 templates (16 lanes, mask
 * registers), in one place for every file of kernels_avx512: the macros the
 * templates require, lanes_mask and the reductions to 128 bits. Only files
 * compiled with the AVX-512 flags may include it. */
#ifndef COSNET_KERNELS_SIMD_AVX512_H
#define COSNET_KERNELS_SIMD_AVX512_H

#include <immintrin.h>

#include "kernels/simd_common.h"

#define LANES 16

/* The first `lanes` lanes, for lanes from 0 to 16 only: one shift, where
 * the caller knows the range. */
static inline __mmask16 first_lanes(int lanes)
{
    return (__mmask16)((1u << lanes) - 1u);
}

/* The first `lanes` lanes (none if lanes <= 0, all if >= 16). */
static inline __mmask16 lanes_mask(int lanes)
{
    if (lanes <= 0)
        return 0;
    return lanes >= LANES ? (__mmask16)0xFFFF
                          : (__mmask16)((1u << (unsigned)lanes) - 1u);
}

/* The four 128-bit blocks added: (0 + 2) + (1 + 3). */
static inline __m128 fold_to_128(__m512 v)
{
    const __m256 half =
        _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    return _mm_add_ps(_mm256_castps256_ps128(half),
                      _mm256_extractf128_ps(half, 1));
}

/* [a1, a2, ..., a15, b0]: the lanes one place on, from the next vector. */
static inline __m512 next_lane(__m512 a, __m512 b)
{
    return _mm512_castsi512_ps(
        _mm512_alignr_epi32(_mm512_castps_si512(b), _mm512_castps_si512(a), 1));
}

/* The even and the odd lanes of the 32 floats a:b, each in order. */
static inline void deinterleave(__m512 a, __m512 b, __m512 *even, __m512 *odd)
{
    const __m512i even_index = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16,
                                                 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd_index = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17,
                                                19, 21, 23, 25, 27, 29, 31);
    *even = _mm512_permutex2var_ps(a, even_index, b);
    *odd = _mm512_permutex2var_ps(a, odd_index, b);
}

/* The inverse: even[0], odd[0], even[1], ... as two vectors. */
static inline void interleave(__m512 even, __m512 odd, __m512 *low,
                              __m512 *high)
{
    const __m512i low_index = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4,
                                                20, 5, 21, 6, 22, 7, 23);
    const __m512i high_index = _mm512_setr_epi32(
        8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    *low = _mm512_permutex2var_ps(even, low_index, odd);
    *high = _mm512_permutex2var_ps(even, high_index, odd);
}

/* The intrinsic `name` at this width (_mm512_name); simd_x86.h builds the
 * operations the two widths share from it. */
#define SIMD_WIDE(name) _mm512_##name
#define SIMD_VECTOR __m512
#define SIMD_MASK __mmask16
#define SIMD_LOAD_MASKED(p, mask) _mm512_maskz_loadu_ps(mask, p)
#define SIMD_STORE_LAST(p, v, mask, lanes) _mm512_mask_storeu_ps(p, mask, v)
#define SIMD_SUM(v) _mm512_reduce_add_ps(v)

/* The larger of each pair of neighbouring lanes (0, 1), (2, 3) ... in the
 * low 8 lanes (a horizontal 2-to-1 max-pool of one row). */
static inline __m512 pair_max_low(__m512 v)
{
    const __m512i even =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14);
    const __m512i odd =
        _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 1, 3, 5, 7, 9, 11, 13, 15);
    return _mm512_max_ps(_mm512_permutexvar_ps(even, v),
                         _mm512_permutexvar_ps(odd, v));
}
#define SIMD_PAIR_MAX_LOW(v) pair_max_low(v)
/* The upper 8 lanes in the lower 8. */
#define SIMD_UPPER_HALF(v) _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(3, 2, 3, 2))

/* The 16 x 16 transpose: lane j of r[i] goes to lane i of r[j] (16
 * channels' rows of 16 columns into 16 columns' vectors of channels, and
 * back). */
SIMD_INLINE void transpose_16x16(__m512 r[16])
{
    __m512 t[16];
    UNROLL_FULL
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    UNROLL_FULL
    for (int i = 0; i < 4; i++)
        UNROLL_FULL
    for (int j = 0; j < 2; j++) {
        const __m512d a = _mm512_castps_pd(t[4 * i + j]),
                      b = _mm512_castps_pd(t[4 * i + j + 2]);
        r[4 * i + 2 * j] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
        r[4 * i + 2 * j + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
    }
    UNROLL_FULL
    for (int i = 0; i < 2; i++)
        UNROLL_FULL
    for (int j = 0; j < 4; j++) {
        t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + j + 4],
                                            _MM_SHUFFLE(2, 0, 2, 0));
        t[8 * i + j + 4] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + j + 4],
                                                _MM_SHUFFLE(3, 1, 3, 1));
    }
    UNROLL_FULL
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], _MM_SHUFFLE(2, 0, 2, 0));
        r[j + 8] =
            _mm512_shuffle_f32x4(t[j], t[j + 8], _MM_SHUFFLE(3, 1, 3, 1));
    }
}

#include "kernels/simd_x86.h"

#endif
