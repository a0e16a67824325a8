/* thread_start and its failure-injection hook (see thread.h). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/thread.h"

static atomic_ulong starts_seen;
static atomic_ulong fail_from; /* 0 = never */

unsigned long thread_fail_after(unsigned long n)
{
    unsigned long seen = atomic_exchange(&starts_seen, 0);
    atomic_store(&fail_from, n);
    return seen;
}

/* Stack of the library's threads, at least: the convolution kernels keep
 * up to 96 KB of Winograd buffers on the stack, and some platforms' default
 * (musl: 128 KB) leaves too little room above that. */
#define THREAD_STACK_BYTES ((size_t)1 << 20)

/* pthread_create with a stack of at least THREAD_STACK_BYTES (the
 * platform's default when larger). Returns 0 or an errno value. */
static int create_with_stack(pthread_t *thread, void *(*run)(void *),
                             void *argument)
{
    pthread_attr_t attributes;
    int failure = pthread_attr_init(&attributes);
    if (failure != 0)
        return failure;
    size_t size = 0;
    failure = pthread_attr_getstacksize(&attributes, &size);
    if (failure == 0 && size < THREAD_STACK_BYTES)
        failure = pthread_attr_setstacksize(&attributes, THREAD_STACK_BYTES);
    if (failure == 0)
        failure = pthread_create(thread, &attributes, run, argument);
    pthread_attr_destroy(&attributes);
    return failure;
}

cosnet_status thread_start(pthread_t *thread, void *(*run)(void *),
                           void *argument, const char *what)
{
    if (!thread || !run)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT, "thread_start: NULL %s",
                         !thread ? "thread" : "run");
    if (!what)
        what = "a worker";
    unsigned long seen = atomic_fetch_add(&starts_seen, 1) + 1;
    unsigned long from = atomic_load(&fail_from);
    int failure = from != 0 && seen >= from ? EAGAIN : 0;
    pthread_t started;
    if (failure == 0)
        failure = create_with_stack(&started, run, argument);
    if (failure != 0) {
        char reason[128];
        /* strerror_r (POSIX) because strerror is not thread-safe. */
        if (strerror_r(failure, reason, sizeof reason) != 0)
            snprintf(reason, sizeof reason, "error %d", failure);
        return error_set(COSNET_ERROR_THREAD,
                         "cannot start a thread for %s: %s", what, reason);
    }
    *thread = started;
    return COSNET_OK;
}
