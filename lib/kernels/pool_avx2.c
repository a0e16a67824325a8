/* AVX2 2x2 max-pool, stride 2, and its gradient: the design of
 * pool_avx512.c at 8 lanes. Shuffles split each pair of input vectors into
 * the windows' left and right pixels; strict ordered > comparisons in
 * window order reproduce the reference's first-maximum rule (and its NaN
 * behaviour). Tails use masked loads and piecewise stores. */
#include "kernels/simd_avx2.h"

/* Even- and odd-indexed elements of the 16 floats lo:hi, in order. */
static inline __m256 even_elements(__m256 lo, __m256 hi)
{
    const __m256 mixed = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(mixed),
                                                  _MM_SHUFFLE(3, 1, 2, 0)));
}
static inline __m256 odd_elements(__m256 lo, __m256 hi)
{
    const __m256 mixed = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(mixed),
                                                  _MM_SHUFFLE(3, 1, 2, 0)));
}

/* The low byte of each of 8 int32 lanes, as 8 consecutive bytes. */
static inline __m128i low_bytes(__m256i v)
{
    const __m256i pick = _mm256_setr_epi8(
        0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8,
        12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i packed = _mm256_shuffle_epi8(v, pick);
    return _mm_unpacklo_epi32(_mm256_castsi256_si128(packed),
                              _mm256_extracti128_si256(packed, 1));
}

/* Where candidate > best (ordered: never on NaN), best becomes candidate
 * and position k. */
static inline void take_greater(__m256 candidate, __m256 k, __m256 *best,
                                __m256 *position)
{
    const __m256 wins = _mm256_cmp_ps(candidate, *best, _CMP_GT_OQ);
    *best = _mm256_blendv_ps(*best, candidate, wins);
    *position = _mm256_blendv_ps(*position, k, wins);
}

SIMD_INLINE void forward_row(const float *top, const float *bottom, int wo,
                             float *out, uint8_t *arg, size_t arg_room)
{
    const __m256 one = _mm256_castsi256_ps(_mm256_set1_epi32(1)),
                 two = _mm256_castsi256_ps(_mm256_set1_epi32(2)),
                 three = _mm256_castsi256_ps(_mm256_set1_epi32(3));
    for (int c = 0; c < wo; c += LANES) {
        const int n = wo - c < LANES ? wo - c : LANES;
        __m256 t0, t1, b0, b1;
        if (n == LANES) {
            t0 = _mm256_loadu_ps(top + 2 * c);
            t1 = _mm256_loadu_ps(top + 2 * c + LANES);
            b0 = _mm256_loadu_ps(bottom + 2 * c);
            b1 = _mm256_loadu_ps(bottom + 2 * c + LANES);
        } else {
            /* Only the 2n input columns of these windows. */
            const __m256i low = lanes_mask(2 * n),
                          high = lanes_mask(2 * n - LANES);
            t0 = _mm256_maskload_ps(top + 2 * c, low);
            b0 = _mm256_maskload_ps(bottom + 2 * c, low);
            t1 = b1 = _mm256_setzero_ps();
            /* (No pointer is formed past the rows.) */
            if (n > LANES / 2) {
                t1 = _mm256_maskload_ps(top + 2 * c + LANES, high);
                b1 = _mm256_maskload_ps(bottom + 2 * c + LANES, high);
            }
        }
        const __m256 top_right = odd_elements(t0, t1);
        const __m256 bottom_left = even_elements(b0, b1);
        const __m256 bottom_right = odd_elements(b0, b1);
        __m256 best = even_elements(t0, t1);
        __m256 position = _mm256_setzero_ps();
        take_greater(top_right, one, &best, &position);
        take_greater(bottom_left, two, &best, &position);
        take_greater(bottom_right, three, &best, &position);
        const __m128i bytes = low_bytes(_mm256_castps_si256(position));
        float *o = out + c;
        uint8_t *a = arg + c;
        if (n == LANES) {
            _mm256_storeu_ps(o, best);
        } else {
            store_lanes_256(o, best, n);
        }
        /* All 8 position bytes go out when they stay inside the
         * argmax array: past a row's end they land on the next
         * row's, which is written afterwards. */
        if ((size_t)c + LANES <= arg_room) {
            _mm_storel_epi64((__m128i *)(void *)a, bytes);
        } else {
            uint8_t staged[16];
            _mm_storeu_si128((__m128i *)(void *)staged, bytes);
            for (int k = 0; k < n; k++)
                a[k] = staged[k];
        }
    }
}

/* The gradient g where the window position is k and `pass` holds, else
 * +0. */
static inline __m256 gradient_at(__m256 g, __m256 pass, __m256i position, int k)
{
    const __m256i is_k = _mm256_cmpeq_epi32(position, _mm256_set1_epi32(k));
    return _mm256_and_ps(g, _mm256_and_ps(pass, _mm256_castsi256_ps(is_k)));
}

SIMD_INLINE void backward_row(float *top, float *bottom, int wo,
                              const float *grad, const uint8_t *arg,
                              const float *relu, size_t arg_room)
{
    const __m256 zero = _mm256_setzero_ps();
    for (int c = 0; c < wo; c += LANES) {
        const int n = wo - c < LANES ? wo - c : LANES;
        const __m256i lanes = lanes_mask(n);
        /* 8 position bytes are read when they stay inside the
         * array (lanes past n are ignored), else n of them. */
        __m128i bytes;
        if ((size_t)c + LANES <= arg_room) {
            bytes = _mm_loadl_epi64((const __m128i *)(const void *)(arg + c));
        } else {
            uint8_t staged[16] = {0};
            for (int k = 0; k < n; k++)
                staged[k] = arg[c + k];
            bytes = _mm_loadu_si128((const __m128i *)(const void *)staged);
        }
        const __m256i position = _mm256_cvtepu8_epi32(bytes);
        const __m256 g = _mm256_maskload_ps(grad + c, lanes);
        __m256 pass = _mm256_castsi256_ps(lanes);
        if (relu)
            pass = _mm256_and_ps(
                pass, _mm256_cmp_ps(_mm256_maskload_ps(relu + c, lanes), zero,
                                    _CMP_GT_OQ));
        const __m256 g0 = gradient_at(g, pass, position, 0);
        const __m256 g1 = gradient_at(g, pass, position, 1);
        const __m256 g2 = gradient_at(g, pass, position, 2);
        const __m256 g3 = gradient_at(g, pass, position, 3);
        /* Interleave left/right pixels back into input order. */
        const __m256 top_lo = _mm256_unpacklo_ps(g0, g1),
                     top_hi = _mm256_unpackhi_ps(g0, g1),
                     bottom_lo = _mm256_unpacklo_ps(g2, g3),
                     bottom_hi = _mm256_unpackhi_ps(g2, g3);
        const __m256 top0 = _mm256_permute2f128_ps(top_lo, top_hi, 0x20),
                     top1 = _mm256_permute2f128_ps(top_lo, top_hi, 0x31),
                     bottom0 =
                         _mm256_permute2f128_ps(bottom_lo, bottom_hi, 0x20),
                     bottom1 =
                         _mm256_permute2f128_ps(bottom_lo, bottom_hi, 0x31);
        if (n == LANES) {
            _mm256_storeu_ps(top + 2 * c, top0);
            _mm256_storeu_ps(top + 2 * c + LANES, top1);
            _mm256_storeu_ps(bottom + 2 * c, bottom0);
            _mm256_storeu_ps(bottom + 2 * c + LANES, bottom1);
        } else {
            store_lanes_256(top + 2 * c, top0, 2 * n);
            store_lanes_256(bottom + 2 * c, bottom0, 2 * n);
            if (n > LANES / 2) {
                store_lanes_256(top + 2 * c + LANES, top1, 2 * n - LANES);
                store_lanes_256(bottom + 2 * c + LANES, bottom1, 2 * n - LANES);
            }
        }
    }
}

#include "kernels/pool_template.h"

void pool_provide_avx2(kernel_table *table)
{
    table->maxpool2x2_forward = maxpool2x2_forward_rows;
    table->maxpool2x2_backward = maxpool2x2_backward_rows;
}
