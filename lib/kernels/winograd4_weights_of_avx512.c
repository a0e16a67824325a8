/* G^T M G of the F(4x4) weight gradient on AVX-512: winograd4_weights_of.c's
 * operations in its order, on vectors of eight output channels (doubles),
 * so the same bits (the file is compiled without contraction, and each
 * vector operation is eight IEEE double operations). A channel pair's nine
 * values are nine floats apart from the next output channel's, so each
 * value of the eight channels is stored by one scatter. */
#include <immintrin.h>

#include "kernels/winograd4.h"

/* winograd4_weights_of.c's transform_g_transposed. */
static inline void transform_g_transposed(const __m512d r[6], __m512d out[3])
{
    const __m512d sum12 = _mm512_add_pd(r[1], r[2]),
                  difference12 = _mm512_sub_pd(r[1], r[2]);
    const __m512d sum34 = _mm512_add_pd(r[3], r[4]),
                  difference34 = _mm512_sub_pd(r[3], r[4]);
    out[0] =
        _mm512_add_pd(_mm512_sub_pd(_mm512_mul_pd(_mm512_set1_pd(6.0), r[0]),
                                    _mm512_mul_pd(_mm512_set1_pd(4.0), sum12)),
                      sum34);
    out[1] = _mm512_sub_pd(_mm512_mul_pd(_mm512_set1_pd(2.0), difference34),
                           _mm512_mul_pd(_mm512_set1_pd(4.0), difference12));
    out[2] = _mm512_add_pd(
        _mm512_mul_pd(_mm512_set1_pd(4.0), _mm512_sub_pd(sum34, sum12)),
        _mm512_mul_pd(_mm512_set1_pd(24.0), r[5]));
}

void winograd4_weights_of_avx512(const conv_shape *shape, int padded_out,
                                 const float *m, float *weight_grad)
{
    const int cin = shape->in_channels, cout = shape->out_channels;
    const size_t frequency = (size_t)cin * padded_out;
    /* Output channel c's values are c * cin * 9 floats apart. */
    const __m256i channel_offsets = _mm256_mullo_epi32(
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(cin * 9));
    const __m512d inverse = _mm512_set1_pd(1.0 / 576);
    for (int ci = 0; ci < cin; ci++)
        for (int co0 = 0; co0 < cout; co0 += 8) {
            const int n = cout - co0 < 8 ? cout - co0 : 8;
            const __mmask8 lanes = (__mmask8)((1u << n) - 1);
            const float *pair = m + (size_t)ci * padded_out + co0;
            /* G^T M down the columns: gm[a][j]. */
            __m512d gm[3][6];
            for (int j = 0; j < 6; j++) {
                __m512d column[6], out[3];
                for (int k = 0; k < 6; k++)
                    column[k] = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(
                        lanes, pair + (size_t)(6 * k + j) * frequency));
                transform_g_transposed(column, out);
                for (int a = 0; a < 3; a++)
                    gm[a][j] = out[a];
            }
            /* (G^T M) G along the rows. */
            float *dw = weight_grad + ((size_t)co0 * cin + ci) * 9;
            for (int a = 0; a < 3; a++) {
                __m512d out[3];
                transform_g_transposed(gm[a], out);
                for (int b = 0; b < 3; b++)
                    _mm256_mask_i32scatter_ps(
                        dw + 3 * a + b, lanes, channel_offsets,
                        _mm512_cvtpd_ps(_mm512_mul_pd(out[b], inverse)), 4);
            }
        }
}
