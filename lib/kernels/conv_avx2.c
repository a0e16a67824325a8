/* AVX2+FMA microkernels of the 3x3 convolution: the x86 template
 * (conv_x86_template.h) at 8 lanes, and tile shapes that fit 16 ymm
 * registers (forward tiles of at most 12 accumulators: 4 output channels x
 * 1 row x 2 vectors for rows of 9 to 16 pixels, 4 x 3 x 1 for 8 or fewer;
 * weight tiles of one output channel's 9). Row tails use masked loads
 * (which do not fault on masked-off lanes) and piecewise stores
 * (vmaskmovps stores are slow on AMD cores). The driver is
 * conv_driver.c. */
#include <immintrin.h>

#include "kernels/simd_common.h"

#define LANES 8
/* Largest tile: accumulators, and vectors per output row segment. */
#define MAX_ACCUMULATORS 12
#define MAX_VECTORS 2
/* Output channels per forward tile; the remainder uses 2 or 1. */
#define FORWARD_BLOCK 4

/* All-ones in the first `lanes` lanes (none if lanes <= 0). */
static inline __m256i lanes_mask(int lanes)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline float horizontal_sum(__m256 v)
{
    __m128 x =
        _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

#define SIMD_VECTOR __m256
#define SIMD_MASK __m256i
#define SIMD_LOAD(p) _mm256_loadu_ps(p)
#define SIMD_LOAD_ALIGNED(p) _mm256_load_ps(p)
#define SIMD_LOAD_MASKED(p, mask) _mm256_maskload_ps(p, mask)
#define SIMD_STORE(p, v) _mm256_storeu_ps(p, v)
#define SIMD_STORE_LAST(p, v, mask, lanes) store_lanes_256(p, v, lanes)
#define SIMD_BROADCAST(x) _mm256_set1_ps(x)
#define SIMD_ZERO() _mm256_setzero_ps()
#define SIMD_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define SIMD_ADD(a, b) _mm256_add_ps(a, b)
#define SIMD_MAX(a, b) _mm256_max_ps(a, b)
#define SIMD_SUM(v) horizontal_sum(v)

#include "kernels/conv_x86_template.h"

DEFINE_FORWARD_STRIP(4, 1, 2)
DEFINE_FORWARD_STRIP(4, 3, 1)
DEFINE_FORWARD_STRIP(4, 1, 1)
DEFINE_FORWARD_STRIP(2, 6, 1)
DEFINE_FORWARD_STRIP(2, 1, 1)
DEFINE_FORWARD_STRIP(2, 3, 2)
DEFINE_FORWARD_STRIP(2, 1, 2)
DEFINE_FORWARD_STRIP(1, 12, 1)
DEFINE_FORWARD_STRIP(1, 1, 1)
DEFINE_FORWARD_STRIP(1, 6, 2)
DEFINE_FORWARD_STRIP(1, 1, 2)
DEFINE_WEIGHT_TILE(1)
DEFINE_WEIGHT_STREAM_TILE(1)

/* At most 12 forward accumulators of the 16 registers; weight chunks of
 * 256 KB keep a chunk's inputs and gradients in about half of L2. */
static const conv3x3_microkernels microkernels_avx2 = {
    .lanes = LANES,
    .forward_block = FORWARD_BLOCK,
    .plans =
        {
            {12, 6, forward_strip_1_12_1, forward_strip_1_1_1,
             forward_strip_1_6_2, forward_strip_1_1_2},
            {6, 3, forward_strip_2_6_1, forward_strip_2_1_1,
             forward_strip_2_3_2, forward_strip_2_1_2},
            {3, 1, forward_strip_4_3_1, forward_strip_4_1_1,
             forward_strip_4_1_2, forward_strip_4_1_2},
        },
    .prefetch_min_bytes = 0,
    .weight_tiles = {NULL, weight_tile_1, NULL, NULL},
    .weight_stream_tiles = {NULL, weight_stream_tile_1, NULL, NULL},
    .weight_chunk_bytes = 256 * 1024,
    .reduce_partials = reduce_partials,
    .sum_planes = sum_planes,
};

void conv_provide_avx2(kernel_table *table)
{
    table->conv3x3 = &microkernels_avx2;
}
