/* SPDX-License-Identifier: MIT */
/* Element bits of the four float dtypes: float16/bfloat16 rounding, encode/decode, load/store
 * in a byte image, and the one-ulp rules that `clmse selftest` and the test suite check
 * reductions with. Not library API (STYLE.md R23): the clmse tool and the test runners compile
 * it in. */
#ifndef CLMSE_TOOLS_DTYPE_BITS_H
#define CLMSE_TOOLS_DTYPE_BITS_H

#include "clmse.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Bytes per element of a float dtype, inline: reference loops call it for every element. */
static inline size_t dtype_bits_size(clmse_dtype d)
{
    return d == CLMSE_DTYPE_F64 ? 8 : d == CLMSE_DTYPE_F32 ? 4 : 2;
}

/* Element i of a byte image of dtype d, as bits (inline, as above). */
static inline uint64_t dtype_bits_load(const unsigned char *img, clmse_dtype d, size_t i)
{
    const size_t w = dtype_bits_size(d);
    if (w == 2) {
        uint16_t v;
        memcpy(&v, img + 2 * i, sizeof v);
        return v;
    }
    if (w == 4) {
        uint32_t v;
        memcpy(&v, img + 4 * i, sizeof v);
        return v;
    }
    uint64_t v;
    memcpy(&v, img + 8 * i, sizeof v);
    return v;
}

static inline void dtype_bits_store(unsigned char *img, clmse_dtype d, size_t i, uint64_t bits)
{
    const size_t w = dtype_bits_size(d);
    if (w == 2) {
        const uint16_t v = (uint16_t)bits;
        memcpy(img + 2 * i, &v, sizeof v);
    } else if (w == 4) {
        const uint32_t v = (uint32_t)bits;
        memcpy(img + 4 * i, &v, sizeof v);
    } else {
        memcpy(img + 8 * i, &bits, sizeof bits);
    }
}

/* A NaN payload per dtype that no kernel produces: an element still holding it was not
 * written. */
uint64_t dtype_bits_sentinel(clmse_dtype d);

/* 2^k for -1022 <= k <= 1023 (outside: 0), without libm. */
double dtype_bits_pow2(int k);
/* Round-to-nearest-even of `v` into a binary format with `mbits` fraction bits and `ebits`
 * exponent bits (float16: 10, 5; bfloat16: 7, 8; float32: 23, 8), with subnormals, overflow to
 * infinity, and NaN mapped to a quiet NaN of the same sign. Returns the format's bits. */
uint64_t dtype_bits_round(double v, int mbits, int ebits);
/* The exact value of `bits` in that format. */
double dtype_bits_value(uint64_t bits, int mbits, int ebits);

uint16_t dtype_bits_half(double v); /* float16, rounded once */
uint16_t dtype_bits_bf16(double v); /* bfloat16, rounded once */

/* The bits of `v` rounded once (to nearest even) to dtype d, and back. */
uint64_t dtype_bits_encode(clmse_dtype d, double v);
double dtype_bits_decode(clmse_dtype d, uint64_t bits);
/* Maps the sign-magnitude encoding onto a line where neighbouring values differ by one. */
int64_t dtype_bits_ordered(clmse_dtype d, uint64_t bits);
/* One ulp of |v| (a finite double): the gap to the next double away from zero. */
double dtype_bits_ulp_f64(double v);

/* Two one-ulp rules. Both: float64 passes when |got - ref| <= ulp(got); the narrower types
 * when got is at most one step from the reference rounded to d. They differ where the test
 * suite and the selftest have always differed:
 *
 * dtype_bits_near_ref (the test suite's, tests/tensor_harness.c): a NaN reference is met by any
 * NaN; an infinite reference, or a NaN or infinite got, needs exactly the reference's bits; the
 * reference is rounded to d through double (float32 too).
 *
 * dtype_bits_near_exact (clmse selftest's; its reductions never expect NaN): a NaN got always
 * fails; where the exact value rounds to an infinity, or got is one, the bits must match; float32
 * rounds the exact value once, from long double. */
int dtype_bits_near_ref(clmse_dtype d, uint64_t got, long double ref);
int dtype_bits_near_exact(clmse_dtype d, uint64_t got, long double exact);
/* The long-double value rounded to d as dtype_bits_near_exact rounds it. */
uint64_t dtype_bits_encode_exact(clmse_dtype d, long double v);

#endif /* CLMSE_TOOLS_DTYPE_BITS_H */
