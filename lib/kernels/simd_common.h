/* Internal helpers shared by the SIMD kernel files (plain C, so every ISA
 * file can include it under its own flags): the output-channel block plan,
 * the weight repacking it implies, and scratch buffers that live on the stack
 * when small and on the heap otherwise. */
#ifndef COSNET_KERNELS_SIMD_COMMON_H
#define COSNET_KERNELS_SIMD_COMMON_H

#include <stdlib.h>

#include "common/memory.h"
#include "kernels/kernels.h"

#define SIMD_INLINE static inline __attribute__((always_inline))

/* Fully unrolls the next loop (trip counts are compile-time constants
 * after inlining), so that tile accumulators indexed by the loop counters
 * become registers. */
#if defined(__clang__)
#define UNROLL_FULL _Pragma("clang loop unroll(full)")
#else
#define UNROLL_FULL _Pragma("GCC unroll 32")
#endif

/* Output channels are processed in blocks of `main_block`; the last,
 * partial block is rounded up to a power of two (at most main_block) and
 * its extra channels get zero weights, so one kernel per block width covers
 * every channel count with little wasted work. */
static inline int conv_block_width(int remaining, int main_block)
{
    if (remaining >= main_block)
        return main_block;
    int width = 1;
    while (width < remaining)
        width *= 2;
    return width < main_block ? width : main_block;
}

static inline size_t conv_packed_floats(int out_channels, int in_channels,
                                        int main_block)
{
    size_t total = 0;
    for (int co = 0; co < out_channels;) {
        int width = conv_block_width(out_channels - co, main_block);
        total += (size_t)width * in_channels * 9;
        co += width < out_channels - co ? width : out_channels - co;
    }
    return total;
}

/* Repacks OIHW weights into blocks laid out [block][ci][kh][kw][co_in_block],
 * so a kernel walks one contiguous stream and broadcasts each weight from a
 * constant offset. With `flip_transpose` the packed convolution is the one
 * whose forward pass computes the input gradient: output channel o = input
 * channel of `weights`, input channel c = its output channel, kernel rotated
 * by 180 degrees. out_channels/in_channels describe the packed convolution. */
static inline void conv_pack_weights(int out_channels, int in_channels,
                                     const float *weights, int flip_transpose,
                                     int main_block, float *packed)
{
    for (int co0 = 0; co0 < out_channels;) {
        int width = conv_block_width(out_channels - co0, main_block);
        for (int ci = 0; ci < in_channels; ci++)
            for (int k = 0; k < 9; k++)
                for (int b = 0; b < width; b++) {
                    int co = co0 + b;
                    float value = 0.0f;
                    if (co < out_channels)
                        value =
                            flip_transpose
                                ? weights[((size_t)ci * out_channels + co) * 9 +
                                          (8 - k)]
                                : weights[((size_t)co * in_channels + ci) * 9 +
                                          k];
                    *packed++ = value;
                }
        co0 += width < out_channels - co0 ? width : out_channels - co0;
    }
}

/* A scratch area: `stack_area` (stack_floats long, owned by the caller) when
 * it is big enough, else the heap. NULL only if the heap allocation fails;
 * kernels then fall back to the scalar reference, so they never fail. */
static inline float *scratch_acquire(float *stack_area, size_t stack_floats,
                                     size_t floats)
{
    if (floats <= stack_floats)
        return stack_area;
    /* Rounded up to whole cache lines, as aligned_alloc requires. */
    size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
    return memory_allocate_aligned(64, bytes);
}

static inline void scratch_release(float *buffer, float *stack_area)
{
    if (buffer != stack_area)
        memory_free(buffer);
}

#if defined(__AVX2__)
#include <immintrin.h>

/* Stores the first `lanes` lanes of v (none if lanes <= 0). vmaskmovps
 * stores are slow on AMD cores, so a tail goes out in 4-, 2- and 1-lane
 * pieces instead. */
static inline void store_lanes_256(float *p, __m256 v, int lanes)
{
    if (lanes >= 8) {
        _mm256_storeu_ps(p, v);
        return;
    }
    if (lanes <= 0)
        return;
    __m128 part = _mm256_castps256_ps128(v);
    if (lanes & 4) {
        _mm_storeu_ps(p, part);
        part = _mm256_extractf128_ps(v, 1);
        p += 4;
    }
    if (lanes & 2) {
        _mm_storel_pi((__m64 *)(void *)p, part);
        part = _mm_movehl_ps(part, part);
        p += 2;
    }
    if (lanes & 1)
        _mm_store_ss(p, part);
}
#endif

#endif
