/* SPDX-License-Identifier: MIT */
/* Context lifecycles under the fault shim's reference counting: every OpenCL reference
 * clmse takes comes back, over a thousand rounds of create, call and release. */
#include "fault_harness.h"
#include "suites.h"

#include <check.h>
#include <stdlib.h>

enum { LIFE_ROUNDS = 1000, LIFE_CALL_ROUNDS = 200 };

/* clmse holds exactly `want` references, in round `round` of `what`. */
static void check_round_refs(const refs *want, const char *what, int round)
{
    for (int i = 0; i < CLF_KIND_COUNT; i++) {
        const long now = clf_live((clf_kind)i);
        ck_assert_msg(now == want->n[i], "%s, round %d: clmse holds %ld %s references, want %ld",
                      what, round, now, clf_kind_name((clf_kind)i), want->n[i]);
    }
}

/* A live context holds the same references every round (its first round's), and none once
 * released. */
static void check_lifecycle(clmse_context *ctx, refs *held, const char *what, int round)
{
    const refs now = ft_live_refs();
    if (round == 0)
        *held = now;
    check_round_refs(held, what, round);
    clmse_context_release(ctx);
    check_round_refs(&ft_no_refs, what, round);
}

START_TEST(test_lifecycle_create_release)
{
    refs held;
    for (int i = 0; i < LIFE_ROUNDS; i++)
        check_lifecycle(th_context_create(), &held, "create + release", i);
    /* The count sees the context's own objects, so zero above means released. */
    ck_assert_int_eq(held.n[CLF_CONTEXT], 1);
    ck_assert_int_eq(held.n[CLF_QUEUE], 1);
}
END_TEST

/* Each round builds its programs again (POCL's cache keeps that cheap) and sizes scratch. */
START_TEST(test_lifecycle_call_release)
{
    enum { N = 200003 }; /* several work-groups even on a CPU (medium class): scratch */
    float *x = th_alloc_floats(N), *y = th_alloc_floats(N), *gx = th_alloc_floats(N),
          *gy = th_alloc_floats(N);
    float loss = 0.0f, want_loss = 0.0f;
    th_rng rng;
    th_rng_seed(&rng, 0x11fe);
    th_fill_uniform(&rng, x, N);
    th_fill_uniform(&rng, y, N);
    refs held;
    for (int i = 0; i < LIFE_CALL_ROUNDS; i++) {
        clmse_context *ctx = th_context_create();
        CHECK_OK(ctx,
                 clmse_host_fused_f32(ctx, CLMSE_REDUCTION_MEAN, N, x, y, NULL, &loss, gx, gy));
        if (i == 0)
            want_loss = loss;
        ck_assert_msg(th_bits(loss) == th_bits(want_loss), "round %d: %a, want %a", i, (double)loss,
                      (double)want_loss);
        check_lifecycle(ctx, &held, "create + fused call + release", i);
    }
    ck_assert_msg(th_within_one_ulp(want_loss, th_ref_sum(x, y, N) / N), "loss %.9g",
                  (double)want_loss);
    ck_assert_int_ge(held.n[CLF_PROGRAM], 1);
    ck_assert_int_ge(held.n[CLF_KERNEL], 1);
    ck_assert_int_ge(held.n[CLF_MEM], 1); /* scratch */
    free(x);
    free(y);
    free(gx);
    free(gy);
}
END_TEST

START_TEST(test_lifecycle_adopt_release)
{
    cl_device_id dev = th_default_device();
    cl_context c = NULL;
    cl_command_queue q = th_cl_open(dev, 0, &c);
    const cl_uint c_refs = th_context_refs(c), q_refs = th_queue_refs(q);
    refs held;
    for (int i = 0; i < LIFE_ROUNDS; i++) {
        clmse_context *ctx = NULL;
        CHECK_OK(NULL, clmse_context_create_from_cl(c, dev, q, NULL, &ctx));
        ck_assert_uint_eq(th_context_refs(c), c_refs + 1);
        ck_assert_uint_eq(th_queue_refs(q), q_refs + 1);
        check_lifecycle(ctx, &held, "create_from_cl + release", i);
        ck_assert_msg(th_context_refs(c) == c_refs && th_queue_refs(q) == q_refs,
                      "round %d: the cl_context has %u references (%u before), the queue %u "
                      "(%u before)",
                      i, th_context_refs(c), c_refs, th_queue_refs(q), q_refs);
    }
    ck_assert_int_eq(held.n[CLF_CONTEXT], 1);
    ck_assert_int_eq(held.n[CLF_QUEUE], 1);
    ck_assert_int_eq(clReleaseCommandQueue(q), CL_SUCCESS);
    ck_assert_int_eq(clReleaseContext(c), CL_SUCCESS);
}
END_TEST

Suite *make_fault_lifecycle_suite(void)
{
    Suite *s = suite_create("fault_lifecycle");
    TCase *tc = th_device_tcase(s, "lifecycle");
    tcase_add_test(tc, test_lifecycle_create_release);
    tcase_add_test(tc, test_lifecycle_call_release);
    tcase_add_test(tc, test_lifecycle_adopt_release);
    return s;
}
