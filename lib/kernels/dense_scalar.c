/* Plain-C reference for the dense layer: forward, input gradient, weight and
 * bias gradients, and ReLU backward. Written for clarity: each sum starts
 * from zero (or the bias) and adds its terms in index order. The SIMD
 * variants are held to it by tests/test_dense_kernels.c. */
#include "kernels/dense.h"

void dense_forward_scalar(size_t count, size_t in_features, size_t out_features,
                          const float *input, const float *weights,
                          const float *bias, int relu, float *output)
{
    for (size_t i = 0; i < count; i++) {
        const float *x = input + i * in_features;
        for (size_t o = 0; o < out_features; o++) {
            const float *w = weights + o * in_features;
            float sum = bias ? bias[o] : 0.0f;
            for (size_t j = 0; j < in_features; j++)
                sum += w[j] * x[j];
            if (relu && !(sum > 0.0f))
                sum = 0.0f;
            output[i * out_features + o] = sum;
        }
    }
}

void dense_backward_input_scalar(size_t count, size_t in_features,
                                 size_t out_features, const float *weights,
                                 const float *output_grad, float *input_grad)
{
    for (size_t i = 0; i < count; i++) {
        const float *dy = output_grad + i * out_features;
        float *dx = input_grad + i * in_features;
        for (size_t j = 0; j < in_features; j++)
            dx[j] = 0.0f;
        /* Each dx[j] receives its terms in the order o = 0, 1, ... */
        for (size_t o = 0; o < out_features; o++) {
            const float *w = weights + o * in_features;
            for (size_t j = 0; j < in_features; j++)
                dx[j] += dy[o] * w[j];
        }
    }
}

void dense_backward_weights_scalar(size_t count, size_t in_features,
                                   size_t out_features, const float *input,
                                   const float *output_grad, float *weight_grad,
                                   float *bias_grad)
{
    for (size_t o = 0; o < out_features; o++) {
        float *dw = weight_grad + o * in_features;
        for (size_t j = 0; j < in_features; j++)
            dw[j] = 0.0f;
        float bias_sum = 0.0f;
        /* Each dw[j] receives its terms in image order. */
        for (size_t i = 0; i < count; i++) {
            const float dy = output_grad[i * out_features + o];
            const float *x = input + i * in_features;
            for (size_t j = 0; j < in_features; j++)
                dw[j] += dy * x[j];
            bias_sum += dy;
        }
        if (bias_grad)
            bias_grad[o] = bias_sum;
    }
}

/* One sum grouped as `summation` says, over terms term(i) for the images
 * i of its segments in order. */
#define SUMMED(summation, accumulate, held, term, result)                      \
    do {                                                                       \
        float total_ = (held);                                                 \
        size_t segment_ = 0, image_ = 0;                                       \
        for (size_t p_ = 0; p_ < (summation)->pieces; p_++) {                  \
            float piece_ = 0.0f;                                               \
            for (size_t s_ = 0; s_ < (summation)->piece_segments[p_];          \
                 s_++, segment_++) {                                           \
                float sum_ = 0.0f;                                             \
                const size_t end_ =                                            \
                    image_ + (summation)->segment_images[segment_];            \
                for (size_t i = image_; i < end_; i++)                         \
                    sum_ += (term);                                            \
                image_ = end_;                                                 \
                piece_ = s_ == 0 ? sum_ : piece_ + sum_;                       \
            }                                                                  \
            total_ = p_ == 0 && !(accumulate) ? piece_ : total_ + piece_;      \
        }                                                                      \
        (result) = total_;                                                     \
    } while (0)

void dense_backward_weights_summed_scalar(
    const dense_summation *summation, int accumulate, size_t row_first,
    size_t row_end, size_t in_features, size_t out_features, const float *input,
    const float *output_grad, float *weight_grad, float *bias_grad)
{
    for (size_t o = row_first; o < row_end; o++) {
        for (size_t j = 0; j < in_features; j++) {
            float *w = &weight_grad[o * in_features + j];
            SUMMED(summation, accumulate, accumulate ? *w : 0.0f,
                   output_grad[i * out_features + o] *
                       input[i * in_features + j],
                   *w);
        }
        if (bias_grad)
            SUMMED(summation, accumulate, accumulate ? bias_grad[o] : 0.0f,
                   output_grad[i * out_features + o], bias_grad[o]);
    }
}

void relu_backward_scalar(size_t n, const float *activation, float *grad)
{
    /* Every element is stored (no branch on the data): the compiler may
     * then vectorise the select. */
    for (size_t k = 0; k < n; k++)
        grad[k] = activation[k] > 0.0f ? grad[k] : 0.0f;
}

const dense_kernels dense_kernels_scalar = {
    "scalar",
    dense_forward_scalar,
    dense_backward_input_scalar,
    dense_backward_weights_scalar,
    dense_backward_weights_summed_scalar,
    relu_backward_scalar};
