/* The plain-C packing of F(4x4)'s U (winograd4.h): one (output, input)
 * channel pair at a time, in double. Compiled without contraction, so that
 * the vector packings, which keep its operations and their order, give its
 * bits. */
#include "kernels/winograd4.h"
#include "kernels/winograd_weight_transform.h"

int winograd4_pack_scalar(const conv_shape *shape, const float *weights,
                          int rotate_swap, int padded_out_channels,
                          float *packed)
{
    /* |U| is at most the largest weight (G's rows sum to at most 1 in
     * absolute value), so U alone never overflows; weights within 512
     * times FLT_MAX (A^T's gain is up to 18 each way) count as
     * overflowing, so that they run direct as F(2x2)'s do. */
    return winograd_pack_pairs(6, winograd4_transform_g, 512.0, shape, weights,
                               rotate_swap, padded_out_channels, packed);
}
