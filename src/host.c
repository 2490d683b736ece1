/* SPDX-License-Identifier: MIT */
/* The blocking host-array layer: copy in, run the device operation, copy out. */
#include "internal.h"

#include <stdint.h>

typedef enum host_op { HOST_FORWARD, HOST_BACKWARD, HOST_FUSED } host_op;

typedef struct host_call {
    const char *fn;
    host_op op;
    clmse_reduction reduction;
    size_t n;
    const float *x, *y, *g;
    float *out, *gx, *gy;
} host_call;

/* Buffers a host array: inputs are copied in, outputs allocated. NULL array: no buffer. A zero
 * count still gets one element, since OpenCL refuses empty buffers. */
static clmse_status make_buffer(clmse_context *ctx, const void *host, size_t count, int input,
                                cl_mem *out)
{
    *out = NULL;
    if (host == NULL)
        return CLMSE_SUCCESS;
    size_t bytes = (count ? count : 1) * sizeof(float);
    cl_mem_flags flags = input ? CL_MEM_READ_ONLY : CL_MEM_READ_WRITE;
    if (input && count > 0)
        flags |= CL_MEM_COPY_HOST_PTR;
    cl_int err = CL_SUCCESS;
    *out = clCreateBuffer(ctx->cl_ctx, flags, bytes, input && count ? (void *)host : NULL, &err);
    if (err != CL_SUCCESS) {
        *out = NULL;
        return clmse__cl_fail(ctx, err, "clCreateBuffer(host array)");
    }
    return CLMSE_SUCCESS;
}

static clmse_status read_back(clmse_context *ctx, cl_mem buf, float *host, size_t count,
                              cl_event after)
{
    if (buf == NULL || count == 0)
        return CLMSE_SUCCESS;
    cl_int err = clEnqueueReadBuffer(ctx->queue, buf, CL_TRUE, 0, count * sizeof(float), host,
                                     after ? 1 : 0, after ? &after : NULL, NULL);
    if (err != CL_SUCCESS)
        return clmse__cl_fail(ctx, err, "clEnqueueReadBuffer(result)");
    return CLMSE_SUCCESS;
}

static clmse_status host_run(clmse_context *ctx, const host_call *c)
{
    CLMSE_FORWARD(clmse__check_context(ctx));
    CLMSE_FORWARD(clmse__check_reduction(ctx, c->fn, c->reduction));
    const int reduced = c->reduction != CLMSE_REDUCTION_NONE;
    CLMSE_CHECK_ARG(ctx, c->n == 0 || (c->x != NULL && c->y != NULL),
                    "%s: input or target array is NULL", c->fn);
    CLMSE_CHECK_ARG(ctx, c->op == HOST_BACKWARD || c->out != NULL || (!reduced && c->n == 0),
                    "%s: output array is NULL", c->fn);
    CLMSE_CHECK_ARG(ctx, c->op != HOST_BACKWARD || c->gx != NULL || c->gy != NULL,
                    "%s: grad_input and grad_target are both NULL: nothing to compute", c->fn);
    if (c->n > SIZE_MAX / sizeof(float))
        return clmse__fail(ctx, CLMSE_ERROR_SIZE_OVERFLOW, CL_SUCCESS,
                           "%s: %zu floats overflow size_t", c->fn, c->n);

    const size_t out_count = reduced ? 1 : c->n;
    cl_mem bx = NULL, by = NULL, bg = NULL, bout = NULL, bgx = NULL, bgy = NULL;
    cl_event done = NULL;
    clmse_status st;
    if ((st = make_buffer(ctx, c->x, c->n, 1, &bx)) != CLMSE_SUCCESS ||
        (st = make_buffer(ctx, c->y, c->n, 1, &by)) != CLMSE_SUCCESS ||
        (st = make_buffer(ctx, c->g, out_count, 1, &bg)) != CLMSE_SUCCESS ||
        (st = make_buffer(ctx, c->out, out_count, 0, &bout)) != CLMSE_SUCCESS ||
        (st = make_buffer(ctx, c->gx, c->n, 0, &bgx)) != CLMSE_SUCCESS ||
        (st = make_buffer(ctx, c->gy, c->n, 0, &bgy)) != CLMSE_SUCCESS)
        goto cleanup;
    if (c->n == 0 && bx == NULL) {
        /* Empty inputs may come as NULL arrays; the device call still wants buffers. */
        if ((st = make_buffer(ctx, "", 0, 1, &bx)) != CLMSE_SUCCESS ||
            (st = make_buffer(ctx, "", 0, 1, &by)) != CLMSE_SUCCESS)
            goto cleanup;
    }

    switch (c->op) {
    case HOST_FORWARD:
        st = clmse_mse_forward_f32(ctx, c->reduction, c->n, bx, 0, by, 0, bout, 0, 0, NULL, &done);
        break;
    case HOST_BACKWARD:
        st = clmse_mse_backward_f32(ctx, c->reduction, c->n, bx, 0, by, 0, bg, 0, bgx, 0, bgy, 0, 0,
                                    NULL, &done);
        break;
    case HOST_FUSED:
        st = clmse_mse_fused_f32(ctx, c->reduction, c->n, bx, 0, by, 0, bout, 0, bg, 0, bgx, 0, bgy,
                                 0, 0, NULL, &done);
        break;
    }
    if (st == CLMSE_SUCCESS)
        st = read_back(ctx, bout, c->out, out_count, done);
    if (st == CLMSE_SUCCESS)
        st = read_back(ctx, bgx, c->gx, c->n, done);
    if (st == CLMSE_SUCCESS)
        st = read_back(ctx, bgy, c->gy, c->n, done);
    if (st == CLMSE_SUCCESS && done != NULL) {
        cl_int err = clWaitForEvents(1, &done);
        if (err != CL_SUCCESS)
            st = clmse__cl_fail(ctx, err, "clWaitForEvents");
    }

cleanup:
    if (done)
        clReleaseEvent(done);
    cl_mem all[] = {bx, by, bg, bout, bgx, bgy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i])
            clReleaseMemObject(all[i]);
    return st;
}

clmse_status clmse_host_forward_f32(clmse_context *ctx, clmse_reduction reduction, size_t n,
                                    const float *input, const float *target, float *output)
{
    const host_call c = {.fn = "clmse_host_forward_f32",
                         .op = HOST_FORWARD,
                         .reduction = reduction,
                         .n = n,
                         .x = input,
                         .y = target,
                         .out = output};
    return host_run(ctx, &c);
}

clmse_status clmse_host_backward_f32(clmse_context *ctx, clmse_reduction reduction, size_t n,
                                     const float *input, const float *target,
                                     const float *grad_output, float *grad_input,
                                     float *grad_target)
{
    const host_call c = {.fn = "clmse_host_backward_f32",
                         .op = HOST_BACKWARD,
                         .reduction = reduction,
                         .n = n,
                         .x = input,
                         .y = target,
                         .g = grad_output,
                         .gx = grad_input,
                         .gy = grad_target};
    return host_run(ctx, &c);
}

clmse_status clmse_host_fused_f32(clmse_context *ctx, clmse_reduction reduction, size_t n,
                                  const float *input, const float *target, const float *grad_output,
                                  float *output, float *grad_input, float *grad_target)
{
    const host_call c = {.fn = "clmse_host_fused_f32",
                         .op = HOST_FUSED,
                         .reduction = reduction,
                         .n = n,
                         .x = input,
                         .y = target,
                         .g = grad_output,
                         .out = output,
                         .gx = grad_input,
                         .gy = grad_target};
    return host_run(ctx, &c);
}
