/* placeholder until the avx2 kernels are written: delegates to the reference */
#include "kernels/kernels.h"
void conv3x3_forward_avx2(const conv_shape *s, size_t n, const float *i,
                          const float *w, const float *b, int r, float *o)
{
    conv3x3_forward_scalar(s, n, i, w, b, r, o);
}
void conv3x3_backward_input_avx2(const conv_shape *s, size_t n, const float *w,
                                 const float *dy, float *dx)
{
    conv3x3_backward_input_scalar(s, n, w, dy, dx);
}
void conv3x3_backward_weights_avx2(const conv_shape *s, size_t n,
                                   const float *i, const float *dy, float *dw,
                                   float *db)
{
    conv3x3_backward_weights_scalar(s, n, i, dy, dw, db);
}
