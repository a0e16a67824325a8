/* Unit tests of the honest classifier: layer lists as text, the trainer
 * (options, training that learns, bit-identical results for any thread
 * count, validation, cancellation, bad inputs), cosnet_classify against
 * cosnet_evaluate_classifier, and the classifier architecture's file round
 * trip. Small synthetic IDX files are written here; no real data. */
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
#include <zlib.h>

#include "cosnet.h"
#include "common/thread.h"

#define SIDE 12
#define CLASSES 4
#define DIMS 5
#define NET "conv3x3 4 pad 1, relu, maxpool2x2, flatten, dense 8, relu, dense 5"

static char folder[64];

static void put_u32(FILE *file, uint32_t value)
{
    unsigned char bytes[4] = {
        (unsigned char)(value >> 24), (unsigned char)(value >> 16),
        (unsigned char)(value >> 8), (unsigned char)value};
    assert_int_equal(fwrite(bytes, 1, 4, file), 4);
}

/* `count` images: class c (= i % CLASSES) is brighter in quadrant c, under
 * noise, so a small network can learn it but not trivially. */
static cosnet_dataset *make_dataset(const char *name, size_t count,
                                    uint32_t seed)
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
    put_u32(images, SIDE);
    put_u32(images, SIDE);
    put_u32(labels, 0x00000801);
    put_u32(labels, (uint32_t)count);
    uint32_t state = seed * 2654435761u + 1u;
    for (size_t i = 0; i < count; i++) {
        unsigned char label = (unsigned char)(i * 7 % CLASSES);
        for (unsigned y = 0; y < SIDE; y++)
            for (unsigned x = 0; x < SIDE; x++) {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                unsigned quadrant = (y >= SIDE / 2) * 2 + (x >= SIDE / 2);
                unsigned value = state % 160 + (quadrant == label ? 90 : 0);
                unsigned char pixel =
                    (unsigned char)(value > 255 ? 255 : value);
                assert_int_equal(fwrite(&pixel, 1, 1, images), 1);
            }
        assert_int_equal(fwrite(&label, 1, 1, labels), 1);
    }
    fclose(images);
    fclose(labels);
    cosnet_dataset *dataset = NULL;
    assert_int_equal(
        cosnet_dataset_open(images_path, labels_path, CLASSES, &dataset),
        COSNET_OK);
    return dataset;
}

/* The handles of one training run, in the order they are freed. */
static void free_run(cosnet_trainer *trainer, cosnet_model *model,
                     cosnet_labels *labels, cosnet_dataset *dataset)
{
    cosnet_trainer_free(trainer);
    cosnet_model_free(model);
    cosnet_labels_free(labels);
    cosnet_dataset_free(dataset);
}

static cosnet_model *new_model(uint64_t seed)
{
    cosnet_model *model = NULL;
    assert_int_equal(
        cosnet_model_create_layers(NET, 1, SIDE, SIDE, seed, &model),
        COSNET_OK);
    return model;
}

static cosnet_labels *new_labels(void)
{
    /* Unit vectors along the first four axes: pairwise cosine 0. */
    float values[CLASSES * DIMS] = {0};
    for (int k = 0; k < CLASSES; k++)
        values[k * DIMS + k] = 1.0f;
    cosnet_labels *labels = NULL;
    assert_int_equal(cosnet_labels_create(CLASSES, DIMS, values, &labels),
                     COSNET_OK);
    return labels;
}

static cosnet_trainer *new_trainer(unsigned threads)
{
    cosnet_trainer *trainer = NULL;
    assert_int_equal(cosnet_trainer_create(&trainer), COSNET_OK);
    assert_int_equal(cosnet_trainer_set(trainer, COSNET_TRAINER_EPOCHS, 4),
                     COSNET_OK);
    assert_int_equal(cosnet_trainer_set(trainer, COSNET_TRAINER_BATCH_SIZE, 16),
                     COSNET_OK);
    assert_int_equal(
        cosnet_trainer_set(trainer, COSNET_TRAINER_LEARNING_RATE, 0.01),
        COSNET_OK);
    assert_int_equal(cosnet_trainer_set(trainer, COSNET_TRAINER_SHIFT, 1),
                     COSNET_OK);
    assert_int_equal(
        cosnet_trainer_set(trainer, COSNET_TRAINER_THREADS, threads),
        COSNET_OK);
    return trainer;
}

static double accuracy(const cosnet_model *model, const cosnet_labels *labels,
                       const cosnet_dataset *dataset)
{
    cosnet_evaluation *evaluation = NULL;
    assert_int_equal(
        cosnet_evaluate_classifier(model, labels, dataset, 2, &evaluation),
        COSNET_OK);
    double result =
        (double)cosnet_evaluation_correct(evaluation, COSNET_RULE_OWN_LABEL) /
        (double)cosnet_evaluation_total(evaluation);
    cosnet_evaluation_free(evaluation);
    return result;
}

/* ---- Layer lists as text ------------------------------------------------ */

static void test_layers_text(void **state)
{
    (void)state;
    cosnet_model *model = new_model(1);
    assert_string_equal(cosnet_model_layers(model),
                        "conv3x3 4 pad 1, relu, maxpool2x2, flatten, dense 8, "
                        "relu, dense 5");
    /* 4*9+4 conv, 8*(4*6*6)+8 dense, 5*8+5 dense. */
    assert_int_equal(cosnet_model_parameter_count(model),
                     40 + 8 * 144 + 8 + 45);
    assert_int_equal(cosnet_model_output_dims(model), DIMS);
    assert_int_equal(cosnet_model_architecture(model), 0);
    cosnet_model_free(model);
    assert_string_equal(cosnet_model_layers(NULL), "");

    cosnet_model *untouched = (cosnet_model *)&model;
    const struct {
        const char *text;
        const char *message;
    } bad[] = {
        {"conv3x3", "cannot read layer 0"},
        {"conv3x3 4 pad", "cannot read layer 0"},
        {"dense 4,, relu", "cannot read layer 1"},
        {"softmax", "cannot read layer 0"},
        {"dense 4 relu", "cannot read layer 0"},
        {"", "cannot read layer 0"},
        {"conv3x3 4 pad 3", "pad outside 0..2"},
        {"maxpool2x2, relu", "must follow"},
        {"flatten, dropout 1, dense 4", "cannot read layer 1"},
        {"flatten, dropout 0.1234, dense 4", "cannot read layer 1"},
        {"flatten, dropout 0.95, dense 4", "fraction outside 0.001..0.9"},
        {"flatten, dropout 0.0, dense 4", "fraction outside 0.001..0.9"},
        {"flatten, dense 4, dropout 0.5", "cannot be the last layer"},
        {"flatten, dense 4, dropout 0.5, relu, dense 4", "must follow"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(cosnet_model_create_layers(bad[i].text, 1, SIDE, SIDE,
                                                    1, &untouched),
                         COSNET_ERROR_BAD_FORMAT);
        if (!strstr(cosnet_last_error(), bad[i].message))
            fail_msg("\"%s\": message \"%s\" lacks \"%s\"", bad[i].text,
                     cosnet_last_error(), bad[i].message);
        assert_ptr_equal(untouched, (cosnet_model *)&model);
    }
    assert_int_equal(
        cosnet_model_create_layers(NET, 0, SIDE, SIDE, 1, &untouched),
        COSNET_ERROR_BAD_FORMAT);
    assert_int_equal(
        cosnet_model_create_layers(NULL, 1, SIDE, SIDE, 1, &untouched),
        COSNET_ERROR_INVALID_ARGUMENT);
}

/* A dropout layer: read and written back as text, saved and loaded, no
 * parameters of its own, and the identity when predicting (the same
 * parameters without it give the same outputs, bit for bit). */
static void test_dropout_layer(void **state)
{
    (void)state;
    const char *with = "conv3x3 4 pad 1, relu, maxpool2x2, dropout 0.25, "
                       "flatten, dense 8, relu, dropout .5, dense 5";
    const char *without = "conv3x3 4 pad 1, relu, maxpool2x2, flatten, "
                          "dense 8, relu, dense 5";
    cosnet_model *a = NULL, *b = NULL;
    assert_int_equal(cosnet_model_create_layers(with, 1, SIDE, SIDE, 3, &a),
                     COSNET_OK);
    assert_string_equal(cosnet_model_layers(a),
                        "conv3x3 4 pad 1, relu, maxpool2x2, dropout 0.25, "
                        "flatten, dense 8, relu, dropout 0.5, dense 5");
    assert_int_equal(cosnet_model_create_layers(without, 1, SIDE, SIDE, 3, &b),
                     COSNET_OK);
    const size_t n = cosnet_model_parameter_count(a);
    assert_int_equal(n, cosnet_model_parameter_count(b));
    float *parameters = malloc(n * sizeof *parameters);
    assert_int_equal(cosnet_model_get_parameters(a, parameters, n), COSNET_OK);
    assert_int_equal(cosnet_model_set_parameters(b, parameters, n), COSNET_OK);
    float images[3 * SIDE * SIDE], out_a[3 * DIMS], out_b[3 * DIMS];
    for (int i = 0; i < 3 * SIDE * SIDE; i++)
        images[i] = (float)((i * 37) % 101) / 100.0f;
    assert_int_equal(cosnet_model_predict(a, images, 3, out_a), COSNET_OK);
    assert_int_equal(cosnet_model_predict(b, images, 3, out_b), COSNET_OK);
    assert_memory_equal(out_a, out_b, sizeof out_a);

    char path[128];
    snprintf(path, sizeof path, "%s/dropout.cosnet", folder);
    assert_int_equal(cosnet_model_save(a, path), COSNET_OK);
    cosnet_model *loaded = NULL;
    assert_int_equal(cosnet_model_load(path, &loaded), COSNET_OK);
    assert_string_equal(cosnet_model_layers(loaded), cosnet_model_layers(a));
    assert_int_equal(cosnet_model_predict(loaded, images, 3, out_b), COSNET_OK);
    assert_memory_equal(out_a, out_b, sizeof out_a);
    unlink(path);
    free(parameters);
    cosnet_model_free(loaded);
    cosnet_model_free(a);
    cosnet_model_free(b);
}

/* The built-in classifiers: their numbers, and a file round trip (version 2
 * records the layers) for it and for a custom list. */
static void test_classifier_architecture_files(void **state)
{
    (void)state;
    cosnet_model *model = NULL;
    assert_int_equal(
        cosnet_model_create(COSNET_ARCHITECTURE_CLASSIFIER, 5, &model),
        COSNET_OK);
    /* 16*9+16, 32*16*9+32, 128*1568+128, 25*128+25. */
    assert_int_equal(cosnet_model_parameter_count(model), 208857);
    assert_int_equal(cosnet_model_output_dims(model), 25);
    char path[128];
    snprintf(path, sizeof path, "%s/classifier.cosnet", folder);
    assert_int_equal(cosnet_model_save(model, path), COSNET_OK);
    cosnet_model *loaded = NULL;
    assert_int_equal(cosnet_model_load(path, &loaded), COSNET_OK);
    assert_int_equal(cosnet_model_architecture(loaded),
                     COSNET_ARCHITECTURE_CLASSIFIER);
    assert_string_equal(cosnet_model_layers(loaded),
                        cosnet_model_layers(model));
    cosnet_model_free(loaded);
    cosnet_model_free(model);

    assert_int_equal(
        cosnet_model_create(COSNET_ARCHITECTURE_DEEP_CLASSIFIER, 5, &model),
        COSNET_OK);
    /* 16*9+16, 32*16*9+32, 32*32*9+32, 128*1568+128, 25*128+25. */
    assert_int_equal(cosnet_model_parameter_count(model), 218105);
    assert_string_equal(cosnet_model_layers(model),
                        "conv3x3 16 pad 1, relu, maxpool2x2, conv3x3 32 pad 1, "
                        "relu, conv3x3 32 pad 1, relu, maxpool2x2, flatten, "
                        "dense 128, relu, dense 25");
    assert_int_equal(cosnet_model_save(model, path), COSNET_OK);
    assert_int_equal(cosnet_model_load(path, &loaded), COSNET_OK);
    assert_int_equal(cosnet_model_architecture(loaded),
                     COSNET_ARCHITECTURE_DEEP_CLASSIFIER);
    assert_string_equal(cosnet_model_layers(loaded),
                        cosnet_model_layers(model));
    cosnet_model_free(loaded);
    cosnet_model_free(model);

    model = new_model(6);
    assert_int_equal(cosnet_model_save(model, path), COSNET_OK);
    assert_int_equal(cosnet_model_load(path, &loaded), COSNET_OK);
    assert_int_equal(cosnet_model_architecture(loaded), 0);
    assert_int_equal(cosnet_model_input_rows(loaded), SIDE);
    assert_string_equal(cosnet_model_layers(loaded), NET);
    size_t n = cosnet_model_parameter_count(model);
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    assert_int_equal(cosnet_model_get_parameters(model, a, n), COSNET_OK);
    assert_int_equal(cosnet_model_get_parameters(loaded, b, n), COSNET_OK);
    assert_memory_equal(a, b, n * sizeof *a);
    free(a);
    free(b);
    cosnet_model_free(loaded);
    cosnet_model_free(model);
    unlink(path);
}

/* ---- The trainer -------------------------------------------------------- */

static void test_trainer_options(void **state)
{
    (void)state;
    cosnet_trainer *trainer = NULL;
    assert_int_equal(cosnet_trainer_create(&trainer), COSNET_OK);
    double value = 0;
    assert_int_equal(cosnet_trainer_get(trainer, COSNET_TRAINER_EPOCHS, &value),
                     COSNET_OK);
    assert_true(value == 10);
    assert_int_equal(
        cosnet_trainer_get(trainer, COSNET_TRAINER_BATCH_SIZE, &value),
        COSNET_OK);
    assert_true(value == 64);
    assert_int_equal(cosnet_trainer_set(trainer, COSNET_TRAINER_EPOCHS, 0),
                     COSNET_ERROR_OUT_OF_RANGE);
    assert_non_null(strstr(cosnet_last_error(), "epochs"));
    assert_int_equal(cosnet_trainer_set(trainer, COSNET_TRAINER_EPOCHS, 2.5),
                     COSNET_ERROR_OUT_OF_RANGE);
    assert_non_null(strstr(cosnet_last_error(), "whole number"));
    assert_int_equal(
        cosnet_trainer_set(trainer, COSNET_TRAINER_LEARNING_RATE, NAN),
        COSNET_ERROR_OUT_OF_RANGE);
    assert_int_equal(cosnet_trainer_set(trainer, COSNET_TRAINER_SHIFT, 17),
                     COSNET_ERROR_OUT_OF_RANGE);
    assert_int_equal(cosnet_trainer_set(trainer, COSNET_TRAINER_WARMUP, 1.5),
                     COSNET_ERROR_OUT_OF_RANGE);
    assert_int_equal(cosnet_trainer_set(trainer, COSNET_TRAINER_ROTATE, 46),
                     COSNET_ERROR_OUT_OF_RANGE);
    assert_int_equal(cosnet_trainer_set(trainer, COSNET_TRAINER_SCALE, 0.6),
                     COSNET_ERROR_OUT_OF_RANGE);
    assert_int_equal(cosnet_trainer_set(trainer, COSNET_TRAINER_ELASTIC, 8.5),
                     COSNET_ERROR_OUT_OF_RANGE);
    assert_int_equal(cosnet_trainer_set(trainer, COSNET_TRAINER_ELASTIC, -1),
                     COSNET_ERROR_OUT_OF_RANGE);
    assert_int_equal(
        cosnet_trainer_get(trainer, COSNET_TRAINER_SOFTMAX_SCALE, &value),
        COSNET_OK);
    assert_true(value == 0); /* the cosine loss */
    assert_int_equal(
        cosnet_trainer_set(trainer, COSNET_TRAINER_SOFTMAX_SCALE, 100.5),
        COSNET_ERROR_OUT_OF_RANGE);
    assert_non_null(strstr(cosnet_last_error(), "softmax scale"));
    assert_int_equal(
        cosnet_trainer_set(trainer, COSNET_TRAINER_SOFTMAX_SCALE, -1),
        COSNET_ERROR_OUT_OF_RANGE);
    assert_int_equal(
        cosnet_trainer_set(trainer, COSNET_TRAINER_SOFTMAX_SCALE, 100),
        COSNET_OK);
    assert_int_equal(
        cosnet_trainer_get(trainer, COSNET_TRAINER_SOFTMAX_SCALE, &value),
        COSNET_OK);
    assert_true(value == 100);
    assert_int_equal(cosnet_trainer_set(trainer, (cosnet_trainer_option)99, 1),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_trainer_get(trainer, COSNET_TRAINER_EPOCHS, NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);
    /* Nothing has run yet. */
    assert_int_equal(cosnet_trainer_epochs_done(trainer), 0);
    assert_true(isnan(cosnet_trainer_epoch_loss(trainer, 1)));
    assert_true(cosnet_trainer_validation_accuracy(trainer, 1) == -1.0);
    cosnet_trainer_free(trainer);
    cosnet_trainer_free(NULL);
    assert_int_equal(cosnet_trainer_create(NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);
}

typedef struct progress_log {
    unsigned batches, epochs, stop_after_epoch;
    size_t last_done;
} progress_log;

static int log_progress(void *user_data, unsigned epoch, size_t done,
                        size_t total, float loss, int finished)
{
    progress_log *log = user_data;
    assert_true(done <= total);
    assert_true(isfinite(loss));
    if (finished) {
        assert_int_equal(done, total);
        log->epochs++;
        return log->stop_after_epoch != 0 && epoch >= log->stop_after_epoch;
    }
    log->batches++;
    log->last_done = done;
    return 0;
}

/* It learns: far above chance on images it never saw, the loss falls, and
 * the validation accuracy is reported every epoch. */
static void test_trainer_learns(void **state)
{
    (void)state;
    cosnet_dataset *train = make_dataset("train", 600, 1);
    cosnet_dataset *test = make_dataset("test", 200, 2);
    cosnet_labels *labels = new_labels();
    cosnet_model *model = new_model(7);
    const double before = accuracy(model, labels, test);
    cosnet_trainer *trainer = new_trainer(2);
    assert_int_equal(
        cosnet_trainer_set(trainer, COSNET_TRAINER_VALIDATION, 100), COSNET_OK);
    progress_log log = {0, 0, 0, 0};
    assert_int_equal(cosnet_trainer_set_progress(trainer, log_progress, &log),
                     COSNET_OK);
    assert_int_equal(cosnet_trainer_run(trainer, model, labels, train),
                     COSNET_OK);
    const double after = accuracy(model, labels, test);
    print_message("  accuracy before %.3f, after %.3f; loss %.4f -> %.4f; "
                  "validation %.3f\n",
                  before, after, cosnet_trainer_epoch_loss(trainer, 1),
                  cosnet_trainer_epoch_loss(trainer, 4),
                  cosnet_trainer_validation_accuracy(trainer, 4));
    assert_true(after >= 0.9);
    assert_true(cosnet_trainer_epoch_loss(trainer, 4) <
                cosnet_trainer_epoch_loss(trainer, 1));
    assert_int_equal(cosnet_trainer_epochs_done(trainer), 4);
    assert_true(cosnet_trainer_validation_accuracy(trainer, 4) >= 0.85);
    assert_true(isnan(cosnet_trainer_epoch_loss(trainer, 5)));
    /* 500 training images in batches of 16: 32 batches an epoch. */
    assert_int_equal(log.batches, 4 * 32);
    assert_int_equal(log.epochs, 4);
    assert_int_equal(log.last_done, 500);

    /* Cancelled after the second epoch. */
    log = (progress_log){0, 0, 2, 0};
    assert_int_equal(cosnet_trainer_run(trainer, model, labels, train),
                     COSNET_ERROR_CANCELLED);
    assert_int_equal(cosnet_trainer_epochs_done(trainer), 2);

    free_run(trainer, model, labels, train);
    cosnet_dataset_free(test);
}

/* The same seed gives the same model bit for bit, for 1, 2 and 3 threads;
 * another seed gives another model. */
static void test_trainer_threads_invariant(void **state)
{
    (void)state;
    cosnet_dataset *train = make_dataset("train", 300, 3);
    cosnet_labels *labels = new_labels();
    float *results[4];
    size_t n = 0;
    for (unsigned threads = 1; threads <= 4; threads++) {
        cosnet_model *model = new_model(8);
        cosnet_trainer *trainer = new_trainer(threads);
        assert_int_equal(cosnet_trainer_set(trainer, COSNET_TRAINER_EPOCHS, 2),
                         COSNET_OK);
        /* Every augmentation on: its random draws are the main thread's. */
        assert_int_equal(cosnet_trainer_set(trainer, COSNET_TRAINER_ROTATE, 10),
                         COSNET_OK);
        assert_int_equal(cosnet_trainer_set(trainer, COSNET_TRAINER_SCALE, 0.1),
                         COSNET_OK);
        assert_int_equal(
            cosnet_trainer_set(trainer, COSNET_TRAINER_ELASTIC, 1.5),
            COSNET_OK);
        if (threads == 4) /* another seed */
            assert_int_equal(
                cosnet_trainer_set(trainer, COSNET_TRAINER_SEED, 1), COSNET_OK);
        assert_int_equal(cosnet_trainer_run(trainer, model, labels, train),
                         COSNET_OK);
        n = cosnet_model_parameter_count(model);
        results[threads - 1] = malloc(n * sizeof(float));
        assert_int_equal(
            cosnet_model_get_parameters(model, results[threads - 1], n),
            COSNET_OK);
        cosnet_trainer_free(trainer);
        cosnet_model_free(model);
    }
    assert_memory_equal(results[0], results[1], n * sizeof(float));
    assert_memory_equal(results[0], results[2], n * sizeof(float));
    assert_memory_not_equal(results[0], results[3], n * sizeof(float));
    for (int i = 0; i < 4; i++)
        free(results[i]);
    cosnet_labels_free(labels);
    cosnet_dataset_free(train);
}

/* The softmax loss of scaled cosines: it learns, the model does not
 * depend on the thread count, it is another model than the cosine loss's,
 * and label vectors beyond the dataset's classes take part. */
static void test_trainer_softmax(void **state)
{
    (void)state;
    cosnet_dataset *train = make_dataset("train", 600, 5);
    cosnet_dataset *test = make_dataset("test", 200, 6);
    cosnet_labels *labels = new_labels();
    float *results[3];
    size_t n = 0;
    for (int run = 0; run < 3; run++) {
        cosnet_model *model = new_model(9);
        /* Runs 0 and 1: softmax on 1 and 3 threads; run 2: cosine loss. */
        cosnet_trainer *trainer = new_trainer(run == 1 ? 3 : 1);
        if (run < 2)
            assert_int_equal(
                cosnet_trainer_set(trainer, COSNET_TRAINER_SOFTMAX_SCALE, 16),
                COSNET_OK);
        assert_int_equal(cosnet_trainer_run(trainer, model, labels, train),
                         COSNET_OK);
        if (run != 1) {
            const double after = accuracy(model, labels, test);
            print_message("  %s: accuracy %.3f; loss %.4f -> %.4f\n",
                          run == 0 ? "softmax 16" : "cosine loss", after,
                          cosnet_trainer_epoch_loss(trainer, 1),
                          cosnet_trainer_epoch_loss(trainer, 4));
            assert_true(after >= 0.9);
            assert_true(cosnet_trainer_epoch_loss(trainer, 4) <
                        cosnet_trainer_epoch_loss(trainer, 1));
        }
        n = cosnet_model_parameter_count(model);
        results[run] = malloc(n * sizeof(float));
        assert_int_equal(cosnet_model_get_parameters(model, results[run], n),
                         COSNET_OK);
        cosnet_trainer_free(trainer);
        cosnet_model_free(model);
    }
    assert_memory_equal(results[0], results[1], n * sizeof(float));
    assert_memory_not_equal(results[0], results[2], n * sizeof(float));

    /* Six label vectors for four classes: the two extra ones are wrong
     * answers the loss pushes away from, so the model changes. */
    float values[6 * DIMS] = {0};
    for (int k = 0; k < CLASSES; k++)
        values[k * DIMS + k] = 1.0f;
    values[4 * DIMS + 0] = values[4 * DIMS + 1] = 1.0f;
    values[5 * DIMS + 2] = values[5 * DIMS + 3] = 1.0f;
    cosnet_labels *more = NULL;
    assert_int_equal(cosnet_labels_create(6, DIMS, values, &more), COSNET_OK);
    cosnet_model *model = new_model(9);
    cosnet_trainer *trainer = new_trainer(1);
    assert_int_equal(
        cosnet_trainer_set(trainer, COSNET_TRAINER_SOFTMAX_SCALE, 16),
        COSNET_OK);
    assert_int_equal(cosnet_trainer_run(trainer, model, more, train),
                     COSNET_OK);
    float *extra = malloc(n * sizeof(float));
    assert_int_equal(cosnet_model_get_parameters(model, extra, n), COSNET_OK);
    assert_memory_not_equal(results[0], extra, n * sizeof(float));
    assert_true(accuracy(model, more, test) >= 0.9);
    free(extra);
    cosnet_trainer_free(trainer);
    cosnet_model_free(model);
    cosnet_labels_free(more);
    for (int i = 0; i < 3; i++)
        free(results[i]);
    cosnet_labels_free(labels);
    cosnet_dataset_free(train);
    cosnet_dataset_free(test);
}

static void test_trainer_rejects(void **state)
{
    (void)state;
    cosnet_dataset *train = make_dataset("train", 40, 4);
    cosnet_labels *labels = new_labels();
    cosnet_model *model = new_model(9);
    cosnet_trainer *trainer = new_trainer(1);
    assert_int_equal(cosnet_trainer_run(NULL, model, labels, train),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_trainer_run(trainer, model, NULL, train),
                     COSNET_ERROR_INVALID_ARGUMENT);
    /* Label vectors of another dimension. */
    float wide_values[CLASSES * 7] = {0};
    for (int k = 0; k < CLASSES; k++)
        wide_values[k * 7 + k] = 1.0f;
    cosnet_labels *wide = NULL;
    assert_int_equal(cosnet_labels_create(CLASSES, 7, wide_values, &wide),
                     COSNET_OK);
    assert_int_equal(cosnet_trainer_run(trainer, model, wide, train),
                     COSNET_ERROR_MISMATCH);
    assert_non_null(strstr(cosnet_last_error(), "7 dimensions"));
    /* Fewer label vectors than classes. */
    const float few_values[2 * DIMS] = {1, 0, 0, 0, 0, 0, 1, 0, 0, 0};
    cosnet_labels *few = NULL;
    assert_int_equal(cosnet_labels_create(2, DIMS, few_values, &few),
                     COSNET_OK);
    assert_int_equal(cosnet_trainer_run(trainer, model, few, train),
                     COSNET_ERROR_MISMATCH);
    /* A model for another image size. */
    cosnet_model *other = NULL;
    assert_int_equal(
        cosnet_model_create(COSNET_ARCHITECTURE_CLASSIFIER, 1, &other),
        COSNET_OK);
    assert_int_equal(cosnet_trainer_run(trainer, other, labels, train),
                     COSNET_ERROR_MISMATCH);
    /* Nothing left to train on. */
    assert_int_equal(cosnet_trainer_set(trainer, COSNET_TRAINER_VALIDATION, 40),
                     COSNET_OK);
    assert_int_equal(cosnet_trainer_run(trainer, model, labels, train),
                     COSNET_ERROR_NOT_ENOUGH_DATA);
    /* A learning rate that blows the weights up: NOT_FINITE, not garbage. */
    assert_int_equal(cosnet_trainer_set(trainer, COSNET_TRAINER_VALIDATION, 0),
                     COSNET_OK);
    assert_int_equal(
        cosnet_trainer_set(trainer, COSNET_TRAINER_LEARNING_RATE, 1e3),
        COSNET_OK);
    assert_int_equal(cosnet_trainer_set(trainer, COSNET_TRAINER_WARMUP, 0),
                     COSNET_OK);
    cosnet_status status = cosnet_trainer_run(trainer, model, labels, train);
    if (status != COSNET_OK) {
        assert_int_equal(status, COSNET_ERROR_NOT_FINITE);
        size_t n = cosnet_model_parameter_count(model);
        float *p = malloc(n * sizeof *p);
        assert_int_equal(cosnet_model_get_parameters(model, p, n), COSNET_OK);
        for (size_t k = 0; k < n; k++)
            assert_true(isfinite(p[k]));
        free(p);
    }
    cosnet_model_free(other);
    cosnet_labels_free(few);
    cosnet_labels_free(wide);
    free_run(trainer, model, labels, train);
}

/* A finite loss with a non-finite gradient: the first batch's gradient of
 * the last layer's weights overflows while everything the forward pass
 * computes is finite. Hidden units ReLU(0 x + 3e38) = 3e38; the last
 * layer's weights +-1e-37, balanced so that its sums are exactly 0, and
 * its bias (1e-3, 0, ...) give an output of norm 1e-3, so dL/doutput is
 * about 1e3 on the other classes' axes and 1e3 x 3e38 overflows. 2,405
 * parameters, so one thread steps two blocks of 1,024 before it reaches
 * the bad one and the workers of 2 and 3 threads step their own ranges:
 * the run must undo every step, leaving the model as it was, bit for
 * bit, and say NOT_FINITE naming the gradient. */
static void test_trainer_undoes_a_non_finite_gradient(void **state)
{
    (void)state;
    enum { HIDDEN = 16 };
    cosnet_dataset *train = make_dataset("data", 64, 8);
    cosnet_labels *labels = new_labels();
    for (unsigned threads = 1; threads <= 3; threads++) {
        cosnet_model *model = NULL;
        assert_int_equal(cosnet_model_create_layers("flatten, dense 16, relu, "
                                                    "dense 5",
                                                    1, SIDE, SIDE, 1, &model),
                         COSNET_OK);
        const size_t n = cosnet_model_parameter_count(model);
        const size_t hidden_weights = (size_t)HIDDEN * SIDE * SIDE;
        assert_int_equal(n, hidden_weights + HIDDEN + DIMS * HIDDEN + DIMS);
        float *before = calloc(n, sizeof *before);
        float *after = malloc(n * sizeof *after);
        assert_true(before && after);
        for (size_t h = 0; h < HIDDEN; h++)
            before[hidden_weights + h] = 3e38f;
        float *last = before + hidden_weights + HIDDEN;
        for (size_t j = 0; j < DIMS; j++)
            for (size_t h = 0; h < HIDDEN; h++)
                last[j * HIDDEN + h] = h % 2 ? -1e-37f : 1e-37f;
        last[DIMS * HIDDEN] = 1e-3f;
        assert_int_equal(cosnet_model_set_parameters(model, before, n),
                         COSNET_OK);
        cosnet_trainer *trainer = new_trainer(threads);
        assert_int_equal(cosnet_trainer_run(trainer, model, labels, train),
                         COSNET_ERROR_NOT_FINITE);
        const char *message = cosnet_last_error();
        if (!strstr(message, "gradient") || !strstr(message, "undone"))
            fail_msg("%u threads: %s", threads, message);
        assert_int_equal(cosnet_model_get_parameters(model, after, n),
                         COSNET_OK);
        assert_memory_equal(after, before, n * sizeof *after);
        cosnet_trainer_free(trainer);
        cosnet_model_free(model);
        free(before);
        free(after);
    }
    cosnet_labels_free(labels);
    cosnet_dataset_free(train);
}

/* A worker thread that cannot start: THREAD with a message, and the model
 * untouched. The run starts its threads - 1 pool threads before the first
 * batch; fail each start in turn. */
static void test_trainer_thread_failure(void **state)
{
    (void)state;
    cosnet_dataset *train = make_dataset("train", 64, 6);
    cosnet_labels *labels = new_labels();
    cosnet_model *model = new_model(13);
    const size_t n = cosnet_model_parameter_count(model);
    float *before = malloc(n * sizeof *before),
          *after = malloc(n * sizeof *after);
    assert_int_equal(cosnet_model_get_parameters(model, before, n), COSNET_OK);
    for (unsigned threads = 2; threads <= 4; threads++)
        for (unsigned long start = 1; start <= threads - 1; start++) {
            cosnet_trainer *failing = new_trainer(threads);
            thread_fail_after(start);
            assert_int_equal(cosnet_trainer_run(failing, model, labels, train),
                             COSNET_ERROR_THREAD);
            thread_fail_after(0);
            assert_non_null(strstr(cosnet_last_error(), "cosnet_trainer_run"));
            assert_int_equal(cosnet_model_get_parameters(model, after, n),
                             COSNET_OK);
            if (memcmp(before, after, n * sizeof *before) != 0)
                fail_msg("%u threads, start %lu failing: the parameters "
                         "changed",
                         threads, start);
            assert_int_equal(cosnet_trainer_epochs_done(failing), 0);
            cosnet_trainer_free(failing);
        }
    cosnet_trainer *trainer = new_trainer(2);
    /* The model then trains, starting one thread for the whole run (not
     * one per task: there are two tasks for each of several batches). */
    assert_int_equal(cosnet_trainer_set(trainer, COSNET_TRAINER_BATCH_SIZE, 16),
                     COSNET_OK);
    assert_int_equal(cosnet_trainer_set(trainer, COSNET_TRAINER_EPOCHS, 2),
                     COSNET_OK);
    thread_fail_after(0);
    assert_int_equal(cosnet_trainer_run(trainer, model, labels, train),
                     COSNET_OK);
    assert_int_equal(thread_fail_after(0), 1);
    assert_int_equal(cosnet_trainer_epochs_done(trainer), 2);
    free(before);
    free(after);
    free_run(trainer, model, labels, train);
}

/* ---- Classification ----------------------------------------------------- */

/* Per-image predictions agree with the evaluation's counts and confusion
 * matrix; the best similarity is the cosine with the winner's vector, the
 * runner-up's is not larger. */
static void test_classify_agrees_with_evaluation(void **state)
{
    (void)state;
    cosnet_dataset *data = make_dataset("data", 150, 5);
    cosnet_labels *labels = new_labels();
    cosnet_model *model = new_model(10);
    cosnet_trainer *trainer = new_trainer(2);
    assert_int_equal(cosnet_trainer_set(trainer, COSNET_TRAINER_EPOCHS, 1),
                     COSNET_OK);
    assert_int_equal(cosnet_trainer_run(trainer, model, labels, data),
                     COSNET_OK);
    const size_t count = cosnet_dataset_count(data);
    float *images = malloc(count * SIDE * SIDE * sizeof *images);
    assert_int_equal(cosnet_dataset_to_float(data, 0, count, images),
                     COSNET_OK);
    size_t *classes = malloc(count * sizeof *classes);
    size_t *second = malloc(count * sizeof *second);
    float *similarity = malloc(count * sizeof *similarity);
    float *second_similarity = malloc(count * sizeof *second_similarity);
    assert_int_equal(cosnet_classify(model, labels, images, count, classes,
                                     similarity, second, second_similarity),
                     COSNET_OK);
    cosnet_evaluation *evaluation = NULL;
    for (unsigned threads = 1; threads <= 3; threads++) {
        assert_int_equal(cosnet_evaluate_classifier(model, labels, data,
                                                    threads, &evaluation),
                         COSNET_OK);
        size_t confusion[CLASSES][CLASSES] = {{0}};
        size_t correct = 0;
        for (size_t i = 0; i < count; i++) {
            size_t y = (size_t)cosnet_dataset_label(data, i);
            confusion[y][classes[i]]++;
            correct += classes[i] == y;
        }
        assert_int_equal(
            cosnet_evaluation_correct(evaluation, COSNET_RULE_OWN_LABEL),
            correct);
        assert_int_equal(
            cosnet_evaluation_correct(evaluation, COSNET_RULE_SEED), 0);
        for (size_t y = 0; y < CLASSES; y++)
            for (size_t k = 0; k < CLASSES; k++)
                assert_int_equal(cosnet_evaluation_confusion(
                                     evaluation, COSNET_RULE_OWN_LABEL, y, k),
                                 confusion[y][k]);
        cosnet_evaluation_free(evaluation);
    }
    float outputs[DIMS];
    for (size_t i = 0; i < count; i++) {
        assert_true(second[i] != classes[i]);
        assert_true(second_similarity[i] <= similarity[i]);
        assert_int_equal(
            cosnet_model_predict(model, images + i * SIDE * SIDE, 1, outputs),
            COSNET_OK);
        const float *v = cosnet_labels_vector(labels, classes[i]);
        double dot = 0, aa = 0, bb = 0;
        for (int d = 0; d < DIMS; d++) {
            dot += outputs[d] * v[d];
            aa += outputs[d] * outputs[d];
            bb += v[d] * v[d];
        }
        assert_true(fabs(dot / sqrt(aa * bb) - similarity[i]) < 1e-5);
    }
    /* Only `classes` is required. */
    assert_int_equal(
        cosnet_classify(model, labels, images, 3, classes, NULL, NULL, NULL),
        COSNET_OK);
    assert_int_equal(
        cosnet_classify(model, labels, images, 3, NULL, NULL, NULL, NULL),
        COSNET_ERROR_INVALID_ARGUMENT);
    float wide_values[CLASSES * 7] = {0};
    for (int k = 0; k < CLASSES; k++)
        wide_values[k * 7 + k] = 1.0f;
    cosnet_labels *wide = NULL;
    assert_int_equal(cosnet_labels_create(CLASSES, 7, wide_values, &wide),
                     COSNET_OK);
    assert_int_equal(
        cosnet_classify(model, wide, images, 3, classes, NULL, NULL, NULL),
        COSNET_ERROR_MISMATCH);
    assert_int_equal(
        cosnet_evaluate_classifier(model, wide, data, 1, &evaluation),
        COSNET_ERROR_MISMATCH);
    cosnet_labels_free(wide);

    /* The same label vectors scaled by 1e30 (|f| |v| far beyond float's
     * range in the cosine's denominator): the same classes, the same
     * cosines to float rounding. */
    float scaled_values[CLASSES * DIMS];
    for (size_t k = 0; k < CLASSES; k++)
        for (size_t d = 0; d < DIMS; d++)
            scaled_values[k * DIMS + d] =
                cosnet_labels_vector(labels, k)[d] * 1e30f;
    cosnet_labels *scaled = NULL;
    assert_int_equal(
        cosnet_labels_create(CLASSES, DIMS, scaled_values, &scaled), COSNET_OK);
    size_t *scaled_classes = malloc(count * sizeof *scaled_classes);
    float *scaled_similarity = malloc(count * sizeof *scaled_similarity);
    assert_int_equal(cosnet_classify(model, scaled, images, count,
                                     scaled_classes, scaled_similarity, NULL,
                                     NULL),
                     COSNET_OK);
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(scaled_classes[i], classes[i]);
        assert_true(fabsf(scaled_similarity[i] - similarity[i]) < 1e-5f);
    }
    free(scaled_classes);
    free(scaled_similarity);
    cosnet_labels_free(scaled);

    /* A NaN or infinite pixel: NOT_FINITE before anything is computed (a
     * ReLU would hide a NaN, and the ISAs treat infinities differently),
     * the outputs untouched. */
    const float bad_pixels[] = {NAN, INFINITY, -INFINITY};
    for (size_t b = 0; b < 3; b++) {
        images[2 * SIDE * SIDE + 17] = bad_pixels[b];
        size_t untouched[3] = {99, 99, 99};
        assert_int_equal(cosnet_classify(model, labels, images, 3, untouched,
                                         NULL, NULL, NULL),
                         COSNET_ERROR_NOT_FINITE);
        assert_non_null(strstr(cosnet_last_error(), "input 17 of image 2"));
        for (size_t i = 0; i < 3; i++)
            assert_int_equal(untouched[i], 99);
        float outputs3[3 * DIMS];
        assert_int_equal(cosnet_model_predict(model, images, 3, outputs3),
                         COSNET_ERROR_NOT_FINITE);
    }
    images[2 * SIDE * SIDE + 17] = 0.0f;

    /* Outputs that overflow: NOT_FINITE, and no output written. */
    char dense_layers[32];
    snprintf(dense_layers, sizeof dense_layers, "flatten, dense %d", DIMS);
    cosnet_model *overflowing = NULL;
    assert_int_equal(cosnet_model_create_layers(dense_layers, 1, SIDE, SIDE, 3,
                                                &overflowing),
                     COSNET_OK);
    size_t dense_count = cosnet_model_parameter_count(overflowing);
    float *dense_huge = malloc(dense_count * sizeof *dense_huge);
    for (size_t i = 0; i < dense_count; i++)
        dense_huge[i] = 3e38f;
    assert_int_equal(
        cosnet_model_set_parameters(overflowing, dense_huge, dense_count),
        COSNET_OK);
    size_t kept[3] = {77, 77, 77};
    float kept_similarity[3] = {-2.0f, -2.0f, -2.0f};
    assert_int_equal(cosnet_classify(overflowing, labels, images, 3, kept,
                                     kept_similarity, NULL, NULL),
                     COSNET_ERROR_NOT_FINITE);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(kept[i], 77);
        assert_true(kept_similarity[i] == -2.0f);
    }
    cosnet_model_free(overflowing);
    free(dense_huge);

    free(images);
    free(classes);
    free(second);
    free(similarity);
    free(second_similarity);
    free_run(trainer, model, labels, data);
}

/* ---- The classifier bundle ---------------------------------------------- */

static void put_le32(unsigned char *at, uint32_t value)
{
    for (int i = 0; i < 4; i++)
        at[i] = (unsigned char)(value >> (8 * i));
}

static void test_classifier_bundle(void **state)
{
    (void)state;
    cosnet_model *model = new_model(12);
    cosnet_labels *labels = new_labels();
    const char *names[CLASSES] = {"top left", "top right", "bottom left",
                                  "bottom right"};
    cosnet_classifier *bundle = NULL;
    assert_int_equal(cosnet_classifier_create(model, labels, names, &bundle),
                     COSNET_OK);
    assert_string_equal(cosnet_classifier_class_name(bundle, 3),
                        "bottom right");
    assert_null(cosnet_classifier_class_name(bundle, 4));
    assert_ptr_not_equal(cosnet_classifier_model(bundle), model); /* a copy */

    char path[128];
    snprintf(path, sizeof path, "%s/bundle.cosnetcl", folder);
    assert_int_equal(cosnet_classifier_save(bundle, path), COSNET_OK);
    cosnet_classifier *loaded = NULL;
    assert_int_equal(cosnet_classifier_load(path, &loaded), COSNET_OK);
    for (size_t k = 0; k < CLASSES; k++)
        assert_string_equal(cosnet_classifier_class_name(loaded, k), names[k]);
    assert_memory_equal(
        cosnet_labels_vector(cosnet_classifier_labels(loaded), 0),
        cosnet_labels_vector(labels, 0), CLASSES * DIMS * sizeof(float));
    assert_string_equal(cosnet_model_layers(cosnet_classifier_model(loaded)),
                        NET);
    /* The same bytes in memory; they load to the same predictions. */
    void *data = NULL;
    size_t size = 0;
    assert_int_equal(cosnet_classifier_save_memory(bundle, &data, &size),
                     COSNET_OK);
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    unsigned char *on_disk = malloc(size + 1);
    assert_int_equal(fread(on_disk, 1, size + 1, file), size);
    fclose(file);
    assert_memory_equal(on_disk, data, size);
    float image[SIDE * SIDE];
    for (int i = 0; i < SIDE * SIDE; i++)
        image[i] = (float)(i % 7) / 7.0f;
    size_t a, b;
    assert_int_equal(
        cosnet_classify(model, labels, image, 1, &a, NULL, NULL, NULL),
        COSNET_OK);
    assert_int_equal(cosnet_classify(cosnet_classifier_model(loaded),
                                     cosnet_classifier_labels(loaded), image, 1,
                                     &b, NULL, NULL, NULL),
                     COSNET_OK);
    assert_int_equal(a, b);
    cosnet_classifier_free(loaded);

    /* Corrupt bytes: each gets its status, the output stays untouched. */
    unsigned char *bad = malloc(size);
    cosnet_classifier *untouched = (cosnet_classifier *)&bad;
    memcpy(bad, data, size);
    bad[0] = 'X';
    assert_int_equal(cosnet_classifier_load_memory(bad, size, &untouched),
                     COSNET_ERROR_BAD_MAGIC);
    memcpy(bad, data, size);
    put_le32(bad + 8, 2);
    assert_int_equal(cosnet_classifier_load_memory(bad, size, &untouched),
                     COSNET_ERROR_VERSION);
    memcpy(bad, data, size);
    bad[size / 2] ^= 1;
    assert_int_equal(cosnet_classifier_load_memory(bad, size, &untouched),
                     COSNET_ERROR_CORRUPT);
    assert_int_equal(cosnet_classifier_load_memory(data, size - 9, &untouched),
                     COSNET_ERROR_CORRUPT);
    assert_int_equal(cosnet_classifier_load_memory(data, 12, &untouched),
                     COSNET_ERROR_TRUNCATED);
    /* A fuzz finding: label vectors that run into the final CRC's 4 bytes
     * (with that CRC valid) were read past the buffer. */
    const size_t into_crc = 20 + 4 * CLASSES * DIMS + 2;
    memcpy(bad, data, into_crc - 4);
    uint32_t crc = (uint32_t)crc32(0L, bad, (unsigned)(into_crc - 4));
    put_le32(bad + into_crc - 4, crc);
    assert_int_equal(cosnet_classifier_load_memory(bad, into_crc, &untouched),
                     COSNET_ERROR_TRUNCATED);
    /* Bytes between the embedded model and the CRC (CRC valid). */
    unsigned char *longer = malloc(size + 4);
    memcpy(longer, data, size - 4);
    memset(longer + size - 4, 0, 4);
    put_le32(longer + size, (uint32_t)crc32(0L, longer, (unsigned)size));
    assert_int_equal(
        cosnet_classifier_load_memory(longer, size + 4, &untouched),
        COSNET_ERROR_MISMATCH);
    assert_non_null(strstr(cosnet_last_error(), "4 bytes after the model"));
    free(longer);
    memcpy(bad, data, size);
    put_le32(bad + 12, 0); /* no classes */
    assert_int_equal(cosnet_classifier_load_memory(bad, size, &untouched),
                     COSNET_ERROR_BAD_FORMAT);
    assert_ptr_equal(untouched, (cosnet_classifier *)&bad);
    assert_int_equal(cosnet_classifier_load(folder, &untouched),
                     COSNET_ERROR_IO);

    /* Names default to numbers; a name too long is refused. */
    cosnet_classifier *numbered = NULL;
    assert_int_equal(cosnet_classifier_create(model, labels, NULL, &numbered),
                     COSNET_OK);
    assert_string_equal(cosnet_classifier_class_name(numbered, 2), "2");
    cosnet_classifier_free(numbered);
    char long_name[300];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const char *too_long[CLASSES] = {"a", long_name, "c", "d"};
    assert_int_equal(
        cosnet_classifier_create(model, labels, too_long, &numbered),
        COSNET_ERROR_OUT_OF_RANGE);
    cosnet_model *wide = NULL;
    assert_int_equal(
        cosnet_model_create_layers("flatten, dense 6", 1, SIDE, SIDE, 1, &wide),
        COSNET_OK);
    assert_int_equal(cosnet_classifier_create(wide, labels, names, &numbered),
                     COSNET_ERROR_MISMATCH);
    cosnet_model_free(wide);
    free(bad);
    free(on_disk);
    cosnet_free(data);
    unlink(path);
    cosnet_classifier_free(bundle);
    cosnet_labels_free(labels);
    cosnet_model_free(model);
}

static int make_folder(void **state)
{
    (void)state;
    snprintf(folder, sizeof folder, "/tmp/cosnet-classifier-XXXXXX");
    return mkdtemp(folder) ? 0 : -1;
}

static int remove_folder(void **state)
{
    (void)state;
    const char *names[] = {"train", "test", "data"};
    char path[128];
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s-images", folder, names[i]);
        unlink(path);
        snprintf(path, sizeof path, "%s/%s-labels", folder, names[i]);
        unlink(path);
    }
    return rmdir(folder);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layers_text),
        cmocka_unit_test(test_dropout_layer),
        cmocka_unit_test(test_classifier_architecture_files),
        cmocka_unit_test(test_trainer_options),
        cmocka_unit_test(test_trainer_learns),
        cmocka_unit_test(test_trainer_threads_invariant),
        cmocka_unit_test(test_trainer_softmax),
        cmocka_unit_test(test_trainer_rejects),
        cmocka_unit_test(test_trainer_undoes_a_non_finite_gradient),
        cmocka_unit_test(test_trainer_thread_failure),
        cmocka_unit_test(test_classify_agrees_with_evaluation),
        cmocka_unit_test(test_classifier_bundle),
    };
    return cmocka_run_group_tests(tests, make_folder, remove_folder);
}
