/* SPDX-License-Identifier: MIT */
/* Thread stress: mixed forward, backward and fused calls from 8 threads, on one shared context
 * and on per-thread contexts, every result bitwise equal to the single-threaded one.
 * CLMSE_STRESS_CALLS sets the calls per thread (default short, for CI; 10000 for a long run). */
#include "helpers.h"
#include "suites.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STRESS_THREADS 8
#define STRESS_DEFAULT_CALLS 40
#define STRESS_MAX_N 1000000
#define N_OPS 3 /* forward mean, backward sum (both gradients), fused mean */

static const size_t k_sizes[] = {1, 7, 1000, 4097, 100003, STRESS_MAX_N};
#define N_SIZES (sizeof k_sizes / sizeof k_sizes[0])
/* CLMSE_TEST_SCALE=small: sizes up to 65539, 4 calls per thread by default, and the mixed
 * calls made by one worker on the test's own thread (th_run_workers says why). The
 * failing-calls test keeps its threads: its calls return before any OpenCL call. */
static const size_t k_sizes_small[N_SIZES] = {1, 7, 1000, 4097, 20011, 65539};

/* What one call produced: the loss bits and a hash of both gradients' bits. */
typedef struct outcome {
    uint32_t loss;
    uint64_t grads;
} outcome;

typedef struct stress {
    clmse_context *shared; /* NULL: each thread creates its own context */
    const size_t *sizes;   /* N_SIZES of them */
    unsigned threads;
    float *hx, *hy;
    outcome expect[N_SIZES][N_OPS];
    size_t calls;
    pthread_mutex_t lock;
    unsigned failures, done;
    char first_failure[512];
} stress;

typedef struct worker_arg {
    stress *s;
    unsigned index;
} worker_arg;

static uint64_t hash_bits(uint64_t h, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= th_bits(v[i]);
        h *= 1099511628211ull; /* FNV-1a */
    }
    return h;
}

/* Device buffers of one context: shared inputs and this caller's outputs. */
typedef struct buffers {
    cl_mem x, y, out, gx, gy;
    float *gxh, *gyh;
} buffers;

static int buffers_create(clmse_context *ctx, const stress *s, buffers *b)
{
    cl_context cc = NULL;
    cl_int e1, e2, e3, e4, e5;
    clmse_context_get_cl(ctx, &cc, NULL, NULL);
    const size_t bytes = STRESS_MAX_N * sizeof(float);
    b->x = clCreateBuffer(cc, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, bytes, s->hx, &e1);
    b->y = clCreateBuffer(cc, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, bytes, s->hy, &e2);
    b->out = clCreateBuffer(cc, CL_MEM_READ_WRITE, sizeof(float), NULL, &e3);
    b->gx = clCreateBuffer(cc, CL_MEM_READ_WRITE, bytes, NULL, &e4);
    b->gy = clCreateBuffer(cc, CL_MEM_READ_WRITE, bytes, NULL, &e5);
    b->gxh = malloc(bytes);
    b->gyh = malloc(bytes);
    return e1 == CL_SUCCESS && e2 == CL_SUCCESS && e3 == CL_SUCCESS && e4 == CL_SUCCESS &&
           e5 == CL_SUCCESS && b->gxh != NULL && b->gyh != NULL;
}

static void buffers_release(buffers *b)
{
    cl_mem all[] = {b->x, b->y, b->out, b->gx, b->gy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i])
            clReleaseMemObject(all[i]);
    free(b->gxh);
    free(b->gyh);
}

/* Runs one call and reads its results back; returns the status. */
static clmse_status run_op(clmse_context *ctx, buffers *b, int op, size_t n, outcome *o)
{
    cl_command_queue q = NULL;
    clmse_context_get_cl(ctx, NULL, NULL, &q);
    cl_event ev = NULL;
    clmse_status st;
    if (op == 0)
        st = clmse_mse_forward_f32(ctx, CLMSE_REDUCTION_MEAN, n, b->x, 0, b->y, 0, b->out, 0, 0,
                                   NULL, &ev);
    else if (op == 1)
        st = clmse_mse_backward_f32(ctx, CLMSE_REDUCTION_SUM, n, b->x, 0, b->y, 0, NULL, 0, b->gx,
                                    0, b->gy, 0, 0, NULL, &ev);
    else
        st = clmse_mse_fused_f32(ctx, CLMSE_REDUCTION_MEAN, n, b->x, 0, b->y, 0, b->out, 0, NULL, 0,
                                 b->gx, 0, b->gy, 0, 0, NULL, &ev);
    if (st != CLMSE_SUCCESS)
        return st;
    float loss = 0.0f;
    cl_int err = CL_SUCCESS;
    if (op != 1)
        err = clEnqueueReadBuffer(q, b->out, CL_TRUE, 0, sizeof loss, &loss, 1, &ev, NULL);
    if (op != 0 && err == CL_SUCCESS)
        err = clEnqueueReadBuffer(q, b->gx, CL_TRUE, 0, n * sizeof(float), b->gxh, 1, &ev, NULL);
    if (op != 0 && err == CL_SUCCESS)
        err = clEnqueueReadBuffer(q, b->gy, CL_TRUE, 0, n * sizeof(float), b->gyh, 1, &ev, NULL);
    clReleaseEvent(ev);
    o->loss = op != 1 ? th_bits(loss) : 0;
    o->grads = op != 0 ? hash_bits(hash_bits(14695981039346656037ull, b->gxh, n), b->gyh, n) : 0;
    return err == CL_SUCCESS ? CLMSE_SUCCESS : CLMSE_ERROR_OPENCL;
}

static void record_failure(stress *s, const char *fmt, size_t n, int op, unsigned thread)
{
    pthread_mutex_lock(&s->lock);
    if (s->failures++ == 0)
        snprintf(s->first_failure, sizeof s->first_failure, fmt, n, op, thread);
    pthread_mutex_unlock(&s->lock);
}

static void *worker(void *arg)
{
    worker_arg *w = arg;
    stress *s = w->s;
    clmse_context *ctx = s->shared;
    buffers b;
    memset(&b, 0, sizeof b);
    if (ctx == NULL && clmse_context_create(NULL, &ctx) != CLMSE_SUCCESS) {
        record_failure(s, "n=%zu op=%d thread %u: context creation failed", 0, -1, w->index);
        return NULL;
    }
    if (!buffers_create(ctx, s, &b)) {
        record_failure(s, "n=%zu op=%d thread %u: buffer creation failed", 0, -1, w->index);
        goto done;
    }
    th_rng rng;
    th_rng_seed(&rng, 1000 + w->index);
    for (size_t c = 0; c < s->calls; c++) {
        const uint64_t r = th_rng_next(&rng);
        const size_t si = (size_t)(r % N_SIZES);
        const int op = (int)((r >> 32) % N_OPS);
        outcome got;
        if (run_op(ctx, &b, op, s->sizes[si], &got) != CLMSE_SUCCESS) {
            record_failure(s, "n=%zu op=%d thread %u: call failed", s->sizes[si], op, w->index);
            break;
        }
        if (got.loss != s->expect[si][op].loss || got.grads != s->expect[si][op].grads)
            record_failure(s, "n=%zu op=%d thread %u: result differs from single-threaded",
                           s->sizes[si], op, w->index);
        pthread_mutex_lock(&s->lock);
        s->done++;
        pthread_mutex_unlock(&s->lock);
    }
done:
    buffers_release(&b);
    if (s->shared == NULL)
        clmse_context_release(ctx);
    return NULL;
}

static size_t calls_per_thread(void)
{
    const char *env = getenv("CLMSE_STRESS_CALLS");
    char *end = NULL;
    unsigned long long v = env ? strtoull(env, &end, 10) : 0;
    return env && *end == '\0' && v > 0 ? (size_t)v : th_scaled(STRESS_DEFAULT_CALLS, 4);
}

static void run_stress(int shared_context)
{
    stress s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.lock, NULL);
    s.calls = calls_per_thread();
    s.sizes = th_scale_small() ? k_sizes_small : k_sizes;
    s.threads = (unsigned)th_scaled(STRESS_THREADS, 1); /* th_run_workers runs 1 inline */
    s.hx = th_alloc_floats(STRESS_MAX_N);
    s.hy = th_alloc_floats(STRESS_MAX_N);
    th_rng rng;
    th_rng_seed(&rng, 77);
    th_fill_uniform(&rng, s.hx, STRESS_MAX_N);
    th_fill_uniform(&rng, s.hy, STRESS_MAX_N);

    /* The single-threaded reference, on a context of its own. */
    clmse_context *ref = th_context_create();
    buffers b;
    memset(&b, 0, sizeof b);
    ck_assert(buffers_create(ref, &s, &b));
    for (size_t si = 0; si < N_SIZES; si++)
        for (int op = 0; op < N_OPS; op++)
            ck_assert_int_eq(run_op(ref, &b, op, s.sizes[si], &s.expect[si][op]), CLMSE_SUCCESS);
    buffers_release(&b);
    clmse_context_release(ref);

    if (shared_context)
        s.shared = th_context_create();
    worker_arg args[STRESS_THREADS];
    for (unsigned t = 0; t < s.threads; t++)
        args[t] = (worker_arg){&s, t};
    ck_assert_uint_eq(th_run_workers(s.threads, worker, args, sizeof args[0]), s.threads);
    clmse_context_release(s.shared);
    printf("stress: %s context(s): %u calls by %u threads, %u failures\n",
           shared_context ? "one shared" : "per-thread", s.done, s.threads, s.failures);
    ck_assert_msg(s.failures == 0, "%u failures; first: %s", s.failures, s.first_failure);
    ck_assert_uint_eq(s.done, (unsigned)(s.calls * s.threads));
    free(s.hx);
    free(s.hy);
    pthread_mutex_destroy(&s.lock);
}

START_TEST(test_shared_context) { run_stress(1); }
END_TEST

START_TEST(test_per_thread_contexts) { run_stress(0); }
END_TEST

/* Calls that fail on a shared context record its last error at the same time, some before they
 * take the context lock (argument checks); ThreadSanitizer builds see any unguarded write. */
#define FAIL_CALLS 200

typedef struct failing_job {
    clmse_context *ctx;
    cl_mem buf;
    int reduction;  /* invalid, and different per thread: each message names its own value */
    unsigned wrong; /* calls that did not fail as expected */
} failing_job;

static void *failing_worker(void *arg)
{
    failing_job *job = arg;
    for (int i = 0; i < FAIL_CALLS; i++)
        if (clmse_mse_forward_f32(job->ctx, (clmse_reduction)job->reduction, 1, job->buf, 0,
                                  job->buf, 0, job->buf, 0, 0, NULL,
                                  NULL) != CLMSE_ERROR_INVALID_REDUCTION)
            job->wrong++;
    return NULL;
}

START_TEST(test_shared_context_failures)
{
    clmse_context *ctx = th_context_create();
    cl_context cc = NULL;
    ck_assert_int_eq(clmse_context_get_cl(ctx, &cc, NULL, NULL), CLMSE_SUCCESS);
    cl_int err = CL_SUCCESS;
    cl_mem buf = clCreateBuffer(cc, CL_MEM_READ_WRITE, sizeof(float), NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    /* Each thread's message, as one thread alone leaves it. */
    char want[STRESS_THREADS][256];
    for (unsigned t = 0; t < STRESS_THREADS; t++) {
        failing_job one = {ctx, buf, 7 + (int)t, 0};
        failing_worker(&one);
        ck_assert_uint_eq(one.wrong, 0);
        snprintf(want[t], sizeof want[t], "%s", clmse_context_last_error(ctx));
    }
    pthread_t threads[STRESS_THREADS];
    failing_job jobs[STRESS_THREADS];
    for (unsigned t = 0; t < STRESS_THREADS; t++) {
        jobs[t] = (failing_job){ctx, buf, 7 + (int)t, 0};
        ck_assert_int_eq(pthread_create(&threads[t], NULL, failing_worker, &jobs[t]), 0);
    }
    for (unsigned t = 0; t < STRESS_THREADS; t++)
        pthread_join(threads[t], NULL);
    for (unsigned t = 0; t < STRESS_THREADS; t++)
        ck_assert_uint_eq(jobs[t].wrong, 0);
    /* Writers that overlapped would leave a mix of two messages: the last one must be whole. */
    const char *last = clmse_context_last_error(ctx);
    int whole = 0;
    for (unsigned t = 0; t < STRESS_THREADS; t++)
        whole |= strcmp(last, want[t]) == 0;
    ck_assert_msg(whole, "the last error is no thread's message: '%s'", last);
    clReleaseMemObject(buf);
    clmse_context_release(ctx);
}
END_TEST

Suite *make_stress_suite(void)
{
    Suite *s = suite_create("stress");
    TCase *tc = th_device_tcase(s, "threads");
    /* A long run (CLMSE_STRESS_CALLS=10000) needs far more than the default limit. */
    tcase_set_timeout(tc, 3600);
    tcase_add_test(tc, test_shared_context);
    tcase_add_test(tc, test_per_thread_contexts);
    tcase_add_test(tc, test_shared_context_failures);
    return s;
}
