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
DEFINE_FORWARD_POOL_STRIP(8, 2)

/* The pool strip's sums and pooling for each row pair, over the vectors
 * of output columns that cover its span; each vector's pooled values moved
 * to pooled column start / 2 by the pairing permutes themselves. The first
 * vector of a row is merged with ReLU(bias) in one blend and stored as the
 * whole pooled row; a second stores its own lanes. One call per image and
 * block, so consecutive rows overlap in the pipeline. */
SIMD_INLINE void
forward_pool_rows(const int nco, const conv_forward_geometry *g,
                  const float *in, const float *weights, const float *bias,
                  const uint8_t *spans, int pooled_columns, float *out,
                  size_t out_plane, size_t out_row, int valid_co)
{
    const __mmask16 row_mask = lanes_mask(pooled_columns);
    const int pooled_rows = g->out_height / 2;
    const __m512i pairs = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18,
                                            20, 22, 24, 26, 28, 30);
    /* The bias and ReLU(bias) of each channel, made once (no branches in
     * the rows). */
    __m512 start_value[8], fill[8];
    UNROLL_FULL
    for (int co = 0; co < nco; co++) {
        start_value[co] =
            bias && co < valid_co ? SIMD_BROADCAST(bias[co]) : SIMD_ZERO();
        fill[co] = SIMD_RELU(start_value[co]);
    }
    for (int r = 0; r < pooled_rows; r++) {
        float *row_out = out + (size_t)r * out_row;
        const int end = 2 * spans[2 * r + 1];
        int start = 2 * spans[2 * r];
        if (start >= end) {
            UNROLL_FULL
            for (int co = 0; co < nco; co++)
                if (co < valid_co)
                    _mm512_mask_storeu_ps(row_out + co * out_plane, row_mask,
                                          fill[co]);
            continue;
        }
        const float *row_in = in + (size_t)(2 * r) * g->in_width;
        for (int first = 1; start < end; start += LANES, first = 0) {
            const int lanes = 2 * pooled_columns - start < LANES
                                  ? 2 * pooled_columns - start
                                  : LANES;
            const int shift = start / 2;
            const __mmask16 computed =
                (__mmask16)((unsigned)lanes_mask(lanes / 2) << shift);
            __m512 acc[16];
            UNROLL_FULL
            for (int co = 0; co < nco; co++)
                acc[2 * co] = acc[2 * co + 1] = start_value[co];
            ACCUMULATE_TILE(nco, 2, 1, g, row_in + start, weights,
                            lanes_mask(lanes), acc);
            /* Lane i takes the pair at lanes 2 (i - shift) and
             * 2 (i - shift) + 1 (only the computed lanes matter). */
            const __m512i even =
                _mm512_sub_epi32(pairs, _mm512_set1_epi32(2 * shift));
            const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
            UNROLL_FULL
            for (int co = 0; co < nco; co++) {
                if (co >= valid_co)
                    continue;
                const __m512 rows = SIMD_MAX(SIMD_RELU(acc[2 * co]),
                                             SIMD_RELU(acc[2 * co + 1]));
                const __m512 pooled =
                    _mm512_max_ps(_mm512_permutexvar_ps(even, rows),
                                  _mm512_permutexvar_ps(odd, rows));
                float *p = row_out + co * out_plane;
                if (first)
                    _mm512_mask_storeu_ps(
                        p, row_mask,
                        _mm512_mask_blend_ps(computed, fill[co], pooled));
                else
                    _mm512_mask_storeu_ps(p, computed, pooled);
            }
        }
    }
}

#define DEFINE_FORWARD_POOL_ROWS(nco)                                          \
    __attribute__((noinline)) static void forward_pool_rows_##nco(             \
        const conv_forward_geometry *g, const float *in, const float *weights, \
        const float *bias, const uint8_t *spans, int pooled_columns,           \
        float *out, size_t out_plane, size_t out_row, int valid_co)            \
    {                                                                          \
        forward_pool_rows(nco, g, in, weights, bias, spans, pooled_columns,    \
                          out, out_plane, out_row, valid_co);                  \
    }
DEFINE_FORWARD_POOL_ROWS(1)
DEFINE_FORWARD_POOL_ROWS(2)
DEFINE_FORWARD_POOL_ROWS(4)
DEFINE_FORWARD_POOL_ROWS(8)

/* ---- One input channel, sixteen output channels in the lanes -----------
 * pool_rows_one_input: pool_rows for a convolution of one input channel
 * (every network's conv1) and 16 output channels, with the channels in
 * the lanes instead of the columns: each output pixel is 9 multiply-adds
 * of a broadcast input value into one vector of 16 channels, so only the
 * pooled columns of the span are computed (no lanes past it), then a
 * 16 x 16 transpose turns the pooled row's columns back into channel
 * rows. Each output takes its taps in the strips' order from the bias, so
 * the values are theirs bit for bit. The pipeline's evaluation took 8%
 * less time than with pool_rows (docs/performance.md, "Zeros by column"). */

/* What pool_rows_one_input writes of the window positions. */
enum { POSITIONS_NONE, POSITIONS_ARGMAX, POSITIONS_WINDOW_BITS };

/* n pooled columns from column `first` of pooled row r: 4 n output pixels
 * of 16 channels, ReLU and the 2 x 2 maximum into pooled[first ..], and
 * the window position of each maximum (the max-pool's: the first maximum
 * of top left, top right, bottom left, bottom right; ReLU values are never
 * NaN or -0, so equality finds it): POSITIONS_ARGMAX, into
 * position[first ..]; POSITIONS_WINDOW_BITS, as window bits (kernels.h)
 * into bits[first ..]. */
SIMD_INLINE void pooled_pixels(const int n, const int positions,
                               const float *in, int wp, int r, int first,
                               const __m512 weight[9], __m512 bias,
                               float pooled[16][16], int32_t position[16][16],
                               uint32_t bits[16])
{
    __m512 acc[16];
    UNROLL_FULL
    for (int k = 0; k < 4 * n; k++)
        acc[k] = bias;
    const float *x = in + (size_t)(2 * r) * wp + 2 * first;
    /* Each input value broadcast once, into every pixel it reaches; a
     * pixel still takes its taps in order (input row, then column). */
    UNROLL_FULL
    for (int row = 0; row < 4; row++)
        UNROLL_FULL
    for (int column = 0; column < 2 * n + 2; column++) {
        const __m512 value = _mm512_set1_ps(x[(size_t)row * wp + column]);
        UNROLL_FULL
        for (int p = 0; p < n; p++)
            UNROLL_FULL
        for (int dy = 0; dy < 2; dy++)
            UNROLL_FULL
        for (int dx = 0; dx < 2; dx++) {
            const int kh = row - dy, kw = column - 2 * p - dx;
            if (kh < 0 || kh > 2 || kw < 0 || kw > 2)
                continue;
            __m512 *a = &acc[4 * p + 2 * dy + dx];
            *a = _mm512_fmadd_ps(weight[3 * kh + kw], value, *a);
        }
    }
    const __m512 zero = _mm512_setzero_ps();
    UNROLL_FULL
    for (int p = 0; p < n; p++) {
        const __m512 top_left = _mm512_max_ps(acc[4 * p], zero),
                     top_right = _mm512_max_ps(acc[4 * p + 1], zero),
                     bottom_left = _mm512_max_ps(acc[4 * p + 2], zero),
                     bottom_right = _mm512_max_ps(acc[4 * p + 3], zero);
        const __m512 best =
            _mm512_max_ps(_mm512_max_ps(top_left, bottom_left),
                          _mm512_max_ps(top_right, bottom_right));
        _mm512_store_ps(pooled[first + p], best);
        if (positions == POSITIONS_WINDOW_BITS) {
            /* 0 if top left, else 1 if top right, else 2 if bottom left,
             * else 3: the low bit where not top left and (top right or
             * not bottom left), the high bit where neither top. */
            const __mmask16 left =
                _mm512_cmp_ps_mask(top_left, best, _CMP_EQ_OQ);
            const __mmask16 right =
                _mm512_cmp_ps_mask(top_right, best, _CMP_EQ_OQ);
            const __mmask16 bottom =
                _mm512_cmp_ps_mask(bottom_left, best, _CMP_EQ_OQ);
            const uint32_t low =
                (uint32_t)(uint16_t)(~left & (right | ~bottom));
            const uint32_t high = (uint32_t)(uint16_t)(~left & ~right);
            bits[first + p] = low | high << 16;
        }
        if (positions == POSITIONS_ARGMAX) {
            __m512i at = _mm512_set1_epi32(3);
            at = _mm512_mask_mov_epi32(
                at, _mm512_cmp_ps_mask(bottom_left, best, _CMP_EQ_OQ),
                _mm512_set1_epi32(2));
            at = _mm512_mask_mov_epi32(
                at, _mm512_cmp_ps_mask(top_right, best, _CMP_EQ_OQ),
                _mm512_set1_epi32(1));
            at = _mm512_mask_mov_epi32(
                at, _mm512_cmp_ps_mask(top_left, best, _CMP_EQ_OQ),
                _mm512_setzero_si512());
            _mm512_store_si512(position[first + p], at);
        }
    }
}

/* The pooled row's 16 columns of 16 channels, transposed and stored as
 * each channel's row (pooled_columns lanes), and into copy if not NULL. */
SIMD_INLINE void store_channel_rows(const float columns[16][16],
                                    __mmask16 row_mask, float *out,
                                    size_t out_plane, float *copy,
                                    size_t copy_plane)
{
    __m512 rows[16];
    UNROLL_FULL
    for (int k = 0; k < 16; k++)
        rows[k] = _mm512_load_ps(columns[k]);
    transpose_16x16(rows);
    UNROLL_FULL
    for (int co = 0; co < 16; co++) {
        _mm512_mask_storeu_ps(out + co * out_plane, row_mask, rows[co]);
        if (copy)
            _mm512_mask_storeu_ps(copy + co * copy_plane, row_mask, rows[co]);
    }
}

SIMD_INLINE void
pool_rows_one_input_with(const int positions, const conv_forward_geometry *g,
                         const float *in, const float *packed,
                         const float *bias, const uint8_t *spans,
                         int pooled_columns, float *out, size_t out_plane,
                         size_t out_row, uint8_t *argmax, uint32_t *window_bits,
                         float *copy, size_t copy_plane, size_t copy_row)
{
    const int with_argmax = positions == POSITIONS_ARGMAX,
              with_bits = positions == POSITIONS_WINDOW_BITS;
    /* The packed weights of two blocks of 8 channels, [tap][co] each. */
    __m512 weight[9];
    for (int tap = 0; tap < 9; tap++)
        weight[tap] = _mm512_insertf32x8(
            _mm512_castps256_ps512(_mm256_loadu_ps(packed + tap * 8)),
            _mm256_loadu_ps(packed + 72 + tap * 8), 1);
    const __m512 start = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
    const __m512 fill = _mm512_max_ps(start, _mm512_setzero_ps());
    const __mmask16 row_mask = lanes_mask(pooled_columns);
    const int wp = g->in_width, pooled_rows = g->out_height / 2;
    const size_t argmax_plane = (size_t)pooled_rows * pooled_columns;
    float fills[16];
    _mm512_storeu_ps(fills, fill);
    /* pooled[c]: pooled column c's 16 channels, ReLU(bias) outside the
     * span (where the position is 0): filled once, and each row's span
     * is filled again after its store. */
    float pooled[16][16] __attribute__((aligned(64)));
    int32_t position[16][16] __attribute__((aligned(64)));
    uint32_t bits[16] __attribute__((aligned(64))) = {0};
    for (int c = 0; c < 16; c++) {
        _mm512_store_ps(pooled[c], fill);
        if (with_argmax)
            _mm512_store_si512(position[c], _mm512_setzero_si512());
    }
    for (int r = 0; r < pooled_rows; r++) {
        float *row_out = out + (size_t)r * out_row;
        uint8_t *row_argmax =
            with_argmax ? argmax + (size_t)r * pooled_columns : NULL;
        uint32_t *row_bits =
            with_bits ? window_bits + (size_t)r * pooled_columns : NULL;
        const int first = spans[2 * r], end = spans[2 * r + 1];
        float *row_copy = copy ? copy + (size_t)r * copy_row : NULL;
        if (first >= end) {
            for (int co = 0; co < 16; co++) {
                _mm512_mask_storeu_ps(row_out + co * out_plane, row_mask,
                                      _mm512_set1_ps(fills[co]));
                if (row_copy)
                    _mm512_mask_storeu_ps(row_copy + co * copy_plane, row_mask,
                                          _mm512_set1_ps(fills[co]));
                if (with_argmax)
                    _mm_mask_storeu_epi8(row_argmax + co * argmax_plane,
                                         row_mask, _mm_setzero_si128());
            }
            if (with_bits)
                _mm512_mask_storeu_epi32(row_bits, row_mask,
                                         _mm512_setzero_si512());
            continue;
        }
        /* Groups of 3 pooled columns (12 accumulators) measured a little
         * faster than groups of 4. */
        int c = first;
        for (; c + 3 <= end; c += 3)
            pooled_pixels(3, positions, in, wp, r, c, weight, start, pooled,
                          position, bits);
        if (end - c == 2)
            pooled_pixels(2, positions, in, wp, r, c, weight, start, pooled,
                          position, bits);
        else if (end - c == 1)
            pooled_pixels(1, positions, in, wp, r, c, weight, start, pooled,
                          position, bits);
        store_channel_rows((const float(*)[16])pooled, row_mask, row_out,
                           out_plane, row_copy, copy_plane);
        if (with_argmax) {
            __m512 rows[16];
            for (int k = 0; k < 16; k++)
                rows[k] = _mm512_castsi512_ps(_mm512_load_si512(position[k]));
            transpose_16x16(rows);
            for (int co = 0; co < 16; co++)
                _mm_mask_storeu_epi8(
                    row_argmax + co * argmax_plane, row_mask,
                    _mm512_cvtepi32_epi8(_mm512_castps_si512(rows[co])));
        }
        if (with_bits) {
            _mm512_mask_storeu_epi32(row_bits, row_mask,
                                     _mm512_load_si512(bits));
            _mm512_store_si512(bits, _mm512_setzero_si512());
        }
        for (int k = first; k < end; k++) {
            _mm512_store_ps(pooled[k], fill);
            if (with_argmax)
                _mm512_store_si512(position[k], _mm512_setzero_si512());
        }
    }
}

static void pool_rows_one_input(const conv_forward_geometry *g, const float *in,
                                const float *packed, const float *bias,
                                const uint8_t *spans, int pooled_columns,
                                float *out, size_t out_plane, size_t out_row,
                                uint8_t *argmax, uint32_t *window_bits,
                                float *copy, size_t copy_plane, size_t copy_row)
{
    if (argmax)
        pool_rows_one_input_with(POSITIONS_ARGMAX, g, in, packed, bias, spans,
                                 pooled_columns, out, out_plane, out_row,
                                 argmax, NULL, copy, copy_plane, copy_row);
    else if (window_bits)
        pool_rows_one_input_with(POSITIONS_WINDOW_BITS, g, in, packed, bias,
                                 spans, pooled_columns, out, out_plane, out_row,
                                 NULL, window_bits, copy, copy_plane, copy_row);
    else
        pool_rows_one_input_with(POSITIONS_NONE, g, in, packed, bias, spans,
                                 pooled_columns, out, out_plane, out_row, NULL,
                                 NULL, copy, copy_plane, copy_row);
}

/* NaN compares unequal to zero, as != does. */
static void nonzero_columns_avx512(const float *plane, int width, int rows,
                                   size_t row_stride, uint64_t *masks)
{
    const __m512 zero = _mm512_setzero_ps();
    if (width > 16 && width <= 32) {
        /* Two vectors a row (every network's rows), masks made once. */
        const __mmask16 low = lanes_mask(width), high = lanes_mask(width - 16);
        for (int y = 0; y < rows; y++) {
            const float *row = plane + (size_t)y * row_stride;
            const uint32_t bits =
                (uint32_t)_mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(low, row),
                                             zero, _CMP_NEQ_UQ) |
                (uint32_t)_mm512_cmp_ps_mask(
                    _mm512_maskz_loadu_ps(high, row + 16), zero, _CMP_NEQ_UQ)
                    << 16;
            masks[y] |= bits;
        }
        return;
    }
    for (int y = 0; y < rows; y++) {
        const float *row = plane + (size_t)y * row_stride;
        uint64_t bits = 0;
        for (int x = 0; x < width; x += 16) {
            const __m512 v =
                _mm512_maskz_loadu_ps(lanes_mask(width - x), row + x);
            bits |= (uint64_t)_mm512_cmp_ps_mask(v, zero, _CMP_NEQ_UQ) << x;
        }
        masks[y] |= bits;
    }
}

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
    .pool_rows = {forward_pool_rows_1, forward_pool_rows_2, forward_pool_rows_4,
                  forward_pool_rows_8},
    .nonzero_columns = nonzero_columns_avx512,
    .pool_rows_one_input = pool_rows_one_input,
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
    table->conv3x3_pool_backward_weights = conv3x3_pool_backward_weights_avx512;
    table->conv3x3_pool_backward_weights_bits =
        conv3x3_pool_backward_weights_bits_avx512;
}
