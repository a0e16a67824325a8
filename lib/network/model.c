/* The model handle: creation (Glorot-uniform), copies, parameters, shape
 * queries and prediction. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/memory.h"
#include "common/error.h"
#include "common/rng.h"
#include "kernels/kernels.h"
#include "network/model_internal.h"
#include "network/passes.h"

size_t first_non_finite(const float *values, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!isfinite(values[i]))
            return i;
    return count;
}

cosnet_status model_allocate(const architecture_description *arch,
                             cosnet_model **out)
{
    cosnet_model *model = memory_allocate(sizeof *model);
    if (!model)
        return error_out_of_memory("model", sizeof *model);
    model->arch = arch;
    model->parameters =
        memory_allocate_zeroed(arch->parameter_count, sizeof(float));
    if (!model->parameters) {
        memory_free(model);
        return error_out_of_memory("model parameters",
                                   arch->parameter_count * sizeof(float));
    }
    *out = model;
    return COSNET_OK;
}

/* Glorot-uniform weights U(-r, r), r = sqrt(6 / (fan_in + fan_out)), drawn
 * stage by stage in OIHW order so that a seed fixes every weight; biases
 * stay zero. */
static void initialise_glorot(cosnet_model *model, uint64_t seed)
{
    const architecture_description *arch = model->arch;
    random_generator generator;
    random_seed(&generator, seed);
    for (int s = 0; s < arch->conv_stage_count; s++) {
        const conv_stage *stage = &arch->conv_stages[s];
        const int cin = stage->shape.in_channels;
        const int cout = stage->shape.out_channels;
        const double fan_in = cin * 9.0, fan_out = cout * 9.0;
        const double bound = sqrt(6.0 / (fan_in + fan_out));
        float *weights = model->parameters + stage->weight_offset;
        const size_t count = (size_t)cout * cin * 9;
        for (size_t i = 0; i < count; i++)
            weights[i] =
                (float)(bound * (2.0 * random_uniform(&generator) - 1.0));
        memset(model->parameters + stage->bias_offset, 0,
               sizeof(float) * (size_t)cout);
    }
}

COSNET_API cosnet_status cosnet_model_create(cosnet_architecture architecture,
                                             uint64_t seed, cosnet_model **out)
{
    if (!out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_model_create: out is NULL");
    const architecture_description *arch = architecture_find(architecture);
    if (!arch)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_model_create: unknown architecture %d",
                         (int)architecture);
    const kernel_table *kernels = NULL;
    cosnet_status status = kernels_active(&kernels);
    if (status != COSNET_OK)
        return status;
    cosnet_model *model = NULL;
    status = model_allocate(arch, &model);
    if (status != COSNET_OK)
        return status;
    initialise_glorot(model, seed);
    *out = model;
    return COSNET_OK;
}

COSNET_API void cosnet_model_free(cosnet_model *model)
{
    if (!model)
        return;
    memory_free(model->parameters);
    memory_free(model);
}

COSNET_API cosnet_status cosnet_model_copy(const cosnet_model *model,
                                           cosnet_model **out)
{
    if (!model || !out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_model_copy: %s is NULL",
                         !model ? "model" : "out");
    cosnet_model *copy = NULL;
    cosnet_status status = model_allocate(model->arch, &copy);
    if (status != COSNET_OK)
        return status;
    memcpy(copy->parameters, model->parameters,
           sizeof(float) * model->arch->parameter_count);
    *out = copy;
    return COSNET_OK;
}

COSNET_API cosnet_architecture
cosnet_model_architecture(const cosnet_model *model)
{
    return model ? model->arch->id : (cosnet_architecture)0;
}

COSNET_API size_t cosnet_model_input_rows(const cosnet_model *model)
{
    return model ? (size_t)model->arch->input_rows : 0;
}

COSNET_API size_t cosnet_model_input_columns(const cosnet_model *model)
{
    return model ? (size_t)model->arch->input_columns : 0;
}

COSNET_API size_t cosnet_model_output_dims(const cosnet_model *model)
{
    return model ? model->arch->output_dims : 0;
}

COSNET_API size_t cosnet_model_parameter_count(const cosnet_model *model)
{
    return model ? model->arch->parameter_count : 0;
}

COSNET_API cosnet_status cosnet_model_get_parameters(const cosnet_model *model,
                                                     float *out, size_t count)
{
    if (!model || !out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_model_get_parameters: %s is NULL",
                         !model ? "model" : "out");
    if (count != model->arch->parameter_count)
        return error_set(COSNET_ERROR_MISMATCH,
                         "cosnet_model_get_parameters: count %zu, but the %s "
                         "model has %zu parameters",
                         count, model->arch->name,
                         model->arch->parameter_count);
    memcpy(out, model->parameters, sizeof(float) * count);
    return COSNET_OK;
}

COSNET_API cosnet_status cosnet_model_set_parameters(cosnet_model *model,
                                                     const float *values,
                                                     size_t count)
{
    if (!model || !values)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_model_set_parameters: %s is NULL",
                         !model ? "model" : "values");
    if (count != model->arch->parameter_count)
        return error_set(COSNET_ERROR_MISMATCH,
                         "cosnet_model_set_parameters: count %zu, but the %s "
                         "model has %zu parameters",
                         count, model->arch->name,
                         model->arch->parameter_count);
    size_t bad = first_non_finite(values, count);
    if (bad < count)
        return error_set(COSNET_ERROR_NOT_FINITE,
                         "cosnet_model_set_parameters: parameter %zu is %g",
                         bad, (double)values[bad]);
    memcpy(model->parameters, values, sizeof(float) * count);
    return COSNET_OK;
}

COSNET_API cosnet_status cosnet_model_predict(const cosnet_model *model,
                                              const float *images, size_t count,
                                              float *outputs)
{
    if (!model || !images || !outputs)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_model_predict: %s is NULL",
                         !model    ? "model"
                         : !images ? "images"
                                   : "outputs");
    const kernel_table *kernels = NULL;
    cosnet_status status = kernels_active(&kernels);
    if (status != COSNET_OK || count == 0)
        return status;
    forward_workspace *workspace = NULL;
    status = forward_workspace_create(model->arch, &workspace);
    if (status != COSNET_OK)
        return status;
    network_forward(kernels, workspace, model->parameters, images, count,
                    outputs);
    forward_workspace_free(workspace);
    return COSNET_OK;
}

COSNET_API cosnet_status cosnet_model_predict_dataset(
    const cosnet_model *model, const cosnet_dataset *dataset, size_t first,
    size_t count, float *outputs)
{
    if (!model || !dataset || !outputs)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_model_predict_dataset: %s is NULL",
                         !model     ? "model"
                         : !dataset ? "dataset"
                                    : "outputs");
    const architecture_description *arch = model->arch;
    const size_t rows = cosnet_dataset_rows(dataset);
    const size_t columns = cosnet_dataset_columns(dataset);
    if (arch->input_channels != 1 || rows != (size_t)arch->input_rows ||
        columns != (size_t)arch->input_columns)
        return error_set(COSNET_ERROR_MISMATCH,
                         "cosnet_model_predict_dataset: dataset images are "
                         "%zux%zu, the %s model takes %dx%dx%d",
                         rows, columns, arch->name, arch->input_channels,
                         arch->input_rows, arch->input_columns);
    const size_t available = cosnet_dataset_count(dataset);
    if (first > available || count > available - first)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_model_predict_dataset: images [%zu, %zu + "
                         "%zu) past the end of a dataset of %zu",
                         first, first, count, available);
    const kernel_table *kernels = NULL;
    cosnet_status status = kernels_active(&kernels);
    if (status != COSNET_OK || count == 0)
        return status;
    forward_workspace *workspace = NULL;
    status = forward_workspace_create(arch, &workspace);
    if (status != COSNET_OK)
        return status;
    /* Converted a chunk at a time, so the floats are still in cache when
     * the first stage reads them. */
    const size_t image_size = rows * columns;
    float *staging =
        memory_allocate(sizeof(float) * NETWORK_PREDICT_CHUNK * image_size);
    if (!staging) {
        forward_workspace_free(workspace);
        return error_out_of_memory("prediction staging",
                                   sizeof(float) * NETWORK_PREDICT_CHUNK *
                                       image_size);
    }
    for (size_t done = 0; done < count; done += NETWORK_PREDICT_CHUNK) {
        size_t chunk = count - done < NETWORK_PREDICT_CHUNK
                           ? count - done
                           : NETWORK_PREDICT_CHUNK;
        status = cosnet_dataset_to_float(dataset, first + done, chunk, staging);
        if (status != COSNET_OK)
            break;
        network_forward(kernels, workspace, model->parameters, staging, chunk,
                        outputs + done * arch->output_dims);
    }
    memory_free(staging);
    forward_workspace_free(workspace);
    return status;
}
