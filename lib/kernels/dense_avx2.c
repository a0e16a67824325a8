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

#include "kernels/dense.h"
#include "kernels/dense_driver.h"
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

SIMD_INLINE void dot_tile(const int rows, const int cols, size_t depth,
                          const float *x, const float *w, const float *bias,
                          int relu, float *out, size_t out_stride)
{
    __m256 acc[DOT_ROWS * DOT_COLS];
    UNROLL_FULL
    for (int k = 0; k < rows * cols; k++)
        acc[k] = _mm256_setzero_ps();
    size_t j = 0;
    for (; j + LANES <= depth; j += LANES) {
        __m256 xv[DOT_ROWS];
        UNROLL_FULL
        for (int r = 0; r < rows; r++)
            xv[r] = _mm256_loadu_ps(x + r * depth + j);
        UNROLL_FULL
        for (int c = 0; c < cols; c++) {
            const __m256 wv = _mm256_loadu_ps(w + c * depth + j);
            UNROLL_FULL
            for (int r = 0; r < rows; r++)
                acc[r * cols + c] =
                    _mm256_fmadd_ps(xv[r], wv, acc[r * cols + c]);
        }
    }
    if (j < depth) {
        const __m256i m = lanes_mask((int)(depth - j));
        __m256 xv[DOT_ROWS];
        UNROLL_FULL
        for (int r = 0; r < rows; r++)
            xv[r] = _mm256_maskload_ps(x + r * depth + j, m);
        UNROLL_FULL
        for (int c = 0; c < cols; c++) {
            const __m256 wv = _mm256_maskload_ps(w + c * depth + j, m);
            UNROLL_FULL
            for (int r = 0; r < rows; r++)
                acc[r * cols + c] =
                    _mm256_fmadd_ps(xv[r], wv, acc[r * cols + c]);
        }
    }
    /* Reduced four accumulators at a time (zeros pad the last group). */
    float sums[DOT_ROWS * DOT_COLS + 3];
    UNROLL_FULL
    for (int k = 0; k < rows * cols; k += 4) {
        const __m256 zero = _mm256_setzero_ps();
        _mm_storeu_ps(sums + k,
                      lane_sums4(acc[k],
                                 k + 1 < rows * cols ? acc[k + 1] : zero,
                                 k + 2 < rows * cols ? acc[k + 2] : zero,
                                 k + 3 < rows * cols ? acc[k + 3] : zero));
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            float sum = sums[r * cols + c];
            if (bias)
                sum += bias[c];
            if (relu && !(sum > 0.0f))
                sum = 0.0f;
            out[r * out_stride + c] = sum;
        }
}

SIMD_INLINE void nn_tile(const int rows, const int vectors, const int masked,
                         size_t depth, const float *a, size_t a_row,
                         size_t a_col, const float *b, size_t b_row, float *c,
                         size_t c_row, int last_lanes)
{
    const __m256i last =
        masked ? lanes_mask(last_lanes) : _mm256_set1_epi32(-1);
    __m256 acc[NN_ROWS * NN_VECTORS];
    UNROLL_FULL
    for (int k = 0; k < rows * vectors; k++)
        acc[k] = _mm256_setzero_ps();
    for (size_t t = 0; t < depth; t++) {
        const float *bt = b + t * b_row;
        __m256 bv[NN_VECTORS];
        UNROLL_FULL
        for (int v = 0; v < vectors; v++)
            bv[v] = masked && v == vectors - 1
                        ? _mm256_maskload_ps(bt + v * LANES, last)
                        : _mm256_loadu_ps(bt + v * LANES);
        const float *at = a + t * a_col;
        UNROLL_FULL
        for (int r = 0; r < rows; r++) {
            const __m256 av = _mm256_broadcast_ss(at + r * a_row);
            UNROLL_FULL
            for (int v = 0; v < vectors; v++)
                acc[r * vectors + v] =
                    _mm256_fmadd_ps(av, bv[v], acc[r * vectors + v]);
        }
    }
    UNROLL_FULL
    for (int r = 0; r < rows; r++) {
        UNROLL_FULL
        for (int v = 0; v < vectors; v++) {
            float *p = c + r * c_row + v * LANES;
            if (masked && v == vectors - 1)
                store_lanes_256(p, acc[r * vectors + v], last_lanes);
            else
                _mm256_storeu_ps(p, acc[r * vectors + v]);
        }
    }
}

#define DOT(r, c)                                                              \
    __attribute__((noinline)) static void dot_##r##_##c(                       \
        size_t depth, const float *x, const float *w, const float *bias,       \
        int relu, float *out, size_t out_stride)                               \
    {                                                                          \
        dot_tile(r, c, depth, x, w, bias, relu, out, out_stride);              \
    }
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

#define NN(r, v, m)                                                            \
    __attribute__((noinline)) static void nn_##r##_##v##_##m(                  \
        size_t depth, const float *a, size_t a_row, size_t a_col,              \
        const float *b, size_t b_row, float *c, size_t c_row, int last_lanes)  \
    {                                                                          \
        nn_tile(r, v, m, depth, a, a_row, a_col, b, b_row, c, c_row,           \
                last_lanes);                                                   \
    }
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
