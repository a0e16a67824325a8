/* Unit tests of cosnet_dataset_create: good and bad inputs, copying,
 * allocation failures, and that a created dataset behaves exactly like the
 * opened IDX pair holding the same bytes (written here to a fresh mkdtemp
 * folder). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cosnet.h"
#include "common/memory.h"

/* The fixture: 50 images of 3 rows x 5 columns, class_count 7; labels
 * (i * 5) % 6 = 0, 5, 4, 3, 2, 1, 0, ... (classes 0 and 5 hold 9 images,
 * 1 to 4 hold 8), so class 6 is empty. */
enum {
    COUNT = 50,
    ROWS = 3,
    COLUMNS = 5,
    PIXELS = ROWS * COLUMNS,
    CLASSES = 7
};

typedef struct fixture {
    uint8_t pixels[COUNT * PIXELS];
    uint8_t labels[COUNT];
} fixture;

static void fixture_fill(fixture *f)
{
    for (size_t i = 0; i < COUNT; i++) {
        for (size_t p = 0; p < PIXELS; p++)
            f->pixels[i * PIXELS + p] =
                (uint8_t)((i * 37 + p * 101 + 7) & 0xff);
        f->labels[i] = (uint8_t)((i * 5) % 6);
    }
    /* Every byte value that matters for the float conversion. */
    f->pixels[0] = 0;
    f->pixels[1] = 255;
    f->pixels[2] = 51;
    f->pixels[3] = 1;
}

static cosnet_dataset *create_fixture(const fixture *f)
{
    cosnet_dataset *dataset = NULL;
    assert_int_equal(cosnet_dataset_create(COUNT, ROWS, COLUMNS, f->pixels,
                                           f->labels, CLASSES, &dataset),
                     COSNET_OK);
    assert_non_null(dataset);
    return dataset;
}

/* A handle value no failed call may write. */
static cosnet_dataset *const untouched = (cosnet_dataset *)(uintptr_t)0x5a5a;

/* Creates and expects `status`, *out unchanged, and `needle` (if not NULL)
 * in the message. */
static void expect_failure(size_t count, size_t rows, size_t columns,
                           const uint8_t *pixels, const uint8_t *labels,
                           unsigned classes, cosnet_status status,
                           const char *needle)
{
    cosnet_dataset *dataset = untouched;
    const cosnet_status got = cosnet_dataset_create(
        count, rows, columns, pixels, labels, classes, &dataset);
    const char *message = cosnet_last_error();
    if (got != status)
        print_error("status %d (%s), expected %d; message: %s\n", (int)got,
                    cosnet_strerror(got), (int)status, message);
    assert_int_equal(got, status);
    assert_ptr_equal(dataset, untouched);
    if (needle && !strstr(message, needle)) {
        print_error("message \"%s\" lacks \"%s\"\n", message, needle);
        fail();
    }
}

/* ---- good inputs -------------------------------------------------------- */

static void test_create_accessors(void **state)
{
    (void)state;
    fixture f;
    fixture_fill(&f);
    cosnet_dataset *dataset = create_fixture(&f);
    assert_int_equal(cosnet_dataset_count(dataset), COUNT);
    assert_int_equal(cosnet_dataset_rows(dataset), ROWS);
    assert_int_equal(cosnet_dataset_columns(dataset), COLUMNS);
    assert_int_equal(cosnet_dataset_class_count(dataset), CLASSES);
    for (size_t i = 0; i < COUNT; i++) {
        const uint8_t *image = cosnet_dataset_image(dataset, i);
        assert_non_null(image);
        assert_memory_equal(image, f.pixels + i * PIXELS, PIXELS);
        assert_int_equal(cosnet_dataset_label(dataset, i), f.labels[i]);
    }
    assert_null(cosnet_dataset_image(dataset, COUNT));
    assert_int_equal(cosnet_dataset_label(dataset, COUNT), -1);
    static const size_t sizes[CLASSES] = {9, 8, 8, 8, 8, 9, 0};
    for (unsigned k = 0; k < CLASSES; k++)
        assert_int_equal(cosnet_dataset_class_size(dataset, k), sizes[k]);
    assert_int_equal(cosnet_dataset_class_size(dataset, CLASSES), 0);
    cosnet_dataset_free(dataset);
}

/* The dataset holds copies: the caller's buffers may change or go away. */
static void test_create_copies(void **state)
{
    (void)state;
    fixture f, original;
    fixture_fill(&f);
    original = f;
    cosnet_dataset *dataset = create_fixture(&f);
    assert_true(cosnet_dataset_image(dataset, 0) != f.pixels);
    memset(f.pixels, 0xee, sizeof f.pixels);
    memset(f.labels, 0, sizeof f.labels);
    for (size_t i = 0; i < COUNT; i++) {
        assert_memory_equal(cosnet_dataset_image(dataset, i),
                            original.pixels + i * PIXELS, PIXELS);
        assert_int_equal(cosnet_dataset_label(dataset, i), original.labels[i]);
    }
    cosnet_dataset_free(dataset);
}

/* The smallest dataset, one class, and every label value of 256 classes;
 * images of any shape, not only square ones. */
static void test_create_extremes(void **state)
{
    (void)state;
    const uint8_t pixel = 200, label = 0;
    cosnet_dataset *dataset = NULL;
    assert_int_equal(
        cosnet_dataset_create(1, 1, 1, &pixel, &label, 1, &dataset), COSNET_OK);
    assert_int_equal(cosnet_dataset_count(dataset), 1);
    float value = -1.0f;
    assert_int_equal(cosnet_dataset_to_float(dataset, 0, 1, &value), COSNET_OK);
    assert_true(value == 200.0f / 255.0f);
    size_t index = 99;
    assert_int_equal(cosnet_dataset_class_subset(dataset, 0, 1, 5, &index),
                     COSNET_OK);
    assert_int_equal(index, 0);
    cosnet_dataset_free(dataset);

    enum { WIDE = 256 };
    static uint8_t pixels[WIDE * 1 * 300], labels[WIDE];
    for (size_t i = 0; i < WIDE; i++)
        labels[i] = (uint8_t)(255 - i);
    assert_int_equal(
        cosnet_dataset_create(WIDE, 1, 300, pixels, labels, 256, &dataset),
        COSNET_OK);
    assert_int_equal(cosnet_dataset_rows(dataset), 1);
    assert_int_equal(cosnet_dataset_columns(dataset), 300);
    for (unsigned k = 0; k < 256; k++)
        assert_int_equal(cosnet_dataset_class_size(dataset, k), 1);
    assert_int_equal(cosnet_dataset_label(dataset, 0), 255);
    cosnet_dataset_free(dataset);
    cosnet_dataset_free(NULL);
}

/* ---- bad inputs --------------------------------------------------------- */

static void test_create_bad_arguments(void **state)
{
    (void)state;
    fixture f;
    fixture_fill(&f);
    const uint8_t *p = f.pixels, *l = f.labels;
    assert_int_equal(
        cosnet_dataset_create(COUNT, ROWS, COLUMNS, p, l, CLASSES, NULL),
        COSNET_ERROR_INVALID_ARGUMENT);
    expect_failure(COUNT, ROWS, COLUMNS, NULL, l, CLASSES,
                   COSNET_ERROR_INVALID_ARGUMENT, "pixels");
    expect_failure(COUNT, ROWS, COLUMNS, p, NULL, CLASSES,
                   COSNET_ERROR_INVALID_ARGUMENT, "labels");
    expect_failure(0, ROWS, COLUMNS, p, l, CLASSES,
                   COSNET_ERROR_INVALID_ARGUMENT, "count is 0");
    expect_failure(COUNT, 0, COLUMNS, p, l, CLASSES,
                   COSNET_ERROR_INVALID_ARGUMENT, "rows is 0");
    expect_failure(COUNT, ROWS, 0, p, l, CLASSES, COSNET_ERROR_INVALID_ARGUMENT,
                   "columns is 0");
    expect_failure(COUNT, ROWS, COLUMNS, p, l, 0, COSNET_ERROR_INVALID_ARGUMENT,
                   "class_count 0");
    expect_failure(COUNT, ROWS, COLUMNS, p, l, 257,
                   COSNET_ERROR_INVALID_ARGUMENT, "class_count 257");
}

static void test_create_label_out_of_range(void **state)
{
    (void)state;
    fixture f;
    fixture_fill(&f);
    /* Labels reach 5 (first at index 1): six classes is the fewest that
     * holds them. */
    expect_failure(COUNT, ROWS, COLUMNS, f.pixels, f.labels, 5,
                   COSNET_ERROR_OUT_OF_RANGE, "labels[1] = 5");
    f.labels[37] = 7;
    expect_failure(COUNT, ROWS, COLUMNS, f.pixels, f.labels, CLASSES,
                   COSNET_ERROR_OUT_OF_RANGE,
                   "labels[37] = 7 is not below class_count 7");
    f.labels[37] = 255;
    expect_failure(COUNT, ROWS, COLUMNS, f.pixels, f.labels, 255,
                   COSNET_ERROR_OUT_OF_RANGE, "labels[37] = 255");
    f.labels[37] = 6;
    cosnet_dataset *dataset = NULL;
    assert_int_equal(cosnet_dataset_create(COUNT, ROWS, COLUMNS, f.pixels,
                                           f.labels, CLASSES, &dataset),
                     COSNET_OK);
    assert_int_equal(cosnet_dataset_class_size(dataset, 6), 1);
    cosnet_dataset_free(dataset);
}

/* Sizes that overflow or exceed the limit fail before any byte is read:
 * the buffers here are far smaller than the sizes claim. */
static void test_create_sizes(void **state)
{
    (void)state;
    const uint8_t tiny[1] = {0}, label[1] = {0};
    expect_failure(1, SIZE_MAX, 2, tiny, label, 1, COSNET_ERROR_OVERFLOW,
                   "overflow");
    expect_failure(1, 2, SIZE_MAX / 2 + 1, tiny, label, 1,
                   COSNET_ERROR_OVERFLOW, "overflow");
    expect_failure(SIZE_MAX / 4, 4, 4, tiny, label, 1, COSNET_ERROR_OVERFLOW,
                   "overflow");
    expect_failure(1, (size_t)1 << 15, ((size_t)1 << 15) + 1, tiny, label, 1,
                   COSNET_ERROR_OVERFLOW, "limit");
    expect_failure(((size_t)1 << 30) + 1, 1, 1, tiny, label, 1,
                   COSNET_ERROR_OVERFLOW, "1073741825 bytes");
}

/* Every allocation failure gives OUT_OF_MEMORY, *out untouched and nothing
 * leaked (the sanitizer build checks leaks). */
static void test_create_out_of_memory(void **state)
{
    (void)state;
    fixture f;
    fixture_fill(&f);
    unsigned long allocations = 0;
    for (unsigned long n = 1;; n++) {
        memory_fail_after(n);
        cosnet_dataset *dataset = untouched;
        const cosnet_status status = cosnet_dataset_create(
            COUNT, ROWS, COLUMNS, f.pixels, f.labels, CLASSES, &dataset);
        memory_fail_after(0);
        if (status == COSNET_OK) {
            cosnet_dataset_free(dataset);
            allocations = n - 1;
            break;
        }
        assert_int_equal(status, COSNET_ERROR_OUT_OF_MEMORY);
        assert_ptr_equal(dataset, untouched);
        assert_true(n < 10);
    }
    assert_true(allocations >= 1);
}

/* ---- same as IDX -------------------------------------------------------- */

static void put_big_endian_32(FILE *file, uint32_t value)
{
    const uint8_t bytes[4] = {(uint8_t)(value >> 24), (uint8_t)(value >> 16),
                              (uint8_t)(value >> 8), (uint8_t)value};
    assert_int_equal(fwrite(bytes, 1, 4, file), 4);
}

static void write_idx(const char *path, uint32_t magic, const uint32_t *dims,
                      int dim_count, const uint8_t *data, size_t size)
{
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    put_big_endian_32(file, magic);
    for (int d = 0; d < dim_count; d++)
        put_big_endian_32(file, dims[d]);
    assert_int_equal(fwrite(data, 1, size, file), size);
    assert_int_equal(fclose(file), 0);
}

static void expect_same_floats(const float *a, const float *b, size_t n)
{
    /* Bit for bit: both come from the same bytes by the same rule. */
    assert_memory_equal(a, b, n * sizeof(float));
}

static void test_same_as_idx(void **state)
{
    (void)state;
    fixture f;
    fixture_fill(&f);
    char folder[] = "/tmp/cosnet-test-dataset-memory-XXXXXX";
    assert_non_null(mkdtemp(folder));
    char images_path[128], labels_path[128];
    snprintf(images_path, sizeof images_path, "%s/images", folder);
    snprintf(labels_path, sizeof labels_path, "%s/labels", folder);
    const uint32_t image_dims[3] = {COUNT, ROWS, COLUMNS};
    const uint32_t label_dims[1] = {COUNT};
    write_idx(images_path, 0x803, image_dims, 3, f.pixels, sizeof f.pixels);
    write_idx(labels_path, 0x801, label_dims, 1, f.labels, sizeof f.labels);
    cosnet_dataset *opened = NULL;
    assert_int_equal(
        cosnet_dataset_open(images_path, labels_path, CLASSES, &opened),
        COSNET_OK);
    unlink(images_path);
    unlink(labels_path);
    assert_int_equal(rmdir(folder), 0);
    cosnet_dataset *created = create_fixture(&f);

    assert_int_equal(cosnet_dataset_count(created),
                     cosnet_dataset_count(opened));
    assert_int_equal(cosnet_dataset_rows(created), cosnet_dataset_rows(opened));
    assert_int_equal(cosnet_dataset_columns(created),
                     cosnet_dataset_columns(opened));
    assert_int_equal(cosnet_dataset_class_count(created),
                     cosnet_dataset_class_count(opened));
    for (size_t i = 0; i <= COUNT; i++) {
        assert_int_equal(cosnet_dataset_label(created, i),
                         cosnet_dataset_label(opened, i));
        const uint8_t *a = cosnet_dataset_image(created, i);
        const uint8_t *b = cosnet_dataset_image(opened, i);
        assert_int_equal(a == NULL, b == NULL);
        if (a)
            assert_memory_equal(a, b, PIXELS);
    }

    /* to_float: the whole set, a middle range, and the same error past the
     * end. */
    static float from_created[COUNT * PIXELS], from_opened[COUNT * PIXELS];
    assert_int_equal(cosnet_dataset_to_float(created, 0, COUNT, from_created),
                     COSNET_OK);
    assert_int_equal(cosnet_dataset_to_float(opened, 0, COUNT, from_opened),
                     COSNET_OK);
    expect_same_floats(from_created, from_opened, COUNT * PIXELS);
    assert_true(from_created[1] == 1.0f && from_created[2] == 0.2f);
    assert_int_equal(cosnet_dataset_to_float(created, 17, 9, from_created),
                     COSNET_OK);
    assert_int_equal(cosnet_dataset_to_float(opened, 17, 9, from_opened),
                     COSNET_OK);
    expect_same_floats(from_created, from_opened, 9 * PIXELS);
    assert_int_equal(cosnet_dataset_to_float(created, 45, 6, from_created),
                     cosnet_dataset_to_float(opened, 45, 6, from_opened));

    /* gather_float */
    const size_t indices[5] = {49, 0, 13, 13, 31};
    assert_int_equal(
        cosnet_dataset_gather_float(created, indices, 5, from_created),
        COSNET_OK);
    assert_int_equal(
        cosnet_dataset_gather_float(opened, indices, 5, from_opened),
        COSNET_OK);
    expect_same_floats(from_created, from_opened, 5 * PIXELS);

    /* class sizes and seeded subsets, every class and two seeds, and the
     * same refusal when a class is too small. */
    for (unsigned k = 0; k <= CLASSES; k++) {
        const size_t size = cosnet_dataset_class_size(created, k);
        assert_int_equal(size, cosnet_dataset_class_size(opened, k));
        for (uint64_t seed = 1; seed <= 2 && size > 0; seed++) {
            size_t a[COUNT], b[COUNT];
            assert_int_equal(
                cosnet_dataset_class_subset(created, k, size, seed, a),
                COSNET_OK);
            assert_int_equal(
                cosnet_dataset_class_subset(opened, k, size, seed, b),
                COSNET_OK);
            assert_memory_equal(a, b, size * sizeof a[0]);
        }
        size_t dummy[COUNT + 1];
        assert_int_equal(
            cosnet_dataset_class_subset(created, k, size + 1, 3, dummy),
            cosnet_dataset_class_subset(opened, k, size + 1, 3, dummy));
    }
    cosnet_dataset_free(created);
    cosnet_dataset_free(opened);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_accessors),
        cmocka_unit_test(test_create_copies),
        cmocka_unit_test(test_create_extremes),
        cmocka_unit_test(test_create_bad_arguments),
        cmocka_unit_test(test_create_label_out_of_range),
        cmocka_unit_test(test_create_sizes),
        cmocka_unit_test(test_create_out_of_memory),
        cmocka_unit_test(test_same_as_idx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
