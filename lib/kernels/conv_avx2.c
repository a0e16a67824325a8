/* AVX2+FMA microkernels of the 3x3 convolution (the driver that plans,
 * packs and chunks is conv_driver.c).
 *
 * The design of conv_avx512.c at 8 lanes and within 16 ymm registers.
 * Forward tiles hold at most 12 accumulators (4 output channels x 1 row x
 * 2 vectors for rows of 9 to 16 pixels, 4 x 3 x 1 for 8 or fewer); each
 * input vector is loaded unaligned at column offsets kw = 0, 1, 2 and
 * serves every output channel and up to three rows of the tile, each weight
 * is broadcast from a repacked [ci][kh][kw][co] stream. Row tails use
 * masked loads (which do not fault on masked-off lanes) and piecewise
 * stores (vmaskmovps stores are slow on AMD cores). The input gradient is
 * the forward convolution of the zero-padded output gradient with the
 * rotated, channel-swapped kernel. Weight gradients stream down the rows:
 * each input and gradient vector is loaded once and used for all three
 * kernel rows, with one output channel's 9 vector accumulators per tile,
 * summed over the batch in vector partial sums and reduced once. */
#include <immintrin.h>
#include <string.h>

#include "kernels/conv_driver.h"
#include "kernels/simd_common.h"

#define LANES 8
/* Largest tile: accumulators, and vectors per output row segment. */
#define MAX_ACCUMULATORS 12
#define MAX_VECTORS 2
/* Output channels per forward tile; the remainder uses 2 or 1. */
#define FORWARD_BLOCK 4

/* GCC otherwise hoists every broadcast weight of a tile into a register
 * and spills; a memory barrier makes it re-read them from L1 where they are
 * used (free next to the FMAs). Clang folds the broadcasts into the FMAs by
 * itself, and the barrier would make it keep the accumulators in memory. */
#if defined(__clang__)
#define COMPILER_BARRIER() ((void)0)
#else
#define COMPILER_BARRIER() __asm__ volatile("" ::: "memory")
#endif

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

/* A strip of tiles: nco output channels x nr rows x nv vectors each, down
 * all output rows of one column segment. `in` and `out` point at the
 * segment's first column (input row 0, output row 0). The last vector of
 * each row holds `last_lanes` lanes. Row groups start every nr rows; the last
 * group is moved up to end at the last row, overlapping the previous one
 * (recomputing identical values), so no remainder kernels are needed; the
 * caller guarantees out_height >= nr. Only the first valid_co channels are
 * stored (the others have zero weights). */
SIMD_INLINE void forward_strip(const int nco, const int nr, const int nv,
                               const conv_forward_geometry *g, const float *in,
                               const float *weights, const float *bias,
                               int relu, int last_lanes, float *out,
                               int valid_co, conv_prefetch_stream *ps)
{
    const __m256i last = lanes_mask(last_lanes);
    __m256 start[FORWARD_BLOCK];
    UNROLL_FULL
    for (int co = 0; co < nco; co++)
        start[co] = bias && co < valid_co ? _mm256_set1_ps(bias[co])
                                          : _mm256_setzero_ps();
    const int wp = g->in_width, ho = g->out_height;
    for (int oh0 = 0; oh0 < ho; oh0 += nr) {
        const int oh = oh0 + nr <= ho ? oh0 : ho - nr;
        const float *tile_in = in + (size_t)oh * wp;
        __m256 acc[MAX_ACCUMULATORS];
        UNROLL_FULL
        for (int co = 0; co < nco; co++) {
            UNROLL_FULL
            for (int j = 0; j < nr * nv; j++)
                acc[co * nr * nv + j] = start[co];
        }
        for (int ci = 0; ci < g->in_channels; ci++) {
            const float *src = tile_in + (size_t)ci * g->in_plane;
            const float *w = weights + (size_t)ci * 9 * nco;
            UNROLL_FULL
            for (int row = 0; row < nr + 2; row++) {
                /* Keeps the compiler from holding every broadcast weight
                 * in a register across rows (it then spills); re-reading
                 * them from L1 is free next to the FMAs. */
                COMPILER_BARRIER();
                UNROLL_FULL
                for (int kw = 0; kw < 3; kw++) {
                    __m256 x[MAX_VECTORS];
                    UNROLL_FULL
                    for (int v = 0; v < nv; v++) {
                        const float *p =
                            src + (size_t)row * wp + kw + v * LANES;
                        x[v] = v == nv - 1 ? _mm256_maskload_ps(p, last)
                                           : _mm256_loadu_ps(p);
                    }
                    UNROLL_FULL
                    for (int kh = 0; kh < 3; kh++) {
                        const int r = row - kh;
                        if (r < 0 || r >= nr)
                            continue;
                        UNROLL_FULL
                        for (int co = 0; co < nco; co++) {
                            const __m256 wv =
                                _mm256_set1_ps(w[(kh * 3 + kw) * nco + co]);
                            UNROLL_FULL
                            for (int v = 0; v < nv; v++) {
                                __m256 *a = &acc[(co * nr + r) * nv + v];
                                *a = _mm256_fmadd_ps(wv, x[v], *a);
                            }
                        }
                    }
                }
            }
        }
        const __m256 zero = _mm256_setzero_ps();
        float *tile_out = out + (size_t)oh * g->out_width;
        UNROLL_FULL
        for (int co = 0; co < nco; co++) {
            if (co >= valid_co)
                continue;
            UNROLL_FULL
            for (int r = 0; r < nr; r++) {
                UNROLL_FULL
                for (int v = 0; v < nv; v++) {
                    __m256 value = acc[(co * nr + r) * nv + v];
                    if (relu)
                        value = _mm256_max_ps(value, zero); /* NaN -> 0 */
                    float *p = tile_out + co * g->out_plane +
                               (size_t)r * g->out_width + v * LANES;
                    if (v == nv - 1)
                        store_lanes_256(p, value, last_lanes);
                    else
                        _mm256_storeu_ps(p, value);
                }
            }
        }
        conv_prefetch_step(ps);
    }
}

/* Each strip shape is its own out-of-line function: the compiler allocates
 * its accumulators to registers in isolation. */
#define DEFINE_FORWARD_STRIP(nco, nr, nv)                                      \
    __attribute__((noinline)) static void forward_strip_##nco##_##nr##_##nv(   \
        const conv_forward_geometry *g, const float *in, const float *weights, \
        const float *bias, int relu, int last_lanes, float *out, int valid_co, \
        conv_prefetch_stream *ps)                                              \
    {                                                                          \
        forward_strip(nco, nr, nv, g, in, weights, bias, relu, last_lanes,     \
                      out, valid_co, ps);                                      \
    }

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

/* Sums, over the images of a chunk, dy[co] x input[ci] shifted by (kh, kw)
 * for nco output channels, one input channel and all 9 offsets: 9 * nco
 * vector accumulators, added into the vector partial sums `partial` (laid
 * out [co][ci][9], `co_stride` vectors apart from one output channel to the
 * next), or stored there for the first chunk. For images of one output
 * row, where the streaming tile does not apply. */
SIMD_INLINE void weight_tile(const int nco, const conv_weight_geometry *g,
                             const float *in, const float *dy, __m256 *partial,
                             size_t co_stride, int first)
{
    __m256 acc[27];
    UNROLL_FULL
    for (int j = 0; j < nco * 9; j++)
        acc[j] = _mm256_setzero_ps();
    const int wo = g->out_width, wp = g->in_width;
    for (size_t i = 0; i < g->count; i++) {
        const float *image = in + i * g->in_image;
        const float *dyi = dy + i * g->out_image;
        for (int oh = 0; oh < g->out_height; oh++)
            for (int ow = 0; ow < wo; ow += LANES) {
                const __m256i mask = lanes_mask(wo - ow);
                __m256 d[3];
                UNROLL_FULL
                for (int co = 0; co < nco; co++)
                    d[co] = _mm256_maskload_ps(
                        dyi + co * g->out_plane + (size_t)oh * wo + ow, mask);
                UNROLL_FULL
                for (int kh = 0; kh < 3; kh++) {
                    UNROLL_FULL
                    for (int kw = 0; kw < 3; kw++) {
                        const __m256 x = _mm256_maskload_ps(
                            image + (size_t)(oh + kh) * wp + ow + kw, mask);
                        UNROLL_FULL
                        for (int co = 0; co < nco; co++)
                            acc[co * 9 + kh * 3 + kw] = _mm256_fmadd_ps(
                                d[co], x, acc[co * 9 + kh * 3 + kw]);
                    }
                }
            }
    }
    UNROLL_FULL
    for (int co = 0; co < nco; co++) {
        UNROLL_FULL
        for (int k = 0; k < 9; k++) {
            __m256 *p = partial + co * co_stride + k;
            *p = first ? acc[co * 9 + k] : _mm256_add_ps(*p, acc[co * 9 + k]);
        }
    }
}

__attribute__((noinline)) static void
weight_tile_1(const conv_weight_geometry *g, const float *in, const float *dy,
              float *partial, size_t co_stride, int first)
{
    weight_tile(1, g, in, dy, (__m256 *)(void *)partial, co_stride, first);
}

/* One input row r of the streaming weight tile: the row's three shifted
 * input vectors x (kw = 0, 1, 2) meet the output-gradient rows r - kh,
 * kh = 0, 1, 2, held in registers (d_new: row r, just loaded unless
 * load_new is 0; d_1, d_2: rows r - 1, r - 2). use0..2 say which exist. */
SIMD_INLINE void weight_stream_row(const int nco, __m256 *acc,
                                   const float *in_row, const float *dy_row,
                                   size_t dy_plane, __m256i mask,
                                   const int load_new, const int use0,
                                   const int use1, const int use2,
                                   __m256 *d_new, const __m256 *d_1,
                                   const __m256 *d_2)
{
    __m256 x[3];
    UNROLL_FULL
    for (int kw = 0; kw < 3; kw++)
        x[kw] = _mm256_maskload_ps(in_row + kw, mask);
    if (load_new) {
        UNROLL_FULL
        for (int co = 0; co < nco; co++)
            d_new[co] = _mm256_maskload_ps(dy_row + co * dy_plane, mask);
    }
    UNROLL_FULL
    for (int co = 0; co < nco; co++) {
        UNROLL_FULL
        for (int kw = 0; kw < 3; kw++) {
            if (use0)
                acc[co * 9 + kw] =
                    _mm256_fmadd_ps(d_new[co], x[kw], acc[co * 9 + kw]);
            if (use1)
                acc[co * 9 + 3 + kw] =
                    _mm256_fmadd_ps(d_1[co], x[kw], acc[co * 9 + 3 + kw]);
            if (use2)
                acc[co * 9 + 6 + kw] =
                    _mm256_fmadd_ps(d_2[co], x[kw], acc[co * 9 + 6 + kw]);
        }
    }
}

/* Weight-gradient sums for nco output channels, one input channel and all
 * 9 offsets, over the images of a chunk, added into the vector partial
 * sums `partial` ([co][ci][9], co_stride vectors apart), or stored there
 * for the first chunk. The tile streams down the rows of each column
 * segment: every input vector is loaded once and serves all three kernel
 * rows, and every output-gradient vector is loaded once and kept in
 * registers for the three input rows that use it (the roles of the three
 * register sets rotate through a 3-row unrolled loop). Needs
 * out_height >= 2. With 16 registers, one output channel per tile (9
 * accumulators, 3 gradient vectors, 3 input vectors). */
SIMD_INLINE void weight_stream_tile(const int nco,
                                    const conv_weight_geometry *g,
                                    const float *in, const float *dy,
                                    __m256 *partial, size_t co_stride,
                                    int first)
{
    __m256 acc[27];
    UNROLL_FULL
    for (int j = 0; j < nco * 9; j++)
        acc[j] = _mm256_setzero_ps();
    const int wo = g->out_width, wp = g->in_width, ho = g->out_height;
    const size_t plane = g->out_plane;
    for (size_t i = 0; i < g->count; i++) {
        const float *image = in + i * g->in_image;
        const float *dyi = dy + i * g->out_image;
        for (int ow = 0; ow < wo; ow += LANES) {
            const __m256i mask = lanes_mask(wo - ow);
            const float *x_col = image + ow;
            const float *d_col = dyi + ow;
            __m256 da[3], db[3], dc[3];
            /* Rows 0 and 1: only the first one or two kernel rows. */
            weight_stream_row(nco, acc, x_col, d_col, plane, mask, 1, 1, 0, 0,
                              da, db, dc);
            weight_stream_row(nco, acc, x_col + wp, d_col + wo, plane, mask, 1,
                              1, 1, 0, db, da, dc);
            int r = 2;
            /* Steady state: the newest gradient row is in db, then da. */
            for (; r + 3 <= ho; r += 3) {
                weight_stream_row(nco, acc, x_col + (size_t)r * wp,
                                  d_col + (size_t)r * wo, plane, mask, 1, 1, 1,
                                  1, dc, db, da);
                weight_stream_row(nco, acc, x_col + (size_t)(r + 1) * wp,
                                  d_col + (size_t)(r + 1) * wo, plane, mask, 1,
                                  1, 1, 1, da, dc, db);
                weight_stream_row(nco, acc, x_col + (size_t)(r + 2) * wp,
                                  d_col + (size_t)(r + 2) * wo, plane, mask, 1,
                                  1, 1, 1, db, da, dc);
            }
            /* Up to two more full rows (tracking which set holds what),
             * then the two input rows past the last gradient row. */
            const int left = ho - r;
            if (left == 0) {
                weight_stream_row(nco, acc, x_col + (size_t)ho * wp, d_col,
                                  plane, mask, 0, 0, 1, 1, dc, db, da);
                weight_stream_row(nco, acc, x_col + (size_t)(ho + 1) * wp,
                                  d_col, plane, mask, 0, 0, 0, 1, dc, dc, db);
            } else if (left == 1) {
                weight_stream_row(nco, acc, x_col + (size_t)r * wp,
                                  d_col + (size_t)r * wo, plane, mask, 1, 1, 1,
                                  1, dc, db, da);
                weight_stream_row(nco, acc, x_col + (size_t)ho * wp, d_col,
                                  plane, mask, 0, 0, 1, 1, da, dc, db);
                weight_stream_row(nco, acc, x_col + (size_t)(ho + 1) * wp,
                                  d_col, plane, mask, 0, 0, 0, 1, da, da, dc);
            } else {
                weight_stream_row(nco, acc, x_col + (size_t)r * wp,
                                  d_col + (size_t)r * wo, plane, mask, 1, 1, 1,
                                  1, dc, db, da);
                weight_stream_row(nco, acc, x_col + (size_t)(r + 1) * wp,
                                  d_col + (size_t)(r + 1) * wo, plane, mask, 1,
                                  1, 1, 1, da, dc, db);
                weight_stream_row(nco, acc, x_col + (size_t)ho * wp, d_col,
                                  plane, mask, 0, 0, 1, 1, db, da, dc);
                weight_stream_row(nco, acc, x_col + (size_t)(ho + 1) * wp,
                                  d_col, plane, mask, 0, 0, 0, 1, db, db, da);
            }
        }
    }
    UNROLL_FULL
    for (int co = 0; co < nco; co++) {
        UNROLL_FULL
        for (int k = 0; k < 9; k++) {
            __m256 *p = partial + co * co_stride + k;
            *p = first ? acc[co * 9 + k] : _mm256_add_ps(*p, acc[co * 9 + k]);
        }
    }
}

__attribute__((noinline)) static void
weight_stream_tile_1(const conv_weight_geometry *g, const float *in,
                     const float *dy, float *partial, size_t co_stride,
                     int first)
{
    weight_stream_tile(1, g, in, dy, (__m256 *)(void *)partial, co_stride,
                       first);
}

static void reduce_partials(size_t count, const float *partial, float *out)
{
    for (size_t k = 0; k < count; k++)
        out[k] = horizontal_sum(_mm256_load_ps(partial + k * LANES));
}

static float sum_planes(size_t count, size_t stride, size_t plane,
                        const float *data)
{
    __m256 acc = _mm256_setzero_ps();
    for (size_t i = 0; i < count; i++) {
        const float *at = data + i * stride;
        for (size_t p = 0; p < plane; p += LANES) {
            const size_t left = plane - p;
            acc = _mm256_add_ps(
                acc, _mm256_maskload_ps(
                         at + p, lanes_mask(left > LANES ? LANES : (int)left)));
        }
    }
    return horizontal_sum(acc);
}

/* At most 12 forward accumulators of the 16 ymm registers; weight chunks
 * of 256 KB keep a chunk's inputs and gradients in about half of L2. */
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
