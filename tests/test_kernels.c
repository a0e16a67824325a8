/* Every kernel variant this CPU runs, held to the scalar reference.
 *
 * Tolerance. A float32 sum of K products, in ANY order and with or without
 * fused multiply-adds, is within gamma_K * sum|terms| of the exact value,
 * gamma_K = K u / (1 - K u), u = 2^-24 (Higham, Accuracy and Stability of
 * Numerical Algorithms, 2nd ed., eq. 3.5). Reference and variant each obey
 * that bound, so they may differ by 2 gamma_K sum|terms|, with sum|terms|
 * computed here in double; ReLU is 1-Lipschitz and keeps the bound. The
 * bound is a worst case and grows with K, so on its own it could hide a
 * single missing term in a long sum: every convolution is therefore also
 * run on small integers, where every partial sum is exact in float32 and
 * the variant must equal the reference bit for bit. Where the driver runs
 * a shape's forward pass or input gradient by Winograd F(2x2, 3x3), the
 * bound is winograd_bound.h's instead (test_winograd.c tests those stages
 * on their own); the integers still must match exactly. Max-pool involves no
 * arithmetic and must match exactly, argmax included. The cosine bounds
 * below follow the same first-order analysis (see cosine_tolerance).
 *
 * Buffers the kernels read or write end exactly at an inaccessible page, so
 * any read or write past their end faults even where a sanitizer cannot
 * see it (masked vector loads). */
/* MAP_ANONYMOUS is not in POSIX 2008; glibc shows it under _DEFAULT_SOURCE. */
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
#include <sys/mman.h>
#include <unistd.h>

#include "common/memory.h"
#include "common/rng.h"
#include "kernels/conv_driver.h"
#include "kernels/kernels.h"
#include "kernel_test_support.h"
#include "network/architecture.h"
#include "winograd_bound.h"
#include "winograd4_bound.h"

/* ---- data -------------------------------------------------------------- */

static void fill_uniform(random_generator *rng, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(2.0 * random_uniform(rng) - 1.0);
}

/* The variants to test: every one this build knows and this CPU runs. */
static int variant_count(const kernel_table **tables)
{
    int n = 0;
    for (int i = 0; kernel_variant_names[i]; i++) {
        const kernel_table *t = kernels_by_name(kernel_variant_names[i]);
        if (t)
            tables[n++] = t;
    }
    return n;
}

#define FOR_EACH_VARIANT(table)                                                \
    const kernel_table *variant_tables[8];                                     \
    const int variant_total = variant_count(variant_tables);                   \
    for (int variant_index = 0; variant_index < variant_total &&               \
                                ((table) = variant_tables[variant_index], 1);  \
         variant_index++)

/* ---- convolution shapes ------------------------------------------------ */

typedef struct conv_case {
    conv_shape shape;
    size_t count;
} conv_case;

/* Layer `layer` of the seed network, from the description the network
 * itself runs (docs/math.md), so the kernels are held to the real shapes. */
static conv_shape seed_shape(int layer)
{
    architecture_description seed;
    if (architecture_find(COSNET_ARCHITECTURE_SEED, &seed) != COSNET_OK)
        abort();
    for (int l = 0; l < seed.layer_count; l++)
        if (seed.layers[l].kind == LAYER_CONV3X3 && layer-- == 0)
            return seed.layers[l].shape;
    abort();
}

/* Channels 1..20, sizes 1..33 (at least one output pixel), pad 0..2,
 * count 1..5. */
static conv_case random_conv_case(random_generator *rng)
{
    conv_case c;
    c.shape.in_channels = random_int(rng, 1, 20);
    c.shape.out_channels = random_int(rng, 1, 20);
    c.shape.pad = random_int(rng, 0, 2);
    const int smallest = c.shape.pad >= 1 ? 1 : 3;
    c.shape.in_height = random_int(rng, smallest, 33);
    c.shape.in_width = random_int(rng, smallest, 33);
    c.count = (size_t)random_int(rng, 1, 5);
    return c;
}

typedef struct conv_sizes {
    int hp, wp, ho, wo, cin, cout;
    size_t input, output, weights;
} conv_sizes;

static conv_sizes sizes_of(const conv_case *c)
{
    conv_sizes z;
    z.hp = conv_padded_height(&c->shape);
    z.wp = conv_padded_width(&c->shape);
    z.ho = conv_out_height(&c->shape);
    z.wo = conv_out_width(&c->shape);
    z.cin = c->shape.in_channels;
    z.cout = c->shape.out_channels;
    z.input = c->count * z.cin * z.hp * z.wp;
    z.output = c->count * z.cout * z.ho * z.wo;
    z.weights = (size_t)z.cout * z.cin * 9;
    return z;
}

/* ---- convolution forward ----------------------------------------------- */

/* Bands of rows zero (+0 or -0) at the top and bottom of each image,
 * across every channel, and image 0 all zero, as the empty rows of a digit,
 * and zero margins left and right of each row, as its empty columns: each
 * image draws a margin on either side, each row widens it by 0 .. 3 columns
 * and some rows keep nothing (the forward passes with ReLU skip what reads
 * only zeros). With infinite, one weight +-inf, where zero inputs give
 * NaN, not the bias, so nothing may be skipped. */
static void zero_row_bands(random_generator *rng, const conv_case *c,
                           float *input, float *weights, int infinite)
{
    const int cin = c->shape.in_channels, hp = conv_padded_height(&c->shape);
    const int wp = conv_padded_width(&c->shape);
    for (size_t i = 0; i < c->count; i++) {
        const int top = i == 0 ? hp : random_int(rng, 0, hp);
        const int bottom = random_int(rng, 0, hp);
        const int left = random_int(rng, 0, wp), right = random_int(rng, 0, wp);
        for (int y = 0; y < hp; y++) {
            const int band = y < top || y >= hp - bottom;
            const int row_left = left + random_int(rng, 0, 3),
                      row_right = right + random_int(rng, 0, 3);
            for (int ch = 0; ch < cin; ch++)
                for (int x = 0; x < wp; x++)
                    if (band || x < row_left || x >= wp - row_right)
                        input[((i * cin + ch) * hp + y) * (size_t)wp + x] =
                            random_below(rng, 2) ? -0.0f : 0.0f;
        }
    }
    if (infinite)
        weights[random_below(rng, (uint64_t)c->shape.out_channels * cin * 9)] =
            random_below(rng, 2) ? INFINITY : -INFINITY;
}

/* zero_rows (with ReLU): 0 none; 1 zero_row_bands; 2 with an infinite
 * weight too (integer values only: then the comparison is exact). */
static void check_conv_forward(const kernel_table *table, const conv_case *c,
                               int relu, int kind, int zero_rows,
                               random_generator *rng)
{
    const conv_sizes z = sizes_of(c);
    guarded gi, gw, gb, go;
    float *input = guarded_floats(&gi, z.input);
    float *weights = guarded_floats(&gw, z.weights);
    float *bias = guarded_floats(&gb, (size_t)z.cout);
    float *output = guarded_floats(&go, z.output);
    float *reference = malloc(sizeof(float) * z.output);
    assert_non_null(reference);
    /* The pad is filled too: the contract is a sum over input_padded, and
     * a kernel must not assume what the pad holds. */
    fill_values(rng, input, z.input, kind);
    fill_values(rng, weights, z.weights, kind);
    fill_values(rng, bias, (size_t)z.cout, kind);
    if (zero_rows)
        zero_row_bands(rng, c, input, weights, zero_rows == 2);
    fill_value(output, z.output, SENTINEL);

    conv3x3_forward_unpacked(NULL, &c->shape, c->count, input, weights, bias,
                             relu, reference);
    conv3x3_forward_unpacked(table->conv3x3, &c->shape, c->count, input,
                             weights, bias, relu, output);

    const double terms = z.cin * 9.0 + 1.0;
    const int winograd = conv3x3_forward_uses_winograd(table, &c->shape);
    /* F(4x4)'s U = G g G^T has denominators up to 576, so integers are not
     * exact there: its bound instead (test_winograd4.c checks exactness). */
    int winograd4 = conv3x3_forward_uses_winograd4(table, &c->shape);
    /* An infinite weight overflows U: the driver runs the direct sum. */
    for (size_t k = 0; k < z.weights; k++)
        winograd4 &= isfinite(weights[k]) != 0;
    size_t index = 0;
    for (size_t i = 0; i < c->count; i++)
        for (int co = 0; co < z.cout; co++)
            for (int oh = 0; oh < z.ho; oh++)
                for (int ow = 0; ow < z.wo; ow++, index++) {
                    if (kind == VALUES_INTEGER && !winograd4) {
                        check_equal(table->name, "conv forward", index,
                                    output[index], reference[index]);
                        continue;
                    }
                    double magnitude = fabs(bias[co]);
                    for (int ci = 0; ci < z.cin; ci++)
                        for (int kh = 0; kh < 3; kh++)
                            for (int kw = 0; kw < 3; kw++)
                                magnitude += fabs(
                                    (double)
                                        weights[((co * z.cin + ci) * 3 + kh) *
                                                    3 +
                                                kw] *
                                    input[((i * z.cin + ci) * z.hp + oh + kh) *
                                              z.wp +
                                          ow + kw]);
                    double tolerance = 2.0 * gamma_of(terms) * magnitude;
                    if (winograd)
                        tolerance =
                            gamma_of(z.cin + 8.0) *
                                winograd_magnitude(&c->shape, input, weights,
                                                   bias, i, co, oh, ow) +
                            gamma_of(terms) * magnitude;
                    if (winograd4)
                        tolerance =
                            gamma_of(WINOGRAD4_ROUNDINGS(z.cin)) *
                                winograd4_magnitude(&c->shape, input, weights,
                                                    bias, i, co, oh, ow) +
                            gamma_of(terms) * magnitude;
                    check_close(table->name, "conv forward", index,
                                output[index], reference[index], tolerance);
                    if (relu)
                        assert_true(output[index] >= 0.0f);
                }
    free(reference);
    guarded_free(&gi);
    guarded_free(&gw);
    guarded_free(&gb);
    guarded_free(&go);
}

static void test_conv_forward_seed_shapes(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 101);
    const kernel_table *table;
    FOR_EACH_VARIANT(table)
    {
        for (int layer = 0; layer < 3; layer++)
            for (int kind = VALUES_UNIFORM; kind <= VALUES_INTEGER; kind++) {
                const size_t counts[] = {1, 3, 20};
                for (int k = 0; k < 3; k++) {
                    conv_case c = {seed_shape(layer), counts[k]};
                    check_conv_forward(table, &c, k != 1, kind, 0, &rng);
                }
                /* Rows that read only zeros, with ReLU. */
                conv_case c = {seed_shape(layer), 20};
                check_conv_forward(table, &c, 1, kind, 1, &rng);
                if (kind == VALUES_INTEGER)
                    check_conv_forward(table, &c, 1, kind, 2, &rng);
            }
    }
}

static void test_conv_forward_random_shapes(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 102);
    const kernel_table *table;
    FOR_EACH_VARIANT(table)
    {
        for (int trial = 0; trial < 80; trial++) {
            conv_case c = random_conv_case(&rng);
            const int kind = trial % 3 == 0;
            check_conv_forward(table, &c, trial % 2, kind, 0, &rng);
            /* Rows that read only zeros, with ReLU. */
            check_conv_forward(table, &c, 1, kind,
                               kind == VALUES_INTEGER ? 1 + trial % 2 : 1,
                               &rng);
        }
    }
}

/* ---- convolution, ReLU and max-pool in one ----------------------------- */

/* The inputs of a fused-forward check and the reference it is held to:
 * input, weights and bias drawn (zero_rows as below), the weights packed,
 * and, by fused_pool_reference, the variant's convolution with ReLU then
 * its max-pool into pooled and argmax (dense planes). */
typedef struct fused_pool_case {
    float *input, *weights, *bias, *packed, *conv, *pooled;
    uint8_t *argmax;
} fused_pool_case;

static void fused_pool_make(const kernel_table *table, const conv_case *c,
                            random_generator *rng, int zero_rows,
                            fused_pool_case *p)
{
    const conv_sizes z = sizes_of(c);
    const size_t pooled_count =
        c->count * (size_t)z.cout * (z.ho / 2) * (z.wo / 2);
    p->input = malloc(sizeof(float) * z.input);
    p->weights = malloc(sizeof(float) * z.weights);
    p->bias = malloc(sizeof(float) * (size_t)z.cout);
    p->packed =
        malloc(sizeof(float) * conv3x3_packed_forward_floats(table, &c->shape));
    p->conv = malloc(sizeof(float) * z.output);
    p->pooled = malloc(sizeof(float) * (pooled_count + 1));
    p->argmax = malloc(pooled_count + 1);
    assert_true(p->input && p->weights && p->bias && p->packed && p->conv &&
                p->pooled && p->argmax);
    fill_uniform(rng, p->input, z.input);
    fill_uniform(rng, p->weights, z.weights);
    fill_uniform(rng, p->bias, (size_t)z.cout);
    if (zero_rows)
        zero_row_bands(rng, c, p->input, p->weights, zero_rows == 2);
    conv3x3_pack_forward(table, &c->shape, p->weights, p->packed);
}

static void fused_pool_reference(const kernel_table *table, const conv_case *c,
                                 fused_pool_case *p)
{
    const conv_sizes z = sizes_of(c);
    const int ph = z.ho / 2, pw = z.wo / 2;
    conv3x3_forward_packed(table, &c->shape, c->count, p->input, p->packed,
                           p->bias, 1, p->conv);
    table->maxpool2x2_forward(c->count * (size_t)z.cout, z.ho, z.wo, p->conv,
                              p->pooled, (size_t)ph * pw, (size_t)pw,
                              p->argmax);
}

static void fused_pool_free(fused_pool_case *p)
{
    free(p->input);
    free(p->weights);
    free(p->bias);
    free(p->packed);
    free(p->conv);
    free(p->pooled);
    free(p->argmax);
}

/* The fused forward of a variant against the same variant's convolution
 * followed by the max-pool, bit for bit (the fused strips take every tap in
 * the plain strips' order): every pooled value, written into a buffer laid
 * out like the next layer's padded input (one zero row and column before
 * the interior, two after), and nothing else of that buffer, which ends at
 * a guard page. Returns whether the table fuses the shape (nothing is
 * checked if not).
 *
 * Inputs: zero_rows 0 fills every value; 1 makes bands of rows zero (+0 or
 * -0) at the top and bottom of each image, across every channel, and one
 * image all zero, as the empty rows of a digit (the kernels skip those);
 * 2 does the same with one weight infinite, where zero inputs give NaN,
 * not the bias, so nothing may be skipped. */
static int check_conv_relu_pool(const kernel_table *table, const conv_case *c,
                                random_generator *rng, int zero_rows)
{
    const conv_sizes z = sizes_of(c);
    const int ph = z.ho / 2, pw = z.wo / 2;
    const size_t row = (size_t)pw + 3, plane = (size_t)(ph + 3) * row;
    const size_t planes = c->count * (size_t)z.cout;
    fused_pool_case p;
    fused_pool_make(table, c, rng, zero_rows, &p);
    guarded go;
    float *output = guarded_floats(&go, planes * plane);
    fill_value(output, planes * plane, SENTINEL);
    const int fused = conv3x3_fuses_pool(table, &c->shape, p.packed);
    if (fused) {
        fused_pool_reference(table, c, &p);
        conv3x3_forward_relu_pool_packed(table, &c->shape, c->count, p.input,
                                         p.packed, p.bias, NULL,
                                         output + row + 1, plane, row);
        size_t stray = check_pooled_interior(table->name, "conv relu pool",
                                             output, p.pooled, planes, ph, pw);
        /* Again with the column spans made beforehand (as the evaluation
         * makes them once for ten models): the same values. */
        const size_t span_bytes = conv3x3_pool_span_bytes(table, &c->shape);
        if (stray == SIZE_MAX && span_bytes > 0) {
            uint8_t *spans = malloc(c->count * span_bytes);
            assert_non_null(spans);
            conv3x3_pool_spans(table, &c->shape, c->count, p.input, spans);
            fill_value(output, planes * plane, SENTINEL);
            conv3x3_forward_relu_pool_packed(table, &c->shape, c->count,
                                             p.input, p.packed, p.bias, spans,
                                             output + row + 1, plane, row);
            stray = check_pooled_interior(table->name,
                                          "conv relu pool, spans given", output,
                                          p.pooled, planes, ph, pw);
            free(spans);
        }
        if (stray != SIZE_MAX)
            fail_msg("%s conv relu pool: %dx%d -> %d channels, pad %d: "
                     "plane %zu, padded position %zu written",
                     table->name, c->shape.in_height, c->shape.in_width, z.cout,
                     c->shape.pad, stray / plane, stray % plane);
    }
    guarded_free(&go);
    fused_pool_free(&p);
    return fused;
}

/* The training forward of a pooled ReLU convolution against the same
 * variant's convolution then max-pool: the pooled values and the argmax bit
 * for bit, each array exactly filled (guard pages after both), and the
 * copy into a padded layout equal to the pooled values with nothing of
 * its margins written. Returns whether the table fuses the shape. */
static int check_conv_relu_pool_argmax(const kernel_table *table,
                                       const conv_case *c,
                                       random_generator *rng, int zero_rows,
                                       int *kept)
{
    const conv_sizes z = sizes_of(c);
    const size_t pooled_count =
        c->count * (size_t)z.cout * (z.ho / 2) * (z.wo / 2);
    fused_pool_case p;
    fused_pool_make(table, c, rng, zero_rows, &p);
    guarded go, ga, gc;
    float *output = guarded_floats(&go, pooled_count);
    uint8_t *fused_argmax = guarded_alloc(&ga, pooled_count);
    /* The copy: every pooled plane inside a margin of one row above,
     * one below, one column left and two right (as a next padded input). */
    const int pooled_rows = z.ho / 2, pooled_columns = z.wo / 2;
    const size_t copy_row = (size_t)pooled_columns + 3,
                 copy_plane = (size_t)(pooled_rows + 2) * copy_row;
    const size_t planes = c->count * (size_t)z.cout;
    float *copy = guarded_floats(&gc, planes * copy_plane + 1);
    const int fused = conv3x3_fuses_pool_argmax(table, &c->shape, p.packed);
    if (fused) {
        fill_value(output, pooled_count, SENTINEL);
        fill_value(copy, planes * copy_plane + 1, SENTINEL);
        memset(fused_argmax, 0xAA, pooled_count);
        fused_pool_reference(table, c, &p);
        /* Where the shape keeps its F(4x4) input transform for the
         * weight gradient, the fused pass keeps the same. */
        const size_t kept_floats =
            c->count * conv3x3_kept_input_floats(table, &c->shape);
        guarded gk;
        float *kept_input =
            kept_floats ? guarded_floats(&gk, kept_floats) : NULL;
        if (kept_input)
            fill_value(kept_input, kept_floats, SENTINEL);
        const int fused_kept = conv3x3_forward_relu_pool_argmax_packed(
            table, &c->shape, c->count, p.input, p.packed, p.bias, output,
            fused_argmax, NULL, copy + copy_row + 1, copy_plane, copy_row,
            kept_input);
        if (kept)
            *kept = fused_kept;
        if (fused_kept != (kept_input != NULL) &&
            conv3x3_forward_uses_winograd4(table, &c->shape))
            fail_msg("%s conv relu pool argmax: F(4x4) input %s kept",
                     table->name, fused_kept ? "wrongly" : "not");
        if (kept_input) {
            /* Aligned as the kept transform must be (whole vectors). */
            float *want =
                memory_allocate_aligned(64, sizeof(float) * kept_floats);
            float *conv = malloc(sizeof(float) * sizes_of(c).output);
            assert_true(want && conv);
            fill_value(want, kept_floats, SENTINEL);
            const int want_kept = conv3x3_forward_packed_keeping(
                table, &c->shape, c->count, p.input, p.packed, p.bias, 1, conv,
                want);
            assert_int_equal(fused_kept, want_kept);
            if (fused_kept &&
                memcmp(want, kept_input, sizeof(float) * kept_floats) != 0)
                fail_msg("%s conv relu pool argmax: kept input differs",
                         table->name);
            memory_free(want);
            free(conv);
            guarded_free(&gk);
        }
        for (size_t k = 0; k < planes * copy_plane + 1; k++) {
            const size_t plane = k / copy_plane, at = k % copy_plane;
            const int r = (int)(at / copy_row) - 1,
                      x = (int)(at % copy_row) - 1;
            const int inside = plane < planes && r >= 0 && r < pooled_rows &&
                               x >= 0 && x < pooled_columns;
            const float want =
                inside ? output[(plane * pooled_rows + r) * pooled_columns + x]
                       : SENTINEL;
            if (memcmp(&copy[k], &want, sizeof(float)) != 0)
                fail_msg("%s conv relu pool argmax: the copy's float %zu is "
                         "%a, not %a",
                         table->name, k, copy[k], want);
        }
        for (size_t k = 0; k < pooled_count; k++)
            if (memcmp(&output[k], &p.pooled[k], sizeof(float)) != 0 ||
                fused_argmax[k] != p.argmax[k])
                fail_msg("%s conv relu pool argmax: %dx%d -> %d channels, pad "
                         "%d: pooled value %zu is %a (position %d), the "
                         "max-pool's %a (%d)",
                         table->name, c->shape.in_height, c->shape.in_width,
                         z.cout, c->shape.pad, k, output[k], fused_argmax[k],
                         p.pooled[k], p.argmax[k]);
        /* The same positions as window bits, where the table writes them
         * (every word of the guarded array; values and copy again). */
        if (conv3x3_fuses_pool_window_bits(table, &c->shape, p.packed)) {
            const size_t pooled_plane =
                (size_t)pooled_rows * (size_t)pooled_columns;
            const size_t words = pooled_count / 16;
            guarded gb;
            uint32_t *bits = guarded_alloc(&gb, sizeof(uint32_t) * words);
            memset(bits, 0xAA, sizeof(uint32_t) * words);
            fill_value(output, pooled_count, SENTINEL);
            conv3x3_forward_relu_pool_argmax_packed(
                table, &c->shape, c->count, p.input, p.packed, p.bias, output,
                fused_argmax, bits, copy + copy_row + 1, copy_plane, copy_row,
                NULL);
            for (size_t k = 0; k < pooled_count; k++) {
                const size_t plane = k / pooled_plane, at = k % pooled_plane;
                const int channel = (int)(plane % 16);
                const int position = window_position(
                    bits[plane / 16 * pooled_plane + at], channel);
                if (position != p.argmax[k] ||
                    memcmp(&output[k], &p.pooled[k], sizeof(float)) != 0)
                    fail_msg("%s conv relu pool window bits: pooled value %zu "
                             "is %a at %d, the max-pool's %a at %d",
                             table->name, k, output[k], position, p.pooled[k],
                             p.argmax[k]);
            }
            guarded_free(&gb);
        }
    }
    guarded_free(&go);
    guarded_free(&ga);
    guarded_free(&gc);
    fused_pool_free(&p);
    return fused;
}

/* Every network's conv1, random one-input shapes, the seed's conv2 and
 * random shapes of any channels (F(4x4) on AVX-512); AVX-512 must fuse the
 * seed's conv1 with finite weights (and nothing with an infinite one) and
 * its conv2, keeping conv2's input transform. */
static void test_conv_relu_pool_argmax(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 108);
    const kernel_table *table;
    FOR_EACH_VARIANT(table)
    {
        int fused = 0;
        conv_case seed = {seed_shape(0), 20};
        for (int zero_rows = 0; zero_rows <= 1; zero_rows++)
            fused += check_conv_relu_pool_argmax(table, &seed, &rng, zero_rows,
                                                 NULL);
        if (check_conv_relu_pool_argmax(table, &seed, &rng, 2, NULL))
            fail_msg("%s: fused with an infinite weight", table->name);
        for (int trial = 0; trial < 60; trial++) {
            conv_case c = random_conv_case(&rng);
            c.shape.in_channels = 1;
            c.shape.out_channels = 16 * random_int(&rng, 1, 2);
            check_conv_relu_pool_argmax(table, &c, &rng, trial % 2, NULL);
        }
        if (strcmp(table->name, "avx512") == 0 && fused != 2)
            fail_msg("avx512: the seed's conv1 not fused with its argmax");
        int conv2_kept = 0, winograd = 0;
        conv_case conv2 = {seed_shape(1), 20};
        for (int zero_rows = 0; zero_rows <= 1; zero_rows++) {
            int kept = 0;
            if (check_conv_relu_pool_argmax(table, &conv2, &rng, zero_rows,
                                            &kept))
                conv2_kept += kept;
        }
        for (int trial = 0; trial < 60; trial++) {
            conv_case c = random_conv_case(&rng);
            winograd +=
                check_conv_relu_pool_argmax(table, &c, &rng, trial % 2, NULL) &&
                conv3x3_forward_uses_winograd4(table, &c.shape);
        }
        if (strcmp(table->name, "avx512") == 0 &&
            (conv2_kept != 2 || winograd == 0))
            fail_msg("avx512: the seed's conv2 fused and kept %d times of 2, "
                     "%d random F(4x4) shapes fused",
                     conv2_kept, winograd);
    }
}

static void test_conv_relu_pool(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 107);
    architecture_description classifiers[2];
    assert_int_equal(
        architecture_find(COSNET_ARCHITECTURE_CLASSIFIER, &classifiers[0]),
        COSNET_OK);
    assert_int_equal(
        architecture_find(COSNET_ARCHITECTURE_DEEP_CLASSIFIER, &classifiers[1]),
        COSNET_OK);
    const kernel_table *table;
    FOR_EACH_VARIANT(table)
    {
        /* The convolutions of the networks, then random shapes; those
         * the table does not fuse (AVX2's direct shapes) are skipped. */
        int fused = 0, winograd = 0, seed_conv2 = 0;
        for (int layer = 0; layer < 2; layer++) {
            conv_case c = {seed_shape(layer), 20};
            for (int zero_rows = 1; zero_rows <= 2; zero_rows++)
                check_conv_relu_pool(table, &c, &rng, zero_rows);
            const int pooled = check_conv_relu_pool(table, &c, &rng, 0);
            fused += pooled;
            seed_conv2 = layer == 1 && pooled &&
                         conv3x3_forward_uses_winograd(table, &c.shape);
        }
        for (int n = 0; n < 2; n++)
            for (int l = 0; l < classifiers[n].layer_count; l++)
                if (classifiers[n].layers[l].kind == LAYER_CONV3X3) {
                    conv_case c = {classifiers[n].layers[l].shape, 3};
                    fused += check_conv_relu_pool(table, &c, &rng, 0);
                }
        for (int trial = 0; trial < 120; trial++) {
            conv_case c = random_conv_case(&rng);
            const int pooled = check_conv_relu_pool(table, &c, &rng, trial % 3);
            fused += pooled;
            winograd +=
                pooled && conv3x3_forward_uses_winograd(table, &c.shape);
        }
        /* One input channel and 16 or 32 output channels, as every
         * network's conv1 (AVX-512 puts the channels in the lanes). */
        for (int trial = 0; trial < 60; trial++) {
            conv_case c = random_conv_case(&rng);
            c.shape.in_channels = 1;
            c.shape.out_channels = 16 * random_int(&rng, 1, 2);
            static const int zeros[4] = {1, 1, 0, 2};
            fused += check_conv_relu_pool(table, &c, &rng, zeros[trial % 4]);
        }
        /* Every table but AVX2's fuses conv1 and most random shapes; every
         * table with Winograd fuses its shapes, the seed's conv2 too. */
        if (strcmp(table->name, "avx2") != 0 && fused < 60)
            fail_msg("%s: only %d shapes fused", table->name, fused);
        if (table->conv3x3 && table->conv3x3->winograd) {
            if (winograd == 0)
                fail_msg("%s: no random Winograd shape fused", table->name);
            if (!seed_conv2)
                fail_msg("%s: the seed's conv2 not fused by Winograd",
                         table->name);
        }
    }
}

/* ---- convolution input gradient --------------------------------------- */

static void check_conv_backward_input(const kernel_table *table,
                                      const conv_case *c, int kind,
                                      random_generator *rng)
{
    const conv_sizes z = sizes_of(c);
    const int h = c->shape.in_height, w = c->shape.in_width, pad = c->shape.pad;
    const size_t dx_count = c->count * z.cin * h * w;
    guarded gw, gdy, gdx;
    float *weights = guarded_floats(&gw, z.weights);
    float *dy = guarded_floats(&gdy, z.output);
    float *dx = guarded_floats(&gdx, dx_count);
    float *reference = malloc(sizeof(float) * dx_count);
    assert_non_null(reference);
    fill_values(rng, weights, z.weights, kind);
    fill_values(rng, dy, z.output, kind);
    fill_value(dx, dx_count, SENTINEL);

    conv3x3_backward_input_unpacked(NULL, &c->shape, c->count, weights, dy,
                                    reference);
    conv3x3_backward_input_unpacked(table->conv3x3, &c->shape, c->count,
                                    weights, dy, dx);

    const double terms = z.cout * 9.0;
    /* Winograd's input gradient is the forward pass of dy padded by
     * 2 - pad with the rotated, channel-swapped kernel: its bound is taken
     * on that convolution. */
    const int winograd = conv3x3_backward_input_uses_winograd(table, &c->shape);
    const int winograd4 =
        conv3x3_backward_input_uses_winograd4(table, &c->shape);
    const conv_shape gradient = {z.cout, z.cin, z.ho, z.wo, 2 - pad};
    const int gradient_height = conv_padded_height(&gradient),
              gradient_width = conv_padded_width(&gradient);
    float *padded_dy = calloc(
        c->count * z.cout * gradient_height * gradient_width, sizeof(float));
    float *rotated = malloc(sizeof(float) * z.weights);
    assert_true(padded_dy && rotated);
    for (size_t i = 0; i < c->count * z.cout; i++)
        for (int oh = 0; oh < z.ho; oh++)
            for (int ow = 0; ow < z.wo; ow++)
                padded_dy[(i * gradient_height + oh + 2 - pad) *
                              gradient_width +
                          ow + 2 - pad] = dy[(i * z.ho + oh) * z.wo + ow];
    for (int ci = 0; ci < z.cin; ci++)
        for (int co = 0; co < z.cout; co++)
            for (int k = 0; k < 9; k++)
                rotated[(ci * z.cout + co) * 9 + k] =
                    weights[(co * z.cin + ci) * 9 + 8 - k];
    size_t index = 0;
    for (size_t i = 0; i < c->count; i++)
        for (int ci = 0; ci < z.cin; ci++)
            for (int ih = 0; ih < h; ih++)
                for (int iw = 0; iw < w; iw++, index++) {
                    if (kind == VALUES_INTEGER && !winograd4) {
                        check_equal(table->name, "conv input gradient", index,
                                    dx[index], reference[index]);
                        continue;
                    }
                    double magnitude = 0.0;
                    for (int co = 0; co < z.cout; co++)
                        for (int kh = 0; kh < 3; kh++)
                            for (int kw = 0; kw < 3; kw++) {
                                const int oh = ih + pad - kh,
                                          ow = iw + pad - kw;
                                if (oh < 0 || oh >= z.ho || ow < 0 ||
                                    ow >= z.wo)
                                    continue;
                                magnitude += fabs(
                                    (double)
                                        weights[((co * z.cin + ci) * 3 + kh) *
                                                    3 +
                                                kw] *
                                    dy[((i * z.cout + co) * z.ho + oh) * z.wo +
                                       ow]);
                            }
                    double tolerance = 2.0 * gamma_of(terms) * magnitude;
                    if (winograd)
                        tolerance = gamma_of(z.cout + 8.0) *
                                        winograd_magnitude(&gradient, padded_dy,
                                                           rotated, NULL, i, ci,
                                                           ih, iw) +
                                    gamma_of(terms) * magnitude;
                    if (winograd4)
                        tolerance = gamma_of(WINOGRAD4_ROUNDINGS(z.cout)) *
                                        winograd4_magnitude(
                                            &gradient, padded_dy, rotated, NULL,
                                            i, ci, ih, iw) +
                                    gamma_of(terms) * magnitude;
                    check_close(table->name, "conv input gradient", index,
                                dx[index], reference[index], tolerance);
                }
    free(padded_dy);
    free(rotated);
    free(reference);
    guarded_free(&gw);
    guarded_free(&gdy);
    guarded_free(&gdx);
}

static void test_conv_backward_input_seed_shapes(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 201);
    const kernel_table *table;
    FOR_EACH_VARIANT(table)
    {
        for (int layer = 0; layer < 3; layer++)
            for (int kind = VALUES_UNIFORM; kind <= VALUES_INTEGER; kind++) {
                conv_case c = {seed_shape(layer), 20};
                check_conv_backward_input(table, &c, kind, &rng);
                c.count = 1;
                check_conv_backward_input(table, &c, kind, &rng);
            }
    }
}

static void test_conv_backward_input_random_shapes(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 202);
    const kernel_table *table;
    FOR_EACH_VARIANT(table)
    {
        for (int trial = 0; trial < 80; trial++) {
            conv_case c = random_conv_case(&rng);
            check_conv_backward_input(table, &c, trial % 3 == 0, &rng);
        }
    }
}

/* ---- convolution weight gradients -------------------------------------- */

static void check_conv_backward_weights(const kernel_table *table,
                                        const conv_case *c, int kind,
                                        random_generator *rng)
{
    const conv_sizes z = sizes_of(c);
    guarded gi, gdy, gdw, gdb;
    float *input = guarded_floats(&gi, z.input);
    float *dy = guarded_floats(&gdy, z.output);
    float *dw = guarded_floats(&gdw, z.weights);
    float *db = guarded_floats(&gdb, (size_t)z.cout);
    float *reference_dw = malloc(sizeof(float) * z.weights);
    float *reference_db = malloc(sizeof(float) * (size_t)z.cout);
    assert_non_null(reference_dw);
    assert_non_null(reference_db);
    fill_values(rng, input, z.input, kind);
    fill_values(rng, dy, z.output, kind);
    fill_value(dw, z.weights, SENTINEL);
    fill_value(db, (size_t)z.cout, SENTINEL);

    conv3x3_backward_weights_unpacked(NULL, &c->shape, c->count, input, dy,
                                      reference_dw, reference_db);
    conv3x3_backward_weights_unpacked(table->conv3x3, &c->shape, c->count,
                                      input, dy, dw, db);

    const double terms = (double)c->count * z.ho * z.wo;
    for (int co = 0; co < z.cout; co++) {
        double bias_magnitude = 0.0;
        for (size_t i = 0; i < c->count; i++)
            for (int p = 0; p < z.ho * z.wo; p++)
                bias_magnitude += fabs(dy[(i * z.cout + co) * z.ho * z.wo + p]);
        if (kind == VALUES_INTEGER)
            check_equal(table->name, "conv bias gradient", (size_t)co, db[co],
                        reference_db[co]);
        else
            check_close(table->name, "conv bias gradient", (size_t)co, db[co],
                        reference_db[co],
                        2.0 * gamma_of(terms) * bias_magnitude);
        for (int ci = 0; ci < z.cin; ci++)
            for (int k = 0; k < 9; k++) {
                const size_t index = ((size_t)co * z.cin + ci) * 9 + k;
                if (kind == VALUES_INTEGER) {
                    check_equal(table->name, "conv weight gradient", index,
                                dw[index], reference_dw[index]);
                    continue;
                }
                const int kh = k / 3, kw = k % 3;
                double magnitude = 0.0;
                for (size_t i = 0; i < c->count; i++)
                    for (int oh = 0; oh < z.ho; oh++)
                        for (int ow = 0; ow < z.wo; ow++)
                            magnitude += fabs(
                                (double)
                                    dy[((i * z.cout + co) * z.ho + oh) * z.wo +
                                       ow] *
                                input[((i * z.cin + ci) * z.hp + oh + kh) *
                                          z.wp +
                                      ow + kw]);
                check_close(table->name, "conv weight gradient", index,
                            dw[index], reference_dw[index],
                            2.0 * gamma_of(terms) * magnitude);
            }
    }
    free(reference_dw);
    free(reference_db);
    guarded_free(&gi);
    guarded_free(&gdy);
    guarded_free(&gdw);
    guarded_free(&gdb);
}

static void test_conv_backward_weights_seed_shapes(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 301);
    const kernel_table *table;
    FOR_EACH_VARIANT(table)
    {
        for (int layer = 0; layer < 3; layer++)
            for (int kind = VALUES_UNIFORM; kind <= VALUES_INTEGER; kind++) {
                conv_case c = {seed_shape(layer), 20};
                check_conv_backward_weights(table, &c, kind, &rng);
                c.count = 1;
                check_conv_backward_weights(table, &c, kind, &rng);
            }
    }
}

static void test_conv_backward_weights_random_shapes(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 302);
    const kernel_table *table;
    FOR_EACH_VARIANT(table)
    {
        for (int trial = 0; trial < 80; trial++) {
            conv_case c = random_conv_case(&rng);
            check_conv_backward_weights(table, &c, trial % 3 == 0, &rng);
        }
    }
}

/* An empty batch: gradients are zero sums, and nothing else is written. */
static void test_conv_empty_batch(void **state)
{
    (void)state;
    const conv_shape shape = seed_shape(1);
    float weights[8 * 16 * 9], bias[8], dw[8 * 16 * 9], db[8];
    float untouched[4] = {SENTINEL, SENTINEL, SENTINEL, SENTINEL};
    for (size_t k = 0; k < 8 * 16 * 9; k++)
        weights[k] = 1.0f;
    for (int k = 0; k < 8; k++)
        bias[k] = 1.0f;
    const kernel_table *table;
    FOR_EACH_VARIANT(table)
    {
        fill_value(dw, 8 * 16 * 9, SENTINEL);
        fill_value(db, 8, SENTINEL);
        conv3x3_backward_weights_unpacked(table->conv3x3, &shape, 0, untouched,
                                          untouched, dw, db);
        for (size_t k = 0; k < 8 * 16 * 9; k++)
            check_equal(table->name, "empty-batch weight gradient", k, dw[k],
                        0.0f);
        for (size_t k = 0; k < 8; k++)
            check_equal(table->name, "empty-batch bias gradient", k, db[k],
                        0.0f);
        conv3x3_forward_unpacked(table->conv3x3, &shape, 0, untouched, weights,
                                 bias, 1, untouched);
        conv3x3_backward_input_unpacked(table->conv3x3, &shape, 0, weights,
                                        untouched, untouched);
        for (size_t k = 0; k < 4; k++)
            check_equal(table->name, "empty-batch output", k, untouched[k],
                        SENTINEL);
    }
}

/* ---- max-pool ---------------------------------------------------------- */

typedef struct pool_case {
    size_t planes;
    int height, width;
    size_t plane_stride, row_stride; /* of the output */
} pool_case;

enum { POOL_UNIFORM, POOL_TIES, POOL_NAN };

/* POOL_TIES draws from a few values (signed zeros included) so that equal
 * maxima are common and the first-in-window-order rule is exercised;
 * POOL_NAN adds NaNs, where the reference's strict comparisons decide. */
static void fill_pool_input(random_generator *rng, float *x, size_t n, int kind)
{
    static const float few[] = {-1.0f, -0.5f, -0.0f, 0.0f, 0.5f, 1.0f};
    for (size_t i = 0; i < n; i++) {
        if (kind == POOL_UNIFORM)
            x[i] = (float)(2.0 * random_uniform(rng) - 1.0);
        else
            x[i] = few[random_below(rng, 6)];
        if (kind == POOL_NAN && random_below(rng, 5) == 0)
            x[i] = NAN;
    }
}

static void check_pool_forward(const kernel_table *table, const pool_case *c,
                               int kind, random_generator *rng)
{
    const int ho = c->height / 2, wo = c->width / 2;
    const size_t in_count = c->planes * c->height * c->width;
    const size_t out_count = c->planes * c->plane_stride;
    const size_t arg_count = c->planes * ho * wo;
    guarded gi, go, ga;
    float *input = guarded_floats(&gi, in_count);
    float *output = guarded_floats(&go, out_count);
    uint8_t *argmax = guarded_alloc(&ga, arg_count);
    float *reference = malloc(sizeof(float) * out_count);
    uint8_t *reference_argmax = malloc(arg_count);
    assert_non_null(reference);
    assert_non_null(reference_argmax);
    fill_pool_input(rng, input, in_count, kind);
    fill_value(output, out_count, SENTINEL);
    fill_value(reference, out_count, SENTINEL);
    memset(argmax, 0xEE, arg_count);

    kernels_by_name("scalar")->maxpool2x2_forward(
        c->planes, c->height, c->width, input, reference, c->plane_stride,
        c->row_stride, reference_argmax);
    table->maxpool2x2_forward(c->planes, c->height, c->width, input, output,
                              c->plane_stride, c->row_stride, argmax);

    /* Bitwise over the whole strided buffer: values where the reference
     * wrote, the untouched sentinel in every gap. */
    for (size_t k = 0; k < out_count; k++)
        check_equal(table->name, "pool output", k, output[k], reference[k]);
    for (size_t k = 0; k < arg_count; k++)
        if (argmax[k] != reference_argmax[k]) {
            print_error("%s pool argmax[%zu]: got %d, reference %d\n",
                        table->name, k, argmax[k], reference_argmax[k]);
            fail();
        }
    free(reference);
    free(reference_argmax);
    guarded_free(&gi);
    guarded_free(&go);
    guarded_free(&ga);
}

static pool_case dense_pool(size_t planes, int height, int width)
{
    pool_case c = {planes, height, width, 0, (size_t)(width / 2)};
    c.plane_stride = (size_t)(height / 2) * c.row_stride;
    return c;
}

/* Planes 1..20, sizes 2..33; half the cases write into a larger buffer
 * with row and plane gaps, as when pooling into a padded buffer. */
static pool_case random_pool_case(random_generator *rng, int strided)
{
    pool_case c = dense_pool((size_t)random_int(rng, 1, 20),
                             random_int(rng, 2, 33), random_int(rng, 2, 33));
    if (strided) {
        c.row_stride += (size_t)random_int(rng, 1, 4);
        c.plane_stride = (size_t)(c.height / 2) * c.row_stride +
                         (size_t)random_int(rng, 0, 9);
    }
    return c;
}

static void test_pool_forward_seed_shapes(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 401);
    const pool_case cases[] = {
        dense_pool(16 * 20, 28, 28),
        dense_pool(8 * 20, 16, 16),
        dense_pool(1 * 20, 10, 10),
        /* Straight into the next layer's padded input (pad 2, 18 x 18). */
        {16, 28, 28, 18 * 18, 18},
        {8, 16, 16, 12 * 12, 12}};
    const kernel_table *table;
    FOR_EACH_VARIANT(table)
    {
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
            for (int kind = POOL_UNIFORM; kind <= POOL_NAN; kind++)
                check_pool_forward(table, &cases[k], kind, &rng);
    }
}

static void test_pool_forward_random_shapes(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 402);
    const kernel_table *table;
    FOR_EACH_VARIANT(table)
    {
        for (int trial = 0; trial < 150; trial++) {
            pool_case c = random_pool_case(&rng, trial % 2);
            check_pool_forward(table, &c, trial % 3, &rng);
        }
    }
}

static void check_pool_backward(const kernel_table *table, const pool_case *c,
                                int with_relu, random_generator *rng)
{
    const int ho = c->height / 2, wo = c->width / 2;
    const size_t in_count = c->planes * c->height * c->width;
    const size_t out_count = c->planes * ho * wo;
    guarded gdy, ga, gr, gdx;
    float *dy = guarded_floats(&gdy, out_count);
    uint8_t *argmax = guarded_alloc(&ga, out_count);
    float *relu_output = guarded_floats(&gr, out_count);
    float *dx = guarded_floats(&gdx, in_count);
    float *reference = malloc(sizeof(float) * in_count);
    assert_non_null(reference);
    static const float pooled[] = {-1.0f, -0.0f, 0.0f, 0.25f, 1.0f};
    fill_uniform(rng, dy, out_count);
    for (size_t k = 0; k < out_count; k++) {
        argmax[k] = (uint8_t)random_below(rng, 4);
        relu_output[k] = pooled[random_below(rng, 5)];
    }
    fill_value(dx, in_count, SENTINEL);
    const float *relu = with_relu ? relu_output : NULL;

    kernels_by_name("scalar")->maxpool2x2_backward(
        c->planes, c->height, c->width, dy, argmax, relu, reference);
    table->maxpool2x2_backward(c->planes, c->height, c->width, dy, argmax, relu,
                               dx);
    /* Every input position is overwritten: the gradient or +0. */
    for (size_t k = 0; k < in_count; k++)
        check_equal(table->name, "pool input gradient", k, dx[k], reference[k]);
    free(reference);
    guarded_free(&gdy);
    guarded_free(&ga);
    guarded_free(&gr);
    guarded_free(&gdx);
}

static void test_pool_backward(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 403);
    const pool_case seeds[] = {dense_pool(16 * 20, 28, 28),
                               dense_pool(8 * 20, 16, 16),
                               dense_pool(1 * 20, 10, 10)};
    const kernel_table *table;
    FOR_EACH_VARIANT(table)
    {
        for (size_t k = 0; k < 3; k++)
            for (int relu = 0; relu <= 1; relu++)
                check_pool_backward(table, &seeds[k], relu, &rng);
        for (int trial = 0; trial < 150; trial++) {
            pool_case c = random_pool_case(&rng, 0);
            check_pool_backward(table, &c, trial % 2, &rng);
        }
    }
}

/* ---- cosine ------------------------------------------------------------ */

/* Exact (double) quantities of one row pair and the first-order error bound
 * of one float32 evaluation of cos. With S = sum|a_i b_i|: dot carries at
 * most gamma_d S, |a|^2 and |b|^2 (non-negative terms) a relative gamma_d
 * each, the product, square root and division a few more roundings; so
 * |cos~ - cos| <= (gamma_d S + |a.b| (gamma_d + 4u)) / den, den =
 * sqrt(max(|a|^2 |b|^2, eps^2)); the clamp (a max) keeps the bound. */
typedef struct cosine_row {
    double dot, aa, bb, abs_dot, den, cos, cos_error;
    int clamped;
} cosine_row;

static cosine_row cosine_exact(size_t dims, const float *a, const float *b)
{
    cosine_row r = {0};
    for (size_t d = 0; d < dims; d++) {
        r.dot += (double)a[d] * b[d];
        r.abs_dot += fabs((double)a[d] * b[d]);
        r.aa += (double)a[d] * a[d];
        r.bb += (double)b[d] * b[d];
    }
    const double floor = (double)COSINE_EPSILON * COSINE_EPSILON;
    r.clamped = !(r.aa * r.bb > floor);
    r.den = sqrt(r.clamped ? floor : r.aa * r.bb);
    r.cos = r.dot / r.den;
    const double g = gamma_of((double)dims);
    r.cos_error =
        (g * r.abs_dot + fabs(r.dot) * (g + 4.0 * UNIT_ROUNDOFF)) / r.den;
    return r;
}

/* Rows: uniform; scaled by 1e-9 (clamped: |a|^2|b|^2 << eps^2); all-zero
 * (clamped, cos 0). Rows too close to the clamp threshold, where the
 * gradient is discontinuous, are redrawn. */
static void fill_cosine_rows(random_generator *rng, size_t count, size_t dims,
                             float *a)
{
    for (size_t i = 0; i < count; i++) {
        float *row = a + i * dims;
        const uint64_t kind = random_below(rng, 5);
        fill_uniform(rng, row, dims);
        if (kind == 3)
            for (size_t d = 0; d < dims; d++)
                row[d] *= 1e-9f;
        if (kind == 4)
            fill_value(row, dims, 0.0f);
    }
}

typedef struct cosine_case {
    size_t count, dims, b_stride;
} cosine_case;

static void check_cosine(const kernel_table *table, const cosine_case *c,
                         random_generator *rng)
{
    const size_t b_rows = c->b_stride ? c->count : 1;
    guarded ga, gb, gc, gg;
    float *a = guarded_floats(&ga, c->count * c->dims);
    float *b = guarded_floats(&gb, b_rows * c->dims);
    float *cosines = guarded_floats(&gc, c->count);
    float *grad = guarded_floats(&gg, c->count * c->dims);
    float *reference_cos = malloc(sizeof(float) * c->count);
    float *reference_grad = malloc(sizeof(float) * c->count * c->dims);
    assert_non_null(reference_cos);
    assert_non_null(reference_grad);
    cosine_row *rows = malloc(sizeof(cosine_row) * c->count);
    assert_non_null(rows);
    /* b rows are never zero here: a zero label vector is not a use case,
     * and the a side already covers the clamp. */
    for (;;) {
        fill_cosine_rows(rng, c->count, c->dims, a);
        fill_uniform(rng, b, b_rows * c->dims);
        int near_threshold = 0;
        for (size_t i = 0; i < c->count; i++) {
            rows[i] =
                cosine_exact(c->dims, a + i * c->dims, b + i * c->b_stride);
            const double ratio = rows[i].aa * rows[i].bb /
                                 ((double)COSINE_EPSILON * COSINE_EPSILON);
            if (ratio > 0.0 && fabs(ratio - 1.0) < 1e-3)
                near_threshold = 1;
        }
        if (!near_threshold)
            break;
    }
    fill_value(cosines, c->count, SENTINEL);
    fill_value(grad, c->count * c->dims, SENTINEL);

    kernels_by_name("scalar")->cosine_similarity(c->count, c->dims, a, b,
                                                 c->b_stride, reference_cos);
    table->cosine_similarity(c->count, c->dims, a, b, c->b_stride, cosines);
    for (size_t i = 0; i < c->count; i++)
        check_close(table->name, "cosine", i, cosines[i], reference_cos[i],
                    2.0 * rows[i].cos_error);

    const float reference_loss = kernels_by_name("scalar")->cosine_loss(
        c->count, c->dims, a, b, c->b_stride, reference_grad);
    const float loss =
        table->cosine_loss(c->count, c->dims, a, b, c->b_stride, grad);
    const float loss_only =
        table->cosine_loss(c->count, c->dims, a, b, c->b_stride, NULL);
    check_equal(table->name, "loss without gradient", 0, loss_only, loss);

    /* The loss: (1/n) sum (1 - cos_i) summed in float32 in some order:
     * the cos errors, gamma_n of the summed magnitudes, the final scaling. */
    const double scale = 1.0 / (double)c->count;
    double loss_error = 0.0, loss_magnitude = 0.0;
    for (size_t i = 0; i < c->count; i++) {
        loss_error += 2.0 * rows[i].cos_error;
        loss_magnitude += fabs(1.0 - rows[i].cos);
    }
    loss_error = scale * (loss_error + 2.0 * gamma_of((double)c->count + 1.0) *
                                           loss_magnitude) +
                 2.0 * UNIT_ROUNDOFF * scale * loss_magnitude;
    check_close(table->name, "cosine loss", 0, loss, reference_loss,
                loss_error);

    /* The gradient, per element: -(1/n) (b_d / den - [cos / |a|^2] a_d).
     * The first term carries den's relative error (gamma_d + few u), the
     * second the error of cos plus the relative errors of |a|^2 and the
     * products; both implementations do, hence the factor 2. */
    const double g = gamma_of((double)c->dims), u = UNIT_ROUNDOFF;
    for (size_t i = 0; i < c->count; i++) {
        const cosine_row *r = &rows[i];
        const float *x = a + i * c->dims, *y = b + i * c->b_stride;
        for (size_t d = 0; d < c->dims; d++) {
            const size_t index = i * c->dims + d;
            double bound = fabs((double)y[d]) / r->den * (g + 6.0 * u);
            if (!r->clamped)
                bound += fabs((double)x[d]) / r->aa *
                         (r->cos_error + fabs(r->cos) * (g + 6.0 * u));
            check_close(table->name, "cosine gradient", index, grad[index],
                        reference_grad[index], 2.0 * scale * bound);
        }
    }
    free(rows);
    free(reference_cos);
    free(reference_grad);
    guarded_free(&ga);
    guarded_free(&gb);
    guarded_free(&gc);
    guarded_free(&gg);
}

static void test_cosine_seed_shape(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 501);
    const kernel_table *table;
    FOR_EACH_VARIANT(table)
    {
        for (int trial = 0; trial < 10; trial++) {
            cosine_case shared = {20, 25, 0}, paired = {20, 25, 25};
            check_cosine(table, &shared, &rng);
            check_cosine(table, &paired, &rng);
        }
    }
}

static void test_cosine_random_shapes(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 502);
    const kernel_table *table;
    FOR_EACH_VARIANT(table)
    {
        for (int trial = 0; trial < 200; trial++) {
            cosine_case c;
            c.count = (size_t)random_int(&rng, 1, 9);
            c.dims = (size_t)random_int(&rng, 1, 70);
            c.b_stride = trial % 2 ? c.dims : 0;
            check_cosine(table, &c, &rng);
        }
    }
}

/* A zero row: clamped, cos = 0, loss 1, gradient -b/eps/n exactly as the
 * reference computes it. A hand-checked value, not only a comparison. */
static void test_cosine_zero_row_value(void **state)
{
    (void)state;
    float a[25] = {0}, b[25], grad[25], cos_value = -1.0f;
    for (int d = 0; d < 25; d++)
        b[d] = d == 3 ? 1.0f : 0.0f;
    const kernel_table *table;
    FOR_EACH_VARIANT(table)
    {
        table->cosine_similarity(1, 25, a, b, 0, &cos_value);
        assert_true(cos_value == 0.0f);
        const float loss = table->cosine_loss(1, 25, a, b, 25, grad);
        assert_true(loss == 1.0f);
        const float inverse_eps = 1.0f / sqrtf(COSINE_EPSILON * COSINE_EPSILON);
        for (int d = 0; d < 25; d++)
            assert_true(grad[d] == (d == 3 ? -inverse_eps : 0.0f));
    }
}

/* ---- dispatch ---------------------------------------------------------- */

static void test_variant_lookup(void **state)
{
    (void)state;
    assert_null(kernels_by_name("nonsense"));
    assert_null(kernels_by_name(""));
    assert_null(kernels_by_name(NULL));
    const kernel_table *scalar = kernels_by_name("scalar");
    assert_null(scalar->conv3x3); /* the reference: no microkernels */
    assert_string_equal(scalar->name, "scalar");

    const kernel_table *active = NULL;
    assert_int_equal(kernels_active(&active), COSNET_OK);
    assert_non_null(active);
    int known = 0;
    for (int i = 0; kernel_variant_names[i]; i++)
        if (strcmp(active->name, kernel_variant_names[i]) == 0)
            known = 1;
    assert_true(known);
    assert_ptr_equal(kernels_by_name(active->name), active);

    /* Each table names itself, and every entry is filled. */
    const kernel_table *table;
    FOR_EACH_VARIANT(table)
    {
        assert_ptr_equal(kernels_by_name(table->name), table);
        assert_non_null(table->maxpool2x2_forward);
        assert_non_null(table->maxpool2x2_backward);
        assert_non_null(table->cosine_similarity);
        assert_non_null(table->cosine_loss);
        assert_non_null(table->dense_forward);
        assert_non_null(table->relu_backward);
        /* An op that only has its reference (pixel conversion) is
         * dispatched by every table without any ISA file naming it: the
         * per-op configuration starts from the references. */
        assert_ptr_equal(table->pixels_to_float, pixels_to_float_scalar);
        /* Every SIMD table brings its own convolution microkernels. */
        if (strcmp(table->name, "scalar") != 0) {
            assert_non_null(table->conv3x3);
            assert_ptr_not_equal(table->maxpool2x2_forward,
                                 maxpool2x2_forward_scalar);
        }
        print_message("variant under test: %s\n", table->name);
    }
    /* The reference conversion itself. */
    const uint8_t pixels[4] = {0, 1, 128, 255};
    float converted[4];
    kernels_by_name("scalar")->pixels_to_float(4, pixels, converted);
    assert_true(converted[0] == 0.0f && converted[3] == 1.0f);
    assert_true(converted[1] == 1.0f / 255.0f);
    assert_true(converted[2] == 128.0f / 255.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_variant_lookup),
        cmocka_unit_test(test_conv_forward_seed_shapes),
        cmocka_unit_test(test_conv_forward_random_shapes),
        cmocka_unit_test(test_conv_backward_input_seed_shapes),
        cmocka_unit_test(test_conv_backward_input_random_shapes),
        cmocka_unit_test(test_conv_backward_weights_seed_shapes),
        cmocka_unit_test(test_conv_backward_weights_random_shapes),
        cmocka_unit_test(test_conv_empty_batch),
        cmocka_unit_test(test_pool_forward_seed_shapes),
        cmocka_unit_test(test_pool_forward_random_shapes),
        cmocka_unit_test(test_conv_relu_pool),
        cmocka_unit_test(test_conv_relu_pool_argmax),
        cmocka_unit_test(test_pool_backward),
        cmocka_unit_test(test_cosine_seed_shape),
        cmocka_unit_test(test_cosine_random_shapes),
        cmocka_unit_test(test_cosine_zero_row_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
