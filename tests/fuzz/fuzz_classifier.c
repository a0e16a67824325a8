/* Fuzz target: a classifier bundle (cosnet_classifier_load_memory), with
 * its last 4 bytes first rewritten as the CRC-32 of the bytes before them
 * (as a valid file has), so the fuzzer gets past the checksum into the
 * label vectors, class names and the embedded model. A loaded bundle is
 * used: its names read, one image classified, and a save/load round trip
 * that must give back the same bytes. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz_common.h"

static void use_bundle(const cosnet_classifier *bundle)
{
    const cosnet_labels *labels = cosnet_classifier_labels(bundle);
    const cosnet_model *model = cosnet_classifier_model(bundle);
    const size_t classes = cosnet_labels_count(labels);
    for (size_t k = 0; k < classes; k++)
        if (!cosnet_classifier_class_name(bundle, k))
            fuzz_fail("a class without a name", COSNET_OK);
    if (cosnet_classifier_class_name(bundle, classes))
        fuzz_fail("a name past the last class", COSNET_OK);
    const size_t input = cosnet_model_input_channels(model) *
                         cosnet_model_input_rows(model) *
                         cosnet_model_input_columns(model);
    if (input <= 65536 && cosnet_model_parameter_count(model) <= (1u << 20)) {
        float *image = calloc(input, sizeof *image);
        if (!image)
            abort();
        size_t best = 0;
        cosnet_status status =
            cosnet_classify(model, labels, image, 1, &best, NULL, NULL, NULL);
        if (status == COSNET_OK && best >= classes)
            fuzz_fail("a class past the label set", status);
        if (status != COSNET_OK && status != COSNET_ERROR_NOT_FINITE)
            fuzz_fail("cosnet_classify on a loaded bundle", status);
        free(image);
    }
    void *bytes = NULL, *again_bytes = NULL;
    size_t size = 0, again_size = 0;
    cosnet_status status = cosnet_classifier_save_memory(bundle, &bytes, &size);
    if (status != COSNET_OK)
        fuzz_fail("cosnet_classifier_save_memory", status);
    cosnet_classifier *again = NULL;
    status = cosnet_classifier_load_memory(bytes, size, &again);
    if (status != COSNET_OK)
        fuzz_fail("reloading a saved bundle", status);
    status = cosnet_classifier_save_memory(again, &again_bytes, &again_size);
    if (status != COSNET_OK || again_size != size ||
        memcmp(bytes, again_bytes, size) != 0)
        fuzz_fail("a save/load round trip changed the bundle", status);
    cosnet_free(bytes);
    cosnet_free(again_bytes);
    cosnet_classifier_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    uint8_t *repaired = malloc(size);
    if (!repaired)
        abort();
    memcpy(repaired, data, size);
    uint32_t crc = (uint32_t)crc32(0L, repaired, (uInt)(size - 4));
    for (int i = 0; i < 4; i++)
        repaired[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    cosnet_classifier *const untouched = (cosnet_classifier *)(uintptr_t)0x5a5a;
    cosnet_classifier *bundle = untouched;
    cosnet_status status =
        cosnet_classifier_load_memory(repaired, size, &bundle);
    free(repaired);
    if (status != COSNET_OK) {
        fuzz_check_failure("cosnet_classifier_load_memory", status);
        if (bundle != untouched)
            fuzz_fail("a failed load wrote its output", status);
        /* The outer CRC was repaired; the embedded model has its own,
         * which a mutation may break ("...: the model: ...: CRC-32"). */
        if (status == COSNET_ERROR_CORRUPT &&
            !strstr(cosnet_last_error(), "the model:"))
            fuzz_fail("CRC mismatch after the CRC was repaired", status);
        return 0;
    }
    use_bundle(bundle);
    cosnet_classifier_free(bundle);
    return 0;
}
