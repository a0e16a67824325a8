/* Internal: reading a whole file into memory, bounded. */
#ifndef COSNET_COMMON_FILE_READER_H
#define COSNET_COMMON_FILE_READER_H

#include <stddef.h>

#include "cosnet.h"

/* Reads all of `path` (at most `limit` bytes; more is OVERFLOW, found
 * without reading a regular file, and after limit + 1 bytes of anything
 * else) into a buffer from memory_allocate that the caller frees with
 * memory_free. The buffer grows with what is actually read, so a header
 * cannot make it allocate more than the file holds. Returns COSNET_OK, IO
 * (message with the thread-safe system reason), OVERFLOW or
 * OUT_OF_MEMORY. */
cosnet_status file_read_whole(const char *path, size_t limit,
                              unsigned char **bytes, size_t *size);

#endif
