/* Internal: the pieces of fast label-set generation (label_set.c).
 *
 * The article's sampler draws each candidate from random_normal, one polar
 * pair at a time, and takes a libm log, a sqrt and a division per value. The
 * fast generator produces the very same stream in bulk and decides most
 * candidates without the exact arithmetic:
 *
 *   1. labels_fill_pairs runs the generator of common/rng.c inline and
 *      keeps, in order, the (u, s) of every pair the polar method accepts.
 *      random_normal returns u * sqrt(-2 log s / s) for exactly these pairs,
 *      so normal number i of the stream comes from pair i. With AVX-512 or
 *      AVX2, labels_fill_pairs_<isa> gives the same pairs from 8 or 4
 *      stretches of the stream generated side by side in vector lanes.
 *   2. labels_magnitudes_<isa> computes |g| = |u| sqrt(-2 ln s / s) for many
 *      pairs at once, in float with its own log, to a relative error below
 *      LABELS_MAGNITUDE_ERROR (a bound the tests hold it to).
 *   3. labels_certainly_rejected bounds the candidate's cosine with each
 *      accepted vector from those magnitudes; it reports a rejection only
 *      when the bound proves that the exact test would reject too.
 *   4. Every other candidate goes through the original exact computation,
 *      which alone decides acceptance and the values stored.
 *
 * For big sets step 1 runs on a helper thread, a slot of pairs ahead of
 * steps 2-4 (pair_source.h).
 *
 * So the vectors, the draw count and the GAVE_UP message are those of the
 * original generator, bit for bit (tests/data/label_reference_sets.h). */
#ifndef COSNET_LABELS_LABEL_DRAW_H
#define COSNET_LABELS_LABEL_DRAW_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "common/rng.h"

/* Appends exactly `count` accepted polar pairs of `generator`'s stream to
 * u_out and s_out (each with room for count + 1 values: the slot after the
 * last is written as scratch), advancing the generator as count calls of
 * random_normal would. */
void labels_fill_pairs(random_generator *generator, double *u_out,
                       double *s_out, size_t count);

/* Eight (AVX-512) or four (AVX2) stretches of the stream side by side:
 * lane k holds the generator LABELS_LANE_STEPS * k steps further on than
 * lane 0, so one block of LABELS_LANE_STEPS vector steps yields
 * lanes * LABELS_LANE_STEPS consecutive outputs; a jump (xoshiro is linear
 * over GF(2)) then moves every lane past the block. */
#define LABELS_LANE_STEPS 2048
/* Distance between the lanes' stretches in labels_lanes.raw (padded). */
#define LABELS_LANE_STRIDE (LABELS_LANE_STEPS + 8)
/* The most pairs one block can yield. */
#define LABELS_LANE_BLOCK_PAIRS (4 * LABELS_LANE_STEPS)

typedef struct labels_lanes {
    uint64_t state[4][8]; /* word w of lane k: state[w][k] */
    uint64_t *raw; /* lanes * LABELS_LANE_STRIDE outputs, 64-byte aligned */
} labels_lanes;

/* How many lanes the instruction set `isa` (from labels_magnitudes_active)
 * runs: 8 for "avx512", 4 for "avx2" (when this build and CPU have it),
 * else 0 (the portable labels_fill_pairs). */
int labels_lanes_available(const char *isa);

/* Sets `count` lanes from the generator (lane 0 = it, lane k = k
 * LABELS_LANE_STEPS steps on); `raw` must already point to its buffer. */
void labels_lanes_start(labels_lanes *lanes, int count,
                        const random_generator *generator);

/* The exact normal deviate of a pair, as random_normal computes it. */
double labels_pair_normal(double u, double s);

/* Bound on the relative error of labels_magnitudes_* against the exact
 * |u| sqrt(-2 ln s / s) (the analysis in label_magnitude_body.h gives about
 * 1e-6; the bound is 2^-18, about 3.8e-6). */
#define LABELS_MAGNITUDE_ERROR 0x1p-18

/* magnitude[i] ~ |u[i]| sqrt(-2 ln s[i] / s[i]) for 0 < s[i] < 1, with
 * relative error below LABELS_MAGNITUDE_ERROR. One source, compiled per
 * instruction set. */
typedef void (*labels_magnitude_function)(const double *u, const double *s,
                                          float *magnitude, size_t count);
void labels_magnitudes_scalar(const double *u, const double *s,
                              float *magnitude, size_t count);
void labels_magnitudes_avx2(const double *u, const double *s, float *magnitude,
                            size_t count);
void labels_magnitudes_avx512(const double *u, const double *s,
                              float *magnitude, size_t count);

/* The variant for the instruction set libcosnet uses (cosnet_isa), the
 * scalar one if that cannot be determined; `name` (may be NULL) receives
 * its name. */
labels_magnitude_function labels_magnitudes_active(const char **name);

/* The variant named "scalar", "avx2" or "avx512" if this build has it and
 * this CPU runs it, else NULL (for tests). */
labels_magnitude_function labels_magnitudes_by_name(const char *name);

/* The relative slack of the rejection bound for candidates of `dims`
 * values: the magnitudes' error, float summation and the exact path's own
 * rounding, with a factor of 4 to spare. */
double labels_rejection_slack(size_t dims);

/* 1 if the candidate whose magnitudes are `magnitude` (dims floats) has,
 * for certain, cosine above `threshold` with one of the `accepted` vectors
 * (rows of `vectors`, squared norms in `squared_norms`), so that the exact
 * test rejects it; 0 if that is not certain. */
int labels_certainly_rejected(const float *magnitude, size_t dims,
                              const float *vectors, size_t accepted,
                              const double *squared_norms, double threshold,
                              double slack);

/* The last step of labels_certainly_rejected, for one accepted vector:
 * whether the candidate's dot product `dot` with it certainly exceeds the
 * threshold, given norms = b |l|^2 (the candidate's squared norm, at least
 * 1, times the vector's). Certain when dot scale - absolute > threshold
 * sqrt(norms), scale = 1 - slack: a magnitude that underflows float
 * (possible only below about 1e-19) is off by that much in absolute terms,
 * not relatively, and with b at least 1 those errors shift the cosine by
 * less than dims * 2^-60, allowed for (generously) by `absolute`. With
 * threshold + absolute >= 0 both sides may be squared (dot >= 0), which
 * spares a square root and a division per row; the double rounding of the
 * squares is far inside the slack. */
static inline int labels_certainly_above(double dot, size_t dims, double norms,
                                         double threshold, double slack)
{
    const double scaled = dot * (1.0 - slack);
    const double bound = threshold + (double)dims * 0x1p-50;
    return bound >= 0 ? scaled * scaled > bound * bound * norms
                      : scaled > bound * sqrt(norms);
}

#if defined(__x86_64__)
/* As labels_fill_pairs_avx512 with four lanes in AVX2 (room for
 * LABELS_LANE_BLOCK_PAIRS / 2 + 8 values). */
size_t labels_fill_pairs_avx2(labels_lanes *lanes, double *u_out,
                              double *s_out);

/* The next block: appends its accepted pairs, in stream order, to u_out
 * and s_out (each with room for LABELS_LANE_BLOCK_PAIRS + 8 values) and
 * returns how many. The stream is the one labels_fill_pairs gives. */
size_t labels_fill_pairs_avx512(labels_lanes *lanes, double *u_out,
                                double *s_out);

/* The same test in AVX-512 (used with the lanes). Its sums run in another
 * order, so near the bound its answer may differ from the portable one;
 * both are certain. */
int labels_certainly_rejected_avx512(const float *magnitude, size_t dims,
                                     const float *vectors, size_t accepted,
                                     const double *squared_norms,
                                     double threshold, double slack);
#else
/* The AVX2 and AVX-512 pieces are built for x86-64 only
 * (lib/labels/meson.build). Elsewhere labels_lanes_available is always 0,
 * so these stand-ins, which keep callers free of conditional compilation,
 * are never called. */
static inline size_t labels_fill_pairs_avx2(labels_lanes *lanes, double *u_out,
                                            double *s_out)
{
    (void)lanes;
    (void)u_out;
    (void)s_out;
    return 0;
}

static inline size_t labels_fill_pairs_avx512(labels_lanes *lanes,
                                              double *u_out, double *s_out)
{
    (void)lanes;
    (void)u_out;
    (void)s_out;
    return 0;
}

static inline int labels_certainly_rejected_avx512(
    const float *magnitude, size_t dims, const float *vectors, size_t accepted,
    const double *squared_norms, double threshold, double slack)
{
    return labels_certainly_rejected(magnitude, dims, vectors, accepted,
                                     squared_norms, threshold, slack);
}
#endif

#endif
