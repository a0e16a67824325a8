/* Forward and backward passes over a layer list (see passes.h).
 *
 * Data flow for one chunk of images, NCHW throughout: a convolution reads
 * its own zero-bordered input buffer (the borders are zeroed once when the
 * workspace is made; only interiors are written later) and writes its
 * output; a pool that feeds a convolution writes straight into that
 * convolution's input interior when predicting, and into its own dense
 * buffer (kept for the backward pass, where its values are the ReLU mask)
 * when training; a convolution whose kernels fuse its ReLU and pool
 * (with the argmax when training) writes the pooled values to both. A
 * convolution followed by an unfused pool writes into one shared scratch
 * buffer: nothing reads it after the pool. A prediction runs the trailing
 * dense layers on groups of chunks (dense_tail_plan). */
#include <stdint.h>
#include <string.h>

#include "common/error.h"
#include "common/memory.h"
#include "common/rng.h"
#include "kernels/conv_driver.h"
#include "kernels/softmax_cosine.h"
#include "network/passes.h"

#define BLOCK_ALIGNMENT 64

/* Prediction runs a network's trailing dense layers on groups of whole
 * chunks holding about this many bytes of their activations, so that each
 * dense layer reads its weights once per group instead of once per chunk
 * (the deep classifier's 1568 -> 128 layer, its weights fetched from L3
 * for each chunk of 5 images, ran at about half the FMA peak;
 * docs/performance.md). */
#define DENSE_TAIL_GROUP_BYTES (256 * 1024)
#define DENSE_TAIL_MAX_IMAGES 64

/* ---- One allocation, many aligned blocks -------------------------------- */

typedef struct block_plan {
    size_t total; /* bytes so far, a multiple of BLOCK_ALIGNMENT */
    int overflow;
} block_plan;

/* Reserves `count` elements of `size` bytes; returns the block's offset. */
static size_t plan_block(block_plan *plan, size_t count, size_t size)
{
    size_t offset = plan->total;
    if (size != 0 && count > (SIZE_MAX - BLOCK_ALIGNMENT) / size) {
        plan->overflow = 1;
        return 0;
    }
    size_t bytes = count * size;
    bytes = (bytes + BLOCK_ALIGNMENT - 1) / BLOCK_ALIGNMENT * BLOCK_ALIGNMENT;
    if (bytes > SIZE_MAX - plan->total) {
        plan->overflow = 1;
        return 0;
    }
    plan->total += bytes;
    return offset;
}

/* ---- Shapes ------------------------------------------------------------ */

static size_t padded_plane(const conv_shape *shape)
{
    return (size_t)conv_padded_height(shape) * conv_padded_width(shape);
}

/* Where the unpadded plane starts inside a padded plane. */
static size_t interior_offset(const conv_shape *shape)
{
    return (size_t)shape->pad * conv_padded_width(shape) + shape->pad;
}

/* Copies `planes` dense height x width planes into the interiors of the
 * padded planes of `shape` starting at padded. */
static void copy_into_interior(size_t planes, const float *dense,
                               const conv_shape *shape, float *padded)
{
    const int height = shape->in_height, width = shape->in_width;
    const size_t plane = padded_plane(shape);
    const int padded_width = conv_padded_width(shape);
    float *interior = padded + interior_offset(shape);
    for (size_t p = 0; p < planes; p++)
        for (int r = 0; r < height; r++)
            memcpy(interior + p * plane + (size_t)r * padded_width,
                   dense + (p * height + r) * width, sizeof(float) * width);
}

static int is_conv(const architecture_description *arch, int l)
{
    return l >= 0 && l < arch->layer_count &&
           arch->layers[l].kind == LAYER_CONV3X3;
}

static int is_pool(const architecture_description *arch, int l)
{
    return l >= 0 && l < arch->layer_count &&
           arch->layers[l].kind == LAYER_MAXPOOL2X2;
}

/* ---- The workspace ----------------------------------------------------- */

struct network_workspace {
    architecture_description arch;
    const kernel_table *kernels;
    int training;
    unsigned char *memory;
    float *padded[ARCHITECTURE_MAX_LAYERS];          /* conv inputs */
    float *packed_forward[ARCHITECTURE_MAX_LAYERS];  /* conv weights */
    float *packed_backward[ARCHITECTURE_MAX_LAYERS]; /* training, l > 0 */
    float *output[ARCHITECTURE_MAX_LAYERS];          /* chunk activations */
    uint8_t *argmax[ARCHITECTURE_MAX_LAYERS];        /* pools */
    /* The training forward wrote the pool's positions as window bits
     * (kernels.h) into argmax's buffer: a first layer's pool whose
     * backward is conv3x3_pool_backward_weights_bits. */
    int window_bits[ARCHITECTURE_MAX_LAYERS];
    uint8_t *kept[ARCHITECTURE_MAX_LAYERS]; /* dropout (training): 1 = kept */
    /* Training: a conv's F(4x4) input transform of the chunk, kept by the
     * forward pass for the weight gradient (when `transformed_valid`). */
    float *transformed_input[ARCHITECTURE_MAX_LAYERS];
    int transformed_valid[ARCHITECTURE_MAX_LAYERS];
    uint64_t dropout_seed;
    size_t dropout_first; /* index of the chunk's first image in the call */
    /* network_set_softmax_loss's; scale 0: the cosine loss. */
    float softmax_scale;
    const float *softmax_labels;
    size_t softmax_label_count;
    const uint32_t *softmax_classes;
    float *conv_scratch;            /* outputs of convs that a pool follows */
    float *scratch;                 /* the conv driver's scratch */
    float *gradient_a, *gradient_b; /* activation gradients (training) */
    float *chunk_gradient;          /* one chunk's parameter gradient */
    /* The training passes pack the weights once per generation (0: at
     * every call); packed_generation is the one the packed weights hold. */
    uint64_t weights_generation, packed_generation;
    /* Prediction: layers dense_tail to the last (dense and dropout layers
     * after some other layer) run on groups of dense_tail_group images,
     * with their inputs and outputs here (the last layer's go to the
     * caller). dense_tail is layer_count when there is no such tail. */
    int dense_tail;
    size_t dense_tail_group;
    float *dense_tail_input;
    float *dense_tail_output[ARCHITECTURE_MAX_LAYERS];
    /* Training runs the chunks of a group with the tail's activations in
     * those same group buffers, and keeps each dense layer's output
     * gradient here (dense_tail_group x out_size): the tail's weight
     * gradients are then taken once per group, chunk sums added in order
     * (dense_backward_weights_summed), not once per chunk. A deferred
     * pass points these at the caller's buffers while it runs. */
    float *dense_tail_gradient[ARCHITECTURE_MAX_LAYERS];
    size_t tail_parameters; /* where the tail's parameters start */
    int tail_by_groups;     /* network_set_tail_by_groups */
};

/* The first layer of the network's dense tail (its trailing dense and
 * dropout layers, when some other layer comes before them) and the images
 * of a prediction group: whole chunks, at least two, within
 * DENSE_TAIL_GROUP_BYTES and DENSE_TAIL_MAX_IMAGES. Without a tail, or
 * when a group would be one chunk, *group is 0 and the result is
 * layer_count. */
static int dense_tail_plan(const architecture_description *arch, size_t *group)
{
    const int count = arch->layer_count;
    int tail = count;
    while (tail > 0 && (arch->layers[tail - 1].kind == LAYER_DENSE ||
                        arch->layers[tail - 1].kind == LAYER_DROPOUT))
        tail--;
    *group = 0;
    if (tail == 0 || tail == count)
        return count;
    size_t floats = arch->layers[tail].in_size;
    for (int l = tail; l < count - 1; l++)
        floats += arch->layers[l].out_size;
    size_t chunks = DENSE_TAIL_GROUP_BYTES / (sizeof(float) * floats);
    chunks /= arch->chunk;
    if (chunks * arch->chunk > DENSE_TAIL_MAX_IMAGES)
        chunks = DENSE_TAIL_MAX_IMAGES / arch->chunk;
    if (chunks < 2)
        return count;
    *group = chunks * arch->chunk;
    return tail;
}

cosnet_status network_workspace_create(const architecture_description *arch,
                                       const kernel_table *kernels,
                                       int training, network_workspace **out)
{
    network_workspace *ws = memory_allocate_zeroed(1, sizeof *ws);
    if (!ws)
        return error_out_of_memory("network workspace", sizeof *ws);
    ws->arch = *arch;
    ws->kernels = kernels;
    ws->training = training;
    arch = &ws->arch;
    const size_t chunk = arch->chunk;

    block_plan plan = {0, 0};
    size_t padded_at[ARCHITECTURE_MAX_LAYERS] = {0};
    size_t forward_at[ARCHITECTURE_MAX_LAYERS] = {0};
    size_t backward_at[ARCHITECTURE_MAX_LAYERS] = {0};
    size_t output_at[ARCHITECTURE_MAX_LAYERS] = {0};
    size_t argmax_at[ARCHITECTURE_MAX_LAYERS] = {0};
    size_t kept_at[ARCHITECTURE_MAX_LAYERS] = {0};
    size_t transformed_at[ARCHITECTURE_MAX_LAYERS] = {0};
    size_t largest_scratch = 0, largest_conv_output = 0;
    size_t largest_activation = architecture_input_size(arch);
    for (int l = 0; l < arch->layer_count; l++) {
        const network_layer *layer = &arch->layers[l];
        if (layer->in_size > largest_activation)
            largest_activation = layer->in_size;
        if (layer->out_size > largest_activation)
            largest_activation = layer->out_size;
        if (layer->kind == LAYER_CONV3X3) {
            const conv_shape *shape = &layer->shape;
            padded_at[l] = plan_block(&plan, chunk,
                                      sizeof(float) * shape->in_channels *
                                          padded_plane(shape));
            forward_at[l] =
                plan_block(&plan, conv3x3_packed_forward_floats(kernels, shape),
                           sizeof(float));
            if (training && l > 0)
                backward_at[l] = plan_block(
                    &plan, conv3x3_packed_backward_floats(kernels, shape),
                    sizeof(float));
            const size_t transformed =
                training ? conv3x3_kept_input_floats(kernels, shape) : 0;
            if (transformed)
                transformed_at[l] =
                    plan_block(&plan, chunk, sizeof(float) * transformed);
            size_t scratch = conv3x3_scratch_floats(kernels, shape);
            if (scratch > largest_scratch)
                largest_scratch = scratch;
            if (is_pool(arch, l + 1)) {
                if (layer->out_size > largest_conv_output)
                    largest_conv_output = layer->out_size;
                continue;
            }
        }
        if (layer->kind == LAYER_MAXPOOL2X2)
            argmax_at[l] = plan_block(&plan, chunk, layer->out_size);
        if (layer->kind == LAYER_DROPOUT && training)
            kept_at[l] = plan_block(&plan, chunk, layer->out_size);
        output_at[l] =
            plan_block(&plan, chunk, sizeof(float) * layer->out_size);
    }
    size_t dense_tail_group = 0;
    const int dense_tail = dense_tail_plan(arch, &dense_tail_group);
    size_t dense_tail_input_at = 0;
    size_t dense_tail_output_at[ARCHITECTURE_MAX_LAYERS] = {0};
    size_t dense_tail_gradient_at[ARCHITECTURE_MAX_LAYERS] = {0};
    if (dense_tail_group) {
        dense_tail_input_at =
            plan_block(&plan, dense_tail_group,
                       sizeof(float) * arch->layers[dense_tail].in_size);
        for (int l = dense_tail; l < arch->layer_count - 1; l++)
            dense_tail_output_at[l] =
                plan_block(&plan, dense_tail_group,
                           sizeof(float) * arch->layers[l].out_size);
        for (int l = dense_tail; training && l < arch->layer_count; l++)
            if (arch->layers[l].kind == LAYER_DENSE)
                dense_tail_gradient_at[l] =
                    plan_block(&plan, dense_tail_group,
                               sizeof(float) * arch->layers[l].out_size);
    }
    size_t conv_scratch_at =
        plan_block(&plan, chunk, sizeof(float) * largest_conv_output);
    size_t scratch_at = plan_block(&plan, largest_scratch, sizeof(float));
    size_t gradient_a_at = 0, gradient_b_at = 0, chunk_gradient_at = 0;
    if (training) {
        gradient_a_at =
            plan_block(&plan, chunk, sizeof(float) * largest_activation);
        gradient_b_at =
            plan_block(&plan, chunk, sizeof(float) * largest_activation);
        chunk_gradient_at =
            plan_block(&plan, arch->parameter_count, sizeof(float));
    }
    if (plan.overflow) {
        memory_free(ws);
        return error_set(COSNET_ERROR_OUT_OF_MEMORY,
                         "network workspace: the buffer sizes overflow");
    }
    size_t bytes = plan.total ? plan.total : BLOCK_ALIGNMENT;
    ws->memory = memory_allocate_aligned(BLOCK_ALIGNMENT, bytes);
    if (!ws->memory) {
        memory_free(ws);
        return error_out_of_memory("network workspace", bytes);
    }
    /* Zero everything once: this is what makes the padded borders zero. */
    memset(ws->memory, 0, bytes);
    unsigned char *m = ws->memory;
    for (int l = 0; l < arch->layer_count; l++) {
        if (arch->layers[l].kind == LAYER_CONV3X3) {
            ws->padded[l] = (float *)(m + padded_at[l]);
            ws->packed_forward[l] = (float *)(m + forward_at[l]);
            if (training && l > 0)
                ws->packed_backward[l] = (float *)(m + backward_at[l]);
            if (training &&
                conv3x3_kept_input_floats(kernels, &arch->layers[l].shape))
                ws->transformed_input[l] = (float *)(m + transformed_at[l]);
            if (is_pool(arch, l + 1)) {
                ws->output[l] = (float *)(m + conv_scratch_at);
                continue;
            }
        }
        if (arch->layers[l].kind == LAYER_MAXPOOL2X2)
            ws->argmax[l] = m + argmax_at[l];
        if (arch->layers[l].kind == LAYER_DROPOUT && training)
            ws->kept[l] = m + kept_at[l];
        ws->output[l] = (float *)(m + output_at[l]);
    }
    ws->dense_tail = dense_tail;
    ws->dense_tail_group = dense_tail_group;
    ws->tail_parameters = arch->parameter_count;
    ws->tail_by_groups = 1;
    if (dense_tail_group) {
        ws->dense_tail_input = (float *)(m + dense_tail_input_at);
        for (int l = dense_tail; l < arch->layer_count - 1; l++)
            ws->dense_tail_output[l] = (float *)(m + dense_tail_output_at[l]);
        for (int l = dense_tail; training && l < arch->layer_count; l++)
            if (arch->layers[l].kind == LAYER_DENSE) {
                ws->dense_tail_gradient[l] =
                    (float *)(m + dense_tail_gradient_at[l]);
                /* Parameters are laid out in layer order. */
                if (arch->layers[l].weight_offset < ws->tail_parameters)
                    ws->tail_parameters = arch->layers[l].weight_offset;
            }
    }
    ws->conv_scratch = (float *)(m + conv_scratch_at);
    ws->scratch = (float *)(m + scratch_at);
    if (training) {
        ws->gradient_a = (float *)(m + gradient_a_at);
        ws->gradient_b = (float *)(m + gradient_b_at);
        ws->chunk_gradient = (float *)(m + chunk_gradient_at);
    }
    *out = ws;
    return COSNET_OK;
}

void network_workspace_free(network_workspace *workspace)
{
    if (!workspace)
        return;
    memory_free(workspace->memory);
    memory_free(workspace);
}

void network_set_weights_generation(network_workspace *workspace,
                                    uint64_t generation)
{
    workspace->weights_generation = generation;
}

void network_set_softmax_loss(network_workspace *workspace, float scale,
                              const float *labels, size_t label_count,
                              const uint32_t *classes)
{
    workspace->softmax_scale = scale;
    workspace->softmax_labels = labels;
    workspace->softmax_label_count = label_count;
    workspace->softmax_classes = classes;
}

void network_set_dropout_seed(network_workspace *workspace, uint64_t seed)
{
    workspace->dropout_seed = seed;
}

/* Four 16-bit draws per 64-bit number; a value is dropped when its draw
 * is below dropped/1000 of 65536. */
void network_dropout_mask(uint64_t seed, uint64_t image, int layer,
                          unsigned dropped, size_t n, uint8_t *kept)
{
    const uint32_t threshold = (uint32_t)(dropped * 65536u / 1000u);
    random_generator generator;
    random_seed(&generator,
                seed ^ (0x9e3779b97f4a7c15u * (image * ARCHITECTURE_MAX_LAYERS +
                                               (uint64_t)layer + 1)));
    uint64_t bits = 0;
    for (size_t j = 0; j < n; j++) {
        if (j % 4 == 0)
            bits = random_next(&generator);
        kept[j] = (uint32_t)(bits & 0xffffu) >= threshold;
        bits >>= 16;
    }
}

/* Dropout of one chunk while training: each value kept with probability
 * 1 - dropped/1000 and then scaled by 1000 / (1000 - dropped); the mask is
 * kept for the backward pass. Image i's mask depends on (seed, first + i,
 * layer) only. */
static void dropout_forward(const network_workspace *ws, int l, size_t count,
                            const float *input, float *output)
{
    const network_layer *layer = &ws->arch.layers[l];
    const size_t n = layer->out_size;
    const float scale = 1000.0f / (float)(1000u - layer->dropout);
    for (size_t i = 0; i < count; i++) {
        uint8_t *kept = ws->kept[l] + i * n;
        network_dropout_mask(ws->dropout_seed, ws->dropout_first + i, l,
                             layer->dropout, n, kept);
        for (size_t j = 0; j < n; j++)
            output[i * n + j] = kept[j] ? input[i * n + j] * scale : 0.0f;
    }
}

static void dropout_backward(const network_workspace *ws, int l, size_t count,
                             const float *gradient_out, float *gradient_in)
{
    const network_layer *layer = &ws->arch.layers[l];
    const float scale = 1000.0f / (float)(1000u - layer->dropout);
    const size_t n = count * layer->out_size;
    for (size_t j = 0; j < n; j++)
        gradient_in[j] = ws->kept[l][j] ? gradient_out[j] * scale : 0.0f;
}

/* Packs the convolution weights once for the pass. */
static void pack_weights(network_workspace *ws, const float *parameters)
{
    const architecture_description *arch = &ws->arch;
    for (int l = 0; l < arch->layer_count; l++) {
        const network_layer *layer = &arch->layers[l];
        if (layer->kind != LAYER_CONV3X3)
            continue;
        conv3x3_pack_forward(ws->kernels, &layer->shape,
                             parameters + layer->weight_offset,
                             ws->packed_forward[l]);
        if (ws->packed_backward[l])
            conv3x3_pack_backward(ws->kernels, &layer->shape,
                                  parameters + layer->weight_offset,
                                  ws->packed_backward[l]);
    }
}

/* ---- Forward ------------------------------------------------------------
 * One chunk of count <= arch->chunk images. The last layer writes into
 * `outputs` (count x output_dims) when it is not NULL, else into its own
 * buffer. When training, every activation the backward pass reads is kept
 * in dense form. */
/* Where layer l's padded input starts its interior, with its plane and
 * row strides, if layer l is a convolution (pooled values written there
 * need no copy_into_interior); else NULL, strides untouched. */
static float *next_padded_input(network_workspace *ws, int l, size_t *plane,
                                size_t *row)
{
    if (!is_conv(&ws->arch, l))
        return NULL;
    const conv_shape *shape = &ws->arch.layers[l].shape;
    *plane = padded_plane(shape);
    *row = (size_t)conv_padded_width(shape);
    return ws->padded[l] + interior_offset(shape);
}

/* A dense or dropout layer on count images. */
static void forward_flat_layer(const network_workspace *ws,
                               const float *parameters, int l, size_t count,
                               const float *input, float *output)
{
    const network_layer *layer = &ws->arch.layers[l];
    if (layer->kind == LAYER_DENSE)
        ws->kernels->dense_forward(count, layer->in_size, layer->out_size,
                                   input, parameters + layer->weight_offset,
                                   parameters + layer->bias_offset, layer->relu,
                                   output);
    else if (ws->training)
        dropout_forward(ws, l, count, input, output);
    else
        memcpy(output, input, sizeof(float) * count * layer->out_size);
}

/* Layers 0 to end - 1 (end = layer_count: all of them). */
static void forward_chunk(network_workspace *ws, const float *parameters,
                          const float *images, int images_padded,
                          const uint8_t *spans, size_t count, float *outputs,
                          int end)
{
    const architecture_description *arch = &ws->arch;
    const kernel_table *k = ws->kernels;
    const int last = arch->layer_count - 1;
    /* The current conv's input is in place (images_padded: the images
     * are the first conv's zero-bordered input). */
    int interior_written = images_padded;
    for (int l = 0; l < end; l++) {
        const network_layer *layer = &arch->layers[l];
        const float *input = l == 0 ? images : ws->output[l - 1];
        float *output = l == last && outputs ? outputs : ws->output[l];
        switch (layer->kind) {
        case LAYER_CONV3X3: {
            const float *padded =
                l == 0 && images_padded ? images : ws->padded[l];
            ws->transformed_valid[l] = 0;
            if (!interior_written)
                copy_into_interior(count * (size_t)layer->in_channels, input,
                                   &layer->shape, ws->padded[l]);
            if (!ws->training && layer->relu && is_pool(arch, l + 1) &&
                conv3x3_fuses_pool(k, &layer->shape, ws->packed_forward[l])) {
                /* Convolution, ReLU and pool in one: the pooled values go
                 * where the pool would put them (the next convolution's
                 * padded input, or the pool's output). */
                const network_layer *pool = &arch->layers[l + 1];
                float *pooled =
                    l + 1 == last && outputs ? outputs : ws->output[l + 1];
                size_t plane = (size_t)pool->out_height * pool->out_width;
                size_t row = (size_t)pool->out_width;
                float *next = next_padded_input(ws, l + 2, &plane, &row);
                interior_written = next != NULL;
                if (next)
                    pooled = next;
                conv3x3_forward_relu_pool_packed(
                    k, &layer->shape, count, padded, ws->packed_forward[l],
                    parameters + layer->bias_offset, l == 0 ? spans : NULL,
                    pooled, plane, row);
                l++; /* the pool is done */
                break;
            }
            if (ws->training && layer->relu && is_pool(arch, l + 1) &&
                conv3x3_fuses_pool_argmax(k, &layer->shape,
                                          ws->packed_forward[l])) {
                /* The pool's output (the ReLU mask the backward pass
                 * reads) and argmax, without the convolution's; the pooled
                 * values also straight into the next convolution's padded
                 * input; an F(4x4) shape's input transform kept. */
                size_t copy_plane = 0, copy_row = 0;
                float *copy =
                    next_padded_input(ws, l + 2, &copy_plane, &copy_row);
                interior_written = copy != NULL;
                /* A first layer's positions as the backward reads them. */
                ws->window_bits[l + 1] =
                    l == 0 && conv3x3_fuses_pool_window_bits(
                                  k, &layer->shape, ws->packed_forward[l]);
                ws->transformed_valid[l] =
                    conv3x3_forward_relu_pool_argmax_packed(
                        k, &layer->shape, count, padded, ws->packed_forward[l],
                        parameters + layer->bias_offset,
                        l + 1 == last && outputs ? outputs : ws->output[l + 1],
                        ws->argmax[l + 1],
                        ws->window_bits[l + 1] ? (uint32_t *)ws->argmax[l + 1]
                                               : NULL,
                        copy, copy_plane, copy_row, ws->transformed_input[l]);
                l++; /* the pool is done */
                break;
            }
            if (!ws->training && is_conv(arch, l + 1) &&
                conv3x3_forward_writes_into(k, &layer->shape,
                                            ws->packed_forward[l])) {
                /* Straight into the next convolution's input. */
                size_t plane = 0, row = 0;
                float *next = next_padded_input(ws, l + 1, &plane, &row);
                conv3x3_forward_packed_into(k, &layer->shape, count, padded,
                                            ws->packed_forward[l],
                                            parameters + layer->bias_offset,
                                            layer->relu, next, plane, row);
                interior_written = 1;
                break;
            }
            ws->transformed_valid[l] = conv3x3_forward_packed_keeping(
                k, &layer->shape, count, padded, ws->packed_forward[l],
                parameters + layer->bias_offset, layer->relu, output,
                ws->training ? ws->transformed_input[l] : NULL);
            interior_written = 0;
            break;
        }
        case LAYER_MAXPOOL2X2: {
            const size_t planes = count * (size_t)layer->in_channels;
            ws->window_bits[l] = 0; /* maxpool2x2_forward's argmax */
            if (!ws->training && is_conv(arch, l + 1)) {
                /* Straight into the next convolution's input. */
                const conv_shape *next = &arch->layers[l + 1].shape;
                k->maxpool2x2_forward(
                    planes, layer->in_height, layer->in_width, input,
                    ws->padded[l + 1] + interior_offset(next),
                    padded_plane(next), (size_t)conv_padded_width(next),
                    ws->argmax[l]);
                interior_written = 1;
            } else {
                k->maxpool2x2_forward(
                    planes, layer->in_height, layer->in_width, input, output,
                    (size_t)layer->out_height * layer->out_width,
                    (size_t)layer->out_width, ws->argmax[l]);
            }
            break;
        }
        case LAYER_DENSE:
        case LAYER_DROPOUT:
            forward_flat_layer(ws, parameters, l, count, input, output);
            break;
        default: break;
        }
    }
}

/* Prediction on count images of `in` floats each (spans: NULL, or the
 * first layer's conv3x3_pool_spans of the padded images). */
static void forward_images(network_workspace *workspace,
                           const float *parameters, const float *images,
                           int images_padded, const uint8_t *spans, size_t in,
                           size_t count, float *outputs)
{
    const architecture_description *arch = &workspace->arch;
    const size_t out = arch->output_dims, chunk = arch->chunk;
    const size_t span_bytes =
        spans ? conv3x3_pool_span_bytes(workspace->kernels,
                                        &arch->layers[0].shape)
              : 0;
    const int training = workspace->training;
    workspace->training = 0; /* prediction: no activations kept */
    pack_weights(workspace, parameters);
    workspace->packed_generation = 0; /* these may be other parameters */
    const int tail = workspace->dense_tail;
    if (tail == arch->layer_count) {
        for (size_t first = 0; first < count; first += chunk) {
            size_t n = count - first < chunk ? count - first : chunk;
            forward_chunk(workspace, parameters, images + first * in,
                          images_padded,
                          span_bytes ? spans + first * span_bytes : NULL, n,
                          outputs + first * out, arch->layer_count);
        }
        workspace->training = training;
        return;
    }
    /* The layers before the dense tail chunk by chunk, their last output
     * gathered for the group; then the tail on the whole group. */
    const size_t group = workspace->dense_tail_group;
    const size_t tail_in = arch->layers[tail].in_size;
    float *const own_output = workspace->output[tail - 1];
    for (size_t start = 0; start < count; start += group) {
        const size_t members = count - start < group ? count - start : group;
        for (size_t first = 0; first < members; first += chunk) {
            size_t n = members - first < chunk ? members - first : chunk;
            workspace->output[tail - 1] =
                workspace->dense_tail_input + first * tail_in;
            forward_chunk(workspace, parameters, images + (start + first) * in,
                          images_padded,
                          span_bytes ? spans + (start + first) * span_bytes
                                     : NULL,
                          n, NULL, tail);
        }
        const float *input = workspace->dense_tail_input;
        for (int l = tail; l < arch->layer_count; l++) {
            float *output = l == arch->layer_count - 1
                                ? outputs + start * out
                                : workspace->dense_tail_output[l];
            forward_flat_layer(workspace, parameters, l, members, input,
                               output);
            input = output;
        }
    }
    workspace->output[tail - 1] = own_output;
    workspace->training = training;
}

void network_forward(network_workspace *workspace, const float *parameters,
                     const float *images, size_t count, float *outputs)
{
    forward_images(workspace, parameters, images, 0, NULL,
                   architecture_input_size(&workspace->arch), count, outputs);
}

size_t network_dense_tail_group(const network_workspace *workspace)
{
    return workspace->dense_tail_group;
}

void network_set_tail_by_groups(network_workspace *workspace, int by_groups)
{
    workspace->tail_by_groups = by_groups != 0;
}

const conv_shape *network_padded_input(const architecture_description *arch)
{
    return is_conv(arch, 0) ? &arch->layers[0].shape : NULL;
}

void network_forward_padded(network_workspace *workspace,
                            const float *parameters, const float *padded_images,
                            const uint8_t *spans, size_t count, float *outputs)
{
    const conv_shape *shape = network_padded_input(&workspace->arch);
    forward_images(workspace, parameters, padded_images, 1, spans,
                   (size_t)shape->in_channels * padded_plane(shape), count,
                   outputs);
}

/* ---- Backward -----------------------------------------------------------
 * On the chunk of the last training forward, from dL/doutput in
 * gradient_a: the chunk's parameter gradient, written (not added) into
 * `gradient`. A pool after a ReLU routes its gradient through the ReLU's
 * derivative at once (its kept values are the mask); any other ReLU is
 * differentiated on its kept output. With a training group
 * (dense_tail_group), the dense tail's weight gradients are left out: each
 * dense layer's output gradient goes to its group buffer, at image `slot`
 * of the group, for loss_gradient (by_groups). */
static void backward_chunk(network_workspace *ws, const float *parameters,
                           const float *images, size_t count, float *gradient,
                           size_t slot, int by_groups)
{
    const architecture_description *arch = &ws->arch;
    const kernel_table *k = ws->kernels;
    float *current = ws->gradient_a, *other = ws->gradient_b;
    int relu_done = 0; /* the pool after this layer applied its ReLU' */
    for (int l = arch->layer_count - 1; l >= 0; l--) {
        const network_layer *layer = &arch->layers[l];
        const float *input = l == 0 ? images : ws->output[l - 1];
        float *swap = NULL;
        switch (layer->kind) {
        case LAYER_DENSE:
            if (layer->relu)
                k->relu_backward(count * layer->out_size, ws->output[l],
                                 current);
            if (by_groups && l >= ws->dense_tail)
                memcpy(ws->dense_tail_gradient[l] + slot * layer->out_size,
                       current, sizeof(float) * count * layer->out_size);
            else
                k->dense_backward_weights(count, layer->in_size,
                                          layer->out_size, input, current,
                                          gradient + layer->weight_offset,
                                          gradient + layer->bias_offset);
            if (l > 0)
                k->dense_backward_input(count, layer->in_size, layer->out_size,
                                        parameters + layer->weight_offset,
                                        current, other);
            relu_done = 0;
            break;
        case LAYER_MAXPOOL2X2: {
            const network_layer *before = l > 0 ? &arch->layers[l - 1] : NULL;
            const int mask = before && before->relu;
            if (l == 1 && before->kind == LAYER_CONV3X3 &&
                k->conv3x3_pool_backward_weights) {
                /* The first convolution needs no input gradient: its
                 * weight gradient comes straight from the pool's, one
                 * term per pooled value (kernels.h). */
                if (ws->window_bits[l])
                    k->conv3x3_pool_backward_weights_bits(
                        &before->shape, count, ws->padded[0],
                        mask ? ws->output[l] : NULL, current,
                        (const uint32_t *)ws->argmax[l],
                        gradient + before->weight_offset,
                        gradient + before->bias_offset);
                else
                    k->conv3x3_pool_backward_weights(
                        &before->shape, count, ws->padded[0],
                        mask ? ws->output[l] : NULL, current, ws->argmax[l],
                        gradient + before->weight_offset,
                        gradient + before->bias_offset);
                return;
            }
            if (l > 0)
                k->maxpool2x2_backward(count * (size_t)layer->in_channels,
                                       layer->in_height, layer->in_width,
                                       current, ws->argmax[l],
                                       mask ? ws->output[l] : NULL, other);
            relu_done = mask;
            break;
        }
        case LAYER_CONV3X3:
            if (layer->relu && !relu_done)
                k->relu_backward(count * layer->out_size, ws->output[l],
                                 current);
            conv3x3_backward_weights_kept(
                k, &layer->shape, count, ws->padded[l],
                ws->transformed_valid[l] ? ws->transformed_input[l] : NULL,
                current, gradient + layer->weight_offset,
                gradient + layer->bias_offset, ws->scratch);
            if (l > 0)
                conv3x3_backward_input_packed(k, &layer->shape, count,
                                              ws->packed_backward[l], current,
                                              other, ws->scratch);
            relu_done = 0;
            break;
        case LAYER_DROPOUT:
            if (l > 0)
                dropout_backward(ws, l, count, current, other);
            relu_done = 0;
            break;
        default: break;
        }
        swap = current, current = other, other = swap;
    }
}

float network_loss_gradient(network_workspace *workspace,
                            const float *parameters, const float *images,
                            size_t n, const float *targets,
                            size_t target_stride, float *gradient,
                            float *outputs)
{
    return network_loss_gradient_share(workspace, parameters, images, n, n,
                                       targets, target_stride, gradient,
                                       outputs);
}

/* network_loss_gradient_share, and with tail_inputs network_loss_gradient_
 * deferred: the dense tail's inputs and output gradients go to the
 * caller's buffers and its weight gradients are left to the caller. */
static float loss_gradient(network_workspace *ws, const float *parameters,
                           const float *images, size_t n, size_t normalizer,
                           const float *targets, size_t target_stride,
                           float *gradient, float *outputs,
                           float *const *tail_inputs,
                           float *const *tail_gradients)
{
    const architecture_description *arch = &ws->arch;
    const size_t dims = arch->output_dims, chunk = arch->chunk;
    const size_t image_size = architecture_input_size(arch);
    const float *chunk_outputs = ws->output[arch->layer_count - 1];
    if (ws->weights_generation == 0 ||
        ws->packed_generation != ws->weights_generation) {
        pack_weights(ws, parameters);
        ws->packed_generation = ws->weights_generation;
    }
    /* Chunk by chunk, in groups of dense_tail_group images when the
     * network has a dense tail (else one group of all n): each chunk's
     * gradient is added to the ones before it, except the tail's weight
     * gradients, taken once per group with each chunk's sums added in the
     * same order (so the bits are those of a gradient per chunk), or left
     * to the caller (tail_inputs). */
    const int last = arch->layer_count - 1;
    const int deferred = tail_inputs != NULL;
    const int by_groups =
        deferred || (ws->tail_by_groups && network_dense_tail(ws) <= last);
    const int tail = by_groups ? ws->dense_tail : arch->layer_count;
    const size_t group = by_groups && !deferred ? ws->dense_tail_group : n;
    const size_t shared =
        by_groups ? ws->tail_parameters : arch->parameter_count;
    float *own_output[ARCHITECTURE_MAX_LAYERS] = {NULL};
    float *own_gradient[ARCHITECTURE_MAX_LAYERS] = {NULL};
    for (int l = tail - 1; l <= last; l++) {
        own_output[l] = ws->output[l];
        own_gradient[l] = ws->dense_tail_gradient[l];
    }
    if (deferred)
        for (int l = tail; l <= last; l++)
            ws->dense_tail_gradient[l] = tail_gradients[l];
    double loss_sum = 0.0;
    for (size_t start = 0; start < n; start += group) {
        const size_t members = n - start < group ? n - start : group;
        for (size_t slot = 0; slot < members; slot += chunk) {
            const size_t first = start + slot;
            size_t count = members - slot < chunk ? members - slot : chunk;
            const float *chunk_images = images + first * image_size;
            ws->dropout_first = first;
            /* The tail's inputs go to the chunk's place in the group. */
            for (int l = tail - 1; l < last; l++)
                ws->output[l] = (deferred        ? tail_inputs[l + 1]
                                 : l == tail - 1 ? ws->dense_tail_input
                                                 : ws->dense_tail_output[l]) +
                                slot * arch->layers[l].out_size;
            forward_chunk(ws, parameters, chunk_images, 0, NULL, count, NULL,
                          arch->layer_count);
            if (outputs)
                memcpy(outputs + first * dims, chunk_outputs,
                       sizeof(float) * count * dims);
            /* The kernel scales by 1/count; the batch loss wants 1/n. */
            float chunk_loss =
                ws->softmax_scale > 0.0f
                    ? softmax_cosine_loss(
                          count, dims, chunk_outputs, ws->softmax_labels,
                          ws->softmax_label_count, ws->softmax_classes + first,
                          ws->softmax_scale, ws->gradient_a)
                    : ws->kernels->cosine_loss(count, dims, chunk_outputs,
                                               targets + first * target_stride,
                                               target_stride, ws->gradient_a);
            loss_sum += (double)chunk_loss * (double)count;
            if (count != normalizer) {
                const float rescale =
                    (float)((double)count / (double)normalizer);
                for (size_t k = 0; k < count * dims; k++)
                    ws->gradient_a[k] *= rescale;
            }
            float *target = first == 0 ? gradient : ws->chunk_gradient;
            backward_chunk(ws, parameters, chunk_images, count, target, slot,
                           by_groups);
            if (first != 0)
                for (size_t p = 0; p < shared; p++)
                    gradient[p] += ws->chunk_gradient[p];
        }
        if (deferred || !by_groups)
            continue;
        /* Each chunk one piece of one segment (a group holds at most
         * DENSE_TAIL_MAX_IMAGES images). */
        size_t piece_segments[DENSE_TAIL_MAX_IMAGES];
        size_t segment_images[DENSE_TAIL_MAX_IMAGES];
        dense_summation summation = {0, piece_segments, segment_images};
        for (size_t slot = 0; slot < members; slot += chunk) {
            piece_segments[summation.pieces] = 1;
            segment_images[summation.pieces++] =
                members - slot < chunk ? members - slot : chunk;
        }
        for (int l = tail; l <= last; l++) {
            const network_layer *layer = &arch->layers[l];
            if (layer->kind != LAYER_DENSE)
                continue;
            const float *input =
                l == tail ? ws->dense_tail_input : ws->dense_tail_output[l - 1];
            ws->kernels->dense_backward_weights_summed(
                &summation, start > 0, 0, layer->out_size, layer->in_size,
                layer->out_size, input, ws->dense_tail_gradient[l],
                gradient + layer->weight_offset, gradient + layer->bias_offset);
        }
    }
    for (int l = tail - 1; l <= last; l++) {
        ws->output[l] = own_output[l];
        ws->dense_tail_gradient[l] = own_gradient[l];
    }
    return (float)(loss_sum / (double)normalizer);
}

float network_loss_gradient_share(network_workspace *workspace,
                                  const float *parameters, const float *images,
                                  size_t n, size_t normalizer,
                                  const float *targets, size_t target_stride,
                                  float *gradient, float *outputs)
{
    return loss_gradient(workspace, parameters, images, n, normalizer, targets,
                         target_stride, gradient, outputs, NULL, NULL);
}

int network_dense_tail(const network_workspace *workspace)
{
    return workspace->training && workspace->dense_tail_group
               ? workspace->dense_tail
               : workspace->arch.layer_count;
}

size_t network_tail_parameters(const network_workspace *workspace)
{
    return network_dense_tail(workspace) < workspace->arch.layer_count
               ? workspace->tail_parameters
               : workspace->arch.parameter_count;
}

float network_loss_gradient_deferred(network_workspace *workspace,
                                     const float *parameters,
                                     const float *images, size_t n,
                                     size_t normalizer, const float *targets,
                                     size_t target_stride, float *gradient,
                                     float *outputs, float *const *tail_inputs,
                                     float *const *tail_gradients)
{
    return loss_gradient(workspace, parameters, images, n, normalizer, targets,
                         target_stride, gradient, outputs, tail_inputs,
                         tail_gradients);
}
