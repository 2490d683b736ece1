/* SPDX-License-Identifier: MIT */
/*
 * clmse: PyTorch's nn.MSELoss (forward, backward and the two fused) on any OpenCL device.
 *
 * Quick start (error handling shortened):
 *
 *     clmse_context *ctx;
 *     clmse_context_create(NULL, &ctx);          // CLMSE_DEVICE or first GPU, else any device
 *     float x[3] = {2.5f, 3.1f, 4.8f}, y[3] = {2.0f, 3.3f, 5.0f}, loss;
 *     clmse_status st = clmse_host_forward_f32(ctx, CLMSE_REDUCTION_MEAN, 3, x, y, &loss);
 *     if (st != CLMSE_SUCCESS)
 *         fprintf(stderr, "%s: %s\n", clmse_status_string(st), clmse_context_last_error(ctx));
 *     printf("%g\n", loss);                      // 0.11
 *     clmse_context_release(ctx);
 *
 * Semantics follow torch.nn.functional.mse_loss: with d_i = x_i - y_i rounded to the storage
 * type, the elementwise loss is d_i * d_i; 'sum' adds them, 'mean' divides that sum by n.
 * Zero elements: 'sum' gives +0, 'mean' gives NaN, 'none' writes nothing; all succeed.
 *
 * Threading: functions that take no clmse_context (version, status strings, device
 * enumeration) may be called from any thread. A clmse_context may be shared by several
 * threads: calls on it are serialised while they set kernel arguments and enqueue, and the
 * enqueued work is ordered through events, so in-order and out-of-order queues are both safe.
 * clmse_context_last_error() describes the most recent failing call on that context, or, when
 * given NULL, the most recent failing context-less call (or context creation) on this thread.
 *
 * Ownership: the library never releases a cl_mem it did not create. A cl_event returned
 * through an `event` out-parameter is new and belongs to the caller (clReleaseEvent). Strings
 * returned by the library belong to it: static ones live forever, last-error text until the
 * next call on the same context (or thread, for NULL).
 *
 * Versioning: from 1.0 on, releases with the same major version are API and ABI compatible,
 * and new functions come only in minor versions. Before 1.0 a minor release (0.2 -> 0.3) may
 * change the API and the ABI, while patch releases (0.2.x) keep both; the soname stays
 * libclmse.so.0 throughout 0.x, so build against the minor version you run with.
 *
 * This header is the stable API: devices, contexts, MSE on buffers, tensors and host arrays,
 * status. Launch plans and tuning are in <clmse_tuning.h>, experimental and outside any
 * stability promise.
 */
#ifndef CLMSE_H
#define CLMSE_H

#include <stddef.h>
#include <stdint.h>

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#ifdef __APPLE__
#include <OpenCL/cl.h>
#else
#include <CL/cl.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- export macro ------------------------------------------------------------------------ */
#if defined(_WIN32) && !defined(CLMSE_STATIC)
#if defined(CLMSE_BUILDING)
#define CLMSE_API __declspec(dllexport)
#else
#define CLMSE_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) || defined(__clang__)
#define CLMSE_API __attribute__((visibility("default")))
#else
#define CLMSE_API
#endif

/* ---- version (CMake parses these three lines) ------------------------------------------- */
#define CLMSE_VERSION_MAJOR 0
#define CLMSE_VERSION_MINOR 3
#define CLMSE_VERSION_PATCH 0
#define CLMSE_VERSION_NUMBER \
    (CLMSE_VERSION_MAJOR * 10000 + CLMSE_VERSION_MINOR * 100 + CLMSE_VERSION_PATCH)
#define CLMSE_STRINGIFY_(x) #x
#define CLMSE_STRINGIFY(x) CLMSE_STRINGIFY_(x)
#define CLMSE_VERSION_STRING             \
    CLMSE_STRINGIFY(CLMSE_VERSION_MAJOR) \
    "." CLMSE_STRINGIFY(CLMSE_VERSION_MINOR) "." CLMSE_STRINGIFY(CLMSE_VERSION_PATCH)

/* ---- status codes ------------------------------------------------------------------------ */
/* 1xx: the caller's mistake; 2xx: the environment; 3xx: OpenCL and compilation; 9xx: ours.
 * Values never change once released. A failing OpenCL call gives OUT_OF_HOST_MEMORY for
 * CL_OUT_OF_HOST_MEMORY, OUT_OF_DEVICE_MEMORY for CL_OUT_OF_RESOURCES and
 * CL_MEM_OBJECT_ALLOCATION_FAILURE, BUILD_FAILED for a failed build, INVALID_ARGUMENT where it
 * refused the caller's objects, and ERROR_OPENCL otherwise; clmse_context_last_cl_error() has
 * the raw code. */
#define CLMSE_STATUS_MAP(X)                                                            \
    X(SUCCESS, 0, "success")                                                           \
    X(ERROR_INVALID_ARGUMENT, 100, "invalid argument")                                 \
    X(ERROR_INVALID_HANDLE, 101, "invalid or released clmse handle")                   \
    X(ERROR_INVALID_REDUCTION, 102, "invalid reduction")                               \
    X(ERROR_BUFFER_TOO_SMALL, 103, "buffer too small for offset and element count")    \
    X(ERROR_SIZE_OVERFLOW, 104, "element count or offset overflows the address space") \
    X(ERROR_UNSUPPORTED_DTYPE, 105, "data type not supported on this device")          \
    X(ERROR_INVALID_DEVICE_SPEC, 106, "invalid device specification")                  \
    X(ERROR_INVALID_DTYPE, 107, "not a floating-point data type")                      \
    X(ERROR_SHAPE_MISMATCH, 108, "shapes do not broadcast or do not match")            \
    X(ERROR_INVALID_LAYOUT, 109, "invalid tensor rank, shape or strides")              \
    X(ERROR_INVALID_PLAN, 110, "launch plan invalid for this device")                  \
    X(ERROR_NO_PLATFORM, 200, "no OpenCL platform found")                              \
    X(ERROR_NO_DEVICE, 201, "no OpenCL device found or matched")                       \
    X(ERROR_OUT_OF_HOST_MEMORY, 202, "out of host memory")                             \
    X(ERROR_OUT_OF_DEVICE_MEMORY, 203, "out of device memory")                         \
    X(ERROR_IO, 204, "file could not be written")                                      \
    X(ERROR_OPENCL, 300, "OpenCL call failed")                                         \
    X(ERROR_BUILD_FAILED, 301, "OpenCL program build failed")                          \
    X(ERROR_UNSUPPORTED_DEVICE, 302, "device lacks a required feature")                \
    X(ERROR_INTERNAL, 900, "internal error")

typedef enum clmse_status {
#define CLMSE_STATUS_ENUM_(name, value, text) CLMSE_##name = value,
    CLMSE_STATUS_MAP(CLMSE_STATUS_ENUM_)
#undef CLMSE_STATUS_ENUM_
} clmse_status;

/* ---- enums ------------------------------------------------------------------------------- */
/** The reduction applied to the elementwise loss, with torch's enum values. */
typedef enum clmse_reduction {
    CLMSE_REDUCTION_NONE = 0, /**< elementwise (x-y)^2, n values */
    CLMSE_REDUCTION_MEAN = 1, /**< sum / n, one value (torch's default) */
    CLMSE_REDUCTION_SUM = 2   /**< sum, one value */
} clmse_reduction;

/** Storage types. Only the floating ones are computed on; the others exist so that data from
 *  NumPy or PyTorch can be described and refused with CLMSE_ERROR_INVALID_DTYPE. */
typedef enum clmse_dtype {
    CLMSE_DTYPE_F32 = 0,
    CLMSE_DTYPE_F64 = 1,  /**< needs a device with fp64 */
    CLMSE_DTYPE_F16 = 2,  /**< IEEE half, storage only: computed in float, rounded once */
    CLMSE_DTYPE_BF16 = 3, /**< bfloat16, storage only: computed in float, rounded once */
    CLMSE_DTYPE_I8 = 10,
    CLMSE_DTYPE_I16 = 11,
    CLMSE_DTYPE_I32 = 12,
    CLMSE_DTYPE_I64 = 13,
    CLMSE_DTYPE_U8 = 14,
    CLMSE_DTYPE_BOOL = 15,
    CLMSE_DTYPE_C64 = 20,
    CLMSE_DTYPE_C128 = 21
} clmse_dtype;

/** How float32 sums are accumulated on the device. */
typedef enum clmse_accumulation {
    CLMSE_ACCUMULATE_AUTO = 0,       /**< double where the device has fp64, else compensated */
    CLMSE_ACCUMULATE_DOUBLE = 1,     /**< double; CLMSE_ERROR_UNSUPPORTED_DEVICE without fp64 */
    CLMSE_ACCUMULATE_COMPENSATED = 2 /**< float Neumaier (sum, compensation) pairs */
} clmse_accumulation;

/* ---- version & status ------------------------------------------------------------------------ */

/** @return CLMSE_VERSION_STRING of the library actually linked. Static string. */
CLMSE_API const char *clmse_version(void);
/** @return CLMSE_VERSION_NUMBER of the library actually linked. */
CLMSE_API unsigned clmse_version_number(void);
/** @return a static, never-NULL name of `status`; "unknown clmse status" for unknown values. */
CLMSE_API const char *clmse_status_string(clmse_status status);

/* ---- devices --------------------------------------------------------------------------------- */

#define CLMSE_INFO_STRING 256

/** What clmse knows about one OpenCL device. A plain value struct, filled by the library. */
typedef struct clmse_device_info {
    unsigned platform_index; /**< P in a "P:D" device spec */
    unsigned device_index;   /**< D in a "P:D" device spec */
    char platform_name[CLMSE_INFO_STRING];
    char name[CLMSE_INFO_STRING];
    char vendor[CLMSE_INFO_STRING];
    char version[CLMSE_INFO_STRING];          /**< CL_DEVICE_VERSION */
    char opencl_c_version[CLMSE_INFO_STRING]; /**< CL_DEVICE_OPENCL_C_VERSION */
    char driver_version[CLMSE_INFO_STRING];
    cl_device_type type;
    cl_uint compute_units;
    size_t max_work_group_size;
    cl_ulong global_mem_size;
    cl_ulong local_mem_size;
    int has_fp64; /**< cl_khr_fp64 or a non-zero CL_DEVICE_DOUBLE_FP_CONFIG */
    int has_fp16; /**< cl_khr_fp16 (clmse needs it for nothing; reported for information) */
} clmse_device_info;

/**
 * Counts the devices of every OpenCL platform.
 * @param[out] count  number of devices (0 is not an error when a platform exists).
 * @return CLMSE_SUCCESS, CLMSE_ERROR_INVALID_ARGUMENT, CLMSE_ERROR_NO_PLATFORM,
 *         CLMSE_ERROR_OUT_OF_HOST_MEMORY, CLMSE_ERROR_OUT_OF_DEVICE_MEMORY, CLMSE_ERROR_OPENCL.
 *         Messages: clmse_context_last_error(NULL).
 */
CLMSE_API clmse_status clmse_device_count(size_t *count);

/**
 * Describes the index-th device in platform order (0 <= index < clmse_device_count()).
 * @return CLMSE_SUCCESS, CLMSE_ERROR_INVALID_ARGUMENT (NULL, index out of range),
 *         CLMSE_ERROR_NO_PLATFORM, CLMSE_ERROR_OUT_OF_HOST_MEMORY,
 *         CLMSE_ERROR_OUT_OF_DEVICE_MEMORY, CLMSE_ERROR_OPENCL.
 */
CLMSE_API clmse_status clmse_device_get_info(size_t index, clmse_device_info *info);

/**
 * Finds the device clmse_context_create() would pick for `spec`.
 * @param[in] spec  "gpu", "cpu", "accelerator", "P:D", or a case-insensitive substring of a
 *                  device name; NULL or "" means $CLMSE_DEVICE, and when that is unset or
 *                  empty, the first GPU, else the first accelerator, else the first device.
 * @param[out] index  index usable with clmse_device_get_info().
 * @return CLMSE_SUCCESS, CLMSE_ERROR_INVALID_ARGUMENT, CLMSE_ERROR_INVALID_DEVICE_SPEC
 *         (malformed "P:D"), CLMSE_ERROR_NO_DEVICE (nothing matches), CLMSE_ERROR_NO_PLATFORM,
 *         CLMSE_ERROR_OUT_OF_HOST_MEMORY, CLMSE_ERROR_OUT_OF_DEVICE_MEMORY, CLMSE_ERROR_OPENCL.
 */
CLMSE_API clmse_status clmse_device_select(const char *spec, size_t *index);

/* ---- context --------------------------------------------------------------------------------- */

/** A device, its queue and the programs built for it. Opaque. */
typedef struct clmse_context clmse_context;

/** Options for clmse_context_create(); zero-initialise, then set what you need. */
typedef struct clmse_context_options {
    const char *device;              /**< device spec as for clmse_device_select(); NULL: default */
    clmse_accumulation accumulation; /**< float32 sum accumulation; 0 = AUTO */
    /** Tuning file to load plans from (see clmse_tuning.h). NULL: $CLMSE_TUNING_FILE, else
     *  the device's file under the tuning directory; "": none, use the default plans. */
    const char *tuning_file;
} clmse_context_options;

/**
 * Creates a context on a device of its own choosing, with its own in-order queue.
 * @param[in] options  may be NULL (all defaults). Not retained.
 * @param[out] out     the new context, or NULL on failure. Release with clmse_context_release().
 * @return CLMSE_SUCCESS, CLMSE_ERROR_INVALID_ARGUMENT, CLMSE_ERROR_INVALID_DEVICE_SPEC,
 *         CLMSE_ERROR_NO_PLATFORM, CLMSE_ERROR_NO_DEVICE, CLMSE_ERROR_UNSUPPORTED_DEVICE
 *         (CLMSE_ACCUMULATE_DOUBLE without fp64), CLMSE_ERROR_OUT_OF_HOST_MEMORY,
 *         CLMSE_ERROR_OUT_OF_DEVICE_MEMORY, CLMSE_ERROR_OPENCL. The message is in
 *         clmse_context_last_error(NULL).
 */
CLMSE_API clmse_status clmse_context_create(const clmse_context_options *options,
                                            clmse_context **out);

/**
 * Adopts the caller's OpenCL objects. Each is retained (never duplicated) and released by
 * clmse_context_release(); the caller keeps and releases its own references. The queue may be
 * in-order or out-of-order; it must belong to `context` and `device`.
 * @param[in] options  may be NULL; its `device` field must be NULL here.
 * @return CLMSE_SUCCESS, CLMSE_ERROR_INVALID_ARGUMENT (NULL or mismatched objects),
 *         CLMSE_ERROR_UNSUPPORTED_DEVICE, CLMSE_ERROR_OUT_OF_HOST_MEMORY,
 *         CLMSE_ERROR_OUT_OF_DEVICE_MEMORY, CLMSE_ERROR_OPENCL.
 */
CLMSE_API clmse_status clmse_context_create_from_cl(cl_context context, cl_device_id device,
                                                    cl_command_queue queue,
                                                    const clmse_context_options *options,
                                                    clmse_context **out);

/** Releases the context and everything it holds. NULL is a harmless no-op. Does not wait for
 *  enqueued work beyond what OpenCL's own reference counting guarantees. */
CLMSE_API void clmse_context_release(clmse_context *ctx);

/** Describes the context's device. @return CLMSE_SUCCESS, CLMSE_ERROR_INVALID_HANDLE,
 *  CLMSE_ERROR_INVALID_ARGUMENT, CLMSE_ERROR_OPENCL. */
CLMSE_API clmse_status clmse_context_device_info(clmse_context *ctx, clmse_device_info *info);

/** The context's OpenCL objects (borrowed: do not release them). Any out-pointer may be NULL.
 *  @return CLMSE_SUCCESS, CLMSE_ERROR_INVALID_HANDLE. */
CLMSE_API clmse_status clmse_context_get_cl(clmse_context *ctx, cl_context *context,
                                            cl_device_id *device, cl_command_queue *queue);

/** The accumulation the context actually uses (never AUTO). -1 for an invalid handle. */
CLMSE_API int clmse_context_accumulation(clmse_context *ctx);

/** Details of the last failure on `ctx` (or, for NULL, of the last context-less failure on
 *  this thread): the step, the OpenCL call, and for build failures the whole build log.
 *  Never NULL; "" when there was none. The text is the context's own buffer: each failure
 *  writes a whole message under a lock, but a thread reading it while another thread's call
 *  on the same context fails may see the newer message, or a mix of the two. Read it right
 *  after your own failing call, or give each thread its own context. */
CLMSE_API const char *clmse_context_last_error(const clmse_context *ctx);

/** The raw OpenCL error code behind the last failure (CL_SUCCESS if it was not OpenCL's). */
CLMSE_API cl_int clmse_context_last_cl_error(const clmse_context *ctx);

/* Launch plans and tuning files: <clmse_tuning.h> (experimental, outside the promise above). */

/* ---- MSE on device buffers (float32, contiguous) --------------------------------------------- */
/*
 * Buffers hold float32 values; offsets and n count elements, as in CLBlast. Each call checks
 * that offset + count elements fit in the buffer, enqueues its work after `wait_list`, and,
 * when `event` is not NULL, returns a new event that completes when every result is written.
 * Nothing blocks. Input and target are read once per call; results may alias neither.
 *
 * Common statuses: CLMSE_SUCCESS, CLMSE_ERROR_INVALID_HANDLE, CLMSE_ERROR_INVALID_ARGUMENT
 * (NULL buffer, wait list inconsistent), CLMSE_ERROR_INVALID_REDUCTION,
 * CLMSE_ERROR_BUFFER_TOO_SMALL, CLMSE_ERROR_SIZE_OVERFLOW, CLMSE_ERROR_BUILD_FAILED,
 * CLMSE_ERROR_OUT_OF_HOST_MEMORY, CLMSE_ERROR_OUT_OF_DEVICE_MEMORY, CLMSE_ERROR_OPENCL.
 * A failed call leaves the context usable: the next call may succeed.
 */

/**
 * Forward: output[0] = mean or sum of (x-y)^2, or output[i] = (x_i-y_i)^2 for 'none'.
 * @param[out] output  1 element for mean/sum, n for none, at output_offset.
 */
CLMSE_API clmse_status clmse_mse_forward_f32(clmse_context *ctx, clmse_reduction reduction,
                                             size_t n, cl_mem input, size_t input_offset,
                                             cl_mem target, size_t target_offset, cl_mem output,
                                             size_t output_offset, cl_uint num_wait,
                                             const cl_event *wait_list, cl_event *event);

/**
 * Backward: grad_input_i = ((float)(2/n or 2) * (x_i - y_i)) * g_i (torch's order of
 * operations), grad_target_i = the same with (y_i - x_i), i.e. -grad_input_i except that a zero
 * difference gives +0 for both. scale = 2/n for mean, 2 for sum and none.
 * @param[in] grad_output  upstream gradient: 1 element for mean/sum, n for none; NULL means 1.
 * @param[out] grad_input, grad_target  n elements each; either may be NULL, not both.
 */
CLMSE_API clmse_status clmse_mse_backward_f32(
    clmse_context *ctx, clmse_reduction reduction, size_t n, cl_mem input, size_t input_offset,
    cl_mem target, size_t target_offset, cl_mem grad_output, size_t grad_output_offset,
    cl_mem grad_input, size_t grad_input_offset, cl_mem grad_target, size_t grad_target_offset,
    cl_uint num_wait, const cl_event *wait_list, cl_event *event);

/**
 * Fused forward + backward in one pass over input and target: writes what
 * clmse_mse_forward_f32() and clmse_mse_backward_f32() would, bit for bit.
 * `output` is required; grad_output, grad_input and grad_target as for the backward, except
 * that both gradients may be NULL.
 */
CLMSE_API clmse_status clmse_mse_fused_f32(
    clmse_context *ctx, clmse_reduction reduction, size_t n, cl_mem input, size_t input_offset,
    cl_mem target, size_t target_offset, cl_mem output, size_t output_offset, cl_mem grad_output,
    size_t grad_output_offset, cl_mem grad_input, size_t grad_input_offset, cl_mem grad_target,
    size_t grad_target_offset, cl_uint num_wait, const cl_event *wait_list, cl_event *event);

/* ---- tensors: any rank, strides, dtypes and broadcasting ------------------------------------- */

#define CLMSE_MAX_NDIM 8

/**
 * A strided view of an OpenCL buffer. Offsets and strides count elements; a stride of 0
 * repeats an element (an expanded view). Strides must be >= 0. A tensor with no elements may
 * have a NULL buffer. The layout of this struct is part of the ABI.
 */
typedef struct clmse_tensor {
    cl_mem buffer;
    size_t offset;
    clmse_dtype dtype;
    uint32_t ndim; /**< 0 (a scalar) to CLMSE_MAX_NDIM */
    size_t shape[CLMSE_MAX_NDIM];
    int64_t strides[CLMSE_MAX_NDIM];
} clmse_tensor;

/**
 * Fills a tensor view. strides == NULL means C order (row-major, contiguous).
 * @return CLMSE_SUCCESS, CLMSE_ERROR_INVALID_ARGUMENT (t NULL, or shape NULL with ndim > 0),
 *         CLMSE_ERROR_INVALID_LAYOUT (ndim > CLMSE_MAX_NDIM, a negative stride),
 *         CLMSE_ERROR_SIZE_OVERFLOW (element count or extent overflows).
 *         Messages: clmse_context_last_error(NULL).
 */
CLMSE_API clmse_status clmse_tensor_init(clmse_tensor *t, cl_mem buffer, clmse_dtype dtype,
                                         uint32_t ndim, const size_t *shape, const int64_t *strides,
                                         size_t offset);

/** Bytes per element of a dtype (0 for an unknown value). */
CLMSE_API size_t clmse_dtype_size(clmse_dtype dtype);
/** "float32", "float64", "float16", "bfloat16", "int32", ...; "unknown" otherwise. */
CLMSE_API const char *clmse_dtype_name(clmse_dtype dtype);

/**
 * torch's type promotion for two floating dtypes: f16+f32 -> f32, f32+f64 -> f64,
 * f16+bf16 -> f32, equal types -> that type.
 * @return CLMSE_SUCCESS, CLMSE_ERROR_INVALID_ARGUMENT (out NULL), CLMSE_ERROR_INVALID_DTYPE.
 */
CLMSE_API clmse_status clmse_promote_dtypes(clmse_dtype a, clmse_dtype b, clmse_dtype *out);

/**
 * NumPy/torch broadcasting of two shapes (trailing dimensions aligned; sizes equal or 1).
 * @param[out] ndim, shape  the broadcast shape (shape has room for CLMSE_MAX_NDIM).
 * @return CLMSE_SUCCESS, CLMSE_ERROR_INVALID_ARGUMENT, CLMSE_ERROR_INVALID_LAYOUT,
 *         CLMSE_ERROR_SHAPE_MISMATCH (the message names both shapes).
 */
CLMSE_API clmse_status clmse_broadcast_shapes(uint32_t ndim_a, const size_t *shape_a,
                                              uint32_t ndim_b, const size_t *shape_b,
                                              uint32_t *ndim, size_t *shape);

/** Flags of clmse_mse_args. */
#define CLMSE_STRICT_SHAPES 1u /**< refuse input and target shapes that differ (torch warns) */
#define CLMSE_MEAN_COUNT 2u    /**< read clmse_mse_args.mean_count (new in 0.3) */

/** Sentinel for clmse_legacy_reduction's arguments that were not given. */
#define CLMSE_LEGACY_UNSET (-1)

/**
 * torch's legacy `size_average` / `reduce` arguments mapped to a reduction, exactly as
 * torch.nn._reduction.legacy_get_string does: each is 1, 0 or CLMSE_LEGACY_UNSET (torch's
 * None, read as true). Both unset: `reduction` is returned unchanged. Otherwise
 * reduce false -> none; size_average false -> sum; else mean.
 * @return CLMSE_SUCCESS, CLMSE_ERROR_INVALID_ARGUMENT (out NULL, a value not 0/1/unset),
 *         CLMSE_ERROR_INVALID_REDUCTION.
 */
CLMSE_API clmse_status clmse_legacy_reduction(int size_average, int reduce,
                                              clmse_reduction reduction, clmse_reduction *out);

/**
 * One MSE operation on tensors. What is computed follows from which results are given:
 * `output` alone is the forward, gradients alone the backward, both the fused pass.
 *
 * - input, target: any floating dtype (f64 needs fp64), shapes that broadcast. The loss is
 *   computed in the promoted dtype (double for f64, float otherwise).
 * - output: the promoted dtype; for 'none' the broadcast shape, for mean/sum one element
 *   (any rank with one element, usually 0-d). mean divides by the broadcast element count.
 * - grad_output: the promoted dtype, shaped as output; NULL means ones.
 * - grad_input / grad_target: their operand's dtype and shape. Where an operand was
 *   broadcast, its gradient is summed over the broadcast dimensions (as autograd does),
 *   accumulated beyond the storage precision and rounded once.
 * Results must not overlap the operands or each other.
 *
 * Growth without breaking callers: the fields after grad_target came in 0.3, and the library
 * reads each only when the flag that came with it is set. Unknown flags are refused, so a
 * program compiled against 0.1 or 0.2, whose struct ends at grad_target, is never read past
 * its end.
 */
typedef struct clmse_mse_args {
    clmse_reduction reduction;
    unsigned flags; /**< CLMSE_STRICT_SHAPES or 0 */
    const clmse_tensor *input;
    const clmse_tensor *target;
    const clmse_tensor *output;      /**< may be NULL when a gradient is asked for */
    const clmse_tensor *grad_output; /**< may be NULL: ones */
    const clmse_tensor *grad_input;  /**< may be NULL */
    const clmse_tensor *grad_target; /**< may be NULL */
    /** Read only with CLMSE_MEAN_COUNT (0.3). The number of elements the mean is over, in all
     *  shards of a data-parallel loss: 'mean' divides by it and scales gradients by 2 /
     *  mean_count instead of the local count. 0 means the local (broadcast) count; a value
     *  below it is refused. 'sum' and 'none' do not use it. */
    size_t mean_count;
} clmse_mse_args;

/**
 * Enqueues the operation described by `args` after `wait_list`; `event` (optional) completes
 * when every result is written.
 * @return CLMSE_SUCCESS, CLMSE_ERROR_INVALID_HANDLE, CLMSE_ERROR_INVALID_ARGUMENT (NULL args,
 *         no result asked for, a NULL buffer with elements, a foreign buffer),
 *         CLMSE_ERROR_INVALID_REDUCTION, CLMSE_ERROR_INVALID_DTYPE (integer, bool, complex, or a
 *         result of the wrong dtype), CLMSE_ERROR_UNSUPPORTED_DTYPE (f64 without fp64),
 *         CLMSE_ERROR_SHAPE_MISMATCH, CLMSE_ERROR_INVALID_LAYOUT, CLMSE_ERROR_BUFFER_TOO_SMALL
 *         (a view reaches past its buffer), CLMSE_ERROR_SIZE_OVERFLOW, CLMSE_ERROR_BUILD_FAILED,
 *         CLMSE_ERROR_OUT_OF_HOST_MEMORY, CLMSE_ERROR_OUT_OF_DEVICE_MEMORY, CLMSE_ERROR_OPENCL.
 */
CLMSE_API clmse_status clmse_mse(clmse_context *ctx, const clmse_mse_args *args, cl_uint num_wait,
                                 const cl_event *wait_list, cl_event *event);

/* ---- partial results: one loss over many devices or processes ------------------------------ */
/*
 * A loss whose elements are spread over several devices or processes (a data-parallel batch)
 * is the sum of its shards' sums: each shard returns its partial, unrounded, with
 * clmse_mse_partial(); the partials are folded in a fixed order (clmse_partial_fold) or summed
 * as integers (clmse_partial_encode / _decode), and the result is rounded once
 * (clmse_partial_round). libclmse does no communication: exchange the partials with MPI or
 * anything else. Every function here but clmse_mse_partial is pure host arithmetic on IEEE
 * doubles without contraction: the same partials give the same bits on every host.
 */

#define CLMSE_PARTIAL_NAN 1u /**< a term was NaN: the loss is NaN */
#define CLMSE_PARTIAL_INF 2u /**< a term was +Inf (and none NaN): the loss is +Inf */

/**
 * A shard's sum of squared differences, not yet rounded: the value is
 * (sum + sum_low) * 2^exponent, a compensated pair (sum_low holds rounding errors of sum).
 * exponent is 0, or 64 once a sum of float64 terms would have overflowed a double. When flags
 * are set the value fields are 0: the flags decide the loss. The layout is fixed: 32 bytes, the
 * same on every platform, so partials may be sent between hosts as bytes (both ends
 * little-endian, or both big).
 */
typedef struct clmse_partial {
    double sum;
    double sum_low;
    uint64_t count;   /**< elements summed (after broadcasting) */
    uint32_t flags;   /**< CLMSE_PARTIAL_NAN, CLMSE_PARTIAL_INF */
    int32_t exponent; /**< 0 or 64 */
} clmse_partial;

/**
 * clmse_mse() with the loss left unrounded: computes this shard's partial and any gradients
 * the args ask for, in one pass, and returns when all are written (it blocks, and other
 * calls on the same context wait for it). reduction is
 * mean or sum, output must be NULL, and with CLMSE_MEAN_COUNT set, gradients scale by
 * 2 / mean_count (the global count: exchange the shards' counts first). grad_output, if
 * given, is the global loss's upstream gradient. The partial is deterministic: the same
 * operands on the same device and plan give the same bits.
 * @return clmse_mse()'s statuses; CLMSE_ERROR_INVALID_ARGUMENT (partial NULL, output not NULL,
 *         mean_count below the element count), CLMSE_ERROR_INVALID_REDUCTION (none).
 */
CLMSE_API clmse_status clmse_mse_partial(clmse_context *ctx, const clmse_mse_args *args,
                                         clmse_partial *partial, cl_uint num_wait,
                                         const cl_event *wait_list);

/**
 * Folds count partials in index order into *out (which may be one of them: it is written
 * last, and only on success): counts add, flags combine, values add as compensated pairs (as
 * the device merges them, rescaling to exponent 64 where a sum overflows; a value infinite
 * even there becomes the Inf flag). The same array gives the same bits on every host; fold the
 * shards in a fixed order (rank order) and every process agrees. count 0 gives the empty
 * partial (a sum of 0 over 0 elements).
 * @return CLMSE_SUCCESS, CLMSE_ERROR_INVALID_ARGUMENT (NULL pointers with count > 0, out NULL,
 *         a partial with unknown flags or an exponent other than 0 and 64, or without flags
 *         but with a non-finite or negative value),
 *         CLMSE_ERROR_SIZE_OVERFLOW (the counts' sum exceeds 2^64 - 1).
 *         Messages (these and the three below): clmse_context_last_error(NULL).
 */
CLMSE_API clmse_status clmse_partial_fold(const clmse_partial *partials, size_t count,
                                          clmse_partial *out);

/**
 * The loss of a (folded) partial, rounded once to dtype (f32, f64, f16 or bf16) and stored at
 * out (one element of that dtype; bfloat16 as its 16 bits): 'mean' divides by partial->count
 * (NaN for 0 elements), 'sum' takes the value (+0 for none). NaN and Inf flags give NaN and
 * +Inf (NaN when both are set). The rounding is to nearest even of the exact quotient, up to
 * an error below 2^-100 relative (for float64 results below 2^-1022, 2^-1075 absolute), so it
 * matches a single device's loss within 1 ulp.
 * @return CLMSE_SUCCESS, CLMSE_ERROR_INVALID_ARGUMENT (NULL pointers, bad flags or exponent,
 *         a non-finite or negative value without flags), CLMSE_ERROR_INVALID_REDUCTION (none,
 *         or not a reduction), CLMSE_ERROR_INVALID_DTYPE.
 */
CLMSE_API clmse_status clmse_partial_round(const clmse_partial *partial, clmse_reduction reduction,
                                           clmse_dtype dtype, void *out);

/** int64 words of an encoded partial. */
#define CLMSE_PARTIAL_WORDS 73

/**
 * A partial as CLMSE_PARTIAL_WORDS integers whose element-wise sum (MPI_SUM on MPI_INT64_T,
 * torch.distributed.all_reduce on int64) encodes the exact sum of the partials, whatever the
 * order or tree of the additions: words 0 and 1 the count (its low and high 32 bits), 2 the
 * NaN flag, 3 the Inf flag (each 0 or 1), then the value in fixed point: word 4 + k holds a
 * digit of weight 2^(32 k - 1074), from 0 to 2^32 - 1 (a flagged partial's are 0).
 * Up to 2^29 encoded partials may be summed.
 * @return CLMSE_SUCCESS, CLMSE_ERROR_INVALID_ARGUMENT (NULL, bad flags or exponent, a
 *         non-finite or negative value without flags).
 */
CLMSE_API clmse_status clmse_partial_encode(const clmse_partial *partial,
                                            int64_t words[CLMSE_PARTIAL_WORDS]);

/**
 * The partial a (summed) encoding stands for, so that the same words give the same bits
 * everywhere: the NaN flag if word 2 is positive, else the Inf flag if word 3 is; otherwise the
 * exact value V rounded to a canonical pair, sum = RN(V) and sum_low = RN(V - sum), at exponent
 * 0, or at exponent 64 (of V * 2^-64) when V exceeds the double range, or the Inf flag when it
 * exceeds it even there. Digits may be signed; their carries are taken exactly.
 * @return CLMSE_SUCCESS, CLMSE_ERROR_INVALID_ARGUMENT (NULL, or words that no sum of at most
 *         2^29 encodings gives, such as a negative value), CLMSE_ERROR_SIZE_OVERFLOW (the
 *         count exceeds 2^64 - 1).
 */
CLMSE_API clmse_status clmse_partial_decode(const int64_t words[CLMSE_PARTIAL_WORDS],
                                            clmse_partial *partial);

/* ---- MSE on host arrays (blocking convenience layer) ----------------------------------------- */
/*
 * Copy the arrays to the context's device, run the operation above and copy the results back
 * before returning. Same semantics and statuses; `n` may be 0 (then input and target may be
 * NULL). `output` holds 1 float for mean/sum and n for none. These block the calling thread.
 */

CLMSE_API clmse_status clmse_host_forward_f32(clmse_context *ctx, clmse_reduction reduction,
                                              size_t n, const float *input, const float *target,
                                              float *output);

/** @param grad_output  1 float (mean/sum) or n (none); NULL means 1. */
CLMSE_API clmse_status clmse_host_backward_f32(clmse_context *ctx, clmse_reduction reduction,
                                               size_t n, const float *input, const float *target,
                                               const float *grad_output, float *grad_input,
                                               float *grad_target);

CLMSE_API clmse_status clmse_host_fused_f32(clmse_context *ctx, clmse_reduction reduction, size_t n,
                                            const float *input, const float *target,
                                            const float *grad_output, float *output,
                                            float *grad_input, float *grad_target);

/* ---- MSE on host tensors: any dtype, layout and broadcasting (blocking) ---------------------- */

/**
 * A strided view of host memory: clmse_tensor with a pointer in place of buffer and offset.
 * `data` points at element (0, ..., 0); strides count elements and must be >= 0 (copy a view
 * with negative strides first). A tensor with no elements may have NULL data. The layout of
 * this struct is part of the ABI.
 */
typedef struct clmse_host_tensor {
    void *data;
    clmse_dtype dtype;
    uint32_t ndim; /**< 0 (a scalar) to CLMSE_MAX_NDIM */
    size_t shape[CLMSE_MAX_NDIM];
    int64_t strides[CLMSE_MAX_NDIM];
} clmse_host_tensor;

/** clmse_mse_args over host tensors: the same fields, the same rules (results must not
 *  overlap the operands or each other in host memory, byte range against byte range), and
 *  the same growth: mean_count (0.3) is read only with CLMSE_MEAN_COUNT. */
typedef struct clmse_host_mse_args {
    clmse_reduction reduction;
    unsigned flags; /**< CLMSE_STRICT_SHAPES, CLMSE_MEAN_COUNT or 0 */
    const clmse_host_tensor *input;
    const clmse_host_tensor *target;
    const clmse_host_tensor *output;      /**< may be NULL when a gradient is asked for */
    const clmse_host_tensor *grad_output; /**< may be NULL: ones */
    const clmse_host_tensor *grad_input;  /**< may be NULL */
    const clmse_host_tensor *grad_target; /**< may be NULL */
    size_t mean_count; /**< as clmse_mse_args.mean_count; read only with CLMSE_MEAN_COUNT */
} clmse_host_mse_args;

/**
 * Runs clmse_mse() on host tensors and returns when every result is written: the operation,
 * dtypes, shapes and broadcasting are clmse_mse()'s. Each view's memory (from `data` to its
 * last element) is wrapped in a buffer without a copy where the device shares the host's
 * memory (CL_DEVICE_HOST_UNIFIED_MEMORY, as on CPU devices; CL_MEM_USE_HOST_PTR, data aligned
 * to its element size), else copied; elements of a result's range that the view does not
 * cover are left as they were. Nothing is kept after the call.
 * Bindings (the Python package) use this so that host arrays of any dtype and layout need no
 * OpenCL calls of their own.
 * @return clmse_mse()'s statuses, and CLMSE_ERROR_INVALID_ARGUMENT (NULL args, NULL data with
 *         elements, a result overlapping another tensor), CLMSE_ERROR_INVALID_DTYPE (a value
 *         that is no clmse_dtype), CLMSE_ERROR_INVALID_LAYOUT (a negative stride, rank over
 *         CLMSE_MAX_NDIM), CLMSE_ERROR_SIZE_OVERFLOW (a view whose element count or byte
 *         extent overflows size_t).
 */
CLMSE_API clmse_status clmse_host_mse(clmse_context *ctx, const clmse_host_mse_args *args);

/**
 * clmse_mse_partial() on host tensors (new in 0.3): this shard's partial and any gradients the
 * args ask for, written before it returns; output must be NULL. The memory rules are
 * clmse_host_mse()'s, the statuses both functions'.
 */
CLMSE_API clmse_status clmse_host_mse_partial(clmse_context *ctx, const clmse_host_mse_args *args,
                                              clmse_partial *partial);

/* ---- ABI introspection ----------------------------------------------------------------------- */

/**
 * sizeof of a public struct, by its name: "clmse_device_info", "clmse_context_options",
 * "clmse_tensor", "clmse_mse_args", "clmse_host_tensor", "clmse_host_mse_args" or
 * "clmse_partial". Bindings that mirror these structs (the Python package, through ctypes)
 * compare their sizes with the loaded library's at load time.
 * @return the size in bytes; 0 for NULL or an unknown name.
 */
CLMSE_API size_t clmse_struct_size(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* CLMSE_H */
