/* Internal: the AdamW step as a kernel (docs/math.md).
 *
 * The update is computed in double and each stored value rounded to float
 * once, exactly as the reference writes it. Square root and division are
 * correctly rounded in every width and the ISA files are compiled without
 * contracting multiply-adds into FMAs, so every variant gives the same bits
 * as the reference: a model trains to the same parameters on any CPU. */
#ifndef COSNET_KERNELS_ADAMW_H
#define COSNET_KERNELS_ADAMW_H

#include <math.h>
#include <stddef.h>

/* What one step's update of every parameter shares: the rates and the
 * reciprocals of the bias corrections 1 - beta^t of step t. */
typedef struct adamw_factors {
    double beta1, beta2, learning_rate, weight_decay, epsilon;
    double inverse_correction1, inverse_correction2;
} adamw_factors;

/* For k < n:
 *   m[k] = beta1 m[k] + (1 - beta1) g[k]
 *   v[k] = beta2 v[k] + (1 - beta2) g[k] g[k]
 *   p[k] = p[k] - rate (m[k] c1 / (sqrt(v[k] c2) + epsilon) + decay p[k])
 * with c1, c2 the inverse corrections and every right-hand side the old
 * value. If saved_parameters is not NULL, the old p, m and v are first
 * copied to saved_parameters, saved_first and saved_second (n floats
 * each), for an undo. */
typedef void (*adamw_step_kernel)(size_t n, const adamw_factors *factors,
                                  const float *gradient, float *parameters,
                                  float *first_moment, float *second_moment,
                                  float *saved_parameters, float *saved_first,
                                  float *saved_second);

void adamw_step_scalar(size_t, const adamw_factors *, const float *, float *,
                       float *, float *, float *, float *, float *);
void adamw_step_avx2(size_t, const adamw_factors *, const float *, float *,
                     float *, float *, float *, float *, float *);
void adamw_step_avx512(size_t, const adamw_factors *, const float *, float *,
                       float *, float *, float *, float *, float *);

/* One parameter, the reference's arithmetic: the scalar kernel and the
 * SIMD kernels' tails. */
static inline void adamw_update_one(const adamw_factors *f, size_t k,
                                    const float *gradient, float *parameters,
                                    float *first_moment, float *second_moment)
{
    const double g = gradient[k], w = parameters[k];
    const double first = f->beta1 * first_moment[k] + (1.0 - f->beta1) * g;
    const double second =
        f->beta2 * second_moment[k] + (1.0 - f->beta2) * g * g;
    const double first_hat = first * f->inverse_correction1;
    const double second_hat = second * f->inverse_correction2;
    const double update =
        first_hat / (sqrt(second_hat) + f->epsilon) + f->weight_decay * w;
    first_moment[k] = (float)first;
    second_moment[k] = (float)second;
    parameters[k] = (float)(w - f->learning_rate * update);
}

#endif
