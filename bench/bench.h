/* SPDX-License-Identifier: MIT */
/* clmse-bench's types, and its host reference loops (bench_host.c). */
#ifndef CLMSE_BENCH_BENCH_H
#define CLMSE_BENCH_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* What is timed (reduction mean throughout) and by whom; the orders of the table's rows and
 * columns. BENCH_BACKWARD writes both gradients, BENCH_BACKWARD_X grad_input only. */
typedef enum bench_op {
    BENCH_FORWARD,
    BENCH_BACKWARD,
    BENCH_BACKWARD_X,
    BENCH_FUSED,
    BENCH_OPS
} bench_op;
typedef enum bench_method {
    BENCH_CLMSE,
    BENCH_HOST,
    BENCH_CLBLAST,
    BENCH_EMPTY,
    BENCH_COPY,              /* clEnqueueCopyBuffer of the bytes the op moves */
    BENCH_NAIVE,             /* the bench's own plain kernels (naive.c) */
    BENCH_CLMSE_PIPELINED,   /* --pipelined: many calls, one clFinish; time per call */
    BENCH_EMPTY_PIPELINED,   /* the same for the empty kernel */
    BENCH_MINIMAL_PIPELINED, /* the same for the bench's minimal kernels (naive.c), small N */
    BENCH_METHODS
} bench_method;

/* The medians of one N; `measured` is 0 when that N was skipped (too large for the device). */
typedef struct bench_result {
    size_t n;
    int measured;
    double median_us[BENCH_OPS][BENCH_METHODS];
} bench_result;

/* ---- bench_host.c: the host loops, on every OpenMP thread (on one without OpenMP) ---------- */

/* omp_get_max_threads(): the threads a parallel loop below uses; 1 without OpenMP. */
int bench_host_threads(void);

/* Forward: the sum of d*d with d = x - y, each square rounded to the storage type and added in
 * double. Backward: gx = scale * (x - y) and gy = scale * (y - x); backward_x: gx only. Fused: the
 * forward and the backward in one pass. */
double bench_host_forward_f32(const float *x, const float *y, size_t n);
void bench_host_backward_f32(const float *x, const float *y, size_t n, float scale, float *gx,
                             float *gy);
void bench_host_backward_x_f32(const float *x, const float *y, size_t n, float scale, float *gx);
double bench_host_fused_f32(const float *x, const float *y, size_t n, float scale, float *gx,
                            float *gy);
double bench_host_forward_f64(const double *x, const double *y, size_t n);
void bench_host_backward_f64(const double *x, const double *y, size_t n, double scale, double *gx,
                             double *gy);
void bench_host_backward_x_f64(const double *x, const double *y, size_t n, double scale,
                               double *gx);
double bench_host_fused_f64(const double *x, const double *y, size_t n, double scale, double *gx,
                            double *gy);

#endif /* CLMSE_BENCH_BENCH_H */
