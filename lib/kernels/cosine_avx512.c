/* AVX-512 cosine similarity and cosine loss (docs/math.md): the x86 steps
 * (cosine_x86_template.h) at 16 lanes, the tails under mask registers. */
#include "kernels/simd_avx512.h"

#include "kernels/cosine_x86_template.h"

void cosine_provide_avx512(kernel_table *table)
{
    table->cosine_similarity = cosine_similarity_rows;
    table->cosine_loss = cosine_loss_rows;
}
