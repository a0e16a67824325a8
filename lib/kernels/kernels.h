/* Internal: the compute kernels and the table that dispatches them.
 *
 * Every operation has a plain-C reference (`*_scalar.c`) and SIMD variants
 * (`*_avx2.c`, `*_avx512.c` on x86-64, `*_neon.c` on AArch64), each compiled
 * with its own flags. dispatch.c
 * probes the CPU once and picks a table; tests hold every table the CPU can
 * run to the scalar one.
 *
 * Layouts: NCHW float32, each image's planes contiguous. Convolution input is
 * read from a zero-padded buffer (the pad already materialised) so that the
 * inner loops never test borders. */
#ifndef COSNET_KERNELS_H
#define COSNET_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "cosnet.h"

/* A 3x3, stride-1 convolution (cross-correlation, as in PyTorch). */
typedef struct conv_shape {
    int in_channels, out_channels;
    int in_height, in_width; /* unpadded input */
    int pad;                 /* zeros on every side */
} conv_shape;

static inline int conv_padded_height(const conv_shape *s)
{
    return s->in_height + 2 * s->pad;
}
static inline int conv_padded_width(const conv_shape *s)
{
    return s->in_width + 2 * s->pad;
}
static inline int conv_out_height(const conv_shape *s)
{
    return s->in_height + 2 * s->pad - 2;
}
static inline int conv_out_width(const conv_shape *s)
{
    return s->in_width + 2 * s->pad - 2;
}

/* output[i][co][oh][ow] = bias[co] + sum_{ci,kh,kw}
 *     weights[co][ci][kh][kw] * input_padded[i][ci][oh+kh][ow+kw],
 * then max(0, .) if relu. input_padded: count images of in_channels x
 * padded_height x padded_width; output: count x out_channels x out_height x
 * out_width; weights OIHW. */
typedef void (*conv3x3_forward_kernel)(const conv_shape *shape, size_t count,
                                       const float *input_padded,
                                       const float *weights, const float *bias,
                                       int relu, float *output);

/* input_grad[i][ci][ih][iw] = sum_{co,kh,kw} weights[co][ci][kh][kw] *
 *     output_grad[i][co][ih+pad-kh][iw+pad-kw]  (terms outside the output
 * grid are zero). input_grad: count x in_channels x in_height x in_width
 * (unpadded), overwritten. Requires pad <= 2. */
typedef void (*conv3x3_backward_input_kernel)(const conv_shape *shape,
                                              size_t count,
                                              const float *weights,
                                              const float *output_grad,
                                              float *input_grad);

/* weight_grad[co][ci][kh][kw] = sum_{i,oh,ow} output_grad[i][co][oh][ow] *
 *     input_padded[i][ci][oh+kh][ow+kw];  bias_grad[co] = sum_{i,oh,ow}
 * output_grad[i][co][oh][ow]. Both overwritten (summed over the batch). */
typedef void (*conv3x3_backward_weights_kernel)(
    const conv_shape *shape, size_t count, const float *input_padded,
    const float *output_grad, float *weight_grad, float *bias_grad);

/* 2x2 max-pool, stride 2, over `planes` planes of height x width (both even
 * or not: the last odd row/column is dropped, as in PyTorch).
 * output: plane p, row r, column c is written at
 *     output[p * output_plane_stride + r * output_row_stride + c]
 * so a caller can pool straight into the interior of the next layer's padded
 * buffer; argmax (dense, planes x height/2 x width/2) receives the winner's
 * position in its window: 0 (top-left), 1 (top-right), 2 (bottom-left),
 * 3 (bottom-right); the first maximum in that order wins. */
typedef void (*maxpool2x2_forward_kernel)(size_t planes, int height, int width,
                                          const float *input, float *output,
                                          size_t output_plane_stride,
                                          size_t output_row_stride,
                                          uint8_t *argmax);

/* input_grad (planes x height x width, overwritten) receives output_grad at
 * each window's argmax and zero elsewhere. If relu_output is not NULL (the
 * pooled values, laid out like output_grad), a gradient is only passed where
 * relu_output > 0: the pool's input was ReLU(x) and ReLU'(0) = 0. */
typedef void (*maxpool2x2_backward_kernel)(size_t planes, int height, int width,
                                           const float *output_grad,
                                           const uint8_t *argmax,
                                           const float *relu_output,
                                           float *input_grad);

/* cos_out[i] = cos(a_i, b_i) for count rows of `dims` floats, with
 * cos(a, b) = a.b / sqrt(max(|a|^2 |b|^2, eps^2)), eps = 1e-6.
 * Row i of a is a + i*dims; row i of b is b + i*b_stride (b_stride 0: one
 * shared row). */
typedef void (*cosine_similarity_kernel)(size_t count, size_t dims,
                                         const float *a, const float *b,
                                         size_t b_stride, float *cos_out);

/* Returns L = (1/count) sum_i (1 - cos(a_i, b_i)) and, if grad_a is not
 * NULL, writes dL/da (count x dims): -(1/count) * dcos/da_i, where
 * dcos/da = b/sqrt(|a|^2|b|^2) - cos * a/|a|^2 when unclamped and b/eps when
 * |a|^2|b|^2 < eps^2. */
typedef float (*cosine_loss_kernel)(size_t count, size_t dims, const float *a,
                                    const float *b, size_t b_stride,
                                    float *grad_a);

#define COSINE_EPSILON 1e-6f

typedef struct kernel_table {
    const char *name; /* "scalar", "avx2", "avx512", "neon" */
    conv3x3_forward_kernel conv3x3_forward;
    conv3x3_backward_input_kernel conv3x3_backward_input;
    conv3x3_backward_weights_kernel conv3x3_backward_weights;
    maxpool2x2_forward_kernel maxpool2x2_forward;
    maxpool2x2_backward_kernel maxpool2x2_backward;
    cosine_similarity_kernel cosine_similarity;
    cosine_loss_kernel cosine_loss;
} kernel_table;

/* Each variant `isa` defines these functions in <op>_<isa>.c; dispatch.c
 * gathers them into kernel_table_<isa>. */
#define COSNET_DECLARE_KERNELS(isa)                                            \
    void conv3x3_forward_##isa(const conv_shape *, size_t, const float *,      \
                               const float *, const float *, int, float *);    \
    void conv3x3_backward_input_##isa(const conv_shape *, size_t,              \
                                      const float *, const float *, float *);  \
    void conv3x3_backward_weights_##isa(const conv_shape *, size_t,            \
                                        const float *, const float *, float *, \
                                        float *);                              \
    void maxpool2x2_forward_##isa(size_t, int, int, const float *, float *,    \
                                  size_t, size_t, uint8_t *);                  \
    void maxpool2x2_backward_##isa(size_t, int, int, const float *,            \
                                   const uint8_t *, const float *, float *);   \
    void cosine_similarity_##isa(size_t, size_t, const float *, const float *, \
                                 size_t, float *);                             \
    float cosine_loss_##isa(size_t, size_t, const float *, const float *,      \
                            size_t, float *);

COSNET_DECLARE_KERNELS(scalar)
COSNET_DECLARE_KERNELS(avx2)
COSNET_DECLARE_KERNELS(avx512)
COSNET_DECLARE_KERNELS(neon)

/* The tables (each SIMD one exists only in builds for its architecture). */
extern const kernel_table kernel_table_scalar;
extern const kernel_table kernel_table_avx2;
extern const kernel_table kernel_table_avx512;
extern const kernel_table kernel_table_neon;

/* The table this process uses: chosen once (thread-safe) from the CPU and
 * COSNET_ISA. Returns COSNET_OK, or COSNET_ERROR_UNSUPPORTED with the
 * message set when COSNET_ISA asks for something unavailable. */
cosnet_status kernels_active(const kernel_table **table);

/* The table named `name` if this build has it and this CPU can run it, else
 * NULL. For tests and benchmarks that compare variants. */
const kernel_table *kernels_by_name(const char *name);

/* Names of all variants this build knows, NULL-terminated. */
extern const char *const kernel_variant_names[];

#endif
