/* Internal: label-set generation that also reports its draw count, for the
 * benchmark (the public cosnet_labels_generate is this with draws NULL). */
#ifndef COSNET_LABELS_LABEL_SET_H
#define COSNET_LABELS_LABEL_SET_H

#include <stdint.h>

#include "cosnet.h"

/* The bound on candidate draws that max_draws 0 stands for. */
#define LABELS_DEFAULT_MAX_DRAWS 100000000u

/* As cosnet_labels_generate; draws (may be NULL) receives the number of
 * candidate draws made, on success and on GAVE_UP alike. */
cosnet_status labels_generate_counting(size_t count, size_t dims,
                                       double threshold, uint64_t seed,
                                       uint64_t max_draws, cosnet_labels **out,
                                       uint64_t *draws);

/* The squared norm of a row, in double from its floats (each square exact,
 * summed in index order): the value the cosine uses, and the one checked
 * against COSNET_LABELS_MIN_NORM. */
double labels_row_squared_norm(const float *row, size_t dims);

#endif
