/* What the example programs' option parsers share: the usage error (the
 * message, a pointer to --help, exit status 2) and whole-number values. */
#ifndef COSNET_EXAMPLES_COMMAND_LINE_H
#define COSNET_EXAMPLES_COMMAND_LINE_H

#include <stdint.h>

/* The exit status of a usage error. */
#define COMMAND_LINE_EXIT_USAGE 2

/* Prints "PROGRAM: message" and "Try 'PROGRAM --help'." to stderr; returns
 * COMMAND_LINE_EXIT_USAGE. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
int command_line_usage_error(const char *program, const char *format, ...);

/* Reads decimal digits only (no sign, no spaces) into *value, at most
 * `max`. Returns 1, or 0 for anything else (*value untouched). */
int command_line_whole(const char *text, uint64_t max, uint64_t *value);

/* Flushes stdout and says so when something written to it was lost (a full
 * disk, a closed pipe): "PROGRAM: cannot write standard output: REASON" on
 * stderr. Returns 0, or 1 (the exit status of a failure). Every program
 * calls it before it exits 0. */
int command_line_finish_output(const char *program);

#endif
