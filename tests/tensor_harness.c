/* SPDX-License-Identifier: MIT */
/* The tensor suites' harness (tensor_harness.h): device tensor views guarded by sentinels, the
 * host reference in torch's order of operations, and the check of every result. */
#include "tensor_harness.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const clmse_reduction tm_reductions[3] = {CLMSE_REDUCTION_NONE, CLMSE_REDUCTION_MEAN,
                                          CLMSE_REDUCTION_SUM};
const char *const tm_red_names[3] = {"none", "mean", "sum"};

/* ---- fixture: one context per test, created in the forked child ------------------------------ */

clmse_context *tm_ctx;
/* The device does float64. Without it every call with a float64 tensor must be refused with
 * CLMSE_ERROR_UNSUPPORTED_DTYPE (DESIGN.md section 6), and the tests check that instead. */
int tm_fp64;
int tm_dummy_event; /* its address stands for an event the library must reset */

void tm_setup(void)
{
    tm_ctx = th_context_create();
    tm_fp64 = th_has_fp64(tm_ctx);
}

void tm_teardown(void)
{
    clmse_context_release(tm_ctx);
    tm_ctx = NULL;
}

cl_command_queue tm_queue(void) { return th_cl_queue(tm_ctx); }

/* ---- element values -------------------------------------------------------------------------- */

/* Bits equal, or both NaN (NaN payloads and signs are not specified). */
int tm_same_value(clmse_dtype d, uint64_t got, uint64_t want)
{
    if (isnan(dtype_bits_decode(d, got)) && isnan(dtype_bits_decode(d, want)))
        return 1;
    return got == want;
}

double tm_value_at(const unsigned char *img, clmse_dtype d, size_t i)
{
    return dtype_bits_decode(d, dtype_bits_load(img, d, i));
}

/* ---- device tensors -------------------------------------------------------------------------- */

/* Buffer position of logical element `flat` (C order) of a view with elements. */
size_t tm_view_pos(const clmse_tensor *t, size_t flat)
{
    size_t pos = t->offset;
    for (uint32_t k = t->ndim; k-- > 0;) {
        pos += (flat % t->shape[k]) * (size_t)t->strides[k];
        flat /= t->shape[k];
    }
    return pos;
}

layout tm_c_order(uint32_t nd, const size_t *shape, size_t offset)
{
    layout l;
    memset(&l, 0, sizeof l);
    l.given = 1;
    l.nd = nd;
    if (nd)
        memcpy(l.shape, shape, nd * sizeof(size_t));
    l.offset = offset;
    return l;
}

static void dt_upload(dt *d, int how)
{
    const size_t bytes = d->total * dtype_bits_size(d->t.dtype);
    cl_int err = CL_SUCCESS;
    if (how == BUF_NULL_IF_EMPTY && d->numel == 0) {
        d->t.buffer = NULL;
        return;
    }
    if (how == BUF_HOST_BACKED) {
        /* Page-aligned so pocl uses it in place: the test can watch it while gated. */
        const size_t rounded = (bytes + 4095) / 4096 * 4096;
        d->host = aligned_alloc(4096, rounded);
        ck_assert_ptr_nonnull(d->host);
        memcpy(d->host, d->img, bytes);
        d->t.buffer = clCreateBuffer(th_cl_context(tm_ctx), CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR,
                                     bytes, d->host, &err);
    } else {
        d->t.buffer = clCreateBuffer(th_cl_context(tm_ctx),
                                     CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes, d->img, &err);
    }
    ck_assert_msg(err == CL_SUCCESS, "clCreateBuffer(%zu bytes): %d", bytes, err);
}

/* A view of dtype `dtype` laid out as `l`, in a fresh buffer that ends TAIL elements after the
 * view; `vals` (logical values, exactly representable) or all sentinel when NULL. */
dt *dt_make(clmse_dtype dtype, const layout *l, const double *vals, int how)
{
    dt *d = calloc(1, sizeof *d);
    ck_assert_ptr_nonnull(d);
    CHECK_OK(NULL, clmse_tensor_init(&d->t, NULL, dtype, l->nd, l->shape,
                                     l->has_strides ? l->strides : NULL, l->offset));
    d->numel = 1;
    for (uint32_t k = 0; k < l->nd; k++)
        d->numel *= l->shape[k];
    /* With strides >= 0 the last logical element sits furthest into the buffer. */
    const size_t end = d->numel ? tm_view_pos(&d->t, d->numel - 1) + 1 : l->offset;
    d->total = end + TAIL;
    d->img = malloc(d->total * dtype_bits_size(dtype));
    d->vals = calloc(d->numel ? d->numel : 1, sizeof(double));
    ck_assert(d->img != NULL && d->vals != NULL);
    for (size_t i = 0; i < d->total; i++)
        dtype_bits_store(d->img, dtype, i, dtype_bits_sentinel(dtype));
    if (vals) {
        for (size_t i = 0; i < d->numel; i++) {
            const uint64_t b = dtype_bits_encode(dtype, vals[i]);
            const double back = dtype_bits_decode(dtype, b);
            ck_assert_msg(tm_same_value(dtype, b, dtype_bits_encode(dtype, back)) &&
                              (isnan(vals[i]) || back == vals[i]),
                          "value %a is not exactly a %s", vals[i], clmse_dtype_name(dtype));
            d->vals[i] = vals[i];
            dtype_bits_store(d->img, dtype, tm_view_pos(&d->t, i), b);
        }
    }
    dt_upload(d, how);
    return d;
}

void dt_free(dt *d)
{
    if (!d)
        return;
    if (d->t.buffer)
        ck_assert_int_eq(clReleaseMemObject(d->t.buffer), CL_SUCCESS);
    if (d->host) /* the runtime may use the storage until its commands are done */
        ck_assert_int_eq(clFinish(tm_queue()), CL_SUCCESS);
    free(d->host);
    free(d->img);
    free(d->vals);
    free(d);
}

/* Writes the expected image (sentinel for results) back to the device. */
void dt_reset(dt *d)
{
    if (!d || !d->t.buffer)
        return;
    const size_t bytes = d->total * dtype_bits_size(d->t.dtype);
    ck_assert_int_eq(
        clEnqueueWriteBuffer(tm_queue(), d->t.buffer, CL_TRUE, 0, bytes, d->img, 0, NULL, NULL),
        CL_SUCCESS);
}

/* The whole buffer as it is now (blocking read); free() it. */
unsigned char *dt_read(const dt *d)
{
    const size_t bytes = d->total * dtype_bits_size(d->t.dtype);
    unsigned char *got = malloc(bytes ? bytes : 1);
    ck_assert_ptr_nonnull(got);
    ck_assert_int_eq(
        clEnqueueReadBuffer(tm_queue(), d->t.buffer, CL_TRUE, 0, bytes, got, 0, NULL, NULL),
        CL_SUCCESS);
    return got;
}

/* Every buffer element outside the view still holds the sentinel. */
void tm_check_outside(const dt *d, const unsigned char *got, const char *what)
{
    unsigned char *in_view = calloc(d->total, 1);
    ck_assert_ptr_nonnull(in_view);
    for (size_t i = 0; i < d->numel; i++)
        in_view[tm_view_pos(&d->t, i)] = 1;
    size_t bad = d->total;
    for (size_t i = 0; i < d->total && bad == d->total; i++)
        if (!in_view[i] && dtype_bits_load(got, d->t.dtype, i) != dtype_bits_sentinel(d->t.dtype))
            bad = i;
    free(in_view);
    ck_assert_msg(bad == d->total, "%s: buffer element %zu outside the view was written (%a)", what,
                  bad, bad < d->total ? tm_value_at(got, d->t.dtype, bad) : 0.0);
}

/* An operand's buffer must come back exactly as uploaded. */
void tm_check_unchanged(const dt *d, const char *what)
{
    if (!d || !d->t.buffer)
        return;
    unsigned char *got = dt_read(d);
    const int same = memcmp(got, d->img, d->total * dtype_bits_size(d->t.dtype)) == 0;
    free(got);
    ck_assert_msg(same, "%s: an operand buffer was modified", what);
}

/* Nearest representable values of dtype d, uniform in [-9, 9). */
void tm_random_vals(th_rng *rng, clmse_dtype d, double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const double u = (double)(th_rng_next(rng) >> 11) / 9007199254740992.0;
        v[i] = dtype_bits_decode(d, dtype_bits_encode(d, -9.0 + 18.0 * u));
    }
}

double *tm_alloc_doubles(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof(double));
    ck_assert_ptr_nonnull(p);
    return p;
}

/* Logical elements that share a buffer position (stride 0) hold one value: each takes the
 * value of the first element at its position. */
static void alias_vals(clmse_dtype d, const layout *l, double *vals, size_t n)
{
    if (n == 0)
        return;
    clmse_tensor t;
    CHECK_OK(NULL, clmse_tensor_init(&t, NULL, d, l->nd, l->shape,
                                     l->has_strides ? l->strides : NULL, l->offset));
    const size_t end = tm_view_pos(&t, n - 1) + 1;
    double *at = tm_alloc_doubles(end);
    unsigned char *seen = calloc(end, 1);
    ck_assert_ptr_nonnull(seen);
    for (size_t i = 0; i < n; i++) {
        const size_t pos = tm_view_pos(&t, i);
        if (seen[pos]) {
            vals[i] = at[pos];
        } else {
            seen[pos] = 1;
            at[pos] = vals[i];
        }
    }
    free(at);
    free(seen);
}

/* ---- the host reference: torch's semantics on the logical elements --------------------------- */

typedef struct ref {
    clmse_dtype p; /* promoted dtype */
    int dbl;       /* computed in double (p is float64), else in float */
    uint32_t nd;
    size_t shape[CLMSE_MAX_NDIM];
    size_t n;
    double *loss; /* the compute-type value of each broadcast element */
    long double sum;
    /* per operand element (0 input, 1 target): the sum of its elementwise gradients, the
     * last one, and how many there were */
    long double *acc[2];
    double *one[2];
    size_t *cnt[2];
} ref;

/* C-order index into operand t of broadcast element `flat`. */
static size_t operand_index(const clmse_tensor *t, uint32_t nd, const size_t *shape, size_t flat)
{
    size_t idx = 0, mul = 1;
    for (uint32_t k = nd; k-- > 0;) {
        const size_t i = flat % shape[k];
        flat /= shape[k];
        if (k + t->ndim >= nd) {
            const size_t own = t->shape[k + t->ndim - nd];
            if (own != 1)
                idx += i * mul;
            mul *= own;
        }
    }
    return idx;
}

/* g: grad_output (NULL: ones); its logical element i (none) or 0 (mean/sum). */
static void ref_compute(ref *r, clmse_reduction red, const dt *x, const dt *y, const dt *g)
{
    memset(r, 0, sizeof *r);
    CHECK_OK(NULL, clmse_promote_dtypes(x->t.dtype, y->t.dtype, &r->p));
    r->dbl = r->p == CLMSE_DTYPE_F64;
    CHECK_OK(NULL, clmse_broadcast_shapes(x->t.ndim, x->t.shape, y->t.ndim, y->t.shape, &r->nd,
                                          r->shape));
    r->n = 1;
    for (uint32_t k = 0; k < r->nd; k++)
        r->n *= r->shape[k];
    r->loss = tm_alloc_doubles(r->n);
    const dt *ops[2] = {x, y};
    for (int w = 0; w < 2; w++) {
        const size_t m = ops[w]->numel ? ops[w]->numel : 1;
        r->acc[w] = calloc(m, sizeof(long double));
        r->one[w] = tm_alloc_doubles(m);
        r->cnt[w] = calloc(m, sizeof(size_t));
        ck_assert(r->acc[w] != NULL && r->cnt[w] != NULL);
    }
    /* torch: norm = 2/N (mean) or 2 in double, converted to the compute type. */
    const double sd = red == CLMSE_REDUCTION_MEAN && r->n ? 2.0 / (double)r->n : 2.0;
    const float sf = (float)sd;
    for (size_t i = 0; i < r->n; i++) {
        const size_t ix = operand_index(&x->t, r->nd, r->shape, i);
        const size_t iy = operand_index(&y->t, r->nd, r->shape, i);
        const double xv = x->vals[ix], yv = y->vals[iy];
        const double gv = g ? g->vals[red == CLMSE_REDUCTION_NONE ? i : 0] : 1.0;
        double t, gx, gy;
        if (r->dbl) {
            /* volatile: every operation rounded to double, in torch's order */
            volatile double d = xv - yv, tt = d * d;
            volatile double a = sd * d, b = a * gv;
            volatile double d2 = yv - xv, a2 = sd * d2, b2 = a2 * gv;
            t = tt;
            gx = b;
            gy = b2;
        } else {
            t = (double)th_term((float)xv, (float)yv);
            gx = (double)th_grad(sf, (float)xv, (float)yv, (float)gv);
            gy = (double)th_grad(sf, (float)yv, (float)xv, (float)gv);
        }
        r->loss[i] = t;
        r->sum += (long double)t;
        r->acc[0][ix] += (long double)gx;
        r->one[0][ix] = gx;
        r->cnt[0][ix]++;
        r->acc[1][iy] += (long double)gy;
        r->one[1][iy] = gy;
        r->cnt[1][iy]++;
    }
}

static void ref_free(ref *r)
{
    free(r->loss);
    for (int w = 0; w < 2; w++) {
        free(r->acc[w]);
        free(r->one[w]);
        free(r->cnt[w]);
    }
}

/* The reduced loss the reference expects: NaN for the mean of nothing. */
static long double ref_reduced(const ref *r, clmse_reduction red)
{
    if (red == CLMSE_REDUCTION_SUM)
        return r->sum;
    return r->n ? r->sum / (long double)r->n : (long double)NAN;
}

/* Checks every result against the reference and that no operand or guard was touched. */
void tm_verify(const char *tag, clmse_reduction red, const dt *x, const dt *y, const dt *out,
               const dt *g, const dt *gx, const dt *gy)
{
    ref r;
    ref_compute(&r, red, x, y, g);
    if (out && out->t.buffer) {
        unsigned char *got = dt_read(out);
        tm_check_outside(out, got, "output");
        if (red == CLMSE_REDUCTION_NONE) {
            for (size_t i = 0; i < r.n; i++) {
                const uint64_t gb = dtype_bits_load(got, r.p, tm_view_pos(&out->t, i));
                const uint64_t wb = dtype_bits_encode(r.p, r.loss[i]);
                if (gb == dtype_bits_sentinel(r.p) || !tm_same_value(r.p, gb, wb))
                    ck_abort_msg("%s: %s output[%zu] = %a, want %a", tag, clmse_dtype_name(r.p), i,
                                 dtype_bits_decode(r.p, gb), dtype_bits_decode(r.p, wb));
            }
        } else {
            const long double want = ref_reduced(&r, red);
            const uint64_t gb = dtype_bits_load(got, r.p, tm_view_pos(&out->t, 0));
            ck_assert_msg(gb != dtype_bits_sentinel(r.p), "%s: the reduced output was not written",
                          tag);
            ck_assert_msg(dtype_bits_near_ref(r.p, gb, want),
                          "%s: %s %s over %zu = %.17g, want %.20Lg", tag, clmse_dtype_name(r.p),
                          tm_red_names[red], r.n, dtype_bits_decode(r.p, gb), want);
            if (red == CLMSE_REDUCTION_SUM && r.n == 0)
                ck_assert_msg(gb == 0, "%s: the sum of nothing must be +0", tag);
        }
        free(got);
    }
    const dt *grads[2] = {gx, gy}, *ops[2] = {x, y};
    for (int w = 0; w < 2; w++) {
        const dt *gd = grads[w];
        if (!gd || !gd->t.buffer)
            continue;
        const char *what = w ? "grad_target" : "grad_input";
        const clmse_dtype d = gd->t.dtype;
        unsigned char *got = dt_read(gd);
        tm_check_outside(gd, got, what);
        for (size_t e = 0; e < ops[w]->numel; e++) {
            const uint64_t gb = dtype_bits_load(got, d, tm_view_pos(&gd->t, e));
            int ok;
            uint64_t wb = 0;
            if (gb == dtype_bits_sentinel(d))
                ok = 0;
            else if (r.cnt[w][e] == 0) /* an operand broadcast over nothing: +0 */
                ok = gb == 0;
            else if (r.cnt[w][e] == 1) /* one term, rounded once */
                ok = tm_same_value(d, gb, wb = dtype_bits_encode(d, r.one[w][e]));
            else /* a sum over the broadcast dimensions, rounded once */
                ok = dtype_bits_near_ref(d, gb, r.acc[w][e]);
            if (!ok)
                ck_abort_msg("%s: %s %s[%zu] = %a, want %a (%zu terms, sum %.20Lg)", tag,
                             clmse_dtype_name(d), what, e, dtype_bits_decode(d, gb),
                             r.cnt[w][e] == 1 ? dtype_bits_decode(d, wb) : (double)r.acc[w][e],
                             r.cnt[w][e], r.acc[w][e]);
        }
        free(got);
    }
    tm_check_unchanged(x, "input");
    tm_check_unchanged(y, "target");
    tm_check_unchanged(g, "grad_output");
    ref_free(&r);
}

void tm_fill_args(clmse_mse_args *a, clmse_reduction red, unsigned flags, const dt *x, const dt *y,
                  const dt *out, const dt *g, const dt *gx, const dt *gy)
{
    memset(a, 0, sizeof *a);
    a->reduction = red;
    a->flags = flags;
    a->input = x ? &x->t : NULL;
    a->target = y ? &y->t : NULL;
    a->output = out ? &out->t : NULL;
    a->grad_output = g ? &g->t : NULL;
    a->grad_input = gx ? &gx->t : NULL;
    a->grad_target = gy ? &gy->t : NULL;
}

/* A float64 tensor in a call on a device without fp64. */
static int needs_missing_fp64(const clmse_mse_args *a)
{
    const clmse_tensor *all[6] = {a->input,       a->target,     a->output,
                                  a->grad_output, a->grad_input, a->grad_target};
    for (int k = 0; k < 6; k++)
        if (!tm_fp64 && all[k] && all[k]->dtype == CLMSE_DTYPE_F64)
            return 1;
    return 0;
}

/* Runs clmse_mse and waits for its event. Returns 1 when it ran, 0 when the device lacks the
 * fp64 a float64 tensor needs and the call was refused as it must be: the right status, no
 * event, a message naming float64 (the caller checks that nothing was written). */
int tm_call_mse(const char *tag, const clmse_mse_args *a)
{
    cl_event ev = (cl_event)(void *)&tm_dummy_event;
    const clmse_status st = clmse_mse(tm_ctx, a, 0, NULL, &ev);
    if (needs_missing_fp64(a)) {
        ck_assert_msg(st == CLMSE_ERROR_UNSUPPORTED_DTYPE,
                      "%s: a float64 tensor on a device without fp64: got %s, want %s: %s", tag,
                      clmse_status_string(st), clmse_status_string(CLMSE_ERROR_UNSUPPORTED_DTYPE),
                      clmse_context_last_error(tm_ctx));
        ck_assert_msg(ev == NULL, "%s: refused, but *event was not reset to NULL", tag);
        ck_assert_msg(strstr(clmse_context_last_error(tm_ctx), "float64") != NULL,
                      "%s: the refusal does not name float64: %s", tag,
                      clmse_context_last_error(tm_ctx));
        return 0;
    }
    ck_assert_msg(st == CLMSE_SUCCESS, "%s: %s: %s", tag, clmse_status_string(st),
                  clmse_context_last_error(tm_ctx));
    th_finish_event(ev);
    return 1;
}

/* Resets the results, runs clmse_mse, waits on its event and verifies everything. Returns 0
 * when the call was refused for want of fp64, after checking that nothing was written. */
int tm_run_verify(const char *tag, clmse_reduction red, unsigned flags, const dt *x, const dt *y,
                  dt *out, const dt *g, dt *gx, dt *gy)
{
    dt_reset(out);
    dt_reset(gx);
    dt_reset(gy);
    clmse_mse_args a;
    tm_fill_args(&a, red, flags, x, y, out, g, gx, gy);
    char what[200];
    snprintf(what, sizeof what, "%s %s", tag, tm_red_names[red]);
    if (!tm_call_mse(what, &a)) {
        const dt *all[6] = {x, y, out, g, gx, gy};
        for (int k = 0; k < 6; k++)
            tm_check_unchanged(all[k], what); /* a result's image is all sentinel */
        return 0;
    }
    tm_verify(tag, red, x, y, out, g, gx, gy);
    return 1;
}

/* ---- scenarios: one operand layout pair run through every kind of call ----------------------- */

void tm_run_scenario(const scenario *s, clmse_dtype dx, clmse_dtype dy, uint64_t seed)
{
    char tag[160];
    snprintf(tag, sizeof tag, "%s [%s, %s]", s->name, clmse_dtype_name(dx), clmse_dtype_name(dy));
    th_rng rng;
    th_rng_seed(&rng, seed);
    size_t nx = 1, ny = 1;
    for (uint32_t k = 0; k < s->x.nd; k++)
        nx *= s->x.shape[k];
    for (uint32_t k = 0; k < s->y.nd; k++)
        ny *= s->y.shape[k];
    double *xv = tm_alloc_doubles(nx), *yv = tm_alloc_doubles(ny);
    tm_random_vals(&rng, dx, xv, nx);
    tm_random_vals(&rng, dy, yv, ny);
    alias_vals(dx, &s->x, xv, nx);
    alias_vals(dy, &s->y, yv, ny);
    dt *x = dt_make(dx, &s->x, xv, BUF_DEVICE), *y = dt_make(dy, &s->y, yv, BUF_DEVICE);

    clmse_dtype p;
    CHECK_OK(NULL, clmse_promote_dtypes(dx, dy, &p));
    uint32_t nd;
    size_t shape[CLMSE_MAX_NDIM];
    CHECK_OK(NULL, clmse_broadcast_shapes(s->x.nd, s->x.shape, s->y.nd, s->y.shape, &nd, shape));
    size_t n = 1;
    for (uint32_t k = 0; k < nd; k++)
        n *= shape[k];

    const layout lo = s->out.given ? s->out : tm_c_order(nd, shape, 1);
    const layout lgn = tm_c_order(nd, shape, 3), l0 = tm_c_order(0, NULL, 1);
    const layout lgx = s->gx.given ? s->gx : tm_c_order(s->x.nd, s->x.shape, 2);
    const layout lgy = s->gy.given ? s->gy : tm_c_order(s->y.nd, s->y.shape, 2);
    double *gn = tm_alloc_doubles(n), gs;
    tm_random_vals(&rng, p, gn, n);
    tm_random_vals(&rng, p, &gs, 1);
    dt *out = dt_make(p, &lo, NULL, BUF_DEVICE), *out0 = dt_make(p, &l0, NULL, BUF_DEVICE);
    dt *g_none = dt_make(p, &lgn, gn, BUF_DEVICE), *g0 = dt_make(p, &l0, &gs, BUF_DEVICE);
    dt *gx = dt_make(dx, &lgx, NULL, BUF_DEVICE), *gy = dt_make(dy, &lgy, NULL, BUF_DEVICE);

    const clmse_reduction N = CLMSE_REDUCTION_NONE, M = CLMSE_REDUCTION_MEAN,
                          S = CLMSE_REDUCTION_SUM;
    tm_run_verify(tag, N, 0, x, y, out, g_none, gx, gy);    /* fused, elementwise grad_output */
    tm_run_verify(tag, N, 0, x, y, out, NULL, NULL, NULL);  /* forward */
    tm_run_verify(tag, N, 0, x, y, NULL, g_none, NULL, gy); /* backward, target only */
    tm_run_verify(tag, N, 0, x, y, NULL, NULL, gx, NULL);   /* backward, ones */
    tm_run_verify(tag, M, 0, x, y, out0, NULL, gx, gy);
    tm_run_verify(tag, M, 0, x, y, out0, NULL, NULL, NULL);
    tm_run_verify(tag, M, 0, x, y, NULL, g0, gx, gy);
    tm_run_verify(tag, S, 0, x, y, out0, g0, gx, gy);
    tm_run_verify(tag, S, 0, x, y, out0, NULL, NULL, NULL);
    tm_run_verify(tag, S, 0, x, y, NULL, g0, gx, NULL);

    dt *all[] = {x, y, out, out0, g_none, g0, gx, gy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        dt_free(all[i]);
    free(xv);
    free(yv);
    free(gn);
}

const clmse_dtype tm_dtypes[4] = {CLMSE_DTYPE_F32, CLMSE_DTYPE_F64, CLMSE_DTYPE_F16,
                                  CLMSE_DTYPE_BF16};
