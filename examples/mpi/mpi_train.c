/* SPDX-License-Identifier: MIT */
/* examples/embed's linear regression, data-parallel: every MPI rank holds a shard of the data. */
/*
 * y = w*x + b is fitted to N points split unevenly across the ranks (rank r holds a share
 * proportional to r + 1). Each step, every rank:
 *   1. computes pred = w*x + b for its shard and uploads it;
 *   2. calls clmse_mse_partial: its shard's unrounded partial of the *global* mean (mean_count
 *      = N, exchanged once with an integer allreduce) and d loss / d pred for its shard, scaled
 *      by 2/N as one process holding all N points would scale it;
 *   3. allgathers the partials (32 bytes each), folds them in rank order and rounds once: every
 *      rank gets the same loss, bit for bit;
 *   4. sums its shard's dw = sum(grad_pred * x) and db = sum(grad_pred) in double, allgathers
 *      those and adds them in rank order, so every rank applies the same update to w and b.
 * MPI_Allreduce(MPI_SUM) on floating-point values would do for 4, but MPI fixes no reduction
 * order, so ranks could disagree in the last bits and drift apart; adding in rank order cannot.
 * Rank 0 prints the loss every PRINT_EVERY steps, after checking that all ranks hold its bits.
 */
#define CL_TARGET_OPENCL_VERSION 120 /* OpenCL 1.2 host API, as clmse itself uses */

#include <mpi.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CL/cl.h>
#include <clmse.h>

#define N 100003           /* training points in all: no split of an odd prime is even */
#define STEPS 200          /* gradient descent steps */
#define PRINT_EVERY 20     /* steps between printed losses */
#define LEARNING_RATE 0.1f /* w converges by (1 - lr * 2 E[x^2]) = 1 - 0.2/3 per step */
#define TRUE_W 3.0f
#define TRUE_B 2.0f
#define NOISE 0.1f          /* |noise| <= NOISE, so the best loss is about NOISE^2 / 3 */
#define MAX_FINAL_LOSS 0.01 /* checks on the result */
#define PARAM_TOLERANCE 0.05

static int rank, ranks;

/* A failed call on one rank ends them all: the others would wait for it forever. */
static void check_clmse(clmse_status st, const clmse_context *ctx, const char *call)
{
    if (st == CLMSE_SUCCESS)
        return;
    fprintf(stderr, "mpi_train rank %d: %s: %s: %s\n", rank, call, clmse_status_string(st),
            clmse_context_last_error(ctx));
    MPI_Abort(MPI_COMM_WORLD, 1);
}

static void check_cl(cl_int err, const char *call)
{
    if (err == CL_SUCCESS)
        return;
    fprintf(stderr, "mpi_train rank %d: %s failed with OpenCL error %d\n", rank, call, (int)err);
    MPI_Abort(MPI_COMM_WORLD, 1);
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

/* Point i of the data set, the same on every rank. */
static float x_at(uint32_t i) { return -1.0f + 2.0f * (float)i / (float)(N - 1); }
static float y_at(uint32_t i) { return TRUE_W * x_at(i) + TRUE_B + noise_at(i); }

/* First point of rank r's shard: rank r holds a share proportional to r + 1. */
static uint32_t shard_start(int r)
{
    uint64_t total = (uint64_t)ranks * (uint64_t)(ranks + 1) / 2;

    return (uint32_t)((uint64_t)N * ((uint64_t)r * (uint64_t)(r + 1) / 2) / total);
}

/* 1 when every rank holds the same bits. */
static int same_on_all_ranks(const void *value, size_t size)
{
    uint64_t bits = 0, lo, hi;

    memcpy(&bits, value, size);
    MPI_Allreduce(&bits, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&bits, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    return lo == hi;
}

/* The least-squares line through all N points, which gradient descent should approach. */
static void least_squares(double *w, double *b, double *loss)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;

    for (uint32_t i = 0; i < N; i++) {
        double x = x_at(i), y = y_at(i);
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    *w = (N * sxy - sx * sy) / (N * sxx - sx * sx);
    *b = (sy - *w * sx) / N;
    *loss = 0;
    for (uint32_t i = 0; i < N; i++) {
        double r = *w * x_at(i) + *b - y_at(i);
        *loss += r * r / N;
    }
}

int main(int argc, char **argv)
{
    clmse_context *ctx;
    clmse_device_info info;
    cl_context context;
    cl_command_queue queue;
    cl_mem pred_buf, y_buf, grad_buf;
    clmse_tensor pred_t, y_t, grad_t;
    clmse_partial *partials;
    double(*grads)[2], seconds = 0;
    float *x, *y, *pred, *grad, w = 0.0f, b = 0.0f, loss = 0.0f;
    uint32_t start, count;
    uint64_t local_count, global_count = 0;
    size_t shape;
    cl_int err;
    int ok;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);

    /* This rank's shard. */
    start = shard_start(rank);
    count = (rank + 1 == ranks ? N : shard_start(rank + 1)) - start;
    x = malloc(count * sizeof *x + 1);
    y = malloc(count * sizeof *y + 1);
    pred = malloc(count * sizeof *pred + 1);
    grad = malloc(count * sizeof *grad + 1);
    partials = malloc((size_t)ranks * sizeof *partials);
    grads = malloc((size_t)ranks * sizeof *grads);
    if (!x || !y || !pred || !grad || !partials || !grads)
        check_clmse(CLMSE_ERROR_OUT_OF_HOST_MEMORY, NULL, "malloc");
    for (uint32_t i = 0; i < count; i++) {
        x[i] = x_at(start + i);
        y[i] = y_at(start + i);
    }

    /* One device per rank: CLMSE_DEVICE, else the first GPU, else any. Ranks sharing a host
     * with several GPUs would pick theirs here, for example by rank. */
    check_clmse(clmse_context_create(NULL, &ctx), NULL, "clmse_context_create");
    check_clmse(clmse_context_device_info(ctx, &info), ctx, "clmse_context_device_info");
    check_clmse(clmse_context_get_cl(ctx, &context, NULL, &queue), ctx, "clmse_context_get_cl");
    shape = count;
    pred_buf = clCreateBuffer(context, CL_MEM_READ_ONLY, count * sizeof(float), NULL, &err);
    check_cl(err, "clCreateBuffer(pred)");
    y_buf = clCreateBuffer(context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, count * sizeof(float),
                           y, &err);
    check_cl(err, "clCreateBuffer(y)");
    grad_buf = clCreateBuffer(context, CL_MEM_WRITE_ONLY, count * sizeof(float), NULL, &err);
    check_cl(err, "clCreateBuffer(grad_pred)");
    check_clmse(clmse_tensor_init(&pred_t, pred_buf, CLMSE_DTYPE_F32, 1, &shape, NULL, 0), NULL,
                "clmse_tensor_init");
    check_clmse(clmse_tensor_init(&y_t, y_buf, CLMSE_DTYPE_F32, 1, &shape, NULL, 0), NULL,
                "clmse_tensor_init");
    check_clmse(clmse_tensor_init(&grad_t, grad_buf, CLMSE_DTYPE_F32, 1, &shape, NULL, 0), NULL,
                "clmse_tensor_init");

    /* The global count, once: the mean is over all N points, whoever holds them. */
    local_count = count;
    MPI_Allreduce(&local_count, &global_count, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);

    if (rank == 0) {
        printf("clmse %s, MPI ranks: %d, device of rank 0: %s\n", clmse_version(), ranks,
               info.name);
        printf("fitting y = w*x + b to %llu points of y = %gx + %g + noise, learning rate %g\n",
               (unsigned long long)global_count, (double)TRUE_W, (double)TRUE_B,
               (double)LEARNING_RATE);
        for (int r = 0; r < ranks; r++) {
            uint32_t a = shard_start(r), z = r + 1 == ranks ? N : shard_start(r + 1);
            printf("rank %d holds points [%u, %u): %u\n", r, a, z, z - a);
        }
    }

    for (int step = 0; step <= STEPS; step++) {
        clmse_mse_args args = {.reduction = CLMSE_REDUCTION_MEAN,
                               .flags = CLMSE_MEAN_COUNT,
                               .input = &pred_t,
                               .target = &y_t,
                               .grad_input = &grad_t,
                               .mean_count = (size_t)global_count};
        clmse_partial mine, folded;
        double local[2] = {0.0, 0.0}, dw = 0.0, db = 0.0, t0;
        cl_event written;

        MPI_Barrier(MPI_COMM_WORLD); /* the timing covers the slowest rank */
        t0 = MPI_Wtime();
        for (uint32_t i = 0; i < count; i++)
            pred[i] = w * x[i] + b;
        check_cl(clEnqueueWriteBuffer(queue, pred_buf, CL_FALSE, 0, count * sizeof(float), pred, 0,
                                      NULL, &written),
                 "clEnqueueWriteBuffer(pred)");
        /* Blocks until the partial and grad_pred are ready. */
        check_clmse(clmse_mse_partial(ctx, &args, &mine, 1, &written), ctx, "clmse_mse_partial");
        clReleaseEvent(written);

        /* The loss: every rank folds the same partials in the same order. */
        MPI_Allgather(&mine, (int)sizeof mine, MPI_BYTE, partials, (int)sizeof mine, MPI_BYTE,
                      MPI_COMM_WORLD);
        check_clmse(clmse_partial_fold(partials, (size_t)ranks, &folded), NULL,
                    "clmse_partial_fold");
        check_clmse(clmse_partial_round(&folded, CLMSE_REDUCTION_MEAN, CLMSE_DTYPE_F32, &loss),
                    NULL, "clmse_partial_round");

        /* The weight gradients: the application's sums, added in rank order too. */
        check_cl(clEnqueueReadBuffer(queue, grad_buf, CL_TRUE, 0, count * sizeof(float), grad, 0,
                                     NULL, NULL),
                 "clEnqueueReadBuffer(grad_pred)");
        for (uint32_t i = 0; i < count; i++) {
            local[0] += (double)grad[i] * x[i];
            local[1] += grad[i];
        }
        MPI_Allgather(local, 2, MPI_DOUBLE, grads, 2, MPI_DOUBLE, MPI_COMM_WORLD);
        for (int r = 0; r < ranks; r++) {
            dw += grads[r][0];
            db += grads[r][1];
        }
        if (step < STEPS) { /* the last step only measures the final w and b */
            w -= LEARNING_RATE * (float)dw;
            b -= LEARNING_RATE * (float)db;
        }
        if (step > 0) /* step 0 also builds (or loads) the kernels */
            seconds += MPI_Wtime() - t0;

        if (step % PRINT_EVERY == 0 || step == STEPS) {
            if (!same_on_all_ranks(&loss, sizeof loss)) {
                fprintf(stderr, "mpi_train rank %d: step %d: loss %a differs between ranks\n", rank,
                        step, (double)loss);
                MPI_Abort(MPI_COMM_WORLD, 1);
            }
            if (rank == 0)
                printf("step %3d  loss %.6f  (the same bits on every rank)\n", step, (double)loss);
        }
    }

    /* Every rank applied the same updates, so w and b agree to the bit as well. */
    ok = same_on_all_ranks(&w, sizeof w) && same_on_all_ranks(&b, sizeof b);
    if (rank == 0) {
        double w_ls, b_ls, loss_ls;

        least_squares(&w_ls, &b_ls, &loss_ls);
        printf("w = %.4f, b = %.4f on every rank (least squares: w = %.4f, b = %.4f, loss %.6f)\n",
               (double)w, (double)b, w_ls, b_ls, loss_ls);
        printf("time per step: %.3f ms (steps 1 to %d)\n", seconds * 1e3 / STEPS, STEPS);
        /* Written so that NaN fails every comparison. */
        if (!ok || !(loss < MAX_FINAL_LOSS) || !(w > TRUE_W - PARAM_TOLERANCE) ||
            !(w < TRUE_W + PARAM_TOLERANCE) || !(b > TRUE_B - PARAM_TOLERANCE) ||
            !(b < TRUE_B + PARAM_TOLERANCE)) {
            fprintf(stderr,
                    "mpi_train: did not converge: loss %g (want < %g), w %g, b %g (want %g, %g "
                    "within %g), ranks %s\n",
                    (double)loss, MAX_FINAL_LOSS, (double)w, (double)b, (double)TRUE_W,
                    (double)TRUE_B, PARAM_TOLERANCE, ok ? "agree" : "disagree");
            ok = 0;
        } else {
            printf("converged\n");
        }
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);

    clReleaseMemObject(pred_buf);
    clReleaseMemObject(y_buf);
    clReleaseMemObject(grad_buf);
    clmse_context_release(ctx);
    free(x);
    free(y);
    free(pred);
    free(grad);
    free(partials);
    free(grads);
    MPI_Finalize();
    return ok ? 0 : 1;
}
