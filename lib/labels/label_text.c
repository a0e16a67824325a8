/* Label sets as text: one vector a line, '#' comments. Written through a
 * temporary file renamed into place; read line by line with getline so any
 * line length works. Numbers are printed and parsed in the C locale whatever
 * the program's locale, so a file written under one locale reads back under
 * another. */
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
#include "labels/label_set.h"

/* Longest piece of an offending token quoted in a message. */
enum { token_quote_limit = 40 };

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
           c == '\f';
}

/* Writes the header and the rows; returns 0 on a write error (errno set). */
static int write_vectors(FILE *file, const cosnet_labels *labels)
{
    size_t count = cosnet_labels_count(labels);
    size_t dims = cosnet_labels_dims(labels);
    if (fprintf(file, "# cosnet label set: %zu vectors of %zu dimensions\n",
                count, dims) < 0)
        return 0;
    for (size_t row = 0; row < count; row++) {
        const float *vector = cosnet_labels_vector(labels, row);
        for (size_t i = 0; i < dims; i++) {
            /* 9 significant digits identify every float exactly. */
            if (fprintf(file, i ? " %.9g" : "%.9g", (double)vector[i]) < 0)
                return 0;
        }
        if (fputc('\n', file) == EOF)
            return 0;
    }
    return 1;
}

COSNET_API cosnet_status cosnet_labels_save(const cosnet_labels *labels,
                                            const char *path)
{
    if (!labels || !path)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_labels_save: %s is NULL",
                         labels ? "path" : "labels");
    locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (c_locale == (locale_t)0)
        return error_set(COSNET_ERROR_IO, "%s: cannot create the C locale: %s",
                         path, strerror(errno));

    size_t temporary_size = strlen(path) + sizeof ".tmp.XXXXXX";
    char *temporary = memory_allocate(temporary_size);
    if (!temporary) {
        freelocale(c_locale);
        return error_set(COSNET_ERROR_IO,
                         "%s: out of memory for the temporary file name", path);
    }
    snprintf(temporary, temporary_size, "%s.tmp.XXXXXX", path);

    cosnet_status status = COSNET_OK;
    const char *failed_step = NULL;
    int saved_errno = 0;
    int descriptor = mkstemp(temporary);
    if (descriptor < 0) {
        status = error_set(COSNET_ERROR_IO,
                           "%s: cannot create temporary file %s: %s", path,
                           temporary, strerror(errno));
        memory_free(temporary);
        freelocale(c_locale);
        return status;
    }
    /* mkstemp creates the file readable by its owner only; a label set is
     * an ordinary data file. */
    (void)fchmod(descriptor, 0644);

    FILE *file = fdopen(descriptor, "w");
    if (!file) {
        saved_errno = errno;
        close(descriptor);
        failed_step = "open";
    } else {
        locale_t previous = uselocale(c_locale);
        int written = write_vectors(file, labels) && fflush(file) == 0;
        saved_errno = errno;
        uselocale(previous);
        if (!written) {
            failed_step = "write";
        } else if (fsync(fileno(file)) != 0) {
            saved_errno = errno;
            failed_step = "sync";
        }
        /* fclose always releases the stream, so it runs on every path. */
        if (fclose(file) != 0 && !failed_step) {
            saved_errno = errno;
            failed_step = "close";
        }
    }
    if (!failed_step && rename(temporary, path) != 0) {
        saved_errno = errno;
        failed_step = "rename";
    }
    if (failed_step) {
        unlink(temporary);
        status =
            error_set(COSNET_ERROR_IO, "%s: cannot %s temporary file %s: %s",
                      path, failed_step, temporary, strerror(saved_errno));
    }
    memory_free(temporary);
    freelocale(c_locale);
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
