/* One model as a classifier (see classify.h) and its public entry point. */
#include <string.h>

#include "common/error.h"
#include "common/memory.h"
#include "common/numeric.h"
#include "eval/classify.h"
#include "kernels/kernels.h"
#include "network/model_internal.h"

cosnet_status classify_scratch_create(size_t chunk, size_t classes, size_t dims,
                                      classify_scratch *scratch)
{
    scratch->chunk = chunk;
    scratch->outputs = memory_allocate_zeroed(chunk * dims, sizeof(float));
    scratch->similarities =
        memory_allocate_zeroed(chunk * classes, sizeof(float));
    if (!scratch->outputs || !scratch->similarities) {
        classify_scratch_free(scratch);
        return error_out_of_memory("classification scratch",
                                   chunk * (dims + classes) * sizeof(float));
    }
    return COSNET_OK;
}

void classify_scratch_free(classify_scratch *scratch)
{
    memory_free(scratch->outputs);
    memory_free(scratch->similarities);
    scratch->outputs = scratch->similarities = NULL;
}

size_t classify_images(network_workspace *workspace,
                       const kernel_table *kernels, const float *parameters,
                       const cosnet_labels *labels, const float *images,
                       size_t n, classify_scratch *scratch, size_t *classes,
                       float *similarities, size_t *runner_up,
                       float *runner_up_similarities)
{
    const size_t count = cosnet_labels_count(labels);
    const size_t dims = cosnet_labels_dims(labels);
    network_forward(workspace, parameters, images, n, scratch->outputs);
    const size_t bad = first_non_finite(scratch->outputs, n * dims);
    if (bad < n * dims)
        return bad / dims;
    for (size_t k = 0; k < count; k++)
        kernels->cosine_similarity(n, dims, scratch->outputs,
                                   cosnet_labels_vector(labels, k), 0,
                                   scratch->similarities + k * scratch->chunk);
    for (size_t i = 0; i < n; i++) {
        /* Strict comparisons: ties stay at the lowest index. */
        size_t best = 0, second = count > 1 ? 1 : 0;
        const float *s = scratch->similarities + i;
        const size_t stride = scratch->chunk;
        if (count > 1 && s[stride] > s[0])
            best = 1, second = 0;
        for (size_t k = 2; k < count; k++) {
            if (s[k * stride] > s[best * stride])
                second = best, best = k;
            else if (s[k * stride] > s[second * stride])
                second = k;
        }
        if (classes)
            classes[i] = best;
        if (similarities)
            similarities[i] = s[best * stride];
        if (runner_up)
            runner_up[i] = second;
        if (runner_up_similarities)
            runner_up_similarities[i] = s[second * stride];
    }
    return bad / dims;
}

COSNET_API cosnet_status cosnet_classify(const cosnet_model *model,
                                         const cosnet_labels *labels,
                                         const float *images, size_t count,
                                         size_t *classes, float *similarities,
                                         size_t *runner_up,
                                         float *runner_up_similarities)
{
    if (!model || !labels || !images || !classes)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_classify: %s is NULL",
                         !model    ? "model"
                         : !labels ? "labels"
                         : !images ? "images"
                                   : "classes");
    const size_t dims = cosnet_labels_dims(labels);
    if (dims != model->arch.output_dims)
        return error_set(COSNET_ERROR_MISMATCH,
                         "cosnet_classify: the model has %zu outputs but the "
                         "label vectors have %zu dimensions",
                         model->arch.output_dims, dims);
    const kernel_table *kernels = NULL;
    cosnet_status status = kernels_active(&kernels);
    if (status != COSNET_OK || count == 0)
        return status;
    const size_t chunk = 256;
    network_workspace *workspace = NULL;
    status = network_workspace_create(&model->arch, kernels, 0, &workspace);
    if (status != COSNET_OK)
        return status;
    classify_scratch scratch;
    status = classify_scratch_create(chunk, cosnet_labels_count(labels), dims,
                                     &scratch);
    if (status != COSNET_OK) {
        network_workspace_free(workspace);
        return status;
    }
    const size_t image = architecture_input_size(&model->arch);
    status = model_check_images("cosnet_classify", images, count, image);
    for (size_t done = 0; status == COSNET_OK && done < count; done += chunk) {
        size_t n = count - done < chunk ? count - done : chunk;
        size_t bad = classify_images(
            workspace, kernels, model->parameters, labels,
            images + done * image, n, &scratch, classes + done,
            similarities ? similarities + done : NULL,
            runner_up ? runner_up + done : NULL,
            runner_up_similarities ? runner_up_similarities + done : NULL);
        if (bad < n) {
            status = error_set(COSNET_ERROR_NOT_FINITE,
                               "cosnet_classify: the network output of image "
                               "%zu is not finite",
                               done + bad);
            break;
        }
    }
    classify_scratch_free(&scratch);
    network_workspace_free(workspace);
    return status;
}
