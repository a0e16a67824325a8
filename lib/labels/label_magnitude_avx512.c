/* labels_magnitudes_avx512: label_magnitude_body.h compiled with the
 * avx512 flags of lib/labels/meson.build. */
#include <math.h>

#define LABELS_MAGNITUDE_NAME labels_magnitudes_avx512
#include "labels/label_magnitude_body.h"
