/* Internal: the model handle, shared by the model, file, training and
 * evaluation code. */
#ifndef COSNET_NETWORK_MODEL_INTERNAL_H
#define COSNET_NETWORK_MODEL_INTERNAL_H

#include "cosnet.h"
#include "kernels/kernels.h"
#include "network/architecture.h"
#include "network/passes.h"

struct cosnet_model {
    architecture_description arch; /* validated layer list and sizes */
    float *parameters;             /* arch.parameter_count floats */
    char layers_text[ARCHITECTURE_MAX_LAYERS * 28]; /* layer_text_format */
};

/* A model of `arch` with all parameters zero (the caller fills them).
 * Returns COSNET_OK or OUT_OF_MEMORY. */
cosnet_status model_allocate(const architecture_description *arch,
                             cosnet_model **out);

/* Glorot-uniform weights U(-r, r), r = sqrt(6 / (fan_in + fan_out)), drawn
 * layer by layer in storage order from a generator seeded with `seed`;
 * biases zero. Conv fans are channels x 9, dense fans are features. */
void model_initialise_glorot(cosnet_model *model, uint64_t seed);

/* MISMATCH (message prefixed by `function`) unless the dataset's images
 * have the model's input size. */
/* NOT_FINITE, naming the first NaN or infinite value of `count` images of
 * image_size floats, or COSNET_OK: a ReLU would turn a NaN into 0, and the
 * SIMD and scalar kernels treat infinities differently, so such an image
 * has no result to give. */
cosnet_status model_check_images(const char *function, const float *images,
                                 size_t count, size_t image_size);

cosnet_status model_check_dataset(const char *function,
                                  const architecture_description *arch,
                                  const cosnet_dataset *dataset);

/* Images [first, first + count) of a dataset as floats in [0, 1]. */
void model_convert_images(const kernel_table *kernels,
                          const cosnet_dataset *dataset, size_t first,
                          size_t count, float *out);

/* Floats per image in the layout model_convert_input writes: the first
 * convolution's zero-bordered input (network_padded_input) when the first
 * layer is one, else the image itself. */
size_t model_input_floats(const architecture_description *arch);

/* Whether two architectures take the same model_convert_input layout. */
int model_same_input_layout(const architecture_description *a,
                            const architecture_description *b);

/* Images [first, first + count) as floats in [0, 1] in that layout. Only
 * the interior of a bordered layout is written: the caller zeroes the
 * buffer once (memory_allocate_zeroed). */
void model_convert_input(const kernel_table *kernels,
                         const architecture_description *arch,
                         const cosnet_dataset *dataset, size_t first,
                         size_t count, float *out);

/* network_forward on images in that layout (the workspace's architecture
 * must take the layout of `arch`). spans: NULL, or for a bordered layout
 * the first convolution's conv3x3_pool_spans of these images. */
void model_forward_input(network_workspace *workspace,
                         const architecture_description *arch,
                         const float *parameters, const float *input,
                         const uint8_t *spans, size_t count, float *outputs);

#endif
