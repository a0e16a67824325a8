/* labels_magnitudes_scalar: label_magnitude_body.h compiled with the
 * scalar flags of lib/labels/meson.build. */
#include <math.h>

#define LABELS_MAGNITUDE_NAME labels_magnitudes_scalar
#include "labels/label_magnitude_body.h"
