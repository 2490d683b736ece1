/* SPDX-License-Identifier: MIT */
/* `clmse demo`: two worked MSELoss examples through the host layer, then a timed fused run. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clmse.h"
#include "commands.h"
#include "options.h"
#include "timing.h"
#include "workload.h"

#define DEMO_DEFAULT_N 10000000u
#define DEMO_DEFAULT_REPEAT 10u
#define DEMO_MAX_EXAMPLE 6
#define DEMO_LABEL_WIDTH 11 /* "loss (mean)", so that "loss (mean) = 0.11" reads naturally */
#define DEMO_SEED_INPUT 1u
#define DEMO_SEED_TARGET 2u

typedef struct example {
    const char *title;
    size_t rows, cols;
    float input[DEMO_MAX_EXAMPLE], target[DEMO_MAX_EXAMPLE];
    double expected_mean;
    double tolerance;
} example;

static const example examples[] = {
    /* A popular tutorial's example; the tutorial itself misstates the result as 0.05. */
    {"3 elements", 1, 3, {2.5f, 3.1f, 4.8f}, {2.0f, 3.3f, 5.0f}, 0.11, 1e-5},
    /* The 2x3 batch of the PyTorch docs tutorial: (0.25+0.04+0.04+0.04+0.09+0.01) / 6. */
    {"2x3 batch",
     2,
     3,
     {2.5f, 3.1f, 4.8f, 1.2f, 2.2f, 3.9f},
     {2.0f, 3.3f, 5.0f, 1.0f, 2.5f, 4.0f},
     0.47 / 6.0,
     1e-5},
};

/* Device buffers and host memory of the timing run, released together. */
typedef struct bench {
    cl_mem input, target, loss, grad_input, grad_target;
    float *host;
    double *times_ms;
} bench;

static void demo_usage(FILE *out)
{
    fprintf(out,
            "Usage: clmse demo [--device SPEC] [--n N] [--repeat R]\n\n"
            "Computes nn.MSELoss for two small worked examples through the host layer and\n"
            "checks the mean against the known answer, then times the fused forward+backward\n"
            "(reduction mean) on N float32 elements already resident on the device.\n\n"
            "Options:\n"
            "  --device SPEC  gpu, cpu, accelerator, P:D, or part of a device name\n"
            "                 (default: $CLMSE_DEVICE, else the first GPU, ...)\n"
            "  --n N          elements in the timing run (default %u)\n"
            "  --repeat R     timed runs after the warm-up (default %u)\n"
            "  --help         show this help\n\n"
            "Exits 1 when a result differs from the expected value.\n",
            DEMO_DEFAULT_N, DEMO_DEFAULT_REPEAT);
}

/* "%.6g", but "2.0" rather than "2" so that whole numbers still read as floats. */
static void format_value(char *buf, size_t size, double v)
{
    snprintf(buf, size, "%.6g", v);
    if (!strpbrk(buf, ".eEnN") && strlen(buf) + 3 <= size)
        strcat(buf, ".0");
}

/* Four decimals, as torch prints tensors, so the rows can be compared with its output. */
static void print_array(const char *label, const float *v, size_t rows, size_t cols)
{
    char text[DEMO_MAX_EXAMPLE][32];
    int width = 0;

    for (size_t i = 0; i < rows * cols; i++) {
        snprintf(text[i], sizeof text[i], "%.4f", (double)v[i]);
        if ((int)strlen(text[i]) > width)
            width = (int)strlen(text[i]);
    }
    printf("  %-*s = %s", DEMO_LABEL_WIDTH, label, rows > 1 ? "[" : "");
    for (size_t r = 0; r < rows; r++) {
        if (r > 0) /* align later rows under the first row's inner bracket */
            printf(",\n%*s", 2 + DEMO_LABEL_WIDTH + 3 + 1, "");
        putchar('[');
        for (size_t c = 0; c < cols; c++)
            printf("%s%*s", c ? ", " : "", width, text[r * cols + c]);
        putchar(']');
    }
    printf("%s\n", rows > 1 ? "]" : "");
}

static void print_loss(const char *label, float loss)
{
    char text[32];

    format_value(text, sizeof text, loss);
    printf("  %-*s = %s (%.9g)", DEMO_LABEL_WIDTH, label, text, (double)loss);
}

/* NaN fails the check, which `fabs(d) > tol` would let through. */
static int within(double value, double expected, double tolerance)
{
    double d = value - expected;

    return d <= tolerance && d >= -tolerance;
}

static int run_example(clmse_context *ctx, int number, const example *ex, int *mismatch)
{
    size_t n = ex->rows * ex->cols;
    float none[DEMO_MAX_EXAMPLE], grad_input[DEMO_MAX_EXAMPLE], grad_target[DEMO_MAX_EXAMPLE];
    float mean, sum, fused_mean;
    char expected[32];
    clmse_status st;

    if ((st = clmse_host_forward_f32(ctx, CLMSE_REDUCTION_NONE, n, ex->input, ex->target, none)) !=
            CLMSE_SUCCESS ||
        (st = clmse_host_forward_f32(ctx, CLMSE_REDUCTION_MEAN, n, ex->input, ex->target, &mean)) !=
            CLMSE_SUCCESS ||
        (st = clmse_host_forward_f32(ctx, CLMSE_REDUCTION_SUM, n, ex->input, ex->target, &sum)) !=
            CLMSE_SUCCESS ||
        (st = clmse_host_fused_f32(ctx, CLMSE_REDUCTION_MEAN, n, ex->input, ex->target, NULL,
                                   &fused_mean, grad_input, grad_target)) != CLMSE_SUCCESS)
        return cli_report_status("demo", st, ctx, "host-layer MSE of a worked example");

    printf("\nExample %d: %s, nn.MSELoss()\n", number, ex->title);
    print_array("input", ex->input, ex->rows, ex->cols);
    print_array("target", ex->target, ex->rows, ex->cols);
    print_array("loss (none)", none, ex->rows, ex->cols);
    format_value(expected, sizeof expected, ex->expected_mean);
    print_loss("loss (mean)", mean);
    printf("   expected %s\n", expected);
    print_loss("loss (sum)", sum);
    putchar('\n');
    printf("  gradients of the mean loss (grad_output = 1):\n");
    print_array("grad_input", grad_input, ex->rows, ex->cols);
    print_array("grad_target", grad_target, ex->rows, ex->cols);

    if (!within(mean, ex->expected_mean, ex->tolerance)) {
        fprintf(stderr,
                "clmse demo: warning: example %d: loss %.9g differs from expected %s by "
                "more than %g\n",
                number, (double)mean, expected, ex->tolerance);
        *mismatch = 1;
    }
    /* The header promises the fused call writes what the forward call does, bit for bit. */
    if (memcmp(&mean, &fused_mean, sizeof mean) != 0) {
        fprintf(stderr,
                "clmse demo: warning: example %d: fused loss %.9g differs from forward "
                "loss %.9g\n",
                number, (double)fused_mean, (double)mean);
        *mismatch = 1;
    }
    return CLI_EXIT_OK;
}

static void bench_release(bench *b)
{
    cl_mem *mems[] = {&b->input, &b->target, &b->loss, &b->grad_input, &b->grad_target};

    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (*mems[i])
            clReleaseMemObject(*mems[i]);
    free(b->host);
    free(b->times_ms);
}

/* Fills the device input and target; returns the double-precision host reference mean. */
static int bench_upload(bench *b, cl_command_queue queue, size_t n, double *reference)
{
    double sum = 0.0;
    cl_int err;

    /* One host array serves both uploads: the input stream is replayed for the reference. */
    for (size_t i = 0; i < n; i++)
        b->host[i] = workload_uniform_f32(DEMO_SEED_INPUT, i);
    err = clEnqueueWriteBuffer(queue, b->input, CL_TRUE, 0, n * sizeof(float), b->host, 0, NULL,
                               NULL);
    if (err != CL_SUCCESS)
        return cli_report_cl("demo", "clEnqueueWriteBuffer(input)", err);
    for (size_t i = 0; i < n; i++) {
        const float x = workload_uniform_f32(DEMO_SEED_INPUT, i);
        const float y = workload_uniform_f32(DEMO_SEED_TARGET, i), d = x - y;

        b->host[i] = y;
        sum += (double)d * (double)d;
    }
    err = clEnqueueWriteBuffer(queue, b->target, CL_TRUE, 0, n * sizeof(float), b->host, 0, NULL,
                               NULL);
    if (err != CL_SUCCESS)
        return cli_report_cl("demo", "clEnqueueWriteBuffer(target)", err);
    *reference = sum / (double)n;
    return CLI_EXIT_OK;
}

static int bench_run(clmse_context *ctx, cl_command_queue queue, const bench *b, size_t n,
                     double *ms)
{
    double start = timing_now_us() / 1e3;
    clmse_status st;
    cl_int err;

    st = clmse_mse_fused_f32(ctx, CLMSE_REDUCTION_MEAN, n, b->input, 0, b->target, 0, b->loss, 0,
                             NULL, 0, b->grad_input, 0, b->grad_target, 0, 0, NULL, NULL);
    if (st != CLMSE_SUCCESS)
        return cli_report_status("demo", st, ctx, "clmse_mse_fused_f32");
    err = clFinish(queue);
    if (err != CL_SUCCESS)
        return cli_report_cl("demo", "clFinish", err);
    *ms = timing_now_us() / 1e3 - start;
    return CLI_EXIT_OK;
}

/* Spot-checks both gradients, so a run that skipped or misplaced its writes cannot pass as
 * fast. An ulp or two of slack allows 2/n to be rounded differently on the device. */
static int bench_check_grads(cl_command_queue queue, const bench *b, size_t n, int *mismatch)
{
    size_t at[3] = {0, n / 2, n - 1};
    float scale = (float)(2.0 / (double)n);

    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
        float x = workload_uniform_f32(DEMO_SEED_INPUT, at[k]);
        float y = workload_uniform_f32(DEMO_SEED_TARGET, at[k]);
        float want[2] = {scale * (x - y), scale * (y - x)}, got[2];
        cl_mem grads[2] = {b->grad_input, b->grad_target};
        const char *names[2] = {"grad_input", "grad_target"};

        for (int g = 0; g < 2; g++) {
            double tolerance = 1e-6 * (want[g] < 0 ? -(double)want[g] : (double)want[g]);
            cl_int err = clEnqueueReadBuffer(queue, grads[g], CL_TRUE, at[k] * sizeof(float),
                                             sizeof(float), &got[g], 0, NULL, NULL);

            if (err != CL_SUCCESS)
                return cli_report_cl("demo", "clEnqueueReadBuffer(gradient)", err);
            if (!within(got[g], want[g], tolerance)) {
                fprintf(stderr, "clmse demo: warning: %s[%zu] = %.9g, expected %.9g\n", names[g],
                        at[k], (double)got[g], (double)want[g]);
                *mismatch = 1;
            }
        }
    }
    return CLI_EXIT_OK;
}

/* Runs on a context of its own: the examples have already built the first context's kernels,
 * and the warm-up should show what an application's first call costs. */
static int run_timing(const clmse_context_options *options, size_t n, size_t repeat, int *mismatch)
{
    clmse_context *ctx = NULL;
    bench b = {0};
    cl_context clctx;
    cl_command_queue queue;
    double reference = 0.0, warmup_ms = 0.0, median_ms, gbps;
    float loss = 0.0f;
    char text[32];
    clmse_status st;
    cl_int err = CL_SUCCESS;
    int rc = CLI_EXIT_RUNTIME;
    size_t bytes = n * sizeof(float); /* n <= SIZE_MAX / sizeof(float), checked when parsed */

    st = clmse_context_create(options, &ctx);
    if (st != CLMSE_SUCCESS)
        return cli_report_status("demo", st, NULL, "clmse_context_create");
    st = clmse_context_get_cl(ctx, &clctx, NULL, &queue);
    if (st != CLMSE_SUCCESS) {
        cli_report_status("demo", st, ctx, "clmse_context_get_cl");
        goto cleanup;
    }

    b.host = malloc(bytes);
    b.times_ms = calloc(repeat, sizeof *b.times_ms);
    if (!b.host || !b.times_ms) {
        fprintf(stderr, "clmse demo: %s: %zu bytes for %zu elements and %zu timings\n",
                clmse_status_string(CLMSE_ERROR_OUT_OF_HOST_MEMORY), bytes, n, repeat);
        goto cleanup;
    }
    b.input = clCreateBuffer(clctx, CL_MEM_READ_ONLY, bytes, NULL, &err);
    if (err == CL_SUCCESS)
        b.target = clCreateBuffer(clctx, CL_MEM_READ_ONLY, bytes, NULL, &err);
    if (err == CL_SUCCESS)
        b.loss = clCreateBuffer(clctx, CL_MEM_WRITE_ONLY, sizeof(float), NULL, &err);
    if (err == CL_SUCCESS)
        b.grad_input = clCreateBuffer(clctx, CL_MEM_WRITE_ONLY, bytes, NULL, &err);
    if (err == CL_SUCCESS)
        b.grad_target = clCreateBuffer(clctx, CL_MEM_WRITE_ONLY, bytes, NULL, &err);
    if (err != CL_SUCCESS) {
        fprintf(stderr, "clmse demo: %s: clCreateBuffer(%zu bytes) returned %d%s\n",
                clmse_status_string(CLMSE_ERROR_OPENCL), bytes, (int)err, cli_cl_error_name(err));
        goto cleanup;
    }
    if (bench_upload(&b, queue, n, &reference) != CLI_EXIT_OK)
        goto cleanup;

    printf("\nTiming: fused forward+backward, reduction mean, n = %zu float32, data on device\n",
           n);
    /* The first call builds the kernels, so it is reported apart from the timed runs. */
    if (bench_run(ctx, queue, &b, n, &warmup_ms) != CLI_EXIT_OK)
        goto cleanup;
    printf("  warm-up on a new context (includes the kernel build) = %.3f ms\n", warmup_ms);
    for (size_t i = 0; i < repeat; i++)
        if (bench_run(ctx, queue, &b, n, &b.times_ms[i]) != CLI_EXIT_OK)
            goto cleanup;
    err = clEnqueueReadBuffer(queue, b.loss, CL_TRUE, 0, sizeof loss, &loss, 0, NULL, NULL);
    if (err != CL_SUCCESS) {
        cli_report_cl("demo", "clEnqueueReadBuffer(loss)", err);
        goto cleanup;
    }

    if (bench_check_grads(queue, &b, n, mismatch) != CLI_EXIT_OK)
        goto cleanup;

    median_ms = timing_median(b.times_ms, repeat); /* sorted: [0] and [repeat - 1] follow */
    /* Read input and target, write both gradients: 16 bytes per element. */
    gbps = median_ms > 0.0 ? 16.0 * (double)n / (median_ms * 1e-3) / 1e9 : 0.0;
    printf("  median of %zu runs = %.3f ms (min %.3f ms, max %.3f ms)\n", repeat, median_ms,
           b.times_ms[0], b.times_ms[repeat - 1]);
    printf("  effective bandwidth = %.2f GB/s (16 bytes per element)\n", gbps);
    format_value(text, sizeof text, loss);
    printf("  loss (mean) = %s (%.9g), host reference in double %.9g\n", text, (double)loss,
           reference);
    /* Relative: the mean is near 2/3 for large n but can be tiny for a small --n. */
    if (!within(loss, reference, 1e-5 * reference)) {
        fprintf(stderr,
                "clmse demo: warning: timed loss %.9g differs from the host reference "
                "%.9g by more than 1e-05 relative\n",
                (double)loss, reference);
        *mismatch = 1;
    }
    rc = CLI_EXIT_OK;

cleanup:
    bench_release(&b);
    clmse_context_release(ctx);
    return rc;
}

int cmd_demo(int argc, char **argv)
{
    clmse_context_options options = {0};
    clmse_context *ctx = NULL;
    clmse_device_info info;
    clmse_status st;
    size_t n = DEMO_DEFAULT_N, repeat = DEMO_DEFAULT_REPEAT;
    int rc = CLI_EXIT_OK, mismatch = 0, acc;

    for (int i = 1; i < argc; i++) {
        const char *value;

        if (cli_is_help(argv[i])) {
            demo_usage(stdout);
            return CLI_EXIT_OK;
        }
        if (cli_option_value(argc, argv, &i, "--device", &value)) {
            if (!value)
                return cli_usage_error("demo", "option '--device' needs a value");
            options.device = value;
        } else if (cli_option_value(argc, argv, &i, "--n", &value)) {
            if (cli_parse_count("demo", "--n", value, SIZE_MAX / sizeof(float), &n) != 0)
                return CLI_EXIT_USAGE;
        } else if (cli_option_value(argc, argv, &i, "--repeat", &value)) {
            if (cli_parse_count("demo", "--repeat", value, SIZE_MAX / sizeof(double), &repeat))
                return CLI_EXIT_USAGE;
        } else {
            return cli_unknown_argument("demo", argv[i]);
        }
    }

    st = clmse_context_create(&options, &ctx);
    if (st != CLMSE_SUCCESS) {
        cli_report_status("demo", st, NULL, "clmse_context_create");
        /* A malformed --device is the command line's fault; one from CLMSE_DEVICE is not. */
        if (st == CLMSE_ERROR_INVALID_DEVICE_SPEC && options.device && options.device[0])
            return CLI_EXIT_USAGE;
        return CLI_EXIT_RUNTIME;
    }
    st = clmse_context_device_info(ctx, &info);
    if (st != CLMSE_SUCCESS) {
        rc = cli_report_status("demo", st, ctx, "clmse_context_device_info");
        goto cleanup;
    }
    acc = clmse_context_accumulation(ctx);
    printf("clmse %s demo\n", clmse_version());
    printf("device: %u:%u %s\n", info.platform_index, info.device_index, info.name);
    printf("platform: %s\n", info.platform_name);
    printf("float32 sums accumulate in %s\n", acc == CLMSE_ACCUMULATE_DOUBLE ? "double"
                                              : acc == CLMSE_ACCUMULATE_COMPENSATED
                                                  ? "float with compensation"
                                                  : "an unknown way");

    for (size_t i = 0; i < sizeof examples / sizeof examples[0] && rc == CLI_EXIT_OK; i++)
        rc = run_example(ctx, (int)i + 1, &examples[i], &mismatch);
    if (rc == CLI_EXIT_OK)
        rc = run_timing(&options, n, repeat, &mismatch);
    if (rc == CLI_EXIT_OK && mismatch) {
        fprintf(stderr, "clmse demo: some results differ from the expected values\n");
        rc = CLI_EXIT_RUNTIME;
    }

cleanup:
    clmse_context_release(ctx);
    return rc;
}
