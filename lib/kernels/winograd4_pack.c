/* The plain-C packing of F(4x4)'s U (winograd4.h): one (output, input)
 * channel pair at a time, in double. Compiled without contraction, so that
 * the vector packings, which keep its operations and their order, give its
 * bits. */
#include <math.h>
#include <string.h>

#include "kernels/winograd4.h"
#include "kernels/winograd_weight_transform.h"

int winograd4_pack_scalar(const conv_shape *shape, const float *weights,
                          int rotate_swap, int padded_out_channels,
                          float *packed)
{
    int finite = 1;
    const int cin = shape->in_channels, cout = shape->out_channels;
    const int padded = padded_out_channels;
    memset(packed, 0,
           sizeof(float) * WINOGRAD4_FREQUENCIES * (size_t)cin * padded);
    for (int co = 0; co < cout; co++)
        for (int ci = 0; ci < cin; ci++) {
            float g[9];
            winograd_kernel_of(weights, cin, cout, co, ci, rotate_swap, g);
            double u[36];
            winograd_transform_kernel(6, winograd4_transform_g, g, u);
            for (int kj = 0; kj < 36; kj++) {
                /* |U| is at most the largest weight (G's rows sum to at
                 * most 1 in absolute value), so U alone never overflows;
                 * weights within 512 times FLT_MAX (A^T's gain is up to 18
                 * each way) count as overflowing, so that they run direct
                 * as F(2x2)'s do. */
                finite &= isfinite((float)(u[kj] * 512.0)) != 0;
                packed[((size_t)kj * cin + ci) * padded + co] = (float)u[kj];
            }
        }
    return finite;
}
