/* cosnet-mnist --json: the results as one JSON object, checked for
 * writability before any work and written at the end -- to stdout for
 * "-", else through the file writer (lib/common/file_writer.c, compiled
 * into the program): a temporary file renamed into place, a link kept and
 * its target replaced, a FIFO or device written into. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file_writer.h"
#include "cosnet-mnist.h"

static void json_string(FILE *out, const char *text)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

/* A DIGITS x DIGITS confusion matrix, rows = true digit. */
static void json_matrix(FILE *out, const cosnet_evaluation *evaluation,
                        cosnet_rule rule)
{
    for (unsigned a = 0; a < DIGITS; a++) {
        fprintf(out, "%s[", a ? ",\n      " : "");
        for (unsigned p = 0; p < DIGITS; p++)
            fprintf(out, "%s%zu", p ? ", " : "",
                    cosnet_evaluation_confusion(evaluation, rule, a, p));
        fputc(']', out);
    }
}

static void json_rule(FILE *out, const char *name, const results *r,
                      cosnet_rule rule)
{
    fprintf(out,
            "  \"%s\": {\"train\": {\"correct\": %zu, \"total\": %zu}, "
            "\"test\": {\"correct\": %zu, \"total\": %zu},\n"
            "    \"train_confusion\": [",
            name, cosnet_evaluation_correct(r->train, rule),
            cosnet_evaluation_total(r->train),
            cosnet_evaluation_correct(r->test, rule),
            cosnet_evaluation_total(r->test));
    json_matrix(out, r->train, rule);
    fprintf(out, "],\n    \"test_confusion\": [");
    json_matrix(out, r->test, rule);
    fprintf(out, "]},\n");
}

static void json_body(FILE *out, const run_summary *run)
{
    const options *opt = run->opt;
    const results *r = run->r;
    fprintf(out, "{\n  \"schema_version\": 2,\n  \"version\": ");
    json_string(out, cosnet_version());
    fprintf(out, ",\n  \"isa\": ");
    json_string(out, run->isa);
    fprintf(out, ",\n  \"threads\": %u,\n  \"data\": ", run->threads);
    json_string(out, opt->data_dir);
    fprintf(out, ",\n  \"config\": {\"labels\": ");
    json_string(out, run->labels_name);
    if (opt->load_dir) {
        fprintf(out, ", \"load\": ");
        json_string(out, opt->load_dir);
        fprintf(out, ", \"label_seed\": null, \"seed\": null, \"epochs\": "
                     "null, \"batches\": null, \"batch_size\": null},\n");
    } else {
        if (opt->generate_labels)
            fprintf(out, ", \"label_seed\": %llu",
                    (unsigned long long)opt->label_seed);
        else
            fprintf(out, ", \"label_seed\": null");
        fprintf(out,
                ", \"seed\": %llu, \"epochs\": %u, \"batches\": %zu, "
                "\"batch_size\": %zu},\n",
                (unsigned long long)opt->seed, opt->epochs, opt->batches,
                opt->batch_size);
    }
    json_rule(out, "seed_rule", r, COSNET_RULE_SEED);
    json_rule(out, "own_label_rule", r, COSNET_RULE_OWN_LABEL);
    json_rule(out, "image_blind_audit", r, COSNET_RULE_IMAGE_BLIND);
    fprintf(out, "  \"loss_history\": ");
    if (run->history)
        loss_history_json(out, run->history, opt->batch_losses);
    else
        fprintf(out, "null");
    fprintf(out, ",\n");
    if (opt->load_dir) {
        fprintf(out, "  \"final_loss\": null,\n");
    } else {
        fprintf(out, "  \"final_loss\": [");
        for (unsigned k = 0; k < DIGITS; k++)
            fprintf(out, "%s%.9g", k ? ", " : "", (double)run->final_loss[k]);
        fprintf(out, "],\n");
    }
    fprintf(out,
            "  \"time_s\": {\"load\": %.6f, \"train\": %.6f, \"eval\": %.6f, "
            "\"total\": %.6f}\n}\n",
            run->time.load, run->time.train, run->time.eval, run->time.total);
}

/* --json names what stdout already is, a pipe or a file (/dev/stdout,
 * /proc/self/fd/1, the file stdout is redirected to): write to stdout, as
 * for "-", so that the stream holds the JSON alone. (A terminal or a device
 * is simply written into.) */
void json_find_stdout(options *opt)
{
    if (opt->json_path && !opt->json_to_stdout &&
        run_files_is_standard_output(opt->json_path))
        opt->json_to_stdout = 1;
}

int json_check(const options *opt)
{
    if (!opt->json_path || opt->json_to_stdout)
        return 0;
    char message[FILE_WRITE_MESSAGE_SIZE];
    if (file_write_check_message(opt->json_path, message, sizeof message) !=
        COSNET_OK) {
        fprintf(stderr, PROGRAM ": --json: %s\n", message);
        return EXIT_FAILURE;
    }
    return 0;
}

int json_write(const run_summary *run)
{
    const char *path = run->opt->json_path;
    char *text = NULL;
    size_t size = 0;
    FILE *memory = open_memstream(&text, &size);
    if (!memory)
        return out_of_memory("the JSON text");
    json_body(memory, run);
    if (ferror(memory) | fclose(memory)) {
        free(text);
        return out_of_memory("the JSON text");
    }
    int result = 0;
    if (run->opt->json_to_stdout) {
        if (fwrite(text, 1, size, stdout) != size || fflush(stdout) != 0) {
            fprintf(stderr, PROGRAM ": cannot write the JSON to stdout: %s\n",
                    strerror(errno));
            result = EXIT_FAILURE;
        }
    } else {
        char message[FILE_WRITE_MESSAGE_SIZE];
        if (file_write_atomic_message(path, text, size, message,
                                      sizeof message) != COSNET_OK) {
            fprintf(stderr, PROGRAM ": --json: %s\n", message);
            result = EXIT_FAILURE;
        }
    }
    free(text);
    return result;
}
