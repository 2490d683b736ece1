/* SPDX-License-Identifier: MIT */
/* libFuzzer target for tensor descriptor validation: clmse_tensor_init, clmse__tensor_extent,
 * clmse__check_span, clmse_broadcast_shapes and clmse_promote_dtypes against a model of what
 * they must accept, computed apart from the library with the compiler's overflow builtins. */
#include "fuzz_check.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ranks up to 10: 9 and 10 must be refused. */
#define MAX_RANK (CLMSE_MAX_NDIM + 2)

/*
 * Input format (fuzz/make_corpus.py writes seeds in it; missing bytes read as 0):
 *   flags      bit 0: strides given (else NULL: C order); bit 1: shape pointer NULL;
 *              bit 2: shape_b pointer NULL
 *   dtype      see dtype_of()
 *   ndim       byte % 11
 *   shape      ndim values, then `ndim` strides when bit 0 is set
 *   offset, buffer size (bytes), count (a raw clmse__check_span call)
 *   dtype_b, ndim_b, shape_b   the second operand of broadcasting and promotion
 * A value is a tag byte: below 0xc0 the value itself (small sizes are the common case), for a
 * stride that minus 8; 0xc0 + s is followed by 8 little-endian bytes shifted right by s, which
 * puts values near every power of two.
 */
typedef struct input {
    const uint8_t *p;
    size_t n;
} input;

static unsigned next_byte(input *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

static uint64_t raw_value(input *in, unsigned tag)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v |= (uint64_t)next_byte(in) << (8 * i);
    return v >> (tag - 0xc0);
}

static size_t size_value(input *in)
{
    unsigned tag = next_byte(in);

    return tag < 0xc0 ? tag : (size_t)raw_value(in, tag);
}

static int64_t stride_value(input *in)
{
    unsigned tag = next_byte(in);

    /* Unshifted raw values above INT64_MAX become negative (two's complement). */
    return tag < 0xc0 ? (int64_t)tag - 8 : (int64_t)raw_value(in, tag);
}

static clmse_dtype dtype_of(unsigned b)
{
    static const clmse_dtype known[] = {CLMSE_DTYPE_F32,  CLMSE_DTYPE_F64, CLMSE_DTYPE_F16,
                                        CLMSE_DTYPE_BF16, CLMSE_DTYPE_I8,  CLMSE_DTYPE_I16,
                                        CLMSE_DTYPE_I32,  CLMSE_DTYPE_I64, CLMSE_DTYPE_U8,
                                        CLMSE_DTYPE_BOOL, CLMSE_DTYPE_C64, CLMSE_DTYPE_C128};
    /* Values no enumerator has, as a caller's cast could pass. */
    static const int unknown[] = {4, 5, 9, 16, 19, 22, 99, 255, -1, -2, 1000, 1 << 30};

    if (b < 0xf0)
        return known[b % (sizeof known / sizeof known[0])];
    return (clmse_dtype)unknown[(b - 0xf0) % (sizeof unknown / sizeof unknown[0])];
}

static int model_floating(clmse_dtype d)
{
    return d == CLMSE_DTYPE_F16 || d == CLMSE_DTYPE_BF16 || d == CLMSE_DTYPE_F32 ||
           d == CLMSE_DTYPE_F64;
}

/* Empties this thread's error slot, so that a failure's message is known to be its own. */
static void clear_error(void) { clmse__fail(NULL, CLMSE_SUCCESS, CL_SUCCESS, "%s", ""); }

static void check_failed(clmse_status st)
{
    CHECK(st != CLMSE_SUCCESS);
    CHECK(clmse_context_last_error(NULL)[0] != '\0');
}

/* What a view must give: the failures it may report, or its exact count and extent. */
typedef struct model {
    int layout;   /* rank > CLMSE_MAX_NDIM or a negative stride: CLMSE_ERROR_INVALID_LAYOUT */
    int overflow; /* CLMSE_ERROR_SIZE_OVERFLOW */
    size_t numel, extent;
} model;

/*
 * The rules of clmse_tensor's documentation: strides >= 0; the product of the non-zero sizes
 * fits in size_t (also for an empty view); a non-empty view's last element index, plus 1 and
 * the offset, times the element size (1 for an unknown dtype), fits in size_t.
 */
static model view_model(uint32_t ndim, const size_t *shape, const int64_t *strides, size_t offset,
                        size_t elem)
{
    model m = {0, 0, 0, 0};
    size_t count = 1, last = 0, end, bytes;
    int empty = 0;

    if (ndim > CLMSE_MAX_NDIM) {
        m.layout = 1;
        return m;
    }
    for (uint32_t k = 0; k < ndim; k++) {
        m.layout |= strides[k] < 0;
        if (shape[k] == 0)
            empty = 1;
        else
            m.overflow |= __builtin_mul_overflow(count, shape[k], &count);
    }
    if (m.layout || m.overflow) /* which one a view with both gets is the library's choice */
        return m;
    if (empty)
        return m; /* no element is reached: the offset is not checked */
    for (uint32_t k = 0; k < ndim; k++) {
        size_t term;

        if (__builtin_mul_overflow((size_t)(shape[k] - 1), (size_t)strides[k], &term) ||
            __builtin_add_overflow(last, term, &last)) {
            m.overflow = 1;
            return m;
        }
    }
    if (__builtin_add_overflow(offset, last, &end) || __builtin_add_overflow(end, 1, &end) ||
        __builtin_mul_overflow(end, elem, &bytes)) {
        m.overflow = 1;
        return m;
    }
    m.numel = count;
    m.extent = last + 1;
    return m;
}

static void check_view(clmse_status st, const model *m, size_t numel, size_t extent)
{
    if (!m->layout && !m->overflow) {
        CHECK(st == CLMSE_SUCCESS);
        CHECK(numel == m->numel && extent == m->extent);
        return;
    }
    check_failed(st);
    CHECK((m->layout && st == CLMSE_ERROR_INVALID_LAYOUT) ||
          (m->overflow && st == CLMSE_ERROR_SIZE_OVERFLOW));
}

/* [offset, offset + count) elements of `elem` bytes against a buffer of `bytes` bytes. */
static void check_span(size_t bytes, size_t offset, size_t count, size_t elem)
{
    size_t end, need;
    int overflow =
        __builtin_add_overflow(offset, count, &end) || __builtin_mul_overflow(end, elem, &need);
    clmse_status st;

    clear_error();
    st = clmse__check_span(NULL, "fuzz", bytes, offset, count, elem);
    if (overflow) {
        CHECK(st == CLMSE_ERROR_SIZE_OVERFLOW);
        check_failed(st);
    } else if (need > bytes) {
        CHECK(st == CLMSE_ERROR_BUFFER_TOO_SMALL);
        check_failed(st);
    } else {
        CHECK(st == CLMSE_SUCCESS);
    }
}

/* clmse_tensor_init in C order or with the given strides, then the extent of what it made. */
static void fuzz_init(clmse_dtype dtype, uint32_t ndim, const size_t *shape, const int64_t *strides,
                      int null_shape, size_t offset, size_t bytes)
{
    const size_t elem = clmse_dtype_size(dtype) ? clmse_dtype_size(dtype) : 1;
    int64_t c_strides[MAX_RANK];
    size_t later = 1; /* product of the sizes after k, zeros as 1 */
    int later_overflow = 0;
    clmse_tensor t, canary;
    clmse_status st;
    model m;

    /* C order: each stride is the product of the later sizes. Where that exceeds INT64_MAX the
     * element count overflows too, or the size is 0 or 1 and the stride is never used. */
    for (uint32_t k = ndim > CLMSE_MAX_NDIM ? 0 : ndim; k-- > 0;) {
        c_strides[k] = later_overflow || later > INT64_MAX ? INT64_MAX : (int64_t)later;
        later_overflow |= __builtin_mul_overflow(later, shape[k] ? shape[k] : 1, &later);
    }
    m = view_model(ndim, shape, strides ? strides : c_strides, offset, elem);

    memset(&t, 0x5a, sizeof t);
    canary = t;
    clear_error();
    st = clmse_tensor_init(&t, NULL, dtype, ndim, null_shape ? NULL : shape, strides, offset);
    if (null_shape && ndim > 0) {
        CHECK(st == CLMSE_ERROR_INVALID_ARGUMENT);
        check_failed(st);
        CHECK(memcmp(&t, &canary, sizeof t) == 0);
        return;
    }
    if (st != CLMSE_SUCCESS) {
        check_view(st, &m, 0, 0);
        CHECK(memcmp(&t, &canary, sizeof t) == 0); /* *t is written on success only */
        return;
    }
    check_view(st, &m, m.numel, m.extent);
    CHECK(t.buffer == NULL && t.dtype == dtype && t.ndim == ndim && t.offset == offset);
    for (uint32_t k = 0; k < ndim; k++) {
        CHECK(t.shape[k] == shape[k]);
        if (strides)
            CHECK(t.strides[k] == strides[k]);
        else if (shape[k] > 1 && m.numel > 0)
            CHECK(t.strides[k] == c_strides[k]); /* exact wherever it matters */
        else
            CHECK(t.strides[k] >= 0);
    }

    /* What clmse_mse does with a view: its extent, then the range of its buffer. */
    size_t numel = 0, extent = 0;

    clear_error();
    st = clmse__tensor_extent(NULL, "fuzz", &t, &numel, &extent);
    check_view(st, &m, numel, extent);
    if (numel > 0) {
        check_span(bytes, t.offset, extent, elem);
        /* The documented promise: a view that passes fits its buffer. */
        if (clmse__check_span(NULL, "fuzz", bytes, t.offset, extent, elem) == CLMSE_SUCCESS) {
            size_t end, need;

            CHECK(!__builtin_add_overflow(t.offset, extent, &end));
            CHECK(!__builtin_mul_overflow(end, elem, &need) && need <= bytes);
        }
    }
}

/* clmse__tensor_extent on a raw descriptor, which clmse_mse receives unchecked. */
static void fuzz_extent(clmse_dtype dtype, uint32_t ndim, const size_t *shape,
                        const int64_t *strides, size_t offset)
{
    const size_t elem = clmse_dtype_size(dtype) ? clmse_dtype_size(dtype) : 1;
    const model m = view_model(ndim, shape, strides, offset, elem);
    size_t numel = 0, extent = 0;
    clmse_tensor t;
    clmse_status st;

    memset(&t, 0, sizeof t);
    t.dtype = dtype;
    t.ndim = ndim;
    t.offset = offset;
    for (uint32_t k = 0; k < ndim && k < CLMSE_MAX_NDIM; k++) {
        t.shape[k] = shape[k];
        t.strides[k] = strides[k];
    }
    clear_error();
    st = clmse__tensor_extent(NULL, "fuzz", &t, &numel, &extent);
    check_view(st, &m, numel, extent);
}

static void fuzz_broadcast(uint32_t na, const size_t *a, uint32_t nb, const size_t *b, int null_b)
{
    size_t shape[CLMSE_MAX_NDIM], swapped[CLMSE_MAX_NDIM], again[CLMSE_MAX_NDIM];
    size_t want[CLMSE_MAX_NDIM];
    uint32_t nd = 0, nd2 = 0, nd3 = 0;
    clmse_status st, st2, st3;
    int mismatch = 0;

    clear_error();
    st = clmse_broadcast_shapes(na, a, nb, null_b ? NULL : b, &nd, shape);
    if (null_b && nb > 0) {
        CHECK(st == CLMSE_ERROR_INVALID_ARGUMENT);
        check_failed(st);
        return;
    }
    if (na > CLMSE_MAX_NDIM || nb > CLMSE_MAX_NDIM) {
        CHECK(st == CLMSE_ERROR_INVALID_LAYOUT);
        check_failed(st);
        return;
    }
    /* NumPy's rule: align the trailing sizes; each pair is equal or has a 1. */
    const uint32_t n = na > nb ? na : nb;
    for (uint32_t k = 0; k < n; k++) {
        const size_t da = k + na >= n ? a[k + na - n] : 1;
        const size_t db = k + nb >= n ? b[k + nb - n] : 1;

        mismatch |= da != db && da != 1 && db != 1;
        want[k] = da == 1 ? db : da;
    }
    if (mismatch) {
        CHECK(st == CLMSE_ERROR_SHAPE_MISMATCH);
        check_failed(st);
    } else {
        CHECK(st == CLMSE_SUCCESS && nd == n);
        CHECK(n == 0 || memcmp(shape, want, n * sizeof shape[0]) == 0);
    }

    /* Symmetric, and the result broadcasts with either operand to itself. */
    clear_error();
    st2 = clmse_broadcast_shapes(nb, b, na, a, &nd2, swapped);
    CHECK(st2 == st);
    if (st != CLMSE_SUCCESS) {
        check_failed(st2);
        return;
    }
    CHECK(nd2 == nd && (nd == 0 || memcmp(swapped, shape, nd * sizeof shape[0]) == 0));
    st3 = clmse_broadcast_shapes(nd, shape, na, a, &nd3, again);
    CHECK(st3 == CLMSE_SUCCESS && nd3 == nd);
    CHECK(nd == 0 || memcmp(again, shape, nd * sizeof shape[0]) == 0);
}

static void fuzz_promote(clmse_dtype a, clmse_dtype b)
{
    clmse_dtype out = (clmse_dtype)-1, out2 = (clmse_dtype)-1, want;
    clmse_status st, st2;

    /* An unknown dtype has no size and no name. */
    CHECK((clmse_dtype_size(a) == 0) == (strcmp(clmse_dtype_name(a), "unknown") == 0));

    clear_error();
    st = clmse_promote_dtypes(a, b, &out);
    if (!model_floating(a) || !model_floating(b)) {
        CHECK(st == CLMSE_ERROR_INVALID_DTYPE);
        check_failed(st);
        return;
    }
    /* torch: equal types stay; float64 wins; anything else meets at float32. */
    want = a == b                                         ? a
           : a == CLMSE_DTYPE_F64 || b == CLMSE_DTYPE_F64 ? CLMSE_DTYPE_F64
                                                          : CLMSE_DTYPE_F32;
    CHECK(st == CLMSE_SUCCESS && out == want);
    st2 = clmse_promote_dtypes(b, a, &out2);
    CHECK(st2 == CLMSE_SUCCESS && out2 == out);
    CHECK(clmse_dtype_size(out) >= clmse_dtype_size(a) &&
          clmse_dtype_size(out) >= clmse_dtype_size(b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in = {data, size};
    size_t shape[MAX_RANK], shape_b[MAX_RANK];
    int64_t strides[MAX_RANK];
    const unsigned flags = next_byte(&in);
    const clmse_dtype dtype = dtype_of(next_byte(&in));
    const uint32_t ndim = next_byte(&in) % (MAX_RANK + 1);

    for (uint32_t k = 0; k < ndim; k++)
        shape[k] = size_value(&in);
    for (uint32_t k = 0; k < ndim; k++)
        strides[k] = flags & 1 ? stride_value(&in) : 0;
    const size_t offset = size_value(&in);
    const size_t bytes = size_value(&in);
    const size_t count = size_value(&in);
    const clmse_dtype dtype_b = dtype_of(next_byte(&in));
    const uint32_t ndim_b = next_byte(&in) % (MAX_RANK + 1);
    for (uint32_t k = 0; k < ndim_b; k++)
        shape_b[k] = size_value(&in);

    fuzz_init(dtype, ndim, shape, flags & 1 ? strides : NULL, (flags & 2) != 0, offset, bytes);
    if (flags & 1)
        fuzz_extent(dtype, ndim, shape, strides, offset);
    check_span(bytes, offset, count, clmse_dtype_size(dtype) ? clmse_dtype_size(dtype) : 1);
    fuzz_broadcast(ndim, shape, ndim_b, shape_b, (flags & 4) != 0);
    fuzz_promote(dtype, dtype_b);
    return 0;
}
