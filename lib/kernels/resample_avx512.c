/* The resampling kernel, AVX-512: eight doubles per vector
 * (resample_x86_template.h). */
#include <immintrin.h>

#include "kernels/kernels.h"

typedef __m512d resample_vector;
typedef __m256i resample_index;
#define RESAMPLE_LANES 8
#define RESAMPLE_SET1(x) _mm512_set1_pd(x)
#define RESAMPLE_LOAD(p) _mm512_loadu_pd(p)
#define RESAMPLE_ADD(a, b) _mm512_add_pd(a, b)
#define RESAMPLE_SUB(a, b) _mm512_sub_pd(a, b)
#define RESAMPLE_MUL(a, b) _mm512_mul_pd(a, b)
#define RESAMPLE_DIV(a, b) _mm512_div_pd(a, b)
#define RESAMPLE_FLOOR(a)                                                      \
    _mm512_roundscale_pd(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)
#define RESAMPLE_TRUNCATE(a) _mm512_cvttpd_epi32(a)
#define RESAMPLE_COLUMNS(x)                                                    \
    _mm512_add_pd(_mm512_set1_pd((double)(x)),                                 \
                  _mm512_setr_pd(0, 1, 2, 3, 4, 5, 6, 7))
#define RESAMPLE_GATHER(base, index) _mm512_i32gather_pd(index, base, 8)
#define RESAMPLE_STORE_FLOATS(p, v, n)                                         \
    _mm256_mask_storeu_ps(p, (__mmask8)((1u << (n)) - 1u), _mm512_cvtpd_ps(v))
#define RESAMPLE_INDEX_SET1(n) _mm256_set1_epi32(n)
#define RESAMPLE_INDEX_ADD(a, b) _mm256_add_epi32(a, b)
#define RESAMPLE_INDEX_MUL(a, b) _mm256_mullo_epi32(a, b)
#define RESAMPLE_INDEX_AND(a, b) _mm256_and_si256(a, b)
#define RESAMPLE_INDEX_GREATER(a, b) _mm256_cmpgt_epi32(a, b)
#define RESAMPLE_INDEX_SELECT(mask, yes, no) _mm256_blendv_epi8(no, yes, mask)
#define RESAMPLE_NAME resample_avx512
#include "kernels/resample_x86_template.h"

void resample_provide_avx512(kernel_table *table)
{
    table->resample = resample_avx512;
}
