/* SPDX-License-Identifier: MIT */
/* The fault suites' workload (fault_harness.h): float32 device and host calls and tensor calls
 * of every program kind, each step's results kept as bytes to compare bit for bit. */
#include "fault_harness.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==== results as bytes ================================================================== */

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

void ft_blob_free(blob *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

int ft_blob_equal(const blob *a, const blob *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* ==== the workload ======================================================================= */

static cl_mem dev_buffer(bench *b, size_t bytes, const void *init)
{
    cl_int err = CL_SUCCESS;
    cl_mem m =
        clCreateBuffer(th_cl_context(b->ctx), CL_MEM_READ_WRITE | (init ? CL_MEM_COPY_HOST_PTR : 0),
                       bytes, (void *)init, &err);
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

void ft_bench_open(bench *b, clmse_context *ctx)
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

void ft_bench_close(bench *b)
{
    cl_mem all[] = {b->x,    b->y,     b->g,     b->out,   b->gx,  b->gy,    b->t1x,
                    b->t1y,  b->t1out, b->t1gx,  b->t2x,   b->t2y, b->t2out, b->t2gx,
                    b->t2gy, b->t3x,   b->t3y,   b->t3out, b->t3g, b->t3gx,  b->t3gy,
                    b->t4x,  b->t4y,   b->t4out, b->t4gy,  b->t5y, b->t5out};
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

/* ---- device-buffer steps (clmse_mse_*_f32) ---- */

typedef struct f32_step {
    op op;
    clmse_reduction red;
    size_t n;
    int g, gx, gy;   /* which optional buffers are passed */
    int event, wait; /* ask for an event; wait for one of the test's */
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
        st = clmse_mse_forward_f32(b->ctx, s->red, s->n, b->x, 0, b->y, 0, b->out, 0, nw, wl, evp);
        break;
    case OP_BACKWARD:
        st = clmse_mse_backward_f32(b->ctx, s->red, s->n, b->x, 0, b->y, 0, g, 0, gx, 0, gy, 0, nw,
                                    wl, evp);
        break;
    default:
        st = clmse_mse_fused_f32(b->ctx, s->red, s->n, b->x, 0, b->y, 0, b->out, 0, g, 0, gx, 0, gy,
                                 0, nw, wl, evp);
        break;
    }
    if (s->event)
        ft_settle_event(st, ev, "clmse_mse_*_f32");
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
    {OP_FORWARD, CLMSE_REDUCTION_MEAN, 0, 0, 0, 0, 1, 0}, /* the epilogue alone: NaN */
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
    case OP_FORWARD:
        st = clmse_host_forward_f32(b->ctx, s->red, s->n, x, y, b->hout);
        break;
    case OP_BACKWARD:
        st = clmse_host_backward_f32(b->ctx, s->red, s->n, x, y, g, gx, gy);
        break;
    default:
        st = clmse_host_fused_f32(b->ctx, s->red, s->n, x, y, g, b->hout, gx, gy);
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

/* float32 input read with a stride of 2 along rows of 66: the strided kernels, mean, with
 * partial sums in scratch and the epilogue. */
static clmse_status tensor_strided(bench *b, blob *o)
{
    const size_t shape[2] = {20, 33};
    const int64_t strides[2] = {66, 2};
    dev_reset(b, b->t1out, sizeof(float));
    dev_reset(b, b->t1gx, 20 * 33 * sizeof(float));
    const clmse_tensor x = ft_view(b->t1x, CLMSE_DTYPE_F32, 2, shape, strides),
                       y = ft_view(b->t1y, CLMSE_DTYPE_F32, 2, shape, NULL),
                       out = ft_view(b->t1out, CLMSE_DTYPE_F32, 0, NULL, NULL),
                       gx = ft_view(b->t1gx, CLMSE_DTYPE_F32, 2, shape, NULL);
    const clmse_mse_args a = {CLMSE_REDUCTION_MEAN, 0, &x, &y, &out, NULL, &gx, NULL, 0};
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
    const clmse_tensor x = ft_view(b->t2x, CLMSE_DTYPE_F16, 3, sx, NULL),
                       y = ft_view(b->t2y, CLMSE_DTYPE_F32, 2, sy, NULL),
                       out = ft_view(b->t2out, CLMSE_DTYPE_F32, 0, NULL, NULL),
                       gx = ft_view(b->t2gx, CLMSE_DTYPE_F16, 3, sx, NULL),
                       gy = ft_view(b->t2gy, CLMSE_DTYPE_F32, 2, sy, NULL);
    const clmse_mse_args a = {CLMSE_REDUCTION_SUM, 0, &x, &y, &out, NULL, &gx, &gy, 0};
    cl_event ev = NULL;
    const clmse_status st = clmse_mse(b->ctx, &a, 0, NULL, &ev);
    ft_settle_event(st, ev, "clmse_mse(broadcast)");
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
    const clmse_tensor x = ft_view(b->t3x, CLMSE_DTYPE_F64, 2, s2, transposed),
                       y = ft_view(b->t3y, CLMSE_DTYPE_F32, 1, s1, NULL),
                       out = ft_view(b->t3out, CLMSE_DTYPE_F64, 2, s2, NULL),
                       g = ft_view(b->t3g, CLMSE_DTYPE_F64, 2, s2, NULL),
                       gx = ft_view(b->t3gx, CLMSE_DTYPE_F64, 2, s2, NULL),
                       gy = ft_view(b->t3gy, CLMSE_DTYPE_F32, 1, s1, NULL);
    const clmse_mse_args a = {CLMSE_REDUCTION_NONE, 0, &x, &y, &out, &g, &gx, &gy, 0};
    const clmse_status st = clmse_mse(b->ctx, &a, 0, NULL, NULL);
    if (st == CLMSE_SUCCESS) {
        dev_read(b, b->t3out, 12 * 30 * sizeof(double), o);
        dev_read(b, b->t3gx, 12 * 30 * sizeof(double), o);
        dev_read(b, b->t3gy, 30 * sizeof(float), o);
    }
    return st;
}

/* Contiguous float64: the streaming kernels in double. */
static clmse_status tensor_f64_contiguous(bench *b, blob *o)
{
    const size_t s1[1] = {3000};
    dev_reset(b, b->t4out, sizeof(double));
    dev_reset(b, b->t4gy, 3000 * sizeof(double));
    const clmse_tensor x = ft_view(b->t4x, CLMSE_DTYPE_F64, 1, s1, NULL),
                       y = ft_view(b->t4y, CLMSE_DTYPE_F64, 1, s1, NULL),
                       out = ft_view(b->t4out, CLMSE_DTYPE_F64, 0, NULL, NULL),
                       gy = ft_view(b->t4gy, CLMSE_DTYPE_F64, 1, s1, NULL);
    const clmse_mse_args a = {CLMSE_REDUCTION_MEAN, 0, &x, &y, &out, NULL, NULL, &gy, 0};
    cl_event ev = NULL;
    const clmse_status st = clmse_mse(b->ctx, &a, 0, NULL, &ev);
    ft_settle_event(st, ev, "clmse_mse(float64)");
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
    const clmse_tensor x = ft_view(NULL, CLMSE_DTYPE_F32, 2, sx, NULL),
                       y = ft_view(b->t5y, CLMSE_DTYPE_F32, 1, sy, NULL),
                       out = ft_view(b->t5out, CLMSE_DTYPE_F32, 0, NULL, NULL);
    const clmse_mse_args a = {CLMSE_REDUCTION_MEAN, 0, &x, &y, &out, NULL, NULL, NULL, 0};
    cl_event ev = NULL;
    const clmse_status st = clmse_mse(b->ctx, &a, 0, NULL, &ev);
    ft_settle_event(st, ev, "clmse_mse(empty)");
    if (st == CLMSE_SUCCESS)
        dev_read(b, b->t5out, sizeof(float), o);
    return st;
}

/* clmse_host_mse: a strided float32 input and a broadcast target in host memory (host-pointer
 * buffers, results mapped back), then a misaligned output (a copied buffer, read back). */
static clmse_status tensor_host(bench *b, blob *o)
{
    memset(b->hout, 0xa5, NBIG * sizeof(float));
    memset(b->hgx, 0xa5, NBIG * sizeof(float));
    const clmse_host_tensor x = {b->hx, CLMSE_DTYPE_F32, 2, {20, 33}, {66, 2}},
                            y = {b->hy, CLMSE_DTYPE_F32, 2, {1, 33}, {33, 1}},
                            out = {b->hout, CLMSE_DTYPE_F32, 0, {0}, {0}},
                            gx = {b->hgx, CLMSE_DTYPE_F32, 2, {20, 33}, {33, 1}},
                            odd = {(char *)b->hgy + 1, CLMSE_DTYPE_F32, 2, {20, 33}, {33, 1}};
    clmse_host_mse_args a = {CLMSE_REDUCTION_MEAN, 0, &x, &y, &out, NULL, &gx, NULL, 0};
    clmse_status st = clmse_host_mse(b->ctx, &a);
    if (st != CLMSE_SUCCESS)
        return st;
    blob_add(o, b->hout, sizeof(float));
    blob_add(o, b->hgx, 20 * 33 * sizeof(float));
    a = (clmse_host_mse_args){CLMSE_REDUCTION_NONE, 0, &x, &y, &odd, NULL, NULL, NULL, 0};
    st = clmse_host_mse(b->ctx, &a);
    if (st == CLMSE_SUCCESS)
        blob_add(o, (char *)b->hgy + 1, 20 * 33 * sizeof(float));
    return st;
}

/* clmse_mse_partial on the strided views, with a global count: the unrounded sum left in
 * scratch and read back by a blocking read, the gradient scaled by 2 / 1000. */
static clmse_status tensor_partial(bench *b, blob *o)
{
    const size_t shape[2] = {20, 33};
    const int64_t strides[2] = {66, 2};
    dev_reset(b, b->t1gx, 20 * 33 * sizeof(float));
    const clmse_tensor x = ft_view(b->t1x, CLMSE_DTYPE_F32, 2, shape, strides),
                       y = ft_view(b->t1y, CLMSE_DTYPE_F32, 2, shape, NULL),
                       gx = ft_view(b->t1gx, CLMSE_DTYPE_F32, 2, shape, NULL);
    const clmse_mse_args a = {
        CLMSE_REDUCTION_MEAN, CLMSE_MEAN_COUNT, &x, &y, NULL, NULL, &gx, NULL, 1000};
    clmse_partial p;
    const clmse_status st = clmse_mse_partial(b->ctx, &a, &p, 0, NULL);
    if (st == CLMSE_SUCCESS) {
        blob_add(o, &p, sizeof p);
        dev_read(b, b->t1gx, 20 * 33 * sizeof(float), o);
    }
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
    {"clmse_mse float64 contiguous", tensor_f64_contiguous, 1},
    {"clmse_mse empty", tensor_empty, 0},
    {"clmse_host_mse strided, broadcast, misaligned", tensor_host, 0},
    {"clmse_mse_partial strided, global count", tensor_partial, 0},
};

#define N_F32 (sizeof f32_steps / sizeof f32_steps[0])
#define N_HOST (sizeof host_steps / sizeof host_steps[0])
#define N_TENSOR (sizeof tensor_steps / sizeof tensor_steps[0])
_Static_assert(N_F32 + N_TENSOR + N_HOST == FT_N_STEPS, "FT_N_STEPS counts the steps");

/* Step i of the workload (tensors between the two float32 families, so that programs of
 * every kind are built in between others). Returns 0 for a step the device cannot run. */
int ft_run_step(bench *b, size_t i, blob *o, clmse_status *st, char *name, size_t cap)
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
