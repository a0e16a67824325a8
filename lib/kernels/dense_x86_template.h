/* The x86 dense tiles, written once for AVX2 and AVX-512: dense_avx2.c and
 * dense_avx512.c each define the vector type and operations below for their
 * ISA and lane_sums4 (the four-vector lane reduction, in a tree that is the
 * same for every vector), then include this file, instantiate the tile
 * shapes they use and describe them in dense_driver.h's plans.
 *
 * Forward (dot tiles): rows images x cols outputs of accumulators, each step
 * loading `rows` input vectors and `cols` weight vectors, the in_features
 * tail masked, then one lane reduction per output. Gradients (nn tiles):
 * rows x vectors accumulators, each step loading `vectors` vectors of B and
 * broadcasting `rows` elements of A.
 *
 * Required before inclusion: LANES, DOT_ROWS, DOT_COLS, NN_ROWS,
 * NN_VECTORS; SIMD_VECTOR, SIMD_MASK, lanes_mask(int), SIMD_LOAD(p),
 * SIMD_LOAD_MASKED(p, mask), SIMD_STORE(p, v), SIMD_STORE_LAST(p, v, mask,
 * lanes), SIMD_BROADCAST(x), SIMD_ZERO(), SIMD_FMA(a, b, c) (a * b + c);
 * lane_sums4(a, b, c, d) -> __m128. */
#ifndef COSNET_KERNELS_DENSE_X86_TEMPLATE_H
#define COSNET_KERNELS_DENSE_X86_TEMPLATE_H

#include "kernels/dense.h"
#include "kernels/dense_driver.h"
#include "kernels/simd_common.h"

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
        const SIMD_MASK m = lanes_mask((int)(depth - j));
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
        _mm_storeu_ps(sums + k,
                      lane_sums4(acc[k],
                                 k + 1 < rows * cols ? acc[k + 1] : zero,
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

SIMD_INLINE void nn_tile(const int rows, const int vectors, const int masked,
                         size_t depth, const float *a, size_t a_row,
                         size_t a_col, const float *b, size_t b_row, float *c,
                         size_t c_row, int last_lanes)
{
    const SIMD_MASK last = masked ? lanes_mask(last_lanes) : lanes_mask(LANES);
    SIMD_VECTOR acc[NN_ROWS * NN_VECTORS];
    UNROLL_FULL
    for (int k = 0; k < rows * vectors; k++)
        acc[k] = SIMD_ZERO();
    for (size_t t = 0; t < depth; t++) {
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

#endif
