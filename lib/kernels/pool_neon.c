/* NEON 2x2 max-pool, stride 2, and its gradient. De-interleaving loads
 * (ld2) split each row into the windows' left and right pixels, four
 * windows at a time; strict ordered > comparisons in window order
 * reproduce the reference's first-maximum rule (and its NaN behaviour).
 * The gradient is written with interleaving stores (st2), which cover every
 * pixel of the windows, so only the dropped odd row and column need
 * zeroing. Columns left over after the last group of four are done one
 * window at a time, so nothing is read or written past a buffer. */
#include <string.h>

#include "kernels/simd_neon.h"

/* The reference's rule for one window: strictly greater replaces. */
static inline int window_best(const float *top, const float *bottom,
                              float *value)
{
    const float window[4] = {top[0], top[1], bottom[0], bottom[1]};
    int best = 0;
    for (int k = 1; k < 4; k++)
        if (window[k] > window[best])
            best = k;
    *value = window[best];
    return best;
}

/* Where candidate > best (ordered: never on NaN), best becomes candidate
 * and the index k. */
static inline void take_greater(float32x4_t candidate, uint32x4_t k,
                                float32x4_t *best, uint32x4_t *index)
{
    const uint32x4_t greater = vcgtq_f32(candidate, *best);
    *best = vbslq_f32(greater, candidate, *best);
    *index = vbslq_u32(greater, k, *index);
}

SIMD_INLINE void forward_row(const float *top, const float *bottom, int wo,
                             float *out_row, uint8_t *arg_row, size_t arg_room)
{
    (void)arg_room; /* whole groups of four and single windows only */
    const uint32x4_t one = vdupq_n_u32(1), two = vdupq_n_u32(2),
                     three = vdupq_n_u32(3);
    int c = 0;
    for (; c + LANES <= wo; c += LANES) {
        const float32x4x2_t t = vld2q_f32(top + 2 * c);
        const float32x4x2_t b = vld2q_f32(bottom + 2 * c);
        float32x4_t best = t.val[0];
        uint32x4_t index = vdupq_n_u32(0);
        take_greater(t.val[1], one, &best, &index);
        take_greater(b.val[0], two, &best, &index);
        take_greater(b.val[1], three, &best, &index);
        vst1q_f32(out_row + c, best);
        /* The low byte of each lane, as 4 consecutive bytes. */
        const uint16x4_t narrow = vmovn_u32(index);
        const uint8x8_t bytes = vmovn_u16(vcombine_u16(narrow, narrow));
        const uint32_t packed = vget_lane_u32(vreinterpret_u32_u8(bytes), 0);
        memcpy(arg_row + c, &packed, sizeof packed);
    }
    for (; c < wo; c++) {
        float value;
        arg_row[c] = (uint8_t)window_best(top + 2 * c, bottom + 2 * c, &value);
        out_row[c] = value;
    }
}

SIMD_INLINE void backward_row(float *top, float *bottom, int wo,
                              const float *grad, const uint8_t *arg,
                              const float *relu, size_t arg_room)
{
    (void)arg_room; /* whole groups of four and single windows only */
    const float32x4_t zero = vdupq_n_f32(0.0f);
    int c = 0;
    for (; c + LANES <= wo; c += LANES) {
        uint32x4_t pass = vdupq_n_u32(~0u);
        if (relu)
            pass = vcgtq_f32(vld1q_f32(relu + c), zero);
        const uint32x4_t g =
            vandq_u32(pass, vreinterpretq_u32_f32(vld1q_f32(grad + c)));
        uint32_t packed;
        memcpy(&packed, arg + c, sizeof packed);
        const uint32x4_t index = vmovl_u16(
            vget_low_u16(vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(packed)))));
        float32x4x2_t t, b;
        t.val[0] = vreinterpretq_f32_u32(
            vandq_u32(vceqq_u32(index, vdupq_n_u32(0)), g));
        t.val[1] = vreinterpretq_f32_u32(
            vandq_u32(vceqq_u32(index, vdupq_n_u32(1)), g));
        b.val[0] = vreinterpretq_f32_u32(
            vandq_u32(vceqq_u32(index, vdupq_n_u32(2)), g));
        b.val[1] = vreinterpretq_f32_u32(
            vandq_u32(vceqq_u32(index, vdupq_n_u32(3)), g));
        vst2q_f32(top + 2 * c, t);
        vst2q_f32(bottom + 2 * c, b);
    }
    for (; c < wo; c++) {
        top[2 * c] = top[2 * c + 1] = 0.0f;
        bottom[2 * c] = bottom[2 * c + 1] = 0.0f;
        if (relu && !(relu[c] > 0.0f))
            continue;
        const int k = arg[c];
        (k >> 1 ? bottom : top)[2 * c + (k & 1)] = grad[c];
    }
}

#include "kernels/pool_template.h"

void pool_provide_neon(kernel_table *table)
{
    table->maxpool2x2_forward = maxpool2x2_forward_rows;
    table->maxpool2x2_backward = maxpool2x2_backward_rows;
}
