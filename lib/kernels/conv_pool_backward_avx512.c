/* AVX-512 conv3x3_pool_backward_weights (kernels.h), the x86 template
 * (conv_pool_backward_x86_template.h) at 16 lanes: the 4 x 4 input patch
 * is one vector, so a tap's per-channel values are one permute. Compiled
 * without contraction (meson.build), so the bits are the plain-C op's. */
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/simd_avx512.h"

SIMD_INLINE __m512 gradient_row(const float *pooled_grad, const float *pooled,
                                int n)
{
    const __mmask16 lanes = first_lanes(n);
    const __m512 g = _mm512_maskz_loadu_ps(lanes, pooled_grad);
    if (!pooled)
        return g;
    return _mm512_maskz_mov_ps(
        _mm512_mask_cmp_ps_mask(lanes, _mm512_maskz_loadu_ps(lanes, pooled),
                                _mm512_setzero_ps(), _CMP_GT_OQ),
        g);
}

SIMD_INLINE __m512 offset_row(const uint8_t *argmax, int n)
{
    /* window position (0-3) to the patch index of its top-left tap */
    const __m512i corner_index =
        _mm512_setr_epi32(0, 1, 4, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i at = _mm512_and_si512(
        _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(first_lanes(n), argmax)),
        _mm512_set1_epi32(3));
    return _mm512_castsi512_ps(_mm512_permutexvar_epi32(at, corner_index));
}

/* offset_row's vector from window bits: 4 where the high bit is set,
 * plus 1 where the low bit is. */
SIMD_INLINE __m512 offsets_of_bits(uint32_t word)
{
    const __m512i high =
        _mm512_maskz_mov_epi32((__mmask16)(word >> 16), _mm512_set1_epi32(4));
    return _mm512_castsi512_ps(_mm512_mask_add_epi32(
        high, (__mmask16)word, high, _mm512_set1_epi32(1)));
}
#define WINDOW_BITS_OFFSETS 1

#define transpose_rows transpose_16x16

typedef struct input_patch {
    __m512 rows; /* row r, column c in lane 4 r + c */
} input_patch;

SIMD_INLINE void patch_at(const float *corner, int padded_w, input_patch *patch)
{
    __m512 v = _mm512_castps128_ps512(_mm_loadu_ps(corner));
    v = _mm512_insertf32x4(v, _mm_loadu_ps(corner + padded_w), 1);
    v = _mm512_insertf32x4(v, _mm_loadu_ps(corner + 2 * padded_w), 2);
    patch->rows = _mm512_insertf32x4(v, _mm_loadu_ps(corner + 3 * padded_w), 3);
}

/* Bit x set where column x (< width <= 64) of one of the four rows from
 * `corner` is not zero (NaN is not zero). */
SIMD_INLINE uint64_t nonzero_columns_of_rows(const float *corner, int padded_w,
                                             int width)
{
    uint64_t bits = 0;
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < width; x += 16)
            bits |=
                (uint64_t)_mm512_cmp_ps_mask(
                    _mm512_maskz_loadu_ps(lanes_mask(width - x),
                                          corner + (size_t)y * padded_w + x),
                    _mm512_setzero_ps(), _CMP_NEQ_UQ)
                << x;
    return bits;
}

/* Whether every value of the patch is zero (+0 or -0; NaN is not). */
SIMD_INLINE int patch_is_zero(const input_patch *patch)
{
    return _mm512_cmp_ps_mask(patch->rows, _mm512_setzero_ps(), _CMP_NEQ_UQ) ==
           0;
}

SIMD_INLINE __m512 tap_values(const input_patch *patch, __m512 offsets, int tap)
{
    return _mm512_permutexvar_ps(
        _mm512_add_epi32(_mm512_castps_si512(offsets), _mm512_set1_epi32(tap)),
        patch->rows);
}

#include "kernels/conv_pool_backward_x86_template.h"

void conv3x3_pool_backward_weights_avx512(const conv_shape *shape, size_t count,
                                          const float *input_padded,
                                          const float *pooled,
                                          const float *pooled_grad,
                                          const uint8_t *argmax,
                                          float *weight_grad, float *bias_grad)
{
    pool_backward_weights(shape, count, input_padded, pooled, pooled_grad,
                          argmax, weight_grad, bias_grad);
}

void conv3x3_pool_backward_weights_bits_avx512(
    const conv_shape *shape, size_t count, const float *input_padded,
    const float *pooled, const float *pooled_grad, const uint32_t *window_bits,
    float *weight_grad, float *bias_grad)
{
    pool_backward_weights_bits(shape, count, input_padded, pooled, pooled_grad,
                               window_bits, weight_grad, bias_grad);
}
