/* The Winograd F(4x4, 3x3) forward pass (lib/kernels/winograd4.h): its
 * plain-C stages and AVX-512's (when the CPU has them), held to the scalar
 * direct convolution, and the driver's choice of it.
 *
 * Tolerance: gamma(in_channels + 13) times the F(4x4) magnitude plus the
 * direct reference's own gamma(9 in_channels + 1) sum|terms|
 * (winograd4_bound.h counts the roundings). Exactness: G has entries 1/4,
 * 1/6, 1/12 and 1/24, so U = G g G^T is exact for weights that are
 * multiples of 9 (U is then a multiple of 2^-6), and every intermediate is
 * a multiple of 2^-6 bounded by the magnitude; when 64 times the largest
 * magnitude is below 2^24 (sparse small integers, checked before relying
 * on it) every transform, product and sum is exact in float32, and the
 * result must equal the reference bit for bit. Buffers end at a guard
 * page. */
#define _DEFAULT_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/memory.h"
#include "common/rng.h"
#include "kernels/conv_driver.h"
#include "kernels/kernels.h"
#include "kernels/winograd4.h"
#include "kernel_test_support.h"
#include "winograd_test_support.h"

/* The networks' convolutions that F(4x4) takes on AVX-512, forward and as
 * input gradients: the seed's conv2 (16 -> 8, 14 x 14, pad 2) and its
 * input gradient (8 -> 16, 16 x 16, pad 0), the classifier's conv2 (16 ->
 * 32, 14 x 14, pad 1) and its input gradient (32 -> 16, pad 1); and the
 * seed's conv3 (8 -> 1 at 8 x 8), which the F(2x2) rule leaves direct. */
static const conv_shape network_shapes[] = {
    {16, 8, 14, 14, 2},  {8, 16, 16, 16, 0}, {16, 32, 14, 14, 1},
    {32, 16, 14, 14, 1}, {8, 1, 8, 8, 2},
};
#define NETWORK_SHAPES (sizeof network_shapes / sizeof *network_shapes)

/* A random shape whose output is at most 16 x 16 (so the AVX-512 stages
 * take it), pad 0..2, channels 1..32 in and 1..24 out. */
static conv_shape random_fitting_shape(random_generator *rng)
{
    conv_shape s;
    s.in_channels = random_int(rng, 1, 32);
    s.out_channels = random_int(rng, 1, 24);
    s.pad = random_int(rng, 0, 2);
    const int smallest = s.pad >= 1 ? 1 : 3, largest = 18 - 2 * s.pad;
    s.in_height = random_int(rng, smallest, largest);
    s.in_width = random_int(rng, smallest, largest);
    return s;
}

static void test_network_shapes(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1401);
    stage_set sets[8];
    const int n = stage_sets(sets, WINOGRAD_F4X4);
    for (int k = 0; k < n; k++)
        for (size_t s = 0; s < NETWORK_SHAPES; s++) {
            assert_true(winograd4_fits(sets[k].stages4, &network_shapes[s]));
            const size_t counts[] = {1, 3, 20};
            for (int c = 0; c < 3; c++)
                check_forward_stages(&sets[k], &network_shapes[s], counts[c],
                                     c != 1, VALUES_UNIFORM, &rng);
        }
}

static void test_exact_on_integers(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1402);
    stage_set sets[8];
    const int n = stage_sets(sets, WINOGRAD_F4X4);
    for (int k = 0; k < n; k++) {
        for (size_t s = 0; s < NETWORK_SHAPES; s++)
            check_forward_stages(&sets[k], &network_shapes[s], 2, (int)s % 2,
                                 VALUES_SPARSE_NINES, &rng);
        for (int trial = 0; trial < 30; trial++) {
            const conv_shape s = random_fitting_shape(&rng);
            check_forward_stages(&sets[k], &s, 1, trial % 2,
                                 VALUES_SPARSE_NINES, &rng);
        }
    }
}

static void test_random_shapes(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1403);
    stage_set sets[8];
    const int n = stage_sets(sets, WINOGRAD_F4X4);
    for (int k = 0; k < n; k++)
        for (int trial = 0; trial < 100; trial++) {
            const conv_shape s = random_fitting_shape(&rng);
            assert_true(winograd4_fits(sets[k].stages4, &s));
            check_forward_stages(&sets[k], &s, (size_t)random_int(&rng, 1, 3),
                                 trial % 4 < 2, VALUES_UNIFORM, &rng);
        }
    /* The plain-C stages take larger outputs too (any tile grid). */
    for (int trial = 0; trial < 10; trial++) {
        conv_shape s = random_fitting_shape(&rng);
        s.in_height = random_int(&rng, 17, 30);
        s.in_width = random_int(&rng, 17, 30);
        s.in_channels = random_int(&rng, 1, 8);
        if (winograd4_fits(&winograd4_reference, &s))
            check_forward_stages(&sets[0], &s, 1, trial % 2, VALUES_UNIFORM,
                                 &rng);
    }
}

/* Odd output sizes too: the pool drops the last row or column. */
static void test_pooled(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1404);
    stage_set sets[8];
    const int n = stage_sets(sets, WINOGRAD_F4X4);
    for (int k = 0; k < n; k++) {
        for (size_t s = 0; s < NETWORK_SHAPES; s++)
            check_pooled_stages(&sets[k], &network_shapes[s], 3, &rng);
        for (int trial = 0; trial < 60; trial++) {
            const conv_shape s = random_fitting_shape(&rng);
            check_pooled_stages(&sets[k], &s, (size_t)random_int(&rng, 1, 3),
                                &rng);
        }
    }
}

/* The training forward's pooled pass (winograd4_forward_relu_pool_argmax)
 * against the stages' forward pass with ReLU and the scalar max-pool, bit
 * for bit: the dense pooled values and argmax (each ending at a guard
 * page), the copy into a padded layout (nothing of its margins written)
 * and V as winograd4_forward_keeping keeps it. `kind`: VALUES_UNIFORM, or
 * VALUES_SPARSE_NINES, whose exact outputs make ties inside windows
 * common (the first maximum must win). */
static void check_pooled_argmax_stages(const stage_set *set,
                                       const conv_shape *s, size_t count,
                                       int kind, random_generator *rng)
{
    const winograd4_microkernels *w4 = set->stages4;
    const shape_floats z = floats_of(s, count);
    const int oh = conv_out_height(s), ow = conv_out_width(s);
    const int ph = oh / 2, pw = ow / 2;
    const size_t planes = count * (size_t)s->out_channels;
    const size_t pooled_count = planes * (size_t)ph * pw;
    const size_t row = (size_t)pw + 3, plane = (size_t)(ph + 3) * row;
    const size_t v_floats = count * winograd4_kept_floats(w4, s);
    float *input = malloc(sizeof(float) * z.input);
    float *weights = malloc(sizeof(float) * z.weights);
    float *bias = malloc(sizeof(float) * (size_t)s->out_channels);
    float *conv = malloc(sizeof(float) * z.output);
    float *want_pooled = malloc(sizeof(float) * (pooled_count + 1));
    uint8_t *want_argmax = malloc(pooled_count + 1);
    float *packed = memory_allocate_aligned(
        64, sizeof(float) * winograd4_packed_floats(w4, s));
    float *want_v = memory_allocate_aligned(64, sizeof(float) * v_floats);
    float *v = memory_allocate_aligned(64, sizeof(float) * v_floats);
    guarded gp, ga, gc;
    float *pooled = guarded_floats(&gp, pooled_count);
    uint8_t *argmax = guarded_alloc(&ga, pooled_count);
    float *copy = guarded_floats(&gc, planes * plane);
    assert_true(input && weights && bias && conv && want_pooled &&
                want_argmax && packed && want_v && v);
    fill_forward_data(rng, input, z.input, weights, z.weights, bias,
                      (size_t)s->out_channels, kind);
    fill_value(pooled, pooled_count, SENTINEL);
    memset(argmax, 0xAA, pooled_count);
    fill_value(copy, planes * plane, SENTINEL);
    fill_value(v, v_floats, SENTINEL);
    stages_pack(set, s, weights, packed);
    winograd4_forward_keeping(w4, s, count, input, packed, bias, 1, conv,
                              want_v);
    maxpool2x2_forward_scalar(planes, oh, ow, conv, want_pooled,
                              (size_t)ph * pw, (size_t)pw, want_argmax);
    winograd4_forward_relu_pool_argmax(w4, s, count, input, packed, bias,
                                       pooled, argmax, copy + row + 1, plane,
                                       row, v);
    for (size_t k = 0; k < pooled_count; k++) {
        check_equal(set->name, "winograd4 pooled with argmax", k, pooled[k],
                    want_pooled[k]);
        if (argmax[k] != want_argmax[k])
            fail_msg("%s winograd4 argmax: %dx%d, %d -> %d channels, pad %d: "
                     "pooled value %zu (%a) at %d, the max-pool's at %d",
                     set->name, s->in_height, s->in_width, s->in_channels,
                     s->out_channels, s->pad, k, pooled[k], argmax[k],
                     want_argmax[k]);
    }
    const size_t stray = check_pooled_interior(
        set->name, "winograd4 pooled copy", copy, want_pooled, planes, ph, pw);
    if (stray != SIZE_MAX)
        fail_msg("%s winograd4 pooled copy: plane %zu, padded position %zu "
                 "written",
                 set->name, stray / plane, stray % plane);
    if (memcmp(v, want_v, sizeof(float) * v_floats) != 0)
        fail_msg("%s winograd4 pooled with argmax: V not as kept", set->name);
    guarded_free(&gp);
    guarded_free(&ga);
    guarded_free(&gc);
    memory_free(packed);
    memory_free(want_v);
    memory_free(v);
    free(input);
    free(weights);
    free(bias);
    free(conv);
    free(want_pooled);
    free(want_argmax);
}

static void test_pooled_argmax(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1405);
    stage_set sets[8];
    const int n = stage_sets(sets, WINOGRAD_F4X4);
    for (int k = 0; k < n; k++) {
        for (size_t s = 0; s < NETWORK_SHAPES; s++)
            for (int kind = 0; kind < 2; kind++)
                check_pooled_argmax_stages(
                    &sets[k], &network_shapes[s], 3,
                    kind ? VALUES_SPARSE_NINES : VALUES_UNIFORM, &rng);
        for (int trial = 0; trial < 60; trial++) {
            const conv_shape s = random_fitting_shape(&rng);
            check_pooled_argmax_stages(
                &sets[k], &s, (size_t)random_int(&rng, 1, 3),
                trial % 2 ? VALUES_SPARSE_NINES : VALUES_UNIFORM, &rng);
        }
    }
}

/* An image's output is the same bits alone or in a batch. */
static void test_batch_invariance(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1405);
    stage_set sets[8];
    const int n = stage_sets(sets, WINOGRAD_F4X4);
    const conv_shape s = {16, 8, 14, 14, 2};
    check_batch_invariance(sets, n, &s, 5, &rng);
}

/* The driver: F(4x4) only where the table has its stages, the F(2x2) rule
 * and F(4x4)'s own accept the shape and it fits (AVX-512: the networks'
 * conv2 forward and input gradient, not the 28 x 28 conv1); its packed
 * forward and pooled forward then give the stages' bits. */
/* A plane of oh x ow outputs inside a bordered one, as the next
 * convolution's padded input (two rows and columns before, three rows and
 * columns after), filled with -1234.5 before the write. */
#define BORDERED_ROW(ow) ((size_t)(ow) + 5)
#define BORDERED_PLANE(oh, ow) (((size_t)(oh) + 5) * BORDERED_ROW(ow))

/* planes bordered planes hold the dense planes' bits in their interiors
 * and nothing else was written. */
static void check_bordered(const char *name, const float *into,
                           const float *dense, size_t planes, int oh, int ow)
{
    const size_t row = BORDERED_ROW(ow), plane = BORDERED_PLANE(oh, ow);
    size_t inside = 0;
    for (size_t p = 0; p < planes; p++)
        for (size_t j = 0; j < plane; j++) {
            const size_t r = j / row, c = j % row;
            if (r >= 2 && r - 2 < (size_t)oh && c >= 2 && c - 2 < (size_t)ow) {
                check_equal(name, "written into a bordered plane",
                            p * plane + j, into[p * plane + j],
                            dense[(p * (size_t)oh + r - 2) * ow + c - 2]);
                inside++;
            } else if (into[p * plane + j] != -1234.5f) {
                fail_msg("%s: written outside the interior at plane %zu, row "
                         "%zu, column %zu",
                         name, p, r, c);
            }
        }
    assert_int_equal(inside, planes * (size_t)oh * ow);
}

static void test_driver_choice(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1406);
    const conv_shape conv1 = {1, 16, 28, 28, 1},
                     seed_conv2 = {16, 8, 14, 14, 2},
                     classifier_conv2 = {16, 32, 14, 14, 1},
                     small = {8, 8, 14, 14, 1};
    for (int v = 0; kernel_variant_names[v]; v++) {
        const kernel_table *t = kernels_by_name(kernel_variant_names[v]);
        if (!t)
            continue;
        const winograd4_microkernels *w4 =
            t->conv3x3 ? t->conv3x3->winograd4 : NULL;
        assert_false(conv3x3_forward_uses_winograd4(t, &conv1));
        assert_false(conv3x3_forward_uses_winograd4(t, &small));
        assert_int_equal(conv3x3_forward_uses_winograd4(t, &seed_conv2),
                         w4 != NULL);
        assert_int_equal(conv3x3_forward_uses_winograd4(t, &classifier_conv2),
                         w4 != NULL);
        assert_int_equal(conv3x3_backward_input_uses_winograd4(t, &seed_conv2),
                         w4 != NULL);
        assert_int_equal(
            conv3x3_backward_input_uses_winograd4(t, &classifier_conv2),
            w4 != NULL);
        if (!w4)
            continue;
        /* F(4x4) is a Winograd shape of the driver. */
        assert_true(conv3x3_forward_uses_winograd(t, &seed_conv2));
        const conv_shape *shape = &seed_conv2;
        const size_t count = 3;
        const shape_floats z = floats_of(shape, count);
        const int ph = conv_out_height(shape) / 2,
                  pw = conv_out_width(shape) / 2;
        float *input = malloc(sizeof(float) * z.input);
        float *weights = malloc(sizeof(float) * z.weights);
        float bias[8];
        float *driver = malloc(sizeof(float) * z.output);
        float *staged = malloc(sizeof(float) * z.output);
        float *packed = memory_allocate_aligned(
            64, sizeof(float) * conv3x3_packed_forward_floats(t, shape));
        float *stage_packed = memory_allocate_aligned(
            64, sizeof(float) * winograd4_packed_floats(w4, shape));
        assert_true(input && weights && driver && staged && packed &&
                    stage_packed);
        fill_forward_data(&rng, input, z.input, weights, z.weights, bias, 8,
                          VALUES_UNIFORM);
        conv3x3_pack_forward(t, shape, weights, packed);
        assert_true(packed[0] == 1.0f);
        conv3x3_forward_packed(t, shape, count, input, packed, bias, 1, driver);
        assert_true(winograd4_pack(w4, shape, weights, 0, stage_packed));
        winograd4_forward(w4, shape, count, input, stage_packed, bias, 1,
                          staged);
        for (size_t j = 0; j < z.output; j++)
            check_equal(t->name, "driver vs winograd4 stages", j, driver[j],
                        staged[j]);
        assert_true(conv3x3_fuses_pool(t, shape, packed));
        conv3x3_forward_relu_pool_packed(t, shape, count, input, packed, bias,
                                         NULL, driver, (size_t)ph * pw,
                                         (size_t)pw);
        winograd4_forward_relu_pool(w4, shape, count, input, stage_packed, bias,
                                    staged, (size_t)ph * pw, (size_t)pw);
        for (size_t j = 0; j < count * 8 * (size_t)ph * pw; j++)
            check_equal(t->name, "driver vs winograd4 pooled", j, driver[j],
                        staged[j]);
        /* Into a bordered buffer, as the next convolution's padded input:
         * the dense output's bits in the interior, the borders untouched. */
        assert_true(conv3x3_forward_writes_into(t, shape, packed));
        const int oh = conv_out_height(shape), ow = conv_out_width(shape);
        const size_t row = BORDERED_ROW(ow), plane = BORDERED_PLANE(oh, ow);
        const size_t interior = 2 * row + 2, bordered = count * 8 * plane;
        float *into = malloc(sizeof(float) * bordered);
        float *reference_packed = memory_allocate_aligned(
            64, sizeof(float) *
                    winograd4_packed_floats(&winograd4_reference, shape));
        assert_true(into && reference_packed);
        for (int relu = 0; relu < 2; relu++) {
            for (size_t j = 0; j < bordered; j++)
                into[j] = -1234.5f;
            winograd4_forward(w4, shape, count, input, stage_packed, bias, relu,
                              staged);
            conv3x3_forward_packed_into(t, shape, count, input, packed, bias,
                                        relu, into + interior, plane, row);
            check_bordered(t->name, into, staged, count * 8, oh, ow);
            /* The plain-C stages likewise. */
            for (size_t j = 0; j < bordered; j++)
                into[j] = -1234.5f;
            assert_true(winograd4_pack(&winograd4_reference, shape, weights, 0,
                                       reference_packed));
            winograd4_forward(&winograd4_reference, shape, count, input,
                              reference_packed, bias, relu, staged);
            winograd4_forward_into(&winograd4_reference, shape, count, input,
                                   reference_packed, bias, relu,
                                   into + interior, plane, row);
            check_bordered("plain C", into, staged, count * 8, oh, ow);
        }
        memory_free(reference_packed);
        free(into);
        /* A shape that F(4x4) does not take is not written into. */
        float *small_packed = memory_allocate_aligned(
            64, sizeof(float) * conv3x3_packed_forward_floats(t, &small));
        float *small_weights = malloc(sizeof(float) * 8 * 8 * 9);
        assert_true(small_packed && small_weights);
        for (size_t j = 0; j < 8 * 8 * 9; j++)
            small_weights[j] = weights[j];
        conv3x3_pack_forward(t, &small, small_weights, small_packed);
        assert_false(conv3x3_forward_writes_into(t, &small, small_packed));
        memory_free(small_packed);
        free(small_weights);
        memory_free(packed);
        memory_free(stage_packed);
        free(input);
        free(weights);
        free(driver);
        free(staged);
    }
}

/* |U| never exceeds the largest weight, so overflow is judged on 512 U:
 * weights near FLT_MAX make winograd4_pack report it (the driver then runs
 * direct: test_winograd.c's test_overflowing_weights_run_direct, whose
 * shape is F(4x4)'s on AVX-512), ordinary weights do not. */
static void test_overflowing_weights(void **state)
{
    (void)state;
    const conv_shape s = {16, 8, 14, 14, 2};
    const size_t n = (size_t)s.out_channels * s.in_channels * 9;
    float *weights = malloc(sizeof(float) * n);
    float *packed = memory_allocate_aligned(
        64, sizeof(float) * winograd4_packed_floats(&winograd4_reference, &s));
    assert_true(weights && packed);
    fill_value(weights, n, 1.0f);
    assert_true(winograd4_pack(&winograd4_reference, &s, weights, 0, packed));
    fill_value(weights, n, FLT_MAX);
    assert_false(winograd4_pack(&winograd4_reference, &s, weights, 0, packed));
    fill_value(weights, n, 1.0f);
    weights[n / 2] = INFINITY;
    assert_false(winograd4_pack(&winograd4_reference, &s, weights, 1, packed));
    memory_free(packed);
    free(weights);
}

/* Every variant's packing gives the plain-C packing's bits and verdict,
 * padding included, on random shapes both ways round: weights of every
 * magnitude (2^-60 to near FLT_MAX, where 512 U overflows) and now and
 * then an infinity or a NaN (whose payloads may differ: any NaN passes for
 * any). The output ends at a guard page. */
static void test_pack_variants(void **state)
{
    (void)state;
    stage_set sets[8];
    const int n = stage_sets(sets, WINOGRAD_F4X4);
    random_generator rng;
    random_seed(&rng, 41);
    int verdicts[2] = {0, 0};
    for (int set = 1; set < n; set++)
        for (int trial = 0; trial < 300; trial++) {
            const conv_shape s = {random_int(&rng, 1, 40),
                                  random_int(&rng, 1, 40), 8, 8, 1};
            const int rotate_swap = trial % 2;
            const size_t count = (size_t)s.in_channels * s.out_channels * 9;
            const size_t floats =
                winograd4_packed_floats(sets[set].stages4, &s);
            const int padded =
                (int)(floats / WINOGRAD4_FREQUENCIES / (size_t)s.in_channels);
            float *weights = malloc(sizeof(float) * count);
            float *expected = malloc(sizeof(float) * floats);
            guarded g;
            float *packed = guarded_floats(&g, floats);
            assert_true(weights && expected);
            const int largest = trial % 3 == 0 ? 127 : 10;
            for (size_t i = 0; i < count; i++) {
                const float x = (float)ldexp(2.0 * random_uniform(&rng) - 1.0,
                                             random_int(&rng, -60, largest));
                const uint64_t special = random_below(&rng, 4000);
                weights[i] = special == 0   ? INFINITY
                             : special == 1 ? -INFINITY
                             : special == 2 ? NAN
                                            : x;
            }
            fill_value(packed, floats, -1.0f);
            const int want = winograd4_pack_scalar(&s, weights, rotate_swap,
                                                   padded, expected);
            const int got = winograd4_pack(sets[set].stages4, &s, weights,
                                           rotate_swap, packed);
            size_t same = 0;
            for (size_t i = 0; i < floats; i++)
                same += memcmp(&packed[i], &expected[i], sizeof(float)) == 0 ||
                        (isnan(packed[i]) && isnan(expected[i]));
            if (got != want || same != floats)
                fail_msg("%s: packing %d -> %d (rotate_swap %d, verdict %d, "
                         "expected %d, %zu of %zu equal) differs "
                         "from the plain-C packing",
                         sets[set].name, s.in_channels, s.out_channels,
                         rotate_swap, got, want, same, floats);
            verdicts[want]++;
            guarded_free(&g);
            free(expected);
            free(weights);
        }
    /* Both verdicts were tried (when a vector variant runs here). */
    if (n > 1)
        assert_true(verdicts[0] > 0 && verdicts[1] > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_network_shapes),
        cmocka_unit_test(test_exact_on_integers),
        cmocka_unit_test(test_random_shapes),
        cmocka_unit_test(test_pooled),
        cmocka_unit_test(test_pooled_argmax),
        cmocka_unit_test(test_batch_invariance),
        cmocka_unit_test(test_driver_choice),
        cmocka_unit_test(test_overflowing_weights),
        cmocka_unit_test(test_pack_variants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
