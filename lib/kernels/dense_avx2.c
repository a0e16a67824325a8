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
#include <immintrin.h>

#include "kernels/simd_common.h"

#define LANES 8
#define DOT_ROWS 4
#define DOT_COLS 3
#define NN_ROWS 4
#define NN_VECTORS 3

/* All-ones in the first `lanes` lanes (none if lanes <= 0). */
static inline __m256i lanes_mask(int lanes)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* The lane sums of four vectors, in a tree that is the same for every
 * vector whatever its slot and partners: within each 128-bit half lanes
 * (0 + 2) + (1 + 3), then the two halves. */
static inline __m128 lane_sums4(__m256 a, __m256 b, __m256 c, __m256 d)
{
    const __m256 ab =
        _mm256_add_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
    const __m256 cd =
        _mm256_add_ps(_mm256_unpacklo_ps(c, d), _mm256_unpackhi_ps(c, d));
    const __m256 abcd = _mm256_add_ps(
        _mm256_castpd_ps(
            _mm256_unpacklo_pd(_mm256_castps_pd(ab), _mm256_castps_pd(cd))),
        _mm256_castpd_ps(
            _mm256_unpackhi_pd(_mm256_castps_pd(ab), _mm256_castps_pd(cd))));
    return _mm_add_ps(_mm256_castps256_ps128(abcd),
                      _mm256_extractf128_ps(abcd, 1));
}

#define SIMD_VECTOR __m256
#define SIMD_MASK __m256i
#define SIMD_LOAD(p) _mm256_loadu_ps(p)
#define SIMD_LOAD_MASKED(p, mask) _mm256_maskload_ps(p, mask)
#define SIMD_STORE(p, v) _mm256_storeu_ps(p, v)
#define SIMD_STORE_LAST(p, v, mask, lanes) store_lanes_256(p, v, lanes)
#define SIMD_BROADCAST(x) _mm256_set1_ps(x)
#define SIMD_ZERO() _mm256_setzero_ps()
#define SIMD_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)

#include "kernels/dense_x86_template.h"

#define DOT_ROW(r) DOT(r, 1) DOT(r, 2) DOT(r, 3)
DOT_ROW(1)
DOT_ROW(2)
DOT_ROW(3)
DOT_ROW(4)
#define DOT_ENTRY(r)                                                           \
    {                                                                          \
        dot_##r##_1, dot_##r##_2, dot_##r##_3                                  \
    }

static const dense_dot_plan dense_dot_plan_avx2 = {
    DOT_ROWS,
    DOT_COLS,
    {DOT_ENTRY(1), DOT_ENTRY(2), DOT_ENTRY(3), DOT_ENTRY(4)}};

#define NN_ROW(r) NN(r, 3, 0) NN(r, 1, 1) NN(r, 2, 1) NN(r, 3, 1)
NN_ROW(1)
NN_ROW(2)
NN_ROW(3)
NN_ROW(4)
#define NN_MASKED(r)                                                           \
    {                                                                          \
        nn_##r##_1_1, nn_##r##_2_1, nn_##r##_3_1                               \
    }

static const dense_nn_plan dense_nn_plan_avx2 = {
    NN_ROWS,
    NN_VECTORS,
    LANES,
    {nn_1_3_0, nn_2_3_0, nn_3_3_0, nn_4_3_0},
    {NN_MASKED(1), NN_MASKED(2), NN_MASKED(3), NN_MASKED(4)}};

/* bias_grad[o] = sum_i output_grad[i][o], in image order. */
static void bias_gradient_avx2(size_t count, size_t out_features,
                               const float *output_grad, float *bias_grad)
{
    for (size_t o = 0; o < out_features; o += LANES) {
        const size_t left = out_features - o;
        const int lanes = left < LANES ? (int)left : LANES;
        const __m256i m = lanes_mask(lanes);
        __m256 sum = _mm256_setzero_ps();
        for (size_t i = 0; i < count; i++)
            sum = _mm256_add_ps(
                sum, _mm256_maskload_ps(output_grad + i * out_features + o, m));
        store_lanes_256(bias_grad + o, sum, lanes);
    }
}

void relu_backward_avx2(size_t n, const float *activation, float *grad)
{
    const __m256 zero = _mm256_setzero_ps();
    size_t k = 0;
    for (; k + LANES <= n; k += LANES) {
        const __m256 positive =
            _mm256_cmp_ps(_mm256_loadu_ps(activation + k), zero, _CMP_GT_OQ);
        _mm256_storeu_ps(grad + k,
                         _mm256_and_ps(positive, _mm256_loadu_ps(grad + k)));
    }
    for (; k < n; k++)
        if (!(activation[k] > 0.0f))
            grad[k] = 0.0f;
}

DENSE_DEFINE_OPERATIONS(avx2)
