/* The Winograd F(2x2, 3x3) forward pass (lib/kernels/winograd.h): its
 * plain-C stages and every ISA's, held to the scalar direct convolution.
 *
 * Tolerance: gamma(in_channels + 8) times the Winograd magnitude plus the
 * direct reference's own gamma(9 in_channels + 1) sum|terms|
 * (winograd_bound.h explains both). On small integers every transform,
 * product and sum is exact in float32, so there the result must equal the
 * reference bit for bit: a wrong coefficient or a lost term cannot hide
 * inside the bound. An image's output must not depend on the batch it is
 * computed in, and the driver must send exactly the shapes its rule accepts
 * to Winograd. Buffers end at a guard page. */
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
#include "kernels/winograd.h"
#include "kernel_test_support.h"
#include "winograd_test_support.h"

/* The seed network's three convolutions and the honest classifier's
 * second (16 -> 32 at 14 x 14, pad 1). */
static const conv_shape network_shapes[] = {
    {1, 16, 28, 28, 1},
    {16, 8, 14, 14, 2},
    {8, 1, 8, 8, 2},
    {16, 32, 14, 14, 1},
};

static void test_network_shapes(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1201);
    stage_set sets[8];
    const int n = stage_sets(sets, WINOGRAD_F2X2);
    for (int k = 0; k < n; k++)
        for (size_t s = 0; s < sizeof network_shapes / sizeof *network_shapes;
             s++)
            for (int kind = VALUES_UNIFORM; kind <= VALUES_INTEGER; kind++) {
                const size_t counts[] = {1, 3, 20};
                for (int c = 0; c < 3; c++)
                    if (winograd_fits(sets[k].stages, &network_shapes[s]))
                        check_forward_stages(&sets[k], &network_shapes[s],
                                             counts[c], c != 1, kind, &rng);
            }
}

/* A random shape, pad 0..2, from one of two families that each fit the
 * stack buffer of every variant (trial odd: channels 1..16 with sizes
 * 1..40, so odd output sizes leave half tiles and rows of up to 21 tiles
 * span several vectors; even: channels 1..28 with sizes 1..16). */
static conv_shape random_fitting_shape(random_generator *rng, int trial)
{
    const int wide = trial % 2;
    const int channels = wide ? 16 : 28, size = wide ? 40 : 16;
    conv_shape s;
    s.in_channels = random_int(rng, 1, channels);
    s.out_channels = random_int(rng, 1, channels);
    s.pad = random_int(rng, 0, 2);
    const int smallest = s.pad >= 1 ? 1 : 3;
    s.in_height = random_int(rng, smallest, size);
    s.in_width = random_int(rng, smallest, size);
    return s;
}

/* Random shapes (random_fitting_shape), count 1..4. */
static void test_random_shapes(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1202);
    stage_set sets[8];
    const int n = stage_sets(sets, WINOGRAD_F2X2);
    for (int k = 0; k < n; k++)
        for (int trial = 0; trial < 120; trial++) {
            const conv_shape s = random_fitting_shape(&rng, trial);
            const size_t count = (size_t)random_int(&rng, 1, 4);
            assert_true(winograd_fits(sets[k].stages, &s));
            check_forward_stages(&sets[k], &s, count, trial % 4 < 2,
                                 trial % 3 == 0, &rng);
        }
}

/* The pooled output transform on the network shapes and on random shapes
 * (odd output sizes: the pool drops the last row or column). */
static void test_pooled(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1205);
    stage_set sets[8];
    const int n = stage_sets(sets, WINOGRAD_F2X2);
    for (int k = 0; k < n; k++) {
        for (size_t s = 0; s < sizeof network_shapes / sizeof *network_shapes;
             s++)
            if (winograd_fits(sets[k].stages, &network_shapes[s]))
                check_pooled_stages(&sets[k], &network_shapes[s], 3, &rng);
        for (int trial = 0; trial < 60; trial++) {
            const conv_shape s = random_fitting_shape(&rng, trial);
            check_pooled_stages(&sets[k], &s, (size_t)random_int(&rng, 1, 3),
                                &rng);
        }
    }
}

/* An image's output is the same bits whether it is computed alone or in a
 * batch. */
static void test_batch_invariance(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1203);
    stage_set sets[8];
    const int n = stage_sets(sets, WINOGRAD_F2X2);
    const conv_shape s = {16, 8, 14, 14, 2};
    check_batch_invariance(sets, n, &s, 5, &rng);
}

/* The driver runs Winograd exactly for the shapes the rule accepts: never
 * for the scalar table (the reference) nor for one input channel, and its
 * packed forward pass then gives the same bits as the stages alone. */
static void test_driver_rule(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1204);
    for (int v = 0; kernel_variant_names[v]; v++) {
        const kernel_table *t = kernels_by_name(kernel_variant_names[v]);
        if (!t)
            continue;
        assert_false(conv3x3_forward_uses_winograd(t, &network_shapes[0]));
        if (!t->conv3x3 || !t->conv3x3->winograd) {
            for (size_t s = 0;
                 s < sizeof network_shapes / sizeof *network_shapes; s++)
                assert_false(
                    conv3x3_forward_uses_winograd(t, &network_shapes[s]));
            continue;
        }
        for (size_t s = 0; s < sizeof network_shapes / sizeof *network_shapes;
             s++) {
            const conv_shape *shape = &network_shapes[s];
            /* F(4x4) shapes: tests/test_winograd4.c checks the driver's
             * choice of them. */
            if (!conv3x3_forward_uses_winograd(t, shape) ||
                conv3x3_forward_uses_winograd4(t, shape))
                continue;
            const size_t count = 3;
            const shape_floats z = floats_of(shape, count);
            float *input = malloc(sizeof(float) * z.input);
            float *weights = malloc(sizeof(float) * z.weights);
            float *bias = malloc(sizeof(float) * shape->out_channels);
            float *direct = malloc(sizeof(float) * z.output);
            float *staged = malloc(sizeof(float) * z.output);
            assert_true(input && weights && bias && direct && staged);
            fill_values(&rng, input, z.input, VALUES_UNIFORM);
            fill_values(&rng, weights, z.weights, VALUES_UNIFORM);
            fill_values(&rng, bias, (size_t)shape->out_channels,
                        VALUES_UNIFORM);
            conv3x3_forward_unpacked(t->conv3x3, shape, count, input, weights,
                                     bias, 1, direct);
            const stage_set set = {t->name, t->conv3x3->winograd, NULL};
            forward_run(&set, shape, count, input, weights, bias, 1, staged);
            for (size_t j = 0; j < z.output; j++)
                check_equal(t->name, "driver vs stages", j, direct[j],
                            staged[j]);
            free(input);
            free(weights);
            free(bias);
            free(direct);
            free(staged);
        }
    }
}

/* Weights near FLT_MAX overflow in U = G g G^T, and Winograd would turn
 * the infinities into NaN (inf - inf), which ReLU maps to 0: the driver
 * then runs the direct sum, whose infinities the library reports. */
static void test_overflowing_weights_run_direct(void **state)
{
    (void)state;
    const conv_shape s = {16, 8, 14, 14, 2};
    const size_t count = 2;
    const shape_floats z = floats_of(&s, count);
    float *input = malloc(sizeof(float) * z.input);
    float *weights = malloc(sizeof(float) * z.weights);
    float *output = malloc(sizeof(float) * z.output);
    float *reference = malloc(sizeof(float) * z.output);
    float bias[8] = {0};
    assert_true(input && weights && output && reference);
    fill_value(input, z.input, 1.0f);
    fill_value(weights, z.weights, FLT_MAX);
    conv3x3_forward_scalar(&s, count, input, weights, bias, 1, reference);
    for (int v = 0; kernel_variant_names[v]; v++) {
        const kernel_table *t = kernels_by_name(kernel_variant_names[v]);
        if (!t)
            continue;
        conv3x3_forward_unpacked(t->conv3x3, &s, count, input, weights, bias, 1,
                                 output);
        for (size_t j = 0; j < z.output; j++) {
            assert_true(isinf(reference[j]));
            check_equal(t->name, "overflowing weights", j, output[j],
                        reference[j]);
        }
        /* The pooled forward pass too: it runs the direct pooled strips
         * where the ISA has them, and is not offered where it has not. */
        float *packed = memory_allocate_aligned(
            64, sizeof(float) * conv3x3_packed_forward_floats(t, &s));
        assert_non_null(packed);
        conv3x3_pack_forward(t, &s, weights, packed);
        const int fuses = conv3x3_fuses_pool(t, &s, packed);
        assert_int_equal(fuses,
                         !t->conv3x3 || t->conv3x3->pool_strips[0] != NULL);
        if (fuses) {
            const size_t pooled = z.output / 4; /* 16 x 16 -> 8 x 8 */
            conv3x3_forward_relu_pool_packed(t, &s, count, input, packed, bias,
                                             NULL, output, 64, 8);
            for (size_t j = 0; j < pooled; j++)
                check_equal(t->name, "overflowing weights, pooled", j,
                            output[j], INFINITY);
        }
        memory_free(packed);
    }
    free(input);
    free(weights);
    free(output);
    free(reference);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_network_shapes),
        cmocka_unit_test(test_random_shapes),
        cmocka_unit_test(test_pooled),
        cmocka_unit_test(test_batch_invariance),
        cmocka_unit_test(test_driver_rule),
        cmocka_unit_test(test_overflowing_weights_run_direct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
