/* SPDX-License-Identifier: MIT */
/* Types, defaults and accumulator arithmetic shared by every clmse kernel.
 *
 * Build options (integers only; the host sets them from the plan and the device):
 *   CLMSE_ACC_DOUBLE     1: float32 terms are summed in double (needs cl_khr_fp64);
 *                        0: in float Neumaier (sum, compensation) pairs.
 *   CLMSE_CPU_SHAPE      1: one work-item streams a contiguous chunk (CPU devices);
 *                        0: work-groups stride over the data and fold in local memory.
 *   CLMSE_WG_SIZE        stage-1 work-group size (a power of two; 1 in the CPU shape).
 *   CLMSE_FINAL_WG_SIZE  stage-2 work-group size (a power of two).
 */

/* torch rounds d = x - y and d * d separately; a contracted fma would not, and the compensated
 * sum's error terms rely on every operation being rounded. */
#pragma OPENCL FP_CONTRACT OFF

#ifndef CLMSE_ACC_DOUBLE
#define CLMSE_ACC_DOUBLE 0
#endif
#ifndef CLMSE_CPU_SHAPE
#define CLMSE_CPU_SHAPE 0
#endif
#ifndef CLMSE_WG_SIZE
#define CLMSE_WG_SIZE 256
#endif
#ifndef CLMSE_FINAL_WG_SIZE
#define CLMSE_FINAL_WG_SIZE 256
#endif

#if CLMSE_ACC_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable

typedef double acc_t;
typedef double8 acc8_t;
#define ACC_ZERO 0.0
#define ACC8_ZERO ((double8)(0.0))

acc_t acc_add(acc_t a, float t) { return a + (double)t; }
acc_t acc_merge(acc_t a, acc_t b) { return a + b; }
acc8_t acc8_add(acc8_t a, float8 t) { return a + convert_double8(t); }
acc_t acc8_lane(acc8_t a, int k)
{
    double v[8];
    vstore8(a, 0, v);
    return v[k];
}
float acc_sum(acc_t a) { return (float)a; }
/* Double division is correctly rounded in OpenCL, and n < 2^53 converts exactly. */
float acc_mean(acc_t a, ulong n) { return (float)(a / (double)n); }

#else /* compensated float */

typedef float2 acc_t; /* .x: running sum, .y: accumulated rounding errors */
typedef struct {
    float8 s, c;
} acc8_t;
#define ACC_ZERO ((float2)(0.0f, 0.0f))
#define ACC8_ZERO ((acc8_t){(float8)(0.0f), (float8)(0.0f)})

acc_t acc_add(acc_t a, float t)
{
    float s = a.x + t;
    float e = fabs(a.x) >= fabs(t) ? (a.x - s) + t : (t - s) + a.x;
    return (float2)(s, a.y + e);
}
acc_t acc_merge(acc_t a, acc_t b)
{
    acc_t r = acc_add(a, b.x);
    r.y += b.y;
    return r;
}
acc8_t acc8_add(acc8_t a, float8 t)
{
    float8 s = a.s + t;
    float8 e = select((t - s) + a.s, (a.s - s) + t, isgreaterequal(fabs(a.s), fabs(t)));
    a.c += e;
    a.s = s;
    return a;
}
acc_t acc8_lane(acc8_t a, int k)
{
    float s[8], c[8];
    vstore8(a.s, 0, s);
    vstore8(a.c, 0, c);
    return (float2)(s[k], c[k]);
}
/* Once the sum is Inf or NaN its error terms are meaningless (Inf - Inf): keep the sum. */
float acc_sum(acc_t a) { return isfinite(a.x) ? a.x + a.y : a.x; }
/* sum / n, correctly rounded in practice even where float division is not (it may be 2.5 ulp
 * in OpenCL): n = nh + nl exactly, one quotient, then one fma-based remainder correction. */
float acc_mean(acc_t a, ulong n)
{
    float s = acc_sum(a);
    float nh = (float)n;
    float nl = (float)((long)n - (long)nh);
    float q = s / nh;
    if (!isfinite(q) || q == 0.0f)
        return q;
    float r = fma(-q, nh, s) - q * nl;
    return q + r / nh;
}
#endif

/* Folds the eight lanes in a fixed order, so the result never depends on the compiler. */
acc_t acc8_fold(acc8_t a)
{
    acc_t r = acc8_lane(a, 0);
    for (int k = 1; k < 8; k++)
        r = acc_merge(r, acc8_lane(a, k));
    return r;
}
