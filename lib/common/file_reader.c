/* Reading a whole file into memory, bounded (see file_reader.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "common/error.h"
#include "common/file_reader.h"
#include "common/memory.h"

static cosnet_status too_large(const char *path, size_t limit)
{
    return error_set(COSNET_ERROR_OVERFLOW,
                     "%s: more than %zu bytes, larger than any file of this "
                     "kind",
                     path, limit);
}

/* Reads a whole file of at most `limit` bytes (thread-safe messages). */
cosnet_status file_read_whole(const char *path, size_t limit,
                              unsigned char **bytes_out, size_t *size_out)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return error_set(COSNET_ERROR_IO, "%s: cannot open: %s", path,
                         error_text(errno));
    size_t capacity = 4096, size = 0;
    struct stat info;
    if (fstat(fileno(file), &info) == 0 && S_ISREG(info.st_mode) &&
        info.st_size >= 0) {
        /* A regular file's size is known: too large is refused unread. */
        if ((uint64_t)info.st_size > (uint64_t)limit) {
            fclose(file);
            return too_large(path, limit);
        }
        capacity = (size_t)info.st_size + 1;
    }
    unsigned char *bytes = memory_allocate(capacity);
    cosnet_status status = COSNET_OK;
    if (!bytes)
        status = error_out_of_memory(path, capacity);
    while (status == COSNET_OK) {
        if (size == capacity) {
            /* One byte past the limit is enough to know it is exceeded. */
            if (size > limit) {
                status = too_large(path, limit);
                break;
            }
            size_t grown = capacity <= limit / 2 ? capacity * 2 : limit + 1;
            unsigned char *bigger = memory_reallocate(bytes, grown);
            if (!bigger) {
                status = error_out_of_memory(path, grown);
                break;
            }
            bytes = bigger, capacity = grown;
        }
        size_t got = fread(bytes + size, 1, capacity - size, file);
        size += got;
        if (got == 0) {
            if (ferror(file))
                status = error_set(COSNET_ERROR_IO,
                                   "%s: read failed at byte %zu: %s", path,
                                   size, error_text(errno));
            break;
        }
    }
    if (status == COSNET_OK && size > limit)
        status = too_large(path, limit);
    fclose(file);
    if (status != COSNET_OK) {
        memory_free(bytes);
        return status;
    }
    *bytes_out = bytes;
    *size_out = size;
    return COSNET_OK;
}
