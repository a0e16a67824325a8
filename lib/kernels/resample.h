/* Internal: bilinear resampling of a byte image along a smooth motion, the
 * inner loop of the trainer's augmentation (lib/train/augment.c) as a
 * kernel.
 *
 * Output pixel (x, y) comes from the source position
 *
 *   u = x + ex(x, y) - shift_x - centre_x,  v = y + ey(x, y) - shift_y -
 * centre_y source_x = c u + s v + centre_x,  source_y = -s u + c v + centre_y
 *
 * where (ex, ey) is the elastic field: the bilinear interpolation of
 * displacements given at a RESAMPLE_GRID x RESAMPLE_GRID grid of control
 * points spread evenly over the image. The source is read bilinearly, zero
 * outside, and divided by 255.
 *
 * Every variant computes in double with the reference's operations in the
 * reference's order (the SIMD files are compiled without contracting
 * multiply-adds), so every variant gives the reference's bits: an image is
 * augmented the same way on any CPU. */
#ifndef COSNET_KERNELS_RESAMPLE_H
#define COSNET_KERNELS_RESAMPLE_H

#include <stdint.h>

/* Control points per side of the elastic field: 5 x 5 points about 7
 * pixels apart on a 28 x 28 image, so the field bends strokes without
 * tearing them. */
#define RESAMPLE_GRID 5

typedef struct resample_motion {
    double c, s; /* cos(angle) / scale, sin(angle) / scale */
    int shift_x, shift_y;
    int elastic; /* 0: no field (ex = ey = 0) */
    /* The field's displacements at the control points, [row][column]. */
    double field_x[RESAMPLE_GRID][RESAMPLE_GRID];
    double field_y[RESAMPLE_GRID][RESAMPLE_GRID];
} resample_motion;

/* `pixels` (rows x columns bytes) moved by `motion` into out (rows x
 * columns floats in [0, 1]). rows and columns >= 1. */
typedef void (*resample_kernel)(const uint8_t *pixels, int rows, int columns,
                                const resample_motion *motion, float *out);

void resample_scalar(const uint8_t *, int, int, const resample_motion *,
                     float *);
void resample_avx2(const uint8_t *, int, int, const resample_motion *, float *);
void resample_avx512(const uint8_t *, int, int, const resample_motion *,
                     float *);

#endif
