/* Internal: networks described as a list of layers.
 *
 * A description is what a caller (or the model file) writes: the input
 * shape and a list of layers (3x3 convolution, ReLU, 2x2 max-pool, flatten,
 * dense). architecture_build validates it and derives everything else:
 * each compute layer's shapes, its parameters' offsets, the activation and
 * workspace sizes, the parameter count, the multiply-adds and the images
 * per chunk. Nothing is hand-computed per network. */
#ifndef COSNET_NETWORK_ARCHITECTURE_H
#define COSNET_NETWORK_ARCHITECTURE_H

#include <stddef.h>

#include "cosnet.h"
#include "kernels/kernels.h"

typedef enum layer_kind {
    LAYER_CONV3X3 = 1,    /* 3x3, stride 1, + bias; `size` output channels */
    LAYER_RELU = 2,       /* max(0, x), fused into the conv/dense before it */
    LAYER_MAXPOOL2X2 = 3, /* 2x2, stride 2 (odd last row/column dropped) */
    LAYER_FLATTEN = 4,    /* channels x rows x columns -> features */
    LAYER_DENSE = 5,      /* + bias; `size` output features */
    /* While training, zeroes each value with probability size / 1000 and
     * scales the others by 1000 / (1000 - size) (inverted dropout); the
     * identity when predicting. size 1..900. */
    LAYER_DROPOUT = 6
} layer_kind;

/* One layer as written in a description (and, as three u32, in a model
 * file). size: output channels (conv), features (dense), the dropped
 * fraction in thousandths (dropout), else 0; pad:
 * zeros on every side (conv, 0..2), else 0. */
typedef struct layer_spec {
    layer_kind kind;
    unsigned size;
    unsigned pad;
} layer_spec;

#define ARCHITECTURE_MAX_LAYERS 32
#define ARCHITECTURE_MAX_DROPOUT 900 /* thousandths */
/* Bounds that keep every size far from overflow and workspaces sane. */
#define ARCHITECTURE_MAX_SIDE 4096
#define ARCHITECTURE_MAX_CHANNELS 4096
#define ARCHITECTURE_MAX_FEATURES (1u << 24)
#define ARCHITECTURE_MAX_PARAMETERS ((size_t)1 << 28)
/* Floats of one image's activations, all layers together (the workspace
 * grows with it): 2^24, 64 MB. A model file of a few bytes can describe a
 * huge input; this keeps what it makes the library allocate bounded. */
#define ARCHITECTURE_MAX_ACTIVATIONS ((size_t)1 << 24)

/* A compute layer (ReLU and flatten fold into their neighbours; dropout is
 * a layer of its own, elementwise). Shapes
 * are channels x height x width; a dense layer's are features x 1 x 1. */
typedef struct network_layer {
    layer_kind kind; /* LAYER_CONV3X3, LAYER_MAXPOOL2X2, LAYER_DENSE or
                        LAYER_DROPOUT */
    int in_channels, in_height, in_width;
    int out_channels, out_height, out_width;
    int relu;                          /* conv/dense: a ReLU follows (fused) */
    unsigned dropout;                  /* dropout: thousandths dropped */
    conv_shape shape;                  /* conv only */
    size_t weight_offset, bias_offset; /* in the parameter vector */
    size_t weight_count;               /* biases: out_channels */
    size_t in_size, out_size;          /* floats per image */
} network_layer;

typedef struct architecture_description {
    cosnet_architecture id; /* a built-in one, or 0 for a custom list */
    const char *name;       /* static: "seed", "custom", ... */
    int input_channels, input_rows, input_columns;
    size_t spec_count;
    layer_spec specs[ARCHITECTURE_MAX_LAYERS];
    int layer_count;
    network_layer layers[ARCHITECTURE_MAX_LAYERS];
    size_t output_dims;
    size_t parameter_count;
    size_t multiply_adds; /* per image, forward */
    size_t chunk;         /* images the passes push through together */
} architecture_description;

/* Validates a layer list and fills *out. Rules: input sides 1..4096 and
 * 1..4096 channels; a conv needs a spatial input, 1..4096 output channels,
 * pad 0..2 and an output of at least 1x1; a pool needs a spatial input of at
 * least 2x2; ReLU only right after a conv or dense layer; dropout drops
 * 1..900 thousandths and not as the last layer; flatten once,
 * before any dense layer (a dense layer on a spatial input flattens
 * implicitly); at most 2^28 parameters and 2^24 activation floats per image
 * (all layers, padded inputs included). Returns COSNET_OK or BAD_FORMAT with a
 * message naming the layer and the rule. */
cosnet_status architecture_build(cosnet_architecture id, const char *name,
                                 int input_channels, int input_rows,
                                 int input_columns, const layer_spec *specs,
                                 size_t spec_count,
                                 architecture_description *out);

/* Fills *out with built-in architecture `id`; INVALID_ARGUMENT if this
 * library does not know it. */
cosnet_status architecture_find(cosnet_architecture id,
                                architecture_description *out);

/* Floats of one image's input. */
size_t architecture_input_size(const architecture_description *arch);

/* Whether two networks have the same input shape and layer list, and so
 * the same buffer sizes (their workspaces can be shared or reused). */
int architecture_same_layers(const architecture_description *a,
                             const architecture_description *b);

#endif
