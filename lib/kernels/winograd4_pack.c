/* The plain-C packing of F(4x4)'s U (winograd4.h): one (output, input)
 * channel pair at a time, in double. Compiled without contraction, so that
 * the vector packings, which keep its operations and their order, give its
 * bits. */
#include <math.h>
#include <string.h>

#include "kernels/winograd4.h"
#include "kernels/winograd4_transform.h"

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
            /* The 3 x 3 kernel of (co, ci), as winograd_pack takes it. */
            float g[9];
            for (int k = 0; k < 9; k++)
                g[k] = rotate_swap
                           ? weights[((size_t)ci * cout + co) * 9 + (8 - k)]
                           : weights[((size_t)co * cin + ci) * 9 + k];
            double gg[6][3];
            for (int k = 0; k < 6; k++)
                for (int b = 0; b < 3; b++)
                    gg[k][b] = winograd4_transform_g[k][0] * g[b] +
                               winograd4_transform_g[k][1] * g[3 + b] +
                               winograd4_transform_g[k][2] * g[6 + b];
            for (int k = 0; k < 6; k++)
                for (int j = 0; j < 6; j++) {
                    const double u = gg[k][0] * winograd4_transform_g[j][0] +
                                     gg[k][1] * winograd4_transform_g[j][1] +
                                     gg[k][2] * winograd4_transform_g[j][2];
                    /* |U| is at most the largest weight (G's rows sum to
                     * at most 1 in absolute value), so U alone never
                     * overflows; weights within 512 times FLT_MAX (A^T's
                     * gain is up to 18 each way) count as overflowing, so
                     * that they run direct as F(2x2)'s do. */
                    finite &= isfinite((float)(u * 512.0)) != 0;
                    packed[((size_t)(k * 6 + j) * cin + ci) * padded + co] =
                        (float)u;
                }
        }
    return finite;
}
