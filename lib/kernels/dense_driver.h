/* Internal: the ISA-neutral part of the dense kernels, included by each
 * dense_<isa>.c (plain C, compiled under that file's flags). An ISA file
 * supplies register tiles of fixed shape; the drivers here cut the problem
 * into those tiles.
 *
 * Two tile families cover the three operations:
 *
 *  - dot tiles (forward): rows x cols outputs, each a dot product along
 *    in_features of an input row and a weight row, vectorised along
 *    in_features and reduced across lanes once at the end. Both operands are
 *    read in place: no packing.
 *  - nn tiles (both gradients): C[r][j] = sum_t A[r][t] * B[t][j] with B and
 *    C row-major and A read through two strides, vectorised along j (each A
 *    element broadcast). Input gradient: r = image, t = output, A =
 *    output_grad, B = weights. Weight gradient: r = output, t = image, A =
 *    output_grad read transposed, B = input.
 *
 * Edges: tiles may be narrower than full where that wastes less
 * (dense_tile_extent; dot tiles by the plan's full_rows). When a dimension is
 * at least a full tile, the last tile is moved back to end at the edge,
 * overlapping its neighbour and recomputing some elements; when it is smaller,
 * a narrower tile is used. An element's value never depends on the tile that
 * computes it (dot tiles reduce every output alike, nn tiles keep each element
 * in its own lane), so overlapping writes store identical bits and results do
 * not depend on the batch an image is in. */
#ifndef COSNET_KERNELS_DENSE_DRIVER_H
#define COSNET_KERNELS_DENSE_DRIVER_H

#include <stddef.h>

#define DENSE_MAX_TILE_ROWS 8
#define DENSE_MAX_TILE_COLS 8

/* out[r * out_stride + c] for r < rows, c < cols of the tile (rows x cols
 * fixed by the function): sum_k x[r * depth + k] * w[c * depth + k], plus
 * bias[c] if bias is not NULL, then max(0, .) if relu. */
typedef void (*dense_dot_tile)(size_t depth, const float *x, const float *w,
                               const float *bias, int relu, float *out,
                               size_t out_stride);

typedef struct dense_dot_plan {
    int rows, cols; /* full tile: images x outputs */
    /* 1: full-height tiles only, the last moved back to overlap, except
     * that one image left over gets a one-image tile (AVX-512: two 3-image
     * tiles for 5 images took 1.7 times as long as 4 + 1 in bench_dense,
     * narrower tiles re-reading the weights for fewer images); 0: tile
     * heights by dense_tile_extent (AVX2, whose 4 x 3 tile has 3-image
     * neighbours as fast per image). */
    int full_rows;
    /* tiles[r - 1][c - 1]: r images x c outputs, for r <= rows, c <= cols */
    dense_dot_tile tiles[DENSE_MAX_TILE_ROWS][DENSE_MAX_TILE_COLS];
} dense_dot_plan;

/* Images per group: their input rows stay in L2 while every weight tile
 * passes over them once. */
#define DENSE_GROUP_BYTES (192 * 1024)

/* The extent of a tile along a dimension of `size` elements: the full
 * extent, unless that wastes more than an eighth of the work and a smaller
 * one, down to `smallest`, computes fewer elements in all (then the one that
 * computes fewest, the larger on ties); or the size itself when it is
 * smaller. E.g. 25 outputs, 6-output forward tiles: 5 tiles of 5 rather
 * than 5 of 6; 16 images, 6-row gradient tiles: 4 tiles of 4 rather than 3
 * of 6, the last overlapping. */
static inline size_t dense_tile_extent(size_t size, size_t full,
                                       size_t smallest)
{
    if (size < full)
        return size;
    size_t best = full, best_total = (size + full - 1) / full * full;
    if ((best_total - size) * 8 <= size)
        return full;
    for (size_t e = full - 1; e >= smallest && e >= 1; e--) {
        const size_t total = (size + e - 1) / e * e;
        if (total < best_total) {
            best = e;
            best_total = total;
        }
    }
    return best;
}

static inline void dense_dot_drive(const dense_dot_plan *plan, size_t count,
                                   size_t in_features, size_t out_features,
                                   const float *input, const float *weights,
                                   const float *bias, int relu, float *output)
{
    if (count == 0 || out_features == 0)
        return;
    const size_t full_rows = (size_t)plan->rows, full_cols = (size_t)plan->cols;
    const size_t rows = !plan->full_rows
                            ? dense_tile_extent(count, full_rows, full_rows - 1)
                        : count < full_rows ? count
                                            : full_rows;
    const int single_last =
        plan->full_rows && count > full_rows && count % full_rows == 1;
    const size_t cols =
        dense_tile_extent(out_features, full_cols, full_cols - 1);
    const dense_dot_tile tile = plan->tiles[rows - 1][cols - 1];
    const dense_dot_tile single = plan->tiles[0][cols - 1];
    const size_t row_blocks = (count + rows - 1) / rows;
    const size_t block_bytes = rows * in_features * sizeof(float);
    size_t group = block_bytes ? DENSE_GROUP_BYTES / block_bytes : row_blocks;
    if (group < 1)
        group = 1;
    for (size_t g = 0; g < row_blocks; g += group) {
        const size_t g_end = g + group < row_blocks ? g + group : row_blocks;
        for (size_t o0 = 0; o0 < out_features; o0 += cols) {
            const size_t o =
                o0 + cols <= out_features ? o0 : out_features - cols;
            for (size_t b = g; b < g_end; b++) {
                const int last = b * rows + rows > count;
                const size_t i = !last || single_last ? b * rows : count - rows;
                (last && single_last ? single : tile)(
                    in_features, input + i * in_features,
                    weights + o * in_features, bias ? bias + o : NULL, relu,
                    output + i * out_features + o, out_features);
            }
        }
    }
}

/* C[r * c_row + j] = sum_{t < depth} A[r * a_row + t * a_col] *
 * B[t * b_row + j] for the tile's rows and j < its vectors x lanes (the last
 * vector cut to last_lanes lanes in masked tiles). */
typedef void (*dense_nn_tile)(size_t depth, const float *a, size_t a_row,
                              size_t a_col, const float *b, size_t b_row,
                              float *c, size_t c_row, int last_lanes);

typedef struct dense_nn_plan {
    int rows, vectors, lanes; /* full tile: rows x (vectors x lanes) */
    /* full[r - 1]: r rows x all vectors, no masking */
    dense_nn_tile full[DENSE_MAX_TILE_ROWS];
    /* masked[r - 1][v - 1]: r rows x v vectors, the last one masked; for
     * widths below a full strip */
    dense_nn_tile masked[DENSE_MAX_TILE_ROWS][DENSE_MAX_TILE_COLS];
} dense_nn_plan;

static inline void dense_nn_drive(const dense_nn_plan *plan, size_t rows,
                                  size_t width, size_t depth, const float *a,
                                  size_t a_row, size_t a_col, const float *b,
                                  size_t b_row, float *c, size_t c_row)
{
    if (rows == 0 || width == 0)
        return;
    const size_t full_rows = (size_t)plan->rows;
    const size_t lanes = (size_t)plan->lanes;
    const size_t strip = (size_t)plan->vectors * lanes;
    const size_t tile_rows =
        dense_tile_extent(rows, full_rows, (full_rows * 2 + 2) / 3);
    const size_t row_blocks = (rows + tile_rows - 1) / tile_rows;
    if (width >= strip) {
        const dense_nn_tile tile = plan->full[tile_rows - 1];
        for (size_t j0 = 0; j0 < width; j0 += strip) {
            const size_t j = j0 + strip <= width ? j0 : width - strip;
            for (size_t k = 0; k < row_blocks; k++) {
                const size_t r = k * tile_rows + tile_rows <= rows
                                     ? k * tile_rows
                                     : rows - tile_rows;
                tile(depth, a + r * a_row, a_row, a_col, b + j, b_row,
                     c + r * c_row + j, c_row, (int)lanes);
            }
        }
        return;
    }
    const size_t vectors = (width + lanes - 1) / lanes;
    const int last = (int)(width - (vectors - 1) * lanes);
    const dense_nn_tile tile = plan->masked[tile_rows - 1][vectors - 1];
    for (size_t k = 0; k < row_blocks; k++) {
        const size_t r = k * tile_rows + tile_rows <= rows ? k * tile_rows
                                                           : rows - tile_rows;
        tile(depth, a + r * a_row, a_row, a_col, b, b_row, c + r * c_row, c_row,
             last);
    }
}

/* nn tiles whose depth is grouped as a dense_summation (the weight
 * gradient of the trainer's pieces and the passes' chunks): the same
 * product as dense_nn_tile, each segment summed from zero in order, the
 * segments of a piece added in order, and the pieces added to C in order
 * (the first stored over C unless `accumulate`). */
typedef void (*dense_nn_summed_tile)(const dense_summation *summation,
                                     int accumulate, const float *a,
                                     size_t a_row, size_t a_col, const float *b,
                                     size_t b_row, float *c, size_t c_row,
                                     int last_lanes);

typedef struct dense_nn_summed_plan {
    int rows, vectors, lanes; /* full tile, as dense_nn_plan's */
    /* full[r - 1]: r rows x all vectors; masked[r - 1][v - 1]: r rows x v
     * vectors, the last one masked */
    dense_nn_summed_tile full[DENSE_MAX_TILE_ROWS];
    dense_nn_summed_tile masked[DENSE_MAX_TILE_ROWS][DENSE_MAX_TILE_COLS];
} dense_nn_summed_plan;

/* dense_nn_drive's product grouped as a dense_summation. The tiles never
 * overlap (shorter ones at the bottom edge, masked ones at the right
 * edge): a tile that adds to C must not meet C already summed by a
 * neighbour. */
static inline void dense_nn_summed_drive(const dense_nn_summed_plan *plan,
                                         size_t rows, size_t width,
                                         const dense_summation *summation,
                                         int accumulate, const float *a,
                                         size_t a_row, size_t a_col,
                                         const float *b, size_t b_row, float *c,
                                         size_t c_row)
{
    const size_t full_rows = (size_t)plan->rows;
    const size_t lanes = (size_t)plan->lanes;
    const size_t strip = (size_t)plan->vectors * lanes;
    for (size_t j = 0; j < width; j += strip) {
        const int masked = width - j < strip;
        const size_t vectors =
            masked ? (width - j + lanes - 1) / lanes : (size_t)plan->vectors;
        const int last =
            masked ? (int)(width - j - (vectors - 1) * lanes) : (int)lanes;
        for (size_t r = 0; r < rows; r += full_rows) {
            const size_t tile_rows =
                rows - r < full_rows ? rows - r : full_rows;
            const dense_nn_summed_tile tile =
                masked ? plan->masked[tile_rows - 1][vectors - 1]
                       : plan->full[tile_rows - 1];
            tile(summation, accumulate, a + r * a_row, a_row, a_col, b + j,
                 b_row, c + r * c_row + j, c_row, last);
        }
    }
}

/* The four operations on top of the drivers, named after `isa`, over the
 * plans dense_dot_plan_simd, dense_nn_plan_simd and
 * dense_nn_summed_plan_simd and the functions bias_gradient_simd and
 * bias_gradient_summed_simd of dense_template.h, and relu_backward_simd
 * (the template's or the ISA file's). */
#define DENSE_DEFINE_OPERATIONS(isa)                                           \
    void dense_forward_##isa(size_t count, size_t in_features,                 \
                             size_t out_features, const float *input,          \
                             const float *weights, const float *bias,          \
                             int relu, float *output)                          \
    {                                                                          \
        dense_dot_drive(&dense_dot_plan_simd, count, in_features,              \
                        out_features, input, weights, bias, relu, output);     \
    }                                                                          \
    void dense_backward_input_##isa(                                           \
        size_t count, size_t in_features, size_t out_features,                 \
        const float *weights, const float *output_grad, float *input_grad)     \
    {                                                                          \
        dense_nn_drive(&dense_nn_plan_simd, count, in_features, out_features,  \
                       output_grad, out_features, 1, weights, in_features,     \
                       input_grad, in_features);                               \
    }                                                                          \
    void dense_backward_weights_##isa(size_t count, size_t in_features,        \
                                      size_t out_features, const float *input, \
                                      const float *output_grad,                \
                                      float *weight_grad, float *bias_grad)    \
    {                                                                          \
        dense_nn_drive(&dense_nn_plan_simd, out_features, in_features, count,  \
                       output_grad, 1, out_features, input, in_features,       \
                       weight_grad, in_features);                              \
        if (bias_grad)                                                         \
            bias_gradient_simd(count, out_features, output_grad, bias_grad);   \
    }                                                                          \
    void dense_backward_weights_summed_##isa(                                  \
        const dense_summation *summation, int accumulate, size_t row_first,    \
        size_t row_end, size_t in_features, size_t out_features,               \
        const float *input, const float *output_grad, float *weight_grad,      \
        float *bias_grad)                                                      \
    {                                                                          \
        if (row_first >= row_end)                                              \
            return;                                                            \
        dense_nn_summed_drive(                                                 \
            &dense_nn_summed_plan_simd, row_end - row_first, in_features,      \
            summation, accumulate, output_grad + row_first, 1, out_features,   \
            input, in_features, weight_grad + row_first * in_features,         \
            in_features);                                                      \
        if (bias_grad)                                                         \
            bias_gradient_summed_simd(summation, accumulate, row_first,        \
                                      row_end, out_features, output_grad,      \
                                      bias_grad);                              \
    }                                                                          \
    const dense_kernels dense_kernels_##isa = {                                \
        #isa,                                                                  \
        dense_forward_##isa,                                                   \
        dense_backward_input_##isa,                                            \
        dense_backward_weights_##isa,                                          \
        dense_backward_weights_summed_##isa,                                   \
        relu_backward_simd};

#endif
