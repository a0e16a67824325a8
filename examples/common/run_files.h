/* The files a program's run reads and writes, named by its options, checked
 * before any long work so that one never overwrites another: `--save X
 * --json X`, or a --json inside the --save folder under one of its names,
 * would otherwise lose a result (or an input) silently. */
#ifndef COSNET_EXAMPLES_RUN_FILES_H
#define COSNET_EXAMPLES_RUN_FILES_H

#include <stddef.h>

#define RUN_FILES_MAX 48

typedef struct run_file {
    const char *option; /* "--json", "--save", ... (borrowed) */
    char *path;         /* owned */
    int written;        /* 1: the run writes it; 0: it reads it */
} run_file;

typedef struct run_files {
    run_file files[RUN_FILES_MAX];
    size_t count;
    int failed; /* out of memory or out of room: run_files_check says so */
} run_files;

/* Adds `folder`/`name`, or `name` alone when folder is NULL. `option` must
 * outlive the set. */
void run_files_add(run_files *set, const char *option, const char *folder,
                   const char *name, int written);

/* Adds --report FILE and every figure --svg DIR may hold (either may be
 * NULL) as outputs. */
void run_files_add_report(run_files *set, const char *report_path,
                          const char *svg_dir);

/* Adds the four MNIST files of `folder` as --data inputs, each NAME or
 * NAME.gz as data_folder.h finds them. */
void run_files_add_mnist(run_files *set, const char *folder);

/* Whether two files named by different options are one file (the same
 * inode when both exist; else the same canonical folder and name) and at
 * least one of them is written. Returns 0, or COMMAND_LINE_EXIT_USAGE
 * after "PROGRAM: --a A and --b B are the same file" on stderr; 1 after a
 * message when the set could not be built. */
int run_files_check(const run_files *set, const char *program);

void run_files_free(run_files *set);

/* Whether `path` is the program's standard output itself, as a regular
 * file or a pipe (e.g. /dev/stdout redirected to a file): writing it by
 * renaming a new file over it would lose what else goes to stdout. */
int run_files_is_standard_output(const char *path);

#endif
