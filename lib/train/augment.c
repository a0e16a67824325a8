/* Augmentation of training images: shifts, rotations, scaling and a smooth
 * random (elastic) displacement field.
 *
 * The elastic field follows the idea of Simard, Steinkraus and Platt
 * (ICDAR 2003): every pixel is displaced by a smooth random vector field.
 * Instead of smoothing a per-pixel random field with a Gaussian (about
 * 80,000 operations per 28 x 28 image), the field here is the bilinear
 * interpolation of random displacements at a 5 x 5 grid of control points:
 * 50 random numbers and a few operations per pixel. The resampling
 * itself is a kernel (kernels/resample.h). */
#include <math.h>
#include <stddef.h>

#include "common/rng.h"
#include "train/augment.h"

image_motion augment_identity(void)
{
    image_motion m = {0, 0, 0.0, 1.0, 0.0, 0};
    return m;
}

/* The elastic displacement of every control point. */
static void elastic_control_points(const image_motion *m,
                                   resample_motion *resample)
{
    random_generator generator;
    random_seed(&generator, m->elastic_seed);
    for (int j = 0; j < AUGMENT_ELASTIC_GRID; j++)
        for (int i = 0; i < AUGMENT_ELASTIC_GRID; i++) {
            resample->field_x[j][i] =
                (2.0 * random_uniform(&generator) - 1.0) * m->elastic;
            resample->field_y[j][i] =
                (2.0 * random_uniform(&generator) - 1.0) * m->elastic;
        }
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
    resample_motion resample = {
        .c = cos(m->angle) / m->scale,
        .s = sin(m->angle) / m->scale,
        .shift_x = m->dx,
        .shift_y = m->dy,
        .elastic = m->elastic > 0.0,
    };
    if (resample.elastic)
        elastic_control_points(m, &resample);
    kernels->resample(pixels, rows, columns, &resample, out);
}
