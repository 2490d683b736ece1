/* SPDX-License-Identifier: MIT */
/* The one streaming pass behind forward, backward and fused MSE on contiguous float32 or
 * float64 data (x_t; the loss, grad_output and gradients share that type): mse_pass, run by
 * clmse_mse_pass (any call) and clmse_mse_loss (a forward: no gradients, 4 arguments).
 *
 * For every i < n, with d = x[i] - y[i] rounded to x_t (torch's order of operations):
 *   loss[i]     = d * d                            when loss != NULL   (reduction 'none')
 *   partials[k] = sum of d * d over the group's i  when partials != NULL (reductions mean/sum)
 *   gx[i]       = (scale * d) * g                  when gx != NULL
 *   gy[i]       = (scale * (y[i] - x[i])) * g      when gy != NULL
 * where g = gout[i * gstride] (gstride 0: one scalar) or 1 when gout == NULL, and scale is
 * 2/N (mean over N = a.sa elements: n, or all shards' with clmse_mse_args.mean_count) or 2,
 * rounded to x_t by the host. loss, direct and partials (below) are one argument, `out`, as
 * a.sb says; the counts, element offsets and the scale's bits come packed in one ulong16 `a`,
 * unpacked first thing: POCL's cost per enqueue grows with the number of arguments.
 *
 * Launch geometry (chosen by the host plan and n, never from timing; src/launch.c states the
 * loop-bound rule that sizes it):
 *   CPU shape: item k owns elements [k * chunk, (k + 1) * chunk) and streams them with
 *              CLMSE_VEC-wide loads into as many lane accumulators, folded in a fixed order.
 *              Local size 1 (no barriers) where the compiler vectorises inside a work-item
 *              (POCL); CLMSE_WG_SIZE where it runs work-items across SIMD lanes (llvmpipe),
 *              and then the group folds its items' partials with the GPU shape's tree.
 *   GPU shape: local size CLMSE_WG_SIZE; item j of the grid visits j, j + global size, ...
 *              (coalesced), then the group folds in local memory with a fixed tree.
 * partials[k] is written for group k (for item k in the CPU shape with local size 1), which
 * clmse_reduce_final folds in a launch of its own; a launch of one group or item writes the
 * loss to direct[direct_o] instead (clmse_emit_partial). A sum that overflows is recomputed
 * scaled (see part_t). Results are bitwise reproducible for a given device, build, plan and
 * n; forward, backward and fused compute d, the terms and the partials identically, so under
 * one plan the fused pass equals the separate ones bit for bit.
 */

compute_t grad_factor(__global const x_t *gout, ulong gstride, ulong i)
{
    return gout ? gout[i * gstride] : (compute_t)1;
}

/* The per-element work shared by both shapes; returns the loss term. */
compute_t mse_element(ulong i, __global const x_t *x, __global const x_t *y, __global x_t *loss,
                      __global const x_t *gout, ulong gstride, __global x_t *gx, __global x_t *gy,
                      compute_t scale)
{
    const compute_t xv = x[i], yv = y[i];
    const compute_t d = xv - yv;
    const compute_t t = d * d;
    if (loss)
        loss[i] = t;
    if (gx || gy) {
        const compute_t g = grad_factor(gout, gstride, i);
        if (gx)
            gx[i] = (scale * d) * g;
        if (gy)
            gy[i] = (scale * (yv - xv)) * g;
    }
    return t;
}

/* Both shapes take the same arguments; optional (NULL) pointers keep their NULL. */
#define CLMSE_APPLY_OFFSETS() \
    do {                      \
        x += xo;              \
        y += yo;              \
        if (loss)             \
            loss += lo;       \
        if (gout)             \
            gout += go;       \
        if (gx)               \
            gx += gxo;        \
        if (gy)               \
            gy += gyo;        \
    } while (0)

#if CLMSE_CPU_SHAPE

/* Streaming stores for results no one reads soon: on POCL (x86, groups of 1) they skip the
 * read-for-ownership of each cache line, and a kernel writing both gradients ran 1.6-2.2x
 * faster at 2^24 to 2^26 float32 elements; llvmpipe compiles them as plain stores. They are
 * weakly ordered, so an item that made any ends with sfence, as memcpy does. Only clang on x86
 * offers both builtins; other compilers never see them. */
#if CLMSE_WG_SIZE == 1 && defined(__has_builtin)
#if __has_builtin(__builtin_nontemporal_store) && __has_builtin(__builtin_ia32_sfence)
#define CLMSE_STREAM_STORES 1
#endif
#endif
#ifndef CLMSE_STREAM_STORES
#define CLMSE_STREAM_STORES 0
#endif
/* Streaming stores only where the results would not stay in the cache anyway: from the large
 * size class up (clmse_size_class_of). Below it, results that fit the last-level cache are left
 * there for the operation that reads them next (an optimizer step); at 2^20 float32 the bench
 * could not tell the two kinds of store apart on POCL. */
#define CLMSE_STREAM_MIN_N (1ul << 22)

/* CLMSE_VEC elements at any element-aligned address, read or written as one vector access.
 * Under clang (POCL, Mesa, Oclgrind) that is a vector typedef of the element's alignment: POCL
 * 3.1 builds vloadN and vstoreN out of 2-element pieces and shuffles, and a minimal kernel
 * summing 2^14 float32 elements that way ran 1.7x slower than with these. */
#if defined(__clang__)
typedef x_t xv_any_t __attribute__((ext_vector_type(CLMSE_VEC), aligned(sizeof(x_t))));
#define LOAD_VEC(p) (*(__global const xv_any_t *)(p))
#define STORE_VEC(v, p) (*(__global xv_any_t *)(p) = (v))
#else
#define LOAD_VEC(p) VLOAD(0, p)
#define STORE_VEC(v, p) VSTORE(v, 0, p)
#endif

/* 1 when p is aligned for a whole vector: then so is every p + i the loop stores at, since its
 * items begin at multiples of CLMSE_VEC elements. */
int vec_aligned(__global const x_t *p)
{
    return CLMSE_STREAM_STORES && ((ulong)p % (CLMSE_VEC * sizeof(x_t))) == 0;
}

void store_vec(COMPUTEV_T v, __global x_t *p, int stream)
{
#if CLMSE_STREAM_STORES
    if (stream) {
        __builtin_nontemporal_store(v, (__global COMPUTEV_T *)p);
        return;
    }
#endif
    STORE_VEC(v, p);
}

/* Elements [begin, end) again, their terms scaled by 2^-64 and nothing written: the rescue
 * of a sum that overflowed (see part_t). */
part_t rescue_chunk(__global const x_t *x, __global const x_t *y, ulong begin, ulong end)
{
    accv_t lanes = ACCV_ZERO;
    ulong i = begin;
    for (; i + CLMSE_VEC <= end; i += CLMSE_VEC) {
        const COMPUTEV_T d = LOAD_VEC(x + i) - LOAD_VEC(y + i);
        const COMPUTEV_T t = d * d;
        lanes = accv_add(lanes, t * (compute_t)CLMSE_RESCUE_DOWN);
    }
    acc_t acc = accv_fold(lanes);
    for (; i < end; i++)
        acc = acc_add_rescued(acc, (compute_t)x[i] - (compute_t)y[i]);
    return part_scaled(acc);
}

#endif

/* What `out` holds (a.sb): nothing; the loss of reduction 'none' (x_t, element-wise); the
 * reduced loss of a launch of one group or item (x_t, one element); or stage 1's partials. */
#define CLMSE_OUT_NONE 0
#define CLMSE_OUT_LOSS 1
#define CLMSE_OUT_DIRECT 2
#define CLMSE_OUT_PARTIALS 3

/* The pass, its body by shape (the launch geometry above), behind both kernels below. */
void mse_pass(__global const x_t *x, __global const x_t *y, __global void *out,
              __global const x_t *gout, __global x_t *gx, __global x_t *gy, const ulong16 a,
              __local part_t *scratch)
{
    const ulong n = a.s0, xo = a.s1, yo = a.s2, lo = a.s3, go = a.s4;
    const ulong gstride = a.s5, gxo = a.s6, gyo = a.s7, chunk = a.s8;
    const int mean = (int)a.s9;
    const ulong mean_n = a.sa; /* the mean's count */
    const ulong out_kind = a.sb, direct_o = lo;
#if CLMSE_COMPUTE_DOUBLE
    const compute_t scale = as_double(a.sc);
#else
    const compute_t scale = as_float((uint)a.sc);
#endif
    __global x_t *loss = out_kind == CLMSE_OUT_LOSS ? (__global x_t *)out : NULL;
    __global x_t *direct = out_kind == CLMSE_OUT_DIRECT ? (__global x_t *)out : NULL;
    __global part_t *partials = out_kind == CLMSE_OUT_PARTIALS ? (__global part_t *)out : NULL;
#if CLMSE_CPU_SHAPE
    const ulong item = get_global_id(0);
    const ulong begin = min(n, item * chunk);
    const ulong end = min(n, begin + chunk);
    CLMSE_APPLY_OFFSETS();

    accv_t lanes = ACCV_ZERO;
    ulong i = begin;
    const int big = n >= CLMSE_STREAM_MIN_N;
    const int stream_loss = big && loss && vec_aligned(loss + begin);
    const int stream_gx = big && gx && vec_aligned(gx + begin);
    const int stream_gy = big && gy && vec_aligned(gy + begin);
    const int sums = partials != NULL || direct != NULL;
    if (loss == NULL && gstride == 0 && !(stream_gx | stream_gy)) {
        /* A reduced loss and its gradients below the streaming size, the training loop's
         * calls: one grad_output for all, and loops without the branches that the compiler
         * keeps inside the general loop below, which sum the terms only where a loss is
         * wanted. On POCL a fused or backward kernel at 2^14 float32 took 3.4-3.9 us instead
         * of 5.8-6.4; llvmpipe ran the forward 2x slower with the stores' branches. */
        const COMPUTEV_T g = gout ? (COMPUTEV_T)(gout[0]) : (COMPUTEV_T)(1);
#define CLMSE_GRAD_LOOP(SUM, GX, GY)                                 \
    for (; i + CLMSE_VEC <= end; i += CLMSE_VEC) {                   \
        const COMPUTEV_T xv = LOAD_VEC(x + i), yv = LOAD_VEC(y + i); \
        const COMPUTEV_T d = xv - yv;                                \
        if (GX)                                                      \
            STORE_VEC((scale * d) * g, gx + i);                      \
        if (GY)                                                      \
            STORE_VEC((scale * (yv - xv)) * g, gy + i);              \
        if (SUM)                                                     \
            lanes = accv_add(lanes, d * d);                          \
    }
        if (sums && gx && gy)
            CLMSE_GRAD_LOOP(1, 1, 1)
        else if (sums && gx)
            CLMSE_GRAD_LOOP(1, 1, 0)
        else if (sums && gy)
            CLMSE_GRAD_LOOP(1, 0, 1)
        else if (gx && gy)
            CLMSE_GRAD_LOOP(0, 1, 1)
        else if (gx)
            CLMSE_GRAD_LOOP(0, 1, 0)
        else if (gy)
            CLMSE_GRAD_LOOP(0, 0, 1)
        else /* the forward: a sum, and nothing written */
            CLMSE_GRAD_LOOP(1, 0, 0)
#undef CLMSE_GRAD_LOOP
    }
    for (; i + CLMSE_VEC <= end; i += CLMSE_VEC) {
        const COMPUTEV_T xv = LOAD_VEC(x + i), yv = LOAD_VEC(y + i);
        const COMPUTEV_T d = xv - yv;
        const COMPUTEV_T t = d * d;
        if (loss)
            store_vec(t, loss + i, stream_loss);
        if (gx || gy) {
            const COMPUTEV_T g =
                gout ? (gstride ? LOAD_VEC(gout + i) : (COMPUTEV_T)(gout[0])) : (COMPUTEV_T)(1);
            if (gx)
                store_vec((scale * d) * g, gx + i, stream_gx);
            if (gy)
                store_vec((scale * (yv - xv)) * g, gy + i, stream_gy);
        }
        lanes = accv_add(lanes, t);
    }
#if CLMSE_STREAM_STORES
    if (stream_loss | stream_gx | stream_gy)
        __builtin_ia32_sfence();
#endif
    acc_t tail = ACC_ZERO;
    for (; i < end; i++)
        tail = acc_add(tail, mse_element(i, x, y, loss, gout, gstride, gx, gy, scale));
    const acc_t acc = acc_merge(accv_fold(lanes), tail);
    const part_t part = sums && acc_overflowed(acc) ? rescue_chunk(x, y, begin, end) : part_of(acc);
#if CLMSE_WG_SIZE > 1
    /* every item, reducing or not: POCL mis-handles barriers behind a branch (a return) */
    clmse_group_emit(part, scratch, partials, direct, direct_o, mean, mean_n);
#else
    clmse_emit_partial(partials, (uint)item, part, direct, direct_o, mean, mean_n);
#endif
#else
    (void)chunk;
    CLMSE_APPLY_OFFSETS();

    acc_t acc = ACC_ZERO;
    const ulong stride = get_global_size(0);
    for (ulong i = get_global_id(0); i < n; i += stride)
        acc = acc_add(acc, mse_element(i, x, y, loss, gout, gstride, gx, gy, scale));
    part_t part = part_of(acc);
    if (acc_overflowed(acc)) { /* the rescue (see part_t): the same elements, scaled */
        acc = ACC_ZERO;
        for (ulong i = get_global_id(0); i < n; i += stride)
            acc = acc_add_rescued(acc, (compute_t)x[i] - (compute_t)y[i]);
        part = part_scaled(acc);
    }
    clmse_group_emit(part, scratch, partials, direct, direct_o, mean, mean_n);
#endif
}

/* Two kernels, so that the forward, the call a training loop makes most, takes 4 arguments:
 * POCL's cost per enqueue grows with their number (pipelined, an empty kernel took 3.9 us with
 * none, 4.7 us with 10 and 6.9 us with 20). Each declares the group's tree, as OpenCL C wants
 * __local variables declared in a kernel. */
__kernel __attribute__((reqd_work_group_size(CLMSE_WG_SIZE, 1, 1))) void
clmse_mse_pass(__global const x_t *x, __global const x_t *y, __global void *out,
               __global const x_t *gout, __global x_t *gx, __global x_t *gy, const ulong16 a)
{
    __local part_t scratch[CLMSE_WG_SIZE];
    mse_pass(x, y, out, gout, gx, gy, a, scratch);
}

__kernel __attribute__((reqd_work_group_size(CLMSE_WG_SIZE, 1, 1))) void
clmse_mse_loss(__global const x_t *x, __global const x_t *y, __global void *out, const ulong16 a)
{
    __local part_t scratch[CLMSE_WG_SIZE];
    mse_pass(x, y, out, NULL, NULL, NULL, a, scratch);
}
