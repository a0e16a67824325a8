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

static void cosine_similarity_avx2(size_t count, size_t dims, const float *a,
                                   const float *b, size_t b_stride,
                                   float *cos_out)
{
    const float floor = COSINE_EPSILON * COSINE_EPSILON;
    for (size_t i = 0; i < count; i++) {
        float dot, xx, yy;
        row_sums(dims, a + i * dims, b + i * b_stride, &dot, &xx, &yy);
        const float product = xx * yy;
        cos_out[i] = dot / sqrtf(product > floor ? product : floor);
    }
}

static float cosine_loss_avx2(size_t count, size_t dims, const float *a,
                              const float *b, size_t b_stride, float *grad_a)
{
    const float floor = COSINE_EPSILON * COSINE_EPSILON;
    const float scale = 1.0f / (float)count;
    float loss = 0.0f;
    for (size_t i = 0; i < count; i++) {
        const float *x = a + i * dims, *y = b + i * b_stride;
        float dot, xx, yy;
        row_sums(dims, x, y, &dot, &xx, &yy);
        const float product = xx * yy;
        const int clamped = !(product > floor);
        const float inverse_norm = 1.0f / sqrtf(clamped ? floor : product);
        const float cosine = dot * inverse_norm;
        loss += 1.0f - cosine;
        if (!grad_a)
            continue;
        /* Clamped: the denominator is the constant eps, dcos/da = b/eps. */
        const __m256 along = _mm256_set1_ps(clamped ? 0.0f : cosine / xx);
        const __m256 inverse = _mm256_set1_ps(inverse_norm);
        const __m256 minus_scale = _mm256_set1_ps(-scale);
        float *g = grad_a + i * dims;
        for (size_t k = 0; k < dims; k += LANES) {
            const __m256i mask = lanes_mask(dims - k);
            const __m256 u = _mm256_maskload_ps(x + k, mask);
            const __m256 v = _mm256_maskload_ps(y + k, mask);
            const __m256 t =
                _mm256_fmsub_ps(v, inverse, _mm256_mul_ps(along, u));
            store_lanes_256(g + k, _mm256_mul_ps(minus_scale, t),
                            (int)(dims - k < LANES ? dims - k : LANES));
        }
    }
    return loss * scale;
}

void cosine_provide_avx2(kernel_table *table)
{
    table->cosine_similarity = cosine_similarity_avx2;
    table->cosine_loss = cosine_loss_avx2;
}
