/* The softmax cross-entropy of scaled cosines and its gradient. */
#include "kernels/softmax_cosine.h"

#include <math.h>

#include "kernels/kernels.h"

/* cos(x, v) with the cosine loss's clamp, and what its gradient needs:
 * dcos/dx = v * inverse_norm - along * x. */
static float clamped_cosine(size_t dims, const float *x, const float *v,
                            float xx, float *inverse_norm, float *along)
{
    const float floor = COSINE_EPSILON * COSINE_EPSILON;
    float dot = 0.0f, vv = 0.0f;
    for (size_t d = 0; d < dims; d++) {
        dot += x[d] * v[d];
        vv += v[d] * v[d];
    }
    const float product = xx * vv;
    const int clamped = !(product > floor);
    *inverse_norm = 1.0f / sqrtf(clamped ? floor : product);
    const float cosine = dot * *inverse_norm;
    /* Clamped, the denominator is the constant eps: dcos/dx = v / eps. */
    *along = clamped ? 0.0f : cosine / xx;
    return cosine;
}

float softmax_cosine_loss(size_t count, size_t dims, const float *a,
                          const float *labels, size_t label_count,
                          const uint32_t *classes, float scale, float *grad_a)
{
    double loss = 0.0;
    const double share = 1.0 / (double)count;
    for (size_t i = 0; i < count; i++) {
        const float *x = a + i * dims;
        float xx = 0.0f;
        for (size_t d = 0; d < dims; d++)
            xx += x[d] * x[d];
        /* The cosines are recomputed in each pass rather than stored: no
         * scratch sized by the label count, for a few hundred operations. */
        const size_t own = classes[i];
        float inverse_norm, along, top = -INFINITY, own_z = 0.0f;
        for (size_t k = 0; k < label_count; k++) {
            const float z = scale * clamped_cosine(dims, x, labels + k * dims,
                                                   xx, &inverse_norm, &along);
            top = z > top ? z : top;
            own_z = k == own ? z : own_z;
        }
        double sum = 0.0;
        for (size_t k = 0; k < label_count; k++)
            sum +=
                exp((double)(scale * clamped_cosine(dims, x, labels + k * dims,
                                                    xx, &inverse_norm, &along) -
                             top));
        loss += log(sum) - (double)(own_z - top);
        if (!grad_a)
            continue;
        /* dL_i/dz_k = p_k - [k = own]; dz_k/dx = scale dcos_k/dx. */
        float *g = grad_a + i * dims;
        for (size_t d = 0; d < dims; d++)
            g[d] = 0.0f;
        for (size_t k = 0; k < label_count; k++) {
            const float *v = labels + k * dims;
            const float z =
                scale * clamped_cosine(dims, x, v, xx, &inverse_norm, &along);
            const double p = exp((double)(z - top)) / sum;
            const float weight =
                (float)((p - (k == own ? 1.0 : 0.0)) * share) * scale;
            for (size_t d = 0; d < dims; d++)
                g[d] += weight * (v[d] * inverse_norm - along * x[d]);
        }
    }
    return (float)(loss * share);
}
