/* SPDX-License-Identifier: MIT */
/* Lifecycle: creating and releasing contexts many times leaves the process no bigger, and an
 * adopted cl_context / queue gets back exactly the references it had. */
#include "helpers.h"
#include "suites.h"

#include <stdio.h>
#include <unistd.h>

#define LIFECYCLE_ROUNDS 1000
#define LIFECYCLE_WARMUP 50
/* Allocators keep some slack; a leak of one context per round would exceed this many times. */
#define LIFECYCLE_SLACK_BYTES (8u << 20)

/* ASan's quarantine keeps freed memory resident, so there the growth check means nothing:
 * LeakSanitizer does that job instead. */
#if defined(__SANITIZE_ADDRESS__)
#define LIFECYCLE_MEASURE_RSS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LIFECYCLE_MEASURE_RSS 0
#endif
#endif
#ifndef LIFECYCLE_MEASURE_RSS
#define LIFECYCLE_MEASURE_RSS 1
#endif

/* Resident set size in bytes, from /proc (Linux); 0 where unavailable. */
static size_t resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (f == NULL)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* One round: a context, one small call (so programs and scratch are built), release. */
static void round_trip(int with_call)
{
    clmse_context *ctx = th_context_create();
    if (with_call) {
        float x[5] = {1, 2, 3, 4, 5}, y[5] = {0, 2, 2, 4, 9}, loss = 0.0f;
        ck_assert_int_eq(clmse_host_forward_f32(ctx, CLMSE_REDUCTION_SUM, 5, x, y, &loss),
                         CLMSE_SUCCESS);
        ck_assert(loss == 18.0f);
    }
    clmse_context_release(ctx);
}

static void check_growth(int with_call, int rounds)
{
    for (int i = 0; i < LIFECYCLE_WARMUP; i++)
        round_trip(with_call);
    const size_t before = resident_bytes();
    for (int i = 0; i < rounds; i++)
        round_trip(with_call);
    const size_t after = resident_bytes();
    printf("lifecycle: %d rounds%s: resident %zu -> %zu KiB\n", rounds,
           with_call ? " with a call each" : "", before >> 10, after >> 10);
    if (before == 0 || !LIFECYCLE_MEASURE_RSS)
        return; /* no /proc, or ASan: the rounds themselves and LeakSanitizer are the test */
    ck_assert_msg(after <= before + LIFECYCLE_SLACK_BYTES, "resident grew from %zu to %zu KiB",
                  before >> 10, after >> 10);
}

START_TEST(test_create_release) { check_growth(0, LIFECYCLE_ROUNDS); }
END_TEST

/* Each round builds the programs again (POCL's own cache keeps that cheap): fewer rounds. */
START_TEST(test_create_call_release) { check_growth(1, LIFECYCLE_ROUNDS / 5); }
END_TEST

static cl_uint refcount(cl_context c, cl_command_queue q, int queue)
{
    cl_uint n = 0;
    if (queue)
        clGetCommandQueueInfo(q, CL_QUEUE_REFERENCE_COUNT, sizeof n, &n, NULL);
    else
        clGetContextInfo(c, CL_CONTEXT_REFERENCE_COUNT, sizeof n, &n, NULL);
    return n;
}

START_TEST(test_adopt_release_rounds)
{
    clmse_context *owner = th_context_create();
    cl_context c = th_cl_context(owner);
    cl_command_queue q = th_cl_queue(owner);
    cl_device_id d = NULL;
    clmse_context_get_cl(owner, NULL, &d, NULL);
    clFinish(q);
    const cl_uint ctx_refs = refcount(c, q, 0), queue_refs = refcount(c, q, 1);
    for (int i = 0; i < LIFECYCLE_ROUNDS; i++) {
        clmse_context *adopted = NULL;
        ck_assert_int_eq(clmse_context_create_from_cl(c, d, q, NULL, &adopted), CLMSE_SUCCESS);
        clmse_context_release(adopted);
    }
    clFinish(q);
    ck_assert_uint_eq(refcount(c, q, 0), ctx_refs);
    ck_assert_uint_eq(refcount(c, q, 1), queue_refs);
    clmse_context_release(owner);
}
END_TEST

Suite *make_lifecycle_suite(void)
{
    Suite *s = suite_create("lifecycle");
    TCase *tc = th_device_tcase(s, "rounds");
    tcase_add_test(tc, test_create_release);
    tcase_add_test(tc, test_create_call_release);
    tcase_add_test(tc, test_adopt_release_rounds);
    return s;
}
