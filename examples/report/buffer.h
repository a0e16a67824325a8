/* A growable text/byte buffer for the report writers. A failed allocation
 * sets `failed` and turns later appends into no-ops, so writers check once
 * at the end. */
#ifndef COSNET_REPORT_BUFFER_H
#define COSNET_REPORT_BUFFER_H

#include <stddef.h>
#include <stdint.h>

typedef struct report_buffer {
    char *data; /* NUL-terminated while not failed */
    size_t length, capacity;
    int failed;
} report_buffer;

void report_buffer_init(report_buffer *buffer);
void report_buffer_free(report_buffer *buffer);
void report_buffer_clear(report_buffer *buffer);

void report_buffer_append(report_buffer *buffer, const void *bytes,
                          size_t length);
void report_buffer_puts(report_buffer *buffer, const char *text);
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
void report_buffer_printf(report_buffer *buffer, const char *format, ...);

/* Appends text with &, <, >, " and ' escaped for XML/HTML; control
 * characters other than tab and newline (not allowed in XML 1.0) and bytes
 * that are not valid UTF-8 become U+FFFD. */
void report_buffer_escape(report_buffer *buffer, const char *text);

/* The longest prefix of text's first `size` bytes that ends on a UTF-8
 * character boundary (a truncation must not split a character). */
size_t report_utf8_cut(const char *text, size_t size);

/* Appends the base64 (RFC 4648, with padding) of `length` bytes. */
void report_buffer_base64(report_buffer *buffer, const uint8_t *bytes,
                          size_t length);

/* Writes the buffer to `path` with the library's file writer
 * (lib/common/file_writer.h: temporary file, fsync, rename; special files
 * and symbolic links written through). Returns 0, or -1 with a
 * description naming the path in `message` (message_size bytes). */
int report_buffer_write_file(const report_buffer *buffer, const char *path,
                             char *message, size_t message_size);

#endif /* COSNET_REPORT_BUFFER_H */
