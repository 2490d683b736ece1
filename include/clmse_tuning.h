/* SPDX-License-Identifier: MIT */
/*
 * clmse_tuning.h: launch plans and tuning files. EXPERIMENTAL.
 *
 * Everything declared here is outside the stability promise of <clmse.h>: at least until 1.0
 * it may change or go in any minor release (0.2 -> 0.3), without a deprecation period; that
 * covers the plan struct, the enums and their values, the functions and their statuses. Patch
 * releases (0.2.x) leave it alone. It is the API of `clmse tune` and `clmse info`, kept apart
 * the way zstd keeps its advanced parameters behind ZSTD_STATIC_LINKING_ONLY, so that the
 * stable API does not freeze what the tuner will want to change.
 *
 * Including this header is the opt-in: no macro is needed (zstd needs one because its
 * experimental declarations share zstd.h; these have a header of their own). Code that
 * includes only <clmse.h> never depends on anything here; tuning files still work without it
 * (`clmse tune`, $CLMSE_TUNING_FILE, clmse_context_options.tuning_file).
 *
 * If you use it, pin the exact version you built against, e.g.
 *     find_package(clmse 0.2.0 EXACT CONFIG REQUIRED)    or    pkg-config 'clmse = 0.2.0'
 * and, because every 0.x release keeps the soname libclmse.so.0, check at run time that
 * clmse_version_number() / 100 == CLMSE_VERSION_NUMBER / 100 (same major and minor) before
 * calling these functions. libclmse exports them like the functions of <clmse.h>.
 */
#ifndef CLMSE_TUNING_H
#define CLMSE_TUNING_H

#include "clmse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- launch plans and tuning ----------------------------------------------------------------- */
/*
 * A plan is the launch geometry of the contiguous float32/float64 kernels (the _f32 calls and
 * clmse_mse() on contiguous, same-shape, same-dtype tensors): one per dtype, operation and
 * size class. Defaults come from device queries: the CPU shape on CPU devices (in groups of 1
 * where the compiler vectorises inside a work-item, which a native float vector width above 1
 * shows, as on POCL; in groups of 64 where it runs work-items across SIMD lanes, as llvmpipe
 * does), the GPU shape on others. `clmse tune` measures candidates and writes the winners to
 * the device's tuning file, which clmse_context_create() loads: $CLMSE_TUNING_FILE if set (""
 * or "off": none), else $CLMSE_TUNING_DIR/<device>-<hash>.tune, where the directory defaults
 * to $XDG_CACHE_HOME/clmse, else $HOME/.cache/clmse. A file that cannot be read, is malformed,
 * was written for another device or driver, or holds a plan the device cannot run is ignored
 * as a whole (the context uses the defaults and says why in clmse_context_tuning()).
 *
 * Results are bitwise reproducible for a given plan, device and n. Forward and fused compute
 * the loss identically when their plans are equal, which `clmse tune` keeps them; backward
 * results do not depend on the plan at all. The strided/broadcasting/float16 kernels use a
 * fixed plan per device (not tunable).
 */

typedef enum clmse_op {
    CLMSE_OP_FORWARD = 0,  /**< the loss alone */
    CLMSE_OP_BACKWARD = 1, /**< the gradients alone */
    CLMSE_OP_FUSED = 2     /**< loss and gradients in one pass */
} clmse_op;

/** Element counts that share a plan. */
typedef enum clmse_size_class {
    CLMSE_SIZE_SMALL = 0,  /**< n < 2^17: launch latency dominates */
    CLMSE_SIZE_MEDIUM = 1, /**< 2^17 <= n < 2^22: data in the last-level cache on many CPUs */
    CLMSE_SIZE_LARGE = 2   /**< n >= 2^22: memory bandwidth */
} clmse_size_class;

typedef enum clmse_plan_shape {
    CLMSE_SHAPE_CPU = 0, /**< each work-item streams one contiguous chunk */
    CLMSE_SHAPE_GPU = 1  /**< work-groups stride over the data, fold in local memory */
} clmse_plan_shape;

typedef enum clmse_plan_source {
    CLMSE_PLAN_DEFAULT = 0, /**< from the device's queries */
    CLMSE_PLAN_TUNED = 1,   /**< from the tuning file */
    CLMSE_PLAN_SET = 2      /**< by clmse_context_set_plan() */
} clmse_plan_source;

/** Launch geometry. Changing shape, work_group_size, vector_width or final_work_group_size
 *  builds another program (once per context); the others are free.
 *  The loop-bound rule overrides max_groups and min_per_item: no work-item of any kernel loops
 *  more than 16,384 times (plus as many again to rescue an overflowing sum), because drivers
 *  cut longer loops short (Mesa's llvmpipe silently ends them at 65,535 iterations) or kill
 *  them (GPU watchdogs). Where n needs it, a launch has more groups than max_groups, and a
 *  fold of many partials takes more than one launch of the final group. Every plan that
 *  clmse_context_set_plan() accepts therefore keeps the rule at every n. */
typedef struct clmse_plan {
    clmse_plan_shape shape;
    size_t work_group_size; /**< stage 1: a power of two */
    size_t vector_width;    /**< CPU shape: 2, 4, 8 or 16 elements per load; GPU: 1 */
    size_t max_groups;      /**< stage-1 work-groups wanted at most, 1 to 65536 */
    /** elements per work-item before another item (CPU shape) or group (GPU) is used */
    size_t min_per_item;
    size_t final_work_group_size; /**< the fold of the partials: a power of 2 */
} clmse_plan;

/** The size class of n elements. */
CLMSE_API clmse_size_class clmse_size_class_of(size_t n);

/** Short names: "forward"..., "small"..., "cpu"/"gpu", "default"/"tuned"/"set"; NULL for
 *  values outside the enums. */
CLMSE_API const char *clmse_op_name(clmse_op op);
CLMSE_API const char *clmse_size_class_name(clmse_size_class size_class);
CLMSE_API const char *clmse_plan_shape_name(clmse_plan_shape shape);
CLMSE_API const char *clmse_plan_source_name(clmse_plan_source source);

/**
 * The plan the context uses for (dtype, op, size class) and where it came from.
 * @param[out] source  may be NULL.
 * @return CLMSE_SUCCESS, CLMSE_ERROR_INVALID_HANDLE, CLMSE_ERROR_INVALID_ARGUMENT (NULL plan,
 *         op or size class out of range), CLMSE_ERROR_INVALID_DTYPE (not float32/float64),
 *         CLMSE_ERROR_UNSUPPORTED_DTYPE (float64 on a device without fp64).
 */
CLMSE_API clmse_status clmse_context_get_plan(clmse_context *ctx, clmse_dtype dtype, clmse_op op,
                                              clmse_size_class size_class, clmse_plan *plan,
                                              clmse_plan_source *source);

/**
 * Replaces one plan of the context (the tuner's way of trying candidates). Takes effect for
 * calls enqueued afterwards; nothing is built until a call needs it.
 * @return the statuses of clmse_context_get_plan(), and CLMSE_ERROR_INVALID_PLAN (bad shape,
 *         a size that is not a power of two or exceeds the device's limits, a vector width
 *         the shape does not take, max_groups or min_per_item 0 or too large), with the
 *         field named in clmse_context_last_error(ctx).
 */
CLMSE_API clmse_status clmse_context_set_plan(clmse_context *ctx, clmse_dtype dtype, clmse_op op,
                                              clmse_size_class size_class, const clmse_plan *plan);

/**
 * Where the context looked for its tuning file and what came of it, e.g.
 * "loaded /root/.cache/clmse/...tune", "none at ...", "disabled", or "ignored ...: line 3:
 * ...". Never NULL; "" for an invalid handle. The context's own buffer.
 */
CLMSE_API const char *clmse_context_tuning(const clmse_context *ctx);

/**
 * Writes the context's current plans as a tuning file for its device: to `path`, or for
 * NULL to the file clmse_context_create() with default options loads (creating its
 * directory), whatever file this context itself was created with. The file is written to a
 * temporary name and renamed, so readers never see half of it.
 * @return CLMSE_SUCCESS, CLMSE_ERROR_INVALID_HANDLE, CLMSE_ERROR_INVALID_ARGUMENT (path "",
 *         or NULL while CLMSE_TUNING_FILE=off or no directory is known), CLMSE_ERROR_IO.
 */
CLMSE_API clmse_status clmse_context_save_tuning(clmse_context *ctx, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* CLMSE_TUNING_H */
