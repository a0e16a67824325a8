/* Internal: the library's seeded random generator. splitmix64 expands the
 * 64-bit seed into xoshiro256** state. No global state: each user owns one. */
#ifndef COSNET_COMMON_RNG_H
#define COSNET_COMMON_RNG_H

#include <stdint.h>

typedef struct random_generator {
    uint64_t state[4];
} random_generator;

void random_seed(random_generator *generator, uint64_t seed);
uint64_t random_next(random_generator *generator);
/* Uniform in [0, 1) with 53 random bits. */
double random_uniform(random_generator *generator);
/* Uniform integer in [0, bound), unbiased; bound > 0. */
uint64_t random_below(random_generator *generator, uint64_t bound);
/* Standard normal deviate by the Marsaglia polar method (the second deviate
 * of each pair is discarded, so the stream depends only on the call count). */
double random_normal(random_generator *generator);

#endif
