/* Internal helpers shared by the SIMD kernel files of every ISA (each
 * compiled under its own flags): inlining and unrolling macros. The vector
 * vocabulary of each ISA is in simd_avx2.h, simd_avx512.h, simd_neon.h. */
#ifndef COSNET_KERNELS_SIMD_COMMON_H
#define COSNET_KERNELS_SIMD_COMMON_H

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

#endif
