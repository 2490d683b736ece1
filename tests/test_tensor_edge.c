/* SPDX-License-Identifier: MIT */
/* clmse_mse at the edges: empty tensors (NULL buffers, the mean of nothing), 0-d
 * tensors, and NaN and infinity propagation on the contiguous and strided paths. */
#include "suites.h"
#include "tensor_harness.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>

START_TEST(test_empty)
{
    const size_t z[1] = {0}, one[1] = {1}, z3[2] = {0, 3}, three[1] = {3};
    const size_t z2[2] = {2, 0}, two1[2] = {2, 1};
    const layout lz = tm_c_order(1, z, 0), l0 = tm_c_order(0, NULL, 1);

    /* (0,) vs (0,), NULL buffers everywhere except the reduced output. */
    dt *x = dt_make(CLMSE_DTYPE_F32, &lz, NULL, BUF_NULL_IF_EMPTY);
    dt *y = dt_make(CLMSE_DTYPE_F32, &lz, NULL, BUF_NULL_IF_EMPTY);
    dt *out0 = dt_make(CLMSE_DTYPE_F32, &l0, NULL, BUF_DEVICE);
    dt *onone = dt_make(CLMSE_DTYPE_F32, &lz, NULL, BUF_NULL_IF_EMPTY);
    dt *oreal = dt_make(CLMSE_DTYPE_F32, &lz, NULL, BUF_DEVICE); /* an empty view, real buffer */
    dt *gx = dt_make(CLMSE_DTYPE_F32, &lz, NULL, BUF_NULL_IF_EMPTY);
    dt *gy = dt_make(CLMSE_DTYPE_F32, &lz, NULL, BUF_DEVICE);
    ck_assert_ptr_null(x->t.buffer);
    tm_run_verify("(0,) mean", CLMSE_REDUCTION_MEAN, 0, x, y, out0, NULL, gx, gy);
    unsigned char *got = dt_read(out0);
    ck_assert(isnan(tm_value_at(got, CLMSE_DTYPE_F32, 1)));
    free(got);
    tm_run_verify("(0,) sum", CLMSE_REDUCTION_SUM, 0, x, y, out0, NULL, gx, gy);
    got = dt_read(out0);
    ck_assert_uint_eq(dtype_bits_load(got, CLMSE_DTYPE_F32, 1), 0); /* +0, not -0 */
    free(got);
    tm_run_verify("(0,) none", CLMSE_REDUCTION_NONE, 0, x, y, onone, NULL, gx, gy);
    tm_run_verify("(0,) none", CLMSE_REDUCTION_NONE, 0, x, y, oreal, NULL, NULL, NULL);
    tm_run_verify("(0,) grads", CLMSE_REDUCTION_SUM, 0, x, y, NULL, NULL, gx, gy);
    /* float64 and float16 take the strided path with nothing to do as well. */
    dt *xd = dt_make(CLMSE_DTYPE_F64, &lz, NULL, BUF_NULL_IF_EMPTY);
    dt *yh = dt_make(CLMSE_DTYPE_F16, &lz, NULL, BUF_NULL_IF_EMPTY);
    dt *outd = dt_make(CLMSE_DTYPE_F64, &l0, NULL, BUF_DEVICE);
    tm_run_verify("(0,) f64+f16 mean", CLMSE_REDUCTION_MEAN, 0, xd, yh, outd, NULL, NULL, NULL);
    tm_run_verify("(0,) f64+f16 sum", CLMSE_REDUCTION_SUM, 0, xd, yh, outd, NULL, NULL, NULL);

    /* (0,) vs (1,): the target is broadcast over nothing, its gradient is written as 0. */
    const layout l1 = tm_c_order(1, one, 0), l1o = tm_c_order(1, one, 2);
    const double seven = 7.0;
    dt *y1 = dt_make(CLMSE_DTYPE_F32, &l1, &seven, BUF_DEVICE);
    dt *gy1 = dt_make(CLMSE_DTYPE_F32, &l1o, NULL, BUF_DEVICE);
    tm_run_verify("(0,) vs (1,)", CLMSE_REDUCTION_MEAN, 0, x, y1, out0, NULL, gx, gy1);
    got = dt_read(gy1);
    ck_assert_uint_eq(dtype_bits_load(got, CLMSE_DTYPE_F32, 2), 0);
    free(got);
    tm_run_verify("(0,) vs (1,) sum", CLMSE_REDUCTION_SUM, 0, x, y1, NULL, NULL, NULL, gy1);

    /* (0,3) vs (0,3), (0,3) vs (3,) and (2,0) vs (2,1). */
    const layout lz3 = tm_c_order(2, z3, 0), l3 = tm_c_order(1, three, 1);
    const layout lz2 = tm_c_order(2, z2, 0), l21 = tm_c_order(2, two1, 0);
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
        const clmse_reduction red = tm_reductions[k];
        dt *o = red == CLMSE_REDUCTION_NONE ? oz3 : out0;
        tm_run_verify("(0,3)", red, 0, xz3, yz3, o, NULL, NULL, NULL);
        tm_run_verify("(0,3) vs (3,)", red, 0, xz3, y3, o, NULL, NULL, gy3);
        tm_run_verify("(2,0) vs (2,1)", red, 0, xz2, y21, red == CLMSE_REDUCTION_NONE ? NULL : outd,
                      NULL, NULL, gy21);
    }
    got = dt_read(gy3);
    for (size_t i = 0; i < 3; i++)
        ck_assert_uint_eq(dtype_bits_load(got, CLMSE_DTYPE_F32, 1 + i), 0);
    free(got);

    dt *all[] = {x,  y,   out0, onone, oreal, gx,  gy,  xd,  yh,  outd,
                 y1, gy1, xz3,  yz3,   y3,    gy3, oz3, xz2, y21, gy21};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        dt_free(all[i]);
}
END_TEST

START_TEST(test_zero_d)
{
    /* x = 3, y = 1: loss 4 for every reduction, grad_input 4, grad_target -4. */
    const clmse_dtype d = tm_dtypes[_i];
    const double three = 3.0, one = 1.0;
    const layout l0 = tm_c_order(0, NULL, 1), l11 = tm_c_order(2, (const size_t[]){1, 1}, 0);
    const layout l1 = tm_c_order(1, (const size_t[]){1}, 2);
    dt *x = dt_make(d, &l0, &three, BUF_DEVICE), *y = dt_make(d, &l0, &one, BUF_DEVICE);
    dt *out = dt_make(d, &l0, NULL, BUF_DEVICE), *out11 = dt_make(d, &l11, NULL, BUF_DEVICE);
    dt *out1 = dt_make(d, &l1, NULL, BUF_DEVICE);
    dt *gx = dt_make(d, &l0, NULL, BUF_DEVICE), *gy = dt_make(d, &l0, NULL, BUF_DEVICE);
    for (int k = 0; k < 3; k++) {
        const clmse_reduction red = tm_reductions[k];
        if (!tm_run_verify("0-d", red, 0, x, y, out, NULL, gx, gy))
            continue; /* float64 without fp64: refused, and checked so */
        unsigned char *go = dt_read(out), *ggx = dt_read(gx), *ggy = dt_read(gy);
        ck_assert_msg(tm_value_at(go, d, 1) == 4.0, "%s %s loss %g", clmse_dtype_name(d),
                      tm_red_names[k], tm_value_at(go, d, 1));
        ck_assert(tm_value_at(ggx, d, 1) == 4.0);
        ck_assert(tm_value_at(ggy, d, 1) == -4.0);
        free(go);
        free(ggx);
        free(ggy);
        /* A reduced loss may be any one-element shape. */
        if (red != CLMSE_REDUCTION_NONE) {
            tm_run_verify("0-d into (1,1)", red, 0, x, y, out11, NULL, NULL, NULL);
            tm_run_verify("0-d into (1,)", red, 0, x, y, out1, NULL, NULL, NULL);
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
    /* _i / 2: dtype; _i % 2: contiguous or every second element (the strided path). */
    const clmse_dtype d = tm_dtypes[_i / 2];
    const int strided = _i % 2;
    const double xs[4] = {(double)INFINITY, 1.0, (double)NAN, 2.0}, ys[4] = {0.0, 1.0, 0.0, 1.0};
    const size_t s4[1] = {4}, s2[1] = {2};
    layout l4 = tm_c_order(1, s4, 1), l2 = tm_c_order(1, s2, 0);
    if (strided) {
        l4.has_strides = l2.has_strides = 1;
        l4.strides[0] = l2.strides[0] = 2;
    }
    const layout lo4 = tm_c_order(1, s4, 0), l0 = tm_c_order(0, NULL, 0);
    dt *x = dt_make(d, &l4, xs, BUF_DEVICE), *y = dt_make(d, &l4, ys, BUF_DEVICE);
    dt *x2 = dt_make(d, &l2, xs, BUF_DEVICE), *y2 = dt_make(d, &l2, ys, BUF_DEVICE);
    dt *out = dt_make(d, &lo4, NULL, BUF_DEVICE), *out0 = dt_make(d, &l0, NULL, BUF_DEVICE);
    dt *gx = dt_make(d, &lo4, NULL, BUF_DEVICE), *gy = dt_make(d, &lo4, NULL, BUF_DEVICE);

    /* Every call below has the same dtypes: when this one is refused (float64 without fp64),
     * so are they. */
    if (!tm_run_verify("nan/inf none", CLMSE_REDUCTION_NONE, 0, x, y, out, NULL, NULL, NULL))
        goto done;
    unsigned char *got = dt_read(out);
    ck_assert(tm_value_at(got, d, 0) == (double)INFINITY);
    ck_assert_uint_eq(dtype_bits_load(got, d, 1), 0);
    ck_assert(isnan(tm_value_at(got, d, 2)));
    ck_assert(tm_value_at(got, d, 3) == 1.0);
    free(got);

    tm_run_verify("nan/inf mean", CLMSE_REDUCTION_MEAN, 0, x, y, out0, NULL, gx, gy);
    got = dt_read(out0);
    ck_assert(isnan(tm_value_at(got, d, 0)));
    free(got);
    /* mean over 4: scale 0.5, gx = [inf, 0, nan, 0.5], gy = [-inf, 0, nan, -0.5] */
    unsigned char *ggx = dt_read(gx), *ggy = dt_read(gy);
    ck_assert(tm_value_at(ggx, d, 0) == (double)INFINITY);
    ck_assert_uint_eq(dtype_bits_load(ggx, d, 1), 0);
    ck_assert(isnan(tm_value_at(ggx, d, 2)));
    ck_assert(tm_value_at(ggx, d, 3) == 0.5);
    ck_assert(tm_value_at(ggy, d, 0) == -(double)INFINITY);
    ck_assert_uint_eq(dtype_bits_load(ggy, d, 1), 0);
    ck_assert(isnan(tm_value_at(ggy, d, 2)));
    ck_assert(tm_value_at(ggy, d, 3) == -0.5);
    free(ggx);
    free(ggy);

    tm_run_verify("nan/inf sum", CLMSE_REDUCTION_SUM, 0, x, y, out0, NULL, NULL, NULL);
    got = dt_read(out0);
    ck_assert(isnan(tm_value_at(got, d, 0)));
    free(got);
    tm_run_verify("inf sum", CLMSE_REDUCTION_SUM, 0, x2, y2, out0, NULL, NULL, NULL);
    got = dt_read(out0);
    ck_assert(tm_value_at(got, d, 0) == (double)INFINITY);
    free(got);
    tm_run_verify("inf mean", CLMSE_REDUCTION_MEAN, 0, x2, y2, out0, NULL, NULL, NULL);
    got = dt_read(out0);
    ck_assert(tm_value_at(got, d, 0) == (double)INFINITY);
    free(got);

done:;
    dt *all[] = {x, y, x2, y2, out, out0, gx, gy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        dt_free(all[i]);
}
END_TEST

Suite *make_tensor_edge_suite(void)
{
    Suite *s = suite_create("tensor_edge");
    TCase *tc = th_device_tcase(s, "edge");
    tcase_add_checked_fixture(tc, tm_setup, tm_teardown);
    tcase_add_test(tc, test_empty);
    tcase_add_loop_test(tc, test_zero_d, 0, 4);
    tcase_add_loop_test(tc, test_nan_inf, 0, 8);
    return s;
}
