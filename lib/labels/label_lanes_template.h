/* The xoshiro256** lanes of label_pairs_avx2.c and label_pairs_avx512.c,
 * written once over a 64-bit-lane vocabulary each file defines before
 * including this one: LANE_VECTOR, LANE_XOR(a, b), LANE_SHIFT_LEFT(a, k),
 * LANE_ROTATE_LEFT(a, k), LANE_ZERO(), LANE_LOAD(p) and LANE_STORE(p, v)
 * (unaligned, p a uint64_t array). */
#ifndef COSNET_LABELS_LABEL_LANES_TEMPLATE_H
#define COSNET_LABELS_LABEL_LANES_TEMPLATE_H

#include <stdint.h>

#include "labels/label_draw.h"

/* Word w of every lane's generator state in s<w>. */
typedef struct vector_state {
    LANE_VECTOR s0, s1, s2, s3;
} vector_state;

static inline void vector_step(vector_state *v)
{
    LANE_VECTOR shifted = LANE_SHIFT_LEFT(v->s1, 17);
    v->s2 = LANE_XOR(v->s2, v->s0);
    v->s3 = LANE_XOR(v->s3, v->s1);
    v->s1 = LANE_XOR(v->s1, v->s2);
    v->s0 = LANE_XOR(v->s0, v->s3);
    v->s2 = LANE_XOR(v->s2, shifted);
    v->s3 = LANE_ROTATE_LEFT(v->s3, 45);
}

static inline vector_state load_state(const labels_lanes *lanes)
{
    vector_state v = {LANE_LOAD(lanes->state[0]), LANE_LOAD(lanes->state[1]),
                      LANE_LOAD(lanes->state[2]), LANE_LOAD(lanes->state[3])};
    return v;
}

/* After a block, lane k stands where lane k + 1 started: moves every lane
 * on by the stretches the others covered (T^D s = sum_j jump_j T^j s, the
 * coefficients jump_j in bit j of `jump`) and stores the state. */
static inline void jump_and_store(labels_lanes *lanes, vector_state v,
                                  const uint64_t jump[4])
{
    vector_state jumped = {LANE_ZERO(), LANE_ZERO(), LANE_ZERO(), LANE_ZERO()};
    for (int word = 0; word < 4; word++) {
        for (int bit = 0; bit < 64; bit++) {
            if ((jump[word] >> bit) & 1) {
                jumped.s0 = LANE_XOR(jumped.s0, v.s0);
                jumped.s1 = LANE_XOR(jumped.s1, v.s1);
                jumped.s2 = LANE_XOR(jumped.s2, v.s2);
                jumped.s3 = LANE_XOR(jumped.s3, v.s3);
            }
            vector_step(&v);
        }
    }
    LANE_STORE(lanes->state[0], jumped.s0);
    LANE_STORE(lanes->state[1], jumped.s1);
    LANE_STORE(lanes->state[2], jumped.s2);
    LANE_STORE(lanes->state[3], jumped.s3);
}

#endif
