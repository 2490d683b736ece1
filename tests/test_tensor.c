/* SPDX-License-Identifier: MIT */
/* Host-only tensor API: views, dtype sizes/names/promotion, broadcasting, legacy reductions. */
#include "helpers.h"
#include "suites.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define ASSERT_STATUS(call, want)                                                                 \
    do {                                                                                          \
        clmse_status st_ = (call);                                                                \
        ck_assert_msg(st_ == (want), "%s: got %s (%d), want %s (%d): %s", #call,                  \
                      clmse_status_string(st_), (int)st_, clmse_status_string(want), (int)(want), \
                      clmse_context_last_error(NULL));                                            \
    } while (0)

/* A failure must leave a message for clmse_context_last_error(NULL). */
#define ASSERT_FAILS(call, want)                                                                 \
    do {                                                                                         \
        ASSERT_STATUS(call, want);                                                               \
        ck_assert_msg(clmse_context_last_error(NULL)[0] != '\0', "%s: no error message", #call); \
    } while (0)

/* A recognisable non-NULL cl_mem that is never dereferenced: clmse_tensor_init only stores it. */
static int g_fake_buffer;
#define FAKE_MEM ((cl_mem)(void *)&g_fake_buffer)

/* ==== clmse_tensor_init ================================================================== */

START_TEST(test_init_c_order)
{
    const size_t shape[3] = {2, 3, 4};
    clmse_tensor t;
    memset(&t, 0xcc, sizeof t);
    ASSERT_STATUS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_F32, 3, shape, NULL, 7),
                  CLMSE_SUCCESS);
    ck_assert_ptr_eq(t.buffer, FAKE_MEM);
    ck_assert_uint_eq(t.offset, 7);
    ck_assert_int_eq(t.dtype, CLMSE_DTYPE_F32);
    ck_assert_uint_eq(t.ndim, 3);
    for (int k = 0; k < 3; k++)
        ck_assert_uint_eq(t.shape[k], shape[k]);
    ck_assert_int_eq(t.strides[0], 12);
    ck_assert_int_eq(t.strides[1], 4);
    ck_assert_int_eq(t.strides[2], 1);

    /* Size-1 dimensions still get their C-order stride. */
    const size_t s2[4] = {5, 1, 1, 6};
    ASSERT_STATUS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_F16, 4, s2, NULL, 0), CLMSE_SUCCESS);
    ck_assert_int_eq(t.strides[0], 6);
    ck_assert_int_eq(t.strides[1], 6);
    ck_assert_int_eq(t.strides[2], 6);
    ck_assert_int_eq(t.strides[3], 1);
    ck_assert_int_eq(t.dtype, CLMSE_DTYPE_F16);

    /* The full rank. */
    const size_t s8[CLMSE_MAX_NDIM] = {2, 2, 2, 2, 2, 2, 2, 3};
    ASSERT_STATUS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_F64, CLMSE_MAX_NDIM, s8, NULL, 0),
                  CLMSE_SUCCESS);
    int64_t want = 1;
    for (int k = CLMSE_MAX_NDIM - 1; k >= 0; k--) {
        ck_assert_int_eq(t.strides[k], want);
        want *= (int64_t)s8[k];
    }
}
END_TEST

START_TEST(test_init_explicit_strides)
{
    const size_t shape[2] = {4, 5};
    const int64_t fortran[2] = {1, 4};
    clmse_tensor t;
    ASSERT_STATUS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_F32, 2, shape, fortran, 3),
                  CLMSE_SUCCESS);
    ck_assert_int_eq(t.strides[0], 1);
    ck_assert_int_eq(t.strides[1], 4);
    ck_assert_uint_eq(t.offset, 3);

    /* Stride 0 (an expanded view) and gaps are kept as given. */
    const int64_t odd[2] = {0, 3};
    ASSERT_STATUS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_BF16, 2, shape, odd, 0),
                  CLMSE_SUCCESS);
    ck_assert_int_eq(t.strides[0], 0);
    ck_assert_int_eq(t.strides[1], 3);
    ck_assert_int_eq(t.dtype, CLMSE_DTYPE_BF16);
}
END_TEST

START_TEST(test_init_zero_d_and_empty)
{
    clmse_tensor t;
    /* 0-d: shape may be NULL, one element. */
    ASSERT_STATUS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_F32, 0, NULL, NULL, 2),
                  CLMSE_SUCCESS);
    ck_assert_uint_eq(t.ndim, 0);
    ck_assert_uint_eq(t.offset, 2);
    /* Empty tensors may have a NULL buffer. */
    const size_t s1[1] = {0}, s3[3] = {2, 0, 3};
    ASSERT_STATUS(clmse_tensor_init(&t, NULL, CLMSE_DTYPE_F32, 1, s1, NULL, 0), CLMSE_SUCCESS);
    ck_assert_ptr_null(t.buffer);
    ck_assert_uint_eq(t.shape[0], 0);
    ASSERT_STATUS(clmse_tensor_init(&t, NULL, CLMSE_DTYPE_F64, 3, s3, NULL, 0), CLMSE_SUCCESS);
    ck_assert_uint_eq(t.ndim, 3);
    ck_assert_uint_eq(t.shape[1], 0);
    ck_assert_int_eq(t.strides[2], 1);
    /* An empty tensor reaches no element, so huge strides or sizes beside the 0 are fine. */
    const size_t big[2] = {0, SIZE_MAX};
    const int64_t huge[2] = {INT64_MAX, INT64_MAX};
    ASSERT_STATUS(clmse_tensor_init(&t, NULL, CLMSE_DTYPE_F32, 2, big, huge, 0), CLMSE_SUCCESS);
}
END_TEST

START_TEST(test_init_errors)
{
    clmse_tensor t;
    const size_t s9[CLMSE_MAX_NDIM + 1] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    ASSERT_FAILS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_F32, CLMSE_MAX_NDIM + 1, s9, NULL, 0),
                 CLMSE_ERROR_INVALID_LAYOUT);
    ASSERT_FAILS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_F32, UINT32_MAX, s9, NULL, 0),
                 CLMSE_ERROR_INVALID_LAYOUT);

    const size_t s2[2] = {3, 4};
    const int64_t neg[2] = {4, -1};
    ASSERT_FAILS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_F32, 2, s2, neg, 0),
                 CLMSE_ERROR_INVALID_LAYOUT);
    const int64_t neg0[2] = {INT64_MIN, 1};
    ASSERT_FAILS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_F32, 2, s2, neg0, 0),
                 CLMSE_ERROR_INVALID_LAYOUT);

    ASSERT_FAILS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_F32, 2, NULL, NULL, 0),
                 CLMSE_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(clmse_tensor_init(NULL, FAKE_MEM, CLMSE_DTYPE_F32, 2, s2, NULL, 0),
                 CLMSE_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(clmse_tensor_init(NULL, FAKE_MEM, CLMSE_DTYPE_F32, 0, NULL, NULL, 0),
                 CLMSE_ERROR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(test_init_overflow)
{
    clmse_tensor t;
    /* The element count overflows size_t. */
    const size_t count[2] = {SIZE_MAX / 2 + 1, 2};
    ASSERT_FAILS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_F32, 2, count, NULL, 0),
                 CLMSE_ERROR_SIZE_OVERFLOW);
    const size_t count3[3] = {(size_t)1 << 32, (size_t)1 << 31, 2};
    ASSERT_FAILS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_U8, 3, count3, NULL, 0),
                 CLMSE_ERROR_SIZE_OVERFLOW);
    /* Even with stride-0 dimensions the count itself must fit. */
    const int64_t zero[2] = {0, 0};
    ASSERT_FAILS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_F32, 2, count, zero, 0),
                 CLMSE_ERROR_SIZE_OVERFLOW);

    /* Few elements, but the strides reach past the address space. */
    const size_t four[1] = {4};
    const int64_t far[1] = {INT64_MAX};
    ASSERT_FAILS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_F32, 1, four, far, 0),
                 CLMSE_ERROR_SIZE_OVERFLOW);
    const size_t two[2] = {2, 2}, two3[2] = {2, 3};
    const int64_t far2[2] = {INT64_MAX, INT64_MAX};
    ASSERT_FAILS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_U8, 2, two3, far2, 0),
                 CLMSE_ERROR_SIZE_OVERFLOW);
    /* ...while 2 * (2^63 - 1) + 1 bytes = SIZE_MAX still fits, exactly. */
    ASSERT_STATUS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_U8, 2, two, far2, 0), CLMSE_SUCCESS);
    ASSERT_FAILS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_U8, 2, two, far2, 1),
                 CLMSE_ERROR_SIZE_OVERFLOW);
    ASSERT_FAILS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_I16, 2, two, far2, 0),
                 CLMSE_ERROR_SIZE_OVERFLOW);
    /* The extent in bytes overflows: 2^62 float32 elements. */
    const size_t one_dim[1] = {2};
    const int64_t byte_far[1] = {(int64_t)1 << 62};
    ASSERT_FAILS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_F32, 1, one_dim, byte_far, 0),
                 CLMSE_ERROR_SIZE_OVERFLOW);
    /* The offset pushes the extent past the address space. */
    ASSERT_FAILS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_F64, 1, four, NULL, SIZE_MAX - 2),
                 CLMSE_ERROR_SIZE_OVERFLOW);
    /* 3 * 2^62 elements: the count and the extent fit for one-byte elements, but the extent
     * in bytes does not for float32. */
    const size_t wide[2] = {3, (size_t)1 << 62};
    ASSERT_STATUS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_U8, 2, wide, NULL, 0), CLMSE_SUCCESS);
    ck_assert_int_eq(t.strides[0], (int64_t)1 << 62);
    ASSERT_FAILS(clmse_tensor_init(&t, FAKE_MEM, CLMSE_DTYPE_F32, 2, wide, NULL, 0),
                 CLMSE_ERROR_SIZE_OVERFLOW);
}
END_TEST

/* ==== dtypes ============================================================================= */

typedef struct dtype_row {
    clmse_dtype dtype;
    size_t size;
    const char *name;
    int floating;
} dtype_row;

static const dtype_row k_dtypes[] = {
    {CLMSE_DTYPE_F32, 4, "float32", 1},   {CLMSE_DTYPE_F64, 8, "float64", 1},
    {CLMSE_DTYPE_F16, 2, "float16", 1},   {CLMSE_DTYPE_BF16, 2, "bfloat16", 1},
    {CLMSE_DTYPE_I8, 1, "int8", 0},       {CLMSE_DTYPE_I16, 2, "int16", 0},
    {CLMSE_DTYPE_I32, 4, "int32", 0},     {CLMSE_DTYPE_I64, 8, "int64", 0},
    {CLMSE_DTYPE_U8, 1, "uint8", 0},      {CLMSE_DTYPE_BOOL, 1, "bool", 0},
    {CLMSE_DTYPE_C64, 8, "complex64", 0}, {CLMSE_DTYPE_C128, 16, "complex128", 0},
};
#define N_DTYPES ((int)(sizeof k_dtypes / sizeof k_dtypes[0]))

START_TEST(test_dtype_size_name)
{
    for (int i = 0; i < N_DTYPES; i++) {
        ck_assert_msg(clmse_dtype_size(k_dtypes[i].dtype) == k_dtypes[i].size, "size of %s: %zu",
                      k_dtypes[i].name, clmse_dtype_size(k_dtypes[i].dtype));
        ck_assert_str_eq(clmse_dtype_name(k_dtypes[i].dtype), k_dtypes[i].name);
    }
    /* The ABI values never change. */
    ck_assert_int_eq(CLMSE_DTYPE_F32, 0);
    ck_assert_int_eq(CLMSE_DTYPE_F64, 1);
    ck_assert_int_eq(CLMSE_DTYPE_F16, 2);
    ck_assert_int_eq(CLMSE_DTYPE_BF16, 3);
    ck_assert_int_eq(CLMSE_DTYPE_I32, 12);
    ck_assert_int_eq(CLMSE_DTYPE_BOOL, 15);
    ck_assert_int_eq(CLMSE_DTYPE_C128, 21);
    const int unknown[] = {4, 9, 16, 19, 22, 99, -1};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        ck_assert_uint_eq(clmse_dtype_size((clmse_dtype)unknown[i]), 0);
        ck_assert_str_eq(clmse_dtype_name((clmse_dtype)unknown[i]), "unknown");
    }
}
END_TEST

static clmse_dtype promoted(clmse_dtype a, clmse_dtype b)
{
    clmse_dtype out = (clmse_dtype)-7;
    clmse_status st = clmse_promote_dtypes(a, b, &out);
    ck_assert_msg(st == CLMSE_SUCCESS, "promote(%s, %s): %s", clmse_dtype_name(a),
                  clmse_dtype_name(b), clmse_status_string(st));
    return out;
}

START_TEST(test_promotion)
{
    /* torch.promote_types over the floating dtypes; rows and columns F32, F64, F16, BF16. */
    const clmse_dtype f[4] = {CLMSE_DTYPE_F32, CLMSE_DTYPE_F64, CLMSE_DTYPE_F16, CLMSE_DTYPE_BF16};
    const clmse_dtype table[4][4] = {
        {CLMSE_DTYPE_F32, CLMSE_DTYPE_F64, CLMSE_DTYPE_F32, CLMSE_DTYPE_F32},
        {CLMSE_DTYPE_F64, CLMSE_DTYPE_F64, CLMSE_DTYPE_F64, CLMSE_DTYPE_F64},
        {CLMSE_DTYPE_F32, CLMSE_DTYPE_F64, CLMSE_DTYPE_F16, CLMSE_DTYPE_F32},
        {CLMSE_DTYPE_F32, CLMSE_DTYPE_F64, CLMSE_DTYPE_F32, CLMSE_DTYPE_BF16},
    };
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            ck_assert_msg(promoted(f[i], f[j]) == table[i][j], "promote(%s, %s) = %s, want %s",
                          clmse_dtype_name(f[i]), clmse_dtype_name(f[j]),
                          clmse_dtype_name(promoted(f[i], f[j])), clmse_dtype_name(table[i][j]));
    /* The cases the brief names, spelled out. */
    ck_assert_int_eq(promoted(CLMSE_DTYPE_F16, CLMSE_DTYPE_F32), CLMSE_DTYPE_F32);
    ck_assert_int_eq(promoted(CLMSE_DTYPE_F32, CLMSE_DTYPE_F64), CLMSE_DTYPE_F64);
    ck_assert_int_eq(promoted(CLMSE_DTYPE_F16, CLMSE_DTYPE_BF16), CLMSE_DTYPE_F32);
    ck_assert_int_eq(promoted(CLMSE_DTYPE_BF16, CLMSE_DTYPE_BF16), CLMSE_DTYPE_BF16);
    ck_assert_int_eq(promoted(CLMSE_DTYPE_F16, CLMSE_DTYPE_F64), CLMSE_DTYPE_F64);
}
END_TEST

START_TEST(test_promotion_errors)
{
    clmse_dtype out = CLMSE_DTYPE_C128;
    for (int i = 0; i < N_DTYPES; i++) {
        if (k_dtypes[i].floating)
            continue;
        /* Either side, with a floating partner or with itself. */
        ASSERT_FAILS(clmse_promote_dtypes(k_dtypes[i].dtype, CLMSE_DTYPE_F32, &out),
                     CLMSE_ERROR_INVALID_DTYPE);
        ASSERT_FAILS(clmse_promote_dtypes(CLMSE_DTYPE_F64, k_dtypes[i].dtype, &out),
                     CLMSE_ERROR_INVALID_DTYPE);
        ASSERT_FAILS(clmse_promote_dtypes(k_dtypes[i].dtype, k_dtypes[i].dtype, &out),
                     CLMSE_ERROR_INVALID_DTYPE);
    }
    ASSERT_FAILS(clmse_promote_dtypes((clmse_dtype)99, CLMSE_DTYPE_F32, &out),
                 CLMSE_ERROR_INVALID_DTYPE);
    ck_assert_int_eq(out, CLMSE_DTYPE_C128); /* untouched by every failure */
    ASSERT_FAILS(clmse_promote_dtypes(CLMSE_DTYPE_F32, CLMSE_DTYPE_F32, NULL),
                 CLMSE_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(clmse_promote_dtypes(CLMSE_DTYPE_I32, CLMSE_DTYPE_F32, NULL),
                 CLMSE_ERROR_INVALID_ARGUMENT);
}
END_TEST

/* ==== broadcasting ======================================================================= */

typedef struct bcast_case {
    uint32_t na;
    size_t a[CLMSE_MAX_NDIM];
    uint32_t nb;
    size_t b[CLMSE_MAX_NDIM];
    uint32_t nr;
    size_t r[CLMSE_MAX_NDIM];
} bcast_case;

static const bcast_case k_bcast[] = {
    {2, {3, 1}, 1, {3}, 2, {3, 3}},
    {1, {3}, 2, {2, 3}, 2, {2, 3}},
    {0, {0}, 1, {4}, 1, {4}},
    {1, {4}, 0, {0}, 1, {4}},
    {0, {0}, 0, {0}, 0, {0}},
    {1, {5}, 1, {1}, 1, {5}},
    {1, {1}, 1, {5}, 1, {5}},
    {1, {0}, 1, {1}, 1, {0}},
    {2, {0, 3}, 1, {3}, 2, {0, 3}},
    {2, {2, 0}, 2, {2, 1}, 2, {2, 0}},
    {3, {2, 1, 4}, 2, {3, 1}, 3, {2, 3, 4}},
    {2, {4, 5}, 2, {4, 5}, 2, {4, 5}},
    {1, {1}, 3, {1, 1, 1}, 3, {1, 1, 1}},
    {8, {2, 1, 2, 1, 2, 1, 2, 1}, 7, {2, 1, 2, 1, 2, 1, 2}, 8, {2, 2, 2, 2, 2, 2, 2, 2}},
};
#define N_BCAST ((int)(sizeof k_bcast / sizeof k_bcast[0]))

START_TEST(test_broadcast_ok)
{
    const bcast_case *c = &k_bcast[_i];
    uint32_t nd = 99;
    size_t shape[CLMSE_MAX_NDIM];
    for (int k = 0; k < CLMSE_MAX_NDIM; k++)
        shape[k] = 12345;
    ASSERT_STATUS(
        clmse_broadcast_shapes(c->na, c->na ? c->a : NULL, c->nb, c->nb ? c->b : NULL, &nd, shape),
        CLMSE_SUCCESS);
    ck_assert_uint_eq(nd, c->nr);
    for (uint32_t k = 0; k < c->nr; k++)
        ck_assert_msg(shape[k] == c->r[k], "case %d: dim %u is %zu, want %zu", _i, k, shape[k],
                      c->r[k]);
    /* Broadcasting is symmetric. */
    ASSERT_STATUS(clmse_broadcast_shapes(c->nb, c->b, c->na, c->a, &nd, shape), CLMSE_SUCCESS);
    ck_assert_uint_eq(nd, c->nr);
    for (uint32_t k = 0; k < c->nr; k++)
        ck_assert_uint_eq(shape[k], c->r[k]);
}
END_TEST

START_TEST(test_broadcast_mismatch)
{
    const size_t a[2] = {2, 3}, b[2] = {3, 2};
    uint32_t nd = 77;
    size_t shape[CLMSE_MAX_NDIM] = {0};
    ASSERT_FAILS(clmse_broadcast_shapes(2, a, 2, b, &nd, shape), CLMSE_ERROR_SHAPE_MISMATCH);
    const char *msg = clmse_context_last_error(NULL);
    ck_assert_msg(strstr(msg, "(2, 3)") != NULL && strstr(msg, "(3, 2)") != NULL,
                  "message does not name both shapes: %s", msg);
    ck_assert_uint_eq(nd, 77);

    const size_t z[1] = {0}, three[1] = {3};
    ASSERT_FAILS(clmse_broadcast_shapes(1, z, 1, three, &nd, shape), CLMSE_ERROR_SHAPE_MISMATCH);
    msg = clmse_context_last_error(NULL);
    ck_assert_msg(strstr(msg, "(0,)") != NULL && strstr(msg, "(3,)") != NULL,
                  "message does not name both shapes: %s", msg);
    ASSERT_FAILS(clmse_broadcast_shapes(1, three, 1, z, &nd, shape), CLMSE_ERROR_SHAPE_MISMATCH);

    const size_t a3[3] = {2, 3, 4}, b3[2] = {5, 4};
    ASSERT_FAILS(clmse_broadcast_shapes(3, a3, 2, b3, &nd, shape), CLMSE_ERROR_SHAPE_MISMATCH);
    const size_t x35[2] = {3, 5}, y53[2] = {5, 3};
    ASSERT_FAILS(clmse_broadcast_shapes(2, x35, 2, y53, &nd, shape), CLMSE_ERROR_SHAPE_MISMATCH);
    ck_assert_uint_eq(nd, 77);
}
END_TEST

START_TEST(test_broadcast_errors)
{
    const size_t a[2] = {2, 3};
    size_t s9[CLMSE_MAX_NDIM + 1] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    uint32_t nd = 0;
    size_t shape[CLMSE_MAX_NDIM];
    ASSERT_FAILS(clmse_broadcast_shapes(2, a, 2, a, NULL, shape), CLMSE_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(clmse_broadcast_shapes(2, a, 2, a, &nd, NULL), CLMSE_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(clmse_broadcast_shapes(2, NULL, 2, a, &nd, shape), CLMSE_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(clmse_broadcast_shapes(2, a, 1, NULL, &nd, shape), CLMSE_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(clmse_broadcast_shapes(CLMSE_MAX_NDIM + 1, s9, 2, a, &nd, shape),
                 CLMSE_ERROR_INVALID_LAYOUT);
    ASSERT_FAILS(clmse_broadcast_shapes(2, a, CLMSE_MAX_NDIM + 1, s9, &nd, shape),
                 CLMSE_ERROR_INVALID_LAYOUT);
}
END_TEST

/* ==== legacy size_average / reduce ======================================================== */

enum { U = CLMSE_LEGACY_UNSET };

START_TEST(test_legacy_table)
{
    /* PYTORCH_SEMANTICS.md 1.3; the first row returns `reduction` itself. */
    static const struct {
        int size_average, reduce;
        int result; /* -1: the reduction argument */
    } rows[9] = {
        {U, U, -1},
        {U, 1, CLMSE_REDUCTION_MEAN},
        {U, 0, CLMSE_REDUCTION_NONE},
        {1, U, CLMSE_REDUCTION_MEAN},
        {1, 1, CLMSE_REDUCTION_MEAN},
        {1, 0, CLMSE_REDUCTION_NONE},
        {0, U, CLMSE_REDUCTION_SUM},
        {0, 1, CLMSE_REDUCTION_SUM},
        {0, 0, CLMSE_REDUCTION_NONE},
    };
    const clmse_reduction given[3] = {CLMSE_REDUCTION_NONE, CLMSE_REDUCTION_MEAN,
                                      CLMSE_REDUCTION_SUM};
    for (int r = 0; r < 9; r++)
        for (int g = 0; g < 3; g++) {
            clmse_reduction out = (clmse_reduction)-3;
            ASSERT_STATUS(
                clmse_legacy_reduction(rows[r].size_average, rows[r].reduce, given[g], &out),
                CLMSE_SUCCESS);
            /* A legacy argument overrides an explicit reduction, whatever it is. */
            const int want = rows[r].result < 0 ? (int)given[g] : rows[r].result;
            ck_assert_msg((int)out == want,
                          "size_average=%d reduce=%d reduction=%d: got %d, want %d",
                          rows[r].size_average, rows[r].reduce, (int)given[g], (int)out, want);
        }
    /* e.g. size_average=False, reduction='none' is a sum (verified against torch). */
    clmse_reduction out = CLMSE_REDUCTION_MEAN;
    ASSERT_STATUS(clmse_legacy_reduction(0, U, CLMSE_REDUCTION_NONE, &out), CLMSE_SUCCESS);
    ck_assert_int_eq(out, CLMSE_REDUCTION_SUM);
    /* torch never looks at `reduction` once a legacy argument is given. */
    ASSERT_STATUS(clmse_legacy_reduction(1, 0, (clmse_reduction)7, &out), CLMSE_SUCCESS);
    ck_assert_int_eq(out, CLMSE_REDUCTION_NONE);
}
END_TEST

START_TEST(test_legacy_errors)
{
    clmse_reduction out = CLMSE_REDUCTION_SUM;
    const int bad[] = {2, -5, -2, 100, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_FAILS(clmse_legacy_reduction(bad[i], U, CLMSE_REDUCTION_MEAN, &out),
                     CLMSE_ERROR_INVALID_ARGUMENT);
        ASSERT_FAILS(clmse_legacy_reduction(U, bad[i], CLMSE_REDUCTION_MEAN, &out),
                     CLMSE_ERROR_INVALID_ARGUMENT);
        ASSERT_FAILS(clmse_legacy_reduction(1, bad[i], CLMSE_REDUCTION_MEAN, &out),
                     CLMSE_ERROR_INVALID_ARGUMENT);
        ASSERT_FAILS(clmse_legacy_reduction(bad[i], 0, CLMSE_REDUCTION_MEAN, &out),
                     CLMSE_ERROR_INVALID_ARGUMENT);
    }
    ASSERT_FAILS(clmse_legacy_reduction(U, U, (clmse_reduction)7, &out),
                 CLMSE_ERROR_INVALID_REDUCTION);
    ASSERT_FAILS(clmse_legacy_reduction(U, U, (clmse_reduction)-1, &out),
                 CLMSE_ERROR_INVALID_REDUCTION);
    ASSERT_FAILS(clmse_legacy_reduction(U, U, CLMSE_REDUCTION_MEAN, NULL),
                 CLMSE_ERROR_INVALID_ARGUMENT);
    ASSERT_FAILS(clmse_legacy_reduction(0, 1, CLMSE_REDUCTION_MEAN, NULL),
                 CLMSE_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(out, CLMSE_REDUCTION_SUM); /* untouched by every failure */
}
END_TEST

/* ==== the tests' own float16 / bfloat16 conversions ======================================= */
/* The device tests trust these as references, so they are checked here against known bit
 * patterns, exhaustively for round trips and ties, and against the compiler's _Float16. */

START_TEST(test_conversions_known)
{
    static const struct {
        double v;
        uint16_t half, bf16;
    } known[] = {
        {0.0, 0x0000, 0x0000},
        {-0.0, 0x8000, 0x8000},
        {1.0, 0x3c00, 0x3f80},
        {-2.0, 0xc000, 0xc000},
        {0.5, 0x3800, 0x3f00},
        {65504.0, 0x7bff, 0x4780},
        {65519.99, 0x7bff, 0x4780},
        {65520.0, 0x7c00, 0x4780}, /* the half overflow tie goes to infinity */
        {1e6, 0x7c00, 0x4974},
        {3.14159265358979, 0x4248, 0x4049},
        {0.1, 0x2e66, 0x3dcd},
        {5.9604644775390625e-08, 0x0001, 0x3380},  /* 2^-24, the smallest half subnormal */
        {2.98023223876953125e-08, 0x0000, 0x3300}, /* 2^-25: a tie, to even (0) */
        {4.4703483581542969e-08, 0x0001, 0x3340},  /* 1.5 * 2^-25 rounds up */
        {6.103515625e-05, 0x0400, 0x3880},         /* 2^-14, the smallest normal half */
        {6.0975551605224609e-05, 0x03ff, 0x3880},  /* the largest subnormal half */
        {1.0009765625, 0x3c01, 0x3f80},            /* 1 + 2^-10 */
        {1.00048828125, 0x3c00, 0x3f80},           /* 1 + 2^-11: tie to even, down */
        {1.00146484375, 0x3c02, 0x3f80},           /* 1 + 3 * 2^-11: tie to even, up */
        {1.00390625, 0x3c04, 0x3f80},              /* 1 + 2^-8: bf16 tie to even, down */
        {1.01171875, 0x3c0c, 0x3f82},              /* 1 + 3 * 2^-8: bf16 tie, up */
        {3.3895313892515355e38, 0x7c00, 0x7f7f},   /* largest bf16 */
        {3.4028234663852886e38, 0x7c00, 0x7f80},   /* FLT_MAX rounds to inf in bf16 */
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        ck_assert_msg(dtype_bits_half(known[i].v) == known[i].half,
                      "half(%.17g) = %#06x, want %#06x", known[i].v,
                      (unsigned)dtype_bits_half(known[i].v), (unsigned)known[i].half);
        ck_assert_msg(dtype_bits_bf16(known[i].v) == known[i].bf16,
                      "bf16(%.17g) = %#06x, want %#06x", known[i].v,
                      (unsigned)dtype_bits_bf16(known[i].v), (unsigned)known[i].bf16);
    }
    ck_assert_uint_eq(dtype_bits_half((double)INFINITY), 0x7c00);
    ck_assert_uint_eq(dtype_bits_half(-(double)INFINITY), 0xfc00);
    ck_assert_uint_eq(dtype_bits_bf16(-(double)INFINITY), 0xff80);
    ck_assert(isnan(th_half_to_float(dtype_bits_half((double)NAN))));
    ck_assert(isnan(th_bf16_to_float(th_bf16_from_float(NAN))));
    ck_assert(isinf(th_half_to_float(0x7c00)) && th_half_to_float(0x7c00) > 0);
    ck_assert(th_half_to_float(0x0001) == 5.9604644775390625e-08f);
    ck_assert(th_bf16_to_float(0x3f81) == 1.0078125f);
    /* float32 through the same rounding: (float) of a double is the hardware's rounding. */
    const double probes[] = {0.1, 1.0 / 3.0, 1e-40, 1e-45, 7e-46, 3.5e38, -2.5e-39};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        const float f = (float)probes[i];
        ck_assert_msg(dtype_bits_round(probes[i], 23, 8) == th_bits(f), "f32(%.17g)", probes[i]);
        ck_assert(dtype_bits_value(th_bits(f), 23, 8) == (double)f);
    }
}
END_TEST

START_TEST(test_conversions_exhaustive)
{
    for (uint32_t b = 0; b < 0x10000u; b++) {
        const uint16_t h = (uint16_t)b;
        const float hf = th_half_to_float(h), bf = th_bf16_to_float(h);
        const int half_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        const int bf_nan = (h & 0x7f80) == 0x7f80 && (h & 0x7f);
        ck_assert(half_nan == (isnan(hf) != 0));
        ck_assert(bf_nan == (isnan(bf) != 0));
        if (!half_nan)
            ck_assert_msg(th_half_from_float(hf) == h, "half round trip %#06x", (unsigned)h);
        if (!bf_nan) {
            ck_assert_msg(th_bf16_from_float(bf) == h, "bf16 round trip %#06x", (unsigned)h);
            ck_assert_uint_eq(th_bits(bf), (uint32_t)h << 16);
        }
        /* Ties between h and its successor (positive finite values below the largest). */
        if (h < 0x7bff) {
            const double lo = (double)hf, hi = (double)th_half_to_float((uint16_t)(h + 1));
            const double mid = (lo + hi) / 2; /* exact in double */
            const uint16_t even = (h & 1) ? (uint16_t)(h + 1) : h;
            ck_assert_msg(dtype_bits_half(mid) == even, "half tie above %#06x", (unsigned)h);
            ck_assert(th_half_from_float((float)mid) == even); /* mid is a float too */
            const double eps = (hi - lo) / 1024;
            ck_assert(dtype_bits_half(mid - eps) == h);
            ck_assert(dtype_bits_half(mid + eps) == (uint16_t)(h + 1));
        }
        if (h < 0x7f7f) {
            const double lo = (double)bf, hi = (double)th_bf16_to_float((uint16_t)(h + 1));
            const double mid = (lo + hi) / 2;
            const uint16_t even = (h & 1) ? (uint16_t)(h + 1) : h;
            ck_assert_msg(dtype_bits_bf16(mid) == even, "bf16 tie above %#06x", (unsigned)h);
            const double eps = (hi - lo) / 1024;
            ck_assert(dtype_bits_bf16(mid - eps) == h);
            ck_assert(dtype_bits_bf16(mid + eps) == (uint16_t)(h + 1));
        }
    }
}
END_TEST

#ifdef __FLT16_MAX__
__extension__ typedef _Float16 th_native_half;

START_TEST(test_conversions_vs_compiler)
{
    /* The compiler's float -> _Float16 conversion is IEEE round-to-nearest-even. */
    th_rng rng;
    th_rng_seed(&rng, 0x68616c66u);
    for (int i = 0; i < 2000000; i++) {
        uint32_t u = (uint32_t)th_rng_next(&rng);
        if (i % 2) /* half of the probes near the half range, where rounding matters */
            u = (u & 0x807fffffu) | ((uint32_t)(0x60 + (u >> 26) % 0x30) << 23);
        float f;
        memcpy(&f, &u, sizeof f);
        if (isnan(f))
            continue;
        volatile th_native_half vn = (th_native_half)f;
        const th_native_half n = vn;
        uint16_t nb;
        memcpy(&nb, &n, sizeof nb);
        ck_assert_msg(th_half_from_float(f) == nb, "half(%a) = %#06x, compiler %#06x", (double)f,
                      (unsigned)th_half_from_float(f), (unsigned)nb);
    }
}
END_TEST
#endif

Suite *make_tensor_suite(void)
{
    Suite *s = suite_create("tensor");
    TCase *tc = tcase_create("init");
    tcase_add_test(tc, test_init_c_order);
    tcase_add_test(tc, test_init_explicit_strides);
    tcase_add_test(tc, test_init_zero_d_and_empty);
    tcase_add_test(tc, test_init_errors);
    tcase_add_test(tc, test_init_overflow);
    suite_add_tcase(s, tc);
    tc = tcase_create("dtypes");
    tcase_add_test(tc, test_dtype_size_name);
    tcase_add_test(tc, test_promotion);
    tcase_add_test(tc, test_promotion_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("broadcast");
    tcase_add_loop_test(tc, test_broadcast_ok, 0, N_BCAST);
    tcase_add_test(tc, test_broadcast_mismatch);
    tcase_add_test(tc, test_broadcast_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("legacy");
    tcase_add_test(tc, test_legacy_table);
    tcase_add_test(tc, test_legacy_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("conversions");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_conversions_known);
    tcase_add_test(tc, test_conversions_exhaustive);
#ifdef __FLT16_MAX__
    tcase_add_test(tc, test_conversions_vs_compiler);
#endif
    suite_add_tcase(s, tc);
    return s;
}
