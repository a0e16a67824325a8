/* AVX2 cosine similarity and cosine loss (SPEC section 2): the design of
 * cosine_avx512.c at 8 lanes. Three vector accumulators per row pair (a.b,
 * |a|^2, |b|^2), reduced together; the scalar epilogue is the reference's. */
#include <immintrin.h>
#include <math.h>

#include "kernels/kernels.h"
#include "kernels/simd_common.h"

#define LANES 8

static inline __m256i lanes_mask(size_t lanes)
{
    const int n = lanes >= LANES ? LANES : (int)lanes;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline void reduce3(__m256 a, __m256 b, __m256 c, float *sum_a,
                           float *sum_b, float *sum_c)
{
    const __m128 a4 =
        _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    const __m128 b4 =
        _mm_add_ps(_mm256_castps256_ps128(b), _mm256_extractf128_ps(b, 1));
    const __m128 c4 =
        _mm_add_ps(_mm256_castps256_ps128(c), _mm256_extractf128_ps(c, 1));
    const __m128 ab = _mm_hadd_ps(a4, b4), cc = _mm_hadd_ps(c4, c4);
    const __m128 total = _mm_hadd_ps(ab, cc); /* [a, b, c, c] */
    float lanes[4];
    _mm_storeu_ps(lanes, total);
    *sum_a = lanes[0];
    *sum_b = lanes[1];
    *sum_c = lanes[2];
}

static inline void row_sums(size_t dims, const float *x, const float *y,
                            float *dot, float *xx, float *yy)
{
    __m256 d = _mm256_setzero_ps(), a = _mm256_setzero_ps(),
           b = _mm256_setzero_ps();
    size_t k = 0;
    for (; k + LANES <= dims; k += LANES) {
        const __m256 u = _mm256_loadu_ps(x + k), v = _mm256_loadu_ps(y + k);
        d = _mm256_fmadd_ps(u, v, d);
        a = _mm256_fmadd_ps(u, u, a);
        b = _mm256_fmadd_ps(v, v, b);
    }
    if (k < dims) {
        const __m256i mask = lanes_mask(dims - k);
        const __m256 u = _mm256_maskload_ps(x + k, mask),
                     v = _mm256_maskload_ps(y + k, mask);
        d = _mm256_fmadd_ps(u, v, d);
        a = _mm256_fmadd_ps(u, u, a);
        b = _mm256_fmadd_ps(v, v, b);
    }
    reduce3(d, a, b, dot, xx, yy);
}

#define SIMD_VECTOR __m256
#define SIMD_MASK __m256i
#define SIMD_BROADCAST(x) _mm256_set1_ps(x)
#define SIMD_LOAD_MASKED(p, mask) _mm256_maskload_ps(p, mask)
#define SIMD_FMSUB(a, b, c) _mm256_fmsub_ps(a, b, c)
#define SIMD_MUL(a, b) _mm256_mul_ps(a, b)
#define SIMD_STORE_LAST(p, v, mask, lanes) store_lanes_256(p, v, lanes)
#include "kernels/cosine_x86_template.h"

void cosine_provide_avx2(kernel_table *table)
{
    table->cosine_similarity = cosine_similarity_simd;
    table->cosine_loss = cosine_loss_simd;
}
