/* Internal: U = G g G^T of one 3 x 3 kernel g, in double, for the
 * packings of F(2x2) (winograd.c) and F(4x4) (winograd4_pack.c; its AVX-512
 * packing, winograd4_pack_avx512.c, keeps the same operations in the same
 * order). */
#ifndef COSNET_KERNELS_WINOGRAD_WEIGHT_TRANSFORM_H
#define COSNET_KERNELS_WINOGRAD_WEIGHT_TRANSFORM_H

#include <stddef.h>

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

#endif
