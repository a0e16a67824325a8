/* Internal: the 3x3 convolution's weight gradient by Winograd's F(2x2, 3x3)
 * (winograd.h), its forward pass transposed. The forward pass computes each
 * 2x2 output tile as Y = A^T [U .* V] A with U = G g G^T, V = B^T D B (D
 * the tile's 4x4 input patch), so the gradient of a tile's output dY
 * against g is
 *
 *   dW_tile = G^T [ (A dY A^T) .* (B^T D B) ] G
 *
 * and, since G^T [.] G is linear, the sum over every tile and image can go
 * inside the bracket: for each output channel co and input channel ci,
 *
 *   M[co][ci] = sum over images and tiles of (A dY_co A^T) .* V_ci
 *
 * (16 values, one per frequency), and dW[co][ci] = G^T M[co][ci] G once at
 * the end: 16 multiply-adds per tile and channel pair instead of the direct
 * sum's 36 (2.25 times fewer). V is the forward pass's input transform;
 * W = A dY A^T has the same layout ([co][frequency][tile]), so for each
 * frequency M is a product [out_channels x tiles] x [tiles x in_channels]
 * whose sum runs along the vector lanes: the stages keep vector sums in
 * registers over a chunk of images and add their lane sums into M (16
 * floats per channel pair, small enough for L1), so V and W of a chunk can
 * be small enough for L2 without vector partials streaming through the
 * caches for every chunk. Tiles
 * past the output (an odd size, lanes past the last tile) have W = 0 and a
 * finite V, so they add exact zeros.
 *
 * Rounding: the result differs from the direct sum. Every path from an
 * input to a weight gradient passes through at most count * tiles + 8
 * roundings, tiles = tile_rows x tile_columns of one image (V takes 2
 * additions, W 2; the product 1; the sum over the count * tiles terms, in
 * whatever order the lanes, the chunks and M take, at most count * tiles -
 * 1, since adding an exact zero does not round; G^T M G 4), so the error
 * is within gamma(count * tiles + 8) times the same expression evaluated
 * on absolute values (Higham, 2nd ed., section 3.1);
 * tests/test_winograd_weights.c holds every variant to it.
 * The result of one call is deterministic: the summation order depends on
 * the shape, count and variant only. */
#ifndef COSNET_KERNELS_WINOGRAD_WEIGHTS_H
#define COSNET_KERNELS_WINOGRAD_WEIGHTS_H

#include <stddef.h>

#include "kernels/kernels.h"
#include "kernels/winograd.h"

/* Whether winograd_backward_weights takes this shape: an output, and V and
 * W of one image within a few MB (the scratch holds a chunk of images).
 * Says nothing about whether it pays. */
int winograd_weights_fits(const winograd_microkernels *microkernels,
                          const conv_shape *shape);

/* Scratch floats (64-byte aligned) winograd_backward_weights needs: M,
 * and V and W of a chunk of images. */
size_t
winograd_weights_scratch_floats(const winograd_microkernels *microkernels,
                                const conv_shape *shape);

/* The weight gradient of conv3x3_backward_weights_kernel (not the bias's):
 * weight_grad (OIHW) = the sum over the `count` images. Requires
 * winograd_weights_fits. */
void winograd_backward_weights(const winograd_microkernels *microkernels,
                               const conv_shape *shape, size_t count,
                               const float *input_padded,
                               const float *output_grad, float *weight_grad,
                               float *scratch);

#endif
