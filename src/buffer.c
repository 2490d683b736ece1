/* SPDX-License-Identifier: MIT */
/* Checks of the caller's buffers against offsets and counts. */
#include "internal.h"

#include <stdint.h>
#include <stdio.h>

clmse_status clmse__check_span(clmse_context *ctx, const char *what, size_t size, size_t offset,
                               size_t count, size_t elem)
{
    if (count > SIZE_MAX / elem || offset > SIZE_MAX / elem - count)
        return clmse__fail(ctx, CLMSE_ERROR_SIZE_OVERFLOW, CL_SUCCESS,
                           "%s: offset %zu + %zu elements of %zu bytes overflows size_t", what,
                           offset, count, elem);
    size_t need = (offset + count) * elem;
    if (need > size)
        return clmse__fail(ctx, CLMSE_ERROR_BUFFER_TOO_SMALL, CL_SUCCESS,
                           "%s holds %zu bytes; offset %zu + %zu elements need %zu", what, size,
                           offset, count, need);
    return CLMSE_SUCCESS;
}

clmse_status clmse__check_range(clmse_context *ctx, const char *what, cl_mem buf, size_t offset,
                                size_t count, size_t elem)
{
    /* An overflow is reported before the buffer is queried; no span exceeds SIZE_MAX bytes. */
    CLMSE_FORWARD(clmse__check_span(ctx, what, SIZE_MAX, offset, count, elem));
    size_t size = 0;
    cl_context owner = NULL;
    cl_int err = clGetMemObjectInfo(buf, CL_MEM_SIZE, sizeof(size), &size, NULL);
    if (err == CL_SUCCESS)
        err = clGetMemObjectInfo(buf, CL_MEM_CONTEXT, sizeof(owner), &owner, NULL);
    if (err == CL_INVALID_MEM_OBJECT)
        return clmse__fail(ctx, CLMSE_ERROR_INVALID_ARGUMENT, err, "%s is not a valid cl_mem (%s)",
                           what, clmse__cl_error_name(err));
    if (err != CL_SUCCESS) { /* the runtime failed, not the caller's buffer */
        char call[96];
        snprintf(call, sizeof call, "clGetMemObjectInfo(%s)", what);
        return clmse__cl_fail(ctx, err, call);
    }
    if (owner != ctx->cl_ctx)
        return clmse__fail(ctx, CLMSE_ERROR_INVALID_ARGUMENT, CL_SUCCESS,
                           "%s belongs to another cl_context than the clmse context's", what);
    return clmse__check_span(ctx, what, size, offset, count, elem);
}
