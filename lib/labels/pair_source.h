/* Internal: the accepted polar pairs of the label generator's stream with
 * their approximate magnitudes, a candidate's worth at a time, filled on a
 * helper thread while the generator tests candidates.
 *
 * Filling pairs (labels_fill_pairs*) is about half of the generation's
 * time (54% in a perf profile), the magnitudes and the rejection tests the
 * other half (32% and 11%), so the two
 * halves run side by side: a helper thread fills slots of pairs ahead
 * while the calling thread computes their magnitudes and tests candidates
 * straight from the slot (only the fewer than `dims` pairs left at a
 * slot's end are copied, in front of the next slot's). The pairs are
 * exactly those the inline fill gives, so label sets stay bit for bit the
 * same. Small sets never start the thread: it starts once
 * PAIR_SOURCE_THREAD_AFTER pairs were filled inline. A thread that cannot
 * start leaves the filling inline (the same pairs, a little slower). */
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

typedef struct pair_source pair_source;

/* A source of candidates of `dims` values over `generator`'s stream: with
 * `lanes` 8 or 4 through the AVX-512 or AVX2 lanes (lane_outputs: their raw
 * buffer, lanes * LABELS_LANE_STRIDE words, 64-byte aligned, owned by the
 * caller and left alone until pair_source_free), with 0 through the
 * portable fill; magnitudes by `magnitudes`. Returns COSNET_OK or
 * OUT_OF_MEMORY. */
cosnet_status pair_source_create(size_t dims, int lanes,
                                 const random_generator *generator,
                                 uint64_t *lane_outputs,
                                 labels_magnitude_function magnitudes,
                                 pair_source **out);

/* The next `dims` pairs of the stream: *u, *s and *magnitude point to dims
 * consecutive values inside the source, valid until the next call.
 * Returns 1, or 0 with OUT_OF_MEMORY set when the helper thread's slots
 * cannot be allocated. */
int pair_source_next(pair_source *source, const double **u, const double **s,
                     const float **magnitude);

/* Stops and joins the helper thread, frees the source. NULL is a no-op. */
void pair_source_free(pair_source *source);

#endif
