/* The microkernels of the 3x3 convolution, written once for every SIMD ISA:
 * conv_x86_template.h (for conv_avx2.c and conv_avx512.c) and conv_neon.c
 * define how a tap's weights meet the input vectors, then include this
 * file, then instantiate the strip shapes they use and describe them in a
 * conv3x3_microkernels table (tile sizes are data there; the driver is
 * conv_driver.c).
 *
 * Forward: one vector holds LANES neighbouring output pixels, and a strip
 * keeps several output channels x rows x vectors of accumulators in
 * registers while it walks every input channel. Each input vector (loaded
 * unaligned at column offsets kw = 0, 1, 2) feeds every output channel and up
 * to three output rows of the tile; the weights come from a repacked
 * [ci][kh][kw][co] stream. Row tails are handled with masked (or partial)
 * loads and stores, so no read goes past a row's last needed column (nor
 * past the buffer).
 *
 * Required before inclusion: the ISA's vocabulary (simd_avx2.h,
 * simd_avx512.h or simd_neon.h: LANES, SIMD_VECTOR, SIMD_MASK,
 * lanes_mask(int), SIMD_LOAD, SIMD_LOAD_ALIGNED, SIMD_LOAD_MASKED,
 * SIMD_STORE, SIMD_STORE_LAST, SIMD_BROADCAST, SIMD_ZERO, SIMD_ADD,
 * SIMD_RELU, SIMD_SUM), MAX_ACCUMULATORS, MAX_VECTORS, FORWARD_BLOCK, and
 *   channel_weights, load_channel_weights(nco, w, &cw): whatever the ISA
 *     keeps of one input channel's 9 * nco weights w;
 *   TAP_FMA(nco, nr, nv, r, acc, x, w, cw, tap): for each output channel
 *     co and vector v, acc[(co * nr + r) * nv + v] += weight(tap, co) *
 *     x[v], weight(tap, co) being w[tap * nco + co];
 *   optionally COMPILER_BARRIER(), issued before each input row. */
#ifndef COSNET_KERNELS_CONV_TEMPLATE_H
#define COSNET_KERNELS_CONV_TEMPLATE_H

#include "kernels/conv_driver.h"
#include "kernels/simd_common.h"

#ifndef COMPILER_BARRIER
#define COMPILER_BARRIER() ((void)0)
#endif

/* acc (nco x nr x nv vectors) += the tile's 3x3 sums over every input
 * channel, in the order every strip shares: input channel, then input row,
 * then kw, then kh. Each output's sum therefore takes its taps in one fixed
 * order whatever the tile's shape, so a pooled strip computes exactly the
 * values of a plain one. A macro, not a function, so the existing strips
 * compile as before (see ADD_PARTIALS). */
#define ACCUMULATE_TILE(nco, nr, nv, g, tile_in, weights, last, acc)           \
    do {                                                                       \
        const int wp_ = (g)->in_width;                                         \
        for (int ci = 0; ci < (g)->in_channels; ci++) {                        \
            const float *src = (tile_in) + (size_t)ci * (g)->in_plane;         \
            const float *w = (weights) + (size_t)ci * 9 * (nco);               \
            channel_weights cw;                                                \
            load_channel_weights(nco, w, &cw);                                 \
            UNROLL_FULL                                                        \
            for (int row = 0; row < (nr) + 2; row++) {                         \
                COMPILER_BARRIER();                                            \
                UNROLL_FULL                                                    \
                for (int kw = 0; kw < 3; kw++) {                               \
                    SIMD_VECTOR x[MAX_VECTORS];                                \
                    UNROLL_FULL                                                \
                    for (int v = 0; v < (nv); v++) {                           \
                        const float *p =                                       \
                            src + (size_t)row * wp_ + kw + v * LANES;          \
                        x[v] = v == (nv)-1 ? SIMD_LOAD_MASKED(p, last)         \
                                           : SIMD_LOAD(p);                     \
                    }                                                          \
                    UNROLL_FULL                                                \
                    for (int kh = 0; kh < 3; kh++) {                           \
                        const int r = row - kh;                                \
                        if (r < 0 || r >= (nr))                                \
                            continue;                                          \
                        TAP_FMA(nco, nr, nv, r, acc, x, w, cw, kh * 3 + kw);   \
                    }                                                          \
                }                                                              \
            }                                                                  \
        }                                                                      \
    } while (0)

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
        ACCUMULATE_TILE(nco, nr, nv, g, tile_in, weights, last, acc);
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
                        value = SIMD_RELU(value);
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

/* The forward convolution with ReLU and a 2x2 max-pool, for predictions:
 * nco output channels x nr rows (even) x one vector down every row pair of
 * one column segment (an even column), each pair pooled in registers. The
 * pooled values, last_lanes / 2 of them, go to out: channel co, pooled row
 * r at out + co * out_plane + r * out_row. An odd last row or column is
 * dropped, as the max-pool does. The values are the plain strip's, so
 * the result is max-pool(ReLU(conv)) bit for bit. */
SIMD_INLINE void forward_pool_tile(const int nco, const int nr,
                                   const conv_forward_geometry *g,
                                   const float *in, const float *weights,
                                   const SIMD_VECTOR *start, SIMD_MASK last,
                                   SIMD_MASK pooled, int pooled_lanes,
                                   float *out, size_t out_plane, size_t out_row,
                                   int valid_co, int pr)
{
    (void)pooled; /* vocabularies that store by lane count ignore it */
    const float *tile_in = in + (size_t)(2 * pr) * g->in_width;
    SIMD_VECTOR acc[MAX_ACCUMULATORS];
    UNROLL_FULL
    for (int co = 0; co < nco; co++)
        UNROLL_FULL
    for (int r = 0; r < nr; r++)
        acc[co * nr + r] = start[co];
    ACCUMULATE_TILE(nco, nr, 1, g, tile_in, weights, last, acc);
    if (pooled_lanes == 0)
        return;
    UNROLL_FULL
    for (int co = 0; co < nco; co++) {
        if (co >= valid_co)
            continue;
        UNROLL_FULL
        for (int h = 0; h < nr / 2; h++) {
            const SIMD_VECTOR rows =
                SIMD_MAX(SIMD_RELU(acc[co * nr + 2 * h]),
                         SIMD_RELU(acc[co * nr + 2 * h + 1]));
            SIMD_STORE_LAST(out + co * out_plane + (size_t)(pr + h) * out_row,
                            SIMD_PAIR_MAX_LOW(rows), pooled, pooled_lanes);
        }
    }
}

/* Tiles of nr / 2 pooled rows; the last tile is moved up to end at the last
 * pooled row (recomputing identical values), and images of fewer pooled
 * rows run tiles of one. With one output channel a tile of two rows was
 * bound by the latency of its two chains of multiply-adds. */
SIMD_INLINE void forward_pool_strip(const int nco, const int nr,
                                    const conv_forward_geometry *g,
                                    const float *in, const float *weights,
                                    const float *bias, int last_lanes,
                                    float *out, size_t out_plane,
                                    size_t out_row, int valid_co)
{
    const SIMD_MASK last = lanes_mask(last_lanes);
    const int pooled_lanes = last_lanes / 2;
    const SIMD_MASK pooled = lanes_mask(pooled_lanes);
    SIMD_VECTOR start[8];
    UNROLL_FULL
    for (int co = 0; co < nco; co++)
        start[co] =
            bias && co < valid_co ? SIMD_BROADCAST(bias[co]) : SIMD_ZERO();
    const int pooled_rows = g->out_height / 2, group = nr / 2;
    if (pooled_rows < group) {
        for (int pr = 0; pr < pooled_rows; pr++)
            forward_pool_tile(nco, 2, g, in, weights, start, last, pooled,
                              pooled_lanes, out, out_plane, out_row, valid_co,
                              pr);
        return;
    }
    for (int p0 = 0; p0 < pooled_rows; p0 += group)
        forward_pool_tile(nco, nr, g, in, weights, start, last, pooled,
                          pooled_lanes, out, out_plane, out_row, valid_co,
                          p0 + group <= pooled_rows ? p0 : pooled_rows - group);
}

#define DEFINE_FORWARD_POOL_STRIP(nco, nr)                                     \
    __attribute__((noinline)) static void forward_pool_strip_##nco(            \
        const conv_forward_geometry *g, const float *in, const float *weights, \
        const float *bias, int last_lanes, float *out, size_t out_plane,       \
        size_t out_row, int valid_co)                                          \
    {                                                                          \
        forward_pool_strip(nco, nr, g, in, weights, bias, last_lanes, out,     \
                           out_plane, out_row, valid_co);                      \
    }
/* Rows per tile: the accumulators of the strips' plans, at most 16. */
#define DEFINE_FORWARD_POOL_STRIPS                                             \
    DEFINE_FORWARD_POOL_STRIP(1, 10)                                           \
    DEFINE_FORWARD_POOL_STRIP(2, 6)                                            \
    DEFINE_FORWARD_POOL_STRIP(4, 4)
#define FORWARD_POOL_STRIPS                                                    \
    forward_pool_strip_1, forward_pool_strip_2, forward_pool_strip_4

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

/* The strips of one plan entry: blocks of nco channels, rows1 rows of one
 * vector or rows2 rows of two, and their one-row versions for short
 * images (FORWARD_PLAN_ONE_ROW: rows2 is 1, so three strips). */
#define DEFINE_FORWARD_PLAN(nco, rows1, rows2)                                 \
    DEFINE_FORWARD_STRIP(nco, rows1, 1)                                        \
    DEFINE_FORWARD_STRIP(nco, 1, 1)                                            \
    DEFINE_FORWARD_STRIP(nco, rows2, 2)                                        \
    DEFINE_FORWARD_STRIP(nco, 1, 2)
#define DEFINE_FORWARD_PLAN_ONE_ROW(nco, rows1)                                \
    DEFINE_FORWARD_STRIP(nco, rows1, 1)                                        \
    DEFINE_FORWARD_STRIP(nco, 1, 1)                                            \
    DEFINE_FORWARD_STRIP(nco, 1, 2)
#define FORWARD_PLAN(nco, rows1, rows2)                                        \
    {                                                                          \
        rows1, rows2, forward_strip_##nco##_##rows1##_1,                       \
            forward_strip_##nco##_1_1, forward_strip_##nco##_##rows2##_2,      \
            forward_strip_##nco##_1_2                                          \
    }

/* The fields every ISA's table fills alike: weight chunks of 256 KB keep a
 * chunk's inputs and gradients in about half of L2. */
#define CONV_COMMON_FIELDS                                                     \
    .lanes = LANES, .forward_block = FORWARD_BLOCK,                            \
    .weight_chunk_bytes = 256 * 1024, .reduce_partials = reduce_partials,      \
    .sum_planes = sum_planes

/* Stores a weight tile's 9 * nco vector accumulators acc into the partial
 * sums (laid out [co][ci][9], co_stride vectors from one output channel to
 * the next) for the first chunk, or adds them. A macro, not a function:
 * GCC allocates the x86 tiles' registers worse through an inline call. */
#define ADD_PARTIALS(nco, acc, partial, co_stride, first)                      \
    do {                                                                       \
        UNROLL_FULL                                                            \
        for (int co_ = 0; co_ < (nco); co_++) {                                \
            UNROLL_FULL                                                        \
            for (int k_ = 0; k_ < 9; k_++) {                                   \
                SIMD_VECTOR *p_ = (partial) + co_ * (co_stride) + k_;          \
                *p_ = (first) ? (acc)[co_ * 9 + k_]                            \
                              : SIMD_ADD(*p_, (acc)[co_ * 9 + k_]);            \
            }                                                                  \
        }                                                                      \
    } while (0)

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
