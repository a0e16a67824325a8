/* Internal: one model used as a classifier, predict(x) = argmax_k
 * cos(f(x), v_k) over the label set (ties to the lowest k). */
#ifndef COSNET_EVAL_CLASSIFY_H
#define COSNET_EVAL_CLASSIFY_H

#include <stddef.h>

#include "cosnet.h"
#include "network/passes.h"

/* Scratch for classifying up to `chunk` images with `classes` labels of
 * `dims` dimensions: the outputs and one similarity row per class. */
typedef struct classify_scratch {
    float *outputs;      /* chunk x dims */
    float *similarities; /* classes x chunk */
    size_t chunk;
} classify_scratch;

cosnet_status classify_scratch_create(size_t chunk, size_t classes, size_t dims,
                                      classify_scratch *scratch);
void classify_scratch_free(classify_scratch *scratch);

/* Classifies n <= scratch->chunk images (floats): for each image the best
 * class and its similarity, and the runner-up and its similarity (any
 * output may be NULL; with one class the runner-up is that class).
 * Returns the first image whose network output is not finite, or n. */
size_t classify_images(network_workspace *workspace,
                       const kernel_table *kernels, const float *parameters,
                       const cosnet_labels *labels, const float *images,
                       size_t n, classify_scratch *scratch, size_t *classes,
                       float *similarities, size_t *runner_up,
                       float *runner_up_similarities);

#endif
