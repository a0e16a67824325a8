/* The Winograd F(2x2, 3x3) stages (winograd_template.h) for neon.
 * NEON: 32 q registers, so 8 output channels x 3 vectors of 4 tiles (24
 * accumulators), and for the weight gradient 8 output x 3 input channels
 * (24 accumulators). */
#include "kernels/simd_neon.h"

#define WINOGRAD_BLOCK 8
#define WINOGRAD_VECTORS 3
#define WINOGRAD_GRADIENT_INPUTS 3

#include "kernels/winograd_template.h"

/* The rule of the x86 variants (bench_kernels' "rule" lines there: 8 -> 8
 * channels loses, 8 -> 16 and 16 -> 8 win); not measured on NEON hardware
 * (the arm64 build runs under qemu, which cannot time it). */
const winograd_microkernels winograd_neon =
    WINOGRAD_MICROKERNELS(6 * LANES, 8, 128, 128);
