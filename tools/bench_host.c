/* SPDX-License-Identifier: MIT */
/* `clmse bench`'s host reference: the same work as clmse's kernels in OpenMP C loops. */
#include "bench.h"

#include <omp.h>

int bench_host_threads(void)
{
    return omp_get_max_threads();
}

/* splitmix64 of the i-th state of a stream starting at `seed` (as cmd_demo.c's generator). */
static uint64_t mix_at(uint64_t seed, size_t i)
{
    uint64_t z = seed + ((uint64_t)i + 1) * UINT64_C(0x9E3779B97F4A7C15);

    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

void bench_host_fill_f32(float *v, size_t n, uint64_t seed)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(mix_at(seed, i) >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

void bench_host_fill_f64(double *v, size_t n, uint64_t seed)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        v[i] = (double)(mix_at(seed, i) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

/* `simd` lets the compiler reorder the double sum across vector lanes, as any parallel sum
 * does; without it the loop would be bound by the latency of one serial chain of additions. */

double bench_host_forward_f32(const float *x, const float *y, size_t n)
{
    double sum = 0.0;

#pragma omp parallel for simd schedule(static) reduction(+ : sum)
    for (size_t i = 0; i < n; i++) {
        float d = x[i] - y[i];

        sum += (double)(d * d);
    }
    return sum;
}

void bench_host_backward_f32(const float *x, const float *y, size_t n, float scale, float *gx,
                             float *gy)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        gx[i] = scale * (x[i] - y[i]);
        gy[i] = scale * (y[i] - x[i]);
    }
}

double bench_host_fused_f32(const float *x, const float *y, size_t n, float scale, float *gx,
                            float *gy)
{
    double sum = 0.0;

#pragma omp parallel for simd schedule(static) reduction(+ : sum)
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

#pragma omp parallel for simd schedule(static) reduction(+ : sum)
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - y[i];

        sum += d * d;
    }
    return sum;
}

void bench_host_backward_f64(const double *x, const double *y, size_t n, double scale,
                             double *gx, double *gy)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        gx[i] = scale * (x[i] - y[i]);
        gy[i] = scale * (y[i] - x[i]);
    }
}

double bench_host_fused_f64(const double *x, const double *y, size_t n, double scale,
                            double *gx, double *gy)
{
    double sum = 0.0;

#pragma omp parallel for simd schedule(static) reduction(+ : sum)
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - y[i];

        sum += d * d;
        gx[i] = scale * d;
        gy[i] = scale * (y[i] - x[i]);
    }
    return sum;
}
