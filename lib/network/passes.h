/* Internal: the forward and backward passes of a network described by an
 * architecture_description, computed through a kernel table.
 *
 * The kernel table is a parameter (callers normally pass the one from
 * kernels_active()) so that tests and benchmarks can run every variant.
 * The parameter vector is laid out as architecture.h says: per stage,
 * weights (OIHW) then biases. */
#ifndef COSNET_NETWORK_PASSES_H
#define COSNET_NETWORK_PASSES_H

#include <stddef.h>

#include "cosnet.h"
#include "kernels/kernels.h"
#include "network/architecture.h"

/* Images pushed through all stages together, so that one chunk's
 * activations stay in the L2 cache (about 88 KB per seed image). With the
 * AVX-512 kernels, bench_network measured chunks of 1 to 20 images within
 * 5% of each other; 4 keeps the workspaces small. */
#define NETWORK_PREDICT_CHUNK 4
#define NETWORK_TRAIN_CHUNK 4

/* ---- Prediction ---------------------------------------------------------
 * Scratch for one caller: zero-bordered input buffers of every stage (the
 * borders are zeroed once, only interiors are rewritten), one stage output
 * and the pool's argmax. Not shared between threads; the model is only
 * read, so any number of threads may predict with one model, each with its
 * own workspace. */
typedef struct forward_workspace forward_workspace;

/* Returns COSNET_OK, INVALID_ARGUMENT (an architecture the passes cannot
 * run) or OUT_OF_MEMORY. */
cosnet_status forward_workspace_create(const architecture_description *arch,
                                       forward_workspace **out);
void forward_workspace_free(forward_workspace *workspace);

/* outputs[i * output_dims ..] = f(images + i * input size), for `count`
 * images (any count: processed NETWORK_PREDICT_CHUNK at a time). */
void network_forward(const kernel_table *kernels, forward_workspace *workspace,
                     const float *parameters, const float *images, size_t count,
                     float *outputs);

/* ---- Training -----------------------------------------------------------
 * Scratch for the loss gradient of a batch of any size: the batch is
 * processed NETWORK_TRAIN_CHUNK images at a time, forward then backward,
 * so the workspace holds one chunk's activations (what backward needs:
 * each stage's padded input, pooled output and argmax) and gradients. */
typedef struct training_workspace training_workspace;

/* Returns COSNET_OK, INVALID_ARGUMENT (an architecture the passes cannot
 * run) or OUT_OF_MEMORY. */
cosnet_status training_workspace_create(const architecture_description *arch,
                                        training_workspace **out);
void training_workspace_free(training_workspace *workspace);

/* Forward on n >= 1 images, the cosine loss
 * L = (1/n) sum_i (1 - cos(f(x_i), t_i)) against targets + i *
 * target_stride, then backward: gradient (parameter_count floats) is
 * overwritten with dL/dparameters. outputs (optional, n x output_dims)
 * receives the network outputs. Returns L. */
float network_loss_gradient(const kernel_table *kernels,
                            training_workspace *workspace,
                            const float *parameters, const float *images,
                            size_t n, const float *targets,
                            size_t target_stride, float *gradient,
                            float *outputs);

#endif
