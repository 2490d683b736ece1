/* SPDX-License-Identifier: MIT */
/* Program assembly (embedded sources or $CLMSE_KERNEL_DIR), lazy builds with -D options, build
 * logs into the last error, and the per-context program cache. */
#include "internal.h"
#include "kernels.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_FILES 8 /* per program */
_Static_assert(COUNT(clmse__program_contiguous) <= MAX_FILES &&
                   COUNT(clmse__program_strided) <= MAX_FILES,
               "a program assembles more kernel files than MAX_FILES");
/* cl/common.cl names the dtype ids the host passes as -DCLMSE_*_DTYPE=<id>. */
_Static_assert(CLMSE_DTYPE_F32 == 0 && CLMSE_DTYPE_F64 == 1 && CLMSE_DTYPE_F16 == 2 &&
                   CLMSE_DTYPE_BF16 == 3,
               "clmse_dtype and cl/common.cl's CLMSE_DTYPE_* ids differ");

static clmse_status read_file(clmse_context *ctx, const char *dir, const char *name, char **text,
                              size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return clmse__fail(ctx, CLMSE_ERROR_BUILD_FAILED, CL_SUCCESS,
                           "CLMSE_KERNEL_DIR: cannot open %s", path);
    clmse_status st = CLMSE_SUCCESS;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    *text = size >= 0 && fseek(f, 0, SEEK_SET) == 0 ? malloc((size_t)size + 1) : NULL;
    if (*text == NULL || fread(*text, 1, (size_t)size, f) != (size_t)size) {
        free(*text);
        *text = NULL;
        st = clmse__fail(ctx, CLMSE_ERROR_BUILD_FAILED, CL_SUCCESS,
                         "CLMSE_KERNEL_DIR: cannot read %s", path);
    } else {
        (*text)[size] = '\0';
        *len = (size_t)size;
    }
    fclose(f);
    return st;
}

/* The program's embedded (or $CLMSE_KERNEL_DIR) kernel files, joined in assembly order. */
static clmse_status kernel_source(clmse_context *ctx, int strided, char **out_source)
{
    const char *dir = getenv("CLMSE_KERNEL_DIR"); /* developer override: edit kernels, no rebuild */
    const clmse__kernel_file *files = strided ? clmse__program_strided : clmse__program_contiguous;
    const size_t count = strided ? COUNT(clmse__program_strided) : COUNT(clmse__program_contiguous);
    char *texts[MAX_FILES] = {NULL};
    size_t lens[MAX_FILES], total = 1;
    clmse_status st = CLMSE_SUCCESS;
    for (size_t i = 0; i < count && st == CLMSE_SUCCESS; i++) {
        if (dir != NULL && dir[0] != '\0') {
            st = read_file(ctx, dir, files[i].name, &texts[i], &lens[i]);
        } else {
            lens[i] = *files[i].len;
        }
        total += lens[i] + 64;
    }
    char *src = st == CLMSE_SUCCESS ? malloc(total) : NULL;
    if (st == CLMSE_SUCCESS && src == NULL)
        st = clmse__fail(ctx, CLMSE_ERROR_OUT_OF_HOST_MEMORY, CL_SUCCESS,
                         "no memory for the kernel source");
    if (st == CLMSE_SUCCESS) {
        size_t used = 0;
        for (size_t i = 0; i < count; i++) {
            /* #line keeps build-log positions pointing into the right file. */
            used += (size_t)snprintf(src + used, total - used, "#line 1 \"%s\"\n", files[i].name);
            memcpy(src + used, texts[i] ? texts[i] : files[i].text, lens[i]);
            used += lens[i];
            src[used++] = '\n';
        }
        src[used] = '\0';
        *out_source = src;
    }
    for (size_t i = 0; i < count; i++)
        free(texts[i]);
    return st;
}

/* "-cl-std=" follows the device's OpenCL C version; 1.2 features are all we use. */
static const char *cl_std_option(const clmse_device_info *info)
{
    int major = 1, minor = 0;
    if (sscanf(info->opencl_c_version, "OpenCL C %d.%d", &major, &minor) != 2)
        return "";
    if (major > 1 || (major == 1 && minor >= 2))
        return "-cl-std=CL1.2";
    return minor == 1 ? "-cl-std=CL1.1" : "";
}

int clmse__acc_kind(const clmse_context *ctx, int compute_double)
{
    if (compute_double)
        return 2; /* float64 data: double Neumaier pairs */
    return ctx->accumulation == CLMSE_ACCUMULATE_DOUBLE ? 1 : 0;
}

static void format_options(const clmse_context *ctx, const clmse__program_key *key,
                           const clmse_plan *p, char *buf, size_t cap)
{
    const int compute_double = key->x == CLMSE_DTYPE_F64 || key->y == CLMSE_DTYPE_F64;
    snprintf(buf, cap,
             "%s -DCLMSE_ACC_KIND=%d -DCLMSE_COMPUTE_DOUBLE=%d -DCLMSE_X_DTYPE=%d "
             "-DCLMSE_Y_DTYPE=%d -DCLMSE_OUT_DTYPE=%d -DCLMSE_CPU_SHAPE=%d -DCLMSE_WG_SIZE=%zu "
             "-DCLMSE_VEC=%zu -DCLMSE_FINAL_WG_SIZE=%zu",
             cl_std_option(&ctx->info), clmse__acc_kind(ctx, compute_double), compute_double,
             (int)key->x, (int)key->y, (int)key->out, p->shape == CLMSE_SHAPE_CPU,
             p->work_group_size, p->shape == CLMSE_SHAPE_CPU ? p->vector_width : 8,
             p->final_work_group_size);
}

static clmse_status build_failed(clmse_context *ctx, cl_program prog, cl_int err,
                                 const char *options)
{
    /* The log is fetched first so the message is written in one go: another thread failing on
     * the same context between two writes would splice its message into this one. */
    size_t len = 0;
    char *log = NULL;
    if (clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len) ==
            CL_SUCCESS &&
        (log = calloc(len + 1, 1)) != NULL &&
        clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, len, log, NULL) !=
            CL_SUCCESS)
        log[0] = '\0';
    clmse__fail(ctx, CLMSE_ERROR_BUILD_FAILED, err,
                "clBuildProgram for '%s' with options '%s' failed: %s (%d); build log:\n%s",
                ctx->info.name, options, clmse__cl_error_name(err), (int)err, log ? log : "");
    free(log);
    return CLMSE_ERROR_BUILD_FAILED;
}

/* By kernel slot (CLMSE__K_*). */
static const char *const contiguous_kernels[CLMSE__MAX_KERNELS] = {
    [CLMSE__K_PASS] = "clmse_mse_pass",
    [CLMSE__K_FINAL] = "clmse_reduce_final",
    [CLMSE__K_LOSS] = "clmse_mse_loss"};
static const char *const strided_kernels[CLMSE__MAX_KERNELS] = {
    "clmse_mse_strided_pass",        "clmse_reduce_final",
    "clmse_mse_strided_grad_x",      "clmse_mse_strided_grad_y",
    "clmse_mse_strided_grad_x_fold", "clmse_mse_strided_grad_y_fold"};

static clmse_status build(clmse_context *ctx, const clmse__program_key *key, const clmse_plan *plan,
                          const char *options, clmse__program *out)
{
    clmse_status st = CLMSE_SUCCESS;
    char *source = NULL;
    cl_program prog = NULL;
    cl_kernel kernels[CLMSE__MAX_KERNELS] = {NULL};
    const char *const *names = key->strided ? strided_kernels : contiguous_kernels;
    cl_int err = CL_SUCCESS;

    st = kernel_source(ctx, key->strided, &source);
    if (st != CLMSE_SUCCESS)
        goto cleanup;
    const char *strings[1] = {source};
    prog = clCreateProgramWithSource(ctx->cl_ctx, 1, strings, NULL, &err);
    CLMSE_CL_CHECK(ctx, st, err, "clCreateProgramWithSource", cleanup);
    clmse__debug("building kernels for '%s' with '%s'", ctx->info.name, options);
    err = clBuildProgram(prog, 1, &ctx->device, options, NULL, NULL);
    if (err != CL_SUCCESS) {
        st = build_failed(ctx, prog, err, options);
        goto cleanup;
    }
    for (int k = 0; k < CLMSE__MAX_KERNELS; k++) {
        if (names[k] == NULL)
            continue;
        kernels[k] = clCreateKernel(prog, names[k], &err);
        CLMSE_CL_CHECK(ctx, st, err, "clCreateKernel", cleanup);
    }

    snprintf(out->options, sizeof out->options, "%s", options);
    out->program = prog;
    memcpy(out->kernels, kernels, sizeof kernels);
    out->plan = *plan;
    prog = NULL;
    memset(kernels, 0, sizeof kernels);

cleanup:
    for (int k = 0; k < CLMSE__MAX_KERNELS; k++)
        if (kernels[k])
            clReleaseKernel(kernels[k]);
    if (prog)
        clReleaseProgram(prog);
    free(source);
    return st;
}

/* The largest work-group a built kernel accepts on this device (register pressure may make it
 * smaller than the device maximum). A failed query is an error: read as a limit of 0 it would
 * shrink the plan for good, or blame the device. */
static clmse_status kernel_wg_limit(clmse_context *ctx, cl_kernel k, size_t *limit)
{
    *limit = 0;
    cl_int err = clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof(*limit),
                                          limit, NULL);
    if (err != CL_SUCCESS)
        return clmse__cl_fail(ctx, err, "clGetKernelWorkGroupInfo(CL_KERNEL_WORK_GROUP_SIZE)");
    return CLMSE_SUCCESS;
}

static void program_release(clmse__program *p)
{
    for (int k = 0; k < CLMSE__MAX_KERNELS; k++)
        if (p->kernels[k])
            clReleaseKernel(p->kernels[k]);
    if (p->program)
        clReleaseProgram(p->program);
    memset(p, 0, sizeof(*p));
}

/* Whether p answers this key and requested plan: the fields its build options come from
 * (format_options); the context's own, accumulation and OpenCL C version, never change. */
static int answers(const clmse__program *p, const clmse__program_key *key, const clmse_plan *r)
{
    const clmse_plan *a = &p->asked;
    return p->key.strided == key->strided && p->key.x == key->x && p->key.y == key->y &&
           p->key.out == key->out && a->shape == r->shape &&
           a->work_group_size == r->work_group_size && a->vector_width == r->vector_width &&
           a->final_work_group_size == r->final_work_group_size;
}

clmse_status clmse__program_get(clmse_context *ctx, const clmse__program_key *key,
                                const clmse_plan *requested, clmse__program **out)
{
    clmse_plan plan = *requested;
    for (size_t i = 0; i < ctx->num_programs; i++)
        if (answers(&ctx->programs[i], key, requested)) {
            *out = &ctx->programs[i];
            return CLMSE_SUCCESS;
        }
    for (int attempt = 0; attempt < 12; attempt++) {
        char options[512];
        format_options(ctx, key, &plan, options, sizeof options);
        if (ctx->num_programs == CLMSE__MAX_PROGRAMS) {
            /* Full (a tuner trying plans): the oldest goes. Enqueued work keeps its kernels. */
            program_release(&ctx->programs[0]);
            memmove(&ctx->programs[0], &ctx->programs[1],
                    sizeof(ctx->programs[0]) * (CLMSE__MAX_PROGRAMS - 1));
            memset(&ctx->programs[CLMSE__MAX_PROGRAMS - 1], 0, sizeof(ctx->programs[0]));
            ctx->num_programs--;
        }
        clmse__program *p = &ctx->programs[ctx->num_programs];
        CLMSE_FORWARD(build(ctx, key, &plan, options, p));
        size_t pass_limit = SIZE_MAX, final_limit = 0;
        clmse_status st = CLMSE_SUCCESS;
        for (int k = 0; k < CLMSE__MAX_KERNELS && st == CLMSE_SUCCESS; k++)
            if (k != CLMSE__K_FINAL && p->kernels[k] != NULL) {
                size_t limit = 0;
                st = kernel_wg_limit(ctx, p->kernels[k], &limit);
                pass_limit = limit < pass_limit ? limit : pass_limit;
            }
        if (st == CLMSE_SUCCESS)
            st = kernel_wg_limit(ctx, p->kernels[CLMSE__K_FINAL], &final_limit);
        if (st != CLMSE_SUCCESS) {
            program_release(p);
            return st;
        }
        if (pass_limit >= plan.work_group_size && final_limit >= plan.final_work_group_size) {
            p->key = *key;
            p->asked = *requested;
            ctx->num_programs++;
            *out = p;
            return CLMSE_SUCCESS;
        }
        /* The device cannot run this geometry: halve what is too large and build again. */
        program_release(p);
        if (plan.work_group_size <= 1 && plan.final_work_group_size <= 1)
            break;
        if (pass_limit < plan.work_group_size)
            plan.work_group_size /= 2;
        if (final_limit < plan.final_work_group_size)
            plan.final_work_group_size /= 2;
    }
    return clmse__fail(ctx, CLMSE_ERROR_UNSUPPORTED_DEVICE, CL_SUCCESS,
                       "device '%s' cannot run the clmse kernels at any work-group size",
                       ctx->info.name);
}

void clmse__programs_release(clmse_context *ctx)
{
    for (size_t i = 0; i < ctx->num_programs; i++)
        program_release(&ctx->programs[i]);
    ctx->num_programs = 0;
}
