/* The NEON vector vocabulary of the templates (4 lanes), in one place for
 * every file of kernels_neon: the macros the templates require, partial
 * loads and stores, and the lane reductions. NEON has no masked loads or
 * stores, so a "mask" here is the lane count itself and the partial loads
 * and stores touch only the lanes that exist. */
#ifndef COSNET_KERNELS_SIMD_NEON_H
#define COSNET_KERNELS_SIMD_NEON_H

#include <arm_neon.h>

#include "kernels/simd_common.h"

#define LANES 4

static inline int lanes_mask(int lanes)
{
    return lanes;
}

static inline int first_lanes(int lanes)
{
    return lanes;
}

/* The first `lanes` floats at p, zeros in the other lanes; reads nothing
 * past p[lanes - 1] (nothing at all if lanes <= 0). */
static inline float32x4_t load_lanes(const float *p, int lanes)
{
    const float32x2_t zero = vdup_n_f32(0.0f);
    if (lanes <= 0)
        return vdupq_n_f32(0.0f);
    if (lanes >= 4)
        return vld1q_f32(p);
    if (lanes == 3)
        return vcombine_f32(vld1_f32(p), vld1_lane_f32(p + 2, zero, 0));
    if (lanes == 2)
        return vcombine_f32(vld1_f32(p), zero);
    return vcombine_f32(vld1_lane_f32(p, zero, 0), zero);
}

/* Stores the first `lanes` (1..4) lanes of v. */
static inline void store_lanes(float *p, float32x4_t v, int lanes)
{
    if (lanes >= 4) {
        vst1q_f32(p, v);
    } else if (lanes == 3) {
        vst1_f32(p, vget_low_f32(v));
        vst1q_lane_f32(p + 2, v, 2);
    } else if (lanes == 2) {
        vst1_f32(p, vget_low_f32(v));
    } else {
        vst1q_lane_f32(p, v, 0);
    }
}

/* The lane sums of four vectors: (0 + 1) + (2 + 3) for each. */
static inline float32x4_t lane_sums4(float32x4_t a, float32x4_t b,
                                     float32x4_t c, float32x4_t d)
{
    return vpaddq_f32(vpaddq_f32(a, b), vpaddq_f32(c, d));
}

/* g where a > 0 (not on NaN), else +0. */
static inline float32x4_t keep_positive(float32x4_t a, float32x4_t g)
{
    const uint32x4_t positive = vcgtq_f32(a, vdupq_n_f32(0.0f));
    return vreinterpretq_f32_u32(vandq_u32(positive, vreinterpretq_u32_f32(g)));
}

/* [a1, a2, a3, b0]: the lanes one place on, from the next vector. */
static inline float32x4_t next_lane(float32x4_t a, float32x4_t b)
{
    return vextq_f32(a, b, 1);
}

/* The even and the odd lanes of the 8 floats a:b, each in order. */
static inline void deinterleave(float32x4_t a, float32x4_t b, float32x4_t *even,
                                float32x4_t *odd)
{
    *even = vuzp1q_f32(a, b);
    *odd = vuzp2q_f32(a, b);
}

/* The inverse: even[0], odd[0], even[1], ... as two vectors. */
static inline void interleave(float32x4_t even, float32x4_t odd,
                              float32x4_t *low, float32x4_t *high)
{
    *low = vzip1q_f32(even, odd);
    *high = vzip2q_f32(even, odd);
}

#define SIMD_VECTOR float32x4_t
#define SIMD_MASK int
#define SIMD_LOAD(p) vld1q_f32(p)
#define SIMD_LOAD_ALIGNED(p) vld1q_f32(p)
#define SIMD_LOAD_MASKED(p, mask) load_lanes(p, mask)
#define SIMD_STORE(p, v) vst1q_f32(p, v)
#define SIMD_STORE_LAST(p, v, mask, lanes) store_lanes(p, v, lanes)
/* Makes the compiler hold v in a register (simd_x86.h says why). */
#define SIMD_KEEP_IN_REGISTER(v) __asm__("" : "+w"(v))
#define SIMD_STORE4(p, v) vst1q_f32(p, v)
#define SIMD_ADD_TO4(p, v) vst1q_f32(p, vaddq_f32(vld1q_f32(p), v))
#define SIMD_BROADCAST(x) vdupq_n_f32(x)
#define SIMD_ZERO() vdupq_n_f32(0.0f)
#define SIMD_FMA(a, b, c) vfmaq_f32(c, a, b)
#define SIMD_ADD(a, b) vaddq_f32(a, b)
#define SIMD_SUB(a, b) vsubq_f32(a, b)
#define SIMD_MUL(a, b) vmulq_f32(a, b)
#define SIMD_SUM(v) vaddvq_f32(v)
/* max(0, v), with NaN -> 0 as the reference's !(sum > 0) test gives (fmax
 * would keep the NaN). */
#define SIMD_RELU(v) keep_positive(v, v)
#define SIMD_MAX(a, b) vmaxq_f32(a, b)
/* The larger of lanes (0, 1) and of (2, 3), in the low 2 lanes. */
#define SIMD_PAIR_MAX_LOW(v) vpmaxq_f32(v, v)
/* The upper 2 lanes in the lower 2. */
#define SIMD_UPPER_HALF(v) vcombine_f32(vget_high_f32(v), vget_high_f32(v))
#define SIMD_KEEP_POSITIVE(a, g) keep_positive(a, g)

#endif
