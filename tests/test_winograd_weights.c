/* The Winograd F(2x2, 3x3) weight gradient (lib/kernels/winograd_weights.h):
 * its plain-C stages and every ISA's, held to the direct sum computed in
 * double.
 *
 * Tolerance: gamma(count * tiles + 8) times the Winograd magnitude, the
 * same sum with every matrix and value replaced by its absolute value
 * (winograd_weights.h counts the roundings; the double reference's own
 * error is negligible beside it). On small integers every transform,
 * product and sum is exact in float32 (and so is G^T M G, whose halvings
 * leave quarters of small integers), so there the result must equal the
 * reference exactly: a wrong sign, a lost tile or a lane that adds garbage
 * cannot hide inside the bound. Inputs and gradients end at a guard page, the
 * pad of the input is filled (the stages must read it), and the scratch starts
 * full of NaN (the stages must not read what they did not write). */
#define _DEFAULT_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/memory.h"
#include "common/rng.h"
#include "kernels/conv_driver.h"
#include "kernels/kernels.h"
#include "kernels/winograd.h"
#include "kernels/winograd_weights.h"
#include "kernel_test_support.h"
#include "winograd_test_support.h"

/* The stages' weight gradient, on scratch that starts as NaN. */
static void stages_run(const stage_set *set, const conv_shape *s, size_t count,
                       const float *input, const float *gradient,
                       float *weight_grad)
{
    const size_t n = winograd_weights_scratch_floats(set->stages, s);
    float *scratch = memory_allocate_aligned(64, sizeof(float) * n);
    assert_non_null(scratch);
    fill_value(scratch, n, NAN);
    winograd_backward_weights(set->stages, s, count, input, gradient,
                              weight_grad, scratch);
    memory_free(scratch);
}

/* ---- the reference and the bound --------------------------------------- */

/* |A| (4 x 2) of F(2x2, 3x3): |A dY A^T| = |A| |dY| |A|^T. */
static const double abs_a[4][2] = {{1, 0}, {1, 1}, {1, 1}, {0, 1}};

/* The direct weight gradient in double, and the Winograd magnitude
 * |G|^T [ sum over images and tiles (|A| |dY| |A|^T) .* (|B^T| |D| |B|) ] |G|
 * of every weight (OIHW, each count floats). */
static void reference_of(const conv_shape *s, size_t count, const float *input,
                         const float *gradient, double *exact,
                         double *magnitude)
{
    const int cin = s->in_channels, cout = s->out_channels;
    const int hp = conv_padded_height(s), wp = conv_padded_width(s);
    const int ho = conv_out_height(s), wo = conv_out_width(s);
    const size_t weights = (size_t)cout * cin * 9;
    for (size_t k = 0; k < weights; k++)
        exact[k] = magnitude[k] = 0.0;
    double *m = calloc((size_t)cout * cin * 16, sizeof(double));
    double *wt = malloc(sizeof(double) * cout * 16);
    double *vt = malloc(sizeof(double) * cin * 16);
    assert_true(m && wt && vt);
    for (size_t i = 0; i < count; i++) {
        const float *in = input + i * cin * (size_t)hp * wp;
        const float *dy = gradient + i * cout * (size_t)ho * wo;
        for (int co = 0; co < cout; co++)
            for (int ci = 0; ci < cin; ci++)
                for (int oy = 0; oy < ho; oy++)
                    for (int ox = 0; ox < wo; ox++)
                        for (int k = 0; k < 9; k++)
                            exact[((size_t)co * cin + ci) * 9 + k] +=
                                (double)dy[((size_t)co * ho + oy) * wo + ox] *
                                in[((size_t)ci * hp + oy + k / 3) * wp + ox +
                                   k % 3];
        for (int ty = 0; ty < (ho + 1) / 2; ty++)
            for (int tx = 0; tx < (wo + 1) / 2; tx++) {
                for (int co = 0; co < cout; co++)
                    for (int k = 0; k < 4; k++)
                        for (int j = 0; j < 4; j++) {
                            double sum = 0.0;
                            for (int y = 0; y < 2; y++)
                                for (int x = 0; x < 2; x++) {
                                    const int oy = 2 * ty + y, ox = 2 * tx + x;
                                    if (oy < ho && ox < wo)
                                        sum +=
                                            abs_a[k][y] * abs_a[j][x] *
                                            fabs(
                                                dy[((size_t)co * ho + oy) * wo +
                                                   ox]);
                                }
                            wt[co * 16 + k * 4 + j] = sum;
                        }
                for (int ci = 0; ci < cin; ci++)
                    for (int k = 0; k < 4; k++)
                        for (int j = 0; j < 4; j++) {
                            double sum = 0.0;
                            for (int y = 0; y < 4; y++)
                                for (int x = 0; x < 4; x++) {
                                    const int py = 2 * ty + y, px = 2 * tx + x;
                                    if (py < hp && px < wp)
                                        sum +=
                                            winograd_abs_bt[k][y] *
                                            winograd_abs_bt[j][x] *
                                            fabs(
                                                in[((size_t)ci * hp + py) * wp +
                                                   px]);
                                }
                            vt[ci * 16 + k * 4 + j] = sum;
                        }
                for (int co = 0; co < cout; co++)
                    for (int ci = 0; ci < cin; ci++)
                        for (int f = 0; f < 16; f++)
                            m[((size_t)co * cin + ci) * 16 + f] +=
                                wt[co * 16 + f] * vt[ci * 16 + f];
            }
    }
    for (size_t p = 0; p < (size_t)cout * cin; p++)
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) {
                double sum = 0.0;
                for (int k = 0; k < 4; k++)
                    for (int j = 0; j < 4; j++)
                        sum += winograd_abs_g[k][a] * m[p * 16 + k * 4 + j] *
                               winograd_abs_g[j][b];
                magnitude[p * 9 + a * 3 + b] = sum;
            }
    free(m);
    free(wt);
    free(vt);
}

/* Rounding on any path: winograd_weights.h. */
static double bound_roundings(const conv_shape *s, size_t count)
{
    const double tiles = (double)((conv_out_height(s) + 1) / 2) *
                         (double)((conv_out_width(s) + 1) / 2);
    return (double)count * tiles + 8.0;
}

static void check_stages(const stage_set *set, const conv_shape *s,
                         size_t count, int kind, random_generator *rng)
{
    const shape_floats z = floats_of(s, count);
    guarded gi, gd;
    float *input = guarded_floats(&gi, z.input);
    float *gradient = guarded_floats(&gd, z.output);
    float *got = malloc(sizeof(float) * z.weights);
    double *exact = malloc(sizeof(double) * z.weights);
    double *magnitude = malloc(sizeof(double) * z.weights);
    assert_true(got && exact && magnitude);
    fill_values(rng, input, z.input, kind);
    fill_values(rng, gradient, z.output, kind);
    stages_run(set, s, count, input, gradient, got);
    reference_of(s, count, input, gradient, exact, magnitude);
    const double gamma = gamma_of(bound_roundings(s, count));
    for (size_t k = 0; k < z.weights; k++) {
        const double error = fabs((double)got[k] - exact[k]);
        const double tolerance =
            kind == VALUES_INTEGER ? 0.0 : gamma * magnitude[k];
        if (!(error <= tolerance))
            fail_msg("%s weight gradient: %dx%d, %d -> %d channels, pad %d, "
                     "%zu images: [%zu] got %.9g, reference %.9g, |diff| "
                     "%.3g > tolerance %.3g",
                     set->name, s->in_height, s->in_width, s->in_channels,
                     s->out_channels, s->pad, count, k, got[k], exact[k], error,
                     tolerance);
    }
    guarded_free(&gi);
    guarded_free(&gd);
    free(got);
    free(exact);
    free(magnitude);
}

/* ---- tests ------------------------------------------------------------- */

/* The convolutions of the network of docs (16 -> 32 and 32 -> 32 at 14 x
 * 14, pad 1), the seed network's conv2 (16 -> 8, pad 2) and a first layer
 * (1 -> 16 at 28 x 28), which the driver leaves to the direct sum. */
static const conv_shape network_shapes[] = {
    {16, 32, 14, 14, 1},
    {32, 32, 14, 14, 1},
    {16, 8, 14, 14, 2},
    {1, 16, 28, 28, 1},
};

static void test_network_shapes(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1301);
    stage_set sets[8];
    const int n = stage_sets(sets, WINOGRAD_F2X2);
    const size_t counts[] = {1, 3, 9};
    for (int k = 0; k < n; k++)
        for (size_t s = 0; s < sizeof network_shapes / sizeof *network_shapes;
             s++)
            for (int kind = VALUES_UNIFORM; kind <= VALUES_INTEGER; kind++)
                for (int c = 0; c < 3; c++)
                    check_stages(&sets[k], &network_shapes[s], counts[c], kind,
                                 &rng);
}

/* Random channels 1..20, sizes 1..33 (odd outputs leave half tiles; rows
 * of up to 17 tiles span several vectors, rows of up to 8 are paired),
 * pad 0..2, count 1..9. */
static void test_random_shapes(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1302);
    stage_set sets[8];
    const int n = stage_sets(sets, WINOGRAD_F2X2);
    for (int k = 0; k < n; k++)
        for (int trial = 0; trial < 80; trial++) {
            conv_shape s;
            s.in_channels = random_int(&rng, 1, 20);
            s.out_channels = random_int(&rng, 1, 20);
            s.pad = random_int(&rng, 0, 2);
            const int smallest = s.pad >= 1 ? 1 : 3;
            s.in_height = random_int(&rng, smallest, 33);
            s.in_width = random_int(&rng, smallest, 33);
            check_stages(&sets[k], &s, (size_t)random_int(&rng, 1, 9),
                         trial % 3 == 0 ? VALUES_INTEGER : VALUES_UNIFORM,
                         &rng);
        }
}

/* A NaN or an infinity in the input or the gradient gives a non-finite
 * weight gradient where it is used (and no read out of bounds). */
static void test_non_finite(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1303);
    stage_set sets[8];
    const int n = stage_sets(sets, WINOGRAD_F2X2);
    const conv_shape s = {16, 32, 14, 14, 1};
    const size_t count = 2;
    const shape_floats z = floats_of(&s, count);
    guarded gi, gd;
    float *input = guarded_floats(&gi, z.input);
    float *gradient = guarded_floats(&gd, z.output);
    float *got = malloc(sizeof(float) * z.weights);
    assert_non_null(got);
    const float specials[] = {NAN, INFINITY, -INFINITY};
    for (int k = 0; k < n; k++)
        for (int which = 0; which < 6; which++) {
            fill_values(&rng, input, z.input, VALUES_UNIFORM);
            fill_values(&rng, gradient, z.output, VALUES_UNIFORM);
            /* Image 1, channel 0, an interior pixel: every weight of
             * channel pair (0, 0) or (co, 0) reads it. */
            if (which < 3)
                gradient[z.output / 2 + 5 * 14 + 5] = specials[which];
            else
                input[z.input / 2 + 6 * 16 + 6] = specials[which - 3];
            stages_run(&sets[k], &s, count, input, gradient, got);
            assert_false(isfinite(got[4])); /* (0, 0), the centre weight */
        }
    guarded_free(&gi);
    guarded_free(&gd);
    free(got);
}

/* The driver runs Winograd exactly for the shapes the ISA's weight rule
 * accepts (never for the scalar table nor one input channel;
 * every network shape fits), with the F(2x2) stages' bits where F(4x4)
 * does not take the shape, and the bias gradient stays the sum of the
 * gradient planes. */
static void test_driver_rule(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1304);
    for (int v = 0; kernel_variant_names[v]; v++) {
        const kernel_table *t = kernels_by_name(kernel_variant_names[v]);
        if (!t)
            continue;
        for (size_t s = 0; s < sizeof network_shapes / sizeof *network_shapes;
             s++) {
            const conv_shape *shape = &network_shapes[s];
            const int uses = conv3x3_backward_weights_uses_winograd(t, shape);
            const winograd_microkernels *w =
                t->conv3x3 ? t->conv3x3->winograd : NULL;
            assert_int_equal(uses,
                             w && shape->in_channels >= w->min_channels &&
                                 shape->out_channels >= w->min_channels &&
                                 shape->in_channels * shape->out_channels >=
                                     w->min_weight_channel_product);
            if (shape->in_channels == 1)
                assert_false(uses);
            const size_t count = 3;
            const shape_floats z = floats_of(shape, count);
            float *input = malloc(sizeof(float) * z.input);
            float *gradient = malloc(sizeof(float) * z.output);
            float *driver = malloc(sizeof(float) * z.weights);
            float *staged = malloc(sizeof(float) * z.weights);
            float *bias = malloc(sizeof(float) * shape->out_channels);
            float *bias_reference = malloc(sizeof(float) * shape->out_channels);
            float *ignored = malloc(sizeof(float) * z.weights);
            assert_true(input && gradient && driver && staged && bias &&
                        bias_reference && ignored);
            fill_values(&rng, input, z.input, VALUES_INTEGER);
            fill_values(&rng, gradient, z.output, VALUES_INTEGER);
            conv3x3_backward_weights_unpacked(t->conv3x3, shape, count, input,
                                              gradient, driver, bias);
            conv3x3_backward_weights_scalar(shape, count, input, gradient,
                                            ignored, bias_reference);
            for (int co = 0; co < shape->out_channels; co++)
                assert_true(bias[co] == bias_reference[co]);
            /* Where F(4x4) runs instead, test_winograd4_weights.c checks
             * the driver against its stages. */
            if (uses && !conv3x3_backward_weights_uses_winograd4(t, shape)) {
                const stage_set set = {t->name, t->conv3x3->winograd, NULL};
                stages_run(&set, shape, count, input, gradient, staged);
                for (size_t j = 0; j < z.weights; j++)
                    check_equal(t->name, "driver vs stages", j, driver[j],
                                staged[j]);
            }
            free(input);
            free(gradient);
            free(driver);
            free(staged);
            free(bias);
            free(bias_reference);
            free(ignored);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_network_shapes),
        cmocka_unit_test(test_random_shapes),
        cmocka_unit_test(test_non_finite),
        cmocka_unit_test(test_driver_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
