/* confusion_text.h: one table layout for every program's text report. */
#include "confusion_text.h"

void confusion_text_print(FILE *out, const cosnet_evaluation *evaluation,
                          unsigned classes)
{
    fprintf(out, "      ");
    for (unsigned p = 0; p < classes; p++)
        fprintf(out, "%6u", p);
    fprintf(out, "\n");
    for (unsigned a = 0; a < classes; a++) {
        fprintf(out, "%6u", a);
        for (unsigned p = 0; p < classes; p++)
            fprintf(out, "%6zu",
                    cosnet_evaluation_confusion(evaluation,
                                                COSNET_RULE_OWN_LABEL, a, p));
        fprintf(out, "\n");
    }
}
