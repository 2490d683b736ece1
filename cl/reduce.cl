/* SPDX-License-Identifier: MIT */
/* Work-group folding and the epilogue that turns per-group partial sums into the loss.
 *
 * clmse_reduce_final: one work-group of CLMSE_FINAL_WG_SIZE items. Item k folds partials
 * k, k + size, ... in order, then a local-memory tree with a fixed pairing combines the items:
 * the result depends only on the partials and the build options, never on timing (no atomics).
 * Arguments: partials, their count, n (elements behind them), mean (1: divide by n), the output
 * buffer (CLMSE_OUT_DTYPE) and its element offset; the value is rounded to it once. With count == 0 it writes sum = +0 and mean = 0/0 = NaN, as
 * torch does for empty tensors.
 */

/* Every item of the group must call this; the local size must be a power of two. */
acc_t clmse_group_sum(acc_t v, __local acc_t *scratch)
{
    const uint lid = get_local_id(0);
    scratch[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint step = get_local_size(0) / 2; step > 0; step >>= 1) {
        if (lid < step)
            scratch[lid] = acc_merge(scratch[lid], scratch[lid + step]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    return scratch[0];
}

/* Where a stage-1 group's sum goes: partials[index] normally; or, when the launch has a single
 * group (direct != NULL), straight into the loss, which saves the epilogue's launch. Folding one
 * partial with zeros is exact, so both routes give the same bits. */
void clmse_emit_partial(__global acc_t *partials, uint index, acc_t v, __global out_t *direct,
                        ulong direct_offset, int mean, ulong n)
{
    if (direct)
        STORE(CLMSE_OUT_DTYPE)(direct, direct_offset, mean ? acc_mean(v, n) : acc_sum(v));
    else
        partials[index] = v;
}

/* The CPU shape's single-launch epilogue. Each item stores its partial; the item that takes the
 * last ticket folds all of them in index order, exactly as clmse_reduce_final with one item
 * would, writes the loss and resets the ticket for the next launch. The ticket is an integer
 * atomic: which item finishes last varies, the order of the fold never does. */
void clmse_emit_or_fold(__global acc_t *partials, __global volatile uint *ticket, uint index,
                        uint count, acc_t v, __global out_t *out, ulong out_offset, int mean,
                        ulong n)
{
    if (ticket == NULL) { /* a single item: the loss itself */
        clmse_emit_partial(NULL, index, v, out, out_offset, mean, n);
        return;
    }
    partials[index] = v;
    mem_fence(CLK_GLOBAL_MEM_FENCE); /* the partial is visible before the ticket is taken */
    if (atomic_inc(ticket) != count - 1)
        return;
    mem_fence(CLK_GLOBAL_MEM_FENCE);
    __global volatile acc_t *all = (__global volatile acc_t *)partials;
    acc_t acc = ACC_ZERO;
    for (uint i = 0; i < count; i++)
        acc = acc_merge(acc, all[i]);
    *ticket = 0;
    STORE(CLMSE_OUT_DTYPE)(out, out_offset, mean ? acc_mean(acc, n) : acc_sum(acc));
}

__kernel __attribute__((reqd_work_group_size(CLMSE_FINAL_WG_SIZE, 1, 1))) void
clmse_reduce_final(__global const acc_t *partials, const uint count, const ulong n,
                   const int mean, __global out_t *out, const ulong out_offset)
{
    __local acc_t scratch[CLMSE_FINAL_WG_SIZE];
    acc_t acc = ACC_ZERO;
    for (uint i = get_local_id(0); i < count; i += CLMSE_FINAL_WG_SIZE)
        acc = acc_merge(acc, partials[i]);
    acc = clmse_group_sum(acc, scratch);
    if (get_local_id(0) == 0)
        STORE(CLMSE_OUT_DTYPE)(out, out_offset, mean ? acc_mean(acc, n) : acc_sum(acc));
}
