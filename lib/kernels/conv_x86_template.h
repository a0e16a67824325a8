/* The x86 side of the 3x3 convolution's microkernels, written once for
 * AVX2 and AVX-512 over the vocabulary of simd_avx2.h or simd_avx512.h
 * (included first): how a tap's weights meet the input vectors (each
 * weight broadcast where it is used) for conv_template.h's forward strips,
 * and the weight-gradient tiles.
 *
 * Weight gradients keep one vector accumulator per (co, kh, kw) of a tile
 * while streaming down the rows, so that each input and gradient vector is
 * loaded once for all three kernel rows (misaligned loads are costly: about
 * 1.6 cycles each for 512 bits on Zen 4); the batch is summed in vector
 * partial sums and reduced horizontally once. */
#ifndef COSNET_KERNELS_CONV_X86_TEMPLATE_H
#define COSNET_KERNELS_CONV_X86_TEMPLATE_H

#include "kernels/conv_driver.h"

/* GCC otherwise hoists every broadcast weight of a tile into a register
 * and spills; a memory barrier makes it re-read them from L1 where they are
 * used (free next to the FMAs). Clang folds the broadcasts into the FMAs by
 * itself, and the barrier would make it keep the accumulators in memory. */
#if defined(__clang__)
#define COMPILER_BARRIER() ((void)0)
#else
#define COMPILER_BARRIER() __asm__ volatile("" ::: "memory")
#endif

/* Each weight is broadcast from the stream where it is used, except with
 * one output channel on AVX-512: then a channel's 9 broadcast weights fit
 * in its 32 registers beside the accumulators and are made once per input
 * channel (conv3 of the seed network reloaded each for every row and tap;
 * its share of an evaluation profile fell from 5.8% to 5.1%). AVX2's 16
 * registers have no room for them. */
#define ONE_CHANNEL_WEIGHTS_HELD (LANES == 16)
typedef struct channel_weights {
    SIMD_VECTOR weight[9];
} channel_weights;

SIMD_INLINE void load_channel_weights(const int nco, const float *w,
                                      channel_weights *cw)
{
    if (nco == 1 && ONE_CHANNEL_WEIGHTS_HELD)
        for (int tap = 0; tap < 9; tap++)
            cw->weight[tap] = SIMD_BROADCAST(w[tap]);
}

/* A macro, not a function: GCC allocates the strips' registers worse
 * through an inline call. */
#define TAP_FMA(nco, nr, nv, r, acc, x, w, cw, tap)                            \
    do {                                                                       \
        UNROLL_FULL                                                            \
        for (int co_ = 0; co_ < (nco); co_++) {                                \
            const SIMD_VECTOR wv_ =                                            \
                (nco) == 1 && ONE_CHANNEL_WEIGHTS_HELD                         \
                    ? (cw).weight[tap]                                         \
                    : SIMD_BROADCAST((w)[(tap) * (nco) + co_]);                \
            UNROLL_FULL                                                        \
            for (int v_ = 0; v_ < (nv); v_++) {                                \
                SIMD_VECTOR *a_ = &(acc)[(co_ * (nr) + (r)) * (nv) + v_];      \
                *a_ = SIMD_FMA(wv_, (x)[v_], *a_);                             \
            }                                                                  \
        }                                                                      \
    } while (0)

#include "kernels/conv_template.h"

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
    ADD_PARTIALS(nco, acc, partial, co_stride, first);
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

/* Input row k of a column segment and its gradient row, loaded into d_new
 * while d_1 and d_2 hold gradient rows k - 1 and k - 2. */
#define STREAM_FULL_ROW(k, d_new, d_1, d_2)                                    \
    weight_stream_row(nco, acc, x_col + (size_t)(k)*wp,                        \
                      d_col + (size_t)(k)*wo, plane, mask, 1, 1, 1, 1, d_new,  \
                      d_1, d_2)
/* Input rows ho and ho + 1, past the last gradient row (held in last, the
 * one before in prev; spare is the set free for the unused argument). */
#define STREAM_PAST_ROWS(last, prev, spare)                                    \
    do {                                                                       \
        weight_stream_row(nco, acc, x_col + (size_t)ho * wp, d_col, plane,     \
                          mask, 0, 0, 1, 1, spare, last, prev);                \
        weight_stream_row(nco, acc, x_col + (size_t)(ho + 1) * wp, d_col,      \
                          plane, mask, 0, 0, 0, 1, spare, spare, last);        \
    } while (0)

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
                STREAM_FULL_ROW(r, dc, db, da);
                STREAM_FULL_ROW(r + 1, da, dc, db);
                STREAM_FULL_ROW(r + 2, db, da, dc);
            }
            /* Up to two more full rows (tracking which set holds what),
             * then the two input rows past the last gradient row. */
            const int left = ho - r;
            if (left == 0) {
                STREAM_PAST_ROWS(db, da, dc);
            } else if (left == 1) {
                STREAM_FULL_ROW(r, dc, db, da);
                STREAM_PAST_ROWS(dc, db, da);
            } else {
                STREAM_FULL_ROW(r, dc, db, da);
                STREAM_FULL_ROW(r + 1, da, dc, db);
                STREAM_PAST_ROWS(da, dc, db);
            }
        }
    }
    ADD_PARTIALS(nco, acc, partial, co_stride, first);
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

#endif
