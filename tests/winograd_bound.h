/* The error bound of the Winograd F(2x2, 3x3) forward pass against the
 * direct sum, for tests/test_winograd.c and tests/test_kernels.c (include
 * after kernel_test_support.h).
 *
 * Winograd's result is the exact convolution computed through transforms
 * whose intermediate values are larger than the direct sum's terms and
 * cancel. Each path from an input to an output passes through at most
 * in_channels + 8 roundings (lib/kernels/winograd.h counts them), so the
 * computed value is within gamma(in_channels + 8) times the same expression
 * with every matrix and value replaced by its absolute value (Higham,
 * Accuracy and Stability of Numerical Algorithms, 2nd ed., section 3.1):
 *
 *   |bias| + sum_ci sum_freq |A|(freq, output) * (|G| |g| |G|^T)(freq)
 *                                               * (|B|^T |d| |B|)(freq)
 *
 * winograd_magnitude computes that sum in double. The direct reference has
 * its own error, 2 gamma(9 in_channels + 1) sum|terms| at most against the
 * variant's (the conv tests' bound, test_kernels.c), so the two may differ
 * by gamma(in_channels + 8) * magnitude + gamma(9 in_channels + 1) *
 * sum|terms|. */
#ifndef COSNET_TESTS_WINOGRAD_BOUND_H
#define COSNET_TESTS_WINOGRAD_BOUND_H

#include <math.h>
#include <stddef.h>

#include "kernels/kernels.h"

/* |G|, |B^T| and |A^T| of F(2x2, 3x3). */
static const double winograd_abs_g[4][3] = {
    {1.0, 0.0, 0.0}, {0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}, {0.0, 0.0, 1.0}};
static const double winograd_abs_bt[4][4] = {
    {1, 0, 1, 0}, {0, 1, 1, 0}, {0, 1, 1, 0}, {0, 1, 0, 1}};
static const double winograd_abs_at[2][4] = {{1, 1, 1, 0}, {0, 1, 1, 1}};

/* The magnitude of output (image, co, oy, ox), as above. input_padded and
 * weights as conv3x3_forward_kernel takes them. */
static inline double winograd_magnitude(const conv_shape *shape,
                                        const float *input_padded,
                                        const float *weights, const float *bias,
                                        size_t image, int co, int oy, int ox)
{
    const int cin = shape->in_channels;
    const int hp = conv_padded_height(shape), wp = conv_padded_width(shape);
    const int y0 = oy / 2 * 2, x0 = ox / 2 * 2, r = oy % 2, c = ox % 2;
    double total = bias ? fabs((double)bias[co]) : 0.0;
    for (int ci = 0; ci < cin; ci++) {
        const float *g = weights + ((size_t)co * cin + ci) * 9;
        const float *plane =
            input_padded + ((size_t)image * cin + ci) * (size_t)hp * wp;
        double gg[4][3], u[4][4], dd[4][4], v[4][4];
        for (int k = 0; k < 4; k++)
            for (int b = 0; b < 3; b++) {
                gg[k][b] = 0.0;
                for (int a = 0; a < 3; a++)
                    gg[k][b] +=
                        winograd_abs_g[k][a] * fabs((double)g[a * 3 + b]);
            }
        for (int k = 0; k < 4; k++)
            for (int j = 0; j < 4; j++) {
                u[k][j] = 0.0;
                for (int b = 0; b < 3; b++)
                    u[k][j] += gg[k][b] * winograd_abs_g[j][b];
            }
        for (int k = 0; k < 4; k++)
            for (int x = 0; x < 4; x++) {
                dd[k][x] = 0.0;
                for (int y = 0; y < 4; y++) {
                    const int py = y0 + y, px = x0 + x;
                    if (py < hp && px < wp)
                        dd[k][x] += winograd_abs_bt[k][y] *
                                    fabs((double)plane[(size_t)py * wp + px]);
                }
            }
        for (int k = 0; k < 4; k++)
            for (int j = 0; j < 4; j++) {
                v[k][j] = 0.0;
                for (int x = 0; x < 4; x++)
                    v[k][j] += dd[k][x] * winograd_abs_bt[j][x];
            }
        for (int k = 0; k < 4; k++)
            for (int j = 0; j < 4; j++)
                total += winograd_abs_at[r][k] * winograd_abs_at[c][j] *
                         u[k][j] * v[k][j];
    }
    return total;
}

#endif
