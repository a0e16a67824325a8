/* Internal: the 3x3 convolution forward pass by Winograd's minimal
 * filtering F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional
 * Neural Networks", 2016). Each 2x2 block of output pixels (a "tile") of
 * one output channel comes from a 4x4 patch of each input channel:
 *
 *   Y = A^T [ sum_ci (G g_ci G^T) .* (B^T d_ci B) ] A
 *
 * so the 16 products of the bracket replace the 36 multiply-adds of the
 * direct sum (2.25 times fewer). U = G g G^T is computed once, when the
 * weights are packed; V = B^T d B per tile and input channel; the sum over
 * input channels is, for each of the 16 "frequencies", a small matrix
 * product [out_channels x in_channels] x [in_channels x tiles].
 *
 * Layouts (floats): U is [frequency][ci][co padded to the ISA's block].
 * A block of tile rows of one image keeps V as [ci][frequency][tile], and
 * the products M of one block of output channels as [co][frequency][tile]
 * (so a transform reads or writes 16 rows one stride apart); tiles are
 * numbered row by row, padded to a whole number of vectors, and when a tile
 * row fits in half a vector each vector holds two tile rows. Blocks never
 * mix images, and the vector lanes (tiles) never exchange values, so an
 * image's output does not depend on the batch it is computed in.
 *
 * Rounding: the result differs from the direct sum. Every path from an
 * input to an output passes through at most in_channels + 8 roundings (U is
 * computed in double and rounded once; V takes 2 additions; the product
 * and the sum over input channels in_channels; A^T M A 4 additions; the
 * bias 1), so the error is within gamma(in_channels + 8) times the same
 * expression evaluated on absolute values (Higham, 2nd ed., section 3.1);
 * tests/test_winograd.c holds every variant to that bound.
 *
 * The weight gradient (winograd_weights.h) reuses the input transform and
 * adds two stages here: the output gradient's transform and its products. */
#ifndef COSNET_KERNELS_WINOGRAD_H
#define COSNET_KERNELS_WINOGRAD_H

#include <stddef.h>

#include "kernels/kernels.h"

#define WINOGRAD_FREQUENCIES 16

/* What the stages need to know about one layer and one block. */
typedef struct winograd_geometry {
    int in_channels, out_channels;
    int padded_out_channels; /* out_channels rounded up to the GEMM block */
    int in_height, in_width; /* padded input */
    size_t in_plane;
    int out_height, out_width;
    size_t out_plane;
    int tile_columns; /* (out_width + 1) / 2 */
    int row_tiles;    /* tiles a tile row takes in V and M: tile_columns,
                         or half a vector when paired */
    int paired;       /* 1: a vector holds two tile rows, each stage call
                         does tile rows tile_row and tile_row + 1 */
    size_t stride;    /* floats from one frequency's row of V or M to the
                         next: the block's tiles, rounded up to whole
                         vectors */
} winograd_geometry;

/* The input transform of tile row `tile_row` of one image (`image`: its
 * first padded input channel) for every input channel (and of tile row
 * tile_row + 1 too when paired): V's tiles of that row start at v (tile
 * column 0), channel ci of frequency f at v + (ci * 16 + f) * stride.
 * Input rows and columns past the padded input count as zeros. */
typedef void (*winograd_input_row)(const winograd_geometry *g,
                                   const float *image, int tile_row, float *v);

/* M = U V for the 16 frequencies, `tiles` tiles (rounded up to whole
 * vectors; V's extra tiles hold finite values) and the `block` output
 * channels from out_block (U padded with zero weights past out_channels):
 * channel out_block + c of frequency f at m + (c * 16 + f) * stride. */
typedef void (*winograd_multiply)(const winograd_geometry *g, const float *u,
                                  const float *v, int tiles, int out_block,
                                  float *m);

/* The output transform of tile row `tile_row` (m: that row's tile column
 * 0 in M as the multiply left it) for the output channels from out_block
 * to the block's end or out_channels, with bias (may be NULL) and ReLU,
 * into the image's output (`out`: its first channel); rows and columns past
 * the output are not written. */
typedef void (*winograd_output_row)(const winograd_geometry *g, const float *m,
                                    const float *bias, int relu, int tile_row,
                                    int out_block, float *out);

/* The output transform of tile row `tile_row` with bias, ReLU and the 2x2
 * max-pool (predictions): a 2x2 output tile is exactly one pool window, so
 * pooled row tile_row (and tile_row + 1 when paired), column tc is the
 * largest of tile tc's four outputs after ReLU, the same bits as
 * output_row then the max-pool. Pooled rows at or past out_height / 2 and
 * columns at or past out_width / 2 (an odd last row or column, which the
 * pool drops) are not written. `out` is the image's first pooled channel
 * plane; pooled channel c, row r, column x at
 * out[c * out_plane + r * out_row + x]. */
typedef void (*winograd_output_pool_row)(const winograd_geometry *g,
                                         const float *m, const float *bias,
                                         int tile_row, int out_block,
                                         float *out, size_t out_plane,
                                         size_t out_row);

/* The weight gradient's transform A dY A^T (winograd_weights.h) of tile row
 * `tile_row` (and tile_row + 1 when paired) of one image's output gradient
 * (`gradient`: its first channel, out_channels planes of out_height x
 * out_width) into w, laid out as V with output channels for input
 * channels: channel co of frequency f at w + (co * 16 + f) * stride.
 * Gradient rows and columns past the output read as zeros, so a tile past
 * the output transforms to zeros; when paired, every lane of the row's
 * vectors is written. */
typedef void (*winograd_gradient_row)(const winograd_geometry *g,
                                      const float *gradient, int tile_row,
                                      float *w);

/* The weight gradient's products: for each frequency f, input channel ci
 * and output channel co (of padded_out_channels),
 * m[(f * in_channels + ci) * padded_out_channels + co] += the sum over
 * `vectors` vectors of tiles of W's row (co, f) times V's row (ci, f),
 * along the lanes too (V's rows start on a vector). */
typedef void (*winograd_gradient_multiply)(const winograd_geometry *g,
                                           const float *v, const float *w,
                                           int vectors, float *m);

typedef struct winograd_microkernels {
    int lanes;        /* tiles per vector */
    int block;        /* output channels per GEMM register tile and per
                         block of M */
    int block_tiles;  /* tiles per block the stages work well on */
    int min_channels; /* the rule: Winograd when in_channels and
                         out_channels are both at least min_channels and
                         their product at least min_channel_product */
    int min_channel_product;
    int min_weight_channel_product; /* the weight gradient's rule: the
                                       same min_channels, and this */
    winograd_input_row input_row;
    winograd_multiply multiply;
    winograd_output_row output_row;
    winograd_output_pool_row output_pool_row;
    winograd_gradient_row gradient_row;
    winograd_gradient_multiply gradient_multiply;
} winograd_microkernels;

/* The plain-C stages (lanes 1, block 1), and each ISA's. */
extern const winograd_microkernels winograd_reference;
extern const winograd_microkernels winograd_avx2;
extern const winograd_microkernels winograd_avx512;
extern const winograd_microkernels winograd_neon;

/* Whether `microkernels` can run this shape (the stack buffer holds at
 * least one tile row). Says nothing about whether it pays. */
int winograd_fits(const winograd_microkernels *microkernels,
                  const conv_shape *shape);

/* The geometry of a layer (stride left 0: the caller's blocks set it). */
winograd_geometry winograd_layer_geometry(const winograd_microkernels *mk,
                                          const conv_shape *shape);

/* Floats of U, and U from OIHW weights. With rotate_swap, `weights` are
 * those of the convolution whose input gradient `shape` describes (its
 * in_channels are their out_channels): the kernel rotated by 180 degrees,
 * the channel axes swapped, as conv_driver.c packs them for the direct
 * input gradient. Returns whether every value of U is finite (weights near
 * FLT_MAX overflow in G g G^T). */
size_t winograd_packed_floats(const winograd_microkernels *microkernels,
                              const conv_shape *shape);
int winograd_pack(const winograd_microkernels *microkernels,
                  const conv_shape *shape, const float *weights,
                  int rotate_swap, float *packed);

/* conv3x3_forward_kernel's contract, on weights packed by winograd_pack.
 * Requires winograd_fits. Keeps V and M in 64 KB of the caller's stack. */
void winograd_forward(const winograd_microkernels *microkernels,
                      const conv_shape *shape, size_t count,
                      const float *input_padded, const float *packed,
                      const float *bias, int relu, float *output);

/* max-pool(ReLU(winograd_forward)) without storing the convolution's
 * output: pooled plane p = image * out_channels + co, row r, column c at
 * output[p * output_plane + r * output_row + c] (so it can write straight
 * into the next layer's padded input); nothing else of output is written.
 * The same bits as winograd_forward with ReLU followed by the max-pool.
 * Requires winograd_fits. */
void winograd_forward_relu_pool(const winograd_microkernels *microkernels,
                                const conv_shape *shape, size_t count,
                                const float *input_padded, const float *packed,
                                const float *bias, float *output,
                                size_t output_plane, size_t output_row);

#endif
