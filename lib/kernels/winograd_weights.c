/* The Winograd F(2x2, 3x3) weight-gradient driver (winograd_weights.h).
 * It transforms a chunk of images into V and W (tiles of image k of the
 * chunk at k * image_tiles), adds the chunk's products into M, and after
 * the last chunk applies G^T M G. */
#include <string.h>

#include "kernels/winograd_weights.h"

/* V and W of a chunk of images take about this much: with the partials of
 * one frequency they stay in L2 while the products pass over them 16
 * times (measured with bench_kernels; 256 KB and 1 MB were slower). */
#define WEIGHT_CHUNK_BYTES (512 * 1024)

/* The largest V and W of one image the driver takes: 4 chunks' worth,
 * so that the scratch stays a few MB whatever the layer (64 -> 64
 * channels at 28 x 28 take 1.7 MB). */
#define IMAGE_LIMIT_BYTES (4 * WEIGHT_CHUNK_BYTES)

/* Vectors after each row of V and W that no stage reads or writes: rows a
 * power of two apart would share the few L1 sets that the products'
 * eleven streams cycle through. */
#define STRIDE_PADDING 1

static size_t round_up(size_t value, size_t multiple)
{
    return (value + multiple - 1) / multiple * multiple;
}

static int tile_rows_of(const winograd_geometry *g)
{
    return (g->out_height + 1) / 2;
}

/* Tiles of one image in V and W: whole vectors, so every image of a chunk
 * starts on a vector (when paired, a vector holds two tile rows and the
 * stages write every lane). */
static size_t image_tiles(const winograd_microkernels *mk,
                          const winograd_geometry *g)
{
    const int rows = tile_rows_of(g);
    if (g->paired)
        return (size_t)(rows + 1) / 2 * (size_t)mk->lanes;
    return round_up((size_t)rows * g->tile_columns, (size_t)mk->lanes);
}

/* Floats of V and W for one image. */
static size_t image_floats(const winograd_microkernels *mk,
                           const winograd_geometry *g)
{
    return (size_t)WINOGRAD_FREQUENCIES *
           (size_t)(g->in_channels + g->padded_out_channels) *
           image_tiles(mk, g);
}

/* Floats of V and W for a chunk of `images`. */
static size_t chunk_floats(const winograd_microkernels *mk,
                           const winograd_geometry *g, size_t images)
{
    return images * image_floats(mk, g) +
           (size_t)WINOGRAD_FREQUENCIES *
               (size_t)(g->in_channels + g->padded_out_channels) *
               (size_t)mk->lanes * STRIDE_PADDING;
}

static size_t chunk_images(const winograd_microkernels *mk,
                           const winograd_geometry *g)
{
    const size_t images =
        WEIGHT_CHUNK_BYTES / (sizeof(float) * image_floats(mk, g));
    return images > 0 ? images : 1;
}

/* Floats of M, [frequency][ci][co of padded_out_channels], rounded up to
 * whole cache lines so that V after it stays aligned. */
static size_t m_floats(const winograd_geometry *g)
{
    return round_up((size_t)WINOGRAD_FREQUENCIES * g->in_channels *
                        g->padded_out_channels,
                    16);
}

int winograd_weights_fits(const winograd_microkernels *microkernels,
                          const conv_shape *shape)
{
    if (conv_out_height(shape) < 1 || conv_out_width(shape) < 1)
        return 0;
    const winograd_geometry g = winograd_layer_geometry(microkernels, shape);
    return sizeof(float) * image_floats(microkernels, &g) <= IMAGE_LIMIT_BYTES;
}

size_t
winograd_weights_scratch_floats(const winograd_microkernels *microkernels,
                                const conv_shape *shape)
{
    const winograd_geometry g = winograd_layer_geometry(microkernels, shape);
    return m_floats(&g) +
           chunk_floats(microkernels, &g, chunk_images(microkernels, &g));
}

/* Zeros where the stages write nothing, so those lanes add exact zeros:
 * in W the rows of the padded output channels and, unless paired, the
 * lanes after each image's last tile (also in V, which must be finite
 * there). */
static void clear_unwritten(const winograd_microkernels *mk,
                            const winograd_geometry *g, size_t images, float *v,
                            float *w)
{
    const size_t channel_floats = WINOGRAD_FREQUENCIES * g->stride;
    memset(w + (size_t)g->out_channels * channel_floats, 0,
           sizeof(float) * (size_t)(g->padded_out_channels - g->out_channels) *
               channel_floats);
    if (g->paired)
        return;
    const size_t per_image = image_tiles(mk, g);
    const size_t used = (size_t)tile_rows_of(g) * g->tile_columns;
    if (used == per_image)
        return;
    const int rows = WINOGRAD_FREQUENCIES * g->in_channels;
    const int w_rows = WINOGRAD_FREQUENCIES * g->out_channels;
    for (size_t k = 0; k < images; k++) {
        const size_t at = k * per_image + used;
        for (int r = 0; r < rows; r++)
            memset(v + (size_t)r * g->stride + at, 0,
                   sizeof(float) * (per_image - used));
        for (int r = 0; r < w_rows; r++)
            memset(w + (size_t)r * g->stride + at, 0,
                   sizeof(float) * (per_image - used));
    }
}

/* Asks for part [first, last) of `parts` of the n floats at p to be
 * brought towards L2 (prefetcht1 on x86): the transforms read a few rows of
 * each small channel plane, which the hardware prefetchers do not follow,
 * and stalled on L3 without it. */
static void prefetch_part(const float *p, size_t n, size_t first, size_t last,
                          int parts)
{
    const size_t end = last >= (size_t)parts ? n : n * last / (size_t)parts;
    for (size_t k = n * first / (size_t)parts / 16 * 16; k < end; k += 16)
        __builtin_prefetch(p + k, 0, 2);
}

/* Output channels per pass of weights_of: its values stay in L1. */
#define TRANSFORM_CHANNELS 64

/* weight_grad = G^T M G for every channel pair, in float, with the output
 * channels (contiguous in M) innermost so that the compiler vectorises it.
 * G's entries are 0, 1 and +-1/2: each result passes through 4 roundings
 * (two additions each way; the halvings are exact). */
static void weights_of(const winograd_geometry *g, const float *m,
                       float *weight_grad)
{
    const int cin = g->in_channels, cout = g->out_channels;
    const size_t padded = (size_t)g->padded_out_channels;
    for (int ci = 0; ci < cin; ci++)
        for (int co0 = 0; co0 < cout; co0 += TRANSFORM_CHANNELS) {
            const int n = cout - co0 < TRANSFORM_CHANNELS ? cout - co0
                                                          : TRANSFORM_CHANNELS;
            /* M G: row k of M is frequencies 4 k .. 4 k + 3. */
            float mg[4][3][TRANSFORM_CHANNELS];
            for (int k = 0; k < 4; k++) {
                const float *row =
                    m + ((size_t)(4 * k) * cin + ci) * padded + co0;
                const size_t next = (size_t)cin * padded;
                for (int c = 0; c < n; c++) {
                    const float m0 = row[c], m1 = row[next + c],
                                m2 = row[2 * next + c], m3 = row[3 * next + c];
                    mg[k][0][c] = m0 + 0.5f * (m1 + m2);
                    mg[k][1][c] = 0.5f * (m1 - m2);
                    mg[k][2][c] = 0.5f * (m1 + m2) + m3;
                }
            }
            /* G^T (M G), the same combination down the rows. */
            float dw[9][TRANSFORM_CHANNELS];
            for (int b = 0; b < 3; b++)
                for (int c = 0; c < n; c++) {
                    const float r0 = mg[0][b][c], r1 = mg[1][b][c],
                                r2 = mg[2][b][c], r3 = mg[3][b][c];
                    dw[b][c] = r0 + 0.5f * (r1 + r2);
                    dw[3 + b][c] = 0.5f * (r1 - r2);
                    dw[6 + b][c] = 0.5f * (r1 + r2) + r3;
                }
            for (int c = 0; c < n; c++) {
                float *out = weight_grad + ((size_t)(co0 + c) * cin + ci) * 9;
                for (int k = 0; k < 9; k++)
                    out[k] = dw[k][c];
            }
        }
}

void winograd_backward_weights(const winograd_microkernels *microkernels,
                               const conv_shape *shape, size_t count,
                               const float *input_padded,
                               const float *output_grad, float *weight_grad,
                               float *scratch)
{
    const winograd_microkernels *mk = microkernels;
    winograd_geometry g = winograd_layer_geometry(mk, shape);
    const size_t lanes = (size_t)mk->lanes;
    const size_t per_image = image_tiles(mk, &g), chunk = chunk_images(mk, &g);
    const size_t in_image = (size_t)g.in_channels * g.in_plane;
    const size_t out_image = (size_t)g.out_channels * g.out_plane;
    const int tile_rows = tile_rows_of(&g), step = g.paired ? 2 : 1;
    float *m = scratch;
    float *v = m + m_floats(&g);
    memset(m, 0, sizeof(float) * m_floats(&g));
    for (size_t i0 = 0; i0 < count; i0 += chunk) {
        const size_t images = count - i0 < chunk ? count - i0 : chunk;
        g.stride = images * per_image + lanes * STRIDE_PADDING;
        float *w = v + (size_t)WINOGRAD_FREQUENCIES * g.in_channels * g.stride;
        clear_unwritten(mk, &g, images, v, w);
        for (size_t k = 0; k < images; k++) {
            const size_t i = i0 + k;
            const float *image = input_padded + i * in_image;
            const float *gradient = output_grad + i * out_image;
            for (int r = 0; r < tile_rows; r += step) {
                const size_t at = k * per_image + (size_t)r * g.row_tiles;
                /* The next image's share, spread over the tile rows. */
                if (i + 1 < count) {
                    const size_t a = (size_t)r, b = (size_t)(r + step);
                    prefetch_part(image + in_image, in_image, a, b, tile_rows);
                    prefetch_part(gradient + out_image, out_image, a, b,
                                  tile_rows);
                }
                mk->input_row(&g, image, r, v + at);
                mk->gradient_row(&g, gradient, r, w + at);
            }
        }
        mk->gradient_multiply(&g, v, w, (int)(images * per_image / lanes), m);
    }
    weights_of(&g, m, weight_grad);
}
