/* SPDX-License-Identifier: MIT */
/* Private structures, error macros and internal prototypes shared by the library's files. */
#ifndef CLMSE_INTERNAL_H
#define CLMSE_INTERNAL_H

#include "clmse.h"

#include <pthread.h>
#include <stdarg.h>

#define CLMSE__CONTEXT_MAGIC 0x636c6d73u /* "clms" */
#define CLMSE__ERROR_CAP 8192
#define CLMSE__MAX_PROGRAMS 8

/* Where and how a kernel runs: fixed per device and program, never derived from timing or from
 * the element count, so a given (device, n) always reduces in the same order. */
typedef struct clmse__plan {
    int cpu_shape;       /* 1: one work-item streams a contiguous chunk; 0: grid-stride groups */
    size_t wg;           /* stage-1 work-group size */
    size_t max_groups;   /* stage-1 work-group count cap */
    size_t min_per_item; /* elements a work-item should at least get before more are used */
    size_t final_wg;     /* stage-2 (single group) size */
} clmse__plan;

typedef struct clmse__program {
    char options[512];
    cl_program program;
    cl_kernel pass;  /* clmse_mse_pass: elementwise work and per-group partial sums */
    cl_kernel final; /* clmse_reduce_final: folds the partials into the loss scalar */
    clmse__plan plan;
} clmse__program;

struct clmse_context {
    unsigned magic;
    pthread_mutex_t lock; /* guards kernel arguments, scratch and last_scratch_use */
    cl_context cl_ctx;
    cl_device_id device;
    cl_command_queue queue;
    clmse_device_info info;
    clmse_accumulation accumulation; /* resolved: DOUBLE or COMPENSATED */
    int correct_fp32_div;            /* device rounds float division correctly */
    clmse__program programs[CLMSE__MAX_PROGRAMS];
    size_t num_programs;
    cl_mem scratch; /* per-group partial sums, grown on demand */
    size_t scratch_size;
    cl_event last_scratch_use; /* the last command reading scratch: the next writer waits */
    char last_error[CLMSE__ERROR_CAP];
    cl_int last_cl_error;
};

/* ---- errors (error.c) ---- */
/* Records a message on ctx (or this thread's slot when ctx is NULL) and returns `status`. */
clmse_status clmse__fail(clmse_context *ctx, clmse_status status, cl_int cl_err, const char *fmt,
                         ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* Appends text to the last error (for build logs, which can be long). */
void clmse__append_error(clmse_context *ctx, const char *text);
/* Maps an OpenCL error code from `call` to a status, recording which call failed and why. */
clmse_status clmse__cl_fail(clmse_context *ctx, cl_int err, const char *call);
const char *clmse__cl_error_name(cl_int err);
void clmse__debug(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#define CLMSE_CHECK_ARG(ctx, cond, ...)                                        \
    do {                                                                       \
        if (!(cond))                                                           \
            return clmse__fail((ctx), CLMSE_ERROR_INVALID_ARGUMENT, CL_SUCCESS, \
                               __VA_ARGS__);                                   \
    } while (0)

/* Runs an OpenCL call; on failure records it and jumps to `label` with `st` set. */
#define CLMSE_CL_TRY(ctx, st, call, label)                   \
    do {                                                     \
        cl_int clmse_err_ = (call);                          \
        if (clmse_err_ != CL_SUCCESS) {                      \
            (st) = clmse__cl_fail((ctx), clmse_err_, #call); \
            goto label;                                      \
        }                                                    \
    } while (0)

/* The same for calls that report through an errcode_ret out-parameter. */
#define CLMSE_CL_CHECK(ctx, st, err, what, label)      \
    do {                                               \
        if ((err) != CL_SUCCESS) {                     \
            (st) = clmse__cl_fail((ctx), (err), what); \
            goto label;                                \
        }                                              \
    } while (0)

#define CLMSE_FORWARD(expr)                   \
    do {                                      \
        clmse_status clmse_st_ = (expr);      \
        if (clmse_st_ != CLMSE_SUCCESS)       \
            return clmse_st_;                 \
    } while (0)

/* ---- devices (device.c) ---- */
clmse_status clmse__device_fill_info(cl_device_id dev, cl_platform_id plat, unsigned pi,
                                     unsigned di, clmse_device_info *info);
clmse_status clmse__device_resolve(const char *spec, cl_platform_id *plat, cl_device_id *dev);
/* Fills info for any device, finding its P:D indices when the enumeration lists it. */
clmse_status clmse__device_info_for(cl_device_id dev, clmse_device_info *info);

/* ---- handles (context.c) ---- */
clmse_status clmse__check_context(clmse_context *ctx);

/* ---- programs and plans (program.c, plan.c) ---- */
clmse__plan clmse__plan_default(const clmse_context *ctx);
/* Returns the built program for the context's float32 configuration, building it once. */
clmse_status clmse__program_get(clmse_context *ctx, clmse__program **out);
void clmse__programs_release(clmse_context *ctx);
/* The embedded (or CLMSE_KERNEL_DIR) kernel sources in assembly order. */
clmse_status clmse__kernel_source(clmse_context *ctx, char **out_source);

/* ---- buffers (buffer.c) ---- */
/* Checks that [offset, offset+count) elements of `elem` bytes fit in `buf`. */
clmse_status clmse__check_range(clmse_context *ctx, const char *what, cl_mem buf, size_t offset,
                                size_t count, size_t elem);
clmse_status clmse__scratch_reserve(clmse_context *ctx, size_t bytes);

#endif /* CLMSE_INTERNAL_H */
