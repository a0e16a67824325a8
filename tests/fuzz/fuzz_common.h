/* Shared pieces of the libFuzzer targets (tests/fuzz/fuzz_*.c): private
 * scratch files, and checks that abort (a finding) when the library
 * breaks a promise of its header. The same targets are linked either with
 * libFuzzer (-Dfuzzing=true, clang) or with replay_main.c, which runs a
 * committed corpus through them as an ordinary test. */
#ifndef COSNET_FUZZ_COMMON_H
#define COSNET_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "cosnet.h"

/* The entry point every target defines (libFuzzer's interface). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Path of scratch file `index` (0..3) in a private folder made on first
 * use (under /dev/shm when it exists, else $TMPDIR or /tmp). */
const char *fuzz_scratch_path(int index);

/* Writes size bytes to scratch file `index`, replacing it; returns its
 * path. Aborts if the file cannot be written. */
const char *fuzz_write_file(int index, const void *bytes, size_t size);

/* Aborts with a message (a finding). */
void fuzz_fail(const char *what, cosnet_status status);

/* A failed call must have set a status with a name and a message. */
void fuzz_check_failure(const char *what, cosnet_status status);

/* Runs a loaded model on a fixed image and checks outputs are finite. */
void fuzz_use_model(const cosnet_model *model);

#endif
