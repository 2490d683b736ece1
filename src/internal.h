/* SPDX-License-Identifier: MIT */
/* Private structures, error macros and internal prototypes shared by the library's files. */
#ifndef CLMSE_INTERNAL_H
#define CLMSE_INTERNAL_H

#include "clmse.h"
#include "clmse_tuning.h"

#include <pthread.h>
#include <stdarg.h>

#define CLMSE__CONTEXT_MAGIC 0x636c6d73u /* "clms" */
#define CLMSE__ERROR_CAP 8192
#define CLMSE__MAX_PROGRAMS 32
#define CLMSE__MAX_KERNELS 7

/* The plan table: float32 and float64 (clmse_dtype 0 and 1) x clmse_op x clmse_size_class. */
#define CLMSE__PLAN_DTYPES 2
#define CLMSE__PLAN_OPS 3
#define CLMSE__PLAN_CLASSES 3
#define CLMSE__TUNING_CAP 4800 /* "ignored ", a path of up to 4095 bytes, the reason */

/* What a program is specialised for. Contiguous: the float32/float64 kernels of mse.cl
 * (x == y == out); strided: the strided, broadcasting, any-dtype kernels of mse_strided.cl. */
typedef struct clmse__program_key {
    int strided;
    clmse_dtype x, y, out; /* storage of input, target and loss */
} clmse__program_key;

/* Kernel slots: contiguous programs fill PASS, FINAL and LOSS (the forward's pass); strided
 * ones the first six. */
enum {
    CLMSE__K_PASS,
    CLMSE__K_FINAL,
    CLMSE__K_GRAD_X,
    CLMSE__K_GRAD_Y,
    CLMSE__K_GRAD_X_FOLD,
    CLMSE__K_GRAD_Y_FOLD,
    CLMSE__K_LOSS
};

/* The loop-bound rule (launch.c): at most this many stage-1 streaming iterations per
 * work-item, and partials one work-item folds. $CLMSE_LOOP_BUDGET may lower it (tests reach
 * the multi-launch folds at small n that way). */
#define CLMSE__LOOP_BUDGET 16384u
/* Bytes of one stage-1 partial (cl/common.cl's part_t: a compensated double pair and a flag,
 * padded) and of one broadcast-gradient pair (gsum_t: a double pair), at their widest: without
 * fp64 both are float vectors of half the size, and scratch sized by these is merely roomy. */
#define CLMSE__PART_BYTES 32u
#define CLMSE__GSUM_BYTES 16u

typedef struct clmse__program {
    /* What it answers: a program whose work-group size had to be halved is still the answer
     * to the original request. Found by these fields, not by options, which take a format. */
    clmse__program_key key;
    clmse_plan asked;
    char options[512]; /* the build options it was built with */
    cl_program program;
    cl_kernel kernels[CLMSE__MAX_KERNELS];
    clmse_plan plan; /* its build geometry; a work-group size the kernels refuse is halved */
} clmse__program;

/* One request on contiguous buffers of one dtype: float32 from the _f32 entry points, float32
 * or float64 from clmse_mse's contiguous route. NULL buffers are results not wanted. */
typedef struct clmse__mse_call {
    const char *fn;
    clmse_dtype dtype;          /* CLMSE_DTYPE_F32 (0) unless set */
    int need_output, need_grad; /* what the entry point cannot do without */
    clmse_reduction reduction;
    size_t n;
    size_t mean_n; /* the mean's count: n, or clmse_mse_args.mean_count */
    cl_mem x, y, out, g, gx, gy;
    size_t xo, yo, oo, go, gxo, gyo;
    cl_uint num_wait;
    const cl_event *wait;
    cl_event *event;
    /* Not NULL: the sum stays unrounded in scratch (out is NULL), and its index goes here. */
    cl_ulong *partial_at;
} clmse__mse_call;

struct clmse_context {
    unsigned magic;
    pthread_mutex_t lock; /* guards kernel arguments, scratch and last_scratch_use */
    cl_context cl_ctx;
    cl_device_id device;
    cl_command_queue queue;
    clmse_device_info info;
    clmse_accumulation accumulation; /* resolved: DOUBLE or COMPENSATED */
    int correct_fp32_div;            /* device rounds float division correctly */
    cl_uint native_float_width;      /* CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT (plan.c) */
    size_t loop_budget;              /* CLMSE__LOOP_BUDGET or $CLMSE_LOOP_BUDGET's lower value */
    /* Guarded by lock; fixed geometry per entry, so a given n always reduces the same way. */
    clmse_plan plans[CLMSE__PLAN_DTYPES][CLMSE__PLAN_OPS][CLMSE__PLAN_CLASSES];
    clmse_plan_source plan_sources[CLMSE__PLAN_DTYPES][CLMSE__PLAN_OPS][CLMSE__PLAN_CLASSES];
    char tuning[CLMSE__TUNING_CAP]; /* what came of it, for clmse_context_tuning() */
    clmse__program programs[CLMSE__MAX_PROGRAMS];
    size_t num_programs;
    cl_mem scratch; /* per-group partial sums, grown on demand */
    size_t scratch_size;
    cl_event last_scratch_use;  /* the last command using scratch: the next writer waits */
    pthread_mutex_t error_lock; /* guards last_error and last_cl_error: calls fail unlocked */
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
/* CLMSE_ERROR_INVALID_HANDLE, recorded in this thread's slot, unless ctx is a live context. */
clmse_status clmse__check_context(clmse_context *ctx);

#define CLMSE_CHECK_ARG(ctx, cond, ...)                                                       \
    do {                                                                                      \
        if (!(cond))                                                                          \
            return clmse__fail((ctx), CLMSE_ERROR_INVALID_ARGUMENT, CL_SUCCESS, __VA_ARGS__); \
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

#define CLMSE_FORWARD(expr)              \
    do {                                 \
        clmse_status clmse_st_ = (expr); \
        if (clmse_st_ != CLMSE_SUCCESS)  \
            return clmse_st_;            \
    } while (0)

/* ---- devices (device.c) ---- */
clmse_status clmse__device_fill_info(cl_device_id dev, cl_platform_id plat, unsigned pi,
                                     unsigned di, clmse_device_info *info);
clmse_status clmse__device_resolve(const char *spec, cl_platform_id *plat, cl_device_id *dev);
/* Fills info for any device, finding its P:D indices when the enumeration lists it. */
clmse_status clmse__device_info_for(cl_device_id dev, clmse_device_info *info);

/* ---- programs and plans (program.c, plan.c, tuning.c) ---- */
/* The device's default plan for an op and size class (the dtype does not change it). */
clmse_plan clmse__plan_default(const clmse_context *ctx, clmse_op op, clmse_size_class size_class);
/* The words for clmse_op, clmse_size_class and clmse_plan_shape values, in enum order: the
 * public name functions and the tuning file's reader share them. */
extern const char *const clmse__op_names[CLMSE__PLAN_OPS];
extern const char *const clmse__class_names[CLMSE__PLAN_CLASSES];
extern const char *const clmse__shape_names[2];
/* The fixed plan of the strided kernels. */
clmse_plan clmse__plan_strided(const clmse_context *ctx);
/* 0 when the device can take `p`; else 1 with the reason in why. */
int clmse__plan_problem(const clmse_device_info *info, const clmse_plan *p, char *why, size_t cap);
/* Fills the table with the defaults. */
void clmse__plans_init(clmse_context *ctx);
/* Loads the tuning file named by `file` (as clmse_context_options.tuning_file) into the table,
 * recording the outcome in ctx->tuning. Never fails: a bad file leaves the defaults. */
void clmse__tuning_load(clmse_context *ctx, const char *file);
/* Returns the program for `key` built with `plan`'s geometry, building it on first use. Call
 * with the context's lock held. */
clmse_status clmse__program_get(clmse_context *ctx, const clmse__program_key *key,
                                const clmse_plan *plan, clmse__program **out);
/* The accumulator kind (CLMSE_ACC_KIND) for data computed in `compute` precision. */
int clmse__acc_kind(const clmse_context *ctx, int compute_double);
void clmse__programs_release(clmse_context *ctx);

/* ---- buffers (buffer.c) ---- */
/* Checks that [offset, offset+count) elements of `elem` bytes fit in `buf`. */
clmse_status clmse__check_range(clmse_context *ctx, const char *what, cl_mem buf, size_t offset,
                                size_t count, size_t elem);
/* Its arithmetic alone, against a buffer of `size` bytes (elem > 0); no OpenCL call, so the
 * fuzzer (fuzz/fuzz_tensor.c) reaches it. CLMSE_ERROR_SIZE_OVERFLOW or _BUFFER_TOO_SMALL. */
clmse_status clmse__check_span(clmse_context *ctx, const char *what, size_t size, size_t offset,
                               size_t count, size_t elem);

/* ---- tensors (tensor.c) ---- */
int clmse__dtype_floating(clmse_dtype d);
clmse_status clmse__check_floating(clmse_context *ctx, const char *what, clmse_dtype d);
void clmse__format_shape(uint32_t ndim, const size_t *shape, char *buf, size_t cap);
clmse_status clmse__broadcast(clmse_context *ctx, uint32_t na, const size_t *a, uint32_t nb,
                              const size_t *b, uint32_t *ndim, size_t *shape);
/* Element count and extent (1 + the largest element index reached, 0 when empty) of a view;
 * checks rank, strides >= 0 and overflow. */
clmse_status clmse__tensor_extent(clmse_context *ctx, const char *what, const clmse_tensor *t,
                                  size_t *numel, size_t *extent);
/* CLMSE_ERROR_INVALID_REDUCTION, with the one message for it naming `fn`, unless r is none,
 * mean or sum. */
clmse_status clmse__check_reduction(clmse_context *ctx, const char *fn, clmse_reduction r);

/* ---- launches (launch.c), of requests mse.c has validated ---- */
/* The loop budget of a new context: CLMSE__LOOP_BUDGET, or $CLMSE_LOOP_BUDGET when it is a
 * number from 8 to that (anything else is ignored). */
size_t clmse__loop_budget(void);

/* The six tensors a strided pass touches, in its argument order. */
enum {
    CLMSE__T_X,
    CLMSE__T_Y,
    CLMSE__T_LOSS,
    CLMSE__T_G,
    CLMSE__T_GX,
    CLMSE__T_GY,
    CLMSE__T_COUNT
};

/* How a clmse_mse request lies in memory: what mse.c decides for the strided kernels. */
typedef struct clmse__mse_layout {
    const clmse_tensor *t[CLMSE__T_COUNT]; /* NULL: absent (loss/g/gx/gy) */
    int reduce;                            /* mean/sum with an output, or a partial */
    int mean;
    size_t mean_n;        /* mean's count: numel, or clmse_mse_args.mean_count */
    cl_ulong *partial_at; /* as clmse__mse_call's */
    int bcast[2];         /* input / target broadcast: gradient needs a reduction */
    /* Their gradients when wanted and not empty, summed on the device over the broadcast
     * dimensions, with their strides in the broadcast index space. */
    const clmse_tensor *bgrad[2];
    int64_t bgrad_strides[2][CLMSE_MAX_NDIM];
    clmse_dtype promoted;
    uint32_t nd;                                     /* broadcast rank */
    size_t shape[CLMSE_MAX_NDIM];                    /* broadcast shape */
    size_t numel;                                    /* broadcast element count */
    int64_t aligned[CLMSE__T_COUNT][CLMSE_MAX_NDIM]; /* strides in the broadcast index space */
    uint32_t cnd;                                    /* the same, collapsed (mse.c: collapse) */
    size_t cshape[CLMSE_MAX_NDIM];
    int64_t cstrides[CLMSE__T_COUNT][CLMSE_MAX_NDIM];
} clmse__mse_layout;

/* Enqueue a validated request after the caller's events, under the context's lock; *event (if
 * not NULL) becomes its one completion event. */
clmse_status clmse__enqueue_contiguous(clmse_context *ctx, const clmse__mse_call *c);
clmse_status clmse__enqueue_strided(clmse_context *ctx, const clmse_mse_args *a,
                                    const clmse__mse_layout *p, cl_uint num_wait,
                                    const cl_event *wait, cl_event *event);
/* clmse_mse_partial's work: the request (on the contiguous path when `contiguous` is not
 * NULL) with its sum left unrounded (p->partial_at set), then, still under the lock, a
 * blocking read of that sum into *out once every command of the call is done. */
clmse_status clmse__enqueue_partial(clmse_context *ctx, const clmse_mse_args *a,
                                    const clmse__mse_layout *p, const clmse__mse_call *contiguous,
                                    cl_uint num_wait, const cl_event *wait, clmse_partial *out);

#endif /* CLMSE_INTERNAL_H */
