/* AVX-512 conv3x3_pool_backward_weights (kernels.h): the first layer's
 * weight and bias gradients straight from the pool's output gradient.
 *
 * Sixteen output channels in the lanes. For a chunk of 16 pooled columns
 * of one row, the channels' gradients (zeroed where the ReLU was) and
 * window positions are loaded as rows and transposed, so each pooled
 * column has one vector of 16 gradients and one of 16 offsets. Its 4 x 4
 * input patch (the window's 2 x 2 pixels and their 3 x 3 neighbourhoods)
 * is one vector, and for each tap one permute fetches every channel's
 * input value at its own window position: nine multiplies and adds, and
 * one add for the bias, serve 16 channels. The ten accumulators stay in
 * registers over the whole batch, so each lane takes its terms in the
 * reference's order (image, pooled row, pooled column): the same bits.
 * This file is compiled without contraction, as the reference is, so the
 * multiplies and adds stay apart. */
#include <string.h>

#include "kernels/simd_avx512.h"

/* Rows y .. y + 3, columns x .. x + 3 of a padded plane, row by row. */
SIMD_INLINE __m512 patch_at(const float *corner, int padded_w)
{
    __m512 patch = _mm512_castps128_ps512(_mm_loadu_ps(corner));
    patch = _mm512_insertf32x4(patch, _mm_loadu_ps(corner + padded_w), 1);
    patch = _mm512_insertf32x4(patch, _mm_loadu_ps(corner + 2 * padded_w), 2);
    return _mm512_insertf32x4(patch, _mm_loadu_ps(corner + 3 * padded_w), 3);
}

/* Output channels co0 .. co0 + channels - 1 (at most 16) against input
 * channel ci, over the batch: sums[k] ends with tap k's weight sums
 * (k = 3 kh + kw) and sums[9] with the bias sums, channel j in lane j. */
SIMD_INLINE void channel_group(const int channels, const conv_shape *shape,
                               size_t count, const float *input_padded,
                               const float *pooled, const float *pooled_grad,
                               const uint8_t *argmax, int ci, int co0,
                               __m512 sums[10])
{
    const int padded_w = conv_padded_width(shape);
    const size_t in_plane = (size_t)conv_padded_height(shape) * padded_w;
    const int pooled_rows = conv_out_height(shape) / 2,
              pooled_columns = conv_out_width(shape) / 2;
    const size_t pooled_plane = (size_t)pooled_rows * pooled_columns;
    const __m512 zero = _mm512_setzero_ps();
    /* Window position (0-3) to the patch lane of its top-left tap. */
    const __m512i corner_lane =
        _mm512_setr_epi32(0, 1, 4, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    UNROLL_FULL
    for (int k = 0; k < 10; k++)
        sums[k] = zero;
    /* A chunk's columns: 16 channels' gradients and patch offsets each. */
    __m512 gradient[16], offset[16];
    for (size_t i = 0; i < count; i++) {
        const float *plane =
            input_padded + (i * shape->in_channels + ci) * in_plane;
        const size_t first_plane =
            (i * shape->out_channels + co0) * pooled_plane;
        for (int r = 0; r < pooled_rows; r++)
            for (int c0 = 0; c0 < pooled_columns; c0 += 16) {
                const int n =
                    pooled_columns - c0 < 16 ? pooled_columns - c0 : 16;
                const __mmask16 lanes = first_lanes(n);
                UNROLL_FULL
                for (int j = 0; j < 16; j++) {
                    if (j >= channels) {
                        gradient[j] = zero;
                        offset[j] = zero;
                        continue;
                    }
                    const size_t o = first_plane + j * pooled_plane +
                                     (size_t)r * pooled_columns + c0;
                    __m512 g = _mm512_maskz_loadu_ps(lanes, pooled_grad + o);
                    if (pooled)
                        g = _mm512_maskz_mov_ps(
                            _mm512_mask_cmp_ps_mask(
                                lanes, _mm512_maskz_loadu_ps(lanes, pooled + o),
                                zero, _CMP_GT_OQ),
                            g);
                    gradient[j] = g;
                    const __m512i at = _mm512_and_si512(
                        _mm512_cvtepu8_epi32(
                            _mm_maskz_loadu_epi8(lanes, argmax + o)),
                        _mm512_set1_epi32(3));
                    offset[j] = _mm512_castsi512_ps(
                        _mm512_permutexvar_epi32(at, corner_lane));
                }
                transpose_16x16(gradient);
                transpose_16x16(offset);
                const float *corner = plane + (size_t)(2 * r) * padded_w;
                for (int c = 0; c < n; c++) {
                    const __m512 patch =
                        patch_at(corner + 2 * (c0 + c), padded_w);
                    const __m512 g = gradient[c];
                    const __m512i at = _mm512_castps_si512(offset[c]);
                    UNROLL_FULL
                    for (int k = 0; k < 9; k++) {
                        const __m512 x = _mm512_permutexvar_ps(
                            _mm512_add_epi32(
                                at, _mm512_set1_epi32(k / 3 * 4 + k % 3)),
                            patch);
                        sums[k] = _mm512_add_ps(sums[k], _mm512_mul_ps(g, x));
                    }
                    sums[9] = _mm512_add_ps(sums[9], g);
                }
            }
    }
}

void conv3x3_pool_backward_weights_avx512(const conv_shape *shape, size_t count,
                                          const float *input_padded,
                                          const float *pooled,
                                          const float *pooled_grad,
                                          const uint8_t *argmax,
                                          float *weight_grad, float *bias_grad)
{
    const int in_channels = shape->in_channels;
    for (int ci = 0; ci < in_channels; ci++)
        for (int co0 = 0; co0 < shape->out_channels; co0 += 16) {
            const int channels =
                shape->out_channels - co0 < 16 ? shape->out_channels - co0 : 16;
            __m512 sums[10];
            if (channels == 16)
                channel_group(16, shape, count, input_padded, pooled,
                              pooled_grad, argmax, ci, co0, sums);
            else
                channel_group(channels, shape, count, input_padded, pooled,
                              pooled_grad, argmax, ci, co0, sums);
            float lanes[10][16];
            for (int k = 0; k < 10; k++)
                _mm512_storeu_ps(lanes[k], sums[k]);
            for (int j = 0; j < channels; j++) {
                float *dw =
                    weight_grad + ((size_t)(co0 + j) * in_channels + ci) * 9;
                for (int k = 0; k < 9; k++)
                    dw[k] = lanes[k][j];
                if (ci == 0)
                    bias_grad[co0 + j] = lanes[9][j];
            }
        }
}
