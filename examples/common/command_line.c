/* The example programs' shared option helpers (command_line.h). */
#include "command_line.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int command_line_usage_error(const char *program, const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    fprintf(stderr, "%s: ", program);
    vfprintf(stderr, format, arguments);
    fprintf(stderr, "\nTry '%s --help'.\n", program);
    va_end(arguments);
    return COMMAND_LINE_EXIT_USAGE;
}

int command_line_whole(const char *text, uint64_t max, uint64_t *value)
{
    if (!*text)
        return 0;
    uint64_t result = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        unsigned digit = (unsigned)(*p - '0');
        if (result > (max - digit) / 10)
            return 0;
        result = result * 10 + digit;
    }
    *value = result;
    return 1;
}

int command_line_finish_output(const char *program)
{
    errno = 0;
    int flushed = fflush(stdout) == 0;
    int saved = errno;
    if (flushed && !ferror(stdout))
        return 0;
    /* An earlier write may have failed with the buffer since emptied: then
     * errno says nothing about it. */
    fprintf(stderr, "%s: cannot write standard output: %s\n", program,
            !flushed && saved ? strerror(saved) : "a write failed");
    return 1;
}
