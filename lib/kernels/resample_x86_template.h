/* The resampling kernel (resample.h) for x86, written once: resample_avx2.c
 * and resample_avx512.c define the vocabulary below for 4 or 8 doubles per
 * vector (and as many 32-bit indices) and include this file. Line for line
 * the reference's arithmetic, lanes being neighbouring output columns; the
 * reference's branches become selections:
 *
 * - The control-point values each column interpolates between are gathered
 *   once per image into rows of a table, so a row of output loads them.
 * - The image is copied once into doubles with one zero after it; a source
 *   pixel outside the image reads that zero. The reference skips such a
 *   term instead, which gives the same sum: every term is >= +0 and the
 *   sum starts at +0.
 *
 * Required: RESAMPLE_LANES, resample_vector (doubles), resample_index
 * (32-bit integers), and the RESAMPLE_* operations used below;
 * RESAMPLE_NAME, the function's name. */
#ifndef COSNET_KERNELS_RESAMPLE_X86_TEMPLATE_H
#define COSNET_KERNELS_RESAMPLE_X86_TEMPLATE_H

#include <stddef.h>

#include "kernels/resample.h"

/* Largest image the vector path takes (a 64 x 64 image: 32 KB of doubles
 * on the stack, 16 KB of field tables); larger ones take the reference. */
#define RESAMPLE_MAX_PIXELS 4096
#define RESAMPLE_MAX_COLUMNS 64
#define RESAMPLE_PADDED_COLUMNS (RESAMPLE_MAX_COLUMNS + RESAMPLE_LANES)

/* Per column: the fraction towards the next control point, and, for each
 * row of control points j, the field's values at the column's two
 * neighbouring points. */
typedef struct resample_columns {
    double fraction[RESAMPLE_PADDED_COLUMNS];
    double left_x[RESAMPLE_GRID][RESAMPLE_PADDED_COLUMNS];
    double right_x[RESAMPLE_GRID][RESAMPLE_PADDED_COLUMNS];
    double left_y[RESAMPLE_GRID][RESAMPLE_PADDED_COLUMNS];
    double right_y[RESAMPLE_GRID][RESAMPLE_PADDED_COLUMNS];
} resample_columns;

/* The reference's grid_position_of: cell = (int)coordinate, at most
 * RESAMPLE_GRID - 2, fraction = coordinate - cell. */
static int grid_cell(double coordinate)
{
    int cell = (int)coordinate;
    return cell > RESAMPLE_GRID - 2 ? RESAMPLE_GRID - 2 : cell;
}

static void tabulate_columns(const resample_motion *m, int columns,
                             double grid_x, resample_columns *t)
{
    const int padded =
        (columns + RESAMPLE_LANES - 1) / RESAMPLE_LANES * RESAMPLE_LANES;
    for (int x = 0; x < padded; x++) {
        /* Columns past the image repeat the last one (never stored). */
        const int column = x < columns ? x : columns - 1;
        const double coordinate = column * grid_x;
        const int cell = grid_cell(coordinate);
        t->fraction[x] = coordinate - cell;
        for (int j = 0; j < RESAMPLE_GRID; j++) {
            t->left_x[j][x] = m->field_x[j][cell];
            t->right_x[j][x] = m->field_x[j][cell + 1];
            t->left_y[j][x] = m->field_y[j][cell];
            t->right_y[j][x] = m->field_y[j][cell + 1];
        }
    }
}

/* The reference's grid_value for the lanes from column x: rows j and j + 1
 * of control points, ay the row's fraction. */
static resample_vector
field_value(const double (*left)[RESAMPLE_PADDED_COLUMNS],
            const double (*right)[RESAMPLE_PADDED_COLUMNS], int j, int x,
            resample_vector ax, resample_vector ay)
{
    const resample_vector one = RESAMPLE_SET1(1.0);
    const resample_vector bx = RESAMPLE_SUB(one, ax);
    const resample_vector top =
        RESAMPLE_ADD(RESAMPLE_MUL(bx, RESAMPLE_LOAD(&left[j][x])),
                     RESAMPLE_MUL(ax, RESAMPLE_LOAD(&right[j][x])));
    const resample_vector bottom =
        RESAMPLE_ADD(RESAMPLE_MUL(bx, RESAMPLE_LOAD(&left[j + 1][x])),
                     RESAMPLE_MUL(ax, RESAMPLE_LOAD(&right[j + 1][x])));
    return RESAMPLE_ADD(RESAMPLE_MUL(RESAMPLE_SUB(one, ay), top),
                        RESAMPLE_MUL(ay, bottom));
}

/* Index of source pixel (px, py), or of the zero after the image when it
 * lies outside. */
static resample_index source_index(resample_index px, resample_index py,
                                   int rows, int columns)
{
    const resample_index minus_one = RESAMPLE_INDEX_SET1(-1);
    const resample_index inside = RESAMPLE_INDEX_AND(
        RESAMPLE_INDEX_AND(
            RESAMPLE_INDEX_GREATER(px, minus_one),
            RESAMPLE_INDEX_GREATER(RESAMPLE_INDEX_SET1(columns), px)),
        RESAMPLE_INDEX_AND(
            RESAMPLE_INDEX_GREATER(py, minus_one),
            RESAMPLE_INDEX_GREATER(RESAMPLE_INDEX_SET1(rows), py)));
    const resample_index at = RESAMPLE_INDEX_ADD(
        RESAMPLE_INDEX_MUL(py, RESAMPLE_INDEX_SET1(columns)), px);
    return RESAMPLE_INDEX_SELECT(inside, at,
                                 RESAMPLE_INDEX_SET1(rows * columns));
}

/* value + (weight_x weight_y) pixel(px, py): one term of the bilinear
 * sum. */
static resample_vector add_corner(resample_vector value,
                                  resample_vector weight_x,
                                  resample_vector weight_y, const double *image,
                                  resample_index px, resample_index py,
                                  int rows, int columns)
{
    return RESAMPLE_ADD(
        value, RESAMPLE_MUL(RESAMPLE_MUL(weight_x, weight_y),
                            RESAMPLE_GATHER(
                                image, source_index(px, py, rows, columns))));
}

void RESAMPLE_NAME(const uint8_t *pixels, int rows, int columns,
                   const resample_motion *m, float *out)
{
    if ((size_t)rows * (size_t)columns > RESAMPLE_MAX_PIXELS ||
        columns > RESAMPLE_MAX_COLUMNS) {
        resample_scalar(pixels, rows, columns, m, out);
        return;
    }
    double image[RESAMPLE_MAX_PIXELS + 1];
    const int n = rows * columns;
    for (int k = 0; k < n; k++)
        image[k] = pixels[k];
    image[n] = 0.0;

    const double grid_x =
        columns > 1 ? (RESAMPLE_GRID - 1.0) / (columns - 1) : 0.0;
    const double grid_y = rows > 1 ? (RESAMPLE_GRID - 1.0) / (rows - 1) : 0.0;
    const double cy = (rows - 1) / 2.0, cx = (columns - 1) / 2.0;
    resample_columns table;
    if (m->elastic)
        tabulate_columns(m, columns, grid_x, &table);

    const resample_vector one = RESAMPLE_SET1(1.0);
    const resample_vector c = RESAMPLE_SET1(m->c), s = RESAMPLE_SET1(m->s);
    const resample_vector minus_s = RESAMPLE_SET1(-m->s);
    const resample_vector shift_x = RESAMPLE_SET1((double)m->shift_x);
    const resample_vector shift_y = RESAMPLE_SET1((double)m->shift_y);
    const resample_vector centre_x = RESAMPLE_SET1(cx);
    const resample_vector centre_y = RESAMPLE_SET1(cy);
    const resample_vector scale = RESAMPLE_SET1(255.0);
    const resample_index one_index = RESAMPLE_INDEX_SET1(1);
    for (int y = 0; y < rows; y++) {
        const double row_coordinate = y * grid_y;
        const int j = grid_cell(row_coordinate);
        const resample_vector ay = RESAMPLE_SET1(row_coordinate - j);
        const resample_vector row = RESAMPLE_SET1((double)y);
        for (int x = 0; x < columns; x += RESAMPLE_LANES) {
            resample_vector ex = RESAMPLE_SET1(0.0), ey = ex;
            if (m->elastic) {
                const resample_vector ax = RESAMPLE_LOAD(&table.fraction[x]);
                ex = field_value(table.left_x, table.right_x, j, x, ax, ay);
                ey = field_value(table.left_y, table.right_y, j, x, ax, ay);
            }
            const resample_vector column = RESAMPLE_COLUMNS(x);
            const resample_vector u = RESAMPLE_SUB(
                RESAMPLE_SUB(RESAMPLE_ADD(column, ex), shift_x), centre_x);
            const resample_vector v = RESAMPLE_SUB(
                RESAMPLE_SUB(RESAMPLE_ADD(row, ey), shift_y), centre_y);
            const resample_vector sx = RESAMPLE_ADD(
                RESAMPLE_ADD(RESAMPLE_MUL(c, u), RESAMPLE_MUL(s, v)), centre_x);
            const resample_vector sy = RESAMPLE_ADD(
                RESAMPLE_ADD(RESAMPLE_MUL(minus_s, u), RESAMPLE_MUL(c, v)),
                centre_y);
            /* The reference's sample(). */
            const resample_vector fx = RESAMPLE_FLOOR(sx),
                                  fy = RESAMPLE_FLOOR(sy);
            const resample_index x0 = RESAMPLE_TRUNCATE(fx);
            const resample_index y0 = RESAMPLE_TRUNCATE(fy);
            const resample_index x1 = RESAMPLE_INDEX_ADD(x0, one_index);
            const resample_index y1 = RESAMPLE_INDEX_ADD(y0, one_index);
            const resample_vector ax = RESAMPLE_SUB(sx, fx);
            const resample_vector ay_source = RESAMPLE_SUB(sy, fy);
            const resample_vector bx = RESAMPLE_SUB(one, ax);
            const resample_vector by = RESAMPLE_SUB(one, ay_source);
            /* The four corners in the reference's order. */
            resample_vector value = RESAMPLE_SET1(0.0);
            value = add_corner(value, bx, by, image, x0, y0, rows, columns);
            value = add_corner(value, ax, by, image, x1, y0, rows, columns);
            value =
                add_corner(value, bx, ay_source, image, x0, y1, rows, columns);
            value =
                add_corner(value, ax, ay_source, image, x1, y1, rows, columns);
            const int left = columns - x;
            RESAMPLE_STORE_FLOATS(
                out + (size_t)y * columns + x, RESAMPLE_DIV(value, scale),
                left < RESAMPLE_LANES ? left : RESAMPLE_LANES);
        }
    }
}

#endif
