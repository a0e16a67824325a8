/* Internal: the ISA-neutral 3x3 convolution driver. It plans the work for a
 * layer shape, packs the weights (once per pass when the caller keeps the
 * packed copy), pads the output gradient, splits the batch into cache-sized
 * chunks and sets up prefetching, and calls the active ISA's microkernels
 * (conv3x3_microkernels in kernels.h) for the arithmetic. With a table that
 * has no microkernels it runs the plain-C reference. */
#ifndef COSNET_KERNELS_CONV_DRIVER_H
#define COSNET_KERNELS_CONV_DRIVER_H

#include <stddef.h>

#include "kernels/kernels.h"

/* Whether the forward pass of this shape runs Winograd F(2x2, 3x3)
 * (winograd.h) rather than the direct sum: the packed forward weights are
 * then its transformed weights, and the result differs from the direct
 * sum by the bound winograd.h states. */
int conv3x3_forward_uses_winograd(const kernel_table *table,
                                  const conv_shape *shape);
/* The same for the input gradient, the forward pass of the output gradient
 * padded by 2 - pad with the rotated, channel-swapped kernel (the packed
 * backward weights are then that convolution's transformed weights). */
int conv3x3_backward_input_uses_winograd(const kernel_table *table,
                                         const conv_shape *shape);
/* Whether that Winograd is F(4x4, 3x3) (winograd4.h; its own bound)
 * rather than F(2x2, 3x3). */
int conv3x3_forward_uses_winograd4(const kernel_table *table,
                                   const conv_shape *shape);
int conv3x3_backward_input_uses_winograd4(const kernel_table *table,
                                          const conv_shape *shape);

/* Floats of the packed forward weights and of the packed (rotated,
 * channel-swapped) weights the input gradient uses. */
size_t conv3x3_packed_forward_floats(const kernel_table *table,
                                     const conv_shape *shape);
size_t conv3x3_packed_backward_floats(const kernel_table *table,
                                      const conv_shape *shape);

/* Packs OIHW weights for conv3x3_forward_packed / _backward_input_packed. */
void conv3x3_pack_forward(const kernel_table *table, const conv_shape *shape,
                          const float *weights, float *packed);
void conv3x3_pack_backward(const kernel_table *table, const conv_shape *shape,
                           const float *weights, float *packed);

/* Whether conv3x3_backward_weights_with computes this shape's weight
 * gradient by Winograd (winograd_weights.h) with this table. */
int conv3x3_backward_weights_uses_winograd(const kernel_table *table,
                                           const conv_shape *shape);
/* Whether that Winograd is F(4x4, 3x3) (winograd4_weights.h; its own
 * bound): where the table's F(4x4) stages have the weight-gradient stages,
 * fit the shape and an image has at least their min_weight_tiles. */
int conv3x3_backward_weights_uses_winograd4(const kernel_table *table,
                                            const conv_shape *shape);

/* Floats per image of the input transform that a training forward pass
 * can keep for this shape's weight gradient (both by F(4x4) with this
 * table), else 0. */
size_t conv3x3_kept_input_floats(const kernel_table *table,
                                 const conv_shape *shape);

/* conv3x3_forward_packed that also leaves each image's F(4x4) input
 * transform in kept_input (count times conv3x3_kept_input_floats; may be
 * NULL) where the shape has one and the packed weights hold U. Returns
 * whether it did: then conv3x3_backward_weights_kept may take kept_input
 * for the same images. */
int conv3x3_forward_packed_keeping(const kernel_table *table,
                                   const conv_shape *shape, size_t count,
                                   const float *input_padded,
                                   const float *packed, const float *bias,
                                   int relu, float *output, float *kept_input);

/* Scratch floats (64-byte aligned) the backward entry points need. */
size_t conv3x3_scratch_floats(const kernel_table *table,
                              const conv_shape *shape);

/* The ops of kernels.h, on packed weights and caller-provided scratch. */
void conv3x3_forward_packed(const kernel_table *table, const conv_shape *shape,
                            size_t count, const float *input_padded,
                            const float *packed, const float *bias, int relu,
                            float *output);
/* Whether conv3x3_forward_packed_into runs this shape with this table and
 * these packed weights: where Winograd F(4x4) takes it with its weights
 * transformed. If not, run conv3x3_forward_packed and copy the output. */
int conv3x3_forward_writes_into(const kernel_table *table,
                                const conv_shape *shape, const float *packed);
/* conv3x3_forward_packed writing channel c, row r, column x of image i at
 * output[(i * out_channels + c) * output_plane + r * output_row + x] and
 * nothing else (e.g. into the interior of the next convolution's padded
 * input, whose borders stay as they are); the same bits. Only where
 * conv3x3_forward_writes_into is true. */
void conv3x3_forward_packed_into(const kernel_table *table,
                                 const conv_shape *shape, size_t count,
                                 const float *input_padded, const float *packed,
                                 const float *bias, int relu, float *output,
                                 size_t output_plane, size_t output_row);
/* Whether conv3x3_forward_relu_pool_packed runs this shape with this table
 * and these packed weights (from conv3x3_pack_forward): always for the
 * reference; for a Winograd shape whose weights were transformed, by
 * Winograd's pooled output transform; otherwise where the ISA has pooled
 * direct strips (AVX2 has none). If not, run the convolution and the
 * max-pool. */
int conv3x3_fuses_pool(const kernel_table *table, const conv_shape *shape,
                       const float *packed);

/* Bytes per image of the column spans the fused forward computes from
 * each input image for this shape and table (conv_driver.c: only the
 * pooled columns that read a nonzero input are computed), or 0 if it
 * computes none. They depend on the input alone, so callers that run
 * several models on the same input (the evaluation) make them once with
 * conv3x3_pool_spans: count images of input_padded into spans (count x
 * conv3x3_pool_span_bytes bytes; only where those are not 0). */
size_t conv3x3_pool_span_bytes(const kernel_table *table,
                               const conv_shape *shape);
void conv3x3_pool_spans(const kernel_table *table, const conv_shape *shape,
                        size_t count, const float *input_padded,
                        uint8_t *spans);

/* max-pool(ReLU(conv3x3_forward_packed)) without storing the convolution's
 * output: the layout of conv3x3_forward_relu_pool_scalar (kernels.h), the
 * same bits as the convolution followed by the max-pool in every variant.
 * spans: NULL, or conv3x3_pool_spans of these images (then not made
 * again). Only for tables for which conv3x3_fuses_pool is true. */
void conv3x3_forward_relu_pool_packed(const kernel_table *table,
                                      const conv_shape *shape, size_t count,
                                      const float *input_padded,
                                      const float *packed, const float *bias,
                                      const uint8_t *spans, float *output,
                                      size_t output_plane, size_t output_row);
/* Whether conv3x3_forward_relu_pool_argmax_packed runs this shape with
 * this table and these packed weights (on AVX-512: a shape its F(4x4)
 * stages take, with the weights transformed; or one input channel, 16
 * output channels at a time, finite weights). If not, run the convolution
 * and the max-pool. */
int conv3x3_fuses_pool_argmax(const kernel_table *table,
                              const conv_shape *shape, const float *packed);

/* The max-pool's output and argmax (kernels.h: maxpool2x2_forward_kernel,
 * dense planes) of ReLU(conv3x3_forward_packed), without storing the
 * convolution's output: the same bits as the convolution followed by the
 * max-pool. copy: NULL, or where the pooled values go as well, pooled
 * plane p (image * out_channels + channel), row r, column c at copy + p *
 * copy_plane + r * copy_row + c (the next convolution's padded input,
 * which then needs no copy). window_bits: NULL, or (only where
 * conv3x3_fuses_pool_window_bits is true) where the positions go instead
 * of argmax, as conv3x3_pool_backward_weights_bits reads them (kernels.h).
 * kept_input: NULL, or what conv3x3_forward_packed_keeping would keep;
 * returns, as that function, whether it was kept (F(4x4) shapes). Only
 * where conv3x3_fuses_pool_argmax is true. */
int conv3x3_forward_relu_pool_argmax_packed(
    const kernel_table *table, const conv_shape *shape, size_t count,
    const float *input_padded, const float *packed, const float *bias,
    float *output, uint8_t *argmax, uint32_t *window_bits, float *copy,
    size_t copy_plane, size_t copy_row, float *kept_input);
/* Whether conv3x3_forward_relu_pool_argmax_packed can write window bits
 * for this shape (the one-input path, channels in the lanes, of a table
 * with conv3x3_pool_backward_weights_bits). */
int conv3x3_fuses_pool_window_bits(const kernel_table *table,
                                   const conv_shape *shape,
                                   const float *packed);

void conv3x3_backward_input_packed(const kernel_table *table,
                                   const conv_shape *shape, size_t count,
                                   const float *packed_backward,
                                   const float *output_grad, float *input_grad,
                                   float *scratch);
void conv3x3_backward_weights_with(const kernel_table *table,
                                   const conv_shape *shape, size_t count,
                                   const float *input_padded,
                                   const float *output_grad, float *weight_grad,
                                   float *bias_grad, float *scratch);
/* The same with kept_input: NULL, or what conv3x3_forward_packed_keeping
 * kept of these images (when it returned 1), which the F(4x4) weight
 * gradient then reads instead of transforming the input again; the same
 * bits either way. */
void conv3x3_backward_weights_kept(const kernel_table *table,
                                   const conv_shape *shape, size_t count,
                                   const float *input_padded,
                                   const float *kept_input,
                                   const float *output_grad, float *weight_grad,
                                   float *bias_grad, float *scratch);

/* Whole-op entry points (OIHW weights, packing and scratch per call), for
 * tests and benchmarks: `microkernels` is a table's conv3x3 (NULL: the
 * reference). If scratch cannot be allocated they run the reference, so
 * they never fail. */
void conv3x3_forward_unpacked(const conv3x3_microkernels *microkernels,
                              const conv_shape *shape, size_t count,
                              const float *input_padded, const float *weights,
                              const float *bias, int relu, float *output);
void conv3x3_backward_input_unpacked(const conv3x3_microkernels *microkernels,
                                     const conv_shape *shape, size_t count,
                                     const float *weights,
                                     const float *output_grad,
                                     float *input_grad);
void conv3x3_backward_weights_unpacked(const conv3x3_microkernels *microkernels,
                                       const conv_shape *shape, size_t count,
                                       const float *input_padded,
                                       const float *output_grad,
                                       float *weight_grad, float *bias_grad);

#endif
