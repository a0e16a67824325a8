/* labels_fill_pairs_avx512: the accepted polar pairs of the library's
 * generator, eight stretches of the stream generated side by side in the
 * lanes of AVX-512 registers (see labels_lanes in label_draw.h).
 *
 * xoshiro256** is linear over GF(2): T^D s = sum_j c_j T^j s, where
 * c = x^D mod P(x) and P is the minimal polynomial of the transition T
 * (degree 256). lane_jump holds c for D = 7 LABELS_LANE_STEPS, made by
 * lane_jump.py (Berlekamp-Massey, checked against D plain steps there;
 * tests/test_labels.c checks it again, through the whole pair stream). */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "labels/label_draw.h"

/* x^(7 * 2048) mod P(x), lowest coefficient in bit 0 of word 0. */
_Static_assert(LABELS_LANE_STEPS == 2048,
               "lane_jump is for 2048 steps a lane: rerun lane_jump.py");
static const uint64_t lane_jump[4] = {
    0x2feb50ab077bac1aull, 0xa9b302d307a6d345ull, 0x64dcf3fb942666efull,
    0x3972a4b76a145204ull};

#define LANE_VECTOR __m512i
#define LANE_XOR(a, b) _mm512_xor_si512(a, b)
#define LANE_SHIFT_LEFT(a, k) _mm512_slli_epi64(a, k)
#define LANE_ROTATE_LEFT(a, k) _mm512_rol_epi64(a, k)
#define LANE_ZERO() _mm512_setzero_si512()
#define LANE_LOAD(p) _mm512_loadu_si512(p)
#define LANE_STORE(p, v) _mm512_storeu_si512(p, v)
#include "labels/label_lanes_template.h"

/* rotl(s1 * 5, 7) * 9 (64-bit products, AVX512DQ). */
static inline __m512i vector_output(__m512i s1)
{
    __m512i rotated =
        _mm512_rol_epi64(_mm512_mullo_epi64(s1, _mm512_set1_epi64(5)), 7);
    return _mm512_mullo_epi64(rotated, _mm512_set1_epi64(9));
}

/* 2 ((x >> 11) 2^-53) - 1 as random_normal computes it. There every step
 * is exact: k = x >> 11 < 2^53 converts exactly, k 2^-53 and its double
 * are exact, and k 2^-52 - 1 is a multiple of 2^-52 in [-1, 1), which a
 * double holds. So one fused multiply-subtract, which rounds only the
 * exact result, gives the same bits in one operation. */
static inline __m512d vector_coordinate(__m512i x)
{
    return _mm512_fmsub_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64(x, 11)),
                           _mm512_set1_pd(0x1p-52), _mm512_set1_pd(1.0));
}

/* columns[k] = (rows[0][k], ..., rows[7][k]). */
static inline void transpose(const __m512i rows[8], __m512i columns[8])
{
    /* Pairs (r, r + 1) of each column: even columns in t[r], odd in
     * t[r + 1]. */
    __m512i t[8];
    for (int r = 0; r < 8; r += 2) {
        t[r] = _mm512_unpacklo_epi64(rows[r], rows[r + 1]);
        t[r + 1] = _mm512_unpackhi_epi64(rows[r], rows[r + 1]);
    }
    for (int odd = 0; odd < 2; odd++) {
        /* 128-bit lanes 0,2 of the first and 0,2 of the second (0x88), or
         * lanes 1,3 of each (0xdd). */
        __m512i a0 = _mm512_shuffle_i64x2(t[odd], t[2 + odd], 0x88);
        __m512i a1 = _mm512_shuffle_i64x2(t[odd], t[2 + odd], 0xdd);
        __m512i b0 = _mm512_shuffle_i64x2(t[4 + odd], t[6 + odd], 0x88);
        __m512i b1 = _mm512_shuffle_i64x2(t[4 + odd], t[6 + odd], 0xdd);
        columns[0 + odd] = _mm512_shuffle_i64x2(a0, b0, 0x88);
        columns[4 + odd] = _mm512_shuffle_i64x2(a0, b0, 0xdd);
        columns[2 + odd] = _mm512_shuffle_i64x2(a1, b1, 0x88);
        columns[6 + odd] = _mm512_shuffle_i64x2(a1, b1, 0xdd);
    }
}

size_t labels_fill_pairs_avx512(labels_lanes *lanes, double *u_out,
                                double *s_out)
{
    vector_state v = load_state(lanes);
    /* Output j of lane k goes to raw[k LABELS_LANE_STRIDE + j]: eight
     * steps give an 8 x 8 tile (row = step, column = lane), stored
     * transposed. The stride is padded past a multiple of 4 KiB so that the
     * eight stores of a tile do not compete for one cache set. */
    uint64_t *raw = lanes->raw;
    for (size_t j = 0; j < LABELS_LANE_STEPS; j += 8) {
        __m512i rows[8];
        for (int r = 0; r < 8; r++) {
            rows[r] = vector_output(v.s1);
            vector_step(&v);
        }
        __m512i columns[8];
        transpose(rows, columns);
        for (int lane = 0; lane < 8; lane++)
            _mm512_store_si512(raw + (size_t)lane * LABELS_LANE_STRIDE + j,
                               columns[lane]);
    }
    /* Lane k now stands where lane k + 1 started; move every lane on by
     * the 7 stretches the others covered. */
    jump_and_store(lanes, v, lane_jump);

    /* raw now holds the stretches in stream order: lane 0's outputs,
     * then lane 1's, ... */
    const __m512i even = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
    size_t filled = 0;
    for (int lane = 0; lane < 8; lane++) {
        const uint64_t *stretch = raw + (size_t)lane * LABELS_LANE_STRIDE;
        for (size_t i = 0; i < LABELS_LANE_STEPS; i += 16) {
            /* 16 consecutive outputs of the stream: 8 pairs. */
            __m512i first = _mm512_load_si512(stretch + i);
            __m512i second = _mm512_load_si512(stretch + i + 8);
            __m512d u = vector_coordinate(
                _mm512_permutex2var_epi64(first, even, second));
            __m512d w = vector_coordinate(
                _mm512_permutex2var_epi64(first, odd, second));
            __m512d s = _mm512_add_pd(_mm512_mul_pd(u, u), _mm512_mul_pd(w, w));
            __mmask8 kept =
                _mm512_cmp_pd_mask(s, _mm512_set1_pd(1.0), _CMP_LT_OQ) &
                _mm512_cmp_pd_mask(s, _mm512_setzero_pd(), _CMP_NEQ_UQ);
            _mm512_storeu_pd(u_out + filled, _mm512_maskz_compress_pd(kept, u));
            _mm512_storeu_pd(s_out + filled, _mm512_maskz_compress_pd(kept, s));
            filled += (size_t)__builtin_popcount(kept);
        }
    }
    return filled;
}

/* labels_certainly_rejected in 16-float vectors: the same bound (any order
 * of summation stays within labels_rejection_slack), masked loads for the
 * last partial vector. */
int labels_certainly_rejected_avx512(const float *magnitude, size_t dims,
                                     const float *vectors, size_t accepted,
                                     const double *squared_norms,
                                     double threshold, double slack)
{
    if (slack >= 0.5)
        return 0;
    __m512 squares = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= dims; i += 16) {
        __m512 a = _mm512_loadu_ps(magnitude + i);
        squares = _mm512_add_ps(squares, _mm512_mul_ps(a, a));
    }
    __mmask16 tail = (__mmask16)((1u << (dims - i)) - 1u);
    size_t tail_start = i;
    __m512 a_tail = _mm512_maskz_loadu_ps(tail, magnitude + tail_start);
    squares = _mm512_add_ps(squares, _mm512_mul_ps(a_tail, a_tail));
    double squared_norm = (double)_mm512_reduce_add_ps(squares);
    if (!(squared_norm >= 1.0))
        return 0;
    for (size_t k = 0; k < accepted; k++) {
        const float *row = vectors + k * dims;
        __m512 products = _mm512_setzero_ps();
        for (i = 0; i < tail_start; i += 16)
            products = _mm512_add_ps(
                products, _mm512_mul_ps(_mm512_loadu_ps(magnitude + i),
                                        _mm512_loadu_ps(row + i)));
        products = _mm512_add_ps(
            products, _mm512_mul_ps(a_tail, _mm512_maskz_loadu_ps(
                                                tail, row + tail_start)));
        if (labels_certainly_above((double)_mm512_reduce_add_ps(products), dims,
                                   squared_norm * squared_norms[k], threshold,
                                   slack))
            return 1;
    }
    return 0;
}
