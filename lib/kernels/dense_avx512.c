/* AVX-512 dense kernels: the register tiles of dense_driver.h at 16 lanes,
 * within 32 zmm registers.
 *
 * Forward (dot tiles): 4 images x 6 outputs, 24 accumulators; each step
 * loads 4 input vectors and 6 weight vectors for 24 FMAs, the in_features
 * tail with a masked load, then one lane reduction per output; full-height
 * tiles only, and a one-image tile for one image left over (DOT_FULL_ROWS,
 * dense_driver.h).
 * Gradients (nn tiles): 6 rows x 4 vectors (64 columns), 24 accumulators;
 * each step loads 4 vectors of B and broadcasts 6 elements of A. */
#include "kernels/simd_avx512.h"

/* Masked to the last lane: no scalar tail. */
static void relu_backward_simd(size_t n, const float *activation, float *grad)
{
    const __m512 zero = _mm512_setzero_ps();
    for (size_t k = 0; k < n; k += LANES) {
        const size_t left = n - k;
        const __mmask16 m = first_lanes(left < LANES ? (int)left : LANES);
        const __mmask16 positive = _mm512_mask_cmp_ps_mask(
            m, _mm512_maskz_loadu_ps(m, activation + k), zero, _CMP_GT_OQ);
        /* Lanes in m but not positive become 0; lanes past n are not
         * written. */
        _mm512_mask_storeu_ps(grad + k, m,
                              _mm512_maskz_loadu_ps(positive, grad + k));
    }
}

#define DOT_ROWS 4
#define DOT_COLS 6
#define DOT_FULL_ROWS 1
#define NN_ROWS 6
#define NN_VECTORS 4

#include "kernels/dense_template.h"

DENSE_DEFINE_OPERATIONS(avx512)
