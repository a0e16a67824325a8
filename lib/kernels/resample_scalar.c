/* The resampling kernel's plain-C reference (resample.h). */
#include <math.h>
#include <stddef.h>

#include "kernels/resample.h"

/* Where one pixel coordinate falls between control points: the cell's
 * first point and the fraction of the way to the next. */
typedef struct grid_position {
    int cell;
    double fraction;
} grid_position;

static grid_position grid_position_of(double coordinate)
{
    int cell = (int)coordinate;
    if (cell > RESAMPLE_GRID - 2)
        cell = RESAMPLE_GRID - 2;
    grid_position p = {cell, coordinate - cell};
    return p;
}

/* Bilinear interpolation of a control-point grid between the points of
 * column position px and row position py. */
static double grid_value(const double grid[RESAMPLE_GRID][RESAMPLE_GRID],
                         grid_position px, grid_position py)
{
    const int i = px.cell, j = py.cell;
    const double ax = px.fraction, ay = py.fraction;
    return (1.0 - ay) * ((1.0 - ax) * grid[j][i] + ax * grid[j][i + 1]) +
           ay * ((1.0 - ax) * grid[j + 1][i] + ax * grid[j + 1][i + 1]);
}

/* The source image at (sx, sy), bilinear, zero outside. */
static double sample(const uint8_t *pixels, int rows, int columns, double sx,
                     double sy)
{
    const double fx = floor(sx), fy = floor(sy);
    const int x0 = (int)fx, y0 = (int)fy;
    const double ax = sx - fx, ay = sy - fy;
    double value = 0.0;
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < 2; i++) {
            const int px = x0 + i, py = y0 + j;
            if (px < 0 || px >= columns || py < 0 || py >= rows)
                continue;
            value += (i ? ax : 1.0 - ax) * (j ? ay : 1.0 - ay) *
                     pixels[py * columns + px];
        }
    return value;
}

void resample_scalar(const uint8_t *pixels, int rows, int columns,
                     const resample_motion *m, float *out)
{
    const double grid_x =
        columns > 1 ? (RESAMPLE_GRID - 1.0) / (columns - 1) : 0.0;
    const double grid_y = rows > 1 ? (RESAMPLE_GRID - 1.0) / (rows - 1) : 0.0;
    const double cy = (rows - 1) / 2.0, cx = (columns - 1) / 2.0;
    for (int y = 0; y < rows; y++) {
        const grid_position row_position = grid_position_of(y * grid_y);
        for (int x = 0; x < columns; x++) {
            /* The source of output (x, y): add the elastic displacement,
             * undo the shift, then the rotation and scaling about the
             * centre. */
            double ex = 0.0, ey = 0.0;
            if (m->elastic) {
                const grid_position px = grid_position_of(x * grid_x);
                ex = grid_value(m->field_x, px, row_position);
                ey = grid_value(m->field_y, px, row_position);
            }
            const double u = x + ex - m->shift_x - cx;
            const double v = y + ey - m->shift_y - cy;
            const double sx = m->c * u + m->s * v + cx;
            const double sy = -m->s * u + m->c * v + cy;
            out[y * columns + x] =
                (float)(sample(pixels, rows, columns, sx, sy) / 255.0);
        }
    }
}
