/* SPDX-License-Identifier: MIT */
/* MSE forward, backward and fused on contiguous device buffers: validation, the streaming
 * pass, and the fold of its partials (launch.c). */
#include "internal.h"

static clmse_status validate(clmse_context *ctx, const clmse__mse_call *c)
{
    CLMSE_CHECK_ARG(ctx, (c->num_wait == 0) == (c->wait == NULL),
                    "%s: num_wait is %u but wait_list is %s", c->fn, (unsigned)c->num_wait,
                    c->wait ? "not NULL" : "NULL");
    CLMSE_FORWARD(clmse__check_reduction(ctx, c->fn, c->reduction));
    CLMSE_CHECK_ARG(ctx, c->x != NULL, "%s: input buffer is NULL", c->fn);
    CLMSE_CHECK_ARG(ctx, c->y != NULL, "%s: target buffer is NULL", c->fn);
    CLMSE_CHECK_ARG(ctx, c->out != NULL || !c->need_output, "%s: output buffer is NULL", c->fn);
    CLMSE_CHECK_ARG(ctx, c->gx != NULL || c->gy != NULL || !c->need_grad,
                    "%s: grad_input and grad_target are both NULL: nothing to compute", c->fn);
    const size_t scalar_or_n = c->reduction == CLMSE_REDUCTION_NONE ? c->n : 1;
    const size_t f = clmse_dtype_size(c->dtype);
    CLMSE_FORWARD(clmse__check_range(ctx, "input", c->x, c->xo, c->n, f));
    CLMSE_FORWARD(clmse__check_range(ctx, "target", c->y, c->yo, c->n, f));
    if (c->out)
        CLMSE_FORWARD(clmse__check_range(ctx, "output", c->out, c->oo, scalar_or_n, f));
    if (c->g)
        CLMSE_FORWARD(clmse__check_range(ctx, "grad_output", c->g, c->go, scalar_or_n, f));
    if (c->gx)
        CLMSE_FORWARD(clmse__check_range(ctx, "grad_input", c->gx, c->gxo, c->n, f));
    if (c->gy)
        CLMSE_FORWARD(clmse__check_range(ctx, "grad_target", c->gy, c->gyo, c->n, f));
    return CLMSE_SUCCESS;
}

/* Stage 1: the streaming pass, after the caller's events. */
static clmse_status enqueue_pass(clmse_context *ctx, const clmse__mse_call *c, const clmse__program *p,
                                 const clmse__geometry *geo, int reduce, cl_event *done)
{
    const cl_mem none = NULL;
    const cl_mem loss = c->reduction == CLMSE_REDUCTION_NONE ? c->out : NULL;
    /* A single group or item writes the loss itself; otherwise partials feed the fold. */
    const cl_mem partials = reduce && geo->groups > 1 ? ctx->scratch : NULL;
    const cl_mem direct_out = reduce && geo->groups == 1 ? c->out : NULL;
    const cl_int mean = c->reduction == CLMSE_REDUCTION_MEAN;
    const cl_ulong n = c->n, xo = c->xo, yo = c->yo, oo = c->oo, go = c->go, gxo = c->gxo,
                   gyo = c->gyo, chunk = geo->chunk;
    const cl_ulong gstride = c->reduction == CLMSE_REDUCTION_NONE ? 1 : 0;
    /* torch: norm = 2/N in double, rounded once to the data type. */
    const cl_double scale_d = c->reduction == CLMSE_REDUCTION_MEAN ? 2.0 / (double)c->n : 2.0;
    const cl_float scale_f = (cl_float)scale_d;
    const clmse__karg scale = c->dtype == CLMSE_DTYPE_F64
                                  ? (clmse__karg){sizeof scale_d, &scale_d}
                                  : (clmse__karg){sizeof scale_f, &scale_f};
    const clmse__karg args[] = {
        {sizeof n, &n},         {sizeof(cl_mem), &c->x},  {sizeof xo, &xo},
        {sizeof(cl_mem), &c->y}, {sizeof yo, &yo},         {sizeof(cl_mem), &loss},
        {sizeof oo, &oo},       {sizeof(cl_mem), &partials}, {sizeof(cl_mem), &direct_out},
        {sizeof oo, &oo},       {sizeof mean, &mean},     {sizeof(cl_mem), c->g ? &c->g : &none},
        {sizeof go, &go},       {sizeof gstride, &gstride}, {sizeof(cl_mem), &c->gx},
        {sizeof gxo, &gxo},     {sizeof(cl_mem), &c->gy}, {sizeof gyo, &gyo},
        scale,                  {sizeof chunk, &chunk},
    };
    const clmse__launch_desc l = {p->kernels[CLMSE__K_PASS], "clmse_mse_pass", args,
                                  (cl_uint)(sizeof args / sizeof args[0]), geo->global,
                                  geo->local, partials != NULL};
    return clmse__launch(ctx, &l, c->num_wait, c->wait, done);
}

static clmse_status enqueue_locked(clmse_context *ctx, const clmse__mse_call *c)
{
    clmse__program *p = NULL;
    const clmse__program_key key = {0, c->dtype, c->dtype, c->dtype};
    const clmse_op op = c->out == NULL ? CLMSE_OP_BACKWARD
                        : c->gx != NULL || c->gy != NULL ? CLMSE_OP_FUSED
                                                         : CLMSE_OP_FORWARD;
    const clmse_plan *plan = &ctx->plans[c->dtype][op][clmse_size_class_of(c->n)];
    CLMSE_FORWARD(clmse__program_get(ctx, &key, plan, &p));
    const int reduce = c->out != NULL && c->reduction != CLMSE_REDUCTION_NONE;
    const int mean = c->reduction == CLMSE_REDUCTION_MEAN;
    cl_event pass_done = NULL, final_done = NULL;
    clmse_status st = CLMSE_SUCCESS;
    clmse__geometry geo = {0, 0, 0, 0};

    if (c->n > 0) {
        geo = clmse__geometry_for(ctx, plan, p->plan.work_group_size, c->n, 1);
        if (reduce && geo.groups > 1)
            CLMSE_FORWARD(clmse__scratch_reserve(ctx, clmse__fold_scratch(ctx, p, geo.groups)));
        CLMSE_FORWARD(enqueue_pass(ctx, c, p, &geo, reduce, &pass_done));
    }
    if (reduce && c->n > 0 && geo.groups > 1)
        st = clmse__enqueue_fold(ctx, p, geo.groups, c->n, mean, c->out, c->oo, 1, &pass_done,
                                 &final_done);
    else if (reduce && c->n == 0) /* the empty loss: sum 0, mean NaN */
        st = clmse__enqueue_fold(ctx, p, 0, 0, mean, c->out, c->oo, c->num_wait, c->wait,
                                 &final_done);
    else if (c->n == 0 && c->event != NULL) {
        cl_int err = clEnqueueMarkerWithWaitList(ctx->queue, c->num_wait, c->wait, &pass_done);
        if (err != CL_SUCCESS)
            st = clmse__cl_fail(ctx, err, "clEnqueueMarkerWithWaitList");
    }
    cl_event last = final_done ? final_done : pass_done;
    if (final_done && pass_done)
        clReleaseEvent(pass_done);
    if (st == CLMSE_SUCCESS && c->event != NULL)
        *c->event = last;
    else if (last != NULL)
        clReleaseEvent(last);
    return st;
}

clmse_status clmse__mse_run(clmse_context *ctx, const clmse__mse_call *c)
{
    if (c->event)
        *c->event = NULL;
    CLMSE_FORWARD(clmse__check_context(ctx));
    CLMSE_FORWARD(validate(ctx, c));
    pthread_mutex_lock(&ctx->lock);
    clmse_status st = enqueue_locked(ctx, c);
    pthread_mutex_unlock(&ctx->lock);
    return st;
}

clmse_status clmse_mse_forward_f32(clmse_context *ctx, clmse_reduction reduction, size_t n,
                                   cl_mem input, size_t input_offset, cl_mem target,
                                   size_t target_offset, cl_mem output, size_t output_offset,
                                   cl_uint num_wait, const cl_event *wait_list, cl_event *event)
{
    const clmse__mse_call c = {.fn = "clmse_mse_forward_f32", .need_output = 1, .reduction = reduction, .n = n,
                        .x = input, .xo = input_offset, .y = target, .yo = target_offset,
                        .out = output, .oo = output_offset, .num_wait = num_wait,
                        .wait = wait_list, .event = event};
    return clmse__mse_run(ctx, &c);
}

clmse_status clmse_mse_backward_f32(clmse_context *ctx, clmse_reduction reduction, size_t n,
                                    cl_mem input, size_t input_offset, cl_mem target,
                                    size_t target_offset, cl_mem grad_output,
                                    size_t grad_output_offset, cl_mem grad_input,
                                    size_t grad_input_offset, cl_mem grad_target,
                                    size_t grad_target_offset, cl_uint num_wait,
                                    const cl_event *wait_list, cl_event *event)
{
    const clmse__mse_call c = {.fn = "clmse_mse_backward_f32", .need_grad = 1, .reduction = reduction, .n = n,
                        .x = input, .xo = input_offset, .y = target, .yo = target_offset,
                        .g = grad_output, .go = grad_output_offset, .gx = grad_input,
                        .gxo = grad_input_offset, .gy = grad_target, .gyo = grad_target_offset,
                        .num_wait = num_wait, .wait = wait_list, .event = event};
    return clmse__mse_run(ctx, &c);
}

clmse_status clmse_mse_forward_backward_f32(
    clmse_context *ctx, clmse_reduction reduction, size_t n, cl_mem input, size_t input_offset,
    cl_mem target, size_t target_offset, cl_mem output, size_t output_offset, cl_mem grad_output,
    size_t grad_output_offset, cl_mem grad_input, size_t grad_input_offset, cl_mem grad_target,
    size_t grad_target_offset, cl_uint num_wait, const cl_event *wait_list, cl_event *event)
{
    const clmse__mse_call c = {.fn = "clmse_mse_forward_backward_f32", .need_output = 1, .reduction = reduction, .n = n,
                        .x = input, .xo = input_offset, .y = target, .yo = target_offset,
                        .out = output, .oo = output_offset, .g = grad_output,
                        .go = grad_output_offset, .gx = grad_input, .gxo = grad_input_offset,
                        .gy = grad_target, .gyo = grad_target_offset, .num_wait = num_wait,
                        .wait = wait_list, .event = event};
    return clmse__mse_run(ctx, &c);
}
