/* report_data: everything the HTML/SVG report shows, filled by the program.
 *
 * Plain data, no library handles: the figure code never calls libcosnet, so
 * it can be tested with made-up numbers. The caller owns every pointer; the
 * report functions only read them. */
#ifndef COSNET_REPORT_DATA_H
#define COSNET_REPORT_DATA_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define REPORT_MAX_CLASSES 16
#define REPORT_MAX_CONFIG 32
#define REPORT_IMAGE_MAX_PIXELS (28 * 28)

/* The three rules, in the order of cosnet_rule. */
enum report_rule { REPORT_SEED, REPORT_OWN_LABEL, REPORT_IMAGE_BLIND };
#define REPORT_RULES 3
enum report_split { REPORT_TRAIN, REPORT_TEST };
#define REPORT_SPLITS 2

/* What the run was, and so which figures the report shows. */
enum report_kind {
    /* cosnet-mnist: one model per class, three rules, train and test. */
    REPORT_PIPELINE,
    /* cosnet-train: one network for all classes, one honest rule (its
     * counts are kept as REPORT_OWN_LABEL's), a confusion matrix for each
     * split with images (total > 0); no rules figure. */
    REPORT_CLASSIFIER
};

/* One image the models got wrong. */
typedef struct report_gallery_entry {
    uint8_t pixels[REPORT_IMAGE_MAX_PIXELS]; /* rows x columns, 0 = black */
    size_t index;                            /* in the test set */
    unsigned truth, predicted;
    float predicted_similarity; /* s of the predicted class */
    float true_similarity;      /* s of the true class */
} report_gallery_entry;

/* A row of the configuration table. */
typedef struct report_config_row {
    char key[48];
    char value[1024]; /* longer values end in "..." (report_text) */
} report_config_row;

typedef struct report_data {
    const char *program;   /* e.g. "cosnet-mnist" */
    enum report_kind kind; /* 0: REPORT_PIPELINE */
    /* One line naming the run, e.g. "20 epochs x 25 batches of 20, author
     * labels"; goes into every figure's title. */
    char configuration[256];

    unsigned classes; /* <= REPORT_MAX_CLASSES */
    /* Names of the classes on the axes and in the gallery; NULL: the class
     * numbers. */
    const char *const *class_names;

    /* Loss history, one series per model (report_loss_series):
     * loss[k * epochs + e] is model k's loss over epoch e+1 (the value
     * cosnet_train_epoch or cosnet_trainer_epoch_loss returns). NULL or
     * epochs 0: no training (models loaded), the loss figure says so. */
    const float *loss;
    unsigned epochs;
    /* What a loss value is, for the figure's axis, e.g. "1 - cos"; NULL:
     * "1 - cos". */
    const char *loss_name;
    /* Optional per-batch losses: batch_loss[(k * epochs + e) *
     * batches_per_epoch + b], b in training order; NULL when not kept. */
    const float *batch_loss;
    size_t batches_per_epoch;
    /* Optional fraction of the validation images classified right after
     * each epoch (epochs values; a negative one is not drawn); NULL: no
     * validation. */
    const double *validation_accuracy;

    /* Evaluation: confusion[rule][split][actual][predicted]. */
    size_t confusion[REPORT_RULES][REPORT_SPLITS][REPORT_MAX_CLASSES]
                    [REPORT_MAX_CLASSES];
    size_t correct[REPORT_RULES][REPORT_SPLITS];
    size_t total[REPORT_SPLITS];

    /* Misclassified test images under gallery_rule (normally own-label),
     * lowest winning margin (predicted_similarity - true_similarity) first;
     * gallery_errors is how many images that rule got wrong in all. */
    const report_gallery_entry *gallery;
    size_t gallery_count, gallery_errors;
    enum report_rule gallery_rule;
    unsigned image_rows, image_columns;

    /* The configuration table: version, ISA, threads, timings... */
    report_config_row config[REPORT_MAX_CONFIG];
    size_t config_count;
} report_data;

/* printf into `text` (`size` bytes); what does not fit is cut at a UTF-8
 * character boundary and marked with a closing U+2026 (an ellipsis). */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
void report_text(char *text, size_t size, const char *format, ...);
void report_text_list(char *text, size_t size, const char *format,
                      va_list arguments);

/* The last component of a path (the whole path when it has no '/'): for
 * subtitles, which a long path would run past the figure's edges. */
const char *report_base_name(const char *path);

/* Appends a row to the configuration table (printf-style value); rows past
 * REPORT_MAX_CONFIG are dropped. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
void report_config_add(report_data *data, const char *key, const char *format,
                       ...);

/* Series in data->loss: one per class for the pipeline, one for the
 * classifier. */
unsigned report_loss_series(const report_data *data);

/* The name of class k: data->class_names[k], else its number written into
 * `room` (at least 12 bytes). */
const char *report_class_name(const report_data *data, unsigned k, char *room,
                              size_t room_size);

/* Human names of the rules and splits, as the text report uses them. */
const char *report_rule_name(enum report_rule rule);
const char *report_split_name(enum report_split split);

#endif /* COSNET_REPORT_DATA_H */
