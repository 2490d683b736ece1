/* SPDX-License-Identifier: MIT */
/* clmse_mse in float64, float16 and bfloat16 and mixed pairs: promotion, compute in
 * float or double, and results rounded once to their dtype. */
#include "suites.h"
#include "tensor_harness.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

static const scenario k_dtype_scenarios[] = {
    {"(6,7)", .x = {1, 2, SHAPE(6, 7)}, .y = {1, 2, SHAPE(6, 7), .offset = 1}},
    {"(100,100)", .x = {1, 2, SHAPE(100, 100)}, .y = {1, 2, SHAPE(100, 100)}},
    {"(3,1) vs (3,)", .x = {1, 2, SHAPE(3, 1)}, .y = {1, 1, SHAPE(3)}},
    {"F-order (4,5) vs (4,5)", .x = {1, 2, SHAPE(4, 5), STRIDES(1, 4)}, .y = {1, 2, SHAPE(4, 5)},
     .gx = {1, 2, SHAPE(4, 5), STRIDES(1, 4)}},
};
#define N_DTYPE_SCEN ((int)(sizeof k_dtype_scenarios / sizeof k_dtype_scenarios[0]))

START_TEST(test_same_dtype)
{
    /* float64 in double (torch's order, bit-exact), float16/bfloat16 computed in float and
     * rounded once, float32 through the strided path where the layout asks for it. */
    const clmse_dtype d = tm_dtypes[_i % 4];
    tm_run_scenario(&k_dtype_scenarios[_i / 4], d, d, 3000 + (uint64_t)_i);
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
    const scenario *s = scen == 0   ? &k_dtype_scenarios[0]
                        : scen == 1 ? &k_dtype_scenarios[2]
                                    : &k_dtype_scenarios[3];
    tm_run_scenario(s, k_mixed[pair][0], k_mixed[pair][1], 4000 + (uint64_t)_i);
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
    tm_random_vals(&rng, d, xv, N);
    tm_random_vals(&rng, d, yv, N);
    /* a few exact cancellations and large differences too */
    xv[0] = yv[0];
    xv[1] = -9.0;
    yv[1] = 8.9375;
    const size_t s[1] = {N};
    const layout l = tm_c_order(1, s, 1), l0 = tm_c_order(0, NULL, 0);
    dt *x = dt_make(d, &l, xv, BUF_DEVICE), *y = dt_make(d, &l, yv, BUF_DEVICE);
    dt *out = dt_make(d, &l, NULL, BUF_DEVICE), *out0 = dt_make(d, &l0, NULL, BUF_DEVICE);
    dt *gx = dt_make(d, &l, NULL, BUF_DEVICE);
    clmse_mse_args a;
    cl_event ev = NULL;
    tm_fill_args(&a, CLMSE_REDUCTION_NONE, 0, x, y, out, NULL, gx, NULL);
    CHECK_OK(tm_ctx, clmse_mse(tm_ctx, &a, 0, NULL, &ev));
    th_finish_event(ev);
    unsigned char *got = dt_read(out), *ggx = dt_read(gx);
    long double sum = 0;
    for (int i = 0; i < N; i++) {
        const float xf = (float)xv[i], yf = (float)yv[i];
        const float t = th_term(xf, yf);
        const uint16_t want = _i ? th_bf16_from_float(t) : th_half_from_float(t);
        ck_assert_msg(dtype_bits_load(got, d, 1 + (size_t)i) == want, "%s loss[%d] = %#x, want %#x",
                      clmse_dtype_name(d), i, (unsigned)dtype_bits_load(got, d, 1 + (size_t)i),
                      (unsigned)want);
        const float gr = th_grad(2.0f, xf, yf, 1.0f);
        const uint16_t wg = _i ? th_bf16_from_float(gr) : th_half_from_float(gr);
        ck_assert_uint_eq(dtype_bits_load(ggx, d, 1 + (size_t)i), wg);
        sum += t;
    }
    free(got);
    free(ggx);
    for (int k = 1; k < 3; k++) {
        dt_reset(out0);
        tm_fill_args(&a, tm_reductions[k], 0, x, y, out0, NULL, NULL, NULL);
        CHECK_OK(tm_ctx, clmse_mse(tm_ctx, &a, 0, NULL, &ev));
        th_finish_event(ev);
        got = dt_read(out0);
        const long double want = tm_reductions[k] == CLMSE_REDUCTION_MEAN ? sum / N : sum;
        ck_assert_msg(dtype_bits_near_ref(d, dtype_bits_load(got, d, 0), want),
                      "%s %s = %g, want %.12Lg", clmse_dtype_name(d), tm_red_names[k],
                      tm_value_at(got, d, 0), want);
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
        {CLMSE_DTYPE_F16, 1.0, 11, 40},    /* normal: tie 1 + 2^-11 */
        {CLMSE_DTYPE_BF16, 1.0, 8, 30},    /* normal: tie 1 + 2^-8 */
        {CLMSE_DTYPE_F16, 0.0, 25, 60},    /* subnormal: tie 2^-25, half the smallest */
        {CLMSE_DTYPE_BF16, 0.0, 134, 160}, /* subnormal: tie 2^-134 */
    };
    const clmse_dtype d = cases[_i].d;
    const double xv = cases[_i].base, gv = 0.5;
    const double yv = -(dtype_bits_pow2(-cases[_i].k) + dtype_bits_pow2(-cases[_i].m));
    const double v = xv - yv; /* exact */
    const size_t s[1] = {1};
    const layout l = tm_c_order(1, s, 0);
    dt *x = dt_make(d, &l, &xv, BUF_DEVICE), *y = dt_make(CLMSE_DTYPE_F64, &l, &yv, BUF_DEVICE);
    dt *g = dt_make(CLMSE_DTYPE_F64, &l, &gv, BUF_DEVICE);
    dt *gx = dt_make(d, &l, NULL, BUF_DEVICE), *gy = dt_make(CLMSE_DTYPE_F64, &l, NULL, BUF_DEVICE);
    clmse_mse_args a;
    tm_fill_args(&a, CLMSE_REDUCTION_NONE, 0, x, y, NULL, g, gx, gy);
    /* Without fp64 the float64 target is refused: call_mse checks that, and nothing ran. */
    if (!tm_call_mse("round once", &a)) {
        tm_check_unchanged(gx, "round once");
        tm_check_unchanged(gy, "round once");
        goto done;
    }
    unsigned char *got = dt_read(gx);
    const uint64_t want = dtype_bits_encode(d, v);
    const uint64_t via_float = dtype_bits_encode(d, (double)(float)v);
    ck_assert_uint_ne(want, via_float); /* the case really separates the two */
    ck_assert_msg(dtype_bits_load(got, d, 0) == want,
                  "%s grad_input of a float64 pair = %#x, want %#x (%#x is rounding through "
                  "float first)",
                  clmse_dtype_name(d), (unsigned)dtype_bits_load(got, d, 0), (unsigned)want,
                  (unsigned)via_float);
    free(got);
done:;
    dt *all[] = {x, y, g, gx, gy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        dt_free(all[i]);
}
END_TEST

Suite *make_tensor_dtypes_suite(void)
{
    Suite *s = suite_create("tensor_dtypes");
    TCase *tc = th_device_tcase(s, "dtypes");
    tcase_add_checked_fixture(tc, tm_setup, tm_teardown);
    tcase_add_loop_test(tc, test_same_dtype, 0, 4 * N_DTYPE_SCEN);
    tcase_add_loop_test(tc, test_mixed_dtypes, 0, 3 * N_MIXED);
    tcase_add_loop_test(tc, test_half_explicit, 0, 2);
    tc = th_device_tcase(s, "round_once_from_double");
    tcase_add_checked_fixture(tc, tm_setup, tm_teardown);
    tcase_add_loop_test(tc, test_round_once_from_double, 0, 4);
    return s;
}
