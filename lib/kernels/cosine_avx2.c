/* placeholder until the avx2 kernels are written: delegates to the reference */
#include "kernels/kernels.h"
void cosine_similarity_avx2(size_t n, size_t d, const float *a, const float *b,
                            size_t s, float *c)
{
    cosine_similarity_scalar(n, d, a, b, s, c);
}
float cosine_loss_avx2(size_t n, size_t d, const float *a, const float *b,
                       size_t s, float *g)
{
    return cosine_loss_scalar(n, d, a, b, s, g);
}
