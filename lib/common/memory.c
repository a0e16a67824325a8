/* The library's allocation functions (see memory.h) and the public
 * allocator hook. The hook is process-wide configuration, set before use,
 * like sqlite3_config(SQLITE_CONFIG_MALLOC); the count of live blocks lets
 * cosnet_set_allocator refuse a change while blocks of the old allocator
 * are still out. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/memory.h"

/* In front of every block: the underlying allocation and the usable size.
 * 16 bytes keep the default alignment of malloc. */
typedef struct block_header {
    void *base;
    size_t bytes;
} block_header;

_Static_assert(sizeof(block_header) <= 16, "the header fits 16 bytes");
#define HEADER_ROOM 16

static void *default_allocate(void *user_data, size_t bytes)
{
    (void)user_data;
    return malloc(bytes);
}

static void default_release(void *user_data, void *memory)
{
    (void)user_data;
    free(memory);
}

static cosnet_allocate_function allocate_function = default_allocate;
static cosnet_release_function release_function = default_release;
static void *allocator_user_data;
static atomic_size_t live_blocks;

/* The failure-injection counter of memory_fail_after. */
static atomic_ulong allocations_seen;
static atomic_ulong fail_from; /* 0 = never */

static int injected_failure(void)
{
    unsigned long seen = atomic_fetch_add(&allocations_seen, 1) + 1;
    unsigned long from = atomic_load(&fail_from);
    return from != 0 && seen >= from;
}

unsigned long memory_fail_after(unsigned long n)
{
    unsigned long seen = atomic_exchange(&allocations_seen, 0);
    atomic_store(&fail_from, n);
    return seen;
}

void *memory_allocate_aligned(size_t alignment, size_t bytes)
{
    if (alignment < 16)
        alignment = 16;
    if ((alignment & (alignment - 1)) != 0 || alignment > 4096)
        return NULL;
    if (bytes > SIZE_MAX - alignment - HEADER_ROOM)
        return NULL;
    if (injected_failure())
        return NULL;
    unsigned char *base =
        allocate_function(allocator_user_data, bytes + alignment + HEADER_ROOM);
    if (!base)
        return NULL;
    uintptr_t start = (uintptr_t)(base + HEADER_ROOM);
    start = (start + alignment - 1) & ~(uintptr_t)(alignment - 1);
    unsigned char *memory = (unsigned char *)start;
    block_header header = {base, bytes};
    memcpy(memory - HEADER_ROOM, &header, sizeof header);
    atomic_fetch_add(&live_blocks, 1);
    return memory;
}

void *memory_allocate(size_t bytes)
{
    return memory_allocate_aligned(16, bytes);
}

void *memory_allocate_zeroed(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    void *memory = memory_allocate(count * size);
    if (memory)
        memset(memory, 0, count * size);
    return memory;
}

static block_header header_of(const void *memory)
{
    block_header header;
    memcpy(&header, (const unsigned char *)memory - HEADER_ROOM, sizeof header);
    return header;
}

void *memory_reallocate(void *memory, size_t bytes)
{
    if (!memory)
        return memory_allocate(bytes);
    block_header old = header_of(memory);
    void *grown = memory_allocate(bytes);
    if (!grown)
        return NULL;
    memcpy(grown, memory, old.bytes < bytes ? old.bytes : bytes);
    memory_free(memory);
    return grown;
}

void memory_free(void *memory)
{
    if (!memory)
        return;
    block_header header = header_of(memory);
    atomic_fetch_sub(&live_blocks, 1);
    release_function(allocator_user_data, header.base);
}

COSNET_API void cosnet_free(void *memory)
{
    memory_free(memory);
}

COSNET_API cosnet_status cosnet_set_allocator(cosnet_allocate_function allocate,
                                              cosnet_release_function release,
                                              void *user_data)
{
    if ((allocate == NULL) != (release == NULL))
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_set_allocator: give both functions, or "
                         "neither to restore malloc and free");
    size_t live = atomic_load(&live_blocks);
    if (live != 0)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_set_allocator: %zu blocks of the current "
                         "allocator are still in use; free every handle "
                         "first",
                         live);
    allocate_function = allocate ? allocate : default_allocate;
    release_function = release ? release : default_release;
    allocator_user_data = allocate ? user_data : NULL;
    return COSNET_OK;
}
