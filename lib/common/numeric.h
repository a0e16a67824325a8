/* Internal: small numeric helpers shared by the model, training and
 * evaluation code. */
#ifndef COSNET_COMMON_NUMERIC_H
#define COSNET_COMMON_NUMERIC_H

#include <stddef.h>

/* The index of the first NaN/infinite value among count, or count if all
 * are finite. */
size_t first_non_finite(const float *values, size_t count);

/* The index of the largest of count scores; ties go to the lowest index
 * (and a NaN never wins over an earlier number). count >= 1. */
size_t argmax_lowest(const float *scores, size_t count);

#endif
