/* Internal: the one way the library writes a file. */
#ifndef COSNET_COMMON_FILE_WRITER_H
#define COSNET_COMMON_FILE_WRITER_H

#include <stddef.h>

#include "cosnet.h"

/* Writes `size` bytes to `path` through a temporary file in the same
 * folder, fsynced and renamed into place. Returns COSNET_OK or IO. */
cosnet_status file_write_atomic(const char *path, const void *data,
                                size_t size);

#endif
