/* The Winograd F(4x4, 3x3) weight gradient
 * (lib/kernels/winograd4_weights.h): its plain-C stages and every ISA's,
 * held to the direct sum computed in double, and the driver's choice of it.
 *
 * Tolerance: gamma(count * tiles + 10) times the Winograd magnitude, the
 * same sum with every matrix and value replaced by its absolute value
 * (winograd4_weights.h counts the roundings; tiles = ceil(out_h / 4) x
 * ceil(out_w / 4) of one image; the double reference's own error is
 * negligible beside it). Exactness: on integers in [-3, 3], V = B^T D B and
 * W = A dY A^T have integer matrices, so they, the products W .* V and the
 * sums M are exact in float32 while every partial sum stays below 2^24 in
 * magnitude; G^T M G is done in double as (24 G)^T M (24 G) / 576, whose
 * matrices are integers, so from that exact M it is exact too (zeros
 * included) and the float is the integer reference. So an integer weight
 * gradient must equal the reference bit for bit where its magnitude is
 * below 2^23 and every M entry it reads has a sum of |terms| below 2^24
 * (which bounds every partial sum); elsewhere the bound applies. A wrong
 * sign, a lost tile or a lane that adds garbage cannot hide inside these.
 * Inputs and gradients end at a guard page, the pad of the input is filled
 * (the stages must read it), and the scratch starts full of NaN (the
 * stages must not read what they did not write). */
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
#include "kernels/winograd4.h"
#include "kernels/winograd4_weights.h"
#include "kernel_test_support.h"
#include "winograd_test_support.h"

#define TWO_23 8388608.0
#define TWO_24 16777216.0

/* The stages' weight gradient, on scratch that starts as NaN. */
static void stages_run(const stage_set *set, const conv_shape *s, size_t count,
                       const float *input, const float *gradient,
                       float *weight_grad)
{
    const size_t n = winograd4_weights_scratch_floats(set->stages4, s);
    float *scratch = memory_allocate_aligned(64, sizeof(float) * n);
    assert_non_null(scratch);
    fill_value(scratch, n, NAN);
    winograd4_backward_weights(set->stages4, s, count, input, NULL, gradient,
                               weight_grad, scratch);
    memory_free(scratch);
}

/* Whether the set takes the shape. For the shapes here (at most 40 x 40
 * outputs, 32 channels) V and W of an image are far below the size limit,
 * so it must take exactly those within its tile limits: the plain-C stages
 * every shape, so a set that declines everything cannot pass unnoticed. */
static int set_fits(const stage_set *set, const conv_shape *s)
{
    const winograd4_microkernels *mk = set->stages4;
    const int fits = winograd4_weights_fits(mk, s);
    const int within =
        (!mk->max_tile_rows || conv_tile_rows(s, 4) <= mk->max_tile_rows) &&
        (!mk->max_tile_columns ||
         conv_tile_columns(s, 4) <= mk->max_tile_columns);
    if (fits != within)
        fail_msg("%s: winograd4_weights_fits %d for %dx%d, %d -> %d "
                 "channels, pad %d (tile limits say %d)",
                 set->name, fits, s->in_height, s->in_width, s->in_channels,
                 s->out_channels, s->pad, within);
    if (mk == &winograd4_reference)
        assert_true(fits);
    return fits;
}

/* ---- the reference and the bound --------------------------------------- */

/* |A| = |A^T|^T: |A dY A^T| <= |A| |dY| |A|^T. */
static double abs_a(int k, int y)
{
    return winograd4_abs_at[y][k];
}

/* The direct weight gradient in double (exact), the Winograd magnitude
 * |G|^T [ sum over images and tiles (|A| |dY| |A|^T) .* (|B^T| |D| |B|) ] |G|
 * (magnitude) and the largest |terms| sum of an M entry the weight reads,
 * one with nonzero |G| coefficients (largest), of every weight (OIHW). */
static void reference_of(const conv_shape *s, size_t count, const float *input,
                         const float *gradient, double *exact,
                         double *magnitude, double *largest)
{
    const int cin = s->in_channels, cout = s->out_channels;
    const int hp = conv_padded_height(s), wp = conv_padded_width(s);
    const int ho = conv_out_height(s), wo = conv_out_width(s);
    const int tile_rows = conv_tile_rows(s, 4);
    const int tile_columns = conv_tile_columns(s, 4);
    const size_t weights = (size_t)cout * cin * 9;
    for (size_t k = 0; k < weights; k++)
        exact[k] = magnitude[k] = largest[k] = 0.0;
    double *m = calloc((size_t)cout * cin * 36, sizeof(double));
    double *wt = malloc(sizeof(double) * cout * 36);
    double *vt = malloc(sizeof(double) * cin * 36);
    assert_true(m && wt && vt);
    for (size_t i = 0; i < count; i++) {
        const float *in = input + i * cin * (size_t)hp * wp;
        const float *dy = gradient + i * cout * (size_t)ho * wo;
        for (int co = 0; co < cout; co++)
            for (int ci = 0; ci < cin; ci++) {
                double *e = exact + ((size_t)co * cin + ci) * 9;
                for (int oy = 0; oy < ho; oy++)
                    for (int ox = 0; ox < wo; ox++) {
                        const double d = dy[((size_t)co * ho + oy) * wo + ox];
                        for (int k = 0; k < 9; k++)
                            e[k] += d * in[((size_t)ci * hp + oy + k / 3) * wp +
                                           ox + k % 3];
                    }
            }
        for (int ty = 0; ty < tile_rows; ty++)
            for (int tx = 0; tx < tile_columns; tx++) {
                /* |A| |dY| |A|^T: zeros past the output. */
                for (int co = 0; co < cout; co++) {
                    double t[6][4];
                    for (int k = 0; k < 6; k++)
                        for (int x = 0; x < 4; x++) {
                            double sum = 0.0;
                            for (int y = 0; y < 4; y++) {
                                const int oy = 4 * ty + y, ox = 4 * tx + x;
                                if (oy < ho && ox < wo)
                                    sum +=
                                        abs_a(k, y) *
                                        fabs(
                                            (double)
                                                dy[((size_t)co * ho + oy) * wo +
                                                   ox]);
                            }
                            t[k][x] = sum;
                        }
                    for (int k = 0; k < 6; k++)
                        for (int j = 0; j < 6; j++) {
                            double sum = 0.0;
                            for (int x = 0; x < 4; x++)
                                sum += t[k][x] * abs_a(j, x);
                            wt[co * 36 + k * 6 + j] = sum;
                        }
                }
                /* |B^T| |D| |B|: zeros past the padded input. */
                for (int ci = 0; ci < cin; ci++) {
                    double t[6][6];
                    for (int k = 0; k < 6; k++)
                        for (int x = 0; x < 6; x++) {
                            double sum = 0.0;
                            for (int y = 0; y < 6; y++) {
                                const int py = 4 * ty + y, px = 4 * tx + x;
                                if (py < hp && px < wp)
                                    sum +=
                                        winograd4_abs_bt[k][y] *
                                        fabs(
                                            (double)
                                                in[((size_t)ci * hp + py) * wp +
                                                   px]);
                            }
                            t[k][x] = sum;
                        }
                    for (int k = 0; k < 6; k++)
                        for (int j = 0; j < 6; j++) {
                            double sum = 0.0;
                            for (int x = 0; x < 6; x++)
                                sum += t[k][x] * winograd4_abs_bt[j][x];
                            vt[ci * 36 + k * 6 + j] = sum;
                        }
                }
                for (int co = 0; co < cout; co++)
                    for (int ci = 0; ci < cin; ci++)
                        for (int f = 0; f < 36; f++)
                            m[((size_t)co * cin + ci) * 36 + f] +=
                                wt[co * 36 + f] * vt[ci * 36 + f];
            }
    }
    for (size_t p = 0; p < (size_t)cout * cin; p++)
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) {
                double sum = 0.0, most = 0.0;
                for (int k = 0; k < 6; k++)
                    for (int j = 0; j < 6; j++) {
                        const double gk = winograd4_abs_g[k][a];
                        const double gj = winograd4_abs_g[j][b];
                        const double mkj = m[p * 36 + k * 6 + j];
                        sum += gk * mkj * gj;
                        if (gk != 0.0 && gj != 0.0 && mkj > most)
                            most = mkj;
                    }
                magnitude[p * 9 + a * 3 + b] = sum;
                largest[p * 9 + a * 3 + b] = most;
            }
    free(m);
    free(wt);
    free(vt);
}

/* Rounding on any path: winograd4_weights.h. */
static double bound_roundings(const conv_shape *s, size_t count)
{
    const double tiles =
        (double)conv_tile_rows(s, 4) * (double)conv_tile_columns(s, 4);
    return (double)count * tiles + 10.0;
}

/* The data and the reference of one check, kept so that several stage sets
 * can be held to the same. */
typedef struct case_data {
    shape_floats z;
    guarded gi, gd;
    float *input, *gradient;
    double *exact, *magnitude, *largest;
} case_data;

static void case_make(case_data *c, const conv_shape *s, size_t count, int kind,
                      random_generator *rng)
{
    c->z = floats_of(s, count);
    c->input = guarded_floats(&c->gi, c->z.input);
    c->gradient = guarded_floats(&c->gd, c->z.output);
    c->exact = malloc(sizeof(double) * c->z.weights);
    c->magnitude = malloc(sizeof(double) * c->z.weights);
    c->largest = malloc(sizeof(double) * c->z.weights);
    assert_true(c->exact && c->magnitude && c->largest);
    fill_values(rng, c->input, c->z.input, kind);
    fill_values(rng, c->gradient, c->z.output, kind);
    reference_of(s, count, c->input, c->gradient, c->exact, c->magnitude,
                 c->largest);
}

static void case_free(case_data *c)
{
    guarded_free(&c->gi);
    guarded_free(&c->gd);
    free(c->exact);
    free(c->magnitude);
    free(c->largest);
}

/* The stages' result against the case's reference: exact where the
 * comment at the top says so (integers), else within the bound. Returns
 * how many weights were held to exactness. */
static size_t check_result(const stage_set *set, const conv_shape *s,
                           size_t count, int kind, const case_data *c,
                           const float *got)
{
    const double gamma = gamma_of(bound_roundings(s, count));
    size_t exact_weights = 0;
    for (size_t k = 0; k < c->z.weights; k++) {
        const int exact = kind == VALUES_INTEGER && c->magnitude[k] < TWO_23 &&
                          c->largest[k] < TWO_24;
        exact_weights += (size_t)exact;
        const double error = fabs((double)got[k] - c->exact[k]);
        const double tolerance = exact ? 0.0 : gamma * c->magnitude[k];
        if (!(error <= tolerance))
            fail_msg("%s winograd4 weight gradient: %dx%d, %d -> %d "
                     "channels, pad %d, %zu images: [%zu] (co %zu, ci %zu, "
                     "%zu, %zu) got %.9g, reference %.9g, |diff| %.3g > "
                     "tolerance %.3g (magnitude %.6g, largest M %.6g)",
                     set->name, s->in_height, s->in_width, s->in_channels,
                     s->out_channels, s->pad, count, k,
                     k / 9 / (size_t)s->in_channels,
                     k / 9 % (size_t)s->in_channels, k % 9 / 3, k % 3, got[k],
                     c->exact[k], error, tolerance, c->magnitude[k],
                     c->largest[k]);
    }
    return exact_weights;
}

/* One set on fresh data of `kind`; skipped (returns 0) where the set does
 * not take the shape. Returns the number of weights held to exactness. */
static size_t check_stages(const stage_set *set, const conv_shape *s,
                           size_t count, int kind, random_generator *rng)
{
    if (!set_fits(set, s))
        return 0;
    case_data c;
    case_make(&c, s, count, kind, rng);
    guarded go;
    float *got = guarded_floats(&go, c.z.weights);
    fill_value(got, c.z.weights, SENTINEL);
    stages_run(set, s, count, c.input, c.gradient, got);
    const size_t exact_weights = check_result(set, s, count, kind, &c, got);
    guarded_free(&go);
    case_free(&c);
    return exact_weights;
}

/* ---- tests ------------------------------------------------------------- */

/* The seed network's conv2 (16 -> 8, pad 2: a 16 x 16 output, AVX-512's
 * 4 x 4 tiles exactly), the docs network's convolutions (16 -> 32 and
 * 32 -> 32 at 14 x 14, pad 1: partial tiles) and a first layer (1 -> 16 at
 * 28 x 28: 7 x 7 tiles, beyond AVX-512's limit). */
static const conv_shape network_shapes[] = {
    {16, 8, 14, 14, 2},
    {16, 32, 14, 14, 1},
    {32, 32, 14, 14, 1},
    {1, 16, 28, 28, 1},
};
#define NETWORK_SHAPES (sizeof network_shapes / sizeof *network_shapes)

/* Counts 1, 3, 9 and 20 (the training batch; 20 images span several
 * chunks of V and W for the larger shapes). */
static void test_network_shapes(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1401);
    stage_set sets[8];
    const int n = stage_sets(sets, WINOGRAD_F4X4);
    const size_t counts[] = {1, 3, 9, 20};
    for (int k = 0; k < n; k++) {
        size_t exact_weights = 0;
        for (size_t s = 0; s < NETWORK_SHAPES; s++)
            for (int kind = VALUES_UNIFORM; kind <= VALUES_INTEGER; kind++)
                for (int c = 0; c < 4; c++)
                    exact_weights += check_stages(&sets[k], &network_shapes[s],
                                                  counts[c], kind, &rng);
        /* The exact check must not have been skipped wholesale. */
        assert_true(exact_weights > 0);
    }
}

/* A random shape whose outputs are 1 .. max_out in each direction (pad
 * 0..2, channels 1..20). */
static conv_shape random_shape(random_generator *rng, int max_out)
{
    conv_shape s;
    s.in_channels = random_int(rng, 1, 20);
    s.out_channels = random_int(rng, 1, 20);
    s.pad = random_int(rng, 0, 2);
    /* in + 2 pad - 2 in 1 .. max_out, in >= 1. */
    const int smallest = 3 - 2 * s.pad < 1 ? 1 : 3 - 2 * s.pad;
    s.in_height = random_int(rng, smallest, max_out + 2 - 2 * s.pad);
    s.in_width = random_int(rng, smallest, max_out + 2 - 2 * s.pad);
    return s;
}

/* Random shapes with outputs of 1..16 (every set takes them; 13..16 is
 * AVX-512's 4-tile edge, 1..3 a single partial tile), then larger ones
 * (17..40: the sets without tile limits), counts 1..12. */
static void test_random_shapes(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1402);
    stage_set sets[8];
    const int n = stage_sets(sets, WINOGRAD_F4X4);
    for (int k = 0; k < n; k++)
        for (int trial = 0; trial < 100; trial++) {
            const conv_shape s = random_shape(&rng, trial < 80 ? 16 : 40);
            check_stages(&sets[k], &s, (size_t)random_int(&rng, 1, 12),
                         trial % 3 == 0 ? VALUES_INTEGER : VALUES_UNIFORM,
                         &rng);
        }
}

/* Every set on the same data: each within the bound of the exact result
 * (they are not bit-equal to one another: their sums run in different
 * orders), and the same bits on a second call. */
static void test_sets_on_same_data(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1403);
    stage_set sets[8];
    const int n = stage_sets(sets, WINOGRAD_F4X4);
    conv_shape shapes[NETWORK_SHAPES + 12];
    size_t counts[NETWORK_SHAPES + 12];
    size_t shape_count = 0;
    for (size_t s = 0; s < NETWORK_SHAPES; s++) {
        shapes[shape_count] = network_shapes[s];
        counts[shape_count++] = 20;
    }
    while (shape_count < sizeof shapes / sizeof *shapes) {
        shapes[shape_count] = random_shape(&rng, 16);
        counts[shape_count++] = (size_t)random_int(&rng, 1, 12);
    }
    for (size_t s = 0; s < shape_count; s++) {
        case_data c;
        case_make(&c, &shapes[s], counts[s], VALUES_UNIFORM, &rng);
        float *got = malloc(sizeof(float) * c.z.weights);
        float *again = malloc(sizeof(float) * c.z.weights);
        assert_true(got && again);
        for (int k = 0; k < n; k++) {
            if (!set_fits(&sets[k], &shapes[s]))
                continue;
            stages_run(&sets[k], &shapes[s], counts[s], c.input, c.gradient,
                       got);
            check_result(&sets[k], &shapes[s], counts[s], VALUES_UNIFORM, &c,
                         got);
            stages_run(&sets[k], &shapes[s], counts[s], c.input, c.gradient,
                       again);
            for (size_t j = 0; j < c.z.weights; j++)
                check_equal(sets[k].name, "second call", j, again[j], got[j]);
        }
        free(got);
        free(again);
        case_free(&c);
    }
}

/* G^T M G of every set against the plain C's, bit for bit, on random M
 * (uniform values scaled by 2^-40 .. 2^40, and every other trial with
 * columns that cancel; the float results hide most double roundings)
 * for random channel counts and paddings of the output channels; the
 * weight gradient ends at a guard page. */
static void test_weights_of_variants(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1406);
    stage_set sets[8];
    const int n = stage_sets(sets, WINOGRAD_F4X4);
    for (int trial = 0; trial < 80; trial++) {
        const conv_shape shape = random_shape(&rng, 16);
        const int padded_out = shape.out_channels + random_int(&rng, 0, 8);
        const size_t m_count =
            (size_t)WINOGRAD4_FREQUENCIES * shape.in_channels * padded_out;
        const size_t weights =
            (size_t)shape.out_channels * shape.in_channels * 9;
        float *m = malloc(sizeof(float) * m_count);
        float *want = malloc(sizeof(float) * weights);
        assert_true(m && want);
        fill_values(&rng, m, m_count, VALUES_UNIFORM);
        for (size_t k = 0; k < m_count; k++)
            m[k] = ldexpf(m[k], random_int(&rng, -40, 40));
        if (trial % 2) {
            /* Every column k = 0 .. 2 of each frequency row j: 2x, x, 2x
             * with x = 2^20 .. 2^40, so that 6 r0 - 4 (r1 + r2) cancels
             * exactly before the small r3 + r4 is added: another order of
             * that sum would lose them. */
            const size_t row = (size_t)shape.in_channels * padded_out;
            for (int j = 0; j < 6; j++)
                for (size_t p = 0; p < row; p++) {
                    const float x = ldexpf(1.0f, random_int(&rng, 20, 40));
                    m[(size_t)j * row + p] = 2.0f * x;
                    m[(size_t)(6 + j) * row + p] = x;
                    m[(size_t)(12 + j) * row + p] = 2.0f * x;
                }
        }
        winograd4_weights_of_scalar(&shape, padded_out, m, want);
        for (int k = 0; k < n; k++) {
            guarded gw;
            float *got = guarded_floats(&gw, weights);
            fill_value(got, weights, SENTINEL);
            sets[k].stages4->weights_of(&shape, padded_out, m, got);
            for (size_t j = 0; j < weights; j++)
                check_equal(sets[k].name, "G^T M G", j, got[j], want[j]);
            guarded_free(&gw);
        }
        free(m);
        free(want);
    }
}

/* A NaN or an infinity in the input or the gradient gives a non-finite
 * weight gradient for every weight that reads it, and leaves the other
 * channel pairs finite (no read out of bounds, no lane or channel that
 * leaks into another). */
static void test_non_finite(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1404);
    stage_set sets[8];
    const int n = stage_sets(sets, WINOGRAD_F4X4);
    const conv_shape s = {16, 32, 14, 14, 1};
    const size_t count = 2;
    const shape_floats z = floats_of(&s, count);
    guarded gi, gd;
    float *input = guarded_floats(&gi, z.input);
    float *gradient = guarded_floats(&gd, z.output);
    float *got = malloc(sizeof(float) * z.weights);
    assert_non_null(got);
    const float specials[] = {NAN, INFINITY, -INFINITY};
    for (int k = 0; k < n; k++) {
        assert_true(set_fits(&sets[k], &s));
        for (int which = 0; which < 6; which++) {
            fill_values(&rng, input, z.input, VALUES_UNIFORM);
            fill_values(&rng, gradient, z.output, VALUES_UNIFORM);
            /* Image 1, channel 0, an interior pixel every weight of the
             * channel pairs (0, ci) (gradient) or (co, 0) (input) reads:
             * output (5, 5), padded input (6, 6). */
            const int in_gradient = which < 3;
            if (in_gradient)
                gradient[z.output / 2 + 5 * 14 + 5] = specials[which];
            else
                input[z.input / 2 + 6 * 16 + 6] = specials[which - 3];
            stages_run(&sets[k], &s, count, input, gradient, got);
            for (size_t j = 0; j < z.weights; j++) {
                const size_t co = j / 9 / (size_t)s.in_channels;
                const size_t ci = j / 9 % (size_t)s.in_channels;
                const int reads = in_gradient ? co == 0 : ci == 0;
                if (reads != !isfinite(got[j]))
                    fail_msg("%s: special %d in the %s: weight [%zu] (co %zu, "
                             "ci %zu) is %.9g",
                             sets[k].name, which % 3,
                             in_gradient ? "gradient" : "input", j, co, ci,
                             got[j]);
            }
        }
    }
    guarded_free(&gi);
    guarded_free(&gd);
    free(got);
}

/* The driver runs F(4x4) exactly where the table has F(4x4) stages with the
 * weight-gradient stages, their min_weight_channel_product is set and
 * accepts the shape, the F(2x2) weight rule accepts it and the stages fit
 * it; there with the stages' bits. The bias gradient stays the scalar
 * reference's either way. Network shapes, one with 5 x 5 tiles (beyond
 * AVX-512's limit, which the F(2x2) rule accepts) and random ones. */
static void test_driver_rule(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1405);
    conv_shape shapes[NETWORK_SHAPES + 1 + 16];
    size_t shape_count = 0;
    for (size_t s = 0; s < NETWORK_SHAPES; s++)
        shapes[shape_count++] = network_shapes[s];
    shapes[shape_count++] = (conv_shape){16, 32, 20, 20, 1};
    while (shape_count < sizeof shapes / sizeof *shapes)
        shapes[shape_count++] = random_shape(&rng, 24);
    const size_t counts[] = {3, 20};
    for (int v = 0; kernel_variant_names[v]; v++) {
        const kernel_table *t = kernels_by_name(kernel_variant_names[v]);
        if (!t)
            continue;
        const winograd4_microkernels *w4 =
            t->conv3x3 ? t->conv3x3->winograd4 : NULL;
        for (size_t s = 0; s < shape_count; s++) {
            const conv_shape *shape = &shapes[s];
            const int uses = conv3x3_backward_weights_uses_winograd4(t, shape);
            const int expected =
                w4 && w4->gradient_image && w4->min_weight_tiles &&
                conv_tile_rows(shape, 4) * conv_tile_columns(shape, 4) >=
                    w4->min_weight_tiles &&
                conv3x3_backward_weights_uses_winograd(t, shape) &&
                winograd4_weights_fits(w4, shape);
            if (uses != expected)
                fail_msg("%s: uses_winograd4 %d, expected %d for %dx%d, %d -> "
                         "%d channels, pad %d",
                         t->name, uses, expected, shape->in_height,
                         shape->in_width, shape->in_channels,
                         shape->out_channels, shape->pad);
            const size_t count = counts[s % 2];
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
            /* Integers: the bias sums are exact in any order. */
            fill_values(&rng, input, z.input, VALUES_INTEGER);
            fill_values(&rng, gradient, z.output, VALUES_INTEGER);
            conv3x3_backward_weights_unpacked(t->conv3x3, shape, count, input,
                                              gradient, driver, bias);
            conv3x3_backward_weights_scalar(shape, count, input, gradient,
                                            ignored, bias_reference);
            for (int co = 0; co < shape->out_channels; co++)
                check_equal(t->name, "bias gradient", (size_t)co, bias[co],
                            bias_reference[co]);
            if (uses) {
                const stage_set set = {t->name, NULL, w4};
                stages_run(&set, shape, count, input, gradient, staged);
                for (size_t j = 0; j < z.weights; j++)
                    check_equal(t->name, "driver vs winograd4 stages", j,
                                driver[j], staged[j]);
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

/* The input transform kept by the forward pass gives the weight gradient
 * the same bits as transforming the input again: the stages (every set,
 * through winograd4_forward_keeping), and the driver, whose forward output
 * is conv3x3_forward_packed's and which keeps exactly where the table runs
 * F(4x4) both ways (the seed's conv2 on AVX-512). Uniform values, several
 * chunks (20 images), and V's buffer and the scratch start as NaN. */
static void test_kept_input(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 1406);
    stage_set sets[8];
    const int n = stage_sets(sets, WINOGRAD_F4X4);
    const size_t count = 20;
    for (size_t s = 0; s < NETWORK_SHAPES; s++) {
        const conv_shape *shape = &network_shapes[s];
        const shape_floats z = floats_of(shape, count);
        float *input = malloc(sizeof(float) * z.input);
        float *gradient = malloc(sizeof(float) * z.output);
        float *weights = malloc(sizeof(float) * z.weights);
        float *bias = malloc(sizeof(float) * shape->out_channels);
        float *output = malloc(sizeof(float) * z.output);
        float *again = malloc(sizeof(float) * z.weights);
        float *kept_result = malloc(sizeof(float) * z.weights);
        assert_true(input && gradient && weights && bias && output && again &&
                    kept_result);
        fill_values(&rng, input, z.input, VALUES_UNIFORM);
        fill_values(&rng, gradient, z.output, VALUES_UNIFORM);
        fill_values(&rng, weights, z.weights, VALUES_UNIFORM);
        fill_values(&rng, bias, (size_t)shape->out_channels, VALUES_UNIFORM);
        for (int k = 0; k < n; k++) {
            const winograd4_microkernels *w4 = sets[k].stages4;
            if (!winograd4_fits(w4, shape) ||
                !winograd4_weights_fits(w4, shape))
                continue;
            const size_t kept_floats = count * winograd4_kept_floats(w4, shape);
            float *kept =
                memory_allocate_aligned(64, sizeof(float) * kept_floats);
            float *packed = memory_allocate_aligned(
                64, sizeof(float) * winograd4_packed_floats(w4, shape));
            const size_t scratch_floats =
                winograd4_weights_scratch_floats(w4, shape);
            float *scratch =
                memory_allocate_aligned(64, sizeof(float) * scratch_floats);
            assert_true(kept && packed && scratch);
            fill_value(kept, kept_floats, NAN);
            winograd4_pack(w4, shape, weights, 0, packed);
            winograd4_forward_keeping(w4, shape, count, input, packed, bias, 1,
                                      output, kept);
            stages_run(&sets[k], shape, count, input, gradient, again);
            fill_value(scratch, scratch_floats, NAN);
            /* input_padded NULL: the kept V alone must do. */
            winograd4_backward_weights(w4, shape, count, NULL, kept, gradient,
                                       kept_result, scratch);
            for (size_t j = 0; j < z.weights; j++)
                check_equal(sets[k].name, "kept V vs V again", j,
                            kept_result[j], again[j]);
            memory_free(kept);
            memory_free(packed);
            memory_free(scratch);
        }
        for (int v = 0; kernel_variant_names[v]; v++) {
            const kernel_table *t = kernels_by_name(kernel_variant_names[v]);
            if (!t)
                continue;
            const size_t per_image = conv3x3_kept_input_floats(t, shape);
            assert_int_equal(
                per_image > 0,
                conv3x3_forward_uses_winograd4(t, shape) &&
                    conv3x3_backward_weights_uses_winograd4(t, shape));
            float *kept = memory_allocate_aligned(
                64, sizeof(float) * (per_image ? count * per_image : 1));
            float *packed =
                malloc(sizeof(float) * conv3x3_packed_forward_floats(t, shape));
            float *plain = malloc(sizeof(float) * z.output);
            float *bias_grad = malloc(sizeof(float) * shape->out_channels);
            const size_t scratch_floats = conv3x3_scratch_floats(t, shape);
            float *scratch = memory_allocate_aligned(
                64, sizeof(float) * (scratch_floats ? scratch_floats : 1));
            assert_true(kept && packed && plain && bias_grad && scratch);
            conv3x3_pack_forward(t, shape, weights, packed);
            const int kept_it = conv3x3_forward_packed_keeping(
                t, shape, count, input, packed, bias, 1, output, kept);
            assert_int_equal(kept_it, per_image > 0);
            conv3x3_forward_packed(t, shape, count, input, packed, bias, 1,
                                   plain);
            for (size_t j = 0; j < z.output; j++)
                check_equal(t->name, "forward keeping vs forward", j, output[j],
                            plain[j]);
            conv3x3_backward_weights_with(t, shape, count, input, gradient,
                                          again, bias_grad, scratch);
            conv3x3_backward_weights_kept(t, shape, count, input,
                                          kept_it ? kept : NULL, gradient,
                                          kept_result, bias_grad, scratch);
            for (size_t j = 0; j < z.weights; j++)
                check_equal(t->name, "driver, kept V vs V again", j,
                            kept_result[j], again[j]);
            memory_free(kept);
            free(packed);
            free(plain);
            free(bias_grad);
            memory_free(scratch);
        }
        free(input);
        free(gradient);
        free(weights);
        free(bias);
        free(output);
        free(again);
        free(kept_result);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_network_shapes),
        cmocka_unit_test(test_random_shapes),
        cmocka_unit_test(test_weights_of_variants),
        cmocka_unit_test(test_sets_on_same_data),
        cmocka_unit_test(test_non_finite),
        cmocka_unit_test(test_driver_rule),
        cmocka_unit_test(test_kept_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
