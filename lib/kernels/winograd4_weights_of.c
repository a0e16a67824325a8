/* G^T M G of the F(4x4) weight gradient (winograd4_weights.h), plain C;
 * winograd4_weights_of_avx512.c does the same operations in the same
 * order on vectors of eight output channels. Compiled without
 * contraction, so both give the same bits. */
#include "kernels/winograd4.h"

/* Output channels per pass: the values stay in L1. */
#define TRANSFORM_CHANNELS 32

/* 24 G^T applied to r[0], .., r[5] (6 values to 3), in double: 24 G has
 * small integer entries, so on integer values this is exact, and the
 * division by 24^2 at the end gives every integer gradient exactly (G's
 * own entries 1/6, 1/12, 1/24 would leave a residue of order 1e-15 where
 * the gradient is 0). The rows of G grouped as sums and differences of
 * the pairs they share: 11 operations instead of 18. */
static void transform_g_transposed(const double r[6], double out[3])
{
    const double sum12 = r[1] + r[2], difference12 = r[1] - r[2];
    const double sum34 = r[3] + r[4], difference34 = r[3] - r[4];
    out[0] = 6.0 * r[0] - 4.0 * sum12 + sum34;
    out[1] = 2.0 * difference34 - 4.0 * difference12;
    out[2] = 4.0 * (sum34 - sum12) + 24.0 * r[5];
}

/* weight_grad = G^T M G = (24 G)^T M (24 G) / 576 of every channel pair,
 * in double, each value rounded once to float; the output channels
 * (contiguous in M) innermost. Multiplying by 1 / 576 (rounded to double)
 * instead of dividing keeps integer results exact: 576 k times it is k
 * within two double roundings, which the rounding to float removes for
 * any integer 0 < |k| < 2^24, and 0 stays 0. */
void winograd4_weights_of_scalar(const conv_shape *shape, int padded_out,
                                 const float *m, float *weight_grad)
{
    const int cin = shape->in_channels, cout = shape->out_channels;
    const size_t frequency = (size_t)cin * padded_out;
    for (int ci = 0; ci < cin; ci++)
        for (int co0 = 0; co0 < cout; co0 += TRANSFORM_CHANNELS) {
            const int n = cout - co0 < TRANSFORM_CHANNELS ? cout - co0
                                                          : TRANSFORM_CHANNELS;
            const float *pair = m + (size_t)ci * padded_out + co0;
            /* G^T M down the columns: gm[a][j]. */
            double gm[3][6][TRANSFORM_CHANNELS];
            for (int j = 0; j < 6; j++)
                for (int c = 0; c < n; c++) {
                    double column[6], out[3];
                    for (int k = 0; k < 6; k++)
                        column[k] = pair[(size_t)(6 * k + j) * frequency + c];
                    transform_g_transposed(column, out);
                    for (int a = 0; a < 3; a++)
                        gm[a][j][c] = out[a];
                }
            /* (G^T M) G along the rows. */
            for (int a = 0; a < 3; a++)
                for (int c = 0; c < n; c++) {
                    double row[6], out[3];
                    for (int j = 0; j < 6; j++)
                        row[j] = gm[a][j][c];
                    transform_g_transposed(row, out);
                    float *dw =
                        weight_grad + ((size_t)(co0 + c) * cin + ci) * 9;
                    for (int b = 0; b < 3; b++)
                        dw[3 * a + b] = (float)(out[b] * (1.0 / 576));
                }
        }
}
