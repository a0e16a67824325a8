/* The model handle: creation (Glorot-uniform), copies, parameters, shape
 * queries and prediction. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/memory.h"
#include "common/error.h"
#include "common/numeric.h"
#include "common/rng.h"
#include "kernels/kernels.h"
#include "network/layer_text.h"
#include "network/model_internal.h"
#include "network/passes.h"

cosnet_status model_allocate(const architecture_description *arch,
                             cosnet_model **out)
{
    cosnet_model *model = memory_allocate(sizeof *model);
    if (!model)
        return error_out_of_memory("model", sizeof *model);
    model->arch = *arch;
    layer_text_format(arch->specs, arch->spec_count, model->layers_text,
                      sizeof model->layers_text);
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

void model_initialise_glorot(cosnet_model *model, uint64_t seed)
{
    const architecture_description *arch = &model->arch;
    random_generator generator;
    random_seed(&generator, seed);
    for (int l = 0; l < arch->layer_count; l++) {
        const network_layer *layer = &arch->layers[l];
        if (layer->weight_count == 0)
            continue;
        const int conv = layer->kind == LAYER_CONV3X3;
        const double fan_in = (double)layer->in_channels * (conv ? 9 : 1);
        const double fan_out = (double)layer->out_channels * (conv ? 9 : 1);
        const double bound = sqrt(6.0 / (fan_in + fan_out));
        float *weights = model->parameters + layer->weight_offset;
        for (size_t i = 0; i < layer->weight_count; i++)
            weights[i] =
                (float)(bound * (2.0 * random_uniform(&generator) - 1.0));
        memset(model->parameters + layer->bias_offset, 0,
               sizeof(float) * (size_t)layer->out_channels);
    }
}

/* A model of `arch` with Glorot weights from `seed`, once the kernels are
 * known to be usable (every computing entry point fails alike otherwise). */
static cosnet_status create_initialised(const architecture_description *arch,
                                        uint64_t seed, cosnet_model **out)
{
    const kernel_table *kernels = NULL;
    cosnet_status status = kernels_active(&kernels);
    if (status != COSNET_OK)
        return status;
    cosnet_model *model = NULL;
    status = model_allocate(arch, &model);
    if (status != COSNET_OK)
        return status;
    model_initialise_glorot(model, seed);
    *out = model;
    return COSNET_OK;
}

COSNET_API cosnet_status cosnet_model_create(cosnet_architecture architecture,
                                             uint64_t seed, cosnet_model **out)
{
    if (!out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_model_create: out is NULL");
    architecture_description arch;
    if (architecture_find(architecture, &arch) != COSNET_OK)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_model_create: unknown architecture %d",
                         (int)architecture);
    return create_initialised(&arch, seed, out);
}

COSNET_API cosnet_status cosnet_model_create_layers(const char *layers,
                                                    size_t channels,
                                                    size_t rows, size_t columns,
                                                    uint64_t seed,
                                                    cosnet_model **out)
{
    if (!layers || !out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_model_create_layers: %s is NULL",
                         !layers ? "layers" : "out");
    if (channels < 1 || channels > ARCHITECTURE_MAX_CHANNELS || rows < 1 ||
        rows > ARCHITECTURE_MAX_SIDE || columns < 1 ||
        columns > ARCHITECTURE_MAX_SIDE)
        return error_set(COSNET_ERROR_BAD_FORMAT,
                         "cosnet_model_create_layers: input %zux%zux%zu "
                         "outside 1..%d channels and 1..%d pixels a side",
                         channels, rows, columns, ARCHITECTURE_MAX_CHANNELS,
                         ARCHITECTURE_MAX_SIDE);
    layer_spec specs[ARCHITECTURE_MAX_LAYERS];
    size_t count = 0;
    cosnet_status status = layer_text_parse(layers, specs, &count);
    if (status != COSNET_OK)
        return status;
    architecture_description arch;
    status = architecture_build((cosnet_architecture)0, "custom", (int)channels,
                                (int)rows, (int)columns, specs, count, &arch);
    if (status != COSNET_OK)
        return status;
    return create_initialised(&arch, seed, out);
}

COSNET_API const char *cosnet_model_layers(const cosnet_model *model)
{
    return model ? model->layers_text : "";
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
    cosnet_status status = model_allocate(&model->arch, &copy);
    if (status != COSNET_OK)
        return status;
    memcpy(copy->parameters, model->parameters,
           sizeof(float) * model->arch.parameter_count);
    *out = copy;
    return COSNET_OK;
}

COSNET_API cosnet_architecture
cosnet_model_architecture(const cosnet_model *model)
{
    return model ? model->arch.id : (cosnet_architecture)0;
}

COSNET_API size_t cosnet_model_input_channels(const cosnet_model *model)
{
    return model ? (size_t)model->arch.input_channels : 0;
}

COSNET_API size_t cosnet_model_input_rows(const cosnet_model *model)
{
    return model ? (size_t)model->arch.input_rows : 0;
}

COSNET_API size_t cosnet_model_input_columns(const cosnet_model *model)
{
    return model ? (size_t)model->arch.input_columns : 0;
}

COSNET_API size_t cosnet_model_output_dims(const cosnet_model *model)
{
    return model ? model->arch.output_dims : 0;
}

COSNET_API size_t cosnet_model_parameter_count(const cosnet_model *model)
{
    return model ? model->arch.parameter_count : 0;
}

COSNET_API cosnet_status cosnet_model_get_parameters(const cosnet_model *model,
                                                     float *out, size_t count)
{
    if (!model || !out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_model_get_parameters: %s is NULL",
                         !model ? "model" : "out");
    if (count != model->arch.parameter_count)
        return error_set(COSNET_ERROR_MISMATCH,
                         "cosnet_model_get_parameters: count %zu, but the %s "
                         "model has %zu parameters",
                         count, model->arch.name, model->arch.parameter_count);
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
    if (count != model->arch.parameter_count)
        return error_set(COSNET_ERROR_MISMATCH,
                         "cosnet_model_set_parameters: count %zu, but the %s "
                         "model has %zu parameters",
                         count, model->arch.name, model->arch.parameter_count);
    size_t bad = first_non_finite(values, count);
    if (bad < count)
        return error_set(COSNET_ERROR_NOT_FINITE,
                         "cosnet_model_set_parameters: parameter %zu is %g",
                         bad, (double)values[bad]);
    memcpy(model->parameters, values, sizeof(float) * count);
    return COSNET_OK;
}

/* Non-finite outputs are a failure, not a result: huge finite weights can
 * overflow to infinity. */
static cosnet_status check_outputs(const char *function, const float *outputs,
                                   size_t count, size_t dims)
{
    size_t bad = first_non_finite(outputs, count * dims);
    if (bad == count * dims)
        return COSNET_OK;
    return error_set(COSNET_ERROR_NOT_FINITE,
                     "%s: output %zu of image %zu is %g (the parameters "
                     "overflow float arithmetic)",
                     function, bad % dims, bad / dims, (double)outputs[bad]);
}

cosnet_status model_check_images(const char *function, const float *images,
                                 size_t count, size_t image_size)
{
    const size_t bad = first_non_finite(images, count * image_size);
    if (bad == count * image_size)
        return COSNET_OK;
    return error_set(COSNET_ERROR_NOT_FINITE,
                     "%s: input %zu of image %zu is %g", function,
                     bad % image_size, bad / image_size, (double)images[bad]);
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
    status = model_check_images("cosnet_model_predict", images, count,
                                architecture_input_size(&model->arch));
    if (status != COSNET_OK)
        return status;
    network_workspace *workspace = NULL;
    status = network_workspace_create(&model->arch, kernels, 0, &workspace);
    if (status != COSNET_OK)
        return status;
    network_forward(workspace, model->parameters, images, count, outputs);
    network_workspace_free(workspace);
    return check_outputs("cosnet_model_predict", outputs, count,
                         model->arch.output_dims);
}

cosnet_status model_check_dataset(const char *function,
                                  const architecture_description *arch,
                                  const cosnet_dataset *dataset)
{
    const size_t rows = cosnet_dataset_rows(dataset);
    const size_t columns = cosnet_dataset_columns(dataset);
    if (arch->input_channels != 1 || rows != (size_t)arch->input_rows ||
        columns != (size_t)arch->input_columns)
        return error_set(COSNET_ERROR_MISMATCH,
                         "%s: dataset images are %zux%zu, the %s model takes "
                         "%dx%dx%d",
                         function, rows, columns, arch->name,
                         arch->input_channels, arch->input_rows,
                         arch->input_columns);
    return COSNET_OK;
}

void model_convert_images(const kernel_table *kernels,
                          const cosnet_dataset *dataset, size_t first,
                          size_t count, float *out)
{
    const size_t size =
        cosnet_dataset_rows(dataset) * cosnet_dataset_columns(dataset);
    for (size_t i = 0; i < count; i++)
        kernels->pixels_to_float(size, cosnet_dataset_image(dataset, first + i),
                                 out + i * size);
}

size_t model_input_floats(const architecture_description *arch)
{
    const conv_shape *shape = network_padded_input(arch);
    if (!shape)
        return architecture_input_size(arch);
    return (size_t)shape->in_channels * conv_padded_height(shape) *
           conv_padded_width(shape);
}

int model_same_input_layout(const architecture_description *a,
                            const architecture_description *b)
{
    const conv_shape *x = network_padded_input(a), *y = network_padded_input(b);
    if (!x || !y)
        return !x && !y &&
               architecture_input_size(a) == architecture_input_size(b);
    return x->in_channels == y->in_channels && x->in_height == y->in_height &&
           x->in_width == y->in_width && x->pad == y->pad;
}

void model_convert_input(const kernel_table *kernels,
                         const architecture_description *arch,
                         const cosnet_dataset *dataset, size_t first,
                         size_t count, float *out)
{
    const conv_shape *shape = network_padded_input(arch);
    if (!shape) {
        model_convert_images(kernels, dataset, first, count, out);
        return;
    }
    /* Row by row into the interior of each channel plane. */
    const size_t columns = (size_t)shape->in_width;
    const size_t rows = (size_t)shape->in_channels * shape->in_height;
    const size_t padded_width = (size_t)conv_padded_width(shape);
    const size_t plane = padded_width * conv_padded_height(shape);
    const size_t image_floats = (size_t)shape->in_channels * plane;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *pixels = cosnet_dataset_image(dataset, first + i);
        float *image = out + i * image_floats +
                       (size_t)shape->pad * padded_width + shape->pad;
        for (size_t r = 0; r < rows; r++) {
            const size_t channel = r / shape->in_height,
                         row = r % shape->in_height;
            kernels->pixels_to_float(columns, pixels + r * columns,
                                     image + channel * plane +
                                         row * padded_width);
        }
    }
}

void model_forward_input(network_workspace *workspace,
                         const architecture_description *arch,
                         const float *parameters, const float *input,
                         const uint8_t *spans, size_t count, float *outputs)
{
    if (network_padded_input(arch))
        network_forward_padded(workspace, parameters, input, spans, count,
                               outputs);
    else
        network_forward(workspace, parameters, input, count, outputs);
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
    const architecture_description *arch = &model->arch;
    cosnet_status status =
        model_check_dataset("cosnet_model_predict_dataset", arch, dataset);
    if (status != COSNET_OK)
        return status;
    const size_t available = cosnet_dataset_count(dataset);
    if (first > available || count > available - first)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_model_predict_dataset: images [%zu, %zu + "
                         "%zu) past the end of a dataset of %zu",
                         first, first, count, available);
    const kernel_table *kernels = NULL;
    status = kernels_active(&kernels);
    if (status != COSNET_OK || count == 0)
        return status;
    network_workspace *workspace = NULL;
    status = network_workspace_create(arch, kernels, 0, &workspace);
    if (status != COSNET_OK)
        return status;
    /* Converted a chunk at a time, so the floats are still in cache when
     * the first layer reads them. */
    const size_t image_size = model_input_floats(arch);
    const size_t chunk = arch->chunk;
    float *staging = memory_allocate_zeroed(chunk * image_size, sizeof(float));
    if (!staging) {
        network_workspace_free(workspace);
        return error_out_of_memory("prediction staging",
                                   sizeof(float) * chunk * image_size);
    }
    for (size_t done = 0; done < count; done += chunk) {
        size_t n = count - done < chunk ? count - done : chunk;
        model_convert_input(kernels, arch, dataset, first + done, n, staging);
        model_forward_input(workspace, arch, model->parameters, staging, NULL,
                            n, outputs + done * arch->output_dims);
    }
    memory_free(staging);
    network_workspace_free(workspace);
    return check_outputs("cosnet_model_predict_dataset", outputs, count,
                         arch->output_dims);
}
