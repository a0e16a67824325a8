/* cosnet-mnist's text report: the configuration, the three rules in the
 * article's format, the sentence that says what the seed rule measures, the
 * own-label confusion matrix and the times. */
#include <stdio.h>
#include <stdlib.h>

#include "../common/confusion_text.h"
#include "cosnet-mnist.h"

/* The article's percentage: Elixir's Float.round(x * 100, 6) printed as the
 * shortest decimal that reads back as the same double, with at least one
 * digit after the point (99.995, 100.0, 99.978333). */
static void format_percent(size_t correct, size_t total, char *out, size_t size)
{
    double percent = total ? ((double)correct / (double)total) * 100.0 : 0.0;
    char text[64];
    snprintf(text, sizeof text, "%.6f", percent);
    double rounded = strtod(text, NULL);
    for (int decimals = 1; decimals <= 6; decimals++) {
        snprintf(out, size, "%.*f", decimals, rounded);
        if (strtod(out, NULL) == rounded)
            return;
    }
}

static void print_article_line(FILE *out, const results *r, cosnet_rule rule)
{
    char train_percent[64], test_percent[64];
    size_t train_correct = cosnet_evaluation_correct(r->train, rule);
    size_t train_total = cosnet_evaluation_total(r->train);
    size_t test_correct = cosnet_evaluation_correct(r->test, rule);
    size_t test_total = cosnet_evaluation_total(r->test);
    format_percent(train_correct, train_total, train_percent,
                   sizeof train_percent);
    format_percent(test_correct, test_total, test_percent, sizeof test_percent);
    fprintf(out, "  Train Set: %zu/%zu (%s%%) | Test Set: %zu/%zu (%s%%)\n",
            train_correct, train_total, train_percent, test_correct, test_total,
            test_percent);
}

void print_report(FILE *out, const run_summary *run)
{
    const options *opt = run->opt;
    const results *r = run->r;
    const timings *seconds = &run->time;
    fprintf(out, PROGRAM " %s (kernels %s, %u threads)\n", cosnet_version(),
            run->isa, run->threads);
    if (opt->load_dir) {
        fprintf(out, "models and labels loaded from %s\n", opt->load_dir);
    } else {
        fprintf(out, "labels %s", run->labels_name);
        if (opt->generate_labels)
            fprintf(out, " (label seed %llu)",
                    (unsigned long long)opt->label_seed);
        fprintf(out,
                ", seed %llu, %u epoch%s x %zu batches of %zu images "
                "(%zu images per digit)\n",
                (unsigned long long)opt->seed, opt->epochs,
                opt->epochs == 1 ? "" : "s", opt->batches, opt->batch_size,
                opt->batches * opt->batch_size);
        fprintf(out, "final epoch loss per digit:");
        for (unsigned k = 0; k < DIGITS; k++)
            fprintf(out, "%s %u: %.6f", k == 5 ? "\n   " : "", k,
                    (double)run->final_loss[k]);
        fprintf(out, "\n");
    }
    fprintf(out, "\nseed rule (the article's test_1; reads the true label):\n");
    print_article_line(out, r, COSNET_RULE_SEED);
    fprintf(out,
            "own-label rule (no label read; the models' honest accuracy):\n");
    print_article_line(out, r, COSNET_RULE_OWN_LABEL);
    fprintf(out,
            "image-blind audit (seed rule with f_k(x) = v_k, never looks at "
            "the image):\n");
    print_article_line(out, r, COSNET_RULE_IMAGE_BLIND);
    fprintf(
        out,
        "\nThe seed rule compares every model's output with the TRUE digit's "
        "vector,\nso it reads the answer: a predictor that ignores the image "
        "scores 100%%\nunder it (the audit line); the own-label line is the "
        "honest accuracy of\nthese ten models.\n");

    fprintf(out,
            "\nown-label rule, test set confusion (rows: true digit, columns: "
            "predicted):\n");
    confusion_text_print(out, r->test, DIGITS);

    size_t evaluated =
        cosnet_evaluation_total(r->train) + cosnet_evaluation_total(r->test);
    fprintf(out, "\ntime: load %.2f s", seconds->load);
    if (!opt->load_dir) {
        double steps = (double)DIGITS * opt->epochs *
                       (double)(opt->batches * opt->batch_size);
        fprintf(out, " | train %.2f s (%.0f image-steps/s)", seconds->train,
                seconds->train > 0 ? steps / seconds->train : 0.0);
    }
    fprintf(out,
            " | evaluation %.2f s (%.0f images/s through %d models) | total "
            "%.2f s\n",
            seconds->eval,
            seconds->eval > 0 ? (double)evaluated / seconds->eval : 0.0, DIGITS,
            seconds->total);
}
