/* Unit tests of status names, the thread-local error message, the version
 * query and the ISA report. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cosnet.h"

enum { status_count = 18 }; /* COSNET_OK .. COSNET_ERROR_THREAD */

static void test_strerror_distinct_names(void **state)
{
    (void)state;
    const char *names[status_count];
    for (int s = 0; s < status_count; s++) {
        names[s] = cosnet_strerror((cosnet_status)s);
        assert_non_null(names[s]);
        assert_true(names[s][0] != '\0');
        assert_string_not_equal(names[s], "unknown status");
        for (int t = 0; t < s; t++)
            if (strcmp(names[s], names[t]) == 0)
                fail_msg("statuses %d and %d share the name \"%s\"", t, s,
                         names[s]);
    }
    assert_string_equal(cosnet_strerror(COSNET_ERROR_THREAD), names[17]);
    assert_string_equal(cosnet_strerror((cosnet_status)999), "unknown status");
    assert_string_equal(cosnet_strerror((cosnet_status)status_count),
                        "unknown status");
    assert_string_equal(cosnet_strerror((cosnet_status)-1), "unknown status");
}

/* What a second thread saw and left. */
typedef struct thread_report {
    char before[256]; /* its message before it failed */
    char after[256];  /* its message after its own failure */
    cosnet_status status;
} thread_report;

static void *fail_on_another_thread(void *argument)
{
    thread_report *report = argument;
    snprintf(report->before, sizeof report->before, "%s", cosnet_last_error());
    cosnet_labels *labels = NULL;
    report->status = cosnet_labels_load("/nonexistent/cosnet-labels", &labels);
    snprintf(report->after, sizeof report->after, "%s", cosnet_last_error());
    return NULL;
}

static void test_last_error_is_thread_local(void **state)
{
    (void)state;
    /* Nothing has failed on this thread yet. */
    assert_string_equal(cosnet_last_error(), "");

    cosnet_labels *labels = NULL;
    assert_int_equal(cosnet_labels_generate(0, 25, 0.5, 1, 0, &labels),
                     COSNET_ERROR_INVALID_ARGUMENT);
    char mine[256];
    snprintf(mine, sizeof mine, "%s", cosnet_last_error());
    assert_non_null(strstr(mine, "0 vectors of 25 dimensions"));

    thread_report report;
    memset(&report, 0, sizeof report);
    pthread_t thread;
    assert_int_equal(
        pthread_create(&thread, NULL, fail_on_another_thread, &report), 0);
    assert_int_equal(pthread_join(thread, NULL), 0);

    /* The other thread started clean, and its failure stayed its own. */
    assert_string_equal(report.before, "");
    assert_int_equal(report.status, COSNET_ERROR_IO);
    assert_non_null(strstr(report.after, "/nonexistent/cosnet-labels"));
    assert_string_equal(cosnet_last_error(), mine);
}

static void test_version(void **state)
{
    (void)state;
    assert_string_equal(cosnet_version(), COSNET_VERSION_STRING);
    assert_int_equal(cosnet_version_number(), COSNET_VERSION_NUMBER);
    char built[32];
    snprintf(built, sizeof built, "%d.%d.%d", COSNET_VERSION_MAJOR,
             COSNET_VERSION_MINOR, COSNET_VERSION_PATCH);
    assert_string_equal(cosnet_version(), built);
    assert_int_equal(cosnet_version_number(), COSNET_VERSION_MAJOR * 10000 +
                                                  COSNET_VERSION_MINOR * 100 +
                                                  COSNET_VERSION_PATCH);
}

static void test_isa_reports_a_variant(void **state)
{
    (void)state;
    const char *name = NULL;
    assert_int_equal(cosnet_isa(&name), COSNET_OK);
    assert_non_null(name);
    if (strcmp(name, "scalar") != 0 && strcmp(name, "avx2") != 0 &&
        strcmp(name, "avx512") != 0 && strcmp(name, "neon") != 0)
        fail_msg("unexpected ISA name \"%s\"", name);
    /* Chosen once per process: the same answer every time. */
    const char *again = NULL;
    assert_int_equal(cosnet_isa(&again), COSNET_OK);
    assert_ptr_equal(again, name);
    assert_int_equal(cosnet_isa(NULL), COSNET_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* First, so the clean-thread check sees a fresh main thread. */
        cmocka_unit_test(test_last_error_is_thread_local),
        cmocka_unit_test(test_strerror_distinct_names),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_isa_reports_a_variant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
