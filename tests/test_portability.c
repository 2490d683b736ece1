/* SPDX-License-Identifier: MIT */
/* Regression tests for the wrong answers that OpenCL implementations other than POCL exposed:
 * work-items looping past llvmpipe's 65,535-iteration cut (large inputs, plans with few items,
 * long broadcast-gradient sums, multi-launch folds), sums that overflow while the mean is
 * finite, and broadcast-gradient sums that lost small terms. They run on every implementation.
 *
 * CLMSE_LOOP_BUDGET (read when a context is created) lowers the per-work-item loop budget, so
 * the multi-launch folds and segmented gradient sums are reached at small n too: under a
 * reduced test scale (th_scale_small(), for Oclgrind) every test runs at such sizes. */
#include "clmse_tuning.h"
#include "helpers.h"
#include "suites.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A context whose work-items loop at most `budget` times (0: the library's default). */
static clmse_context *context_budget(unsigned budget, clmse_accumulation acc)
{
    char v[16];
    snprintf(v, sizeof v, "%u", budget);
    if (budget)
        setenv("CLMSE_LOOP_BUDGET", v, 1);
    clmse_context *ctx = th_context_create_acc(acc);
    unsetenv("CLMSE_LOOP_BUDGET");
    return ctx;
}

static cl_mem upload(clmse_context *ctx, const void *data, size_t bytes)
{
    cl_int err = CL_SUCCESS;
    cl_mem m = clCreateBuffer(th_cl_context(ctx), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes,
                              (void *)data, &err);
    ck_assert_msg(err == CL_SUCCESS, "clCreateBuffer(%zu bytes): %d", bytes, (int)err);
    return m;
}

static void download(clmse_context *ctx, cl_mem m, void *dst, size_t bytes)
{
    ck_assert_int_eq(
        clEnqueueReadBuffer(th_cl_queue(ctx), m, CL_TRUE, 0, bytes, dst, 0, NULL, NULL),
        CL_SUCCESS);
}

static clmse_tensor view(cl_mem buf, clmse_dtype dt, uint32_t nd, const size_t *shape,
                         const int64_t *strides, size_t offset)
{
    clmse_tensor t;
    ck_assert_int_eq(clmse_tensor_init(&t, buf, dt, nd, shape, strides, offset), CLMSE_SUCCESS);
    return t;
}

/* Plans for every op and size class of float32. */
static void set_f32_plans(clmse_context *ctx, const clmse_plan *p)
{
    for (int op = 0; op < 3; op++)
        for (int c = 0; c < 3; c++)
            CHECK_OK(ctx, clmse_context_set_plan(ctx, CLMSE_DTYPE_F32, (clmse_op)op,
                                                 (clmse_size_class)c, p));
}

/* ---- large inputs through the host API: llvmpipe gave 0.039 for 5 at 2^26 ---------------- */

START_TEST(test_large_host_forward)
{
    /* terms 0, 1, 4, 9 repeating: mean 3.5 and sum 3.5 n, both exact in float */
    const size_t n = th_scale_small() ? (size_t)1 << 15 : (size_t)1 << 26;
    float *x = th_alloc_floats(n), *y = th_alloc_floats(n);
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)(i % 4);
        y[i] = 0.0f;
    }
    const clmse_accumulation accs[] = {CLMSE_ACCUMULATE_AUTO, CLMSE_ACCUMULATE_COMPENSATED};
    for (int a = 0; a < 2; a++) {
        clmse_context *ctx = context_budget(th_scale_small() ? 16 : 0, accs[a]);
        float mean = 0.0f, sum = 0.0f;
        CHECK_OK(ctx, clmse_host_forward_f32(ctx, CLMSE_REDUCTION_MEAN, n, x, y, &mean));
        CHECK_OK(ctx, clmse_host_forward_f32(ctx, CLMSE_REDUCTION_SUM, n, x, y, &sum));
        ck_assert_msg(mean == 3.5f, "n = %zu, accumulation %d: mean %.9g, want 3.5", n,
                      (int)accs[a], (double)mean);
        ck_assert_msg(sum == 3.5f * (float)n, "n = %zu: sum %.9g, want %.9g", n, (double)sum,
                      3.5 * (double)n);
        clmse_context_release(ctx);
    }
    free(x);
    free(y);
}
END_TEST

/* ---- plans whose items would loop past the cut: llvmpipe gave 35.40 for 53.91 ------------- */

START_TEST(test_long_loop_plans)
{
    const clmse_plan plans[] = {
        {CLMSE_SHAPE_GPU, 1, 1, 3, 5, 1},                 /* 3 items of n / 3 each */
        {CLMSE_SHAPE_CPU, 1, 2, 1, (size_t)1 << 40, 1},   /* one item, 2-wide loads */
        {CLMSE_SHAPE_GPU, 64, 1, 1, (size_t)1 << 40, 64}, /* one group */
        {CLMSE_SHAPE_GPU, 1, 1, 65536, 1, 1},             /* n partials: a multi-launch fold */
        {CLMSE_SHAPE_CPU, 1, 16, 65536, 16, 1},           /* many items, final group of 1 */
        {CLMSE_SHAPE_CPU, 64, 4, 1, (size_t)1 << 40, 64}, /* one group of 64 items */
    };
    const size_t n = th_scale_small() ? 4099 : 300007;
    float *x = th_alloc_floats(n), *y = th_alloc_floats(n);
    th_rng rng;
    th_rng_seed(&rng, 13);
    th_fill_uniform(&rng, x, n);
    th_fill_uniform(&rng, y, n);
    const long double ref = th_ref_sum(x, y, n);
    clmse_context *ctx = context_budget(th_scale_small() ? 16 : 0, CLMSE_ACCUMULATE_AUTO);
    float *gx = th_alloc_floats(n);
    for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++) {
        set_f32_plans(ctx, &plans[i]);
        float sum = 0.0f, again = 0.0f, fused = 0.0f;
        CHECK_OK(ctx, clmse_host_forward_f32(ctx, CLMSE_REDUCTION_SUM, n, x, y, &sum));
        CHECK_OK(ctx, clmse_host_forward_f32(ctx, CLMSE_REDUCTION_SUM, n, x, y, &again));
        CHECK_OK(ctx,
                 clmse_host_fused_f32(ctx, CLMSE_REDUCTION_SUM, n, x, y, NULL, &fused, gx, NULL));
        ck_assert_msg(th_within_one_ulp(sum, ref), "plan %zu, n %zu: %.9g, reference %.12Lg", i, n,
                      (double)sum, ref);
        ck_assert_uint_eq(th_bits(sum), th_bits(again));
        ck_assert_uint_eq(th_bits(sum), th_bits(fused));
        size_t k = 0;
        while (k < n && th_bits(gx[k]) == th_bits(th_grad(2.0f, x[k], y[k], 1.0f)))
            k++;
        ck_assert_msg(k == n, "plan %zu: grad_input[%zu] = %a", i, k, (double)gx[k % n]);
    }
    clmse_context_release(ctx);
    free(x);
    free(y);
    free(gx);
}
END_TEST

/* ---- 2^25 elements in two layouts: llvmpipe gave 0.00037 for 0.667 ----------------------- */

/* (rows, cols) float32 operands, mean, with grad_input. layout 0: both in Fortran order (the
 * issue's `clmse loss` case; collapsed into one run, so the streaming kernels); layout 1: the
 * input's rows padded by one element (strides (cols + 1, 1)), the target in C order (the
 * strided kernels, reading memory in order). */
static void check_layout(int layout, size_t rows, size_t cols)
{
    const size_t n = rows * cols, shape[2] = {rows, cols}, len = layout ? n + rows : n;
    const int64_t fortran[2] = {1, (int64_t)rows}, padded[2] = {(int64_t)cols + 1, 1};
    const int64_t *xs = layout ? padded : fortran, *ys = layout ? NULL : fortran;
    float *x = th_alloc_floats(len), *y = th_alloc_floats(n), *gx = th_alloc_floats(len);
    th_rng rng;
    th_rng_seed(&rng, 1024);
    th_fill_uniform(&rng, x, len);
    th_fill_uniform(&rng, y, n);
    clmse_context *ctx = context_budget(th_scale_small() ? 16 : 0, CLMSE_ACCUMULATE_AUTO);
    cl_mem bx = upload(ctx, x, len * 4), by = upload(ctx, y, n * 4), bg = upload(ctx, x, len * 4);
    float mean = 0.0f;
    cl_mem bout = upload(ctx, &mean, 4);
    const clmse_tensor tx = view(bx, CLMSE_DTYPE_F32, 2, shape, xs, 0);
    const clmse_tensor ty = view(by, CLMSE_DTYPE_F32, 2, shape, ys, 0);
    const clmse_tensor tg = view(bg, CLMSE_DTYPE_F32, 2, shape, xs, 0);
    const clmse_tensor to = view(bout, CLMSE_DTYPE_F32, 0, NULL, NULL, 0);
    const clmse_mse_args a = {CLMSE_REDUCTION_MEAN, 0, &tx, &ty, &to, NULL, &tg, NULL, 0};
    CHECK_OK(ctx, clmse_mse(ctx, &a, 0, NULL, NULL));
    download(ctx, bout, &mean, 4);
    download(ctx, bg, gx, len * 4);
    /* both layouts pair x and y elements at the same flat position in memory order */
    long double sum = 0.0L;
    const float scale = th_scale(CLMSE_REDUCTION_MEAN, n);
    size_t bad = n; /* the first wrong gradient; ck_assert per element would cost minutes */
    for (size_t i = 0; i < n; i++) {
        const size_t ix = layout ? i + i / cols : i;
        sum += th_term(x[ix], y[i]);
        if (bad == n && th_bits(gx[ix]) != th_bits(th_grad(scale, x[ix], y[i], 1.0f)))
            bad = i;
    }
    ck_assert_msg(bad == n, "layout %d: grad_input at flat %zu is wrong", layout, bad);
    ck_assert_msg(th_within_one_ulp(mean, sum / (long double)n),
                  "(%zu, %zu), layout %d: mean %.9g, reference %.12Lg", rows, cols, layout,
                  (double)mean, sum / (long double)n);
    cl_mem all[] = {bx, by, bg, bout};
    for (int i = 0; i < 4; i++)
        clReleaseMemObject(all[i]);
    clmse_context_release(ctx);
    free(x);
    free(y);
    free(gx);
}

START_TEST(test_large_layouts)
{
    const size_t rows = th_scale_small() ? 64 : 1024, cols = th_scale_small() ? 1000 : 32768;
    check_layout(0, rows, cols);
    check_layout(1, rows, cols);
}
END_TEST

/* ---- a long broadcast-gradient sum: llvmpipe gave -17152.0 for -25413.9 ------------------- */

/* input (677, 1, 4, 6) in C order; target (1, 3, 1, 1) with strides (1, 0, 1, 1) at element
 * offset 9 (three views of one element); a 0-d grad_output; reduction sum. Each grad_target
 * element sums 16,248 terms. */
static void check_broadcast_grad(unsigned budget)
{
    const size_t xs[4] = {677, 1, 4, 6}, ys[4] = {1, 3, 1, 1}, n = 677 * 4 * 6;
    const int64_t ystr[4] = {1, 0, 1, 1};
    float *x = th_alloc_floats(n), yb[12], g = 1.5f, gt[3] = {0, 0, 0}, zero = 0.0f;
    th_rng rng;
    th_rng_seed(&rng, 677);
    th_fill_uniform(&rng, x, n);
    th_fill_uniform(&rng, yb, 12);
    clmse_context *ctx = context_budget(budget, CLMSE_ACCUMULATE_AUTO);
    cl_mem bx = upload(ctx, x, n * 4), by = upload(ctx, yb, sizeof yb), bgo = upload(ctx, &g, 4),
           bgt = upload(ctx, gt, sizeof gt), bout = upload(ctx, &zero, 4);
    const clmse_tensor tx = view(bx, CLMSE_DTYPE_F32, 4, xs, NULL, 0);
    const clmse_tensor ty = view(by, CLMSE_DTYPE_F32, 4, ys, ystr, 9);
    const clmse_tensor tgo = view(bgo, CLMSE_DTYPE_F32, 0, NULL, NULL, 0);
    const clmse_tensor tgt = view(bgt, CLMSE_DTYPE_F32, 4, ys, NULL, 0);
    const clmse_tensor to = view(bout, CLMSE_DTYPE_F32, 0, NULL, NULL, 0);
    const clmse_mse_args a = {CLMSE_REDUCTION_SUM, 0, &tx, &ty, &to, &tgo, NULL, &tgt, 0};
    CHECK_OK(ctx, clmse_mse(ctx, &a, 0, NULL, NULL));
    download(ctx, bgt, gt, sizeof gt);
    long double want = 0.0L, loss = 0.0L;
    for (size_t i = 0; i < n; i++) {
        want += th_grad(2.0f, yb[9], x[i], g);
        loss += th_term(x[i], yb[9]);
    }
    for (int k = 0; k < 3; k++)
        ck_assert_msg(th_within_one_ulp(gt[k], want),
                      "budget %u: grad_target[%d] = %.9g, "
                      "reference %.12Lg",
                      budget, k, (double)gt[k], want);
    float got = 0.0f;
    download(ctx, bout, &got, 4);
    ck_assert_msg(th_within_one_ulp(got, 3.0L * loss), "loss %.9g, reference %.12Lg", (double)got,
                  3.0L * loss);
    cl_mem all[] = {bx, by, bgo, bgt, bout};
    for (int i = 0; i < 5; i++)
        clReleaseMemObject(all[i]);
    clmse_context_release(ctx);
    free(x);
}

START_TEST(test_long_broadcast_grad)
{
    if (!th_scale_small())
        check_broadcast_grad(0);
    check_broadcast_grad(8);  /* 16,248 terms in 3,249 segments: two fold launches */
    check_broadcast_grad(64); /* 1,354 segments: one fold launch */
}
END_TEST

/* ---- a bfloat16 gradient sum with cancellation: 2^-76 came back for 2^-74 ----------------- */

START_TEST(test_bf16_grad_cancellation)
{
    /* grad_target = sum of 2 * (y - x_i) with y = 0: 2^-76, 2^-12, 2^-76, 2^-76, -2^-12, 2^-76
     * in that order. A plain double sum loses the small terms next to 2^-12 (2^64 apart). */
    const float xv[6] = {-0x1p-77f, -0x1p-13f, -0x1p-77f, -0x1p-77f, 0x1p-13f, -0x1p-77f};
    uint16_t xb[6], yb = 0, gt = 0xffff, gx[6];
    for (int i = 0; i < 6; i++)
        xb[i] = th_bf16_from_float(xv[i]);
    clmse_context *ctx = th_context_create();
    cl_mem bx = upload(ctx, xb, sizeof xb), by = upload(ctx, &yb, 2), bgt = upload(ctx, &gt, 2),
           bgx = upload(ctx, gx, sizeof gx);
    const size_t xs[1] = {6}, ys[1] = {1};
    const clmse_tensor tx = view(bx, CLMSE_DTYPE_BF16, 1, xs, NULL, 0);
    const clmse_tensor ty = view(by, CLMSE_DTYPE_BF16, 1, ys, NULL, 0);
    const clmse_tensor tgt = view(bgt, CLMSE_DTYPE_BF16, 1, ys, NULL, 0);
    const clmse_tensor tgx = view(bgx, CLMSE_DTYPE_BF16, 1, xs, NULL, 0);
    const clmse_mse_args a = {CLMSE_REDUCTION_SUM, 0, &tx, &ty, NULL, NULL, &tgx, &tgt, 0};
    CHECK_OK(ctx, clmse_mse(ctx, &a, 0, NULL, NULL));
    download(ctx, bgt, &gt, 2);
    ck_assert_msg(gt == th_bf16_from_float(0x1p-74f), "grad_target = %a (bits 0x%04x), want 2^-74",
                  (double)th_bf16_to_float(gt), gt);
    clReleaseMemObject(bx);
    clReleaseMemObject(by);
    clReleaseMemObject(bgt);
    clReleaseMemObject(bgx);
    clmse_context_release(ctx);
}
END_TEST

/* ---- sums that overflow while the mean is finite ------------------------------------------ */

/* The loss of x against zeros, n elements of `dt` (float32 or float64 bits in `x`), through the
 * streaming kernels (stride 1) or the strided ones (stride 2: x sits in every other slot). */
static void loss_of(clmse_context *ctx, clmse_dtype dt, const void *x, size_t n, int stride,
                    clmse_reduction red, void *out)
{
    const size_t es = clmse_dtype_size(dt), shape[1] = {n};
    const int64_t strides[1] = {stride};
    unsigned char *xs = calloc(n * (size_t)stride, es), *zeros = calloc(n, es);
    ck_assert_ptr_nonnull(xs);
    ck_assert_ptr_nonnull(zeros);
    for (size_t i = 0; i < n; i++)
        memcpy(xs + i * (size_t)stride * es, (const unsigned char *)x + i * es, es);
    cl_mem bx = upload(ctx, xs, n * (size_t)stride * es), by = upload(ctx, zeros, n * es),
           bo = upload(ctx, zeros, es);
    const clmse_tensor tx = view(bx, dt, 1, shape, strides, 0);
    const clmse_tensor ty = view(by, dt, 1, shape, NULL, 0);
    const clmse_tensor to = view(bo, dt, 0, NULL, NULL, 0);
    const clmse_mse_args a = {red, 0, &tx, &ty, &to, NULL, NULL, NULL, 0};
    CHECK_OK(ctx, clmse_mse(ctx, &a, 0, NULL, NULL));
    download(ctx, bo, out, es);
    clReleaseMemObject(bx);
    clReleaseMemObject(by);
    clReleaseMemObject(bo);
    free(xs);
    free(zeros);
}

/* Plans that put the overflow in an item's lanes, in a work-group tree, and in the fold. */
static const clmse_plan overflow_plans[] = {
    {CLMSE_SHAPE_CPU, 1, 8, 1, 1, 1},  {CLMSE_SHAPE_CPU, 1, 2, 16, 2, 1},
    {CLMSE_SHAPE_CPU, 4, 2, 4, 2, 4},  {CLMSE_SHAPE_GPU, 8, 1, 4, 1, 8},
    {CLMSE_SHAPE_GPU, 1, 1, 64, 1, 1},
};

START_TEST(test_overflow_mean_f32)
{
    /* 35 squares near 3.1e37 sum past FLT_MAX; their mean is one of them. A term of +Inf
     * keeps the mean infinite, a NaN keeps it NaN. */
    float x[35];
    for (int i = 0; i < 35; i++)
        x[i] = i % 2 ? 5.5677644e18f : 5.5e18f;
    long double sum = 0.0L;
    for (int i = 0; i < 35; i++)
        sum += th_term(x[i], 0.0f);
    const clmse_accumulation accs[] = {CLMSE_ACCUMULATE_AUTO, CLMSE_ACCUMULATE_COMPENSATED};
    for (int a = 0; a < 2; a++) {
        clmse_context *ctx = th_context_create_acc(accs[a]);
        for (size_t p = 0; p < sizeof overflow_plans / sizeof overflow_plans[0]; p++) {
            set_f32_plans(ctx, &overflow_plans[p]);
            for (int stride = 1; stride <= 2; stride++) {
                float mean = 0.0f, total = 0.0f;
                loss_of(ctx, CLMSE_DTYPE_F32, x, 35, stride, CLMSE_REDUCTION_MEAN, &mean);
                loss_of(ctx, CLMSE_DTYPE_F32, x, 35, stride, CLMSE_REDUCTION_SUM, &total);
                ck_assert_msg(th_within_one_ulp(mean, sum / 35.0L),
                              "accumulation %d, plan %zu, stride %d: mean %.9g, reference "
                              "%.12Lg",
                              (int)accs[a], p, stride, (double)mean, sum / 35.0L);
                ck_assert_msg(isinf(total) && total > 0, "sum %.9g, want +inf", (double)total);
            }
        }
        float y[35];
        memcpy(y, x, sizeof y);
        y[17] = INFINITY;
        float mean = 0.0f;
        loss_of(ctx, CLMSE_DTYPE_F32, y, 35, 1, CLMSE_REDUCTION_MEAN, &mean);
        ck_assert_msg(isinf(mean) && mean > 0, "with an Inf: mean %.9g", (double)mean);
        y[17] = NAN;
        loss_of(ctx, CLMSE_DTYPE_F32, y, 35, 2, CLMSE_REDUCTION_MEAN, &mean);
        ck_assert_msg(isnan(mean), "with a NaN: mean %.9g", (double)mean);
        clmse_context_release(ctx);
    }
}
END_TEST

START_TEST(test_overflow_mean_f64)
{
    /* eight of 1.5 * 2^511: the squares are 1.125 * 2^1023, their sum 9 * 2^1023 */
    double x[8];
    for (int i = 0; i < 8; i++)
        x[i] = 1.5 * dtype_bits_pow2(511);
    clmse_context *ctx = th_context_create();
    if (!th_has_fp64(ctx)) { /* the refusal instead */
        const size_t shape[1] = {8};
        cl_mem b = upload(ctx, x, sizeof x);
        const clmse_tensor t = view(b, CLMSE_DTYPE_F64, 1, shape, NULL, 0);
        const clmse_tensor o = view(b, CLMSE_DTYPE_F64, 0, NULL, NULL, 0);
        const clmse_mse_args a = {CLMSE_REDUCTION_MEAN, 0, &t, &t, &o, NULL, NULL, NULL, 0};
        ck_assert_int_eq(clmse_mse(ctx, &a, 0, NULL, NULL), CLMSE_ERROR_UNSUPPORTED_DTYPE);
        clReleaseMemObject(b);
        clmse_context_release(ctx);
        return;
    }
    for (size_t p = 0; p < sizeof overflow_plans / sizeof overflow_plans[0]; p++) {
        for (int op = 0; op < 3; op++)
            for (int c = 0; c < 3; c++)
                CHECK_OK(ctx, clmse_context_set_plan(ctx, CLMSE_DTYPE_F64, (clmse_op)op,
                                                     (clmse_size_class)c, &overflow_plans[p]));
        for (int stride = 1; stride <= 2; stride++) {
            double mean = 0.0, total = 0.0;
            loss_of(ctx, CLMSE_DTYPE_F64, x, 8, stride, CLMSE_REDUCTION_MEAN, &mean);
            loss_of(ctx, CLMSE_DTYPE_F64, x, 8, stride, CLMSE_REDUCTION_SUM, &total);
            ck_assert_msg(mean == 1.125 * dtype_bits_pow2(1023), "plan %zu, stride %d: mean %a", p,
                          stride, mean);
            ck_assert_msg(isinf(total) && total > 0, "sum %a, want +inf", total);
        }
    }
    clmse_context_release(ctx);
}
END_TEST

Suite *make_portability_suite(void)
{
    Suite *s = suite_create("portability");
    /* one tcase each: every one gets the device timeout, and CK_RUN_CASE picks one */
    tcase_add_test(th_device_tcase(s, "large_host_forward"), test_large_host_forward);
    tcase_add_test(th_device_tcase(s, "long_loop_plans"), test_long_loop_plans);
    tcase_add_test(th_device_tcase(s, "large_layouts"), test_large_layouts);
    tcase_add_test(th_device_tcase(s, "long_broadcast_grad"), test_long_broadcast_grad);
    tcase_add_test(th_device_tcase(s, "bf16_grad_cancellation"), test_bf16_grad_cancellation);
    tcase_add_test(th_device_tcase(s, "overflow_mean_f32"), test_overflow_mean_f32);
    tcase_add_test(th_device_tcase(s, "overflow_mean_f64"), test_overflow_mean_f64);
    return s;
}
