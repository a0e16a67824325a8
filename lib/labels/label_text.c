/* Label sets as text: one vector a line, '#' comments, lines of at most
 * COSNET_LABELS_MAX_LINE bytes. The same text is made and read in memory
 * (cosnet_labels_save_memory, cosnet_labels_load_memory) and in files: a
 * file is written by common/file_writer (temporary file renamed into place)
 * and read whole, then parsed as memory. Numbers are printed and parsed in the
 * C locale whatever the program's locale, so a file written under one locale
 * reads back under another. */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/memory.h"
#include "common/error.h"
#include "common/file_reader.h"
#include "common/file_writer.h"
#include "labels/label_set.h"

/* Longest piece of an offending token quoted in a message. */
enum { token_quote_limit = 40 };

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
           c == '\f';
}

/* A growing block of text from memory_*, always NUL-terminated once it
 * holds anything. */
typedef struct text_buffer {
    char *bytes;
    size_t used; /* excluding the NUL */
    size_t capacity;
} text_buffer;

static int text_append(text_buffer *text, const char *bytes, size_t size)
{
    if (size >= SIZE_MAX - text->used)
        return 0;
    size_t needed = text->used + size + 1;
    if (needed > text->capacity) {
        size_t capacity = text->capacity ? text->capacity : 1024;
        while (capacity < needed)
            capacity = capacity > SIZE_MAX / 2 ? needed : capacity * 2;
        char *grown = memory_reallocate(text->bytes, capacity);
        if (!grown)
            return 0;
        text->bytes = grown;
        text->capacity = capacity;
    }
    memcpy(text->bytes + text->used, bytes, size);
    text->used += size;
    text->bytes[text->used] = '\0';
    return 1;
}

/* The text of a label set: a header comment and one vector a line, numbers
 * in the C locale. Returns COSNET_OK with text->bytes owned by the caller
 * (memory_free), or the error with nothing allocated. */
static cosnet_status format_vectors(const cosnet_labels *labels,
                                    const char *caller, text_buffer *text)
{
    locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (c_locale == (locale_t)0)
        return error_set(COSNET_ERROR_IO, "%s: cannot create the C locale: %s",
                         caller, error_text(errno));
    locale_t previous = uselocale(c_locale);
    size_t count = cosnet_labels_count(labels);
    size_t dims = cosnet_labels_dims(labels);
    char piece[64];
    int length = snprintf(piece, sizeof piece,
                          "# cosnet label set: %zu vectors of %zu dimensions\n",
                          count, dims);
    int ok = length > 0 && (size_t)length < sizeof piece &&
             text_append(text, piece, (size_t)length);
    for (size_t row = 0; ok && row < count; row++) {
        const float *vector = cosnet_labels_vector(labels, row);
        for (size_t i = 0; ok && i < dims; i++) {
            /* 9 significant digits identify every float exactly. */
            length = snprintf(piece, sizeof piece, i ? " %.9g" : "%.9g",
                              (double)vector[i]);
            ok = length > 0 && (size_t)length < sizeof piece &&
                 text_append(text, piece, (size_t)length);
        }
        ok = ok && text_append(text, "\n", 1);
    }
    uselocale(previous);
    freelocale(c_locale);
    if (!ok) {
        size_t wanted = text->capacity;
        memory_free(text->bytes);
        *text = (text_buffer){0};
        return error_out_of_memory("label set text", wanted * 2);
    }
    return COSNET_OK;
}

COSNET_API cosnet_status cosnet_labels_save_memory(const cosnet_labels *labels,
                                                   char **text_out,
                                                   size_t *size_out)
{
    if (!labels || !text_out || !size_out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_labels_save_memory: %s is NULL",
                         !labels     ? "labels"
                         : !text_out ? "text_out"
                                     : "size_out");
    text_buffer text = {0};
    cosnet_status status =
        format_vectors(labels, "cosnet_labels_save_memory", &text);
    if (status != COSNET_OK)
        return status;
    *text_out = text.bytes;
    *size_out = text.used;
    return COSNET_OK;
}

COSNET_API cosnet_status cosnet_labels_save(const cosnet_labels *labels,
                                            const char *path)
{
    if (!labels || !path)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_labels_save: %s is NULL",
                         labels ? "path" : "labels");
    text_buffer text = {0};
    cosnet_status status = format_vectors(labels, path, &text);
    if (status != COSNET_OK)
        return status;

    /* The one file writer: temporary file, fsync, rename, umask's mode. */
    status = file_write_atomic(path, text.bytes, text.used);
    memory_free(text.bytes);
    return status;
}

/* The growing array of values read so far. */
typedef struct value_buffer {
    float *values;
    size_t used;
    size_t capacity;
} value_buffer;

static int buffer_append(value_buffer *buffer, float value)
{
    if (buffer->used == buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity : 256;
        if (buffer->capacity) {
            if (capacity > SIZE_MAX / 2 / sizeof(float))
                return 0;
            capacity *= 2;
        }
        float *grown =
            memory_reallocate(buffer->values, capacity * sizeof(float));
        if (!grown)
            return 0;
        buffer->values = grown;
        buffer->capacity = capacity;
    }
    buffer->values[buffer->used++] = value;
    return 1;
}

/* Parsing state shared by the lines of one file. */
typedef struct text_reader {
    const char *path;
    size_t line_number;
    size_t dims;       /* values per vector, fixed by the first one */
    size_t first_line; /* the line of the first vector */
    size_t count;      /* vectors read */
    value_buffer buffer;
} text_reader;

/* Parses one line into the buffer. Returns COSNET_OK (also for blank and
 * comment lines) or the error, with the message set. */
static cosnet_status parse_line(text_reader *reader, const char *line)
{
    const char *cursor = line;
    while (is_blank(*cursor))
        cursor++;
    if (*cursor == '\0' || *cursor == '#')
        return COSNET_OK;

    size_t row_values = 0;
    int all_zero = 1;
    while (*cursor != '\0') {
        const char *token = cursor;
        size_t token_length = 0;
        while (token[token_length] != '\0' && !is_blank(token[token_length]))
            token_length++;
        int quoted = token_length > token_quote_limit ? token_quote_limit
                                                      : (int)token_length;
        const char *ellipsis = token_length > token_quote_limit ? "..." : "";

        char *end;
        float value = strtof(token, &end);
        if (end != token + token_length)
            return error_set(COSNET_ERROR_BAD_FORMAT,
                             "%s:%zu: '%.*s%s' is not a number", reader->path,
                             reader->line_number, quoted, token, ellipsis);
        /* Underflow to a subnormal or zero is fine (it is what "%.9g"
         * prints for tiny floats); overflow gives infinity, caught here. */
        if (!isfinite(value))
            return error_set(COSNET_ERROR_NOT_FINITE,
                             "%s:%zu: value %zu '%.*s%s' is not finite",
                             reader->path, reader->line_number, row_values + 1,
                             quoted, token, ellipsis);
        if (!buffer_append(&reader->buffer, value))
            return error_out_of_memory(
                "label values", (reader->buffer.used + 1) * sizeof(float));
        if (value != 0.0f)
            all_zero = 0;
        row_values++;
        cursor = token + token_length;
        while (is_blank(*cursor))
            cursor++;
    }

    if (reader->count == 0) {
        reader->dims = row_values;
        reader->first_line = reader->line_number;
    } else if (row_values != reader->dims) {
        return error_set(COSNET_ERROR_MISMATCH,
                         "%s:%zu: %zu value%s, but the first vector (line "
                         "%zu) has %zu",
                         reader->path, reader->line_number, row_values,
                         row_values == 1 ? "" : "s", reader->first_line,
                         reader->dims);
    }
    if (all_zero)
        return error_set(COSNET_ERROR_BAD_FORMAT,
                         "%s:%zu: the vector is all zero", reader->path,
                         reader->line_number);
    double norm = sqrt(labels_row_squared_norm(
        reader->buffer.values + reader->buffer.used - row_values, row_values));
    if (!(norm >= COSNET_LABELS_MIN_NORM))
        return error_set(COSNET_ERROR_OUT_OF_RANGE,
                         "%s:%zu: the vector's norm %.9g is below the minimum "
                         "%g",
                         reader->path, reader->line_number, norm,
                         COSNET_LABELS_MIN_NORM);
    reader->count++;
    return COSNET_OK;
}

/* Copies line after line of `data` into a NUL-terminated buffer of its own
 * (strtof needs the terminator; the data need not have one) and parses
 * each. */
static cosnet_status read_vectors(const char *data, size_t size,
                                  text_reader *reader)
{
    char *line = NULL;
    size_t line_capacity = 0;
    size_t position = 0;
    cosnet_status status = COSNET_OK;
    while (position < size) {
        const char *start = data + position;
        const char *newline = memchr(start, '\n', size - position);
        size_t length = newline ? (size_t)(newline - start) : size - position;
        reader->line_number++;
        if (length > COSNET_LABELS_MAX_LINE) {
            status = error_set(COSNET_ERROR_OUT_OF_RANGE,
                               "%s:%zu: the line is longer than the maximum "
                               "of %u bytes",
                               reader->path, reader->line_number,
                               (unsigned)COSNET_LABELS_MAX_LINE);
            break;
        }
        const char *nul = memchr(start, '\0', length);
        if (nul) {
            status = error_set(COSNET_ERROR_BAD_FORMAT,
                               "%s:%zu: contains a NUL byte (at byte %zu)",
                               reader->path, reader->line_number,
                               (size_t)(nul - data));
            break;
        }
        if (length + 1 > line_capacity) {
            size_t capacity = line_capacity ? line_capacity : 256;
            while (capacity < length + 1)
                capacity *= 2; /* at most 2 MiB + 2: length is bounded */
            char *grown = memory_reallocate(line, capacity);
            if (!grown) {
                status = error_out_of_memory("a line", capacity);
                break;
            }
            line = grown;
            line_capacity = capacity;
        }
        memcpy(line, start, length);
        line[length] = '\0';
        status = parse_line(reader, line);
        if (status != COSNET_OK)
            break;
        position += length + (newline ? 1 : 0);
    }
    memory_free(line);
    if (status == COSNET_OK && reader->count == 0)
        status = error_set(COSNET_ERROR_BAD_FORMAT, "%s: no vectors (%s)",
                           reader->path,
                           size == 0 ? "it is empty"
                                     : "it holds only comments and blank "
                                       "lines");
    return status;
}

/* Parses `size` bytes of label-set text; `name` stands for the source in
 * messages (a path, or "<memory>"). */
static cosnet_status load_text(const char *data, size_t size, const char *name,
                               cosnet_labels **out)
{
    locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (c_locale == (locale_t)0)
        return error_set(COSNET_ERROR_IO, "%s: cannot create the C locale: %s",
                         name, error_text(errno));
    locale_t previous = uselocale(c_locale);
    text_reader reader = {.path = name};
    cosnet_status status = read_vectors(data, size, &reader);
    uselocale(previous);
    freelocale(c_locale);
    /* Every row is already checked (with its line number), so create can
     * only fail for memory. */
    if (status == COSNET_OK)
        status = cosnet_labels_create(reader.count, reader.dims,
                                      reader.buffer.values, out);
    memory_free(reader.buffer.values);
    return status;
}

COSNET_API cosnet_status cosnet_labels_load_memory(const void *data,
                                                   size_t size,
                                                   cosnet_labels **out)
{
    if (!data || !out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_labels_load_memory: %s is NULL",
                         data ? "out" : "data");
    return load_text(data, size, "<memory>", out);
}

/* Label-set files are read whole, up to this. */
#define LABEL_FILE_MAX_BYTES ((size_t)1 << 30)

COSNET_API cosnet_status cosnet_labels_load(const char *path,
                                            cosnet_labels **out)
{
    if (!path || !out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_labels_load: %s is NULL",
                         path ? "out" : "path");
    unsigned char *bytes = NULL;
    size_t size = 0;
    cosnet_status status =
        file_read_whole(path, LABEL_FILE_MAX_BYTES, &bytes, &size);
    if (status != COSNET_OK)
        return status;
    status = load_text((const char *)bytes, size, path, out);
    memory_free(bytes);
    return status;
}
