/* Internal: the accepted polar pairs of the label generator's stream, in
 * stream order, made on a helper thread while the generator tests
 * candidates.
 *
 * Filling pairs (labels_fill_pairs*) is about half of the generation's
 * time, the magnitudes and the rejection tests the other half, so the two
 * halves run side by side: a helper thread fills slots of pairs ahead while
 * the calling thread takes them. The pairs are exactly those the inline
 * fill gives, so the label sets stay bit for bit the same. Small sets
 * never start the thread: it starts once PAIR_SOURCE_THREAD_AFTER pairs
 * were taken inline. When the thread cannot start, the pairs keep coming
 * inline (the same pairs, a little slower). */
#ifndef COSNET_LABELS_PAIR_SOURCE_H
#define COSNET_LABELS_PAIR_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "common/rng.h"
#include "cosnet.h"
#include "labels/label_draw.h"

/* About a millisecond of pairs: below it a thread costs more than it
 * saves. */
#define PAIR_SOURCE_THREAD_AFTER (1u << 18)
/* Pairs per fill of the portable path (the vector lanes fill a block of
 * LABELS_LANE_BLOCK_PAIRS at most). */
#define PAIR_SOURCE_PORTABLE_FILL 2048

typedef struct pair_source pair_source;

/* A source over `generator`'s stream: with `lanes` 8 or 4 through the
 * AVX-512 or AVX2 lanes (lane_outputs: their raw buffer, lanes *
 * LABELS_LANE_STRIDE words, 64-byte aligned, owned by the caller and left
 * alone until pair_source_free), with 0 through the portable fill.
 * Returns COSNET_OK or OUT_OF_MEMORY. */
cosnet_status pair_source_create(int lanes, const random_generator *generator,
                                 uint64_t *lane_outputs, pair_source **out);

/* The most pairs one pair_source_take gives. */
size_t pair_source_most(const pair_source *source);

/* Appends the next pairs of the stream (at least 1, at most
 * pair_source_most) to u and s and returns how many; the arrays need room
 * for pair_source_most + 8 values. Returns 0 with OUT_OF_MEMORY set when
 * the slots for the helper thread cannot be allocated. */
size_t pair_source_take(pair_source *source, double *u, double *s);

/* Stops and joins the helper thread, frees the source. NULL is a no-op. */
void pair_source_free(pair_source *source);

#endif
