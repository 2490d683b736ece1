/* SPDX-License-Identifier: MIT */
/* Device enumeration, CLMSE_DEVICE/spec parsing, the default selection order and feature probes. */
#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct device_entry {
    cl_platform_id platform;
    cl_device_id device;
    unsigned pi, di;
} device_entry;

#define MAX_PLATFORMS 32
#define MAX_DEVICES_PER_PLATFORM 64

/* Lists every device of every platform, in platform order. *out is malloc'd (may be NULL if
 * count is 0). */
static clmse_status enumerate(device_entry **out, size_t *count)
{
    cl_platform_id plats[MAX_PLATFORMS];
    cl_uint nplat = 0;
    *out = NULL;
    *count = 0;
    cl_int err = clGetPlatformIDs(MAX_PLATFORMS, plats, &nplat);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR: the ICD loader found no vendor */ ||
        (err == CL_SUCCESS && nplat == 0))
        return clmse__fail(NULL, CLMSE_ERROR_NO_PLATFORM, err,
                           "clGetPlatformIDs found no OpenCL platform (is an ICD such as "
                           "pocl-opencl-icd installed, and OCL_ICD_VENDORS unset?)");
    if (err != CL_SUCCESS)
        return clmse__cl_fail(NULL, err, "clGetPlatformIDs");
    if (nplat > MAX_PLATFORMS)
        nplat = MAX_PLATFORMS;

    device_entry *list = malloc(sizeof(*list) * MAX_PLATFORMS * MAX_DEVICES_PER_PLATFORM);
    if (list == NULL)
        return clmse__fail(NULL, CLMSE_ERROR_OUT_OF_HOST_MEMORY, CL_SUCCESS,
                           "no memory for the device list");
    size_t n = 0;
    for (cl_uint p = 0; p < nplat; p++) {
        cl_device_id devs[MAX_DEVICES_PER_PLATFORM];
        cl_uint ndev = 0;
        err = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, MAX_DEVICES_PER_PLATFORM, devs, &ndev);
        if (err == CL_DEVICE_NOT_FOUND)
            continue; /* a platform with no device is not an error */
        if (err != CL_SUCCESS) {
            free(list);
            return clmse__cl_fail(NULL, err, "clGetDeviceIDs");
        }
        if (ndev > MAX_DEVICES_PER_PLATFORM)
            ndev = MAX_DEVICES_PER_PLATFORM;
        for (cl_uint d = 0; d < ndev; d++)
            list[n++] = (device_entry){plats[p], devs[d], p, d};
    }
    *out = list;
    *count = n;
    return CLMSE_SUCCESS;
}

/* CL_INVALID_VALUE means the device does not answer the query (too old for it, or a value
 * longer than our buffer): the field stays empty. Any other error is a real failure. */
static cl_int optional(cl_int err) { return err == CL_INVALID_VALUE ? CL_SUCCESS : err; }

/* dst is always a valid string, empty unless the query succeeded. */
static cl_int get_string(cl_device_id dev, cl_device_info what, char *dst)
{
    cl_int err = clGetDeviceInfo(dev, what, CLMSE_INFO_STRING - 1, dst, NULL);
    if (err != CL_SUCCESS)
        dst[0] = '\0';
    dst[CLMSE_INFO_STRING - 1] = '\0';
    return optional(err);
}

static int has_extension(const char *extensions, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = strstr(extensions, name); p != NULL; p = strstr(p + 1, name)) {
        int starts = p == extensions || p[-1] == ' ';
        int ends = p[len] == '\0' || p[len] == ' ';
        if (starts && ends)
            return 1;
    }
    return 0;
}

clmse_status clmse__device_fill_info(cl_device_id dev, cl_platform_id plat, unsigned pi,
                                     unsigned di, clmse_device_info *info)
{
    memset(info, 0, sizeof(*info));
    info->platform_index = pi;
    info->device_index = di;
    cl_int err =
        clGetPlatformInfo(plat, CL_PLATFORM_NAME, CLMSE_INFO_STRING - 1, info->platform_name, NULL);
    if (err != CL_SUCCESS)
        info->platform_name[0] = '\0';
    if (optional(err) != CL_SUCCESS)
        return clmse__cl_fail(NULL, err, "clGetPlatformInfo(CL_PLATFORM_NAME)");
    err = get_string(dev, CL_DEVICE_NAME, info->name);
    if (err == CL_SUCCESS)
        err = get_string(dev, CL_DEVICE_VENDOR, info->vendor);
    if (err == CL_SUCCESS)
        err = get_string(dev, CL_DEVICE_VERSION, info->version);
    if (err == CL_SUCCESS)
        err = get_string(dev, CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version);
    if (err == CL_SUCCESS)
        err = get_string(dev, CL_DRIVER_VERSION, info->driver_version);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(dev, CL_DEVICE_TYPE, sizeof(info->type), &info->type, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(dev, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof(cl_uint),
                              &info->compute_units, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(dev, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof(size_t),
                              &info->max_work_group_size, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(dev, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof(cl_ulong),
                              &info->global_mem_size, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(dev, CL_DEVICE_LOCAL_MEM_SIZE, sizeof(cl_ulong),
                              &info->local_mem_size, NULL);
    if (err != CL_SUCCESS)
        return clmse__cl_fail(NULL, err, "clGetDeviceInfo");

    size_t ext_len = 0;
    err = clGetDeviceInfo(dev, CL_DEVICE_EXTENSIONS, 0, NULL, &ext_len);
    char *ext = err == CL_SUCCESS ? calloc(ext_len + 1, 1) : NULL;
    if (err == CL_SUCCESS && ext == NULL)
        return clmse__fail(NULL, CLMSE_ERROR_OUT_OF_HOST_MEMORY, CL_SUCCESS,
                           "no memory for the device's extension list");
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(dev, CL_DEVICE_EXTENSIONS, ext_len, ext, NULL);
    if (err == CL_SUCCESS) {
        info->has_fp64 = has_extension(ext, "cl_khr_fp64");
        info->has_fp16 = has_extension(ext, "cl_khr_fp16");
    }
    free(ext);
    if (err != CL_SUCCESS)
        return clmse__cl_fail(NULL, err, "clGetDeviceInfo(CL_DEVICE_EXTENSIONS)");
    /* OpenCL 1.2+ devices may report double support only through the FP config. */
    cl_device_fp_config dcfg = 0;
    if (!info->has_fp64) {
        err = optional(clGetDeviceInfo(dev, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof(dcfg), &dcfg, NULL));
        if (err != CL_SUCCESS)
            return clmse__cl_fail(NULL, err, "clGetDeviceInfo(CL_DEVICE_DOUBLE_FP_CONFIG)");
        info->has_fp64 = dcfg != 0;
    }
    return CLMSE_SUCCESS;
}

clmse_status clmse_device_count(size_t *count)
{
    CLMSE_CHECK_ARG(NULL, count != NULL, "clmse_device_count: count is NULL");
    device_entry *list;
    clmse_status st = enumerate(&list, count);
    free(list);
    return st;
}

clmse_status clmse_device_get_info(size_t index, clmse_device_info *info)
{
    CLMSE_CHECK_ARG(NULL, info != NULL, "clmse_device_get_info: info is NULL");
    device_entry *list;
    size_t n;
    CLMSE_FORWARD(enumerate(&list, &n));
    clmse_status st;
    if (index >= n)
        st = clmse__fail(NULL, CLMSE_ERROR_INVALID_ARGUMENT, CL_SUCCESS,
                         "clmse_device_get_info: index %zu out of range (%zu devices)", index, n);
    else
        st = clmse__device_fill_info(list[index].device, list[index].platform, list[index].pi,
                                     list[index].di, info);
    free(list);
    return st;
}

static int all_digits(const char *s, size_t len)
{
    if (len == 0 || len > 6)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int icase_contains(const char *hay, const char *needle)
{
    size_t hn = strlen(hay), nn = strlen(needle);
    for (size_t i = 0; i + nn <= hn; i++) {
        size_t k = 0;
        while (k < nn && tolower((unsigned char)hay[i + k]) == tolower((unsigned char)needle[k]))
            k++;
        if (k == nn)
            return 1;
    }
    return 0;
}

static int icase_equal(const char *a, const char *b)
{
    return strlen(a) == strlen(b) && icase_contains(a, b);
}

/* Sets *found to the first device of `type`, or -1. A failed query is an error, not "no":
 * guessing would silently pick another device. */
static clmse_status first_of_type(const device_entry *list, size_t n, cl_device_type type,
                                  long *found)
{
    *found = -1;
    for (size_t i = 0; i < n && *found < 0; i++) {
        cl_device_type t = 0;
        cl_int err = clGetDeviceInfo(list[i].device, CL_DEVICE_TYPE, sizeof(t), &t, NULL);
        if (err != CL_SUCCESS)
            return clmse__cl_fail(NULL, err, "clGetDeviceInfo(CL_DEVICE_TYPE)");
        if (t & type)
            *found = (long)i;
    }
    return CLMSE_SUCCESS;
}

/* Picks an index in `list` for `spec`; the message names the spec and what exists. */
static clmse_status pick(const device_entry *list, size_t n, const char *spec, size_t *index)
{
    const char *origin = "device spec";
    if (spec == NULL || spec[0] == '\0') {
        spec = getenv("CLMSE_DEVICE");
        origin = "CLMSE_DEVICE";
    }
    long found = -1;
    if (spec == NULL || spec[0] == '\0') {
        CLMSE_FORWARD(first_of_type(list, n, CL_DEVICE_TYPE_GPU, &found));
        if (found < 0)
            CLMSE_FORWARD(first_of_type(list, n, CL_DEVICE_TYPE_ACCELERATOR, &found));
        if (found < 0 && n > 0)
            found = 0;
        if (found < 0)
            return clmse__fail(NULL, CLMSE_ERROR_NO_DEVICE, CL_SUCCESS,
                               "the OpenCL platforms offer no device");
    } else if (strchr(spec, ':') != NULL) {
        const char *colon = strchr(spec, ':');
        size_t left = (size_t)(colon - spec), right = strlen(colon + 1);
        if (!all_digits(spec, left) || !all_digits(colon + 1, right))
            return clmse__fail(NULL, CLMSE_ERROR_INVALID_DEVICE_SPEC, CL_SUCCESS,
                               "%s '%s': expected PLATFORM:DEVICE with two indices, e.g. 0:1",
                               origin, spec);
        unsigned p = (unsigned)atoi(spec), d = (unsigned)atoi(colon + 1);
        for (size_t i = 0; i < n; i++)
            if (list[i].pi == p && list[i].di == d)
                found = (long)i;
    } else if (icase_equal(spec, "gpu")) {
        CLMSE_FORWARD(first_of_type(list, n, CL_DEVICE_TYPE_GPU, &found));
    } else if (icase_equal(spec, "cpu")) {
        CLMSE_FORWARD(first_of_type(list, n, CL_DEVICE_TYPE_CPU, &found));
    } else if (icase_equal(spec, "accelerator")) {
        CLMSE_FORWARD(first_of_type(list, n, CL_DEVICE_TYPE_ACCELERATOR, &found));
    } else {
        for (size_t i = 0; i < n && found < 0; i++) {
            char name[CLMSE_INFO_STRING];
            cl_int err = get_string(list[i].device, CL_DEVICE_NAME, name);
            if (err != CL_SUCCESS)
                return clmse__cl_fail(NULL, err, "clGetDeviceInfo(CL_DEVICE_NAME)");
            if (icase_contains(name, spec))
                found = (long)i;
        }
    }
    if (found < 0) {
        clmse__fail(NULL, CLMSE_ERROR_NO_DEVICE, CL_SUCCESS,
                    "%s '%s' matches no device; available:", origin, spec);
        for (size_t i = 0; i < n; i++) {
            char name[CLMSE_INFO_STRING], line[CLMSE_INFO_STRING + 32];
            get_string(list[i].device, CL_DEVICE_NAME, name); /* a hint: empty will do */
            snprintf(line, sizeof line, " [%u:%u] %s", list[i].pi, list[i].di, name);
            clmse__append_error(NULL, line);
        }
        return CLMSE_ERROR_NO_DEVICE;
    }
    *index = (size_t)found;
    return CLMSE_SUCCESS;
}

clmse_status clmse_device_select(const char *spec, size_t *index)
{
    CLMSE_CHECK_ARG(NULL, index != NULL, "clmse_device_select: index is NULL");
    device_entry *list;
    size_t n;
    CLMSE_FORWARD(enumerate(&list, &n));
    clmse_status st = pick(list, n, spec, index);
    free(list);
    return st;
}

clmse_status clmse__device_resolve(const char *spec, cl_platform_id *plat, cl_device_id *dev)
{
    device_entry *list;
    size_t n, index = 0;
    CLMSE_FORWARD(enumerate(&list, &n));
    clmse_status st = pick(list, n, spec, &index);
    if (st == CLMSE_SUCCESS) {
        *plat = list[index].platform;
        *dev = list[index].device;
    }
    free(list);
    return st;
}

clmse_status clmse__device_info_for(cl_device_id dev, clmse_device_info *info)
{
    cl_platform_id plat = NULL;
    cl_int err = clGetDeviceInfo(dev, CL_DEVICE_PLATFORM, sizeof(plat), &plat, NULL);
    if (err != CL_SUCCESS)
        return clmse__cl_fail(NULL, err, "clGetDeviceInfo(CL_DEVICE_PLATFORM)");
    /* Adopted devices (sub-devices, say) may be missing from the enumeration: no P:D then. */
    unsigned pi = (unsigned)-1, di = (unsigned)-1;
    device_entry *list;
    size_t n;
    CLMSE_FORWARD(enumerate(&list, &n));
    for (size_t i = 0; i < n; i++)
        if (list[i].device == dev) {
            pi = list[i].pi;
            di = list[i].di;
        }
    free(list);
    return clmse__device_fill_info(dev, plat, pi, di, info);
}
