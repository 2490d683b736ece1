/* SPDX-License-Identifier: MIT */
/* clmse_mse, the tensor API: validation, broadcasting, dimension collapsing, the contiguous
 * float32 fast path, and the general kernels for strides, dtypes and broadcast gradients. */
#include "internal.h"

#include <string.h>

/* The six tensors the pass kernel touches, in its argument order. */
enum { T_X, T_Y, T_LOSS, T_G, T_GX, T_GY, T_COUNT };

/* Everything clmse_mse decides before enqueueing. */
typedef struct plan_nd {
    const clmse_tensor *t[T_COUNT]; /* NULL: absent (loss/g/gx/gy) */
    int reduce;                     /* mean/sum with an output */
    int mean;
    int bcast[2];                   /* input / target broadcast: gradient needs a reduction */
    clmse_dtype promoted;
    uint32_t nd;                    /* broadcast rank */
    size_t shape[CLMSE_MAX_NDIM];   /* broadcast shape */
    size_t numel;                   /* broadcast element count */
    int64_t aligned[T_COUNT][CLMSE_MAX_NDIM]; /* strides in the broadcast index space */
    uint32_t cnd;                             /* the same, collapsed (see collapse()) */
    size_t cshape[CLMSE_MAX_NDIM];
    int64_t cstrides[T_COUNT][CLMSE_MAX_NDIM];
} plan_nd;

static clmse_status check_tensor(clmse_context *ctx, const char *what, const clmse_tensor *t,
                                 size_t *numel)
{
    size_t extent;
    CLMSE_FORWARD(clmse__check_floating(ctx, what, t->dtype));
    if (t->dtype == CLMSE_DTYPE_F64 && !ctx->info.has_fp64)
        return clmse__fail(ctx, CLMSE_ERROR_UNSUPPORTED_DTYPE, CL_SUCCESS,
                           "%s is float64, but device '%s' has no fp64 support", what,
                           ctx->info.name);
    CLMSE_FORWARD(clmse__tensor_extent(ctx, what, t, numel, &extent));
    if (*numel == 0)
        return CLMSE_SUCCESS; /* nothing is read or written: any buffer, even NULL, will do */
    CLMSE_CHECK_ARG(ctx, t->buffer != NULL, "%s has %zu elements but a NULL buffer", what,
                    *numel);
    return clmse__check_range(ctx, what, t->buffer, t->offset, extent, clmse_dtype_size(t->dtype));
}

static int same_shape(uint32_t na, const size_t *a, uint32_t nb, const size_t *b)
{
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof(size_t)) == 0);
}

/* A result (or grad_output) must have the expected dtype, and the expected shape or, for a
 * reduced loss, a single element. */
static clmse_status check_result(clmse_context *ctx, const char *what, const clmse_tensor *t,
                                 clmse_dtype dtype, int scalar, uint32_t nd, const size_t *shape)
{
    size_t numel;
    CLMSE_FORWARD(check_tensor(ctx, what, t, &numel));
    if (t->dtype != dtype)
        return clmse__fail(ctx, CLMSE_ERROR_INVALID_DTYPE, CL_SUCCESS,
                           "%s has dtype %s; it must be %s", what, clmse_dtype_name(t->dtype),
                           clmse_dtype_name(dtype));
    if (scalar ? numel == 1 : same_shape(t->ndim, t->shape, nd, shape))
        return CLMSE_SUCCESS;
    char got[200], want[200];
    clmse__format_shape(t->ndim, t->shape, got, sizeof got);
    clmse__format_shape(nd, shape, want, sizeof want);
    return clmse__fail(ctx, CLMSE_ERROR_SHAPE_MISMATCH, CL_SUCCESS, "%s has shape %s; it must be %s",
                       what, got, scalar ? "one element, e.g. ()" : want);
}

/* Strides of `t` in the broadcast index space: 0 where it is broadcast or absent. */
static void align(const clmse_tensor *t, uint32_t nd, int64_t *out)
{
    memset(out, 0, sizeof(int64_t) * CLMSE_MAX_NDIM);
    for (uint32_t k = 0; t != NULL && k < nd; k++) {
        if (k + t->ndim < nd)
            continue;
        const uint32_t j = k + t->ndim - nd;
        out[k] = t->shape[j] == 1 ? 0 : t->strides[j];
    }
}

/* 1 when some broadcast dimension of size != 1 maps onto a size-1 (or missing) one of t. */
static int is_broadcast(const clmse_tensor *t, uint32_t nd, const size_t *shape)
{
    for (uint32_t k = 0; k < nd; k++) {
        const size_t own = k + t->ndim >= nd ? t->shape[k + t->ndim - nd] : 1;
        if (own == 1 && shape[k] != 1)
            return 1;
    }
    return 0;
}

/* Drops size-1 dimensions and merges neighbours that every tensor walks contiguously, so the
 * kernel divides as little as possible: fills cnd, cshape and cstrides. */
static void collapse(plan_nd *p)
{
    size_t *shape = p->cshape;
    int64_t(*strides)[CLMSE_MAX_NDIM] = p->cstrides;
    uint32_t n = 0;
    for (uint32_t k = 0; k < p->nd; k++) {
        if (p->shape[k] == 1)
            continue;
        int merge = n > 0;
        for (int i = 0; i < T_COUNT && merge; i++)
            merge = strides[i][n - 1] == p->aligned[i][k] * (int64_t)p->shape[k];
        if (merge) {
            shape[n - 1] *= p->shape[k];
            for (int i = 0; i < T_COUNT; i++)
                strides[i][n - 1] = p->aligned[i][k];
            continue;
        }
        shape[n] = p->shape[k];
        for (int i = 0; i < T_COUNT; i++)
            strides[i][n] = p->aligned[i][k];
        n++;
    }
    p->cnd = n;
}

static clmse_status validate(clmse_context *ctx, const clmse_mse_args *a, plan_nd *p)
{
    memset(p, 0, sizeof(*p));
    CLMSE_CHECK_ARG(ctx, a != NULL, "clmse_mse: args is NULL");
    CLMSE_CHECK_ARG(ctx, a->input != NULL && a->target != NULL,
                    "clmse_mse: input and target are required");
    CLMSE_CHECK_ARG(ctx, a->output != NULL || a->grad_input != NULL || a->grad_target != NULL,
                    "clmse_mse: no output, grad_input or grad_target: nothing to compute");
    CLMSE_FORWARD(clmse__check_reduction(ctx, "clmse_mse", a->reduction));
    CLMSE_CHECK_ARG(ctx, (a->flags & ~CLMSE_STRICT_SHAPES) == 0, "clmse_mse: unknown flags 0x%x",
                    a->flags & ~CLMSE_STRICT_SHAPES);
    size_t nx, ny;
    CLMSE_FORWARD(check_tensor(ctx, "input", a->input, &nx));
    CLMSE_FORWARD(check_tensor(ctx, "target", a->target, &ny));
    const clmse_tensor *x = a->input, *y = a->target;
    if ((a->flags & CLMSE_STRICT_SHAPES) && !same_shape(x->ndim, x->shape, y->ndim, y->shape)) {
        char sx[200], sy[200];
        clmse__format_shape(x->ndim, x->shape, sx, sizeof sx);
        clmse__format_shape(y->ndim, y->shape, sy, sizeof sy);
        return clmse__fail(ctx, CLMSE_ERROR_SHAPE_MISMATCH, CL_SUCCESS,
                           "input shape %s and target shape %s differ (strict shapes)", sx, sy);
    }
    CLMSE_FORWARD(clmse__broadcast(ctx, x->ndim, x->shape, y->ndim, y->shape, &p->nd, p->shape));
    CLMSE_FORWARD(clmse_promote_dtypes(x->dtype, y->dtype, &p->promoted));
    p->numel = 1;
    for (uint32_t k = 0; k < p->nd; k++)
        p->numel *= p->shape[k]; /* bounded by the operands' counts: no overflow */

    const int scalar = a->reduction != CLMSE_REDUCTION_NONE;
    if (a->output)
        CLMSE_FORWARD(check_result(ctx, "output", a->output, p->promoted, scalar, p->nd, p->shape));
    if (a->grad_output)
        CLMSE_FORWARD(check_result(ctx, "grad_output", a->grad_output, p->promoted, scalar, p->nd,
                                   p->shape));
    if (a->grad_input)
        CLMSE_FORWARD(check_result(ctx, "grad_input", a->grad_input, x->dtype, 0, x->ndim,
                                   x->shape));
    if (a->grad_target)
        CLMSE_FORWARD(check_result(ctx, "grad_target", a->grad_target, y->dtype, 0, y->ndim,
                                   y->shape));

    p->reduce = a->output != NULL && scalar;
    p->mean = a->reduction == CLMSE_REDUCTION_MEAN;
    p->bcast[0] = is_broadcast(x, p->nd, p->shape);
    p->bcast[1] = is_broadcast(y, p->nd, p->shape);
    p->t[T_X] = x;
    p->t[T_Y] = y;
    p->t[T_LOSS] = scalar ? NULL : a->output;
    p->t[T_G] = a->grad_output;
    p->t[T_GX] = p->bcast[0] ? NULL : a->grad_input;
    p->t[T_GY] = p->bcast[1] ? NULL : a->grad_target;
    for (int i = 0; i < T_COUNT; i++)
        align(p->t[i], p->nd, p->aligned[i]);
    collapse(p);
    return CLMSE_SUCCESS;
}

/* Contiguous float32 or float64 of one dtype, with no broadcasting: the streaming kernels of
 * mse.c. */
static int fast_path(const clmse_mse_args *a, const plan_nd *p, clmse__mse_call *c)
{
    const uint32_t cnd = p->cnd;
    const int64_t(*cs)[CLMSE_MAX_NDIM] = p->cstrides;
    const clmse_dtype dt = a->input->dtype;
    if (p->numel == 0 || (dt != CLMSE_DTYPE_F32 && dt != CLMSE_DTYPE_F64) ||
        a->target->dtype != dt || p->bcast[0] || p->bcast[1] || cnd > 1)
        return 0;
    for (int i = 0; i < T_COUNT && cnd == 1; i++)
        if (p->t[i] != NULL && !(i == T_G && a->reduction != CLMSE_REDUCTION_NONE) &&
            cs[i][0] != 1) /* a reduced loss's grad_output is one element: stride 0 */
            return 0;
    if (p->t[T_G] != NULL && a->reduction != CLMSE_REDUCTION_NONE && cs[T_G][0] != 0)
        return 0;
    memset(c, 0, sizeof(*c));
    c->fn = "clmse_mse";
    c->dtype = dt;
    c->reduction = a->reduction;
    c->n = p->numel;
    c->x = a->input->buffer;
    c->xo = a->input->offset;
    c->y = a->target->buffer;
    c->yo = a->target->offset;
#define CLMSE_TAKE_(field, off, tensor) \
    if (tensor) {                       \
        c->field = (tensor)->buffer;    \
        c->off = (tensor)->offset;      \
    }
    CLMSE_TAKE_(out, oo, a->output)
    CLMSE_TAKE_(g, go, a->grad_output)
    CLMSE_TAKE_(gx, gxo, a->grad_input)
    CLMSE_TAKE_(gy, gyo, a->grad_target)
#undef CLMSE_TAKE_
    return 1;
}

static void put_shape(cl_ulong8 *v, const size_t *shape, uint32_t n)
{
    memset(v, 0, sizeof(*v));
    for (uint32_t k = 0; k < n; k++)
        v->s[k] = shape[k];
}

static void put_strides(cl_long8 *v, const int64_t *strides, uint32_t n)
{
    memset(v, 0, sizeof(*v));
    for (uint32_t k = 0; k < n; k++)
        v->s[k] = strides[k];
}

/* The scale 2/N (mean) or 2, rounded once to the compute type, as a kernel argument. */
typedef struct scale_arg {
    cl_float f;
    cl_double d;
    int is_double;
} scale_arg;

static clmse__karg scale_karg(const scale_arg *s)
{
    return s->is_double ? (clmse__karg){sizeof s->d, &s->d} : (clmse__karg){sizeof s->f, &s->f};
}

typedef struct tensor_args {
    cl_mem buf;
    cl_ulong off;
    cl_long8 strides;
} tensor_args;

static void tensor_karg(const clmse_tensor *t, const int64_t *strides, uint32_t n,
                        tensor_args *out)
{
    out->buf = t ? t->buffer : NULL;
    out->off = t ? t->offset : 0;
    put_strides(&out->strides, strides, n);
}

/* Stage 1 of the strided path: groups of the general plan, sized by the loop-bound rule with
 * an element costing its two index walks. */
static clmse_status enqueue_pass(clmse_context *ctx, const plan_nd *p, const clmse__program *prog,
                                 const scale_arg *scale, const clmse_tensor *output,
                                 cl_uint num_wait, const cl_event *wait, size_t *groups,
                                 cl_event *done)
{
    const cl_uint nd = p->cnd;
    const clmse__geometry geo = clmse__geometry_for(ctx, &prog->plan, prog->plan.work_group_size,
                                                    p->numel, 1 + 2 * (size_t)nd);
    *groups = geo.groups;
    /* A single group writes the loss itself; otherwise partials feed the fold. */
    const int direct = p->reduce && geo.groups == 1;
    if (p->reduce && geo.groups > 1)
        CLMSE_FORWARD(clmse__scratch_reserve(ctx, clmse__fold_scratch(ctx, prog, geo.groups)));

    const cl_ulong n = p->numel;
    cl_ulong8 shape8;
    put_shape(&shape8, p->cshape, nd);
    tensor_args ta[T_COUNT];
    for (int i = 0; i < T_COUNT; i++)
        tensor_karg(p->t[i], p->cstrides[i], nd, &ta[i]);
    const cl_mem partials = p->reduce && geo.groups > 1 ? ctx->scratch : NULL;
    const cl_mem direct_out = direct ? output->buffer : NULL;
    const cl_ulong direct_o = direct ? output->offset : 0;
    const cl_int mean = p->mean;
    const clmse__karg args[] = {
        {sizeof nd, &nd},
        {sizeof n, &n},
        {sizeof shape8, &shape8},
#define CLMSE_TENSOR_ARGS_(i) \
    {sizeof(cl_mem), &ta[i].buf}, {sizeof(cl_ulong), &ta[i].off}, {sizeof(cl_long8), &ta[i].strides}
        CLMSE_TENSOR_ARGS_(T_X),
        CLMSE_TENSOR_ARGS_(T_Y),
        CLMSE_TENSOR_ARGS_(T_LOSS),
        {sizeof(cl_mem), &partials},
        {sizeof(cl_mem), &direct_out},
        {sizeof direct_o, &direct_o},
        {sizeof mean, &mean},
        CLMSE_TENSOR_ARGS_(T_G),
        CLMSE_TENSOR_ARGS_(T_GX),
        CLMSE_TENSOR_ARGS_(T_GY),
#undef CLMSE_TENSOR_ARGS_
        scale_karg(scale),
    };
    const clmse__launch_desc l = {prog->kernels[CLMSE__K_PASS], "clmse_mse_nd_pass", args,
                                  (cl_uint)(sizeof args / sizeof args[0]), geo.global, geo.local,
                                  partials != NULL};
    return clmse__launch(ctx, &l, num_wait, wait, done);
}

/* The gradient of broadcast operand `which` (0 input, 1 target), summed on the device: each of
 * its m elements sums r terms, cut into segments that keep the loop-bound rule (a term costs
 * its index walk too), then folded segment pairs by segment pairs until one remains. */
static clmse_status enqueue_grad(clmse_context *ctx, const plan_nd *p, const clmse__program *prog,
                                 const scale_arg *scale, int which, const clmse_tensor *grad,
                                 cl_uint num_wait, const cl_event *wait, cl_event *done)
{
    const clmse_tensor *own = which ? p->t[T_Y] : p->t[T_X];
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
    int64_t grad_strides[CLMSE_MAX_NDIM];
    align(grad, p->nd, grad_strides);
    const cl_uint nd = p->nd;
    const cl_ulong fold = ctx->loop_budget;
    const cl_ulong seg = fold / (1 + nd) ? fold / (1 + nd) : 1;
    cl_ulong nseg = r > seg ? r / seg + (r % seg != 0) : 1; /* r == 0 still stores zeros */
    if (nseg > 1) /* the segments' pairs and one region for the fold's levels */
        CLMSE_FORWARD(clmse__scratch_reserve(
            ctx, (size_t)(m * (nseg + nseg / fold + 1)) * CLMSE__GSUM_BYTES));
    cl_ulong8 k8, r8;
    put_shape(&k8, kshape, nd);
    put_shape(&r8, rshape, nd);
    tensor_args tx, ty, tg, tgrad;
    tensor_karg(p->t[T_X], p->aligned[T_X], nd, &tx);
    tensor_karg(p->t[T_Y], p->aligned[T_Y], nd, &ty);
    tensor_karg(p->t[T_G], p->aligned[T_G], nd, &tg);
    tensor_karg(grad, grad_strides, nd, &tgrad);
    const cl_int sign = which ? -1 : 1;
    const cl_mem parts = nseg > 1 ? ctx->scratch : NULL;
    cl_ulong in_o = 0, out_o = m * nseg;
    const clmse__karg args[] = {
        {sizeof nd, &nd},     {sizeof m, &m},         {sizeof k8, &k8},
        {sizeof r8, &r8},     {sizeof r, &r},         {sizeof seg, &seg},
        {sizeof nseg, &nseg}, {sizeof(cl_mem), &tx.buf}, {8, &tx.off},
        {64, &tx.strides},    {sizeof(cl_mem), &ty.buf}, {8, &ty.off},
        {64, &ty.strides},    {sizeof(cl_mem), &tg.buf}, {8, &tg.off},
        {64, &tg.strides},    {sizeof(cl_mem), &tgrad.buf}, {8, &tgrad.off},
        {64, &tgrad.strides}, scale_karg(scale),      {sizeof sign, &sign},
        {sizeof(cl_mem), &parts}, {sizeof in_o, &in_o},
    };
    const size_t wg = prog->plan.work_group_size;
    clmse__launch_desc l = {prog->kernels[which ? CLMSE__K_GRAD_Y : CLMSE__K_GRAD_X],
                            "clmse_mse_nd_grad", args, (cl_uint)(sizeof args / sizeof args[0]),
                            (size_t)((m * nseg + wg - 1) / wg) * wg, wg, nseg > 1};
    CLMSE_FORWARD(clmse__launch(ctx, &l, num_wait, wait, done));
    while (nseg > 1) {
        const cl_ulong nout = nseg / fold + (nseg % fold != 0);
        const clmse__karg fargs[] = {
            {sizeof nd, &nd},     {sizeof m, &m},       {sizeof k8, &k8},
            {sizeof nseg, &nseg}, {sizeof fold, &fold}, {sizeof(cl_mem), &parts},
            {sizeof in_o, &in_o}, {sizeof out_o, &out_o}, {sizeof(cl_mem), &tgrad.buf},
            {8, &tgrad.off},      {64, &tgrad.strides},
        };
        const clmse__launch_desc f = {
            prog->kernels[which ? CLMSE__K_GRAD_Y_FOLD : CLMSE__K_GRAD_X_FOLD],
            "clmse_mse_nd_grad_fold", fargs, (cl_uint)(sizeof fargs / sizeof fargs[0]),
            (size_t)((m * nout + wg - 1) / wg) * wg, wg, 1};
        cl_event ev = NULL;
        clmse_status st = clmse__launch(ctx, &f, 0, NULL, &ev); /* after *done, by scratch */
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

static clmse_status enqueue_general(clmse_context *ctx, const clmse_mse_args *a, const plan_nd *p,
                                    cl_uint num_wait, const cl_event *wait, cl_event *event)
{
    const clmse__program_key key = {1, a->input->dtype, a->target->dtype, p->promoted};
    clmse__program *prog = NULL;
    const clmse_plan plan = clmse__plan_general(ctx);
    CLMSE_FORWARD(clmse__program_get(ctx, &key, &plan, &prog));

    const double s = a->reduction == CLMSE_REDUCTION_MEAN ? 2.0 / (double)p->numel : 2.0;
    const scale_arg scale = {(cl_float)s, s, p->promoted == CLMSE_DTYPE_F64};
    cl_event terminal[3] = {NULL, NULL, NULL}, pass_done = NULL;
    cl_uint nterm = 0;
    clmse_status st = CLMSE_SUCCESS;
    size_t groups = 0;
    const int pass_needed = p->numel > 0 && (p->reduce || p->t[T_LOSS] || p->t[T_GX] || p->t[T_GY]);

    if (pass_needed)
        st = enqueue_pass(ctx, p, prog, &scale, a->output, num_wait, wait, &groups, &pass_done);
    if (st == CLMSE_SUCCESS && p->reduce && groups != 1) {
        /* several partials, or the empty loss (sum 0, mean NaN) */
        st = pass_done ? clmse__enqueue_fold(ctx, prog, groups, p->numel, p->mean,
                                             a->output->buffer, a->output->offset, 1,
                                             &pass_done, &terminal[nterm])
                       : clmse__enqueue_fold(ctx, prog, 0, 0, p->mean, a->output->buffer,
                                             a->output->offset, num_wait, wait,
                                             &terminal[nterm]);
        if (st == CLMSE_SUCCESS)
            nterm++;
    } else if (pass_done) {
        terminal[nterm++] = pass_done;
        pass_done = NULL;
    }
    const clmse_tensor *grads[2] = {a->grad_input, a->grad_target};
    for (int w = 0; w < 2 && st == CLMSE_SUCCESS; w++) {
        size_t numel = 0, extent;
        if (!p->bcast[w] || grads[w] == NULL)
            continue;
        clmse__tensor_extent(ctx, "gradient", grads[w], &numel, &extent);
        if (numel == 0)
            continue;
        st = enqueue_grad(ctx, p, prog, &scale, w, grads[w], num_wait, wait, &terminal[nterm]);
        if (st == CLMSE_SUCCESS)
            nterm++;
    }
    if (st == CLMSE_SUCCESS && event != NULL) {
        if (nterm == 1) {
            *event = terminal[0];
            terminal[0] = NULL;
        } else {
            /* Several independent kernels (or none): one marker event stands for them all. */
            cl_int err = nterm ? clEnqueueMarkerWithWaitList(ctx->queue, nterm, terminal, event)
                               : clEnqueueMarkerWithWaitList(ctx->queue, num_wait, wait, event);
            if (err != CL_SUCCESS)
                st = clmse__cl_fail(ctx, err, "clEnqueueMarkerWithWaitList");
        }
    }
    if (pass_done)
        clReleaseEvent(pass_done);
    for (cl_uint i = 0; i < nterm; i++)
        if (terminal[i])
            clReleaseEvent(terminal[i]);
    return st;
}

clmse_status clmse_mse(clmse_context *ctx, const clmse_mse_args *args, cl_uint num_wait,
                       const cl_event *wait_list, cl_event *event)
{
    if (event)
        *event = NULL;
    CLMSE_FORWARD(clmse__check_context(ctx));
    CLMSE_CHECK_ARG(ctx, (num_wait == 0) == (wait_list == NULL),
                    "clmse_mse: num_wait is %u but wait_list is %s", (unsigned)num_wait,
                    wait_list ? "not NULL" : "NULL");
    plan_nd p;
    CLMSE_FORWARD(validate(ctx, args, &p));

    clmse__mse_call call;
    if (fast_path(args, &p, &call)) {
        call.num_wait = num_wait;
        call.wait = wait_list;
        call.event = event;
        return clmse__mse_run(ctx, &call);
    }
    pthread_mutex_lock(&ctx->lock);
    clmse_status st = enqueue_general(ctx, args, &p, num_wait, wait_list, event);
    pthread_mutex_unlock(&ctx->lock);
    return st;
}
