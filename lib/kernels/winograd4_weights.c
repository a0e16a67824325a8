/* The Winograd F(4x4, 3x3) weight-gradient driver (winograd4_weights.h).
 * It transforms a chunk of images into W (and V, unless the forward pass
 * kept it), image after image (V [ci][36][slots], W [co][36][slots] of
 * each), adds the chunk's products into M, and after the last chunk
 * applies G^T M G in double (the stages' weights_of,
 * winograd4_weights_of_template.h). */
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
    mk->weights_of(shape, padded_out, m, weight_grad);
}
