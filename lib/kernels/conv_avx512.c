/* AVX-512 microkernels of the 3x3 convolution (the driver that plans,
 * packs and chunks is conv_driver.c).
 *
 * Forward: one zmm holds 16 neighbouring output pixels, and a strip keeps
 * several output channels x rows x 16-column vectors of accumulators in
 * registers while it walks every input channel. Each input vector (loaded
 * unaligned at column offsets kw = 0, 1, 2) feeds every output channel and up
 * to three output rows of the tile; each weight is broadcast from a repacked
 * [ci][kh][kw][co] stream. Row tails are handled with masked loads and stores,
 * so no read goes past a row's last needed column (nor past the buffer).
 *
 * The input gradient is the forward convolution of the output gradient,
 * zero-padded by 2 - pad, with the kernel rotated by 180 degrees and its
 * channel axes swapped. Weight gradients keep one vector accumulator per
 * (co, kh, kw) of a tile (2 output channels x 9) while streaming down the
 * rows, so that each input and gradient vector is loaded once for all three
 * kernel rows (misaligned 512-bit loads cost about 1.6 cycles each on Zen 4
 * and would otherwise bound it); the batch is summed in vector partial sums,
 * a few L2-sized chunks of images at a time, and reduced horizontally once.
 *
 * Measured on Zen 4 (bench/bench_kernels), batch 20: conv2 of the seed
 * network runs forward at ~95% of the FMA peak, its gradients at ~85%. */
#include <immintrin.h>
#include <string.h>

#include "kernels/conv_driver.h"
#include "kernels/simd_common.h"

#define LANES 16
/* Largest tile: accumulators, and vectors per output row segment. */
#define MAX_ACCUMULATORS 24
#define MAX_VECTORS 2
/* Output channels per forward tile; the remainder uses 4, 2 or 1. */
#define FORWARD_BLOCK 8

/* GCC otherwise hoists every broadcast weight of a tile into a register
 * and spills; a memory barrier makes it re-read them from L1 where they are
 * used (free next to the FMAs). Clang folds the broadcasts into the FMAs by
 * itself, and the barrier would make it keep the accumulators in memory. */
#if defined(__clang__)
#define COMPILER_BARRIER() ((void)0)
#else
#define COMPILER_BARRIER() __asm__ volatile("" ::: "memory")
#endif

/* The first `lanes` lanes (none if lanes <= 0, all if >= 16). */
static inline __mmask16 lanes_mask(int lanes)
{
    if (lanes <= 0)
        return 0;
    return lanes >= LANES ? (__mmask16)0xFFFF
                          : (__mmask16)((1u << (unsigned)lanes) - 1u);
}

/* A strip of tiles: nco output channels x nr rows x nv vectors each, down
 * all output rows of one column segment. `in` and `out` point at the
 * segment's first column (input row 0, output row 0). The last vector of
 * each row is masked by `last`. Row groups start every nr rows; the last
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
    const __mmask16 last = lanes_mask(last_lanes);
    __m512 start[8];
    UNROLL_FULL
    for (int co = 0; co < nco; co++)
        start[co] = bias && co < valid_co ? _mm512_set1_ps(bias[co])
                                          : _mm512_setzero_ps();
    const int wp = g->in_width, ho = g->out_height;
    for (int oh0 = 0; oh0 < ho; oh0 += nr) {
        const int oh = oh0 + nr <= ho ? oh0 : ho - nr;
        const float *tile_in = in + (size_t)oh * wp;
        __m512 acc[MAX_ACCUMULATORS];
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
                    __m512 x[MAX_VECTORS];
                    UNROLL_FULL
                    for (int v = 0; v < nv; v++) {
                        const float *p =
                            src + (size_t)row * wp + kw + v * LANES;
                        x[v] = v == nv - 1 ? _mm512_maskz_loadu_ps(last, p)
                                           : _mm512_loadu_ps(p);
                    }
                    UNROLL_FULL
                    for (int kh = 0; kh < 3; kh++) {
                        const int r = row - kh;
                        if (r < 0 || r >= nr)
                            continue;
                        UNROLL_FULL
                        for (int co = 0; co < nco; co++) {
                            const __m512 wv =
                                _mm512_set1_ps(w[(kh * 3 + kw) * nco + co]);
                            UNROLL_FULL
                            for (int v = 0; v < nv; v++) {
                                __m512 *a = &acc[(co * nr + r) * nv + v];
                                *a = _mm512_fmadd_ps(wv, x[v], *a);
                            }
                        }
                    }
                }
            }
        }
        const __m512 zero = _mm512_setzero_ps();
        float *tile_out = out + (size_t)oh * g->out_width;
        UNROLL_FULL
        for (int co = 0; co < nco; co++) {
            if (co >= valid_co)
                continue;
            UNROLL_FULL
            for (int r = 0; r < nr; r++) {
                UNROLL_FULL
                for (int v = 0; v < nv; v++) {
                    __m512 value = acc[(co * nr + r) * nv + v];
                    if (relu)
                        value = _mm512_max_ps(value, zero); /* NaN -> 0 */
                    float *p = tile_out + co * g->out_plane +
                               (size_t)r * g->out_width + v * LANES;
                    if (v == nv - 1)
                        _mm512_mask_storeu_ps(p, last, value);
                    else
                        _mm512_storeu_ps(p, value);
                }
            }
        }
        conv_prefetch_step(ps);
    }
}

/* Each strip shape is its own out-of-line function: the compiler allocates
 * its accumulators to registers in isolation, and the driver picks one per
 * block and column segment. */
#define DEFINE_FORWARD_STRIP(nco, nr, nv)                                      \
    __attribute__((noinline)) static void forward_strip_##nco##_##nr##_##nv(   \
        const conv_forward_geometry *g, const float *in, const float *weights, \
        const float *bias, int relu, int last_lanes, float *out, int valid_co, \
        conv_prefetch_stream *ps)                                              \
    {                                                                          \
        forward_strip(nco, nr, nv, g, in, weights, bias, relu, last_lanes,     \
                      out, valid_co, ps);                                      \
    }

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

/* Sums, over the images of a chunk, dy[co] x input[ci] shifted by (kh, kw)
 * for nco output channels, one input channel and all 9 offsets: 9 * nco
 * vector accumulators, added into the vector partial sums `partial` (laid
 * out [co][ci][9], `co_stride` vectors apart from one output channel to the
 * next), or stored there for the first chunk. `dy` points at the block's
 * first channel of the chunk's first image, `in` at its channel ci. */
SIMD_INLINE void weight_tile(const int nco, const conv_weight_geometry *g,
                             const float *in, const float *dy, __m512 *partial,
                             size_t co_stride, int first)
{
    __m512 acc[27];
    UNROLL_FULL
    for (int j = 0; j < nco * 9; j++)
        acc[j] = _mm512_setzero_ps();
    const int wo = g->out_width, wp = g->in_width;
    for (size_t i = 0; i < g->count; i++) {
        const float *image = in + i * g->in_image;
        const float *dyi = dy + i * g->out_image;
        for (int oh = 0; oh < g->out_height; oh++)
            for (int ow = 0; ow < wo; ow += LANES) {
                const __mmask16 mask = lanes_mask(wo - ow);
                __m512 d[3];
                UNROLL_FULL
                for (int co = 0; co < nco; co++)
                    d[co] = _mm512_maskz_loadu_ps(
                        mask, dyi + co * g->out_plane + (size_t)oh * wo + ow);
                UNROLL_FULL
                for (int kh = 0; kh < 3; kh++) {
                    UNROLL_FULL
                    for (int kw = 0; kw < 3; kw++) {
                        const __m512 x = _mm512_maskz_loadu_ps(
                            mask, image + (size_t)(oh + kh) * wp + ow + kw);
                        UNROLL_FULL
                        for (int co = 0; co < nco; co++)
                            acc[co * 9 + kh * 3 + kw] = _mm512_fmadd_ps(
                                d[co], x, acc[co * 9 + kh * 3 + kw]);
                    }
                }
            }
    }
    UNROLL_FULL
    for (int co = 0; co < nco; co++) {
        UNROLL_FULL
        for (int k = 0; k < 9; k++) {
            __m512 *p = partial + co * co_stride + k;
            *p = first ? acc[co * 9 + k] : _mm512_add_ps(*p, acc[co * 9 + k]);
        }
    }
}

/* One input row r of the streaming weight tile: the row's three shifted
 * input vectors x (kw = 0, 1, 2) meet the output-gradient rows r - kh,
 * kh = 0, 1, 2, held in registers (d_new: row r, just loaded unless
 * load_new is 0; d_1, d_2: rows r - 1, r - 2). use0..2 say which exist. */
SIMD_INLINE void weight_stream_row(const int nco, __m512 *acc,
                                   const float *in_row, const float *dy_row,
                                   size_t dy_plane, __mmask16 mask,
                                   const int load_new, const int use0,
                                   const int use1, const int use2,
                                   __m512 *d_new, const __m512 *d_1,
                                   const __m512 *d_2)
{
    __m512 x[3];
    UNROLL_FULL
    for (int kw = 0; kw < 3; kw++)
        x[kw] = _mm512_maskz_loadu_ps(mask, in_row + kw);
    if (load_new) {
        UNROLL_FULL
        for (int co = 0; co < nco; co++)
            d_new[co] = _mm512_maskz_loadu_ps(mask, dy_row + co * dy_plane);
    }
    UNROLL_FULL
    for (int co = 0; co < nco; co++) {
        UNROLL_FULL
        for (int kw = 0; kw < 3; kw++) {
            if (use0)
                acc[co * 9 + kw] =
                    _mm512_fmadd_ps(d_new[co], x[kw], acc[co * 9 + kw]);
            if (use1)
                acc[co * 9 + 3 + kw] =
                    _mm512_fmadd_ps(d_1[co], x[kw], acc[co * 9 + 3 + kw]);
            if (use2)
                acc[co * 9 + 6 + kw] =
                    _mm512_fmadd_ps(d_2[co], x[kw], acc[co * 9 + 6 + kw]);
        }
    }
}

/* The same sums as weight_tile, streaming down the rows of each column
 * segment: every input vector is loaded once and serves all three kernel
 * rows, and every output-gradient vector is loaded once and kept in
 * registers for the three input rows that use it (the roles of the three
 * register sets rotate through a 3-row unrolled loop). Needs
 * out_height >= 2. Misaligned 512-bit loads are costly (about 1.6 cycles
 * each on Zen 4), and this does a third of weight_tile's. */
SIMD_INLINE void weight_stream_tile(const int nco,
                                    const conv_weight_geometry *g,
                                    const float *in, const float *dy,
                                    __m512 *partial, size_t co_stride,
                                    int first)
{
    __m512 acc[27];
    UNROLL_FULL
    for (int j = 0; j < nco * 9; j++)
        acc[j] = _mm512_setzero_ps();
    const int wo = g->out_width, wp = g->in_width, ho = g->out_height;
    const size_t plane = g->out_plane;
    for (size_t i = 0; i < g->count; i++) {
        const float *image = in + i * g->in_image;
        const float *dyi = dy + i * g->out_image;
        for (int ow = 0; ow < wo; ow += LANES) {
            const __mmask16 mask = lanes_mask(wo - ow);
            const float *x_col = image + ow;
            const float *d_col = dyi + ow;
            __m512 da[3], db[3], dc[3];
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
            __m512 *p = partial + co * co_stride + k;
            *p = first ? acc[co * 9 + k] : _mm512_add_ps(*p, acc[co * 9 + k]);
        }
    }
}

#define DEFINE_WEIGHT_TILE(nco)                                                \
    __attribute__((noinline)) static void weight_tile_##nco(                   \
        const conv_weight_geometry *g, const float *in, const float *dy,       \
        float *partial, size_t co_stride, int first)                           \
    {                                                                          \
        weight_tile(nco, g, in, dy, (__m512 *)(void *)partial, co_stride,      \
                    first);                                                    \
    }

DEFINE_WEIGHT_TILE(3)
DEFINE_WEIGHT_TILE(2)
DEFINE_WEIGHT_TILE(1)

#define DEFINE_WEIGHT_STREAM_TILE(nco)                                         \
    __attribute__((noinline)) static void weight_stream_tile_##nco(            \
        const conv_weight_geometry *g, const float *in, const float *dy,       \
        float *partial, size_t co_stride, int first)                           \
    {                                                                          \
        weight_stream_tile(nco, g, in, dy, (__m512 *)(void *)partial,          \
                           co_stride, first);                                  \
    }

DEFINE_WEIGHT_STREAM_TILE(2)
DEFINE_WEIGHT_STREAM_TILE(1)

static void reduce_partials(size_t count, const float *partial, float *out)
{
    for (size_t k = 0; k < count; k++)
        out[k] = _mm512_reduce_add_ps(_mm512_load_ps(partial + k * LANES));
}

static float sum_planes(size_t count, size_t stride, size_t plane,
                        const float *data)
{
    __m512 acc = _mm512_setzero_ps();
    for (size_t i = 0; i < count; i++) {
        const float *at = data + i * stride;
        for (size_t p = 0; p < plane; p += LANES) {
            const size_t left = plane - p;
            acc = _mm512_add_ps(
                acc, _mm512_maskz_loadu_ps(
                         lanes_mask(left > LANES ? LANES : (int)left), at + p));
        }
    }
    return _mm512_reduce_add_ps(acc);
}

/* Measured on Zen 4 (bench/bench_kernels): rows per strip chosen so that
 * the accumulators fill most of the 32 registers; weight chunks of 256 KB
 * keep a chunk's inputs and gradients in about half of a 512 KB L2. */
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
