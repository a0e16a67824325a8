/* The x86 cosine similarity and cosine loss (SPEC section 2), written once
 * for AVX2 and AVX-512: cosine_avx2.c and cosine_avx512.c define the vector
 * type and operations below and row_sums (a.b, |a|^2 and |b|^2 of one row
 * pair, in vector accumulators reduced together), then include this file
 * and provide cosine_similarity_simd and cosine_loss_simd. The scalar
 * epilogue (clamp, square root, loss) is the reference's, so only the
 * summation order differs from it.
 *
 * Required before inclusion: LANES, SIMD_VECTOR, SIMD_MASK,
 * lanes_mask(size_t), SIMD_BROADCAST(x), SIMD_LOAD_MASKED(p, mask),
 * SIMD_FMSUB(a, b, c) (a * b - c), SIMD_MUL, SIMD_STORE_LAST(p, v, mask,
 * lanes), row_sums(dims, x, y, &dot, &xx, &yy). */
#ifndef COSNET_KERNELS_COSINE_X86_TEMPLATE_H
#define COSNET_KERNELS_COSINE_X86_TEMPLATE_H

#include <math.h>

#include "kernels/kernels.h"

static void cosine_similarity_simd(size_t count, size_t dims, const float *a,
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

static float cosine_loss_simd(size_t count, size_t dims, const float *a,
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
        const SIMD_VECTOR along = SIMD_BROADCAST(clamped ? 0.0f : cosine / xx);
        const SIMD_VECTOR inverse = SIMD_BROADCAST(inverse_norm);
        const SIMD_VECTOR minus_scale = SIMD_BROADCAST(-scale);
        float *g = grad_a + i * dims;
        for (size_t k = 0; k < dims; k += LANES) {
            const SIMD_MASK mask = lanes_mask(dims - k);
            const SIMD_VECTOR u = SIMD_LOAD_MASKED(x + k, mask);
            const SIMD_VECTOR v = SIMD_LOAD_MASKED(y + k, mask);
            const SIMD_VECTOR t = SIMD_FMSUB(v, inverse, SIMD_MUL(along, u));
            SIMD_STORE_LAST(g + k, SIMD_MUL(minus_scale, t), mask,
                            (int)(dims - k < LANES ? dims - k : LANES));
        }
    }
    return loss * scale;
}

#endif
