/* SPDX-License-Identifier: MIT */
/* clmse-bench: clmse's forward, backward (both gradients, and grad_input only) and fused against
 * OpenMP, CLBlast, a buffer copy of the same bytes, a plain kernel of the bench's own and a no-op
 * kernel; with --pipelined, also many calls per wait. CLMSE_BENCH_HAVE_CLBLAST and
 * CLMSE_BENCH_HAVE_OPENMP (0 or 1, from bench/CMakeLists.txt) say which of those methods this
 * build has; a missing one is left out with a note. */
#define _POSIX_C_SOURCE 200809L /* localtime_r under strict -std=c11 */

#include "clmse.h" /* first: it sets CL_TARGET_OPENCL_VERSION for clblast_c.h's <CL/cl.h> */

#if CLMSE_BENCH_HAVE_CLBLAST
#include <clblast_c.h>
#endif
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "naive.h"
#include "clmse_tuning.h"
#include "commands.h"
#include "options.h"
#include "timing.h"
#include "workload.h"

#define BENCH_DEFAULT_REPEAT 10u
#define BENCH_MAX_REPEAT 100000u
#define BENCH_MAX_SIZES 64
#define BENCH_SMALL_N ((size_t)1 << 20) /* below it: more runs, and clmse/empty is shown */
#define BENCH_SMALL_FACTOR 10u          /* runs per cell below BENCH_SMALL_N: R times this */
#define BENCH_WARMUP_SMALL 3u
#define BENCH_WARMUP_LARGE 1u
#define BENCH_WARMUP_US 100e3  /* and at least this long in all */
#define BENCH_CELL_US 200e3    /* timed runs continue until they add up to this much */
#define BENCH_MAX_RUNS 100000u /* ... or until this many */
#define BENCH_BLOCKS 4u        /* the methods of an op take turns, each run in this many blocks */
#define BENCH_BUFFERS 5u       /* x, y, both gradients and CLBlast's d, each N elements */
#define BENCH_SEED_X 1u
#define BENCH_SEED_Y 2u
#define BENCH_TOL_CLMSE 1e-5     /* clmse's mean against the host loop's, relative */
#define BENCH_TOL_CLBLAST 1e-4   /* CLBlast's dot / N against the host loop's mean, relative */
#define BENCH_TOL_GRAD 1e-6      /* clmse's and naive's gradients against the host loop's */
#define BENCH_TOL_NAIVE_F32 1e-3 /* naive's float32 mean (float accumulators), relative */
#define BENCH_TOL_NAIVE_F64 1e-9 /* naive's float64 mean */
#define BENCH_PIPE_CALLS 1000u   /* --pipelined: calls per timed run below BENCH_PIPE_LARGE_N */
#define BENCH_PIPE_CALLS_LARGE 10u
#define BENCH_PIPE_LARGE_N ((size_t)1 << 22)

/* About 1 minute for float32 (1.5 for float64) on POCL on 2 cores, most of it in CLBlast's
 * runs at 2^26, before backward_x, copy and naive were added (not measured since). */
static const size_t default_sizes[] = {(size_t)1 << 10, (size_t)1 << 14, (size_t)1 << 18,
                                       (size_t)1 << 20, (size_t)1 << 22, (size_t)1 << 24,
                                       (size_t)1 << 26};
static const char *const op_names[BENCH_OPS] = {"forward", "backward", "backward_x", "fused"};
/* Elements a call must move: read x and y; backward and fused also write both gradients,
 * backward_x grad_input only. The GB/s and gbps= figures divide these bytes by the median. */
static const double op_elements[BENCH_OPS] = {2.0, 4.0, 3.0, 4.0};
static const char *const method_names[BENCH_METHODS] = {"clmse",
                                                        "host",
                                                        "clblast",
                                                        "empty",
                                                        "copy",
                                                        "naive",
                                                        "clmse_pipelined",
                                                        "empty_pipelined",
                                                        "minimal_pipelined"};
/* Whether this build times the method; why not, when it does not. */
static const int method_built[BENCH_METHODS] = {
    1, CLMSE_BENCH_HAVE_OPENMP, CLMSE_BENCH_HAVE_CLBLAST, 1, 1, 1, 1, 1, 1};
static const char *const method_missing[BENCH_METHODS] = {
    NULL, "built without OpenMP (CMake found none), so the host loop would run on one thread",
    "built without CLBlast (pkg-config found no clblast, or CLMSE_USE_CLBLAST=OFF)"};
static const char empty_source[] = "__kernel void empty(void) {}\n";

/* What lives for the whole run. */
typedef struct bench_env {
    clmse_context *ctx;
    cl_context clctx;
    cl_device_id device;
    cl_command_queue queue;
    cl_program empty_program;
    cl_kernel empty;
    bench_naive naive; /* the naive method's kernels (naive.c) */
    int pipelined;     /* --pipelined */
    clmse_dtype dtype;
    size_t elsize;
    size_t repeat;
    size_t max_runs; /* timed runs of one cell at most */
    cl_ulong max_alloc, global_mem;
    double *times_us[BENCH_METHODS]; /* per method: room for the most runs one cell takes */
    size_t runs[BENCH_METHODS];      /* how many of them the current cell holds */
    int sizing;     /* within one N: running out of memory skips it rather than stops */
    char skip[512]; /* why the current N is being skipped */
    int mismatch;   /* a result disagreed with the host loop */
} bench_env;

/* What lives for one N. */
typedef struct bench_size {
    mse_workload w; /* clmse's buffers: x, y, both gradients and the loss */
    size_t bytes;
    void *hx, *hy, *hgx, *hgy;
    cl_mem d, dot;   /* CLBlast's */
    double host_sum; /* the host forward's sum */
} bench_size;

typedef enum step { STEP_OK, STEP_SKIP, STEP_FAIL } step;

static void bench_usage(FILE *out)
{
    fprintf(out,
            "Usage: clmse-bench [--n N]... [--dtype f32|f64] [--repeat R] [--device SPEC]\n"
            "                   [--accumulation A] [--pipelined] [--csv FILE]\n\n"
            "Times MSELoss with reduction mean on N elements resident on the device: the\n"
            "forward, the backward (grad_output NULL: ones) writing both gradients, backward_x\n"
            "writing grad_input only (grad_target NULL, the usual training case) and the fused\n"
            "pass, each by these methods on the same device and queue:\n"
            "  clmse    the library's calls\n"
            "  host     an OpenMP C loop on every core, sums in double: the memory-bandwidth\n"
            "           reference on a CPU device\n"
            "  clblast  CLBlast's axpy d = d - y (d refilled with x before each run, untimed)\n"
            "           then dot(d, d) for the forward, axpy + scal for the backward and\n"
            "           backward_x (the same work in both rows: it writes one gradient), axpy +\n"
            "           dot + scal for the fused pass\n"
            "  copy     clEnqueueCopyBuffer moving as many bytes as the op must move: forward\n"
            "           copies x to grad_input (n elements: 2n read or written); backward and\n"
            "           fused also y to grad_target (2n elements copied: 4n); backward_x x to\n"
            "           grad_input and the first n/2 elements of y to grad_target (3n): the\n"
            "           device's streaming bandwidth\n"
            "  naive    the bench's own plain kernel: float4 loads (double2 for f64) and a\n"
            "           scalar tail, one float (double) accumulator per work-item, a grid-stride\n"
            "           loop, a local-memory tree per work-group, then a second launch of one\n"
            "           work-group that sums the group partials and divides by N; the gradients\n"
            "           are (2/N)(x - y) and (2/N)(y - x). Work-group size: the largest power of\n"
            "           two <= min(%u, CL_KERNEL_WORK_GROUP_SIZE); groups: compute units x %u\n"
            "  empty    enqueue of a no-op kernel on one work-item and clFinish: the launch\n"
            "           floor, timed in runs alternating with clmse's below N = 2^20\n"
            "With --pipelined, also:\n"
            "  clmse_pipelined  %u clmse calls enqueued back to back and one clFinish (%u\n"
            "                   from N = 2^22 up), as a training loop runs: time per call\n"
            "  empty_pipelined  the empty kernel timed the same way\n"
            "  minimal_pipelined  up to N = 2^18, the bench's least kernel for the op timed\n"
            "                   the same way: one work-item, one launch, 4 to 6 arguments,\n"
            "                   clmse's loads: a floor for any kernel doing the op\n"
            "Each cell is the median of R runs (%ux R below N = 2^20, and more while they\n"
            "add up to less than %.1f s) after a warm-up that excludes kernel builds, each\n"
            "timed with CLOCK_MONOTONIC from the first enqueue to clFinish; a pipelined cell is\n"
            "the median of R runs' (total / calls), after one warm-up run. The methods of an\n"
            "op take turns in 4 blocks of runs each, so that load from elsewhere on a shared\n"
            "machine falls on all of them alike.\n"
            "The table shows medians in microseconds, GB/s (bytes the op must move over the\n"
            "median: forward reads 2 arrays, backward and fused read 2 and write 2, backward_x\n"
            "reads 2 and writes 1) and ratios; a RESULT line per op, method and N follows for\n"
            "scripts, its gbps by the same rule (0 for the empty kernels, which move nothing):\n"
            "  RESULT op=forward dtype=f32 n=1048576 method=clmse median_us=1234.5 gbps=6.80\n\n",
            NAIVE_MAX_WG, NAIVE_GROUPS_PER_CU, BENCH_PIPE_CALLS, BENCH_PIPE_CALLS_LARGE,
            BENCH_SMALL_FACTOR, BENCH_CELL_US / 1e6);
    /* Two calls: C99 promises string literals of 4,095 characters, not more. */
    fprintf(out,
            "Options:\n"
            "  --n N           elements; repeat for several sizes (default: 2^10, 2^14, 2^18,\n"
            "                  2^20, 2^22, 2^24 and 2^26: over a minute on 2 CPU cores)\n"
            "  --dtype T       f32 (default) or f64 (needs a device with fp64)\n"
            "  --repeat R      timed runs per cell (default %u)\n"
            "  --device SPEC   gpu, cpu, accelerator, P:D, or part of a device name\n"
            "                  (default: $CLMSE_DEVICE, else the first GPU, ...)\n"
            "  --accumulation A  auto (default), double or compensated: how clmse sums\n"
            "                  float32 (clmse_context_options.accumulation); compensated is\n"
            "                  what a device without fp64 runs\n"
            "  --pipelined     also time the pipelined methods above\n"
            "  --csv FILE      also write the RESULT lines' fields as CSV, a header row and\n"
            "                  one row per op, method and N (scripts/plot_bench.py draws it)\n"
            "  --help          show this help\n\n"
            "A size too large for the device is skipped with a message. Exits 1 when clmse's\n"
            "loss differs from the host loop's by more than 1e-5 relative, naive's by more\n"
            "than %g (f32; %g f64; the minimal kernels' alike), CLBlast's by more than 1e-4,\n"
            "or clmse's, naive's or the minimal kernels' gradients from the host loop's. A\n"
            "method this build lacks (CLBlast or OpenMP not found) is left out, with a note\n"
            "saying why.\n",
            BENCH_DEFAULT_REPEAT, BENCH_TOL_NAIVE_F32, BENCH_TOL_NAIVE_F64);
}

/* ---- errors --------------------------------------------------------------------------------- */

/* Failures that a smaller N would not have: skip the size rather than stop. */
static int cl_out_of_memory(cl_int err)
{
    return err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES ||
           err == CL_OUT_OF_HOST_MEMORY || err == CL_INVALID_BUFFER_SIZE;
}

static step fail_clmse(bench_env *e, clmse_status st, const char *what)
{
    if (e->sizing &&
        (st == CLMSE_ERROR_OUT_OF_DEVICE_MEMORY || st == CLMSE_ERROR_OUT_OF_HOST_MEMORY)) {
        snprintf(e->skip, sizeof e->skip, "%s: %s", what, clmse_status_string(st));
        return STEP_SKIP;
    }
    cli_report_status(NULL, st, e->ctx, what);
    return STEP_FAIL;
}

static step fail_cl(bench_env *e, const char *call, cl_int err)
{
    if (e->sizing && cl_out_of_memory(err)) {
        snprintf(e->skip, sizeof e->skip, "%s returned %d%s", call, (int)err,
                 cli_cl_error_name(err));
        return STEP_SKIP;
    }
    cli_report_cl(NULL, call, err);
    return STEP_FAIL;
}

#if CLMSE_BENCH_HAVE_CLBLAST
static step fail_clblast(bench_env *e, const char *call, CLBlastStatusCode code)
{
    /* CLBlast's codes above -1000 are OpenCL's. */
    if (code > -1000 && e->sizing && cl_out_of_memory((cl_int)code))
        return fail_cl(e, call, (cl_int)code);
    fprintf(stderr, "clmse-bench: CLBlast: %s returned %d\n", call, (int)code);
    return STEP_FAIL;
}
#endif

/* ---- one run of one method ------------------------------------------------------------------ */

/* backward_x: the backward with grad_target NULL, which workload_enqueue() does not offer. */
static clmse_status enqueue_clmse_backward_x(bench_env *e, const mse_workload *w)
{
    clmse_mse_args a = {CLMSE_REDUCTION_MEAN, 0, &w->tx, &w->ty, NULL, NULL, &w->tgx, NULL, 0};

    if (w->dtype == CLMSE_DTYPE_F64)
        return clmse_mse(e->ctx, &a, 0, NULL, NULL);
    return clmse_mse_backward_f32(e->ctx, CLMSE_REDUCTION_MEAN, w->n, w->x, 0, w->y, 0, NULL, 0,
                                  w->gx, 0, NULL, 0, 0, NULL, NULL);
}

static step enqueue_clmse(bench_env *e, bench_size *s, bench_op op)
{
    static const clmse_op ops[BENCH_OPS] = {CLMSE_OP_FORWARD, CLMSE_OP_BACKWARD, CLMSE_OP_BACKWARD,
                                            CLMSE_OP_FUSED};
    clmse_status st = op == BENCH_BACKWARD_X ? enqueue_clmse_backward_x(e, &s->w)
                                             : workload_enqueue(e->ctx, &s->w, ops[op]);

    return st == CLMSE_SUCCESS
               ? STEP_OK
               : fail_clmse(e, st, e->dtype == CLMSE_DTYPE_F64 ? "clmse_mse" : op_names[op]);
}

static void run_host(bench_env *e, bench_size *s, bench_op op)
{
    if (e->dtype == CLMSE_DTYPE_F64) {
        double scale = 2.0 / (double)s->w.n;

        if (op == BENCH_FORWARD)
            s->host_sum = bench_host_forward_f64(s->hx, s->hy, s->w.n);
        else if (op == BENCH_BACKWARD)
            bench_host_backward_f64(s->hx, s->hy, s->w.n, scale, s->hgx, s->hgy);
        else if (op == BENCH_BACKWARD_X)
            bench_host_backward_x_f64(s->hx, s->hy, s->w.n, scale, s->hgx);
        else
            s->host_sum = bench_host_fused_f64(s->hx, s->hy, s->w.n, scale, s->hgx, s->hgy);
    } else {
        float scale = (float)(2.0 / (double)s->w.n);

        if (op == BENCH_FORWARD)
            s->host_sum = bench_host_forward_f32(s->hx, s->hy, s->w.n);
        else if (op == BENCH_BACKWARD)
            bench_host_backward_f32(s->hx, s->hy, s->w.n, scale, s->hgx, s->hgy);
        else if (op == BENCH_BACKWARD_X)
            bench_host_backward_x_f32(s->hx, s->hy, s->w.n, scale, s->hgx);
        else
            s->host_sum = bench_host_fused_f32(s->hx, s->hy, s->w.n, scale, s->hgx, s->hgy);
    }
}

#if CLMSE_BENCH_HAVE_CLBLAST
/* d = d - y; dot(d, d) for the forward and fused; d *= 2/N for the others. */
static step enqueue_clblast(bench_env *e, bench_size *s, bench_op op)
{
    int f64 = e->dtype == CLMSE_DTYPE_F64;
    double scale = 2.0 / (double)s->w.n;
    CLBlastStatusCode code;

    code = f64 ? CLBlastDaxpy(s->w.n, -1.0, s->w.y, 0, 1, s->d, 0, 1, &e->queue, NULL)
               : CLBlastSaxpy(s->w.n, -1.0f, s->w.y, 0, 1, s->d, 0, 1, &e->queue, NULL);
    if (code != CLBlastSuccess)
        return fail_clblast(e, f64 ? "CLBlastDaxpy" : "CLBlastSaxpy", code);
    if (op == BENCH_FORWARD || op == BENCH_FUSED) {
        code = f64 ? CLBlastDdot(s->w.n, s->dot, 0, s->d, 0, 1, s->d, 0, 1, &e->queue, NULL)
                   : CLBlastSdot(s->w.n, s->dot, 0, s->d, 0, 1, s->d, 0, 1, &e->queue, NULL);
        if (code != CLBlastSuccess)
            return fail_clblast(e, f64 ? "CLBlastDdot" : "CLBlastSdot", code);
    }
    if (op != BENCH_FORWARD) {
        code = f64 ? CLBlastDscal(s->w.n, scale, s->d, 0, 1, &e->queue, NULL)
                   : CLBlastSscal(s->w.n, (float)scale, s->d, 0, 1, &e->queue, NULL);
        if (code != CLBlastSuccess)
            return fail_clblast(e, f64 ? "CLBlastDscal" : "CLBlastSscal", code);
    }
    return STEP_OK;
}
#endif

static step enqueue_empty(bench_env *e)
{
    size_t one = 1;
    cl_int err = clEnqueueNDRangeKernel(e->queue, e->empty, 1, NULL, &one, &one, 0, NULL, NULL);

    return err == CL_SUCCESS ? STEP_OK : fail_cl(e, "clEnqueueNDRangeKernel(empty)", err);
}

/* The copy method: as many bytes as the op must move (see op_elements), into the gradients. */
static step enqueue_copy(bench_env *e, bench_size *s, bench_op op)
{
    size_t half = s->w.n / 2 * e->elsize;
    cl_int err = clEnqueueCopyBuffer(e->queue, s->w.x, s->w.gx, 0, 0, s->bytes, 0, NULL, NULL);

    if (err == CL_SUCCESS && op != BENCH_FORWARD && (op != BENCH_BACKWARD_X || half > 0))
        err = clEnqueueCopyBuffer(e->queue, s->w.y, s->w.gy, 0, 0,
                                  op == BENCH_BACKWARD_X ? half : s->bytes, 0, NULL, NULL);
    return err == CL_SUCCESS ? STEP_OK : fail_cl(e, "clEnqueueCopyBuffer", err);
}

/* The naive method: one stream launch, and for a loss the launch that folds its partials. */
static step enqueue_naive(bench_env *e, bench_size *s, bench_op op)
{
    const char *what = NULL;
    const cl_int err =
        naive_enqueue(&e->naive, e->queue, op, s->w.n, s->w.x, s->w.y, s->w.gx, s->w.gy, &what);
    return err == CL_SUCCESS ? STEP_OK : fail_cl(e, what, err);
}

/* The minimal_pipelined method's one launch. */
static step enqueue_minimal(bench_env *e, bench_size *s, bench_op op)
{
    const char *what = NULL;
    const cl_int err = naive_enqueue_minimal(&e->naive, e->queue, op, s->w.n, s->w.x, s->w.y,
                                             s->w.gx, s->w.gy, &what);
    return err == CL_SUCCESS ? STEP_OK : fail_cl(e, what, err);
}

/* --pipelined: calls per timed run. */
static size_t pipe_calls(size_t n)
{
    return n < BENCH_PIPE_LARGE_N ? BENCH_PIPE_CALLS : BENCH_PIPE_CALLS_LARGE;
}

static int is_pipelined(int m)
{
    return m == BENCH_CLMSE_PIPELINED || m == BENCH_EMPTY_PIPELINED || m == BENCH_MINIMAL_PIPELINED;
}

/* One timed run: from the first enqueue to clFinish (the host loop: around the loop). A
 * pipelined run enqueues pipe_calls(n) calls, waits once and reports the time per call. */
static step run_once(bench_env *e, bench_size *s, bench_op op, bench_method m, double *us)
{
    double start;
    step rc = STEP_OK;
    cl_int err;
    size_t calls = is_pipelined(m) ? pipe_calls(s->w.n) : 1;

    if (m == BENCH_CLBLAST) {
        /* Untimed: axpy overwrites d, so each run starts again from d = x. */
        err = clEnqueueCopyBuffer(e->queue, s->w.x, s->d, 0, 0, s->bytes, 0, NULL, NULL);
        if (err == CL_SUCCESS)
            err = clFinish(e->queue);
        if (err != CL_SUCCESS)
            return fail_cl(e, "clEnqueueCopyBuffer(x to d)", err);
    }
    start = timing_now_us();
    switch (m) {
    case BENCH_CLMSE:
        rc = enqueue_clmse(e, s, op);
        break;
    case BENCH_HOST:
        run_host(e, s, op);
        *us = timing_now_us() - start;
        return STEP_OK;
#if CLMSE_BENCH_HAVE_CLBLAST
    case BENCH_CLBLAST:
        rc = enqueue_clblast(e, s, op);
        break;
#endif
    case BENCH_COPY:
        rc = enqueue_copy(e, s, op);
        break;
    case BENCH_NAIVE:
        rc = enqueue_naive(e, s, op);
        break;
    case BENCH_CLMSE_PIPELINED:
        for (size_t i = 0; i < calls && rc == STEP_OK; i++)
            rc = enqueue_clmse(e, s, op);
        break;
    case BENCH_EMPTY_PIPELINED:
        for (size_t i = 0; i < calls && rc == STEP_OK; i++)
            rc = enqueue_empty(e);
        break;
    case BENCH_MINIMAL_PIPELINED:
        for (size_t i = 0; i < calls && rc == STEP_OK; i++)
            rc = enqueue_minimal(e, s, op);
        break;
    default:
        rc = enqueue_empty(e);
        break;
    }
    if (rc != STEP_OK)
        return rc;
    err = clFinish(e->queue);
    if (err != CL_SUCCESS)
        return fail_cl(e, "clFinish", err);
    *us = (timing_now_us() - start) / (double)calls;
    return STEP_OK;
}

/* One block of one method's runs: a warm-up, then timed runs appended to e->times_us[m]. The
 * methods of an op take turns, block by block, so that a neighbour's burst on a shared machine
 * falls on all of them alike. Below BENCH_SMALL_N clmse's runs alternate one by one with the
 * empty kernel's on the same queue (appended to e->times_us[BENCH_EMPTY]), the pair behind the
 * clmse/empty ratio; above it the empty kernel has blocks of its own, because POCL's idle
 * worker threads fall asleep during a one-item launch and a multi-core launch right after
 * it pays for waking them. */
static step measure_block(bench_env *e, bench_size *s, bench_op op, bench_method m)
{
    int small = s->w.n < BENCH_SMALL_N, pair = m == BENCH_CLMSE && small, pipe = is_pipelined(m);
    size_t warmup = pipe ? 1u : small ? BENCH_WARMUP_SMALL : BENCH_WARMUP_LARGE;
    size_t min_runs =
        (e->repeat * (small && !pipe ? BENCH_SMALL_FACTOR : 1u) + BENCH_BLOCKS - 1) / BENCH_BLOCKS;
    size_t cap = pipe ? min_runs : e->max_runs / BENCH_BLOCKS, runs = 0, *total = &e->runs[m];
    double us = 0.0, warm_us = 0.0, timed_us = 0.0, empty = 0.0;

    /* Warm up for a number of runs and for a while: on a busy machine the threads of one
     * method (POCL's, OpenMP's) need some time to take the cores back from the other's. A
     * pipelined run is long enough by itself: one warm-up run, and R timed runs in all. */
    for (size_t i = 0; i < warmup || (!pipe && warm_us < BENCH_WARMUP_US / BENCH_BLOCKS); i++) {
        step rc = run_once(e, s, op, m, &us);

        if (rc == STEP_OK && pair)
            rc = run_once(e, s, op, BENCH_EMPTY, &empty);
        if (rc != STEP_OK)
            return rc;
        warm_us += us + empty;
    }
    /* Short runs go on for a while: on a shared machine a neighbour can stall one of our
     * threads for a scheduler tick or two (4-8 ms) at a time, for a few hundred milliseconds,
     * and a median of only R runs taken inside such a stretch would report the stall. */
    while (runs < min_runs || (timed_us < BENCH_CELL_US / BENCH_BLOCKS && runs < cap)) {
        step rc = run_once(e, s, op, m, &us);

        if (rc == STEP_OK && pair)
            rc = run_once(e, s, op, BENCH_EMPTY, &empty);
        if (rc != STEP_OK)
            return rc;
        e->times_us[m][(*total)++] = us;
        if (pair)
            e->times_us[BENCH_EMPTY][e->runs[BENCH_EMPTY]++] = empty;
        timed_us += us + empty;
        runs++;
    }
    return STEP_OK;
}

/* Whether this run times method m at n: built, the pipelined ones only with --pipelined, and
 * the minimal kernels only up to NAIVE_MINIMAL_MAX_N. */
static int method_timed(const bench_env *e, int m, size_t n)
{
    return method_built[m] && (e->pipelined || !is_pipelined(m)) &&
           (m != BENCH_MINIMAL_PIPELINED || n <= NAIVE_MINIMAL_MAX_N);
}

/* Every method of `op` in BENCH_BLOCKS turns; the medians go to r->median_us[op]. */
static step measure_op(bench_env *e, bench_size *s, bench_op op, bench_result *r)
{
    for (int m = 0; m < BENCH_METHODS; m++)
        e->runs[m] = 0;
    for (unsigned b = 0; b < BENCH_BLOCKS; b++)
        for (int m = 0; m < BENCH_METHODS; m++) {
            if ((m == BENCH_EMPTY && s->w.n < BENCH_SMALL_N) || !method_timed(e, m, s->w.n))
                continue; /* paired with clmse's runs, or left out */
            step rc = measure_block(e, s, op, (bench_method)m);

            if (rc != STEP_OK)
                return rc;
        }
    for (int m = 0; m < BENCH_METHODS; m++)
        r->median_us[op][m] =
            method_timed(e, m, s->w.n) ? timing_median(e->times_us[m], e->runs[m]) : 0.0;
    if (!method_built[BENCH_HOST])
        run_host(e, s, op); /* once, untimed: the checks' reference */
    return STEP_OK;
}

/* ---- checks --------------------------------------------------------------------------------- */

/* NaN fails, which `fabs(a - b) > tol * fabs(b)` would let through. */
static int within_relative(double value, double reference, double tolerance)
{
    double d = value - reference, bound = tolerance * (reference < 0 ? -reference : reference);

    return d <= bound && d >= -bound;
}

static step read_value(bench_env *e, cl_mem buffer, size_t index, double *out)
{
    union {
        float f;
        double d;
    } v;
    cl_int err = clEnqueueReadBuffer(e->queue, buffer, CL_TRUE, index * e->elsize, e->elsize, &v, 0,
                                     NULL, NULL);

    *out = NAN; /* no value on failure; NaN fails every comparison */
    if (err != CL_SUCCESS)
        return fail_cl(e, "clEnqueueReadBuffer", err);
    *out = e->dtype == CLMSE_DTYPE_F64 ? v.d : (double)v.f;
    return STEP_OK;
}

static double host_value(const bench_env *e, const void *array, size_t index)
{
    return e->dtype == CLMSE_DTYPE_F64 ? ((const double *)array)[index]
                                       : (double)((const float *)array)[index];
}

/* One untimed call of m (clmse, naive or minimal) for the checks, which read what it wrote:
 * the copy, naive and minimal methods write the same gradients as clmse. */
static step run_for_check(bench_env *e, bench_size *s, bench_op op, bench_method m)
{
    step rc = m == BENCH_NAIVE               ? enqueue_naive(e, s, op)
              : m == BENCH_MINIMAL_PIPELINED ? enqueue_minimal(e, s, op)
                                             : enqueue_clmse(e, s, op);
    cl_int err;

    if (rc != STEP_OK)
        return rc;
    err = clFinish(e->queue);
    return err == CL_SUCCESS ? STEP_OK : fail_cl(e, "clFinish", err);
}

/* The loss of m against the host loop's mean. */
static step check_loss(bench_env *e, bench_size *s, bench_op op, bench_method m)
{
    double mean = s->host_sum / (double)s->w.n, loss, tol = BENCH_TOL_CLMSE;
    step rc;

    const int bench_kernel = m == BENCH_NAIVE || m == BENCH_MINIMAL_PIPELINED;

    if (bench_kernel)
        tol = e->dtype == CLMSE_DTYPE_F64 ? BENCH_TOL_NAIVE_F64 : BENCH_TOL_NAIVE_F32;
    rc = read_value(e, bench_kernel ? e->naive.loss : s->w.loss, 0, &loss);
    if (rc != STEP_OK)
        return rc;
    if (!within_relative(loss, mean, tol)) {
        fprintf(stderr,
                "clmse-bench: warning: n=%zu: %s's %s loss %.9g differs from the host "
                "loop's %.9g by more than %g relative\n",
                s->w.n, method_names[m], op_names[op], loss, mean, tol);
        e->mismatch = 1;
    }
    return STEP_OK;
}

/* A few elements of m's gradients against the host loop's, so that a backward that skipped
 * its writes cannot pass as fast; backward_x's grad_input only. */
static step check_grads(bench_env *e, bench_size *s, bench_op op, bench_method m)
{
    size_t at[3] = {0, s->w.n / 2, s->w.n - 1};
    int grads = op == BENCH_BACKWARD_X ? 1 : 2;

    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
        cl_mem device[2] = {s->w.gx, s->w.gy};
        const void *host[2] = {s->hgx, s->hgy};
        const char *names[2] = {"grad_input", "grad_target"};

        for (int g = 0; g < grads; g++) {
            double got, want = host_value(e, host[g], at[k]);
            step rc = read_value(e, device[g], at[k], &got);

            if (rc != STEP_OK)
                return rc;
            if (!within_relative(got, want, BENCH_TOL_GRAD)) {
                fprintf(stderr,
                        "clmse-bench: warning: n=%zu: %s's %s %s[%zu] = %.9g, the host "
                        "loop's %.9g\n",
                        s->w.n, method_names[m], op_names[op], names[g], at[k], got, want);
                e->mismatch = 1;
            }
        }
    }
    return STEP_OK;
}

/* After the runs of op: clmse's, naive's and (where timed) the minimal kernels' results, each
 * from one more call, against the host loop's; after the forward, also CLBlast's last dot (of
 * a fresh d = x - y) / N. */
static step check_op(bench_env *e, bench_size *s, bench_op op)
{
    static const bench_method checked[] = {BENCH_NAIVE, BENCH_MINIMAL_PIPELINED, BENCH_CLMSE};
    int loss = op == BENCH_FORWARD || op == BENCH_FUSED;
    double mean = s->host_sum / (double)s->w.n, dot;
    step rc;

    for (size_t i = 0; i < sizeof checked / sizeof checked[0]; i++) {
        if (checked[i] == BENCH_MINIMAL_PIPELINED && !method_timed(e, checked[i], s->w.n))
            continue;
        if ((rc = run_for_check(e, s, op, checked[i])) != STEP_OK ||
            (loss && (rc = check_loss(e, s, op, checked[i])) != STEP_OK) ||
            (op != BENCH_FORWARD && (rc = check_grads(e, s, op, checked[i])) != STEP_OK))
            return rc;
    }
    if (op != BENCH_FORWARD || !method_built[BENCH_CLBLAST])
        return STEP_OK;
    if ((rc = read_value(e, s->dot, 0, &dot)) != STEP_OK)
        return rc;
    if (!within_relative(dot / (double)s->w.n, mean, BENCH_TOL_CLBLAST)) {
        fprintf(stderr,
                "clmse-bench: warning: n=%zu: CLBlast's dot / n %.9g differs from the "
                "host loop's mean %.9g by more than %g relative\n",
                s->w.n, dot / (double)s->w.n, mean, BENCH_TOL_CLBLAST);
        e->mismatch = 1;
    }
    return STEP_OK;
}

/* ---- one N ---------------------------------------------------------------------------------- */

static void size_release(bench_size *s)
{
    cl_mem *mems[] = {&s->w.x, &s->w.y, &s->w.gx, &s->w.gy, &s->d, &s->w.loss, &s->dot};

    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (*mems[i])
            clReleaseMemObject(*mems[i]);
    free(s->hx);
    free(s->hy);
    free(s->hgx);
    free(s->hgy);
    memset(s, 0, sizeof *s);
}

static step create_buffer(bench_env *e, size_t bytes, cl_mem *out)
{
    cl_int err = CL_SUCCESS;

    *out = clCreateBuffer(e->clctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err == CL_SUCCESS)
        return STEP_OK;
    *out = NULL;
    if (cl_out_of_memory(err)) {
        snprintf(e->skip, sizeof e->skip, "clCreateBuffer(%zu bytes) returned %d%s", bytes,
                 (int)err, cli_cl_error_name(err));
        return STEP_SKIP;
    }
    return fail_cl(e, "clCreateBuffer", err);
}

static step size_setup(bench_env *e, bench_size *s)
{
    cl_mem *arrays[] = {&s->w.x, &s->w.y, &s->w.gx, &s->w.gy, &s->d};
    clmse_status st = CLMSE_SUCCESS;
    cl_int err;
    step rc;

    if (s->bytes > e->max_alloc) {
        snprintf(e->skip, sizeof e->skip,
                 "%zu bytes per array exceed the device's "
                 "CL_DEVICE_MAX_MEM_ALLOC_SIZE of %llu",
                 s->bytes, (unsigned long long)e->max_alloc);
        return STEP_SKIP;
    }
    if (s->bytes > e->global_mem / BENCH_BUFFERS) {
        snprintf(e->skip, sizeof e->skip,
                 "%u arrays of %zu bytes exceed the device's "
                 "CL_DEVICE_GLOBAL_MEM_SIZE of %llu",
                 BENCH_BUFFERS, s->bytes, (unsigned long long)e->global_mem);
        return STEP_SKIP;
    }
    s->hx = malloc(s->bytes);
    s->hy = malloc(s->bytes);
    s->hgx = malloc(s->bytes);
    s->hgy = malloc(s->bytes);
    if (!s->hx || !s->hy || !s->hgx || !s->hgy) {
        snprintf(e->skip, sizeof e->skip, "out of host memory for 4 arrays of %zu bytes", s->bytes);
        return STEP_SKIP;
    }
    if (e->dtype == CLMSE_DTYPE_F64) {
        workload_fill_f64(s->hx, s->w.n, BENCH_SEED_X);
        workload_fill_f64(s->hy, s->w.n, BENCH_SEED_Y);
    } else {
        workload_fill_f32(s->hx, s->w.n, BENCH_SEED_X);
        workload_fill_f32(s->hy, s->w.n, BENCH_SEED_Y);
    }
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
        if ((rc = create_buffer(e, s->bytes, arrays[i])) != STEP_OK)
            return rc;
    if ((rc = create_buffer(e, e->elsize, &s->w.loss)) != STEP_OK ||
        (rc = create_buffer(e, e->elsize, &s->dot)) != STEP_OK)
        return rc;
    /* Some drivers allocate on first use, so an out-of-memory can surface here. */
    err = clEnqueueWriteBuffer(e->queue, s->w.x, CL_TRUE, 0, s->bytes, s->hx, 0, NULL, NULL);
    if (err == CL_SUCCESS)
        err = clEnqueueWriteBuffer(e->queue, s->w.y, CL_TRUE, 0, s->bytes, s->hy, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return fail_cl(e, "clEnqueueWriteBuffer", err);

    if ((st = workload_views(&s->w)) != CLMSE_SUCCESS)
        return fail_clmse(e, st, "clmse_tensor_init");
    return STEP_OK;
}

static step bench_size_run(bench_env *e, size_t n, bench_result *r)
{
    bench_size s;
    step rc = STEP_OK;
    memset(&s, 0, sizeof s);
    memset(r, 0, sizeof *r);
    r->n = s.w.n = n;
    s.w.dtype = e->dtype;
    s.bytes = n * e->elsize; /* n <= SIZE_MAX / sizeof(double), checked when parsed */
    e->skip[0] = '\0';
    e->sizing = 1;

    rc = size_setup(e, &s);
    for (int op = 0; op < BENCH_OPS && rc == STEP_OK; op++) {
        rc = measure_op(e, &s, (bench_op)op, r);
        if (rc == STEP_OK)
            rc = check_op(e, &s, (bench_op)op);
    }
    r->measured = rc == STEP_OK;
    size_release(&s);
    e->sizing = 0;
    return rc;
}

/* ---- output --------------------------------------------------------------------------------- */

static void print_table_head(void)
{
    printf("\n%9s  %-10s %9s %9s %9s %9s %9s %9s | %6s %6s | %6s %6s %6s %6s\n", "N", "op", "clmse",
           "host", "clblast", "copy", "naive", "empty", "clmse", "copy", "clmse", "clmse", "clmse",
           "clmse");
    printf("%9s  %-10s %9s %9s %9s %9s %9s %9s | %6s %6s | %6s %6s %6s %6s\n", "", "", "(us)",
           "(us)", "(us)", "(us)", "(us)", "(us)", "GB/s", "GB/s", "/host", "/copy", "/naive",
           "/empty");
}

/* v with `decimals` decimals, or "-" when a method it needs is left out of this build. */
static const char *cell(char *buf, size_t size, int have, double v, int decimals)
{
    snprintf(buf, size, have ? "%.*f" : "-", decimals, v);
    return buf;
}

/* Bytes a call of op must move on n elements. */
static double op_bytes(const bench_env *e, size_t n, int op)
{
    return (double)n * (double)e->elsize * op_elements[op];
}

/* The gbps= figure: bytes over the median; 0 for the empty kernels, which move nothing. */
static double method_gbps(const bench_env *e, size_t n, int op, int m, double us)
{
    if (m == BENCH_EMPTY || m == BENCH_EMPTY_PIPELINED || us <= 0)
        return 0.0;
    return op_bytes(e, n, op) / us / 1e3;
}

static void print_rows(const bench_env *e, const bench_result *r)
{
    int host = method_built[BENCH_HOST], clblast = method_built[BENCH_CLBLAST];

    for (int op = 0; op < BENCH_OPS; op++) {
        const double *t = r->median_us[op];
        double bytes = op_bytes(e, r->n, op);
        char c[4][24];

        printf("%9zu  %-10s %9.1f %9s %9s %9.1f %9.1f %9.1f | %6.2f %6.2f | %6s %6.2f %6.2f %6s\n",
               r->n, op_names[op], t[BENCH_CLMSE], cell(c[0], 24, host, t[BENCH_HOST], 1),
               cell(c[1], 24, clblast, t[BENCH_CLBLAST], 1), t[BENCH_COPY], t[BENCH_NAIVE],
               t[BENCH_EMPTY], bytes / t[BENCH_CLMSE] / 1e3, bytes / t[BENCH_COPY] / 1e3,
               cell(c[2], 24, host, t[BENCH_CLMSE] / t[BENCH_HOST], 2),
               t[BENCH_CLMSE] / t[BENCH_COPY], t[BENCH_CLMSE] / t[BENCH_NAIVE],
               cell(c[3], 24, r->n < BENCH_SMALL_N && t[BENCH_EMPTY] > 0,
                    t[BENCH_CLMSE] / t[BENCH_EMPTY], 2));
    }
    fflush(stdout);
}

/* --pipelined: a table of its own after the main one; "-" where the minimal kernels are not
 * timed (N above NAIVE_MINIMAL_MAX_N). */
static void print_pipelined(const bench_env *e, const bench_result *results, size_t count)
{
    printf("\nPipelined: calls enqueued back to back, one clFinish; time per call (us)\n");
    printf("%9s  %-10s %6s %9s %9s %9s %9s | %6s | %8s %8s %8s\n", "N", "op", "calls", "clmse",
           "clmse", "empty", "minimal", "clmse", "clmse_p", "clmse_p", "clmse");
    printf("%9s  %-10s %6s %9s %9s %9s %9s | %6s | %8s %8s %8s\n", "", "", "", "(1 call)",
           "pipelined", "pipelined", "pipelined", "GB/s", "/empty_p", "/min_p", "/clmse_p");
    for (size_t i = 0; i < count; i++)
        for (int op = 0; op < BENCH_OPS && results[i].measured; op++) {
            const double *t = results[i].median_us[op];
            const int minimal = method_timed(e, BENCH_MINIMAL_PIPELINED, results[i].n);
            char c[2][24];

            printf(
                "%9zu  %-10s %6zu %9.1f %9.2f %9.2f %9s | %6.2f | %8.2f %8s %8.2f\n", results[i].n,
                op_names[op], pipe_calls(results[i].n), t[BENCH_CLMSE], t[BENCH_CLMSE_PIPELINED],
                t[BENCH_EMPTY_PIPELINED], cell(c[0], 24, minimal, t[BENCH_MINIMAL_PIPELINED], 2),
                method_gbps(e, results[i].n, op, BENCH_CLMSE, t[BENCH_CLMSE_PIPELINED]),
                t[BENCH_CLMSE_PIPELINED] / t[BENCH_EMPTY_PIPELINED],
                cell(c[1], 24, minimal, t[BENCH_CLMSE_PIPELINED] / t[BENCH_MINIMAL_PIPELINED], 2),
                t[BENCH_CLMSE] / t[BENCH_CLMSE_PIPELINED]);
        }
}

/* The RESULT lines on stdout and, when csv is not NULL, the same fields as CSV rows. */
static void print_results(const bench_env *e, const bench_result *results, size_t count, FILE *csv)
{
    const char *dtype = e->dtype == CLMSE_DTYPE_F64 ? "f64" : "f32";

    putchar('\n');
    if (csv)
        fputs("op,dtype,n,method,median_us,gbps\n", csv);
    for (size_t i = 0; i < count; i++)
        for (int op = 0; op < BENCH_OPS && results[i].measured; op++)
            for (int m = 0; m < BENCH_METHODS; m++) {
                const char *method = method_names[m];
                double us = results[i].median_us[op][m];
                double gbps = method_gbps(e, results[i].n, op, m, us);

                if (!method_timed(e, m, results[i].n))
                    continue;
                printf("RESULT op=%s dtype=%s n=%zu method=%s median_us=%.1f gbps=%.2f\n",
                       op_names[op], dtype, results[i].n, method, us, gbps);
                if (csv)
                    fprintf(csv, "%s,%s,%zu,%s,%.1f,%.2f\n", op_names[op], dtype, results[i].n,
                            method, us, gbps);
            }
}

/* ---- setup ---------------------------------------------------------------------------------- */

static step build_empty_kernel(bench_env *e)
{
    const char *source = empty_source;
    cl_int err = CL_SUCCESS;

    e->empty_program = clCreateProgramWithSource(e->clctx, 1, &source, NULL, &err);
    if (err != CL_SUCCESS) {
        e->empty_program = NULL;
        return fail_cl(e, "clCreateProgramWithSource(empty)", err);
    }
    err = clBuildProgram(e->empty_program, 1, &e->device, "", NULL, NULL);
    if (err != CL_SUCCESS) {
        char log[2048] = "";

        clGetProgramBuildInfo(e->empty_program, e->device, CL_PROGRAM_BUILD_LOG, sizeof log - 1,
                              log, NULL);
        fail_cl(e, "clBuildProgram(empty)", err);
        fprintf(stderr, "%s\n", log);
        return STEP_FAIL;
    }
    e->empty = clCreateKernel(e->empty_program, "empty", &err);
    if (err != CL_SUCCESS) {
        e->empty = NULL;
        return fail_cl(e, "clCreateKernel(empty)", err);
    }
    return STEP_OK;
}

/* The naive kernels for e->dtype (naive.c). */
static step build_naive_kernels(bench_env *e)
{
    const char *what = NULL;
    const cl_int err =
        naive_build(&e->naive, e->clctx, e->device, e->dtype == CLMSE_DTYPE_F64, &what);
    return err == CL_SUCCESS ? STEP_OK : fail_cl(e, what, err);
}

static int add_size(size_t *sizes, size_t *count, const char *value)
{
    size_t n;

    if (cli_parse_count(NULL, "--n", value, SIZE_MAX / sizeof(double), &n) != 0)
        return CLI_EXIT_USAGE;
    if (*count == BENCH_MAX_SIZES)
        return cli_usage_error(NULL, "at most %d sizes may be given with --n", BENCH_MAX_SIZES);
    sizes[(*count)++] = n;
    return CLI_EXIT_OK;
}

static int compare_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;

    return (x > y) - (x < y);
}

static void print_header(const bench_env *e, const clmse_device_info *info)
{
    char date[64] = "unknown";
    time_t now = time(NULL);
    struct tm tm;

    if (localtime_r(&now, &tm))
        strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S %z", &tm);
    printf("clmse-bench, clmse %s\n", clmse_version());
    printf("device: %u:%u %s (%s)\n", info->platform_index, info->device_index, info->name,
           info->platform_name);
    printf("OpenMP threads: %d\n", bench_host_threads());
    printf("clmse float32 sums: %s\n", clmse_context_accumulation(e->ctx) == CLMSE_ACCUMULATE_DOUBLE
                                           ? "double"
                                           : "compensated float pairs");
    printf("date: %s\n", date);
    for (int m = 0; m < BENCH_METHODS; m++)
        if (!method_built[m])
            printf("note: the %s method is left out: %s\n", method_names[m], method_missing[m]);
    printf("dtype %s, reduction mean; each time is the median of %zu or more runs (%zu below\n"
           "N = 2^20; more while they take under %.1f s in all) after a warm-up, from the first\n"
           "enqueue to clFinish, in microseconds; the methods take turns in 4 blocks\n",
           clmse_dtype_name(e->dtype), e->repeat, e->repeat * BENCH_SMALL_FACTOR,
           BENCH_CELL_US / 1e6);
    printf("naive: %u work-groups (compute units x %u) of %zu work-items\n", e->naive.groups,
           NAIVE_GROUPS_PER_CU, e->naive.wg);
    if (e->pipelined)
        printf(
            "pipelined: %u calls per run below N = 2^22, %u from it up; the median of %zu runs\n",
            BENCH_PIPE_CALLS, BENCH_PIPE_CALLS_LARGE, e->repeat);
}

static void print_notes(void)
{
    printf("\nGB/s: bytes a call must move (forward: read x and y; backward and fused: also write "
           "both\ngradients; backward_x: grad_input only) over its median. copy: "
           "clEnqueueCopyBuffer of as\nmany bytes; naive: the bench's plain kernel. CLBlast: "
           "forward = axpy + dot, backward and\nbackward_x = axpy + scal (one gradient), fused = "
           "axpy + dot + scal. The empty kernel's time\nis the launch floor, timed in runs "
           "alternating with clmse's on the same queue below N = 2^20.\n");
}

int main(int argc, char **argv)
{
    clmse_context_options options = {0};
    clmse_device_info info;
    bench_env e;
    bench_result *results = NULL;
    size_t sizes[BENCH_MAX_SIZES], count = 0, unique = 0, measured = 0;
    const char *csv_path = NULL;
    FILE *csv = NULL;
    clmse_status st;
    cl_int err;
    int rc = CLI_EXIT_RUNTIME;

    cli_program = "clmse-bench";
    memset(&e, 0, sizeof e);
    e.dtype = CLMSE_DTYPE_F32;
    e.repeat = BENCH_DEFAULT_REPEAT;
    for (int i = 1; i < argc; i++) {
        const char *value;

        if (cli_is_help(argv[i])) {
            bench_usage(stdout);
            return CLI_EXIT_OK;
        }
        if (cli_option_value(argc, argv, &i, "--device", &value)) {
            if (!value)
                return cli_usage_error(NULL, "option '--device' needs a value");
            options.device = value;
        } else if (cli_option_value(argc, argv, &i, "--n", &value)) {
            if (add_size(sizes, &count, value) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
        } else if (cli_option_value(argc, argv, &i, "--repeat", &value)) {
            if (cli_parse_count(NULL, "--repeat", value, BENCH_MAX_REPEAT, &e.repeat) != 0)
                return CLI_EXIT_USAGE;
        } else if (cli_option_value(argc, argv, &i, "--dtype", &value)) {
            if (value && strcmp(value, "f32") == 0)
                e.dtype = CLMSE_DTYPE_F32;
            else if (value && strcmp(value, "f64") == 0)
                e.dtype = CLMSE_DTYPE_F64;
            else
                return cli_usage_error(NULL, "option '--dtype' needs f32 or f64, not '%s'",
                                       value ? value : "");
        } else if (cli_option_value(argc, argv, &i, "--accumulation", &value)) {
            static const char *const names[] = {"auto", "double", "compensated"};
            size_t a = 0;
            while (a < 3 && !(value && strcmp(value, names[a]) == 0))
                a++;
            if (a == 3)
                return cli_usage_error(NULL,
                                       "option '--accumulation' needs auto, double or "
                                       "compensated, not '%s'",
                                       value ? value : "");
            options.accumulation = (clmse_accumulation)a;
        } else if (strcmp(argv[i], "--pipelined") == 0) {
            e.pipelined = 1;
        } else if (cli_option_value(argc, argv, &i, "--csv", &value)) {
            if (!value || !value[0])
                return cli_usage_error(NULL, "option '--csv' needs a file name");
            csv_path = value;
        } else {
            return cli_unknown_argument(NULL, argv[i]);
        }
    }
    if (count == 0) {
        count = sizeof default_sizes / sizeof default_sizes[0];
        memcpy(sizes, default_sizes, sizeof default_sizes);
    }
    /* Increasing order, each size once: the table and the CSV read from small to large. */
    qsort(sizes, count, sizeof sizes[0], compare_size);
    for (size_t i = 0; i < count; i++)
        if (unique == 0 || sizes[i] != sizes[unique - 1])
            sizes[unique++] = sizes[i];
    count = unique;
    e.elsize = clmse_dtype_size(e.dtype);

    st = clmse_context_create(&options, &e.ctx);
    if (st != CLMSE_SUCCESS) {
        cli_report_status(NULL, st, NULL, "clmse_context_create");
        /* A malformed --device is the command line's fault; one from CLMSE_DEVICE is not. */
        if (st == CLMSE_ERROR_INVALID_DEVICE_SPEC && options.device && options.device[0])
            rc = CLI_EXIT_USAGE;
        goto cleanup;
    }
    if ((st = clmse_context_get_cl(e.ctx, &e.clctx, &e.device, &e.queue)) != CLMSE_SUCCESS ||
        (st = clmse_context_device_info(e.ctx, &info)) != CLMSE_SUCCESS) {
        fail_clmse(&e, st, "clmse_context_device_info");
        goto cleanup;
    }
    if (e.dtype == CLMSE_DTYPE_F64 && !info.has_fp64) {
        fprintf(stderr, "clmse-bench: %s: %s has no fp64, so --dtype f64 cannot run on it\n",
                clmse_status_string(CLMSE_ERROR_UNSUPPORTED_DTYPE), info.name);
        goto cleanup;
    }
    err = clGetDeviceInfo(e.device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof e.max_alloc, &e.max_alloc,
                          NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(e.device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof e.global_mem,
                              &e.global_mem, NULL);
    if (err != CL_SUCCESS) {
        fail_cl(&e, "clGetDeviceInfo", err);
        goto cleanup;
    }
    e.max_runs = e.repeat * BENCH_SMALL_FACTOR;
    if (e.max_runs < BENCH_MAX_RUNS)
        e.max_runs = BENCH_MAX_RUNS;
    int no_memory = 0;
    for (int m = 0; m < BENCH_METHODS; m++)
        no_memory |= (e.times_us[m] = malloc(e.max_runs * sizeof *e.times_us[m])) == NULL;
    results = calloc(count, sizeof *results);
    if (no_memory || !results) {
        fprintf(stderr, "clmse-bench: %s\n", clmse_status_string(CLMSE_ERROR_OUT_OF_HOST_MEMORY));
        goto cleanup;
    }
    if (build_empty_kernel(&e) != STEP_OK || build_naive_kernels(&e) != STEP_OK)
        goto cleanup;
    /* Opened before the run, so that a file that cannot be written is refused at once; a run
     * that fails removes it again. */
    if (csv_path && !(csv = fopen(csv_path, "w"))) {
        rc = cli_usage_error(NULL, "cannot write '%s': %s", csv_path, strerror(errno));
        goto cleanup;
    }

    print_header(&e, &info);
    print_table_head();
    fflush(stdout);
    for (size_t i = 0; i < count; i++) {
        step srs = bench_size_run(&e, sizes[i], &results[i]);

        if (srs == STEP_FAIL)
            goto cleanup;
        if (srs == STEP_SKIP) {
            printf("%10zu  skipped: %s\n", sizes[i], e.skip);
            fflush(stdout);
            continue;
        }
        measured++;
        print_rows(&e, &results[i]);
    }
    print_notes();
    if (e.pipelined && measured > 0)
        print_pipelined(&e, results, count);
    print_results(&e, results, count, csv);
    fflush(stdout);

    rc = CLI_EXIT_OK;
    if (csv) {
        int bad = ferror(csv);

        bad |= fclose(csv) != 0;
        csv = NULL;
        if (bad) {
            fprintf(stderr, "clmse-bench: cannot write '%s': %s\n", csv_path, strerror(errno));
            rc = CLI_EXIT_RUNTIME;
        } else if (measured == 0) {
            fprintf(stderr,
                    "clmse-bench: no size could be measured; '%s' holds only the "
                    "header\n",
                    csv_path);
        } else {
            printf("CSV written to %s\n", csv_path);
        }
    }
    if (e.mismatch) {
        fprintf(stderr, "clmse-bench: some results disagree with the host loop; the timings "
                        "may not measure the intended work (the results and any CSV are kept)\n");
        rc = CLI_EXIT_RUNTIME;
    }

cleanup:
    if (e.empty)
        clReleaseKernel(e.empty);
    if (e.empty_program)
        clReleaseProgram(e.empty_program);
    naive_release(&e.naive);
#if CLMSE_BENCH_HAVE_CLBLAST
    /* CLBlast keeps the programs it built for this context until asked to let them go. */
    CLBlastClearCache();
#endif
    if (csv) {
        fclose(csv);
        remove(csv_path);
    }
    clmse_context_release(e.ctx);
    for (int m = 0; m < BENCH_METHODS; m++)
        free(e.times_us[m]);
    free(results);
    return rc;
}
