/* Internal: little-endian fields and the CRC-32 of the library's file
 * formats (models, classifier bundles). */
#ifndef COSNET_COMMON_BYTES_H
#define COSNET_COMMON_BYTES_H

#include <stddef.h>
#include <stdint.h>

static inline void bytes_put_u32(unsigned char *at, uint32_t value)
{
    for (int i = 0; i < 4; i++)
        at[i] = (unsigned char)(value >> (8 * i));
}

static inline uint32_t bytes_get_u32(const unsigned char *at)
{
    return (uint32_t)at[0] | (uint32_t)at[1] << 8 | (uint32_t)at[2] << 16 |
           (uint32_t)at[3] << 24;
}

/* zlib's CRC-32 of `size` bytes (any size: fed in pieces that fit uInt). */
uint32_t bytes_crc32(const unsigned char *bytes, size_t size);

#endif
