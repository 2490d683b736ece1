/* SPDX-License-Identifier: MIT */
/* Context lifetime: device choice or adoption of the caller's objects, feature checks, release. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static clmse_status check_options(const clmse_context_options *opt)
{
    if (opt == NULL)
        return CLMSE_SUCCESS;
    CLMSE_CHECK_ARG(NULL,
                    opt->accumulation >= CLMSE_ACCUMULATE_AUTO &&
                        opt->accumulation <= CLMSE_ACCUMULATE_COMPENSATED,
                    "options.accumulation %d is not a clmse_accumulation", (int)opt->accumulation);
    return CLMSE_SUCCESS;
}

/* Takes ownership of one reference to each OpenCL object (released on failure). */
static clmse_status finish_create(cl_context cl_ctx, cl_device_id dev, cl_command_queue queue,
                                  const clmse_context_options *opt, clmse_context **out)
{
    clmse_status st;
    clmse_context *ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        st = clmse__fail(NULL, CLMSE_ERROR_OUT_OF_HOST_MEMORY, CL_SUCCESS,
                         "no memory for a clmse_context");
        goto fail;
    }
    st = clmse__device_info_for(dev, &ctx->info);
    if (st != CLMSE_SUCCESS)
        goto fail;

    clmse_accumulation acc = opt ? opt->accumulation : CLMSE_ACCUMULATE_AUTO;
    if (acc == CLMSE_ACCUMULATE_DOUBLE && !ctx->info.has_fp64) {
        st = clmse__fail(NULL, CLMSE_ERROR_UNSUPPORTED_DEVICE, CL_SUCCESS,
                         "CLMSE_ACCUMULATE_DOUBLE needs fp64, which device '%s' lacks",
                         ctx->info.name);
        goto fail;
    }
    if (acc == CLMSE_ACCUMULATE_AUTO)
        acc = ctx->info.has_fp64 ? CLMSE_ACCUMULATE_DOUBLE : CLMSE_ACCUMULATE_COMPENSATED;
    ctx->accumulation = acc;

    cl_device_fp_config fcfg = 0;
    cl_int err = clGetDeviceInfo(dev, CL_DEVICE_SINGLE_FP_CONFIG, sizeof(fcfg), &fcfg, NULL);
    if (err != CL_SUCCESS) {
        st = clmse__cl_fail(NULL, err, "clGetDeviceInfo(CL_DEVICE_SINGLE_FP_CONFIG)");
        goto fail;
    }
    ctx->correct_fp32_div = (fcfg & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0;
    err = clGetDeviceInfo(dev, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, sizeof ctx->native_float_width,
                          &ctx->native_float_width, NULL);
    if (err != CL_SUCCESS) {
        st = clmse__cl_fail(NULL, err, "clGetDeviceInfo(CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT)");
        goto fail;
    }
    ctx->loop_budget = clmse__loop_budget();
    clmse__plans_init(ctx);
    clmse__tuning_load(ctx, opt ? opt->tuning_file : NULL);

    if (pthread_mutex_init(&ctx->lock, NULL) != 0) {
        st = clmse__fail(NULL, CLMSE_ERROR_INTERNAL, CL_SUCCESS, "pthread_mutex_init failed");
        goto fail;
    }
    if (pthread_mutex_init(&ctx->error_lock, NULL) != 0) {
        pthread_mutex_destroy(&ctx->lock);
        st = clmse__fail(NULL, CLMSE_ERROR_INTERNAL, CL_SUCCESS, "pthread_mutex_init failed");
        goto fail;
    }
    ctx->cl_ctx = cl_ctx;
    ctx->device = dev;
    ctx->queue = queue;
    ctx->magic = CLMSE__CONTEXT_MAGIC;
    *out = ctx;
    return CLMSE_SUCCESS;

fail:
    free(ctx);
    clReleaseDevice(dev);
    clReleaseCommandQueue(queue);
    clReleaseContext(cl_ctx);
    return st;
}

clmse_status clmse_context_create(const clmse_context_options *options, clmse_context **out)
{
    CLMSE_CHECK_ARG(NULL, out != NULL, "clmse_context_create: out is NULL");
    *out = NULL;
    CLMSE_FORWARD(check_options(options));

    cl_platform_id plat;
    cl_device_id dev;
    CLMSE_FORWARD(clmse__device_resolve(options ? options->device : NULL, &plat, &dev));

    cl_int err = CL_SUCCESS;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)plat, 0};
    cl_context cl_ctx = clCreateContext(props, 1, &dev, NULL, NULL, &err);
    if (err != CL_SUCCESS)
        return clmse__cl_fail(NULL, err, "clCreateContext");
    cl_command_queue queue = clCreateCommandQueue(cl_ctx, dev, 0, &err);
    if (err != CL_SUCCESS) {
        clReleaseContext(cl_ctx);
        return clmse__cl_fail(NULL, err, "clCreateCommandQueue");
    }
    clRetainDevice(dev); /* a no-op for root devices; keeps ownership uniform with adoption */
    return finish_create(cl_ctx, dev, queue, options, out);
}

/* Checks that the queue belongs to the context and device, and the device to the context. */
static clmse_status check_adopted(cl_context context, cl_device_id device, cl_command_queue queue)
{
    cl_context qctx = NULL;
    cl_device_id qdev = NULL;
    cl_int err = clGetCommandQueueInfo(queue, CL_QUEUE_CONTEXT, sizeof(qctx), &qctx, NULL);
    if (err == CL_SUCCESS)
        err = clGetCommandQueueInfo(queue, CL_QUEUE_DEVICE, sizeof(qdev), &qdev, NULL);
    if (err == CL_INVALID_COMMAND_QUEUE)
        return clmse__fail(NULL, CLMSE_ERROR_INVALID_ARGUMENT, err,
                           "the queue is not a valid cl_command_queue (%s)",
                           clmse__cl_error_name(err));
    if (err != CL_SUCCESS) /* the runtime failed, not the caller's queue */
        return clmse__cl_fail(NULL, err, "clGetCommandQueueInfo");
    CLMSE_CHECK_ARG(NULL, qctx == context, "the queue belongs to another cl_context");
    CLMSE_CHECK_ARG(NULL, qdev == device, "the queue belongs to another cl_device_id");

    cl_uint ndev = 0;
    cl_device_id *devs = NULL;
    err = clGetContextInfo(context, CL_CONTEXT_NUM_DEVICES, sizeof(ndev), &ndev, NULL);
    if (err == CL_SUCCESS && (devs = calloc(ndev ? ndev : 1, sizeof(*devs))) == NULL)
        return clmse__fail(NULL, CLMSE_ERROR_OUT_OF_HOST_MEMORY, CL_SUCCESS,
                           "no memory for the cl_context's %u devices", ndev);
    if (err == CL_SUCCESS)
        err = clGetContextInfo(context, CL_CONTEXT_DEVICES, sizeof(*devs) * ndev, devs, NULL);
    int member = 0;
    for (cl_uint i = 0; err == CL_SUCCESS && i < ndev; i++)
        member |= devs[i] == device;
    free(devs);
    if (err == CL_INVALID_CONTEXT)
        return clmse__fail(NULL, CLMSE_ERROR_INVALID_ARGUMENT, err,
                           "the cl_context is not valid (%s)", clmse__cl_error_name(err));
    if (err != CL_SUCCESS)
        return clmse__cl_fail(NULL, err, "clGetContextInfo");
    if (member)
        return CLMSE_SUCCESS;
    return clmse__fail(NULL, CLMSE_ERROR_INVALID_ARGUMENT, CL_SUCCESS,
                       "the cl_device_id is not one of the cl_context's devices");
}

clmse_status clmse_context_create_from_cl(cl_context context, cl_device_id device,
                                          cl_command_queue queue,
                                          const clmse_context_options *options, clmse_context **out)
{
    CLMSE_CHECK_ARG(NULL, out != NULL, "clmse_context_create_from_cl: out is NULL");
    *out = NULL;
    CLMSE_CHECK_ARG(NULL, context != NULL && device != NULL && queue != NULL,
                    "clmse_context_create_from_cl: context, device and queue must be non-NULL");
    CLMSE_FORWARD(check_options(options));
    CLMSE_CHECK_ARG(NULL, options == NULL || options->device == NULL,
                    "options.device must be NULL when adopting a device");
    CLMSE_FORWARD(check_adopted(context, device, queue));

    cl_int err = clRetainContext(context);
    if (err != CL_SUCCESS)
        return clmse__cl_fail(NULL, err, "clRetainContext");
    err = clRetainCommandQueue(queue);
    if (err != CL_SUCCESS) {
        clReleaseContext(context);
        return clmse__cl_fail(NULL, err, "clRetainCommandQueue");
    }
    err = clRetainDevice(device);
    if (err != CL_SUCCESS) {
        clReleaseCommandQueue(queue);
        clReleaseContext(context);
        return clmse__cl_fail(NULL, err, "clRetainDevice");
    }
    return finish_create(context, device, queue, options, out);
}

void clmse_context_release(clmse_context *ctx)
{
    if (ctx == NULL || ctx->magic != CLMSE__CONTEXT_MAGIC)
        return;
    ctx->magic = 0; /* a later call through a stale copy of the pointer is refused */
    clmse__programs_release(ctx);
    if (ctx->last_scratch_use)
        clReleaseEvent(ctx->last_scratch_use);
    if (ctx->scratch)
        clReleaseMemObject(ctx->scratch);
    clReleaseCommandQueue(ctx->queue);
    clReleaseDevice(ctx->device);
    clReleaseContext(ctx->cl_ctx);
    pthread_mutex_destroy(&ctx->lock);
    pthread_mutex_destroy(&ctx->error_lock);
    free(ctx);
}

clmse_status clmse_context_device_info(clmse_context *ctx, clmse_device_info *info)
{
    CLMSE_FORWARD(clmse__check_context(ctx));
    CLMSE_CHECK_ARG(ctx, info != NULL, "clmse_context_device_info: info is NULL");
    *info = ctx->info;
    return CLMSE_SUCCESS;
}

clmse_status clmse_context_get_cl(clmse_context *ctx, cl_context *context, cl_device_id *device,
                                  cl_command_queue *queue)
{
    CLMSE_FORWARD(clmse__check_context(ctx));
    if (context)
        *context = ctx->cl_ctx;
    if (device)
        *device = ctx->device;
    if (queue)
        *queue = ctx->queue;
    return CLMSE_SUCCESS;
}

int clmse_context_accumulation(clmse_context *ctx)
{
    if (clmse__check_context(ctx) != CLMSE_SUCCESS)
        return -1;
    return (int)ctx->accumulation;
}
