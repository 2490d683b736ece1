/* SPDX-License-Identifier: MIT */
/* clmse_mse on non-contiguous views: column-major, sliced, stride-0, permuted and
 * gapped operands and results, in all four dtypes; strict shapes with equal shapes. */
#include "suites.h"
#include "tensor_harness.h"

#include <check.h>
#include <stdint.h>

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
     .out = {1, 2, SHAPE(4, 5), STRIDES(1, 4)}, .gx = {1, 2, SHAPE(4, 5), STRIDES(1, 4)}},
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
    const clmse_dtype d = tm_dtypes[_i % 4];
    tm_run_scenario(&k_strided[_i / 4], d, d, 2000 + (uint64_t)_i);
}
END_TEST

START_TEST(test_equal_shapes_strict)
{
    /* CLMSE_STRICT_SHAPES accepts equal shapes whatever their strides. */
    const size_t s[2] = {4, 5};
    layout lx = tm_c_order(2, s, 0), ly = tm_c_order(2, s, 0);
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
    const layout l0 = tm_c_order(0, NULL, 0);
    dt *out = dt_make(CLMSE_DTYPE_F32, &l0, NULL, BUF_DEVICE);
    tm_run_verify("strict", CLMSE_REDUCTION_SUM, CLMSE_STRICT_SHAPES, x, y, out, NULL, NULL, NULL);
    dt_free(x);
    dt_free(y);
    dt_free(out);
}
END_TEST

Suite *make_tensor_strides_suite(void)
{
    Suite *s = suite_create("tensor_strides");
    TCase *tc = th_device_tcase(s, "strides");
    tcase_add_checked_fixture(tc, tm_setup, tm_teardown);
    tcase_add_loop_test(tc, test_stride_scenarios, 0, 4 * N_STRIDED);
    tcase_add_test(tc, test_equal_shapes_strict);
    return s;
}
