/* A program outside libcosnet, linked the cmake way (scripts/check-install.sh
 * builds it): the version it was compiled against must be the one it loads,
 * and a label set is created and freed. */
#include <cosnet.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    if (strcmp(cosnet_version(), COSNET_VERSION_STRING) != 0) {
        fprintf(stderr, "compiled against %s, loaded %s\n",
                COSNET_VERSION_STRING, cosnet_version());
        return 1;
    }
    cosnet_labels *labels = NULL;
    cosnet_status status = cosnet_labels_builtin(&labels);
    if (status != COSNET_OK) {
        fprintf(stderr, "cosnet_labels_builtin: %s: %s\n",
                cosnet_strerror(status), cosnet_last_error());
        return 1;
    }
    printf(
        "cmake consumer: libcosnet %s, %zu label vectors of %zu dimensions\n",
        cosnet_version(), cosnet_labels_count(labels),
        cosnet_labels_dims(labels));
    cosnet_labels_free(labels);
    return 0;
}
