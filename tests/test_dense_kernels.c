/* Every dense kernel variant this CPU runs, held to the scalar reference,
 * and the reference's formulas held to finite differences.
 *
 * Tolerance. A float32 sum of K terms, in any order and with or without
 * fused multiply-adds, is within gamma_K * sum|terms| of the exact value,
 * gamma_K = K u / (1 - K u), u = 2^-24 (Higham, Accuracy and Stability of
 * Numerical Algorithms, 2nd ed., eq. 3.5). Reference and variant each obey
 * that bound, so they may differ by 2 gamma_K sum|terms| (sum|terms| computed
 * here in double; K counts the bias as a term; ReLU is 1-Lipschitz). As a
 * worst-case bound it could hide a missing small term, so every operation is
 * also run on small integers, where every partial sum is exact in float32
 * and the variant must equal the reference bit for bit. ReLU backward does
 * no arithmetic and must match exactly.
 *
 * Determinism: each variant run twice gives the same bits, and an image's
 * forward output and input gradient do not depend on the batch it is in.
 *
 * Buffers the kernels read or write end exactly at an inaccessible page, so
 * a read or write past their end faults even where a sanitizer cannot see
 * it (masked vector loads). */
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

#include "common/rng.h"
#include "kernels/dense.h"
#include "kernels/kernels.h"
#include "kernel_test_support.h"

static float *checked_malloc(size_t floats)
{
    float *p = malloc(sizeof(float) * (floats ? floats : 1));
    assert_non_null(p);
    return p;
}

/* ---- data -------------------------------------------------------------- */

static size_t random_size(random_generator *rng, size_t low, size_t high)
{
    return low + (size_t)random_below(rng, (uint64_t)(high - low + 1));
}

static void check_same_bits(const char *variant, const char *what,
                            const float *a, const float *b, size_t n)
{
    for (size_t k = 0; k < n; k++)
        check_equal(variant, what, k, a[k], b[k]);
}

/* The variants to test: every one this build compiles and this CPU runs. */
static int variants(const dense_kernels **out)
{
    int n = 0;
    for (int i = 0; kernel_variant_names[i]; i++) {
        const dense_kernels *d =
            dense_kernels_compiled(kernel_variant_names[i]);
        if (d && kernels_by_name(kernel_variant_names[i]))
            out[n++] = d;
    }
    return n;
}

typedef struct dense_case {
    size_t count, in, out;
} dense_case;

/* ---- one case, all operations ------------------------------------------ */

typedef struct dense_buffers {
    guarded gx, gw, gb, gy, gdy, gdx, gdw, gdb;
    float *x, *w, *b, *y, *dy, *dx, *dw, *db;
    float *ry, *rdx, *rdw, *rdb;
} dense_buffers;

static void buffers_create(dense_buffers *z, const dense_case *c, int kind,
                           random_generator *rng)
{
    z->x = guarded_floats(&z->gx, c->count * c->in);
    z->w = guarded_floats(&z->gw, c->out * c->in);
    z->b = guarded_floats(&z->gb, c->out);
    z->y = guarded_floats(&z->gy, c->count * c->out);
    z->dy = guarded_floats(&z->gdy, c->count * c->out);
    z->dx = guarded_floats(&z->gdx, c->count * c->in);
    z->dw = guarded_floats(&z->gdw, c->out * c->in);
    z->db = guarded_floats(&z->gdb, c->out);
    z->ry = checked_malloc(c->count * c->out);
    z->rdx = checked_malloc(c->count * c->in);
    z->rdw = checked_malloc(c->out * c->in);
    z->rdb = checked_malloc(c->out);
    fill_values(rng, z->x, c->count * c->in, kind);
    fill_values(rng, z->w, c->out * c->in, kind);
    fill_values(rng, z->b, c->out, kind);
    fill_values(rng, z->dy, c->count * c->out, kind);
}

static void buffers_free(dense_buffers *z)
{
    guarded_free(&z->gx);
    guarded_free(&z->gw);
    guarded_free(&z->gb);
    guarded_free(&z->gy);
    guarded_free(&z->gdy);
    guarded_free(&z->gdx);
    guarded_free(&z->gdw);
    guarded_free(&z->gdb);
    free(z->ry);
    free(z->rdx);
    free(z->rdw);
    free(z->rdb);
}

static void check_forward(const dense_kernels *d, const dense_case *c,
                          dense_buffers *z, int kind, int relu, int use_bias)
{
    const float *bias = use_bias ? z->b : NULL;
    fill_value(z->y, c->count * c->out, SENTINEL);
    dense_forward_scalar(c->count, c->in, c->out, z->x, z->w, bias, relu,
                         z->ry);
    d->forward(c->count, c->in, c->out, z->x, z->w, bias, relu, z->y);
    const double bound = 2.0 * gamma_of((double)c->in + 1.0);
    for (size_t i = 0; i < c->count; i++)
        for (size_t o = 0; o < c->out; o++) {
            const size_t k = i * c->out + o;
            if (kind == VALUES_INTEGER) {
                check_equal(d->name, "dense forward", k, z->y[k], z->ry[k]);
                continue;
            }
            double magnitude = bias ? fabs(bias[o]) : 0.0;
            for (size_t j = 0; j < c->in; j++)
                magnitude +=
                    fabs((double)z->w[o * c->in + j] * z->x[i * c->in + j]);
            check_close(d->name, "dense forward", k, z->y[k], z->ry[k],
                        bound * magnitude);
            if (relu)
                assert_true(z->y[k] >= 0.0f);
        }
    /* Same inputs, same bits. */
    float *again = checked_malloc(c->count * c->out);
    d->forward(c->count, c->in, c->out, z->x, z->w, bias, relu, again);
    check_same_bits(d->name, "dense forward (repeated)", again, z->y,
                    c->count * c->out);
    free(again);
}

static void check_backward_input(const dense_kernels *d, const dense_case *c,
                                 dense_buffers *z, int kind)
{
    fill_value(z->dx, c->count * c->in, SENTINEL);
    dense_backward_input_scalar(c->count, c->in, c->out, z->w, z->dy, z->rdx);
    d->backward_input(c->count, c->in, c->out, z->w, z->dy, z->dx);
    const double bound = 2.0 * gamma_of((double)c->out);
    for (size_t i = 0; i < c->count; i++)
        for (size_t j = 0; j < c->in; j++) {
            const size_t k = i * c->in + j;
            if (kind == VALUES_INTEGER) {
                check_equal(d->name, "dense input gradient", k, z->dx[k],
                            z->rdx[k]);
                continue;
            }
            double magnitude = 0.0;
            for (size_t o = 0; o < c->out; o++)
                magnitude +=
                    fabs((double)z->dy[i * c->out + o] * z->w[o * c->in + j]);
            check_close(d->name, "dense input gradient", k, z->dx[k], z->rdx[k],
                        bound * magnitude);
        }
    float *again = checked_malloc(c->count * c->in);
    d->backward_input(c->count, c->in, c->out, z->w, z->dy, again);
    check_same_bits(d->name, "dense input gradient (repeated)", again, z->dx,
                    c->count * c->in);
    free(again);
}

static void check_backward_weights(const dense_kernels *d, const dense_case *c,
                                   dense_buffers *z, int kind, int use_bias)
{
    float *db = use_bias ? z->db : NULL;
    fill_value(z->dw, c->out * c->in, SENTINEL);
    fill_value(z->db, c->out, SENTINEL);
    dense_backward_weights_scalar(c->count, c->in, c->out, z->x, z->dy, z->rdw,
                                  z->rdb);
    d->backward_weights(c->count, c->in, c->out, z->x, z->dy, z->dw, db);
    const double bound = 2.0 * gamma_of((double)c->count);
    for (size_t o = 0; o < c->out; o++) {
        for (size_t j = 0; j < c->in; j++) {
            const size_t k = o * c->in + j;
            if (kind == VALUES_INTEGER) {
                check_equal(d->name, "dense weight gradient", k, z->dw[k],
                            z->rdw[k]);
                continue;
            }
            double magnitude = 0.0;
            for (size_t i = 0; i < c->count; i++)
                magnitude +=
                    fabs((double)z->dy[i * c->out + o] * z->x[i * c->in + j]);
            check_close(d->name, "dense weight gradient", k, z->dw[k],
                        z->rdw[k], bound * magnitude);
        }
        if (!use_bias) {
            check_equal(d->name, "dense bias gradient (NULL)", o, z->db[o],
                        SENTINEL);
            continue;
        }
        if (kind == VALUES_INTEGER) {
            check_equal(d->name, "dense bias gradient", o, z->db[o], z->rdb[o]);
            continue;
        }
        double magnitude = 0.0;
        for (size_t i = 0; i < c->count; i++)
            magnitude += fabs((double)z->dy[i * c->out + o]);
        check_close(d->name, "dense bias gradient", o, z->db[o], z->rdb[o],
                    bound * magnitude);
    }
    float *again = checked_malloc(c->out * c->in);
    d->backward_weights(c->count, c->in, c->out, z->x, z->dy, again, NULL);
    check_same_bits(d->name, "dense weight gradient (repeated)", again, z->dw,
                    c->out * c->in);
    free(again);
}

/* A random grouping of count images: 1 to 4 pieces of 0 to 3 segments
 * (the last piece takes what is left, in one more segment). */
typedef struct summation_case {
    size_t piece_segments[5], segment_images[16];
    dense_summation summation;
} summation_case;

static void random_summation(random_generator *rng, size_t count,
                             summation_case *z)
{
    const size_t pieces = random_size(rng, 1, 4);
    size_t left = count, segments = 0;
    for (size_t p = 0; p < pieces; p++) {
        z->piece_segments[p] = 0;
        const size_t wanted = random_size(rng, 0, 3);
        for (size_t k = 0; k < wanted && left > 0; k++) {
            const size_t n = random_size(rng, 1, left);
            z->segment_images[segments++] = n;
            z->piece_segments[p]++;
            left -= n;
        }
    }
    if (left > 0) {
        z->segment_images[segments++] = left;
        z->piece_segments[pieces - 1]++;
    }
    z->summation =
        (dense_summation){pieces, z->piece_segments, z->segment_images};
}

/* The gradients grouped as a dense_summation (the trainer's pieces of
 * chunks), for a range of rows, against the same variant's
 * backward_weights run on each segment and added as the summation says
 * (onto held values with `accumulate`): the same bits, and rows outside
 * the range untouched. */
static void check_backward_weights_summed(const dense_kernels *d,
                                          const dense_case *c, dense_buffers *z,
                                          random_generator *rng,
                                          const summation_case *how,
                                          int accumulate, int use_bias)
{
    const size_t weights = c->out * c->in;
    const size_t row_first = random_size(rng, 0, c->out - 1);
    const size_t row_end = random_size(rng, row_first + 1, c->out);
    float *expect_w = checked_malloc(weights),
          *expect_b = checked_malloc(c->out);
    float *part_w = checked_malloc(weights), *part_b = checked_malloc(c->out);
    float *piece_w = checked_malloc(weights), *piece_b = checked_malloc(c->out);
    fill_values(rng, z->dw, weights, VALUES_UNIFORM);
    fill_values(rng, z->db, c->out, VALUES_UNIFORM);
    memcpy(expect_w, z->dw, sizeof(float) * weights);
    memcpy(expect_b, z->db, sizeof(float) * c->out);
    size_t segment = 0, image = 0;
    for (size_t p = 0; p < how->summation.pieces; p++) {
        memset(piece_w, 0, sizeof(float) * weights); /* +0: no segments */
        memset(piece_b, 0, sizeof(float) * c->out);
        for (size_t k = 0; k < how->piece_segments[p]; k++, segment++) {
            const size_t n = how->segment_images[segment];
            d->backward_weights(n, c->in, c->out, z->x + image * c->in,
                                z->dy + image * c->out, part_w, part_b);
            image += n;
            for (size_t e = 0; e < weights; e++)
                piece_w[e] = k == 0 ? part_w[e] : piece_w[e] + part_w[e];
            for (size_t o = 0; o < c->out; o++)
                piece_b[o] = k == 0 ? part_b[o] : piece_b[o] + part_b[o];
        }
        const int first = p == 0 && !accumulate;
        for (size_t o = row_first; o < row_end; o++) {
            for (size_t j = 0; j < c->in; j++) {
                const size_t e = o * c->in + j;
                expect_w[e] = first ? piece_w[e] : expect_w[e] + piece_w[e];
            }
            if (use_bias)
                expect_b[o] = first ? piece_b[o] : expect_b[o] + piece_b[o];
        }
    }
    assert_int_equal(image, c->count);
    d->backward_weights_summed(&how->summation, accumulate, row_first, row_end,
                               c->in, c->out, z->x, z->dy, z->dw,
                               use_bias ? z->db : NULL);
    check_same_bits(d->name, "dense weight gradient, summed", z->dw, expect_w,
                    weights);
    check_same_bits(d->name, "dense bias gradient, summed", z->db, expect_b,
                    c->out);
    free(expect_w);
    free(expect_b);
    free(part_w);
    free(part_b);
    free(piece_w);
    free(piece_b);
}

/* Image i alone (count 1) gives the same bits as inside the batch. */
static void check_batch_independence(const dense_kernels *d,
                                     const dense_case *c, dense_buffers *z)
{
    float *y = checked_malloc(c->out), *dx = checked_malloc(c->in);
    d->forward(c->count, c->in, c->out, z->x, z->w, z->b, 0, z->y);
    d->backward_input(c->count, c->in, c->out, z->w, z->dy, z->dx);
    for (size_t i = 0; i < c->count; i++) {
        d->forward(1, c->in, c->out, z->x + i * c->in, z->w, z->b, 0, y);
        check_same_bits(d->name, "dense forward (one image)", y,
                        z->y + i * c->out, c->out);
        d->backward_input(1, c->in, c->out, z->w, z->dy + i * c->out, dx);
        check_same_bits(d->name, "dense input gradient (one image)", dx,
                        z->dx + i * c->in, c->in);
    }
    free(y);
    free(dx);
}

static void check_case(const dense_kernels *d, const dense_case *c,
                       random_generator *rng, int trial)
{
    for (int kind = VALUES_UNIFORM; kind <= VALUES_INTEGER; kind++) {
        dense_buffers z;
        buffers_create(&z, c, kind, rng);
        check_forward(d, c, &z, kind, trial % 2, trial % 3 != 0);
        check_backward_input(d, c, &z, kind);
        check_backward_weights(d, c, &z, kind, trial % 4 != 1);
        if (kind == VALUES_UNIFORM) {
            check_batch_independence(d, c, &z);
            /* Random groupings, onto held values or over them. */
            for (int k = 0; k < 4; k++) {
                summation_case how;
                random_summation(rng, c->count, &how);
                check_backward_weights_summed(d, c, &z, rng, &how,
                                              (trial + k) % 2, trial % 4 != 1);
            }
        }
        buffers_free(&z);
    }
}

/* ---- tests ------------------------------------------------------------- */

static void test_random_shapes(void **state)
{
    (void)state;
    const dense_kernels *list[8];
    const int n = variants(list);
    for (int v = 0; v < n; v++)
        print_message("variant %s\n", list[v]->name);
    for (int v = 0; v < n; v++) {
        random_generator rng;
        random_seed(&rng, 801);
        for (int trial = 0; trial < 120; trial++) {
            dense_case c = {random_size(&rng, 1, 20), random_size(&rng, 1, 300),
                            random_size(&rng, 1, 70)};
            check_case(list[v], &c, &rng, trial);
        }
    }
}

/* Sizes at and around every tile and vector edge (16-lane vectors, 64-wide
 * strips, 4 or 6 rows, 6 columns), count 1, and the shapes. */
static void test_edge_shapes(void **state)
{
    (void)state;
    static const dense_case cases[] = {
        {1, 1, 1},    {1, 7, 1},     {1, 1, 9},    {2, 15, 5},    {3, 16, 6},
        {4, 17, 7},   {5, 31, 11},   {6, 32, 12},  {7, 33, 13},   {8, 63, 3},
        {9, 64, 4},   {12, 65, 24},  {13, 95, 25}, {16, 96, 26},  {17, 97, 2},
        {1, 300, 70}, {20, 300, 1},  {1, 128, 25}, {16, 128, 25}, {4, 256, 25},
        {5, 129, 31}, {16, 1568, 8}, {3, 3136, 7},
    };
    const dense_kernels *list[8];
    const int n = variants(list);
    random_generator rng;
    random_seed(&rng, 802);
    for (int v = 0; v < n; v++)
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
            check_case(list[v], &cases[k], &rng, (int)k);
}

/* The network's big layers once each, at a training and an inference
 * batch. */
static void test_network_shapes(void **state)
{
    (void)state;
    static const dense_case cases[] = {{16, 3136, 128}, {5, 1568, 256}};
    const dense_kernels *list[8];
    const int n = variants(list);
    random_generator rng;
    random_seed(&rng, 803);
    for (int v = 0; v < n; v++)
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
            check_case(list[v], &cases[k], &rng, 5);
}

/* Empty sums: count 0 gives zero weight and bias gradients; out_features 0
 * gives a zero input gradient; in_features 0 gives the bias. */
static void test_empty_sums(void **state)
{
    (void)state;
    const dense_kernels *list[8];
    const int n = variants(list);
    for (int v = 0; v < n; v++) {
        const dense_kernels *d = list[v];
        float dw[6] = {1, 1, 1, 1, 1, 1}, db[2] = {1, 1}, x[3] = {1, 2, 3};
        const float dummy[1] = {0};
        d->backward_weights(0, 3, 2, dummy, dummy, dw, db);
        for (int k = 0; k < 6; k++)
            assert_true(dw[k] == 0.0f);
        assert_true(db[0] == 0.0f && db[1] == 0.0f);
        /* Summed over no images (one piece of no segments): what was held
         * with `accumulate`, else zeros; rows outside the range kept. */
        const size_t none = 0;
        const dense_summation empty = {1, &none, &none};
        float sw[6] = {1, 2, 3, 4, 5, 6}, sb[2] = {7, 8};
        d->backward_weights_summed(&empty, 1, 0, 2, 3, 2, dummy, dummy, sw, sb);
        for (int k = 0; k < 6; k++)
            assert_true(sw[k] == (float)(k + 1));
        assert_true(sb[0] == 7.0f && sb[1] == 8.0f);
        d->backward_weights_summed(&empty, 0, 1, 2, 3, 2, dummy, dummy, sw, sb);
        for (int k = 0; k < 6; k++)
            assert_true(sw[k] == (k < 3 ? (float)(k + 1) : 0.0f));
        assert_true(sb[0] == 7.0f && sb[1] == 0.0f);
        float dx[6] = {1, 1, 1, 1, 1, 1};
        d->backward_input(2, 3, 0, dummy, dummy, dx);
        for (int k = 0; k < 6; k++)
            assert_true(dx[k] == 0.0f);
        const float bias[2] = {0.5f, -0.5f};
        float y[4] = {9, 9, 9, 9};
        d->forward(2, 0, 2, x, dummy, bias, 1, y);
        assert_true(y[0] == 0.5f && y[1] == 0.0f && y[2] == 0.5f &&
                    y[3] == 0.0f);
    }
}

/* ReLU turns NaN into 0 in the forward pass; its backward is exact. */
static void test_relu(void **state)
{
    (void)state;
    const dense_kernels *list[8];
    const int n = variants(list);
    random_generator rng;
    random_seed(&rng, 804);
    for (int v = 0; v < n; v++) {
        const dense_kernels *d = list[v];
        float x[2 * 20], w[3 * 20], y[2 * 3];
        fill_values(&rng, x, 40, VALUES_UNIFORM);
        fill_values(&rng, w, 60, VALUES_UNIFORM);
        x[5] = NAN; /* image 0: every output NaN */
        d->forward(2, 20, 3, x, w, NULL, 1, y);
        for (int o = 0; o < 3; o++)
            assert_true(y[o] == 0.0f && !signbit(y[o]));
        for (size_t size = 0; size <= 70; size++) {
            guarded ga, gg;
            float *activation = guarded_floats(&ga, size);
            float *grad = guarded_floats(&gg, size);
            float *reference = checked_malloc(size);
            fill_values(&rng, activation, size, VALUES_UNIFORM);
            fill_values(&rng, grad, size, VALUES_UNIFORM);
            const float specials[] = {0.0f, -0.0f, NAN, INFINITY, -INFINITY};
            for (size_t k = 0; k < size; k += 3)
                activation[k] = specials[(k / 3) % 5];
            if (size > 4)
                grad[4] = NAN;
            memcpy(reference, grad, sizeof(float) * size);
            relu_backward_scalar(size, activation, reference);
            d->relu_backward(size, activation, grad);
            check_same_bits(d->name, "relu backward", grad, reference, size);
            free(reference);
            guarded_free(&ga);
            guarded_free(&gg);
        }
    }
}

/* The reference's formulas against central differences of
 * L = sum_{i,o} g[i][o] * relu(z[i][o]), z = forward(x, W, b): each gradient
 * is linear in its variable away from the ReLU kinks, which the step never
 * crosses (every |z| > 0.05 and a step moves z by at most 1/256). */
static double loss_of(size_t count, size_t in, size_t out, const float *x,
                      const float *w, const float *b, const float *g)
{
    float y[64];
    dense_forward_scalar(count, in, out, x, w, b, 1, y);
    double loss = 0.0;
    for (size_t k = 0; k < count * out; k++)
        loss += (double)g[k] * y[k];
    return loss;
}

static void test_finite_differences(void **state)
{
    (void)state;
    enum { COUNT = 3, IN = 5, OUT = 4 };
    random_generator rng;
    random_seed(&rng, 805);
    float x[COUNT * IN], w[OUT * IN], b[OUT], g[COUNT * OUT], z[COUNT * OUT];
    /* Draw until every pre-activation is clear of the kink. */
    for (int attempt = 0;; attempt++) {
        assert_true(attempt < 1000);
        fill_values(&rng, x, COUNT * IN, VALUES_UNIFORM);
        fill_values(&rng, w, OUT * IN, VALUES_UNIFORM);
        fill_values(&rng, b, OUT, VALUES_UNIFORM);
        dense_forward_scalar(COUNT, IN, OUT, x, w, b, 0, z);
        int clear = 1;
        for (int k = 0; k < COUNT * OUT; k++)
            clear &= fabsf(z[k]) > 0.05f;
        if (clear)
            break;
    }
    fill_values(&rng, g, COUNT * OUT, VALUES_UNIFORM);
    /* dL/dz = g where z > 0: ReLU backward on the activations. */
    float y[COUNT * OUT], dz[COUNT * OUT];
    dense_forward_scalar(COUNT, IN, OUT, x, w, b, 1, y);
    memcpy(dz, g, sizeof dz);
    relu_backward_scalar(COUNT * OUT, y, dz);
    float dx[COUNT * IN], dw[OUT * IN], db[OUT];
    dense_backward_input_scalar(COUNT, IN, OUT, w, dz, dx);
    dense_backward_weights_scalar(COUNT, IN, OUT, x, dz, dw, db);

    /* |x|, |w| <= 1: a step h moves any z by at most h. */
    const float h = 1.0f / 256.0f;
    float *variables[3] = {x, w, b};
    const float *analytic[3] = {dx, dw, db};
    const int sizes[3] = {COUNT * IN, OUT * IN, OUT};
    for (int v = 0; v < 3; v++)
        for (int k = 0; k < sizes[v]; k++) {
            const float saved = variables[v][k];
            variables[v][k] = saved + h;
            const double up = loss_of(COUNT, IN, OUT, x, w, b, g);
            variables[v][k] = saved - h;
            const double down = loss_of(COUNT, IN, OUT, x, w, b, g);
            variables[v][k] = saved;
            const double numeric = (up - down) / (2.0 * h);
            if (!(fabs(numeric - analytic[v][k]) <= 1e-3)) {
                print_error("finite difference %d[%d]: numeric %.6g, "
                            "analytic %.6g\n",
                            v, k, numeric, analytic[v][k]);
                fail();
            }
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_shapes),
        cmocka_unit_test(test_edge_shapes),
        cmocka_unit_test(test_network_shapes),
        cmocka_unit_test(test_empty_sums),
        cmocka_unit_test(test_relu),
        cmocka_unit_test(test_finite_differences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
