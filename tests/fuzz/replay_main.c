/* A main for the fuzz targets without libFuzzer: runs every file named on
 * the command line, or every file in a named folder, through
 * LLVMFuzzerTestOneInput once. This is how the committed corpora (seeds and
 * every reproducer of a past finding) run as ordinary tests in every build,
 * gcc included. Prints how many inputs ran. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

static int run_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        perror(path);
        return 0;
    }
    size_t capacity = 4096, size = 0;
    unsigned char *bytes = malloc(capacity);
    if (!bytes)
        abort();
    size_t got;
    while ((got = fread(bytes + size, 1, capacity - size, file)) > 0) {
        size += got;
        if (size == capacity) {
            capacity *= 2;
            bytes = realloc(bytes, capacity);
            if (!bytes)
                abort();
        }
    }
    fclose(file);
    const char *verbose = getenv("COSNET_FUZZ_VERBOSE");
    if (verbose && verbose[0] == '1')
        printf("%s (%zu bytes)\n", path, size);
    LLVMFuzzerTestOneInput(bytes, size);
    free(bytes);
    return 1;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_folder(const char *folder)
{
    DIR *directory = opendir(folder);
    if (!directory) {
        perror(folder);
        return -1;
    }
    char **names = NULL;
    size_t count = 0;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        names = realloc(names, (count + 1) * sizeof *names);
        if (!names)
            abort();
        names[count++] = strdup(entry->d_name);
    }
    closedir(directory);
    /* A fixed order, so a failure reproduces the same way. */
    qsort(names, count, sizeof *names, compare_names);
    int ran = 0;
    for (size_t i = 0; i < count; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", folder, names[i]);
        ran += run_file(path);
        free(names[i]);
    }
    free(names);
    return ran;
}

int main(int argc, char **argv)
{
    int ran = 0;
    for (int i = 1; i < argc; i++) {
        struct stat info;
        if (stat(argv[i], &info) != 0) {
            perror(argv[i]);
            return 1;
        }
        int n = S_ISDIR(info.st_mode) ? run_folder(argv[i]) : run_file(argv[i]);
        if (n <= 0) {
            fprintf(stderr, "%s: no input ran\n", argv[i]);
            return 1;
        }
        ran += n;
    }
    printf("%d inputs ran without a finding\n", ran);
    return ran > 0 ? 0 : 1;
}
