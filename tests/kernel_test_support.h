/* What the kernel parity tests (test_kernels.c, test_dense_kernels.c,
 * test_winograd.c) share: the tolerance's gamma_K, buffers that end at a
 * guard page, the test values and the element checks. Include after cmocka.h,
 * with _DEFAULT_SOURCE defined before any system header (for MAP_ANONYMOUS). */
#ifndef COSNET_TESTS_KERNEL_TEST_SUPPORT_H
#define COSNET_TESTS_KERNEL_TEST_SUPPORT_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/rng.h"
#include "kernels/kernels.h"

#define UNIT_ROUNDOFF (1.0 / 16777216.0) /* 2^-24, float32 */
#define SENTINEL 12345.5f

static inline double gamma_of(double terms)
{
    return terms * UNIT_ROUNDOFF / (1.0 - terms * UNIT_ROUNDOFF);
}

/* ---- buffers that end at a guard page ---------------------------------- */

typedef struct guarded {
    void *mapping;
    size_t mapping_bytes;
    void *data;
} guarded;

static inline void *guarded_alloc(guarded *g, size_t bytes)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t body = (bytes + page - 1) / page * page;
    g->mapping_bytes = body + page;
    g->mapping = mmap(NULL, g->mapping_bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g->mapping != MAP_FAILED);
    assert_int_equal(mprotect((char *)g->mapping + body, page, PROT_NONE), 0);
    g->data = (char *)g->mapping + body - bytes;
    return g->data;
}

static inline float *guarded_floats(guarded *g, size_t count)
{
    return guarded_alloc(g, count * sizeof(float));
}

static inline void guarded_free(guarded *g)
{
    munmap(g->mapping, g->mapping_bytes);
}

/* ---- data and checks --------------------------------------------------- */

static inline void fill_value(float *x, size_t n, float value)
{
    for (size_t i = 0; i < n; i++)
        x[i] = value;
}

/* Test values: uniform in [-1, 1), or integers in [-3, 3], whose products
 * and sums stay exact in float32 so a variant must match bit for bit. */
enum { VALUES_UNIFORM, VALUES_INTEGER };

static inline void fill_values(random_generator *rng, float *x, size_t n,
                               int kind)
{
    for (size_t i = 0; i < n; i++)
        x[i] = kind == VALUES_INTEGER
                   ? (float)((int)random_below(rng, 7) - 3)
                   : (float)(2.0 * random_uniform(rng) - 1.0);
}

/* A uniform integer in [low, high]. */
static inline int random_int(random_generator *rng, int low, int high)
{
    return low + (int)random_below(rng, (uint64_t)(high - low + 1));
}

/* Floats of a convolution's padded input, output and weights for `count`
 * images of `shape`. */
typedef struct shape_floats {
    size_t input, output, weights;
} shape_floats;

static inline shape_floats floats_of(const conv_shape *shape, size_t count)
{
    shape_floats z;
    z.input = count * shape->in_channels * conv_padded_height(shape) *
              conv_padded_width(shape);
    z.output = count * shape->out_channels * conv_out_height(shape) *
               conv_out_width(shape);
    z.weights = (size_t)shape->out_channels * shape->in_channels * 9;
    return z;
}

static inline void check_close(const char *variant, const char *what,
                               size_t index, float got, float want,
                               double tolerance)
{
    const double error = fabs((double)got - (double)want);
    if (!(error <= tolerance)) {
        print_error("%s %s[%zu]: got %.9g, reference %.9g, |diff| %.3g > "
                    "tolerance %.3g\n",
                    variant, what, index, got, want, error, tolerance);
        fail();
    }
}

static inline void check_equal(const char *variant, const char *what,
                               size_t index, float got, float want)
{
    if (memcmp(&got, &want, sizeof got) != 0) {
        print_error("%s %s[%zu]: got %.9g, reference %.9g (exact expected)\n",
                    variant, what, index, got, want);
        fail();
    }
}

/* A pooled result written into padded planes laid out like the next
 * layer's input: one zero row and column before the ph x pw interior, two
 * after (row = pw + 3 floats, plane = (ph + 3) rows). Every interior value
 * must equal `expected` (planes x ph x pw) bit for bit; returns the first
 * position outside the interiors that no longer holds SENTINEL, or
 * SIZE_MAX if none. */
static inline size_t check_pooled_interior(const char *variant,
                                           const char *what,
                                           const float *output,
                                           const float *expected, size_t planes,
                                           int ph, int pw)
{
    const size_t row = (size_t)pw + 3, plane = (size_t)(ph + 3) * row;
    for (size_t p = 0; p < planes; p++)
        for (size_t k = 0; k < plane; k++) {
            const size_t r = k / row, col = k % row;
            const float got = output[p * plane + k];
            if (r >= 1 && r <= (size_t)ph && col >= 1 && col <= (size_t)pw)
                check_equal(variant, what, (p * ph + r - 1) * pw + col - 1, got,
                            expected[(p * ph + r - 1) * pw + col - 1]);
            else if (got != SENTINEL)
                return p * plane + k;
        }
    return SIZE_MAX;
}

#endif
