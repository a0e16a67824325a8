/* Writes a report for made-up but known data, for check_report_files.py:
 *   report-sample [--classifier] FILE.html SVG_DIR
 * The pipeline (default): confusion[r][s][a][p] = a == p ? 900 + 10a + r + s
 *                                : (7a + 3p + 11r + 5s) mod 23
 * gallery entry i (12 of them): true i mod 10, predicted (i + 3) mod 10,
 * similarities 0.5 + i/100 and 0.4, pixel j = (31i + 7j) mod 256.
 * --classifier: cosnet-train's kind of report with Fashion-MNIST's class
 * names, the test split only (the own-label rule's r = 1, s = 1 counts
 * above), one loss series of 7 epochs (0.3 / (1 + e)), validation accuracy
 * 0.8 + 0.02e, and the same gallery. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html_report.h"
#include "report_data.h"

static const char *const fashion_names[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

static void fill_split(report_data *d, int r, int s)
{
    size_t correct = 0, total = 0;
    for (unsigned a = 0; a < 10; a++)
        for (unsigned p = 0; p < 10; p++) {
            size_t v =
                a == p
                    ? 900 + 10 * a + (unsigned)(r + s)
                    : (7 * a + 3 * p + 11 * (unsigned)r + 5 * (unsigned)s) % 23;
            d->confusion[r][s][a][p] = v;
            total += v;
            correct += a == p ? v : 0;
        }
    d->correct[r][s] = correct;
    d->total[s] = total;
}

/* The classifier's loss and validation accuracy over 7 epochs. */
static void fill_classifier(report_data *d)
{
    static float loss[7];
    static double validation[7];
    d->kind = REPORT_CLASSIFIER;
    d->class_names = fashion_names;
    fill_split(d, REPORT_OWN_LABEL, REPORT_TEST);
    for (unsigned e = 0; e < 7; e++) {
        loss[e] = 0.3f / (float)(1 + e);
        validation[e] = 0.8 + 0.02 * e;
    }
    d->loss = loss;
    d->validation_accuracy = validation;
    d->epochs = 7;
}

int main(int argc, char **argv)
{
    int classifier = argc == 4 && strcmp(argv[1], "--classifier") == 0;
    if (argc != 3 && !classifier) {
        fprintf(stderr, "usage: report-sample [--classifier] FILE.html "
                        "SVG_DIR\n");
        return 2;
    }
    static report_data d;
    static report_gallery_entry gallery[12];
    static float loss[10 * 5];
    d.program = "report-sample";
    snprintf(d.configuration, sizeof d.configuration,
             "5 epochs x 2 batches of 3, sample & test labels");
    d.classes = 10;
    if (classifier) {
        fill_classifier(&d);
        argv++;
    } else {
        for (int r = 0; r < REPORT_RULES; r++)
            for (int s = 0; s < REPORT_SPLITS; s++)
                fill_split(&d, r, s);
        for (unsigned k = 0; k < 10; k++)
            for (unsigned e = 0; e < 5; e++)
                loss[k * 5 + e] = 0.3f / (float)(1 + e) / (float)(1 + k);
        d.loss = loss;
        d.epochs = 5;
    }
    for (unsigned i = 0; i < 12; i++) {
        gallery[i].index = 1000 + i;
        gallery[i].truth = i % 10;
        gallery[i].predicted = (i + 3) % 10;
        gallery[i].predicted_similarity = 0.5f + (float)i / 100.0f;
        gallery[i].true_similarity = 0.4f;
        for (unsigned j = 0; j < 28 * 28; j++)
            gallery[i].pixels[j] = (unsigned char)((31 * i + 7 * j) % 256);
    }
    d.gallery = gallery;
    d.gallery_count = 12;
    d.gallery_errors = 345;
    d.gallery_rule = REPORT_OWN_LABEL;
    d.image_rows = d.image_columns = 28;
    report_config_add(&d, "version", "%s", "sample <1.0>");
    report_config_add(&d, "threads", "%d", 2);
    char message[1024];
    if (html_report_write(&d, argv[1], message, sizeof message) != 0) {
        fprintf(stderr, "%s\n", message);
        return 1;
    }
    if (html_report_write_svg_dir(&d, argv[2], message, sizeof message) != 0) {
        fprintf(stderr, "%s\n", message);
        return 1;
    }
    return 0;
}
