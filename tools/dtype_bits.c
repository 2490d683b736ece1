/* SPDX-License-Identifier: MIT */
/* Element bits of the float dtypes, shared by `clmse selftest` and the tests (dtype_bits.h). */
#include "dtype_bits.h"

#include <math.h>

uint64_t dtype_bits_sentinel(clmse_dtype d)
{
    switch (d) {
    case CLMSE_DTYPE_F64:
        return UINT64_C(0x7ff5a5a5a5a5a5a5);
    case CLMSE_DTYPE_F16:
        return 0x7d5au;
    case CLMSE_DTYPE_BF16:
        return 0x7fa5u;
    default:
        return 0x7fa5a5a5u;
    }
}

double dtype_bits_pow2(int k)
{
    if (k < -1022 || k > 1023)
        return 0.0;
    const uint64_t u = (uint64_t)(k + 1023) << 52;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

uint64_t dtype_bits_round(double v, int mbits, int ebits)
{
    const int bias = (1 << (ebits - 1)) - 1, emin = 1 - bias;
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    const uint64_t sign = (u >> 63) << (mbits + ebits);
    const uint64_t inf = (((uint64_t)1 << ebits) - 1) << mbits;
    const int exp = (int)((u >> 52) & 0x7ff);
    const uint64_t frac = u & (((uint64_t)1 << 52) - 1);
    if (exp == 0x7ff)
        return sign | inf | (frac ? (uint64_t)1 << (mbits - 1) : 0);
    if (exp == 0) /* zero, or a double subnormal: far below half of any target's subnormal */
        return sign;
    int e = exp - 1023;
    const uint64_t m = frac | ((uint64_t)1 << 52);   /* v = m * 2^(e - 52) */
    const int qexp = (e >= emin ? e : emin) - mbits; /* exponent of the target's quantum */
    const int shift = qexp - (e - 52);               /* >= 52 - mbits > 0 */
    if (shift > 53)                                  /* below half the smallest subnormal */
        return sign;
    uint64_t q = m >> shift;
    const uint64_t rem = m & (((uint64_t)1 << shift) - 1), half = (uint64_t)1 << (shift - 1);
    if (rem > half || (rem == half && (q & 1)))
        q++;
    if (e < emin) /* subnormal; q == 2^mbits is the smallest normal, encoded the same way */
        return sign | q;
    if (q == (uint64_t)1 << (mbits + 1)) {
        q >>= 1;
        e++;
    }
    if (e > bias)
        return sign | inf;
    return sign | ((uint64_t)(e + bias) << mbits) | (q - ((uint64_t)1 << mbits));
}

double dtype_bits_value(uint64_t bits, int mbits, int ebits)
{
    const int bias = (1 << (ebits - 1)) - 1;
    const int neg = (int)((bits >> (mbits + ebits)) & 1);
    const uint64_t e = (bits >> mbits) & (((uint64_t)1 << ebits) - 1);
    const uint64_t f = bits & (((uint64_t)1 << mbits) - 1);
    double v;
    if (e == ((uint64_t)1 << ebits) - 1)
        v = f ? (double)NAN : (double)INFINITY;
    else if (e == 0)
        v = (double)f * dtype_bits_pow2(1 - bias - mbits);
    else
        v = (double)(f | ((uint64_t)1 << mbits)) * dtype_bits_pow2((int)e - bias - mbits);
    return neg ? -v : v;
}

uint16_t dtype_bits_half(double v) { return (uint16_t)dtype_bits_round(v, 10, 5); }
uint16_t dtype_bits_bf16(double v) { return (uint16_t)dtype_bits_round(v, 7, 8); }

uint64_t dtype_bits_encode(clmse_dtype d, double v)
{
    switch (d) {
    case CLMSE_DTYPE_F64: {
        uint64_t u;
        memcpy(&u, &v, sizeof u);
        return u;
    }
    case CLMSE_DTYPE_F16:
        return dtype_bits_half(v);
    case CLMSE_DTYPE_BF16:
        return dtype_bits_bf16(v);
    default: {
        const float f = (float)v;
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        return u;
    }
    }
}

double dtype_bits_decode(clmse_dtype d, uint64_t bits)
{
    switch (d) {
    case CLMSE_DTYPE_F64: {
        double v;
        memcpy(&v, &bits, sizeof v);
        return v;
    }
    case CLMSE_DTYPE_F16:
        return dtype_bits_value(bits, 10, 5);
    case CLMSE_DTYPE_BF16:
        return dtype_bits_value(bits, 7, 8);
    default: {
        const uint32_t u = (uint32_t)bits;
        float f;
        memcpy(&f, &u, sizeof f);
        return (double)f;
    }
    }
}

int64_t dtype_bits_ordered(clmse_dtype d, uint64_t bits)
{
    const uint64_t sign = (uint64_t)1 << (dtype_bits_size(d) * 8 - 1);
    return (bits & sign) ? -(int64_t)(bits & (sign - 1)) : (int64_t)bits;
}

double dtype_bits_ulp_f64(double v)
{
    double a = v < 0 ? -v : v, next;
    uint64_t u;
    memcpy(&u, &a, sizeof u);
    u++;
    memcpy(&next, &u, sizeof next);
    return next - a;
}

uint64_t dtype_bits_encode_exact(clmse_dtype d, long double v)
{
    if (d == CLMSE_DTYPE_F32)
        return dtype_bits_encode(d, (double)(float)v);
    return dtype_bits_encode(d, (double)v);
}

/* Both rules once their special cases are settled: g is got's finite value. */
static int one_ulp(clmse_dtype d, uint64_t got, double g, long double ref, uint64_t want)
{
    if (d == CLMSE_DTYPE_F64) {
        long double diff = (long double)g - ref;
        if (diff < 0)
            diff = -diff;
        return diff <= (long double)dtype_bits_ulp_f64(g);
    }
    const int64_t k = dtype_bits_ordered(d, got) - dtype_bits_ordered(d, want);
    return k >= -1 && k <= 1;
}

int dtype_bits_near_ref(clmse_dtype d, uint64_t got, long double ref)
{
    const double g = dtype_bits_decode(d, got);
    const uint64_t want = dtype_bits_encode(d, (double)ref);
    if (isnan(ref))
        return isnan(g);
    if (isinf(ref) || isnan(g) || isinf(g))
        return got == want;
    return one_ulp(d, got, g, ref, want);
}

int dtype_bits_near_exact(clmse_dtype d, uint64_t got, long double exact)
{
    const uint64_t want = dtype_bits_encode_exact(d, exact);
    const double g = dtype_bits_decode(d, got), w = dtype_bits_decode(d, want);
    if (isnan(g))
        return 0;
    if (!isfinite(w) || isinf(g)) /* an infinity (or a NaN exact value) */
        return got == want;
    return one_ulp(d, got, g, exact, want);
}
