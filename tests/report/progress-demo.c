/* Drives a progress line from several threads, for check_progress_pty.py:
 *   progress-demo THREADS STEPS MICROSECONDS [--quiet]
 * Each thread adds 1 per step, sleeping between steps; then "done" goes to
 * stdout. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

static progress *line;
static long steps, pause_us;

static void *worker(void *argument)
{
    (void)argument;
    struct timespec pause = {pause_us / 1000000, (pause_us % 1000000) * 1000};
    for (long i = 0; i < steps; i++) {
        nanosleep(&pause, NULL);
        progress_add(line, 1);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: progress-demo THREADS STEPS MICROSECONDS "
                        "[--quiet]\n");
        return 2;
    }
    int threads = atoi(argv[1]);
    steps = atol(argv[2]);
    pause_us = atol(argv[3]);
    int quiet = argc > 4 && strcmp(argv[4], "--quiet") == 0;
    if (threads < 1 || threads > 64)
        return 2;
    line = progress_start(STDERR_FILENO, "training", "images/s",
                          (uint64_t)threads * (uint64_t)steps, !quiet);
    pthread_t handles[64];
    for (int t = 0; t < threads; t++)
        pthread_create(&handles[t], NULL, worker, NULL);
    for (int t = 0; t < threads; t++)
        pthread_join(handles[t], NULL);
    progress_finish(line);
    printf("done\n");
    return 0;
}
