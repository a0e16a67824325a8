/* Resource bounds of the IDX reader (docs/reliability.md): a file can make
 * the library allocate only what its checked header declares, and only
 * once the file can hold it. A measuring allocator, installed before any
 * other call, records the largest single block and the peak of live bytes
 * of each call. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cosnet.h"

/* ---- the measuring allocator ------------------------------------------------
 */

typedef struct measured_block {
    size_t size;
    size_t padding; /* keeps the block 16-byte aligned */
} measured_block;

static atomic_size_t live_bytes, peak_bytes, largest_block;

/* What lib/common/memory.c adds to each block it asks for: its header and
 * room for alignment. */
enum { BLOCK_OVERHEAD = 64 };

static void *measuring_allocate(void *user_data, size_t size)
{
    (void)user_data;
    measured_block *block = malloc(sizeof *block + size);
    if (!block)
        return NULL;
    block->size = size;
    size_t live = atomic_fetch_add(&live_bytes, size) + size;
    size_t peak = atomic_load(&peak_bytes);
    while (live > peak &&
           !atomic_compare_exchange_weak(&peak_bytes, &peak, live))
        ;
    size_t largest = atomic_load(&largest_block);
    while (size > largest &&
           !atomic_compare_exchange_weak(&largest_block, &largest, size))
        ;
    return block + 1;
}

static void measuring_release(void *user_data, void *memory)
{
    (void)user_data;
    measured_block *block = (measured_block *)memory - 1;
    atomic_fetch_sub(&live_bytes, block->size);
    free(block);
}

static void measure_start(void)
{
    atomic_store(&peak_bytes, atomic_load(&live_bytes));
    atomic_store(&largest_block, 0);
}

/* ---- files -------------------------------------------------------------- */

static char folder[64];
static char images_path[128], labels_path[128];

static void put_be32(unsigned char *at, uint32_t value)
{
    at[0] = (unsigned char)(value >> 24);
    at[1] = (unsigned char)(value >> 16);
    at[2] = (unsigned char)(value >> 8);
    at[3] = (unsigned char)value;
}

static void write_raw(const char *path, const void *bytes, size_t size)
{
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    if (size)
        assert_int_equal(fwrite(bytes, 1, size, file), size);
    assert_int_equal(fclose(file), 0);
}

/* An images header declaring count x rows x columns, then `zeros` zero
 * bytes, gzip-compressed (level 9) into path. Returns the file size. */
static size_t write_gzip_images(const char *path, uint32_t count, uint32_t rows,
                                uint32_t columns, size_t zeros)
{
    gzFile file = gzopen(path, "wb9");
    assert_non_null(file);
    unsigned char header[16];
    put_be32(header, 0x803);
    put_be32(header + 4, count);
    put_be32(header + 8, rows);
    put_be32(header + 12, columns);
    assert_int_equal(gzwrite(file, header, 16), 16);
    static unsigned char block[65536];
    while (zeros > 0) {
        unsigned piece = zeros < sizeof block ? (unsigned)zeros : sizeof block;
        assert_int_equal(gzwrite(file, block, piece), (int)piece);
        zeros -= piece;
    }
    assert_int_equal(gzclose(file), Z_OK);
    struct stat info;
    assert_int_equal(stat(path, &info), 0);
    return (size_t)info.st_size;
}

static void write_labels(uint32_t count)
{
    unsigned char *bytes = calloc(1, 8 + count);
    assert_non_null(bytes);
    put_be32(bytes, 0x801);
    put_be32(bytes + 4, count);
    write_raw(labels_path, bytes, 8 + count);
    free(bytes);
}

/* Opens and expects `status`, every needle in the message, *out untouched
 * and no block left; returns the largest block allocated. */
static size_t expect_open(const char *images, cosnet_status status,
                          const char *needle_1, const char *needle_2)
{
    size_t live = atomic_load(&live_bytes);
    measure_start();
    cosnet_dataset *const untouched = (cosnet_dataset *)(uintptr_t)0x5a5a;
    cosnet_dataset *dataset = untouched;
    cosnet_status got = cosnet_dataset_open(images, labels_path, 10, &dataset);
    const char *message = cosnet_last_error();
    print_message("status %d (%s), largest block %zu bytes, peak %zu "
                  "bytes: %s\n",
                  (int)got, cosnet_strerror(got), atomic_load(&largest_block),
                  atomic_load(&peak_bytes) - live, message);
    assert_int_equal(got, status);
    if (status == COSNET_OK) {
        cosnet_dataset_free(dataset);
        assert_int_equal(atomic_load(&live_bytes), live);
        return atomic_load(&largest_block);
    }
    assert_ptr_equal(dataset, untouched);
    if (needle_1 && !strstr(message, needle_1))
        fail_msg("message \"%s\" lacks \"%s\"", message, needle_1);
    if (needle_2 && !strstr(message, needle_2))
        fail_msg("message \"%s\" lacks \"%s\"", message, needle_2);
    assert_int_equal(atomic_load(&live_bytes), live);
    return atomic_load(&largest_block);
}

/* ---- tests -------------------------------------------------------------- */

/* A gzip bomb: a header declaring 60000 images of 28x28 (47 MB, a
 * plausible size) followed by 200 MB of zeros, about 200 KB compressed.
 * The reader allocates the declared 47,040,016 bytes, exactly once (the
 * old reader took its first buffer size from the gzip trailer), then
 * counts 1 MiB of the excess and stops with BAD_FORMAT. */
static void test_gzip_bomb(void **state)
{
    (void)state;
    write_labels(60000);
    size_t file_size =
        write_gzip_images(images_path, 60000, 28, 28, (size_t)200 << 20);
    print_message("bomb: %zu bytes of gzip\n", file_size);
    size_t largest =
        expect_open(images_path, COSNET_ERROR_BAD_FORMAT,
                    "at least 1048576 trailing bytes", "(47040016 bytes)");
    assert_true(largest >= 47040016 && largest <= 47040016 + BLOCK_OVERHEAD);
}

/* A header declaring 1,000,000,000 bytes in a gzip file of about 1 KB:
 * more than 1032 times the file, deflate's largest ratio, so the stream
 * cannot hold it: refused before any large allocation. */
static void test_gzip_declares_more_than_deflate_can_hold(void **state)
{
    (void)state;
    write_labels(10);
    write_gzip_images(images_path, 1000000, 1000, 1, 1000000);
    size_t largest =
        expect_open(images_path, COSNET_ERROR_TRUNCATED,
                    "1000000 images of 1000x1", "decompresses to at most");
    assert_true(largest < 300 * 1024);
}

/* A valid gzip file: the pixels' block is the declared size, to the byte,
 * and nothing else large is allocated. */
static void test_gzip_exact_allocation(void **state)
{
    (void)state;
    const uint32_t count = 100;
    const size_t declared = 16 + (size_t)count * 28 * 28;
    unsigned char *bytes = malloc(declared);
    assert_non_null(bytes);
    put_be32(bytes, 0x803);
    put_be32(bytes + 4, count);
    put_be32(bytes + 8, 28);
    put_be32(bytes + 12, 28);
    uint32_t state_value = 1;
    for (size_t i = 16; i < declared; i++) {
        state_value = state_value * 1664525u + 1013904223u;
        bytes[i] = (unsigned char)(state_value >> 24);
    }
    gzFile file = gzopen(images_path, "wb");
    assert_non_null(file);
    assert_int_equal(gzwrite(file, bytes, (unsigned)declared), (int)declared);
    assert_int_equal(gzclose(file), Z_OK);
    free(bytes);
    struct stat info;
    assert_int_equal(stat(images_path, &info), 0);
    write_labels(count);
    /* The largest block: the pixels, or the compressed input buffer
     * (random pixels do not compress; the buffer is at most the file). */
    size_t bound =
        declared > (size_t)info.st_size ? declared : (size_t)info.st_size;
    size_t largest = expect_open(images_path, COSNET_OK, NULL, NULL);
    assert_true(largest >= declared && largest <= bound + BLOCK_OVERHEAD);
}

/* A gzip stream with more data than the header declares: BAD_FORMAT,
 * having allocated only the declared size; and with less: TRUNCATED. */
static void test_gzip_more_or_less_than_declared(void **state)
{
    (void)state;
    write_labels(10);
    write_gzip_images(images_path, 10, 28, 28, 10 * 28 * 28 + 5000);
    size_t largest = expect_open(images_path, COSNET_ERROR_BAD_FORMAT,
                                 "5000 trailing bytes", "once decompressed");
    assert_true(largest <= 16 + 10 * 28 * 28 || largest <= 256 * 1024);
    write_gzip_images(images_path, 10, 28, 28, 10 * 28 * 28 - 1);
    expect_open(images_path, COSNET_ERROR_TRUNCATED, "the file has 7855",
                "once decompressed");
}

/* The gzip trailer's size field (ISIZE) is no longer an allocation hint: a
 * trailer claiming 4 GiB - 16 changes nothing but zlib's length check. */
static void test_gzip_isize_lie(void **state)
{
    (void)state;
    write_labels(10);
    size_t size = write_gzip_images(images_path, 10, 28, 28, 10 * 28 * 28);
    unsigned char *bytes = malloc(size);
    assert_non_null(bytes);
    FILE *file = fopen(images_path, "rb");
    assert_non_null(file);
    assert_int_equal(fread(bytes, 1, size, file), size);
    fclose(file);
    memset(bytes + size - 4, 0xff, 3);
    bytes[size - 1] = 0xff;
    bytes[size - 4] = 0xf0;
    write_raw(images_path, bytes, size);
    free(bytes);
    size_t largest = expect_open(images_path, COSNET_ERROR_CORRUPT,
                                 "incorrect length check", NULL);
    assert_true(largest < 300 * 1024);
}

/* A header declaring more than the 1 GiB limit: OVERFLOW, nothing big
 * allocated (gzip, so the file size does not decide first). */
static void test_over_the_limit(void **state)
{
    (void)state;
    write_labels(10);
    write_gzip_images(images_path, 2048, 1024, 1024, 0);
    size_t largest =
        expect_open(images_path, COSNET_ERROR_OVERFLOW,
                    "2048 images of 1024x1024", "1073741824-byte limit");
    assert_true(largest < 300 * 1024);
}

/* A raw header declaring 47 MB in a 100-byte file: TRUNCATED from the
 * file size, before allocating. */
static void test_raw_declares_more_than_the_file(void **state)
{
    (void)state;
    write_labels(10);
    unsigned char bytes[100] = {0};
    put_be32(bytes, 0x803);
    put_be32(bytes + 4, 60000);
    put_be32(bytes + 8, 28);
    put_be32(bytes + 12, 28);
    write_raw(images_path, bytes, sizeof bytes);
    size_t largest = expect_open(images_path, COSNET_ERROR_TRUNCATED,
                                 "(47040016 bytes)", "the file has 100");
    assert_true(largest < 4096);
}

/* /dev/zero as the images file: its first bytes are no IDX magic; nothing
 * grows (the old reader doubled its buffer to 2.1 GB). */
static void test_dev_zero(void **state)
{
    (void)state;
    if (access("/dev/zero", R_OK) != 0)
        skip();
    write_labels(10);
    size_t largest = expect_open("/dev/zero", COSNET_ERROR_BAD_FORMAT,
                                 "element type 0x00", NULL);
    assert_true(largest < 4096);
}

/* A pipe: no size to check against, so the buffer grows as bytes arrive,
 * never beyond what the header declares. A writer sends a header
 * declaring 60000 images of 28x28 and 1000 bytes, then closes. */
typedef struct pipe_writer {
    const char *path;
    size_t pixels;
} pipe_writer;

static void *write_pipe(void *argument)
{
    pipe_writer *writer = argument;
    int descriptor = open(writer->path, O_WRONLY);
    if (descriptor < 0)
        return NULL;
    unsigned char header[16];
    put_be32(header, 0x803);
    put_be32(header + 4, 60000);
    put_be32(header + 8, 28);
    put_be32(header + 12, 28);
    ssize_t ignored = write(descriptor, header, sizeof header);
    static const unsigned char zeros[1000];
    size_t left = writer->pixels;
    while (left > 0 && ignored >= 0) {
        size_t piece = left < sizeof zeros ? left : sizeof zeros;
        ignored = write(descriptor, zeros, piece);
        left -= piece;
    }
    close(descriptor);
    return NULL;
}

static void test_pipe(void **state)
{
    (void)state;
    char fifo[160];
    snprintf(fifo, sizeof fifo, "%s/fifo", folder);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    signal(SIGPIPE, SIG_IGN);
    write_labels(10);
    pipe_writer writer = {fifo, 1000};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, write_pipe, &writer), 0);
    size_t largest = expect_open(fifo, COSNET_ERROR_TRUNCATED,
                                 "(47040016 bytes)", "the file has 1016");
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_true(largest <= 8192 + BLOCK_OVERHEAD);
    unlink(fifo);
}

static int setup(void **state)
{
    (void)state;
    snprintf(folder, sizeof folder, "/tmp/cosnet-bounds-XXXXXX");
    if (!mkdtemp(folder))
        return -1;
    snprintf(images_path, sizeof images_path, "%s/images", folder);
    snprintf(labels_path, sizeof labels_path, "%s/labels", folder);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(images_path);
    unlink(labels_path);
    return rmdir(folder) == 0 && atomic_load(&live_bytes) == 0 ? 0 : -1;
}

int main(void)
{
    if (cosnet_set_allocator(measuring_allocate, measuring_release, NULL) !=
        COSNET_OK) {
        fprintf(stderr, "cosnet_set_allocator: %s\n", cosnet_last_error());
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip_bomb),
        cmocka_unit_test(test_gzip_declares_more_than_deflate_can_hold),
        cmocka_unit_test(test_gzip_exact_allocation),
        cmocka_unit_test(test_gzip_more_or_less_than_declared),
        cmocka_unit_test(test_gzip_isize_lie),
        cmocka_unit_test(test_over_the_limit),
        cmocka_unit_test(test_raw_declares_more_than_the_file),
        cmocka_unit_test(test_dev_zero),
        cmocka_unit_test(test_pipe),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
