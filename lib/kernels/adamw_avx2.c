/* The AdamW step, AVX2: four doubles per vector (adamw_x86_template.h). */
#include <immintrin.h>

#include "kernels/kernels.h"

typedef __m256d adamw_vector;
#define ADAMW_LANES 4
#define ADAMW_SET1(x) _mm256_set1_pd(x)
#define ADAMW_LOAD(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#define ADAMW_STORE(p, v) _mm_storeu_ps((p), _mm256_cvtpd_ps(v))
#define ADAMW_ADD(a, b) _mm256_add_pd(a, b)
#define ADAMW_SUB(a, b) _mm256_sub_pd(a, b)
#define ADAMW_MUL(a, b) _mm256_mul_pd(a, b)
#define ADAMW_DIV(a, b) _mm256_div_pd(a, b)
#define ADAMW_SQRT(a) _mm256_sqrt_pd(a)
#define ADAMW_NAME adamw_step_avx2
#include "kernels/adamw_x86_template.h"

void adamw_provide_avx2(kernel_table *table)
{
    table->adamw_step = adamw_step_avx2;
}
