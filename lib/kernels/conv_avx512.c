/* AVX-512 microkernels of the 3x3 convolution: the x86 template
 * (conv_x86_template.h) at 16 lanes with mask registers, and the tile
 * shapes that fill 32 zmm registers. The driver is conv_driver.c.
 *
 * Measured on Zen 4 (bench/bench_kernels), batch 20: conv2 of the seed
 * network runs forward at ~95% of the FMA peak, its gradients at ~85%. */
#include "kernels/simd_avx512.h"

/* Largest tile: accumulators, and vectors per output row segment. */
#define MAX_ACCUMULATORS 24
#define MAX_VECTORS 2
/* Output channels per forward tile; the remainder uses 4, 2 or 1. */
#define FORWARD_BLOCK 8

#include "kernels/conv_x86_template.h"
#include "kernels/winograd.h"
#include "kernels/winograd4.h"

DEFINE_FORWARD_PLAN(1, 10, 6)
DEFINE_FORWARD_PLAN(2, 6, 4)
DEFINE_FORWARD_PLAN(4, 4, 2)
DEFINE_FORWARD_PLAN_ONE_ROW(8, 2)
DEFINE_FORWARD_POOL_STRIPS
DEFINE_FORWARD_POOL_STRIP(8)
DEFINE_WEIGHT_TILE(3)
DEFINE_WEIGHT_TILE(2)
DEFINE_WEIGHT_TILE(1)
DEFINE_WEIGHT_STREAM_TILE(2)
DEFINE_WEIGHT_STREAM_TILE(1)

/* Rows per strip chosen so that the accumulators fill most of the 32
 * registers; software prefetch only for batches that do not stay in a
 * 512 KB L2. */
static const conv3x3_microkernels microkernels_avx512 = {
    CONV_COMMON_FIELDS,
    .plans = {FORWARD_PLAN(1, 10, 6), FORWARD_PLAN(2, 6, 4),
              FORWARD_PLAN(4, 4, 2), FORWARD_PLAN(8, 2, 1)},
    .pool_strips = {FORWARD_POOL_STRIPS, forward_pool_strip_8},
    .prefetch_min_bytes = 1024 * 1024,
    .weight_tiles = {NULL, weight_tile_1, weight_tile_2, weight_tile_3},
    .weight_stream_tiles = {NULL, weight_stream_tile_1, weight_stream_tile_2,
                            NULL},
    .winograd = &winograd_avx512,
    .winograd4 = &winograd4_avx512,
};

void conv_provide_avx512(kernel_table *table)
{
    table->conv3x3 = &microkernels_avx512;
}
