/* labels_magnitudes_avx2: label_magnitude_body.h compiled with the
 * avx2 flags of lib/labels/meson.build. */
#include <math.h>

#define LABELS_MAGNITUDE_NAME labels_magnitudes_avx2
#include "labels/label_magnitude_body.h"
