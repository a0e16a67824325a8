/* Training: one batch (forward, cosine loss, backward, AdamW step) and one
 * epoch in the article's order. A NaN or infinity anywhere leaves the model
 * and the optimiser exactly as they were. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/memory.h"
#include "common/error.h"
#include "common/numeric.h"
#include "kernels/kernels.h"
#include "network/model_internal.h"
#include "network/passes.h"
#include "optimizer/adamw_internal.h"

/* Everything a training call needs besides the model and optimiser. Its
 * size does not depend on the batch size, so an epoch's batches share it,
 * and the optimiser keeps it for the next call on a network of the same
 * layers: when each call built (and zeroed) its own, a loop of
 * cosnet_train_batch calls on the seed network took 7% longer per batch
 * than cosnet_train_epoch (bench/bench_network). */
struct training_context {
    const kernel_table *kernels;
    architecture_description arch; /* the network it was made for */
    network_workspace *workspace;
    float *gradient;            /* parameter_count floats */
    adamw_snapshot before_step; /* model and optimiser before the step */
};

void training_context_free(training_context *context)
{
    if (!context)
        return;
    network_workspace_free(context->workspace);
    memory_free(context->gradient);
    adamw_snapshot_free(&context->before_step);
    memory_free(context);
}

/* The optimiser's context when it was made for this network and kernel
 * table, else a new one that replaces it (the old one freed first, so the
 * two are never held at once). */
static cosnet_status context_for(const cosnet_model *model,
                                 cosnet_optimizer *optimizer,
                                 training_context **out)
{
    const kernel_table *kernels = NULL;
    cosnet_status status = kernels_active(&kernels);
    if (status != COSNET_OK)
        return status;
    training_context *context = optimizer->training;
    if (context && context->kernels == kernels &&
        architecture_same_layers(&context->arch, &model->arch)) {
        *out = context;
        return COSNET_OK;
    }
    training_context_free(context);
    optimizer->training = NULL;
    context = memory_allocate_zeroed(1, sizeof *context);
    if (!context)
        return error_out_of_memory("training context", sizeof *context);
    context->kernels = kernels;
    context->arch = model->arch;
    status =
        network_workspace_create(&model->arch, kernels, 1, &context->workspace);
    const size_t count = model->arch.parameter_count;
    if (status == COSNET_OK) {
        context->gradient = memory_allocate(count * sizeof(float) + 1);
        if (!context->gradient)
            status =
                error_out_of_memory("training gradient", count * sizeof(float));
    }
    if (status == COSNET_OK)
        status = adamw_snapshot_create(count, &context->before_step);
    if (status != COSNET_OK) {
        training_context_free(context);
        return status;
    }
    optimizer->training = context;
    *out = context;
    return COSNET_OK;
}

static cosnet_status check_arguments(const char *function,
                                     const cosnet_model *model,
                                     const cosnet_optimizer *optimizer,
                                     const float *images, size_t n,
                                     const float *targets)
{
    if (!model || !optimizer || !images || !targets)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT, "%s: %s is NULL",
                         function,
                         !model       ? "model"
                         : !optimizer ? "optimizer"
                         : !images    ? "images"
                                      : "targets");
    if (n == 0)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT, "%s: no images (n = 0)",
                         function);
    if (optimizer->parameter_count != model->arch.parameter_count)
        return error_set(COSNET_ERROR_MISMATCH,
                         "%s: the optimiser is sized for %zu parameters, the "
                         "%s model has %zu",
                         function, optimizer->parameter_count, model->arch.name,
                         model->arch.parameter_count);
    return COSNET_OK;
}

/* Images and targets are checked up front: a NaN pixel can be flushed to 0
 * by the ReLU and leave a finite loss, yet it poisons the gradient. */
static cosnet_status check_finite_inputs(const cosnet_model *model,
                                         const float *images, size_t n,
                                         const float *targets,
                                         size_t target_stride,
                                         size_t first_image)
{
    const architecture_description *arch = &model->arch;
    const size_t image_size =
        (size_t)arch->input_channels * arch->input_rows * arch->input_columns;
    size_t bad = first_non_finite(images, n * image_size);
    if (bad < n * image_size)
        return error_set(COSNET_ERROR_NOT_FINITE,
                         "training: image %zu, value %zu is %g",
                         first_image + bad / image_size, bad % image_size,
                         (double)images[bad]);
    const size_t rows = target_stride == 0 ? 1 : n;
    for (size_t i = 0; i < rows; i++) {
        const float *target = targets + i * target_stride;
        size_t at = first_non_finite(target, arch->output_dims);
        if (at < arch->output_dims)
            return error_set(COSNET_ERROR_NOT_FINITE,
                             "training: target of image %zu, value %zu is %g",
                             first_image + i, at, (double)target[at]);
    }
    return COSNET_OK;
}

/* One batch of n <= the workspace's capacity. first_image only numbers the
 * images in messages. */
static cosnet_status train_one(training_context *context, cosnet_model *model,
                               cosnet_optimizer *optimizer, const float *images,
                               size_t n, const float *targets,
                               size_t target_stride, size_t first_image,
                               float *loss_out)
{
    cosnet_status status = check_finite_inputs(model, images, n, targets,
                                               target_stride, first_image);
    if (status != COSNET_OK)
        return status;
    const size_t count = model->arch.parameter_count;
    /* Fresh dropout masks for every step, the same for the same history. */
    network_set_dropout_seed(context->workspace, optimizer->steps);
    float loss =
        network_loss_gradient(context->workspace, model->parameters, images, n,
                              targets, target_stride, context->gradient, NULL);
    if (!isfinite(loss))
        return error_set(COSNET_ERROR_NOT_FINITE,
                         "training: the loss of images [%zu, %zu) is %g",
                         first_image, first_image + n, (double)loss);
    size_t bad = first_non_finite(context->gradient, count);
    if (bad < count)
        return error_set(COSNET_ERROR_NOT_FINITE,
                         "training: the gradient of parameter %zu is %g on "
                         "images [%zu, %zu)",
                         bad, (double)context->gradient[bad], first_image,
                         first_image + n);

    /* A finite gradient can still overflow a weight (huge learning rate):
     * keep a snapshot to undo the step, taken by the step kernel as it
     * goes (every variant gives the reference's bits, kernels/adamw.h). */
    const adamw_factors factors = adamw_step_factors(optimizer);
    adamw_snapshot *saved = &context->before_step;
    saved->steps = optimizer->steps;
    context->kernels->adamw_step(
        count, &factors, context->gradient, model->parameters,
        optimizer->first_moment, optimizer->second_moment, saved->memory,
        saved->memory + count, saved->memory + 2 * count);
    optimizer->steps++;
    bad = first_non_finite(model->parameters, count);
    if (bad < count) {
        float value = model->parameters[bad];
        adamw_restore(optimizer, model->parameters, &context->before_step);
        return error_set(COSNET_ERROR_NOT_FINITE,
                         "training: the AdamW step made parameter %zu %g on "
                         "images [%zu, %zu); step undone",
                         bad, (double)value, first_image, first_image + n);
    }
    if (loss_out)
        *loss_out = loss;
    return COSNET_OK;
}

COSNET_API cosnet_status cosnet_train_batch(cosnet_model *model,
                                            cosnet_optimizer *optimizer,
                                            const float *images, size_t n,
                                            const float *targets,
                                            size_t target_stride, float *loss)
{
    cosnet_status status = check_arguments("cosnet_train_batch", model,
                                           optimizer, images, n, targets);
    if (status != COSNET_OK)
        return status;
    training_context *context = NULL;
    status = context_for(model, optimizer, &context);
    if (status != COSNET_OK)
        return status;
    return train_one(context, model, optimizer, images, n, targets,
                     target_stride, 0, loss);
}

COSNET_API cosnet_status cosnet_train_epoch(
    cosnet_model *model, cosnet_optimizer *optimizer, const float *images,
    size_t n, size_t batch_size, const float *targets, size_t target_stride,
    unsigned epoch, cosnet_progress_callback progress, void *user_data,
    float *epoch_loss)
{
    cosnet_status status = check_arguments("cosnet_train_epoch", model,
                                           optimizer, images, n, targets);
    if (status != COSNET_OK)
        return status;
    if (batch_size == 0 || n % batch_size != 0)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_train_epoch: n = %zu is not a multiple of "
                         "batch_size = %zu",
                         n, batch_size);
    training_context *context = NULL;
    status = context_for(model, optimizer, &context);
    if (status != COSNET_OK)
        return status;
    const architecture_description *arch = &model->arch;
    const size_t image_size =
        (size_t)arch->input_channels * arch->input_rows * arch->input_columns;
    const size_t batches = n / batch_size;
    double loss_sum = 0.0;
    for (size_t batch = 0; batch < batches; batch++) {
        /* The article's order: the last slice first. */
        const size_t first = (batches - 1 - batch) * batch_size;
        float loss = 0.0f;
        status = train_one(
            context, model, optimizer, images + first * image_size, batch_size,
            targets + first * target_stride, target_stride, first, &loss);
        if (status != COSNET_OK)
            break;
        loss_sum += loss;
        if (progress && progress(user_data, epoch, batch, loss) != 0) {
            status = error_set(COSNET_ERROR_CANCELLED,
                               "cosnet_train_epoch: cancelled by the progress "
                               "callback after batch %zu of %zu (epoch %u)",
                               batch + 1, batches, epoch);
            break;
        }
    }
    if (status == COSNET_OK && epoch_loss)
        *epoch_loss = (float)(loss_sum * (double)batch_size / (double)n);
    return status;
}
