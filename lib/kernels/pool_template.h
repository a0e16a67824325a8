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
    const uint8_t *const arg_end = argmax + planes * (size_t)ho * wo;
    uint8_t *arg = argmax;
    for (size_t p = 0; p < planes; p++) {
        const float *top = input + p * (size_t)height * width;
        float *out = output + p * output_plane_stride;
        for (int r = 0; r < ho; r++) {
            forward_row(top, top + width, wo, out, arg,
                        (size_t)(arg_end - arg));
            top += 2 * (size_t)width;
            out += output_row_stride;
            arg += wo;
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
    const uint8_t *const arg_end = argmax + planes * (size_t)ho * wo;
    const uint8_t *arg = argmax;
    const float *grad = output_grad, *relu = relu_output;
    for (size_t p = 0; p < planes; p++) {
        float *dx = input_grad + p * (size_t)height * width;
        float *top = dx;
        for (int r = 0; r < ho; r++) {
            float *bottom = top + width;
            backward_row(top, bottom, wo, grad, arg, relu,
                         (size_t)(arg_end - arg));
            /* A dropped odd last column receives no gradient. */
            if (width % 2) {
                top[width - 1] = 0.0f;
                bottom[width - 1] = 0.0f;
            }
            top += 2 * (size_t)width;
            grad += wo;
            arg += wo;
            if (relu)
                relu += wo;
        }
        /* Likewise a dropped odd last row. */
        if (height % 2)
            memset(dx + (size_t)(height - 1) * width, 0,
                   sizeof(float) * (size_t)width);
    }
}

#endif
