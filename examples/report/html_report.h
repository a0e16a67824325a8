/* The self-contained HTML report (inline CSS, inline SVG figures, images as
 * data: URIs; no external resource) and the same figures as .svg files. */
#ifndef COSNET_REPORT_HTML_REPORT_H
#define COSNET_REPORT_HTML_REPORT_H

#include "buffer.h"
#include "report_data.h"

/* Appends the whole HTML document to `out`. Returns 0 or -1 (memory). */
int html_report_build(report_buffer *out, const report_data *data);

/* Builds the report and writes it to `path` (report_buffer_write_file).
 * Returns 0, or -1 with a description in `message` (message_size bytes). */
int html_report_write(const report_data *data, const char *path, char *message,
                      size_t message_size);

/* Writes every figure the report shows as DIR/NAME.svg (DIR created if
 * missing). The pipeline's: loss.svg, rules.svg,
 * confusion-own-label-test.svg, confusion-own-label-train.svg,
 * confusion-seed-test.svg, confusion-seed-train.svg, gallery.svg,
 * config.svg. The classifier's: loss.svg, confusion-test.svg (and
 * confusion-train.svg when the train set was evaluated), gallery.svg,
 * config.svg. Returns 0, or -1 with a description in `message`. */
int html_report_write_svg_dir(const report_data *data, const char *dir,
                              char *message, size_t message_size);

/* The name (without ".svg") of figure `index` of either kind, NULL past the
 * last: every file html_report_write_svg_dir may write. */
const char *html_report_figure_name(size_t index);

#endif /* COSNET_REPORT_HTML_REPORT_H */
