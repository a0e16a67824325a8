/* cosnet-train --report and --svg: the run as the report machinery
 * (../report/) draws one classifier -- the loss and validation accuracy per
 * epoch, the test set's confusion heatmap, the misclassified test images
 * with the lowest margin and the configuration -- in one self-contained HTML
 * file and as .svg files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect.h"
#include "cosnet-train.h"
#include "outputs.h"
#include "progress.h"
#include "report_data.h"

/* Images in the gallery: the issue asks for at least the 50 with the lowest
 * winning margin. */
#define GALLERY_SIZE 50

int figures_check(const options *opt)
{
    return report_outputs_check(PROGRAM, opt->report_path, opt->svg_dir);
}

/* The threads the gallery's scoring uses: --threads, 0 = one per CPU. */
static unsigned gallery_threads(const options *opt)
{
    if (opt->threads > 0)
        return opt->threads;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 && online < 1024 ? (unsigned)online : 1;
}

static void describe_run(report_data *data, const run_result *r)
{
    const options *o = r->opt;
    const char *dataset = o->fashion ? "Fashion-MNIST" : "MNIST";
    /* A label file by its name only: a long path would run past the
     * figures' edges (the table has it whole). */
    report_text(data->configuration, sizeof data->configuration,
                "%s, %s network, %u epoch%s, batch %zu, lr %g, %s labels",
                dataset,
                o->arch[0] && !strchr(o->arch, ',') ? o->arch : "custom",
                o->epochs, o->epochs == 1 ? "" : "s", o->batch_size,
                o->learning_rate, report_base_name(o->labels));
    report_config_add(data, "program", "%s %s", PROGRAM, cosnet_version());
    report_config_add(data, "kernels (ISA)", "%s", r->isa);
    if (o->threads)
        report_config_add(data, "threads", "%u", o->threads);
    else
        report_config_add(data, "threads", "0 (one per online CPU: %u)",
                          gallery_threads(o));
    report_config_add(data, "dataset", "%s", dataset);
    report_config_add(data, "data", "%s", r->data_folder);
    report_config_add(data, "architecture", "%s (%zu parameters)",
                      cosnet_model_layers(r->model),
                      cosnet_model_parameter_count(r->model));
    if (strcmp(o->labels, "generate") == 0)
        report_config_add(data, "label set", "generate (label seed %llu)",
                          (unsigned long long)o->label_seed);
    else
        report_config_add(data, "label set", "%s", o->labels);
    report_config_add(data, "epochs", "%u", o->epochs);
    report_config_add(data, "batch size", "%zu", o->batch_size);
    report_config_add(data, "learning rate",
                      "%g peak, warm-up %g of the steps, weight decay %g",
                      o->learning_rate, o->warmup, o->weight_decay);
    if (o->shift == 0 && o->rotate == 0 && o->scale == 0 && o->elastic == 0)
        report_config_add(data, "augmentation", "none");
    else
        report_config_add(data, "augmentation",
                          "shifts up to %u px, rotations up to %g degrees, "
                          "scaling up to %g, elastic up to %g px",
                          o->shift, o->rotate, o->scale, o->elastic);
    char loss[96];
    report_config_add(data, "loss", "%s", describe_loss(o, loss, sizeof loss));
    report_config_add(data, "validation images", "%zu", o->validation);
    report_config_add(data, "seed", "%llu", (unsigned long long)o->seed);
    report_config_add(data, "time: load", "%.2f s", r->load_seconds);
    report_config_add(data, "time: training", "%.2f s", r->train_seconds);
    report_config_add(data, "time: test evaluation", "%.2f s", r->eval_seconds);
}

/* Fills `data` (its loss and validation arrays: `epochs` values each),
 * collects the gallery and writes the outputs. */
static int report_run(report_data *data, float *loss, double *validation,
                      const run_result *r, const cosnet_labels *labels,
                      const cosnet_dataset *test)
{
    const options *opt = r->opt;
    const unsigned epochs = cosnet_trainer_epochs_done(r->trainer);
    data->program = PROGRAM;
    data->kind = REPORT_CLASSIFIER;
    data->classes = CLASSES;
    data->class_names = r->class_names;
    for (unsigned e = 1; e <= epochs; e++) {
        loss[e - 1] = cosnet_trainer_epoch_loss(r->trainer, e);
        validation[e - 1] = cosnet_trainer_validation_accuracy(r->trainer, e);
    }
    data->loss = loss;
    data->epochs = epochs;
    data->loss_name = opt->softmax > 0 ? "softmax cross-entropy" : "1 - cos";
    data->validation_accuracy = opt->validation > 0 ? validation : NULL;
    report_collect_evaluation(data, NULL, r->test);
    data->image_rows = (unsigned)cosnet_dataset_rows(test);
    data->image_columns = (unsigned)cosnet_dataset_columns(test);
    data->gallery_rule = REPORT_OWN_LABEL;
    describe_run(data, r);

    /* The gallery scores the test set again: the evaluation keeps counts. */
    report_gallery_entry *gallery = NULL;
    size_t count = 0, errors = 0;
    progress *line = progress_start(STDERR_FILENO, "gallery", "images/s",
                                    cosnet_dataset_count(test), !opt->quiet);
    cosnet_status status = report_collect_classifier_gallery(
        r->model, labels, test, gallery_threads(opt), GALLERY_SIZE, line,
        &gallery, &count, &errors);
    progress_finish(line);
    if (status != COSNET_OK) {
        const char *message = cosnet_last_error();
        fprintf(stderr, PROGRAM ": the report's gallery: %s\n",
                *message ? message : cosnet_strerror(status));
        return EXIT_FAILURE;
    }
    data->gallery = gallery;
    data->gallery_count = count;
    data->gallery_errors = errors;
    int result =
        report_outputs_write(PROGRAM, data, opt->report_path, opt->svg_dir);
    free(gallery);
    return result;
}

int figures_write(const run_result *r, const cosnet_labels *labels,
                  const cosnet_dataset *test)
{
    /* report_data is large (its confusion matrices): on the heap. */
    size_t epochs = cosnet_trainer_epochs_done(r->trainer) + 1;
    report_data *data = calloc(1, sizeof *data);
    float *loss = calloc(epochs, sizeof *loss);
    double *validation = calloc(epochs, sizeof *validation);
    int result = EXIT_FAILURE;
    if (data && loss && validation)
        result = report_run(data, loss, validation, r, labels, test);
    else
        fprintf(stderr, PROGRAM ": out of memory for the report\n");
    free(data);
    free(loss);
    free(validation);
    return result;
}
