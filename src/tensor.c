/* SPDX-License-Identifier: MIT */
/* Tensor views and dtypes: initialisation, sizes, names, promotion, broadcasting, and torch's
 * legacy size_average/reduce mapping. Host-only: none of this touches OpenCL. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

size_t clmse_dtype_size(clmse_dtype dtype)
{
    switch (dtype) {
    case CLMSE_DTYPE_F64:
    case CLMSE_DTYPE_I64:
    case CLMSE_DTYPE_C64:
        return 8;
    case CLMSE_DTYPE_F32:
    case CLMSE_DTYPE_I32:
        return 4;
    case CLMSE_DTYPE_F16:
    case CLMSE_DTYPE_BF16:
    case CLMSE_DTYPE_I16:
        return 2;
    case CLMSE_DTYPE_I8:
    case CLMSE_DTYPE_U8:
    case CLMSE_DTYPE_BOOL:
        return 1;
    case CLMSE_DTYPE_C128:
        return 16;
    }
    return 0;
}

const char *clmse_dtype_name(clmse_dtype dtype)
{
    switch (dtype) {
    case CLMSE_DTYPE_F32:
        return "float32";
    case CLMSE_DTYPE_F64:
        return "float64";
    case CLMSE_DTYPE_F16:
        return "float16";
    case CLMSE_DTYPE_BF16:
        return "bfloat16";
    case CLMSE_DTYPE_I8:
        return "int8";
    case CLMSE_DTYPE_I16:
        return "int16";
    case CLMSE_DTYPE_I32:
        return "int32";
    case CLMSE_DTYPE_I64:
        return "int64";
    case CLMSE_DTYPE_U8:
        return "uint8";
    case CLMSE_DTYPE_BOOL:
        return "bool";
    case CLMSE_DTYPE_C64:
        return "complex64";
    case CLMSE_DTYPE_C128:
        return "complex128";
    }
    return "unknown";
}

int clmse__dtype_floating(clmse_dtype d)
{
    return d == CLMSE_DTYPE_F32 || d == CLMSE_DTYPE_F64 || d == CLMSE_DTYPE_F16 ||
           d == CLMSE_DTYPE_BF16;
}

clmse_status clmse__check_floating(clmse_context *ctx, const char *what, clmse_dtype d)
{
    if (clmse__dtype_floating(d))
        return CLMSE_SUCCESS;
    return clmse__fail(ctx, CLMSE_ERROR_INVALID_DTYPE, CL_SUCCESS,
                       "%s has dtype %s (%d): MSELoss needs float16, bfloat16, float32 or float64",
                       what, clmse_dtype_name(d), (int)d);
}

clmse_status clmse_promote_dtypes(clmse_dtype a, clmse_dtype b, clmse_dtype *out)
{
    CLMSE_CHECK_ARG(NULL, out != NULL, "clmse_promote_dtypes: out is NULL");
    CLMSE_FORWARD(clmse__check_floating(NULL, "clmse_promote_dtypes: the first operand", a));
    CLMSE_FORWARD(clmse__check_floating(NULL, "clmse_promote_dtypes: the second operand", b));
    if (a == b)
        *out = a;
    else if (a == CLMSE_DTYPE_F64 || b == CLMSE_DTYPE_F64)
        *out = CLMSE_DTYPE_F64;
    else /* f32 with anything narrower, and f16 with bf16 */
        *out = CLMSE_DTYPE_F32;
    return CLMSE_SUCCESS;
}

/* Writes "(2, 3)" (torch's spelling, "()" for 0-d, "(3,)" for 1-d). */
void clmse__format_shape(uint32_t ndim, const size_t *shape, char *buf, size_t cap)
{
    size_t used = (size_t)snprintf(buf, cap, "(");
    for (uint32_t k = 0; k < ndim && used < cap; k++)
        used += (size_t)snprintf(buf + used, cap - used, k ? ", %zu" : "%zu", shape[k]);
    if (used < cap)
        snprintf(buf + used, cap - used, ndim == 1 ? ",)" : ")");
}

clmse_status clmse__broadcast(clmse_context *ctx, uint32_t na, const size_t *a, uint32_t nb,
                              const size_t *b, uint32_t *ndim, size_t *shape)
{
    if (na > CLMSE_MAX_NDIM || nb > CLMSE_MAX_NDIM)
        return clmse__fail(ctx, CLMSE_ERROR_INVALID_LAYOUT, CL_SUCCESS,
                           "rank %u exceeds CLMSE_MAX_NDIM (%d)", na > nb ? na : nb,
                           CLMSE_MAX_NDIM);
    const uint32_t n = na > nb ? na : nb;
    for (uint32_t k = 0; k < n; k++) {
        /* Align trailing dimensions; a missing leading dimension acts as size 1. */
        const size_t da = k + na >= n ? a[k + na - n] : 1;
        const size_t db = k + nb >= n ? b[k + nb - n] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[200], sb[200];
            clmse__format_shape(na, a, sa, sizeof sa);
            clmse__format_shape(nb, b, sb, sizeof sb);
            return clmse__fail(ctx, CLMSE_ERROR_SHAPE_MISMATCH, CL_SUCCESS,
                               "input shape %s and target shape %s do not broadcast: size %zu "
                               "against %zu at dimension %u",
                               sa, sb, da, db, k);
        }
        shape[k] = da == 1 ? db : da;
    }
    *ndim = n;
    return CLMSE_SUCCESS;
}

clmse_status clmse_broadcast_shapes(uint32_t ndim_a, const size_t *shape_a, uint32_t ndim_b,
                                    const size_t *shape_b, uint32_t *ndim, size_t *shape)
{
    CLMSE_CHECK_ARG(NULL, ndim != NULL && shape != NULL,
                    "clmse_broadcast_shapes: ndim or shape is NULL");
    CLMSE_CHECK_ARG(NULL, (ndim_a == 0 || shape_a != NULL) && (ndim_b == 0 || shape_b != NULL),
                    "clmse_broadcast_shapes: an input shape is NULL");
    return clmse__broadcast(NULL, ndim_a, shape_a, ndim_b, shape_b, ndim, shape);
}

clmse_status clmse_tensor_init(clmse_tensor *t, cl_mem buffer, clmse_dtype dtype, uint32_t ndim,
                               const size_t *shape, const int64_t *strides, size_t offset)
{
    CLMSE_CHECK_ARG(NULL, t != NULL, "clmse_tensor_init: t is NULL");
    CLMSE_CHECK_ARG(NULL, ndim == 0 || shape != NULL, "clmse_tensor_init: shape is NULL");
    if (ndim > CLMSE_MAX_NDIM)
        return clmse__fail(NULL, CLMSE_ERROR_INVALID_LAYOUT, CL_SUCCESS,
                           "clmse_tensor_init: rank %u exceeds CLMSE_MAX_NDIM (%d)", ndim,
                           CLMSE_MAX_NDIM);
    clmse_tensor v;
    memset(&v, 0, sizeof v);
    v.buffer = buffer;
    v.offset = offset;
    v.dtype = dtype;
    v.ndim = ndim;
    int64_t running = 1;
    for (uint32_t k = ndim; k-- > 0;) {
        v.shape[k] = shape[k];
        if (strides != NULL) {
            v.strides[k] = strides[k];
        } else {
            v.strides[k] = running;
            /* Saturate: an overflowing C-order stride is caught by clmse__tensor_extent. */
            running = shape[k] != 0 && (uint64_t)running > (uint64_t)INT64_MAX / shape[k]
                          ? INT64_MAX
                          : running * (int64_t)(shape[k] ? shape[k] : 1);
        }
    }
    size_t numel, extent;
    CLMSE_FORWARD(clmse__tensor_extent(NULL, "clmse_tensor_init", &v, &numel, &extent));
    *t = v;
    return CLMSE_SUCCESS;
}

clmse_status clmse__tensor_extent(clmse_context *ctx, const char *what, const clmse_tensor *t,
                                  size_t *numel, size_t *extent)
{
    if (t->ndim > CLMSE_MAX_NDIM)
        return clmse__fail(ctx, CLMSE_ERROR_INVALID_LAYOUT, CL_SUCCESS,
                           "%s: rank %u exceeds CLMSE_MAX_NDIM (%d)", what, t->ndim,
                           CLMSE_MAX_NDIM);
    size_t count = 1, last = 0; /* last: the largest element index the view reaches */
    int empty = 0;
    for (uint32_t k = 0; k < t->ndim; k++) {
        if (t->strides[k] < 0)
            return clmse__fail(ctx, CLMSE_ERROR_INVALID_LAYOUT, CL_SUCCESS,
                               "%s: stride %lld of dimension %u is negative", what,
                               (long long)t->strides[k], k);
        if (t->shape[k] == 0)
            empty = 1;
        else if (count > SIZE_MAX / t->shape[k])
            return clmse__fail(ctx, CLMSE_ERROR_SIZE_OVERFLOW, CL_SUCCESS,
                               "%s: the element count overflows size_t", what);
        count *= t->shape[k] ? t->shape[k] : 1;
    }
    for (uint32_t k = 0; k < t->ndim && !empty; k++) {
        const uint64_t span = (uint64_t)(t->shape[k] - 1);
        const uint64_t stride = (uint64_t)t->strides[k];
        if (stride != 0 && span > (SIZE_MAX - last) / stride)
            return clmse__fail(ctx, CLMSE_ERROR_SIZE_OVERFLOW, CL_SUCCESS,
                               "%s: the strides reach past the address space", what);
        last += (size_t)(span * stride);
    }
    const size_t elem = clmse_dtype_size(t->dtype) ? clmse_dtype_size(t->dtype) : 1;
    if (!empty && (last > SIZE_MAX / elem - 1 || t->offset > SIZE_MAX / elem - 1 - last))
        return clmse__fail(ctx, CLMSE_ERROR_SIZE_OVERFLOW, CL_SUCCESS,
                           "%s: offset %zu plus the strided extent overflows", what, t->offset);
    *numel = empty ? 0 : count;
    *extent = empty ? 0 : last + 1;
    return CLMSE_SUCCESS;
}

clmse_status clmse__check_reduction(clmse_context *ctx, const char *fn, clmse_reduction r)
{
    if (r == CLMSE_REDUCTION_NONE || r == CLMSE_REDUCTION_MEAN || r == CLMSE_REDUCTION_SUM)
        return CLMSE_SUCCESS;
    return clmse__fail(ctx, CLMSE_ERROR_INVALID_REDUCTION, CL_SUCCESS,
                       "%s: reduction %d is not none (0), mean (1) or sum (2)", fn, (int)r);
}

clmse_status clmse_legacy_reduction(int size_average, int reduce, clmse_reduction reduction,
                                    clmse_reduction *out)
{
    CLMSE_CHECK_ARG(NULL, out != NULL, "clmse_legacy_reduction: out is NULL");
    CLMSE_CHECK_ARG(
        NULL,
        (size_average == 0 || size_average == 1 || size_average == CLMSE_LEGACY_UNSET) &&
            (reduce == 0 || reduce == 1 || reduce == CLMSE_LEGACY_UNSET),
        "clmse_legacy_reduction: size_average %d and reduce %d must each be 0, 1 or "
        "CLMSE_LEGACY_UNSET",
        size_average, reduce);
    if (size_average == CLMSE_LEGACY_UNSET && reduce == CLMSE_LEGACY_UNSET) {
        CLMSE_FORWARD(clmse__check_reduction(NULL, "clmse_legacy_reduction", reduction));
        *out = reduction;
        return CLMSE_SUCCESS;
    }
    /* torch reads None as True, and a legacy argument overrides `reduction`. */
    const int sa = size_average != 0, red = reduce != 0;
    *out = !red ? CLMSE_REDUCTION_NONE : sa ? CLMSE_REDUCTION_MEAN : CLMSE_REDUCTION_SUM;
    return CLMSE_SUCCESS;
}
