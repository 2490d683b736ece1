/* SPDX-License-Identifier: MIT */
/* clmse_mse with broadcast operands: (3,1) vs (3,) spelled out by hand, then
 * broadcast scenarios of every rank up to 8 in all four dtypes. */
#include "suites.h"
#include "tensor_harness.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

START_TEST(test_broadcast_3x1_vs_3)
{
    /* The classic silent bug: (3,1) vs (3,) is a (3,3) loss with N = 9. Spelled out by hand. */
    const double xs[3] = {1.5, -2.25, 7.0}, ys[3] = {0.5, 3.75, -1.125};
    const size_t s31[2] = {3, 1}, s3[1] = {3}, s33[2] = {3, 3};
    const layout lx = tm_c_order(2, s31, 1), ly = tm_c_order(1, s3, 0);
    const layout lo = tm_c_order(2, s33, 2), l0 = tm_c_order(0, NULL, 0);
    const layout lgx = tm_c_order(2, s31, 0), lgy = tm_c_order(1, s3, 4);
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

    tm_fill_args(&a, CLMSE_REDUCTION_NONE, 0, x, y, out, NULL, NULL, NULL);
    CHECK_OK(tm_ctx, clmse_mse(tm_ctx, &a, 0, NULL, &ev));
    th_finish_event(ev);
    unsigned char *got = dt_read(out);
    tm_check_outside(out, got, "output");
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            volatile float d = (float)xs[i] - (float)ys[j];
            volatile float t = d * d;
            ck_assert_msg(dtype_bits_load(got, CLMSE_DTYPE_F32, 2 + 3 * (size_t)i + (size_t)j) ==
                              th_bits(t),
                          "none[%d][%d]", i, j);
        }
    free(got);

    tm_fill_args(&a, CLMSE_REDUCTION_MEAN, 0, x, y, out0, g0, gx, gy);
    CHECK_OK(tm_ctx, clmse_mse(tm_ctx, &a, 0, NULL, &ev));
    th_finish_event(ev);
    long double sum = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            sum += th_term((float)xs[i], (float)ys[j]);
    got = dt_read(out0);
    const float mean = (float)tm_value_at(got, CLMSE_DTYPE_F32, 0);
    ck_assert_msg(th_within_one_ulp(mean, sum / 9), "mean %a, want %.20Lg (N = 9)", (double)mean,
                  sum / 9);
    free(got);
    const float scale = (float)(2.0 / 9.0), g = (float)gval;
    unsigned char *ggx = dt_read(gx), *ggy = dt_read(gy);
    tm_check_outside(gx, ggx, "grad_input");
    tm_check_outside(gy, ggy, "grad_target");
    for (int i = 0; i < 3; i++) {
        long double wx = 0, wy = 0;
        for (int j = 0; j < 3; j++) {
            wx += th_grad(scale, (float)xs[i], (float)ys[j], g); /* grad_input[i][0] */
            wy += th_grad(scale, (float)ys[i], (float)xs[j], g); /* grad_target[i] */
        }
        const float gxi = (float)tm_value_at(ggx, CLMSE_DTYPE_F32, (size_t)i);
        const float gyi = (float)tm_value_at(ggy, CLMSE_DTYPE_F32, 4 + (size_t)i);
        ck_assert_msg(th_within_one_ulp(gxi, wx), "grad_input[%d] %a, want %.20Lg", i, (double)gxi,
                      wx);
        ck_assert_msg(th_within_one_ulp(gyi, wy), "grad_target[%d] %a, want %.20Lg", i, (double)gyi,
                      wy);
    }
    free(ggx);
    free(ggy);

    /* Without CLMSE_STRICT_SHAPES this succeeded; with it the same call is refused. */
    dt_reset(out0);
    tm_fill_args(&a, CLMSE_REDUCTION_MEAN, CLMSE_STRICT_SHAPES, x, y, out0, NULL, NULL, NULL);
    ck_assert_int_eq(clmse_mse(tm_ctx, &a, 0, NULL, &ev), CLMSE_ERROR_SHAPE_MISMATCH);
    ck_assert_ptr_null(ev);
    got = dt_read(out0);
    tm_check_outside(out0, got, "output");
    ck_assert_uint_eq(dtype_bits_load(got, CLMSE_DTYPE_F32, 0), TH_SENTINEL_BITS);
    free(got);

    dt *all[] = {x, y, out, out0, gx, gy, g0};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        dt_free(all[i]);
}
END_TEST

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
     .y = {1, 2, SHAPE(5, 1)}, .out = {1, 3, SHAPE(4, 5, 3), STRIDES(1, 4, 20), .offset = 2},
     .gx = {1, 3, SHAPE(4, 1, 3), STRIDES(2, 0, 8), .offset = 1}},
};
#define N_BCAST ((int)(sizeof k_bcast / sizeof k_bcast[0]))

START_TEST(test_broadcast_scenarios)
{
    const clmse_dtype d = tm_dtypes[_i % 4];
    tm_run_scenario(&k_bcast[_i / 4], d, d, 1000 + (uint64_t)_i);
}
END_TEST

Suite *make_tensor_broadcast_suite(void)
{
    Suite *s = suite_create("tensor_broadcast");
    TCase *tc = th_device_tcase(s, "broadcast");
    tcase_add_checked_fixture(tc, tm_setup, tm_teardown);
    tcase_add_test(tc, test_broadcast_3x1_vs_3);
    tcase_add_loop_test(tc, test_broadcast_scenarios, 0, 4 * N_BCAST);
    return s;
}
