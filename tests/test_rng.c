/* Unit tests of the library's seeded generator (lib/common/rng.c). The
 * expected streams come from a second, plain implementation of splitmix64
 * and xoshiro256** written here, plus published constants, so the test
 * fails if rng.c drifts: every label set, subset and initial weight depends
 * on this exact stream. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "common/rng.h"

/* --- the reference, written from the published algorithms --------------- */

typedef struct reference_state {
    uint64_t s0, s1, s2, s3;
} reference_state;

static uint64_t reference_splitmix64(uint64_t *counter)
{
    *counter = *counter + 0x9E3779B97F4A7C15ull;
    uint64_t z = *counter;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static reference_state reference_seed(uint64_t seed)
{
    reference_state state;
    uint64_t counter = seed;
    state.s0 = reference_splitmix64(&counter);
    state.s1 = reference_splitmix64(&counter);
    state.s2 = reference_splitmix64(&counter);
    state.s3 = reference_splitmix64(&counter);
    return state;
}

static uint64_t rotl(uint64_t x, unsigned k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t reference_next(reference_state *state)
{
    uint64_t result = rotl(state->s1 * 5, 7) * 9;
    uint64_t shifted = state->s1 << 17;
    state->s2 ^= state->s0;
    state->s3 ^= state->s1;
    state->s1 ^= state->s2;
    state->s0 ^= state->s3;
    state->s2 ^= shifted;
    state->s3 = rotl(state->s3, 45);
    return result;
}

static double reference_uniform(reference_state *state)
{
    return (double)(reference_next(state) >> 11) / 9007199254740992.0;
}

/* --- tests -------------------------------------------------------------- */

static void test_splitmix64_published_value(void **state)
{
    (void)state;
    /* splitmix64 from 0: the published first outputs. */
    uint64_t counter = 0;
    assert_true(reference_splitmix64(&counter) == 0xE220A8397B1DCDAFull);
    assert_true(reference_splitmix64(&counter) == 0x6E789E6AA1B965F4ull);
    /* random_seed puts exactly those words in the state. */
    random_generator generator;
    random_seed(&generator, 0);
    assert_true(generator.state[0] == 0xE220A8397B1DCDAFull);
    assert_true(generator.state[1] == 0x6E789E6AA1B965F4ull);
    assert_true(generator.state[2] == 0x06C45D188009454Full);
    assert_true(generator.state[3] == 0xF88BB8A8724C81ECull);
}

static void test_known_answer_seed_zero(void **state)
{
    (void)state;
    /* The first outputs of xoshiro256** seeded by splitmix64 from 0, as
     * computed by a third implementation (Python, arbitrary precision). */
    const uint64_t expected[4] = {0x99EC5F36CB75F2B4ull, 0xBF6E1F784956452Aull,
                                  0x1A5F849D4933E6E0ull, 0x6AA594F1262D2D2Cull};
    random_generator generator;
    random_seed(&generator, 0);
    reference_state reference = reference_seed(0);
    for (int i = 0; i < 4; i++) {
        uint64_t got = random_next(&generator);
        assert_true(got == expected[i]);
        assert_true(reference_next(&reference) == expected[i]);
    }
}

static void test_matches_reference_stream(void **state)
{
    (void)state;
    const uint64_t seeds[] = {0, 1, 42, 0xDEADBEEFull, UINT64_MAX};
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
        random_generator generator;
        random_seed(&generator, seeds[s]);
        reference_state reference = reference_seed(seeds[s]);
        for (int i = 0; i < 10000; i++) {
            uint64_t got = random_next(&generator);
            uint64_t want = reference_next(&reference);
            if (got != want)
                fail_msg("seed %llu output %d: %016llx, expected %016llx",
                         (unsigned long long)seeds[s], i,
                         (unsigned long long)got, (unsigned long long)want);
        }
    }
}

static void test_same_seed_same_stream(void **state)
{
    (void)state;
    random_generator a, b;
    random_seed(&a, 12345);
    random_seed(&b, 12345);
    for (int i = 0; i < 1000; i++) {
        assert_true(random_next(&a) == random_next(&b));
        assert_true(random_uniform(&a) == random_uniform(&b));
        assert_true(random_normal(&a) == random_normal(&b));
        assert_true(random_below(&a, 1000) == random_below(&b, 1000));
    }
}

static void test_different_seeds_differ(void **state)
{
    (void)state;
    /* Neighbouring seeds too: splitmix64 decorrelates them. */
    for (uint64_t seed = 0; seed < 100; seed++) {
        random_generator a, b;
        random_seed(&a, seed);
        random_seed(&b, seed + 1);
        int equal = 0;
        for (int i = 0; i < 100; i++)
            equal += random_next(&a) == random_next(&b);
        assert_int_equal(equal, 0);
    }
}

static void test_uniform_range_and_mapping(void **state)
{
    (void)state;
    random_generator generator;
    random_seed(&generator, 7);
    reference_state reference = reference_seed(7);
    double sum = 0, smallest = 1, largest = 0;
    enum { draws = 1000000 };
    for (int i = 0; i < draws; i++) {
        double u = random_uniform(&generator);
        /* 53 high bits of one output, scaled by 2^-53. */
        assert_true(u == reference_uniform(&reference));
        if (!(u >= 0.0 && u < 1.0))
            fail_msg("draw %d is %.17g", i, u);
        sum += u;
        smallest = fmin(smallest, u);
        largest = fmax(largest, u);
    }
    assert_true(fabs(sum / draws - 0.5) < 0.002);
    assert_true(smallest < 1e-5 && largest > 1 - 1e-5);
    /* The largest value the mapping can give is below 1. */
    assert_true((double)(UINT64_MAX >> 11) * 0x1.0p-53 < 1.0);
}

static void test_below_bounds_and_coverage(void **state)
{
    (void)state;
    random_generator generator;
    random_seed(&generator, 99);
    for (int i = 0; i < 1000; i++)
        assert_true(random_below(&generator, 1) == 0);

    for (uint64_t bound = 2; bound <= 12; bound++) {
        size_t hits[12] = {0};
        size_t draws = 20000 * bound;
        for (size_t i = 0; i < draws; i++) {
            uint64_t x = random_below(&generator, bound);
            assert_true(x < bound);
            hits[x]++;
        }
        /* Each value expects 20000 hits, standard deviation < 142. */
        for (uint64_t v = 0; v < bound; v++)
            if (hits[v] < 19000 || hits[v] > 21000)
                fail_msg("bound %llu: value %llu hit %zu times",
                         (unsigned long long)bound, (unsigned long long)v,
                         hits[v]);
    }

    /* Bounds where rejection matters: just above half the range. */
    const uint64_t large = (1ull << 63) + 1;
    size_t upper_half = 0;
    for (int i = 0; i < 10000; i++) {
        uint64_t x = random_below(&generator, large);
        assert_true(x < large);
        upper_half += x >= (1ull << 62) + (1ull << 61);
    }
    /* About a quarter of the values lie in the top quarter [3/4 2^63,
     * bound); standard deviation 43. */
    assert_true(upper_half > 2200 && upper_half < 2800);
}

static void test_below_matches_reference(void **state)
{
    (void)state;
    /* Rejection of the top of the range then modulo, as documented: the
     * per-digit subsets (Fisher-Yates) depend on this exact mapping. */
    random_generator generator;
    random_seed(&generator, 5);
    reference_state reference = reference_seed(5);
    const uint64_t bounds[] = {
        1, 2, 3, 10, 5923, 1ull << 32, (1ull << 63) + 12345, UINT64_MAX};
    for (int round = 0; round < 2000; round++) {
        uint64_t bound = bounds[round % 8];
        uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
        uint64_t x;
        do
            x = reference_next(&reference);
        while (x >= limit);
        assert_true(random_below(&generator, bound) == x % bound);
    }
}

static void test_normal_method_and_moments(void **state)
{
    (void)state;
    random_generator generator;
    random_seed(&generator, 2024);
    reference_state reference = reference_seed(2024);
    enum { draws = 200000 };
    double sum = 0, sum_of_squares = 0;
    for (int i = 0; i < draws; i++) {
        double x = random_normal(&generator);
        /* Marsaglia's polar method, the second deviate discarded. */
        double u, v, s;
        do {
            u = 2 * reference_uniform(&reference) - 1;
            v = 2 * reference_uniform(&reference) - 1;
            s = u * u + v * v;
        } while (s >= 1 || s == 0);
        double want = u * sqrt(-2 * log(s) / s);
        if (x != want)
            fail_msg("draw %d: %.17g, expected %.17g", i, x, want);
        sum += x;
        sum_of_squares += x * x;
    }
    double mean = sum / draws;
    double variance = sum_of_squares / draws - mean * mean;
    if (!(fabs(mean) < 0.01 && fabs(variance - 1) < 0.02))
        fail_msg("mean %.5f variance %.5f", mean, variance);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_splitmix64_published_value),
        cmocka_unit_test(test_known_answer_seed_zero),
        cmocka_unit_test(test_matches_reference_stream),
        cmocka_unit_test(test_same_seed_same_stream),
        cmocka_unit_test(test_different_seeds_differ),
        cmocka_unit_test(test_uniform_range_and_mapping),
        cmocka_unit_test(test_below_bounds_and_coverage),
        cmocka_unit_test(test_below_matches_reference),
        cmocka_unit_test(test_normal_method_and_moments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
