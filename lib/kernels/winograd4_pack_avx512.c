/* The packing of F(4x4)'s U (winograd4.h) for AVX-512: eight output
 * channels per vector of doubles, with the plain-C packing's operations in
 * its order (winograd4_pack.c), so the same bits. The trainer packs every
 * step, once per worker: one (output, input) pair at a time in scalar
 * double was 5% of a deep-classifier epoch. */
#include <float.h>
#include <immintrin.h>

#include "kernels/winograd4.h"
#include "kernels/winograd_weight_transform.h"

#define LANES 8 /* output channels per vector */

int winograd4_pack_avx512(const conv_shape *shape, const float *weights,
                          int rotate_swap, int padded_out_channels,
                          float *packed)
{
    const int cin = shape->in_channels, cout = shape->out_channels;
    const size_t padded = (size_t)padded_out_channels;
    __m512d t[6][3];
    for (int k = 0; k < 6; k++)
        for (int b = 0; b < 3; b++)
            t[k][b] = _mm512_set1_pd(winograd4_transform_g[k][b]);
    const __m256 limit = _mm256_set1_ps(FLT_MAX);
    const __m256 no_sign = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m512d scale = _mm512_set1_pd(512.0);
    __mmask8 finite = 0xff;
    /* Floats from one output channel's kernel to the next. */
    const __m256i lane_offsets =
        _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                           _mm256_set1_epi32(rotate_swap ? 9 : 9 * cin));
    /* One row of U (an input channel) at a time. */
    for (int ci = 0; ci < cin; ci++)
        for (size_t co = 0; co < padded; co += LANES) {
            const int lanes = cout - (int)co < LANES ? cout - (int)co : LANES;
            /* The plain-C packing's padding is +0; zero weights give -0. */
            const __mmask8 real = (__mmask8)((1u << lanes) - 1u);
            /* g[k] of channels co .. co + 7 (zeros past out_channels),
             * gathered: lane l reads weight (co + l, ci) or, rotated,
             * (ci, co + l). */
            const float *base = rotate_swap
                                    ? weights + ((size_t)ci * cout + co) * 9 + 8
                                    : weights + (co * cin + ci) * 9;
            const int step = rotate_swap ? -1 : 1;
            __m512d gv[9];
            for (int k = 0; k < 9; k++)
                gv[k] = _mm512_cvtps_pd(_mm256_mmask_i32gather_ps(
                    _mm256_setzero_ps(), real, lane_offsets, base + step * k,
                    4));
            __m512d gg[6][3];
            for (int k = 0; k < 6; k++)
                for (int b = 0; b < 3; b++)
                    gg[k][b] = _mm512_add_pd(
                        _mm512_add_pd(_mm512_mul_pd(t[k][0], gv[b]),
                                      _mm512_mul_pd(t[k][1], gv[3 + b])),
                        _mm512_mul_pd(t[k][2], gv[6 + b]));
            for (int k = 0; k < 6; k++)
                for (int j = 0; j < 6; j++) {
                    const __m512d u = _mm512_add_pd(
                        _mm512_add_pd(_mm512_mul_pd(gg[k][0], t[j][0]),
                                      _mm512_mul_pd(gg[k][1], t[j][1])),
                        _mm512_mul_pd(gg[k][2], t[j][2]));
                    /* Finite: |float(512 u)| <= FLT_MAX (false for NaN). */
                    const __m256 large =
                        _mm512_cvtpd_ps(_mm512_mul_pd(u, scale));
                    finite &= (__mmask8)_mm256_cmp_ps_mask(
                        _mm256_and_ps(large, no_sign), limit, _CMP_LE_OQ);
                    _mm256_storeu_ps(
                        packed + ((size_t)(k * 6 + j) * cin + ci) * padded + co,
                        _mm512_cvtpd_ps(_mm512_maskz_mov_pd(real, u)));
                }
        }
    return finite == 0xff;
}
