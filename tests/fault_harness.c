/* SPDX-License-Identifier: MIT */
/* What an injected failure must look like (fault_harness.h): the documented and mapped status,
 * a message naming the failed call, and every OpenCL reference given back. */
#include "fault_harness.h"

#include <check.h>
#include <string.h>

/* ==== what a failure must look like ===================================================== */

/* The statuses clmse.h documents for each kind of entry point that a failing OpenCL call can
 * reach; each list ends with CLMSE_SUCCESS. */
static int documented(api a, clmse_status st)
{
    static const clmse_status create[] = {CLMSE_ERROR_INVALID_ARGUMENT,
                                          CLMSE_ERROR_INVALID_DEVICE_SPEC,
                                          CLMSE_ERROR_NO_PLATFORM,
                                          CLMSE_ERROR_NO_DEVICE,
                                          CLMSE_ERROR_UNSUPPORTED_DEVICE,
                                          CLMSE_ERROR_OUT_OF_HOST_MEMORY,
                                          CLMSE_ERROR_OUT_OF_DEVICE_MEMORY,
                                          CLMSE_ERROR_OPENCL,
                                          CLMSE_SUCCESS};
    static const clmse_status adopt[] = {CLMSE_ERROR_INVALID_ARGUMENT,
                                         CLMSE_ERROR_UNSUPPORTED_DEVICE,
                                         CLMSE_ERROR_OUT_OF_HOST_MEMORY,
                                         CLMSE_ERROR_OUT_OF_DEVICE_MEMORY,
                                         CLMSE_ERROR_OPENCL,
                                         CLMSE_SUCCESS};
    static const clmse_status devices[] = {CLMSE_ERROR_INVALID_ARGUMENT,
                                           CLMSE_ERROR_NO_PLATFORM,
                                           CLMSE_ERROR_NO_DEVICE,
                                           CLMSE_ERROR_OUT_OF_HOST_MEMORY,
                                           CLMSE_ERROR_OUT_OF_DEVICE_MEMORY,
                                           CLMSE_ERROR_OPENCL,
                                           CLMSE_SUCCESS};
    static const clmse_status call[] = {
        CLMSE_ERROR_INVALID_ARGUMENT,     CLMSE_ERROR_BUILD_FAILED, CLMSE_ERROR_OUT_OF_HOST_MEMORY,
        CLMSE_ERROR_OUT_OF_DEVICE_MEMORY, CLMSE_ERROR_OPENCL,       CLMSE_SUCCESS};
    static const clmse_status *const lists[] = {create, adopt, devices, call};
    for (const clmse_status *p = lists[a]; *p != CLMSE_SUCCESS; p++)
        if (*p == st)
            return 1;
    return 0;
}

/* How clmse reports an OpenCL error code: resource exhaustion by kind, a failed build as
 * such, anything else as CLMSE_ERROR_OPENCL (the raw code stays in last_cl_error). */
static clmse_status mapped_status(cl_int err)
{
    switch (err) {
    case CL_OUT_OF_HOST_MEMORY:
        return CLMSE_ERROR_OUT_OF_HOST_MEMORY;
    case CL_OUT_OF_RESOURCES:
    case CL_MEM_OBJECT_ALLOCATION_FAILURE:
        return CLMSE_ERROR_OUT_OF_DEVICE_MEMORY;
    case CL_BUILD_PROGRAM_FAILURE:
        return CLMSE_ERROR_BUILD_FAILED;
    default:
        return CLMSE_ERROR_OPENCL;
    }
}

/* A call made with call k of the shim's count armed: the failure must have happened, and the
 * entry point must report exactly it, on `msg_ctx` (NULL: this thread's context-less slot). */
void ft_check_failure(const char *where, unsigned long k, api a, clmse_status st,
                      const clmse_context *msg_ctx)
{
    const char *fn = clf_failed_function();
    ck_assert_msg(fn != NULL, "%s: the workload made fewer than %lu OpenCL calls this time", where,
                  k);
    const cl_int err = clf_failed_error();
    ck_assert_msg(st != CLMSE_SUCCESS,
                  "%s: call %lu (%s) failed with %d, yet clmse reported "
                  "success",
                  where, k, fn, (int)err);
    ck_assert_msg(st == mapped_status(err), "%s: call %lu (%s) failed with %d: got %s, want %s",
                  where, k, fn, (int)err, clmse_status_string(st),
                  clmse_status_string(mapped_status(err)));
    ck_assert_msg(documented(a, st), "%s: call %lu (%s): %s is not documented for this call", where,
                  k, fn, clmse_status_string(st));
    const char *msg = clmse_context_last_error(msg_ctx);
    ck_assert_msg(strstr(msg, fn) != NULL,
                  "%s: call %lu failed in %s, but the last error "
                  "does not name it: '%s'",
                  where, k, fn, msg);
    ck_assert_msg(clmse_context_last_cl_error(msg_ctx) == err,
                  "%s: call %lu (%s): last_cl_error %d, want %d", where, k, fn,
                  (int)clmse_context_last_cl_error(msg_ctx), (int)err);
}

refs ft_live_refs(void)
{
    refs r;
    for (int i = 0; i < CLF_KIND_COUNT; i++)
        r.n[i] = clf_live((clf_kind)i);
    return r;
}

/* clmse holds exactly the OpenCL references it held at `base`. */
void ft_check_refs(const refs *base, const char *where, unsigned long k)
{
    for (int i = 0; i < CLF_KIND_COUNT; i++) {
        const long now = clf_live((clf_kind)i);
        ck_assert_msg(now == base->n[i],
                      "%s, after call %lu failed (%s): clmse holds %ld %s references, "
                      "%ld before",
                      where, k, clf_failed_function() ? clf_failed_function() : "-", now,
                      clf_kind_name((clf_kind)i), base->n[i]);
    }
}

const refs ft_no_refs; /* all zero */

int ft_same_info(const clmse_device_info *a, const clmse_device_info *b)
{
    return a->platform_index == b->platform_index && a->device_index == b->device_index &&
           strcmp(a->platform_name, b->platform_name) == 0 && strcmp(a->name, b->name) == 0 &&
           strcmp(a->vendor, b->vendor) == 0 && strcmp(a->version, b->version) == 0 &&
           strcmp(a->opencl_c_version, b->opencl_c_version) == 0 &&
           strcmp(a->driver_version, b->driver_version) == 0 && a->type == b->type &&
           a->compute_units == b->compute_units &&
           a->max_work_group_size == b->max_work_group_size &&
           a->global_mem_size == b->global_mem_size && a->local_mem_size == b->local_mem_size &&
           a->has_fp64 == b->has_fp64 && a->has_fp16 == b->has_fp16;
}

/* An event clmse returned: NULL after a failure; waited for and released after success. */
void ft_settle_event(clmse_status st, cl_event ev, const char *what)
{
    if (st != CLMSE_SUCCESS) {
        ck_assert_msg(ev == NULL, "%s failed but returned an event", what);
        return;
    }
    ck_assert_msg(ev != NULL, "%s returned no event", what);
    ck_assert_int_eq(clWaitForEvents(1, &ev), CL_SUCCESS);
    ck_assert_int_eq(clReleaseEvent(ev), CL_SUCCESS);
}

clmse_tensor ft_view(cl_mem buf, clmse_dtype dtype, uint32_t nd, const size_t *shape,
                     const int64_t *strides)
{
    clmse_tensor t;
    CHECK_OK(NULL, clmse_tensor_init(&t, buf, dtype, nd, shape, strides, 0));
    return t;
}
