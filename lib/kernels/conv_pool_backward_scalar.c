/* Plain-C reference of conv3x3_pool_backward_weights (kernels.h): the
 * convolution's weight and bias gradients from the pool's output gradient,
 * one term per pooled value. Compiled without contraction (meson.build), so
 * each product is rounded before it is added, as the SIMD variants do. */
#include <string.h>

#include "kernels/kernels.h"

/* Whether the 4 x 4 patch at `corner` (every position a window's argmax
 * can select) holds only zeros (+0 or -0; NaN is not zero). */
static int patch_is_zero(const float *corner, int padded_w)
{
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            if (corner[(size_t)y * padded_w + x] != 0.0f)
                return 0;
    return 1;
}

void conv3x3_pool_backward_weights_scalar(const conv_shape *shape, size_t count,
                                          const float *input_padded,
                                          const float *pooled,
                                          const float *pooled_grad,
                                          const uint8_t *argmax,
                                          float *weight_grad, float *bias_grad)
{
    const int in_channels = shape->in_channels,
              out_channels = shape->out_channels;
    const int padded_w = conv_padded_width(shape);
    const size_t in_plane = (size_t)conv_padded_height(shape) * padded_w;
    const int pooled_rows = conv_out_height(shape) / 2,
              pooled_columns = conv_out_width(shape) / 2;
    memset(weight_grad, 0,
           sizeof(float) * (size_t)out_channels * in_channels * 9);
    memset(bias_grad, 0, sizeof(float) * (size_t)out_channels);
    const size_t pooled_plane = (size_t)pooled_rows * pooled_columns;
    /* Each sum takes its terms in the order (image, row, column); the
     * channels are inside, so each window's patch is tested once per
     * input channel. */
    for (size_t i = 0; i < count; i++)
        for (int r = 0; r < pooled_rows; r++)
            for (int c = 0; c < pooled_columns; c++) {
                const size_t first = i * out_channels * pooled_plane +
                                     (size_t)r * pooled_columns + c;
                for (int co = 0; co < out_channels; co++) {
                    const size_t o = first + co * pooled_plane;
                    bias_grad[co] +=
                        !pooled || pooled[o] > 0.0f ? pooled_grad[o] : 0.0f;
                }
                for (int ci = 0; ci < in_channels; ci++) {
                    const float *plane =
                        input_padded + (i * in_channels + ci) * in_plane;
                    if (patch_is_zero(plane + (size_t)(2 * r) * padded_w +
                                          2 * c,
                                      padded_w))
                        continue; /* only zeros to add (kernels.h) */
                    for (int co = 0; co < out_channels; co++) {
                        const size_t o = first + co * pooled_plane;
                        const float g =
                            !pooled || pooled[o] > 0.0f ? pooled_grad[o] : 0.0f;
                        const float *in =
                            plane +
                            (size_t)(2 * r + (argmax[o] >> 1)) * padded_w +
                            2 * c + (argmax[o] & 1);
                        float *dw =
                            weight_grad + ((size_t)co * in_channels + ci) * 9;
                        for (int kh = 0; kh < 3; kh++)
                            for (int kw = 0; kw < 3; kw++)
                                dw[kh * 3 + kw] +=
                                    g * in[(size_t)kh * padded_w + kw];
                    }
                }
            }
}
