/* AVX-512 2x2 max-pool, stride 2, and its gradient.
 *
 * Forward: 16 output columns at a time. Two loads per input row cover the
 * 32 input columns; a two-source permute splits them into the left and
 * right pixels of each window, and the four candidates are compared in the
 * reference's order with strict, ordered > (false on NaN), so the first
 * maximum in window order wins exactly as in the scalar code. The window
 * positions are kept as byte masks and stored as bytes (AVX-512BW/VL).
 *
 * Backward: each window's gradient goes to one of four vectors by its argmax
 * (and the ReLU mask), which are interleaved back into the two input rows;
 * every input element is written exactly once (gradient or +0), so no
 * separate clearing pass is needed. */
#include "kernels/simd_avx512.h"

SIMD_INLINE void forward_row(const float *top, const float *bottom, int wo,
                             float *out, uint8_t *arg, size_t arg_room)
{
    (void)arg_room; /* masked byte stores write only the row's windows */
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18,
                                           20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21,
                                          23, 25, 27, 29, 31);
    const __m128i one = _mm_set1_epi8(1), two = _mm_set1_epi8(2),
                  three = _mm_set1_epi8(3);
    for (int c = 0; c < wo; c += LANES) {
        const int n = wo - c < LANES ? wo - c : LANES;
        /* Only the 2n input columns of these windows are read. */
        const __mmask16 low = lanes_mask(2 * n),
                        high = lanes_mask(2 * n - LANES);
        const __m512 t0 = _mm512_maskz_loadu_ps(low, top + 2 * c);
        /* (A second vector only if its lanes exist: no pointer is
         * formed past the rows.) */
        const __m512 t1 = high
                              ? _mm512_maskz_loadu_ps(high, top + 2 * c + LANES)
                              : _mm512_setzero_ps();
        const __m512 b0 = _mm512_maskz_loadu_ps(low, bottom + 2 * c);
        const __m512 b1 =
            high ? _mm512_maskz_loadu_ps(high, bottom + 2 * c + LANES)
                 : _mm512_setzero_ps();
        const __m512 top_left = _mm512_permutex2var_ps(t0, even, t1);
        const __m512 top_right = _mm512_permutex2var_ps(t0, odd, t1);
        const __m512 bottom_left = _mm512_permutex2var_ps(b0, even, b1);
        const __m512 bottom_right = _mm512_permutex2var_ps(b0, odd, b1);
        /* vmaxps(a, b) is a > b ? a : b, the reference's step;
         * the comparisons only feed the window positions. */
        const __m512 best1 = _mm512_max_ps(top_right, top_left);
        const __m512 best2 = _mm512_max_ps(bottom_left, best1);
        const __m512 best = _mm512_max_ps(bottom_right, best2);
        const __mmask16 k1 =
            _mm512_cmp_ps_mask(top_right, top_left, _CMP_GT_OQ);
        const __mmask16 k2 = _mm512_cmp_ps_mask(bottom_left, best1, _CMP_GT_OQ);
        const __mmask16 k3 =
            _mm512_cmp_ps_mask(bottom_right, best2, _CMP_GT_OQ);
        __m128i position = _mm_maskz_mov_epi8(k1, one);
        position = _mm_mask_mov_epi8(position, k2, two);
        position = _mm_mask_mov_epi8(position, k3, three);
        const __mmask16 store = lanes_mask(n);
        _mm512_mask_storeu_ps(out + c, store, best);
        _mm_mask_storeu_epi8(arg + c, store, position);
    }
}

/* The gradient g where the window position is k and `pass` holds, else
 * +0. */
static inline __m512 gradient_at(__m512 g, __mmask16 pass, __m512i position,
                                 int k)
{
    return _mm512_maskz_mov_ps(
        _mm512_mask_cmpeq_epi32_mask(pass, position, _mm512_set1_epi32(k)), g);
}

SIMD_INLINE void backward_row(float *top, float *bottom, int wo,
                              const float *grad, const uint8_t *arg,
                              const float *relu, size_t arg_room)
{
    (void)arg_room; /* masked byte loads read only the row's windows */
    /* Lanes 0-7 of the first pair interleaved, then lanes 8-15. */
    const __m512i interleave_low = _mm512_setr_epi32(
        0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i interleave_high = _mm512_setr_epi32(
        8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512 zero = _mm512_setzero_ps();
    for (int c = 0; c < wo; c += LANES) {
        const int n = wo - c < LANES ? wo - c : LANES;
        const __mmask16 lanes = lanes_mask(n);
        const __m512 g = _mm512_maskz_loadu_ps(lanes, grad + c);
        const __m512i position =
            _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(lanes, arg + c));
        __mmask16 pass = lanes;
        if (relu)
            pass = _mm512_mask_cmp_ps_mask(
                lanes, _mm512_maskz_loadu_ps(lanes, relu + c), zero,
                _CMP_GT_OQ);
        const __m512 g0 = gradient_at(g, pass, position, 0);
        const __m512 g1 = gradient_at(g, pass, position, 1);
        const __m512 g2 = gradient_at(g, pass, position, 2);
        const __m512 g3 = gradient_at(g, pass, position, 3);
        const __mmask16 low = lanes_mask(2 * n),
                        high = lanes_mask(2 * n - LANES);
        _mm512_mask_storeu_ps(top + 2 * c, low,
                              _mm512_permutex2var_ps(g0, interleave_low, g1));
        _mm512_mask_storeu_ps(bottom + 2 * c, low,
                              _mm512_permutex2var_ps(g2, interleave_low, g3));
        if (high) {
            _mm512_mask_storeu_ps(
                top + 2 * c + LANES, high,
                _mm512_permutex2var_ps(g0, interleave_high, g1));
            _mm512_mask_storeu_ps(
                bottom + 2 * c + LANES, high,
                _mm512_permutex2var_ps(g2, interleave_high, g3));
        }
    }
}

#include "kernels/pool_template.h"

void pool_provide_avx512(kernel_table *table)
{
    table->maxpool2x2_forward = maxpool2x2_forward_rows;
    table->maxpool2x2_backward = maxpool2x2_backward_rows;
}
