/* AdamW with Optax/Axon semantics (docs/math.md): bias-corrected moments,
 * decoupled weight decay applied to every parameter, biases included. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/memory.h"
#include "common/error.h"
#include "network/model_internal.h"
#include "optimizer/adamw_internal.h"

#define DEFAULT_LEARNING_RATE 0.01
#define DEFAULT_WEIGHT_DECAY 0.01
#define DEFAULT_BETA1 0.9
#define DEFAULT_BETA2 0.999
#define DEFAULT_EPSILON 1e-8

COSNET_API cosnet_status cosnet_optimizer_create(const cosnet_model *model,
                                                 cosnet_optimizer **out)
{
    if (!model || !out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_optimizer_create: %s is NULL",
                         !model ? "model" : "out");
    const size_t count = model->arch.parameter_count;
    cosnet_optimizer *optimizer = memory_allocate_zeroed(1, sizeof *optimizer);
    if (!optimizer)
        return error_out_of_memory("optimizer", sizeof *optimizer);
    optimizer->first_moment = memory_allocate_zeroed(count, sizeof(float));
    optimizer->second_moment = memory_allocate_zeroed(count, sizeof(float));
    if (!optimizer->first_moment || !optimizer->second_moment) {
        cosnet_optimizer_free(optimizer);
        return error_out_of_memory("optimizer moments",
                                   2 * count * sizeof(float));
    }
    optimizer->parameter_count = count;
    optimizer->learning_rate = DEFAULT_LEARNING_RATE;
    optimizer->weight_decay = DEFAULT_WEIGHT_DECAY;
    optimizer->beta1 = DEFAULT_BETA1;
    optimizer->beta2 = DEFAULT_BETA2;
    optimizer->epsilon = DEFAULT_EPSILON;
    *out = optimizer;
    return COSNET_OK;
}

COSNET_API void cosnet_optimizer_free(cosnet_optimizer *optimizer)
{
    if (!optimizer)
        return;
    training_context_free(optimizer->training);
    memory_free(optimizer->first_moment);
    memory_free(optimizer->second_moment);
    memory_free(optimizer);
}

static const char *option_name(cosnet_optimizer_option option)
{
    switch (option) {
    case COSNET_OPTIMIZER_LEARNING_RATE: return "learning rate";
    case COSNET_OPTIMIZER_WEIGHT_DECAY: return "weight decay";
    case COSNET_OPTIMIZER_BETA1: return "beta1";
    case COSNET_OPTIMIZER_BETA2: return "beta2";
    case COSNET_OPTIMIZER_EPSILON: return "epsilon";
    }
    return NULL;
}

/* The field behind `option`, or NULL for an unknown option. */
static double *option_field(cosnet_optimizer *optimizer,
                            cosnet_optimizer_option option)
{
    switch (option) {
    case COSNET_OPTIMIZER_LEARNING_RATE: return &optimizer->learning_rate;
    case COSNET_OPTIMIZER_WEIGHT_DECAY: return &optimizer->weight_decay;
    case COSNET_OPTIMIZER_BETA1: return &optimizer->beta1;
    case COSNET_OPTIMIZER_BETA2: return &optimizer->beta2;
    case COSNET_OPTIMIZER_EPSILON: return &optimizer->epsilon;
    }
    return NULL;
}

COSNET_API cosnet_status cosnet_optimizer_set(cosnet_optimizer *optimizer,
                                              cosnet_optimizer_option option,
                                              double value)
{
    if (!optimizer)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_optimizer_set: optimizer is NULL");
    double *field = option_field(optimizer, option);
    if (!field)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_optimizer_set: unknown option %d",
                         (int)option);
    int valid;
    const char *rule;
    switch (option) {
    case COSNET_OPTIMIZER_BETA1:
    case COSNET_OPTIMIZER_BETA2:
        valid = value >= 0.0 && value < 1.0;
        rule = "in [0, 1)";
        break;
    case COSNET_OPTIMIZER_EPSILON:
        valid = isfinite(value) && value > 0.0;
        rule = "finite and > 0";
        break;
    default:
        valid = isfinite(value) && value >= 0.0;
        rule = "finite and >= 0";
        break;
    }
    if (!valid)
        return error_set(COSNET_ERROR_OUT_OF_RANGE,
                         "cosnet_optimizer_set: %s %g must be %s",
                         option_name(option), value, rule);
    *field = value;
    return COSNET_OK;
}

COSNET_API cosnet_status cosnet_optimizer_get(const cosnet_optimizer *optimizer,
                                              cosnet_optimizer_option option,
                                              double *value)
{
    if (!optimizer || !value)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_optimizer_get: %s is NULL",
                         !optimizer ? "optimizer" : "value");
    const double *field = option_field((cosnet_optimizer *)optimizer, option);
    if (!field)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_optimizer_get: unknown option %d",
                         (int)option);
    *value = *field;
    return COSNET_OK;
}

COSNET_API uint64_t cosnet_optimizer_steps(const cosnet_optimizer *optimizer)
{
    return optimizer ? optimizer->steps : 0;
}

COSNET_API void cosnet_optimizer_reset(cosnet_optimizer *optimizer)
{
    if (!optimizer)
        return;
    for (size_t i = 0; i < optimizer->parameter_count; i++) {
        optimizer->first_moment[i] = 0.0f;
        optimizer->second_moment[i] = 0.0f;
    }
    optimizer->steps = 0;
}

void adamw_step(cosnet_optimizer *optimizer, float *parameters,
                const float *gradient)
{
    /* The reference kernel, for the tests and benchmarks that step with
     * this function; the trainers call their table's adamw_step, which
     * gives the same bits. */
    const adamw_factors factors = adamw_step_factors(optimizer);
    adamw_step_scalar(optimizer->parameter_count, &factors, gradient,
                      parameters, optimizer->first_moment,
                      optimizer->second_moment, NULL, NULL, NULL);
    optimizer->steps++;
}

adamw_factors adamw_step_factors(const cosnet_optimizer *optimizer)
{
    const double t = (double)(optimizer->steps + 1);
    /* Bias corrections in double: 1 - 0.999^t loses most of its digits in
     * float for small t. Reciprocals once per step: two divisions fewer per
     * parameter. */
    adamw_factors f = {
        .beta1 = optimizer->beta1,
        .beta2 = optimizer->beta2,
        .learning_rate = optimizer->learning_rate,
        .weight_decay = optimizer->weight_decay,
        .epsilon = optimizer->epsilon,
        .inverse_correction1 = 1.0 / (1.0 - pow(optimizer->beta1, t)),
        .inverse_correction2 = 1.0 / (1.0 - pow(optimizer->beta2, t)),
    };
    return f;
}

cosnet_status adamw_snapshot_create(size_t parameter_count,
                                    adamw_snapshot *snapshot)
{
    snapshot->parameter_count = parameter_count;
    snapshot->steps = 0;
    snapshot->memory =
        memory_allocate_zeroed(3 * parameter_count + 1, sizeof(float));
    if (!snapshot->memory)
        return error_out_of_memory("optimiser snapshot",
                                   3 * parameter_count * sizeof(float));
    return COSNET_OK;
}

void adamw_snapshot_free(adamw_snapshot *snapshot)
{
    memory_free(snapshot->memory);
    snapshot->memory = NULL;
}

void adamw_restore(cosnet_optimizer *optimizer, float *parameters,
                   const adamw_snapshot *snapshot)
{
    adamw_restore_range(optimizer, parameters, snapshot, 0,
                        snapshot->parameter_count);
    optimizer->steps = snapshot->steps;
}

void adamw_restore_range(cosnet_optimizer *optimizer, float *parameters,
                         const adamw_snapshot *snapshot, size_t first,
                         size_t end)
{
    const size_t n = snapshot->parameter_count, count = end - first;
    memcpy(parameters + first, snapshot->memory + first, count * sizeof(float));
    memcpy(optimizer->first_moment + first, snapshot->memory + n + first,
           count * sizeof(float));
    memcpy(optimizer->second_moment + first, snapshot->memory + 2 * n + first,
           count * sizeof(float));
}
