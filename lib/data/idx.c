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
    DEFLATE_MAX_RATIO = 1032,
    /* Trailing bytes are counted up to this many, then reported as "at
     * least" that many. */
    TRAILING_COUNT_LIMIT = 1 << 20
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

/* ---- zlib's own allocations, through the library's allocator ------------ */

static voidpf zlib_allocate(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return memory_allocate_zeroed(items, size);
}

static void zlib_release(voidpf opaque, voidpf memory)
{
    (void)opaque;
    memory_free(memory);
}

/* ---- a source of file contents: raw bytes or inflated gzip -------------- */

/* An open IDX file, read front to back. Raw or gzip is decided by the
 * first two bytes (the gzip magic 1f 8b), never by the file name; several
 * concatenated gzip members read as one stream. */
typedef struct idx_source {
    int descriptor;
    const char *path;
    int compressed;
    int regular;        /* a regular file: file_size is a fact */
    uint64_t file_size; /* 0 unless regular */
    uint8_t prefix[2];  /* raw: the bytes read to tell the form */
    size_t prefix_size, prefix_used;
    size_t produced; /* bytes handed out so far (decompressed) */
    /* gzip only */
    z_stream stream;
    int stream_ready;
    uint8_t *input;
    size_t input_capacity;
    size_t input_read; /* compressed bytes read from the file so far */
    int end_of_file;
    int finished; /* the last member ended at end of file */
} idx_source;

static size_t gzip_consumed(const idx_source *source)
{
    return source->input_read - source->stream.avail_in;
}

/* Refills the input after keeping any unconsumed bytes at its start. */
static cosnet_status gzip_refill(idx_source *source)
{
    size_t kept = source->stream.avail_in;
    if (kept > 0 && source->stream.next_in != source->input)
        memmove(source->input, source->stream.next_in, kept);
    source->stream.next_in = source->input;
    if (source->end_of_file)
        return COSNET_OK;
    size_t got = 0;
    cosnet_status status =
        read_fully(source->descriptor, source->path, source->input + kept,
                   source->input_capacity - kept, &got);
    if (status != COSNET_OK)
        return status;
    if (got < source->input_capacity - kept)
        source->end_of_file = 1;
    source->input_read += got;
    source->stream.avail_in = (uInt)(kept + got);
    return COSNET_OK;
}

/* After a member's end: done at end of file, on to the next member if
 * another gzip header follows, CORRUPT if anything else does. */
static cosnet_status gzip_after_member(idx_source *source)
{
    cosnet_status status = COSNET_OK;
    if (source->stream.avail_in < 2 && !source->end_of_file)
        status = gzip_refill(source);
    if (status != COSNET_OK)
        return status;
    if (source->stream.avail_in == 0) {
        source->finished = 1;
        return COSNET_OK;
    }
    const uint8_t *next = source->stream.next_in;
    if (source->stream.avail_in >= 2 && next[0] == 0x1f && next[1] == 0x8b) {
        if (inflateReset(&source->stream) != Z_OK)
            return error_set(COSNET_ERROR_CORRUPT,
                             "%s: cannot restart inflate at byte %zu",
                             source->path, gzip_consumed(source));
        return COSNET_OK;
    }
    return error_set(COSNET_ERROR_CORRUPT,
                     "%s: corrupt gzip: junk byte 0x%02x at byte %zu, after "
                     "the end of the compressed stream",
                     source->path, next[0], gzip_consumed(source));
}

static cosnet_status source_open(const char *path, idx_source *source)
{
    memset(source, 0, sizeof *source);
    source->path = path;
    do {
        source->descriptor = open(path, O_RDONLY);
    } while (source->descriptor < 0 && errno == EINTR);
    if (source->descriptor < 0)
        return io_error(path, "open", errno);

    struct stat info;
    cosnet_status status = COSNET_OK;
    if (fstat(source->descriptor, &info) != 0)
        status = io_error(path, "stat", errno);
    else if (S_ISDIR(info.st_mode))
        status = io_error(path, "read", EISDIR);
    /* A regular file of size 0 may still have contents (/proc): it is read
     * as a stream, like a pipe. */
    if (status == COSNET_OK && S_ISREG(info.st_mode) && info.st_size > 0) {
        source->regular = 1;
        source->file_size = (uint64_t)info.st_size;
    }
    if (status == COSNET_OK)
        status = read_fully(source->descriptor, path, source->prefix,
                            sizeof source->prefix, &source->prefix_size);
    source->compressed = source->prefix_size == 2 &&
                         source->prefix[0] == 0x1f && source->prefix[1] == 0x8b;
    if (status == COSNET_OK && source->compressed) {
        /* No bigger than the file: a small file gets a small buffer. */
        source->input_capacity = GZIP_CHUNK_BYTES;
        if (source->regular && source->file_size < GZIP_CHUNK_BYTES)
            source->input_capacity =
                source->file_size < 2 ? 2 : (size_t)source->file_size;
        source->input = memory_allocate(source->input_capacity);
        if (!source->input)
            status = error_out_of_memory("gzip input", source->input_capacity);
    }
    if (status == COSNET_OK && source->compressed) {
        memcpy(source->input, source->prefix, 2);
        source->stream.next_in = source->input;
        source->stream.avail_in = 2;
        source->input_read = 2;
        source->stream.zalloc = zlib_allocate;
        source->stream.zfree = zlib_release;
        source->stream.opaque = Z_NULL;
        /* 16 + MAX_WBITS: expect and check the gzip header and trailer. */
        int code = inflateInit2(&source->stream, 16 + MAX_WBITS);
        if (code == Z_OK)
            source->stream_ready = 1;
        else
            status =
                code == Z_MEM_ERROR
                    ? error_set(COSNET_ERROR_OUT_OF_MEMORY,
                                "%s: out of memory for zlib's inflate "
                                "state",
                                path)
                    : error_set(COSNET_ERROR_CORRUPT,
                                "%s: inflateInit2 failed (%d)", path, code);
    }
    if (status != COSNET_OK) {
        memory_free(source->input);
        source->input = NULL;
        close(source->descriptor);
        source->descriptor = -1;
    }
    return status;
}

static void source_close(idx_source *source)
{
    if (source->stream_ready)
        inflateEnd(&source->stream);
    source->stream_ready = 0;
    memory_free(source->input);
    source->input = NULL;
    if (source->descriptor >= 0)
        close(source->descriptor);
    source->descriptor = -1;
}

static cosnet_status gzip_read(idx_source *source, uint8_t *out, size_t size,
                               size_t *got_out)
{
    size_t got = 0;
    cosnet_status status = COSNET_OK;
    while (status == COSNET_OK && got < size && !source->finished) {
        if (source->stream.avail_in == 0 && !source->end_of_file) {
            status = gzip_refill(source);
            if (status != COSNET_OK)
                break;
        }
        size_t room = size - got;
        /* avail_out is a uInt; hand over at most 1 GiB at a time. */
        uInt offered = room > ((size_t)1 << 30) ? (uInt)1 << 30 : (uInt)room;
        source->stream.next_out = out + got;
        source->stream.avail_out = offered;
        int code = inflate(&source->stream, Z_NO_FLUSH);
        got += offered - source->stream.avail_out;
        if (code == Z_STREAM_END) {
            status = gzip_after_member(source);
        } else if (code == Z_DATA_ERROR || code == Z_NEED_DICT ||
                   code == Z_STREAM_ERROR) {
            status = error_set(
                COSNET_ERROR_CORRUPT, "%s: corrupt gzip data near byte %zu: %s",
                source->path, gzip_consumed(source),
                source->stream.msg ? source->stream.msg : "invalid stream");
        } else if (code == Z_MEM_ERROR) {
            status = error_out_of_memory("zlib inflate window",
                                         (size_t)1 << MAX_WBITS);
        } else if (source->stream.avail_out != 0 &&
                   source->stream.avail_in == 0 && source->end_of_file) {
            /* Room to write but nothing left to read: the file stops in the
             * middle of the stream. */
            status = error_set(COSNET_ERROR_TRUNCATED,
                               "%s: truncated gzip stream: the file ends "
                               "after %zu compressed bytes (%zu decompressed) "
                               "before the stream does",
                               source->path, gzip_consumed(source),
                               source->produced + got);
        }
    }
    source->produced += got;
    *got_out = got;
    return status;
}

/* Reads up to `size` bytes of contents; *got < size only at the end of the
 * contents (for gzip: every member complete and its CRC checked). A gzip
 * stream cut short is TRUNCATED, a damaged one CORRUPT. */
static cosnet_status source_read(idx_source *source, uint8_t *out, size_t size,
                                 size_t *got)
{
    if (source->compressed)
        return gzip_read(source, out, size, got);
    size_t from_prefix = source->prefix_size - source->prefix_used;
    if (from_prefix > size)
        from_prefix = size;
    memcpy(out, source->prefix + source->prefix_used, from_prefix);
    source->prefix_used += from_prefix;
    size_t more = 0;
    cosnet_status status = COSNET_OK;
    if (from_prefix < size)
        status = read_fully(source->descriptor, source->path, out + from_prefix,
                            size - from_prefix, &more);
    source->produced += from_prefix + more;
    *got = from_prefix + more;
    return status;
}

/* Doubles the buffer, up to `ceiling` bytes. */
static cosnet_status grow(const char *path, uint8_t **buffer, size_t *capacity,
                          size_t ceiling)
{
    size_t wanted = *capacity < MINIMUM_CAPACITY ? MINIMUM_CAPACITY : *capacity;
    wanted = wanted > ceiling / 2 ? ceiling : wanted * 2;
    uint8_t *bigger = memory_reallocate(*buffer, wanted);
    if (!bigger)
        return error_out_of_memory(path, wanted);
    *buffer = bigger;
    *capacity = wanted;
    return COSNET_OK;
}

/* Reads the rest of the contents into *buffer (holding *size bytes, with
 * room for *capacity), growing it as data actually arrives up to `ceiling`
 * bytes; stops at end of contents or when ceiling bytes are held. */
static cosnet_status read_growing(idx_source *source, uint8_t **buffer,
                                  size_t *size, size_t *capacity,
                                  size_t ceiling)
{
    while (*size < ceiling) {
        if (*size == *capacity) {
            cosnet_status status =
                grow(source->path, buffer, capacity, ceiling);
            if (status != COSNET_OK)
                return status;
        }
        size_t got = 0;
        cosnet_status status =
            source_read(source, *buffer + *size, *capacity - *size, &got);
        *size += got;
        if (status != COSNET_OK)
            return status;
        if (*size < *capacity)
            break; /* end of contents */
    }
    return COSNET_OK;
}

cosnet_status idx_read_file(const char *path, size_t max_bytes,
                            uint8_t **bytes_out, size_t *size_out,
                            int *was_compressed)
{
    if (!path || !bytes_out || !size_out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "idx_read_file: NULL argument");
    if (max_bytes == SIZE_MAX)
        max_bytes--;
    idx_source source;
    cosnet_status status = source_open(path, &source);
    if (status != COSNET_OK)
        return status;
    int compressed = source.compressed;
    /* A regular raw file's size is a fact, not a claim: refuse early. */
    if (source.regular && !compressed && source.file_size > max_bytes) {
        source_close(&source);
        return too_large(path, max_bytes, 0);
    }
    uint8_t *buffer = NULL;
    size_t size = 0, capacity = 0;
    /* One byte past the limit is how a too-large file shows itself without
     * reading further. */
    status = read_growing(&source, &buffer, &size, &capacity, max_bytes + 1);
    source_close(&source);
    if (status == COSNET_OK && size > max_bytes)
        status = too_large(path, max_bytes, compressed);
    if (status != COSNET_OK) {
        memory_free(buffer);
        return status;
    }
    *bytes_out = buffer;
    *size_out = size;
    if (was_compressed)
        *was_compressed = compressed;
    return COSNET_OK;
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

/* "60000 images of 28x28" / "60000 labels", for messages. */
static const char *describe_declared(const idx_layout *layout, char *text,
                                     size_t size)
{
    if (layout->dimension_count == 3)
        snprintf(text, size, "%zu images of %zux%zu", layout->dimensions[0],
                 layout->dimensions[1], layout->dimensions[2]);
    else
        snprintf(text, size, "%zu labels", layout->dimensions[0]);
    return text;
}

/* The 4 magic bytes: 00 00 08 D with D = expected_dimensions. */
static cosnet_status check_magic(const char *path, const uint8_t *bytes,
                                 unsigned expected_dimensions)
{
    const char *kind = expected_dimensions == 3 ? "images" : "labels";
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
    return COSNET_OK;
}

static cosnet_status header_truncated(const char *path, size_t size,
                                      unsigned expected_dimensions,
                                      int was_compressed)
{
    if (size < 4)
        return error_set(COSNET_ERROR_TRUNCATED,
                         "%s: truncated at byte %zu: too short for the 4-byte "
                         "IDX magic%s",
                         path, size, size_note(was_compressed));
    return error_set(COSNET_ERROR_TRUNCATED,
                     "%s: truncated at byte %zu: the IDX %s header needs "
                     "%zu bytes%s",
                     path, size, expected_dimensions == 3 ? "images" : "labels",
                     4 + 4 * (size_t)expected_dimensions,
                     size_note(was_compressed));
}

/* The dimensions of a complete header (magic already checked): non-zero,
 * and a total size that fits size_t. Fills *layout; *total_out receives
 * header + data bytes. */
static cosnet_status read_layout(const char *path, const uint8_t *header,
                                 unsigned expected_dimensions,
                                 idx_layout *layout, size_t *total_out)
{
    idx_layout result;
    memset(&result, 0, sizeof result);
    result.dimension_count = expected_dimensions;
    result.header_bytes = 4 + 4 * (size_t)expected_dimensions;
    for (unsigned d = 0; d < expected_dimensions; d++)
        result.dimensions[d] = read_big_endian_32(header + 4 + 4 * d);
    size_t count = result.dimensions[0];
    size_t data_bytes = 0;
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
    }
    result.element_count = data_bytes;
    *layout = result;
    *total_out = result.header_bytes + data_bytes;
    return COSNET_OK;
}

/* The first step of a header of which `have` bytes are at hand (in a
 * buffer or read so far): its four magic bytes, present and right. */
static cosnet_status check_start(const char *path, const uint8_t *header,
                                 size_t have, unsigned expected_dimensions,
                                 int was_compressed)
{
    if (have < 4)
        return header_truncated(path, have, expected_dimensions,
                                was_compressed);
    return check_magic(path, header, expected_dimensions);
}

/* The rest of the header, after check_start: the dimensions, present and
 * consistent, into *layout and the total size they declare. */
static cosnet_status finish_header(const char *path, const uint8_t *header,
                                   size_t have, unsigned expected_dimensions,
                                   int was_compressed, idx_layout *layout,
                                   size_t *total)
{
    if (have < 4 + 4 * (size_t)expected_dimensions)
        return header_truncated(path, have, expected_dimensions,
                                was_compressed);
    return read_layout(path, header, expected_dimensions, layout, total);
}

/* The contents hold `size` bytes where the header declares `total`. */
static cosnet_status size_disagrees(const char *path, const idx_layout *layout,
                                    size_t total, uint64_t size,
                                    int was_compressed)
{
    char declared[96];
    describe_declared(layout, declared, sizeof declared);
    if (size < total)
        return error_set(COSNET_ERROR_TRUNCATED,
                         "%s: truncated at byte %llu: header declares %s (%zu "
                         "bytes) but the file has %llu%s",
                         path, (unsigned long long)size, declared, total,
                         (unsigned long long)size, size_note(was_compressed));
    return error_set(COSNET_ERROR_BAD_FORMAT,
                     "%s: %llu trailing bytes: header declares %s (%zu bytes) "
                     "but the file has %llu%s",
                     path, (unsigned long long)(size - total), declared, total,
                     (unsigned long long)size, size_note(was_compressed));
}

cosnet_status idx_parse(const char *path, const uint8_t *bytes, size_t size,
                        int was_compressed, unsigned expected_dimensions,
                        idx_layout *layout)
{
    if (!path || (!bytes && size > 0) || !layout ||
        (expected_dimensions != 1 && expected_dimensions != 3))
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "idx_parse: invalid argument");
    cosnet_status status =
        check_start(path, bytes, size, expected_dimensions, was_compressed);
    if (status != COSNET_OK)
        return status;
    idx_layout result;
    size_t total = 0;
    status = finish_header(path, bytes, size, expected_dimensions,
                           was_compressed, &result, &total);
    if (status != COSNET_OK)
        return status;
    if (size != total)
        return size_disagrees(path, &result, total, size, was_compressed);
    *layout = result;
    return COSNET_OK;
}

/* After the declared contents: counts what is left, reading and
 * discarding (nothing more is allocated), up to TRAILING_COUNT_LIMIT
 * bytes, so that a gzip bomb behind a small header costs no more than
 * that. */
static cosnet_status count_rest(idx_source *source, uint64_t *rest)
{
    uint8_t scratch[4096];
    *rest = 0;
    for (;;) {
        size_t got = 0;
        cosnet_status status =
            source_read(source, scratch, sizeof scratch, &got);
        *rest += got;
        if (status != COSNET_OK)
            return status;
        if (got < sizeof scratch || *rest >= TRAILING_COUNT_LIMIT)
            return COSNET_OK;
    }
}

/* Reads a whole IDX file into a buffer sized from its header: the header
 * first, checked; then its declared size is checked against the file size
 * (raw) or what the compressed size can hold (gzip), and only then is that
 * size allocated (at once for a regular file, as data arrives for a pipe);
 * finally the contents must end exactly there. */
static cosnet_status load_declared(idx_source *source,
                                   unsigned expected_dimensions,
                                   uint8_t **bytes_out, idx_layout *layout)
{
    const char *path = source->path;
    const int compressed = source->compressed;
    const size_t header_bytes = 4 + 4 * (size_t)expected_dimensions;
    uint8_t header[16];
    size_t got = 0;
    cosnet_status status = source_read(source, header, 4, &got);
    if (status != COSNET_OK)
        return status;
    status = check_start(path, header, got, expected_dimensions, compressed);
    if (status != COSNET_OK)
        return status;
    size_t more = 0;
    status = source_read(source, header + 4, header_bytes - 4, &more);
    if (status != COSNET_OK)
        return status;
    idx_layout result;
    size_t total = 0;
    status = finish_header(path, header, 4 + more, expected_dimensions,
                           compressed, &result, &total);
    if (status != COSNET_OK)
        return status;

    char declared[96];
    describe_declared(&result, declared, sizeof declared);
    if (source->regular && !compressed && source->file_size != total)
        return size_disagrees(path, &result, total, source->file_size, 0);
    if (total > IDX_MAX_FILE_BYTES)
        return error_set(COSNET_ERROR_OVERFLOW,
                         "%s: header declares %s (%zu bytes), more than the "
                         "%zu-byte limit for an IDX file",
                         path, declared, total, (size_t)IDX_MAX_FILE_BYTES);
    if (source->regular && compressed &&
        source->file_size < UINT64_MAX / DEFLATE_MAX_RATIO &&
        (uint64_t)total > source->file_size * DEFLATE_MAX_RATIO)
        return error_set(
            COSNET_ERROR_TRUNCATED,
            "%s: header declares %s (%zu bytes) but a gzip "
            "file of %llu bytes decompresses to at most %llu",
            path, declared, total, (unsigned long long)source->file_size,
            (unsigned long long)(source->file_size * DEFLATE_MAX_RATIO));

    /* A regular file's size now bounds the declared size: allocate it at
     * once. A pipe's does not: grow as bytes arrive, never beyond it. */
    size_t capacity = source->regular ? total : header_bytes;
    uint8_t *buffer = memory_allocate(capacity);
    if (!buffer)
        return error_out_of_memory(path, capacity);
    memcpy(buffer, header, header_bytes);
    size_t size = header_bytes;
    status = read_growing(source, &buffer, &size, &capacity, total);
    if (status == COSNET_OK && size < total)
        status = size_disagrees(path, &result, total, size, compressed);
    if (status == COSNET_OK) {
        uint64_t rest = 0;
        status = count_rest(source, &rest);
        if (status == COSNET_OK && rest >= TRAILING_COUNT_LIMIT)
            status = error_set(COSNET_ERROR_BAD_FORMAT,
                               "%s: at least %llu trailing bytes: header "
                               "declares %s (%zu bytes) but the file has more "
                               "than %llu%s",
                               path, (unsigned long long)rest, declared, total,
                               (unsigned long long)(total + rest),
                               size_note(compressed));
        else if (status == COSNET_OK && rest > 0)
            status =
                size_disagrees(path, &result, total, total + rest, compressed);
    }
    if (status != COSNET_OK) {
        memory_free(buffer);
        return status;
    }
    *bytes_out = buffer;
    *layout = result;
    return COSNET_OK;
}

cosnet_status idx_load(const char *path, unsigned expected_dimensions,
                       idx_contents *out)
{
    if (!path || !out || (expected_dimensions != 1 && expected_dimensions != 3))
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "idx_load: invalid argument");
    idx_source source;
    cosnet_status status = source_open(path, &source);
    if (status != COSNET_OK)
        return status;
    uint8_t *bytes = NULL;
    idx_layout layout;
    status = load_declared(&source, expected_dimensions, &bytes, &layout);
    source_close(&source);
    if (status != COSNET_OK)
        return status;
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
