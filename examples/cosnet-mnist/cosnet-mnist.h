/* cosnet-mnist: the article's whole MNIST pipeline through the public API,
 * reported honestly. The program is a few files, one concern each:
 *
 *   main.c          the run: checks, data, labels, training, evaluation
 *   options.c       the command line and --help
 *   training.c      ten digits trained by a small pool of threads
 *   report.c        the text report
 *   json.c          the same results as one JSON object
 *   model_folder.c  --save and --load: ten model files and labels.txt
 *   figures.c       --report and --svg: the HTML report and its figures
 *                   (drawn by ../report/)
 *
 * and ../common/data_folder.c finds the MNIST files. */
#ifndef COSNET_MNIST_H
#define COSNET_MNIST_H

#include <stdint.h>
#include <stdio.h>

#include "cosnet.h"
#include "loss_history.h"
#include "progress.h"
#include "run_files.h"

#define PROGRAM "cosnet-mnist"
#define DIGITS 10
#define MAX_THREADS 1024u
/* Seeds of digit k: model seed*SEED_STRIDE + k, subset seed*SEED_STRIDE +
 * SUBSET_OFFSET + k. Distinct for every (seed, k) and kind, since the stride
 * exceeds the offsets. The library's generator expands each seed through
 * splitmix64, so neighbouring seeds give unrelated streams. */
#define SEED_STRIDE 1000003u
#define SUBSET_OFFSET 100u

enum { EXIT_USAGE = 2 };

typedef struct options {
    char *data_dir; /* owned */
    int generate_labels;
    uint64_t label_seed, seed;
    unsigned epochs;
    size_t batches, batch_size;
    unsigned threads;
    const char *save_dir, *load_dir, *json_path;
    const char *report_path, *svg_dir; /* --report FILE.html, --svg DIR */
    int batch_losses;                  /* --batch-losses: in the JSON */
    int json_to_stdout; /* --json - (or a name for stdout itself) */
    int quiet;
    /* The first option given that only makes sense when training. */
    const char *training_option;
    int label_seed_given;
} options;

typedef struct results {
    cosnet_evaluation *train, *test;
} results;

/* Times in seconds: load, train, evaluation, total. */
typedef struct timings {
    double load, train, eval, total;
} timings;

/* What was run, for the report and the JSON. */
typedef struct run_summary {
    const options *opt;
    const char *isa;
    unsigned threads;
    const char *labels_name;     /* "author", "generate" or "loaded" */
    const float *final_loss;     /* DIGITS losses; NULL when loaded */
    const loss_history *history; /* every epoch's loss; NULL when loaded */
    const results *r;
    timings time;
} run_summary;

/* options.c: fills *opt (defaults first); returns 0 to go on, else the
 * exit status (after printing). *done is set when --help or --version was
 * answered. */
int parse_options(int argc, char **argv, options *opt, int *done);

/* main.c: prints "PROGRAM: message" for a failed library call (`what`
 * added when the message does not name it); returns EXIT_FAILURE. */
int library_failure(const char *what, cosnet_status status);
/* main.c: prints "PROGRAM: out of memory ..."; returns EXIT_FAILURE. */
int out_of_memory(const char *what);

/* training.c: trains the DIGITS models on `threads` threads. models[k]
 * receives digit k's model (also on failure, so that it is freed) and
 * final_loss[k] its last epoch's loss. Returns 0 or EXIT_FAILURE (after
 * printing). */
int train_models(const options *opt, const cosnet_dataset *train,
                 const cosnet_labels *labels, unsigned threads,
                 cosnet_model **models, float *final_loss,
                 loss_history *history, progress *line);

/* report.c: the text report. */
void print_report(FILE *out, const run_summary *run);

/* json.c: before any work, takes a --json naming stdout itself for "-"
 * (json_find_stdout) and checks that --json can be written (exit status,
 * after printing, or 0); after it, writes the JSON to the file or to
 * stdout. */
void json_find_stdout(options *opt);
int json_check(const options *opt);
int json_write(const run_summary *run);

/* model_folder.c: before any work, creates the --save folder and checks a
 * file can be written in it; after training, writes digit-0.cosnet ..
 * digit-9.cosnet and labels.txt; --load reads them. Exit statuses. */
int model_folder_check(const char *folder);

/* model_folder.c: adds the folder's eleven files to `set`, as files the
 * run writes (--save) or reads (--load). */
void model_folder_list(run_files *set, const char *option, const char *folder,
                       int written);
int save_models(const char *folder, cosnet_model *const *models,
                const cosnet_labels *labels);
int load_models(const char *folder, cosnet_model **models,
                cosnet_labels **labels);

/* figures.c: before any work, checks that --report and --svg can be
 * written; after the evaluation, collects the gallery of misclassified test
 * images and writes the report and the figures. Exit statuses. */
int figures_check(const options *opt);
int figures_write(const run_summary *run, const cosnet_model *const *models,
                  const cosnet_labels *labels, const cosnet_dataset *test);

#endif
