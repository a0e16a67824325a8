/* Finding the MNIST files, the same way in every example program.
 *
 * The folder is --data DIR if given, else $COSNET_DATA if set and not
 * empty, else ${XDG_CACHE_HOME:-$HOME/.cache}/cosnet/mnist -- where
 * scripts/fetch-mnist.sh puts the files. In it each IDX file may be NAME
 * (raw) or NAME.gz. */
#ifndef COSNET_EXAMPLES_DATA_FOLDER_H
#define COSNET_EXAMPLES_DATA_FOLDER_H

#include <stdio.h>

#include "cosnet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The folder as above, from `given` (NULL if no --data); malloc'd, the
 * caller frees it. NULL when none can be formed (no HOME) or out of
 * memory. */
char *data_folder(const char *given);

/* folder/NAME if it exists, else folder/NAME.gz if that exists, else
 * folder/NAME (so that the library reports that one missing); malloc'd,
 * NULL when out of memory. */
char *data_file(const char *folder, const char *name);

/* Opens the split "train" or "t10k" of the folder (PREFIX-images-idx3-ubyte
 * and PREFIX-labels-idx1-ubyte, raw or .gz) with labels below
 * class_count. Returns the library's status (OUT_OF_MEMORY if a name
 * cannot be formed); on failure the message is cosnet_last_error(). */
cosnet_status data_open(const char *folder, const char *split,
                        unsigned class_count, cosnet_dataset **out);

/* After a failed data_open: if the folder lacks the files, prints to `out`
 * how to fetch them, as "PROGRAM: ..." lines. */
void data_missing_hint(FILE *out, const char *program, const char *folder);

#ifdef __cplusplus
}
#endif

#endif
