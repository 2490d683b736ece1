/* SPDX-License-Identifier: MIT */
/* Types, defaults, storage conversions and accumulator arithmetic shared by every clmse kernel.
 *
 * Build options (integers only; the host sets them from the plan and the device):
 *   CLMSE_ACC_KIND       how sums accumulate: 0 float Neumaier (sum, compensation) pairs,
 *                        1 double, 2 double Neumaier pairs (for float64 data).
 *   CLMSE_COMPUTE_DOUBLE 1: differences and gradients are computed in double (float64 data);
 *                        0: in float (float32, float16 and bfloat16 data).
 *   CLMSE_X_DTYPE, CLMSE_Y_DTYPE, CLMSE_OUT_DTYPE
 *                        storage of input, target and loss/grad_output: a CLMSE_DTYPE_* id
 *                        below (include/clmse.h's clmse_dtype values).
 *   CLMSE_CPU_SHAPE      1: one work-item streams a contiguous chunk (CPU devices);
 *                        0: work-groups stride over the data and fold in local memory.
 *   CLMSE_WG_SIZE        stage-1 work-group size (a power of two; 1 in the CPU shape).
 *   CLMSE_VEC            CPU shape: elements per vector load and accumulator lanes (2, 4, 8
 *                        or 16).
 *   CLMSE_FINAL_WG_SIZE  stage-2 work-group size (a power of two).
 *
 * A program is this file, reduce.cl, and then mse.cl (the contiguous kernels, float32/float64
 * only) or mse_strided.cl (the strided ones): src/CMakeLists.txt lists them.
 */

/* The dtype ids: clmse_dtype's values, which src/program.c asserts at compile time. */
#define CLMSE_DTYPE_F32 0
#define CLMSE_DTYPE_F64 1
#define CLMSE_DTYPE_F16 2
#define CLMSE_DTYPE_BF16 3

/* torch rounds d = x - y and d * d separately; a contracted fma would not, and the compensated
 * sums' error terms rely on every operation being rounded. */
#pragma OPENCL FP_CONTRACT OFF

#ifndef CLMSE_ACC_KIND
#define CLMSE_ACC_KIND 0
#endif
#ifndef CLMSE_COMPUTE_DOUBLE
#define CLMSE_COMPUTE_DOUBLE 0
#endif
#ifndef CLMSE_X_DTYPE
#define CLMSE_X_DTYPE CLMSE_DTYPE_F32
#endif
#ifndef CLMSE_Y_DTYPE
#define CLMSE_Y_DTYPE CLMSE_DTYPE_F32
#endif
#ifndef CLMSE_OUT_DTYPE
#define CLMSE_OUT_DTYPE CLMSE_DTYPE_F32
#endif
#ifndef CLMSE_CPU_SHAPE
#define CLMSE_CPU_SHAPE 0
#endif
#ifndef CLMSE_WG_SIZE
#define CLMSE_WG_SIZE 256
#endif
#ifndef CLMSE_VEC
#define CLMSE_VEC 8
#endif
#ifndef CLMSE_FINAL_WG_SIZE
#define CLMSE_FINAL_WG_SIZE 256
#endif

#define CLMSE_HAS_DOUBLE                                                                \
    (CLMSE_ACC_KIND != 0 || CLMSE_COMPUTE_DOUBLE || CLMSE_X_DTYPE == CLMSE_DTYPE_F64 || \
     CLMSE_Y_DTYPE == CLMSE_DTYPE_F64 || CLMSE_OUT_DTYPE == CLMSE_DTYPE_F64)
#if CLMSE_HAS_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double wide_t; /* what stores accept: every computed value converts to it exactly */
#else
typedef float wide_t;
#endif

#if CLMSE_COMPUTE_DOUBLE
typedef double compute_t;
#define COMPUTEV_T VEC(double)
#else
typedef float compute_t;
#define COMPUTEV_T VEC(float)
#endif

/* ---- storage: element types and their loads and stores, by dtype id ----
 * STORAGE(id), LOAD(id) and STORE(id) paste the id's number: STORAGE_2 is CLMSE_DTYPE_F16's. */
#define CLMSE_CAT_(a, b) a##b
#define CLMSE_CAT(a, b) CLMSE_CAT_(a, b)
/* Vector types of CLMSE_VEC lanes for the CPU shape's loops: VEC(float) is floatN (of a
 * built-in type name; COMPUTEV_T is compute_t's). */
#define VEC(t) CLMSE_CAT(t, CLMSE_VEC)
#define VLOAD CLMSE_CAT(vload, CLMSE_VEC)
#define VSTORE CLMSE_CAT(vstore, CLMSE_VEC)
#define STORAGE_0 float  /* CLMSE_DTYPE_F32 */
#define STORAGE_1 double /* CLMSE_DTYPE_F64 */
#define STORAGE_2 half   /* CLMSE_DTYPE_F16 */
#define STORAGE_3 ushort /* CLMSE_DTYPE_BF16: bfloat16 bits */
#define STORAGE(id) CLMSE_CAT(STORAGE_, id)
#define LOAD(id) CLMSE_CAT(load_, id)
#define STORE(id) CLMSE_CAT(store_, id)
/* Each operand's load and store: x, y, and out (the loss and grad_output). Named so that a
 * call reads as one (clang-format cannot see that STORE(id)(...) is a call). */
#define load_x LOAD(CLMSE_X_DTYPE)
#define load_y LOAD(CLMSE_Y_DTYPE)
#define load_out LOAD(CLMSE_OUT_DTYPE)
#define store_x STORE(CLMSE_X_DTYPE)
#define store_y STORE(CLMSE_Y_DTYPE)
#define store_out STORE(CLMSE_OUT_DTYPE)

compute_t load_0(__global const float *p, ulong i) { return (compute_t)p[i]; }
/* vload_half is core OpenCL: half storage needs no cl_khr_fp16. */
compute_t load_2(__global const half *p, ulong i) { return (compute_t)vload_half(i, p); }
compute_t load_3(__global const ushort *p, ulong i)
{
    return (compute_t)as_float((uint)p[i] << 16);
}
void store_0(__global float *p, ulong i, wide_t v) { p[i] = (float)v; }
/* v as a float rounded to odd (truncate, then set the last bit if anything was cut off): a
 * second rounding to a format of at most 22 bits of precision is then exact, so a double rounds
 * once in all. */
float to_float_odd(wide_t v)
{
#if CLMSE_HAS_DOUBLE
    float f = convert_float_rtz(v);
    if ((double)f != v && !isnan(v) && !isinf(f))
        f = as_float(as_uint(f) | 1u);
    return f;
#else
    return v;
#endif
}
/* The float argument also keeps Oclgrind 21.10 quiet: its vstore_half_rte(double) reports
 * initialized values as uninitialized. */
void store_2(__global half *p, ulong i, wide_t v) { vstore_half_rte(to_float_odd(v), i, p); }
/* Round to nearest even on the upper 16 bits; NaN stays a (quiet) NaN. */
void store_3(__global ushort *p, ulong i, wide_t v)
{
    const float f = to_float_odd(v);
    const uint u = as_uint(f);
    p[i] =
        isnan(f) ? (ushort)((u >> 16) | 0x40u) : (ushort)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
#if CLMSE_HAS_DOUBLE
compute_t load_1(__global const double *p, ulong i) { return (compute_t)p[i]; }
void store_1(__global double *p, ulong i, wide_t v) { p[i] = (double)v; }
#endif

typedef STORAGE(CLMSE_X_DTYPE) x_t;
typedef STORAGE(CLMSE_Y_DTYPE) y_t;
typedef STORAGE(CLMSE_OUT_DTYPE) out_t;

/* ---- accumulators ---- */
/* Compensated pairs of type P (.x the running sum, .y the accumulated rounding errors) over
 * scalars S: NAME_add, NAME_merge and NAME_value. The rounding error of a.x + v is computed
 * exactly: Knuth's TwoSum needs no comparison, and for finite values its error term is the
 * same number Neumaier's ordered Fast2Sum gives (the error of a rounded sum is unique), so the
 * choice changes speed, not bits. Once the sum is Inf or NaN its error terms are meaningless
 * (Inf - Inf): the value is the sum alone. */
#define CLMSE_PAIR_FUNCS(NAME, P, S)        \
    P NAME##_add(P a, S v)                  \
    {                                       \
        const S s = a.x + v;                \
        const S bp = s - a.x;               \
        a.y += (a.x - (s - bp)) + (v - bp); \
        a.x = s;                            \
        return a;                           \
    }                                       \
    P NAME##_merge(P a, P b)                \
    {                                       \
        P r = NAME##_add(a, b.x);           \
        r.y += b.y;                         \
        return r;                           \
    }                                       \
    S NAME##_value(P a) { return isfinite(a.x) ? a.x + a.y : a.x; }

#if CLMSE_ACC_KIND == 1

typedef double acc_t;
typedef double res_t;
#define ACC_ZERO 0.0

acc_t acc_add(acc_t a, compute_t t) { return a + (double)t; }
acc_t acc_merge(acc_t a, acc_t b) { return a + b; }
#if CLMSE_CPU_SHAPE
typedef VEC(double) accv_t;
#define ACCV_ZERO ((accv_t)(0.0))
accv_t accv_add(accv_t a, COMPUTEV_T t) { return a + CLMSE_CAT(convert_double, CLMSE_VEC)(t); }
acc_t accv_lane(accv_t a, int k)
{
    double v[CLMSE_VEC];
    VSTORE(a, 0, v);
    return v[k];
}
#endif
res_t acc_sum(acc_t a) { return a; }
/* Double division is correctly rounded in OpenCL, and n < 2^53 converts exactly. */
res_t acc_mean(acc_t a, ulong n) { return a / (double)n; }

#else /* compensated pairs: .x the running sum, .y the accumulated rounding errors */

#if CLMSE_ACC_KIND == 2
typedef double scalar_acc_t;
typedef double2 acc_t;
#define ACC_ZERO ((double2)(0.0, 0.0))
#define LANEV_T VEC(double)
#else
typedef float scalar_acc_t;
typedef float2 acc_t;
#define ACC_ZERO ((float2)(0.0f, 0.0f))
#define LANEV_T VEC(float)
#endif
typedef scalar_acc_t res_t;

CLMSE_PAIR_FUNCS(pair, acc_t, scalar_acc_t)
acc_t acc_add(acc_t a, compute_t t) { return pair_add(a, (scalar_acc_t)t); }
acc_t acc_merge(acc_t a, acc_t b) { return pair_merge(a, b); }
res_t acc_sum(acc_t a) { return pair_value(a); }
#if CLMSE_ACC_KIND == 2
/* (sum + compensation) / n with one rounding in practice: the quotient of the sum, corrected by
 * the exact remainder (fma) plus the compensation. n < 2^53 converts exactly. */
res_t acc_mean(acc_t a, ulong n)
{
    const double nd = (double)n;
    const double q = a.x / nd;
    if (!isfinite(q) || q == 0.0)
        return acc_sum(a) / nd;
    return q + (fma(-q, nd, a.x) + a.y) / nd;
}
#else
/* sum / n, correctly rounded in practice even where float division is not (it may be 2.5 ulp
 * in OpenCL): n = nh + nl exactly, one quotient, then one fma-based remainder correction. */
res_t acc_mean(acc_t a, ulong n)
{
    const float s = acc_sum(a);
    const float nh = (float)n;
    const float nl = (float)((long)n - (long)nh);
    const float q = s / nh;
    if (!isfinite(q) || q == 0.0f)
        return q;
    const float r = fma(-q, nh, s) - q * nl;
    return q + r / nh;
}
#endif

#if CLMSE_CPU_SHAPE
/* CLMSE_VEC lanes of compensated pairs for the contiguous kernels' vector loops. */
typedef LANEV_T lanev_t;
typedef struct {
    lanev_t s, c;
} accv_t;
#define ACCV_ZERO ((accv_t){(lanev_t)(0), (lanev_t)(0)})
accv_t accv_add(accv_t a, lanev_t t)
{
    const lanev_t s = a.s + t;
    const lanev_t bp = s - a.s;
    a.c += (a.s - (s - bp)) + (t - bp); /* TwoSum: see CLMSE_PAIR_FUNCS */
    a.s = s;
    return a;
}
acc_t accv_lane(accv_t a, int k)
{
    scalar_acc_t s[CLMSE_VEC], c[CLMSE_VEC];
    VSTORE(a.s, 0, s);
    VSTORE(a.c, 0, c);
    return (acc_t)(s[k], c[k]);
}
#endif
#endif

/* The head of an accumulator: the running sum, whose overflow the partials below watch. */
#if CLMSE_ACC_KIND == 1
#define ACC_HEAD(a) (a)
#else
#define ACC_HEAD(a) ((a).x)
#endif

/* ---- partials: what a work-item or group hands on, with an overflow rescue ----
 * A sum of finite squares can overflow while the mean it feeds is finite (eight float64 values
 * of 1.5 * 2^511: the sum is 9 * 2^1023, the mean 1.125 * 2^1023). A partial whose sum
 * overflowed is therefore recomputed with every term scaled by 2^-64, and carries a flag;
 * merging a scaled partial with an unscaled one scales the other too. Scaling by a power of
 * two is exact except where a term falls below the smallest normal number, 2^64 below its
 * own; such terms are smaller than the overflowing sum's ulp by a factor beyond 2^100, so the
 * result stays within the stated bound. n < 2^64 scaled terms cannot overflow again, so a
 * scaled sum that is infinite holds an infinite term. A sum that stays finite costs one
 * comparison per work-item. */
#define CLMSE_RESCUE_DOWN ((scalar_part_t)0x1p-64)
#define CLMSE_RESCUE_UP ((scalar_part_t)0x1p64)
/* A vector with the accumulator, the flag (1: it holds the sum times 2^-64) and zeros: no
 * struct padding, whose undefined bytes would be copied (and flagged by Oclgrind). */
#if CLMSE_ACC_KIND == 0
typedef float scalar_part_t;
typedef float4 part_t; /* sum, compensation, flag, 0 */
#define PART_V(p) ((p).xy)
#define PART_SCALED(p) ((p).z != 0.0f)
part_t part_make(acc_t v, int scaled) { return (float4)(v, scaled ? 1.0f : 0.0f, 0.0f); }
#elif CLMSE_ACC_KIND == 1
typedef double scalar_part_t;
typedef double2 part_t; /* sum, flag */
#define PART_V(p) ((p).x)
#define PART_SCALED(p) ((p).y != 0.0)
part_t part_make(acc_t v, int scaled) { return (double2)(v, scaled ? 1.0 : 0.0); }
#else
typedef double scalar_part_t;
typedef double4 part_t; /* sum, compensation, flag, 0 */
#define PART_V(p) ((p).xy)
#define PART_SCALED(p) ((p).z != 0.0)
part_t part_make(acc_t v, int scaled) { return (double4)(v, scaled ? 1.0 : 0.0, 0.0); }
#endif

part_t part_of(acc_t v) { return part_make(v, 0); }
part_t part_scaled(acc_t v) { return part_make(v, 1); }

/* 1 when a sum of finite terms overflowed: a rescue is due. */
int acc_overflowed(acc_t a) { return isinf(ACC_HEAD(a)); }
/* The rescue's term: the square of the difference d, scaled by 2^-64, added to a. */
acc_t acc_add_rescued(acc_t a, compute_t d)
{
    const compute_t t = d * d;
    return acc_add(a, t * (compute_t)CLMSE_RESCUE_DOWN);
}

part_t part_merge(part_t a, part_t b)
{
    acc_t va = PART_V(a), vb = PART_V(b);
    const int sa = PART_SCALED(a), sb = PART_SCALED(b);
    if (sa && !sb)
        vb *= CLMSE_RESCUE_DOWN;
    if (sb && !sa)
        va *= CLMSE_RESCUE_DOWN;
    const acc_t r = acc_merge(va, vb);
    if (!(sa | sb) && acc_overflowed(r) && !acc_overflowed(va) && !acc_overflowed(vb))
        return part_scaled(acc_merge(va * CLMSE_RESCUE_DOWN, vb * CLMSE_RESCUE_DOWN));
    return part_make(r, sa | sb);
}

/* The loss from the last partial, rounded once (times 2^64 is exact, or overflows as the
 * true value does). */
res_t part_result(part_t p, int mean, ulong n)
{
    const res_t r = mean ? acc_mean(PART_V(p), n) : acc_sum(PART_V(p));
    return PART_SCALED(p) ? r * CLMSE_RESCUE_UP : r;
}

/* ---- compensated pairs for the broadcast-gradient sums ----
 * Gradient terms have both signs: a plain double sum of bfloat16 terms 2^-12, -2^-12 and four
 * of 1.277e-23 loses the small ones (2^64 apart). A TwoSum pair keeps them, in double where
 * the device has fp64, else in float. */
#if CLMSE_HAS_DOUBLE
typedef double gsum_scalar_t;
typedef double2 gsum_t;
#else
typedef float gsum_scalar_t;
typedef float2 gsum_t;
#endif
#define GSUM_ZERO ((gsum_t)(0))

CLMSE_PAIR_FUNCS(gsum, gsum_t, gsum_scalar_t)

/* Loop bounds: drivers cut long loops short (llvmpipe ends a work-item's loops after 65,535
 * iterations, nested loops counted together). The host sizes every launch so that no
 * work-item streams more than 16,384 iterations, plus as many again for a rescue and a few
 * dozen for lanes and trees: src/launch.c states the rule. */

#if CLMSE_CPU_SHAPE
/* Folds the lanes in a fixed order, so the result never depends on the compiler. */
acc_t accv_fold(accv_t a)
{
    acc_t r = accv_lane(a, 0);
    for (int k = 1; k < CLMSE_VEC; k++)
        r = acc_merge(r, accv_lane(a, k));
    return r;
}
#endif
