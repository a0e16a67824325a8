/* Loss history of a training run: the loss of every class's model per
 * epoch and, optionally, per batch; fed from cosnet_train_epoch's
 * progress callback, which also advances a progress line. */
#ifndef COSNET_REPORT_LOSS_HISTORY_H
#define COSNET_REPORT_LOSS_HISTORY_H

#include <stddef.h>
#include <stdio.h>

#include "progress.h"

typedef struct loss_history {
    unsigned classes, epochs;
    size_t batches; /* per epoch */
    float *epoch;   /* [classes][epochs]; NAN until recorded */
    float *batch;   /* [classes][epochs][batches] in training order, or NULL */
} loss_history;

/* Allocates the arrays (batch only when keep_batches). Returns 0 or -1. */
int loss_history_init(loss_history *history, unsigned classes, unsigned epochs,
                      size_t batches, int keep_batches);
void loss_history_free(loss_history *history);

/* Records class k's loss of 1-based `epoch`. Out-of-range is ignored.
 * Distinct classes may be recorded from distinct threads at once. */
void loss_history_epoch(loss_history *history, unsigned k, unsigned epoch,
                        float loss);

/* What one class's training passes to cosnet_train_epoch as user_data. */
typedef struct loss_tracker {
    loss_history *history; /* may be NULL */
    progress *line;        /* may be NULL */
    unsigned k;
    size_t batch_size; /* images per batch, added to the progress line */
} loss_tracker;

/* A cosnet_progress_callback: records the batch loss (when kept) and adds
 * batch_size image-steps to the line. Always returns 0 (go on). */
int loss_tracker_callback(void *tracker, unsigned epoch, size_t batch,
                          float loss);

/* Writes the JSON value of "loss_history": {"epoch": [[...], ...],
 * "batch": [[[...], ...], ...] or null}. with_batches 0 writes "batch":
 * null even when batches were kept. NAN (not reached) is written as null.
 */
void loss_history_json(FILE *out, const loss_history *history,
                       int with_batches);

#endif /* COSNET_REPORT_LOSS_HISTORY_H */
