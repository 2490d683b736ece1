/* SPDX-License-Identifier: MIT */
/* clmse on a device without fp64, emulated by the fault shim (clf_hide_fp64): float64 refused,
 * float32, float16 and bfloat16 computed with float accumulation only. */
#include "fault_harness.h"
#include "suites.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Checked fixture of the no_fp64 tcase: libclmse sees the device without double precision. */
static void hide_fp64(void) { clf_hide_fp64(1); }
static void show_fp64(void) { clf_hide_fp64(0); }

/* Every program libclmse built since build `mark` was made on the fp64-less device and asks
 * for no double: float Neumaier accumulation, float arithmetic, no float64 storage. The
 * shim's prelude would have failed any of those builds that used double anyway. */
static void check_builds_without_fp64(size_t mark, const char *where)
{
    const size_t n = clf_builds();
    ck_assert_msg(n > mark, "%s: clmse built no program", where);
    for (size_t i = mark; i < n; i++) {
        char opt[512];
        const int hidden = clf_build_options(i, opt, sizeof opt);
        ck_assert_msg(hidden == 1, "%s: build %zu ('%s') was not made on the fp64-less device",
                      where, i, opt);
        ck_assert_msg(strstr(opt, "-DCLMSE_ACC_KIND=0 ") != NULL &&
                          strstr(opt, "-DCLMSE_COMPUTE_DOUBLE=0 ") != NULL &&
                          strstr(opt, "_DTYPE=1 ") == NULL,
                      "%s: build %zu asks for double: '%s'", where, i, opt);
    }
}

/* A buffer of `bytes` bytes holding `data`, or 0xa5 bytes (a NaN in every float type). */
static cl_mem byte_buffer(clmse_context *ctx, size_t bytes, const void *data)
{
    unsigned char *img = malloc(bytes);
    ck_assert_ptr_nonnull(img);
    if (data)
        memcpy(img, data, bytes);
    else
        memset(img, 0xa5, bytes);
    cl_int err = CL_SUCCESS;
    cl_mem m = clCreateBuffer(th_cl_context(ctx), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes,
                              img, &err);
    ck_assert_msg(err == CL_SUCCESS, "clCreateBuffer(%zu): %d", bytes, err);
    free(img);
    return m;
}

static void byte_read(clmse_context *ctx, cl_mem m, size_t bytes, void *dst)
{
    ck_assert_int_eq(
        clEnqueueReadBuffer(th_cl_queue(ctx), m, CL_TRUE, 0, bytes, dst, 0, NULL, NULL),
        CL_SUCCESS);
}

static clmse_tensor view1(cl_mem buf, clmse_dtype dtype, size_t n)
{
    return ft_view(buf, dtype, 1, &n, NULL);
}

static void call_ok(clmse_context *ctx, clmse_status st, const char *what)
{
    ck_assert_msg(st == CLMSE_SUCCESS, "%s: %s: %s", what, clmse_status_string(st),
                  clmse_context_last_error(ctx));
}

START_TEST(test_no_fp64_device_info)
{
    size_t count = 0, chosen = 0;
    clmse_device_info real, info;
    clf_hide_fp64(0);
    CHECK_OK(NULL, clmse_device_select(NULL, &chosen));
    CHECK_OK(NULL, clmse_device_get_info(chosen, &real));
    if (!real.has_fp64)
        printf("fault: device '%s' has no fp64 of its own\n", real.name);
    clf_hide_fp64(1);
    CHECK_OK(NULL, clmse_device_count(&count));
    for (size_t i = 0; i < count; i++) {
        CHECK_OK(NULL, clmse_device_get_info(i, &info));
        ck_assert_msg(info.has_fp64 == 0, "device %zu '%s' still reports fp64", i, info.name);
    }
    /* Only fp64 went: the rest of the extension list (cl_khr_fp16, if there) still reads. */
    clmse_device_info want = real;
    want.has_fp64 = 0;
    CHECK_OK(NULL, clmse_device_get_info(chosen, &info));
    ck_assert_msg(ft_same_info(&info, &want), "clmse_device_get_info: more than fp64 changed");
    clmse_context *ctx = th_context_create();
    CHECK_OK(ctx, clmse_context_device_info(ctx, &info));
    ck_assert_msg(ft_same_info(&info, &want), "clmse_context_device_info: more than fp64 changed");
    /* The test's own queries still see the real device. */
    cl_device_id dev = NULL;
    CHECK_OK(ctx, clmse_context_get_cl(ctx, NULL, &dev, NULL));
    cl_device_fp_config dcfg = 0;
    ck_assert_int_eq(clGetDeviceInfo(dev, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof dcfg, &dcfg, NULL),
                     CL_SUCCESS);
    ck_assert_msg(!real.has_fp64 || dcfg != 0, "the test's own view lost fp64 too");
    clmse_context_release(ctx);
    ft_check_refs(&ft_no_refs, "fp64-less device info", 0);
}
END_TEST

/* CLMSE_ACCUMULATE_DOUBLE is refused, by both creators; AUTO falls back to COMPENSATED. */
START_TEST(test_no_fp64_accumulation)
{
    clmse_context *ctx = th_context_create();
    ck_assert_int_eq(clmse_context_accumulation(ctx), CLMSE_ACCUMULATE_COMPENSATED);
    clmse_device_info info;
    CHECK_OK(ctx, clmse_context_device_info(ctx, &info));
    cl_device_id dev = NULL;
    CHECK_OK(ctx, clmse_context_get_cl(ctx, NULL, &dev, NULL));
    clmse_context_release(ctx);

    clmse_context_options opt;
    memset(&opt, 0, sizeof opt);
    opt.accumulation = CLMSE_ACCUMULATE_DOUBLE;
    ctx = (clmse_context *)&ctx; /* must be overwritten with NULL */
    clmse_status st = clmse_context_create(&opt, &ctx);
    ck_assert_int_eq(st, CLMSE_ERROR_UNSUPPORTED_DEVICE);
    ck_assert_ptr_null(ctx);
    const char *msg = clmse_context_last_error(NULL);
    ck_assert_msg(strstr(msg, "CLMSE_ACCUMULATE_DOUBLE") != NULL && strstr(msg, "fp64") != NULL &&
                      strstr(msg, info.name) != NULL,
                  "clmse_context_create: the message names no cause: '%s'", msg);
    ft_check_refs(&ft_no_refs, "clmse_context_create(DOUBLE) refused", 0);

    cl_context c = NULL;
    cl_command_queue q = th_cl_open(dev, 0, &c);
    const cl_uint c_refs = th_context_refs(c), q_refs = th_queue_refs(q);
    ctx = (clmse_context *)&ctx;
    st = clmse_context_create_from_cl(c, dev, q, &opt, &ctx);
    ck_assert_int_eq(st, CLMSE_ERROR_UNSUPPORTED_DEVICE);
    ck_assert_ptr_null(ctx);
    msg = clmse_context_last_error(NULL);
    ck_assert_msg(strstr(msg, "CLMSE_ACCUMULATE_DOUBLE") != NULL && strstr(msg, "fp64") != NULL &&
                      strstr(msg, info.name) != NULL,
                  "clmse_context_create_from_cl: the message names no cause: '%s'", msg);
    ft_check_refs(&ft_no_refs, "clmse_context_create_from_cl(DOUBLE) refused", 0);
    ck_assert_uint_eq(th_context_refs(c), c_refs);
    ck_assert_uint_eq(th_queue_refs(q), q_refs);

    const clmse_accumulation fine[2] = {CLMSE_ACCUMULATE_AUTO, CLMSE_ACCUMULATE_COMPENSATED};
    for (int i = 0; i < 2; i++) {
        opt.accumulation = fine[i];
        CHECK_OK(NULL, clmse_context_create(&opt, &ctx));
        ck_assert_int_eq(clmse_context_accumulation(ctx), CLMSE_ACCUMULATE_COMPENSATED);
        clmse_context_release(ctx);
        CHECK_OK(NULL, clmse_context_create_from_cl(c, dev, q, &opt, &ctx));
        ck_assert_int_eq(clmse_context_accumulation(ctx), CLMSE_ACCUMULATE_COMPENSATED);
        clmse_context_release(ctx);
    }
    ft_check_refs(&ft_no_refs, "fp64-less contexts released", 0);
    ck_assert_uint_eq(th_context_refs(c), c_refs);
    ck_assert_uint_eq(th_queue_refs(q), q_refs);
    ck_assert_int_eq(clReleaseCommandQueue(q), CL_SUCCESS);
    ck_assert_int_eq(clReleaseContext(c), CL_SUCCESS);
}
END_TEST

/* A float64 operand (or result) is refused before anything is enqueued: no event, no result
 * written, no OpenCL object taken. */
START_TEST(test_no_fp64_rejects_float64)
{
    enum { N = 64 };
    static const struct {
        clmse_dtype x, y, promoted;
        const char *named; /* the operand the message must name */
    } cases[] = {
        {CLMSE_DTYPE_F64, CLMSE_DTYPE_F32, CLMSE_DTYPE_F64, "input"},
        {CLMSE_DTYPE_F32, CLMSE_DTYPE_F64, CLMSE_DTYPE_F64, "target"},
        {CLMSE_DTYPE_F64, CLMSE_DTYPE_F64, CLMSE_DTYPE_F64, "input"},
        {CLMSE_DTYPE_F16, CLMSE_DTYPE_F64, CLMSE_DTYPE_F64, "target"},
    };
    clmse_context *ctx = th_context_create();
    clmse_device_info info;
    CHECK_OK(ctx, clmse_context_device_info(ctx, &info));
    /* Room for N float64 each, all 0xa5 bytes. */
    cl_mem bx = byte_buffer(ctx, N * 8, NULL), by = byte_buffer(ctx, N * 8, NULL);
    cl_mem bout = byte_buffer(ctx, N * 8, NULL), bgx = byte_buffer(ctx, N * 8, NULL),
           bgy = byte_buffer(ctx, N * 8, NULL);
    const refs base = ft_live_refs();
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int r = 0; r < 2; r++) {
            const clmse_reduction red = r ? CLMSE_REDUCTION_MEAN : CLMSE_REDUCTION_NONE;
            const clmse_tensor x = view1(bx, cases[c].x, N), y = view1(by, cases[c].y, N),
                               gx = view1(bgx, cases[c].x, N), gy = view1(bgy, cases[c].y, N);
            const clmse_tensor out = r ? ft_view(bout, cases[c].promoted, 0, NULL, NULL)
                                       : view1(bout, cases[c].promoted, N);
            const clmse_mse_args a = {red, 0, &x, &y, &out, NULL, &gx, &gy, 0};
            cl_event ev = (cl_event)&ev; /* must be overwritten with NULL */
            const clmse_status st = clmse_mse(ctx, &a, 0, NULL, &ev);
            ck_assert_msg(st == CLMSE_ERROR_UNSUPPORTED_DTYPE, "%s x %s: %s",
                          clmse_dtype_name(cases[c].x), clmse_dtype_name(cases[c].y),
                          clmse_status_string(st));
            ck_assert_ptr_null(ev);
            const char *msg = clmse_context_last_error(ctx);
            ck_assert_msg(strstr(msg, "float64") != NULL && strstr(msg, info.name) != NULL &&
                              strncmp(msg, cases[c].named, strlen(cases[c].named)) == 0,
                          "%s x %s: the message does not name the %s, float64 and the device: "
                          "'%s'",
                          clmse_dtype_name(cases[c].x), clmse_dtype_name(cases[c].y),
                          cases[c].named, msg);
            ft_check_refs(&base, "clmse_mse(float64) refused", 0);
        }
    }
    ck_assert_int_eq(clFinish(th_cl_queue(ctx)), CL_SUCCESS);
    cl_mem results[3] = {bout, bgx, bgy};
    unsigned char got[N * 8];
    for (int i = 0; i < 3; i++) {
        byte_read(ctx, results[i], sizeof got, got);
        for (size_t k = 0; k < sizeof got; k++)
            if (got[k] != 0xa5)
                ck_abort_msg("result buffer %d byte %zu was written", i, k);
    }
    cl_mem all[5] = {bx, by, bout, bgx, bgy};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(clReleaseMemObject(all[i]), CL_SUCCESS);
    clmse_context_release(ctx);
    ft_check_refs(&ft_no_refs, "fp64-less context released", 0);
}
END_TEST

static const size_t k_no_fp64_sizes[] = {1, 1000, ((size_t)1 << 20) + 3};

static clmse_status f32_op(clmse_context *ctx, op o, clmse_reduction red, size_t n, cl_mem x,
                           cl_mem y, cl_mem g, cl_mem out, cl_mem gx, cl_mem gy, cl_event *ev)
{
    switch (o) {
    case OP_FORWARD:
        return clmse_mse_forward_f32(ctx, red, n, x, 0, y, 0, out, 0, 0, NULL, ev);
    case OP_BACKWARD:
        return clmse_mse_backward_f32(ctx, red, n, x, 0, y, 0, g, 0, gx, 0, gy, 0, 0, NULL, ev);
    default:
        return clmse_mse_fused_f32(ctx, red, n, x, 0, y, 0, out, 0, g, 0, gx, 0, gy, 0, 0, NULL,
                                   ev);
    }
}

/* float32 through the compensated float kernels: reductions within one ulp of the exact
 * value, gradients bit-exact against torch's formula, fused equal to the separate calls, and
 * the same bits as an explicitly compensated context on the real device. */
START_TEST(test_no_fp64_float32)
{
    const size_t n = k_no_fp64_sizes[_i], mark = clf_builds();
    clmse_context *ctx = th_context_create();
    ck_assert_int_eq(clmse_context_accumulation(ctx), CLMSE_ACCUMULATE_COMPENSATED);
    float *x = th_alloc_floats(n), *y = th_alloc_floats(n), *g = th_alloc_floats(n);
    th_rng rng;
    th_rng_seed(&rng, 0xf64u + n);
    th_fill_uniform(&rng, x, n);
    th_fill_uniform(&rng, y, n);
    th_fill_uniform(&rng, g, n);
    const float g_scalar = 0.75f;
    cl_mem bx = th_buffer(ctx, n, 0, x, n), by = th_buffer(ctx, n, 0, y, n);
    cl_mem bg = th_buffer(ctx, n, 0, g, n), bg1 = th_buffer(ctx, 1, 0, &g_scalar, 1);
    cl_mem bout = th_buffer(ctx, n, 0, NULL, 0), bgx = th_buffer(ctx, n, 0, NULL, 0),
           bgy = th_buffer(ctx, n, 0, NULL, 0);
    float *out = th_alloc_floats(n), *gx = th_alloc_floats(n), *gy = th_alloc_floats(n);
    float *fout = th_alloc_floats(n), *fgx = th_alloc_floats(n), *fgy = th_alloc_floats(n);
    float reduced[3] = {0.0f, 0.0f, 0.0f};
    const long double sum = th_ref_sum(x, y, n);
    static const clmse_reduction reds[3] = {CLMSE_REDUCTION_NONE, CLMSE_REDUCTION_MEAN,
                                            CLMSE_REDUCTION_SUM};
    for (int r = 0; r < 3; r++) {
        const clmse_reduction red = reds[r];
        const size_t outn = red == CLMSE_REDUCTION_NONE ? n : 1;
        cl_mem gb = red == CLMSE_REDUCTION_NONE ? bg : red == CLMSE_REDUCTION_SUM ? bg1 : NULL;
        cl_event ev = NULL;
        th_buffer_reset(ctx, bout, n);
        clmse_status st = f32_op(ctx, OP_FORWARD, red, n, bx, by, NULL, bout, NULL, NULL, &ev);
        call_ok(ctx, st, "forward");
        th_buffer_read(ctx, bout, outn, out, ev);
        if (red == CLMSE_REDUCTION_NONE) {
            /* Plain ifs in the element loops: each Check assertion costs a write to a pipe. */
            for (size_t i = 0; i < n; i++)
                if (th_bits(out[i]) != th_bits(th_term(x[i], y[i])))
                    ck_abort_msg("n=%zu none[%zu] = %a, want %a", n, i, (double)out[i],
                                 (double)th_term(x[i], y[i]));
        } else {
            const long double want = red == CLMSE_REDUCTION_MEAN ? sum / (long double)n : sum;
            ck_assert_msg(th_within_one_ulp(out[0], want),
                          "n=%zu %s: %.9g, reference %.12Lg (%llu ulp)", n,
                          red == CLMSE_REDUCTION_MEAN ? "mean" : "sum", (double)out[0], want,
                          (unsigned long long)th_ulp_diff(out[0], (float)want));
            reduced[r] = out[0];
        }

        th_buffer_reset(ctx, bgx, n);
        th_buffer_reset(ctx, bgy, n);
        st = f32_op(ctx, OP_BACKWARD, red, n, bx, by, gb, NULL, bgx, bgy, &ev);
        call_ok(ctx, st, "backward");
        th_buffer_read(ctx, bgx, n, gx, ev);
        th_buffer_read(ctx, bgy, n, gy, NULL);
        const float scale = th_scale(red, n);
        for (size_t i = 0; i < n; i++) {
            const float gi = red == CLMSE_REDUCTION_NONE  ? g[i]
                             : red == CLMSE_REDUCTION_SUM ? g_scalar
                                                          : 1.0f;
            const float wx = th_grad(scale, x[i], y[i], gi), wy = th_grad(scale, y[i], x[i], gi);
            if (th_bits(gx[i]) != th_bits(wx) || th_bits(gy[i]) != th_bits(wy))
                ck_abort_msg("n=%zu reduction %d: grads[%zu] = (%a, %a), want (%a, %a)", n,
                             (int)red, i, (double)gx[i], (double)gy[i], (double)wx, (double)wy);
        }

        th_buffer_reset(ctx, bout, n);
        th_buffer_reset(ctx, bgx, n);
        th_buffer_reset(ctx, bgy, n);
        st = f32_op(ctx, OP_FUSED, red, n, bx, by, gb, bout, bgx, bgy, &ev);
        call_ok(ctx, st, "fused");
        th_buffer_read(ctx, bout, outn, fout, ev);
        th_buffer_read(ctx, bgx, n, fgx, NULL);
        th_buffer_read(ctx, bgy, n, fgy, NULL);
        ck_assert_msg(memcmp(out, fout, outn * sizeof(float)) == 0 &&
                          memcmp(gx, fgx, n * sizeof(float)) == 0 &&
                          memcmp(gy, fgy, n * sizeof(float)) == 0,
                      "n=%zu reduction %d: fused differs from forward + backward", n, (int)red);
    }
    check_builds_without_fp64(mark, "float32 on the fp64-less device");

    /* The fp64-less context runs the kernels a compensated one runs on the real device. */
    clf_hide_fp64(0);
    clmse_context *real = th_context_create_acc(CLMSE_ACCUMULATE_COMPENSATED);
    clf_hide_fp64(1);
    for (int r = 1; r < 3; r++) {
        float v = 0.0f;
        CHECK_OK(real, clmse_host_forward_f32(real, reds[r], n, x, y, &v));
        ck_assert_msg(th_bits(v) == th_bits(reduced[r]),
                      "n=%zu reduction %d: %a on the real "
                      "device, %a without fp64",
                      n, (int)reds[r], (double)v, (double)reduced[r]);
    }
    clmse_context_release(real);

    cl_mem all[7] = {bx, by, bg, bg1, bout, bgx, bgy};
    for (int i = 0; i < 7; i++)
        ck_assert_int_eq(clReleaseMemObject(all[i]), CL_SUCCESS);
    float *arrays[9] = {x, y, g, out, gx, gy, fout, fgx, fgy};
    for (int i = 0; i < 9; i++)
        free(arrays[i]);
    clmse_context_release(ctx);
    ft_check_refs(&ft_no_refs, "fp64-less float32 context released", 0);
}
END_TEST

/* float16 and bfloat16 storage still works (it never needed fp64): elementwise results and
 * gradients rounded once from float, reductions within one ulp of the storage format, and a
 * float16 input against a float32 target promoted to float32. */
START_TEST(test_no_fp64_half_tensors)
{
    enum { N = 1000 };
    const size_t mark = clf_builds();
    clmse_context *ctx = th_context_create();
    th_rng rng;
    th_rng_seed(&rng, 0x16u);
    float *xf = th_alloc_floats(N), *yf = th_alloc_floats(N);
    uint16_t hx[N], hy[N], hout[N], hgx[N], h0;
    for (int k = 0; k < 2; k++) {
        const clmse_dtype d = k ? CLMSE_DTYPE_BF16 : CLMSE_DTYPE_F16;
        th_fill_uniform(&rng, xf, N);
        th_fill_uniform(&rng, yf, N);
        long double sum = 0;
        for (size_t i = 0; i < N; i++) { /* the values the storage holds */
            hx[i] = k ? th_bf16_from_float(xf[i]) : th_half_from_float(xf[i]);
            hy[i] = k ? th_bf16_from_float(yf[i]) : th_half_from_float(yf[i]);
            xf[i] = k ? th_bf16_to_float(hx[i]) : th_half_to_float(hx[i]);
            yf[i] = k ? th_bf16_to_float(hy[i]) : th_half_to_float(hy[i]);
            sum += th_term(xf[i], yf[i]);
        }
        cl_mem bx = byte_buffer(ctx, sizeof hx, hx), by = byte_buffer(ctx, sizeof hy, hy);
        cl_mem bout = byte_buffer(ctx, sizeof hout, NULL), bgx = byte_buffer(ctx, sizeof hgx, NULL);
        const clmse_tensor x = view1(bx, d, N), y = view1(by, d, N), out = view1(bout, d, N),
                           gx = view1(bgx, d, N), out0 = ft_view(bout, d, 0, NULL, NULL);
        const clmse_mse_args none = {CLMSE_REDUCTION_NONE, 0, &x, &y, &out, NULL, &gx, NULL, 0};
        cl_event ev = NULL;
        call_ok(ctx, clmse_mse(ctx, &none, 0, NULL, &ev), clmse_dtype_name(d));
        ft_settle_event(CLMSE_SUCCESS, ev, clmse_dtype_name(d));
        byte_read(ctx, bout, sizeof hout, hout);
        byte_read(ctx, bgx, sizeof hgx, hgx);
        for (size_t i = 0; i < N; i++) {
            const float t = th_term(xf[i], yf[i]), gr = th_grad(2.0f, xf[i], yf[i], 1.0f);
            const uint16_t wt = k ? th_bf16_from_float(t) : th_half_from_float(t);
            const uint16_t wg = k ? th_bf16_from_float(gr) : th_half_from_float(gr);
            if (hout[i] != wt || hgx[i] != wg)
                ck_abort_msg("%s [%zu]: loss %#x grad %#x, want %#x %#x", clmse_dtype_name(d), i,
                             (unsigned)hout[i], (unsigned)hgx[i], (unsigned)wt, (unsigned)wg);
        }
        for (int r = 0; r < 2; r++) {
            const clmse_reduction red = r ? CLMSE_REDUCTION_SUM : CLMSE_REDUCTION_MEAN;
            const clmse_mse_args a = {red, 0, &x, &y, &out0, NULL, NULL, NULL, 0};
            call_ok(ctx, clmse_mse(ctx, &a, 0, NULL, &ev), clmse_dtype_name(d));
            ft_settle_event(CLMSE_SUCCESS, ev, clmse_dtype_name(d));
            byte_read(ctx, bout, sizeof h0, &h0);
            const double want = (double)(r ? sum : sum / N);
            const uint16_t w = k ? dtype_bits_bf16(want) : dtype_bits_half(want);
            /* Positive values: neighbouring encodings are neighbouring values. */
            ck_assert_msg(h0 + 1 >= w && h0 <= w + 1, "%s %s: %#x, want %#x (%.9g)",
                          clmse_dtype_name(d), r ? "sum" : "mean", (unsigned)h0, (unsigned)w, want);
        }
        cl_mem all[4] = {bx, by, bout, bgx};
        for (int i = 0; i < 4; i++)
            ck_assert_int_eq(clReleaseMemObject(all[i]), CL_SUCCESS);
    }

    /* float16 input, float32 target: promoted to float32. */
    th_fill_uniform(&rng, xf, N);
    th_fill_uniform(&rng, yf, N);
    for (size_t i = 0; i < N; i++) {
        hx[i] = th_half_from_float(xf[i]);
        xf[i] = th_half_to_float(hx[i]);
    }
    float loss = 0.0f, *gy = th_alloc_floats(N);
    cl_mem bx = byte_buffer(ctx, sizeof hx, hx), by = byte_buffer(ctx, N * sizeof(float), yf);
    cl_mem bout = byte_buffer(ctx, sizeof loss, NULL),
           bgy = byte_buffer(ctx, N * sizeof(float), NULL);
    const clmse_tensor x = view1(bx, CLMSE_DTYPE_F16, N), y = view1(by, CLMSE_DTYPE_F32, N),
                       out = ft_view(bout, CLMSE_DTYPE_F32, 0, NULL, NULL),
                       tgy = view1(bgy, CLMSE_DTYPE_F32, N);
    const clmse_mse_args a = {CLMSE_REDUCTION_MEAN, 0, &x, &y, &out, NULL, NULL, &tgy, 0};
    cl_event ev = NULL;
    call_ok(ctx, clmse_mse(ctx, &a, 0, NULL, &ev), "float16 x float32");
    ft_settle_event(CLMSE_SUCCESS, ev, "float16 x float32");
    byte_read(ctx, bout, sizeof loss, &loss);
    byte_read(ctx, bgy, N * sizeof(float), gy);
    ck_assert_msg(th_within_one_ulp(loss, th_ref_sum(xf, yf, N) / N),
                  "float16 x float32 mean "
                  "%.9g, reference %.12Lg",
                  (double)loss, th_ref_sum(xf, yf, N) / N);
    const float scale = th_scale(CLMSE_REDUCTION_MEAN, N);
    for (size_t i = 0; i < N; i++)
        if (th_bits(gy[i]) != th_bits(th_grad(scale, yf[i], xf[i], 1.0f)))
            ck_abort_msg("float16 x float32 grad_target[%zu] = %a, want %a", i, (double)gy[i],
                         (double)th_grad(scale, yf[i], xf[i], 1.0f));
    cl_mem all[4] = {bx, by, bout, bgy};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(clReleaseMemObject(all[i]), CL_SUCCESS);
    free(gy);
    free(xf);
    free(yf);
    check_builds_without_fp64(mark, "float16/bfloat16 on the fp64-less device");
    clmse_context_release(ctx);
    ft_check_refs(&ft_no_refs, "fp64-less half context released", 0);
}
END_TEST

Suite *make_fault_no_fp64_suite(void)
{
    Suite *s = suite_create("fault_no_fp64");
    TCase *tc = th_device_tcase(s, "no_fp64");
    tcase_add_checked_fixture(tc, hide_fp64, show_fp64);
    tcase_add_test(tc, test_no_fp64_device_info);
    tcase_add_test(tc, test_no_fp64_accumulation);
    tcase_add_test(tc, test_no_fp64_rejects_float64);
    tcase_add_loop_test(tc, test_no_fp64_float32, 0,
                        (int)(sizeof k_no_fp64_sizes / sizeof k_no_fp64_sizes[0]));
    tcase_add_test(tc, test_no_fp64_half_tensors);
    return s;
}
