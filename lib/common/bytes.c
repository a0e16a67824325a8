/* The CRC-32 of the file formats (see bytes.h). */
#include <zlib.h>

#include "common/bytes.h"

uint32_t bytes_crc32(const unsigned char *bytes, size_t size)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (size > 0) {
        uInt piece = size > 0x40000000u ? 0x40000000u : (uInt)size;
        crc = crc32(crc, bytes, piece);
        bytes += piece;
        size -= piece;
    }
    return (uint32_t)crc;
}
