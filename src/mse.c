/* SPDX-License-Identifier: MIT */
/* The MSE entry points and their validation: the three _f32 calls on contiguous float32
 * buffers, and clmse_mse on tensors (broadcasting, dimension collapsing, and the choice of the
 * contiguous or the strided kernels). launch.c enqueues what passes. */
#include "internal.h"

#include <string.h>

/* Every entry point's wait-list rule: a count with a list, none without. */
static clmse_status check_wait_list(clmse_context *ctx, const char *fn, cl_uint num_wait,
                                    const cl_event *wait)
{
    CLMSE_CHECK_ARG(ctx, (num_wait == 0) == (wait == NULL),
                    "%s: num_wait is %u but wait_list is %s", fn, (unsigned)num_wait,
                    wait ? "not NULL" : "NULL");
    return CLMSE_SUCCESS;
}

/* The checks of the _f32 entry points, whose messages name the function. */
static clmse_status check_call(clmse_context *ctx, const clmse__mse_call *c)
{
    CLMSE_FORWARD(check_wait_list(ctx, c->fn, c->num_wait, c->wait));
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

static clmse_status run_f32(clmse_context *ctx, const clmse__mse_call *c)
{
    if (c->event)
        *c->event = NULL;
    CLMSE_FORWARD(clmse__check_context(ctx));
    CLMSE_FORWARD(check_call(ctx, c));
    return clmse__enqueue_contiguous(ctx, c);
}

/* What the three _f32 calls share: the operands, the caller's events, and the name that every
 * message of theirs begins with. */
static clmse__mse_call f32_call(const char *fn, clmse_reduction reduction, size_t n, cl_mem x,
                                size_t xo, cl_mem y, size_t yo, cl_uint num_wait,
                                const cl_event *wait, cl_event *event)
{
    return (clmse__mse_call){.fn = fn,
                             .reduction = reduction,
                             .n = n,
                             .mean_n = n,
                             .x = x,
                             .xo = xo,
                             .y = y,
                             .yo = yo,
                             .num_wait = num_wait,
                             .wait = wait,
                             .event = event};
}

static void set_grads(clmse__mse_call *c, cl_mem g, size_t go, cl_mem gx, size_t gxo, cl_mem gy,
                      size_t gyo)
{
    c->g = g;
    c->go = go;
    c->gx = gx;
    c->gxo = gxo;
    c->gy = gy;
    c->gyo = gyo;
}

clmse_status clmse_mse_forward_f32(clmse_context *ctx, clmse_reduction reduction, size_t n,
                                   cl_mem input, size_t input_offset, cl_mem target,
                                   size_t target_offset, cl_mem output, size_t output_offset,
                                   cl_uint num_wait, const cl_event *wait_list, cl_event *event)
{
    clmse__mse_call c = f32_call("clmse_mse_forward_f32", reduction, n, input, input_offset, target,
                                 target_offset, num_wait, wait_list, event);
    c.need_output = 1;
    c.out = output;
    c.oo = output_offset;
    return run_f32(ctx, &c);
}

clmse_status clmse_mse_backward_f32(clmse_context *ctx, clmse_reduction reduction, size_t n,
                                    cl_mem input, size_t input_offset, cl_mem target,
                                    size_t target_offset, cl_mem grad_output,
                                    size_t grad_output_offset, cl_mem grad_input,
                                    size_t grad_input_offset, cl_mem grad_target,
                                    size_t grad_target_offset, cl_uint num_wait,
                                    const cl_event *wait_list, cl_event *event)
{
    clmse__mse_call c = f32_call("clmse_mse_backward_f32", reduction, n, input, input_offset,
                                 target, target_offset, num_wait, wait_list, event);
    c.need_grad = 1;
    set_grads(&c, grad_output, grad_output_offset, grad_input, grad_input_offset, grad_target,
              grad_target_offset);
    return run_f32(ctx, &c);
}

clmse_status clmse_mse_fused_f32(clmse_context *ctx, clmse_reduction reduction, size_t n,
                                 cl_mem input, size_t input_offset, cl_mem target,
                                 size_t target_offset, cl_mem output, size_t output_offset,
                                 cl_mem grad_output, size_t grad_output_offset, cl_mem grad_input,
                                 size_t grad_input_offset, cl_mem grad_target,
                                 size_t grad_target_offset, cl_uint num_wait,
                                 const cl_event *wait_list, cl_event *event)
{
    clmse__mse_call c = f32_call("clmse_mse_fused_f32", reduction, n, input, input_offset, target,
                                 target_offset, num_wait, wait_list, event);
    c.need_output = 1;
    c.out = output;
    c.oo = output_offset;
    set_grads(&c, grad_output, grad_output_offset, grad_input, grad_input_offset, grad_target,
              grad_target_offset);
    return run_f32(ctx, &c);
}

/* ---- clmse_mse ---- */

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
    CLMSE_CHECK_ARG(ctx, t->buffer != NULL, "%s has %zu elements but a NULL buffer", what, *numel);
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
    return clmse__fail(ctx, CLMSE_ERROR_SHAPE_MISMATCH, CL_SUCCESS,
                       "%s has shape %s; it must be %s", what, got,
                       scalar ? "one element, e.g. ()" : want);
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
static void collapse(clmse__mse_layout *p)
{
    size_t *shape = p->cshape;
    int64_t(*strides)[CLMSE_MAX_NDIM] = p->cstrides;
    uint32_t n = 0;
    for (uint32_t k = 0; k < p->nd; k++) {
        if (p->shape[k] == 1)
            continue;
        int merge = n > 0;
        for (int i = 0; i < CLMSE__T_COUNT && merge; i++)
            merge = strides[i][n - 1] == p->aligned[i][k] * (int64_t)p->shape[k];
        if (merge) {
            shape[n - 1] *= p->shape[k];
            for (int i = 0; i < CLMSE__T_COUNT; i++)
                strides[i][n - 1] = p->aligned[i][k];
            continue;
        }
        shape[n] = p->shape[k];
        for (int i = 0; i < CLMSE__T_COUNT; i++)
            strides[i][n] = p->aligned[i][k];
        n++;
    }
    p->cnd = n;
}

#define KNOWN_FLAGS (CLMSE_STRICT_SHAPES | CLMSE_MEAN_COUNT)

/* `partial`: the request of clmse_mse_partial, whose sum takes the place of the output. */
static clmse_status validate(clmse_context *ctx, const clmse_mse_args *a, int partial,
                             clmse__mse_layout *p)
{
    const char *fn = partial ? "clmse_mse_partial" : "clmse_mse";
    memset(p, 0, sizeof(*p));
    CLMSE_CHECK_ARG(ctx, a != NULL, "%s: args is NULL", fn);
    CLMSE_CHECK_ARG(ctx, a->input != NULL && a->target != NULL, "%s: input and target are required",
                    fn);
    CLMSE_CHECK_ARG(ctx,
                    partial || a->output != NULL || a->grad_input != NULL || a->grad_target != NULL,
                    "clmse_mse: no output, grad_input or grad_target: nothing to compute");
    CLMSE_CHECK_ARG(ctx, !partial || a->output == NULL,
                    "clmse_mse_partial: output must be NULL (the partial takes its place)");
    CLMSE_FORWARD(clmse__check_reduction(ctx, fn, a->reduction));
    if (partial && a->reduction == CLMSE_REDUCTION_NONE)
        return clmse__fail(ctx, CLMSE_ERROR_INVALID_REDUCTION, CL_SUCCESS,
                           "clmse_mse_partial: reduction 'none' has no partial sum; use mean "
                           "or sum");
    /* mean_count is read only behind its flag: a 0.2 caller's struct ends before it. */
    CLMSE_CHECK_ARG(ctx, (a->flags & ~KNOWN_FLAGS) == 0, "%s: unknown flags 0x%x", fn,
                    a->flags & ~KNOWN_FLAGS);
    const size_t mean_count = a->flags & CLMSE_MEAN_COUNT ? a->mean_count : 0;
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
    CLMSE_CHECK_ARG(ctx, mean_count == 0 || mean_count >= p->numel,
                    "%s: mean_count %zu is below the %zu elements of this call", fn, mean_count,
                    p->numel);

    const int scalar = a->reduction != CLMSE_REDUCTION_NONE;
    if (a->output)
        CLMSE_FORWARD(check_result(ctx, "output", a->output, p->promoted, scalar, p->nd, p->shape));
    if (a->grad_output)
        CLMSE_FORWARD(
            check_result(ctx, "grad_output", a->grad_output, p->promoted, scalar, p->nd, p->shape));
    if (a->grad_input)
        CLMSE_FORWARD(
            check_result(ctx, "grad_input", a->grad_input, x->dtype, 0, x->ndim, x->shape));
    if (a->grad_target)
        CLMSE_FORWARD(
            check_result(ctx, "grad_target", a->grad_target, y->dtype, 0, y->ndim, y->shape));

    p->reduce = partial || (a->output != NULL && scalar);
    p->mean = a->reduction == CLMSE_REDUCTION_MEAN;
    p->mean_n = mean_count ? mean_count : p->numel;
    p->bcast[0] = is_broadcast(x, p->nd, p->shape);
    p->bcast[1] = is_broadcast(y, p->nd, p->shape);
    p->t[CLMSE__T_X] = x;
    p->t[CLMSE__T_Y] = y;
    p->t[CLMSE__T_LOSS] = scalar ? NULL : a->output;
    p->t[CLMSE__T_G] = a->grad_output;
    p->t[CLMSE__T_GX] = p->bcast[0] ? NULL : a->grad_input;
    p->t[CLMSE__T_GY] = p->bcast[1] ? NULL : a->grad_target;
    for (int i = 0; i < CLMSE__T_COUNT; i++)
        align(p->t[i], p->nd, p->aligned[i]);
    const clmse_tensor *grads[2] = {a->grad_input, a->grad_target};
    const size_t own_numel[2] = {nx, ny}; /* a gradient has its operand's shape */
    for (int w = 0; w < 2; w++) {
        p->bgrad[w] = p->bcast[w] && own_numel[w] > 0 ? grads[w] : NULL;
        align(p->bgrad[w], p->nd, p->bgrad_strides[w]);
    }
    collapse(p);
    return CLMSE_SUCCESS;
}

/* Contiguous float32 or float64 of one dtype, with no broadcasting, goes to the contiguous
 * kernels (cl/mse.cl) as the _f32 calls do: fills *c and returns 1, else 0. */
static int contiguous_call(const clmse_mse_args *a, const clmse__mse_layout *p, clmse__mse_call *c)
{
    const uint32_t cnd = p->cnd;
    const int64_t(*cs)[CLMSE_MAX_NDIM] = p->cstrides;
    const clmse_dtype dt = a->input->dtype;
    if (p->numel == 0 || (dt != CLMSE_DTYPE_F32 && dt != CLMSE_DTYPE_F64) ||
        a->target->dtype != dt || p->bcast[0] || p->bcast[1] || cnd > 1)
        return 0;
    for (int i = 0; i < CLMSE__T_COUNT && cnd == 1; i++)
        if (p->t[i] != NULL && !(i == CLMSE__T_G && a->reduction != CLMSE_REDUCTION_NONE) &&
            cs[i][0] != 1) /* a reduced loss's grad_output is one element: stride 0 */
            return 0;
    if (p->t[CLMSE__T_G] != NULL && a->reduction != CLMSE_REDUCTION_NONE && cs[CLMSE__T_G][0] != 0)
        return 0;
    memset(c, 0, sizeof(*c));
    c->fn = "clmse_mse";
    c->dtype = dt;
    c->reduction = a->reduction;
    c->n = p->numel;
    c->mean_n = p->mean_n;
    c->partial_at = p->partial_at;
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

clmse_status clmse_mse(clmse_context *ctx, const clmse_mse_args *args, cl_uint num_wait,
                       const cl_event *wait_list, cl_event *event)
{
    if (event)
        *event = NULL;
    CLMSE_FORWARD(clmse__check_context(ctx));
    CLMSE_FORWARD(check_wait_list(ctx, "clmse_mse", num_wait, wait_list));
    clmse__mse_layout p;
    CLMSE_FORWARD(validate(ctx, args, 0, &p));

    clmse__mse_call call;
    if (contiguous_call(args, &p, &call)) {
        call.num_wait = num_wait;
        call.wait = wait_list;
        call.event = event;
        return clmse__enqueue_contiguous(ctx, &call);
    }
    return clmse__enqueue_strided(ctx, args, &p, num_wait, wait_list, event);
}

clmse_status clmse_mse_partial(clmse_context *ctx, const clmse_mse_args *args,
                               clmse_partial *partial, cl_uint num_wait, const cl_event *wait_list)
{
    CLMSE_FORWARD(clmse__check_context(ctx));
    CLMSE_CHECK_ARG(ctx, partial != NULL, "clmse_mse_partial: partial is NULL");
    memset(partial, 0, sizeof(*partial)); /* the empty partial, also what a failure leaves */
    CLMSE_FORWARD(check_wait_list(ctx, "clmse_mse_partial", num_wait, wait_list));
    clmse__mse_layout p;
    CLMSE_FORWARD(validate(ctx, args, 1, &p));
    cl_ulong at = 0;
    p.partial_at = &at;
    clmse__mse_call call;
    const int contiguous = contiguous_call(args, &p, &call);
    return clmse__enqueue_partial(ctx, args, &p, contiguous ? &call : NULL, num_wait, wait_list,
                                  partial);
}
