/* Grayscale images from PGM and PNG files (see image_file.h). PGM is read
 * here (a few lines of a simple format); PNG through libpng, the
 * well-kept decoder, when the build has it. A file's first bytes decide
 * its kind before the rest is read, and no more is read than its header
 * allows. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_file.h"

#ifdef COSNET_HAVE_PNG
#include <png.h>
#include <setjmp.h>
#endif

/* A PGM header must end within the first block read. */
#define PGM_HEADER_BLOCK ((size_t)1 << 16)
/* A text PGM may take this many bytes a pixel (five digits and blanks, or
 * comments), plus PGM_TEXT_SLACK in all; past that it is refused unread. */
#define PGM_TEXT_BYTES_PER_PIXEL 32
#define PGM_TEXT_SLACK ((size_t)4096)
/* libpng is given at most this many bytes: the largest image allowed,
 * 2^25 pixels of 16-bit RGBA stored uncompressed, takes 256 MiB. */
#define PNG_MAX_BYTES ((size_t)512 << 20)

static int fail(char *message, size_t size, const char *format, ...)
{
    if (size > 0) {
        va_list arguments;
        va_start(arguments, format);
        vsnprintf(message, size, format, arguments);
        va_end(arguments);
    }
    return -1;
}

/* ---- PGM ---------------------------------------------------------------- */

typedef struct cursor {
    const unsigned char *data;
    size_t size, at;
} cursor;

static int is_blank(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' ||
           ch == '\f';
}

/* Skips whitespace and '#' comments (to the end of the line). */
static void skip_blanks(cursor *c)
{
    while (c->at < c->size) {
        unsigned char ch = c->data[c->at];
        if (ch == '#') {
            while (c->at < c->size && c->data[c->at] != '\n')
                c->at++;
        } else if (is_blank(ch)) {
            c->at++;
        } else {
            return;
        }
    }
}

/* A decimal number, ended by a blank, a comment or the end of the data;
 * 0 if there is none, it exceeds `limit` or other bytes follow its digits
 * ("1e3", "28x28" are not numbers). */
static int read_number(cursor *c, unsigned long limit, unsigned long *value)
{
    skip_blanks(c);
    if (c->at >= c->size || c->data[c->at] < '0' || c->data[c->at] > '9')
        return 0;
    unsigned long v = 0;
    while (c->at < c->size && c->data[c->at] >= '0' && c->data[c->at] <= '9') {
        v = v * 10 + (unsigned long)(c->data[c->at] - '0');
        if (v > limit)
            return 0;
        c->at++;
    }
    if (c->at < c->size && !is_blank(c->data[c->at]) && c->data[c->at] != '#')
        return 0;
    *value = v;
    return 1;
}

typedef struct pgm_header {
    int binary;
    unsigned long columns, rows, maxval;
    size_t at; /* where the header's last number ends */
} pgm_header;

/* Parses the header of the PGM in `data`; 0, or -1 with the message. */
static int read_pgm_header(const unsigned char *data, size_t size,
                           const char *name, pgm_header *h, char *message,
                           size_t message_size)
{
    h->binary = data[1] == '5';
    cursor c = {data, size, 2};
    /* The magic number is its own token: "P528 28 255" is not 28 x 28. */
    if (size == 2 || !is_blank(data[2]))
        return fail(message, message_size,
                    "%s: bad PGM header: no blank after the magic number P%c",
                    name, data[1]);
    if (!read_number(&c, IMAGE_MAX_SIDE, &h->columns) ||
        !read_number(&c, IMAGE_MAX_SIDE, &h->rows) ||
        !read_number(&c, 65535, &h->maxval))
        return fail(message, message_size,
                    "%s: bad PGM header at byte %zu (width and height up to "
                    "%d, maxval 1..65535)",
                    name, c.at, IMAGE_MAX_SIDE);
    if (h->columns == 0 || h->rows == 0)
        return fail(message, message_size, "%s: zero-size image (%lux%lu)",
                    name, h->columns, h->rows);
    if (h->maxval == 0)
        return fail(message, message_size, "%s: PGM maxval 0", name);
    if ((size_t)h->rows * h->columns > IMAGE_MAX_PIXELS)
        return fail(message, message_size,
                    "%s: %lux%lu pixels, more than %zu in all", name,
                    h->columns, h->rows, IMAGE_MAX_PIXELS);
    h->at = c.at;
    return 0;
}

/* The most bytes the PGM whose header is `h` can take: a binary one
 * exactly its header, one blank and its samples. */
static size_t pgm_size_bound(const pgm_header *h)
{
    const size_t count = (size_t)h->rows * h->columns;
    if (h->binary)
        return h->at + 1 + count * (h->maxval > 255 ? 2 : 1);
    return h->at + count * PGM_TEXT_BYTES_PER_PIXEL + PGM_TEXT_SLACK;
}

static int read_pgm(const unsigned char *data, size_t size, const char *name,
                    gray_image *image, char *message, size_t message_size)
{
    pgm_header h;
    if (read_pgm_header(data, size, name, &h, message, message_size) != 0)
        return -1;
    const int binary = h.binary;
    const unsigned long columns = h.columns, rows = h.rows, maxval = h.maxval;
    cursor c = {data, size, h.at};
    const size_t count = (size_t)rows * columns;
    const size_t sample = maxval > 255 ? 2 : 1;
    if (!binary && count > size - c.at)
        /* Every text pixel takes at least one digit: a header that promises
         * more than the bytes left is refused before anything is made. */
        return fail(message, message_size,
                    "%s: truncated PGM at byte %zu: %lux%lu pixels cannot fit "
                    "in the %zu bytes after the header",
                    name, size, columns, rows, size - c.at);
    if (binary) {
        /* Exactly one whitespace byte ends the header. */
        if (c.at >= size)
            return fail(message, message_size,
                        "%s: truncated PGM at byte %zu: no pixels", name, c.at);
        c.at++;
        if (size - c.at < count * sample)
            return fail(message, message_size,
                        "%s: truncated PGM at byte %zu: %lux%lu pixels need "
                        "%zu bytes after the header",
                        name, size, columns, rows, count * sample);
    }
    float *pixels = malloc(count * sizeof *pixels);
    if (!pixels)
        return fail(message, message_size, "%s: out of memory", name);
    for (size_t i = 0; i < count; i++) {
        unsigned long v;
        if (binary) {
            const unsigned char *p = data + c.at + i * sample;
            v = sample == 2 ? (unsigned long)p[0] << 8 | p[1] : p[0];
        } else if (!read_number(&c, 65535, &v)) {
            free(pixels);
            if (c.at >= size)
                return fail(message, message_size,
                            "%s: truncated PGM at byte %zu: pixel %zu of %zu "
                            "is missing",
                            name, c.at, i + 1, count);
            return fail(message, message_size,
                        "%s: bad PGM pixel at byte %zu: pixel %zu of %zu is "
                        "not a whole number up to 65535",
                        name, c.at, i + 1, count);
        }
        if (v > maxval) {
            free(pixels);
            return fail(message, message_size,
                        "%s: PGM pixel %zu of %zu is %lu, above maxval %lu",
                        name, i + 1, count, v, maxval);
        }
        pixels[i] = (float)v / (float)maxval;
    }
    image->rows = rows;
    image->columns = columns;
    image->pixels = pixels;
    return 0;
}

/* ---- PNG ---------------------------------------------------------------- */

int image_png_supported(void)
{
#ifdef COSNET_HAVE_PNG
    return 1;
#else
    return 0;
#endif
}

#ifdef COSNET_HAVE_PNG
/* Where libpng's bytes come from: memory, or a file read only as far as
 * libpng asks. */
typedef struct png_source {
    const unsigned char *data; /* NULL: read `file` */
    size_t size;
    FILE *file;
    size_t at; /* bytes given to libpng so far */
    char error[256];
} png_source;

static void png_on_error(png_structp png, png_const_charp text)
{
    png_source *source = png_get_error_ptr(png);
    if (text != source->error)
        snprintf(source->error, sizeof source->error, "%s", text);
    png_longjmp(png, 1);
}

/* libpng's warnings (an odd colour profile...) are not the user's concern. */
static void png_on_warning(png_structp png, png_const_charp text)
{
    (void)png;
    (void)text;
}

static void png_read_bytes(png_structp png, png_bytep out, size_t length)
{
    png_source *source = png_get_io_ptr(png);
    if (length > PNG_MAX_BYTES - source->at) {
        snprintf(source->error, sizeof source->error,
                 "more than %zu bytes before the image ends", PNG_MAX_BYTES);
        png_error(png, source->error);
    }
    size_t got = length;
    if (source->file)
        got = fread(out, 1, length, source->file);
    else if (length > source->size - source->at)
        got = source->size - source->at;
    else
        memcpy(out, source->data + source->at, length);
    if (got < length) {
        if (source->file && ferror(source->file))
            snprintf(source->error, sizeof source->error, "%s",
                     strerror(errno));
        else
            snprintf(source->error, sizeof source->error,
                     "truncated: the data end at byte %zu", source->at + got);
        png_error(png, source->error);
    }
    source->at += length;
}

static float png_sample(const unsigned char *p, int wide)
{
    return wide ? (float)(p[0] << 8 | p[1]) / 65535.0f : (float)p[0] / 255.0f;
}

/* One row of samples (gray, gray + alpha, RGB or RGBA, 8 or 16 bits, as
 * libpng expanded them) into gray levels. */
static void png_row_to_gray(const unsigned char *row, size_t columns,
                            unsigned channels, int wide, float background,
                            float *out)
{
    const size_t step = (size_t)(wide ? 2 : 1);
    for (size_t x = 0; x < columns; x++) {
        const unsigned char *p = row + x * channels * step;
        float v = png_sample(p, wide);
        if (channels >= 3)
            v = (float)(0.299 * v + 0.587 * png_sample(p + step, wide) +
                        0.114 * png_sample(p + 2 * step, wide));
        if (channels == 2 || channels == 4) {
            const float alpha = png_sample(p + (channels - 1) * step, wide);
            v = alpha * v + (1.0f - alpha) * background;
        }
        out[x] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
}

/* Through libpng's low-level API, which, unlike its simplified one
 * (png_image_*), converts nothing by the file's gAMA, sRGB or iCCP chunks
 * nor by its bit depth: a sample v of an N-bit file is v / (2^N - 1), as
 * in a PGM. (The simplified API takes 16-bit samples for linear light:
 * read as 8-bit sRGB, a 16-bit gray of 25% became 53%; read as linear, an
 * sRGB-tagged one became 5%.) The signature's 8 bytes have been read. */
static int read_png(png_source *source, const char *name, float background,
                    gray_image *image, char *message, size_t message_size)
{
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, source,
                                             png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return fail(message, message_size, "%s: out of memory", name);
    }
    /* Changed after setjmp and freed after a longjmp: volatile. */
    unsigned char *volatile samples = NULL;
    png_bytep *volatile rows = NULL;
    float *volatile pixels = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(samples);
        free(rows);
        free(pixels);
        return fail(message, message_size, "%s: bad PNG: %s", name,
                    source->error);
    }
    png_set_read_fn(png, source, png_read_bytes);
    png_set_sig_bytes(png, 8);
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
    png_read_info(png, info);
    const png_uint_32 width = png_get_image_width(png, info);
    const png_uint_32 height = png_get_image_height(png, info);
    if (width > IMAGE_MAX_SIDE || height > IMAGE_MAX_SIDE) {
        png_destroy_read_struct(&png, &info, NULL);
        return fail(message, message_size,
                    "%s: %ux%u pixels, larger than %d a side", name,
                    (unsigned)width, (unsigned)height, IMAGE_MAX_SIDE);
    }
    if ((size_t)width * height > IMAGE_MAX_PIXELS) {
        png_destroy_read_struct(&png, &info, NULL);
        return fail(message, message_size,
                    "%s: %ux%u pixels, more than %zu in all", name,
                    (unsigned)width, (unsigned)height, IMAGE_MAX_PIXELS);
    }
    /* Palette to RGB, gray of 1, 2 or 4 bits to 8 (scaled), a tRNS colour
     * to an alpha channel. */
    png_set_expand(png);
    const int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    const unsigned channels = png_get_channels(png, info);
    const int wide = png_get_bit_depth(png, info) == 16;
    const size_t row_bytes = png_get_rowbytes(png, info);
    if (channels < 1 || channels > 4 ||
        row_bytes != (size_t)width * channels * (wide ? 2 : 1))
        png_error(png, "unexpected layout after expansion");
    /* An interlaced image is read whole; another a row at a time. */
    const size_t held = passes > 1 ? height : 1;
    samples = malloc(held * row_bytes);
    rows = malloc(held * sizeof *rows);
    pixels = malloc((size_t)width * height * sizeof *pixels);
    if (!samples || !rows || !pixels)
        png_error(png, "out of memory");
    for (size_t y = 0; y < held; y++)
        rows[y] = samples + y * row_bytes;
    if (passes > 1)
        png_read_image(png, rows);
    for (size_t y = 0; y < height; y++) {
        if (passes == 1)
            png_read_row(png, rows[0], NULL);
        png_row_to_gray(rows[passes > 1 ? y : 0], width, channels, wide,
                        background, pixels + y * width);
    }
    png_destroy_read_struct(&png, &info, NULL);
    free(samples);
    free(rows);
    image->rows = height;
    image->columns = width;
    image->pixels = pixels;
    return 0;
}
#endif

/* ---- Entry points ------------------------------------------------------- */

enum image_kind { KIND_OTHER, KIND_PGM, KIND_PNG };

/* The kind from the first bytes (8 are enough). */
static enum image_kind image_kind(const unsigned char *data, size_t size)
{
    static const unsigned char png_signature[8] = {0x89, 'P',  'N',  'G',
                                                   '\r', '\n', 0x1a, '\n'};
    if (size >= 2 && data[0] == 'P' && (data[1] == '2' || data[1] == '5'))
        return KIND_PGM;
    if (size >= 8 && memcmp(data, png_signature, 8) == 0)
        return KIND_PNG;
    return KIND_OTHER;
}

static int refuse_kind(size_t size, enum image_kind kind, const char *name,
                       char *message, size_t message_size)
{
    if (size == 0)
        return fail(message, message_size, "%s: empty file", name);
    if (kind == KIND_PNG)
        return fail(message, message_size,
                    "%s: a PNG file, but this build has no PNG support "
                    "(libpng); convert it to PGM",
                    name);
    return fail(message, message_size, "%s: not a PGM (P2, P5) or PNG file",
                name);
}

int image_read_memory(const unsigned char *data, size_t size, const char *name,
                      float background, gray_image *image, char *message,
                      size_t message_size)
{
    const enum image_kind kind = image_kind(data, size);
    if (kind == KIND_PGM)
        return read_pgm(data, size, name, image, message, message_size);
#ifdef COSNET_HAVE_PNG
    if (kind == KIND_PNG) {
        png_source source = {data, size, NULL, 8, ""};
        return read_png(&source, name, background, image, message,
                        message_size);
    }
#else
    (void)background;
#endif
    return refuse_kind(size, kind, name, message, message_size);
}

/* A PGM whose first `have` bytes are in `start`: its header from a first
 * block, then no more than the header allows. */
static int read_pgm_file(FILE *file, const unsigned char *start, size_t have,
                         const char *path, gray_image *image, char *message,
                         size_t message_size)
{
    size_t capacity = PGM_HEADER_BLOCK;
    unsigned char *data = malloc(capacity);
    if (!data)
        return fail(message, message_size, "%s: out of memory", path);
    memcpy(data, start, have);
    size_t size = have + fread(data + have, 1, capacity - have, file);
    pgm_header h;
    int result = 0;
    if (ferror(file)) {
        result = fail(message, message_size, "%s: %s", path, strerror(errno));
    } else if (read_pgm_header(data, size, path, &h, message, message_size) !=
               0) {
        result = -1;
    } else {
        /* One byte past the bound tells a text PGM that runs over it. */
        const size_t bound = pgm_size_bound(&h);
        if (bound + 1 > capacity) {
            unsigned char *bigger = realloc(data, bound + 1);
            if (!bigger)
                result = fail(message, message_size, "%s: out of memory", path);
            else {
                data = bigger;
                capacity = bound + 1;
                size += fread(data + size, 1, capacity - size, file);
                if (ferror(file))
                    result = fail(message, message_size, "%s: %s", path,
                                  strerror(errno));
            }
        }
        if (result == 0 && size > bound) {
            if (h.binary)
                size = bound; /* what follows the pixels is not read */
            else
                result = fail(message, message_size,
                              "%s: a text PGM of %lux%lu pixels, yet longer "
                              "than %zu bytes (%d a pixel and %zu more)",
                              path, h.columns, h.rows, bound,
                              PGM_TEXT_BYTES_PER_PIXEL, PGM_TEXT_SLACK);
        }
    }
    if (result == 0)
        result = read_pgm(data, size, path, image, message, message_size);
    free(data);
    return result;
}

int image_read(const char *path, float background, gray_image *image,
               char *message, size_t message_size)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return fail(message, message_size, "%s: %s", path, strerror(errno));
    unsigned char start[8];
    const size_t have = fread(start, 1, sizeof start, file);
    const enum image_kind kind = image_kind(start, have);
    int result;
    if (ferror(file))
        result = fail(message, message_size, "%s: %s", path, strerror(errno));
    else if (kind == KIND_PGM)
        result = read_pgm_file(file, start, have, path, image, message,
                               message_size);
#ifdef COSNET_HAVE_PNG
    else if (kind == KIND_PNG) {
        png_source source = {NULL, 0, file, 8, ""};
        result =
            read_png(&source, path, background, image, message, message_size);
    }
#endif
    else
        result = refuse_kind(have, kind, path, message, message_size);
    fclose(file);
#ifndef COSNET_HAVE_PNG
    (void)background;
#endif
    return result;
}

void image_resize_area(const gray_image *in, size_t rows, size_t columns,
                       float *out)
{
    if (in->rows == rows && in->columns == columns) {
        memcpy(out, in->pixels, rows * columns * sizeof *out);
        return;
    }
    const double sy = (double)in->rows / (double)rows;
    const double sx = (double)in->columns / (double)columns;
    for (size_t r = 0; r < rows; r++) {
        const double y0 = r * sy, y1 = (r + 1) * sy;
        for (size_t c = 0; c < columns; c++) {
            const double x0 = c * sx, x1 = (c + 1) * sx;
            double sum = 0, area = 0;
            for (size_t y = (size_t)y0; y < in->rows && (double)y < y1; y++) {
                double hy = (y + 1 < y1 ? y + 1 : y1) - (y > y0 ? y : y0);
                for (size_t x = (size_t)x0; x < in->columns && (double)x < x1;
                     x++) {
                    double wx = (x + 1 < x1 ? x + 1 : x1) - (x > x0 ? x : x0);
                    sum += hy * wx * in->pixels[y * in->columns + x];
                    area += hy * wx;
                }
            }
            out[r * columns + c] = area > 0 ? (float)(sum / area) : 0.0f;
        }
    }
}
