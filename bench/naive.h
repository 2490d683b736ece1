/* SPDX-License-Identifier: MIT */
/* clmse-bench's `naive` method: the plain kernels a careful developer writes (naive.c), kept in
 * the bench and not in the library, as the device-side speed reference on any device. */
#ifndef CLMSE_BENCH_NAIVE_H
#define CLMSE_BENCH_NAIVE_H

#include "clmse.h" /* first: it sets CL_TARGET_OPENCL_VERSION */

#include "bench.h"

#define NAIVE_MAX_WG 256u      /* the work-group size at most (a power of two) */
#define NAIVE_GROUPS_PER_CU 4u /* work-groups of the stream launches per compute unit */

typedef struct bench_naive {
    cl_program program;
    cl_kernel stream[BENCH_OPS]; /* one per op */
    cl_kernel finish;            /* folds a loss's partials and divides by n */
    int f64;                     /* float64 (double2 loads), else float32 (float4) */
    size_t wg;                   /* work-group size of every launch */
    cl_uint groups;              /* work-groups of the stream launches */
    cl_mem partial;              /* `groups` elements */
    cl_mem loss;                 /* one element: the mean, after a forward or fused call */
    cl_program minimal_program;  /* the minimal_pipelined method's kernels (naive.c) */
    cl_kernel minimal[BENCH_OPS];
} bench_naive;

/* The minimal kernels run one work-item over n elements, which a loop-bounded driver (Mesa's
 * llvmpipe ends a work-item's loops after 65,535 iterations) and a GPU watchdog allow only
 * for small n: they are timed up to this n. */
#define NAIVE_MINIMAL_MAX_N ((size_t)1 << 18)

/* Builds the kernels (naive and minimal) for float64 (f64) or float32 on `device` and sizes the
 * naive launches. On a
 * failure, returns the OpenCL error and names the call in *what (a build failure also prints
 * the build log); naive_release() frees what was made either way. */
cl_int naive_build(bench_naive *nv, cl_context ctx, cl_device_id device, int f64,
                   const char **what);

/* Enqueues op on n elements (reduction mean; both gradients for backward and fused, grad_input
 * only for backward_x) with nothing to wait for and no event. Errors as naive_build(). */
cl_int naive_enqueue(const bench_naive *nv, cl_command_queue queue, bench_op op, size_t n, cl_mem x,
                     cl_mem y, cl_mem gx, cl_mem gy, const char **what);

/* Enqueues op on n <= NAIVE_MINIMAL_MAX_N elements with the minimal kernels: one work-item,
 * one launch; the loss goes where naive_enqueue() puts it. Errors as naive_build(). */
cl_int naive_enqueue_minimal(const bench_naive *nv, cl_command_queue queue, bench_op op, size_t n,
                             cl_mem x, cl_mem y, cl_mem gx, cl_mem gy, const char **what);

void naive_release(bench_naive *nv);

#endif /* CLMSE_BENCH_NAIVE_H */
