/* Internal: U = G g G^T of one 3 x 3 kernel g, in double, for the
 * packings of F(2x2) (winograd.c) and F(4x4) (winograd4_pack.c; its AVX-512
 * packing, winograd4_pack_avx512.c, keeps the same operations in the same
 * order). */
#ifndef COSNET_KERNELS_WINOGRAD_WEIGHT_TRANSFORM_H
#define COSNET_KERNELS_WINOGRAD_WEIGHT_TRANSFORM_H

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "kernels/kernels.h"

/* G of F(2x2, 3x3) and of F(4x4, 3x3). */
static const double winograd_transform_g[4][3] = {
    {1.0, 0.0, 0.0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0.0, 0.0, 1.0}};
static const double winograd4_transform_g[6][3] = {
    {1.0 / 4, 0.0, 0.0},
    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6},
    {1.0 / 24, -1.0 / 12, 1.0 / 6},
    {0.0, 0.0, 1.0}};

/* The 3 x 3 kernel of (co, ci) from OIHW weights of cout x cin channels;
 * with rotate_swap, the input gradient's: rotated by 180 degrees and taken
 * from the swapped channels (the weights are cin x cout). */
static inline void winograd_kernel_of(const float *weights, int cin, int cout,
                                      int co, int ci, int rotate_swap,
                                      float g[9])
{
    for (int k = 0; k < 9; k++)
        g[k] = rotate_swap ? weights[((size_t)ci * cout + co) * 9 + (8 - k)]
                           : weights[((size_t)co * cin + ci) * 9 + k];
}

/* u[k * points + j] = (G g G^T)[k][j] for G of `points` rows, in double:
 * each sum from left to right, unrounded to float. */
static inline void winograd_transform_kernel(int points,
                                             const double (*transform_g)[3],
                                             const float g[9], double *u)
{
    double gg[6][3];
    for (int k = 0; k < points; k++)
        for (int b = 0; b < 3; b++)
            gg[k][b] = transform_g[k][0] * g[b] + transform_g[k][1] * g[3 + b] +
                       transform_g[k][2] * g[6 + b];
    for (int k = 0; k < points; k++)
        for (int j = 0; j < points; j++)
            u[k * points + j] = gg[k][0] * transform_g[j][0] +
                                gg[k][1] * transform_g[j][1] +
                                gg[k][2] * transform_g[j][2];
}

/* The whole packing, one (output, input) channel pair at a time: U
 * [points^2][in_channels][padded_out_channels] of `shape`'s weights (or,
 * with rotate_swap, the input gradient's), zeros past out_channels, each
 * value rounded once to float. Returns whether every value of U times
 * overflow_scale is finite in float. */
static inline int winograd_pack_pairs(int points,
                                      const double (*transform_g)[3],
                                      double overflow_scale,
                                      const conv_shape *shape,
                                      const float *weights, int rotate_swap,
                                      int padded_out_channels, float *packed)
{
    int finite = 1;
    const int cin = shape->in_channels, cout = shape->out_channels;
    const size_t padded = (size_t)padded_out_channels;
    const int frequencies = points * points;
    memset(packed, 0, sizeof(float) * (size_t)frequencies * cin * padded);
    for (int co = 0; co < cout; co++)
        for (int ci = 0; ci < cin; ci++) {
            float g[9];
            winograd_kernel_of(weights, cin, cout, co, ci, rotate_swap, g);
            double u[36];
            winograd_transform_kernel(points, transform_g, g, u);
            for (int kj = 0; kj < frequencies; kj++) {
                finite &= isfinite((float)(u[kj] * overflow_scale)) != 0;
                packed[((size_t)kj * cin + ci) * padded + co] = (float)u[kj];
            }
        }
    return finite;
}

#endif
