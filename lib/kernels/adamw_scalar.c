/* The AdamW step's reference (kernels/adamw.h). */
#include <string.h>

#include "kernels/adamw.h"

void adamw_step_scalar(size_t n, const adamw_factors *factors,
                       const float *gradient, float *parameters,
                       float *first_moment, float *second_moment,
                       float *saved_parameters, float *saved_first,
                       float *saved_second)
{
    if (saved_parameters) {
        memcpy(saved_parameters, parameters, n * sizeof(float));
        memcpy(saved_first, first_moment, n * sizeof(float));
        memcpy(saved_second, second_moment, n * sizeof(float));
    }
    for (size_t k = 0; k < n; k++)
        adamw_update_one(factors, k, gradient, parameters, first_moment,
                         second_moment);
}
