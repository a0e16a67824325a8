/* The HTML report and the SVG folder: one list of figures, two outputs. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "html_report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "svg.h"

typedef enum figure_kind {
    FIGURE_LOSS,
    FIGURE_RULES,
    FIGURE_CONFUSION,
    FIGURE_GALLERY,
    FIGURE_CONFIG
} figure_kind;

/* Which kinds of report show a figure. */
enum { FOR_PIPELINE = 1, FOR_CLASSIFIER = 2, FOR_BOTH = 3 };

typedef struct figure {
    const char *file; /* without .svg */
    figure_kind kind;
    enum report_rule rule;
    enum report_split split;
    int shown_for;
} figure;

static const figure figures[] = {
    {"loss", FIGURE_LOSS, REPORT_SEED, REPORT_TRAIN, FOR_BOTH},
    {"rules", FIGURE_RULES, REPORT_SEED, REPORT_TRAIN, FOR_PIPELINE},
    {"confusion-own-label-test", FIGURE_CONFUSION, REPORT_OWN_LABEL,
     REPORT_TEST, FOR_PIPELINE},
    {"confusion-own-label-train", FIGURE_CONFUSION, REPORT_OWN_LABEL,
     REPORT_TRAIN, FOR_PIPELINE},
    {"confusion-seed-test", FIGURE_CONFUSION, REPORT_SEED, REPORT_TEST,
     FOR_PIPELINE},
    {"confusion-seed-train", FIGURE_CONFUSION, REPORT_SEED, REPORT_TRAIN,
     FOR_PIPELINE},
    /* The classifier's one rule is kept as the own-label rule. */
    {"confusion-test", FIGURE_CONFUSION, REPORT_OWN_LABEL, REPORT_TEST,
     FOR_CLASSIFIER},
    {"confusion-train", FIGURE_CONFUSION, REPORT_OWN_LABEL, REPORT_TRAIN,
     FOR_CLASSIFIER},
    {"gallery", FIGURE_GALLERY, REPORT_SEED, REPORT_TRAIN, FOR_BOTH},
    {"config", FIGURE_CONFIG, REPORT_SEED, REPORT_TRAIN, FOR_BOTH},
};
#define FIGURE_COUNT (sizeof figures / sizeof figures[0])

/* The pipeline shows all its figures; the classifier only a confusion
 * matrix of a split it evaluated. */
static int shown(const report_data *data, const figure *f)
{
    if (data->kind == REPORT_PIPELINE)
        return (f->shown_for & FOR_PIPELINE) != 0;
    return (f->shown_for & FOR_CLASSIFIER) != 0 &&
           (f->kind != FIGURE_CONFUSION || data->total[f->split] > 0);
}

static int draw(report_buffer *out, const report_data *data, const figure *f)
{
    switch (f->kind) {
    case FIGURE_LOSS: return svg_loss_figure(out, data);
    case FIGURE_RULES: return svg_rules_figure(out, data);
    case FIGURE_CONFUSION:
        return svg_confusion_figure(out, data, f->rule, f->split);
    case FIGURE_GALLERY: return svg_gallery_figure(out, data);
    case FIGURE_CONFIG: return svg_config_figure(out, data);
    }
    return -1;
}

static const figure *find(const char *file)
{
    for (size_t i = 0; i < FIGURE_COUNT; i++)
        if (strcmp(figures[i].file, file) == 0)
            return &figures[i];
    return NULL;
}

static void section(report_buffer *out, const char *id, const char *heading)
{
    report_buffer_printf(out, "<section id=\"%s\">\n<h2>", id);
    report_buffer_escape(out, heading);
    report_buffer_puts(out, "</h2>\n");
}

/* A figure the report shows, in a <figure>; nothing for one it does not. */
static int inline_figure(report_buffer *out, const report_data *data,
                         const char *file)
{
    const figure *f = find(file);
    if (!shown(data, f))
        return 0;
    report_buffer_printf(out, "<figure id=\"figure-%s\">\n", file);
    int result = draw(out, data, f);
    report_buffer_puts(out, "</figure>\n");
    return result;
}

static const char css[] =
    "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:24px;"
    "color:#222;background:#fff;max-width:1500px}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px;"
    "border-bottom:1px solid #ddd;padding-bottom:4px}"
    "p.lead{margin:4px 0 12px;color:#444}"
    "p.sentence{font-weight:bold;background:#fff4e5;border-left:4px solid "
    "#ff7f0e;padding:8px 12px}"
    "figure{display:inline-block;margin:0 16px 16px 0;vertical-align:top}"
    "table{border-collapse:collapse;font-size:13px;margin:0 24px 16px 0}"
    "table.rules{display:inline-table;vertical-align:top}"
    "td,th{border:1px solid #ddd;padding:4px 10px;text-align:left}"
    "th{background:#f2f2f2}"
    "table.rules td.n{text-align:right;font-variant-numeric:tabular-nums}";

/* The pipeline's sections: the three rules first, since the seed rule's
 * number is the one the article quotes. */
static int pipeline_sections(report_buffer *out, const report_data *data)
{
    section(out, "rules", "Three rules, one set of models");
    report_buffer_puts(out, "<p class=\"sentence\">");
    report_buffer_escape(out, svg_seed_rule_sentence);
    report_buffer_puts(out, "</p>\n<table class=\"rules\">\n<tr><th>rule</th>"
                            "<th>train</th><th>test</th></tr>\n");
    for (int r = 0; r < REPORT_RULES; r++) {
        report_buffer_printf(out, "<tr><td>%s</td>",
                             report_rule_name((enum report_rule)r));
        for (int s = 0; s < REPORT_SPLITS; s++) {
            size_t correct = data->correct[r][s], total = data->total[s];
            report_buffer_printf(out, "<td class=\"n\">%zu/%zu (%.2f%%)</td>",
                                 correct, total,
                                 total ? 100.0 * (double)correct / total : 0.0);
        }
        report_buffer_puts(out, "</tr>\n");
    }
    report_buffer_puts(out, "</table>\n");
    int failed = inline_figure(out, data, "rules");
    report_buffer_puts(out, "</section>\n");

    section(out, "loss", "Training");
    failed |= inline_figure(out, data, "loss");
    report_buffer_puts(out, "</section>\n");

    section(out, "confusion", "Confusion matrices");
    failed |= inline_figure(out, data, "confusion-own-label-test");
    failed |= inline_figure(out, data, "confusion-own-label-train");
    failed |= inline_figure(out, data, "confusion-seed-test");
    failed |= inline_figure(out, data, "confusion-seed-train");
    report_buffer_puts(out, "</section>\n");
    return failed;
}

/* The classifier's sections: its accuracy in one sentence, then how it
 * trained and where it errs. */
static int classifier_sections(report_buffer *out, const report_data *data)
{
    section(out, "accuracy", "Accuracy");
    report_buffer_puts(out, "<p class=\"sentence\">");
    for (int s = REPORT_SPLITS - 1; s >= 0; s--) {
        size_t correct = data->correct[REPORT_OWN_LABEL][s];
        size_t total = data->total[s];
        if (total > 0)
            report_buffer_printf(out, "%s accuracy: %zu/%zu (%.2f%%). ",
                                 s == REPORT_TEST ? "Test" : "Train", correct,
                                 total,
                                 100.0 * (double)correct / (double)total);
    }
    report_buffer_puts(out, "One network for all classes, predict(x) = "
                            "argmax<sub>k</sub> cos(f(x), v<sub>k</sub>): no "
                            "label is read to predict.</p>\n</section>\n");

    section(out, "loss", "Training");
    int failed = inline_figure(out, data, "loss");
    report_buffer_puts(out, "</section>\n");

    section(out, "confusion", "Confusion matrix");
    failed |= inline_figure(out, data, "confusion-test");
    failed |= inline_figure(out, data, "confusion-train");
    report_buffer_puts(out, "</section>\n");
    return failed;
}

int html_report_build(report_buffer *out, const report_data *data)
{
    const char *program = data->program ? data->program : "cosnet";
    report_buffer_puts(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
                            "<meta charset=\"utf-8\">\n<title>");
    report_buffer_escape(out, program);
    report_buffer_puts(out, " report</title>\n<style>");
    report_buffer_puts(out, css);
    report_buffer_puts(out, "</style>\n</head>\n<body>\n<h1>");
    report_buffer_escape(out, program);
    report_buffer_puts(out, " report</h1>\n<p class=\"lead\">");
    report_buffer_escape(out, data->configuration);
    report_buffer_puts(out, "</p>\n");

    int failed = data->kind == REPORT_PIPELINE ? pipeline_sections(out, data)
                                               : classifier_sections(out, data);

    section(out, "gallery", "Misclassified test images");
    failed |= inline_figure(out, data, "gallery");
    report_buffer_puts(out, "</section>\n");

    section(out, "config", "Configuration");
    report_buffer_puts(out, "<table class=\"config\">\n");
    for (size_t i = 0; i < data->config_count; i++) {
        report_buffer_puts(out, "<tr><th>");
        report_buffer_escape(out, data->config[i].key);
        report_buffer_puts(out, "</th><td>");
        report_buffer_escape(out, data->config[i].value);
        report_buffer_puts(out, "</td></tr>\n");
    }
    report_buffer_puts(out, "</table>\n</section>\n</body>\n</html>\n");
    return failed || out->failed ? -1 : 0;
}

int html_report_write(const report_data *data, const char *path, char *message,
                      size_t message_size)
{
    report_buffer out;
    report_buffer_init(&out);
    int result = html_report_build(&out, data);
    if (result != 0)
        snprintf(message, message_size, "%s: out of memory for the report",
                 path);
    else
        result = report_buffer_write_file(&out, path, message, message_size);
    report_buffer_free(&out);
    return result;
}

int html_report_write_svg_dir(const report_data *data, const char *dir,
                              char *message, size_t message_size)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        snprintf(message, message_size, "cannot create %s: %s", dir,
                 strerror(errno));
        return -1;
    }
    report_buffer out;
    report_buffer_init(&out);
    int result = 0;
    for (size_t i = 0; i < FIGURE_COUNT && result == 0; i++) {
        if (!shown(data, &figures[i]))
            continue;
        report_buffer_clear(&out);
        report_buffer_puts(&out,
                           "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        if (draw(&out, data, &figures[i]) != 0) {
            snprintf(message, message_size, "out of memory for %s.svg",
                     figures[i].file);
            result = -1;
            break;
        }
        size_t length = strlen(dir) + strlen(figures[i].file) + 6;
        char *path = malloc(length);
        if (!path) {
            snprintf(message, message_size, "out of memory for a file name");
            result = -1;
            break;
        }
        snprintf(path, length, "%s/%s.svg", dir, figures[i].file);
        result = report_buffer_write_file(&out, path, message, message_size);
        free(path);
    }
    report_buffer_free(&out);
    return result;
}

const char *html_report_figure_name(size_t index)
{
    return index < FIGURE_COUNT ? figures[index].file : NULL;
}
