/* Plain-C reference for the torch-compatible cosine similarity and the
 * cosine loss with its gradient (SPEC section 2). */
#include <math.h>

#include "kernels/kernels.h"

void cosine_similarity_scalar(size_t count, size_t dims, const float *a,
                              const float *b, size_t b_stride, float *cos_out)
{
    for (size_t i = 0; i < count; i++) {
        const float *x = a + i * dims, *y = b + i * b_stride;
        float dot = 0.0f, xx = 0.0f, yy = 0.0f;
        for (size_t d = 0; d < dims; d++) {
            dot += x[d] * y[d];
            xx += x[d] * x[d];
            yy += y[d] * y[d];
        }
        float product = xx * yy;
        const float floor = COSINE_EPSILON * COSINE_EPSILON;
        cos_out[i] = dot / sqrtf(product > floor ? product : floor);
    }
}

float cosine_loss_scalar(size_t count, size_t dims, const float *a,
                         const float *b, size_t b_stride, float *grad_a)
{
    const float floor = COSINE_EPSILON * COSINE_EPSILON;
    const float scale = 1.0f / (float)count;
    float loss = 0.0f;
    for (size_t i = 0; i < count; i++) {
        const float *x = a + i * dims, *y = b + i * b_stride;
        float dot = 0.0f, xx = 0.0f, yy = 0.0f;
        for (size_t d = 0; d < dims; d++) {
            dot += x[d] * y[d];
            xx += x[d] * x[d];
            yy += y[d] * y[d];
        }
        float product = xx * yy;
        int clamped = !(product > floor);
        float inverse_norm = 1.0f / sqrtf(clamped ? floor : product);
        float cosine = dot * inverse_norm;
        loss += 1.0f - cosine;
        if (!grad_a)
            continue;
        float *g = grad_a + i * dims;
        /* Clamped: the denominator is the constant eps, so dcos/da = b/eps. */
        float along_a = clamped ? 0.0f : cosine / xx;
        for (size_t d = 0; d < dims; d++)
            g[d] = -scale * (y[d] * inverse_norm - along_a * x[d]);
    }
    return loss * scale;
}
