/* SPDX-License-Identifier: MIT */
#include "naive.h"

#include <stdio.h>
#include <string.h>

/* The `naive` method: the plain kernels a careful developer writes, kept here and not in the
 * library, as the device-side reference on any device. Vector loads (float4; double2 with
 * -DNAIVE_F64) over n / VW vectors, then a scalar tail; one accumulator of the element type per
 * work-item; a grid-stride loop; a local-memory tree per work-group into partial[group]; then
 * naive_finish, one work-group, sums the partials and divides by n. All stream kernels take the
 * same arguments (x, y, gx, gy, scale, n, partial, tree) and ignore those they do not need. */
static const char naive_source[] =
    "#ifdef NAIVE_F64\n"
    "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n"
    "typedef double real;\n"
    "typedef double2 realv;\n"
    "#define VW 2\n"
    "#define SUMV(v) ((v).x + (v).y)\n"
    "#else\n"
    "typedef float real;\n"
    "typedef float4 realv;\n"
    "#define VW 4\n"
    "#define SUMV(v) ((v).x + (v).y + (v).z + (v).w)\n"
    "#endif\n"
    "#define ARGS __global const real *x, __global const real *y, __global real *gx, \\\n"
    "             __global real *gy, real scale, ulong n, __global real *partial, \\\n"
    "             __local real *tree\n"
    "\n"
    "real stream(__global const real *x, __global const real *y, __global real *gx,\n"
    "                   __global real *gy, real scale, ulong n, const int loss, const int wgx,\n"
    "                   const int wgy)\n"
    "{\n"
    "    size_t stride = get_global_size(0), nv = n / VW;\n"
    "    __global const realv *xv = (__global const realv *)x;\n"
    "    __global const realv *yv = (__global const realv *)y;\n"
    "    __global realv *gxv = (__global realv *)gx, *gyv = (__global realv *)gy;\n"
    "    real acc = 0;\n"
    "\n"
    "    for (size_t i = get_global_id(0); i < nv; i += stride) {\n"
    "        realv a = xv[i], b = yv[i], d = a - b;\n"
    "\n"
    "        if (loss)\n"
    "            acc += SUMV(d * d);\n"
    "        if (wgx)\n"
    "            gxv[i] = scale * d;\n"
    "        if (wgy)\n"
    "            gyv[i] = scale * (b - a);\n"
    "    }\n"
    "    for (size_t i = nv * VW + get_global_id(0); i < n; i += stride) {\n"
    "        real d = x[i] - y[i];\n"
    "\n"
    "        if (loss)\n"
    "            acc += d * d;\n"
    "        if (wgx)\n"
    "            gx[i] = scale * d;\n"
    "        if (wgy)\n"
    "            gy[i] = scale * (y[i] - x[i]);\n"
    "    }\n"
    "    return acc;\n"
    "}\n"
    "\n"
    "/* The work-group's sum of acc, by a tree in local memory (a power-of-two size). */\n"
    "real group_sum(real acc, __local real *tree)\n"
    "{\n"
    "    size_t lid = get_local_id(0);\n"
    "\n"
    "    tree[lid] = acc;\n"
    "    barrier(CLK_LOCAL_MEM_FENCE);\n"
    "    for (size_t s = get_local_size(0) / 2; s > 0; s /= 2) {\n"
    "        if (lid < s)\n"
    "            tree[lid] += tree[lid + s];\n"
    "        barrier(CLK_LOCAL_MEM_FENCE);\n"
    "    }\n"
    "    return tree[0];\n"
    "}\n"
    "\n"
    "__kernel void naive_forward(ARGS)\n"
    "{\n"
    "    real sum = group_sum(stream(x, y, gx, gy, scale, n, 1, 0, 0), tree);\n"
    "\n"
    "    if (get_local_id(0) == 0)\n"
    "        partial[get_group_id(0)] = sum;\n"
    "}\n"
    "\n"
    "__kernel void naive_backward(ARGS) { stream(x, y, gx, gy, scale, n, 0, 1, 1); }\n"
    "\n"
    "__kernel void naive_backward_x(ARGS) { stream(x, y, gx, gy, scale, n, 0, 1, 0); }\n"
    "\n"
    "__kernel void naive_fused(ARGS)\n"
    "{\n"
    "    real sum = group_sum(stream(x, y, gx, gy, scale, n, 1, 1, 1), tree);\n"
    "\n"
    "    if (get_local_id(0) == 0)\n"
    "        partial[get_group_id(0)] = sum;\n"
    "}\n"
    "\n"
    "__kernel void naive_finish(__global const real *partial, uint groups, ulong n,\n"
    "                           __global real *out, __local real *tree)\n"
    "{\n"
    "    real acc = 0;\n"
    "\n"
    "    for (uint i = get_local_id(0); i < groups; i += get_local_size(0))\n"
    "        acc += partial[i];\n"
    "    acc = group_sum(acc, tree);\n"
    "    if (get_local_id(0) == 0)\n"
    "        out[0] = acc / (real)n;\n"
    "}\n";
/* The `minimal_pipelined` method: the least a launch of the op can do, as a time floor for
 * --pipelined at small N. One work-item and one launch (a loss needs no fold), the fewest
 * arguments (n and the scale's bits packed in one ulong2), loads as wide as clmse's on a CPU
 * (16 floats or 8 doubles; under clang one unaligned vector access, as clmse does), sums in
 * double where the device has fp64 (as clmse's float32 sums there) and else in float. */
static const char minimal_source[] =
    "#ifdef cl_khr_fp64\n"
    "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n"
    "#endif\n"
    "#ifdef NAIVE_F64\n"
    "typedef double real;\n"
    "typedef double8 realw;\n"
    "typedef double8 accw;\n"
    "typedef double acc;\n"
    "#define MW 8\n"
    "#define TO_ACCW(v) (v)\n"
    "#define VLOADW vload8\n"
    "#define VSTOREW vstore8\n"
    "#define SCALE(a) as_double((a).s1)\n"
    "#else\n"
    "typedef float real;\n"
    "typedef float16 realw;\n"
    "#define MW 16\n"
    "#define VLOADW vload16\n"
    "#define VSTOREW vstore16\n"
    "#define SCALE(a) as_float((uint)(a).s1)\n"
    "#ifdef cl_khr_fp64\n"
    "typedef double16 accw;\n"
    "typedef double acc;\n"
    "#define TO_ACCW(v) convert_double16(v)\n"
    "#else\n"
    "typedef float16 accw;\n"
    "typedef float acc;\n"
    "#define TO_ACCW(v) (v)\n"
    "#endif\n"
    "#endif\n"
    "#if defined(__clang__)\n"
    "typedef real realw_any __attribute__((ext_vector_type(MW), aligned(sizeof(real))));\n"
    "#define LOADW(p) (*(__global const realw_any *)(p))\n"
    "#define STOREW(v, p) (*(__global realw_any *)(p) = (v))\n"
    "#else\n"
    "#define LOADW(p) VLOADW(0, p)\n"
    "#define STOREW(v, p) VSTOREW(v, 0, p)\n"
    "#endif\n"
    "\n"
    "acc minimal(__global const real *x, __global const real *y, __global real *gx,\n"
    "            __global real *gy, ulong2 a, const int loss, const int wgx, const int wgy)\n"
    "{\n"
    "    const ulong n = a.s0;\n"
    "    const real scale = SCALE(a);\n"
    "    accw lanes = 0;\n"
    "    ulong i = 0;\n"
    "\n"
    "    for (; i + MW <= n; i += MW) {\n"
    "        const realw xv = LOADW(x + i), yv = LOADW(y + i), d = xv - yv;\n"
    "\n"
    "        if (loss)\n"
    "            lanes += TO_ACCW(d * d);\n"
    "        if (wgx)\n"
    "            STOREW(scale * d, gx + i);\n"
    "        if (wgy)\n"
    "            STOREW(scale * (yv - xv), gy + i);\n"
    "    }\n"
    "    acc lane[MW], sum = 0;\n"
    "    VSTOREW(lanes, 0, lane);\n"
    "    for (int k = 0; k < MW; k++)\n"
    "        sum += lane[k];\n"
    "    for (; i < n; i++) {\n"
    "        const real d = x[i] - y[i];\n"
    "\n"
    "        if (loss)\n"
    "            sum += (acc)(d * d);\n"
    "        if (wgx)\n"
    "            gx[i] = scale * d;\n"
    "        if (wgy)\n"
    "            gy[i] = scale * (y[i] - x[i]);\n"
    "    }\n"
    "    return sum;\n"
    "}\n"
    "\n"
    "#define IN __global const real *x, __global const real *y\n"
    "__kernel void minimal_forward(IN, __global real *out, ulong2 a)\n"
    "{\n"
    "    out[0] = (real)(minimal(x, y, 0, 0, a, 1, 0, 0) / (acc)a.s0);\n"
    "}\n"
    "\n"
    "__kernel void minimal_backward(IN, __global real *gx, __global real *gy, ulong2 a)\n"
    "{\n"
    "    minimal(x, y, gx, gy, a, 0, 1, 1);\n"
    "}\n"
    "\n"
    "__kernel void minimal_backward_x(IN, __global real *gx, ulong2 a)\n"
    "{\n"
    "    minimal(x, y, gx, 0, a, 0, 1, 0);\n"
    "}\n"
    "\n"
    "__kernel void minimal_fused(IN, __global real *out, __global real *gx, __global real *gy,\n"
    "                            ulong2 a)\n"
    "{\n"
    "    out[0] = (real)(minimal(x, y, gx, gy, a, 1, 1, 1) / (acc)a.s0);\n"
    "}\n";
static const char *const minimal_names[BENCH_OPS] = {"minimal_forward", "minimal_backward",
                                                     "minimal_backward_x", "minimal_fused"};
static const char *const stream_names[BENCH_OPS] = {"naive_forward", "naive_backward",
                                                    "naive_backward_x", "naive_fused"};

/* A program of `source`, built with -DNAIVE_F64 for float64; a failure prints the build log. */
static cl_int build_program(cl_context ctx, cl_device_id device, const char *source, int f64,
                            const char *name, cl_program *out, const char **what)
{
    cl_int err = CL_SUCCESS;

    *out = clCreateProgramWithSource(ctx, 1, &source, NULL, &err);
    if (err != CL_SUCCESS) {
        *out = NULL;
        *what = "clCreateProgramWithSource(naive)";
        return err;
    }
    err = clBuildProgram(*out, 1, &device, f64 ? "-DNAIVE_F64" : "", NULL, NULL);
    if (err != CL_SUCCESS) {
        char log[4096] = "";

        clGetProgramBuildInfo(*out, device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
        fprintf(stderr, "%s kernels' build log:\n%s\n", name, log);
        *what = "clBuildProgram(naive)";
    }
    return err;
}

static cl_int build_minimal(bench_naive *nv, cl_context ctx, cl_device_id device, int f64,
                            const char **what)
{
    cl_int err =
        build_program(ctx, device, minimal_source, f64, "minimal", &nv->minimal_program, what);

    for (int k = 0; k < BENCH_OPS && err == CL_SUCCESS; k++) {
        nv->minimal[k] = clCreateKernel(nv->minimal_program, minimal_names[k], &err);
        if (err != CL_SUCCESS) {
            nv->minimal[k] = NULL;
            *what = "clCreateKernel(minimal)";
        }
    }
    return err;
}

cl_int naive_build(bench_naive *nv, cl_context ctx, cl_device_id device, int f64, const char **what)
{
    const char *source = naive_source;
    const size_t elsize = f64 ? sizeof(cl_double) : sizeof(cl_float);
    size_t wg = NAIVE_MAX_WG, kwg = 0;
    cl_uint units = 1;
    cl_int err = CL_SUCCESS;

    memset(nv, 0, sizeof *nv);
    nv->f64 = f64;
    err = build_program(ctx, device, source, f64, "naive", &nv->program, what);
    if (err != CL_SUCCESS)
        return err;
    for (int k = 0; k <= BENCH_OPS; k++) {
        cl_kernel *out = k < BENCH_OPS ? &nv->stream[k] : &nv->finish;

        *out = clCreateKernel(nv->program, k < BENCH_OPS ? stream_names[k] : "naive_finish", &err);
        if (err != CL_SUCCESS) {
            *out = NULL;
            *what = "clCreateKernel(naive)";
            return err;
        }
        /* Every launch uses one size: the largest power of two that every kernel allows. */
        err = clGetKernelWorkGroupInfo(*out, device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg,
                                       NULL);
        if (err != CL_SUCCESS) {
            *what = "clGetKernelWorkGroupInfo(naive)";
            return err;
        }
        while (wg > kwg && wg > 1)
            wg /= 2;
    }
    err = build_minimal(nv, ctx, device, f64, what);
    if (err != CL_SUCCESS)
        return err;
    err = clGetDeviceInfo(device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof units, &units, NULL);
    if (err != CL_SUCCESS) {
        *what = "clGetDeviceInfo(CL_DEVICE_MAX_COMPUTE_UNITS)";
        return err;
    }
    nv->wg = wg;
    nv->groups = (units ? units : 1) * NAIVE_GROUPS_PER_CU;
    nv->partial = clCreateBuffer(ctx, CL_MEM_READ_WRITE, nv->groups * elsize, NULL, &err);
    if (err == CL_SUCCESS)
        nv->loss = clCreateBuffer(ctx, CL_MEM_READ_WRITE, elsize, NULL, &err);
    if (err != CL_SUCCESS)
        *what = "clCreateBuffer(naive)";
    return err;
}

cl_int naive_enqueue(const bench_naive *nv, cl_command_queue queue, bench_op op, size_t n, cl_mem x,
                     cl_mem y, cl_mem gx, cl_mem gy, const char **what)
{
    cl_kernel k = nv->stream[op];
    const cl_ulong count = n;
    const cl_uint groups = nv->groups;
    const cl_double scale = 2.0 / (double)n;
    const cl_float scale32 = (cl_float)scale;
    const size_t global = (size_t)groups * nv->wg;
    const size_t tree = nv->wg * (nv->f64 ? sizeof(cl_double) : sizeof(cl_float));
    cl_int err = CL_SUCCESS;

    err |= clSetKernelArg(k, 0, sizeof(cl_mem), &x);
    err |= clSetKernelArg(k, 1, sizeof(cl_mem), &y);
    err |= clSetKernelArg(k, 2, sizeof(cl_mem), &gx);
    err |= clSetKernelArg(k, 3, sizeof(cl_mem), &gy);
    if (nv->f64)
        err |= clSetKernelArg(k, 4, sizeof scale, &scale);
    else
        err |= clSetKernelArg(k, 4, sizeof scale32, &scale32);
    err |= clSetKernelArg(k, 5, sizeof count, &count);
    err |= clSetKernelArg(k, 6, sizeof(cl_mem), &nv->partial);
    err |= clSetKernelArg(k, 7, tree, NULL);
    if (err != CL_SUCCESS) {
        *what = "clSetKernelArg(naive)";
        return err;
    }
    err = clEnqueueNDRangeKernel(queue, k, 1, NULL, &global, &nv->wg, 0, NULL, NULL);
    if (err != CL_SUCCESS) {
        *what = "clEnqueueNDRangeKernel(naive)";
        return err;
    }
    if (op != BENCH_FORWARD && op != BENCH_FUSED)
        return CL_SUCCESS;
    k = nv->finish;
    err |= clSetKernelArg(k, 0, sizeof(cl_mem), &nv->partial);
    err |= clSetKernelArg(k, 1, sizeof groups, &groups);
    err |= clSetKernelArg(k, 2, sizeof count, &count);
    err |= clSetKernelArg(k, 3, sizeof(cl_mem), &nv->loss);
    err |= clSetKernelArg(k, 4, tree, NULL);
    if (err != CL_SUCCESS) {
        *what = "clSetKernelArg(naive_finish)";
        return err;
    }
    err = clEnqueueNDRangeKernel(queue, k, 1, NULL, &nv->wg, &nv->wg, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        *what = "clEnqueueNDRangeKernel(naive_finish)";
    return err;
}

cl_int naive_enqueue_minimal(const bench_naive *nv, cl_command_queue queue, bench_op op, size_t n,
                             cl_mem x, cl_mem y, cl_mem gx, cl_mem gy, const char **what)
{
    /* The results after x and y, in the kernels' order. */
    static const int uses[BENCH_OPS][3] = {{1, 0, 0}, {0, 1, 1}, {0, 1, 0}, {1, 1, 1}};
    const cl_mem results[3] = {nv->loss, gx, gy};
    const cl_kernel k = nv->minimal[op];
    const double scale = 2.0 / (double)n;
    const cl_float scale32 = (cl_float)scale;
    cl_ulong2 a = {{n, 0}};
    cl_uint arg = 0;
    cl_int err = CL_SUCCESS;

    if (nv->f64) {
        memcpy(&a.s[1], &scale, sizeof scale);
    } else {
        cl_uint bits;

        memcpy(&bits, &scale32, sizeof bits);
        a.s[1] = bits;
    }
    err |= clSetKernelArg(k, arg++, sizeof(cl_mem), &x);
    err |= clSetKernelArg(k, arg++, sizeof(cl_mem), &y);
    for (int r = 0; r < 3; r++)
        if (uses[op][r])
            err |= clSetKernelArg(k, arg++, sizeof(cl_mem), &results[r]);
    err |= clSetKernelArg(k, arg, sizeof a, &a);
    if (err != CL_SUCCESS) {
        *what = "clSetKernelArg(minimal)";
        return err;
    }
    const size_t one = 1;
    err = clEnqueueNDRangeKernel(queue, k, 1, NULL, &one, &one, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        *what = "clEnqueueNDRangeKernel(minimal)";
    return err;
}

void naive_release(bench_naive *nv)
{
    for (int k = 0; k < BENCH_OPS; k++)
        if (nv->minimal[k])
            clReleaseKernel(nv->minimal[k]);
    if (nv->minimal_program)
        clReleaseProgram(nv->minimal_program);
    for (int k = 0; k < BENCH_OPS; k++)
        if (nv->stream[k])
            clReleaseKernel(nv->stream[k]);
    if (nv->finish)
        clReleaseKernel(nv->finish);
    if (nv->program)
        clReleaseProgram(nv->program);
    if (nv->partial)
        clReleaseMemObject(nv->partial);
    if (nv->loss)
        clReleaseMemObject(nv->loss);
    memset(nv, 0, sizeof *nv);
}
