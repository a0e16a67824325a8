/* AVX2+FMA microkernels of the 3x3 convolution: the x86 template
 * (conv_x86_template.h) at 8 lanes, and tile shapes that fit 16 ymm
 * registers (forward tiles of at most 12 accumulators: 4 output channels x
 * 1 row x 2 vectors for rows of 9 to 16 pixels, 4 x 3 x 1 for 8 or fewer;
 * weight tiles of one output channel's 9). Row tails use masked loads
 * (which do not fault on masked-off lanes) and piecewise stores
 * (vmaskmovps stores are slow on AMD cores). The driver is
 * conv_driver.c. */
#include "kernels/simd_avx2.h"

/* Largest tile: accumulators, and vectors per output row segment. */
#define MAX_ACCUMULATORS 12
#define MAX_VECTORS 2
/* Output channels per forward tile; the remainder uses 2 or 1. */
#define FORWARD_BLOCK 4

#include "kernels/conv_x86_template.h"
#include "kernels/winograd.h"

DEFINE_FORWARD_PLAN(1, 12, 6)
DEFINE_FORWARD_PLAN(2, 6, 3)
DEFINE_FORWARD_PLAN_ONE_ROW(4, 3)
DEFINE_WEIGHT_TILE(1)
DEFINE_WEIGHT_STREAM_TILE(1)

/* At most 12 forward accumulators of the 16 registers. */
static const conv3x3_microkernels microkernels_avx2 = {
    CONV_COMMON_FIELDS,
    .plans = {FORWARD_PLAN(1, 12, 6), FORWARD_PLAN(2, 6, 3),
              FORWARD_PLAN(4, 3, 1)},
    /* No pooled strips: with 12 accumulators, two rows of one 8-lane
     * vector for 4 channels leave the FMA pipes idle, and bench_network's
     * forward ran at 59k images/s fused against 78k plain. */
    .pool_strips = {NULL},
    .prefetch_min_bytes = 0,
    .weight_tiles = {NULL, weight_tile_1, NULL, NULL},
    .weight_stream_tiles = {NULL, weight_stream_tile_1, NULL, NULL},
    .winograd = &winograd_avx2,
};

void conv_provide_avx2(kernel_table *table)
{
    table->conv3x3 = &microkernels_avx2;
    table->conv3x3_pool_backward_weights = conv3x3_pool_backward_weights_avx2;
}
