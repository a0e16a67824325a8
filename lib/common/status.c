/* Status names and the per-thread detailed error message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"

/* Thread-local so that distinct threads never see each other's failures. */
static _Thread_local char last_error_message[1024];

COSNET_API const char *cosnet_strerror(cosnet_status status)
{
    switch (status) {
    case COSNET_OK: return "success";
    case COSNET_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case COSNET_ERROR_OUT_OF_MEMORY: return "out of memory";
    case COSNET_ERROR_IO: return "input/output error";
    case COSNET_ERROR_BAD_MAGIC: return "bad magic number";
    case COSNET_ERROR_BAD_FORMAT: return "bad format";
    case COSNET_ERROR_TRUNCATED: return "truncated file";
    case COSNET_ERROR_MISMATCH: return "sizes or counts do not agree";
    case COSNET_ERROR_OUT_OF_RANGE: return "value out of range";
    case COSNET_ERROR_OVERFLOW: return "size overflow";
    case COSNET_ERROR_CORRUPT: return "corrupt data";
    case COSNET_ERROR_VERSION: return "unsupported version";
    case COSNET_ERROR_NOT_ENOUGH_DATA: return "not enough data";
    case COSNET_ERROR_NOT_FINITE: return "not a finite number";
    case COSNET_ERROR_GAVE_UP: return "gave up after the allowed attempts";
    case COSNET_ERROR_UNSUPPORTED: return "unsupported";
    case COSNET_ERROR_CANCELLED: return "cancelled";
    case COSNET_ERROR_THREAD: return "thread error";
    }
    return "unknown status";
}

COSNET_API const char *cosnet_last_error(void)
{
    return last_error_message;
}

cosnet_status error_set(cosnet_status status, const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(last_error_message, sizeof last_error_message, format, arguments);
    va_end(arguments);
    return status;
}

cosnet_status error_out_of_memory(const char *what, size_t bytes)
{
    return error_set(COSNET_ERROR_OUT_OF_MEMORY,
                     "out of memory allocating %zu bytes for %s", bytes, what);
}

const char *error_text(int number)
{
    static _Thread_local char text[256];
    /* strerror_r (the POSIX one) because strerror is not thread-safe. */
    if (strerror_r(number, text, sizeof text) != 0)
        snprintf(text, sizeof text, "error %d", number);
    return text;
}
