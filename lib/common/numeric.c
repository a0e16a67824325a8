/* Small numeric helpers (see numeric.h). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/numeric.h"

/* Blocks of values are tested without a branch per value, which the
 * compiler turns into vector code (the trainer tests every gradient and
 * parameter each step: the value-by-value loop was 1.4% of an epoch); only
 * a block that holds one is searched. A float is NaN or infinite when its
 * exponent bits are all ones, and then adding one to the exponent carries
 * into the sign bit. */
#define FINITE_BLOCK 64

size_t first_non_finite(const float *values, size_t count)
{
    size_t first = 0;
    for (; first + FINITE_BLOCK <= count; first += FINITE_BLOCK) {
        uint32_t carries = 0;
        for (size_t i = first; i < first + FINITE_BLOCK; i++) {
            uint32_t bits;
            memcpy(&bits, &values[i], sizeof bits);
            carries |= (bits & 0x7f800000u) + 0x00800000u;
        }
        if (carries & 0x80000000u)
            break;
    }
    for (; first < count; first++)
        if (!isfinite(values[first]))
            return first;
    return count;
}

size_t argmax_lowest(const float *scores, size_t count)
{
    size_t best = 0;
    for (size_t k = 1; k < count; k++)
        if (scores[k] > scores[best])
            best = k; /* strict: ties stay at the lowest index */
    return best;
}
