/* SPDX-License-Identifier: MIT */
/* Parts of `clmse bench` outside cmd_bench.c: the OpenMP host reference loops and the plot. */
#ifndef CLMSE_TOOLS_BENCH_H
#define CLMSE_TOOLS_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* What is timed (reduction mean throughout) and by whom; the orders of the table's columns. */
typedef enum bench_op { BENCH_FORWARD, BENCH_BACKWARD, BENCH_FUSED, BENCH_OPS } bench_op;
typedef enum bench_method {
    BENCH_CLMSE,
    BENCH_HOST,
    BENCH_CLBLAST,
    BENCH_EMPTY,
    BENCH_METHODS
} bench_method;

/* The medians of one N; `measured` is 0 when that N was skipped (too large for the device). */
typedef struct bench_result {
    size_t n;
    int measured;
    double median_us[BENCH_OPS][BENCH_METHODS];
} bench_result;

/* ---- bench_host.c: the host loops, on every OpenMP thread ---------------------------------- */

/* omp_get_max_threads(): the threads a parallel loop below uses. */
int bench_host_threads(void);

/* v[i] = a uniform value in [-1, 1) that depends on (seed, i) only: 24 random bits for float,
 * 53 for double, so the data are the same for any thread count. */
void bench_host_fill_f32(float *v, size_t n, uint64_t seed);
void bench_host_fill_f64(double *v, size_t n, uint64_t seed);

/* Forward: the sum of d*d with d = x - y, each square rounded to the storage type and added in
 * double. Backward: gx = scale * (x - y) and gy = scale * (y - x). Fused: both in one pass. */
double bench_host_forward_f32(const float *x, const float *y, size_t n);
void bench_host_backward_f32(const float *x, const float *y, size_t n, float scale, float *gx,
                             float *gy);
double bench_host_fused_f32(const float *x, const float *y, size_t n, float scale, float *gx,
                            float *gy);
double bench_host_forward_f64(const double *x, const double *y, size_t n);
void bench_host_backward_f64(const double *x, const double *y, size_t n, double scale,
                             double *gx, double *gy);
double bench_host_fused_f64(const double *x, const double *y, size_t n, double scale,
                            double *gx, double *gy);

/* ---- bench_plot.c: time against N, log-log, one panel per op --------------------------------- */

/* Writes the chart of `results` (in increasing n; skipped ones are left out) to `path` as a
 * PNG. Returns 0, or -1 with a one-line reason in `err`. */
int bench_plot_png(const char *path, const char *title, const bench_result *results,
                   size_t count, char *err, size_t errlen);

#endif /* CLMSE_TOOLS_BENCH_H */
