/* cosnet-mnist --save and --load: a folder of ten model files
 * (digit-0.cosnet .. digit-9.cosnet) and the label set (labels.txt), written
 * and read by the library (each save atomic: see cosnet_model_save). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "file_writer.h"
#include "cosnet-mnist.h"

static char *join_path(const char *folder, const char *name)
{
    size_t length = strlen(folder) + 1 + strlen(name) + 1;
    char *path = malloc(length);
    if (path)
        snprintf(path, length, "%s/%s", folder, name);
    return path;
}

/* Creates the folder if missing, then checks that a file can be created
 * in it (a temporary file beside labels.txt, removed at once): a --save
 * that cannot succeed fails before the training, not after. */
int model_folder_check(const char *folder)
{
    if (mkdir(folder, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, PROGRAM ": --save: %s: cannot create the folder: %s\n",
                folder, strerror(errno));
        return EXIT_FAILURE;
    }
    struct stat info;
    if (stat(folder, &info) != 0 || !S_ISDIR(info.st_mode)) {
        fprintf(stderr, PROGRAM ": --save: %s: not a folder\n", folder);
        return EXIT_FAILURE;
    }
    char *path = join_path(folder, "labels.txt");
    if (!path)
        return out_of_memory("a file name");
    char message[FILE_WRITE_MESSAGE_SIZE];
    cosnet_status status =
        file_write_check_message(path, message, sizeof message);
    free(path);
    if (status != COSNET_OK) {
        fprintf(stderr, PROGRAM ": --save: %s\n", message);
        return EXIT_FAILURE;
    }
    return 0;
}

static void model_file_name(unsigned digit, char name[32])
{
    snprintf(name, 32, "digit-%u.cosnet", digit);
}

void model_folder_list(run_files *set, const char *option, const char *folder,
                       int written)
{
    run_files_add(set, option, folder, "labels.txt", written);
    for (unsigned k = 0; k < DIGITS; k++) {
        char name[32];
        model_file_name(k, name);
        run_files_add(set, option, folder, name, written);
    }
}

static int model_file(const char *folder, unsigned digit, char **path)
{
    char name[32];
    model_file_name(digit, name);
    *path = join_path(folder, name);
    if (!*path) {
        return out_of_memory("a file name");
    }
    return 0;
}

int save_models(const char *folder, cosnet_model *const *models,
                const cosnet_labels *labels)
{
    for (unsigned k = 0; k < DIGITS; k++) {
        char *path;
        if (model_file(folder, k, &path))
            return EXIT_FAILURE;
        cosnet_status status = cosnet_model_save(models[k], path);
        int result = status == COSNET_OK ? 0 : library_failure(path, status);
        free(path);
        if (result)
            return result;
    }
    char *path = join_path(folder, "labels.txt");
    if (!path) {
        return out_of_memory("a file name");
    }
    cosnet_status status = cosnet_labels_save(labels, path);
    int result = status == COSNET_OK ? 0 : library_failure(path, status);
    free(path);
    return result;
}

int load_models(const char *folder, cosnet_model **models,
                cosnet_labels **labels)
{
    for (unsigned k = 0; k < DIGITS; k++) {
        char *path;
        if (model_file(folder, k, &path))
            return EXIT_FAILURE;
        cosnet_status status = cosnet_model_load(path, &models[k]);
        int result = status == COSNET_OK ? 0 : library_failure(path, status);
        free(path);
        if (result)
            return result;
    }
    char *path = join_path(folder, "labels.txt");
    if (!path) {
        return out_of_memory("a file name");
    }
    cosnet_status status = cosnet_labels_load(path, labels);
    int result = status == COSNET_OK ? 0 : library_failure(path, status);
    if (!result && cosnet_labels_count(*labels) != DIGITS) {
        fprintf(stderr, PROGRAM ": %s: %zu label vectors, expected %d\n", path,
                cosnet_labels_count(*labels), DIGITS);
        result = EXIT_FAILURE;
    }
    free(path);
    return result;
}
