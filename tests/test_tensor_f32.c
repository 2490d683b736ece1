/* SPDX-License-Identifier: MIT */
/* float32 tensors through clmse_mse, contiguous: bit-identical to the _f32 entry points
 * (clmse_mse_forward_f32 and its siblings) for every reduction and operation. */
#include "suites.h"
#include "tensor_harness.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct f32_run {
    size_t n;
    float *x, *y, *g;
    cl_mem bx, by, bg_none, bg_scalar, out[2], gx[2], gy[2];
    size_t tot; /* floats in each result buffer */
} f32_run;

enum { OX = 3, OY = 5, OG = 1, OO = 2, OGX = 4, OGY = 6 };

static void reset_results(f32_run *r)
{
    for (int k = 0; k < 2; k++) {
        th_buffer_reset(tm_ctx, r->out[k], r->tot);
        th_buffer_reset(tm_ctx, r->gx[k], r->tot);
        th_buffer_reset(tm_ctx, r->gy[k], r->tot);
    }
}

static void assert_buffers_equal(f32_run *r, cl_mem a, cl_mem b, const char *what)
{
    float *va = th_alloc_floats(r->tot), *vb = th_alloc_floats(r->tot);
    th_buffer_read(tm_ctx, a, r->tot, va, NULL);
    th_buffer_read(tm_ctx, b, r->tot, vb, NULL);
    size_t bad = r->tot;
    for (size_t i = 0; i < r->tot && bad == r->tot; i++)
        if (th_bits(va[i]) != th_bits(vb[i]))
            bad = i;
    const double fa = bad < r->tot ? (double)va[bad] : 0, fb = bad < r->tot ? (double)vb[bad] : 0;
    free(va);
    free(vb);
    ck_assert_msg(bad == r->tot, "%s: element %zu differs: _f32 %a, tensor %a", what, bad, fa, fb);
}

START_TEST(test_tensor_matches_f32)
{
    /* _i: 0 a vector of 1000, 1 a (20, 50) matrix, 2 a (2, 5, 100) tensor: all contiguous. */
    static const size_t shapes[3][3] = {{1000, 0, 0}, {20, 50, 0}, {2, 5, 100}};
    const uint32_t nd = (uint32_t)_i + 1;
    f32_run r;
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
    r.bx = th_buffer(tm_ctx, OX + r.n + 2, OX, r.x, r.n);
    r.by = th_buffer(tm_ctx, OY + r.n + 2, OY, r.y, r.n);
    r.bg_none = th_buffer(tm_ctx, OG + r.n + 2, OG, r.g, r.n);
    r.bg_scalar = th_buffer(tm_ctx, OG + 3, OG, &gs, 1);
    for (int k = 0; k < 2; k++) {
        r.out[k] = th_buffer(tm_ctx, r.tot, 0, NULL, 0);
        r.gx[k] = th_buffer(tm_ctx, r.tot, 0, NULL, 0);
        r.gy[k] = th_buffer(tm_ctx, r.tot, 0, NULL, 0);
    }
    clmse_tensor tx, ty, tgn, tgs, tout_none, tout0, tgx, tgy;
    CHECK_OK(NULL, clmse_tensor_init(&tx, r.bx, CLMSE_DTYPE_F32, nd, shapes[_i], NULL, OX));
    CHECK_OK(NULL, clmse_tensor_init(&ty, r.by, CLMSE_DTYPE_F32, nd, shapes[_i], NULL, OY));
    CHECK_OK(NULL, clmse_tensor_init(&tgn, r.bg_none, CLMSE_DTYPE_F32, nd, shapes[_i], NULL, OG));
    CHECK_OK(NULL, clmse_tensor_init(&tgs, r.bg_scalar, CLMSE_DTYPE_F32, 0, NULL, NULL, OG));
    CHECK_OK(NULL,
             clmse_tensor_init(&tout_none, r.out[1], CLMSE_DTYPE_F32, nd, shapes[_i], NULL, OO));
    CHECK_OK(NULL, clmse_tensor_init(&tout0, r.out[1], CLMSE_DTYPE_F32, 0, NULL, NULL, OO));
    CHECK_OK(NULL, clmse_tensor_init(&tgx, r.gx[1], CLMSE_DTYPE_F32, nd, shapes[_i], NULL, OGX));
    CHECK_OK(NULL, clmse_tensor_init(&tgy, r.gy[1], CLMSE_DTYPE_F32, nd, shapes[_i], NULL, OGY));

    for (int k = 0; k < 3; k++) {
        const clmse_reduction red = tm_reductions[k];
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
            CHECK_OK(tm_ctx, clmse_mse_forward_f32(tm_ctx, red, r.n, r.bx, OX, r.by, OY, r.out[0],
                                                   OO, 0, NULL, &ev));
            th_finish_event(ev);
            a.output = tout;
            CHECK_OK(tm_ctx, clmse_mse(tm_ctx, &a, 0, NULL, &ev));
            th_finish_event(ev);
            assert_buffers_equal(&r, r.out[0], r.out[1], tm_red_names[k]);
            /* backward */
            reset_results(&r);
            CHECK_OK(tm_ctx, clmse_mse_backward_f32(tm_ctx, red, r.n, r.bx, OX, r.by, OY,
                                                    with_g ? bg : NULL, OG, r.gx[0], OGX, r.gy[0],
                                                    OGY, 0, NULL, &ev));
            th_finish_event(ev);
            a.output = NULL;
            a.grad_output = with_g ? tg : NULL;
            a.grad_input = &tgx;
            a.grad_target = &tgy;
            CHECK_OK(tm_ctx, clmse_mse(tm_ctx, &a, 0, NULL, &ev));
            th_finish_event(ev);
            assert_buffers_equal(&r, r.gx[0], r.gx[1], "backward grad_input");
            assert_buffers_equal(&r, r.gy[0], r.gy[1], "backward grad_target");
            /* fused */
            reset_results(&r);
            CHECK_OK(tm_ctx, clmse_mse_fused_f32(tm_ctx, red, r.n, r.bx, OX, r.by, OY, r.out[0], OO,
                                                 with_g ? bg : NULL, OG, r.gx[0], OGX, r.gy[0], OGY,
                                                 0, NULL, &ev));
            th_finish_event(ev);
            a.output = tout;
            CHECK_OK(tm_ctx, clmse_mse(tm_ctx, &a, 0, NULL, &ev));
            th_finish_event(ev);
            assert_buffers_equal(&r, r.out[0], r.out[1], "fused output");
            assert_buffers_equal(&r, r.gx[0], r.gx[1], "fused grad_input");
            assert_buffers_equal(&r, r.gy[0], r.gy[1], "fused grad_target");
        }
    }
    /* And the values themselves, against the host reference. */
    float *v = th_alloc_floats(r.tot);
    th_buffer_read(tm_ctx, r.out[1], r.tot, v, NULL);
    ck_assert(th_within_one_ulp(v[OO], th_ref_sum(r.x, r.y, r.n)));
    free(v);

    cl_mem bufs[] = {r.bx,     r.by,    r.bg_none, r.bg_scalar, r.out[0],
                     r.out[1], r.gx[0], r.gx[1],   r.gy[0],     r.gy[1]};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        ck_assert_int_eq(clReleaseMemObject(bufs[i]), CL_SUCCESS);
    free(r.x);
    free(r.y);
    free(r.g);
}
END_TEST

Suite *make_tensor_f32_suite(void)
{
    Suite *s = suite_create("tensor_f32");
    TCase *tc = th_device_tcase(s, "f32_contiguous");
    tcase_add_checked_fixture(tc, tm_setup, tm_teardown);
    tcase_add_loop_test(tc, test_tensor_matches_f32, 0, 3);
    return s;
}
