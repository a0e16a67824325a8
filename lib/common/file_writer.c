/* Writes a file through a temporary name (see file_writer.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/file_writer.h"
#include "common/memory.h"

cosnet_status file_write_atomic(const char *path, const void *data, size_t size)
{
    const size_t length = strlen(path);
    char *temporary = memory_allocate(length + 32);
    if (!temporary)
        return error_out_of_memory("temporary file name", length + 32);
    snprintf(temporary, length + 32, "%s.tmp.%ld", path, (long)getpid());
    int descriptor =
        open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
    cosnet_status status = COSNET_OK;
    if (descriptor < 0) {
        status = error_set(COSNET_ERROR_IO, "%s: cannot create %s: %s", path,
                           temporary, error_text(errno));
        memory_free(temporary);
        return status;
    }
    const unsigned char *at = data;
    size_t left = size;
    while (left > 0 && status == COSNET_OK) {
        ssize_t wrote = write(descriptor, at, left);
        if (wrote < 0 && errno == EINTR)
            continue;
        if (wrote <= 0)
            status = error_set(COSNET_ERROR_IO, "%s: write failed: %s",
                               temporary, error_text(errno));
        else
            at += wrote, left -= (size_t)wrote;
    }
    if (status == COSNET_OK && fsync(descriptor) != 0)
        status = error_set(COSNET_ERROR_IO, "%s: fsync failed: %s", temporary,
                           error_text(errno));
    if (close(descriptor) != 0 && status == COSNET_OK)
        status = error_set(COSNET_ERROR_IO, "%s: close failed: %s", temporary,
                           error_text(errno));
    if (status == COSNET_OK && rename(temporary, path) != 0)
        status = error_set(COSNET_ERROR_IO, "%s: cannot rename %s: %s", path,
                           temporary, error_text(errno));
    if (status != COSNET_OK)
        unlink(temporary);
    memory_free(temporary);
    return status;
}
