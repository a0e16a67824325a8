/* NEON 2x2 max-pool, stride 2, and its gradient. De-interleaving loads
 * (ld2) split each row into the windows' left and right pixels, four
 * windows at a time; strict ordered > comparisons in window order
 * reproduce the reference's first-maximum rule (and its NaN behaviour).
 * The gradient is written with interleaving stores (st2), which cover every
 * pixel of the windows, so only the dropped odd row and column need
 * zeroing. Columns left over after the last group of four are done one
 * window at a time, so nothing is read or written past a buffer. */
#include <arm_neon.h>
#include <string.h>

#include "kernels/kernels.h"

#define LANES 4

/* The reference's rule for one window: strictly greater replaces. */
static inline int window_best(const float *top, int width, float *value)
{
    const float window[4] = {top[0], top[1], top[width], top[width + 1]};
    int best = 0;
    for (int k = 1; k < 4; k++)
        if (window[k] > window[best])
            best = k;
    *value = window[best];
    return best;
}

static void maxpool2x2_forward_neon(size_t planes, int height, int width,
                                    const float *input, float *output,
                                    size_t output_plane_stride,
                                    size_t output_row_stride, uint8_t *argmax)
{
    const int ho = height / 2, wo = width / 2;
    const uint32x4_t one = vdupq_n_u32(1), two = vdupq_n_u32(2),
                     three = vdupq_n_u32(3);
    for (size_t p = 0; p < planes; p++) {
        const float *in = input + p * (size_t)height * width;
        float *out = output + p * output_plane_stride;
        uint8_t *arg = argmax + p * (size_t)ho * wo;
        for (int r = 0; r < ho; r++) {
            const float *top = in + (size_t)(2 * r) * width;
            const float *bottom = top + width;
            float *out_row = out + r * output_row_stride;
            uint8_t *arg_row = arg + (size_t)r * wo;
            int c = 0;
            for (; c + LANES <= wo; c += LANES) {
                const float32x4x2_t t = vld2q_f32(top + 2 * c);
                const float32x4x2_t b = vld2q_f32(bottom + 2 * c);
                float32x4_t best = t.val[0];
                uint32x4_t index = vdupq_n_u32(0);
                uint32x4_t greater = vcgtq_f32(t.val[1], best);
                best = vbslq_f32(greater, t.val[1], best);
                index = vbslq_u32(greater, one, index);
                greater = vcgtq_f32(b.val[0], best);
                best = vbslq_f32(greater, b.val[0], best);
                index = vbslq_u32(greater, two, index);
                greater = vcgtq_f32(b.val[1], best);
                best = vbslq_f32(greater, b.val[1], best);
                index = vbslq_u32(greater, three, index);
                vst1q_f32(out_row + c, best);
                /* The low byte of each lane, as 4 consecutive bytes. */
                const uint16x4_t narrow = vmovn_u32(index);
                const uint8x8_t bytes = vmovn_u16(vcombine_u16(narrow, narrow));
                const uint32_t packed =
                    vget_lane_u32(vreinterpret_u32_u8(bytes), 0);
                memcpy(arg_row + c, &packed, sizeof packed);
            }
            for (; c < wo; c++) {
                float value;
                arg_row[c] = (uint8_t)window_best(top + 2 * c, width, &value);
                out_row[c] = value;
            }
        }
    }
}

static void maxpool2x2_backward_neon(size_t planes, int height, int width,
                                     const float *output_grad,
                                     const uint8_t *argmax,
                                     const float *relu_output,
                                     float *input_grad)
{
    const int ho = height / 2, wo = width / 2;
    const float32x4_t zero = vdupq_n_f32(0.0f);
    for (size_t p = 0; p < planes; p++) {
        float *dx = input_grad + p * (size_t)height * width;
        const size_t base = p * (size_t)ho * wo;
        for (int r = 0; r < ho; r++) {
            float *top = dx + (size_t)(2 * r) * width;
            float *bottom = top + width;
            const size_t row = base + (size_t)r * wo;
            int c = 0;
            for (; c + LANES <= wo; c += LANES) {
                uint32x4_t pass = vdupq_n_u32(~0u);
                if (relu_output)
                    pass = vcgtq_f32(vld1q_f32(relu_output + row + c), zero);
                const uint32x4_t g = vandq_u32(
                    pass,
                    vreinterpretq_u32_f32(vld1q_f32(output_grad + row + c)));
                uint32_t packed;
                memcpy(&packed, argmax + row + c, sizeof packed);
                const uint32x4_t index = vmovl_u16(vget_low_u16(
                    vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(packed)))));
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
                const size_t o = row + (size_t)c;
                top[2 * c] = top[2 * c + 1] = 0.0f;
                bottom[2 * c] = bottom[2 * c + 1] = 0.0f;
                if (relu_output && !(relu_output[o] > 0.0f))
                    continue;
                const int k = argmax[o];
                (k >> 1 ? bottom : top)[2 * c + (k & 1)] = output_grad[o];
            }
            if (width & 1)
                top[width - 1] = bottom[width - 1] = 0.0f;
        }
        if (height & 1)
            memset(dx + (size_t)(height - 1) * width, 0,
                   sizeof(float) * (size_t)width);
    }
}

void pool_provide_neon(kernel_table *table)
{
    table->maxpool2x2_forward = maxpool2x2_forward_neon;
    table->maxpool2x2_backward = maxpool2x2_backward_neon;
}
