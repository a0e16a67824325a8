/* Fuzz target: the programs' image reader (examples/common/image_file.c:
 * PGM P2/P5 always, PNG through libpng when built with it), recognised by
 * content; a read image is resized to 28x28 with the area filter. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "image_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gray_image image = {0, 0, NULL};
    char message[512];
    message[0] = '\0';
    /* Both backgrounds a transparent pixel can take, by the size's parity. */
    const float background = size % 2 ? 1.0f : 0.0f;
    if (image_read_memory(data, size, "fuzz", background, &image, message,
                          sizeof message) != 0) {
        if (message[0] == '\0')
            fuzz_fail("an image refused without a message", COSNET_OK);
        return 0;
    }
    if (image.rows == 0 || image.columns == 0 || image.rows > IMAGE_MAX_SIDE ||
        image.columns > IMAGE_MAX_SIDE ||
        image.rows * image.columns > IMAGE_MAX_PIXELS)
        fuzz_fail("an image of an impossible size", COSNET_OK);
    for (size_t i = 0; i < image.rows * image.columns; i++)
        if (!(image.pixels[i] >= 0.0f && image.pixels[i] <= 1.0f))
            fuzz_fail("a pixel outside [0, 1]", COSNET_OK);
    float out[28 * 28];
    image_resize_area(&image, 28, 28, out);
    for (size_t i = 0; i < 28 * 28; i++)
        if (!(out[i] >= 0.0f && out[i] <= 1.0f + 1e-6f))
            fuzz_fail("a resized pixel outside [0, 1]", COSNET_OK);
    free(image.pixels);
    return 0;
}
