/* The self-contained HTML report (inline CSS, inline SVG figures, images as
 * data: URIs; no external resource) and the same figures as .svg files. */
#ifndef COSNET_REPORT_HTML_REPORT_H
#define COSNET_REPORT_HTML_REPORT_H

#include "buffer.h"
#include "report_data.h"

/* Appends the whole HTML document to `out`. Returns 0 or -1 (memory). */
int html_report_build(report_buffer *out, const report_data *data);

/* Builds the report and writes it to `path` (temporary file, renamed).
 * Returns 0, or -1 with errno set. */
int html_report_write(const report_data *data, const char *path);

/* Writes every figure the report shows as DIR/NAME.svg (DIR created if
 * missing). The pipeline's: loss.svg, rules.svg,
 * confusion-own-label-test.svg, confusion-own-label-train.svg,
 * confusion-seed-test.svg, confusion-seed-train.svg, gallery.svg,
 * config.svg. The classifier's: loss.svg, confusion-test.svg (and
 * confusion-train.svg when the train set was evaluated), gallery.svg,
 * config.svg. Returns 0, or -1 with errno set. */
int html_report_write_svg_dir(const report_data *data, const char *dir);

#endif /* COSNET_REPORT_HTML_REPORT_H */
