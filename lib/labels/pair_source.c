/* Pairs for the label generator, filled ahead on a helper thread (see
 * pair_source.h).
 *
 * A slot is a prefix of `dims` pairs, then the pairs of SLOT_FILLS fills
 * (8 spare values after them: a fill writes scratch past its last pair).
 * The caller reads candidates in place; when fewer than `dims` pairs are
 * left, it moves them into the prefix of the next slot, in front of its
 * fresh pairs. Inline, one small slot is refilled in place; with the helper
 * thread, SLOTS slots go round, handed over by a mutex and two condition
 * variables (a few thousand times per second at most).
 *
 * Slot sizes measured (bench_labels --seeds 40, wall median, the inline
 * generator 70 ms): 2 slots of 8 fills 68 ms, of 16 fills 51 ms; 4 of 4
 * fills 46 ms; 4 of 2 fills 77 ms; 8 of 1 fill 72 ms. Four slots of four
 * fills (about 650 KB each) let the filler run well ahead without the
 * handovers' cost of small slots. */
#include <pthread.h>
#include <string.h>

#include "common/error.h"
#include "common/memory.h"
#include "common/thread.h"
#include "labels/pair_source.h"

/* Pairs per fill of the portable path (the vector lanes fill a block of
 * LABELS_LANE_BLOCK_PAIRS at most). */
#define PAIR_SOURCE_PORTABLE_FILL 2048
/* Fills per slot of the helper thread, and slots (see above). */
#define SLOT_FILLS 4
#define SLOTS 4

typedef struct slot {
    double *u, *s;    /* prefix + capacity + 8 values */
    float *magnitude; /* prefix + capacity + 8 values */
    size_t count;     /* fresh pairs after the prefix */
    int full;         /* helper slots: filled, not yet emptied */
} slot;

struct pair_source {
    size_t dims;
    int lanes;
    labels_lanes lane_state;
    random_generator generator;
    labels_magnitude_function magnitudes;
    size_t fill_most; /* most pairs one fill gives */
    size_t filled_inline;
    /* The caller's window: slot `current` (NULL before the first), pairs
     * [head, end) not yet handed out, indices from the slot's start. */
    slot *current;
    size_t head, end;
    slot inline_slot;
    /* The helper thread: 0 not started, 1 running, -1 could not start. */
    int running, stop;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t filled, emptied;
    slot slots[SLOTS];
    int reading; /* the helper slot the caller takes next */
    void *memory;
};

static size_t fill(pair_source *source, double *u, double *s)
{
    if (source->lanes == 8)
        return labels_fill_pairs_avx512(&source->lane_state, u, s);
    if (source->lanes == 4)
        return labels_fill_pairs_avx2(&source->lane_state, u, s);
    labels_fill_pairs(&source->generator, u, s, PAIR_SOURCE_PORTABLE_FILL);
    return PAIR_SOURCE_PORTABLE_FILL;
}

/* Values per array of a slot of `capacity` fresh pairs: the prefix, the
 * pairs and 8 spare, rounded up to 16 so that every array, and the next
 * slot after it, starts 64-byte aligned. */
static size_t slot_values(size_t dims, size_t capacity)
{
    return (dims + capacity + 8 + 15) / 16 * 16;
}

/* Bytes of one slot; 0 when too big. */
static size_t slot_bytes(size_t dims, size_t capacity)
{
    if (dims > SIZE_MAX / 64 || capacity > SIZE_MAX / 64)
        return 0;
    const size_t values = slot_values(dims, capacity);
    if (values > SIZE_MAX / 32)
        return 0;
    return values * (2 * sizeof(double) + sizeof(float));
}

static void slot_place(slot *target, void *memory, size_t dims, size_t capacity)
{
    const size_t values = slot_values(dims, capacity);
    target->u = memory;
    target->s = target->u + values;
    target->magnitude = (float *)(target->s + values);
}

cosnet_status pair_source_create(size_t dims, int lanes,
                                 const random_generator *generator,
                                 uint64_t *lane_outputs,
                                 labels_magnitude_function magnitudes,
                                 pair_source **out)
{
    const size_t fill_most = lanes == 8   ? LABELS_LANE_BLOCK_PAIRS
                             : lanes == 4 ? LABELS_LANE_BLOCK_PAIRS / 2
                                          : PAIR_SOURCE_PORTABLE_FILL;
    const size_t bytes = slot_bytes(dims, fill_most);
    pair_source *source = memory_allocate_zeroed(1, sizeof *source);
    void *memory = bytes ? memory_allocate_aligned(64, bytes) : NULL;
    if (!source || !memory) {
        memory_free(source);
        memory_free(memory);
        return error_out_of_memory("label pair source", bytes);
    }
    source->dims = dims;
    source->lanes = lanes;
    source->generator = *generator;
    source->magnitudes = magnitudes;
    source->fill_most = fill_most;
    if (lanes) {
        source->lane_state.raw = lane_outputs;
        labels_lanes_start(&source->lane_state, lanes, generator);
    }
    slot_place(&source->inline_slot, memory, dims, fill_most);
    *out = source;
    return COSNET_OK;
}

static void *produce(void *argument)
{
    pair_source *source = argument;
    const size_t prefix = source->dims;
    int writing = 0;
    pthread_mutex_lock(&source->lock);
    for (;;) {
        slot *target = &source->slots[writing];
        while (target->full && !source->stop)
            pthread_cond_wait(&source->emptied, &source->lock);
        if (source->stop)
            break;
        pthread_mutex_unlock(&source->lock);
        size_t count = 0;
        for (int f = 0; f < SLOT_FILLS; f++)
            count += fill(source, target->u + prefix + count,
                          target->s + prefix + count);
        pthread_mutex_lock(&source->lock);
        target->count = count;
        target->full = 1;
        pthread_cond_signal(&source->filled);
        writing = (writing + 1) % SLOTS;
    }
    pthread_mutex_unlock(&source->lock);
    return NULL;
}

/* Allocates the helper's slots and starts it; a thread that cannot start
 * leaves the source inline for good. Returns 0 when the slots cannot be
 * allocated. */
static int start_helper(pair_source *source)
{
    const size_t capacity = SLOT_FILLS * source->fill_most;
    const size_t bytes = slot_bytes(source->dims, capacity);
    source->memory = bytes && bytes <= SIZE_MAX / SLOTS
                         ? memory_allocate_aligned(64, SLOTS * bytes)
                         : NULL;
    if (!source->memory) {
        error_out_of_memory("label pair slots", SLOTS * bytes);
        return 0;
    }
    for (int k = 0; k < SLOTS; k++)
        slot_place(&source->slots[k], (char *)source->memory + k * bytes,
                   source->dims, capacity);
    pthread_mutex_init(&source->lock, NULL);
    pthread_cond_init(&source->filled, NULL);
    pthread_cond_init(&source->emptied, NULL);
    if (thread_start(&source->thread, produce, source,
                     "cosnet_labels_generate pair filler") != COSNET_OK) {
        pthread_cond_destroy(&source->emptied);
        pthread_cond_destroy(&source->filled);
        pthread_mutex_destroy(&source->lock);
        memory_free(source->memory);
        source->memory = NULL;
        source->running = -1;
        return 1;
    }
    source->running = 1;
    return 1;
}

/* The next slot with fresh pairs, its magnitudes not yet computed. */
static slot *next_slot(pair_source *source)
{
    if (source->running == 0 &&
        source->filled_inline >= PAIR_SOURCE_THREAD_AFTER &&
        !start_helper(source))
        return NULL;
    if (source->running != 1) {
        slot *target = &source->inline_slot;
        target->count =
            fill(source, target->u + source->dims, target->s + source->dims);
        source->filled_inline += target->count;
        return target;
    }
    slot *target = &source->slots[source->reading];
    source->reading = (source->reading + 1) % SLOTS;
    pthread_mutex_lock(&source->lock);
    while (!target->full)
        pthread_cond_wait(&source->filled, &source->lock);
    pthread_mutex_unlock(&source->lock);
    return target;
}

static void release(pair_source *source, slot *done)
{
    if (!done || done == &source->inline_slot)
        return;
    pthread_mutex_lock(&source->lock);
    done->full = 0;
    pthread_cond_signal(&source->emptied);
    pthread_mutex_unlock(&source->lock);
}

int pair_source_next(pair_source *source, const double **u, const double **s,
                     const float **magnitude)
{
    const size_t dims = source->dims;
    while (source->end - source->head < dims) {
        /* The pairs left (fewer than dims) go in front of the next slot's
         * fresh ones. The inline slot is refilled in place, so they move
         * out of the way first. */
        slot *from = source->current;
        const size_t left = source->end - source->head;
        if (from == &source->inline_slot) {
            slot *inline_slot = &source->inline_slot;
            if (left > 0) {
                memmove(inline_slot->u + dims - left,
                        inline_slot->u + source->head, left * sizeof(double));
                memmove(inline_slot->s + dims - left,
                        inline_slot->s + source->head, left * sizeof(double));
                memmove(inline_slot->magnitude + dims - left,
                        inline_slot->magnitude + source->head,
                        left * sizeof(float));
            }
        }
        slot *to = next_slot(source);
        if (!to)
            return 0;
        if (from && from != to && left > 0) {
            /* The inline slot's were moved in front of its fresh pairs. */
            const size_t at =
                from == &source->inline_slot ? dims - left : source->head;
            memcpy(to->u + dims - left, from->u + at, left * sizeof(double));
            memcpy(to->s + dims - left, from->s + at, left * sizeof(double));
            memcpy(to->magnitude + dims - left, from->magnitude + at,
                   left * sizeof(float));
        }
        release(source, from == to ? NULL : from);
        source->magnitudes(to->u + dims, to->s + dims, to->magnitude + dims,
                           to->count);
        source->current = to;
        source->head = dims - left;
        source->end = dims + to->count;
    }
    *u = source->current->u + source->head;
    *s = source->current->s + source->head;
    *magnitude = source->current->magnitude + source->head;
    source->head += dims;
    return 1;
}

void pair_source_free(pair_source *source)
{
    if (!source)
        return;
    if (source->running == 1) {
        pthread_mutex_lock(&source->lock);
        source->stop = 1;
        pthread_cond_signal(&source->emptied);
        pthread_mutex_unlock(&source->lock);
        pthread_join(source->thread, NULL);
        pthread_cond_destroy(&source->emptied);
        pthread_cond_destroy(&source->filled);
        pthread_mutex_destroy(&source->lock);
    }
    memory_free(source->memory);
    memory_free(source->inline_slot.u);
    memory_free(source);
}
