/* The AdamW step, AVX-512: eight doubles per vector
 * (adamw_x86_template.h). */
#include <immintrin.h>

#include "kernels/kernels.h"

typedef __m512d adamw_vector;
#define ADAMW_LANES 8
#define ADAMW_SET1(x) _mm512_set1_pd(x)
#define ADAMW_LOAD(p) _mm512_cvtps_pd(_mm256_loadu_ps(p))
#define ADAMW_STORE(p, v) _mm256_storeu_ps((p), _mm512_cvtpd_ps(v))
#define ADAMW_ADD(a, b) _mm512_add_pd(a, b)
#define ADAMW_SUB(a, b) _mm512_sub_pd(a, b)
#define ADAMW_MUL(a, b) _mm512_mul_pd(a, b)
#define ADAMW_DIV(a, b) _mm512_div_pd(a, b)
#define ADAMW_SQRT(a) _mm512_sqrt_pd(a)
#define ADAMW_NAME adamw_step_avx512
#include "kernels/adamw_x86_template.h"

void adamw_provide_avx512(kernel_table *table)
{
    table->adamw_step = adamw_step_avx512;
}
