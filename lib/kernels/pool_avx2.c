/* placeholder until the avx2 kernels are written: delegates to the reference */
#include "kernels/kernels.h"
void maxpool2x2_forward_avx2(size_t p, int h, int w, const float *i, float *o,
                             size_t ps, size_t rs, uint8_t *a)
{
    maxpool2x2_forward_scalar(p, h, w, i, o, ps, rs, a);
}
void maxpool2x2_backward_avx2(size_t p, int h, int w, const float *dy,
                              const uint8_t *a, const float *r, float *dx)
{
    maxpool2x2_backward_scalar(p, h, w, dy, a, r, dx);
}
