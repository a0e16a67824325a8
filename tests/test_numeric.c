/* The numeric helpers (lib/common/numeric.h): first_non_finite finds the
 * first NaN or infinity at every position of every length around its
 * block size, whatever kind it is and whatever follows it, and passes
 * every finite extreme; argmax_lowest keeps ties and NaNs at the lowest
 * index. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <string.h>

#include "common/numeric.h"

#define LONGEST 200

static const float finite_extremes[] = {
    0.0f, -0.0f, FLT_MAX, -FLT_MAX, FLT_MIN, -FLT_MIN, 1e-45f, -1e-45f, 1.0f};

static void fill_finite(float *values, size_t count)
{
    const size_t kinds = sizeof finite_extremes / sizeof finite_extremes[0];
    for (size_t i = 0; i < count; i++)
        values[i] = finite_extremes[i % kinds];
}

static void test_all_finite(void **state)
{
    (void)state;
    float values[LONGEST];
    for (size_t count = 0; count <= LONGEST; count++) {
        fill_finite(values, count);
        assert_int_equal(first_non_finite(values, count), count);
    }
}

static void test_first_found(void **state)
{
    (void)state;
    float values[LONGEST];
    /* A NaN with a payload and the sign bit set, too. */
    uint32_t odd_nan_bits = 0xffc12345u;
    float odd_nan;
    memcpy(&odd_nan, &odd_nan_bits, sizeof odd_nan);
    const float bad[] = {NAN, -NAN, INFINITY, -INFINITY, odd_nan};
    for (size_t count = 1; count <= LONGEST; count++)
        for (size_t at = 0; at < count; at++)
            for (size_t kind = 0; kind < sizeof bad / sizeof bad[0]; kind++) {
                fill_finite(values, count);
                values[at] = bad[kind];
                assert_int_equal(first_non_finite(values, count), at);
                /* A later one does not move it. */
                values[count - 1] = INFINITY;
                assert_int_equal(first_non_finite(values, count), at);
                /* Past the counted values it is not looked at. */
                assert_int_equal(first_non_finite(values, at), at);
            }
}

static void test_argmax_lowest(void **state)
{
    (void)state;
    const float tie[] = {1.0f, 3.0f, 3.0f, 2.0f};
    assert_int_equal(argmax_lowest(tie, 4), 1);
    const float nan_first[] = {NAN, 1.0f, 2.0f};
    assert_int_equal(argmax_lowest(nan_first, 3), 0);
    const float nan_later[] = {1.0f, NAN, 0.5f, 4.0f};
    assert_int_equal(argmax_lowest(nan_later, 4), 3);
    const float one[] = {-1.0f};
    assert_int_equal(argmax_lowest(one, 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_finite),
        cmocka_unit_test(test_first_found),
        cmocka_unit_test(test_argmax_lowest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
