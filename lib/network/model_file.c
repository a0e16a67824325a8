/* Model files. Layout, all little-endian, written byte by byte so the file
 * is the same on every host:
 *   offset  0  8 bytes  magic "COSNETMD"
 *           8  u32      format version (1)
 *          12  u32      architecture (cosnet_architecture)
 *          16  u32      output dimension
 *          20  u32      parameter count P
 *          24  P x f32  parameters, in cosnet_model_get_parameters order
 *   24 + 4P    u32      CRC-32 (zlib) of every byte before it
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "common/memory.h"
#include "common/error.h"
#include "common/file_writer.h"
#include "kernels/kernels.h"
#include "network/model_internal.h"

#define MODEL_MAGIC "COSNETMD"
#define MODEL_MAGIC_SIZE 8
#define MODEL_FORMAT_VERSION 1u
#define MODEL_HEADER_SIZE 24
#define MODEL_CRC_SIZE 4

static void put_u32(unsigned char *at, uint32_t value)
{
    at[0] = (unsigned char)(value & 0xff);
    at[1] = (unsigned char)((value >> 8) & 0xff);
    at[2] = (unsigned char)((value >> 16) & 0xff);
    at[3] = (unsigned char)((value >> 24) & 0xff);
}

static uint32_t get_u32(const unsigned char *at)
{
    return (uint32_t)at[0] | (uint32_t)at[1] << 8 | (uint32_t)at[2] << 16 |
           (uint32_t)at[3] << 24;
}

static void put_f32(unsigned char *at, float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    put_u32(at, bits);
}

static float get_f32(const unsigned char *at)
{
    uint32_t bits = get_u32(at);
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

static uint32_t crc_of(const unsigned char *bytes, size_t size)
{
    /* zlib's crc32 takes uInt lengths: feed large buffers in pieces. */
    uLong crc = crc32(0L, Z_NULL, 0);
    while (size > 0) {
        uInt piece = size > 0x40000000u ? 0x40000000u : (uInt)size;
        crc = crc32(crc, bytes, piece);
        bytes += piece;
        size -= piece;
    }
    return (uint32_t)crc;
}

/* ---- Saving ------------------------------------------------------------- */

COSNET_API cosnet_status cosnet_model_save(const cosnet_model *model,
                                           const char *path)
{
    if (!model || !path)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_model_save: %s is NULL",
                         !model ? "model" : "path");
    const architecture_description *arch = model->arch;
    const size_t count = arch->parameter_count;
    const size_t size = MODEL_HEADER_SIZE + 4 * count + MODEL_CRC_SIZE;
    unsigned char *bytes = memory_allocate(size);
    if (!bytes)
        return error_out_of_memory("model file image", size);
    memcpy(bytes, MODEL_MAGIC, MODEL_MAGIC_SIZE);
    put_u32(bytes + 8, MODEL_FORMAT_VERSION);
    put_u32(bytes + 12, (uint32_t)arch->id);
    put_u32(bytes + 16, (uint32_t)arch->output_dims);
    put_u32(bytes + 20, (uint32_t)count);
    for (size_t i = 0; i < count; i++)
        put_f32(bytes + MODEL_HEADER_SIZE + 4 * i, model->parameters[i]);
    put_u32(bytes + size - MODEL_CRC_SIZE,
            crc_of(bytes, size - MODEL_CRC_SIZE));

    /* Temporary file, fsync, rename, folder fsync: common/file_writer.h. */
    cosnet_status status = file_write_atomic(path, bytes, size);
    memory_free(bytes);
    return status;
}

/* ---- Loading ------------------------------------------------------------ */

/* Validates the header against the architecture table. */
static cosnet_status check_header(const unsigned char *header, const char *path,
                                  const architecture_description **arch_out)
{
    uint32_t version = get_u32(header + 8);
    if (version != MODEL_FORMAT_VERSION)
        return error_set(COSNET_ERROR_VERSION,
                         "%s: model format version %u at byte 8, this library "
                         "reads version %u",
                         path, (unsigned)version, MODEL_FORMAT_VERSION);
    uint32_t id = get_u32(header + 12);
    const architecture_description *arch =
        architecture_find((cosnet_architecture)id);
    if (!arch)
        return error_set(COSNET_ERROR_BAD_FORMAT,
                         "%s: unknown architecture %u at byte 12 (known: %d "
                         "= seed)",
                         path, (unsigned)id, (int)COSNET_ARCHITECTURE_SEED);
    uint32_t dims = get_u32(header + 16);
    if (dims != arch->output_dims)
        return error_set(COSNET_ERROR_BAD_FORMAT,
                         "%s: output dimension %u at byte 16, the %s "
                         "architecture has %zu",
                         path, (unsigned)dims, arch->name, arch->output_dims);
    uint32_t count = get_u32(header + 20);
    if (count != arch->parameter_count)
        return error_set(COSNET_ERROR_MISMATCH,
                         "%s: parameter count %u at byte 20, the %s "
                         "architecture has %zu",
                         path, (unsigned)count, arch->name,
                         arch->parameter_count);
    *arch_out = arch;
    return COSNET_OK;
}

/* Reads exactly `size` bytes at the current position, or reports how many
 * the file had. */
static cosnet_status read_exactly(FILE *file, unsigned char *bytes, size_t size,
                                  size_t offset, const char *path,
                                  size_t expected_total)
{
    size_t got = fread(bytes, 1, size, file);
    if (got == size)
        return COSNET_OK;
    if (ferror(file))
        return error_set(COSNET_ERROR_IO, "%s: read failed at byte %zu: %s",
                         path, offset + got, strerror(errno));
    return error_set(COSNET_ERROR_TRUNCATED,
                     "%s: truncated at byte %zu: a model file of this kind "
                     "has %zu bytes",
                     path, offset + got, expected_total);
}

static cosnet_status load_from(FILE *file, const char *path, cosnet_model **out)
{
    unsigned char header[MODEL_HEADER_SIZE];
    size_t got = fread(header, 1, sizeof header, file);
    if (ferror(file))
        return error_set(COSNET_ERROR_IO, "%s: read failed: %s", path,
                         strerror(errno));
    /* Whatever magic bytes there are must match before anything else. */
    size_t magic_bytes = got < MODEL_MAGIC_SIZE ? got : MODEL_MAGIC_SIZE;
    if (memcmp(header, MODEL_MAGIC, magic_bytes) != 0) {
        char found[2 * MODEL_MAGIC_SIZE + 1] = "";
        for (size_t i = 0; i < magic_bytes; i++)
            snprintf(found + 2 * i, 3, "%02x", header[i]);
        return error_set(COSNET_ERROR_BAD_MAGIC,
                         "%s: not a libcosnet model: magic bytes %s%s, "
                         "expected \"" MODEL_MAGIC "\" (434f534e45544d44)",
                         path, found, got < MODEL_MAGIC_SIZE ? "..." : "");
    }
    if (got < sizeof header)
        return error_set(COSNET_ERROR_TRUNCATED,
                         "%s: truncated at byte %zu: the header has %d bytes",
                         path, got, MODEL_HEADER_SIZE);
    const architecture_description *arch = NULL;
    cosnet_status status = check_header(header, path, &arch);
    if (status != COSNET_OK)
        return status;

    const size_t count = arch->parameter_count;
    const size_t size = MODEL_HEADER_SIZE + 4 * count + MODEL_CRC_SIZE;
    unsigned char *bytes = memory_allocate(size);
    if (!bytes)
        return error_out_of_memory("model file image", size);
    memcpy(bytes, header, MODEL_HEADER_SIZE);
    status =
        read_exactly(file, bytes + MODEL_HEADER_SIZE, size - MODEL_HEADER_SIZE,
                     MODEL_HEADER_SIZE, path, size);
    if (status == COSNET_OK && fgetc(file) != EOF) {
        struct stat info;
        if (fstat(fileno(file), &info) == 0)
            status = error_set(COSNET_ERROR_MISMATCH,
                               "%s: trailing data: the file has %lld bytes, "
                               "a %s model file has %zu",
                               path, (long long)info.st_size, arch->name, size);
        else
            status = error_set(COSNET_ERROR_MISMATCH,
                               "%s: trailing data after byte %zu", path, size);
    }
    if (status == COSNET_OK) {
        uint32_t stored = get_u32(bytes + size - MODEL_CRC_SIZE);
        uint32_t computed = crc_of(bytes, size - MODEL_CRC_SIZE);
        if (stored != computed)
            status = error_set(COSNET_ERROR_CORRUPT,
                               "%s: CRC-32 mismatch: stored 0x%08x at byte "
                               "%zu, computed 0x%08x",
                               path, (unsigned)stored, size - MODEL_CRC_SIZE,
                               (unsigned)computed);
    }
    cosnet_model *model = NULL;
    if (status == COSNET_OK)
        status = model_allocate(arch, &model);
    if (status == COSNET_OK) {
        for (size_t i = 0; i < count; i++) {
            float value = get_f32(bytes + MODEL_HEADER_SIZE + 4 * i);
            if (!isfinite(value)) {
                status =
                    error_set(COSNET_ERROR_NOT_FINITE,
                              "%s: parameter %zu (byte %zu) is %g", path, i,
                              (size_t)MODEL_HEADER_SIZE + 4 * i, (double)value);
                break;
            }
            model->parameters[i] = value;
        }
    }
    memory_free(bytes);
    if (status != COSNET_OK) {
        cosnet_model_free(model);
        return status;
    }
    *out = model;
    return COSNET_OK;
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
    FILE *file = fopen(path, "rb");
    if (!file)
        return error_set(COSNET_ERROR_IO, "%s: cannot open: %s", path,
                         strerror(errno));
    status = load_from(file, path, out);
    fclose(file);
    return status;
}
