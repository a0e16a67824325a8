/* Plain-C reference for the 3x3 convolution: forward, input gradient,
 * weight and bias gradients. Written for clarity; the SIMD variants are
 * held to it by tests/test_kernels.c. */
#include <string.h>

#include "kernels/kernels.h"

/* One output of the forward convolution, before the ReLU: the bias, then
 * the taps in (ci, kh, kw) order. Shared by the plain and the pooled
 * forward so the two give the same bits. */
static inline float forward_point(const conv_shape *shape, const float *in,
                                  const float *weights, const float *bias,
                                  int co, int oh, int ow)
{
    const int hp = conv_padded_height(shape), wp = conv_padded_width(shape);
    const int cin = shape->in_channels;
    float sum = bias[co];
    for (int ci = 0; ci < cin; ci++)
        for (int kh = 0; kh < 3; kh++)
            for (int kw = 0; kw < 3; kw++)
                sum += weights[((co * cin + ci) * 3 + kh) * 3 + kw] *
                       in[((size_t)ci * hp + oh + kh) * wp + ow + kw];
    return sum;
}

static inline float relu_of(float value)
{
    return value > 0.0f ? value : 0.0f;
}

void conv3x3_forward_scalar(const conv_shape *shape, size_t count,
                            const float *input_padded, const float *weights,
                            const float *bias, int relu, float *output)
{
    const int hp = conv_padded_height(shape), wp = conv_padded_width(shape);
    const int ho = conv_out_height(shape), wo = conv_out_width(shape);
    const int cin = shape->in_channels, cout = shape->out_channels;
    for (size_t i = 0; i < count; i++) {
        const float *in = input_padded + i * (size_t)cin * hp * wp;
        float *out = output + i * (size_t)cout * ho * wo;
        for (int co = 0; co < cout; co++)
            for (int oh = 0; oh < ho; oh++)
                for (int ow = 0; ow < wo; ow++) {
                    float sum =
                        forward_point(shape, in, weights, bias, co, oh, ow);
                    out[((size_t)co * ho + oh) * wo + ow] =
                        relu ? relu_of(sum) : sum;
                }
    }
}

void conv3x3_forward_relu_pool_scalar(const conv_shape *shape, size_t count,
                                      const float *input_padded,
                                      const float *weights, const float *bias,
                                      float *output, size_t output_plane,
                                      size_t output_row)
{
    const int hp = conv_padded_height(shape), wp = conv_padded_width(shape);
    const int cin = shape->in_channels, cout = shape->out_channels;
    const int pooled_height = conv_out_height(shape) / 2;
    const int pooled_width = conv_out_width(shape) / 2;
    for (size_t i = 0; i < count; i++) {
        const float *in = input_padded + i * (size_t)cin * hp * wp;
        for (int co = 0; co < cout; co++) {
            float *out = output + (i * (size_t)cout + co) * output_plane;
            for (int r = 0; r < pooled_height; r++)
                for (int c = 0; c < pooled_width; c++) {
                    float best = 0.0f; /* every ReLU value is >= +0 */
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++) {
                            const float value = relu_of(
                                forward_point(shape, in, weights, bias, co,
                                              2 * r + dy, 2 * c + dx));
                            if (value > best)
                                best = value;
                        }
                    out[(size_t)r * output_row + c] = best;
                }
        }
    }
}

void conv3x3_backward_input_scalar(const conv_shape *shape, size_t count,
                                   const float *weights,
                                   const float *output_grad, float *input_grad)
{
    const int h = shape->in_height, w = shape->in_width, pad = shape->pad;
    const int ho = conv_out_height(shape), wo = conv_out_width(shape);
    const int cin = shape->in_channels, cout = shape->out_channels;
    for (size_t i = 0; i < count; i++) {
        const float *dy = output_grad + i * (size_t)cout * ho * wo;
        float *dx = input_grad + i * (size_t)cin * h * w;
        for (int ci = 0; ci < cin; ci++)
            for (int ih = 0; ih < h; ih++)
                for (int iw = 0; iw < w; iw++) {
                    float sum = 0.0f;
                    for (int co = 0; co < cout; co++)
                        for (int kh = 0; kh < 3; kh++) {
                            int oh = ih + pad - kh;
                            if (oh < 0 || oh >= ho)
                                continue;
                            for (int kw = 0; kw < 3; kw++) {
                                int ow = iw + pad - kw;
                                if (ow < 0 || ow >= wo)
                                    continue;
                                sum += weights[((co * cin + ci) * 3 + kh) * 3 +
                                               kw] *
                                       dy[((size_t)co * ho + oh) * wo + ow];
                            }
                        }
                    dx[((size_t)ci * h + ih) * w + iw] = sum;
                }
    }
}

void conv3x3_backward_weights_scalar(const conv_shape *shape, size_t count,
                                     const float *input_padded,
                                     const float *output_grad,
                                     float *weight_grad, float *bias_grad)
{
    const int hp = conv_padded_height(shape), wp = conv_padded_width(shape);
    const int ho = conv_out_height(shape), wo = conv_out_width(shape);
    const int cin = shape->in_channels, cout = shape->out_channels;
    memset(weight_grad, 0, sizeof(float) * (size_t)cout * cin * 9);
    memset(bias_grad, 0, sizeof(float) * (size_t)cout);
    for (size_t i = 0; i < count; i++) {
        const float *in = input_padded + i * (size_t)cin * hp * wp;
        const float *dy = output_grad + i * (size_t)cout * ho * wo;
        for (int co = 0; co < cout; co++) {
            const float *dyc = dy + (size_t)co * ho * wo;
            float bias_sum = 0.0f;
            for (int p = 0; p < ho * wo; p++)
                bias_sum += dyc[p];
            bias_grad[co] += bias_sum;
            for (int ci = 0; ci < cin; ci++)
                for (int kh = 0; kh < 3; kh++)
                    for (int kw = 0; kw < 3; kw++) {
                        float sum = 0.0f;
                        for (int oh = 0; oh < ho; oh++)
                            for (int ow = 0; ow < wo; ow++)
                                sum += dyc[oh * wo + ow] *
                                       in[((size_t)ci * hp + oh + kh) * wp +
                                          ow + kw];
                        weight_grad[((co * cin + ci) * 3 + kh) * 3 + kw] += sum;
                    }
        }
    }
}
