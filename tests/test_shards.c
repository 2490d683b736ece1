/* SPDX-License-Identifier: MIT */
/* One loss over many shards: clmse_mse_partial's sums, CLMSE_MEAN_COUNT's global mean, and
 * partials of several contexts folded into one loss. Shards must give one process's gradients
 * bit for bit, and its loss within one ulp; a 0.2 caller's shorter struct must never be read
 * past its end (ASan sees it). */
#include "helpers.h"
#include "suites.h"

#include <check.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEAN CLMSE_REDUCTION_MEAN
#define SUM CLMSE_REDUCTION_SUM

static clmse_context *g_ctx;

static void setup(void) { g_ctx = th_context_create(); }
static void teardown(void) { clmse_context_release(g_ctx); }

static void fill(float *v, size_t n, uint64_t seed)
{
    th_rng rng;
    th_rng_seed(&rng, seed);
    th_fill_uniform(&rng, v, n);
}

/* A 1-d float32 view of `count` elements of buf from `offset`. */
static clmse_tensor vec(cl_mem buf, size_t offset, size_t count)
{
    clmse_tensor t;
    CHECK_OK(NULL, clmse_tensor_init(&t, buf, CLMSE_DTYPE_F32, 1, &count, NULL, offset));
    return t;
}

static clmse_tensor scalar(cl_mem buf)
{
    clmse_tensor t;
    CHECK_OK(NULL, clmse_tensor_init(&t, buf, CLMSE_DTYPE_F32, 0, NULL, NULL, 0));
    return t;
}

static float round_f32(const clmse_partial *p, clmse_reduction red)
{
    float v;
    CHECK_OK(NULL, clmse_partial_round(p, red, CLMSE_DTYPE_F32, &v));
    return v;
}

/* The loss of x and y (n floats) on one context, through clmse_mse: the single-process value. */
static float whole_loss(clmse_context *ctx, clmse_reduction red, const float *x, const float *y,
                        size_t n)
{
    float out;
    CHECK_OK(ctx, clmse_host_forward_f32(ctx, red, n, x, y, &out));
    return out;
}

/* Sizes that take one work-item or group, several (a fold), and a fold of several levels. */
static const size_t k_sizes[] = {3, 1000, 100003, 1048583};

/* The partial holds the unrounded sum and the count; it rounds to the loss within one ulp of
 * the exact value and of clmse_mse's, and two calls give the same bytes. */
START_TEST(test_partial_matches_loss)
{
    const size_t full = k_sizes[_i % 4], n = th_scaled(full, full > 5003 ? 5003 : full);
    static const clmse_accumulation accs[] = {CLMSE_ACCUMULATE_AUTO, CLMSE_ACCUMULATE_COMPENSATED};
    clmse_context *ctx = th_context_create_acc(accs[_i / 4]);
    float *x = th_alloc_floats(n), *y = th_alloc_floats(n);
    fill(x, n, 40 + _i);
    fill(y, n, 50 + _i);
    cl_mem bx = th_buffer(ctx, n, 0, x, n), by = th_buffer(ctx, n, 0, y, n);
    const clmse_tensor tx = vec(bx, 0, n), ty = vec(by, 0, n);
    const long double ref = th_ref_sum(x, y, n);
    clmse_partial p[2];
    for (int rep = 0; rep < 2; rep++) {
        const clmse_mse_args a = {MEAN, 0, &tx, &ty, NULL, NULL, NULL, NULL, 0};
        CHECK_OK(ctx, clmse_mse_partial(ctx, &a, &p[rep], 0, NULL));
    }
    ck_assert_int_eq(memcmp(&p[0], &p[1], sizeof p[0]), 0);
    ck_assert_uint_eq(p[0].count, n);
    ck_assert_uint_eq(p[0].flags, 0);
    ck_assert_int_eq(p[0].exponent, 0);
    const long double got = (long double)p[0].sum + (long double)p[0].sum_low;
    ck_assert_msg(fabsl(got - ref) <= ref * 0x1p-40L, "n %zu: partial %.21Lg, exact %.21Lg", n, got,
                  ref);
    const float mean = round_f32(&p[0], MEAN), sum = round_f32(&p[0], SUM);
    ck_assert_msg(th_within_one_ulp(mean, ref / (long double)n), "mean %.9g", (double)mean);
    ck_assert_msg(th_within_one_ulp(sum, ref), "sum %.9g", (double)sum);
    ck_assert_uint_le(th_ulp_diff(mean, whole_loss(ctx, MEAN, x, y, n)), 1);
    ck_assert_uint_le(th_ulp_diff(sum, whole_loss(ctx, SUM, x, y, n)), 1);
    clReleaseMemObject(bx);
    clReleaseMemObject(by);
    free(x);
    free(y);
    clmse_context_release(ctx);
}
END_TEST

/* Uneven shards with the global count: each shard's gradients equal the whole run's slice bit
 * for bit (2/N, not 2/own count), and the folded partials give the whole run's loss. */
START_TEST(test_shards_match_one_call)
{
    const size_t n = th_scaled(100003, 4099);
    const size_t cuts[] = {0, n / 7, n / 7 + 1, n / 2, n}; /* shards of n/7, 1, ... elements */
    enum { SHARDS = 4 };
    float *x = th_alloc_floats(n), *y = th_alloc_floats(n);
    float *gx = th_alloc_floats(n), *gy = th_alloc_floats(n);
    float *sgx = th_alloc_floats(n), *sgy = th_alloc_floats(n);
    fill(x, n, 61);
    fill(y, n, 62);
    CHECK_OK(g_ctx, clmse_host_backward_f32(g_ctx, MEAN, n, x, y, NULL, gx, gy));
    cl_mem bx = th_buffer(g_ctx, n, 0, x, n), by = th_buffer(g_ctx, n, 0, y, n);
    cl_mem bgx = th_buffer(g_ctx, n, 0, NULL, 0), bgy = th_buffer(g_ctx, n, 0, NULL, 0);
    clmse_partial parts[SHARDS], total;
    for (int s = 0; s < SHARDS; s++) {
        const size_t o = cuts[s], m = cuts[s + 1] - cuts[s];
        const clmse_tensor tx = vec(bx, o, m), ty = vec(by, o, m);
        const clmse_tensor tgx = vec(bgx, o, m), tgy = vec(bgy, o, m);
        const clmse_mse_args a = {MEAN, CLMSE_MEAN_COUNT, &tx, &ty, NULL, NULL, &tgx, &tgy, n};
        CHECK_OK(g_ctx, clmse_mse_partial(g_ctx, &a, &parts[s], 0, NULL));
        ck_assert_uint_eq(parts[s].count, m);
    }
    th_buffer_read(g_ctx, bgx, n, sgx, NULL);
    th_buffer_read(g_ctx, bgy, n, sgy, NULL);
    ck_assert_int_eq(memcmp(sgx, gx, n * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(sgy, gy, n * sizeof(float)), 0);
    CHECK_OK(NULL, clmse_partial_fold(parts, SHARDS, &total));
    ck_assert_uint_eq(total.count, n);
    const float loss = round_f32(&total, MEAN);
    ck_assert_uint_le(th_ulp_diff(loss, whole_loss(g_ctx, MEAN, x, y, n)), 1);
    ck_assert(th_within_one_ulp(loss, th_ref_sum(x, y, n) / (long double)n));
    cl_mem bufs[] = {bx, by, bgx, bgy};
    for (int i = 0; i < 4; i++)
        clReleaseMemObject(bufs[i]);
    float *arrays[] = {x, y, gx, gy, sgx, sgy};
    for (int i = 0; i < 6; i++)
        free(arrays[i]);
}
END_TEST

/* A context on a device of another platform than ctx's (POCL and rusticl where the ICD
 * loader shows both), else on ctx's device with compensated float sums: either way its
 * partials come from other kernels than ctx's. */
static clmse_context *second_context(clmse_context *ctx)
{
    clmse_device_info mine, other;
    size_t count = 0;
    CHECK_OK(ctx, clmse_context_device_info(ctx, &mine));
    CHECK_OK(NULL, clmse_device_count(&count));
    for (size_t i = 0; i < count; i++) {
        CHECK_OK(NULL, clmse_device_get_info(i, &other));
        if (other.platform_index == mine.platform_index)
            continue;
        char spec[32];
        snprintf(spec, sizeof spec, "%u:%u", other.platform_index, other.device_index);
        const clmse_context_options opt = {.device = spec};
        clmse_context *c = NULL;
        if (clmse_context_create(&opt, &c) == CLMSE_SUCCESS)
            return c; /* a platform that fails to give a context (clover) is passed over */
    }
    return th_context_create_acc(CLMSE_ACCUMULATE_COMPENSATED);
}

/* Several devices in one process: two contexts (second_context), each given a shard, their
 * partials folded in device order into one loss. */
START_TEST(test_two_contexts)
{
    const size_t n = th_scaled(300007, 5003), cut = n / 3;
    clmse_context *ctxs[2] = {g_ctx, second_context(g_ctx)};
    float *x = th_alloc_floats(n), *y = th_alloc_floats(n);
    fill(x, n, 71);
    fill(y, n, 72);
    const size_t from[2] = {0, cut}, count[2] = {cut, n - cut};
    clmse_partial parts[2], total, again;
    for (int d = 0; d < 2; d++) {
        cl_mem bx = th_buffer(ctxs[d], count[d], 0, x + from[d], count[d]);
        cl_mem by = th_buffer(ctxs[d], count[d], 0, y + from[d], count[d]);
        const clmse_tensor tx = vec(bx, 0, count[d]), ty = vec(by, 0, count[d]);
        const clmse_mse_args a = {SUM, 0, &tx, &ty, NULL, NULL, NULL, NULL, 0};
        CHECK_OK(ctxs[d], clmse_mse_partial(ctxs[d], &a, &parts[d], 0, NULL));
        clReleaseMemObject(bx);
        clReleaseMemObject(by);
    }
    CHECK_OK(NULL, clmse_partial_fold(parts, 2, &total));
    CHECK_OK(NULL, clmse_partial_fold(parts, 2, &again));
    ck_assert_int_eq(memcmp(&total, &again, sizeof total), 0);
    const long double ref = th_ref_sum(x, y, n);
    ck_assert(th_within_one_ulp(round_f32(&total, SUM), ref));
    ck_assert(th_within_one_ulp(round_f32(&total, MEAN), ref / (long double)n));
    ck_assert_uint_le(th_ulp_diff(round_f32(&total, MEAN), whole_loss(ctxs[0], MEAN, x, y, n)), 1);
    free(x);
    free(y);
    clmse_context_release(ctxs[1]);
}
END_TEST

/* clmse_mse with the global count: a shard's loss is its share of the global mean, on the
 * contiguous path and on the strided one (every other element). */
START_TEST(test_mean_count_output)
{
    const size_t n = 2001, big_n = 1000000;
    const int strided = _i;
    float *x = th_alloc_floats(2 * n), *y = th_alloc_floats(2 * n);
    fill(x, 2 * n, 81);
    fill(y, 2 * n, 82);
    cl_mem bx = th_buffer(g_ctx, 2 * n, 0, x, 2 * n), by = th_buffer(g_ctx, 2 * n, 0, y, 2 * n);
    cl_mem bo = th_buffer(g_ctx, 1, 0, NULL, 0);
    const int64_t step = strided ? 2 : 1;
    clmse_tensor tx, ty;
    CHECK_OK(NULL, clmse_tensor_init(&tx, bx, CLMSE_DTYPE_F32, 1, &n, &step, 0));
    CHECK_OK(NULL, clmse_tensor_init(&ty, by, CLMSE_DTYPE_F32, 1, &n, &step, 0));
    const clmse_tensor to = scalar(bo);
    const clmse_mse_args a = {MEAN, CLMSE_MEAN_COUNT, &tx, &ty, &to, NULL, NULL, NULL, big_n};
    CHECK_OK(g_ctx, clmse_mse(g_ctx, &a, 0, NULL, NULL));
    float out;
    th_buffer_read(g_ctx, bo, 1, &out, NULL);
    long double ref = 0;
    for (size_t i = 0; i < n; i++)
        ref += th_term(x[i * step], y[i * step]);
    ck_assert_msg(th_within_one_ulp(out, ref / (long double)big_n), "%s: %.9g vs %.12Lg",
                  strided ? "strided" : "contiguous", (double)out, ref / (long double)big_n);
    clReleaseMemObject(bx);
    clReleaseMemObject(by);
    clReleaseMemObject(bo);
    free(x);
    free(y);
}
END_TEST

/* The struct of a program built against 0.2 ends at grad_target: exactly that many bytes on
 * the heap, so a read of mean_count is a heap overflow under ASan and valgrind. */
START_TEST(test_struct_of_0_2)
{
    const size_t n = 5;
    const float x[5] = {1, 2, 3, 4, 5}, y[5] = {0, 0, 0, 0, 0};
    cl_mem bx = th_buffer(g_ctx, n, 0, x, n), by = th_buffer(g_ctx, n, 0, y, n);
    cl_mem bo = th_buffer(g_ctx, 1, 0, NULL, 0);
    const clmse_tensor tx = vec(bx, 0, n), ty = vec(by, 0, n), to = scalar(bo);
    const clmse_mse_args full = {MEAN, 0, &tx, &ty, &to, NULL, NULL, NULL, 0};
    const size_t old_size = offsetof(clmse_mse_args, mean_count);
    clmse_mse_args *old = malloc(old_size);
    ck_assert_ptr_nonnull(old);
    memcpy(old, &full, old_size);
    CHECK_OK(g_ctx, clmse_mse(g_ctx, old, 0, NULL, NULL));
    float out;
    th_buffer_read(g_ctx, bo, 1, &out, NULL);
    ck_assert_float_eq(out, 11.0f); /* (1 + 4 + 9 + 16 + 25) / 5 */
    free(old);
    clReleaseMemObject(bx);
    clReleaseMemObject(by);
    clReleaseMemObject(bo);
}
END_TEST

/* NaN and Inf terms set the flags (NaN first); an empty shard is the empty partial, and its
 * broadcast gradient (a sum over nothing) is still written: zero. */
START_TEST(test_partial_special)
{
    const float inf = INFINITY;
    const float x[4] = {1, inf, NAN, 2}, y[4] = {0, 0, 0, 0};
    cl_mem bx = th_buffer(g_ctx, 4, 0, x, 4), by = th_buffer(g_ctx, 4, 0, y, 4);
    clmse_partial p;
    const clmse_tensor inf_x = vec(bx, 0, 2), nan_x = vec(bx, 0, 4), ty2 = vec(by, 0, 2),
                       ty4 = vec(by, 0, 4);
    const clmse_mse_args ai = {SUM, 0, &inf_x, &ty2, NULL, NULL, NULL, NULL, 0};
    CHECK_OK(g_ctx, clmse_mse_partial(g_ctx, &ai, &p, 0, NULL));
    ck_assert_uint_eq(p.flags, CLMSE_PARTIAL_INF);
    ck_assert(isinf(round_f32(&p, MEAN)));
    const clmse_mse_args an = {SUM, 0, &nan_x, &ty4, NULL, NULL, NULL, NULL, 0};
    CHECK_OK(g_ctx, clmse_mse_partial(g_ctx, &an, &p, 0, NULL));
    ck_assert_uint_eq(p.flags, CLMSE_PARTIAL_NAN);
    ck_assert(isnan(round_f32(&p, SUM)));

    /* input of shape (0,) against a target of shape (1,): grad_target is 0 */
    cl_mem bg = th_buffer(g_ctx, 1, 0, NULL, 0);
    const clmse_tensor empty = vec(bx, 0, 0), one = vec(by, 0, 1), tg = vec(bg, 0, 1);
    const clmse_mse_args ae = {MEAN, CLMSE_MEAN_COUNT, &empty, &one, NULL, NULL, NULL, &tg, 10};
    CHECK_OK(g_ctx, clmse_mse_partial(g_ctx, &ae, &p, 0, NULL));
    ck_assert_uint_eq(p.count, 0);
    ck_assert(p.sum == 0.0 && p.sum_low == 0.0 && p.flags == 0);
    float g;
    th_buffer_read(g_ctx, bg, 1, &g, NULL);
    ck_assert_float_eq(g, 0.0f);
    clReleaseMemObject(bx);
    clReleaseMemObject(by);
    clReleaseMemObject(bg);
}
END_TEST

/* Float64 terms whose sum overflows a double: the device rescues it scaled by 2^-64, the
 * partial says so (exponent 64), and its mean is finite and equals clmse_mse's. */
START_TEST(test_partial_rescued)
{
    if (!th_has_fp64(g_ctx))
        return;
    enum { N = 8 };
    double x[N], y[N] = {0};
    for (int i = 0; i < N; i++)
        x[i] = 0x1.8p511; /* each square 2.25 * 2^1022: the sum 9 * 2^1023 overflows */
    cl_int err;
    cl_mem bx = clCreateBuffer(th_cl_context(g_ctx), CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                               sizeof x, x, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    cl_mem by = clCreateBuffer(th_cl_context(g_ctx), CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                               sizeof y, y, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    const size_t n = N;
    clmse_tensor tx, ty;
    CHECK_OK(NULL, clmse_tensor_init(&tx, bx, CLMSE_DTYPE_F64, 1, &n, NULL, 0));
    CHECK_OK(NULL, clmse_tensor_init(&ty, by, CLMSE_DTYPE_F64, 1, &n, NULL, 0));
    const clmse_mse_args a = {MEAN, 0, &tx, &ty, NULL, NULL, NULL, NULL, 0};
    clmse_partial p;
    CHECK_OK(g_ctx, clmse_mse_partial(g_ctx, &a, &p, 0, NULL));
    ck_assert_int_eq(p.exponent, 64);
    ck_assert_uint_eq(p.flags, 0);
    double mean;
    CHECK_OK(NULL, clmse_partial_round(&p, MEAN, CLMSE_DTYPE_F64, &mean));
    ck_assert_double_eq(mean, 0x1.2p1023); /* 9 * 2^1023 / 8 */
    clReleaseMemObject(bx);
    clReleaseMemObject(by);
}
END_TEST

/* Host shards of float16 data (the strided kernels) with the global count: gradients equal
 * one clmse_host_mse call's bit for bit, the folded loss is within one ulp of its loss, and a
 * 0.2-sized clmse_host_mse_args on the heap is never read past its end. */
START_TEST(test_host_shards)
{
    enum { N = 3001, CUT = 1000 };
    static uint16_t x[N], y[N], gx[N], sgx[N], loss;
    for (size_t i = 0; i < N; i++) {
        x[i] = th_half_from_float((float)((i * 37) % 101) / 16.0f - 3.0f);
        y[i] = th_half_from_float((float)((i * 11) % 67) / 8.0f - 4.0f);
    }
    const size_t n = N;
    clmse_host_tensor tx = th_host_view(x, CLMSE_DTYPE_F16, 1, &n, NULL),
                      ty = th_host_view(y, CLMSE_DTYPE_F16, 1, &n, NULL),
                      tg = th_host_view(gx, CLMSE_DTYPE_F16, 1, &n, NULL), tl;
    memset(&tl, 0, sizeof tl);
    tl.data = &loss;
    tl.dtype = CLMSE_DTYPE_F16; /* the loss of float16 operands is float16 */
    const clmse_host_mse_args whole = {
        .reduction = MEAN, .input = &tx, .target = &ty, .output = &tl, .grad_input = &tg};
    CHECK_OK(g_ctx, clmse_host_mse(g_ctx, &whole));

    clmse_partial parts[2], total;
    const size_t from[2] = {0, CUT}, count[2] = {CUT, N - CUT};
    for (int s = 0; s < 2; s++) {
        clmse_host_tensor sx = th_host_view(x + from[s], CLMSE_DTYPE_F16, 1, &count[s], NULL),
                          sy = th_host_view(y + from[s], CLMSE_DTYPE_F16, 1, &count[s], NULL),
                          sg = th_host_view(sgx + from[s], CLMSE_DTYPE_F16, 1, &count[s], NULL);
        const clmse_host_mse_args a = {.reduction = MEAN,
                                       .flags = CLMSE_MEAN_COUNT,
                                       .input = &sx,
                                       .target = &sy,
                                       .grad_input = &sg,
                                       .mean_count = N};
        CHECK_OK(g_ctx, clmse_host_mse_partial(g_ctx, &a, &parts[s]));
    }
    ck_assert_int_eq(memcmp(sgx, gx, sizeof gx), 0);
    CHECK_OK(NULL, clmse_partial_fold(parts, 2, &total));
    uint16_t folded;
    CHECK_OK(NULL, clmse_partial_round(&total, MEAN, CLMSE_DTYPE_F16, &folded));
    ck_assert_uint_le(th_ulp_diff(th_half_to_float(folded), th_half_to_float(loss)), 1);

    const clmse_host_mse_args old_full = {.reduction = SUM, .input = &tx, .target = &ty};
    const size_t old_size = offsetof(clmse_host_mse_args, mean_count);
    clmse_host_mse_args *old = malloc(old_size);
    ck_assert_ptr_nonnull(old);
    memcpy(old, &old_full, old_size);
    clmse_partial p;
    CHECK_OK(g_ctx, clmse_host_mse_partial(g_ctx, old, &p));
    ck_assert_uint_eq(p.count, N);
    free(old);

    ck_assert_int_eq(clmse_host_mse_partial(g_ctx, &whole, NULL), CLMSE_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clmse_context_last_error(g_ctx), "clmse_host_mse_partial"));
    ck_assert_int_eq(clmse_host_mse_partial(g_ctx, &whole, &p), CLMSE_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clmse_context_last_error(g_ctx), "output must be NULL"));
}
END_TEST

/* Each misuse: its status, a message naming the call, and a zeroed partial. */
START_TEST(test_partial_errors)
{
    const float v[3] = {1, 2, 3};
    cl_mem b = th_buffer(g_ctx, 3, 0, v, 3);
    const clmse_tensor t = vec(b, 0, 3), s = scalar(b);
    clmse_partial p;
    clmse_mse_args a = {MEAN, 0, &t, &t, NULL, NULL, NULL, NULL, 0};
    clmse_context *ctx = g_ctx;
    clmse_partial *out = &p;
    clmse_status want = CLMSE_ERROR_INVALID_ARGUMENT;
    const char *says = "clmse_mse_partial";
    cl_uint num_wait = 0;
    switch (_i) {
    case 0:
        out = NULL;
        break;
    case 1:
        a.output = &s;
        says = "output must be NULL";
        break;
    case 2:
        a.reduction = CLMSE_REDUCTION_NONE;
        want = CLMSE_ERROR_INVALID_REDUCTION;
        says = "'none'";
        break;
    case 3:
        a.flags = CLMSE_MEAN_COUNT;
        a.mean_count = 2;
        says = "mean_count 2 is below the 3 elements";
        break;
    case 4:
        a.flags = 8u;
        says = "unknown flags 0x8";
        break;
    case 5:
        num_wait = 1;
        says = "num_wait is 1";
        break;
    case 6:
        a.reduction = (clmse_reduction)7;
        want = CLMSE_ERROR_INVALID_REDUCTION;
        break;
    case 7:
        ctx = NULL;
        want = CLMSE_ERROR_INVALID_HANDLE;
        says = "";
        break;
    default:
        ck_abort_msg("no case %d", _i);
    }
    memset(&p, 0x5a, sizeof p);
    const clmse_status st = clmse_mse_partial(ctx, &a, out, num_wait, NULL);
    ck_assert_msg(st == want, "case %d: %s: %s", _i, clmse_status_string(st),
                  clmse_context_last_error(ctx));
    ck_assert_msg(strstr(clmse_context_last_error(ctx), says) != NULL, "case %d: '%s' lacks '%s'",
                  _i, clmse_context_last_error(ctx), says);
    if (out != NULL && ctx != NULL) {
        const clmse_partial zero = {0, 0, 0, 0, 0};
        ck_assert_int_eq(memcmp(&p, &zero, sizeof p), 0);
    }
    clReleaseMemObject(b);
}
END_TEST

Suite *make_shards_suite(void)
{
    Suite *s = suite_create("shards");
    TCase *tc = th_device_tcase(s, "shards");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_partial_matches_loss, 0, 8);
    tcase_add_test(tc, test_shards_match_one_call);
    tcase_add_test(tc, test_two_contexts);
    tcase_add_loop_test(tc, test_mean_count_output, 0, 2);
    tcase_add_test(tc, test_struct_of_0_2);
    tcase_add_test(tc, test_partial_special);
    tcase_add_test(tc, test_partial_rescued);
    tcase_add_loop_test(tc, test_partial_errors, 0, 8);
    tcase_add_test(tc, test_host_shards);
    return s;
}
