/* NEON (AArch64) dense kernels: the register tiles of dense_driver.h at 4
 * lanes, within 32 q registers.
 *
 * Forward (dot tiles): 4 images x 6 outputs, 24 accumulators; each step
 * loads 4 input vectors and 6 weight vectors for 24 FMAs, the in_features
 * tail through a zero-filled copy, then one lane reduction per output.
 * Gradients (nn tiles): 6 rows x 4 vectors (16 columns), 24 accumulators;
 * each step loads 4 vectors of B and broadcasts 6 elements of A. NEON has no
 * masked loads or stores: partial vectors go through a small copy. */
#include <arm_neon.h>
#include <string.h>

#include "kernels/dense.h"
#include "kernels/dense_driver.h"
#include "kernels/simd_common.h"

#define LANES 4
#define DOT_ROWS 4
#define DOT_COLS 6
#define NN_ROWS 6
#define NN_VECTORS 4

/* The first `lanes` floats at p (1..4), zeros after. */
static inline float32x4_t load_lanes(const float *p, int lanes)
{
    float part[LANES] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(part, p, sizeof(float) * (size_t)lanes);
    return vld1q_f32(part);
}

static inline void store_lanes(float *p, float32x4_t v, int lanes)
{
    float part[LANES];
    vst1q_f32(part, v);
    memcpy(p, part, sizeof(float) * (size_t)lanes);
}

/* The lane sums of four vectors: (0 + 1) + (2 + 3) for each. */
static inline float32x4_t lane_sums4(float32x4_t a, float32x4_t b,
                                     float32x4_t c, float32x4_t d)
{
    return vpaddq_f32(vpaddq_f32(a, b), vpaddq_f32(c, d));
}

SIMD_INLINE void dot_tile(const int rows, const int cols, size_t depth,
                          const float *x, const float *w, const float *bias,
                          int relu, float *out, size_t out_stride)
{
    float32x4_t acc[DOT_ROWS * DOT_COLS];
    UNROLL_FULL
    for (int k = 0; k < rows * cols; k++)
        acc[k] = vdupq_n_f32(0.0f);
    size_t j = 0;
    for (; j + LANES <= depth; j += LANES) {
        float32x4_t xv[DOT_ROWS];
        UNROLL_FULL
        for (int r = 0; r < rows; r++)
            xv[r] = vld1q_f32(x + r * depth + j);
        UNROLL_FULL
        for (int c = 0; c < cols; c++) {
            const float32x4_t wv = vld1q_f32(w + c * depth + j);
            UNROLL_FULL
            for (int r = 0; r < rows; r++)
                acc[r * cols + c] = vfmaq_f32(acc[r * cols + c], xv[r], wv);
        }
    }
    if (j < depth) {
        const int lanes = (int)(depth - j);
        float32x4_t xv[DOT_ROWS];
        UNROLL_FULL
        for (int r = 0; r < rows; r++)
            xv[r] = load_lanes(x + r * depth + j, lanes);
        UNROLL_FULL
        for (int c = 0; c < cols; c++) {
            const float32x4_t wv = load_lanes(w + c * depth + j, lanes);
            UNROLL_FULL
            for (int r = 0; r < rows; r++)
                acc[r * cols + c] = vfmaq_f32(acc[r * cols + c], xv[r], wv);
        }
    }
    /* Reduced four accumulators at a time (zeros pad the last group). */
    float sums[DOT_ROWS * DOT_COLS + 3];
    UNROLL_FULL
    for (int k = 0; k < rows * cols; k += 4) {
        const float32x4_t zero = vdupq_n_f32(0.0f);
        vst1q_f32(sums + k,
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

SIMD_INLINE void nn_tile(const int rows, const int vectors, const int masked,
                         size_t depth, const float *a, size_t a_row,
                         size_t a_col, const float *b, size_t b_row, float *c,
                         size_t c_row, int last_lanes)
{
    float32x4_t acc[NN_ROWS * NN_VECTORS];
    UNROLL_FULL
    for (int k = 0; k < rows * vectors; k++)
        acc[k] = vdupq_n_f32(0.0f);
    for (size_t t = 0; t < depth; t++) {
        const float *bt = b + t * b_row;
        float32x4_t bv[NN_VECTORS];
        UNROLL_FULL
        for (int v = 0; v < vectors; v++)
            bv[v] = masked && v == vectors - 1
                        ? load_lanes(bt + v * LANES, last_lanes)
                        : vld1q_f32(bt + v * LANES);
        const float *at = a + t * a_col;
        UNROLL_FULL
        for (int r = 0; r < rows; r++) {
            const float32x4_t av = vld1q_dup_f32(at + r * a_row);
            UNROLL_FULL
            for (int v = 0; v < vectors; v++)
                acc[r * vectors + v] =
                    vfmaq_f32(acc[r * vectors + v], av, bv[v]);
        }
    }
    UNROLL_FULL
    for (int r = 0; r < rows; r++) {
        UNROLL_FULL
        for (int v = 0; v < vectors; v++) {
            float *p = c + r * c_row + v * LANES;
            if (masked && v == vectors - 1)
                store_lanes(p, acc[r * vectors + v], last_lanes);
            else
                vst1q_f32(p, acc[r * vectors + v]);
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
#define DOT_ROW(r) DOT(r, 1) DOT(r, 2) DOT(r, 3) DOT(r, 4) DOT(r, 5) DOT(r, 6)
DOT_ROW(1)
DOT_ROW(2)
DOT_ROW(3)
DOT_ROW(4)
#define DOT_ENTRY(r)                                                           \
    {                                                                          \
        dot_##r##_1, dot_##r##_2, dot_##r##_3, dot_##r##_4, dot_##r##_5,       \
            dot_##r##_6                                                        \
    }

static const dense_dot_plan dense_dot_plan_neon = {
    DOT_ROWS,
    DOT_COLS,
    {DOT_ENTRY(1), DOT_ENTRY(2), DOT_ENTRY(3), DOT_ENTRY(4)}};

#define NN(r, v, m)                                                            \
    __attribute__((noinline)) static void nn_##r##_##v##_##m(                  \
        size_t depth, const float *a, size_t a_row, size_t a_col,              \
        const float *b, size_t b_row, float *c, size_t c_row, int last_lanes)  \
    {                                                                          \
        nn_tile(r, v, m, depth, a, a_row, a_col, b, b_row, c, c_row,           \
                last_lanes);                                                   \
    }
#define NN_ROW(r) NN(r, 4, 0) NN(r, 1, 1) NN(r, 2, 1) NN(r, 3, 1) NN(r, 4, 1)
NN_ROW(1)
NN_ROW(2)
NN_ROW(3)
NN_ROW(4)
NN_ROW(5)
NN_ROW(6)
#define NN_MASKED(r)                                                           \
    {                                                                          \
        nn_##r##_1_1, nn_##r##_2_1, nn_##r##_3_1, nn_##r##_4_1                 \
    }

static const dense_nn_plan dense_nn_plan_neon = {
    NN_ROWS,
    NN_VECTORS,
    LANES,
    {nn_1_4_0, nn_2_4_0, nn_3_4_0, nn_4_4_0, nn_5_4_0, nn_6_4_0},
    {NN_MASKED(1), NN_MASKED(2), NN_MASKED(3), NN_MASKED(4), NN_MASKED(5),
     NN_MASKED(6)}};

/* bias_grad[o] = sum_i output_grad[i][o], in image order. */
static void bias_gradient_neon(size_t count, size_t out_features,
                               const float *output_grad, float *bias_grad)
{
    size_t o = 0;
    for (; o + LANES <= out_features; o += LANES) {
        float32x4_t sum = vdupq_n_f32(0.0f);
        for (size_t i = 0; i < count; i++)
            sum = vaddq_f32(sum, vld1q_f32(output_grad + i * out_features + o));
        vst1q_f32(bias_grad + o, sum);
    }
    for (; o < out_features; o++) {
        float sum = 0.0f;
        for (size_t i = 0; i < count; i++)
            sum += output_grad[i * out_features + o];
        bias_grad[o] = sum;
    }
}

void relu_backward_neon(size_t n, const float *activation, float *grad)
{
    const float32x4_t zero = vdupq_n_f32(0.0f);
    size_t k = 0;
    for (; k + LANES <= n; k += LANES) {
        const uint32x4_t positive = vcgtq_f32(vld1q_f32(activation + k), zero);
        vst1q_f32(grad + k,
                  vreinterpretq_f32_u32(vandq_u32(
                      positive, vreinterpretq_u32_f32(vld1q_f32(grad + k)))));
    }
    for (; k < n; k++)
        if (!(activation[k] > 0.0f))
            grad[k] = 0.0f;
}

DENSE_DEFINE_OPERATIONS(neon)
