/* Reading the user's own images for the example programs: grayscale PGM
 * (P2 text and P5 binary) always, PNG when built with libpng
 * (COSNET_HAVE_PNG), recognised by content; and resizing to a model's input
 * with an area filter. */
#ifndef COSNET_EXAMPLES_IMAGE_FILE_H
#define COSNET_EXAMPLES_IMAGE_FILE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Larger images are refused: a side above IMAGE_MAX_SIDE, or more than
 * IMAGE_MAX_PIXELS pixels in all (2^25, 33.5 megapixels: 128 MB of gray
 * levels, and the file's bytes while read: a P5 PGM's, up to 64 MB; a text
 * PGM's, up to 32 a pixel; a PNG's rows, all of them only when interlaced,
 * up to 256 MB. A PNG of 260 KB can decompress to 16384 x 16384 and would
 * take 1.3 GB). Sizes are checked from the header, before the pixels. */
#define IMAGE_MAX_SIDE 16384
#define IMAGE_MAX_PIXELS ((size_t)1 << 25)

/* An image as gray levels in [0, 1], row-major; 0 is black. */
typedef struct gray_image {
    size_t rows, columns;
    float *pixels; /* malloc'd, rows x columns */
} gray_image;

/* Reads `path` into *image (the caller frees image->pixels). The kind is
 * told from the first bytes, before the rest is read: anything else is
 * refused at once, and a PGM is read no further than its header allows.
 *
 * A sample v of a file whose samples go up to M (a PGM's maxval; 255 or
 * 65535 for an 8 or 16-bit PNG, 1, 3 or 15 for a PNG of 1, 2 or 4 bits)
 * becomes v / M, whatever gamma or colour profile a PNG declares (none is
 * applied). A colour PNG (RGB or palette) becomes 0.299 R + 0.587 G +
 * 0.114 B of those values: pure red 0.299, green 0.587, blue 0.114. A
 * PNG's alpha a (an alpha channel, or a tRNS colour) blends the pixel with
 * `background` (0 black, 1 white): a v + (1 - a) background, so a
 * transparent pixel is `background`.
 *
 * Returns 0, or -1 with a message naming the path and the fault in
 * `message` (e.g. "not a PGM or PNG file", "truncated PGM at byte 40",
 * "zero-size image"). */
int image_read(const char *path, float background, gray_image *image,
               char *message, size_t message_size);

/* Same from `size` bytes in memory (`name` names them in messages). */
int image_read_memory(const unsigned char *data, size_t size, const char *name,
                      float background, gray_image *image, char *message,
                      size_t message_size);

/* Whether this build reads PNG files. */
int image_png_supported(void);

/* Resizes `in` to rows x columns into `out` with an area (box) filter:
 * each output pixel is the mean of the input area it covers, partial
 * pixels weighted by their covered fraction. Same size is a copy. */
void image_resize_area(const gray_image *in, size_t rows, size_t columns,
                       float *out);

#ifdef __cplusplus
}
#endif

#endif
