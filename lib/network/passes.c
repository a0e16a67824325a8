/* Forward and backward passes (see passes.h).
 *
 * Data flow of one stage s for a chunk of images, NCHW throughout:
 *   padded[s] --conv+bias+ReLU--> conv_output --2x2 pool--> interior of
 *   padded[s+1] (or the outputs after the last stage).
 * Each workspace is one allocation carved into 64-byte aligned blocks; the
 * padded buffers are zeroed once when it is made, and later only their
 * interiors are written, so the borders stay zero. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/memory.h"
#include "common/error.h"
#include "network/passes.h"

#define BLOCK_ALIGNMENT 64

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

static cosnet_status allocate_blocks(const block_plan *plan, const char *what,
                                     unsigned char **memory)
{
    if (plan->overflow)
        return error_set(COSNET_ERROR_OUT_OF_MEMORY,
                         "%s: the buffer sizes overflow size_t", what);
    size_t bytes = plan->total ? plan->total : BLOCK_ALIGNMENT;
    *memory = memory_allocate_aligned(BLOCK_ALIGNMENT, bytes);
    if (!*memory)
        return error_out_of_memory(what, bytes);
    /* Zero everything once: this is what makes the padded borders zero. */
    memset(*memory, 0, bytes);
    return COSNET_OK;
}

/* ---- Shapes ------------------------------------------------------------ */

static size_t padded_plane(const conv_shape *shape)
{
    return (size_t)conv_padded_height(shape) * conv_padded_width(shape);
}

/* Floats of one image's padded input to a stage. */
static size_t padded_image(const conv_stage *stage)
{
    return (size_t)stage->shape.in_channels * padded_plane(&stage->shape);
}

/* Floats of one image's convolution output (before pooling). */
static size_t conv_output_image(const conv_stage *stage)
{
    return (size_t)stage->shape.out_channels * conv_out_height(&stage->shape) *
           conv_out_width(&stage->shape);
}

/* Floats of one image's pooled output. */
static size_t pooled_image(const conv_stage *stage)
{
    return (size_t)stage->shape.out_channels * stage->pooled_height *
           stage->pooled_width;
}

static size_t input_image(const architecture_description *arch)
{
    return (size_t)arch->input_channels * arch->input_rows *
           arch->input_columns;
}

/* Where the unpadded plane starts inside a padded plane. */
static size_t interior_offset(const conv_shape *shape)
{
    return (size_t)shape->pad * conv_padded_width(shape) + shape->pad;
}

/* The passes run conv stages only, chained shape to shape. */
static cosnet_status check_runnable(const architecture_description *arch)
{
    if (!arch || arch->conv_stage_count < 1 ||
        arch->conv_stage_count > ARCHITECTURE_MAX_CONV_STAGES)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "network passes: no architecture description");
    if (arch->dense_outputs != 0)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "architecture %s: dense heads are not implemented",
                         arch->name);
    return COSNET_OK;
}

/* Copies `planes` dense height x width planes into the interiors of the
 * padded planes of `shape` starting at padded. */
static void copy_into_interior(size_t planes, int height, int width,
                               const float *dense, const conv_shape *shape,
                               float *padded)
{
    const size_t plane = padded_plane(shape);
    const int padded_width = conv_padded_width(shape);
    float *interior = padded + interior_offset(shape);
    for (size_t p = 0; p < planes; p++)
        for (int r = 0; r < height; r++)
            memcpy(interior + p * plane + (size_t)r * padded_width,
                   dense + (p * height + r) * width, sizeof(float) * width);
}

/* ---- Prediction --------------------------------------------------------- */

struct forward_workspace {
    const architecture_description *arch;
    unsigned char *memory;
    float *padded[ARCHITECTURE_MAX_CONV_STAGES]; /* chunk images each */
    float *conv_output;                          /* chunk images, largest */
    uint8_t *argmax;                             /* chunk images, largest */
};

cosnet_status forward_workspace_create(const architecture_description *arch,
                                       forward_workspace **out)
{
    cosnet_status status = check_runnable(arch);
    if (status != COSNET_OK)
        return status;
    forward_workspace *workspace = memory_allocate_zeroed(1, sizeof *workspace);
    if (!workspace)
        return error_out_of_memory("prediction workspace", sizeof *workspace);
    workspace->arch = arch;

    block_plan plan = {0, 0};
    size_t padded_at[ARCHITECTURE_MAX_CONV_STAGES];
    size_t largest_output = 0, largest_pooled = 0;
    for (int s = 0; s < arch->conv_stage_count; s++) {
        const conv_stage *stage = &arch->conv_stages[s];
        padded_at[s] = plan_block(&plan, NETWORK_PREDICT_CHUNK,
                                  sizeof(float) * padded_image(stage));
        if (conv_output_image(stage) > largest_output)
            largest_output = conv_output_image(stage);
        if (pooled_image(stage) > largest_pooled)
            largest_pooled = pooled_image(stage);
    }
    size_t output_at = plan_block(&plan, NETWORK_PREDICT_CHUNK,
                                  sizeof(float) * largest_output);
    size_t argmax_at =
        plan_block(&plan, NETWORK_PREDICT_CHUNK * largest_pooled, 1);
    status = allocate_blocks(&plan, "prediction workspace", &workspace->memory);
    if (status != COSNET_OK) {
        memory_free(workspace);
        return status;
    }
    for (int s = 0; s < arch->conv_stage_count; s++)
        workspace->padded[s] = (float *)(workspace->memory + padded_at[s]);
    workspace->conv_output = (float *)(workspace->memory + output_at);
    workspace->argmax = workspace->memory + argmax_at;
    *out = workspace;
    return COSNET_OK;
}

void forward_workspace_free(forward_workspace *workspace)
{
    if (!workspace)
        return;
    memory_free(workspace->memory);
    memory_free(workspace);
}

/* One chunk of count <= NETWORK_PREDICT_CHUNK images. */
static void forward_chunk(const kernel_table *kernels,
                          forward_workspace *workspace, const float *parameters,
                          const float *images, size_t count, float *outputs)
{
    const architecture_description *arch = workspace->arch;
    const int last = arch->conv_stage_count - 1;
    copy_into_interior(count * arch->input_channels, arch->input_rows,
                       arch->input_columns, images, &arch->conv_stages[0].shape,
                       workspace->padded[0]);
    for (int s = 0; s <= last; s++) {
        const conv_stage *stage = &arch->conv_stages[s];
        const conv_shape *shape = &stage->shape;
        kernels->conv3x3_forward(shape, count, workspace->padded[s],
                                 parameters + stage->weight_offset,
                                 parameters + stage->bias_offset, 1,
                                 workspace->conv_output);
        size_t planes = count * (size_t)shape->out_channels;
        if (s < last) {
            /* Pool straight into the next stage's zero-bordered input. */
            const conv_shape *next = &arch->conv_stages[s + 1].shape;
            kernels->maxpool2x2_forward(
                planes, conv_out_height(shape), conv_out_width(shape),
                workspace->conv_output,
                workspace->padded[s + 1] + interior_offset(next),
                padded_plane(next), (size_t)conv_padded_width(next),
                workspace->argmax);
        } else {
            /* Flattened (channel, row, column): the planes are the output. */
            kernels->maxpool2x2_forward(
                planes, conv_out_height(shape), conv_out_width(shape),
                workspace->conv_output, outputs,
                (size_t)stage->pooled_height * stage->pooled_width,
                (size_t)stage->pooled_width, workspace->argmax);
        }
    }
}

void network_forward(const kernel_table *kernels, forward_workspace *workspace,
                     const float *parameters, const float *images, size_t count,
                     float *outputs)
{
    const size_t in = input_image(workspace->arch);
    const size_t out = workspace->arch->output_dims;
    for (size_t first = 0; first < count; first += NETWORK_PREDICT_CHUNK) {
        size_t chunk = count - first < NETWORK_PREDICT_CHUNK
                           ? count - first
                           : NETWORK_PREDICT_CHUNK;
        forward_chunk(kernels, workspace, parameters, images + first * in,
                      chunk, outputs + first * out);
    }
}

/* ---- Training -----------------------------------------------------------
 * A batch is processed a chunk at a time, forward then straight backward,
 * so that what the backward pass reads (each stage's padded input, pooled
 * output and argmax) is still in cache, and the memory does not grow with
 * the batch. The loss of image i depends on output i only, so a chunk's
 * loss gradient is exact on its own once scaled from 1/chunk to 1/n. */

struct training_workspace {
    const architecture_description *arch;
    unsigned char *memory;
    /* One chunk, kept from forward for backward: */
    float *padded[ARCHITECTURE_MAX_CONV_STAGES]; /* each stage's input */
    float *pooled[ARCHITECTURE_MAX_CONV_STAGES]; /* dense; last = outputs */
    uint8_t *argmax[ARCHITECTURE_MAX_CONV_STAGES];
    float *output_grad;    /* dL/doutputs */
    float *conv_output;    /* forward: conv output; backward: its gradient */
    float *pooled_grad;    /* gradient w.r.t. a stage's pooled output */
    float *chunk_gradient; /* one chunk's parameter gradient */
};

cosnet_status training_workspace_create(const architecture_description *arch,
                                        training_workspace **out)
{
    cosnet_status status = check_runnable(arch);
    if (status != COSNET_OK)
        return status;
    training_workspace *workspace =
        memory_allocate_zeroed(1, sizeof *workspace);
    if (!workspace)
        return error_out_of_memory("training workspace", sizeof *workspace);
    workspace->arch = arch;

    block_plan plan = {0, 0};
    size_t padded_at[ARCHITECTURE_MAX_CONV_STAGES];
    size_t pooled_at[ARCHITECTURE_MAX_CONV_STAGES];
    size_t argmax_at[ARCHITECTURE_MAX_CONV_STAGES];
    size_t largest_output = 0, largest_pooled = 0;
    for (int s = 0; s < arch->conv_stage_count; s++) {
        const conv_stage *stage = &arch->conv_stages[s];
        size_t pooled = pooled_image(stage);
        padded_at[s] = plan_block(&plan, NETWORK_TRAIN_CHUNK,
                                  sizeof(float) * padded_image(stage));
        pooled_at[s] =
            plan_block(&plan, NETWORK_TRAIN_CHUNK, sizeof(float) * pooled);
        argmax_at[s] = plan_block(&plan, NETWORK_TRAIN_CHUNK, pooled);
        if (conv_output_image(stage) > largest_output)
            largest_output = conv_output_image(stage);
        if (pooled > largest_pooled)
            largest_pooled = pooled;
    }
    size_t output_grad_at = plan_block(&plan, NETWORK_TRAIN_CHUNK,
                                       sizeof(float) * arch->output_dims);
    size_t conv_output_at =
        plan_block(&plan, NETWORK_TRAIN_CHUNK, sizeof(float) * largest_output);
    size_t pooled_grad_at =
        plan_block(&plan, NETWORK_TRAIN_CHUNK, sizeof(float) * largest_pooled);
    size_t chunk_gradient_at =
        plan_block(&plan, arch->parameter_count, sizeof(float));
    status = allocate_blocks(&plan, "training workspace", &workspace->memory);
    if (status != COSNET_OK) {
        memory_free(workspace);
        return status;
    }
    unsigned char *memory = workspace->memory;
    for (int s = 0; s < arch->conv_stage_count; s++) {
        workspace->padded[s] = (float *)(memory + padded_at[s]);
        workspace->pooled[s] = (float *)(memory + pooled_at[s]);
        workspace->argmax[s] = memory + argmax_at[s];
    }
    workspace->output_grad = (float *)(memory + output_grad_at);
    workspace->conv_output = (float *)(memory + conv_output_at);
    workspace->pooled_grad = (float *)(memory + pooled_grad_at);
    workspace->chunk_gradient = (float *)(memory + chunk_gradient_at);
    *out = workspace;
    return COSNET_OK;
}

void training_workspace_free(training_workspace *workspace)
{
    if (!workspace)
        return;
    memory_free(workspace->memory);
    memory_free(workspace);
}

/* Forward on count <= NETWORK_TRAIN_CHUNK images, keeping each stage's
 * padded input, argmax and dense pooled output. */
static void training_forward_chunk(const kernel_table *kernels,
                                   training_workspace *workspace,
                                   const float *parameters, const float *images,
                                   size_t count)
{
    const architecture_description *arch = workspace->arch;
    const int last = arch->conv_stage_count - 1;
    copy_into_interior(count * arch->input_channels, arch->input_rows,
                       arch->input_columns, images, &arch->conv_stages[0].shape,
                       workspace->padded[0]);
    for (int s = 0; s <= last; s++) {
        const conv_stage *stage = &arch->conv_stages[s];
        const conv_shape *shape = &stage->shape;
        const size_t planes = count * (size_t)shape->out_channels;
        kernels->conv3x3_forward(shape, count, workspace->padded[s],
                                 parameters + stage->weight_offset,
                                 parameters + stage->bias_offset, 1,
                                 workspace->conv_output);
        /* Dense pooled values: the ReLU mask of the backward pass. */
        kernels->maxpool2x2_forward(
            planes, conv_out_height(shape), conv_out_width(shape),
            workspace->conv_output, workspace->pooled[s],
            (size_t)stage->pooled_height * stage->pooled_width,
            (size_t)stage->pooled_width, workspace->argmax[s]);
        if (s < last)
            copy_into_interior(planes, stage->pooled_height,
                               stage->pooled_width, workspace->pooled[s],
                               &arch->conv_stages[s + 1].shape,
                               workspace->padded[s + 1]);
    }
}

/* Backward on the chunk of the last forward, from output_grad: the chunk's
 * parameter gradient, written (not added) into `gradient`. */
static void training_backward_chunk(const kernel_table *kernels,
                                    training_workspace *workspace,
                                    const float *parameters, size_t count,
                                    float *gradient)
{
    const architecture_description *arch = workspace->arch;
    const int last = arch->conv_stage_count - 1;
    for (int s = last; s >= 0; s--) {
        const conv_stage *stage = &arch->conv_stages[s];
        const conv_shape *shape = &stage->shape;
        /* Routes each pooled gradient to its window's maximum, zero where
         * the pooled value (= ReLU output) is 0: ReLU' fused in. */
        kernels->maxpool2x2_backward(
            count * (size_t)shape->out_channels, conv_out_height(shape),
            conv_out_width(shape),
            s == last ? workspace->output_grad : workspace->pooled_grad,
            workspace->argmax[s], workspace->pooled[s], workspace->conv_output);
        kernels->conv3x3_backward_weights(
            shape, count, workspace->padded[s], workspace->conv_output,
            gradient + stage->weight_offset, gradient + stage->bias_offset);
        /* The first stage's input is the image: no gradient needed. */
        if (s > 0)
            kernels->conv3x3_backward_input(
                shape, count, parameters + stage->weight_offset,
                workspace->conv_output, workspace->pooled_grad);
    }
}

float network_loss_gradient(const kernel_table *kernels,
                            training_workspace *workspace,
                            const float *parameters, const float *images,
                            size_t n, const float *targets,
                            size_t target_stride, float *gradient,
                            float *outputs)
{
    const architecture_description *arch = workspace->arch;
    const size_t dims = arch->output_dims;
    const size_t image_size = input_image(arch);
    const float *chunk_outputs = workspace->pooled[arch->conv_stage_count - 1];
    double loss_sum = 0.0;
    for (size_t first = 0; first < n; first += NETWORK_TRAIN_CHUNK) {
        size_t count =
            n - first < NETWORK_TRAIN_CHUNK ? n - first : NETWORK_TRAIN_CHUNK;
        training_forward_chunk(kernels, workspace, parameters,
                               images + first * image_size, count);
        if (outputs)
            memcpy(outputs + first * dims, chunk_outputs,
                   sizeof(float) * count * dims);
        /* The kernel scales by 1/count; the batch loss wants 1/n. */
        float chunk_loss = kernels->cosine_loss(
            count, dims, chunk_outputs, targets + first * target_stride,
            target_stride, workspace->output_grad);
        loss_sum += (double)chunk_loss * (double)count;
        if (count != n) {
            const float rescale = (float)((double)count / (double)n);
            for (size_t k = 0; k < count * dims; k++)
                workspace->output_grad[k] *= rescale;
        }
        float *target_gradient =
            first == 0 ? gradient : workspace->chunk_gradient;
        training_backward_chunk(kernels, workspace, parameters, count,
                                target_gradient);
        if (first != 0)
            for (size_t p = 0; p < arch->parameter_count; p++)
                gradient[p] += workspace->chunk_gradient[p];
    }
    return (float)(loss_sum / (double)n);
}
