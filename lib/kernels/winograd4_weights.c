/* The Winograd F(4x4, 3x3) weight-gradient driver (winograd4_weights.h).
 * It transforms a chunk of images into W (and V, unless the forward pass
 * kept it), image after image (V [ci][36][slots], W [co][36][slots] of
 * each), adds the chunk's products into M, and after the last chunk
 * applies G^T M G in double. */
#include <string.h>

#include "kernels/winograd4_weights.h"

/* V and W of a chunk of images take at most about this much, so that they
 * stay in L2 while the products pass over them once per frequency and
 * block of input channels: measured with bench_kernels --only d-weights
 * from 256 KB to 2 MB (docs/performance.md). */
#define WEIGHT_CHUNK_BYTES (768 * 1024)

/* The largest V and W of one image the driver takes, as F(2x2)'s. */
#define IMAGE_LIMIT_BYTES (4 * WEIGHT_CHUNK_BYTES)

static size_t round_up(size_t value, size_t multiple)
{
    return (value + multiple - 1) / multiple * multiple;
}

/* Floats of V and W for one image (V [ci][36][slots], W [co][36][slots],
 * slots: the image's tile slots rounded up to whole vectors, so that every
 * image of a chunk starts on a vector). */
static size_t image_floats(const winograd4_microkernels *mk,
                           const conv_shape *shape)
{
    const winograd4_geometry g = winograd4_geometry_of(mk, shape);
    return (size_t)WINOGRAD4_FREQUENCIES *
           (size_t)(g.in_channels + g.padded_out_channels) * g.stride;
}

static size_t chunk_images(const winograd4_microkernels *mk,
                           const conv_shape *shape)
{
    const size_t images =
        WEIGHT_CHUNK_BYTES / (sizeof(float) * image_floats(mk, shape));
    return images > 0 ? images : 1;
}

/* Floats of V and W for a chunk of `images`. */
static size_t chunk_floats(const winograd4_microkernels *mk,
                           const conv_shape *shape, size_t images)
{
    return images * image_floats(mk, shape);
}

/* Floats of M, [frequency][ci][co of padded_out_channels], rounded up to
 * whole cache lines so that V after it stays aligned. */
static size_t m_floats(const winograd4_microkernels *mk,
                       const conv_shape *shape)
{
    return round_up((size_t)WINOGRAD4_FREQUENCIES * shape->in_channels *
                        (size_t)round_up_to(shape->out_channels, mk->block),
                    16);
}

int winograd4_weights_fits(const winograd4_microkernels *microkernels,
                           const conv_shape *shape)
{
    if (!microkernels->gradient_image || !microkernels->gradient_multiply ||
        !winograd4_tiles_fit(microkernels, shape))
        return 0;
    return sizeof(float) * image_floats(microkernels, shape) <=
           IMAGE_LIMIT_BYTES;
}

size_t
winograd4_weights_scratch_floats(const winograd4_microkernels *microkernels,
                                 const conv_shape *shape)
{
    return m_floats(microkernels, shape) +
           chunk_floats(microkernels, shape, chunk_images(microkernels, shape));
}

/* Output channels per pass of weights_of: its values stay in L1. */
#define TRANSFORM_CHANNELS 32

/* 24 G^T applied to r[0], .., r[5] (6 values to 3), in double: 24 G has
 * small integer entries, so on integer values this is exact, and the
 * division by 24^2 at the end gives every integer gradient exactly (G's
 * own entries 1/6, 1/12, 1/24 would leave a residue of order 1e-15 where
 * the gradient is 0). The rows of G grouped as sums and differences of
 * the pairs they share: 11 operations instead of 18. */
static void transform_g_transposed(const double r[6], double out[3])
{
    const double sum12 = r[1] + r[2], difference12 = r[1] - r[2];
    const double sum34 = r[3] + r[4], difference34 = r[3] - r[4];
    out[0] = 6.0 * r[0] - 4.0 * sum12 + sum34;
    out[1] = 2.0 * difference34 - 4.0 * difference12;
    out[2] = 4.0 * (sum34 - sum12) + 24.0 * r[5];
}

/* weight_grad = G^T M G = (24 G)^T M (24 G) / 576 of every channel pair,
 * in double, each value rounded once to float; the output channels
 * (contiguous in M) innermost. Multiplying by 1 / 576 (rounded to double)
 * instead of dividing keeps integer results exact: 576 k times it is k
 * within two double roundings, which the rounding to float removes for
 * any integer 0 < |k| < 2^24, and 0 stays 0. */
static void weights_of(const conv_shape *shape, int padded_out, const float *m,
                       float *weight_grad)
{
    const int cin = shape->in_channels, cout = shape->out_channels;
    const size_t frequency = (size_t)cin * padded_out;
    for (int ci = 0; ci < cin; ci++)
        for (int co0 = 0; co0 < cout; co0 += TRANSFORM_CHANNELS) {
            const int n = cout - co0 < TRANSFORM_CHANNELS ? cout - co0
                                                          : TRANSFORM_CHANNELS;
            const float *pair = m + (size_t)ci * padded_out + co0;
            /* G^T M down the columns: gm[a][j]. */
            double gm[3][6][TRANSFORM_CHANNELS];
            for (int j = 0; j < 6; j++)
                for (int c = 0; c < n; c++) {
                    double column[6], out[3];
                    for (int k = 0; k < 6; k++)
                        column[k] = pair[(size_t)(6 * k + j) * frequency + c];
                    transform_g_transposed(column, out);
                    for (int a = 0; a < 3; a++)
                        gm[a][j][c] = out[a];
                }
            /* (G^T M) G along the rows. */
            for (int a = 0; a < 3; a++)
                for (int c = 0; c < n; c++) {
                    double row[6], out[3];
                    for (int j = 0; j < 6; j++)
                        row[j] = gm[a][j][c];
                    transform_g_transposed(row, out);
                    float *dw =
                        weight_grad + ((size_t)(co0 + c) * cin + ci) * 9;
                    for (int b = 0; b < 3; b++)
                        dw[3 * a + b] = (float)(out[b] * (1.0 / 576));
                }
        }
}

void winograd4_backward_weights(const winograd4_microkernels *microkernels,
                                const conv_shape *shape, size_t count,
                                const float *input_padded, const float *kept_v,
                                const float *output_grad, float *weight_grad,
                                float *scratch)
{
    const winograd4_microkernels *mk = microkernels;
    const winograd4_geometry g = winograd4_geometry_of(mk, shape);
    const int padded_out = g.padded_out_channels;
    const size_t per_image = g.stride;
    /* V and W image by image: V [ci][36][slots], W [co][36][slots]. */
    const size_t frequency_rows = WINOGRAD4_FREQUENCIES * per_image;
    const size_t v_image = (size_t)g.in_channels * frequency_rows,
                 w_image = (size_t)padded_out * frequency_rows;
    const size_t chunk = chunk_images(mk, shape);
    const size_t in_image = (size_t)g.in_channels * g.in_plane;
    const size_t out_image = (size_t)g.out_channels * g.out_plane;
    float *m = scratch;
    float *v = m + m_floats(mk, shape);
    float *w = v + chunk * v_image;
    memset(m, 0, sizeof(float) * m_floats(mk, shape));
    /* W of the padded output channels: zeros, so they add nothing. */
    for (size_t k = 0; k < chunk && padded_out > g.out_channels; k++)
        memset(w + k * w_image + (size_t)g.out_channels * frequency_rows, 0,
               sizeof(float) * (size_t)(padded_out - g.out_channels) *
                   frequency_rows);
    /* Chunks of equal size (the last at most one image shorter), so that
     * no chunk is a remnant whose lane sums cost more than its products. */
    const size_t chunks = (count + chunk - 1) / chunk;
    size_t i0 = 0;
    for (size_t c = 0; c < chunks; c++) {
        const size_t images =
            (count - i0) / (chunks - c) + ((count - i0) % (chunks - c) != 0);
        for (size_t k = 0; k < images; k++) {
            const size_t i = i0 + k;
            if (!kept_v)
                mk->input_image(&g, input_padded + i * in_image,
                                v + k * v_image);
            mk->gradient_image(&g, output_grad + i * out_image,
                               w + k * w_image);
        }
        mk->gradient_multiply(&g, kept_v ? kept_v + i0 * v_image : v, v_image,
                              w, w_image, images, m);
        i0 += images;
    }
    weights_of(shape, padded_out, m, weight_grad);
}
