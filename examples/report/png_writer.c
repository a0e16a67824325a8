/* PNG writer: signature, IHDR, IDAT (zlib stream of filter-0 scanlines),
 * IEND; each chunk is length, type, data and the CRC-32 of type + data. */
#include "png_writer.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define PNG_MAX_SIDE (1u << 24)

static void put32(uint8_t *out, uint32_t value)
{
    out[0] = (uint8_t)(value >> 24);
    out[1] = (uint8_t)(value >> 16);
    out[2] = (uint8_t)(value >> 8);
    out[3] = (uint8_t)value;
}

static void chunk(report_buffer *out, const char type[4], const uint8_t *data,
                  uint32_t length)
{
    uint8_t header[8];
    put32(header, length);
    memcpy(header + 4, type, 4);
    report_buffer_append(out, header, 8);
    if (length)
        report_buffer_append(out, data, length);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, (const Bytef *)type, 4);
    if (length)
        crc = crc32(crc, data, length);
    uint8_t trailer[4];
    put32(trailer, (uint32_t)crc);
    report_buffer_append(out, trailer, 4);
}

int png_write_gray(report_buffer *out, const uint8_t *pixels, uint32_t width,
                   uint32_t height)
{
    if (!pixels || width == 0 || height == 0 || width > PNG_MAX_SIDE ||
        height > PNG_MAX_SIDE)
        return -1;
    size_t row = (size_t)width + 1; /* the filter byte, then the pixels */
    if (height > SIZE_MAX / row)
        return -1;
    size_t raw_size = row * height;
    uint8_t *raw = malloc(raw_size);
    uLongf packed_size = compressBound((uLong)raw_size);
    uint8_t *packed = malloc(packed_size);
    if (!raw || !packed) {
        free(raw);
        free(packed);
        return -1;
    }
    for (uint32_t y = 0; y < height; y++) {
        raw[y * row] = 0; /* filter type None */
        memcpy(raw + y * row + 1, pixels + (size_t)y * width, width);
    }
    int status = compress2(packed, &packed_size, raw, (uLong)raw_size,
                           Z_BEST_COMPRESSION);
    free(raw);
    if (status != Z_OK || packed_size > UINT32_MAX) {
        free(packed);
        return -1;
    }
    static const uint8_t signature[8] = {0x89, 'P',  'N',  'G',
                                         '\r', '\n', 0x1a, '\n'};
    report_buffer_append(out, signature, sizeof signature);
    uint8_t header[13];
    put32(header, width);
    put32(header + 4, height);
    header[8] = 8;  /* bit depth */
    header[9] = 0;  /* colour type: grayscale */
    header[10] = 0; /* compression: deflate */
    header[11] = 0; /* filter method 0 */
    header[12] = 0; /* no interlace */
    chunk(out, "IHDR", header, sizeof header);
    chunk(out, "IDAT", packed, (uint32_t)packed_size);
    chunk(out, "IEND", NULL, 0);
    free(packed);
    return out->failed ? -1 : 0;
}

int png_data_uri_gray(report_buffer *out, const uint8_t *pixels, uint32_t width,
                      uint32_t height)
{
    report_buffer png;
    report_buffer_init(&png);
    int result = png_write_gray(&png, pixels, width, height);
    if (result == 0) {
        report_buffer_puts(out, "data:image/png;base64,");
        report_buffer_base64(out, (const uint8_t *)png.data, png.length);
        result = out->failed ? -1 : 0;
    }
    report_buffer_free(&png);
    return result;
}
