/* Finding the MNIST files: see data_folder.h. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data_folder.h"

static char *join(const char *first, const char *second, const char *third)
{
    size_t length = strlen(first) + strlen(second) + strlen(third) + 1;
    char *text = malloc(length);
    if (text)
        snprintf(text, length, "%s%s%s", first, second, third);
    return text;
}

char *data_folder(const char *given)
{
    if (given)
        return join(given, "", "");
    const char *data = getenv("COSNET_DATA");
    if (data && *data)
        return join(data, "", "");
    const char *cache = getenv("XDG_CACHE_HOME");
    if (cache && *cache)
        return join(cache, "/cosnet/mnist", "");
    const char *home = getenv("HOME");
    if (home && *home)
        return join(home, "/.cache/cosnet/mnist", "");
    return NULL;
}

char *data_file(const char *folder, const char *name)
{
    char *raw = join(folder, "/", name);
    if (!raw || access(raw, F_OK) == 0)
        return raw;
    char *compressed = join(raw, ".gz", "");
    if (compressed && access(compressed, F_OK) == 0) {
        free(raw);
        return compressed;
    }
    free(compressed);
    return raw;
}

cosnet_status data_open(const char *folder, const char *split,
                        unsigned class_count, cosnet_dataset **out)
{
    char *images_name = join(split, "-images-idx3-ubyte", "");
    char *labels_name = join(split, "-labels-idx1-ubyte", "");
    char *images = images_name ? data_file(folder, images_name) : NULL;
    char *labels = labels_name ? data_file(folder, labels_name) : NULL;
    cosnet_status status = COSNET_ERROR_OUT_OF_MEMORY;
    if (images && labels)
        status = cosnet_dataset_open(images, labels, class_count, out);
    free(images_name);
    free(labels_name);
    free(images);
    free(labels);
    return status;
}

void data_missing_hint(FILE *out, const char *program, const char *folder)
{
    char *images = data_file(folder, "train-images-idx3-ubyte");
    int missing = images && access(images, F_OK) != 0;
    free(images);
    if (!missing)
        return;
    fprintf(out,
            "%s: no MNIST files in %s\n"
            "%s: fetch them with scripts/fetch-mnist.sh (from the source "
            "tree), or point\n"
            "%s: COSNET_DATA or --data at a folder holding "
            "train-images-idx3-ubyte,\n"
            "%s: train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
            "t10k-labels-idx1-ubyte\n",
            program, folder, program, program, program);
}
