/* The report's figures as SVG: loss curves, confusion heatmaps, the rules'
 * bars, the gallery of misclassified images and the configuration table.
 * Coordinates are in CSS pixels; text uses the viewer's sans-serif. */
#include "svg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "png_writer.h"

const char svg_seed_rule_sentence[] =
    "The seed rule reads the true label: a predictor that never looks at "
    "the image scores 100% under it.";

/* Ten distinguishable line colours, then repeated darker. */
static const char *const class_colours[REPORT_MAX_CLASSES] = {
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#0b3c5d", "#a14e00",
    "#14501a", "#6b1414", "#4b2f63", "#46291f"};

static const char *const rule_colours[REPORT_RULES][REPORT_SPLITS] = {
    {"#d62728", "#f29b9b"}, /* seed: train, test */
    {"#1f77b4", "#9ec8e8"}, /* own-label */
    {"#7f7f7f", "#c7c7c7"}, /* image-blind */
};

static void svg_open(report_buffer *out, double width, double height,
                     const char *label)
{
    report_buffer_printf(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" "
        "xmlns:xlink=\"http://www.w3.org/1999/xlink\" width=\"%.0f\" "
        "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
        "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
        "font-size=\"12\" role=\"img\">\n<title>",
        width, height, width, height);
    report_buffer_escape(out, label);
    report_buffer_printf(out,
                         "</title>\n<rect width=\"%.0f\" height=\"%.0f\" "
                         "fill=\"#ffffff\"/>\n",
                         width, height);
}

static int svg_close(report_buffer *out)
{
    report_buffer_puts(out, "</svg>\n");
    return out->failed ? -1 : 0;
}

/* <text> with escaped content; `attributes` is raw SVG attribute text. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 5, 6)))
#endif
static void
text(report_buffer *out, double x, double y, const char *attributes,
     const char *format, ...)
{
    char content[1100];
    va_list arguments;
    va_start(arguments, format);
    report_text_list(content, sizeof content, format, arguments);
    va_end(arguments);
    report_buffer_printf(out, "<text x=\"%.1f\" y=\"%.1f\"%s%s>", x, y,
                         *attributes ? " " : "", attributes);
    report_buffer_escape(out, content);
    report_buffer_puts(out, "</text>\n");
}

static void title(report_buffer *out, const report_data *data,
                  const char *heading, double width)
{
    text(out, width / 2, 20,
         "text-anchor=\"middle\" font-size=\"15\" "
         "font-weight=\"bold\"",
         "%s", heading);
    if (data->configuration[0])
        text(out, width / 2, 38, "text-anchor=\"middle\" fill=\"#444444\"",
             "%s", data->configuration);
}

static double percent(size_t correct, size_t total)
{
    return total ? 100.0 * (double)correct / (double)total : 0.0;
}

/* ------------------------------------------------------------------------ */
/* Loss curves                                                              */
/* ------------------------------------------------------------------------ */

/* One curve over the epochs: ys[e - 1] is epoch e's y (NaN: no point there,
 * the line breaks), x spreads the epochs over [left, right]; a dot on every
 * point when there are few. `attributes`: raw SVG for the polylines. */
static void curve(report_buffer *out, const double *ys, unsigned epochs,
                  double left, double right, const char *attributes)
{
#define EPOCH_X(e)                                                             \
    (epochs > 1 ? left + (double)((e)-1) / (epochs - 1) * (right - left)       \
                : (left + right) / 2)
    int open = 0;
    for (unsigned e = 1; e <= epochs; e++) {
        if (isnan(ys[e - 1])) {
            if (open)
                report_buffer_puts(out, "\"/>\n");
            open = 0;
            continue;
        }
        if (!open)
            report_buffer_printf(out,
                                 "<polyline fill=\"none\" "
                                 "stroke-width=\"1.6\"%s points=\"",
                                 attributes);
        report_buffer_printf(out, "%s%.1f,%.1f", open ? " " : "", EPOCH_X(e),
                             ys[e - 1]);
        open = 1;
    }
    if (open)
        report_buffer_puts(out, "\"/>\n");
    if (epochs <= 30)
        for (unsigned e = 1; e <= epochs; e++)
            if (!isnan(ys[e - 1]))
                report_buffer_printf(
                    out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\"/>\n",
                    EPOCH_X(e), ys[e - 1]);
#undef EPOCH_X
}

/* The validation accuracy of the classifier on a second, linear y axis at
 * the right of the loss plot: whole tens of percent around the data. */
static void validation_curve(report_buffer *out, const report_data *data,
                             double left, double right, double top,
                             double bottom, double *ys)
{
    unsigned epochs = data->epochs;
    double lowest = 100;
    for (unsigned e = 0; e < epochs; e++)
        if (data->validation_accuracy[e] >= 0 &&
            100 * data->validation_accuracy[e] < lowest)
            lowest = 100 * data->validation_accuracy[e];
    double floor_percent = floor(lowest / 10) * 10;
    if (floor_percent > 90)
        floor_percent = 90;
    double span = 100 - floor_percent;
    double step = span <= 10 ? 2 : span <= 20 ? 5 : span <= 50 ? 10 : 20;
#define ACCURACY_Y(p) (bottom - ((p)-floor_percent) / span * (bottom - top))
    for (double p = floor_percent; p <= 100 + 1e-9; p += step)
        text(out, right + 6, ACCURACY_Y(p) + 4, "fill=\"#c45a00\"", "%g%%", p);
    char rotate[96];
    snprintf(rotate, sizeof rotate,
             "text-anchor=\"middle\" fill=\"#c45a00\" "
             "transform=\"rotate(90 %.1f %.1f)\"",
             right + 44, (top + bottom) / 2);
    text(out, right + 44, (top + bottom) / 2, rotate, "%s",
         "validation accuracy");
    report_buffer_puts(out, "<g class=\"validation\" stroke=\"#ff7f0e\" "
                            "fill=\"#ff7f0e\">\n");
    for (unsigned e = 1; e <= epochs; e++) {
        double value = data->validation_accuracy[e - 1];
        ys[e - 1] = value >= 0 ? ACCURACY_Y(100 * value) : NAN;
    }
    curve(out, ys, epochs, left, right, " stroke-dasharray=\"6,3\"");
    report_buffer_puts(out, "</g>\n");
#undef ACCURACY_Y
}

int svg_loss_figure(report_buffer *out, const report_data *data)
{
    const int pipeline = data->kind == REPORT_PIPELINE;
    const int validation = data->validation_accuracy && data->epochs > 0;
    /* The validation axis and its title need room right of the plot. */
    const double width = validation ? 800 : 720, height = 430;
    const double left = 72, right = 610, top = 56, bottom = 370;
    const double legend = validation ? right + 64 : right + 14;
    svg_open(out, width, height,
             pipeline ? "Training loss per class and epoch"
                      : "Training loss per epoch");
    title(out, data,
          pipeline ? "Training loss per digit (log scale)"
                   : "Training loss per epoch (log scale)",
          width);
    unsigned classes = report_loss_series(data);
    unsigned epochs = data->epochs;
    double low = INFINITY, high = -INFINITY;
    if (data->loss)
        for (size_t i = 0; i < (size_t)classes * epochs; i++) {
            double value = data->loss[i];
            if (isfinite(value) && value > 0) {
                low = value < low ? value : low;
                high = value > high ? value : high;
            }
        }
    if (!data->loss || epochs == 0 || !(low <= high)) {
        text(out, width / 2, height / 2, "text-anchor=\"middle\"", "%s",
             "No loss history: the models were loaded, not trained.");
        return svg_close(out);
    }
    /* Whole decades around the data. */
    double decade_low = floor(log10(low));
    double decade_high = ceil(log10(high));
    if (decade_high <= decade_low)
        decade_high = decade_low + 1;
    double span = decade_high - decade_low;
#define LOSS_Y(v) (bottom - (log10(v) - decade_low) / span * (bottom - top))
#define EPOCH_X(e)                                                             \
    (epochs > 1 ? left + (double)((e)-1) / (epochs - 1) * (right - left)       \
                : (left + right) / 2)
    /* Frame, grid and y ticks: every decade, plus 2 and 5 when few. */
    report_buffer_puts(out, "<g class=\"axes\" stroke=\"#cccccc\" "
                            "stroke-width=\"1\">\n");
    for (double d = decade_low; d <= decade_high + 1e-9; d++) {
        static const double steps[] = {1, 2, 5};
        for (int s = 0; s < 3; s++) {
            if (s > 0 && (span > 3 || d >= decade_high))
                continue;
            double value = steps[s] * pow(10, d);
            double y = LOSS_Y(value);
            report_buffer_printf(out,
                                 "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                                 "y2=\"%.1f\"%s/>\n",
                                 left, y, right, y,
                                 s ? " stroke-dasharray=\"2,3\"" : "");
        }
    }
    report_buffer_puts(out, "</g>\n");
    for (double d = decade_low; d <= decade_high + 1e-9; d++) {
        static const double steps[] = {1, 2, 5};
        for (int s = 0; s < 3; s++) {
            if (s > 0 && (span > 3 || d >= decade_high))
                continue;
            double value = steps[s] * pow(10, d);
            text(out, left - 6, LOSS_Y(value) + 4, "text-anchor=\"end\"", "%g",
                 value);
        }
    }
    unsigned step = 1;
    while (epochs / step > 10)
        step = step == 1 ? 2 : step == 2 ? 5 : step * 2;
    for (unsigned e = 1; e <= epochs; e++) {
        if (e != 1 && e % step != 0 && e != epochs)
            continue;
        if (e != epochs && e != 1 && epochs - e < step / 2 + 1)
            continue;
        double x = EPOCH_X(e);
        report_buffer_printf(out,
                             "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                             "y2=\"%.1f\" stroke=\"#333333\"/>\n",
                             x, bottom, x, bottom + 5);
        text(out, x, bottom + 18, "text-anchor=\"middle\"", "%u", e);
    }
    report_buffer_printf(out,
                         "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                         "height=\"%.1f\" fill=\"none\" stroke=\"#333333\"/>\n",
                         left, top, right - left, bottom - top);
    text(out, (left + right) / 2, bottom + 40, "text-anchor=\"middle\"", "%s",
         "epoch");
    text(out, 18, (top + bottom) / 2,
         "text-anchor=\"middle\" transform=\"rotate(-90 18 213)\"",
         "epoch loss (mean %s over the epoch)",
         data->loss_name ? data->loss_name : "1 - cos");
    /* One polyline per class; a non-finite or non-positive value breaks it. */
    double *ys = malloc((size_t)epochs * sizeof *ys);
    if (!ys)
        return -1;
    for (unsigned k = 0; k < classes; k++) {
        const float *row = data->loss + (size_t)k * epochs;
        report_buffer_printf(out,
                             "<g class=\"loss\" data-class=\"%u\" "
                             "stroke=\"%s\" fill=\"%s\">\n",
                             k, class_colours[k], class_colours[k]);
        for (unsigned e = 1; e <= epochs; e++) {
            double value = row[e - 1];
            ys[e - 1] = isfinite(value) && value > 0 ? LOSS_Y(value) : NAN;
        }
        curve(out, ys, epochs, left, right, "");
        report_buffer_puts(out, "</g>\n");
        /* Legend entry, with the final loss. */
        double y = top + 10 + 22.0 * k;
        report_buffer_printf(out,
                             "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                             "y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"/>\n",
                             legend, y, legend + 20, y, class_colours[k]);
        if (pipeline)
            text(out, legend + 26, y + 4, "", "%u: %.4f", k,
                 (double)row[epochs - 1]);
        else
            text(out, legend + 26, y + 4, "", "%.4f", (double)row[epochs - 1]);
    }
    text(out, legend, top - 4, "fill=\"#444444\"", "%s",
         pipeline ? "digit: last loss" : "last loss");
    if (validation) {
        validation_curve(out, data, left, right, top, bottom, ys);
        double last = data->validation_accuracy[epochs - 1];
        double y = top + 10 + 22.0 * classes + 22;
        report_buffer_printf(
            out,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
            "y2=\"%.1f\" stroke=\"#ff7f0e\" stroke-width=\"3\" "
            "stroke-dasharray=\"6,3\"/>\n",
            legend, y, legend + 20, y);
        text(out, legend, y - 14, "fill=\"#444444\"", "%s", "last val.");
        if (last >= 0)
            text(out, legend + 26, y + 4, "", "%.2f%%", 100 * last);
    }
    free(ys);
#undef LOSS_Y
#undef EPOCH_X
    return svg_close(out);
}

/* ------------------------------------------------------------------------ */
/* Confusion heatmaps                                                       */
/* ------------------------------------------------------------------------ */

/* White to dark blue by `share` in [0, 1]. */
static void heat_colour(double share, char colour[8])
{
    if (!(share >= 0))
        share = 0;
    if (share > 1)
        share = 1;
    double t = sqrt(share); /* small error shares stay visible */
    int r = (int)lround(255 + t * (8 - 255));
    int g = (int)lround(255 + t * (48 - 255));
    int b = (int)lround(255 + t * (107 - 255));
    snprintf(colour, 8, "#%02x%02x%02x", r & 255, g & 255, b & 255);
}

int svg_confusion_figure(report_buffer *out, const report_data *data,
                         enum report_rule rule, enum report_split split)
{
    unsigned n = data->classes;
    char room[12];
    /* Long class names (Fashion-MNIST's) widen the row labels and stand
     * slanted over the columns; numbers keep the compact layout. */
    size_t longest = 0;
    for (unsigned k = 0; k < n; k++) {
        size_t length = strlen(report_class_name(data, k, room, sizeof room));
        longest = length > longest ? length : longest;
    }
    const int slanted = longest > 3;
    const double cell = 42, left = slanted ? 40 + 7.0 * longest : 64;
    const double top = slanted ? 96 + 5.0 * longest : 84;
    const double width = left + n * cell + 150, height = top + n * cell + 56;
    const int pipeline = data->kind == REPORT_PIPELINE;
    char label[160];
    if (pipeline)
        snprintf(label, sizeof label, "Confusion matrix, %s, %s set",
                 report_rule_name(rule), report_split_name(split));
    else
        snprintf(label, sizeof label, "Confusion matrix, %s set",
                 report_split_name(split));
    svg_open(out, width, height, label);
    size_t correct = data->correct[rule][split], total = data->total[split];
    char heading[200];
    if (pipeline)
        snprintf(heading, sizeof heading, "%s, %s set: %zu/%zu (%.2f%%)",
                 report_rule_name(rule), report_split_name(split), correct,
                 total, percent(correct, total));
    else
        snprintf(heading, sizeof heading, "%s set: %zu/%zu (%.2f%%)",
                 report_split_name(split), correct, total,
                 percent(correct, total));
    title(out, data, heading, width);
    text(out, left + n * cell / 2, slanted ? 58 : top - 26,
         "text-anchor=\"middle\"", "%s", "predicted");
    char rotate[96];
    snprintf(rotate, sizeof rotate,
             "text-anchor=\"middle\" transform=\"rotate(-90 16 %.1f)\"",
             top + n * cell / 2);
    text(out, 16, top + n * cell / 2, rotate, "%s", "true");
    for (unsigned p = 0; p < n; p++) {
        const char *name = report_class_name(data, p, room, sizeof room);
        double x = left + (p + 0.5) * cell;
        if (!slanted) {
            text(out, x, top - 8, "text-anchor=\"middle\"", "%s", name);
            continue;
        }
        snprintf(rotate, sizeof rotate, "transform=\"rotate(-40 %.1f %.1f)\"",
                 x, top - 8);
        text(out, x, top - 8, rotate, "%s", name);
    }
    text(out, left + n * cell + 12, top - 8, "", "%s", "accuracy of row");
    for (unsigned a = 0; a < n; a++) {
        size_t row_total = 0;
        for (unsigned p = 0; p < n; p++)
            row_total += data->confusion[rule][split][a][p];
        double y = top + a * cell;
        text(out, left - 10, y + cell / 2 + 4, "text-anchor=\"end\"", "%s",
             report_class_name(data, a, room, sizeof room));
        for (unsigned p = 0; p < n; p++) {
            size_t count = data->confusion[rule][split][a][p];
            double share = row_total ? (double)count / (double)row_total : 0.0;
            char colour[8];
            heat_colour(share, colour);
            double x = left + p * cell;
            report_buffer_printf(
                out,
                "<rect class=\"cell\" data-actual=\"%u\" "
                "data-predicted=\"%u\" data-count=\"%zu\" x=\"%.1f\" "
                "y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
                "stroke=\"%s\"/>\n",
                a, p, count, x, y, cell, cell, colour,
                a == p ? "#222222" : "#e6e6e6");
            text(out, x + cell / 2, y + cell / 2 + 4,
                 share > 0.35 ? "text-anchor=\"middle\" fill=\"#ffffff\" "
                                "font-size=\"11\""
                              : "text-anchor=\"middle\" fill=\"#222222\" "
                                "font-size=\"11\"",
                 "%zu", count);
        }
        size_t diagonal = a < n ? data->confusion[rule][split][a][a] : 0;
        double accuracy = percent(diagonal, row_total);
        double bar = 60.0 * accuracy / 100.0;
        double x = left + n * cell + 12;
        report_buffer_printf(out,
                             "<rect class=\"row-accuracy\" data-class=\"%u\" "
                             "x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                             "height=\"%.1f\" fill=\"#9ec8e8\"/>\n",
                             a, x, y + 8, bar, cell - 16);
        text(out, x + 64, y + cell / 2 + 4, "font-size=\"11\"", "%.1f%%",
             accuracy);
    }
    text(out, left, top + n * cell + 22, "fill=\"#444444\" font-size=\"11\"",
         "%s",
         "cells: image counts (rows: true class, columns: predicted), "
         "shaded by share of the row");
    return svg_close(out);
}

/* ------------------------------------------------------------------------ */
/* The three rules                                                          */
/* ------------------------------------------------------------------------ */

int svg_rules_figure(report_buffer *out, const report_data *data)
{
    const double width = 760, height = 350;
    const double left = 190, right = 540, top = 62;
    const double bar = 20, group = 62;
    svg_open(out, width, height, "The three evaluation rules, train and test");
    title(out, data, "Accuracy under the three rules", width);
    /* Grid every 20%. */
    for (int p = 0; p <= 100; p += 20) {
        double x = left + (right - left) * p / 100.0;
        report_buffer_printf(out,
                             "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                             "y2=\"%.1f\" stroke=\"#dddddd\"/>\n",
                             x, top - 4, x, top + REPORT_RULES * group);
        text(out, x, top + REPORT_RULES * group + 16, "text-anchor=\"middle\"",
             "%d%%", p);
    }
    static const char *const explanation[REPORT_RULES] = {
        "reads the true label", "no label read: honest",
        "never looks at the image"};
    for (int r = 0; r < REPORT_RULES; r++) {
        double y = top + r * group;
        text(out, left - 10, y + bar - 4,
             "text-anchor=\"end\" font-weight=\"bold\"", "%s",
             report_rule_name((enum report_rule)r));
        text(out, left - 10, y + 2 * bar - 2,
             "text-anchor=\"end\" fill=\"#555555\" font-size=\"11\"", "%s",
             explanation[r]);
        for (int s = 0; s < REPORT_SPLITS; s++) {
            size_t correct = data->correct[r][s], total = data->total[s];
            double share = percent(correct, total);
            double by = y + s * (bar + 2);
            report_buffer_printf(
                out,
                "<rect class=\"bar\" data-rule=\"%d\" data-split=\"%s\" "
                "data-correct=\"%zu\" data-total=\"%zu\" x=\"%.1f\" "
                "y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n",
                r, report_split_name((enum report_split)s), correct, total,
                left, by, (right - left) * share / 100.0, bar,
                rule_colours[r][s]);
            text(out, right + 8, by + bar - 6, "font-size=\"11\"",
                 "%s %zu/%zu (%.2f%%)", s == REPORT_TRAIN ? "train" : "test",
                 correct, total, share);
        }
    }
    double y = top + REPORT_RULES * group + 44;
    text(out, 20, y, "font-weight=\"bold\" class=\"seed-rule-sentence\"", "%s",
         svg_seed_rule_sentence);
    text(out, 20, y + 20, "fill=\"#444444\"", "%s",
         "The own-label rule is what these models achieve as a classifier; "
         "the audit is the seed rule");
    text(out, 20, y + 36, "fill=\"#444444\"", "%s",
         "applied to f_k(x) = v_k, a predictor that ignores the image.");
    return svg_close(out);
}

/* ------------------------------------------------------------------------ */
/* Gallery of misclassified test images                                     */
/* ------------------------------------------------------------------------ */

/* A classifier tile's caption: both class names, both similarities. */
static void classifier_caption(report_buffer *out, const report_data *data,
                               const report_gallery_entry *entry, double x,
                               double y)
{
    char room[12];
    text(out, x, y,
         "text-anchor=\"middle\" font-size=\"11\" "
         "font-weight=\"bold\" class=\"true\"",
         "true %s", report_class_name(data, entry->truth, room, sizeof room));
    text(out, x, y + 13,
         "text-anchor=\"middle\" font-size=\"11\" font-weight=\"bold\" "
         "fill=\"#b22222\" class=\"said\"",
         "said %s",
         report_class_name(data, entry->predicted, room, sizeof room));
    text(out, x, y + 26,
         "text-anchor=\"middle\" font-size=\"10\" fill=\"#b22222\"",
         "s(said) = %.4f", (double)entry->predicted_similarity);
    text(out, x, y + 38,
         "text-anchor=\"middle\" font-size=\"10\" fill=\"#1f5f99\"",
         "s(true) = %.4f", (double)entry->true_similarity);
}

int svg_gallery_figure(report_buffer *out, const report_data *data)
{
    const int pipeline = data->kind == REPORT_PIPELINE;
    const unsigned columns = 8;
    /* The classifier's tiles name both classes on lines of their own:
     * wider for Fashion-MNIST's names, one line taller. */
    const double tile_w = pipeline ? 88 : 104, tile_h = pipeline ? 116 : 128;
    const double left = 12, top = 60, scale = 2;
    size_t count = data->gallery ? data->gallery_count : 0;
    size_t rows = (count + columns - 1) / columns;
    double width = left * 2 + columns * tile_w;
    double height = top + (rows ? rows : 1) * tile_h + 40;
    svg_open(out, width, height, "Misclassified test images");
    char heading[240];
    if (pipeline)
        snprintf(heading, sizeof heading,
                 "Misclassified test images, %s: %zu of %zu, lowest margin "
                 "first",
                 report_rule_name(data->gallery_rule), count,
                 data->gallery_errors);
    else
        snprintf(heading, sizeof heading,
                 "Misclassified test images: %zu of %zu, lowest margin first",
                 count, data->gallery_errors);
    title(out, data, heading, width);
    if (count == 0)
        text(out, width / 2, top + 40, "text-anchor=\"middle\"", "%s",
             "No misclassified images to show.");
    unsigned rows_px = data->image_rows, columns_px = data->image_columns;
    for (size_t i = 0; i < count; i++) {
        const report_gallery_entry *entry = &data->gallery[i];
        double x = left + (double)(i % columns) * tile_w;
        double y = top + (double)(i / columns) * tile_h;
        report_buffer_printf(out,
                             "<g class=\"miss\" data-index=\"%zu\" "
                             "data-true=\"%u\" data-predicted=\"%u\">\n",
                             entry->index, entry->truth, entry->predicted);
        report_buffer_printf(out,
                             "<image x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" "
                             "height=\"%.0f\" style=\"image-rendering:"
                             "pixelated\" xlink:href=\"",
                             x + (tile_w - columns_px * scale) / 2, y,
                             columns_px * scale, rows_px * scale);
        if (png_data_uri_gray(out, entry->pixels, columns_px, rows_px) != 0)
            return -1;
        report_buffer_puts(out, "\"/>\n");
        double ty = y + rows_px * scale + 14;
        if (!pipeline) {
            classifier_caption(out, data, entry, x + tile_w / 2, ty);
            report_buffer_puts(out, "</g>\n");
            continue;
        }
        text(out, x + tile_w / 2, ty,
             "text-anchor=\"middle\" font-size=\"11\" font-weight=\"bold\"",
             "true %u, said %u", entry->truth, entry->predicted);
        text(out, x + tile_w / 2, ty + 13,
             "text-anchor=\"middle\" font-size=\"10\" fill=\"#b22222\"",
             "s%u = %.4f", entry->predicted,
             (double)entry->predicted_similarity);
        text(out, x + tile_w / 2, ty + 25,
             "text-anchor=\"middle\" font-size=\"10\" fill=\"#1f5f99\"",
             "s%u = %.4f", entry->truth, (double)entry->true_similarity);
        report_buffer_puts(out, "</g>\n");
    }
    text(out, left, height - 14, "fill=\"#444444\" font-size=\"11\"", "%s",
         pipeline ? "s_k: cosine of model k's output with its own label "
                    "vector v_k; margin = s(said) - s(true)"
                  : "s: cosine of the network's output f(x) with the class's "
                    "label vector; margin = s(said) - s(true)");
    return svg_close(out);
}

/* ------------------------------------------------------------------------ */
/* Configuration table                                                      */
/* ------------------------------------------------------------------------ */

int svg_config_figure(report_buffer *out, const report_data *data)
{
    /* Wide enough for the longest value (about 7 px a character at the
     * default 12 px font), so a long layer list or path is not clipped. */
    size_t longest = 0;
    for (size_t i = 0; i < data->config_count; i++) {
        const char *value = data->config[i].value;
        size_t characters = 0;
        for (const char *c = value; *c; c++)
            characters += ((unsigned char)*c & 0xc0) != 0x80;
        if (characters > longest)
            longest = characters;
    }
    const double row = 22, top = 50;
    const double needed = 220 + 7.2 * (double)longest + 30;
    const double width = needed > 720 ? needed : 720;
    double height = top + row * (double)data->config_count + 20;
    svg_open(out, width, height, "Configuration of the run");
    text(out, width / 2, 22,
         "text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\"", "%s",
         "Configuration");
    for (size_t i = 0; i < data->config_count; i++) {
        double y = top + row * (double)i;
        if (i % 2 == 0)
            report_buffer_printf(out,
                                 "<rect x=\"20\" y=\"%.1f\" width=\"%.0f\" "
                                 "height=\"%.0f\" fill=\"#f2f2f2\"/>\n",
                                 y - 15, width - 40, row);
        text(out, 30, y, "font-weight=\"bold\"", "%s", data->config[i].key);
        text(out, 220, y, "", "%s", data->config[i].value);
    }
    return svg_close(out);
}
