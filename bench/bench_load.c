/* Benchmark: loading all 70,000 MNIST images and labels (train + test) with
 * cosnet_dataset_open, from the raw IDX files and from gzip copies of the
 * same files (made here with zlib at level 6, gzip's default, in a temporary
 * folder that is removed afterwards).
 *
 * Usage: bench_load [MNIST_FOLDER [REPEATS]]
 *   MNIST_FOLDER  default $COSNET_DATA, else
 *                 ${XDG_CACHE_HOME:-$HOME/.cache}/cosnet/mnist
 *   REPEATS       timed loads of each form (default 7); the median is shown
 * Throughput is decompressed bytes (the four IDX files) per second, 1 MB =
 * 10^6 bytes. One untimed load of each form comes first, so the files are
 * in the page cache and the figures measure parsing and inflating, not the
 * disk. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "cosnet.h"

static const char *const file_names[4] = {
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* folder/name+suffix into out; -1 if it does not fit. */
static int join_path(char *out, size_t size, const char *folder,
                     const char *name, const char *suffix)
{
    int n = snprintf(out, size, "%s/%s%s", folder, name, suffix);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "bench_load: path too long: %s/%s%s\n", folder, name,
                suffix);
        return -1;
    }
    return 0;
}

static long file_size(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0 ? (long)info.st_size : -1;
}

/* Copies `source` into `destination` compressed with zlib at `level`. */
static int gzip_copy(const char *source, const char *destination, int level)
{
    FILE *in = fopen(source, "rb");
    if (!in) {
        fprintf(stderr, "bench_load: cannot open %s: %s\n", source,
                strerror(errno));
        return -1;
    }
    char mode[8];
    snprintf(mode, sizeof mode, "wb%d", level);
    gzFile out = gzopen(destination, mode);
    if (!out) {
        fprintf(stderr, "bench_load: cannot create %s\n", destination);
        fclose(in);
        return -1;
    }
    static unsigned char chunk[1 << 16];
    size_t got;
    int failed = 0;
    while (!failed && (got = fread(chunk, 1, sizeof chunk, in)) > 0)
        failed = gzwrite(out, chunk, (unsigned)got) != (int)got;
    failed |= ferror(in) != 0;
    failed |= gzclose(out) != Z_OK;
    fclose(in);
    if (failed)
        fprintf(stderr, "bench_load: cannot write %s\n", destination);
    return failed ? -1 : 0;
}

/* Opens train and test from `folder` with the given file suffix; returns
 * the seconds taken, or a negative number on failure. */
static double load_all(const char *folder, const char *suffix,
                       size_t *images_loaded)
{
    char paths[4][4096];
    for (int i = 0; i < 4; i++)
        if (join_path(paths[i], sizeof paths[i], folder, file_names[i],
                      suffix) != 0)
            return -1.0;
    double start = now_seconds();
    cosnet_dataset *train = NULL, *test = NULL;
    cosnet_status status = cosnet_dataset_open(paths[0], paths[1], 10, &train);
    if (status == COSNET_OK)
        status = cosnet_dataset_open(paths[2], paths[3], 10, &test);
    double elapsed = now_seconds() - start;
    if (status != COSNET_OK) {
        fprintf(stderr, "bench_load: %s: %s\n", cosnet_strerror(status),
                cosnet_last_error());
        cosnet_dataset_free(train);
        return -1.0;
    }
    *images_loaded = cosnet_dataset_count(train) + cosnet_dataset_count(test);
    cosnet_dataset_free(train);
    cosnet_dataset_free(test);
    return elapsed;
}

/* Times `repeats` loads after one warm-up; prints and returns the median. */
static double time_form(const char *label, const char *folder,
                        const char *suffix, int repeats, double bytes,
                        double *samples)
{
    size_t images = 0;
    if (load_all(folder, suffix, &images) < 0)
        return -1.0;
    for (int r = 0; r < repeats; r++) {
        samples[r] = load_all(folder, suffix, &images);
        if (samples[r] < 0)
            return -1.0;
    }
    qsort(samples, (size_t)repeats, sizeof *samples, compare_doubles);
    double median =
        repeats % 2 ? samples[repeats / 2]
                    : 0.5 * (samples[repeats / 2 - 1] + samples[repeats / 2]);
    printf("%-5s %zu images: median %.4f s (min %.4f, max %.4f) over %d "
           "loads, %.0f MB/s decompressed, %.0f images/s\n",
           label, images, median, samples[0], samples[repeats - 1], repeats,
           bytes / median / 1e6, (double)images / median);
    return median;
}

int main(int argc, char **argv)
{
    char default_folder[4096];
    const char *folder = argc > 1 ? argv[1] : getenv("COSNET_DATA");
    if (!folder || !folder[0]) {
        const char *cache = getenv("XDG_CACHE_HOME");
        const char *home = getenv("HOME");
        if (cache && cache[0])
            snprintf(default_folder, sizeof default_folder, "%s/cosnet/mnist",
                     cache);
        else
            snprintf(default_folder, sizeof default_folder,
                     "%s/.cache/cosnet/mnist", home ? home : ".");
        folder = default_folder;
    }
    int repeats = argc > 2 ? atoi(argv[2]) : 7;
    if (repeats < 1 || repeats > 1000) {
        fprintf(stderr, "usage: %s [MNIST_FOLDER [REPEATS 1..1000]]\n",
                argv[0]);
        return 2;
    }

    double raw_bytes = 0, gzip_bytes = 0;
    for (int i = 0; i < 4; i++) {
        char path[4096];
        if (join_path(path, sizeof path, folder, file_names[i], "") != 0)
            return 1;
        long size = file_size(path);
        if (size < 0) {
            fprintf(stderr,
                    "bench_load: %s missing; run scripts/fetch-mnist.sh\n",
                    path);
            return 1;
        }
        raw_bytes += (double)size;
    }

    char gzip_folder[] = "/tmp/cosnet-bench-load-XXXXXX";
    if (!mkdtemp(gzip_folder)) {
        fprintf(stderr, "bench_load: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    int failed = 0;
    char gzip_paths[4][128];
    for (int i = 0; i < 4; i++) {
        char source[4096];
        /* Both fit: the source was joined above, the folder is short. */
        join_path(source, sizeof source, folder, file_names[i], "");
        join_path(gzip_paths[i], sizeof gzip_paths[i], gzip_folder,
                  file_names[i], ".gz");
        if (!failed)
            failed = gzip_copy(source, gzip_paths[i], 6) != 0;
        long size = file_size(gzip_paths[i]);
        gzip_bytes += size > 0 ? (double)size : 0;
    }

    double *samples = malloc((size_t)repeats * sizeof *samples);
    if (!samples)
        failed = 1;
    if (!failed) {
        printf("bench_load: libcosnet %s, MNIST from %s (%.1f MB raw; gzip "
               "level 6 copies %.1f MB)\n",
               cosnet_version(), folder, raw_bytes / 1e6, gzip_bytes / 1e6);
        double raw = time_form("raw", folder, "", repeats, raw_bytes, samples);
        double gz =
            time_form("gzip", gzip_folder, ".gz", repeats, raw_bytes, samples);
        if (raw < 0 || gz < 0)
            failed = 1;
        else
            printf("gzip / raw time: %.2fx\n", gz / raw);
        printf("reproduce: %s %s %d\n", argv[0], folder, repeats);
    }
    free(samples);
    for (int i = 0; i < 4; i++)
        unlink(gzip_paths[i]);
    rmdir(gzip_folder);
    return failed ? 1 : 0;
}
