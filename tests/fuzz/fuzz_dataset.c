/* Fuzz target: an IDX images file and an IDX labels file, through
 * cosnet_dataset_open, then every accessor on the result.
 *
 * Input layout (so one input holds both files and chooses their form):
 *   byte 0      flags: bits 0-1 form of the images file, bits 2-3 of the
 *               labels file: 0 or 3 as given (raw, or gzip if the bytes
 *               start with 1f 8b: the library decides by content), 1 the
 *               target gzips the bytes, 2 the target gzips them as two
 *               members
 *   byte 1      class_count - 1 (1..256)
 *   bytes 2-5   length L of the images file, little-endian (clamped)
 *   then        L bytes of images file, the rest is the labels file. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz_common.h"

/* gzip-compresses `size` bytes as `members` members into a new buffer. */
static unsigned char *gzip_bytes(const uint8_t *bytes, size_t size, int members,
                                 size_t *out_size)
{
    size_t capacity = 64 + 2 * (compressBound((uLong)size) + 32);
    unsigned char *out = malloc(capacity);
    if (!out)
        abort();
    size_t written = 0, cut = members == 2 ? size / 2 : size;
    for (int member = 0; member < members; member++) {
        const uint8_t *from = member == 0 ? bytes : bytes + cut;
        size_t length = member == 0 ? cut : size - cut;
        z_stream stream;
        memset(&stream, 0, sizeof stream);
        /* Level 1, a 512-byte window and the least memory: valid gzip,
         * cheap to set up for every input. */
        if (deflateInit2(&stream, 1, Z_DEFLATED, 16 + 9, 1,
                         Z_DEFAULT_STRATEGY) != Z_OK)
            abort();
        stream.next_in = (Bytef *)(uintptr_t)from;
        stream.avail_in = (uInt)length;
        stream.next_out = out + written;
        stream.avail_out = (uInt)(capacity - written);
        if (deflate(&stream, Z_FINISH) != Z_STREAM_END)
            abort();
        written += stream.total_out;
        deflateEnd(&stream);
    }
    *out_size = written;
    return out;
}

static const char *write_part(int index, int form, const uint8_t *bytes,
                              size_t size)
{
    if (form != 1 && form != 2)
        return fuzz_write_file(index, bytes, size);
    size_t compressed_size = 0;
    unsigned char *compressed = gzip_bytes(bytes, size, form, &compressed_size);
    const char *path = fuzz_write_file(index, compressed, compressed_size);
    free(compressed);
    return path;
}

static cosnet_model *seed_model(void)
{
    static cosnet_model *model;
    if (!model &&
        cosnet_model_create(COSNET_ARCHITECTURE_SEED, 1, &model) != COSNET_OK)
        fuzz_fail("cosnet_model_create", COSNET_OK);
    return model;
}

static void use_dataset(const cosnet_dataset *dataset, unsigned class_count)
{
    size_t count = cosnet_dataset_count(dataset);
    size_t rows = cosnet_dataset_rows(dataset);
    size_t columns = cosnet_dataset_columns(dataset);
    if (count == 0 || rows == 0 || columns == 0 ||
        cosnet_dataset_class_count(dataset) != class_count)
        fuzz_fail("opened dataset with a zero dimension", COSNET_OK);
    size_t total = 0;
    for (unsigned k = 0; k < class_count; k++)
        total += cosnet_dataset_class_size(dataset, k);
    if (total != count)
        fuzz_fail("class sizes do not add up to the count", COSNET_OK);
    for (size_t i = 0; i < count; i++) {
        int label = cosnet_dataset_label(dataset, i);
        if (label < 0 || (unsigned)label >= class_count)
            fuzz_fail("label out of range in an opened dataset", COSNET_OK);
    }
    if (cosnet_dataset_image(dataset, count) != NULL ||
        cosnet_dataset_label(dataset, count) != -1)
        fuzz_fail("accessor past the end", COSNET_OK);

    size_t shown = count < 4 ? count : 4;
    size_t pixels = rows * columns;
    float *floats = malloc(shown * pixels * sizeof *floats);
    if (!floats)
        abort();
    cosnet_status status = cosnet_dataset_to_float(dataset, 0, shown, floats);
    if (status != COSNET_OK)
        fuzz_fail("cosnet_dataset_to_float", status);
    const uint8_t *first = cosnet_dataset_image(dataset, 0);
    for (size_t i = 0; i < shown * pixels; i++)
        if (!(floats[i] >= 0.0f && floats[i] <= 1.0f) ||
            floats[i] != (float)first[i] / 255.0f)
            fuzz_fail("pixel conversion", COSNET_OK);
    free(floats);

    for (unsigned k = 0; k < class_count; k++) {
        size_t members = cosnet_dataset_class_size(dataset, k);
        if (members == 0)
            continue;
        size_t wanted = members < 8 ? members : 8;
        size_t indices[8];
        status = cosnet_dataset_class_subset(dataset, k, wanted, 7, indices);
        if (status != COSNET_OK)
            fuzz_fail("cosnet_dataset_class_subset", status);
        for (size_t i = 0; i < wanted; i++)
            if (cosnet_dataset_label(dataset, indices[i]) != (int)k)
                fuzz_fail("subset index of another class", COSNET_OK);
        /* One more than there are is NOT_ENOUGH_DATA, nothing else. */
        size_t *too_many = malloc((members + 1) * sizeof *too_many);
        if (!too_many)
            abort();
        status =
            cosnet_dataset_class_subset(dataset, k, members + 1, 7, too_many);
        free(too_many);
        if (status != COSNET_ERROR_NOT_ENOUGH_DATA)
            fuzz_fail("oversized subset", status);
        break;
    }

    if (rows == 28 && columns == 28) {
        float outputs[25];
        status =
            cosnet_model_predict_dataset(seed_model(), dataset, 0, 1, outputs);
        if (status != COSNET_OK)
            fuzz_fail("cosnet_model_predict_dataset", status);
        for (int i = 0; i < 25; i++)
            if (!isfinite(outputs[i]))
                fuzz_fail("non-finite prediction", COSNET_OK);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 6)
        return 0;
    int images_form = data[0] & 3, labels_form = (data[0] >> 2) & 3;
    unsigned class_count = (unsigned)data[1] + 1;
    size_t images_size = (size_t)data[2] | (size_t)data[3] << 8 |
                         (size_t)data[4] << 16 | (size_t)data[5] << 24;
    data += 6;
    size -= 6;
    if (images_size > size)
        images_size = size;
    const char *images = write_part(0, images_form, data, images_size);
    const char *labels =
        write_part(1, labels_form, data + images_size, size - images_size);
    cosnet_dataset *const untouched = (cosnet_dataset *)(uintptr_t)0x5a5a;
    cosnet_dataset *dataset = untouched;
    cosnet_status status =
        cosnet_dataset_open(images, labels, class_count, &dataset);
    if (status != COSNET_OK) {
        fuzz_check_failure("cosnet_dataset_open", status);
        if (dataset != untouched)
            fuzz_fail("failed open wrote its output", status);
        return 0;
    }
    use_dataset(dataset, class_count);
    cosnet_dataset_free(dataset);
    return 0;
}
