/* Unit tests of the label-set handle: generation by the article's rejection
 * sampling, the article's fixed table, the similarity matrix, text files. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cosnet.h"
#include "common/memory.h"
#include "common/rng.h"
#include "labels/label_draw.h"
#include "labels/label_set.h"

#include "data/label_reference_sets.h"

/* A handle value no call may write on failure. */
#define UNTOUCHED ((cosnet_labels *)(uintptr_t)0x1)
#define UNTOUCHED_TEXT ((char *)(uintptr_t)0x1)

/* A seed for which the article's parameters (10 x 25 at 0.5) succeed within
 * 1,000,000 draws (the default allows 100,000,000); many seeds need more
 * (see bench_labels), and a quick seed keeps the test fast. */
enum { article_seed = 4 };

/* The article's label_vectors(), copied here independently of the library's
 * table, digit 0 to digit 9. */
static const float article_table[10][25] = {
    {0.0788f, 0.1254f, 0.0268f, 0.2183f, 0.3003f, 0.3279f, 0.0510f,
     0.0439f, 0.3552f, 0.0749f, 0.0862f, 0.3351f, 0.0506f, 0.1168f,
     0.1643f, 0.1960f, 0.2681f, 0.2267f, 0.1867f, 0.3841f, 0.0528f,
     0.1355f, 0.0233f, 0.0842f, 0.2447f},
    {0.0751f, 0.1258f, 0.2656f, 0.0132f, 0.0048f, 0.0459f, 0.0123f,
     0.0921f, 0.0722f, 0.4720f, 0.0563f, 0.0858f, 0.1946f, 0.0289f,
     0.0549f, 0.0889f, 0.0180f, 0.0328f, 0.2810f, 0.0050f, 0.2128f,
     0.0508f, 0.6535f, 0.0418f, 0.2278f},
    {0.2016f, 0.2286f, 0.0246f, 0.0350f, 0.0284f, 0.0113f, 0.5795f,
     0.0695f, 0.0989f, 0.0515f, 0.5213f, 0.0253f, 0.2721f, 0.0178f,
     0.0095f, 0.0061f, 0.0243f, 0.0309f, 0.1076f, 0.0285f, 0.2499f,
     0.1712f, 0.0729f, 0.3033f, 0.0366f},
    {0.0282f, 0.1384f, 0.0564f, 0.0931f, 0.0529f, 0.0337f, 0.1164f,
     0.1348f, 0.0838f, 0.0159f, 0.3105f, 0.0114f, 0.1378f, 0.0378f,
     0.0598f, 0.7858f, 0.0471f, 0.1663f, 0.0565f, 0.0347f, 0.0680f,
     0.2686f, 0.0610f, 0.2588f, 0.0746f},
    {0.0368f, 0.1348f, 0.6532f, 0.1854f, 0.0323f, 0.1109f, 0.1187f,
     0.0222f, 0.0124f, 0.1473f, 0.2992f, 0.0402f, 0.0864f, 0.2666f,
     0.0860f, 0.0477f, 0.2516f, 0.2643f, 0.0793f, 0.1082f, 0.3297f,
     0.0828f, 0.0344f, 0.0016f, 0.1499f},
    {0.4528f, 0.1523f, 0.0251f, 0.0511f, 0.1991f, 0.0561f, 0.1557f,
     0.6983f, 0.0731f, 0.1860f, 0.0884f, 0.0276f, 0.1971f, 0.1252f,
     0.1858f, 0.0104f, 0.0453f, 0.1107f, 0.0252f, 0.0585f, 0.0470f,
     0.1628f, 0.1336f, 0.0263f, 0.1031f},
    {0.1442f, 0.0414f, 0.0260f, 0.1051f, 0.1011f, 0.0484f, 0.0940f,
     0.0715f, 0.0459f, 0.5043f, 0.0312f, 0.0336f, 0.1456f, 0.5837f,
     0.2772f, 0.0289f, 0.4086f, 0.0950f, 0.1037f, 0.0274f, 0.0142f,
     0.0024f, 0.0353f, 0.2247f, 0.0419f},
    {0.0253f, 0.0100f, 0.0521f, 0.1290f, 0.1214f, 0.1809f, 0.0092f,
     0.0036f, 0.0223f, 0.0029f, 0.0192f, 0.0209f, 0.5189f, 0.1902f,
     0.2108f, 0.0400f, 0.0302f, 0.1245f, 0.4193f, 0.0728f, 0.0449f,
     0.5350f, 0.2411f, 0.1886f, 0.0111f},
    {0.1489f, 0.7321f, 0.0011f, 0.0065f, 0.0215f, 0.0462f, 0.1617f,
     0.0958f, 0.1073f, 0.0546f, 0.0956f, 0.0459f, 0.0222f, 0.1168f,
     0.2183f, 0.0008f, 0.0317f, 0.0330f, 0.0749f, 0.3990f, 0.0605f,
     0.1267f, 0.3394f, 0.1195f, 0.0142f},
    {0.5247f, 0.0227f, 0.2495f, 0.0037f, 0.1025f, 0.2442f, 0.0776f,
     0.0051f, 0.0561f, 0.0639f, 0.0168f, 0.1553f, 0.1897f, 0.0241f,
     0.0676f, 0.1564f, 0.0050f, 0.0364f, 0.0179f, 0.0769f, 0.0420f,
     0.0796f, 0.2302f, 0.5864f, 0.2758f},
};

/* The folder every test's files live in, made by the group setup. */
static char work_folder[] = "/tmp/cosnet-test-labels-XXXXXX";

static void join_path(char *path, size_t size, const char *name)
{
    int written = snprintf(path, size, "%s/%s", work_folder, name);
    assert_true(written > 0 && (size_t)written < size);
}

static void write_file(const char *path, const void *bytes, size_t size)
{
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(bytes, 1, size, file), size);
    assert_int_equal(fclose(file), 0);
}

/* Number of entries in the work folder besides . and .. */
static int folder_entries(void)
{
    DIR *folder = opendir(work_folder);
    assert_non_null(folder);
    int entries = 0;
    struct dirent *entry;
    while ((entry = readdir(folder)) != NULL)
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, ".."))
            entries++;
    closedir(folder);
    return entries;
}

static int group_setup(void **state)
{
    (void)state;
    return mkdtemp(work_folder) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    /* Tests remove their own files, so the folder must be empty now. */
    return rmdir(work_folder);
}

/* The test's own cosine, written independently of the library's. */
static double reference_cosine(const float *a, const float *b, size_t dims)
{
    double dot = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < dims; i++) {
        dot += (double)a[i] * (double)b[i];
        aa += (double)a[i] * (double)a[i];
        bb += (double)b[i] * (double)b[i];
    }
    double product = aa * bb;
    return dot / sqrt(product > 1e-12 ? product : 1e-12);
}

static void assert_message_contains(const char *needle)
{
    const char *message = cosnet_last_error();
    if (!strstr(message, needle))
        fail_msg("message \"%s\" lacks \"%s\"", message, needle);
}

/* --- generation -------------------------------------------------------- */

static void check_generated_properties(const cosnet_labels *labels,
                                       size_t count, size_t dims,
                                       double threshold)
{
    assert_int_equal(cosnet_labels_count(labels), count);
    assert_int_equal(cosnet_labels_dims(labels), dims);
    for (size_t k = 0; k < count; k++) {
        const float *v = cosnet_labels_vector(labels, k);
        assert_non_null(v);
        double norm = 0;
        for (size_t i = 0; i < dims; i++) {
            if (!(v[i] >= 0.0f))
                fail_msg("vector %zu value %zu is %g", k, i, (double)v[i]);
            norm += (double)v[i] * v[i];
        }
        norm = sqrt(norm);
        if (fabs(norm - 1.0) >= 1e-6)
            fail_msg("vector %zu has norm %.9f", k, norm);
    }
    double *matrix = malloc(count * count * sizeof *matrix);
    assert_non_null(matrix);
    assert_int_equal(cosnet_labels_similarity(labels, matrix), COSNET_OK);
    for (size_t i = 0; i < count; i++) {
        for (size_t j = 0; j < count; j++) {
            double cosine = matrix[i * count + j];
            if (i != j && !(cosine <= threshold))
                fail_msg("cos(v%zu, v%zu) = %.17g > %g", i, j, cosine,
                         threshold);
            double expected =
                reference_cosine(cosnet_labels_vector(labels, i),
                                 cosnet_labels_vector(labels, j), dims);
            assert_true(fabs(cosine - expected) < 1e-12);
        }
    }
    free(matrix);
}

static void test_generate_article_parameters(void **state)
{
    (void)state;
    cosnet_labels *labels = NULL, *again = NULL;
    assert_int_equal(
        cosnet_labels_generate(10, 25, 0.5, article_seed, 0, &labels),
        COSNET_OK);
    check_generated_properties(labels, 10, 25, 0.5);
    /* Same seed, bit-identical vectors. */
    assert_int_equal(
        cosnet_labels_generate(10, 25, 0.5, article_seed, 0, &again),
        COSNET_OK);
    assert_memory_equal(cosnet_labels_vector(labels, 0),
                        cosnet_labels_vector(again, 0),
                        10 * 25 * sizeof(float));
    cosnet_labels_free(labels);
    cosnet_labels_free(again);
}

static void test_generate_other_shapes(void **state)
{
    (void)state;
    const struct {
        size_t count, dims;
        double threshold;
    } shapes[] = {{1, 1, 0.5}, {3, 2, 0.9}, {5, 25, 0.5}, {4, 100, 0.7}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        cosnet_labels *labels = NULL;
        assert_int_equal(cosnet_labels_generate(shapes[s].count, shapes[s].dims,
                                                shapes[s].threshold, 9, 0,
                                                &labels),
                         COSNET_OK);
        check_generated_properties(labels, shapes[s].count, shapes[s].dims,
                                   shapes[s].threshold);
        cosnet_labels_free(labels);
    }
}

static void test_generate_seeds_differ(void **state)
{
    (void)state;
    cosnet_labels *a = NULL, *b = NULL;
    assert_int_equal(cosnet_labels_generate(5, 25, 0.5, 1, 0, &a), COSNET_OK);
    assert_int_equal(cosnet_labels_generate(5, 25, 0.5, 2, 0, &b), COSNET_OK);
    for (size_t k = 0; k < 5; k++)
        assert_memory_not_equal(cosnet_labels_vector(a, k),
                                cosnet_labels_vector(b, k), 25 * sizeof(float));
    cosnet_labels_free(a);
    cosnet_labels_free(b);
}

/* The article's method, written out again from the library's generator:
 * v = |g| / ||g||, first accepted unconditionally, each later candidate
 * accepted if its cosine with every accepted vector is <= threshold. */
static void reference_generate(size_t count, size_t dims, double threshold,
                               uint64_t seed, float *out, uint64_t *draws)
{
    random_generator generator;
    random_seed(&generator, seed);
    double *g = malloc(dims * sizeof *g);
    float *candidate = malloc(dims * sizeof *candidate);
    assert_non_null(g);
    assert_non_null(candidate);
    size_t accepted = 0;
    *draws = 0;
    while (accepted < count) {
        double sum = 0;
        for (size_t i = 0; i < dims; i++) {
            g[i] = random_normal(&generator);
            sum += g[i] * g[i];
        }
        ++*draws;
        for (size_t i = 0; i < dims; i++)
            candidate[i] = (float)(fabs(g[i]) / sqrt(sum));
        int ok = 1;
        for (size_t k = 0; k < accepted; k++)
            if (reference_cosine(out + k * dims, candidate, dims) > threshold)
                ok = 0;
        if (ok)
            memcpy(out + accepted++ * dims, candidate, dims * sizeof(float));
    }
    free(g);
    free(candidate);
}

/* Candidates wider than one fill of pairs (2,048 on the portable path) and
 * than one slot of the pair-filling thread (8 fills), so that a candidate
 * spans slots: still the reference's vectors. 4 x 100,000 values take more
 * pairs than the thread threshold, so the thread runs too. */
static void test_generate_wide_vectors(void **state)
{
    (void)state;
    const size_t widths[2] = {3000, 100000};
    for (int w = 0; w < 2; w++) {
        const size_t dims = widths[w];
        float *expected = malloc(4 * dims * sizeof *expected);
        assert_non_null(expected);
        uint64_t draws;
        reference_generate(4, dims, 0.7, 3, expected, &draws);
        cosnet_labels *labels = NULL;
        assert_int_equal(cosnet_labels_generate(4, dims, 0.7, 3, 0, &labels),
                         COSNET_OK);
        assert_memory_equal(cosnet_labels_vector(labels, 0), expected,
                            4 * dims * sizeof(float));
        cosnet_labels_free(labels);
        free(expected);
    }
}

static void test_generate_matches_reference(void **state)
{
    (void)state;
    for (uint64_t seed = 0; seed < 5; seed++) {
        float expected[5 * 25];
        uint64_t draws;
        reference_generate(5, 25, 0.5, seed, expected, &draws);
        assert_true(draws > 5); /* some candidates were rejected */
        cosnet_labels *labels = NULL;
        assert_int_equal(cosnet_labels_generate(5, 25, 0.5, seed, 0, &labels),
                         COSNET_OK);
        assert_memory_equal(cosnet_labels_vector(labels, 0), expected,
                            sizeof expected);
        cosnet_labels_free(labels);

        /* max_draws counts every candidate, the first included: exactly
         * `draws` suffice, one fewer does not. */
        labels = NULL;
        assert_int_equal(
            cosnet_labels_generate(5, 25, 0.5, seed, draws, &labels),
            COSNET_OK);
        assert_memory_equal(cosnet_labels_vector(labels, 0), expected,
                            sizeof expected);
        cosnet_labels_free(labels);
        labels = UNTOUCHED;
        assert_int_equal(
            cosnet_labels_generate(5, 25, 0.5, seed, draws - 1, &labels),
            COSNET_ERROR_GAVE_UP);
        assert_ptr_equal(labels, UNTOUCHED);
        char expected_message[128];
        snprintf(expected_message, sizeof expected_message,
                 "found 4 of 5 vectors in %llu draws at threshold 0.5",
                 (unsigned long long)(draws - 1));
        assert_string_equal(cosnet_last_error(), expected_message);
    }
}

/* Every saved case of tests/data/label_reference_sets.h, made by the
 * original generator: the same status, the same number of draws, the same
 * vectors bit for bit (and for GAVE_UP the same message). */
static void test_generate_matches_saved_sets(void **state)
{
    (void)state;
    size_t cases = sizeof reference_cases / sizeof reference_cases[0];
    for (size_t c = 0; c < cases; c++) {
        const reference_case *r = &reference_cases[c];
        cosnet_labels *labels = NULL;
        uint64_t draws = 0;
        cosnet_status status =
            labels_generate_counting(r->count, r->dims, r->threshold, r->seed,
                                     r->max_draws, &labels, &draws);
        if (status != r->status || draws != r->draws)
            fail_msg("case %zu (%zu x %zu at %g, seed %llu): status %d after "
                     "%llu draws, saved %d after %llu",
                     c, r->count, r->dims, r->threshold,
                     (unsigned long long)r->seed, status,
                     (unsigned long long)draws, r->status,
                     (unsigned long long)r->draws);
        if (status != COSNET_OK) {
            char expected[128];
            snprintf(expected, sizeof expected,
                     "found %zu of %zu vectors in %llu draws at threshold %g",
                     r->found, r->count, (unsigned long long)r->draws,
                     r->threshold);
            assert_string_equal(cosnet_last_error(), expected);
            continue;
        }
        assert_true(r->first_value + r->count * r->dims <=
                    sizeof reference_bits / sizeof reference_bits[0]);
        for (size_t k = 0; k < r->count; k++) {
            const float *vector = cosnet_labels_vector(labels, k);
            for (size_t i = 0; i < r->dims; i++) {
                uint32_t bits;
                memcpy(&bits, &vector[i], sizeof bits);
                uint32_t saved =
                    reference_bits[r->first_value + k * r->dims + i];
                if (bits != saved)
                    fail_msg("case %zu (seed %llu) vector %zu value %zu: "
                             "0x%08x, saved 0x%08x",
                             c, (unsigned long long)r->seed, k, i,
                             (unsigned)bits, (unsigned)saved);
            }
        }
        cosnet_labels_free(labels);
    }
}

static void test_generate_gives_up(void **state)
{
    (void)state;
    /* Two positive 2-d unit vectors are nearly orthogonal only if they sit
     * near the two axes, and three never are: at most 2 of 10 are found. */
    cosnet_labels *labels = UNTOUCHED;
    assert_int_equal(cosnet_labels_generate(10, 2, 0.01, 3, 1000, &labels),
                     COSNET_ERROR_GAVE_UP);
    assert_ptr_equal(labels, UNTOUCHED);
    unsigned found = 99;
    assert_int_equal(sscanf(cosnet_last_error(), "found %u of", &found), 1);
    assert_true(found == 1 || found == 2);
    char expected[128];
    snprintf(expected, sizeof expected,
             "found %u of 10 vectors in 1000 draws at threshold 0.01", found);
    assert_string_equal(cosnet_last_error(), expected);

    /* The first draw is accepted unconditionally and counts as a draw. */
    assert_int_equal(cosnet_labels_generate(2, 25, 0.5, 3, 1, &labels),
                     COSNET_ERROR_GAVE_UP);
    assert_string_equal(cosnet_last_error(),
                        "found 1 of 2 vectors in 1 draws at threshold 0.5");
    assert_int_equal(cosnet_labels_generate(1, 25, 0.5, 3, 1, &labels),
                     COSNET_OK);
    cosnet_labels_free(labels);

    /* Positive vectors have cosine >= 0, so a negative threshold admits
     * only the first. */
    labels = UNTOUCHED;
    assert_int_equal(cosnet_labels_generate(3, 25, -0.25, 3, 50, &labels),
                     COSNET_ERROR_GAVE_UP);
    assert_string_equal(cosnet_last_error(),
                        "found 1 of 3 vectors in 50 draws at threshold -0.25");
    assert_ptr_equal(labels, UNTOUCHED);

    /* A threshold of 1 admits every candidate. */
    labels = NULL;
    assert_int_equal(cosnet_labels_generate(10, 25, 1.0, 3, 10, &labels),
                     COSNET_OK);
    cosnet_labels_free(labels);
}

static void test_generate_rejects_arguments(void **state)
{
    (void)state;
    cosnet_labels *labels = UNTOUCHED;
    assert_int_equal(cosnet_labels_generate(10, 25, 0.5, 0, 0, NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_message_contains("out is NULL");
    assert_int_equal(cosnet_labels_generate(0, 25, 0.5, 0, 0, &labels),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_message_contains("0 vectors of 25 dimensions");
    assert_int_equal(cosnet_labels_generate(10, 0, 0.5, 0, 0, &labels),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_message_contains("10 vectors of 0 dimensions");
    assert_int_equal(cosnet_labels_generate(10, 25, NAN, 0, 0, &labels),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_message_contains("threshold nan is not finite");
    assert_int_equal(cosnet_labels_generate(10, 25, INFINITY, 0, 0, &labels),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_message_contains("threshold inf is not finite");
    assert_int_equal(
        cosnet_labels_generate(SIZE_MAX / 2, 4, 0.5, 0, 0, &labels),
        COSNET_ERROR_INVALID_ARGUMENT);
    assert_message_contains("overflow");
    assert_ptr_equal(labels, UNTOUCHED);
}

/* --- the article's table ------------------------------------------------ */

static void test_builtin_is_the_article_table(void **state)
{
    (void)state;
    cosnet_labels *labels = NULL;
    assert_int_equal(cosnet_labels_builtin(&labels), COSNET_OK);
    assert_int_equal(cosnet_labels_count(labels), 10);
    assert_int_equal(cosnet_labels_dims(labels), 25);
    for (size_t k = 0; k < 10; k++) {
        const float *v = cosnet_labels_vector(labels, k);
        double norm = 0;
        for (size_t i = 0; i < 25; i++) {
            if (v[i] != article_table[k][i])
                fail_msg("digit %zu value %zu: %.9g, article %.9g", k, i,
                         (double)v[i], (double)article_table[k][i]);
            norm += (double)v[i] * v[i];
        }
        /* Printed with 4 decimals, so unit norm only to about 1e-4. */
        assert_true(fabs(sqrt(norm) - 1.0) < 1e-4);
    }
    /* The article's claim: every pair of its vectors has cosine <= 0.5.
     * It holds, though barely (the largest is about 0.4995). */
    double matrix[100];
    assert_int_equal(cosnet_labels_similarity(labels, matrix), COSNET_OK);
    double largest = -1;
    for (size_t i = 0; i < 10; i++) {
        for (size_t j = 0; j < 10; j++) {
            if (i == j)
                continue;
            assert_true(matrix[i * 10 + j] <= 0.5);
            assert_true(fabs(matrix[i * 10 + j] -
                             reference_cosine(article_table[i],
                                              article_table[j], 25)) < 1e-12);
            if (matrix[i * 10 + j] > largest)
                largest = matrix[i * 10 + j];
        }
    }
    assert_true(largest > 0.499 && largest < 0.5);
    cosnet_labels_free(labels);

    assert_int_equal(cosnet_labels_builtin(NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_message_contains("out is NULL");
}

/* --- create, queries, similarity ---------------------------------------- */

static void test_create_and_queries(void **state)
{
    (void)state;
    float values[6] = {1, 2, 3, -4, 5, 0};
    cosnet_labels *labels = NULL;
    assert_int_equal(cosnet_labels_create(2, 3, values, &labels), COSNET_OK);
    values[0] = 42; /* the set holds a copy */
    assert_int_equal(cosnet_labels_count(labels), 2);
    assert_int_equal(cosnet_labels_dims(labels), 3);
    const float *second = cosnet_labels_vector(labels, 1);
    assert_non_null(second);
    assert_true(second[0] == -4 && second[1] == 5 && second[2] == 0);
    assert_true(cosnet_labels_vector(labels, 0)[0] == 1);
    assert_null(cosnet_labels_vector(labels, 2));
    assert_null(cosnet_labels_vector(NULL, 0));
    assert_int_equal(cosnet_labels_count(NULL), 0);
    assert_int_equal(cosnet_labels_dims(NULL), 0);

    /* cos((1,2,3), (-4,5,0)) = 6 / (sqrt(14) sqrt(41)) */
    double matrix[4];
    assert_int_equal(cosnet_labels_similarity(labels, matrix), COSNET_OK);
    double expected = 6.0 / (sqrt(14.0) * sqrt(41.0));
    assert_true(fabs(matrix[1] - expected) < 1e-15);
    assert_true(matrix[1] == matrix[2]);
    assert_true(fabs(matrix[0] - 1) < 1e-15 && fabs(matrix[3] - 1) < 1e-15);
    cosnet_labels_free(labels);

    /* The torch form clamps |a|^2 |b|^2 at eps^2 = 1e-12. A row of norm at
     * least COSNET_LABELS_MIN_NORM (= eps) escapes it against a row of
     * norm >= 1: cos((2e-6, 0), (1, 1)) is 1/sqrt(2); with itself it is
     * clamped: |a|^2 / eps. */
    const float small[4] = {2e-6f, 0, 1, 1};
    labels = NULL;
    assert_int_equal(cosnet_labels_create(2, 2, small, &labels), COSNET_OK);
    assert_int_equal(cosnet_labels_similarity(labels, matrix), COSNET_OK);
    assert_true(fabs(matrix[1] - 1 / sqrt(2.0)) < 1e-15);
    assert_true(fabs(matrix[0] - (double)2e-6f * 2e-6f / 1e-6) < 1e-20);
    assert_int_equal(cosnet_labels_similarity(labels, NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_message_contains("matrix is NULL");
    assert_int_equal(cosnet_labels_similarity(NULL, matrix),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_message_contains("labels is NULL");
    cosnet_labels_free(labels);
    cosnet_labels_free(NULL);
}

/* Rows shorter than COSNET_LABELS_MIN_NORM could never win a cosine
 * against a unit output (the clamp divides by eps instead of their norm):
 * create and load refuse them, naming the row. */
static void test_tiny_norm_rows_rejected(void **state)
{
    (void)state;
    assert_true(COSNET_LABELS_MIN_NORM == 1e-6);
    cosnet_labels *labels = UNTOUCHED;
    float rows[3 * 25];
    for (size_t i = 0; i < 3 * 25; i++)
        rows[i] = 0.2f;
    for (size_t i = 25; i < 50; i++)
        rows[i] = 1e-30f;
    assert_int_equal(cosnet_labels_create(3, 25, rows, &labels),
                     COSNET_ERROR_OUT_OF_RANGE);
    assert_message_contains("vector 1 has norm 5.00000");
    assert_message_contains("below the minimum 1e-06");
    assert_ptr_equal(labels, UNTOUCHED);

    /* Either side of the bound: 9.9e-7 is refused, 1.01e-6 accepted. */
    float edge[2] = {1, 9.9e-7f};
    assert_int_equal(cosnet_labels_create(2, 1, edge, &labels),
                     COSNET_ERROR_OUT_OF_RANGE);
    assert_message_contains("vector 1 has norm 9.8999999e-07");
    edge[1] = 1.01e-6f;
    labels = NULL;
    assert_int_equal(cosnet_labels_create(2, 1, edge, &labels), COSNET_OK);
    cosnet_labels_free(labels);
    /* Norm from all the values: 25 values of 3e-7 make 1.5e-6. */
    for (size_t i = 25; i < 50; i++)
        rows[i] = 3e-7f;
    labels = NULL;
    assert_int_equal(cosnet_labels_create(3, 25, rows, &labels), COSNET_OK);
    cosnet_labels_free(labels);
    /* A subnormal-only row is tiny, not zero. */
    const float subnormal[2] = {0x1p-149f, 0};
    labels = UNTOUCHED;
    assert_int_equal(cosnet_labels_create(1, 2, subnormal, &labels),
                     COSNET_ERROR_OUT_OF_RANGE);
    assert_message_contains("vector 0 has norm");
    assert_ptr_equal(labels, UNTOUCHED);
}

static void test_similarity_symmetric_unit_diagonal(void **state)
{
    (void)state;
    cosnet_labels *sets[2] = {NULL, NULL};
    assert_int_equal(cosnet_labels_builtin(&sets[0]), COSNET_OK);
    assert_int_equal(cosnet_labels_generate(8, 25, 0.6, 5, 0, &sets[1]),
                     COSNET_OK);
    for (int s = 0; s < 2; s++) {
        size_t count = cosnet_labels_count(sets[s]);
        double matrix[100];
        assert_int_equal(cosnet_labels_similarity(sets[s], matrix), COSNET_OK);
        for (size_t i = 0; i < count; i++) {
            assert_true(fabs(matrix[i * count + i] - 1.0) < 1e-12);
            for (size_t j = 0; j < count; j++)
                assert_true(matrix[i * count + j] == matrix[j * count + i]);
        }
        cosnet_labels_free(sets[s]);
    }
}

static void test_create_rejects(void **state)
{
    (void)state;
    cosnet_labels *labels = UNTOUCHED;
    float with_nan[4] = {1, 2, NAN, 4};
    assert_int_equal(cosnet_labels_create(2, 2, with_nan, &labels),
                     COSNET_ERROR_NOT_FINITE);
    assert_message_contains("vector 1 value 0 is nan");
    float with_inf[4] = {1, -INFINITY, 3, 4};
    assert_int_equal(cosnet_labels_create(2, 2, with_inf, &labels),
                     COSNET_ERROR_NOT_FINITE);
    assert_message_contains("vector 0 value 1 is -inf");
    float zero_row[6] = {1, 2, 3, 0, -0.0f, 0};
    assert_int_equal(cosnet_labels_create(2, 3, zero_row, &labels),
                     COSNET_ERROR_BAD_FORMAT);
    assert_message_contains("vector 1 is all zero");
    assert_int_equal(cosnet_labels_create(2, 3, NULL, &labels),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_message_contains("values is NULL");
    assert_int_equal(cosnet_labels_create(2, 3, zero_row, NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_message_contains("out is NULL");
    assert_int_equal(cosnet_labels_create(0, 3, zero_row, &labels),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_labels_create(2, 0, zero_row, &labels),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_labels_create(SIZE_MAX / 3, 3, zero_row, &labels),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_message_contains("overflow");
    assert_ptr_equal(labels, UNTOUCHED);
}

/* --- text files --------------------------------------------------------- */

static void check_round_trip(const cosnet_labels *labels, const char *name)
{
    char path[512];
    join_path(path, sizeof path, name);
    assert_int_equal(cosnet_labels_save(labels, path), COSNET_OK);
    assert_int_equal(folder_entries(), 1); /* no temporary file left */

    FILE *file = fopen(path, "r");
    assert_non_null(file);
    char first_line[128];
    assert_non_null(fgets(first_line, sizeof first_line, file));
    fclose(file);
    char expected[128];
    snprintf(expected, sizeof expected,
             "# cosnet label set: %zu vectors of %zu dimensions\n",
             cosnet_labels_count(labels), cosnet_labels_dims(labels));
    assert_string_equal(first_line, expected);

    cosnet_labels *loaded = NULL;
    assert_int_equal(cosnet_labels_load(path, &loaded), COSNET_OK);
    assert_int_equal(cosnet_labels_count(loaded), cosnet_labels_count(labels));
    assert_int_equal(cosnet_labels_dims(loaded), cosnet_labels_dims(labels));
    assert_memory_equal(cosnet_labels_vector(loaded, 0),
                        cosnet_labels_vector(labels, 0),
                        cosnet_labels_count(labels) *
                            cosnet_labels_dims(labels) * sizeof(float));
    cosnet_labels_free(loaded);
    assert_int_equal(unlink(path), 0);
}

static void test_save_load_round_trip(void **state)
{
    (void)state;
    cosnet_labels *labels = NULL;
    assert_int_equal(cosnet_labels_builtin(&labels), COSNET_OK);
    check_round_trip(labels, "builtin.txt");
    cosnet_labels_free(labels);

    labels = NULL;
    assert_int_equal(cosnet_labels_generate(6, 25, 0.5, 11, 0, &labels),
                     COSNET_OK);
    check_round_trip(labels, "generated.txt");
    cosnet_labels_free(labels);

    /* Values that stress the printing: subnormals, extremes, negatives. */
    const float awkward[8] = {0x1p-149f, -FLT_MAX, FLT_MIN,     0.1f,
                              -0.0f,     1.0f / 3, 16777217.0f, 1e-7f};
    labels = NULL;
    assert_int_equal(cosnet_labels_create(2, 4, awkward, &labels), COSNET_OK);
    check_round_trip(labels, "awkward.txt");

    /* Saving over an existing file replaces it. */
    char path[512];
    join_path(path, sizeof path, "replaced.txt");
    write_file(path, "junk that is not a label set\n", 29);
    assert_int_equal(cosnet_labels_save(labels, path), COSNET_OK);
    cosnet_labels *loaded = NULL;
    assert_int_equal(cosnet_labels_load(path, &loaded), COSNET_OK);
    assert_memory_equal(cosnet_labels_vector(loaded, 0), awkward,
                        sizeof awkward);
    cosnet_labels_free(loaded);
    cosnet_labels_free(labels);
    assert_int_equal(unlink(path), 0);
}

static void test_load_accepts_comments_blanks_and_spacing(void **state)
{
    (void)state;
    char path[512];
    join_path(path, sizeof path, "hand.txt");
    const char text[] = "# written by hand\n"
                        "\n"
                        "   \t\n"
                        "  1\t2.5   -3e-1\r\n"
                        "   # an indented comment\n"
                        "0x1p-2 +4 5"; /* no final newline */
    write_file(path, text, sizeof text - 1);
    cosnet_labels *labels = NULL;
    assert_int_equal(cosnet_labels_load(path, &labels), COSNET_OK);
    assert_int_equal(cosnet_labels_count(labels), 2);
    assert_int_equal(cosnet_labels_dims(labels), 3);
    const float expected[6] = {1, 2.5f, -3e-1f, 0.25f, 4, 5};
    assert_memory_equal(cosnet_labels_vector(labels, 0), expected,
                        sizeof expected);
    cosnet_labels_free(labels);
    assert_int_equal(unlink(path), 0);
}

/* Loads `text` from a file and expects `status` and a message containing
 * the file's name with `fragment` after it. */
static void expect_load_failure(const char *text, size_t size,
                                cosnet_status status, const char *fragment)
{
    char path[512];
    join_path(path, sizeof path, "bad.txt");
    write_file(path, text, size);
    cosnet_labels *labels = UNTOUCHED;
    cosnet_status got = cosnet_labels_load(path, &labels);
    if (got != status)
        fail_msg("status %d (%s), expected %d for \"%s\"", got,
                 cosnet_last_error(), status, text);
    assert_ptr_equal(labels, UNTOUCHED);
    char expected[1024];
    snprintf(expected, sizeof expected, "%s%s", path, fragment);
    assert_message_contains(expected);
    assert_int_equal(unlink(path), 0);

    /* The same bytes from memory: the same status, "<memory>" for the
     * path. The copy has no NUL after it, so reading past `size` would
     * show under the sanitizers. */
    char *copy = malloc(size ? size : 1);
    assert_non_null(copy);
    memcpy(copy, text, size);
    got = cosnet_labels_load_memory(copy, size, &labels);
    if (got != status)
        fail_msg("memory: status %d (%s), expected %d for \"%s\"", got,
                 cosnet_last_error(), status, text);
    assert_ptr_equal(labels, UNTOUCHED);
    snprintf(expected, sizeof expected, "<memory>%s", fragment);
    assert_message_contains(expected);
    free(copy);
}

#define EXPECT_LOAD_FAILURE(text, status, fragment)                            \
    expect_load_failure(text, sizeof text - 1, status, fragment)

/* A file over the 1 GiB limit (sparse) is refused from its size, unread,
 * with the OVERFLOW the header documents. */
static void test_load_refuses_oversized_file(void **state)
{
    (void)state;
    char path[256];
    join_path(path, sizeof path, "huge.txt");
    write_file(path, "1 0\n", 4);
    assert_int_equal(truncate(path, ((off_t)1 << 30) + 1), 0);
    cosnet_labels *labels = NULL;
    assert_int_equal(cosnet_labels_load(path, &labels), COSNET_ERROR_OVERFLOW);
    assert_null(labels);
    assert_non_null(strstr(cosnet_last_error(), "larger than any file"));
    assert_int_equal(unlink(path), 0);
}

static void test_load_rejects_bad_files(void **state)
{
    (void)state;
    EXPECT_LOAD_FAILURE("# ok\n0.1 0.2 0.3\n0.1 abc 0.3\n",
                        COSNET_ERROR_BAD_FORMAT, ":3: 'abc' is not a number");
    EXPECT_LOAD_FAILURE("0.1 0.2x 0.3\n", COSNET_ERROR_BAD_FORMAT,
                        ":1: '0.2x' is not a number");
    EXPECT_LOAD_FAILURE("0.1, 0.2\n", COSNET_ERROR_BAD_FORMAT,
                        ":1: '0.1,' is not a number");
    EXPECT_LOAD_FAILURE("0.1 0.2 # trailing comment\n", COSNET_ERROR_BAD_FORMAT,
                        ":1: '#' is not a number");
    EXPECT_LOAD_FAILURE("1 2 3\n\n4 5\n", COSNET_ERROR_MISMATCH,
                        ":3: 2 values, but the first vector (line 1) has 3");
    EXPECT_LOAD_FAILURE("1 2 3\n# comment\n4\n", COSNET_ERROR_MISMATCH,
                        ":3: 1 value, but the first vector (line 1) has 3");
    EXPECT_LOAD_FAILURE("1 2 3\n4 5 6 7\n", COSNET_ERROR_MISMATCH,
                        ":2: 4 values, but the first vector (line 1) has 3");
    EXPECT_LOAD_FAILURE("1 nan 3\n", COSNET_ERROR_NOT_FINITE,
                        ":1: value 2 'nan' is not finite");
    EXPECT_LOAD_FAILURE("1 2 3\n1 2 -inf\n", COSNET_ERROR_NOT_FINITE,
                        ":2: value 3 '-inf' is not finite");
    EXPECT_LOAD_FAILURE("1 2 1e39\n", COSNET_ERROR_NOT_FINITE,
                        ":1: value 3 '1e39' is not finite");
    EXPECT_LOAD_FAILURE("1 2 3\n0 -0 0.0\n", COSNET_ERROR_BAD_FORMAT,
                        ":2: the vector is all zero");
    EXPECT_LOAD_FAILURE("1 2 3\n1e-30 1e-30 1e-30\n", COSNET_ERROR_OUT_OF_RANGE,
                        ":2: the vector's norm 1.7320508");
    EXPECT_LOAD_FAILURE("1e-7 -5e-7 0\n", COSNET_ERROR_OUT_OF_RANGE,
                        ":1: the vector's norm 5.0990195");
    EXPECT_LOAD_FAILURE("", COSNET_ERROR_BAD_FORMAT, ": no vectors");
    EXPECT_LOAD_FAILURE("# only\n\n  \n# comments\n", COSNET_ERROR_BAD_FORMAT,
                        ": no vectors");
    EXPECT_LOAD_FAILURE("1 2\0 3\n", COSNET_ERROR_BAD_FORMAT,
                        ":1: contains a NUL byte (at byte 3)");
    EXPECT_LOAD_FAILURE("1 2 3\n# \0\n", COSNET_ERROR_BAD_FORMAT,
                        ":2: contains a NUL byte (at byte 8)");
    /* A NUL on a row that is also short: the NUL, not the length. */
    EXPECT_LOAD_FAILURE("1 2\n1\0\n", COSNET_ERROR_BAD_FORMAT,
                        ":2: contains a NUL byte (at byte 5)");
    /* A terminating NUL counted in the size is a NUL byte like any. */
    EXPECT_LOAD_FAILURE("1 2 3\n\0", COSNET_ERROR_BAD_FORMAT,
                        ":2: contains a NUL byte (at byte 6)");
}

static void test_load_overlong_lines(void **state)
{
    (void)state;
    /* One vector of 200,000 values on one line: valid, just long. */
    enum { wide = 200000 };
    char *text = malloc(wide * 2 + 1);
    assert_non_null(text);
    for (size_t i = 0; i < wide; i++) {
        text[2 * i] = (char)('1' + i % 9);
        text[2 * i + 1] = i + 1 < wide ? ' ' : '\n';
    }
    char path[512];
    join_path(path, sizeof path, "wide.txt");
    write_file(path, text, wide * 2);
    cosnet_labels *labels = NULL;
    assert_int_equal(cosnet_labels_load(path, &labels), COSNET_OK);
    assert_int_equal(cosnet_labels_count(labels), 1);
    assert_int_equal(cosnet_labels_dims(labels), wide);
    assert_true(cosnet_labels_vector(labels, 0)[wide - 1] ==
                1 + (wide - 1) % 9);
    cosnet_labels_free(labels);
    assert_int_equal(unlink(path), 0);

    /* A single 400,000-character token: rejected, quoted shortened. */
    memset(text, 'x', wide * 2);
    text[wide * 2] = '\0';
    expect_load_failure(text, wide * 2, COSNET_ERROR_BAD_FORMAT,
                        ":1: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' "
                        "is not a number");
    free(text);
}

static void test_load_io_and_arguments(void **state)
{
    (void)state;
    char path[512];
    join_path(path, sizeof path, "does-not-exist.txt");
    cosnet_labels *labels = UNTOUCHED;
    assert_int_equal(cosnet_labels_load(path, &labels), COSNET_ERROR_IO);
    char expected[600];
    snprintf(expected, sizeof expected, "%s: cannot open: %s", path,
             strerror(ENOENT));
    assert_string_equal(cosnet_last_error(), expected);
    /* A folder opens but cannot be read as a file. */
    assert_int_equal(cosnet_labels_load(work_folder, &labels), COSNET_ERROR_IO);
    assert_message_contains(work_folder);
    assert_int_equal(cosnet_labels_load(NULL, &labels),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_message_contains("path is NULL");
    assert_int_equal(cosnet_labels_load(path, NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_message_contains("out is NULL");
    assert_ptr_equal(labels, UNTOUCHED);
}

static void test_save_failures(void **state)
{
    (void)state;
    cosnet_labels *labels = NULL;
    assert_int_equal(cosnet_labels_builtin(&labels), COSNET_OK);
    char path[512];
    join_path(path, sizeof path, "no-such-folder/labels.txt");
    assert_int_equal(cosnet_labels_save(labels, path), COSNET_ERROR_IO);
    assert_message_contains("cannot create temporary file");
    assert_message_contains(path);

    /* The target is a folder: the rename fails and the temporary file is
     * removed. */
    join_path(path, sizeof path, "a-folder");
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(cosnet_labels_save(labels, path), COSNET_ERROR_IO);
    assert_message_contains("cannot rename temporary file");
    assert_int_equal(folder_entries(), 1);
    assert_int_equal(rmdir(path), 0);

    assert_int_equal(cosnet_labels_save(NULL, path),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_message_contains("labels is NULL");
    assert_int_equal(cosnet_labels_save(labels, NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_message_contains("path is NULL");
    cosnet_labels_free(labels);
}

static void test_save_write_error(void **state)
{
    (void)state;
    /* A file-size limit below the file's size makes the write fail (EFBIG,
     * with SIGXFSZ ignored): the temporary file must go and nothing may
     * appear under the target name. */
    cosnet_labels *labels = NULL;
    assert_int_equal(cosnet_labels_builtin(&labels), COSNET_OK);
    char path[512];
    join_path(path, sizeof path, "too-big.txt");
    struct rlimit saved;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    struct rlimit small = saved;
    small.rlim_cur = 100;
    void (*previous)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    cosnet_status status = cosnet_labels_save(labels, path);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, previous);
    assert_int_equal(status, COSNET_ERROR_IO);
    assert_message_contains("cannot write temporary file");
    assert_message_contains(strerror(EFBIG));
    assert_int_equal(folder_entries(), 0);
    cosnet_labels_free(labels);
}

/* --- text in memory ------------------------------------------------------ */

/* save_memory gives exactly the bytes save writes, NUL-terminated, and
 * load_memory reads them back to the same floats. */
static void check_memory_round_trip(const cosnet_labels *labels)
{
    char *text = NULL;
    size_t size = 0;
    assert_int_equal(cosnet_labels_save_memory(labels, &text, &size),
                     COSNET_OK);
    assert_non_null(text);
    assert_int_equal(text[size], '\0');
    assert_int_equal(strlen(text), size);

    char path[512];
    join_path(path, sizeof path, "memory.txt");
    assert_int_equal(cosnet_labels_save(labels, path), COSNET_OK);
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    char *file_bytes = malloc(size + 2);
    assert_non_null(file_bytes);
    size_t file_size = fread(file_bytes, 1, size + 2, file);
    fclose(file);
    assert_int_equal(file_size, size);
    assert_memory_equal(file_bytes, text, size);
    free(file_bytes);

    size_t total = cosnet_labels_count(labels) * cosnet_labels_dims(labels);
    cosnet_labels *loaded = NULL;
    assert_int_equal(cosnet_labels_load_memory(text, size, &loaded), COSNET_OK);
    assert_int_equal(cosnet_labels_count(loaded), cosnet_labels_count(labels));
    assert_int_equal(cosnet_labels_dims(loaded), cosnet_labels_dims(labels));
    assert_memory_equal(cosnet_labels_vector(loaded, 0),
                        cosnet_labels_vector(labels, 0), total * sizeof(float));
    cosnet_labels_free(loaded);
    /* And the file through the file loader, to the same floats. */
    loaded = NULL;
    assert_int_equal(cosnet_labels_load(path, &loaded), COSNET_OK);
    assert_memory_equal(cosnet_labels_vector(loaded, 0),
                        cosnet_labels_vector(labels, 0), total * sizeof(float));
    cosnet_labels_free(loaded);
    assert_int_equal(unlink(path), 0);
    cosnet_free(text);
}

static void test_memory_round_trip(void **state)
{
    (void)state;
    cosnet_labels *labels = NULL;
    assert_int_equal(cosnet_labels_builtin(&labels), COSNET_OK);
    check_memory_round_trip(labels);
    char *text = NULL;
    size_t size = 0;
    assert_int_equal(cosnet_labels_save_memory(labels, &text, &size),
                     COSNET_OK);
    const char header[] = "# cosnet label set: 10 vectors of 25 dimensions\n"
                          "0.0788000003 0.125400007 ";
    assert_true(size > sizeof header);
    assert_memory_equal(text, header, sizeof header - 1);
    cosnet_free(text);
    cosnet_labels_free(labels);

    labels = NULL;
    assert_int_equal(cosnet_labels_generate(4, 7, 0.6, 5, 0, &labels),
                     COSNET_OK);
    check_memory_round_trip(labels);
    cosnet_labels_free(labels);

    const float awkward[8] = {0x1p-149f, -FLT_MAX, FLT_MIN,     0.1f,
                              -0.0f,     1.0f / 3, 16777217.0f, 1e-7f};
    labels = NULL;
    assert_int_equal(cosnet_labels_create(2, 4, awkward, &labels), COSNET_OK);
    check_memory_round_trip(labels);
    cosnet_labels_free(labels);
}

static void test_memory_edges(void **state)
{
    (void)state;
    /* No final newline, and the buffer is the front of a longer one: the
     * last value is 6, not 6789. */
    const char text[] = "1 2 3\n4 5 6789";
    cosnet_labels *labels = NULL;
    assert_int_equal(
        cosnet_labels_load_memory(text, strlen("1 2 3\n4 5 6"), &labels),
        COSNET_OK);
    assert_int_equal(cosnet_labels_count(labels), 2);
    const float expected[6] = {1, 2, 3, 4, 5, 6};
    assert_memory_equal(cosnet_labels_vector(labels, 0), expected,
                        sizeof expected);
    cosnet_labels_free(labels);
    /* CRLF lines. */
    labels = NULL;
    assert_int_equal(
        cosnet_labels_load_memory("1 2 3\r\n4 5 6\r\n", 14, &labels),
        COSNET_OK);
    assert_memory_equal(cosnet_labels_vector(labels, 0), expected,
                        sizeof expected);
    cosnet_labels_free(labels);

    labels = UNTOUCHED;
    assert_int_equal(cosnet_labels_load_memory(text, 0, &labels),
                     COSNET_ERROR_BAD_FORMAT);
    assert_string_equal(cosnet_last_error(), "<memory>: no vectors (it is "
                                             "empty)");
    assert_int_equal(cosnet_labels_load_memory(NULL, 0, &labels),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_message_contains("data is NULL");
    assert_int_equal(cosnet_labels_load_memory(text, 5, NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_message_contains("out is NULL");
    assert_ptr_equal(labels, UNTOUCHED);

    char *bytes = UNTOUCHED_TEXT;
    size_t size = 12345;
    assert_int_equal(cosnet_labels_save_memory(NULL, &bytes, &size),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_message_contains("labels is NULL");
    assert_int_equal(cosnet_labels_builtin(&labels), COSNET_OK);
    assert_int_equal(cosnet_labels_save_memory(labels, NULL, &size),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_message_contains("text_out is NULL");
    assert_int_equal(cosnet_labels_save_memory(labels, &bytes, NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_message_contains("size_out is NULL");
    assert_ptr_equal(bytes, UNTOUCHED_TEXT);
    assert_int_equal(size, 12345);
    cosnet_labels_free(labels);
}

/* Lines of COSNET_LABELS_MAX_LINE bytes load; one byte more is refused,
 * from memory and from a file, '\r' counted, the '\n' not. */
static void test_line_length_bound(void **state)
{
    (void)state;
    size_t limit = COSNET_LABELS_MAX_LINE;
    assert_int_equal(limit, 1048576);
    char *text = malloc(limit + 3);
    assert_non_null(text);
    /* "1 1 1 ... 1 " : limit / 2 values, the last followed by a blank. */
    for (size_t i = 0; i < limit; i++)
        text[i] = i % 2 ? ' ' : '1';
    text[limit] = '\n';
    cosnet_labels *labels = NULL;
    assert_int_equal(cosnet_labels_load_memory(text, limit + 1, &labels),
                     COSNET_OK);
    assert_int_equal(cosnet_labels_dims(labels), limit / 2);
    cosnet_labels_free(labels);
    labels = NULL;
    assert_int_equal(cosnet_labels_load_memory(text, limit, &labels),
                     COSNET_OK);
    cosnet_labels_free(labels);

    text[limit] = '\r';
    text[limit + 1] = '\n';
    char expected[128];
    snprintf(expected, sizeof expected,
             ":1: the line is longer than the maximum of %zu bytes", limit);
    expect_load_failure(text, limit + 2, COSNET_ERROR_OUT_OF_RANGE, expected);
    /* On a later line, after a valid one: the line number is right. */
    memmove(text + 2, text, limit + 1);
    text[0] = '1';
    text[1] = '\n';
    snprintf(expected, sizeof expected,
             ":2: the line is longer than the maximum of %zu bytes", limit);
    expect_load_failure(text, limit + 3, COSNET_ERROR_OUT_OF_RANGE, expected);
    free(text);
}

/* Every allocation of save_memory and load_memory failing in turn: the
 * call reports OUT_OF_MEMORY, leaves its outputs alone and leaks nothing
 * (the sanitizer build checks the leaks). */
static void test_memory_allocation_failures(void **state)
{
    (void)state;
    cosnet_labels *labels = NULL;
    assert_int_equal(cosnet_labels_builtin(&labels), COSNET_OK);
    int saved = 0, loaded = 0;
    for (unsigned long n = 1; n < 100 && !(saved && loaded); n++) {
        char *text = UNTOUCHED_TEXT;
        size_t size = 7;
        memory_fail_after(n);
        cosnet_status status = cosnet_labels_save_memory(labels, &text, &size);
        memory_fail_after(0);
        if (status == COSNET_OK) {
            saved = 1;
        } else {
            assert_int_equal(status, COSNET_ERROR_OUT_OF_MEMORY);
            assert_ptr_equal(text, UNTOUCHED_TEXT);
            assert_int_equal(size, 7);
            assert_int_equal(cosnet_labels_save_memory(labels, &text, &size),
                             COSNET_OK);
        }
        cosnet_labels *back = UNTOUCHED;
        memory_fail_after(n);
        status = cosnet_labels_load_memory(text, size, &back);
        memory_fail_after(0);
        if (status == COSNET_OK) {
            loaded = 1;
            assert_memory_equal(cosnet_labels_vector(back, 0),
                                cosnet_labels_vector(labels, 0),
                                250 * sizeof(float));
            cosnet_labels_free(back);
        } else {
            assert_int_equal(status, COSNET_ERROR_OUT_OF_MEMORY);
            assert_ptr_equal(back, UNTOUCHED);
        }
        cosnet_free(text);
    }
    assert_true(saved && loaded);
    cosnet_labels_free(labels);
}

/* --- the pieces of fast generation (lib/labels/label_draw.h) ------------ */

/* The pair stream gives random_normal's deviates bit for bit, and leaves
 * the generator where random_normal leaves it. */
static void test_pairs_match_random_normal(void **state)
{
    (void)state;
    enum { pairs = 100000 };
    double *u = malloc((pairs + 1) * sizeof *u);
    double *s = malloc((pairs + 1) * sizeof *s);
    assert_non_null(u);
    assert_non_null(s);
    for (uint64_t seed = 0; seed < 3; seed++) {
        random_generator fast, reference;
        random_seed(&fast, seed);
        random_seed(&reference, seed);
        /* In uneven pieces, as generation asks for them. */
        size_t done = 0;
        for (size_t piece = 1; done < pairs; piece = piece * 3 + 1) {
            size_t n = piece < pairs - done ? piece : pairs - done;
            labels_fill_pairs(&fast, u + done, s + done, n);
            done += n;
        }
        for (size_t i = 0; i < pairs; i++) {
            double expected = random_normal(&reference);
            double got = labels_pair_normal(u[i], s[i]);
            if (memcmp(&got, &expected, sizeof got) != 0)
                fail_msg("seed %llu deviate %zu: %.17g, random_normal %.17g",
                         (unsigned long long)seed, i, got, expected);
            assert_true(s[i] > 0 && s[i] < 1);
        }
        assert_true(random_next(&fast) == random_next(&reference));
    }
    free(u);
    free(s);
}

/* The vector lanes (AVX-512: 8, AVX2: 4) give the same stream of pairs as
 * the portable path, across many blocks (so across the jumps). */
static void check_lanes(const char *isa, int count)
{
    if (labels_lanes_available(isa) != count) {
        print_message("%s not available here: its lanes not tested\n", isa);
        return;
    }
    enum { blocks = 6 };
    size_t room = blocks * (size_t)LABELS_LANE_BLOCK_PAIRS + 8;
    double *u = malloc(room * sizeof *u), *s = malloc(room * sizeof *s);
    double *u_ref = malloc(room * sizeof *u), *s_ref = malloc(room * sizeof *s);
    uint64_t *raw = NULL;
    assert_int_equal(
        posix_memalign((void **)&raw, 64, 8 * LABELS_LANE_STRIDE * sizeof *raw),
        0);
    assert_true(u && s && u_ref && s_ref);
    /* Pairs examined per block: count stretches of LABELS_LANE_STEPS / 2. */
    size_t examined = (size_t)count * LABELS_LANE_STEPS / 2;
    for (uint64_t seed = 41; seed < 43; seed++) {
        random_generator generator;
        random_seed(&generator, seed);
        labels_lanes lanes;
        lanes.raw = raw;
        labels_lanes_start(&lanes, count, &generator);
        size_t total = 0;
        for (int b = 0; b < blocks; b++) {
            size_t got =
                count == 8
                    ? labels_fill_pairs_avx512(&lanes, u + total, s + total)
                    : labels_fill_pairs_avx2(&lanes, u + total, s + total);
            /* About pi/4 of the pairs are accepted. */
            assert_true(got > examined / 2 && got <= examined);
            total += got;
        }
        labels_fill_pairs(&generator, u_ref, s_ref, total);
        if (memcmp(u, u_ref, total * sizeof *u) != 0 ||
            memcmp(s, s_ref, total * sizeof *s) != 0)
            fail_msg("%s lanes, seed %llu: the pairs differ from the portable "
                     "stream",
                     isa, (unsigned long long)seed);
    }
    free(raw);
    free(u);
    free(s);
    free(u_ref);
    free(s_ref);
}

static void test_lanes_match_pairs(void **state)
{
    (void)state;
    check_lanes("avx512", 8);
    check_lanes("avx2", 4);
    assert_int_equal(labels_lanes_available("scalar"), 0);
}

/* Every magnitude variant gives the scalar one's bits, and the scalar one
 * is within a quarter of LABELS_MAGNITUDE_ERROR of the exact magnitude,
 * over the stream and at the edges of its range reduction. */
static void test_magnitudes_within_bound(void **state)
{
    (void)state;
    enum { stream = 1 << 20, edges = 12, total = stream + edges };
    double *u = malloc((total + 1) * sizeof *u);
    double *s = malloc((total + 1) * sizeof *s);
    float *reference = malloc(total * sizeof *reference);
    float *other = malloc(total * sizeof *other);
    assert_true(u && s && reference && other);
    random_generator generator;
    random_seed(&generator, 2024);
    labels_fill_pairs(&generator, u, s, stream);
    const double edge_u[edges] = {0x1p-52, -0x1p-52, 0.5,  -0.999,
                                  0.7,     0.01,     1e-3, 0.3,
                                  -0.2,    0.1,      1.0,  0x1p-52};
    const double edge_s[edges] = {0x1p-104,
                                  0x1.fffffffffffffp-1,
                                  0.5,
                                  0.999,
                                  0.70710678118654746,
                                  0.70710678118654757,
                                  0x1.0000000000001p-1,
                                  0x1p-52,
                                  0.25,
                                  1e-20,
                                  0x1.fffffffffffffp-1,
                                  0x1.fffffffffffffp-1};
    for (size_t i = 0; i < edges; i++) {
        u[stream + i] = edge_u[i];
        s[stream + i] = edge_s[i];
    }
    labels_magnitude_function scalar = labels_magnitudes_by_name("scalar");
    assert_non_null(scalar);
    scalar(u, s, reference, total);
    double worst = 0;
    size_t worst_at = 0;
    for (size_t i = 0; i < total; i++) {
        double exact = fabs(labels_pair_normal(u[i], s[i]));
        /* Magnitudes below 1e-19 may underflow float; the rejection bound
         * allows for that in absolute terms (label_pairs.c). */
        if (exact < 1e-18)
            continue;
        double error = fabs((double)reference[i] - exact) / exact;
        if (error > worst) {
            worst = error;
            worst_at = i;
        }
    }
    print_message("largest relative error of the magnitudes: %.3g "
                  "(u %.17g, s %.17g)\n",
                  worst, u[worst_at], s[worst_at]);
    assert_true(worst < LABELS_MAGNITUDE_ERROR / 4);
    const char *const names[] = {"avx2", "avx512"};
    for (size_t n = 0; n < 2; n++) {
        labels_magnitude_function variant = labels_magnitudes_by_name(names[n]);
        if (!variant)
            continue;
        variant(u, s, other, total);
        for (size_t i = 0; i < total; i++)
            if (memcmp(&other[i], &reference[i], sizeof(float)) != 0)
                fail_msg("%s magnitude %zu: %.9g, scalar %.9g", names[n], i,
                         (double)other[i], (double)reference[i]);
    }
    assert_null(labels_magnitudes_by_name("no-such-isa"));
    free(u);
    free(s);
    free(reference);
    free(other);
}

/* The bound never rejects a candidate the exact test accepts: with the
 * threshold at the exact cosine it must not reject; a little below it
 * (1e-3 relative), it does. */
static void test_certain_rejection_is_certain(void **state)
{
    (void)state;
    enum { dims = 25, rows = 4, trials = 20000 };
    double u[dims + 1], s[dims + 1], normals[dims];
    float magnitude[dims], candidate[dims], vectors[rows * dims];
    double squared_norms[rows];
    random_generator generator;
    random_seed(&generator, 77);
    for (size_t k = 0; k < rows; k++) {
        labels_fill_pairs(&generator, u, s, dims);
        double sum = 0;
        for (size_t i = 0; i < dims; i++) {
            normals[i] = labels_pair_normal(u[i], s[i]);
            sum += normals[i] * normals[i];
        }
        for (size_t i = 0; i < dims; i++)
            vectors[k * dims + i] = (float)(fabs(normals[i]) / sqrt(sum));
        squared_norms[k] = labels_row_squared_norm(vectors + k * dims, dims);
    }
    double slack = labels_rejection_slack(dims);
    assert_true(slack > 0 && slack < 1e-3);
    labels_magnitude_function scalar = labels_magnitudes_by_name("scalar");
    /* 25 values: one whole vector of 16 and a masked tail of 9 in the
     * AVX-512 variant. */
    size_t rejected_below = 0, avx512_rejected_below = 0;
    int lanes = labels_lanes_available("avx512");
    for (size_t trial = 0; trial < trials; trial++) {
        labels_fill_pairs(&generator, u, s, dims);
        scalar(u, s, magnitude, dims);
        double sum = 0;
        for (size_t i = 0; i < dims; i++) {
            normals[i] = labels_pair_normal(u[i], s[i]);
            sum += normals[i] * normals[i];
        }
        for (size_t i = 0; i < dims; i++)
            candidate[i] = (float)(fabs(normals[i]) / sqrt(sum));
        /* The largest exact cosine with a row, as the generator has it. */
        double largest = -1;
        for (size_t k = 0; k < rows; k++) {
            double cosine =
                reference_cosine(vectors + k * dims, candidate, dims);
            largest = cosine > largest ? cosine : largest;
        }
        if (labels_certainly_rejected(magnitude, dims, vectors, rows,
                                      squared_norms, largest, slack))
            fail_msg("trial %zu: rejected at threshold = its cosine %.17g",
                     trial, largest);
        rejected_below += (size_t)labels_certainly_rejected(
            magnitude, dims, vectors, rows, squared_norms, largest * (1 - 1e-3),
            slack);
        if (lanes) {
            if (labels_certainly_rejected_avx512(magnitude, dims, vectors, rows,
                                                 squared_norms, largest, slack))
                fail_msg("avx512, trial %zu: rejected at threshold = its "
                         "cosine %.17g",
                         trial, largest);
            avx512_rejected_below += (size_t)labels_certainly_rejected_avx512(
                magnitude, dims, vectors, rows, squared_norms,
                largest * (1 - 1e-3), slack);
        }
    }
    /* Only candidates too short for the bound (squared norm < 1) escape. */
    assert_true(rejected_below > trials * 999 / 1000);
    if (lanes)
        assert_true(avx512_rejected_below > trials * 999 / 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_article_parameters),
        cmocka_unit_test(test_generate_other_shapes),
        cmocka_unit_test(test_generate_seeds_differ),
        cmocka_unit_test(test_generate_matches_reference),
        cmocka_unit_test(test_generate_matches_saved_sets),
        cmocka_unit_test(test_generate_gives_up),
        cmocka_unit_test(test_pairs_match_random_normal),
        cmocka_unit_test(test_generate_wide_vectors),
        cmocka_unit_test(test_lanes_match_pairs),
        cmocka_unit_test(test_magnitudes_within_bound),
        cmocka_unit_test(test_certain_rejection_is_certain),
        cmocka_unit_test(test_generate_rejects_arguments),
        cmocka_unit_test(test_builtin_is_the_article_table),
        cmocka_unit_test(test_create_and_queries),
        cmocka_unit_test(test_tiny_norm_rows_rejected),
        cmocka_unit_test(test_similarity_symmetric_unit_diagonal),
        cmocka_unit_test(test_create_rejects),
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_load_accepts_comments_blanks_and_spacing),
        cmocka_unit_test(test_load_rejects_bad_files),
        cmocka_unit_test(test_load_refuses_oversized_file),
        cmocka_unit_test(test_load_overlong_lines),
        cmocka_unit_test(test_load_io_and_arguments),
        cmocka_unit_test(test_save_failures),
        cmocka_unit_test(test_save_write_error),
        cmocka_unit_test(test_memory_round_trip),
        cmocka_unit_test(test_memory_edges),
        cmocka_unit_test(test_line_length_bound),
        cmocka_unit_test(test_memory_allocation_failures),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
