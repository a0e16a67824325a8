/* The 2x2 max-pool, stride 2, and its gradient, written once for every
 * SIMD ISA: pool_avx2.c, pool_avx512.c and pool_neon.c each define the two
 * per-row steps below, then include this file, which walks the planes and
 * rows (maxpool2x2_forward_rows, maxpool2x2_backward_rows) and zeroes the
 * gradient of a dropped odd last row and column.
 *
 * Required before inclusion:
 *   forward_row(top, bottom, wo, out, arg, arg_room): the wo windows of
 *     input rows top and bottom into out[0..wo) and their positions into
 *     arg[0..wo); arg_room bytes of the argmax array start at arg;
 *   backward_row(top, bottom, wo, grad, arg, relu, arg_room): the gradient
 *     of wo windows (grad, arg and relu, which may be NULL, at the row's
 *     first window) into every pixel of the two rows' first 2 wo columns. */
#ifndef COSNET_KERNELS_POOL_TEMPLATE_H
#define COSNET_KERNELS_POOL_TEMPLATE_H

#include <string.h>

#include "kernels/kernels.h"

static void maxpool2x2_forward_rows(size_t planes, int height, int width,
                                    const float *input, float *output,
                                    size_t output_plane_stride,
                                    size_t output_row_stride, uint8_t *argmax)
{
    const int ho = height / 2, wo = width / 2;
    const size_t arg_total = planes * (size_t)ho * wo;
    for (size_t p = 0; p < planes; p++) {
        const float *in = input + p * (size_t)height * width;
        float *out = output + p * output_plane_stride;
        const size_t base = p * (size_t)ho * wo;
        for (int r = 0; r < ho; r++) {
            const float *top = in + (size_t)(2 * r) * width;
            const size_t row = base + (size_t)r * wo;
            forward_row(top, top + width, wo, out + r * output_row_stride,
                        argmax + row, arg_total - row);
        }
    }
}

static void maxpool2x2_backward_rows(size_t planes, int height, int width,
                                     const float *output_grad,
                                     const uint8_t *argmax,
                                     const float *relu_output,
                                     float *input_grad)
{
    const int ho = height / 2, wo = width / 2;
    const size_t arg_total = planes * (size_t)ho * wo;
    for (size_t p = 0; p < planes; p++) {
        float *dx = input_grad + p * (size_t)height * width;
        const size_t base = p * (size_t)ho * wo;
        for (int r = 0; r < ho; r++) {
            float *top = dx + (size_t)(2 * r) * width;
            float *bottom = top + width;
            const size_t row = base + (size_t)r * wo;
            backward_row(top, bottom, wo, output_grad + row, argmax + row,
                         relu_output ? relu_output + row : NULL,
                         arg_total - row);
            /* A dropped odd last column receives no gradient. */
            if (width % 2) {
                top[width - 1] = 0.0f;
                bottom[width - 1] = 0.0f;
            }
        }
        /* Likewise a dropped odd last row. */
        if (height % 2)
            memset(dx + (size_t)(height - 1) * width, 0,
                   sizeof(float) * (size_t)width);
    }
}

#endif
