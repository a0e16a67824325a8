/* NEON (AArch64 Advanced SIMD) microkernels of the 3x3 convolution: the
 * strips of conv_template.h at 4 lanes (the driver that plans, packs and
 * chunks is conv_driver.c). NEON is baseline on AArch64, so this file needs
 * no extra compiler flags.
 *
 * Forward tiles hold up to 16 of the 32 q registers as accumulators: a
 * block of output channels x a few output rows x one or two 4-pixel
 * vectors. The weights come in vectors from the repacked [ci][kh][kw][co]
 * stream (four channels of one tap, or for blocks of 1 or 2 channels all
 * taps of an input channel) and are used lane by lane (fmla by element), so
 * no broadcasts are needed. Row tails load and store only the lanes that
 * exist: the buffers end exactly where the contract says. The input
 * gradient is the forward convolution of the zero-padded output gradient
 * with the rotated, channel-swapped kernel.
 * Weight gradients keep 9 accumulators per output channel (two channels per
 * tile) over the whole batch and reduce them once. */
#include "kernels/conv_driver.h"
#include "kernels/simd_neon.h"
#include "kernels/winograd.h"

/* Largest tile: output channels, accumulators, vectors per row segment. */
#define FORWARD_BLOCK 8
#define MAX_ACCUMULATORS 16
#define MAX_VECTORS 2

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

/* Narrow blocks (fewer channels than lanes) keep all 9 * nco weights of
 * an input channel in a few vectors, the last one loaded to end at the
 * last weight, so nothing past them is read. Wider blocks load a tap's
 * weights where they are used. */
typedef struct channel_weights {
    float32x4_t narrow[5];
} channel_weights;

SIMD_INLINE void load_channel_weights(const int nco, const float *w,
                                      channel_weights *cw)
{
    if (nco < LANES) {
        UNROLL_FULL
        for (int j = 0; j < (9 * nco + 3) / 4; j++)
            cw->narrow[j] = vld1q_f32(w + narrow_offset(nco, j));
    }
}

/* The weights are used lane by lane from vectors of the stream (fmla by
 * element), so no broadcasts are needed. */
SIMD_INLINE void tap_fma(const int nco, const int nv, float32x4_t *acc,
                         const int co_stride, const float32x4_t *x,
                         const float *w, const channel_weights *cw,
                         const int tap)
{
    if (nco >= LANES) {
        const float *wk = w + tap * nco;
        float32x4_t wv[FORWARD_BLOCK / LANES];
        UNROLL_FULL
        for (int q = 0; q < nco / LANES; q++)
            wv[q] = vld1q_f32(wk + q * LANES);
        UNROLL_FULL
        for (int co = 0; co < nco; co++) {
            UNROLL_FULL
            for (int v = 0; v < nv; v++) {
                float32x4_t *a = &acc[co * co_stride + v];
                *a = fma_lane(*a, x[v], wv[co / LANES], co % LANES);
            }
        }
    } else {
        UNROLL_FULL
        for (int co = 0; co < nco; co++) {
            const int index = tap * nco + co;
            const int j = index / 4;
            const int lane = index - narrow_offset(nco, j);
            UNROLL_FULL
            for (int v = 0; v < nv; v++) {
                float32x4_t *a = &acc[co * co_stride + v];
                *a = fma_lane(*a, x[v], cw->narrow[j], lane);
            }
        }
    }
}

#define TAP_FMA(nco, nr, nv, r, acc, x, w, cw, tap)                            \
    tap_fma(nco, nv, &(acc)[(r) * (nv)], (nr) * (nv), x, w, &(cw), tap)

#include "kernels/conv_template.h"

DEFINE_FORWARD_PLAN(1, 8, 4)
DEFINE_FORWARD_PLAN(2, 4, 2)
DEFINE_FORWARD_PLAN(4, 4, 2)
DEFINE_FORWARD_PLAN_ONE_ROW(8, 2)
DEFINE_FORWARD_POOL_STRIPS
DEFINE_FORWARD_POOL_STRIP(8, 2)

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
    ADD_PARTIALS(nco, acc, (float32x4_t *)(void *)partial, co_stride, first);
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

/* Up to 16 of the 32 q registers as forward accumulators. No software
 * prefetch (prefetch_min_bytes is the largest size): the cores this was
 * measured on under qemu tell nothing about it, so none is claimed. */
static const conv3x3_microkernels microkernels_neon = {
    CONV_COMMON_FIELDS,
    .plans = {FORWARD_PLAN(1, 8, 4), FORWARD_PLAN(2, 4, 2),
              FORWARD_PLAN(4, 4, 2), FORWARD_PLAN(8, 2, 1)},
    .pool_strips = {FORWARD_POOL_STRIPS, forward_pool_strip_8},
    .prefetch_min_bytes = (size_t)-1,
    .weight_tiles = {NULL, weight_tile_1, weight_tile_2, NULL},
    .weight_stream_tiles = {NULL, NULL, NULL, NULL},
    .winograd = &winograd_neon,
};

void conv_provide_neon(kernel_table *table)
{
    table->conv3x3 = &microkernels_neon;
    /* Not measured against the NEON max-pool gradient and weight gradient
     * (no AArch64 machine here to time on), so the network keeps those. */
    table->conv3x3_pool_backward_weights = NULL;
}
