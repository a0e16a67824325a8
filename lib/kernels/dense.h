/* Internal: dense (fully connected) layer kernels and ReLU backward.
 *
 * Layouts, all row-major float32:
 *   input        count x in_features      (one image per row)
 *   weights      out_features x in_features
 *   bias         out_features (may be NULL: zero)
 *   output       count x out_features
 * Each operation has a plain-C reference (dense_scalar.c) and SIMD variants
 * (dense_avx2.c, dense_avx512.c on x86-64, dense_neon.c on AArch64) held to
 * it by tests/test_dense_kernels.c. No kernel allocates, so none can fail.
 *
 * Determinism: every variant sums each output in an order that depends only
 * on the sizes of the contraction (in_features for the forward pass,
 * out_features for the input gradient, count for the weight gradient), never
 * on where the element falls in the register tiles, so the same inputs give
 * the same bits on every call, and an image's forward output and input
 * gradient are the same whatever batch it is computed in. Variants differ
 * from each other by rounding only. */
#ifndef COSNET_KERNELS_DENSE_H
#define COSNET_KERNELS_DENSE_H

#include <stddef.h>
#include <string.h>

/* output[i][o] = bias[o] + sum_j weights[o][j] * input[i][j], then
 * max(0, .) if relu (NaN -> 0, as the convolution kernels). */
typedef void (*dense_forward_kernel)(size_t count, size_t in_features,
                                     size_t out_features, const float *input,
                                     const float *weights, const float *bias,
                                     int relu, float *output);

/* input_grad[i][j] = sum_o output_grad[i][o] * weights[o][j] (overwritten;
 * zeros if out_features is 0). */
typedef void (*dense_backward_input_kernel)(size_t count, size_t in_features,
                                            size_t out_features,
                                            const float *weights,
                                            const float *output_grad,
                                            float *input_grad);

/* weight_grad[o][j] = sum_i output_grad[i][o] * input[i][j];
 * bias_grad[o] = sum_i output_grad[i][o]. Both overwritten with sums over the
 * batch, taken in image order (zeros if count is 0); bias_grad may be NULL. */
typedef void (*dense_backward_weights_kernel)(
    size_t count, size_t in_features, size_t out_features, const float *input,
    const float *output_grad, float *weight_grad, float *bias_grad);

/* How a weight gradient's terms are grouped (the chunks of a network's
 * passes within the trainer's pieces): consecutive segments of images,
 * each summed from zero in image order as dense_backward_weights_kernel
 * sums a batch; consecutive pieces of segments, each the sum of its
 * segments in order (a piece of no segments is +0); the result the sum
 * of the pieces in order. The images are those of the segments, in order,
 * from image 0. */
typedef struct dense_summation {
    size_t pieces;                /* at least 1 */
    const size_t *piece_segments; /* pieces entries: segments in each */
    const size_t *segment_images; /* every segment's images (each >= 1) */
} dense_summation;

/* Rows row_first .. row_end - 1 of the weight and bias gradients
 * (weight_grad and bias_grad point at row 0; bias_grad may be NULL), summed
 * as `summation` says: ((P0 + P1) + P2) ..., or with `accumulate` onto what
 * the rows hold, ((held + P0) + P1) .... So the bits are those of one
 * dense_backward_weights call per segment with the results added in that
 * order, while a tile's sums never leave L1 between segments. */
typedef void (*dense_backward_weights_summed_kernel)(
    const dense_summation *summation, int accumulate, size_t row_first,
    size_t row_end, size_t in_features, size_t out_features, const float *input,
    const float *output_grad, float *weight_grad, float *bias_grad);

/* ReLU backward in place: grad[k] = activation[k] > 0 ? grad[k] : 0 (a NaN
 * activation gives 0). Exact: every variant gives the same bits. */
typedef void (*relu_backward_kernel)(size_t n, const float *activation,
                                     float *grad);

/* One variant's dense kernels, for the per-operator dispatch. */
typedef struct dense_kernels {
    const char *name; /* "scalar", "avx2", "avx512", "neon" */
    dense_forward_kernel forward;
    dense_backward_input_kernel backward_input;
    dense_backward_weights_kernel backward_weights;
    dense_backward_weights_summed_kernel backward_weights_summed;
    relu_backward_kernel relu_backward;
} dense_kernels;

#define COSNET_DECLARE_DENSE_KERNELS(isa)                                      \
    void dense_forward_##isa(size_t count, size_t in_features,                 \
                             size_t out_features, const float *input,          \
                             const float *weights, const float *bias,          \
                             int relu, float *output);                         \
    void dense_backward_input_##isa(                                           \
        size_t count, size_t in_features, size_t out_features,                 \
        const float *weights, const float *output_grad, float *input_grad);    \
    void dense_backward_weights_##isa(size_t count, size_t in_features,        \
                                      size_t out_features, const float *input, \
                                      const float *output_grad,                \
                                      float *weight_grad, float *bias_grad);   \
    void dense_backward_weights_summed_##isa(                                  \
        const dense_summation *summation, int accumulate, size_t row_first,    \
        size_t row_end, size_t in_features, size_t out_features,               \
        const float *input, const float *output_grad, float *weight_grad,      \
        float *bias_grad);                                                     \
    void relu_backward_##isa(size_t n, const float *activation, float *grad);  \
    extern const dense_kernels dense_kernels_##isa;

COSNET_DECLARE_DENSE_KERNELS(scalar)
COSNET_DECLARE_DENSE_KERNELS(avx2)
COSNET_DECLARE_DENSE_KERNELS(avx512)
COSNET_DECLARE_DENSE_KERNELS(neon)

/* The variant named `name` if this build compiles it (whether the CPU can
 * run it is the caller's question: kernels_by_name() or the CPU probe), else
 * NULL. */
static inline const dense_kernels *dense_kernels_compiled(const char *name)
{
    if (strcmp(name, "scalar") == 0)
        return &dense_kernels_scalar;
#if defined(__x86_64__)
    if (strcmp(name, "avx2") == 0)
        return &dense_kernels_avx2;
    if (strcmp(name, "avx512") == 0)
        return &dense_kernels_avx512;
#endif
#if defined(__aarch64__)
    if (strcmp(name, "neon") == 0)
        return &dense_kernels_neon;
#endif
    return NULL;
}

#endif
