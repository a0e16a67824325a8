/* The resampling kernel, AVX2: four doubles per vector
 * (resample_x86_template.h). */
#include <immintrin.h>

#include "kernels/kernels.h"

typedef __m256d resample_vector;
typedef __m128i resample_index;
#define RESAMPLE_LANES 4
#define RESAMPLE_SET1(x) _mm256_set1_pd(x)
#define RESAMPLE_LOAD(p) _mm256_loadu_pd(p)
#define RESAMPLE_ADD(a, b) _mm256_add_pd(a, b)
#define RESAMPLE_SUB(a, b) _mm256_sub_pd(a, b)
#define RESAMPLE_MUL(a, b) _mm256_mul_pd(a, b)
#define RESAMPLE_DIV(a, b) _mm256_div_pd(a, b)
#define RESAMPLE_FLOOR(a) _mm256_floor_pd(a)
#define RESAMPLE_TRUNCATE(a) _mm256_cvttpd_epi32(a)
#define RESAMPLE_COLUMNS(x)                                                    \
    _mm256_add_pd(_mm256_set1_pd((double)(x)), _mm256_setr_pd(0, 1, 2, 3))
#define RESAMPLE_GATHER(base, index) _mm256_i32gather_pd(base, index, 8)
#define RESAMPLE_STORE_FLOATS(p, v, n)                                         \
    _mm_maskstore_ps(                                                          \
        p, _mm_cmpgt_epi32(_mm_set1_epi32(n), _mm_setr_epi32(0, 1, 2, 3)),     \
        _mm256_cvtpd_ps(v))
#define RESAMPLE_INDEX_SET1(n) _mm_set1_epi32(n)
#define RESAMPLE_INDEX_ADD(a, b) _mm_add_epi32(a, b)
#define RESAMPLE_INDEX_MUL(a, b) _mm_mullo_epi32(a, b)
#define RESAMPLE_INDEX_AND(a, b) _mm_and_si128(a, b)
#define RESAMPLE_INDEX_GREATER(a, b) _mm_cmpgt_epi32(a, b)
#define RESAMPLE_INDEX_SELECT(mask, yes, no) _mm_blendv_epi8(no, yes, mask)
#define RESAMPLE_NAME resample_avx2
#include "kernels/resample_x86_template.h"

void resample_provide_avx2(kernel_table *table)
{
    table->resample = resample_avx2;
}
