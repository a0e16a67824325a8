/*
 * cosnet.h -- the one public header of libcosnet.
 *
 * libcosnet trains and runs small convolutional networks that map an image to
 * a vector and classify it by cosine similarity to fixed label vectors.
 *
 * Conventions that hold for every function below unless its comment says
 * otherwise:
 *   - A fallible call returns a cosnet_status; COSNET_OK (0) is success.
 *     On failure, cosnet_last_error() on the same thread returns a message
 *     naming the file, offset or value at fault, and every output pointer is
 *     left untouched (a handle output stays as the caller set it).
 *   - Handles are opaque. Each *_create / *_open / *_load has a *_free;
 *     *_free(NULL) is a no-op. A handle returned through an output pointer
 *     belongs to the caller, who frees it.
 *   - Pointers passed in are borrowed for the duration of the call only,
 *     unless stated otherwise. Passing NULL where a pointer is required
 *     returns COSNET_ERROR_INVALID_ARGUMENT.
 *   - Distinct handles may be used from distinct threads at once. A model or
 *     label set may be read (predict, evaluate, save) by many threads at once
 *     while nothing modifies it.
 *
 * The header is C99-clean and may be included from C++.
 */
#ifndef COSNET_H
#define COSNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#if defined(COSNET_BUILDING_LIBRARY)
#define COSNET_API __declspec(dllexport)
#else
#define COSNET_API
#endif
#elif defined(__GNUC__) || defined(__clang__)
#define COSNET_API __attribute__((visibility("default")))
#else
#define COSNET_API
#endif

/* ------------------------------------------------------------------------ */
/* Version                                                                  */
/* ------------------------------------------------------------------------ */

#define COSNET_VERSION_MAJOR 0
#define COSNET_VERSION_MINOR 2
#define COSNET_VERSION_PATCH 0
#define COSNET_VERSION_STRING "0.2.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH, for compile-time comparisons. */
#define COSNET_VERSION_NUMBER                                                  \
    (COSNET_VERSION_MAJOR * 10000 + COSNET_VERSION_MINOR * 100 +               \
     COSNET_VERSION_PATCH)

/* The version of the library actually loaded, as "MAJOR.MINOR.PATCH".
 * Static storage; never NULL. */
COSNET_API const char *cosnet_version(void);

/* COSNET_VERSION_NUMBER of the library actually loaded. */
COSNET_API unsigned cosnet_version_number(void);

/* ------------------------------------------------------------------------ */
/* Status codes and error messages                                          */
/* ------------------------------------------------------------------------ */

/* Values are part of the ABI: new codes are only ever appended. */
typedef enum cosnet_status {
    COSNET_OK = 0,
    COSNET_ERROR_INVALID_ARGUMENT = 1, /* NULL, zero or out-of-range argument */
    COSNET_ERROR_OUT_OF_MEMORY = 2,
    COSNET_ERROR_IO = 3,           /* a file could not be opened/read/written */
    COSNET_ERROR_BAD_MAGIC = 4,    /* a file is not of the expected kind */
    COSNET_ERROR_BAD_FORMAT = 5,   /* well-typed file with invalid content */
    COSNET_ERROR_TRUNCATED = 6,    /* a file ends before its header says */
    COSNET_ERROR_MISMATCH = 7,     /* sizes/counts that must agree do not */
    COSNET_ERROR_OUT_OF_RANGE = 8, /* a value outside its allowed range */
    COSNET_ERROR_OVERFLOW = 9,     /* declared sizes overflow size_t */
    COSNET_ERROR_CORRUPT = 10,     /* corrupt gzip stream or CRC mismatch */
    COSNET_ERROR_VERSION = 11,     /* a file version this library can't read */
    COSNET_ERROR_NOT_ENOUGH_DATA = 12, /* fewer items than requested */
    COSNET_ERROR_NOT_FINITE = 13,      /* NaN or infinity in data or training */
    COSNET_ERROR_GAVE_UP = 14,         /* a bounded search found no answer */
    COSNET_ERROR_UNSUPPORTED = 15,     /* e.g. a forced ISA the CPU lacks */
    COSNET_ERROR_CANCELLED = 16,       /* a progress callback asked to stop */
    COSNET_ERROR_THREAD = 17           /* a thread could not be started */
} cosnet_status;

/* A short, static, English description of a status ("truncated file").
 * Unknown values give "unknown status". Never NULL. */
COSNET_API const char *cosnet_strerror(cosnet_status status);

/* The detailed message of the most recent failed call on this thread, e.g.
 * "train-images-idx3-ubyte: truncated at byte 16: header declares 60000
 * images of 28x28 (47040016 bytes) but the file has 1000". Empty string if no
 * call on this thread has failed. The string is thread-local and valid until
 * the next libcosnet call on the same thread. Never NULL. */
COSNET_API const char *cosnet_last_error(void);

/* ------------------------------------------------------------------------ */
/* Memory                                                                   */
/* ------------------------------------------------------------------------ */

/* The allocator every libcosnet allocation goes through. allocate returns
 * `size` bytes aligned for any object (as malloc does) or NULL; release
 * frees a block allocate returned (never called with NULL). Both receive
 * the user_data given here. */
typedef void *(*cosnet_allocate_function)(void *user_data, size_t size);
typedef void (*cosnet_release_function)(void *user_data, void *memory);

/* Replaces the allocator (process-wide): call it before any other
 * libcosnet call, or when every handle and buffer the library returned has
 * been freed. Passing NULL for both functions restores malloc and free.
 * A failed allocation makes the call that needed it return
 * COSNET_ERROR_OUT_OF_MEMORY, with nothing leaked and no handle changed.
 * Not thread-safe: no other libcosnet call may run during it.
 * Returns COSNET_OK, or INVALID_ARGUMENT (only one function given, or
 * blocks of the current allocator still in use). */
COSNET_API cosnet_status cosnet_set_allocator(cosnet_allocate_function allocate,
                                              cosnet_release_function release,
                                              void *user_data);

/* Frees a buffer the library returned for the caller to own (e.g. the
 * bytes of cosnet_model_save_memory). NULL is a no-op. */
COSNET_API void cosnet_free(void *memory);

/* ------------------------------------------------------------------------ */
/* Instruction-set variant                                                  */
/* ------------------------------------------------------------------------ */

/* Reports which kernel variant this process uses: "scalar", "avx2" (AVX2 with
 * FMA), "avx512" (AVX-512F) or "neon" (AArch64 Advanced SIMD). The variant is
 * chosen once per process from the CPU's features, or forced by the
 * environment variable COSNET_ISA set to one of those names before the first
 * libcosnet call that computes.
 *
 * name: receives a static string; may be NULL if only the status is wanted.
 * Returns COSNET_OK, or COSNET_ERROR_UNSUPPORTED when COSNET_ISA names an
 * unknown variant or one this CPU or build lacks; every computing call
 * (model create/predict/train, evaluate) then fails with the same status. */
COSNET_API cosnet_status cosnet_isa(const char **name);

/* ------------------------------------------------------------------------ */
/* Dataset: images and labels from IDX files or from memory                 */
/* ------------------------------------------------------------------------ */

typedef struct cosnet_dataset cosnet_dataset;

/* Opens an IDX3 images file (magic 0x00000803, unsigned bytes, N x rows x
 * columns) and an IDX1 labels file (magic 0x00000801, N unsigned bytes).
 * Each file may be raw or gzip-compressed; the form is recognised by content.
 * Everything is read into memory and validated: magic numbers, dimension
 * counts, image and label counts that agree, every label < class_count,
 * sizes that overflow, truncated or trailing data, corrupt gzip.
 *
 * images_path, labels_path: file names, borrowed.
 * class_count: labels must lie in [0, class_count); 1..256 (10 for MNIST).
 * out: receives the new dataset; the caller frees it with
 *      cosnet_dataset_free.
 * Returns COSNET_OK, INVALID_ARGUMENT, IO, BAD_MAGIC, BAD_FORMAT, TRUNCATED,
 * MISMATCH, OUT_OF_RANGE, OVERFLOW, CORRUPT or OUT_OF_MEMORY. */
COSNET_API cosnet_status cosnet_dataset_open(const char *images_path,
                                             const char *labels_path,
                                             unsigned class_count,
                                             cosnet_dataset **out);

/* Creates a dataset from images and labels in memory, copied (the caller
 * keeps and frees its buffers). The result behaves exactly like an opened
 * IDX pair holding the same bytes.
 *
 * count: number of images, >= 1 (an empty dataset is refused, as an IDX
 *        file with a zero dimension is).
 * rows, columns: image height and width, each >= 1; count x rows x columns
 *        must not overflow size_t and is at most 2^30 bytes (the limit of
 *        an IDX file).
 * pixels: count x rows x columns bytes, image after image, each row-major
 *        (0..255), borrowed.
 * labels: count bytes, each < class_count, borrowed.
 * class_count: 1..256.
 * out: receives the new dataset; the caller frees it with
 *      cosnet_dataset_free.
 * Returns COSNET_OK, INVALID_ARGUMENT (NULL pointer, a zero size,
 * class_count out of 1..256), OVERFLOW (the sizes overflow or exceed the
 * limit), OUT_OF_RANGE (the message names the first label's index and
 * value) or OUT_OF_MEMORY. */
COSNET_API cosnet_status cosnet_dataset_create(
    size_t count, size_t rows, size_t columns, const uint8_t *pixels,
    const uint8_t *labels, unsigned class_count, cosnet_dataset **out);

/* Frees a dataset. NULL is a no-op. */
COSNET_API void cosnet_dataset_free(cosnet_dataset *dataset);

/* Number of images; 0 for NULL. */
COSNET_API size_t cosnet_dataset_count(const cosnet_dataset *dataset);
/* Image height and width in pixels; 0 for NULL. */
COSNET_API size_t cosnet_dataset_rows(const cosnet_dataset *dataset);
COSNET_API size_t cosnet_dataset_columns(const cosnet_dataset *dataset);
/* The class_count given at open or create; 0 for NULL. */
COSNET_API unsigned cosnet_dataset_class_count(const cosnet_dataset *dataset);

/* The rows x columns pixels (row-major, 0..255) of image `index`, owned by
 * the dataset and valid until it is freed. NULL if dataset is NULL or index
 * is out of range. */
COSNET_API const uint8_t *cosnet_dataset_image(const cosnet_dataset *dataset,
                                               size_t index);

/* The label of image `index`, or -1 if dataset is NULL or index is out of
 * range. */
COSNET_API int cosnet_dataset_label(const cosnet_dataset *dataset,
                                    size_t index);

/* Converts images [first, first + count) to float32 pixel / 255 in [0, 1].
 * out: caller-owned, count * rows * columns floats, image after image.
 * Returns COSNET_OK, INVALID_ARGUMENT (NULL, or range past the end). */
COSNET_API cosnet_status cosnet_dataset_to_float(const cosnet_dataset *dataset,
                                                 size_t first, size_t count,
                                                 float *out);

/* Converts the images at the given indices to float32 in [0, 1].
 * indices: count indices, borrowed. out: count * rows * columns floats.
 * Returns COSNET_OK, INVALID_ARGUMENT (NULL, or an index out of range). */
COSNET_API cosnet_status
cosnet_dataset_gather_float(const cosnet_dataset *dataset,
                            const size_t *indices, size_t count, float *out);

/* Number of images whose label is `label`; 0 for NULL or unknown labels. */
COSNET_API size_t cosnet_dataset_class_size(const cosnet_dataset *dataset,
                                            unsigned label);

/* A per-class subset: the indices of all images labelled `label`, in file
 * order, shuffled (Fisher-Yates) by the library's generator seeded with
 * `seed`; the first `count` are written to indices_out (caller-owned, count
 * entries). Same seed and data -> same indices, on every platform.
 * Returns COSNET_OK, INVALID_ARGUMENT (NULL, count 0, label >= class_count)
 * or NOT_ENOUGH_DATA (fewer than count images carry the label). */
COSNET_API cosnet_status
cosnet_dataset_class_subset(const cosnet_dataset *dataset, unsigned label,
                            size_t count, uint64_t seed, size_t *indices_out);

/* ------------------------------------------------------------------------ */
/* Label sets: the target vectors, one per class                            */
/* ------------------------------------------------------------------------ */

typedef struct cosnet_labels cosnet_labels;

/* The article's default label-set parameters. */
#define COSNET_LABELS_DEFAULT_COUNT 10
#define COSNET_LABELS_DEFAULT_DIMS 25
#define COSNET_LABELS_DEFAULT_THRESHOLD 0.5

/* The smallest norm a label vector may have (cosnet_labels_create and the
 * loaders reject smaller ones with OUT_OF_RANGE). The cosine
 * clamps |a|^2 |b|^2 at eps^2, eps = 1e-6, so against an output of norm 1
 * a vector shorter than eps would have its cosine scaled down by the clamp
 * and its class could never win; the bound is eps itself. */
#define COSNET_LABELS_MIN_NORM 1e-6

/* Generates `count` vectors of dimension `dims` by the article's rejection
 * sampling: draw g ~ N(0, I), take v = |g| / ||g|| (positive, unit norm),
 * accept v only if cos(v, l) <= threshold for every accepted l. Each
 * candidate takes dims deviates of the library's generator (splitmix64
 * seeding xoshiro256**, Marsaglia's polar method), and every draw counts,
 * accepted or not.
 * seed: the generator's seed; same seed -> identical vectors, on every
 *       instruction set and in every version since 0.1.0: the generator
 *       computes candidates in bulk and settles most of them from a proven
 *       bound, but accepts and stores only through the exact arithmetic of
 *       the one-draw-at-a-time sampler (tests/data/label_reference_sets.h).
 * max_draws: upper bound on candidate draws; 0 means 100,000,000. At the
 *            article's 10 x 25 and 0.5, half of all seeds need more than
 *            1,000,000 draws and the worst of seeds 0..999 needed 25.9 million
 *            (bench/bench_labels); one draw costs about 70 ns of CPU with
 *            AVX-512, 110 ns with AVX2, 180 ns without (docs/performance.md).
 * Sets that need more than about 10,000 draws of 25 values start one helper
 * thread, which fills the generator's stream ahead (about 1.5 times faster
 * on two cores); it is joined before the call returns, and if it cannot
 * start the call goes on without it (the same vectors).
 * out: receives the new label set, freed with cosnet_labels_free.
 * Returns COSNET_OK, INVALID_ARGUMENT (NULL out, count or dims 0, threshold
 * not finite), GAVE_UP (max_draws used before count vectors were accepted;
 * the message says how many were found) or OUT_OF_MEMORY. */
COSNET_API cosnet_status cosnet_labels_generate(size_t count, size_t dims,
                                                double threshold, uint64_t seed,
                                                uint64_t max_draws,
                                                cosnet_labels **out);

/* The article's fixed 10 x 25 table (its label_vectors()), as printed there
 * with 4 decimals (so each row has norm 1 only to about 1e-4).
 * Returns COSNET_OK, INVALID_ARGUMENT or OUT_OF_MEMORY. */
COSNET_API cosnet_status cosnet_labels_builtin(cosnet_labels **out);

/* A label set from caller values: count rows of dims floats, row-major,
 * copied. Rejects NaN/infinity (NOT_FINITE), all-zero rows (BAD_FORMAT) and
 * rows whose norm is below COSNET_LABELS_MIN_NORM (OUT_OF_RANGE); the message
 * names the row. Returns those, COSNET_OK, INVALID_ARGUMENT (NULL pointer,
 * count or dims 0, a size that overflows) or OUT_OF_MEMORY. */
COSNET_API cosnet_status cosnet_labels_create(size_t count, size_t dims,
                                              const float *values,
                                              cosnet_labels **out);

/* Frees a label set. NULL is a no-op. */
COSNET_API void cosnet_labels_free(cosnet_labels *labels);

/* Number of vectors and their dimension; 0 for NULL. */
COSNET_API size_t cosnet_labels_count(const cosnet_labels *labels);
COSNET_API size_t cosnet_labels_dims(const cosnet_labels *labels);

/* Vector `index` (dims floats), owned by the label set; NULL if out of
 * range. */
COSNET_API const float *cosnet_labels_vector(const cosnet_labels *labels,
                                             size_t index);

/* The count x count matrix of pairwise cosine similarities (row-major) into
 * caller-owned `matrix`. Returns COSNET_OK or INVALID_ARGUMENT. */
COSNET_API cosnet_status cosnet_labels_similarity(const cosnet_labels *labels,
                                                  double *matrix);

/* The longest line label-set text may have, in bytes, not counting its
 * '\n' (1 MiB: about 100,000 values). Longer lines are refused with
 * OUT_OF_RANGE. */
#define COSNET_LABELS_MAX_LINE 1048576u

/* The set as text, in a buffer: a '#' header line, then one vector a line,
 * values separated by single spaces and printed with 9 significant digits
 * (so that loading gives back the same floats), in the C locale whatever
 * the program's locale. The bytes are exactly those cosnet_labels_save
 * writes.
 * labels: borrowed.
 * text_out: receives a NUL-terminated buffer the caller owns and frees
 *           with cosnet_free.
 * size_out: receives its length in bytes, the NUL not counted.
 * Returns COSNET_OK, INVALID_ARGUMENT (a NULL pointer), OUT_OF_MEMORY or
 * IO (the C locale could not be made); on failure nothing is allocated and
 * the outputs are untouched. */
COSNET_API cosnet_status cosnet_labels_save_memory(const cosnet_labels *labels,
                                                   char **text_out,
                                                   size_t *size_out);

/* Writes the text of cosnet_labels_save_memory to `path` (borrowed): to a
 * temporary file in the same folder, synced, then renamed into place, so
 * that the target is either the old file or the whole new one.
 * Returns COSNET_OK, INVALID_ARGUMENT, OUT_OF_MEMORY or IO (the message
 * names the step that failed and the file). */
COSNET_API cosnet_status cosnet_labels_save(const cosnet_labels *labels,
                                            const char *path);

/* Reads label-set text from `size` bytes at `data` (borrowed; it needs no
 * NUL terminator): what cosnet_labels_save_memory makes, or text by hand.
 * Lines end with '\n' (a '\r' before it is blank space; the last line
 * needs no '\n'); blank lines and lines starting with '#' are ignored;
 * every other line is one vector of numbers separated by blanks.
 * Rejects, with a message "<memory>:LINE: ...":
 *   BAD_FORMAT   a token that is not a number, a NUL byte, an all-zero
 *                vector, no vectors at all (empty or only comments);
 *   MISMATCH     a vector with a different number of values than the first;
 *   NOT_FINITE   NaN, infinity, or a value beyond the float range;
 *   OUT_OF_RANGE a vector of norm below COSNET_LABELS_MIN_NORM, or a line
 *                longer than COSNET_LABELS_MAX_LINE bytes.
 * out: receives the new set (cosnet_labels_free).
 * Returns those, COSNET_OK, INVALID_ARGUMENT (NULL data or out; data may
 * not be NULL even for size 0) or OUT_OF_MEMORY. */
COSNET_API cosnet_status cosnet_labels_load_memory(const void *data,
                                                   size_t size,
                                                   cosnet_labels **out);

/* Reads the file at `path` (borrowed) whole and parses it as
 * cosnet_labels_load_memory does, with the path in place of "<memory>" in
 * messages. Returns the statuses of cosnet_labels_load_memory, and IO (the
 * file cannot be opened or read) or OVERFLOW (larger than 1 GiB: refused
 * unread when the file's size says so). */
COSNET_API cosnet_status cosnet_labels_load(const char *path,
                                            cosnet_labels **out);

/* ------------------------------------------------------------------------ */
/* Models                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct cosnet_model cosnet_model;

/* Network architectures. Values are part of the ABI and of the model file. */
typedef enum cosnet_architecture {
    /* The article's network: 1x28x28 input; conv3x3(16, pad 1), ReLU,
     * maxpool2; conv3x3(8, pad 2), ReLU, maxpool2; conv3x3(1, pad 2), ReLU,
     * maxpool2; flatten to 25 outputs. 1,393 parameters. */
    COSNET_ARCHITECTURE_SEED = 1,
    /* The honest classifier: 1x28x28 input; conv3x3(16, pad 1), ReLU,
     * maxpool2; conv3x3(32, pad 1), ReLU, maxpool2; flatten; dense(128),
     * ReLU; dense(25). 208,857 parameters. One model for all classes,
     * trained with cosnet_trainer_run, used with cosnet_classify. */
    COSNET_ARCHITECTURE_CLASSIFIER = 2,
    /* The classifier with a second convolution at 14x14 (cosnet-train's
     * default): 1x28x28 input; conv3x3(16, pad 1), ReLU, maxpool2;
     * conv3x3(32, pad 1), ReLU; conv3x3(32, pad 1), ReLU, maxpool2;
     * flatten; dense(128), ReLU; dense(25). 218,105 parameters. */
    COSNET_ARCHITECTURE_DEEP_CLASSIFIER = 3
} cosnet_architecture;

/* Creates a model with Glorot-uniform weights and zero biases drawn from the
 * library's generator seeded with `seed` (same seed -> identical weights).
 * Returns COSNET_OK, INVALID_ARGUMENT (unknown architecture, NULL out),
 * UNSUPPORTED (see cosnet_isa) or OUT_OF_MEMORY. */
COSNET_API cosnet_status cosnet_model_create(cosnet_architecture architecture,
                                             uint64_t seed, cosnet_model **out);

/* Creates a model from a layer list written as text, for any input size:
 *   "conv3x3 32 pad 1, relu, maxpool2x2, flatten, dense 128, relu, dense 25"
 * Layers (comma-separated): "conv3x3 N [pad P]" (3x3, stride 1, N output
 * channels, P zeros on every side, 0..2, default 0), "relu" (only right
 * after a conv3x3 or dense layer), "maxpool2x2" (2x2, stride 2),
 * "flatten", "dense N" (N outputs; flattens a spatial input), "dropout F"
 * (while cosnet_trainer_run or cosnet_train_* train, zeroes each value
 * with probability F, 0.001..0.9 with at most three decimals, and scales
 * the rest by 1/(1-F); predicting, it passes values through; not as the
 * last layer; masks are seeded, so training stays reproducible). At most 32
 * layers and 2^28 parameters; the output (flattened) is the label
 * dimension. Weights Glorot-uniform from `seed`, biases zero.
 * channels, rows, columns: the input shape (1..4096 each), with at most
 * 2^24 floats of one image's activations over all layers.
 * Returns COSNET_OK, INVALID_ARGUMENT (NULL), BAD_FORMAT (text that does not
 * parse, a list the rules refuse -- the message names the layer -- or an
 * input shape out of those bounds), UNSUPPORTED or OUT_OF_MEMORY. */
COSNET_API cosnet_status cosnet_model_create_layers(const char *layers,
                                                    size_t channels,
                                                    size_t rows, size_t columns,
                                                    uint64_t seed,
                                                    cosnet_model **out);

/* The model's layer list in the text form above (ReLU and flatten layers
 * included, every conv with its pad), owned by the model. "" for NULL. */
COSNET_API const char *cosnet_model_layers(const cosnet_model *model);

/* Frees a model. NULL is a no-op. */
COSNET_API void cosnet_model_free(cosnet_model *model);

/* A deep copy of `model` into *out. Returns COSNET_OK, INVALID_ARGUMENT or
 * OUT_OF_MEMORY. */
COSNET_API cosnet_status cosnet_model_copy(const cosnet_model *model,
                                           cosnet_model **out);

/* Shape queries; 0 for NULL. */
COSNET_API cosnet_architecture
cosnet_model_architecture(const cosnet_model *model);
COSNET_API size_t cosnet_model_input_channels(const cosnet_model *model);
COSNET_API size_t cosnet_model_input_rows(const cosnet_model *model);
COSNET_API size_t cosnet_model_input_columns(const cosnet_model *model);
COSNET_API size_t cosnet_model_output_dims(const cosnet_model *model);
COSNET_API size_t cosnet_model_parameter_count(const cosnet_model *model);

/* Copies all parameters out / in, in the order of the layers, each layer's
 * weights followed by its biases: a convolution's weights are OIHW
 * (out_channels x in_channels x 3 x 3), a dense layer's row-major
 * out_features x in_features (inputs flattened channel, row, column). count
 * must equal cosnet_model_parameter_count. set rejects NaN/infinity
 * (NOT_FINITE). Returns COSNET_OK, INVALID_ARGUMENT, MISMATCH (wrong count),
 * NOT_FINITE. */
COSNET_API cosnet_status cosnet_model_get_parameters(const cosnet_model *model,
                                                     float *out, size_t count);
COSNET_API cosnet_status cosnet_model_set_parameters(cosnet_model *model,
                                                     const float *values,
                                                     size_t count);

/* Runs the network on `count` images. images: count * channels * rows *
 * columns floats (normally in [0, 1]), borrowed. outputs: caller-owned,
 * count * output_dims floats. Does not modify the model: many threads may
 * predict with one model at once. Returns COSNET_OK, INVALID_ARGUMENT,
 * UNSUPPORTED, OUT_OF_MEMORY, or NOT_FINITE: for a NaN or infinite input
 * value (found before anything is computed; outputs untouched), or when an
 * output is NaN or infinite (the outputs are written, but are not a
 * result). */
COSNET_API cosnet_status cosnet_model_predict(const cosnet_model *model,
                                              const float *images, size_t count,
                                              float *outputs);

/* As cosnet_model_predict, for images [first, first + count) of a dataset
 * (converted to [0, 1] on the fly). The dataset's image size must equal the
 * model's input size (MISMATCH otherwise). */
COSNET_API cosnet_status cosnet_model_predict_dataset(
    const cosnet_model *model, const cosnet_dataset *dataset, size_t first,
    size_t count, float *outputs);

/* Saves the model: a little-endian file with a magic, a format version
 * (2), the architecture, its layer list, the output dimension, the
 * parameters and a CRC-32 (docs/api-reference.md, "File formats", gives
 * the layout). Written to a temporary name in the same folder, fsynced and
 * renamed into place, so a reader never sees a partial file. Returns
 * COSNET_OK, INVALID_ARGUMENT, IO or OUT_OF_MEMORY. */
COSNET_API cosnet_status cosnet_model_save(const cosnet_model *model,
                                           const char *path);

/* The bytes cosnet_model_save would write, in memory (to embed a model in
 * a binary or a database). data_out receives a buffer the caller frees with
 * cosnet_free; size_out its size. Returns COSNET_OK, INVALID_ARGUMENT or
 * OUT_OF_MEMORY. */
COSNET_API cosnet_status cosnet_model_save_memory(const cosnet_model *model,
                                                  void **data_out,
                                                  size_t *size_out);

/* Loads a model saved by cosnet_model_save (format version 2, or version 1
 * of libcosnet 0.1). Rejects a bad magic (BAD_MAGIC), an unknown format
 * version (VERSION), an unknown architecture, an invalid layer list or a
 * wrong output dimension (BAD_FORMAT), a wrong size (TRUNCATED or
 * MISMATCH), a CRC mismatch (CORRUPT) and NaN/infinite parameters
 * (NOT_FINITE); a built-in architecture must have its own input shape too
 * (BAD_FORMAT). Also IO, OVERFLOW (a file larger than any model: 2^28
 * parameters), INVALID_ARGUMENT, UNSUPPORTED, OUT_OF_MEMORY. */
COSNET_API cosnet_status cosnet_model_load(const char *path,
                                           cosnet_model **out);

/* As cosnet_model_load, from `size` bytes at `data` (borrowed; messages
 * name "<memory>"). Same statuses, except IO and OVERFLOW. */
COSNET_API cosnet_status cosnet_model_load_memory(const void *data, size_t size,
                                                  cosnet_model **out);

/* ------------------------------------------------------------------------ */
/* Optimiser: AdamW                                                         */
/* ------------------------------------------------------------------------ */

typedef struct cosnet_optimizer cosnet_optimizer;

/* Settable hyper-parameters. Values are part of the ABI. */
typedef enum cosnet_optimizer_option {
    COSNET_OPTIMIZER_LEARNING_RATE = 0, /* default 0.01 */
    COSNET_OPTIMIZER_WEIGHT_DECAY = 1,  /* default 0.01 */
    COSNET_OPTIMIZER_BETA1 = 2,         /* default 0.9 */
    COSNET_OPTIMIZER_BETA2 = 3,         /* default 0.999 */
    COSNET_OPTIMIZER_EPSILON = 4        /* default 1e-8 */
} cosnet_optimizer_option;

/* Creates an AdamW optimiser with the article's defaults, its moment
 * buffers sized for `model` (zeroed) and its step counter at 0. The model is
 * only read; the optimiser keeps no pointer to it. It may then be used with
 * any model of the same parameter count. Returns COSNET_OK,
 * INVALID_ARGUMENT or OUT_OF_MEMORY. */
COSNET_API cosnet_status cosnet_optimizer_create(const cosnet_model *model,
                                                 cosnet_optimizer **out);

/* Frees an optimiser, and the training buffers it keeps (see
 * cosnet_train_batch). NULL is a no-op. */
COSNET_API void cosnet_optimizer_free(cosnet_optimizer *optimizer);

/* Sets / reads one hyper-parameter. Learning rate and weight decay must be
 * finite and >= 0; betas in [0, 1); epsilon finite and > 0
 * (OUT_OF_RANGE otherwise). Returns COSNET_OK, INVALID_ARGUMENT (NULL,
 * unknown option) or OUT_OF_RANGE. */
COSNET_API cosnet_status cosnet_optimizer_set(cosnet_optimizer *optimizer,
                                              cosnet_optimizer_option option,
                                              double value);
COSNET_API cosnet_status cosnet_optimizer_get(const cosnet_optimizer *optimizer,
                                              cosnet_optimizer_option option,
                                              double *value);

/* Number of steps taken since creation or the last reset; 0 for NULL. */
COSNET_API uint64_t cosnet_optimizer_steps(const cosnet_optimizer *optimizer);

/* Zeroes the moments and the step counter; keeps the hyper-parameters. */
COSNET_API void cosnet_optimizer_reset(cosnet_optimizer *optimizer);

/* ------------------------------------------------------------------------ */
/* Training                                                                 */
/* ------------------------------------------------------------------------ */

/* Trains on one batch: forward, loss L = (1/n) sum_i (1 - cos(f(x_i), t_i)),
 * backward, one AdamW step.
 * images: n * channels * rows * columns floats. targets: target vector of
 * image i at
 * targets + i * target_stride (output_dims floats each); target_stride 0
 * gives every image the same target. loss: receives L (may be NULL).
 * If the loss or any gradient is NaN/infinite, returns NOT_FINITE and leaves
 * the model and optimiser exactly as they were.
 * Buffers: the optimiser keeps the working buffers of its last training
 * call (the activations of a few images and four copies of the
 * parameters: the gradient and the undo copy of parameters and moments)
 * and reuses them while it trains models of the same layer list and input
 * shape, so a loop of calls allocates nothing after the first; a model of
 * other layers replaces them. They are freed with the optimiser
 * (cosnet_optimizer_free) and never shared between optimisers.
 * Returns COSNET_OK, INVALID_ARGUMENT, MISMATCH (optimiser sized for another
 * parameter count), NOT_FINITE, UNSUPPORTED or OUT_OF_MEMORY. */
COSNET_API cosnet_status cosnet_train_batch(cosnet_model *model,
                                            cosnet_optimizer *optimizer,
                                            const float *images, size_t n,
                                            const float *targets,
                                            size_t target_stride, float *loss);

/* Progress callback: called after every batch with the 1-based epoch number
 * given to cosnet_train_epoch, the 0-based batch index in training order,
 * and that batch's loss. Return 0 to go on, non-zero to cancel. */
typedef int (*cosnet_progress_callback)(void *user_data, unsigned epoch,
                                        size_t batch, float loss);

/* One epoch in the article's order: the n images are split into n /
 * batch_size consecutive slices, trained from the last slice to the first,
 * no reshuffle. epoch_loss receives sum_b loss_b * batch_size / n (may be
 * NULL). n must be a non-zero multiple of batch_size.
 * progress: may be NULL; if it returns non-zero, training stops after that
 * batch (its step kept) and CANCELLED is returned.
 * Returns what cosnet_train_batch returns, and CANCELLED. On NOT_FINITE the
 * model holds the weights from before the failing batch. */
COSNET_API cosnet_status cosnet_train_epoch(
    cosnet_model *model, cosnet_optimizer *optimizer, const float *images,
    size_t n, size_t batch_size, const float *targets, size_t target_stride,
    unsigned epoch, cosnet_progress_callback progress, void *user_data,
    float *epoch_loss);

/* ------------------------------------------------------------------------ */
/* Training one classifier on a whole dataset                               */
/* ------------------------------------------------------------------------ */

/* Trains ONE model for all classes so that f(x) points at the label vector
 * of x's class (docs/math.md); it is then used with cosnet_classify and
 * cosnet_evaluate_classifier. Settings live in the trainer, set by option. */
typedef struct cosnet_trainer cosnet_trainer;

/* Options. Values are part of the ABI. */
typedef enum cosnet_trainer_option {
    COSNET_TRAINER_EPOCHS = 0,        /* 1..100000, default 10 */
    COSNET_TRAINER_BATCH_SIZE = 1,    /* 1..2^20 images, default 64 */
    COSNET_TRAINER_LEARNING_RATE = 2, /* peak AdamW rate, default 0.003 */
    COSNET_TRAINER_WEIGHT_DECAY = 3,  /* AdamW's lambda, default 0.0001 */
    /* Fraction of all steps over which the rate rises linearly from 0 to
     * the peak; it then falls along a cosine to 0 at the last step. 0..1,
     * default 0.1. */
    COSNET_TRAINER_WARMUP = 4,
    /* Augmentation: each training image is moved by a random whole number
     * of pixels in [-N, N] in each direction (zeros come in). 0..16,
     * default 0 (none). */
    COSNET_TRAINER_SHIFT = 5,
    /* Images held out of training (the last ones of a seeded shuffle) and
     * classified after every epoch. Default 0. */
    COSNET_TRAINER_VALIDATION = 6,
    /* Worker threads, 0 = one per online CPU, at most 8 are used (each
     * batch is cut into 8 fixed pieces). The trained model does not depend
     * on it, bit for bit. Default 0. */
    COSNET_TRAINER_THREADS = 7,
    /* Seed of the shuffles and shifts, 0..2^53. Default 0. */
    COSNET_TRAINER_SEED = 8,
    /* Augmentation: each training image is also rotated about its centre
     * by a random angle in [-N, N] degrees (bilinear resampling). 0..45,
     * default 0 (none). */
    COSNET_TRAINER_ROTATE = 9,
    /* Augmentation: ... and scaled by a random factor in [1 - X, 1 + X].
     * 0..0.5, default 0 (none). */
    COSNET_TRAINER_SCALE = 10,
    /* Augmentation: ... and bent by a smooth random displacement field
     * (elastic distortion): displacements drawn uniformly in [-X, X]
     * pixels at a 5 x 5 grid of control points, interpolated bilinearly in
     * between. 0..8, default 0 (none). */
    COSNET_TRAINER_ELASTIC = 11,
    /* The loss. 0 (default): the cosine loss, (1/B) sum (1 - cos(f(x),
     * v_y)). s in (0, 100]: the softmax cross-entropy of the cosines to
     * every label vector scaled by s, (1/B) sum -log(exp(s cos(f(x), v_y))
     * / sum_k exp(s cos(f(x), v_k))), which also pushes f(x) away from the
     * other classes' vectors (docs/honest-classifier.md measures it). */
    COSNET_TRAINER_SOFTMAX_SCALE = 12
} cosnet_trainer_option;
#define COSNET_TRAINER_OPTION_COUNT 13

/* Called after every batch (epoch_finished 0: images_done of images_total
 * trained in this 1-based epoch, loss = the batch's) and after every epoch
 * (epoch_finished 1: loss = the epoch's mean; the epoch's results can be
 * read with cosnet_trainer_epoch_loss / _validation_accuracy). Return 0 to
 * go on, non-zero to stop (cosnet_trainer_run then returns CANCELLED). */
typedef int (*cosnet_trainer_progress)(void *user_data, unsigned epoch,
                                       size_t images_done, size_t images_total,
                                       float loss, int epoch_finished);

/* A trainer with the defaults above. Returns COSNET_OK, INVALID_ARGUMENT or
 * OUT_OF_MEMORY; freed with cosnet_trainer_free. */
COSNET_API cosnet_status cosnet_trainer_create(cosnet_trainer **out);

/* Frees a trainer. NULL is a no-op. */
COSNET_API void cosnet_trainer_free(cosnet_trainer *trainer);

/* Sets / reads an option. Whole-number options reject fractions. Returns
 * COSNET_OK, INVALID_ARGUMENT (NULL, unknown option) or OUT_OF_RANGE (the
 * message gives the range). */
COSNET_API cosnet_status cosnet_trainer_set(cosnet_trainer *trainer,
                                            cosnet_trainer_option option,
                                            double value);
COSNET_API cosnet_status cosnet_trainer_get(const cosnet_trainer *trainer,
                                            cosnet_trainer_option option,
                                            double *value);

/* Sets the progress callback (NULL: none). user_data is passed back.
 * Returns COSNET_OK or INVALID_ARGUMENT. */
COSNET_API cosnet_status cosnet_trainer_set_progress(
    cosnet_trainer *trainer, cosnet_trainer_progress progress, void *user_data);

/* Trains `model` in place on every image of `dataset` but the validation
 * ones: image x of class y gets target v_y; loss (1/B) sum (1 - cos(f(x),
 * v_y)), or with COSNET_TRAINER_SOFTMAX_SCALE the softmax loss over every
 * vector of `labels`; AdamW (betas 0.9/0.999, eps 1e-8) with the scheduled
 * rate. The model must take the dataset's image size and output the label
 * dimension; labels needs at least the dataset's class_count vectors.
 * On failure the model holds the weights after the last completed step (a
 * step that made a weight non-finite is undone); a run that fails before
 * finishing its first epoch leaves the trainer's results of the previous
 * run in place.
 * Returns COSNET_OK, INVALID_ARGUMENT, MISMATCH, NOT_ENOUGH_DATA (no image
 * left to train on), NOT_FINITE, CANCELLED, UNSUPPORTED, THREAD or
 * OUT_OF_MEMORY. */
COSNET_API cosnet_status cosnet_trainer_run(cosnet_trainer *trainer,
                                            cosnet_model *model,
                                            const cosnet_labels *labels,
                                            const cosnet_dataset *dataset);

/* Epochs the last run finished; 0 for NULL. */
COSNET_API unsigned cosnet_trainer_epochs_done(const cosnet_trainer *trainer);

/* Mean training loss of finished epoch `epoch` (1-based) of the last run;
 * NaN if there is no such epoch. */
COSNET_API float cosnet_trainer_epoch_loss(const cosnet_trainer *trainer,
                                           unsigned epoch);

/* Fraction of the validation images classified right after epoch `epoch`
 * (1-based); -1 without validation images or such an epoch. */
COSNET_API double
cosnet_trainer_validation_accuracy(const cosnet_trainer *trainer,
                                   unsigned epoch);

/* ------------------------------------------------------------------------ */
/* Classifier bundle: a model, its label set and its class names            */
/* ------------------------------------------------------------------------ */

/* Everything needed to classify, in one handle and one file. */
typedef struct cosnet_classifier cosnet_classifier;

/* A bundle of copies of `model` and `labels` and of the class names.
 * class_names: one NUL-terminated name (at most 255 bytes) per label
 * vector, borrowed; NULL gives "0", "1", ... The model's output size must
 * be the label dimension; at most 256 classes. Returns COSNET_OK,
 * INVALID_ARGUMENT, MISMATCH, OUT_OF_RANGE (a name too long) or
 * OUT_OF_MEMORY. */
COSNET_API cosnet_status cosnet_classifier_create(
    const cosnet_model *model, const cosnet_labels *labels,
    const char *const *class_names, cosnet_classifier **out);

/* Frees a bundle and what it holds. NULL is a no-op. */
COSNET_API void cosnet_classifier_free(cosnet_classifier *classifier);

/* The bundle's model, label set and class name `index` (owned by the
 * bundle, valid until it is freed; NULL for NULL or an index out of
 * range). Use them with cosnet_classify, cosnet_evaluate_classifier... */
COSNET_API const cosnet_model *
cosnet_classifier_model(const cosnet_classifier *classifier);
COSNET_API const cosnet_labels *
cosnet_classifier_labels(const cosnet_classifier *classifier);
COSNET_API const char *
cosnet_classifier_class_name(const cosnet_classifier *classifier, size_t index);

/* Saves the bundle: magic "COSNETCL", a format version, the label vectors,
 * the class names, the model (in its own format) and a CRC-32 over all;
 * written like cosnet_model_save (temporary file, fsync, rename). Returns
 * COSNET_OK, INVALID_ARGUMENT, IO or OUT_OF_MEMORY. */
COSNET_API cosnet_status
cosnet_classifier_save(const cosnet_classifier *classifier, const char *path);

/* The same bytes in a buffer the caller frees with cosnet_free. */
COSNET_API cosnet_status cosnet_classifier_save_memory(
    const cosnet_classifier *classifier, void **data_out, size_t *size_out);

/* Loads a bundle; every part is validated as its own loader does. Returns
 * COSNET_OK, INVALID_ARGUMENT, IO, OVERFLOW (a file over 2 GiB), BAD_MAGIC,
 * VERSION, BAD_FORMAT, TRUNCATED, MISMATCH, CORRUPT, NOT_FINITE, UNSUPPORTED
 * or OUT_OF_MEMORY. cosnet_classifier_load_memory: the same from `size`
 * bytes (borrowed), except IO and OVERFLOW. */
COSNET_API cosnet_status cosnet_classifier_load(const char *path,
                                                cosnet_classifier **out);
COSNET_API cosnet_status cosnet_classifier_load_memory(const void *data,
                                                       size_t size,
                                                       cosnet_classifier **out);

/* ------------------------------------------------------------------------ */
/* Evaluation rules                                                         */
/* ------------------------------------------------------------------------ */

/* Write f_k for class k's model, v_k for its label vector, y for the true
 * class of image x. Ties go to the lowest k. */
typedef enum cosnet_rule {
    /* The article's test: s_k = cos(f_k(x), v_y). It reads the true label,
     * so it measures how well each model's output matches the TRUE class's
     * vector, not classification. */
    COSNET_RULE_SEED = 0,
    /* Honest use of the same models: s_k = cos(f_k(x), v_k). */
    COSNET_RULE_OWN_LABEL = 1,
    /* The seed rule applied to f_k(x) = v_k, a predictor that never looks
     * at the image: 100% whenever all off-diagonal cosines are < 1. */
    COSNET_RULE_IMAGE_BLIND = 2
} cosnet_rule;
#define COSNET_RULE_COUNT 3

typedef struct cosnet_evaluation cosnet_evaluation;

/* Scores every image of `dataset` with `model_count` models (model k for
 * class k) and `labels`, under all three rules; each network runs once per
 * image. threads: worker threads, 0 = one per online CPU; the counts do not
 * depend on it. models: array of model_count borrowed handles, which must
 * all have the same input size as the dataset and output size as the label
 * dimension (and one input channel, as a dataset's images have);
 * model_count must equal cosnet_labels_count and be >= the dataset's
 * class_count.
 * Returns COSNET_OK, INVALID_ARGUMENT, MISMATCH, NOT_FINITE (a network
 * output overflowed: no score to count), UNSUPPORTED, THREAD or
 * OUT_OF_MEMORY. *out is freed with cosnet_evaluation_free. */
COSNET_API cosnet_status cosnet_evaluate(const cosnet_model *const *models,
                                         size_t model_count,
                                         const cosnet_labels *labels,
                                         const cosnet_dataset *dataset,
                                         unsigned threads,
                                         cosnet_evaluation **out);

/* Scores every image of `dataset` with ONE model used as a classifier:
 * predict(x) = argmax_k cos(f(x), v_k) over all vectors of `labels` (ties
 * to the lowest k). No label is read to predict. The results are reported
 * under COSNET_RULE_OWN_LABEL (correct count and confusion matrix, whose
 * rows give the per-class accuracy); the other two rules count nothing.
 * The counts do not depend on `threads` (0 = one per online CPU).
 * model: output size = the label dimension, input = the dataset's image
 * size; labels: at least the dataset's class_count vectors (at most 256).
 * Returns COSNET_OK, INVALID_ARGUMENT, MISMATCH, NOT_FINITE (a network
 * output overflowed), UNSUPPORTED, THREAD or OUT_OF_MEMORY. *out is freed
 * with cosnet_evaluation_free. */
COSNET_API cosnet_status cosnet_evaluate_classifier(
    const cosnet_model *model, const cosnet_labels *labels,
    const cosnet_dataset *dataset, unsigned threads, cosnet_evaluation **out);

/* Classifies `count` images (count * channels * rows * columns floats,
 * borrowed) with one model: classes[i] = argmax_k cos(f(x_i), v_k) (ties to
 * the lowest k), similarities[i] its cosine, runner_up[i] the second-best
 * class and runner_up_similarities[i] its cosine (with one label vector,
 * the same class). classes is required; the other outputs may be NULL. All
 * outputs are caller-owned arrays of `count`. The cosines are right for
 * label vectors and outputs of any finite size (beyond float's range in the
 * product of the norms they are taken in double).
 * Returns COSNET_OK, INVALID_ARGUMENT, MISMATCH (model outputs != label
 * dimension), NOT_FINITE, UNSUPPORTED or OUT_OF_MEMORY. NOT_FINITE: a NaN
 * or infinite input value (found first; nothing written), or a network
 * output that overflowed (images are classified in blocks of 256: the
 * blocks before the one that overflowed are written, nothing after). */
COSNET_API cosnet_status cosnet_classify(const cosnet_model *model,
                                         const cosnet_labels *labels,
                                         const float *images, size_t count,
                                         size_t *classes, float *similarities,
                                         size_t *runner_up,
                                         float *runner_up_similarities);

/* Progress of an evaluation: `images` more images were scored. Called
 * from the worker threads, possibly several at once, so it must be
 * thread-safe; it cannot stop the evaluation. */
typedef void (*cosnet_evaluation_progress)(void *user_data, size_t images);

/* As cosnet_evaluate, calling `progress` (may be NULL) after every chunk
 * of images each worker scores. Same results and statuses. */
COSNET_API cosnet_status cosnet_evaluate_with_progress(
    const cosnet_model *const *models, size_t model_count,
    const cosnet_labels *labels, const cosnet_dataset *dataset,
    unsigned threads, cosnet_evaluation_progress progress, void *user_data,
    cosnet_evaluation **out);

/* Frees an evaluation. NULL is a no-op. */
COSNET_API void cosnet_evaluation_free(cosnet_evaluation *evaluation);

/* Images scored; 0 for NULL. */
COSNET_API size_t cosnet_evaluation_total(const cosnet_evaluation *evaluation);

/* Images whose prediction equals their label under `rule`; 0 for NULL or an
 * unknown rule. */
COSNET_API size_t cosnet_evaluation_correct(const cosnet_evaluation *evaluation,
                                            cosnet_rule rule);

/* Number of classes, the size of the confusion matrix: model_count for
 * cosnet_evaluate, the label set's count for cosnet_evaluate_classifier. */
COSNET_API size_t
cosnet_evaluation_classes(const cosnet_evaluation *evaluation);

/* Confusion count under `rule`: images of true class `actual` predicted as
 * `predicted`; 0 for NULL or out-of-range arguments. */
COSNET_API size_t
cosnet_evaluation_confusion(const cosnet_evaluation *evaluation,
                            cosnet_rule rule, size_t actual, size_t predicted);

#ifdef __cplusplus
}
#endif

#endif /* COSNET_H */
