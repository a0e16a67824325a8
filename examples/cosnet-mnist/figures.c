/* cosnet-mnist --report and --svg: the run's results as the report
 * machinery (../report/) draws them -- loss curves, confusion heatmaps, the
 * three rules, the misclassified test images with the lowest margin and the
 * configuration -- in one self-contained HTML file and as .svg files. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "collect.h"
#include "cosnet-mnist.h"
#include "outputs.h"
#include "report_data.h"

/* Images in the gallery: the issue asks for at least the 50 with the lowest
 * winning margin. */
#define GALLERY_SIZE 50

int figures_check(const options *opt)
{
    return report_outputs_check(PROGRAM, opt->report_path, opt->svg_dir);
}

int figures_write(const run_summary *run, const cosnet_model *const *models,
                  const cosnet_labels *labels, const cosnet_dataset *test)
{
    const options *opt = run->opt;
    report_data *data = calloc(1, sizeof *data);
    if (!data)
        return out_of_memory("the report");
    data->program = PROGRAM;
    data->classes = DIGITS;
    /* The subtitle names folders by their last component: a long path
     * would run past the figures' edges (the table has it whole). */
    char label_seed[40] = "";
    if (opt->generate_labels)
        snprintf(label_seed, sizeof label_seed, " (label seed %llu)",
                 (unsigned long long)opt->label_seed);
    if (opt->load_dir)
        report_text(data->configuration, sizeof data->configuration,
                    "models loaded from %s", report_base_name(opt->load_dir));
    else
        report_text(data->configuration, sizeof data->configuration,
                    "%u epoch%s x %zu batches of %zu, %s labels%s", opt->epochs,
                    opt->epochs == 1 ? "" : "s", opt->batches, opt->batch_size,
                    run->labels_name, label_seed);
    if (run->history) {
        data->loss = run->history->epoch;
        data->epochs = run->history->epochs;
        data->batch_loss = run->history->batch;
        data->batches_per_epoch = run->history->batches;
    }
    report_collect_evaluation(data, run->r->train, run->r->test);
    data->image_rows = (unsigned)cosnet_dataset_rows(test);
    data->image_columns = (unsigned)cosnet_dataset_columns(test);
    data->gallery_rule = REPORT_OWN_LABEL;

    /* The gallery needs every model's score of every test image again (an
     * evaluation keeps counts only). */
    report_gallery_entry *gallery = NULL;
    size_t count = 0, errors = 0;
    progress *line = progress_start(STDERR_FILENO, "gallery", "images/s",
                                    cosnet_dataset_count(test), !opt->quiet);
    cosnet_status status =
        report_collect_gallery(models, DIGITS, labels, test, run->threads,
                               GALLERY_SIZE, line, &gallery, &count, &errors);
    progress_finish(line);
    if (status != COSNET_OK) {
        free(data);
        return library_failure("the report's gallery", status);
    }
    data->gallery = gallery;
    data->gallery_count = count;
    data->gallery_errors = errors;

    report_config_add(data, "program", "%s %s", PROGRAM, cosnet_version());
    report_config_add(data, "kernels (ISA)", "%s", run->isa);
    report_config_add(data, "threads", "%u", run->threads);
    report_config_add(data, "data", "%s", opt->data_dir);
    report_config_add(data, "labels", "%s%s", run->labels_name, label_seed);
    if (opt->load_dir)
        report_config_add(data, "models loaded from", "%s", opt->load_dir);
    if (!opt->load_dir) {
        report_config_add(data, "seed", "%llu", (unsigned long long)opt->seed);
        report_config_add(data, "training", "%u epoch%s, %zu batches of %zu",
                          opt->epochs, opt->epochs == 1 ? "" : "s",
                          opt->batches, opt->batch_size);
    }
    report_config_add(data, "time: load", "%.2f s", run->time.load);
    report_config_add(data, "time: training", "%.2f s", run->time.train);
    report_config_add(data, "time: evaluation", "%.2f s", run->time.eval);
    report_config_add(data, "time: total", "%.2f s", run->time.total);

    int result =
        report_outputs_write(PROGRAM, data, opt->report_path, opt->svg_dir);
    free(gallery);
    free(data);
    return result;
}
