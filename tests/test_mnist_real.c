/* Integration test: the real MNIST files (raw, from the folder in
 * COSNET_DATA, filled by scripts/fetch-mnist.sh) and, when Debian's
 * dataset-fashion-mnist is installed, the gzip Fashion-MNIST files.
 * Without COSNET_DATA the MNIST tests skip, unless COSNET_REQUIRE_DATA=1
 * makes the absence a failure. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "cosnet.h"

#define FASHION_FOLDER "/usr/share/datasets/fashion-mnist"

static int data_required(void)
{
    const char *required = getenv("COSNET_REQUIRE_DATA");
    return required && strcmp(required, "1") == 0;
}

/* The MNIST folder, or NULL after skip()/fail() when it is unset. */
static const char *mnist_folder(void)
{
    const char *folder = getenv("COSNET_DATA");
    if (folder && folder[0])
        return folder;
    if (data_required())
        fail_msg("COSNET_DATA is unset but COSNET_REQUIRE_DATA=1: set "
                 "COSNET_DATA to the folder scripts/fetch-mnist.sh prints");
    print_message("COSNET_DATA unset: skipping the real-MNIST checks\n");
    skip();
    return NULL;
}

static cosnet_dataset *open_pair(const char *folder, const char *images,
                                 const char *labels)
{
    char images_path[4096], labels_path[4096];
    snprintf(images_path, sizeof images_path, "%s/%s", folder, images);
    snprintf(labels_path, sizeof labels_path, "%s/%s", folder, labels);
    cosnet_dataset *dataset = NULL;
    cosnet_status status =
        cosnet_dataset_open(images_path, labels_path, 10, &dataset);
    if (status != COSNET_OK)
        fail_msg("cannot open %s and %s: %s (%s)", images_path, labels_path,
                 cosnet_strerror(status), cosnet_last_error());
    return dataset;
}

static void check_shape(const cosnet_dataset *dataset, size_t count,
                        const size_t class_sizes[10],
                        const int first_labels[10])
{
    assert_int_equal(cosnet_dataset_count(dataset), count);
    assert_int_equal(cosnet_dataset_rows(dataset), 28);
    assert_int_equal(cosnet_dataset_columns(dataset), 28);
    assert_int_equal(cosnet_dataset_class_count(dataset), 10);
    size_t total = 0;
    for (unsigned digit = 0; digit < 10; digit++) {
        assert_int_equal(cosnet_dataset_class_size(dataset, digit),
                         class_sizes[digit]);
        total += class_sizes[digit];
    }
    assert_int_equal(total, count);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(cosnet_dataset_label(dataset, i), first_labels[i]);
}

static void test_mnist_train(void **state)
{
    (void)state;
    const char *folder = mnist_folder();
    cosnet_dataset *dataset =
        open_pair(folder, "train-images-idx3-ubyte", "train-labels-idx1-ubyte");
    static const size_t sizes[10] = {5923, 6742, 5958, 6131, 5842,
                                     5421, 5918, 6265, 5851, 5949};
    static const int first[10] = {5, 0, 4, 1, 9, 2, 1, 3, 1, 4};
    check_shape(dataset, 60000, sizes, first);

    /* The first image (a 5): its pixel sum and its brightest pixel. */
    const uint8_t *image = cosnet_dataset_image(dataset, 0);
    unsigned sum = 0, brightest = 0;
    for (size_t p = 0; p < 28 * 28; p++) {
        sum += image[p];
        brightest = image[p] > brightest ? image[p] : brightest;
    }
    assert_int_equal(sum, 27525);
    assert_int_equal(brightest, 255);

    /* The seed pipeline's subset: 500 distinct images of each digit. */
    size_t *indices = malloc(500 * sizeof *indices);
    assert_non_null(indices);
    for (unsigned digit = 0; digit < 10; digit++) {
        assert_int_equal(
            cosnet_dataset_class_subset(dataset, digit, 500, 1, indices),
            COSNET_OK);
        for (size_t i = 0; i < 500; i++)
            assert_int_equal(cosnet_dataset_label(dataset, indices[i]), digit);
    }
    free(indices);
    cosnet_dataset_free(dataset);
}

static void test_mnist_test(void **state)
{
    (void)state;
    const char *folder = mnist_folder();
    cosnet_dataset *dataset =
        open_pair(folder, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");
    static const size_t sizes[10] = {980, 1135, 1032, 1010, 982,
                                     892, 958,  1028, 974,  1009};
    static const int first[10] = {7, 2, 1, 0, 4, 1, 4, 9, 5, 9};
    check_shape(dataset, 10000, sizes, first);

    /* The whole set converts, every value in [0, 1]. */
    float *pixels = malloc((size_t)10000 * 28 * 28 * sizeof *pixels);
    assert_non_null(pixels);
    assert_int_equal(cosnet_dataset_to_float(dataset, 0, 10000, pixels),
                     COSNET_OK);
    float low = 1.0f, high = 0.0f;
    for (size_t i = 0; i < (size_t)10000 * 28 * 28; i++) {
        low = pixels[i] < low ? pixels[i] : low;
        high = pixels[i] > high ? pixels[i] : high;
    }
    assert_true(low == 0.0f);
    assert_true(high == 1.0f);
    free(pixels);
    cosnet_dataset_free(dataset);
}

/* Copies folder/name to copy_folder/name.gz, gzip level 1. */
static void gzip_copy(const char *folder, const char *name,
                      const char *copy_folder, char *copy_path, size_t size)
{
    char source[4096];
    snprintf(source, sizeof source, "%s/%s", folder, name);
    snprintf(copy_path, size, "%s/%s.gz", copy_folder, name);
    FILE *in = fopen(source, "rb");
    assert_non_null(in);
    gzFile out = gzopen(copy_path, "wb1");
    assert_non_null(out);
    unsigned char *chunk = malloc(1 << 16);
    assert_non_null(chunk);
    size_t got;
    while ((got = fread(chunk, 1, 1 << 16, in)) > 0)
        assert_int_equal(gzwrite(out, chunk, (unsigned)got), (int)got);
    assert_int_equal(ferror(in), 0);
    assert_int_equal(gzclose(out), Z_OK);
    fclose(in);
    free(chunk);
}

static void test_mnist_gzip_matches_raw(void **state)
{
    (void)state;
    const char *folder = mnist_folder();
    char copy_folder[] = "/tmp/cosnet-test-mnist-XXXXXX";
    assert_non_null(mkdtemp(copy_folder));
    char images_gz[256], labels_gz[256];
    gzip_copy(folder, "t10k-images-idx3-ubyte", copy_folder, images_gz,
              sizeof images_gz);
    gzip_copy(folder, "t10k-labels-idx1-ubyte", copy_folder, labels_gz,
              sizeof labels_gz);
    cosnet_dataset *raw =
        open_pair(folder, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");
    cosnet_dataset *gz = open_pair(copy_folder, "t10k-images-idx3-ubyte.gz",
                                   "t10k-labels-idx1-ubyte.gz");
    unlink(images_gz);
    unlink(labels_gz);
    rmdir(copy_folder);
    assert_int_equal(cosnet_dataset_count(gz), 10000);
    assert_memory_equal(cosnet_dataset_image(raw, 0),
                        cosnet_dataset_image(gz, 0), (size_t)10000 * 28 * 28);
    for (size_t i = 0; i < 10000; i++)
        assert_int_equal(cosnet_dataset_label(raw, i),
                         cosnet_dataset_label(gz, i));
    cosnet_dataset_free(raw);
    cosnet_dataset_free(gz);
}

static int fashion_present(void)
{
    return access(FASHION_FOLDER "/train-images-idx3-ubyte.gz", R_OK) == 0;
}

static void test_fashion_mnist_gzip(void **state)
{
    (void)state;
    if (!fashion_present()) {
        print_message(FASHION_FOLDER " absent (Debian package "
                                     "dataset-fashion-mnist): skipping\n");
        skip();
    }
    static const size_t train_sizes[10] = {6000, 6000, 6000, 6000, 6000,
                                           6000, 6000, 6000, 6000, 6000};
    static const size_t test_sizes[10] = {1000, 1000, 1000, 1000, 1000,
                                          1000, 1000, 1000, 1000, 1000};
    static const int train_first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    static const int test_first[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    cosnet_dataset *train =
        open_pair(FASHION_FOLDER, "train-images-idx3-ubyte.gz",
                  "train-labels-idx1-ubyte.gz");
    check_shape(train, 60000, train_sizes, train_first);
    cosnet_dataset_free(train);
    cosnet_dataset *test =
        open_pair(FASHION_FOLDER, "t10k-images-idx3-ubyte.gz",
                  "t10k-labels-idx1-ubyte.gz");
    check_shape(test, 10000, test_sizes, test_first);
    cosnet_dataset_free(test);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mnist_train),
        cmocka_unit_test(test_mnist_test),
        cmocka_unit_test(test_mnist_gzip_matches_raw),
        cmocka_unit_test(test_fashion_mnist_gzip),
    };
    int failures = cmocka_run_group_tests(tests, NULL, NULL);
    /* 77 tells meson the test was skipped rather than passed: without
     * COSNET_DATA its main part did not run. */
    const char *folder = getenv("COSNET_DATA");
    if (failures == 0 && !(folder && folder[0]) && !data_required())
        return 77;
    return failures;
}
