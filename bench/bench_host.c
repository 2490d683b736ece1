/* SPDX-License-Identifier: MIT */
/* clmse-bench's host reference: the same work as clmse's kernels in OpenMP C loops. Built
 * without OpenMP they run on one thread, only as the reference of the result checks. */
#include "bench.h"

#ifdef _OPENMP
#include <omp.h>
#define BENCH_OMP(directive) _Pragma(directive)
#else
#define BENCH_OMP(directive)
#endif

int bench_host_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* `simd` lets the compiler reorder the double sum across vector lanes, as any parallel sum
 * does; without it the loop would be bound by the latency of one serial chain of additions. */

double bench_host_forward_f32(const float *x, const float *y, size_t n)
{
    double sum = 0.0;

    BENCH_OMP("omp parallel for simd schedule(static) reduction(+ : sum)")
    for (size_t i = 0; i < n; i++) {
        float d = x[i] - y[i];

        sum += (double)(d * d);
    }
    return sum;
}

void bench_host_backward_f32(const float *x, const float *y, size_t n, float scale, float *gx,
                             float *gy)
{
    BENCH_OMP("omp parallel for simd schedule(static)")
    for (size_t i = 0; i < n; i++) {
        gx[i] = scale * (x[i] - y[i]);
        gy[i] = scale * (y[i] - x[i]);
    }
}

void bench_host_backward_x_f32(const float *x, const float *y, size_t n, float scale, float *gx)
{
    BENCH_OMP("omp parallel for simd schedule(static)")
    for (size_t i = 0; i < n; i++)
        gx[i] = scale * (x[i] - y[i]);
}

double bench_host_fused_f32(const float *x, const float *y, size_t n, float scale, float *gx,
                            float *gy)
{
    double sum = 0.0;

    BENCH_OMP("omp parallel for simd schedule(static) reduction(+ : sum)")
    for (size_t i = 0; i < n; i++) {
        float d = x[i] - y[i];

        sum += (double)(d * d);
        gx[i] = scale * d;
        gy[i] = scale * (y[i] - x[i]);
    }
    return sum;
}

double bench_host_forward_f64(const double *x, const double *y, size_t n)
{
    double sum = 0.0;

    BENCH_OMP("omp parallel for simd schedule(static) reduction(+ : sum)")
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - y[i];

        sum += d * d;
    }
    return sum;
}

void bench_host_backward_f64(const double *x, const double *y, size_t n, double scale, double *gx,
                             double *gy)
{
    BENCH_OMP("omp parallel for simd schedule(static)")
    for (size_t i = 0; i < n; i++) {
        gx[i] = scale * (x[i] - y[i]);
        gy[i] = scale * (y[i] - x[i]);
    }
}

void bench_host_backward_x_f64(const double *x, const double *y, size_t n, double scale, double *gx)
{
    BENCH_OMP("omp parallel for simd schedule(static)")
    for (size_t i = 0; i < n; i++)
        gx[i] = scale * (x[i] - y[i]);
}

double bench_host_fused_f64(const double *x, const double *y, size_t n, double scale, double *gx,
                            double *gy)
{
    double sum = 0.0;

    BENCH_OMP("omp parallel for simd schedule(static) reduction(+ : sum)")
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - y[i];

        sum += d * d;
        gx[i] = scale * d;
        gy[i] = scale * (y[i] - x[i]);
    }
    return sum;
}
