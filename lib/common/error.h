/* Internal: recording the per-thread detailed error message. */
#ifndef COSNET_COMMON_ERROR_H
#define COSNET_COMMON_ERROR_H

#include "cosnet.h"

#if defined(__GNUC__) || defined(__clang__)
#define COSNET_PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define COSNET_PRINTF_LIKE(f, a)
/* strerror for `number`, thread-safe: the text lives in a thread-local
 * buffer valid until the next call on the same thread. */
const char *error_text(int number);

#endif

/* Formats the thread's last-error message and returns `status`, so that a
 * failure path reads: return error_set(COSNET_ERROR_IO, "%s: ...", path); */
cosnet_status error_set(cosnet_status status, const char *format, ...)
    COSNET_PRINTF_LIKE(2, 3);

/* Shorthand for the allocation-failure message. */
cosnet_status error_out_of_memory(const char *what, size_t bytes);

/* strerror for `number`, thread-safe: the text lives in a thread-local
 * buffer valid until the next call on the same thread. */
const char *error_text(int number);

#endif
