/* Classifier evaluation benchmark: a classifier saved by `cosnet-train
 * --save` scores an IDX image set through cosnet_evaluate_classifier, the
 * call behind cosnet-train's test evaluation.
 *
 *   bench_classify [--reps N] [--threads N] CLASSIFIER IMAGES LABELS
 *
 * Prints the median and the fastest of --reps (default 9, at most 64)
 * timed calls after one untimed call, in wall-clock seconds (the call
 * runs --threads threads, default 1; 0 = one per online CPU), the images
 * per second at the median, and the correct count, which a change that
 * keeps the bits must keep. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cosnet.h"

static double wall_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_classify [--reps N] [--threads N] "
                    "CLASSIFIER IMAGES LABELS\n");
    return 2;
}

/* A whole number in [low, high], else -1. */
static long parse_number(const char *text, long low, long high)
{
    char *end;
    const long value = strtol(text, &end, 10);
    return end != text && *end == '\0' && value >= low && value <= high ? value
                                                                        : -1;
}

static int fail(const char *what)
{
    fprintf(stderr, "bench_classify: %s: %s\n", what, cosnet_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    long repetitions = 9, threads = 1;
    const char *paths[3];
    int path_count = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            if ((repetitions = parse_number(argv[++i], 1, 64)) < 0)
                return usage();
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            if ((threads = parse_number(argv[++i], 0, 1024)) < 0)
                return usage();
        } else if (argv[i][0] == '-' || path_count == 3) {
            return usage();
        } else {
            paths[path_count++] = argv[i];
        }
    }
    if (path_count != 3)
        return usage();
    cosnet_classifier *classifier = NULL;
    if (cosnet_classifier_load(paths[0], &classifier) != COSNET_OK)
        return fail(paths[0]);
    const cosnet_model *model = cosnet_classifier_model(classifier);
    const cosnet_labels *labels = cosnet_classifier_labels(classifier);
    cosnet_dataset *dataset = NULL;
    if (cosnet_dataset_open(paths[1], paths[2],
                            (unsigned)cosnet_labels_count(labels),
                            &dataset) != COSNET_OK) {
        cosnet_classifier_free(classifier);
        return fail(paths[1]);
    }
    double seconds[65];
    size_t correct = 0;
    int status = 0;
    for (long r = 0; r <= repetitions && status == 0; r++) {
        cosnet_evaluation *evaluation = NULL;
        const double start = wall_seconds();
        if (cosnet_evaluate_classifier(model, labels, dataset,
                                       (unsigned)threads,
                                       &evaluation) != COSNET_OK) {
            status = fail("cosnet_evaluate_classifier");
            break;
        }
        seconds[r] = wall_seconds() - start;
        correct = cosnet_evaluation_correct(evaluation, COSNET_RULE_OWN_LABEL);
        cosnet_evaluation_free(evaluation);
    }
    if (status == 0) {
        /* seconds[0] is the untimed warm-up call. */
        qsort(seconds + 1, (size_t)repetitions, sizeof(double),
              compare_doubles);
        const double middle = repetitions % 2
                                  ? seconds[1 + repetitions / 2]
                                  : 0.5 * (seconds[repetitions / 2] +
                                           seconds[1 + repetitions / 2]);
        const size_t count = cosnet_dataset_count(dataset);
        char thread_text[32];
        if (threads == 0)
            snprintf(thread_text, sizeof thread_text, "one thread per CPU");
        else
            snprintf(thread_text, sizeof thread_text, "%ld thread%s", threads,
                     threads == 1 ? "" : "s");
        printf("%zu images, %s, %ld repetitions: median %.4f s, fastest "
               "%.4f s, %.0f images/s; correct %zu/%zu\n",
               count, thread_text, repetitions, middle, seconds[1],
               (double)count / middle, correct, count);
    }
    cosnet_dataset_free(dataset);
    cosnet_classifier_free(classifier);
    return status;
}
