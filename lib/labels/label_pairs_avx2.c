/* labels_fill_pairs_avx2: the accepted polar pairs of the library's
 * generator, four stretches of the stream side by side in the lanes of
 * AVX2 registers: label_pairs_avx512.c with four lanes, and with the
 * instructions AVX2 lacks (64-bit rotate, multiply and conversion to
 * double, compress) built from others. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "labels/label_draw.h"

/* x^(3 * 2048) mod P(x) (see label_pairs_avx512.c; made by lane_jump.py),
 * lowest coefficient in bit 0 of word 0. */
_Static_assert(LABELS_LANE_STEPS == 2048,
               "lane_jump is for 2048 steps a lane: rerun lane_jump.py");
static const uint64_t lane_jump[4] = {
    0xa82bd707a5c0bbcdull, 0x557d6bd4a66701d2ull, 0x27e81077d42d6234ull,
    0x70b2bd03010451a7ull};

#define ROTATE_LEFT(x, k)                                                      \
    _mm256_or_si256(_mm256_slli_epi64((x), (k)),                               \
                    _mm256_srli_epi64((x), 64 - (k)))

#define LANE_VECTOR __m256i
#define LANE_XOR(a, b) _mm256_xor_si256(a, b)
#define LANE_SHIFT_LEFT(a, k) _mm256_slli_epi64(a, k)
#define LANE_ROTATE_LEFT(a, k) ROTATE_LEFT(a, k)
#define LANE_ZERO() _mm256_setzero_si256()
#define LANE_LOAD(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define LANE_STORE(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), v)
#include "labels/label_lanes_template.h"

/* rotl(s1 * 5, 7) * 9 with shifts and adds (all modulo 2^64). */
static inline __m256i vector_output(__m256i s1)
{
    __m256i times5 = _mm256_add_epi64(s1, _mm256_slli_epi64(s1, 2));
    __m256i rotated = ROTATE_LEFT(times5, 7);
    return _mm256_add_epi64(rotated, _mm256_slli_epi64(rotated, 3));
}

/* 2 ((x >> 11) 2^-53) - 1 without a 64-bit conversion: with k = x >> 11,
 * m = 1 + (k mod 2^52) 2^-52 from bits, minus 1 (top bit of k set) or 2;
 * both exact (Sterbenz), so the bits are random_normal's (as the portable
 * polar coordinate in label_pairs.c argues). */
static inline __m256d vector_coordinate(__m256i x)
{
    __m256i mantissa = _mm256_or_si256(
        _mm256_and_si256(_mm256_srli_epi64(x, 11),
                         _mm256_set1_epi64x(0x000fffffffffffffll)),
        _mm256_set1_epi64x(0x3ff0000000000000ll));
    __m256i offset =
        _mm256_sub_epi64(_mm256_set1_epi64x(0x4000000000000000ll),
                         _mm256_slli_epi64(_mm256_srli_epi64(x, 63), 52));
    return _mm256_sub_pd(_mm256_castsi256_pd(mantissa),
                         _mm256_castsi256_pd(offset));
}

/* For each 4-bit mask, the 32-bit lane indices that move the kept doubles
 * to the front in order. */
static const int32_t compress_index[16][8] = {
    {0, 1, 2, 3, 4, 5, 6, 7}, {0, 1, 2, 3, 4, 5, 6, 7},
    {2, 3, 0, 1, 4, 5, 6, 7}, {0, 1, 2, 3, 4, 5, 6, 7},
    {4, 5, 0, 1, 2, 3, 6, 7}, {0, 1, 4, 5, 2, 3, 6, 7},
    {2, 3, 4, 5, 0, 1, 6, 7}, {0, 1, 2, 3, 4, 5, 6, 7},
    {6, 7, 0, 1, 2, 3, 4, 5}, {0, 1, 6, 7, 2, 3, 4, 5},
    {2, 3, 6, 7, 0, 1, 4, 5}, {0, 1, 2, 3, 6, 7, 4, 5},
    {4, 5, 6, 7, 0, 1, 2, 3}, {0, 1, 4, 5, 6, 7, 2, 3},
    {2, 3, 4, 5, 6, 7, 0, 1}, {0, 1, 2, 3, 4, 5, 6, 7}};

static inline __m256d compress(__m256d value, int mask)
{
    __m256i index = _mm256_loadu_si256((const __m256i *)compress_index[mask]);
    return _mm256_castsi256_pd(
        _mm256_permutevar8x32_epi32(_mm256_castpd_si256(value), index));
}

/* columns[k] = (rows[0][k], ..., rows[3][k]). */
static inline void transpose(const __m256i rows[4], __m256i columns[4])
{
    __m256i t0 = _mm256_unpacklo_epi64(rows[0], rows[1]); /* 00 10 02 12 */
    __m256i t1 = _mm256_unpackhi_epi64(rows[0], rows[1]); /* 01 11 03 13 */
    __m256i t2 = _mm256_unpacklo_epi64(rows[2], rows[3]); /* 20 30 22 32 */
    __m256i t3 = _mm256_unpackhi_epi64(rows[2], rows[3]); /* 21 31 23 33 */
    columns[0] = _mm256_permute2x128_si256(t0, t2, 0x20);
    columns[1] = _mm256_permute2x128_si256(t1, t3, 0x20);
    columns[2] = _mm256_permute2x128_si256(t0, t2, 0x31);
    columns[3] = _mm256_permute2x128_si256(t1, t3, 0x31);
}

size_t labels_fill_pairs_avx2(labels_lanes *lanes, double *u_out, double *s_out)
{
    vector_state v = load_state(lanes);
    /* Output j of lane k goes to raw[k LABELS_LANE_STRIDE + j]. */
    uint64_t *raw = lanes->raw;
    for (size_t j = 0; j < LABELS_LANE_STEPS; j += 4) {
        __m256i rows[4], columns[4];
        for (int r = 0; r < 4; r++) {
            rows[r] = vector_output(v.s1);
            vector_step(&v);
        }
        transpose(rows, columns);
        for (int lane = 0; lane < 4; lane++)
            _mm256_store_si256(
                (__m256i *)(raw + (size_t)lane * LABELS_LANE_STRIDE + j),
                columns[lane]);
    }
    /* Lane k stands where lane k + 1 started: on by the 3 other stretches. */
    jump_and_store(lanes, v, lane_jump);

    size_t filled = 0;
    for (int lane = 0; lane < 4; lane++) {
        const uint64_t *stretch = raw + (size_t)lane * LABELS_LANE_STRIDE;
        for (size_t i = 0; i < LABELS_LANE_STEPS; i += 8) {
            /* 8 consecutive outputs of the stream: 4 pairs. */
            __m256i first = _mm256_load_si256((const __m256i *)(stretch + i));
            __m256i second =
                _mm256_load_si256((const __m256i *)(stretch + i + 4));
            /* (f0 f2 s0 s2) and (f1 f3 s1 s3). */
            __m256i even = _mm256_permute4x64_epi64(
                _mm256_unpacklo_epi64(first, second), 0xd8);
            __m256i odd = _mm256_permute4x64_epi64(
                _mm256_unpackhi_epi64(first, second), 0xd8);
            __m256d u = vector_coordinate(even);
            __m256d w = vector_coordinate(odd);
            __m256d s = _mm256_add_pd(_mm256_mul_pd(u, u), _mm256_mul_pd(w, w));
            __m256d kept_lanes = _mm256_and_pd(
                _mm256_cmp_pd(s, _mm256_set1_pd(1.0), _CMP_LT_OQ),
                _mm256_cmp_pd(s, _mm256_setzero_pd(), _CMP_NEQ_UQ));
            int kept = _mm256_movemask_pd(kept_lanes);
            _mm256_storeu_pd(u_out + filled, compress(u, kept));
            _mm256_storeu_pd(s_out + filled, compress(s, kept));
            filled += (size_t)__builtin_popcount((unsigned)kept);
        }
    }
    return filled;
}
