/* The cosine similarity and cosine loss (docs/math.md) written once for
 * every ISA: cosine_scalar.c (the reference), cosine_neon.c and the x86
 * files (through cosine_x86_template.h) each include this file and define
 * the two per-row steps declared below; it defines cosine_similarity_rows
 * and cosine_loss_rows over them. The scalar epilogue (clamp, square root,
 * loss) is the reference's everywhere, so only the summation order differs from
 * it.
 *
 * Defined by the including file:
 *   row_sums(dims, x, y, &dot, &xx, &yy): a.b, |a|^2 and |b|^2 of one row
 *     pair;
 *   row_gradient(dims, x, y, g, scale, inverse_norm, along):
 *     g = -scale * (y * inverse_norm - along * x). */
#ifndef COSNET_KERNELS_COSINE_TEMPLATE_H
#define COSNET_KERNELS_COSINE_TEMPLATE_H

#include <math.h>

#include "kernels/kernels.h"

static inline void row_sums(size_t dims, const float *x, const float *y,
                            float *dot, float *xx, float *yy);
static inline void row_gradient(size_t dims, const float *x, const float *y,
                                float *g, float scale, float inverse_norm,
                                float along);

/* Adds the terms of elements from..dims-1 to the three sums, one element
 * at a time: the reference's loop, and the tail of the NEON one. */
static inline void add_row_sums(size_t from, size_t dims, const float *x,
                                const float *y, float *dot, float *xx,
                                float *yy)
{
    float d_sum = *dot, x_sum = *xx, y_sum = *yy;
    for (size_t d = from; d < dims; d++) {
        d_sum += x[d] * y[d];
        x_sum += x[d] * x[d];
        y_sum += y[d] * y[d];
    }
    *dot = d_sum;
    *xx = x_sum;
    *yy = y_sum;
}

/* A row whose float sums overflow (|a| |b| beyond about 1.8e19, from huge
 * label vectors or outputs): the same cosine in double, which holds any
 * float's square. Only taken when the float form has no answer, so the
 * result of every other row is the float one, bit for bit. */
static float cosine_similarity_row_wide(size_t dims, const float *x,
                                        const float *y)
{
    double dot = 0.0, xx = 0.0, yy = 0.0;
    for (size_t d = 0; d < dims; d++) {
        dot += (double)x[d] * y[d];
        xx += (double)x[d] * x[d];
        yy += (double)y[d] * y[d];
    }
    const double floor = (double)COSINE_EPSILON * COSINE_EPSILON;
    const double product = xx * yy;
    return (float)(dot / sqrt(product > floor ? product : floor));
}

static void cosine_similarity_rows(size_t count, size_t dims, const float *a,
                                   const float *b, size_t b_stride,
                                   float *cos_out)
{
    const float floor = COSINE_EPSILON * COSINE_EPSILON;
    for (size_t i = 0; i < count; i++) {
        float dot, xx, yy;
        row_sums(dims, a + i * dims, b + i * b_stride, &dot, &xx, &yy);
        const float product = xx * yy;
        if (isinf(product) || isinf(dot))
            cos_out[i] = cosine_similarity_row_wide(dims, a + i * dims,
                                                    b + i * b_stride);
        else
            cos_out[i] = dot / sqrtf(product > floor ? product : floor);
    }
}

static float cosine_loss_rows(size_t count, size_t dims, const float *a,
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
        /* Clamped: the denominator is the constant eps, so dcos/da = b/eps. */
        const float along = clamped ? 0.0f : cosine / xx;
        row_gradient(dims, x, y, grad_a + i * dims, scale, inverse_norm, along);
    }
    return loss * scale;
}

#endif
