/* SPDX-License-Identifier: MIT */
/* Partial results on the host: fold, round once, and the integer encoding (include/clmse.h,
 * "partial results"). Pure IEEE double arithmetic, so the same partials give the same bits on
 * every host: src/CMakeLists.txt builds this file with -ffp-contract=off, since an a*b+c that
 * one compiler fuses and another does not rounds differently. Explicit fma() calls are fine:
 * fma is correctly rounded everywhere. */
#include "internal.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Where FLT_EVAL_METHOD != 0 (x87: i386 without SSE2), a + b may be kept in an 80-bit
 * register: TwoSum's error term then comes out 0, and whether a value was rounded would
 * depend on register allocation. A volatile store rounds each result to a double. (x87 still
 * rounds to 64 bits first, so a rare tie may round differently from SSE2: build with
 * -msse2 -mfpmath=sse where the bits must match other hosts.) */
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
static double force_double(double x)
{
    volatile double v = x;
    return v;
}
static float force_float(float x)
{
    volatile float v = x;
    return v;
}
#define RD(x) force_double(x)
#define RF(x) force_float(x)
#else
#define RD(x) (x)
#define RF(x) (x)
#endif

#define TWO_M64 0x1p-64 /* the device's overflow rescue scale (cl/common.cl) */
#define TWO_P64 0x1p64
#define FLAGS_KNOWN (CLMSE_PARTIAL_NAN | CLMSE_PARTIAL_INF)
#define DIGITS (CLMSE_PARTIAL_WORDS - 4) /* value words, 32 bits each from 2^-1074 up */
/* A word of a sum of at most 2^29 encodings: digits and count halves are below 2^32. */
#define WORD_MAX ((INT64_C(1) << 29) * (INT64_C(0xffffffff)))

static uint64_t bits_of(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double double_of(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* Knuth's TwoSum: s = RN(a + b) and e = a + b - s exactly (both finite). */
static void two_sum(double a, double b, double *s, double *e)
{
    const double sum = RD(a + b);
    const double bp = RD(sum - a);
    *e = RD(RD(a - RD(sum - bp)) + RD(b - bp));
    *s = sum;
}

/* ---- validation ---- */

/* Flags and exponent; an unflagged value must be finite and not negative (a sum of squares):
 * anything else did not come from clmse_mse_partial or these functions. */
static clmse_status check_partial(const char *fn, const char *what, const clmse_partial *p)
{
    if (p->flags & ~FLAGS_KNOWN)
        return clmse__fail(NULL, CLMSE_ERROR_INVALID_ARGUMENT, CL_SUCCESS,
                           "%s: %s has unknown flags 0x%" PRIx32 " (known: NaN 0x1, Inf 0x2)", fn,
                           what, p->flags);
    if (p->exponent != 0 && p->exponent != 64)
        return clmse__fail(NULL, CLMSE_ERROR_INVALID_ARGUMENT, CL_SUCCESS,
                           "%s: %s has exponent %" PRId32 "; it must be 0 or 64", fn, what,
                           p->exponent);
    if (p->flags != 0)
        return CLMSE_SUCCESS; /* the value fields are ignored */
    if (!isfinite(p->sum) || !isfinite(p->sum_low))
        return clmse__fail(NULL, CLMSE_ERROR_INVALID_ARGUMENT, CL_SUCCESS,
                           "%s: %s has a non-finite value (sum %g, sum_low %g) but no flag", fn,
                           what, p->sum, p->sum_low);
    /* The sign of a sum of doubles is exact even where the sum rounds (no underflow to 0). */
    if (RD(p->sum + p->sum_low) < 0.0)
        return clmse__fail(NULL, CLMSE_ERROR_INVALID_ARGUMENT, CL_SUCCESS,
                           "%s: %s has a negative value (sum %g + sum_low %g): a sum of squares "
                           "is never negative",
                           fn, what, p->sum, p->sum_low);
    return CLMSE_SUCCESS;
}

/* ---- fold ---- */

/* (ax, ay) + (bx, by) as cl/common.cl's pair_merge: TwoSum of the heads, the error and then
 * b's low part added to a's low part, in that order. */
static void pair_merge(double ax, double ay, double bx, double by, double *x, double *y)
{
    double s, e;
    two_sum(ax, bx, &s, &e);
    *x = s;
    *y = RD(RD(ay + e) + by);
}

/* Adds the unflagged b into the unflagged a as cl/common.cl's part_merge does, with its
 * overflow rescue; a value infinite even at exponent 64 becomes the Inf flag (its mean is
 * infinite too: the sum exceeds 2^1088 and the count is below 2^64). */
static void merge(clmse_partial *a, const clmse_partial *b)
{
    double ax = a->sum, ay = a->sum_low, bx = b->sum, by = b->sum_low, x, y;
    int32_t exponent = a->exponent;
    if (a->exponent != b->exponent) { /* one is scaled: scale the other too */
        if (a->exponent == 0) {
            ax = RD(ax * TWO_M64);
            ay = RD(ay * TWO_M64);
        } else {
            bx = RD(bx * TWO_M64);
            by = RD(by * TWO_M64);
        }
        exponent = 64;
    }
    pair_merge(ax, ay, bx, by, &x, &y);
    if ((!isfinite(x) || !isfinite(y)) && exponent == 0) {
        pair_merge(RD(ax * TWO_M64), RD(ay * TWO_M64), RD(bx * TWO_M64), RD(by * TWO_M64), &x, &y);
        exponent = 64;
    }
    if (!isfinite(x) || !isfinite(y)) {
        a->flags |= CLMSE_PARTIAL_INF;
        return;
    }
    a->sum = x;
    a->sum_low = y;
    a->exponent = exponent;
}

clmse_status clmse_partial_fold(const clmse_partial *partials, size_t count, clmse_partial *out)
{
    CLMSE_CHECK_ARG(NULL, out != NULL, "clmse_partial_fold: out is NULL");
    CLMSE_CHECK_ARG(NULL, partials != NULL || count == 0,
                    "clmse_partial_fold: partials is NULL but count is %zu", count);
    /* Accumulated in a local and stored last: out may be one of the partials. */
    clmse_partial acc = {0.0, 0.0, 0, 0, 0};
    for (size_t i = 0; i < count; i++) {
        const clmse_partial *p = &partials[i];
        char what[40];
        snprintf(what, sizeof what, "partials[%zu]", i);
        CLMSE_FORWARD(check_partial("clmse_partial_fold", what, p));
        if (p->count > UINT64_MAX - acc.count)
            return clmse__fail(NULL, CLMSE_ERROR_SIZE_OVERFLOW, CL_SUCCESS,
                               "clmse_partial_fold: the counts exceed 2^64 - 1 at partials[%zu] "
                               "(%" PRIu64 " + %" PRIu64 ")",
                               i, acc.count, p->count);
        acc.count += p->count;
        acc.flags |= p->flags; /* both may be set: clmse_partial_round reads NaN first */
        if (acc.flags == 0)
            merge(&acc, p);
    }
    if (acc.flags != 0) {
        acc.sum = acc.sum_low = 0.0;
        acc.exponent = 0;
    }
    *out = acc;
    return CLMSE_SUCCESS;
}

/* ---- round ---- */

/* n = nh + nl exactly, nh holding n's top 53 bits (so |nl| < 2^-52 nh), without relying on
 * how a conversion of a 64-bit integer rounds. */
static void split_count(uint64_t n, double *nh, double *nl)
{
    int bits = 0;
    while (bits < 64 && (n >> bits) != 0)
        bits++;
    const uint64_t low = bits > 53 ? n & ((UINT64_C(1) << (bits - 53)) - 1) : 0;
    *nh = (double)(n - low);
    *nl = (double)low;
}

/* (h + t) / n as a pair q1 + q2, within about 2^-104 relative: q1 = RN(h / nh), the remainder
 * h - q1 nh is exact (fma), q1 nl exact as a TwoProduct, and their sum with t divided by nh.
 * (h, t) is a normalised finite pair. */
static void quotient(double h, double t, uint64_t n, double *q1, double *q2)
{
    double nh, nl;
    split_count(n, &nh, &nl);
    const double q = RD(h / nh);
    const double rem = fma(-q, nh, h);
    const double p = RD(q * nl);
    const double pe = fma(q, nl, -p);
    const double r = RD(RD(RD(rem - p) - pe) + t);
    *q1 = q;
    *q2 = RD(r / nh);
}

/* RN to float of a double (C's conversion, which rounds to nearest under IEEE arithmetic). */
static float float_rn(double d) { return RF((float)d); }

/* d rounded to float to odd: truncated, with the last bit set when anything was cut off.
 * Rounding that to 8 or 11 bits to nearest gives what rounding d once would. */
static float float_odd(double d)
{
    if (d > FLT_MAX)
        return FLT_MAX; /* truncates to FLT_MAX, whose last bit is set */
    float f = float_rn(d);
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((double)f != d && (u & 1u) == 0) { /* even and inexact: step toward d, to odd */
        u = (double)f < d ? u + 1 : u - 1;
        memcpy(&f, &u, sizeof f);
    }
    return f;
}

/* Round to nearest even of m >> sh (m < 2^32). */
static uint32_t shift_rne(uint32_t m, int sh)
{
    if (sh > 31)
        return 0;
    const uint32_t q = m >> sh, rem = m & ((UINT32_C(1) << sh) - 1), half = UINT32_C(1) << (sh - 1);
    return q + (rem > half || (rem == half && (q & 1u)));
}

/* The IEEE half of a nonnegative float, to nearest even, with subnormals and overflow. */
static uint16_t half_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if (u >= 0x7f800000u)
        return u == 0x7f800000u ? 0x7c00u : 0x7e00u;
    if (u >= 0x38800000u) { /* 2^-14 and up: normal; a carry into the exponent is right */
        const uint32_t h = shift_rne(u - (UINT32_C(112) << 23), 13);
        return (uint16_t)(h >= 0x7c00u ? 0x7c00u : h);
    }
    /* Subnormal: f * 2^24 rounded to an integer (1024 is the smallest normal, the same bits). */
    const uint32_t m = (u & 0x7fffffu) | (u >= 0x800000u ? 0x800000u : 0u);
    const int e = u >= 0x800000u ? (int)(u >> 23) : 1; /* f = m * 2^(e - 150) */
    return (uint16_t)shift_rne(m, 126 - e);
}

/* The bfloat16 of a nonnegative finite float or +Inf, to nearest even. */
static uint16_t bf16_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* Stores q1 + q2 (finite, >= 0) rounded once to dtype. To double: RN of the pair. Narrower:
 * round to odd to double first (53 >= 24 + 2 bits, so a second rounding to nearest is as if
 * once), then for 16-bit types to odd again to float (24 >= 11 + 2), then to nearest even. */
static void store_value(clmse_dtype dtype, double q1, double q2, void *out)
{
    double s, e;
    two_sum(q1, q2, &s, &e);
    if (dtype == CLMSE_DTYPE_F64) {
        memcpy(out, &s, sizeof s);
        return;
    }
    if (isfinite(s) && e != 0.0 && (bits_of(s) & 1u) == 0) /* s > 0 here */
        s = double_of(e > 0.0 ? bits_of(s) + 1 : bits_of(s) - 1);
    if (dtype == CLMSE_DTYPE_F32) {
        const float f = float_rn(s);
        memcpy(out, &f, sizeof f);
        return;
    }
    const float f = float_odd(s);
    const uint16_t h = dtype == CLMSE_DTYPE_F16 ? half_of(f) : bf16_of(f);
    memcpy(out, &h, sizeof h);
}

/* NaN (quiet) or +Inf in dtype. */
static void store_special(clmse_dtype dtype, int nan, void *out)
{
    switch (dtype) {
    case CLMSE_DTYPE_F64: {
        const uint64_t u = nan ? UINT64_C(0x7ff8000000000000) : UINT64_C(0x7ff0000000000000);
        memcpy(out, &u, sizeof u);
        break;
    }
    case CLMSE_DTYPE_F32: {
        const uint32_t u = nan ? 0x7fc00000u : 0x7f800000u;
        memcpy(out, &u, sizeof u);
        break;
    }
    default: {
        const uint16_t u =
            dtype == CLMSE_DTYPE_F16 ? (nan ? 0x7e00u : 0x7c00u) : (nan ? 0x7fc0u : 0x7f80u);
        memcpy(out, &u, sizeof u);
        break;
    }
    }
}

clmse_status clmse_partial_round(const clmse_partial *partial, clmse_reduction reduction,
                                 clmse_dtype dtype, void *out)
{
    static const char fn[] = "clmse_partial_round";
    CLMSE_CHECK_ARG(NULL, partial != NULL, "%s: partial is NULL", fn);
    CLMSE_CHECK_ARG(NULL, out != NULL, "%s: out is NULL", fn);
    CLMSE_FORWARD(clmse__check_reduction(NULL, fn, reduction));
    if (reduction == CLMSE_REDUCTION_NONE)
        return clmse__fail(NULL, CLMSE_ERROR_INVALID_REDUCTION, CL_SUCCESS,
                           "%s: reduction none (0) has no single loss to round: use mean (1) or "
                           "sum (2)",
                           fn);
    CLMSE_FORWARD(clmse__check_floating(NULL, "clmse_partial_round: the result", dtype));
    CLMSE_FORWARD(check_partial(fn, "the partial", partial));

    const int mean = reduction == CLMSE_REDUCTION_MEAN;
    /* The flags decide, NaN before Inf; then a mean of no elements is NaN (0 / 0). */
    const uint32_t flags = partial->flags;
    if (flags != 0 || (mean && partial->count == 0)) {
        store_special(dtype, (flags & CLMSE_PARTIAL_NAN) || !(flags & CLMSE_PARTIAL_INF), out);
        return CLMSE_SUCCESS;
    }
    /* Normalise: h + t = sum + sum_low exactly, |t| <= ulp(h) / 2. At exponent 64, a value
     * that fits unscaled is scaled back (exact), so a small quotient cannot underflow. */
    double h, t;
    int32_t exponent = partial->exponent;
    two_sum(partial->sum, partial->sum_low, &h, &t);
    if (!isfinite(h) && exponent == 0) {
        two_sum(RD(partial->sum * TWO_M64), RD(partial->sum_low * TWO_M64), &h, &t);
        exponent = 64;
    }
    if (!isfinite(h)) { /* above 2^1088: so is the mean, with fewer than 2^64 elements */
        store_special(dtype, 0, out);
        return CLMSE_SUCCESS;
    }
    if (exponent == 64 && isfinite(RD(h * TWO_P64))) {
        h = RD(h * TWO_P64);
        t = RD(t * TWO_P64);
        exponent = 0;
    }
    if (h == 0.0) /* +0, even from a hand-made -0 */
        h = t = 0.0;
    double q1 = h, q2 = t;
    if (mean)
        quotient(h, t, partial->count, &q1, &q2);
    if (exponent == 64) { /* exact, or an overflow that the true value shares */
        q1 = RD(q1 * TWO_P64);
        q2 = RD(q2 * TWO_P64);
        if (!isfinite(q1)) {
            store_special(dtype, 0, out);
            return CLMSE_SUCCESS;
        }
    }
    store_value(dtype, q1, q2, out);
    return CLMSE_SUCCESS;
}

/* ---- the integer encoding ---- */

/* Adds x * 2^shift (x finite) to the digits, exactly: x = m * 2^(pos - 1074) with m < 2^53,
 * and m shifted by pos % 32 spans three digits. */
static void add_double(int64_t digits[DIGITS], double x, int shift)
{
    const uint64_t u = bits_of(x);
    const int biased = (int)((u >> 52) & 0x7ff);
    uint64_t m = u & ((UINT64_C(1) << 52) - 1);
    if (biased != 0)
        m |= UINT64_C(1) << 52;
    if (m == 0)
        return;
    const int pos = (biased != 0 ? biased - 1 : 0) + shift, k = pos / 32, sh = pos % 32;
    const uint64_t lo = m << sh, hi = sh ? m >> (64 - sh) : 0;
    const int64_t sign = (u >> 63) ? -1 : 1;
    digits[k] += sign * (int64_t)(lo & 0xffffffffu);
    digits[k + 1] += sign * (int64_t)(lo >> 32);
    digits[k + 2] += sign * (int64_t)hi;
}

/* Signed carries: digits 0 .. n-2 into [0, 2^32), the rest into the top one (whose sign is
 * the total's). Every |digit| < 2^62, so nothing overflows. */
static void normalise(int64_t *digits, int n)
{
    for (int k = 0; k + 1 < n; k++) {
        const int64_t low = (int64_t)((uint64_t)digits[k] & 0xffffffffu);
        digits[k + 1] += (digits[k] - low) / (INT64_C(1) << 32);
        digits[k] = low;
    }
}

clmse_status clmse_partial_encode(const clmse_partial *partial, int64_t words[CLMSE_PARTIAL_WORDS])
{
    CLMSE_CHECK_ARG(NULL, partial != NULL, "clmse_partial_encode: partial is NULL");
    CLMSE_CHECK_ARG(NULL, words != NULL, "clmse_partial_encode: words is NULL");
    CLMSE_FORWARD(check_partial("clmse_partial_encode", "the partial", partial));
    int64_t w[CLMSE_PARTIAL_WORDS] = {0};
    w[0] = (int64_t)(partial->count & 0xffffffffu);
    w[1] = (int64_t)(partial->count >> 32);
    w[2] = (partial->flags & CLMSE_PARTIAL_NAN) != 0;
    w[3] = (partial->flags & CLMSE_PARTIAL_INF) != 0;
    if (partial->flags == 0) {
        add_double(w + 4, partial->sum, partial->exponent);
        add_double(w + 4, partial->sum_low, partial->exponent);
        /* One representation per value: digits in [0, 2^32) (the value is >= 0). */
        normalise(w + 4, DIGITS);
    }
    memcpy(words, w, sizeof w);
    return CLMSE_SUCCESS;
}

/* A nonnegative integer in 32-bit limbs, least significant first. */
#define LIMBS (DIGITS + 2) /* the top digit may hold up to 2^62 */

static int bit_length(const uint32_t *x)
{
    for (int k = LIMBS - 1; k >= 0; k--)
        for (int b = 31; b >= 0; b--)
            if ((x[k] >> b) & 1u)
                return 32 * k + b + 1;
    return 0;
}

static int bit_at(const uint32_t *x, int i) { return i >= 0 && ((x[i / 32] >> (i % 32)) & 1u); }

/* Keeps bits below `pos` only. */
static void keep_below(uint32_t *x, int pos)
{
    for (int k = 0; k < LIMBS; k++) {
        if (32 * k >= pos)
            x[k] = 0;
        else if (32 * k + 32 > pos)
            x[k] &= (UINT32_C(1) << (pos - 32 * k)) - 1;
    }
}

/* m * 2^e (m <= 2^53, e >= -1074) built from its bits: exact; +Inf above the double range. */
static double make_double(uint64_t m, int e)
{
    if (m == 0)
        return 0.0;
    int len = 0;
    while (len < 64 && (m >> len) != 0)
        len++;
    if (len + e - 1 > 1023)
        return double_of(UINT64_C(0x7ff0000000000000));
    if (len + e - 1 < -1022) /* subnormal: every bit lies at or above 2^-1074 */
        return double_of(m << (e + 1074));
    if (len < 53) {
        m <<= 53 - len;
        e -= 53 - len;
    } else if (len > 53) { /* m == 2^53 */
        m >>= 1;
        e++;
    }
    return double_of(((uint64_t)(e + 52 + 1023) << 52) | (m & ((UINT64_C(1) << 52) - 1)));
}

/* RN(x * 2^scale) for x in limbs, and (when rest is not NULL) the remainder x - that, as a
 * magnitude left in x and its sign in *rest_neg. Rounds at 53 significant bits, or at 2^-1074
 * for subnormal results. */
static double round_big(uint32_t *x, int scale, int *rest_neg)
{
    const int len = bit_length(x);
    int at = len - 53;
    if (at < -1074 - scale)
        at = -1074 - scale;
    if (at <= 0) { /* exact */
        uint64_t m = 0;
        for (int i = len - 1; i >= 0; i--)
            m = (m << 1) | (uint64_t)bit_at(x, i);
        memset(x, 0, LIMBS * sizeof *x);
        *rest_neg = 0;
        return make_double(m, scale);
    }
    uint64_t m = 0;
    for (int i = len - 1; i >= at; i--)
        m = (m << 1) | (uint64_t)bit_at(x, i);
    int sticky = 0;
    for (int i = 0; i < at - 1 && !sticky; i++)
        sticky = bit_at(x, i);
    const int up = bit_at(x, at - 1) && (sticky || (m & 1u));
    keep_below(x, at);
    *rest_neg = up;
    if (up) { /* the remainder is x - 2^at: keep its magnitude 2^at - x */
        uint64_t borrow = 0;
        for (int k = 0; k < LIMBS; k++) {
            const uint64_t d = (uint64_t)0 - x[k] - borrow;
            x[k] = (uint32_t)d;
            borrow = (d >> 32) & 1u;
        }
        keep_below(x, at);
        m++;
    }
    return make_double(m, at + scale);
}

/* The canonical pair of x * 2^scale: sum = RN(V), sum_low = RN(V - sum). */
static void pair_of(const uint32_t *limbs, int scale, double *sum, double *low)
{
    uint32_t x[LIMBS];
    int neg, ignored;
    memcpy(x, limbs, sizeof x);
    *sum = round_big(x, scale, &neg);
    const double rest = round_big(x, scale, &ignored);
    *low = neg ? -rest : rest;
}

clmse_status clmse_partial_decode(const int64_t words[CLMSE_PARTIAL_WORDS], clmse_partial *partial)
{
    static const char fn[] = "clmse_partial_decode";
    CLMSE_CHECK_ARG(NULL, words != NULL, "%s: words is NULL", fn);
    CLMSE_CHECK_ARG(NULL, partial != NULL, "%s: partial is NULL", fn);
    for (int k = 0; k < CLMSE_PARTIAL_WORDS; k++) {
        /* Counts and digits of each encoding are below 2^32, flags 0 or 1; digits may be
         * signed (an encoder may leave them so). */
        const int64_t lo = k >= 4 ? -WORD_MAX : 0,
                      hi = k == 2 || k == 3 ? INT64_C(1) << 29 : WORD_MAX;
        if (words[k] < lo || words[k] > hi)
            return clmse__fail(NULL, CLMSE_ERROR_INVALID_ARGUMENT, CL_SUCCESS,
                               "%s: words[%d] = %" PRId64 " is outside [%" PRId64 ", %" PRId64
                               "]: no sum of at most 2^29 encodings has it",
                               fn, k, words[k], lo, hi);
    }
    int64_t d[DIGITS];
    memcpy(d, words + 4, sizeof d);
    normalise(d, DIGITS);
    if (d[DIGITS - 1] < 0)
        return clmse__fail(NULL, CLMSE_ERROR_INVALID_ARGUMENT, CL_SUCCESS,
                           "%s: the encoded value is negative: no sum of encodings of partials "
                           "has it",
                           fn);
    const uint64_t high = (uint64_t)words[1] + ((uint64_t)words[0] >> 32);
    if (high > 0xffffffffu)
        return clmse__fail(NULL, CLMSE_ERROR_SIZE_OVERFLOW, CL_SUCCESS,
                           "%s: the count words[0] + words[1] * 2^32 (%" PRId64 " + %" PRId64
                           " * 2^32) exceeds 2^64 - 1",
                           fn, words[0], words[1]);
    clmse_partial p = {0.0, 0.0, (high << 32) | ((uint64_t)words[0] & 0xffffffffu), 0, 0};
    if (words[2] > 0)
        p.flags = CLMSE_PARTIAL_NAN;
    else if (words[3] > 0)
        p.flags = CLMSE_PARTIAL_INF;
    if (p.flags == 0) {
        uint32_t x[LIMBS];
        for (int k = 0; k < DIGITS; k++)
            x[k] = (uint32_t)d[k];
        x[DIGITS] = (uint32_t)((uint64_t)d[DIGITS - 1] >> 32);
        x[DIGITS + 1] = 0;
        /* Too large for a double: the same integer times 2^-64. */
        pair_of(x, -1074, &p.sum, &p.sum_low);
        if (!isfinite(p.sum)) {
            pair_of(x, -1138, &p.sum, &p.sum_low);
            p.exponent = 64;
        }
        if (!isfinite(p.sum)) { /* above 2^1088: the loss is infinite (see merge) */
            p.sum = p.sum_low = 0.0;
            p.exponent = 0;
            p.flags = CLMSE_PARTIAL_INF;
        }
    }
    *partial = p;
    return CLMSE_SUCCESS;
}
