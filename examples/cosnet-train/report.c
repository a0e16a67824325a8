/* cosnet-train's results: the text report and the JSON. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confusion_text.h"
#include "cosnet-train.h"

static size_t correct_of(const run_result *r)
{
    return cosnet_evaluation_correct(r->test, COSNET_RULE_OWN_LABEL);
}

/* Images of class k and how many of them were classified right. */
static void class_counts(const run_result *r, size_t k, size_t *total,
                         size_t *right)
{
    *total = 0;
    for (size_t j = 0; j < CLASSES; j++)
        *total +=
            cosnet_evaluation_confusion(r->test, COSNET_RULE_OWN_LABEL, k, j);
    *right = cosnet_evaluation_confusion(r->test, COSNET_RULE_OWN_LABEL, k, k);
}

const char *describe_loss(const options *opt, char *text, size_t size)
{
    if (opt->softmax > 0)
        snprintf(text, size,
                 "softmax of %g x the cosines to every label vector",
                 opt->softmax);
    else
        snprintf(text, size, "1 - cos(f(x), v_y)");
    return text;
}

void print_report(FILE *out, const run_result *r)
{
    const options *o = r->opt;
    const size_t total = cosnet_evaluation_total(r->test);
    fprintf(out, PROGRAM " %s (kernels %s)\n", cosnet_version(), r->isa);
    fprintf(out, "dataset %s, labels %s, network: %s (%zu parameters)\n",
            o->fashion ? "Fashion-MNIST" : "MNIST", o->labels,
            cosnet_model_layers(r->model),
            cosnet_model_parameter_count(r->model));
    fprintf(out,
            "%u epoch%s, batch %zu, peak rate %g, weight decay %g, warm-up "
            "%g, shifts up to %u px, rotations up to %g degrees, scaling up "
            "to %g, elastic up to %g px, seed %llu\n",
            o->epochs, o->epochs == 1 ? "" : "s", o->batch_size,
            o->learning_rate, o->weight_decay, o->warmup, o->shift, o->rotate,
            o->scale, o->elastic, (unsigned long long)o->seed);
    char loss[96];
    fprintf(out, "loss: %s\n", describe_loss(o, loss, sizeof loss));
    const unsigned epochs = cosnet_trainer_epochs_done(r->trainer);
    fprintf(out, "epoch loss:");
    for (unsigned e = 1; e <= epochs; e++)
        fprintf(out, " %.5f", (double)cosnet_trainer_epoch_loss(r->trainer, e));
    fprintf(out, "\n");
    if (o->validation > 0)
        fprintf(out,
                "validation accuracy after the last epoch: %.2f%% of %zu\n",
                100.0 * cosnet_trainer_validation_accuracy(r->trainer, epochs),
                o->validation);
    fprintf(out,
            "\ntest accuracy (one model, predict = argmax_k cos(f(x), v_k), "
            "no label read): %zu/%zu (%.2f%%)\n",
            correct_of(r), total, total ? 100.0 * correct_of(r) / total : 0.0);
    fprintf(out, "per class:\n");
    for (size_t k = 0; k < CLASSES; k++) {
        size_t n, right;
        class_counts(r, k, &n, &right);
        fprintf(out, "  %-12s %5zu/%-5zu %6.2f%%\n", r->class_names[k], right,
                n, n ? 100.0 * right / n : 0.0);
    }
    fprintf(out, "confusion matrix (rows: true class, columns: predicted):\n");
    confusion_text_print(out, r->test, CLASSES);
    fprintf(out,
            "\ntime: load %.2f s, training %.2f s, test evaluation %.2f s\n",
            r->load_seconds, r->train_seconds, r->eval_seconds);
}

/* ---- JSON --------------------------------------------------------------- */

typedef struct text {
    char *data;
    size_t size, capacity;
    int failed;
} text;

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static void
add(text *t, const char *format, ...)
{
    if (t->failed)
        return;
    for (;;) {
        va_list arguments;
        va_start(arguments, format);
        int n = vsnprintf(t->data + t->size, t->capacity - t->size, format,
                          arguments);
        va_end(arguments);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->capacity - t->size) {
            t->size += (size_t)n;
            return;
        }
        size_t capacity = 2 * t->capacity + (size_t)n + 1;
        char *bigger = realloc(t->data, capacity);
        if (!bigger) {
            t->failed = 1;
            return;
        }
        t->data = bigger;
        t->capacity = capacity;
    }
}

static void add_string(text *t, const char *s)
{
    add(t, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            add(t, "\\%c", c);
        else if (c < 0x20)
            add(t, "\\u%04x", c);
        else
            add(t, "%c", c);
    }
    add(t, "\"");
}

char *json_report(const run_result *r)
{
    const options *o = r->opt;
    text t = {malloc(4096), 0, 4096, 0};
    if (!t.data)
        return NULL;
    t.data[0] = '\0';
    add(&t, "{\n  \"schema_version\": 1,\n  \"program\": \"" PROGRAM "\",\n");
    add(&t, "  \"version\": \"%s\",\n  \"isa\": \"%s\",\n", cosnet_version(),
        r->isa);
    add(&t, "  \"dataset\": \"%s\",\n  \"labels\": ",
        o->fashion ? "fashion-mnist" : "mnist");
    add_string(&t, o->labels);
    add(&t, ",\n  \"layers\": ");
    add_string(&t, cosnet_model_layers(r->model));
    add(&t,
        ",\n  \"parameters\": %zu,\n  \"epochs\": %u,\n  \"batch_size\": "
        "%zu,\n  \"learning_rate\": %.17g,\n  \"weight_decay\": %.17g,\n  "
        "\"warmup\": %.17g,\n  \"shift\": %u,\n  \"rotate\": %.17g,\n  "
        "\"scale\": %.17g,\n  \"elastic\": %.17g,\n  \"softmax\": %.17g,\n  "
        "\"validation\": %zu,\n  \"seed\": %llu,\n",
        cosnet_model_parameter_count(r->model), o->epochs, o->batch_size,
        o->learning_rate, o->weight_decay, o->warmup, o->shift, o->rotate,
        o->scale, o->elastic, o->softmax, o->validation,
        (unsigned long long)o->seed);
    const unsigned epochs = cosnet_trainer_epochs_done(r->trainer);
    add(&t, "  \"loss_history\": [");
    for (unsigned e = 1; e <= epochs; e++)
        add(&t, "%s%.9g", e > 1 ? ", " : "",
            (double)cosnet_trainer_epoch_loss(r->trainer, e));
    add(&t, "],\n  \"validation_accuracy\": [");
    for (unsigned e = 1; e <= epochs && o->validation > 0; e++)
        add(&t, "%s%.9g", e > 1 ? ", " : "",
            cosnet_trainer_validation_accuracy(r->trainer, e));
    add(&t, "],\n  \"test\": {\"correct\": %zu, \"total\": %zu,\n",
        correct_of(r), cosnet_evaluation_total(r->test));
    add(&t, "    \"classes\": [");
    for (size_t k = 0; k < CLASSES; k++) {
        size_t n, right;
        class_counts(r, k, &n, &right);
        add(&t, "%s{\"name\": ", k ? ", " : "");
        add_string(&t, r->class_names[k]);
        add(&t, ", \"correct\": %zu, \"total\": %zu}", right, n);
    }
    add(&t, "],\n    \"confusion\": [");
    for (size_t k = 0; k < CLASSES; k++) {
        add(&t, "%s[", k ? ", " : "");
        for (size_t j = 0; j < CLASSES; j++)
            add(&t, "%s%zu", j ? ", " : "",
                cosnet_evaluation_confusion(r->test, COSNET_RULE_OWN_LABEL, k,
                                            j));
        add(&t, "]");
    }
    add(&t,
        "]},\n  \"seconds\": {\"load\": %.3f, \"train\": %.3f, "
        "\"evaluate\": %.3f}\n}\n",
        r->load_seconds, r->train_seconds, r->eval_seconds);
    if (t.failed) {
        free(t.data);
        return NULL;
    }
    return t.data;
}
