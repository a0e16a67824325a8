/* cosnet-classify: classifies image files with a classifier bundle saved
 * by cosnet-train. For each image it prints the class, its cosine
 * similarity to that class's label vector, and the runner-up. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "command_line.h"
#include "cosnet.h"
#include "image_file.h"

#define PROGRAM "cosnet-classify"

enum { EXIT_USAGE = 2 };

static void print_help(FILE *out)
{
    fprintf(out,
            "Usage: " PROGRAM " [OPTION]... CLASSIFIER IMAGE...\n"
            "Classifies each IMAGE with a CLASSIFIER file saved by\n"
            "cosnet-train: prints the class whose label vector is\n"
            "closest in cosine to the network's output, that cosine, and the\n"
            "runner-up with its cosine. No label is read.\n"
            "\n"
            "IMAGE is a grayscale PGM (P2 or P5)%s file, or a folder: every\n"
            ".pgm%s file in it, in name order (regular files only: a\n"
            "FIFO or a folder so named is reported, not read). An image of\n"
            "another size is resized to the model's input with an area\n"
            "filter. The models expect a light figure on a dark background,\n"
            "as in MNIST.%s\n"
            "\n"
            "Options (anywhere among the arguments; -- ends them):\n"
            "  --invert     use 1 - pixel: for dark drawings on a light "
            "background\n"
            "  -h, --help   print this text and exit\n"
            "  --version    print the version and exit\n"
            "\n"
            "Exit status: 0 when every image was classified, 1 when the\n"
            "classifier or an image could not be read (the others are still\n"
            "classified) or the output could not be written, 2 on a usage\n"
            "error.\n",
            image_png_supported() ? " or PNG" : "",
            image_png_supported() ? " and .png" : "",
            image_png_supported()
                ? " A PNG's transparent pixels are that background:\n"
                  "black, or white with --invert (then read as black)."
                : "");
}

static int has_image_suffix(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return 0;
    return strcmp(dot, ".pgm") == 0 || strcmp(dot, ".PGM") == 0 ||
           (image_png_supported() &&
            (strcmp(dot, ".png") == 0 || strcmp(dot, ".PNG") == 0));
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

typedef struct context {
    const cosnet_classifier *classifier;
    size_t rows, columns;
    int invert;
    float *input; /* rows x columns */
} context;

/* Classifies one file; 0 or 1 (after printing why). */
static int classify_file(const context *c, const char *path)
{
    gray_image image;
    char message[512];
    /* Transparency shows the background the figure is drawn on: dark, or
     * light for a drawing that --invert turns around. */
    if (image_read(path, c->invert ? 1.0f : 0.0f, &image, message,
                   sizeof message) != 0) {
        fprintf(stderr, PROGRAM ": %s\n", message);
        return 1;
    }
    image_resize_area(&image, c->rows, c->columns, c->input);
    free(image.pixels);
    if (c->invert)
        for (size_t i = 0; i < c->rows * c->columns; i++)
            c->input[i] = 1.0f - c->input[i];
    size_t best, second;
    float best_similarity, second_similarity;
    cosnet_status status =
        cosnet_classify(cosnet_classifier_model(c->classifier),
                        cosnet_classifier_labels(c->classifier), c->input, 1,
                        &best, &best_similarity, &second, &second_similarity);
    if (status != COSNET_OK) {
        fprintf(stderr, PROGRAM ": %s: %s\n", path, cosnet_last_error());
        return 1;
    }
    printf("%s: %s (cos %.4f), runner-up %s (cos %.4f)\n", path,
           cosnet_classifier_class_name(c->classifier, best),
           (double)best_similarity,
           cosnet_classifier_class_name(c->classifier, second),
           (double)second_similarity);
    return 0;
}

/* Every image file of a folder, in name order; 0 or 1. */
static int classify_folder(const context *c, const char *folder)
{
    DIR *dir = opendir(folder);
    if (!dir) {
        fprintf(stderr, PROGRAM ": %s: %s\n", folder, strerror(errno));
        return 1;
    }
    char **names = NULL;
    size_t count = 0, capacity = 0;
    int failed = 0;
    for (struct dirent *entry; (entry = readdir(dir)) != NULL;) {
        if (!has_image_suffix(entry->d_name))
            continue;
        if (count == capacity) {
            capacity = capacity ? 2 * capacity : 64;
            char **bigger = realloc(names, capacity * sizeof *names);
            if (!bigger) {
                failed = 1;
                break;
            }
            names = bigger;
        }
        size_t length = strlen(folder) + strlen(entry->d_name) + 2;
        names[count] = malloc(length);
        if (!names[count]) {
            failed = 1;
            break;
        }
        snprintf(names[count++], length, "%s/%s", folder, entry->d_name);
    }
    closedir(dir);
    if (failed)
        fprintf(stderr, PROGRAM ": out of memory listing %s\n", folder);
    else if (count == 0) {
        fprintf(stderr, PROGRAM ": %s: no .pgm%s files in this folder\n",
                folder, image_png_supported() ? " or .png" : "");
        failed = 1;
    }
    if (names)
        qsort(names, count, sizeof *names, compare_names);
    for (size_t i = 0; i < count; i++) {
        /* Only regular files (links followed): a FIFO named x.pgm would
         * block the read forever, a folder cannot be an image. A name
         * given on the command line is read whatever it is (/dev/stdin). */
        struct stat info;
        if (stat(names[i], &info) != 0) {
            fprintf(stderr, PROGRAM ": %s: %s\n", names[i], strerror(errno));
            failed = 1;
        } else if (!S_ISREG(info.st_mode)) {
            fprintf(stderr, PROGRAM ": %s: not a regular file, not read\n",
                    names[i]);
            failed = 1;
        } else {
            failed |= classify_file(c, names[i]);
        }
        free(names[i]);
    }
    free(names);
    return failed;
}

int main(int argc, char **argv)
{
    /* Options may come anywhere, as in GNU programs: the operands are
     * gathered, in order, at the front of argv. */
    int invert = 0, operands = 0, options_end = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (options_end || arg[0] != '-' || arg[1] == '\0') {
            argv[operands++] = argv[i];
        } else if (strcmp(arg, "--") == 0) {
            options_end = 1;
        } else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            print_help(stdout);
            return command_line_finish_output(PROGRAM);
        } else if (strcmp(arg, "--version") == 0) {
            printf(PROGRAM " %s\n", cosnet_version());
            return command_line_finish_output(PROGRAM);
        } else if (strcmp(arg, "--invert") == 0) {
            invert = 1;
        } else {
            fprintf(stderr, PROGRAM ": unknown option %s (see --help)\n", arg);
            return EXIT_USAGE;
        }
    }
    if (operands < 2) {
        fprintf(stderr, PROGRAM ": give a CLASSIFIER file and at least one "
                                "IMAGE (see --help)\n");
        return EXIT_USAGE;
    }
    const char *classifier_path = argv[0];
    cosnet_classifier *classifier = NULL;
    if (cosnet_classifier_load(classifier_path, &classifier) != COSNET_OK) {
        fprintf(stderr, PROGRAM ": %s\n", cosnet_last_error());
        return EXIT_FAILURE;
    }
    const cosnet_model *model = cosnet_classifier_model(classifier);
    context c = {classifier, cosnet_model_input_rows(model),
                 cosnet_model_input_columns(model), invert, NULL};
    if (cosnet_model_input_channels(model) != 1) {
        fprintf(stderr,
                PROGRAM ": %s: the model takes %zu channels; this program "
                        "reads grayscale images only\n",
                classifier_path, cosnet_model_input_channels(model));
        cosnet_classifier_free(classifier);
        return EXIT_FAILURE;
    }
    c.input = malloc(c.rows * c.columns * sizeof *c.input);
    if (!c.input) {
        fprintf(stderr, PROGRAM ": out of memory\n");
        cosnet_classifier_free(classifier);
        return EXIT_FAILURE;
    }
    int failed = 0;
    for (int i = 1; i < operands; i++) {
        struct stat info;
        if (stat(argv[i], &info) == 0 && S_ISDIR(info.st_mode))
            failed |= classify_folder(&c, argv[i]);
        else
            failed |= classify_file(&c, argv[i]);
    }
    free(c.input);
    cosnet_classifier_free(classifier);
    /* A lost standard output is reported even when an image failed too. */
    failed |= command_line_finish_output(PROGRAM);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
