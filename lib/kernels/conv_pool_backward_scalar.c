/* Plain-C reference of conv3x3_pool_backward_weights (kernels.h): the
 * convolution's weight and bias gradients from the pool's output gradient,
 * one term per pooled value. Compiled without contraction (meson.build), so
 * each product is rounded before it is added, as the SIMD variants do. */
#include <string.h>

#include "kernels/kernels.h"

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
    size_t o = 0; /* (image, co, r, c), the pooled arrays' order */
    for (size_t i = 0; i < count; i++)
        for (int co = 0; co < out_channels; co++) {
            float *dw = weight_grad + (size_t)co * in_channels * 9;
            for (int r = 0; r < pooled_rows; r++)
                for (int c = 0; c < pooled_columns; c++, o++) {
                    const float g =
                        !pooled || pooled[o] > 0.0f ? pooled_grad[o] : 0.0f;
                    bias_grad[co] += g;
                    const int y = 2 * r + (argmax[o] >> 1),
                              x = 2 * c + (argmax[o] & 1);
                    for (int ci = 0; ci < in_channels; ci++) {
                        const float *in = input_padded +
                                          (i * in_channels + ci) * in_plane +
                                          (size_t)y * padded_w + x;
                        for (int kh = 0; kh < 3; kh++)
                            for (int kw = 0; kw < 3; kw++)
                                dw[ci * 9 + kh * 3 + kw] +=
                                    g * in[(size_t)kh * padded_w + kw];
                    }
                }
        }
}
