/* Pixel conversion, 0..255 to [0, 1]. Only a reference exists: the
 * compiler vectorises it well enough next to the network's work, and it
 * shows that an op with no ISA version is dispatched like any other. */
#include "kernels/kernels.h"

void pixels_to_float_scalar(size_t n, const uint8_t *pixels, float *out)
{
    for (size_t k = 0; k < n; k++)
        out[k] = (float)pixels[k] / 255.0f;
}
