/* See fuzz_common.h. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"

enum { SCRATCH_FILES = 4 };

static char scratch_folder[256];
static char scratch_paths[SCRATCH_FILES][300];

static void remove_scratch(void)
{
    for (int i = 0; i < SCRATCH_FILES; i++)
        if (scratch_paths[i][0])
            unlink(scratch_paths[i]);
    if (scratch_folder[0])
        rmdir(scratch_folder);
}

const char *fuzz_scratch_path(int index)
{
    if (index < 0 || index >= SCRATCH_FILES)
        abort();
    if (!scratch_folder[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                           : getenv("TMPDIR")            ? getenv("TMPDIR")
                                                         : "/tmp";
        snprintf(scratch_folder, sizeof scratch_folder, "%s/cosnet-fuzz-XXXXXX",
                 base);
        if (!mkdtemp(scratch_folder)) {
            perror("mkdtemp");
            abort();
        }
        for (int i = 0; i < SCRATCH_FILES; i++)
            snprintf(scratch_paths[i], sizeof scratch_paths[i], "%s/file%d",
                     scratch_folder, i);
        atexit(remove_scratch);
    }
    return scratch_paths[index];
}

const char *fuzz_write_file(int index, const void *bytes, size_t size)
{
    const char *path = fuzz_scratch_path(index);
    int descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (descriptor < 0) {
        perror(path);
        abort();
    }
    const uint8_t *at = bytes;
    while (size > 0) {
        ssize_t n = write(descriptor, at, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            perror(path);
            abort();
        }
        at += n;
        size -= (size_t)n;
    }
    close(descriptor);
    return path;
}

void fuzz_fail(const char *what, cosnet_status status)
{
    fprintf(stderr, "fuzz finding: %s (status %d, %s): %s\n", what, (int)status,
            cosnet_strerror(status), cosnet_last_error());
    abort();
}

void fuzz_check_failure(const char *what, cosnet_status status)
{
    if (status == COSNET_OK)
        return;
    /* COSNET_FUZZ_VERBOSE=1 prints every rejection: the replay of the seed
     * corpus then lists real messages for docs/reliability.md. */
    const char *verbose = getenv("COSNET_FUZZ_VERBOSE");
    if (verbose && verbose[0] == '1')
        printf("%s: %s: %s\n", what, cosnet_strerror(status),
               cosnet_last_error());
    if (strcmp(cosnet_strerror(status), "unknown status") == 0)
        fuzz_fail(what, status);
    if (cosnet_last_error()[0] == '\0')
        fuzz_fail(what, status);
}

void fuzz_use_model(const cosnet_model *model)
{
    size_t channels = cosnet_model_input_channels(model);
    size_t rows = cosnet_model_input_rows(model);
    size_t columns = cosnet_model_input_columns(model);
    size_t dims = cosnet_model_output_dims(model);
    if (channels == 0 || rows == 0 || columns == 0 || dims == 0)
        fuzz_fail("model with an empty shape", COSNET_OK);
    /* Format-2 files describe any network the validator accepts; predict
     * on the ones small enough to run quickly. */
    if (channels * rows * columns > 65536 || dims > 65536 ||
        cosnet_model_parameter_count(model) > (1u << 20))
        return;
    const size_t input = channels * rows * columns;
    float *image = malloc(input * sizeof *image);
    float *outputs = malloc(dims * sizeof *outputs);
    if (!image || !outputs)
        abort();
    for (size_t i = 0; i < input; i++)
        image[i] = (float)((i * 37) % 256) / 255.0f;
    /* Finite but huge parameters (the format allows any finite float) may
     * overflow to infinity, which predict reports as NOT_FINITE; with every
     * parameter at most 1000 in magnitude the outputs of these small
     * networks stay finite, and predict must succeed. */
    size_t count = cosnet_model_parameter_count(model);
    float *parameters = malloc((count ? count : 1) * sizeof *parameters);
    if (!parameters)
        abort();
    cosnet_status status =
        cosnet_model_get_parameters(model, parameters, count);
    if (status != COSNET_OK)
        fuzz_fail("cosnet_model_get_parameters", status);
    float largest = 0.0f;
    for (size_t i = 0; i < count; i++)
        if (fabsf(parameters[i]) > largest)
            largest = fabsf(parameters[i]);
    free(parameters);
    status = cosnet_model_predict(model, image, 1, outputs);
    if (status == COSNET_ERROR_NOT_FINITE && largest > 1000.0f)
        fuzz_check_failure("cosnet_model_predict (overflow)", status);
    else if (status != COSNET_OK)
        fuzz_fail("cosnet_model_predict on a loaded model", status);
    free(image);
    free(outputs);
}
