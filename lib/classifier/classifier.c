/* The classifier bundle: everything needed to classify -- the network, its
 * label set and its class names -- in one handle and one file.
 *
 * File layout (version 1), all little-endian:
 *   offset 0   8 bytes  magic "COSNETCL"
 *          8   u32      format version (1)
 *         12   u32      class count K (1..256)
 *         16   u32      label dimension D
 *         20   K x D f32  the label vectors
 *         then K x (u32 length 0..255, that many UTF-8 bytes) class names
 *         then u32 M, then M bytes: the model in its own file format
 *              (cosnet_model_save_memory, with its own CRC)
 *         then u32 CRC-32 (zlib) of every byte before it
 * Loading validates each part with the same rules as the model and label
 * set loaders. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/bytes.h"
#include "common/error.h"
#include "common/file_reader.h"
#include "common/file_writer.h"
#include "common/memory.h"
#include "network/model_internal.h"

#define CLASSIFIER_MAGIC "COSNETCL"
#define CLASSIFIER_VERSION 1u
#define CLASSIFIER_MAX_CLASSES 256
#define CLASSIFIER_MAX_NAME 255
/* Files are read whole, up to this. */
#define CLASSIFIER_MAX_FILE_SIZE ((size_t)1 << 31)

struct cosnet_classifier {
    cosnet_model *model;
    cosnet_labels *labels;
    char *names[CLASSIFIER_MAX_CLASSES]; /* NUL-terminated, owned */
};

COSNET_API void cosnet_classifier_free(cosnet_classifier *classifier)
{
    if (!classifier)
        return;
    cosnet_model_free(classifier->model);
    cosnet_labels_free(classifier->labels);
    for (size_t k = 0; k < CLASSIFIER_MAX_CLASSES; k++)
        memory_free(classifier->names[k]);
    memory_free(classifier);
}

static cosnet_status copy_name(const char *name, size_t length, char **out)
{
    char *copy = memory_allocate(length + 1);
    if (!copy)
        return error_out_of_memory("class name", length + 1);
    memcpy(copy, name, length);
    copy[length] = '\0';
    *out = copy;
    return COSNET_OK;
}

/* Takes model and labels (owned from here on, freed on failure). */
static cosnet_status assemble(cosnet_model *model, cosnet_labels *labels,
                              const char *const *names,
                              const size_t *name_lengths,
                              cosnet_classifier **out)
{
    cosnet_classifier *c = memory_allocate_zeroed(1, sizeof *c);
    if (!c) {
        cosnet_model_free(model);
        cosnet_labels_free(labels);
        return error_out_of_memory("classifier", sizeof *c);
    }
    c->model = model;
    c->labels = labels;
    const size_t count = cosnet_labels_count(labels);
    for (size_t k = 0; k < count; k++) {
        char number[24];
        const char *name = names ? names[k] : NULL;
        size_t length = name ? name_lengths[k] : 0;
        if (!name) {
            snprintf(number, sizeof number, "%zu", k);
            name = number;
            length = strlen(number);
        }
        cosnet_status status = copy_name(name, length, &c->names[k]);
        if (status != COSNET_OK) {
            cosnet_classifier_free(c);
            return status;
        }
    }
    *out = c;
    return COSNET_OK;
}

COSNET_API cosnet_status cosnet_classifier_create(
    const cosnet_model *model, const cosnet_labels *labels,
    const char *const *class_names, cosnet_classifier **out)
{
    if (!model || !labels || !out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_classifier_create: %s is NULL",
                         !model    ? "model"
                         : !labels ? "labels"
                                   : "out");
    const size_t count = cosnet_labels_count(labels);
    if (count > CLASSIFIER_MAX_CLASSES)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_classifier_create: %zu classes, at most %d",
                         count, CLASSIFIER_MAX_CLASSES);
    if (cosnet_labels_dims(labels) != cosnet_model_output_dims(model))
        return error_set(COSNET_ERROR_MISMATCH,
                         "cosnet_classifier_create: the model has %zu outputs "
                         "but the label vectors have %zu dimensions",
                         cosnet_model_output_dims(model),
                         cosnet_labels_dims(labels));
    size_t lengths[CLASSIFIER_MAX_CLASSES];
    for (size_t k = 0; class_names && k < count; k++) {
        if (!class_names[k])
            return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                             "cosnet_classifier_create: class name %zu is "
                             "NULL",
                             k);
        lengths[k] = strlen(class_names[k]);
        if (lengths[k] > CLASSIFIER_MAX_NAME)
            return error_set(COSNET_ERROR_OUT_OF_RANGE,
                             "cosnet_classifier_create: class name %zu has "
                             "%zu bytes, at most %d",
                             k, lengths[k], CLASSIFIER_MAX_NAME);
    }
    cosnet_model *model_copy = NULL;
    cosnet_labels *labels_copy = NULL;
    cosnet_status status = cosnet_model_copy(model, &model_copy);
    if (status == COSNET_OK)
        status =
            cosnet_labels_create(count, cosnet_labels_dims(labels),
                                 cosnet_labels_vector(labels, 0), &labels_copy);
    if (status != COSNET_OK) {
        cosnet_model_free(model_copy);
        return status;
    }
    return assemble(model_copy, labels_copy, class_names, lengths, out);
}

COSNET_API const cosnet_model *
cosnet_classifier_model(const cosnet_classifier *classifier)
{
    return classifier ? classifier->model : NULL;
}

COSNET_API const cosnet_labels *
cosnet_classifier_labels(const cosnet_classifier *classifier)
{
    return classifier ? classifier->labels : NULL;
}

COSNET_API const char *
cosnet_classifier_class_name(const cosnet_classifier *classifier, size_t index)
{
    if (!classifier || index >= cosnet_labels_count(classifier->labels))
        return NULL;
    return classifier->names[index];
}

/* ---- Bytes -------------------------------------------------------------- */

COSNET_API cosnet_status cosnet_classifier_save_memory(
    const cosnet_classifier *classifier, void **data_out, size_t *size_out)
{
    if (!classifier || !data_out || !size_out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_classifier_save_memory: %s is NULL",
                         !classifier ? "classifier"
                         : !data_out ? "data_out"
                                     : "size_out");
    void *model_bytes = NULL;
    size_t model_size = 0;
    cosnet_status status =
        cosnet_model_save_memory(classifier->model, &model_bytes, &model_size);
    if (status != COSNET_OK)
        return status;
    const size_t count = cosnet_labels_count(classifier->labels);
    const size_t dims = cosnet_labels_dims(classifier->labels);
    size_t size = 20 + 4 * count * dims + 4 + model_size + 4;
    for (size_t k = 0; k < count; k++)
        size += 4 + strlen(classifier->names[k]);
    unsigned char *bytes = memory_allocate(size);
    if (!bytes) {
        memory_free(model_bytes);
        return error_out_of_memory("classifier bytes", size);
    }
    unsigned char *at = bytes;
    memcpy(at, CLASSIFIER_MAGIC, 8);
    bytes_put_u32(at + 8, CLASSIFIER_VERSION);
    bytes_put_u32(at + 12, (uint32_t)count);
    bytes_put_u32(at + 16, (uint32_t)dims);
    at += 20;
    const float *values = cosnet_labels_vector(classifier->labels, 0);
    for (size_t i = 0; i < count * dims; i++, at += 4) {
        uint32_t bits;
        memcpy(&bits, &values[i], 4);
        bytes_put_u32(at, bits);
    }
    for (size_t k = 0; k < count; k++) {
        size_t length = strlen(classifier->names[k]);
        bytes_put_u32(at, (uint32_t)length);
        memcpy(at + 4, classifier->names[k], length);
        at += 4 + length;
    }
    bytes_put_u32(at, (uint32_t)model_size);
    memcpy(at + 4, model_bytes, model_size);
    at += 4 + model_size;
    bytes_put_u32(at, bytes_crc32(bytes, size - 4));
    memory_free(model_bytes);
    *data_out = bytes;
    *size_out = size;
    return COSNET_OK;
}

COSNET_API cosnet_status
cosnet_classifier_save(const cosnet_classifier *classifier, const char *path)
{
    if (!classifier || !path)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_classifier_save: %s is NULL",
                         !classifier ? "classifier" : "path");
    void *bytes = NULL;
    size_t size = 0;
    cosnet_status status =
        cosnet_classifier_save_memory(classifier, &bytes, &size);
    if (status != COSNET_OK)
        return status;
    status = file_write_atomic(path, bytes, size);
    memory_free(bytes);
    return status;
}

/* Reads `n` bytes at *at, or reports where the data ended. */
static cosnet_status need(const unsigned char *start, size_t size,
                          const unsigned char *at, size_t n, const char *name,
                          const char *what)
{
    size_t offset = (size_t)(at - start);
    if (offset > size || n > size - offset)
        return error_set(COSNET_ERROR_TRUNCATED,
                         "%s: truncated at byte %zu: %s needs %zu more bytes",
                         name, size, what, n - (size - offset));
    return COSNET_OK;
}

static cosnet_status load_bytes(const unsigned char *bytes, size_t size,
                                const char *name, cosnet_classifier **out)
{
    const size_t magic = size < 8 ? size : 8;
    if (memcmp(bytes, CLASSIFIER_MAGIC, magic) != 0)
        return error_set(COSNET_ERROR_BAD_MAGIC,
                         "%s: not a libcosnet classifier (expected the magic "
                         "\"" CLASSIFIER_MAGIC "\")",
                         name);
    const unsigned char *at = bytes;
    cosnet_status status = need(bytes, size, at, 20, name, "the header");
    if (status != COSNET_OK)
        return status;
    uint32_t version = bytes_get_u32(at + 8);
    if (version != CLASSIFIER_VERSION)
        return error_set(COSNET_ERROR_VERSION,
                         "%s: classifier format version %u at byte 8, this "
                         "library reads version %u",
                         name, (unsigned)version, CLASSIFIER_VERSION);
    const uint32_t count = bytes_get_u32(at + 12),
                   dims = bytes_get_u32(at + 16);
    if (count < 1 || count > CLASSIFIER_MAX_CLASSES || dims < 1 ||
        dims > ARCHITECTURE_MAX_FEATURES)
        return error_set(COSNET_ERROR_BAD_FORMAT,
                         "%s: %u classes of %u dimensions at byte 12 (1..%d "
                         "classes, 1..%u dimensions)",
                         name, (unsigned)count, (unsigned)dims,
                         CLASSIFIER_MAX_CLASSES,
                         (unsigned)ARCHITECTURE_MAX_FEATURES);
    at += 20;
    /* Everything but the final CRC is parsed: its 4 bytes are not data. */
    status = need(bytes, size - 4, at, 4 * (size_t)count * dims, name,
                  "the label vectors");
    if (status != COSNET_OK)
        return status;
    /* The CRC covers everything: check it before trusting any length. */
    if (size < 24 ||
        bytes_get_u32(bytes + size - 4) != bytes_crc32(bytes, size - 4))
        return error_set(COSNET_ERROR_CORRUPT,
                         "%s: CRC-32 mismatch over the %zu bytes", name, size);
    float *values = memory_allocate(4 * (size_t)count * dims);
    if (!values)
        return error_out_of_memory("classifier labels", 4 * count * dims);
    for (size_t i = 0; i < (size_t)count * dims; i++, at += 4) {
        uint32_t bits = bytes_get_u32(at);
        memcpy(&values[i], &bits, 4);
    }
    cosnet_labels *labels = NULL;
    status = cosnet_labels_create(count, dims, values, &labels);
    memory_free(values);
    if (status != COSNET_OK) {
        char message[512];
        snprintf(message, sizeof message, "%s", cosnet_last_error());
        return error_set(status, "%s: label vectors: %s", name, message);
    }
    const char *names[CLASSIFIER_MAX_CLASSES];
    size_t lengths[CLASSIFIER_MAX_CLASSES];
    for (uint32_t k = 0; k < count && status == COSNET_OK; k++) {
        status = need(bytes, size - 4, at, 4, name, "a class name");
        if (status != COSNET_OK)
            break;
        lengths[k] = bytes_get_u32(at);
        if (lengths[k] > CLASSIFIER_MAX_NAME) {
            status = error_set(COSNET_ERROR_BAD_FORMAT,
                               "%s: class name %u has %zu bytes at byte %zu "
                               "(at most %d)",
                               name, (unsigned)k, lengths[k],
                               (size_t)(at - bytes), CLASSIFIER_MAX_NAME);
            break;
        }
        status =
            need(bytes, size - 4, at + 4, lengths[k], name, "a class name");
        if (status == COSNET_OK && memchr(at + 4, 0, lengths[k]))
            status = error_set(COSNET_ERROR_BAD_FORMAT,
                               "%s: class name %u holds a NUL byte", name,
                               (unsigned)k);
        names[k] = (const char *)at + 4;
        at += 4 + lengths[k];
    }
    if (status == COSNET_OK)
        status = need(bytes, size - 4, at, 4, name, "the model size");
    size_t model_size = status == COSNET_OK ? bytes_get_u32(at) : 0;
    if (status == COSNET_OK)
        status = need(bytes, size - 4, at + 4, model_size, name, "the model");
    if (status == COSNET_OK &&
        (size_t)(at + 4 + model_size - bytes) != size - 4)
        status =
            error_set(COSNET_ERROR_MISMATCH,
                      "%s: %zu bytes after the model, expected only the "
                      "CRC",
                      name, size - 4 - (size_t)(at + 4 + model_size - bytes));
    cosnet_model *model = NULL;
    if (status == COSNET_OK) {
        status = cosnet_model_load_memory(at + 4, model_size, &model);
        if (status != COSNET_OK) {
            char message[512];
            snprintf(message, sizeof message, "%s", cosnet_last_error());
            status = error_set(status, "%s: the model: %s", name, message);
        }
    }
    if (status == COSNET_OK && cosnet_model_output_dims(model) != dims)
        status =
            error_set(COSNET_ERROR_MISMATCH,
                      "%s: the model has %zu outputs but the label "
                      "vectors have %u dimensions",
                      name, cosnet_model_output_dims(model), (unsigned)dims);
    if (status != COSNET_OK) {
        cosnet_model_free(model);
        cosnet_labels_free(labels);
        return status;
    }
    return assemble(model, labels, names, lengths, out);
}

COSNET_API cosnet_status cosnet_classifier_load_memory(const void *data,
                                                       size_t size,
                                                       cosnet_classifier **out)
{
    if (!data || !out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_classifier_load_memory: %s is NULL",
                         !data ? "data" : "out");
    return load_bytes(data, size, "<memory>", out);
}

COSNET_API cosnet_status cosnet_classifier_load(const char *path,
                                                cosnet_classifier **out)
{
    if (!path || !out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_classifier_load: %s is NULL",
                         !path ? "path" : "out");
    unsigned char *bytes = NULL;
    size_t size = 0;
    cosnet_status status =
        file_read_whole(path, CLASSIFIER_MAX_FILE_SIZE, &bytes, &size);
    if (status != COSNET_OK)
        return status;
    status = load_bytes(bytes, size, path, out);
    memory_free(bytes);
    return status;
}
