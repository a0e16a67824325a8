/* The dataset handle: an images file and a labels file, read whole, checked,
 * and kept in memory as bytes; and every function that reads a dataset,
 * whichever constructor made it (dataset_memory.c is the other). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/memory.h"
#include "common/error.h"
#include "common/rng.h"
#include "data/dataset_internal.h"
#include "data/idx.h"

cosnet_status dataset_check_class_count(const char *function,
                                        unsigned class_count)
{
    if (class_count == 0 || class_count > DATASET_MAX_CLASS_COUNT)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "%s: class_count %u is not in 1..%d", function,
                         class_count, DATASET_MAX_CLASS_COUNT);
    return COSNET_OK;
}

size_t dataset_count_classes(cosnet_dataset *dataset)
{
    memset(dataset->class_sizes, 0, sizeof dataset->class_sizes);
    for (size_t i = 0; i < dataset->count; i++) {
        const unsigned label = dataset->labels[i];
        if (label >= dataset->class_count)
            return i;
        dataset->class_sizes[label]++;
    }
    return dataset->count;
}

COSNET_API cosnet_status cosnet_dataset_open(const char *images_path,
                                             const char *labels_path,
                                             unsigned class_count,
                                             cosnet_dataset **out)
{
    if (!images_path || !labels_path || !out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_dataset_open: NULL %s",
                         !images_path   ? "images_path"
                         : !labels_path ? "labels_path"
                                        : "out");
    cosnet_status status =
        dataset_check_class_count("cosnet_dataset_open", class_count);
    if (status != COSNET_OK)
        return status;

    cosnet_dataset *dataset = memory_allocate_zeroed(1, sizeof *dataset);
    if (!dataset)
        return error_out_of_memory("dataset", sizeof *dataset);
    idx_contents images = {0}, labels = {0};
    status = idx_load(images_path, 3, &images);
    if (status == COSNET_OK)
        status = idx_load(labels_path, 1, &labels);
    /* The dataset owns both files' storage from here on. */
    dataset->pixel_storage = images.storage;
    dataset->pixels = images.data;
    dataset->label_storage = labels.storage;
    dataset->labels = labels.data;
    if (status != COSNET_OK) {
        cosnet_dataset_free(dataset);
        return status;
    }

    if (images.layout.dimensions[0] != labels.layout.dimensions[0]) {
        status = error_set(COSNET_ERROR_MISMATCH,
                           "%s has %zu images but %s has %zu labels",
                           images_path, images.layout.dimensions[0],
                           labels_path, labels.layout.dimensions[0]);
        cosnet_dataset_free(dataset);
        return status;
    }
    dataset->count = images.layout.dimensions[0];
    dataset->rows = images.layout.dimensions[1];
    dataset->columns = images.layout.dimensions[2];
    dataset->image_bytes = dataset->rows * dataset->columns;
    dataset->class_count = class_count;

    const size_t bad = dataset_count_classes(dataset);
    if (bad < dataset->count) {
        status = error_set(COSNET_ERROR_OUT_OF_RANGE,
                           "%s: label %u at index %zu (byte offset %zu) "
                           "is not below class_count %u",
                           labels_path, (unsigned)dataset->labels[bad], bad,
                           labels.layout.header_bytes + bad, class_count);
        cosnet_dataset_free(dataset);
        return status;
    }
    *out = dataset;
    return COSNET_OK;
}

COSNET_API void cosnet_dataset_free(cosnet_dataset *dataset)
{
    if (!dataset)
        return;
    memory_free(dataset->pixel_storage);
    memory_free(dataset->label_storage);
    memory_free(dataset);
}

COSNET_API size_t cosnet_dataset_count(const cosnet_dataset *dataset)
{
    return dataset ? dataset->count : 0;
}

COSNET_API size_t cosnet_dataset_rows(const cosnet_dataset *dataset)
{
    return dataset ? dataset->rows : 0;
}

COSNET_API size_t cosnet_dataset_columns(const cosnet_dataset *dataset)
{
    return dataset ? dataset->columns : 0;
}

COSNET_API unsigned cosnet_dataset_class_count(const cosnet_dataset *dataset)
{
    return dataset ? dataset->class_count : 0;
}

COSNET_API const uint8_t *cosnet_dataset_image(const cosnet_dataset *dataset,
                                               size_t index)
{
    if (!dataset || index >= dataset->count)
        return NULL;
    return dataset->pixels + index * dataset->image_bytes;
}

COSNET_API int cosnet_dataset_label(const cosnet_dataset *dataset, size_t index)
{
    if (!dataset || index >= dataset->count)
        return -1;
    return dataset->labels[index];
}

/* pixel / 255 for every byte value, computed by division so that each entry
 * is the correctly rounded quotient (51 gives exactly 0.2f). */
static void fill_pixel_table(float table[256])
{
    for (int value = 0; value < 256; value++)
        table[value] = (float)value / 255.0f;
}

static void convert_image(const float table[256], const uint8_t *pixels,
                          size_t size, float *out)
{
    for (size_t i = 0; i < size; i++)
        out[i] = table[pixels[i]];
}

COSNET_API cosnet_status cosnet_dataset_to_float(const cosnet_dataset *dataset,
                                                 size_t first, size_t count,
                                                 float *out)
{
    if (!dataset || !out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_dataset_to_float: NULL %s",
                         !dataset ? "dataset" : "out");
    if (first > dataset->count || count > dataset->count - first)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_dataset_to_float: images [%zu, %zu + %zu) "
                         "run past the end of the dataset (%zu images)",
                         first, first, count, dataset->count);
    float table[256];
    fill_pixel_table(table);
    /* count * image_bytes <= the pixel buffer's size, so it cannot
     * overflow. */
    convert_image(table, dataset->pixels + first * dataset->image_bytes,
                  count * dataset->image_bytes, out);
    return COSNET_OK;
}

COSNET_API cosnet_status
cosnet_dataset_gather_float(const cosnet_dataset *dataset,
                            const size_t *indices, size_t count, float *out)
{
    if (!dataset || !indices || !out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_dataset_gather_float: NULL %s",
                         !dataset   ? "dataset"
                         : !indices ? "indices"
                                    : "out");
    /* Check every index before writing anything, so a failure leaves out
     * untouched. */
    for (size_t i = 0; i < count; i++)
        if (indices[i] >= dataset->count)
            return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                             "cosnet_dataset_gather_float: indices[%zu] = "
                             "%zu is out of range (%zu images)",
                             i, indices[i], dataset->count);
    float table[256];
    fill_pixel_table(table);
    for (size_t i = 0; i < count; i++)
        convert_image(table,
                      dataset->pixels + indices[i] * dataset->image_bytes,
                      dataset->image_bytes, out + i * dataset->image_bytes);
    return COSNET_OK;
}

COSNET_API size_t cosnet_dataset_class_size(const cosnet_dataset *dataset,
                                            unsigned label)
{
    if (!dataset || label >= dataset->class_count)
        return 0;
    return dataset->class_sizes[label];
}

COSNET_API cosnet_status
cosnet_dataset_class_subset(const cosnet_dataset *dataset, unsigned label,
                            size_t count, uint64_t seed, size_t *indices_out)
{
    if (!dataset || !indices_out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_dataset_class_subset: NULL %s",
                         !dataset ? "dataset" : "indices_out");
    if (count == 0)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_dataset_class_subset: count is 0");
    if (label >= dataset->class_count)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_dataset_class_subset: label %u is not below "
                         "class_count %u",
                         label, dataset->class_count);
    size_t available = dataset->class_sizes[label];
    if (available < count)
        return error_set(COSNET_ERROR_NOT_ENOUGH_DATA,
                         "cosnet_dataset_class_subset: %zu images requested "
                         "with label %u but the dataset has only %zu",
                         count, label, available);

    size_t *members = memory_allocate(available * sizeof *members);
    if (!members)
        return error_out_of_memory("class subset indices",
                                   available * sizeof *members);
    size_t found = 0;
    for (size_t i = 0; i < dataset->count; i++)
        if (dataset->labels[i] == label)
            members[found++] = i;

    /* The whole class is shuffled (not just the first `count` draws), so a
     * smaller subset is always a prefix of a larger one with the same
     * seed. */
    random_generator generator;
    random_seed(&generator, seed);
    for (size_t i = available - 1; i > 0; i--) {
        size_t j = (size_t)random_below(&generator, (uint64_t)i + 1);
        size_t swap = members[i];
        members[i] = members[j];
        members[j] = swap;
    }
    memcpy(indices_out, members, count * sizeof *members);
    memory_free(members);
    return COSNET_OK;
}
