/* SPDX-License-Identifier: MIT */
/* Default launch plans from device queries: the kernel shape and the fixed geometry limits. */
#include "internal.h"

static size_t pow2_floor(size_t v)
{
    size_t p = 1;
    while (p * 2 <= v)
        p *= 2;
    return p;
}

clmse__plan clmse__plan_default(const clmse_context *ctx, int general)
{
    const clmse_device_info *info = &ctx->info;
    size_t cus = info->compute_units ? info->compute_units : 1;
    size_t max_wg = pow2_floor(info->max_work_group_size ? info->max_work_group_size : 1);
    clmse__plan p;
    if (general) {
        /* Strided indexing gains nothing from contiguous chunks: groups stride over the
         * elements on every device; POCL vectorises across the items of a group. */
        p.cpu_shape = 0;
        p.wg = max_wg < 64 ? max_wg : 64;
        p.max_groups = 8 * cus < 1024 ? 8 * cus : 1024;
        p.min_per_item = 4;
        p.final_wg = p.wg;
    } else if (info->type & CL_DEVICE_TYPE_CPU) {
        /* A few long contiguous streams per core, like a native loop; POCL compiles a kernel
         * anew for every work-group size, so the sizes here never change with n. */
        p.cpu_shape = 1;
        p.wg = 1;
        p.max_groups = 4 * cus;
        p.min_per_item = (size_t)1 << 15;
        p.final_wg = 1;
    } else {
        p.cpu_shape = 0;
        p.wg = max_wg < 256 ? max_wg : 256;
        p.max_groups = 8 * cus < 1024 ? 8 * cus : 1024;
        p.min_per_item = 16;
        p.final_wg = p.wg;
    }
    /* The local-memory trees need wg accumulators of up to 16 bytes each. */
    while (p.wg > 1 && p.wg * 16 > info->local_mem_size)
        p.wg /= 2;
    while (p.final_wg > 1 && p.final_wg * 16 > info->local_mem_size)
        p.final_wg /= 2;
    return p;
}
