/* The allocation-failure sweep: every public function that allocates is
 * called with its 1st, 2nd, 3rd, ... allocation made to fail
 * (memory_fail_after), until it succeeds with no injected failure hit.
 * Each failing call must return COSNET_ERROR_OUT_OF_MEMORY with a
 * non-empty message, leave its output untouched and its inputs unchanged
 * (compared before and after), and free everything it allocated: a
 * counting allocator installed before any other call (cosnet_set_allocator)
 * checks that exactly, in every build; the sanitizer build checks it
 * again. A call that succeeds although one of its allocations failed is
 * also a failure (it would hide a partial result). The number of injection
 * points of each function is printed ("sweep NAME: N allocation points")
 * for docs/reliability.md. Also: cosnet_set_allocator itself. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "cosnet.h"
#include "common/memory.h"
#include "optimizer/adamw_internal.h"

enum {
    SIDE = 28,
    PIXELS = SIDE * SIDE,
    DIMS = 25,
    CLASSES = 10,
    /* More than one evaluation chunk (256), so two threads both work. */
    IMAGE_COUNT = 300,
    /* The one-thread evaluation sweep runs on the first images only. */
    SMALL_COUNT = 20,
    BATCH = 4,
    EPOCH_IMAGES = 8,
    MAX_POINTS = 100000
};

/* ---- the counting allocator ---------------------------------------------- */

static atomic_size_t live_blocks;
static atomic_int refuse_all; /* a failing allocator, for one test */

static void *counting_allocate(void *user_data, size_t size)
{
    (void)user_data;
    if (atomic_load(&refuse_all))
        return NULL;
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

/* ---- the fixture, built once without failures ---------------------------- */

static struct fixture {
    char folder[64];
    char images_path[128], labels_path[128];
    char images_gz_path[128], labels_gz_path[128];
    char label_text_path[128], model_path[128];
    char save_path[128];
    cosnet_dataset *dataset;
    cosnet_dataset *small_dataset; /* the first SMALL_COUNT images */
    char small_images_path[128], small_labels_path[128];
    cosnet_labels *labels;
    cosnet_model *models[CLASSES];
    float images[EPOCH_IMAGES * PIXELS];
    float targets[EPOCH_IMAGES * DIMS];
} f;

static void put_u32(unsigned char *at, uint32_t value)
{
    at[0] = (unsigned char)(value >> 24);
    at[1] = (unsigned char)(value >> 16);
    at[2] = (unsigned char)(value >> 8);
    at[3] = (unsigned char)value;
}

static void write_file(const char *path, const unsigned char *bytes,
                       size_t size, int gzip)
{
    if (gzip) {
        gzFile file = gzopen(path, "wb");
        assert_non_null(file);
        assert_int_equal(gzwrite(file, bytes, (unsigned)size), (int)size);
        assert_int_equal(gzclose(file), Z_OK);
        return;
    }
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(bytes, 1, size, file), size);
    assert_int_equal(fclose(file), 0);
}

static void fixture_make(void)
{
    snprintf(f.folder, sizeof f.folder, "/tmp/cosnet-allocation-XXXXXX");
    assert_non_null(mkdtemp(f.folder));
    snprintf(f.images_path, sizeof f.images_path, "%s/images", f.folder);
    snprintf(f.labels_path, sizeof f.labels_path, "%s/labels", f.folder);
    snprintf(f.images_gz_path, sizeof f.images_gz_path, "%s/images.gz",
             f.folder);
    snprintf(f.labels_gz_path, sizeof f.labels_gz_path, "%s/labels.gz",
             f.folder);
    snprintf(f.label_text_path, sizeof f.label_text_path, "%s/labels.txt",
             f.folder);
    snprintf(f.model_path, sizeof f.model_path, "%s/model", f.folder);
    snprintf(f.save_path, sizeof f.save_path, "%s/saved", f.folder);

    size_t images_size = 16 + (size_t)IMAGE_COUNT * PIXELS;
    unsigned char *images = malloc(images_size);
    unsigned char labels[8 + IMAGE_COUNT];
    assert_non_null(images);
    put_u32(images, 0x803);
    put_u32(images + 4, IMAGE_COUNT);
    put_u32(images + 8, SIDE);
    put_u32(images + 12, SIDE);
    put_u32(labels, 0x801);
    put_u32(labels + 4, IMAGE_COUNT);
    uint32_t state = 777;
    for (size_t i = 0; i < (size_t)IMAGE_COUNT * PIXELS; i++) {
        state = state * 1664525u + 1013904223u;
        images[16 + i] = (unsigned char)(state >> 24);
    }
    for (size_t i = 0; i < IMAGE_COUNT; i++)
        labels[8 + i] = (unsigned char)(i % CLASSES);
    write_file(f.images_path, images, images_size, 0);
    write_file(f.labels_path, labels, sizeof labels, 0);
    write_file(f.images_gz_path, images, images_size, 1);
    write_file(f.labels_gz_path, labels, sizeof labels, 1);
    snprintf(f.small_images_path, sizeof f.small_images_path, "%s/small-images",
             f.folder);
    snprintf(f.small_labels_path, sizeof f.small_labels_path, "%s/small-labels",
             f.folder);
    put_u32(images + 4, SMALL_COUNT);
    put_u32(labels + 4, SMALL_COUNT);
    write_file(f.small_images_path, images, 16 + (size_t)SMALL_COUNT * PIXELS,
               0);
    write_file(f.small_labels_path, labels, 8 + SMALL_COUNT, 0);
    free(images);
    assert_int_equal(cosnet_dataset_open(f.small_images_path,
                                         f.small_labels_path, CLASSES,
                                         &f.small_dataset),
                     COSNET_OK);

    assert_int_equal(
        cosnet_dataset_open(f.images_path, f.labels_path, CLASSES, &f.dataset),
        COSNET_OK);
    assert_int_equal(cosnet_labels_builtin(&f.labels), COSNET_OK);
    assert_int_equal(cosnet_labels_save(f.labels, f.label_text_path),
                     COSNET_OK);
    for (unsigned k = 0; k < CLASSES; k++)
        assert_int_equal(cosnet_model_create(COSNET_ARCHITECTURE_SEED, 100 + k,
                                             &f.models[k]),
                         COSNET_OK);
    assert_int_equal(cosnet_model_save(f.models[0], f.model_path), COSNET_OK);
    assert_int_equal(
        cosnet_dataset_to_float(f.dataset, 0, EPOCH_IMAGES, f.images),
        COSNET_OK);
    for (size_t i = 0; i < EPOCH_IMAGES; i++)
        memcpy(f.targets + i * DIMS,
               cosnet_labels_vector(f.labels, i % CLASSES),
               DIMS * sizeof(float));
}

static void fixture_free(void)
{
    for (unsigned k = 0; k < CLASSES; k++)
        cosnet_model_free(f.models[k]);
    cosnet_labels_free(f.labels);
    cosnet_dataset_free(f.dataset);
    cosnet_dataset_free(f.small_dataset);
    unlink(f.small_images_path);
    unlink(f.small_labels_path);
    const char *paths[] = {f.images_path,    f.labels_path, f.images_gz_path,
                           f.labels_gz_path, f.model_path,  f.save_path,
                           f.label_text_path};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        unlink(paths[i]);
    assert_int_equal(rmdir(f.folder), 0);
}

static int group_setup(void **state)
{
    (void)state;
    fixture_make();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    fixture_free();
    return atomic_load(&live_blocks) == 0 ? 0 : -1;
}

/* ---- the sweep ------------------------------------------------------------
 */

/* One function under test: `call` makes the call; `unchanged` checks,
 * after a failed call, that outputs and inputs are as before; `release`
 * frees what a successful call made. */
typedef struct subject {
    const char *name;
    cosnet_status (*call)(void *context);
    void (*unchanged)(void *context);
    void (*release)(void *context);
    void *context;
    /* Optional: puts the inputs back after a call that succeeded although
     * an allocation failed (see sweep). */
    void (*reset)(void *context);
} subject;

static size_t files_in_folder(void)
{
    DIR *directory = opendir(f.folder);
    assert_non_null(directory);
    size_t count = 0;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL)
        count += entry->d_name[0] != '.';
    closedir(directory);
    return count;
}

/* Returns the number of allocation points: the allocations the successful
 * call made.
 *
 * One kind of allocation may fail without failing the call: a SIMD
 * kernel's heap scratch (lib/kernels/simd_common.h), whose failure makes
 * the kernel fall back to the scalar reference. Such a call must then
 * still succeed with a correct result (release checks it); it is counted
 * as "tolerated", its inputs are reset, and the sweep goes on. Any other
 * subject must not have tolerated points (tolerated_allowed 0). */
static unsigned long sweep_tolerating(const subject *s, int tolerated_allowed)
{
    size_t files = files_in_folder();
    unsigned long tolerated = 0;
    for (unsigned long n = 1; n <= MAX_POINTS; n++) {
        size_t live = atomic_load(&live_blocks);
        memory_fail_after(n);
        cosnet_status status = s->call(s->context);
        unsigned long attempted = memory_fail_after(0);
        if (status == COSNET_OK) {
            if (attempted >= n && !tolerated_allowed)
                fail_msg("%s: allocation %lu of %lu failed but the call "
                         "returned COSNET_OK",
                         s->name, n, attempted);
            if (s->release)
                s->release(s->context);
            if (atomic_load(&live_blocks) != live)
                fail_msg("%s: %zu blocks more after a successful call and "
                         "its release",
                         s->name, atomic_load(&live_blocks) - live);
            if (attempted >= n) {
                tolerated++;
                if (s->reset)
                    s->reset(s->context);
                continue;
            }
            print_message("sweep %s: %lu allocation points, %lu of them "
                          "tolerated\n",
                          s->name, attempted, tolerated);
            return attempted;
        }
        const char *message = cosnet_last_error();
        if (status != COSNET_ERROR_OUT_OF_MEMORY)
            fail_msg("%s: allocation %lu failed: status %d (%s), expected "
                     "COSNET_ERROR_OUT_OF_MEMORY; message \"%s\"",
                     s->name, n, (int)status, cosnet_strerror(status), message);
        if (!message || message[0] == '\0')
            fail_msg("%s: allocation %lu failed with an empty message", s->name,
                     n);
        if (atomic_load(&live_blocks) != live)
            fail_msg("%s: allocation %lu failed and %zu blocks leaked "
                     "(message \"%s\")",
                     s->name, n, atomic_load(&live_blocks) - live, message);
        if (files_in_folder() != files)
            fail_msg("%s: allocation %lu failed and left a file behind",
                     s->name, n);
        if (s->unchanged)
            s->unchanged(s->context);
    }
    fail_msg("%s: still failing after %d allocation points", s->name,
             MAX_POINTS);
    return 0;
}

static unsigned long sweep(const subject *s)
{
    return sweep_tolerating(s, 0);
}

/* A handle value no failing call may write. */
#define SENTINEL ((void *)(uintptr_t)0x5a5a)

/* ---- datasets --------------------------------------------------------------
 */

typedef struct open_context {
    const char *images, *labels;
    cosnet_dataset *out;
} open_context;

static cosnet_status call_dataset_open(void *context)
{
    open_context *c = context;
    c->out = SENTINEL;
    return cosnet_dataset_open(c->images, c->labels, CLASSES, &c->out);
}

static void dataset_open_unchanged(void *context)
{
    assert_ptr_equal(((open_context *)context)->out, SENTINEL);
}

static void dataset_open_release(void *context)
{
    open_context *c = context;
    assert_int_equal(cosnet_dataset_count(c->out), IMAGE_COUNT);
    cosnet_dataset_free(c->out);
}

static void test_dataset_open(void **state)
{
    (void)state;
    open_context raw = {f.images_path, f.labels_path, NULL};
    open_context gz = {f.images_gz_path, f.labels_gz_path, NULL};
    subject subjects[] = {
        {"cosnet_dataset_open (raw)", call_dataset_open, dataset_open_unchanged,
         dataset_open_release, &raw, NULL},
        {"cosnet_dataset_open (gzip)", call_dataset_open,
         dataset_open_unchanged, dataset_open_release, &gz, NULL},
    };
    for (size_t i = 0; i < 2; i++)
        assert_true(sweep(&subjects[i]) > 0);
}

/* ---- label sets -------------------------------------------------------------
 */

typedef struct labels_context {
    int which; /* 0 generate, 1 builtin, 2 create, 3 load, 4 generate a set
                  big enough to start the pair-filling thread */
    cosnet_labels *out;
} labels_context;

static const float created_values[3 * 4] = {1, 0, 0, 1, 0, 1,
                                            0, 0, 0, 0, 1, 0.5f};

static cosnet_status call_labels(void *context)
{
    labels_context *c = context;
    c->out = SENTINEL;
    switch (c->which) {
    case 0: return cosnet_labels_generate(3, 4, 0.9, 11, 0, &c->out);
    case 1: return cosnet_labels_builtin(&c->out);
    case 2: return cosnet_labels_create(3, 4, created_values, &c->out);
    case 3: return cosnet_labels_load(f.label_text_path, &c->out);
    default: return cosnet_labels_generate(6, 25, 0.5, 0, 0, &c->out);
    }
}

static void labels_unchanged(void *context)
{
    assert_ptr_equal(((labels_context *)context)->out, SENTINEL);
}

static void labels_release(void *context)
{
    labels_context *c = context;
    assert_true(cosnet_labels_count(c->out) > 0);
    if (c->which == 3) {
        /* The loaded set is the saved one. */
        assert_int_equal(cosnet_labels_count(c->out), CLASSES);
        for (size_t i = 0; i < CLASSES; i++)
            assert_memory_equal(cosnet_labels_vector(c->out, i),
                                cosnet_labels_vector(f.labels, i),
                                DIMS * sizeof(float));
    }
    cosnet_labels_free(c->out);
}

static void test_labels(void **state)
{
    (void)state;
    static const char *const names[] = {
        "cosnet_labels_generate", "cosnet_labels_builtin",
        "cosnet_labels_create", "cosnet_labels_load",
        "cosnet_labels_generate (6 x 25: 20,704 draws, with its thread)"};
    for (int which = 0; which < 5; which++) {
        labels_context context = {which, NULL};
        subject s = {names[which],   call_labels, labels_unchanged,
                     labels_release, &context,    NULL};
        sweep(&s);
    }
}

/* ---- saving: the destination keeps its old contents ------------------------
 */

static const char old_contents[] = "old contents\n";

static void write_old_destination(void)
{
    write_file(f.save_path, (const unsigned char *)old_contents,
               sizeof old_contents - 1, 0);
}

static void destination_unchanged(void *context)
{
    (void)context;
    FILE *file = fopen(f.save_path, "rb");
    assert_non_null(file);
    char buffer[64] = "";
    size_t got = fread(buffer, 1, sizeof buffer, file);
    fclose(file);
    assert_int_equal(got, sizeof old_contents - 1);
    assert_memory_equal(buffer, old_contents, got);
}

static cosnet_status call_labels_save(void *context)
{
    (void)context;
    return cosnet_labels_save(f.labels, f.save_path);
}

static cosnet_status call_model_save(void *context)
{
    (void)context;
    return cosnet_model_save(f.models[0], f.save_path);
}

static void save_release(void *context)
{
    (void)context;
    /* Success replaced the old contents; put them back for the next. */
    write_old_destination();
}

/* On failure the destination keeps its old contents and no temporary
 * file is left beside it. */
static void test_labels_save(void **state)
{
    (void)state;
    write_old_destination();
    subject s = {"cosnet_labels_save",
                 call_labels_save,
                 destination_unchanged,
                 save_release,
                 NULL,
                 NULL};
    sweep(&s);
    unlink(f.save_path);
}

static void test_model_save(void **state)
{
    (void)state;
    write_old_destination();
    subject s = {"cosnet_model_save",
                 call_model_save,
                 destination_unchanged,
                 save_release,
                 NULL,
                 NULL};
    sweep(&s);
    unlink(f.save_path);
}

/* ---- models ---------------------------------------------------------------
 */

typedef struct model_context {
    int which; /* 0 create, 1 copy, 2 load */
    cosnet_model *out;
} model_context;

static cosnet_status call_model(void *context)
{
    model_context *c = context;
    c->out = SENTINEL;
    switch (c->which) {
    case 0: return cosnet_model_create(COSNET_ARCHITECTURE_SEED, 3, &c->out);
    case 1: return cosnet_model_copy(f.models[1], &c->out);
    default: return cosnet_model_load(f.model_path, &c->out);
    }
}

static void model_unchanged(void *context)
{
    assert_ptr_equal(((model_context *)context)->out, SENTINEL);
}

static void model_release(void *context)
{
    model_context *c = context;
    assert_int_equal(cosnet_model_parameter_count(c->out),
                     cosnet_model_parameter_count(f.models[0]));
    cosnet_model_free(c->out);
}

/* An in-memory save and load: the saved buffer, its size, and the handle
 * loaded from it. */
typedef struct memory_context {
    void *bytes;
    size_t size;
    union {
        cosnet_labels *labels;
        cosnet_model *model;
    } out;
} memory_context;

static void save_memory_unchanged(void *context)
{
    memory_context *c = context;
    assert_ptr_equal(c->bytes, SENTINEL);
    assert_int_equal(c->size, 12345);
}

static void save_memory_release(void *context)
{
    memory_context *c = context;
    assert_true(c->size > 0);
    cosnet_free(c->bytes);
}

static void sweep_call(const char *name, cosnet_status (*call)(void *context),
                       void (*unchanged)(void *context),
                       void (*release)(void *context), void *context)
{
    subject s = {name, call, unchanged, release, context, NULL};
    sweep(&s);
}

/* Sweeps the save, saves once more for the load's input, sweeps the
 * load (the handle it makes in c->out). */
static void sweep_save_and_load(const char *save_name,
                                cosnet_status (*save)(void *context),
                                const char *load_name,
                                cosnet_status (*load)(void *context),
                                void (*load_unchanged)(void *context),
                                void (*load_release)(void *context))
{
    memory_context c = {NULL, 0, {NULL}};
    sweep_call(save_name, save, save_memory_unchanged, save_memory_release, &c);
    assert_int_equal(save(&c), COSNET_OK);
    sweep_call(load_name, load, load_unchanged, load_release, &c);
    cosnet_free(c.bytes);
}

/* Label-set text in memory. */
static cosnet_status call_labels_save_memory(void *context)
{
    memory_context *c = context;
    char *text = SENTINEL;
    c->size = 12345;
    const cosnet_status status =
        cosnet_labels_save_memory(f.labels, &text, &c->size);
    c->bytes = text;
    return status;
}

static cosnet_status call_labels_load_memory(void *context)
{
    memory_context *c = context;
    c->out.labels = SENTINEL;
    return cosnet_labels_load_memory(c->bytes, c->size, &c->out.labels);
}

static void labels_load_memory_unchanged(void *context)
{
    assert_ptr_equal(((memory_context *)context)->out.labels, SENTINEL);
}

static void labels_load_memory_release(void *context)
{
    cosnet_labels_free(((memory_context *)context)->out.labels);
}

static void test_labels_memory(void **state)
{
    (void)state;
    sweep_save_and_load("cosnet_labels_save_memory", call_labels_save_memory,
                        "cosnet_labels_load_memory", call_labels_load_memory,
                        labels_load_memory_unchanged,
                        labels_load_memory_release);
}

/* Model format 2's in-memory save and load. */
static cosnet_status call_save_memory(void *context)
{
    memory_context *c = context;
    c->bytes = SENTINEL;
    c->size = 12345;
    return cosnet_model_save_memory(f.models[4], &c->bytes, &c->size);
}

static cosnet_status call_load_memory(void *context)
{
    memory_context *c = context;
    c->out.model = SENTINEL;
    return cosnet_model_load_memory(c->bytes, c->size, &c->out.model);
}

static void load_memory_unchanged(void *context)
{
    assert_ptr_equal(((memory_context *)context)->out.model, SENTINEL);
}

static void load_memory_release(void *context)
{
    cosnet_model_free(((memory_context *)context)->out.model);
}

static void test_model_memory(void **state)
{
    (void)state;
    sweep_save_and_load("cosnet_model_save_memory", call_save_memory,
                        "cosnet_model_load_memory", call_load_memory,
                        load_memory_unchanged, load_memory_release);
}

static void test_models(void **state)
{
    (void)state;
    static const char *const names[] = {
        "cosnet_model_create", "cosnet_model_copy", "cosnet_model_load"};
    for (int which = 0; which < 3; which++) {
        model_context context = {which, NULL};
        subject s = {names[which],  call_model, model_unchanged,
                     model_release, &context,   NULL};
        sweep(&s);
    }
}

/* Prediction writes only on success: the output buffer keeps a pattern. */
typedef struct predict_context {
    int from_dataset;
    float outputs[EPOCH_IMAGES * DIMS];
    float expected[EPOCH_IMAGES * DIMS];
} predict_context;

static void fill_pattern(float *values, size_t count)
{
    memset(values, 0x7b, count * sizeof *values);
}

static cosnet_status call_predict(void *context)
{
    predict_context *c = context;
    fill_pattern(c->outputs, EPOCH_IMAGES * DIMS);
    if (c->from_dataset)
        return cosnet_model_predict_dataset(f.models[2], f.dataset, 0,
                                            EPOCH_IMAGES, c->outputs);
    return cosnet_model_predict(f.models[2], f.images, EPOCH_IMAGES,
                                c->outputs);
}

static void predict_unchanged(void *context)
{
    predict_context *c = context;
    float pattern[EPOCH_IMAGES * DIMS];
    fill_pattern(pattern, EPOCH_IMAGES * DIMS);
    assert_memory_equal(c->outputs, pattern, sizeof pattern);
}

static void predict_release(void *context)
{
    predict_context *c = context;
    /* A kernel that lost its scratch runs the scalar reference: the same
     * values up to rounding. */
    for (size_t i = 0; i < EPOCH_IMAGES * DIMS; i++)
        assert_float_equal(c->outputs[i], c->expected[i],
                           1e-5 + 1e-4 * fabsf(c->expected[i]));
}

static void test_predict(void **state)
{
    (void)state;
    for (int from_dataset = 0; from_dataset < 2; from_dataset++) {
        predict_context *c = malloc(sizeof *c);
        assert_non_null(c);
        c->from_dataset = from_dataset;
        assert_int_equal(cosnet_model_predict(f.models[2], f.images,
                                              EPOCH_IMAGES, c->expected),
                         COSNET_OK);
        subject s = {from_dataset ? "cosnet_model_predict_dataset"
                                  : "cosnet_model_predict",
                     call_predict,
                     predict_unchanged,
                     predict_release,
                     c,
                     NULL};
        sweep_tolerating(&s, 1);
        free(c);
    }
}

/* ---- the optimiser and training
 * ---------------------------------------------- */

typedef struct optimizer_context {
    cosnet_optimizer *out;
} optimizer_context;

static cosnet_status call_optimizer_create(void *context)
{
    optimizer_context *c = context;
    c->out = SENTINEL;
    return cosnet_optimizer_create(f.models[0], &c->out);
}

static void optimizer_unchanged(void *context)
{
    assert_ptr_equal(((optimizer_context *)context)->out, SENTINEL);
}

static void optimizer_release(void *context)
{
    optimizer_context *c = context;
    assert_int_equal(cosnet_optimizer_steps(c->out), 0);
    cosnet_optimizer_free(c->out);
}

static void test_optimizer_create(void **state)
{
    (void)state;
    optimizer_context context = {NULL};
    subject s = {"cosnet_optimizer_create",
                 call_optimizer_create,
                 optimizer_unchanged,
                 optimizer_release,
                 &context,
                 NULL};
    sweep(&s);
}

/* Training changes model and optimiser only on success. The model and
 * optimiser under test start equal to a reference pair; after the sweep's
 * final success both pairs must have taken the same single step, which
 * also proves the failed attempts left the (hidden) moments alone. */
typedef struct train_context {
    int epoch;
    const cosnet_model *pristine;
    cosnet_model *model;
    cosnet_optimizer *optimizer;
    float before[1393];
    float loss;
} train_context;

static size_t parameter_count(void)
{
    return cosnet_model_parameter_count(f.models[0]);
}

static cosnet_status train_once(int epoch, cosnet_model *model,
                                cosnet_optimizer *optimizer, float *loss)
{
    if (epoch)
        return cosnet_train_epoch(model, optimizer, f.images, EPOCH_IMAGES,
                                  BATCH, f.targets, DIMS, 1, NULL, NULL, loss);
    return cosnet_train_batch(model, optimizer, f.images, BATCH, f.targets,
                              DIMS, loss);
}

static cosnet_status call_train(void *context)
{
    train_context *c = context;
    c->loss = -1.0f;
    return train_once(c->epoch, c->model, c->optimizer, &c->loss);
}

static void train_unchanged(void *context)
{
    train_context *c = context;
    float now[1393];
    assert_int_equal(
        cosnet_model_get_parameters(c->model, now, parameter_count()),
        COSNET_OK);
    assert_memory_equal(now, c->before, parameter_count() * sizeof(float));
    assert_int_equal(cosnet_optimizer_steps(c->optimizer), 0);
    assert_true(c->loss == -1.0f);
}

/* A successful call leaves the training buffers with the optimiser for the
 * next call (they go when it is freed): drop them, so that any other block
 * still alive counts as a leak. */
static void train_release(void *context)
{
    train_context *c = context;
    assert_non_null(c->optimizer->training);
    training_context_free(c->optimizer->training);
    c->optimizer->training = NULL;
}

/* After a tolerated success: a fresh model and optimiser again. */
static void train_reset(void *context)
{
    train_context *c = context;
    cosnet_optimizer_free(c->optimizer);
    cosnet_model_free(c->model);
    assert_int_equal(cosnet_model_copy(c->pristine, &c->model), COSNET_OK);
    assert_int_equal(cosnet_optimizer_create(c->model, &c->optimizer),
                     COSNET_OK);
}

static void test_training(void **state)
{
    (void)state;
    assert_true(parameter_count() <= 1393);
    for (int epoch = 0; epoch < 2; epoch++) {
        train_context c = {epoch, f.models[3], NULL, NULL, {0}, 0};
        cosnet_model *reference = NULL;
        cosnet_optimizer *reference_optimizer = NULL;
        assert_int_equal(cosnet_model_copy(f.models[3], &c.model), COSNET_OK);
        assert_int_equal(cosnet_model_copy(f.models[3], &reference), COSNET_OK);
        assert_int_equal(cosnet_optimizer_create(c.model, &c.optimizer),
                         COSNET_OK);
        assert_int_equal(
            cosnet_optimizer_create(reference, &reference_optimizer),
            COSNET_OK);
        assert_int_equal(
            cosnet_model_get_parameters(c.model, c.before, parameter_count()),
            COSNET_OK);
        subject s = {epoch ? "cosnet_train_epoch" : "cosnet_train_batch",
                     call_train,
                     train_unchanged,
                     train_release,
                     &c,
                     train_reset};
        sweep_tolerating(&s, 1);

        float reference_loss = 0;
        assert_int_equal(
            train_once(epoch, reference, reference_optimizer, &reference_loss),
            COSNET_OK);
        assert_true(reference_loss == c.loss);
        assert_int_equal(cosnet_optimizer_steps(c.optimizer),
                         cosnet_optimizer_steps(reference_optimizer));
        float trained[1393], expected[1393];
        assert_int_equal(
            cosnet_model_get_parameters(c.model, trained, parameter_count()),
            COSNET_OK);
        assert_int_equal(
            cosnet_model_get_parameters(reference, expected, parameter_count()),
            COSNET_OK);
        assert_memory_equal(trained, expected,
                            parameter_count() * sizeof(float));
        cosnet_optimizer_free(c.optimizer);
        cosnet_optimizer_free(reference_optimizer);
        cosnet_model_free(c.model);
        cosnet_model_free(reference);
    }
}

/* ---- evaluation -------------------------------------------------------------
 */

typedef struct evaluate_context {
    unsigned threads;
    cosnet_evaluation *out;
} evaluate_context;

static cosnet_status call_evaluate(void *context)
{
    evaluate_context *c = context;
    c->out = SENTINEL;
    return cosnet_evaluate(
        (const cosnet_model *const *)f.models, CLASSES, f.labels,
        c->threads == 1 ? f.small_dataset : f.dataset, c->threads, &c->out);
}

static void evaluate_unchanged(void *context)
{
    assert_ptr_equal(((evaluate_context *)context)->out, SENTINEL);
}

static void evaluate_release(void *context)
{
    evaluate_context *c = context;
    assert_int_equal(cosnet_evaluation_total(c->out),
                     c->threads == 1 ? SMALL_COUNT : IMAGE_COUNT);
    cosnet_evaluation_free(c->out);
}

static void test_evaluate(void **state)
{
    (void)state;
    for (unsigned threads = 1; threads <= 2; threads++) {
        evaluate_context c = {threads, NULL};
        subject s = {threads == 1 ? "cosnet_evaluate (1 thread)"
                                  : "cosnet_evaluate (2 threads)",
                     call_evaluate,
                     evaluate_unchanged,
                     evaluate_release,
                     &c,
                     NULL};
        sweep(&s);
    }
}

/* ---- cosnet_set_allocator -------------------------------------------------
 */

static void test_set_allocator(void **state)
{
    (void)state;
    /* Only one function: refused, whatever else holds. */
    assert_int_equal(cosnet_set_allocator(counting_allocate, NULL, NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_true(strlen(cosnet_last_error()) > 0);
    assert_int_equal(cosnet_set_allocator(NULL, counting_release, NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);

    /* The fixture's handles are live: a change is refused, and the message
     * says how many blocks are out. */
    size_t live = atomic_load(&live_blocks);
    assert_true(live > 0);
    assert_int_equal(cosnet_set_allocator(NULL, NULL, NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);
    char count[32];
    snprintf(count, sizeof count, "%zu blocks", live);
    assert_non_null(strstr(cosnet_last_error(), count));

    /* The allocator is really used: refusing every block makes a call fail
     * with OUT_OF_MEMORY and nothing leaked or written. */
    atomic_store(&refuse_all, 1);
    cosnet_model *model = SENTINEL;
    assert_int_equal(cosnet_model_create(COSNET_ARCHITECTURE_SEED, 1, &model),
                     COSNET_ERROR_OUT_OF_MEMORY);
    atomic_store(&refuse_all, 0);
    assert_ptr_equal(model, SENTINEL);
    assert_int_equal(atomic_load(&live_blocks), live);

    /* Every block a call made is counted and given back. */
    assert_int_equal(cosnet_model_create(COSNET_ARCHITECTURE_SEED, 1, &model),
                     COSNET_OK);
    assert_true(atomic_load(&live_blocks) > live);
    cosnet_model_free(model);
    assert_int_equal(atomic_load(&live_blocks), live);
}

/* With nothing live, the allocator can be changed back and forth. Runs
 * after the group's teardown freed the fixture. */
static void test_set_allocator_when_idle(void **state)
{
    (void)state;
    assert_int_equal(atomic_load(&live_blocks), 0);
    assert_int_equal(cosnet_set_allocator(NULL, NULL, NULL), COSNET_OK);
    cosnet_model *model = NULL;
    assert_int_equal(cosnet_model_create(COSNET_ARCHITECTURE_SEED, 1, &model),
                     COSNET_OK);
    /* malloc's block is not counted. */
    assert_int_equal(atomic_load(&live_blocks), 0);
    cosnet_model_free(model);
    assert_int_equal(
        cosnet_set_allocator(counting_allocate, counting_release, NULL),
        COSNET_OK);
    assert_int_equal(cosnet_model_create(COSNET_ARCHITECTURE_SEED, 1, &model),
                     COSNET_OK);
    assert_true(atomic_load(&live_blocks) > 0);
    cosnet_model_free(model);
    assert_int_equal(atomic_load(&live_blocks), 0);
}

/* ---- the honest classifier ----------------------------------------------
 * A small layer list (cheap to train), the trainer, classification, the
 * single-model evaluation and the classifier bundle. */

#define SMALL_NET "conv3x3 2 pad 1, relu, maxpool2x2, flatten, dense 25"

typedef struct handle_context {
    void *out;
    cosnet_model *model;
    cosnet_trainer *trainer;
    float before[2 * 9 + 2 + 25 * 2 * 14 * 14 + 25];
    void *bytes;
    size_t size;
} handle_context;

static size_t small_parameters(const cosnet_model *model)
{
    size_t n = cosnet_model_parameter_count(model);
    assert_true(n <= sizeof((handle_context *)0)->before / sizeof(float));
    return n;
}

static cosnet_status call_create_layers(void *context)
{
    handle_context *c = context;
    c->out = SENTINEL;
    return cosnet_model_create_layers(SMALL_NET, 1, SIDE, SIDE, 3,
                                      (cosnet_model **)&c->out);
}

static void handle_unchanged(void *context)
{
    assert_ptr_equal(((handle_context *)context)->out, SENTINEL);
}

static void layers_model_release(void *context)
{
    cosnet_model_free(((handle_context *)context)->out);
}

/* Training changes the model only on success (every allocation is made
 * before the first step). */
static cosnet_status call_trainer_run(void *context)
{
    handle_context *c = context;
    return cosnet_trainer_run(c->trainer, c->model, f.labels, f.small_dataset);
}

static void trainer_unchanged(void *context)
{
    handle_context *c = context;
    float now[sizeof c->before / sizeof(float)];
    const size_t n = small_parameters(c->model);
    assert_int_equal(cosnet_model_get_parameters(c->model, now, n), COSNET_OK);
    assert_memory_equal(now, c->before, n * sizeof(float));
    /* The trainer keeps the results of the run before the sweep. */
    assert_int_equal(cosnet_trainer_epochs_done(c->trainer), 1);
}

static void trainer_release(void *context)
{
    handle_context *c = context;
    assert_int_equal(cosnet_trainer_epochs_done(c->trainer), 1);
}

static cosnet_status call_trainer_create(void *context)
{
    handle_context *c = context;
    c->out = SENTINEL;
    return cosnet_trainer_create((cosnet_trainer **)&c->out);
}

static void trainer_free_release(void *context)
{
    cosnet_trainer_free(((handle_context *)context)->out);
}

static cosnet_status call_classify(void *context)
{
    handle_context *c = context;
    size_t classes[EPOCH_IMAGES] = {0};
    float similarities[EPOCH_IMAGES];
    c->out = NULL;
    return cosnet_classify(c->model, f.labels, f.images, EPOCH_IMAGES, classes,
                           similarities, NULL, NULL);
}

static cosnet_status call_evaluate_classifier(void *context)
{
    handle_context *c = context;
    c->out = SENTINEL;
    return cosnet_evaluate_classifier(c->model, f.labels, f.small_dataset, 1,
                                      (cosnet_evaluation **)&c->out);
}

static void evaluation_release(void *context)
{
    handle_context *c = context;
    assert_int_equal(cosnet_evaluation_total(c->out), SMALL_COUNT);
    cosnet_evaluation_free(c->out);
}

static void nothing_to_release(void *context)
{
    (void)context;
}

static cosnet_status call_bundle_create(void *context)
{
    handle_context *c = context;
    c->out = SENTINEL;
    return cosnet_classifier_create(c->model, f.labels, NULL,
                                    (cosnet_classifier **)&c->out);
}

static void bundle_release(void *context)
{
    cosnet_classifier_free(((handle_context *)context)->out);
}

static cosnet_status call_bundle_save(void *context)
{
    handle_context *c = context;
    c->bytes = SENTINEL;
    cosnet_status status = cosnet_classifier_save_memory(
        (cosnet_classifier *)c->out, &c->bytes, &c->size);
    return status;
}

static void bundle_save_unchanged(void *context)
{
    assert_ptr_equal(((handle_context *)context)->bytes, SENTINEL);
}

static void bundle_save_release(void *context)
{
    cosnet_free(((handle_context *)context)->bytes);
}

static cosnet_status call_bundle_load(void *context)
{
    handle_context *c = context;
    c->out = SENTINEL;
    return cosnet_classifier_load_memory(c->bytes, c->size,
                                         (cosnet_classifier **)&c->out);
}

static void test_classifier(void **state)
{
    (void)state;
    handle_context c;
    memset(&c, 0, sizeof c);
    subject create = {"cosnet_model_create_layers",
                      call_create_layers,
                      handle_unchanged,
                      layers_model_release,
                      &c,
                      NULL};
    sweep(&create);
    subject trainer_create = {"cosnet_trainer_create",
                              call_trainer_create,
                              handle_unchanged,
                              trainer_free_release,
                              &c,
                              NULL};
    sweep(&trainer_create);

    assert_int_equal(
        cosnet_model_create_layers(SMALL_NET, 1, SIDE, SIDE, 3, &c.model),
        COSNET_OK);
    assert_int_equal(cosnet_model_get_parameters(c.model, c.before,
                                                 small_parameters(c.model)),
                     COSNET_OK);
    assert_int_equal(cosnet_trainer_create(&c.trainer), COSNET_OK);
    assert_int_equal(cosnet_trainer_set(c.trainer, COSNET_TRAINER_EPOCHS, 1),
                     COSNET_OK);
    assert_int_equal(
        cosnet_trainer_set(c.trainer, COSNET_TRAINER_BATCH_SIZE, 10),
        COSNET_OK);
    assert_int_equal(cosnet_trainer_set(c.trainer, COSNET_TRAINER_THREADS, 1),
                     COSNET_OK);
    assert_int_equal(cosnet_trainer_set(c.trainer, COSNET_TRAINER_SHIFT, 1),
                     COSNET_OK);
    /* One run first, so the trainer holds a history: a successful run then
     * replaces it (no block more), a failed one must leave it. */
    assert_int_equal(
        cosnet_trainer_run(c.trainer, c.model, f.labels, f.small_dataset),
        COSNET_OK);
    assert_int_equal(cosnet_model_get_parameters(c.model, c.before,
                                                 small_parameters(c.model)),
                     COSNET_OK);
    subject run = {"cosnet_trainer_run",
                   call_trainer_run,
                   trainer_unchanged,
                   trainer_release,
                   &c,
                   NULL};
    sweep(&run);

    subject classify = {
        "cosnet_classify", call_classify, NULL, nothing_to_release, &c, NULL};
    sweep(&classify);
    subject evaluate = {"cosnet_evaluate_classifier",
                        call_evaluate_classifier,
                        handle_unchanged,
                        evaluation_release,
                        &c,
                        NULL};
    sweep(&evaluate);
    subject bundle = {"cosnet_classifier_create",
                      call_bundle_create,
                      handle_unchanged,
                      bundle_release,
                      &c,
                      NULL};
    sweep(&bundle);

    cosnet_classifier *made = NULL;
    assert_int_equal(cosnet_classifier_create(c.model, f.labels, NULL, &made),
                     COSNET_OK);
    c.out = made;
    subject save = {"cosnet_classifier_save_memory",
                    call_bundle_save,
                    bundle_save_unchanged,
                    bundle_save_release,
                    &c,
                    NULL};
    sweep(&save);
    c.bytes = NULL;
    assert_int_equal(cosnet_classifier_save_memory(made, &c.bytes, &c.size),
                     COSNET_OK);
    subject load = {"cosnet_classifier_load_memory",
                    call_bundle_load,
                    handle_unchanged,
                    bundle_release,
                    &c,
                    NULL};
    sweep(&load);
    cosnet_free(c.bytes);
    cosnet_classifier_free(made);
    cosnet_trainer_free(c.trainer);
    cosnet_model_free(c.model);
}

int main(void)
{
    /* Before any other libcosnet call, so every block is counted. */
    if (cosnet_set_allocator(counting_allocate, counting_release, NULL) !=
        COSNET_OK) {
        fprintf(stderr, "cosnet_set_allocator: %s\n", cosnet_last_error());
        return 1;
    }
    const struct CMUnitTest sweeps[] = {
        cmocka_unit_test(test_dataset_open),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_labels_save),
        cmocka_unit_test(test_model_save),
        cmocka_unit_test(test_models),
        cmocka_unit_test(test_model_memory),
        cmocka_unit_test(test_labels_memory),
        cmocka_unit_test(test_predict),
        cmocka_unit_test(test_optimizer_create),
        cmocka_unit_test(test_training),
        cmocka_unit_test(test_evaluate),
        cmocka_unit_test(test_classifier),
        cmocka_unit_test(test_set_allocator),
    };
    const struct CMUnitTest idle[] = {
        cmocka_unit_test(test_set_allocator_when_idle),
    };
    int failures = cmocka_run_group_tests_name("sweeps", sweeps, group_setup,
                                               group_teardown);
    failures += cmocka_run_group_tests_name("idle", idle, NULL, NULL);
    return failures;
}
