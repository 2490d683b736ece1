/* SPDX-License-Identifier: MIT */
/* The strided MSE path: any rank up to 8, element strides (0 = broadcast), float64, float16 and
 * bfloat16 storage, and gradients of broadcast operands summed over their broadcast dimensions.
 *
 * Index space: the broadcast shape `shape` (ndim dims, last fastest, already collapsed by the
 * host). Every tensor comes as a pointer, an element offset and its strides in that space.
 *
 * clmse_mse_strided_pass: local size CLMSE_WG_SIZE, any number of groups; item j of the grid visits
 *   j, j + global size, ... For each element: d = x - y in compute_t; loss = d * d stored to
 *   out_t when loss != NULL ('none'); gx = (scale * d) * g and gy = (scale * (y - x)) * g
 *   stored to the operand's type when given (operands that are not broadcast); the terms are
 *   folded into partials[group] when partials != NULL (mean/sum), which clmse_reduce_final
 *   folds in a launch of its own, or with a single group straight into direct[direct_o], as
 *   in mse.cl (mean: divided by mean_n, n or all shards' count). A sum that overflows is
 *   recomputed scaled (see part_t).
 * clmse_mse_strided_grad_x / _y: the gradient of a broadcast operand, summed over its broadcast
 *   dimensions (rshape; kshape holds the kept ones) in a fixed order. The r terms of operand
 *   element j are cut into nseg segments of seg terms, so that no work-item loops past the
 *   loop bound (src/launch.c): item j * nseg + s sums segment s of element j, each term
 *   rounded to compute_t as torch's would be, in a compensated pair. With one segment it
 *   rounds the sum once to the operand's type; otherwise it leaves the pair in parts, and
 *   clmse_mse_strided_grad_x_fold / _y_fold fold `fold` consecutive pairs per item, in order,
 *   launch after launch, until one pair per element remains and is stored.
 * The walks are fixed by the shapes alone: results are bitwise reproducible.
 */

#define STRIDED_TENSOR(T, name) __global T *name, const ulong name##_o, const long8 name##_s

/* Element offset of multi-index `i` (decomposed over shape) for a stride vector. */
void strided_offsets(ulong i, uint ndim, const ulong *shape, const long8 s0, const long8 s1,
                     const long8 s2, long *o0, long *o1, long *o2)
{
    long a0[8], a1[8], a2[8];
    vstore8(s0, 0, a0);
    vstore8(s1, 0, a1);
    vstore8(s2, 0, a2);
    for (int k = (int)ndim - 1; k >= 0; k--) {
        const ulong idx = i % shape[k];
        i /= shape[k];
        *o0 += (long)idx * a0[k];
        *o1 += (long)idx * a1[k];
        *o2 += (long)idx * a2[k];
    }
}

__kernel __attribute__((reqd_work_group_size(CLMSE_WG_SIZE, 1, 1))) void
clmse_mse_strided_pass(const uint ndim, const ulong n, const ulong8 shape8,
                       STRIDED_TENSOR(const x_t, x), STRIDED_TENSOR(const y_t, y),
                       STRIDED_TENSOR(out_t, loss), __global part_t *partials,
                       __global out_t *direct, const ulong direct_o, const int mean,
                       const ulong mean_n, STRIDED_TENSOR(const out_t, g), STRIDED_TENSOR(x_t, gx),
                       STRIDED_TENSOR(y_t, gy), const compute_t scale)
{
    __local part_t scratch[CLMSE_WG_SIZE];
    ulong shape[8];
    vstore8(shape8, 0, shape);
    acc_t acc = ACC_ZERO;
    const ulong stride = get_global_size(0);
    for (ulong i = get_global_id(0); i < n; i += stride) {
        long ox = 0, oy = 0, ol = 0, og = 0, ogx = 0, ogy = 0;
        strided_offsets(i, ndim, shape, x_s, y_s, loss_s, &ox, &oy, &ol);
        strided_offsets(i, ndim, shape, g_s, gx_s, gy_s, &og, &ogx, &ogy);
        const compute_t xv = load_x(x, x_o + ox);
        const compute_t yv = load_y(y, y_o + oy);
        const compute_t d = xv - yv;
        const compute_t t = d * d;
        if (loss)
            store_out(loss, loss_o + ol, t);
        if (gx || gy) {
            const compute_t gv = g ? load_out(g, g_o + og) : (compute_t)1;
            if (gx)
                store_x(gx, gx_o + ogx, (scale * d) * gv);
            if (gy)
                store_y(gy, gy_o + ogy, (scale * (yv - xv)) * gv);
        }
        acc = acc_add(acc, t);
    }
    part_t part = part_of(acc);
    if (acc_overflowed(acc)) { /* the rescue (see part_t): the same elements, scaled */
        acc = ACC_ZERO;
        for (ulong i = get_global_id(0); i < n; i += stride) {
            long ox = 0, oy = 0, unused = 0;
            strided_offsets(i, ndim, shape, x_s, y_s, y_s, &ox, &oy, &unused);
            acc = acc_add_rescued(acc, load_x(x, x_o + ox) - load_y(y, y_o + oy));
        }
        part = part_scaled(acc);
    }
    clmse_group_emit(part, scratch, partials, direct, direct_o, mean, mean_n);
}

/* Element j's place in the gradient operand, by the kept dimensions. */
long strided_grad_offset(ulong j, uint ndim, const ulong8 kshape8, const long8 grad_s)
{
    ulong kshape[8];
    vstore8(kshape8, 0, kshape);
    long o = 0, unused = 0;
    strided_offsets(j, ndim, kshape, grad_s, grad_s, grad_s, &o, &unused, &unused);
    return o;
}

/* Segment id % nseg of operand element id / nseg: its terms (scale * d) * g in order, with
 * d = x - y (sign > 0: the input's gradient) or y - x (sign < 0: the target's). */
gsum_t strided_grad_segment(ulong id, uint ndim, const ulong8 kshape8, const ulong8 rshape8,
                            ulong r, ulong seg, ulong nseg, STRIDED_TENSOR(const x_t, x),
                            STRIDED_TENSOR(const y_t, y), STRIDED_TENSOR(const out_t, g),
                            compute_t scale, int sign)
{
    const ulong j = id / nseg, first = (id % nseg) * seg, last = min(r, first + seg);
    ulong kshape[8], rshape[8];
    vstore8(kshape8, 0, kshape);
    vstore8(rshape8, 0, rshape);
    long bx = 0, by = 0, bg = 0;
    strided_offsets(j, ndim, kshape, x_s, y_s, g_s, &bx, &by, &bg);
    gsum_t acc = GSUM_ZERO;
    for (ulong k = first; k < last; k++) {
        long ox = bx, oy = by, og = bg;
        strided_offsets(k, ndim, rshape, x_s, y_s, g_s, &ox, &oy, &og);
        const compute_t xv = load_x(x, x_o + ox);
        const compute_t yv = load_y(y, y_o + oy);
        const compute_t gv = g ? load_out(g, g_o + og) : (compute_t)1;
        const compute_t d = sign > 0 ? xv - yv : yv - xv;
        const compute_t v = (scale * d) * gv;
        acc = gsum_add(acc, (gsum_scalar_t)v);
    }
    return acc;
}

/* Item id of a fold level with nout items per element: pairs `fold` segment pairs in order. */
gsum_t strided_grad_fold(ulong id, ulong nseg, ulong fold, ulong nout, __global const gsum_t *parts,
                         ulong in_o)
{
    const ulong j = id / nout, first = (id % nout) * fold, last = min(nseg, first + fold);
    gsum_t acc = GSUM_ZERO;
    for (ulong s = first; s < last; s++)
        acc = gsum_merge(acc, parts[in_o + j * nseg + s]);
    return acc;
}

/* The two operands' gradient kernels differ only in the gradient's storage type. */
__kernel __attribute__((reqd_work_group_size(CLMSE_WG_SIZE, 1, 1))) void clmse_mse_strided_grad_x(
    const uint ndim, const ulong m, const ulong8 kshape8, const ulong8 rshape8, const ulong r,
    const ulong seg, const ulong nseg, STRIDED_TENSOR(const x_t, x), STRIDED_TENSOR(const y_t, y),
    STRIDED_TENSOR(const out_t, g), STRIDED_TENSOR(x_t, grad), const compute_t scale,
    const int sign, __global gsum_t *parts, const ulong parts_o)
{
    const ulong id = get_global_id(0);
    if (id >= m * nseg)
        return;
    const gsum_t acc = strided_grad_segment(id, ndim, kshape8, rshape8, r, seg, nseg, x, x_o, x_s,
                                            y, y_o, y_s, g, g_o, g_s, scale, sign);
    if (nseg > 1)
        parts[parts_o + id] = acc;
    else
        store_x(grad, grad_o + strided_grad_offset(id / nseg, ndim, kshape8, grad_s),
                gsum_value(acc));
}

__kernel __attribute__((reqd_work_group_size(CLMSE_WG_SIZE, 1, 1))) void clmse_mse_strided_grad_y(
    const uint ndim, const ulong m, const ulong8 kshape8, const ulong8 rshape8, const ulong r,
    const ulong seg, const ulong nseg, STRIDED_TENSOR(const x_t, x), STRIDED_TENSOR(const y_t, y),
    STRIDED_TENSOR(const out_t, g), STRIDED_TENSOR(y_t, grad), const compute_t scale,
    const int sign, __global gsum_t *parts, const ulong parts_o)
{
    const ulong id = get_global_id(0);
    if (id >= m * nseg)
        return;
    const gsum_t acc = strided_grad_segment(id, ndim, kshape8, rshape8, r, seg, nseg, x, x_o, x_s,
                                            y, y_o, y_s, g, g_o, g_s, scale, sign);
    if (nseg > 1)
        parts[parts_o + id] = acc;
    else
        store_y(grad, grad_o + strided_grad_offset(id / nseg, ndim, kshape8, grad_s),
                gsum_value(acc));
}

__kernel __attribute__((reqd_work_group_size(CLMSE_WG_SIZE, 1, 1))) void
clmse_mse_strided_grad_x_fold(const uint ndim, const ulong m, const ulong8 kshape8,
                              const ulong nseg, const ulong fold, __global gsum_t *parts,
                              const ulong in_o, const ulong out_o, STRIDED_TENSOR(x_t, grad))
{
    const ulong nout = (nseg + fold - 1) / fold, id = get_global_id(0);
    if (id >= m * nout)
        return;
    const gsum_t acc = strided_grad_fold(id, nseg, fold, nout, parts, in_o);
    if (nout > 1)
        parts[out_o + id] = acc;
    else
        store_x(grad, grad_o + strided_grad_offset(id / nout, ndim, kshape8, grad_s),
                gsum_value(acc));
}

__kernel __attribute__((reqd_work_group_size(CLMSE_WG_SIZE, 1, 1))) void
clmse_mse_strided_grad_y_fold(const uint ndim, const ulong m, const ulong8 kshape8,
                              const ulong nseg, const ulong fold, __global gsum_t *parts,
                              const ulong in_o, const ulong out_o, STRIDED_TENSOR(y_t, grad))
{
    const ulong nout = (nseg + fold - 1) / fold, id = get_global_id(0);
    if (id >= m * nout)
        return;
    const gsum_t acc = strided_grad_fold(id, nseg, fold, nout, parts, in_o);
    if (nout > 1)
        parts[out_o + id] = acc;
    else
        store_y(grad, grad_o + strided_grad_offset(id / nout, ndim, kshape8, grad_s),
                gsum_value(acc));
}
