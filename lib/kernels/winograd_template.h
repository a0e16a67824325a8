/* The Winograd F(2x2, 3x3) stages (winograd.h), written once for every SIMD
 * ISA: winograd_avx2.c, winograd_avx512.c and winograd_neon.c include their
 * ISA's vector vocabulary, set the GEMM tile below, include this file and
 * fill a winograd_microkernels with WINOGRAD_MICROKERNELS.
 *
 * One vector holds LANES neighbouring tiles of a tile row, or, when a tile
 * row fills at most half a vector, two tile rows (input_pair_simd). The
 * input transform loads each input row as two vectors per 2 x LANES
 * columns, applies B^T down the four rows, splits even and odd columns (the
 * tiles start on even columns), shifts them one lane for each tile's last
 * two columns and applies B along the row; the output transform applies
 * A^T both ways and interleaves the two columns of each tile back into
 * output rows, or, with the max-pool, takes the largest of each tile's
 * four outputs, which is already one pooled value per lane. The products M = U
 * V take WINOGRAD_BLOCK output channels x up to WINOGRAD_VECTORS vectors of
 * tiles as register accumulators, each weight of U broadcast against the tile
 * vectors.
 *
 * Required before inclusion: the vocabulary (simd_avx2.h, simd_avx512.h or
 * simd_neon.h: LANES, SIMD_VECTOR, SIMD_MASK, lanes_mask, SIMD_LOAD,
 * SIMD_LOAD_ALIGNED, SIMD_LOAD_MASKED, SIMD_STORE, SIMD_STORE_LAST,
 * SIMD_BROADCAST, SIMD_ZERO, SIMD_FMA, SIMD_ADD, SIMD_SUB, SIMD_RELU,
 * SIMD_MAX, SIMD_UPPER_HALF, deinterleave, interleave, next_lane,
 * lane_sums4, SIMD_ADD_TO4, SIMD_KEEP_IN_REGISTER),
 * WINOGRAD_BLOCK (output channels per GEMM tile), WINOGRAD_VECTORS (tile
 * vectors per GEMM tile, at most 4) and WINOGRAD_GRADIENT_INPUTS (input
 * channels per weight-gradient register tile of WINOGRAD_BLOCK output
 * channels, at most 3; WINOGRAD_BLOCK a multiple of 4). */
#ifndef COSNET_KERNELS_WINOGRAD_TEMPLATE_H
#define COSNET_KERNELS_WINOGRAD_TEMPLATE_H

#include "kernels/simd_common.h"
#include "kernels/winograd.h"

/* The first `valid` floats at p (any count: zeros past them; nothing is
 * read past them). */
SIMD_INLINE SIMD_VECTOR load_part(const float *p, int valid)
{
    if (valid >= LANES)
        return SIMD_LOAD(p);
    if (valid <= 0)
        return SIMD_ZERO();
    return SIMD_LOAD_MASKED(p, lanes_mask(valid));
}

/* Stores the first `valid` lanes of x (any count). */
SIMD_INLINE void store_part(float *p, SIMD_VECTOR x, int valid)
{
    if (valid >= LANES)
        SIMD_STORE(p, x);
    else if (valid > 0)
        SIMD_STORE_LAST(p, x, lanes_mask(valid), valid);
}

/* Tile rows tile_row and tile_row + 1 in one vector (tile_columns <=
 * LANES / 2): deinterleaving a row of the first with the same row of the
 * second puts the first's tiles in the low half of the lanes and the
 * second's in the high half. Columns 0 .. LANES - 1 give each tile's d0, d1;
 * columns 2 .. LANES + 1 its d2, d3. */
static void input_pair_simd(const winograd_geometry *g, const float *image,
                            int tile_row, float *v)
{
    const int wp = g->in_width;
    const size_t frequency_stride = g->stride;
    const size_t channel_stride = WINOGRAD_FREQUENCIES * g->stride;
    /* The six input rows the pair reads; rows past the input read zeros. */
    size_t row_offset[6];
    SIMD_MASK mask[6][2];
    for (int k = 0; k < 6; k++) {
        const int y = 2 * tile_row + k;
        const int present = y < g->in_height;
        row_offset[k] = (size_t)(present ? y : 0) * wp;
        mask[k][0] = lanes_mask(present ? wp : 0);
        mask[k][1] = lanes_mask(present ? wp - 2 : 0);
    }
    for (int ci = 0; ci < g->in_channels; ci++) {
        const float *plane = image + (size_t)ci * g->in_plane;
        float *vc = v + (size_t)ci * channel_stride;
        SIMD_VECTOR x[6][2];
        UNROLL_FULL
        for (int k = 0; k < 6; k++) {
            x[k][0] = SIMD_LOAD_MASKED(plane + row_offset[k], mask[k][0]);
            x[k][1] = SIMD_LOAD_MASKED(plane + row_offset[k] + 2, mask[k][1]);
        }
        /* B^T d down the rows of each tile row (h: first or second). */
        SIMD_VECTOR t[2][4][2];
        UNROLL_FULL
        for (int h = 0; h < 2; h++) {
            UNROLL_FULL
            for (int o = 0; o < 2; o++) {
                const SIMD_VECTOR *r = &x[2 * h][0];
                t[h][0][o] = SIMD_SUB(r[0 * 2 + o], r[2 * 2 + o]);
                t[h][1][o] = SIMD_ADD(r[1 * 2 + o], r[2 * 2 + o]);
                t[h][2][o] = SIMD_SUB(r[2 * 2 + o], r[1 * 2 + o]);
                t[h][3][o] = SIMD_SUB(r[1 * 2 + o], r[3 * 2 + o]);
            }
        }
        UNROLL_FULL
        for (int k = 0; k < 4; k++) {
            SIMD_VECTOR d0, d1, d2, d3;
            deinterleave(t[0][k][0], t[1][k][0], &d0, &d1);
            deinterleave(t[0][k][1], t[1][k][1], &d2, &d3);
            const SIMD_VECTOR u[4] = {SIMD_SUB(d0, d2), SIMD_ADD(d1, d2),
                                      SIMD_SUB(d2, d1), SIMD_SUB(d1, d3)};
            UNROLL_FULL
            for (int j = 0; j < 4; j++)
                SIMD_STORE(vc + (size_t)(4 * k + j) * frequency_stride, u[j]);
        }
    }
}

static void input_row_simd(const winograd_geometry *g, const float *image,
                           int tile_row, float *v)
{
    if (g->paired) {
        input_pair_simd(g, image, tile_row, v);
        return;
    }
    const int wp = g->in_width;
    const size_t frequency_stride = g->stride;
    const size_t channel_stride = WINOGRAD_FREQUENCIES * g->stride;
    /* Input rows past the padded input read as zeros (valid 0). */
    size_t row_offset[4];
    int present[4];
    for (int k = 0; k < 4; k++) {
        const int y = 2 * tile_row + k;
        present[k] = y < g->in_height;
        row_offset[k] = (size_t)(present[k] ? y : 0) * wp;
    }
    for (int tc0 = 0; tc0 < g->tile_columns; tc0 += LANES) {
        const int lanes = g->tile_columns - tc0;
        /* Each tile reads columns 2 tc, .., 2 tc + 3: the even and odd
         * columns of this chunk's 2 LANES, and the first even and odd
         * column after them when the chunk is full. */
        const int pieces = lanes >= LANES ? 3 : 2;
        int valid[4][3];
        for (int k = 0; k < 4; k++)
            for (int piece = 0; piece < 3; piece++)
                valid[k][piece] =
                    present[k] ? wp - (2 * tc0 + piece * LANES) : 0;
        for (int ci = 0; ci < g->in_channels; ci++) {
            const float *plane = image + (size_t)ci * g->in_plane + 2 * tc0;
            float *vc = v + (size_t)ci * channel_stride + tc0;
            /* B^T d down the four rows, LANES columns at a time. */
            SIMD_VECTOR t[4][3];
            for (int piece = 0; piece < pieces; piece++) {
                SIMD_VECTOR x[4];
                UNROLL_FULL
                for (int k = 0; k < 4; k++)
                    x[k] = load_part(plane + row_offset[k] + piece * LANES,
                                     valid[k][piece]);
                t[0][piece] = SIMD_SUB(x[0], x[2]);
                t[1][piece] = SIMD_ADD(x[1], x[2]);
                t[2][piece] = SIMD_SUB(x[2], x[1]);
                t[3][piece] = SIMD_SUB(x[1], x[3]);
            }
            /* Columns d0, d1 of every tile are the even and odd columns,
             * d2, d3 the same one lane on; then B along the row. */
            UNROLL_FULL
            for (int k = 0; k < 4; k++) {
                SIMD_VECTOR d0, d1, next_even = SIMD_ZERO(),
                                    next_odd = SIMD_ZERO();
                deinterleave(t[k][0], t[k][1], &d0, &d1);
                if (pieces == 3)
                    deinterleave(t[k][2], SIMD_ZERO(), &next_even, &next_odd);
                const SIMD_VECTOR d2 = next_lane(d0, next_even);
                const SIMD_VECTOR d3 = next_lane(d1, next_odd);
                const SIMD_VECTOR u[4] = {SIMD_SUB(d0, d2), SIMD_ADD(d1, d2),
                                          SIMD_SUB(d2, d1), SIMD_SUB(d1, d3)};
                UNROLL_FULL
                for (int j = 0; j < 4; j++)
                    store_part(vc + (size_t)(4 * k + j) * frequency_stride,
                               u[j], lanes);
            }
        }
    }
}

/* M's tile of WINOGRAD_BLOCK channels x `vectors` vectors of tiles, summed
 * over the input channels in order. */
SIMD_INLINE void multiply_tile(const int vectors, const float *u, size_t u_row,
                               const float *v, size_t stride, int in_channels,
                               float *m)
{
    SIMD_VECTOR acc[WINOGRAD_BLOCK * WINOGRAD_VECTORS];
    UNROLL_FULL
    for (int k = 0; k < WINOGRAD_BLOCK * vectors; k++)
        acc[k] = SIMD_ZERO();
    for (int ci = 0; ci < in_channels; ci++) {
        SIMD_VECTOR x[WINOGRAD_VECTORS];
        UNROLL_FULL
        for (int r = 0; r < vectors; r++)
            x[r] = SIMD_LOAD_ALIGNED(v + (size_t)ci * stride + r * LANES);
        const float *w = u + (size_t)ci * u_row;
        UNROLL_FULL
        for (int c = 0; c < WINOGRAD_BLOCK; c++) {
            const SIMD_VECTOR weight = SIMD_BROADCAST(w[c]);
            UNROLL_FULL
            for (int r = 0; r < vectors; r++)
                acc[c * vectors + r] =
                    SIMD_FMA(weight, x[r], acc[c * vectors + r]);
        }
    }
    UNROLL_FULL
    for (int c = 0; c < WINOGRAD_BLOCK; c++) {
        UNROLL_FULL
        for (int r = 0; r < vectors; r++)
            SIMD_STORE(m + (size_t)c * stride + r * LANES,
                       acc[c * vectors + r]);
    }
}

/* Each tile width its own function, so its accumulators get registers. */
#define DEFINE_MULTIPLY_TILE(vectors)                                          \
    __attribute__((noinline)) static void multiply_tile_##vectors(             \
        const float *u, size_t u_row, const float *v, size_t stride,           \
        int in_channels, float *m)                                             \
    {                                                                          \
        multiply_tile(vectors, u, u_row, v, stride, in_channels, m);           \
    }
DEFINE_MULTIPLY_TILE(1)
#if WINOGRAD_VECTORS >= 2
DEFINE_MULTIPLY_TILE(2)
#endif
#if WINOGRAD_VECTORS >= 3
DEFINE_MULTIPLY_TILE(3)
#endif
#if WINOGRAD_VECTORS >= 4
DEFINE_MULTIPLY_TILE(4)
#endif

typedef void (*multiply_tile_function)(const float *, size_t, const float *,
                                       size_t, int, float *);

static void multiply_simd(const winograd_geometry *g, const float *u,
                          const float *v, int tiles, int out_block, float *m)
{
    static const multiply_tile_function by_vectors[] = {
        NULL,
        multiply_tile_1,
#if WINOGRAD_VECTORS >= 2
        multiply_tile_2,
#endif
#if WINOGRAD_VECTORS >= 3
        multiply_tile_3,
#endif
#if WINOGRAD_VECTORS >= 4
        multiply_tile_4,
#endif
    };
    const int cin = g->in_channels, cout = g->padded_out_channels;
    const int vectors = (tiles + LANES - 1) / LANES;
    const size_t channel_stride = WINOGRAD_FREQUENCIES * g->stride;
    for (int f = 0; f < WINOGRAD_FREQUENCIES; f++) {
        const float *uf = u + (size_t)f * cin * cout + out_block;
        const float *vf = v + (size_t)f * g->stride;
        float *mf = m + (size_t)f * g->stride;
        for (int r = 0; r < vectors; r += WINOGRAD_VECTORS) {
            const int n =
                vectors - r < WINOGRAD_VECTORS ? vectors - r : WINOGRAD_VECTORS;
            by_vectors[n](uf, (size_t)cout, vf + (size_t)r * LANES,
                          channel_stride, cin, mf + (size_t)r * LANES);
        }
    }
}

/* A^T M A for one output channel and one vector of tiles (`lanes` valid:
 * masked loads), plus the bias: y[r][x] is each tile's row r, column x. */
SIMD_INLINE void output_transform(const float *at, size_t frequency_stride,
                                  int lanes, SIMD_VECTOR bias,
                                  SIMD_VECTOR y[2][2])
{
    SIMD_VECTOR s[2][4];
    UNROLL_FULL
    for (int k = 0; k < 4; k++) {
        const float *row = at + (size_t)4 * k * frequency_stride;
        const SIMD_VECTOR m0 = load_part(row, lanes),
                          m1 = load_part(row + frequency_stride, lanes),
                          m2 = load_part(row + 2 * frequency_stride, lanes),
                          m3 = load_part(row + 3 * frequency_stride, lanes);
        s[0][k] = SIMD_ADD(SIMD_ADD(m0, m1), m2);
        s[1][k] = SIMD_SUB(SIMD_SUB(m1, m2), m3);
    }
    UNROLL_FULL
    for (int x = 0; x < 2; x++) {
        y[0][x] = SIMD_ADD(SIMD_ADD(SIMD_ADD(s[x][0], s[x][1]), s[x][2]), bias);
        y[1][x] = SIMD_ADD(SIMD_SUB(SIMD_SUB(s[x][1], s[x][2]), s[x][3]), bias);
    }
}

static void output_row_simd(const winograd_geometry *g, const float *m,
                            const float *bias, int relu, int tile_row,
                            int out_block, float *out)
{
    const size_t frequency_stride = g->stride;
    const int wo = g->out_width, y0 = 2 * tile_row;
    const int end = g->out_channels - out_block < WINOGRAD_BLOCK
                        ? g->out_channels
                        : out_block + WINOGRAD_BLOCK;
    for (int co = out_block; co < end; co++) {
        /* + 0 without a bias, as the direct kernels: a -0 sum becomes +0. */
        const SIMD_VECTOR b = bias ? SIMD_BROADCAST(bias[co]) : SIMD_ZERO();
        float *plane = out + (size_t)co * g->out_plane;
        const float *mc =
            m + (size_t)(co - out_block) * WINOGRAD_FREQUENCIES * g->stride;
        if (g->paired) {
            /* Interleaving the two columns of each tile gives the first
             * tile row's output row in `low`, the second's in `high`. */
            SIMD_VECTOR y[2][2];
            output_transform(mc, frequency_stride, LANES, b, y);
            for (int r = 0; r < 2; r++) {
                SIMD_VECTOR even = y[r][0], odd = y[r][1];
                if (relu) {
                    even = SIMD_RELU(even);
                    odd = SIMD_RELU(odd);
                }
                SIMD_VECTOR low, high;
                interleave(even, odd, &low, &high);
                if (y0 + r < g->out_height)
                    store_part(plane + (size_t)(y0 + r) * wo, low, wo);
                if (y0 + 2 + r < g->out_height)
                    store_part(plane + (size_t)(y0 + 2 + r) * wo, high, wo);
            }
            continue;
        }
        const int rows = g->out_height - y0 < 2 ? 1 : 2;
        for (int tc0 = 0; tc0 < g->tile_columns; tc0 += LANES) {
            SIMD_VECTOR y[2][2];
            output_transform(mc + tc0, frequency_stride, g->tile_columns - tc0,
                             b, y);
            const int valid = wo - 2 * tc0;
            for (int r = 0; r < rows; r++) {
                SIMD_VECTOR even = y[r][0], odd = y[r][1];
                if (relu) {
                    even = SIMD_RELU(even);
                    odd = SIMD_RELU(odd);
                }
                SIMD_VECTOR low, high;
                interleave(even, odd, &low, &high);
                float *p = plane + (size_t)(y0 + r) * wo + 2 * tc0;
                store_part(p, low, valid);
                store_part(p + LANES, high, valid - LANES);
            }
        }
    }
}

/* max(ReLU(y)) over each tile's four outputs: the pooled value of every
 * tile of the vector. ReLU values are never NaN or -0, so the order of the
 * maxima does not change the bits. */
SIMD_INLINE SIMD_VECTOR pool_tiles(SIMD_VECTOR y[2][2])
{
    return SIMD_MAX(SIMD_MAX(SIMD_RELU(y[0][0]), SIMD_RELU(y[0][1])),
                    SIMD_MAX(SIMD_RELU(y[1][0]), SIMD_RELU(y[1][1])));
}

/* The pooled values of each tile are contiguous in the lanes (one lane per
 * pool window), so no interleave: a row of tiles is a row of the pool's
 * output; when paired, the upper half of the vector is the next row. */
static void output_pool_row_simd(const winograd_geometry *g, const float *m,
                                 const float *bias, int tile_row, int out_block,
                                 float *out, size_t out_plane, size_t out_row)
{
    const size_t frequency_stride = g->stride;
    const int pooled_height = g->out_height / 2,
              pooled_width = g->out_width / 2;
    if (tile_row >= pooled_height)
        return;
    const int end = g->out_channels - out_block < WINOGRAD_BLOCK
                        ? g->out_channels
                        : out_block + WINOGRAD_BLOCK;
    for (int co = out_block; co < end; co++) {
        const SIMD_VECTOR b = bias ? SIMD_BROADCAST(bias[co]) : SIMD_ZERO();
        float *row = out + (size_t)co * out_plane + (size_t)tile_row * out_row;
        const float *mc =
            m + (size_t)(co - out_block) * WINOGRAD_FREQUENCIES * g->stride;
        if (g->paired) {
            SIMD_VECTOR y[2][2];
            output_transform(mc, frequency_stride, LANES, b, y);
            const SIMD_VECTOR pooled = pool_tiles(y);
            store_part(row, pooled, pooled_width);
            if (tile_row + 1 < pooled_height)
                store_part(row + out_row, SIMD_UPPER_HALF(pooled),
                           pooled_width);
            continue;
        }
        for (int tc0 = 0; tc0 < pooled_width; tc0 += LANES) {
            SIMD_VECTOR y[2][2];
            output_transform(mc + tc0, frequency_stride, g->tile_columns - tc0,
                             b, y);
            store_part(row + tc0, pool_tiles(y), pooled_width - tc0);
        }
    }
}

/* ---- The weight gradient (winograd_weights.h) --------------------------- */

/* A dY A^T of one vector of tiles, from each tile's two gradient rows split
 * into even columns (the tile's first) and odd ones: the 16 frequencies,
 * `lanes` of them stored, one frequency_stride apart. */
SIMD_INLINE void gradient_transform(SIMD_VECTOR even0, SIMD_VECTOR odd0,
                                    SIMD_VECTOR even1, SIMD_VECTOR odd1,
                                    float *w, size_t frequency_stride,
                                    int lanes)
{
    /* A dY down the two rows: r0, r0 + r1, r0 - r1, -r1. */
    const SIMD_VECTOR t[4][2] = {
        {even0, odd0},
        {SIMD_ADD(even0, even1), SIMD_ADD(odd0, odd1)},
        {SIMD_SUB(even0, even1), SIMD_SUB(odd0, odd1)},
        {SIMD_SUB(SIMD_ZERO(), even1), SIMD_SUB(SIMD_ZERO(), odd1)}};
    /* Then A^T along the row, the same way. */
    UNROLL_FULL
    for (int k = 0; k < 4; k++) {
        const SIMD_VECTOR u[4] = {t[k][0], SIMD_ADD(t[k][0], t[k][1]),
                                  SIMD_SUB(t[k][0], t[k][1]),
                                  SIMD_SUB(SIMD_ZERO(), t[k][1])};
        UNROLL_FULL
        for (int j = 0; j < 4; j++)
            store_part(w + (size_t)(4 * k + j) * frequency_stride, u[j], lanes);
    }
}

/* Tile rows tile_row and tile_row + 1 in one vector, as input_pair_simd:
 * one vector holds a whole gradient row (out_width <= LANES), and
 * deinterleaving a row of the first tile row with the same row of the
 * second puts the first's tiles in the low half. Lanes past the output read
 * zeros, so every lane is written. */
static void gradient_pair_simd(const winograd_geometry *g,
                               const float *gradient, int tile_row, float *w)
{
    const int wo = g->out_width;
    const size_t channel_stride = WINOGRAD_FREQUENCIES * g->stride;
    size_t row_offset[4];
    SIMD_MASK mask[4];
    for (int k = 0; k < 4; k++) {
        const int y = 2 * tile_row + k;
        const int present = y < g->out_height;
        row_offset[k] = (size_t)(present ? y : 0) * wo;
        mask[k] = lanes_mask(present ? wo : 0);
    }
    for (int co = 0; co < g->out_channels; co++) {
        const float *plane = gradient + (size_t)co * g->out_plane;
        SIMD_VECTOR x[4];
        UNROLL_FULL
        for (int k = 0; k < 4; k++)
            x[k] = SIMD_LOAD_MASKED(plane + row_offset[k], mask[k]);
        SIMD_VECTOR even0, odd0, even1, odd1;
        deinterleave(x[0], x[2], &even0, &odd0);
        deinterleave(x[1], x[3], &even1, &odd1);
        gradient_transform(even0, odd0, even1, odd1,
                           w + (size_t)co * channel_stride, g->stride, LANES);
    }
}

static void gradient_row_simd(const winograd_geometry *g, const float *gradient,
                              int tile_row, float *w)
{
    if (g->paired) {
        gradient_pair_simd(g, gradient, tile_row, w);
        return;
    }
    const int wo = g->out_width;
    const size_t channel_stride = WINOGRAD_FREQUENCIES * g->stride;
    int present[2];
    size_t row_offset[2];
    for (int r = 0; r < 2; r++) {
        const int y = 2 * tile_row + r;
        present[r] = y < g->out_height;
        row_offset[r] = (size_t)(present[r] ? y : 0) * wo;
    }
    for (int tc0 = 0; tc0 < g->tile_columns; tc0 += LANES) {
        const int lanes = g->tile_columns - tc0;
        /* The chunk's 2 LANES gradient columns, as two vectors per row. */
        int valid[2][2];
        for (int r = 0; r < 2; r++)
            for (int piece = 0; piece < 2; piece++)
                valid[r][piece] =
                    present[r] ? wo - (2 * tc0 + piece * LANES) : 0;
        for (int co = 0; co < g->out_channels; co++) {
            const float *plane = gradient + (size_t)co * g->out_plane + 2 * tc0;
            SIMD_VECTOR even[2], odd[2];
            UNROLL_FULL
            for (int r = 0; r < 2; r++)
                deinterleave(
                    load_part(plane + row_offset[r], valid[r][0]),
                    load_part(plane + row_offset[r] + LANES, valid[r][1]),
                    &even[r], &odd[r]);
            gradient_transform(even[0], odd[0], even[1], odd[1],
                               w + (size_t)co * channel_stride + tc0, g->stride,
                               lanes);
        }
    }
}

/* The sums of WINOGRAD_BLOCK output channels x `inputs` input channels of
 * one frequency over `vectors` vectors of tiles: vector sums in registers,
 * then the lanes of four output channels at a time summed and added to m
 * (one input channel's row, m_row floats from one input channel to the
 * next), which stays small enough for L1 whatever the batch. */
SIMD_INLINE void gradient_tile(const int inputs, const float *w, const float *v,
                               size_t channel_stride, int vectors, float *m,
                               size_t m_row)
{
    SIMD_VECTOR acc[WINOGRAD_BLOCK * WINOGRAD_GRADIENT_INPUTS];
    UNROLL_FULL
    for (int k = 0; k < WINOGRAD_BLOCK * inputs; k++)
        acc[k] = SIMD_ZERO();
    for (int t = 0; t < vectors; t++) {
        SIMD_VECTOR x[WINOGRAD_GRADIENT_INPUTS];
        UNROLL_FULL
        for (int i = 0; i < inputs; i++)
            x[i] =
                SIMD_LOAD_ALIGNED(v + i * channel_stride + (size_t)t * LANES);
        UNROLL_FULL
        for (int c = 0; c < WINOGRAD_BLOCK; c++) {
            SIMD_VECTOR y =
                SIMD_LOAD_ALIGNED(w + c * channel_stride + (size_t)t * LANES);
            SIMD_KEEP_IN_REGISTER(y);
            UNROLL_FULL
            for (int i = 0; i < inputs; i++)
                acc[c * inputs + i] = SIMD_FMA(y, x[i], acc[c * inputs + i]);
        }
    }
    UNROLL_FULL
    for (int i = 0; i < inputs; i++) {
        UNROLL_FULL
        for (int c = 0; c < WINOGRAD_BLOCK; c += 4)
            SIMD_ADD_TO4(m + i * m_row + c,
                         lane_sums4(acc[c * inputs + i],
                                    acc[(c + 1) * inputs + i],
                                    acc[(c + 2) * inputs + i],
                                    acc[(c + 3) * inputs + i]));
    }
}

/* Each number of input channels its own function, as multiply_tile. */
#define DEFINE_GRADIENT_TILE(inputs)                                           \
    __attribute__((noinline)) static void gradient_tile_##inputs(              \
        const float *w, const float *v, size_t channel_stride, int vectors,    \
        float *m, size_t m_row)                                                \
    {                                                                          \
        gradient_tile(inputs, w, v, channel_stride, vectors, m, m_row);        \
    }
DEFINE_GRADIENT_TILE(1)
#if WINOGRAD_GRADIENT_INPUTS >= 2
DEFINE_GRADIENT_TILE(2)
#endif
#if WINOGRAD_GRADIENT_INPUTS >= 3
DEFINE_GRADIENT_TILE(3)
#endif

typedef void (*gradient_tile_function)(const float *, const float *, size_t,
                                       int, float *, size_t);

static void gradient_multiply_simd(const winograd_geometry *g, const float *v,
                                   const float *w, int vectors, float *m)
{
    static const gradient_tile_function by_inputs[] = {
        NULL,
        gradient_tile_1,
#if WINOGRAD_GRADIENT_INPUTS >= 2
        gradient_tile_2,
#endif
#if WINOGRAD_GRADIENT_INPUTS >= 3
        gradient_tile_3,
#endif
    };
    const int cin = g->in_channels, cout = g->padded_out_channels;
    const size_t channel_stride = WINOGRAD_FREQUENCIES * g->stride;
    for (int f = 0; f < WINOGRAD_FREQUENCIES; f++) {
        const float *vf = v + (size_t)f * g->stride;
        const float *wf = w + (size_t)f * g->stride;
        float *mf = m + (size_t)f * cin * cout;
        for (int co = 0; co < cout; co += WINOGRAD_BLOCK)
            for (int ci = 0; ci < cin; ci += WINOGRAD_GRADIENT_INPUTS) {
                const int n = cin - ci < WINOGRAD_GRADIENT_INPUTS
                                  ? cin - ci
                                  : WINOGRAD_GRADIENT_INPUTS;
                by_inputs[n](wf + co * channel_stride, vf + ci * channel_stride,
                             channel_stride, vectors,
                             mf + (size_t)ci * cout + co, (size_t)cout);
            }
    }
}

/* A winograd_microkernels of these stages, with the ISA's block size and
 * rules. */
#define WINOGRAD_MICROKERNELS(tiles_per_block, smallest_channels,              \
                              smallest_product, smallest_weight_product)       \
    {                                                                          \
        .lanes = LANES, .block = WINOGRAD_BLOCK,                               \
        .block_tiles = (tiles_per_block), .min_channels = (smallest_channels), \
        .min_channel_product = (smallest_product),                             \
        .min_weight_channel_product = (smallest_weight_product),               \
        .input_row = input_row_simd, .multiply = multiply_simd,                \
        .output_row = output_row_simd,                                         \
        .output_pool_row = output_pool_row_simd,                               \
        .gradient_row = gradient_row_simd,                                     \
        .gradient_multiply = gradient_multiply_simd,                           \
    }

#endif
