/* Internal: the 3x3 convolution's weight gradient by Winograd's F(4x4, 3x3)
 * (winograd4.h), its forward pass transposed, as winograd_weights.h does
 * for F(2x2). A tile's 16 outputs are Y = A^T [U .* V] A with U = G g G^T
 * and V = B^T D B (D the tile's 6 x 6 input patch), so
 *
 *   dW_tile = G^T [ (A dY A^T) .* (B^T D B) ] G
 *
 * and the sum over every tile and image goes inside the bracket: for each
 * channel pair, M[co][ci] = sum over images and tiles of W_co .* V_ci with
 * W = A dY A^T (36 values, one per frequency), and dW[co][ci] = G^T M G
 * once at the end: 36 multiply-adds per 4 x 4 tile and channel pair, where
 * F(2x2) takes 64 and the direct sum 144. V is the forward pass's input
 * stage, made again or kept from the training forward pass; the products
 * sum along the vector lanes, vector sums in registers over a chunk of
 * images, their lane sums added into M.
 *
 * Rounding: a path from an input to a weight gradient passes through at
 * most count * tiles + 10 roundings, tiles = tile_rows x tile_columns of
 * one image: V 2 per direction (4), W = A dY A^T 2 per direction (4), the
 * product 1, the sum of the count * tiles terms at most count * tiles - 1
 * (tiles past the output have W = 0 and a finite V, so they add exact
 * zeros), and G^T M G, computed in double and rounded once to float,
 * counted as 2 (the double's own error is below one float rounding). So
 * the error is within gamma(count * tiles + 10) times the same expression
 * on absolute values; tests/test_winograd4_weights.c holds every variant
 * to it. The summation order depends on the shape, count and variant only,
 * so the result of one call is deterministic. */
#ifndef COSNET_KERNELS_WINOGRAD4_WEIGHTS_H
#define COSNET_KERNELS_WINOGRAD4_WEIGHTS_H

#include <stddef.h>

#include "kernels/kernels.h"
#include "kernels/winograd4.h"

/* Whether winograd4_backward_weights takes this shape with these stages:
 * an output, the stages' tile limits, and V and W of one image within a
 * few MB. Says nothing about whether it pays. */
int winograd4_weights_fits(const winograd4_microkernels *microkernels,
                           const conv_shape *shape);

/* Scratch floats (64-byte aligned) winograd4_backward_weights needs: M,
 * and V and W of a chunk of images. */
size_t
winograd4_weights_scratch_floats(const winograd4_microkernels *microkernels,
                                 const conv_shape *shape);

/* The weight gradient of conv3x3_backward_weights_kernel (not the bias's):
 * weight_grad (OIHW) = the sum over the `count` images. Requires
 * winograd4_weights_fits and stages with gradient_image. kept_v: NULL, or
 * V of these images as winograd4_forward_keeping left it, which is then
 * not made again (input_padded is not read); the same bits either way. */
void winograd4_backward_weights(const winograd4_microkernels *microkernels,
                                const conv_shape *shape, size_t count,
                                const float *input_padded, const float *kept_v,
                                const float *output_grad, float *weight_grad,
                                float *scratch);

#endif
