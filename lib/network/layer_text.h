/* Internal: layer lists written as text ("conv3x3 16 pad 1, relu, ..."). */
#ifndef COSNET_NETWORK_LAYER_TEXT_H
#define COSNET_NETWORK_LAYER_TEXT_H

#include <stddef.h>

#include "network/architecture.h"

/* Parses `text` into at most ARCHITECTURE_MAX_LAYERS specs. Returns
 * COSNET_OK or BAD_FORMAT naming the layer that cannot be read. The list
 * is not validated here (architecture_build does that). */
cosnet_status layer_text_parse(const char *text, layer_spec *specs,
                               size_t *count);

/* The text form of a list, truncated to fit `size` bytes (NUL-terminated);
 * a list of 32 layers needs at most 32 * 28 bytes. */
void layer_text_format(const layer_spec *specs, size_t count, char *out,
                       size_t size);

#endif
