/* Internal: how the trainer moves one training image (augmentation).
 *
 * A motion is drawn on the training thread, in batch order, from the run's
 * seeded generator; the image is then produced from it on whichever worker
 * computes its piece. The result depends on the motion alone, so any
 * thread count gives the same images. */
#ifndef COSNET_TRAIN_AUGMENT_H
#define COSNET_TRAIN_AUGMENT_H

#include <stdint.h>

#include "kernels/kernels.h"

/* Control points per side of the elastic displacement grid
 * (kernels/resample.h). */
#define AUGMENT_ELASTIC_GRID RESAMPLE_GRID

typedef struct image_motion {
    int dx, dy;     /* whole-pixel shift */
    double angle;   /* rotation about the centre, radians */
    double scale;   /* 1 = unchanged */
    double elastic; /* largest control-point displacement, pixels; 0 = none */
    uint64_t elastic_seed; /* seeds the control points' displacements */
} image_motion;

/* A motion that leaves the image as it is. */
image_motion augment_identity(void);

/* `pixels` (rows x columns bytes, 0..255) moved as `m` says, as floats in
 * [0, 1] into `out` (rows x columns); zeros come in at the border. A
 * rotation, scaling or elastic field samples the source bilinearly at the
 * position each output pixel comes from. */
void augment_image(const kernel_table *kernels, const uint8_t *pixels, int rows,
                   int columns, const image_motion *m, float *out);

#endif
