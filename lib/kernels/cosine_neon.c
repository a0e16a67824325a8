/* NEON cosine similarity and cosine loss with its gradient (SPEC section
 * 2), with the reference's clamp of |a|^2 |b|^2 at eps^2. Each row's three
 * sums run in two sets of 4-lane accumulators (eight floats per step), the
 * leftover floats one at a time, so nothing is read past a row. */
#include <arm_neon.h>
#include <math.h>

#include "kernels/kernels.h"

typedef struct row_sums {
    float dot, xx, yy;
} row_sums;

static inline row_sums sums_of(size_t dims, const float *x, const float *y)
{
    float32x4_t dot0 = vdupq_n_f32(0.0f), dot1 = dot0;
    float32x4_t xx0 = dot0, xx1 = dot0, yy0 = dot0, yy1 = dot0;
    size_t d = 0;
    for (; d + 8 <= dims; d += 8) {
        const float32x4_t x0 = vld1q_f32(x + d), x1 = vld1q_f32(x + d + 4);
        const float32x4_t y0 = vld1q_f32(y + d), y1 = vld1q_f32(y + d + 4);
        dot0 = vfmaq_f32(dot0, x0, y0);
        dot1 = vfmaq_f32(dot1, x1, y1);
        xx0 = vfmaq_f32(xx0, x0, x0);
        xx1 = vfmaq_f32(xx1, x1, x1);
        yy0 = vfmaq_f32(yy0, y0, y0);
        yy1 = vfmaq_f32(yy1, y1, y1);
    }
    if (d + 4 <= dims) {
        const float32x4_t x0 = vld1q_f32(x + d), y0 = vld1q_f32(y + d);
        dot0 = vfmaq_f32(dot0, x0, y0);
        xx0 = vfmaq_f32(xx0, x0, x0);
        yy0 = vfmaq_f32(yy0, y0, y0);
        d += 4;
    }
    row_sums s = {vaddvq_f32(vaddq_f32(dot0, dot1)),
                  vaddvq_f32(vaddq_f32(xx0, xx1)),
                  vaddvq_f32(vaddq_f32(yy0, yy1))};
    for (; d < dims; d++) {
        s.dot += x[d] * y[d];
        s.xx += x[d] * x[d];
        s.yy += y[d] * y[d];
    }
    return s;
}

static void cosine_similarity_neon(size_t count, size_t dims, const float *a,
                                   const float *b, size_t b_stride,
                                   float *cos_out)
{
    const float floor = COSINE_EPSILON * COSINE_EPSILON;
    for (size_t i = 0; i < count; i++) {
        const row_sums s = sums_of(dims, a + i * dims, b + i * b_stride);
        const float product = s.xx * s.yy;
        cos_out[i] = s.dot / sqrtf(product > floor ? product : floor);
    }
}

static float cosine_loss_neon(size_t count, size_t dims, const float *a,
                              const float *b, size_t b_stride, float *grad_a)
{
    const float floor = COSINE_EPSILON * COSINE_EPSILON;
    const float scale = 1.0f / (float)count;
    float loss = 0.0f;
    for (size_t i = 0; i < count; i++) {
        const float *x = a + i * dims, *y = b + i * b_stride;
        const row_sums s = sums_of(dims, x, y);
        const float product = s.xx * s.yy;
        const int clamped = !(product > floor);
        const float inverse_norm = 1.0f / sqrtf(clamped ? floor : product);
        const float cosine = s.dot * inverse_norm;
        loss += 1.0f - cosine;
        if (!grad_a)
            continue;
        float *g = grad_a + i * dims;
        /* Clamped: the denominator is the constant eps, so dcos/da = b/eps.
         * g = -scale * (y * inverse_norm - along_a * x). */
        const float along_a = clamped ? 0.0f : cosine / s.xx;
        const float y_factor = -scale * inverse_norm;
        const float x_factor = scale * along_a;
        size_t d = 0;
        for (; d + 4 <= dims; d += 4) {
            const float32x4_t term = vmulq_n_f32(vld1q_f32(y + d), y_factor);
            vst1q_f32(g + d, vfmaq_n_f32(term, vld1q_f32(x + d), x_factor));
        }
        for (; d < dims; d++)
            g[d] = y_factor * y[d] + x_factor * x[d];
    }
    return loss * scale;
}

void cosine_provide_neon(kernel_table *table)
{
    table->cosine_similarity = cosine_similarity_neon;
    table->cosine_loss = cosine_loss_neon;
}
