/* Unit tests of the dataset handle and the IDX reader. Every file is written
 * here, in a fresh mkdtemp folder, raw or gzip (zlib's gzopen). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cosnet.h"
#include "common/memory.h"
#include "common/rng.h"
#include "data/idx.h"

/* The fixture: 60 images of 3 rows x 2 columns, class_count 5; labels i % 4
 * for i < 56 and 0 for the last four, so classes 0..3 hold 18, 14, 14, 14
 * images and class 4 none. */
enum {
    FIXTURE_COUNT = 60,
    FIXTURE_ROWS = 3,
    FIXTURE_COLUMNS = 2,
    FIXTURE_PIXELS = FIXTURE_ROWS * FIXTURE_COLUMNS,
    FIXTURE_CLASSES = 5
};
static const size_t fixture_class_sizes[FIXTURE_CLASSES] = {18, 14, 14, 14, 0};

typedef struct test_folder {
    char path[64];
} test_folder;

/* ---- helpers ----------------------------------------------------------- */

static void put_big_endian_32(uint8_t *out, uint32_t value)
{
    out[0] = (uint8_t)(value >> 24);
    out[1] = (uint8_t)(value >> 16);
    out[2] = (uint8_t)(value >> 8);
    out[3] = (uint8_t)value;
}

/* A growable byte string. */
typedef struct byte_buffer {
    uint8_t *bytes;
    size_t size;
} byte_buffer;

static void buffer_free(byte_buffer *buffer)
{
    free(buffer->bytes);
    buffer->bytes = NULL;
    buffer->size = 0;
}

static byte_buffer images_header(uint32_t magic, uint32_t count, uint32_t rows,
                                 uint32_t columns, size_t data_bytes,
                                 const uint8_t *data)
{
    byte_buffer buffer;
    buffer.size = 16 + data_bytes;
    buffer.bytes = malloc(buffer.size);
    assert_non_null(buffer.bytes);
    put_big_endian_32(buffer.bytes, magic);
    put_big_endian_32(buffer.bytes + 4, count);
    put_big_endian_32(buffer.bytes + 8, rows);
    put_big_endian_32(buffer.bytes + 12, columns);
    if (data_bytes)
        memcpy(buffer.bytes + 16, data, data_bytes);
    return buffer;
}

static byte_buffer labels_file(uint32_t magic, uint32_t count,
                               size_t data_bytes, const uint8_t *data)
{
    byte_buffer buffer;
    buffer.size = 8 + data_bytes;
    buffer.bytes = malloc(buffer.size);
    assert_non_null(buffer.bytes);
    put_big_endian_32(buffer.bytes, magic);
    put_big_endian_32(buffer.bytes + 4, count);
    if (data_bytes)
        memcpy(buffer.bytes + 8, data, data_bytes);
    return buffer;
}

/* Pixel p of image i; image 0 holds the values the float tests need. */
static uint8_t fixture_pixel(size_t image, size_t pixel)
{
    static const uint8_t first[FIXTURE_PIXELS] = {0, 255, 51, 1, 128, 254};
    if (image == 0)
        return first[pixel];
    return (uint8_t)((image * 29 + pixel * 71 + 13) & 0xff);
}

static uint8_t fixture_label(size_t image)
{
    return image < 56 ? (uint8_t)(image % 4) : 0;
}

static void fixture_pixels(uint8_t *pixels)
{
    for (size_t i = 0; i < FIXTURE_COUNT; i++)
        for (size_t p = 0; p < FIXTURE_PIXELS; p++)
            pixels[i * FIXTURE_PIXELS + p] = fixture_pixel(i, p);
}

static byte_buffer fixture_images(void)
{
    uint8_t pixels[FIXTURE_COUNT * FIXTURE_PIXELS];
    fixture_pixels(pixels);
    return images_header(0x803, FIXTURE_COUNT, FIXTURE_ROWS, FIXTURE_COLUMNS,
                         sizeof pixels, pixels);
}

static byte_buffer fixture_labels(void)
{
    uint8_t labels[FIXTURE_COUNT];
    for (size_t i = 0; i < FIXTURE_COUNT; i++)
        labels[i] = fixture_label(i);
    return labels_file(0x801, FIXTURE_COUNT, sizeof labels, labels);
}

static void file_path(const test_folder *folder, const char *name, char *out,
                      size_t size)
{
    int n = snprintf(out, size, "%s/%s", folder->path, name);
    assert_true(n > 0 && (size_t)n < size);
}

static void write_raw(const char *path, const uint8_t *bytes, size_t size)
{
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    if (size)
        assert_int_equal(fwrite(bytes, 1, size, file), size);
    assert_int_equal(fclose(file), 0);
}

static void write_gzip(const char *path, const uint8_t *bytes, size_t size)
{
    gzFile file = gzopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(gzwrite(file, bytes, (unsigned)size), (int)size);
    assert_int_equal(gzclose(file), Z_OK);
}

static byte_buffer read_whole(const char *path)
{
    byte_buffer buffer = {NULL, 0};
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    assert_int_equal(fseek(file, 0, SEEK_END), 0);
    long size = ftell(file);
    assert_true(size >= 0);
    rewind(file);
    buffer.size = (size_t)size;
    buffer.bytes = malloc(buffer.size ? buffer.size : 1);
    assert_non_null(buffer.bytes);
    assert_int_equal(fread(buffer.bytes, 1, buffer.size, file), buffer.size);
    fclose(file);
    return buffer;
}

/* Writes the fixture's two files (raw or gzip) under the given names. */
static void write_fixture(const test_folder *folder, const char *images_name,
                          const char *labels_name, int gzip, char *images_path,
                          char *labels_path, size_t path_size)
{
    byte_buffer images = fixture_images(), labels = fixture_labels();
    file_path(folder, images_name, images_path, path_size);
    file_path(folder, labels_name, labels_path, path_size);
    if (gzip) {
        write_gzip(images_path, images.bytes, images.size);
        write_gzip(labels_path, labels.bytes, labels.size);
    } else {
        write_raw(images_path, images.bytes, images.size);
        write_raw(labels_path, labels.bytes, labels.size);
    }
    buffer_free(&images);
    buffer_free(&labels);
}

static cosnet_dataset *open_fixture(const test_folder *folder, int gzip)
{
    char images_path[128], labels_path[128];
    write_fixture(folder, gzip ? "fixture-images.gz" : "fixture-images",
                  gzip ? "fixture-labels.gz" : "fixture-labels", gzip,
                  images_path, labels_path, sizeof images_path);
    cosnet_dataset *dataset = NULL;
    assert_int_equal(cosnet_dataset_open(images_path, labels_path,
                                         FIXTURE_CLASSES, &dataset),
                     COSNET_OK);
    assert_non_null(dataset);
    return dataset;
}

/* A handle value no open may write: failure must leave *out as it was. */
static cosnet_dataset *const untouched = (cosnet_dataset *)(uintptr_t)0x5a5a;

/* Opens and expects `status`, *out unchanged, and every `needles` string
 * (NULL-terminated) in the message. */
static void expect_open_failure(const char *images_path,
                                const char *labels_path, unsigned classes,
                                cosnet_status status, const char *needle_1,
                                const char *needle_2, const char *needle_3)
{
    cosnet_dataset *dataset = untouched;
    cosnet_status got =
        cosnet_dataset_open(images_path, labels_path, classes, &dataset);
    const char *message = cosnet_last_error();
    if (got != status)
        print_error("status %d (%s), expected %d; message: %s\n", (int)got,
                    cosnet_strerror(got), (int)status, message);
    assert_int_equal(got, status);
    assert_ptr_equal(dataset, untouched);
    const char *needles[3] = {needle_1, needle_2, needle_3};
    for (int i = 0; i < 3; i++) {
        const char *needle = needles[i];
        if (!needle)
            continue;
        if (!strstr(message, needle))
            /* gcc's sanitizer build cannot see that the message is never
             * NULL and warns about a %s of NULL. */
            print_error("message \"%s\" lacks \"%.200s\"\n",
                        message ? message : "", needle);
        assert_non_null(strstr(message, needle));
    }
}

/* Writes the fixture's good labels plus the given images file, and expects
 * the open to fail. */
static void expect_images_failure(const test_folder *folder,
                                  const byte_buffer *images, int gzip,
                                  cosnet_status status, const char *needle_2,
                                  const char *needle_3)
{
    char images_path[128], labels_path[128];
    file_path(folder, gzip ? "bad-images.gz" : "bad-images", images_path,
              sizeof images_path);
    file_path(folder, "good-labels", labels_path, sizeof labels_path);
    (gzip ? write_gzip : write_raw)(images_path, images->bytes, images->size);
    byte_buffer labels = fixture_labels();
    write_raw(labels_path, labels.bytes, labels.size);
    buffer_free(&labels);
    expect_open_failure(images_path, labels_path, FIXTURE_CLASSES, status,
                        images_path, needle_2, needle_3);
    unlink(images_path);
    unlink(labels_path);
}

static void expect_labels_failure(const test_folder *folder,
                                  const byte_buffer *labels, int gzip,
                                  cosnet_status status, const char *needle_2,
                                  const char *needle_3)
{
    char images_path[128], labels_path[128];
    file_path(folder, "good-images", images_path, sizeof images_path);
    file_path(folder, gzip ? "bad-labels.gz" : "bad-labels", labels_path,
              sizeof labels_path);
    byte_buffer images = fixture_images();
    write_raw(images_path, images.bytes, images.size);
    buffer_free(&images);
    (gzip ? write_gzip : write_raw)(labels_path, labels->bytes, labels->size);
    expect_open_failure(images_path, labels_path, FIXTURE_CLASSES, status,
                        labels_path, needle_2, needle_3);
    unlink(images_path);
    unlink(labels_path);
}

/* ---- fixture setup ------------------------------------------------------ */

static int make_folder(void **state)
{
    test_folder *folder = malloc(sizeof *folder);
    if (!folder)
        return -1;
    strcpy(folder->path, "/tmp/cosnet-test-dataset-XXXXXX");
    if (!mkdtemp(folder->path)) {
        free(folder);
        return -1;
    }
    *state = folder;
    return 0;
}

static int remove_folder(void **state)
{
    test_folder *folder = *state;
    /* Tests remove their own files; sweep what a failed test left. */
    static const char *const names[] = {"fixture-images",
                                        "fixture-labels",
                                        "fixture-images.gz",
                                        "fixture-labels.gz",
                                        "bad-images",
                                        "bad-images.gz",
                                        "bad-labels",
                                        "bad-labels.gz",
                                        "good-images",
                                        "good-labels",
                                        "big-images.gz",
                                        "big-labels",
                                        "plain",
                                        "squeezed.gz"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", folder->path, names[i]);
        unlink(path);
    }
    int failed = rmdir(folder->path);
    if (failed)
        fprintf(stderr, "cannot remove %s: %s\n", folder->path,
                strerror(errno));
    free(folder);
    return failed ? -1 : 0;
}

/* ---- bad inputs -------------------------------------------------------- */

static void test_bad_image_magic(void **state)
{
    byte_buffer images = fixture_images();
    images.bytes[0] = 0x12;
    images.bytes[1] = 0x34;
    expect_images_failure(*state, &images, 0, COSNET_ERROR_BAD_MAGIC,
                          "12 34 08 03", "expected 00 00 08 03");
    buffer_free(&images);
}

static void test_bad_label_magic(void **state)
{
    byte_buffer labels = fixture_labels();
    memcpy(labels.bytes, "PK\x03\x04", 4);
    expect_labels_failure(*state, &labels, 0, COSNET_ERROR_BAD_MAGIC,
                          "50 4b 03 04", "expected 00 00 08 01");
    buffer_free(&labels);
}

static void test_wrong_dimension_byte(void **state)
{
    byte_buffer images = fixture_images();
    images.bytes[3] = 0x02;
    expect_images_failure(*state, &images, 0, COSNET_ERROR_BAD_FORMAT,
                          "2 dimensions", "00 00 08 02");
    buffer_free(&images);

    /* The two files swapped: the labels file has one dimension. */
    byte_buffer labels = fixture_labels();
    expect_images_failure(*state, &labels, 0, COSNET_ERROR_BAD_FORMAT,
                          "1 dimensions", "expected 3");
    buffer_free(&labels);
}

static void test_wrong_type_byte(void **state)
{
    byte_buffer images = fixture_images();
    images.bytes[2] = 0x0d; /* float32 elements */
    expect_images_failure(*state, &images, 0, COSNET_ERROR_BAD_FORMAT,
                          "element type 0x0d", NULL);
    buffer_free(&images);
}

static void test_zero_dimensions(void **state)
{
    byte_buffer images = images_header(0x803, 0, 28, 28, 0, NULL);
    expect_images_failure(*state, &images, 0, COSNET_ERROR_BAD_FORMAT,
                          "0 images of 28x28", NULL);
    buffer_free(&images);
    images = images_header(0x803, 3, 0, 28, 0, NULL);
    expect_images_failure(*state, &images, 0, COSNET_ERROR_BAD_FORMAT,
                          "3 images of 0x28", NULL);
    buffer_free(&images);
    images = images_header(0x803, 3, 28, 0, 0, NULL);
    expect_images_failure(*state, &images, 0, COSNET_ERROR_BAD_FORMAT,
                          "3 images of 28x0", NULL);
    buffer_free(&images);
}

static void test_truncated_images(void **state)
{
    byte_buffer images = fixture_images(); /* 16 + 360 bytes */
    images.size -= 100;
    expect_images_failure(*state, &images, 0, COSNET_ERROR_TRUNCATED,
                          "(376 bytes)", "the file has 276");
    /* Cut inside the header. */
    images.size = 10;
    expect_images_failure(*state, &images, 0, COSNET_ERROR_TRUNCATED,
                          "truncated at byte 10", "needs 16 bytes");
    /* An empty file. */
    images.size = 0;
    expect_images_failure(*state, &images, 0, COSNET_ERROR_TRUNCATED,
                          "truncated at byte 0", NULL);
    buffer_free(&images);
}

static void test_truncated_labels(void **state)
{
    byte_buffer labels = fixture_labels(); /* 8 + 60 bytes */
    labels.size -= 1;
    expect_labels_failure(*state, &labels, 0, COSNET_ERROR_TRUNCATED,
                          "(68 bytes)", "the file has 67");
    /* Same cut, gzip-compressed: sizes are of the decompressed contents. */
    expect_labels_failure(*state, &labels, 1, COSNET_ERROR_TRUNCATED,
                          "the file has 67 once decompressed", NULL);
    buffer_free(&labels);
}

static void test_trailing_bytes(void **state)
{
    byte_buffer images = fixture_images();
    uint8_t *longer = realloc(images.bytes, images.size + 5);
    assert_non_null(longer);
    images.bytes = longer;
    memset(images.bytes + images.size, 0, 5);
    images.size += 5;
    expect_images_failure(*state, &images, 0, COSNET_ERROR_BAD_FORMAT,
                          "5 trailing bytes", "the file has 381");
    buffer_free(&images);

    byte_buffer labels = fixture_labels();
    longer = realloc(labels.bytes, labels.size + 1);
    assert_non_null(longer);
    labels.bytes = longer;
    labels.bytes[labels.size++] = 0;
    expect_labels_failure(*state, &labels, 0, COSNET_ERROR_BAD_FORMAT,
                          "1 trailing bytes", "the file has 69");
    buffer_free(&labels);
}

static void test_count_mismatch(void **state)
{
    const test_folder *folder = *state;
    char images_path[128], labels_path[128];
    file_path(folder, "good-images", images_path, sizeof images_path);
    file_path(folder, "bad-labels", labels_path, sizeof labels_path);
    byte_buffer images = fixture_images();
    write_raw(images_path, images.bytes, images.size);
    buffer_free(&images);
    uint8_t labels_data[59] = {0};
    byte_buffer labels =
        labels_file(0x801, 59, sizeof labels_data, labels_data);
    write_raw(labels_path, labels.bytes, labels.size);
    buffer_free(&labels);

    expect_open_failure(images_path, labels_path, FIXTURE_CLASSES,
                        COSNET_ERROR_MISMATCH, images_path, labels_path, NULL);
    const char *message = cosnet_last_error();
    assert_non_null(strstr(message, "has 60 images"));
    assert_non_null(strstr(message, "has 59 labels"));
    unlink(images_path);
    unlink(labels_path);
}

static void test_label_out_of_range(void **state)
{
    byte_buffer labels = fixture_labels();
    labels.bytes[8 + 13] = 7;
    labels.bytes[8 + 40] = 9; /* the first offender is the one reported */
    expect_labels_failure(*state, &labels, 0, COSNET_ERROR_OUT_OF_RANGE,
                          "label 7 at index 13 (byte offset 21)",
                          "class_count 5");
    buffer_free(&labels);

    /* A label equal to class_count is already out of range. */
    labels = fixture_labels();
    labels.bytes[8 + 59] = FIXTURE_CLASSES;
    expect_labels_failure(*state, &labels, 0, COSNET_ERROR_OUT_OF_RANGE,
                          "label 5 at index 59", NULL);
    buffer_free(&labels);
}

static void test_size_overflow(void **state)
{
    /* (2^32 - 1)^3 bytes cannot be represented in size_t; the file itself is
     * only the header. */
    byte_buffer images =
        images_header(0x803, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0, NULL);
    expect_images_failure(*state, &images, 0, COSNET_ERROR_OVERFLOW,
                          "4294967295 images of 4294967295x4294967295",
                          "overflows");
    buffer_free(&images);

    /* Large but representable: reported as truncated, without allocating
     * what the header claims. */
    images =
        images_header(0x803, 0xffffffffu, 65536, 1, 4, (const uint8_t *)"abcd");
    expect_images_failure(*state, &images, 0, COSNET_ERROR_TRUNCATED,
                          "4294967295 images of 65536x1", "the file has 20");
    buffer_free(&images);
}

/* A gzip file of pseudo-random images big enough that deflate emits real
 * Huffman-coded blocks (not stored ones). */
static byte_buffer noisy_images_gzip(const test_folder *folder, char *path,
                                     size_t path_size)
{
    enum { COUNT = 200, SIDE = 28 };
    uint8_t *pixels = malloc(COUNT * SIDE * SIDE);
    assert_non_null(pixels);
    uint32_t x = 12345;
    for (size_t i = 0; i < COUNT * SIDE * SIDE; i++) {
        x = x * 1103515245u + 12345u;
        /* Few distinct values, so the data compresses. */
        pixels[i] = (uint8_t)((x >> 16) & 0x7) * 32;
    }
    byte_buffer images =
        images_header(0x803, COUNT, SIDE, SIDE, COUNT * SIDE * SIDE, pixels);
    free(pixels);
    file_path(folder, "bad-images.gz", path, path_size);
    write_gzip(path, images.bytes, images.size);
    buffer_free(&images);
    return read_whole(path);
}

static void test_corrupt_gzip(void **state)
{
    const test_folder *folder = *state;
    char images_path[128], labels_path[128];
    byte_buffer gz = noisy_images_gzip(folder, images_path, sizeof images_path);
    assert_true(gz.size > 1000);
    for (size_t i = gz.size / 2; i < gz.size / 2 + 16; i++)
        gz.bytes[i] ^= 0xa5;
    write_raw(images_path, gz.bytes, gz.size);
    buffer_free(&gz);
    byte_buffer labels = fixture_labels();
    file_path(folder, "good-labels", labels_path, sizeof labels_path);
    write_raw(labels_path, labels.bytes, labels.size);
    buffer_free(&labels);
    expect_open_failure(images_path, labels_path, FIXTURE_CLASSES,
                        COSNET_ERROR_CORRUPT, images_path, "corrupt gzip",
                        NULL);

    /* A damaged CRC: the data inflates but the check fails. */
    gz = noisy_images_gzip(folder, images_path, sizeof images_path);
    gz.bytes[gz.size - 6] ^= 0x01;
    write_raw(images_path, gz.bytes, gz.size);
    buffer_free(&gz);
    expect_open_failure(images_path, labels_path, FIXTURE_CLASSES,
                        COSNET_ERROR_CORRUPT, images_path,
                        "incorrect data check", NULL);

    /* A gzip magic followed by an unknown compression method. */
    static const uint8_t bad_method[] = {
        0x1f, 0x8b, 0x09, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    write_raw(images_path, bad_method, sizeof bad_method);
    expect_open_failure(images_path, labels_path, FIXTURE_CLASSES,
                        COSNET_ERROR_CORRUPT, images_path, "corrupt gzip",
                        NULL);

    /* Junk after a complete stream. */
    gz = noisy_images_gzip(folder, images_path, sizeof images_path);
    uint8_t *longer = realloc(gz.bytes, gz.size + 3);
    assert_non_null(longer);
    gz.bytes = longer;
    memcpy(gz.bytes + gz.size, "xyz", 3);
    char offset[32];
    snprintf(offset, sizeof offset, "at byte %zu", gz.size);
    gz.size += 3;
    write_raw(images_path, gz.bytes, gz.size);
    buffer_free(&gz);
    expect_open_failure(images_path, labels_path, FIXTURE_CLASSES,
                        COSNET_ERROR_CORRUPT, images_path, "junk byte 0x78",
                        offset);
    unlink(images_path);
    unlink(labels_path);
}

static void test_truncated_gzip(void **state)
{
    const test_folder *folder = *state;
    char images_path[128], labels_path[128];
    byte_buffer labels = fixture_labels();
    file_path(folder, "good-labels", labels_path, sizeof labels_path);
    write_raw(labels_path, labels.bytes, labels.size);
    buffer_free(&labels);

    /* Cut in the middle of the deflate data. */
    byte_buffer gz = noisy_images_gzip(folder, images_path, sizeof images_path);
    size_t full = gz.size;
    write_raw(images_path, gz.bytes, full / 2);
    char consumed[64];
    snprintf(consumed, sizeof consumed, "after %zu compressed bytes", full / 2);
    expect_open_failure(images_path, labels_path, FIXTURE_CLASSES,
                        COSNET_ERROR_TRUNCATED, images_path,
                        "truncated gzip stream", consumed);

    /* Only the 8-byte trailer (CRC and size) missing: all data present. */
    write_raw(images_path, gz.bytes, full - 8);
    expect_open_failure(images_path, labels_path, FIXTURE_CLASSES,
                        COSNET_ERROR_TRUNCATED, images_path,
                        "truncated gzip stream", NULL);

    /* Nothing but the gzip magic. */
    write_raw(images_path, gz.bytes, 2);
    expect_open_failure(images_path, labels_path, FIXTURE_CLASSES,
                        COSNET_ERROR_TRUNCATED, images_path,
                        "truncated gzip stream", NULL);
    buffer_free(&gz);
    unlink(images_path);
    unlink(labels_path);
}

static void test_missing_file(void **state)
{
    const test_folder *folder = *state;
    char images_path[128], labels_path[128], missing[128];
    write_fixture(folder, "good-images", "good-labels", 0, images_path,
                  labels_path, sizeof images_path);
    file_path(folder, "no-such-file", missing, sizeof missing);
    expect_open_failure(missing, labels_path, FIXTURE_CLASSES, COSNET_ERROR_IO,
                        missing, strerror(ENOENT), NULL);
    expect_open_failure(images_path, missing, FIXTURE_CLASSES, COSNET_ERROR_IO,
                        missing, strerror(ENOENT), NULL);
    /* A folder is not a file. */
    expect_open_failure(folder->path, labels_path, FIXTURE_CLASSES,
                        COSNET_ERROR_IO, folder->path, strerror(EISDIR), NULL);
    unlink(images_path);
    unlink(labels_path);
}

static void test_class_count_bounds(void **state)
{
    const test_folder *folder = *state;
    char images_path[128], labels_path[128];
    write_fixture(folder, "good-images", "good-labels", 0, images_path,
                  labels_path, sizeof images_path);
    expect_open_failure(images_path, labels_path, 0,
                        COSNET_ERROR_INVALID_ARGUMENT, "class_count 0", NULL,
                        NULL);
    expect_open_failure(images_path, labels_path, 257,
                        COSNET_ERROR_INVALID_ARGUMENT, "class_count 257", NULL,
                        NULL);
    /* The bounds themselves are fine. */
    cosnet_dataset *dataset = NULL;
    assert_int_equal(
        cosnet_dataset_open(images_path, labels_path, 256, &dataset),
        COSNET_OK);
    assert_int_equal(cosnet_dataset_class_count(dataset), 256);
    cosnet_dataset_free(dataset);
    /* class_count 1 makes label 1 out of range. */
    expect_open_failure(images_path, labels_path, 1, COSNET_ERROR_OUT_OF_RANGE,
                        labels_path, "label 1 at index 1", NULL);
    unlink(images_path);
    unlink(labels_path);
}

static void test_null_arguments(void **state)
{
    const test_folder *folder = *state;
    char images_path[128], labels_path[128];
    write_fixture(folder, "good-images", "good-labels", 0, images_path,
                  labels_path, sizeof images_path);
    expect_open_failure(NULL, labels_path, FIXTURE_CLASSES,
                        COSNET_ERROR_INVALID_ARGUMENT, "images_path", NULL,
                        NULL);
    expect_open_failure(images_path, NULL, FIXTURE_CLASSES,
                        COSNET_ERROR_INVALID_ARGUMENT, "labels_path", NULL,
                        NULL);
    assert_int_equal(
        cosnet_dataset_open(images_path, labels_path, FIXTURE_CLASSES, NULL),
        COSNET_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(cosnet_last_error(), "out"));
    cosnet_dataset_free(NULL); /* a no-op */
    unlink(images_path);
    unlink(labels_path);
}

static void test_size_limit(void **state)
{
    /* The reader's limit, exercised with a small one: raw and gzip. */
    const test_folder *folder = *state;
    char path[128];
    byte_buffer images = fixture_images(); /* 376 bytes */
    uint8_t *bytes = NULL;
    size_t size = 0;

    file_path(folder, "plain", path, sizeof path);
    write_raw(path, images.bytes, images.size);
    assert_int_equal(idx_read_file(path, 375, &bytes, &size, NULL),
                     COSNET_ERROR_OVERFLOW);
    assert_null(bytes);
    assert_non_null(strstr(cosnet_last_error(), "375-byte limit"));
    assert_int_equal(idx_read_file(path, 376, &bytes, &size, NULL), COSNET_OK);
    assert_int_equal(size, 376);
    assert_memory_equal(bytes, images.bytes, 376);
    memory_free(bytes);
    bytes = NULL;
    unlink(path);

    file_path(folder, "squeezed.gz", path, sizeof path);
    write_gzip(path, images.bytes, images.size);
    assert_int_equal(idx_read_file(path, 375, &bytes, &size, NULL),
                     COSNET_ERROR_OVERFLOW);
    assert_null(bytes);
    assert_non_null(strstr(cosnet_last_error(), "decompresses to more than"));
    int compressed = 0;
    assert_int_equal(idx_read_file(path, 376, &bytes, &size, &compressed),
                     COSNET_OK);
    assert_int_equal(compressed, 1);
    assert_int_equal(size, 376);
    assert_memory_equal(bytes, images.bytes, 376);
    memory_free(bytes);
    unlink(path);
    buffer_free(&images);
}

/* ---- good inputs ------------------------------------------------------- */

static void test_raw_and_gzip_agree(void **state)
{
    cosnet_dataset *raw = open_fixture(*state, 0);
    cosnet_dataset *gz = open_fixture(*state, 1);
    assert_int_equal(cosnet_dataset_count(gz), FIXTURE_COUNT);
    for (size_t i = 0; i < FIXTURE_COUNT; i++) {
        assert_memory_equal(cosnet_dataset_image(raw, i),
                            cosnet_dataset_image(gz, i), FIXTURE_PIXELS);
        assert_int_equal(cosnet_dataset_label(raw, i),
                         cosnet_dataset_label(gz, i));
    }
    cosnet_dataset_free(raw);
    cosnet_dataset_free(gz);

    /* Form is recognised by content: a gzip file without ".gz" and a raw
     * file with it both read. */
    const test_folder *folder = *state;
    char images_path[128], labels_path[128];
    byte_buffer images = fixture_images(), labels = fixture_labels();
    file_path(folder, "plain", images_path, sizeof images_path);
    file_path(folder, "bad-labels.gz", labels_path, sizeof labels_path);
    write_gzip(images_path, images.bytes, images.size);
    write_raw(labels_path, labels.bytes, labels.size);
    cosnet_dataset *mixed = NULL;
    assert_int_equal(
        cosnet_dataset_open(images_path, labels_path, FIXTURE_CLASSES, &mixed),
        COSNET_OK);
    assert_memory_equal(cosnet_dataset_image(mixed, 0), images.bytes + 16,
                        FIXTURE_COUNT * FIXTURE_PIXELS);
    cosnet_dataset_free(mixed);
    buffer_free(&images);
    buffer_free(&labels);
    unlink(images_path);
    unlink(labels_path);
}

static void test_multi_member_gzip_and_large_file(void **state)
{
    /* 3000 images in three gzip members: several input chunks, and the
     * size hint (the last member's) too small, so the buffer grows. */
    const test_folder *folder = *state;
    enum { COUNT = 3000, SIDE = 28 };
    size_t pixel_bytes = (size_t)COUNT * SIDE * SIDE;
    uint8_t *pixels = malloc(pixel_bytes);
    uint8_t *labels = malloc(COUNT);
    assert_non_null(pixels);
    assert_non_null(labels);
    uint32_t x = 99;
    for (size_t i = 0; i < pixel_bytes; i++) {
        x = x * 1664525u + 1013904223u;
        pixels[i] = (uint8_t)(x >> 24);
    }
    for (size_t i = 0; i < COUNT; i++)
        labels[i] = (uint8_t)(i % 10);
    byte_buffer images =
        images_header(0x803, COUNT, SIDE, SIDE, pixel_bytes, pixels);
    char images_path[128], labels_path[128];
    file_path(folder, "big-images.gz", images_path, sizeof images_path);
    FILE *file = fopen(images_path, "wb");
    assert_non_null(file);
    assert_int_equal(fclose(file), 0);
    size_t cuts[4] = {0, 1000, images.size - 10, images.size};
    for (int member = 0; member < 3; member++) {
        gzFile gz = gzopen(images_path, "ab");
        assert_non_null(gz);
        unsigned length = (unsigned)(cuts[member + 1] - cuts[member]);
        assert_int_equal(gzwrite(gz, images.bytes + cuts[member], length),
                         (int)length);
        assert_int_equal(gzclose(gz), Z_OK);
    }
    byte_buffer label_file = labels_file(0x801, COUNT, COUNT, labels);
    file_path(folder, "big-labels", labels_path, sizeof labels_path);
    write_raw(labels_path, label_file.bytes, label_file.size);

    cosnet_dataset *dataset = NULL;
    assert_int_equal(
        cosnet_dataset_open(images_path, labels_path, 10, &dataset), COSNET_OK);
    assert_int_equal(cosnet_dataset_count(dataset), COUNT);
    assert_int_equal(cosnet_dataset_rows(dataset), SIDE);
    assert_memory_equal(cosnet_dataset_image(dataset, 0), pixels, pixel_bytes);
    assert_int_equal(cosnet_dataset_label(dataset, 2999), 9);
    for (unsigned k = 0; k < 10; k++)
        assert_int_equal(cosnet_dataset_class_size(dataset, k), COUNT / 10);
    cosnet_dataset_free(dataset);
    free(pixels);
    free(labels);
    buffer_free(&images);
    buffer_free(&label_file);
    unlink(images_path);
    unlink(labels_path);
}

static void test_accessors(void **state)
{
    cosnet_dataset *dataset = open_fixture(*state, 0);
    assert_int_equal(cosnet_dataset_count(dataset), FIXTURE_COUNT);
    assert_int_equal(cosnet_dataset_rows(dataset), FIXTURE_ROWS);
    assert_int_equal(cosnet_dataset_columns(dataset), FIXTURE_COLUMNS);
    assert_int_equal(cosnet_dataset_class_count(dataset), FIXTURE_CLASSES);
    for (size_t i = 0; i < FIXTURE_COUNT; i++) {
        const uint8_t *image = cosnet_dataset_image(dataset, i);
        assert_non_null(image);
        for (size_t p = 0; p < FIXTURE_PIXELS; p++)
            assert_int_equal(image[p], fixture_pixel(i, p));
        assert_int_equal(cosnet_dataset_label(dataset, i), fixture_label(i));
    }
    /* Images are contiguous, one after the other. */
    assert_ptr_equal(cosnet_dataset_image(dataset, 1),
                     cosnet_dataset_image(dataset, 0) + FIXTURE_PIXELS);
    cosnet_dataset_free(dataset);
}

static void test_accessors_null_and_range(void **state)
{
    cosnet_dataset *dataset = open_fixture(*state, 0);
    assert_int_equal(cosnet_dataset_count(NULL), 0);
    assert_int_equal(cosnet_dataset_rows(NULL), 0);
    assert_int_equal(cosnet_dataset_columns(NULL), 0);
    assert_int_equal(cosnet_dataset_class_count(NULL), 0);
    assert_null(cosnet_dataset_image(NULL, 0));
    assert_int_equal(cosnet_dataset_label(NULL, 0), -1);
    assert_null(cosnet_dataset_image(dataset, FIXTURE_COUNT));
    assert_null(cosnet_dataset_image(dataset, SIZE_MAX));
    assert_int_equal(cosnet_dataset_label(dataset, FIXTURE_COUNT), -1);
    assert_int_equal(cosnet_dataset_label(dataset, SIZE_MAX), -1);
    assert_non_null(cosnet_dataset_image(dataset, FIXTURE_COUNT - 1));
    cosnet_dataset_free(dataset);
}

static void test_to_float(void **state)
{
    cosnet_dataset *dataset = open_fixture(*state, 0);
    float out[FIXTURE_COUNT * FIXTURE_PIXELS];
    assert_int_equal(cosnet_dataset_to_float(dataset, 0, 1, out), COSNET_OK);
    assert_true(out[0] == 0.0f);
    assert_true(out[1] == 1.0f);
    assert_true(out[2] == 0.2f);
    assert_true(out[2] == 51 / 255.0f);
    assert_true(out[3] == 1 / 255.0f);
    assert_true(out[4] == 128 / 255.0f);
    assert_true(out[5] == 254 / 255.0f);

    /* A middle range, every value. */
    assert_int_equal(cosnet_dataset_to_float(dataset, 7, 5, out), COSNET_OK);
    for (size_t i = 0; i < 5; i++)
        for (size_t p = 0; p < FIXTURE_PIXELS; p++)
            assert_true(out[i * FIXTURE_PIXELS + p] ==
                        (float)fixture_pixel(7 + i, p) / 255.0f);
    /* The whole set; and an empty range at the end. */
    assert_int_equal(cosnet_dataset_to_float(dataset, 0, FIXTURE_COUNT, out),
                     COSNET_OK);
    assert_true(out[(FIXTURE_COUNT - 1) * FIXTURE_PIXELS + 5] ==
                (float)fixture_pixel(FIXTURE_COUNT - 1, 5) / 255.0f);
    assert_int_equal(cosnet_dataset_to_float(dataset, FIXTURE_COUNT, 0, out),
                     COSNET_OK);
    cosnet_dataset_free(dataset);
}

static void test_to_float_errors(void **state)
{
    cosnet_dataset *dataset = open_fixture(*state, 0);
    float out[2 * FIXTURE_PIXELS];
    for (size_t i = 0; i < 2 * FIXTURE_PIXELS; i++)
        out[i] = -7.0f;
    assert_int_equal(cosnet_dataset_to_float(dataset, 59, 2, out),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(cosnet_last_error(), "[59, 59 + 2)"));
    assert_non_null(strstr(cosnet_last_error(), "60 images"));
    assert_int_equal(cosnet_dataset_to_float(dataset, 61, 0, out),
                     COSNET_ERROR_INVALID_ARGUMENT);
    /* first + count wraps around: still rejected. */
    assert_int_equal(cosnet_dataset_to_float(dataset, 1, SIZE_MAX, out),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_dataset_to_float(dataset, SIZE_MAX, 2, out),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_dataset_to_float(NULL, 0, 1, out),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_dataset_to_float(dataset, 0, 1, NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);
    for (size_t i = 0; i < 2 * FIXTURE_PIXELS; i++)
        assert_true(out[i] == -7.0f); /* untouched */
    cosnet_dataset_free(dataset);
}

static void test_gather_float(void **state)
{
    cosnet_dataset *dataset = open_fixture(*state, 0);
    const size_t indices[4] = {5, 0, 59, 5};
    float out[4 * FIXTURE_PIXELS], one[FIXTURE_PIXELS];
    assert_int_equal(cosnet_dataset_gather_float(dataset, indices, 4, out),
                     COSNET_OK);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(cosnet_dataset_to_float(dataset, indices[i], 1, one),
                         COSNET_OK);
        assert_memory_equal(out + i * FIXTURE_PIXELS, one, sizeof one);
    }
    assert_true(out[FIXTURE_PIXELS + 2] == 0.2f);

    /* An index out of range: rejected before anything is written. */
    for (size_t i = 0; i < 4 * FIXTURE_PIXELS; i++)
        out[i] = -7.0f;
    const size_t bad[3] = {1, 2, 60};
    assert_int_equal(cosnet_dataset_gather_float(dataset, bad, 3, out),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(cosnet_last_error(), "indices[2] = 60"));
    for (size_t i = 0; i < 4 * FIXTURE_PIXELS; i++)
        assert_true(out[i] == -7.0f);
    assert_int_equal(cosnet_dataset_gather_float(NULL, indices, 1, out),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_dataset_gather_float(dataset, NULL, 1, out),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_dataset_gather_float(dataset, indices, 1, NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_dataset_gather_float(dataset, indices, 0, out),
                     COSNET_OK);
    cosnet_dataset_free(dataset);
}

static void test_class_size(void **state)
{
    cosnet_dataset *dataset = open_fixture(*state, 0);
    size_t total = 0;
    for (unsigned k = 0; k < FIXTURE_CLASSES; k++) {
        assert_int_equal(cosnet_dataset_class_size(dataset, k),
                         fixture_class_sizes[k]);
        total += cosnet_dataset_class_size(dataset, k);
    }
    assert_int_equal(total, FIXTURE_COUNT);
    assert_int_equal(cosnet_dataset_class_size(dataset, FIXTURE_CLASSES), 0);
    assert_int_equal(cosnet_dataset_class_size(dataset, 1000), 0);
    assert_int_equal(cosnet_dataset_class_size(NULL, 0), 0);
    cosnet_dataset_free(dataset);
}

/* The documented algorithm, written out independently: class members in
 * file order, Fisher-Yates from the end with random_below(i + 1). */
static void reference_subset(unsigned label, size_t count, uint64_t seed,
                             size_t *out)
{
    size_t members[FIXTURE_COUNT], n = 0;
    for (size_t i = 0; i < FIXTURE_COUNT; i++)
        if (fixture_label(i) == label)
            members[n++] = i;
    random_generator generator;
    random_seed(&generator, seed);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)random_below(&generator, i + 1);
        size_t t = members[i];
        members[i] = members[j];
        members[j] = t;
    }
    memcpy(out, members, count * sizeof *out);
}

static void test_subset(void **state)
{
    cosnet_dataset *dataset = open_fixture(*state, 0);
    size_t a[18], b[18], reference[18];

    assert_int_equal(cosnet_dataset_class_subset(dataset, 0, 10, 42, a),
                     COSNET_OK);
    assert_int_equal(cosnet_dataset_class_subset(dataset, 0, 10, 42, b),
                     COSNET_OK);
    assert_memory_equal(a, b, 10 * sizeof a[0]);
    reference_subset(0, 10, 42, reference);
    assert_memory_equal(a, reference, 10 * sizeof a[0]);

    /* Another seed, another subset. */
    assert_int_equal(cosnet_dataset_class_subset(dataset, 0, 10, 43, b),
                     COSNET_OK);
    assert_memory_not_equal(a, b, 10 * sizeof a[0]);

    /* A smaller request is a prefix of a larger one. */
    assert_int_equal(cosnet_dataset_class_subset(dataset, 0, 4, 42, b),
                     COSNET_OK);
    assert_memory_equal(a, b, 4 * sizeof a[0]);

    for (unsigned label = 0; label < 4; label++) {
        size_t count = fixture_class_sizes[label] - 3;
        assert_int_equal(
            cosnet_dataset_class_subset(dataset, label, count, 7, a),
            COSNET_OK);
        for (size_t i = 0; i < count; i++) {
            assert_true(a[i] < FIXTURE_COUNT);
            assert_int_equal(cosnet_dataset_label(dataset, a[i]), label);
            for (size_t j = 0; j < i; j++)
                assert_true(a[i] != a[j]);
        }
    }
    cosnet_dataset_free(dataset);
}

static void test_subset_whole_class(void **state)
{
    cosnet_dataset *dataset = open_fixture(*state, 0);
    size_t a[18];
    assert_int_equal(cosnet_dataset_class_subset(dataset, 1, 14, 2024, a),
                     COSNET_OK);
    /* A permutation of the class: each member exactly once. */
    int seen[FIXTURE_COUNT] = {0};
    for (size_t i = 0; i < 14; i++) {
        assert_true(a[i] < FIXTURE_COUNT);
        assert_int_equal(cosnet_dataset_label(dataset, a[i]), 1);
        seen[a[i]]++;
    }
    for (size_t i = 0; i < FIXTURE_COUNT; i++)
        assert_int_equal(seen[i], fixture_label(i) == 1 ? 1 : 0);
    /* ... and actually shuffled, not file order. */
    int in_order = 1;
    for (size_t i = 1; i < 14; i++)
        in_order &= a[i] > a[i - 1];
    assert_false(in_order);
    cosnet_dataset_free(dataset);
}

static void test_subset_errors(void **state)
{
    cosnet_dataset *dataset = open_fixture(*state, 0);
    size_t out[20];
    for (size_t i = 0; i < 20; i++)
        out[i] = 777;
    assert_int_equal(cosnet_dataset_class_subset(dataset, 0, 19, 1, out),
                     COSNET_ERROR_NOT_ENOUGH_DATA);
    assert_non_null(strstr(cosnet_last_error(), "19 images requested"));
    assert_non_null(strstr(cosnet_last_error(), "only 18"));
    assert_int_equal(cosnet_dataset_class_subset(dataset, 4, 1, 1, out),
                     COSNET_ERROR_NOT_ENOUGH_DATA);
    assert_int_equal(cosnet_dataset_class_subset(dataset, 0, 0, 1, out),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_dataset_class_subset(dataset, 5, 1, 1, out),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(cosnet_last_error(), "label 5"));
    assert_int_equal(cosnet_dataset_class_subset(NULL, 0, 1, 1, out),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_dataset_class_subset(dataset, 0, 1, 1, NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);
    for (size_t i = 0; i < 20; i++)
        assert_int_equal(out[i], 777);
    cosnet_dataset_free(dataset);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_image_magic),
        cmocka_unit_test(test_bad_label_magic),
        cmocka_unit_test(test_wrong_dimension_byte),
        cmocka_unit_test(test_wrong_type_byte),
        cmocka_unit_test(test_zero_dimensions),
        cmocka_unit_test(test_truncated_images),
        cmocka_unit_test(test_truncated_labels),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_count_mismatch),
        cmocka_unit_test(test_label_out_of_range),
        cmocka_unit_test(test_size_overflow),
        cmocka_unit_test(test_corrupt_gzip),
        cmocka_unit_test(test_truncated_gzip),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_class_count_bounds),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_raw_and_gzip_agree),
        cmocka_unit_test(test_multi_member_gzip_and_large_file),
        cmocka_unit_test(test_accessors),
        cmocka_unit_test(test_accessors_null_and_range),
        cmocka_unit_test(test_to_float),
        cmocka_unit_test(test_to_float_errors),
        cmocka_unit_test(test_gather_float),
        cmocka_unit_test(test_class_size),
        cmocka_unit_test(test_subset),
        cmocka_unit_test(test_subset_whole_class),
        cmocka_unit_test(test_subset_errors),
    };
    return cmocka_run_group_tests(tests, make_folder, remove_folder);
}
