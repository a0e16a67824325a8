/* Filling report_data from libcosnet's results (public API only). */
#ifndef COSNET_REPORT_COLLECT_H
#define COSNET_REPORT_COLLECT_H

#include "cosnet.h"
#include "progress.h"
#include "report_data.h"

/* Copies counts and confusion matrices of all three rules from the train
 * and test evaluations (either may be NULL: its total is 0) into `data`.
 * A classifier's evaluation counts under the own-label rule only. */
void report_collect_evaluation(report_data *data,
                               const cosnet_evaluation *train,
                               const cosnet_evaluation *test);

/* Scores every image of `dataset` with the own-label rule (s_k =
 * cos(f_k(x), v_k), ties to the lowest k, float arithmetic as the library
 * uses), and returns in *entries (malloc'ed, caller frees) the `limit`
 * misclassified images with the lowest winning margin s_pred - s_true, in
 * that order; *errors receives how many were misclassified in all. Work is
 * split over `threads` threads by chunks of images; `line` (may be NULL)
 * gets one count per image scored. Returns a libcosnet status. */
cosnet_status report_collect_gallery(
    const cosnet_model *const *models, size_t model_count,
    const cosnet_labels *labels, const cosnet_dataset *dataset,
    unsigned threads, size_t limit, progress *line,
    report_gallery_entry **entries, size_t *entry_count, size_t *errors);

/* As report_collect_gallery, for ONE network used as a classifier
 * (cosnet-train): predict(x) = argmax_k cos(f(x), v_k) over the label
 * vectors, computed by cosnet_classify, so the misclassified images are
 * those cosnet_evaluate_classifier counts; the true class's similarity is
 * cos(f(x), v_true). */
cosnet_status report_collect_classifier_gallery(
    const cosnet_model *model, const cosnet_labels *labels,
    const cosnet_dataset *dataset, unsigned threads, size_t limit,
    progress *line, report_gallery_entry **entries, size_t *entry_count,
    size_t *errors);

#endif /* COSNET_REPORT_COLLECT_H */
