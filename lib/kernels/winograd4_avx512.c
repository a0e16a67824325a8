/* The Winograd F(4x4, 3x3) stages (winograd4.h) for AVX-512, one image per
 * vector: an output of at most 16 x 16 is at most 4 x 4 tiles, tile (q, tc)
 * in lane 4 tc + q, so each of the 36 frequencies of V and M is one vector
 * per channel. In that order the gathers are 4 x 4 transposes inside the
 * 128-bit blocks: columns 0 .. 15 of input row 4 q + y hold tile column
 * tc's d[y][x] (x < 4) in lane x of block tc, so transposing the blocks of
 * the four tile rows' loads puts d[y][x] of tile (q, tc) in lane 4 tc + q;
 * the output transform's transpose turns each tile row's outputs back into
 * whole output rows. The operations and their order are the plain-C
 * stages' (winograd4.c), every multiply-add by a constant fused. */
#include "kernels/simd_avx512.h"
#include "kernels/winograd4.h"

#define BLOCK 8          /* output channels per block of M */
#define FREQUENCY_TILE 3 /* frequencies per register tile of the products */

/* gather_row's `whole`: which input rows are present, known at compile
 * time (else read from the tables). */
#define WHOLE_ROWS 1
#define WHOLE_BUT_LAST 2

/* B^T applied to d[0 .. 5] (2 roundings on each path). */
SIMD_INLINE void input_transform(const __m512 d[6], __m512 out[6])
{
    const __m512 four = _mm512_set1_ps(4.0f),
                 minus_four = _mm512_set1_ps(-4.0f),
                 minus_five = _mm512_set1_ps(-5.0f), two = _mm512_set1_ps(2.0f),
                 minus_two = _mm512_set1_ps(-2.0f);
    const __m512 t1 = _mm512_fmadd_ps(minus_four, d[2], d[4]);
    const __m512 t2 = _mm512_fmadd_ps(minus_four, d[1], d[3]);
    const __m512 t3 = _mm512_sub_ps(d[4], d[2]), t4 = _mm512_sub_ps(d[3], d[1]);
    out[0] =
        _mm512_fmadd_ps(four, d[0], _mm512_fmadd_ps(minus_five, d[2], d[4]));
    out[1] = _mm512_add_ps(t1, t2);
    out[2] = _mm512_sub_ps(t1, t2);
    out[3] = _mm512_fmadd_ps(two, t4, t3);
    out[4] = _mm512_fmadd_ps(minus_two, t4, t3);
    out[5] =
        _mm512_fmadd_ps(four, d[1], _mm512_fmadd_ps(minus_five, d[3], d[5]));
}

/* A^T applied to m[0 .. 5] (3 roundings on each path). */
SIMD_INLINE void output_transform(const __m512 m[6], __m512 out[4])
{
    const __m512 a = _mm512_add_ps(m[1], m[2]), b = _mm512_sub_ps(m[1], m[2]),
                 c = _mm512_add_ps(m[3], m[4]), d = _mm512_sub_ps(m[3], m[4]);
    out[0] = _mm512_add_ps(_mm512_add_ps(m[0], a), c);
    out[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), d, b);
    out[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), c, a);
    out[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.0f), d, b), m[5]);
}

/* The 4 x 4 transpose inside every 128-bit block: lane i of block b of
 * out[k] is lane k of block b of in[i]. */
SIMD_INLINE void transpose_blocks(const __m512 in[4], __m512 out[4])
{
    const __m512d t0 = _mm512_castps_pd(_mm512_unpacklo_ps(in[0], in[1])),
                  t1 = _mm512_castps_pd(_mm512_unpackhi_ps(in[0], in[1])),
                  t2 = _mm512_castps_pd(_mm512_unpacklo_ps(in[2], in[3])),
                  t3 = _mm512_castps_pd(_mm512_unpackhi_ps(in[2], in[3]));
    out[0] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    out[1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    out[2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    out[3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
}

/* d[y][0 .. 5] of input row y of every tile, lane 4 tc + q: columns
 * 0 .. 15 of the four rows 4 q + y hold columns 4 tc + x, x < 4, in lane x
 * of block tc, so the transpose of the blocks gathers d[y][0 .. 3]. Column
 * 4 tc + 4 is tile column tc + 1's x = 0, so d[y][4] is d[y][0] moved down
 * one block, with columns 16 of the four rows (a 4 x 4 transpose of their
 * columns 16 .. 19) in the last; d[y][5] likewise. row_offset and row_mask
 * as input_image_avx512 makes them (row_mask[y][q][1]: columns 16 .. 19),
 * or, when `whole` (a constant) is WHOLE_ROWS, every row 4 q + y present:
 * offsets (4 q + y) wp and masks `columns`; when it is WHOLE_BUT_LAST, the
 * same but rows 16 and 17 (of tile row 3) absent, as in a 16-row padded
 * input (the classifiers' 14 x 14 convolutions with pad 1). */
SIMD_INLINE void gather_row(const int whole, const float *plane, int wp,
                            const __mmask16 columns[2],
                            const size_t row_offset[6][4],
                            const __mmask16 row_mask[6][4][2], int y,
                            __m512 d[6])
{
    __m512 rows[4];
    __m128 tail[4];
    UNROLL_FULL
    for (int q = 0; q < 4; q++) {
        const int absent = whole == WHOLE_BUT_LAST && 4 * q + y >= 16;
        const float *row =
            plane + (whole ? (absent ? 0 : (size_t)(4 * q + y) * wp)
                           : row_offset[y][q]);
        rows[q] = _mm512_maskz_loadu_ps(
            whole ? (absent ? 0 : columns[0]) : row_mask[y][q][0], row);
        tail[q] = _mm_maskz_loadu_ps(
            (__mmask8)(whole ? (absent ? 0 : columns[1]) : row_mask[y][q][1]),
            row + 16);
    }
    transpose_blocks(rows, &d[0]);
    const __m128 low = _mm_unpacklo_ps(tail[0], tail[1]),
                 high = _mm_unpacklo_ps(tail[2], tail[3]);
    const __m512i next[2] = {
        _mm512_castsi128_si512(_mm_castps_si128(_mm_movelh_ps(low, high))),
        _mm512_castsi128_si512(_mm_castps_si128(_mm_movehl_ps(high, low)))};
    UNROLL_FULL
    for (int x = 0; x < 2; x++)
        d[4 + x] = _mm512_castsi512_ps(
            _mm512_alignr_epi32(next[x], _mm512_castps_si512(d[x]), 4));
}

/* Row k of V: B applied along t[0 .. 5], stored. */
SIMD_INLINE void store_transformed_row(const __m512 t[6], int k, size_t stride,
                                       float *vc)
{
    __m512 row[6];
    input_transform(t, row);
    UNROLL_FULL
    for (int j = 0; j < 6; j++)
        _mm512_store_ps(vc + (size_t)(6 * k + j) * stride, row[j]);
}

/* V of one input channel: B^T d down the columns, then B along the rows,
 * input_transform's operations in its order, so the plain-C stage's bits.
 * 36 gathered values and 36 transformed ones do not fit in 32 registers,
 * so the rows of B^T d are made in the order that spills fewest (15
 * vectors over both variants against 39 gathering all 36 first): row 0
 * from input rows 0, 2 and 4; row 5 from 1, 3 and 5; rows 1 to 4 from 1
 * to 4, each column's four at once. */
SIMD_INLINE void input_channel(const int whole, const float *plane,
                               size_t stride, int wp,
                               const __mmask16 columns[2],
                               const size_t row_offset[6][4],
                               const __mmask16 row_mask[6][4][2], float *vc)
{
    const __m512 four = _mm512_set1_ps(4.0f),
                 minus_four = _mm512_set1_ps(-4.0f),
                 minus_five = _mm512_set1_ps(-5.0f), two = _mm512_set1_ps(2.0f),
                 minus_two = _mm512_set1_ps(-2.0f);
    __m512 d[6][6], t[6];
    gather_row(whole, plane, wp, columns, row_offset, row_mask, 0, d[0]);
    gather_row(whole, plane, wp, columns, row_offset, row_mask, 2, d[2]);
    gather_row(whole, plane, wp, columns, row_offset, row_mask, 4, d[4]);
    UNROLL_FULL
    for (int x = 0; x < 6; x++)
        t[x] = _mm512_fmadd_ps(four, d[0][x],
                               _mm512_fmadd_ps(minus_five, d[2][x], d[4][x]));
    store_transformed_row(t, 0, stride, vc);
    gather_row(whole, plane, wp, columns, row_offset, row_mask, 1, d[1]);
    gather_row(whole, plane, wp, columns, row_offset, row_mask, 3, d[3]);
    gather_row(whole, plane, wp, columns, row_offset, row_mask, 5, d[5]);
    UNROLL_FULL
    for (int x = 0; x < 6; x++)
        t[x] = _mm512_fmadd_ps(four, d[1][x],
                               _mm512_fmadd_ps(minus_five, d[3][x], d[5][x]));
    store_transformed_row(t, 5, stride, vc);
    __m512 middle[4][6];
    UNROLL_FULL
    for (int x = 0; x < 6; x++) {
        const __m512 t1 = _mm512_fmadd_ps(minus_four, d[2][x], d[4][x]);
        const __m512 t2 = _mm512_fmadd_ps(minus_four, d[1][x], d[3][x]);
        const __m512 t3 = _mm512_sub_ps(d[4][x], d[2][x]),
                     t4 = _mm512_sub_ps(d[3][x], d[1][x]);
        middle[0][x] = _mm512_add_ps(t1, t2);
        middle[1][x] = _mm512_sub_ps(t1, t2);
        middle[2][x] = _mm512_fmadd_ps(two, t4, t3);
        middle[3][x] = _mm512_fmadd_ps(minus_two, t4, t3);
    }
    UNROLL_FULL
    for (int k = 1; k < 5; k++)
        store_transformed_row(middle[k - 1], k, stride, vc);
}

static void input_image_avx512(const winograd4_geometry *g, const float *image,
                               float *v)
{
    const int wp = g->in_width;
    /* Row 4 q + y of tile row q: absent rows (past the input, or of tile
     * rows past the output) load nothing and read as zeros. */
    size_t row_offset[6][4];
    __mmask16 row_mask[6][4][2];
    const __mmask16 columns[2] = {lanes_mask(wp), lanes_mask(wp - 16)};
    int all_present = 1, all_but_last = 1;
    for (int y = 0; y < 6; y++)
        for (int q = 0; q < 4; q++) {
            const int row = 4 * q + y;
            const int present = q < g->tile_rows && row < g->in_height;
            all_present &= present;
            all_but_last &= present == (row < 16);
            row_offset[y][q] = (size_t)(present ? row : 0) * wp;
            for (int h = 0; h < 2; h++)
                row_mask[y][q][h] = present ? columns[h] : 0;
        }
    const size_t channel_floats = WINOGRAD4_FREQUENCIES * g->stride;
    if (all_present) {
        /* Every image of 4 x 4 whole tiles (the seed's conv2): offsets
         * and masks computed, not read from the tables (this stage's share
         * of an evaluation profile fell by a fifth). */
        for (int ci = 0; ci < g->in_channels; ci++)
            input_channel(WHOLE_ROWS, image + (size_t)ci * g->in_plane,
                          g->stride, wp, columns, row_offset, row_mask,
                          v + (size_t)ci * channel_floats);
        return;
    }
    if (all_but_last) {
        /* A 16-row padded input (the classifiers' 14 x 14 convolutions
         * with pad 1): likewise, rows 16 and 17 known absent. */
        for (int ci = 0; ci < g->in_channels; ci++)
            input_channel(WHOLE_BUT_LAST, image + (size_t)ci * g->in_plane,
                          g->stride, wp, columns, row_offset, row_mask,
                          v + (size_t)ci * channel_floats);
        return;
    }
    for (int ci = 0; ci < g->in_channels; ci++)
        input_channel(0, image + (size_t)ci * g->in_plane, g->stride, wp,
                      columns, row_offset, row_mask,
                      v + (size_t)ci * channel_floats);
}

/* M of frequencies f0 .. f0 + FREQUENCY_TILE - 1 and BLOCK output channels,
 * summed over the input channels in order; each weight of U broadcast. */
static void multiply_avx512(const winograd4_geometry *g, const float *u,
                            const float *v, int out_block, float *m)
{
    const int cin = g->in_channels, cout = g->padded_out_channels;
    const size_t stride = g->stride;
    const size_t channel_stride = WINOGRAD4_FREQUENCIES * stride;
    const size_t frequency_u = (size_t)cin * cout;
    for (int f0 = 0; f0 < WINOGRAD4_FREQUENCIES; f0 += FREQUENCY_TILE) {
        __m512 acc[BLOCK][FREQUENCY_TILE];
        UNROLL_FULL
        for (int c = 0; c < BLOCK; c++)
            UNROLL_FULL
        for (int r = 0; r < FREQUENCY_TILE; r++)
            acc[c][r] = _mm512_setzero_ps();
        const float *uf = u + f0 * frequency_u + out_block;
        const float *vf = v + f0 * stride;
        for (int ci = 0; ci < cin; ci++) {
            __m512 x[FREQUENCY_TILE];
            UNROLL_FULL
            for (int r = 0; r < FREQUENCY_TILE; r++)
                x[r] = _mm512_load_ps(vf + ci * channel_stride + r * stride);
            const float *w = uf + (size_t)ci * cout;
            UNROLL_FULL
            for (int c = 0; c < BLOCK; c++)
                UNROLL_FULL
            for (int r = 0; r < FREQUENCY_TILE; r++)
                acc[c][r] = _mm512_fmadd_ps(
                    _mm512_set1_ps(w[r * frequency_u + c]), x[r], acc[c][r]);
        }
        UNROLL_FULL
        for (int c = 0; c < BLOCK; c++)
            UNROLL_FULL
        for (int r = 0; r < FREQUENCY_TILE; r++)
            _mm512_store_ps(m + (c * WINOGRAD4_FREQUENCIES + f0 + r) * stride,
                            acc[c][r]);
    }
}

/* A^T M A of one output channel plus the bias: y[r][x] is each tile's
 * output row r, column x. */
SIMD_INLINE void tile_outputs(const float *mc, size_t stride, __m512 bias,
                              __m512 y[4][4])
{
    __m512 s[4][6];
    UNROLL_FULL
    for (int j = 0; j < 6; j++) {
        __m512 column[6], out[4];
        UNROLL_FULL
        for (int k = 0; k < 6; k++)
            column[k] = _mm512_load_ps(mc + (size_t)(6 * k + j) * stride);
        output_transform(column, out);
        UNROLL_FULL
        for (int r = 0; r < 4; r++)
            s[r][j] = out[r];
    }
    UNROLL_FULL
    for (int r = 0; r < 4; r++) {
        __m512 out[4];
        output_transform(s[r], out);
        UNROLL_FULL
        for (int x = 0; x < 4; x++)
            y[r][x] = _mm512_add_ps(out[x], bias);
    }
}

/* The end of the block: out_channels at most. */
static int block_end(const winograd4_geometry *g, int out_block)
{
    return g->out_channels - out_block < BLOCK ? g->out_channels
                                               : out_block + BLOCK;
}

static void output_image_avx512(const winograd4_geometry *g, const float *m,
                                const float *bias, int relu, int out_block,
                                float *out, size_t out_plane, size_t out_row)
{
    const int wo = g->out_width, ho = g->out_height;
    const __mmask16 columns = lanes_mask(wo);
    for (int co = out_block; co < block_end(g, out_block); co++) {
        /* + 0 without a bias, as the direct kernels: a -0 sum becomes +0. */
        const __m512 b = bias ? _mm512_set1_ps(bias[co]) : _mm512_setzero_ps();
        float *plane = out + (size_t)co * out_plane;
        __m512 y[4][4];
        tile_outputs(m + (size_t)(co - out_block) * WINOGRAD4_FREQUENCIES *
                             g->stride,
                     g->stride, b, y);
        for (int r = 0; r < 4; r++) {
            __m512 x[4], rows[4];
            UNROLL_FULL
            for (int k = 0; k < 4; k++)
                x[k] = relu ? _mm512_max_ps(y[r][k], _mm512_setzero_ps())
                            : y[r][k];
            /* Lane 4 tc + q of x[k] is column 4 tc + k of output row
             * 4 q + r: transposed, rows[q] is that whole row. */
            transpose_blocks(x, rows);
            for (int q = 0; q < g->tile_rows && 4 * q + r < ho; q++)
                _mm512_mask_storeu_ps(plane + (size_t)(4 * q + r) * out_row,
                                      columns, rows[q]);
        }
    }
}

/* The lanes of a pair of pooled rows (`last`: tile rows 2 and 3, else 0
 * and 1) in the two vectors of the pooled values of column parities 0 and
 * 1: lane 8 h + 2 tc + b of the pair is column 2 tc + b of tile row h
 * (first pair) or 2 + h (last), lane 4 tc + h (or 4 tc + 2 + h) of
 * parity b's values. */
SIMD_INLINE __m512i pooled_rows_order(int last)
{
    return _mm512_add_epi32(_mm512_setr_epi32(0, 16, 4, 20, 8, 24, 12, 28, 1,
                                              17, 5, 21, 9, 25, 13, 29),
                            _mm512_set1_epi32(last ? 2 : 0));
}

static void output_pool_image_avx512(const winograd4_geometry *g,
                                     const float *m, const float *bias,
                                     int out_block, float *out,
                                     size_t out_plane, size_t out_row)
{
    const int pooled_height = g->out_height / 2,
              pooled_width = g->out_width / 2;
    const __mmask16 columns = lanes_mask(pooled_width);
    const __m512i first_rows = pooled_rows_order(0),
                  last_rows = pooled_rows_order(1);
    for (int co = out_block; co < block_end(g, out_block); co++) {
        const __m512 b = bias ? _mm512_set1_ps(bias[co]) : _mm512_setzero_ps();
        float *plane = out + (size_t)co * out_plane;
        __m512 y[4][4];
        tile_outputs(m + (size_t)(co - out_block) * WINOGRAD4_FREQUENCIES *
                             g->stride,
                     g->stride, b, y);
        const __m512 zero = _mm512_setzero_ps();
        for (int a = 0; a < 2; a++) {
            /* ReLU values are never NaN or -0, so the order of the maxima
             * does not change the bits. */
            __m512 pooled[2];
            UNROLL_FULL
            for (int parity = 0; parity < 2; parity++)
                pooled[parity] = _mm512_max_ps(
                    _mm512_max_ps(
                        _mm512_max_ps(y[2 * a][2 * parity], zero),
                        _mm512_max_ps(y[2 * a][2 * parity + 1], zero)),
                    _mm512_max_ps(
                        _mm512_max_ps(y[2 * a + 1][2 * parity], zero),
                        _mm512_max_ps(y[2 * a + 1][2 * parity + 1], zero)));
            const __m512 rows[2] = {
                _mm512_permutex2var_ps(pooled[0], first_rows, pooled[1]),
                _mm512_permutex2var_ps(pooled[0], last_rows, pooled[1])};
            for (int pair = 0; pair < 2; pair++) {
                const int row = 4 * pair + a;
                if (row < pooled_height)
                    _mm512_mask_storeu_ps(plane + (size_t)row * out_row,
                                          columns, rows[pair]);
                if (row + 2 < pooled_height)
                    _mm512_mask_storeu_ps(plane + (size_t)(row + 2) * out_row,
                                          columns, SIMD_UPPER_HALF(rows[pair]));
            }
        }
    }
}

/* ReLU, then the max-pool's scan of one window's four values (v[0] top
 * left, v[1] top right, v[2] bottom left, v[3] bottom right): a later
 * value replaces the best only if strictly greater, as in
 * maxpool2x2_forward. ReLU values are never NaN or -0, so the best is
 * also their maximum. */
SIMD_INLINE __m512 pool_window_argmax(const __m512 v[4], __m512i *position)
{
    const __m512 zero = _mm512_setzero_ps();
    __m512 best = _mm512_max_ps(v[0], zero);
    __m512i at = _mm512_setzero_si512();
    UNROLL_FULL
    for (int k = 1; k < 4; k++) {
        const __m512 value = _mm512_max_ps(v[k], zero);
        const __mmask16 greater = _mm512_cmp_ps_mask(value, best, _CMP_GT_OQ);
        best = _mm512_mask_mov_ps(best, greater, value);
        at = _mm512_mask_mov_epi32(at, greater, _mm512_set1_epi32(k));
    }
    *position = at;
    return best;
}

/* output_pool_image's pooling with the argmax (winograd4.h): the pooled
 * values of the four tile rows come out in the same lanes, so one
 * permutation turns values and positions into pooled rows. */
static void output_pool_argmax_image_avx512(const winograd4_geometry *g,
                                            const float *m, const float *bias,
                                            int out_block, float *out,
                                            uint8_t *argmax, float *copy,
                                            size_t copy_plane, size_t copy_row)
{
    const int pooled_height = g->out_height / 2,
              pooled_width = g->out_width / 2;
    const size_t pooled_plane = (size_t)pooled_height * pooled_width;
    const __mmask16 columns = lanes_mask(pooled_width);
    const __m512i first_rows = pooled_rows_order(0),
                  last_rows = pooled_rows_order(1);
    for (int co = out_block; co < block_end(g, out_block); co++) {
        const __m512 b = bias ? _mm512_set1_ps(bias[co]) : _mm512_setzero_ps();
        float *plane = out + (size_t)co * pooled_plane;
        uint8_t *positions = argmax + (size_t)co * pooled_plane;
        float *copy_channel = copy ? copy + (size_t)co * copy_plane : NULL;
        __m512 y[4][4];
        tile_outputs(m + (size_t)(co - out_block) * WINOGRAD4_FREQUENCIES *
                             g->stride,
                     g->stride, b, y);
        for (int a = 0; a < 2; a++) {
            __m512 pooled[2];
            __m512i at[2];
            UNROLL_FULL
            for (int parity = 0; parity < 2; parity++) {
                const __m512 window[4] = {
                    y[2 * a][2 * parity], y[2 * a][2 * parity + 1],
                    y[2 * a + 1][2 * parity], y[2 * a + 1][2 * parity + 1]};
                pooled[parity] = pool_window_argmax(window, &at[parity]);
            }
            const __m512 rows[2] = {
                _mm512_permutex2var_ps(pooled[0], first_rows, pooled[1]),
                _mm512_permutex2var_ps(pooled[0], last_rows, pooled[1])};
            const __m512i row_positions[2] = {
                _mm512_permutex2var_epi32(at[0], first_rows, at[1]),
                _mm512_permutex2var_epi32(at[0], last_rows, at[1])};
            for (int pair = 0; pair < 2; pair++) {
                /* The low half is pooled row 4 pair + a, the high half the
                 * row two below. */
                const __m512 high = SIMD_UPPER_HALF(rows[pair]);
                const __m512i high_positions = _mm512_shuffle_i32x4(
                    row_positions[pair], row_positions[pair],
                    _MM_SHUFFLE(3, 2, 3, 2));
                for (int h = 0; h < 2; h++) {
                    const int row = 4 * pair + a + 2 * h;
                    if (row >= pooled_height)
                        continue;
                    const __m512 values = h ? high : rows[pair];
                    const size_t at_row = (size_t)row * pooled_width;
                    _mm512_mask_storeu_ps(plane + at_row, columns, values);
                    _mm512_mask_cvtepi32_storeu_epi8(
                        positions + at_row, columns,
                        h ? high_positions : row_positions[pair]);
                    if (copy_channel)
                        _mm512_mask_storeu_ps(copy_channel +
                                                  (size_t)row * copy_row,
                                              columns, values);
                }
            }
        }
    }
}

/* ---- The weight gradient's stages (winograd4_weights.h) ---------------- */

/* A applied to y[0 .. 3] (4 values to 6; 2 roundings on each path), the
 * plain-C gradient_transform_scalar's operations. */
SIMD_INLINE void gradient_transform(const __m512 y[4], __m512 out[6])
{
    const __m512 four = _mm512_set1_ps(4.0f);
    const __m512 a = _mm512_add_ps(y[0], y[2]), b = _mm512_add_ps(y[1], y[3]);
    const __m512 c = _mm512_fmadd_ps(four, y[2], y[0]),
                 d = _mm512_fmadd_ps(four, y[3], y[1]);
    out[0] = y[0];
    out[1] = _mm512_add_ps(a, b);
    out[2] = _mm512_sub_ps(a, b);
    out[3] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), d, c);
    out[4] = _mm512_fmadd_ps(_mm512_set1_ps(-2.0f), d, c);
    out[5] = y[3];
}

/* W = A dY A^T, tile (q, tc) in lane 4 tc + q as V: output row 4 q + r
 * holds tile column tc's dY[r][x] in lane x of block tc, so the block
 * transpose of the four tile rows' loads gathers dY[r][x]. Absent rows
 * and columns load as zeros, so every lane of W is written. */
static void gradient_image_avx512(const winograd4_geometry *g,
                                  const float *gradient, float *w)
{
    const int wo = g->out_width, ho = g->out_height;
    const __mmask16 columns = lanes_mask(wo);
    const size_t stride = g->stride;
    for (int co = 0; co < g->out_channels; co++) {
        const float *plane = gradient + (size_t)co * g->out_plane;
        __m512 y[4][4];
        UNROLL_FULL
        for (int r = 0; r < 4; r++) {
            __m512 rows[4];
            UNROLL_FULL
            for (int q = 0; q < 4; q++) {
                const int row = 4 * q + r;
                rows[q] = _mm512_maskz_loadu_ps(
                    row < ho ? columns : 0,
                    plane + (size_t)(row < ho ? row : 0) * wo);
            }
            transpose_blocks(rows, y[r]);
        }
        /* A dY down the columns, then A^T along the rows. */
        __m512 e[6][4];
        UNROLL_FULL
        for (int x = 0; x < 4; x++) {
            __m512 column[4], out[6];
            UNROLL_FULL
            for (int r = 0; r < 4; r++)
                column[r] = y[r][x];
            gradient_transform(column, out);
            UNROLL_FULL
            for (int k = 0; k < 6; k++)
                e[k][x] = out[k];
        }
        float *wc = w + (size_t)co * WINOGRAD4_FREQUENCIES * stride;
        UNROLL_FULL
        for (int k = 0; k < 6; k++) {
            __m512 row[6];
            gradient_transform(e[k], row);
            UNROLL_FULL
            for (int j = 0; j < 6; j++)
                _mm512_store_ps(wc + (size_t)(6 * k + j) * stride, row[j]);
        }
    }
}

/* Input channels per register tile of the products: BLOCK x 3 sums. */
#define GRADIENT_INPUTS 3

/* The sums of BLOCK output channels x `inputs` input channels of one
 * frequency over `images` images, one vector each (the stride of an image
 * of at most 4 x 4 tiles), v_image and w_image floats apart: vector sums
 * in registers, then the lanes of four output channels at a time summed
 * (lane_sums4) and added to m (one input channel's row, m_row floats from
 * one input channel to the next). */
SIMD_INLINE void frequency_sums(const int inputs, const float *w,
                                size_t w_image, const float *v, size_t v_image,
                                size_t channel_stride, size_t images, float *m,
                                size_t m_row)
{
    __m512 acc[BLOCK * GRADIENT_INPUTS];
    UNROLL_FULL
    for (int k = 0; k < BLOCK * inputs; k++)
        acc[k] = _mm512_setzero_ps();
    for (size_t t = 0; t < images; t++) {
        __m512 x[GRADIENT_INPUTS];
        UNROLL_FULL
        for (int i = 0; i < inputs; i++)
            x[i] = _mm512_load_ps(v + i * channel_stride + t * v_image);
        UNROLL_FULL
        for (int c = 0; c < BLOCK; c++) {
            __m512 y = _mm512_load_ps(w + c * channel_stride + t * w_image);
            SIMD_KEEP_IN_REGISTER(y);
            UNROLL_FULL
            for (int i = 0; i < inputs; i++)
                acc[c * inputs + i] =
                    _mm512_fmadd_ps(y, x[i], acc[c * inputs + i]);
        }
    }
    UNROLL_FULL
    for (int i = 0; i < inputs; i++)
        UNROLL_FULL
    for (int c = 0; c < BLOCK; c += 4)
        SIMD_ADD_TO4(m + i * m_row + c,
                     lane_sums4(acc[c * inputs + i], acc[(c + 1) * inputs + i],
                                acc[(c + 2) * inputs + i],
                                acc[(c + 3) * inputs + i]));
}

/* Each number of input channels its own function, so that each keeps its
 * sums in registers. */
#define DEFINE_FREQUENCY_SUMS(inputs)                                          \
    __attribute__((noinline)) static void frequency_sums_##inputs(             \
        const float *w, size_t w_image, const float *v, size_t v_image,        \
        size_t channel_stride, size_t images, float *m, size_t m_row)          \
    {                                                                          \
        frequency_sums(inputs, w, w_image, v, v_image, channel_stride, images, \
                       m, m_row);                                              \
    }
DEFINE_FREQUENCY_SUMS(1)
DEFINE_FREQUENCY_SUMS(2)
DEFINE_FREQUENCY_SUMS(3)

/* An image's V and W rows are one vector (stride LANES: at most 4 x 4
 * tiles). */
static void gradient_multiply_avx512(const winograd4_geometry *g,
                                     const float *v, size_t v_image,
                                     const float *w, size_t w_image,
                                     size_t images, float *m)
{
    typedef void (*sums_function)(const float *, size_t, const float *, size_t,
                                  size_t, size_t, float *, size_t);
    static const sums_function by_inputs[] = {
        NULL, frequency_sums_1, frequency_sums_2, frequency_sums_3};
    const int cin = g->in_channels, cout = g->padded_out_channels;
    const size_t channel_stride = WINOGRAD4_FREQUENCIES * g->stride;
    for (int f = 0; f < WINOGRAD4_FREQUENCIES; f++) {
        const float *vf = v + (size_t)f * g->stride;
        const float *wf = w + (size_t)f * g->stride;
        float *mf = m + (size_t)f * cin * cout;
        for (int co = 0; co < cout; co += BLOCK)
            for (int ci = 0; ci < cin; ci += GRADIENT_INPUTS) {
                const int n =
                    cin - ci < GRADIENT_INPUTS ? cin - ci : GRADIENT_INPUTS;
                by_inputs[n](wf + co * channel_stride, w_image,
                             vf + ci * channel_stride, v_image, channel_stride,
                             images, mf + (size_t)ci * cout + co, (size_t)cout);
            }
    }
}

/* The weight gradient from 9 tiles an image (outputs of 3 x 3 tiles, 9
 * of a vector's 16 lanes): on bench_kernels --only "weight rule" (batch
 * 20, 8 -> 8 .. 32 -> 32 channels), F(4x4) took 1.1 to 1.6 times less
 * time than F(2x2) at 10 x 10 outputs and up, and 1.3 to 2.6 times more
 * at 8 x 8 and below (4 tiles). The forward pass: no rule beyond
 * F(2x2)'s (the driver asks F(4x4) only among its shapes):
 * on bench_kernels --only rule at 14 x 14, F(4x4) ran faster than F(2x2)
 * on every channel grid point from 2 -> 2 to 32 -> 32 (docs/performance.md). */
const winograd4_microkernels winograd4_avx512 = {
    .lanes = LANES,
    .block = BLOCK,
    .max_tile_rows = 4,
    .max_tile_columns = 4,
    .min_channel_product = 128,
    .input_image = input_image_avx512,
    .multiply = multiply_avx512,
    .output_image = output_image_avx512,
    .output_pool_image = output_pool_image_avx512,
    .output_pool_argmax_image = output_pool_argmax_image_avx512,
    .pack = winograd4_pack_avx512,
    .min_weight_tiles = 9,
    .gradient_image = gradient_image_avx512,
    .gradient_multiply = gradient_multiply_avx512,
    .weights_of = winograd4_weights_of_avx512,
};
