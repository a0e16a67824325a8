/* Label sets as text: one vector a line, '#' comments. Formatted in memory,
 * then written by common/file_writer (temporary file renamed into place); read
 * line by line with getline so any line length works. Numbers are printed and
 * parsed in the C locale whatever the program's locale, so a file written under
 * one locale reads back under another. */
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
#include "common/file_writer.h"

/* Longest piece of an offending token quoted in a message. */
enum { token_quote_limit = 40 };

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
           c == '\f';
}

/* Longest text "%.9g" gives for a float ("-1.17549435e-38"), with room to
 * spare, plus the separator. */
enum { value_text_bound = 24 };

/* Formats the header and the rows into `text` (`size` bytes, enough by
 * construction); returns the length, or 0 if it did not fit. */
static size_t format_vectors(const cosnet_labels *labels, char *text,
                             size_t size)
{
    size_t count = cosnet_labels_count(labels);
    size_t dims = cosnet_labels_dims(labels);
    size_t used = 0;
    int written = snprintf(
        text, size, "# cosnet label set: %zu vectors of %zu dimensions\n",
        count, dims);
    if (written < 0 || (size_t)written >= size)
        return 0;
    used = (size_t)written;
    for (size_t row = 0; row < count; row++) {
        const float *vector = cosnet_labels_vector(labels, row);
        for (size_t i = 0; i < dims; i++) {
            /* 9 significant digits identify every float exactly. */
            written = snprintf(text + used, size - used, i ? " %.9g" : "%.9g",
                               (double)vector[i]);
            if (written < 0 || (size_t)written >= size - used)
                return 0;
            used += (size_t)written;
        }
        if (used + 1 >= size)
            return 0;
        text[used++] = '\n';
        text[used] = '\0';
    }
    return used;
}

COSNET_API cosnet_status cosnet_labels_save(const cosnet_labels *labels,
                                            const char *path)
{
    if (!labels || !path)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_labels_save: %s is NULL",
                         labels ? "path" : "labels");
    size_t count = cosnet_labels_count(labels);
    size_t dims = cosnet_labels_dims(labels);
    /* header + count rows of dims values and a newline */
    if (dims > (SIZE_MAX - 256) / value_text_bound / (count ? count : 1) - 1)
        return error_out_of_memory("the label set's text", SIZE_MAX);
    size_t size = 256 + count * (dims * value_text_bound + 1);
    char *text = memory_allocate(size);
    if (!text)
        return error_out_of_memory("the label set's text", size);
    locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (c_locale == (locale_t)0) {
        memory_free(text);
        return error_set(COSNET_ERROR_IO, "%s: cannot create the C locale: %s",
                         path, strerror(errno));
    }
    locale_t previous = uselocale(c_locale);
    size_t length = format_vectors(labels, text, size);
    uselocale(previous);
    freelocale(c_locale);
    /* Temporary file, fsync, rename, folder fsync: common/file_writer.h. */
    cosnet_status status = length
                               ? file_write_atomic(path, text, length)
                               : error_set(COSNET_ERROR_IO,
                                           "%s: the text of %zu x %zu values "
                                           "did not fit its buffer",
                                           path, count, dims);
    memory_free(text);
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
    reader->count++;
    return COSNET_OK;
}

static cosnet_status read_vectors(FILE *file, text_reader *reader)
{
    char *line = NULL;
    size_t line_capacity = 0;
    cosnet_status status = COSNET_OK;
    for (;;) {
        errno = 0;
        ssize_t length = getline(&line, &line_capacity, file);
        if (length < 0) {
            int read_errno = errno;
            if (ferror(file) || !feof(file))
                status = read_errno == ENOMEM
                             ? error_out_of_memory("a line", line_capacity)
                             : error_set(COSNET_ERROR_IO,
                                         "%s: read error after line %zu: %s",
                                         reader->path, reader->line_number,
                                         strerror(read_errno));
            break;
        }
        reader->line_number++;
        if (strlen(line) != (size_t)length) {
            status = error_set(COSNET_ERROR_BAD_FORMAT,
                               "%s:%zu: contains a NUL byte", reader->path,
                               reader->line_number);
            break;
        }
        status = parse_line(reader, line);
        if (status != COSNET_OK)
            break;
    }
    free(line); /* getline allocates with malloc */
    if (status == COSNET_OK && reader->count == 0)
        status = error_set(COSNET_ERROR_BAD_FORMAT,
                           "%s: no vectors (the file is empty or holds only "
                           "comments and blank lines)",
                           reader->path);
    return status;
}

COSNET_API cosnet_status cosnet_labels_load(const char *path,
                                            cosnet_labels **out)
{
    if (!path || !out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_labels_load: %s is NULL",
                         path ? "out" : "path");
    FILE *file = fopen(path, "r");
    if (!file)
        return error_set(COSNET_ERROR_IO, "%s: cannot open: %s", path,
                         strerror(errno));
    locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (c_locale == (locale_t)0) {
        fclose(file);
        return error_set(COSNET_ERROR_IO, "%s: cannot create the C locale: %s",
                         path, strerror(errno));
    }
    locale_t previous = uselocale(c_locale);
    text_reader reader = {.path = path};
    cosnet_status status = read_vectors(file, &reader);
    uselocale(previous);
    freelocale(c_locale);
    fclose(file);
    /* Every row is already checked (with its line number), so create can
     * only fail for memory. */
    if (status == COSNET_OK)
        status = cosnet_labels_create(reader.count, reader.dims,
                                      reader.buffer.values, out);
    memory_free(reader.buffer.values);
    return status;
}
