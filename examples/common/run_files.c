/* run_files.h: which files a run touches, and whether two are one. */
/* realpath is an X/Open function. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif

#include "run_files.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "command_line.h"
#include "data_folder.h"
#include "html_report.h"

void run_files_add(run_files *set, const char *option, const char *folder,
                   const char *name, int written)
{
    if (set->count == RUN_FILES_MAX) {
        set->failed = 1;
        return;
    }
    size_t length = (folder ? strlen(folder) + 1 : 0) + strlen(name) + 1;
    char *path = malloc(length);
    if (!path) {
        set->failed = 1;
        return;
    }
    if (folder)
        snprintf(path, length, "%s/%s", folder, name);
    else
        snprintf(path, length, "%s", name);
    set->files[set->count++] = (run_file){option, path, written};
}

void run_files_add_report(run_files *set, const char *report_path,
                          const char *svg_dir)
{
    if (report_path)
        run_files_add(set, "--report", NULL, report_path, 1);
    for (size_t i = 0; svg_dir && html_report_figure_name(i); i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.svg", html_report_figure_name(i));
        run_files_add(set, "--svg", svg_dir, name, 1);
    }
}

void run_files_add_mnist(run_files *set, const char *folder)
{
    static const char *const names[] = {
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *path = data_file(folder, names[i]);
        if (!path)
            set->failed = 1;
        else
            run_files_add(set, "--data", NULL, path, 0);
        free(path);
    }
}

/* The path with its longest existing leading part resolved by realpath
 * (symbolic links followed, as the file writer follows them) and the rest
 * appended as written: a file inside a folder the run has yet to create
 * still compares equal to the same name given another way. malloc'd. */
static char *canonical(const char *path)
{
    char *resolved = realpath(path, NULL);
    if (resolved)
        return resolved;
    const char *slash = strrchr(path, '/');
    char *parent;
    if (!slash)
        parent = realpath(".", NULL);
    else if (slash == path)
        parent = strdup("/");
    else {
        char *head = strndup(path, (size_t)(slash - path));
        parent = head ? canonical(head) : NULL;
        free(head);
    }
    if (!parent)
        return NULL;
    const char *name = slash ? slash + 1 : path;
    size_t length = strlen(parent) + 1 + strlen(name) + 1;
    char *joined = malloc(length);
    if (joined)
        snprintf(joined, length, "%s%s%s", parent,
                 parent[strlen(parent) - 1] == '/' ? "" : "/", name);
    free(parent);
    return joined;
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char *ca = canonical(a), *cb = canonical(b);
    int same = ca && cb ? strcmp(ca, cb) == 0 : strcmp(a, b) == 0;
    free(ca);
    free(cb);
    return same;
}

int run_files_check(const run_files *set, const char *program)
{
    if (set->failed) {
        fprintf(stderr, "%s: out of memory listing the run's files\n", program);
        return 1;
    }
    for (size_t i = 0; i < set->count; i++)
        for (size_t j = i + 1; j < set->count; j++) {
            const run_file *a = &set->files[i], *b = &set->files[j];
            if (strcmp(a->option, b->option) == 0 ||
                !(a->written || b->written) || !same_file(a->path, b->path))
                continue;
            return command_line_usage_error(
                program, "%s %s and %s %s are the same file", a->option,
                a->path, b->option, b->path);
        }
    return 0;
}

void run_files_free(run_files *set)
{
    for (size_t i = 0; i < set->count; i++)
        free(set->files[i].path);
    set->count = 0;
}

int run_files_is_standard_output(const char *path)
{
    struct stat named, out;
    return stat(path, &named) == 0 && fstat(STDOUT_FILENO, &out) == 0 &&
           (S_ISREG(out.st_mode) || S_ISFIFO(out.st_mode)) &&
           named.st_dev == out.st_dev && named.st_ino == out.st_ino;
}
