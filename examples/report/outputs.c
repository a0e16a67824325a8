/* report_outputs_check and _write (outputs.h). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "outputs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "file_writer.h"
#include "html_report.h"

/* Creates svg_dir if missing and checks that a figure can be written in
 * it. Returns 0, or EXIT_FAILURE after printing. */
static int report_svg_dir_check(const char *program, const char *svg_dir)
{
    char message[FILE_WRITE_MESSAGE_SIZE];
    if (mkdir(svg_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: --svg: cannot create %s: %s\n", program, svg_dir,
                strerror(errno));
        return EXIT_FAILURE;
    }
    /* Every figure set has a loss.svg: probe with its name. */
    size_t length = strlen(svg_dir) + 16;
    char *probe = malloc(length);
    if (!probe) {
        fprintf(stderr, "%s: out of memory for a file name\n", program);
        return EXIT_FAILURE;
    }
    snprintf(probe, length, "%s/loss.svg", svg_dir);
    int failed =
        file_write_check_message(probe, message, sizeof message) != COSNET_OK;
    free(probe);
    if (failed) {
        fprintf(stderr, "%s: --svg: %s\n", program, message);
        return EXIT_FAILURE;
    }
    return 0;
}

int report_outputs_check(const char *program, const char *report_path,
                         const char *svg_dir)
{
    char message[FILE_WRITE_MESSAGE_SIZE];
    /* The --svg folder first: --report may name a file inside it. */
    if (svg_dir && report_svg_dir_check(program, svg_dir) != 0)
        return EXIT_FAILURE;
    if (report_path && file_write_check_message(report_path, message,
                                                sizeof message) != COSNET_OK) {
        fprintf(stderr, "%s: --report: %s\n", program, message);
        return EXIT_FAILURE;
    }
    return 0;
}

int report_outputs_write(const char *program, const report_data *data,
                         const char *report_path, const char *svg_dir)
{
    char message[FILE_WRITE_MESSAGE_SIZE];
    if (report_path &&
        html_report_write(data, report_path, message, sizeof message) != 0) {
        fprintf(stderr, "%s: --report: %s\n", program, message);
        return EXIT_FAILURE;
    }
    if (svg_dir && html_report_write_svg_dir(data, svg_dir, message,
                                             sizeof message) != 0) {
        fprintf(stderr, "%s: --svg: %s\n", program, message);
        return EXIT_FAILURE;
    }
    return 0;
}
