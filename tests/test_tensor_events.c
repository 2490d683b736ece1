/* SPDX-License-Identifier: MIT */
/* clmse_mse and events: a user event gates every kernel of a call, and the output
 * event is optional. */
#include "suites.h"
#include "tensor_harness.h"

#include <check.h>
#include <math.h>
#include <string.h>

START_TEST(test_user_event_gates)
{
    /* _i: 0 broadcast none + both gradients (pass and two gradient kernels), 1 broadcast mean
     * + gradients (pass, final, gradients), 2 broadcast gradients only, 3 empty mean (the final
     * kernel alone), 4 empty none (nothing to run: the event still waits). */
    cl_context c = th_cl_context(tm_ctx);
    const int empty = _i >= 3;
    const size_t sx[2] = {64, 1}, sy[1] = {64}, sb[2] = {64, 64}, z[1] = {0};
    const layout lx = empty ? tm_c_order(1, z, 0) : tm_c_order(2, sx, 0);
    const layout ly = empty ? tm_c_order(1, z, 0) : tm_c_order(1, sy, 0);
    const layout lo = empty ? tm_c_order(1, z, 0) : tm_c_order(2, sb, 0);
    const layout l0 = tm_c_order(0, NULL, 0);
    th_rng rng;
    th_rng_seed(&rng, 31);
    double xv[64], yv[64];
    tm_random_vals(&rng, CLMSE_DTYPE_F32, xv, 64);
    tm_random_vals(&rng, CLMSE_DTYPE_F32, yv, 64);
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
    tm_fill_args(&a, red, 0, x, y, out, NULL, gx, gy);
    cl_event ev = NULL;
    CHECK_OK(tm_ctx, clmse_mse(tm_ctx, &a, 1, &user, &ev));
    ck_assert_ptr_nonnull(ev);

    th_assert_still_pending(ev);
    dt *results[3] = {out, gx, gy};
    for (int k = 0; k < 3; k++)
        if (results[k])
            ck_assert_msg(
                memcmp(results[k]->host, results[k]->img, results[k]->total * sizeof(float)) == 0,
                "result %d written before the user event completed", k);

    ck_assert_int_eq(clSetUserEventStatus(user, CL_COMPLETE), CL_SUCCESS);
    th_finish_event(ev);
    ck_assert_int_eq(clReleaseEvent(user), CL_SUCCESS);
    tm_verify("gated", red, x, y, out, NULL, gx, gy);
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
    const clmse_dtype d = tm_fp64 ? CLMSE_DTYPE_F64 : CLMSE_DTYPE_F32;
    const size_t s[2] = {3, 1}, s3[1] = {3}, s33[2] = {3, 3};
    const double v[3] = {1, -2, 4};
    const layout lx = tm_c_order(2, s, 0), ly = tm_c_order(1, s3, 0), lo = tm_c_order(2, s33, 0);
    dt *x = dt_make(d, &lx, v, BUF_DEVICE);
    dt *y = dt_make(d, &ly, v, BUF_DEVICE);
    dt *out = dt_make(d, &lo, NULL, BUF_DEVICE);
    dt *gx = dt_make(d, &lx, NULL, BUF_DEVICE);
    clmse_mse_args a;
    tm_fill_args(&a, CLMSE_REDUCTION_NONE, 0, x, y, out, NULL, gx, NULL);
    CHECK_OK(tm_ctx, clmse_mse(tm_ctx, &a, 0, NULL, NULL));
    ck_assert_int_eq(clFinish(tm_queue()), CL_SUCCESS);
    tm_verify("no event", CLMSE_REDUCTION_NONE, x, y, out, NULL, gx, NULL);
    dt *all[] = {x, y, out, gx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        dt_free(all[i]);
}
END_TEST

Suite *make_tensor_events_suite(void)
{
    Suite *s = suite_create("tensor_events");
    TCase *tc = th_device_tcase(s, "events");
    tcase_add_checked_fixture(tc, tm_setup, tm_teardown);
    tcase_add_loop_test(tc, test_user_event_gates, 0, 5);
    tcase_add_test(tc, test_event_optional);
    return s;
}
