/* The Winograd F(2x2, 3x3) stages (winograd_template.h) for avx512.
 * AVX-512: 32 zmm registers, so 8 output channels x 3 vectors of 16 tiles (24
 * accumulators), and for the weight gradient 8 output x 3 input channels
 * (24 accumulators, 3 + 1 vectors loaded). */
#include "kernels/simd_avx512.h"

#define WINOGRAD_BLOCK 8
#define WINOGRAD_VECTORS 3
#define WINOGRAD_GRADIENT_INPUTS 3

#include "kernels/winograd_template.h"

/* Winograd from 8 channels on each side and 128 channel pairs on: measured
 * with bench_kernels --only rule (docs/performance.md), where 8 -> 8
 * channels loses to the direct kernels and 8 -> 16 and 16 -> 8 win. The
 * weight gradient by the same rule: on a grid of 8 .. 64 channels at 4 x 4
 * to 28 x 28 (count 8), 8 -> 8 is even and 8 -> 16, 16 -> 8 and up win,
 * by up to 2 times (bench_kernels' d-weights lines for the networks). */
const winograd_microkernels winograd_avx512 =
    WINOGRAD_MICROKERNELS(3 * LANES, 8, 128, 128);
