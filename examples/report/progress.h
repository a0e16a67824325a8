/* A progress line on a terminal: one line, redrawn in place (carriage
 * return, clear to end of line) with a bar, the percentage, the rate and
 * the time left.
 *
 * Any number of threads may call progress_add at once: counts are added
 * atomically and one drawing thread, started by progress_start, redraws at
 * most ten times a second, so lines never interleave. progress_finish
 * stops it and clears the line. When the descriptor is not a terminal, or
 * `enabled` is 0, nothing is ever written and progress_start returns NULL;
 * every function accepts NULL. */
#ifndef COSNET_REPORT_PROGRESS_H
#define COSNET_REPORT_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

typedef struct progress progress;

/* Starts a progress line on descriptor `fd` (normally STDERR_FILENO).
 * label: e.g. "training"; unit: what is counted per second, e.g.
 * "images/s". Both are copied. total: the count at completion (> 0). */
progress *progress_start(int fd, const char *label, const char *unit,
                         uint64_t total, int enabled);

/* Adds `count` finished items. Thread-safe, lock-free, never blocks. */
void progress_add(progress *line, uint64_t count);

/* Stops the drawing thread, clears the line and frees. */
void progress_finish(progress *line);

/* The terminal's width: ioctl(TIOCGWINSZ) on fd, else $COLUMNS, else 80. */
unsigned progress_terminal_width(int fd);

/* Formats the visible text of one line (no \r, no escape sequences) into
 * out, at most width - 1 characters: "LABEL [####....]  45%  1234 UNIT  ETA
 * 0:03". rate < 0: unknown; eta < 0: unknown. Returns the length. */
size_t progress_format(char *out, size_t size, unsigned width,
                       const char *label, uint64_t done, uint64_t total,
                       double rate, const char *unit, double eta);

#endif /* COSNET_REPORT_PROGRESS_H */
