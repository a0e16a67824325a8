/* Saves survive kill -9 at any moment.
 *
 * A child process saves a model (cosnet_model_save) and a label set
 * (cosnet_labels_save) in a loop, each save with new content; the parent
 * kills it with SIGKILL after a random delay, KILLS times. After every kill
 * each file must be absent (nothing saved yet), or load and be exactly one
 * of the versions the children wrote -- never a mix, never a truncation --
 * and temporary files must not pile up: at most one per target (the killed
 * save's own; the next save sweeps it). At the end a last save leaves none.
 *
 * Version k of the model has every parameter equal to k; version k of the
 * label set is the rows (k, 1, 2) and (k, 3, 4). The delays come from a
 * generator seeded from the clock, printed so that a failure can be
 * replayed with COSNET_CRASH_SEED=N. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cosnet.h"

enum { KILLS = 250, MAX_DELAY_US = 12000 };

static char folder[] = "/tmp/cosnet-test-crash-XXXXXX";
static char model_path[128], labels_path[128];

#define CHECK(condition, ...)                                                  \
    do {                                                                       \
        if (!(condition)) {                                                    \
            fprintf(stderr, "FAILED at kill %d: ", kill_number);               \
            fprintf(stderr, __VA_ARGS__);                                      \
            fprintf(stderr, "\n");                                             \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

static int kill_number;

static uint64_t next_random(uint64_t *state)
{
    /* splitmix64 */
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* The child: saves version first, first + 1, ... until killed. Versions
 * are unique across children (each starts a million above the last). */
static void save_forever(unsigned long first)
{
    cosnet_model *model = NULL;
    if (cosnet_model_create(COSNET_ARCHITECTURE_SEED, 1, &model) != COSNET_OK)
        _exit(2);
    size_t count = cosnet_model_parameter_count(model);
    float *values = malloc(count * sizeof *values);
    if (!values)
        _exit(2);
    for (unsigned long version = first;; version++) {
        for (size_t i = 0; i < count; i++)
            values[i] = (float)version;
        cosnet_labels *labels = NULL;
        const float rows[6] = {(float)version, 1, 2, (float)version, 3, 4};
        if (cosnet_model_set_parameters(model, values, count) != COSNET_OK ||
            cosnet_model_save(model, model_path) != COSNET_OK ||
            cosnet_labels_create(2, 3, rows, &labels) != COSNET_OK ||
            cosnet_labels_save(labels, labels_path) != COSNET_OK) {
            fprintf(stderr, "child: %s\n", cosnet_last_error());
            _exit(3);
        }
        cosnet_labels_free(labels);
    }
}

/* Number of temporary files of the target `name` in the folder. */
static int temporaries_of(const char *name)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, ".%s.cosnet-tmp.", name);
    DIR *directory = opendir(folder);
    CHECK(directory, "opendir %s: %s", folder, strerror(errno));
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL)
        if (strncmp(entry->d_name, prefix, strlen(prefix)) == 0)
            count++;
    closedir(directory);
    return count;
}

/* The version held by the model file, 0 if absent. */
static unsigned long model_version(void)
{
    if (access(model_path, F_OK) != 0)
        return 0;
    cosnet_model *model = NULL;
    cosnet_status status = cosnet_model_load(model_path, &model);
    CHECK(status == COSNET_OK, "model does not load: %s", cosnet_last_error());
    size_t count = cosnet_model_parameter_count(model);
    float values[2048];
    CHECK(count <= 2048, "%zu parameters", count);
    CHECK(cosnet_model_get_parameters(model, values, count) == COSNET_OK,
          "get parameters");
    cosnet_model_free(model);
    for (size_t i = 1; i < count; i++)
        CHECK(values[i] == values[0], "model mixes versions %g and %g",
              (double)values[0], (double)values[i]);
    CHECK(values[0] >= 1, "model version %g", (double)values[0]);
    return (unsigned long)values[0];
}

/* The version held by the label file, 0 if absent. */
static unsigned long labels_version(void)
{
    if (access(labels_path, F_OK) != 0)
        return 0;
    cosnet_labels *labels = NULL;
    cosnet_status status = cosnet_labels_load(labels_path, &labels);
    CHECK(status == COSNET_OK, "labels do not load: %s", cosnet_last_error());
    CHECK(cosnet_labels_count(labels) == 2 && cosnet_labels_dims(labels) == 3,
          "labels of %zu x %zu", cosnet_labels_count(labels),
          cosnet_labels_dims(labels));
    const float *a = cosnet_labels_vector(labels, 0);
    const float *b = cosnet_labels_vector(labels, 1);
    CHECK(a[0] == b[0] && a[1] == 1 && a[2] == 2 && b[1] == 3 && b[2] == 4,
          "labels are not one version: %g %g %g / %g %g %g", (double)a[0],
          (double)a[1], (double)a[2], (double)b[0], (double)b[1], (double)b[2]);
    unsigned long version = (unsigned long)a[0];
    cosnet_labels_free(labels);
    return version;
}

int main(void)
{
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    const char *given = getenv("COSNET_CRASH_SEED");
    if (given && *given)
        seed = strtoull(given, NULL, 10);
    printf("seed %llu (replay with COSNET_CRASH_SEED=%llu)\n",
           (unsigned long long)seed, (unsigned long long)seed);
    uint64_t random_state = seed;

    if (!mkdtemp(folder)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(model_path, sizeof model_path, "%s/model.cosnet", folder);
    snprintf(labels_path, sizeof labels_path, "%s/labels.txt", folder);
    /* Versions are floats: keep them exact (below 2^24). */
    const unsigned long stride = 16000;

    unsigned long last_model = 0, last_labels = 0;
    int present = 0, changed = 0, mid_save = 0;
    for (kill_number = 1; kill_number <= KILLS; kill_number++) {
        unsigned long first = (unsigned long)kill_number * stride;
        fflush(stdout);
        pid_t child = fork();
        CHECK(child >= 0, "fork: %s", strerror(errno));
        if (child == 0)
            save_forever(first);
        struct timespec delay = {
            0, (long)(next_random(&random_state) % MAX_DELAY_US) * 1000};
        nanosleep(&delay, NULL);
        CHECK(kill(child, SIGKILL) == 0, "kill: %s", strerror(errno));
        int status = 0;
        CHECK(waitpid(child, &status, 0) == child, "waitpid");
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
              "the child ended by itself (status 0x%x)", status);

        /* Files: absent, or whole versions of this child or an older one
         * (a child killed before its first save leaves the old one). */
        unsigned long model = model_version();
        unsigned long labels = labels_version();
        CHECK(model == 0 || (model >= stride && model < first + stride),
              "model version %lu from no child", model);
        CHECK(model >= last_model, "model went back from %lu to %lu",
              last_model, model);
        CHECK(labels >= last_labels, "labels went back from %lu to %lu",
              last_labels, labels);
        if (model && labels)
            present++;
        if (model != last_model)
            changed++;
        last_model = model;
        last_labels = labels;

        /* No pile-up: the killed save's own temporary at most. */
        int model_temps = temporaries_of("model.cosnet");
        int labels_temps = temporaries_of("labels.txt");
        CHECK(model_temps <= 1 && labels_temps <= 1,
              "%d model and %d label temporaries", model_temps, labels_temps);
        if (model_temps || labels_temps)
            mid_save++;
    }
    kill_number = 0;

    /* One more save from this process sweeps the dead children's. */
    cosnet_model *model = NULL;
    cosnet_labels *labels = NULL;
    CHECK(cosnet_model_create(COSNET_ARCHITECTURE_SEED, 2, &model) ==
                  COSNET_OK &&
              cosnet_model_save(model, model_path) == COSNET_OK &&
              cosnet_labels_builtin(&labels) == COSNET_OK &&
              cosnet_labels_save(labels, labels_path) == COSNET_OK,
          "final saves: %s", cosnet_last_error());
    cosnet_model_free(model);
    cosnet_labels_free(labels);
    CHECK(temporaries_of("model.cosnet") == 0 &&
              temporaries_of("labels.txt") == 0,
          "temporaries left after the final saves");

    printf("%d kills: files present after %d, model changed after %d, "
           "killed mid-save (temporary left) %d times\n",
           KILLS, present, changed, mid_save);
    /* The test must have exercised something: kills while saving, and
     * kills between saves. */
    CHECK(mid_save > 0 && changed > 0,
          "the kills never landed inside a save: raise MAX_DELAY_US?");
    unlink(model_path);
    unlink(labels_path);
    rmdir(folder);
    return 0;
}
