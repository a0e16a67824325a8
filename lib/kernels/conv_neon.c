/* NEON (AArch64 Advanced SIMD) microkernels of the 3x3 convolution (the
 * driver that plans, packs and chunks is conv_driver.c). NEON is baseline on
 * AArch64, so this file needs no extra compiler flags.
 *
 * Forward tiles hold up to 16 of the 32 q registers as accumulators: a
 * block of output channels x a few output rows x one or two 4-pixel
 * vectors. Each input vector is loaded at column offsets kw = 0, 1, 2 and
 * serves every channel and up to three rows of the tile; the weights come
 * in vectors from a repacked [ci][kh][kw][co] stream (four channels of one
 * tap, or for blocks of 1 or 2 channels all taps of an input channel) and
 * are used lane by lane (fmla by element), so no broadcasts are needed.
 * Row tails load and store only the lanes that exist: the buffers end
 * exactly where the contract says. The input gradient is the forward
 * convolution of the zero-padded output gradient with the rotated,
 * channel-swapped kernel.
 * Weight gradients keep 9 accumulators per output channel (two channels per
 * tile) over the whole batch and reduce them once. */
#include <arm_neon.h>
#include <string.h>

#include "kernels/conv_driver.h"
#include "kernels/simd_common.h"

#define LANES 4
/* Largest tile: output channels, accumulators, vectors per row segment. */
#define FORWARD_BLOCK 8
#define MAX_ACCUMULATORS 16
#define MAX_VECTORS 2

/* The first `lanes` (1..4) floats at p, zeros in the other lanes; reads
 * nothing past p[lanes - 1]. */
static inline float32x4_t load_lanes(const float *p, int lanes)
{
    const float32x2_t zero = vdup_n_f32(0.0f);
    if (lanes >= 4)
        return vld1q_f32(p);
    if (lanes == 3)
        return vcombine_f32(vld1_f32(p), vld1_lane_f32(p + 2, zero, 0));
    if (lanes == 2)
        return vcombine_f32(vld1_f32(p), zero);
    return vcombine_f32(vld1_lane_f32(p, zero, 0), zero);
}

/* Stores the first `lanes` (1..4) lanes of v. */
static inline void store_lanes(float *p, float32x4_t v, int lanes)
{
    if (lanes >= 4) {
        vst1q_f32(p, v);
    } else if (lanes == 3) {
        vst1_f32(p, vget_low_f32(v));
        vst1q_lane_f32(p + 2, v, 2);
    } else if (lanes == 2) {
        vst1_f32(p, vget_low_f32(v));
    } else {
        vst1q_lane_f32(p, v, 0);
    }
}

/* acc + x * w[lane]. The lane must be a constant at the instruction; the
 * switch folds away once the tile loops are unrolled. */
SIMD_INLINE float32x4_t fma_lane(float32x4_t acc, float32x4_t x, float32x4_t w,
                                 int lane)
{
    switch (lane) {
    case 0: return vfmaq_laneq_f32(acc, x, w, 0);
    case 1: return vfmaq_laneq_f32(acc, x, w, 1);
    case 2: return vfmaq_laneq_f32(acc, x, w, 2);
    default: return vfmaq_laneq_f32(acc, x, w, 3);
    }
}

/* Where vector j of a narrow block's 9 * nco weights starts: every 4
 * floats, the last one moved back to end at the last weight. */
static inline int narrow_offset(int nco, int j)
{
    return 4 * j + 4 <= 9 * nco ? 4 * j : 9 * nco - 4;
}

/* max(0, v), with NaN -> 0 as the reference's !(sum > 0) test gives (fmax
 * would keep the NaN). */
static inline float32x4_t relu_vector(float32x4_t v)
{
    const uint32x4_t positive = vcgtq_f32(v, vdupq_n_f32(0.0f));
    return vreinterpretq_f32_u32(vandq_u32(positive, vreinterpretq_u32_f32(v)));
}

/* A strip of tiles: nco output channels x nr rows x nv vectors, down all
 * output rows of one column segment. `in` and `out` point at the segment's
 * first column (input row 0, output row 0); the last vector of each row
 * has `last_lanes` lanes. The last row group is moved up to end at the last
 * row, overlapping the previous one (recomputing identical values), so no
 * remainder kernels are needed; the caller guarantees out_height >= nr.
 * Only the first valid_co channels are stored (the others have zero
 * weights). bias may be NULL (input gradient). */
SIMD_INLINE void forward_strip(const int nco, const int nr, const int nv,
                               const conv_forward_geometry *g, const float *in,
                               const float *weights, const float *bias,
                               int relu, int last_lanes, float *out,
                               int valid_co)
{
    float32x4_t start[FORWARD_BLOCK];
    UNROLL_FULL
    for (int co = 0; co < nco; co++)
        start[co] = vdupq_n_f32(bias && co < valid_co ? bias[co] : 0.0f);
    const int wp = g->in_width, ho = g->out_height;
    for (int oh0 = 0; oh0 < ho; oh0 += nr) {
        const int oh = oh0 + nr <= ho ? oh0 : ho - nr;
        const float *tile_in = in + (size_t)oh * wp;
        float32x4_t acc[MAX_ACCUMULATORS];
        UNROLL_FULL
        for (int co = 0; co < nco; co++) {
            UNROLL_FULL
            for (int j = 0; j < nr * nv; j++)
                acc[co * nr * nv + j] = start[co];
        }
        for (int ci = 0; ci < g->in_channels; ci++) {
            const float *src = tile_in + (size_t)ci * g->in_plane;
            const float *w = weights + (size_t)ci * 9 * nco;
            /* Narrow blocks: all 9 * nco weights of this input channel in
             * a few vectors, used lane by lane; the last vector is loaded
             * to end at the last weight, so nothing past them is read. */
            float32x4_t narrow[5];
            if (nco < LANES) {
                UNROLL_FULL
                for (int j = 0; j < (9 * nco + 3) / 4; j++)
                    narrow[j] = vld1q_f32(w + narrow_offset(nco, j));
            }
            UNROLL_FULL
            for (int row = 0; row < nr + 2; row++) {
                UNROLL_FULL
                for (int kw = 0; kw < 3; kw++) {
                    float32x4_t x[MAX_VECTORS];
                    UNROLL_FULL
                    for (int v = 0; v < nv; v++) {
                        const float *p =
                            src + (size_t)row * wp + kw + v * LANES;
                        x[v] = v == nv - 1 ? load_lanes(p, last_lanes)
                                           : vld1q_f32(p);
                    }
                    UNROLL_FULL
                    for (int kh = 0; kh < 3; kh++) {
                        const int r = row - kh;
                        if (r < 0 || r >= nr)
                            continue;
                        if (nco >= LANES) {
                            const float *wk = w + (kh * 3 + kw) * nco;
                            float32x4_t wv[FORWARD_BLOCK / LANES];
                            UNROLL_FULL
                            for (int q = 0; q < nco / LANES; q++)
                                wv[q] = vld1q_f32(wk + q * LANES);
                            UNROLL_FULL
                            for (int co = 0; co < nco; co++) {
                                UNROLL_FULL
                                for (int v = 0; v < nv; v++) {
                                    float32x4_t *a =
                                        &acc[(co * nr + r) * nv + v];
                                    *a = fma_lane(*a, x[v], wv[co / LANES],
                                                  co % LANES);
                                }
                            }
                        } else {
                            UNROLL_FULL
                            for (int co = 0; co < nco; co++) {
                                const int index = (kh * 3 + kw) * nco + co;
                                const int j = index / 4;
                                const int lane = index - narrow_offset(nco, j);
                                UNROLL_FULL
                                for (int v = 0; v < nv; v++) {
                                    float32x4_t *a =
                                        &acc[(co * nr + r) * nv + v];
                                    *a = fma_lane(*a, x[v], narrow[j], lane);
                                }
                            }
                        }
                    }
                }
            }
        }
        float *tile_out = out + (size_t)oh * g->out_width;
        UNROLL_FULL
        for (int co = 0; co < nco; co++) {
            if (co >= valid_co)
                continue;
            UNROLL_FULL
            for (int r = 0; r < nr; r++) {
                UNROLL_FULL
                for (int v = 0; v < nv; v++) {
                    float32x4_t value = acc[(co * nr + r) * nv + v];
                    if (relu)
                        value = relu_vector(value);
                    float *p = tile_out + co * g->out_plane +
                               (size_t)r * g->out_width + v * LANES;
                    if (v == nv - 1)
                        store_lanes(p, value, last_lanes);
                    else
                        vst1q_f32(p, value);
                }
            }
        }
    }
}

/* Each strip shape is its own out-of-line function, so the compiler
 * allocates its accumulators to registers in isolation. */
#define DEFINE_FORWARD_STRIP(nco, nr, nv)                                      \
    __attribute__((noinline)) static void forward_strip_##nco##_##nr##_##nv(   \
        const conv_forward_geometry *g, const float *in, const float *weights, \
        const float *bias, int relu, int last_lanes, float *out, int valid_co, \
        conv_prefetch_stream *ps)                                              \
    {                                                                          \
        (void)ps; /* the driver asks for no prefetch: see below */             \
        forward_strip(nco, nr, nv, g, in, weights, bias, relu, last_lanes,     \
                      out, valid_co);                                          \
    }

DEFINE_FORWARD_STRIP(8, 2, 1)
DEFINE_FORWARD_STRIP(8, 1, 1)
DEFINE_FORWARD_STRIP(8, 1, 2)
DEFINE_FORWARD_STRIP(4, 4, 1)
DEFINE_FORWARD_STRIP(4, 1, 1)
DEFINE_FORWARD_STRIP(4, 2, 2)
DEFINE_FORWARD_STRIP(4, 1, 2)
DEFINE_FORWARD_STRIP(2, 4, 1)
DEFINE_FORWARD_STRIP(2, 1, 1)
DEFINE_FORWARD_STRIP(2, 2, 2)
DEFINE_FORWARD_STRIP(2, 1, 2)
DEFINE_FORWARD_STRIP(1, 8, 1)
DEFINE_FORWARD_STRIP(1, 1, 1)
DEFINE_FORWARD_STRIP(1, 4, 2)
DEFINE_FORWARD_STRIP(1, 1, 2)

/* One vector of `lanes` output pixels at (oh, ow): the gradient vectors of
 * nco channels times the 9 shifted input vectors. Lanes past `lanes` load
 * as zero, so they add nothing. */
SIMD_INLINE void weight_step(const int nco, float32x4_t *acc, const float *x_at,
                             int wp, const float *d_at, size_t d_plane,
                             int lanes)
{
    /* Written out: clang does not fully unroll a loop around the
     * branches of load_lanes. */
    float32x4_t d[2];
    d[0] = load_lanes(d_at, lanes);
    d[1] = nco > 1 ? load_lanes(d_at + d_plane, lanes) : d[0];
    UNROLL_FULL
    for (int kh = 0; kh < 3; kh++) {
        UNROLL_FULL
        for (int kw = 0; kw < 3; kw++) {
            const float32x4_t x = load_lanes(x_at + kh * wp + kw, lanes);
            UNROLL_FULL
            for (int co = 0; co < nco; co++)
                acc[co * 9 + kh * 3 + kw] =
                    vfmaq_f32(acc[co * 9 + kh * 3 + kw], d[co], x);
        }
    }
}

/* Weight-gradient sums over the chunk for nco (1 or 2) output channels
 * and one input channel, all 9 offsets, into the vector partial sums
 * partial + (co * co_stride + k) * LANES (stored when `first`, else added).
 * `in` points at channel ci of image 0, `dy` at the block's first
 * channel. */
SIMD_INLINE void weight_tile(const int nco, const conv_weight_geometry *g,
                             const float *in, const float *dy, float *partial,
                             size_t co_stride, int first)
{
    float32x4_t acc[18];
    UNROLL_FULL
    for (int j = 0; j < nco * 9; j++)
        acc[j] = vdupq_n_f32(0.0f);
    const int wo = g->out_width, wp = g->in_width;
    for (size_t i = 0; i < g->count; i++) {
        const float *image = in + i * g->in_image;
        const float *dyi = dy + i * g->out_image;
        for (int oh = 0; oh < g->out_height; oh++) {
            const float *x_row = image + (size_t)oh * wp;
            const float *d_row = dyi + (size_t)oh * wo;
            int ow = 0;
            for (; ow + LANES <= wo; ow += LANES)
                weight_step(nco, acc, x_row + ow, wp, d_row + ow, g->out_plane,
                            LANES);
            if (ow < wo)
                weight_step(nco, acc, x_row + ow, wp, d_row + ow, g->out_plane,
                            wo - ow);
        }
    }
    UNROLL_FULL
    for (int co = 0; co < nco; co++) {
        UNROLL_FULL
        for (int k = 0; k < 9; k++) {
            float *p = partial + (co * co_stride + k) * LANES;
            vst1q_f32(p, first ? acc[co * 9 + k]
                               : vaddq_f32(vld1q_f32(p), acc[co * 9 + k]));
        }
    }
}

__attribute__((noinline)) static void
weight_tile_2(const conv_weight_geometry *g, const float *in, const float *dy,
              float *partial, size_t co_stride, int first)
{
    weight_tile(2, g, in, dy, partial, co_stride, first);
}

__attribute__((noinline)) static void
weight_tile_1(const conv_weight_geometry *g, const float *in, const float *dy,
              float *partial, size_t co_stride, int first)
{
    weight_tile(1, g, in, dy, partial, co_stride, first);
}

static void reduce_partials(size_t count, const float *partial, float *out)
{
    for (size_t k = 0; k < count; k++)
        out[k] = vaddvq_f32(vld1q_f32(partial + k * LANES));
}

static float sum_planes(size_t count, size_t stride, size_t plane,
                        const float *data)
{
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (size_t i = 0; i < count; i++) {
        const float *at = data + i * stride;
        size_t p = 0;
        for (; p + LANES <= plane; p += LANES)
            acc = vaddq_f32(acc, vld1q_f32(at + p));
        if (p < plane)
            acc = vaddq_f32(acc, load_lanes(at + p, (int)(plane - p)));
    }
    return vaddvq_f32(acc);
}

/* Up to 16 of the 32 q registers as forward accumulators. No software
 * prefetch (prefetch_min_bytes is the largest size): the cores this was
 * measured on under qemu tell nothing about it, so none is claimed. */
static const conv3x3_microkernels microkernels_neon = {
    .lanes = LANES,
    .forward_block = FORWARD_BLOCK,
    .plans =
        {
            {8, 4, forward_strip_1_8_1, forward_strip_1_1_1,
             forward_strip_1_4_2, forward_strip_1_1_2},
            {4, 2, forward_strip_2_4_1, forward_strip_2_1_1,
             forward_strip_2_2_2, forward_strip_2_1_2},
            {4, 2, forward_strip_4_4_1, forward_strip_4_1_1,
             forward_strip_4_2_2, forward_strip_4_1_2},
            {2, 1, forward_strip_8_2_1, forward_strip_8_1_1,
             forward_strip_8_1_2, forward_strip_8_1_2},
        },
    .prefetch_min_bytes = (size_t)-1,
    .weight_tiles = {NULL, weight_tile_1, weight_tile_2, NULL},
    .weight_stream_tiles = {NULL, NULL, NULL, NULL},
    .weight_chunk_bytes = 256 * 1024,
    .reduce_partials = reduce_partials,
    .sum_planes = sum_planes,
};

void conv_provide_neon(kernel_table *table)
{
    table->conv3x3 = &microkernels_neon;
}
