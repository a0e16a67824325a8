/* cosnet-train's run: checks, data, labels, training, evaluation, saving.
 * See cosnet-train.h for the files of the program. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "command_line.h"
#include "cosnet-train.h"
#include "data_folder.h"
#include "file_writer.h"
#include "progress.h"
#include "run_files.h"

#define FASHION_FOLDER "/usr/share/datasets/fashion-mnist"

static const char *const digit_names[CLASSES] = {"0", "1", "2", "3", "4",
                                                 "5", "6", "7", "8", "9"};
/* Fashion-MNIST's classes in label order. */
static const char *const fashion_names[CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

static int library_failure(const char *what)
{
    const char *message = cosnet_last_error();
    if (what && !strstr(message, what))
        fprintf(stderr, PROGRAM ": %s: %s\n", what, message);
    else
        fprintf(stderr, PROGRAM ": %s\n", message);
    return EXIT_FAILURE;
}

/* The progress line: one per epoch, redrawn in place, on a terminal only. */
typedef struct progress_state {
    const options *opt;
    const cosnet_trainer *trainer;
    progress *line;
    size_t done;
    unsigned epoch;
} progress_state;

static void start_line(progress_state *s, unsigned epoch, size_t total)
{
    char label[96];
    double accuracy =
        epoch > 1 ? cosnet_trainer_validation_accuracy(s->trainer, epoch - 1)
                  : -1.0;
    if (epoch > 1 && accuracy >= 0)
        snprintf(label, sizeof label, "epoch %u/%u (loss %.4f, val %.2f%%)",
                 epoch, s->opt->epochs,
                 (double)cosnet_trainer_epoch_loss(s->trainer, epoch - 1),
                 100.0 * accuracy);
    else if (epoch > 1)
        snprintf(label, sizeof label, "epoch %u/%u (loss %.4f)", epoch,
                 s->opt->epochs,
                 (double)cosnet_trainer_epoch_loss(s->trainer, epoch - 1));
    else
        snprintf(label, sizeof label, "epoch %u/%u", epoch, s->opt->epochs);
    s->line =
        progress_start(STDERR_FILENO, label, "images/s", total, !s->opt->quiet);
    s->done = 0;
    s->epoch = epoch;
}

static int on_progress(void *user_data, unsigned epoch, size_t done,
                       size_t total, float loss, int finished)
{
    progress_state *s = user_data;
    (void)loss;
    if (epoch != s->epoch) {
        progress_finish(s->line);
        start_line(s, epoch, total);
    }
    if (!finished) {
        progress_add(s->line, done - s->done);
        s->done = done;
    }
    return 0;
}

/* Every file the run reads or writes, by option: no output may overwrite
 * another or an input. */
static int check_run_files(const options *opt, const char *folder)
{
    run_files set = {0};
    if (opt->save_path)
        run_files_add(&set, "--save", NULL, opt->save_path, 1);
    if (opt->json_path && strcmp(opt->json_path, "-") != 0)
        run_files_add(&set, "--json", NULL, opt->json_path, 1);
    run_files_add_report(&set, opt->report_path, opt->svg_dir);
    if (strcmp(opt->labels, "author") != 0 &&
        strcmp(opt->labels, "generate") != 0)
        run_files_add(&set, "--labels", NULL, opt->labels, 0);
    run_files_add_mnist(&set, folder);
    int result = run_files_check(&set, PROGRAM);
    run_files_free(&set);
    return result;
}

/* Fails before any long work when an output cannot be written. */
static int check_outputs(const options *opt, const char *folder)
{
    int result = check_run_files(opt, folder);
    if (result)
        return result;
    char message[FILE_WRITE_MESSAGE_SIZE];
    if (opt->save_path &&
        file_write_check_message(opt->save_path, message, sizeof message) !=
            COSNET_OK) {
        fprintf(stderr, PROGRAM ": --save: %s\n", message);
        return EXIT_FAILURE;
    }
    if (opt->json_path && strcmp(opt->json_path, "-") != 0 &&
        file_write_check_message(opt->json_path, message, sizeof message) !=
            COSNET_OK) {
        fprintf(stderr, PROGRAM ": --json: %s\n", message);
        return EXIT_FAILURE;
    }
    return figures_check(opt);
}

static int open_data(const options *opt, const char *folder,
                     cosnet_dataset **train, cosnet_dataset **test)
{
    if (data_open(folder, "train", CLASSES, train) == COSNET_OK &&
        data_open(folder, "t10k", CLASSES, test) == COSNET_OK)
        return 0;
    library_failure(folder);
    if (opt->fashion)
        fprintf(stderr,
                PROGRAM ": Fashion-MNIST comes with Debian's package "
                        "dataset-fashion-mnist (apt-get install "
                        "dataset-fashion-mnist), in " FASHION_FOLDER "\n");
    else
        data_missing_hint(stderr, PROGRAM, folder);
    return EXIT_FAILURE;
}

static int make_labels(const options *opt, cosnet_labels **labels)
{
    cosnet_status status;
    if (strcmp(opt->labels, "author") == 0)
        status = cosnet_labels_builtin(labels);
    else if (strcmp(opt->labels, "generate") == 0)
        status = cosnet_labels_generate(CLASSES, COSNET_LABELS_DEFAULT_DIMS,
                                        COSNET_LABELS_DEFAULT_THRESHOLD,
                                        opt->label_seed, 0, labels);
    else
        status = cosnet_labels_load(opt->labels, labels);
    if (status != COSNET_OK)
        return library_failure("--labels");
    /* One vector per class: a vector beyond the classes would be a class
     * with no name, no images and no row in the report. */
    if (cosnet_labels_count(*labels) != CLASSES) {
        fprintf(stderr,
                PROGRAM ": --labels %s: %zu vectors for %d classes (one "
                        "vector per class)\n",
                opt->labels, cosnet_labels_count(*labels), CLASSES);
        return EXIT_FAILURE;
    }
    return 0;
}

static int make_model(const options *opt, const cosnet_labels *labels,
                      cosnet_model **model)
{
    cosnet_status status;
    if (strcmp(opt->arch, "deep-classifier") == 0)
        status = cosnet_model_create(COSNET_ARCHITECTURE_DEEP_CLASSIFIER,
                                     opt->seed, model);
    else if (strcmp(opt->arch, "classifier") == 0)
        status = cosnet_model_create(COSNET_ARCHITECTURE_CLASSIFIER, opt->seed,
                                     model);
    else if (strcmp(opt->arch, "seed") == 0)
        status =
            cosnet_model_create(COSNET_ARCHITECTURE_SEED, opt->seed, model);
    else
        status =
            cosnet_model_create_layers(opt->arch, 1, 28, 28, opt->seed, model);
    /* A layer list that does not parse or that the rules refuse is a bad
     * option value, as a bad number is. */
    if (status == COSNET_ERROR_BAD_FORMAT)
        return command_line_usage_error(PROGRAM, "--arch: %s",
                                        cosnet_last_error());
    if (status != COSNET_OK)
        return library_failure("--arch");
    if (cosnet_model_output_dims(*model) != cosnet_labels_dims(labels)) {
        fprintf(stderr,
                PROGRAM ": --arch gives %zu outputs but the label vectors "
                        "have %zu dimensions; end the layer list with "
                        "\"dense %zu\"\n",
                cosnet_model_output_dims(*model), cosnet_labels_dims(labels),
                cosnet_labels_dims(labels));
        return EXIT_FAILURE;
    }
    return 0;
}

static int train(const options *opt, cosnet_model *model,
                 const cosnet_labels *labels, const cosnet_dataset *data,
                 cosnet_trainer **out)
{
    cosnet_trainer *trainer = NULL;
    if (cosnet_trainer_create(&trainer) != COSNET_OK)
        return library_failure("trainer");
    *out = trainer;
    const struct {
        cosnet_trainer_option option;
        double value;
    } settings[] = {
        {COSNET_TRAINER_EPOCHS, opt->epochs},
        {COSNET_TRAINER_BATCH_SIZE, (double)opt->batch_size},
        {COSNET_TRAINER_LEARNING_RATE, opt->learning_rate},
        {COSNET_TRAINER_WEIGHT_DECAY, opt->weight_decay},
        {COSNET_TRAINER_WARMUP, opt->warmup},
        {COSNET_TRAINER_SHIFT, opt->shift},
        {COSNET_TRAINER_ROTATE, opt->rotate},
        {COSNET_TRAINER_SCALE, opt->scale},
        {COSNET_TRAINER_ELASTIC, opt->elastic},
        {COSNET_TRAINER_SOFTMAX_SCALE, opt->softmax},
        {COSNET_TRAINER_VALIDATION, (double)opt->validation},
        {COSNET_TRAINER_THREADS, opt->threads},
        {COSNET_TRAINER_SEED, (double)opt->seed},
    };
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        if (cosnet_trainer_set(trainer, settings[i].option,
                               settings[i].value) != COSNET_OK)
            return library_failure(NULL);
    progress_state state = {opt, trainer, NULL, 0, 0};
    cosnet_trainer_set_progress(trainer, on_progress, &state);
    cosnet_status status = cosnet_trainer_run(trainer, model, labels, data);
    progress_finish(state.line);
    return status == COSNET_OK ? 0 : library_failure("training");
}

static int write_outputs(const options *opt, const run_result *r,
                         const cosnet_labels *labels)
{
    char message[FILE_WRITE_MESSAGE_SIZE];
    if (opt->save_path) {
        cosnet_classifier *bundle = NULL;
        if (cosnet_classifier_create(r->model, labels, r->class_names,
                                     &bundle) != COSNET_OK ||
            cosnet_classifier_save(bundle, opt->save_path) != COSNET_OK) {
            cosnet_classifier_free(bundle);
            return library_failure(opt->save_path);
        }
        cosnet_classifier_free(bundle);
    }
    if (!opt->json_path)
        return 0;
    char *json = json_report(r);
    if (!json) {
        fprintf(stderr, PROGRAM ": out of memory for the JSON\n");
        return EXIT_FAILURE;
    }
    int result = 0;
    if (strcmp(opt->json_path, "-") == 0) {
        if (fputs(json, stdout) == EOF || fflush(stdout) != 0) {
            fprintf(stderr, PROGRAM ": cannot write the JSON: %s\n",
                    strerror(errno));
            result = EXIT_FAILURE;
        }
    } else if (file_write_atomic_message(opt->json_path, json, strlen(json),
                                         message,
                                         sizeof message) != COSNET_OK) {
        fprintf(stderr, PROGRAM ": %s\n", message);
        result = EXIT_FAILURE;
    }
    free(json);
    return result;
}

int main(int argc, char **argv)
{
    options opt;
    memset(&opt, 0, sizeof opt);
    int done = 0;
    int result = parse_options(argc, argv, &opt, &done);
    if (result || done) {
        free(opt.data_dir);
        return result;
    }
    const char *isa = NULL;
    cosnet_dataset *train_set = NULL, *test_set = NULL;
    cosnet_labels *labels = NULL;
    cosnet_model *model = NULL;
    cosnet_trainer *trainer = NULL;
    cosnet_evaluation *test = NULL;
    char *folder = opt.data_dir  ? strdup(opt.data_dir)
                   : opt.fashion ? strdup(FASHION_FOLDER)
                                 : data_folder(NULL);
    run_result r = {&opt,  NULL, opt.fashion ? fashion_names : digit_names,
                    NULL,  NULL, NULL,
                    0,     0,    0,
                    folder};
    double start = clock_seconds();
    if (!folder) {
        fprintf(stderr, PROGRAM ": no data folder: give --data DIR or set "
                                "COSNET_DATA or HOME\n");
        result = EXIT_FAILURE;
    }
    if (!result && cosnet_isa(&isa) != COSNET_OK)
        result = library_failure(NULL);
    /* --json naming stdout itself (e.g. /dev/stdout redirected to a file)
     * is written as "-": renaming a new file over it would lose the text
     * report that also goes there. */
    if (opt.json_path && strcmp(opt.json_path, "-") != 0 &&
        run_files_is_standard_output(opt.json_path))
        opt.json_path = "-";
    if (!result)
        result = check_outputs(&opt, folder);
    /* The label set and the network before the data: a bad --labels or
     * --arch is reported without reading 60,000 images first. */
    if (!result)
        result = make_labels(&opt, &labels);
    if (!result)
        result = make_model(&opt, labels, &model);
    if (!result)
        result = open_data(&opt, folder, &train_set, &test_set);
    r.isa = isa;
    r.model = model;
    r.load_seconds = clock_seconds() - start;
    if (!result) {
        start = clock_seconds();
        result = train(&opt, model, labels, train_set, &trainer);
        r.train_seconds = clock_seconds() - start;
        r.trainer = trainer;
    }
    if (!result) {
        start = clock_seconds();
        if (cosnet_evaluate_classifier(model, labels, test_set, opt.threads,
                                       &test) != COSNET_OK)
            result = library_failure("test evaluation");
        r.eval_seconds = clock_seconds() - start;
        r.test = test;
    }
    if (!result) {
        int json_on_stdout = opt.json_path && strcmp(opt.json_path, "-") == 0;
        print_report(json_on_stdout ? stderr : stdout, &r);
        result = write_outputs(&opt, &r, labels);
    }
    if (!result && (opt.report_path || opt.svg_dir))
        result = figures_write(&r, labels, test_set);
    cosnet_evaluation_free(test);
    cosnet_trainer_free(trainer);
    cosnet_model_free(model);
    cosnet_labels_free(labels);
    cosnet_dataset_free(train_set);
    cosnet_dataset_free(test_set);
    free(folder);
    free(opt.data_dir);
    if (!result)
        result = command_line_finish_output(PROGRAM);
    return result;
}
