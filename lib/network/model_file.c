/* Model files and buffers. Layout, all little-endian, written byte by byte
 * so the bytes are the same on every host.
 *
 * Format version 2 (written):
 *   offset  0  8 bytes  magic "COSNETMD"
 *           8  u32      format version (2)
 *          12  u32      architecture (cosnet_architecture; 0 = custom)
 *          16  u32      output dimension
 *          20  u32      parameter count P
 *          24  u32 x 3  input channels, rows, columns
 *          36  u32      layer count L (1..32)
 *          40  L x 3 u32  each layer: kind, size, pad (architecture.h)
 *   40 + 12L   P x f32  parameters, in cosnet_model_get_parameters order
 *   then       u32      CRC-32 (zlib) of every byte before it
 *
 * Format version 1 (read): the same first 24 bytes, the parameters at byte
 * 24 and the CRC; only built-in architectures.
 *
 * The path functions read or write the whole file and call the memory
 * functions, so both validate the same way. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/bytes.h"
#include "common/error.h"
#include "common/file_reader.h"
#include "common/file_writer.h"
#include "common/memory.h"
#include "kernels/kernels.h"
#include "network/model_internal.h"

#define MODEL_MAGIC "COSNETMD"
#define MODEL_MAGIC_SIZE 8
#define MODEL_FORMAT_VERSION 2u
#define MODEL_V1_HEADER_SIZE 24
#define MODEL_V2_FIXED_SIZE 40
#define MODEL_LAYER_SIZE 12
#define MODEL_CRC_SIZE 4
/* The largest file a valid model can have: the biggest header and 2^28
 * parameters. Files are read whole, up to this. */
#define MODEL_MAX_FILE_SIZE                                                    \
    (MODEL_V2_FIXED_SIZE + MODEL_LAYER_SIZE * ARCHITECTURE_MAX_LAYERS +        \
     4 * ARCHITECTURE_MAX_PARAMETERS + MODEL_CRC_SIZE)

/* ---- Saving ------------------------------------------------------------- */

static size_t header_size(const architecture_description *arch)
{
    return MODEL_V2_FIXED_SIZE + MODEL_LAYER_SIZE * arch->spec_count;
}

COSNET_API cosnet_status cosnet_model_save_memory(const cosnet_model *model,
                                                  void **data_out,
                                                  size_t *size_out)
{
    if (!model || !data_out || !size_out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_model_save_memory: %s is NULL",
                         !model      ? "model"
                         : !data_out ? "data_out"
                                     : "size_out");
    const architecture_description *arch = &model->arch;
    const size_t count = arch->parameter_count;
    const size_t header = header_size(arch);
    const size_t size = header + 4 * count + MODEL_CRC_SIZE;
    unsigned char *bytes = memory_allocate(size);
    if (!bytes)
        return error_out_of_memory("model bytes", size);
    memcpy(bytes, MODEL_MAGIC, MODEL_MAGIC_SIZE);
    bytes_put_u32(bytes + 8, MODEL_FORMAT_VERSION);
    bytes_put_u32(bytes + 12, (uint32_t)arch->id);
    bytes_put_u32(bytes + 16, (uint32_t)arch->output_dims);
    bytes_put_u32(bytes + 20, (uint32_t)count);
    bytes_put_u32(bytes + 24, (uint32_t)arch->input_channels);
    bytes_put_u32(bytes + 28, (uint32_t)arch->input_rows);
    bytes_put_u32(bytes + 32, (uint32_t)arch->input_columns);
    bytes_put_u32(bytes + 36, (uint32_t)arch->spec_count);
    for (size_t l = 0; l < arch->spec_count; l++) {
        unsigned char *at = bytes + MODEL_V2_FIXED_SIZE + MODEL_LAYER_SIZE * l;
        bytes_put_u32(at, (uint32_t)arch->specs[l].kind);
        bytes_put_u32(at + 4, arch->specs[l].size);
        bytes_put_u32(at + 8, arch->specs[l].pad);
    }
    for (size_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, &model->parameters[i], sizeof bits);
        bytes_put_u32(bytes + header + 4 * i, bits);
    }
    bytes_put_u32(bytes + size - MODEL_CRC_SIZE,
                  bytes_crc32(bytes, size - MODEL_CRC_SIZE));
    *data_out = bytes;
    *size_out = size;
    return COSNET_OK;
}

COSNET_API cosnet_status cosnet_model_save(const cosnet_model *model,
                                           const char *path)
{
    if (!model || !path)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_model_save: %s is NULL",
                         !model ? "model" : "path");
    void *bytes = NULL;
    size_t size = 0;
    cosnet_status status = cosnet_model_save_memory(model, &bytes, &size);
    if (status != COSNET_OK)
        return status;
    status = file_write_atomic(path, bytes, size);
    memory_free(bytes);
    return status;
}

/* ---- Loading ------------------------------------------------------------ */

/* The architecture a header describes: a built-in one (version 1) or the
 * recorded layer list (version 2), checked against the recorded output
 * dimension and parameter count. *header_out: the header's size. */
static cosnet_status read_header(const unsigned char *bytes, size_t size,
                                 const char *name,
                                 architecture_description *arch,
                                 size_t *header_out)
{
    uint32_t version = bytes_get_u32(bytes + 8);
    uint32_t id = bytes_get_u32(bytes + 12);
    size_t header = MODEL_V1_HEADER_SIZE;
    cosnet_status status;
    if (version == 1) {
        status = architecture_find((cosnet_architecture)id, arch);
        if (status != COSNET_OK)
            return error_set(COSNET_ERROR_BAD_FORMAT,
                             "%s: unknown architecture %u at byte 12 (known: "
                             "%d = seed)",
                             name, (unsigned)id, (int)COSNET_ARCHITECTURE_SEED);
    } else if (version == 2) {
        if (size < MODEL_V2_FIXED_SIZE)
            return error_set(COSNET_ERROR_TRUNCATED,
                             "%s: truncated at byte %zu: a version-2 header "
                             "has at least %d bytes",
                             name, size, MODEL_V2_FIXED_SIZE);
        uint32_t layers = bytes_get_u32(bytes + 36);
        if (layers < 1 || layers > ARCHITECTURE_MAX_LAYERS)
            return error_set(COSNET_ERROR_BAD_FORMAT,
                             "%s: %u layers at byte 36 (1..%d allowed)", name,
                             (unsigned)layers, ARCHITECTURE_MAX_LAYERS);
        header = MODEL_V2_FIXED_SIZE + MODEL_LAYER_SIZE * (size_t)layers;
        if (size < header)
            return error_set(COSNET_ERROR_TRUNCATED,
                             "%s: truncated at byte %zu: the header declares "
                             "%u layers (%zu bytes)",
                             name, size, (unsigned)layers, header);
        layer_spec specs[ARCHITECTURE_MAX_LAYERS];
        for (uint32_t l = 0; l < layers; l++) {
            const unsigned char *at =
                bytes + MODEL_V2_FIXED_SIZE + MODEL_LAYER_SIZE * l;
            specs[l] =
                (layer_spec){(layer_kind)bytes_get_u32(at),
                             bytes_get_u32(at + 4), bytes_get_u32(at + 8)};
        }
        uint32_t channels = bytes_get_u32(bytes + 24),
                 rows = bytes_get_u32(bytes + 28);
        uint32_t columns = bytes_get_u32(bytes + 32);
        if (channels > ARCHITECTURE_MAX_CHANNELS ||
            rows > ARCHITECTURE_MAX_SIDE || columns > ARCHITECTURE_MAX_SIDE)
            return error_set(COSNET_ERROR_BAD_FORMAT,
                             "%s: input %ux%ux%u at byte 24 is too large", name,
                             (unsigned)channels, (unsigned)rows,
                             (unsigned)columns);
        architecture_description built_in;
        int known = id != 0 && architecture_find((cosnet_architecture)id,
                                                 &built_in) == COSNET_OK;
        status = architecture_build(
            known ? (cosnet_architecture)id : (cosnet_architecture)0,
            known ? built_in.name : "custom", (int)channels, (int)rows,
            (int)columns, specs, layers, arch);
        if (status != COSNET_OK) {
            char message[512];
            snprintf(message, sizeof message, "%s", cosnet_last_error());
            return error_set(status, "%s: %s", name, message);
        }
        if (id != 0 && !known)
            return error_set(COSNET_ERROR_BAD_FORMAT,
                             "%s: unknown architecture %u at byte 12", name,
                             (unsigned)id);
        /* A built-in architecture is its layers and its input shape: a
         * "seed" model of 30x30 images is no seed model. */
        if (known && !architecture_same_layers(&built_in, arch))
            return error_set(COSNET_ERROR_BAD_FORMAT,
                             "%s: the input %ux%ux%u and layers do not match "
                             "architecture %u (%s, %dx%dx%d)",
                             name, (unsigned)channels, (unsigned)rows,
                             (unsigned)columns, (unsigned)id, built_in.name,
                             built_in.input_channels, built_in.input_rows,
                             built_in.input_columns);
    } else {
        return error_set(COSNET_ERROR_VERSION,
                         "%s: model format version %u at byte 8, this library "
                         "reads versions 1 and 2",
                         name, (unsigned)version);
    }
    uint32_t dims = bytes_get_u32(bytes + 16);
    if (dims != arch->output_dims)
        return error_set(COSNET_ERROR_BAD_FORMAT,
                         "%s: output dimension %u at byte 16, the %s "
                         "architecture has %zu",
                         name, (unsigned)dims, arch->name, arch->output_dims);
    uint32_t count = bytes_get_u32(bytes + 20);
    if (count != arch->parameter_count)
        return error_set(COSNET_ERROR_MISMATCH,
                         "%s: parameter count %u at byte 20, the %s "
                         "architecture has %zu",
                         name, (unsigned)count, arch->name,
                         arch->parameter_count);
    *header_out = header;
    return COSNET_OK;
}

static cosnet_status load_bytes(const unsigned char *bytes, size_t size,
                                const char *name, cosnet_model **out)
{
    /* Whatever magic bytes there are must match before anything else. */
    size_t magic_bytes = size < MODEL_MAGIC_SIZE ? size : MODEL_MAGIC_SIZE;
    if (memcmp(bytes, MODEL_MAGIC, magic_bytes) != 0) {
        char found[2 * MODEL_MAGIC_SIZE + 1] = "";
        for (size_t i = 0; i < magic_bytes; i++)
            snprintf(found + 2 * i, 3, "%02x", bytes[i]);
        return error_set(COSNET_ERROR_BAD_MAGIC,
                         "%s: not a libcosnet model: magic bytes %s%s, "
                         "expected \"" MODEL_MAGIC "\" (434f534e45544d44)",
                         name, found, size < MODEL_MAGIC_SIZE ? "..." : "");
    }
    if (size < MODEL_V1_HEADER_SIZE)
        return error_set(COSNET_ERROR_TRUNCATED,
                         "%s: truncated at byte %zu: the header has at least "
                         "%d bytes",
                         name, size, MODEL_V1_HEADER_SIZE);
    architecture_description arch;
    size_t header = 0;
    cosnet_status status = read_header(bytes, size, name, &arch, &header);
    if (status != COSNET_OK)
        return status;
    const size_t count = arch.parameter_count;
    const size_t expected = header + 4 * count + MODEL_CRC_SIZE;
    if (size < expected)
        return error_set(COSNET_ERROR_TRUNCATED,
                         "%s: truncated at byte %zu: a model file of this "
                         "kind has %zu bytes",
                         name, size, expected);
    if (size > expected)
        return error_set(COSNET_ERROR_MISMATCH,
                         "%s: trailing data: %zu bytes, a %s model file has "
                         "%zu",
                         name, size, arch.name, expected);
    uint32_t stored = bytes_get_u32(bytes + expected - MODEL_CRC_SIZE);
    uint32_t computed = bytes_crc32(bytes, expected - MODEL_CRC_SIZE);
    if (stored != computed)
        return error_set(COSNET_ERROR_CORRUPT,
                         "%s: CRC-32 mismatch: stored 0x%08x at byte %zu, "
                         "computed 0x%08x",
                         name, (unsigned)stored, expected - MODEL_CRC_SIZE,
                         (unsigned)computed);
    for (size_t i = 0; i < count; i++) {
        uint32_t bits = bytes_get_u32(bytes + header + 4 * i);
        float value;
        memcpy(&value, &bits, sizeof value);
        if (!isfinite(value))
            return error_set(COSNET_ERROR_NOT_FINITE,
                             "%s: parameter %zu (byte %zu) is %g", name, i,
                             header + 4 * i, (double)value);
    }
    cosnet_model *model = NULL;
    status = model_allocate(&arch, &model);
    if (status != COSNET_OK)
        return status;
    for (size_t i = 0; i < count; i++) {
        uint32_t bits = bytes_get_u32(bytes + header + 4 * i);
        memcpy(&model->parameters[i], &bits, sizeof bits);
    }
    *out = model;
    return COSNET_OK;
}

COSNET_API cosnet_status cosnet_model_load_memory(const void *data, size_t size,
                                                  cosnet_model **out)
{
    if (!data || !out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_model_load_memory: %s is NULL",
                         !data ? "data" : "out");
    const kernel_table *kernels = NULL;
    cosnet_status status = kernels_active(&kernels);
    if (status != COSNET_OK)
        return status;
    return load_bytes(data, size, "<memory>", out);
}

COSNET_API cosnet_status cosnet_model_load(const char *path, cosnet_model **out)
{
    if (!path || !out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_model_load: %s is NULL",
                         !path ? "path" : "out");
    const kernel_table *kernels = NULL;
    cosnet_status status = kernels_active(&kernels);
    if (status != COSNET_OK)
        return status;
    unsigned char *bytes = NULL;
    size_t size = 0;
    status = file_read_whole(path, MODEL_MAX_FILE_SIZE, &bytes, &size);
    if (status != COSNET_OK)
        return status;
    status = load_bytes(bytes, size, path, out);
    memory_free(bytes);
    return status;
}
