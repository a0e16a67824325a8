/* cosnet-mnist: the article's whole MNIST pipeline through the public API,
 * reported honestly.
 *
 * Ten small networks (one per digit) are trained, in parallel, on 500 images
 * of their digit each, towards that digit's label vector; then all 70,000
 * MNIST images are scored under the article's rule (which reads the true
 * label), the own-label rule (honest) and the image-blind audit (which
 * proves the article's rule leaks the label). cosnet-mnist.h lists the
 * program's files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/command_line.h"
#include "../common/data_folder.h"
#include "cosnet-mnist.h"

int library_failure(const char *what, cosnet_status status)
{
    const char *message = cosnet_last_error();
    if (!*message)
        message = cosnet_strerror(status);
    if (what && !strstr(message, what))
        fprintf(stderr, PROGRAM ": %s: %s\n", what, message);
    else
        fprintf(stderr, PROGRAM ": %s\n", message);
    return EXIT_FAILURE;
}

int out_of_memory(const char *what)
{
    fprintf(stderr, PROGRAM ": out of memory for %s\n", what);
    return EXIT_FAILURE;
}

/* Everything main allocates, freed in one place on every path. */
typedef struct program {
    options opt;
    cosnet_dataset *train, *test;
    cosnet_labels *labels;
    cosnet_model *models[DIGITS];
    float final_loss[DIGITS];
    loss_history history;
    results r;
} program;

static void program_free(program *p)
{
    free(p->opt.data_dir);
    cosnet_dataset_free(p->train);
    cosnet_dataset_free(p->test);
    cosnet_labels_free(p->labels);
    for (unsigned k = 0; k < DIGITS; k++)
        cosnet_model_free(p->models[k]);
    cosnet_evaluation_free(p->r.train);
    cosnet_evaluation_free(p->r.test);
    loss_history_free(&p->history);
}

static int open_data(program *p)
{
    const char *folder = p->opt.data_dir;
    cosnet_status status = data_open(folder, "train", DIGITS, &p->train);
    if (status == COSNET_OK)
        status = data_open(folder, "t10k", DIGITS, &p->test);
    if (status == COSNET_OK)
        return 0;
    library_failure(folder, status);
    data_missing_hint(stderr, PROGRAM, folder);
    return EXIT_FAILURE;
}

/* The label set: loaded with the models, generated, or the article's. */
static int make_labels(program *p, const char **name)
{
    const options *opt = &p->opt;
    cosnet_status status;
    if (opt->load_dir) {
        *name = "loaded";
        return load_models(opt->load_dir, p->models, &p->labels);
    }
    if (opt->generate_labels) {
        *name = "generate";
        status = cosnet_labels_generate(
            COSNET_LABELS_DEFAULT_COUNT, COSNET_LABELS_DEFAULT_DIMS,
            COSNET_LABELS_DEFAULT_THRESHOLD, opt->label_seed, 0, &p->labels);
        return status == COSNET_OK
                   ? 0
                   : library_failure("label generation", status);
    }
    *name = "author";
    status = cosnet_labels_builtin(&p->labels);
    return status == COSNET_OK ? 0 : library_failure("author's labels", status);
}

/* The evaluation's workers report chunks; progress_add is thread-safe. */
static void evaluation_progress(void *line, size_t images)
{
    progress_add(line, images);
}

/* Every file the run reads or writes, by option: no output may overwrite
 * another or an input. */
static int check_run_files(const options *opt)
{
    run_files set = {0};
    if (opt->json_path && !opt->json_to_stdout)
        run_files_add(&set, "--json", NULL, opt->json_path, 1);
    run_files_add_report(&set, opt->report_path, opt->svg_dir);
    if (opt->save_dir)
        model_folder_list(&set, "--save", opt->save_dir, 1);
    if (opt->load_dir)
        model_folder_list(&set, "--load", opt->load_dir, 0);
    run_files_add_mnist(&set, opt->data_dir);
    int result = run_files_check(&set, PROGRAM);
    run_files_free(&set);
    return result;
}

static int run(program *p)
{
    options *opt = &p->opt;
    /* Outputs first: nothing long runs before they are known writable.
     * The --save folder before the files that may go into it. */
    json_find_stdout(opt);
    int result = check_run_files(opt);
    if (!result && opt->save_dir)
        result = model_folder_check(opt->save_dir);
    if (!result)
        result = json_check(opt);
    if (!result)
        result = figures_check(opt);
    if (result)
        return result;

    run_summary run = {.opt = opt, .isa = "unknown", .r = &p->r};
    cosnet_status status = cosnet_isa(&run.isa);
    if (status != COSNET_OK)
        return library_failure(NULL, status);
    run.threads = opt->threads;
    if (run.threads == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        run.threads = online > 0 ? (unsigned)online : 1;
        if (run.threads > MAX_THREADS)
            run.threads = MAX_THREADS;
    }

    double start = clock_seconds();
    result = open_data(p);
    if (!result)
        result = make_labels(p, &run.labels_name);
    if (result)
        return result;
    double loaded = clock_seconds();

    if (!opt->load_dir) {
        if (loss_history_init(&p->history, DIGITS, opt->epochs, opt->batches,
                              opt->batch_losses) != 0)
            return out_of_memory("the loss history");
        /* One line for all digits and threads: image-steps done of all. */
        progress *line = progress_start(STDERR_FILENO, "training", "images/s",
                                        (uint64_t)DIGITS * opt->epochs *
                                            opt->batches * opt->batch_size,
                                        !opt->quiet);
        result = train_models(opt, p->train, p->labels, run.threads, p->models,
                              p->final_loss, &p->history, line);
        progress_finish(line);
        if (result)
            return result;
        run.final_loss = p->final_loss;
        run.history = &p->history;
    }
    double trained = clock_seconds();
    if (opt->save_dir) {
        result = save_models(opt->save_dir, p->models, p->labels);
        if (result)
            return result;
    }

    double evaluation_start = clock_seconds();
    const cosnet_model *const *models = (const cosnet_model *const *)p->models;
    progress *line = progress_start(STDERR_FILENO, "evaluating", "images/s",
                                    cosnet_dataset_count(p->train) +
                                        cosnet_dataset_count(p->test),
                                    !opt->quiet);
    status = cosnet_evaluate_with_progress(models, DIGITS, p->labels, p->train,
                                           run.threads, evaluation_progress,
                                           line, &p->r.train);
    if (status == COSNET_OK)
        status = cosnet_evaluate_with_progress(
            models, DIGITS, p->labels, p->test, run.threads,
            evaluation_progress, line, &p->r.test);
    progress_finish(line);
    if (status != COSNET_OK)
        return library_failure("evaluation", status);
    double end = clock_seconds();

    run.time = (timings){loaded - start, trained - loaded,
                         end - evaluation_start, end - start};
    /* With the JSON on stdout, the text report goes to stderr. */
    FILE *report = opt->json_to_stdout ? stderr : stdout;
    print_report(report, &run);
    if (fflush(report) != 0 || ferror(report)) {
        fprintf(stderr, PROGRAM ": cannot write the report: %s\n",
                strerror(errno));
        return EXIT_FAILURE;
    }
    if (opt->report_path || opt->svg_dir) {
        result = figures_write(&run, models, p->labels, p->test);
        if (result)
            return result;
    }
    if (opt->json_path)
        return json_write(&run);
    return 0;
}

int main(int argc, char **argv)
{
    program p;
    memset(&p, 0, sizeof p);
    int done = 0;
    int result = parse_options(argc, argv, &p.opt, &done);
    if (!result && !done)
        result = run(&p);
    program_free(&p);
    if (!result && !done)
        result = command_line_finish_output(PROGRAM);
    return result;
}
