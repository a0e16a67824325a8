/* The x86 microkernels of the 3x3 convolution, written once for AVX2 and
 * AVX-512: conv_avx2.c and conv_avx512.c each define the vector type and
 * operations below for their ISA, then include this file, then instantiate
 * the tile shapes they use and describe them in a conv3x3_microkernels
 * table (tile sizes are data there; the driver is conv_driver.c).
 *
 * Forward: one vector holds LANES neighbouring output pixels, and a strip
 * keeps several output channels x rows x vectors of accumulators in
 * registers while it walks every input channel. Each input vector (loaded
 * unaligned at column offsets kw = 0, 1, 2) feeds every output channel and up
 * to three output rows of the tile; each weight is broadcast from a repacked
 * [ci][kh][kw][co] stream. Row tails are handled with masked loads and
 * stores, so no read goes past a row's last needed column (nor past the
 * buffer).
 *
 * Weight gradients keep one vector accumulator per (co, kh, kw) of a tile
 * while streaming down the rows, so that each input and gradient vector is
 * loaded once for all three kernel rows (misaligned loads are costly: about
 * 1.6 cycles each for 512 bits on Zen 4); the batch is summed in vector
 * partial sums and reduced horizontally once.
 *
 * Required before inclusion: LANES, MAX_ACCUMULATORS, MAX_VECTORS,
 * FORWARD_BLOCK; SIMD_VECTOR, SIMD_MASK, lanes_mask(int), SIMD_LOAD(p),
 * SIMD_LOAD_ALIGNED(p), SIMD_LOAD_MASKED(p, mask), SIMD_STORE(p, v),
 * SIMD_STORE_LAST(p, v, mask, lanes), SIMD_BROADCAST(x), SIMD_ZERO(),
 * SIMD_FMA(a, b, c) (a * b + c), SIMD_ADD, SIMD_MAX, SIMD_SUM(v). */
#ifndef COSNET_KERNELS_CONV_X86_TEMPLATE_H
#define COSNET_KERNELS_CONV_X86_TEMPLATE_H

#include "kernels/conv_driver.h"
#include "kernels/simd_common.h"

/* GCC otherwise hoists every broadcast weight of a tile into a register
 * and spills; a memory barrier makes it re-read them from L1 where they are
 * used (free next to the FMAs). Clang folds the broadcasts into the FMAs by
 * itself, and the barrier would make it keep the accumulators in memory. */
#if defined(__clang__)
#define COMPILER_BARRIER() ((void)0)
#else
#define COMPILER_BARRIER() __asm__ volatile("" ::: "memory")
#endif

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
    const SIMD_MASK last = lanes_mask(last_lanes);
    SIMD_VECTOR start[8];
    UNROLL_FULL
    for (int co = 0; co < nco; co++)
        start[co] =
            bias && co < valid_co ? SIMD_BROADCAST(bias[co]) : SIMD_ZERO();
    const int wp = g->in_width, ho = g->out_height;
    for (int oh0 = 0; oh0 < ho; oh0 += nr) {
        const int oh = oh0 + nr <= ho ? oh0 : ho - nr;
        const float *tile_in = in + (size_t)oh * wp;
        SIMD_VECTOR acc[MAX_ACCUMULATORS];
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
                    SIMD_VECTOR x[MAX_VECTORS];
                    UNROLL_FULL
                    for (int v = 0; v < nv; v++) {
                        const float *p =
                            src + (size_t)row * wp + kw + v * LANES;
                        x[v] = v == nv - 1 ? SIMD_LOAD_MASKED(p, last)
                                           : SIMD_LOAD(p);
                    }
                    UNROLL_FULL
                    for (int kh = 0; kh < 3; kh++) {
                        const int r = row - kh;
                        if (r < 0 || r >= nr)
                            continue;
                        UNROLL_FULL
                        for (int co = 0; co < nco; co++) {
                            const SIMD_VECTOR wv =
                                SIMD_BROADCAST(w[(kh * 3 + kw) * nco + co]);
                            UNROLL_FULL
                            for (int v = 0; v < nv; v++) {
                                SIMD_VECTOR *a = &acc[(co * nr + r) * nv + v];
                                *a = SIMD_FMA(wv, x[v], *a);
                            }
                        }
                    }
                }
            }
        }
        const SIMD_VECTOR zero = SIMD_ZERO();
        float *tile_out = out + (size_t)oh * g->out_width;
        UNROLL_FULL
        for (int co = 0; co < nco; co++) {
            if (co >= valid_co)
                continue;
            UNROLL_FULL
            for (int r = 0; r < nr; r++) {
                UNROLL_FULL
                for (int v = 0; v < nv; v++) {
                    SIMD_VECTOR value = acc[(co * nr + r) * nv + v];
                    if (relu)
                        value = SIMD_MAX(value, zero); /* NaN -> 0 */
                    float *p = tile_out + co * g->out_plane +
                               (size_t)r * g->out_width + v * LANES;
                    if (v == nv - 1)
                        SIMD_STORE_LAST(p, value, last, last_lanes);
                    else
                        SIMD_STORE(p, value);
                }
            }
        }
        conv_prefetch_step(ps);
    }
}

/* Each tile shape is its own out-of-line function, instantiated by the ISA
 * file: the compiler allocates its accumulators to registers in isolation,
 * and the driver picks one per block and column segment. */
#define DEFINE_FORWARD_STRIP(nco, nr, nv)                                      \
    __attribute__((noinline)) static void forward_strip_##nco##_##nr##_##nv(   \
        const conv_forward_geometry *g, const float *in, const float *weights, \
        const float *bias, int relu, int last_lanes, float *out, int valid_co, \
        conv_prefetch_stream *ps)                                              \
    {                                                                          \
        forward_strip(nco, nr, nv, g, in, weights, bias, relu, last_lanes,     \
                      out, valid_co, ps);                                      \
    }

/* Sums, over the images of a chunk, dy[co] x input[ci] shifted by (kh, kw)
 * for nco output channels, one input channel and all 9 offsets: 9 * nco
 * vector accumulators, added into the vector partial sums `partial` (laid
 * out [co][ci][9], `co_stride` vectors apart from one output channel to the
 * next), or stored there for the first chunk. `dy` points at the block's
 * first channel of the chunk's first image, `in` at its channel ci. */
SIMD_INLINE void weight_tile(const int nco, const conv_weight_geometry *g,
                             const float *in, const float *dy,
                             SIMD_VECTOR *partial, size_t co_stride, int first)
{
    SIMD_VECTOR acc[27];
    UNROLL_FULL
    for (int j = 0; j < nco * 9; j++)
        acc[j] = SIMD_ZERO();
    const int wo = g->out_width, wp = g->in_width;
    for (size_t i = 0; i < g->count; i++) {
        const float *image = in + i * g->in_image;
        const float *dyi = dy + i * g->out_image;
        for (int oh = 0; oh < g->out_height; oh++)
            for (int ow = 0; ow < wo; ow += LANES) {
                const SIMD_MASK mask = lanes_mask(wo - ow);
                SIMD_VECTOR d[3];
                UNROLL_FULL
                for (int co = 0; co < nco; co++)
                    d[co] = SIMD_LOAD_MASKED(
                        dyi + co * g->out_plane + (size_t)oh * wo + ow, mask);
                UNROLL_FULL
                for (int kh = 0; kh < 3; kh++) {
                    UNROLL_FULL
                    for (int kw = 0; kw < 3; kw++) {
                        const SIMD_VECTOR x = SIMD_LOAD_MASKED(
                            image + (size_t)(oh + kh) * wp + ow + kw, mask);
                        UNROLL_FULL
                        for (int co = 0; co < nco; co++)
                            acc[co * 9 + kh * 3 + kw] =
                                SIMD_FMA(d[co], x, acc[co * 9 + kh * 3 + kw]);
                    }
                }
            }
    }
    UNROLL_FULL
    for (int co = 0; co < nco; co++) {
        UNROLL_FULL
        for (int k = 0; k < 9; k++) {
            SIMD_VECTOR *p = partial + co * co_stride + k;
            *p = first ? acc[co * 9 + k] : SIMD_ADD(*p, acc[co * 9 + k]);
        }
    }
}

/* One input row r of the streaming weight tile: the row's three shifted
 * input vectors x (kw = 0, 1, 2) meet the output-gradient rows r - kh,
 * kh = 0, 1, 2, held in registers (d_new: row r, just loaded unless
 * load_new is 0; d_1, d_2: rows r - 1, r - 2). use0..2 say which exist. */
SIMD_INLINE void weight_stream_row(const int nco, SIMD_VECTOR *acc,
                                   const float *in_row, const float *dy_row,
                                   size_t dy_plane, SIMD_MASK mask,
                                   const int load_new, const int use0,
                                   const int use1, const int use2,
                                   SIMD_VECTOR *d_new, const SIMD_VECTOR *d_1,
                                   const SIMD_VECTOR *d_2)
{
    SIMD_VECTOR x[3];
    UNROLL_FULL
    for (int kw = 0; kw < 3; kw++)
        x[kw] = SIMD_LOAD_MASKED(in_row + kw, mask);
    if (load_new) {
        UNROLL_FULL
        for (int co = 0; co < nco; co++)
            d_new[co] = SIMD_LOAD_MASKED(dy_row + co * dy_plane, mask);
    }
    UNROLL_FULL
    for (int co = 0; co < nco; co++) {
        UNROLL_FULL
        for (int kw = 0; kw < 3; kw++) {
            if (use0)
                acc[co * 9 + kw] = SIMD_FMA(d_new[co], x[kw], acc[co * 9 + kw]);
            if (use1)
                acc[co * 9 + 3 + kw] =
                    SIMD_FMA(d_1[co], x[kw], acc[co * 9 + 3 + kw]);
            if (use2)
                acc[co * 9 + 6 + kw] =
                    SIMD_FMA(d_2[co], x[kw], acc[co * 9 + 6 + kw]);
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
                                    SIMD_VECTOR *partial, size_t co_stride,
                                    int first)
{
    SIMD_VECTOR acc[27];
    UNROLL_FULL
    for (int j = 0; j < nco * 9; j++)
        acc[j] = SIMD_ZERO();
    const int wo = g->out_width, wp = g->in_width, ho = g->out_height;
    const size_t plane = g->out_plane;
    for (size_t i = 0; i < g->count; i++) {
        const float *image = in + i * g->in_image;
        const float *dyi = dy + i * g->out_image;
        for (int ow = 0; ow < wo; ow += LANES) {
            const SIMD_MASK mask = lanes_mask(wo - ow);
            const float *x_col = image + ow;
            const float *d_col = dyi + ow;
            SIMD_VECTOR da[3], db[3], dc[3];
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
            SIMD_VECTOR *p = partial + co * co_stride + k;
            *p = first ? acc[co * 9 + k] : SIMD_ADD(*p, acc[co * 9 + k]);
        }
    }
}

#define DEFINE_WEIGHT_TILE(nco)                                                \
    __attribute__((noinline)) static void weight_tile_##nco(                   \
        const conv_weight_geometry *g, const float *in, const float *dy,       \
        float *partial, size_t co_stride, int first)                           \
    {                                                                          \
        weight_tile(nco, g, in, dy, (SIMD_VECTOR *)(void *)partial, co_stride, \
                    first);                                                    \
    }

#define DEFINE_WEIGHT_STREAM_TILE(nco)                                         \
    __attribute__((noinline)) static void weight_stream_tile_##nco(            \
        const conv_weight_geometry *g, const float *in, const float *dy,       \
        float *partial, size_t co_stride, int first)                           \
    {                                                                          \
        weight_stream_tile(nco, g, in, dy, (SIMD_VECTOR *)(void *)partial,     \
                           co_stride, first);                                  \
    }

static void reduce_partials(size_t count, const float *partial, float *out)
{
    for (size_t k = 0; k < count; k++)
        out[k] = SIMD_SUM(SIMD_LOAD_ALIGNED(partial + k * LANES));
}

static float sum_planes(size_t count, size_t stride, size_t plane,
                        const float *data)
{
    SIMD_VECTOR acc = SIMD_ZERO();
    for (size_t i = 0; i < count; i++) {
        const float *at = data + i * stride;
        for (size_t p = 0; p < plane; p += LANES) {
            const size_t left = plane - p;
            acc = SIMD_ADD(
                acc, SIMD_LOAD_MASKED(
                         at + p, lanes_mask(left > LANES ? LANES : (int)left)));
        }
    }
    return SIMD_SUM(acc);
}

#endif
