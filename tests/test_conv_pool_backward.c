/* conv3x3_pool_backward_weights (kernels.h), the first layer's weight and
 * bias gradients straight from the pool's output gradient:
 *   - the plain-C reference against the unfused ops it replaces
 *     (maxpool2x2_backward, then conv3x3_backward_weights), both within the
 *     rounding bound of the exact sum of the same terms, computed in double;
 *   - every variant's against the reference, bit for bit (the op fixes the
 *     order of every sum and forbids fused multiply-adds);
 * (test_gradients.c holds the network's gradients through it, where a
 * convolution, ReLU and pool come first, to finite differences.)
 * Random shapes: 1-3 input and 1-40 output channels (so groups of 16 and a
 * remainder), even and odd sizes (an eighth of them 62 to 72 padded
 * columns wide, past the x86 variants' 64-column bit masks), pads 0-2,
 * batches 0-3. Every array ends
 * at a guard page, pooled values include zeros, negatives and NaN (the
 * ReLU mask must drop them), inputs are often zero over whole windows
 * (skipped) and the outputs start as NaN (the op must overwrite every
 * element). A last test: zero windows add nothing even with an infinite
 * gradient. */
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

#include "common/rng.h"
#include "kernels/kernels.h"
#include "kernel_test_support.h"

typedef struct case_data {
    conv_shape shape;
    size_t count;
    size_t input_floats, pooled_floats, weight_floats;
    guarded input_guard, pooled_guard, grad_guard, argmax_guard;
    float *input, *pooled, *pooled_grad;
    uint8_t *argmax;
} case_data;

/* Zeros (+0 and -0) over random rows and columns of every input plane,
 * so that many windows' 4 x 4 patches hold only zeros, which the op skips
 * (kernels.h), and many others a few zeros. */
static void sparsify(random_generator *rng, case_data *d)
{
    const conv_shape *s = &d->shape;
    const int rows = conv_padded_height(s), columns = conv_padded_width(s);
    const size_t planes = d->input_floats / ((size_t)rows * columns);
    for (size_t p = 0; p < planes; p++) {
        float *plane = d->input + p * rows * columns;
        const int first_row = random_int(rng, 0, rows),
                  last_row = random_int(rng, first_row, rows);
        const int first_column = random_int(rng, 0, columns),
                  last_column = random_int(rng, first_column, columns);
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < columns; x++)
                if (y < first_row || y >= last_row || x < first_column ||
                    x >= last_column || random_below(rng, 4) == 0)
                    plane[(size_t)y * columns + x] =
                        random_below(rng, 2) ? 0.0f : -0.0f;
    }
}

/* sixteen: 16 or 32 output channels (window bits), else 1 .. 40. */
static void case_make(random_generator *rng, case_data *d, int values,
                      int sparse, int sixteen)
{
    conv_shape *s = &d->shape;
    s->in_channels = random_int(rng, 1, 3);
    s->out_channels =
        sixteen ? 16 * random_int(rng, 1, 2) : random_int(rng, 1, 40);
    s->pad = random_int(rng, 0, 2);
    /* outputs of 2 to 37 rows and columns (at least one pooled value),
     * at least one input row and column */
    s->in_height = random_int(rng, 2, 37) + 2 - 2 * s->pad;
    /* sometimes wider than 64 padded columns (the x86 variants then test
     * each window's patch instead of a row's column bits) */
    s->in_width = (random_below(rng, 8) == 0 ? random_int(rng, 60, 70)
                                             : random_int(rng, 2, 37)) +
                  2 - 2 * s->pad;
    if (s->in_height < 1)
        s->in_height = 1;
    if (s->in_width < 1)
        s->in_width = 1;
    d->count = (size_t)random_int(rng, 0, 3);
    const shape_floats f = floats_of(s, d->count ? d->count : 1);
    d->input_floats = f.input;
    d->weight_floats = f.weights;
    d->pooled_floats = (d->count ? d->count : 1) * s->out_channels *
                       (size_t)(conv_out_height(s) / 2) *
                       (conv_out_width(s) / 2);
    d->input = guarded_floats(&d->input_guard, d->input_floats);
    d->pooled = guarded_floats(&d->pooled_guard, d->pooled_floats);
    d->pooled_grad = guarded_floats(&d->grad_guard, d->pooled_floats);
    d->argmax = guarded_alloc(&d->argmax_guard, d->pooled_floats);
    fill_values(rng, d->input, d->input_floats, values);
    if (sparse)
        sparsify(rng, d);
    fill_values(rng, d->pooled_grad, d->pooled_floats, values);
    for (size_t k = 0; k < d->pooled_floats; k++) {
        const uint64_t kind = random_below(rng, 8);
        d->pooled[k] = kind == 0   ? 0.0f
                       : kind == 1 ? -0.5f
                       : kind == 2 ? NAN
                                   : (float)(random_uniform(rng) + 0.25);
        d->argmax[k] = (uint8_t)random_below(rng, 4);
    }
}

static void case_free(case_data *d)
{
    guarded_free(&d->input_guard);
    guarded_free(&d->pooled_guard);
    guarded_free(&d->grad_guard);
    guarded_free(&d->argmax_guard);
}

/* The op's outputs by `kernel`, on outputs that start as NaN. */
static void run_op(conv3x3_pool_backward_weights_kernel kernel,
                   const case_data *d, int with_mask, float *weight_grad,
                   float *bias_grad)
{
    fill_value(weight_grad, d->weight_floats, NAN);
    fill_value(bias_grad, (size_t)d->shape.out_channels, NAN);
    kernel(&d->shape, d->count, d->input, with_mask ? d->pooled : NULL,
           d->pooled_grad, d->argmax, weight_grad, bias_grad);
}

/* got (weight_grad then bias_grad) against the reference op on the same
 * data, bit for bit; `how` names the variant's form in messages. */
static void expect_reference(const char *variant, const char *how,
                             const case_data *d, int with_mask,
                             const float *got)
{
    const size_t outputs = d->weight_floats + d->shape.out_channels;
    float *want = malloc(sizeof(float) * outputs);
    assert_non_null(want);
    run_op(conv3x3_pool_backward_weights_scalar, d, with_mask, want,
           want + d->weight_floats);
    char what[64];
    for (size_t w = 0; w < outputs; w++) {
        snprintf(what, sizeof what, "%s%s",
                 w < d->weight_floats ? "weight_grad" : "bias_grad", how);
        check_equal(variant, what, w, got[w], want[w]);
    }
    free(want);
}

/* The unfused ops on the same data, and the exact sum and the sum of
 * |terms| of every output, in double, over the convolution's output
 * gradient that maxpool2x2_backward makes. */
static void run_unfused(const case_data *d, int with_mask, float *weight_grad,
                        float *bias_grad, double *exact, double *magnitude,
                        size_t *terms, size_t *unfused_terms)
{
    const conv_shape *s = &d->shape;
    const int out_h = conv_out_height(s), out_w = conv_out_width(s);
    const int padded_h = conv_padded_height(s), padded_w = conv_padded_width(s);
    const size_t output_floats =
        (d->count ? d->count : 1) * s->out_channels * (size_t)out_h * out_w;
    float *dy = malloc(sizeof(float) * output_floats);
    assert_non_null(dy);
    maxpool2x2_backward_scalar(d->count * (size_t)s->out_channels, out_h, out_w,
                               d->pooled_grad, d->argmax,
                               with_mask ? d->pooled : NULL, dy);
    conv3x3_backward_weights_scalar(s, d->count, d->input, dy, weight_grad,
                                    bias_grad);
    const int weights = s->out_channels * s->in_channels * 9;
    for (int w = 0; w < weights + s->out_channels; w++) {
        const int bias = w >= weights;
        const int co = bias ? w - weights : w / (s->in_channels * 9),
                  ci = bias ? 0 : w / 9 % s->in_channels, kh = w % 9 / 3,
                  kw = w % 3;
        double sum = 0.0, absolute = 0.0;
        for (size_t i = 0; i < d->count; i++)
            for (int y = 0; y < out_h; y++)
                for (int x = 0; x < out_w; x++) {
                    const double g =
                        dy[((i * s->out_channels + co) * out_h + y) * out_w +
                           x];
                    const double v =
                        bias ? 1.0
                             : d->input[((i * s->in_channels + ci) * padded_h +
                                         y + kh) *
                                            padded_w +
                                        x + kw];
                    sum += g * v;
                    absolute += fabs(g * v);
                }
        exact[w] = sum;
        magnitude[w] = absolute;
    }
    /* one product and one addition per pooled value of the image */
    *terms = 2 * d->count * (size_t)(out_h / 2) * (out_w / 2) + 1;
    /* the unfused sum: one per output pixel */
    *unfused_terms = 2 * d->count * (size_t)out_h * out_w + 1;
    free(dy);
}

/* The reference and the unfused ops agree with the exact sum within the
 * bound; on integers both equal it (every sum exact below 2^24). */
static void test_reference_against_unfused(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 41);
    for (int trial = 0; trial < 60; trial++) {
        const int values = trial % 2 ? VALUES_INTEGER : VALUES_UNIFORM;
        case_data d;
        case_make(&rng, &d, values, trial % 4 >= 2, 0);
        const int with_mask = trial % 3 != 0;
        const int weights = (int)d.weight_floats,
                  outputs = weights + d.shape.out_channels;
        float *fused = malloc(sizeof(float) * outputs),
              *unfused = malloc(sizeof(float) * outputs);
        double *exact = malloc(sizeof(double) * outputs),
               *magnitude = malloc(sizeof(double) * outputs);
        assert_true(fused && unfused && exact && magnitude);
        size_t terms, unfused_terms;
        run_op(conv3x3_pool_backward_weights_scalar, &d, with_mask, fused,
               fused + weights);
        run_unfused(&d, with_mask, unfused, unfused + weights, exact, magnitude,
                    &terms, &unfused_terms);
        const double gamma = gamma_of((double)terms);
        for (int w = 0; w < outputs; w++) {
            const double tolerance =
                values == VALUES_INTEGER ? 0.0 : gamma * magnitude[w];
            const char *what = w < weights ? "weight_grad" : "bias_grad";
            check_close("reference", what, (size_t)w, fused[w], (float)exact[w],
                        tolerance);
            check_close("unfused", what, (size_t)w, unfused[w], (float)exact[w],
                        values == VALUES_INTEGER
                            ? 0.0
                            : gamma_of((double)unfused_terms) * magnitude[w]);
        }
        free(fused);
        free(unfused);
        free(exact);
        free(magnitude);
        case_free(&d);
    }
}

/* Every variant's op equals the reference bit for bit. A variant without
 * one (NULL: the network keeps the unfused ops; NEON) is skipped; AVX2 and
 * AVX-512 have one wherever the CPU runs them, and the plain-C table is
 * the reference. */
static void test_variants_equal_reference(void **state)
{
    (void)state;
    const kernel_table *scalar = kernels_by_name("scalar"),
                       *avx2 = kernels_by_name("avx2"),
                       *avx512 = kernels_by_name("avx512");
    assert_non_null(scalar);
    assert_ptr_equal(scalar->conv3x3_pool_backward_weights,
                     conv3x3_pool_backward_weights_scalar);
    if (avx2)
        assert_non_null(avx2->conv3x3_pool_backward_weights);
    if (avx512)
        assert_non_null(avx512->conv3x3_pool_backward_weights);
    for (int v = 0; kernel_variant_names[v]; v++) {
        const kernel_table *table = kernels_by_name(kernel_variant_names[v]);
        if (!table || !table->conv3x3_pool_backward_weights ||
            table->conv3x3_pool_backward_weights ==
                conv3x3_pool_backward_weights_scalar)
            continue;
        random_generator rng;
        random_seed(&rng, 42);
        for (int trial = 0; trial < 200; trial++) {
            case_data d;
            case_make(&rng, &d,
                      trial % 4 == 3 ? VALUES_INTEGER : VALUES_UNIFORM,
                      trial % 5 >= 2, 0);
            const int with_mask = trial % 3 != 0;
            const size_t outputs = d.weight_floats + d.shape.out_channels;
            float *got = malloc(sizeof(float) * outputs);
            assert_non_null(got);
            run_op(table->conv3x3_pool_backward_weights, &d, with_mask, got,
                   got + d.weight_floats);
            expect_reference(table->name, "", &d, with_mask, got);
            free(got);
            case_free(&d);
        }
    }
}

/* The window-bits op (conv3x3_pool_backward_weights_bits, AVX-512) on the
 * positions of random cases packed as window bits (output channels a
 * multiple of 16; the words end at a guard page): the reference's bits,
 * given the same positions as argmax. The packing is checked on the way
 * by window_position, which the forward's test uses to read them. */
static void test_window_bits(void **state)
{
    (void)state;
    int ran = 0;
    for (int v = 0; kernel_variant_names[v]; v++) {
        const kernel_table *table = kernels_by_name(kernel_variant_names[v]);
        if (!table || !table->conv3x3_pool_backward_weights_bits)
            continue;
        random_generator rng;
        random_seed(&rng, 43);
        for (int trial = 0; trial < 120; trial++) {
            case_data d;
            case_make(&rng, &d,
                      trial % 4 == 3 ? VALUES_INTEGER : VALUES_UNIFORM,
                      trial % 5 >= 2, 1);
            const size_t pooled_plane =
                (size_t)(conv_out_height(&d.shape) / 2) *
                (size_t)(conv_out_width(&d.shape) / 2);
            const size_t words = d.pooled_floats / 16;
            guarded gb;
            uint32_t *bits = guarded_alloc(&gb, sizeof(uint32_t) * words);
            memset(bits, 0, sizeof(uint32_t) * words);
            for (size_t k = 0; k < d.pooled_floats; k++) {
                const size_t plane = k / pooled_plane, at = k % pooled_plane;
                const int channel = (int)(plane % 16);
                uint32_t *word = &bits[plane / 16 * pooled_plane + at];
                *word |= (uint32_t)(d.argmax[k] & 1) << channel |
                         (uint32_t)(d.argmax[k] >> 1) << (16 + channel);
                assert_int_equal(window_position(*word, channel), d.argmax[k]);
            }
            const int with_mask = trial % 3 != 0;
            const size_t outputs = d.weight_floats + d.shape.out_channels;
            float *got = malloc(sizeof(float) * outputs);
            assert_non_null(got);
            fill_value(got, outputs, NAN);
            table->conv3x3_pool_backward_weights_bits(
                &d.shape, d.count, d.input, with_mask ? d.pooled : NULL,
                d.pooled_grad, bits, got, got + d.weight_floats);
            expect_reference(table->name, " (window bits)", &d, with_mask, got);
            ran++;
            free(got);
            guarded_free(&gb);
            case_free(&d);
        }
    }
    const kernel_table *avx512 = kernels_by_name("avx512");
    if (avx512 && ran < 5)
        fail_msg("avx512: only %d window-bits cases", ran);
}

/* A window whose 4 x 4 input patch holds only zeros adds nothing to the
 * weight gradient, even with an infinite gradient (its terms would be
 * inf x 0 = NaN), and still its gradient to the bias: in every variant.
 * One input channel of 6 rows (pad 0, 2 pooled rows), 6 or 70 columns
 * (the x86 variants find zero patches by a row's column bits up to 64
 * padded columns, patch by patch past that), one output channel; only
 * pooled value (0, 0)'s patch has a nonzero pixel, every other pooled
 * gradient is infinite. */
static void test_zero_patches_skipped(void **state)
{
    (void)state;
    for (int width = 6; width <= 70; width += 64) {
        const conv_shape shape = {1, 1, 6, width, 0};
        const int pooled = 2 * ((width - 2) / 2);
        float *input = calloc((size_t)6 * width, sizeof(float));
        float *values = malloc(sizeof(float) * (size_t)pooled);
        float *gradient = malloc(sizeof(float) * (size_t)pooled);
        uint8_t *argmax = malloc((size_t)pooled);
        assert_true(input && values && gradient && argmax);
        input[1 * width + 1] = 3.0f; /* row 1, column 1: window (0, 0) only */
        input[4 * width + 4] = -0.0f;
        for (int k = 0; k < pooled; k++) {
            values[k] = 1.0f;
            gradient[k] = k == 0 ? 2.0f : INFINITY;
            argmax[k] = (uint8_t)(k == 0 ? 1 : k % 4);
        }
        for (int v = 0; kernel_variant_names[v]; v++) {
            const kernel_table *table =
                kernels_by_name(kernel_variant_names[v]);
            if (!table || !table->conv3x3_pool_backward_weights)
                continue;
            float weights[9], bias;
            table->conv3x3_pool_backward_weights(
                &shape, 1, input, values, gradient, argmax, weights, &bias);
            /* Window (0, 0) at argmax 1 reads rows 0-2, columns 1-3: the 3
             * at tap (1, 0). */
            for (int k = 0; k < 9; k++)
                check_equal(table->name, "weight_grad", (size_t)k, weights[k],
                            k == 3 ? 6.0f : 0.0f);
            check_equal(table->name, "bias_grad", 0, bias, INFINITY);
        }
        free(input);
        free(values);
        free(gradient);
        free(argmax);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_against_unfused),
        cmocka_unit_test(test_variants_equal_reference),
        cmocka_unit_test(test_window_bits),
        cmocka_unit_test(test_zero_patches_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
