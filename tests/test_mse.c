/* SPDX-License-Identifier: MIT */
/* MSE forward/backward/fused results against a long-double, torch-ordered host reference. */
#include "helpers.h"
#include "suites.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const clmse_reduction k_reductions[3] = {CLMSE_REDUCTION_NONE, CLMSE_REDUCTION_MEAN,
                                                CLMSE_REDUCTION_SUM};
static const char *const k_reduction_names[3] = {"none", "mean", "sum"};

/* ==== worked examples (host layer) ======================================================== */

static const float k_x3[3] = {2.5f, 3.1f, 4.8f}, k_y3[3] = {2.0f, 3.3f, 5.0f};
static const float k_x6[6] = {2.5f, 3.1f, 4.8f, 1.2f, 2.2f, 3.9f};
static const float k_y6[6] = {2.0f, 3.3f, 5.0f, 1.0f, 2.5f, 4.0f};

START_TEST(test_example_3)
{
    clmse_context *ctx = th_context_create();
    long double sum = th_ref_sum(k_x3, k_y3, 3);
    float v = 0.0f;
    CHECK_OK(ctx, clmse_host_forward_f32(ctx, CLMSE_REDUCTION_MEAN, 3, k_x3, k_y3, &v));
    ck_assert_msg(th_within_one_ulp(v, sum / 3), "mean %.9g vs %.12Lg", (double)v, sum / 3);
    ck_assert_float_eq_tol(v, 0.11f, 1e-6f);
    CHECK_OK(ctx, clmse_host_forward_f32(ctx, CLMSE_REDUCTION_SUM, 3, k_x3, k_y3, &v));
    ck_assert_msg(th_within_one_ulp(v, sum), "sum %.9g vs %.12Lg", (double)v, sum);
    ck_assert_float_eq_tol(v, 0.33f, 1e-6f);
    float none[3];
    CHECK_OK(ctx, clmse_host_forward_f32(ctx, CLMSE_REDUCTION_NONE, 3, k_x3, k_y3, none));
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(th_bits(none[i]), th_bits(th_term(k_x3[i], k_y3[i])));
    ck_assert_float_eq_tol(none[0], 0.25f, 1e-6f);
    ck_assert_float_eq_tol(none[1], 0.04f, 1e-6f);

    /* d(mean)/dx = (2/3)(x - y): about [1/3, -2/15, -2/15]. */
    float gx[3], gy[3], out = 0.0f, fgx[3], fgy[3];
    CHECK_OK(ctx, clmse_host_backward_f32(ctx, CLMSE_REDUCTION_MEAN, 3, k_x3, k_y3, NULL, gx, gy));
    float scale = th_scale(CLMSE_REDUCTION_MEAN, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(th_bits(gx[i]), th_bits(th_grad(scale, k_x3[i], k_y3[i], 1.0f)));
        ck_assert_uint_eq(th_bits(gy[i]), th_bits(th_grad(scale, k_y3[i], k_x3[i], 1.0f)));
    }
    ck_assert_float_eq_tol(gx[0], 1.0f / 3.0f, 1e-6f);
    ck_assert_float_eq_tol(gx[1], -2.0f / 15.0f, 1e-6f);
    ck_assert_float_eq_tol(gy[0], -1.0f / 3.0f, 1e-6f);
    CHECK_OK(ctx,
             clmse_host_fused_f32(ctx, CLMSE_REDUCTION_MEAN, 3, k_x3, k_y3, NULL, &out, fgx, fgy));
    CHECK_OK(ctx, clmse_host_forward_f32(ctx, CLMSE_REDUCTION_MEAN, 3, k_x3, k_y3, &v));
    ck_assert_uint_eq(th_bits(out), th_bits(v));
    ck_assert_mem_eq(fgx, gx, sizeof gx);
    ck_assert_mem_eq(fgy, gy, sizeof gy);
    clmse_context_release(ctx);
}
END_TEST

START_TEST(test_example_2x3)
{
    clmse_context *ctx = th_context_create();
    long double sum = th_ref_sum(k_x6, k_y6, 6);
    float v = 0.0f;
    CHECK_OK(ctx, clmse_host_forward_f32(ctx, CLMSE_REDUCTION_MEAN, 6, k_x6, k_y6, &v));
    ck_assert_msg(th_within_one_ulp(v, sum / 6), "mean %.9g vs %.12Lg", (double)v, sum / 6);
    ck_assert_float_eq_tol(v, 0.078333f, 1e-6f);
    CHECK_OK(ctx, clmse_host_forward_f32(ctx, CLMSE_REDUCTION_SUM, 6, k_x6, k_y6, &v));
    ck_assert_msg(th_within_one_ulp(v, sum), "sum %.9g vs %.12Lg", (double)v, sum);
    ck_assert_float_eq_tol(v, 0.47f, 1e-6f);
    float none[6];
    CHECK_OK(ctx, clmse_host_forward_f32(ctx, CLMSE_REDUCTION_NONE, 6, k_x6, k_y6, none));
    for (int i = 0; i < 6; i++)
        ck_assert_uint_eq(th_bits(none[i]), th_bits(th_term(k_x6[i], k_y6[i])));
    clmse_context_release(ctx);
}
END_TEST

/* ==== sizes x reductions x accumulations on device buffers ================================ */

static const size_t k_sizes[] = {1, 7, 8, 9, 255, 256, 257, 4095, 4096, 4097, 1000003, 16777216};
#define N_SIZES ((int)(sizeof k_sizes / sizeof k_sizes[0]))
/* CLMSE_TEST_SCALE=small: the two largest become 2^16+3 and 2^17+3 (the medium size class, so
 * both default plans still run); the large class (2^22 and up) is left to full runs. */
static const size_t k_sizes_small[N_SIZES] = {1,   7,    8,    9,    255,   256,
                                              257, 4095, 4096, 4097, 65539, 131075};

/* Element offsets of each operand; odd size indices use the shifted layout so both
 * accumulations see aligned and misaligned data at small and large sizes. */
typedef struct layout {
    size_t x, y, g, out, gx, gy;
} layout;
static const layout k_layouts[2] = {{0, 0, 0, 0, 0, 0}, {3, 5, 2, 11, 7, 13}};
enum { TAIL = 5 }; /* guarded elements after every written range */

typedef struct run {
    clmse_context *ctx;
    size_t n;
    layout at;
    float *x, *y, *g; /* host inputs; g is the elementwise grad for 'none' */
    cl_mem bx, by, bg_none, bg_scalar, bout, bgx, bgy;
    size_t tot_out, tot_gx, tot_gy; /* buffer lengths in floats */
    float *a, *b, *gx, *gy;         /* read-back space, each max(tot_*) floats */
} run;

static const float k_grad_scalar = 0.75f;

static void assert_guards(const float *v, size_t total, size_t off, size_t count, const char *what)
{
    size_t bad = th_first_non_sentinel(v, 0, off);
    ck_assert_msg(bad == off, "%s: element %zu before the range was written", what, bad);
    bad = th_first_non_sentinel(v, off + count, total);
    ck_assert_msg(bad == total, "%s: element %zu after the range was written", what, bad);
}

static void run_forward(run *r, clmse_reduction red, float *dst)
{
    th_buffer_reset(r->ctx, r->bout, r->tot_out);
    cl_event ev = NULL;
    CHECK_OK(r->ctx, clmse_mse_forward_f32(r->ctx, red, r->n, r->bx, r->at.x, r->by, r->at.y,
                                           r->bout, r->at.out, 0, NULL, &ev));
    ck_assert_ptr_nonnull(ev);
    th_buffer_read(r->ctx, r->bout, r->tot_out, dst, ev);
    assert_guards(dst, r->tot_out, r->at.out, red == CLMSE_REDUCTION_NONE ? r->n : 1, "output");
}

static cl_mem grad_buffer(const run *r, clmse_reduction red)
{
    return red == CLMSE_REDUCTION_NONE ? r->bg_none : r->bg_scalar;
}

static void read_grads(run *r, float *gx, float *gy)
{
    th_buffer_read(r->ctx, r->bgx, r->tot_gx, gx, NULL);
    th_buffer_read(r->ctx, r->bgy, r->tot_gy, gy, NULL);
    assert_guards(gx, r->tot_gx, r->at.gx, r->n, "grad_input");
    assert_guards(gy, r->tot_gy, r->at.gy, r->n, "grad_target");
}

static void run_backward(run *r, clmse_reduction red)
{
    th_buffer_reset(r->ctx, r->bgx, r->tot_gx);
    th_buffer_reset(r->ctx, r->bgy, r->tot_gy);
    cl_event ev = NULL;
    CHECK_OK(r->ctx, clmse_mse_backward_f32(r->ctx, red, r->n, r->bx, r->at.x, r->by, r->at.y,
                                            grad_buffer(r, red), r->at.g, r->bgx, r->at.gx, r->bgy,
                                            r->at.gy, 0, NULL, &ev));
    th_finish_event(ev);
    read_grads(r, r->gx, r->gy);
}

static void check_forward_values(const run *r, clmse_reduction red, const float *out,
                                 long double sum, const char *acc_name)
{
    const float *v = out + r->at.out;
    if (red == CLMSE_REDUCTION_NONE) {
        size_t bad = r->n;
        for (size_t i = 0; i < r->n && bad == r->n; i++)
            if (th_bits(v[i]) != th_bits(th_term(r->x[i], r->y[i])))
                bad = i;
        ck_assert_msg(bad == r->n, "none[%zu] = %a, want %a", bad, (double)v[bad],
                      (double)th_term(r->x[bad], r->y[bad]));
        return;
    }
    long double ref = red == CLMSE_REDUCTION_MEAN ? sum / (long double)r->n : sum;
    ck_assert_msg(th_within_one_ulp(v[0], ref),
                  "%s n=%zu %s: got %.9g, reference %.12Lg (%llu ulp)", k_reduction_names[red],
                  r->n, acc_name, (double)v[0], ref,
                  (unsigned long long)th_ulp_diff(v[0], (float)ref));
    if (red == CLMSE_REDUCTION_MEAN && r->n == ((size_t)1 << 24)) {
        printf("mse: n=2^24 accumulation=%s: relative error of the f32 mean %.3Le\n", acc_name,
               fabsl((long double)v[0] - ref) / ref);
        fflush(stdout);
    }
}

static void check_grad_values(const run *r, clmse_reduction red)
{
    float scale = th_scale(red, r->n);
    const float *gx = r->gx + r->at.gx, *gy = r->gy + r->at.gy;
    for (size_t i = 0; i < r->n; i++) {
        float g = red == CLMSE_REDUCTION_NONE ? r->g[i] : k_grad_scalar;
        float wx = th_grad(scale, r->x[i], r->y[i], g);
        float wy = th_grad(scale, r->y[i], r->x[i], g);
        if (th_bits(gx[i]) != th_bits(wx) || th_bits(gy[i]) != th_bits(wy))
            ck_abort_msg("%s n=%zu: grads[%zu] = (%a, %a), want (%a, %a)", k_reduction_names[red],
                         r->n, i, (double)gx[i], (double)gy[i], (double)wx, (double)wy);
    }
}

static void assert_same_bits(const float *a, const float *b, size_t total, const char *what)
{
    if (memcmp(a, b, total * sizeof(float)) == 0)
        return;
    size_t i = 0;
    while (th_bits(a[i]) == th_bits(b[i]))
        i++;
    ck_abort_msg("%s: element %zu differs (%a vs %a)", what, i, (double)a[i], (double)b[i]);
}

static void run_fused_and_compare(run *r, clmse_reduction red)
{
    th_buffer_reset(r->ctx, r->bout, r->tot_out);
    th_buffer_reset(r->ctx, r->bgx, r->tot_gx);
    th_buffer_reset(r->ctx, r->bgy, r->tot_gy);
    cl_event ev = NULL;
    CHECK_OK(r->ctx, clmse_mse_fused_f32(r->ctx, red, r->n, r->bx, r->at.x, r->by, r->at.y, r->bout,
                                         r->at.out, grad_buffer(r, red), r->at.g, r->bgx, r->at.gx,
                                         r->bgy, r->at.gy, 0, NULL, &ev));
    th_finish_event(ev);
    th_buffer_read(r->ctx, r->bout, r->tot_out, r->b, NULL);
    assert_same_bits(r->a, r->b, r->tot_out, "fused output vs forward");
    th_buffer_read(r->ctx, r->bgx, r->tot_gx, r->b, NULL);
    assert_same_bits(r->gx, r->b, r->tot_gx, "fused grad_input vs backward");
    th_buffer_read(r->ctx, r->bgy, r->tot_gy, r->b, NULL);
    assert_same_bits(r->gy, r->b, r->tot_gy, "fused grad_target vs backward");
}

static void check_size(clmse_accumulation acc, int index)
{
    const char *acc_name = acc == CLMSE_ACCUMULATE_DOUBLE ? "double" : "compensated";
    clmse_context *ctx = th_context_create_acc(acc);
    if (!ctx) { /* refused, and th_context_create_acc checked that the device lacks fp64 */
        printf("mse: device has no fp64: accumulation=%s refused\n", acc_name);
        return;
    }
    ck_assert_int_eq(clmse_context_accumulation(ctx), (int)acc);

    run r;
    memset(&r, 0, sizeof r);
    r.ctx = ctx;
    r.n = (th_scale_small() ? k_sizes_small : k_sizes)[index];
    r.at = k_layouts[index % 2];
    r.x = th_alloc_floats(r.n);
    r.y = th_alloc_floats(r.n);
    r.g = th_alloc_floats(r.n);
    th_rng rng;
    th_rng_seed(&rng, 0x6d7365u * 1000003u + r.n);
    th_fill_uniform(&rng, r.x, r.n);
    th_fill_uniform(&rng, r.y, r.n);
    th_fill_uniform(&rng, r.g, r.n);
    long double sum = th_ref_sum(r.x, r.y, r.n);

    r.bx = th_buffer(ctx, r.at.x + r.n + TAIL, r.at.x, r.x, r.n);
    r.by = th_buffer(ctx, r.at.y + r.n + TAIL, r.at.y, r.y, r.n);
    r.bg_none = th_buffer(ctx, r.at.g + r.n + TAIL, r.at.g, r.g, r.n);
    r.bg_scalar = th_buffer(ctx, r.at.g + 1 + TAIL, r.at.g, &k_grad_scalar, 1);
    r.tot_out = r.at.out + r.n + TAIL;
    r.tot_gx = r.at.gx + r.n + TAIL;
    r.tot_gy = r.at.gy + r.n + TAIL;
    r.bout = th_buffer(ctx, r.tot_out, 0, NULL, 0);
    r.bgx = th_buffer(ctx, r.tot_gx, 0, NULL, 0);
    r.bgy = th_buffer(ctx, r.tot_gy, 0, NULL, 0);
    size_t most = r.n + 32;
    r.a = th_alloc_floats(most);
    r.b = th_alloc_floats(most);
    r.gx = th_alloc_floats(most);
    r.gy = th_alloc_floats(most);

    for (int k = 0; k < 3; k++) {
        clmse_reduction red = k_reductions[k];
        run_forward(&r, red, r.a);
        check_forward_values(&r, red, r.a, sum, acc_name);
        /* The reduction order is fixed per device: a second run must agree bit for bit. */
        run_forward(&r, red, r.b);
        assert_same_bits(r.a, r.b, r.tot_out, "second forward run");
        run_backward(&r, red);
        check_grad_values(&r, red);
        run_fused_and_compare(&r, red);
    }

    cl_mem bufs[] = {r.bx, r.by, r.bg_none, r.bg_scalar, r.bout, r.bgx, r.bgy};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        ck_assert_int_eq(clReleaseMemObject(bufs[i]), CL_SUCCESS);
    float *host[] = {r.x, r.y, r.g, r.a, r.b, r.gx, r.gy};
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++)
        free(host[i]);
    clmse_context_release(ctx);
}

START_TEST(test_sizes_double) { check_size(CLMSE_ACCUMULATE_DOUBLE, _i); }
END_TEST

START_TEST(test_sizes_compensated) { check_size(CLMSE_ACCUMULATE_COMPENSATED, _i); }
END_TEST

/* ==== events ============================================================================== */

enum { EV_N = 1000 };

/* Output storage the test can inspect while the command is gated, without enqueuing a read
 * that would itself wait. Page-aligned so pocl uses it in place. */
static float *host_backed(size_t n)
{
    float *p = aligned_alloc(4096, ((n * sizeof(float) + 4095) / 4096) * 4096);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = th_sentinel();
    return p;
}

START_TEST(test_user_event_gates)
{
    /* _i: 0 forward mean, 1 backward none, 2 fused sum */
    clmse_context *ctx = th_context_create();
    cl_context c = th_cl_context(ctx);
    float *x = th_alloc_floats(EV_N), *y = th_alloc_floats(EV_N), *g = th_alloc_floats(EV_N);
    th_rng rng;
    th_rng_seed(&rng, 77);
    th_fill_uniform(&rng, x, EV_N);
    th_fill_uniform(&rng, y, EV_N);
    th_fill_uniform(&rng, g, EV_N);
    cl_mem bx = th_buffer(ctx, EV_N, 0, x, EV_N), by = th_buffer(ctx, EV_N, 0, y, EV_N);
    cl_mem bg = th_buffer(ctx, EV_N, 0, g, EV_N);
    float *hout = host_backed(EV_N), *hgx = host_backed(EV_N), *hgy = host_backed(EV_N);
    cl_int err = CL_SUCCESS;
    cl_mem bout = clCreateBuffer(c, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, EV_N * sizeof(float),
                                 hout, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    cl_mem bgx =
        clCreateBuffer(c, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, EV_N * sizeof(float), hgx, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    cl_mem bgy =
        clCreateBuffer(c, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, EV_N * sizeof(float), hgy, &err);
    ck_assert_int_eq(err, CL_SUCCESS);

    cl_event user = clCreateUserEvent(c, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    cl_event ev = NULL;
    clmse_status st;
    if (_i == 0)
        st = clmse_mse_forward_f32(ctx, CLMSE_REDUCTION_MEAN, EV_N, bx, 0, by, 0, bout, 0, 1, &user,
                                   &ev);
    else if (_i == 1)
        st = clmse_mse_backward_f32(ctx, CLMSE_REDUCTION_NONE, EV_N, bx, 0, by, 0, bg, 0, bgx, 0,
                                    bgy, 0, 1, &user, &ev);
    else
        st = clmse_mse_fused_f32(ctx, CLMSE_REDUCTION_SUM, EV_N, bx, 0, by, 0, bout, 0, NULL, 0,
                                 bgx, 0, bgy, 0, 1, &user, &ev);
    ck_assert_msg(st == CLMSE_SUCCESS, "%s: %s", clmse_status_string(st),
                  clmse_context_last_error(ctx));
    ck_assert_ptr_nonnull(ev);

    th_assert_still_pending(ev);
    ck_assert_uint_eq(th_first_non_sentinel(hout, 0, EV_N), EV_N);
    ck_assert_uint_eq(th_first_non_sentinel(hgx, 0, EV_N), EV_N);
    ck_assert_uint_eq(th_first_non_sentinel(hgy, 0, EV_N), EV_N);

    ck_assert_int_eq(clSetUserEventStatus(user, CL_COMPLETE), CL_SUCCESS);
    th_finish_event(ev);
    ck_assert_int_eq(clReleaseEvent(user), CL_SUCCESS);

    float *out = th_alloc_floats(EV_N), *gx = th_alloc_floats(EV_N), *gy = th_alloc_floats(EV_N);
    th_buffer_read(ctx, bout, EV_N, out, NULL);
    th_buffer_read(ctx, bgx, EV_N, gx, NULL);
    th_buffer_read(ctx, bgy, EV_N, gy, NULL);
    long double sum = th_ref_sum(x, y, EV_N);
    if (_i == 0) {
        ck_assert(th_within_one_ulp(out[0], sum / EV_N));
    } else {
        if (_i == 2)
            ck_assert(th_within_one_ulp(out[0], sum));
        clmse_reduction red = _i == 1 ? CLMSE_REDUCTION_NONE : CLMSE_REDUCTION_SUM;
        float scale = th_scale(red, EV_N);
        for (size_t i = 0; i < EV_N; i++) {
            float gi = _i == 1 ? g[i] : 1.0f;
            ck_assert_uint_eq(th_bits(gx[i]), th_bits(th_grad(scale, x[i], y[i], gi)));
            ck_assert_uint_eq(th_bits(gy[i]), th_bits(th_grad(scale, y[i], x[i], gi)));
        }
    }

    cl_mem bufs[] = {bx, by, bg, bout, bgx, bgy};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        ck_assert_int_eq(clReleaseMemObject(bufs[i]), CL_SUCCESS);
    ck_assert_int_eq(clFinish(th_cl_queue(ctx)), CL_SUCCESS);
    float *host[] = {x, y, g, hout, hgx, hgy, out, gx, gy};
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++)
        free(host[i]);
    clmse_context_release(ctx);
}
END_TEST

START_TEST(test_long_wait_list)
{
    /* More events than a small fixed array would hold; the last one gates the call. */
    enum { EVENTS = 40, N = 5000 };
    clmse_context *ctx = th_context_create();
    cl_context c = th_cl_context(ctx);
    float *x = th_alloc_floats(N), *y = th_alloc_floats(N);
    th_rng rng;
    th_rng_seed(&rng, 78);
    th_fill_uniform(&rng, x, N);
    th_fill_uniform(&rng, y, N);
    cl_mem bx = th_buffer(ctx, N, 0, x, N), by = th_buffer(ctx, N, 0, y, N);
    float *hout = host_backed(1);
    cl_int err = CL_SUCCESS;
    cl_mem bout =
        clCreateBuffer(c, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, sizeof(float), hout, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    cl_event users[EVENTS];
    for (int k = 0; k < EVENTS; k++) {
        users[k] = clCreateUserEvent(c, &err);
        ck_assert_int_eq(err, CL_SUCCESS);
        if (k != EVENTS - 1)
            ck_assert_int_eq(clSetUserEventStatus(users[k], CL_COMPLETE), CL_SUCCESS);
    }
    cl_event ev = NULL;
    CHECK_OK(ctx, clmse_mse_forward_f32(ctx, CLMSE_REDUCTION_SUM, N, bx, 0, by, 0, bout, 0, EVENTS,
                                        users, &ev));
    struct timespec pause = {0, 200 * 1000 * 1000};
    nanosleep(&pause, NULL);
    cl_int status = -1;
    ck_assert_int_eq(
        clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, NULL),
        CL_SUCCESS);
    ck_assert_msg(status > CL_COMPLETE, "ran before its last wait event (status %d)", status);
    ck_assert(th_is_sentinel(hout[0]));
    ck_assert_int_eq(clSetUserEventStatus(users[EVENTS - 1], CL_COMPLETE), CL_SUCCESS);
    float v = 0.0f;
    th_buffer_read(ctx, bout, 1, &v, ev);
    ck_assert(th_within_one_ulp(v, th_ref_sum(x, y, N)));
    for (int k = 0; k < EVENTS; k++)
        ck_assert_int_eq(clReleaseEvent(users[k]), CL_SUCCESS);
    ck_assert_int_eq(clReleaseMemObject(bx), CL_SUCCESS);
    ck_assert_int_eq(clReleaseMemObject(by), CL_SUCCESS);
    ck_assert_int_eq(clReleaseMemObject(bout), CL_SUCCESS);
    ck_assert_int_eq(clFinish(th_cl_queue(ctx)), CL_SUCCESS);
    free(hout);
    free(x);
    free(y);
    clmse_context_release(ctx);
}
END_TEST

/* ==== edge cases ========================================================================== */

START_TEST(test_zero_elements_device)
{
    clmse_context *ctx = th_context_create();
    const float four[4] = {1.0f, 2.0f, 3.0f, 4.0f};
    cl_mem bx = th_buffer(ctx, 4, 0, four, 4), by = th_buffer(ctx, 4, 0, four, 4);
    cl_mem bg = th_buffer(ctx, 4, 0, four, 4);
    cl_mem bout = th_buffer(ctx, 4, 0, NULL, 0), bgx = th_buffer(ctx, 4, 0, NULL, 0);
    cl_mem bgy = th_buffer(ctx, 4, 0, NULL, 0);
    float v[4];
    cl_event ev = NULL;

    CHECK_OK(ctx, clmse_mse_forward_f32(ctx, CLMSE_REDUCTION_MEAN, 0, bx, 0, by, 0, bout, 0, 0,
                                        NULL, &ev));
    th_buffer_read(ctx, bout, 4, v, ev);
    ck_assert_msg(isnan(v[0]) && !th_is_sentinel(v[0]), "mean of nothing: %a", (double)v[0]);
    ck_assert_uint_eq(th_first_non_sentinel(v, 1, 4), 4);

    th_buffer_reset(ctx, bout, 4);
    /* An empty range may sit at the very end of a buffer. */
    CHECK_OK(ctx, clmse_mse_forward_f32(ctx, CLMSE_REDUCTION_SUM, 0, bx, 4, by, 4, bout, 2, 0, NULL,
                                        &ev));
    th_buffer_read(ctx, bout, 4, v, ev);
    ck_assert_uint_eq(th_bits(v[2]), 0); /* +0, not -0 */
    ck_assert(th_is_sentinel(v[0]) && th_is_sentinel(v[1]) && th_is_sentinel(v[3]));

    th_buffer_reset(ctx, bout, 4);
    CHECK_OK(ctx, clmse_mse_forward_f32(ctx, CLMSE_REDUCTION_NONE, 0, bx, 0, by, 0, bout, 0, 0,
                                        NULL, &ev));
    th_finish_event(ev);
    th_assert_untouched(ctx, bout, 4);

    for (int k = 0; k < 3; k++) {
        ev = NULL;
        CHECK_OK(ctx, clmse_mse_backward_f32(ctx, k_reductions[k], 0, bx, 0, by, 0, bg, 0, bgx, 0,
                                             bgy, 0, 0, NULL, &ev));
        th_finish_event(ev);
        th_assert_untouched(ctx, bgx, 4);
        th_assert_untouched(ctx, bgy, 4);
    }

    CHECK_OK(ctx, clmse_mse_fused_f32(ctx, CLMSE_REDUCTION_MEAN, 0, bx, 0, by, 0, bout, 1, bg, 0,
                                      bgx, 0, bgy, 0, 0, NULL, &ev));
    th_buffer_read(ctx, bout, 4, v, ev);
    ck_assert(isnan(v[1]) && !th_is_sentinel(v[1]));
    th_assert_untouched(ctx, bgx, 4);
    th_assert_untouched(ctx, bgy, 4);

    cl_mem bufs[] = {bx, by, bg, bout, bgx, bgy};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        ck_assert_int_eq(clReleaseMemObject(bufs[i]), CL_SUCCESS);
    clmse_context_release(ctx);
}
END_TEST

START_TEST(test_zero_elements_host)
{
    clmse_context *ctx = th_context_create();
    float v = th_sentinel();
    CHECK_OK(ctx, clmse_host_forward_f32(ctx, CLMSE_REDUCTION_MEAN, 0, NULL, NULL, &v));
    ck_assert(isnan(v) && !th_is_sentinel(v));
    v = th_sentinel();
    CHECK_OK(ctx, clmse_host_forward_f32(ctx, CLMSE_REDUCTION_SUM, 0, NULL, NULL, &v));
    ck_assert_uint_eq(th_bits(v), 0);
    float none[2] = {th_sentinel(), th_sentinel()};
    CHECK_OK(ctx, clmse_host_forward_f32(ctx, CLMSE_REDUCTION_NONE, 0, NULL, NULL, none));
    ck_assert(th_is_sentinel(none[0]) && th_is_sentinel(none[1]));
    float gx[2] = {th_sentinel(), th_sentinel()}, gy[2] = {th_sentinel(), th_sentinel()};
    for (int k = 0; k < 3; k++)
        CHECK_OK(ctx, clmse_host_backward_f32(ctx, k_reductions[k], 0, NULL, NULL, NULL, gx, gy));
    ck_assert(th_is_sentinel(gx[0]) && th_is_sentinel(gy[0]));
    v = th_sentinel();
    CHECK_OK(ctx, clmse_host_fused_f32(ctx, CLMSE_REDUCTION_MEAN, 0, NULL, NULL, NULL, &v, gx, gy));
    ck_assert(isnan(v) && !th_is_sentinel(v));
    ck_assert(th_is_sentinel(gx[0]) && th_is_sentinel(gy[0]));
    clmse_context_release(ctx);
}
END_TEST

START_TEST(test_nan_inf)
{
    clmse_context *ctx = th_context_create();
    const float x[4] = {INFINITY, 1.0f, NAN, 2.0f}, y[4] = {0.0f, 1.0f, 0.0f, 1.0f};
    float none[4];
    CHECK_OK(ctx, clmse_host_forward_f32(ctx, CLMSE_REDUCTION_NONE, 4, x, y, none));
    ck_assert(isinf(none[0]) && none[0] > 0);
    ck_assert_uint_eq(th_bits(none[1]), 0);
    ck_assert(isnan(none[2]));
    ck_assert_uint_eq(th_bits(none[3]), th_bits(1.0f));
    float v = 0.0f;
    CHECK_OK(ctx, clmse_host_forward_f32(ctx, CLMSE_REDUCTION_MEAN, 4, x, y, &v));
    ck_assert(isnan(v));
    CHECK_OK(ctx, clmse_host_forward_f32(ctx, CLMSE_REDUCTION_SUM, 4, x, y, &v));
    ck_assert(isnan(v));

    /* mean over 4: scale 0.5, so gx = x - y and gy = y - x, with the non-finite ones kept. */
    const float one = 1.0f;
    for (int pass = 0; pass < 3; pass++) {
        float gx[4], gy[4], out = 0.0f;
        if (pass < 2)
            CHECK_OK(ctx, clmse_host_backward_f32(ctx, CLMSE_REDUCTION_MEAN, 4, x, y,
                                                  pass ? &one : NULL, gx, gy));
        else
            CHECK_OK(ctx,
                     clmse_host_fused_f32(ctx, CLMSE_REDUCTION_MEAN, 4, x, y, NULL, &out, gx, gy));
        ck_assert_msg(isinf(gx[0]) && gx[0] > 0, "pass %d gx[0]=%a", pass, (double)gx[0]);
        ck_assert_uint_eq(th_bits(gx[1]), 0);
        ck_assert(isnan(gx[2]));
        ck_assert_uint_eq(th_bits(gx[3]), th_bits(0.5f));
        ck_assert_msg(isinf(gy[0]) && gy[0] < 0, "pass %d gy[0]=%a", pass, (double)gy[0]);
        ck_assert_uint_eq(th_bits(gy[1]), 0);
        ck_assert(isnan(gy[2]));
        ck_assert_uint_eq(th_bits(gy[3]), th_bits(-0.5f));
        if (pass == 2)
            ck_assert(isnan(out));
    }
    clmse_context_release(ctx);
}
END_TEST

START_TEST(test_zero_difference)
{
    enum { N = 1001 };
    clmse_context *ctx = th_context_create();
    float *x = th_alloc_floats(N), *g = th_alloc_floats(N);
    float *gx = th_alloc_floats(N), *gy = th_alloc_floats(N);
    th_rng rng;
    th_rng_seed(&rng, 5);
    th_fill_uniform(&rng, x, N);
    th_fill_uniform(&rng, g, N);
    for (size_t i = 0; i < N; i++)
        g[i] = fabsf(g[i]);
    float v = -1.0f;
    CHECK_OK(ctx, clmse_host_forward_f32(ctx, CLMSE_REDUCTION_SUM, N, x, x, &v));
    ck_assert_uint_eq(th_bits(v), 0);
    CHECK_OK(ctx, clmse_host_forward_f32(ctx, CLMSE_REDUCTION_MEAN, N, x, x, &v));
    ck_assert_uint_eq(th_bits(v), 0);
    for (int k = 0; k < 3; k++) {
        const float *go = k_reductions[k] == CLMSE_REDUCTION_NONE ? g : &k_grad_scalar;
        CHECK_OK(ctx, clmse_host_backward_f32(ctx, k_reductions[k], N, x, x, go, gx, gy));
        for (size_t i = 0; i < N; i++)
            ck_assert_msg(th_bits(gx[i]) == 0 && th_bits(gy[i]) == 0,
                          "%s: grads[%zu] = (%a, %a), want (+0, +0)", k_reduction_names[k], i,
                          (double)gx[i], (double)gy[i]);
    }
    /* Signed zeros follow the formula: (-0) - (+0) = -0 for the input gradient only. */
    const float sx[2] = {-0.0f, 0.0f}, sy[2] = {0.0f, -0.0f};
    CHECK_OK(ctx, clmse_host_backward_f32(ctx, CLMSE_REDUCTION_SUM, 2, sx, sy, NULL, gx, gy));
    for (int i = 0; i < 2; i++) {
        ck_assert_uint_eq(th_bits(gx[i]), th_bits(th_grad(2.0f, sx[i], sy[i], 1.0f)));
        ck_assert_uint_eq(th_bits(gy[i]), th_bits(th_grad(2.0f, sy[i], sx[i], 1.0f)));
    }
    free(x);
    free(g);
    free(gx);
    free(gy);
    clmse_context_release(ctx);
}
END_TEST

START_TEST(test_fused_without_grads)
{
    enum { N = 4097 };
    clmse_context *ctx = th_context_create();
    float *x = th_alloc_floats(N), *y = th_alloc_floats(N);
    th_rng rng;
    th_rng_seed(&rng, 9);
    th_fill_uniform(&rng, x, N);
    th_fill_uniform(&rng, y, N);
    cl_mem bx = th_buffer(ctx, N, 0, x, N), by = th_buffer(ctx, N, 0, y, N);
    cl_mem bout = th_buffer(ctx, 3, 0, NULL, 0);
    cl_event ev = NULL;
    CHECK_OK(ctx, clmse_mse_fused_f32(ctx, CLMSE_REDUCTION_MEAN, N, bx, 0, by, 0, bout, 1, NULL, 0,
                                      NULL, 0, NULL, 0, 0, NULL, &ev));
    float v[3];
    th_buffer_read(ctx, bout, 3, v, ev);
    ck_assert(th_within_one_ulp(v[1], th_ref_sum(x, y, N) / N));
    ck_assert(th_is_sentinel(v[0]) && th_is_sentinel(v[2]));
    ck_assert_int_eq(clReleaseMemObject(bx), CL_SUCCESS);
    ck_assert_int_eq(clReleaseMemObject(by), CL_SUCCESS);
    ck_assert_int_eq(clReleaseMemObject(bout), CL_SUCCESS);
    free(x);
    free(y);
    clmse_context_release(ctx);
}
END_TEST

Suite *make_mse_suite(void)
{
    Suite *s = suite_create("mse");
    TCase *tc = th_device_tcase(s, "examples");
    tcase_add_test(tc, test_example_3);
    tcase_add_test(tc, test_example_2x3);
    tc = th_device_tcase(s, "sizes_double");
    tcase_add_loop_test(tc, test_sizes_double, 0, N_SIZES);
    tc = th_device_tcase(s, "sizes_compensated");
    tcase_add_loop_test(tc, test_sizes_compensated, 0, N_SIZES);
    tc = th_device_tcase(s, "events");
    tcase_add_loop_test(tc, test_user_event_gates, 0, 3);
    tcase_add_test(tc, test_long_wait_list);
    tc = th_device_tcase(s, "edge");
    tcase_add_test(tc, test_zero_elements_device);
    tcase_add_test(tc, test_zero_elements_host);
    tcase_add_test(tc, test_nan_inf);
    tcase_add_test(tc, test_zero_difference);
    tcase_add_test(tc, test_fused_without_grads);
    return s;
}
