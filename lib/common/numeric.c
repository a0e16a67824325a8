/* Small numeric helpers (see numeric.h). */
#include <math.h>

#include "common/numeric.h"

size_t first_non_finite(const float *values, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!isfinite(values[i]))
            return i;
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
