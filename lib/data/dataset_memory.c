/* A dataset from caller memory: pixels and labels copied into the same
 * representation as an opened IDX pair, so every dataset function treats
 * both alike. */
#include <stdint.h>
#include <string.h>

#include "common/error.h"
#include "common/memory.h"
#include "data/dataset_internal.h"

COSNET_API cosnet_status cosnet_dataset_create(
    size_t count, size_t rows, size_t columns, const uint8_t *pixels,
    const uint8_t *labels, unsigned class_count, cosnet_dataset **out)
{
    static const char function[] = "cosnet_dataset_create";
    if (!pixels || !labels || !out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT, "%s: NULL %s", function,
                         !pixels   ? "pixels"
                         : !labels ? "labels"
                                   : "out");
    cosnet_status status = dataset_check_class_count(function, class_count);
    if (status != COSNET_OK)
        return status;
    if (count == 0 || rows == 0 || columns == 0)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "%s: %s is 0 (a dataset holds at least one image of "
                         "at least one pixel)",
                         function,
                         count == 0  ? "count"
                         : rows == 0 ? "rows"
                                     : "columns");
    /* Sizes are checked before any byte is read: impossible sizes fail
     * without touching the buffers. */
    if (rows > SIZE_MAX / columns || count > SIZE_MAX / (rows * columns))
        return error_set(COSNET_ERROR_OVERFLOW,
                         "%s: %zu images of %zu x %zu pixels overflow size_t",
                         function, count, rows, columns);
    const size_t image_bytes = rows * columns;
    const size_t total = count * image_bytes;
    if (total > DATASET_MAX_PIXEL_BYTES)
        return error_set(COSNET_ERROR_OVERFLOW,
                         "%s: %zu images of %zu x %zu pixels are %zu bytes, "
                         "more than the %zu-byte limit for a dataset",
                         function, count, rows, columns, total,
                         (size_t)DATASET_MAX_PIXEL_BYTES);
    for (size_t i = 0; i < count; i++)
        if (labels[i] >= class_count)
            return error_set(COSNET_ERROR_OUT_OF_RANGE,
                             "%s: labels[%zu] = %u is not below class_count "
                             "%u",
                             function, i, (unsigned)labels[i], class_count);

    cosnet_dataset *dataset = memory_allocate_zeroed(1, sizeof *dataset);
    if (!dataset)
        return error_out_of_memory("dataset", sizeof *dataset);
    dataset->pixel_storage = memory_allocate(total);
    dataset->label_storage =
        dataset->pixel_storage ? memory_allocate(count) : NULL;
    if (!dataset->label_storage) {
        status = error_out_of_memory(dataset->pixel_storage ? "dataset labels"
                                                            : "dataset pixels",
                                     dataset->pixel_storage ? count : total);
        cosnet_dataset_free(dataset);
        return status;
    }
    memcpy(dataset->pixel_storage, pixels, total);
    memcpy(dataset->label_storage, labels, count);
    dataset->pixels = dataset->pixel_storage;
    dataset->labels = dataset->label_storage;
    dataset->count = count;
    dataset->rows = rows;
    dataset->columns = columns;
    dataset->image_bytes = image_bytes;
    dataset->class_count = class_count;
    dataset_count_classes(dataset); /* every label was checked above */
    *out = dataset;
    return COSNET_OK;
}
