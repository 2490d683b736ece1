/* SPDX-License-Identifier: MIT */
/* Test helpers: deterministic data, a long-double reference, ulp checks and OpenCL plumbing. */
#include "helpers.h"

#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TCase *th_device_tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, TH_DEVICE_TIMEOUT);
    suite_add_tcase(s, tc);
    return tc;
}

enum { PROBE_DEVICE = 0, PROBE_NONE = 1, PROBE_ERROR = 2 };

static int probe_in_process(void)
{
    size_t count = 0;
    clmse_status st = clmse_device_count(&count);
    if (st == CLMSE_SUCCESS)
        return count > 0 ? PROBE_DEVICE : PROBE_NONE;
    fprintf(stderr, "clmse_device_count: %s: %s\n", clmse_status_string(st),
            clmse_context_last_error(NULL));
    return st == CLMSE_ERROR_NO_PLATFORM ? PROBE_NONE : PROBE_ERROR;
}

/* Probes in a child so this process never loads the OpenCL runtime before Check forks:
 * runtimes that start worker threads at init do not survive fork (openmm/openmm#1886). */
static int probe_devices(void)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return probe_in_process();
    if (pid == 0)
        _exit(probe_in_process());
    int ws = 0;
    if (waitpid(pid, &ws, 0) != pid || !WIFEXITED(ws))
        return PROBE_ERROR;
    return WEXITSTATUS(ws);
}

int th_device_gate(void)
{
    if (probe_devices() != PROBE_NONE)
        return -1; /* a probe error still runs the suites: they report the failure in detail */
    const char *req = getenv("CLMSE_REQUIRE_DEVICE");
    if (req && strcmp(req, "1") == 0) {
        fprintf(stderr, "no OpenCL device, and CLMSE_REQUIRE_DEVICE=1\n");
        return EXIT_FAILURE;
    }
    fprintf(stderr, "no OpenCL platform or device: skipping\n");
    return 77;
}

int th_run_suites(SRunner *sr, const char *runner)
{
    srunner_run_all(sr, CK_ENV);
    int run = srunner_ntests_run(sr);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (run == 0) {
        const char *only = getenv("CK_RUN_SUITE");
        fprintf(stderr, "no test ran: CK_RUN_SUITE=%s names no %s suite\n", only ? only : "(unset)",
                runner);
        return EXIT_FAILURE;
    }
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int th_scale_small(void)
{
    const char *v = getenv("CLMSE_TEST_SCALE");
    if (!v || !*v || strcmp(v, "full") == 0)
        return 0;
    ck_assert_msg(strcmp(v, "small") == 0, "CLMSE_TEST_SCALE=%s: want small or full", v);
    return 1;
}

size_t th_scaled(size_t full, size_t small) { return th_scale_small() ? small : full; }

unsigned th_run_workers(unsigned n, void *(*fn)(void *), void *args, size_t stride)
{
    if (n == 0)
        return 0;
    if (th_scale_small()) {
        fn(args);
        return 1;
    }
    pthread_t *tid = calloc(n, sizeof *tid);
    ck_assert_ptr_nonnull(tid);
    for (unsigned t = 0; t < n; t++)
        ck_assert_int_eq(pthread_create(&tid[t], NULL, fn, (char *)args + t * stride), 0);
    for (unsigned t = 0; t < n; t++)
        ck_assert_int_eq(pthread_join(tid[t], NULL), 0);
    free(tid);
    return n;
}

void th_rng_seed(th_rng *rng, uint64_t seed) { rng->state = seed; }

uint64_t th_rng_next(th_rng *rng)
{
    uint64_t z = (rng->state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void th_fill_uniform(th_rng *rng, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        /* 24 random bits keep u exact; the largest value rounds to just below 9. */
        double u = (double)(th_rng_next(rng) >> 40) / 16777216.0;
        dst[i] = (float)(-9.0 + 18.0 * u);
    }
}

float *th_alloc_floats(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    ck_assert_msg(p != NULL, "out of host memory for %zu floats", n);
    return p;
}

uint32_t th_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

float th_sentinel(void)
{
    uint32_t u = TH_SENTINEL_BITS;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

int th_is_sentinel(float f) { return th_bits(f) == TH_SENTINEL_BITS; }

/* Maps the sign-magnitude float encoding onto a line where neighbours differ by one. */
static int64_t ordered(float f)
{
    uint32_t u = th_bits(f);
    return (u & 0x80000000u) ? -(int64_t)(u & 0x7fffffffu) : (int64_t)u;
}

uint64_t th_ulp_diff(float a, float b)
{
    if (isnan(a) || isnan(b))
        return UINT64_MAX;
    int64_t d = ordered(a) - ordered(b);
    return (uint64_t)(d < 0 ? -d : d);
}

int th_within_one_ulp(float got, long double ref) { return th_ulp_diff(got, (float)ref) <= 1; }

float th_term(float x, float y)
{
    /* volatile stops excess precision and contraction from fusing the two roundings. */
    volatile float d = x - y;
    volatile float t = d * d;
    return t;
}

long double th_ref_sum(const float *x, const float *y, size_t n)
{
    long double s = 0.0L;
    for (size_t i = 0; i < n; i++)
        s += (long double)th_term(x[i], y[i]);
    return s;
}

float th_scale(clmse_reduction reduction, size_t n)
{
    return reduction == CLMSE_REDUCTION_MEAN ? (float)(2.0 / (double)n) : 2.0f;
}

float th_grad(float scale, float a, float b, float g)
{
    volatile float d = a - b;
    volatile float p = scale * d;
    volatile float r = p * g;
    return r;
}

cl_device_id th_default_device(void)
{
    clmse_context *ctx = th_context_create();
    cl_device_id dev = NULL;
    CHECK_OK(ctx, clmse_context_get_cl(ctx, NULL, &dev, NULL));
    clmse_context_release(ctx);
    return dev;
}

cl_command_queue th_cl_open(cl_device_id dev, cl_command_queue_properties props,
                            cl_context *context)
{
    cl_int err = CL_SUCCESS;
    *context = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    cl_command_queue q = clCreateCommandQueue(*context, dev, props, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    return q;
}

cl_uint th_context_refs(cl_context c)
{
    cl_uint n = 0;
    ck_assert_int_eq(clGetContextInfo(c, CL_CONTEXT_REFERENCE_COUNT, sizeof n, &n, NULL),
                     CL_SUCCESS);
    return n;
}

cl_uint th_queue_refs(cl_command_queue q)
{
    cl_uint n = 0;
    ck_assert_int_eq(clGetCommandQueueInfo(q, CL_QUEUE_REFERENCE_COUNT, sizeof n, &n, NULL),
                     CL_SUCCESS);
    return n;
}

clmse_context *th_context_create_with(const clmse_context_options *opt)
{
    clmse_context *ctx = NULL;
    clmse_status st = clmse_context_create(opt, &ctx);
    ck_assert_msg(st == CLMSE_SUCCESS, "clmse_context_create: %s: %s", clmse_status_string(st),
                  clmse_context_last_error(NULL));
    ck_assert_ptr_nonnull(ctx);
    return ctx;
}

clmse_context *th_context_create(void) { return th_context_create_with(NULL); }

int th_has_fp64(clmse_context *ctx)
{
    clmse_device_info info;
    CHECK_OK(ctx, clmse_context_device_info(ctx, &info));
    return info.has_fp64 != 0;
}

int th_default_has_fp64(void)
{
    clmse_context *ctx = th_context_create();
    const int fp64 = th_has_fp64(ctx);
    clmse_context_release(ctx);
    return fp64;
}

clmse_context *th_context_create_acc(clmse_accumulation acc)
{
    clmse_context_options opt;
    memset(&opt, 0, sizeof opt);
    opt.accumulation = acc;
    clmse_context *ctx = NULL;
    clmse_status st = clmse_context_create(&opt, &ctx);
    /* A refusal is right only where the device really lacks fp64. */
    if (st == CLMSE_ERROR_UNSUPPORTED_DEVICE && acc == CLMSE_ACCUMULATE_DOUBLE &&
        !th_default_has_fp64()) {
        ck_assert_ptr_null(ctx);
        return NULL;
    }
    ck_assert_msg(st == CLMSE_SUCCESS, "clmse_context_create(acc=%d): %s: %s", (int)acc,
                  clmse_status_string(st), clmse_context_last_error(NULL));
    ck_assert_ptr_nonnull(ctx);
    return ctx;
}

cl_context th_cl_context(clmse_context *ctx)
{
    cl_context c = NULL;
    ck_assert_int_eq(clmse_context_get_cl(ctx, &c, NULL, NULL), CLMSE_SUCCESS);
    ck_assert_ptr_nonnull(c);
    return c;
}

cl_command_queue th_cl_queue(clmse_context *ctx)
{
    cl_command_queue q = NULL;
    ck_assert_int_eq(clmse_context_get_cl(ctx, NULL, NULL, &q), CLMSE_SUCCESS);
    ck_assert_ptr_nonnull(q);
    return q;
}

/* Resets results, which kernels write and never read: a blocking write of a host copy. */
void th_buffer_reset(clmse_context *ctx, cl_mem buf, size_t total)
{
    float *s = th_alloc_floats(total);
    for (size_t i = 0; i < total; i++)
        s[i] = th_sentinel();
    cl_int err = clEnqueueWriteBuffer(th_cl_queue(ctx), buf, CL_TRUE, 0, total * sizeof(float), s,
                                      0, NULL, NULL);
    free(s);
    ck_assert_int_eq(err, CL_SUCCESS);
}

/* The contents go in with clCreateBuffer (CL_MEM_COPY_HOST_PTR): Oclgrind 21.10's
 * uninitialized-value checker loses what clEnqueueWriteBuffer and clEnqueueFillBuffer wrote
 * into a buffer created empty, and would report every kernel that reads it. */
cl_mem th_buffer(clmse_context *ctx, size_t total, size_t offset, const float *data, size_t count)
{
    ck_assert_uint_ge(total, offset + count);
    float *init = th_alloc_floats(total ? total : 1);
    for (size_t i = 0; i < (total ? total : 1); i++)
        init[i] = th_sentinel();
    if (data && count)
        memcpy(init + offset, data, count * sizeof(float));
    cl_int err = CL_SUCCESS;
    cl_mem buf = clCreateBuffer(th_cl_context(ctx), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                                (total ? total : 1) * sizeof(float), init, &err);
    free(init);
    ck_assert_msg(err == CL_SUCCESS, "clCreateBuffer(%zu floats): %d", total, err);
    return buf;
}

void th_buffer_read(clmse_context *ctx, cl_mem buf, size_t total, float *dst, cl_event ev)
{
    cl_int err = clEnqueueReadBuffer(th_cl_queue(ctx), buf, CL_TRUE, 0, total * sizeof(float), dst,
                                     ev ? 1 : 0, ev ? &ev : NULL, NULL);
    ck_assert_int_eq(err, CL_SUCCESS);
    if (ev)
        ck_assert_int_eq(clReleaseEvent(ev), CL_SUCCESS);
}

size_t th_first_non_sentinel(const float *v, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (!th_is_sentinel(v[i]))
            return i;
    return to;
}

void th_assert_untouched(clmse_context *ctx, cl_mem buf, size_t total)
{
    float *v = th_alloc_floats(total);
    th_buffer_read(ctx, buf, total, v, NULL);
    size_t bad = th_first_non_sentinel(v, 0, total);
    float got = bad < total ? v[bad] : 0.0f;
    free(v);
    ck_assert_msg(bad == total, "element %zu of a guarded buffer was overwritten (%a)", bad,
                  (double)got);
}

/* ---- narrow storage formats (tools/dtype_bits.c rounds) ---- */

uint16_t th_half_from_float(float f) { return dtype_bits_half((double)f); }
float th_half_to_float(uint16_t h) { return (float)dtype_bits_value(h, 10, 5); }
uint16_t th_bf16_from_float(float f) { return dtype_bits_bf16((double)f); }
float th_bf16_to_float(uint16_t b) { return (float)dtype_bits_value(b, 7, 8); }

void th_finish_event(cl_event ev)
{
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(clWaitForEvents(1, &ev), CL_SUCCESS);
    cl_int status = -1;
    ck_assert_int_eq(
        clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, NULL),
        CL_SUCCESS);
    ck_assert_int_eq(status, CL_COMPLETE);
    ck_assert_int_eq(clReleaseEvent(ev), CL_SUCCESS);
}

void th_assert_still_pending(cl_event ev)
{
    struct timespec pause = {0, 300 * 1000 * 1000};
    nanosleep(&pause, NULL);
    cl_int status = -1;
    ck_assert_int_eq(
        clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, NULL),
        CL_SUCCESS);
    ck_assert_msg(status > CL_COMPLETE, "event status %d before the user event completed", status);
}

void th_write_file(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

clmse_host_tensor th_host_view(void *data, clmse_dtype dtype, uint32_t ndim, const size_t *shape,
                               const int64_t *strides)
{
    clmse_host_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.dtype = dtype;
    t.ndim = ndim;
    int64_t running = 1;
    for (uint32_t k = ndim; k-- > 0;) {
        t.shape[k] = shape[k];
        t.strides[k] = strides ? strides[k] : running;
        running *= (int64_t)shape[k];
    }
    return t;
}
