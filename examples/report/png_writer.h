/* A minimal PNG writer: 8-bit grayscale, no interlace, one IDAT chunk
 * compressed with zlib, CRCs from zlib's crc32. */
#ifndef COSNET_REPORT_PNG_WRITER_H
#define COSNET_REPORT_PNG_WRITER_H

#include <stdint.h>

#include "buffer.h"

/* Appends the PNG file of a width x height grayscale image (row-major,
 * one byte per pixel, 0 = black) to `out`. Returns 0, or -1 on bad sizes
 * (zero or above 2^24) or when zlib or memory fails. */
int png_write_gray(report_buffer *out, const uint8_t *pixels, uint32_t width,
                   uint32_t height);

/* Appends "data:image/png;base64,..." of that PNG to `out`. */
int png_data_uri_gray(report_buffer *out, const uint8_t *pixels, uint32_t width,
                      uint32_t height);

#endif /* COSNET_REPORT_PNG_WRITER_H */
