/* AVX-512 microkernels of the 3x3 convolution: the x86 template
 * (conv_x86_template.h) at 16 lanes with mask registers, and the tile
 * shapes that fill 32 zmm registers. The driver is conv_driver.c.
 *
 * Measured on Zen 4 (bench/bench_kernels), batch 20: conv2 of the seed
 * network runs forward at ~95% of the FMA peak, its gradients at ~85%. */
#include <immintrin.h>

#define LANES 16
/* Largest tile: accumulators, and vectors per output row segment. */
#define MAX_ACCUMULATORS 24
#define MAX_VECTORS 2
/* Output channels per forward tile; the remainder uses 4, 2 or 1. */
#define FORWARD_BLOCK 8

#define SIMD_VECTOR __m512
#define SIMD_MASK __mmask16
#define SIMD_LOAD(p) _mm512_loadu_ps(p)
#define SIMD_LOAD_ALIGNED(p) _mm512_load_ps(p)
#define SIMD_LOAD_MASKED(p, mask) _mm512_maskz_loadu_ps(mask, p)
#define SIMD_STORE(p, v) _mm512_storeu_ps(p, v)
#define SIMD_STORE_LAST(p, v, mask, lanes) _mm512_mask_storeu_ps(p, mask, v)
#define SIMD_BROADCAST(x) _mm512_set1_ps(x)
#define SIMD_ZERO() _mm512_setzero_ps()
#define SIMD_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define SIMD_ADD(a, b) _mm512_add_ps(a, b)
#define SIMD_MAX(a, b) _mm512_max_ps(a, b)
#define SIMD_SUM(v) _mm512_reduce_add_ps(v)

/* The first `lanes` lanes (none if lanes <= 0, all if >= 16). */
static inline __mmask16 lanes_mask(int lanes)
{
    if (lanes <= 0)
        return 0;
    return lanes >= LANES ? (__mmask16)0xFFFF
                          : (__mmask16)((1u << (unsigned)lanes) - 1u);
}

#include "kernels/conv_x86_template.h"

DEFINE_FORWARD_STRIP(8, 2, 1)
DEFINE_FORWARD_STRIP(8, 1, 1)
DEFINE_FORWARD_STRIP(8, 1, 2)
DEFINE_FORWARD_STRIP(4, 4, 1)
DEFINE_FORWARD_STRIP(4, 1, 1)
DEFINE_FORWARD_STRIP(4, 2, 2)
DEFINE_FORWARD_STRIP(4, 1, 2)
DEFINE_FORWARD_STRIP(2, 6, 1)
DEFINE_FORWARD_STRIP(2, 1, 1)
DEFINE_FORWARD_STRIP(2, 4, 2)
DEFINE_FORWARD_STRIP(2, 1, 2)
DEFINE_FORWARD_STRIP(1, 10, 1)
DEFINE_FORWARD_STRIP(1, 1, 1)
DEFINE_FORWARD_STRIP(1, 6, 2)
DEFINE_FORWARD_STRIP(1, 1, 2)
DEFINE_WEIGHT_TILE(3)
DEFINE_WEIGHT_TILE(2)
DEFINE_WEIGHT_TILE(1)
DEFINE_WEIGHT_STREAM_TILE(2)
DEFINE_WEIGHT_STREAM_TILE(1)

/* Rows per strip chosen so that the accumulators fill most of the 32
 * registers; weight chunks of 256 KB keep a chunk's inputs and gradients in
 * about half of a 512 KB L2; software prefetch only for batches that do
 * not stay in L2. */
static const conv3x3_microkernels microkernels_avx512 = {
    .lanes = LANES,
    .forward_block = FORWARD_BLOCK,
    .plans =
        {
            {10, 6, forward_strip_1_10_1, forward_strip_1_1_1,
             forward_strip_1_6_2, forward_strip_1_1_2},
            {6, 4, forward_strip_2_6_1, forward_strip_2_1_1,
             forward_strip_2_4_2, forward_strip_2_1_2},
            {4, 2, forward_strip_4_4_1, forward_strip_4_1_1,
             forward_strip_4_2_2, forward_strip_4_1_2},
            {2, 1, forward_strip_8_2_1, forward_strip_8_1_1,
             forward_strip_8_1_2, forward_strip_8_1_2},
        },
    .prefetch_min_bytes = 1024 * 1024,
    .weight_tiles = {NULL, weight_tile_1, weight_tile_2, weight_tile_3},
    .weight_stream_tiles = {NULL, weight_stream_tile_1, weight_stream_tile_2,
                            NULL},
    .weight_chunk_bytes = 256 * 1024,
    .reduce_partials = reduce_partials,
    .sum_planes = sum_planes,
};

void conv_provide_avx512(kernel_table *table)
{
    table->conv3x3 = &microkernels_avx512;
}
