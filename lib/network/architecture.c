/* Layer lists: the built-in networks and the validator that derives
 * shapes, offsets and sizes from a list (see architecture.h). */
#include <string.h>

#include "common/error.h"
#include "network/architecture.h"

/* Activations of one chunk stay within about this many bytes, so the
 * passes work in L2 (bench_network measured chunks of 1 to 20 seed images,
 * about 88 KB each, within 5% of each other). */
#define CHUNK_TARGET_BYTES (448 * 1024)
#define CHUNK_MAX_IMAGES 16

static const char *kind_name(layer_kind kind)
{
    switch (kind) {
    case LAYER_CONV3X3: return "conv3x3";
    case LAYER_RELU: return "relu";
    case LAYER_MAXPOOL2X2: return "maxpool2x2";
    case LAYER_FLATTEN: return "flatten";
    case LAYER_DENSE: return "dense";
    case LAYER_DROPOUT: return "dropout";
    }
    return "unknown";
}

static cosnet_status refuse(const char *name, size_t index, layer_kind kind,
                            const char *rule)
{
    return error_set(COSNET_ERROR_BAD_FORMAT, "network %s: layer %zu (%s): %s",
                     name, index, kind_name(kind), rule);
}

cosnet_status architecture_build(cosnet_architecture id, const char *name,
                                 int input_channels, int input_rows,
                                 int input_columns, const layer_spec *specs,
                                 size_t spec_count,
                                 architecture_description *out)
{
    if (input_channels < 1 || input_channels > ARCHITECTURE_MAX_CHANNELS ||
        input_rows < 1 || input_rows > ARCHITECTURE_MAX_SIDE ||
        input_columns < 1 || input_columns > ARCHITECTURE_MAX_SIDE)
        return error_set(COSNET_ERROR_BAD_FORMAT,
                         "network %s: input %dx%dx%d outside 1..%d channels "
                         "and 1..%d pixels a side",
                         name, input_channels, input_rows, input_columns,
                         ARCHITECTURE_MAX_CHANNELS, ARCHITECTURE_MAX_SIDE);
    if (spec_count == 0 || spec_count > ARCHITECTURE_MAX_LAYERS)
        return error_set(COSNET_ERROR_BAD_FORMAT,
                         "network %s: %zu layers (1..%d allowed)", name,
                         spec_count, ARCHITECTURE_MAX_LAYERS);
    architecture_description d;
    memset(&d, 0, sizeof d);
    d.id = id;
    d.name = name;
    d.input_channels = input_channels;
    d.input_rows = input_rows;
    d.input_columns = input_columns;
    d.spec_count = spec_count;
    memcpy(d.specs, specs, spec_count * sizeof *specs);

    /* The running shape; flat once flattened or after a dense layer. */
    int c = input_channels, h = input_rows, w = input_columns, flat = 0;
    size_t parameters = 0, multiply_adds = 0, largest = (size_t)c * h * w;
    size_t activations = largest; /* floats per image, all layers */
    if (activations > ARCHITECTURE_MAX_ACTIVATIONS)
        return error_set(COSNET_ERROR_BAD_FORMAT,
                         "network %s: input %dx%dx%d has more than 2^24 "
                         "values",
                         name, c, h, w);
    for (size_t i = 0; i < spec_count; i++) {
        const layer_spec *s = &specs[i];
        network_layer *l = &d.layers[d.layer_count];
        switch (s->kind) {
        case LAYER_CONV3X3: {
            if (flat)
                return refuse(name, i, s->kind, "needs a spatial input");
            if (s->size < 1 || s->size > ARCHITECTURE_MAX_CHANNELS)
                return refuse(name, i, s->kind,
                              "output channels outside 1..4096");
            if (s->pad > 2)
                return refuse(name, i, s->kind, "pad outside 0..2");
            const int pad = (int)s->pad;
            if (h + 2 * pad < 3 || w + 2 * pad < 3)
                return refuse(name, i, s->kind,
                              "input smaller than the 3x3 kernel");
            l->kind = LAYER_CONV3X3;
            l->shape = (conv_shape){.in_channels = c,
                                    .out_channels = (int)s->size,
                                    .in_height = h,
                                    .in_width = w,
                                    .pad = pad};
            l->in_channels = c, l->in_height = h, l->in_width = w;
            c = (int)s->size, h = h + 2 * pad - 2, w = w + 2 * pad - 2;
            l->weight_count = (size_t)c * l->in_channels * 9;
            multiply_adds += l->weight_count * (size_t)h * w;
            break;
        }
        case LAYER_MAXPOOL2X2:
            if (flat)
                return refuse(name, i, s->kind, "needs a spatial input");
            if (h < 2 || w < 2)
                return refuse(name, i, s->kind, "input smaller than 2x2");
            l->kind = LAYER_MAXPOOL2X2;
            l->in_channels = c, l->in_height = h, l->in_width = w;
            h /= 2, w /= 2;
            break;
        case LAYER_RELU: {
            const network_layer *before =
                d.layer_count > 0 ? &d.layers[d.layer_count - 1] : NULL;
            if (!before || before->kind == LAYER_MAXPOOL2X2 || before->relu ||
                (specs[i - 1].kind != LAYER_CONV3X3 &&
                 specs[i - 1].kind != LAYER_DENSE))
                return refuse(name, i, s->kind,
                              "must follow a conv3x3 or dense layer");
            d.layers[d.layer_count - 1].relu = 1;
            continue;
        }
        case LAYER_FLATTEN:
            if (flat)
                return refuse(name, i, s->kind, "the input is already flat");
            flat = 1;
            continue;
        case LAYER_DENSE: {
            const size_t in = (size_t)c * h * w;
            if (s->size < 1 || s->size > ARCHITECTURE_MAX_FEATURES)
                return refuse(name, i, s->kind,
                              "output features outside "
                              "1..16777216");
            if (in > ARCHITECTURE_MAX_FEATURES)
                return refuse(name, i, s->kind, "more than 16777216 inputs");
            l->kind = LAYER_DENSE;
            l->in_channels = (int)in, l->in_height = 1, l->in_width = 1;
            c = (int)s->size, h = 1, w = 1, flat = 1;
            l->weight_count = (size_t)c * in;
            multiply_adds += l->weight_count;
            break;
        }
        case LAYER_DROPOUT:
            if (s->size < 1 || s->size > ARCHITECTURE_MAX_DROPOUT)
                return refuse(name, i, s->kind,
                              "fraction outside 0.001..0.9 (size 1..900)");
            if (i + 1 == spec_count)
                return refuse(name, i, s->kind,
                              "cannot be the last layer (it would drop "
                              "outputs the loss compares)");
            l->kind = LAYER_DROPOUT;
            l->dropout = s->size;
            l->in_channels = c, l->in_height = h, l->in_width = w;
            break;
        default:
            return error_set(COSNET_ERROR_BAD_FORMAT,
                             "network %s: layer %zu has unknown kind %d", name,
                             i, (int)s->kind);
        }
        l->out_channels = c, l->out_height = h, l->out_width = w;
        l->in_size = (size_t)l->in_channels * l->in_height * l->in_width;
        l->out_size = (size_t)c * h * w;
        if (l->weight_count > 0) {
            if (l->weight_count > ARCHITECTURE_MAX_PARAMETERS - parameters)
                return refuse(name, i, s->kind, "more than 2^28 parameters");
            l->weight_offset = parameters;
            l->bias_offset = parameters + l->weight_count;
            parameters += l->weight_count + (size_t)c;
        }
        if (l->out_size > largest)
            largest = l->out_size;
        activations += l->out_size;
        if (l->kind == LAYER_CONV3X3)
            activations += (size_t)l->in_channels *
                           (l->in_height + 2 * l->shape.pad) *
                           (l->in_width + 2 * l->shape.pad);
        /* Each term is below 2^12 * 2^13 * 2^13, so the sum cannot wrap
         * before this check stops it. */
        if (activations > ARCHITECTURE_MAX_ACTIVATIONS)
            return refuse(name, i, s->kind,
                          "the activations exceed 2^24 values per image");
        d.layer_count++;
    }
    if (d.layer_count == 0)
        return error_set(COSNET_ERROR_BAD_FORMAT,
                         "network %s: no conv3x3, maxpool2x2 or dense layer",
                         name);
    if (parameters > ARCHITECTURE_MAX_PARAMETERS)
        return error_set(COSNET_ERROR_BAD_FORMAT,
                         "network %s: more than 2^28 parameters", name);
    d.output_dims = (size_t)c * h * w;
    d.parameter_count = parameters;
    d.multiply_adds = multiply_adds;
    size_t chunk = CHUNK_TARGET_BYTES / (activations * sizeof(float));
    /* Each chunk's parameter gradient is added into the batch's: with many
     * parameters per activation (dense heads), bigger chunks keep that
     * addition small next to the arithmetic, and the dense layers' weights
     * are read once for more images. */
    const size_t by_parameters = (parameters + activations - 1) / activations;
    if (by_parameters > chunk)
        chunk = by_parameters;
    d.chunk = chunk < 1                  ? 1
              : chunk > CHUNK_MAX_IMAGES ? CHUNK_MAX_IMAGES
                                         : chunk;
    (void)largest;
    *out = d;
    return COSNET_OK;
}

/* The article's network (docs/math.md): 1x28x28 -> conv 16, pad 1 ->
 * pool 16x14x14 -> conv 8, pad 2 -> pool 8x8x8 -> conv 1, pad 2 -> pool
 * 1x5x5 = 25 outputs. */
static const layer_spec seed_layers[] = {
    {LAYER_CONV3X3, 16, 1}, {LAYER_RELU, 0, 0}, {LAYER_MAXPOOL2X2, 0, 0},
    {LAYER_CONV3X3, 8, 2},  {LAYER_RELU, 0, 0}, {LAYER_MAXPOOL2X2, 0, 0},
    {LAYER_CONV3X3, 1, 2},  {LAYER_RELU, 0, 0}, {LAYER_MAXPOOL2X2, 0, 0},
    {LAYER_FLATTEN, 0, 0},
};

/* The honest classifier (docs/honest-classifier.md says how the widths
 * were chosen: 32 and 64 channels reached the same test accuracy at three
 * times the cost): two 3x3 convolutions with pools, then a dense head whose
 * output is the label dimension. 28x28 -> 16x14x14 -> 32x7x7 -> 128 -> 25. */
static const layer_spec classifier_layers[] = {
    {LAYER_CONV3X3, 16, 1}, {LAYER_RELU, 0, 0},    {LAYER_MAXPOOL2X2, 0, 0},
    {LAYER_CONV3X3, 32, 1}, {LAYER_RELU, 0, 0},    {LAYER_MAXPOOL2X2, 0, 0},
    {LAYER_FLATTEN, 0, 0},  {LAYER_DENSE, 128, 0}, {LAYER_RELU, 0, 0},
    {LAYER_DENSE, 25, 0},
};

/* The classifier with a second convolution after the first pool
 * (docs/honest-classifier.md has the measurements that chose it: 0.1
 * points more than the classifier on the mean of three seeds, for 1.9
 * times the training time per epoch).
 * 28x28 -> 16x14x14 -> 32x14x14 -> 32x7x7 -> 128 -> 25. */
static const layer_spec deep_classifier_layers[] = {
    {LAYER_CONV3X3, 16, 1}, {LAYER_RELU, 0, 0},       {LAYER_MAXPOOL2X2, 0, 0},
    {LAYER_CONV3X3, 32, 1}, {LAYER_RELU, 0, 0},       {LAYER_CONV3X3, 32, 1},
    {LAYER_RELU, 0, 0},     {LAYER_MAXPOOL2X2, 0, 0}, {LAYER_FLATTEN, 0, 0},
    {LAYER_DENSE, 128, 0},  {LAYER_RELU, 0, 0},       {LAYER_DENSE, 25, 0},
};

cosnet_status architecture_find(cosnet_architecture id,
                                architecture_description *out)
{
    switch (id) {
    case COSNET_ARCHITECTURE_SEED:
        return architecture_build(id, "seed", 1, 28, 28, seed_layers,
                                  sizeof seed_layers / sizeof seed_layers[0],
                                  out);
    case COSNET_ARCHITECTURE_CLASSIFIER:
        return architecture_build(
            id, "classifier", 1, 28, 28, classifier_layers,
            sizeof classifier_layers / sizeof classifier_layers[0], out);
    case COSNET_ARCHITECTURE_DEEP_CLASSIFIER:
        return architecture_build(
            id, "deep-classifier", 1, 28, 28, deep_classifier_layers,
            sizeof deep_classifier_layers / sizeof deep_classifier_layers[0],
            out);
    }
    return error_set(COSNET_ERROR_INVALID_ARGUMENT, "unknown architecture %d",
                     (int)id);
}

size_t architecture_input_size(const architecture_description *arch)
{
    return (size_t)arch->input_channels * arch->input_rows *
           arch->input_columns;
}

int architecture_same_layers(const architecture_description *a,
                             const architecture_description *b)
{
    /* The layers follow from the input shape and the specs. */
    _Static_assert(sizeof(layer_spec) == 3 * sizeof(unsigned),
                   "memcmp compares layer_specs: they must have no padding");
    return a->input_channels == b->input_channels &&
           a->input_rows == b->input_rows &&
           a->input_columns == b->input_columns &&
           a->spec_count == b->spec_count &&
           memcmp(a->specs, b->specs, sizeof(layer_spec) * a->spec_count) == 0;
}
