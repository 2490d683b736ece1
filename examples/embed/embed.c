/* SPDX-License-Identifier: MIT */
/* An application that owns its OpenCL objects trains y = w*x + b with clmse supplying the loss. */
/*
 * Everything stays on the device: the application's own kernel computes pred = w*x + b, clmse
 * computes the mean squared error and d loss / d pred after that kernel's event, and a second
 * kernel of the application turns the gradient into one step of gradient descent on w and b
 * after clmse's event. The queue is out-of-order where the device allows it, so only the event
 * chain orders the work. The host reads the loss every PRINT_EVERY steps and w, b at the end.
 */
#define CL_TARGET_OPENCL_VERSION 120 /* OpenCL 1.2 host API, as clmse itself uses */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <CL/cl.h>
#include <clmse.h>

#define N 4096             /* training points */
#define STEPS 200          /* gradient descent steps */
#define PRINT_EVERY 20     /* steps between printed losses */
#define LEARNING_RATE 0.1f /* w converges by (1 - lr * 2 E[x^2]) = 1 - 0.2/3 per step */
#define TRUE_W 3.0f
#define TRUE_B 2.0f
#define NOISE 0.1f          /* |noise| <= NOISE, so the best loss is about NOISE^2 / 3 */
#define MAX_FINAL_LOSS 0.01 /* checks on the result */
#define PARAM_TOLERANCE 0.05
#define MAX_WORK_GROUP 256 /* the update kernel runs one work-group of a power-of-two size */

static const char kernel_source[] =
    "kernel void predict(global const float *x, global const float *params,\n"
    "                    global float *pred, uint n)\n"
    "{\n"
    "    size_t i = get_global_id(0);\n"
    "    if (i < n)\n"
    "        pred[i] = params[0] * x[i] + params[1];\n"
    "}\n"
    "\n"
    "/* One work-group: dw = sum(grad_pred * x), db = sum(grad_pred), then w -= lr * dw and\n"
    " * b -= lr * db. A fixed tree keeps the sums, and so the run, reproducible. */\n"
    "kernel void update(global const float *x, global const float *grad_pred,\n"
    "                   global float *params, float lr, uint n,\n"
    "                   local float *sum_w, local float *sum_b)\n"
    "{\n"
    "    size_t lid = get_local_id(0), size = get_local_size(0);\n"
    "    float dw = 0.0f, db = 0.0f;\n"
    "    for (size_t i = lid; i < n; i += size) {\n"
    "        dw += grad_pred[i] * x[i];\n"
    "        db += grad_pred[i];\n"
    "    }\n"
    "    sum_w[lid] = dw;\n"
    "    sum_b[lid] = db;\n"
    "    barrier(CLK_LOCAL_MEM_FENCE);\n"
    "    for (size_t s = size / 2; s > 0; s /= 2) {\n"
    "        if (lid < s) {\n"
    "            sum_w[lid] += sum_w[lid + s];\n"
    "            sum_b[lid] += sum_b[lid + s];\n"
    "        }\n"
    "        barrier(CLK_LOCAL_MEM_FENCE);\n"
    "    }\n"
    "    if (lid == 0) {\n"
    "        params[0] -= lr * sum_w[0];\n"
    "        params[1] -= lr * sum_b[0];\n"
    "    }\n"
    "}\n";

/* Everything the application creates, released together by app_release(). */
typedef struct app {
    cl_context context;
    cl_device_id device;
    cl_command_queue queue;
    cl_program program;
    cl_kernel predict, update;
    cl_mem x, y, params, pred, loss, grad_pred;
    clmse_context *mse;
    size_t update_size; /* work-group size of `update` */
} app;

static int cl_failed(cl_int err, const char *call)
{
    if (err == CL_SUCCESS)
        return 0;
    fprintf(stderr, "embed: %s failed with OpenCL error %d\n", call, (int)err);
    return 1;
}

static int clmse_failed(clmse_status st, const clmse_context *ctx, const char *call)
{
    if (st == CLMSE_SUCCESS)
        return 0;
    fprintf(stderr, "embed: %s: %s: %s\n", call, clmse_status_string(st),
            clmse_context_last_error(ctx));
    return 1;
}

/* Deterministic noise in [-NOISE, NOISE]: an integer hash, identical on every machine. */
static float noise_at(uint32_t i)
{
    uint32_t h = i * 2654435761u;

    h ^= h >> 16;
    h *= 0x45d9f3bu;
    h ^= h >> 16;
    return NOISE * ((float)(h & 0xffffu) / 32767.5f - 1.0f);
}

/* The first GPU of any platform, else the first device of any type. */
static int pick_device(cl_platform_id *platform, cl_device_id *device)
{
    static const cl_device_type types[2] = {CL_DEVICE_TYPE_GPU, CL_DEVICE_TYPE_ALL};
    cl_platform_id platforms[16];
    cl_uint count = 0;
    cl_int err = clGetPlatformIDs(16, platforms, &count);

    /* The ICD loader says CL_PLATFORM_NOT_FOUND_KHR (-1001) when no driver is installed. */
    if (err != CL_SUCCESS || count == 0) {
        fprintf(stderr, "embed: no OpenCL platform (clGetPlatformIDs returned %d)\n", (int)err);
        return 1;
    }
    if (count > 16)
        count = 16;
    for (int t = 0; t < 2; t++) {
        for (cl_uint p = 0; p < count; p++) {
            cl_uint found = 0;

            /* CL_DEVICE_NOT_FOUND just means this platform has none of that type. */
            if (clGetDeviceIDs(platforms[p], types[t], 1, device, &found) == CL_SUCCESS &&
                found > 0) {
                *platform = platforms[p];
                return 0;
            }
        }
    }
    fprintf(stderr, "embed: no OpenCL device\n");
    return 1;
}

static int create_queue(app *a)
{
    cl_command_queue_properties props = 0;
    cl_int err;

    clGetDeviceInfo(a->device, CL_DEVICE_QUEUE_PROPERTIES, sizeof props, &props, NULL);
    props &= CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE;
    a->queue = clCreateCommandQueue(a->context, a->device, props, &err);
    if (cl_failed(err, "clCreateCommandQueue"))
        return 1;
    printf("queue: %s\n", props ? "out-of-order (events order the work)" : "in-order");
    return 0;
}

static int build_kernels(app *a)
{
    const char *source = kernel_source;
    size_t max_size = 0;
    cl_int err;

    a->program = clCreateProgramWithSource(a->context, 1, &source, NULL, &err);
    if (cl_failed(err, "clCreateProgramWithSource"))
        return 1;
    err = clBuildProgram(a->program, 1, &a->device, "", NULL, NULL);
    if (err != CL_SUCCESS) {
        char log[4096] = "";

        clGetProgramBuildInfo(a->program, a->device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log,
                              NULL);
        fprintf(stderr, "embed: clBuildProgram failed with OpenCL error %d:\n%s\n", (int)err, log);
        return 1;
    }
    a->predict = clCreateKernel(a->program, "predict", &err);
    if (cl_failed(err, "clCreateKernel(predict)"))
        return 1;
    a->update = clCreateKernel(a->program, "update", &err);
    if (cl_failed(err, "clCreateKernel(update)"))
        return 1;
    err = clGetKernelWorkGroupInfo(a->update, a->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof max_size,
                                   &max_size, NULL);
    if (cl_failed(err, "clGetKernelWorkGroupInfo"))
        return 1;
    /* The tree reduction halves the size, so it must be a power of two. */
    for (a->update_size = 1; a->update_size * 2 <= max_size && a->update_size < MAX_WORK_GROUP;)
        a->update_size *= 2;
    return 0;
}

static int create_buffers(app *a, float *x, float *y)
{
    float params[2] = {0.0f, 0.0f}; /* w, b */
    cl_int err;

    a->x = clCreateBuffer(a->context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, N * sizeof(float), x,
                          &err);
    if (cl_failed(err, "clCreateBuffer(x)"))
        return 1;
    a->y = clCreateBuffer(a->context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, N * sizeof(float), y,
                          &err);
    if (cl_failed(err, "clCreateBuffer(y)"))
        return 1;
    a->params = clCreateBuffer(a->context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof params,
                               params, &err);
    if (cl_failed(err, "clCreateBuffer(params)"))
        return 1;
    a->pred = clCreateBuffer(a->context, CL_MEM_READ_WRITE, N * sizeof(float), NULL, &err);
    if (cl_failed(err, "clCreateBuffer(pred)"))
        return 1;
    a->loss = clCreateBuffer(a->context, CL_MEM_READ_WRITE, sizeof(float), NULL, &err);
    if (cl_failed(err, "clCreateBuffer(loss)"))
        return 1;
    a->grad_pred = clCreateBuffer(a->context, CL_MEM_READ_WRITE, N * sizeof(float), NULL, &err);
    return cl_failed(err, "clCreateBuffer(grad_pred)");
}

static int set_kernel_args(app *a)
{
    cl_uint n = N;
    cl_float lr = LEARNING_RATE;
    size_t scratch = a->update_size * sizeof(float);
    const struct {
        cl_kernel kernel;
        size_t size;
        const void *value; /* NULL: local memory of `size` bytes */
    } args[] = {
        /* in kernel argument order */
        {a->predict, sizeof(cl_mem), &a->x},
        {a->predict, sizeof(cl_mem), &a->params},
        {a->predict, sizeof(cl_mem), &a->pred},
        {a->predict, sizeof n, &n},
        {a->update, sizeof(cl_mem), &a->x},
        {a->update, sizeof(cl_mem), &a->grad_pred},
        {a->update, sizeof(cl_mem), &a->params},
        {a->update, sizeof lr, &lr},
        {a->update, sizeof n, &n},
        {a->update, scratch, NULL}, /* sum_w */
        {a->update, scratch, NULL}, /* sum_b */
    };
    cl_uint index = 0;

    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
        index = i > 0 && args[i].kernel == args[i - 1].kernel ? index + 1 : 0;
        if (cl_failed(clSetKernelArg(args[i].kernel, index, args[i].size, args[i].value),
                      "clSetKernelArg"))
            return 1;
    }
    return 0;
}

/*
 * One step: predict (after the previous step's update) -> clmse (after predict) -> update
 * (after clmse). *last is the event the next step waits for: in, the previous update (or
 * NULL); out, this step's update, or clmse's when `update` is 0. *loss is read when non-NULL.
 */
static int train_step(app *a, cl_event *last, int update, float *loss)
{
    size_t global = N, local = a->update_size;
    cl_event predicted = NULL, mse_done = NULL;
    cl_int err;
    clmse_status st;

    err = clEnqueueNDRangeKernel(a->queue, a->predict, 1, NULL, &global, NULL, *last ? 1 : 0,
                                 *last ? last : NULL, &predicted);
    if (*last)
        clReleaseEvent(*last);
    *last = NULL;
    if (cl_failed(err, "clEnqueueNDRangeKernel(predict)"))
        return 1;

    /* loss = mean((pred - y)^2); grad_pred = d loss / d pred = 2/N * (pred - y). */
    st = clmse_mse_fused_f32(a->mse, CLMSE_REDUCTION_MEAN, N, a->pred, 0, a->y, 0, a->loss, 0, NULL,
                             0, a->grad_pred, 0, NULL, 0, 1, &predicted, &mse_done);
    clReleaseEvent(predicted);
    if (clmse_failed(st, a->mse, "clmse_mse_fused_f32"))
        return 1;

    if (loss) {
        err = clEnqueueReadBuffer(a->queue, a->loss, CL_TRUE, 0, sizeof *loss, loss, 1, &mse_done,
                                  NULL);
        if (cl_failed(err, "clEnqueueReadBuffer(loss)")) {
            clReleaseEvent(mse_done);
            return 1;
        }
    }
    if (!update) {
        *last = mse_done;
        return 0;
    }
    err = clEnqueueNDRangeKernel(a->queue, a->update, 1, NULL, &local, &local, 1, &mse_done, last);
    clReleaseEvent(mse_done);
    return cl_failed(err, "clEnqueueNDRangeKernel(update)");
}

static void app_release(app *a)
{
    cl_mem mems[] = {a->x, a->y, a->params, a->pred, a->loss, a->grad_pred};

    /* clmse holds its own references to the context, device and queue. */
    clmse_context_release(a->mse);
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i])
            clReleaseMemObject(mems[i]);
    if (a->predict)
        clReleaseKernel(a->predict);
    if (a->update)
        clReleaseKernel(a->update);
    if (a->program)
        clReleaseProgram(a->program);
    if (a->queue)
        clReleaseCommandQueue(a->queue);
    if (a->context)
        clReleaseContext(a->context);
}

int main(void)
{
    static float x[N], y[N];
    app a = {0};
    cl_platform_id platform;
    cl_event last = NULL;
    char name[256] = "";
    float loss = 0.0f, params[2] = {0.0f, 0.0f};
    double sx = 0, sy = 0, sxx = 0, sxy = 0, w_ls, b_ls, loss_ls = 0;
    cl_int err;
    int rc = 1;

    for (uint32_t i = 0; i < N; i++) {
        x[i] = -1.0f + 2.0f * (float)i / (float)(N - 1);
        y[i] = TRUE_W * x[i] + TRUE_B + noise_at(i);
        sx += x[i];
        sy += y[i];
        sxx += (double)x[i] * x[i];
        sxy += (double)x[i] * y[i];
    }
    /* The least-squares line, which gradient descent should approach. */
    w_ls = (N * sxy - sx * sy) / (N * sxx - sx * sx);
    b_ls = (sy - w_ls * sx) / N;
    for (uint32_t i = 0; i < N; i++) {
        double r = w_ls * x[i] + b_ls - y[i];
        loss_ls += r * r / N;
    }

    if (pick_device(&platform, &a.device))
        return 1;
    {
        cl_context_properties props[3] = {CL_CONTEXT_PLATFORM, (cl_context_properties)platform, 0};

        a.context = clCreateContext(props, 1, &a.device, NULL, NULL, &err);
    }
    if (cl_failed(err, "clCreateContext"))
        goto cleanup;
    clGetDeviceInfo(a.device, CL_DEVICE_NAME, sizeof name - 1, name, NULL);
    printf("clmse %s, device: %s\n", clmse_version(), name);
    if (create_queue(&a) || build_kernels(&a) || create_buffers(&a, x, y) || set_kernel_args(&a))
        goto cleanup;
    /* clmse retains the three objects; the application keeps and releases its own. */
    if (clmse_failed(clmse_context_create_from_cl(a.context, a.device, a.queue, NULL, &a.mse), NULL,
                     "clmse_context_create_from_cl"))
        goto cleanup;

    printf("fitting y = w*x + b to %d points of y = %gx + %g + noise, learning rate %g\n", N,
           (double)TRUE_W, (double)TRUE_B, (double)LEARNING_RATE);
    for (int step = 0; step <= STEPS; step++) {
        int report = step % PRINT_EVERY == 0 || step == STEPS;

        /* The last step only measures the loss of the final w and b. */
        if (train_step(&a, &last, step < STEPS, report ? &loss : NULL))
            goto cleanup;
        if (report)
            printf("step %3d  loss %.6f\n", step, (double)loss);
    }
    err = clEnqueueReadBuffer(a.queue, a.params, CL_TRUE, 0, sizeof params, params, last ? 1 : 0,
                              last ? &last : NULL, NULL);
    if (cl_failed(err, "clEnqueueReadBuffer(params)"))
        goto cleanup;
    err = clFinish(a.queue);
    if (cl_failed(err, "clFinish"))
        goto cleanup;

    printf("w = %.4f, b = %.4f (least squares: w = %.4f, b = %.4f, loss %.6f)\n", (double)params[0],
           (double)params[1], w_ls, b_ls, loss_ls);
    /* Written so that NaN fails every comparison. */
    if (!(loss < MAX_FINAL_LOSS) || !(params[0] > TRUE_W - PARAM_TOLERANCE) ||
        !(params[0] < TRUE_W + PARAM_TOLERANCE) || !(params[1] > TRUE_B - PARAM_TOLERANCE) ||
        !(params[1] < TRUE_B + PARAM_TOLERANCE)) {
        fprintf(stderr,
                "embed: did not converge: loss %g (want < %g), w %g, b %g (want %g, %g "
                "within %g)\n",
                (double)loss, MAX_FINAL_LOSS, (double)params[0], (double)params[1], (double)TRUE_W,
                (double)TRUE_B, PARAM_TOLERANCE);
        goto cleanup;
    }
    printf("converged\n");
    rc = 0;

cleanup:
    if (last)
        clReleaseEvent(last);
    app_release(&a);
    return rc;
}
