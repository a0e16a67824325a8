/* The vector operations and reductions written once for both x86 vector
 * widths, over what simd_avx2.h or simd_avx512.h (which include this file
 * last) define: SIMD_WIDE(name), the intrinsic at the width, SIMD_VECTOR
 * and fold_to_128. */
#ifndef COSNET_KERNELS_SIMD_X86_H
#define COSNET_KERNELS_SIMD_X86_H

#define SIMD_LOAD(p) SIMD_WIDE(loadu_ps)(p)
#define SIMD_LOAD_ALIGNED(p) SIMD_WIDE(load_ps)(p)
#define SIMD_STORE(p, v) SIMD_WIDE(storeu_ps)(p, v)
#define SIMD_BROADCAST(x) SIMD_WIDE(set1_ps)(x)
#define SIMD_ZERO() SIMD_WIDE(setzero_ps)()
#define SIMD_FMA(a, b, c) SIMD_WIDE(fmadd_ps)(a, b, c)
#define SIMD_FMSUB(a, b, c) SIMD_WIDE(fmsub_ps)(a, b, c)
#define SIMD_ADD(a, b) SIMD_WIDE(add_ps)(a, b)
#define SIMD_SUB(a, b) SIMD_WIDE(sub_ps)(a, b)
#define SIMD_MUL(a, b) SIMD_WIDE(mul_ps)(a, b)
#define SIMD_MAX(a, b) SIMD_WIDE(max_ps)(a, b)
/* max(v, 0) with NaN -> 0: max returns its second operand on NaN. */
#define SIMD_RELU(v) SIMD_MAX(v, SIMD_ZERO())
#define SIMD_UNPACKLO(a, b) SIMD_WIDE(unpacklo_ps)(a, b)
#define SIMD_UNPACKHI(a, b) SIMD_WIDE(unpackhi_ps)(a, b)
/* The same on 64-bit pairs of lanes. */
#define SIMD_UNPACKLO_PAIRS(a, b)                                              \
    SIMD_WIDE(castpd_ps)                                                       \
    (SIMD_WIDE(unpacklo_pd)(SIMD_WIDE(castps_pd)(a), SIMD_WIDE(castps_pd)(b)))
#define SIMD_UNPACKHI_PAIRS(a, b)                                              \
    SIMD_WIDE(castpd_ps)                                                       \
    (SIMD_WIDE(unpackhi_pd)(SIMD_WIDE(castps_pd)(a), SIMD_WIDE(castps_pd)(b)))

/* Makes the compiler hold v in a register: a vector loaded once for
 * several FMAs is otherwise folded into each as a memory operand, one load
 * per FMA, and the loads then limit the tile. */
#define SIMD_KEEP_IN_REGISTER(v) __asm__("" : "+v"(v))

/* Stores the four sums lane_sums4 returns, or adds them to four floats. */
#define SIMD_STORE4(p, v) _mm_storeu_ps(p, v)
#define SIMD_ADD_TO4(p, v) _mm_storeu_ps(p, _mm_add_ps(_mm_loadu_ps(p), v))

/* The lane sums of four vectors, in a tree that is the same for every
 * vector whatever its slot and partners: within each 128-bit block lanes
 * (0 + 2) + (1 + 3), then the blocks as fold_to_128 adds them. */
static inline __m128 lane_sums4(SIMD_VECTOR a, SIMD_VECTOR b, SIMD_VECTOR c,
                                SIMD_VECTOR d)
{
    const SIMD_VECTOR ab = SIMD_ADD(SIMD_UNPACKLO(a, b), SIMD_UNPACKHI(a, b));
    const SIMD_VECTOR cd = SIMD_ADD(SIMD_UNPACKLO(c, d), SIMD_UNPACKHI(c, d));
    return fold_to_128(
        SIMD_ADD(SIMD_UNPACKLO_PAIRS(ab, cd), SIMD_UNPACKHI_PAIRS(ab, cd)));
}

/* The horizontal sums of three vectors in one pass: each folded to 128
 * bits, then pairwise additions finish all three at once. */
static inline void sums3(SIMD_VECTOR a, SIMD_VECTOR b, SIMD_VECTOR c,
                         float *sum_a, float *sum_b, float *sum_c)
{
    const __m128 a4 = fold_to_128(a), b4 = fold_to_128(b), c4 = fold_to_128(c);
    /* [a0+a1, a2+a3, b0+b1, b2+b3], [c0+c1, c2+c3, ...] */
    const __m128 ab = _mm_hadd_ps(a4, b4), cc = _mm_hadd_ps(c4, c4);
    const __m128 total = _mm_hadd_ps(ab, cc); /* [a, b, c, c] */
    float lanes[4];
    _mm_storeu_ps(lanes, total);
    *sum_a = lanes[0];
    *sum_b = lanes[1];
    *sum_c = lanes[2];
}

#endif
