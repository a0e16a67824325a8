/* Grayscale images from PGM and PNG files (see image_file.h). PGM is read
 * here (a few lines of a simple format); PNG through libpng, the
 * well-kept decoder, when the build has it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_file.h"

#ifdef COSNET_HAVE_PNG
#include <png.h>
#endif

/* Files are read whole, up to this many bytes. */
#define IMAGE_MAX_FILE_BYTES ((size_t)1 << 30)

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

static int read_pgm(const unsigned char *data, size_t size, const char *name,
                    gray_image *image, char *message, size_t message_size)
{
    const int binary = data[1] == '5';
    cursor c = {data, size, 2};
    /* The magic number is its own token: "P528 28 255" is not 28 x 28. */
    if (size == 2 || !is_blank(data[2]))
        return fail(message, message_size,
                    "%s: bad PGM header: no blank after the magic number P%c",
                    name, data[1]);
    unsigned long columns, rows, maxval;
    if (!read_number(&c, IMAGE_MAX_SIDE, &columns) ||
        !read_number(&c, IMAGE_MAX_SIDE, &rows) ||
        !read_number(&c, 65535, &maxval))
        return fail(message, message_size,
                    "%s: bad PGM header at byte %zu (width and height up to "
                    "%d, maxval 1..65535)",
                    name, c.at, IMAGE_MAX_SIDE);
    if (columns == 0 || rows == 0)
        return fail(message, message_size, "%s: zero-size image (%lux%lu)",
                    name, columns, rows);
    if (maxval == 0)
        return fail(message, message_size, "%s: PGM maxval 0", name);
    const size_t count = (size_t)rows * columns;
    if (count > IMAGE_MAX_PIXELS)
        return fail(message, message_size,
                    "%s: %lux%lu pixels, more than %zu in all", name, columns,
                    rows, IMAGE_MAX_PIXELS);
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
static int read_png(const unsigned char *data, size_t size, const char *name,
                    gray_image *image, char *message, size_t message_size)
{
    png_image png;
    memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&png, data, size))
        return fail(message, message_size, "%s: bad PNG: %s", name,
                    png.message);
    if (png.width == 0 || png.height == 0) {
        png_image_free(&png);
        return fail(message, message_size, "%s: zero-size image", name);
    }
    if (png.width > IMAGE_MAX_SIDE || png.height > IMAGE_MAX_SIDE) {
        png_image_free(&png);
        return fail(message, message_size,
                    "%s: %ux%u pixels, larger than %d a side", name,
                    (unsigned)png.width, (unsigned)png.height, IMAGE_MAX_SIDE);
    }
    if ((size_t)png.width * png.height > IMAGE_MAX_PIXELS) {
        png_image_free(&png);
        return fail(
            message, message_size, "%s: %ux%u pixels, more than %zu in all",
            name, (unsigned)png.width, (unsigned)png.height, IMAGE_MAX_PIXELS);
    }
    /* 8-bit gray; libpng composites alpha over the background (white). */
    png.format = PNG_FORMAT_GRAY;
    const size_t count = (size_t)png.width * png.height;
    unsigned char *gray = malloc(count);
    float *pixels = malloc(count * sizeof *pixels);
    png_color white = {255, 255, 255};
    if (!gray || !pixels ||
        !png_image_finish_read(&png, &white, gray, 0, NULL)) {
        int result = fail(message, message_size, "%s: bad PNG: %s", name,
                          gray && pixels ? png.message : "out of memory");
        png_image_free(&png);
        free(gray);
        free(pixels);
        return result;
    }
    for (size_t i = 0; i < count; i++)
        pixels[i] = (float)gray[i] / 255.0f;
    free(gray);
    image->rows = png.height;
    image->columns = png.width;
    image->pixels = pixels;
    return 0;
}
#endif

/* ---- Entry points ------------------------------------------------------- */

int image_read_memory(const unsigned char *data, size_t size, const char *name,
                      gray_image *image, char *message, size_t message_size)
{
    static const unsigned char png_signature[8] = {0x89, 'P',  'N',  'G',
                                                   '\r', '\n', 0x1a, '\n'};
    if (size == 0)
        return fail(message, message_size, "%s: empty file", name);
    if (size >= 2 && data[0] == 'P' && (data[1] == '2' || data[1] == '5'))
        return read_pgm(data, size, name, image, message, message_size);
    if (size >= 8 && memcmp(data, png_signature, 8) == 0) {
#ifdef COSNET_HAVE_PNG
        return read_png(data, size, name, image, message, message_size);
#else
        return fail(message, message_size,
                    "%s: a PNG file, but this build has no PNG support "
                    "(libpng); convert it to PGM",
                    name);
#endif
    }
    return fail(message, message_size, "%s: not a PGM (P2, P5) or PNG file",
                name);
}

int image_read(const char *path, gray_image *image, char *message,
               size_t message_size)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return fail(message, message_size, "%s: %s", path, strerror(errno));
    size_t capacity = 1 << 16, size = 0;
    unsigned char *data = malloc(capacity);
    int result = 0;
    while (data) {
        size_t got = fread(data + size, 1, capacity - size, file);
        size += got;
        if (size < capacity) {
            if (ferror(file))
                result = fail(message, message_size, "%s: %s", path,
                              strerror(errno));
            break;
        }
        if (capacity >= IMAGE_MAX_FILE_BYTES) {
            result = fail(message, message_size, "%s: larger than %zu bytes",
                          path, IMAGE_MAX_FILE_BYTES);
            break;
        }
        unsigned char *bigger = realloc(data, capacity * 2);
        if (!bigger)
            break;
        data = bigger;
        capacity *= 2;
    }
    fclose(file);
    if (!data || (result == 0 && size == capacity)) {
        free(data);
        return result ? result
                      : fail(message, message_size, "%s: out of memory", path);
    }
    if (result == 0)
        result =
            image_read_memory(data, size, path, image, message, message_size);
    free(data);
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
