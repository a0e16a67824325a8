/* conv3x3_pool_backward_weights (kernels.h) written once for both x86
 * widths: conv_pool_backward_avx2.c and conv_pool_backward_avx512.c each
 * include their vocabulary (simd_avx2.h, simd_avx512.h), define the steps
 * below, then include this file, which defines pool_backward_weights.
 *
 * LANES output channels in the lanes. For a chunk of LANES pooled columns
 * of one row, the channels' gradients (zeroed where the ReLU was) and
 * window offsets are loaded as rows and transposed, so each pooled column
 * has one vector of gradients and one of offsets. Its 4 x 4 input patch
 * (the window's 2 x 2 pixels and their 3 x 3 neighbourhoods) is held in
 * vectors, and per tap one fetch gives every channel's input value at its
 * own window position: nine multiplies and adds, and one add for the bias,
 * serve LANES channels; a patch of zeros (62% of them for conv1 on MNIST)
 * adds only to the bias, found from the nonzero columns of the pooled
 * row's four input rows (a chunk of only such patches loads no window
 * positions). The ten sums stay in registers over the whole
 * batch, so each lane takes its terms in the reference's order (image,
 * pooled row, pooled column), product then add (the ISA files are compiled
 * without contraction): the plain-C op's bits.
 *
 * Required before inclusion:
 *   gradient_row(pooled_grad, pooled, n): n gradients (pooled: NULL, or
 *     the pooled values, whose <= 0 or NaN zero their gradient), 0 past n;
 *   offset_row(argmax, n): the patch index of each of n windows' top-left
 *     tap, 4 (argmax >> 1) + (argmax & 1), as int32 lanes in a vector;
 *   transpose_rows(r): lane j of r[i] to lane i of r[j], LANES rows;
 *   input_patch, patch_at(corner, padded_w, &patch): rows 0-3, columns
 *     0-3 from corner; patch_is_zero(&patch): whether all 16 values are
 *     zero (not NaN); nonzero_columns_of_rows(corner, padded_w, width):
 *     bit x set where column x < width <= 64 of rows 0-3 is not zero;
 *     tap_values(&patch, offsets, tap): per lane, the
 *     patch value at offsets + tap (tap = 4 kh + kw).
 * Optional: WINDOW_BITS_OFFSETS (16 lanes only) with
 *   offsets_of_bits(word): offset_row's vector from one pooled pixel's
 *     window bits (kernels.h);
 * then the file also defines pool_backward_weights_bits, which reads the
 * positions as window bits: one word per window, no transpose. */
#ifndef COSNET_KERNELS_CONV_POOL_BACKWARD_X86_TEMPLATE_H
#define COSNET_KERNELS_CONV_POOL_BACKWARD_X86_TEMPLATE_H

/* Output channels co0 .. co0 + channels - 1 (at most LANES) against input
 * channel ci, over the batch: sums[k] ends with tap k's weight sums
 * (k = 3 kh + kw) and sums[9] with the bias sums, channel j in lane j. */
SIMD_INLINE void channel_group(const int channels, const conv_shape *shape,
                               size_t count, const float *input_padded,
                               const float *pooled, const float *pooled_grad,
                               const uint8_t *argmax,
                               const uint32_t *window_bits, int ci, int co0,
                               SIMD_VECTOR sums[10])
{
    const int padded_w = conv_padded_width(shape);
    const size_t in_plane = (size_t)conv_padded_height(shape) * padded_w;
    const int pooled_rows = conv_out_height(shape) / 2,
              pooled_columns = conv_out_width(shape) / 2;
    const size_t pooled_plane = (size_t)pooled_rows * pooled_columns;
    UNROLL_FULL
    for (int k = 0; k < 10; k++)
        sums[k] = SIMD_ZERO();
    SIMD_VECTOR gradient[LANES], offset[LANES];
    for (size_t i = 0; i < count; i++) {
        const float *plane =
            input_padded + (i * shape->in_channels + ci) * in_plane;
        const size_t first_plane =
            (i * shape->out_channels + co0) * pooled_plane;
        for (int r = 0; r < pooled_rows; r++) {
            const float *corner = plane + (size_t)(2 * r) * padded_w;
            /* Which of the row's patches hold a nonzero value: from the
             * nonzero columns of its four input rows where they fit 64
             * bits, else patch by patch. */
            const int by_columns = padded_w <= 64;
            const uint64_t nonzero =
                by_columns ? nonzero_columns_of_rows(corner, padded_w, padded_w)
                           : 0;
            for (int c0 = 0; c0 < pooled_columns; c0 += LANES) {
                const int n =
                    pooled_columns - c0 < LANES ? pooled_columns - c0 : LANES;
                /* columns 2 c0 .. 2 (c0 + n) + 1 (at most 34 bits; 2 c0
                 * is at most 32 where by_columns) */
                const uint64_t chunk =
                    by_columns ? (nonzero >> (2 * c0)) &
                                     (((uint64_t)1 << (2 * n + 2)) - 1)
                               : ~(uint64_t)0;
                /* channel j's row of the chunk at row + j * pooled_plane */
                const size_t row =
                    first_plane + (size_t)r * pooled_columns + c0;
                UNROLL_FULL
                for (int j = 0; j < LANES; j++) {
                    const size_t o = row + j * pooled_plane;
                    gradient[j] =
                        j < channels
                            ? gradient_row(pooled_grad + o,
                                           pooled ? pooled + o : NULL, n)
                            : SIMD_ZERO();
                }
                transpose_rows(gradient);
                if (chunk == 0) {
                    /* Only zero patches: only the bias. */
                    for (int c = 0; c < n; c++)
                        sums[9] = SIMD_ADD(sums[9], gradient[c]);
                    continue;
                }
#ifdef WINDOW_BITS_OFFSETS
                /* window_bits: the chunk's words, of channels co0 ..
                 * co0 + 15 of image i. */
                const uint32_t *words =
                    window_bits ? window_bits + first_plane / LANES +
                                      (size_t)r * pooled_columns + c0
                                : NULL;
#endif
                if (!window_bits) {
                    UNROLL_FULL
                    for (int j = 0; j < LANES; j++)
                        offset[j] =
                            j < channels
                                ? offset_row(argmax + row + j * pooled_plane, n)
                                : SIMD_ZERO();
                    transpose_rows(offset);
                }
                for (int c = 0; c < n; c++) {
                    const SIMD_VECTOR g = gradient[c];
                    sums[9] = SIMD_ADD(sums[9], g);
                    /* A patch of zeros adds only zeros (kernels.h). */
                    if (by_columns && ((chunk >> (2 * c)) & 0xF) == 0)
                        continue;
                    input_patch patch;
                    patch_at(corner + 2 * (c0 + c), padded_w, &patch);
                    if (!by_columns && patch_is_zero(&patch))
                        continue;
#ifdef WINDOW_BITS_OFFSETS
                    const SIMD_VECTOR offsets =
                        words ? offsets_of_bits(words[c]) : offset[c];
#else
                    const SIMD_VECTOR offsets = offset[c];
#endif
                    UNROLL_FULL
                    for (int k = 0; k < 9; k++)
                        sums[k] = SIMD_ADD(
                            sums[k],
                            SIMD_MUL(g, tap_values(&patch, offsets,
                                                   k / 3 * 4 + k % 3)));
                }
            }
        }
    }
}

/* argmax, or (WINDOW_BITS_OFFSETS) window_bits. */
static void pool_backward_weights_from(
    const conv_shape *shape, size_t count, const float *input_padded,
    const float *pooled, const float *pooled_grad, const uint8_t *argmax,
    const uint32_t *window_bits, float *weight_grad, float *bias_grad)
{
    const int in_channels = shape->in_channels;
    for (int ci = 0; ci < in_channels; ci++)
        for (int co0 = 0; co0 < shape->out_channels; co0 += LANES) {
            const int channels = shape->out_channels - co0 < LANES
                                     ? shape->out_channels - co0
                                     : LANES;
            SIMD_VECTOR sums[10];
            if (channels == LANES)
                channel_group(LANES, shape, count, input_padded, pooled,
                              pooled_grad, argmax, window_bits, ci, co0, sums);
            else
                channel_group(channels, shape, count, input_padded, pooled,
                              pooled_grad, argmax, window_bits, ci, co0, sums);
            float lanes[10][LANES];
            for (int k = 0; k < 10; k++)
                SIMD_STORE(lanes[k], sums[k]);
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

static void pool_backward_weights(const conv_shape *shape, size_t count,
                                  const float *input_padded,
                                  const float *pooled, const float *pooled_grad,
                                  const uint8_t *argmax, float *weight_grad,
                                  float *bias_grad)
{
    pool_backward_weights_from(shape, count, input_padded, pooled, pooled_grad,
                               argmax, NULL, weight_grad, bias_grad);
}

#ifdef WINDOW_BITS_OFFSETS
static void pool_backward_weights_bits(const conv_shape *shape, size_t count,
                                       const float *input_padded,
                                       const float *pooled,
                                       const float *pooled_grad,
                                       const uint32_t *window_bits,
                                       float *weight_grad, float *bias_grad)
{
    pool_backward_weights_from(shape, count, input_padded, pooled, pooled_grad,
                               NULL, window_bits, weight_grad, bias_grad);
}
#endif

#endif
