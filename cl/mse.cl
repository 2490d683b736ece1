/* SPDX-License-Identifier: MIT */
/* clmse_mse_pass: the one streaming pass behind forward, backward and fused MSE on contiguous
 * float32 or float64 data (x_t; the loss, grad_output and gradients share that type).
 *
 * For every i < n, with d = x[i] - y[i] rounded to x_t (torch's order of operations):
 *   loss[i]     = d * d                            when loss != NULL   (reduction 'none')
 *   partials[k] = sum of d * d over the group's i  when partials != NULL (reductions mean/sum)
 *   gx[i]       = (scale * d) * g                  when gx != NULL
 *   gy[i]       = (scale * (y[i] - x[i])) * g      when gy != NULL
 * where g = gout[i * gstride] (gstride 0: one scalar) or 1 when gout == NULL, and scale is
 * 2/n (mean) or 2, rounded to x_t by the host. Pointer arguments come with element offsets.
 *
 * Launch geometry (chosen by the host plan and n, never from timing; src/launch.c states the
 * loop-bound rule that sizes it):
 *   CPU shape: local size 1; item k owns elements [k * chunk, (k + 1) * chunk) and streams them
 *              with CLMSE_VEC-wide loads into as many lane accumulators, folded in a fixed
 *              order; no barriers.
 *   GPU shape: local size CLMSE_WG_SIZE; item j of the grid visits j, j + global size, ...
 *              (coalesced), then the group folds in local memory with a fixed tree.
 * partials[k] is written for group (GPU) or item (CPU) k, which clmse_reduce_final folds in a
 * launch of its own; a launch of one group or item writes the loss to direct[direct_o] instead
 * (clmse_emit_partial). A sum that overflows is recomputed scaled (see part_t). Results are
 * bitwise reproducible for a given device, build, plan and n; forward, backward and fused
 * compute d, the terms and the partials identically, so under one plan the fused pass equals
 * the separate ones bit for bit.
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

/* Elements [begin, end) again, their terms scaled by 2^-64 and nothing written: the rescue
 * of a sum that overflowed (see part_t). */
part_t rescue_chunk(__global const x_t *x, __global const x_t *y, ulong begin, ulong end)
{
    accv_t lanes = ACCV_ZERO;
    ulong i = begin;
    for (; i + CLMSE_VEC <= end; i += CLMSE_VEC) {
        const COMPUTEV_T d = VLOAD(0, x + i) - VLOAD(0, y + i);
        const COMPUTEV_T t = d * d;
        lanes = accv_add(lanes, t * (compute_t)CLMSE_RESCUE_DOWN);
    }
    acc_t acc = accv_fold(lanes);
    for (; i < end; i++)
        acc = acc_add_rescued(acc, (compute_t)x[i] - (compute_t)y[i]);
    return part_scaled(acc);
}

#define CLMSE_PASS_WG 1 /* a work-item per group: each streams a chunk of its own */
#else
#define CLMSE_PASS_WG CLMSE_WG_SIZE
#endif

/* One kernel, its body by shape (the launch geometry above). */
__kernel __attribute__((reqd_work_group_size(CLMSE_PASS_WG, 1, 1))) void
clmse_mse_pass(const ulong n, __global const x_t *x, const ulong xo, __global const x_t *y,
               const ulong yo, __global x_t *loss, const ulong lo, __global part_t *partials,
               __global x_t *direct, const ulong direct_o, const int mean, __global const x_t *gout,
               const ulong go, const ulong gstride, __global x_t *gx, const ulong gxo,
               __global x_t *gy, const ulong gyo, const compute_t scale, const ulong chunk)
{
#if CLMSE_CPU_SHAPE
    const ulong item = get_global_id(0);
    const ulong begin = min(n, item * chunk);
    const ulong end = min(n, begin + chunk);
    CLMSE_APPLY_OFFSETS();

    accv_t lanes = ACCV_ZERO;
    ulong i = begin;
    for (; i + CLMSE_VEC <= end; i += CLMSE_VEC) {
        const COMPUTEV_T xv = VLOAD(0, x + i), yv = VLOAD(0, y + i);
        const COMPUTEV_T d = xv - yv;
        const COMPUTEV_T t = d * d;
        if (loss)
            VSTORE(t, 0, loss + i);
        if (gx || gy) {
            const COMPUTEV_T g =
                gout ? (gstride ? VLOAD(0, gout + i) : (COMPUTEV_T)(gout[0])) : (COMPUTEV_T)(1);
            if (gx)
                VSTORE((scale * d) * g, 0, gx + i);
            if (gy)
                VSTORE((scale * (yv - xv)) * g, 0, gy + i);
        }
        lanes = accv_add(lanes, t);
    }
    acc_t tail = ACC_ZERO;
    for (; i < end; i++)
        tail = acc_add(tail, mse_element(i, x, y, loss, gout, gstride, gx, gy, scale));
    if (partials == NULL && direct == NULL)
        return;
    const acc_t acc = acc_merge(accv_fold(lanes), tail);
    const part_t part = acc_overflowed(acc) ? rescue_chunk(x, y, begin, end) : part_of(acc);
    clmse_emit_partial(partials, (uint)item, part, direct, direct_o, mean, n);
#else
    __local part_t scratch[CLMSE_WG_SIZE];
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
    clmse_group_emit(part, scratch, partials, direct, direct_o, mean, n);
#endif
}
