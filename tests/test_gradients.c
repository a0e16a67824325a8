/* Finite-difference checks of the analytic gradients, in double.
 *
 * A straightforward double-precision forward of the whole seed network is
 * written here, independently of the library (implicit zero padding by
 * bounds checks, no padded buffers, no kernel table). Central differences
 * of it, h = 1e-3, are compared with the library's float gradients for
 * every kernel variant this CPU runs (which includes the scalar table and
 * the active one), on a random subset of each stage's weights and all of
 * its biases. The kernels' own backward functions are checked the same way
 * one by one: conv backward-input and backward-weights, pool backward with
 * and without the ReLU mask, and the cosine loss and the softmax loss of
 * scaled cosines, clamped branches included; layer lists are checked with
 * either loss.
 *
 * Kinks. ReLU and max-pool make the loss piecewise smooth; a difference
 * across a kink measures nothing. Two stated rules keep away from them:
 *  1. Base point: each image is redrawn until every pool window of every
 *     stage is at least TAU = 1e-5 from a kink in double: its largest
 *     pre-activation z1 satisfies z1 < -TAU (dead window), or z1 > TAU and
 *     z1 - z2 > TAU (z2 the runner-up). Float rounding of the library's
 *     pre-activations is below 1e-6 here, so the library takes the same
 *     branches as the reference.
 *  2. Differences: the step is the largest of h = 1e-3, 1e-4, 1e-5 for
 *     which the activation pattern (each window's argmax and whether it
 *     passes the ReLU) at w + h and at w - h equals the one at w; if none
 *     does, the coordinate is skipped. (A first-stage weight moves 2,352
 *     pre-activations per image at once, so h = 1e-3 often crosses some
 *     kink.) At least 70% of the sampled coordinates of every stage must
 *     survive, so the check cannot become vacuous. Within one pattern the
 *     network is affine in any single parameter and the cosine loss is
 *     smooth, so the difference is accurate to O(h^2); in double, rounding
 *     adds about 1e-16 / h <= 1e-11.
 *
 * Tolerance: |analytic - fd| <= 1e-2 * max(|fd|, FLOOR), where FLOOR =
 * 1e-3 * (largest |fd| of the same check). The floor (an absolute error of
 * 1e-5 of the check's scale) is float precision: float sums of up to ~1e4
 * terms carry a relative error of about sqrt(1e4) * 2^-24 ~ 6e-6 of the
 * magnitudes summed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosnet.h"
#include "common/rng.h"
#include "kernels/conv_driver.h"
#include "kernels/kernels.h"
#include "kernels/softmax_cosine.h"
#include "network/architecture.h"
#include "network/layer_text.h"
#include "network/passes.h"

#define PARAMETERS 1393
#define IMAGE 784
#define OUTPUTS 25
#define STEP 1e-3
#define TAU 1e-5
#define RELATIVE_TOLERANCE 1e-2
#define FLOOR_FRACTION 1e-3

/* ---- The reference network, in double ----------------------------------- */

typedef struct reference_stage {
    int in_channels, out_channels, height, width, pad;
    size_t weights, biases; /* offsets in the parameter vector */
} reference_stage;

/* Written out by hand from docs/math.md, not read from the library. */
static const reference_stage stages[3] = {
    {1, 16, 28, 28, 1, 0, 144},
    {16, 8, 14, 14, 2, 160, 1312},
    {8, 1, 8, 8, 2, 1320, 1392},
};
/* Pool windows per image: 16x14x14 + 8x8x8 + 1x5x5. */
#define WINDOWS (16 * 14 * 14 + 8 * 8 * 8 + 1 * 5 * 5)

/* Pre-activations of one stage: out[co][oh][ow] = b + sum w * in, with the
 * input read as zero outside its borders. */
static void reference_conv(const reference_stage *s, const double *p,
                           const double *in, double *out)
{
    const int ho = s->height + 2 * s->pad - 2, wo = s->width + 2 * s->pad - 2;
    for (int co = 0; co < s->out_channels; co++)
        for (int oh = 0; oh < ho; oh++)
            for (int ow = 0; ow < wo; ow++) {
                double sum = p[s->biases + co];
                for (int ci = 0; ci < s->in_channels; ci++)
                    for (int kh = 0; kh < 3; kh++)
                        for (int kw = 0; kw < 3; kw++) {
                            int ih = oh + kh - s->pad, iw = ow + kw - s->pad;
                            if (ih < 0 || ih >= s->height || iw < 0 ||
                                iw >= s->width)
                                continue;
                            sum += p[s->weights +
                                     ((size_t)(co * s->in_channels + ci) * 3 +
                                      kh) *
                                         3 +
                                     kw] *
                                   in[((size_t)ci * s->height + ih) * s->width +
                                      iw];
                        }
                out[((size_t)co * ho + oh) * wo + ow] = sum;
            }
}

/* ReLU then 2x2 max-pool of `planes` planes of height x width (even).
 * pattern (optional): per window, argmax (first maximum of the ReLU values)
 * + 4 if the window passes the ReLU. margin (optional): lowered to the
 * window's distance from a kink (rule 1 in the header comment). */
static void reference_relu_pool(int planes, int height, int width,
                                const double *z, double *out,
                                unsigned char *pattern, double *margin)
{
    const int ho = height / 2, wo = width / 2;
    for (int p = 0; p < planes; p++)
        for (int r = 0; r < ho; r++)
            for (int c = 0; c < wo; c++) {
                const double *top =
                    z + ((size_t)p * height + 2 * r) * width + 2 * c;
                double window[4] = {top[0], top[1], top[width], top[width + 1]};
                double relu[4];
                int best = 0;
                for (int k = 0; k < 4; k++)
                    relu[k] = window[k] > 0 ? window[k] : 0;
                for (int k = 1; k < 4; k++)
                    if (relu[k] > relu[best])
                        best = k;
                size_t o = ((size_t)p * ho + r) * wo + c;
                out[o] = relu[best];
                if (pattern)
                    pattern[o] =
                        (unsigned char)(best + (relu[best] > 0 ? 4 : 0));
                if (margin) {
                    double z1 = -INFINITY, z2 = -INFINITY;
                    for (int k = 0; k < 4; k++) {
                        if (window[k] > z1) {
                            z2 = z1;
                            z1 = window[k];
                        } else if (window[k] > z2) {
                            z2 = window[k];
                        }
                    }
                    double distance = z1 <= 0 ? -z1 : fmin(z1, z1 - z2);
                    *margin = fmin(*margin, distance);
                }
            }
}

/* The network on one image: outputs (25), pattern (WINDOWS, optional),
 * margin (optional). */
static void reference_forward(const double *p, const float *image,
                              double *outputs, unsigned char *pattern,
                              double *margin)
{
    double z[16 * 28 * 28], in[16 * 14 * 14], out[16 * 14 * 14];
    for (int i = 0; i < IMAGE; i++)
        in[i] = image[i];
    for (int s = 0; s < 3; s++) {
        const reference_stage *stage = &stages[s];
        const int ho = stage->height + 2 * stage->pad - 2;
        const int wo = stage->width + 2 * stage->pad - 2;
        const size_t pooled = (size_t)stage->out_channels * (ho / 2) * (wo / 2);
        reference_conv(stage, p, in, z);
        reference_relu_pool(stage->out_channels, ho, wo, z,
                            s == 2 ? outputs : out, pattern, margin);
        if (pattern)
            pattern += pooled;
        /* Stage s's pooled planes are stage s+1's input. */
        if (s < 2)
            memcpy(in, out, sizeof(double) * pooled);
    }
}

/* torch-style cosine: a.b / sqrt(max(|a|^2 |b|^2, eps^2)). */
static double reference_cosine(const double *a, const float *b, size_t dims)
{
    double dot = 0, aa = 0, bb = 0;
    for (size_t d = 0; d < dims; d++) {
        dot += a[d] * b[d];
        aa += a[d] * a[d];
        bb += (double)b[d] * b[d];
    }
    const double eps = 1e-6;
    return dot / sqrt(fmax(aa * bb, eps * eps));
}

/* -log softmax(scale cos(a, v_k))_own over label_count vectors, in
 * double. */
static double reference_softmax_loss(const double *a, const float *labels,
                                     size_t label_count, size_t own,
                                     double scale, size_t dims)
{
    double top = -INFINITY, z[64];
    assert_true(label_count <= 64);
    for (size_t k = 0; k < label_count; k++) {
        z[k] = scale * reference_cosine(a, labels + k * dims, dims);
        top = fmax(top, z[k]);
    }
    double sum = 0;
    for (size_t k = 0; k < label_count; k++)
        sum += exp(z[k] - top);
    return log(sum) - (z[own] - top);
}

/* L = (1/n) sum_i (1 - cos(f(x_i), t_i)); patterns: n x WINDOWS. */
static double reference_loss(const double *p, const float *images, size_t n,
                             const float *targets, size_t stride,
                             unsigned char *patterns)
{
    double loss = 0, outputs[OUTPUTS];
    for (size_t i = 0; i < n; i++) {
        reference_forward(p, images + i * IMAGE, outputs,
                          patterns ? patterns + i * WINDOWS : NULL, NULL);
        loss += 1 - reference_cosine(outputs, targets + i * stride, OUTPUTS);
    }
    return loss / (double)n;
}

/* ---- Comparison --------------------------------------------------------- */

typedef struct comparison {
    const char *what;
    double largest; /* largest |fd| seen, for the floor */
    size_t count;
    double worst_relative;
    double worst_absolute;
} comparison;

/* Checks analytic against fd under the stated tolerance; floor_scale is
 * the largest |fd| of the whole check. */
static void compare(comparison *c, const char *variant, size_t index,
                    double analytic, double fd, double floor_scale)
{
    double floor = FLOOR_FRACTION * floor_scale;
    double denominator = fmax(fabs(fd), floor);
    double error = fabs(analytic - fd);
    double relative = denominator > 0 ? error / denominator : error;
    c->count++;
    if (relative > c->worst_relative)
        c->worst_relative = relative;
    if (error > c->worst_absolute)
        c->worst_absolute = error;
    if (relative > RELATIVE_TOLERANCE)
        fail_msg("%s [%s] coordinate %zu: analytic %.9g, finite difference "
                 "%.9g (relative error %.3g > %.3g, floor %.3g)",
                 c->what, variant, index, analytic, fd, relative,
                 RELATIVE_TOLERANCE, floor);
}

static void report(const comparison *c, const char *variant)
{
    print_message("  %-34s %-7s %5zu checked, worst relative %.2e, worst "
                  "absolute %.2e (scale %.2e)\n",
                  c->what, variant, c->count, c->worst_relative,
                  c->worst_absolute, c->largest);
}

/* Every variant this build and CPU run; the active one must be among them. */
static size_t available_variants(const kernel_table **tables)
{
    size_t count = 0;
    for (int i = 0; kernel_variant_names[i]; i++) {
        const kernel_table *table = kernels_by_name(kernel_variant_names[i]);
        if (table)
            tables[count++] = table;
    }
    const kernel_table *active = NULL;
    assert_int_equal(kernels_active(&active), COSNET_OK);
    int found = 0;
    for (size_t i = 0; i < count; i++)
        found |= tables[i] == active;
    assert_true(found);
    assert_string_equal(tables[0]->name, "scalar");
    return count;
}

static double uniform(random_generator *g, double low, double high)
{
    return low + (high - low) * random_uniform(g);
}

/* ---- Whole network ------------------------------------------------------ */

enum { BATCH = 3, SAMPLED_WEIGHTS = 24 };

/* Draws images (redrawn until rule 1 holds), parameters and targets. */
static void network_setup(float *parameters, double *reference_parameters,
                          float *images, float *targets, size_t *redraws)
{
    cosnet_model *model = NULL;
    assert_int_equal(
        cosnet_model_create(COSNET_ARCHITECTURE_SEED, 2024, &model), COSNET_OK);
    assert_int_equal(cosnet_model_get_parameters(model, parameters, PARAMETERS),
                     COSNET_OK);
    cosnet_model_free(model);
    random_generator g;
    random_seed(&g, 99);
    /* Non-zero biases, so that their gradients are not a special case. */
    for (int s = 0; s < 3; s++)
        for (int b = 0; b < stages[s].out_channels; b++)
            parameters[stages[s].biases + b] = (float)uniform(&g, -0.05, 0.1);
    for (size_t i = 0; i < PARAMETERS; i++)
        reference_parameters[i] = parameters[i];
    for (size_t i = 0; i < BATCH; i++) {
        /* Positive unit targets, as label vectors are. */
        double norm = 0;
        for (int d = 0; d < OUTPUTS; d++) {
            targets[i * OUTPUTS + d] = (float)uniform(&g, 0.01, 1);
            norm += (double)targets[i * OUTPUTS + d] * targets[i * OUTPUTS + d];
        }
        for (int d = 0; d < OUTPUTS; d++)
            targets[i * OUTPUTS + d] =
                (float)(targets[i * OUTPUTS + d] / sqrt(norm));
    }
    *redraws = 0;
    for (size_t i = 0; i < BATCH; i++) {
        for (;;) {
            for (int k = 0; k < IMAGE; k++)
                images[i * IMAGE + k] = (float)random_uniform(&g);
            double outputs[OUTPUTS], margin = INFINITY;
            reference_forward(reference_parameters, images + i * IMAGE, outputs,
                              NULL, &margin);
            if (margin > TAU)
                break;
            ++*redraws;
            assert_true(*redraws < 200);
        }
    }
}

static void test_network_gradient(void **state)
{
    (void)state;
    static float parameters[PARAMETERS], images[BATCH * IMAGE],
        targets[BATCH * OUTPUTS];
    static double p[PARAMETERS];
    size_t redraws;
    network_setup(parameters, p, images, targets, &redraws);
    print_message("  base point: %zu image(s) redrawn by the kink rule\n",
                  redraws);

    static unsigned char base[BATCH * WINDOWS], plus[BATCH * WINDOWS],
        minus[BATCH * WINDOWS];
    const double loss =
        reference_loss(p, images, BATCH, targets, OUTPUTS, base);

    /* Sampled coordinates: SAMPLED_WEIGHTS distinct weights and every bias
     * of each stage. */
    random_generator g;
    random_seed(&g, 7);
    size_t coordinates[3][SAMPLED_WEIGHTS + 16];
    size_t counts[3];
    for (int s = 0; s < 3; s++) {
        const size_t weights = stages[s].biases - stages[s].weights;
        size_t n = 0;
        while (n < SAMPLED_WEIGHTS) {
            size_t c = stages[s].weights + random_below(&g, weights);
            int seen = 0;
            for (size_t k = 0; k < n; k++)
                seen |= coordinates[s][k] == c;
            if (!seen)
                coordinates[s][n++] = c;
        }
        for (int b = 0; b < stages[s].out_channels; b++)
            coordinates[s][n++] = stages[s].biases + b;
        counts[s] = n;
    }

    /* Finite differences, once (they do not depend on the variant), with
     * the largest step of STEPS that crosses no kink (rule 2). */
    static const double steps[3] = {STEP, STEP / 10, STEP / 100};
    double fd[3][SAMPLED_WEIGHTS + 16];
    int usable[3][SAMPLED_WEIGHTS + 16];
    double scale[3] = {0, 0, 0};
    for (int s = 0; s < 3; s++) {
        size_t kept = 0, by_step[3] = {0, 0, 0};
        for (size_t k = 0; k < counts[s]; k++) {
            size_t c = coordinates[s][k];
            const double saved = p[c];
            usable[s][k] = 0;
            for (int t = 0; t < 3 && !usable[s][k]; t++) {
                p[c] = saved + steps[t];
                double up =
                    reference_loss(p, images, BATCH, targets, OUTPUTS, plus);
                p[c] = saved - steps[t];
                double down =
                    reference_loss(p, images, BATCH, targets, OUTPUTS, minus);
                p[c] = saved;
                if (memcmp(plus, base, sizeof base) != 0 ||
                    memcmp(minus, base, sizeof base) != 0)
                    continue;
                usable[s][k] = 1;
                fd[s][k] = (up - down) / (2 * steps[t]);
                by_step[t]++;
                kept++;
                scale[s] = fmax(scale[s], fabs(fd[s][k]));
            }
        }
        print_message("  stage %d: %zu of %zu coordinates kink-free (h = %g: "
                      "%zu, %g: %zu, %g: %zu)\n",
                      s + 1, kept, counts[s], steps[0], by_step[0], steps[1],
                      by_step[1], steps[2], by_step[2]);
        assert_true(kept * 10 >= counts[s] * 7);
        assert_true(scale[s] > 0);
    }

    const kernel_table *tables[8];
    size_t variants = available_variants(tables);
    architecture_description arch;
    assert_int_equal(architecture_find(COSNET_ARCHITECTURE_SEED, &arch),
                     COSNET_OK);
    for (size_t v = 0; v < variants; v++) {
        network_workspace *workspace = NULL, *forward = NULL;
        assert_int_equal(
            network_workspace_create(&arch, tables[v], 1, &workspace),
            COSNET_OK);
        assert_int_equal(
            network_workspace_create(&arch, tables[v], 0, &forward), COSNET_OK);
        static float gradient[PARAMETERS];
        float outputs[BATCH * OUTPUTS];
        float library_loss =
            network_loss_gradient(workspace, parameters, images, BATCH, targets,
                                  OUTPUTS, gradient, outputs);
        /* Loss and outputs against the reference. */
        assert_true(fabs(library_loss - loss) <= 1e-5 * fabs(loss) + 1e-6);
        float predicted[BATCH * OUTPUTS];
        network_forward(forward, parameters, images, BATCH, predicted);
        /* Training and prediction run the same forward: same bits. */
        assert_memory_equal(predicted, outputs, sizeof predicted);
        double worst_output = 0;
        for (size_t i = 0; i < BATCH; i++) {
            double reference[OUTPUTS];
            reference_forward(p, images + i * IMAGE, reference, NULL, NULL);
            for (int d = 0; d < OUTPUTS; d++) {
                double error = fabs(outputs[i * OUTPUTS + d] - reference[d]);
                worst_output = fmax(worst_output, error);
                assert_true(error <= 1e-5 * fabs(reference[d]) + 1e-6);
            }
        }
        print_message("  %-7s loss %.9f (reference %.9f), worst output "
                      "error %.2e\n",
                      tables[v]->name, library_loss, loss, worst_output);
        for (int s = 0; s < 3; s++) {
            char what[64];
            snprintf(what, sizeof what, "network, stage %d", s + 1);
            comparison c = {what, scale[s], 0, 0, 0};
            for (size_t k = 0; k < counts[s]; k++)
                if (usable[s][k])
                    compare(&c, tables[v]->name, coordinates[s][k],
                            gradient[coordinates[s][k]], fd[s][k], scale[s]);
            report(&c, tables[v]->name);
        }
        network_workspace_free(forward);
        network_workspace_free(workspace);
    }
}

/* Batches longer than a chunk, and a shared target (stride 0): the summed
 * gradient equals the mean of single-image gradients. */
static void test_network_gradient_chunks(void **state)
{
    (void)state;
    architecture_description arch;
    assert_int_equal(architecture_find(COSNET_ARCHITECTURE_SEED, &arch),
                     COSNET_OK);
    enum { N = 2 * 4 + 1 };
    assert_int_equal(arch.chunk, 4); /* N spans three chunks */
    static float parameters[PARAMETERS], images[N * IMAGE], single[PARAMETERS],
        whole[PARAMETERS];
    static double summed[PARAMETERS];
    cosnet_model *model = NULL;
    assert_int_equal(cosnet_model_create(COSNET_ARCHITECTURE_SEED, 5, &model),
                     COSNET_OK);
    assert_int_equal(cosnet_model_get_parameters(model, parameters, PARAMETERS),
                     COSNET_OK);
    cosnet_model_free(model);
    random_generator g;
    random_seed(&g, 6);
    for (size_t i = 0; i < N * IMAGE; i++)
        images[i] = (float)random_uniform(&g);
    float target[OUTPUTS];
    for (int d = 0; d < OUTPUTS; d++)
        target[d] = 0.2f;
    const kernel_table *tables[8];
    size_t variants = available_variants(tables);
    for (size_t v = 0; v < variants; v++) {
        network_workspace *workspace = NULL;
        assert_int_equal(
            network_workspace_create(&arch, tables[v], 1, &workspace),
            COSNET_OK);
        float loss = network_loss_gradient(workspace, parameters, images, N,
                                           target, 0, whole, NULL);
        memset(summed, 0, sizeof summed);
        double loss_sum = 0;
        for (size_t i = 0; i < N; i++) {
            loss_sum +=
                network_loss_gradient(workspace, parameters, images + i * IMAGE,
                                      1, target, 0, single, NULL);
            for (size_t k = 0; k < PARAMETERS; k++)
                summed[k] += single[k] / (double)N;
        }
        assert_true(fabs(loss - loss_sum / N) <= 1e-6);
        double largest = 0;
        for (size_t k = 0; k < PARAMETERS; k++)
            largest = fmax(largest, fabs(summed[k]));
        comparison c = {"network, batch = mean of singles", largest, 0, 0, 0};
        for (size_t k = 0; k < PARAMETERS; k++)
            compare(&c, tables[v]->name, k, whole[k], summed[k], largest);
        report(&c, tables[v]->name);
        network_workspace_free(workspace);
    }
}

/* The deep classifier's gradient of 8 images does not depend on how the
 * images are cut into chunks (each chunk's gradient is added into the
 * first's), beyond rounding: chunks of 4, 5 (its own: 5 + 3) and 8 against
 * one image a chunk, every layer's weights and biases within 1e-5 of their
 * largest entry. A chunk dropped, counted twice or scaled wrongly moves
 * them by a whole image's share. */
static void test_deep_gradient_chunks(void **state)
{
    (void)state;
    architecture_description arch;
    assert_int_equal(
        architecture_find(COSNET_ARCHITECTURE_DEEP_CLASSIFIER, &arch),
        COSNET_OK);
    assert_int_equal(arch.chunk, 5);
    enum { COUNT = 8, DIMS = 25 };
    const size_t n = arch.parameter_count;
    const size_t image_size = architecture_input_size(&arch);
    float *parameters = malloc(sizeof(float) * n);
    float *reference = malloc(sizeof(float) * n);
    float *gradient = malloc(sizeof(float) * n);
    float *images = malloc(sizeof(float) * COUNT * image_size);
    float targets[COUNT * DIMS];
    assert_true(parameters && reference && gradient && images);
    random_generator g;
    random_seed(&g, 8);
    for (size_t k = 0; k < n; k++)
        parameters[k] = (float)(0.05 * random_normal(&g));
    for (size_t i = 0; i < COUNT * image_size; i++)
        images[i] = random_below(&g, 3) == 0 ? (float)random_uniform(&g) : 0.0f;
    for (size_t i = 0; i < COUNT * DIMS; i++)
        targets[i] = (float)random_normal(&g);
    const kernel_table *tables[8];
    const size_t variants = available_variants(tables);
    static const size_t chunks[] = {1, 4, 5, 8};
    for (size_t v = 0; v < variants; v++)
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            architecture_description cut = arch;
            cut.chunk = chunks[c];
            network_workspace *workspace = NULL;
            assert_int_equal(
                network_workspace_create(&cut, tables[v], 1, &workspace),
                COSNET_OK);
            network_loss_gradient(workspace, parameters, images, COUNT, targets,
                                  DIMS, c == 0 ? reference : gradient, NULL);
            network_workspace_free(workspace);
            if (c == 0)
                continue;
            for (int l = 0; l < arch.layer_count; l++) {
                const network_layer *layer = &arch.layers[l];
                if (layer->weight_count == 0)
                    continue;
                const size_t first[2] = {layer->weight_offset,
                                         layer->bias_offset};
                const size_t count[2] = {layer->weight_count,
                                         (size_t)layer->out_channels};
                for (int part = 0; part < 2; part++) {
                    /* Comparisons, not fmax, which would also drop a NaN
                     * (and GCC 12's AArch64 vectoriser fails on these fmax
                     * reductions: internal compiler error). */
                    double largest = 0, worst = 0;
                    for (size_t k = first[part]; k < first[part] + count[part];
                         k++) {
                        const double size = fabs(reference[k]),
                                     error = fabs(gradient[k] - reference[k]);
                        largest = size > largest ? size : largest;
                        worst = error > worst || isnan(error) ? error : worst;
                    }
                    if (!(largest > 0) || !(worst <= 1e-5 * largest))
                        fail_msg("%s: chunks of %zu, layer %d %s: differs by "
                                 "%g where the largest is %g",
                                 tables[v]->name, chunks[c], l,
                                 part ? "biases" : "weights", worst, largest);
                }
            }
        }
    free(images);
    free(gradient);
    free(reference);
    free(parameters);
}

/* ---- Predictions run the dense tail on groups ----------------------------
 * A prediction runs the layers before a network's dense tail chunk by chunk
 * and the tail on groups of several chunks. The outputs must not depend on
 * it: all images at once, one at a time, and the training forward (chunk by
 * chunk through every layer) give the same values, over groups, a last
 * partial group and a last partial chunk. The training forward runs
 * `undropped`: the list without its dropout layers, which predictions
 * skip (dropout has no parameters, so the two share theirs). */
static void check_prediction_groups(const architecture_description *arch,
                                    const architecture_description *undropped,
                                    const kernel_table *table,
                                    const float *parameters)
{
    network_workspace *predict = NULL, *train = NULL;
    assert_int_equal(network_workspace_create(arch, table, 0, &predict),
                     COSNET_OK);
    assert_int_equal(network_workspace_create(undropped, table, 1, &train),
                     COSNET_OK);
    const size_t group = network_dense_tail_group(predict);
    /* Otherwise this would test nothing new. */
    assert_true(group >= 2 * arch->chunk && group % arch->chunk == 0);
    const size_t count = 2 * group + arch->chunk + 2;
    const size_t input = architecture_input_size(arch),
                 dims = arch->output_dims;
    float *images = malloc(sizeof(float) * count * input);
    float *all = malloc(sizeof(float) * (count * dims + 1));
    float *alone = malloc(sizeof(float) * dims);
    float *trained = malloc(sizeof(float) * count * dims);
    float *targets = malloc(sizeof(float) * count * dims);
    float *gradient = malloc(sizeof(float) * arch->parameter_count);
    assert_true(images && all && alone && trained && targets && gradient);
    random_generator g;
    random_seed(&g, 21);
    for (size_t k = 0; k < count * input; k++)
        images[k] = random_below(&g, 3) == 0 ? (float)random_uniform(&g) : 0.0f;
    for (size_t k = 0; k < count * dims; k++)
        targets[k] = (float)random_normal(&g);
    all[count * dims] = -7.0f;
    network_forward(predict, parameters, images, count, all);
    assert_true(all[count * dims] == -7.0f); /* nothing past the end */
    size_t positive = 0;
    for (size_t i = 0; i < count; i++) {
        network_forward(predict, parameters, images + i * input, 1, alone);
        assert_memory_equal(alone, all + i * dims, sizeof(float) * dims);
        for (size_t d = 0; d < dims; d++)
            positive += all[i * dims + d] != 0.0f;
    }
    assert_true(positive > count); /* not a network of dead units */
    network_loss_gradient(train, parameters, images, count, targets, dims,
                          gradient, trained);
    double worst = 0;
    for (size_t k = 0; k < count * dims; k++) {
        const double error = fabs((double)all[k] - trained[k]);
        worst = error > worst || isnan(error) ? error : worst;
        if (!(error <= 1e-5 * fabs(trained[k]) + 1e-6))
            fail_msg("%s: output %zu predicted %.9g, trained %.9g", table->name,
                     k, all[k], trained[k]);
    }
    print_message("  %-7s %-9s group %zu (chunk %zu), %zu images: worst "
                  "difference from the training forward %.2e\n",
                  table->name, arch->name, group, arch->chunk, count, worst);
    free(gradient);
    free(targets);
    free(trained);
    free(alone);
    free(all);
    free(images);
    network_workspace_free(train);
    network_workspace_free(predict);
}

/* ---- Training takes the tail's weight gradients by groups ---------------
 * Training runs the dense tail's weight gradients once per group of
 * chunks, each chunk's sums added in order: the same bits as once per
 * chunk, with the group's members spread over two groups, a partial group
 * and a partial chunk (dropout in the tail included: its masks follow the
 * images). */
static void check_training_groups(const architecture_description *arch,
                                  const kernel_table *table,
                                  const float *parameters)
{
    network_workspace *train = NULL;
    assert_int_equal(network_workspace_create(arch, table, 1, &train),
                     COSNET_OK);
    const size_t group = network_dense_tail_group(train);
    assert_true(group >= 2 * arch->chunk && group % arch->chunk == 0);
    const size_t count = group + arch->chunk + 2;
    const size_t input = architecture_input_size(arch),
                 dims = arch->output_dims,
                 parameter_count = arch->parameter_count;
    float *images = malloc(sizeof(float) * count * input);
    float *targets = malloc(sizeof(float) * count * dims);
    float *by_groups = malloc(sizeof(float) * parameter_count);
    float *by_chunks = malloc(sizeof(float) * parameter_count);
    float *outputs = malloc(sizeof(float) * count * dims);
    float *outputs_by_chunks = malloc(sizeof(float) * count * dims);
    assert_true(images && targets && by_groups && by_chunks && outputs &&
                outputs_by_chunks);
    random_generator g;
    random_seed(&g, 22);
    for (size_t k = 0; k < count * input; k++)
        images[k] = random_below(&g, 3) == 0 ? (float)random_uniform(&g) : 0.0f;
    for (size_t k = 0; k < count * dims; k++)
        targets[k] = (float)random_normal(&g);
    network_set_dropout_seed(train, 23);
    const float loss = network_loss_gradient(train, parameters, images, count,
                                             targets, dims, by_groups, outputs);
    network_set_tail_by_groups(train, 0);
    const float loss_by_chunks =
        network_loss_gradient(train, parameters, images, count, targets, dims,
                              by_chunks, outputs_by_chunks);
    assert_true(memcmp(&loss, &loss_by_chunks, sizeof loss) == 0);
    assert_memory_equal(outputs, outputs_by_chunks,
                        sizeof(float) * count * dims);
    size_t nonzero = 0;
    for (size_t k = 0; k < parameter_count; k++) {
        if (memcmp(&by_groups[k], &by_chunks[k], sizeof(float)) != 0)
            fail_msg("%s %s: gradient %zu is %.9g by groups, %.9g by chunks",
                     table->name, arch->name, k, by_groups[k], by_chunks[k]);
        nonzero += by_groups[k] != 0.0f;
    }
    assert_true(nonzero > parameter_count / 4); /* a gradient to compare */
    /* Deferred (the trainer's way): the tail's inputs and output gradients
     * to our buffers, its weight gradients then taken here, the chunks as
     * the segments of one piece. */
    const int tail = network_dense_tail(train), last = arch->layer_count - 1;
    assert_true(tail < arch->layer_count);
    assert_int_equal(network_tail_parameters(train),
                     arch->layers[tail].kind == LAYER_DENSE
                         ? arch->layers[tail].weight_offset
                         : arch->layers[tail + 1].weight_offset);
    float *inputs[ARCHITECTURE_MAX_LAYERS] = {NULL};
    float *gradients[ARCHITECTURE_MAX_LAYERS] = {NULL};
    for (int l = tail; l <= last; l++) {
        inputs[l] = malloc(sizeof(float) * count * arch->layers[l].in_size);
        assert_non_null(inputs[l]);
        if (arch->layers[l].kind == LAYER_DENSE) {
            gradients[l] =
                malloc(sizeof(float) * count * arch->layers[l].out_size);
            assert_non_null(gradients[l]);
        }
    }
    float *deferred = by_groups; /* its tail entries must be rewritten */
    memset(deferred, 0xff, sizeof(float) * parameter_count); /* NaN */
    const float loss_deferred = network_loss_gradient_deferred(
        train, parameters, images, count, count, targets, dims, deferred, NULL,
        inputs, gradients);
    assert_true(memcmp(&loss, &loss_deferred, sizeof loss) == 0);
    size_t piece_segments[1] = {0}, segment_images[64];
    for (size_t done = 0; done < count; done += arch->chunk) {
        assert_true(piece_segments[0] < 64);
        segment_images[piece_segments[0]++] =
            count - done < arch->chunk ? count - done : arch->chunk;
    }
    const dense_summation summation = {1, piece_segments, segment_images};
    for (int l = tail; l <= last; l++) {
        const network_layer *layer = &arch->layers[l];
        if (layer->kind == LAYER_DENSE)
            table->dense_backward_weights_summed(
                &summation, 0, 0, layer->out_size, layer->in_size,
                layer->out_size, inputs[l], gradients[l],
                deferred + layer->weight_offset, deferred + layer->bias_offset);
        free(inputs[l]);
        free(gradients[l]);
    }
    for (size_t k = 0; k < parameter_count; k++)
        if (memcmp(&deferred[k], &by_chunks[k], sizeof(float)) != 0)
            fail_msg("%s %s: gradient %zu is %.9g deferred, %.9g by chunks",
                     table->name, arch->name, k, deferred[k], by_chunks[k]);
    print_message("  %-7s %-9s training group %zu (chunk %zu), %zu images: "
                  "the same bits by groups, by chunks and deferred\n",
                  table->name, arch->name, group, arch->chunk, count);
    free(outputs_by_chunks);
    free(outputs);
    free(by_chunks);
    free(by_groups);
    free(targets);
    free(images);
    network_workspace_free(train);
}

static void test_prediction_groups(void **state)
{
    (void)state;
    architecture_description lists[2], undropped[2];
    assert_int_equal(
        architecture_find(COSNET_ARCHITECTURE_DEEP_CLASSIFIER, &lists[0]),
        COSNET_OK);
    undropped[0] = lists[0];
    /* Dropout in the tail (a copy when predicting), a conv right before
     * it. */
    static const char *const texts[2] = {
        "conv3x3 4 pad 1, relu, maxpool2x2, conv3x3 3 pad 1, relu, flatten, "
        "dense 32, relu, dropout 0.5, dense 5",
        "conv3x3 4 pad 1, relu, maxpool2x2, conv3x3 3 pad 1, relu, flatten, "
        "dense 32, relu, dense 5"};
    for (int t = 0; t < 2; t++) {
        layer_spec specs[ARCHITECTURE_MAX_LAYERS];
        size_t spec_count = 0;
        assert_int_equal(layer_text_parse(texts[t], specs, &spec_count),
                         COSNET_OK);
        assert_int_equal(architecture_build((cosnet_architecture)0, "list", 1,
                                            12, 12, specs, spec_count,
                                            t ? &undropped[1] : &lists[1]),
                         COSNET_OK);
    }
    assert_int_equal(undropped[1].parameter_count, lists[1].parameter_count);
    const kernel_table *tables[8];
    const size_t variants = available_variants(tables);
    for (size_t a = 0; a < 2; a++) {
        const size_t n = lists[a].parameter_count;
        float *parameters = malloc(sizeof(float) * n);
        assert_non_null(parameters);
        random_generator g;
        random_seed(&g, 20 + a);
        for (int l = 0; l < lists[a].layer_count; l++) {
            const network_layer *layer = &lists[a].layers[l];
            if (layer->weight_count == 0)
                continue;
            /* Glorot-like weights and biases mostly positive, so that
             * values survive every ReLU. */
            const double fan =
                (double)layer->weight_count / (double)layer->out_channels;
            for (size_t k = 0; k < layer->weight_count; k++)
                parameters[layer->weight_offset + k] =
                    (float)(random_normal(&g) / sqrt(fan));
            for (int c = 0; c < layer->out_channels; c++)
                parameters[layer->bias_offset + (size_t)c] =
                    (float)uniform(&g, -0.05, 0.2);
        }
        for (size_t v = 0; v < variants; v++) {
            check_prediction_groups(&lists[a], &undropped[a], tables[v],
                                    parameters);
            check_training_groups(&lists[a], tables[v], parameters);
        }
        free(parameters);
    }
}

/* ---- Packed weights kept for a generation -------------------------------
 * The trainer declares a generation per batch so that the pieces of a batch
 * pack the convolution weights once. Changing the parameters under a new
 * generation, or after a prediction, must give exactly what a fresh
 * workspace gives; under the same generation the packed weights are reused
 * (the old conv weights meet the new biases, so the result differs). */
static float generation_loss(network_workspace *workspace,
                             const float *parameters, const float *images,
                             const float *target, float *gradient)
{
    return network_loss_gradient(workspace, parameters, images, 5, target, 0,
                                 gradient, NULL);
}

static void test_weights_generation(void **state)
{
    (void)state;
    architecture_description arch;
    assert_int_equal(architecture_find(COSNET_ARCHITECTURE_SEED, &arch),
                     COSNET_OK);
    static float parameters[PARAMETERS], changed[PARAMETERS], images[5 * IMAGE],
        gradient[PARAMETERS], expected[PARAMETERS], outputs[5 * OUTPUTS];
    cosnet_model *model = NULL;
    assert_int_equal(cosnet_model_create(COSNET_ARCHITECTURE_SEED, 8, &model),
                     COSNET_OK);
    assert_int_equal(cosnet_model_get_parameters(model, parameters, PARAMETERS),
                     COSNET_OK);
    cosnet_model_free(model);
    random_generator g;
    random_seed(&g, 9);
    for (size_t i = 0; i < 5 * IMAGE; i++)
        images[i] = (float)random_uniform(&g);
    for (size_t k = 0; k < PARAMETERS; k++)
        changed[k] = parameters[k] * 0.75f + 0.01f;
    float target[OUTPUTS];
    for (int d = 0; d < OUTPUTS; d++)
        target[d] = d % 3 ? 0.3f : -0.2f;
    const kernel_table *tables[8];
    size_t variants = available_variants(tables);
    for (size_t v = 0; v < variants; v++) {
        network_workspace *fresh = NULL, *kept = NULL;
        assert_int_equal(network_workspace_create(&arch, tables[v], 1, &fresh),
                         COSNET_OK);
        assert_int_equal(network_workspace_create(&arch, tables[v], 1, &kept),
                         COSNET_OK);
        float work[PARAMETERS];
        memcpy(work, parameters, sizeof work);
        const float loss_before =
            generation_loss(fresh, parameters, images, target, expected);
        network_set_weights_generation(kept, 1);
        assert_true(generation_loss(kept, work, images, target, gradient) ==
                    loss_before);
        assert_memory_equal(gradient, expected, sizeof gradient);

        /* New values, same generation: the first packing is reused. */
        memcpy(work, changed, sizeof work);
        const float loss_changed =
            generation_loss(fresh, changed, images, target, expected);
        assert_true(generation_loss(kept, work, images, target, gradient) !=
                    loss_changed);

        /* A new generation packs the new values. */
        network_set_weights_generation(kept, 2);
        assert_true(generation_loss(kept, work, images, target, gradient) ==
                    loss_changed);
        assert_memory_equal(gradient, expected, sizeof gradient);

        /* A prediction with other parameters in between packs anew. */
        network_forward(kept, parameters, images, 5, outputs);
        assert_true(generation_loss(kept, work, images, target, gradient) ==
                    loss_changed);
        assert_memory_equal(gradient, expected, sizeof gradient);

        /* Generation 0 packs at every call. */
        network_set_weights_generation(kept, 0);
        memcpy(work, parameters, sizeof work);
        assert_true(generation_loss(kept, work, images, target, gradient) ==
                    loss_before);
        network_workspace_free(fresh);
        network_workspace_free(kept);
    }
}

/* ---- Any layer list ------------------------------------------------------
 * The same check for the layer lists the library can build beyond the seed
 * network (dense heads, convolutions without pools, several widths): a
 * double forward written here from the description alone, the activation
 * pattern (every ReLU's sign and every pool window's winner) recorded so
 * that a difference is only taken where w - h, w and w + h share it. */

typedef struct pattern {
    int *bits;
    size_t count, capacity;
} pattern;

static void pattern_push(pattern *p, int value)
{
    if (!p)
        return;
    if (p->count == p->capacity) {
        p->capacity = p->capacity ? 2 * p->capacity : 1024;
        p->bits = realloc(p->bits, p->capacity * sizeof *p->bits);
        assert_non_null(p->bits);
    }
    p->bits[p->count++] = value;
}

/* Seed of the dropout masks in the layer-list checks: the library's passes
 * and list_loss below draw the same masks from it (network_dropout_mask). */
#define LIST_DROPOUT_SEED 5

/* The loss (1/n) sum (1 - cos(f(x_i), t_i)) in double. */
/* When scale > 0, list_loss and check_layer_list use the softmax loss of
 * scaled cosines against these label vectors instead of the cosine loss. */
static struct {
    double scale;
    const float *labels;
    size_t label_count;
    const uint32_t *classes;
} list_softmax;

static double list_loss(const architecture_description *arch,
                        const double *parameters, const float *images, size_t n,
                        const float *targets, pattern *record)
{
    const size_t input = architecture_input_size(arch);
    size_t largest = input;
    for (int l = 0; l < arch->layer_count; l++)
        if (arch->layers[l].out_size > largest)
            largest = arch->layers[l].out_size;
    double *a = malloc(largest * sizeof *a), *b = malloc(largest * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    double loss = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < input; k++)
            a[k] = images[i * input + k];
        for (int l = 0; l < arch->layer_count; l++) {
            const network_layer *layer = &arch->layers[l];
            const double *w = parameters + layer->weight_offset;
            const double *bias = parameters + layer->bias_offset;
            const int cin = layer->in_channels, h = layer->in_height,
                      wd = layer->in_width;
            const int ho = layer->out_height, wo = layer->out_width;
            if (layer->kind == LAYER_CONV3X3) {
                const int pad = layer->shape.pad;
                for (int co = 0; co < layer->out_channels; co++)
                    for (int y = 0; y < ho; y++)
                        for (int x = 0; x < wo; x++) {
                            double sum = bias[co];
                            for (int ci = 0; ci < cin; ci++)
                                for (int kh = 0; kh < 3; kh++)
                                    for (int kw = 0; kw < 3; kw++) {
                                        int iy = y + kh - pad,
                                            ix = x + kw - pad;
                                        if (iy < 0 || iy >= h || ix < 0 ||
                                            ix >= wd)
                                            continue;
                                        sum +=
                                            w[((co * cin + ci) * 3 + kh) * 3 +
                                              kw] *
                                            a[(ci * h + iy) * wd + ix];
                                    }
                            if (layer->relu) {
                                pattern_push(record, sum > 0);
                                sum = sum > 0 ? sum : 0;
                            }
                            b[(co * ho + y) * wo + x] = sum;
                        }
            } else if (layer->kind == LAYER_DROPOUT) {
                uint8_t *kept = malloc(layer->out_size);
                assert_non_null(kept);
                network_dropout_mask(LIST_DROPOUT_SEED, i, l, layer->dropout,
                                     layer->out_size, kept);
                for (size_t j = 0; j < layer->out_size; j++)
                    b[j] = kept[j] ? a[j] * 1000.0 / (1000.0 - layer->dropout)
                                   : 0.0;
                free(kept);
            } else if (layer->kind == LAYER_MAXPOOL2X2) {
                for (int c = 0; c < cin; c++)
                    for (int y = 0; y < ho; y++)
                        for (int x = 0; x < wo; x++) {
                            int best = 0;
                            double value = -INFINITY;
                            for (int q = 0; q < 4; q++) {
                                double v = a[(c * h + 2 * y + q / 2) * wd +
                                             2 * x + q % 2];
                                if (v > value)
                                    value = v, best = q;
                            }
                            pattern_push(record, best);
                            b[(c * ho + y) * wo + x] = value;
                        }
            } else {
                for (size_t o = 0; o < layer->out_size; o++) {
                    double sum = bias[o];
                    for (size_t j = 0; j < layer->in_size; j++)
                        sum += w[o * layer->in_size + j] * a[j];
                    if (layer->relu) {
                        pattern_push(record, sum > 0);
                        sum = sum > 0 ? sum : 0;
                    }
                    b[o] = sum;
                }
            }
            double *swap = a;
            a = b, b = swap;
        }
        if (list_softmax.scale > 0) {
            loss += reference_softmax_loss(
                        a, list_softmax.labels, list_softmax.label_count,
                        list_softmax.classes[i], list_softmax.scale,
                        arch->output_dims) /
                    (double)n;
            continue;
        }
        const float *t = targets + i * arch->output_dims;
        double dot = 0, aa = 0, tt = 0;
        for (size_t d = 0; d < arch->output_dims; d++) {
            dot += a[d] * t[d];
            aa += a[d] * a[d];
            tt += (double)t[d] * t[d];
        }
        loss += (1 - dot / sqrt(fmax(aa * tt, 1e-12))) / (double)n;
    }
    free(a);
    free(b);
    return loss;
}

/* Central difference of coordinate k with the largest step whose two
 * evaluations keep the base activation pattern; 0 if none does. */
static int pattern_difference(const architecture_description *arch, double *p,
                              size_t k, const float *images, size_t n,
                              const float *targets, const pattern *base,
                              double *fd)
{
    const double steps[3] = {1e-3, 1e-4, 1e-5};
    for (int s = 0; s < 3; s++) {
        const double saved = p[k];
        pattern up_pattern = {NULL, 0, 0}, down_pattern = {NULL, 0, 0};
        p[k] = saved + steps[s];
        double up = list_loss(arch, p, images, n, targets, &up_pattern);
        p[k] = saved - steps[s];
        double down = list_loss(arch, p, images, n, targets, &down_pattern);
        p[k] = saved;
        int same = up_pattern.count == base->count &&
                   down_pattern.count == base->count &&
                   memcmp(up_pattern.bits, base->bits,
                          base->count * sizeof(int)) == 0 &&
                   memcmp(down_pattern.bits, base->bits,
                          base->count * sizeof(int)) == 0;
        free(up_pattern.bits);
        free(down_pattern.bits);
        if (same) {
            *fd = (up - down) / (2 * steps[s]);
            return 1;
        }
    }
    return 0;
}

/* Checks `per_layer` sampled weights and every bias (up to `per_layer`)
 * of every parameterised layer of `text` on n images, with the cosine loss
 * (softmax_scale 0) or the softmax loss of cosines scaled by softmax_scale
 * against 5 random label vectors. */
static void check_layer_list(const char *text, int channels, int side, size_t n,
                             int per_layer, double softmax_scale)
{
    cosnet_model *model = NULL;
    assert_int_equal(cosnet_model_create_layers(text, (size_t)channels,
                                                (size_t)side, (size_t)side, 11,
                                                &model),
                     COSNET_OK);
    const size_t count = cosnet_model_parameter_count(model);
    float *parameters = malloc(count * sizeof *parameters);
    double *p = malloc(count * sizeof *p);
    float *gradient = malloc(count * sizeof *gradient);
    assert_int_equal(cosnet_model_get_parameters(model, parameters, count),
                     COSNET_OK);
    architecture_description arch;
    {
        /* The model's description, rebuilt from its own text. */
        layer_spec specs[ARCHITECTURE_MAX_LAYERS];
        size_t spec_count = 0;
        assert_int_equal(
            layer_text_parse(cosnet_model_layers(model), specs, &spec_count),
            COSNET_OK);
        assert_int_equal(architecture_build((cosnet_architecture)0, "check",
                                            channels, side, side, specs,
                                            spec_count, &arch),
                         COSNET_OK);
    }
    random_generator g;
    random_seed(&g, 12);
    /* Biases away from zero, so ReLUs are neither all dead nor all on. */
    for (int l = 0; l < arch.layer_count; l++)
        for (int c = 0;
             c < arch.layers[l].out_channels && arch.layers[l].weight_count > 0;
             c++)
            parameters[arch.layers[l].bias_offset + (size_t)c] =
                (float)uniform(&g, -0.1, 0.2);
    for (size_t k = 0; k < count; k++)
        p[k] = parameters[k];
    const size_t input = architecture_input_size(&arch);
    float *images = malloc(n * input * sizeof *images);
    float *targets = malloc(n * arch.output_dims * sizeof *targets);
    for (size_t k = 0; k < n * input; k++)
        images[k] = (float)random_uniform(&g);
    for (size_t k = 0; k < n * arch.output_dims; k++)
        targets[k] = (float)uniform(&g, 0.0, 1.0);
    enum { LABELS = 5 };
    float *labels = malloc(LABELS * arch.output_dims * sizeof *labels);
    uint32_t *classes = malloc(n * sizeof *classes);
    assert_non_null(labels);
    assert_non_null(classes);
    for (size_t k = 0; k < LABELS * arch.output_dims; k++)
        labels[k] = (float)uniform(&g, -0.2, 1.0);
    for (size_t i = 0; i < n; i++)
        classes[i] = (uint32_t)random_below(&g, LABELS);
    list_softmax.scale = softmax_scale;
    list_softmax.labels = labels;
    list_softmax.label_count = LABELS;
    list_softmax.classes = classes;
    pattern base = {NULL, 0, 0};
    const double loss = list_loss(&arch, p, images, n, targets, &base);

    /* The sampled coordinates and their differences, once. */
    size_t coordinates[64 * ARCHITECTURE_MAX_LAYERS];
    double fd[64 * ARCHITECTURE_MAX_LAYERS];
    int layer_of[64 * ARCHITECTURE_MAX_LAYERS];
    size_t sampled = 0, kept = 0;
    double scale = 0;
    assert_true(per_layer <= 32);
    for (int l = 0; l < arch.layer_count; l++) {
        const network_layer *layer = &arch.layers[l];
        if (layer->weight_count == 0)
            continue;
        size_t tried = 0, survived = 0;
        for (int j = 0; j < 2 * per_layer; j++) {
            size_t k;
            if (j < per_layer)
                k = layer->weight_offset +
                    (size_t)random_below(&g, layer->weight_count);
            else if (j - per_layer < layer->out_channels)
                k = layer->bias_offset + (size_t)(j - per_layer);
            else
                break;
            tried++;
            double difference;
            if (!pattern_difference(&arch, p, k, images, n, targets, &base,
                                    &difference))
                continue;
            survived++;
            coordinates[kept] = k;
            fd[kept] = difference;
            layer_of[kept] = l;
            scale = fmax(scale, fabs(difference));
            kept++;
        }
        sampled += tried;
        /* The check cannot become vacuous. */
        if (survived * 10 < tried * 7)
            fail_msg("%s: layer %d: only %zu of %zu coordinates away from "
                     "kinks",
                     text, l, survived, tried);
    }

    const kernel_table *tables[8];
    size_t variants = available_variants(tables);
    for (size_t v = 0; v < variants; v++) {
        network_workspace *workspace = NULL;
        assert_int_equal(
            network_workspace_create(&arch, tables[v], 1, &workspace),
            COSNET_OK);
        network_set_dropout_seed(workspace, LIST_DROPOUT_SEED);
        network_set_softmax_loss(workspace, (float)softmax_scale, labels,
                                 LABELS, classes);
        float library_loss =
            network_loss_gradient(workspace, parameters, images, n, targets,
                                  arch.output_dims, gradient, NULL);
        network_workspace_free(workspace);
        assert_true(fabs(library_loss - loss) <= 1e-5 * fabs(loss) + 1e-6);
        char what[96];
        snprintf(what, sizeof what, "list of %d layers, %zu sampled%s",
                 arch.layer_count, sampled,
                 softmax_scale > 0 ? ", softmax" : "");
        comparison c = {what, scale, 0, 0, 0};
        for (size_t i = 0; i < kept; i++)
            compare(&c, tables[v]->name, coordinates[i],
                    gradient[coordinates[i]], fd[i], scale);
        report(&c, tables[v]->name);
        (void)layer_of;
    }
    list_softmax.scale = 0;
    free(base.bits);
    free(images);
    free(targets);
    free(labels);
    free(classes);
    free(parameters);
    free(p);
    free(gradient);
    cosnet_model_free(model);
}

/* The dropout masks: the stated fraction dropped (within 1% on 2^18
 * draws), a function of (seed, image, layer) alone. */
static void test_dropout_masks(void **state)
{
    (void)state;
    enum { N = 1 << 18 };
    uint8_t *kept = malloc(N), *again = malloc(N);
    assert_non_null(kept);
    assert_non_null(again);
    const unsigned fractions[3] = {100, 500, 900};
    for (int f = 0; f < 3; f++) {
        network_dropout_mask(7, 3, 2, fractions[f], N, kept);
        size_t dropped = 0;
        for (size_t j = 0; j < N; j++)
            dropped += !kept[j];
        const double share = (double)dropped / N;
        if (fabs(share - fractions[f] / 1000.0) > 0.01)
            fail_msg("dropout %u/1000: dropped %.4f", fractions[f], share);
        network_dropout_mask(7, 3, 2, fractions[f], N, again);
        assert_memory_equal(kept, again, N);
        network_dropout_mask(7, 4, 2, fractions[f], N, again);
        assert_memory_not_equal(kept, again, N);
        network_dropout_mask(7, 3, 1, fractions[f], N, again);
        assert_memory_not_equal(kept, again, N);
        network_dropout_mask(8, 3, 2, fractions[f], N, again);
        assert_memory_not_equal(kept, again, N);
    }
    free(kept);
    free(again);
}

/* Layer lists checked with both losses. */
#define LIST_DENSE_HEAD                                                        \
    "conv3x3 3 pad 1, relu, maxpool2x2, flatten, dense 6, relu, dense 5"
#define LIST_CONVS_WITHOUT_POOL                                                \
    "conv3x3 4 pad 0, relu, conv3x3 3 pad 2, maxpool2x2, dense 7, relu, "      \
    "dense 4"
#define LIST_DEEP_CLASSIFIER                                                   \
    "conv3x3 16 pad 1, relu, maxpool2x2, conv3x3 32 pad 1, relu, conv3x3 32 "  \
    "pad 1, relu, maxpool2x2, flatten, dense 128, relu, dense 25"

static void test_layer_list_gradients(void **state)
{
    (void)state;
    /* A dense head after a conv and a pool. */
    check_layer_list(LIST_DENSE_HEAD, 1, 8, 3, 16, 0);
    /* Convolutions without pools between them (the ReLU derivative on a
     * kept output), no ReLU before a pool, two input channels, pad 0. */
    check_layer_list(LIST_CONVS_WITHOUT_POOL, 2, 9, 3, 16, 0);
    /* Dropout after a pool (spatial) and inside the dense head, on more
     * images than one chunk holds: the masks follow the image, not the
     * chunk. */
    check_layer_list("conv3x3 3 pad 1, relu, maxpool2x2, dropout 0.25, "
                     "flatten, dense 6, relu, dropout 0.5, dense 5",
                     1, 8, 20, 16, 0);
    /* Dense layers only. */
    check_layer_list("flatten, dense 9, relu, dense 6, relu, dense 3", 1, 5, 4,
                     16, 0);
    /* The built-in classifier's own list, a few coordinates of each layer. */
    check_layer_list("conv3x3 16 pad 1, relu, maxpool2x2, conv3x3 32 pad 1, "
                     "relu, maxpool2x2, flatten, dense 128, relu, dense 25",
                     1, 28, 1, 4, 0);
    /* The deep classifier's (a convolution straight after another). */
    check_layer_list(LIST_DEEP_CLASSIFIER, 1, 28, 1, 4, 0);
    /* The softmax loss of scaled cosines through the same networks, at the
     * scale cosnet-train uses and a mild one. */
    check_layer_list(LIST_DENSE_HEAD, 1, 8, 3, 16, 16);
    check_layer_list(LIST_CONVS_WITHOUT_POOL, 2, 9, 3, 16, 2);
    check_layer_list(LIST_DEEP_CLASSIFIER, 1, 28, 2, 4, 16);
}

/* ---- Single kernels ----------------------------------------------------- */

/* Random padded input (zero borders) of `count` images for stage s. */
static float *random_padded(const conv_shape *shape, size_t count,
                            random_generator *g)
{
    const int hp = conv_padded_height(shape), wp = conv_padded_width(shape);
    const size_t size = count * (size_t)shape->in_channels * hp * wp;
    float *padded = calloc(size, sizeof(float));
    assert_non_null(padded);
    for (size_t i = 0; i < count * (size_t)shape->in_channels; i++)
        for (int r = 0; r < shape->in_height; r++)
            for (int c = 0; c < shape->in_width; c++)
                padded[(i * hp + r + shape->pad) * wp + c + shape->pad] =
                    (float)uniform(g, -1, 1);
    return padded;
}

/* L = sum(dy * conv(x)) in double, for the per-kernel checks (no ReLU:
 * the convolution alone is linear in x, w and b). */
static double conv_objective(const conv_shape *shape, size_t count,
                             const double *x_padded, const double *w,
                             const double *b, const float *dy)
{
    const int hp = conv_padded_height(shape), wp = conv_padded_width(shape);
    const int ho = conv_out_height(shape), wo = conv_out_width(shape);
    const int cin = shape->in_channels, cout = shape->out_channels;
    double total = 0;
    for (size_t i = 0; i < count; i++)
        for (int co = 0; co < cout; co++)
            for (int oh = 0; oh < ho; oh++)
                for (int ow = 0; ow < wo; ow++) {
                    double sum = b[co];
                    for (int ci = 0; ci < cin; ci++)
                        for (int kh = 0; kh < 3; kh++)
                            for (int kw = 0; kw < 3; kw++)
                                sum +=
                                    w[((co * cin + ci) * 3 + kh) * 3 + kw] *
                                    x_padded[((i * cin + ci) * hp + oh + kh) *
                                                 wp +
                                             ow + kw];
                    total += sum * dy[((i * cout + co) * ho + oh) * wo + ow];
                }
    return total;
}

static void test_conv_backward(void **state)
{
    (void)state;
    enum { COUNT = 2, SAMPLES = 40 };
    const kernel_table *tables[8];
    size_t variants = available_variants(tables);
    for (int s = 0; s < 3; s++) {
        const conv_shape shape = {stages[s].in_channels, stages[s].out_channels,
                                  stages[s].height, stages[s].width,
                                  stages[s].pad};
        random_generator g;
        random_seed(&g, 100 + s);
        const int hp = conv_padded_height(&shape),
                  wp = conv_padded_width(&shape);
        const int ho = conv_out_height(&shape), wo = conv_out_width(&shape);
        const size_t padded_size = COUNT * (size_t)shape.in_channels * hp * wp;
        const size_t input_size = COUNT * (size_t)shape.in_channels *
                                  shape.in_height * shape.in_width;
        const size_t output_size = COUNT * (size_t)shape.out_channels * ho * wo;
        const size_t weight_count =
            (size_t)shape.out_channels * shape.in_channels * 9;
        float *x = random_padded(&shape, COUNT, &g);
        float *dy = malloc(sizeof(float) * output_size);
        float *w = malloc(sizeof(float) * weight_count);
        float *b = malloc(sizeof(float) * shape.out_channels);
        double *xd = malloc(sizeof(double) * padded_size);
        double *wd = malloc(sizeof(double) * weight_count);
        double *bd = malloc(sizeof(double) * shape.out_channels);
        float *dx = malloc(sizeof(float) * input_size);
        float *dw = malloc(sizeof(float) * weight_count);
        float *db = malloc(sizeof(float) * shape.out_channels);
        assert_true(dy && w && b && xd && wd && bd && dx && dw && db);
        for (size_t i = 0; i < output_size; i++)
            dy[i] = (float)uniform(&g, -1, 1);
        for (size_t i = 0; i < weight_count; i++)
            wd[i] = w[i] = (float)uniform(&g, -0.5, 0.5);
        for (int i = 0; i < shape.out_channels; i++)
            bd[i] = b[i] = (float)uniform(&g, -0.5, 0.5);
        for (size_t i = 0; i < padded_size; i++)
            xd[i] = x[i];

        /* Differences of the linear objective (exact up to rounding). */
        size_t input_index[SAMPLES], padded_index[SAMPLES];
        double input_fd[SAMPLES], input_scale = 0;
        for (int k = 0; k < SAMPLES; k++) {
            size_t flat = random_below(&g, input_size);
            size_t plane = flat / ((size_t)shape.in_height * shape.in_width);
            size_t r = flat / shape.in_width % shape.in_height;
            size_t c = flat % shape.in_width;
            input_index[k] = flat;
            padded_index[k] = (plane * hp + r + shape.pad) * wp + c + shape.pad;
            double saved = xd[padded_index[k]];
            xd[padded_index[k]] = saved + STEP;
            double up = conv_objective(&shape, COUNT, xd, wd, bd, dy);
            xd[padded_index[k]] = saved - STEP;
            double down = conv_objective(&shape, COUNT, xd, wd, bd, dy);
            xd[padded_index[k]] = saved;
            input_fd[k] = (up - down) / (2 * STEP);
            input_scale = fmax(input_scale, fabs(input_fd[k]));
        }
        size_t weight_index[SAMPLES];
        double weight_fd[SAMPLES], weight_scale = 0;
        for (int k = 0; k < SAMPLES; k++) {
            size_t i = random_below(&g, weight_count);
            weight_index[k] = i;
            double saved = wd[i];
            wd[i] = saved + STEP;
            double up = conv_objective(&shape, COUNT, xd, wd, bd, dy);
            wd[i] = saved - STEP;
            double down = conv_objective(&shape, COUNT, xd, wd, bd, dy);
            wd[i] = saved;
            weight_fd[k] = (up - down) / (2 * STEP);
            weight_scale = fmax(weight_scale, fabs(weight_fd[k]));
        }
        double bias_fd[16], bias_scale = 0;
        for (int co = 0; co < shape.out_channels; co++) {
            double saved = bd[co];
            bd[co] = saved + STEP;
            double up = conv_objective(&shape, COUNT, xd, wd, bd, dy);
            bd[co] = saved - STEP;
            double down = conv_objective(&shape, COUNT, xd, wd, bd, dy);
            bd[co] = saved;
            bias_fd[co] = (up - down) / (2 * STEP);
            bias_scale = fmax(bias_scale, fabs(bias_fd[co]));
        }

        for (size_t v = 0; v < variants; v++) {
            char what[64];
            conv3x3_backward_input_unpacked(tables[v]->conv3x3, &shape, COUNT,
                                            w, dy, dx);
            snprintf(what, sizeof what, "conv %d backward-input", s + 1);
            comparison c = {what, input_scale, 0, 0, 0};
            for (int k = 0; k < SAMPLES; k++)
                compare(&c, tables[v]->name, input_index[k], dx[input_index[k]],
                        input_fd[k], input_scale);
            report(&c, tables[v]->name);

            conv3x3_backward_weights_unpacked(tables[v]->conv3x3, &shape, COUNT,
                                              x, dy, dw, db);
            snprintf(what, sizeof what, "conv %d backward-weights", s + 1);
            comparison cw = {what, weight_scale, 0, 0, 0};
            for (int k = 0; k < SAMPLES; k++)
                compare(&cw, tables[v]->name, weight_index[k],
                        dw[weight_index[k]], weight_fd[k], weight_scale);
            report(&cw, tables[v]->name);
            snprintf(what, sizeof what, "conv %d backward-bias", s + 1);
            comparison cb = {what, bias_scale, 0, 0, 0};
            for (int co = 0; co < shape.out_channels; co++)
                compare(&cb, tables[v]->name, (size_t)co, db[co], bias_fd[co],
                        bias_scale);
            report(&cb, tables[v]->name);
        }
        free(x);
        free(dy);
        free(w);
        free(b);
        free(xd);
        free(wd);
        free(bd);
        free(dx);
        free(dw);
        free(db);
    }
}

/* L = sum(g * pool(relu?(x))) in double; first maximum wins. */
static double pool_objective(int planes, int height, int width, const double *x,
                             const double *g, int relu)
{
    const int ho = height / 2, wo = width / 2;
    double total = 0;
    for (int p = 0; p < planes; p++)
        for (int r = 0; r < ho; r++)
            for (int c = 0; c < wo; c++) {
                double best = -INFINITY;
                for (int k = 0; k < 4; k++) {
                    double value =
                        x[((size_t)p * height + 2 * r + k / 2) * width + 2 * c +
                          k % 2];
                    if (relu && value < 0)
                        value = 0;
                    if (value > best)
                        best = value;
                }
                total += best * g[((size_t)p * ho + r) * wo + c];
            }
    return total;
}

static void test_pool_backward(void **state)
{
    (void)state;
    /* Odd sizes too: the last row/column is dropped and gets no gradient. */
    const int sizes[2][2] = {{6, 8}, {5, 7}};
    enum { PLANES = 3 };
    const kernel_table *tables[8];
    size_t variants = available_variants(tables);
    for (int z = 0; z < 2; z++)
        for (int relu = 0; relu <= 1; relu++) {
            const int h = sizes[z][0], w = sizes[z][1];
            const int ho = h / 2, wo = w / 2;
            const size_t n = (size_t)PLANES * h * w,
                         m = (size_t)PLANES * ho * wo;
            float x[PLANES * 6 * 8], g[PLANES * 3 * 4], pooled[PLANES * 3 * 4],
                dx[PLANES * 6 * 8];
            double xd[PLANES * 6 * 8], gd[PLANES * 3 * 4], fd[PLANES * 6 * 8];
            uint8_t argmax[PLANES * 3 * 4];
            /* Distinct values 0.01 apart (a shuffled grid, half of them
             * negative, none within 0.005 of 0), so h = 1e-3 never
             * reorders a window nor crosses the ReLU's kink. */
            random_generator r;
            random_seed(&r, 300 + 2 * z + relu);
            for (size_t i = 0; i < n; i++)
                x[i] = (float)(0.01 * ((double)i - (double)n / 2 + 0.5));
            for (size_t i = n - 1; i > 0; i--) {
                size_t j = random_below(&r, i + 1);
                float t = x[i];
                x[i] = x[j];
                x[j] = t;
            }
            for (size_t i = 0; i < n; i++)
                xd[i] = x[i];
            for (size_t i = 0; i < m; i++)
                gd[i] = g[i] = (float)uniform(&r, -1, 1);
            double scale = 0;
            for (size_t i = 0; i < n; i++) {
                double saved = xd[i];
                xd[i] = saved + STEP;
                double up = pool_objective(PLANES, h, w, xd, gd, relu);
                xd[i] = saved - STEP;
                double down = pool_objective(PLANES, h, w, xd, gd, relu);
                xd[i] = saved;
                fd[i] = (up - down) / (2 * STEP);
                scale = fmax(scale, fabs(fd[i]));
            }
            for (size_t v = 0; v < variants; v++) {
                /* The forward pools the ReLU'd input, as the network does. */
                float input[PLANES * 6 * 8];
                for (size_t i = 0; i < n; i++)
                    input[i] = relu && x[i] < 0 ? 0.0f : x[i];
                tables[v]->maxpool2x2_forward(PLANES, h, w, input, pooled,
                                              (size_t)ho * wo, (size_t)wo,
                                              argmax);
                tables[v]->maxpool2x2_backward(PLANES, h, w, g, argmax,
                                               relu ? pooled : NULL, dx);
                char what[64];
                snprintf(what, sizeof what, "pool %dx%d backward%s", h, w,
                         relu ? " + ReLU mask" : "");
                comparison c = {what, scale, 0, 0, 0};
                for (size_t i = 0; i < n; i++)
                    compare(&c, tables[v]->name, i, dx[i], fd[i], scale);
                report(&c, tables[v]->name);
            }
        }
}

/* The loss (1/count) sum (1 - cos(a_i, b_i)) in double. */
static double cosine_objective(size_t count, const double *a, const float *b,
                               size_t stride)
{
    double loss = 0;
    for (size_t i = 0; i < count; i++)
        loss += 1 - reference_cosine(a + i * OUTPUTS, b + i * stride, OUTPUTS);
    return loss / (double)count;
}

static void check_cosine(const kernel_table *const *tables, size_t variants,
                         const char *what, const float *a, const float *b,
                         size_t stride, double step)
{
    enum { COUNT = 3 };
    double ad[COUNT * OUTPUTS], fd[COUNT * OUTPUTS], scale = 0;
    for (size_t i = 0; i < COUNT * OUTPUTS; i++)
        ad[i] = a[i];
    const double loss = cosine_objective(COUNT, ad, b, stride);
    for (size_t i = 0; i < COUNT * OUTPUTS; i++) {
        double saved = ad[i];
        ad[i] = saved + step;
        double up = cosine_objective(COUNT, ad, b, stride);
        ad[i] = saved - step;
        double down = cosine_objective(COUNT, ad, b, stride);
        ad[i] = saved;
        fd[i] = (up - down) / (2 * step);
        scale = fmax(scale, fabs(fd[i]));
    }
    for (size_t v = 0; v < variants; v++) {
        float grad[COUNT * OUTPUTS], cosines[COUNT];
        float library_loss =
            tables[v]->cosine_loss(COUNT, OUTPUTS, a, b, stride, grad);
        assert_true(fabs(library_loss - loss) <= 1e-6 * fabs(loss) + 1e-6);
        /* Without a gradient buffer the loss is the same. */
        assert_true(
            fabs(tables[v]->cosine_loss(COUNT, OUTPUTS, a, b, stride, NULL) -
                 library_loss) <= 1e-6 * fabs(library_loss) + 1e-7);
        tables[v]->cosine_similarity(COUNT, OUTPUTS, a, b, stride, cosines);
        for (size_t i = 0; i < COUNT; i++)
            assert_true(fabs(cosines[i] - reference_cosine(ad + i * OUTPUTS,
                                                           b + i * stride,
                                                           OUTPUTS)) <= 1e-5);
        comparison c = {what, scale, 0, 0, 0};
        for (size_t i = 0; i < COUNT * OUTPUTS; i++)
            compare(&c, tables[v]->name, i, grad[i], fd[i], scale);
        report(&c, tables[v]->name);
    }
}

static void test_cosine_loss_gradient(void **state)
{
    (void)state;
    enum { COUNT = 3 };
    const kernel_table *tables[8];
    size_t variants = available_variants(tables);
    random_generator g;
    random_seed(&g, 400);
    float a[COUNT * OUTPUTS], b[COUNT * OUTPUTS], tiny[COUNT * OUTPUTS];
    for (size_t i = 0; i < COUNT * OUTPUTS; i++) {
        a[i] = (float)uniform(&g, -0.2, 1);
        b[i] = (float)uniform(&g, 0, 1);
        /* |tiny|^2 |b|^2 < eps^2 = 1e-12 (|tiny| < 2e-7, |b| < 5): the
         * clamped branch, where dcos/da = b / eps. */
        tiny[i] = (float)uniform(&g, -3e-8, 3e-8);
    }
    check_cosine(tables, variants, "cosine loss, per-row targets", a, b,
                 OUTPUTS, STEP);
    check_cosine(tables, variants, "cosine loss, shared target", a, b, 0, STEP);
    /* A step of 1e-9 keeps every perturbed row clamped (|a| < 2e-7). */
    check_cosine(tables, variants, "cosine loss, clamped branch", tiny, b,
                 OUTPUTS, 1e-9);
    /* The clamped gradient is exactly -(1/count) b / eps. */
    float grad[COUNT * OUTPUTS];
    tables[0]->cosine_loss(COUNT, OUTPUTS, tiny, b, OUTPUTS, grad);
    for (size_t i = 0; i < COUNT * OUTPUTS; i++)
        assert_true(fabs(grad[i] - (-b[i] / 1e-6 / COUNT)) <=
                    1e-5 * fabs(b[i] / 1e-6 / COUNT));
}

/* The softmax loss of scaled cosines (kernels/softmax_cosine.h) against
 * central differences of its double-precision definition: random outputs,
 * label vectors and classes at several scales, and the clamped branch. */
static void check_softmax(const char *what, const float *a, const float *labels,
                          const uint32_t *classes, double scale, double step)
{
    enum { COUNT = 3, LABELS = 7 };
    double ad[COUNT * OUTPUTS], fd[COUNT * OUTPUTS], largest = 0;
    for (size_t i = 0; i < COUNT * OUTPUTS; i++)
        ad[i] = a[i];
    double loss = 0;
    for (size_t i = 0; i < COUNT; i++)
        loss += reference_softmax_loss(ad + i * OUTPUTS, labels, LABELS,
                                       classes[i], scale, OUTPUTS) /
                COUNT;
    for (size_t i = 0; i < COUNT * OUTPUTS; i++) {
        const size_t row = i / OUTPUTS;
        const double saved = ad[i];
        ad[i] = saved + step;
        const double up = reference_softmax_loss(
            ad + row * OUTPUTS, labels, LABELS, classes[row], scale, OUTPUTS);
        ad[i] = saved - step;
        const double down = reference_softmax_loss(
            ad + row * OUTPUTS, labels, LABELS, classes[row], scale, OUTPUTS);
        ad[i] = saved;
        fd[i] = (up - down) / (2 * step) / COUNT;
        largest = fmax(largest, fabs(fd[i]));
    }
    float grad[COUNT * OUTPUTS];
    const float library_loss = softmax_cosine_loss(
        COUNT, OUTPUTS, a, labels, LABELS, classes, (float)scale, grad);
    if (!(fabs(library_loss - loss) <= 1e-5 * fabs(loss) + 1e-6))
        fail_msg("%s: loss %.9g, reference %.9g", what, library_loss, loss);
    /* Without a gradient buffer the loss is the same. */
    assert_true(softmax_cosine_loss(COUNT, OUTPUTS, a, labels, LABELS, classes,
                                    (float)scale, NULL) == library_loss);
    comparison c = {what, largest, 0, 0, 0};
    for (size_t i = 0; i < COUNT * OUTPUTS; i++)
        compare(&c, "scalar", i, grad[i], fd[i], largest);
    report(&c, "scalar");
}

static void test_softmax_loss_gradient(void **state)
{
    (void)state;
    enum { COUNT = 3, LABELS = 7 };
    random_generator g;
    random_seed(&g, 401);
    float a[COUNT * OUTPUTS], tiny[COUNT * OUTPUTS], labels[LABELS * OUTPUTS];
    uint32_t classes[COUNT] = {0, 6, 3};
    for (size_t i = 0; i < COUNT * OUTPUTS; i++) {
        a[i] = (float)uniform(&g, -0.2, 1);
        tiny[i] = (float)uniform(&g, -3e-8, 3e-8);
    }
    for (size_t i = 0; i < LABELS * OUTPUTS; i++)
        labels[i] = (float)uniform(&g, 0, 1);
    check_softmax("softmax loss, scale 1", a, labels, classes, 1, STEP);
    check_softmax("softmax loss, scale 16", a, labels, classes, 16, STEP);
    check_softmax("softmax loss, scale 100", a, labels, classes, 100, 1e-4);
    /* |tiny| < 2e-7 and |v| < 5 keep every cosine clamped at a step of
     * 1e-9 (dcos/da = v / eps there). */
    check_softmax("softmax loss, clamped branch", tiny, labels, classes, 16,
                  1e-9);
    /* An output on its own label vector, far from the others at a large
     * scale: a loss near 0 and a finite gradient, no overflow. */
    float own[OUTPUTS], grad[OUTPUTS];
    float apart[2 * OUTPUTS] = {0};
    apart[0] = 1.0f;
    apart[OUTPUTS + 1] = 1.0f;
    for (size_t d = 0; d < OUTPUTS; d++)
        own[d] = apart[d] * 1e3f;
    const uint32_t first = 0;
    const float loss =
        softmax_cosine_loss(1, OUTPUTS, own, apart, 2, &first, 100.0f, grad);
    assert_true(loss >= 0.0f && loss < 1e-30f);
    for (size_t d = 0; d < OUTPUTS; d++)
        assert_true(isfinite(grad[d]));
    /* The other class: loss = scale * (1 - 0) + log(1 + e^-100) = 100. */
    const uint32_t second = 1;
    assert_true(fabsf(softmax_cosine_loss(1, OUTPUTS, own, apart, 2, &second,
                                          100.0f, NULL) -
                      100.0f) < 1e-4f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_network_gradient),
        cmocka_unit_test(test_network_gradient_chunks),
        cmocka_unit_test(test_deep_gradient_chunks),
        cmocka_unit_test(test_prediction_groups),
        cmocka_unit_test(test_weights_generation),
        cmocka_unit_test(test_dropout_masks),
        cmocka_unit_test(test_layer_list_gradients),
        cmocka_unit_test(test_conv_backward),
        cmocka_unit_test(test_pool_backward),
        cmocka_unit_test(test_cosine_loss_gradient),
        cmocka_unit_test(test_softmax_loss_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
