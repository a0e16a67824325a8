/* The progress line: an atomic counter fed by any thread, one drawing
 * thread waking every 100 ms. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "progress.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_PERIOD_NS 100000000L /* 10 redraws a second at most */

struct progress {
    int fd;
    char label[64], unit[32];
    uint64_t total;
    atomic_uint_least64_t done;
    struct timespec started;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop;
    int drawn; /* something is on the line */
};

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) +
           (double)(now.tv_nsec - start->tv_nsec) * 1e-9;
}

unsigned progress_terminal_width(int fd)
{
    struct winsize size;
    if (ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0)
        return size.ws_col;
    const char *columns = getenv("COLUMNS");
    if (columns && *columns) {
        char *end;
        long value = strtol(columns, &end, 10);
        if (*end == '\0' && value > 0 && value < 10000)
            return (unsigned)value;
    }
    return 80;
}

static void format_duration(char *out, size_t size, double seconds)
{
    if (!(seconds >= 0) || seconds > 359999) {
        snprintf(out, size, "--:--");
        return;
    }
    unsigned long whole = (unsigned long)(seconds + 0.5);
    if (whole >= 3600)
        snprintf(out, size, "%lu:%02lu:%02lu", whole / 3600, whole / 60 % 60,
                 whole % 60);
    else
        snprintf(out, size, "%lu:%02lu", whole / 60, whole % 60);
}

size_t progress_format(char *out, size_t size, unsigned width,
                       const char *label, uint64_t done, uint64_t total,
                       double rate, const char *unit, double eta)
{
    if (size == 0)
        return 0;
    if (done > total)
        done = total;
    double fraction = total ? (double)done / (double)total : 1.0;
    char eta_text[32], rate_text[48], tail[128];
    format_duration(eta_text, sizeof eta_text, eta);
    if (rate >= 0)
        snprintf(rate_text, sizeof rate_text, "%.0f %s", rate, unit);
    else
        snprintf(rate_text, sizeof rate_text, "- %s", unit);
    snprintf(tail, sizeof tail, " %3u%%  %s  ETA %s",
             (unsigned)(fraction * 100.0), rate_text, eta_text);
    size_t limit = width > 1 ? width - 1 : 0; /* never the last column */
    if (limit >= size)
        limit = size - 1;
    size_t label_length = strlen(label), tail_length = strlen(tail);
    /* Bar between "LABEL [" and "]" when at least 10 cells fit. */
    size_t fixed = label_length + 3 + tail_length;
    char line[1024];
    size_t length;
    if (limit > fixed + 10) {
        size_t cells = limit - fixed;
        if (cells > 50)
            cells = 50;
        if (cells > sizeof line - fixed - 1)
            cells = sizeof line - fixed - 1;
        size_t full = (size_t)(fraction * (double)cells);
        length = (size_t)snprintf(line, sizeof line, "%s [", label);
        for (size_t i = 0; i < cells; i++)
            line[length++] = i < full ? '#' : '.';
        line[length++] = ']';
        memcpy(line + length, tail, tail_length + 1);
        length += tail_length;
    } else {
        /* Narrow: the percentage and the ETA matter most. The rate goes
         * first, then the label is shortened to what is left. */
        char short_tail[64];
        snprintf(short_tail, sizeof short_tail, " %3u%%  ETA %s",
                 (unsigned)(fraction * 100.0), eta_text);
        const char *end =
            label_length + tail_length <= limit ? tail : short_tail;
        size_t end_length = strlen(end);
        size_t keep = limit > end_length ? limit - end_length : 0;
        if (keep > label_length)
            keep = label_length;
        length = (size_t)snprintf(line, sizeof line, "%.*s%s", (int)keep, label,
                                  end);
        if (length >= sizeof line)
            length = sizeof line - 1;
    }
    if (length > limit)
        length = limit;
    memcpy(out, line, length);
    out[length] = '\0';
    return length;
}

static void write_all(int fd, const char *text, size_t length)
{
    while (length > 0) {
        ssize_t written = write(fd, text, length);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            return;
        text += written;
        length -= (size_t)written;
    }
}

static void draw(progress *line)
{
    uint64_t done = atomic_load(&line->done);
    double elapsed = seconds_since(&line->started);
    double rate = elapsed > 0.05 ? (double)done / elapsed : -1.0;
    double eta = rate > 0 && done < line->total
                     ? (double)(line->total - done) / rate
                     : (done >= line->total ? 0.0 : -1.0);
    char text[1024 + 8];
    text[0] = '\r';
    size_t length =
        1 + progress_format(text + 1, sizeof text - 8,
                            progress_terminal_width(line->fd), line->label,
                            done, line->total, rate, line->unit, eta);
    memcpy(text + length, "\033[K", 3); /* clear what a longer line left */
    write_all(line->fd, text, length + 3);
    line->drawn = 1;
}

static void *drawing_thread(void *argument)
{
    progress *line = argument;
    pthread_mutex_lock(&line->lock);
    while (!line->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += PROGRESS_PERIOD_NS;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        int status = 0;
        while (!line->stop && status != ETIMEDOUT)
            status = pthread_cond_timedwait(&line->wake, &line->lock, &until);
        if (!line->stop)
            draw(line);
    }
    pthread_mutex_unlock(&line->lock);
    return NULL;
}

progress *progress_start(int fd, const char *label, const char *unit,
                         uint64_t total, int enabled)
{
    if (!enabled || !isatty(fd))
        return NULL;
    progress *line = calloc(1, sizeof *line);
    if (!line)
        return NULL;
    line->fd = fd;
    snprintf(line->label, sizeof line->label, "%s", label);
    snprintf(line->unit, sizeof line->unit, "%s", unit);
    line->total = total;
    atomic_init(&line->done, 0);
    clock_gettime(CLOCK_MONOTONIC, &line->started);
    if (pthread_mutex_init(&line->lock, NULL) != 0) {
        free(line);
        return NULL;
    }
    if (pthread_cond_init(&line->wake, NULL) != 0) {
        pthread_mutex_destroy(&line->lock);
        free(line);
        return NULL;
    }
    if (pthread_create(&line->thread, NULL, drawing_thread, line) != 0) {
        pthread_cond_destroy(&line->wake);
        pthread_mutex_destroy(&line->lock);
        free(line);
        return NULL; /* no progress line is no failure */
    }
    return line;
}

void progress_add(progress *line, uint64_t count)
{
    if (line)
        atomic_fetch_add(&line->done, count);
}

void progress_finish(progress *line)
{
    if (!line)
        return;
    pthread_mutex_lock(&line->lock);
    line->stop = 1;
    pthread_cond_signal(&line->wake);
    pthread_mutex_unlock(&line->lock);
    pthread_join(line->thread, NULL);
    if (line->drawn)
        write_all(line->fd, "\r\033[K", 4);
    pthread_cond_destroy(&line->wake);
    pthread_mutex_destroy(&line->lock);
    free(line);
}
