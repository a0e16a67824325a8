/* Plain-C reference for the 2x2, stride-2 max-pool and its gradient. */
#include <string.h>

#include "kernels/kernels.h"

void maxpool2x2_forward_scalar(size_t planes, int height, int width,
                               const float *input, float *output,
                               size_t output_plane_stride,
                               size_t output_row_stride, uint8_t *argmax)
{
    const int ho = height / 2, wo = width / 2;
    for (size_t p = 0; p < planes; p++) {
        const float *in = input + p * (size_t)height * width;
        float *out = output + p * output_plane_stride;
        uint8_t *arg = argmax + p * (size_t)ho * wo;
        for (int r = 0; r < ho; r++)
            for (int c = 0; c < wo; c++) {
                const float *top = in + (size_t)(2 * r) * width + 2 * c;
                const float window[4] = {top[0], top[1], top[width],
                                         top[width + 1]};
                int best = 0;
                /* Strictly greater: the first maximum in scan order wins. */
                for (int k = 1; k < 4; k++)
                    if (window[k] > window[best])
                        best = k;
                out[r * output_row_stride + c] = window[best];
                arg[r * wo + c] = (uint8_t)best;
            }
    }
}

void maxpool2x2_backward_scalar(size_t planes, int height, int width,
                                const float *output_grad, const uint8_t *argmax,
                                const float *relu_output, float *input_grad)
{
    const int ho = height / 2, wo = width / 2;
    memset(input_grad, 0, sizeof(float) * planes * (size_t)height * width);
    for (size_t p = 0; p < planes; p++) {
        float *dx = input_grad + p * (size_t)height * width;
        size_t base = p * (size_t)ho * wo;
        for (int r = 0; r < ho; r++)
            for (int c = 0; c < wo; c++) {
                size_t o = base + (size_t)r * wo + c;
                if (relu_output && !(relu_output[o] > 0.0f))
                    continue;
                int k = argmax[o];
                dx[(size_t)(2 * r + (k >> 1)) * width + 2 * c + (k & 1)] =
                    output_grad[o];
            }
    }
}
