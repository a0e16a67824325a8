/* The table of network architectures (see architecture.h). Constant data
 * only: offsets are spelled out by compile-time expressions so the table
 * needs no run-time initialisation and no mutable global state. */
#include "network/architecture.h"

/* Parameters of one 3x3 stage: weights then biases. */
#define STAGE_PARAMETERS(cin, cout) ((size_t)(cout) * (cin)*9 + (cout))

/* The article's network (SPEC section 2): 1x28x28 -> 16x28x28 -> pool
 * 16x14x14 -> 8x16x16 -> pool 8x8x8 -> 1x10x10 -> pool 1x5x5 = 25. */
#define SEED_STAGE1_START 0
#define SEED_STAGE2_START (SEED_STAGE1_START + STAGE_PARAMETERS(1, 16))
#define SEED_STAGE3_START (SEED_STAGE2_START + STAGE_PARAMETERS(16, 8))
#define SEED_PARAMETERS (SEED_STAGE3_START + STAGE_PARAMETERS(8, 1))

static const architecture_description architecture_seed = {
    .id = COSNET_ARCHITECTURE_SEED,
    .name = "seed",
    .input_channels = 1,
    .input_rows = 28,
    .input_columns = 28,
    .conv_stage_count = 3,
    .conv_stages =
        {
            {.shape = {.in_channels = 1,
                       .out_channels = 16,
                       .in_height = 28,
                       .in_width = 28,
                       .pad = 1},
             .weight_offset = SEED_STAGE1_START,
             .bias_offset = SEED_STAGE1_START + 16 * 1 * 9,
             .pooled_height = 14,
             .pooled_width = 14},
            {.shape = {.in_channels = 16,
                       .out_channels = 8,
                       .in_height = 14,
                       .in_width = 14,
                       .pad = 2},
             .weight_offset = SEED_STAGE2_START,
             .bias_offset = SEED_STAGE2_START + 8 * 16 * 9,
             .pooled_height = 8,
             .pooled_width = 8},
            {.shape = {.in_channels = 8,
                       .out_channels = 1,
                       .in_height = 8,
                       .in_width = 8,
                       .pad = 2},
             .weight_offset = SEED_STAGE3_START,
             .bias_offset = SEED_STAGE3_START + 1 * 8 * 9,
             .pooled_height = 5,
             .pooled_width = 5},
        },
    .dense_outputs = 0,
    .output_dims = 25,
    .parameter_count = SEED_PARAMETERS,
};

_Static_assert(SEED_PARAMETERS == 1393, "the seed network has 1,393 weights");

const architecture_description *architecture_find(cosnet_architecture id)
{
    switch (id) {
    case COSNET_ARCHITECTURE_SEED: return &architecture_seed;
    }
    return NULL;
}

size_t architecture_flattened_size(const architecture_description *arch)
{
    const conv_stage *last = &arch->conv_stages[arch->conv_stage_count - 1];
    return (size_t)last->shape.out_channels * last->pooled_height *
           last->pooled_width;
}
