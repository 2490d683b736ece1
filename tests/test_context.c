/* SPDX-License-Identifier: MIT */
/* Device enumeration and selection, context creation, adoption of caller objects, handles. */
#include "helpers.h"
#include "suites.h"

#include <check.h>
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char g_dummy; /* a non-NULL value the library must overwrite with NULL on failure */
#define NOT_NULL_CTX ((clmse_context *)&g_dummy)

static const float k_ex_x[3] = {2.5f, 3.1f, 4.8f};
static const float k_ex_y[3] = {2.0f, 3.3f, 5.0f};

static size_t device_count(void)
{
    size_t n = 0;
    ck_assert_int_eq(clmse_device_count(&n), CLMSE_SUCCESS);
    ck_assert_uint_gt(n, 0);
    return n;
}

static clmse_device_info device_info(size_t index)
{
    clmse_device_info info;
    memset(&info, 0, sizeof info);
    clmse_status st = clmse_device_get_info(index, &info);
    ck_assert_msg(st == CLMSE_SUCCESS, "clmse_device_get_info(%zu): %s", index,
                  clmse_status_string(st));
    return info;
}

static void assert_same_device(const clmse_device_info *a, const clmse_device_info *b)
{
    ck_assert_uint_eq(a->platform_index, b->platform_index);
    ck_assert_uint_eq(a->device_index, b->device_index);
    ck_assert_str_eq(a->name, b->name);
    ck_assert_str_eq(a->vendor, b->vendor);
}

static void assert_example_mean(clmse_context *ctx)
{
    float loss = 0.0f;
    clmse_status st = clmse_host_forward_f32(ctx, CLMSE_REDUCTION_MEAN, 3, k_ex_x, k_ex_y, &loss);
    ck_assert_msg(st == CLMSE_SUCCESS, "%s: %s", clmse_status_string(st),
                  clmse_context_last_error(ctx));
    long double ref = th_ref_sum(k_ex_x, k_ex_y, 3) / 3.0L;
    ck_assert_msg(th_within_one_ulp(loss, ref), "got %.9g, reference %.12Lg", (double)loss, ref);
    ck_assert_float_eq_tol(loss, 0.11f, 1e-6f);
}

/* ---- raw OpenCL objects for the adoption path ---- */
typedef struct raw_cl {
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
} raw_cl;

/* Opens the device clmse would pick by default, through plain OpenCL. */
static void raw_open(raw_cl *r, cl_command_queue_properties props)
{
    size_t index = 0;
    ck_assert_int_eq(clmse_device_select(NULL, &index), CLMSE_SUCCESS);
    clmse_device_info info = device_info(index);

    cl_platform_id plats[64];
    cl_uint np = 0;
    ck_assert_int_eq(clGetPlatformIDs(64, plats, &np), CL_SUCCESS);
    ck_assert_uint_lt(info.platform_index, np);
    r->platform = plats[info.platform_index];
    cl_device_id devs[64];
    cl_uint nd = 0;
    ck_assert_int_eq(clGetDeviceIDs(r->platform, CL_DEVICE_TYPE_ALL, 64, devs, &nd), CL_SUCCESS);
    ck_assert_uint_lt(info.device_index, nd);
    r->device = devs[info.device_index];

    char name[CLMSE_INFO_STRING] = "";
    ck_assert_int_eq(clGetDeviceInfo(r->device, CL_DEVICE_NAME, sizeof name, name, NULL),
                     CL_SUCCESS);
    ck_assert_str_eq(name, info.name);

    r->queue = th_cl_open(r->device, props, &r->context);
}

static void raw_close(raw_cl *r)
{
    ck_assert_int_eq(clReleaseCommandQueue(r->queue), CL_SUCCESS);
    ck_assert_int_eq(clReleaseContext(r->context), CL_SUCCESS);
}

/* pocl drops the references its finished commands hold from a worker thread, a moment after
 * clFinish returns, so wait (bounded) for the count to settle before calling it a leak. */
static void assert_refs_settle(cl_context c, cl_uint want_c, cl_command_queue q, cl_uint want_q)
{
    struct timespec tick = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 300 && (th_context_refs(c) != want_c || th_queue_refs(q) != want_q); i++)
        nanosleep(&tick, NULL);
    ck_assert_uint_eq(th_context_refs(c), want_c);
    ck_assert_uint_eq(th_queue_refs(q), want_q);
}

/* ==== devices ============================================================================= */

START_TEST(test_device_enumeration)
{
    size_t n = device_count();
    for (size_t i = 0; i < n; i++) {
        clmse_device_info info = device_info(i);
        ck_assert_str_ne(info.platform_name, "");
        ck_assert_str_ne(info.name, "");
        ck_assert_str_ne(info.vendor, "");
        ck_assert_msg(strncmp(info.version, "OpenCL ", 7) == 0, "version \"%s\"", info.version);
        ck_assert_msg(strncmp(info.opencl_c_version, "OpenCL C ", 9) == 0,
                      "opencl_c_version \"%s\"", info.opencl_c_version);
        ck_assert_uint_gt(info.compute_units, 0);
        ck_assert_uint_gt(info.max_work_group_size, 0);
        ck_assert_uint_gt(info.global_mem_size, 0);
        ck_assert_uint_gt(info.local_mem_size, 0);
        ck_assert_uint_ne(info.type, 0);
        /* The P:D printed in info must lead back to the same index. */
        char spec[64];
        snprintf(spec, sizeof spec, "%u:%u", info.platform_index, info.device_index);
        size_t back = n;
        ck_assert_int_eq(clmse_device_select(spec, &back), CLMSE_SUCCESS);
        ck_assert_uint_eq(back, i);
    }
    clmse_device_info info;
    ck_assert_int_eq(clmse_device_get_info(n, &info), CLMSE_ERROR_INVALID_ARGUMENT);
    ck_assert_str_ne(clmse_context_last_error(NULL), "");
    ck_assert_int_eq(clmse_device_get_info(SIZE_MAX, &info), CLMSE_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(clmse_device_get_info(0, NULL), CLMSE_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(clmse_device_count(NULL), CLMSE_ERROR_INVALID_ARGUMENT);
}
END_TEST

static size_t first_of_type(size_t n, cl_device_type type)
{
    for (size_t i = 0; i < n; i++)
        if (device_info(i).type & type)
            return i;
    return n;
}

START_TEST(test_device_select)
{
    unsetenv("CLMSE_DEVICE");
    size_t n = device_count();
    size_t index = n;

    size_t cpu = first_of_type(n, CL_DEVICE_TYPE_CPU);
    if (cpu < n) {
        ck_assert_int_eq(clmse_device_select("cpu", &index), CLMSE_SUCCESS);
        ck_assert_uint_eq(index, cpu);
    } else {
        ck_assert_int_eq(clmse_device_select("cpu", &index), CLMSE_ERROR_NO_DEVICE);
    }

    clmse_device_info first = device_info(0);
    if (first.platform_index == 0 && first.device_index == 0) {
        ck_assert_int_eq(clmse_device_select("0:0", &index), CLMSE_SUCCESS);
        ck_assert_uint_eq(index, 0);
    }

    /* Default: first GPU, else first accelerator, else the first device. */
    size_t want = first_of_type(n, CL_DEVICE_TYPE_GPU);
    if (want == n)
        want = first_of_type(n, CL_DEVICE_TYPE_ACCELERATOR);
    if (want == n)
        want = 0;
    ck_assert_int_eq(clmse_device_select(NULL, &index), CLMSE_SUCCESS);
    ck_assert_uint_eq(index, want);
    ck_assert_int_eq(clmse_device_select("", &index), CLMSE_SUCCESS);
    ck_assert_uint_eq(index, want);

    /* Name matching ignores case. */
    char upper[CLMSE_INFO_STRING];
    snprintf(upper, sizeof upper, "%s", first.name);
    for (char *p = upper; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    ck_assert_int_eq(clmse_device_select(upper, &index), CLMSE_SUCCESS);
    ck_assert_uint_eq(index, 0);
}
END_TEST

START_TEST(test_device_select_errors)
{
    unsetenv("CLMSE_DEVICE");
    size_t index = 0;
    ck_assert_int_eq(clmse_device_select("abc:1", &index), CLMSE_ERROR_INVALID_DEVICE_SPEC);
    ck_assert_str_ne(clmse_context_last_error(NULL), "");
    ck_assert_int_eq(clmse_device_select("99:0", &index), CLMSE_ERROR_NO_DEVICE);
    ck_assert_str_ne(clmse_context_last_error(NULL), "");
    ck_assert_int_eq(clmse_device_select("0:99999", &index), CLMSE_ERROR_NO_DEVICE);
    ck_assert_int_eq(clmse_device_select("no-such-device-xyz", &index), CLMSE_ERROR_NO_DEVICE);
    ck_assert_str_ne(clmse_context_last_error(NULL), "");
    ck_assert_int_eq(clmse_device_select("cpu", NULL), CLMSE_ERROR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(test_device_env)
{
    size_t n = device_count();
    clmse_device_info last = device_info(n - 1);
    char spec[64];
    snprintf(spec, sizeof spec, "%u:%u", last.platform_index, last.device_index);

    ck_assert_int_eq(setenv("CLMSE_DEVICE", spec, 1), 0);
    size_t index = n;
    ck_assert_int_eq(clmse_device_select(NULL, &index), CLMSE_SUCCESS);
    ck_assert_uint_eq(index, n - 1);
    clmse_context *ctx = th_context_create();
    clmse_device_info got;
    ck_assert_int_eq(clmse_context_device_info(ctx, &got), CLMSE_SUCCESS);
    assert_same_device(&got, &last);
    clmse_context_release(ctx);

    /* A variable naming nothing must fail rather than silently fall back. */
    ck_assert_int_eq(setenv("CLMSE_DEVICE", "no-such-device-xyz", 1), 0);
    ck_assert_int_eq(clmse_device_select(NULL, &index), CLMSE_ERROR_NO_DEVICE);
    ctx = NOT_NULL_CTX;
    ck_assert_int_eq(clmse_context_create(NULL, &ctx), CLMSE_ERROR_NO_DEVICE);
    ck_assert_ptr_null(ctx);
    ck_assert_str_ne(clmse_context_last_error(NULL), "");

    /* An explicit option outranks the variable. */
    clmse_context_options opt;
    memset(&opt, 0, sizeof opt);
    opt.device = spec;
    ck_assert_int_eq(clmse_context_create(&opt, &ctx), CLMSE_SUCCESS);
    ck_assert_int_eq(clmse_context_device_info(ctx, &got), CLMSE_SUCCESS);
    assert_same_device(&got, &last);
    clmse_context_release(ctx);
    unsetenv("CLMSE_DEVICE"); /* matters only under CK_FORK=no */
}
END_TEST

/* ==== contexts ============================================================================ */

START_TEST(test_create_release)
{
    unsetenv("CLMSE_DEVICE");
    clmse_context *ctx = th_context_create();
    clmse_device_info info;
    memset(&info, 0, sizeof info);
    ck_assert_int_eq(clmse_context_device_info(ctx, &info), CLMSE_SUCCESS);
    ck_assert_str_ne(info.name, "");
    ck_assert_str_ne(info.vendor, "");
    ck_assert_msg(strncmp(info.opencl_c_version, "OpenCL C ", 9) == 0, "\"%s\"",
                  info.opencl_c_version);
    size_t index = 0;
    ck_assert_int_eq(clmse_device_select(NULL, &index), CLMSE_SUCCESS);
    clmse_device_info chosen = device_info(index);
    assert_same_device(&info, &chosen);

    cl_context c = NULL;
    cl_device_id d = NULL;
    cl_command_queue q = NULL;
    ck_assert_int_eq(clmse_context_get_cl(ctx, &c, &d, &q), CLMSE_SUCCESS);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(d);
    ck_assert_ptr_nonnull(q);
    ck_assert_int_eq(clmse_context_get_cl(ctx, NULL, NULL, NULL), CLMSE_SUCCESS);
    /* "its own in-order queue" */
    cl_command_queue_properties props = 0;
    ck_assert_int_eq(clGetCommandQueueInfo(q, CL_QUEUE_PROPERTIES, sizeof props, &props, NULL),
                     CL_SUCCESS);
    ck_assert_uint_eq(props & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, 0);

    assert_example_mean(ctx);
    ck_assert_str_eq(clmse_context_last_error(ctx), "");
    clmse_context_release(ctx);
    clmse_context_release(NULL);
}
END_TEST

START_TEST(test_create_cpu_option)
{
    size_t n = device_count();
    clmse_context_options opt;
    memset(&opt, 0, sizeof opt);
    opt.device = "cpu";
    clmse_context *ctx = NOT_NULL_CTX;
    clmse_status st = clmse_context_create(&opt, &ctx);
    if (first_of_type(n, CL_DEVICE_TYPE_CPU) == n) {
        ck_assert_int_eq(st, CLMSE_ERROR_NO_DEVICE);
        ck_assert_ptr_null(ctx);
        return;
    }
    ck_assert_int_eq(st, CLMSE_SUCCESS);
    clmse_device_info info;
    ck_assert_int_eq(clmse_context_device_info(ctx, &info), CLMSE_SUCCESS);
    ck_assert_uint_ne(info.type & CL_DEVICE_TYPE_CPU, 0);
    assert_example_mean(ctx);
    clmse_context_release(ctx);
}
END_TEST

START_TEST(test_create_errors)
{
    unsetenv("CLMSE_DEVICE");
    ck_assert_int_eq(clmse_context_create(NULL, NULL), CLMSE_ERROR_INVALID_ARGUMENT);
    ck_assert_str_ne(clmse_context_last_error(NULL), "");

    clmse_context_options opt;
    memset(&opt, 0, sizeof opt);
    opt.device = "abc:1";
    clmse_context *ctx = NOT_NULL_CTX;
    ck_assert_int_eq(clmse_context_create(&opt, &ctx), CLMSE_ERROR_INVALID_DEVICE_SPEC);
    ck_assert_ptr_null(ctx);
    ck_assert_str_ne(clmse_context_last_error(NULL), "");
    opt.device = "no-such-device-xyz";
    ctx = NOT_NULL_CTX;
    ck_assert_int_eq(clmse_context_create(&opt, &ctx), CLMSE_ERROR_NO_DEVICE);
    ck_assert_ptr_null(ctx);

    ctx = th_context_create();
    ck_assert_int_eq(clmse_context_device_info(ctx, NULL), CLMSE_ERROR_INVALID_ARGUMENT);
    ck_assert_str_ne(clmse_context_last_error(ctx), "");
    clmse_context_release(ctx);

    clmse_device_info info;
    ck_assert_int_eq(clmse_context_device_info(NULL, &info), CLMSE_ERROR_INVALID_HANDLE);
    ck_assert_int_eq(clmse_context_get_cl(NULL, NULL, NULL, NULL), CLMSE_ERROR_INVALID_HANDLE);
    ck_assert_int_eq(clmse_context_accumulation(NULL), -1);
}
END_TEST

START_TEST(test_foreign_handle)
{
    /* Zeroed memory has no magic word: the library must refuse it, not crash. */
    void *block = calloc(1, 4096);
    ck_assert_ptr_nonnull(block);
    clmse_context *ctx = (clmse_context *)block;
    cl_mem none = NULL;
    ck_assert_int_eq(clmse_mse_forward_f32(ctx, CLMSE_REDUCTION_MEAN, 1, none, 0, none, 0, none, 0,
                                           0, NULL, NULL),
                     CLMSE_ERROR_INVALID_HANDLE);
    ck_assert_int_eq(clmse_context_accumulation(ctx), -1);
    ck_assert_int_eq(clmse_context_get_cl(ctx, NULL, NULL, NULL), CLMSE_ERROR_INVALID_HANDLE);
    clmse_device_info info;
    ck_assert_int_eq(clmse_context_device_info(ctx, &info), CLMSE_ERROR_INVALID_HANDLE);
    float loss = 0.0f;
    ck_assert_int_eq(clmse_host_forward_f32(ctx, CLMSE_REDUCTION_MEAN, 3, k_ex_x, k_ex_y, &loss),
                     CLMSE_ERROR_INVALID_HANDLE);
    free(block);
}
END_TEST

/* ==== adoption ============================================================================ */

START_TEST(test_adopt_refcounts)
{
    unsetenv("CLMSE_DEVICE");
    raw_cl r;
    raw_open(&r, 0);
    cl_uint c0 = th_context_refs(r.context), q0 = th_queue_refs(r.queue);

    clmse_context *ctx = NULL;
    clmse_status st = clmse_context_create_from_cl(r.context, r.device, r.queue, NULL, &ctx);
    ck_assert_msg(st == CLMSE_SUCCESS, "%s: %s", clmse_status_string(st),
                  clmse_context_last_error(NULL));
    ck_assert_uint_eq(th_context_refs(r.context), c0 + 1);
    ck_assert_uint_eq(th_queue_refs(r.queue), q0 + 1);

    cl_context c = NULL;
    cl_device_id d = NULL;
    cl_command_queue q = NULL;
    ck_assert_int_eq(clmse_context_get_cl(ctx, &c, &d, &q), CLMSE_SUCCESS);
    ck_assert_ptr_eq(c, r.context);
    ck_assert_ptr_eq(d, r.device);
    ck_assert_ptr_eq(q, r.queue);

    assert_example_mean(ctx);
    clmse_context_release(ctx);
    /* Everything the library made on our context (programs, scratch) must be gone now. */
    ck_assert_int_eq(clFinish(r.queue), CL_SUCCESS);
    assert_refs_settle(r.context, c0, r.queue, q0);
    raw_close(&r);
}
END_TEST

/* The application may release its handles as soon as clmse has adopted them: clmse's own
 * references keep the context and queue alive until clmse_context_release. */
START_TEST(test_adopt_then_app_releases)
{
    unsetenv("CLMSE_DEVICE");
    raw_cl r;
    raw_open(&r, 0);
    clmse_context *ctx = NULL;
    clmse_status st = clmse_context_create_from_cl(r.context, r.device, r.queue, NULL, &ctx);
    ck_assert_msg(st == CLMSE_SUCCESS, "%s: %s", clmse_status_string(st),
                  clmse_context_last_error(NULL));
    raw_close(&r);
    assert_example_mean(ctx);
    cl_context c = NULL;
    ck_assert_int_eq(clmse_context_get_cl(ctx, &c, NULL, NULL), CLMSE_SUCCESS);
    ck_assert_uint_ge(th_context_refs(c), 1);
    clmse_context_release(ctx);
}
END_TEST

START_TEST(test_adopt_errors)
{
    unsetenv("CLMSE_DEVICE");
    raw_cl r;
    raw_open(&r, 0);
    cl_int err = CL_SUCCESS;
    cl_context other = clCreateContext(NULL, 1, &r.device, NULL, NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    cl_command_queue foreign_q = clCreateCommandQueue(other, r.device, 0, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    cl_uint c0 = th_context_refs(r.context), q0 = th_queue_refs(r.queue);

    clmse_context *ctx = NOT_NULL_CTX;
    ck_assert_int_eq(clmse_context_create_from_cl(r.context, r.device, foreign_q, NULL, &ctx),
                     CLMSE_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(ctx);
    ck_assert_str_ne(clmse_context_last_error(NULL), "");

    ctx = NOT_NULL_CTX;
    ck_assert_int_eq(clmse_context_create_from_cl(NULL, r.device, r.queue, NULL, &ctx),
                     CLMSE_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(ctx);
    ctx = NOT_NULL_CTX;
    ck_assert_int_eq(clmse_context_create_from_cl(r.context, NULL, r.queue, NULL, &ctx),
                     CLMSE_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(ctx);
    ctx = NOT_NULL_CTX;
    ck_assert_int_eq(clmse_context_create_from_cl(r.context, r.device, NULL, NULL, &ctx),
                     CLMSE_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(ctx);
    ck_assert_int_eq(clmse_context_create_from_cl(r.context, r.device, r.queue, NULL, NULL),
                     CLMSE_ERROR_INVALID_ARGUMENT);

    clmse_context_options opt;
    memset(&opt, 0, sizeof opt);
    opt.device = "0:0"; /* must be NULL when adopting */
    ctx = NOT_NULL_CTX;
    ck_assert_int_eq(clmse_context_create_from_cl(r.context, r.device, r.queue, &opt, &ctx),
                     CLMSE_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(ctx);
    opt.device = NULL;
    opt.accumulation = (clmse_accumulation)7;
    ctx = NOT_NULL_CTX;
    ck_assert_int_eq(clmse_context_create_from_cl(r.context, r.device, r.queue, &opt, &ctx),
                     CLMSE_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(ctx);

    /* A refused adoption must not keep references. */
    ck_assert_uint_eq(th_context_refs(r.context), c0);
    ck_assert_uint_eq(th_queue_refs(r.queue), q0);

    ck_assert_int_eq(clReleaseCommandQueue(foreign_q), CL_SUCCESS);
    ck_assert_int_eq(clReleaseContext(other), CL_SUCCESS);
    raw_close(&r);
}
END_TEST

/* Adopts an out-of-order queue; NULL (after a note) when the device has none. */
static clmse_context *open_out_of_order(raw_cl *r)
{
    unsetenv("CLMSE_DEVICE");
    raw_open(r, 0);
    cl_command_queue_properties caps = 0;
    ck_assert_int_eq(
        clGetDeviceInfo(r->device, CL_DEVICE_QUEUE_PROPERTIES, sizeof caps, &caps, NULL),
        CL_SUCCESS);
    raw_close(r);
    if (!(caps & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE)) {
        printf("context: device has no out-of-order queues, nothing to test\n");
        return NULL;
    }
    raw_open(r, CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE);
    clmse_context *ctx = NULL;
    ck_assert_int_eq(clmse_context_create_from_cl(r->context, r->device, r->queue, NULL, &ctx),
                     CLMSE_SUCCESS);
    return ctx;
}

START_TEST(test_adopt_out_of_order)
{
    raw_cl r;
    clmse_context *ctx = open_out_of_order(&r);
    if (!ctx)
        return;

    /* Several chained commands per call: without internal events they would race. */
    enum { N = 100003 };
    float *x = th_alloc_floats(N), *y = th_alloc_floats(N);
    float *gx = th_alloc_floats(N), *gy = th_alloc_floats(N);
    th_rng rng;
    th_rng_seed(&rng, 42);
    th_fill_uniform(&rng, x, N);
    th_fill_uniform(&rng, y, N);
    long double ref = th_ref_sum(x, y, N) / N;
    float scale = th_scale(CLMSE_REDUCTION_MEAN, N);
    for (int rep = 0; rep < 5; rep++) {
        float loss = 0.0f;
        ck_assert_int_eq(
            clmse_host_fused_f32(ctx, CLMSE_REDUCTION_MEAN, N, x, y, NULL, &loss, gx, gy),
            CLMSE_SUCCESS);
        ck_assert_msg(th_within_one_ulp(loss, ref), "rep %d: %.9g vs %.12Lg", rep, (double)loss,
                      ref);
        size_t bad = N;
        for (size_t i = 0; i < N && bad == N; i++)
            if (th_bits(gx[i]) != th_bits(th_grad(scale, x[i], y[i], 1.0f)) ||
                th_bits(gy[i]) != th_bits(th_grad(scale, y[i], x[i], 1.0f)))
                bad = i;
        ck_assert_msg(bad == N, "rep %d: gradient %zu differs", rep, bad);
    }
    free(x);
    free(y);
    free(gx);
    free(gy);
    clmse_context_release(ctx);
    raw_close(&r);
}
END_TEST

START_TEST(test_out_of_order_pipeline)
{
    /* Back-to-back reductions share the context's scratch buffer, which also grows between
     * them; on an out-of-order queue only the library's events keep them apart. */
    raw_cl r;
    clmse_context *ctx = open_out_of_order(&r);
    if (!ctx)
        return;
    enum { N = 1 << 20, CALLS = 6 };
    static const size_t sizes[CALLS] = {17, 1000, N, 5000, 300007, N - 1};
    float *x = th_alloc_floats(N), *y = th_alloc_floats(N);
    th_rng rng;
    th_rng_seed(&rng, 4242);
    th_fill_uniform(&rng, x, N);
    th_fill_uniform(&rng, y, N);
    cl_mem bx = th_buffer(ctx, N, 0, x, N), by = th_buffer(ctx, N, 0, y, N);
    cl_mem bout = th_buffer(ctx, CALLS, 0, NULL, 0);
    cl_event ev[CALLS];
    for (int k = 0; k < CALLS; k++) {
        clmse_status st = clmse_mse_forward_f32(ctx, CLMSE_REDUCTION_MEAN, sizes[k], bx, 0, by, 0,
                                                bout, (size_t)k, 0, NULL, &ev[k]);
        ck_assert_msg(st == CLMSE_SUCCESS, "call %d: %s: %s", k, clmse_status_string(st),
                      clmse_context_last_error(ctx));
    }
    ck_assert_int_eq(clWaitForEvents(CALLS, ev), CL_SUCCESS);
    for (int k = 0; k < CALLS; k++)
        ck_assert_int_eq(clReleaseEvent(ev[k]), CL_SUCCESS);
    float got[CALLS];
    th_buffer_read(ctx, bout, CALLS, got, NULL);
    for (int k = 0; k < CALLS; k++) {
        long double ref = th_ref_sum(x, y, sizes[k]) / (long double)sizes[k];
        ck_assert_msg(th_within_one_ulp(got[k], ref), "call %d (n=%zu): %.9g vs %.12Lg", k,
                      sizes[k], (double)got[k], ref);
    }
    ck_assert_int_eq(clReleaseMemObject(bx), CL_SUCCESS);
    ck_assert_int_eq(clReleaseMemObject(by), CL_SUCCESS);
    ck_assert_int_eq(clReleaseMemObject(bout), CL_SUCCESS);
    free(x);
    free(y);
    clmse_context_release(ctx);
    raw_close(&r);
}
END_TEST

/* ==== accumulation ======================================================================== */

static clmse_status create_acc(int acc, clmse_context **ctx)
{
    clmse_context_options opt;
    memset(&opt, 0, sizeof opt);
    opt.accumulation = (clmse_accumulation)acc;
    *ctx = NOT_NULL_CTX;
    return clmse_context_create(&opt, ctx);
}

START_TEST(test_accumulation)
{
    unsetenv("CLMSE_DEVICE");
    clmse_context *ctx = NULL;
    ck_assert_int_eq(create_acc(CLMSE_ACCUMULATE_COMPENSATED, &ctx), CLMSE_SUCCESS);
    ck_assert_int_eq(clmse_context_accumulation(ctx), CLMSE_ACCUMULATE_COMPENSATED);
    clmse_device_info info;
    ck_assert_int_eq(clmse_context_device_info(ctx, &info), CLMSE_SUCCESS);
    assert_example_mean(ctx);
    clmse_context_release(ctx);

    ck_assert_int_eq(create_acc(CLMSE_ACCUMULATE_AUTO, &ctx), CLMSE_SUCCESS);
    ck_assert_int_eq(clmse_context_accumulation(ctx),
                     info.has_fp64 ? CLMSE_ACCUMULATE_DOUBLE : CLMSE_ACCUMULATE_COMPENSATED);
    clmse_context_release(ctx);

    clmse_status st = create_acc(CLMSE_ACCUMULATE_DOUBLE, &ctx);
    if (info.has_fp64) {
        ck_assert_int_eq(st, CLMSE_SUCCESS);
        ck_assert_int_eq(clmse_context_accumulation(ctx), CLMSE_ACCUMULATE_DOUBLE);
        assert_example_mean(ctx);
        clmse_context_release(ctx);
    } else {
        ck_assert_int_eq(st, CLMSE_ERROR_UNSUPPORTED_DEVICE);
        ck_assert_ptr_null(ctx);
    }

    ck_assert_int_eq(create_acc(7, &ctx), CLMSE_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(ctx);
    ck_assert_str_ne(clmse_context_last_error(NULL), "");
    ck_assert_int_eq(create_acc(-1, &ctx), CLMSE_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(ctx);
}
END_TEST

/* ==== threads ============================================================================= */

enum { THREADS = 4, THREAD_ITERS = 8, THREAD_N = 50001 };
/* CLMSE_TEST_SCALE=small: one job of 2 calls, on the test's own thread (th_run_workers). */

typedef struct thread_job {
    clmse_context *ctx;
    int iters; /* calls to make */
    float x[THREAD_N], y[THREAD_N];
    float want_loss, want_gx[THREAD_N];
    float loss, gx[THREAD_N];
    int failures;
    clmse_status last_status;
} thread_job;

static void *thread_main(void *arg)
{
    thread_job *job = arg;
    for (int it = 0; it < job->iters; it++) {
        clmse_status st = clmse_host_fused_f32(job->ctx, CLMSE_REDUCTION_SUM, THREAD_N, job->x,
                                               job->y, NULL, &job->loss, job->gx, NULL);
        if (st != CLMSE_SUCCESS || th_bits(job->loss) != th_bits(job->want_loss) ||
            memcmp(job->gx, job->want_gx, sizeof job->gx) != 0) {
            job->failures++;
            job->last_status = st;
        }
    }
    return NULL;
}

START_TEST(test_shared_between_threads)
{
    /* Check assertions are not thread-safe, so threads only record and the test asserts. */
    clmse_context *ctx = th_context_create();
    const int n_jobs = (int)th_scaled(THREADS, 1);
    thread_job *jobs = calloc(THREADS, sizeof *jobs);
    ck_assert_ptr_nonnull(jobs);
    for (int t = 0; t < n_jobs; t++) {
        th_rng rng;
        th_rng_seed(&rng, 1000u + (uint64_t)t);
        jobs[t].ctx = ctx;
        jobs[t].iters = (int)th_scaled(THREAD_ITERS, 2);
        th_fill_uniform(&rng, jobs[t].x, THREAD_N);
        th_fill_uniform(&rng, jobs[t].y, THREAD_N);
        ck_assert_int_eq(clmse_host_fused_f32(ctx, CLMSE_REDUCTION_SUM, THREAD_N, jobs[t].x,
                                              jobs[t].y, NULL, &jobs[t].want_loss, jobs[t].want_gx,
                                              NULL),
                         CLMSE_SUCCESS);
    }
    ck_assert_int_eq(th_run_workers((unsigned)n_jobs, thread_main, jobs, sizeof *jobs), n_jobs);
    for (int t = 0; t < n_jobs; t++)
        ck_assert_msg(jobs[t].failures == 0, "thread %d: %d of %d calls differed (last %s)", t,
                      jobs[t].failures, jobs[t].iters, clmse_status_string(jobs[t].last_status));
    free(jobs);
    clmse_context_release(ctx);
}
END_TEST

Suite *make_context_suite(void)
{
    Suite *s = suite_create("context");
    TCase *tc = th_device_tcase(s, "devices");
    tcase_add_test(tc, test_device_enumeration);
    tcase_add_test(tc, test_device_select);
    tcase_add_test(tc, test_device_select_errors);
    tcase_add_test(tc, test_device_env);
    tc = th_device_tcase(s, "core");
    tcase_add_test(tc, test_create_release);
    tcase_add_test(tc, test_create_cpu_option);
    tcase_add_test(tc, test_create_errors);
    tcase_add_test(tc, test_foreign_handle);
    tc = th_device_tcase(s, "adopt");
    tcase_add_test(tc, test_adopt_refcounts);
    tcase_add_test(tc, test_adopt_errors);
    tcase_add_test(tc, test_adopt_then_app_releases);
    tcase_add_test(tc, test_adopt_out_of_order);
    tcase_add_test(tc, test_out_of_order_pipeline);
    tc = th_device_tcase(s, "accumulation");
    tcase_add_test(tc, test_accumulation);
    tc = th_device_tcase(s, "threads");
    tcase_add_test(tc, test_shared_between_threads);
    return s;
}
