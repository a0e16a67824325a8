/* The trainer's image augmentation (lib/train/augment.c): identity and
 * shifts are exact, an elastic field moves every pixel by at most its
 * stated distance, depends only on its seed, and leaves the affine path
 * unchanged when off; every variant of the resampling kernel gives the
 * reference's bits. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS (kernel_test_support.h) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernel_test_support.h"
#include "train/augment.h"

#define SIDE 28
#define PIXELS (SIDE * SIDE)

static const kernel_table *table(void)
{
    const kernel_table *kernels = NULL;
    assert_int_equal(kernels_active(&kernels), COSNET_OK);
    return kernels;
}

static void random_pixels(uint8_t *pixels, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1u;
    for (int i = 0; i < PIXELS; i++) {
        x = x * 1664525u + 1013904223u;
        pixels[i] = (uint8_t)(x >> 24);
    }
}

static void test_identity_and_shift(void **state)
{
    (void)state;
    uint8_t pixels[PIXELS];
    random_pixels(pixels, 1);
    float out[PIXELS];
    image_motion m = augment_identity();
    augment_image(table(), pixels, SIDE, SIDE, &m, out);
    for (int i = 0; i < PIXELS; i++)
        assert_true(out[i] == (float)pixels[i] / 255.0f);
    m.dx = 2, m.dy = -1;
    augment_image(table(), pixels, SIDE, SIDE, &m, out);
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++) {
            const int sy = y + 1, sx = x - 2;
            const float expected = sy < SIDE && sx >= 0
                                       ? (float)pixels[sy * SIDE + sx] / 255.0f
                                       : 0.0f;
            assert_true(out[y * SIDE + x] == expected);
        }
}

/* A single lit pixel: with displacements of at most d pixels, only output
 * pixels within d + 1 of it (bilinear sampling reaches one more) can be
 * lit, and the elastic field must actually move something. */
static void test_elastic_moves_at_most_its_distance(void **state)
{
    (void)state;
    const double distance = 2.5;
    uint8_t pixels[PIXELS] = {0};
    pixels[14 * SIDE + 13] = 255;
    float plain[PIXELS], bent[PIXELS];
    image_motion m = augment_identity();
    augment_image(table(), pixels, SIDE, SIDE, &m, plain);
    int differs = 0;
    for (uint64_t seed = 1; seed <= 50; seed++) {
        m.elastic = distance;
        m.elastic_seed = seed;
        augment_image(table(), pixels, SIDE, SIDE, &m, bent);
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++) {
                const float v = bent[y * SIDE + x];
                assert_true(v >= 0.0f && v <= 1.0f);
                if (v > 0.0f) {
                    assert_true(fabs(x - 13.0) <= distance + 1.0);
                    assert_true(fabs(y - 14.0) <= distance + 1.0);
                }
            }
        differs += memcmp(plain, bent, sizeof plain) != 0;
    }
    assert_true(differs >= 45);
}

static void test_elastic_depends_on_its_seed_only(void **state)
{
    (void)state;
    uint8_t pixels[PIXELS];
    random_pixels(pixels, 2);
    float a[PIXELS], b[PIXELS], c[PIXELS];
    image_motion m = augment_identity();
    m.angle = 0.1, m.scale = 1.05, m.dx = 1;
    m.elastic = 2.0;
    m.elastic_seed = 77;
    augment_image(table(), pixels, SIDE, SIDE, &m, a);
    augment_image(table(), pixels, SIDE, SIDE, &m, b);
    assert_memory_equal(a, b, sizeof a);
    m.elastic_seed = 78;
    augment_image(table(), pixels, SIDE, SIDE, &m, c);
    assert_memory_not_equal(a, c, sizeof a);
    /* Off: the seed is ignored and the affine motion alone remains. */
    m.elastic = 0.0;
    augment_image(table(), pixels, SIDE, SIDE, &m, b);
    m.elastic_seed = 77;
    augment_image(table(), pixels, SIDE, SIDE, &m, c);
    assert_memory_equal(b, c, sizeof b);
    assert_memory_not_equal(a, b, sizeof a);
}

/* A rotation by a quarter turn about the centre of a square image is a
 * pure permutation of the pixels (up to float rounding in cos/sin). */
static void test_quarter_turn(void **state)
{
    (void)state;
    uint8_t pixels[PIXELS];
    random_pixels(pixels, 3);
    float out[PIXELS];
    image_motion m = augment_identity();
    m.angle = 3.14159265358979323846 / 2.0;
    augment_image(table(), pixels, SIDE, SIDE, &m, out);
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++) {
            /* Output (x, y) comes from u, v rotated back: (y', x') below. */
            const int sx = y, sy = SIDE - 1 - x;
            assert_float_equal(out[y * SIDE + x],
                               (float)pixels[sy * SIDE + sx] / 255.0f, 1e-5);
        }
}

/* Every variant of the resampling kernel against the reference, bit for
 * bit, on random sizes (lane tails, one row or column, and images past the
 * vector path's limits, which fall back to the reference) and random
 * motions, with the output ending at a guard page. */
static void random_motion(random_generator *rng, resample_motion *m)
{
    const double angle =
        random_int(rng, 0, 3) == 0 ? 0.0 : (random_uniform(rng) - 0.5) * 1.6;
    const double scale = 0.5 + random_uniform(rng);
    m->c = cos(angle) / scale;
    m->s = sin(angle) / scale;
    m->shift_x = random_int(rng, -16, 16);
    m->shift_y = random_int(rng, -16, 16);
    m->elastic = random_int(rng, 0, 2) != 0;
    const double distance = 8.0 * random_uniform(rng);
    for (int j = 0; j < RESAMPLE_GRID; j++)
        for (int i = 0; i < RESAMPLE_GRID; i++) {
            m->field_x[j][i] = (2.0 * random_uniform(rng) - 1.0) * distance;
            m->field_y[j][i] = (2.0 * random_uniform(rng) - 1.0) * distance;
        }
}

static void test_resample_variants(void **state)
{
    (void)state;
    static const int sizes[][2] = {{28, 28}, {1, 1},   {1, 9},  {9, 1},
                                   {64, 64}, {65, 64}, {3, 65}, {70, 70}};
    enum { CASES = 400, LARGEST = 70 * 70 };
    static uint8_t pixels[LARGEST];
    static float expected[LARGEST];
    random_generator rng;
    random_seed(&rng, 11);
    int variants = 0;
    for (int v = 0; kernel_variant_names[v]; v++) {
        const kernel_table *kernels = kernels_by_name(kernel_variant_names[v]);
        if (!kernels)
            continue;
        variants++;
        for (int k = 0; k < CASES; k++) {
            const int fixed = k < (int)(sizeof sizes / sizeof sizes[0]);
            const int rows = fixed ? sizes[k][0] : random_int(&rng, 1, 40);
            const int columns = fixed ? sizes[k][1] : random_int(&rng, 1, 40);
            const size_t n = (size_t)rows * columns;
            for (size_t i = 0; i < n; i++)
                pixels[i] = (uint8_t)random_below(&rng, 256);
            resample_motion m;
            random_motion(&rng, &m);
            resample_scalar(pixels, rows, columns, &m, expected);
            guarded buffer;
            float *out = guarded_floats(&buffer, n);
            kernels->resample(pixels, rows, columns, &m, out);
            if (memcmp(out, expected, n * sizeof(float)) != 0)
                fail_msg("%s: %d x %d image, case %d, differs from the "
                         "reference",
                         kernels->name, rows, columns, k);
            guarded_free(&buffer);
        }
    }
    assert_true(variants >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_and_shift),
        cmocka_unit_test(test_elastic_moves_at_most_its_distance),
        cmocka_unit_test(test_elastic_depends_on_its_seed_only),
        cmocka_unit_test(test_quarter_turn),
        cmocka_unit_test(test_resample_variants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
