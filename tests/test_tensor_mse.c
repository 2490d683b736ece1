/* SPDX-License-Identifier: MIT */
/* clmse_mse on tensor views: strides, broadcasting, dtypes, empty/0-d, events and exact errors. */
#include "helpers.h"
#include "suites.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TAIL = 3 }; /* guarded elements after every view */

static const clmse_reduction k_reductions[3] = {CLMSE_REDUCTION_NONE, CLMSE_REDUCTION_MEAN,
                                                CLMSE_REDUCTION_SUM};
static const char *const k_red_names[3] = {"none", "mean", "sum"};

/* ==== fixture: one context per test, created in the forked child ========================== */

static clmse_context *g_ctx;
/* The device does float64. Without it every call with a float64 tensor must be refused with
 * CLMSE_ERROR_UNSUPPORTED_DTYPE (DESIGN.md section 6), and the tests check that instead. */
static int g_fp64;
static int g_dummy_event; /* its address stands for an event the library must reset */

static void setup(void)
{
    g_ctx = th_context_create();
    g_fp64 = th_has_fp64(g_ctx);
}

static void teardown(void)
{
    clmse_context_release(g_ctx);
    g_ctx = NULL;
}

static cl_command_queue queue(void) { return th_cl_queue(g_ctx); }

/* Waits for and releases an event the library returned, checking it really completed. */
static void finish_event(cl_event ev)
{
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(clWaitForEvents(1, &ev), CL_SUCCESS);
    cl_int status = -1;
    ck_assert_int_eq(clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status,
                                    &status, NULL),
                     CL_SUCCESS);
    ck_assert_int_eq(status, CL_COMPLETE);
    ck_assert_int_eq(clReleaseEvent(ev), CL_SUCCESS);
}

/* ==== element encodings =================================================================== */

static size_t esz(clmse_dtype d) { return clmse_dtype_size(d); }

/* A signalling-NaN payload per dtype that no kernel produces. */
static uint64_t sentinel_of(clmse_dtype d)
{
    switch (d) {
    case CLMSE_DTYPE_F64: return 0x7ff5a5a5a5a5a5a5u;
    case CLMSE_DTYPE_F16: return 0x7d5au;
    case CLMSE_DTYPE_BF16: return 0x7fa5u;
    default: return TH_SENTINEL_BITS;
    }
}

/* The bits of `v` rounded once (to nearest even) to dtype d. */
static uint64_t encode(clmse_dtype d, double v)
{
    switch (d) {
    case CLMSE_DTYPE_F64: {
        uint64_t u;
        memcpy(&u, &v, sizeof u);
        return u;
    }
    case CLMSE_DTYPE_F16: return th_half_from_double(v);
    case CLMSE_DTYPE_BF16: return th_bf16_from_double(v);
    default: return th_bits((float)v);
    }
}

static double decode(clmse_dtype d, uint64_t b)
{
    switch (d) {
    case CLMSE_DTYPE_F64: {
        double v;
        memcpy(&v, &b, sizeof v);
        return v;
    }
    case CLMSE_DTYPE_F16: return (double)th_half_to_float((uint16_t)b);
    case CLMSE_DTYPE_BF16: return (double)th_bf16_to_float((uint16_t)b);
    default: {
        const uint32_t u = (uint32_t)b;
        float f;
        memcpy(&f, &u, sizeof f);
        return (double)f;
    }
    }
}

static uint64_t load_el(const unsigned char *img, clmse_dtype d, size_t i)
{
    const unsigned char *p = img + i * esz(d);
    if (esz(d) == 2) {
        uint16_t v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    if (esz(d) == 4) {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void store_el(unsigned char *img, clmse_dtype d, size_t i, uint64_t bits)
{
    unsigned char *p = img + i * esz(d);
    if (esz(d) == 2) {
        const uint16_t v = (uint16_t)bits;
        memcpy(p, &v, sizeof v);
    } else if (esz(d) == 4) {
        const uint32_t v = (uint32_t)bits;
        memcpy(p, &v, sizeof v);
    } else {
        memcpy(p, &bits, sizeof bits);
    }
}

/* Bits equal, or both NaN (NaN payloads and signs are not specified). */
static int same_value(clmse_dtype d, uint64_t got, uint64_t want)
{
    if (isnan(decode(d, got)) && isnan(decode(d, want)))
        return 1;
    return got == want;
}

/* Maps the sign-magnitude encoding onto a line where neighbours differ by one. */
static int64_t ordered(clmse_dtype d, uint64_t b)
{
    const unsigned w = (unsigned)esz(d) * 8;
    const uint64_t sign = (uint64_t)1 << (w - 1);
    return (b & sign) ? -(int64_t)(b & (sign - 1)) : (int64_t)b;
}

/* One ulp of |v| (a finite double): the gap to the next double away from zero. */
static double ulp_f64(double v)
{
    double a = v < 0 ? -v : v, next;
    uint64_t u;
    memcpy(&u, &a, sizeof u);
    u++;
    memcpy(&next, &u, sizeof next);
    return next - a;
}

/* `got` (dtype d) within one ulp of the reference: for float64 |got - ref| <= ulp(got), for
 * the narrower types at most one step from ref rounded to d. NaN must meet NaN; an infinite
 * reference needs exactly that infinity. */
static int near_value(clmse_dtype d, uint64_t got, long double ref)
{
    const double g = decode(d, got);
    if (isnan(ref))
        return isnan(g);
    if (isinf(ref) || isnan(g) || isinf(g))
        return got == encode(d, (double)ref);
    if (d == CLMSE_DTYPE_F64) {
        long double diff = (long double)g - ref;
        if (diff < 0)
            diff = -diff;
        return diff <= (long double)ulp_f64(g);
    }
    const int64_t k = ordered(d, got) - ordered(d, encode(d, (double)ref));
    return k >= -1 && k <= 1;
}

/* ==== device tensors ====================================================================== */

/* A tensor view of its own buffer. `img` is what the whole buffer must hold: the sentinel
 * everywhere but at the view's elements, which hold `vals` (operands) or the sentinel too
 * (results, until checked). */
typedef struct dt {
    clmse_tensor t;
    size_t numel, total; /* elements in the view / in the buffer */
    unsigned char *img;
    double *vals; /* logical values, C order over t.shape */
    void *host;   /* CL_MEM_USE_HOST_PTR storage, or NULL */
} dt;

/* Buffer position of logical element `flat` (C order) of a view with elements. */
static size_t view_pos(const clmse_tensor *t, size_t flat)
{
    size_t pos = t->offset;
    for (uint32_t k = t->ndim; k-- > 0;) {
        pos += (flat % t->shape[k]) * (size_t)t->strides[k];
        flat /= t->shape[k];
    }
    return pos;
}

/* A buffer layout: strides NULL-like (C order) when has_strides is 0. */
typedef struct layout {
    int given;
    uint32_t nd;
    size_t shape[CLMSE_MAX_NDIM];
    int has_strides;
    int64_t strides[CLMSE_MAX_NDIM];
    size_t offset;
} layout;

static layout c_order(uint32_t nd, const size_t *shape, size_t offset)
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

enum { BUF_DEVICE = 0, BUF_NULL_IF_EMPTY = 1, BUF_HOST_BACKED = 2 };

static void dt_upload(dt *d, int how)
{
    const size_t bytes = d->total * esz(d->t.dtype);
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
        d->t.buffer = clCreateBuffer(th_cl_context(g_ctx),
                                     CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, bytes, d->host,
                                     &err);
    } else {
        d->t.buffer = clCreateBuffer(th_cl_context(g_ctx),
                                     CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes, d->img,
                                     &err);
    }
    ck_assert_msg(err == CL_SUCCESS, "clCreateBuffer(%zu bytes): %d", bytes, err);
}

/* A view of dtype `dtype` laid out as `l`, in a fresh buffer that ends TAIL elements after the
 * view; `vals` (logical values, exactly representable) or all sentinel when NULL. */
static dt *dt_make(clmse_dtype dtype, const layout *l, const double *vals, int how)
{
    dt *d = calloc(1, sizeof *d);
    ck_assert_ptr_nonnull(d);
    CHECK_OK(NULL, clmse_tensor_init(&d->t, NULL, dtype, l->nd, l->shape,
                                     l->has_strides ? l->strides : NULL, l->offset));
    d->numel = 1;
    for (uint32_t k = 0; k < l->nd; k++)
        d->numel *= l->shape[k];
    /* With strides >= 0 the last logical element sits furthest into the buffer. */
    const size_t end = d->numel ? view_pos(&d->t, d->numel - 1) + 1 : l->offset;
    d->total = end + TAIL;
    d->img = malloc(d->total * esz(dtype));
    d->vals = calloc(d->numel ? d->numel : 1, sizeof(double));
    ck_assert(d->img != NULL && d->vals != NULL);
    for (size_t i = 0; i < d->total; i++)
        store_el(d->img, dtype, i, sentinel_of(dtype));
    if (vals) {
        for (size_t i = 0; i < d->numel; i++) {
            const uint64_t b = encode(dtype, vals[i]);
            ck_assert_msg(same_value(dtype, b, encode(dtype, decode(dtype, b))) &&
                              (isnan(vals[i]) || decode(dtype, b) == vals[i]),
                          "value %a is not exactly a %s", vals[i], clmse_dtype_name(dtype));
            d->vals[i] = vals[i];
            store_el(d->img, dtype, view_pos(&d->t, i), b);
        }
    }
    dt_upload(d, how);
    return d;
}

static void dt_free(dt *d)
{
    if (!d)
        return;
    if (d->t.buffer)
        ck_assert_int_eq(clReleaseMemObject(d->t.buffer), CL_SUCCESS);
    if (d->host) /* the runtime may use the storage until its commands are done */
        ck_assert_int_eq(clFinish(queue()), CL_SUCCESS);
    free(d->host);
    free(d->img);
    free(d->vals);
    free(d);
}

/* Writes the expected image (sentinel for results) back to the device. */
static void dt_reset(dt *d)
{
    if (!d || !d->t.buffer)
        return;
    const size_t bytes = d->total * esz(d->t.dtype);
    ck_assert_int_eq(clEnqueueWriteBuffer(queue(), d->t.buffer, CL_TRUE, 0, bytes, d->img, 0,
                                          NULL, NULL),
                     CL_SUCCESS);
}

/* The whole buffer as it is now (blocking read); free() it. */
static unsigned char *dt_read(const dt *d)
{
    const size_t bytes = d->total * esz(d->t.dtype);
    unsigned char *got = malloc(bytes ? bytes : 1);
    ck_assert_ptr_nonnull(got);
    ck_assert_int_eq(clEnqueueReadBuffer(queue(), d->t.buffer, CL_TRUE, 0, bytes, got, 0, NULL,
                                         NULL),
                     CL_SUCCESS);
    return got;
}

/* Every buffer element outside the view still holds the sentinel. */
static void check_outside(const dt *d, const unsigned char *got, const char *what)
{
    unsigned char *in_view = calloc(d->total, 1);
    ck_assert_ptr_nonnull(in_view);
    for (size_t i = 0; i < d->numel; i++)
        in_view[view_pos(&d->t, i)] = 1;
    size_t bad = d->total;
    for (size_t i = 0; i < d->total && bad == d->total; i++)
        if (!in_view[i] && load_el(got, d->t.dtype, i) != sentinel_of(d->t.dtype))
            bad = i;
    free(in_view);
    ck_assert_msg(bad == d->total, "%s: buffer element %zu outside the view was written (%a)",
                  what, bad, bad < d->total ? decode(d->t.dtype, load_el(got, d->t.dtype, bad))
                                            : 0.0);
}

/* An operand's buffer must come back exactly as uploaded. */
static void check_unchanged(const dt *d, const char *what)
{
    if (!d || !d->t.buffer)
        return;
    unsigned char *got = dt_read(d);
    const int same = memcmp(got, d->img, d->total * esz(d->t.dtype)) == 0;
    free(got);
    ck_assert_msg(same, "%s: an operand buffer was modified", what);
}

/* Nearest representable values of dtype d, uniform in [-9, 9). */
static void random_vals(th_rng *rng, clmse_dtype d, double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const double u = (double)(th_rng_next(rng) >> 11) / 9007199254740992.0;
        v[i] = decode(d, encode(d, -9.0 + 18.0 * u));
    }
}

static double *alloc_doubles(size_t n)
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
    const size_t end = view_pos(&t, n - 1) + 1;
    double *at = alloc_doubles(end);
    unsigned char *seen = calloc(end, 1);
    ck_assert_ptr_nonnull(seen);
    for (size_t i = 0; i < n; i++) {
        const size_t pos = view_pos(&t, i);
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

/* ==== the host reference: torch's semantics on the logical elements ======================= */

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
    r->loss = alloc_doubles(r->n);
    const dt *ops[2] = {x, y};
    for (int w = 0; w < 2; w++) {
        const size_t m = ops[w]->numel ? ops[w]->numel : 1;
        r->acc[w] = calloc(m, sizeof(long double));
        r->one[w] = alloc_doubles(m);
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
static void verify(const char *tag, clmse_reduction red, const dt *x, const dt *y, const dt *out,
                   const dt *g, const dt *gx, const dt *gy)
{
    ref r;
    ref_compute(&r, red, x, y, g);
    if (out && out->t.buffer) {
        unsigned char *got = dt_read(out);
        check_outside(out, got, "output");
        if (red == CLMSE_REDUCTION_NONE) {
            for (size_t i = 0; i < r.n; i++) {
                const uint64_t gb = load_el(got, r.p, view_pos(&out->t, i));
                const uint64_t wb = encode(r.p, r.loss[i]);
                if (gb == sentinel_of(r.p) || !same_value(r.p, gb, wb))
                    ck_abort_msg("%s: %s output[%zu] = %a, want %a", tag, clmse_dtype_name(r.p),
                                 i, decode(r.p, gb), decode(r.p, wb));
            }
        } else {
            const long double want = ref_reduced(&r, red);
            const uint64_t gb = load_el(got, r.p, view_pos(&out->t, 0));
            ck_assert_msg(gb != sentinel_of(r.p), "%s: the reduced output was not written", tag);
            ck_assert_msg(near_value(r.p, gb, want), "%s: %s %s over %zu = %.17g, want %.20Lg",
                          tag, clmse_dtype_name(r.p), k_red_names[red], r.n, decode(r.p, gb),
                          want);
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
        check_outside(gd, got, what);
        for (size_t e = 0; e < ops[w]->numel; e++) {
            const uint64_t gb = load_el(got, d, view_pos(&gd->t, e));
            int ok;
            uint64_t wb = 0;
            if (gb == sentinel_of(d))
                ok = 0;
            else if (r.cnt[w][e] == 0) /* an operand broadcast over nothing: +0 */
                ok = gb == 0;
            else if (r.cnt[w][e] == 1) /* one term, rounded once */
                ok = same_value(d, gb, wb = encode(d, r.one[w][e]));
            else /* a sum over the broadcast dimensions, rounded once */
                ok = near_value(d, gb, r.acc[w][e]);
            if (!ok)
                ck_abort_msg("%s: %s %s[%zu] = %a, want %a (%zu terms, sum %.20Lg)", tag,
                             clmse_dtype_name(d), what, e, decode(d, gb),
                             r.cnt[w][e] == 1 ? decode(d, wb) : (double)r.acc[w][e],
                             r.cnt[w][e], r.acc[w][e]);
        }
        free(got);
    }
    check_unchanged(x, "input");
    check_unchanged(y, "target");
    check_unchanged(g, "grad_output");
    ref_free(&r);
}

static void fill_args(clmse_mse_args *a, clmse_reduction red, unsigned flags, const dt *x,
                      const dt *y, const dt *out, const dt *g, const dt *gx, const dt *gy)
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
        if (!g_fp64 && all[k] && all[k]->dtype == CLMSE_DTYPE_F64)
            return 1;
    return 0;
}

/* Runs clmse_mse and waits for its event. Returns 1 when it ran, 0 when the device lacks the
 * fp64 a float64 tensor needs and the call was refused as it must be: the right status, no
 * event, a message naming float64 (the caller checks that nothing was written). */
static int call_mse(const char *tag, const clmse_mse_args *a)
{
    cl_event ev = (cl_event)(void *)&g_dummy_event;
    const clmse_status st = clmse_mse(g_ctx, a, 0, NULL, &ev);
    if (needs_missing_fp64(a)) {
        ck_assert_msg(st == CLMSE_ERROR_UNSUPPORTED_DTYPE,
                      "%s: a float64 tensor on a device without fp64: got %s, want %s: %s", tag,
                      clmse_status_string(st), clmse_status_string(CLMSE_ERROR_UNSUPPORTED_DTYPE),
                      clmse_context_last_error(g_ctx));
        ck_assert_msg(ev == NULL, "%s: refused, but *event was not reset to NULL", tag);
        ck_assert_msg(strstr(clmse_context_last_error(g_ctx), "float64") != NULL,
                      "%s: the refusal does not name float64: %s", tag,
                      clmse_context_last_error(g_ctx));
        return 0;
    }
    ck_assert_msg(st == CLMSE_SUCCESS, "%s: %s: %s", tag, clmse_status_string(st),
                  clmse_context_last_error(g_ctx));
    finish_event(ev);
    return 1;
}

/* Resets the results, runs clmse_mse, waits on its event and verifies everything. Returns 0
 * when the call was refused for want of fp64, after checking that nothing was written. */
static int run_verify(const char *tag, clmse_reduction red, unsigned flags, const dt *x,
                      const dt *y, dt *out, const dt *g, dt *gx, dt *gy)
{
    dt_reset(out);
    dt_reset(gx);
    dt_reset(gy);
    clmse_mse_args a;
    fill_args(&a, red, flags, x, y, out, g, gx, gy);
    char what[200];
    snprintf(what, sizeof what, "%s %s", tag, k_red_names[red]);
    if (!call_mse(what, &a)) {
        const dt *all[6] = {x, y, out, g, gx, gy};
        for (int k = 0; k < 6; k++)
            check_unchanged(all[k], what); /* a result's image is all sentinel */
        return 0;
    }
    verify(tag, red, x, y, out, g, gx, gy);
    return 1;
}

/* ==== scenarios: one operand layout pair run through every kind of call ==================== */

typedef struct scenario {
    const char *name;
    layout x, y;
    layout out;    /* the 'none' output; not given: C order of the broadcast shape */
    layout gx, gy; /* not given: C order of the operand's shape at offset 2 */
} scenario;

static void run_scenario(const scenario *s, clmse_dtype dx, clmse_dtype dy, uint64_t seed)
{
    char tag[160];
    snprintf(tag, sizeof tag, "%s [%s, %s]", s->name, clmse_dtype_name(dx),
             clmse_dtype_name(dy));
    th_rng rng;
    th_rng_seed(&rng, seed);
    size_t nx = 1, ny = 1;
    for (uint32_t k = 0; k < s->x.nd; k++)
        nx *= s->x.shape[k];
    for (uint32_t k = 0; k < s->y.nd; k++)
        ny *= s->y.shape[k];
    double *xv = alloc_doubles(nx), *yv = alloc_doubles(ny);
    random_vals(&rng, dx, xv, nx);
    random_vals(&rng, dy, yv, ny);
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

    const layout lo = s->out.given ? s->out : c_order(nd, shape, 1);
    const layout lgn = c_order(nd, shape, 3), l0 = c_order(0, NULL, 1);
    const layout lgx = s->gx.given ? s->gx : c_order(s->x.nd, s->x.shape, 2);
    const layout lgy = s->gy.given ? s->gy : c_order(s->y.nd, s->y.shape, 2);
    double *gn = alloc_doubles(n), gs;
    random_vals(&rng, p, gn, n);
    random_vals(&rng, p, &gs, 1);
    dt *out = dt_make(p, &lo, NULL, BUF_DEVICE), *out0 = dt_make(p, &l0, NULL, BUF_DEVICE);
    dt *g_none = dt_make(p, &lgn, gn, BUF_DEVICE), *g0 = dt_make(p, &l0, &gs, BUF_DEVICE);
    dt *gx = dt_make(dx, &lgx, NULL, BUF_DEVICE), *gy = dt_make(dy, &lgy, NULL, BUF_DEVICE);

    const clmse_reduction N = CLMSE_REDUCTION_NONE, M = CLMSE_REDUCTION_MEAN,
                          S = CLMSE_REDUCTION_SUM;
    run_verify(tag, N, 0, x, y, out, g_none, gx, gy); /* fused, elementwise grad_output */
    run_verify(tag, N, 0, x, y, out, NULL, NULL, NULL); /* forward */
    run_verify(tag, N, 0, x, y, NULL, g_none, NULL, gy); /* backward, target only */
    run_verify(tag, N, 0, x, y, NULL, NULL, gx, NULL);   /* backward, ones */
    run_verify(tag, M, 0, x, y, out0, NULL, gx, gy);
    run_verify(tag, M, 0, x, y, out0, NULL, NULL, NULL);
    run_verify(tag, M, 0, x, y, NULL, g0, gx, gy);
    run_verify(tag, S, 0, x, y, out0, g0, gx, gy);
    run_verify(tag, S, 0, x, y, out0, NULL, NULL, NULL);
    run_verify(tag, S, 0, x, y, NULL, g0, gx, NULL);

    dt *all[] = {x, y, out, out0, g_none, g0, gx, gy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        dt_free(all[i]);
    free(xv);
    free(yv);
    free(gn);
}

static const clmse_dtype k_same[4] = {CLMSE_DTYPE_F32, CLMSE_DTYPE_F64, CLMSE_DTYPE_F16,
                                      CLMSE_DTYPE_BF16};

/* ==== float32 contiguous: bit-identical to the _f32 entry points ========================== */

typedef struct legacy_run {
    size_t n;
    float *x, *y, *g;
    cl_mem bx, by, bg_none, bg_scalar, out[2], gx[2], gy[2];
    size_t tot; /* floats in each result buffer */
} legacy_run;

enum { OX = 3, OY = 5, OG = 1, OO = 2, OGX = 4, OGY = 6 };

static void reset_results(legacy_run *r)
{
    for (int k = 0; k < 2; k++) {
        th_buffer_reset(g_ctx, r->out[k], r->tot);
        th_buffer_reset(g_ctx, r->gx[k], r->tot);
        th_buffer_reset(g_ctx, r->gy[k], r->tot);
    }
}

static void assert_buffers_equal(legacy_run *r, cl_mem a, cl_mem b, const char *what)
{
    float *va = th_alloc_floats(r->tot), *vb = th_alloc_floats(r->tot);
    th_buffer_read(g_ctx, a, r->tot, va, NULL);
    th_buffer_read(g_ctx, b, r->tot, vb, NULL);
    size_t bad = r->tot;
    for (size_t i = 0; i < r->tot && bad == r->tot; i++)
        if (th_bits(va[i]) != th_bits(vb[i]))
            bad = i;
    const double fa = bad < r->tot ? (double)va[bad] : 0, fb = bad < r->tot ? (double)vb[bad] : 0;
    free(va);
    free(vb);
    ck_assert_msg(bad == r->tot, "%s: element %zu differs: _f32 %a, tensor %a", what, bad, fa,
                  fb);
}

START_TEST(test_f32_matches_legacy)
{
    /* _i: 0 a vector of 1000, 1 a (20, 50) matrix, 2 a (2, 5, 100) tensor: all contiguous. */
    static const size_t shapes[3][3] = {{1000, 0, 0}, {20, 50, 0}, {2, 5, 100}};
    const uint32_t nd = (uint32_t)_i + 1;
    legacy_run r;
    memset(&r, 0, sizeof r);
    r.n = 1000;
    r.x = th_alloc_floats(r.n);
    r.y = th_alloc_floats(r.n);
    r.g = th_alloc_floats(r.n);
    th_rng rng;
    th_rng_seed(&rng, 4242 + (uint64_t)_i);
    th_fill_uniform(&rng, r.x, r.n);
    th_fill_uniform(&rng, r.y, r.n);
    th_fill_uniform(&rng, r.g, r.n);
    const float gs = 0.625f;
    r.tot = r.n + 16;
    r.bx = th_buffer(g_ctx, OX + r.n + 2, OX, r.x, r.n);
    r.by = th_buffer(g_ctx, OY + r.n + 2, OY, r.y, r.n);
    r.bg_none = th_buffer(g_ctx, OG + r.n + 2, OG, r.g, r.n);
    r.bg_scalar = th_buffer(g_ctx, OG + 3, OG, &gs, 1);
    for (int k = 0; k < 2; k++) {
        r.out[k] = th_buffer(g_ctx, r.tot, 0, NULL, 0);
        r.gx[k] = th_buffer(g_ctx, r.tot, 0, NULL, 0);
        r.gy[k] = th_buffer(g_ctx, r.tot, 0, NULL, 0);
    }
    clmse_tensor tx, ty, tgn, tgs, tout_none, tout0, tgx, tgy;
    CHECK_OK(NULL, clmse_tensor_init(&tx, r.bx, CLMSE_DTYPE_F32, nd, shapes[_i], NULL, OX));
    CHECK_OK(NULL, clmse_tensor_init(&ty, r.by, CLMSE_DTYPE_F32, nd, shapes[_i], NULL, OY));
    CHECK_OK(NULL, clmse_tensor_init(&tgn, r.bg_none, CLMSE_DTYPE_F32, nd, shapes[_i], NULL, OG));
    CHECK_OK(NULL, clmse_tensor_init(&tgs, r.bg_scalar, CLMSE_DTYPE_F32, 0, NULL, NULL, OG));
    CHECK_OK(NULL, clmse_tensor_init(&tout_none, r.out[1], CLMSE_DTYPE_F32, nd, shapes[_i], NULL,
                                     OO));
    CHECK_OK(NULL, clmse_tensor_init(&tout0, r.out[1], CLMSE_DTYPE_F32, 0, NULL, NULL, OO));
    CHECK_OK(NULL, clmse_tensor_init(&tgx, r.gx[1], CLMSE_DTYPE_F32, nd, shapes[_i], NULL, OGX));
    CHECK_OK(NULL, clmse_tensor_init(&tgy, r.gy[1], CLMSE_DTYPE_F32, nd, shapes[_i], NULL, OGY));

    for (int k = 0; k < 3; k++) {
        const clmse_reduction red = k_reductions[k];
        const int none = red == CLMSE_REDUCTION_NONE;
        const clmse_tensor *tout = none ? &tout_none : &tout0, *tg = none ? &tgn : &tgs;
        cl_mem bg = none ? r.bg_none : r.bg_scalar;
        for (int with_g = 0; with_g < 2; with_g++) {
            clmse_mse_args a;
            memset(&a, 0, sizeof a);
            a.reduction = red;
            a.input = &tx;
            a.target = &ty;
            cl_event ev = NULL;
            /* forward */
            reset_results(&r);
            CHECK_OK(g_ctx, clmse_mse_forward_f32(g_ctx, red, r.n, r.bx, OX, r.by, OY, r.out[0],
                                                  OO, 0, NULL, &ev));
            finish_event(ev);
            a.output = tout;
            CHECK_OK(g_ctx, clmse_mse(g_ctx, &a, 0, NULL, &ev));
            finish_event(ev);
            assert_buffers_equal(&r, r.out[0], r.out[1], k_red_names[k]);
            /* backward */
            reset_results(&r);
            CHECK_OK(g_ctx, clmse_mse_backward_f32(g_ctx, red, r.n, r.bx, OX, r.by, OY,
                                                   with_g ? bg : NULL, OG, r.gx[0], OGX,
                                                   r.gy[0], OGY, 0, NULL, &ev));
            finish_event(ev);
            a.output = NULL;
            a.grad_output = with_g ? tg : NULL;
            a.grad_input = &tgx;
            a.grad_target = &tgy;
            CHECK_OK(g_ctx, clmse_mse(g_ctx, &a, 0, NULL, &ev));
            finish_event(ev);
            assert_buffers_equal(&r, r.gx[0], r.gx[1], "backward grad_input");
            assert_buffers_equal(&r, r.gy[0], r.gy[1], "backward grad_target");
            /* fused */
            reset_results(&r);
            CHECK_OK(g_ctx, clmse_mse_forward_backward_f32(
                                g_ctx, red, r.n, r.bx, OX, r.by, OY, r.out[0], OO,
                                with_g ? bg : NULL, OG, r.gx[0], OGX, r.gy[0], OGY, 0, NULL,
                                &ev));
            finish_event(ev);
            a.output = tout;
            CHECK_OK(g_ctx, clmse_mse(g_ctx, &a, 0, NULL, &ev));
            finish_event(ev);
            assert_buffers_equal(&r, r.out[0], r.out[1], "fused output");
            assert_buffers_equal(&r, r.gx[0], r.gx[1], "fused grad_input");
            assert_buffers_equal(&r, r.gy[0], r.gy[1], "fused grad_target");
        }
    }
    /* And the values themselves, against the host reference. */
    float *v = th_alloc_floats(r.tot);
    th_buffer_read(g_ctx, r.out[1], r.tot, v, NULL);
    ck_assert(th_within_one_ulp(v[OO], th_ref_sum(r.x, r.y, r.n)));
    free(v);

    cl_mem bufs[] = {r.bx, r.by, r.bg_none, r.bg_scalar, r.out[0], r.out[1],
                     r.gx[0], r.gx[1], r.gy[0], r.gy[1]};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        ck_assert_int_eq(clReleaseMemObject(bufs[i]), CL_SUCCESS);
    free(r.x);
    free(r.y);
    free(r.g);
}
END_TEST

/* ==== broadcasting ======================================================================== */

START_TEST(test_broadcast_3x1_vs_3)
{
    /* The classic silent bug: (3,1) vs (3,) is a (3,3) loss with N = 9. Spelled out by hand. */
    const double xs[3] = {1.5, -2.25, 7.0}, ys[3] = {0.5, 3.75, -1.125};
    const size_t s31[2] = {3, 1}, s3[1] = {3}, s33[2] = {3, 3};
    const layout lx = c_order(2, s31, 1), ly = c_order(1, s3, 0), lo = c_order(2, s33, 2);
    const layout l0 = c_order(0, NULL, 0), lgx = c_order(2, s31, 0), lgy = c_order(1, s3, 4);
    dt *x = dt_make(CLMSE_DTYPE_F32, &lx, xs, BUF_DEVICE);
    dt *y = dt_make(CLMSE_DTYPE_F32, &ly, ys, BUF_DEVICE);
    dt *out = dt_make(CLMSE_DTYPE_F32, &lo, NULL, BUF_DEVICE);
    dt *out0 = dt_make(CLMSE_DTYPE_F32, &l0, NULL, BUF_DEVICE);
    dt *gx = dt_make(CLMSE_DTYPE_F32, &lgx, NULL, BUF_DEVICE);
    dt *gy = dt_make(CLMSE_DTYPE_F32, &lgy, NULL, BUF_DEVICE);
    const double gval = 0.8125;
    dt *g0 = dt_make(CLMSE_DTYPE_F32, &l0, &gval, BUF_DEVICE);
    clmse_mse_args a;
    cl_event ev = NULL;

    fill_args(&a, CLMSE_REDUCTION_NONE, 0, x, y, out, NULL, NULL, NULL);
    CHECK_OK(g_ctx, clmse_mse(g_ctx, &a, 0, NULL, &ev));
    finish_event(ev);
    unsigned char *got = dt_read(out);
    check_outside(out, got, "output");
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            volatile float d = (float)xs[i] - (float)ys[j];
            volatile float t = d * d;
            ck_assert_msg(load_el(got, CLMSE_DTYPE_F32, 2 + 3 * (size_t)i + (size_t)j) ==
                              th_bits(t),
                          "none[%d][%d]", i, j);
        }
    free(got);

    fill_args(&a, CLMSE_REDUCTION_MEAN, 0, x, y, out0, g0, gx, gy);
    CHECK_OK(g_ctx, clmse_mse(g_ctx, &a, 0, NULL, &ev));
    finish_event(ev);
    long double sum = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            sum += th_term((float)xs[i], (float)ys[j]);
    got = dt_read(out0);
    const float mean = (float)decode(CLMSE_DTYPE_F32, load_el(got, CLMSE_DTYPE_F32, 0));
    ck_assert_msg(th_within_one_ulp(mean, sum / 9), "mean %a, want %.20Lg (N = 9)", (double)mean,
                  sum / 9);
    free(got);
    const float scale = (float)(2.0 / 9.0), g = (float)gval;
    unsigned char *ggx = dt_read(gx), *ggy = dt_read(gy);
    check_outside(gx, ggx, "grad_input");
    check_outside(gy, ggy, "grad_target");
    for (int i = 0; i < 3; i++) {
        long double wx = 0, wy = 0;
        for (int j = 0; j < 3; j++) {
            wx += th_grad(scale, (float)xs[i], (float)ys[j], g); /* grad_input[i][0] */
            wy += th_grad(scale, (float)ys[i], (float)xs[j], g); /* grad_target[i] */
        }
        const float gxi = (float)decode(CLMSE_DTYPE_F32, load_el(ggx, CLMSE_DTYPE_F32, (size_t)i));
        const float gyi =
            (float)decode(CLMSE_DTYPE_F32, load_el(ggy, CLMSE_DTYPE_F32, 4 + (size_t)i));
        ck_assert_msg(th_within_one_ulp(gxi, wx), "grad_input[%d] %a, want %.20Lg", i,
                      (double)gxi, wx);
        ck_assert_msg(th_within_one_ulp(gyi, wy), "grad_target[%d] %a, want %.20Lg", i,
                      (double)gyi, wy);
    }
    free(ggx);
    free(ggy);

    /* Without CLMSE_STRICT_SHAPES this succeeded; with it the same call is refused. */
    dt_reset(out0);
    fill_args(&a, CLMSE_REDUCTION_MEAN, CLMSE_STRICT_SHAPES, x, y, out0, NULL, NULL, NULL);
    ck_assert_int_eq(clmse_mse(g_ctx, &a, 0, NULL, &ev), CLMSE_ERROR_SHAPE_MISMATCH);
    ck_assert_ptr_null(ev);
    got = dt_read(out0);
    check_outside(out0, got, "output");
    ck_assert_uint_eq(load_el(got, CLMSE_DTYPE_F32, 0), TH_SENTINEL_BITS);
    free(got);

    dt *all[] = {x, y, out, out0, gx, gy, g0};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        dt_free(all[i]);
}
END_TEST

#define SHAPE(...) .shape = {__VA_ARGS__}
#define STRIDES(...) .has_strides = 1, .strides = {__VA_ARGS__}

static const scenario k_bcast[] = {
    {"(3,1) vs (3,)", .x = {1, 2, SHAPE(3, 1)}, .y = {1, 1, SHAPE(3)}},
    {"(3,) vs (2,3)", .x = {1, 1, SHAPE(3)}, .y = {1, 2, SHAPE(2, 3)}},
    {"() vs (4,)", .x = {1, 0, SHAPE(0)}, .y = {1, 1, SHAPE(4)}},
    {"() vs (5,)", .x = {1, 0, SHAPE(0), .offset = 2}, .y = {1, 1, SHAPE(5)}},
    {"(5,) vs (1,)", .x = {1, 1, SHAPE(5)}, .y = {1, 1, SHAPE(1), .offset = 1}},
    {"(5,) vs ()", .x = {1, 1, SHAPE(5)}, .y = {1, 0, SHAPE(0)}},
    {"(2,1,4) vs (3,1)", .x = {1, 3, SHAPE(2, 1, 4)}, .y = {1, 2, SHAPE(3, 1)}},
    {"rank 8", .x = {1, 8, SHAPE(2, 1, 2, 1, 2, 1, 2, 1)},
     .y = {1, 8, SHAPE(1, 2, 1, 2, 1, 2, 1, 2)}},
    {"(64,1) vs (1,300)", .x = {1, 2, SHAPE(64, 1)}, .y = {1, 2, SHAPE(1, 300)}},
    {"strided (3,1) vs (3,)", .x = {1, 2, SHAPE(3, 1), STRIDES(2, 7), .offset = 1},
     .y = {1, 1, SHAPE(3), STRIDES(3)}},
    {"(4,1,3) F-order vs (5,1)", .x = {1, 3, SHAPE(4, 1, 3), STRIDES(1, 4, 4)},
     .y = {1, 2, SHAPE(5, 1)},
     .out = {1, 3, SHAPE(4, 5, 3), STRIDES(1, 4, 20), .offset = 2},
     .gx = {1, 3, SHAPE(4, 1, 3), STRIDES(2, 0, 8), .offset = 1}},
};
#define N_BCAST ((int)(sizeof k_bcast / sizeof k_bcast[0]))

START_TEST(test_broadcast_scenarios)
{
    const clmse_dtype d = k_same[_i % 4];
    run_scenario(&k_bcast[_i / 4], d, d, 1000 + (uint64_t)_i);
}
END_TEST

/* ==== strides ============================================================================= */

static const scenario k_strided[] = {
    /* column-major input, C-order target; column-major grad_input, gapped grad_target */
    {"F-order (4,5)", .x = {1, 2, SHAPE(4, 5), STRIDES(1, 4)}, .y = {1, 2, SHAPE(4, 5)},
     .gx = {1, 2, SHAPE(4, 5), STRIDES(1, 4), .offset = 3},
     .gy = {1, 2, SHAPE(4, 5), STRIDES(11, 2), .offset = 1}},
    /* every second element of a larger buffer, after an offset */
    {"slice ::2", .x = {1, 1, SHAPE(5), STRIDES(2), .offset = 3},
     .y = {1, 1, SHAPE(5), .offset = 1}, .out = {1, 1, SHAPE(5), STRIDES(3), .offset = 1},
     .gx = {1, 1, SHAPE(5), STRIDES(2), .offset = 1}},
    /* stride 0: one value repeated; shapes are equal, so nothing is broadcast */
    {"expanded (6,) stride 0", .x = {1, 1, SHAPE(6), STRIDES(0), .offset = 2},
     .y = {1, 1, SHAPE(6)}},
    {"expanded (3,4) strides (0,1)", .x = {1, 2, SHAPE(3, 4), STRIDES(0, 1)},
     .y = {1, 2, SHAPE(3, 4), STRIDES(0, 1), .offset = 5}},
    /* contiguous operands, non-contiguous results */
    {"transposed output", .x = {1, 2, SHAPE(4, 5)}, .y = {1, 2, SHAPE(4, 5)},
     .out = {1, 2, SHAPE(4, 5), STRIDES(1, 4)},
     .gx = {1, 2, SHAPE(4, 5), STRIDES(1, 4)}},
    {"gapped output", .x = {1, 2, SHAPE(3, 4)}, .y = {1, 2, SHAPE(3, 4)},
     .out = {1, 2, SHAPE(3, 4), STRIDES(10, 2), .offset = 5},
     .gy = {1, 2, SHAPE(3, 4), STRIDES(9, 2), .offset = 4}},
    /* a permuted rank-3 view: strides of a contiguous (4,3,2) base read as (2,3,4) */
    {"permuted (2,3,4)", .x = {1, 3, SHAPE(2, 3, 4), STRIDES(1, 2, 6)},
     .y = {1, 3, SHAPE(2, 3, 4), STRIDES(12, 1, 3)},
     .out = {1, 3, SHAPE(2, 3, 4), STRIDES(1, 2, 6)}},
    /* contiguous, through the same path the dtypes need */
    {"contiguous (5,9)", .x = {1, 2, SHAPE(5, 9)}, .y = {1, 2, SHAPE(5, 9), .offset = 7}},
};
#define N_STRIDED ((int)(sizeof k_strided / sizeof k_strided[0]))

START_TEST(test_stride_scenarios)
{
    const clmse_dtype d = k_same[_i % 4];
    run_scenario(&k_strided[_i / 4], d, d, 2000 + (uint64_t)_i);
}
END_TEST

START_TEST(test_equal_shapes_strict)
{
    /* CLMSE_STRICT_SHAPES accepts equal shapes whatever their strides. */
    const size_t s[2] = {4, 5};
    layout lx = c_order(2, s, 0), ly = c_order(2, s, 0);
    lx.has_strides = 1;
    lx.strides[0] = 1;
    lx.strides[1] = 4;
    double v[20], w[20];
    for (int i = 0; i < 20; i++) {
        v[i] = i + 1;
        w[i] = 0.25 * (19 - i);
    }
    dt *x = dt_make(CLMSE_DTYPE_F32, &lx, v, BUF_DEVICE);
    dt *y = dt_make(CLMSE_DTYPE_F32, &ly, w, BUF_DEVICE);
    const layout l0 = c_order(0, NULL, 0);
    dt *out = dt_make(CLMSE_DTYPE_F32, &l0, NULL, BUF_DEVICE);
    run_verify("strict", CLMSE_REDUCTION_SUM, CLMSE_STRICT_SHAPES, x, y, out, NULL, NULL, NULL);
    dt_free(x);
    dt_free(y);
    dt_free(out);
}
END_TEST

/* ==== dtypes ============================================================================== */

static const scenario k_dtype_scenarios[] = {
    {"(6,7)", .x = {1, 2, SHAPE(6, 7)}, .y = {1, 2, SHAPE(6, 7), .offset = 1}},
    {"(100,100)", .x = {1, 2, SHAPE(100, 100)}, .y = {1, 2, SHAPE(100, 100)}},
    {"(3,1) vs (3,)", .x = {1, 2, SHAPE(3, 1)}, .y = {1, 1, SHAPE(3)}},
    {"F-order (4,5) vs (4,5)", .x = {1, 2, SHAPE(4, 5), STRIDES(1, 4)},
     .y = {1, 2, SHAPE(4, 5)}, .gx = {1, 2, SHAPE(4, 5), STRIDES(1, 4)}},
};
#define N_DTYPE_SCEN ((int)(sizeof k_dtype_scenarios / sizeof k_dtype_scenarios[0]))

START_TEST(test_same_dtype)
{
    /* float64 in double (torch's order, bit-exact), float16/bfloat16 computed in float and
     * rounded once, float32 through the general path where the layout asks for it. */
    const clmse_dtype d = k_same[_i % 4];
    run_scenario(&k_dtype_scenarios[_i / 4], d, d, 3000 + (uint64_t)_i);
}
END_TEST

/* Input dtype, target dtype. */
static const clmse_dtype k_mixed[][2] = {
    {CLMSE_DTYPE_F16, CLMSE_DTYPE_F32},  {CLMSE_DTYPE_F32, CLMSE_DTYPE_F16},
    {CLMSE_DTYPE_BF16, CLMSE_DTYPE_F32}, {CLMSE_DTYPE_BF16, CLMSE_DTYPE_F16},
    {CLMSE_DTYPE_F32, CLMSE_DTYPE_F64},  {CLMSE_DTYPE_F64, CLMSE_DTYPE_F32},
    {CLMSE_DTYPE_F16, CLMSE_DTYPE_F64},  {CLMSE_DTYPE_F64, CLMSE_DTYPE_F16},
    {CLMSE_DTYPE_BF16, CLMSE_DTYPE_F64}, {CLMSE_DTYPE_F64, CLMSE_DTYPE_BF16},
};
#define N_MIXED ((int)(sizeof k_mixed / sizeof k_mixed[0]))

START_TEST(test_mixed_dtypes)
{
    /* Loss in the promoted dtype; each gradient in its operand's dtype, rounded once from the
     * compute type (e.g. f32 input + f64 target: grad_input is (float) of the double value). */
    const int pair = _i % N_MIXED, scen = _i / N_MIXED;
    const scenario *s = scen == 0 ? &k_dtype_scenarios[0]
                        : scen == 1 ? &k_dtype_scenarios[2]
                                    : &k_dtype_scenarios[3];
    run_scenario(s, k_mixed[pair][0], k_mixed[pair][1], 4000 + (uint64_t)_i);
}
END_TEST

START_TEST(test_half_explicit)
{
    /* "Compute in float, round once", spelled out for float16 (_i 0) and bfloat16 (_i 1). */
    const clmse_dtype d = _i ? CLMSE_DTYPE_BF16 : CLMSE_DTYPE_F16;
    enum { N = 45 };
    th_rng rng;
    th_rng_seed(&rng, 77 + (uint64_t)_i);
    double xv[N], yv[N];
    random_vals(&rng, d, xv, N);
    random_vals(&rng, d, yv, N);
    /* a few exact cancellations and large differences too */
    xv[0] = yv[0];
    xv[1] = -9.0;
    yv[1] = 8.9375;
    const size_t s[1] = {N};
    const layout l = c_order(1, s, 1), l0 = c_order(0, NULL, 0);
    dt *x = dt_make(d, &l, xv, BUF_DEVICE), *y = dt_make(d, &l, yv, BUF_DEVICE);
    dt *out = dt_make(d, &l, NULL, BUF_DEVICE), *out0 = dt_make(d, &l0, NULL, BUF_DEVICE);
    dt *gx = dt_make(d, &l, NULL, BUF_DEVICE);
    clmse_mse_args a;
    cl_event ev = NULL;
    fill_args(&a, CLMSE_REDUCTION_NONE, 0, x, y, out, NULL, gx, NULL);
    CHECK_OK(g_ctx, clmse_mse(g_ctx, &a, 0, NULL, &ev));
    finish_event(ev);
    unsigned char *got = dt_read(out), *ggx = dt_read(gx);
    long double sum = 0;
    for (int i = 0; i < N; i++) {
        const float xf = (float)xv[i], yf = (float)yv[i];
        const float t = th_term(xf, yf);
        const uint16_t want = _i ? th_bf16_from_float(t) : th_half_from_float(t);
        ck_assert_msg(load_el(got, d, 1 + (size_t)i) == want, "%s loss[%d] = %#x, want %#x",
                      clmse_dtype_name(d), i, (unsigned)load_el(got, d, 1 + (size_t)i),
                      (unsigned)want);
        const float gr = th_grad(2.0f, xf, yf, 1.0f);
        const uint16_t wg = _i ? th_bf16_from_float(gr) : th_half_from_float(gr);
        ck_assert_uint_eq(load_el(ggx, d, 1 + (size_t)i), wg);
        sum += t;
    }
    free(got);
    free(ggx);
    for (int k = 1; k < 3; k++) {
        dt_reset(out0);
        fill_args(&a, k_reductions[k], 0, x, y, out0, NULL, NULL, NULL);
        CHECK_OK(g_ctx, clmse_mse(g_ctx, &a, 0, NULL, &ev));
        finish_event(ev);
        got = dt_read(out0);
        const long double want = k_reductions[k] == CLMSE_REDUCTION_MEAN ? sum / N : sum;
        ck_assert_msg(near_value(d, load_el(got, d, 0), want), "%s %s = %g, want %.12Lg",
                      clmse_dtype_name(d), k_red_names[k], decode(d, load_el(got, d, 0)), want);
        free(got);
    }
    dt *all[] = {x, y, out, out0, gx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        dt_free(all[i]);
}
END_TEST

START_TEST(test_round_once_from_double)
{
    /* A float16 / bfloat16 gradient of a float64-promoted pair must be rounded once from the
     * double value (clmse.h: "rounded once"); rounding to float first would turn these
     * above-tie values into exact ties, which then round to even (down).
     * x = base (narrow), y = -(2^-k + 2^-m) (f64), 'none' with g = 0.5: grad_input =
     * (2 * (x - y)) * 0.5 = base + 2^-k + 2^-m exactly, just above the tie between base and its
     * successor, so it must round up. */
    static const struct {
        clmse_dtype d;
        double base;
        int k, m;
    } cases[4] = {
        {CLMSE_DTYPE_F16, 1.0, 11, 40},   /* normal: tie 1 + 2^-11 */
        {CLMSE_DTYPE_BF16, 1.0, 8, 30},   /* normal: tie 1 + 2^-8 */
        {CLMSE_DTYPE_F16, 0.0, 25, 60},   /* subnormal: tie 2^-25, half the smallest */
        {CLMSE_DTYPE_BF16, 0.0, 134, 160}, /* subnormal: tie 2^-134 */
    };
    const clmse_dtype d = cases[_i].d;
    const double xv = cases[_i].base, gv = 0.5;
    const double yv = -(th_pow2(-cases[_i].k) + th_pow2(-cases[_i].m));
    const double v = xv - yv; /* exact */
    const size_t s[1] = {1};
    const layout l = c_order(1, s, 0);
    dt *x = dt_make(d, &l, &xv, BUF_DEVICE), *y = dt_make(CLMSE_DTYPE_F64, &l, &yv, BUF_DEVICE);
    dt *g = dt_make(CLMSE_DTYPE_F64, &l, &gv, BUF_DEVICE);
    dt *gx = dt_make(d, &l, NULL, BUF_DEVICE), *gy = dt_make(CLMSE_DTYPE_F64, &l, NULL, BUF_DEVICE);
    clmse_mse_args a;
    fill_args(&a, CLMSE_REDUCTION_NONE, 0, x, y, NULL, g, gx, gy);
    /* Without fp64 the float64 target is refused: call_mse checks that, and nothing ran. */
    if (!call_mse("round once", &a)) {
        check_unchanged(gx, "round once");
        check_unchanged(gy, "round once");
        goto done;
    }
    unsigned char *got = dt_read(gx);
    const uint64_t want = encode(d, v), via_float = encode(d, (double)(float)v);
    ck_assert_uint_ne(want, via_float); /* the case really separates the two */
    ck_assert_msg(load_el(got, d, 0) == want,
                  "%s grad_input of a float64 pair = %#x, want %#x (%#x is rounding through "
                  "float first)",
                  clmse_dtype_name(d), (unsigned)load_el(got, d, 0), (unsigned)want,
                  (unsigned)via_float);
    free(got);
done:;
    dt *all[] = {x, y, g, gx, gy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        dt_free(all[i]);
}
END_TEST

/* ==== empty and 0-d ======================================================================= */

START_TEST(test_empty)
{
    const size_t z[1] = {0}, one[1] = {1}, z3[2] = {0, 3}, three[1] = {3};
    const size_t z2[2] = {2, 0}, two1[2] = {2, 1};
    const layout lz = c_order(1, z, 0), l0 = c_order(0, NULL, 1);

    /* (0,) vs (0,), NULL buffers everywhere except the reduced output. */
    dt *x = dt_make(CLMSE_DTYPE_F32, &lz, NULL, BUF_NULL_IF_EMPTY);
    dt *y = dt_make(CLMSE_DTYPE_F32, &lz, NULL, BUF_NULL_IF_EMPTY);
    dt *out0 = dt_make(CLMSE_DTYPE_F32, &l0, NULL, BUF_DEVICE);
    dt *onone = dt_make(CLMSE_DTYPE_F32, &lz, NULL, BUF_NULL_IF_EMPTY);
    dt *oreal = dt_make(CLMSE_DTYPE_F32, &lz, NULL, BUF_DEVICE); /* an empty view, real buffer */
    dt *gx = dt_make(CLMSE_DTYPE_F32, &lz, NULL, BUF_NULL_IF_EMPTY);
    dt *gy = dt_make(CLMSE_DTYPE_F32, &lz, NULL, BUF_DEVICE);
    ck_assert_ptr_null(x->t.buffer);
    run_verify("(0,) mean", CLMSE_REDUCTION_MEAN, 0, x, y, out0, NULL, gx, gy);
    unsigned char *got = dt_read(out0);
    ck_assert(isnan(decode(CLMSE_DTYPE_F32, load_el(got, CLMSE_DTYPE_F32, 1))));
    free(got);
    run_verify("(0,) sum", CLMSE_REDUCTION_SUM, 0, x, y, out0, NULL, gx, gy);
    got = dt_read(out0);
    ck_assert_uint_eq(load_el(got, CLMSE_DTYPE_F32, 1), 0); /* +0, not -0 */
    free(got);
    run_verify("(0,) none", CLMSE_REDUCTION_NONE, 0, x, y, onone, NULL, gx, gy);
    run_verify("(0,) none", CLMSE_REDUCTION_NONE, 0, x, y, oreal, NULL, NULL, NULL);
    run_verify("(0,) grads", CLMSE_REDUCTION_SUM, 0, x, y, NULL, NULL, gx, gy);
    /* float64 and float16 take the general path with nothing to do as well. */
    dt *xd = dt_make(CLMSE_DTYPE_F64, &lz, NULL, BUF_NULL_IF_EMPTY);
    dt *yh = dt_make(CLMSE_DTYPE_F16, &lz, NULL, BUF_NULL_IF_EMPTY);
    dt *outd = dt_make(CLMSE_DTYPE_F64, &l0, NULL, BUF_DEVICE);
    run_verify("(0,) f64+f16 mean", CLMSE_REDUCTION_MEAN, 0, xd, yh, outd, NULL, NULL, NULL);
    run_verify("(0,) f64+f16 sum", CLMSE_REDUCTION_SUM, 0, xd, yh, outd, NULL, NULL, NULL);

    /* (0,) vs (1,): the target is broadcast over nothing, its gradient is written as 0. */
    const layout l1 = c_order(1, one, 0), l1o = c_order(1, one, 2);
    const double seven = 7.0;
    dt *y1 = dt_make(CLMSE_DTYPE_F32, &l1, &seven, BUF_DEVICE);
    dt *gy1 = dt_make(CLMSE_DTYPE_F32, &l1o, NULL, BUF_DEVICE);
    run_verify("(0,) vs (1,)", CLMSE_REDUCTION_MEAN, 0, x, y1, out0, NULL, gx, gy1);
    got = dt_read(gy1);
    ck_assert_uint_eq(load_el(got, CLMSE_DTYPE_F32, 2), 0);
    free(got);
    run_verify("(0,) vs (1,) sum", CLMSE_REDUCTION_SUM, 0, x, y1, NULL, NULL, NULL, gy1);

    /* (0,3) vs (0,3), (0,3) vs (3,) and (2,0) vs (2,1). */
    const layout lz3 = c_order(2, z3, 0), l3 = c_order(1, three, 1);
    const layout lz2 = c_order(2, z2, 0), l21 = c_order(2, two1, 0);
    const double v3[3] = {1, 2, 3};
    dt *xz3 = dt_make(CLMSE_DTYPE_F32, &lz3, NULL, BUF_NULL_IF_EMPTY);
    dt *yz3 = dt_make(CLMSE_DTYPE_F32, &lz3, NULL, BUF_DEVICE);
    dt *y3 = dt_make(CLMSE_DTYPE_F32, &l3, v3, BUF_DEVICE);
    dt *gy3 = dt_make(CLMSE_DTYPE_F32, &l3, NULL, BUF_DEVICE);
    dt *oz3 = dt_make(CLMSE_DTYPE_F32, &lz3, NULL, BUF_DEVICE);
    dt *xz2 = dt_make(CLMSE_DTYPE_F64, &lz2, NULL, BUF_NULL_IF_EMPTY);
    dt *y21 = dt_make(CLMSE_DTYPE_F64, &l21, v3, BUF_DEVICE);
    dt *gy21 = dt_make(CLMSE_DTYPE_F64, &l21, NULL, BUF_DEVICE);
    for (int k = 0; k < 3; k++) {
        const clmse_reduction red = k_reductions[k];
        dt *o = red == CLMSE_REDUCTION_NONE ? oz3 : out0;
        run_verify("(0,3)", red, 0, xz3, yz3, o, NULL, NULL, NULL);
        run_verify("(0,3) vs (3,)", red, 0, xz3, y3, o, NULL, NULL, gy3);
        run_verify("(2,0) vs (2,1)", red, 0, xz2, y21, red == CLMSE_REDUCTION_NONE ? NULL : outd,
                   NULL, NULL, gy21);
    }
    got = dt_read(gy3);
    for (size_t i = 0; i < 3; i++)
        ck_assert_uint_eq(load_el(got, CLMSE_DTYPE_F32, 1 + i), 0);
    free(got);

    dt *all[] = {x, y, out0, onone, oreal, gx, gy, xd, yh, outd, y1, gy1,
                 xz3, yz3, y3, gy3, oz3, xz2, y21, gy21};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        dt_free(all[i]);
}
END_TEST

START_TEST(test_zero_d)
{
    /* x = 3, y = 1: loss 4 for every reduction, grad_input 4, grad_target -4. */
    const clmse_dtype d = k_same[_i];
    const double three = 3.0, one = 1.0;
    const layout l0 = c_order(0, NULL, 1), l11 = c_order(2, (const size_t[]){1, 1}, 0);
    const layout l1 = c_order(1, (const size_t[]){1}, 2);
    dt *x = dt_make(d, &l0, &three, BUF_DEVICE), *y = dt_make(d, &l0, &one, BUF_DEVICE);
    dt *out = dt_make(d, &l0, NULL, BUF_DEVICE), *out11 = dt_make(d, &l11, NULL, BUF_DEVICE);
    dt *out1 = dt_make(d, &l1, NULL, BUF_DEVICE);
    dt *gx = dt_make(d, &l0, NULL, BUF_DEVICE), *gy = dt_make(d, &l0, NULL, BUF_DEVICE);
    for (int k = 0; k < 3; k++) {
        const clmse_reduction red = k_reductions[k];
        if (!run_verify("0-d", red, 0, x, y, out, NULL, gx, gy))
            continue; /* float64 without fp64: refused, and checked so */
        unsigned char *go = dt_read(out), *ggx = dt_read(gx), *ggy = dt_read(gy);
        ck_assert_msg(decode(d, load_el(go, d, 1)) == 4.0, "%s %s loss %g", clmse_dtype_name(d),
                      k_red_names[k], decode(d, load_el(go, d, 1)));
        ck_assert(decode(d, load_el(ggx, d, 1)) == 4.0);
        ck_assert(decode(d, load_el(ggy, d, 1)) == -4.0);
        free(go);
        free(ggx);
        free(ggy);
        /* A reduced loss may be any one-element shape. */
        if (red != CLMSE_REDUCTION_NONE) {
            run_verify("0-d into (1,1)", red, 0, x, y, out11, NULL, NULL, NULL);
            run_verify("0-d into (1,)", red, 0, x, y, out1, NULL, NULL, NULL);
        }
    }
    dt *all[] = {x, y, out, out11, out1, gx, gy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        dt_free(all[i]);
}
END_TEST

/* ==== NaN and infinity ==================================================================== */

START_TEST(test_nan_inf)
{
    /* _i / 2: dtype; _i % 2: contiguous or every second element (the general path). */
    const clmse_dtype d = k_same[_i / 2];
    const int strided = _i % 2;
    const double xs[4] = {(double)INFINITY, 1.0, (double)NAN, 2.0}, ys[4] = {0.0, 1.0, 0.0, 1.0};
    const size_t s4[1] = {4}, s2[1] = {2};
    layout l4 = c_order(1, s4, 1), l2 = c_order(1, s2, 0);
    if (strided) {
        l4.has_strides = l2.has_strides = 1;
        l4.strides[0] = l2.strides[0] = 2;
    }
    const layout lo4 = c_order(1, s4, 0), l0 = c_order(0, NULL, 0);
    dt *x = dt_make(d, &l4, xs, BUF_DEVICE), *y = dt_make(d, &l4, ys, BUF_DEVICE);
    dt *x2 = dt_make(d, &l2, xs, BUF_DEVICE), *y2 = dt_make(d, &l2, ys, BUF_DEVICE);
    dt *out = dt_make(d, &lo4, NULL, BUF_DEVICE), *out0 = dt_make(d, &l0, NULL, BUF_DEVICE);
    dt *gx = dt_make(d, &lo4, NULL, BUF_DEVICE), *gy = dt_make(d, &lo4, NULL, BUF_DEVICE);

    /* Every call below has the same dtypes: when this one is refused (float64 without fp64),
     * so are they. */
    if (!run_verify("nan/inf none", CLMSE_REDUCTION_NONE, 0, x, y, out, NULL, NULL, NULL))
        goto done;
    unsigned char *got = dt_read(out);
    ck_assert(decode(d, load_el(got, d, 0)) == (double)INFINITY);
    ck_assert_uint_eq(load_el(got, d, 1), 0);
    ck_assert(isnan(decode(d, load_el(got, d, 2))));
    ck_assert(decode(d, load_el(got, d, 3)) == 1.0);
    free(got);

    run_verify("nan/inf mean", CLMSE_REDUCTION_MEAN, 0, x, y, out0, NULL, gx, gy);
    got = dt_read(out0);
    ck_assert(isnan(decode(d, load_el(got, d, 0))));
    free(got);
    /* mean over 4: scale 0.5, gx = [inf, 0, nan, 0.5], gy = [-inf, 0, nan, -0.5] */
    unsigned char *ggx = dt_read(gx), *ggy = dt_read(gy);
    ck_assert(decode(d, load_el(ggx, d, 0)) == (double)INFINITY);
    ck_assert_uint_eq(load_el(ggx, d, 1), 0);
    ck_assert(isnan(decode(d, load_el(ggx, d, 2))));
    ck_assert(decode(d, load_el(ggx, d, 3)) == 0.5);
    ck_assert(decode(d, load_el(ggy, d, 0)) == -(double)INFINITY);
    ck_assert_uint_eq(load_el(ggy, d, 1), 0);
    ck_assert(isnan(decode(d, load_el(ggy, d, 2))));
    ck_assert(decode(d, load_el(ggy, d, 3)) == -0.5);
    free(ggx);
    free(ggy);

    run_verify("nan/inf sum", CLMSE_REDUCTION_SUM, 0, x, y, out0, NULL, NULL, NULL);
    got = dt_read(out0);
    ck_assert(isnan(decode(d, load_el(got, d, 0))));
    free(got);
    run_verify("inf sum", CLMSE_REDUCTION_SUM, 0, x2, y2, out0, NULL, NULL, NULL);
    got = dt_read(out0);
    ck_assert(decode(d, load_el(got, d, 0)) == (double)INFINITY);
    free(got);
    run_verify("inf mean", CLMSE_REDUCTION_MEAN, 0, x2, y2, out0, NULL, NULL, NULL);
    got = dt_read(out0);
    ck_assert(decode(d, load_el(got, d, 0)) == (double)INFINITY);
    free(got);

done:;
    dt *all[] = {x, y, x2, y2, out, out0, gx, gy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        dt_free(all[i]);
}
END_TEST

/* ==== events ============================================================================== */

START_TEST(test_user_event_gates)
{
    /* _i: 0 broadcast none + both gradients (pass and two gradient kernels), 1 broadcast mean
     * + gradients (pass, final, gradients), 2 broadcast gradients only, 3 empty mean (the final
     * kernel alone), 4 empty none (nothing to run: the event still waits). */
    cl_context c = th_cl_context(g_ctx);
    const int empty = _i >= 3;
    const size_t sx[2] = {64, 1}, sy[1] = {64}, sb[2] = {64, 64}, z[1] = {0};
    const layout lx = empty ? c_order(1, z, 0) : c_order(2, sx, 0);
    const layout ly = empty ? c_order(1, z, 0) : c_order(1, sy, 0);
    const layout lo = empty ? c_order(1, z, 0) : c_order(2, sb, 0), l0 = c_order(0, NULL, 0);
    th_rng rng;
    th_rng_seed(&rng, 31);
    double xv[64], yv[64];
    random_vals(&rng, CLMSE_DTYPE_F32, xv, 64);
    random_vals(&rng, CLMSE_DTYPE_F32, yv, 64);
    dt *x = dt_make(CLMSE_DTYPE_F32, &lx, xv, BUF_NULL_IF_EMPTY);
    dt *y = dt_make(CLMSE_DTYPE_F32, &ly, yv, BUF_NULL_IF_EMPTY);
    const clmse_reduction red = _i == 1 || _i == 3 ? CLMSE_REDUCTION_MEAN
                                : _i == 2          ? CLMSE_REDUCTION_SUM
                                                   : CLMSE_REDUCTION_NONE;
    dt *out = NULL, *gx = NULL, *gy = NULL;
    if (_i != 2)
        out = dt_make(CLMSE_DTYPE_F32, red == CLMSE_REDUCTION_NONE ? &lo : &l0, NULL,
                      BUF_HOST_BACKED);
    if (!empty) {
        gx = dt_make(CLMSE_DTYPE_F32, &lx, NULL, BUF_HOST_BACKED);
        gy = dt_make(CLMSE_DTYPE_F32, &ly, NULL, BUF_HOST_BACKED);
    }
    cl_int err = CL_SUCCESS;
    cl_event user = clCreateUserEvent(c, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    clmse_mse_args a;
    fill_args(&a, red, 0, x, y, out, NULL, gx, gy);
    cl_event ev = NULL;
    CHECK_OK(g_ctx, clmse_mse(g_ctx, &a, 1, &user, &ev));
    ck_assert_ptr_nonnull(ev);

    th_assert_still_pending(ev);
    dt *results[3] = {out, gx, gy};
    for (int k = 0; k < 3; k++)
        if (results[k])
            ck_assert_msg(memcmp(results[k]->host, results[k]->img,
                                 results[k]->total * sizeof(float)) == 0,
                          "result %d written before the user event completed", k);

    ck_assert_int_eq(clSetUserEventStatus(user, CL_COMPLETE), CL_SUCCESS);
    finish_event(ev);
    ck_assert_int_eq(clReleaseEvent(user), CL_SUCCESS);
    verify("gated", red, x, y, out, NULL, gx, gy);
    if (_i == 3)
        ck_assert(isnan(((const float *)out->host)[0]));

    dt *all[] = {x, y, out, gx, gy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        dt_free(all[i]);
}
END_TEST

START_TEST(test_event_optional)
{
    /* event may be NULL; the work is still enqueued in order on the context's queue. In
     * float64 where the device has it, else float32: this checks the event, not the dtype. */
    const clmse_dtype d = g_fp64 ? CLMSE_DTYPE_F64 : CLMSE_DTYPE_F32;
    const size_t s[2] = {3, 1}, s3[1] = {3}, s33[2] = {3, 3};
    const double v[3] = {1, -2, 4};
    const layout lx = c_order(2, s, 0), ly = c_order(1, s3, 0), lo = c_order(2, s33, 0);
    dt *x = dt_make(d, &lx, v, BUF_DEVICE);
    dt *y = dt_make(d, &ly, v, BUF_DEVICE);
    dt *out = dt_make(d, &lo, NULL, BUF_DEVICE);
    dt *gx = dt_make(d, &lx, NULL, BUF_DEVICE);
    clmse_mse_args a;
    fill_args(&a, CLMSE_REDUCTION_NONE, 0, x, y, out, NULL, gx, NULL);
    CHECK_OK(g_ctx, clmse_mse(g_ctx, &a, 0, NULL, NULL));
    ck_assert_int_eq(clFinish(queue()), CL_SUCCESS);
    verify("no event", CLMSE_REDUCTION_NONE, x, y, out, NULL, gx, NULL);
    dt *all[] = {x, y, out, gx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        dt_free(all[i]);
}
END_TEST

/* ==== errors: exact statuses, no event, nothing written ==================================== */

enum { EBUF = 64 };

START_TEST(test_errors)
{
    const float data[EBUF] = {1, 2, 3, 4, 5, 6, 7, 8};
    cl_mem bx = th_buffer(g_ctx, EBUF, 0, data, EBUF), by = th_buffer(g_ctx, EBUF, 0, data, EBUF);
    cl_mem bg = th_buffer(g_ctx, EBUF, 0, data, EBUF);
    cl_mem bout = th_buffer(g_ctx, EBUF, 0, NULL, 0), bgx = th_buffer(g_ctx, EBUF, 0, NULL, 0);
    cl_mem bgy = th_buffer(g_ctx, EBUF, 0, NULL, 0);
    const size_t s4[1] = {4}, s5[1] = {5}, s2[1] = {2}, s22[2] = {2, 2}, s3[1] = {3};
    const size_t s31[2] = {3, 1}, s33[2] = {3, 3}, s14[2] = {1, 4};
    clmse_tensor x, y, out, out0, g, gx, gy;
    CHECK_OK(NULL, clmse_tensor_init(&x, bx, CLMSE_DTYPE_F32, 1, s4, NULL, 0));
    CHECK_OK(NULL, clmse_tensor_init(&y, by, CLMSE_DTYPE_F32, 1, s4, NULL, 0));
    CHECK_OK(NULL, clmse_tensor_init(&out, bout, CLMSE_DTYPE_F32, 1, s4, NULL, 0));
    CHECK_OK(NULL, clmse_tensor_init(&out0, bout, CLMSE_DTYPE_F32, 0, NULL, NULL, 0));
    CHECK_OK(NULL, clmse_tensor_init(&g, bg, CLMSE_DTYPE_F32, 1, s4, NULL, 0));
    CHECK_OK(NULL, clmse_tensor_init(&gx, bgx, CLMSE_DTYPE_F32, 1, s4, NULL, 0));
    CHECK_OK(NULL, clmse_tensor_init(&gy, bgy, CLMSE_DTYPE_F32, 1, s4, NULL, 0));
    clmse_mse_args args = {CLMSE_REDUCTION_NONE, 0, &x, &y, &out, &g, &gx, &gy};
    const clmse_mse_args *ap = &args;
    clmse_context *ctx = g_ctx;
    cl_uint num_wait = 0;
    const cl_event *wait = NULL;
    cl_event user = NULL;
    cl_context other = NULL;
    cl_mem foreign = NULL;
    clmse_status want = CLMSE_SUCCESS;
    const int64_t far[1] = {100};
    /* A float dtype that is not the promoted float32 and that the device supports. */
    const clmse_dtype wide = g_fp64 ? CLMSE_DTYPE_F64 : CLMSE_DTYPE_BF16;

    switch (_i) {
    case 0: want = CLMSE_SUCCESS; break; /* the control: the base call is valid */
    case 1: x.dtype = CLMSE_DTYPE_I32; want = CLMSE_ERROR_INVALID_DTYPE; break;
    case 2: y.dtype = CLMSE_DTYPE_BOOL; want = CLMSE_ERROR_INVALID_DTYPE; break;
    case 3: x.dtype = CLMSE_DTYPE_C64; want = CLMSE_ERROR_INVALID_DTYPE; break;
    case 4: y.dtype = CLMSE_DTYPE_C128; want = CLMSE_ERROR_INVALID_DTYPE; break;
    case 5: x.dtype = y.dtype = CLMSE_DTYPE_I64; want = CLMSE_ERROR_INVALID_DTYPE; break;
    /* Cases 6, 8, 9 and 26 use float64 where the device has it. Without fp64 any float64
     * tensor is refused first (CLMSE_ERROR_UNSUPPORTED_DTYPE), which would hide the check, so
     * they use a narrower dtype there. */
    case 6: out.dtype = wide; want = CLMSE_ERROR_INVALID_DTYPE; break;
    case 7: gx.dtype = CLMSE_DTYPE_F16; want = CLMSE_ERROR_INVALID_DTYPE; break;
    case 8: g.dtype = wide; want = CLMSE_ERROR_INVALID_DTYPE; break;
    case 9: /* the data promote to a dtype other than float32: a float32 output is wrong */
        x.dtype = gx.dtype = g_fp64 ? CLMSE_DTYPE_F64 : CLMSE_DTYPE_F16;
        if (!g_fp64) /* float16 with float32 would promote to float32 */
            y.dtype = gy.dtype = CLMSE_DTYPE_F16;
        want = CLMSE_ERROR_INVALID_DTYPE;
        break;
    case 10: out.shape[0] = 5; want = CLMSE_ERROR_SHAPE_MISMATCH; break;
    case 11: /* same element count, wrong shape */
        CHECK_OK(NULL, clmse_tensor_init(&out, bout, CLMSE_DTYPE_F32, 2, s22, NULL, 0));
        want = CLMSE_ERROR_SHAPE_MISMATCH;
        break;
    case 12: /* mean needs one element */
        args.reduction = CLMSE_REDUCTION_MEAN;
        args.grad_output = NULL;
        CHECK_OK(NULL, clmse_tensor_init(&out, bout, CLMSE_DTYPE_F32, 1, s2, NULL, 0));
        want = CLMSE_ERROR_SHAPE_MISMATCH;
        break;
    case 13: args.reduction = CLMSE_REDUCTION_SUM; args.grad_output = NULL;
        want = CLMSE_ERROR_SHAPE_MISMATCH; /* output (4,) for sum */
        break;
    case 14: CHECK_OK(NULL, clmse_tensor_init(&gx, bgx, CLMSE_DTYPE_F32, 1, s5, NULL, 0));
        want = CLMSE_ERROR_SHAPE_MISMATCH;
        break;
    case 15: CHECK_OK(NULL, clmse_tensor_init(&gy, bgy, CLMSE_DTYPE_F32, 2, s14, NULL, 0));
        want = CLMSE_ERROR_SHAPE_MISMATCH;
        break;
    case 16: CHECK_OK(NULL, clmse_tensor_init(&g, bg, CLMSE_DTYPE_F32, 1, s3, NULL, 0));
        want = CLMSE_ERROR_SHAPE_MISMATCH; /* grad_output (3,) for none of (4,) */
        break;
    case 17: /* grad_output (2,) for sum */
        args.reduction = CLMSE_REDUCTION_SUM;
        args.output = &out0;
        CHECK_OK(NULL, clmse_tensor_init(&g, bg, CLMSE_DTYPE_F32, 1, s2, NULL, 0));
        want = CLMSE_ERROR_SHAPE_MISMATCH;
        break;
    case 18: /* (4,) vs (3,) do not broadcast */
        CHECK_OK(NULL, clmse_tensor_init(&y, by, CLMSE_DTYPE_F32, 1, s3, NULL, 0));
        args.grad_target = NULL;
        want = CLMSE_ERROR_SHAPE_MISMATCH;
        break;
    case 19: /* strict shapes: (3,1) vs (3,) is refused although it broadcasts */
        args.flags = CLMSE_STRICT_SHAPES;
        CHECK_OK(NULL, clmse_tensor_init(&x, bx, CLMSE_DTYPE_F32, 2, s31, NULL, 0));
        CHECK_OK(NULL, clmse_tensor_init(&y, by, CLMSE_DTYPE_F32, 1, s3, NULL, 0));
        CHECK_OK(NULL, clmse_tensor_init(&out, bout, CLMSE_DTYPE_F32, 2, s33, NULL, 0));
        CHECK_OK(NULL, clmse_tensor_init(&g, bg, CLMSE_DTYPE_F32, 2, s33, NULL, 0));
        CHECK_OK(NULL, clmse_tensor_init(&gx, bgx, CLMSE_DTYPE_F32, 2, s31, NULL, 0));
        CHECK_OK(NULL, clmse_tensor_init(&gy, bgy, CLMSE_DTYPE_F32, 1, s3, NULL, 0));
        want = CLMSE_ERROR_SHAPE_MISMATCH;
        break;
    case 20: args.flags = 2u; want = CLMSE_ERROR_INVALID_ARGUMENT; break;
    case 21: args.flags = 0x80000000u | CLMSE_STRICT_SHAPES; want = CLMSE_ERROR_INVALID_ARGUMENT;
        break;
    case 22: /* strides reach past the buffer */
        CHECK_OK(NULL, clmse_tensor_init(&x, bx, CLMSE_DTYPE_F32, 1, s4, far, 0));
        want = CLMSE_ERROR_BUFFER_TOO_SMALL;
        break;
    case 23: out.offset = 70; want = CLMSE_ERROR_BUFFER_TOO_SMALL; break;
    case 24: y.offset = EBUF - 3; want = CLMSE_ERROR_BUFFER_TOO_SMALL; break; /* one too far */
    case 25: y.offset = EBUF - 4; want = CLMSE_SUCCESS; break;                /* just fits */
    case 26: /* a view of 8-byte elements (2-byte without fp64) that ends past the buffer */
        x.dtype = y.dtype = out0.dtype = g_fp64 ? CLMSE_DTYPE_F64 : CLMSE_DTYPE_F16;
        /* 4 elements from there end 2 past the buffer: its size counts elements of x's dtype */
        x.offset = (g_fp64 ? EBUF / 2 : EBUF * 2) - 2;
        args.output = &out0;
        args.grad_output = args.grad_input = args.grad_target = NULL;
        args.reduction = CLMSE_REDUCTION_SUM;
        want = CLMSE_ERROR_BUFFER_TOO_SMALL;
        break;
    case 27: y.buffer = NULL; want = CLMSE_ERROR_INVALID_ARGUMENT; break;
    case 28: gx.buffer = NULL; want = CLMSE_ERROR_INVALID_ARGUMENT; break;
    case 29: ap = NULL; want = CLMSE_ERROR_INVALID_ARGUMENT; break;
    case 30: args.input = NULL; want = CLMSE_ERROR_INVALID_ARGUMENT; break;
    case 31: args.target = NULL; want = CLMSE_ERROR_INVALID_ARGUMENT; break;
    case 32: args.output = args.grad_input = args.grad_target = NULL;
        want = CLMSE_ERROR_INVALID_ARGUMENT; /* grad_output alone asks for nothing */
        break;
    case 33: args.reduction = (clmse_reduction)7; want = CLMSE_ERROR_INVALID_REDUCTION; break;
    case 34: args.reduction = (clmse_reduction)-1; want = CLMSE_ERROR_INVALID_REDUCTION; break;
    case 35: x.ndim = CLMSE_MAX_NDIM + 1; want = CLMSE_ERROR_INVALID_LAYOUT; break;
    case 36: out.strides[0] = -1; want = CLMSE_ERROR_INVALID_LAYOUT; break;
    case 37: y.strides[0] = -1; want = CLMSE_ERROR_INVALID_LAYOUT; break;
    case 38: { /* element counts that overflow size_t (every tensor, so nothing else fails) */
        clmse_tensor *all[6] = {&x, &y, &out, &g, &gx, &gy};
        for (int k = 0; k < 6; k++) {
            all[k]->ndim = 2;
            all[k]->shape[0] = SIZE_MAX / 2 + 1;
            all[k]->shape[1] = 4;
            all[k]->strides[0] = 0;
            all[k]->strides[1] = 1;
        }
        want = CLMSE_ERROR_SIZE_OVERFLOW;
        break;
    }
    case 39: num_wait = 1; want = CLMSE_ERROR_INVALID_ARGUMENT; break;
    case 40: {
        cl_int err = CL_SUCCESS;
        user = clCreateUserEvent(th_cl_context(g_ctx), &err);
        ck_assert_int_eq(err, CL_SUCCESS);
        wait = &user; /* with num_wait 0 */
        want = CLMSE_ERROR_INVALID_ARGUMENT;
        break;
    }
    case 41:
    case 42: { /* a buffer of another cl_context, as output (41) or input (42) */
        cl_device_id dev = NULL;
        ck_assert_int_eq(clmse_context_get_cl(g_ctx, NULL, &dev, NULL), CLMSE_SUCCESS);
        cl_int err = CL_SUCCESS;
        other = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
        ck_assert_int_eq(err, CL_SUCCESS);
        foreign = clCreateBuffer(other, CL_MEM_READ_WRITE, EBUF * sizeof(float), NULL, &err);
        ck_assert_int_eq(err, CL_SUCCESS);
        if (_i == 41)
            out.buffer = foreign;
        else
            x.buffer = foreign;
        want = CLMSE_ERROR_INVALID_ARGUMENT;
        break;
    }
    case 43: ctx = NULL; want = CLMSE_ERROR_INVALID_HANDLE; break;
    default: ck_abort_msg("no case %d", _i); return;
    }

    cl_event ev = (cl_event)(void *)&g_dummy_event;
    const clmse_status st = clmse_mse(ctx, ap, num_wait, wait, &ev);
    ck_assert_msg(st == want, "case %d: got %s (%d), want %s (%d): %s", _i,
                  clmse_status_string(st), (int)st, clmse_status_string(want), (int)want,
                  clmse_context_last_error(ctx));
    if (want == CLMSE_SUCCESS) {
        finish_event(ev);
    } else {
        ck_assert_msg(ev == NULL, "case %d: *event was not reset to NULL", _i);
        ck_assert_msg(clmse_context_last_error(ctx)[0] != '\0', "case %d: no message", _i);
        ck_assert_int_eq(clFinish(queue()), CL_SUCCESS);
        th_assert_untouched(g_ctx, bout, EBUF);
        th_assert_untouched(g_ctx, bgx, EBUF);
        th_assert_untouched(g_ctx, bgy, EBUF);
    }
    /* Operands are never written. */
    float v[EBUF];
    th_buffer_read(g_ctx, bx, EBUF, v, NULL);
    ck_assert_mem_eq(v, data, sizeof v);
    th_buffer_read(g_ctx, by, EBUF, v, NULL);
    ck_assert_mem_eq(v, data, sizeof v);

    if (user)
        ck_assert_int_eq(clReleaseEvent(user), CL_SUCCESS);
    if (foreign)
        ck_assert_int_eq(clReleaseMemObject(foreign), CL_SUCCESS);
    if (other)
        ck_assert_int_eq(clReleaseContext(other), CL_SUCCESS);
    cl_mem bufs[] = {bx, by, bg, bout, bgx, bgy};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        ck_assert_int_eq(clReleaseMemObject(bufs[i]), CL_SUCCESS);
}
END_TEST
#define N_ERROR_CASES 44

Suite *make_tensor_mse_suite(void)
{
    Suite *s = suite_create("tensor_mse");
    TCase *tc = th_device_tcase(s, "f32_fast_path");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_f32_matches_legacy, 0, 3);
    tc = th_device_tcase(s, "broadcast");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_broadcast_3x1_vs_3);
    tcase_add_loop_test(tc, test_broadcast_scenarios, 0, 4 * N_BCAST);
    tc = th_device_tcase(s, "strides");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_stride_scenarios, 0, 4 * N_STRIDED);
    tcase_add_test(tc, test_equal_shapes_strict);
    tc = th_device_tcase(s, "dtypes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_same_dtype, 0, 4 * N_DTYPE_SCEN);
    tcase_add_loop_test(tc, test_mixed_dtypes, 0, 3 * N_MIXED);
    tcase_add_loop_test(tc, test_half_explicit, 0, 2);
    tc = th_device_tcase(s, "round_once_from_double");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_round_once_from_double, 0, 4);
    tc = th_device_tcase(s, "edge");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_empty);
    tcase_add_loop_test(tc, test_zero_d, 0, 4);
    tcase_add_loop_test(tc, test_nan_inf, 0, 8);
    tc = th_device_tcase(s, "events");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_user_event_gates, 0, 5);
    tcase_add_test(tc, test_event_optional);
    tc = th_device_tcase(s, "errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_errors, 0, N_ERROR_CASES);
    return s;
}
