/* The body of labels_magnitudes_<isa> (label_draw.h), included by
 * label_magnitude_<isa>.c with LABELS_MAGNITUDE_NAME set, so that one
 * source is compiled with each instruction set's flags and the compiler
 * vectorises the loop. Every operation is an IEEE one (no library calls,
 * no contraction: the files are built with -ffp-contract=off), so the
 * variants agree bit for bit.
 *
 * |g| = |u| sqrt(-2 ln s / s), 0 < s < 1 (s >= 2^-104: u and v are
 * multiples of 2^-52).
 *
 * ln s: s = m 2^e with m in [sqrt(1/2), sqrt(2)), from the bits of the
 * double; t = m - 1 is exact in double (so s near 1 keeps its accuracy),
 * z = t / (2 + t), |z| <= 0.1716, and ln m = 2 atanh z =
 * 2 (z + z^3/3 + z^5/5 + z^7/7 + z^9/9) with truncation error below
 * z^10 / 11 < 2.1e-9 relative. In float: t and z carry about 2^-23 each,
 * the series about 3 2^-24, e ln 2 about 2^-24; for e = -1 the sum
 * e ln 2 + ln m loses at most a factor 3 (|ln s| >= 0.34), for e = 0 it is
 * ln m alone, for e <= -2 nothing. So ln s is within about 1e-6 relative;
 * u^2 and s rounded to float, the product and quotient add 5 2^-24, and
 * the square root halves it all: |g| within about 8e-7 relative, under
 * LABELS_MAGNITUDE_ERROR = 2^-18 (3.8e-6) with room to spare. */
#include <stdint.h>
#include <string.h>

#include "labels/label_draw.h"

void LABELS_MAGNITUDE_NAME(const double *u, const double *s, float *magnitude,
                           size_t count)
{
    for (size_t i = 0; i < count; i++) {
        double value = s[i];
        uint64_t bits;
        memcpy(&bits, &value, sizeof bits);
        /* The exponent field as a double without an integer conversion
         * (which AVX2 lacks): 2^52 + field has the field as its low bits. */
        uint64_t exponent_bits = 0x4330000000000000ull | (bits >> 52);
        double exponent;
        memcpy(&exponent, &exponent_bits, sizeof exponent);
        exponent = (exponent - 0x1p52) - 1023.0; /* s > 0: sign bit 0 */
        uint64_t mantissa_bits =
            (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
        double mantissa;
        memcpy(&mantissa, &mantissa_bits, sizeof mantissa);
        /* m in [1, 2) -> [sqrt(1/2), sqrt(2)): halving is exact. */
        double high = mantissa > 1.4142135623730951 ? 1.0 : 0.0;
        mantissa = mantissa - high * (0.5 * mantissa);
        exponent = exponent + high;
        float t = (float)(mantissa - 1.0);
        float z = t / (2.0f + t);
        float z2 = z * z;
        float series =
            1.0f + z2 * (1.0f / 3 +
                         z2 * (1.0f / 5 + z2 * (1.0f / 7 + z2 * (1.0f / 9))));
        float log_s = (float)exponent * 0.693147182f + 2.0f * z * series;
        float ratio = (-2.0f * log_s) / (float)value;
        float u_squared = (float)(u[i] * u[i]);
        float g_squared = u_squared * ratio;
        magnitude[i] = sqrtf(g_squared);
    }
}
