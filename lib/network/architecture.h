/* Internal: the data that describes each network architecture.
 *
 * A network is a list of convolution stages followed by an optional dense
 * head. Every stage is: zero-pad, 3x3 stride-1 convolution, + bias, ReLU,
 * 2x2 stride-2 max-pool. The last stage's pooled planes are flattened
 * (channel, row, column) into the output, or into the dense head's input.
 * The passes and the model code read only this description, so a wider
 * variant is a new table entry, not new code. */
#ifndef COSNET_NETWORK_ARCHITECTURE_H
#define COSNET_NETWORK_ARCHITECTURE_H

#include <stddef.h>

#include "cosnet.h"
#include "kernels/kernels.h"

/* Room for the deepest architecture in the table. */
#define ARCHITECTURE_MAX_CONV_STAGES 4

typedef struct conv_stage {
    conv_shape shape;     /* input channels/size, output channels, pad */
    size_t weight_offset; /* first weight (OIHW) in the parameter vector */
    size_t bias_offset;   /* first bias, right after the weights */
    int pooled_height;    /* after the 2x2 pool */
    int pooled_width;
} conv_stage;

typedef struct architecture_description {
    cosnet_architecture id;
    const char *name;
    int input_channels, input_rows, input_columns;
    int conv_stage_count;
    conv_stage conv_stages[ARCHITECTURE_MAX_CONV_STAGES];
    /* Dense head (flatten -> dense_outputs, weights row-major out x in, then
     * biases). 0 = no head: the flattened last stage is the output. No
     * architecture in the table has one yet; the passes reject it. */
    size_t dense_outputs;
    size_t output_dims;
    size_t parameter_count;
} architecture_description;

/* The description of `id`, or NULL if this library does not know it. */
const architecture_description *architecture_find(cosnet_architecture id);

/* Number of values the last conv stage produces per image (its pooled
 * planes, flattened). */
size_t architecture_flattened_size(const architecture_description *arch);

#endif
