/* AVX2+FMA dense kernels: the register tiles of dense_driver.h at 8 lanes,
 * within 16 ymm registers.
 *
 * Forward (dot tiles): 4 images x 3 outputs, 12 accumulators (batches are
 * mostly multiples of 4); each step loads 4 input vectors and 3 weight
 * vectors for 12 FMAs, the in_features
 * tail with a masked load, then one lane reduction per output.
 * Gradients (nn tiles): 4 rows x 3 vectors (24 columns), 12 accumulators;
 * each step loads 3 vectors of B and broadcasts 4 elements of A. Masked
 * tiles store their last vector piecewise (vmaskmovps stores are slow on
 * AMD cores). */
#include "kernels/simd_avx2.h"

#define DOT_ROWS 4
#define DOT_COLS 3
#define DOT_FULL_ROWS 0
#define NN_ROWS 4
#define NN_VECTORS 3

#include "kernels/dense_template.h"

DENSE_DEFINE_OPERATIONS(avx2)
