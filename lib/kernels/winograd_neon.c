/* The Winograd F(2x2, 3x3) stages (winograd_template.h) for neon.
 * NEON: 32 q registers, so 8 output channels x 3 vectors of 4 tiles (24
 * accumulators). */
#include "kernels/simd_neon.h"

#define WINOGRAD_BLOCK 8
#define WINOGRAD_VECTORS 3

#include "kernels/winograd_template.h"

const winograd_microkernels winograd_neon = WINOGRAD_MICROKERNELS(6 * LANES, 8);
