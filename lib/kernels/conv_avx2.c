/* AVX2+FMA 3x3 convolution: forward, input gradient, weight gradients.
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

#include "kernels/kernels.h"
#include "kernels/simd_common.h"

#define LANES 8
/* Largest tile: accumulators, and vectors per output row segment. */
#define MAX_ACCUMULATORS 12
#define MAX_VECTORS 2
/* Output channels per forward tile; the remainder uses 2 or 1. */
#define FORWARD_BLOCK 4
/* Stack scratch: enough for the seed network's packed weights and padded
 * gradients; larger shapes use the heap. */
#define STACK_FLOATS 4096

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

typedef struct forward_geometry {
    int in_channels;
    int in_width;    /* padded */
    size_t in_plane; /* padded height x padded width */
    int out_height, out_width;
    size_t out_plane;
} forward_geometry;

/* Software prefetch of the next image while this one is computed: a large
 * batch does not fit in L2, and the hardware prefetchers do not follow the
 * tiles' many short strided streams. Each tile call issues its share. */
typedef struct prefetch_stream {
    const char *next, *end;
    const char *next_out, *end_out;
    int lines_per_step;
} prefetch_stream;

SIMD_INLINE void prefetch_step(prefetch_stream *ps)
{
    for (int k = 0; k < ps->lines_per_step; k++) {
        if (ps->next < ps->end) {
            _mm_prefetch(ps->next, _MM_HINT_T0);
            ps->next += 64;
        } else if (ps->next_out < ps->end_out) {
            _mm_prefetch(ps->next_out, _MM_HINT_T0);
            ps->next_out += 64;
        }
    }
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
                               const forward_geometry *g, const float *in,
                               const float *weights, const float *bias,
                               int relu, __m256i last, int last_lanes,
                               float *out, int valid_co, prefetch_stream *ps)
{
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
        prefetch_step(ps);
    }
}

/* Each strip shape is its own out-of-line function: the compiler allocates
 * its accumulators to registers in isolation, and the driver picks one per
 * block and column segment. */
typedef void (*forward_strip_function)(const forward_geometry *g,
                                       const float *in, const float *weights,
                                       const float *bias, int relu,
                                       __m256i last, int last_lanes, float *out,
                                       int valid_co, prefetch_stream *ps);

#define DEFINE_FORWARD_STRIP(nco, nr, nv)                                      \
    __attribute__((noinline)) static void forward_strip_##nco##_##nr##_##nv(   \
        const forward_geometry *g, const float *in, const float *weights,      \
        const float *bias, int relu, __m256i last, int last_lanes, float *out, \
        int valid_co, prefetch_stream *ps)                                     \
    {                                                                          \
        forward_strip(nco, nr, nv, g, in, weights, bias, relu, last,           \
                      last_lanes, out, valid_co, ps);                          \
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

/* Per block width: strips for one-vector and two-vector segments, with
 * their rows per group, and one-row strips for images shorter than that. */
typedef struct forward_plan {
    int rows1, rows2;
    forward_strip_function one, one_row_one, two, one_row_two;
} forward_plan;

static const forward_plan forward_plans[3] = {
    {12, 6, forward_strip_1_12_1, forward_strip_1_1_1, forward_strip_1_6_2,
     forward_strip_1_1_2},
    {6, 3, forward_strip_2_6_1, forward_strip_2_1_1, forward_strip_2_3_2,
     forward_strip_2_1_2},
    {3, 1, forward_strip_4_3_1, forward_strip_4_1_1, forward_strip_4_1_2,
     forward_strip_4_1_2},
};

static const forward_plan *plan_for_width(int width)
{
    return &forward_plans[width == 4 ? 2 : width - 1];
}
/* One image: every block of output channels, every column segment.
 * `packed` is laid out by conv_pack_weights with FORWARD_BLOCK. */
static void forward_image(const forward_geometry *g, int out_channels,
                          const float *in, const float *packed,
                          const float *bias, int relu, float *out,
                          prefetch_stream *ps)
{
    const int ho = g->out_height, wo = g->out_width;
    for (int co = 0; co < out_channels;) {
        const int width = conv_block_width(out_channels - co, FORWARD_BLOCK);
        const int valid = out_channels - co < width ? out_channels - co : width;
        const forward_plan *plan = plan_for_width(width);
        const float *b = bias ? bias + co : NULL;
        float *o = out + (size_t)co * g->out_plane;
        for (int ow = 0; ow < wo;) {
            const int remaining = wo - ow;
            const int two = remaining > LANES;
            int last_lanes = two ? remaining - LANES : remaining;
            if (last_lanes > LANES)
                last_lanes = LANES;
            const __m256i last = lanes_mask(last_lanes);
            forward_strip_function strip = two ? plan->two : plan->one;
            if (ho < (two ? plan->rows2 : plan->rows1))
                strip = two ? plan->one_row_two : plan->one_row_one;
            strip(g, in + ow, packed, b, relu, last, last_lanes, o + ow, valid,
                  ps);
            ow += two ? 2 * LANES : LANES;
        }
        packed += (size_t)width * g->in_channels * 9;
        co += valid;
    }
}

/* Row groups forward_image runs per image (prefetch_step calls). */
static int forward_steps(const forward_geometry *g, int out_channels)
{
    int steps = 0;
    for (int co = 0; co < out_channels;) {
        const int width = conv_block_width(out_channels - co, FORWARD_BLOCK);
        const forward_plan *plan = plan_for_width(width);
        for (int ow = 0; ow < g->out_width;) {
            const int two = g->out_width - ow > LANES;
            int rows = two ? plan->rows2 : plan->rows1;
            if (g->out_height < rows)
                rows = 1;
            steps += (g->out_height + rows - 1) / rows;
            ow += two ? 2 * LANES : LANES;
        }
        co += width;
    }
    return steps;
}

/* Runs forward_image over `count` images, prefetching each next one. */
static void forward_images(const forward_geometry *g, int out_channels,
                           size_t count, const float *in, size_t in_image,
                           const float *packed, const float *bias, int relu,
                           float *out)
{
    const size_t out_image = (size_t)out_channels * g->out_plane;
    const size_t lines = (in_image + out_image) * sizeof(float) / 64 + 2;
    const int steps = forward_steps(g, out_channels);
    prefetch_stream ps = {NULL, NULL, NULL, NULL,
                          (int)((lines + (size_t)steps - 1) / (size_t)steps)};
    for (size_t i = 0; i < count; i++) {
        if (i + 1 < count) {
            ps.next = (const char *)(in + (i + 1) * in_image);
            ps.end = (const char *)(in + (i + 2) * in_image);
            ps.next_out = (const char *)(out + (i + 1) * out_image);
            ps.end_out = (const char *)(out + (i + 2) * out_image);
        } else {
            ps.next = ps.end = ps.next_out = ps.end_out = NULL;
        }
        forward_image(g, out_channels, in + i * in_image, packed, bias, relu,
                      out + i * out_image, &ps);
    }
}

void conv3x3_forward_avx2(const conv_shape *shape, size_t count,
                          const float *input_padded, const float *weights,
                          const float *bias, int relu, float *output)
{
    const int cin = shape->in_channels, cout = shape->out_channels;
    _Alignas(64) float stack_area[STACK_FLOATS];
    float *packed = scratch_acquire(
        stack_area, STACK_FLOATS, conv_packed_floats(cout, cin, FORWARD_BLOCK));
    if (!packed) {
        conv3x3_forward_scalar(shape, count, input_padded, weights, bias, relu,
                               output);
        return;
    }
    conv_pack_weights(cout, cin, weights, 0, FORWARD_BLOCK, packed);
    forward_geometry g = {
        .in_channels = cin,
        .in_width = conv_padded_width(shape),
        .in_plane =
            (size_t)conv_padded_height(shape) * conv_padded_width(shape),
        .out_height = conv_out_height(shape),
        .out_width = conv_out_width(shape),
        .out_plane = (size_t)conv_out_height(shape) * conv_out_width(shape),
    };
    forward_images(&g, cout, count, input_padded, cin * g.in_plane, packed,
                   bias, relu, output);
    scratch_release(packed, stack_area);
}

void conv3x3_backward_input_avx2(const conv_shape *shape, size_t count,
                                 const float *weights, const float *output_grad,
                                 float *input_grad)
{
    const int cin = shape->in_channels, cout = shape->out_channels;
    const int ho = conv_out_height(shape), wo = conv_out_width(shape);
    const int extra = 2 - shape->pad; /* zeros around the output gradient */
    const int hp = ho + 2 * extra, wp = wo + 2 * extra;
    const size_t packed_floats = conv_packed_floats(cin, cout, FORWARD_BLOCK);
    const size_t padded_floats = extra > 0 ? (size_t)cout * hp * wp : 0;
    _Alignas(64) float stack_area[STACK_FLOATS];
    float *scratch = scratch_acquire(stack_area, STACK_FLOATS,
                                     packed_floats + padded_floats);
    if (!scratch) {
        conv3x3_backward_input_scalar(shape, count, weights, output_grad,
                                      input_grad);
        return;
    }
    float *packed = scratch, *padded = scratch + packed_floats;
    conv_pack_weights(cin, cout, weights, 1, FORWARD_BLOCK, packed);
    if (extra > 0)
        memset(padded, 0, sizeof(float) * padded_floats);
    forward_geometry g = {
        .in_channels = cout,
        .in_width = wp,
        .in_plane = (size_t)hp * wp,
        .out_height = shape->in_height,
        .out_width = shape->in_width,
        .out_plane = (size_t)shape->in_height * shape->in_width,
    };
    const size_t dy_image = (size_t)cout * ho * wo;
    if (extra == 0) {
        /* pad 2: the output gradient is already the padded input. */
        forward_images(&g, cin, count, output_grad, dy_image, packed, NULL, 0,
                       input_grad);
    } else {
        for (size_t i = 0; i < count; i++) {
            /* Only the interior changes from image to image. */
            const float *dy = output_grad + i * dy_image;
            for (int co = 0; co < cout; co++)
                for (int oh = 0; oh < ho; oh++)
                    memcpy(padded + ((size_t)co * hp + oh + extra) * wp + extra,
                           dy + ((size_t)co * ho + oh) * wo,
                           sizeof(float) * wo);
            forward_images(&g, cin, 1, padded, g.in_plane * cout, packed, NULL,
                           0, input_grad + i * cin * g.out_plane);
        }
    }
    scratch_release(scratch, stack_area);
}

typedef struct weight_geometry {
    size_t count;
    int in_width;    /* padded */
    size_t in_plane; /* padded */
    size_t in_image; /* floats per input image */
    int out_height, out_width;
    size_t out_plane;
    size_t out_image; /* floats per output-gradient image */
} weight_geometry;

/* Sums over the batch, for nco output channels, one input channel and one
 * kernel row kh: dy[co] x input[ci] shifted by (kh, kw), kw = 0..2. 3 * nco
 * accumulators; each output-gradient vector serves 3 offsets and each input
 * vector nco channels. `in` points at channel ci, row kh of image 0; `dy`
 * at the block's first channel of image 0. sums: [nco][3]. */
SIMD_INLINE void weight_tile_row(const int nco, const weight_geometry *g,
                                 const float *in, const float *dy, float *sums)
{
    __m256 acc[9];
    UNROLL_FULL
    for (int j = 0; j < nco * 3; j++)
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
                for (int kw = 0; kw < 3; kw++) {
                    const __m256 x = _mm256_maskload_ps(
                        image + (size_t)oh * wp + ow + kw, mask);
                    UNROLL_FULL
                    for (int co = 0; co < nco; co++)
                        acc[co * 3 + kw] =
                            _mm256_fmadd_ps(d[co], x, acc[co * 3 + kw]);
                }
            }
    }
    UNROLL_FULL
    for (int j = 0; j < nco * 3; j++)
        sums[j] = horizontal_sum(acc[j]);
}

/* One output channel, one input channel, all 9 offsets: 9 accumulators,
 * for a lone output channel where weight_tile_row would have too few. */
__attribute__((noinline)) static void
weight_tile_single(const weight_geometry *g, const float *in, const float *dy,
                   float *sums)
{
    __m256 acc[9];
    UNROLL_FULL
    for (int j = 0; j < 9; j++)
        acc[j] = _mm256_setzero_ps();
    const int wo = g->out_width, wp = g->in_width;
    for (size_t i = 0; i < g->count; i++) {
        const float *image = in + i * g->in_image;
        const float *dyi = dy + i * g->out_image;
        for (int oh = 0; oh < g->out_height; oh++)
            for (int ow = 0; ow < wo; ow += LANES) {
                const __m256i mask = lanes_mask(wo - ow);
                const __m256 d =
                    _mm256_maskload_ps(dyi + (size_t)oh * wo + ow, mask);
                UNROLL_FULL
                for (int kh = 0; kh < 3; kh++) {
                    UNROLL_FULL
                    for (int kw = 0; kw < 3; kw++)
                        acc[kh * 3 + kw] = _mm256_fmadd_ps(
                            d,
                            _mm256_maskload_ps(
                                image + (size_t)(oh + kh) * wp + ow + kw, mask),
                            acc[kh * 3 + kw]);
                }
            }
    }
    UNROLL_FULL
    for (int j = 0; j < 9; j++)
        sums[j] = horizontal_sum(acc[j]);
}

__attribute__((noinline)) static void
weight_tile_row_3(const weight_geometry *g, const float *in, const float *dy,
                  float *sums)
{
    weight_tile_row(3, g, in, dy, sums);
}
__attribute__((noinline)) static void
weight_tile_row_2(const weight_geometry *g, const float *in, const float *dy,
                  float *sums)
{
    weight_tile_row(2, g, in, dy, sums);
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
SIMD_INLINE void weight_stream_tile(const int nco, const weight_geometry *g,
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
weight_stream_tile_1(const weight_geometry *g, const float *in, const float *dy,
                     __m256 *partial, size_t co_stride, int first)
{
    weight_stream_tile(1, g, in, dy, partial, co_stride, first);
}

/* Images per chunk: their output gradients and inputs fit in about half of
 * a 512 KB L2, so every pass over a chunk hits the cache. */
#define WEIGHT_CHUNK_BYTES (256 * 1024)

/* The streaming path (out_height >= 2); 0 if its scratch is unavailable. */
static int weights_streamed(const weight_geometry *shape_geometry, int cin,
                            int cout, const float *input_padded,
                            const float *output_grad, float *weight_grad)
{
    weight_geometry g = *shape_geometry;
    const size_t count = g.count, weights = (size_t)cout * cin * 9;
    _Alignas(64) float stack_area[STACK_FLOATS];
    float *scratch = scratch_acquire(stack_area, STACK_FLOATS, weights * LANES);
    if (!scratch)
        return 0;
    __m256 *partial = (__m256 *)(void *)scratch;
    const size_t image_bytes = sizeof(float) * (g.in_image + g.out_image);
    size_t chunk = WEIGHT_CHUNK_BYTES / (image_bytes ? image_bytes : 1);
    if (chunk < 1)
        chunk = 1;
    for (size_t i0 = 0; i0 < count; i0 += chunk) {
        g.count = count - i0 < chunk ? count - i0 : chunk;
        for (int co = 0; co < cout; co++)
            for (int ci = 0; ci < cin; ci++)
                weight_stream_tile_1(
                    &g,
                    input_padded + i0 * g.in_image + (size_t)ci * g.in_plane,
                    output_grad + i0 * g.out_image + (size_t)co * g.out_plane,
                    partial + ((size_t)co * cin + ci) * 9, (size_t)cin * 9,
                    i0 == 0);
    }
    for (size_t k = 0; k < weights; k++)
        weight_grad[k] = horizontal_sum(partial[k]);
    scratch_release(scratch, stack_area);
    return 1;
}

void conv3x3_backward_weights_avx2(const conv_shape *shape, size_t count,
                                   const float *input_padded,
                                   const float *output_grad, float *weight_grad,
                                   float *bias_grad)
{
    if (count == 0) {
        /* An empty batch: zero sums, as the reference gives. */
        memset(weight_grad, 0,
               sizeof(float) * (size_t)shape->out_channels *
                   shape->in_channels * 9);
        memset(bias_grad, 0, sizeof(float) * (size_t)shape->out_channels);
        return;
    }
    const int cin = shape->in_channels, cout = shape->out_channels;
    const int hp = conv_padded_height(shape), wp = conv_padded_width(shape);
    const int ho = conv_out_height(shape), wo = conv_out_width(shape);
    weight_geometry g = {
        .count = count,
        .in_width = wp,
        .in_plane = (size_t)hp * wp,
        .in_image = (size_t)cin * hp * wp,
        .out_height = ho,
        .out_width = wo,
        .out_plane = (size_t)ho * wo,
        .out_image = (size_t)cout * ho * wo,
    };
    const int streamed =
        ho >= 2 &&
        weights_streamed(&g, cin, cout, input_padded, output_grad, weight_grad);
    for (int co = 0; co < cout && !streamed;) {
        const int left = cout - co;
        const int nco = left >= 3 ? 3 : left;
        const float *dy = output_grad + (size_t)co * g.out_plane;
        for (int ci = 0; ci < cin; ci++) {
            const float *in = input_padded + (size_t)ci * g.in_plane;
            float *dw = weight_grad + ((size_t)co * cin + ci) * 9;
            if (nco == 1) {
                weight_tile_single(&g, in, dy, dw);
                continue;
            }
            for (int kh = 0; kh < 3; kh++) {
                float sums[9];
                if (nco == 3)
                    weight_tile_row_3(&g, in + (size_t)kh * wp, dy, sums);
                else
                    weight_tile_row_2(&g, in + (size_t)kh * wp, dy, sums);
                for (int b = 0; b < nco; b++)
                    for (int kw = 0; kw < 3; kw++)
                        dw[(size_t)b * cin * 9 + kh * 3 + kw] =
                            sums[b * 3 + kw];
            }
        }
        co += nco;
    }
    /* Bias gradient: plain sums of each output-gradient plane. */
    for (int co = 0; co < cout; co++) {
        __m256 acc = _mm256_setzero_ps();
        for (size_t i = 0; i < count; i++) {
            const float *plane =
                output_grad + i * g.out_image + (size_t)co * g.out_plane;
            for (size_t p = 0; p < g.out_plane; p += LANES) {
                const size_t left = g.out_plane - p;
                acc = _mm256_add_ps(
                    acc, _mm256_maskload_ps(
                             plane + p,
                             lanes_mask(left > LANES ? LANES : (int)left)));
            }
        }
        bias_grad[co] = horizontal_sum(acc);
    }
}
