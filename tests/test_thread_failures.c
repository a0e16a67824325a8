/* A thread that cannot start: cosnet_evaluate with two worker threads, the
 * first or the second thread_start made to fail through thread_fail_after.
 * The call must return COSNET_ERROR_THREAD with a message, leave *out as
 * the caller set it, and leave no block allocated: a counting allocator
 * installed before anything else is allocated checks the last point
 * exactly, whatever the build (the sanitizer build checks it again). */
/* pthread_getattr_np and pthread_setattr_default_np are GNU extensions
 * (glibc, musl). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cosnet.h"
#include "common/thread.h"

enum {
    SIDE = 28,
    CLASSES = 10,
    /* More than one evaluation chunk (256 images), so two threads work. */
    IMAGE_COUNT = 300
};

/* ---- a counting allocator ------------------------------------------------ */

/* Atomic: evaluation workers may allocate from their own threads. */
static atomic_size_t live_blocks;

static void *counting_allocate(void *user_data, size_t size)
{
    (void)user_data;
    void *memory = malloc(size);
    if (memory)
        atomic_fetch_add(&live_blocks, 1);
    return memory;
}

static void counting_release(void *user_data, void *memory)
{
    (void)user_data;
    atomic_fetch_sub(&live_blocks, 1);
    free(memory);
}

/* ---- the fixture: a small synthetic dataset, 10 models, builtin labels -- */

typedef struct fixture {
    char folder[64];
    cosnet_dataset *dataset;
    cosnet_model *models[CLASSES];
    cosnet_labels *labels;
} fixture;

static void put_u32(FILE *file, uint32_t value)
{
    unsigned char bytes[4] = {
        (unsigned char)(value >> 24), (unsigned char)(value >> 16),
        (unsigned char)(value >> 8), (unsigned char)value};
    assert_int_equal(fwrite(bytes, 1, 4, file), 4);
}

static int fixture_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->folder, sizeof f->folder, "/tmp/cosnet-threads-XXXXXX");
    assert_non_null(mkdtemp(f->folder));
    char images_path[128], labels_path[128];
    snprintf(images_path, sizeof images_path, "%s/images", f->folder);
    snprintf(labels_path, sizeof labels_path, "%s/labels", f->folder);
    FILE *images = fopen(images_path, "wb");
    FILE *labels = fopen(labels_path, "wb");
    assert_non_null(images);
    assert_non_null(labels);
    put_u32(images, 0x00000803);
    put_u32(images, IMAGE_COUNT);
    put_u32(images, SIDE);
    put_u32(images, SIDE);
    put_u32(labels, 0x00000801);
    put_u32(labels, IMAGE_COUNT);
    uint32_t random_state = 12345u;
    for (unsigned i = 0; i < IMAGE_COUNT; i++) {
        for (unsigned p = 0; p < SIDE * SIDE; p++) {
            random_state ^= random_state << 13;
            random_state ^= random_state >> 17;
            random_state ^= random_state << 5;
            assert_int_not_equal(fputc((int)(random_state >> 24), images), EOF);
        }
        assert_int_not_equal(fputc((int)(i % CLASSES), labels), EOF);
    }
    assert_int_equal(fclose(images), 0);
    assert_int_equal(fclose(labels), 0);
    assert_int_equal(
        cosnet_dataset_open(images_path, labels_path, CLASSES, &f->dataset),
        COSNET_OK);
    remove(images_path);
    remove(labels_path);
    rmdir(f->folder);
    for (unsigned k = 0; k < CLASSES; k++)
        assert_int_equal(
            cosnet_model_create(COSNET_ARCHITECTURE_SEED, k, &f->models[k]),
            COSNET_OK);
    assert_int_equal(cosnet_labels_builtin(&f->labels), COSNET_OK);
    *state = f;
    return 0;
}

static int fixture_teardown(void **state)
{
    fixture *f = *state;
    for (unsigned k = 0; k < CLASSES; k++)
        cosnet_model_free(f->models[k]);
    cosnet_labels_free(f->labels);
    cosnet_dataset_free(f->dataset);
    free(f);
    /* Everything the library allocated has been given back. */
    assert_int_equal(atomic_load(&live_blocks), 0);
    return 0;
}

/* Evaluates with `threads` threads, the n-th thread start failing. */
static cosnet_status evaluate_failing(fixture *f, unsigned long n,
                                      unsigned threads, cosnet_evaluation **out)
{
    thread_fail_after(n);
    cosnet_status status =
        cosnet_evaluate((const cosnet_model *const *)f->models, CLASSES,
                        f->labels, f->dataset, threads, out);
    unsigned long attempts = thread_fail_after(0);
    if (n > 0 && status == COSNET_ERROR_THREAD)
        /* The failing start was attempted and nothing after it. */
        assert_int_equal(attempts, n);
    return status;
}

static void check_thread_failure(void **state, unsigned long n)
{
    fixture *f = *state;
    size_t live_before = atomic_load(&live_blocks);
    cosnet_evaluation *const sentinel = (cosnet_evaluation *)f;
    cosnet_evaluation *out = sentinel;
    cosnet_status status = evaluate_failing(f, n, 2, &out);
    if (status != COSNET_ERROR_THREAD)
        fail_msg("thread start %lu made to fail: status %d (%s), expected "
                 "COSNET_ERROR_THREAD; message \"%s\"",
                 n, (int)status, cosnet_strerror(status), cosnet_last_error());
    const char *message = cosnet_last_error();
    assert_non_null(message);
    assert_true(strlen(message) > 0);
    assert_non_null(strstr(message, "thread"));
    assert_ptr_equal(out, sentinel);
    assert_int_equal(atomic_load(&live_blocks), live_before);
}

static void test_first_thread_start_fails(void **state)
{
    check_thread_failure(state, 1);
}

static void test_second_thread_start_fails(void **state)
{
    check_thread_failure(state, 2);
}

/* The hook itself can fail: with failures off, the same call succeeds and
 * counts as many images as with one thread. The thread count check proves
 * the hook is on the path: two starts were attempted. */
static void test_same_call_succeeds_without_failure(void **state)
{
    fixture *f = *state;
    cosnet_evaluation *two = NULL, *one = NULL;
    thread_fail_after(0);
    assert_int_equal(cosnet_evaluate((const cosnet_model *const *)f->models,
                                     CLASSES, f->labels, f->dataset, 2, &two),
                     COSNET_OK);
    assert_int_equal(thread_fail_after(0), 2);
    assert_int_equal(cosnet_evaluate((const cosnet_model *const *)f->models,
                                     CLASSES, f->labels, f->dataset, 1, &one),
                     COSNET_OK);
    assert_int_equal(cosnet_evaluation_total(two), IMAGE_COUNT);
    for (int rule = 0; rule < COSNET_RULE_COUNT; rule++)
        assert_int_equal(cosnet_evaluation_correct(two, (cosnet_rule)rule),
                         cosnet_evaluation_correct(one, (cosnet_rule)rule));
    cosnet_evaluation_free(two);
    cosnet_evaluation_free(one);
}

/* thread_start alone: the message names the work and the reason, the
 * handle is untouched, and a start after the hook is cleared works. */
static void *return_argument(void *argument)
{
    return argument;
}

static void test_thread_start_hook(void **state)
{
    (void)state;
    int value = 7;
    pthread_t thread;
    memset(&thread, 0xab, sizeof thread);
    pthread_t untouched = thread;
    thread_fail_after(1);
    assert_int_equal(
        thread_start(&thread, return_argument, &value, "the hook test"),
        COSNET_ERROR_THREAD);
    assert_int_equal(memcmp(&thread, &untouched, sizeof thread), 0);
    assert_non_null(strstr(cosnet_last_error(), "the hook test"));
    assert_int_equal(thread_fail_after(0), 1);
    assert_int_equal(
        thread_start(&thread, return_argument, &value, "the hook test"),
        COSNET_OK);
    void *result = NULL;
    assert_int_equal(pthread_join(thread, &result), 0);
    assert_ptr_equal(result, &value);
}

/* The stack size of the calling thread, through *argument. */
static void *record_stack_size(void *argument)
{
    size_t *size = argument;
    pthread_attr_t attributes;
    *size = 0;
    if (pthread_getattr_np(pthread_self(), &attributes) == 0) {
        pthread_attr_getstacksize(&attributes, size);
        pthread_attr_destroy(&attributes);
    }
    return NULL;
}

/* The library's threads get at least 1 MB of stack (the Winograd kernels
 * keep up to 96 KB of buffers there), also where the platform's default
 * is smaller: musl's 128 KB, set here as the process default. */
static void test_thread_stack_is_large_enough(void **state)
{
    (void)state;
    pthread_attr_t saved, small;
    assert_int_equal(pthread_getattr_default_np(&saved), 0);
    assert_int_equal(pthread_attr_init(&small), 0);
    assert_int_equal(pthread_attr_setstacksize(&small, 128 * 1024), 0);
    assert_int_equal(pthread_setattr_default_np(&small), 0);
    size_t size = 0;
    pthread_t thread;
    /* A plain thread now gets the small default (ThreadSanitizer's runtime
     * refuses to start one that small: EINVAL)... */
    if (pthread_create(&thread, NULL, record_stack_size, &size) == 0) {
        assert_int_equal(pthread_join(thread, NULL), 0);
        assert_true(size < (size_t)1 << 20);
    }
    /* ...and one of the library's at least 1 MB. */
    assert_int_equal(
        thread_start(&thread, record_stack_size, &size, "the stack test"),
        COSNET_OK);
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_true(size >= (size_t)1 << 20);
    assert_int_equal(pthread_setattr_default_np(&saved), 0);
    pthread_attr_destroy(&small);
    pthread_attr_destroy(&saved);
    /* With the platform's default (8 MB here), at least that. */
    assert_int_equal(
        thread_start(&thread, record_stack_size, &size, "the stack test"),
        COSNET_OK);
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_true(size >= (size_t)1 << 20);
}

/* The label generator fills pairs on a helper thread for big sets; when
 * that thread cannot start it fills them itself: the same set, no error. */
static void test_label_generation_without_its_thread(void **state)
{
    (void)state;
    cosnet_labels *with = NULL, *without = NULL;
    thread_fail_after(0);
    assert_int_equal(cosnet_labels_generate(6, 25, 0.5, 0, 0, &with),
                     COSNET_OK);
    assert_int_equal(thread_fail_after(1), 1); /* it did use a thread */
    assert_int_equal(cosnet_labels_generate(6, 25, 0.5, 0, 0, &without),
                     COSNET_OK);
    assert_int_equal(thread_fail_after(0), 1); /* and this one failed */
    assert_memory_equal(cosnet_labels_vector(with, 0),
                        cosnet_labels_vector(without, 0),
                        6 * 25 * sizeof(float));
    cosnet_labels_free(with);
    cosnet_labels_free(without);
}

int main(void)
{
    /* Before any other libcosnet call, so every block is counted. */
    if (cosnet_set_allocator(counting_allocate, counting_release, NULL) !=
        COSNET_OK) {
        fprintf(stderr, "cosnet_set_allocator: %s\n", cosnet_last_error());
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thread_start_hook),
        cmocka_unit_test(test_thread_stack_is_large_enough),
        cmocka_unit_test(test_label_generation_without_its_thread),
        cmocka_unit_test_setup_teardown(test_first_thread_start_fails,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_second_thread_start_fails,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_same_call_succeeds_without_failure,
                                        fixture_setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
