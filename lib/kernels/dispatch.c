/* Fills the per-op kernel configuration once per process: every variant the
 * CPU runs gets a table that starts from the plain-C references and takes
 * each op its ISA provides; the best one (or the one COSNET_ISA forces)
 * becomes active. The only mutable global state of the library besides the
 * allocator hook, written once under pthread_once. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "kernels/dense.h"
#include "kernels/kernels.h"

const char *const kernel_variant_names[] = {"scalar",
#if defined(COSNET_HAVE_X86_KERNELS)
                                            "avx2", "avx512",
#endif
#if defined(COSNET_HAVE_ARM_KERNELS)
                                            "neon",
#endif
                                            NULL};

/* The dense kernels come as one structure per ISA (dense.h). */
static void provide_dense(kernel_table *table, const dense_kernels *dense)
{
    table->dense_forward = dense->forward;
    table->dense_backward_input = dense->backward_input;
    table->dense_backward_weights = dense->backward_weights;
    table->dense_backward_weights_summed = dense->backward_weights_summed;
    table->relu_backward = dense->relu_backward;
}

#if defined(COSNET_HAVE_X86_KERNELS)
static void dense_provide_avx2(kernel_table *table)
{
    provide_dense(table, &dense_kernels_avx2);
}
static void dense_provide_avx512(kernel_table *table)
{
    provide_dense(table, &dense_kernels_avx512);
}
#endif
#if defined(COSNET_HAVE_ARM_KERNELS)
static void dense_provide_neon(kernel_table *table)
{
    provide_dense(table, &dense_kernels_neon);
}
#endif

/* Per variant: the providers of the ops its ISA has, in addition to the
 * references. A new op's ISA version is one more entry here. */
typedef struct variant {
    const char *name;
    kernel_provider providers[8];
} variant;

static const variant variants[] = {
    {"scalar", {NULL}},
#if defined(COSNET_HAVE_X86_KERNELS)
    {"avx2",
     {conv_provide_avx2, pool_provide_avx2, cosine_provide_avx2,
      dense_provide_avx2, adamw_provide_avx2, resample_provide_avx2}},
    {"avx512",
     {conv_provide_avx512, pool_provide_avx512, cosine_provide_avx512,
      dense_provide_avx512, adamw_provide_avx512, resample_provide_avx512}},
#endif
#if defined(COSNET_HAVE_ARM_KERNELS)
    {"neon",
     {conv_provide_neon, pool_provide_neon, cosine_provide_neon,
      dense_provide_neon}},
#endif
};
#define VARIANT_COUNT (sizeof variants / sizeof variants[0])

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

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static kernel_table tables[VARIANT_COUNT];
static int table_ready[VARIANT_COUNT];
static const kernel_table *selected_table;
static char selection_error[256];

static int variant_index(const char *name)
{
    for (size_t v = 0; v < VARIANT_COUNT; v++)
        if (strcmp(variants[v].name, name) == 0)
            return (int)v;
    return -1;
}

static void fill_tables(void)
{
    for (size_t v = 0; v < VARIANT_COUNT; v++) {
        if (!cpu_runs(variants[v].name))
            continue;
        kernel_table *table = &tables[v];
        kernels_provide_scalar(table);
        table->name = variants[v].name;
        for (const kernel_provider *provide = variants[v].providers; *provide;
             provide++)
            (*provide)(table);
        table_ready[v] = 1;
    }
    const char *forced = getenv("COSNET_ISA");
    if (forced && *forced) {
        int v = variant_index(forced);
        if (v < 0)
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
        else if (!table_ready[v])
            snprintf(selection_error, sizeof selection_error,
                     "COSNET_ISA=%s: this CPU lacks the instructions it needs",
                     forced);
        else
            selected_table = &tables[v];
        return;
    }
    /* Variants run from worst to best: the last one the CPU runs wins. */
    for (size_t v = 0; v < VARIANT_COUNT; v++)
        if (table_ready[v])
            selected_table = &tables[v];
}

cosnet_status kernels_active(const kernel_table **table)
{
    pthread_once(&tables_once, fill_tables);
    if (!selected_table)
        return error_set(COSNET_ERROR_UNSUPPORTED, "%s", selection_error);
    *table = selected_table;
    return COSNET_OK;
}

const kernel_table *kernels_by_name(const char *name)
{
    pthread_once(&tables_once, fill_tables);
    int v = name ? variant_index(name) : -1;
    return v >= 0 && table_ready[v] ? &tables[v] : NULL;
}

COSNET_API cosnet_status cosnet_isa(const char **name)
{
    const kernel_table *table = NULL;
    cosnet_status status = kernels_active(&table);
    if (status == COSNET_OK && name)
        *name = table->name;
    return status;
}
