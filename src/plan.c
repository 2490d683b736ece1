/* SPDX-License-Identifier: MIT */
/* Launch plans: defaults from device queries, the checks every plan passes, and the per-context
 * table behind clmse_context_get_plan() and clmse_context_set_plan(). */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* A preference: the loop-bound rule (launch.c) may launch more groups where n needs them. */
#define MAX_GROUPS_LIMIT 65536u
#define MIN_PER_ITEM_LIMIT ((size_t)1 << 40)

static size_t pow2_floor(size_t v)
{
    size_t p = 1;
    while (p * 2 <= v)
        p *= 2;
    return p;
}

static int is_pow2(size_t v) { return v != 0 && (v & (v - 1)) == 0; }

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* The largest power-of-two work-group whose local-memory tree (a partial per item) fits. */
static size_t group_limit(const clmse_device_info *info, size_t want)
{
    const size_t max_wg = info->max_work_group_size ? info->max_work_group_size : 1;
    size_t wg = min_size(want, pow2_floor(max_wg));
    while (wg > 1 && wg * CLMSE__PART_BYTES > info->local_mem_size)
        wg /= 2;
    return wg;
}

clmse_plan clmse__plan_strided(const clmse_context *ctx)
{
    const clmse_device_info *info = &ctx->info;
    const size_t cus = info->compute_units ? info->compute_units : 1;
    /* Strided indexing gains nothing from contiguous chunks: groups stride over the elements
     * on every device; POCL vectorises across the items of a group. */
    clmse_plan p = {CLMSE_SHAPE_GPU, group_limit(info, 64), 1, min_size(8 * cus, 1024), 4, 0};
    p.final_work_group_size = p.work_group_size;
    return p;
}

clmse_plan clmse__plan_default(const clmse_context *ctx, clmse_op op, clmse_size_class size_class)
{
    const clmse_device_info *info = &ctx->info;
    const size_t cus = info->compute_units ? info->compute_units : 1;
    if (info->type & CL_DEVICE_TYPE_CPU) {
        /* Long contiguous streams, like a native loop. POCL compiles a kernel anew for every
         * work-group size, so sizes never change with n. */
        clmse_plan p = {CLMSE_SHAPE_CPU, 1, 8, 16 * cus, (size_t)1 << 15, 1};
        if (ctx->native_float_width > 1) {
            /* The compiler vectorises inside a work-item (POCL reports float16 as native): loads
             * as wide as the native width fill the SIMD lanes, and groups of 1 need no barrier.
             * A small loss stays in one work-item, which writes it itself: one launch, no
             * epilogue. Many streams per core let an idle worker take over the share of one
             * that the rest of the machine holds up: `clmse tune` on POCL (2 cores) picked
             * 8,192 elements per item and up to 32 items per core over 32,768 and 16 in
             * repeated runs, though timed directly, alternating, the two were within this
             * machine's noise at 2^20. */
            p.vector_width = ctx->native_float_width >= 16 ? 16 : ctx->native_float_width;
            p.vector_width = p.vector_width < 4 ? 4 : p.vector_width;
            p.max_groups = 32 * cus;
            p.min_per_item = size_class == CLMSE_SIZE_SMALL && op != CLMSE_OP_BACKWARD
                                 ? (size_t)1 << 17
                                 : (size_t)1 << 13;
            return p;
        }
        /* A native float width of 1 on a CPU: the implementation runs work-items across SIMD
         * lanes, as a GPU does (llvmpipe), so a group of 1 would fill one lane of them. Each item
         * still streams a chunk of its own with vector loads: the grid-stride loop of the GPU
         * shape makes every load a gather there, 4-5x slower (measured on llvmpipe, 2^24
         * float32). 4-wide loads and 256 elements or more per item did best in `clmse tune`
         * on llvmpipe; a small loss takes 2,048 per item, so that up to 2^17 elements fill one
         * group, which writes the loss itself: one launch. */
        p.work_group_size = group_limit(info, 64);
        p.vector_width = 4;
        p.max_groups = 8 * cus;
        p.min_per_item =
            size_class == CLMSE_SIZE_SMALL && op != CLMSE_OP_BACKWARD ? (size_t)1 << 11 : 256;
        p.final_work_group_size = p.work_group_size;
        return p;
    }
    clmse_plan p = {CLMSE_SHAPE_GPU, group_limit(info, 256), 1, min_size(8 * cus, 1024), 16, 0};
    p.final_work_group_size = p.work_group_size;
    return p;
}

int clmse__plan_problem(const clmse_device_info *info, const clmse_plan *p, char *why, size_t cap)
{
    const size_t max_wg = group_limit(info, SIZE_MAX);
#define PLAN_REFUSE(...)                 \
    do {                                 \
        snprintf(why, cap, __VA_ARGS__); \
        return 1;                        \
    } while (0)
    if (p->shape != CLMSE_SHAPE_CPU && p->shape != CLMSE_SHAPE_GPU)
        PLAN_REFUSE("shape %d is neither CLMSE_SHAPE_CPU (0) nor CLMSE_SHAPE_GPU (1)",
                    (int)p->shape);
    if (!is_pow2(p->work_group_size) || p->work_group_size > max_wg)
        PLAN_REFUSE("work_group_size %zu is not a power of two from 1 to %zu (device '%s')",
                    p->work_group_size, max_wg, info->name);
    if (p->shape == CLMSE_SHAPE_CPU &&
        (!is_pow2(p->vector_width) || p->vector_width < 2 || p->vector_width > 16))
        PLAN_REFUSE("vector_width %zu: the CPU shape loads 2, 4, 8 or 16 elements",
                    p->vector_width);
    if (p->shape == CLMSE_SHAPE_GPU && p->vector_width != 1)
        PLAN_REFUSE("vector_width %zu: the GPU shape loads one element per item", p->vector_width);
    if (p->max_groups < 1 || p->max_groups > MAX_GROUPS_LIMIT)
        PLAN_REFUSE("max_groups %zu is not from 1 to %u", p->max_groups, MAX_GROUPS_LIMIT);
    if (p->min_per_item < 1 || p->min_per_item > MIN_PER_ITEM_LIMIT)
        PLAN_REFUSE("min_per_item %zu is not from 1 to 2^40", p->min_per_item);
    if (!is_pow2(p->final_work_group_size) || p->final_work_group_size > max_wg)
        PLAN_REFUSE("final_work_group_size %zu is not a power of two from 1 to %zu (device "
                    "'%s')",
                    p->final_work_group_size, max_wg, info->name);
#undef PLAN_REFUSE
    return 0;
}

void clmse__plans_init(clmse_context *ctx)
{
    for (int d = 0; d < CLMSE__PLAN_DTYPES; d++)
        for (int o = 0; o < CLMSE__PLAN_OPS; o++)
            for (int c = 0; c < CLMSE__PLAN_CLASSES; c++) {
                ctx->plans[d][o][c] = clmse__plan_default(ctx, (clmse_op)o, (clmse_size_class)c);
                ctx->plan_sources[d][o][c] = CLMSE_PLAN_DEFAULT;
            }
}

clmse_size_class clmse_size_class_of(size_t n)
{
    return n < ((size_t)1 << 17)   ? CLMSE_SIZE_SMALL
           : n < ((size_t)1 << 22) ? CLMSE_SIZE_MEDIUM
                                   : CLMSE_SIZE_LARGE;
}

const char *const clmse__op_names[CLMSE__PLAN_OPS] = {"forward", "backward", "fused"};
const char *const clmse__class_names[CLMSE__PLAN_CLASSES] = {"small", "medium", "large"};
const char *const clmse__shape_names[2] = {"cpu", "gpu"};
static const char *const source_names[3] = {"default", "tuned", "set"};

const char *clmse_op_name(clmse_op op)
{
    return (unsigned)op < CLMSE__PLAN_OPS ? clmse__op_names[op] : NULL;
}

const char *clmse_size_class_name(clmse_size_class c)
{
    return (unsigned)c < CLMSE__PLAN_CLASSES ? clmse__class_names[c] : NULL;
}

const char *clmse_plan_shape_name(clmse_plan_shape s)
{
    return (unsigned)s < 2 ? clmse__shape_names[s] : NULL;
}

const char *clmse_plan_source_name(clmse_plan_source s)
{
    return (unsigned)s < 3 ? source_names[s] : NULL;
}

/* Checks the table coordinates of a get or set. */
static clmse_status check_slot(clmse_context *ctx, const char *fn, clmse_dtype dtype, clmse_op op,
                               clmse_size_class size_class)
{
    if (dtype != CLMSE_DTYPE_F32 && dtype != CLMSE_DTYPE_F64)
        return clmse__fail(ctx, CLMSE_ERROR_INVALID_DTYPE, CL_SUCCESS,
                           "%s: plans exist for float32 and float64, not dtype %d", fn, (int)dtype);
    if (dtype == CLMSE_DTYPE_F64 && !ctx->info.has_fp64)
        return clmse__fail(ctx, CLMSE_ERROR_UNSUPPORTED_DTYPE, CL_SUCCESS,
                           "%s: device '%s' has no fp64", fn, ctx->info.name);
    CLMSE_CHECK_ARG(ctx, (unsigned)op < CLMSE__PLAN_OPS, "%s: op %d is not a clmse_op", fn,
                    (int)op);
    CLMSE_CHECK_ARG(ctx, (unsigned)size_class < CLMSE__PLAN_CLASSES,
                    "%s: size class %d is not a clmse_size_class", fn, (int)size_class);
    return CLMSE_SUCCESS;
}

clmse_status clmse_context_get_plan(clmse_context *ctx, clmse_dtype dtype, clmse_op op,
                                    clmse_size_class size_class, clmse_plan *plan,
                                    clmse_plan_source *source)
{
    CLMSE_FORWARD(clmse__check_context(ctx));
    CLMSE_CHECK_ARG(ctx, plan != NULL, "clmse_context_get_plan: plan is NULL");
    CLMSE_FORWARD(check_slot(ctx, "clmse_context_get_plan", dtype, op, size_class));
    pthread_mutex_lock(&ctx->lock);
    *plan = ctx->plans[dtype][op][size_class];
    if (source)
        *source = ctx->plan_sources[dtype][op][size_class];
    pthread_mutex_unlock(&ctx->lock);
    return CLMSE_SUCCESS;
}

clmse_status clmse_context_set_plan(clmse_context *ctx, clmse_dtype dtype, clmse_op op,
                                    clmse_size_class size_class, const clmse_plan *plan)
{
    CLMSE_FORWARD(clmse__check_context(ctx));
    CLMSE_CHECK_ARG(ctx, plan != NULL, "clmse_context_set_plan: plan is NULL");
    CLMSE_FORWARD(check_slot(ctx, "clmse_context_set_plan", dtype, op, size_class));
    char why[512];
    if (clmse__plan_problem(&ctx->info, plan, why, sizeof why))
        return clmse__fail(ctx, CLMSE_ERROR_INVALID_PLAN, CL_SUCCESS, "clmse_context_set_plan: %s",
                           why);
    pthread_mutex_lock(&ctx->lock);
    ctx->plans[dtype][op][size_class] = *plan;
    ctx->plan_sources[dtype][op][size_class] = CLMSE_PLAN_SET;
    pthread_mutex_unlock(&ctx->lock);
    return CLMSE_SUCCESS;
}
