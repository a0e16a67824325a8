/* The x86 steps of the cosine similarity and loss, written once for AVX2
 * and AVX-512 over the vocabulary of simd_avx2.h or simd_avx512.h (included
 * first): each row pair is walked LANES at a time with three vector
 * accumulators for a.b, |a|^2 and |b|^2, the tail masked, reduced together
 * at the end of the row; the loops over them are cosine_template.h's. */
#ifndef COSNET_KERNELS_COSINE_X86_TEMPLATE_H
#define COSNET_KERNELS_COSINE_X86_TEMPLATE_H

#include "kernels/cosine_template.h"

static inline void row_sums(size_t dims, const float *x, const float *y,
                            float *dot, float *xx, float *yy)
{
    SIMD_VECTOR d = SIMD_ZERO(), a = SIMD_ZERO(), b = SIMD_ZERO();
    size_t k = 0;
    for (; k + LANES <= dims; k += LANES) {
        const SIMD_VECTOR u = SIMD_LOAD(x + k), v = SIMD_LOAD(y + k);
        d = SIMD_FMA(u, v, d);
        a = SIMD_FMA(u, u, a);
        b = SIMD_FMA(v, v, b);
    }
    if (k < dims) {
        const SIMD_MASK mask = first_lanes((int)(dims - k));
        const SIMD_VECTOR u = SIMD_LOAD_MASKED(x + k, mask),
                          v = SIMD_LOAD_MASKED(y + k, mask);
        d = SIMD_FMA(u, v, d);
        a = SIMD_FMA(u, u, a);
        b = SIMD_FMA(v, v, b);
    }
    sums3(d, a, b, dot, xx, yy);
}

static inline void row_gradient(size_t dims, const float *x, const float *y,
                                float *g, float scale, float inverse_norm,
                                float along)
{
    const SIMD_VECTOR along_v = SIMD_BROADCAST(along);
    const SIMD_VECTOR inverse = SIMD_BROADCAST(inverse_norm);
    const SIMD_VECTOR minus_scale = SIMD_BROADCAST(-scale);
    for (size_t k = 0; k < dims; k += LANES) {
        const int lanes = dims - k < LANES ? (int)(dims - k) : LANES;
        const SIMD_MASK mask = first_lanes(lanes);
        const SIMD_VECTOR u = SIMD_LOAD_MASKED(x + k, mask);
        const SIMD_VECTOR v = SIMD_LOAD_MASKED(y + k, mask);
        const SIMD_VECTOR t = SIMD_FMSUB(v, inverse, SIMD_MUL(along_v, u));
        SIMD_STORE_LAST(g + k, SIMD_MUL(minus_scale, t), mask, lanes);
    }
}

#endif
