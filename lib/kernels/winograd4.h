/* Internal: the 3x3 convolution forward pass by Winograd's F(4x4, 3x3)
 * (Lavin and Gray 2016, points 0, 1, -1, 2, -2 and infinity). A tile is
 * 4 x 4 output pixels of one output channel, from a 6 x 6 patch of each
 * input channel:
 *
 *   Y = A^T [ sum_ci (G g_ci G^T) .* (B^T d_ci B) ] A
 *
 * with 36 "frequencies": 36 products per 16 outputs instead of F(2x2)'s 16
 * per 4, 1.78 times fewer. The transforms are larger (B^T has entries 4 and
 * 5, A^T entries up to 8), so it pays only where the products dominate, and
 * the rounding bound grows (below).
 *
 * The stages work on one whole image at a time: V [ci][36][tile slots] and
 * M [co][36][tile slots], tile (q, tc) in slot q * slot_columns + tc. The
 * AVX-512 stages take images of at most 4 x 4 tiles (outputs up to 16 x 16:
 * every convolution of the seed network and the classifier but conv1), one
 * vector per frequency, lane q * 4 + tc; the plain-C stages take any image
 * whose V and M fit the buffer. Images never share a vector, so an image's
 * output does not depend on its batch.
 *
 * Rounding: a path from an input to an output passes through at most
 * in_channels + 13 roundings: U is computed in double and rounded to float
 * (counted as 2, covering the double's own error), V = B^T d B takes 2 per
 * direction (4), the products and the sum over input channels in_channels,
 * A^T M A 3 per direction (6), the bias 1. The error is within
 * gamma(in_channels + 13) times the same expression on absolute values
 * (tests/winograd4_bound.h). */
#ifndef COSNET_KERNELS_WINOGRAD4_H
#define COSNET_KERNELS_WINOGRAD4_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"

#define WINOGRAD4_FREQUENCIES 36

/* What the stages need to know about one layer. */
typedef struct winograd4_geometry {
    int in_channels, out_channels;
    int padded_out_channels; /* out_channels rounded up to the block */
    int in_height, in_width; /* padded input */
    size_t in_plane;
    int out_height, out_width;
    size_t out_plane;
    int tile_rows, tile_columns; /* (out_height + 3) / 4, (out_width + 3) / 4 */
    int slot_columns;            /* tile slots per tile row in V and M */
    size_t stride; /* floats from one frequency's row of V or M to the next:
                      the image's slots, rounded up to whole vectors */
} winograd4_geometry;

/* V of every input channel of one image (`image`: its first padded input
 * channel): channel ci, frequency f at v + (ci * 36 + f) * stride. Input
 * rows and columns past the padded input count as zeros. */
typedef void (*winograd4_input_image)(const winograd4_geometry *g,
                                      const float *image, float *v);

/* M = U V of the block of output channels from out_block (U padded with
 * zero weights past out_channels): channel out_block + c, frequency f at
 * m + (c * 36 + f) * stride. */
typedef void (*winograd4_multiply)(const winograd4_geometry *g, const float *u,
                                   const float *v, int out_block, float *m);

/* The output transform of the block's channels (to out_channels at most),
 * with bias (may be NULL) and ReLU, into the image's output: channel c,
 * row r, column x at out[c * out_plane + r * out_row + x] (dense planes:
 * out_height * out_width and out_width; or the next convolution's padded
 * input). */
typedef void (*winograd4_output_image)(const winograd4_geometry *g,
                                       const float *m, const float *bias,
                                       int relu, int out_block, float *out,
                                       size_t out_plane, size_t out_row);

/* The same with ReLU and the 2x2 max-pool: pooled channel c, row r, column
 * x at out[c * out_plane + r * out_row + x], rows below out_height / 2 and
 * columns below out_width / 2 only; the same bits as output_image with ReLU
 * then the max-pool. */
typedef void (*winograd4_output_pool_image)(const winograd4_geometry *g,
                                            const float *m, const float *bias,
                                            int out_block, float *out,
                                            size_t out_plane, size_t out_row);

/* The training forward's pool (ReLU, 2x2 max-pool and its argmax): the
 * block's pooled values (to out_channels at most) into `out`, dense planes
 * of out_height / 2 x out_width / 2 from the image's first channel, each
 * window's argmax likewise into `argmax` (maxpool2x2_forward's order and
 * ties: the first maximum wins) and, if copy is not NULL, the pooled values
 * also at copy[c * copy_plane + r * copy_row + x] (the next convolution's
 * padded input). The same bits as output_image with ReLU then
 * maxpool2x2_forward. */
typedef void (*winograd4_output_pool_argmax_image)(
    const winograd4_geometry *g, const float *m, const float *bias,
    int out_block, float *out, uint8_t *argmax, float *copy, size_t copy_plane,
    size_t copy_row);

/* U = G g G^T of every (output, input) channel pair, in double, each value
 * rounded once to float: U [36][in_channels][padded_out_channels] from OIHW
 * weights, or, with rotate_swap, from the weights rotated by 180 degrees
 * with the channels swapped (the input gradient's convolution: `shape` is
 * that convolution's). Columns from out_channels to padded_out_channels are
 * zeros. Returns whether every value of U times 512 is finite. Every
 * variant gives the reference's bits (the files are compiled without
 * contraction). */
typedef int (*winograd4_pack_weights)(const conv_shape *shape,
                                      const float *weights, int rotate_swap,
                                      int padded_out_channels, float *packed);

/* The weight gradient's stages (winograd4_weights.h). W = A dY A^T of every
 * output channel of one image (`gradient`: its first output-gradient
 * channel, out_height x out_width planes): channel co, frequency f at
 * w + (co * 36 + f) * stride, in V's tile slots; outputs past the output
 * count as zeros. Rows of the padded output channels are not written. */
typedef void (*winograd4_gradient_image)(const winograd4_geometry *g,
                                         const float *gradient, float *w);

/* M [36][in_channels][padded_out_channels] += the sums over `images`
 * images and their `stride` tile slots (whole vectors) of W[co][f] .*
 * V[ci][f], for every frequency f and channel pair: V and W of each image
 * as the stages above write them, image k's at v + k * v_image and
 * w + k * w_image. */
typedef void (*winograd4_gradient_multiply)(const winograd4_geometry *g,
                                            const float *v, size_t v_image,
                                            const float *w, size_t w_image,
                                            size_t images, float *m);

/* weight_grad (OIHW, out_channels x in_channels x 9) = G^T M G of every
 * channel pair, M [36][in_channels][padded_out] as gradient_multiply
 * sums it, in double, each value rounded once to float. Every variant
 * gives the same bits (winograd4_weights_of_template.h). */
typedef void (*winograd4_weights_of)(const conv_shape *shape, int padded_out,
                                     const float *m, float *weight_grad);

typedef struct winograd4_microkernels {
    int lanes;            /* tile slots per vector */
    int block;            /* output channels per block of M */
    int max_tile_rows;    /* 0: any */
    int max_tile_columns; /* 0: any; else also the slot columns */
    /* The rule, among the shapes F(2x2) takes: F(4x4) when the product of
     * the channel counts is at least min_channel_product. */
    int min_channel_product;
    winograd4_input_image input_image;
    winograd4_multiply multiply;
    winograd4_output_image output_image;
    winograd4_output_pool_image output_pool_image;
    winograd4_output_pool_argmax_image output_pool_argmax_image; /* or NULL */
    winograd4_pack_weights pack;
    /* The weight gradient: F(4x4) where the F(2x2) weight rule accepts the
     * shape and an image has at least min_weight_tiles tiles (0: never). */
    int min_weight_tiles;
    winograd4_gradient_image gradient_image;
    winograd4_gradient_multiply gradient_multiply;
    winograd4_weights_of weights_of;
} winograd4_microkernels;

/* The packings: plain C (winograd4_pack.c) and AVX-512, eight output
 * channels per vector (winograd4_pack_avx512.c). */
int winograd4_pack_scalar(const conv_shape *shape, const float *weights,
                          int rotate_swap, int padded_out_channels,
                          float *packed);
int winograd4_pack_avx512(const conv_shape *shape, const float *weights,
                          int rotate_swap, int padded_out_channels,
                          float *packed);

/* G^T M G in plain C, and compiled for AVX-512. */
void winograd4_weights_of_scalar(const conv_shape *shape, int padded_out,
                                 const float *m, float *weight_grad);
void winograd4_weights_of_avx512(const conv_shape *shape, int padded_out,
                                 const float *m, float *weight_grad);

/* The plain-C stages (lanes 1, block 1), and AVX-512's. */
extern const winograd4_microkernels winograd4_reference;
extern const winograd4_microkernels winograd4_avx512;

/* The geometry of a shape for these stages, `stride` that of one image:
 * its tile slots rounded up to whole vectors. */
winograd4_geometry winograd4_geometry_of(const winograd4_microkernels *mk,
                                         const conv_shape *shape);

/* Whether the shape has an output within the stages' tile limits. */
int winograd4_tiles_fit(const winograd4_microkernels *microkernels,
                        const conv_shape *shape);

/* Whether these stages run this shape (tile limits; V and M of one image
 * fit the stack buffer). */
int winograd4_fits(const winograd4_microkernels *microkernels,
                   const conv_shape *shape);

/* winograd_pack's contract (winograd.h) for F(4x4): U [36][ci][co padded]
 * from OIHW weights, rotated and channel-swapped with rotate_swap; returns
 * whether every value of U times 512 is finite (winograd4.c says why). */
size_t winograd4_packed_floats(const winograd4_microkernels *microkernels,
                               const conv_shape *shape);
int winograd4_pack(const winograd4_microkernels *microkernels,
                   const conv_shape *shape, const float *weights,
                   int rotate_swap, float *packed);

/* winograd_forward and winograd_forward_relu_pool (winograd.h) for
 * F(4x4). Require winograd4_fits. */
void winograd4_forward(const winograd4_microkernels *microkernels,
                       const conv_shape *shape, size_t count,
                       const float *input_padded, const float *packed,
                       const float *bias, int relu, float *output);
/* winograd4_forward writing channel c, row r, column x of image i at
 * output[(i * out_channels + c) * output_plane + r * output_row + x]
 * (output_plane >= out_height * output_row, output_row >= out_width):
 * e.g. into the interior of the next convolution's padded input. Nothing
 * else is written. */
void winograd4_forward_into(const winograd4_microkernels *microkernels,
                            const conv_shape *shape, size_t count,
                            const float *input_padded, const float *packed,
                            const float *bias, int relu, float *output,
                            size_t output_plane, size_t output_row);
/* Floats of V of one image ([ci][36][stride]), and winograd4_forward
 * that leaves every image's V there too: image i at kept_v + i *
 * winograd4_kept_floats (the weight gradient reads it back,
 * winograd4_weights.h). */
size_t winograd4_kept_floats(const winograd4_microkernels *microkernels,
                             const conv_shape *shape);
void winograd4_forward_keeping(const winograd4_microkernels *microkernels,
                               const conv_shape *shape, size_t count,
                               const float *input_padded, const float *packed,
                               const float *bias, int relu, float *output,
                               float *kept_v);
void winograd4_forward_relu_pool(const winograd4_microkernels *microkernels,
                                 const conv_shape *shape, size_t count,
                                 const float *input_padded, const float *packed,
                                 const float *bias, float *output,
                                 size_t output_plane, size_t output_row);
/* The training forward of a convolution with ReLU and a 2x2 max-pool, by
 * the output_pool_argmax_image stage (not NULL): image i's pooled values
 * and argmax at output and argmax + i * out_channels * (out_height / 2) *
 * (out_width / 2), the copy (if not NULL) at copy + i * out_channels *
 * copy_plane, and, if kept_v is not NULL, its V as
 * winograd4_forward_keeping leaves it. */
void winograd4_forward_relu_pool_argmax(
    const winograd4_microkernels *microkernels, const conv_shape *shape,
    size_t count, const float *input_padded, const float *packed,
    const float *bias, float *output, uint8_t *argmax, float *copy,
    size_t copy_plane, size_t copy_row, float *kept_v);

#endif
