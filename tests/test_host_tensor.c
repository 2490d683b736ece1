/* SPDX-License-Identifier: MIT */
/* clmse_host_mse: host tensors of any dtype and layout give what the device calls give, results
 * touch only their own elements, and every bad input gets its own status and message. */
#include "helpers.h"
#include "suites.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MEAN CLMSE_REDUCTION_MEAN
#define SUM CLMSE_REDUCTION_SUM
#define NONE CLMSE_REDUCTION_NONE

static clmse_context *g_ctx;

static void setup(void) { g_ctx = th_context_create(); }
static void teardown(void) { clmse_context_release(g_ctx); }

static void fill(float *v, size_t n, uint64_t seed)
{
    th_rng rng;
    th_rng_seed(&rng, seed);
    th_fill_uniform(&rng, v, n);
}

static void sentinels(float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = th_sentinel();
}

/* Contiguous float32 takes the route of the _f32 host calls: the same bits. */
START_TEST(test_matches_f32_calls)
{
    enum { N = 1000 };
    static const clmse_reduction reds[] = {NONE, MEAN, SUM};
    const clmse_reduction red = reds[_i];
    static float x[N], y[N], out[N], gx[N], gy[N], rout[N], rgx[N], rgy[N];
    fill(x, N, 11);
    fill(y, N, 12);
    const size_t shape[1] = {N};
    clmse_host_tensor tx = th_host_view(x, CLMSE_DTYPE_F32, 1, shape, NULL);
    clmse_host_tensor ty = th_host_view(y, CLMSE_DTYPE_F32, 1, shape, NULL);
    clmse_host_tensor to = th_host_view(out, CLMSE_DTYPE_F32, red == NONE ? 1 : 0, shape, NULL);
    clmse_host_tensor tgx = th_host_view(gx, CLMSE_DTYPE_F32, 1, shape, NULL);
    clmse_host_tensor tgy = th_host_view(gy, CLMSE_DTYPE_F32, 1, shape, NULL);
    const clmse_host_mse_args a = {.reduction = red,
                                   .input = &tx,
                                   .target = &ty,
                                   .output = &to,
                                   .grad_input = &tgx,
                                   .grad_target = &tgy};
    CHECK_OK(g_ctx, clmse_host_mse(g_ctx, &a));
    CHECK_OK(g_ctx, clmse_host_fused_f32(g_ctx, red, N, x, y, NULL, rout, rgx, rgy));
    const size_t n_out = red == NONE ? N : 1;
    ck_assert_int_eq(memcmp(out, rout, n_out * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(gx, rgx, sizeof gx), 0);
    ck_assert_int_eq(memcmp(gy, rgy, sizeof gy), 0);
}
END_TEST

/* A transposed input, a target broadcast from a strided row, and an output with gaps: each
 * element as torch computes it, the gaps untouched, the broadcast gradient summed. */
START_TEST(test_strided_broadcast)
{
    enum { R = 4, C = 5 };
    float xs[C * R], ys[2 * C], out[R * C * 2], gx[R * C], gy[C];
    fill(xs, C * R, 21);
    fill(ys, 2 * C, 22);
    sentinels(out, R * C * 2);
    const size_t xshape[2] = {R, C}, yshape[2] = {1, C};
    const int64_t xstrides[2] = {1, R}, ystrides[2] = {0, 2}, ostrides[2] = {2 * C, 2};
    clmse_host_tensor tx = th_host_view(xs, CLMSE_DTYPE_F32, 2, xshape, xstrides);
    clmse_host_tensor ty = th_host_view(ys, CLMSE_DTYPE_F32, 2, yshape, ystrides);
    clmse_host_tensor to = th_host_view(out, CLMSE_DTYPE_F32, 2, xshape, ostrides);
    clmse_host_tensor tgx = th_host_view(gx, CLMSE_DTYPE_F32, 2, xshape, NULL);
    clmse_host_tensor tgy = th_host_view(gy, CLMSE_DTYPE_F32, 2, yshape, NULL);
    const clmse_host_mse_args a = {.reduction = NONE,
                                   .input = &tx,
                                   .target = &ty,
                                   .output = &to,
                                   .grad_input = &tgx,
                                   .grad_target = &tgy};
    CHECK_OK(g_ctx, clmse_host_mse(g_ctx, &a));
    for (size_t j = 0; j < C; j++) {
        long double sum_gy = 0.0L;
        for (size_t i = 0; i < R; i++) {
            const float xv = xs[j * R + i], yv = ys[2 * j];
            ck_assert_uint_eq(th_bits(out[i * 2 * C + 2 * j]), th_bits(th_term(xv, yv)));
            ck_assert(th_is_sentinel(out[i * 2 * C + 2 * j + 1]));
            ck_assert_uint_eq(th_bits(gx[i * C + j]), th_bits(th_grad(2.0f, xv, yv, 1.0f)));
            sum_gy += th_grad(2.0f, yv, xv, 1.0f);
        }
        ck_assert_msg(th_within_one_ulp(gy[j], sum_gy), "grad_target[%zu] = %.9g, want %.9Lg", j,
                      (double)gy[j], sum_gy);
    }
}
END_TEST

/* Data not aligned to its element size is copied, in and out; the result's gaps survive. */
START_TEST(test_misaligned)
{
    enum { N = 7 };
    float x[N], y[N], want[N];
    fill(x, N, 31);
    fill(y, N, 32);
    unsigned char xb[N * 4 + 1], ob[2 * N * 4 + 1];
    memcpy(xb + 1, x, sizeof x);
    memset(ob, 0xA5, sizeof ob);
    const size_t shape[1] = {N};
    const int64_t ostride[1] = {2};
    clmse_host_tensor tx = th_host_view(xb + 1, CLMSE_DTYPE_F32, 1, shape, NULL);
    clmse_host_tensor ty = th_host_view(y, CLMSE_DTYPE_F32, 1, shape, NULL);
    clmse_host_tensor to = th_host_view(ob + 1, CLMSE_DTYPE_F32, 1, shape, ostride);
    const clmse_host_mse_args a = {.reduction = NONE, .input = &tx, .target = &ty, .output = &to};
    CHECK_OK(g_ctx, clmse_host_mse(g_ctx, &a));
    ck_assert_uint_eq(ob[0], 0xA5);
    for (size_t i = 0; i < N; i++) {
        want[i] = th_term(x[i], y[i]);
        float got;
        memcpy(&got, ob + 1 + 8 * i, sizeof got);
        ck_assert_uint_eq(th_bits(got), th_bits(want[i]));
        if (i + 1 < N)
            for (size_t b = 0; b < 4; b++)
                ck_assert_uint_eq(ob[1 + 8 * i + 4 + b], 0xA5);
    }
}
END_TEST

/* The same memory as input and target (OpenCL leaves two host-pointer buffers over it
 * undefined, so one is a copy): a zero loss and zero gradients. */
START_TEST(test_same_memory_operands)
{
    enum { N = 9 };
    float x[N], out = th_sentinel(), gx[N], gy[N];
    fill(x, N, 41);
    const size_t shape[1] = {N};
    clmse_host_tensor tx = th_host_view(x, CLMSE_DTYPE_F32, 1, shape, NULL);
    clmse_host_tensor to = th_host_view(&out, CLMSE_DTYPE_F32, 0, shape, NULL);
    clmse_host_tensor tgx = th_host_view(gx, CLMSE_DTYPE_F32, 1, shape, NULL);
    clmse_host_tensor tgy = th_host_view(gy, CLMSE_DTYPE_F32, 1, shape, NULL);
    const clmse_host_mse_args a = {.reduction = SUM,
                                   .input = &tx,
                                   .target = &tx,
                                   .output = &to,
                                   .grad_input = &tgx,
                                   .grad_target = &tgy};
    CHECK_OK(g_ctx, clmse_host_mse(g_ctx, &a));
    ck_assert_uint_eq(th_bits(out), 0);
    for (size_t i = 0; i < N; i++)
        ck_assert(th_bits(gx[i]) == 0 && th_bits(gy[i]) == 0);
}
END_TEST

/* float16 input and bfloat16 target promote to a float32 loss; float64 where the device has
 * it (else the refusal). */
START_TEST(test_narrow_and_double)
{
    enum { N = 33 };
    float xf[N], yf[N];
    fill(xf, N, 51);
    fill(yf, N, 52);
    uint16_t xh[N], yb[N];
    double xd[N], yd[N];
    long double ref = 0.0L, ref64 = 0.0L;
    for (size_t i = 0; i < N; i++) {
        xh[i] = th_half_from_float(xf[i]);
        yb[i] = th_bf16_from_float(yf[i]);
        const float d = th_half_to_float(xh[i]) - th_bf16_to_float(yb[i]);
        ref += (long double)(d * d);
        xd[i] = xf[i] / 3.0;
        yd[i] = yf[i] / 7.0;
        const double dd = xd[i] - yd[i];
        ref64 += (long double)(dd * dd);
    }
    const size_t shape[1] = {N};
    float out = th_sentinel();
    clmse_host_tensor tx = th_host_view(xh, CLMSE_DTYPE_F16, 1, shape, NULL);
    clmse_host_tensor ty = th_host_view(yb, CLMSE_DTYPE_BF16, 1, shape, NULL);
    clmse_host_tensor to = th_host_view(&out, CLMSE_DTYPE_F32, 0, shape, NULL);
    clmse_host_mse_args a = {.reduction = MEAN, .input = &tx, .target = &ty, .output = &to};
    CHECK_OK(g_ctx, clmse_host_mse(g_ctx, &a));
    ck_assert_msg(th_within_one_ulp(out, ref / N), "mean %.9g, want %.9Lg", (double)out, ref / N);

    double out64 = NAN;
    clmse_host_tensor tx64 = th_host_view(xd, CLMSE_DTYPE_F64, 1, shape, NULL);
    clmse_host_tensor ty64 = th_host_view(yd, CLMSE_DTYPE_F64, 1, shape, NULL);
    clmse_host_tensor to64 = th_host_view(&out64, CLMSE_DTYPE_F64, 0, shape, NULL);
    a = (clmse_host_mse_args){.reduction = SUM, .input = &tx64, .target = &ty64, .output = &to64};
    const clmse_status st = clmse_host_mse(g_ctx, &a);
    if (!th_has_fp64(g_ctx)) {
        ck_assert_int_eq(st, CLMSE_ERROR_UNSUPPORTED_DTYPE);
        return;
    }
    ck_assert_msg(st == CLMSE_SUCCESS, "%s", clmse_context_last_error(g_ctx));
    ck_assert_msg(fabsl((long double)out64 - ref64) <= 1e-15L * ref64, "sum %.17g, want %.17Lg",
                  out64, ref64);
}
END_TEST

/* No elements (NULL data allowed): sum +0, mean NaN. A 0-d pair: 4, and gradients 4 and -4. */
START_TEST(test_empty_and_scalar)
{
    const size_t zero[1] = {0};
    float out = th_sentinel();
    clmse_host_tensor tx = th_host_view(NULL, CLMSE_DTYPE_F32, 1, zero, NULL);
    clmse_host_tensor to = th_host_view(&out, CLMSE_DTYPE_F32, 0, zero, NULL);
    clmse_host_mse_args a = {.reduction = SUM, .input = &tx, .target = &tx, .output = &to};
    CHECK_OK(g_ctx, clmse_host_mse(g_ctx, &a));
    ck_assert_uint_eq(th_bits(out), 0);
    a.reduction = MEAN;
    CHECK_OK(g_ctx, clmse_host_mse(g_ctx, &a));
    ck_assert(isnan(out));

    float x = 3.0f, y = 1.0f, gx = 0.0f, gy = 0.0f;
    clmse_host_tensor sx = th_host_view(&x, CLMSE_DTYPE_F32, 0, zero, NULL);
    clmse_host_tensor sy = th_host_view(&y, CLMSE_DTYPE_F32, 0, zero, NULL);
    clmse_host_tensor sgx = th_host_view(&gx, CLMSE_DTYPE_F32, 0, zero, NULL);
    clmse_host_tensor sgy = th_host_view(&gy, CLMSE_DTYPE_F32, 0, zero, NULL);
    a = (clmse_host_mse_args){.reduction = MEAN,
                              .input = &sx,
                              .target = &sy,
                              .output = &to,
                              .grad_input = &sgx,
                              .grad_target = &sgy};
    CHECK_OK(g_ctx, clmse_host_mse(g_ctx, &a));
    ck_assert(out == 4.0f && gx == 4.0f && gy == -4.0f);
}
END_TEST

/* The status, a message holding `words`, and no result element written. */
static void expect_fail_at(clmse_context *ctx, const clmse_host_mse_args *a, clmse_status want,
                           const char *words, const float *guard, size_t n, int line)
{
    const clmse_status got = clmse_host_mse(ctx, a);
    ck_assert_msg(got == want, "line %d: got %s (%d), want %s (%d): %s", line,
                  clmse_status_string(got), (int)got, clmse_status_string(want), (int)want,
                  clmse_context_last_error(ctx));
    const char *msg = clmse_context_last_error(ctx);
    ck_assert_msg(strstr(msg, words) != NULL, "line %d: message '%s' lacks '%s'", line, msg, words);
    ck_assert_uint_eq(th_first_non_sentinel(guard, 0, n), n);
}
#define EXPECT_FAIL(a, want, words) \
    expect_fail_at(g_ctx, (a), (want), (words), out, sizeof out / sizeof out[0], __LINE__)

START_TEST(test_host_mse_errors)
{
    enum { N = 8 };
    float x[N] = {1, 2, 3, 4, 5, 6, 7, 8}, out[N];
    sentinels(out, N);
    int32_t ints[N] = {0};
    const size_t shape[1] = {N}, shape3[1] = {3};
    clmse_host_tensor tx = th_host_view(x, CLMSE_DTYPE_F32, 1, shape, NULL);
    clmse_host_tensor to = th_host_view(out, CLMSE_DTYPE_F32, 1, shape, NULL);
    const clmse_host_mse_args good = {
        .reduction = NONE, .input = &tx, .target = &tx, .output = &to};

    ck_assert_int_eq(clmse_host_mse(NULL, &good), CLMSE_ERROR_INVALID_HANDLE);
    ck_assert_ptr_nonnull(strstr(clmse_context_last_error(NULL), "NULL"));
    EXPECT_FAIL(NULL, CLMSE_ERROR_INVALID_ARGUMENT, "args is NULL");
    clmse_host_mse_args a = good;
    a.target = NULL;
    EXPECT_FAIL(&a, CLMSE_ERROR_INVALID_ARGUMENT, "input and target are required");
    a = good;
    a.output = NULL;
    EXPECT_FAIL(&a, CLMSE_ERROR_INVALID_ARGUMENT, "nothing to compute");

    clmse_host_tensor bad = tx;
    bad.data = NULL;
    a = good;
    a.target = &bad;
    EXPECT_FAIL(&a, CLMSE_ERROR_INVALID_ARGUMENT, "target has 8 elements but NULL data");
    bad = tx;
    bad.strides[0] = -1;
    EXPECT_FAIL(&a, CLMSE_ERROR_INVALID_LAYOUT, "negative");
    bad = tx;
    bad.ndim = CLMSE_MAX_NDIM + 1;
    EXPECT_FAIL(&a, CLMSE_ERROR_INVALID_LAYOUT, "exceeds CLMSE_MAX_NDIM");
    bad = tx;
    bad.dtype = (clmse_dtype)42;
    EXPECT_FAIL(&a, CLMSE_ERROR_INVALID_DTYPE, "dtype 42 is not a clmse_dtype");
    bad = th_host_view(ints, CLMSE_DTYPE_I32, 1, shape, NULL);
    EXPECT_FAIL(&a, CLMSE_ERROR_INVALID_DTYPE, "int32");
    bad = tx;
    bad.ndim = 2;
    bad.shape[0] = bad.shape[1] = SIZE_MAX / 2;
    bad.strides[1] = 0;
    EXPECT_FAIL(&a, CLMSE_ERROR_SIZE_OVERFLOW, "element count overflows");
    bad = tx;
    bad.shape[0] = 3;
    bad.strides[0] = INT64_MAX / 2;
    EXPECT_FAIL(&a, CLMSE_ERROR_SIZE_OVERFLOW, "strided extent overflows");
    bad = th_host_view(x, CLMSE_DTYPE_F32, 1, shape3, NULL);
    EXPECT_FAIL(&a, CLMSE_ERROR_SHAPE_MISMATCH, "do not broadcast");

    /* Results overlapping an operand or each other. */
    clmse_host_tensor over = th_host_view(x + 4, CLMSE_DTYPE_F32, 1, shape3, NULL);
    a = good;
    a.reduction = MEAN;
    a.output = &(clmse_host_tensor){.data = out, .dtype = CLMSE_DTYPE_F32};
    a.grad_input = &over;
    EXPECT_FAIL(&a, CLMSE_ERROR_INVALID_ARGUMENT, "grad_input overlaps input");
    clmse_host_tensor gx = th_host_view(out, CLMSE_DTYPE_F32, 1, shape, NULL);
    a.grad_input = &gx;
    EXPECT_FAIL(&a, CLMSE_ERROR_INVALID_ARGUMENT, "grad_input overlaps output");
    /* A result of the wrong dtype: clmse_mse's own check, through this layer. */
    uint16_t out16[N];
    clmse_host_tensor o16 = th_host_view(out16, CLMSE_DTYPE_F16, 1, shape, NULL);
    a = good;
    a.output = &o16;
    EXPECT_FAIL(&a, CLMSE_ERROR_INVALID_DTYPE, "output has dtype float16; it must be float32");
    /* The context still works. */
    CHECK_OK(g_ctx, clmse_host_mse(g_ctx, &good));
    ck_assert_uint_eq(th_bits(out[0]), 0);
}
END_TEST

Suite *make_host_tensor_suite(void)
{
    Suite *s = suite_create("host_tensor");
    TCase *tc = th_device_tcase(s, "core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_matches_f32_calls, 0, 3);
    tcase_add_test(tc, test_strided_broadcast);
    tcase_add_test(tc, test_misaligned);
    tcase_add_test(tc, test_same_memory_operands);
    tcase_add_test(tc, test_narrow_and_double);
    tcase_add_test(tc, test_empty_and_scalar);
    tc = th_device_tcase(s, "errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_host_mse_errors);
    return s;
}
