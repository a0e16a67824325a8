// raii: libcosnet from C++17, every handle owned by a std::unique_ptr.
//
// Each handle type gets a unique_ptr whose deleter is the library's *_free,
// and every status is checked by a function that throws, so no path -- an
// early return, an exception -- leaks a handle. Loads MNIST, trains digit
// 7's model briefly, predicts the first test images and prints how close
// each output is to digit 7's label vector.
//
//   raii [--data DIR] [--epochs N]
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cosnet.h"
#include "data_folder.h"

namespace
{

// unique_ptr<T> freeing with the library's function for T.
template <typename T, void (*Free)(T *)> struct Deleter {
    void operator()(T *handle) const noexcept
    {
        Free(handle);
    }
};
using Dataset = std::unique_ptr<cosnet_dataset,
                                Deleter<cosnet_dataset, cosnet_dataset_free>>;
using Labels =
    std::unique_ptr<cosnet_labels, Deleter<cosnet_labels, cosnet_labels_free>>;
using Model =
    std::unique_ptr<cosnet_model, Deleter<cosnet_model, cosnet_model_free>>;
using Optimizer =
    std::unique_ptr<cosnet_optimizer,
                    Deleter<cosnet_optimizer, cosnet_optimizer_free>>;

// Any failed call becomes an exception carrying the library's message.
struct Error : std::runtime_error {
    cosnet_status status;
    Error(cosnet_status s, const std::string &what)
        : std::runtime_error(what + ": " + cosnet_last_error()), status(s)
    {
    }
};

// The MNIST files could not be read: main also says how to fetch them.
struct DataError : Error {
    std::string folder;
    DataError(cosnet_status s, const std::string &what, std::string where)
        : Error(s, what), folder(std::move(where))
    {
    }
};

void check(cosnet_status status, const char *what)
{
    if (status != COSNET_OK)
        throw Error(status, what);
}

Dataset open_split(const std::string &folder, const char *split)
{
    cosnet_dataset *raw = nullptr;
    cosnet_status status = data_open(folder.c_str(), split, 10, &raw);
    if (status != COSNET_OK)
        throw DataError(status, split, folder);
    return Dataset(raw);
}

Labels author_labels()
{
    cosnet_labels *raw = nullptr;
    check(cosnet_labels_builtin(&raw), "labels");
    return Labels(raw);
}

Model new_model(std::uint64_t seed)
{
    cosnet_model *raw = nullptr;
    check(cosnet_model_create(COSNET_ARCHITECTURE_SEED, seed, &raw), "model");
    return Model(raw);
}

Optimizer new_optimizer(const Model &model)
{
    cosnet_optimizer *raw = nullptr;
    check(cosnet_optimizer_create(model.get(), &raw), "optimizer");
    return Optimizer(raw);
}

double cosine(const float *a, const float *b, std::size_t n)
{
    double dot = 0, aa = 0, bb = 0;
    for (std::size_t i = 0; i < n; i++) {
        dot += double(a[i]) * b[i];
        aa += double(a[i]) * a[i];
        bb += double(b[i]) * b[i];
    }
    return aa > 0 && bb > 0 ? dot / std::sqrt(aa * bb) : 0.0;
}

int run(const char *given_data, unsigned epochs)
{
    const unsigned digit = 7;
    const std::size_t batch = 20, images = 100;

    std::unique_ptr<char, decltype(&std::free)> folder(data_folder(given_data),
                                                       &std::free);
    if (!folder)
        throw std::runtime_error("no data folder: set COSNET_DATA or HOME");
    Dataset train = open_split(folder.get(), "train");
    Dataset test = open_split(folder.get(), "t10k");
    Labels labels = author_labels();
    Model model = new_model(digit);
    Optimizer adamw = new_optimizer(model);

    std::vector<std::size_t> indices(images);
    const std::size_t pixels =
        cosnet_dataset_rows(train.get()) * cosnet_dataset_columns(train.get());
    std::vector<float> pixels_of_digit(images * pixels);
    check(cosnet_dataset_class_subset(train.get(), digit, images, 100 + digit,
                                      indices.data()),
          "subset");
    check(cosnet_dataset_gather_float(train.get(), indices.data(), images,
                                      pixels_of_digit.data()),
          "gather");
    const float *target = cosnet_labels_vector(labels.get(), digit);
    float loss = 0;
    for (unsigned epoch = 1; epoch <= epochs; epoch++)
        check(cosnet_train_epoch(model.get(), adamw.get(),
                                 pixels_of_digit.data(), images, batch, target,
                                 0, epoch, nullptr, nullptr, &loss),
              "training");
    std::printf("digit %u: %u epochs on %zu images, loss %.6f\n", digit, epochs,
                images, double(loss));

    const std::size_t shown = 10;
    const std::size_t dims = cosnet_model_output_dims(model.get());
    std::vector<float> outputs(shown * dims);
    check(cosnet_model_predict_dataset(model.get(), test.get(), 0, shown,
                                       outputs.data()),
          "prediction");
    for (std::size_t i = 0; i < shown; i++)
        std::printf("test image %zu (a %d): cos to digit %u's vector %.4f\n", i,
                    cosnet_dataset_label(test.get(), i), digit,
                    cosine(outputs.data() + i * dims, target, dims));
    return 0; // every handle is freed here, as on any throw above
}

/* Flushes stdout; a write that failed (a full disk, a closed pipe) is a
 * failure of the program, not a silent loss. */
int finish_output()
{
    if (std::fflush(stdout) == 0 && !std::ferror(stdout))
        return 0;
    std::fprintf(stderr, "raii: cannot write standard output\n");
    return 1;
}

} // namespace

int main(int argc, char **argv)
{
    const char *data = nullptr;
    unsigned epochs = 3;
    for (int i = 1; i < argc; i++) {
        std::string argument = argv[i];
        if (argument == "-h" || argument == "--help") {
            std::puts("usage: raii [--data DIR] [--epochs N] [--version]\n"
                      "  trains digit 7's model for N epochs (default 3) on "
                      "100 images, then\n"
                      "  prints cos(f(x), v_7) for the first 10 test images");
            return finish_output();
        }
        if (argument == "--version") {
            std::printf("raii %s\n", cosnet_version());
            return finish_output();
        }
        if (i + 1 < argc && argument == "--data") {
            data = argv[++i];
        } else if (i + 1 < argc && argument == "--epochs" &&
                   std::atoi(argv[i + 1]) > 0) {
            epochs = unsigned(std::atoi(argv[++i]));
        } else {
            std::fprintf(stderr, "raii: bad argument '%s' (try --help)\n",
                         argv[i]);
            return 2;
        }
    }
    try {
        int status = run(data, epochs);
        return status ? status : finish_output();
    } catch (const DataError &error) {
        std::fprintf(stderr, "raii: %s\n", error.what());
        data_missing_hint(stderr, "raii", error.folder.c_str());
        return 1;
    } catch (const std::exception &error) {
        std::fprintf(stderr, "raii: %s\n", error.what());
        return 1;
    }
}
