/* The label-set handle: construction, the article's rejection sampling,
 * queries and the pairwise similarity matrix. Text files are in
 * label_text.c, the article's fixed table in builtin_table.c. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/memory.h"
#include "common/error.h"
#include "common/rng.h"
#include "labels/label_draw.h"
#include "labels/label_set.h"
#include "labels/pair_source.h"

struct cosnet_labels {
    size_t count;
    size_t dims;
    float *values; /* count x dims, row-major */
};

/* The cosine in the torch form the article uses:
 * dot / sqrt(max(|a|^2 |b|^2, eps^2)), eps = 1e-6, in double from floats.
 * Every product of two floats is exact in double, so the sums depend only on
 * their order, fixed here. Generation and cosnet_labels_similarity both go
 * through these three functions, so a generated set satisfies the threshold
 * exactly as the similarity matrix reports it. */
static double dot_product(const float *a, const float *b, size_t dims)
{
    double sum = 0.0;
    for (size_t i = 0; i < dims; i++)
        sum += (double)a[i] * b[i];
    return sum;
}

static double squared_norm(const float *a, size_t dims)
{
    return dot_product(a, a, dims);
}

double labels_row_squared_norm(const float *row, size_t dims)
{
    return squared_norm(row, dims);
}

static double cosine_from_parts(double dot, double squared_norm_a,
                                double squared_norm_b)
{
    return dot / sqrt(fmax(squared_norm_a * squared_norm_b, 1e-12));
}

/* count * dims floats, or 0 (with the message set) if that overflows. */
static int checked_value_count(size_t count, size_t dims, const char *caller,
                               size_t *total)
{
    if (count > SIZE_MAX / sizeof(float) / dims) {
        error_set(COSNET_ERROR_INVALID_ARGUMENT,
                  "%s: %zu vectors of %zu dimensions overflow the address "
                  "space",
                  caller, count, dims);
        return 0;
    }
    *total = count * dims;
    return 1;
}

static cosnet_status allocate_labels(size_t count, size_t dims, size_t total,
                                     cosnet_labels **out)
{
    cosnet_labels *labels = memory_allocate(sizeof *labels);
    if (!labels)
        return error_out_of_memory("a label set", sizeof *labels);
    labels->values = memory_allocate(total * sizeof(float));
    if (!labels->values) {
        memory_free(labels);
        return error_out_of_memory("label vectors", total * sizeof(float));
    }
    labels->count = count;
    labels->dims = dims;
    *out = labels;
    return COSNET_OK;
}

/* v = |g| / ||g|| for the candidate whose normals come from the pairs
 * (u, s), computed exactly as the article's sampler does it with
 * random_normal; 0 if g happened to be all zero (possible only in
 * principle, but it has no direction). */
static int exact_candidate(const double *u, const double *s, double *normals,
                           float *candidate, size_t dims)
{
    double sum_of_squares = 0.0;
    for (size_t i = 0; i < dims; i++) {
        normals[i] = labels_pair_normal(u[i], s[i]);
        sum_of_squares += normals[i] * normals[i];
    }
    if (sum_of_squares == 0.0)
        return 0;
    double norm = sqrt(sum_of_squares);
    for (size_t i = 0; i < dims; i++)
        candidate[i] = (float)(fabs(normals[i]) / norm);
    return 1;
}

/* Scratch of one generation, in one block: the candidate's exact normals,
 * the accepted rows' squared norms and the vector lanes' raw outputs (the
 * pairs themselves are the pair source's). */
typedef struct generation_scratch {
    double *normals;
    double *squared_norms;
    uint64_t *lane_outputs; /* NULL on the portable path */
} generation_scratch;

static void *allocate_scratch(size_t count, size_t dims, int lanes,
                              generation_scratch *scratch, size_t *bytes)
{
    size_t lane_words = (size_t)lanes * LABELS_LANE_STRIDE;
    *bytes = 0;
    if (dims > SIZE_MAX / 64 || count > SIZE_MAX / 64)
        return NULL;
    /* lane outputs first (64-byte aligned), then dims + count doubles. */
    size_t doubles = dims + count;
    if (doubles > SIZE_MAX / sizeof(double) - lane_words)
        return NULL;
    *bytes = lane_words * sizeof(uint64_t) + doubles * sizeof(double);
    uint64_t *block = memory_allocate_aligned(64, *bytes);
    if (!block)
        return NULL;
    scratch->lane_outputs = lanes ? block : NULL;
    scratch->normals = (double *)(block + lane_words);
    scratch->squared_norms = scratch->normals + dims;
    return block;
}

cosnet_status labels_generate_counting(size_t count, size_t dims,
                                       double threshold, uint64_t seed,
                                       uint64_t max_draws, cosnet_labels **out,
                                       uint64_t *draws_made)
{
    if (!out)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_labels_generate: out is NULL");
    if (count == 0 || dims == 0)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_labels_generate: %zu vectors of %zu "
                         "dimensions requested; both must be at least 1",
                         count, dims);
    if (!isfinite(threshold))
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_labels_generate: threshold %g is not finite",
                         threshold);
    size_t total;
    if (!checked_value_count(count, dims, "cosnet_labels_generate", &total))
        return COSNET_ERROR_INVALID_ARGUMENT;
    if (max_draws == 0)
        max_draws = LABELS_DEFAULT_MAX_DRAWS;

    cosnet_labels *labels = NULL;
    cosnet_status status = allocate_labels(count, dims, total, &labels);
    if (status != COSNET_OK)
        return status;
    const char *isa = NULL;
    labels_magnitude_function magnitudes = labels_magnitudes_active(&isa);
    int lanes = labels_lanes_available(isa);
    generation_scratch scratch;
    size_t scratch_bytes;
    void *block =
        allocate_scratch(count, dims, lanes, &scratch, &scratch_bytes);
    if (!block) {
        cosnet_labels_free(labels);
        return error_out_of_memory("label generation scratch", scratch_bytes);
    }
    double slack = labels_rejection_slack(dims);

    random_generator generator;
    random_seed(&generator, seed);
    pair_source *pairs = NULL;
    status = pair_source_create(dims, lanes, &generator, scratch.lane_outputs,
                                magnitudes, &pairs);
    if (status != COSNET_OK) {
        memory_free(block);
        cosnet_labels_free(labels);
        return status;
    }
    size_t accepted = 0;
    uint64_t draws = 0;
    while (accepted < count && draws < max_draws) {
        const double *u, *s;
        const float *magnitude;
        if (!pair_source_next(pairs, &u, &s, &magnitude)) {
            status = COSNET_ERROR_OUT_OF_MEMORY;
            break;
        }
        draws++;
        /* Most candidates are settled by the bound; it never rejects one
         * the exact test would accept. */
        if (accepted > 0 &&
            (lanes == 8 ? labels_certainly_rejected_avx512(
                              magnitude, dims, labels->values, accepted,
                              scratch.squared_norms, threshold, slack)
                        : labels_certainly_rejected(
                              magnitude, dims, labels->values, accepted,
                              scratch.squared_norms, threshold, slack)))
            continue;
        /* The candidate is computed straight into the next free row, so an
         * accepted one needs no copy. */
        float *candidate = labels->values + accepted * dims;
        if (!exact_candidate(u, s, scratch.normals, candidate, dims))
            continue;
        double candidate_squared_norm = squared_norm(candidate, dims);
        size_t k = 0;
        /* Earlier row first, as cosnet_labels_similarity computes it. */
        while (k < accepted &&
               cosine_from_parts(
                   dot_product(labels->values + k * dims, candidate, dims),
                   scratch.squared_norms[k],
                   candidate_squared_norm) <= threshold)
            k++;
        if (k == accepted)
            scratch.squared_norms[accepted++] = candidate_squared_norm;
    }
    pair_source_free(pairs);
    memory_free(block);
    if (draws_made)
        *draws_made = draws;
    if (status != COSNET_OK) {
        cosnet_labels_free(labels);
        return status;
    }
    if (accepted < count) {
        cosnet_labels_free(labels);
        return error_set(COSNET_ERROR_GAVE_UP,
                         "found %zu of %zu vectors in %llu draws at "
                         "threshold %g",
                         accepted, count, (unsigned long long)draws, threshold);
    }
    *out = labels;
    return COSNET_OK;
}

COSNET_API cosnet_status cosnet_labels_generate(size_t count, size_t dims,
                                                double threshold, uint64_t seed,
                                                uint64_t max_draws,
                                                cosnet_labels **out)
{
    return labels_generate_counting(count, dims, threshold, seed, max_draws,
                                    out, NULL);
}

COSNET_API cosnet_status cosnet_labels_create(size_t count, size_t dims,
                                              const float *values,
                                              cosnet_labels **out)
{
    if (!out || !values)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_labels_create: %s is NULL",
                         out ? "values" : "out");
    if (count == 0 || dims == 0)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_labels_create: %zu vectors of %zu "
                         "dimensions given; both must be at least 1",
                         count, dims);
    size_t total;
    if (!checked_value_count(count, dims, "cosnet_labels_create", &total))
        return COSNET_ERROR_INVALID_ARGUMENT;
    for (size_t row = 0; row < count; row++) {
        const float *vector = values + row * dims;
        int all_zero = 1;
        for (size_t i = 0; i < dims; i++) {
            if (!isfinite(vector[i]))
                return error_set(COSNET_ERROR_NOT_FINITE,
                                 "cosnet_labels_create: vector %zu value %zu "
                                 "is %g",
                                 row, i, (double)vector[i]);
            if (vector[i] != 0.0f)
                all_zero = 0;
        }
        /* A zero vector has no direction: every cosine with it is 0. */
        if (all_zero)
            return error_set(COSNET_ERROR_BAD_FORMAT,
                             "cosnet_labels_create: vector %zu is all zero",
                             row);
        double norm = sqrt(labels_row_squared_norm(vector, dims));
        if (!(norm >= COSNET_LABELS_MIN_NORM))
            return error_set(COSNET_ERROR_OUT_OF_RANGE,
                             "cosnet_labels_create: vector %zu has norm %.9g, "
                             "below the minimum %g",
                             row, norm, COSNET_LABELS_MIN_NORM);
    }
    cosnet_labels *labels = NULL;
    cosnet_status status = allocate_labels(count, dims, total, &labels);
    if (status != COSNET_OK)
        return status;
    memcpy(labels->values, values, total * sizeof(float));
    *out = labels;
    return COSNET_OK;
}

COSNET_API void cosnet_labels_free(cosnet_labels *labels)
{
    if (!labels)
        return;
    memory_free(labels->values);
    memory_free(labels);
}

COSNET_API size_t cosnet_labels_count(const cosnet_labels *labels)
{
    return labels ? labels->count : 0;
}

COSNET_API size_t cosnet_labels_dims(const cosnet_labels *labels)
{
    return labels ? labels->dims : 0;
}

COSNET_API const float *cosnet_labels_vector(const cosnet_labels *labels,
                                             size_t index)
{
    if (!labels || index >= labels->count)
        return NULL;
    return labels->values + index * labels->dims;
}

COSNET_API cosnet_status cosnet_labels_similarity(const cosnet_labels *labels,
                                                  double *matrix)
{
    if (!labels || !matrix)
        return error_set(COSNET_ERROR_INVALID_ARGUMENT,
                         "cosnet_labels_similarity: %s is NULL",
                         labels ? "matrix" : "labels");
    size_t count = labels->count, dims = labels->dims;
    for (size_t i = 0; i < count; i++) {
        for (size_t j = i; j < count; j++) {
            const float *a = labels->values + i * dims;
            const float *b = labels->values + j * dims;
            double cosine =
                cosine_from_parts(dot_product(a, b, dims),
                                  squared_norm(a, dims), squared_norm(b, dims));
            matrix[i * count + j] = cosine;
            matrix[j * count + i] = cosine;
        }
    }
    return COSNET_OK;
}
