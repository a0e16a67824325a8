/* Internal: the one way libcosnet and its programs write a whole file.
 *
 * file_write_atomic(path, data, size) makes `path` hold exactly `data`, so
 * that a reader -- or a crash, a kill -9 or a power cut at any moment --
 * sees either the old file (or none) or the complete new one:
 *
 *   1. a temporary file ".NAME.cosnet-tmp.PID.N" is created in the target's
 *      own folder with open(O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666),
 *      so its mode is what the caller's umask gives (0644 under umask 022,
 *      0600 under 077), whatever mode an older file had;
 *   2. all bytes are written (short writes and EINTR retried) and the file
 *      is fsync'd;
 *   3. it is renamed over NAME and the folder is fsync'd, so the rename
 *      itself is on disk when the call returns.
 * Before step 1, temporary files of the same target left by processes that
 * no longer exist (kill(PID, 0) fails with ESRCH) are removed, so saves
 * killed half-way never accumulate. Temporaries of live processes, this
 * one included, are never touched.
 *
 * Special targets:
 *   - a symbolic link is kept: the chain of links is followed to the final
 *     name, and that file is replaced atomically (it is created if the link
 *     dangles);
 *   - an existing target that is not a regular file (a FIFO, a character
 *     device such as /dev/null or a tty, /dev/stdout when it is a pipe or a
 *     terminal) is written straight into: opened O_WRONLY | O_TRUNC, no
 *     temporary file, no rename, no fsync. A special file is never replaced
 *     by a regular one. Opening a FIFO waits for a reader, as any writer
 *     would;
 *   - a folder is refused (the rename fails: EISDIR).
 *
 * Every failure returns COSNET_ERROR_IO with a message naming the path, the
 * step that failed and the system's reason (from the thread-safe POSIX
 * strerror_r), and leaves no temporary file behind. A failure after the
 * rename (the folder's fsync) leaves the new file in place.
 *
 * The file depends on nothing but libc and cosnet.h's status codes, so the
 * example programs compile it into themselves: they call
 * file_write_atomic_message, which puts the message into a caller's buffer.
 * Inside the library (COSNET_BUILDING_LIBRARY), file_write_atomic also
 * records it as the thread's cosnet_last_error(). */
#ifndef COSNET_COMMON_FILE_WRITER_H
#define COSNET_COMMON_FILE_WRITER_H

#include <stddef.h>

#include "cosnet.h"

/* Room for any message file_write_atomic_message writes. */
#define FILE_WRITE_MESSAGE_SIZE 1024

/* Writes `size` bytes of `data` to `path` as described above. On failure,
 * `message` (message_size bytes, may be NULL if message_size is 0)
 * receives a NUL-terminated description. Returns COSNET_OK, IO, or
 * INVALID_ARGUMENT (path NULL or empty, data NULL with size > 0). */
cosnet_status file_write_atomic_message(const char *path, const void *data,
                                        size_t size, char *message,
                                        size_t message_size);

/* Checks, without touching `path`, that a write to it can start: for a
 * special file that this process may write it (access W_OK); for a regular
 * or missing one that a temporary file can be created (and is removed) in
 * the folder where the write would create it, and that it is not a
 * folder. For programs that want to fail before long work, not after.
 * Returns COSNET_OK, IO or INVALID_ARGUMENT, with `message` as above. */
cosnet_status file_write_check_message(const char *path, char *message,
                                       size_t message_size);

/* As file_write_atomic_message; the message goes to cosnet_last_error().
 * Defined in the library build only (COSNET_BUILDING_LIBRARY), where
 * common/error.h is at hand. */
cosnet_status file_write_atomic(const char *path, const void *data,
                                size_t size);

#endif
