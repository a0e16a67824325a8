/* Writes the fuzz targets' seed corpora: valid files and edge files, one
 * folder per target (fuzz_dataset, fuzz_labels, fuzz_model,
 * fuzz_model_crc) under the folder given as argument. The committed
 * tests/fuzz/corpus/ holds its output (seed-* files) next to the
 * reproducers of past findings (crash-* files, kept by hand).
 * Usage: make_seeds CORPUS_FOLDER (the target folders must exist). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cosnet.h"

static const char *corpus;

static void write_seed(const char *target, const char *name, const void *bytes,
                       size_t size)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/seed-%s", corpus, target, name);
    FILE *file = fopen(path, "wb");
    if (!file || (size && fwrite(bytes, 1, size, file) != size) ||
        fclose(file) != 0) {
        perror(path);
        exit(1);
    }
}

static void check(cosnet_status status, const char *what)
{
    if (status != COSNET_OK) {
        fprintf(stderr, "%s: %s\n", what, cosnet_last_error());
        exit(1);
    }
}

/* ---- IDX pairs ----------------------------------------------------------- */

typedef struct bytes {
    unsigned char data[8192];
    size_t size;
} bytes;

static void put_be32(bytes *b, uint32_t value)
{
    for (int i = 3; i >= 0; i--)
        b->data[b->size++] = (unsigned char)(value >> (8 * i));
}

static void put_byte(bytes *b, unsigned value)
{
    b->data[b->size++] = (unsigned char)value;
}

static bytes images_file(uint32_t magic, uint32_t count, uint32_t rows,
                         uint32_t columns, size_t pixels)
{
    bytes b = {{0}, 0};
    put_be32(&b, magic);
    put_be32(&b, count);
    put_be32(&b, rows);
    put_be32(&b, columns);
    for (size_t i = 0; i < pixels; i++)
        put_byte(&b, (unsigned)((i * 37 + 11) & 0xff));
    return b;
}

static bytes labels_file(uint32_t magic, uint32_t count, size_t present,
                         unsigned classes)
{
    bytes b = {{0}, 0};
    put_be32(&b, magic);
    put_be32(&b, count);
    for (size_t i = 0; i < present; i++)
        put_byte(&b, (unsigned)(i % classes));
    return b;
}

static bytes gzipped(const bytes *in)
{
    bytes out = {{0}, 0};
    z_stream stream;
    memset(&stream, 0, sizeof stream);
    if (deflateInit2(&stream, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        exit(1);
    stream.next_in = (Bytef *)in->data;
    stream.avail_in = (uInt)in->size;
    stream.next_out = out.data;
    stream.avail_out = sizeof out.data;
    if (deflate(&stream, Z_FINISH) != Z_STREAM_END)
        exit(1);
    out.size = stream.total_out;
    deflateEnd(&stream);
    return out;
}

/* The fuzz_dataset input: flags, class_count - 1, images length, images,
 * labels (see fuzz_dataset.c). */
static void dataset_seed(const char *name, unsigned flags, unsigned classes,
                         const bytes *images, const bytes *labels)
{
    static unsigned char input[20000];
    size_t size = 0;
    input[size++] = (unsigned char)flags;
    input[size++] = (unsigned char)(classes - 1);
    for (int i = 0; i < 4; i++)
        input[size++] = (unsigned char)(images->size >> (8 * i));
    memcpy(input + size, images->data, images->size);
    size += images->size;
    memcpy(input + size, labels->data, labels->size);
    size += labels->size;
    write_seed("fuzz_dataset", name, input, size);
}

static void dataset_seeds(void)
{
    bytes images = images_file(0x803, 3, 2, 2, 12);
    bytes labels = labels_file(0x801, 3, 3, 3);
    dataset_seed("valid-raw", 0, 3, &images, &labels);
    dataset_seed("valid-target-gzip", 1 | 4, 3, &images, &labels);
    dataset_seed("valid-two-members", 2 | 8, 3, &images, &labels);
    bytes gz_images = gzipped(&images), gz_labels = gzipped(&labels);
    dataset_seed("valid-native-gzip", 0, 3, &gz_images, &gz_labels);

    bytes mnist_like = images_file(0x803, 2, 28, 28, 2 * 28 * 28);
    bytes two_labels = labels_file(0x801, 2, 2, 10);
    dataset_seed("valid-28x28", 0, 10, &mnist_like, &two_labels);
    dataset_seed("valid-28x28-gzip", 1 | 4, 10, &mnist_like, &two_labels);

    bytes cut = images;
    cut.size -= 5;
    dataset_seed("truncated-images", 0, 3, &cut, &labels);
    cut.size = 10;
    dataset_seed("truncated-header", 0, 3, &cut, &labels);
    bytes longer = images;
    put_byte(&longer, 0);
    dataset_seed("trailing-byte", 0, 3, &longer, &labels);
    dataset_seed("trailing-byte-gzip", 1 | 4, 3, &longer, &labels);
    bytes bad_label = labels_file(0x801, 3, 3, 7);
    bad_label.data[8 + 2] = 9;
    dataset_seed("label-out-of-range", 0, 3, &images, &bad_label);
    bytes fewer = labels_file(0x801, 2, 2, 3);
    dataset_seed("count-mismatch", 0, 3, &images, &fewer);
    bytes zero = images_file(0x803, 0, 2, 2, 0);
    dataset_seed("zero-count", 0, 3, &zero, &labels);
    bytes huge = images_file(0x803, 0xffffffffu, 0xffffffffu, 0xffffffffu, 4);
    dataset_seed("overflow", 0, 3, &huge, &labels);
    bytes big = images_file(0x803, 60000, 28, 28, 16);
    dataset_seed("declares-47MB", 0, 10, &big, &labels);
    bytes gz_big = gzipped(&big);
    dataset_seed("declares-47MB-gzip", 0, 10, &gz_big, &labels);
    bytes wrong_magic = images_file(0x0d03, 3, 2, 2, 12);
    dataset_seed("float-elements", 0, 3, &wrong_magic, &labels);
    dataset_seed("swapped-files", 0, 3, &labels, &images);
    bytes empty = {{0}, 0};
    dataset_seed("empty-files", 0, 3, &empty, &empty);
    bytes gz_cut = gz_images;
    gz_cut.size -= 6;
    dataset_seed("gzip-cut", 0, 3, &gz_cut, &labels);
}

/* ---- label text ---------------------------------------------------------- */

static void text_seed(const char *name, const char *text)
{
    write_seed("fuzz_labels", name, text, strlen(text));
}

static void saved_labels_seed(const char *name, const cosnet_labels *labels,
                              const char *scratch)
{
    check(cosnet_labels_save(labels, scratch), "cosnet_labels_save");
    FILE *file = fopen(scratch, "rb");
    static char text[65536];
    size_t size = file ? fread(text, 1, sizeof text, file) : 0;
    if (file)
        fclose(file);
    remove(scratch);
    write_seed("fuzz_labels", name, text, size);
}

static void labels_seeds(const char *scratch)
{
    cosnet_labels *labels = NULL;
    check(cosnet_labels_builtin(&labels), "cosnet_labels_builtin");
    saved_labels_seed("builtin", labels, scratch);
    cosnet_labels_free(labels);
    check(cosnet_labels_generate(3, 4, 0.9, 5, 0, &labels),
          "cosnet_labels_generate");
    saved_labels_seed("generated-3x4", labels, scratch);
    cosnet_labels_free(labels);

    text_seed("comments-and-blanks",
              "# a comment\n\n  1 0 0\n\t0 1 0 # trailing comment?\n"
              "0 0 1\n\n# end\n");
    text_seed("crlf", "1 2\r\n3 4\r\n");
    text_seed("no-final-newline", "0.5 0.5\n1 0");
    text_seed("ragged", "1 2 3\n4 5\n");
    text_seed("not-a-number", "1 two 3\n");
    text_seed("nan", "1 nan 3\n");
    text_seed("infinity", "1 inf 3\n-infinity 0 1\n");
    text_seed("overflow", "1e39 1\n1 1\n");
    text_seed("underflow", "1e-46 1e-45\n1 1\n");
    text_seed("huge-norm", "3e38 3e38\n1 0\n");
    text_seed("all-zero-row", "1 0\n0 0\n");
    text_seed("negative-zero-row", "-0 -0\n1 1\n");
    text_seed("hex-floats", "0x1p-3 0x1.8p1\n1 0\n");
    text_seed("empty", "");
    text_seed("only-comments", "# nothing\n# here\n");
    /* By length: strlen would stop at the NUL. */
    static const char nul_byte[] = "1 2\n3\0004\n";
    write_seed("fuzz_labels", "nul-byte", nul_byte, sizeof nul_byte - 1);
    text_seed("signs", "+1 -2 +.5\n-.25e1 1. 2\n");
    text_seed("one-value", "7\n");
    text_seed("long-row",
              "1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 "
              "1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n");
}

/* ---- model files --------------------------------------------------------- */

static void put_le32(unsigned char *at, uint32_t value)
{
    for (int i = 0; i < 4; i++)
        at[i] = (unsigned char)(value >> (8 * i));
}

static uint32_t get_le32(const unsigned char *at)
{
    return (uint32_t)at[0] | (uint32_t)at[1] << 8 | (uint32_t)at[2] << 16 |
           (uint32_t)at[3] << 24;
}

static void model_seed(const char *name, unsigned char *file, size_t size,
                       int fix_crc)
{
    if (fix_crc && size >= 4)
        put_le32(file + size - 4, (uint32_t)crc32(0L, file, (uInt)(size - 4)));
    write_seed("fuzz_model", name, file, size);
    write_seed("fuzz_model_crc", name, file, size);
}

static void model_seeds(const char *scratch)
{
    cosnet_model *model = NULL;
    check(cosnet_model_create(COSNET_ARCHITECTURE_SEED, 1, &model),
          "cosnet_model_create");
    check(cosnet_model_save(model, scratch), "cosnet_model_save");
    cosnet_model_free(model);
    static unsigned char valid[65536], file[65536];
    FILE *in = fopen(scratch, "rb");
    size_t size = in ? fread(valid, 1, sizeof valid, in) : 0;
    if (in)
        fclose(in);
    remove(scratch);
    if (size < 28) {
        fprintf(stderr, "saved model too short\n");
        exit(1);
    }
    model_seed("valid", valid, size, 0);

    memcpy(file, valid, size);
    model_seed("truncated-magic", file, 5, 0);
    model_seed("truncated-header", file, 20, 0);
    model_seed("truncated-parameters", file, size / 2, 0);
    model_seed("empty", file, 0, 0);
    memcpy(file, valid, size);
    file[size] = 0;
    model_seed("trailing-byte", file, size + 1, 0);
    memcpy(file, valid, size);
    file[0] = 'X';
    model_seed("bad-magic", file, size, 1);
    memcpy(file, valid, size);
    put_le32(file + 8, 3);
    model_seed("unknown-version", file, size, 1);
    memcpy(file, valid, size);
    put_le32(file + 12, 99);
    model_seed("unknown-architecture", file, size, 1);
    memcpy(file, valid, size);
    put_le32(file + 16, 24);
    model_seed("wrong-output-dims", file, size, 1);
    memcpy(file, valid, size);
    put_le32(file + 20, 1392);
    model_seed("wrong-parameter-count", file, size, 1);
    memcpy(file, valid, size);
    put_le32(file + 20, 0xffffffffu);
    model_seed("huge-parameter-count", file, size, 1);
    /* Format 2: the parameters follow the 40-byte fixed header and the
     * layer records (12 bytes each; the count is at byte 36). */
    size_t parameters_at = 40 + 12 * (size_t)get_le32(valid + 36);
    memcpy(file, valid, size);
    put_le32(file + parameters_at + 4 * 7, 0x7fc00000u); /* NaN */
    model_seed("nan-parameter", file, size, 1);
    memcpy(file, valid, size);
    put_le32(file + parameters_at + 4 * 100, 0x7f800000u); /* +infinity */
    model_seed("infinite-parameter", file, size, 1);
    memcpy(file, valid, size);
    put_le32(file + parameters_at, 0x7f7fffffu); /* FLT_MAX */
    model_seed("huge-parameter", file, size, 1);
    memcpy(file, valid, size);
    file[size - 1] ^= 0x01;
    model_seed("crc-flipped", file, size, 0);

    /* A small network from a layer list (model format 2): conv, pool,
     * dense, 500 bytes, so the fuzzer starts inside the layer records. */
    check(cosnet_model_create_layers("conv3x3 2 pad 1, relu, maxpool2x2, "
                                     "flatten, dense 3, relu, dense 4",
                                     1, 6, 6, 7, &model),
          "cosnet_model_create_layers");
    check(cosnet_model_save(model, scratch), "cosnet_model_save");
    cosnet_model_free(model);
    in = fopen(scratch, "rb");
    size = in ? fread(file, 1, sizeof file, in) : 0;
    if (in)
        fclose(in);
    remove(scratch);
    model_seed("small-layers", file, size, 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds CORPUS_FOLDER\n");
        return 2;
    }
    corpus = argv[1];
    char scratch[1024];
    snprintf(scratch, sizeof scratch, "%s/.make-seeds-scratch", corpus);
    dataset_seeds();
    labels_seeds(scratch);
    model_seeds(scratch);
    return 0;
}
