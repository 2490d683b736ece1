/* SPDX-License-Identifier: MIT */
/* The one launch module of both paths, for requests mse.c has validated: the loop-bound rule
 * and the stage-1 geometry it gives, the shared scratch buffer, enqueueing a kernel in order,
 * the fold of partials, and the passes of the contiguous (cl/mse.cl) and strided kernels.
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

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A stage-1 launch: `groups` work-groups of `local` items (global = groups * local); the CPU
 * shape's items stream `chunk` elements each. */
typedef struct geometry {
    size_t groups, local, global;
    cl_ulong chunk;
} geometry;

/* A kernel argument: its size and where its value is. */
typedef struct karg {
    size_t size;
    const void *value;
} karg;

/* One kernel launch: its arguments and geometry, and whether it touches scratch (then it
 * waits for the last command that did, and becomes that command). */
typedef struct launch_desc {
    cl_kernel kernel;
    const char *name; /* for error messages */
    const karg *args;
    cl_uint num_args;
    size_t global, local;
    int uses_scratch;
} launch_desc;

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

/* The geometry of plan `p` (built with work-group size `wg`) for n > 0 elements, each costing
 * `cost` loop iterations in a GPU-shaped kernel: a function of its arguments alone, so a given
 * n always reduces in the same order; it keeps the loop-bound rule for every n. */
static geometry geometry_for(const clmse_context *ctx, const clmse_plan *p, size_t wg, size_t n,
                             size_t cost)
{
    const size_t budget = ctx->loop_budget;
    geometry g;
    if (p->shape == CLMSE_SHAPE_CPU) {
        /* One loop iteration streams vector_width elements; max_groups groups of wg items. */
        const size_t most = p->vector_width * budget;
        size_t items = clamp(ceil_div(n, p->min_per_item), 1, p->max_groups * wg);
        if (items < ceil_div(n, most))
            items = ceil_div(n, most);
        /* whole vector steps per item: chunk <= most, since n / items <= most */
        const size_t chunk = ceil_div(ceil_div(n, items), p->vector_width) * p->vector_width;
        g.groups = ceil_div(ceil_div(n, chunk), wg);
        g.local = wg;
        g.global = g.groups * wg;
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

/* Grows scratch to at least `bytes`. */
static clmse_status scratch_reserve(clmse_context *ctx, size_t bytes)
{
    if (ctx->scratch_size >= bytes)
        return CLMSE_SUCCESS;
    /* At least 1 MiB (32,768 partials), and doubling: a buffer that grows rarely. Oclgrind
     * 21.10's uninitialized-value checks also lose track of what kernels wrote into a scratch
     * buffer that replaced a smaller one (reads reported as uninitialized, values right). */
    size_t want = ctx->scratch_size ? 2 * ctx->scratch_size : (size_t)1 << 20;
    bytes = want > bytes ? want : bytes;
    if (ctx->scratch)
        clReleaseMemObject(ctx->scratch);
    ctx->scratch = NULL;
    ctx->scratch_size = 0;
    cl_int err = CL_SUCCESS;
    cl_mem m = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS)
        return clmse__cl_fail(ctx, err, "clCreateBuffer(scratch)");
    ctx->scratch = m;
    ctx->scratch_size = bytes;
    return CLMSE_SUCCESS;
}

/* clmse_reduce_final folds at most this many partials per group, the budget per item. */
static size_t fold_cap(const clmse_context *ctx, const clmse__program *p)
{
    return p->plan.final_work_group_size * ctx->loop_budget;
}

/* Scratch bytes the fold of `count` partials needs, the partials included. */
static size_t fold_scratch(const clmse_context *ctx, const clmse__program *p, size_t count)
{
    /* Levels alternate between the partials and one region after them. */
    const size_t cap = fold_cap(ctx, p);
    return (count + (count > cap ? ceil_div(count, cap) : 0)) * CLMSE__PART_BYTES;
}

/* Sets kernel arguments in order from (size, pointer) pairs. */
static cl_int set_args(cl_kernel k, const karg *args, cl_uint count)
{
    for (cl_uint i = 0; i < count; i++) {
        cl_int err = clSetKernelArg(k, i, args[i].size, args[i].value);
        if (err != CL_SUCCESS)
            return err;
    }
    return CL_SUCCESS;
}

/* Wait lists up to this long need no allocation. */
#define WAIT_STACK 16

/* Builds a wait list of the caller's events plus `extra` (may be NULL) into `stack`
 * (WAIT_STACK slots) or malloc'd memory; free with wait_list_free. */
static clmse_status wait_list(clmse_context *ctx, cl_uint num_wait, const cl_event *wait,
                              cl_event extra, cl_event *stack, cl_event **list, cl_uint *count)
{
    *list = stack;
    *count = 0; /* defined on every return, failures included */
    if (num_wait + 1 > WAIT_STACK && (*list = malloc(sizeof(cl_event) * (num_wait + 1u))) == NULL)
        return clmse__fail(ctx, CLMSE_ERROR_OUT_OF_HOST_MEMORY, CL_SUCCESS,
                           "no memory for a wait list of %u events", (unsigned)num_wait);
    for (cl_uint i = 0; i < num_wait; i++)
        (*list)[i] = wait[i];
    *count = num_wait;
    if (extra != NULL)
        (*list)[(*count)++] = extra;
    return CLMSE_SUCCESS;
}

static void wait_list_free(cl_event *list, cl_event *stack)
{
    if (list != stack)
        free(list);
}

/* Records `ev` (retained) as the last command using scratch. */
static void scratch_use(clmse_context *ctx, cl_event ev)
{
    clRetainEvent(ev);
    if (ctx->last_scratch_use)
        clReleaseEvent(ctx->last_scratch_use);
    ctx->last_scratch_use = ev;
}

static clmse_status launch(clmse_context *ctx, const launch_desc *l, cl_uint num_wait,
                           const cl_event *wait, cl_event *done)
{
    cl_int err = set_args(l->kernel, l->args, l->num_args);
    if (err != CL_SUCCESS) {
        char call[96];
        snprintf(call, sizeof call, "clSetKernelArg(%s)", l->name);
        return clmse__cl_fail(ctx, err, call);
    }
    /* Every command that touches scratch waits for the one before it: they share the buffer. */
    cl_event stack[WAIT_STACK], *list;
    cl_uint count;
    CLMSE_FORWARD(wait_list(ctx, num_wait, wait, l->uses_scratch ? ctx->last_scratch_use : NULL,
                            stack, &list, &count));
    const size_t global = l->global, local = l->local;
    err = clEnqueueNDRangeKernel(ctx->queue, l->kernel, 1, NULL, &global, &local, count,
                                 count ? list : NULL, done);
    wait_list_free(list, stack);
    if (err != CL_SUCCESS) {
        char call[96];
        snprintf(call, sizeof call, "clEnqueueNDRangeKernel(%s)", l->name);
        return clmse__cl_fail(ctx, err, call);
    }
    if (l->uses_scratch)
        scratch_use(ctx, *done);
    return CLMSE_SUCCESS;
}

/* Where a reduced loss goes: rounded once into out[oo] (the mean over mean_n elements, or the
 * sum), or, when out is NULL, left unrounded in scratch, its index in *raw_at, for
 * clmse_mse_partial to read. */
typedef struct loss_dest {
    int mean;
    cl_ulong mean_n;
    cl_mem out;
    cl_ulong oo;
    cl_ulong *raw_at;
} loss_dest;

/* Folds `count` partials in scratch (0: none) into the loss with clmse_reduce_final, in as
 * many launches as the loop-bound rule needs, after the caller's events; *done is the last. */
static clmse_status enqueue_fold(clmse_context *ctx, const clmse__program *p, size_t count,
                                 const loss_dest *d, cl_uint num_wait, const cl_event *wait,
                                 cl_event *done)
{
    const size_t cap = fold_cap(ctx, p), wg = p->plan.final_work_group_size;
    const cl_int mean_flag = d->mean;
    cl_ulong in_o = 0, other = count;
    *done = NULL;
    for (;;) {
        const size_t groups = count > cap ? ceil_div(count, cap) : 1;
        const cl_mem partials = count ? ctx->scratch : NULL;
        const cl_uint cnt = (cl_uint)count, seg = (cl_uint)(groups > 1 ? cap : count);
        const karg args[] = {
            {sizeof(cl_mem), &partials},
            {sizeof in_o, &in_o},
            {sizeof cnt, &cnt},
            {sizeof seg, &seg},
            {sizeof other, &other},
            {sizeof d->mean_n, &d->mean_n},
            {sizeof mean_flag, &mean_flag},
            {sizeof(cl_mem), &d->out},
            {sizeof d->oo, &d->oo},
        };
        const launch_desc l = {p->kernels[CLMSE__K_FINAL],
                               "clmse_reduce_final",
                               args,
                               (cl_uint)(sizeof args / sizeof args[0]),
                               groups * wg,
                               wg,
                               count > 0};
        if (groups == 1 && d->raw_at != NULL)
            *d->raw_at = other; /* the last launch's one group writes partials[other] */
        cl_event ev = NULL;
        clmse_status st = launch(ctx, &l, *done ? 0 : num_wait, *done ? NULL : wait, &ev);
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

/* The scale 2/N (mean) or 2 of the gradients: torch's norm, computed in double and rounded
 * once to the compute type, which the kernels take as an argument. */
typedef struct scale_arg {
    cl_float f;
    cl_double d;
    int is_double;
} scale_arg;

static scale_arg scale_of(clmse_reduction reduction, size_t mean_n, int is_double)
{
    const double s = reduction == CLMSE_REDUCTION_MEAN ? 2.0 / (double)mean_n : 2.0;
    return (scale_arg){(cl_float)s, s, is_double};
}

static karg scale_karg(const scale_arg *s)
{
    return s->is_double ? (karg){sizeof s->d, &s->d} : (karg){sizeof s->f, &s->f};
}

/* The final-launch choice of a reduced loss, the same on both paths. After a stage 1 of
 * `groups` partials (pass_done) the fold runs, unless a single group wrote the loss itself
 * (*done stays NULL; pass_done may then be NULL too; an unrounded sum is then partials[0]);
 * with no stage 1 (n is 0) the fold writes the empty loss, sum 0 or mean NaN (0 / 0), after
 * the caller's events, and an unrounded sum is not written (its reader knows it is 0). */
static clmse_status enqueue_loss(clmse_context *ctx, const clmse__program *p, size_t groups,
                                 size_t n, const loss_dest *d, cl_event pass_done, cl_uint num_wait,
                                 const cl_event *wait, cl_event *done)
{
    *done = NULL;
    if (n == 0)
        return d->out ? enqueue_fold(ctx, p, 0, d, num_wait, wait, done) : CLMSE_SUCCESS;
    if (groups == 1) {
        if (d->raw_at)
            *d->raw_at = 0;
        return CLMSE_SUCCESS;
    }
    return enqueue_fold(ctx, p, groups, d, 1, &pass_done, done);
}

/* Gives the caller one event for the `nterm` commands that end a call, and releases them: the
 * command itself when there is one, else a marker after them (or, with none, after the
 * caller's own events). */
static clmse_status finish(clmse_context *ctx, clmse_status st, cl_event *terminal, cl_uint nterm,
                           cl_uint num_wait, const cl_event *wait, cl_event *event)
{
    if (st == CLMSE_SUCCESS && event != NULL) {
        if (nterm == 1) {
            *event = terminal[0];
            terminal[0] = NULL;
        } else {
            cl_int err = nterm ? clEnqueueMarkerWithWaitList(ctx->queue, nterm, terminal, event)
                               : clEnqueueMarkerWithWaitList(ctx->queue, num_wait, wait, event);
            if (err != CL_SUCCESS)
                st = clmse__cl_fail(ctx, err, "clEnqueueMarkerWithWaitList");
        }
    }
    for (cl_uint i = 0; i < nterm; i++)
        if (terminal[i])
            clReleaseEvent(terminal[i]);
    return st;
}

/* ---- the contiguous path: cl/mse.cl ---- */

/* cl/mse.cl's CLMSE_OUT_*: what clmse_mse_pass's `out` argument holds. */
enum { OUT_NONE, OUT_LOSS, OUT_DIRECT, OUT_PARTIALS };

/* The scale's bits as the kernel unpacks them (as_float of the low 32 bits, or as_double). */
static cl_ulong scale_bits(const scale_arg *s)
{
    cl_ulong bits = 0;
    if (s->is_double) {
        memcpy(&bits, &s->d, sizeof s->d);
    } else {
        cl_uint b32 = 0;
        memcpy(&b32, &s->f, sizeof s->f);
        bits = b32;
    }
    return bits;
}

/* Stage 1: the streaming pass, after the caller's events. A forward (no gradients) runs
 * clmse_mse_loss, which takes 4 of clmse_mse_pass's 7 arguments. */
static clmse_status contiguous_pass(clmse_context *ctx, const clmse__mse_call *c,
                                    const clmse__program *p, const geometry *geo, int reduce,
                                    cl_event *done)
{
    const cl_mem none = NULL;
    /* A single group or item writes the loss itself; otherwise partials feed the fold. An
     * unrounded sum (a partial) always goes to the partials. */
    const int single = geo->groups == 1 && c->partial_at == NULL;
    const int kind = c->reduction == CLMSE_REDUCTION_NONE ? (c->out ? OUT_LOSS : OUT_NONE)
                     : !reduce                            ? OUT_NONE
                     : single                             ? OUT_DIRECT
                                                          : OUT_PARTIALS;
    const cl_mem out = kind == OUT_NONE ? NULL : kind == OUT_PARTIALS ? ctx->scratch : c->out;
    const cl_ulong gstride = c->reduction == CLMSE_REDUCTION_NONE ? 1 : 0;
    const cl_ulong mean = c->reduction == CLMSE_REDUCTION_MEAN;
    const scale_arg scale = scale_of(c->reduction, c->mean_n, c->dtype == CLMSE_DTYPE_F64);
    /* In the order mse_pass unpacks them (cl/mse.cl). */
    const cl_ulong16 packed = {{c->n, c->xo, c->yo, c->oo, c->go, gstride, c->gxo, c->gyo,
                                geo->chunk, mean, c->mean_n, (cl_ulong)kind, scale_bits(&scale)}};
    const cl_mem *g = c->g ? &c->g : &none;
    const karg loss_args[] = {{sizeof(cl_mem), &c->x},
                              {sizeof(cl_mem), &c->y},
                              {sizeof(cl_mem), &out},
                              {sizeof packed, &packed}};
    const karg pass_args[] = {{sizeof(cl_mem), &c->x},  {sizeof(cl_mem), &c->y},
                              {sizeof(cl_mem), &out},   {sizeof(cl_mem), g},
                              {sizeof(cl_mem), &c->gx}, {sizeof(cl_mem), &c->gy},
                              {sizeof packed, &packed}};
    const int forward = c->gx == NULL && c->gy == NULL;
    const launch_desc l = {p->kernels[forward ? CLMSE__K_LOSS : CLMSE__K_PASS],
                           forward ? "clmse_mse_loss" : "clmse_mse_pass",
                           forward ? loss_args : pass_args,
                           forward ? (cl_uint)(sizeof loss_args / sizeof loss_args[0])
                                   : (cl_uint)(sizeof pass_args / sizeof pass_args[0]),
                           geo->global,
                           geo->local,
                           kind == OUT_PARTIALS};
    return launch(ctx, &l, c->num_wait, c->wait, done);
}

static clmse_status enqueue_contiguous(clmse_context *ctx, const clmse__mse_call *c)
{
    clmse__program *p = NULL;
    const clmse__program_key key = {0, c->dtype, c->dtype, c->dtype};
    const int loss_wanted = c->out != NULL || c->partial_at != NULL;
    const clmse_op op = !loss_wanted                     ? CLMSE_OP_BACKWARD
                        : c->gx != NULL || c->gy != NULL ? CLMSE_OP_FUSED
                                                         : CLMSE_OP_FORWARD;
    const clmse_plan *plan = &ctx->plans[c->dtype][op][clmse_size_class_of(c->n)];
    CLMSE_FORWARD(clmse__program_get(ctx, &key, plan, &p));
    const int reduce = loss_wanted && c->reduction != CLMSE_REDUCTION_NONE;
    const loss_dest dest = {c->reduction == CLMSE_REDUCTION_MEAN, c->mean_n, c->out, c->oo,
                            c->partial_at};
    cl_event pass_done = NULL, terminal = NULL;
    clmse_status st = CLMSE_SUCCESS;
    geometry geo = {0, 0, 0, 0};

    if (c->n > 0) {
        geo = geometry_for(ctx, plan, p->plan.work_group_size, c->n, 1);
        const int to_scratch = reduce && (geo.groups > 1 || c->partial_at != NULL);
        if (to_scratch)
            CLMSE_FORWARD(scratch_reserve(ctx, fold_scratch(ctx, p, geo.groups)));
        /* An event costs the implementation an allocation per call: only the fold and the
         * caller's own event need this one (pipelined small calls, measured on POCL). */
        const int need_done = c->event != NULL || to_scratch;
        CLMSE_FORWARD(contiguous_pass(ctx, c, p, &geo, reduce, need_done ? &pass_done : NULL));
    }
    if (reduce)
        st = enqueue_loss(ctx, p, geo.groups, c->n, &dest, pass_done, c->num_wait, c->wait,
                          &terminal);
    if (terminal == NULL) {
        terminal = pass_done;
        pass_done = NULL;
    }
    if (pass_done)
        clReleaseEvent(pass_done);
    return finish(ctx, st, &terminal, terminal ? 1 : 0, c->num_wait, c->wait, c->event);
}

clmse_status clmse__enqueue_contiguous(clmse_context *ctx, const clmse__mse_call *c)
{
    pthread_mutex_lock(&ctx->lock);
    clmse_status st = enqueue_contiguous(ctx, c);
    pthread_mutex_unlock(&ctx->lock);
    return st;
}

/* ---- the strided path: cl/mse_strided.cl ---- */

static void put_shape(cl_ulong8 *v, const size_t *shape, uint32_t n)
{
    memset(v, 0, sizeof(*v));
    for (uint32_t k = 0; k < n; k++)
        v->s[k] = shape[k];
}

/* A tensor as the strided kernels take it: buffer, element offset and 8 strides. */
typedef struct tensor_args {
    cl_mem buf;
    cl_ulong off;
    cl_long8 strides;
} tensor_args;

static void tensor_karg(const clmse_tensor *t, const int64_t *strides, uint32_t n, tensor_args *out)
{
    out->buf = t ? t->buffer : NULL;
    out->off = t ? t->offset : 0;
    memset(&out->strides, 0, sizeof out->strides);
    for (uint32_t k = 0; k < n; k++)
        out->strides.s[k] = strides[k];
}

/* A tensor_args' three kernel arguments. */
#define TENSOR_KARGS(ta)                                        \
    {sizeof(cl_mem), &(ta).buf}, {sizeof((ta).off), &(ta).off}, \
    {                                                           \
        sizeof((ta).strides), &(ta).strides                     \
    }

/* Stage 1 of the strided path: groups of the strided plan, sized by the loop-bound rule with
 * an element costing its two index walks. */
static clmse_status strided_pass(clmse_context *ctx, const clmse__mse_layout *p,
                                 const clmse__program *prog, const scale_arg *scale,
                                 const clmse_tensor *output, cl_uint num_wait, const cl_event *wait,
                                 size_t *groups, cl_event *done)
{
    const cl_uint nd = p->cnd;
    const geometry geo =
        geometry_for(ctx, &prog->plan, prog->plan.work_group_size, p->numel, 1 + 2 * (size_t)nd);
    *groups = geo.groups;
    /* A single group writes the loss itself; otherwise, or for an unrounded sum (a partial),
     * partials feed the fold. */
    const int direct = p->reduce && geo.groups == 1 && p->partial_at == NULL;
    const int to_scratch = p->reduce && !direct;
    if (to_scratch)
        CLMSE_FORWARD(scratch_reserve(ctx, fold_scratch(ctx, prog, geo.groups)));

    const cl_ulong n = p->numel;
    cl_ulong8 shape8;
    put_shape(&shape8, p->cshape, nd);
    tensor_args ta[CLMSE__T_COUNT];
    for (int i = 0; i < CLMSE__T_COUNT; i++)
        tensor_karg(p->t[i], p->cstrides[i], nd, &ta[i]);
    const cl_mem partials = to_scratch ? ctx->scratch : NULL;
    const cl_mem direct_out = direct ? output->buffer : NULL;
    const cl_ulong direct_o = direct ? output->offset : 0;
    const cl_int mean = p->mean;
    const cl_ulong mean_n = p->mean_n;
    const karg args[] = {
        {sizeof nd, &nd},
        {sizeof n, &n},
        {sizeof shape8, &shape8},
        TENSOR_KARGS(ta[CLMSE__T_X]),
        TENSOR_KARGS(ta[CLMSE__T_Y]),
        TENSOR_KARGS(ta[CLMSE__T_LOSS]),
        {sizeof(cl_mem), &partials},
        {sizeof(cl_mem), &direct_out},
        {sizeof direct_o, &direct_o},
        {sizeof mean, &mean},
        {sizeof mean_n, &mean_n},
        TENSOR_KARGS(ta[CLMSE__T_G]),
        TENSOR_KARGS(ta[CLMSE__T_GX]),
        TENSOR_KARGS(ta[CLMSE__T_GY]),
        scale_karg(scale),
    };
    const launch_desc l = {prog->kernels[CLMSE__K_PASS],
                           "clmse_mse_strided_pass",
                           args,
                           (cl_uint)(sizeof args / sizeof args[0]),
                           geo.global,
                           geo.local,
                           partials != NULL};
    return launch(ctx, &l, num_wait, wait, done);
}

/* The gradient of broadcast operand `which` (0 input, 1 target), summed on the device: each of
 * its m elements sums r terms, cut into segments that keep the loop-bound rule (a term costs
 * its index walk too), then folded segment pairs by segment pairs until one remains. */
static clmse_status strided_grad(clmse_context *ctx, const clmse__mse_layout *p,
                                 const clmse__program *prog, const scale_arg *scale, int which,
                                 cl_uint num_wait, const cl_event *wait, cl_event *done)
{
    const clmse_tensor *own = which ? p->t[CLMSE__T_Y] : p->t[CLMSE__T_X];
    size_t kshape[CLMSE_MAX_NDIM] = {0}, rshape[CLMSE_MAX_NDIM] = {0};
    cl_ulong m = 1, r = 1;
    for (uint32_t k = 0; k < p->nd; k++) {
        const size_t o = k + own->ndim >= p->nd ? own->shape[k + own->ndim - p->nd] : 1;
        const int reduced = o == 1 && p->shape[k] != 1;
        kshape[k] = reduced ? 1 : p->shape[k];
        rshape[k] = reduced ? p->shape[k] : 1;
        m *= kshape[k];
        r *= rshape[k];
    }
    const cl_uint nd = p->nd;
    const cl_ulong fold = ctx->loop_budget;
    const cl_ulong seg = fold / (1 + nd) ? fold / (1 + nd) : 1;
    cl_ulong nseg = r > seg ? r / seg + (r % seg != 0) : 1; /* r == 0 still stores zeros */
    if (nseg > 1) /* the segments' pairs and one region for the fold's levels */
        CLMSE_FORWARD(
            scratch_reserve(ctx, (size_t)(m * (nseg + nseg / fold + 1)) * CLMSE__GSUM_BYTES));
    cl_ulong8 k8, r8;
    put_shape(&k8, kshape, nd);
    put_shape(&r8, rshape, nd);
    tensor_args tx, ty, tg, tgrad;
    tensor_karg(p->t[CLMSE__T_X], p->aligned[CLMSE__T_X], nd, &tx);
    tensor_karg(p->t[CLMSE__T_Y], p->aligned[CLMSE__T_Y], nd, &ty);
    tensor_karg(p->t[CLMSE__T_G], p->aligned[CLMSE__T_G], nd, &tg);
    tensor_karg(p->bgrad[which], p->bgrad_strides[which], nd, &tgrad);
    const cl_int sign = which ? -1 : 1;
    const cl_mem parts = nseg > 1 ? ctx->scratch : NULL;
    cl_ulong in_o = 0, out_o = m * nseg;
    const karg args[] = {
        {sizeof nd, &nd},     {sizeof m, &m},           {sizeof k8, &k8},     {sizeof r8, &r8},
        {sizeof r, &r},       {sizeof seg, &seg},       {sizeof nseg, &nseg}, TENSOR_KARGS(tx),
        TENSOR_KARGS(ty),     TENSOR_KARGS(tg),         TENSOR_KARGS(tgrad),  scale_karg(scale),
        {sizeof sign, &sign}, {sizeof(cl_mem), &parts}, {sizeof in_o, &in_o},
    };
    const size_t wg = prog->plan.work_group_size;
    launch_desc l = {prog->kernels[which ? CLMSE__K_GRAD_Y : CLMSE__K_GRAD_X],
                     "clmse_mse_strided_grad",
                     args,
                     (cl_uint)(sizeof args / sizeof args[0]),
                     (size_t)((m * nseg + wg - 1) / wg) * wg,
                     wg,
                     nseg > 1};
    CLMSE_FORWARD(launch(ctx, &l, num_wait, wait, done));
    while (nseg > 1) {
        const cl_ulong nout = nseg / fold + (nseg % fold != 0);
        const karg fargs[] = {
            {sizeof nd, &nd},     {sizeof m, &m},         {sizeof k8, &k8},
            {sizeof nseg, &nseg}, {sizeof fold, &fold},   {sizeof(cl_mem), &parts},
            {sizeof in_o, &in_o}, {sizeof out_o, &out_o}, TENSOR_KARGS(tgrad),
        };
        const launch_desc f = {prog->kernels[which ? CLMSE__K_GRAD_Y_FOLD : CLMSE__K_GRAD_X_FOLD],
                               "clmse_mse_strided_grad_fold",
                               fargs,
                               (cl_uint)(sizeof fargs / sizeof fargs[0]),
                               (size_t)((m * nout + wg - 1) / wg) * wg,
                               wg,
                               1};
        cl_event ev = NULL;
        clmse_status st = launch(ctx, &f, 0, NULL, &ev); /* after *done, by scratch */
        clReleaseEvent(*done);
        *done = ev;
        if (st != CLMSE_SUCCESS)
            return st;
        nseg = nout;
        const cl_ulong t = in_o;
        in_o = out_o;
        out_o = t;
    }
    return CLMSE_SUCCESS;
}

static clmse_status enqueue_strided(clmse_context *ctx, const clmse_mse_args *a,
                                    const clmse__mse_layout *p, cl_uint num_wait,
                                    const cl_event *wait, cl_event *event)
{
    const clmse__program_key key = {1, a->input->dtype, a->target->dtype, p->promoted};
    clmse__program *prog = NULL;
    const clmse_plan plan = clmse__plan_strided(ctx);
    CLMSE_FORWARD(clmse__program_get(ctx, &key, &plan, &prog));

    const scale_arg scale = scale_of(a->reduction, p->mean_n, p->promoted == CLMSE_DTYPE_F64);
    cl_event terminal[3] = {NULL, NULL, NULL}, pass_done = NULL;
    cl_uint nterm = 0;
    clmse_status st = CLMSE_SUCCESS;
    size_t groups = 0;
    const int pass_needed = p->numel > 0 && (p->reduce || p->t[CLMSE__T_LOSS] ||
                                             p->t[CLMSE__T_GX] || p->t[CLMSE__T_GY]);

    if (pass_needed)
        st = strided_pass(ctx, p, prog, &scale, a->output, num_wait, wait, &groups, &pass_done);
    if (st == CLMSE_SUCCESS && p->reduce) {
        const loss_dest dest = {p->mean, p->mean_n, a->output ? a->output->buffer : NULL,
                                a->output ? a->output->offset : 0, p->partial_at};
        st = enqueue_loss(ctx, prog, groups, p->numel, &dest, pass_done, num_wait, wait,
                          &terminal[nterm]);
        if (terminal[nterm] != NULL)
            nterm++;
    }
    if (pass_done != NULL && nterm == 0) {
        terminal[nterm++] = pass_done;
        pass_done = NULL;
    }
    for (int w = 0; w < 2 && st == CLMSE_SUCCESS; w++) {
        if (p->bgrad[w] == NULL)
            continue;
        st = strided_grad(ctx, p, prog, &scale, w, num_wait, wait, &terminal[nterm]);
        if (st == CLMSE_SUCCESS)
            nterm++;
    }
    if (pass_done)
        clReleaseEvent(pass_done);
    return finish(ctx, st, terminal, nterm, num_wait, wait, event);
}

clmse_status clmse__enqueue_strided(clmse_context *ctx, const clmse_mse_args *a,
                                    const clmse__mse_layout *p, cl_uint num_wait,
                                    const cl_event *wait, cl_event *event)
{
    pthread_mutex_lock(&ctx->lock);
    clmse_status st = enqueue_strided(ctx, a, p, num_wait, wait, event);
    pthread_mutex_unlock(&ctx->lock);
    return st;
}

/* ---- the unrounded sum of clmse_mse_partial ---- */

/* Reads the part_t at scratch index `at` (cl/common.cl: sum, [compensation,] rescue flag)
 * after `done`, and gives it as the public partial of `count` elements. */
static clmse_status read_partial(clmse_context *ctx, clmse_dtype promoted, cl_ulong at,
                                 cl_event done, size_t count, clmse_partial *out)
{
    const int kind = clmse__acc_kind(ctx, promoted == CLMSE_DTYPE_F64);
    union {
        cl_float f[4];
        cl_double d[4];
    } part;
    const size_t bytes = kind == 2 ? 4 * sizeof(cl_double) : 4 * sizeof(cl_float);
    cl_int err = clEnqueueReadBuffer(ctx->queue, ctx->scratch, CL_TRUE, (size_t)at * bytes, bytes,
                                     &part, 1, &done, NULL);
    if (err != CL_SUCCESS)
        return clmse__cl_fail(ctx, err, "clEnqueueReadBuffer(partial)");
    double sum, low, scaled;
    if (kind == 0) { /* float4: sum, compensation, flag, 0 */
        sum = part.f[0];
        low = part.f[1];
        scaled = part.f[2];
    } else if (kind == 1) { /* double2: sum, flag */
        sum = part.d[0];
        low = 0.0;
        scaled = part.d[1];
    } else { /* double4: sum, compensation, flag, 0 */
        sum = part.d[0];
        low = part.d[1];
        scaled = part.d[2];
    }
    out->count = count;
    out->flags = isnan(sum) ? CLMSE_PARTIAL_NAN : isinf(sum) ? CLMSE_PARTIAL_INF : 0u;
    /* A non-finite sum's compensation is meaningless (Inf - Inf): the flags say it all. */
    const int finite = out->flags == 0;
    out->sum = finite ? sum : 0.0;
    out->sum_low = finite ? low : 0.0;
    out->exponent = finite && scaled != 0.0 ? 64 : 0;
    return CLMSE_SUCCESS;
}

clmse_status clmse__enqueue_partial(clmse_context *ctx, const clmse_mse_args *a,
                                    const clmse__mse_layout *p, const clmse__mse_call *contiguous,
                                    cl_uint num_wait, const cl_event *wait, clmse_partial *out)
{
    cl_event done = NULL;
    clmse_status st;
    pthread_mutex_lock(&ctx->lock);
    if (contiguous) {
        clmse__mse_call c = *contiguous;
        c.num_wait = num_wait;
        c.wait = wait;
        c.event = &done;
        st = enqueue_contiguous(ctx, &c);
    } else {
        st = enqueue_strided(ctx, a, p, num_wait, wait, &done);
    }
    /* The read waits for every command of the call (done is their last or their marker),
     * under the lock, so no later call can reuse scratch before it. */
    if (st == CLMSE_SUCCESS && p->numel > 0)
        st = read_partial(ctx, p->promoted, *p->partial_at, done, p->numel, out);
    else if (st == CLMSE_SUCCESS && done != NULL) {
        const cl_int err = clWaitForEvents(1, &done); /* the gradients of an empty loss */
        if (err != CL_SUCCESS)
            st = clmse__cl_fail(ctx, err, "clWaitForEvents");
    }
    pthread_mutex_unlock(&ctx->lock);
    if (done)
        clReleaseEvent(done);
    return st;
}
