/* Unit tests of cosnet_evaluate: the three rules against a recomputation
 * done here from cosnet_model_predict, thread-count independence, ties,
 * validation. Small IDX files are written by the test; no real data. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cosnet.h"

#define SIDE 28
#define DIMS 25

/* A throw-away folder for this test's IDX files. */
static char folder[64];

static void put_u32(FILE *file, uint32_t value)
{
    unsigned char bytes[4] = {
        (unsigned char)(value >> 24), (unsigned char)(value >> 16),
        (unsigned char)(value >> 8), (unsigned char)value};
    assert_int_equal(fwrite(bytes, 1, 4, file), 4);
}

/* Writes `count` images of side x side pseudo-random pixels and labels
 * i * 7 % classes (so every class appears), returns the opened dataset with
 * `class_count` classes. */
static cosnet_dataset *make_dataset(const char *name, size_t count,
                                    unsigned side, unsigned classes,
                                    unsigned class_count, uint32_t seed)
{
    char images_path[128], labels_path[128];
    snprintf(images_path, sizeof images_path, "%s/%s-images", folder, name);
    snprintf(labels_path, sizeof labels_path, "%s/%s-labels", folder, name);
    FILE *images = fopen(images_path, "wb");
    FILE *labels = fopen(labels_path, "wb");
    assert_non_null(images);
    assert_non_null(labels);
    put_u32(images, 0x00000803);
    put_u32(images, (uint32_t)count);
    put_u32(images, side);
    put_u32(images, side);
    put_u32(labels, 0x00000801);
    put_u32(labels, (uint32_t)count);
    uint32_t state = seed * 2654435761u + 1u;
    for (size_t i = 0; i < count; i++) {
        unsigned char label = (unsigned char)(i * 7 % classes);
        /* Class c is brighter in its own band of rows, under heavy noise:
         * trained models tell the classes apart, but not perfectly. */
        unsigned band_first = label * side / classes;
        unsigned band_end = (label + 1u) * side / classes;
        for (unsigned p = 0; p < side * side; p++) {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            unsigned row = p / side;
            unsigned threshold = row >= band_first && row < band_end ? 90 : 60;
            unsigned char pixel =
                (state >> 24) < threshold ? (unsigned char)(state >> 8) : 0;
            assert_int_equal(fputc(pixel, images), pixel);
        }
        assert_int_equal(fputc(label, labels), label);
    }
    assert_int_equal(fclose(images), 0);
    assert_int_equal(fclose(labels), 0);
    cosnet_dataset *dataset = NULL;
    cosnet_status status =
        cosnet_dataset_open(images_path, labels_path, class_count, &dataset);
    if (status != COSNET_OK)
        fail_msg("cosnet_dataset_open: %s", cosnet_last_error());
    remove(images_path);
    remove(labels_path);
    return dataset;
}

static void make_models(cosnet_model **models, size_t count, uint64_t seed)
{
    for (size_t k = 0; k < count; k++) {
        models[k] = NULL;
        cosnet_status status =
            cosnet_model_create(COSNET_ARCHITECTURE_SEED, seed + k, &models[k]);
        if (status != COSNET_OK)
            fail_msg("cosnet_model_create: %s", cosnet_last_error());
    }
}

/* A few epochs of every model on the first 120 images, each towards its
 * own class's vector (targets per image). Each model then roughly maps an
 * image to its class's vector, so both rules' predictions vary from image
 * to image, with some errors: with untrained models, or models trained on
 * one class only, one class wins almost everywhere and the comparisons
 * below would be nearly trivial. */
static void train_briefly(cosnet_model **models, size_t count,
                          const cosnet_labels *labels,
                          const cosnet_dataset *dataset, unsigned epochs)
{
    enum { IMAGES = 120, BATCH = 10 };
    float *images = malloc(IMAGES * SIDE * SIDE * sizeof *images);
    float *targets = malloc(IMAGES * DIMS * sizeof *targets);
    assert_non_null(images);
    assert_non_null(targets);
    assert_int_equal(cosnet_dataset_to_float(dataset, 0, IMAGES, images),
                     COSNET_OK);
    for (size_t i = 0; i < IMAGES; i++)
        memcpy(targets + i * DIMS,
               cosnet_labels_vector(labels,
                                    (size_t)cosnet_dataset_label(dataset, i)),
               DIMS * sizeof *targets);
    for (size_t k = 0; k < count; k++) {
        cosnet_optimizer *optimizer = NULL;
        assert_int_equal(cosnet_optimizer_create(models[k], &optimizer),
                         COSNET_OK);
        for (unsigned epoch = 1; epoch <= epochs; epoch++)
            assert_int_equal(cosnet_train_epoch(models[k], optimizer, images,
                                                IMAGES, BATCH, targets, DIMS,
                                                epoch, NULL, NULL, NULL),
                             COSNET_OK);
        cosnet_optimizer_free(optimizer);
    }
    free(images);
    free(targets);
}

/* Number of distinct predicted classes under `rule`. */
static size_t predicted_classes(const cosnet_evaluation *evaluation,
                                cosnet_rule rule)
{
    size_t classes = cosnet_evaluation_classes(evaluation), used = 0;
    for (size_t p = 0; p < classes; p++) {
        size_t column = 0;
        for (size_t a = 0; a < classes; a++)
            column += cosnet_evaluation_confusion(evaluation, rule, a, p);
        used += column > 0;
    }
    return used;
}

static void free_models(cosnet_model **models, size_t count)
{
    for (size_t k = 0; k < count; k++)
        cosnet_model_free(models[k]);
}

static cosnet_evaluation *evaluate(cosnet_model **models, size_t count,
                                   const cosnet_labels *labels,
                                   const cosnet_dataset *dataset,
                                   unsigned threads)
{
    cosnet_evaluation *evaluation = NULL;
    cosnet_status status =
        cosnet_evaluate((const cosnet_model *const *)models, count, labels,
                        dataset, threads, &evaluation);
    if (status != COSNET_OK)
        fail_msg("cosnet_evaluate: %s (%s)", cosnet_strerror(status),
                 cosnet_last_error());
    assert_non_null(evaluation);
    return evaluation;
}

/* The torch-form cosine in float, written out again independently. */
static float reference_cosine(const float *a, const float *b)
{
    float dot = 0, aa = 0, bb = 0;
    for (int d = 0; d < DIMS; d++) {
        dot += a[d] * b[d];
        aa += a[d] * a[d];
        bb += b[d] * b[d];
    }
    float floor = 1e-12f;
    return dot / sqrtf(aa * bb > floor ? aa * bb : floor);
}

/* A dataset of `count` images in `classes` classes, labels generated for
 * them and models trained briefly on it, from the three seeds. */
static void prepare_trained(const char *name, size_t count, unsigned classes,
                            uint32_t data_seed, uint64_t labels_seed,
                            uint64_t models_seed, cosnet_dataset **dataset,
                            cosnet_labels **labels, cosnet_model **models)
{
    *dataset = make_dataset(name, count, SIDE, classes, classes, data_seed);
    *labels = NULL;
    assert_int_equal(
        cosnet_labels_generate(classes, DIMS, 0.5, labels_seed, 0, labels),
        COSNET_OK);
    make_models(models, classes, models_seed);
    train_briefly(models, classes, *labels, *dataset, 8);
}

static void free_all(cosnet_model **models, size_t classes,
                     cosnet_labels *labels, cosnet_dataset *dataset)
{
    free_models(models, classes);
    cosnet_labels_free(labels);
    cosnet_dataset_free(dataset);
}

/* Expected counts, recomputed image by image from cosnet_model_predict. */
typedef struct expected_counts {
    size_t classes;
    size_t correct[COSNET_RULE_COUNT];
    size_t confusion[COSNET_RULE_COUNT][16][16];
} expected_counts;

static void recompute(cosnet_model **models, size_t classes,
                      const cosnet_labels *labels,
                      const cosnet_dataset *dataset, expected_counts *expected)
{
    memset(expected, 0, sizeof *expected);
    expected->classes = classes;
    size_t count = cosnet_dataset_count(dataset);
    float *images = malloc(count * SIDE * SIDE * sizeof *images);
    float *outputs = malloc(classes * count * DIMS * sizeof *outputs);
    assert_non_null(images);
    assert_non_null(outputs);
    assert_int_equal(cosnet_dataset_to_float(dataset, 0, count, images),
                     COSNET_OK);
    for (size_t k = 0; k < classes; k++)
        assert_int_equal(cosnet_model_predict(models[k], images, count,
                                              outputs + k * count * DIMS),
                         COSNET_OK);
    for (size_t i = 0; i < count; i++) {
        size_t y = (size_t)cosnet_dataset_label(dataset, i);
        size_t prediction[COSNET_RULE_COUNT] = {0, 0, 0};
        float best[COSNET_RULE_COUNT] = {-INFINITY, -INFINITY, -INFINITY};
        for (size_t k = 0; k < classes; k++) {
            const float *output = outputs + (k * count + i) * DIMS;
            float score[COSNET_RULE_COUNT] = {
                reference_cosine(output, cosnet_labels_vector(labels, y)),
                reference_cosine(output, cosnet_labels_vector(labels, k)),
                reference_cosine(cosnet_labels_vector(labels, k),
                                 cosnet_labels_vector(labels, y))};
            for (int rule = 0; rule < COSNET_RULE_COUNT; rule++)
                if (score[rule] > best[rule]) { /* first maximum wins */
                    best[rule] = score[rule];
                    prediction[rule] = k;
                }
        }
        for (int rule = 0; rule < COSNET_RULE_COUNT; rule++) {
            expected->correct[rule] += prediction[rule] == y;
            expected->confusion[rule][y][prediction[rule]]++;
        }
    }
    free(images);
    free(outputs);
}

static void assert_matches(const cosnet_evaluation *evaluation,
                           const expected_counts *expected, size_t total)
{
    assert_int_equal(cosnet_evaluation_total(evaluation), total);
    assert_int_equal(cosnet_evaluation_classes(evaluation), expected->classes);
    for (int rule = 0; rule < COSNET_RULE_COUNT; rule++) {
        assert_int_equal(cosnet_evaluation_correct(evaluation, rule),
                         expected->correct[rule]);
        for (size_t a = 0; a < expected->classes; a++)
            for (size_t p = 0; p < expected->classes; p++)
                assert_int_equal(
                    cosnet_evaluation_confusion(evaluation, rule, a, p),
                    expected->confusion[rule][a][p]);
    }
}

static void assert_same(const cosnet_evaluation *a, const cosnet_evaluation *b)
{
    assert_int_equal(cosnet_evaluation_total(a), cosnet_evaluation_total(b));
    size_t classes = cosnet_evaluation_classes(a);
    assert_int_equal(classes, cosnet_evaluation_classes(b));
    for (int rule = 0; rule < COSNET_RULE_COUNT; rule++) {
        assert_int_equal(cosnet_evaluation_correct(a, rule),
                         cosnet_evaluation_correct(b, rule));
        for (size_t x = 0; x < classes; x++)
            for (size_t y = 0; y < classes; y++)
                assert_int_equal(cosnet_evaluation_confusion(a, rule, x, y),
                                 cosnet_evaluation_confusion(b, rule, x, y));
    }
}

static void assert_rows_sum_to_class_sizes(const cosnet_evaluation *evaluation,
                                           const cosnet_dataset *dataset)
{
    size_t classes = cosnet_evaluation_classes(evaluation);
    for (int rule = 0; rule < COSNET_RULE_COUNT; rule++) {
        size_t all = 0, diagonal = 0;
        for (size_t a = 0; a < classes; a++) {
            size_t row = 0;
            for (size_t p = 0; p < classes; p++)
                row += cosnet_evaluation_confusion(evaluation, rule, a, p);
            assert_int_equal(row,
                             cosnet_dataset_class_size(dataset, (unsigned)a));
            all += row;
            diagonal += cosnet_evaluation_confusion(evaluation, rule, a, a);
        }
        assert_int_equal(all, cosnet_evaluation_total(evaluation));
        assert_int_equal(diagonal, cosnet_evaluation_correct(evaluation, rule));
    }
}

/* 600 images: three chunks of the evaluation, the last one partial. */
static void test_rules_match_recomputation(void **state)
{
    (void)state;
    enum { CLASSES = 3, COUNT = 600 };
    cosnet_dataset *dataset;
    cosnet_labels *labels;
    cosnet_model *models[CLASSES];
    prepare_trained("recompute", COUNT, CLASSES, 11, 7, 100, &dataset, &labels,
                    models);

    expected_counts expected;
    recompute(models, CLASSES, labels, dataset, &expected);
    cosnet_evaluation *evaluation =
        evaluate(models, CLASSES, labels, dataset, 1);
    assert_matches(evaluation, &expected, COUNT);
    assert_rows_sum_to_class_sizes(evaluation, dataset);
    /* The audit is exact on any data: off-diagonal cosines are <= 0.5. */
    assert_int_equal(
        cosnet_evaluation_correct(evaluation, COSNET_RULE_IMAGE_BLIND), COUNT);
    /* The comparison above is not trivial: both rules predict more than one
     * class and make mistakes. */
    for (int rule = COSNET_RULE_SEED; rule <= COSNET_RULE_OWN_LABEL; rule++) {
        assert_true(predicted_classes(evaluation, rule) >= 2);
        assert_true(cosnet_evaluation_correct(evaluation, rule) < COUNT);
    }

    cosnet_evaluation_free(evaluation);
    free_all(models, CLASSES, labels, dataset);
}

/* Models whose first layers differ (the seed network's conv pad 1, a conv
 * with pad 2, a dense first layer): the evaluation cannot share one
 * zero-bordered copy of the pixels among them and must still count what
 * cosnet_model_predict gives image by image. Then only the pad of one first
 * convolution differs; then all three first convolutions are alike but
 * later layers differ (one shared copy). */
static void test_mixed_first_layers_match_recomputation(void **state)
{
    (void)state;
    enum { CLASSES = 3, COUNT = 300 };
    /* NULL: the seed network. The last set starts every model with a
     * dense layer: plain images, no bordered input and no column spans
     * (the AVX-512 build once took them for bordered and dereferenced a
     * NULL first convolution). */
    static const char *const layer_sets[4][CLASSES] = {
        {NULL, "conv3x3 4 pad 2, relu, maxpool2x2, flatten, dense 25",
         "flatten, dense 16, relu, dense 25"},
        {NULL, "conv3x3 4 pad 2, relu, maxpool2x2, flatten, dense 25",
         "conv3x3 3 pad 1, relu, flatten, dense 25"},
        {NULL, "conv3x3 16 pad 1, relu, maxpool2x2, flatten, dense 25",
         "conv3x3 3 pad 1, relu, flatten, dense 25"},
        {"flatten, dense 25", "flatten, dense 25",
         "flatten, dense 16, relu, dense 25"},
    };
    for (int set = 0; set < 4; set++) {
        cosnet_dataset *dataset =
            make_dataset("mixed", COUNT, SIDE, CLASSES, CLASSES, 23);
        cosnet_labels *labels = NULL;
        assert_int_equal(
            cosnet_labels_generate(CLASSES, DIMS, 0.5, 5, 0, &labels),
            COSNET_OK);
        cosnet_model *models[CLASSES];
        if (!layer_sets[set][0])
            make_models(models, 1, 300);
        for (size_t k = layer_sets[set][0] ? 0 : 1; k < CLASSES; k++) {
            models[k] = NULL;
            assert_int_equal(cosnet_model_create_layers(layer_sets[set][k], 1,
                                                        SIDE, SIDE, 300 + k,
                                                        &models[k]),
                             COSNET_OK);
        }
        train_briefly(models, CLASSES, labels, dataset, 4);
        expected_counts expected;
        recompute(models, CLASSES, labels, dataset, &expected);
        cosnet_evaluation *evaluation =
            evaluate(models, CLASSES, labels, dataset, 2);
        assert_matches(evaluation, &expected, COUNT);
        assert_true(predicted_classes(evaluation, COSNET_RULE_OWN_LABEL) >= 2);
        cosnet_evaluation_free(evaluation);
        free_all(models, CLASSES, labels, dataset);
    }
}

/* 1000 images = four chunks, so 2, 3 and 0 (all CPUs) threads really split
 * the work; 9 threads is more than there are chunks. */
static void test_thread_count_does_not_change_counts(void **state)
{
    (void)state;
    enum { CLASSES = 3, COUNT = 1000 };
    cosnet_dataset *dataset;
    cosnet_labels *labels;
    cosnet_model *models[CLASSES];
    prepare_trained("threads", COUNT, CLASSES, 23, 3, 500, &dataset, &labels,
                    models);

    expected_counts expected;
    recompute(models, CLASSES, labels, dataset, &expected);
    cosnet_evaluation *one = evaluate(models, CLASSES, labels, dataset, 1);
    assert_matches(one, &expected, COUNT);
    for (int rule = COSNET_RULE_SEED; rule <= COSNET_RULE_OWN_LABEL; rule++)
        assert_true(predicted_classes(one, rule) >= 2);
    const unsigned thread_counts[] = {2, 3, 0, 9};
    for (size_t t = 0; t < sizeof thread_counts / sizeof *thread_counts; t++) {
        cosnet_evaluation *other =
            evaluate(models, CLASSES, labels, dataset, thread_counts[t]);
        assert_same(one, other);
        assert_rows_sum_to_class_sizes(other, dataset);
        cosnet_evaluation_free(other);
    }
    cosnet_evaluation_free(one);
    free_all(models, CLASSES, labels, dataset);
}

/* The article's setting: ten models, the author's labels. The audit scores
 * every image whatever the (untrained) models do. */
static void test_audit_is_always_perfect(void **state)
{
    (void)state;
    enum { CLASSES = 10, COUNT = 400 };
    cosnet_dataset *dataset =
        make_dataset("audit", COUNT, SIDE, CLASSES, CLASSES, 5);
    cosnet_labels *labels = NULL;
    assert_int_equal(cosnet_labels_builtin(&labels), COSNET_OK);
    cosnet_model *models[CLASSES];
    make_models(models, CLASSES, 9000);
    train_briefly(models, CLASSES, labels, dataset, 8);

    cosnet_evaluation *evaluation =
        evaluate(models, CLASSES, labels, dataset, 2);
    assert_int_equal(cosnet_evaluation_total(evaluation), COUNT);
    assert_int_equal(
        cosnet_evaluation_correct(evaluation, COSNET_RULE_IMAGE_BLIND), COUNT);
    for (size_t a = 0; a < CLASSES; a++)
        assert_int_equal(cosnet_evaluation_confusion(
                             evaluation, COSNET_RULE_IMAGE_BLIND, a, a),
                         cosnet_dataset_class_size(dataset, (unsigned)a));
    assert_rows_sum_to_class_sizes(evaluation, dataset);
    expected_counts expected;
    recompute(models, CLASSES, labels, dataset, &expected);
    assert_matches(evaluation, &expected, COUNT);

    cosnet_evaluation_free(evaluation);
    free_all(models, CLASSES, labels, dataset);
}

/* Classes 0 and 1 get identical models (same seed) and identical label
 * vectors, so their scores tie exactly under every rule: class 1 must never
 * be predicted. */
static void test_ties_go_to_the_lowest_index(void **state)
{
    (void)state;
    enum { CLASSES = 3, COUNT = 90 };
    cosnet_dataset *dataset =
        make_dataset("ties", COUNT, SIDE, CLASSES, CLASSES, 77);
    cosnet_labels *generated = NULL;
    assert_int_equal(
        cosnet_labels_generate(CLASSES, DIMS, 0.5, 12, 0, &generated),
        COSNET_OK);
    float values[CLASSES * DIMS];
    memcpy(values, cosnet_labels_vector(generated, 0), DIMS * sizeof *values);
    memcpy(values + DIMS, cosnet_labels_vector(generated, 0),
           DIMS * sizeof *values);
    memcpy(values + 2 * DIMS, cosnet_labels_vector(generated, 2),
           DIMS * sizeof *values);
    cosnet_labels_free(generated);
    cosnet_labels *labels = NULL;
    assert_int_equal(cosnet_labels_create(CLASSES, DIMS, values, &labels),
                     COSNET_OK);
    cosnet_model *models[CLASSES] = {NULL, NULL, NULL};
    assert_int_equal(
        cosnet_model_create(COSNET_ARCHITECTURE_SEED, 42, &models[0]),
        COSNET_OK);
    assert_int_equal(
        cosnet_model_create(COSNET_ARCHITECTURE_SEED, 42, &models[1]),
        COSNET_OK);
    assert_int_equal(
        cosnet_model_create(COSNET_ARCHITECTURE_SEED, 43, &models[2]),
        COSNET_OK);

    cosnet_evaluation *evaluation =
        evaluate(models, CLASSES, labels, dataset, 2);
    size_t class_one = cosnet_dataset_class_size(dataset, 1);
    assert_int_equal(class_one, COUNT / CLASSES);
    for (int rule = 0; rule < COSNET_RULE_COUNT; rule++)
        for (size_t a = 0; a < CLASSES; a++)
            assert_int_equal(
                cosnet_evaluation_confusion(evaluation, rule, a, 1), 0);
    /* Image-blind: cos(v_0, v_1) = cos(v_1, v_1), so class 1 goes to 0. */
    assert_int_equal(
        cosnet_evaluation_confusion(evaluation, COSNET_RULE_IMAGE_BLIND, 1, 0),
        class_one);
    assert_int_equal(
        cosnet_evaluation_correct(evaluation, COSNET_RULE_IMAGE_BLIND),
        COUNT - class_one);
    /* Seed and own-label rules read identical scores for 0 and 1, so every
     * class-1 image is predicted 0 or 2, and every class-0 image that is not
     * predicted 2 is right. */
    for (int rule = COSNET_RULE_SEED; rule <= COSNET_RULE_OWN_LABEL; rule++) {
        assert_int_equal(
            cosnet_evaluation_confusion(evaluation, rule, 1, 0) +
                cosnet_evaluation_confusion(evaluation, rule, 1, 2),
            class_one);
    }
    expected_counts expected;
    recompute(models, CLASSES, labels, dataset, &expected);
    assert_matches(evaluation, &expected, COUNT);

    cosnet_evaluation_free(evaluation);
    free_all(models, CLASSES, labels, dataset);
}

static void assert_fails(cosnet_model **models, size_t count,
                         const cosnet_labels *labels,
                         const cosnet_dataset *dataset, cosnet_status expected,
                         const char *message_part1, const char *message_part2)
{
    cosnet_evaluation *sentinel = (cosnet_evaluation *)&folder;
    cosnet_evaluation *evaluation = sentinel;
    cosnet_status status =
        cosnet_evaluate((const cosnet_model *const *)models, count, labels,
                        dataset, 1, &evaluation);
    assert_int_equal(status, expected);
    assert_ptr_equal(evaluation, sentinel); /* output untouched */
    const char *message = cosnet_last_error();
    if (!strstr(message, message_part1) ||
        (message_part2 && !strstr(message, message_part2)))
        fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", message, message_part1,
                 message_part2 ? message_part2 : "");
}

static void test_validation(void **state)
{
    (void)state;
    cosnet_dataset *dataset = make_dataset("valid", 12, SIDE, 3, 3, 1);
    cosnet_dataset *four_classes = make_dataset("four", 12, SIDE, 3, 4, 2);
    cosnet_dataset *small_images = make_dataset("small", 12, 20, 3, 3, 3);
    cosnet_labels *labels3 = NULL, *labels4 = NULL, *short_labels = NULL;
    assert_int_equal(cosnet_labels_generate(3, DIMS, 0.5, 1, 0, &labels3),
                     COSNET_OK);
    assert_int_equal(cosnet_labels_generate(4, DIMS, 0.5, 1, 0, &labels4),
                     COSNET_OK);
    assert_int_equal(cosnet_labels_generate(3, 10, 0.5, 1, 0, &short_labels),
                     COSNET_OK);
    cosnet_model *models[3];
    make_models(models, 3, 1);
    cosnet_evaluation *evaluation = NULL;

    assert_int_equal(cosnet_evaluate(NULL, 3, labels3, dataset, 1, &evaluation),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(cosnet_last_error(), "models"));
    assert_fails(models, 3, NULL, dataset, COSNET_ERROR_INVALID_ARGUMENT,
                 "NULL labels", NULL);
    assert_fails(models, 3, labels3, NULL, COSNET_ERROR_INVALID_ARGUMENT,
                 "NULL dataset", NULL);
    assert_int_equal(cosnet_evaluate((const cosnet_model *const *)models, 3,
                                     labels3, dataset, 1, NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_fails(models, 0, labels3, dataset, COSNET_ERROR_INVALID_ARGUMENT,
                 "model_count is 0", NULL);
    cosnet_model *with_null[3] = {models[0], NULL, models[2]};
    assert_fails(with_null, 3, labels3, dataset, COSNET_ERROR_INVALID_ARGUMENT,
                 "model 1 is NULL", NULL);
    assert_fails(models, 3, labels4, dataset, COSNET_ERROR_MISMATCH, "3 models",
                 "4 label vectors");
    assert_fails(models, 3, labels3, four_classes, COSNET_ERROR_MISMATCH,
                 "3 models", "4 classes");
    assert_fails(models, 3, short_labels, dataset, COSNET_ERROR_MISMATCH,
                 "25 outputs", "10 dimensions");
    assert_fails(models, 3, labels3, small_images, COSNET_ERROR_MISMATCH,
                 "28x28", "20x20");
    /* Models of three input channels: a dataset's images have one (they
     * used to be read past the end of each image). */
    cosnet_model *colour[3];
    for (size_t k = 0; k < 3; k++) {
        colour[k] = NULL;
        assert_int_equal(
            cosnet_model_create_layers(
                "conv3x3 4 pad 1, relu, maxpool2x2, flatten, dense 25", 3, SIDE,
                SIDE, 60 + k, &colour[k]),
            COSNET_OK);
    }
    assert_fails(colour, 3, labels3, dataset, COSNET_ERROR_MISMATCH, "3x28x28",
                 "1x28x28");
    free_models(colour, 3);
    /* Parameters so large the outputs overflow: no score is counted. One
     * dense layer of positive weights over nonnegative pixels overflows to
     * +inf on every ISA (through convolutions, inf - inf would be NaN, which
     * the SIMD ReLUs turn into 0). */
    cosnet_model *huge[3];
    for (size_t k = 0; k < 3; k++) {
        huge[k] = NULL;
        assert_int_equal(cosnet_model_create_layers("flatten, dense 25", 1,
                                                    SIDE, SIDE, 70 + k,
                                                    &huge[k]),
                         COSNET_OK);
    }
    for (size_t k = 0; k < 3; k++) {
        size_t n = cosnet_model_parameter_count(huge[k]);
        float *values = malloc(n * sizeof *values);
        assert_non_null(values);
        for (size_t i = 0; i < n; i++)
            values[i] = 3e38f;
        assert_int_equal(cosnet_model_set_parameters(huge[k], values, n),
                         COSNET_OK);
        free(values);
    }
    assert_fails(huge, 3, labels3, dataset, COSNET_ERROR_NOT_FINITE,
                 "overflow float arithmetic", NULL);
    free_models(huge, 3);

    /* More models than classes is allowed: model 3 may win. */
    cosnet_model *four_models[4];
    make_models(four_models, 4, 30);
    evaluation = evaluate(four_models, 4, labels4, dataset, 1);
    assert_int_equal(cosnet_evaluation_classes(evaluation), 4);
    assert_int_equal(
        cosnet_evaluation_correct(evaluation, COSNET_RULE_IMAGE_BLIND), 12);
    /* Accessors reject what is out of range. */
    assert_int_equal(cosnet_evaluation_correct(evaluation, (cosnet_rule)3), 0);
    assert_int_equal(cosnet_evaluation_correct(evaluation, (cosnet_rule)-1), 0);
    assert_int_equal(
        cosnet_evaluation_confusion(evaluation, COSNET_RULE_SEED, 4, 0), 0);
    assert_int_equal(
        cosnet_evaluation_confusion(evaluation, COSNET_RULE_SEED, 0, 4), 0);
    assert_int_equal(
        cosnet_evaluation_confusion(evaluation, (cosnet_rule)3, 0, 0), 0);
    cosnet_evaluation_free(evaluation);
    free_models(four_models, 4);

    assert_int_equal(cosnet_evaluation_total(NULL), 0);
    assert_int_equal(cosnet_evaluation_classes(NULL), 0);
    assert_int_equal(cosnet_evaluation_correct(NULL, COSNET_RULE_SEED), 0);
    assert_int_equal(cosnet_evaluation_confusion(NULL, COSNET_RULE_SEED, 0, 0),
                     0);
    cosnet_evaluation_free(NULL);

    free_models(models, 3);
    cosnet_labels_free(labels3);
    cosnet_labels_free(labels4);
    cosnet_labels_free(short_labels);
    cosnet_dataset_free(dataset);
    cosnet_dataset_free(four_classes);
    cosnet_dataset_free(small_images);
}

static int make_folder(void **state)
{
    (void)state;
    snprintf(folder, sizeof folder, "/tmp/cosnet-evaluate-XXXXXX");
    return mkdtemp(folder) ? 0 : -1;
}

static int remove_folder(void **state)
{
    (void)state;
    return rmdir(folder);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_match_recomputation),
        cmocka_unit_test(test_mixed_first_layers_match_recomputation),
        cmocka_unit_test(test_thread_count_does_not_change_counts),
        cmocka_unit_test(test_audit_is_always_perfect),
        cmocka_unit_test(test_ties_go_to_the_lowest_index),
        cmocka_unit_test(test_validation),
    };
    return cmocka_run_group_tests(tests, make_folder, remove_folder);
}
