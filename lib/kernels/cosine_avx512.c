/* AVX-512 cosine similarity and cosine loss (SPEC section 2).
 *
 * Each row pair is walked 16 lanes at a time (the tail masked) with three
 * vector accumulators for a.b, |a|^2 and |b|^2, reduced together at the end
 * of the row; the scalar epilogue (clamp, square root, loss) is the
 * reference's, so only the summation order differs from it. */
#include <immintrin.h>
#include <math.h>

#include "kernels/kernels.h"

#define LANES 16

static inline __mmask16 lanes_mask(size_t lanes)
{
    return lanes >= LANES ? (__mmask16)0xFFFF
                          : (__mmask16)((1u << (unsigned)lanes) - 1u);
}

/* Horizontal sums of three vectors in one pass: halves are folded
 * together, then pairwise additions finish all three at once. */
static inline void reduce3(__m512 a, __m512 b, __m512 c, float *sum_a,
                           float *sum_b, float *sum_c)
{
    __m256 a8 =
        _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
    __m256 b8 =
        _mm256_add_ps(_mm512_castps512_ps256(b), _mm512_extractf32x8_ps(b, 1));
    __m256 c8 =
        _mm256_add_ps(_mm512_castps512_ps256(c), _mm512_extractf32x8_ps(c, 1));
    __m128 a4 =
        _mm_add_ps(_mm256_castps256_ps128(a8), _mm256_extractf128_ps(a8, 1));
    __m128 b4 =
        _mm_add_ps(_mm256_castps256_ps128(b8), _mm256_extractf128_ps(b8, 1));
    __m128 c4 =
        _mm_add_ps(_mm256_castps256_ps128(c8), _mm256_extractf128_ps(c8, 1));
    /* [a0+a1, a2+a3, b0+b1, b2+b3], [c0+c1, c2+c3, ...] */
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
    __m512 d = _mm512_setzero_ps(), a = _mm512_setzero_ps(),
           b = _mm512_setzero_ps();
    for (size_t k = 0; k < dims; k += LANES) {
        const __mmask16 mask = lanes_mask(dims - k);
        const __m512 u = _mm512_maskz_loadu_ps(mask, x + k);
        const __m512 v = _mm512_maskz_loadu_ps(mask, y + k);
        d = _mm512_fmadd_ps(u, v, d);
        a = _mm512_fmadd_ps(u, u, a);
        b = _mm512_fmadd_ps(v, v, b);
    }
    reduce3(d, a, b, dot, xx, yy);
}

#define SIMD_VECTOR __m512
#define SIMD_MASK __mmask16
#define SIMD_BROADCAST(x) _mm512_set1_ps(x)
#define SIMD_LOAD_MASKED(p, mask) _mm512_maskz_loadu_ps(mask, p)
#define SIMD_FMSUB(a, b, c) _mm512_fmsub_ps(a, b, c)
#define SIMD_MUL(a, b) _mm512_mul_ps(a, b)
#define SIMD_STORE_LAST(p, v, mask, lanes) _mm512_mask_storeu_ps(p, mask, v)
#include "kernels/cosine_x86_template.h"

void cosine_provide_avx512(kernel_table *table)
{
    table->cosine_similarity = cosine_similarity_simd;
    table->cosine_loss = cosine_loss_simd;
}
