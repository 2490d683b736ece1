/* SPDX-License-Identifier: MIT */
/* Last-error messages (per context, or per thread for context-less calls) and debug tracing. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Context creation and device enumeration fail before any context exists: their message lives
 * in a per-thread slot so concurrent callers never read each other's text. */
static _Thread_local char thread_error[CLMSE__ERROR_CAP];
static _Thread_local cl_int thread_cl_error;

/* A context's slot is locked while written: threads sharing it may fail at the same time, some
 * before taking ctx->lock (validation) and some while holding it (enqueueing). */
static char *error_slot(clmse_context *ctx, cl_int **cl_slot)
{
    if (ctx != NULL && ctx->magic == CLMSE__CONTEXT_MAGIC) {
        pthread_mutex_lock(&ctx->error_lock);
        *cl_slot = &ctx->last_cl_error;
        return ctx->last_error;
    }
    *cl_slot = &thread_cl_error;
    return thread_error;
}

static void error_slot_done(clmse_context *ctx, const char *buf)
{
    if (buf != thread_error)
        pthread_mutex_unlock(&ctx->error_lock);
}

clmse_status clmse__fail(clmse_context *ctx, clmse_status status, cl_int cl_err, const char *fmt,
                         ...)
{
    cl_int *cl_slot;
    char *buf = error_slot(ctx, &cl_slot);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, CLMSE__ERROR_CAP, fmt, ap);
    va_end(ap);
    *cl_slot = cl_err;
    clmse__debug("%s: %s", clmse_status_string(status), buf);
    error_slot_done(ctx, buf);
    return status;
}

void clmse__append_error(clmse_context *ctx, const char *text)
{
    cl_int *cl_slot;
    char *buf = error_slot(ctx, &cl_slot);
    size_t used = strlen(buf);
    if (used + 1 < CLMSE__ERROR_CAP)
        snprintf(buf + used, CLMSE__ERROR_CAP - used, "%s", text);
    error_slot_done(ctx, buf);
}

const char *clmse__cl_error_name(cl_int err)
{
    switch (err) {
#define CLMSE_CL_NAME_(code) \
    case code:               \
        return #code;
        CLMSE_CL_NAME_(CL_DEVICE_NOT_FOUND)
        CLMSE_CL_NAME_(CL_DEVICE_NOT_AVAILABLE)
        CLMSE_CL_NAME_(CL_COMPILER_NOT_AVAILABLE)
        CLMSE_CL_NAME_(CL_MEM_OBJECT_ALLOCATION_FAILURE)
        CLMSE_CL_NAME_(CL_OUT_OF_RESOURCES)
        CLMSE_CL_NAME_(CL_OUT_OF_HOST_MEMORY)
        CLMSE_CL_NAME_(CL_BUILD_PROGRAM_FAILURE)
        CLMSE_CL_NAME_(CL_MISALIGNED_SUB_BUFFER_OFFSET)
        CLMSE_CL_NAME_(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
        CLMSE_CL_NAME_(CL_INVALID_VALUE)
        CLMSE_CL_NAME_(CL_INVALID_PLATFORM)
        CLMSE_CL_NAME_(CL_INVALID_DEVICE)
        CLMSE_CL_NAME_(CL_INVALID_CONTEXT)
        CLMSE_CL_NAME_(CL_INVALID_COMMAND_QUEUE)
        CLMSE_CL_NAME_(CL_INVALID_MEM_OBJECT)
        CLMSE_CL_NAME_(CL_INVALID_BUILD_OPTIONS)
        CLMSE_CL_NAME_(CL_INVALID_PROGRAM)
        CLMSE_CL_NAME_(CL_INVALID_PROGRAM_EXECUTABLE)
        CLMSE_CL_NAME_(CL_INVALID_KERNEL_NAME)
        CLMSE_CL_NAME_(CL_INVALID_KERNEL)
        CLMSE_CL_NAME_(CL_INVALID_ARG_INDEX)
        CLMSE_CL_NAME_(CL_INVALID_ARG_VALUE)
        CLMSE_CL_NAME_(CL_INVALID_ARG_SIZE)
        CLMSE_CL_NAME_(CL_INVALID_KERNEL_ARGS)
        CLMSE_CL_NAME_(CL_INVALID_WORK_DIMENSION)
        CLMSE_CL_NAME_(CL_INVALID_WORK_GROUP_SIZE)
        CLMSE_CL_NAME_(CL_INVALID_WORK_ITEM_SIZE)
        CLMSE_CL_NAME_(CL_INVALID_GLOBAL_OFFSET)
        CLMSE_CL_NAME_(CL_INVALID_EVENT_WAIT_LIST)
        CLMSE_CL_NAME_(CL_INVALID_EVENT)
        CLMSE_CL_NAME_(CL_INVALID_OPERATION)
        CLMSE_CL_NAME_(CL_INVALID_BUFFER_SIZE)
        CLMSE_CL_NAME_(CL_INVALID_GLOBAL_WORK_SIZE)
#undef CLMSE_CL_NAME_
    default:
        return "unnamed OpenCL error";
    }
}

clmse_status clmse__cl_fail(clmse_context *ctx, cl_int err, const char *call)
{
    clmse_status st = CLMSE_ERROR_OPENCL;
    if (err == CL_OUT_OF_HOST_MEMORY)
        st = CLMSE_ERROR_OUT_OF_HOST_MEMORY;
    else if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES)
        st = CLMSE_ERROR_OUT_OF_DEVICE_MEMORY;
    else if (err == CL_INVALID_EVENT_WAIT_LIST || err == CL_INVALID_EVENT ||
             err == CL_INVALID_MEM_OBJECT)
        st = CLMSE_ERROR_INVALID_ARGUMENT; /* the caller's objects were refused */
    return clmse__fail(ctx, st, err, "%s failed: %s (%d)", call, clmse__cl_error_name(err),
                       (int)err);
}

void clmse__debug(const char *fmt, ...)
{
    const char *on = getenv("CLMSE_DEBUG");
    if (on == NULL || on[0] == '\0' || strcmp(on, "0") == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("clmse: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

const char *clmse_context_last_error(const clmse_context *ctx)
{
    if (ctx == NULL)
        return thread_error;
    if (ctx->magic != CLMSE__CONTEXT_MAGIC)
        return "invalid clmse_context handle";
    return ctx->last_error;
}

cl_int clmse_context_last_cl_error(const clmse_context *ctx)
{
    if (ctx == NULL)
        return thread_cl_error;
    if (ctx->magic != CLMSE__CONTEXT_MAGIC)
        return CL_INVALID_CONTEXT;
    return ctx->last_cl_error;
}

clmse_status clmse__check_context(clmse_context *ctx)
{
    if (ctx == NULL)
        return clmse__fail(NULL, CLMSE_ERROR_INVALID_HANDLE, CL_SUCCESS,
                           "the clmse_context is NULL");
    if (ctx->magic != CLMSE__CONTEXT_MAGIC)
        return clmse__fail(NULL, CLMSE_ERROR_INVALID_HANDLE, CL_SUCCESS,
                           "the clmse_context handle is not a live clmse context");
    return CLMSE_SUCCESS;
}
