/* SPDX-License-Identifier: MIT */
/* Work-group folding and the epilogue that turns stage 1's partials into the loss.
 *
 * Stage 1 leaves one part_t per work-group (GPU shape) or work-item (CPU shape) in partials;
 * nothing in OpenCL 1.2 lets one work-group read what another wrote in the same launch, so
 * the fold is always a launch of its own (clmse_reduce_final), ordered after stage 1 by an
 * event. Device-scope atomics of OpenCL 2.0 could save that launch where a device offers them;
 * small inputs already take no second launch (one work-item or group writes the loss itself),
 * and above them the launch costs microseconds against milliseconds of streaming, so clmse
 * keeps one portable route rather than two.
 *
 * clmse_reduce_final: groups of CLMSE_FINAL_WG_SIZE items. Group g folds partials
 * [in_o + g * seg, in_o + min((g + 1) * seg, count)): item k takes k, k + size, ... in order,
 * then a local-memory tree with a fixed pairing combines the items. With one group it writes
 * the loss, rounded once to CLMSE_OUT_DTYPE (mean: divided by n, the mean's count); with
 * several, or with no loss to write (out == NULL: clmse_mse_partial reads the unrounded sum),
 * partial g goes to partials[out_part_o + g] and the host launches it again over those. The
 * result depends only on the partials, count and the build options, never on timing (no
 * atomics). With count == 0 it writes sum = +0 and mean = 0/0 = NaN, as torch does for empty
 * tensors.
 */

/* Every item of the group must call this; the local size must be a power of two. */
part_t clmse_group_sum(part_t v, __local part_t *scratch)
{
    const uint lid = get_local_id(0);
    scratch[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint step = get_local_size(0) / 2; step > 0; step >>= 1) {
        if (lid < step)
            scratch[lid] = part_merge(scratch[lid], scratch[lid + step]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    return scratch[0];
}

/* Where stage 1's partial goes: partials[index] normally; or, when the launch has a single
 * group or item (direct != NULL), straight into the loss, which saves the epilogue's launch.
 * Folding one partial alone is exact, so both routes give the same bits. */
void clmse_emit_partial(__global part_t *partials, uint index, part_t v, __global out_t *direct,
                        ulong direct_offset, int mean, ulong n)
{
    if (direct)
        store_out(direct, direct_offset, part_result(v, mean, n));
    else if (partials)
        partials[index] = v;
}

/* The GPU shape's end of stage 1: the group folds its items' partials and item 0 emits the
 * sum. Every item calls it, so every item reaches the barriers: POCL mis-handles (hangs on)
 * barriers behind a branch. */
void clmse_group_emit(part_t v, __local part_t *scratch, __global part_t *partials,
                      __global out_t *direct, ulong direct_offset, int mean, ulong n)
{
    v = clmse_group_sum(v, scratch);
    if (get_local_id(0) == 0)
        clmse_emit_partial(partials, get_group_id(0), v, direct, direct_offset, mean, n);
}

__kernel __attribute__((reqd_work_group_size(CLMSE_FINAL_WG_SIZE, 1, 1))) void
clmse_reduce_final(__global part_t *partials, const ulong in_o, const uint count, const uint seg,
                   const ulong out_part_o, const ulong n, const int mean, __global out_t *out,
                   const ulong out_offset)
{
    __local part_t scratch[CLMSE_FINAL_WG_SIZE];
    const uint g = get_group_id(0);
    const uint begin = min(count, g * seg);
    const uint end = min(count, begin + seg);
    part_t acc = part_of(ACC_ZERO);
    for (uint i = begin + get_local_id(0); i < end; i += CLMSE_FINAL_WG_SIZE)
        acc = part_merge(acc, partials[in_o + i]);
    acc = clmse_group_sum(acc, scratch);
    if (get_local_id(0) != 0)
        return;
    if (get_num_groups(0) > 1 || out == NULL)
        partials[out_part_o + g] = acc;
    else
        store_out(out, out_offset, part_result(acc, mean, n));
}
