/* The programs' text reports: the own-label rule's confusion matrix as a
 * table of right-aligned columns, six characters wide. */
#ifndef COSNET_EXAMPLES_CONFUSION_TEXT_H
#define COSNET_EXAMPLES_CONFUSION_TEXT_H

#include <stdio.h>

#include "cosnet.h"

/* A header line of the predicted classes 0..classes-1, then one line per
 * true class: its number and its counts. */
void confusion_text_print(FILE *out, const cosnet_evaluation *evaluation,
                          unsigned classes);

#endif
