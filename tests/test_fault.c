/* SPDX-License-Identifier: MIT */
/* Fault injection: every OpenCL call clmse makes over a workload fails once; each failure must
 * give the mapped status and a message naming the call, leak nothing, and leave the context
 * computing bit-identical results. Also, through the same shim: clmse on an emulated device
 * without fp64, and context lifecycles that must give back every OpenCL reference. */
#include "clmse_tuning.h"
#include "fault/cl_fault.h"
#include "helpers.h"
#include "suites.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* N1 stays in one work-group everywhere; NBIG (medium size class: 2^15 elements per item on a
 * CPU) needs several, hence scratch and the epilogue. */
enum { N1 = 1000, NBIG = 140000 };

/* ==== what a failure must look like ===================================================== */

typedef enum api { API_CREATE, API_ADOPT, API_DEVICES, API_CALL } api;

/* The statuses clmse.h documents for each kind of entry point that a failing OpenCL call can
 * reach; each list ends with CLMSE_SUCCESS. */
static int documented(api a, clmse_status st)
{
    static const clmse_status create[] = {
        CLMSE_ERROR_INVALID_ARGUMENT, CLMSE_ERROR_INVALID_DEVICE_SPEC, CLMSE_ERROR_NO_PLATFORM,
        CLMSE_ERROR_NO_DEVICE, CLMSE_ERROR_UNSUPPORTED_DEVICE, CLMSE_ERROR_OUT_OF_HOST_MEMORY,
        CLMSE_ERROR_OUT_OF_DEVICE_MEMORY, CLMSE_ERROR_OPENCL, CLMSE_SUCCESS};
    static const clmse_status adopt[] = {
        CLMSE_ERROR_INVALID_ARGUMENT, CLMSE_ERROR_UNSUPPORTED_DEVICE,
        CLMSE_ERROR_OUT_OF_HOST_MEMORY, CLMSE_ERROR_OUT_OF_DEVICE_MEMORY, CLMSE_ERROR_OPENCL,
        CLMSE_SUCCESS};
    static const clmse_status devices[] = {
        CLMSE_ERROR_INVALID_ARGUMENT, CLMSE_ERROR_NO_PLATFORM, CLMSE_ERROR_NO_DEVICE,
        CLMSE_ERROR_OUT_OF_HOST_MEMORY, CLMSE_ERROR_OUT_OF_DEVICE_MEMORY, CLMSE_ERROR_OPENCL,
        CLMSE_SUCCESS};
    static const clmse_status call[] = {
        CLMSE_ERROR_INVALID_ARGUMENT, CLMSE_ERROR_BUILD_FAILED, CLMSE_ERROR_OUT_OF_HOST_MEMORY,
        CLMSE_ERROR_OUT_OF_DEVICE_MEMORY, CLMSE_ERROR_OPENCL, CLMSE_SUCCESS};
    static const clmse_status *const lists[] = {create, adopt, devices, call};
    for (const clmse_status *p = lists[a]; *p != CLMSE_SUCCESS; p++)
        if (*p == st)
            return 1;
    return 0;
}

/* How clmse reports an OpenCL error code: resource exhaustion by kind, a failed build as
 * such, anything else as CLMSE_ERROR_OPENCL (the raw code stays in last_cl_error). */
static clmse_status mapped_status(cl_int err)
{
    switch (err) {
    case CL_OUT_OF_HOST_MEMORY: return CLMSE_ERROR_OUT_OF_HOST_MEMORY;
    case CL_OUT_OF_RESOURCES:
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return CLMSE_ERROR_OUT_OF_DEVICE_MEMORY;
    case CL_BUILD_PROGRAM_FAILURE: return CLMSE_ERROR_BUILD_FAILED;
    default: return CLMSE_ERROR_OPENCL;
    }
}

/* A call made with call k of the shim's count armed: the failure must have happened, and the
 * entry point must report exactly it, on `msg_ctx` (NULL: this thread's context-less slot). */
static void check_failure(const char *where, unsigned long k, api a, clmse_status st,
                          const clmse_context *msg_ctx)
{
    const char *fn = clf_failed_function();
    ck_assert_msg(fn != NULL, "%s: the workload made fewer than %lu OpenCL calls this time",
                  where, k);
    const cl_int err = clf_failed_error();
    ck_assert_msg(st != CLMSE_SUCCESS, "%s: call %lu (%s) failed with %d, yet clmse reported "
                  "success", where, k, fn, (int)err);
    ck_assert_msg(st == mapped_status(err), "%s: call %lu (%s) failed with %d: got %s, want %s",
                  where, k, fn, (int)err, clmse_status_string(st),
                  clmse_status_string(mapped_status(err)));
    ck_assert_msg(documented(a, st), "%s: call %lu (%s): %s is not documented for this call",
                  where, k, fn, clmse_status_string(st));
    const char *msg = clmse_context_last_error(msg_ctx);
    ck_assert_msg(strstr(msg, fn) != NULL, "%s: call %lu failed in %s, but the last error "
                  "does not name it: '%s'", where, k, fn, msg);
    ck_assert_msg(clmse_context_last_cl_error(msg_ctx) == err,
                  "%s: call %lu (%s): last_cl_error %d, want %d", where, k, fn,
                  (int)clmse_context_last_cl_error(msg_ctx), (int)err);
}

typedef struct refs {
    long n[CLF_KIND_COUNT];
} refs;

static refs live_refs(void)
{
    refs r;
    for (int i = 0; i < CLF_KIND_COUNT; i++)
        r.n[i] = clf_live((clf_kind)i);
    return r;
}

/* clmse holds exactly the OpenCL references it held at `base`. */
static void check_refs(const refs *base, const char *where, unsigned long k)
{
    for (int i = 0; i < CLF_KIND_COUNT; i++) {
        const long now = clf_live((clf_kind)i);
        ck_assert_msg(now == base->n[i],
                      "%s, after call %lu failed (%s): clmse holds %ld %s references, "
                      "%ld before", where, k, clf_failed_function() ? clf_failed_function() : "-",
                      now, clf_kind_name((clf_kind)i), base->n[i]);
    }
}

static const refs no_refs; /* all zero */

/* ==== results as bytes ================================================================== */

typedef struct blob {
    unsigned char *p;
    size_t len, cap;
} blob;

static void blob_add(blob *b, const void *data, size_t n)
{
    if (n == 0)
        return;
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void blob_free(blob *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static int blob_equal(const blob *a, const blob *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* ==== the workload ======================================================================= */

/* Buffers and arrays of one context; every step resets the results it writes first. */
typedef struct bench {
    clmse_context *ctx;
    cl_command_queue q;
    int fp64;
    float *hx, *hy, *hg; /* NBIG each */
    float *hout, *hgx, *hgy;
    cl_mem x, y, g, out, gx, gy; /* float32, NBIG each */
    /* tensor steps */
    cl_mem t1x, t1y, t1out, t1gx;
    cl_mem t2x, t2y, t2out, t2gx, t2gy;
    cl_mem t3x, t3y, t3out, t3g, t3gx, t3gy;
    cl_mem t4x, t4y, t4out, t4gy;
    cl_mem t5y, t5out;
} bench;

static cl_mem dev_buffer(bench *b, size_t bytes, const void *init)
{
    cl_int err = CL_SUCCESS;
    cl_mem m = clCreateBuffer(th_cl_context(b->ctx),
                              CL_MEM_READ_WRITE | (init ? CL_MEM_COPY_HOST_PTR : 0), bytes,
                              (void *)init, &err);
    ck_assert_msg(err == CL_SUCCESS, "clCreateBuffer(%zu): %d", bytes, err);
    return m;
}

/* Operand values in `dtype` (float32, float64 or float16), encoded from floats in [-9, 9). */
static cl_mem dev_values(bench *b, clmse_dtype dtype, size_t count, uint64_t seed)
{
    th_rng rng;
    th_rng_seed(&rng, seed);
    float *v = th_alloc_floats(count);
    th_fill_uniform(&rng, v, count);
    const size_t es = clmse_dtype_size(dtype);
    unsigned char *img = malloc(count * es);
    ck_assert_ptr_nonnull(img);
    for (size_t i = 0; i < count; i++) {
        if (dtype == CLMSE_DTYPE_F64) {
            const double d = (double)v[i];
            memcpy(img + i * es, &d, es);
        } else if (dtype == CLMSE_DTYPE_F16) {
            const uint16_t h = th_half_from_float(v[i]);
            memcpy(img + i * es, &h, es);
        } else {
            memcpy(img + i * es, &v[i], es);
        }
    }
    cl_mem m = dev_buffer(b, count * es, img);
    free(img);
    free(v);
    return m;
}

static void dev_reset(bench *b, cl_mem m, size_t bytes)
{
    const unsigned char pattern = 0xa5; /* a NaN in every float type: no kernel writes it */
    ck_assert_int_eq(clEnqueueFillBuffer(b->q, m, &pattern, 1, 0, bytes, 0, NULL, NULL),
                     CL_SUCCESS);
}

static void dev_read(bench *b, cl_mem m, size_t bytes, blob *o)
{
    unsigned char *tmp = malloc(bytes);
    ck_assert_ptr_nonnull(tmp);
    ck_assert_int_eq(clEnqueueReadBuffer(b->q, m, CL_TRUE, 0, bytes, tmp, 0, NULL, NULL),
                     CL_SUCCESS);
    blob_add(o, tmp, bytes);
    free(tmp);
}

static void bench_open(bench *b, clmse_context *ctx)
{
    memset(b, 0, sizeof *b);
    b->ctx = ctx;
    b->q = th_cl_queue(ctx);
    clmse_device_info info;
    CHECK_OK(ctx, clmse_context_device_info(ctx, &info));
    b->fp64 = info.has_fp64;
    th_rng rng;
    th_rng_seed(&rng, 0xfa017);
    b->hx = th_alloc_floats(NBIG);
    b->hy = th_alloc_floats(NBIG);
    b->hg = th_alloc_floats(NBIG);
    b->hout = th_alloc_floats(NBIG);
    b->hgx = th_alloc_floats(NBIG);
    b->hgy = th_alloc_floats(NBIG);
    th_fill_uniform(&rng, b->hx, NBIG);
    th_fill_uniform(&rng, b->hy, NBIG);
    th_fill_uniform(&rng, b->hg, NBIG);
    const size_t fb = NBIG * sizeof(float);
    b->x = dev_buffer(b, fb, b->hx);
    b->y = dev_buffer(b, fb, b->hy);
    b->g = dev_buffer(b, fb, b->hg);
    b->out = dev_buffer(b, fb, NULL);
    b->gx = dev_buffer(b, fb, NULL);
    b->gy = dev_buffer(b, fb, NULL);

    b->t1x = dev_values(b, CLMSE_DTYPE_F32, 20 * 66, 1);
    b->t1y = dev_values(b, CLMSE_DTYPE_F32, 20 * 33, 2);
    b->t1out = dev_buffer(b, sizeof(float), NULL);
    b->t1gx = dev_buffer(b, 20 * 33 * sizeof(float), NULL);

    b->t2x = dev_values(b, CLMSE_DTYPE_F16, 6 * 40, 3);
    b->t2y = dev_values(b, CLMSE_DTYPE_F32, 5 * 40, 4);
    b->t2out = dev_buffer(b, sizeof(float), NULL);
    b->t2gx = dev_buffer(b, 6 * 40 * sizeof(uint16_t), NULL);
    b->t2gy = dev_buffer(b, 5 * 40 * sizeof(float), NULL);

    b->t5y = dev_values(b, CLMSE_DTYPE_F32, 5, 9);
    b->t5out = dev_buffer(b, sizeof(float), NULL);
    if (!b->fp64)
        return;
    b->t3x = dev_values(b, CLMSE_DTYPE_F64, 12 * 30, 5);
    b->t3y = dev_values(b, CLMSE_DTYPE_F32, 30, 6);
    b->t3out = dev_buffer(b, 12 * 30 * sizeof(double), NULL);
    b->t3g = dev_values(b, CLMSE_DTYPE_F64, 12 * 30, 7);
    b->t3gx = dev_buffer(b, 12 * 30 * sizeof(double), NULL);
    b->t3gy = dev_buffer(b, 30 * sizeof(float), NULL);

    b->t4x = dev_values(b, CLMSE_DTYPE_F64, 3000, 8);
    b->t4y = dev_values(b, CLMSE_DTYPE_F64, 3000, 10);
    b->t4out = dev_buffer(b, sizeof(double), NULL);
    b->t4gy = dev_buffer(b, 3000 * sizeof(double), NULL);
}

static void bench_close(bench *b)
{
    cl_mem all[] = {b->x,    b->y,    b->g,    b->out,  b->gx,   b->gy,    b->t1x,
                    b->t1y,  b->t1out, b->t1gx, b->t2x,  b->t2y,  b->t2out, b->t2gx,
                    b->t2gy, b->t3x,  b->t3y,  b->t3out, b->t3g, b->t3gx,  b->t3gy,
                    b->t4x,  b->t4y,  b->t4out, b->t4gy, b->t5y, b->t5out};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i])
            ck_assert_int_eq(clReleaseMemObject(all[i]), CL_SUCCESS);
    free(b->hx);
    free(b->hy);
    free(b->hg);
    free(b->hout);
    free(b->hgx);
    free(b->hgy);
    memset(b, 0, sizeof *b);
}

/* An event clmse returned: NULL after a failure; waited for and released after success. */
static void settle_event(clmse_status st, cl_event ev, const char *what)
{
    if (st != CLMSE_SUCCESS) {
        ck_assert_msg(ev == NULL, "%s failed but returned an event", what);
        return;
    }
    ck_assert_msg(ev != NULL, "%s returned no event", what);
    ck_assert_int_eq(clWaitForEvents(1, &ev), CL_SUCCESS);
    ck_assert_int_eq(clReleaseEvent(ev), CL_SUCCESS);
}

/* ---- device-buffer steps (clmse_mse_*_f32) ---- */

typedef enum op { OP_FORWARD, OP_BACKWARD, OP_FUSED } op;

typedef struct f32_step {
    op op;
    clmse_reduction red;
    size_t n;
    int g, gx, gy;       /* which optional buffers are passed */
    int event, wait;     /* ask for an event; wait for one of the test's */
} f32_step;

static clmse_status run_f32(bench *b, const f32_step *s, blob *o)
{
    const size_t outn = s->red == CLMSE_REDUCTION_NONE ? s->n : 1;
    dev_reset(b, b->out, (outn ? outn : 1) * sizeof(float));
    dev_reset(b, b->gx, (s->n ? s->n : 1) * sizeof(float));
    dev_reset(b, b->gy, (s->n ? s->n : 1) * sizeof(float));
    cl_event gate = NULL, ev = NULL;
    if (s->wait)
        ck_assert_int_eq(clEnqueueMarkerWithWaitList(b->q, 0, NULL, &gate), CL_SUCCESS);
    const cl_uint nw = s->wait ? 1 : 0;
    const cl_event *wl = s->wait ? &gate : NULL;
    cl_event *evp = s->event ? &ev : NULL;
    cl_mem g = s->g ? b->g : NULL, gx = s->gx ? b->gx : NULL, gy = s->gy ? b->gy : NULL;
    clmse_status st;
    switch (s->op) {
    case OP_FORWARD:
        st = clmse_mse_forward_f32(b->ctx, s->red, s->n, b->x, 0, b->y, 0, b->out, 0, nw, wl,
                                   evp);
        break;
    case OP_BACKWARD:
        st = clmse_mse_backward_f32(b->ctx, s->red, s->n, b->x, 0, b->y, 0, g, 0, gx, 0, gy, 0,
                                    nw, wl, evp);
        break;
    default:
        st = clmse_mse_forward_backward_f32(b->ctx, s->red, s->n, b->x, 0, b->y, 0, b->out, 0,
                                            g, 0, gx, 0, gy, 0, nw, wl, evp);
        break;
    }
    if (s->event)
        settle_event(st, ev, "clmse_mse_*_f32");
    if (gate)
        ck_assert_int_eq(clReleaseEvent(gate), CL_SUCCESS);
    if (st != CLMSE_SUCCESS)
        return st;
    if (s->op != OP_BACKWARD)
        dev_read(b, b->out, outn * sizeof(float), o);
    if (s->gx && s->n)
        dev_read(b, b->gx, s->n * sizeof(float), o);
    if (s->gy && s->n)
        dev_read(b, b->gy, s->n * sizeof(float), o);
    return st;
}

static const f32_step f32_steps[] = {
    {OP_FORWARD, CLMSE_REDUCTION_MEAN, N1, 0, 0, 0, 0, 0},
    {OP_FORWARD, CLMSE_REDUCTION_SUM, NBIG, 0, 0, 0, 0, 0},
    {OP_FORWARD, CLMSE_REDUCTION_NONE, N1, 0, 0, 0, 1, 0},
    {OP_BACKWARD, CLMSE_REDUCTION_MEAN, N1, 0, 1, 1, 0, 0},
    {OP_BACKWARD, CLMSE_REDUCTION_NONE, N1, 1, 1, 0, 1, 1},
    {OP_FUSED, CLMSE_REDUCTION_SUM, NBIG, 1, 1, 1, 0, 0},
    {OP_FUSED, CLMSE_REDUCTION_MEAN, N1, 0, 0, 1, 1, 1},
    {OP_FORWARD, CLMSE_REDUCTION_MEAN, 0, 0, 0, 0, 1, 0},  /* the epilogue alone: NaN */
    {OP_BACKWARD, CLMSE_REDUCTION_SUM, 0, 0, 1, 0, 1, 1}, /* nothing to do: a marker */
};

/* ---- host-array steps (clmse_host_*) ---- */

static clmse_status run_host(bench *b, const f32_step *s, blob *o)
{
    const size_t outn = s->red == CLMSE_REDUCTION_NONE ? s->n : 1;
    memset(b->hout, 0xa5, NBIG * sizeof(float));
    memset(b->hgx, 0xa5, NBIG * sizeof(float));
    memset(b->hgy, 0xa5, NBIG * sizeof(float));
    const float *x = s->n ? b->hx : NULL, *y = s->n ? b->hy : NULL;
    const float *g = s->g ? b->hg : NULL;
    float *gx = s->gx ? b->hgx : NULL, *gy = s->gy ? b->hgy : NULL;
    clmse_status st;
    switch (s->op) {
    case OP_FORWARD: st = clmse_host_forward_f32(b->ctx, s->red, s->n, x, y, b->hout); break;
    case OP_BACKWARD:
        st = clmse_host_backward_f32(b->ctx, s->red, s->n, x, y, g, gx, gy);
        break;
    default:
        st = clmse_host_forward_backward_f32(b->ctx, s->red, s->n, x, y, g, b->hout, gx, gy);
        break;
    }
    if (st != CLMSE_SUCCESS)
        return st;
    if (s->op != OP_BACKWARD)
        blob_add(o, b->hout, outn * sizeof(float));
    if (s->gx)
        blob_add(o, b->hgx, s->n * sizeof(float));
    if (s->gy)
        blob_add(o, b->hgy, s->n * sizeof(float));
    return st;
}

static const f32_step host_steps[] = {
    {OP_FORWARD, CLMSE_REDUCTION_MEAN, N1, 0, 0, 0, 0, 0},
    {OP_BACKWARD, CLMSE_REDUCTION_NONE, N1, 1, 1, 1, 0, 0},
    {OP_FUSED, CLMSE_REDUCTION_SUM, NBIG, 1, 1, 0, 0, 0},
    {OP_FORWARD, CLMSE_REDUCTION_MEAN, 0, 0, 0, 0, 0, 0},
};

/* ---- tensor steps (clmse_mse) ---- */

static clmse_tensor view(cl_mem buf, clmse_dtype dtype, uint32_t nd, const size_t *shape,
                         const int64_t *strides)
{
    clmse_tensor t;
    CHECK_OK(NULL, clmse_tensor_init(&t, buf, dtype, nd, shape, strides, 0));
    return t;
}

/* float32 input read with a stride of 2 along rows of 66: the general kernels, mean, with
 * partial sums in scratch and the epilogue. */
static clmse_status tensor_strided(bench *b, blob *o)
{
    const size_t shape[2] = {20, 33};
    const int64_t strides[2] = {66, 2};
    dev_reset(b, b->t1out, sizeof(float));
    dev_reset(b, b->t1gx, 20 * 33 * sizeof(float));
    const clmse_tensor x = view(b->t1x, CLMSE_DTYPE_F32, 2, shape, strides),
                       y = view(b->t1y, CLMSE_DTYPE_F32, 2, shape, NULL),
                       out = view(b->t1out, CLMSE_DTYPE_F32, 0, NULL, NULL),
                       gx = view(b->t1gx, CLMSE_DTYPE_F32, 2, shape, NULL);
    const clmse_mse_args a = {CLMSE_REDUCTION_MEAN, 0, &x, &y, &out, NULL, &gx, NULL};
    const clmse_status st = clmse_mse(b->ctx, &a, 0, NULL, NULL);
    if (st == CLMSE_SUCCESS) {
        dev_read(b, b->t1out, sizeof(float), o);
        dev_read(b, b->t1gx, 20 * 33 * sizeof(float), o);
    }
    return st;
}

/* float16 (6,1,40) against float32 (5,40): both operands broadcast, so both gradients are
 * reduction kernels of their own, joined with the loss under one marker event. */
static clmse_status tensor_broadcast(bench *b, blob *o)
{
    const size_t sx[3] = {6, 1, 40}, sy[2] = {5, 40};
    dev_reset(b, b->t2out, sizeof(float));
    dev_reset(b, b->t2gx, 6 * 40 * sizeof(uint16_t));
    dev_reset(b, b->t2gy, 5 * 40 * sizeof(float));
    const clmse_tensor x = view(b->t2x, CLMSE_DTYPE_F16, 3, sx, NULL),
                       y = view(b->t2y, CLMSE_DTYPE_F32, 2, sy, NULL),
                       out = view(b->t2out, CLMSE_DTYPE_F32, 0, NULL, NULL),
                       gx = view(b->t2gx, CLMSE_DTYPE_F16, 3, sx, NULL),
                       gy = view(b->t2gy, CLMSE_DTYPE_F32, 2, sy, NULL);
    const clmse_mse_args a = {CLMSE_REDUCTION_SUM, 0, &x, &y, &out, NULL, &gx, &gy};
    cl_event ev = NULL;
    const clmse_status st = clmse_mse(b->ctx, &a, 0, NULL, &ev);
    settle_event(st, ev, "clmse_mse(broadcast)");
    if (st == CLMSE_SUCCESS) {
        dev_read(b, b->t2out, sizeof(float), o);
        dev_read(b, b->t2gx, 6 * 40 * sizeof(uint16_t), o);
        dev_read(b, b->t2gy, 5 * 40 * sizeof(float), o);
    }
    return st;
}

/* A transposed float64 view against a broadcast float32 row, reduction none, promoted to
 * float64, with grad_output. */
static clmse_status tensor_f64(bench *b, blob *o)
{
    const size_t s2[2] = {12, 30}, s1[1] = {30};
    const int64_t transposed[2] = {1, 12};
    dev_reset(b, b->t3out, 12 * 30 * sizeof(double));
    dev_reset(b, b->t3gx, 12 * 30 * sizeof(double));
    dev_reset(b, b->t3gy, 30 * sizeof(float));
    const clmse_tensor x = view(b->t3x, CLMSE_DTYPE_F64, 2, s2, transposed),
                       y = view(b->t3y, CLMSE_DTYPE_F32, 1, s1, NULL),
                       out = view(b->t3out, CLMSE_DTYPE_F64, 2, s2, NULL),
                       g = view(b->t3g, CLMSE_DTYPE_F64, 2, s2, NULL),
                       gx = view(b->t3gx, CLMSE_DTYPE_F64, 2, s2, NULL),
                       gy = view(b->t3gy, CLMSE_DTYPE_F32, 1, s1, NULL);
    const clmse_mse_args a = {CLMSE_REDUCTION_NONE, 0, &x, &y, &out, &g, &gx, &gy};
    const clmse_status st = clmse_mse(b->ctx, &a, 0, NULL, NULL);
    if (st == CLMSE_SUCCESS) {
        dev_read(b, b->t3out, 12 * 30 * sizeof(double), o);
        dev_read(b, b->t3gx, 12 * 30 * sizeof(double), o);
        dev_read(b, b->t3gy, 30 * sizeof(float), o);
    }
    return st;
}

/* Contiguous float64: the streaming kernels in double. */
static clmse_status tensor_f64_fast(bench *b, blob *o)
{
    const size_t s1[1] = {3000};
    dev_reset(b, b->t4out, sizeof(double));
    dev_reset(b, b->t4gy, 3000 * sizeof(double));
    const clmse_tensor x = view(b->t4x, CLMSE_DTYPE_F64, 1, s1, NULL),
                       y = view(b->t4y, CLMSE_DTYPE_F64, 1, s1, NULL),
                       out = view(b->t4out, CLMSE_DTYPE_F64, 0, NULL, NULL),
                       gy = view(b->t4gy, CLMSE_DTYPE_F64, 1, s1, NULL);
    const clmse_mse_args a = {CLMSE_REDUCTION_MEAN, 0, &x, &y, &out, NULL, NULL, &gy};
    cl_event ev = NULL;
    const clmse_status st = clmse_mse(b->ctx, &a, 0, NULL, &ev);
    settle_event(st, ev, "clmse_mse(float64)");
    if (st == CLMSE_SUCCESS) {
        dev_read(b, b->t4out, sizeof(double), o);
        dev_read(b, b->t4gy, 3000 * sizeof(double), o);
    }
    return st;
}

/* No elements (an empty input with a NULL buffer): only the epilogue runs, writing NaN. */
static clmse_status tensor_empty(bench *b, blob *o)
{
    const size_t sx[2] = {0, 5}, sy[1] = {5};
    dev_reset(b, b->t5out, sizeof(float));
    const clmse_tensor x = view(NULL, CLMSE_DTYPE_F32, 2, sx, NULL),
                       y = view(b->t5y, CLMSE_DTYPE_F32, 1, sy, NULL),
                       out = view(b->t5out, CLMSE_DTYPE_F32, 0, NULL, NULL);
    const clmse_mse_args a = {CLMSE_REDUCTION_MEAN, 0, &x, &y, &out, NULL, NULL, NULL};
    cl_event ev = NULL;
    const clmse_status st = clmse_mse(b->ctx, &a, 0, NULL, &ev);
    settle_event(st, ev, "clmse_mse(empty)");
    if (st == CLMSE_SUCCESS)
        dev_read(b, b->t5out, sizeof(float), o);
    return st;
}

typedef clmse_status (*tensor_fn)(bench *b, blob *o);

static const struct {
    const char *name;
    tensor_fn fn;
    int fp64;
} tensor_steps[] = {
    {"clmse_mse strided", tensor_strided, 0},
    {"clmse_mse broadcast float16", tensor_broadcast, 0},
    {"clmse_mse float64 none", tensor_f64, 1},
    {"clmse_mse float64 contiguous", tensor_f64_fast, 1},
    {"clmse_mse empty", tensor_empty, 0},
};

#define N_F32 (sizeof f32_steps / sizeof f32_steps[0])
#define N_HOST (sizeof host_steps / sizeof host_steps[0])
#define N_TENSOR (sizeof tensor_steps / sizeof tensor_steps[0])
#define N_STEPS (N_F32 + N_TENSOR + N_HOST)

/* Step i of the workload (tensors between the two float32 families, so that programs of
 * every kind are built in between others). Returns 0 for a step the device cannot run. */
static int run_step(bench *b, size_t i, blob *o, clmse_status *st, char *name, size_t cap)
{
    o->len = 0;
    if (i < N_F32) {
        snprintf(name, cap, "clmse_mse_*_f32 step %zu", i);
        *st = run_f32(b, &f32_steps[i], o);
    } else if (i < N_F32 + N_TENSOR) {
        const size_t t = i - N_F32;
        snprintf(name, cap, "%s", tensor_steps[t].name);
        if (tensor_steps[t].fp64 && !b->fp64)
            return 0;
        *st = tensor_steps[t].fn(b, o);
    } else {
        snprintf(name, cap, "clmse_host_* step %zu", i - N_F32 - N_TENSOR);
        *st = run_host(b, &host_steps[i - N_F32 - N_TENSOR], o);
    }
    return 1;
}

/* ==== the sweeps ========================================================================= */

static int same_info(const clmse_device_info *a, const clmse_device_info *b)
{
    return a->platform_index == b->platform_index && a->device_index == b->device_index &&
           strcmp(a->platform_name, b->platform_name) == 0 && strcmp(a->name, b->name) == 0 &&
           strcmp(a->vendor, b->vendor) == 0 && strcmp(a->version, b->version) == 0 &&
           strcmp(a->opencl_c_version, b->opencl_c_version) == 0 &&
           strcmp(a->driver_version, b->driver_version) == 0 && a->type == b->type &&
           a->compute_units == b->compute_units &&
           a->max_work_group_size == b->max_work_group_size &&
           a->global_mem_size == b->global_mem_size && a->local_mem_size == b->local_mem_size &&
           a->has_fp64 == b->has_fp64 && a->has_fp16 == b->has_fp16;
}

/* A context created without faults must be the reference context's twin. */
static void check_twin(clmse_context *ctx, const clmse_device_info *ref, int ref_acc,
                       const char *where)
{
    clmse_device_info info;
    CHECK_OK(ctx, clmse_context_device_info(ctx, &info));
    ck_assert_msg(same_info(&info, ref), "%s: device info differs from the reference", where);
    ck_assert_int_eq(clmse_context_accumulation(ctx), ref_acc);
}

/* clmse_context_create with `opt`: every call of a creation fails once. */
static void sweep_create(const clmse_context_options *opt, const char *where,
                         unsigned long *points)
{
    clmse_context *ctx = NULL;
    clf_arm(0);
    CHECK_OK(NULL, clmse_context_create(opt, &ctx));
    const unsigned long n = clf_calls();
    clmse_device_info ref;
    CHECK_OK(ctx, clmse_context_device_info(ctx, &ref));
    const int acc = clmse_context_accumulation(ctx);
    clmse_context_release(ctx);
    check_refs(&no_refs, where, 0);
    ck_assert_msg(n > 0, "%s made no OpenCL call through the shim", where);
    for (unsigned long k = 1; k <= n; k++) {
        clf_arm(k);
        ctx = (clmse_context *)&ctx; /* must be overwritten with NULL */
        const clmse_status st = clmse_context_create(opt, &ctx);
        clf_disarm();
        check_failure(where, k, API_CREATE, st, NULL);
        ck_assert_msg(ctx == NULL, "%s: call %lu failed: *out is not NULL", where, k);
        check_refs(&no_refs, where, k);
        CHECK_OK(NULL, clmse_context_create(opt, &ctx));
        check_twin(ctx, &ref, acc, where);
        clmse_context_release(ctx);
        check_refs(&no_refs, where, k);
    }
    *points += n;
}

/* Device enumeration: count, describe, select. */
static clmse_status devices_call(int which, size_t *value, clmse_device_info *info)
{
    switch (which) {
    case 0: return clmse_device_count(value);
    case 1: return clmse_device_get_info(*value, info);
    default: return clmse_device_select(NULL, value);
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
            check_failure(names[which], k, API_DEVICES, st, NULL);
            value = chosen;
            CHECK_OK(NULL, devices_call(which, &value, &info));
            ck_assert_uint_eq(value, ref_value);
            if (which == 1)
                ck_assert_msg(same_info(&info, &ref), "%s: info differs after a failure",
                              names[which]);
        }
        check_refs(&no_refs, names[which], n);
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
    check_refs(&no_refs, "adoption setup", 0);
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
        check_failure("clmse_context_create_from_cl", k, API_ADOPT, st, NULL);
        ck_assert_ptr_null(ctx);
        check_refs(&no_refs, "clmse_context_create_from_cl", k);
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
    check_refs(&no_refs, "clmse_context_create_from_cl", n);
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
    bench_open(&b, ctx);
    char name[96];
    clmse_status st;
    blob o = {0};
    for (size_t i = 0; i < N_STEPS; i++) /* builds everything, grows scratch to its largest */
        if (run_step(&b, i, &ref[i], &st, name, sizeof name))
            ck_assert_msg(st == CLMSE_SUCCESS, "%s: %s: %s", name, clmse_status_string(st),
                          clmse_context_last_error(ctx));
    /* The workload is bit-compared with itself from here on; one plain check that it is right. */
    float mean0;
    ck_assert_uint_eq(ref[0].len, sizeof mean0);
    memcpy(&mean0, ref[0].p, sizeof mean0);
    ck_assert(th_within_one_ulp(mean0, th_ref_sum(b.hx, b.hy, N1) / N1));
    const refs base = live_refs();
    clf_record_sites(1);
    for (size_t i = 0; i < N_STEPS; i++) {
        clf_arm(0);
        if (!run_step(&b, i, &o, &st, name, sizeof name))
            continue;
        const unsigned long n = clf_calls();
        ck_assert_msg(st == CLMSE_SUCCESS && blob_equal(&o, &ref[i]),
                      "%s: a second run differs from the first", name);
        for (unsigned long k = 1; k <= n; k++) {
            clf_arm(k);
            run_step(&b, i, &o, &st, name, sizeof name);
            clf_disarm();
            check_failure(name, k, API_CALL, st, ctx);
            check_refs(&base, name, k);
            run_step(&b, i, &o, &st, name, sizeof name);
            ck_assert_msg(st == CLMSE_SUCCESS, "%s: after call %lu failed, the context fails: "
                          "%s: %s", name, k, clmse_status_string(st),
                          clmse_context_last_error(ctx));
            ck_assert_msg(blob_equal(&o, &ref[i]), "%s: after call %lu failed, the results "
                          "differ", name, k);
            check_refs(&base, name, k);
        }
        *points += n;
    }
    clf_record_sites(0);
    blob_free(&o);
    bench_close(&b);
    clmse_context_release(ctx);
    check_refs(&no_refs, "warm context released", 0);
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
    bench_open(&b, ctx);
    clf_arm(0);
    for (size_t i = 0; i < N_STEPS; i++)
        if (run_step(&b, i, &o, &st, name, sizeof name))
            ck_assert_msg(st == CLMSE_SUCCESS && blob_equal(&o, &ref[i]),
                          "%s on a fresh context differs from the reference", name);
    const unsigned long n = clf_calls();
    bench_close(&b);
    clmse_context_release(ctx);
    check_refs(&no_refs, "cold workload", 0);
    ck_assert_msg(n > 0, "no cold-only OpenCL call: builds were not reached");

    for (unsigned long k = 1; k <= n; k++) {
        ctx = th_context_create();
        bench_open(&b, ctx);
        clf_arm(k);
        size_t i = 0;
        for (; i < N_STEPS; i++) {
            if (!run_step(&b, i, &o, &st, name, sizeof name))
                continue;
            if (st != CLMSE_SUCCESS)
                break;
            ck_assert_msg(blob_equal(&o, &ref[i]), "%s: results differ before call %lu", name,
                          k);
        }
        clf_disarm();
        ck_assert_msg(i < N_STEPS, "cold call %lu (%s) failed, yet every step succeeded", k,
                      clf_failed_function() ? clf_failed_function() : "never made");
        check_failure(name, k, API_CALL, st, ctx);
        run_step(&b, i, &o, &st, name, sizeof name);
        ck_assert_msg(st == CLMSE_SUCCESS, "%s: after cold call %lu failed, the context fails: "
                      "%s: %s", name, k, clmse_status_string(st), clmse_context_last_error(ctx));
        ck_assert_msg(blob_equal(&o, &ref[i]), "%s: after cold call %lu failed, the results "
                      "differ", name, k);
        bench_close(&b);
        clmse_context_release(ctx);
        check_refs(&no_refs, name, k);
    }
    clf_skip_recorded_sites(0);
    blob_free(&o);
    *points += n;
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ==== tests ============================================================================== */

START_TEST(test_shim_covers_every_import)
{
    char missing[1024];
    size_t imports = 0;
    ck_assert_msg(clf_active(), "the shim does not interpose: is libclmse shared, and does the "
                  "test executable export its OpenCL definitions?");
    const size_t n = clf_uncovered(missing, sizeof missing, &imports);
    ck_assert_msg(imports > 0, "found no OpenCL import in libclmse's relocations");
    ck_assert_msg(n == 0, "libclmse calls OpenCL functions the shim does not define: %s",
                  missing);
}
END_TEST

START_TEST(test_every_call_fails_once)
{
    unsigned long create = 0, devices = 0, adopt = 0, warm = 0, cold = 0; /* failure points */
    blob ref[N_STEPS];
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
    for (size_t i = 0; i < N_STEPS; i++)
        blob_free(&ref[i]);

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
            fprintf(stderr, "fault:   %-28s %lu\n", clf_function_name(f),
                    clf_function_failures(f));
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
    bench_open(&b, ctx);

    /* Builds and sizes scratch, then counts: the epilogue's enqueue is the call's last. */
    float want = 0.0f, got = 0.0f;
    cl_event ev = NULL;
    unsigned long n = 0;
    for (int pass = 0; pass < 2; pass++) {
        clf_arm(0);
        CHECK_OK(ctx, clmse_mse_forward_f32(ctx, CLMSE_REDUCTION_SUM, NBIG, b.x, 0, b.y, 0,
                                            b.out, 0, 0, NULL, &ev));
        n = clf_calls();
        settle_event(CLMSE_SUCCESS, ev, "forward");
    }
    ck_assert_int_eq(clEnqueueReadBuffer(q, b.out, CL_TRUE, 0, sizeof want, &want, 0, NULL, NULL),
                     CL_SUCCESS);

    cl_int err = CL_SUCCESS;
    cl_event gate = clCreateUserEvent(c, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    clf_arm(n);
    clmse_status st = clmse_mse_forward_f32(ctx, CLMSE_REDUCTION_SUM, NBIG, b.x, 0, b.y, 0, b.gx,
                                            0, 1, &gate, NULL);
    clf_disarm();
    ck_assert_str_eq(clf_failed_function() ? clf_failed_function() : "-",
                     "clEnqueueNDRangeKernel");
    ck_assert_int_eq(st, CLMSE_ERROR_OUT_OF_DEVICE_MEMORY);

    st = clmse_mse_forward_f32(ctx, CLMSE_REDUCTION_SUM, NBIG, b.x, 0, b.y, 0, b.out, 0, 0, NULL,
                               &ev);
    CHECK_OK(ctx, st);
    th_assert_still_pending(ev); /* behind the gated pass that still writes scratch */
    ck_assert_int_eq(clSetUserEventStatus(gate, CL_COMPLETE), CL_SUCCESS);
    settle_event(st, ev, "forward after the orphaned pass");
    ck_assert_int_eq(clEnqueueReadBuffer(q, b.out, CL_TRUE, 0, sizeof got, &got, 0, NULL, NULL),
                     CL_SUCCESS);
    ck_assert_msg(th_bits(got) == th_bits(want), "%a, want %a", (double)got, (double)want);
    ck_assert_int_eq(clFinish(q), CL_SUCCESS);
    ck_assert_int_eq(clReleaseEvent(gate), CL_SUCCESS);
    bench_close(&b);
    clmse_context_release(ctx);
    check_refs(&no_refs, "out-of-order context released", 0);
    ck_assert_int_eq(clReleaseCommandQueue(q), CL_SUCCESS);
    ck_assert_int_eq(clReleaseContext(c), CL_SUCCESS);
}
END_TEST

/* ==== a device without fp64 (clf_hide_fp64) ============================================= */

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
    cl_mem m = clCreateBuffer(th_cl_context(ctx), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                              bytes, img, &err);
    ck_assert_msg(err == CL_SUCCESS, "clCreateBuffer(%zu): %d", bytes, err);
    free(img);
    return m;
}

static void byte_read(clmse_context *ctx, cl_mem m, size_t bytes, void *dst)
{
    ck_assert_int_eq(clEnqueueReadBuffer(th_cl_queue(ctx), m, CL_TRUE, 0, bytes, dst, 0, NULL,
                                         NULL),
                     CL_SUCCESS);
}

static clmse_tensor view1(cl_mem buf, clmse_dtype dtype, size_t n)
{
    return view(buf, dtype, 1, &n, NULL);
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
    ck_assert_msg(same_info(&info, &want), "clmse_device_get_info: more than fp64 changed");
    clmse_context *ctx = th_context_create();
    CHECK_OK(ctx, clmse_context_device_info(ctx, &info));
    ck_assert_msg(same_info(&info, &want), "clmse_context_device_info: more than fp64 changed");
    /* The test's own queries still see the real device. */
    cl_device_id dev = NULL;
    CHECK_OK(ctx, clmse_context_get_cl(ctx, NULL, &dev, NULL));
    cl_device_fp_config dcfg = 0;
    ck_assert_int_eq(clGetDeviceInfo(dev, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof dcfg, &dcfg, NULL),
                     CL_SUCCESS);
    ck_assert_msg(!real.has_fp64 || dcfg != 0, "the test's own view lost fp64 too");
    clmse_context_release(ctx);
    check_refs(&no_refs, "fp64-less device info", 0);
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
    check_refs(&no_refs, "clmse_context_create(DOUBLE) refused", 0);

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
    check_refs(&no_refs, "clmse_context_create_from_cl(DOUBLE) refused", 0);
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
    check_refs(&no_refs, "fp64-less contexts released", 0);
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
    const refs base = live_refs();
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int r = 0; r < 2; r++) {
            const clmse_reduction red = r ? CLMSE_REDUCTION_MEAN : CLMSE_REDUCTION_NONE;
            const clmse_tensor x = view1(bx, cases[c].x, N), y = view1(by, cases[c].y, N),
                               gx = view1(bgx, cases[c].x, N), gy = view1(bgy, cases[c].y, N);
            const clmse_tensor out = r ? view(bout, cases[c].promoted, 0, NULL, NULL)
                                       : view1(bout, cases[c].promoted, N);
            const clmse_mse_args a = {red, 0, &x, &y, &out, NULL, &gx, &gy};
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
                          "'%s'", clmse_dtype_name(cases[c].x), clmse_dtype_name(cases[c].y),
                          cases[c].named, msg);
            check_refs(&base, "clmse_mse(float64) refused", 0);
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
    check_refs(&no_refs, "fp64-less context released", 0);
}
END_TEST

static const size_t k_no_fp64_sizes[] = {1, 1000, ((size_t)1 << 20) + 3};

static clmse_status f32_op(clmse_context *ctx, op o, clmse_reduction red, size_t n,
                           cl_mem x, cl_mem y, cl_mem g, cl_mem out, cl_mem gx, cl_mem gy,
                           cl_event *ev)
{
    switch (o) {
    case OP_FORWARD:
        return clmse_mse_forward_f32(ctx, red, n, x, 0, y, 0, out, 0, 0, NULL, ev);
    case OP_BACKWARD:
        return clmse_mse_backward_f32(ctx, red, n, x, 0, y, 0, g, 0, gx, 0, gy, 0, 0, NULL, ev);
    default:
        return clmse_mse_forward_backward_f32(ctx, red, n, x, 0, y, 0, out, 0, g, 0, gx, 0, gy,
                                              0, 0, NULL, ev);
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
            const float gi = red == CLMSE_REDUCTION_NONE ? g[i]
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
        ck_assert_msg(th_bits(v) == th_bits(reduced[r]), "n=%zu reduction %d: %a on the real "
                      "device, %a without fp64", n, (int)reds[r], (double)v, (double)reduced[r]);
    }
    clmse_context_release(real);

    cl_mem all[7] = {bx, by, bg, bg1, bout, bgx, bgy};
    for (int i = 0; i < 7; i++)
        ck_assert_int_eq(clReleaseMemObject(all[i]), CL_SUCCESS);
    float *arrays[9] = {x, y, g, out, gx, gy, fout, fgx, fgy};
    for (int i = 0; i < 9; i++)
        free(arrays[i]);
    clmse_context_release(ctx);
    check_refs(&no_refs, "fp64-less float32 context released", 0);
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
                           gx = view1(bgx, d, N), out0 = view(bout, d, 0, NULL, NULL);
        const clmse_mse_args none = {CLMSE_REDUCTION_NONE, 0, &x, &y, &out, NULL, &gx, NULL};
        cl_event ev = NULL;
        call_ok(ctx, clmse_mse(ctx, &none, 0, NULL, &ev), clmse_dtype_name(d));
        settle_event(CLMSE_SUCCESS, ev, clmse_dtype_name(d));
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
            const clmse_mse_args a = {red, 0, &x, &y, &out0, NULL, NULL, NULL};
            call_ok(ctx, clmse_mse(ctx, &a, 0, NULL, &ev), clmse_dtype_name(d));
            settle_event(CLMSE_SUCCESS, ev, clmse_dtype_name(d));
            byte_read(ctx, bout, sizeof h0, &h0);
            const double want = (double)(r ? sum : sum / N);
            const uint16_t w = k ? th_bf16_from_double(want) : th_half_from_double(want);
            /* Positive values: neighbouring encodings are neighbouring values. */
            ck_assert_msg(h0 + 1 >= w && h0 <= w + 1, "%s %s: %#x, want %#x (%.9g)",
                          clmse_dtype_name(d), r ? "sum" : "mean", (unsigned)h0, (unsigned)w,
                          want);
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
    cl_mem bout = byte_buffer(ctx, sizeof loss, NULL), bgy = byte_buffer(ctx, N * sizeof(float),
                                                                         NULL);
    const clmse_tensor x = view1(bx, CLMSE_DTYPE_F16, N), y = view1(by, CLMSE_DTYPE_F32, N),
                       out = view(bout, CLMSE_DTYPE_F32, 0, NULL, NULL),
                       tgy = view1(bgy, CLMSE_DTYPE_F32, N);
    const clmse_mse_args a = {CLMSE_REDUCTION_MEAN, 0, &x, &y, &out, NULL, NULL, &tgy};
    cl_event ev = NULL;
    call_ok(ctx, clmse_mse(ctx, &a, 0, NULL, &ev), "float16 x float32");
    settle_event(CLMSE_SUCCESS, ev, "float16 x float32");
    byte_read(ctx, bout, sizeof loss, &loss);
    byte_read(ctx, bgy, N * sizeof(float), gy);
    ck_assert_msg(th_within_one_ulp(loss, th_ref_sum(xf, yf, N) / N), "float16 x float32 mean "
                  "%.9g, reference %.12Lg", (double)loss, th_ref_sum(xf, yf, N) / N);
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
    check_refs(&no_refs, "fp64-less half context released", 0);
}
END_TEST

/* ==== lifecycle: every OpenCL reference comes back ======================================= */

enum { LIFE_ROUNDS = 1000, LIFE_CALL_ROUNDS = 200 };

/* clmse holds exactly `want` references, in round `round` of `what`. */
static void check_round_refs(const refs *want, const char *what, int round)
{
    for (int i = 0; i < CLF_KIND_COUNT; i++) {
        const long now = clf_live((clf_kind)i);
        ck_assert_msg(now == want->n[i], "%s, round %d: clmse holds %ld %s references, want %ld",
                      what, round, now, clf_kind_name((clf_kind)i), want->n[i]);
    }
}

/* A live context holds the same references every round (its first round's), and none once
 * released. */
static void check_lifecycle(clmse_context *ctx, refs *held, const char *what, int round)
{
    const refs now = live_refs();
    if (round == 0)
        *held = now;
    check_round_refs(held, what, round);
    clmse_context_release(ctx);
    check_round_refs(&no_refs, what, round);
}

START_TEST(test_lifecycle_create_release)
{
    refs held;
    for (int i = 0; i < LIFE_ROUNDS; i++)
        check_lifecycle(th_context_create(), &held, "create + release", i);
    /* The count sees the context's own objects, so zero above means released. */
    ck_assert_int_eq(held.n[CLF_CONTEXT], 1);
    ck_assert_int_eq(held.n[CLF_QUEUE], 1);
}
END_TEST

/* Each round builds its programs again (POCL's cache keeps that cheap) and sizes scratch. */
START_TEST(test_lifecycle_call_release)
{
    enum { N = 200003 }; /* several work-groups even on a CPU (medium class): scratch */
    float *x = th_alloc_floats(N), *y = th_alloc_floats(N), *gx = th_alloc_floats(N),
          *gy = th_alloc_floats(N);
    float loss = 0.0f, want_loss = 0.0f;
    th_rng rng;
    th_rng_seed(&rng, 0x11fe);
    th_fill_uniform(&rng, x, N);
    th_fill_uniform(&rng, y, N);
    refs held;
    for (int i = 0; i < LIFE_CALL_ROUNDS; i++) {
        clmse_context *ctx = th_context_create();
        CHECK_OK(ctx, clmse_host_forward_backward_f32(ctx, CLMSE_REDUCTION_MEAN, N, x, y, NULL,
                                                      &loss, gx, gy));
        if (i == 0)
            want_loss = loss;
        ck_assert_msg(th_bits(loss) == th_bits(want_loss), "round %d: %a, want %a", i,
                      (double)loss, (double)want_loss);
        check_lifecycle(ctx, &held, "create + fused call + release", i);
    }
    ck_assert_msg(th_within_one_ulp(want_loss, th_ref_sum(x, y, N) / N), "loss %.9g",
                  (double)want_loss);
    ck_assert_int_ge(held.n[CLF_PROGRAM], 1);
    ck_assert_int_ge(held.n[CLF_KERNEL], 1);
    ck_assert_int_ge(held.n[CLF_MEM], 1); /* scratch */
    free(x);
    free(y);
    free(gx);
    free(gy);
}
END_TEST

START_TEST(test_lifecycle_adopt_release)
{
    cl_device_id dev = th_default_device();
    cl_context c = NULL;
    cl_command_queue q = th_cl_open(dev, 0, &c);
    const cl_uint c_refs = th_context_refs(c), q_refs = th_queue_refs(q);
    refs held;
    for (int i = 0; i < LIFE_ROUNDS; i++) {
        clmse_context *ctx = NULL;
        CHECK_OK(NULL, clmse_context_create_from_cl(c, dev, q, NULL, &ctx));
        ck_assert_uint_eq(th_context_refs(c), c_refs + 1);
        ck_assert_uint_eq(th_queue_refs(q), q_refs + 1);
        check_lifecycle(ctx, &held, "create_from_cl + release", i);
        ck_assert_msg(th_context_refs(c) == c_refs && th_queue_refs(q) == q_refs,
                      "round %d: the cl_context has %u references (%u before), the queue %u "
                      "(%u before)", i, th_context_refs(c), c_refs, th_queue_refs(q), q_refs);
    }
    ck_assert_int_eq(held.n[CLF_CONTEXT], 1);
    ck_assert_int_eq(held.n[CLF_QUEUE], 1);
    ck_assert_int_eq(clReleaseCommandQueue(q), CL_SUCCESS);
    ck_assert_int_eq(clReleaseContext(c), CL_SUCCESS);
}
END_TEST

Suite *make_fault_suite(void)
{
    Suite *s = suite_create("fault");
    TCase *tc = th_device_tcase(s, "inject");
    tcase_add_test(tc, test_shim_covers_every_import);
    tcase_add_test(tc, test_every_call_fails_once);
    tcase_add_test(tc, test_orphaned_pass_orders_scratch);
    tc = th_device_tcase(s, "no_fp64");
    tcase_add_checked_fixture(tc, hide_fp64, show_fp64);
    tcase_add_test(tc, test_no_fp64_device_info);
    tcase_add_test(tc, test_no_fp64_accumulation);
    tcase_add_test(tc, test_no_fp64_rejects_float64);
    tcase_add_loop_test(tc, test_no_fp64_float32, 0,
                        (int)(sizeof k_no_fp64_sizes / sizeof k_no_fp64_sizes[0]));
    tcase_add_test(tc, test_no_fp64_half_tensors);
    tc = th_device_tcase(s, "lifecycle");
    tcase_add_test(tc, test_lifecycle_create_release);
    tcase_add_test(tc, test_lifecycle_call_release);
    tcase_add_test(tc, test_lifecycle_adopt_release);
    return s;
}
