/* Rounding error of the convolution weight gradient by each path the
 * driver can take (direct, Winograd F(2x2), Winograd F(4x4)) against the
 * same sum in double, on data shaped like training's: inputs ReLU'd (half
 * of them zero, the rest uniform in [0, 1)), zero padding, output gradients
 * centred on 0. It answers whether a path's rounding is large enough to
 * matter to training, which the kernel tests (a worst-case bound each)
 * do not: the figures here are typical, not worst, errors.
 *
 *   bench_gradient_error [--batch N] [--seed N]
 *
 * For every convolution of the seed network, the classifier and the deep
 * classifier, and every path that takes the shape in the variant the
 * library runs (the CPU's best, or COSNET_ISA's; "pool": a first layer's
 * gradient straight from its pool's, conv3x3_pool_backward_weights, or
 * "pool C" its plain-C version where the variant has none), prints the
 * root-mean-square error over the weight gradient divided by the
 * root-mean-square of the gradient itself, and the largest error divided
 * by the largest gradient.
 * --batch (default 64, training's) is the images summed into one gradient. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "kernels/conv_driver.h"
#include "kernels/kernels.h"
#include "network/architecture.h"

/* The weight gradient summed in double, OIHW. */
static void double_sum(const conv_shape *s, size_t count, const float *input,
                       const float *output_grad, double *weight_grad)
{
    const int padded_h = conv_padded_height(s), padded_w = conv_padded_width(s);
    const int out_h = conv_out_height(s), out_w = conv_out_width(s);
    for (int co = 0; co < s->out_channels; co++)
        for (int ci = 0; ci < s->in_channels; ci++)
            for (int k = 0; k < 9; k++) {
                double sum = 0.0;
                for (size_t i = 0; i < count; i++) {
                    const float *dy = output_grad + (i * s->out_channels + co) *
                                                        (size_t)out_h * out_w;
                    const float *x = input + (i * s->in_channels + ci) *
                                                 (size_t)padded_h * padded_w;
                    for (int y = 0; y < out_h; y++)
                        for (int z = 0; z < out_w; z++)
                            sum += (double)dy[y * out_w + z] *
                                   x[(y + k / 3) * padded_w + z + k % 3];
                }
                weight_grad[((size_t)co * s->in_channels + ci) * 9 + k] = sum;
            }
}

static void report(const char *path, const float *weight_grad,
                   const double *exact, size_t n)
{
    double error_squares = 0.0, exact_squares = 0.0, largest_error = 0.0,
           largest = 0.0;
    for (size_t k = 0; k < n; k++) {
        const double error = fabs((double)weight_grad[k] - exact[k]);
        error_squares += error * error;
        exact_squares += exact[k] * exact[k];
        largest_error = fmax(largest_error, error);
        largest = fmax(largest, fabs(exact[k]));
    }
    printf("  %-8s %18.2e %18.2e\n", path, sqrt(error_squares / exact_squares),
           largest_error / largest);
}

/* The driver's weight gradient with `table`, scratch its own. */
static void driver_gradient(const kernel_table *table, const conv_shape *s,
                            size_t count, const float *input,
                            const float *output_grad, float *weight_grad,
                            float *bias_grad)
{
    if (!table->conv3x3) {
        conv3x3_backward_weights_unpacked(NULL, s, count, input, output_grad,
                                          weight_grad, bias_grad);
        return;
    }
    const size_t floats = conv3x3_scratch_floats(table, s);
    float *scratch = aligned_alloc(64, (floats + 16) / 16 * 64);
    if (!scratch) {
        fprintf(stderr, "bench_gradient_error: out of memory\n");
        exit(1);
    }
    conv3x3_backward_weights_with(table, s, count, input, output_grad,
                                  weight_grad, bias_grad, scratch);
    free(scratch);
}

static void measure_shape(const kernel_table *table, const char *layer,
                          const conv_shape *s, size_t count,
                          random_generator *rng)
{
    const int padded_h = conv_padded_height(s), padded_w = conv_padded_width(s);
    const size_t input_floats =
        count * s->in_channels * (size_t)padded_h * padded_w;
    const size_t grad_floats = count * s->out_channels *
                               (size_t)conv_out_height(s) * conv_out_width(s);
    const size_t weights = (size_t)s->out_channels * s->in_channels * 9;
    float *input = malloc(sizeof(float) * input_floats);
    float *output_grad = malloc(sizeof(float) * grad_floats);
    float *weight_grad = malloc(sizeof(float) * weights);
    float *bias_grad = malloc(sizeof(float) * (size_t)s->out_channels);
    double *exact = malloc(sizeof(double) * weights);
    if (!input || !output_grad || !weight_grad || !bias_grad || !exact) {
        fprintf(stderr, "bench_gradient_error: out of memory\n");
        exit(1);
    }
    for (size_t p = 0; p < count * s->in_channels; p++)
        for (int y = 0; y < padded_h; y++)
            for (int x = 0; x < padded_w; x++) {
                const int inside = y >= s->pad && y < padded_h - s->pad &&
                                   x >= s->pad && x < padded_w - s->pad;
                const double u = random_uniform(rng);
                input[(p * padded_h + y) * padded_w + x] =
                    inside && u >= 0.5 ? (float)(2.0 * u - 1.0) : 0.0f;
            }
    for (size_t k = 0; k < grad_floats; k++)
        output_grad[k] = (float)(random_uniform(rng) - 0.5);
    double_sum(s, count, input, output_grad, exact);

    printf("%s, %d->%d channels, %dx%d, pad %d, %zu images:\n", layer,
           s->in_channels, s->out_channels, s->in_height, s->in_width, s->pad,
           count);
    printf("  %-8s %18s %18s\n", "path", "rms error / rms", "max error / max");
    /* Each path by a copy of the table with the faster paths removed, so
     * the driver's own rules pick exactly that path or decline. */
    const kernel_table *scalar = kernels_by_name("scalar");
    driver_gradient(scalar, s, count, input, output_grad, weight_grad,
                    bias_grad);
    report("plain-C", weight_grad, exact, weights);
    if (table->conv3x3) {
        conv3x3_microkernels direct_conv = *table->conv3x3,
                             f2_conv = direct_conv;
        direct_conv.winograd = NULL;
        direct_conv.winograd4 = NULL;
        f2_conv.winograd4 = NULL;
        kernel_table direct_table = *table, f2_table = *table;
        direct_table.conv3x3 = &direct_conv;
        f2_table.conv3x3 = &f2_conv;
        driver_gradient(&direct_table, s, count, input, output_grad,
                        weight_grad, bias_grad);
        report("direct", weight_grad, exact, weights);
        if (conv3x3_backward_weights_uses_winograd(&f2_table, s)) {
            driver_gradient(&f2_table, s, count, input, output_grad,
                            weight_grad, bias_grad);
            report("F(2x2)", weight_grad, exact, weights);
        }
        if (conv3x3_backward_weights_uses_winograd4(table, s)) {
            driver_gradient(table, s, count, input, output_grad, weight_grad,
                            bias_grad);
            report("F(4x4)", weight_grad, exact, weights);
        }
    }
    free(input);
    free(output_grad);
    free(weight_grad);
    free(bias_grad);
    free(exact);
}

/* A first layer's weight gradient from its pool's gradient
 * (conv3x3_pool_backward_weights): pooled values with a quarter of them 0
 * (the ReLU mask drops those), window positions at random, against the
 * double sum of the same terms. */
static void measure_from_pool(const kernel_table *table, const conv_shape *s,
                              size_t count, random_generator *rng)
{
    const int padded_h = conv_padded_height(s), padded_w = conv_padded_width(s);
    const int pooled_rows = conv_out_height(s) / 2,
              pooled_columns = conv_out_width(s) / 2;
    const size_t input_floats =
        count * s->in_channels * (size_t)padded_h * padded_w;
    const size_t pooled_floats =
        count * s->out_channels * (size_t)pooled_rows * pooled_columns;
    const size_t weights = (size_t)s->out_channels * s->in_channels * 9;
    float *input = malloc(sizeof(float) * input_floats);
    float *pooled = malloc(sizeof(float) * pooled_floats);
    float *pooled_grad = malloc(sizeof(float) * pooled_floats);
    uint8_t *argmax = malloc(pooled_floats);
    float *weight_grad = malloc(sizeof(float) * weights);
    float *bias_grad = malloc(sizeof(float) * (size_t)s->out_channels);
    double *exact = calloc(weights, sizeof(double));
    if (!input || !pooled || !pooled_grad || !argmax || !weight_grad ||
        !bias_grad || !exact) {
        fprintf(stderr, "bench_gradient_error: out of memory\n");
        exit(1);
    }
    for (size_t k = 0; k < input_floats; k++) {
        const double u = random_uniform(rng);
        input[k] = u >= 0.5 ? (float)(2.0 * u - 1.0) : 0.0f;
    }
    for (size_t k = 0; k < pooled_floats; k++) {
        pooled[k] = random_uniform(rng) < 0.25 ? 0.0f : 1.0f;
        pooled_grad[k] = (float)(random_uniform(rng) - 0.5);
        argmax[k] = (uint8_t)random_below(rng, 4);
    }
    size_t o = 0;
    for (size_t i = 0; i < count; i++)
        for (int co = 0; co < s->out_channels; co++)
            for (int r = 0; r < pooled_rows; r++)
                for (int c = 0; c < pooled_columns; c++, o++) {
                    if (!(pooled[o] > 0.0f))
                        continue;
                    const int y = 2 * r + (argmax[o] >> 1),
                              x = 2 * c + (argmax[o] & 1);
                    for (int ci = 0; ci < s->in_channels; ci++)
                        for (int k = 0; k < 9; k++)
                            exact[((size_t)co * s->in_channels + ci) * 9 + k] +=
                                (double)pooled_grad[o] *
                                input[((i * s->in_channels + ci) * padded_h +
                                       y + k / 3) *
                                          padded_w +
                                      x + k % 3];
                }
    conv3x3_pool_backward_weights_kernel op =
        table->conv3x3_pool_backward_weights
            ? table->conv3x3_pool_backward_weights
            : conv3x3_pool_backward_weights_scalar;
    op(s, count, input, pooled, pooled_grad, argmax, weight_grad, bias_grad);
    report(table->conv3x3_pool_backward_weights ? "pool" : "pool C",
           weight_grad, exact, weights);
    free(input);
    free(pooled);
    free(pooled_grad);
    free(argmax);
    free(weight_grad);
    free(bias_grad);
    free(exact);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_gradient_error [--batch N] [--seed N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long batch = 64, seed = 1;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc)
            usage();
        char *end;
        const long value = strtol(argv[i + 1], &end, 10);
        if (*end || value < 0)
            usage();
        if (strcmp(argv[i], "--batch") == 0 && value >= 1 && value <= 4096)
            batch = value;
        else if (strcmp(argv[i], "--seed") == 0)
            seed = value;
        else
            usage();
    }
    const kernel_table *table;
    if (kernels_active(&table) != COSNET_OK) {
        fprintf(stderr, "bench_gradient_error: %s\n", cosnet_last_error());
        return 1;
    }
    printf("variant: %s; error of the weight gradient against the double "
           "sum\n\n",
           table->name);
    random_generator rng;
    random_seed(&rng, (uint64_t)seed);
    const cosnet_architecture networks[] = {
        COSNET_ARCHITECTURE_SEED, COSNET_ARCHITECTURE_CLASSIFIER,
        COSNET_ARCHITECTURE_DEEP_CLASSIFIER};
    for (size_t n = 0; n < sizeof networks / sizeof networks[0]; n++) {
        architecture_description arch;
        if (architecture_find(networks[n], &arch) != COSNET_OK)
            return 1;
        for (int l = 0, conv = 0; l < arch.layer_count; l++)
            if (arch.layers[l].kind == LAYER_CONV3X3) {
                char layer[64];
                snprintf(layer, sizeof layer, "%s conv%d", arch.name, ++conv);
                measure_shape(table, layer, &arch.layers[l].shape,
                              (size_t)batch, &rng);
                /* The first layer, if a pool follows (after its ReLU),
                 * takes its gradient from the pool's in training. */
                if (l == 0 && l + 1 < arch.layer_count &&
                    arch.layers[l + 1].kind == LAYER_MAXPOOL2X2)
                    measure_from_pool(table, &arch.layers[l].shape,
                                      (size_t)batch, &rng);
            }
    }
    return 0;
}
