/* The dense tiles and their plans, written once for AVX2, AVX-512 and
 * NEON: dense_avx2.c, dense_avx512.c and dense_neon.c each include their
 * ISA's vector vocabulary (simd_avx2.h, simd_avx512.h, simd_neon.h), set the
 * tile shapes below, then include this file, which defines every tile
 * function up to those shapes, the plans dense_dot_plan_simd,
 * dense_nn_plan_simd and dense_nn_summed_plan_simd and the bias gradients
 * bias_gradient_simd and bias_gradient_summed_simd for
 * DENSE_DEFINE_OPERATIONS (dense_driver.h).
 *
 * Forward (dot tiles): rows images x cols outputs of accumulators, each step
 * loading `rows` input vectors and `cols` weight vectors, the in_features
 * tail masked, then one lane reduction per output. Gradients (nn tiles):
 * rows x vectors accumulators, each step loading `vectors` vectors of B and
 * broadcasting `rows` elements of A.
 *
 * Required before inclusion: DOT_ROWS, DOT_COLS, NN_ROWS, NN_VECTORS (each
 * 1 to 6); DOT_FULL_ROWS (dense_dot_plan's full_rows); LANES, SIMD_VECTOR,
 * SIMD_MASK, first_lanes(int) (the mask of the first 0 to LANES lanes),
 * SIMD_LOAD(p), SIMD_LOAD_MASKED(p, mask), SIMD_STORE(p, v), SIMD_STORE_LAST(p,
 * v, mask, lanes), SIMD_BROADCAST(x), SIMD_ZERO(), SIMD_FMA(a, b, c) (a * b +
 * c), lane_sums4(a, b, c, d) (four lane sums in one 4-float vector) and
 * SIMD_STORE4(p, v) to store it; SIMD_KEEP_POSITIVE(a, g) (g where a > 0,
 * else +0) or a function relu_backward_simd. */
#ifndef COSNET_KERNELS_DENSE_TEMPLATE_H
#define COSNET_KERNELS_DENSE_TEMPLATE_H

#include "kernels/dense.h"
#include "kernels/dense_driver.h"

SIMD_INLINE void dot_tile(const int rows, const int cols, size_t depth,
                          const float *x, const float *w, const float *bias,
                          int relu, float *out, size_t out_stride)
{
    SIMD_VECTOR acc[DOT_ROWS * DOT_COLS];
    UNROLL_FULL
    for (int k = 0; k < rows * cols; k++)
        acc[k] = SIMD_ZERO();
    size_t j = 0;
    for (; j + LANES <= depth; j += LANES) {
        SIMD_VECTOR xv[DOT_ROWS];
        UNROLL_FULL
        for (int r = 0; r < rows; r++)
            xv[r] = SIMD_LOAD(x + r * depth + j);
        UNROLL_FULL
        for (int c = 0; c < cols; c++) {
            const SIMD_VECTOR wv = SIMD_LOAD(w + c * depth + j);
            UNROLL_FULL
            for (int r = 0; r < rows; r++)
                acc[r * cols + c] = SIMD_FMA(xv[r], wv, acc[r * cols + c]);
        }
    }
    if (j < depth) {
        const SIMD_MASK m = first_lanes((int)(depth - j));
        SIMD_VECTOR xv[DOT_ROWS];
        UNROLL_FULL
        for (int r = 0; r < rows; r++)
            xv[r] = SIMD_LOAD_MASKED(x + r * depth + j, m);
        UNROLL_FULL
        for (int c = 0; c < cols; c++) {
            const SIMD_VECTOR wv = SIMD_LOAD_MASKED(w + c * depth + j, m);
            UNROLL_FULL
            for (int r = 0; r < rows; r++)
                acc[r * cols + c] = SIMD_FMA(xv[r], wv, acc[r * cols + c]);
        }
    }
    /* Reduced four accumulators at a time (zeros pad the last group). */
    float sums[DOT_ROWS * DOT_COLS + 3];
    UNROLL_FULL
    for (int k = 0; k < rows * cols; k += 4) {
        const SIMD_VECTOR zero = SIMD_ZERO();
        SIMD_STORE4(sums + k,
                    lane_sums4(acc[k], k + 1 < rows * cols ? acc[k + 1] : zero,
                               k + 2 < rows * cols ? acc[k + 2] : zero,
                               k + 3 < rows * cols ? acc[k + 3] : zero));
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            float sum = sums[r * cols + c];
            if (bias)
                sum += bias[c];
            if (relu && !(sum > 0.0f))
                sum = 0.0f;
            out[r * out_stride + c] = sum;
        }
}

/* The sums of rows t = first .. end - 1 of the depth (one segment, or all
 * of it) into acc, each from zero in order. */
SIMD_INLINE void nn_segment_sums(const int rows, const int vectors,
                                 const int masked, SIMD_MASK last, size_t first,
                                 size_t end, const float *a, size_t a_row,
                                 size_t a_col, const float *b, size_t b_row,
                                 SIMD_VECTOR acc[NN_ROWS * NN_VECTORS])
{
    UNROLL_FULL
    for (int k = 0; k < rows * vectors; k++)
        acc[k] = SIMD_ZERO();
    for (size_t t = first; t < end; t++) {
        const float *bt = b + t * b_row;
        SIMD_VECTOR bv[NN_VECTORS];
        UNROLL_FULL
        for (int v = 0; v < vectors; v++)
            bv[v] = masked && v == vectors - 1
                        ? SIMD_LOAD_MASKED(bt + v * LANES, last)
                        : SIMD_LOAD(bt + v * LANES);
        const float *at = a + t * a_col;
        UNROLL_FULL
        for (int r = 0; r < rows; r++) {
            const SIMD_VECTOR av = SIMD_BROADCAST(at[r * a_row]);
            UNROLL_FULL
            for (int v = 0; v < vectors; v++)
                acc[r * vectors + v] =
                    SIMD_FMA(av, bv[v], acc[r * vectors + v]);
        }
    }
}

SIMD_INLINE void nn_tile(const int rows, const int vectors, const int masked,
                         size_t depth, const float *a, size_t a_row,
                         size_t a_col, const float *b, size_t b_row, float *c,
                         size_t c_row, int last_lanes)
{
    const SIMD_MASK last =
        masked ? first_lanes(last_lanes) : first_lanes(LANES);
    SIMD_VECTOR acc[NN_ROWS * NN_VECTORS];
    nn_segment_sums(rows, vectors, masked, last, 0, depth, a, a_row, a_col, b,
                    b_row, acc);
    UNROLL_FULL
    for (int r = 0; r < rows; r++) {
        UNROLL_FULL
        for (int v = 0; v < vectors; v++) {
            float *p = c + r * c_row + v * LANES;
            if (masked && v == vectors - 1)
                SIMD_STORE_LAST(p, acc[r * vectors + v], last, last_lanes);
            else
                SIMD_STORE(p, acc[r * vectors + v]);
        }
    }
}

/* nn_tile grouped as a dense_summation (dense_nn_summed_tile): a piece's
 * partial sums wait in a tile on the stack (L1), C is stored once per
 * piece. */
SIMD_INLINE void nn_summed_tile(const int rows, const int vectors,
                                const int masked,
                                const dense_summation *summation,
                                int accumulate, const float *a, size_t a_row,
                                size_t a_col, const float *b, size_t b_row,
                                float *c, size_t c_row, int last_lanes)
{
    const SIMD_MASK last =
        masked ? first_lanes(last_lanes) : first_lanes(LANES);
    float piece_sums[NN_ROWS * NN_VECTORS * LANES] __attribute__((aligned(64)));
    size_t segment = 0, image = 0;
    for (size_t p = 0; p < summation->pieces; p++) {
        const size_t segments = summation->piece_segments[p];
        /* Zeroed for a piece of no segments; nn_segment_sums zeroes it
         * again otherwise, which gcc -Os cannot see (it warns that acc may
         * be used uninitialised, and -Dwerror builds fail). */
        SIMD_VECTOR acc[NN_ROWS * NN_VECTORS];
        UNROLL_FULL
        for (int k = 0; k < rows * vectors; k++)
            acc[k] = SIMD_ZERO();
        for (size_t s = 0; s < segments; s++, segment++) {
            const size_t end = image + summation->segment_images[segment];
            nn_segment_sums(rows, vectors, masked, last, image, end, a, a_row,
                            a_col, b, b_row, acc);
            image = end;
            /* The piece's sum so far: acc after its first segment, then
             * the kept sum plus acc. */
            UNROLL_FULL
            for (int k = 0; k < rows * vectors; k++) {
                float *kept = piece_sums + k * LANES;
                if (s > 0)
                    acc[k] = SIMD_ADD(SIMD_LOAD(kept), acc[k]);
                if (s + 1 < segments)
                    SIMD_STORE(kept, acc[k]);
            }
        }
        const int add = p > 0 || accumulate;
        UNROLL_FULL
        for (int r = 0; r < rows; r++) {
            UNROLL_FULL
            for (int v = 0; v < vectors; v++) {
                float *to = c + r * c_row + v * LANES;
                SIMD_VECTOR value = acc[r * vectors + v];
                if (masked && v == vectors - 1) {
                    if (add)
                        value = SIMD_ADD(SIMD_LOAD_MASKED(to, last), value);
                    SIMD_STORE_LAST(to, value, last, last_lanes);
                } else {
                    if (add)
                        value = SIMD_ADD(SIMD_LOAD(to), value);
                    SIMD_STORE(to, value);
                }
            }
        }
    }
}

#define DOT(r, c)                                                              \
    __attribute__((noinline)) static void dot_##r##_##c(                       \
        size_t depth, const float *x, const float *w, const float *bias,       \
        int relu, float *out, size_t out_stride)                               \
    {                                                                          \
        dot_tile(r, c, depth, x, w, bias, relu, out, out_stride);              \
    }
#define NN(r, v, m)                                                            \
    __attribute__((noinline)) static void nn_##r##_##v##_##m(                  \
        size_t depth, const float *a, size_t a_row, size_t a_col,              \
        const float *b, size_t b_row, float *c, size_t c_row, int last_lanes)  \
    {                                                                          \
        nn_tile(r, v, m, depth, a, a_row, a_col, b, b_row, c, c_row,           \
                last_lanes);                                                   \
    }

#define NNS(r, v, m)                                                           \
    __attribute__((noinline)) static void nns_##r##_##v##_##m(                 \
        const dense_summation *summation, int accumulate, const float *a,      \
        size_t a_row, size_t a_col, const float *b, size_t b_row, float *c,    \
        size_t c_row, int last_lanes)                                          \
    {                                                                          \
        nn_summed_tile(r, v, m, summation, accumulate, a, a_row, a_col, b,     \
                       b_row, c, c_row, last_lanes);                           \
    }

/* Every tile shape up to the configured ones, each its own out-of-line
 * function (the compiler allocates its accumulators to registers in
 * isolation), and the plans that list them. EACH_ROW(n, F) is F(1) ...
 * F(n); EACH_COL(n, F, r) is F(r, 1) ... F(r, n). */
#define ROWS_CAT_(a, b) a##b
#define ROWS_CAT(a, b) ROWS_CAT_(a, b)
#define ROWS_1(F) F(1)
#define ROWS_2(F) ROWS_1(F) F(2)
#define ROWS_3(F) ROWS_2(F) F(3)
#define ROWS_4(F) ROWS_3(F) F(4)
#define ROWS_5(F) ROWS_4(F) F(5)
#define ROWS_6(F) ROWS_5(F) F(6)
#define EACH_ROW(n, F) ROWS_CAT(ROWS_, n)(F)
#define COLS_CAT_(a, b) a##b
#define COLS_CAT(a, b) COLS_CAT_(a, b)
#define COLS_1(F, r) F(r, 1)
#define COLS_2(F, r) COLS_1(F, r) F(r, 2)
#define COLS_3(F, r) COLS_2(F, r) F(r, 3)
#define COLS_4(F, r) COLS_3(F, r) F(r, 4)
#define COLS_5(F, r) COLS_4(F, r) F(r, 5)
#define COLS_6(F, r) COLS_5(F, r) F(r, 6)
#define EACH_COL(n, F, r) COLS_CAT(COLS_, n)(F, r)

#define DOT_NAME(r, c) dot_##r##_##c,
#define DOT_DEFINE_ROW(r) EACH_COL(DOT_COLS, DOT, r)
#define DOT_ENTRY(r) {EACH_COL(DOT_COLS, DOT_NAME, r)},
EACH_ROW(DOT_ROWS, DOT_DEFINE_ROW)

static const dense_dot_plan dense_dot_plan_simd = {
    DOT_ROWS, DOT_COLS, DOT_FULL_ROWS, {EACH_ROW(DOT_ROWS, DOT_ENTRY)}};

/* Full tiles are nn_<rows>_<NN_VECTORS>_0, masked ones nn_<rows>_<v>_1 for
 * v = 1 .. NN_VECTORS (the macros in between expand NN_VECTORS before it
 * is pasted). */
#define NN_MASKED_DEFINE(r, v) NN(r, v, 1)
#define NN_FULL_DEFINE(r, v) NN(r, v, 0)
#define NN_FULL_DEFINE_X(r, v) NN_FULL_DEFINE(r, v)
#define NN_DEFINE_ROW(r)                                                       \
    NN_FULL_DEFINE_X(r, NN_VECTORS) EACH_COL(NN_VECTORS, NN_MASKED_DEFINE, r)
#define NN_FULL_NAME(r, v) nn_##r##_##v##_0,
#define NN_FULL_NAME_X(r, v) NN_FULL_NAME(r, v)
#define NN_FULL_ENTRY(r) NN_FULL_NAME_X(r, NN_VECTORS)
#define NN_MASKED_NAME(r, v) nn_##r##_##v##_1,
#define NN_MASKED_ENTRY(r) {EACH_COL(NN_VECTORS, NN_MASKED_NAME, r)},
EACH_ROW(NN_ROWS, NN_DEFINE_ROW)

static const dense_nn_plan dense_nn_plan_simd = {
    NN_ROWS,
    NN_VECTORS,
    LANES,
    {EACH_ROW(NN_ROWS, NN_FULL_ENTRY)},
    {EACH_ROW(NN_ROWS, NN_MASKED_ENTRY)}};

/* The same tiles grouped as a dense_summation: nns_<rows>_<NN_VECTORS>_0
 * and nns_<rows>_<v>_1. */
#define NNS_MASKED_DEFINE(r, v) NNS(r, v, 1)
#define NNS_FULL_DEFINE(r, v) NNS(r, v, 0)
#define NNS_FULL_DEFINE_X(r, v) NNS_FULL_DEFINE(r, v)
#define NNS_DEFINE_ROW(r)                                                      \
    NNS_FULL_DEFINE_X(r, NN_VECTORS) EACH_COL(NN_VECTORS, NNS_MASKED_DEFINE, r)
#define NNS_FULL_NAME(r, v) nns_##r##_##v##_0,
#define NNS_FULL_NAME_X(r, v) NNS_FULL_NAME(r, v)
#define NNS_FULL_ENTRY(r) NNS_FULL_NAME_X(r, NN_VECTORS)
#define NNS_MASKED_NAME(r, v) nns_##r##_##v##_1,
#define NNS_MASKED_ENTRY(r) {EACH_COL(NN_VECTORS, NNS_MASKED_NAME, r)},
EACH_ROW(NN_ROWS, NNS_DEFINE_ROW)

static const dense_nn_summed_plan dense_nn_summed_plan_simd = {
    NN_ROWS,
    NN_VECTORS,
    LANES,
    {EACH_ROW(NN_ROWS, NNS_FULL_ENTRY)},
    {EACH_ROW(NN_ROWS, NNS_MASKED_ENTRY)}};

/* bias_grad[o] = sum_i output_grad[i][o], in image order. */
static void bias_gradient_simd(size_t count, size_t out_features,
                               const float *output_grad, float *bias_grad)
{
    for (size_t o = 0; o < out_features; o += LANES) {
        const size_t left = out_features - o;
        const int lanes = left < LANES ? (int)left : LANES;
        const SIMD_MASK m = first_lanes(lanes);
        SIMD_VECTOR sum = SIMD_ZERO();
        for (size_t i = 0; i < count; i++)
            sum = SIMD_ADD(
                sum, SIMD_LOAD_MASKED(output_grad + i * out_features + o, m));
        SIMD_STORE_LAST(bias_grad + o, sum, m, lanes);
    }
}

/* bias_gradient_simd grouped as a dense_summation, for outputs
 * row_first .. row_end - 1. */
static void bias_gradient_summed_simd(const dense_summation *summation,
                                      int accumulate, size_t row_first,
                                      size_t row_end, size_t out_features,
                                      const float *output_grad,
                                      float *bias_grad)
{
    for (size_t o = row_first; o < row_end; o += LANES) {
        const size_t left = row_end - o;
        const int lanes = left < LANES ? (int)left : LANES;
        const SIMD_MASK m = first_lanes(lanes);
        SIMD_VECTOR total =
            accumulate ? SIMD_LOAD_MASKED(bias_grad + o, m) : SIMD_ZERO();
        size_t segment = 0, image = 0;
        for (size_t p = 0; p < summation->pieces; p++) {
            SIMD_VECTOR piece = SIMD_ZERO();
            for (size_t s = 0; s < summation->piece_segments[p];
                 s++, segment++) {
                const size_t end = image + summation->segment_images[segment];
                SIMD_VECTOR sum = SIMD_ZERO();
                for (size_t i = image; i < end; i++)
                    sum = SIMD_ADD(sum,
                                   SIMD_LOAD_MASKED(
                                       output_grad + i * out_features + o, m));
                image = end;
                piece = s == 0 ? sum : SIMD_ADD(piece, sum);
            }
            total = p == 0 && !accumulate ? piece : SIMD_ADD(total, piece);
        }
        SIMD_STORE_LAST(bias_grad + o, total, m, lanes);
    }
}

#if defined(SIMD_KEEP_POSITIVE)
/* grad[k] = 0 where !(activation[k] > 0), NaN included: whole vectors,
 * then the tail one at a time. An ISA with masked stores (AVX-512) defines
 * its own relu_backward_simd instead. */
static void relu_backward_simd(size_t n, const float *activation, float *grad)
{
    size_t k = 0;
    for (; k + LANES <= n; k += LANES)
        SIMD_STORE(grad + k, SIMD_KEEP_POSITIVE(SIMD_LOAD(activation + k),
                                                SIMD_LOAD(grad + k)));
    for (; k < n; k++)
        if (!(activation[k] > 0.0f))
            grad[k] = 0.0f;
}
#endif

#endif
