/* SPDX-License-Identifier: MIT */
/* clmse_host_mse and clmse_host_mse_partial: clmse_mse and clmse_mse_partial on strided host
 * tensors of any dtype. Each view's memory range is wrapped in a buffer (no copy where the
 * device allows), the tensor call runs on it, and the results are made visible to the host
 * before anything is released. */
#include "internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { HV_X, HV_Y, HV_G, HV_OUT, HV_GX, HV_GY, HV_COUNT };

static const char *const hv_names[HV_COUNT] = {"input",  "target",     "grad_output",
                                               "output", "grad_input", "grad_target"};

/* One host tensor on its way to the device. */
typedef struct host_view {
    const clmse_host_tensor *h; /* NULL: not part of the call */
    int result;                 /* written by the call */
    char *lo;                   /* its memory range [lo, lo + bytes); bytes 0 when empty */
    size_t bytes;
    int copy;   /* 1: the buffer is a copy (no unified memory, misaligned data, or an operand
               * overlapping another) */
    cl_mem buf; /* NULL when empty */
    clmse_tensor t;
} host_view;

static clmse_status describe(clmse_context *ctx, const char *fn, const char *what,
                             const clmse_host_tensor *h, host_view *v)
{
    v->h = h;
    const size_t elem = clmse_dtype_size(h->dtype);
    if (elem == 0)
        return clmse__fail(ctx, CLMSE_ERROR_INVALID_DTYPE, CL_SUCCESS,
                           "%s: %s dtype %d is not a clmse_dtype", fn, what, (int)h->dtype);
    clmse_tensor *t = &v->t;
    memset(t, 0, sizeof(*t));
    t->dtype = h->dtype;
    t->ndim = h->ndim;
    if (h->ndim <= CLMSE_MAX_NDIM) {
        memcpy(t->shape, h->shape, h->ndim * sizeof(size_t));
        memcpy(t->strides, h->strides, h->ndim * sizeof(int64_t));
    }
    size_t numel, extent;
    CLMSE_FORWARD(clmse__tensor_extent(ctx, what, t, &numel, &extent));
    CLMSE_CHECK_ARG(ctx, numel == 0 || h->data != NULL, "%s: %s has %zu elements but NULL data", fn,
                    what, numel);
    v->lo = h->data;
    v->bytes = numel == 0 ? 0 : extent * elem; /* clmse__tensor_extent checked the product */
    v->copy = numel > 0 && (uintptr_t)h->data % elem != 0;
    return CLMSE_SUCCESS;
}

/* Wrapping host memory saves a copy only where the device's memory is the host's (CPU
 * devices such as POCL); elsewhere the driver copies anyway, and Oclgrind (no unified memory)
 * would see the wrapped memory as never written. */
static clmse_status zero_copy(clmse_context *ctx, int *yes)
{
    cl_bool unified = CL_FALSE;
    const cl_int err =
        clGetDeviceInfo(ctx->device, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL);
    if (err != CL_SUCCESS)
        return clmse__cl_fail(ctx, err, "clGetDeviceInfo(CL_DEVICE_HOST_UNIFIED_MEMORY)");
    *yes = unified == CL_TRUE;
    return CLMSE_SUCCESS;
}

/* As addresses: C orders pointers only within one object, and these may be unrelated. */
static int overlap(const host_view *a, const host_view *b)
{
    const uintptr_t al = (uintptr_t)a->lo, bl = (uintptr_t)b->lo;
    return a->bytes > 0 && b->bytes > 0 && al < bl + b->bytes && bl < al + a->bytes;
}

/* Results overlapping anything are refused; an operand overlapping an earlier operand is
 * copied, since OpenCL leaves buffers over overlapping host memory undefined. */
static clmse_status check_overlaps(clmse_context *ctx, const char *fn, host_view *v)
{
    for (int i = 0; i < HV_COUNT; i++)
        for (int j = 0; j < i; j++) {
            if (v[i].h == NULL || v[j].h == NULL || !overlap(&v[i], &v[j]))
                continue;
            if (v[i].result || v[j].result)
                return clmse__fail(ctx, CLMSE_ERROR_INVALID_ARGUMENT, CL_SUCCESS,
                                   "%s: %s overlaps %s in host memory; results must not "
                                   "overlap other tensors",
                                   fn, hv_names[i], hv_names[j]);
            v[i].copy = 1;
        }
    return CLMSE_SUCCESS;
}

/* A copied result starts as a copy of its range, so that the elements between the view's
 * elements come back unchanged. */
static clmse_status make_buffer(clmse_context *ctx, const char *what, host_view *v)
{
    if (v->bytes == 0)
        return CLMSE_SUCCESS;
    cl_mem_flags flags = v->result ? CL_MEM_READ_WRITE : CL_MEM_READ_ONLY;
    flags |= v->copy ? CL_MEM_COPY_HOST_PTR : CL_MEM_USE_HOST_PTR;
    cl_int err = CL_SUCCESS;
    v->buf = clCreateBuffer(ctx->cl_ctx, flags, v->bytes, v->lo, &err);
    if (err != CL_SUCCESS) {
        v->buf = NULL;
        char call[96];
        snprintf(call, sizeof call, "clCreateBuffer(%s, %zu bytes)", what, v->bytes);
        return clmse__cl_fail(ctx, err, call);
    }
    v->t.buffer = v->buf;
    return CLMSE_SUCCESS;
}

/* Brings a result into host memory after `done` (NULL: the work is complete): a map of a
 * host-pointer buffer (which synchronises that memory) and its unmap, or a read of a copy.
 * *ev completes when it is there. */
static clmse_status fetch_result(clmse_context *ctx, host_view *v, cl_event done, cl_event *ev)
{
    cl_int err = CL_SUCCESS;
    const cl_uint num_done = done ? 1 : 0;
    const cl_event *after = done ? &done : NULL;
    if (v->copy) {
        err = clEnqueueReadBuffer(ctx->queue, v->buf, CL_FALSE, 0, v->bytes, v->lo, num_done, after,
                                  ev);
        return err == CL_SUCCESS ? CLMSE_SUCCESS
                                 : clmse__cl_fail(ctx, err, "clEnqueueReadBuffer(result)");
    }
    /* Blocking: Mesa's rusticl refuses to unmap a pointer whose map has not completed. */
    void *p = clEnqueueMapBuffer(ctx->queue, v->buf, CL_TRUE, CL_MAP_READ, 0, v->bytes, num_done,
                                 after, NULL, &err);
    if (err != CL_SUCCESS)
        return clmse__cl_fail(ctx, err, "clEnqueueMapBuffer(result)");
    err = clEnqueueUnmapMemObject(ctx->queue, v->buf, p, 0, NULL, ev);
    return err == CL_SUCCESS ? CLMSE_SUCCESS
                             : clmse__cl_fail(ctx, err, "clEnqueueUnmapMemObject(result)");
}

/* Both entry points: clmse_mse, or clmse_mse_partial into *partial when it is not NULL. */
static clmse_status host_run(clmse_context *ctx, const char *fn, const clmse_host_mse_args *args,
                             clmse_partial *partial)
{
    CLMSE_CHECK_ARG(ctx, args != NULL, "%s: args is NULL", fn);
    CLMSE_CHECK_ARG(ctx, args->input != NULL && args->target != NULL,
                    "%s: input and target are required", fn);
    CLMSE_CHECK_ARG(ctx,
                    partial != NULL || args->output != NULL || args->grad_input != NULL ||
                        args->grad_target != NULL,
                    "%s: no output, grad_input or grad_target: nothing to compute", fn);
    const clmse_host_tensor *given[HV_COUNT] = {args->input,  args->target,     args->grad_output,
                                                args->output, args->grad_input, args->grad_target};
    host_view v[HV_COUNT];
    memset(v, 0, sizeof v);
    for (int i = 0; i < HV_COUNT; i++) {
        v[i].result = i >= HV_OUT;
        if (given[i] != NULL)
            CLMSE_FORWARD(describe(ctx, fn, hv_names[i], given[i], &v[i]));
    }
    CLMSE_FORWARD(check_overlaps(ctx, fn, v));
    int wrap = 0;
    CLMSE_FORWARD(zero_copy(ctx, &wrap));
    for (int i = 0; i < HV_COUNT && !wrap; i++)
        v[i].copy = 1;

    clmse_status st = CLMSE_SUCCESS;
    cl_event done = NULL, fetched[HV_COUNT] = {NULL};
    cl_uint num_fetched = 0;
    for (int i = 0; i < HV_COUNT && st == CLMSE_SUCCESS; i++)
        if (v[i].h != NULL)
            st = make_buffer(ctx, hv_names[i], &v[i]);
    if (st == CLMSE_SUCCESS) {
        const clmse_mse_args a = {.reduction = args->reduction,
                                  .flags = args->flags,
                                  .input = &v[HV_X].t,
                                  .target = &v[HV_Y].t,
                                  .grad_output = v[HV_G].h ? &v[HV_G].t : NULL,
                                  .output = v[HV_OUT].h ? &v[HV_OUT].t : NULL,
                                  .grad_input = v[HV_GX].h ? &v[HV_GX].t : NULL,
                                  .grad_target = v[HV_GY].h ? &v[HV_GY].t : NULL,
                                  /* read behind its flag: a 0.2 caller's struct ends before */
                                  .mean_count =
                                      args->flags & CLMSE_MEAN_COUNT ? args->mean_count : 0};
        /* clmse_mse_partial returns with its work done: the results need no event */
        st = partial ? clmse_mse_partial(ctx, &a, partial, 0, NULL)
                     : clmse_mse(ctx, &a, 0, NULL, &done);
    }
    for (int i = HV_OUT; i < HV_COUNT && st == CLMSE_SUCCESS; i++)
        if (v[i].buf != NULL)
            st = fetch_result(ctx, &v[i], done, &fetched[num_fetched++]);
    if (st == CLMSE_SUCCESS && num_fetched > 0) {
        cl_int err = clWaitForEvents(num_fetched, fetched);
        if (err != CL_SUCCESS)
            st = clmse__cl_fail(ctx, err, "clWaitForEvents(results)");
    }
    /* A failed enqueue may leave earlier commands running on our buffers: wait for them before
     * the host memory goes back to the caller. */
    if (st != CLMSE_SUCCESS && done != NULL)
        clWaitForEvents(1, &done);
    for (cl_uint i = 0; i < num_fetched; i++)
        if (fetched[i] != NULL) {
            if (st != CLMSE_SUCCESS)
                clWaitForEvents(1, &fetched[i]);
            clReleaseEvent(fetched[i]);
        }
    if (done != NULL)
        clReleaseEvent(done);
    for (int i = 0; i < HV_COUNT; i++)
        if (v[i].buf != NULL)
            clReleaseMemObject(v[i].buf);
    return st;
}

clmse_status clmse_host_mse(clmse_context *ctx, const clmse_host_mse_args *args)
{
    CLMSE_FORWARD(clmse__check_context(ctx));
    return host_run(ctx, "clmse_host_mse", args, NULL);
}

clmse_status clmse_host_mse_partial(clmse_context *ctx, const clmse_host_mse_args *args,
                                    clmse_partial *partial)
{
    CLMSE_FORWARD(clmse__check_context(ctx));
    CLMSE_CHECK_ARG(ctx, partial != NULL, "clmse_host_mse_partial: partial is NULL");
    memset(partial, 0, sizeof(*partial));
    return host_run(ctx, "clmse_host_mse_partial", args, partial);
}
