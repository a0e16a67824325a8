/* The Winograd F(2x2, 3x3) stages (winograd_template.h) for avx2.
 * AVX2: 16 ymm registers, so 4 output channels x 3 vectors of 8 tiles (12
 * accumulators). */
#include "kernels/simd_avx2.h"

#define WINOGRAD_BLOCK 4
#define WINOGRAD_VECTORS 3

#include "kernels/winograd_template.h"

const winograd_microkernels winograd_avx2 = WINOGRAD_MICROKERNELS(3 * LANES, 8);
