/* cosnet-mnist: the article's whole MNIST pipeline through the public API,
 * reported honestly.
 *
 * Ten small networks (one per digit) are trained, in parallel, on 500 images
 * of their digit each, towards that digit's label vector; then all 70,000
 * MNIST images are scored under the article's rule (which reads the true
 * label), the own-label rule (honest) and the image-blind audit (which
 * proves the article's rule leaks the label). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cosnet.h"

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
    int quiet;
    /* The first option given that only makes sense when training. */
    const char *training_option;
    int label_seed_given;
} options;

static void print_help(FILE *out)
{
    fputs(
        "Usage: " PROGRAM " [OPTION]...\n"
        "Runs the pipeline of the article \"100% on MNIST with Cosine "
        "Similarity\":\n"
        "trains one small network per digit on a subset of the MNIST "
        "training set,\n"
        "then scores all 60,000 training and 10,000 test images under three "
        "rules:\n"
        "the article's seed rule (it reads the true label), the honest "
        "own-label\n"
        "rule and the image-blind audit. See docs/evaluation-rules.md.\n"
        "\n"
        "Options (a value follows as the next argument or after '='):\n"
        "  --data DIR        MNIST folder holding train-images-idx3-ubyte,\n"
        "                    train-labels-idx1-ubyte, t10k-images-idx3-ubyte "
        "and\n"
        "                    t10k-labels-idx1-ubyte (each may instead be "
        "NAME.gz);\n"
        "                    default: $COSNET_DATA if set, else\n"
        "                    ${XDG_CACHE_HOME:-$HOME/.cache}/cosnet/mnist\n"
        "  --labels KIND     author: the article's fixed 10x25 table "
        "(default);\n"
        "                    generate: the article's rejection sampling\n"
        "  --label-seed N    seed of the generated label set (default 0; only "
        "with\n"
        "                    --labels generate)\n"
        "  --seed N          training seed (default 0): digit k's network "
        "starts\n"
        "                    from seed N*1000003+k and its training subset is\n"
        "                    shuffled with seed N*1000003+100+k\n"
        "  --epochs N        epochs per digit (default 20, at least 1)\n"
        "  --batches N       batches per epoch (default 25, at least 1)\n"
        "  --batch-size N    images per batch (default 20, at least 1); each "
        "digit\n"
        "                    trains on batches x batch-size images of its "
        "class\n"
        "  --threads N       threads for training (one digit per thread at a "
        "time)\n"
        "                    and evaluation; 0 = one per online CPU (default "
        "0,\n"
        "                    at most 1024). Results do not depend on it.\n"
        "  --save DIR        after training, write digit-0.cosnet .. "
        "digit-9.cosnet\n"
        "                    and labels.txt into DIR (created if missing)\n"
        "  --load DIR        do not train: read those 11 files from DIR; not "
        "with\n"
        "                    --labels, --label-seed, --seed, --epochs, "
        "--batches,\n"
        "                    --batch-size or --save\n"
        "  --json FILE       also write the results as one JSON object to "
        "FILE\n"
        "                    (written to a temporary name, then renamed)\n"
        "  --quiet           no progress lines (they go to stderr, and only "
        "when\n"
        "                    stderr is a terminal)\n"
        "  --help            print this text and exit\n"
        "\n"
        "The report goes to stdout. Exit status: 0 on success, 1 on failure "
        "(bad or\n"
        "missing data or model files, training or writing errors), 2 on a "
        "usage error.\n",
        out);
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 1, 2)))
#endif
static int
usage_error(const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    fprintf(stderr, PROGRAM ": ");
    vfprintf(stderr, format, arguments);
    fprintf(stderr, "\nTry '" PROGRAM " --help'.\n");
    va_end(arguments);
    return EXIT_USAGE;
}

/* Decimal digits only (no sign, no spaces), at most `max`. */
static int parse_number(const char *text, uint64_t max, uint64_t *value)
{
    if (!*text)
        return 0;
    uint64_t result = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        unsigned digit = (unsigned)(*p - '0');
        if (result > (max - digit) / 10)
            return 0;
        result = result * 10 + digit;
    }
    *value = result;
    return 1;
}

static char *join_path(const char *folder, const char *name)
{
    size_t length = strlen(folder) + 1 + strlen(name) + 1;
    char *path = malloc(length);
    if (path)
        snprintf(path, length, "%s/%s", folder, name);
    return path;
}

static char *default_data_dir(void)
{
    const char *data = getenv("COSNET_DATA");
    if (data && *data)
        return strdup(data);
    const char *cache = getenv("XDG_CACHE_HOME");
    if (cache && *cache)
        return join_path(cache, "cosnet/mnist");
    const char *home = getenv("HOME");
    if (home && *home)
        return join_path(home, ".cache/cosnet/mnist");
    return NULL;
}

/* Returns 0 on success, else the exit status (after printing). *help is set
 * when --help was asked. */
static int parse_options(int argc, char **argv, options *opt, int *help)
{
    static const char *const names[] = {
        "--data",    "--labels",     "--label-seed", "--seed", "--epochs",
        "--batches", "--batch-size", "--threads",    "--save", "--load",
        "--json",    "--quiet",      "--help"};
    enum {
        DATA,
        LABELS,
        LABEL_SEED,
        SEED,
        EPOCHS,
        BATCHES,
        BATCH_SIZE,
        THREADS,
        SAVE,
        LOAD,
        JSON,
        QUIET,
        HELP,
        OPTION_COUNT
    };
    *help = 0;
    for (int i = 1; i < argc; i++) {
        const char *argument = argv[i];
        const char *equals = strchr(argument, '=');
        size_t name_length =
            equals ? (size_t)(equals - argument) : strlen(argument);
        int which = -1;
        for (int n = 0; n < OPTION_COUNT; n++)
            if (strlen(names[n]) == name_length &&
                strncmp(names[n], argument, name_length) == 0)
                which = n;
        if (which < 0) {
            if (argument[0] == '-')
                return usage_error("unknown option '%s'", argument);
            return usage_error("unexpected argument '%s'", argument);
        }
        if (which == QUIET || which == HELP) {
            if (equals)
                return usage_error("option '%s' takes no value", argument);
            if (which == QUIET)
                opt->quiet = 1;
            else
                *help = 1;
            continue;
        }
        const char *value;
        if (equals) {
            value = equals + 1;
        } else {
            if (i + 1 >= argc)
                return usage_error("option '%s' needs a value", argument);
            value = argv[++i];
        }
        const char *name = names[which];
        uint64_t number = 0;
        switch (which) {
        case DATA:
            if (!*value)
                return usage_error("%s needs a folder name", name);
            free(opt->data_dir);
            opt->data_dir = strdup(value);
            if (!opt->data_dir) {
                fprintf(stderr, PROGRAM ": out of memory\n");
                return EXIT_FAILURE;
            }
            break;
        case LABELS:
            if (strcmp(value, "author") == 0)
                opt->generate_labels = 0;
            else if (strcmp(value, "generate") == 0)
                opt->generate_labels = 1;
            else
                return usage_error(
                    "--labels must be 'author' or 'generate', not '%s'", value);
            opt->training_option = name;
            break;
        case LABEL_SEED:
        case SEED:
            if (!parse_number(value, UINT64_MAX, &number))
                return usage_error("%s: '%s' is not a number from 0 to "
                                   "18446744073709551615",
                                   name, value);
            if (which == SEED) {
                opt->seed = number;
            } else {
                opt->label_seed = number;
                opt->label_seed_given = 1;
            }
            opt->training_option = name;
            break;
        case EPOCHS:
            if (!parse_number(value, UINT_MAX, &number) || number == 0)
                return usage_error("--epochs: '%s' is not a whole number of "
                                   "at least 1",
                                   value);
            opt->epochs = (unsigned)number;
            opt->training_option = name;
            break;
        case BATCHES:
        case BATCH_SIZE:
            if (!parse_number(value, SIZE_MAX, &number) || number == 0)
                return usage_error("%s: '%s' is not a whole number of at "
                                   "least 1",
                                   name, value);
            if (which == BATCHES)
                opt->batches = (size_t)number;
            else
                opt->batch_size = (size_t)number;
            opt->training_option = name;
            break;
        case THREADS:
            if (!parse_number(value, MAX_THREADS, &number))
                return usage_error("--threads: '%s' is not a number from 0 "
                                   "to 1024",
                                   value);
            opt->threads = (unsigned)number;
            break;
        case SAVE:
        case LOAD:
        case JSON:
            if (!*value)
                return usage_error("%s needs a name", name);
            if (which == SAVE) {
                opt->save_dir = value;
                opt->training_option = name;
            } else if (which == LOAD) {
                opt->load_dir = value;
            } else {
                opt->json_path = value;
            }
            break;
        }
    }
    if (*help)
        return 0;
    if (opt->load_dir && opt->training_option)
        return usage_error("%s cannot be combined with --load (loaded models "
                           "are not trained)",
                           opt->training_option);
    if (opt->label_seed_given && !opt->generate_labels)
        return usage_error("%s is only used with --labels generate",
                           "--label-seed");
    if (opt->batches > SIZE_MAX / opt->batch_size)
        return usage_error("%s: batches x batch size overflows", "--batches");
    if (!opt->data_dir) {
        opt->data_dir = default_data_dir();
        if (!opt->data_dir)
            return usage_error("%s", "no MNIST folder: give --data DIR or "
                                     "set COSNET_DATA or HOME");
    }
    return 0;
}

static double now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/* Prints "PROGRAM: message" for a failed library call; `what` (a file name
 * or a step) is added when the library's message does not already name it.
 * Returns EXIT_FAILURE. */
static int library_failure(const char *what, cosnet_status status)
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

/* The raw IDX file if present, else NAME.gz if present, else the raw name
 * (so that the library reports it missing). */
static char *data_file(const char *folder, const char *name)
{
    char *raw = join_path(folder, name);
    if (!raw || access(raw, F_OK) == 0)
        return raw;
    size_t length = strlen(raw) + 4;
    char *compressed = malloc(length);
    if (!compressed)
        return raw;
    snprintf(compressed, length, "%s.gz", raw);
    if (access(compressed, F_OK) == 0) {
        free(raw);
        return compressed;
    }
    free(compressed);
    return raw;
}

static int open_split(const char *folder, const char *images_name,
                      const char *labels_name, cosnet_dataset **out)
{
    char *images = data_file(folder, images_name);
    char *labels = data_file(folder, labels_name);
    int result = 0;
    if (!images || !labels) {
        fprintf(stderr, PROGRAM ": out of memory\n");
        result = EXIT_FAILURE;
    } else {
        cosnet_status status = cosnet_dataset_open(images, labels, DIGITS, out);
        if (status != COSNET_OK)
            result = library_failure(folder, status);
    }
    free(images);
    free(labels);
    return result;
}

/* ------------------------------------------------------------------------ */
/* Training: a pool of threads pulling digits from a counter               */
/* ------------------------------------------------------------------------ */

typedef struct digit_training {
    unsigned digit;
    size_t *indices; /* the digit's subset, chosen before training */
    cosnet_model *model;
    float final_loss;
    cosnet_status status;
    char message[512];
} digit_training;

typedef struct training_pool {
    const options *opt;
    const cosnet_dataset *train;
    const cosnet_labels *labels;
    size_t image_count; /* per digit */
    int show_progress;
    digit_training digits[DIGITS];
    pthread_mutex_t lock;
    unsigned next_digit;
    int failed;
} training_pool;

static void training_fail(digit_training *work, cosnet_status status)
{
    work->status = status;
    snprintf(work->message, sizeof work->message, "digit %u: %s", work->digit,
             cosnet_last_error());
}

/* Everything one digit needs is its own, so the digits may be trained in
 * any order on any thread with bit-identical results. */
static void train_digit(training_pool *pool, digit_training *work)
{
    const options *opt = pool->opt;
    size_t pixels =
        cosnet_dataset_rows(pool->train) * cosnet_dataset_columns(pool->train);
    cosnet_optimizer *optimizer = NULL;
    cosnet_status status;
    float *images = NULL;
    if (pool->image_count > SIZE_MAX / sizeof(float) / pixels ||
        !(images = malloc(pool->image_count * pixels * sizeof *images))) {
        work->status = COSNET_ERROR_OUT_OF_MEMORY;
        snprintf(work->message, sizeof work->message,
                 "digit %u: out of memory for %zu training images", work->digit,
                 pool->image_count);
        return;
    }
    status = cosnet_dataset_gather_float(pool->train, work->indices,
                                         pool->image_count, images);
    if (status == COSNET_OK)
        status = cosnet_model_create(COSNET_ARCHITECTURE_SEED,
                                     opt->seed * SEED_STRIDE + work->digit,
                                     &work->model);
    if (status == COSNET_OK)
        status = cosnet_optimizer_create(work->model, &optimizer);
    const float *target = cosnet_labels_vector(pool->labels, work->digit);
    for (unsigned epoch = 1; status == COSNET_OK && epoch <= opt->epochs;
         epoch++) {
        float loss = 0.0f;
        status = cosnet_train_epoch(work->model, optimizer, images,
                                    pool->image_count, opt->batch_size, target,
                                    0, epoch, NULL, NULL, &loss);
        if (status != COSNET_OK)
            break;
        work->final_loss = loss;
        if (pool->show_progress)
            fprintf(stderr, "digit %u  epoch %u/%u  loss %.6f\n", work->digit,
                    epoch, opt->epochs, (double)loss);
    }
    if (status != COSNET_OK)
        training_fail(work, status);
    cosnet_optimizer_free(optimizer);
    free(images);
}

static void *training_worker(void *argument)
{
    training_pool *pool = argument;
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        unsigned digit = pool->next_digit;
        int stop = pool->failed || digit >= DIGITS;
        if (!stop)
            pool->next_digit++;
        pthread_mutex_unlock(&pool->lock);
        if (stop)
            return NULL;
        digit_training *work = &pool->digits[digit];
        train_digit(pool, work);
        if (work->status != COSNET_OK) {
            pthread_mutex_lock(&pool->lock);
            pool->failed = 1;
            pthread_mutex_unlock(&pool->lock);
        }
    }
}

/* Runs the pool with `threads` workers, the calling thread being one of
 * them; a thread that cannot be started only means fewer workers. */
static void run_training(training_pool *pool, unsigned threads)
{
    pthread_t handles[DIGITS];
    unsigned started = 0;
    for (unsigned t = 1; t < threads && t < DIGITS; t++) {
        if (pthread_create(&handles[started], NULL, training_worker, pool) != 0)
            break;
        started++;
    }
    training_worker(pool);
    for (unsigned t = 0; t < started; t++)
        pthread_join(handles[t], NULL);
}

/* ------------------------------------------------------------------------ */
/* Report                                                                   */
/* ------------------------------------------------------------------------ */

/* The article's percentage: Elixir's Float.round(x * 100, 6) printed as the
 * shortest decimal that reads back as the same double, with at least one
 * digit after the point (99.995, 100.0, 99.978333). */
static void format_percent(size_t correct, size_t total, char *out, size_t size)
{
    double percent = total ? ((double)correct / (double)total) * 100.0 : 0.0;
    char text[64];
    snprintf(text, sizeof text, "%.6f", percent);
    double rounded = strtod(text, NULL);
    for (int decimals = 1; decimals <= 6; decimals++) {
        snprintf(out, size, "%.*f", decimals, rounded);
        if (strtod(out, NULL) == rounded)
            return;
    }
}

typedef struct results {
    cosnet_evaluation *train, *test;
} results;

static void print_article_line(const results *r, cosnet_rule rule)
{
    char train_percent[64], test_percent[64];
    size_t train_correct = cosnet_evaluation_correct(r->train, rule);
    size_t train_total = cosnet_evaluation_total(r->train);
    size_t test_correct = cosnet_evaluation_correct(r->test, rule);
    size_t test_total = cosnet_evaluation_total(r->test);
    format_percent(train_correct, train_total, train_percent,
                   sizeof train_percent);
    format_percent(test_correct, test_total, test_percent, sizeof test_percent);
    printf("  Train Set: %zu/%zu (%s%%) | Test Set: %zu/%zu (%s%%)\n",
           train_correct, train_total, train_percent, test_correct, test_total,
           test_percent);
}

static void print_report(const options *opt, const char *isa, unsigned threads,
                         const char *labels_name, const digit_training *digits,
                         const results *r, double load_time, double train_time,
                         double eval_time, double total_time)
{
    printf(PROGRAM " %s (kernels %s, %u threads)\n", cosnet_version(), isa,
           threads);
    if (opt->load_dir) {
        printf("models and labels loaded from %s\n", opt->load_dir);
    } else {
        printf("labels %s", labels_name);
        if (opt->generate_labels)
            printf(" (label seed %llu)", (unsigned long long)opt->label_seed);
        printf(", seed %llu, %u epochs x %zu batches of %zu images "
               "(%zu images per digit)\n",
               (unsigned long long)opt->seed, opt->epochs, opt->batches,
               opt->batch_size, opt->batches * opt->batch_size);
        printf("final epoch loss per digit:");
        for (unsigned k = 0; k < DIGITS; k++)
            printf("%s %u: %.6f", k == 5 ? "\n   " : "", k,
                   (double)digits[k].final_loss);
        printf("\n");
    }
    printf("\nseed rule (the article's test_1; reads the true label):\n");
    print_article_line(r, COSNET_RULE_SEED);
    printf("own-label rule (no label read; the models' honest accuracy):\n");
    print_article_line(r, COSNET_RULE_OWN_LABEL);
    printf("image-blind audit (seed rule with f_k(x) = v_k, never looks at "
           "the image):\n");
    print_article_line(r, COSNET_RULE_IMAGE_BLIND);
    printf(
        "\nThe seed rule compares every model's output with the TRUE digit's "
        "vector,\nso it reads the answer: a predictor that ignores the image "
        "scores 100%%\nunder it (the audit line); the own-label line is the "
        "honest accuracy of\nthese ten models.\n");

    printf("\nown-label rule, test set confusion (rows: true digit, columns: "
           "predicted):\n      ");
    for (unsigned p = 0; p < DIGITS; p++)
        printf("%6u", p);
    printf("\n");
    for (unsigned a = 0; a < DIGITS; a++) {
        printf("%6u", a);
        for (unsigned p = 0; p < DIGITS; p++)
            printf("%6zu", cosnet_evaluation_confusion(
                               r->test, COSNET_RULE_OWN_LABEL, a, p));
        printf("\n");
    }

    size_t evaluated =
        cosnet_evaluation_total(r->train) + cosnet_evaluation_total(r->test);
    printf("\ntime: load %.2f s", load_time);
    if (!opt->load_dir) {
        double steps = (double)DIGITS * opt->epochs *
                       (double)(opt->batches * opt->batch_size);
        printf(" | train %.2f s (%.0f image-steps/s)", train_time,
               train_time > 0 ? steps / train_time : 0.0);
    }
    printf(" | evaluation %.2f s (%.0f images/s through %d models) | total "
           "%.2f s\n",
           eval_time, eval_time > 0 ? (double)evaluated / eval_time : 0.0,
           DIGITS, total_time);
}

static void json_string(FILE *out, const char *text)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static void json_rule(FILE *out, const char *name, const results *r,
                      cosnet_rule rule)
{
    fprintf(out,
            "  \"%s\": {\"train\": {\"correct\": %zu, \"total\": %zu}, "
            "\"test\": {\"correct\": %zu, \"total\": %zu},\n"
            "    \"test_confusion\": [",
            name, cosnet_evaluation_correct(r->train, rule),
            cosnet_evaluation_total(r->train),
            cosnet_evaluation_correct(r->test, rule),
            cosnet_evaluation_total(r->test));
    for (unsigned a = 0; a < DIGITS; a++) {
        fprintf(out, "%s[", a ? ",\n      " : "");
        for (unsigned p = 0; p < DIGITS; p++)
            fprintf(out, "%s%zu", p ? ", " : "",
                    cosnet_evaluation_confusion(r->test, rule, a, p));
        fputc(']', out);
    }
    fprintf(out, "]},\n");
}

static void json_body(FILE *out, const options *opt, const char *isa,
                      unsigned threads, const char *labels_name,
                      const digit_training *digits, const results *r,
                      const double times[4])
{
    fprintf(out, "{\n  \"version\": ");
    json_string(out, cosnet_version());
    fprintf(out, ",\n  \"isa\": ");
    json_string(out, isa);
    fprintf(out, ",\n  \"threads\": %u,\n  \"data\": ", threads);
    json_string(out, opt->data_dir);
    fprintf(out, ",\n  \"config\": {\"labels\": ");
    json_string(out, labels_name);
    if (opt->load_dir) {
        fprintf(out, ", \"load\": ");
        json_string(out, opt->load_dir);
        fprintf(out, ", \"label_seed\": null, \"seed\": null, \"epochs\": "
                     "null, \"batches\": null, \"batch_size\": null},\n");
    } else {
        if (opt->generate_labels)
            fprintf(out, ", \"label_seed\": %llu",
                    (unsigned long long)opt->label_seed);
        else
            fprintf(out, ", \"label_seed\": null");
        fprintf(out,
                ", \"seed\": %llu, \"epochs\": %u, \"batches\": %zu, "
                "\"batch_size\": %zu},\n",
                (unsigned long long)opt->seed, opt->epochs, opt->batches,
                opt->batch_size);
    }
    json_rule(out, "seed_rule", r, COSNET_RULE_SEED);
    json_rule(out, "own_label_rule", r, COSNET_RULE_OWN_LABEL);
    json_rule(out, "image_blind_audit", r, COSNET_RULE_IMAGE_BLIND);
    if (opt->load_dir) {
        fprintf(out, "  \"final_loss\": null,\n");
    } else {
        fprintf(out, "  \"final_loss\": [");
        for (unsigned k = 0; k < DIGITS; k++)
            fprintf(out, "%s%.9g", k ? ", " : "", (double)digits[k].final_loss);
        fprintf(out, "],\n");
    }
    fprintf(out,
            "  \"time_s\": {\"load\": %.6f, \"train\": %.6f, \"eval\": %.6f, "
            "\"total\": %.6f}\n}\n",
            times[0], times[1], times[2], times[3]);
}

/* Written to a temporary name beside FILE, then renamed: a reader never
 * sees half a file. */
static int write_json(const options *opt, const char *isa, unsigned threads,
                      const char *labels_name, const digit_training *digits,
                      const results *r, const double times[4])
{
    const char *path = opt->json_path;
    size_t length = strlen(path) + sizeof ".XXXXXX";
    char *temporary = malloc(length);
    if (!temporary) {
        fprintf(stderr, PROGRAM ": out of memory\n");
        return EXIT_FAILURE;
    }
    snprintf(temporary, length, "%s.XXXXXX", path);
    int descriptor = mkstemp(temporary);
    if (descriptor < 0) {
        fprintf(stderr, PROGRAM ": %s: cannot create a temporary file: %s\n",
                path, strerror(errno));
        free(temporary);
        return EXIT_FAILURE;
    }
    FILE *out = fdopen(descriptor, "w");
    if (!out) {
        fprintf(stderr, PROGRAM ": %s: %s\n", temporary, strerror(errno));
        close(descriptor);
        remove(temporary);
        free(temporary);
        return EXIT_FAILURE;
    }
    /* mkstemp makes the file 0600; results are not secret. */
    fchmod(descriptor, 0644);
    json_body(out, opt, isa, threads, labels_name, digits, r, times);
    int failed = ferror(out) != 0;
    failed |= fclose(out) != 0;
    if (failed || rename(temporary, path) != 0) {
        fprintf(stderr, PROGRAM ": %s: cannot write: %s\n", path,
                strerror(errno));
        remove(temporary);
        free(temporary);
        return EXIT_FAILURE;
    }
    free(temporary);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Saving and loading the ten models                                       */
/* ------------------------------------------------------------------------ */

static int model_file(const char *folder, unsigned digit, char **path)
{
    char name[32];
    snprintf(name, sizeof name, "digit-%u.cosnet", digit);
    *path = join_path(folder, name);
    if (!*path) {
        fprintf(stderr, PROGRAM ": out of memory\n");
        return EXIT_FAILURE;
    }
    return 0;
}

static int save_models(const char *folder, cosnet_model *const *models,
                       const cosnet_labels *labels)
{
    if (mkdir(folder, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, PROGRAM ": %s: cannot create the folder: %s\n", folder,
                strerror(errno));
        return EXIT_FAILURE;
    }
    for (unsigned k = 0; k < DIGITS; k++) {
        char *path;
        if (model_file(folder, k, &path))
            return EXIT_FAILURE;
        cosnet_status status = cosnet_model_save(models[k], path);
        int result = status == COSNET_OK ? 0 : library_failure(path, status);
        free(path);
        if (result)
            return result;
    }
    char *path = join_path(folder, "labels.txt");
    if (!path) {
        fprintf(stderr, PROGRAM ": out of memory\n");
        return EXIT_FAILURE;
    }
    cosnet_status status = cosnet_labels_save(labels, path);
    int result = status == COSNET_OK ? 0 : library_failure(path, status);
    free(path);
    return result;
}

static int load_models(const char *folder, cosnet_model **models,
                       cosnet_labels **labels)
{
    for (unsigned k = 0; k < DIGITS; k++) {
        char *path;
        if (model_file(folder, k, &path))
            return EXIT_FAILURE;
        cosnet_status status = cosnet_model_load(path, &models[k]);
        int result = status == COSNET_OK ? 0 : library_failure(path, status);
        free(path);
        if (result)
            return result;
    }
    char *path = join_path(folder, "labels.txt");
    if (!path) {
        fprintf(stderr, PROGRAM ": out of memory\n");
        return EXIT_FAILURE;
    }
    cosnet_status status = cosnet_labels_load(path, labels);
    int result = status == COSNET_OK ? 0 : library_failure(path, status);
    if (!result && cosnet_labels_count(*labels) != DIGITS) {
        fprintf(stderr, PROGRAM ": %s: %zu label vectors, expected %d\n", path,
                cosnet_labels_count(*labels), DIGITS);
        result = EXIT_FAILURE;
    }
    free(path);
    return result;
}

/* ------------------------------------------------------------------------ */

/* Everything main allocates, freed in one place on every path. */
typedef struct program {
    options opt;
    cosnet_dataset *train, *test;
    cosnet_labels *labels;
    training_pool *pool;
    cosnet_model *models[DIGITS];
    results r;
} program;

static void program_free(program *p)
{
    free(p->opt.data_dir);
    cosnet_dataset_free(p->train);
    cosnet_dataset_free(p->test);
    cosnet_labels_free(p->labels);
    if (p->pool) {
        for (unsigned k = 0; k < DIGITS; k++)
            free(p->pool->digits[k].indices);
        pthread_mutex_destroy(&p->pool->lock);
        free(p->pool);
    }
    for (unsigned k = 0; k < DIGITS; k++)
        cosnet_model_free(p->models[k]);
    cosnet_evaluation_free(p->r.train);
    cosnet_evaluation_free(p->r.test);
}

static int train_models(program *p, unsigned threads)
{
    const options *opt = &p->opt;
    p->pool = calloc(1, sizeof *p->pool);
    if (!p->pool) {
        fprintf(stderr, PROGRAM ": out of memory\n");
        return EXIT_FAILURE;
    }
    training_pool *pool = p->pool;
    if (pthread_mutex_init(&pool->lock, NULL) != 0) {
        free(pool);
        p->pool = NULL;
        fprintf(stderr, PROGRAM ": cannot create a mutex\n");
        return EXIT_FAILURE;
    }
    pool->opt = opt;
    pool->train = p->train;
    pool->labels = p->labels;
    pool->image_count = opt->batches * opt->batch_size;
    pool->show_progress = !opt->quiet && isatty(STDERR_FILENO);
    /* Subsets are chosen here, in digit order, so a class too small for
     * the configuration fails the same way whatever the thread count. */
    for (unsigned k = 0; k < DIGITS; k++) {
        digit_training *work = &pool->digits[k];
        work->digit = k;
        if (pool->image_count > SIZE_MAX / sizeof(size_t) ||
            !(work->indices =
                  malloc(pool->image_count * sizeof *work->indices))) {
            fprintf(stderr, PROGRAM ": out of memory for %zu indices\n",
                    pool->image_count);
            return EXIT_FAILURE;
        }
        cosnet_status status = cosnet_dataset_class_subset(
            p->train, k, pool->image_count,
            opt->seed * SEED_STRIDE + SUBSET_OFFSET + k, work->indices);
        if (status != COSNET_OK)
            return library_failure(NULL, status);
    }
    run_training(pool, threads);
    int result = 0;
    for (unsigned k = 0; k < DIGITS; k++) {
        /* Models are handed over even on failure, so they are freed. */
        p->models[k] = pool->digits[k].model;
        pool->digits[k].model = NULL;
        if (!result && pool->digits[k].status != COSNET_OK) {
            fprintf(stderr, PROGRAM ": %s\n", pool->digits[k].message);
            result = EXIT_FAILURE;
        }
    }
    return result;
}

static int run(program *p)
{
    options *opt = &p->opt;
    const char *isa = "unknown";
    cosnet_status status = cosnet_isa(&isa);
    if (status != COSNET_OK)
        return library_failure(NULL, status);
    unsigned threads = opt->threads;
    if (threads == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        threads = online > 0 ? (unsigned)online : 1;
        if (threads > MAX_THREADS)
            threads = MAX_THREADS;
    }

    double start = now_seconds();
    int result = open_split(opt->data_dir, "train-images-idx3-ubyte",
                            "train-labels-idx1-ubyte", &p->train);
    if (!result)
        result = open_split(opt->data_dir, "t10k-images-idx3-ubyte",
                            "t10k-labels-idx1-ubyte", &p->test);
    if (result)
        return result;
    const char *labels_name;
    if (opt->load_dir) {
        labels_name = "loaded";
        result = load_models(opt->load_dir, p->models, &p->labels);
        if (result)
            return result;
    } else if (opt->generate_labels) {
        labels_name = "generate";
        status = cosnet_labels_generate(
            COSNET_LABELS_DEFAULT_COUNT, COSNET_LABELS_DEFAULT_DIMS,
            COSNET_LABELS_DEFAULT_THRESHOLD, opt->label_seed, 0, &p->labels);
        if (status != COSNET_OK)
            return library_failure("label generation", status);
    } else {
        labels_name = "author";
        status = cosnet_labels_builtin(&p->labels);
        if (status != COSNET_OK)
            return library_failure("author's labels", status);
    }
    double loaded = now_seconds();

    if (!opt->load_dir) {
        result = train_models(p, threads);
        if (result)
            return result;
    }
    double trained = now_seconds();
    if (opt->save_dir) {
        result = save_models(opt->save_dir, p->models, p->labels);
        if (result)
            return result;
    }

    double evaluation_start = now_seconds();
    const cosnet_model *const *models = (const cosnet_model *const *)p->models;
    status = cosnet_evaluate(models, DIGITS, p->labels, p->train, threads,
                             &p->r.train);
    if (status == COSNET_OK)
        status = cosnet_evaluate(models, DIGITS, p->labels, p->test, threads,
                                 &p->r.test);
    if (status != COSNET_OK)
        return library_failure("evaluation", status);
    double end = now_seconds();

    double times[4] = {loaded - start, trained - loaded, end - evaluation_start,
                       end - start};
    const digit_training *digits = p->pool ? p->pool->digits : NULL;
    print_report(opt, isa, threads, labels_name, digits, &p->r, times[0],
                 times[1], times[2], times[3]);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, PROGRAM ": cannot write the report: %s\n",
                strerror(errno));
        return EXIT_FAILURE;
    }
    if (opt->json_path)
        return write_json(opt, isa, threads, labels_name, digits, &p->r, times);
    return 0;
}

int main(int argc, char **argv)
{
    program p;
    memset(&p, 0, sizeof p);
    p.opt.epochs = 20;
    p.opt.batches = 25;
    p.opt.batch_size = 20;
    int help = 0;
    int result = parse_options(argc, argv, &p.opt, &help);
    if (!result && help) {
        print_help(stdout);
        result = fflush(stdout) == 0 ? 0 : EXIT_FAILURE;
    } else if (!result) {
        result = run(&p);
    }
    program_free(&p);
    return result;
}
