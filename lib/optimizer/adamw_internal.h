/* Internal: the AdamW optimiser's state, for the training code. */
#ifndef COSNET_OPTIMIZER_ADAMW_INTERNAL_H
#define COSNET_OPTIMIZER_ADAMW_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cosnet.h"
#include "kernels/adamw.h"

typedef struct training_context training_context;

struct cosnet_optimizer {
    size_t parameter_count;
    double learning_rate, weight_decay, beta1, beta2, epsilon;
    uint64_t steps;       /* steps taken; the next one is t = steps + 1 */
    float *first_moment;  /* m, parameter_count floats */
    float *second_moment; /* v, parameter_count floats */
    /* The buffers of the last cosnet_train_batch or cosnet_train_epoch
     * (train/train.c), kept for the next call on a network of the same
     * layers; NULL before the first. Freed with the optimiser. */
    training_context *training;
};

/* Frees what cosnet_optimizer->training holds (train/train.c); NULL is a
 * no-op. */
void training_context_free(training_context *context);

/* One AdamW step (docs/math.md) on parameter_count parameters with their
 * gradient, by the plain-C kernel; advances the step counter. No
 * validation: the caller checks the sizes and that the gradient is finite.
 * (The trainers step with their kernel table's adamw_step instead, which
 * gives the same bits and takes the undo snapshot as it goes.) */
void adamw_step(cosnet_optimizer *optimizer, float *parameters,
                const float *gradient);

/* The factors of the optimiser's next step, for the adamw_step kernel
 * of kernels/adamw.h, which steps any range of the parameters (threads
 * step disjoint ranges of one step, then one of them advances the
 * counter; the update is elementwise, so the cut does not matter). */
adamw_factors adamw_step_factors(const cosnet_optimizer *optimizer);

/* A copy of the optimiser's mutable state (moments and step counter) and
 * of the parameters it updates, taken before a step so that a step that
 * makes a parameter non-finite can be undone. The adamw_step kernel
 * fills it as it steps (its saved_* arguments). */
typedef struct adamw_snapshot {
    size_t parameter_count;
    float *memory; /* parameters, then m, then v */
    uint64_t steps;
} adamw_snapshot;

/* Returns COSNET_OK or OUT_OF_MEMORY. */
cosnet_status adamw_snapshot_create(size_t parameter_count,
                                    adamw_snapshot *snapshot);
void adamw_snapshot_free(adamw_snapshot *snapshot);
void adamw_restore(cosnet_optimizer *optimizer, float *parameters,
                   const adamw_snapshot *snapshot);
/* adamw_restore for parameters [first, end) only, without touching the
 * step counter. Threads that step disjoint ranges save them through the
 * adamw_step kernel's saved_* arguments: parameter k at memory[k], its m
 * at memory[parameter_count + k], its v at memory[2 parameter_count + k];
 * the caller records snapshot->steps itself. */
void adamw_restore_range(cosnet_optimizer *optimizer, float *parameters,
                         const adamw_snapshot *snapshot, size_t first,
                         size_t end);

#endif
