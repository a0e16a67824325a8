/* Internal: the model handle, shared by the model, file, training and
 * evaluation code. */
#ifndef COSNET_NETWORK_MODEL_INTERNAL_H
#define COSNET_NETWORK_MODEL_INTERNAL_H

#include "cosnet.h"
#include "network/architecture.h"

struct cosnet_model {
    const architecture_description *arch; /* static table entry */
    float *parameters;                    /* arch->parameter_count floats */
};

/* A model of `arch` with all parameters zero (the caller fills them).
 * Returns COSNET_OK or OUT_OF_MEMORY. */
cosnet_status model_allocate(const architecture_description *arch,
                             cosnet_model **out);

/* The index of the first NaN/infinite value among count, or count if all
 * are finite. */
size_t first_non_finite(const float *values, size_t count);

#endif
