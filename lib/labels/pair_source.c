/* Pairs for the label generator, filled ahead on a helper thread (see
 * pair_source.h). Two slots: the helper fills one while the caller empties
 * the other; a mutex and two condition variables hand them over, a few
 * thousand times per second at most, so waiting costs nothing measurable. */
#include <pthread.h>
#include <string.h>

#include "common/error.h"
#include "common/memory.h"
#include "common/thread.h"
#include "labels/pair_source.h"

/* Fills per slot: a slot holds SLOT_FILLS fills' pairs. */
#define SLOT_FILLS 8
#define SLOTS 2

typedef struct slot {
    double *u, *s;
    size_t count; /* pairs in it */
    size_t taken; /* pairs handed out */
    int full;
} slot;

struct pair_source {
    int lanes;
    labels_lanes lane_state;
    random_generator generator;
    size_t fill_most; /* most pairs one fill gives */
    size_t taken_inline;
    /* The helper thread; running once started. */
    int running, stop;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t filled, emptied;
    slot slots[SLOTS];
    int reading; /* the slot the caller takes from */
    double *memory;
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

cosnet_status pair_source_create(int lanes, const random_generator *generator,
                                 uint64_t *lane_outputs, pair_source **out)
{
    pair_source *source = memory_allocate_zeroed(1, sizeof *source);
    if (!source)
        return error_out_of_memory("label pair source", sizeof *source);
    source->lanes = lanes;
    source->generator = *generator;
    if (lanes) {
        source->lane_state.raw = lane_outputs;
        labels_lanes_start(&source->lane_state, lanes, generator);
        source->fill_most =
            lanes == 8 ? LABELS_LANE_BLOCK_PAIRS : LABELS_LANE_BLOCK_PAIRS / 2;
    } else {
        source->fill_most = PAIR_SOURCE_PORTABLE_FILL;
    }
    *out = source;
    return COSNET_OK;
}

size_t pair_source_most(const pair_source *source)
{
    return source->fill_most;
}

static void *produce(void *argument)
{
    pair_source *source = argument;
    int writing = 0;
    pthread_mutex_lock(&source->lock);
    for (;;) {
        slot *target = &source->slots[writing];
        while (target->full && !source->stop)
            pthread_cond_wait(&source->emptied, &source->lock);
        if (source->stop)
            break;
        pthread_mutex_unlock(&source->lock);
        /* Each fill leaves room for 8 values past its pairs. */
        size_t count = 0;
        for (int f = 0; f < SLOT_FILLS; f++)
            count += fill(source, target->u + count, target->s + count);
        pthread_mutex_lock(&source->lock);
        target->count = count;
        target->taken = 0;
        target->full = 1;
        pthread_cond_signal(&source->filled);
        writing = (writing + 1) % SLOTS;
    }
    pthread_mutex_unlock(&source->lock);
    return NULL;
}

/* Allocates the slots and starts the helper; a thread that cannot start
 * leaves the source inline. Returns 0 when the slots cannot be allocated. */
static int start_helper(pair_source *source)
{
    const size_t per_slot = SLOT_FILLS * source->fill_most + 8;
    source->memory = memory_allocate(2 * SLOTS * per_slot * sizeof(double));
    if (!source->memory) {
        error_out_of_memory("label pair slots",
                            2 * SLOTS * per_slot * sizeof(double));
        return 0;
    }
    for (int k = 0; k < SLOTS; k++) {
        source->slots[k].u = source->memory + 2 * k * per_slot;
        source->slots[k].s = source->slots[k].u + per_slot;
    }
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
        /* Inline from now on: never try again. */
        source->taken_inline = 0;
        source->running = -1;
        return 1;
    }
    source->running = 1;
    return 1;
}

size_t pair_source_take(pair_source *source, double *u, double *s)
{
    if (source->running == 0 &&
        source->taken_inline >= PAIR_SOURCE_THREAD_AFTER &&
        !start_helper(source))
        return 0;
    if (source->running != 1) {
        size_t fresh = fill(source, u, s);
        if (source->running == 0)
            source->taken_inline += fresh;
        return fresh;
    }
    slot *from = &source->slots[source->reading];
    pthread_mutex_lock(&source->lock);
    while (!from->full)
        pthread_cond_wait(&source->filled, &source->lock);
    pthread_mutex_unlock(&source->lock);
    size_t n = from->count - from->taken;
    if (n > source->fill_most)
        n = source->fill_most;
    memcpy(u, from->u + from->taken, n * sizeof(double));
    memcpy(s, from->s + from->taken, n * sizeof(double));
    from->taken += n;
    if (from->taken == from->count) {
        pthread_mutex_lock(&source->lock);
        from->full = 0;
        pthread_cond_signal(&source->emptied);
        pthread_mutex_unlock(&source->lock);
        source->reading = (source->reading + 1) % SLOTS;
    }
    return n;
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
    memory_free(source);
}
