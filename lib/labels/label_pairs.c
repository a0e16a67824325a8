/* The accepted polar pairs of the library's generator, in bulk, and the
 * rejection bound on approximate magnitudes (see label_draw.h). */
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "labels/label_draw.h"

static inline uint64_t rotate_left(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* One step of xoshiro256**, exactly random_next of common/rng.c, on
 * registers instead of the struct (the tests compare the two). */
#define XOSHIRO_STEP(result, s0, s1, s2, s3)                                   \
    do {                                                                       \
        (result) = rotate_left((s1)*5, 7) * 9;                                 \
        uint64_t shifted = (s1) << 17;                                         \
        (s2) ^= (s0);                                                          \
        (s3) ^= (s1);                                                          \
        (s1) ^= (s2);                                                          \
        (s0) ^= (s3);                                                          \
        (s2) ^= shifted;                                                       \
        (s3) = rotate_left((s3), 45);                                          \
    } while (0)

void labels_fill_pairs(random_generator *generator, double *u_out,
                       double *s_out, size_t count)
{
    uint64_t s0 = generator->state[0], s1 = generator->state[1];
    uint64_t s2 = generator->state[2], s3 = generator->state[3];
    size_t filled = 0;
    /* One fused loop: the generator's integer chain and the pair's
     * floating-point work run on different units side by side (splitting
     * them into passes over a buffer measured slower). */
    while (filled < count) {
        uint64_t x, y;
        XOSHIRO_STEP(x, s0, s1, s2, s3);
        XOSHIRO_STEP(y, s0, s1, s2, s3);
        /* As random_normal: u = 2 U - 1 with U = (x >> 11) 2^-53, the same
         * operations in the same order (every one exact but the sum). */
        double u = 2.0 * ((double)(x >> 11) * 0x1.0p-53) - 1.0;
        double v = 2.0 * ((double)(y >> 11) * 0x1.0p-53) - 1.0;
        double s = u * u + v * v;
        /* Written unconditionally, kept only if accepted: no branch on the
         * random outcome. */
        u_out[filled] = u;
        s_out[filled] = s;
        filled += (s < 1.0) & (s != 0.0);
    }
    generator->state[0] = s0;
    generator->state[1] = s1;
    generator->state[2] = s2;
    generator->state[3] = s3;
}

void labels_lanes_start(labels_lanes *lanes, int count,
                        const random_generator *generator)
{
    random_generator walker = *generator;
    memset(lanes->state, 0, sizeof lanes->state);
    for (int lane = 0; lane < count; lane++) {
        for (int word = 0; word < 4; word++)
            lanes->state[word][lane] = walker.state[word];
        if (lane + 1 < count)
            for (int step = 0; step < LABELS_LANE_STEPS; step++)
                (void)random_next(&walker);
    }
}

double labels_pair_normal(double u, double s)
{
    return u * sqrt(-2.0 * log(s) / s);
}

double labels_rejection_slack(size_t dims)
{
    /* cos = dot / sqrt(b |l|^2) from magnitudes a_i: the dot and sqrt(b)
     * each carry the magnitudes' relative error; float sums of n positive
     * terms add at most (n - 1) 2^-24 each; the exact path rounds the
     * candidate to float (2^-24 per value, twice in the cosine). */
    double n = (double)dims;
    double relative = 2.0 * LABELS_MAGNITUDE_ERROR + (2.0 * n + 2.0) * 0x1p-24;
    return 4.0 * relative;
}

int labels_certainly_rejected(const float *magnitude, size_t dims,
                              const float *vectors, size_t accepted,
                              const double *squared_norms, double threshold,
                              double slack)
{
    if (slack >= 0.5)
        return 0;
    /* Four partial sums: independent chains, and any order of summation
     * keeps within the bound of labels_rejection_slack. */
    float b0 = 0, b1 = 0, b2 = 0, b3 = 0;
    size_t i = 0;
    for (; i + 4 <= dims; i += 4) {
        b0 += magnitude[i] * magnitude[i];
        b1 += magnitude[i + 1] * magnitude[i + 1];
        b2 += magnitude[i + 2] * magnitude[i + 2];
        b3 += magnitude[i + 3] * magnitude[i + 3];
    }
    for (; i < dims; i++)
        b0 += magnitude[i] * magnitude[i];
    /* Below 1 the underflow allowance of labels_certainly_above does not
     * hold: rarer short candidates take the exact path. */
    double squared_norm = (double)((b0 + b1) + (b2 + b3));
    if (!(squared_norm >= 1.0))
        return 0;
    for (size_t k = 0; k < accepted; k++) {
        const float *row = vectors + k * dims;
        float d0 = 0, d1 = 0, d2 = 0, d3 = 0;
        for (i = 0; i + 4 <= dims; i += 4) {
            d0 += magnitude[i] * row[i];
            d1 += magnitude[i + 1] * row[i + 1];
            d2 += magnitude[i + 2] * row[i + 2];
            d3 += magnitude[i + 3] * row[i + 3];
        }
        for (; i < dims; i++)
            d0 += magnitude[i] * row[i];
        if (labels_certainly_above((double)((d0 + d1) + (d2 + d3)), dims,
                                   squared_norm * squared_norms[k], threshold,
                                   slack))
            return 1;
    }
    return 0;
}

labels_magnitude_function labels_magnitudes_by_name(const char *name)
{
    if (!name)
        return NULL;
    /* The kernels' probe decides what this CPU runs. */
    if (!kernels_by_name(name))
        return NULL;
    if (strcmp(name, "scalar") == 0)
        return labels_magnitudes_scalar;
#if defined(COSNET_HAVE_X86_KERNELS)
    if (strcmp(name, "avx2") == 0)
        return labels_magnitudes_avx2;
    if (strcmp(name, "avx512") == 0)
        return labels_magnitudes_avx512;
#endif
    return NULL;
}

int labels_lanes_available(const char *isa)
{
#if defined(COSNET_HAVE_X86_KERNELS)
    if (isa && strcmp(isa, "avx512") == 0 && kernels_by_name("avx512"))
        return 8;
    if (isa && strcmp(isa, "avx2") == 0 && kernels_by_name("avx2"))
        return 4;
    return 0;
#else
    (void)isa;
    return 0;
#endif
}

labels_magnitude_function labels_magnitudes_active(const char **name)
{
    /* Generation never fails for the instruction set: the variants give
     * the same bits, so without a usable choice the scalar one serves. */
    const kernel_table *table = NULL;
    labels_magnitude_function function = NULL;
    const char *chosen = "scalar";
    if (kernels_active(&table) == COSNET_OK) {
        function = labels_magnitudes_by_name(table->name);
        if (function)
            chosen = table->name;
    }
    if (!function)
        function = labels_magnitudes_scalar;
    if (name)
        *name = chosen;
    return function;
}
