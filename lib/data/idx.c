/* Reading IDX files: the whole file into memory (gzip recognised by its
 * magic bytes and inflated with zlib), then the big-endian header checked
 * against the data actually present. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/memory.h"
#include "common/error.h"
#include "data/idx.h"

enum {
    /* Compressed input is fed to inflate in chunks of this size. */
    GZIP_CHUNK_BYTES = 256 * 1024,
    /* Smallest buffer worth allocating. */
    MINIMUM_CAPACITY = 4096,
    /* Deflate cannot expand data by more than about this ratio, which
     * bounds any size hint taken from a small compressed file. */
    DEFLATE_MAX_RATIO = 1032
};

static const char *describe_errno(int number, char *text, size_t size)
{
    /* strerror_r (the POSIX one) because strerror is not thread-safe. */
    if (strerror_r(number, text, size) != 0)
        snprintf(text, size, "error %d", number);
    return text;
}

static cosnet_status io_error(const char *path, const char *action, int number)
{
    char text[128];
    return error_set(COSNET_ERROR_IO, "%s: cannot %s: %s", path, action,
                     describe_errno(number, text, sizeof text));
}

/* Reads up to `size` bytes, retrying interrupted and short reads; *got < size
 * only at end of file. */
static cosnet_status read_fully(int descriptor, const char *path,
                                uint8_t *buffer, size_t size, size_t *got)
{
    size_t total = 0;
    while (total < size) {
        ssize_t n = read(descriptor, buffer + total, size - total);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return io_error(path, "read", errno);
        }
        if (n == 0)
            break;
        total += (size_t)n;
    }
    *got = total;
    return COSNET_OK;
}

static cosnet_status too_large(const char *path, size_t max_bytes,
                               int compressed)
{
    return error_set(COSNET_ERROR_OVERFLOW,
                     "%s: %s more than the %zu-byte limit for an IDX file",
                     path, compressed ? "decompresses to" : "holds", max_bytes);
}

/* Doubles the buffer, up to max_bytes + 1: one byte past the limit is how a
 * too-large file shows itself without reading further. */
static cosnet_status grow(const char *path, uint8_t **buffer, size_t *capacity,
                          size_t max_bytes, int compressed)
{
    size_t ceiling = max_bytes + 1;
    if (*capacity >= ceiling)
        return too_large(path, max_bytes, compressed);
    size_t wanted = *capacity < MINIMUM_CAPACITY ? MINIMUM_CAPACITY : *capacity;
    wanted = wanted > ceiling / 2 ? ceiling : wanted * 2;
    uint8_t *bigger = memory_reallocate(*buffer, wanted);
    if (!bigger)
        return error_out_of_memory(path, wanted);
    *buffer = bigger;
    *capacity = wanted;
    return COSNET_OK;
}

/* A first capacity from a size hint, clamped to [MINIMUM_CAPACITY,
 * max_bytes + 1]; + 1 so that reading exactly `hint` bytes reaches end of
 * file without a needless grow. */
static size_t first_capacity(uint64_t hint, size_t max_bytes)
{
    if (hint >= (uint64_t)max_bytes)
        return max_bytes + 1;
    size_t capacity = (size_t)hint + 1;
    return capacity < MINIMUM_CAPACITY ? MINIMUM_CAPACITY : capacity;
}

static cosnet_status read_raw(int descriptor, const char *path,
                              const uint8_t *prefix, size_t prefix_size,
                              uint64_t file_size, size_t max_bytes,
                              uint8_t **bytes_out, size_t *size_out)
{
    /* A regular file's size is a fact, not a claim: refuse early. */
    if (file_size > (uint64_t)max_bytes)
        return too_large(path, max_bytes, 0);
    size_t capacity = first_capacity(file_size, max_bytes);
    uint8_t *buffer = memory_allocate(capacity);
    if (!buffer)
        return error_out_of_memory(path, capacity);
    memcpy(buffer, prefix, prefix_size);
    size_t size = prefix_size;
    cosnet_status status = COSNET_OK;
    for (;;) {
        if (size == capacity) {
            status = grow(path, &buffer, &capacity, max_bytes, 0);
            if (status != COSNET_OK)
                break;
        }
        size_t got = 0;
        status =
            read_fully(descriptor, path, buffer + size, capacity - size, &got);
        if (status != COSNET_OK)
            break;
        size += got;
        if (size < capacity)
            break; /* end of file */
    }
    if (status == COSNET_OK && size > max_bytes)
        status = too_large(path, max_bytes, 0);
    if (status != COSNET_OK) {
        memory_free(buffer);
        return status;
    }
    *bytes_out = buffer;
    *size_out = size;
    return COSNET_OK;
}

/* The gzip trailer's ISIZE (uncompressed size mod 2^32) of the last member,
 * used only as a first guess of the buffer size; 0 if unreadable. */
static uint64_t gzip_size_hint(int descriptor, uint64_t file_size)
{
    uint8_t trailer[4];
    if (file_size < 18) /* 10-byte header + 8-byte trailer */
        return 0;
    if (pread(descriptor, trailer, 4, (off_t)(file_size - 4)) != 4)
        return 0;
    uint64_t isize = (uint64_t)trailer[0] | (uint64_t)trailer[1] << 8 |
                     (uint64_t)trailer[2] << 16 | (uint64_t)trailer[3] << 24;
    uint64_t bound = file_size * DEFLATE_MAX_RATIO;
    return isize < bound ? isize : bound;
}

typedef struct gzip_reader {
    int descriptor;
    const char *path;
    z_stream stream;
    uint8_t *input;
    size_t input_read; /* compressed bytes read from the file so far */
    int end_of_file;
} gzip_reader;

/* Refills the input after keeping any unconsumed bytes at its start. */
static cosnet_status gzip_refill(gzip_reader *reader)
{
    size_t kept = reader->stream.avail_in;
    if (kept > 0 && reader->stream.next_in != reader->input)
        memmove(reader->input, reader->stream.next_in, kept);
    reader->stream.next_in = reader->input;
    if (reader->end_of_file)
        return COSNET_OK;
    size_t got = 0;
    cosnet_status status =
        read_fully(reader->descriptor, reader->path, reader->input + kept,
                   GZIP_CHUNK_BYTES - kept, &got);
    if (status != COSNET_OK)
        return status;
    if (got < GZIP_CHUNK_BYTES - kept)
        reader->end_of_file = 1;
    reader->input_read += got;
    reader->stream.avail_in = (uInt)(kept + got);
    return COSNET_OK;
}

static size_t gzip_consumed(const gzip_reader *reader)
{
    return reader->input_read - reader->stream.avail_in;
}

/* After a member's end: done at end of file, on to the next member if
 * another gzip header follows, CORRUPT if anything else does. *finished is
 * set when the file is done. */
static cosnet_status gzip_after_member(gzip_reader *reader, int *finished)
{
    cosnet_status status = COSNET_OK;
    if (reader->stream.avail_in < 2 && !reader->end_of_file)
        status = gzip_refill(reader);
    if (status != COSNET_OK)
        return status;
    if (reader->stream.avail_in == 0) {
        *finished = 1;
        return COSNET_OK;
    }
    const uint8_t *next = reader->stream.next_in;
    if (reader->stream.avail_in >= 2 && next[0] == 0x1f && next[1] == 0x8b) {
        if (inflateReset(&reader->stream) != Z_OK)
            return error_set(COSNET_ERROR_CORRUPT,
                             "%s: cannot restart inflate at byte %zu",
                             reader->path, gzip_consumed(reader));
        return COSNET_OK;
    }
    return error_set(COSNET_ERROR_CORRUPT,
                     "%s: corrupt gzip: junk byte 0x%02x at byte %zu, after "
                     "the end of the compressed stream",
                     reader->path, next[0], gzip_consumed(reader));
}

static cosnet_status read_gzip(int descriptor, const char *path,
                               const uint8_t *prefix, size_t prefix_size,
                               uint64_t file_size, size_t max_bytes,
                               uint8_t **bytes_out, size_t *size_out)
{
    gzip_reader reader;
    memset(&reader, 0, sizeof reader);
    reader.descriptor = descriptor;
    reader.path = path;
    reader.input = memory_allocate(GZIP_CHUNK_BYTES);
    if (!reader.input)
        return error_out_of_memory(path, GZIP_CHUNK_BYTES);
    memcpy(reader.input, prefix, prefix_size);
    reader.stream.next_in = reader.input;
    reader.stream.avail_in = (uInt)prefix_size;
    reader.input_read = prefix_size;

    /* 16 + MAX_WBITS: expect and check the gzip header and CRC trailer. */
    int code = inflateInit2(&reader.stream, 16 + MAX_WBITS);
    if (code != Z_OK) {
        memory_free(reader.input);
        return code == Z_MEM_ERROR
                   ? error_out_of_memory("zlib inflate state", 0)
                   : error_set(COSNET_ERROR_CORRUPT,
                               "%s: inflateInit2 failed (%d)", path, code);
    }

    size_t capacity =
        first_capacity(gzip_size_hint(descriptor, file_size), max_bytes);
    uint8_t *buffer = memory_allocate(capacity);
    size_t size = 0;
    cosnet_status status =
        buffer ? COSNET_OK : error_out_of_memory(path, capacity);
    while (status == COSNET_OK) {
        if (reader.stream.avail_in == 0 && !reader.end_of_file) {
            status = gzip_refill(&reader);
            if (status != COSNET_OK)
                break;
        }
        if (size == capacity) {
            status = grow(path, &buffer, &capacity, max_bytes, 1);
            if (status != COSNET_OK)
                break;
        }
        size_t room = capacity - size;
        /* avail_out is a uInt; hand over at most 1 GiB at a time. */
        uInt offered = room > ((size_t)1 << 30) ? (uInt)1 << 30 : (uInt)room;
        reader.stream.next_out = buffer + size;
        reader.stream.avail_out = offered;
        code = inflate(&reader.stream, Z_NO_FLUSH);
        size += offered - reader.stream.avail_out;
        if (code == Z_STREAM_END) {
            int finished = 0;
            status = gzip_after_member(&reader, &finished);
            if (finished)
                break;
        } else if (code == Z_DATA_ERROR || code == Z_NEED_DICT ||
                   code == Z_STREAM_ERROR) {
            status = error_set(
                COSNET_ERROR_CORRUPT, "%s: corrupt gzip data near byte %zu: %s",
                path, gzip_consumed(&reader),
                reader.stream.msg ? reader.stream.msg : "invalid stream");
        } else if (code == Z_MEM_ERROR) {
            status = error_out_of_memory("zlib inflate", 0);
        } else if (reader.stream.avail_out != 0 &&
                   reader.stream.avail_in == 0 && reader.end_of_file) {
            /* Room to write but nothing left to read: the file stops in the
             * middle of the stream. */
            status = error_set(COSNET_ERROR_TRUNCATED,
                               "%s: truncated gzip stream: the file ends "
                               "after %zu compressed bytes (%zu decompressed) "
                               "before the stream does",
                               path, gzip_consumed(&reader), size);
        }
    }
    inflateEnd(&reader.stream);
    memory_free(reader.input);
    if (status == COSNET_OK && size > max_bytes)
        status = too_large(path, max_bytes, 1);
    if (status != COSNET_OK) {
        memory_free(buffer);
        return status;
    }
    *bytes_out = buffer;
    *size_out = size;
    return COSNET_OK;
}

cosnet_status idx_read_file(const char *path, size_t max_bytes,
                            uint8_t **bytes_out, size_t *size_out,
                            int *was_compressed)
{
    if (!path || !bytes_out || !size_out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "idx_read_file: NULL argument");
    int descriptor;
    do {
        descriptor = open(path, O_RDONLY);
    } while (descriptor < 0 && errno == EINTR);
    if (descriptor < 0)
        return io_error(path, "open", errno);

    struct stat info;
    cosnet_status status = COSNET_OK;
    if (fstat(descriptor, &info) != 0)
        status = io_error(path, "stat", errno);
    else if (S_ISDIR(info.st_mode))
        status = io_error(path, "read", EISDIR);
    uint64_t file_size =
        (status == COSNET_OK && S_ISREG(info.st_mode) && info.st_size > 0)
            ? (uint64_t)info.st_size
            : 0;

    /* The form is decided by content, never by the file name. */
    uint8_t prefix[2];
    size_t prefix_size = 0;
    if (status == COSNET_OK)
        status =
            read_fully(descriptor, path, prefix, sizeof prefix, &prefix_size);
    int compressed = prefix_size == 2 && prefix[0] == 0x1f && prefix[1] == 0x8b;
    if (status == COSNET_OK) {
        status = compressed
                     ? read_gzip(descriptor, path, prefix, prefix_size,
                                 file_size, max_bytes, bytes_out, size_out)
                     : read_raw(descriptor, path, prefix, prefix_size,
                                file_size, max_bytes, bytes_out, size_out);
    }
    close(descriptor);
    if (status == COSNET_OK && was_compressed)
        *was_compressed = compressed;
    return status;
}

static size_t read_big_endian_32(const uint8_t *bytes)
{
    return (size_t)((uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 |
                    (uint32_t)bytes[2] << 8 | (uint32_t)bytes[3]);
}

/* "the file has 1000 bytes" / "... once decompressed": the sizes in
 * messages are always of the decompressed contents. */
static const char *size_note(int was_compressed)
{
    return was_compressed ? " once decompressed" : "";
}

static int multiply_fits(size_t a, size_t b, size_t *product)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *product = a * b;
    return 1;
}

cosnet_status idx_parse(const char *path, const uint8_t *bytes, size_t size,
                        int was_compressed, unsigned expected_dimensions,
                        idx_layout *layout)
{
    if (!path || (!bytes && size > 0) || !layout ||
        (expected_dimensions != 1 && expected_dimensions != 3))
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "idx_parse: invalid argument");
    const char *kind = expected_dimensions == 3 ? "images" : "labels";
    if (size < 4)
        return error_set(COSNET_ERROR_TRUNCATED,
                         "%s: truncated at byte %zu: too short for the 4-byte "
                         "IDX magic%s",
                         path, size, size_note(was_compressed));
    if (bytes[0] != 0 || bytes[1] != 0)
        return error_set(COSNET_ERROR_BAD_MAGIC,
                         "%s: not an IDX %s file: magic bytes %02x %02x %02x "
                         "%02x, expected 00 00 08 %02x",
                         path, kind, bytes[0], bytes[1], bytes[2], bytes[3],
                         expected_dimensions);
    if (bytes[2] != 0x08)
        return error_set(COSNET_ERROR_BAD_FORMAT,
                         "%s: IDX element type 0x%02x (magic 00 00 %02x %02x), "
                         "expected 0x08 (unsigned byte)",
                         path, bytes[2], bytes[2], bytes[3]);
    if (bytes[3] != expected_dimensions)
        return error_set(COSNET_ERROR_BAD_FORMAT,
                         "%s: IDX file with %u dimensions (magic 00 00 08 "
                         "%02x), expected %u for %s (magic 00 00 08 %02x)",
                         path, (unsigned)bytes[3], bytes[3],
                         expected_dimensions, kind, expected_dimensions);

    idx_layout result;
    memset(&result, 0, sizeof result);
    result.dimension_count = expected_dimensions;
    result.header_bytes = 4 + 4 * (size_t)expected_dimensions;
    if (size < result.header_bytes)
        return error_set(COSNET_ERROR_TRUNCATED,
                         "%s: truncated at byte %zu: the IDX %s header needs "
                         "%zu bytes%s",
                         path, size, kind, result.header_bytes,
                         size_note(was_compressed));
    for (unsigned d = 0; d < expected_dimensions; d++)
        result.dimensions[d] = read_big_endian_32(bytes + 4 + 4 * d);

    size_t count = result.dimensions[0];
    size_t data_bytes = 0, total_bytes = 0;
    if (expected_dimensions == 3) {
        size_t rows = result.dimensions[1], columns = result.dimensions[2];
        if (count == 0 || rows == 0 || columns == 0)
            return error_set(COSNET_ERROR_BAD_FORMAT,
                             "%s: header declares %zu images of %zux%zu; "
                             "every dimension must be non-zero",
                             path, count, rows, columns);
        size_t image_bytes = 0;
        if (!multiply_fits(rows, columns, &image_bytes) ||
            !multiply_fits(count, image_bytes, &data_bytes) ||
            data_bytes > SIZE_MAX - result.header_bytes)
            return error_set(COSNET_ERROR_OVERFLOW,
                             "%s: header declares %zu images of %zux%zu, a "
                             "size that overflows size_t",
                             path, count, rows, columns);
        total_bytes = result.header_bytes + data_bytes;
        if (size < total_bytes)
            return error_set(COSNET_ERROR_TRUNCATED,
                             "%s: truncated at byte %zu: header declares %zu "
                             "images of %zux%zu (%zu bytes) but the file has "
                             "%zu%s",
                             path, size, count, rows, columns, total_bytes,
                             size, size_note(was_compressed));
        if (size > total_bytes)
            return error_set(COSNET_ERROR_BAD_FORMAT,
                             "%s: %zu trailing bytes: header declares %zu "
                             "images of %zux%zu (%zu bytes) but the file has "
                             "%zu%s",
                             path, size - total_bytes, count, rows, columns,
                             total_bytes, size, size_note(was_compressed));
    } else {
        if (count == 0)
            return error_set(COSNET_ERROR_BAD_FORMAT,
                             "%s: header declares 0 labels", path);
        data_bytes = count; /* 8 + up to 2^32 - 1 fits a 64-bit size_t */
        if (data_bytes > SIZE_MAX - result.header_bytes)
            return error_set(COSNET_ERROR_OVERFLOW,
                             "%s: header declares %zu labels, a size that "
                             "overflows size_t",
                             path, count);
        total_bytes = result.header_bytes + data_bytes;
        if (size < total_bytes)
            return error_set(COSNET_ERROR_TRUNCATED,
                             "%s: truncated at byte %zu: header declares %zu "
                             "labels (%zu bytes) but the file has %zu%s",
                             path, size, count, total_bytes, size,
                             size_note(was_compressed));
        if (size > total_bytes)
            return error_set(COSNET_ERROR_BAD_FORMAT,
                             "%s: %zu trailing bytes: header declares %zu "
                             "labels (%zu bytes) but the file has %zu%s",
                             path, size - total_bytes, count, total_bytes, size,
                             size_note(was_compressed));
    }
    result.element_count = data_bytes;
    *layout = result;
    return COSNET_OK;
}

cosnet_status idx_load(const char *path, unsigned expected_dimensions,
                       idx_contents *out)
{
    if (!path || !out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "idx_load: NULL argument");
    uint8_t *bytes = NULL;
    size_t size = 0;
    int was_compressed = 0;
    cosnet_status status =
        idx_read_file(path, IDX_MAX_FILE_BYTES, &bytes, &size, &was_compressed);
    if (status != COSNET_OK)
        return status;
    idx_layout layout;
    status = idx_parse(path, bytes, size, was_compressed, expected_dimensions,
                       &layout);
    if (status != COSNET_OK) {
        memory_free(bytes);
        return status;
    }
    out->storage = bytes;
    out->data = bytes + layout.header_bytes;
    out->layout = layout;
    return COSNET_OK;
}

void idx_release(idx_contents *contents)
{
    if (!contents)
        return;
    memory_free(contents->storage);
    contents->storage = NULL;
    contents->data = NULL;
}
