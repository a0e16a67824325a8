/* Augmentation of training images: shifts, rotations, scaling and a smooth
 * random (elastic) displacement field.
 *
 * The elastic field follows the idea of Simard, Steinkraus and Platt
 * (ICDAR 2003): every pixel is displaced by a smooth random vector field.
 * Instead of smoothing a per-pixel random field with a Gaussian (about
 * 80,000 operations per 28 x 28 image), the field here is the bilinear
 * interpolation of random displacements at a 5 x 5 grid of control points:
 * 50 random numbers and a few operations per pixel. */
#include <math.h>
#include <stddef.h>

#include "common/rng.h"
#include "train/augment.h"

/* Columns whose grid positions fit the table on the stack; wider images
 * compute them per pixel. */
#define AUGMENT_MAX_SIDE 256

image_motion augment_identity(void)
{
    image_motion m = {0, 0, 0.0, 1.0, 0.0, 0};
    return m;
}

/* One displacement component at every control point, [row][column]. */
typedef double elastic_grid[AUGMENT_ELASTIC_GRID][AUGMENT_ELASTIC_GRID];

/* The elastic displacement of every control point. */
static void elastic_control_points(const image_motion *m, elastic_grid dx,
                                   elastic_grid dy)
{
    random_generator generator;
    random_seed(&generator, m->elastic_seed);
    for (int j = 0; j < AUGMENT_ELASTIC_GRID; j++)
        for (int i = 0; i < AUGMENT_ELASTIC_GRID; i++) {
            dx[j][i] = (2.0 * random_uniform(&generator) - 1.0) * m->elastic;
            dy[j][i] = (2.0 * random_uniform(&generator) - 1.0) * m->elastic;
        }
}

/* Where one pixel coordinate falls between control points: the cell's
 * first point and the fraction of the way to the next. */
typedef struct grid_position {
    int cell;
    double fraction;
} grid_position;

static grid_position grid_position_of(double coordinate)
{
    int cell = (int)coordinate;
    if (cell > AUGMENT_ELASTIC_GRID - 2)
        cell = AUGMENT_ELASTIC_GRID - 2;
    grid_position p = {cell, coordinate - cell};
    return p;
}

/* Bilinear interpolation of a control-point grid between the points of
 * column position px and row position py. */
static double grid_value(const elastic_grid grid, grid_position px,
                         grid_position py)
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

void augment_image(const kernel_table *kernels, const uint8_t *pixels, int rows,
                   int columns, const image_motion *m, float *out)
{
    if (m->angle == 0.0 && m->scale == 1.0 && m->elastic == 0.0) {
        if (m->dx == 0 && m->dy == 0) {
            kernels->pixels_to_float((size_t)rows * columns, pixels, out);
            return;
        }
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < columns; x++) {
                const int sy = y - m->dy, sx = x - m->dx;
                out[y * columns + x] =
                    sy >= 0 && sy < rows && sx >= 0 && sx < columns
                        ? (float)pixels[sy * columns + sx] / 255.0f
                        : 0.0f;
            }
        return;
    }
    elastic_grid field_x = {{0}}, field_y = {{0}};
    if (m->elastic > 0.0)
        elastic_control_points(m, field_x, field_y);
    const double grid_x =
        columns > 1 ? (AUGMENT_ELASTIC_GRID - 1.0) / (columns - 1) : 0.0;
    const double grid_y =
        rows > 1 ? (AUGMENT_ELASTIC_GRID - 1.0) / (rows - 1) : 0.0;
    const double cy = (rows - 1) / 2.0, cx = (columns - 1) / 2.0;
    const double c = cos(m->angle) / m->scale, s = sin(m->angle) / m->scale;
    /* Grid positions once per column and row, not twice per pixel. */
    grid_position column_position[AUGMENT_MAX_SIDE];
    const int tabulated = m->elastic > 0.0 && columns <= AUGMENT_MAX_SIDE;
    if (tabulated)
        for (int x = 0; x < columns; x++)
            column_position[x] = grid_position_of(x * grid_x);
    for (int y = 0; y < rows; y++) {
        const grid_position row_position = grid_position_of(y * grid_y);
        for (int x = 0; x < columns; x++) {
            /* The source of output (x, y): add the elastic displacement,
             * undo the shift, then the rotation and scaling about the
             * centre. */
            double ex = 0.0, ey = 0.0;
            if (m->elastic > 0.0) {
                const grid_position px = tabulated
                                             ? column_position[x]
                                             : grid_position_of(x * grid_x);
                ex = grid_value(field_x, px, row_position);
                ey = grid_value(field_y, px, row_position);
            }
            const double u = x + ex - m->dx - cx, v = y + ey - m->dy - cy;
            const double sx = c * u + s * v + cx, sy = -s * u + c * v + cy;
            out[y * columns + x] =
                (float)(sample(pixels, rows, columns, sx, sy) / 255.0);
        }
    }
}
