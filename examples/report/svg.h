/* The report's figures, drawn as SVG into a report_buffer.
 *
 * Each function appends one complete <svg> element (no XML declaration, so
 * it can sit inline in HTML; svg_document adds one for a standalone file).
 * They return 0, or -1 when memory or the PNG encoder failed. */
#ifndef COSNET_REPORT_SVG_H
#define COSNET_REPORT_SVG_H

#include "buffer.h"
#include "report_data.h"

/* Loss per class and epoch: log-scale y, one polyline per class, legend,
 * the run's configuration in the title. */
int svg_loss_figure(report_buffer *out, const report_data *data);

/* Confusion heatmap of one rule and split: counts in the cells (each cell a
 * <rect> with data-actual, data-predicted and data-count), colour by the
 * share of the row, per-class accuracy beside. */
int svg_confusion_figure(report_buffer *out, const report_data *data,
                         enum report_rule rule, enum report_split split);

/* The three rules side by side as bars, train and test, with the sentence
 * saying what the seed rule measures. */
int svg_rules_figure(report_buffer *out, const report_data *data);

/* The misclassified test images (data->gallery), each an embedded PNG with
 * the true and predicted class and both similarities. */
int svg_gallery_figure(report_buffer *out, const report_data *data);

/* The configuration table (data->config) as an SVG table. */
int svg_config_figure(report_buffer *out, const report_data *data);

/* The sentence the report always prints about the seed rule. */
extern const char svg_seed_rule_sentence[];

#endif /* COSNET_REPORT_SVG_H */
