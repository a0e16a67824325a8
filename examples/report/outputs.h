/* A program's --report FILE.html and --svg DIR: checked before any long
 * work, written after it, with the messages the programs print. */
#ifndef COSNET_REPORT_OUTPUTS_H
#define COSNET_REPORT_OUTPUTS_H

#include "report_data.h"

/* Checks that report_path (may be NULL) can be written and that svg_dir
 * (may be NULL) exists or can be created and a file written in it.
 * Returns 0, or EXIT_FAILURE after printing "PROGRAM: --report: why" or
 * "PROGRAM: --svg: why" to stderr. */
int report_outputs_check(const char *program, const char *report_path,
                         const char *svg_dir);

/* Writes the HTML report to report_path and the figures into svg_dir
 * (either may be NULL). Returns 0, or EXIT_FAILURE after printing. */
int report_outputs_write(const char *program, const report_data *data,
                         const char *report_path, const char *svg_dir);

#endif
