/* cosnet-train: trains the honest cosine classifier -- one network for all
 * classes, predict(x) = argmax_k cos(f(x), v_k) -- on a labelled dataset
 * folder, reports test accuracy, per-class accuracy and the confusion
 * matrix, and saves a classifier bundle for cosnet-classify.
 *
 *   main.c     the run: checks, data, labels, training, evaluation, saving
 *   options.c  the command line and --help
 *   report.c   the text report and the JSON
 *   figures.c  --report and --svg: the HTML report and its figures (drawn
 *              by ../report/) */
#ifndef COSNET_TRAIN_H
#define COSNET_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "cosnet.h"

#define PROGRAM "cosnet-train"
#define CLASSES 10

enum { EXIT_USAGE = 2 };

typedef struct options {
    char *data_dir;     /* owned; NULL: the dataset's default */
    int fashion;        /* --dataset fashion */
    const char *arch;   /* "deep-classifier", "classifier", "seed" or a
                           layer list */
    const char *labels; /* "author", "generate" or a file */
    uint64_t label_seed, seed;
    unsigned epochs, threads;
    size_t batch_size, validation;
    double learning_rate, weight_decay, warmup;
    double rotate, scale; /* augmentation: degrees, scale change */
    double elastic;       /* augmentation: elastic displacement, pixels */
    double softmax;       /* the softmax loss's scale; 0: the cosine loss */
    int rotate_given, scale_given, elastic_given;
    unsigned shift;
    const char *save_path, *json_path;
    const char *report_path, *svg_dir; /* --report FILE.html, --svg DIR */
    int quiet;
} options;

/* What a run produced, for the report and the JSON. */
typedef struct run_result {
    const options *opt;
    const char *isa;
    const char *const *class_names;
    const cosnet_model *model;
    const cosnet_trainer *trainer;
    const cosnet_evaluation *test;
    double load_seconds, train_seconds, eval_seconds;
    const char *data_folder; /* where the dataset was read */
} run_result;

/* options.c: fills *opt (defaults first); returns 0 to go on, else the exit
 * status. *done is set when --help or --version was answered. */
int parse_options(int argc, char **argv, options *opt, int *done);

/* report.c */
void print_report(FILE *out, const run_result *r);
/* The loss trained with, in words, into text (size bytes), for the text
 * report and the HTML report's configuration; returns text. */
const char *describe_loss(const options *opt, char *text, size_t size);
/* The JSON as one object into a malloc'd string (NULL when out of
 * memory). */
char *json_report(const run_result *r);

/* figures.c: before any work, checks that --report and --svg can be
 * written; after the evaluation, collects the misclassified test images
 * with the lowest margin and writes the report and the figures. Exit
 * statuses (0 or EXIT_FAILURE, after printing). */
int figures_check(const options *opt);
int figures_write(const run_result *r, const cosnet_labels *labels,
                  const cosnet_dataset *test);

#endif
