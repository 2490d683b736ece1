/* SPDX-License-Identifier: MIT */
/* The partial-result API's host arithmetic (src/partial.c): fold, round, encode and decode.
 * No device: partials are built here as the device builds them (a TwoSum-compensated double
 * pair of the squares), and checked against long double references and tools/dtype_bits.c. */
#include "helpers.h"
#include "suites.h"

#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ASSERT_STATUS(call, want)                                                                 \
    do {                                                                                          \
        clmse_status st_ = (call);                                                                \
        ck_assert_msg(st_ == (want), "%s: got %s (%d), want %s (%d): %s", #call,                  \
                      clmse_status_string(st_), (int)st_, clmse_status_string(want), (int)(want), \
                      clmse_context_last_error(NULL));                                            \
    } while (0)

/* A refusal leaves a message naming the function (and, where given, the bad value). */
#define ASSERT_FAILS(call, want, fn, needle)                                                      \
    do {                                                                                          \
        ASSERT_STATUS(call, want);                                                                \
        const char *msg_ = clmse_context_last_error(NULL);                                        \
        ck_assert_msg(strstr(msg_, fn) != NULL, "%s: message '%s' does not name %s", #call, msg_, \
                      fn);                                                                        \
        ck_assert_msg(strstr(msg_, needle) != NULL, "%s: message '%s' does not say '%s'", #call,  \
                      msg_, needle);                                                              \
    } while (0)

static const clmse_dtype k_dtypes[4] = {CLMSE_DTYPE_F32, CLMSE_DTYPE_F64, CLMSE_DTYPE_F16,
                                        CLMSE_DTYPE_BF16};

static clmse_partial mk(double sum, double low, uint64_t count, uint32_t flags, int32_t exponent)
{
    clmse_partial p = {sum, low, count, flags, exponent};
    return p;
}

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* 2^k for -1074 <= k <= 1023, from its bits (no libm). */
static double pow2(int k)
{
    const uint64_t u = k >= -1022 ? (uint64_t)(k + 1023) << 52 : UINT64_C(1) << (k + 1074);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static int same_partial(const clmse_partial *a, const clmse_partial *b)
{
    return dbits(a->sum) == dbits(b->sum) && dbits(a->sum_low) == dbits(b->sum_low) &&
           a->count == b->count && a->flags == b->flags && a->exponent == b->exponent;
}

#define ASSERT_PARTIAL(got, want)                                                        \
    ck_assert_msg(same_partial(&(got), &(want)),                                         \
                  "got {%a, %a, %llu, %u, %d}, want {%a, %a, %llu, %u, %d}", (got).sum,  \
                  (got).sum_low, (unsigned long long)(got).count, (unsigned)(got).flags, \
                  (int)(got).exponent, (want).sum, (want).sum_low,                       \
                  (unsigned long long)(want).count, (unsigned)(want).flags, (int)(want).exponent)

static void two_sum(double a, double b, double *s, double *e)
{
    *s = a + b;
    const double bp = *s - a;
    *e = (a - (*s - bp)) + (b - bp);
}

/* The device's accumulation of one shard: a TwoSum pair (cl/common.cl, CLMSE_PAIR_FUNCS). */
static clmse_partial shard_partial(const double *terms, size_t n)
{
    double x = 0.0, y = 0.0;
    for (size_t i = 0; i < n; i++) {
        double s, e;
        two_sum(x, terms[i], &s, &e);
        x = s;
        y += e;
    }
    return mk(x, y, n, 0, 0);
}

/* A long double TwoSum pair: the reference sum, some 2^-120 relative. */
typedef struct ld_pair {
    long double hi, lo;
} ld_pair;

static void ld_add(ld_pair *a, long double v)
{
    const long double s = a->hi + v, bp = s - a->hi;
    a->lo += (a->hi - (s - bp)) + (v - bp);
    a->hi = s;
}

/* The bits of long double arithmetic as it runs: LDBL_MANT_DIG, except under valgrind, whose
 * x87 emulation computes long doubles as doubles (53). */
static int ld_bits(void)
{
    static int bits;
    if (bits == 0) {
        volatile long double one = 1.0L, x = 1.0L;
        while (one + x != one) {
            x /= 2;
            bits++;
        }
    }
    return bits;
}

/* Whether long doubles carry 8 bits more than doubles: then float64 references are exact
 * enough to be certain far from ties. */
static int ld_wide(void) { return ld_bits() >= 61; }

/* The bits of v (> 0, accurate to a few units of long double's last place) rounded once to
 * d; 1 when that is certain, 0 when v lies so near a rounding boundary of d that only the
 * one-ulp rule can judge. */
static int ref_bits(clmse_dtype d, long double v, uint64_t *bits)
{
    const int prec = ld_bits() - 4;
    long double eps = 1.0L;
    for (int k = 0; k < (d == CLMSE_DTYPE_F64 || prec < 50 ? prec : 50); k++)
        eps /= 2;
    *bits = dtype_bits_encode_exact(d, v);
    return dtype_bits_encode_exact(d, v * (1 - eps)) == *bits &&
           dtype_bits_encode_exact(d, v * (1 + eps)) == *bits;
}

static uint64_t round_bits(const clmse_partial *p, clmse_reduction r, clmse_dtype d)
{
    unsigned char out[16];
    memset(out, 0xa5, sizeof out);
    ASSERT_STATUS(clmse_partial_round(p, r, d, out), CLMSE_SUCCESS);
    /* Exactly one element is written. */
    ck_assert_uint_eq(out[dtype_bits_size(d)], 0xa5);
    return dtype_bits_load(out, d, 0);
}

/* Rounds p and compares with `exact`: equal to its correct rounding where that is certain,
 * else within one ulp. Returns whether it was certain. */
static int check_round(const clmse_partial *p, clmse_reduction r, clmse_dtype d, long double exact)
{
    const uint64_t got = round_bits(p, r, d);
    uint64_t want;
    const int sure = ref_bits(d, exact, &want);
    if (sure)
        ck_assert_msg(got == want, "%s %s of %.21Lg: got 0x%llx, want 0x%llx", clmse_dtype_name(d),
                      r == CLMSE_REDUCTION_MEAN ? "mean" : "sum", exact, (unsigned long long)got,
                      (unsigned long long)want);
    else
        ck_assert_msg(dtype_bits_near_exact(d, got, exact), "%s of %.21Lg: got 0x%llx",
                      clmse_dtype_name(d), exact, (unsigned long long)got);
    return sure;
}

/* ==== fold ================================================================================= */

/* The fold's merge as cl/common.cl's part_merge, exponent 0 only: the index-order reference. */
static void merge0(clmse_partial *a, const clmse_partial *b)
{
    double s, e;
    two_sum(a->sum, b->sum, &s, &e);
    a->sum_low = (a->sum_low + e) + b->sum_low;
    a->sum = s;
    a->count += b->count;
}

START_TEST(test_fold_index_order)
{
    /* The same three values fold to different bits in the two orders: the order decides the
     * bits, and the fold follows the index order. */
    const double u = pow2(-53);
    clmse_partial p[3] = {mk(1.0, 0.0, 1, 0, 0), mk(u, 0.0, 1, 0, 0), mk(u, 0.0, 1, 0, 0)};
    clmse_partial out, want = mk(1.0, 2 * u, 3, 0, 0);
    ASSERT_STATUS(clmse_partial_fold(p, 3, &out), CLMSE_SUCCESS);
    ASSERT_PARTIAL(out, want);
    clmse_partial r[3] = {p[2], p[1], p[0]};
    want = mk(1.0 + 2 * u, 0.0, 3, 0, 0);
    ASSERT_STATUS(clmse_partial_fold(r, 3, &out), CLMSE_SUCCESS);
    ASSERT_PARTIAL(out, want);

    /* Random partials against the reference merge, and the same bits every time. */
    th_rng rng;
    th_rng_seed(&rng, 11);
    for (int trial = 0; trial < 200; trial++) {
        clmse_partial q[17];
        const size_t n = 1 + th_rng_next(&rng) % 17;
        clmse_partial acc = mk(0.0, 0.0, 0, 0, 0);
        for (size_t i = 0; i < n; i++) {
            const double hi =
                (double)(th_rng_next(&rng) >> 11) * pow2(-(int)(th_rng_next(&rng) % 80));
            const double lo = (double)((int64_t)(th_rng_next(&rng) >> 20) - (INT64_C(1) << 43)) *
                              pow2(-60) * hi * pow2(-53);
            q[i] = mk(hi, lo, th_rng_next(&rng) >> 40, 0, 0);
            merge0(&acc, &q[i]);
        }
        ASSERT_STATUS(clmse_partial_fold(q, n, &out), CLMSE_SUCCESS);
        ASSERT_PARTIAL(out, acc);
        clmse_partial again;
        ASSERT_STATUS(clmse_partial_fold(q, n, &again), CLMSE_SUCCESS);
        ASSERT_PARTIAL(again, out);
    }
}
END_TEST

START_TEST(test_fold_counts_flags)
{
    clmse_partial out, want;
    /* count 0, with or without an array: the empty partial. */
    want = mk(0.0, 0.0, 0, 0, 0);
    memset(&out, 0xcc, sizeof out);
    ASSERT_STATUS(clmse_partial_fold(NULL, 0, &out), CLMSE_SUCCESS);
    ASSERT_PARTIAL(out, want);
    clmse_partial one = mk(3.0, 0.0, 7, 0, 0);
    ASSERT_STATUS(clmse_partial_fold(&one, 0, &out), CLMSE_SUCCESS);
    ASSERT_PARTIAL(out, want);
    /* One partial comes back as it was; -0 becomes +0. */
    ASSERT_STATUS(clmse_partial_fold(&one, 1, &out), CLMSE_SUCCESS);
    ASSERT_PARTIAL(out, one);
    one = mk(-0.0, -0.0, 2, 0, 0);
    want = mk(0.0, 0.0, 2, 0, 0);
    ASSERT_STATUS(clmse_partial_fold(&one, 1, &out), CLMSE_SUCCESS);
    ASSERT_PARTIAL(out, want);

    /* Counts add; flags combine and zero the value, whatever the flagged value fields hold. */
    clmse_partial p[4] = {mk(1.0, 0.0, 5, 0, 0), mk(NAN, -1.0, 6, CLMSE_PARTIAL_INF, 0),
                          mk(2.0, 0.0, 7, 0, 64), mk(-INFINITY, NAN, 8, CLMSE_PARTIAL_NAN, 64)};
    ASSERT_STATUS(clmse_partial_fold(p, 2, &out), CLMSE_SUCCESS);
    want = mk(0.0, 0.0, 11, CLMSE_PARTIAL_INF, 0);
    ASSERT_PARTIAL(out, want);
    ck_assert(isinf(dtype_bits_decode(CLMSE_DTYPE_F32,
                                      round_bits(&out, CLMSE_REDUCTION_MEAN, CLMSE_DTYPE_F32))));
    ASSERT_STATUS(clmse_partial_fold(p, 4, &out), CLMSE_SUCCESS);
    want = mk(0.0, 0.0, 26, CLMSE_PARTIAL_NAN | CLMSE_PARTIAL_INF, 0);
    ASSERT_PARTIAL(out, want);
    /* NaN beats Inf, in every dtype and either reduction. */
    for (int k = 0; k < 4; k++) {
        ck_assert(isnan(
            dtype_bits_decode(k_dtypes[k], round_bits(&out, CLMSE_REDUCTION_MEAN, k_dtypes[k]))));
        ck_assert(isnan(
            dtype_bits_decode(k_dtypes[k], round_bits(&out, CLMSE_REDUCTION_SUM, k_dtypes[k]))));
    }
}
END_TEST

START_TEST(test_fold_exponents)
{
    clmse_partial out, want;
    /* Mixed exponents: the unscaled one is scaled by 2^-64. */
    clmse_partial p[2] = {mk(pow2(1000), 0.0, 1, 0, 0), mk(pow2(900), 0.0, 1, 0, 64)};
    ASSERT_STATUS(clmse_partial_fold(p, 2, &out), CLMSE_SUCCESS);
    want = mk(pow2(936) + pow2(900), 0.0, 2, 0, 64);
    ASSERT_PARTIAL(out, want);

    /* cl/common.cl's example: eight squares of 1.5 * 2^511 overflow a double sum (9 * 2^1023)
     * while their mean, 1.125 * 2^1023, is finite. The second merge overflows: both sides are
     * rescaled, and the rest are scaled as they come. */
    clmse_partial e[8];
    for (int i = 0; i < 8; i++)
        e[i] = mk(2.25 * pow2(1022), 0.0, 1, 0, 0);
    ASSERT_STATUS(clmse_partial_fold(e, 8, &out), CLMSE_SUCCESS);
    want = mk(9.0 * pow2(959), 0.0, 8, 0, 64);
    ASSERT_PARTIAL(out, want);
    ck_assert_uint_eq(round_bits(&out, CLMSE_REDUCTION_MEAN, CLMSE_DTYPE_F64),
                      dbits(1.125 * pow2(1023)));
    ck_assert_uint_eq(round_bits(&out, CLMSE_REDUCTION_SUM, CLMSE_DTYPE_F64), dbits(INFINITY));
    ck_assert_uint_eq(round_bits(&out, CLMSE_REDUCTION_MEAN, CLMSE_DTYPE_F32), 0x7f800000u);

    /* Infinite even at exponent 64: the Inf flag. */
    clmse_partial big[3] = {mk(DBL_MAX, 0.0, 1, 0, 64), mk(1.0, 0.0, 1, 0, 0),
                            mk(DBL_MAX, 0.0, 1, 0, 64)};
    ASSERT_STATUS(clmse_partial_fold(big, 3, &out), CLMSE_SUCCESS);
    want = mk(0.0, 0.0, 3, CLMSE_PARTIAL_INF, 0);
    ASSERT_PARTIAL(out, want);
}
END_TEST

START_TEST(test_fold_alias)
{
    clmse_partial p[3] = {mk(1.0, pow2(-60), 2, 0, 0), mk(3.0, 0.0, 4, 0, 0),
                          mk(pow2(-53), 0.0, 1, 0, 0)};
    clmse_partial want, q[3];
    ASSERT_STATUS(clmse_partial_fold(p, 3, &want), CLMSE_SUCCESS);
    for (int k = 0; k < 3; k++) {
        memcpy(q, p, sizeof q);
        ASSERT_STATUS(clmse_partial_fold(q, 3, &q[k]), CLMSE_SUCCESS);
        ASSERT_PARTIAL(q[k], want);
    }
}
END_TEST

START_TEST(test_fold_count_overflow)
{
    clmse_partial p[3] = {mk(1.0, 0.0, UINT64_MAX - 1, 0, 0), mk(1.0, 0.0, 1, 0, 0),
                          mk(0.0, 0.0, 1, 0, 0)};
    clmse_partial out = mk(5.0, 0.0, 9, 0, 0), keep = out;
    ASSERT_STATUS(clmse_partial_fold(p, 2, &out), CLMSE_SUCCESS);
    ck_assert_uint_eq(out.count, UINT64_MAX);
    out = keep;
    ASSERT_FAILS(clmse_partial_fold(p, 3, &out), CLMSE_ERROR_SIZE_OVERFLOW, "clmse_partial_fold",
                 "partials[2]");
    ASSERT_PARTIAL(out, keep);
}
END_TEST

START_TEST(test_fold_errors)
{
    const char *fn = "clmse_partial_fold";
    clmse_partial good = mk(1.0, 0.0, 1, 0, 0), out = mk(5.0, 0.0, 9, 0, 0), keep = out;
    ASSERT_FAILS(clmse_partial_fold(&good, 1, NULL), CLMSE_ERROR_INVALID_ARGUMENT, fn,
                 "out is NULL");
    ASSERT_FAILS(clmse_partial_fold(NULL, 2, &out), CLMSE_ERROR_INVALID_ARGUMENT, fn, "count is 2");
    const struct {
        clmse_partial p;
        const char *needle;
    } bad[] = {
        {mk(1.0, 0.0, 1, 4, 0), "unknown flags 0x4"},
        {mk(0.0, 0.0, 1, 0x80000001u, 0), "unknown flags 0x80000001"},
        {mk(1.0, 0.0, 1, 0, 1), "exponent 1"},
        {mk(1.0, 0.0, 1, 0, -64), "exponent -64"},
        {mk(0.0, 0.0, 1, CLMSE_PARTIAL_NAN, 128), "exponent 128"},
        {mk(INFINITY, 0.0, 1, 0, 0), "non-finite"},
        {mk(1.0, NAN, 1, 0, 0), "non-finite"},
        {mk(-1.0, 0.0, 1, 0, 0), "negative"},
        {mk(1.0, -2.0, 1, 0, 64), "negative"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        clmse_partial p[2] = {good, bad[i].p};
        ASSERT_FAILS(clmse_partial_fold(p, 2, &out), CLMSE_ERROR_INVALID_ARGUMENT, fn,
                     bad[i].needle);
        ck_assert_msg(strstr(clmse_context_last_error(NULL), "partials[1]") != NULL, "%s",
                      clmse_context_last_error(NULL));
        ASSERT_PARTIAL(out, keep);
    }
}
END_TEST

/* ==== round =============================================================================== */

START_TEST(test_round_worked_example)
{
    /* mse_loss([0.5, -0.2, -0.2], zeros): the squares of the floats, summed in double. */
    const float x[3] = {0.5f, -0.2f, -0.2f};
    double terms[3];
    long double exact = 0;
    for (int i = 0; i < 3; i++) {
        terms[i] = (double)x[i] * (double)x[i]; /* exact: 48 bits */
        exact += (long double)terms[i];         /* exact: 51 bits */
    }
    const clmse_partial p = shard_partial(terms, 3);
    ck_assert_uint_eq(p.count, 3);
    /* The mean is 495395962589894 * 2^-52 exactly: 0.11000000079472860... */
    ck_assert(exact / 3 == 495395962589894.0L / 4503599627370496.0L);
    const uint64_t f = round_bits(&p, CLMSE_REDUCTION_MEAN, CLMSE_DTYPE_F32);
    ck_assert_uint_eq(f, th_bits(0.11f));
    ck_assert_uint_eq(f, dtype_bits_encode_exact(CLMSE_DTYPE_F32, exact / 3));
    for (int k = 0; k < 4; k++) {
        const int need = k_dtypes[k] != CLMSE_DTYPE_F64 || ld_wide();
        ck_assert(check_round(&p, CLMSE_REDUCTION_MEAN, k_dtypes[k], exact / 3) || !need);
        ck_assert(check_round(&p, CLMSE_REDUCTION_SUM, k_dtypes[k], exact) || !need);
    }
}
END_TEST

/* Random floats of one kind: 0 uniform in [-9, 9); 1 wide exponents (sums overflow float16);
 * 2 small ones, whose float16 means are subnormal. */
static void fill_kind(th_rng *rng, int kind, float *x, size_t n)
{
    th_fill_uniform(rng, x, n);
    if (kind == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        const int e =
            kind == 1 ? (int)(th_rng_next(rng) % 61) - 30 : -(int)(th_rng_next(rng) % 9) - 10;
        x[i] = (float)((double)x[i] / 9.0 * pow2(e));
    }
}

/* Shards of a random array of floats: each a compensated pair of its squares, folded in order
 * and, separately, encoded and summed as integers in a random order. Both round once to within
 * one ulp of the long double reference, and exactly to its rounding where that is certain. */
START_TEST(test_round_random)
{
    const int kind = _i;
    th_rng rng;
    th_rng_seed(&rng, 100 + (uint64_t)kind);
    enum { MAX_N = 3000, MAX_SHARDS = 12 };
    float *x = th_alloc_floats(MAX_N);
    double *terms = malloc(MAX_N * sizeof *terms);
    ck_assert_ptr_nonnull(terms);
    int sure = 0, total = 0;
    for (int trial = 0; trial < 25; trial++) {
        const size_t n = 1 + th_rng_next(&rng) % MAX_N;
        fill_kind(&rng, kind, x, n);
        ld_pair ref = {0, 0};
        for (size_t i = 0; i < n; i++) {
            terms[i] = (double)x[i] * (double)x[i];
            ld_add(&ref, (long double)terms[i]);
        }
        const long double sum = ref.hi + ref.lo;
        /* Random cut points (empty shards too), in order. */
        const size_t shards = 1 + th_rng_next(&rng) % MAX_SHARDS;
        size_t cut[MAX_SHARDS + 1];
        cut[0] = 0;
        cut[shards] = n;
        for (size_t s = 1; s < shards; s++) {
            const size_t c = th_rng_next(&rng) % (n + 1);
            size_t j = s;
            while (j > 1 && cut[j - 1] > c) {
                cut[j] = cut[j - 1];
                j--;
            }
            cut[j] = c;
        }
        clmse_partial part[MAX_SHARDS], folded, decoded;
        int64_t words[MAX_SHARDS][CLMSE_PARTIAL_WORDS], total_w[CLMSE_PARTIAL_WORDS] = {0};
        for (size_t s = 0; s < shards; s++) {
            part[s] = shard_partial(terms + cut[s], cut[s + 1] - cut[s]);
            ASSERT_STATUS(clmse_partial_encode(&part[s], words[s]), CLMSE_SUCCESS);
        }
        const size_t first = th_rng_next(&rng) % shards; /* a rotated order */
        for (size_t s = 0; s < shards; s++)
            for (int k = 0; k < CLMSE_PARTIAL_WORDS; k++)
                total_w[k] += words[(first + s) % shards][k];
        ASSERT_STATUS(clmse_partial_fold(part, shards, &folded), CLMSE_SUCCESS);
        ASSERT_STATUS(clmse_partial_decode(total_w, &decoded), CLMSE_SUCCESS);
        ck_assert_uint_eq(folded.count, n);
        ck_assert_uint_eq(decoded.count, n);
        for (int k = 0; k < 4; k++) {
            const int counted = k_dtypes[k] != CLMSE_DTYPE_F64 || ld_wide();
            sure += counted * check_round(&folded, CLMSE_REDUCTION_MEAN, k_dtypes[k], sum / n);
            sure += counted * check_round(&folded, CLMSE_REDUCTION_SUM, k_dtypes[k], sum);
            sure += counted * check_round(&decoded, CLMSE_REDUCTION_MEAN, k_dtypes[k], sum / n);
            sure += counted * check_round(&decoded, CLMSE_REDUCTION_SUM, k_dtypes[k], sum);
            total += 4 * counted;
        }
    }
    /* Nearly every case is far from a rounding boundary: the test does check exact bits. */
    ck_assert_msg(sure * 10 >= total * 9, "only %d of %d cases certain", sure, total);
    free(terms);
    free(x);
}
END_TEST

/* A double value rounds as tools/dtype_bits.c rounds it (once, to nearest even), over the
 * ranges where the formats differ: float16 subnormals and overflow, bfloat16 and float32 ties. */
START_TEST(test_round_vs_dtype_bits)
{
    th_rng rng;
    th_rng_seed(&rng, 5);
    for (int i = 0; i < 20000; i++) {
        double v;
        const uint64_t r = th_rng_next(&rng);
        switch (i % 5) {
        case 0: /* anywhere a float16 reaches, and past it */
            v = (double)(r >> 11) * pow2(-53 - (int)(th_rng_next(&rng) % 44) + 17);
            break;
        case 1: /* a float16 tie, halfway between two subnormals or two normals (to 65520) */
            v = (r & 1) ? (double)(2 * ((r >> 1) % 1024) + 1) * pow2(-25)
                        : (double)(2049 + 2 * ((r >> 1) % 1024)) *
                              pow2((int)(th_rng_next(&rng) % 30) - 14 - 11);
            break;
        case 2: /* a bfloat16 tie, subnormal or normal */
            v = (r & 1) ? (double)(2 * ((r >> 1) % 128) + 1) * pow2(-134)
                        : (double)(257 + 2 * ((r >> 1) % 128)) *
                              pow2((int)(th_rng_next(&rng) % 254) - 126 - 8);
            break;
        case 3: /* a float32 tie, normal */
            v = (double)((UINT64_C(1) << 24) + 1 + 2 * ((r >> 1) % (UINT64_C(1) << 23))) *
                pow2((int)(th_rng_next(&rng) % 254) - 126 - 24);
            break;
        default: /* any double */
            v = (double)(r >> 11) * pow2((int)(th_rng_next(&rng) % 1900) - 1000);
            break;
        }
        const clmse_partial p = mk(v, 0.0, 1, 0, 0);
        for (int k = 0; k < 4; k++) {
            const uint64_t want = dtype_bits_encode(k_dtypes[k], v);
            ck_assert_msg(round_bits(&p, CLMSE_REDUCTION_SUM, k_dtypes[k]) == want, "%s sum of %a",
                          clmse_dtype_name(k_dtypes[k]), v);
            ck_assert_msg(round_bits(&p, CLMSE_REDUCTION_MEAN, k_dtypes[k]) == want,
                          "%s mean of %a", clmse_dtype_name(k_dtypes[k]), v);
        }
    }
    /* Known bits: float16 subnormals, the largest half, overflow. */
    const struct {
        double v;
        uint16_t half;
    } h[] = {{pow2(-24), 0x0001},     {pow2(-25), 0x0000},        {1.5 * pow2(-25), 0x0001},
             {3 * pow2(-25), 0x0002}, {1023 * pow2(-24), 0x03ff}, {pow2(-14), 0x0400},
             {65504.0, 0x7bff},       {65519.0, 0x7bff},          {65520.0, 0x7c00},
             {1e300, 0x7c00}};
    for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
        const clmse_partial p = mk(h[i].v, 0.0, 1, 0, 0);
        ck_assert_uint_eq(round_bits(&p, CLMSE_REDUCTION_SUM, CLMSE_DTYPE_F16), h[i].half);
    }
}
END_TEST

/* The low part breaks ties: rounding sum + sum_low once differs from rounding sum alone. */
START_TEST(test_round_ties_low)
{
    const struct {
        clmse_dtype d;
        double tie; /* halfway between 1 and the next value of d: rounds down to even */
        uint64_t one, next;
    } t[] = {{CLMSE_DTYPE_F16, 1 + pow2(-11), 0x3c00, 0x3c01},
             {CLMSE_DTYPE_BF16, 1 + pow2(-8), 0x3f80, 0x3f81},
             {CLMSE_DTYPE_F32, 1 + pow2(-24), 0x3f800000, 0x3f800001}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        clmse_partial p = mk(t[i].tie, 0.0, 1, 0, 0);
        ck_assert_uint_eq(round_bits(&p, CLMSE_REDUCTION_SUM, t[i].d), t[i].one);
        ck_assert_uint_eq(dtype_bits_encode(t[i].d, t[i].tie), t[i].one);
        p.sum_low = pow2(-70);
        ck_assert_uint_eq(round_bits(&p, CLMSE_REDUCTION_SUM, t[i].d), t[i].next);
        p.sum_low = -pow2(-70); /* just below the tie */
        ck_assert_uint_eq(round_bits(&p, CLMSE_REDUCTION_SUM, t[i].d), t[i].one);
        /* The same through a mean: 3 (tie + tiny) over 3. */
        p = mk(3 * t[i].tie, 3 * pow2(-70), 3, 0, 0);
        ck_assert_uint_eq(round_bits(&p, CLMSE_REDUCTION_MEAN, t[i].d), t[i].next);
    }
    /* float64: (3 + 3 * 2^-53) / 3 is a tie (down to 1); 2^-100 more rounds up. */
    clmse_partial p = mk(3.0, 3 * pow2(-53), 3, 0, 0);
    ck_assert_uint_eq(round_bits(&p, CLMSE_REDUCTION_MEAN, CLMSE_DTYPE_F64), dbits(1.0));
    p.sum_low = 3 * pow2(-53) + pow2(-100);
    ck_assert_uint_eq(round_bits(&p, CLMSE_REDUCTION_MEAN, CLMSE_DTYPE_F64),
                      dbits(1.0 + pow2(-52)));
    p.sum_low = 3 * pow2(-53) - pow2(-100);
    ck_assert_uint_eq(round_bits(&p, CLMSE_REDUCTION_MEAN, CLMSE_DTYPE_F64), dbits(1.0));
}
END_TEST

/* Counts beyond 2^53 divide exactly: 3n and 2(2^64 - 1) as pairs, over n, give 3 and 2. */
START_TEST(test_round_large_count)
{
    const uint64_t n0 = (UINT64_C(1) << 60) + 12345, v0 = 3 * n0; /* 62 bits: 9 in the low */
    const struct {
        uint64_t n;
        double q, hi, lo; /* n q = hi + lo exactly */
    } c[3] = {{n0, 3.0, (double)(v0 - (v0 & 511)), (double)(v0 & 511)},
              {UINT64_MAX, 2.0, pow2(65), -2.0},
              {(UINT64_C(1) << 53) + 1, 0.75, 3 * pow2(51), 0.75}};
    for (int i = 0; i < 3; i++) {
        const clmse_partial p = mk(c[i].hi, c[i].lo, c[i].n, 0, 0);
        for (int k = 0; k < 4; k++)
            ck_assert_uint_eq(round_bits(&p, CLMSE_REDUCTION_MEAN, k_dtypes[k]),
                              dtype_bits_encode(k_dtypes[k], c[i].q));
    }
}
END_TEST

START_TEST(test_round_exponent64)
{
    /* 2^64 / 3 and 2^64 * 1.5, from exponent 64 */
    clmse_partial p = mk(1.0, 0.0, 3, 0, 64);
    const long double two64 = 18446744073709551616.0L;
    for (int k = 0; k < 4; k++) {
        const int need = k_dtypes[k] != CLMSE_DTYPE_F64 || ld_wide();
        ck_assert(check_round(&p, CLMSE_REDUCTION_MEAN, k_dtypes[k], two64 / 3) || !need);
        ck_assert(check_round(&p, CLMSE_REDUCTION_SUM, k_dtypes[k], two64) || !need);
    }
    /* A tiny value at exponent 64 keeps its precision. */
    p = mk(pow2(-1000), pow2(-1060), 3, 0, 64);
    const long double v = ((long double)pow2(-1000) + (long double)pow2(-1060)) * two64;
    ck_assert(check_round(&p, CLMSE_REDUCTION_MEAN, CLMSE_DTYPE_F64, v / 3) || !ld_wide());
    /* Past the double range: the sum is +Inf, the mean over 8 finite. */
    p = mk(pow2(962), 0.0, 8, 0, 64);
    ck_assert_uint_eq(round_bits(&p, CLMSE_REDUCTION_SUM, CLMSE_DTYPE_F64), dbits(INFINITY));
    ck_assert_uint_eq(round_bits(&p, CLMSE_REDUCTION_MEAN, CLMSE_DTYPE_F64), dbits(pow2(1023)));
    /* A hand-made pair that overflows at exponent 0 is rescued by round too. */
    p = mk(DBL_MAX, DBL_MAX * pow2(-53), 2, 0, 0);
    const long double big = (long double)DBL_MAX + (long double)(DBL_MAX * pow2(-53));
    ck_assert(check_round(&p, CLMSE_REDUCTION_MEAN, CLMSE_DTYPE_F64, big / 2) || !ld_wide());
}
END_TEST

START_TEST(test_round_flags_empty)
{
    const struct {
        clmse_partial p;
        int nan_mean, nan_sum; /* 1 NaN, 0 +Inf, -1 +0 */
    } c[] = {
        {mk(0.0, 0.0, 3, CLMSE_PARTIAL_NAN, 0), 1, 1},
        {mk(0.0, 0.0, 3, CLMSE_PARTIAL_INF, 0), 0, 0},
        {mk(7.0, 1.0, 3, CLMSE_PARTIAL_NAN | CLMSE_PARTIAL_INF, 64), 1, 1},
        {mk(0.0, 0.0, 0, 0, 0), 1, -1},
    };
    const uint64_t nan_bits[4] = {0x7fc00000u, UINT64_C(0x7ff8000000000000), 0x7e00, 0x7fc0};
    const uint64_t inf_bits[4] = {0x7f800000u, UINT64_C(0x7ff0000000000000), 0x7c00, 0x7f80};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        for (int k = 0; k < 4; k++) {
            const int want[2] = {c[i].nan_mean, c[i].nan_sum};
            for (int r = 0; r < 2; r++) {
                const uint64_t got = round_bits(
                    &c[i].p, r ? CLMSE_REDUCTION_SUM : CLMSE_REDUCTION_MEAN, k_dtypes[k]);
                const uint64_t w = want[r] > 0 ? nan_bits[k] : want[r] == 0 ? inf_bits[k] : 0;
                ck_assert_msg(got == w, "case %zu %s r%d: 0x%llx", i, clmse_dtype_name(k_dtypes[k]),
                              r, (unsigned long long)got);
            }
        }
}
END_TEST

START_TEST(test_round_errors)
{
    const char *fn = "clmse_partial_round";
    const clmse_partial good = mk(1.0, 0.0, 1, 0, 0);
    unsigned char out[8];
    memset(out, 0xa5, sizeof out);
    ASSERT_FAILS(clmse_partial_round(NULL, CLMSE_REDUCTION_MEAN, CLMSE_DTYPE_F32, out),
                 CLMSE_ERROR_INVALID_ARGUMENT, fn, "partial is NULL");
    ASSERT_FAILS(clmse_partial_round(&good, CLMSE_REDUCTION_MEAN, CLMSE_DTYPE_F32, NULL),
                 CLMSE_ERROR_INVALID_ARGUMENT, fn, "out is NULL");
    ASSERT_FAILS(clmse_partial_round(&good, CLMSE_REDUCTION_NONE, CLMSE_DTYPE_F32, out),
                 CLMSE_ERROR_INVALID_REDUCTION, fn, "reduction none (0)");
    ASSERT_FAILS(clmse_partial_round(&good, (clmse_reduction)7, CLMSE_DTYPE_F32, out),
                 CLMSE_ERROR_INVALID_REDUCTION, fn, "reduction 7 is not");
    ASSERT_FAILS(clmse_partial_round(&good, (clmse_reduction)-1, CLMSE_DTYPE_F32, out),
                 CLMSE_ERROR_INVALID_REDUCTION, fn, "reduction -1 is not");
    ASSERT_FAILS(clmse_partial_round(&good, CLMSE_REDUCTION_SUM, CLMSE_DTYPE_I32, out),
                 CLMSE_ERROR_INVALID_DTYPE, fn, "int32 (12)");
    ASSERT_FAILS(clmse_partial_round(&good, CLMSE_REDUCTION_SUM, CLMSE_DTYPE_C64, out),
                 CLMSE_ERROR_INVALID_DTYPE, fn, "(20)");
    ASSERT_FAILS(clmse_partial_round(&good, CLMSE_REDUCTION_SUM, (clmse_dtype)99, out),
                 CLMSE_ERROR_INVALID_DTYPE, fn, "(99)");
    const clmse_partial bad[4] = {mk(1.0, 0.0, 1, 8, 0), mk(1.0, 0.0, 1, 0, 63),
                                  mk(NAN, 0.0, 1, 0, 0), mk(0.0, -1.0, 1, 0, 0)};
    const char *needle[4] = {"unknown flags 0x8", "exponent 63", "non-finite", "negative"};
    for (int i = 0; i < 4; i++)
        ASSERT_FAILS(clmse_partial_round(&bad[i], CLMSE_REDUCTION_MEAN, CLMSE_DTYPE_F32, out),
                     CLMSE_ERROR_INVALID_ARGUMENT, fn, needle[i]);
    for (size_t i = 0; i < sizeof out; i++)
        ck_assert_uint_eq(out[i], 0xa5);
}
END_TEST

/* ==== encode / decode ====================================================================== */

static void encode(const clmse_partial *p, int64_t *w)
{
    ASSERT_STATUS(clmse_partial_encode(p, w), CLMSE_SUCCESS);
}

static clmse_partial decode(const int64_t *w)
{
    clmse_partial p;
    ASSERT_STATUS(clmse_partial_decode(w, &p), CLMSE_SUCCESS);
    return p;
}

/* The canonical pair of p's exact value: TwoSum gives RN(V) and the exact rest. */
static clmse_partial canonical(const clmse_partial *p)
{
    clmse_partial c = *p;
    double s, e;
    two_sum(p->sum * pow2(p->exponent), p->sum_low * pow2(p->exponent), &s, &e);
    if (isfinite(s)) {
        c.exponent = 0;
    } else {
        two_sum(p->sum * (p->exponent ? 1.0 : pow2(-64)),
                p->sum_low * (p->exponent ? 1.0 : pow2(-64)), &s, &e);
        c.exponent = 64;
    }
    c.sum = s;
    c.sum_low = s == 0.0 ? 0.0 : e;
    return c;
}

START_TEST(test_encode_roundtrip)
{
    th_rng rng;
    th_rng_seed(&rng, 21);
    int64_t w[CLMSE_PARTIAL_WORDS];
    for (int i = 0; i < 5000; i++) {
        /* A normal head 2^e..2^(e+1), or a subnormal one, and below it a low part of either
         * sign: normal, or a few units of 2^-1074. */
        const int e = (int)(th_rng_next(&rng) % 2046) - 1022;
        const uint64_t m = (th_rng_next(&rng) >> 11) | (UINT64_C(1) << 52);
        const double hi = i % 7 == 0 ? (double)(m >> 1) * pow2(-1074) : (double)m * pow2(e - 52);
        const int le = e - 20 - (int)(th_rng_next(&rng) % 60);
        const uint64_t lm = (th_rng_next(&rng) >> 11) | (UINT64_C(1) << 52);
        double lo = le - 52 >= -1074 && i % 7 ? (double)lm * pow2(le - 52)
                                              : (double)(lm % 1024) * pow2(-1074);
        if (th_rng_next(&rng) & 1)
            lo = -lo;
        const clmse_partial p = mk(hi, lo, th_rng_next(&rng), 0, (i & 1) ? 64 : 0);
        encode(&p, w);
        ck_assert_int_eq(w[0], (int64_t)(p.count & 0xffffffffu));
        ck_assert_int_eq(w[1], (int64_t)(p.count >> 32));
        ck_assert_int_eq(w[2], 0);
        ck_assert_int_eq(w[3], 0);
        for (int k = 4; k < CLMSE_PARTIAL_WORDS; k++)
            ck_assert(w[k] >= 0 && w[k] <= INT64_C(0xffffffff));
        const clmse_partial got = decode(w), want = canonical(&p);
        ASSERT_PARTIAL(got, want);
        /* Decoding is canonical: the same again. */
        encode(&got, w);
        const clmse_partial again = decode(w);
        ASSERT_PARTIAL(again, want);
    }
    /* Flags, as given; the value fields of a flagged partial are not encoded. */
    const clmse_partial f = mk(NAN, -3.0, 9, CLMSE_PARTIAL_NAN | CLMSE_PARTIAL_INF, 64);
    encode(&f, w);
    ck_assert_int_eq(w[2], 1);
    ck_assert_int_eq(w[3], 1);
    for (int k = 4; k < CLMSE_PARTIAL_WORDS; k++)
        ck_assert_int_eq(w[k], 0);
    clmse_partial want = mk(0.0, 0.0, 9, CLMSE_PARTIAL_NAN, 0), got = decode(w);
    ASSERT_PARTIAL(got, want);
    w[2] = 0;
    want.flags = CLMSE_PARTIAL_INF;
    got = decode(w);
    ASSERT_PARTIAL(got, want);
}
END_TEST

START_TEST(test_encode_negative_low)
{
    int64_t w[CLMSE_PARTIAL_WORDS];
    /* 1 - 2^-60: digits below the unit's are set; the pair comes back as it was. */
    clmse_partial p = mk(1.0, -pow2(-60), 4, 0, 0), got;
    encode(&p, w);
    ck_assert_int_ne(w[4 + (1074 - 60) / 32], 0);
    got = decode(w);
    ASSERT_PARTIAL(got, p);
    /* A pair that is not normalised comes back normalised: 1 - 0.5 is 0.5. */
    p = mk(1.0, -0.5, 4, 0, 0);
    encode(&p, w);
    const clmse_partial half = mk(0.5, 0.0, 4, 0, 0);
    got = decode(w);
    ASSERT_PARTIAL(got, half);
    /* Signed digits are accepted: 2^32 - 1 units of 2^-1074 written as 2^32 - 1. */
    memset(w, 0, sizeof w);
    w[4] = -1;
    w[5] = 1;
    got = decode(w);
    const clmse_partial units = mk(4294967295.0 * pow2(-1074), 0.0, 0, 0, 0);
    ASSERT_PARTIAL(got, units);
}
END_TEST

/* Shards' encodings summed in different orders and trees: the same words, the same bits. */
START_TEST(test_encode_sum_orders)
{
    th_rng rng;
    th_rng_seed(&rng, 31);
    enum { SHARDS = 40, PER = 50 };
    int64_t w[SHARDS][CLMSE_PARTIAL_WORDS];
    clmse_partial part[SHARDS];
    float x[PER];
    double terms[PER];
    ld_pair ref = {0, 0};
    for (int s = 0; s < SHARDS; s++) {
        fill_kind(&rng, s % 3, x, PER);
        for (int i = 0; i < PER; i++) {
            terms[i] = (double)x[i] * (double)x[i];
            ld_add(&ref, terms[i]);
        }
        part[s] = shard_partial(terms, PER);
        if (s == 7) /* one shard at exponent 64 (tiny there) */
            part[s] = mk(part[s].sum * pow2(-64), part[s].sum_low * pow2(-64), PER, 0, 64);
        encode(&part[s], w[s]);
    }
    int64_t fwd[CLMSE_PARTIAL_WORDS] = {0}, rev[CLMSE_PARTIAL_WORDS] = {0},
            perm[CLMSE_PARTIAL_WORDS] = {0}, tree[SHARDS][CLMSE_PARTIAL_WORDS];
    int order[SHARDS];
    for (int s = 0; s < SHARDS; s++)
        order[s] = s;
    for (int s = SHARDS - 1; s > 0; s--) { /* Fisher-Yates */
        const int j = (int)(th_rng_next(&rng) % (uint64_t)(s + 1)), t = order[s];
        order[s] = order[j];
        order[j] = t;
    }
    memcpy(tree, w, sizeof tree);
    for (int s = 0; s < SHARDS; s++)
        for (int k = 0; k < CLMSE_PARTIAL_WORDS; k++) {
            fwd[k] += w[s][k];
            rev[k] += w[SHARDS - 1 - s][k];
            perm[k] += w[order[s]][k];
        }
    for (int step = 1; step < SHARDS; step *= 2) /* a pairwise tree, as an allreduce does */
        for (int s = 0; s + step < SHARDS; s += 2 * step)
            for (int k = 0; k < CLMSE_PARTIAL_WORDS; k++)
                tree[s][k] += tree[s + step][k];
    ck_assert(memcmp(fwd, rev, sizeof fwd) == 0);
    ck_assert(memcmp(fwd, perm, sizeof fwd) == 0);
    ck_assert(memcmp(fwd, tree[0], sizeof fwd) == 0);
    const clmse_partial a = decode(fwd), b = decode(tree[0]);
    ASSERT_PARTIAL(a, b);
    ck_assert_uint_eq(a.count, SHARDS * PER);
    ck_assert_int_eq(a.exponent, 0);
    /* The decoded sum is the exact sum rounded once (the reference pair is exact to 2^-100;
     * its rounding to one long double needs the wide ones to be certain). */
    uint64_t want;
    if (ld_wide()) {
        ck_assert(ref_bits(CLMSE_DTYPE_F64, ref.hi + ref.lo, &want));
        ck_assert_uint_eq(dbits(a.sum), want);
    } else {
        ck_assert(dtype_bits_near_exact(CLMSE_DTYPE_F64, dbits(a.sum), ref.hi + ref.lo));
    }
    /* Folded and decoded, the rounded losses agree. */
    clmse_partial folded;
    ASSERT_STATUS(clmse_partial_fold(part, SHARDS, &folded), CLMSE_SUCCESS);
    for (int k = 0; k < 4; k++)
        ck_assert_uint_eq(round_bits(&folded, CLMSE_REDUCTION_MEAN, k_dtypes[k]),
                          round_bits(&a, CLMSE_REDUCTION_MEAN, k_dtypes[k]));
}
END_TEST

START_TEST(test_encode_exponent64)
{
    int64_t w[CLMSE_PARTIAL_WORDS], t[CLMSE_PARTIAL_WORDS] = {0};
    /* Past the double range: exponent 64, the same pair back. */
    clmse_partial p = mk(1.5 * pow2(1023), -pow2(960), 2, 0, 64), got;
    encode(&p, w);
    got = decode(w);
    ASSERT_PARTIAL(got, p);
    /* Two unscaled halves of a sum that overflows: exponent 64 after the sum. */
    p = mk(1.5 * pow2(1023), 0.0, 1, 0, 0);
    encode(&p, w);
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < CLMSE_PARTIAL_WORDS; k++)
            t[k] += w[k];
    got = decode(t);
    const clmse_partial want = mk(1.5 * pow2(960), 0.0, 2, 0, 64);
    ASSERT_PARTIAL(got, want);
    /* Infinite even at exponent 64: the Inf flag. */
    p = mk(DBL_MAX, 0.0, 1, 0, 64);
    encode(&p, w);
    memset(t, 0, sizeof t);
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < CLMSE_PARTIAL_WORDS; k++)
            t[k] += w[k];
    got = decode(t);
    const clmse_partial inf = mk(0.0, 0.0, 2, CLMSE_PARTIAL_INF, 0);
    ASSERT_PARTIAL(got, inf);
}
END_TEST

START_TEST(test_encode_large_counts)
{
    int64_t w[CLMSE_PARTIAL_WORDS], t[CLMSE_PARTIAL_WORDS] = {0};
    clmse_partial p = mk(1.0, 0.0, (UINT64_C(1) << 32) + 5, 0, 0), got;
    encode(&p, w);
    ck_assert_int_eq(w[0], 5);
    ck_assert_int_eq(w[1], 1);
    /* Three low halves of 2^32 - 1 carry into the high word. */
    p.count = UINT64_C(0xffffffff) * 7;
    encode(&p, w);
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < CLMSE_PARTIAL_WORDS; k++)
            t[k] += w[k];
    ck_assert_int_gt(t[0], INT64_C(0xffffffff));
    got = decode(t);
    ck_assert_uint_eq(got.count, UINT64_C(0xffffffff) * 21);
    ck_assert(got.sum == 3.0);
    /* 2^64 - 1 exactly, then one more. */
    p.count = UINT64_MAX - 3;
    encode(&p, w);
    memcpy(t, w, sizeof t);
    p.count = 3;
    encode(&p, w);
    for (int k = 0; k < CLMSE_PARTIAL_WORDS; k++)
        t[k] += w[k];
    got = decode(t);
    ck_assert_uint_eq(got.count, UINT64_MAX);
    t[0] += 1;
    clmse_partial keep = got;
    ASSERT_FAILS(clmse_partial_decode(t, &got), CLMSE_ERROR_SIZE_OVERFLOW, "clmse_partial_decode",
                 "exceeds 2^64 - 1");
    ASSERT_PARTIAL(got, keep);
}
END_TEST

/* Hundreds of extreme encodings: every digit near 2^32 - 1, the largest counts. */
START_TEST(test_encode_many_extremes)
{
    enum { N = 512 };
    int64_t w[CLMSE_PARTIAL_WORDS], t[CLMSE_PARTIAL_WORDS] = {0};
    /* 53 set bits, their top one from 2^-1022 to 2^991 (and 2^64 higher at exponent 64):
     * digits near 2^32 - 1 across the range, the largest count halves. */
    for (int n = 0; n < N; n++) {
        const int at = -1022 + (int)((uint64_t)n * 2013 / N);
        const clmse_partial p =
            mk((pow2(53) - 1) * pow2(at - 52), 0.0, UINT64_MAX / N, 0, n % 2 ? 64 : 0);
        encode(&p, w);
        for (int k = 0; k < CLMSE_PARTIAL_WORDS; k++)
            t[k] += w[k];
    }
    clmse_partial got = decode(t);
    ck_assert_uint_eq(got.count, UINT64_MAX / N * N);
    ck_assert_int_eq(got.exponent, 64);
    ck_assert(isfinite(got.sum) && got.sum > 0);
    /* N copies of the largest value at exponent 64: past 2^1088, the Inf flag. */
    memset(t, 0, sizeof t);
    const clmse_partial top = mk(DBL_MAX, DBL_MAX * pow2(-54), UINT64_MAX / N, 0, 64);
    encode(&top, w);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < CLMSE_PARTIAL_WORDS; k++)
            t[k] += w[k];
    got = decode(t);
    ck_assert_uint_eq(got.flags, CLMSE_PARTIAL_INF);
    /* N copies of one value: N times it, exactly. */
    memset(t, 0, sizeof t);
    const clmse_partial one = mk((pow2(53) - 1) * pow2(900), pow2(840), 1, 0, 0);
    encode(&one, w);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < CLMSE_PARTIAL_WORDS; k++)
            t[k] += w[k];
    got = decode(t);
    const clmse_partial want = mk(one.sum * N, one.sum_low * N, N, 0, 0);
    ASSERT_PARTIAL(got, want);
}
END_TEST

START_TEST(test_encode_errors)
{
    const char *fn = "clmse_partial_encode";
    int64_t w[CLMSE_PARTIAL_WORDS];
    memset(w, 0x5a, sizeof w);
    const clmse_partial good = mk(1.0, 0.0, 1, 0, 0);
    ASSERT_FAILS(clmse_partial_encode(NULL, w), CLMSE_ERROR_INVALID_ARGUMENT, fn,
                 "partial is NULL");
    ASSERT_FAILS(clmse_partial_encode(&good, NULL), CLMSE_ERROR_INVALID_ARGUMENT, fn,
                 "words is NULL");
    const clmse_partial bad[5] = {mk(1.0, 0.0, 1, 16, 0), mk(1.0, 0.0, 1, 0, 32),
                                  mk(INFINITY, 0.0, 1, 0, 0), mk(-1.0, 0.5, 1, 0, 0),
                                  mk(1.0, -INFINITY, 1, 0, 64)};
    const char *needle[5] = {"unknown flags 0x10", "exponent 32", "non-finite", "negative",
                             "non-finite"};
    for (int i = 0; i < 5; i++)
        ASSERT_FAILS(clmse_partial_encode(&bad[i], w), CLMSE_ERROR_INVALID_ARGUMENT, fn, needle[i]);
    for (int k = 0; k < CLMSE_PARTIAL_WORDS; k++)
        ck_assert_int_eq(w[k], INT64_C(0x5a5a5a5a5a5a5a5a));
}
END_TEST

START_TEST(test_decode_errors)
{
    const char *fn = "clmse_partial_decode";
    int64_t w[CLMSE_PARTIAL_WORDS];
    clmse_partial out = mk(5.0, 0.0, 9, 0, 0), keep = out;
    memset(w, 0, sizeof w);
    ASSERT_FAILS(clmse_partial_decode(NULL, &out), CLMSE_ERROR_INVALID_ARGUMENT, fn,
                 "words is NULL");
    ASSERT_FAILS(clmse_partial_decode(w, NULL), CLMSE_ERROR_INVALID_ARGUMENT, fn,
                 "partial is NULL");
    const int64_t max = (INT64_C(1) << 29) * INT64_C(0xffffffff);
    const struct {
        int k;
        int64_t v;
        const char *needle;
    } bad[] = {
        {4, -1, "negative"},                       /* the value's sign */
        {CLMSE_PARTIAL_WORDS - 1, -1, "negative"}, /* in the top digit */
        {0, -1, "words[0] = -1"},                  /* a count half */
        {1, max + 1, "words[1] = 2305843008676823041"},
        {2, -1, "words[2] = -1"}, /* a flag */
        {3, (INT64_C(1) << 29) + 1, "words[3] = 536870913"},
        {10, max + 1, "words[10]"}, /* a digit */
        {20, INT64_MIN, "words[20]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(w, 0, sizeof w);
        w[bad[i].k] = bad[i].v;
        ASSERT_FAILS(clmse_partial_decode(w, &out), CLMSE_ERROR_INVALID_ARGUMENT, fn,
                     bad[i].needle);
        ASSERT_PARTIAL(out, keep);
    }
    /* The limits themselves are accepted. */
    memset(w, 0, sizeof w);
    w[0] = w[1] = 0;
    w[2] = w[3] = INT64_C(1) << 29;
    w[5] = max;
    w[4] = -max;
    ASSERT_STATUS(clmse_partial_decode(w, &out), CLMSE_SUCCESS);
    ck_assert_uint_eq(out.flags, CLMSE_PARTIAL_NAN);
}
END_TEST

Suite *make_partial_suite(void)
{
    Suite *s = suite_create("partial");
    TCase *tc = tcase_create("fold");
    tcase_add_test(tc, test_fold_index_order);
    tcase_add_test(tc, test_fold_counts_flags);
    tcase_add_test(tc, test_fold_exponents);
    tcase_add_test(tc, test_fold_alias);
    tcase_add_test(tc, test_fold_count_overflow);
    tcase_add_test(tc, test_fold_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("round");
    tcase_add_test(tc, test_round_worked_example);
    tcase_add_loop_test(tc, test_round_random, 0, 3);
    tcase_add_test(tc, test_round_vs_dtype_bits);
    tcase_add_test(tc, test_round_ties_low);
    tcase_add_test(tc, test_round_large_count);
    tcase_add_test(tc, test_round_exponent64);
    tcase_add_test(tc, test_round_flags_empty);
    tcase_add_test(tc, test_round_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("encode");
    tcase_add_test(tc, test_encode_roundtrip);
    tcase_add_test(tc, test_encode_negative_low);
    tcase_add_test(tc, test_encode_sum_orders);
    tcase_add_test(tc, test_encode_exponent64);
    tcase_add_test(tc, test_encode_large_counts);
    tcase_add_test(tc, test_encode_many_extremes);
    tcase_add_test(tc, test_encode_errors);
    tcase_add_test(tc, test_decode_errors);
    suite_add_tcase(s, tc);
    return s;
}
