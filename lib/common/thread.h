/* Internal: starting threads, with a failure-injection hook for tests (the
 * thread counterpart of memory_fail_after), so that every path that handles
 * a thread that could not start can be exercised. */
#ifndef COSNET_COMMON_THREAD_H
#define COSNET_COMMON_THREAD_H

#include <pthread.h>

#include "cosnet.h"

/* Starts `run(argument)` on a new thread whose stack is at least 1 MB
 * (the platform's default when larger: the kernels keep up to 96 KB of
 * buffers on the stack).
 * thread: receives the handle (joined by the caller) on success only.
 * what: names the work in the message, e.g. "cosnet_evaluate worker 2 of 4".
 * Returns COSNET_OK, or COSNET_ERROR_THREAD with a message naming `what`
 * and the system's reason; *thread is then untouched. */
cosnet_status thread_start(pthread_t *thread, void *(*run)(void *),
                           void *argument, const char *what);

/* Test hook: when n > 0, the n-th thread_start from now (1-based) and every
 * later one fail (EAGAIN, as when the system is out of threads) until the
 * hook is set again; 0 switches failures off. Returns how many starts were
 * attempted since the last call. Not thread-safe: tests call it with no
 * other libcosnet call running. */
unsigned long thread_fail_after(unsigned long n);

#endif
