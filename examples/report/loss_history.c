/* Loss history: plain arrays indexed by class, epoch and batch. */
#include "loss_history.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

int loss_history_init(loss_history *history, unsigned classes, unsigned epochs,
                      size_t batches, int keep_batches)
{
    history->classes = classes;
    history->epochs = epochs;
    history->batches = batches;
    history->epoch = NULL;
    history->batch = NULL;
    size_t cells = (size_t)classes * epochs;
    if (cells == 0)
        return 0;
    if (cells > SIZE_MAX / sizeof(float))
        return -1;
    history->epoch = malloc(cells * sizeof *history->epoch);
    if (!history->epoch)
        return -1;
    for (size_t i = 0; i < cells; i++)
        history->epoch[i] = NAN;
    if (keep_batches && batches) {
        if (cells > SIZE_MAX / sizeof(float) / batches) {
            loss_history_free(history);
            return -1;
        }
        history->batch = malloc(cells * batches * sizeof *history->batch);
        if (!history->batch) {
            loss_history_free(history);
            return -1;
        }
        for (size_t i = 0; i < cells * batches; i++)
            history->batch[i] = NAN;
    }
    return 0;
}

void loss_history_free(loss_history *history)
{
    free(history->epoch);
    free(history->batch);
    history->epoch = NULL;
    history->batch = NULL;
}

void loss_history_epoch(loss_history *history, unsigned k, unsigned epoch,
                        float loss)
{
    if (history && history->epoch && k < history->classes && epoch >= 1 &&
        epoch <= history->epochs)
        history->epoch[(size_t)k * history->epochs + epoch - 1] = loss;
}

int loss_tracker_callback(void *argument, unsigned epoch, size_t batch,
                          float loss)
{
    loss_tracker *tracker = argument;
    loss_history *history = tracker->history;
    if (history && history->batch && tracker->k < history->classes &&
        epoch >= 1 && epoch <= history->epochs && batch < history->batches)
        history->batch[((size_t)tracker->k * history->epochs + epoch - 1) *
                           history->batches +
                       batch] = loss;
    progress_add(tracker->line, tracker->batch_size);
    return 0;
}

static void json_float(FILE *out, float value)
{
    if (isfinite(value))
        fprintf(out, "%.9g", (double)value);
    else
        fputs("null", out);
}

void loss_history_json(FILE *out, const loss_history *history, int with_batches)
{
    fputs("{\"epoch\": [", out);
    for (unsigned k = 0; history->epoch && k < history->classes; k++) {
        fputs(k ? ",\n    [" : "\n    [", out);
        for (unsigned e = 0; e < history->epochs; e++) {
            if (e)
                fputs(", ", out);
            json_float(out, history->epoch[(size_t)k * history->epochs + e]);
        }
        fputc(']', out);
    }
    fputs("],\n   \"batch\": ", out);
    if (!with_batches || !history->batch) {
        fputs("null}", out);
        return;
    }
    fputc('[', out);
    for (unsigned k = 0; k < history->classes; k++) {
        fputs(k ? ",\n    [" : "\n    [", out);
        for (unsigned e = 0; e < history->epochs; e++) {
            fputs(e ? ",\n     [" : "[", out);
            const float *row =
                history->batch +
                ((size_t)k * history->epochs + e) * history->batches;
            for (size_t b = 0; b < history->batches; b++) {
                if (b)
                    fputs(", ", out);
                json_float(out, row[b]);
            }
            fputc(']', out);
        }
        fputc(']', out);
    }
    fputs("]}", out);
}
