/* Internal: the forward and backward passes of a network described by a
 * layer list (architecture.h), computed through a kernel table.
 *
 * One workspace serves prediction and training: it holds one chunk's
 * activations (arch->chunk images) and, for predictions, a group of
 * chunks' activations of the dense tail, the zero-bordered input of every
 * convolution, the packed weights of the pass and the gradients. The
 * kernel table is part of the workspace so that tests and benchmarks can
 * run every variant. A workspace belongs to one thread at a time; the
 * parameters are only read, so many threads may run one model, each with
 * its own workspace. */
#ifndef COSNET_NETWORK_PASSES_H
#define COSNET_NETWORK_PASSES_H

#include <stddef.h>
#include <stdint.h>

#include "cosnet.h"
#include "kernels/kernels.h"
#include "network/architecture.h"

typedef struct network_workspace network_workspace;

/* training: also room for the backward pass. `arch` is copied.
 * Returns COSNET_OK or OUT_OF_MEMORY. */
cosnet_status network_workspace_create(const architecture_description *arch,
                                       const kernel_table *kernels,
                                       int training, network_workspace **out);
void network_workspace_free(network_workspace *workspace);

/* Seeds the dropout masks of the training passes that follow: image i of a
 * network_loss_gradient(_share) call gets masks drawn from (seed, i, layer)
 * alone, so the same seed and images give the same masks on any thread.
 * Prediction never drops. The seed of a new workspace is 0. */
void network_set_dropout_seed(network_workspace *workspace, uint64_t seed);

/* Makes the training passes that follow use the softmax cross-entropy of
 * scaled cosines (kernels/softmax_cosine.h) instead of the cosine loss:
 * image i of the next call is of class classes[i] and is scored against
 * the label_count vectors of `labels` (label_count x output_dims), the
 * targets then being ignored; the loss is scaled by 1/normalizer as the
 * cosine loss is. The arrays are only read, and must last until the next
 * call of this function; scale 0 (a new workspace's) returns to the
 * cosine loss. */
void network_set_softmax_loss(network_workspace *workspace, float scale,
                              const float *labels, size_t label_count,
                              const uint32_t *classes);

/* Declares that the parameters handed to the training passes that follow
 * keep the same values while `generation` stays the same: those passes
 * then pack the convolution weights at their first call of a generation
 * and reuse them at the next calls (a trainer's pieces of one batch)
 * instead of packing at every call. A prediction in between packs anew.
 * Generation 0, a new workspace's, packs at every call. */
void network_set_weights_generation(network_workspace *workspace,
                                    uint64_t generation);

/* The dropout mask of one image: kept[j] = 1 for the values layer `layer`
 * keeps (each with probability 1 - dropped/1000), from (seed, image,
 * layer) alone. The training passes use it; tests rebuild masks with it. */
void network_dropout_mask(uint64_t seed, uint64_t image, int layer,
                          unsigned dropped, size_t n, uint8_t *kept);

/* outputs[i * output_dims ..] = f(images + i * input size), for `count`
 * images (any count, arch->chunk at a time). */
void network_forward(network_workspace *workspace, const float *parameters,
                     const float *images, size_t count, float *outputs);

/* Images per group in which predictions run the network's dense tail (its
 * trailing dense and dropout layers after some other layer), so that those
 * layers read their weights once per group; 0 when predictions run every
 * layer chunk by chunk. The results do not depend on it. */
size_t network_dense_tail_group(const network_workspace *workspace);

/* Training takes the dense tail's weight gradients once per group of
 * network_dense_tail_group images (each chunk's sums added in order), or,
 * with `by_groups` 0, once per chunk as the rest of the network. Both give
 * the same bits; the default is 1, and 0 exists so that the tests can hold
 * the two to each other. */
void network_set_tail_by_groups(network_workspace *workspace, int by_groups);

/* The shape of the first layer when it is a convolution (else NULL):
 * images laid out as its zero-bordered input (in_channels planes of
 * conv_padded_height x conv_padded_width, the image in the interior) can
 * go to network_forward_padded, which then copies nothing. */
const conv_shape *network_padded_input(const architecture_description *arch);

/* network_forward on images in that layout (count x in_channels padded
 * planes); only when network_padded_input is not NULL. spans: NULL, or
 * conv3x3_pool_spans (conv_driver.h) of these images for the first layer's
 * shape, made once for several models. */
void network_forward_padded(network_workspace *workspace,
                            const float *parameters, const float *padded_images,
                            const uint8_t *spans, size_t count, float *outputs);

/* Forward on n >= 1 images, the cosine loss
 * L = (1/n) sum_i (1 - cos(f(x_i), t_i)) against targets + i *
 * target_stride, then backward: gradient (parameter_count floats) is
 * overwritten with dL/dparameters. outputs (optional, n x output_dims)
 * receives the network outputs. Needs a training workspace. Returns L. */
float network_loss_gradient(network_workspace *workspace,
                            const float *parameters, const float *images,
                            size_t n, const float *targets,
                            size_t target_stride, float *gradient,
                            float *outputs);

/* As network_loss_gradient for L = (1/normalizer) sum_i (1 - cos(f(x_i),
 * t_i)) over the n images: these images' share of a batch of `normalizer`
 * images, scaled where it costs nothing (on the output gradient). */
float network_loss_gradient_share(network_workspace *workspace,
                                  const float *parameters, const float *images,
                                  size_t n, size_t normalizer,
                                  const float *targets, size_t target_stride,
                                  float *gradient, float *outputs);

/* The first layer of the dense tail whose weight gradients a training
 * workspace can leave to network_loss_gradient_deferred's caller, or
 * layer_count if there is none. */
int network_dense_tail(const network_workspace *workspace);

/* Where that tail's parameters start (parameter_count without a tail):
 * the parameters are laid out in layer order. */
size_t network_tail_parameters(const network_workspace *workspace);

/* network_loss_gradient_share, except for the dense tail (layers
 * network_dense_tail to the last): its weight and bias gradients are not
 * computed and gradient's entries from network_tail_parameters on are left
 * as they are. Instead, for each tail layer l, image i's input goes to
 * tail_inputs[l] + i * in_size (every tail layer), and for each dense one
 * its output gradient (after the ReLU's, scaled by 1/normalizer as the
 * loss is) to tail_gradients[l] + i * out_size: the caller takes the
 * weight gradients, with the chunks of arch->chunk images from image 0 as
 * the segments whose sums network_loss_gradient_share would add in order
 * (dense_backward_weights_summed). Only when network_dense_tail is below
 * layer_count. */
float network_loss_gradient_deferred(network_workspace *workspace,
                                     const float *parameters,
                                     const float *images, size_t n,
                                     size_t normalizer, const float *targets,
                                     size_t target_stride, float *gradient,
                                     float *outputs, float *const *tail_inputs,
                                     float *const *tail_gradients);

#endif
