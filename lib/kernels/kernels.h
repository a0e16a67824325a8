/* Internal: the compute kernels and the table that dispatches them.
 *
 * Every operation has a plain-C reference (`*_scalar.c`) and SIMD variants
 * (`*_avx2.c`, `*_avx512.c` on x86-64, `*_neon.c` on AArch64), each compiled
 * with its own flags. dispatch.c
 * probes the CPU once and picks a table; tests hold every table the CPU can
 * run to the scalar one.
 *
 * Layouts: NCHW float32, each image's planes contiguous. Convolution input is
 * read from a zero-padded buffer (the pad already materialised) so that the
 * inner loops never test borders. */
#ifndef COSNET_KERNELS_H
#define COSNET_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "cosnet.h"
#include "kernels/adamw.h"
#include "kernels/dense.h"
#include "kernels/resample.h"

/* A 3x3, stride-1 convolution (cross-correlation, as in PyTorch). */
typedef struct conv_shape {
    int in_channels, out_channels;
    int in_height, in_width; /* unpadded input */
    int pad;                 /* zeros on every side */
} conv_shape;

static inline int conv_padded_height(const conv_shape *s)
{
    return s->in_height + 2 * s->pad;
}
static inline int conv_padded_width(const conv_shape *s)
{
    return s->in_width + 2 * s->pad;
}
static inline int conv_out_height(const conv_shape *s)
{
    return s->in_height + 2 * s->pad - 2;
}
static inline int conv_out_width(const conv_shape *s)
{
    return s->in_width + 2 * s->pad - 2;
}

/* Tiles of `tile` x `tile` outputs down and across the output, the last
 * row and column of tiles perhaps partial (the Winograd drivers'). */
static inline int conv_tile_rows(const conv_shape *s, int tile)
{
    return (conv_out_height(s) + tile - 1) / tile;
}
static inline int conv_tile_columns(const conv_shape *s, int tile)
{
    return (conv_out_width(s) + tile - 1) / tile;
}

/* value rounded up to a multiple of `multiple` (both positive). */
static inline int round_up_to(int value, int multiple)
{
    return (value + multiple - 1) / multiple * multiple;
}

/* output[i][co][oh][ow] = bias[co] + sum_{ci,kh,kw}
 *     weights[co][ci][kh][kw] * input_padded[i][ci][oh+kh][ow+kw],
 * then max(0, .) if relu. input_padded: count images of in_channels x
 * padded_height x padded_width; output: count x out_channels x out_height x
 * out_width; weights OIHW. */
typedef void (*conv3x3_forward_kernel)(const conv_shape *shape, size_t count,
                                       const float *input_padded,
                                       const float *weights, const float *bias,
                                       int relu, float *output);

/* input_grad[i][ci][ih][iw] = sum_{co,kh,kw} weights[co][ci][kh][kw] *
 *     output_grad[i][co][ih+pad-kh][iw+pad-kw]  (terms outside the output
 * grid are zero). input_grad: count x in_channels x in_height x in_width
 * (unpadded), overwritten. Requires pad <= 2. */
typedef void (*conv3x3_backward_input_kernel)(const conv_shape *shape,
                                              size_t count,
                                              const float *weights,
                                              const float *output_grad,
                                              float *input_grad);

/* weight_grad[co][ci][kh][kw] = sum_{i,oh,ow} output_grad[i][co][oh][ow] *
 *     input_padded[i][ci][oh+kh][ow+kw];  bias_grad[co] = sum_{i,oh,ow}
 * output_grad[i][co][oh][ow]. Both overwritten (summed over the batch). */
typedef void (*conv3x3_backward_weights_kernel)(
    const conv_shape *shape, size_t count, const float *input_padded,
    const float *output_grad, float *weight_grad, float *bias_grad);

/* 2x2 max-pool, stride 2, over `planes` planes of height x width (both even
 * or not: the last odd row/column is dropped, as in PyTorch).
 * output: plane p, row r, column c is written at
 *     output[p * output_plane_stride + r * output_row_stride + c]
 * so a caller can pool straight into the interior of the next layer's padded
 * buffer; argmax (dense, planes x height/2 x width/2) receives the winner's
 * position in its window: 0 (top-left), 1 (top-right), 2 (bottom-left),
 * 3 (bottom-right); the first maximum in that order wins. */
typedef void (*maxpool2x2_forward_kernel)(size_t planes, int height, int width,
                                          const float *input, float *output,
                                          size_t output_plane_stride,
                                          size_t output_row_stride,
                                          uint8_t *argmax);

/* input_grad (planes x height x width, overwritten) receives output_grad at
 * each window's argmax and zero elsewhere. If relu_output is not NULL (the
 * pooled values, laid out like output_grad), a gradient is only passed where
 * relu_output > 0: the pool's input was ReLU(x) and ReLU'(0) = 0. */
typedef void (*maxpool2x2_backward_kernel)(size_t planes, int height, int width,
                                           const float *output_grad,
                                           const uint8_t *argmax,
                                           const float *relu_output,
                                           float *input_grad);

/* The weight and bias gradients of a 3x3 convolution whose output went
 * through a 2x2 max-pool (and ReLU, if `pooled` is not NULL), from the
 * pool's output gradient alone: the convolution's output gradient is
 * output_grad at each window's argmax and 0 elsewhere (maxpool2x2_backward),
 * so only those pixels add to the sums, one term per pooled value:
 *     g = pooled_grad[o] if pooled == NULL or pooled[o] > 0, else 0
 *     bias_grad[co] += g
 *     weight_grad[co][ci][kh][kw] += g * input_padded[i][ci][y + kh][x + kw]
 * for o = (i, co, r, c) and (y, x) = (2r, 2c) moved by argmax[o] (0..3,
 * maxpool2x2_forward's). pooled_grad, pooled and argmax: count x
 * out_channels x (out_height / 2) x (out_width / 2). Both outputs are
 * overwritten. Every sum starts from +0 and takes its terms in the order
 * image, pooled row, pooled column, each product rounded, then added
 * (no fused multiply-add), so every variant gives the reference's bits.
 * Where the 4 x 4 input patch of a window (rows 2r .. 2r + 3, columns
 * 2c .. 2c + 3 of channel ci: every position its argmax can select) holds
 * only zeros, its nine terms for ci are skipped: for a finite g they are
 * +0 or -0, and a sum that starts from +0 never becomes -0 (x + -x is +0
 * when rounding to nearest), so skipping them changes no bit; for an
 * infinite or NaN g they would be NaN, which bias_grad carries anyway.
 * For a first layer (no input gradient), it replaces maxpool2x2_backward
 * and conv3x3_backward_weights: a quarter of the products, and no
 * convolution-sized gradient written and read back. The one difference:
 * those multiply every input pixel by its (mostly zero) gradient, so a
 * NaN or infinite input would reach every weight of its channel; this op
 * reads only the windows it sums. (Training's first-layer inputs are
 * pixels / 255, always finite.) A NULL entry in a table (NEON, not yet
 * timed against its unfused ops): the network runs the unfused ops. */
typedef void (*conv3x3_pool_backward_weights_kernel)(
    const conv_shape *shape, size_t count, const float *input_padded,
    const float *pooled, const float *pooled_grad, const uint8_t *argmax,
    float *weight_grad, float *bias_grad);

/* Window bits: the window positions (maxpool2x2_forward's argmax, 0..3)
 * of 16 output channels of one pooled pixel in one word, bit j the low
 * bit of channel j's position and bit 16 + j its high bit. A training
 * forward that holds the channels in the lanes (pool_rows_one_input)
 * writes them without transposing, and the op below reads them without
 * transposing back. */
static inline int window_position(uint32_t window_bits, int channel)
{
    return (int)((window_bits >> channel) & 1u) |
           (int)((window_bits >> (16 + channel)) & 1u) << 1;
}

/* conv3x3_pool_backward_weights with the positions as window bits:
 * out_channels a multiple of 16, the word of channels 16 k .. 16 k + 15
 * of image i, pooled row r, column c at window_bits[((i * out_channels /
 * 16 + k) * (out_height / 2) + r) * (out_width / 2) + c]. The same bits
 * as conv3x3_pool_backward_weights given the same positions. A NULL entry
 * in a table: the training forward writes argmax. */
typedef void (*conv3x3_pool_backward_weights_bits_kernel)(
    const conv_shape *shape, size_t count, const float *input_padded,
    const float *pooled, const float *pooled_grad, const uint32_t *window_bits,
    float *weight_grad, float *bias_grad);

/* cos_out[i] = cos(a_i, b_i) for count rows of `dims` floats, with
 * cos(a, b) = a.b / sqrt(max(|a|^2 |b|^2, eps^2)), eps = 1e-6.
 * Row i of a is a + i*dims; row i of b is b + i*b_stride (b_stride 0: one
 * shared row). */
typedef void (*cosine_similarity_kernel)(size_t count, size_t dims,
                                         const float *a, const float *b,
                                         size_t b_stride, float *cos_out);

/* Returns L = (1/count) sum_i (1 - cos(a_i, b_i)) and, if grad_a is not
 * NULL, writes dL/da (count x dims): -(1/count) * dcos/da_i, where
 * dcos/da = b/sqrt(|a|^2|b|^2) - cos * a/|a|^2 when unclamped and b/eps when
 * |a|^2|b|^2 < eps^2. */
typedef float (*cosine_loss_kernel)(size_t count, size_t dims, const float *a,
                                    const float *b, size_t b_stride,
                                    float *grad_a);

#define COSINE_EPSILON 1e-6f

/* Dense layers and the ReLU gradient: dense_forward_kernel,
 * dense_backward_input_kernel, dense_backward_weights_kernel,
 * dense_backward_weights_summed_kernel and relu_backward_kernel are
 * defined in dense.h. */

/* out[k] = pixels[k] / 255 for n pixels. */
typedef void (*pixels_to_float_kernel)(size_t n, const uint8_t *pixels,
                                       float *out);

/* ---- Convolution microkernels for the shared driver (conv_driver.c) ----
 * An ISA supplies the innermost loops; the ISA-neutral driver does the
 * planning, weight packing, padding, chunking and prefetch set-up. Tile
 * sizes are data in this structure, not code in the driver. */

/* What a forward strip needs to know about one image's planes. */
typedef struct conv_forward_geometry {
    int in_channels;
    int in_width;    /* padded */
    size_t in_plane; /* padded height x padded width */
    int out_height, out_width;
    size_t out_plane;
} conv_forward_geometry;

/* Software prefetch of the next image while this one is computed (the
 * hardware prefetchers do not follow the tiles' many short strided
 * streams). The driver sets it up; each strip issues its share. */
typedef struct conv_prefetch_stream {
    const char *next, *end;
    const char *next_out, *end_out;
    int lines_per_step;
} conv_prefetch_stream;

static inline void conv_prefetch_step(conv_prefetch_stream *stream)
{
    for (int k = 0; k < stream->lines_per_step; k++) {
        if (stream->next < stream->end) {
            __builtin_prefetch(stream->next, 0, 3);
            stream->next += 64;
        } else if (stream->next_out < stream->end_out) {
            __builtin_prefetch(stream->next_out, 0, 3);
            stream->next_out += 64;
        }
    }
}

/* A strip of tiles: a block of output channels x a group of rows x one or
 * two vectors per row, down every output row of one column segment. `in`
 * and `out` point at the segment's first column; the last vector of each
 * row holds `last_lanes` valid lanes. Only the first valid_co channels are
 * stored. `packed`: the block's weights laid out [ci][kh][kw][co]. */
typedef void (*conv_forward_strip)(const conv_forward_geometry *g,
                                   const float *in, const float *packed,
                                   const float *bias, int relu, int last_lanes,
                                   float *out, int valid_co,
                                   conv_prefetch_stream *stream);

/* The forward strip with ReLU and a 2x2 max-pool (conv_template.h's
 * forward_pool_strip): one vector per row, every row pair of one column
 * segment, the pooled values stored at out with the given channel and row
 * strides. */
typedef void (*conv_forward_pool_strip)(const conv_forward_geometry *g,
                                        const float *in, const float *packed,
                                        const float *bias, int last_lanes,
                                        float *out, size_t out_plane,
                                        size_t out_row, int valid_co);

/* The fused forward of one image's pooled rows (the pool strips' values),
 * each computed only over some of its columns: pooled row r over pooled
 * columns [spans[2 r], spans[2 r + 1]) (equal: none), rounded out to whole
 * vectors of output columns, and ReLU(bias[co]) (0 when bias is NULL) in
 * every other column; each row's `pooled_columns` values (at most the
 * ISA's lanes) stored for every channel co < valid_co at out + co *
 * out_plane + r * out_row. `in` points at the image's first padded input
 * row, column 0. The driver passes spans outside of which the pooled
 * values read only zeros, so they are ReLU(bias) (see conv_driver.c). */
typedef void (*conv_forward_pool_rows)(const conv_forward_geometry *g,
                                       const float *in, const float *packed,
                                       const float *bias, const uint8_t *spans,
                                       int pooled_columns, float *out,
                                       size_t out_plane, size_t out_row,
                                       int valid_co);

/* pool_rows for one input channel and 16 output channels (two forward
 * blocks of 8: `packed` points at the first), every channel valid and
 * bias a vector of 16 (or NULL). If argmax is not NULL it also receives
 * each pooled value's position in its window, as the max-pool's argmax
 * (0 outside the spans, where the four values are equal): channel co,
 * pooled row r, column c at argmax[(co * pooled_rows + r) *
 * pooled_columns + c], pooled_rows = g->out_height / 2. If window_bits
 * is not NULL (and argmax NULL), the positions go there instead as
 * window bits (below), pooled row r, column c at window_bits[r *
 * pooled_columns + c]. If copy is not NULL the pooled values go there too,
 * at copy + co * copy_plane + r * copy_row (training: the dense output is
 * the backward pass's ReLU mask, the copy the next convolution's padded
 * input). */
typedef void (*conv_forward_pool_rows_one_input)(
    const conv_forward_geometry *g, const float *in, const float *packed,
    const float *bias, const uint8_t *spans, int pooled_columns, float *out,
    size_t out_plane, size_t out_row, uint8_t *argmax, uint32_t *window_bits,
    float *copy, size_t copy_plane, size_t copy_row);

/* For each of `rows` rows of `width` <= 64 floats, row_stride apart from
 * `plane`: masks[y] |= bit x set where row y's value x is not zero (+0 and
 * -0 are zero, NaN is not). */
typedef void (*conv_nonzero_columns)(const float *plane, int width, int rows,
                                     size_t row_stride, uint64_t *masks);

/* The strips for one block width: for one-vector and two-vector column
 * segments, with their rows per group, and one-row variants for images
 * shorter than a group. */
typedef struct conv_forward_plan {
    int rows_one, rows_two;
    conv_forward_strip one, one_row_one, two, one_row_two;
} conv_forward_plan;

typedef struct conv_weight_geometry {
    size_t count;    /* images in this chunk */
    int in_width;    /* padded */
    size_t in_plane; /* padded */
    size_t in_image; /* floats per input image */
    int out_height, out_width;
    size_t out_plane;
    size_t out_image; /* floats per output-gradient image */
} conv_weight_geometry;

/* Weight-gradient sums for nco output channels and one input channel, all
 * 9 offsets, over the chunk's images, into vector partial sums (`lanes`
 * floats each): partial + (co * co_stride + k) * lanes, stored when `first`,
 * added otherwise. `in` points at channel ci of the chunk's first image,
 * `dy` at the block's first output channel. */
typedef void (*conv_weight_tile)(const conv_weight_geometry *g, const float *in,
                                 const float *dy, float *partial,
                                 size_t co_stride, int first);

/* out[k] = the sum of the `lanes` floats of partial vector k. */
typedef void (*conv_reduce_partials)(size_t count, const float *partial,
                                     float *out);

/* The sum of `plane` floats at data + i * stride, over `count` images. */
typedef float (*conv_sum_planes)(size_t count, size_t stride, size_t plane,
                                 const float *data);

struct winograd_microkernels;  /* winograd.h */
struct winograd4_microkernels; /* winograd4.h */

#define CONV_MAX_BLOCK_WIDTHS 4 /* blocks of 1, 2, 4, 8 channels */
#define CONV_MAX_WEIGHT_TILE 3  /* output channels per weight tile */

typedef struct conv3x3_microkernels {
    int lanes;         /* floats per vector */
    int forward_block; /* output channels per full forward block (<= 8) */
    /* plans[log2(width)] for block widths 1, 2, 4 .. forward_block */
    conv_forward_plan plans[CONV_MAX_BLOCK_WIDTHS];
    /* pool_strips[log2(width)]: the same blocks, pooled (predictions). */
    conv_forward_pool_strip pool_strips[CONV_MAX_BLOCK_WIDTHS];
    /* Optional (NULL: the driver skips zero rows only): pool_rows, indexed
     * like pool_strips, and nonzero_columns, with which the driver computes
     * only the columns of each pooled row that read a nonzero input. */
    conv_forward_pool_rows pool_rows[CONV_MAX_BLOCK_WIDTHS];
    conv_nonzero_columns nonzero_columns;
    /* Optional (NULL: pool_rows): the same for one input channel, 16
     * output channels at a time, where forward_block is 8. */
    conv_forward_pool_rows_one_input pool_rows_one_input;
    /* A batch whose input and output are smaller than this stays in L2:
     * no software prefetch (0: always prefetch). */
    size_t prefetch_min_bytes;
    /* weight_tiles[nco] for nco = 1 .. CONV_MAX_WEIGHT_TILE (NULL where an
     * ISA has none), and the streaming tiles that load every vector once
     * for all three kernel rows (need out_height >= 2). */
    conv_weight_tile weight_tiles[CONV_MAX_WEIGHT_TILE + 1];
    conv_weight_tile weight_stream_tiles[CONV_MAX_WEIGHT_TILE + 1];
    /* Images per weight-gradient chunk: inputs and gradients of that many
     * bytes stay in L2 while every tile passes over them. */
    size_t weight_chunk_bytes;
    conv_reduce_partials reduce_partials;
    conv_sum_planes sum_planes;
    /* The ISA's Winograd forward stages (NULL: direct only); the driver
     * uses them for the shapes their rule accepts. */
    const struct winograd_microkernels *winograd;
    /* The ISA's Winograd F(4x4) stages (NULL: none): among the shapes the
     * F(2x2) rule accepts, the driver uses them where they fit and their
     * own rule accepts. */
    const struct winograd4_microkernels *winograd4;
} conv3x3_microkernels;

/* ---- The per-op configuration ------------------------------------------
 * One entry per operation, filled once: first with the plain-C reference
 * of every op, then each ISA the CPU runs overwrites the entries it has
 * (kernels_provide_<isa> in the ISA's files). A new op therefore lands with
 * its reference alone, and an ISA adds its version when it has one. */
typedef struct kernel_table {
    const char *name; /* "scalar", "avx2", "avx512", "neon" */
    /* Convolution: the ISA's microkernels for the shared driver
     * (conv_driver.h, whose entry points run the conv3x3_*_kernel ops
     * above), or NULL for the reference. */
    const conv3x3_microkernels *conv3x3;
    maxpool2x2_forward_kernel maxpool2x2_forward;
    maxpool2x2_backward_kernel maxpool2x2_backward;
    conv3x3_pool_backward_weights_kernel conv3x3_pool_backward_weights;
    conv3x3_pool_backward_weights_bits_kernel
        conv3x3_pool_backward_weights_bits;
    cosine_similarity_kernel cosine_similarity;
    cosine_loss_kernel cosine_loss;
    dense_forward_kernel dense_forward;
    dense_backward_input_kernel dense_backward_input;
    dense_backward_weights_kernel dense_backward_weights;
    dense_backward_weights_summed_kernel dense_backward_weights_summed;
    relu_backward_kernel relu_backward;
    pixels_to_float_kernel pixels_to_float;
    adamw_step_kernel adamw_step; /* kernels/adamw.h */
    resample_kernel resample;     /* kernels/resample.h */
} kernel_table;

/* The plain-C references (every op has one). */
void conv3x3_forward_scalar(const conv_shape *, size_t, const float *,
                            const float *, const float *, int, float *);
/* max-pool(ReLU(forward)) of every image, straight from the convolution:
 * pooled plane p = image * out_channels + co, row r, column c at
 * output[p * output_plane + r * output_row + c] (the max-pool's output
 * layout, so it can write into the next layer's padded buffer). */
void conv3x3_forward_relu_pool_scalar(const conv_shape *, size_t, const float *,
                                      const float *, const float *, float *,
                                      size_t, size_t);
void conv3x3_backward_input_scalar(const conv_shape *, size_t, const float *,
                                   const float *, float *);
void conv3x3_backward_weights_scalar(const conv_shape *, size_t, const float *,
                                     const float *, float *, float *);
void conv3x3_pool_backward_weights_scalar(const conv_shape *, size_t,
                                          const float *, const float *,
                                          const float *, const uint8_t *,
                                          float *, float *);
void maxpool2x2_forward_scalar(size_t, int, int, const float *, float *, size_t,
                               size_t, uint8_t *);
void maxpool2x2_backward_scalar(size_t, int, int, const float *,
                                const uint8_t *, const float *, float *);
void cosine_similarity_scalar(size_t, size_t, const float *, const float *,
                              size_t, float *);
float cosine_loss_scalar(size_t, size_t, const float *, const float *, size_t,
                         float *);
/* (dense_*_scalar and relu_backward_scalar: dense.h) */
void pixels_to_float_scalar(size_t, const uint8_t *, float *);

/* Each ISA's provider overwrites the entries it implements. */
typedef void (*kernel_provider)(kernel_table *table);
void kernels_provide_scalar(kernel_table *table);
void conv_provide_avx2(kernel_table *table);
void conv3x3_pool_backward_weights_avx2(const conv_shape *, size_t,
                                        const float *, const float *,
                                        const float *, const uint8_t *, float *,
                                        float *);
void pool_provide_avx2(kernel_table *table);
void cosine_provide_avx2(kernel_table *table);
void conv_provide_avx512(kernel_table *table);
void conv3x3_pool_backward_weights_avx512(const conv_shape *, size_t,
                                          const float *, const float *,
                                          const float *, const uint8_t *,
                                          float *, float *);
void conv3x3_pool_backward_weights_bits_avx512(const conv_shape *, size_t,
                                               const float *, const float *,
                                               const float *, const uint32_t *,
                                               float *, float *);
void pool_provide_avx512(kernel_table *table);
void cosine_provide_avx512(kernel_table *table);
void conv_provide_neon(kernel_table *table);
void pool_provide_neon(kernel_table *table);
void cosine_provide_neon(kernel_table *table);
void adamw_provide_avx2(kernel_table *table);
void adamw_provide_avx512(kernel_table *table);
void resample_provide_avx2(kernel_table *table);
void resample_provide_avx512(kernel_table *table);

/* The table this process uses: chosen once (thread-safe) from the CPU and
 * COSNET_ISA. Returns COSNET_OK, or COSNET_ERROR_UNSUPPORTED with the
 * message set when COSNET_ISA asks for something unavailable. Every
 * computing entry point of the library calls this first: it is the one
 * place the dispatch guard lives. */
cosnet_status kernels_active(const kernel_table **table);

/* The table named `name` if this build has it and this CPU can run it, else
 * NULL. For tests and benchmarks that compare variants. */
const kernel_table *kernels_by_name(const char *name);

/* Names of all variants this build knows, NULL-terminated, worst first. */
extern const char *const kernel_variant_names[];

#endif
