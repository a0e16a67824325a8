/* Linked statically against libcosnet.a by scripts/check-install.sh. It
 * defines its own error_set and kernels_active, names the library uses
 * inside: the archive must keep those local, so this program links, the
 * library's calls reach the library's functions and this program's calls
 * reach its own. */
#include <cosnet.h>
#include <stdio.h>

static int own_error_calls;

/* Deliberately unlike the library's internal functions of these names. */
int error_set(int code)
{
    own_error_calls++;
    return code + 1;
}
double kernels_active = 42.0;

int main(void)
{
    /* A computing call: the library looks up its kernel table. */
    cosnet_model *model = NULL;
    cosnet_status status =
        cosnet_model_create(COSNET_ARCHITECTURE_SEED, 1, &model);
    if (status != COSNET_OK) {
        fprintf(stderr, "cosnet_model_create: %s\n", cosnet_last_error());
        return 1;
    }
    float image[28 * 28] = {0}, output[25];
    status = cosnet_model_predict(model, image, 1, output);
    cosnet_model_free(model);
    if (status != COSNET_OK) {
        fprintf(stderr, "cosnet_model_predict: %s\n", cosnet_last_error());
        return 1;
    }
    /* A failing call: the library records its message. */
    cosnet_dataset *dataset = NULL;
    status = cosnet_dataset_open("/nonexistent/images", "/nonexistent/labels",
                                 10, &dataset);
    if (status != COSNET_ERROR_IO || cosnet_last_error()[0] == '\0') {
        fprintf(stderr, "expected an IO error with a message, got %s\n",
                cosnet_strerror(status));
        return 1;
    }
    if (error_set(1) != 2 || own_error_calls != 1 || kernels_active != 42.0) {
        fprintf(stderr,
                "the program's own error_set/kernels_active were disturbed\n");
        return 1;
    }
    const char *isa = "?";
    cosnet_isa(&isa);
    printf("static consumer: libcosnet %s (%s kernels) beside the program's own"
           " error_set and kernels_active\n",
           cosnet_version(), isa);
    return 0;
}
