/* Plain-C reference for the torch-compatible cosine similarity and the
 * cosine loss with its gradient (docs/math.md): the per-row steps in
 * plain loops, under the loops of cosine_template.h. */
#include "kernels/cosine_template.h"

static inline void row_sums(size_t dims, const float *x, const float *y,
                            float *dot, float *xx, float *yy)
{
    *dot = *xx = *yy = 0.0f;
    add_row_sums(0, dims, x, y, dot, xx, yy);
}

static inline void row_gradient(size_t dims, const float *x, const float *y,
                                float *g, float scale, float inverse_norm,
                                float along)
{
    for (size_t d = 0; d < dims; d++)
        g[d] = -scale * (y[d] * inverse_norm - along * x[d]);
}

void cosine_similarity_scalar(size_t count, size_t dims, const float *a,
                              const float *b, size_t b_stride, float *cos_out)
{
    cosine_similarity_rows(count, dims, a, b, b_stride, cos_out);
}

float cosine_loss_scalar(size_t count, size_t dims, const float *a,
                         const float *b, size_t b_stride, float *grad_a)
{
    return cosine_loss_rows(count, dims, a, b, b_stride, grad_a);
}
