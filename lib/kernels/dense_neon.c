/* NEON (AArch64) dense kernels: the register tiles of dense_driver.h at 4
 * lanes, within 32 q registers.
 *
 * Forward (dot tiles): 4 images x 6 outputs, 24 accumulators; each step
 * loads 4 input vectors and 6 weight vectors for 24 FMAs, the in_features
 * tail through a partial load, then one lane reduction per output.
 * Gradients (nn tiles): 6 rows x 4 vectors (16 columns), 24 accumulators;
 * each step loads 4 vectors of B and broadcasts 6 elements of A. NEON has no
 * masked loads or stores: partial vectors load and store lane by lane
 * (simd_neon.h). */
#include "kernels/simd_neon.h"

#define DOT_ROWS 4
#define DOT_COLS 6
#define DOT_FULL_ROWS 0
#define NN_ROWS 6
#define NN_VECTORS 4

#include "kernels/dense_template.h"

DENSE_DEFINE_OPERATIONS(neon)
