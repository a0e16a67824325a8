/* Internal: reading IDX files (raw or gzip) into memory and checking their
 * headers. */
#ifndef COSNET_DATA_IDX_H
#define COSNET_DATA_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "cosnet.h"

/* The largest (decompressed) file accepted: far above MNIST's 47 MB, and low
 * enough that a hostile or broken file cannot make us allocate without
 * bound. */
#define IDX_MAX_FILE_BYTES ((size_t)1 << 30)

/* Reads the whole of `path` into a new buffer, decompressing it if its
 * first bytes are the gzip magic 1f 8b (several concatenated gzip members
 * are read as one stream; anything else after a member is CORRUPT). The
 * buffer grows as data actually arrives, so nothing declared by the file
 * decides how much is allocated. (The dataset reads through idx_load, which
 * sizes its buffer from the checked IDX header instead.)
 * max_bytes: decompressed size limit (OVERFLOW beyond it).
 * bytes_out: receives a buffer from memory_allocate (freed with memory_free);
 * size_out its size; was_compressed (may be NULL) whether the file was gzip.
 * Returns COSNET_OK, IO, CORRUPT, TRUNCATED (gzip stream cut short),
 * OVERFLOW or OUT_OF_MEMORY. */
cosnet_status idx_read_file(const char *path, size_t max_bytes,
                            uint8_t **bytes_out, size_t *size_out,
                            int *was_compressed);

/* What an IDX header of unsigned bytes says. */
typedef struct idx_layout {
    unsigned dimension_count; /* 1 (labels) or 3 (images) */
    size_t dimensions[3];     /* N, then rows and columns for images */
    size_t header_bytes;      /* 4 + 4 * dimension_count */
    size_t element_count;     /* product of the dimensions */
} idx_layout;

/* Checks the `size` bytes of an IDX file's contents: magic 00 00 08 0D with D
 * = expected_dimensions (1 or 3), non-zero dimensions, a total that fits
 * size_t, and exactly as many data bytes as declared. path and
 * was_compressed only shape messages.
 * Returns COSNET_OK, BAD_MAGIC, BAD_FORMAT, TRUNCATED or OVERFLOW. */
cosnet_status idx_parse(const char *path, const uint8_t *bytes, size_t size,
                        int was_compressed, unsigned expected_dimensions,
                        idx_layout *layout);

/* A loaded and checked IDX file. */
typedef struct idx_contents {
    uint8_t *storage;    /* the whole decompressed file, owned */
    const uint8_t *data; /* the elements, just after the header */
    idx_layout layout;
} idx_contents;

/* Loads an IDX file (raw or gzip, told apart by content) with resource
 * bounds: the header is read and checked first (magic, non-zero
 * dimensions, a total that fits size_t); the declared total must then
 * equal a raw file's size (TRUNCATED / BAD_FORMAT otherwise), be at most
 * IDX_MAX_FILE_BYTES (OVERFLOW), and for gzip at most the compressed
 * size times 1032, deflate's largest ratio (TRUNCATED). Only then is the
 * declared total allocated: at once for a regular file, growing as data
 * arrives for a pipe. The contents must end exactly there: fewer bytes is
 * TRUNCATED, more is BAD_FORMAT (counted by reading on without storing).
 * zlib's own state is allocated through memory_* as well.
 * On failure *out is untouched and nothing is left allocated. */
cosnet_status idx_load(const char *path, unsigned expected_dimensions,
                       idx_contents *out);

/* Frees what idx_load allocated; safe on a zeroed struct. */
void idx_release(idx_contents *contents);

#endif
