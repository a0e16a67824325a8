/* The AVX2+FMA vector vocabulary of the x86 templates (8 lanes), in one
 * place for every file of kernels_avx2: the macros the templates require,
 * lanes_mask, piecewise tail stores and the reductions to 128 bits. Only
 * files compiled with -mavx2 -mfma may include it. */
#ifndef COSNET_KERNELS_SIMD_AVX2_H
#define COSNET_KERNELS_SIMD_AVX2_H

#include <immintrin.h>

#include "kernels/simd_common.h"

#define LANES 8

/* All-ones in the first `lanes` lanes (none if lanes <= 0, all if >= 8). */
static inline __m256i lanes_mask(int lanes)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* lanes_mask for lanes from 0 to 8 (the same compare). */
static inline __m256i first_lanes(int lanes)
{
    return lanes_mask(lanes);
}

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

/* The two 128-bit halves added. */
static inline __m128 fold_to_128(__m256 v)
{
    return _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
}

static inline float horizontal_sum(__m256 v)
{
    __m128 x = fold_to_128(v);
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

/* [a1, a2, ..., a7, b0]: the lanes one place on, from the next vector. */
static inline __m256 next_lane(__m256 a, __m256 b)
{
    const __m256 middle = _mm256_permute2f128_ps(a, b, 0x21); /* a_hi b_lo */
    return _mm256_castsi256_ps(_mm256_alignr_epi8(_mm256_castps_si256(middle),
                                                  _mm256_castps_si256(a), 4));
}

/* The even and the odd lanes of the 16 floats a:b, each in order: the
 * in-lane shuffle leaves the 64-bit quarters as a0a2 b0b2 a4a6 b4b6, and
 * the cross-lane permute puts them back in order. */
static inline void deinterleave(__m256 a, __m256 b, __m256 *even, __m256 *odd)
{
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(
        _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(
        _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
}

/* The inverse: even[0], odd[0], even[1], ... as two vectors. */
static inline void interleave(__m256 even, __m256 odd, __m256 *low,
                              __m256 *high)
{
    const __m256 first = _mm256_unpacklo_ps(even, odd);  /* e0o0e1o1 e4o4e5o5 */
    const __m256 second = _mm256_unpackhi_ps(even, odd); /* e2o2e3o3 e6o6e7o7 */
    *low = _mm256_permute2f128_ps(first, second, 0x20);
    *high = _mm256_permute2f128_ps(first, second, 0x31);
}

/* The intrinsic `name` at this width (_mm256_name); simd_x86.h builds the
 * operations the two widths share from it. */
#define SIMD_WIDE(name) _mm256_##name
#define SIMD_VECTOR __m256
#define SIMD_MASK __m256i
#define SIMD_LOAD_MASKED(p, mask) _mm256_maskload_ps(p, mask)
#define SIMD_STORE_LAST(p, v, mask, lanes) store_lanes_256(p, v, lanes)
#define SIMD_SUM(v) horizontal_sum(v)

/* The larger of each pair of neighbouring lanes (0, 1), (2, 3) ... in the
 * low 4 lanes (a horizontal 2-to-1 max-pool of one row): the pairs' maxima
 * come per 128-bit half, then the halves' low 64 bits are joined. */
static inline __m256 pair_max_low(__m256 v)
{
    const __m256 pairs =
        _mm256_max_ps(_mm256_shuffle_ps(v, v, _MM_SHUFFLE(2, 0, 2, 0)),
                      _mm256_shuffle_ps(v, v, _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(pairs),
                                                  _MM_SHUFFLE(3, 1, 2, 0)));
}
#define SIMD_PAIR_MAX_LOW(v) pair_max_low(v)
/* The upper 4 lanes in the lower 4. */
#define SIMD_UPPER_HALF(v) _mm256_permute2f128_ps(v, v, 0x11)
/* g where a > 0 (ordered: not on NaN), else +0. */
#define SIMD_KEEP_POSITIVE(a, g)                                               \
    _mm256_and_ps(_mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_GT_OQ), g)

/* The 8 x 8 transpose: lane j of r[i] goes to lane i of r[j] (8 channels'
 * rows of 8 columns into 8 columns' vectors of channels). */
SIMD_INLINE void transpose_8x8(__m256 r[8])
{
    __m256 t[8];
    UNROLL_FULL
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    UNROLL_FULL
    for (int i = 0; i < 2; i++)
        UNROLL_FULL
    for (int j = 0; j < 2; j++) {
        const __m256d a = _mm256_castps_pd(t[4 * i + j]),
                      b = _mm256_castps_pd(t[4 * i + j + 2]);
        r[4 * i + 2 * j] = _mm256_castpd_ps(_mm256_unpacklo_pd(a, b));
        r[4 * i + 2 * j + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(a, b));
    }
    UNROLL_FULL
    for (int j = 0; j < 4; j++) {
        t[j] = _mm256_permute2f128_ps(r[j], r[j + 4], 0x20);
        t[j + 4] = _mm256_permute2f128_ps(r[j], r[j + 4], 0x31);
    }
    UNROLL_FULL
    for (int j = 0; j < 8; j++)
        r[j] = t[j];
}

#include "kernels/simd_x86.h"

#endif
