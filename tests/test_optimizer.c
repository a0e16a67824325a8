/* AdamW: steps against values worked out in double here, options,
 * validation, reset and the step counter; every SIMD variant of the step
 * kernel gives the reference's bits. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosnet.h"
#include "common/rng.h"
#include "kernels/kernels.h"
#include "optimizer/adamw_internal.h"

#define SEED_PARAMETERS 1393

static void assert_relative(double actual, double expected, double tolerance)
{
    double error = fabs(actual - expected);
    double scale = fabs(expected) > 1e-30 ? fabs(expected) : 1.0;
    if (error > tolerance * scale)
        fail_msg("got %.9g, expected %.9g (relative error %.3g > %.3g)", actual,
                 expected, error / scale, tolerance);
}

typedef struct fixture {
    cosnet_model *model;
    cosnet_optimizer *optimizer;
    float parameters[SEED_PARAMETERS];
    float gradient[SEED_PARAMETERS];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    if (cosnet_model_create(COSNET_ARCHITECTURE_SEED, 1, &f->model) !=
            COSNET_OK ||
        cosnet_optimizer_create(f->model, &f->optimizer) != COSNET_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cosnet_optimizer_free(f->optimizer);
    cosnet_model_free(f->model);
    free(f);
    return 0;
}

/* t = 1 by hand: m-hat = g and v-hat = g^2, so the update is
 * g / (|g| + eps) + wd * w. With w = 0.5, g = 0.2, lr = wd = 0.01:
 * w1 = 0.5 - 0.01 * (0.2 / 0.20000001 + 0.005) = 0.4899500005;
 * with w = -0.25, g = -3: w1 = -0.25 - 0.01 * (-3 / 3.00000001 - 0.0025)
 * = -0.239975000033...; with g = 0 the moments stay 0 and only the decay
 * acts: w = 1 -> 1 - 0.01 * 0.01 = 0.9999. */
static void test_first_step_by_hand(void **state)
{
    fixture *f = *state;
    memset(f->parameters, 0, sizeof f->parameters);
    memset(f->gradient, 0, sizeof f->gradient);
    f->parameters[0] = 0.5f;
    f->gradient[0] = 0.2f;
    f->parameters[1] = -0.25f;
    f->gradient[1] = -3.0f;
    f->parameters[2] = 1.0f;
    f->gradient[2] = 0.0f;
    adamw_step(f->optimizer, f->parameters, f->gradient);
    assert_int_equal(cosnet_optimizer_steps(f->optimizer), 1);
    /* Inputs are floats: 0.2f is not 0.2, so compute with the float's
     * value; the literals above agree to ~1e-9. */
    assert_relative(f->parameters[0], 0.4899500005, 1e-6);
    assert_relative(f->parameters[1], -0.2399750000333, 1e-6);
    assert_relative(f->parameters[2], 0.9999, 1e-6);
    /* Moments: m = 0.1 g, v = 0.001 g^2. */
    assert_relative(f->optimizer->first_moment[0], 0.1 * 0.2f, 1e-6);
    assert_relative(f->optimizer->second_moment[1], 0.001 * 9.0, 1e-6);
    /* Untouched parameters at 0 with gradient 0 stay exactly 0. */
    assert_true(f->parameters[3] == 0.0f);
}

/* Three steps on three parameters, every intermediate worked out in
 * double: m, v, m-hat, v-hat and w. */
static void test_three_steps_worked_out(void **state)
{
    fixture *f = *state;
    const double lr = 0.01, wd = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const float start[3] = {0.3f, -0.7f, 0.05f};
    const float grads[3][3] = {
        {0.5f, -0.1f, 0.002f}, {-0.25f, -0.3f, 0.0f}, {0.125f, 0.4f, -1e-3f}};
    double w[3], m[3] = {0, 0, 0}, v[3] = {0, 0, 0};
    memset(f->parameters, 0, sizeof f->parameters);
    memset(f->gradient, 0, sizeof f->gradient);
    for (int i = 0; i < 3; i++) {
        f->parameters[i] = start[i];
        w[i] = start[i];
    }
    for (int t = 1; t <= 3; t++) {
        for (int i = 0; i < 3; i++)
            f->gradient[i] = grads[t - 1][i];
        adamw_step(f->optimizer, f->parameters, f->gradient);
        for (int i = 0; i < 3; i++) {
            double g = grads[t - 1][i];
            m[i] = b1 * m[i] + (1 - b1) * g;
            v[i] = b2 * v[i] + (1 - b2) * g * g;
            double m_hat = m[i] / (1 - pow(b1, t));
            double v_hat = v[i] / (1 - pow(b2, t));
            w[i] = w[i] - lr * (m_hat / (sqrt(v_hat) + eps) + wd * w[i]);
            assert_relative(f->parameters[i], w[i], 1e-6);
            assert_relative(f->optimizer->first_moment[i], m[i], 1e-6);
            assert_relative(f->optimizer->second_moment[i], v[i], 1e-6);
        }
        assert_int_equal(cosnet_optimizer_steps(f->optimizer), t);
    }
    /* Spot value: at t = 2 the corrections are 1 - 0.81 = 0.19 and
     * 1 - 0.998001 = 0.001999; checked through w above. After t = 3,
     * parameter 0 has moved by a little under 3 * lr in total. */
    assert_true(fabs(f->parameters[0] - 0.3) < 0.03);
}

/* Options are honoured: a different lr, no decay, other betas/eps. */
static void test_options_used(void **state)
{
    fixture *f = *state;
    const double lr = 0.1, wd = 0.0, b1 = 0.5, b2 = 0.75, eps = 1e-3;
    assert_int_equal(
        cosnet_optimizer_set(f->optimizer, COSNET_OPTIMIZER_LEARNING_RATE, lr),
        COSNET_OK);
    assert_int_equal(
        cosnet_optimizer_set(f->optimizer, COSNET_OPTIMIZER_WEIGHT_DECAY, wd),
        COSNET_OK);
    assert_int_equal(
        cosnet_optimizer_set(f->optimizer, COSNET_OPTIMIZER_BETA1, b1),
        COSNET_OK);
    assert_int_equal(
        cosnet_optimizer_set(f->optimizer, COSNET_OPTIMIZER_BETA2, b2),
        COSNET_OK);
    assert_int_equal(
        cosnet_optimizer_set(f->optimizer, COSNET_OPTIMIZER_EPSILON, eps),
        COSNET_OK);
    memset(f->parameters, 0, sizeof f->parameters);
    memset(f->gradient, 0, sizeof f->gradient);
    f->parameters[0] = 1.0f;
    double w = 1.0, m = 0, v = 0;
    const float grads[2] = {0.01f, 0.03f};
    for (int t = 1; t <= 2; t++) {
        f->gradient[0] = grads[t - 1];
        adamw_step(f->optimizer, f->parameters, f->gradient);
        double g = grads[t - 1];
        m = b1 * m + (1 - b1) * g;
        v = b2 * v + (1 - b2) * g * g;
        w -= lr * ((m / (1 - pow(b1, t))) / (sqrt(v / (1 - pow(b2, t))) + eps) +
                   wd * w);
        assert_relative(f->parameters[0], w, 1e-6);
    }
}

static void test_defaults_and_get(void **state)
{
    fixture *f = *state;
    const struct {
        cosnet_optimizer_option option;
        double value;
    } defaults[] = {{COSNET_OPTIMIZER_LEARNING_RATE, 0.01},
                    {COSNET_OPTIMIZER_WEIGHT_DECAY, 0.01},
                    {COSNET_OPTIMIZER_BETA1, 0.9},
                    {COSNET_OPTIMIZER_BETA2, 0.999},
                    {COSNET_OPTIMIZER_EPSILON, 1e-8}};
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        double value = -1;
        assert_int_equal(
            cosnet_optimizer_get(f->optimizer, defaults[i].option, &value),
            COSNET_OK);
        assert_true(value == defaults[i].value);
    }
    assert_int_equal(
        cosnet_optimizer_set(f->optimizer, COSNET_OPTIMIZER_BETA1, 0.0),
        COSNET_OK);
    double value = -1;
    assert_int_equal(
        cosnet_optimizer_get(f->optimizer, COSNET_OPTIMIZER_BETA1, &value),
        COSNET_OK);
    assert_true(value == 0.0);
    assert_int_equal(cosnet_optimizer_steps(f->optimizer), 0);
}

static void test_validation(void **state)
{
    fixture *f = *state;
    const struct {
        cosnet_optimizer_option option;
        double value;
    } bad[] = {
        {COSNET_OPTIMIZER_LEARNING_RATE, -0.1},
        {COSNET_OPTIMIZER_LEARNING_RATE, NAN},
        {COSNET_OPTIMIZER_LEARNING_RATE, INFINITY},
        {COSNET_OPTIMIZER_WEIGHT_DECAY, -1e-9},
        {COSNET_OPTIMIZER_WEIGHT_DECAY, INFINITY},
        {COSNET_OPTIMIZER_BETA1, 1.0},
        {COSNET_OPTIMIZER_BETA1, -0.01},
        {COSNET_OPTIMIZER_BETA1, NAN},
        {COSNET_OPTIMIZER_BETA2, 1.5},
        {COSNET_OPTIMIZER_EPSILON, 0.0},
        {COSNET_OPTIMIZER_EPSILON, -1e-8},
        {COSNET_OPTIMIZER_EPSILON, INFINITY},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(
            cosnet_optimizer_set(f->optimizer, bad[i].option, bad[i].value),
            COSNET_ERROR_OUT_OF_RANGE);
        assert_non_null(strstr(cosnet_last_error(), "must be"));
    }
    /* Nothing changed. */
    double value;
    assert_int_equal(
        cosnet_optimizer_get(f->optimizer, COSNET_OPTIMIZER_BETA1, &value),
        COSNET_OK);
    assert_true(value == 0.9);
    assert_int_equal(
        cosnet_optimizer_set(f->optimizer, COSNET_OPTIMIZER_LEARNING_RATE, -2),
        COSNET_ERROR_OUT_OF_RANGE);
    assert_non_null(strstr(cosnet_last_error(), "learning rate -2"));
    /* Zero learning rate and decay are allowed (>= 0). */
    assert_int_equal(
        cosnet_optimizer_set(f->optimizer, COSNET_OPTIMIZER_LEARNING_RATE, 0),
        COSNET_OK);
    assert_int_equal(
        cosnet_optimizer_set(f->optimizer, COSNET_OPTIMIZER_WEIGHT_DECAY, 0),
        COSNET_OK);

    assert_int_equal(
        cosnet_optimizer_set(f->optimizer, (cosnet_optimizer_option)99, 0.1),
        COSNET_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(cosnet_last_error(), "99"));
    assert_int_equal(
        cosnet_optimizer_get(f->optimizer, (cosnet_optimizer_option)-1, &value),
        COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(cosnet_optimizer_set(NULL, COSNET_OPTIMIZER_BETA1, 0.5),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(
        cosnet_optimizer_get(f->optimizer, COSNET_OPTIMIZER_BETA1, NULL),
        COSNET_ERROR_INVALID_ARGUMENT);
    cosnet_optimizer *out = (cosnet_optimizer *)&value;
    assert_int_equal(cosnet_optimizer_create(NULL, &out),
                     COSNET_ERROR_INVALID_ARGUMENT);
    assert_ptr_equal(out, (cosnet_optimizer *)&value);
    assert_int_equal(cosnet_optimizer_create(f->model, NULL),
                     COSNET_ERROR_INVALID_ARGUMENT);
}

static void test_reset_and_steps(void **state)
{
    fixture *f = *state;
    assert_int_equal(cosnet_optimizer_set(f->optimizer,
                                          COSNET_OPTIMIZER_LEARNING_RATE, 0.05),
                     COSNET_OK);
    for (size_t i = 0; i < SEED_PARAMETERS; i++) {
        f->parameters[i] = (float)i / SEED_PARAMETERS;
        f->gradient[i] = 0.5f - (float)i / SEED_PARAMETERS;
    }
    float after_one[SEED_PARAMETERS];
    memcpy(after_one, f->parameters, sizeof after_one);
    adamw_step(f->optimizer, after_one, f->gradient);
    adamw_step(f->optimizer, after_one, f->gradient);
    assert_int_equal(cosnet_optimizer_steps(f->optimizer), 2);
    cosnet_optimizer_reset(f->optimizer);
    assert_int_equal(cosnet_optimizer_steps(f->optimizer), 0);
    for (size_t i = 0; i < SEED_PARAMETERS; i++) {
        assert_true(f->optimizer->first_moment[i] == 0.0f);
        assert_true(f->optimizer->second_moment[i] == 0.0f);
    }
    /* Hyper-parameters are kept. */
    double value;
    assert_int_equal(cosnet_optimizer_get(
                         f->optimizer, COSNET_OPTIMIZER_LEARNING_RATE, &value),
                     COSNET_OK);
    assert_true(value == 0.05);
    /* After a reset, a step equals a first step from scratch. */
    cosnet_optimizer *fresh = NULL;
    assert_int_equal(cosnet_optimizer_create(f->model, &fresh), COSNET_OK);
    assert_int_equal(
        cosnet_optimizer_set(fresh, COSNET_OPTIMIZER_LEARNING_RATE, 0.05),
        COSNET_OK);
    float a[SEED_PARAMETERS], b[SEED_PARAMETERS];
    memcpy(a, f->parameters, sizeof a);
    memcpy(b, f->parameters, sizeof b);
    adamw_step(f->optimizer, a, f->gradient);
    adamw_step(fresh, b, f->gradient);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(cosnet_optimizer_steps(fresh), 1);
    cosnet_optimizer_free(fresh);

    cosnet_optimizer_reset(NULL);
    assert_int_equal(cosnet_optimizer_steps(NULL), 0);
    cosnet_optimizer_free(NULL);
}

/* Every variant of the adamw_step kernel this CPU runs against the
 * reference, bit for bit, on random lengths (every tail of both vector
 * widths) and values, with and without the undo copy; the copy holds the
 * values from before the step. Gradients and moments span many binades,
 * with zeros, so rounding at every stage is exercised. */
static void test_step_kernel_variants(void **state)
{
    (void)state;
    random_generator rng;
    random_seed(&rng, 2026);
    const kernel_table *scalar = kernels_by_name("scalar");
    assert_non_null(scalar);
    enum { MOST = 77 };
    for (int v = 0; kernel_variant_names[v]; v++) {
        const kernel_table *table = kernels_by_name(kernel_variant_names[v]);
        if (!table)
            continue;
        for (int trial = 0; trial < 200; trial++) {
            const size_t n = 1 + (size_t)random_below(&rng, MOST);
            float p[2][MOST], m[2][MOST], s[2][MOST], g[MOST], old[3][MOST];
            float saved[3][MOST];
            for (size_t k = 0; k < n; k++) {
                const double scale =
                    pow(10.0, -6.0 + 8.0 * random_uniform(&rng));
                g[k] =
                    random_below(&rng, 8) == 0
                        ? 0.0f
                        : (float)((2.0 * random_uniform(&rng) - 1.0) * scale);
                p[0][k] = p[1][k] = (float)(2.0 * random_uniform(&rng) - 1.0);
                m[0][k] = m[1][k] = (float)(0.1 * g[k] * random_uniform(&rng));
                s[0][k] = s[1][k] =
                    (float)((double)g[k] * g[k] * random_uniform(&rng));
                old[0][k] = p[0][k], old[1][k] = m[0][k], old[2][k] = s[0][k];
            }
            const adamw_factors f = {
                .beta1 = 0.9,
                .beta2 = 0.999,
                .learning_rate = 1e-3 * (1 + random_below(&rng, 30)),
                .weight_decay = random_below(&rng, 2) ? 0.01 : 0.0,
                .epsilon = 1e-8,
                .inverse_correction1 = 1.0 / (1.0 - pow(0.9, 1 + trial)),
                .inverse_correction2 = 1.0 / (1.0 - pow(0.999, 1 + trial)),
            };
            const int save = trial % 2;
            scalar->adamw_step(n, &f, g, p[0], m[0], s[0], NULL, NULL, NULL);
            table->adamw_step(n, &f, g, p[1], m[1], s[1],
                              save ? saved[0] : NULL, saved[1], saved[2]);
            if (memcmp(p[0], p[1], n * sizeof(float)) != 0 ||
                memcmp(m[0], m[1], n * sizeof(float)) != 0 ||
                memcmp(s[0], s[1], n * sizeof(float)) != 0)
                fail_msg("%s: n %zu, trial %d: not the reference's bits",
                         table->name, n, trial);
            if (save)
                for (int a = 0; a < 3; a++)
                    if (memcmp(saved[a], old[a], n * sizeof(float)) != 0)
                        fail_msg("%s: n %zu: the undo copy %d is wrong",
                                 table->name, n, a);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_step_by_hand, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_three_steps_worked_out, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_options_used, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults_and_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_and_steps, setup, teardown),
        cmocka_unit_test(test_step_kernel_variants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
