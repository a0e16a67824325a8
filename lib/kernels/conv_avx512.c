/* AVX-512 3x3 convolution: forward, input gradient, weight gradients.
 *
 * Forward is a direct convolution vectorised along the output row: one zmm
 * holds 16 neighbouring output pixels, and a tile keeps several output
 * channels x rows x 16-column vectors of accumulators in registers while it
 * walks every input channel. Each input vector (loaded unaligned at column
 * offsets kw = 0, 1, 2) feeds every output channel and up to three output
 * rows of the tile; each weight is broadcast from a repacked [ci][kh][kw][co]
 * stream. Row tails are handled with masked loads and stores, so no read
 * goes past a row's last needed column (nor past the buffer).
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

#include "kernels/kernels.h"
#include "kernels/simd_common.h"

#define LANES 16
/* Largest tile: accumulators, and vectors per output row segment. */
#define MAX_ACCUMULATORS 24
#define MAX_VECTORS 2
/* Output channels per forward tile; the remainder uses 4, 2 or 1. */
#define FORWARD_BLOCK 8
/* Stack scratch: enough for the seed network's packed weights and padded
 * gradients; larger shapes use the heap. */
#define STACK_FLOATS 4096
/* Calls touching less than this are left to the hardware prefetchers. */
#define PREFETCH_MIN_BYTES (1024 * 1024)

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
                               int relu, __mmask16 last, float *out,
                               int valid_co, prefetch_stream *ps)
{
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
        prefetch_step(ps);
    }
}

/* Each strip shape is its own out-of-line function: the compiler allocates
 * its accumulators to registers in isolation, and the driver picks one per
 * block and column segment. */
typedef void (*forward_strip_function)(const forward_geometry *g,
                                       const float *in, const float *weights,
                                       const float *bias, int relu,
                                       __mmask16 last, float *out, int valid_co,
                                       prefetch_stream *ps);

#define DEFINE_FORWARD_STRIP(nco, nr, nv)                                      \
    __attribute__((noinline)) static void forward_strip_##nco##_##nr##_##nv(   \
        const forward_geometry *g, const float *in, const float *weights,      \
        const float *bias, int relu, __mmask16 last, float *out, int valid_co, \
        prefetch_stream *ps)                                                   \
    {                                                                          \
        forward_strip(nco, nr, nv, g, in, weights, bias, relu, last, out,      \
                      valid_co, ps);                                           \
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

/* Per block width: strips for one-vector and two-vector segments, with
 * their rows per group, and one-row strips for images shorter than that. */
typedef struct forward_plan {
    int rows1, rows2;
    forward_strip_function one, one_row_one, two, one_row_two;
} forward_plan;

static const forward_plan forward_plans[4] = {
    {10, 6, forward_strip_1_10_1, forward_strip_1_1_1, forward_strip_1_6_2,
     forward_strip_1_1_2},
    {6, 4, forward_strip_2_6_1, forward_strip_2_1_1, forward_strip_2_4_2,
     forward_strip_2_1_2},
    {4, 2, forward_strip_4_4_1, forward_strip_4_1_1, forward_strip_4_2_2,
     forward_strip_4_1_2},
    {2, 1, forward_strip_8_2_1, forward_strip_8_1_1, forward_strip_8_1_2,
     forward_strip_8_1_2},
};

static const forward_plan *plan_for_width(int width)
{
    return &forward_plans[width == 8 ? 3 : width == 4 ? 2 : width == 2 ? 1 : 0];
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
            const __mmask16 last =
                lanes_mask(two ? remaining - LANES : remaining);
            forward_strip_function strip = two ? plan->two : plan->one;
            if (ho < (two ? plan->rows2 : plan->rows1))
                strip = two ? plan->one_row_two : plan->one_row_one;
            strip(g, in + ow, packed, b, relu, last, o + ow, valid, ps);
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
    /* A batch that stays in L2 needs no help. */
    if (count * (in_image + out_image) * sizeof(float) < PREFETCH_MIN_BYTES)
        ps.lines_per_step = 0;
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

void conv3x3_forward_avx512(const conv_shape *shape, size_t count,
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

void conv3x3_backward_input_avx512(const conv_shape *shape, size_t count,
                                   const float *weights,
                                   const float *output_grad, float *input_grad)
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

/* Sums, over the images of a chunk, dy[co] x input[ci] shifted by (kh, kw)
 * for nco output channels, one input channel and all 9 offsets: 9 * nco
 * vector accumulators, added into the vector partial sums `partial` (laid
 * out [co][ci][9], `co_stride` vectors apart from one output channel to the
 * next), or stored there for the first chunk. `dy` points at the block's
 * first channel of the chunk's first image, `in` at its channel ci. */
SIMD_INLINE void weight_tile(const int nco, const weight_geometry *g,
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
SIMD_INLINE void weight_stream_tile(const int nco, const weight_geometry *g,
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
        const weight_geometry *g, const float *in, const float *dy,            \
        __m512 *partial, size_t co_stride, int first)                          \
    {                                                                          \
        weight_tile(nco, g, in, dy, partial, co_stride, first);                \
    }

DEFINE_WEIGHT_TILE(3)
DEFINE_WEIGHT_TILE(2)
DEFINE_WEIGHT_TILE(1)

#define DEFINE_WEIGHT_STREAM_TILE(nco)                                         \
    __attribute__((noinline)) static void weight_stream_tile_##nco(            \
        const weight_geometry *g, const float *in, const float *dy,            \
        __m512 *partial, size_t co_stride, int first)                          \
    {                                                                          \
        weight_stream_tile(nco, g, in, dy, partial, co_stride, first);         \
    }

DEFINE_WEIGHT_STREAM_TILE(2)
DEFINE_WEIGHT_STREAM_TILE(1)

/* Images per chunk: their output gradients and inputs fit in about half of
 * a 512 KB L2, so every pass over a chunk hits the cache. The vector
 * partial sums carry the batch total from chunk to chunk. */
#define WEIGHT_CHUNK_BYTES (256 * 1024)

void conv3x3_backward_weights_avx512(const conv_shape *shape, size_t count,
                                     const float *input_padded,
                                     const float *output_grad,
                                     float *weight_grad, float *bias_grad)
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
    const size_t weights = (size_t)cout * cin * 9;
    _Alignas(64) float stack_area[STACK_FLOATS];
    float *scratch = scratch_acquire(stack_area, STACK_FLOATS, weights * LANES);
    if (!scratch) {
        conv3x3_backward_weights_scalar(shape, count, input_padded, output_grad,
                                        weight_grad, bias_grad);
        return;
    }
    __m512 *partial = (__m512 *)(void *)scratch;
    const size_t image_bytes = sizeof(float) * (g.in_image + g.out_image);
    size_t chunk = WEIGHT_CHUNK_BYTES / (image_bytes ? image_bytes : 1);
    if (chunk < 1)
        chunk = 1;
    const size_t co_stride = (size_t)cin * 9;
    for (size_t i0 = 0; i0 < count; i0 += chunk) {
        g.count = count - i0 < chunk ? count - i0 : chunk;
        const float *in_chunk = input_padded + i0 * g.in_image;
        const float *dy_chunk = output_grad + i0 * g.out_image;
        for (int co = 0; co < cout;) {
            const int left = cout - co;
            const int stream = ho >= 2;
            const int nco =
                stream ? (left >= 2 ? 2 : 1) : (left >= 3 ? 3 : left);
            for (int ci = 0; ci < cin; ci++) {
                const float *in = in_chunk + (size_t)ci * g.in_plane;
                const float *dy = dy_chunk + (size_t)co * g.out_plane;
                __m512 *p = partial + ((size_t)co * cin + ci) * 9;
                if (stream && nco == 2)
                    weight_stream_tile_2(&g, in, dy, p, co_stride, i0 == 0);
                else if (stream)
                    weight_stream_tile_1(&g, in, dy, p, co_stride, i0 == 0);
                else if (nco == 3)
                    weight_tile_3(&g, in, dy, p, co_stride, i0 == 0);
                else if (nco == 2)
                    weight_tile_2(&g, in, dy, p, co_stride, i0 == 0);
                else
                    weight_tile_1(&g, in, dy, p, co_stride, i0 == 0);
            }
            co += nco;
        }
    }
    for (size_t k = 0; k < weights; k++)
        weight_grad[k] = _mm512_reduce_add_ps(partial[k]);
    scratch_release(scratch, stack_area);
    /* Bias gradient: plain sums of each output-gradient plane. */
    for (int co = 0; co < cout; co++) {
        __m512 acc = _mm512_setzero_ps();
        for (size_t i = 0; i < count; i++) {
            const float *plane =
                output_grad + i * g.out_image + (size_t)co * g.out_plane;
            for (size_t p = 0; p < g.out_plane; p += LANES) {
                const size_t left = g.out_plane - p;
                acc = _mm512_add_ps(
                    acc, _mm512_maskz_loadu_ps(
                             lanes_mask(left > LANES ? LANES : (int)left),
                             plane + p));
            }
        }
        bias_grad[co] = _mm512_reduce_add_ps(acc);
    }
}
