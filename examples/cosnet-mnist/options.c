/* cosnet-mnist's command line: the options, their checks and --help. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/command_line.h"
#include "../common/data_folder.h"
#include "cosnet-mnist.h"

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
        "FILE;\n"
        "                    '-' is stdout, and the text report then goes to "
        "stderr\n"
        "                    (so does a FILE that is stdout itself, e.g. "
        "/dev/stdout,\n"
        "                    when stdout is a pipe or a file). A file is "
        "written to a\n"
        "                    temporary name, then renamed; a link is kept and "
        "its\n"
        "                    target replaced; a FIFO or device is written "
        "into\n"
        "  --report FILE     also write an HTML report: loss curves, confusion "
        "heatmaps,\n"
        "                    the three rules side by side, the 50 "
        "misclassified test\n"
        "                    images with the lowest margin, the run's "
        "configuration;\n"
        "                    one self-contained file (docs/report.md)\n"
        "  --svg DIR         also write the report's figures as separate .svg "
        "files in\n"
        "                    DIR (created if missing)\n"
        "  --batch-losses    put every batch's loss, not only every epoch's, "
        "in the\n"
        "                    JSON's loss_history\n"
        "  --quiet           no progress line (it goes to stderr, and only "
        "when\n"
        "                    stderr is a terminal; one line, redrawn in "
        "place)\n"
        "  -h, --help        print this text and exit\n"
        "  --version         print \"" PROGRAM " VERSION\" and exit\n"
        "\n"
        "--json and --save are checked before the data are read: a folder "
        "that\n"
        "cannot be created or written fails at once, with exit status 1.\n"
        "\n"
        "The report goes to stdout (to stderr with --json -). Exit status: 0 "
        "on\n"
        "success, 1 on failure (bad or missing data or model files, training "
        "or\n"
        "writing errors), 2 on a usage error.\n",
        out);
}

/* The shared helpers, under this program's name. */
#define usage_error(...) command_line_usage_error(PROGRAM, __VA_ARGS__)

int parse_options(int argc, char **argv, options *opt, int *done)
{
    static const char *const names[] = {
        "--data",   "--labels",       "--label-seed", "--seed",
        "--epochs", "--batches",      "--batch-size", "--threads",
        "--save",   "--load",         "--json",       "--report",
        "--svg",    "--batch-losses", "--quiet",      "--help",
        "-h",       "--version"};
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
        REPORT,
        SVG,
        BATCH_LOSSES,
        QUIET,
        HELP,
        SHORT_HELP,
        VERSION,
        OPTION_COUNT
    };
    int help = 0, version = 0;
    *done = 0;
    opt->epochs = 20;
    opt->batches = 25;
    opt->batch_size = 20;
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
        if (which == QUIET || which == HELP || which == SHORT_HELP ||
            which == VERSION || which == BATCH_LOSSES) {
            if (equals)
                return usage_error("option '%s' takes no value", argument);
            if (which == QUIET)
                opt->quiet = 1;
            else if (which == BATCH_LOSSES)
                opt->batch_losses = 1;
            else if (which == VERSION)
                version = 1;
            else
                help = 1;
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
            opt->data_dir = data_folder(value);
            if (!opt->data_dir)
                return out_of_memory("the data folder's name");
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
            if (!command_line_whole(value, UINT64_MAX, &number))
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
            if (!command_line_whole(value, UINT_MAX, &number) || number == 0)
                return usage_error("--epochs: '%s' is not a whole number of "
                                   "at least 1",
                                   value);
            opt->epochs = (unsigned)number;
            opt->training_option = name;
            break;
        case BATCHES:
        case BATCH_SIZE:
            if (!command_line_whole(value, SIZE_MAX, &number) || number == 0)
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
            if (!command_line_whole(value, MAX_THREADS, &number))
                return usage_error("--threads: '%s' is not a number from 0 "
                                   "to 1024",
                                   value);
            opt->threads = (unsigned)number;
            break;
        case REPORT:
        case SVG:
            if (!*value)
                return usage_error("%s needs a name", name);
            if (which == REPORT)
                opt->report_path = value;
            else
                opt->svg_dir = value;
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
                opt->json_to_stdout = strcmp(value, "-") == 0;
            }
            break;
        }
    }
    if (help || version) {
        *done = 1;
        if (help)
            print_help(stdout);
        else
            printf(PROGRAM " %s\n", cosnet_version());
        return command_line_finish_output(PROGRAM);
    }
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
        opt->data_dir = data_folder(NULL);
        if (!opt->data_dir)
            return usage_error("%s", "no MNIST folder: give --data DIR or "
                                     "set COSNET_DATA or HOME");
    }
    return 0;
}
