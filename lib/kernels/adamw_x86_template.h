/* The AdamW step over x86 vectors of doubles (kernels/adamw.h), written
 * once for both widths. The including file defines:
 *   ADAMW_LANES            doubles per vector (4 or 8)
 *   adamw_vector           the vector type (__m256d or __m512d)
 *   ADAMW_SET1(x)          broadcast
 *   ADAMW_LOAD(p)          ADAMW_LANES floats at p, widened to double
 *   ADAMW_STORE(p, v)      v rounded to float, stored at p
 *   ADAMW_ADD/SUB/MUL/DIV(a, b), ADAMW_SQRT(a)
 *   ADAMW_NAME             the function's name
 * Each line mirrors one line of adamw_update_one, in the same order of
 * operations, and the file is compiled with -ffp-contract=off: the bits
 * are the reference's. The last n % ADAMW_LANES parameters take the
 * reference's own code. */
#include <string.h>

#include "kernels/adamw.h"

void ADAMW_NAME(size_t n, const adamw_factors *f, const float *gradient,
                float *parameters, float *first_moment, float *second_moment,
                float *saved_parameters, float *saved_first,
                float *saved_second)
{
    const adamw_vector beta1 = ADAMW_SET1(f->beta1),
                       beta2 = ADAMW_SET1(f->beta2),
                       one_minus_beta1 = ADAMW_SET1(1.0 - f->beta1),
                       one_minus_beta2 = ADAMW_SET1(1.0 - f->beta2),
                       inverse1 = ADAMW_SET1(f->inverse_correction1),
                       inverse2 = ADAMW_SET1(f->inverse_correction2),
                       epsilon = ADAMW_SET1(f->epsilon),
                       decay = ADAMW_SET1(f->weight_decay),
                       rate = ADAMW_SET1(f->learning_rate);
    const size_t whole = n - n % ADAMW_LANES;
    for (size_t k = 0; k < whole; k += ADAMW_LANES) {
        if (saved_parameters) {
            memcpy(saved_parameters + k, parameters + k,
                   ADAMW_LANES * sizeof(float));
            memcpy(saved_first + k, first_moment + k,
                   ADAMW_LANES * sizeof(float));
            memcpy(saved_second + k, second_moment + k,
                   ADAMW_LANES * sizeof(float));
        }
        const adamw_vector g = ADAMW_LOAD(gradient + k),
                           w = ADAMW_LOAD(parameters + k);
        const adamw_vector first =
            ADAMW_ADD(ADAMW_MUL(beta1, ADAMW_LOAD(first_moment + k)),
                      ADAMW_MUL(one_minus_beta1, g));
        /* (1 - beta2) * g * g: left to right, as C evaluates it. */
        const adamw_vector second =
            ADAMW_ADD(ADAMW_MUL(beta2, ADAMW_LOAD(second_moment + k)),
                      ADAMW_MUL(ADAMW_MUL(one_minus_beta2, g), g));
        const adamw_vector first_hat = ADAMW_MUL(first, inverse1);
        const adamw_vector second_hat = ADAMW_MUL(second, inverse2);
        const adamw_vector update = ADAMW_ADD(
            ADAMW_DIV(first_hat, ADAMW_ADD(ADAMW_SQRT(second_hat), epsilon)),
            ADAMW_MUL(decay, w));
        ADAMW_STORE(first_moment + k, first);
        ADAMW_STORE(second_moment + k, second);
        ADAMW_STORE(parameters + k, ADAMW_SUB(w, ADAMW_MUL(rate, update)));
    }
    if (saved_parameters && whole < n) {
        memcpy(saved_parameters + whole, parameters + whole,
               (n - whole) * sizeof(float));
        memcpy(saved_first + whole, first_moment + whole,
               (n - whole) * sizeof(float));
        memcpy(saved_second + whole, second_moment + whole,
               (n - whole) * sizeof(float));
    }
    for (size_t k = whole; k < n; k++)
        adamw_update_one(f, k, gradient, parameters, first_moment,
                         second_moment);
}
