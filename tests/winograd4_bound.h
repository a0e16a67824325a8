/* The error bound of the Winograd F(4x4, 3x3) forward pass
 * (lib/kernels/winograd4.h) against the direct sum, for
 * tests/test_winograd4.c and tests/test_kernels.c (include after
 * kernel_test_support.h); winograd_bound.h explains the form.
 *
 * A path from an input to an output passes through at most
 * in_channels + 13 roundings: U, computed in double and rounded once to
 * float, counted as 2 (the double's own error is below one float
 * rounding); V = B^T d B, 2 per direction (every row of B^T is at most two
 * fused multiply-adds or an add after one); the products and the sum over
 * input channels, in_channels; A^T M A, 3 per direction; the bias, 1. So the
 * computed value is within gamma(in_channels + 13) times
 *
 *   |bias| + sum_ci sum_freq |A|(freq, output) * (|G| |g| |G|^T)(freq)
 *                                               * (|B|^T |d| |B|)(freq)
 *
 * which winograd4_magnitude computes in double. The transforms' entries
 * (up to 5 in B^T, 8 in A^T) make this magnitude much larger than the
 * direct sum's sum|terms|, so F(4x4) is less accurate than F(2x2). */
#ifndef COSNET_TESTS_WINOGRAD4_BOUND_H
#define COSNET_TESTS_WINOGRAD4_BOUND_H

#include <math.h>
#include <stddef.h>

#include "kernels/kernels.h"

#define WINOGRAD4_ROUNDINGS(in_channels) ((in_channels) + 13.0)

/* |G|, |B^T| and |A^T| of F(4x4, 3x3). */
static const double winograd4_abs_g[6][3] = {
    {1.0 / 4, 0.0, 0.0},           {1.0 / 6, 1.0 / 6, 1.0 / 6},
    {1.0 / 6, 1.0 / 6, 1.0 / 6},   {1.0 / 24, 1.0 / 12, 1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6}, {0.0, 0.0, 1.0}};
static const double winograd4_abs_bt[6][6] = {
    {4, 0, 5, 0, 1, 0}, {0, 4, 4, 1, 1, 0}, {0, 4, 4, 1, 1, 0},
    {0, 2, 1, 2, 1, 0}, {0, 2, 1, 2, 1, 0}, {0, 4, 0, 5, 0, 1}};
static const double winograd4_abs_at[4][6] = {{1, 1, 1, 1, 1, 0},
                                              {0, 1, 1, 2, 2, 0},
                                              {0, 1, 1, 4, 4, 0},
                                              {0, 1, 1, 8, 8, 1}};

/* The magnitude of output (image, co, oy, ox). input_padded and weights as
 * conv3x3_forward_kernel takes them; rows and columns past the padded
 * input count as zeros, as in the stages. */
static inline double winograd4_magnitude(const conv_shape *shape,
                                         const float *input_padded,
                                         const float *weights,
                                         const float *bias, size_t image,
                                         int co, int oy, int ox)
{
    const int cin = shape->in_channels;
    const int hp = conv_padded_height(shape), wp = conv_padded_width(shape);
    const int y0 = oy / 4 * 4, x0 = ox / 4 * 4, r = oy % 4, c = ox % 4;
    double total = bias ? fabs((double)bias[co]) : 0.0;
    for (int ci = 0; ci < cin; ci++) {
        const float *g = weights + ((size_t)co * cin + ci) * 9;
        const float *plane =
            input_padded + ((size_t)image * cin + ci) * (size_t)hp * wp;
        double gg[6][3], u[6][6], dd[6][6], v[6][6];
        for (int k = 0; k < 6; k++)
            for (int b = 0; b < 3; b++) {
                gg[k][b] = 0.0;
                for (int a = 0; a < 3; a++)
                    gg[k][b] +=
                        winograd4_abs_g[k][a] * fabs((double)g[a * 3 + b]);
            }
        for (int k = 0; k < 6; k++)
            for (int j = 0; j < 6; j++) {
                u[k][j] = 0.0;
                for (int b = 0; b < 3; b++)
                    u[k][j] += gg[k][b] * winograd4_abs_g[j][b];
            }
        for (int k = 0; k < 6; k++)
            for (int x = 0; x < 6; x++) {
                dd[k][x] = 0.0;
                for (int y = 0; y < 6; y++) {
                    const int py = y0 + y, px = x0 + x;
                    if (py < hp && px < wp)
                        dd[k][x] += winograd4_abs_bt[k][y] *
                                    fabs((double)plane[(size_t)py * wp + px]);
                }
            }
        for (int k = 0; k < 6; k++)
            for (int j = 0; j < 6; j++) {
                v[k][j] = 0.0;
                for (int x = 0; x < 6; x++)
                    v[k][j] += dd[k][x] * winograd4_abs_bt[j][x];
            }
        for (int k = 0; k < 6; k++)
            for (int j = 0; j < 6; j++)
                total += winograd4_abs_at[r][k] * winograd4_abs_at[c][j] *
                         u[k][j] * v[k][j];
    }
    return total;
}

#endif
