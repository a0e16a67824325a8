/* AVX-512 dense kernels: the register tiles of dense_driver.h at 16 lanes,
 * within 32 zmm registers.
 *
 * Forward (dot tiles): 4 images x 6 outputs, 24 accumulators; each step
 * loads 4 input vectors and 6 weight vectors for 24 FMAs, the in_features
 * tail with a masked load, then one lane reduction per output.
 * Gradients (nn tiles): 6 rows x 4 vectors (64 columns), 24 accumulators;
 * each step loads 4 vectors of B and broadcasts 6 elements of A. */
#include <immintrin.h>

#include "kernels/simd_common.h"

#define LANES 16
#define DOT_ROWS 4
#define DOT_COLS 6
#define NN_ROWS 6
#define NN_VECTORS 4

static inline __mmask16 lanes_mask(int lanes)
{
    return (__mmask16)((1u << lanes) - 1u);
}

/* The lane sums of four vectors, in a tree that is the same for every
 * vector whatever its slot and partners: within each 128-bit block lanes
 * (0 + 2) + (1 + 3), then blocks (0 + 2) + (1 + 3). */
static inline __m128 lane_sums4(__m512 a, __m512 b, __m512 c, __m512 d)
{
    const __m512 ab =
        _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    const __m512 cd =
        _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    const __m512 abcd = _mm512_add_ps(
        _mm512_castpd_ps(
            _mm512_unpacklo_pd(_mm512_castps_pd(ab), _mm512_castps_pd(cd))),
        _mm512_castpd_ps(
            _mm512_unpackhi_pd(_mm512_castps_pd(ab), _mm512_castps_pd(cd))));
    const __m256 half = _mm256_add_ps(_mm512_castps512_ps256(abcd),
                                      _mm512_extractf32x8_ps(abcd, 1));
    return _mm_add_ps(_mm256_castps256_ps128(half),
                      _mm256_extractf128_ps(half, 1));
}

#define SIMD_VECTOR __m512
#define SIMD_MASK __mmask16
#define SIMD_LOAD(p) _mm512_loadu_ps(p)
#define SIMD_LOAD_MASKED(p, mask) _mm512_maskz_loadu_ps(mask, p)
#define SIMD_STORE(p, v) _mm512_storeu_ps(p, v)
#define SIMD_STORE_LAST(p, v, mask, lanes) _mm512_mask_storeu_ps(p, mask, v)
#define SIMD_BROADCAST(x) _mm512_set1_ps(x)
#define SIMD_ZERO() _mm512_setzero_ps()
#define SIMD_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)

#include "kernels/dense_x86_template.h"

#define DOT_ROW(r) DOT(r, 1) DOT(r, 2) DOT(r, 3) DOT(r, 4) DOT(r, 5) DOT(r, 6)
DOT_ROW(1)
DOT_ROW(2)
DOT_ROW(3)
DOT_ROW(4)
#define DOT_ENTRY(r)                                                           \
    {                                                                          \
        dot_##r##_1, dot_##r##_2, dot_##r##_3, dot_##r##_4, dot_##r##_5,       \
            dot_##r##_6                                                        \
    }

static const dense_dot_plan dense_dot_plan_avx512 = {
    DOT_ROWS,
    DOT_COLS,
    {DOT_ENTRY(1), DOT_ENTRY(2), DOT_ENTRY(3), DOT_ENTRY(4)}};

#define NN_ROW(r) NN(r, 4, 0) NN(r, 1, 1) NN(r, 2, 1) NN(r, 3, 1) NN(r, 4, 1)
NN_ROW(1)
NN_ROW(2)
NN_ROW(3)
NN_ROW(4)
NN_ROW(5)
NN_ROW(6)
#define NN_MASKED(r)                                                           \
    {                                                                          \
        nn_##r##_1_1, nn_##r##_2_1, nn_##r##_3_1, nn_##r##_4_1                 \
    }

static const dense_nn_plan dense_nn_plan_avx512 = {
    NN_ROWS,
    NN_VECTORS,
    LANES,
    {nn_1_4_0, nn_2_4_0, nn_3_4_0, nn_4_4_0, nn_5_4_0, nn_6_4_0},
    {NN_MASKED(1), NN_MASKED(2), NN_MASKED(3), NN_MASKED(4), NN_MASKED(5),
     NN_MASKED(6)}};

/* bias_grad[o] = sum_i output_grad[i][o], in image order. */
static void bias_gradient_avx512(size_t count, size_t out_features,
                                 const float *output_grad, float *bias_grad)
{
    for (size_t o = 0; o < out_features; o += LANES) {
        const size_t left = out_features - o;
        const __mmask16 m = lanes_mask(left < LANES ? (int)left : LANES);
        __m512 sum = _mm512_setzero_ps();
        for (size_t i = 0; i < count; i++)
            sum = _mm512_add_ps(
                sum,
                _mm512_maskz_loadu_ps(m, output_grad + i * out_features + o));
        _mm512_mask_storeu_ps(bias_grad + o, m, sum);
    }
}

void relu_backward_avx512(size_t n, const float *activation, float *grad)
{
    const __m512 zero = _mm512_setzero_ps();
    for (size_t k = 0; k < n; k += LANES) {
        const size_t left = n - k;
        const __mmask16 m = lanes_mask(left < LANES ? (int)left : LANES);
        const __mmask16 positive = _mm512_mask_cmp_ps_mask(
            m, _mm512_maskz_loadu_ps(m, activation + k), zero, _CMP_GT_OQ);
        /* Lanes in m but not positive become 0; lanes past n are not
         * written. */
        _mm512_mask_storeu_ps(grad + k, m,
                              _mm512_maskz_loadu_ps(positive, grad + k));
    }
}

DENSE_DEFINE_OPERATIONS(avx512)
