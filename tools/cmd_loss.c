/* SPDX-License-Identifier: MIT */
/* `clmse loss`: nn.MSELoss of two .npy files on a device, with gradients written as .npy. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clmse.h"
#include "commands.h"
#include "npy.h"
#include "options.h"

#define LOSS_ERR_LEN 1024
#define LOSS_TMP_LEN 4096
#define LOSS_SHAPE_LEN 256

enum { RES_OUT, RES_GRAD_INPUT, RES_GRAD_TARGET, RES_COUNT };

typedef struct loss_options {
    const char *input, *target;
    const char *grad_output;
    const char *results[RES_COUNT]; /* --out, --grad-input, --grad-target; NULL when not asked */
    clmse_reduction reduction;
    int strict;
    clmse_context_options context;
} loss_options;

/* Everything a run holds, released together by job_release(). */
typedef struct loss_job {
    npy_array input, target, grad_output;
    npy_array results[RES_COUNT]; /* the loss always; a gradient when its file was asked for */
    cl_mem in_mem, tg_mem, go_mem, res_mem[RES_COUNT];
    cl_event done;
    clmse_context *ctx;
    char tmp[RES_COUNT][LOSS_TMP_LEN]; /* temporary files not yet renamed into place */
} loss_job;

static const char *const k_result_option[RES_COUNT] = {"--out", "--grad-input", "--grad-target"};

static void loss_usage(FILE *out)
{
    fputs(
        "Usage: clmse loss INPUT.npy TARGET.npy [--reduction mean|sum|none] [--out LOSS.npy]\n"
        "                  [--grad-output G.npy] [--grad-input GI.npy] [--grad-target GT.npy]\n"
        "                  [--device SPEC] [--strict-shapes]\n\n"
        "Computes torch.nn.MSELoss(reduction=R)(INPUT, TARGET) on an OpenCL device and, when\n"
        "asked for, the gradients of that loss with respect to INPUT and TARGET, all in one\n"
        "fused pass.\n\n"
        "INPUT and TARGET are NumPy .npy files (format 1.0, 2.0 or 3.0) of float16, float32\n"
        "or float64 ('<f2' '<f4' '<f8', or big-endian '>f2' '>f4' '>f8'), in C or Fortran\n"
        "order, of rank 0 to 8, possibly empty. Their shapes broadcast as in NumPy and PyTorch;\n"
        "the loss is computed in the promoted dtype (float16 with float32 gives float32,\n"
        "anything with float64 gives float64). Bytes after an array's data are ignored, as\n"
        "np.load does.\n\n"
        "Options:\n"
        "  --reduction R        mean (the default), sum or none\n"
        "  --out LOSS.npy       write the loss in the promoted dtype: shape () for mean and\n"
        "                       sum, the broadcast shape for none\n"
        "  --grad-output G.npy  the gradient flowing into the loss: shape () for mean and sum,\n"
        "                       the broadcast shape for none, any float dtype (converted to the\n"
        "                       promoted one); default: ones. Needs --grad-input or\n"
        "                       --grad-target\n"
        "  --grad-input GI.npy  write the gradient with respect to INPUT (its shape and dtype)\n"
        "  --grad-target GT.npy write the gradient with respect to TARGET (its shape and dtype)\n"
        "  --device SPEC        gpu, cpu, accelerator, P:D, or part of a device name\n"
        "                       (default: $CLMSE_DEVICE, else the first GPU, ...)\n"
        "  --strict-shapes      refuse INPUT and TARGET shapes that differ instead of\n"
        "                       broadcasting them (PyTorch only warns)\n"
        "  --help               show this help\n\n"
        "Output: for mean and sum, the loss alone on one line, with the digits that make it\n"
        "round-trip (9 significant digits for float32, 17 for float64, 5 for float16), e.g.\n"
        "0.109999985; empty arrays give nan for mean and 0 for sum. For none, one line such as\n"
        "\"shape (2, 3) dtype float32\": use --out for the values.\n"
        "Files are written as .npy format 1.0, little-endian, C order. Each is first written\n"
        "to a temporary file beside it (NAME.tmp.<pid>), and all are renamed into place only\n"
        "once every result has been computed and written, so a failure leaves no partial file.\n\n"
        "Exit status: 0 success; 2 usage error or bad input (a missing, unreadable or malformed\n"
        "file, a dtype other than float16/32/64, shapes that do not broadcast, or that differ\n"
        "under --strict-shapes, a --grad-output of the wrong shape); 1 device or runtime error\n"
        "(no device, float64 on a device without fp64, an OpenCL failure, an output file that\n"
        "cannot be written). Errors are reported on one line of stderr.\n",
        out);
}

/* Like cli_usage_error(), but on one line: every failure of this command is one stderr line,
 * which scripts (and tests/conformance) rely on. */
static int usage_error(const char *fmt, ...) CLI_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("clmse loss: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see 'clmse loss --help')\n", stderr);
    return CLI_EXIT_USAGE;
}

/* Statuses that describe the input files rather than the device. */
static int status_exit(clmse_status st)
{
    switch (st) {
    case CLMSE_ERROR_SHAPE_MISMATCH:
    case CLMSE_ERROR_INVALID_DTYPE:
    case CLMSE_ERROR_INVALID_LAYOUT:
    case CLMSE_ERROR_SIZE_OVERFLOW:
        return CLI_EXIT_USAGE;
    default:
        return CLI_EXIT_RUNTIME;
    }
}

static int is_float(const npy_array *a)
{
    return a->has_dtype && (a->dtype == CLMSE_DTYPE_F16 || a->dtype == CLMSE_DTYPE_F32 ||
                            a->dtype == CLMSE_DTYPE_F64);
}

static size_t float_size(clmse_dtype dtype)
{
    return dtype == CLMSE_DTYPE_F16 ? 2 : dtype == CLMSE_DTYPE_F32 ? 4 : 8;
}

/* ---- command line ------------------------------------------------------------------------ */

static int parse_reduction(const char *text, clmse_reduction *out)
{
    if (!text)
        return usage_error("option '--reduction' needs a value");
    if (strcmp(text, "mean") == 0)
        *out = CLMSE_REDUCTION_MEAN;
    else if (strcmp(text, "sum") == 0)
        *out = CLMSE_REDUCTION_SUM;
    else if (strcmp(text, "none") == 0)
        *out = CLMSE_REDUCTION_NONE;
    else
        return usage_error("option '--reduction' must be mean, sum or none, not '%s'", text);
    return CLI_EXIT_OK;
}

/* Matches a file-valued option; sets *rc to a usage error for a missing or repeated value. */
static int file_option(int argc, char **argv, int *i, const char *name, const char **slot, int *rc)
{
    const char *value;

    if (!cli_option_value(argc, argv, i, name, &value))
        return 0;
    if (!value || !value[0])
        *rc = usage_error("option '%s' needs a file name", name);
    else if (*slot)
        *rc = usage_error("option '%s' is given twice", name);
    else
        *slot = value;
    return 1;
}

/* Returns -1 when the command should go on, else the exit status (help shown: 0). */
static int parse_args(int argc, char **argv, loss_options *o)
{
    int options_done = 0, rc = -1;

    o->reduction = CLMSE_REDUCTION_MEAN;
    for (int i = 1; i < argc && rc < 0; i++) {
        const char *arg = argv[i], *value;

        if (!options_done && arg[0] == '-' && arg[1] != '\0') {
            if (strcmp(arg, "--") == 0) {
                options_done = 1;
            } else if (cli_is_help(arg)) {
                loss_usage(stdout);
                return CLI_EXIT_OK;
            } else if (strcmp(arg, "--strict-shapes") == 0) {
                o->strict = 1;
            } else if (cli_option_value(argc, argv, &i, "--reduction", &value)) {
                if (parse_reduction(value, &o->reduction) != CLI_EXIT_OK)
                    return CLI_EXIT_USAGE;
            } else if (cli_option_value(argc, argv, &i, "--device", &value)) {
                if (!value)
                    return usage_error("option '--device' needs a value");
                o->context.device = value;
            } else if (!file_option(argc, argv, &i, "--grad-output", &o->grad_output, &rc) &&
                       !file_option(argc, argv, &i, "--out", &o->results[RES_OUT], &rc) &&
                       !file_option(argc, argv, &i, "--grad-input", &o->results[RES_GRAD_INPUT],
                                    &rc) &&
                       !file_option(argc, argv, &i, "--grad-target", &o->results[RES_GRAD_TARGET],
                                    &rc)) {
                return usage_error("unknown option '%s'", arg);
            }
        } else if (!o->input) {
            o->input = arg;
        } else if (!o->target) {
            o->target = arg;
        } else {
            return usage_error("unexpected argument '%s' (INPUT and TARGET are '%s' and '%s')", arg,
                               o->input, o->target);
        }
    }
    if (rc >= 0)
        return rc;
    if (!o->input || !o->target)
        return usage_error("needs two files, INPUT.npy and TARGET.npy");
    for (int r = 0; r < RES_COUNT; r++)
        for (int s = 0; s < r; s++)
            if (o->results[r] && o->results[s] && strcmp(o->results[r], o->results[s]) == 0)
                return usage_error("options '%s' and '%s' name the same file '%s'",
                                   k_result_option[s], k_result_option[r], o->results[r]);
    if (o->grad_output && !o->results[RES_GRAD_INPUT] && !o->results[RES_GRAD_TARGET])
        return usage_error("option '--grad-output' needs '--grad-input' or '--grad-target'");
    return -1;
}

/* ---- files ------------------------------------------------------------------------------- */

/* Reads a float16/32/64 .npy file; reports and returns an exit status on failure. */
static int load_float_file(const char *path, npy_array *a)
{
    char err[LOSS_ERR_LEN];
    npy_status st = npy_read(path, a, err, sizeof err);

    if (st != NPY_OK) {
        fprintf(stderr, "clmse loss: %s: %s\n", path, err);
        return st == NPY_ERR_IO || st == NPY_ERR_NOMEM ? CLI_EXIT_RUNTIME : CLI_EXIT_USAGE;
    }
    if (!is_float(a)) {
        fprintf(stderr,
                "clmse loss: %s: dtype %s is not supported: MSELoss needs float16, "
                "float32 or float64\n",
                path, a->type_name);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static int same_shape(uint32_t ndim_a, const size_t *a, uint32_t ndim_b, const size_t *b)
{
    if (ndim_a != ndim_b)
        return 0;
    for (uint32_t i = 0; i < ndim_a; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

/* Sets up an empty C-order result array of `dtype` and `shape`, allocating its data. */
static int alloc_result(npy_array *a, clmse_dtype dtype, uint32_t ndim, const size_t *shape,
                        const char *what)
{
    size_t count = 1, size = float_size(dtype);

    npy_init(a);
    a->has_dtype = 1;
    a->dtype = dtype;
    a->itemsize = size;
    a->type_name = clmse_dtype_name(dtype);
    a->ndim = ndim;
    for (uint32_t i = 0; i < ndim; i++) {
        a->shape[i] = shape[i];
        if (shape[i] != 0 && count > SIZE_MAX / shape[i]) {
            fprintf(stderr, "clmse loss: %s: %s\n", what,
                    clmse_status_string(CLMSE_ERROR_SIZE_OVERFLOW));
            return CLI_EXIT_USAGE;
        }
        count *= shape[i];
    }
    a->count = count;
    if (count == 0)
        return CLI_EXIT_OK;
    if (count > SIZE_MAX / size || !(a->data = malloc(count * size))) {
        fprintf(stderr, "clmse loss: %s: %s: %zu elements of %s\n", what,
                clmse_status_string(CLMSE_ERROR_OUT_OF_HOST_MEMORY), count, a->type_name);
        return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

/* ---- device ------------------------------------------------------------------------------ */

/* A buffer for `a` (a copy of its data when `upload`); none for an empty array. */
static int make_buffer(cl_context clctx, const npy_array *a, int upload, const char *what,
                       cl_mem *out)
{
    cl_int err = CL_SUCCESS;
    size_t bytes = a->count * a->itemsize;

    *out = NULL;
    if (bytes == 0)
        return CLI_EXIT_OK;
    *out =
        clCreateBuffer(clctx, upload ? CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR : CL_MEM_WRITE_ONLY,
                       bytes, upload ? a->data : NULL, &err);
    if (err != CL_SUCCESS) {
        *out = NULL;
        fprintf(stderr, "clmse loss: %s: clCreateBuffer(%s, %zu bytes) returned %d\n",
                clmse_status_string(CLMSE_ERROR_OPENCL), what, bytes, (int)err);
        return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

/* Describes `a` in `buffer`: a Fortran-order file gets column-major strides, so nothing is
 * transposed on the host. */
static int describe(clmse_tensor *t, cl_mem buffer, const npy_array *a, const char *what)
{
    int64_t strides[CLMSE_MAX_NDIM];
    const int64_t *s = NULL;
    clmse_status st;

    /* count fits in size_t with itemsize >= 2, so every partial product fits in int64_t. */
    if (a->fortran_order && a->ndim > 1 && a->count > 0) {
        int64_t step = 1;

        for (uint32_t i = 0; i < a->ndim; i++) {
            strides[i] = step;
            step *= (int64_t)a->shape[i];
        }
        s = strides;
    }
    st = clmse_tensor_init(t, buffer, a->dtype, a->ndim, a->shape, s, 0);
    if (st != CLMSE_SUCCESS) {
        cli_report_status("loss", st, NULL, what);
        return status_exit(st);
    }
    return CLI_EXIT_OK;
}

static int run_device(const loss_options *o, loss_job *j)
{
    clmse_tensor in_t, tg_t, go_t, res_t[RES_COUNT];
    clmse_mse_args args = {0};
    cl_context clctx;
    cl_command_queue queue;
    clmse_status st;
    int rc;

    st = clmse_context_create(&o->context, &j->ctx);
    if (st != CLMSE_SUCCESS) {
        cli_report_status("loss", st, NULL, NULL);
        /* A malformed --device is the command line's fault; one from CLMSE_DEVICE is not. */
        if (st == CLMSE_ERROR_INVALID_DEVICE_SPEC && o->context.device && o->context.device[0])
            return CLI_EXIT_USAGE;
        return CLI_EXIT_RUNTIME;
    }
    st = clmse_context_get_cl(j->ctx, &clctx, NULL, &queue);
    if (st != CLMSE_SUCCESS) {
        cli_report_status("loss", st, j->ctx, "clmse_context_get_cl");
        return CLI_EXIT_RUNTIME;
    }
    if ((rc = make_buffer(clctx, &j->input, 1, o->input, &j->in_mem)) ||
        (rc = make_buffer(clctx, &j->target, 1, o->target, &j->tg_mem)) ||
        (o->grad_output &&
         (rc = make_buffer(clctx, &j->grad_output, 1, o->grad_output, &j->go_mem))))
        return rc;
    for (int r = 0; r < RES_COUNT; r++)
        if ((r == RES_OUT || o->results[r]) &&
            (rc = make_buffer(clctx, &j->results[r], 0, r == RES_OUT ? "loss" : o->results[r],
                              &j->res_mem[r])))
            return rc;

    if ((rc = describe(&in_t, j->in_mem, &j->input, o->input)) ||
        (rc = describe(&tg_t, j->tg_mem, &j->target, o->target)) ||
        (o->grad_output && (rc = describe(&go_t, j->go_mem, &j->grad_output, o->grad_output))))
        return rc;
    for (int r = 0; r < RES_COUNT; r++)
        if ((r == RES_OUT || o->results[r]) &&
            (rc = describe(&res_t[r], j->res_mem[r], &j->results[r],
                           r == RES_OUT ? "loss" : o->results[r])))
            return rc;

    /* The loss is always wanted (it is printed), so asking for a gradient too makes this the
     * fused pass over input and target. */
    args.reduction = o->reduction;
    args.flags = o->strict ? CLMSE_STRICT_SHAPES : 0u;
    args.input = &in_t;
    args.target = &tg_t;
    args.output = &res_t[RES_OUT];
    args.grad_output = o->grad_output ? &go_t : NULL;
    args.grad_input = o->results[RES_GRAD_INPUT] ? &res_t[RES_GRAD_INPUT] : NULL;
    args.grad_target = o->results[RES_GRAD_TARGET] ? &res_t[RES_GRAD_TARGET] : NULL;
    st = clmse_mse(j->ctx, &args, 0, NULL, &j->done);
    if (st != CLMSE_SUCCESS) {
        cli_report_status("loss", st, j->ctx, NULL);
        return status_exit(st);
    }
    for (int r = 0; r < RES_COUNT; r++) {
        npy_array *a = &j->results[r];
        cl_int err;

        if (!j->res_mem[r])
            continue;
        err = clEnqueueReadBuffer(queue, j->res_mem[r], CL_TRUE, 0, a->count * a->itemsize, a->data,
                                  j->done ? 1 : 0, j->done ? &j->done : NULL, NULL);
        if (err != CL_SUCCESS) {
            char call[64];

            snprintf(call, sizeof call, "clEnqueueReadBuffer(%s)",
                     r == RES_OUT ? "loss" : o->results[r]);
            return cli_report_cl("loss", call, err);
        }
    }
    return CLI_EXIT_OK;
}

/* ---- results ----------------------------------------------------------------------------- */

/* Writes every asked-for file to a temporary name, then renames them all into place. */
static int write_results(const loss_options *o, loss_job *j)
{
    char err[LOSS_ERR_LEN];

    for (int r = 0; r < RES_COUNT; r++)
        if (o->results[r] && npy_write_temp(o->results[r], &j->results[r], j->tmp[r],
                                            sizeof j->tmp[r], err, sizeof err) != NPY_OK) {
            fprintf(stderr, "clmse loss: %s: %s\n", o->results[r], err);
            return CLI_EXIT_RUNTIME; /* job_release() removes the temporary files */
        }
    for (int r = 0; r < RES_COUNT; r++) {
        if (!o->results[r])
            continue;
        if (npy_commit(j->tmp[r], o->results[r], err, sizeof err) != NPY_OK) {
            fprintf(stderr, "clmse loss: %s: %s\n", o->results[r], err);
            return CLI_EXIT_RUNTIME;
        }
        j->tmp[r][0] = '\0';
    }
    return CLI_EXIT_OK;
}

static void print_loss(const npy_array *loss, clmse_reduction reduction)
{
    char shape[LOSS_SHAPE_LEN];
    double v;

    if (reduction == CLMSE_REDUCTION_NONE) {
        npy_format_shape(shape, sizeof shape, loss->ndim, loss->shape);
        printf("shape %s dtype %s\n", shape, loss->type_name);
        return;
    }
    if (loss->dtype == CLMSE_DTYPE_F16) {
        uint16_t h;

        memcpy(&h, loss->data, sizeof h);
        v = npy_half_to_double(h);
    } else if (loss->dtype == CLMSE_DTYPE_F32) {
        float f;

        memcpy(&f, loss->data, sizeof f);
        v = f;
    } else {
        memcpy(&v, loss->data, sizeof v);
    }
    if (v != v) /* printf may write "-nan" for a NaN with its sign bit set */
        puts("nan");
    else
        printf(loss->dtype == CLMSE_DTYPE_F16   ? "%.5g\n"
               : loss->dtype == CLMSE_DTYPE_F32 ? "%.9g\n"
                                                : "%.17g\n",
               v);
}

static void job_release(loss_job *j)
{
    cl_mem mems[3 + RES_COUNT] = {j->in_mem, j->tg_mem, j->go_mem};

    for (int r = 0; r < RES_COUNT; r++) {
        mems[3 + r] = j->res_mem[r];
        npy_discard(j->tmp[r]);
        npy_free(&j->results[r]);
    }
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i])
            clReleaseMemObject(mems[i]);
    if (j->done)
        clReleaseEvent(j->done);
    clmse_context_release(j->ctx);
    npy_free(&j->input);
    npy_free(&j->target);
    npy_free(&j->grad_output);
}

/* Reads the three input files and checks them against each other before any device work, so
 * that bad input is reported (exit 2) even where no device exists. */
static int prepare(const loss_options *o, loss_job *j)
{
    char a_shape[LOSS_SHAPE_LEN], b_shape[LOSS_SHAPE_LEN], err[LOSS_ERR_LEN];
    size_t shape[CLMSE_MAX_NDIM];
    uint32_t ndim = 0;
    clmse_dtype promoted;
    clmse_status st;
    int rc;

    if ((rc = load_float_file(o->input, &j->input)) ||
        (rc = load_float_file(o->target, &j->target)))
        return rc;
    npy_format_shape(a_shape, sizeof a_shape, j->input.ndim, j->input.shape);
    npy_format_shape(b_shape, sizeof b_shape, j->target.ndim, j->target.shape);
    if (o->strict && !same_shape(j->input.ndim, j->input.shape, j->target.ndim, j->target.shape)) {
        fprintf(stderr, "clmse loss: --strict-shapes: %s has shape %s but %s has shape %s\n",
                o->input, a_shape, o->target, b_shape);
        return CLI_EXIT_USAGE;
    }
    st = clmse_broadcast_shapes(j->input.ndim, j->input.shape, j->target.ndim, j->target.shape,
                                &ndim, shape);
    if (st == CLMSE_ERROR_SHAPE_MISMATCH) {
        fprintf(stderr, "clmse loss: %s shape %s and %s shape %s do not broadcast\n", o->input,
                a_shape, o->target, b_shape);
        return CLI_EXIT_USAGE;
    }
    if (st != CLMSE_SUCCESS) {
        cli_report_status("loss", st, NULL, "clmse_broadcast_shapes");
        return status_exit(st);
    }
    st = clmse_promote_dtypes(j->input.dtype, j->target.dtype, &promoted);
    if (st != CLMSE_SUCCESS) {
        cli_report_status("loss", st, NULL, "clmse_promote_dtypes");
        return status_exit(st);
    }
    if (o->reduction != CLMSE_REDUCTION_NONE)
        ndim = 0; /* mean and sum give a 0-d loss, as torch does */

    if (o->grad_output) {
        if ((rc = load_float_file(o->grad_output, &j->grad_output)))
            return rc;
        if (!same_shape(j->grad_output.ndim, j->grad_output.shape, ndim, shape)) {
            npy_format_shape(a_shape, sizeof a_shape, j->grad_output.ndim, j->grad_output.shape);
            npy_format_shape(b_shape, sizeof b_shape, ndim, shape);
            fprintf(stderr,
                    "clmse loss: %s: --grad-output has shape %s but the loss has shape "
                    "%s (reduction %s)\n",
                    o->grad_output, a_shape, b_shape,
                    o->reduction == CLMSE_REDUCTION_NONE  ? "none"
                    : o->reduction == CLMSE_REDUCTION_SUM ? "sum"
                                                          : "mean");
            return CLI_EXIT_USAGE;
        }
        if (j->grad_output.dtype != promoted) {
            npy_array converted;

            if (npy_convert(&j->grad_output, promoted, &converted, err, sizeof err) != NPY_OK) {
                fprintf(stderr, "clmse loss: %s: %s\n", o->grad_output, err);
                return CLI_EXIT_RUNTIME;
            }
            npy_free(&j->grad_output);
            j->grad_output = converted;
        }
    }

    if ((rc = alloc_result(&j->results[RES_OUT], promoted, ndim, shape, "loss")))
        return rc;
    if (o->results[RES_GRAD_INPUT] &&
        (rc = alloc_result(&j->results[RES_GRAD_INPUT], j->input.dtype, j->input.ndim,
                           j->input.shape, o->results[RES_GRAD_INPUT])))
        return rc;
    if (o->results[RES_GRAD_TARGET] &&
        (rc = alloc_result(&j->results[RES_GRAD_TARGET], j->target.dtype, j->target.ndim,
                           j->target.shape, o->results[RES_GRAD_TARGET])))
        return rc;
    return CLI_EXIT_OK;
}

int cmd_loss(int argc, char **argv)
{
    loss_options o = {0};
    loss_job j;
    int rc = parse_args(argc, argv, &o);

    if (rc >= 0)
        return rc;
    memset(&j, 0, sizeof j);
    if ((rc = prepare(&o, &j)) == CLI_EXIT_OK && (rc = run_device(&o, &j)) == CLI_EXIT_OK &&
        (rc = write_results(&o, &j)) == CLI_EXIT_OK) {
        print_loss(&j.results[RES_OUT], o.reduction);
        if (fflush(stdout) != 0) {
            fprintf(stderr, "clmse loss: cannot write the result to stdout\n");
            rc = CLI_EXIT_RUNTIME;
        }
    }
    job_release(&j);
    return rc;
}
