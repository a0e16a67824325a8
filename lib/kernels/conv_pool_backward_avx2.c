/* AVX2 conv3x3_pool_backward_weights (kernels.h), the x86 template
 * (conv_pool_backward_x86_template.h) at 8 lanes: the 4 x 4 input patch is
 * two vectors (rows 0-1, rows 2-3), so a tap's per-channel values are two
 * in-lane permutes and a blend on bit 3 of the patch index. Compiled
 * without contraction (meson.build), so the bits are the plain-C op's. */
#include <stdint.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/simd_avx2.h"

SIMD_INLINE __m256 gradient_row(const float *pooled_grad, const float *pooled,
                                int n)
{
    /* (masked loads: no read past the row's values) */
    const __m256i lanes = first_lanes(n);
    const __m256 g = _mm256_maskload_ps(pooled_grad, lanes);
    if (!pooled)
        return g;
    return _mm256_and_ps(g, _mm256_cmp_ps(_mm256_maskload_ps(pooled, lanes),
                                          _mm256_setzero_ps(), _CMP_GT_OQ));
}

SIMD_INLINE __m256 offset_row(const uint8_t *argmax, int n)
{
    /* window position (0-3) to the patch index of its top-left tap */
    const __m256i corner_index = _mm256_setr_epi32(0, 1, 4, 5, 0, 0, 0, 0);
    uint8_t bytes[8] = {0};
    memcpy(bytes, argmax, (size_t)n);
    int64_t packed;
    memcpy(&packed, bytes, sizeof packed);
    const __m256i at = _mm256_and_si256(
        _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(packed)), _mm256_set1_epi32(3));
    return _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(corner_index, at));
}

#define transpose_rows transpose_8x8

typedef struct input_patch {
    __m256 top, bottom; /* rows 0-1 and 2-3: row r, column c in lane
                           4 (r % 2) + c */
} input_patch;

SIMD_INLINE void patch_at(const float *corner, int padded_w, input_patch *patch)
{
    patch->top =
        _mm256_set_m128(_mm_loadu_ps(corner + padded_w), _mm_loadu_ps(corner));
    patch->bottom = _mm256_set_m128(_mm_loadu_ps(corner + 3 * padded_w),
                                    _mm_loadu_ps(corner + 2 * padded_w));
}

/* Bit x set where column x (< width <= 64) of one of the four rows from
 * `corner` is not zero (NaN is not zero). */
SIMD_INLINE uint64_t nonzero_columns_of_rows(const float *corner, int padded_w,
                                             int width)
{
    uint64_t bits = 0;
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < width; x += 8)
            bits |= (uint64_t)(unsigned)_mm256_movemask_ps(_mm256_cmp_ps(
                        _mm256_maskload_ps(corner + (size_t)y * padded_w + x,
                                           lanes_mask(width - x)),
                        _mm256_setzero_ps(), _CMP_NEQ_UQ))
                    << x;
    return bits;
}

/* Whether every value of the patch is zero (+0 or -0; NaN is not). */
SIMD_INLINE int patch_is_zero(const input_patch *patch)
{
    const __m256 zero = _mm256_setzero_ps();
    return _mm256_movemask_ps(_mm256_or_ps(
               _mm256_cmp_ps(patch->top, zero, _CMP_NEQ_UQ),
               _mm256_cmp_ps(patch->bottom, zero, _CMP_NEQ_UQ))) == 0;
}

SIMD_INLINE __m256 tap_values(const input_patch *patch, __m256 offsets, int tap)
{
    const __m256i index =
        _mm256_add_epi32(_mm256_castps_si256(offsets), _mm256_set1_epi32(tap));
    /* index 8-15: rows 2-3; bit 3 moved into the sign picks them */
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(patch->top, index),
                            _mm256_permutevar8x32_ps(patch->bottom, index),
                            _mm256_castsi256_ps(_mm256_slli_epi32(index, 28)));
}

#include "kernels/conv_pool_backward_x86_template.h"

void conv3x3_pool_backward_weights_avx2(const conv_shape *shape, size_t count,
                                        const float *input_padded,
                                        const float *pooled,
                                        const float *pooled_grad,
                                        const uint8_t *argmax,
                                        float *weight_grad, float *bias_grad)
{
    pool_backward_weights(shape, count, input_padded, pooled, pooled_grad,
                          argmax, weight_grad, bias_grad);
}
