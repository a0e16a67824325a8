/* Plain-C reference for dense (fully connected) layers and the ReLU
 * gradient. Written for clarity; sums run in index order. */
#include <string.h>

#include "kernels/kernels.h"

void dense_forward_scalar(size_t count, size_t in_features, size_t out_features,
                          const float *input, const float *weights,
                          const float *bias, int relu, float *output)
{
    for (size_t i = 0; i < count; i++)
        for (size_t o = 0; o < out_features; o++) {
            float sum = bias ? bias[o] : 0.0f;
            for (size_t j = 0; j < in_features; j++)
                sum +=
                    weights[o * in_features + j] * input[i * in_features + j];
            if (relu && !(sum > 0.0f))
                sum = 0.0f;
            output[i * out_features + o] = sum;
        }
}

void dense_backward_input_scalar(size_t count, size_t in_features,
                                 size_t out_features, const float *weights,
                                 const float *output_grad, float *input_grad)
{
    for (size_t i = 0; i < count; i++)
        for (size_t j = 0; j < in_features; j++) {
            float sum = 0.0f;
            for (size_t o = 0; o < out_features; o++)
                sum += output_grad[i * out_features + o] *
                       weights[o * in_features + j];
            input_grad[i * in_features + j] = sum;
        }
}

void dense_backward_weights_scalar(size_t count, size_t in_features,
                                   size_t out_features, const float *input,
                                   const float *output_grad, float *weight_grad,
                                   float *bias_grad)
{
    for (size_t o = 0; o < out_features; o++) {
        for (size_t j = 0; j < in_features; j++) {
            float sum = 0.0f;
            for (size_t i = 0; i < count; i++)
                sum += output_grad[i * out_features + o] *
                       input[i * in_features + j];
            weight_grad[o * in_features + j] = sum;
        }
        if (bias_grad) {
            float sum = 0.0f;
            for (size_t i = 0; i < count; i++)
                sum += output_grad[i * out_features + o];
            bias_grad[o] = sum;
        }
    }
}

void relu_backward_scalar(size_t n, const float *activation, float *grad)
{
    for (size_t k = 0; k < n; k++)
        if (!(activation[k] > 0.0f))
            grad[k] = 0.0f;
}
