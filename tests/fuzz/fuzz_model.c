/* Fuzz target: a model file through cosnet_model_load (a scratch file),
 * then prediction, a copy and a save/load round trip that must give back
 * the same parameters bit for bit.
 *
 * Built twice: fuzz_model takes the bytes as they are (so nearly every
 * mutation stops at the CRC check), fuzz_model_crc (FUZZ_REPAIR_CRC)
 * first rewrites the last 4 bytes as the little-endian zlib CRC-32 of all
 * bytes before them, as a valid file has, so the fuzzer gets past the
 * checksum into the header and parameter checks. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz_common.h"

static void check_same(const cosnet_model *a, const cosnet_model *b,
                       const char *what)
{
    size_t count = cosnet_model_parameter_count(a);
    if (count == 0 || cosnet_model_parameter_count(b) != count ||
        cosnet_model_architecture(a) != cosnet_model_architecture(b) ||
        cosnet_model_output_dims(a) != cosnet_model_output_dims(b))
        fuzz_fail(what, COSNET_OK);
    float *pa = malloc(count * sizeof *pa), *pb = malloc(count * sizeof *pb);
    if (!pa || !pb)
        abort();
    if (cosnet_model_get_parameters(a, pa, count) != COSNET_OK ||
        cosnet_model_get_parameters(b, pb, count) != COSNET_OK)
        fuzz_fail("cosnet_model_get_parameters", COSNET_OK);
    if (memcmp(pa, pb, count * sizeof *pa) != 0)
        fuzz_fail(what, COSNET_OK);
    free(pa);
    free(pb);
}

static void use_model(const cosnet_model *model, uint32_t input_hash)
{
    /* A prediction costs about 400,000 multiply-adds, far more than the
     * parse: while fuzzing, one valid model in 16 (chosen by the input, so
     * a reproducer does the same) is run; a corpus replay runs them all. */
#ifndef COSNET_FUZZ_REPLAY
    if (input_hash % 16 == 0)
#endif
        fuzz_use_model(model);
    (void)input_hash;
    cosnet_model *copy = NULL;
    cosnet_status status = cosnet_model_copy(model, &copy);
    if (status != COSNET_OK)
        fuzz_fail("cosnet_model_copy", status);
    check_same(model, copy, "copy differs");
    cosnet_model_free(copy);

    const char *path = fuzz_scratch_path(1);
    status = cosnet_model_save(model, path);
    if (status != COSNET_OK)
        fuzz_fail("cosnet_model_save", status);
    cosnet_model *again = NULL;
    status = cosnet_model_load(path, &again);
    if (status != COSNET_OK)
        fuzz_fail("reloading a saved model", status);
    check_same(model, again, "save/load round trip changed the model");
    cosnet_model_free(again);
    void *bytes = NULL;
    size_t size = 0;
    status = cosnet_model_save_memory(model, &bytes, &size);
    if (status != COSNET_OK)
        fuzz_fail("cosnet_model_save_memory", status);
    status = cosnet_model_load_memory(bytes, size, &again);
    if (status != COSNET_OK)
        fuzz_fail("reloading a model saved to memory", status);
    check_same(model, again, "memory round trip changed the model");
    cosnet_model_free(again);
    cosnet_free(bytes);
}

/* The same bytes from memory must get the same answer as from a file. */
static void compare_memory_load(const uint8_t *data, size_t size,
                                cosnet_status file_status,
                                const cosnet_model *from_file)
{
    cosnet_model *const untouched = (cosnet_model *)(uintptr_t)0x5a5a;
    cosnet_model *model = untouched;
    cosnet_status status = cosnet_model_load_memory(data, size, &model);
    if (status != file_status)
        fuzz_fail("cosnet_model_load_memory disagrees with the file load",
                  status);
    if (status == COSNET_OK) {
        check_same(from_file, model, "memory and file loads differ");
        cosnet_model_free(model);
    } else {
        fuzz_check_failure("cosnet_model_load_memory", status);
        if (model != untouched)
            fuzz_fail("failed memory load wrote its output", status);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *repaired = NULL;
#ifdef FUZZ_REPAIR_CRC
    if (size < 4)
        return 0;
    repaired = malloc(size);
    if (!repaired)
        abort();
    memcpy(repaired, data, size);
    uint32_t crc = (uint32_t)crc32(0L, repaired, (uInt)(size - 4));
    for (int i = 0; i < 4; i++)
        repaired[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    data = repaired;
#endif
    const char *path = fuzz_write_file(0, data, size);
    cosnet_model *const untouched = (cosnet_model *)(uintptr_t)0x5a5a;
    cosnet_model *model = untouched;
    cosnet_status status = cosnet_model_load(path, &model);
    compare_memory_load(data, size, status, status == COSNET_OK ? model : NULL);
    /* Not over the whole file: the CRC-32 of bytes that end with their
     * own CRC is the same constant for every valid file. */
    uint32_t input_hash =
        (uint32_t)crc32(0L, data, (uInt)(size >= 4 ? size - 4 : size));
    free(repaired);
    if (status != COSNET_OK) {
        fuzz_check_failure("cosnet_model_load", status);
        if (model != untouched)
            fuzz_fail("failed load wrote its output", status);
#ifdef FUZZ_REPAIR_CRC
        if (status == COSNET_ERROR_CORRUPT)
            fuzz_fail("CRC mismatch after the CRC was repaired", status);
#endif
        return 0;
    }
    use_model(model, input_hash);
    cosnet_model_free(model);
    return 0;
}
