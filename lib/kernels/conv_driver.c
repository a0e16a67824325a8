/* The ISA-neutral 3x3 convolution driver (see conv_driver.h).
 *
 * Forward is a direct convolution vectorised along the output row: the
 * microkernel "strips" keep a block of output channels x a group of rows x
 * one or two vectors of accumulators in registers while they walk every
 * input channel. The driver cuts the output channels into blocks (8, then
 * 4/2/1 for the remainder, extra channels getting zero weights), each row
 * into one- or two-vector column segments, and picks the strip for each.
 *
 * The input gradient is the forward convolution of the output gradient,
 * zero-padded by 2 - pad, with the kernel rotated by 180 degrees and its
 * channel axes swapped. Weight gradients are summed by tiles into vector
 * partial sums, a few L2-sized chunks of images at a time, and reduced
 * horizontally once; where the ISA's rule accepts the channels, by
 * Winograd instead (winograd_weights.h). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/memory.h"
#include "kernels/conv_driver.h"
#include "kernels/winograd.h"
#include "kernels/winograd4.h"
#include "kernels/winograd4_weights.h"
#include "kernels/winograd_weights.h"

/* ---- Weight packing -----------------------------------------------------
 * Output channels are processed in blocks of `main_block`; the last,
 * partial block is rounded up to a power of two (at most main_block) and its
 * extra channels get zero weights, so one strip per block width covers every
 * channel count with little wasted work. */
static int block_width(int remaining, int main_block)
{
    if (remaining >= main_block)
        return main_block;
    int width = 1;
    while (width < remaining)
        width *= 2;
    return width < main_block ? width : main_block;
}

static size_t packed_floats(int out_channels, int in_channels, int main_block)
{
    size_t total = 0;
    for (int co = 0; co < out_channels;) {
        int width = block_width(out_channels - co, main_block);
        total += (size_t)width * in_channels * 9;
        co += width < out_channels - co ? width : out_channels - co;
    }
    return total;
}

/* Lays OIHW weights out as [block][ci][kh][kw][co_in_block]. With
 * `rotate_swap` the packed convolution is the one whose forward pass
 * computes the input gradient: its output channel o is an input channel of
 * `weights`, its input channel c an output channel, the kernel rotated by
 * 180 degrees. out_channels/in_channels describe the packed convolution. */
static void pack_weights(int out_channels, int in_channels,
                         const float *weights, int rotate_swap, int main_block,
                         float *packed)
{
    for (int co0 = 0; co0 < out_channels;) {
        int width = block_width(out_channels - co0, main_block);
        for (int ci = 0; ci < in_channels; ci++)
            for (int k = 0; k < 9; k++)
                for (int b = 0; b < width; b++) {
                    int co = co0 + b;
                    float value = 0.0f;
                    if (co < out_channels)
                        value =
                            rotate_swap
                                ? weights[((size_t)ci * out_channels + co) * 9 +
                                          (8 - k)]
                                : weights[((size_t)co * in_channels + ci) * 9 +
                                          k];
                    *packed++ = value;
                }
        co0 += width < out_channels - co0 ? width : out_channels - co0;
    }
}

/* ---- The choice of algorithm -------------------------------------------
 * Winograd F(2x2, 3x3) (winograd.h) does the forward pass with 2.25 times
 * fewer multiplications, but its transforms cost a fixed amount per tile
 * and channel, so it pays only with enough channels on both sides; the
 * ISA's rule (min_channels, min_channel_product) was measured with
 * bench_kernels' "rule" lines. */
/* Whether a shape has the channels a Winograd rule asks for: at least
 * min_channels on each side and min_product pairs. */
static int enough_channels(const winograd_microkernels *w,
                           const conv_shape *shape, int min_product)
{
    return shape->in_channels >= w->min_channels &&
           shape->out_channels >= w->min_channels &&
           shape->in_channels * shape->out_channels >= min_product;
}

static const winograd_microkernels *forward_winograd(const kernel_table *table,
                                                     const conv_shape *shape)
{
    const conv3x3_microkernels *mk = table->conv3x3;
    if (!mk || !mk->winograd)
        return NULL;
    const winograd_microkernels *w = mk->winograd;
    if (!enough_channels(w, shape, w->min_channel_product) ||
        !winograd_fits(w, shape))
        return NULL;
    return w;
}

/* Among the Winograd shapes, F(4x4, 3x3) (winograd4.h) where the ISA has
 * its stages, they fit (AVX-512: outputs up to 16 x 16) and its rule
 * accepts: 1.78 times fewer products than F(2x2) for larger transforms.
 * The packed weights are then its U. */
static const winograd4_microkernels *
forward_winograd4(const kernel_table *table, const conv_shape *shape)
{
    if (!forward_winograd(table, shape))
        return NULL;
    const winograd4_microkernels *w4 = table->conv3x3->winograd4;
    if (!w4 ||
        shape->in_channels * shape->out_channels < w4->min_channel_product ||
        !winograd4_fits(w4, shape))
        return NULL;
    return w4;
}

/* A Winograd shape's packed weights start with a header vector: header[0]
 * is 1 when U follows, 0 when U overflowed and the direct packing follows
 * instead. Weights near FLT_MAX then reach the output as the direct sum's
 * infinities, which the library reports as not finite, rather than as
 * Winograd's inf - inf = NaN, which ReLU turns into 0. */
#define WINOGRAD_HEADER_FLOATS 16

/* Whether a Winograd shape's packed weights (header first) hold U. */
static int holds_transformed(const float *packed)
{
    return packed[0] != 0.0f;
}

static size_t winograd_or_direct_floats(const kernel_table *table,
                                        const winograd_microkernels *w,
                                        const conv_shape *winograd_shape,
                                        size_t direct_floats)
{
    const winograd4_microkernels *w4 = forward_winograd4(table, winograd_shape);
    const size_t u = w4 ? winograd4_packed_floats(w4, winograd_shape)
                        : winograd_packed_floats(w, winograd_shape);
    return WINOGRAD_HEADER_FLOATS + (u > direct_floats ? u : direct_floats);
}

int conv3x3_forward_uses_winograd(const kernel_table *table,
                                  const conv_shape *shape)
{
    return forward_winograd(table, shape) != NULL;
}

/* The convolution whose forward pass is this shape's input gradient: the
 * output gradient zero-padded by 2 - pad, channels swapped. */
static conv_shape input_gradient_shape(const conv_shape *shape)
{
    const conv_shape gradient = {
        .in_channels = shape->out_channels,
        .out_channels = shape->in_channels,
        .in_height = conv_out_height(shape),
        .in_width = conv_out_width(shape),
        .pad = 2 - shape->pad,
    };
    return gradient;
}

static const winograd_microkernels *
input_gradient_winograd(const kernel_table *table, const conv_shape *shape)
{
    const conv_shape gradient = input_gradient_shape(shape);
    return forward_winograd(table, &gradient);
}

int conv3x3_backward_input_uses_winograd(const kernel_table *table,
                                         const conv_shape *shape)
{
    return input_gradient_winograd(table, shape) != NULL;
}

int conv3x3_forward_uses_winograd4(const kernel_table *table,
                                   const conv_shape *shape)
{
    return forward_winograd4(table, shape) != NULL;
}

int conv3x3_backward_input_uses_winograd4(const kernel_table *table,
                                          const conv_shape *shape)
{
    const conv_shape gradient = input_gradient_shape(shape);
    return forward_winograd4(table, &gradient) != NULL;
}

size_t conv3x3_packed_forward_floats(const kernel_table *table,
                                     const conv_shape *shape)
{
    const conv3x3_microkernels *mk = table->conv3x3;
    const winograd_microkernels *w = forward_winograd(table, shape);
    if (!mk)
        return (size_t)shape->out_channels * shape->in_channels * 9;
    const size_t direct = packed_floats(shape->out_channels, shape->in_channels,
                                        mk->forward_block);
    return w ? winograd_or_direct_floats(table, w, shape, direct) : direct;
}

size_t conv3x3_packed_backward_floats(const kernel_table *table,
                                      const conv_shape *shape)
{
    const conv3x3_microkernels *mk = table->conv3x3;
    const winograd_microkernels *w = input_gradient_winograd(table, shape);
    if (!mk)
        return (size_t)shape->out_channels * shape->in_channels * 9;
    const size_t direct = packed_floats(shape->in_channels, shape->out_channels,
                                        mk->forward_block);
    const conv_shape gradient = input_gradient_shape(shape);
    return w ? winograd_or_direct_floats(table, w, &gradient, direct) : direct;
}

void conv3x3_pack_forward(const kernel_table *table, const conv_shape *shape,
                          const float *weights, float *packed)
{
    const conv3x3_microkernels *mk = table->conv3x3;
    const winograd_microkernels *w = forward_winograd(table, shape);
    if (!mk) {
        memcpy(packed, weights,
               sizeof(float) * conv3x3_packed_forward_floats(table, shape));
        return;
    }
    if (w) {
        memset(packed, 0, sizeof(float) * WINOGRAD_HEADER_FLOATS);
        packed += WINOGRAD_HEADER_FLOATS;
        const winograd4_microkernels *w4 = forward_winograd4(table, shape);
        if (w4 ? winograd4_pack(w4, shape, weights, 0, packed)
               : winograd_pack(w, shape, weights, 0, packed)) {
            packed[-WINOGRAD_HEADER_FLOATS] = 1.0f; /* holds U */
            return;
        }
    }
    pack_weights(shape->out_channels, shape->in_channels, weights, 0,
                 mk->forward_block, packed);
}

void conv3x3_pack_backward(const kernel_table *table, const conv_shape *shape,
                           const float *weights, float *packed)
{
    const conv3x3_microkernels *mk = table->conv3x3;
    const winograd_microkernels *w = input_gradient_winograd(table, shape);
    if (!mk) {
        memcpy(packed, weights,
               sizeof(float) * conv3x3_packed_backward_floats(table, shape));
        return;
    }
    if (w) {
        const conv_shape gradient = input_gradient_shape(shape);
        memset(packed, 0, sizeof(float) * WINOGRAD_HEADER_FLOATS);
        packed += WINOGRAD_HEADER_FLOATS;
        const winograd4_microkernels *w4 = forward_winograd4(table, &gradient);
        if (w4 ? winograd4_pack(w4, &gradient, weights, 1, packed)
               : winograd_pack(w, &gradient, weights, 1, packed)) {
            packed[-WINOGRAD_HEADER_FLOATS] = 1.0f; /* holds U */
            return;
        }
    }
    pack_weights(shape->in_channels, shape->out_channels, weights, 1,
                 mk->forward_block, packed);
}

/* ---- Rows that read only zeros --------------------------------------------
 * Output rows whose inputs are all zero (the empty top and bottom of a
 * digit: 19% of conv1's pooled rows on MNIST) are ReLU(bias): with finite
 * weights, the strips' sums of zero products are +0 or -0 before the
 * bias, and ReLU makes any zero +0. The forward passes with ReLU write
 * that value there instead of running the strips: the same bits. */

/* Whether n floats are all finite (a NaN or an infinity times a zero input
 * is NaN, so only finite weights turn zero inputs into the bias alone). */
static int all_finite(const float *values, size_t n)
{
    int finite = 1;
    for (size_t k = 0; k < n; k++)
        finite &= isfinite(values[k]) != 0;
    return finite;
}

/* Scanning a padded row costs one comparison per input value; computing
 * an output row 9 x out_channels multiply-adds per input value. With few
 * output channels (the seed's conv3 has one, and its input is rarely
 * zero) the scan costs about what it can save. */
static int scan_pays(int out_channels)
{
    return out_channels >= 8;
}

/* Whether padded row y is zero (+0 or -0) in every channel. */
static int padded_row_is_zero(const conv_forward_geometry *g,
                              const float *image, int y)
{
    int nonzero = 0;
    for (int c = 0; c < g->in_channels; c++) {
        const float *row =
            image + (size_t)c * g->in_plane + (size_t)y * g->in_width;
        for (int x = 0; x < g->in_width; x++)
            nonzero |= row[x] != 0.0f; /* -0 == 0; NaN != 0 */
    }
    return !nonzero;
}

/* The first and the last padded row of one image holding a nonzero
 * value; 0 if there is none. Scanning from each end stops at the first
 * nonzero row. */
static int nonzero_rows(const conv_forward_geometry *g, const float *image,
                        int *top, int *bottom)
{
    const int rows = g->out_height + 2;
    int y = 0;
    while (y < rows && padded_row_is_zero(g, image, y))
        y++;
    if (y == rows)
        return 0;
    *top = y;
    y = rows - 1;
    while (padded_row_is_zero(g, image, y))
        y--;
    *bottom = y;
    return 1;
}

/* The output rows [*first, *last) of one image that read a nonzero input
 * (row y reads padded rows y .. y + 2). */
static void rows_to_compute(const conv_forward_geometry *g, const float *image,
                            int *first, int *last)
{
    int top, bottom;
    if (!nonzero_rows(g, image, &top, &bottom)) {
        *first = *last = 0;
        return;
    }
    *first = top > 2 ? top - 2 : 0;
    *last = bottom + 1 < g->out_height ? bottom + 1 : g->out_height;
}

/* The pooled rows [*first, *last) of one image that read a nonzero input
 * (pooled row r reads padded rows 2r .. 2r + 3). */
static void pooled_rows_to_compute(const conv_forward_geometry *g,
                                   const float *image, int *first, int *last)
{
    const int pooled = g->out_height / 2;
    int top, bottom;
    if (!nonzero_rows(g, image, &top, &bottom)) {
        *first = *last = 0;
        return;
    }
    *first = top <= 3 ? 0 : (top - 2) / 2;
    *last = bottom / 2 + 1 < pooled ? bottom / 2 + 1 : pooled;
}

/* Sets rows [0, first) and [last, rows) of every channel plane of one
 * image's output to ReLU(bias), as max(0, bias) with NaN -> 0 (bias
 * NULL: 0). */
static void fill_relu_bias_rows(int channels, const float *bias, int rows,
                                int columns, int first, int last, float *out,
                                size_t plane, size_t row)
{
    for (int co = 0; co < channels; co++) {
        const float value = bias && bias[co] > 0.0f ? bias[co] : 0.0f;
        float *out_plane = out + (size_t)co * plane;
        for (int r = 0; r < rows; r++) {
            if (r == first)
                r = last; /* the computed rows */
            if (r >= rows)
                break;
            float *out_row = out_plane + (size_t)r * row;
            for (int c = 0; c < columns; c++)
                out_row[c] = value;
        }
    }
}

/* ---- Forward ----------------------------------------------------------- */

static const conv_forward_plan *plan_for_width(const conv3x3_microkernels *mk,
                                               int width)
{
    int index = width >= 8 ? 3 : width >= 4 ? 2 : width >= 2 ? 1 : 0;
    return &mk->plans[index];
}

/* One image: every block of output channels, every column segment. */
static void forward_image(const conv3x3_microkernels *mk,
                          const conv_forward_geometry *g, int out_channels,
                          const float *in, const float *packed,
                          const float *bias, int relu, float *out,
                          conv_prefetch_stream *stream)
{
    const int ho = g->out_height, wo = g->out_width, lanes = mk->lanes;
    for (int co = 0; co < out_channels;) {
        const int width = block_width(out_channels - co, mk->forward_block);
        const int valid = out_channels - co < width ? out_channels - co : width;
        const conv_forward_plan *plan = plan_for_width(mk, width);
        const float *b = bias ? bias + co : NULL;
        float *o = out + (size_t)co * g->out_plane;
        for (int ow = 0; ow < wo;) {
            const int remaining = wo - ow;
            const int two = remaining > lanes;
            int last_lanes = two ? remaining - lanes : remaining;
            if (last_lanes > lanes)
                last_lanes = lanes;
            conv_forward_strip strip = two ? plan->two : plan->one;
            if (ho < (two ? plan->rows_two : plan->rows_one))
                strip = two ? plan->one_row_two : plan->one_row_one;
            strip(g, in + ow, packed, b, relu, last_lanes, o + ow, valid,
                  stream);
            ow += two ? 2 * lanes : lanes;
        }
        packed += (size_t)width * g->in_channels * 9;
        co += valid;
    }
}

/* Row groups forward_image runs per image (conv_prefetch_step calls). */
static int forward_steps(const conv3x3_microkernels *mk,
                         const conv_forward_geometry *g, int out_channels)
{
    int steps = 0;
    for (int co = 0; co < out_channels;) {
        const int width = block_width(out_channels - co, mk->forward_block);
        const conv_forward_plan *plan = plan_for_width(mk, width);
        for (int ow = 0; ow < g->out_width;) {
            const int two = g->out_width - ow > mk->lanes;
            int rows = two ? plan->rows_two : plan->rows_one;
            if (g->out_height < rows)
                rows = 1;
            steps += (g->out_height + rows - 1) / rows;
            ow += two ? 2 * mk->lanes : mk->lanes;
        }
        co += width;
    }
    return steps;
}

/* Runs forward_image over `count` images, prefetching each next one. */
static void forward_images(const conv3x3_microkernels *mk,
                           const conv_forward_geometry *g, int out_channels,
                           size_t count, const float *in, size_t in_image,
                           const float *packed, const float *bias, int relu,
                           float *out)
{
    /* With ReLU, rows that read only zeros are ReLU(bias). */
    const int skip_zero_rows =
        relu && scan_pays(out_channels) &&
        all_finite(packed, packed_floats(out_channels, g->in_channels,
                                         mk->forward_block));
    const size_t out_image = (size_t)out_channels * g->out_plane;
    const size_t lines = (in_image + out_image) * sizeof(float) / 64 + 2;
    const int steps = forward_steps(mk, g, out_channels);
    conv_prefetch_stream stream = {
        NULL, NULL, NULL, NULL,
        (int)((lines + (size_t)steps - 1) / (size_t)steps)};
    if (count * (in_image + out_image) * sizeof(float) < mk->prefetch_min_bytes)
        stream.lines_per_step = 0;
    for (size_t i = 0; i < count; i++) {
        if (i + 1 < count) {
            stream.next = (const char *)(in + (i + 1) * in_image);
            stream.end = (const char *)(in + (i + 2) * in_image);
            stream.next_out = (const char *)(out + (i + 1) * out_image);
            stream.end_out = (const char *)(out + (i + 2) * out_image);
        } else {
            stream.next = stream.end = stream.next_out = stream.end_out = NULL;
        }
        const float *image = in + i * in_image;
        float *image_out = out + i * out_image;
        if (!skip_zero_rows) {
            forward_image(mk, g, out_channels, image, packed, bias, relu,
                          image_out, &stream);
            continue;
        }
        int first, last;
        rows_to_compute(g, image, &first, &last);
        fill_relu_bias_rows(out_channels, bias, g->out_height, g->out_width,
                            first, last, image_out, g->out_plane,
                            (size_t)g->out_width);
        if (first >= last)
            continue;
        conv_forward_geometry rows = *g;
        rows.out_height = last - first;
        forward_image(mk, &rows, out_channels,
                      image + (size_t)first * g->in_width, packed, bias, relu,
                      image_out + (size_t)first * g->out_width, &stream);
    }
}

/* What the strips need to know of a shape's planes. */
static conv_forward_geometry forward_geometry_of(const conv_shape *shape)
{
    const conv_forward_geometry g = {
        .in_channels = shape->in_channels,
        .in_width = conv_padded_width(shape),
        .in_plane =
            (size_t)conv_padded_height(shape) * conv_padded_width(shape),
        .out_height = conv_out_height(shape),
        .out_width = conv_out_width(shape),
        .out_plane = (size_t)conv_out_height(shape) * conv_out_width(shape),
    };
    return g;
}

static const winograd4_microkernels *
weights_winograd4(const kernel_table *table, const conv_shape *shape);

size_t conv3x3_kept_input_floats(const kernel_table *table,
                                 const conv_shape *shape)
{
    const winograd4_microkernels *w4 = forward_winograd4(table, shape);
    if (!w4 || weights_winograd4(table, shape) != w4)
        return 0;
    return winograd4_kept_floats(w4, shape);
}

int conv3x3_forward_packed_keeping(const kernel_table *table,
                                   const conv_shape *shape, size_t count,
                                   const float *input_padded,
                                   const float *packed, const float *bias,
                                   int relu, float *output, float *kept_input)
{
    if (kept_input && conv3x3_kept_input_floats(table, shape) > 0 &&
        holds_transformed(packed)) {
        winograd4_forward_keeping(forward_winograd4(table, shape), shape, count,
                                  input_padded, packed + WINOGRAD_HEADER_FLOATS,
                                  bias, relu, output, kept_input);
        return 1;
    }
    conv3x3_forward_packed(table, shape, count, input_padded, packed, bias,
                           relu, output);
    return 0;
}

void conv3x3_forward_packed(const kernel_table *table, const conv_shape *shape,
                            size_t count, const float *input_padded,
                            const float *packed, const float *bias, int relu,
                            float *output)
{
    const conv3x3_microkernels *mk = table->conv3x3;
    const winograd_microkernels *w = forward_winograd(table, shape);
    if (w) {
        const int transformed = holds_transformed(packed);
        packed += WINOGRAD_HEADER_FLOATS;
        const winograd4_microkernels *w4 = forward_winograd4(table, shape);
        if (transformed && w4) {
            winograd4_forward(w4, shape, count, input_padded, packed, bias,
                              relu, output);
            return;
        }
        if (transformed) {
            winograd_forward(w, shape, count, input_padded, packed, bias, relu,
                             output);
            return;
        }
    }
    if (!mk) {
        conv3x3_forward_scalar(shape, count, input_padded, packed, bias, relu,
                               output);
        return;
    }
    const conv_forward_geometry g = forward_geometry_of(shape);
    forward_images(mk, &g, shape->out_channels, count, input_padded,
                   (size_t)shape->in_channels * g.in_plane, packed, bias, relu,
                   output);
}

int conv3x3_forward_writes_into(const kernel_table *table,
                                const conv_shape *shape, const float *packed)
{
    return forward_winograd4(table, shape) != NULL && holds_transformed(packed);
}

void conv3x3_forward_packed_into(const kernel_table *table,
                                 const conv_shape *shape, size_t count,
                                 const float *input_padded, const float *packed,
                                 const float *bias, int relu, float *output,
                                 size_t output_plane, size_t output_row)
{
    winograd4_forward_into(forward_winograd4(table, shape), shape, count,
                           input_padded, packed + WINOGRAD_HEADER_FLOATS, bias,
                           relu, output, output_plane, output_row);
}

/* ---- Forward with ReLU and max-pool -------------------------------------
 * For predictions: the ReLU output never leaves the registers, and only
 * the pooled quarter is stored (conv1 of the seed network wrote 50 KB per
 * image that the pool read back). A Winograd shape pools in its output
 * transform; if its weights overflowed the transform (direct packing
 * follows the header), the direct pooled strips run, where the ISA has
 * them. */
int conv3x3_fuses_pool(const kernel_table *table, const conv_shape *shape,
                       const float *packed)
{
    const conv3x3_microkernels *mk = table->conv3x3;
    if (!mk)
        return 1;
    const winograd_microkernels *w = forward_winograd(table, shape);
    if (w && holds_transformed(packed)) {
        const winograd4_microkernels *w4 = forward_winograd4(table, shape);
        return w4 ? w4->output_pool_image != NULL : w->output_pool_row != NULL;
    }
    return mk->pool_strips[0] != NULL;
}

/* The pooled rows of one image, each computed only over the columns that
 * read a nonzero input (on MNIST 38% of conv1's pooled values do, against
 * 81% of its pooled rows): the span of pooled columns of each row whose
 * padded columns 2c .. 2c + 3 hold a nonzero value in one of its padded
 * rows 2r .. 2r + 3; pool_rows writes ReLU(bias) around it (the same bits,
 * by the argument above). The caller checked that the weights are finite,
 * that a pooled row fits one vector, that a padded row fits
 * nonzero_columns and that the pooled rows fit the span table. */
enum { COLUMN_SPAN_ROWS = 128 };

/* The spans (pool_rows' contract) of one image. */
static void pooled_column_spans(const conv3x3_microkernels *mk,
                                const conv_forward_geometry *g,
                                const float *image, uint8_t *spans)
{
    const int pooled_rows = g->out_height / 2,
              pooled_columns = g->out_width / 2;
    /* masks[y]: padded row y of every channel, ORed (rows 0 .. 2 r + 3
     * are read). */
    uint64_t masks[2 * COLUMN_SPAN_ROWS + 2];
    const int rows = 2 * pooled_rows + 2;
    memset(masks, 0, sizeof(uint64_t) * (size_t)rows);
    for (int c = 0; c < g->in_channels; c++)
        mk->nonzero_columns(image + (size_t)c * g->in_plane, g->in_width, rows,
                            (size_t)g->in_width, masks);
    for (int r = 0; r < pooled_rows; r++) {
        const uint64_t window = masks[2 * r] | masks[2 * r + 1] |
                                masks[2 * r + 2] | masks[2 * r + 3];
        int first = 0, last = 0;
        if (window != 0) {
            const int left = __builtin_ctzll(window),
                      right = 63 - __builtin_clzll(window);
            first = left <= 3 ? 0 : (left - 2) / 2;
            last =
                right / 2 + 1 < pooled_columns ? right / 2 + 1 : pooled_columns;
            if (first >= last)
                first = last = 0;
        }
        spans[2 * r] = (uint8_t)first;
        spans[2 * r + 1] = (uint8_t)last;
    }
}

/* Whether pool_rows_one_input takes this shape (with pool_rows' checks). */
static int one_input_fits(const conv3x3_microkernels *mk,
                          const conv_forward_geometry *g, int out_channels)
{
    return mk->pool_rows_one_input && g->in_channels == 1 &&
           mk->forward_block == 8 && out_channels % 16 == 0 &&
           g->out_width / 2 <= 16;
}

static void forward_relu_pool_columns(const conv3x3_microkernels *mk,
                                      const conv_forward_geometry *g,
                                      int out_channels, const float *image,
                                      const float *packed, const float *bias,
                                      const uint8_t *given_spans, float *out,
                                      size_t out_plane, size_t out_row)
{
    const int pooled_columns = g->out_width / 2;
    uint8_t own_spans[2 * COLUMN_SPAN_ROWS];
    const uint8_t *spans = given_spans;
    if (!spans) {
        pooled_column_spans(mk, g, image, own_spans);
        spans = own_spans;
    }
    const float *block_weights = packed;
    if (one_input_fits(mk, g, out_channels)) {
        for (int co = 0; co < out_channels; co += 16)
            mk->pool_rows_one_input(
                g, image, packed + (size_t)co * 9, bias ? bias + co : NULL,
                spans, pooled_columns, out + (size_t)co * out_plane, out_plane,
                out_row, NULL, NULL, NULL, 0, 0);
        return;
    }
    for (int co = 0; co < out_channels;) {
        const int width = block_width(out_channels - co, mk->forward_block);
        const int valid = out_channels - co < width ? out_channels - co : width;
        const int index = width >= 8 ? 3 : width >= 4 ? 2 : width >= 2;
        mk->pool_rows[index](g, image, block_weights, bias ? bias + co : NULL,
                             spans, pooled_columns,
                             out + (size_t)co * out_plane, out_plane, out_row,
                             valid);
        block_weights += (size_t)width * g->in_channels * 9;
        co += valid;
    }
}

/* Whether the fused forward of this shape computes column spans (finite
 * weights aside): bytes of spans per image, else 0. */
static size_t span_bytes(const kernel_table *table, const conv_shape *shape)
{
    const conv3x3_microkernels *mk = table->conv3x3;
    if (!mk || !mk->pool_rows[0] || !mk->nonzero_columns ||
        !scan_pays(shape->out_channels) || forward_winograd(table, shape))
        return 0;
    const conv_forward_geometry g = forward_geometry_of(shape);
    if (g.out_width / 2 > mk->lanes || g.in_width > 64 ||
        g.out_height / 2 > COLUMN_SPAN_ROWS)
        return 0;
    return 2 * (size_t)(g.out_height / 2);
}

size_t conv3x3_pool_span_bytes(const kernel_table *table,
                               const conv_shape *shape)
{
    return span_bytes(table, shape);
}

void conv3x3_pool_spans(const kernel_table *table, const conv_shape *shape,
                        size_t count, const float *input_padded, uint8_t *spans)
{
    const conv_forward_geometry g = forward_geometry_of(shape);
    const size_t per_image = span_bytes(table, shape);
    const size_t in_image = (size_t)shape->in_channels * g.in_plane;
    for (size_t i = 0; i < count; i++)
        pooled_column_spans(table->conv3x3, &g, input_padded + i * in_image,
                            spans + i * per_image);
}

void conv3x3_forward_relu_pool_packed(const kernel_table *table,
                                      const conv_shape *shape, size_t count,
                                      const float *input_padded,
                                      const float *packed, const float *bias,
                                      const uint8_t *spans, float *output,
                                      size_t output_plane, size_t output_row)
{
    const conv3x3_microkernels *mk = table->conv3x3;
    const winograd_microkernels *w = forward_winograd(table, shape);
    if (w) {
        const int transformed = holds_transformed(packed);
        packed += WINOGRAD_HEADER_FLOATS;
        const winograd4_microkernels *w4 = forward_winograd4(table, shape);
        if (transformed && w4) {
            winograd4_forward_relu_pool(w4, shape, count, input_padded, packed,
                                        bias, output, output_plane, output_row);
            return;
        }
        if (transformed) {
            winograd_forward_relu_pool(w, shape, count, input_padded, packed,
                                       bias, output, output_plane, output_row);
            return;
        }
    }
    if (!mk) {
        conv3x3_forward_relu_pool_scalar(shape, count, input_padded, packed,
                                         bias, output, output_plane,
                                         output_row);
        return;
    }
    const conv_forward_geometry whole = forward_geometry_of(shape);
    const int out_channels = shape->out_channels, lanes = mk->lanes;
    const size_t in_image = (size_t)shape->in_channels * whole.in_plane;
    const int pooled_rows = whole.out_height / 2,
              pooled_columns = whole.out_width / 2;
    /* Pooled rows that read only zeros are max-pool(ReLU(bias)). */
    const int skip_zero_rows =
        scan_pays(out_channels) &&
        all_finite(packed, packed_floats(out_channels, shape->in_channels,
                                         mk->forward_block));
    const size_t per_image = span_bytes(table, shape);
    const int by_columns = skip_zero_rows && per_image > 0;
    for (size_t i = 0; i < count; i++) {
        const float *image = input_padded + i * in_image;
        float *image_out = output + i * (size_t)out_channels * output_plane;
        if (by_columns) {
            forward_relu_pool_columns(mk, &whole, out_channels, image, packed,
                                      bias,
                                      spans ? spans + i * per_image : NULL,
                                      image_out, output_plane, output_row);
            continue;
        }
        int first = 0, last = pooled_rows;
        if (skip_zero_rows)
            pooled_rows_to_compute(&whole, image, &first, &last);
        fill_relu_bias_rows(out_channels, bias, pooled_rows, pooled_columns,
                            first, last, image_out, output_plane, output_row);
        if (first >= last)
            continue;
        conv_forward_geometry g = whole;
        g.out_height = 2 * (last - first);
        const float *in = image + (size_t)(2 * first) * g.in_width;
        const float *block_weights = packed;
        for (int co = 0; co < out_channels;) {
            const int width = block_width(out_channels - co, mk->forward_block);
            const int valid =
                out_channels - co < width ? out_channels - co : width;
            const int index = width >= 8 ? 3 : width >= 4 ? 2 : width >= 2;
            float *out = image_out + (size_t)co * output_plane +
                         (size_t)first * output_row;
            for (int ow = 0; ow < g.out_width; ow += lanes) {
                const int left = g.out_width - ow;
                mk->pool_strips[index](
                    &g, in + ow, block_weights, bias ? bias + co : NULL,
                    left < lanes ? left : lanes, out + ow / 2, output_plane,
                    output_row, valid);
            }
            block_weights += (size_t)width * g.in_channels * 9;
            co += valid;
        }
    }
}

/* ---- Forward with ReLU, max-pool and its argmax (training) ---------------
 * The training forward keeps what the backward pass reads of a pooled
 * ReLU convolution: the pooled values (its ReLU mask) and the argmax, not
 * the convolution's output. Where pool_rows_one_input runs (conv1 on
 * AVX-512), both come from one pass over the spans (the argmax as window
 * bits where the table's pool backward reads them); an F(4x4) shape (conv2)
 * pools in its output transform and keeps V. */

/* The F(4x4) stages that pool with the argmax in their output transform
 * for this shape and these packed weights, or NULL. */
static const winograd4_microkernels *
pool_argmax_winograd4(const kernel_table *table, const conv_shape *shape,
                      const float *packed)
{
    const winograd4_microkernels *w4 = forward_winograd4(table, shape);
    return w4 && w4->output_pool_argmax_image && holds_transformed(packed)
               ? w4
               : NULL;
}

int conv3x3_fuses_pool_argmax(const kernel_table *table,
                              const conv_shape *shape, const float *packed)
{
    const conv3x3_microkernels *mk = table->conv3x3;
    if (pool_argmax_winograd4(table, shape, packed))
        return 1;
    if (span_bytes(table, shape) == 0)
        return 0;
    const conv_forward_geometry g = forward_geometry_of(shape);
    return one_input_fits(mk, &g, shape->out_channels) &&
           all_finite(packed,
                      packed_floats(shape->out_channels, shape->in_channels,
                                    mk->forward_block));
}

int conv3x3_fuses_pool_window_bits(const kernel_table *table,
                                   const conv_shape *shape, const float *packed)
{
    return table->conv3x3_pool_backward_weights_bits &&
           !pool_argmax_winograd4(table, shape, packed) &&
           conv3x3_fuses_pool_argmax(table, shape, packed);
}

int conv3x3_forward_relu_pool_argmax_packed(
    const kernel_table *table, const conv_shape *shape, size_t count,
    const float *input_padded, const float *packed, const float *bias,
    float *output, uint8_t *argmax, uint32_t *window_bits, float *copy,
    size_t copy_plane, size_t copy_row, float *kept_input)
{
    const winograd4_microkernels *w4 =
        pool_argmax_winograd4(table, shape, packed);
    if (w4) {
        /* The weight gradient reads V back only if it is F(4x4) too. */
        if (conv3x3_kept_input_floats(table, shape) == 0)
            kept_input = NULL;
        winograd4_forward_relu_pool_argmax(
            w4, shape, count, input_padded, packed + WINOGRAD_HEADER_FLOATS,
            bias, output, argmax, copy, copy_plane, copy_row, kept_input);
        return kept_input != NULL;
    }
    const conv3x3_microkernels *mk = table->conv3x3;
    const conv_forward_geometry g = forward_geometry_of(shape);
    const int out_channels = shape->out_channels;
    const int pooled_rows = g.out_height / 2, pooled_columns = g.out_width / 2;
    const size_t pooled_plane = (size_t)pooled_rows * pooled_columns;
    uint8_t spans[2 * COLUMN_SPAN_ROWS];
    for (size_t i = 0; i < count; i++) {
        const float *image = input_padded + i * g.in_plane;
        pooled_column_spans(mk, &g, image, spans);
        for (int co = 0; co < out_channels; co += 16) {
            const size_t plane = (i * out_channels + co) * pooled_plane;
            mk->pool_rows_one_input(
                &g, image, packed + (size_t)co * 9, bias ? bias + co : NULL,
                spans, pooled_columns, output + plane, pooled_plane,
                (size_t)pooled_columns, window_bits ? NULL : argmax + plane,
                window_bits ? window_bits + plane / 16 : NULL,
                copy ? copy + (i * out_channels + co) * copy_plane : NULL,
                copy_plane, copy_row);
        }
    }
    return 0;
}

/* ---- Input gradient ---------------------------------------------------- */

/* Zeros around the output gradient: the input gradient is a convolution
 * of it with padding 2 - pad. */
static int gradient_padding(const conv_shape *shape)
{
    return 2 - shape->pad;
}

static size_t padded_gradient_floats(const conv_shape *shape)
{
    const int extra = gradient_padding(shape);
    if (extra <= 0)
        return 0;
    return (size_t)shape->out_channels * (conv_out_height(shape) + 2 * extra) *
           (conv_out_width(shape) + 2 * extra);
}

void conv3x3_backward_input_packed(const kernel_table *table,
                                   const conv_shape *shape, size_t count,
                                   const float *packed_backward,
                                   const float *output_grad, float *input_grad,
                                   float *scratch)
{
    const conv3x3_microkernels *mk = table->conv3x3;
    if (!mk) {
        conv3x3_backward_input_scalar(shape, count, packed_backward,
                                      output_grad, input_grad);
        return;
    }
    const int cin = shape->in_channels, cout = shape->out_channels;
    const int ho = conv_out_height(shape), wo = conv_out_width(shape);
    const int extra = gradient_padding(shape);
    const int hp = ho + 2 * extra, wp = wo + 2 * extra;
    const conv_forward_geometry g = {
        .in_channels = cout,
        .in_width = wp,
        .in_plane = (size_t)hp * wp,
        .out_height = shape->in_height,
        .out_width = shape->in_width,
        .out_plane = (size_t)shape->in_height * shape->in_width,
    };
    const size_t dy_image = (size_t)cout * ho * wo;
    const winograd_microkernels *w = input_gradient_winograd(table, shape);
    const conv_shape gradient = input_gradient_shape(shape);
    const winograd4_microkernels *w4 = forward_winograd4(table, &gradient);
    if (w) {
        if (!holds_transformed(packed_backward))
            w = NULL, w4 = NULL; /* U overflowed: the direct packing follows */
        packed_backward += WINOGRAD_HEADER_FLOATS;
    }
    if (extra == 0) {
        /* pad 2: the output gradient is already the padded input. */
        if (w4)
            winograd4_forward(w4, &gradient, count, output_grad,
                              packed_backward, NULL, 0, input_grad);
        else if (w)
            winograd_forward(w, &gradient, count, output_grad, packed_backward,
                             NULL, 0, input_grad);
        else
            forward_images(mk, &g, cin, count, output_grad, dy_image,
                           packed_backward, NULL, 0, input_grad);
        return;
    }
    float *padded = scratch;
    memset(padded, 0, sizeof(float) * padded_gradient_floats(shape));
    for (size_t i = 0; i < count; i++) {
        /* Only the interior changes from image to image. */
        const float *dy = output_grad + i * dy_image;
        for (int co = 0; co < cout; co++)
            for (int oh = 0; oh < ho; oh++)
                memcpy(padded + ((size_t)co * hp + oh + extra) * wp + extra,
                       dy + ((size_t)co * ho + oh) * wo, sizeof(float) * wo);
        float *dx = input_grad + i * cin * g.out_plane;
        if (w4)
            winograd4_forward(w4, &gradient, 1, padded, packed_backward, NULL,
                              0, dx);
        else if (w)
            winograd_forward(w, &gradient, 1, padded, packed_backward, NULL, 0,
                             dx);
        else
            forward_images(mk, &g, cin, 1, padded, g.in_plane * cout,
                           packed_backward, NULL, 0, dx);
    }
}

/* ---- Weight and bias gradients ----------------------------------------- */

static size_t partial_floats(const conv3x3_microkernels *mk,
                             const conv_shape *shape)
{
    return (size_t)shape->out_channels * shape->in_channels * 9 *
           (size_t)mk->lanes;
}

/* The weight gradient by Winograd (winograd_weights.h) by the ISA's rule
 * (min_channels, min_weight_channel_product: winograd_avx512.c and
 * winograd_avx2.c give the measurements), without the forward pass's
 * stack-buffer limit. */
static const winograd_microkernels *weights_winograd(const kernel_table *table,
                                                     const conv_shape *shape)
{
    const conv3x3_microkernels *mk = table->conv3x3;
    if (!mk || !mk->winograd)
        return NULL;
    const winograd_microkernels *w = mk->winograd;
    if (!enough_channels(w, shape, w->min_weight_channel_product) ||
        !winograd_weights_fits(w, shape))
        return NULL;
    return w;
}

/* Among those shapes, F(4x4) (winograd4_weights.h) where the ISA's F(4x4)
 * stages have the weight-gradient stages, fit and accept the shape. */
static const winograd4_microkernels *
weights_winograd4(const kernel_table *table, const conv_shape *shape)
{
    if (!weights_winograd(table, shape))
        return NULL;
    const winograd4_microkernels *w4 = table->conv3x3->winograd4;
    if (!w4 || !w4->min_weight_tiles ||
        conv_tile_rows(shape, 4) * conv_tile_columns(shape, 4) <
            w4->min_weight_tiles ||
        !winograd4_weights_fits(w4, shape))
        return NULL;
    return w4;
}

int conv3x3_backward_weights_uses_winograd(const kernel_table *table,
                                           const conv_shape *shape)
{
    return weights_winograd(table, shape) != NULL;
}

int conv3x3_backward_weights_uses_winograd4(const kernel_table *table,
                                            const conv_shape *shape)
{
    return weights_winograd4(table, shape) != NULL;
}

size_t conv3x3_scratch_floats(const kernel_table *table,
                              const conv_shape *shape)
{
    const conv3x3_microkernels *mk = table->conv3x3;
    if (!mk)
        return 0;
    size_t a = padded_gradient_floats(shape), b = partial_floats(mk, shape);
    const winograd_microkernels *w = weights_winograd(table, shape);
    if (w) {
        const winograd4_microkernels *w4 = weights_winograd4(table, shape);
        const size_t c = w4 ? winograd4_weights_scratch_floats(w4, shape)
                            : winograd_weights_scratch_floats(w, shape);
        b = b > c ? b : c;
    }
    return a > b ? a : b;
}

/* The widest tile of `tiles` (indexed by output channels) with at most
 * `most` channels; 0 if none. */
static int widest_tile(const conv_weight_tile *tiles, int most)
{
    if (most > CONV_MAX_WEIGHT_TILE)
        most = CONV_MAX_WEIGHT_TILE;
    for (int n = most; n >= 1; n--)
        if (tiles[n])
            return n;
    return 0;
}

/* Bias gradient: plain sums of each output-gradient plane. */
static void sum_bias_planes(const conv3x3_microkernels *mk, int out_channels,
                            size_t count, const float *output_grad,
                            size_t out_plane, size_t out_image,
                            float *bias_grad)
{
    for (int co = 0; co < out_channels; co++)
        bias_grad[co] = mk->sum_planes(count, out_image, out_plane,
                                       output_grad + (size_t)co * out_plane);
}

void conv3x3_backward_weights_with(const kernel_table *table,
                                   const conv_shape *shape, size_t count,
                                   const float *input_padded,
                                   const float *output_grad, float *weight_grad,
                                   float *bias_grad, float *scratch)
{
    conv3x3_backward_weights_kept(table, shape, count, input_padded, NULL,
                                  output_grad, weight_grad, bias_grad, scratch);
}

void conv3x3_backward_weights_kept(const kernel_table *table,
                                   const conv_shape *shape, size_t count,
                                   const float *input_padded,
                                   const float *kept_input,
                                   const float *output_grad, float *weight_grad,
                                   float *bias_grad, float *scratch)
{
    const conv3x3_microkernels *mk = table->conv3x3;
    const int cin = shape->in_channels, cout = shape->out_channels;
    const size_t weights = (size_t)cout * cin * 9;
    if (!mk || count == 0) {
        /* An empty batch gives zero sums, as the reference does. */
        conv3x3_backward_weights_scalar(shape, count, input_padded, output_grad,
                                        weight_grad, bias_grad);
        return;
    }
    const int hp = conv_padded_height(shape), wp = conv_padded_width(shape);
    const int ho = conv_out_height(shape), wo = conv_out_width(shape);
    const size_t out_plane = (size_t)ho * wo, out_image = cout * out_plane;
    const winograd_microkernels *w = weights_winograd(table, shape);
    if (w) {
        const winograd4_microkernels *w4 = weights_winograd4(table, shape);
        if (w4)
            winograd4_backward_weights(w4, shape, count, input_padded,
                                       kept_input, output_grad, weight_grad,
                                       scratch);
        else
            winograd_backward_weights(w, shape, count, input_padded,
                                      output_grad, weight_grad, scratch);
        sum_bias_planes(mk, cout, count, output_grad, out_plane, out_image,
                        bias_grad);
        return;
    }
    conv_weight_geometry g = {
        .count = count,
        .in_width = wp,
        .in_plane = (size_t)hp * wp,
        .in_image = (size_t)cin * hp * wp,
        .out_height = ho,
        .out_width = wo,
        .out_plane = (size_t)ho * wo,
        .out_image = (size_t)cout * ho * wo,
    };
    const int stream = ho >= 2 && mk->weight_stream_tiles[1] != NULL;
    const conv_weight_tile *tiles =
        stream ? mk->weight_stream_tiles : mk->weight_tiles;
    const size_t image_bytes = sizeof(float) * (g.in_image + g.out_image);
    size_t chunk = mk->weight_chunk_bytes / image_bytes;
    if (chunk < 1)
        chunk = 1;
    const size_t lanes = (size_t)mk->lanes;
    for (size_t i0 = 0; i0 < count; i0 += chunk) {
        g.count = count - i0 < chunk ? count - i0 : chunk;
        const float *in_chunk = input_padded + i0 * g.in_image;
        const float *dy_chunk = output_grad + i0 * g.out_image;
        for (int co = 0; co < cout;) {
            const int nco = widest_tile(tiles, cout - co);
            for (int ci = 0; ci < cin; ci++)
                tiles[nco](&g, in_chunk + (size_t)ci * g.in_plane,
                           dy_chunk + (size_t)co * g.out_plane,
                           scratch + ((size_t)co * cin + ci) * 9 * lanes,
                           (size_t)cin * 9, i0 == 0);
            co += nco;
        }
    }
    mk->reduce_partials(weights, scratch, weight_grad);
    sum_bias_planes(mk, cout, count, output_grad, out_plane, out_image,
                    bias_grad);
}

/* ---- Whole-op entry points --------------------------------------------- */

/* A table that holds only the microkernels, for the packed entry points. */
static kernel_table table_of(const conv3x3_microkernels *microkernels)
{
    kernel_table table;
    memset(&table, 0, sizeof table);
    table.conv3x3 = microkernels;
    return table;
}

void conv3x3_forward_unpacked(const conv3x3_microkernels *microkernels,
                              const conv_shape *shape, size_t count,
                              const float *input_padded, const float *weights,
                              const float *bias, int relu, float *output)
{
    const kernel_table table = table_of(microkernels);
    float *packed = NULL;
    if (microkernels)
        packed = memory_allocate_aligned(
            64, sizeof(float) * conv3x3_packed_forward_floats(&table, shape));
    if (!packed) {
        conv3x3_forward_scalar(shape, count, input_padded, weights, bias, relu,
                               output);
        return;
    }
    conv3x3_pack_forward(&table, shape, weights, packed);
    conv3x3_forward_packed(&table, shape, count, input_padded, packed, bias,
                           relu, output);
    memory_free(packed);
}

void conv3x3_backward_input_unpacked(const conv3x3_microkernels *microkernels,
                                     const conv_shape *shape, size_t count,
                                     const float *weights,
                                     const float *output_grad,
                                     float *input_grad)
{
    const kernel_table table = table_of(microkernels);
    const size_t packed_size = conv3x3_packed_backward_floats(&table, shape);
    const size_t scratch_size = conv3x3_scratch_floats(&table, shape);
    float *packed = NULL;
    if (microkernels)
        packed = memory_allocate_aligned(
            64, sizeof(float) * (packed_size + scratch_size + 16));
    if (!packed) {
        conv3x3_backward_input_scalar(shape, count, weights, output_grad,
                                      input_grad);
        return;
    }
    float *scratch = packed + (packed_size + 15) / 16 * 16;
    conv3x3_pack_backward(&table, shape, weights, packed);
    conv3x3_backward_input_packed(&table, shape, count, packed, output_grad,
                                  input_grad, scratch);
    memory_free(packed);
}

void conv3x3_backward_weights_unpacked(const conv3x3_microkernels *microkernels,
                                       const conv_shape *shape, size_t count,
                                       const float *input_padded,
                                       const float *output_grad,
                                       float *weight_grad, float *bias_grad)
{
    const kernel_table table = table_of(microkernels);
    float *scratch = NULL;
    if (microkernels)
        scratch = memory_allocate_aligned(
            64, sizeof(float) * (conv3x3_scratch_floats(&table, shape) + 1));
    if (!scratch) {
        conv3x3_backward_weights_scalar(shape, count, input_padded, output_grad,
                                        weight_grad, bias_grad);
        return;
    }
    conv3x3_backward_weights_with(&table, shape, count, input_padded,
                                  output_grad, weight_grad, bias_grad, scratch);
    memory_free(scratch);
}
