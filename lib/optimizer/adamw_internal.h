/* Internal: the AdamW optimiser's state, for the training code. */
#ifndef COSNET_OPTIMIZER_ADAMW_INTERNAL_H
#define COSNET_OPTIMIZER_ADAMW_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cosnet.h"

struct cosnet_optimizer {
    size_t parameter_count;
    double learning_rate, weight_decay, beta1, beta2, epsilon;
    uint64_t steps;       /* steps taken; the next one is t = steps + 1 */
    float *first_moment;  /* m, parameter_count floats */
    float *second_moment; /* v, parameter_count floats */
};

/* One AdamW step (SPEC section 2) on parameter_count parameters with their
 * gradient; advances the step counter. No validation: the caller checks
 * the sizes and that the gradient is finite. */
void adamw_step(cosnet_optimizer *optimizer, float *parameters,
                const float *gradient);

#endif
