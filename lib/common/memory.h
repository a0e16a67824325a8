/* Internal: every allocation of the library goes through these functions,
 * so that a caller-supplied allocator (cosnet_set_allocator) sees all of
 * them and a test can fail any one of them.
 *
 * Each block carries a small header in front of it (its size and where the
 * underlying allocation starts), which gives aligned blocks and reallocation
 * on top of an allocator that only offers allocate and release. */
#ifndef COSNET_COMMON_MEMORY_H
#define COSNET_COMMON_MEMORY_H

#include <stddef.h>

/* `bytes` uninitialised bytes aligned to 16, or NULL. bytes 0 gives a
 * valid unique block. */
void *memory_allocate(size_t bytes);

/* count * size zeroed bytes, or NULL (also when the product overflows). */
void *memory_allocate_zeroed(size_t count, size_t size);

/* `bytes` uninitialised bytes aligned to `alignment` (a power of two, at
 * most 4096), or NULL. */
void *memory_allocate_aligned(size_t alignment, size_t bytes);

/* Grows or shrinks a block from memory_allocate*, keeping its contents up
 * to the smaller size. NULL on failure, and then the old block is intact.
 * memory NULL acts as memory_allocate. */
void *memory_reallocate(void *memory, size_t bytes);

/* Releases a block from any of the above. NULL is a no-op. */
void memory_free(void *memory);

/* Test hook: when n > 0, the n-th allocation from now (1-based) and every
 * later one fail until the hook is set again; 0 switches failures off.
 * Returns how many allocations were attempted since the last call. Not
 * thread-safe: tests call it with no other libcosnet call running. */
unsigned long memory_fail_after(unsigned long n);

#endif
