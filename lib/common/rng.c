/* splitmix64 seeding xoshiro256** (Blackman & Vigna's published algorithms). */
#include <math.h>

#include "common/rng.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotate_left(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void random_seed(random_generator *generator, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        generator->state[i] = splitmix64(&x);
}

uint64_t random_next(random_generator *generator)
{
    uint64_t *s = generator->state;
    uint64_t result = rotate_left(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotate_left(s[3], 45);
    return result;
}

double random_uniform(random_generator *generator)
{
    return (double)(random_next(generator) >> 11) * 0x1.0p-53;
}

uint64_t random_below(random_generator *generator, uint64_t bound)
{
    /* Rejection on the top of the range keeps every value equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x;
    do {
        x = random_next(generator);
    } while (x >= limit);
    return x % bound;
}

double random_normal(random_generator *generator)
{
    double u, v, s;
    do {
        u = 2.0 * random_uniform(generator) - 1.0;
        v = 2.0 * random_uniform(generator) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    return u * sqrt(-2.0 * log(s) / s);
}
