/* The Winograd F(2x2, 3x3) stages (winograd_template.h) for avx2.
 * AVX2: 16 ymm registers, so 4 output channels x 3 vectors of 8 tiles (12
 * accumulators), and for the weight gradient 4 output x 2 input channels
 * (8 accumulators, 2 + 1 vectors loaded). */
#include "kernels/simd_avx2.h"

#define WINOGRAD_BLOCK 4
#define WINOGRAD_VECTORS 3
#define WINOGRAD_GRADIENT_INPUTS 2

#include "kernels/winograd_template.h"

/* Winograd from 8 channels on each side and 128 channel pairs on: measured
 * with bench_kernels --only rule (docs/performance.md), where 8 -> 8
 * channels loses to the direct kernels and 8 -> 16 and 16 -> 8 win. The
 * weight gradient from 512 channel pairs: at 14 x 14, pad 1 (7 tiles a
 * row, 7 of 8 lanes) 8 -> 16, 16 -> 16 and 8 -> 32 lose by 10 to 30% (count
 * 8), 32 -> 16 and 16 -> 32 and up win by 1.2 to 1.8 times. */
const winograd_microkernels winograd_avx2 =
    WINOGRAD_MICROKERNELS(3 * LANES, 8, 128, 512);
