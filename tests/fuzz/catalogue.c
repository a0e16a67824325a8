/* Prints, for bad inputs the fuzz seeds do not already show, the status
 * and message the library gives: the source of the example messages in
 * docs/reliability.md (the seed corpus, replayed with
 * COSNET_FUZZ_VERBOSE=1, gives the rest). Not a test: the unit tests named
 * in the catalogue check these cases. Usage: catalogue (writes its files
 * in a fresh folder under /tmp and removes them). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "cosnet.h"

static char folder[64];

static void release(void *user_data, void *memory)
{
    (void)user_data;
    free(memory);
}

static void show(const char *what, cosnet_status status)
{
    printf("%-44s %-22s %s\n", what, cosnet_strerror(status),
           status == COSNET_OK ? "" : cosnet_last_error());
}

static void path_of(const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", folder, name);
}

static void write_bytes(const char *name, const void *bytes, size_t size,
                        int gzip)
{
    char path[128];
    path_of(name, path, sizeof path);
    if (gzip) {
        gzFile file = gzopen(path, "wb");
        gzwrite(file, bytes, (unsigned)size);
        gzclose(file);
        return;
    }
    FILE *file = fopen(path, "wb");
    if (size)
        fwrite(bytes, 1, size, file);
    fclose(file);
}

static void put_be32(unsigned char *at, uint32_t value)
{
    at[0] = (unsigned char)(value >> 24);
    at[1] = (unsigned char)(value >> 16);
    at[2] = (unsigned char)(value >> 8);
    at[3] = (unsigned char)value;
}

static cosnet_status open_pair(const char *images, const char *labels,
                               unsigned classes)
{
    char images_path[128], labels_path[128];
    path_of(images, images_path, sizeof images_path);
    path_of(labels, labels_path, sizeof labels_path);
    cosnet_dataset *dataset = NULL;
    cosnet_status status =
        cosnet_dataset_open(images_path, labels_path, classes, &dataset);
    cosnet_dataset_free(dataset);
    return status;
}

static cosnet_status open_dev_zero(void)
{
    char labels_path[128];
    path_of("labels", labels_path, sizeof labels_path);
    cosnet_dataset *dataset = NULL;
    cosnet_status status =
        cosnet_dataset_open("/dev/zero", labels_path, 3, &dataset);
    cosnet_dataset_free(dataset);
    return status;
}

static void idx_cases(void)
{
    unsigned char images[16 + 3 * 4], labels[8 + 3];
    put_be32(images, 0x803);
    put_be32(images + 4, 3);
    put_be32(images + 8, 2);
    put_be32(images + 12, 2);
    memset(images + 16, 7, 12);
    put_be32(labels, 0x801);
    put_be32(labels + 4, 3);
    labels[8] = 0, labels[9] = 1, labels[10] = 2;
    write_bytes("labels", labels, sizeof labels, 0);
    write_bytes("images", images, sizeof images, 0);
    show("IDX: missing file", open_pair("missing", "labels", 3));
    show("IDX: a folder", open_pair(".", "labels", 3));
    unsigned char bad[sizeof images];
    memcpy(bad, images, sizeof images);
    bad[0] = 0x1f, bad[1] = 0x8c;
    write_bytes("bad", bad, sizeof bad, 0);
    show("IDX: bad magic", open_pair("bad", "labels", 3));
    unsigned char zero_labels[8];
    put_be32(zero_labels, 0x801);
    put_be32(zero_labels + 4, 0);
    write_bytes("bad-labels", zero_labels, sizeof zero_labels, 0);
    show("IDX: 0 labels", open_pair("images", "bad-labels", 3));

    /* gzip damage */
    size_t big_size = 16 + 200 * 28 * 28;
    unsigned char *big = malloc(big_size);
    put_be32(big, 0x803);
    put_be32(big + 4, 200);
    put_be32(big + 8, 28);
    put_be32(big + 12, 28);
    uint32_t x = 12345;
    for (size_t i = 16; i < big_size; i++) {
        x = x * 1103515245u + 12345u;
        big[i] = (unsigned char)(((x >> 16) & 7) * 32);
    }
    unsigned char *labels_200 = calloc(1, 208);
    put_be32(labels_200, 0x801);
    put_be32(labels_200 + 4, 200);
    write_bytes("labels-200", labels_200, 208, 0);
    write_bytes("big.gz", big, big_size, 1);
    char path[128];
    path_of("big.gz", path, sizeof path);
    FILE *file = fopen(path, "rb");
    static unsigned char gz[400000];
    size_t gz_size = fread(gz, 1, sizeof gz, file);
    fclose(file);
    unsigned char *damaged = malloc(gz_size + 3);
    memcpy(damaged, gz, gz_size);
    for (size_t i = gz_size / 2; i < gz_size / 2 + 16; i++)
        damaged[i] ^= 0xa5;
    write_bytes("damaged.gz", damaged, gz_size, 0);
    show("gzip: corrupt deflate data",
         open_pair("damaged.gz", "labels-200", 10));
    memcpy(damaged, gz, gz_size);
    damaged[gz_size - 6] ^= 1;
    write_bytes("damaged.gz", damaged, gz_size, 0);
    show("gzip: CRC-32 mismatch", open_pair("damaged.gz", "labels-200", 10));
    memcpy(damaged, gz, gz_size);
    damaged[gz_size - 1] ^= 0x40;
    write_bytes("damaged.gz", damaged, gz_size, 0);
    show("gzip: ISIZE mismatch", open_pair("damaged.gz", "labels-200", 10));
    memcpy(damaged, gz, gz_size);
    damaged[2] = 9;
    write_bytes("damaged.gz", damaged, gz_size, 0);
    show("gzip: unknown method", open_pair("damaged.gz", "labels-200", 10));
    memcpy(damaged, gz, gz_size);
    memcpy(damaged + gz_size, "xyz", 3);
    write_bytes("damaged.gz", damaged, gz_size + 3, 0);
    show("gzip: junk after the stream",
         open_pair("damaged.gz", "labels-200", 10));
    write_bytes("damaged.gz", gz, gz_size - 8, 0);
    show("gzip: trailer missing", open_pair("damaged.gz", "labels-200", 10));
    free(damaged);
    free(big);
    free(labels_200);

    /* over the 1 GiB limit, gzip */
    unsigned char huge[16];
    put_be32(huge, 0x803);
    put_be32(huge + 4, 2048);
    put_be32(huge + 8, 1024);
    put_be32(huge + 12, 1024);
    write_bytes("huge.gz", huge, sizeof huge, 1);
    show("IDX: declared size over the limit",
         open_pair("huge.gz", "labels", 3));
    show("IDX: /dev/zero as images", open_dev_zero());
}

static void labels_cases(void)
{
    char path[128];
    path_of("missing.txt", path, sizeof path);
    cosnet_labels *labels = NULL;
    show("labels: missing file", cosnet_labels_load(path, &labels));
    show("labels_load: NULL out", cosnet_labels_load(path, NULL));
    show("labels_generate: count 0",
         cosnet_labels_generate(0, 25, 0.5, 1, 0, &labels));
    show("labels_generate: threshold NaN",
         cosnet_labels_generate(10, 25, NAN, 1, 0, &labels));
    show("labels_generate: too few draws",
         cosnet_labels_generate(10, 25, 0.5, 1, 1000, &labels));
    float values[4] = {1, NAN, 0, 0};
    show("labels_create: NaN value",
         cosnet_labels_create(2, 2, values, &labels));
    values[1] = 0;
    show("labels_create: all-zero row",
         cosnet_labels_create(2, 2, values, &labels));
    cosnet_labels *builtin = NULL;
    cosnet_labels_builtin(&builtin);
    show("labels_save: folder missing",
         cosnet_labels_save(builtin, "/nonexistent-folder/labels.txt"));
    cosnet_labels_free(builtin);
}

static void model_cases(void)
{
    cosnet_model *model = NULL;
    show("model_create: unknown architecture",
         cosnet_model_create((cosnet_architecture)42, 1, &model));
    cosnet_model_create(COSNET_ARCHITECTURE_SEED, 1, &model);
    float parameters[1393];
    show("model_set_parameters: wrong count",
         cosnet_model_set_parameters(model, parameters, 1000));
    cosnet_model_get_parameters(model, parameters, 1393);
    parameters[5] = INFINITY;
    show("model_set_parameters: infinity",
         cosnet_model_set_parameters(model, parameters, 1393));
    show("model_save: folder missing",
         cosnet_model_save(model, "/nonexistent-folder/model"));
    show("model_load: missing file",
         cosnet_model_load("/nonexistent-folder/model", &model));

    cosnet_optimizer *optimizer = NULL;
    cosnet_optimizer_create(model, &optimizer);
    show("optimizer_set: beta1 = 1",
         cosnet_optimizer_set(optimizer, COSNET_OPTIMIZER_BETA1, 1.0));
    show("optimizer_set: negative learning rate",
         cosnet_optimizer_set(optimizer, COSNET_OPTIMIZER_LEARNING_RATE, -1));
    static float images[8 * 784], targets[25];
    for (int i = 0; i < 25; i++)
        targets[i] = 0.2f;
    show("train_epoch: n not a multiple of batch",
         cosnet_train_epoch(model, optimizer, images, 7, 2, targets, 0, 1, NULL,
                            NULL, NULL));
    images[3] = NAN;
    show("train_batch: NaN pixel",
         cosnet_train_batch(model, optimizer, images, 2, targets, 0, NULL));
    images[3] = 0;
    show("train_batch: NULL images",
         cosnet_train_batch(model, optimizer, NULL, 2, targets, 0, NULL));
    cosnet_optimizer_free(optimizer);

    cosnet_labels *labels = NULL;
    cosnet_labels_builtin(&labels);
    const cosnet_model *models[2] = {model, model};
    cosnet_evaluation *evaluation = NULL;
    show("evaluate: NULL dataset",
         cosnet_evaluate(models, 2, labels, NULL, 1, &evaluation));
    cosnet_labels_free(labels);
    cosnet_model_free(model);
}

int main(void)
{
    snprintf(folder, sizeof folder, "/tmp/cosnet-catalogue-XXXXXX");
    if (!mkdtemp(folder))
        return 1;
    printf("%-44s %-22s %s\n", "case", "status", "message");
    idx_cases();
    labels_cases();
    model_cases();
    cosnet_dataset *dataset = NULL;
    show("dataset_open: class_count 0",
         cosnet_dataset_open("a", "b", 0, &dataset));
    show("dataset_open: NULL images path",
         cosnet_dataset_open(NULL, "b", 10, &dataset));
    show("set_allocator: one function only",
         cosnet_set_allocator(NULL, release, NULL));
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", folder);
    return system(command) == 0 ? 0 : 1;
}
