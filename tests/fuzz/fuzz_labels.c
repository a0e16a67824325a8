/* Fuzz target: label-set text through cosnet_labels_load (a scratch file),
 * then the accessors, the similarity matrix, and a save/load round trip
 * that must give back the same floats bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

static void check_same(const cosnet_labels *a, const cosnet_labels *b,
                       const char *what)
{
    size_t count = cosnet_labels_count(a), dims = cosnet_labels_dims(a);
    if (cosnet_labels_count(b) != count || cosnet_labels_dims(b) != dims)
        fuzz_fail(what, COSNET_OK);
    for (size_t i = 0; i < count; i++)
        if (memcmp(cosnet_labels_vector(a, i), cosnet_labels_vector(b, i),
                   dims * sizeof(float)) != 0)
            fuzz_fail(what, COSNET_OK);
}

static void use_labels(const cosnet_labels *labels)
{
    size_t count = cosnet_labels_count(labels);
    size_t dims = cosnet_labels_dims(labels);
    if (count == 0 || dims == 0)
        fuzz_fail("loaded label set with a zero dimension", COSNET_OK);
    for (size_t i = 0; i < count; i++) {
        const float *vector = cosnet_labels_vector(labels, i);
        int all_zero = 1;
        for (size_t j = 0; j < dims; j++) {
            if (!isfinite(vector[j]))
                fuzz_fail("non-finite value in a loaded set", COSNET_OK);
            if (vector[j] != 0.0f)
                all_zero = 0;
        }
        if (all_zero)
            fuzz_fail("all-zero row in a loaded set", COSNET_OK);
    }
    if (cosnet_labels_vector(labels, count) != NULL)
        fuzz_fail("vector past the end", COSNET_OK);
    if (count <= 64) {
        double *matrix = malloc(count * count * sizeof *matrix);
        if (!matrix)
            abort();
        cosnet_status status = cosnet_labels_similarity(labels, matrix);
        if (status != COSNET_OK)
            fuzz_fail("cosnet_labels_similarity", status);
        /* A cosine may be NaN only if a row's norm overflows or
         * underflows; it must never leave [-1, 1] by more than rounding. */
        for (size_t i = 0; i < count * count; i++)
            if (matrix[i] > 1.0 + 1e-6 || matrix[i] < -1.0 - 1e-6)
                fuzz_fail("cosine outside [-1, 1]", COSNET_OK);
        free(matrix);
    }
    const char *path = fuzz_scratch_path(1);
    cosnet_status status = cosnet_labels_save(labels, path);
    if (status != COSNET_OK)
        fuzz_fail("cosnet_labels_save", status);
    cosnet_labels *again = NULL;
    status = cosnet_labels_load(path, &again);
    if (status != COSNET_OK)
        fuzz_fail("reloading a saved label set", status);
    check_same(labels, again, "save/load round trip changed the set");
    cosnet_labels_free(again);
    char *text = NULL;
    size_t size = 0;
    status = cosnet_labels_save_memory(labels, &text, &size);
    if (status != COSNET_OK)
        fuzz_fail("cosnet_labels_save_memory", status);
    status = cosnet_labels_load_memory(text, size, &again);
    if (status != COSNET_OK)
        fuzz_fail("reloading a set saved to memory", status);
    check_same(labels, again, "memory round trip changed the set");
    cosnet_labels_free(again);
    cosnet_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file(0, data, size);
    cosnet_labels *const untouched = (cosnet_labels *)(uintptr_t)0x5a5a;
    cosnet_labels *labels = untouched;
    cosnet_status status = cosnet_labels_load(path, &labels);
    /* The same text from memory must get the same answer. */
    cosnet_labels *from_memory = untouched;
    cosnet_status memory_status =
        cosnet_labels_load_memory(data, size, &from_memory);
    if (memory_status != status)
        fuzz_fail("cosnet_labels_load_memory disagrees with the file load",
                  memory_status);
    if (memory_status == COSNET_OK) {
        check_same(labels, from_memory, "memory and file loads differ");
        cosnet_labels_free(from_memory);
    } else if (from_memory != untouched) {
        fuzz_fail("failed memory load wrote its output", memory_status);
    }
    if (status != COSNET_OK) {
        fuzz_check_failure("cosnet_labels_load", status);
        if (labels != untouched)
            fuzz_fail("failed load wrote its output", status);
        return 0;
    }
    use_labels(labels);
    cosnet_labels_free(labels);
    return 0;
}
