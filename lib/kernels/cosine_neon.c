/* NEON cosine similarity and cosine loss with its gradient
 * (docs/math.md), with the reference's clamp of |a|^2 |b|^2 at eps^2. Each
 * row's three sums run in two sets of 4-lane accumulators (eight floats per
 * step), the leftover floats one at a time, so nothing is read past a row. The
 * loops around these steps are cosine_template.h's. */
#include <arm_neon.h>

#include "kernels/cosine_template.h"

static inline void row_sums(size_t dims, const float *x, const float *y,
                            float *dot, float *xx, float *yy)
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
    *dot = vaddvq_f32(vaddq_f32(dot0, dot1));
    *xx = vaddvq_f32(vaddq_f32(xx0, xx1));
    *yy = vaddvq_f32(vaddq_f32(yy0, yy1));
    add_row_sums(d, dims, x, y, dot, xx, yy);
}

/* g = -scale * (y * inverse_norm - along * x), as y * y_factor + x *
 * x_factor. */
static inline void row_gradient(size_t dims, const float *x, const float *y,
                                float *g, float scale, float inverse_norm,
                                float along)
{
    const float y_factor = -scale * inverse_norm;
    const float x_factor = scale * along;
    size_t d = 0;
    for (; d + 4 <= dims; d += 4) {
        const float32x4_t term = vmulq_n_f32(vld1q_f32(y + d), y_factor);
        vst1q_f32(g + d, vfmaq_n_f32(term, vld1q_f32(x + d), x_factor));
    }
    for (; d < dims; d++)
        g[d] = y_factor * y[d] + x_factor * x[d];
}

void cosine_provide_neon(kernel_table *table)
{
    table->cosine_similarity = cosine_similarity_rows;
    table->cosine_loss = cosine_loss_rows;
}
