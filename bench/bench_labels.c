/* bench_labels: how long the article's rejection sampling takes to find a
 * label set (10 vectors of 25 dimensions, pairwise cosine <= 0.5), over many
 * seeds, and how many candidate draws it needs. Single-threaded; times are
 * per set, wall-clock and CPU; the summary gives median and max.
 *
 * --compare N also runs, on the first N seeds, the original one-draw-at-a-
 * time sampler (written out below from random_normal, as the library had
 * it), alternating with the library's generator seed by seed, checks that
 * both give the same vectors and draw counts, and reports the ratio of
 * their CPU times: on a shared machine a ratio from one run is steadier
 * than two absolute times from two runs.
 *
 * usage: bench_labels [--seeds N] [--first-seed S] [--max-draws M]
 *                     [--count C] [--dims D] [--threshold T] [--compare N]
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cosnet.h"
#include "common/rng.h"
#include "labels/label_draw.h"
#include "labels/label_set.h"

/* The previous default bound on draws, kept as a yardstick: how many seeds
 * a bound of a million draws would fail. */
enum { one_million_draws = 1000000 };

typedef struct settings {
    uint64_t seeds, first_seed, max_draws, compare;
    uint64_t count, dims;
    double threshold;
} settings;

/* Wall-clock time, and this thread's CPU time: on a busy machine the
 * second is the steadier measure of the work itself. */
static double now_seconds(clockid_t clock)
{
    struct timespec time;
    clock_gettime(clock, &time);
    return (double)time.tv_sec + (double)time.tv_nsec * 1e-9;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted values, p in (0, 1]. */
static double percentile(const double *sorted, size_t n, double p)
{
    size_t rank = (size_t)ceil(p * (double)n);
    return sorted[rank ? rank - 1 : 0];
}

static int parse_unsigned(const char *text, uint64_t *value)
{
    char *end;
    errno = 0;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (errno || end == text || *end != '\0' || text[0] == '-')
        return 0;
    *value = parsed;
    return 1;
}

static int parse_settings(int argc, char **argv, settings *s)
{
    for (int i = 1; i < argc; i += 2) {
        const char *option = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = value != NULL;
        if (ok && strcmp(option, "--seeds") == 0)
            ok = parse_unsigned(value, &s->seeds) && s->seeds > 0;
        else if (ok && strcmp(option, "--first-seed") == 0)
            ok = parse_unsigned(value, &s->first_seed);
        else if (ok && strcmp(option, "--max-draws") == 0)
            ok = parse_unsigned(value, &s->max_draws);
        else if (ok && strcmp(option, "--compare") == 0)
            ok = parse_unsigned(value, &s->compare);
        else if (ok && strcmp(option, "--count") == 0)
            ok = parse_unsigned(value, &s->count);
        else if (ok && strcmp(option, "--dims") == 0)
            ok = parse_unsigned(value, &s->dims);
        else if (ok && strcmp(option, "--threshold") == 0) {
            char *end;
            s->threshold = strtod(value, &end);
            ok = end != value && *end == '\0' && isfinite(s->threshold);
        } else
            ok = 0;
        if (!ok) {
            fprintf(stderr,
                    "usage: bench_labels [--seeds N] [--first-seed S] "
                    "[--max-draws M] [--count C] [--dims D] [--threshold T] "
                    "[--compare N]\n"
                    "bad or incomplete option: %s\n",
                    option);
            return 0;
        }
    }
    return 1;
}

/* The original sampler: each candidate from `dims` calls of random_normal,
 * v = |g| / ||g|| in float, cosines in double from the floats (torch form),
 * earlier rows first. Returns 1 with the set in `out` (count x dims), or 0
 * when max_draws ran out; *draws receives the draws made. */
static int original_generate(size_t count, size_t dims, double threshold,
                             uint64_t seed, uint64_t max_draws, float *out,
                             double *scratch, uint64_t *draws)
{
    random_generator generator;
    random_seed(&generator, seed);
    double *normals = scratch, *squared_norms = scratch + dims;
    size_t accepted = 0;
    *draws = 0;
    while (accepted < count && *draws < max_draws) {
        float *candidate = out + accepted * dims;
        ++*draws;
        double sum = 0;
        for (size_t i = 0; i < dims; i++) {
            normals[i] = random_normal(&generator);
            sum += normals[i] * normals[i];
        }
        if (sum == 0)
            continue;
        double norm = sqrt(sum);
        double candidate_squared = 0;
        for (size_t i = 0; i < dims; i++) {
            candidate[i] = (float)(fabs(normals[i]) / norm);
            candidate_squared += (double)candidate[i] * candidate[i];
        }
        size_t k = 0;
        for (; k < accepted; k++) {
            const float *row = out + k * dims;
            double dot = 0;
            for (size_t i = 0; i < dims; i++)
                dot += (double)row[i] * candidate[i];
            double cosine =
                dot / sqrt(fmax(squared_norms[k] * candidate_squared, 1e-12));
            if (!(cosine <= threshold))
                break;
        }
        if (k == accepted)
            squared_norms[accepted++] = candidate_squared;
    }
    return accepted == count;
}

/* Library and original generator on the first s->compare seeds, in turn;
 * returns 0 if they disagree. */
static int compare_with_original(const settings *s)
{
    size_t total = s->count * s->dims;
    float *original = malloc(total * sizeof *original);
    double *scratch = malloc((s->dims + s->count) * sizeof *scratch);
    double *ratios = malloc(s->compare * sizeof *ratios);
    if (!original || !scratch || !ratios) {
        fprintf(stderr, "bench_labels: out of memory\n");
        return 0;
    }
    double library_total = 0, original_total = 0;
    size_t compared = 0;
    for (uint64_t i = 0; i < s->compare; i++) {
        uint64_t seed = s->first_seed + i, library_draws = 0, original_draws;
        cosnet_labels *labels = NULL;
        double start = now_seconds(CLOCK_THREAD_CPUTIME_ID);
        cosnet_status status =
            labels_generate_counting(s->count, s->dims, s->threshold, seed,
                                     s->max_draws, &labels, &library_draws);
        double middle = now_seconds(CLOCK_THREAD_CPUTIME_ID);
        int found =
            original_generate(s->count, s->dims, s->threshold, seed,
                              s->max_draws, original, scratch, &original_draws);
        double end = now_seconds(CLOCK_THREAD_CPUTIME_ID);
        int same = (status == COSNET_OK) == found &&
                   library_draws == original_draws &&
                   (!found || memcmp(cosnet_labels_vector(labels, 0), original,
                                     total * sizeof(float)) == 0);
        cosnet_labels_free(labels);
        if (!same) {
            fprintf(stderr,
                    "bench_labels: seed %" PRIu64 ": the library and the "
                    "original sampler disagree (%" PRIu64 " and %" PRIu64
                    " draws)\n",
                    seed, library_draws, original_draws);
            return 0;
        }
        library_total += middle - start;
        original_total += end - middle;
        ratios[compared++] = (end - middle) / (middle - start);
    }
    qsort(ratios, compared, sizeof *ratios, compare_doubles);
    printf("original sampler vs library, seeds %" PRIu64 "..%" PRIu64
           " (same vectors and draw counts): CPU time %.1f s vs %.1f s, "
           "%.1fx; per seed median ratio %.1fx, min %.1fx\n",
           s->first_seed, s->first_seed + s->compare - 1, original_total,
           library_total, original_total / library_total,
           percentile(ratios, compared, 0.5), ratios[0]);
    free(original);
    free(scratch);
    free(ratios);
    return 1;
}

int main(int argc, char **argv)
{
    /* Defaults: the article's parameters; a draw bound high enough that
     * every seed succeeds, so the distribution is not cut off. */
    settings s = {.seeds = 1000,
                  .first_seed = 0,
                  .max_draws = 200000000,
                  .count = COSNET_LABELS_DEFAULT_COUNT,
                  .dims = COSNET_LABELS_DEFAULT_DIMS,
                  .threshold = COSNET_LABELS_DEFAULT_THRESHOLD};
    if (!parse_settings(argc, argv, &s))
        return 2;

    printf("command:");
    for (int i = 0; i < argc; i++)
        printf(" %s", argv[i]);
    const char *isa = NULL;
    labels_magnitudes_active(&isa);
    int lanes = labels_lanes_available(isa);
    printf("\nlibcosnet %s (%s, generator in %d %s): generating "
           "%" PRIu64 " x %" PRIu64
           " label sets at threshold %g, seeds %" PRIu64 "..%" PRIu64
           ", at most %" PRIu64 " draws each\n",
           cosnet_version(), isa, lanes ? lanes : 1,
           lanes ? "vector lanes" : "scalar stream", s.count, s.dims,
           s.threshold, s.first_seed, s.first_seed + s.seeds - 1, s.max_draws);
    fflush(stdout);

    if (s.compare > 0 && !compare_with_original(&s))
        return 1;
    fflush(stdout);

    double *milliseconds = malloc(s.seeds * sizeof *milliseconds);
    double *cpu_milliseconds = malloc(s.seeds * sizeof *cpu_milliseconds);
    double *draws = malloc(s.seeds * sizeof *draws);
    if (!milliseconds || !cpu_milliseconds || !draws) {
        fprintf(stderr, "bench_labels: out of memory\n");
        return 1;
    }
    size_t succeeded = 0, over_default = 0, gave_up = 0;
    double total_seconds = 0, total_cpu_seconds = 0, total_draws = 0;
    for (uint64_t i = 0; i < s.seeds; i++) {
        cosnet_labels *labels = NULL;
        uint64_t used = 0;
        double start = now_seconds(CLOCK_MONOTONIC);
        double cpu_start = now_seconds(CLOCK_THREAD_CPUTIME_ID);
        cosnet_status status = labels_generate_counting(
            s.count, s.dims, s.threshold, s.first_seed + i, s.max_draws,
            &labels, &used);
        double seconds = now_seconds(CLOCK_MONOTONIC) - start;
        double cpu_seconds = now_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
        cosnet_labels_free(labels);
        total_seconds += seconds;
        total_cpu_seconds += cpu_seconds;
        total_draws += (double)used;
        if (used > one_million_draws)
            over_default++;
        if (status == COSNET_OK) {
            milliseconds[succeeded] = seconds * 1e3;
            cpu_milliseconds[succeeded] = cpu_seconds * 1e3;
            draws[succeeded] = (double)used;
            succeeded++;
        } else if (status == COSNET_ERROR_GAVE_UP) {
            gave_up++;
        } else {
            fprintf(stderr, "bench_labels: %s\n", cosnet_last_error());
            return 1;
        }
    }

    printf("succeeded %zu of %" PRIu64 " seeds; gave up on %zu\n", succeeded,
           s.seeds, gave_up);
    if (succeeded > 0) {
        qsort(milliseconds, succeeded, sizeof *milliseconds, compare_doubles);
        qsort(cpu_milliseconds, succeeded, sizeof *cpu_milliseconds,
              compare_doubles);
        qsort(draws, succeeded, sizeof *draws, compare_doubles);
        printf("wall time per set (ms): median %.1f  p10 %.1f  p90 %.1f  "
               "max %.1f\n",
               percentile(milliseconds, succeeded, 0.5),
               percentile(milliseconds, succeeded, 0.1),
               percentile(milliseconds, succeeded, 0.9),
               milliseconds[succeeded - 1]);
        printf("CPU time per set (ms):  median %.1f  p10 %.1f  p90 %.1f  "
               "max %.1f\n",
               percentile(cpu_milliseconds, succeeded, 0.5),
               percentile(cpu_milliseconds, succeeded, 0.1),
               percentile(cpu_milliseconds, succeeded, 0.9),
               cpu_milliseconds[succeeded - 1]);
        printf("draws per set:          median %.0f  p10 %.0f  p90 %.0f  "
               "max %.0f\n",
               percentile(draws, succeeded, 0.5),
               percentile(draws, succeeded, 0.1),
               percentile(draws, succeeded, 0.9), draws[succeeded - 1]);
    }
    printf("cost per draw: %.0f ns wall, %.0f ns CPU (all seeds: %.1f s "
           "wall, %.1f s CPU)\n",
           total_seconds / total_draws * 1e9,
           total_cpu_seconds / total_draws * 1e9, total_seconds,
           total_cpu_seconds);
    printf("seeds needing more than %d draws: %zu of %" PRIu64
           " (%.1f%%); the default bound (max_draws 0) is %u\n",
           one_million_draws, over_default, s.seeds,
           100.0 * (double)over_default / (double)s.seeds,
           LABELS_DEFAULT_MAX_DRAWS);
    free(milliseconds);
    free(cpu_milliseconds);
    free(draws);
    return 0;
}
