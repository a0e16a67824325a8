/* The Winograd F(4x4, 3x3) forward driver and the plain-C stages (see
 * winograd4.h; the packings of U are in winograd4_pack.c and
 * winograd4_pack_avx512.c). The driver packs nothing itself: it runs the
 * three stages of the variant's microkernels on one image at a time, V and
 * M in a stack buffer. */
#include <string.h>

#include "kernels/winograd4.h"

/* V of one image and M of one block of output channels: 96 KB, which holds
 * a 16 x 16 output's tiles for up to 32 input channels and 8 output
 * channels (the classifier's conv2 input gradient has 32). */
#define WINOGRAD4_BUFFER_FLOATS 24576

static int slot_columns(const winograd4_microkernels *mk,
                        const conv_shape *shape)
{
    return mk->max_tile_columns ? mk->max_tile_columns
                                : conv_tile_columns(shape, 4);
}

/* Floats from one frequency's row of V or M to the next. */
static size_t image_stride(const winograd4_microkernels *mk,
                           const conv_shape *shape)
{
    const int slot_rows =
        mk->max_tile_rows ? mk->max_tile_rows : conv_tile_rows(shape, 4);
    return (size_t)round_up_to(slot_rows * slot_columns(mk, shape), mk->lanes);
}

static int padded_out_channels(const winograd4_microkernels *mk,
                               const conv_shape *shape)
{
    return round_up_to(shape->out_channels, mk->block);
}

winograd4_geometry winograd4_geometry_of(const winograd4_microkernels *mk,
                                         const conv_shape *shape)
{
    const winograd4_geometry g = {
        .in_channels = shape->in_channels,
        .out_channels = shape->out_channels,
        .padded_out_channels = padded_out_channels(mk, shape),
        .in_height = conv_padded_height(shape),
        .in_width = conv_padded_width(shape),
        .in_plane =
            (size_t)conv_padded_height(shape) * conv_padded_width(shape),
        .out_height = conv_out_height(shape),
        .out_width = conv_out_width(shape),
        .out_plane = (size_t)conv_out_height(shape) * conv_out_width(shape),
        .tile_rows = conv_tile_rows(shape, 4),
        .tile_columns = conv_tile_columns(shape, 4),
        .slot_columns = slot_columns(mk, shape),
        .stride = image_stride(mk, shape),
    };
    return g;
}

int winograd4_tiles_fit(const winograd4_microkernels *microkernels,
                        const conv_shape *shape)
{
    if (conv_out_height(shape) < 1 || conv_out_width(shape) < 1)
        return 0;
    if (microkernels->max_tile_rows &&
        conv_tile_rows(shape, 4) > microkernels->max_tile_rows)
        return 0;
    return !microkernels->max_tile_columns ||
           conv_tile_columns(shape, 4) <= microkernels->max_tile_columns;
}

int winograd4_fits(const winograd4_microkernels *microkernels,
                   const conv_shape *shape)
{
    if (!winograd4_tiles_fit(microkernels, shape))
        return 0;
    const size_t floats = (size_t)WINOGRAD4_FREQUENCIES *
                          image_stride(microkernels, shape) *
                          (size_t)(shape->in_channels + microkernels->block);
    return floats <= WINOGRAD4_BUFFER_FLOATS;
}

size_t winograd4_packed_floats(const winograd4_microkernels *microkernels,
                               const conv_shape *shape)
{
    return (size_t)WINOGRAD4_FREQUENCIES * shape->in_channels *
           padded_out_channels(microkernels, shape);
}

int winograd4_pack(const winograd4_microkernels *microkernels,
                   const conv_shape *shape, const float *weights,
                   int rotate_swap, float *packed)
{
    return microkernels->pack(shape, weights, rotate_swap,
                              padded_out_channels(microkernels, shape), packed);
}

/* A forward's outputs: output_image's (argmax and copy NULL, plane and row
 * the output's strides), output_pool_image's (argmax NULL), or
 * output_pool_argmax_image's (dense output and argmax, an optional copy). */
typedef struct output_destination {
    float *output;
    size_t plane, row;
    uint8_t *argmax;
    float *copy;
    size_t copy_plane, copy_row;
} output_destination;

static void forward_images(const winograd4_microkernels *mk,
                           const conv_shape *shape, size_t count,
                           const float *input_padded, const float *packed,
                           const float *bias, int relu,
                           const output_destination *to, int pooled,
                           float *kept_v)
{
    const winograd4_geometry g = winograd4_geometry_of(mk, shape);
    const size_t in_image = (size_t)g.in_channels * g.in_plane;
    const size_t out_image = (size_t)g.out_channels * to->plane;
    _Alignas(64) float buffer[WINOGRAD4_BUFFER_FLOATS];
    float *v = buffer;
    float *m =
        buffer + (size_t)WINOGRAD4_FREQUENCIES * g.in_channels * g.stride;
    const size_t v_image = winograd4_kept_floats(mk, shape);
    const size_t copy_image =
        to->copy ? (size_t)g.out_channels * to->copy_plane : 0;
    for (size_t i = 0; i < count; i++) {
        float *out = to->output + i * out_image;
        if (kept_v)
            v = kept_v + i * v_image;
        mk->input_image(&g, input_padded + i * in_image, v);
        for (int co = 0; co < g.out_channels; co += mk->block) {
            mk->multiply(&g, packed, v, co, m);
            if (pooled && to->argmax)
                mk->output_pool_argmax_image(
                    &g, m, bias, co, out, to->argmax + i * out_image,
                    to->copy ? to->copy + i * copy_image : NULL, to->copy_plane,
                    to->copy_row);
            else if (pooled)
                mk->output_pool_image(&g, m, bias, co, out, to->plane, to->row);
            else
                mk->output_image(&g, m, bias, relu, co, out, to->plane,
                                 to->row);
        }
    }
}

size_t winograd4_kept_floats(const winograd4_microkernels *microkernels,
                             const conv_shape *shape)
{
    return (size_t)WINOGRAD4_FREQUENCIES * shape->in_channels *
           image_stride(microkernels, shape);
}

/* The destination of dense output planes. */
static output_destination dense_output(const conv_shape *shape, float *output)
{
    const output_destination dense = {output,
                                      (size_t)conv_out_height(shape) *
                                          (size_t)conv_out_width(shape),
                                      (size_t)conv_out_width(shape),
                                      NULL,
                                      NULL,
                                      0,
                                      0};
    return dense;
}

void winograd4_forward(const winograd4_microkernels *microkernels,
                       const conv_shape *shape, size_t count,
                       const float *input_padded, const float *packed,
                       const float *bias, int relu, float *output)
{
    const output_destination dense = dense_output(shape, output);
    winograd4_forward_into(microkernels, shape, count, input_padded, packed,
                           bias, relu, output, dense.plane, dense.row);
}

void winograd4_forward_into(const winograd4_microkernels *microkernels,
                            const conv_shape *shape, size_t count,
                            const float *input_padded, const float *packed,
                            const float *bias, int relu, float *output,
                            size_t output_plane, size_t output_row)
{
    const output_destination strided = {
        output, output_plane, output_row, NULL, NULL, 0, 0};
    forward_images(microkernels, shape, count, input_padded, packed, bias, relu,
                   &strided, 0, NULL);
}

void winograd4_forward_keeping(const winograd4_microkernels *microkernels,
                               const conv_shape *shape, size_t count,
                               const float *input_padded, const float *packed,
                               const float *bias, int relu, float *output,
                               float *kept_v)
{
    const output_destination dense = dense_output(shape, output);
    forward_images(microkernels, shape, count, input_padded, packed, bias, relu,
                   &dense, 0, kept_v);
}

void winograd4_forward_relu_pool(const winograd4_microkernels *microkernels,
                                 const conv_shape *shape, size_t count,
                                 const float *input_padded, const float *packed,
                                 const float *bias, float *output,
                                 size_t output_plane, size_t output_row)
{
    const output_destination pool = {
        output, output_plane, output_row, NULL, NULL, 0, 0};
    forward_images(microkernels, shape, count, input_padded, packed, bias, 1,
                   &pool, 1, NULL);
}

void winograd4_forward_relu_pool_argmax(
    const winograd4_microkernels *microkernels, const conv_shape *shape,
    size_t count, const float *input_padded, const float *packed,
    const float *bias, float *output, uint8_t *argmax, float *copy,
    size_t copy_plane, size_t copy_row, float *kept_v)
{
    const size_t plane = (size_t)(conv_out_height(shape) / 2) *
                         (size_t)(conv_out_width(shape) / 2);
    const output_destination pool = {
        output,     plane,   (size_t)(conv_out_width(shape) / 2), argmax, copy,
        copy_plane, copy_row};
    forward_images(microkernels, shape, count, input_padded, packed, bias, 1,
                   &pool, 1, kept_v);
}

/* ---- The plain-C stages ------------------------------------------------
 * The same operations, in the same order, as the AVX-512 stages
 * (winograd4_avx512.c), so that both meet the rounding count of
 * winograd4.h: every multiply-add by a constant is one fused operation. */

/* B^T applied to d[0], d[step], ..., d[5 step]: 2 roundings on each path. */
static void input_transform_scalar(const float *d, int step, float *out,
                                   int out_step)
{
    const float d0 = d[0], d1 = d[step], d2 = d[2 * step], d3 = d[3 * step],
                d4 = d[4 * step], d5 = d[5 * step];
    const float t1 = fmaf(-4.0f, d2, d4), t2 = fmaf(-4.0f, d1, d3);
    const float t3 = d4 - d2, t4 = d3 - d1;
    out[0] = fmaf(4.0f, d0, fmaf(-5.0f, d2, d4));
    out[out_step] = t1 + t2;
    out[2 * out_step] = t1 - t2;
    out[3 * out_step] = fmaf(2.0f, t4, t3);
    out[4 * out_step] = fmaf(-2.0f, t4, t3);
    out[5 * out_step] = fmaf(4.0f, d1, fmaf(-5.0f, d3, d5));
}

/* A^T applied to m[0], m[step], ..., m[5 step]: 3 roundings on each path. */
static void output_transform_scalar(const float *m, int step, float *out,
                                    int out_step)
{
    const float m0 = m[0], m1 = m[step], m2 = m[2 * step], m3 = m[3 * step],
                m4 = m[4 * step], m5 = m[5 * step];
    const float a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4;
    out[0] = m0 + a + c;
    out[out_step] = fmaf(2.0f, d, b);
    out[2 * out_step] = fmaf(4.0f, c, a);
    out[3 * out_step] = fmaf(8.0f, d, b) + m5;
}

static void input_image_scalar(const winograd4_geometry *g, const float *image,
                               float *v)
{
    for (int ci = 0; ci < g->in_channels; ci++) {
        const float *plane = image + (size_t)ci * g->in_plane;
        for (int q = 0; q < g->tile_rows; q++)
            for (int tc = 0; tc < g->tile_columns; tc++) {
                float d[6][6], t[6][6], u[6][6];
                for (int y = 0; y < 6; y++)
                    for (int x = 0; x < 6; x++) {
                        const int py = 4 * q + y, px = 4 * tc + x;
                        d[y][x] = py < g->in_height && px < g->in_width
                                      ? plane[(size_t)py * g->in_width + px]
                                      : 0.0f;
                    }
                /* B^T d down the columns, then B along the rows. */
                for (int x = 0; x < 6; x++)
                    input_transform_scalar(&d[0][x], 6, &t[0][x], 6);
                for (int k = 0; k < 6; k++)
                    input_transform_scalar(t[k], 1, u[k], 1);
                const int slot = q * g->slot_columns + tc;
                for (int f = 0; f < WINOGRAD4_FREQUENCIES; f++)
                    v[((size_t)ci * WINOGRAD4_FREQUENCIES + f) * g->stride +
                      slot] = u[f / 6][f % 6];
            }
    }
}

static void multiply_scalar(const winograd4_geometry *g, const float *u,
                            const float *v, int out_block, float *m)
{
    const int cin = g->in_channels, cout = g->padded_out_channels;
    const size_t channel_stride = WINOGRAD4_FREQUENCIES * g->stride;
    for (int f = 0; f < WINOGRAD4_FREQUENCIES; f++) {
        const float *uf = u + (size_t)f * cin * cout + out_block;
        for (size_t t = 0; t < g->stride; t++) {
            float sum = 0.0f;
            for (int ci = 0; ci < cin; ci++)
                sum = fmaf(uf[(size_t)ci * cout],
                           v[(size_t)ci * channel_stride + f * g->stride + t],
                           sum);
            m[(size_t)f * g->stride + t] = sum;
        }
    }
}

/* The 16 outputs y[r][x] of tile slot `slot`, with the bias. */
static void tile_outputs_scalar(const winograd4_geometry *g, const float *m,
                                int slot, float bias, float y[4][4])
{
    float mm[6][6], s[4][6];
    for (int f = 0; f < WINOGRAD4_FREQUENCIES; f++)
        mm[f / 6][f % 6] = m[(size_t)f * g->stride + slot];
    for (int j = 0; j < 6; j++)
        output_transform_scalar(&mm[0][j], 6, &s[0][j], 6);
    for (int r = 0; r < 4; r++) {
        output_transform_scalar(s[r], 1, y[r], 1);
        for (int x = 0; x < 4; x++)
            y[r][x] += bias;
    }
}

static float relu_scalar(float value)
{
    return value > 0.0f ? value : 0.0f;
}

static void output_image_scalar(const winograd4_geometry *g, const float *m,
                                const float *bias, int relu, int out_block,
                                float *out, size_t out_plane, size_t out_row)
{
    const int co = out_block;
    float *plane = out + (size_t)co * out_plane;
    for (int q = 0; q < g->tile_rows; q++)
        for (int tc = 0; tc < g->tile_columns; tc++) {
            float y[4][4];
            tile_outputs_scalar(g, m, q * g->slot_columns + tc,
                                bias ? bias[co] : 0.0f, y);
            for (int r = 0; r < 4; r++)
                for (int x = 0; x < 4; x++) {
                    const int oy = 4 * q + r, ox = 4 * tc + x;
                    if (oy < g->out_height && ox < g->out_width)
                        plane[(size_t)oy * out_row + ox] =
                            relu ? relu_scalar(y[r][x]) : y[r][x];
                }
        }
}

/* ReLU and the max-pool's scan (maxpool2x2_forward_scalar's order, a
 * later value winning only if strictly greater) of the window (a, b) of
 * a tile's outputs: its value, and its position in *position. */
static float pool_window_scalar(const float y[4][4], int a, int b,
                                int *position)
{
    const float window[4] = {
        relu_scalar(y[2 * a][2 * b]), relu_scalar(y[2 * a][2 * b + 1]),
        relu_scalar(y[2 * a + 1][2 * b]), relu_scalar(y[2 * a + 1][2 * b + 1])};
    int best = 0;
    for (int k = 1; k < 4; k++)
        if (window[k] > window[best])
            best = k;
    *position = best;
    return window[best];
}

static void output_pool_image_scalar(const winograd4_geometry *g,
                                     const float *m, const float *bias,
                                     int out_block, float *out,
                                     size_t out_plane, size_t out_row)
{
    const int co = out_block;
    const int pooled_height = g->out_height / 2,
              pooled_width = g->out_width / 2;
    float *plane = out + (size_t)co * out_plane;
    for (int q = 0; q < g->tile_rows; q++)
        for (int tc = 0; tc < g->tile_columns; tc++) {
            float y[4][4];
            tile_outputs_scalar(g, m, q * g->slot_columns + tc,
                                bias ? bias[co] : 0.0f, y);
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++) {
                    const int py = 2 * q + a, px = 2 * tc + b;
                    if (py >= pooled_height || px >= pooled_width)
                        continue;
                    int position;
                    plane[(size_t)py * out_row + px] =
                        pool_window_scalar(y, a, b, &position);
                }
        }
}

static void output_pool_argmax_image_scalar(const winograd4_geometry *g,
                                            const float *m, const float *bias,
                                            int out_block, float *out,
                                            uint8_t *argmax, float *copy,
                                            size_t copy_plane, size_t copy_row)
{
    const int co = out_block;
    const int pooled_height = g->out_height / 2,
              pooled_width = g->out_width / 2;
    const size_t plane = (size_t)co * pooled_height * pooled_width;
    for (int q = 0; q < g->tile_rows; q++)
        for (int tc = 0; tc < g->tile_columns; tc++) {
            float y[4][4];
            tile_outputs_scalar(g, m, q * g->slot_columns + tc,
                                bias ? bias[co] : 0.0f, y);
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++) {
                    const int py = 2 * q + a, px = 2 * tc + b;
                    if (py >= pooled_height || px >= pooled_width)
                        continue;
                    int position;
                    const float value = pool_window_scalar(y, a, b, &position);
                    const size_t at =
                        plane + (size_t)py * pooled_width + (size_t)px;
                    out[at] = value;
                    argmax[at] = (uint8_t)position;
                    if (copy)
                        copy[(size_t)co * copy_plane + (size_t)py * copy_row +
                             (size_t)px] = value;
                }
        }
}

/* A applied to y[0], y[step], .., y[3 step] (4 values to 6): 2 roundings
 * on each path. */
static void gradient_transform_scalar(const float *y, int step, float *out,
                                      int out_step)
{
    const float y0 = y[0], y1 = y[step], y2 = y[2 * step], y3 = y[3 * step];
    const float a = y0 + y2, b = y1 + y3;
    const float c = fmaf(4.0f, y2, y0), d = fmaf(4.0f, y3, y1);
    out[0] = y0;
    out[out_step] = a + b;
    out[2 * out_step] = a - b;
    out[3 * out_step] = fmaf(2.0f, d, c);
    out[4 * out_step] = fmaf(-2.0f, d, c);
    out[5 * out_step] = y3;
}

static void gradient_image_scalar(const winograd4_geometry *g,
                                  const float *gradient, float *w)
{
    for (int co = 0; co < g->out_channels; co++) {
        const float *plane = gradient + (size_t)co * g->out_plane;
        for (int q = 0; q < g->tile_rows; q++)
            for (int tc = 0; tc < g->tile_columns; tc++) {
                float y[4][4], e[6][4], u[6][6];
                for (int r = 0; r < 4; r++)
                    for (int x = 0; x < 4; x++) {
                        const int oy = 4 * q + r, ox = 4 * tc + x;
                        y[r][x] = oy < g->out_height && ox < g->out_width
                                      ? plane[(size_t)oy * g->out_width + ox]
                                      : 0.0f;
                    }
                /* A dY down the columns, then A^T along the rows. */
                for (int x = 0; x < 4; x++)
                    gradient_transform_scalar(&y[0][x], 4, &e[0][x], 4);
                for (int k = 0; k < 6; k++)
                    gradient_transform_scalar(e[k], 1, u[k], 1);
                const int slot = q * g->slot_columns + tc;
                for (int f = 0; f < WINOGRAD4_FREQUENCIES; f++)
                    w[((size_t)co * WINOGRAD4_FREQUENCIES + f) * g->stride +
                      slot] = u[f / 6][f % 6];
            }
    }
}

static void gradient_multiply_scalar(const winograd4_geometry *g,
                                     const float *v, size_t v_image,
                                     const float *w, size_t w_image,
                                     size_t images, float *m)
{
    const int cin = g->in_channels, cout = g->padded_out_channels;
    const size_t channel_stride = WINOGRAD4_FREQUENCIES * g->stride;
    for (int f = 0; f < WINOGRAD4_FREQUENCIES; f++)
        for (int ci = 0; ci < cin; ci++)
            for (int co = 0; co < cout; co++) {
                float sum = 0.0f;
                for (size_t k = 0; k < images; k++) {
                    const float *vr =
                        v + k * v_image + ci * channel_stride + f * g->stride;
                    const float *wr =
                        w + k * w_image + co * channel_stride + f * g->stride;
                    for (size_t t = 0; t < g->stride; t++)
                        sum = fmaf(wr[t], vr[t], sum);
                }
                m[((size_t)f * cin + ci) * cout + co] += sum;
            }
}

const winograd4_microkernels winograd4_reference = {
    .lanes = 1,
    .block = 1,
    .max_tile_rows = 0,
    .max_tile_columns = 0,
    .min_channel_product = 1,
    .input_image = input_image_scalar,
    .multiply = multiply_scalar,
    .output_image = output_image_scalar,
    .output_pool_image = output_pool_image_scalar,
    .output_pool_argmax_image = output_pool_argmax_image_scalar,
    .pack = winograd4_pack_scalar,
    .min_weight_tiles = 1,
    .gradient_image = gradient_image_scalar,
    .gradient_multiply = gradient_multiply_scalar,
    .weights_of = winograd4_weights_of_scalar,
};
