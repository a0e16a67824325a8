/* Chooses the kernel table once per process: the best variant the CPU runs,
 * or the one COSNET_ISA forces. The only mutable global state of the
 * library, written once under pthread_once. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "kernels/kernels.h"

#define COSNET_KERNEL_TABLE(isa)                                               \
    {                                                                          \
#isa, conv3x3_forward_##isa, conv3x3_backward_input_##isa,             \
            conv3x3_backward_weights_##isa, maxpool2x2_forward_##isa,          \
            maxpool2x2_backward_##isa, cosine_similarity_##isa,                \
            cosine_loss_##isa,                                                 \
    }

const kernel_table kernel_table_scalar = COSNET_KERNEL_TABLE(scalar);
#if defined(COSNET_HAVE_X86_KERNELS)
const kernel_table kernel_table_avx2 = COSNET_KERNEL_TABLE(avx2);
const kernel_table kernel_table_avx512 = COSNET_KERNEL_TABLE(avx512);
#endif
#if defined(COSNET_HAVE_ARM_KERNELS)
const kernel_table kernel_table_neon = COSNET_KERNEL_TABLE(neon);
#endif

const char *const kernel_variant_names[] = {"scalar",
#if defined(COSNET_HAVE_X86_KERNELS)
                                            "avx2", "avx512",
#endif
#if defined(COSNET_HAVE_ARM_KERNELS)
                                            "neon",
#endif
                                            NULL};

static int cpu_runs(const char *name)
{
    if (strcmp(name, "scalar") == 0)
        return 1;
#if defined(COSNET_HAVE_X86_KERNELS)
    __builtin_cpu_init();
    if (strcmp(name, "avx2") == 0)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (strcmp(name, "avx512") == 0)
        return __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
#if defined(COSNET_HAVE_ARM_KERNELS)
    /* Advanced SIMD is part of the AArch64 baseline. */
    if (strcmp(name, "neon") == 0)
        return 1;
#endif
    return 0;
}

static const kernel_table *table_named(const char *name)
{
    if (strcmp(name, "scalar") == 0)
        return &kernel_table_scalar;
#if defined(COSNET_HAVE_X86_KERNELS)
    if (strcmp(name, "avx2") == 0)
        return &kernel_table_avx2;
    if (strcmp(name, "avx512") == 0)
        return &kernel_table_avx512;
#endif
#if defined(COSNET_HAVE_ARM_KERNELS)
    if (strcmp(name, "neon") == 0)
        return &kernel_table_neon;
#endif
    return NULL;
}

const kernel_table *kernels_by_name(const char *name)
{
    if (!name || !table_named(name) || !cpu_runs(name))
        return NULL;
    return table_named(name);
}

static pthread_once_t selection_once = PTHREAD_ONCE_INIT;
static const kernel_table *selected_table;
static char selection_error[256];

static void select_table(void)
{
    const char *forced = getenv("COSNET_ISA");
    if (forced && *forced) {
        if (!table_named(forced)) {
            snprintf(selection_error, sizeof selection_error,
                     "COSNET_ISA=%s: unknown variant (known: scalar"
#if defined(COSNET_HAVE_X86_KERNELS)
                     ", avx2, avx512"
#endif
#if defined(COSNET_HAVE_ARM_KERNELS)
                     ", neon"
#endif
                     ")",
                     forced);
        } else if (!cpu_runs(forced)) {
            snprintf(selection_error, sizeof selection_error,
                     "COSNET_ISA=%s: this CPU lacks the instructions it needs",
                     forced);
        } else {
            selected_table = table_named(forced);
        }
        return;
    }
    /* Names run from worst to best: the last one the CPU runs wins. */
    for (int i = 0; kernel_variant_names[i]; i++)
        if (cpu_runs(kernel_variant_names[i]))
            selected_table = table_named(kernel_variant_names[i]);
}

cosnet_status kernels_active(const kernel_table **table)
{
    pthread_once(&selection_once, select_table);
    if (!selected_table)
        return error_set(COSNET_ERROR_UNSUPPORTED, "%s", selection_error);
    *table = selected_table;
    return COSNET_OK;
}

COSNET_API cosnet_status cosnet_isa(const char **name)
{
    const kernel_table *table = NULL;
    cosnet_status status = kernels_active(&table);
    if (status == COSNET_OK && name)
        *name = table->name;
    return status;
}
