/* The Winograd F(2x2, 3x3) forward driver and its plain-C stages (see
 * winograd.h). The driver packs U, cuts each image into blocks of tile rows
 * whose V and M fit a stack buffer, and runs the three stages of the
 * variant's microkernels on each block. */
#include <math.h>
#include <string.h>

#include "kernels/winograd.h"
#include "kernels/winograd_weight_transform.h"

/* V of one block of tile rows and M of one block of output channels live
 * on the stack: 64 KB, which holds 32 tiles of a layer with 16 input
 * channels (the seed network's conv2, the classifier's conv2). */
#define WINOGRAD_BUFFER_FLOATS 16384

static int padded_out_channels(const winograd_microkernels *mk,
                               const conv_shape *shape)
{
    return round_up_to(shape->out_channels, mk->block);
}

/* Whether the stages put two tile rows in one vector: when a tile row
 * fills at most half a vector (the seed network's and the classifier's
 * 14 x 14 and 16 x 16 outputs at 16 lanes), which keeps the lanes busy. */
static int paired_rows(const winograd_microkernels *mk, const conv_shape *shape)
{
    return mk->lanes >= 4 && 2 * conv_tile_columns(shape, 2) <= mk->lanes;
}

/* Tiles one tile row takes in V and M: half a vector when paired. */
static int row_tiles(const winograd_microkernels *mk, const conv_shape *shape)
{
    return paired_rows(mk, shape) ? mk->lanes / 2 : conv_tile_columns(shape, 2);
}

/* Tiles of a block of `rows` tile rows (whole pairs when paired). */
static int block_tiles(const winograd_microkernels *mk, const conv_shape *shape,
                       int rows)
{
    const int step = paired_rows(mk, shape) ? 2 : 1;
    return round_up_to(rows, step) * row_tiles(mk, shape);
}

/* Floats of V and M for a block of `rows` tile rows. */
static size_t block_floats(const winograd_microkernels *mk,
                           const conv_shape *shape, int rows)
{
    const size_t stride =
        (size_t)round_up_to(block_tiles(mk, shape, rows), mk->lanes);
    return WINOGRAD_FREQUENCIES * stride *
           (size_t)(shape->in_channels + mk->block);
}

/* Tile rows per block: about block_tiles tiles (whole pairs when paired),
 * within the buffer. */
static int block_rows(const winograd_microkernels *mk, const conv_shape *shape)
{
    const int step = paired_rows(mk, shape) ? 2 : 1;
    int rows = mk->block_tiles / row_tiles(mk, shape) / step * step;
    if (rows < step)
        rows = step;
    if (rows > conv_tile_rows(shape, 2))
        rows = conv_tile_rows(shape, 2);
    while (rows > 0 && block_floats(mk, shape, rows) > WINOGRAD_BUFFER_FLOATS)
        rows -= rows > step ? step : rows;
    return rows;
}

int winograd_fits(const winograd_microkernels *microkernels,
                  const conv_shape *shape)
{
    return conv_out_height(shape) >= 1 && conv_out_width(shape) >= 1 &&
           block_rows(microkernels, shape) >= 1;
}

size_t winograd_packed_floats(const winograd_microkernels *microkernels,
                              const conv_shape *shape)
{
    return (size_t)WINOGRAD_FREQUENCIES * shape->in_channels *
           padded_out_channels(microkernels, shape);
}

int winograd_pack(const winograd_microkernels *microkernels,
                  const conv_shape *shape, const float *weights,
                  int rotate_swap, float *packed)
{
    /* In double, rounded once: U adds one rounding to the bound. */
    return winograd_pack_pairs(
        4, winograd_transform_g, 1.0, shape, weights, rotate_swap,
        padded_out_channels(microkernels, shape), packed);
}

winograd_geometry winograd_layer_geometry(const winograd_microkernels *mk,
                                          const conv_shape *shape)
{
    const winograd_geometry g = {
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
        .tile_columns = conv_tile_columns(shape, 2),
        .row_tiles = row_tiles(mk, shape),
        .paired = paired_rows(mk, shape),
    };
    return g;
}

/* Where the max-pool of the output goes, for the fused forward pass. */
typedef struct pooled_destination {
    float *output;
    size_t plane, row;
} pooled_destination;

/* The forward pass of every image, into output (pool NULL) or pooled. */
static void forward_images(const winograd_microkernels *mk,
                           const conv_shape *shape, size_t count,
                           const float *input_padded, const float *packed,
                           const float *bias, int relu, float *output,
                           const pooled_destination *pool)
{
    winograd_geometry g = winograd_layer_geometry(mk, shape);
    const int step = g.paired ? 2 : 1;
    const int tile_rows = conv_tile_rows(shape, 2),
              rows = block_rows(mk, shape);
    const size_t in_image = (size_t)g.in_channels * g.in_plane;
    const size_t out_image =
        (size_t)g.out_channels * (pool ? pool->plane : g.out_plane);
    const int channel_rows = WINOGRAD_FREQUENCIES * g.in_channels;
    _Alignas(64) float buffer[WINOGRAD_BUFFER_FLOATS];
    float *v = buffer;
    /* The last vector's extra tiles: the input transform never writes
     * them, so zeros set once keep the products of lanes no output reads
     * finite. (A shorter last block finds earlier blocks' values there.) */
    const int first_tiles = block_tiles(mk, shape, rows);
    const size_t first_stride = (size_t)round_up_to(first_tiles, mk->lanes);
    for (int r = 0; r < channel_rows; r++)
        for (size_t t = (size_t)first_tiles; t < first_stride; t++)
            v[r * first_stride + t] = 0.0f;
    for (size_t i = 0; i < count; i++) {
        const float *image = input_padded + i * in_image;
        float *out = (pool ? pool->output : output) + i * out_image;
        for (int row0 = 0; row0 < tile_rows; row0 += rows) {
            const int block = rows < tile_rows - row0 ? rows : tile_rows - row0;
            const int tiles = block_tiles(mk, shape, block);
            g.stride = tiles == first_tiles
                           ? first_stride
                           : (size_t)round_up_to(tiles, mk->lanes);
            float *m = buffer + (size_t)channel_rows * g.stride;
            for (int r = 0; r < block; r += step)
                mk->input_row(&g, image, row0 + r, v + r * g.row_tiles);
            for (int co = 0; co < g.out_channels; co += mk->block) {
                mk->multiply(&g, packed, v, tiles, co, m);
                for (int r = 0; r < block; r += step)
                    if (pool)
                        mk->output_pool_row(&g, m + r * g.row_tiles, bias,
                                            row0 + r, co, out, pool->plane,
                                            pool->row);
                    else
                        mk->output_row(&g, m + r * g.row_tiles, bias, relu,
                                       row0 + r, co, out);
            }
        }
    }
}

void winograd_forward(const winograd_microkernels *microkernels,
                      const conv_shape *shape, size_t count,
                      const float *input_padded, const float *packed,
                      const float *bias, int relu, float *output)
{
    forward_images(microkernels, shape, count, input_padded, packed, bias, relu,
                   output, NULL);
}

void winograd_forward_relu_pool(const winograd_microkernels *microkernels,
                                const conv_shape *shape, size_t count,
                                const float *input_padded, const float *packed,
                                const float *bias, float *output,
                                size_t output_plane, size_t output_row)
{
    const pooled_destination pool = {output, output_plane, output_row};
    forward_images(microkernels, shape, count, input_padded, packed, bias, 1,
                   NULL, &pool);
}

/* ---- The plain-C stages ------------------------------------------------ */

/* The input value at padded row y, column x of channel plane p (zero past
 * the padded input). */
static float input_at(const winograd_geometry *g, const float *p, int y, int x)
{
    return y < g->in_height && x < g->in_width ? p[(size_t)y * g->in_width + x]
                                               : 0.0f;
}

static void input_row_scalar(const winograd_geometry *g, const float *image,
                             int tile_row, float *v)
{
    for (int ci = 0; ci < g->in_channels; ci++) {
        const float *plane = image + (size_t)ci * g->in_plane;
        for (int tc = 0; tc < g->tile_columns; tc++) {
            float d[4][4], t[4][4];
            for (int y = 0; y < 4; y++)
                for (int x = 0; x < 4; x++)
                    d[y][x] = input_at(g, plane, 2 * tile_row + y, 2 * tc + x);
            /* B^T d: down the columns. */
            for (int x = 0; x < 4; x++) {
                t[0][x] = d[0][x] - d[2][x];
                t[1][x] = d[1][x] + d[2][x];
                t[2][x] = d[2][x] - d[1][x];
                t[3][x] = d[1][x] - d[3][x];
            }
            /* (B^T d) B: along the rows. */
            for (int k = 0; k < 4; k++) {
                const float row[4] = {t[k][0] - t[k][2], t[k][1] + t[k][2],
                                      t[k][2] - t[k][1], t[k][1] - t[k][3]};
                for (int j = 0; j < 4; j++)
                    v[((size_t)ci * WINOGRAD_FREQUENCIES + k * 4 + j) *
                          g->stride +
                      tc] = row[j];
            }
        }
    }
}

static void multiply_scalar(const winograd_geometry *g, const float *u,
                            const float *v, int tiles, int out_block, float *m)
{
    const int cin = g->in_channels, cout = g->padded_out_channels;
    const size_t channel_stride = WINOGRAD_FREQUENCIES * g->stride;
    for (int f = 0; f < WINOGRAD_FREQUENCIES; f++) {
        const float *uf = u + (size_t)f * cin * cout + out_block;
        const float *vf = v + (size_t)f * g->stride;
        float *mf = m + (size_t)f * g->stride;
        for (int t = 0; t < tiles; t++) {
            float sum = 0.0f;
            for (int ci = 0; ci < cin; ci++)
                sum +=
                    uf[(size_t)ci * cout] * vf[(size_t)ci * channel_stride + t];
            mf[t] = sum;
        }
    }
}

/* The four outputs y[r][x] of tile column tc, with the bias. */
static void tile_outputs_scalar(const winograd_geometry *g, const float *m,
                                int tc, float bias, float y[2][2])
{
    float s[2][4];
    for (int k = 0; k < 4; k++) {
        const float *at = m + (size_t)k * 4 * g->stride + tc;
        const float m0 = at[0], m1 = at[g->stride], m2 = at[2 * g->stride],
                    m3 = at[3 * g->stride];
        s[0][k] = m0 + m1 + m2;
        s[1][k] = m1 - m2 - m3;
    }
    for (int x = 0; x < 2; x++) {
        y[0][x] = s[x][0] + s[x][1] + s[x][2] + bias;
        y[1][x] = s[x][1] - s[x][2] - s[x][3] + bias;
    }
}

static float relu_scalar(float value)
{
    return value > 0.0f ? value : 0.0f;
}

static void output_row_scalar(const winograd_geometry *g, const float *m,
                              const float *bias, int relu, int tile_row,
                              int out_block, float *out)
{
    const int co = out_block;
    float *plane = out + (size_t)co * g->out_plane;
    for (int tc = 0; tc < g->tile_columns; tc++) {
        float y[2][2];
        tile_outputs_scalar(g, m, tc, bias ? bias[co] : 0.0f, y);
        for (int r = 0; r < 2; r++)
            for (int x = 0; x < 2; x++) {
                const int oy = 2 * tile_row + r, ox = 2 * tc + x;
                if (oy < g->out_height && ox < g->out_width)
                    plane[(size_t)oy * g->out_width + ox] =
                        relu ? relu_scalar(y[r][x]) : y[r][x];
            }
    }
}

static void output_pool_row_scalar(const winograd_geometry *g, const float *m,
                                   const float *bias, int tile_row,
                                   int out_block, float *out, size_t out_plane,
                                   size_t out_row)
{
    const int co = out_block;
    if (tile_row >= g->out_height / 2)
        return;
    float *row = out + (size_t)co * out_plane + (size_t)tile_row * out_row;
    for (int tc = 0; tc < g->out_width / 2; tc++) {
        float y[2][2];
        tile_outputs_scalar(g, m, tc, bias ? bias[co] : 0.0f, y);
        /* The max-pool's order; ReLU values are never NaN. */
        float best = relu_scalar(y[0][0]);
        const float rest[3] = {y[0][1], y[1][0], y[1][1]};
        for (int k = 0; k < 3; k++)
            if (relu_scalar(rest[k]) > best)
                best = relu_scalar(rest[k]);
        row[tc] = best;
    }
}

/* The gradient value at row y, column x of channel plane p (zero past the
 * output). */
static float gradient_at(const winograd_geometry *g, const float *p, int y,
                         int x)
{
    return y < g->out_height && x < g->out_width
               ? p[(size_t)y * g->out_width + x]
               : 0.0f;
}

static void gradient_row_scalar(const winograd_geometry *g,
                                const float *gradient, int tile_row, float *w)
{
    for (int co = 0; co < g->out_channels; co++) {
        const float *plane = gradient + (size_t)co * g->out_plane;
        for (int tc = 0; tc < g->tile_columns; tc++) {
            float dy[2][2], t[4][2];
            for (int y = 0; y < 2; y++)
                for (int x = 0; x < 2; x++)
                    dy[y][x] =
                        gradient_at(g, plane, 2 * tile_row + y, 2 * tc + x);
            /* A dY: down the columns. */
            for (int x = 0; x < 2; x++) {
                t[0][x] = dy[0][x];
                t[1][x] = dy[0][x] + dy[1][x];
                t[2][x] = dy[0][x] - dy[1][x];
                t[3][x] = -dy[1][x];
            }
            /* (A dY) A^T: along the rows. */
            for (int k = 0; k < 4; k++) {
                const float row[4] = {t[k][0], t[k][0] + t[k][1],
                                      t[k][0] - t[k][1], -t[k][1]};
                for (int j = 0; j < 4; j++)
                    w[((size_t)co * WINOGRAD_FREQUENCIES + k * 4 + j) *
                          g->stride +
                      tc] = row[j];
            }
        }
    }
}

static void gradient_multiply_scalar(const winograd_geometry *g, const float *v,
                                     const float *w, int vectors, float *m)
{
    const int cin = g->in_channels, cout = g->padded_out_channels;
    const size_t channel_stride = WINOGRAD_FREQUENCIES * g->stride;
    for (int f = 0; f < WINOGRAD_FREQUENCIES; f++)
        for (int ci = 0; ci < cin; ci++)
            for (int co = 0; co < cout; co++) {
                const float *wr =
                    w + co * channel_stride + (size_t)f * g->stride;
                const float *vr =
                    v + ci * channel_stride + (size_t)f * g->stride;
                float sum = 0.0f;
                for (int t = 0; t < vectors; t++)
                    sum += wr[t] * vr[t];
                m[((size_t)f * cin + ci) * cout + co] += sum;
            }
}

const winograd_microkernels winograd_reference = {
    .lanes = 1,
    .block = 1,
    .block_tiles = 16,
    .min_channels = 1,
    .min_channel_product = 1,
    .min_weight_channel_product = 1,
    .input_row = input_row_scalar,
    .multiply = multiply_scalar,
    .output_row = output_row_scalar,
    .output_pool_row = output_pool_row_scalar,
    .gradient_row = gradient_row_scalar,
    .gradient_multiply = gradient_multiply_scalar,
};
