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
} bench_naive;

/* Builds the kernels for float64 (f64) or float32 on `device` and sizes their launches. On a
 * failure, returns the OpenCL error and names the call in *what (a build failure also prints
 * the build log); naive_release() frees what was made either way. */
cl_int naive_build(bench_naive *nv, cl_context ctx, cl_device_id device, int f64,
                   const char **what);

/* Enqueues op on n elements (reduction mean; both gradients for backward and fused, grad_input
 * only for backward_x) with nothing to wait for and no event. Errors as naive_build(). */
cl_int naive_enqueue(const bench_naive *nv, cl_command_queue queue, bench_op op, size_t n, cl_mem x,
                     cl_mem y, cl_mem gx, cl_mem gy, const char **what);

void naive_release(bench_naive *nv);

#endif /* CLMSE_BENCH_NAIVE_H */
