/* SPDX-License-Identifier: MIT */
/* `clmse info`: the library version, every OpenCL device, and the one clmse would choose. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clmse.h"
#include "clmse_tuning.h"
#include "commands.h"
#include "options.h"
#include "timing.h"

static void info_usage(FILE *out)
{
    fputs("Usage: clmse info [--device SPEC] [--build]\n\n"
          "Shows the library version and every OpenCL device as P:D, marking with '*' the\n"
          "device clmse would use, and says what chose it. For that device it then shows\n"
          "the tuning file and the launch plan of every dtype, operation and size class,\n"
          "with where each came from (default, tuned).\n\n"
          "Options:\n"
          "  --device SPEC  mark the device SPEC selects: gpu, cpu, accelerator, P:D, or part\n"
          "                 of a device name; default: $CLMSE_DEVICE, else the first GPU, else\n"
          "                 the first accelerator, else the first device\n"
          "  --build        also time the first and the second call of each kernel program\n"
          "                 (float32 and float64 contiguous, float32 strided) in a new\n"
          "                 context: the first includes the program's build, which the\n"
          "                 OpenCL driver's own cache may serve; scripts/build_cost.sh runs it\n"
          "                 twice on an empty driver cache\n"
          "  --help         show this help\n",
          out);
}

/* One forward call (mean) of 1024 elements of `dtype`, stride `stride`; waits for it. */
static clmse_status call_once(clmse_context *ctx, cl_command_queue q, cl_mem buf, clmse_dtype dtype,
                              int64_t stride)
{
    const size_t n = 1024;
    const int64_t strides[1] = {stride};
    clmse_tensor x, out;
    clmse_mse_args a = {CLMSE_REDUCTION_MEAN, 0, &x, &x, &out, NULL, NULL, NULL, 0};
    clmse_status st = clmse_tensor_init(&x, buf, dtype, 1, &n, strides, 0);

    if (st == CLMSE_SUCCESS)
        st = clmse_tensor_init(&out, buf, dtype, 0, NULL, NULL, 2 * n);
    if (st == CLMSE_SUCCESS)
        st = clmse_mse(ctx, &a, 0, NULL, NULL);
    if (st == CLMSE_SUCCESS && clFinish(q) != CL_SUCCESS)
        st = CLMSE_ERROR_OPENCL;
    return st;
}

/* The build cost as a user meets it: a new context, then the first call of each program. */
static int print_builds(clmse_context *ctx, const clmse_device_info *d)
{
    static const struct {
        const char *name;
        clmse_dtype dtype;
        int64_t stride;
    } programs[] = {{"float32 contiguous", CLMSE_DTYPE_F32, 1},
                    {"float64 contiguous", CLMSE_DTYPE_F64, 1},
                    {"float32 strided", CLMSE_DTYPE_F32, 2}};
    cl_context clctx = NULL;
    cl_device_id dev = NULL;
    cl_command_queue q = NULL;
    cl_int err = CL_SUCCESS;
    clmse_status st = clmse_context_get_cl(ctx, &clctx, &dev, &q);
    cl_mem buf =
        st == CLMSE_SUCCESS ? clCreateBuffer(clctx, CL_MEM_READ_WRITE, 2049 * 8, NULL, &err) : NULL;

    if (buf == NULL) {
        fprintf(stderr, "clmse info: clCreateBuffer failed: %d%s\n", (int)err,
                cli_cl_error_name(err));
        return CLI_EXIT_RUNTIME;
    }
    /* Zeros: the loss itself does not matter here. */
    static const unsigned char zeros[2049 * 8];
    err = clEnqueueWriteBuffer(q, buf, CL_TRUE, 0, sizeof zeros, zeros, 0, NULL, NULL);
    if (err != CL_SUCCESS) {
        fprintf(stderr, "clmse info: clEnqueueWriteBuffer failed: %d%s\n", (int)err,
                cli_cl_error_name(err));
        clReleaseMemObject(buf);
        return CLI_EXIT_RUNTIME;
    }
    /* A one-line kernel first: the driver's one-time start-up (POCL loads and sets up LLVM on
     * the first build of a process) lands there, not on clmse's first program. */
    const char *trivial = "__kernel void clmse_info_trivial(__global int *p) { p[0] = 1; }\n";
    double start = timing_now_us() / 1e3;
    cl_program prog = clCreateProgramWithSource(clctx, 1, &trivial, NULL, &err);
    if (err == CL_SUCCESS) {
        err = clBuildProgram(prog, 1, &dev, "", NULL, NULL);
        clReleaseProgram(prog);
    }
    printf("program builds (first call, build included; then a second call):\n");
    if (err == CL_SUCCESS)
        printf("  %-20s build      %8.1f ms   (the driver's start-up)\n", "one-line kernel",
               timing_now_us() / 1e3 - start);
    for (size_t i = 0; i < sizeof programs / sizeof programs[0] && err == CL_SUCCESS; i++) {
        if (programs[i].dtype == CLMSE_DTYPE_F64 && !d->has_fp64)
            continue;
        double t0 = timing_now_us() / 1e3;
        st = call_once(ctx, q, buf, programs[i].dtype, programs[i].stride);
        double t1 = timing_now_us() / 1e3;
        if (st == CLMSE_SUCCESS)
            st = call_once(ctx, q, buf, programs[i].dtype, programs[i].stride);
        double t2 = timing_now_us() / 1e3;
        if (st != CLMSE_SUCCESS) {
            fprintf(stderr, "clmse info: %s: %s: %s\n", programs[i].name, clmse_status_string(st),
                    clmse_context_last_error(ctx));
            clReleaseMemObject(buf);
            return CLI_EXIT_RUNTIME;
        }
        printf("  %-20s first call %8.1f ms   second call %6.2f ms\n", programs[i].name, t1 - t0,
               t2 - t1);
    }
    clReleaseMemObject(buf);
    if (err != CL_SUCCESS) {
        fprintf(stderr, "clmse info: building a one-line kernel failed: %d%s\n", (int)err,
                cli_cl_error_name(err));
        return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

static const char *type_name(cl_device_type type)
{
    /* A bit mask: a GPU may also carry CL_DEVICE_TYPE_DEFAULT. */
    if (type & CL_DEVICE_TYPE_GPU)
        return "GPU";
    if (type & CL_DEVICE_TYPE_CPU)
        return "CPU";
    if (type & CL_DEVICE_TYPE_ACCELERATOR)
        return "ACCELERATOR";
    return "other";
}

static void print_device(const clmse_device_info *d, int selected)
{
    printf("%c %u:%u  %s\n", selected ? '*' : ' ', d->platform_index, d->device_index, d->name);
    printf("      platform        %s\n", d->platform_name);
    printf("      vendor          %s\n", d->vendor);
    printf("      type            %s\n", type_name(d->type));
    printf("      compute units   %u\n", (unsigned)d->compute_units);
    printf("      OpenCL C        %s\n", d->opencl_c_version);
    printf("      driver          %s\n", d->driver_version);
    printf("      fp64            %s\n", d->has_fp64 ? "yes" : "no");
    printf("      fp16            %s\n", d->has_fp16 ? "yes" : "no");
    printf("      global memory   %llu MiB\n",
           (unsigned long long)(d->global_mem_size / (1024u * 1024u)));
}

/* Names what made clmse_device_select() choose, following its documented precedence. */
static void print_choice(const char *spec, const clmse_device_info *d)
{
    const char *env = getenv("CLMSE_DEVICE");

    printf("selected: %u:%u %s, ", d->platform_index, d->device_index, d->name);
    if (spec && spec[0])
        printf("by --device \"%s\"\n", spec);
    else if (env && env[0])
        printf("by CLMSE_DEVICE=\"%s\"\n", env);
    else
        printf("by default (CLMSE_DEVICE unset): first GPU, else first accelerator, "
               "else first device\n");
}

/* The chosen device's tuning file and plan table, from a context on it (no kernel builds). */
static int print_plans(const clmse_device_info *d, int builds)
{
    char spec[64];
    clmse_context *ctx = NULL;
    clmse_context_options opt = {0};

    snprintf(spec, sizeof spec, "%u:%u", d->platform_index, d->device_index);
    opt.device = spec;
    clmse_status st = clmse_context_create(&opt, &ctx);
    if (st != CLMSE_SUCCESS) {
        fprintf(stderr, "clmse info: %s: %s\n", clmse_status_string(st),
                clmse_context_last_error(NULL));
        return CLI_EXIT_RUNTIME;
    }
    printf("tuning file: %s\n", clmse_context_tuning(ctx));
    printf("launch plans (contiguous data; strided and float16 data use a fixed plan):\n");
    printf("  %-5s %-9s %-7s %-8s %-5s %6s %4s %7s %10s %8s\n", "dtype", "op", "size", "source",
           "shape", "wg", "vec", "groups", "per_item", "final_wg");
    for (int dt = 0; dt < 2 && st == CLMSE_SUCCESS; dt++) {
        if (dt == CLMSE_DTYPE_F64 && !d->has_fp64)
            continue;
        for (int op = 0; op < 3 && st == CLMSE_SUCCESS; op++)
            for (int c = 0; c < 3 && st == CLMSE_SUCCESS; c++) {
                clmse_plan p;
                clmse_plan_source src;

                st = clmse_context_get_plan(ctx, (clmse_dtype)dt, (clmse_op)op, (clmse_size_class)c,
                                            &p, &src);
                if (st == CLMSE_SUCCESS)
                    printf("  %-5s %-9s %-7s %-8s %-5s %6zu %4zu %7zu %10zu %8zu\n",
                           dt ? "f64" : "f32", clmse_op_name((clmse_op)op),
                           clmse_size_class_name((clmse_size_class)c), clmse_plan_source_name(src),
                           clmse_plan_shape_name(p.shape), p.work_group_size, p.vector_width,
                           p.max_groups, p.min_per_item, p.final_work_group_size);
            }
    }
    if (st != CLMSE_SUCCESS)
        fprintf(stderr, "clmse info: %s: %s\n", clmse_status_string(st),
                clmse_context_last_error(ctx));
    printf("  size classes: small n < 2^17, medium n < 2^22, large n >= 2^22\n");
    int rc = st == CLMSE_SUCCESS ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
    if (rc == CLI_EXIT_OK && builds)
        rc = print_builds(ctx, d);
    clmse_context_release(ctx);
    return rc;
}

int cmd_info(int argc, char **argv)
{
    const char *spec = NULL;
    int builds = 0;
    char select_error[1024] = "";
    clmse_status st, select_st;
    size_t count = 0, selected = 0;
    clmse_device_info chosen = {0};

    for (int i = 1; i < argc; i++) {
        const char *value;

        if (cli_is_help(argv[i])) {
            info_usage(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--build") == 0) {
            builds = 1;
            continue;
        }
        if (cli_option_value(argc, argv, &i, "--device", &value)) {
            if (!value)
                return cli_usage_error("info", "option '--device' needs a value");
            spec = value;
            continue;
        }
        return cli_unknown_argument("info", argv[i]);
    }

    printf("clmse %s\n", clmse_version());
    st = clmse_device_count(&count);
    if (st != CLMSE_SUCCESS) {
        fprintf(stderr, "clmse info: %s: %s\n", clmse_status_string(st),
                clmse_context_last_error(NULL));
        return CLI_EXIT_RUNTIME;
    }
    /* Select before listing so the '*' can be drawn; keep the message, which the listing's
     * own calls may replace. */
    select_st = clmse_device_select(spec, &selected);
    if (select_st != CLMSE_SUCCESS)
        snprintf(select_error, sizeof select_error, "%s", clmse_context_last_error(NULL));

    printf("%zu OpenCL device%s\n", count, count == 1 ? "" : "s");
    for (size_t i = 0; i < count; i++) {
        clmse_device_info info;

        st = clmse_device_get_info(i, &info);
        if (st != CLMSE_SUCCESS) {
            fprintf(stderr, "clmse info: %s: %s\n", clmse_status_string(st),
                    clmse_context_last_error(NULL));
            return CLI_EXIT_RUNTIME;
        }
        if (select_st == CLMSE_SUCCESS && i == selected)
            chosen = info;
        print_device(&info, select_st == CLMSE_SUCCESS && i == selected);
    }

    if (select_st != CLMSE_SUCCESS) {
        fprintf(stderr, "clmse info: %s: %s\n", clmse_status_string(select_st), select_error);
        /* A malformed --device is the command line's fault; one from CLMSE_DEVICE is not. */
        if (select_st == CLMSE_ERROR_INVALID_DEVICE_SPEC && spec && spec[0])
            return CLI_EXIT_USAGE;
        return CLI_EXIT_RUNTIME;
    }
    if (selected >= count) {
        fprintf(stderr, "clmse info: clmse_device_select returned index %zu of %zu devices\n",
                selected, count);
        return CLI_EXIT_RUNTIME;
    }
    print_choice(spec, &chosen);
    return print_plans(&chosen, builds);
}
