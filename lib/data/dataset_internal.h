/* Internal: the dataset handle, shared by its two constructors
 * (cosnet_dataset_open in dataset.c reads IDX files; cosnet_dataset_create
 * in dataset_memory.c copies caller buffers). Both end with the same
 * representation, so every other dataset function serves both alike. */
#ifndef COSNET_DATA_DATASET_INTERNAL_H
#define COSNET_DATA_DATASET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cosnet.h"
#include "data/idx.h"

#define DATASET_MAX_CLASS_COUNT 256

/* The most pixel bytes a dataset holds, whichever constructor made it:
 * the IDX reader's file limit. */
#define DATASET_MAX_PIXEL_BYTES IDX_MAX_FILE_BYTES

struct cosnet_dataset {
    /* Owned blocks (memory_allocate) that hold the pixels and the labels:
     * an IDX file's whole contents, header included, or a copy of the
     * caller's buffer. */
    uint8_t *pixel_storage, *label_storage;
    const uint8_t *pixels; /* count x rows x columns bytes */
    const uint8_t *labels; /* count bytes, each < class_count */
    size_t count, rows, columns;
    size_t image_bytes; /* rows * columns */
    unsigned class_count;
    size_t class_sizes[DATASET_MAX_CLASS_COUNT];
};

/* INVALID_ARGUMENT (message naming `function`) unless class_count is in
 * 1..DATASET_MAX_CLASS_COUNT; else COSNET_OK. */
cosnet_status dataset_check_class_count(const char *function,
                                        unsigned class_count);

/* Fills dataset->class_sizes from its labels. Returns dataset->count when
 * every label is below class_count, else the index of the first that is
 * not (class_sizes is then incomplete). */
size_t dataset_count_classes(cosnet_dataset *dataset);

#endif
