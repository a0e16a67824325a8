/* The softmax cross-entropy of scaled cosines, the trainer's alternative
 * to the cosine loss of docs/math.md (COSNET_TRAINER_SOFTMAX_SCALE). The cosine
 * loss pulls f(x) towards its own label vector only; this one also pushes it
 * away from the others, most from the closest (the normalised-softmax
 * losses of face recognition), which is what classifying by the closest
 * label vector asks for. */
#ifndef COSNET_KERNELS_SOFTMAX_COSINE_H
#define COSNET_KERNELS_SOFTMAX_COSINE_H

#include <stddef.h>
#include <stdint.h>

/* Row i of a (count x dims) is scored against every label vector (rows of
 * labels, label_count x dims) by z_k = scale * cos(a_i, v_k), the cosine
 * clamped as in the cosine loss (|a||v| at least COSINE_EPSILON), and
 * L = (1/count) sum_i -log(exp(z_c) / sum_k exp(z_k)), c = classes[i] <
 * label_count. Returns L; grad_a (count x dims, may be NULL) receives
 * dL/da. Scalar C on every instruction set: about 8 label_count dims
 * multiply-adds per image, a few thousand against the networks' millions,
 * so a vector version would not show in a profile. */
float softmax_cosine_loss(size_t count, size_t dims, const float *a,
                          const float *labels, size_t label_count,
                          const uint32_t *classes, float scale, float *grad_a);

#endif
