/* SPDX-License-Identifier: MIT */
/* The one launch module of both paths: the loop-bound rule and the stage-1 geometry it gives,
 * enqueueing a kernel in order with the shared scratch buffer, and the fold of partials.
 *
 * The loop-bound rule. Drivers do not let a work-item loop for ever: llvmpipe (Mesa rusticl)
 * silently ends a work-item's loops after 65,535 iterations, nested loops counted together,
 * and GPU watchdogs kill long kernels. So every launch here is sized from n such that no
 * work-item runs more than CLMSE__LOOP_BUDGET iterations of its streaming loop (an element
 * of the strided path counts 1 + 2 * ndim: its index walks are loops too), at most as many
 * again for an overflow rescue (cl/common.cl, part_t), and a few dozen for lane folds and
 * local trees. A plan's max_groups and min_per_item are preferences the rule overrides: where
 * n is large enough, the launch has more groups than max_groups. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

static size_t ceil_div(size_t a, size_t b) { return a / b + (a % b != 0); }

static size_t clamp(size_t v, size_t lo, size_t hi) { return v < lo ? lo : v > hi ? hi : v; }

size_t clmse__loop_budget(void)
{
    const char *v = getenv("CLMSE_LOOP_BUDGET");
    char *end = NULL;
    const unsigned long b = v ? strtoul(v, &end, 10) : 0;
    return v && *v && *end == '\0' && b >= 8 && b <= CLMSE__LOOP_BUDGET ? (size_t)b
                                                                      : CLMSE__LOOP_BUDGET;
}

clmse__geometry clmse__geometry_for(const clmse_context *ctx, const clmse_plan *p, size_t wg,
                                    size_t n, size_t cost)
{
    const size_t budget = ctx->loop_budget;
    clmse__geometry g;
    if (p->shape == CLMSE_SHAPE_CPU) {
        /* One loop iteration streams vector_width elements. */
        const size_t most = p->vector_width * budget;
        size_t items = clamp(ceil_div(n, p->min_per_item), 1, p->max_groups);
        if (items < ceil_div(n, most))
            items = ceil_div(n, most);
        /* whole vector steps per item: chunk <= most, since n / items <= most */
        const size_t chunk = ceil_div(ceil_div(n, items), p->vector_width) * p->vector_width;
        g.groups = ceil_div(n, chunk);
        g.local = 1;
        g.global = g.groups;
        g.chunk = chunk;
    } else {
        const size_t per_item = budget / cost ? budget / cost : 1;
        size_t groups = clamp(ceil_div(n, wg * p->min_per_item), 1, p->max_groups);
        if (groups < ceil_div(n, wg * per_item))
            groups = ceil_div(n, wg * per_item);
        g.groups = groups;
        g.local = wg;
        g.global = groups * wg;
        g.chunk = 0;
    }
    return g;
}

/* clmse_reduce_final folds at most this many partials per group, the budget per item. */
static size_t fold_cap(const clmse_context *ctx, const clmse__program *p)
{
    return p->plan.final_work_group_size * ctx->loop_budget;
}

size_t clmse__fold_scratch(const clmse_context *ctx, const clmse__program *p, size_t count)
{
    /* Levels alternate between the partials and one region after them. */
    const size_t cap = fold_cap(ctx, p);
    return (count + (count > cap ? ceil_div(count, cap) : 0)) * CLMSE__PART_BYTES;
}

cl_int clmse__set_args(cl_kernel k, const clmse__karg *args, cl_uint count)
{
    for (cl_uint i = 0; i < count; i++) {
        cl_int err = clSetKernelArg(k, i, args[i].size, args[i].value);
        if (err != CL_SUCCESS)
            return err;
    }
    return CL_SUCCESS;
}

clmse_status clmse__wait_list(clmse_context *ctx, cl_uint num_wait, const cl_event *wait,
                              cl_event extra, cl_event *stack, cl_event **list, cl_uint *count)
{
    *list = stack;
    *count = 0; /* defined on every return, failures included */
    if (num_wait + 1 > 16 && (*list = malloc(sizeof(cl_event) * (num_wait + 1u))) == NULL)
        return clmse__fail(ctx, CLMSE_ERROR_OUT_OF_HOST_MEMORY, CL_SUCCESS,
                           "no memory for a wait list of %u events", (unsigned)num_wait);
    for (cl_uint i = 0; i < num_wait; i++)
        (*list)[i] = wait[i];
    *count = num_wait;
    if (extra != NULL)
        (*list)[(*count)++] = extra;
    return CLMSE_SUCCESS;
}

void clmse__wait_list_free(cl_event *list, cl_event *stack)
{
    if (list != stack)
        free(list);
}

void clmse__scratch_use(clmse_context *ctx, cl_event ev)
{
    clRetainEvent(ev);
    if (ctx->last_scratch_use)
        clReleaseEvent(ctx->last_scratch_use);
    ctx->last_scratch_use = ev;
}

clmse_status clmse__launch(clmse_context *ctx, const clmse__launch_desc *l, cl_uint num_wait,
                           const cl_event *wait, cl_event *done)
{
    cl_int err = clmse__set_args(l->kernel, l->args, l->num_args);
    if (err != CL_SUCCESS) {
        char call[96];
        snprintf(call, sizeof call, "clSetKernelArg(%s)", l->name);
        return clmse__cl_fail(ctx, err, call);
    }
    /* Every command that touches scratch waits for the one before it: they share the buffer. */
    cl_event stack[16], *list;
    cl_uint count;
    CLMSE_FORWARD(clmse__wait_list(ctx, num_wait, wait,
                                   l->uses_scratch ? ctx->last_scratch_use : NULL, stack, &list,
                                   &count));
    const size_t global = l->global, local = l->local;
    err = clEnqueueNDRangeKernel(ctx->queue, l->kernel, 1, NULL, &global, &local, count,
                                 count ? list : NULL, done);
    clmse__wait_list_free(list, stack);
    if (err != CL_SUCCESS) {
        char call[96];
        snprintf(call, sizeof call, "clEnqueueNDRangeKernel(%s)", l->name);
        return clmse__cl_fail(ctx, err, call);
    }
    if (l->uses_scratch)
        clmse__scratch_use(ctx, *done);
    return CLMSE_SUCCESS;
}

clmse_status clmse__enqueue_fold(clmse_context *ctx, const clmse__program *p, size_t count,
                                 cl_ulong n, int mean, cl_mem out, cl_ulong oo, cl_uint num_wait,
                                 const cl_event *wait, cl_event *done)
{
    const size_t cap = fold_cap(ctx, p), wg = p->plan.final_work_group_size;
    const cl_int mean_flag = mean;
    cl_ulong in_o = 0, other = count;
    *done = NULL;
    for (;;) {
        const size_t groups = count > cap ? ceil_div(count, cap) : 1;
        const cl_mem partials = count ? ctx->scratch : NULL;
        const cl_uint cnt = (cl_uint)count, seg = (cl_uint)(groups > 1 ? cap : count);
        const clmse__karg args[] = {
            {sizeof(cl_mem), &partials}, {sizeof in_o, &in_o}, {sizeof cnt, &cnt},
            {sizeof seg, &seg},          {sizeof other, &other}, {sizeof n, &n},
            {sizeof mean_flag, &mean_flag}, {sizeof(cl_mem), &out}, {sizeof oo, &oo},
        };
        const clmse__launch_desc l = {p->kernels[CLMSE__K_FINAL], "clmse_reduce_final", args,
                                      (cl_uint)(sizeof args / sizeof args[0]), groups * wg, wg,
                                      count > 0};
        cl_event ev = NULL;
        clmse_status st = clmse__launch(ctx, &l, *done ? 0 : num_wait, *done ? NULL : wait, &ev);
        if (*done)
            clReleaseEvent(*done);
        *done = ev;
        if (st != CLMSE_SUCCESS || groups == 1)
            return st;
        count = groups;
        const cl_ulong t = in_o;
        in_o = other;
        other = t;
    }
}
