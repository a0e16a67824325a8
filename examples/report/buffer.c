/* The report's growable buffer: appends, XML escaping, base64, and an
 * atomic write to a file. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "buffer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_writer.h"

void report_buffer_init(report_buffer *buffer)
{
    memset(buffer, 0, sizeof *buffer);
}

void report_buffer_free(report_buffer *buffer)
{
    free(buffer->data);
    report_buffer_init(buffer);
}

void report_buffer_clear(report_buffer *buffer)
{
    buffer->length = 0;
    buffer->failed = 0;
    if (buffer->data)
        buffer->data[0] = '\0';
}

/* Room for `extra` more bytes plus the terminating NUL. */
static int reserve(report_buffer *buffer, size_t extra)
{
    if (buffer->failed)
        return 0;
    if (extra > SIZE_MAX / 2 - buffer->length - 1) {
        buffer->failed = 1;
        return 0;
    }
    size_t needed = buffer->length + extra + 1;
    if (needed <= buffer->capacity)
        return 1;
    size_t capacity = buffer->capacity ? buffer->capacity : 4096;
    while (capacity < needed)
        capacity *= 2;
    char *data = realloc(buffer->data, capacity);
    if (!data) {
        buffer->failed = 1;
        return 0;
    }
    buffer->data = data;
    buffer->capacity = capacity;
    return 1;
}

void report_buffer_append(report_buffer *buffer, const void *bytes,
                          size_t length)
{
    if (!reserve(buffer, length))
        return;
    if (length)
        memcpy(buffer->data + buffer->length, bytes, length);
    buffer->length += length;
    buffer->data[buffer->length] = '\0';
}

void report_buffer_puts(report_buffer *buffer, const char *text)
{
    report_buffer_append(buffer, text, strlen(text));
}

void report_buffer_printf(report_buffer *buffer, const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    va_list copy;
    va_copy(copy, arguments);
    int length = vsnprintf(NULL, 0, format, copy);
    va_end(copy);
    if (length < 0) {
        buffer->failed = 1;
    } else if (reserve(buffer, (size_t)length)) {
        vsnprintf(buffer->data + buffer->length, (size_t)length + 1, format,
                  arguments);
        buffer->length += (size_t)length;
    }
    va_end(arguments);
}

/* The length of the valid UTF-8 sequence at p (1..4), or 0 when the bytes
 * there are not one (a stray continuation byte, a cut sequence, an overlong
 * form, a surrogate, or beyond U+10FFFF). */
static size_t utf8_sequence(const unsigned char *p)
{
    size_t length;
    unsigned char low = 0x80, high = 0xbf;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        length = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        length = 3;
        low = p[0] == 0xe0 ? 0xa0 : 0x80;
        high = p[0] == 0xed ? 0x9f : 0xbf;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        length = 4;
        low = p[0] == 0xf0 ? 0x90 : 0x80;
        high = p[0] == 0xf4 ? 0x8f : 0xbf;
    } else
        return 0;
    if (p[1] < low || p[1] > high)
        return 0;
    for (size_t i = 2; i < length; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return length;
}

size_t report_utf8_cut(const char *text, size_t size)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t at = 0;
    while (at < size) {
        size_t length = utf8_sequence(p + at);
        if (length == 0 || at + length > size)
            break;
        at += length;
    }
    return at;
}

void report_buffer_escape(report_buffer *buffer, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p >= 0x80) {
            /* A file name is bytes, not always UTF-8: what is not valid
             * UTF-8 becomes U+FFFD, so the XML stays well-formed. */
            size_t length = utf8_sequence(p);
            if (length == 0)
                report_buffer_puts(buffer, "\xef\xbf\xbd");
            else {
                report_buffer_append(buffer, p, length);
                p += length - 1;
            }
            continue;
        }
        switch (*p) {
        case '&': report_buffer_puts(buffer, "&amp;"); break;
        case '<': report_buffer_puts(buffer, "&lt;"); break;
        case '>': report_buffer_puts(buffer, "&gt;"); break;
        case '"': report_buffer_puts(buffer, "&quot;"); break;
        case '\'': report_buffer_puts(buffer, "&#39;"); break;
        default:
            if (*p < 0x20 && *p != '\t' && *p != '\n')
                report_buffer_puts(buffer, "\xef\xbf\xbd");
            else
                report_buffer_append(buffer, p, 1);
        }
    }
}

void report_buffer_base64(report_buffer *buffer, const uint8_t *bytes,
                          size_t length)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!reserve(buffer, (length + 2) / 3 * 4))
        return;
    char *out = buffer->data + buffer->length;
    size_t i = 0;
    for (; i + 3 <= length; i += 3) {
        uint32_t v = (uint32_t)bytes[i] << 16 | (uint32_t)bytes[i + 1] << 8 |
                     bytes[i + 2];
        *out++ = alphabet[v >> 18];
        *out++ = alphabet[(v >> 12) & 63];
        *out++ = alphabet[(v >> 6) & 63];
        *out++ = alphabet[v & 63];
    }
    if (i < length) {
        uint32_t v = (uint32_t)bytes[i] << 16;
        if (i + 1 < length)
            v |= (uint32_t)bytes[i + 1] << 8;
        *out++ = alphabet[v >> 18];
        *out++ = alphabet[(v >> 12) & 63];
        *out++ = i + 1 < length ? alphabet[(v >> 6) & 63] : '=';
        *out++ = '=';
    }
    buffer->length = (size_t)(out - buffer->data);
    buffer->data[buffer->length] = '\0';
}

int report_buffer_write_file(const report_buffer *buffer, const char *path,
                             char *message, size_t message_size)
{
    if (buffer->failed) {
        snprintf(message, message_size, "%s: out of memory for its text", path);
        return -1;
    }
    /* The library's writer: a crash never leaves half a report, and a
     * device, FIFO or symbolic link named as the output is written through,
     * never replaced by a regular file. */
    return file_write_atomic_message(path, buffer->data, buffer->length,
                                     message, message_size) == COSNET_OK
               ? 0
               : -1;
}
