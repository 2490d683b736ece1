/* SPDX-License-Identifier: MIT */
/* Fault injection: every OpenCL call clmse makes over a workload fails once; each failure must
 * give the mapped status and a message naming the call, leak nothing, and leave the context
 * computing bit-identical results. */
#include "clmse_tuning.h"
#include "fault_harness.h"
#include "suites.h"

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* A context created without faults must be the reference context's twin. */
static void check_twin(clmse_context *ctx, const clmse_device_info *ref, int ref_acc,
                       const char *where)
{
    clmse_device_info info;
    CHECK_OK(ctx, clmse_context_device_info(ctx, &info));
    ck_assert_msg(ft_same_info(&info, ref), "%s: device info differs from the reference", where);
    ck_assert_int_eq(clmse_context_accumulation(ctx), ref_acc);
}

/* clmse_context_create with `opt`: every call of a creation fails once. */
static void sweep_create(const clmse_context_options *opt, const char *where, unsigned long *points)
{
    clmse_context *ctx = NULL;
    clf_arm(0);
    CHECK_OK(NULL, clmse_context_create(opt, &ctx));
    const unsigned long n = clf_calls();
    clmse_device_info ref;
    CHECK_OK(ctx, clmse_context_device_info(ctx, &ref));
    const int acc = clmse_context_accumulation(ctx);
    clmse_context_release(ctx);
    ft_check_refs(&ft_no_refs, where, 0);
    ck_assert_msg(n > 0, "%s made no OpenCL call through the shim", where);
    for (unsigned long k = 1; k <= n; k++) {
        clf_arm(k);
        ctx = (clmse_context *)&ctx; /* must be overwritten with NULL */
        const clmse_status st = clmse_context_create(opt, &ctx);
        clf_disarm();
        ft_check_failure(where, k, API_CREATE, st, NULL);
        ck_assert_msg(ctx == NULL, "%s: call %lu failed: *out is not NULL", where, k);
        ft_check_refs(&ft_no_refs, where, k);
        CHECK_OK(NULL, clmse_context_create(opt, &ctx));
        check_twin(ctx, &ref, acc, where);
        clmse_context_release(ctx);
        ft_check_refs(&ft_no_refs, where, k);
    }
    *points += n;
}

/* Device enumeration: count, describe, select. */
static clmse_status devices_call(int which, size_t *value, clmse_device_info *info)
{
    switch (which) {
    case 0:
        return clmse_device_count(value);
    case 1:
        return clmse_device_get_info(*value, info);
    default:
        return clmse_device_select(NULL, value);
    }
}

static void sweep_devices(unsigned long *points)
{
    static const char *const names[3] = {"clmse_device_count", "clmse_device_get_info",
                                         "clmse_device_select"};
    size_t chosen = 0;
    CHECK_OK(NULL, clmse_device_select(NULL, &chosen));
    for (int which = 0; which < 3; which++) {
        size_t ref_value = chosen, value = chosen;
        clmse_device_info ref, info;
        memset(&ref, 0, sizeof ref);
        memset(&info, 0, sizeof info);
        clf_arm(0);
        CHECK_OK(NULL, devices_call(which, &ref_value, &ref));
        const unsigned long n = clf_calls();
        for (unsigned long k = 1; k <= n; k++) {
            value = chosen;
            clf_arm(k);
            const clmse_status st = devices_call(which, &value, &info);
            clf_disarm();
            ft_check_failure(names[which], k, API_DEVICES, st, NULL);
            value = chosen;
            CHECK_OK(NULL, devices_call(which, &value, &info));
            ck_assert_uint_eq(value, ref_value);
            if (which == 1)
                ck_assert_msg(ft_same_info(&info, &ref), "%s: info differs after a failure",
                              names[which]);
        }
        ft_check_refs(&ft_no_refs, names[which], n);
        *points += n;
    }
}

/* clmse_context_create_from_cl on the test's own cl_context and queue: after each failure the
 * application's objects have exactly the references they had. */
static void sweep_adopt(unsigned long *points)
{
    clmse_context *helper = th_context_create();
    cl_device_id dev = NULL;
    CHECK_OK(helper, clmse_context_get_cl(helper, NULL, &dev, NULL));
    float x[64], y[64], want = 0.0f, got = 0.0f;
    th_rng rng;
    th_rng_seed(&rng, 64);
    th_fill_uniform(&rng, x, 64);
    th_fill_uniform(&rng, y, 64);
    CHECK_OK(helper, clmse_host_forward_f32(helper, CLMSE_REDUCTION_MEAN, 64, x, y, &want));
    clmse_device_info ref;
    CHECK_OK(helper, clmse_context_device_info(helper, &ref));
    const int acc = clmse_context_accumulation(helper);

    cl_context c = NULL;
    cl_command_queue q = th_cl_open(dev, 0, &c);
    clmse_context_release(helper);
    ft_check_refs(&ft_no_refs, "adoption setup", 0);
    const cl_uint c_refs = th_context_refs(c), q_refs = th_queue_refs(q);

    clmse_context *ctx = NULL;
    clf_arm(0);
    CHECK_OK(NULL, clmse_context_create_from_cl(c, dev, q, NULL, &ctx));
    const unsigned long n = clf_calls();
    clmse_context_release(ctx);
    for (unsigned long k = 1; k <= n; k++) {
        clf_arm(k);
        const clmse_status st = clmse_context_create_from_cl(c, dev, q, NULL, &ctx);
        clf_disarm();
        ft_check_failure("clmse_context_create_from_cl", k, API_ADOPT, st, NULL);
        ck_assert_ptr_null(ctx);
        ft_check_refs(&ft_no_refs, "clmse_context_create_from_cl", k);
        ck_assert_uint_eq(th_context_refs(c), c_refs);
        ck_assert_uint_eq(th_queue_refs(q), q_refs);
        CHECK_OK(NULL, clmse_context_create_from_cl(c, dev, q, NULL, &ctx));
        check_twin(ctx, &ref, acc, "clmse_context_create_from_cl");
        clmse_context_release(ctx);
    }
    /* The adopted objects still serve a clmse context after all that. */
    CHECK_OK(NULL, clmse_context_create_from_cl(c, dev, q, NULL, &ctx));
    CHECK_OK(ctx, clmse_host_forward_f32(ctx, CLMSE_REDUCTION_MEAN, 64, x, y, &got));
    ck_assert_msg(th_bits(got) == th_bits(want), "adopted context: %a, want %a", (double)got,
                  (double)want);
    clmse_context_release(ctx);
    ft_check_refs(&ft_no_refs, "clmse_context_create_from_cl", n);
    /* The runtime's finished commands keep references to the queue for a while (pocl frees
     * them on a thread of its own). */
    ck_assert_int_eq(clFinish(q), CL_SUCCESS);
    for (int i = 0; i < 500 && (th_context_refs(c) != c_refs || th_queue_refs(q) != q_refs); i++)
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    ck_assert_uint_eq(th_context_refs(c), c_refs);
    ck_assert_uint_eq(th_queue_refs(q), q_refs);
    ck_assert_int_eq(clReleaseCommandQueue(q), CL_SUCCESS);
    ck_assert_int_eq(clReleaseContext(c), CL_SUCCESS);
    *points += n;
}

/* The workload on a context whose programs and scratch already exist: each step's calls fail
 * one at a time, and the same context must then redo the step bit for bit. Records the call
 * sites it reaches, for sweep_cold. */
static void sweep_warm(blob *ref, unsigned long *points)
{
    clmse_context *ctx = th_context_create();
    bench b;
    ft_bench_open(&b, ctx);
    char name[96];
    clmse_status st;
    blob o = {0};
    for (size_t i = 0; i < FT_N_STEPS; i++) /* builds everything, grows scratch to its largest */
        if (ft_run_step(&b, i, &ref[i], &st, name, sizeof name))
            ck_assert_msg(st == CLMSE_SUCCESS, "%s: %s: %s", name, clmse_status_string(st),
                          clmse_context_last_error(ctx));
    /* The workload is bit-compared with itself from here on; one plain check that it is right. */
    float mean0;
    ck_assert_uint_eq(ref[0].len, sizeof mean0);
    memcpy(&mean0, ref[0].p, sizeof mean0);
    ck_assert(th_within_one_ulp(mean0, th_ref_sum(b.hx, b.hy, N1) / N1));
    const refs base = ft_live_refs();
    clf_record_sites(1);
    for (size_t i = 0; i < FT_N_STEPS; i++) {
        clf_arm(0);
        if (!ft_run_step(&b, i, &o, &st, name, sizeof name))
            continue;
        const unsigned long n = clf_calls();
        ck_assert_msg(st == CLMSE_SUCCESS && ft_blob_equal(&o, &ref[i]),
                      "%s: a second run differs from the first", name);
        for (unsigned long k = 1; k <= n; k++) {
            clf_arm(k);
            ft_run_step(&b, i, &o, &st, name, sizeof name);
            clf_disarm();
            ft_check_failure(name, k, API_CALL, st, ctx);
            ft_check_refs(&base, name, k);
            ft_run_step(&b, i, &o, &st, name, sizeof name);
            ck_assert_msg(st == CLMSE_SUCCESS,
                          "%s: after call %lu failed, the context fails: "
                          "%s: %s",
                          name, k, clmse_status_string(st), clmse_context_last_error(ctx));
            ck_assert_msg(ft_blob_equal(&o, &ref[i]),
                          "%s: after call %lu failed, the results "
                          "differ",
                          name, k);
            ft_check_refs(&base, name, k);
        }
        *points += n;
    }
    clf_record_sites(0);
    ft_blob_free(&o);
    ft_bench_close(&b);
    clmse_context_release(ctx);
    ft_check_refs(&ft_no_refs, "warm context released", 0);
}

/* The workload on fresh contexts, failing only the calls at sites sweep_warm never reached:
 * program builds, kernel creation and queries, scratch growth. The step that failed must then
 * succeed on the same context. */
static void sweep_cold(const blob *ref, unsigned long *points)
{
    char name[96];
    clmse_status st;
    blob o = {0};
    bench b;
    clf_skip_recorded_sites(1);
    clmse_context *ctx = th_context_create();
    ft_bench_open(&b, ctx);
    clf_arm(0);
    for (size_t i = 0; i < FT_N_STEPS; i++)
        if (ft_run_step(&b, i, &o, &st, name, sizeof name))
            ck_assert_msg(st == CLMSE_SUCCESS && ft_blob_equal(&o, &ref[i]),
                          "%s on a fresh context differs from the reference", name);
    const unsigned long n = clf_calls();
    ft_bench_close(&b);
    clmse_context_release(ctx);
    ft_check_refs(&ft_no_refs, "cold workload", 0);
    ck_assert_msg(n > 0, "no cold-only OpenCL call: builds were not reached");

    for (unsigned long k = 1; k <= n; k++) {
        ctx = th_context_create();
        ft_bench_open(&b, ctx);
        clf_arm(k);
        size_t i = 0;
        for (; i < FT_N_STEPS; i++) {
            if (!ft_run_step(&b, i, &o, &st, name, sizeof name))
                continue;
            if (st != CLMSE_SUCCESS)
                break;
            ck_assert_msg(ft_blob_equal(&o, &ref[i]), "%s: results differ before call %lu", name,
                          k);
        }
        clf_disarm();
        ck_assert_msg(i < FT_N_STEPS, "cold call %lu (%s) failed, yet every step succeeded", k,
                      clf_failed_function() ? clf_failed_function() : "never made");
        ft_check_failure(name, k, API_CALL, st, ctx);
        ft_run_step(&b, i, &o, &st, name, sizeof name);
        ck_assert_msg(st == CLMSE_SUCCESS,
                      "%s: after cold call %lu failed, the context fails: "
                      "%s: %s",
                      name, k, clmse_status_string(st), clmse_context_last_error(ctx));
        ck_assert_msg(ft_blob_equal(&o, &ref[i]),
                      "%s: after cold call %lu failed, the results "
                      "differ",
                      name, k);
        ft_bench_close(&b);
        clmse_context_release(ctx);
        ft_check_refs(&ft_no_refs, name, k);
    }
    clf_skip_recorded_sites(0);
    ft_blob_free(&o);
    *points += n;
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

START_TEST(test_shim_covers_every_import)
{
    char missing[1024];
    size_t imports = 0;
    ck_assert_msg(clf_active(), "the shim does not interpose: is libclmse shared, and does the "
                                "test executable export its OpenCL definitions?");
    const size_t n = clf_uncovered(missing, sizeof missing, &imports);
    ck_assert_msg(imports > 0, "found no OpenCL import in libclmse's relocations");
    ck_assert_msg(n == 0, "libclmse calls OpenCL functions the shim does not define: %s", missing);
}
END_TEST

START_TEST(test_every_call_fails_once)
{
    unsigned long create = 0, devices = 0, adopt = 0, warm = 0, cold = 0; /* failure points */
    blob ref[FT_N_STEPS];
    memset(ref, 0, sizeof ref);
    const double t0 = seconds();

    sweep_devices(&devices);
    sweep_create(NULL, "clmse_context_create", &create);
    clmse_context *probe = th_context_create();
    clmse_device_info info;
    CHECK_OK(probe, clmse_context_device_info(probe, &info));
    clmse_context_release(probe);
    clmse_context_options opt;
    memset(&opt, 0, sizeof opt);
    opt.device = info.name; /* the device-name match of the spec parser */
    opt.accumulation = CLMSE_ACCUMULATE_COMPENSATED;
    if (info.name[0] != '\0' && strchr(info.name, ':') == NULL) /* else it is no name spec */
        sweep_create(&opt, "clmse_context_create(name spec)", &create);
    sweep_adopt(&adopt);
    sweep_warm(ref, &warm);
    sweep_cold(ref, &cold);
    for (size_t i = 0; i < FT_N_STEPS; i++)
        ft_blob_free(&ref[i]);

    size_t functions = 0;
    for (size_t f = 0; f < clf_function_count(); f++)
        functions += clf_function_failures(f) > 0;
    const unsigned long total = create + devices + adopt + warm + cold;
    fprintf(stderr,
            "fault: injected %lu failure points, %zu distinct OpenCL functions (devices %lu, "
            "create %lu, adopt %lu, warm calls %lu, builds and growth %lu) in %.1f s\n",
            total, functions, devices, create, adopt, warm, cold, seconds() - t0);
    for (size_t f = 0; f < clf_function_count(); f++)
        if (clf_function_failures(f) > 0)
            fprintf(stderr, "fault:   %-28s %lu\n", clf_function_name(f), clf_function_failures(f));
}
END_TEST

/* A reduction whose epilogue cannot be enqueued leaves its pass behind, still to write the
 * shared scratch buffer; on an out-of-order queue the next reduction must wait for it. */
START_TEST(test_orphaned_pass_orders_scratch)
{
    cl_device_id dev = th_default_device();
    cl_command_queue_properties caps = 0;
    ck_assert_int_eq(clGetDeviceInfo(dev, CL_DEVICE_QUEUE_PROPERTIES, sizeof caps, &caps, NULL),
                     CL_SUCCESS);
    if (!(caps & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE)) {
        printf("fault: device has no out-of-order queues, nothing to test\n");
        return;
    }
    cl_context c = NULL;
    cl_command_queue q = th_cl_open(dev, CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, &c);
    clmse_context *ctx = NULL;
    CHECK_OK(NULL, clmse_context_create_from_cl(c, dev, q, NULL, &ctx));
    /* Only the GPU shape has an epilogue launch (the CPU shape folds in its one launch). */
    const clmse_plan two_launches = {CLMSE_SHAPE_GPU, 64, 1, 8, 16, 64};
    CHECK_OK(ctx, clmse_context_set_plan(ctx, CLMSE_DTYPE_F32, CLMSE_OP_FORWARD,
                                         clmse_size_class_of(NBIG), &two_launches));
    bench b;
    ft_bench_open(&b, ctx);

    /* Builds and sizes scratch, then counts: the epilogue's enqueue is the call's last. */
    float want = 0.0f, got = 0.0f;
    cl_event ev = NULL;
    unsigned long n = 0;
    for (int pass = 0; pass < 2; pass++) {
        clf_arm(0);
        CHECK_OK(ctx, clmse_mse_forward_f32(ctx, CLMSE_REDUCTION_SUM, NBIG, b.x, 0, b.y, 0, b.out,
                                            0, 0, NULL, &ev));
        n = clf_calls();
        ft_settle_event(CLMSE_SUCCESS, ev, "forward");
    }
    ck_assert_int_eq(clEnqueueReadBuffer(q, b.out, CL_TRUE, 0, sizeof want, &want, 0, NULL, NULL),
                     CL_SUCCESS);

    cl_int err = CL_SUCCESS;
    cl_event gate = clCreateUserEvent(c, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    clf_arm(n);
    clmse_status st = clmse_mse_forward_f32(ctx, CLMSE_REDUCTION_SUM, NBIG, b.x, 0, b.y, 0, b.gx, 0,
                                            1, &gate, NULL);
    clf_disarm();
    ck_assert_str_eq(clf_failed_function() ? clf_failed_function() : "-", "clEnqueueNDRangeKernel");
    ck_assert_int_eq(st, CLMSE_ERROR_OUT_OF_DEVICE_MEMORY);

    st = clmse_mse_forward_f32(ctx, CLMSE_REDUCTION_SUM, NBIG, b.x, 0, b.y, 0, b.out, 0, 0, NULL,
                               &ev);
    CHECK_OK(ctx, st);
    th_assert_still_pending(ev); /* behind the gated pass that still writes scratch */
    ck_assert_int_eq(clSetUserEventStatus(gate, CL_COMPLETE), CL_SUCCESS);
    ft_settle_event(st, ev, "forward after the orphaned pass");
    ck_assert_int_eq(clEnqueueReadBuffer(q, b.out, CL_TRUE, 0, sizeof got, &got, 0, NULL, NULL),
                     CL_SUCCESS);
    ck_assert_msg(th_bits(got) == th_bits(want), "%a, want %a", (double)got, (double)want);
    ck_assert_int_eq(clFinish(q), CL_SUCCESS);
    ck_assert_int_eq(clReleaseEvent(gate), CL_SUCCESS);
    ft_bench_close(&b);
    clmse_context_release(ctx);
    ft_check_refs(&ft_no_refs, "out-of-order context released", 0);
    ck_assert_int_eq(clReleaseCommandQueue(q), CL_SUCCESS);
    ck_assert_int_eq(clReleaseContext(c), CL_SUCCESS);
}
END_TEST

Suite *make_fault_inject_suite(void)
{
    Suite *s = suite_create("fault_inject");
    TCase *tc = th_device_tcase(s, "inject");
    tcase_add_test(tc, test_shim_covers_every_import);
    tcase_add_test(tc, test_every_call_fails_once);
    tcase_add_test(tc, test_orphaned_pass_orders_scratch);
    return s;
}
