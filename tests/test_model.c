/* The model handle: shapes, Glorot initialisation, parameters, prediction
 * (also from two threads at once and from a dataset), model files and
 * every way a model file can be rejected. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "cosnet.h"
#include "common/rng.h"
#include "network/architecture.h"

#define PARAMETERS 1393
#define IMAGE 784
#define OUTPUTS 25
/* Format version 2: 40 fixed bytes, 10 layers of 12, the parameters, the
 * CRC. Version 1 (libcosnet 0.1): 24 bytes, the parameters, the CRC. */
#define HEADER (40 + 12 * 10)
#define FILE_SIZE (HEADER + 4 * PARAMETERS + 4)
#define V1_FILE_SIZE (24 + 4 * PARAMETERS + 4)

/* ---- Helpers ------------------------------------------------------------ */

static cosnet_model *new_model(uint64_t seed)
{
    cosnet_model *model = NULL;
    assert_int_equal(
        cosnet_model_create(COSNET_ARCHITECTURE_SEED, seed, &model), COSNET_OK);
    assert_non_null(model);
    return model;
}

static void get_parameters(const cosnet_model *model, float *out)
{
    assert_int_equal(cosnet_model_get_parameters(model, out, PARAMETERS),
                     COSNET_OK);
}

/* Images with pixels in [0, 1), from the library's generator. */
static float *random_images(size_t count, uint64_t seed)
{
    float *images = malloc(sizeof(float) * count * IMAGE);
    assert_non_null(images);
    random_generator generator;
    random_seed(&generator, seed);
    for (size_t i = 0; i < count * IMAGE; i++)
        images[i] = (float)random_uniform(&generator);
    return images;
}

/* A scratch folder under /tmp, removed (with its files) at the end. */
static char *make_folder(void)
{
    char *folder = strdup("/tmp/cosnet-test-model-XXXXXX");
    assert_non_null(folder);
    assert_non_null(mkdtemp(folder));
    return folder;
}

static void remove_folder(char *folder)
{
    DIR *dir = opendir(folder);
    assert_non_null(dir);
    struct dirent *entry;
    char path[512];
    while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", folder, entry->d_name);
        struct stat info;
        if (stat(path, &info) == 0 && S_ISDIR(info.st_mode))
            rmdir(path);
        else
            unlink(path);
    }
    closedir(dir);
    assert_int_equal(rmdir(folder), 0);
    free(folder);
}

static size_t count_entries(const char *folder)
{
    DIR *dir = opendir(folder);
    assert_non_null(dir);
    size_t count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL)
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
            count++;
    closedir(dir);
    return count;
}

static void write_bytes(const char *path, const unsigned char *bytes,
                        size_t size)
{
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(bytes, 1, size, file), size);
    assert_int_equal(fclose(file), 0);
}

static unsigned char *read_bytes(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    unsigned char *bytes = malloc(FILE_SIZE + 16);
    assert_non_null(bytes);
    *size = fread(bytes, 1, FILE_SIZE + 16, file);
    fclose(file);
    return bytes;
}

static void put_u32(unsigned char *at, uint32_t value)
{
    for (int i = 0; i < 4; i++)
        at[i] = (unsigned char)(value >> (8 * i));
}

static uint32_t get_u32(const unsigned char *at)
{
    return (uint32_t)at[0] | (uint32_t)at[1] << 8 | (uint32_t)at[2] << 16 |
           (uint32_t)at[3] << 24;
}

/* Rewrites the trailing CRC so that only the intended fault remains. */
static void fix_crc(unsigned char *bytes, size_t size)
{
    put_u32(bytes + size - 4,
            (uint32_t)crc32(crc32(0L, Z_NULL, 0), bytes, (uInt)(size - 4)));
}

/* ---- Shapes and architecture -------------------------------------------- */

static void test_shapes(void **state)
{
    (void)state;
    cosnet_model *model = new_model(1);
    assert_int_equal(cosnet_model_parameter_count(model), PARAMETERS);
    assert_int_equal(cosnet_model_architecture(model),
                     COSNET_ARCHITECTURE_SEED);
    assert_int_equal(cosnet_model_input_rows(model), 28);
    assert_int_equal(cosnet_model_input_columns(model), 28);
    assert_int_equal(cosnet_model_output_dims(model), OUTPUTS);
    assert_int_equal(cosnet_model_parameter_count(NULL), 0);
    assert_int_equal(cosnet_model_output_dims(NULL), 0);
    assert_int_equal(cosnet_model_input_rows(NULL), 0);
    assert_int_equal(cosnet_model_input_columns(NULL), 0);
    assert_int_equal(cosnet_model_architecture(NULL), 0);
    cosnet_model_free(model);
    cosnet_model_free(NULL);

    cosnet_model *untouched = (cosnet_model *)&model;
    assert_int_equal(
        cosnet_model_create((cosnet_architecture)99, 1, &untouched),
        COSNET_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(cosnet_last_error(), "unknown architecture 99"));
    assert_ptr_equal(untouched, (cosnet_model *)&model);
    assert_int_equal(cosnet_model_create(COSNET_ARCHITECTURE_SEED, 1, NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);
}

/* The seed network's layer list, through the validator, gives the
 * numbers of docs/math.md: shapes chain layer to layer, offsets tile the
 * parameter vector, 1,393 parameters, 415,008 multiply-adds. */
static void test_architecture_seed_numbers(void **state)
{
    (void)state;
    architecture_description arch;
    assert_int_equal(architecture_find(COSNET_ARCHITECTURE_SEED, &arch),
                     COSNET_OK);
    assert_int_equal(architecture_find((cosnet_architecture)0, &arch),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(architecture_find(COSNET_ARCHITECTURE_SEED, &arch),
                     COSNET_OK);
    assert_int_equal(arch.spec_count, 10);
    assert_int_equal(arch.layer_count, 6); /* ReLU, flatten folded */
    const size_t weights[3] = {0, 160, 1320}, biases[3] = {144, 1312, 1392};
    const int outs[3] = {16, 8, 1}, pads[3] = {1, 2, 2};
    const int sides[4] = {28, 14, 8, 5};
    size_t next = 0;
    for (int s = 0; s < 3; s++) {
        const network_layer *conv = &arch.layers[2 * s];
        const network_layer *pool = &arch.layers[2 * s + 1];
        assert_int_equal(conv->kind, LAYER_CONV3X3);
        assert_int_equal(pool->kind, LAYER_MAXPOOL2X2);
        assert_true(conv->relu);
        assert_int_equal(conv->weight_offset, weights[s]);
        assert_int_equal(conv->bias_offset, biases[s]);
        assert_int_equal(conv->weight_offset, next);
        next = conv->bias_offset + (size_t)conv->out_channels;
        assert_int_equal(conv->shape.out_channels, outs[s]);
        assert_int_equal(conv->shape.pad, pads[s]);
        assert_int_equal(conv->in_height, sides[s]);
        assert_int_equal(pool->in_height, conv->out_height);
        assert_int_equal(pool->out_height, sides[s + 1]);
        assert_int_equal(pool->out_width, sides[s + 1]);
        if (s < 2)
            assert_int_equal(arch.layers[2 * s + 2].in_channels, outs[s]);
    }
    assert_int_equal(next, PARAMETERS);
    assert_int_equal(arch.parameter_count, 1393);
    assert_int_equal(arch.multiply_adds, 415008);
    assert_int_equal(arch.output_dims, OUTPUTS);
    assert_int_equal(arch.chunk, 4);
}

/* A dense head: offsets follow the list, flatten order, Glorot fans. */
static void test_architecture_dense_head(void **state)
{
    (void)state;
    const layer_spec layers[] = {
        {LAYER_CONV3X3, 4, 1}, {LAYER_RELU, 0, 0},  {LAYER_MAXPOOL2X2, 0, 0},
        {LAYER_FLATTEN, 0, 0}, {LAYER_DENSE, 7, 0}, {LAYER_RELU, 0, 0},
        {LAYER_DENSE, 3, 0},
    };
    architecture_description arch;
    assert_int_equal(architecture_build((cosnet_architecture)0, "test", 1, 6, 6,
                                        layers, 7, &arch),
                     COSNET_OK);
    assert_int_equal(arch.layer_count, 4);
    assert_int_equal(arch.layers[2].kind, LAYER_DENSE);
    assert_int_equal(arch.layers[2].in_size, 4 * 3 * 3);
    assert_true(arch.layers[2].relu);
    assert_false(arch.layers[3].relu);
    assert_int_equal(arch.layers[2].weight_offset, 4 * 9 + 4);
    assert_int_equal(arch.layers[3].weight_offset, 40 + 7 * 36 + 7);
    assert_int_equal(arch.parameter_count, 40 + 7 * 36 + 7 + 3 * 7 + 3);
    assert_int_equal(arch.multiply_adds, 4 * 9 * 36 + 7 * 36 + 3 * 7);
    assert_int_equal(arch.output_dims, 3);
}

/* The validator refuses impossible lists, naming the layer and rule. */
static void test_architecture_refusals(void **state)
{
    (void)state;
    typedef struct refusal {
        layer_spec layers[4];
        size_t count;
        int side;
        const char *message;
    } refusal;
    const refusal cases[] = {
        {{{LAYER_RELU, 0, 0}}, 1, 8, "layer 0 (relu): must follow"},
        {{{LAYER_CONV3X3, 0, 1}}, 1, 8, "output channels outside"},
        {{{LAYER_CONV3X3, 2, 3}}, 1, 8, "pad outside 0..2"},
        {{{LAYER_CONV3X3, 2, 0}}, 1, 2, "smaller than the 3x3 kernel"},
        {{{LAYER_MAXPOOL2X2, 0, 0}}, 1, 1, "smaller than 2x2"},
        {{{LAYER_FLATTEN, 0, 0}, {LAYER_CONV3X3, 2, 1}},
         2,
         8,
         "layer 1 (conv3x3): needs a spatial input"},
        {{{LAYER_FLATTEN, 0, 0}, {LAYER_FLATTEN, 0, 0}}, 2, 8, "already flat"},
        {{{LAYER_DENSE, 2, 0}, {LAYER_RELU, 0, 0}, {LAYER_RELU, 0, 0}},
         3,
         8,
         "layer 2 (relu)"},
        {{{LAYER_MAXPOOL2X2, 0, 0}, {LAYER_RELU, 0, 0}},
         2,
         8,
         "layer 1 (relu): must follow"},
        {{{(layer_kind)9, 0, 0}}, 1, 8, "unknown kind 9"},
        {{{LAYER_FLATTEN, 0, 0}}, 1, 8, "no conv3x3, maxpool2x2 or dense"},
        {{{LAYER_DENSE, 1u << 25, 0}}, 1, 8, "output features outside"},
        /* A tiny list on a huge input: bounded before anything allocates. */
        {{{LAYER_MAXPOOL2X2, 0, 0}}, 1, 4096, "exceed 2^24 values"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        architecture_description arch;
        assert_int_equal(architecture_build((cosnet_architecture)0, "bad", 1,
                                            cases[c].side, cases[c].side,
                                            cases[c].layers, cases[c].count,
                                            &arch),
                         COSNET_ERROR_BAD_FORMAT);
        if (!strstr(cosnet_last_error(), cases[c].message))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", c, cosnet_last_error(),
                     cases[c].message);
    }
    architecture_description arch;
    const layer_spec one[] = {{LAYER_DENSE, 2, 0}};
    assert_int_equal(architecture_build((cosnet_architecture)0, "bad", 0, 8, 8,
                                        one, 1, &arch),
                     COSNET_ERROR_BAD_FORMAT);
    assert_int_equal(architecture_build((cosnet_architecture)0, "bad", 1, 8, 8,
                                        one, 0, &arch),
                     COSNET_ERROR_BAD_FORMAT);
    assert_int_equal(architecture_build((cosnet_architecture)0, "bad", 1, 8, 8,
                                        one, ARCHITECTURE_MAX_LAYERS + 1,
                                        &arch),
                     COSNET_ERROR_BAD_FORMAT);
}

/* ---- Initialisation ----------------------------------------------------- */

static void test_glorot_bounds(void **state)
{
    (void)state;
    const struct {
        size_t first, count, bias, bias_count;
        double fan_sum;
    } layers[3] = {{0, 144, 144, 16, 9.0 + 144.0},
                   {160, 1152, 1312, 8, 144.0 + 72.0},
                   {1320, 72, 1392, 1, 72.0 + 9.0}};
    for (uint64_t seed = 1; seed <= 5; seed++) {
        cosnet_model *model = new_model(seed);
        float p[PARAMETERS];
        get_parameters(model, p);
        for (int l = 0; l < 3; l++) {
            const double r = sqrt(6.0 / layers[l].fan_sum);
            double largest = 0, sum = 0, squares = 0;
            for (size_t i = 0; i < layers[l].count; i++) {
                double w = p[layers[l].first + i];
                largest = fmax(largest, fabs(w));
                sum += w;
                squares += w * w;
            }
            assert_true(largest <= (float)r);
            /* The largest of >= 72 uniform draws is above 0.9 r except
             * with probability 0.9^72 ~ 5e-4. */
            assert_true(largest > 0.9 * r);
            /* U(-r, r): mean 0 and variance r^2/3, each within 4 standard
             * errors (of the mean: r / sqrt(3n); of the mean square:
             * r^2 sqrt(4 / (45 n))). */
            double n = (double)layers[l].count;
            double mean = sum / n, variance = squares / n - mean * mean;
            assert_true(fabs(mean) < 4.0 * r / sqrt(3.0 * n));
            assert_true(fabs(variance - r * r / 3) <
                        4.0 * r * r * sqrt(4.0 / (45.0 * n)));
            for (size_t b = 0; b < layers[l].bias_count; b++)
                assert_true(p[layers[l].bias + b] == 0.0f);
        }
        cosnet_model_free(model);
    }
}

static void test_seeds(void **state)
{
    (void)state;
    float a[PARAMETERS], b[PARAMETERS], c[PARAMETERS];
    cosnet_model *first = new_model(42), *second = new_model(42),
                 *other = new_model(43);
    get_parameters(first, a);
    get_parameters(second, b);
    get_parameters(other, c);
    assert_memory_equal(a, b, sizeof a);
    size_t differing = 0;
    for (size_t i = 0; i < PARAMETERS; i++)
        differing += a[i] != c[i];
    /* Every weight differs (biases are all 0): 1393 - 25 biases. */
    assert_int_equal(differing, PARAMETERS - 25);
    cosnet_model_free(first);
    cosnet_model_free(second);
    cosnet_model_free(other);
}

/* ---- Parameters and copies ---------------------------------------------- */

static void test_parameters(void **state)
{
    (void)state;
    cosnet_model *model = new_model(7);
    float values[PARAMETERS], back[PARAMETERS], before[PARAMETERS];
    for (size_t i = 0; i < PARAMETERS; i++)
        values[i] = (float)i * 0.001f - 0.5f;
    assert_int_equal(cosnet_model_set_parameters(model, values, PARAMETERS),
                     COSNET_OK);
    get_parameters(model, back);
    assert_memory_equal(values, back, sizeof values);

    memcpy(before, back, sizeof before);
    values[1000] = NAN;
    assert_int_equal(cosnet_model_set_parameters(model, values, PARAMETERS),
                     COSNET_ERROR_NOT_FINITE);
    assert_non_null(strstr(cosnet_last_error(), "parameter 1000"));
    values[1000] = 0.0f;
    values[3] = -INFINITY;
    assert_int_equal(cosnet_model_set_parameters(model, values, PARAMETERS),
                     COSNET_ERROR_NOT_FINITE);
    assert_non_null(strstr(cosnet_last_error(), "parameter 3 "));
    get_parameters(model, back);
    assert_memory_equal(before, back, sizeof back);

    assert_int_equal(cosnet_model_set_parameters(model, values, 1392),
                     COSNET_ERROR_MISMATCH);
    assert_non_null(strstr(cosnet_last_error(), "1392"));
    assert_int_equal(cosnet_model_get_parameters(model, back, 1394),
                     COSNET_ERROR_MISMATCH);
    assert_int_equal(cosnet_model_get_parameters(NULL, back, PARAMETERS),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_model_get_parameters(model, NULL, PARAMETERS),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_model_set_parameters(model, NULL, PARAMETERS),
                     COSNET_ERROR_INVALID_ARGUMENT);

    /* A copy is deep. */
    cosnet_model *copy = NULL;
    assert_int_equal(cosnet_model_copy(model, &copy), COSNET_OK);
    float copied[PARAMETERS];
    get_parameters(copy, copied);
    assert_memory_equal(copied, before, sizeof copied);
    values[3] = 1.0f;
    assert_int_equal(cosnet_model_set_parameters(copy, values, PARAMETERS),
                     COSNET_OK);
    get_parameters(model, back);
    assert_memory_equal(before, back, sizeof back);
    assert_int_equal(cosnet_model_copy(NULL, &copy),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_model_copy(model, NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);
    cosnet_model_free(copy);
    cosnet_model_free(model);
}

/* ---- Prediction --------------------------------------------------------- */

/* All weights 0: every output is ReLU(last bias), whatever the image. */
static void test_predict_by_hand(void **state)
{
    (void)state;
    cosnet_model *model = new_model(3);
    float values[PARAMETERS] = {0};
    values[1392] = 0.625f; /* the last stage's bias */
    values[144] = 3.0f;    /* a first-stage bias: masked by zero weights */
    assert_int_equal(cosnet_model_set_parameters(model, values, PARAMETERS),
                     COSNET_OK);
    float *images = random_images(3, 5);
    float outputs[3 * OUTPUTS];
    assert_int_equal(cosnet_model_predict(model, images, 3, outputs),
                     COSNET_OK);
    for (size_t i = 0; i < 3 * OUTPUTS; i++)
        assert_true(outputs[i] == 0.625f);
    values[1392] = -0.5f;
    assert_int_equal(cosnet_model_set_parameters(model, values, PARAMETERS),
                     COSNET_OK);
    assert_int_equal(cosnet_model_predict(model, images, 3, outputs),
                     COSNET_OK);
    for (size_t i = 0; i < 3 * OUTPUTS; i++)
        assert_true(outputs[i] == 0.0f);
    free(images);
    cosnet_model_free(model);
}

/* Finite parameters so large that the outputs overflow (every one FLT_MAX,
 * which cosnet_model_set_parameters accepts): predict must say so with
 * NOT_FINITE, not return infinities as a result (a reliability finding). */
static void test_predict_overflow_is_a_status(void **state)
{
    (void)state;
    cosnet_model *model = new_model(4);
    float values[PARAMETERS];
    for (size_t i = 0; i < PARAMETERS; i++)
        values[i] = FLT_MAX;
    assert_int_equal(cosnet_model_set_parameters(model, values, PARAMETERS),
                     COSNET_OK);
    float *images = random_images(2, 6);
    float outputs[2 * OUTPUTS];
    assert_int_equal(cosnet_model_predict(model, images, 2, outputs),
                     COSNET_ERROR_NOT_FINITE);
    assert_non_null(strstr(cosnet_last_error(), "cosnet_model_predict"));
    assert_non_null(strstr(cosnet_last_error(), "overflow float arithmetic"));
    free(images);
    cosnet_model_free(model);
}

static void test_predict_shape_and_determinism(void **state)
{
    (void)state;
    enum { COUNT = 11 }; /* not a multiple of the chunk size */
    cosnet_model *model = new_model(11);
    float *images = random_images(COUNT, 12);
    float first[COUNT * OUTPUTS + 1], second[COUNT * OUTPUTS + 1];
    first[COUNT * OUTPUTS] = second[COUNT * OUTPUTS] = -123.0f;
    assert_int_equal(cosnet_model_predict(model, images, COUNT, first),
                     COSNET_OK);
    assert_int_equal(cosnet_model_predict(model, images, COUNT, second),
                     COSNET_OK);
    assert_memory_equal(first, second, sizeof first);
    /* Nothing written past count x 25. */
    assert_true(first[COUNT * OUTPUTS] == -123.0f);
    size_t positive = 0;
    for (size_t i = 0; i < COUNT * OUTPUTS; i++) {
        assert_true(first[i] >= 0.0f); /* ReLU then max-pool */
        positive += first[i] > 0.0f;
    }
    assert_true(positive > 0);
    /* One image at a time gives the same bits as a batch. */
    for (size_t i = 0; i < COUNT; i++) {
        float alone[OUTPUTS];
        assert_int_equal(
            cosnet_model_predict(model, images + i * IMAGE, 1, alone),
            COSNET_OK);
        assert_memory_equal(alone, first + i * OUTPUTS, sizeof alone);
    }
    /* The model is unchanged by prediction. */
    float before[PARAMETERS], after[PARAMETERS];
    cosnet_model *reference = new_model(11);
    get_parameters(reference, before);
    get_parameters(model, after);
    assert_memory_equal(before, after, sizeof before);

    assert_int_equal(cosnet_model_predict(NULL, images, 1, first),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_model_predict(model, NULL, 1, first),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_model_predict(model, images, 1, NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(cosnet_last_error(), "outputs"));
    assert_int_equal(cosnet_model_predict(model, images, 0, first), COSNET_OK);
    free(images);
    cosnet_model_free(reference);
    cosnet_model_free(model);
}

typedef struct predict_job {
    const cosnet_model *model;
    const float *images;
    size_t count;
    float *outputs;
    cosnet_status status;
} predict_job;

static void *predict_thread(void *argument)
{
    predict_job *job = argument;
    for (int repeat = 0; repeat < 3 && job->status == COSNET_OK; repeat++)
        job->status = cosnet_model_predict(job->model, job->images, job->count,
                                           job->outputs);
    return NULL;
}

static void test_predict_two_threads(void **state)
{
    (void)state;
    enum { COUNT = 64 };
    cosnet_model *model = new_model(21);
    float *images = random_images(2 * COUNT, 22);
    float *serial = malloc(sizeof(float) * 2 * COUNT * OUTPUTS);
    float *parallel = malloc(sizeof(float) * 2 * COUNT * OUTPUTS);
    assert_non_null(serial);
    assert_non_null(parallel);
    assert_int_equal(cosnet_model_predict(model, images, 2 * COUNT, serial),
                     COSNET_OK);
    predict_job jobs[2];
    pthread_t threads[2];
    for (int t = 0; t < 2; t++) {
        jobs[t] = (predict_job){model, images + t * COUNT * IMAGE, COUNT,
                                parallel + t * COUNT * OUTPUTS, COSNET_OK};
        assert_int_equal(
            pthread_create(&threads[t], NULL, predict_thread, &jobs[t]), 0);
    }
    for (int t = 0; t < 2; t++) {
        assert_int_equal(pthread_join(threads[t], NULL), 0);
        assert_int_equal(jobs[t].status, COSNET_OK);
    }
    assert_memory_equal(serial, parallel, sizeof(float) * 2 * COUNT * OUTPUTS);
    free(serial);
    free(parallel);
    free(images);
    cosnet_model_free(model);
}

/* Writes an IDX3 images file and an IDX1 labels file of count images. */
static void write_idx_pair(const char *images_path, const char *labels_path,
                           size_t count, int rows, int columns, uint64_t seed)
{
    size_t pixels = count * (size_t)rows * columns;
    unsigned char *bytes = malloc(16 + pixels);
    assert_non_null(bytes);
    const unsigned char header[16] = {0,
                                      0,
                                      8,
                                      3,
                                      0,
                                      0,
                                      (unsigned char)(count >> 8),
                                      (unsigned char)count,
                                      0,
                                      0,
                                      0,
                                      (unsigned char)rows,
                                      0,
                                      0,
                                      0,
                                      (unsigned char)columns};
    memcpy(bytes, header, 16);
    random_generator generator;
    random_seed(&generator, seed);
    for (size_t i = 0; i < pixels; i++)
        bytes[16 + i] = (unsigned char)random_below(&generator, 256);
    write_bytes(images_path, bytes, 16 + pixels);
    unsigned char labels[8 + 256] = {
        0, 0, 8, 1, 0, 0, (unsigned char)(count >> 8), (unsigned char)count};
    for (size_t i = 0; i < count; i++)
        labels[8 + i] = (unsigned char)(i % 10);
    write_bytes(labels_path, labels, 8 + count);
    free(bytes);
}

static void test_predict_dataset(void **state)
{
    (void)state;
    enum { COUNT = 10 };
    char *folder = make_folder();
    char images_path[256], labels_path[256];
    snprintf(images_path, sizeof images_path, "%s/images", folder);
    snprintf(labels_path, sizeof labels_path, "%s/labels", folder);
    write_idx_pair(images_path, labels_path, COUNT, 28, 28, 31);
    cosnet_dataset *dataset = NULL;
    assert_int_equal(
        cosnet_dataset_open(images_path, labels_path, 10, &dataset), COSNET_OK);
    cosnet_model *model = new_model(32);

    float floats[COUNT * IMAGE], expected[COUNT * OUTPUTS],
        got[COUNT * OUTPUTS];
    assert_int_equal(cosnet_dataset_to_float(dataset, 0, COUNT, floats),
                     COSNET_OK);
    assert_int_equal(cosnet_model_predict(model, floats, COUNT, expected),
                     COSNET_OK);
    assert_int_equal(
        cosnet_model_predict_dataset(model, dataset, 0, COUNT, got), COSNET_OK);
    assert_memory_equal(got, expected, sizeof got);
    /* A sub-range lands at the start of outputs. */
    assert_int_equal(cosnet_model_predict_dataset(model, dataset, 3, 6, got),
                     COSNET_OK);
    assert_memory_equal(got, expected + 3 * OUTPUTS,
                        sizeof(float) * 6 * OUTPUTS);

    assert_int_equal(cosnet_model_predict_dataset(model, dataset, 5, 6, got),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(cosnet_last_error(), "10"));
    assert_int_equal(cosnet_model_predict_dataset(model, dataset, 11, 0, got),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(
        cosnet_model_predict_dataset(model, dataset, SIZE_MAX, 2, got),
        COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_model_predict_dataset(model, NULL, 0, 1, got),
                     COSNET_ERROR_INVALID_ARGUMENT);
    cosnet_dataset_free(dataset);

    /* Images of another size do not fit the model. */
    write_idx_pair(images_path, labels_path, 4, 20, 28, 33);
    assert_int_equal(
        cosnet_dataset_open(images_path, labels_path, 10, &dataset), COSNET_OK);
    assert_int_equal(cosnet_model_predict_dataset(model, dataset, 0, 4, got),
                     COSNET_ERROR_MISMATCH);
    assert_non_null(strstr(cosnet_last_error(), "20x28"));
    cosnet_dataset_free(dataset);
    cosnet_model_free(model);
    remove_folder(folder);
}

/* ---- Model files -------------------------------------------------------- */

static void test_save_load(void **state)
{
    (void)state;
    char *folder = make_folder();
    char path[256];
    snprintf(path, sizeof path, "%s/model.cosnet", folder);
    cosnet_model *model = new_model(41);
    assert_int_equal(cosnet_model_save(model, path), COSNET_OK);
    /* Only the file itself: no temporary left behind. */
    assert_int_equal(count_entries(folder), 1);
    size_t size;
    unsigned char *bytes = read_bytes(path, &size);
    assert_int_equal(size, FILE_SIZE);
    assert_memory_equal(bytes, "COSNETMD", 8);
    assert_int_equal(get_u32(bytes + 8), 2);
    assert_int_equal(get_u32(bytes + 12), COSNET_ARCHITECTURE_SEED);
    assert_int_equal(get_u32(bytes + 16), OUTPUTS);
    assert_int_equal(get_u32(bytes + 20), PARAMETERS);
    assert_int_equal(get_u32(bytes + 24), 1);  /* input channels */
    assert_int_equal(get_u32(bytes + 28), 28); /* rows */
    assert_int_equal(get_u32(bytes + 32), 28); /* columns */
    assert_int_equal(get_u32(bytes + 36), 10); /* layers */
    /* The first layer: conv3x3 (1), 16 channels, pad 1; the second ReLU. */
    assert_int_equal(get_u32(bytes + 40), 1);
    assert_int_equal(get_u32(bytes + 44), 16);
    assert_int_equal(get_u32(bytes + 48), 1);
    assert_int_equal(get_u32(bytes + 52), 2);
    float parameters[PARAMETERS];
    get_parameters(model, parameters);
    uint32_t bits;
    memcpy(&bits, &parameters[5], 4);
    assert_int_equal(get_u32(bytes + HEADER + 4 * 5), bits);

    /* The memory form holds the same bytes and loads the same model. */
    void *memory = NULL;
    size_t memory_size = 0;
    assert_int_equal(cosnet_model_save_memory(model, &memory, &memory_size),
                     COSNET_OK);
    assert_int_equal(memory_size, FILE_SIZE);
    assert_memory_equal(memory, bytes, FILE_SIZE);
    cosnet_model *from_memory = NULL;
    assert_int_equal(
        cosnet_model_load_memory(memory, memory_size, &from_memory), COSNET_OK);
    float again[PARAMETERS];
    get_parameters(from_memory, again);
    assert_memory_equal(again, parameters, sizeof again);
    cosnet_model_free(from_memory);
    cosnet_free(memory);
    assert_int_equal(cosnet_model_save_memory(model, NULL, &memory_size),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_model_load_memory(NULL, 5, &from_memory),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(
        get_u32(bytes + FILE_SIZE - 4),
        (uint32_t)crc32(crc32(0L, Z_NULL, 0), bytes, FILE_SIZE - 4));
    free(bytes);

    cosnet_model *loaded = NULL;
    assert_int_equal(cosnet_model_load(path, &loaded), COSNET_OK);
    float back[PARAMETERS];
    get_parameters(loaded, back);
    assert_memory_equal(parameters, back, sizeof back);
    assert_int_equal(cosnet_model_architecture(loaded),
                     COSNET_ARCHITECTURE_SEED);
    float *images = random_images(5, 42);
    float a[5 * OUTPUTS], b[5 * OUTPUTS];
    assert_int_equal(cosnet_model_predict(model, images, 5, a), COSNET_OK);
    assert_int_equal(cosnet_model_predict(loaded, images, 5, b), COSNET_OK);
    assert_memory_equal(a, b, sizeof a);

    /* Saving over an existing file replaces it. */
    cosnet_model *other = new_model(43);
    assert_int_equal(cosnet_model_save(other, path), COSNET_OK);
    cosnet_model_free(loaded);
    assert_int_equal(cosnet_model_load(path, &loaded), COSNET_OK);
    float other_parameters[PARAMETERS];
    get_parameters(other, other_parameters);
    get_parameters(loaded, back);
    assert_memory_equal(other_parameters, back, sizeof back);
    assert_int_equal(count_entries(folder), 1);

    assert_int_equal(cosnet_model_save(NULL, path),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_model_save(model, NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_model_load(NULL, &loaded),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_model_load(path, NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);
    free(images);
    cosnet_model_free(other);
    cosnet_model_free(loaded);
    cosnet_model_free(model);
    remove_folder(folder);
}

typedef struct corruption {
    const char *name;
    cosnet_status status;
    const char *message; /* a fragment the message must contain */
} corruption;

/* Loads `bytes` from a file and checks the status and message; the output
 * handle must stay untouched. */
static void expect_rejected(const char *path, const unsigned char *bytes,
                            size_t size, cosnet_status status,
                            const char *fragment)
{
    write_bytes(path, bytes, size);
    cosnet_model *sentinel = (cosnet_model *)&sentinel;
    cosnet_model *out = sentinel;
    cosnet_status got = cosnet_model_load(path, &out);
    if (got != status)
        fail_msg("expected status %d (%s), got %d: %s", status,
                 cosnet_strerror(status), got, cosnet_last_error());
    assert_ptr_equal(out, sentinel);
    const char *message = cosnet_last_error();
    if (!strstr(message, path) || !strstr(message, fragment))
        fail_msg("message \"%s\" lacks the path or \"%s\"", message, fragment);
}

/* A file larger than any model (2 GiB, sparse: no disk used) is refused
 * from its size, unread, with OVERFLOW. */
static void test_load_refuses_oversized_file(void **state)
{
    (void)state;
    char *folder = make_folder();
    char path[256];
    snprintf(path, sizeof path, "%s/huge", folder);
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fclose(file), 0);
    assert_int_equal(truncate(path, (off_t)1 << 31), 0);
    cosnet_model *model = NULL;
    assert_int_equal(cosnet_model_load(path, &model), COSNET_ERROR_OVERFLOW);
    assert_null(model);
    assert_non_null(strstr(cosnet_last_error(), "larger than any file"));
    remove_folder(folder);
}

static void test_load_rejects(void **state)
{
    (void)state;
    char *folder = make_folder();
    char good_path[256], path[256];
    snprintf(good_path, sizeof good_path, "%s/good", folder);
    snprintf(path, sizeof path, "%s/bad", folder);
    cosnet_model *model = new_model(51);
    assert_int_equal(cosnet_model_save(model, good_path), COSNET_OK);
    size_t size;
    unsigned char *good = read_bytes(good_path, &size);
    assert_int_equal(size, FILE_SIZE);
    unsigned char *bad = malloc(FILE_SIZE + 1);
    assert_non_null(bad);

    /* Bad magic. */
    memcpy(bad, good, FILE_SIZE);
    memcpy(bad, "COSNETMX", 8);
    expect_rejected(path, bad, FILE_SIZE, COSNET_ERROR_BAD_MAGIC,
                    "434f534e45544d58");
    /* Another kind of file entirely, shorter than a header. */
    expect_rejected(path, (const unsigned char *)"hello", 5,
                    COSNET_ERROR_BAD_MAGIC, "68656c6c6f");

    /* Version 99 (with a valid CRC, as a future writer would make). */
    memcpy(bad, good, FILE_SIZE);
    put_u32(bad + 8, 99);
    fix_crc(bad, FILE_SIZE);
    expect_rejected(path, bad, FILE_SIZE, COSNET_ERROR_VERSION, "version 99");

    /* Unknown architecture. */
    memcpy(bad, good, FILE_SIZE);
    put_u32(bad + 12, 7);
    fix_crc(bad, FILE_SIZE);
    expect_rejected(path, bad, FILE_SIZE, COSNET_ERROR_BAD_FORMAT,
                    "unknown architecture 7");

    /* Output dimension that is not the seed's 25. */
    memcpy(bad, good, FILE_SIZE);
    put_u32(bad + 16, 24);
    fix_crc(bad, FILE_SIZE);
    expect_rejected(path, bad, FILE_SIZE, COSNET_ERROR_BAD_FORMAT,
                    "output dimension 24");

    /* Parameter count that is not 1393. */
    memcpy(bad, good, FILE_SIZE);
    put_u32(bad + 20, 1392);
    fix_crc(bad, FILE_SIZE);
    expect_rejected(path, bad, FILE_SIZE, COSNET_ERROR_MISMATCH,
                    "parameter count 1392");

    /* Truncated: inside the parameters, inside the header, empty. */
    expect_rejected(path, good, FILE_SIZE - 1, COSNET_ERROR_TRUNCATED,
                    "truncated at byte 5735");
    expect_rejected(path, good, 100, COSNET_ERROR_TRUNCATED,
                    "truncated at byte 100: the header declares 10 layers");
    expect_rejected(path, good, 12, COSNET_ERROR_TRUNCATED,
                    "truncated at byte 12");
    expect_rejected(path, good, 0, COSNET_ERROR_TRUNCATED,
                    "truncated at byte 0");

    /* One trailing byte. */
    memcpy(bad, good, FILE_SIZE);
    bad[FILE_SIZE] = 0;
    expect_rejected(path, bad, FILE_SIZE + 1, COSNET_ERROR_MISMATCH,
                    "5737 bytes");

    /* The layer list: a count out of range, a layer the validator refuses,
     * layers that are not the recorded built-in architecture's. */
    memcpy(bad, good, FILE_SIZE);
    put_u32(bad + 36, 0);
    fix_crc(bad, FILE_SIZE);
    expect_rejected(path, bad, FILE_SIZE, COSNET_ERROR_BAD_FORMAT,
                    "0 layers at byte 36");
    memcpy(bad, good, FILE_SIZE);
    put_u32(bad + 48, 3); /* pad 3 */
    fix_crc(bad, FILE_SIZE);
    expect_rejected(path, bad, FILE_SIZE, COSNET_ERROR_BAD_FORMAT,
                    "layer 0 (conv3x3): pad outside 0..2");
    memcpy(bad, good, FILE_SIZE);
    put_u32(bad + 48, 2); /* pad 2: a valid list, but not the seed's */
    fix_crc(bad, FILE_SIZE);
    expect_rejected(path, bad, FILE_SIZE, COSNET_ERROR_BAD_FORMAT,
                    "do not match architecture 1");
    /* The seed's layers on 30x30 images (still 25 outputs and 1393
     * parameters): not the seed architecture, whose input is 28x28. */
    memcpy(bad, good, FILE_SIZE);
    put_u32(bad + 28, 30);
    put_u32(bad + 32, 30);
    fix_crc(bad, FILE_SIZE);
    expect_rejected(path, bad, FILE_SIZE, COSNET_ERROR_BAD_FORMAT,
                    "input 1x30x30 and layers do not match architecture 1 "
                    "(seed, 1x28x28)");

    /* One flipped bit in a parameter: the CRC catches it. */
    memcpy(bad, good, FILE_SIZE);
    bad[HEADER + 4 * 700 + 2] ^= 0x10;
    expect_rejected(path, bad, FILE_SIZE, COSNET_ERROR_CORRUPT,
                    "CRC-32 mismatch");
    /* A flip that would make a NaN still reports CORRUPT: CRC first. */
    memcpy(bad, good, FILE_SIZE);
    put_u32(bad + HEADER + 4 * 9, 0x7fc00000u);
    expect_rejected(path, bad, FILE_SIZE, COSNET_ERROR_CORRUPT,
                    "CRC-32 mismatch");

    /* NaN and infinity with a valid CRC. */
    memcpy(bad, good, FILE_SIZE);
    put_u32(bad + HEADER + 4 * 9, 0x7fc00000u);
    fix_crc(bad, FILE_SIZE);
    expect_rejected(path, bad, FILE_SIZE, COSNET_ERROR_NOT_FINITE,
                    "parameter 9 (byte 196) is nan");
    memcpy(bad, good, FILE_SIZE);
    put_u32(bad + HEADER + 4 * 1392, 0xff800000u);
    fix_crc(bad, FILE_SIZE);
    expect_rejected(path, bad, FILE_SIZE, COSNET_ERROR_NOT_FINITE,
                    "parameter 1392");

    /* A missing file and a folder. */
    char missing[256];
    snprintf(missing, sizeof missing, "%s/missing", folder);
    cosnet_model *out = NULL;
    assert_int_equal(cosnet_model_load(missing, &out), COSNET_ERROR_IO);
    assert_non_null(strstr(cosnet_last_error(), missing));
    assert_non_null(strstr(cosnet_last_error(), "No such file"));
    assert_int_equal(cosnet_model_load(folder, &out), COSNET_ERROR_IO);
    assert_null(out);

    free(good);
    free(bad);
    cosnet_model_free(model);
    remove_folder(folder);
}

/* A file in format version 1 (libcosnet 0.1) still loads: same header
 * fields, no layer list, the parameters at byte 24. */
static void test_load_version_1(void **state)
{
    (void)state;
    char *folder = make_folder();
    char path[256];
    snprintf(path, sizeof path, "%s/v1.cosnet", folder);
    cosnet_model *model = new_model(71);
    float parameters[PARAMETERS];
    get_parameters(model, parameters);
    unsigned char v1[V1_FILE_SIZE];
    memcpy(v1, "COSNETMD", 8);
    put_u32(v1 + 8, 1);
    put_u32(v1 + 12, COSNET_ARCHITECTURE_SEED);
    put_u32(v1 + 16, OUTPUTS);
    put_u32(v1 + 20, PARAMETERS);
    for (int i = 0; i < PARAMETERS; i++) {
        uint32_t bits;
        memcpy(&bits, &parameters[i], 4);
        put_u32(v1 + 24 + 4 * i, bits);
    }
    fix_crc(v1, V1_FILE_SIZE);
    write_bytes(path, v1, V1_FILE_SIZE);
    cosnet_model *loaded = NULL;
    assert_int_equal(cosnet_model_load(path, &loaded), COSNET_OK);
    float back[PARAMETERS];
    get_parameters(loaded, back);
    assert_memory_equal(back, parameters, sizeof back);
    cosnet_model_free(loaded);
    /* Version 1 knows only built-in architectures. */
    put_u32(v1 + 12, 0);
    fix_crc(v1, V1_FILE_SIZE);
    expect_rejected(path, v1, V1_FILE_SIZE, COSNET_ERROR_BAD_FORMAT,
                    "unknown architecture 0");
    cosnet_model_free(model);
    remove_folder(folder);
}

static void test_save_failures(void **state)
{
    (void)state;
    char *folder = make_folder();
    cosnet_model *model = new_model(61);
    char path[256];

    /* A folder that does not exist: the temporary file cannot be made. */
    snprintf(path, sizeof path, "%s/no/such/folder/model", folder);
    assert_int_equal(cosnet_model_save(model, path), COSNET_ERROR_IO);
    assert_non_null(strstr(cosnet_last_error(), path));
    assert_non_null(strstr(cosnet_last_error(), "No such file"));
    assert_int_equal(count_entries(folder), 0);

    /* The target is a folder: writing works, the rename fails, and the
     * temporary file must be removed. */
    snprintf(path, sizeof path, "%s/target", folder);
    assert_int_equal(mkdir(path, 0700), 0);
    char inner[300];
    snprintf(inner, sizeof inner, "%s/keep", path);
    write_bytes(inner, (const unsigned char *)"x", 1);
    assert_int_equal(cosnet_model_save(model, path), COSNET_ERROR_IO);
    assert_non_null(strstr(cosnet_last_error(), path));
    assert_non_null(strstr(cosnet_last_error(), "rename"));
    assert_int_equal(count_entries(folder), 1); /* just "target" */
    unlink(inner);
    cosnet_model_free(model);
    remove_folder(folder);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_architecture_seed_numbers),
        cmocka_unit_test(test_architecture_dense_head),
        cmocka_unit_test(test_architecture_refusals),
        cmocka_unit_test(test_glorot_bounds),
        cmocka_unit_test(test_seeds),
        cmocka_unit_test(test_parameters),
        cmocka_unit_test(test_predict_by_hand),
        cmocka_unit_test(test_predict_overflow_is_a_status),
        cmocka_unit_test(test_predict_shape_and_determinism),
        cmocka_unit_test(test_predict_two_threads),
        cmocka_unit_test(test_predict_dataset),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_load_rejects),
        cmocka_unit_test(test_load_refuses_oversized_file),
        cmocka_unit_test(test_load_version_1),
        cmocka_unit_test(test_save_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
