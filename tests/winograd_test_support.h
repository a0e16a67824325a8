/* What the Winograd tests (test_winograd.c, test_winograd4.c,
 * test_winograd_weights.c, test_winograd4_weights.c) share: the stage sets
 * under test, the data, and the forward-pass checks of F(2x2) and F(4x4)
 * against the scalar direct convolution (one body for both, so the two
 * transforms are held to the same checks). Include after cmocka.h and
 * kernel_test_support.h. */
#ifndef COSNET_TESTS_WINOGRAD_TEST_SUPPORT_H
#define COSNET_TESTS_WINOGRAD_TEST_SUPPORT_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/memory.h"
#include "common/rng.h"
#include "kernels/kernels.h"
#include "kernels/winograd.h"
#include "kernels/winograd4.h"
#include "winograd_bound.h"
#include "winograd4_bound.h"

/* ---- the stage sets under test ----------------------------------------- */

typedef enum { WINOGRAD_F2X2, WINOGRAD_F4X4 } winograd_transform;

/* The stages of one transform: exactly one of the two pointers is set, and
 * the helpers below dispatch on which. */
typedef struct stage_set {
    const char *name;
    const winograd_microkernels *stages;   /* F(2x2, 3x3) */
    const winograd4_microkernels *stages4; /* F(4x4, 3x3) */
} stage_set;

/* The plain-C stages of `transform` and those of every variant this CPU
 * runs (8 sets hold them all). */
static inline int stage_sets(stage_set *sets, winograd_transform transform)
{
    const int f4 = transform == WINOGRAD_F4X4;
    int n = 0;
    sets[n++] = (stage_set){"reference", f4 ? NULL : &winograd_reference,
                            f4 ? &winograd4_reference : NULL};
    for (int i = 0; kernel_variant_names[i]; i++) {
        const kernel_table *t = kernels_by_name(kernel_variant_names[i]);
        const conv3x3_microkernels *c = t ? t->conv3x3 : NULL;
        if (c && (f4 ? c->winograd4 != NULL : c->winograd != NULL))
            sets[n++] = (stage_set){t->name, f4 ? NULL : c->winograd,
                                    f4 ? c->winograd4 : NULL};
    }
    return n;
}

/* ---- data -------------------------------------------------------------- */

/* Beyond kernel_test_support.h's kinds: the data F(4x4) computes exactly
 * (test_winograd4.c says why): inputs -1, 0, 1 (nonzero one time in 8),
 * weights -9, 0, 9 (nonzero one time in 4), bias -3 .. 3. */
enum { VALUES_SPARSE_NINES = VALUES_INTEGER + 1 };

/* A forward pass's input, weights and bias of `kind`, always drawn in that
 * order, so that each test's seed fixes its data. */
static inline void fill_forward_data(random_generator *rng, float *input,
                                     size_t n_input, float *weights,
                                     size_t n_weights, float *bias,
                                     size_t n_bias, int kind)
{
    if (kind != VALUES_SPARSE_NINES) {
        fill_values(rng, input, n_input, kind);
        fill_values(rng, weights, n_weights, kind);
        fill_values(rng, bias, n_bias, kind);
        return;
    }
    for (size_t i = 0; i < n_input; i++)
        input[i] = random_below(rng, 8) == 0
                       ? (random_below(rng, 2) ? 1.0f : -1.0f)
                       : 0.0f;
    for (size_t i = 0; i < n_weights; i++)
        weights[i] = random_below(rng, 4) == 0
                         ? (random_below(rng, 2) ? 9.0f : -9.0f)
                         : 0.0f;
    for (size_t i = 0; i < n_bias; i++)
        bias[i] = (float)random_int(rng, -3, 3);
}

/* ---- running the stages ------------------------------------------------ */

static inline size_t stages_packed_floats(const stage_set *set,
                                          const conv_shape *s)
{
    return set->stages4 ? winograd4_packed_floats(set->stages4, s)
                        : winograd_packed_floats(set->stages, s);
}

/* F(4x4)'s verdict (U finite) must hold for the tests' weights; F(2x2)'s
 * is left to test_overflowing_weights_run_direct, through the driver. */
static inline void stages_pack(const stage_set *set, const conv_shape *s,
                               const float *weights, float *packed)
{
    if (set->stages4)
        assert_true(winograd4_pack(set->stages4, s, weights, 0, packed));
    else
        winograd_pack(set->stages, s, weights, 0, packed);
}

static inline void stages_forward(const stage_set *set, const conv_shape *s,
                                  size_t count, const float *input,
                                  const float *packed, const float *bias,
                                  int relu, float *output)
{
    if (set->stages4)
        winograd4_forward(set->stages4, s, count, input, packed, bias, relu,
                          output);
    else
        winograd_forward(set->stages, s, count, input, packed, bias, relu,
                         output);
}

static inline void stages_forward_relu_pool(const stage_set *set,
                                            const conv_shape *s, size_t count,
                                            const float *input,
                                            const float *packed,
                                            const float *bias, float *output,
                                            size_t plane, size_t row)
{
    if (set->stages4)
        winograd4_forward_relu_pool(set->stages4, s, count, input, packed, bias,
                                    output, plane, row);
    else
        winograd_forward_relu_pool(set->stages, s, count, input, packed, bias,
                                   output, plane, row);
}

/* The stages' forward pass with weights packed here. */
static inline void forward_run(const stage_set *set, const conv_shape *s,
                               size_t count, const float *input,
                               const float *weights, const float *bias,
                               int relu, float *output)
{
    float *packed = memory_allocate_aligned(
        64, sizeof(float) * stages_packed_floats(set, s));
    assert_non_null(packed);
    stages_pack(set, s, weights, packed);
    stages_forward(set, s, count, input, packed, bias, relu, output);
    memory_free(packed);
}

/* ---- checks against the direct convolution ----------------------------- */

/* sum|terms| of the direct sum for one output. */
static inline double direct_magnitude(const conv_shape *s, const float *input,
                                      const float *weights, const float *bias,
                                      size_t image, int co, int oy, int ox)
{
    const int cin = s->in_channels;
    const int hp = conv_padded_height(s), wp = conv_padded_width(s);
    double total = fabs((double)bias[co]);
    for (int ci = 0; ci < cin; ci++)
        for (int kh = 0; kh < 3; kh++)
            for (int kw = 0; kw < 3; kw++)
                total += fabs(
                    (double)weights[((co * cin + ci) * 3 + kh) * 3 + kw] *
                    input[((image * cin + ci) * hp + oy + kh) * wp + ox + kw]);
    return total;
}

/* The transform's part of the tolerance for one output: gamma of its
 * roundings times its magnitude (winograd_bound.h, winograd4_bound.h). */
static inline double stages_bound(const stage_set *set, const conv_shape *s,
                                  const float *input, const float *weights,
                                  const float *bias, size_t image, int co,
                                  int oy, int ox)
{
    const int cin = s->in_channels;
    if (set->stages4)
        return gamma_of(WINOGRAD4_ROUNDINGS(cin)) *
               winograd4_magnitude(s, input, weights, bias, image, co, oy, ox);
    return gamma_of(cin + 8.0) *
           winograd_magnitude(s, input, weights, bias, image, co, oy, ox);
}

/* Checks `output` (count images of the shape) against the scalar direct
 * convolution: bit for bit for an exact kind (for F(4x4) after checking
 * that the magnitudes keep every intermediate exact: 64 times each below
 * 2^24), else within the transform's bound (winograd_bound.h,
 * winograd4_bound.h) plus the direct reference's own gamma(9 in_channels
 * + 1) sum|terms|. */
static inline void
check_forward_against_direct(const stage_set *set, const conv_shape *s,
                             size_t count, const float *input,
                             const float *weights, const float *bias, int relu,
                             int kind, const float *output)
{
    const int f4 = set->stages4 != NULL;
    const char *what = f4 ? "winograd4 forward" : "winograd forward";
    const char *what_exact =
        f4 ? "winograd4 forward (exact)" : "winograd forward";
    const shape_floats z = floats_of(s, count);
    float *reference = malloc(sizeof(float) * z.output);
    assert_non_null(reference);
    conv3x3_forward_scalar(s, count, input, weights, bias, relu, reference);
    const int ho = conv_out_height(s), wo = conv_out_width(s);
    const int cin = s->in_channels;
    size_t index = 0;
    for (size_t i = 0; i < count; i++)
        for (int co = 0; co < s->out_channels; co++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++, index++) {
                    if (kind != VALUES_UNIFORM) {
                        if (f4) {
                            const double magnitude = winograd4_magnitude(
                                s, input, weights, bias, i, co, oy, ox);
                            if (!(magnitude * 64.0 < 16777216.0))
                                fail_msg("%s: magnitude %g too large for the "
                                         "exact test",
                                         set->name, magnitude);
                        }
                        check_equal(set->name, what_exact, index, output[index],
                                    reference[index]);
                        continue;
                    }
                    const double tolerance =
                        stages_bound(set, s, input, weights, bias, i, co, oy,
                                     ox) +
                        gamma_of(9.0 * cin + 1.0) *
                            direct_magnitude(s, input, weights, bias, i, co, oy,
                                             ox);
                    check_close(set->name, what, index, output[index],
                                reference[index], tolerance);
                    if (relu)
                        assert_true(output[index] >= 0.0f);
                }
    free(reference);
}

/* The stages' forward pass on data of `kind` against the direct
 * convolution. Every buffer ends at a guard page, and the pad is filled
 * too: the stages must read it, not assume zeros. */
static inline void check_forward_stages(const stage_set *set,
                                        const conv_shape *s, size_t count,
                                        int relu, int kind,
                                        random_generator *rng)
{
    const shape_floats z = floats_of(s, count);
    guarded gi, gw, gb, go;
    float *input = guarded_floats(&gi, z.input);
    float *weights = guarded_floats(&gw, z.weights);
    float *bias = guarded_floats(&gb, (size_t)s->out_channels);
    float *output = guarded_floats(&go, z.output);
    fill_forward_data(rng, input, z.input, weights, z.weights, bias,
                      (size_t)s->out_channels, kind);
    fill_value(output, z.output, SENTINEL);
    forward_run(set, s, count, input, weights, bias, relu, output);
    check_forward_against_direct(set, s, count, input, weights, bias, relu,
                                 kind, output);
    guarded_free(&gi);
    guarded_free(&gw);
    guarded_free(&gb);
    guarded_free(&go);
}

/* The stages' pooled forward pass against their forward pass with ReLU
 * followed by the scalar max-pool, bit for bit: every pooled value, written
 * into a buffer laid out like a padded input (one row and column before
 * the interior, two after), and nothing else of that buffer, which ends at
 * a guard page. */
static inline void check_pooled_stages(const stage_set *set,
                                       const conv_shape *s, size_t count,
                                       random_generator *rng)
{
    const shape_floats z = floats_of(s, count);
    const int oh = conv_out_height(s), ow = conv_out_width(s);
    const int ph = oh / 2, pw = ow / 2;
    const size_t planes = count * (size_t)s->out_channels;
    const size_t row = (size_t)pw + 3, plane = (size_t)(ph + 3) * row;
    float *input = malloc(sizeof(float) * z.input);
    float *weights = malloc(sizeof(float) * z.weights);
    float *bias = malloc(sizeof(float) * (size_t)s->out_channels);
    float *conv = malloc(sizeof(float) * z.output);
    float *pooled = malloc(sizeof(float) * (planes * ph * pw + 1));
    uint8_t *argmax = malloc(planes * ph * pw + 1);
    float *packed = memory_allocate_aligned(
        64, sizeof(float) * stages_packed_floats(set, s));
    guarded go;
    float *output = guarded_floats(&go, planes * plane);
    assert_true(input && weights && bias && conv && pooled && argmax && packed);
    fill_forward_data(rng, input, z.input, weights, z.weights, bias,
                      (size_t)s->out_channels, VALUES_UNIFORM);
    fill_value(output, planes * plane, SENTINEL);
    stages_pack(set, s, weights, packed);
    stages_forward(set, s, count, input, packed, bias, 1, conv);
    maxpool2x2_forward_scalar(planes, oh, ow, conv, pooled, (size_t)ph * pw,
                              (size_t)pw, argmax);
    stages_forward_relu_pool(set, s, count, input, packed, bias,
                             output + row + 1, plane, row);
    const size_t stray = check_pooled_interior(
        set->name, set->stages4 ? "winograd4 pooled" : "pooled", output, pooled,
        planes, ph, pw);
    if (stray != SIZE_MAX)
        fail_msg("%s pooled: %dx%d, %d -> %d channels, pad %d: plane %zu, "
                 "padded position %zu written",
                 set->name, s->in_height, s->in_width, s->in_channels,
                 s->out_channels, s->pad, stray / plane, stray % plane);
    guarded_free(&go);
    memory_free(packed);
    free(input);
    free(weights);
    free(bias);
    free(conv);
    free(pooled);
    free(argmax);
}

/* Each image's output of every one of the n stage sets is the same bits
 * whether computed alone or in the batch of `count` (uniform data). */
static inline void check_batch_invariance(const stage_set *sets, int n,
                                          const conv_shape *s, size_t count,
                                          random_generator *rng)
{
    const shape_floats z = floats_of(s, count), one = floats_of(s, 1);
    float *input = malloc(sizeof(float) * z.input);
    float *weights = malloc(sizeof(float) * z.weights);
    float *bias = malloc(sizeof(float) * (size_t)s->out_channels);
    float *batch = malloc(sizeof(float) * z.output);
    float *alone = malloc(sizeof(float) * one.output);
    assert_true(input && weights && bias && batch && alone);
    fill_forward_data(rng, input, z.input, weights, z.weights, bias,
                      (size_t)s->out_channels, VALUES_UNIFORM);
    for (int k = 0; k < n; k++) {
        forward_run(&sets[k], s, count, input, weights, bias, 1, batch);
        for (size_t i = 0; i < count; i++) {
            forward_run(&sets[k], s, 1, input + i * one.input, weights, bias, 1,
                        alone);
            for (size_t j = 0; j < one.output; j++)
                check_equal(sets[k].name, "image alone vs in a batch",
                            i * one.output + j, alone[j],
                            batch[i * one.output + j]);
        }
    }
    free(input);
    free(weights);
    free(bias);
    free(batch);
    free(alone);
}

#endif
