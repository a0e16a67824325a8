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
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"

#define LANES 16

/* The first `lanes` lanes (none if lanes <= 0, all if >= 16). */
static inline __mmask16 lanes_mask(int lanes)
{
    if (lanes <= 0)
        return 0;
    return lanes >= LANES ? (__mmask16)0xFFFF
                          : (__mmask16)((1u << (unsigned)lanes) - 1u);
}

static void maxpool2x2_forward_avx512(size_t planes, int height, int width,
                                      const float *input, float *output,
                                      size_t output_plane_stride,
                                      size_t output_row_stride, uint8_t *argmax)
{
    const int ho = height / 2, wo = width / 2;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18,
                                           20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21,
                                          23, 25, 27, 29, 31);
    const __m128i one = _mm_set1_epi8(1), two = _mm_set1_epi8(2),
                  three = _mm_set1_epi8(3);
    for (size_t p = 0; p < planes; p++) {
        const float *in = input + p * (size_t)height * width;
        float *out = output + p * output_plane_stride;
        uint8_t *arg = argmax + p * (size_t)ho * wo;
        for (int r = 0; r < ho; r++) {
            const float *top = in + (size_t)(2 * r) * width;
            const float *bottom = top + width;
            for (int c = 0; c < wo; c += LANES) {
                const int n = wo - c < LANES ? wo - c : LANES;
                /* Only the 2n input columns of these windows are read. */
                const __mmask16 low = lanes_mask(2 * n),
                                high = lanes_mask(2 * n - LANES);
                const __m512 t0 = _mm512_maskz_loadu_ps(low, top + 2 * c);
                /* (A second vector only if its lanes exist: no pointer is
                 * formed past the rows.) */
                const __m512 t1 =
                    high ? _mm512_maskz_loadu_ps(high, top + 2 * c + LANES)
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
                const __mmask16 k2 =
                    _mm512_cmp_ps_mask(bottom_left, best1, _CMP_GT_OQ);
                const __mmask16 k3 =
                    _mm512_cmp_ps_mask(bottom_right, best2, _CMP_GT_OQ);
                __m128i position = _mm_maskz_mov_epi8(k1, one);
                position = _mm_mask_mov_epi8(position, k2, two);
                position = _mm_mask_mov_epi8(position, k3, three);
                const __mmask16 store = lanes_mask(n);
                _mm512_mask_storeu_ps(out + r * output_row_stride + c, store,
                                      best);
                _mm_mask_storeu_epi8(arg + (size_t)r * wo + c, store, position);
            }
        }
    }
}

static void maxpool2x2_backward_avx512(size_t planes, int height, int width,
                                       const float *output_grad,
                                       const uint8_t *argmax,
                                       const float *relu_output,
                                       float *input_grad)
{
    const int ho = height / 2, wo = width / 2;
    /* Lanes 0-7 of the first pair interleaved, then lanes 8-15. */
    const __m512i interleave_low = _mm512_setr_epi32(
        0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i interleave_high = _mm512_setr_epi32(
        8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512i zero_i = _mm512_setzero_si512(), one_i = _mm512_set1_epi32(1),
                  two_i = _mm512_set1_epi32(2), three_i = _mm512_set1_epi32(3);
    const __m512 zero = _mm512_setzero_ps();
    for (size_t p = 0; p < planes; p++) {
        float *dx = input_grad + p * (size_t)height * width;
        const size_t base = p * (size_t)ho * wo;
        for (int r = 0; r < ho; r++) {
            float *top = dx + (size_t)(2 * r) * width;
            float *bottom = top + width;
            const size_t row = base + (size_t)r * wo;
            for (int c = 0; c < wo; c += LANES) {
                const int n = wo - c < LANES ? wo - c : LANES;
                const __mmask16 lanes = lanes_mask(n);
                const __m512 g =
                    _mm512_maskz_loadu_ps(lanes, output_grad + row + c);
                const __m512i position = _mm512_cvtepu8_epi32(
                    _mm_maskz_loadu_epi8(lanes, argmax + row + c));
                __mmask16 pass = lanes;
                if (relu_output)
                    pass = _mm512_mask_cmp_ps_mask(
                        lanes,
                        _mm512_maskz_loadu_ps(lanes, relu_output + row + c),
                        zero, _CMP_GT_OQ);
                const __m512 g0 = _mm512_maskz_mov_ps(
                    _mm512_mask_cmpeq_epi32_mask(pass, position, zero_i), g);
                const __m512 g1 = _mm512_maskz_mov_ps(
                    _mm512_mask_cmpeq_epi32_mask(pass, position, one_i), g);
                const __m512 g2 = _mm512_maskz_mov_ps(
                    _mm512_mask_cmpeq_epi32_mask(pass, position, two_i), g);
                const __m512 g3 = _mm512_maskz_mov_ps(
                    _mm512_mask_cmpeq_epi32_mask(pass, position, three_i), g);
                const __mmask16 low = lanes_mask(2 * n),
                                high = lanes_mask(2 * n - LANES);
                _mm512_mask_storeu_ps(
                    top + 2 * c, low,
                    _mm512_permutex2var_ps(g0, interleave_low, g1));
                _mm512_mask_storeu_ps(
                    bottom + 2 * c, low,
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
            /* A dropped odd last column receives no gradient. */
            if (width % 2) {
                top[width - 1] = 0.0f;
                bottom[width - 1] = 0.0f;
            }
        }
        /* Likewise a dropped odd last row. */
        if (height % 2)
            memset(dx + (size_t)(height - 1) * width, 0, sizeof(float) * width);
    }
}

void pool_provide_avx512(kernel_table *table)
{
    table->maxpool2x2_forward = maxpool2x2_forward_avx512;
    table->maxpool2x2_backward = maxpool2x2_backward_avx512;
}
