/* train-digit: one digit's model, as in the article, in one sitting.
 *
 * Trains the seed network on 500 training images of one digit (25 batches
 * of 20, 20 epochs, AdamW) towards the digit's label vector from the
 * article's table, saves the model, then shows how its output separates
 * its digit from the rest: the mean cosine between the output and the
 * digit's label vector, over the test images of the digit and over all the
 * others. The seeds are those of cosnet-mnist --seed 0, so the model is
 * that program's model of the same digit.
 *
 *   train-digit --digit 3 --out three.cosnet */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command_line.h"
#include "cosnet.h"
#include "data_folder.h"

enum { BATCH = 20, BATCHES = 25, IMAGES = BATCH * BATCHES };

static const char help[] =
    "usage: train-digit [--digit K] [--epochs N] [--data DIR] [--out FILE]\n"
    "  --digit K    the digit, 0 to 9 (default 3)\n"
    "  --epochs N   epochs over its 500 images (default 20)\n"
    "  --data DIR   MNIST folder (default $COSNET_DATA, else\n"
    "               ${XDG_CACHE_HOME:-$HOME/.cache}/cosnet/mnist)\n"
    "  --out FILE   where the model is saved (default digit-K.cosnet)\n"
    "  -h, --help   this text;  --version  print \"train-digit VERSION\"\n";

static int fail(const char *what)
{
    fprintf(stderr, "train-digit: %s: %s\n", what, cosnet_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    unsigned digit = 3, epochs = 20;
    const char *given_data = NULL, *out = NULL;
    /* Every option but --help and --version takes a value. */
    for (int i = 1; i < argc; i += 2) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(help, stdout);
            return command_line_finish_output("train-digit");
        }
        if (!strcmp(argv[i], "--version")) {
            printf("train-digit %s\n", cosnet_version());
            return command_line_finish_output("train-digit");
        }
        if (value && !strcmp(argv[i], "--digit") && strlen(value) == 1 &&
            value[0] >= '0' && value[0] <= '9')
            digit = (unsigned)(value[0] - '0');
        else if (value && !strcmp(argv[i], "--epochs") && atoi(value) > 0)
            epochs = (unsigned)atoi(value);
        else if (value && !strcmp(argv[i], "--data"))
            given_data = value;
        else if (value && !strcmp(argv[i], "--out"))
            out = value;
        else {
            fprintf(stderr, "train-digit: bad argument '%s'\n%s", argv[i],
                    help);
            return 2;
        }
    }
    char default_out[32];
    snprintf(default_out, sizeof default_out, "digit-%u.cosnet", digit);
    char *folder = data_folder(given_data);
    cosnet_dataset *train = NULL, *test = NULL;
    if (!folder || data_open(folder, "train", 10, &train) != COSNET_OK ||
        data_open(folder, "t10k", 10, &test) != COSNET_OK) {
        int status = fail("MNIST");
        if (folder)
            data_missing_hint(stderr, "train-digit", folder);
        free(folder);
        cosnet_dataset_free(train);
        return status;
    }
    free(folder);

    /* 500 images of the digit, chosen by a seeded shuffle, as floats. */
    size_t indices[IMAGES];
    size_t pixels = cosnet_dataset_rows(train) * cosnet_dataset_columns(train);
    float *images = malloc(sizeof(float) * IMAGES * pixels);
    cosnet_labels *labels = NULL;
    cosnet_model *model = NULL;
    cosnet_optimizer *adamw = NULL;
    int status = 1;
    if (!images ||
        cosnet_dataset_class_subset(train, digit, IMAGES, 100 + digit,
                                    indices) != COSNET_OK ||
        cosnet_dataset_gather_float(train, indices, IMAGES, images) !=
            COSNET_OK ||
        cosnet_labels_builtin(&labels) != COSNET_OK ||
        cosnet_model_create(COSNET_ARCHITECTURE_SEED, digit, &model) !=
            COSNET_OK ||
        cosnet_optimizer_create(model, &adamw) != COSNET_OK) {
        status = fail("setting up");
        goto done;
    }
    const float *target = cosnet_labels_vector(labels, digit);
    float loss = 0;
    for (unsigned epoch = 1; epoch <= epochs; epoch++)
        if (cosnet_train_epoch(model, adamw, images, IMAGES, BATCH, target, 0,
                               epoch, NULL, NULL, &loss) != COSNET_OK) {
            status = fail("training");
            goto done;
        }
    printf("digit %u: %u epochs on %d images, final loss %.6f\n", digit, epochs,
           IMAGES, (double)loss);
    if (cosnet_model_save(model, out ? out : default_out) != COSNET_OK) {
        status = fail("saving");
        goto done;
    }
    printf("saved to %s\n", out ? out : default_out);

    /* cos(f(x), v_digit) over the test set, split by the true digit. */
    size_t count = cosnet_dataset_count(test);
    size_t dims = cosnet_model_output_dims(model);
    float *outputs = malloc(sizeof(float) * count * dims);
    if (!outputs || cosnet_model_predict_dataset(model, test, 0, count,
                                                 outputs) != COSNET_OK) {
        free(outputs);
        status = fail("predicting");
        goto done;
    }
    double sum[2] = {0, 0}; /* [others, the digit] */
    size_t n[2] = {0, 0};
    for (size_t i = 0; i < count; i++) {
        const float *y = outputs + i * dims;
        double dot = 0, yy = 0, tt = 0;
        for (size_t d = 0; d < dims; d++) {
            dot += (double)y[d] * target[d];
            yy += (double)y[d] * y[d];
            tt += (double)target[d] * target[d];
        }
        int own = cosnet_dataset_label(test, i) == (int)digit;
        sum[own] += yy > 0 ? dot / sqrt(yy * tt) : 0;
        n[own]++;
    }
    free(outputs);
    printf("mean cos to digit %u's label vector on the test set: "
           "%.4f over its %zu images, %.4f over the %zu others\n",
           digit, sum[1] / (double)n[1], n[1], sum[0] / (double)n[0], n[0]);
    status = command_line_finish_output("train-digit");
done:
    cosnet_optimizer_free(adamw);
    cosnet_model_free(model);
    cosnet_labels_free(labels);
    free(images);
    cosnet_dataset_free(train);
    cosnet_dataset_free(test);
    return status;
}
