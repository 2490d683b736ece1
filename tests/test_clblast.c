/* SPDX-License-Identifier: MIT */
/* Cross-check the 'sum' loss against CLBlast: d = x - y by Saxpy, then Sdot(d, d). */
#include "helpers.h"
#include "suites.h"

#include <check.h>
#include <clblast_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const size_t k_sizes[] = {1000, 1000003, (size_t)1 << 22};
/* CLMSE_TEST_SCALE=small: up to 2^17+3 (the medium size class) instead of 2^22. */
static const size_t k_sizes_small[] = {1000, 65539, 131075};

START_TEST(test_sum_matches_clblast_dot)
{
    size_t n = (th_scale_small() ? k_sizes_small : k_sizes)[_i];
    clmse_context *ctx = th_context_create();
    cl_command_queue queue = th_cl_queue(ctx);
    float *x = th_alloc_floats(n), *y = th_alloc_floats(n);
    th_rng rng;
    th_rng_seed(&rng, 0xb1a5u + n);
    th_fill_uniform(&rng, x, n);
    th_fill_uniform(&rng, y, n);
    cl_mem bx = th_buffer(ctx, n, 0, x, n), by = th_buffer(ctx, n, 0, y, n);
    cl_mem bd = th_buffer(ctx, n, 0, NULL, 0), bdot = th_buffer(ctx, 1, 0, NULL, 0);
    cl_mem bsum = th_buffer(ctx, 1, 0, NULL, 0);

    cl_event ev = NULL;
    ck_assert_int_eq(clEnqueueCopyBuffer(queue, bx, bd, 0, 0, n * sizeof(float), 0, NULL, &ev),
                     CL_SUCCESS);
    ck_assert_int_eq(clWaitForEvents(1, &ev), CL_SUCCESS);
    ck_assert_int_eq(clReleaseEvent(ev), CL_SUCCESS);
    ev = NULL;
    CLBlastStatusCode cb = CLBlastSaxpy(n, -1.0f, by, 0, 1, bd, 0, 1, &queue, &ev);
    ck_assert_msg(cb == CLBlastSuccess, "CLBlastSaxpy: %d", (int)cb);
    ck_assert_int_eq(clWaitForEvents(1, &ev), CL_SUCCESS);
    ck_assert_int_eq(clReleaseEvent(ev), CL_SUCCESS);
    ev = NULL;
    cb = CLBlastSdot(n, bdot, 0, bd, 0, 1, bd, 0, 1, &queue, &ev);
    ck_assert_msg(cb == CLBlastSuccess, "CLBlastSdot: %d", (int)cb);
    float dot = 0.0f;
    th_buffer_read(ctx, bdot, 1, &dot, ev);

    ev = NULL;
    clmse_status st =
        clmse_mse_forward_f32(ctx, CLMSE_REDUCTION_SUM, n, bx, 0, by, 0, bsum, 0, 0, NULL, &ev);
    ck_assert_msg(st == CLMSE_SUCCESS, "%s: %s", clmse_status_string(st),
                  clmse_context_last_error(ctx));
    float sum = 0.0f;
    th_buffer_read(ctx, bsum, 1, &sum, ev);

    long double ref = th_ref_sum(x, y, n);
    double rel = fabs((double)sum - (double)dot) / fabs((double)dot);
    printf("clblast: n=%zu clmse sum %.9g, CLBlast dot %.9g, reference %.12Lg, rel diff %.3e\n", n,
           (double)sum, (double)dot, ref, rel);
    fflush(stdout);
    ck_assert_msg(rel <= 1e-6, "n=%zu: clmse %.9g vs CLBlast %.9g: rel diff %.3e", n, (double)sum,
                  (double)dot, rel);

    cl_mem bufs[] = {bx, by, bd, bdot, bsum};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        ck_assert_int_eq(clReleaseMemObject(bufs[i]), CL_SUCCESS);
    free(x);
    free(y);
    clmse_context_release(ctx);
}
END_TEST

Suite *make_clblast_suite(void)
{
    Suite *s = suite_create("clblast");
    TCase *tc = th_device_tcase(s, "dot");
    tcase_add_loop_test(tc, test_sum_matches_clblast_dot, 0,
                        (int)(sizeof k_sizes / sizeof k_sizes[0]));
    return s;
}
