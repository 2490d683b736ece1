/* SPDX-License-Identifier: MIT */
/* `clmse selftest`: a known-answer check of one device. Every operation, reduction and dtype the
 * device supports runs on the contiguous and the strided path, at sizes around each launch
 * plan's vector, work-group and loop-bound boundaries and at one large size, and every result
 * is compared with a host reference computed in long double. */

#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clmse.h"
#include "clmse_tuning.h"
#include "commands.h"
#include "dtype_bits.h"
#include "options.h"
#include "timing.h"
#include "workload.h"

#define ST_LOOP_BOUND 65535u /* llvmpipe ends any loop of a work-item after this many trips */
#define ST_GUARD 16          /* elements after every result that must stay untouched */
/* The large float32 size at most: its set-up and six checks take about 7 s on POCL, 2 cores. */
#define ST_LARGE_CAP ((size_t)1 << 26)
/* --quick: contiguous sizes up to 2^17 + 1 (past the small/medium edge, where a second
 * work-item starts under the CPU-shape defaults), strided ones up to 4097, no large size. */
#define ST_QUICK_CAP (((size_t)1 << 17) + 1)
#define ST_QUICK_STRIDED_CAP 4097u
#define ST_MAX_SIZES 128
#define ST_MAX_LISTED 32 /* failed checks repeated after the summary */
#define ST_SEED UINT64_C(0x5e1f7e57)

/* Where an operand's elements sit in its buffer. Results are always C-order and contiguous. */
typedef enum st_layout {
    LAY_VEC,     /* 1-d (C), contiguous */
    LAY_STRIDED, /* 1-d (C), every second element from element 3 */
    LAY_MAT,     /* 2-d (R, C), C order */
    LAY_FORTRAN, /* 2-d (R, C), column-major from element 1: a transposed view */
    LAY_COL      /* 2-d (R, 1), contiguous: broadcast along the columns */
} st_layout;

typedef struct st_case {
    const char *path; /* "contiguous" or "strided/<what makes it strided>" */
    clmse_dtype dx, dy;
    st_layout lx, ly;
} st_case;

/* The contiguous path: same-dtype, contiguous float32 (the _f32 entry points) and float64
 * (clmse_mse on contiguous views), at sizes taken from the plans. */
static const st_case contiguous_cases[] = {
    {"contiguous", CLMSE_DTYPE_F32, CLMSE_DTYPE_F32, LAY_VEC, LAY_VEC},
    {"contiguous", CLMSE_DTYPE_F64, CLMSE_DTYPE_F64, LAY_VEC, LAY_VEC},
};

/* The strided path: views, broadcasting, mixed dtypes, float16 and bfloat16. */
static const st_case strided_cases[] = {
    {"strided/view", CLMSE_DTYPE_F32, CLMSE_DTYPE_F32, LAY_STRIDED, LAY_VEC},
    {"strided/transposed", CLMSE_DTYPE_F32, CLMSE_DTYPE_F32, LAY_FORTRAN, LAY_MAT},
    {"strided/broadcast-rows", CLMSE_DTYPE_F32, CLMSE_DTYPE_F32, LAY_MAT, LAY_VEC},
    {"strided/broadcast-cols", CLMSE_DTYPE_F32, CLMSE_DTYPE_F32, LAY_MAT, LAY_COL},
    {"strided/dtype", CLMSE_DTYPE_F16, CLMSE_DTYPE_F16, LAY_VEC, LAY_VEC},
    {"strided/dtype", CLMSE_DTYPE_BF16, CLMSE_DTYPE_BF16, LAY_VEC, LAY_VEC},
    {"strided/mixed", CLMSE_DTYPE_F16, CLMSE_DTYPE_F32, LAY_VEC, LAY_VEC},
    {"strided/mixed", CLMSE_DTYPE_F16, CLMSE_DTYPE_BF16, LAY_VEC, LAY_VEC},
    {"strided/transposed", CLMSE_DTYPE_F64, CLMSE_DTYPE_F64, LAY_FORTRAN, LAY_MAT},
    {"strided/broadcast-rows", CLMSE_DTYPE_F64, CLMSE_DTYPE_F64, LAY_MAT, LAY_VEC},
    {"strided/mixed", CLMSE_DTYPE_F32, CLMSE_DTYPE_F64, LAY_VEC, LAY_VEC},
};

/* Sizes of the 1-d strided cases: 64, the strided kernels' work-group size on CPU devices, and
 * 2^16 +- 1. float16
 * sums stay below its largest value, 65504, at these sizes (the mean square is about 2/3). */
static const size_t strided_sizes[] = {1, 63, 64, 65, 4097, 65535, 65537};
/* Shapes (R, C) of the 2-d cases: 70001 rows or columns make a broadcast operand's gradient a
 * sum of more terms than llvmpipe's loop bound. */
static const size_t strided_shapes[][2] = {{3, 5},     {8, 8},     {5, 13},   {33, 65},
                                           {255, 257}, {3, 70001}, {70001, 3}};
/* The large strided case (not with --quick): a transposed float32 view of 2^22 elements. */
static const size_t strided_large_shape[2] = {1024, 4096};

static const clmse_op ops[3] = {CLMSE_OP_FORWARD, CLMSE_OP_BACKWARD, CLMSE_OP_FUSED};
static const clmse_reduction reductions[3] = {CLMSE_REDUCTION_NONE, CLMSE_REDUCTION_MEAN,
                                              CLMSE_REDUCTION_SUM};
static const char *const reduction_names[3] = {"none", "mean", "sum"};

/* An operand or a result: a tensor view of a buffer of its own, and the host image of that
 * whole buffer (an operand's contents, or a result as read back). */
typedef struct st_tensor {
    clmse_tensor t;
    size_t rows, cols;   /* logical shape as 2-d: (1, C) for 1-d, (1, 1) for 0-d */
    int64_t srow, scol;  /* element strides of a step along each */
    size_t numel, total; /* logical elements; buffer elements, guard included */
    unsigned char *img;
} st_tensor;

/* One case at one shape: the operands on the device and buffers for every result. */
typedef struct problem {
    const st_case *c;
    size_t rows, cols, n; /* the broadcast shape */
    clmse_dtype p;        /* promoted: the loss's and grad_output's dtype */
    int fast_f32;         /* through the _f32 entry points */
    int given_scalar_g;   /* mean/sum backward pass a 0-d grad_output (else ones) */
    int fits;             /* the operands and gradients fit the allocation budget */
    const char *no_none;  /* why 'none' is not checked, or NULL */
    int have_sum;         /* sum holds the exact sum of the terms (computed once) */
    long double sum;
    st_tensor x, y, g, g0, out, out0, gx, gy;
    char why[128]; /* what went wrong in the set-up */
} problem;

/* One result of a check (the loss, grad_input or grad_target): its first wrong value, how
 * many were wrong, of how many. */
typedef struct mismatch {
    const char *what;
    size_t checked, count;
    size_t index;
    int indexed, reduced, beyond; /* names an element; a 1-ulp check; past the result */
    clmse_dtype dtype;
    uint64_t got, want;
    long double exact; /* the reference of a reduced check */
} mismatch;

enum { M_LOSS, M_GRAD_INPUT, M_GRAD_TARGET, M_COUNT };

typedef struct st_env {
    clmse_context *ctx;
    cl_context clctx;
    cl_command_queue queue;
    clmse_device_info info;
    cl_ulong max_alloc;
    int quick;
    size_t passed, failed, skipped;
    int plan_checked[2][3][3]; /* float32/float64, op, size class */
    char *listed[ST_MAX_LISTED];
    size_t nlisted;
} st_env;

static void selftest_usage(FILE *out)
{
    fputs("Usage: clmse selftest [--device SPEC] [--quick]\n\n"
          "Checks the device against known answers: forward, backward and fused MSE with\n"
          "reductions none, mean and sum, for float32, float64 (or, on a device without fp64,\n"
          "that float64 is refused), float16 and bfloat16; on the contiguous path with\n"
          "every launch plan in use (each dtype, operation and size class), and on the\n"
          "strided path (strided and transposed views, broadcast operands, mixed dtypes).\n"
          "Sizes sit around each plan's vector width, work-group size, work-item span and\n"
          "the 65,535-iteration loop bound of some drivers, plus one large float32 size:\n"
          "the largest n whose input, target and two gradients (16 bytes per element) fit\n"
          "in the device's largest allocation, at most 2^26. Results are compared with a\n"
          "host reference in long double: elementwise losses and gradients bit for bit\n"
          "with PyTorch's order of operations, mean and sum (and gradients summed over\n"
          "broadcast dimensions) within one ulp of the exact value. One line per check,\n"
          "then a summary; failures name the operation, dtype, path, plan, n, the value\n"
          "got and the value expected. Run it on every new device or driver.\n\n"
          "Options:\n"
          "  --device SPEC  gpu, cpu, accelerator, P:D, or part of a device name\n"
          "                 (default: $CLMSE_DEVICE, else the first GPU, ...)\n"
          "  --quick        sizes up to 2^17 + 1 (strided path: 4097), no large size: for\n"
          "                 slow devices and simulators such as Oclgrind\n"
          "  --help         show this help\n\n"
          "Exit status: 0 every check passed, 1 a check failed or the device could not be\n"
          "used, 2 usage error.\n",
          out);
}

/* ---- element encodings ------------------------------------------------------------------ */

static uint32_t f32_bits(float f)
{
    uint32_t u;

    memcpy(&u, &f, sizeof u);
    return u;
}

/* Encodings, sentinels and the one-ulp rule: tools/dtype_bits.h (shared with the tests, whose
 * rule differs on NaN; see there). */

/* ---- deterministic data ------------------------------------------------------------------- */

/* Element i of a stream: a value in [-1, 1] exactly representable in d (float32: 24 random
 * bits, float64: 53; the 16-bit types round a 53-bit value once). */
static uint64_t value_bits(clmse_dtype d, uint64_t seed, size_t i)
{
    const uint64_t r = workload_mix_at(seed, i);

    if (d == CLMSE_DTYPE_F32)
        return f32_bits((float)((double)(r >> 40) * 0x1p-23 - 1.0));
    return dtype_bits_encode(d, (double)(r >> 11) * 0x1p-52 - 1.0);
}

/* ---- the long-double reference ------------------------------------------------------------ */

/* Neumaier's compensated sum in long double: for these sums it is exact to about 2^-63
 * relative, far below one ulp of float64, however many terms. */
typedef struct ldsum {
    long double s, c;
} ldsum;

static void ldsum_add(ldsum *a, long double v)
{
    const long double t = a->s + v;
    const long double as = a->s < 0 ? -a->s : a->s, av = v < 0 ? -v : v;

    a->c += as >= av ? (a->s - t) + v : (v - t) + a->s;
    a->s = t;
}

static long double ldsum_value(const ldsum *a) { return a->s + a->c; }

/* Every step of the reference must round to its type. This file is built with
 * -ffp-contract=off (no fused multiply-add); where the compiler evaluates in wider registers
 * (x87), volatile stores force each rounding. */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define ST_ROUNDED
#else
#define ST_ROUNDED volatile
#endif

/* torch's order of operations in the compute type (double for float64 results, else float):
 * d = x - y, term = d * d, grad_input = (scale * d) * g, grad_target = (scale * (y - x)) * g,
 * each rounded. */
static void reference_element(int dbl, double x, double y, double scale, double g, double *t,
                              double *gx, double *gy)
{
    if (dbl) {
        ST_ROUNDED double d = x - y, tt = d * d, a = scale * d, b = a * g;
        ST_ROUNDED double d2 = y - x, a2 = scale * d2, b2 = a2 * g;

        *t = tt;
        *gx = b;
        *gy = b2;
    } else {
        const float xf = (float)x, yf = (float)y, sf = (float)scale, gf = (float)g;
        ST_ROUNDED float d = xf - yf, tt = d * d, a = sf * d, b = a * gf;
        ST_ROUNDED float d2 = yf - xf, a2 = sf * d2, b2 = a2 * gf;

        *t = tt;
        *gx = b;
        *gy = b2;
    }
}

/* ---- reporting ---------------------------------------------------------------------------- */

/* Digits that make a value of dtype d round-trip. */
static int digits_of(clmse_dtype d)
{
    return d == CLMSE_DTYPE_F64 ? 17 : d == CLMSE_DTYPE_F32 ? 9 : d == CLMSE_DTYPE_F16 ? 5 : 4;
}

static void describe_plan(st_env *e, const problem *pb, clmse_op op, char *buf, size_t size)
{
    clmse_plan p;
    clmse_plan_source src;
    clmse_size_class sc = clmse_size_class_of(pb->n);
    clmse_status st;

    if (strcmp(pb->c->path, "refused") == 0) {
        snprintf(buf, size, "no plan");
        return;
    }
    if (strcmp(pb->c->path, "contiguous") != 0) {
        snprintf(buf, size, "plan strided (fixed per device)");
        return;
    }
    st = clmse_context_get_plan(e->ctx, pb->c->dx, op, sc, &p, &src);
    if (st != CLMSE_SUCCESS) {
        snprintf(buf, size, "plan %s unknown (%s)", clmse_size_class_name(sc),
                 clmse_status_string(st));
        return;
    }
    e->plan_checked[pb->c->dx == CLMSE_DTYPE_F64][op][sc] = 1;
    snprintf(buf, size, "plan %s %s %s wg=%zu vec=%zu groups=%zu per_item=%zu final_wg=%zu",
             clmse_size_class_name(sc), clmse_plan_source_name(src), clmse_plan_shape_name(p.shape),
             p.work_group_size, p.vector_width, p.max_groups, p.min_per_item,
             p.final_work_group_size);
}

/* Prints one check's line (r < 0: the set-up of all of a problem's checks); a failed one is
 * also kept for the list after the summary. */
static void print_check(st_env *e, const problem *pb, clmse_op op, int r, const char *tag,
                        const char *detail)
{
    char dtypes[40], size[48], plan[160], line[1400];

    if (pb->c->dx == pb->c->dy)
        snprintf(dtypes, sizeof dtypes, "%s", clmse_dtype_name(pb->c->dx));
    else
        snprintf(dtypes, sizeof dtypes, "%s+%s", clmse_dtype_name(pb->c->dx),
                 clmse_dtype_name(pb->c->dy));
    if (pb->x.t.ndim == 2 || pb->y.t.ndim == 2)
        snprintf(size, sizeof size, "n=%zu (%zux%zu)", pb->n, pb->rows, pb->cols);
    else
        snprintf(size, sizeof size, "n=%zu", pb->n);
    describe_plan(e, pb, op, plan, sizeof plan);
    snprintf(line, sizeof line, "%-4s %-8s %-4s %-15s %-22s %-20s %s%s%s", tag,
             r < 0 ? "set-up" : clmse_op_name(op), r < 0 ? "-" : reduction_names[r], dtypes,
             pb->c->path, size, plan, detail ? ": " : "", detail ? detail : "");
    puts(line);
    if (strcmp(tag, "FAIL") == 0 && e->nlisted < ST_MAX_LISTED) {
        e->listed[e->nlisted] = malloc(strlen(line) + 1);
        if (e->listed[e->nlisted])
            strcpy(e->listed[e->nlisted++], line);
    }
}

/* Appends what went wrong with one result to buf. */
static void describe_mismatch(const mismatch *m, char *buf, size_t size)
{
    const int dg = digits_of(m->dtype);
    const char *name = clmse_dtype_name(m->dtype);
    size_t len = strlen(buf);
    char where[64];

    if (m->indexed)
        snprintf(where, sizeof where, "%s[%zu]", m->what, m->index);
    else
        snprintf(where, sizeof where, "%s", m->what);
    if (len && len + 2 < size) {
        strcpy(buf + len, "; ");
        len += 2;
    }
    if (m->beyond)
        snprintf(buf + len, size - len,
                 "%s, past the end of the result, was overwritten with "
                 "%.*g",
                 where, dg, dtype_bits_decode(m->dtype, m->got));
    else if (m->got == dtype_bits_sentinel(m->dtype))
        snprintf(buf + len, size - len, "%s was not written (%s), expected %.*g", where, name, dg,
                 dtype_bits_decode(m->dtype, m->want));
    else if (m->reduced)
        snprintf(buf + len, size - len,
                 "%s got %.*g, expected %.*g (%s, exact %.21Lg; 1 ulp "
                 "allowed)",
                 where, dg, dtype_bits_decode(m->dtype, m->got), dg,
                 dtype_bits_decode(m->dtype, m->want), name, m->exact);
    else
        snprintf(buf + len, size - len, "%s got %.*g, expected %.*g (%s, bit for bit)", where, dg,
                 dtype_bits_decode(m->dtype, m->got), dg, dtype_bits_decode(m->dtype, m->want),
                 name);
    len = strlen(buf);
    if (m->count > 1)
        snprintf(buf + len, size - len, ", %zu of %zu values wrong", m->count, m->checked);
}

/* ---- device tensors ----------------------------------------------------------------------- */

static void tensor_release(st_tensor *t)
{
    if (t->t.buffer)
        clReleaseMemObject(t->t.buffer);
    free(t->img);
    memset(t, 0, sizeof *t);
}

/* Lays out a view of `lay` for the broadcast shape (R, C), or a 0-d tensor for ndim 0. */
static clmse_status tensor_shape(st_tensor *t, clmse_dtype d, int ndim, st_layout lay, size_t R,
                                 size_t C)
{
    size_t shape[2] = {R, C}, offset = 0, last;
    int64_t strides[2] = {(int64_t)C, 1};
    uint32_t nd = 2;

    memset(t, 0, sizeof *t);
    t->rows = R;
    t->cols = C;
    t->srow = (int64_t)C;
    t->scol = 1;
    if (ndim == 0) {
        nd = 0;
        t->rows = t->cols = 1;
    } else if (lay == LAY_VEC || lay == LAY_STRIDED) {
        nd = 1;
        shape[0] = C;
        t->rows = 1;
        if (lay == LAY_STRIDED) {
            strides[0] = t->scol = 2;
            offset = 3;
        } else {
            strides[0] = 1;
        }
    } else if (lay == LAY_FORTRAN) {
        strides[0] = t->srow = 1;
        strides[1] = t->scol = (int64_t)R;
        offset = 1;
    } else if (lay == LAY_COL) {
        shape[1] = t->cols = 1;
        strides[0] = t->srow = 1;
    }
    t->numel = t->rows * t->cols;
    last = offset + (t->rows - 1) * (size_t)t->srow + (t->cols - 1) * (size_t)t->scol;
    t->total = last + 1 + ST_GUARD;
    return clmse_tensor_init(&t->t, NULL, d, nd, shape, strides, offset);
}

/* Creates the buffer: an operand's data (stream `seed`, sentinel around it) or, for a result
 * (seed 0), uninitialised; results are reset to the sentinel before each check. */
static cl_int tensor_create(st_env *e, st_tensor *t, uint64_t seed)
{
    const clmse_dtype d = t->t.dtype;
    const size_t bytes = t->total * dtype_bits_size(d);
    cl_int err = CL_SUCCESS;

    t->img = malloc(bytes);
    if (!t->img)
        return CL_OUT_OF_HOST_MEMORY;
    if (seed) {
        for (size_t i = 0; i < t->total; i++)
            dtype_bits_store(t->img, d, i, dtype_bits_sentinel(d));
        for (size_t r = 0; r < t->rows; r++)
            for (size_t c = 0; c < t->cols; c++)
                dtype_bits_store(t->img, d, t->t.offset + r * (size_t)t->srow + c * (size_t)t->scol,
                                 value_bits(d, seed, r * t->cols + c));
    }
    t->t.buffer = clCreateBuffer(e->clctx, CL_MEM_READ_WRITE | (seed ? CL_MEM_COPY_HOST_PTR : 0),
                                 bytes, seed ? t->img : NULL, &err);
    return err;
}

static void problem_release(problem *pb)
{
    st_tensor *all[] = {&pb->x, &pb->y, &pb->g, &pb->g0, &pb->out, &pb->out0, &pb->gx, &pb->gy};

    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tensor_release(all[i]);
}

/* A result's layout: C order of the operand's logical shape. */
static st_layout result_layout(st_layout lay)
{
    return lay == LAY_STRIDED ? LAY_VEC : lay == LAY_FORTRAN ? LAY_MAT : lay;
}

static int is_2d(st_layout lay) { return lay == LAY_MAT || lay == LAY_FORTRAN || lay == LAY_COL; }

/* Sets up case c at broadcast shape (R, C). Returns a message on failure, NULL on success. */
static const char *problem_setup(st_env *e, problem *pb, const st_case *c, size_t R, size_t C,
                                 uint64_t seed, int large)
{
    const int nd = is_2d(c->lx) || is_2d(c->ly) ? 2 : 1;
    const st_layout lo = nd == 2 ? LAY_MAT : LAY_VEC;
    cl_ulong base, extra;
    cl_int err;

    memset(pb, 0, sizeof *pb);
    pb->c = c;
    pb->rows = R;
    pb->cols = C;
    pb->n = R * C;
    pb->fast_f32 = strcmp(c->path, "contiguous") == 0 && c->dx == CLMSE_DTYPE_F32;
    /* The fused checks take the default grad_output, ones. So does the float64 contiguous path's
     * backward with mean or sum: clmse_mse sends a 0-d grad_output to the strided kernels
     * (at commit 2eaebf0), which the strided cases check. */
    pb->given_scalar_g = pb->fast_f32 || strcmp(c->path, "contiguous") != 0;
    if (clmse_promote_dtypes(c->dx, c->dy, &pb->p) != CLMSE_SUCCESS ||
        tensor_shape(&pb->x, c->dx, 1, c->lx, R, C) != CLMSE_SUCCESS ||
        tensor_shape(&pb->y, c->dy, 1, c->ly, R, C) != CLMSE_SUCCESS ||
        tensor_shape(&pb->gx, c->dx, 1, result_layout(c->lx), R, C) != CLMSE_SUCCESS ||
        tensor_shape(&pb->gy, c->dy, 1, result_layout(c->ly), R, C) != CLMSE_SUCCESS ||
        tensor_shape(&pb->out, pb->p, 1, lo, R, C) != CLMSE_SUCCESS ||
        tensor_shape(&pb->g, pb->p, 1, lo, R, C) != CLMSE_SUCCESS ||
        tensor_shape(&pb->out0, pb->p, 0, lo, 1, 1) != CLMSE_SUCCESS ||
        tensor_shape(&pb->g0, pb->p, 0, lo, 1, 1) != CLMSE_SUCCESS)
        return clmse_context_last_error(NULL);
    /* The budget: everything a check holds must fit in one allocation of the device's
     * largest size. 'none' needs an output and a grad_output of n elements more. */
    base =
        (cl_ulong)(pb->x.total * dtype_bits_size(c->dx) + pb->y.total * dtype_bits_size(c->dy)) +
        (cl_ulong)(pb->gx.total * dtype_bits_size(c->dx) + pb->gy.total * dtype_bits_size(c->dy));
    extra = (cl_ulong)(pb->out.total + pb->g.total) * dtype_bits_size(pb->p);
    if (base > e->max_alloc)
        return NULL; /* fits stays 0: skipped */
    pb->fits = 1;
    if (large)
        pb->no_none = "the large size checks mean and sum: its input, target and gradients "
                      "fill the allocation budget";
    else if (base + extra > e->max_alloc)
        pb->no_none = "'none' needs an output and a grad_output of n elements more than the "
                      "largest allocation holds";
    err = tensor_create(e, &pb->x, seed);
    if (err == CL_SUCCESS)
        err = tensor_create(e, &pb->y, seed + 1);
    if (err == CL_SUCCESS)
        err = tensor_create(e, &pb->g0, seed + 2);
    if (err == CL_SUCCESS)
        err = tensor_create(e, &pb->gx, 0);
    if (err == CL_SUCCESS)
        err = tensor_create(e, &pb->gy, 0);
    if (err == CL_SUCCESS)
        err = tensor_create(e, &pb->out0, 0);
    if (err == CL_SUCCESS && !pb->no_none)
        err = tensor_create(e, &pb->out, 0);
    if (err == CL_SUCCESS && !pb->no_none)
        err = tensor_create(e, &pb->g, seed + 3);
    if (err == CL_SUCCESS)
        return NULL;
    snprintf(pb->why, sizeof pb->why, "allocating %s failed: %d%s",
             err == CL_OUT_OF_HOST_MEMORY ? "host memory" : "a device buffer", (int)err,
             cli_cl_error_name(err));
    return pb->why;
}

/* ---- one check ---------------------------------------------------------------------------- */

static clmse_status enqueue(st_env *e, problem *pb, clmse_op op, clmse_reduction red, cl_event *ev)
{
    const int none = red == CLMSE_REDUCTION_NONE;
    const st_tensor *out = none ? &pb->out : &pb->out0, *g = none ? &pb->g : &pb->g0;
    clmse_mse_args a = {red, 0, &pb->x.t, &pb->y.t, NULL, NULL, NULL, NULL, 0};

    if (pb->fast_f32) {
        if (op == CLMSE_OP_FORWARD)
            return clmse_mse_forward_f32(e->ctx, red, pb->n, pb->x.t.buffer, 0, pb->y.t.buffer, 0,
                                         out->t.buffer, 0, 0, NULL, ev);
        if (op == CLMSE_OP_BACKWARD)
            return clmse_mse_backward_f32(e->ctx, red, pb->n, pb->x.t.buffer, 0, pb->y.t.buffer, 0,
                                          g->t.buffer, 0, pb->gx.t.buffer, 0, pb->gy.t.buffer, 0, 0,
                                          NULL, ev);
        return clmse_mse_fused_f32(e->ctx, red, pb->n, pb->x.t.buffer, 0, pb->y.t.buffer, 0,
                                   out->t.buffer, 0, NULL, 0, pb->gx.t.buffer, 0, pb->gy.t.buffer,
                                   0, 0, NULL, ev);
    }
    if (op != CLMSE_OP_BACKWARD)
        a.output = &out->t;
    if (op == CLMSE_OP_BACKWARD && (none || pb->given_scalar_g))
        a.grad_output = &g->t;
    if (op != CLMSE_OP_FORWARD) {
        a.grad_input = &pb->gx.t;
        a.grad_target = &pb->gy.t;
    }
    return clmse_mse(e->ctx, &a, 0, NULL, ev);
}

/* Records a wrong value; `exact` is the reference of a one-ulp check, NULL for a bitwise one. */
static void note(mismatch *m, size_t index, int indexed, clmse_dtype d, uint64_t got, uint64_t want,
                 const long double *exact)
{
    if (m->count++ == 0) {
        m->index = index;
        m->indexed = indexed;
        m->dtype = d;
        m->got = got;
        m->want = want;
        m->reduced = exact != NULL;
        m->exact = exact ? *exact : 0;
    }
}

/* Elements [numel, total) of a result must still hold the sentinel. */
static void check_guard(mismatch *m, const st_tensor *t)
{
    const clmse_dtype d = t->t.dtype;

    for (size_t i = t->numel; i < t->total; i++)
        if (dtype_bits_load(t->img, d, i) != dtype_bits_sentinel(d)) {
            m->beyond |= m->count == 0;
            note(m, i, 1, d, dtype_bits_load(t->img, d, i), dtype_bits_sentinel(d), NULL);
        }
}

/* Elements of a broadcast operand's gradient: sums of n / numel terms, within one ulp. */
static void check_sums(mismatch *m, const st_tensor *t, const ldsum *acc)
{
    const clmse_dtype d = t->t.dtype;

    for (size_t k = 0; k < t->numel; k++) {
        const long double exact = ldsum_value(&acc[k]);
        const uint64_t got = dtype_bits_load(t->img, d, k);

        if (!dtype_bits_near_exact(d, got, exact))
            note(m, k, 1, d, got, dtype_bits_encode_exact(d, exact), &exact);
    }
}

/* Compares the results read back with the reference, one mismatch record per result. */
static void verify(problem *pb, clmse_op op, clmse_reduction red, ldsum *acc[2],
                   mismatch m[M_COUNT])
{
    const clmse_dtype p = pb->p, dx = pb->c->dx, dy = pb->c->dy;
    const int dbl = p == CLMSE_DTYPE_F64, none = red == CLMSE_REDUCTION_NONE;
    const int loss = op != CLMSE_OP_BACKWARD, grads = op != CLMSE_OP_FORWARD;
    const int bx = pb->x.numel < pb->n, by = pb->y.numel < pb->n;
    const double scale = red == CLMSE_REDUCTION_MEAN ? 2.0 / (double)pb->n : 2.0;
    const double g0 = op == CLMSE_OP_BACKWARD && pb->given_scalar_g
                          ? dtype_bits_decode(p, dtype_bits_load(pb->g0.img, p, 0))
                          : 1.0;
    const st_tensor *x = &pb->x, *y = &pb->y;
    const int add_terms = loss && !none && !pb->have_sum;
    ldsum sum = {0, 0};

    m[M_LOSS].what = "loss";
    m[M_LOSS].checked = loss ? (none ? pb->n : 1) : 0;
    m[M_GRAD_INPUT].what = "grad_input";
    m[M_GRAD_INPUT].checked = grads ? pb->x.numel : 0;
    m[M_GRAD_TARGET].what = "grad_target";
    m[M_GRAD_TARGET].checked = grads ? pb->y.numel : 0;
    /* The forward's mean and sum need no pass of their own once the sum is known. */
    for (size_t r = 0; r < pb->rows && (add_terms || (loss && none) || grads); r++)
        for (size_t c = 0; c < pb->cols; c++) {
            const size_t i = r * pb->cols + c;
            const size_t xr = x->rows > 1 ? r : 0, xc = x->cols > 1 ? c : 0;
            const size_t yr = y->rows > 1 ? r : 0, yc = y->cols > 1 ? c : 0;
            const size_t ix = xr * x->cols + xc, iy = yr * y->cols + yc;
            const size_t xk = x->t.offset + xr * (size_t)x->srow + xc * (size_t)x->scol;
            const size_t yk = y->t.offset + yr * (size_t)y->srow + yc * (size_t)y->scol;
            const double xv = dtype_bits_decode(dx, dtype_bits_load(x->img, dx, xk));
            const double yv = dtype_bits_decode(dy, dtype_bits_load(y->img, dy, yk));
            const double gv = op == CLMSE_OP_BACKWARD && none
                                  ? dtype_bits_decode(p, dtype_bits_load(pb->g.img, p, i))
                                  : g0;
            double t, gxv, gyv;
            uint64_t got, want;

            reference_element(dbl, xv, yv, scale, gv, &t, &gxv, &gyv);
            if (loss && none) {
                got = dtype_bits_load(pb->out.img, p, i);
                if (got != (want = dtype_bits_encode(p, t)))
                    note(&m[M_LOSS], i, 1, p, got, want, NULL);
            } else if (add_terms) {
                ldsum_add(&sum, t);
            }
            if (grads && bx) {
                ldsum_add(&acc[0][ix], gxv);
            } else if (grads) {
                got = dtype_bits_load(pb->gx.img, dx, ix);
                if (got != (want = dtype_bits_encode(dx, gxv)))
                    note(&m[M_GRAD_INPUT], ix, 1, dx, got, want, NULL);
            }
            if (grads && by) {
                ldsum_add(&acc[1][iy], gyv);
            } else if (grads) {
                got = dtype_bits_load(pb->gy.img, dy, iy);
                if (got != (want = dtype_bits_encode(dy, gyv)))
                    note(&m[M_GRAD_TARGET], iy, 1, dy, got, want, NULL);
            }
        }
    if (loss && none) {
        check_guard(&m[M_LOSS], &pb->out);
    } else if (loss) {
        const uint64_t got = dtype_bits_load(pb->out0.img, p, 0);
        long double exact;

        if (add_terms) {
            pb->sum = ldsum_value(&sum);
            pb->have_sum = 1;
        }
        exact = red == CLMSE_REDUCTION_MEAN ? pb->sum / (long double)pb->n : pb->sum;
        if (!dtype_bits_near_exact(p, got, exact))
            note(&m[M_LOSS], 0, 0, p, got, dtype_bits_encode_exact(p, exact), &exact);
        check_guard(&m[M_LOSS], &pb->out0);
    }
    if (grads) {
        if (bx)
            check_sums(&m[M_GRAD_INPUT], &pb->gx, acc[0]);
        if (by)
            check_sums(&m[M_GRAD_TARGET], &pb->gy, acc[1]);
        check_guard(&m[M_GRAD_INPUT], &pb->gx);
        check_guard(&m[M_GRAD_TARGET], &pb->gy);
    }
}

/* Resets the results to the sentinel, runs op, reads the results back. */
static const char *execute(st_env *e, problem *pb, clmse_op op, clmse_reduction red, char *buf,
                           size_t size)
{
    const int none = red == CLMSE_REDUCTION_NONE;
    st_tensor *res[3] = {NULL, NULL, NULL};
    cl_event ev = NULL;
    cl_int err = CL_SUCCESS;
    clmse_status st;

    if (op != CLMSE_OP_BACKWARD)
        res[0] = none ? &pb->out : &pb->out0;
    if (op != CLMSE_OP_FORWARD) {
        res[1] = &pb->gx;
        res[2] = &pb->gy;
    }
    for (int k = 0; k < 3 && err == CL_SUCCESS; k++)
        if (res[k]) {
            const uint64_t s = dtype_bits_sentinel(res[k]->t.dtype);
            const size_t w = dtype_bits_size(res[k]->t.dtype);
            unsigned char pattern[8];

            dtype_bits_store(pattern, res[k]->t.dtype, 0, s);
            err = clEnqueueFillBuffer(e->queue, res[k]->t.buffer, pattern, w, 0, res[k]->total * w,
                                      0, NULL, NULL);
        }
    if (err == CL_SUCCESS)
        err = clFinish(e->queue);
    if (err != CL_SUCCESS) {
        snprintf(buf, size, "resetting the results failed: %d%s", (int)err, cli_cl_error_name(err));
        return buf;
    }
    st = enqueue(e, pb, op, red, &ev);
    if (st != CLMSE_SUCCESS) {
        snprintf(buf, size, "%s: %s", clmse_status_string(st), clmse_context_last_error(e->ctx));
        return buf;
    }
    err = clWaitForEvents(1, &ev);
    clReleaseEvent(ev);
    for (int k = 0; k < 3 && err == CL_SUCCESS; k++)
        if (res[k])
            err = clEnqueueReadBuffer(e->queue, res[k]->t.buffer, CL_TRUE, 0,
                                      res[k]->total * dtype_bits_size(res[k]->t.dtype), res[k]->img,
                                      0, NULL, NULL);
    if (err != CL_SUCCESS) {
        snprintf(buf, size, "waiting for the results or reading them failed: %d%s", (int)err,
                 cli_cl_error_name(err));
        return buf;
    }
    return NULL;
}

static void run_check(st_env *e, problem *pb, clmse_op op, int r, ldsum *acc[2])
{
    const clmse_reduction red = reductions[r];
    char detail[1024];
    const char *error;
    mismatch m[M_COUNT];
    int wrong = 0;

    if (red == CLMSE_REDUCTION_NONE && pb->no_none) {
        e->skipped++;
        print_check(e, pb, op, r, "skip", pb->no_none);
        return;
    }
    error = execute(e, pb, op, red, detail, sizeof detail);
    if (error) {
        e->failed++;
        print_check(e, pb, op, r, "FAIL", error);
        return;
    }
    memset(m, 0, sizeof m);
    if (acc[0])
        memset(acc[0], 0, pb->x.numel * sizeof *acc[0]);
    if (acc[1])
        memset(acc[1], 0, pb->y.numel * sizeof *acc[1]);
    verify(pb, op, red, acc, m);
    detail[0] = '\0';
    for (int k = 0; k < M_COUNT; k++)
        if (m[k].count) {
            wrong = 1;
            describe_mismatch(&m[k], detail, sizeof detail);
        }
    if (!wrong) {
        e->passed++;
        print_check(e, pb, op, r, "ok", NULL);
        return;
    }
    e->failed++;
    print_check(e, pb, op, r, "FAIL", detail);
}

/* Every operation and reduction on case c at shape (R, C). Returns nonzero on a host-memory
 * failure (then the run ends). */
static int run_problem(st_env *e, const st_case *c, size_t R, size_t C, uint64_t seed, int large)
{
    problem pb;
    ldsum *acc[2] = {NULL, NULL};
    const char *error = problem_setup(e, &pb, c, R, C, seed, large);
    int rc = 0;

    if (!error && pb.x.numel < pb.n && !(acc[0] = calloc(pb.x.numel, sizeof *acc[0])))
        error = "out of host memory";
    if (!error && pb.y.numel < pb.n && !(acc[1] = calloc(pb.y.numel, sizeof *acc[1])))
        error = "out of host memory";
    if (error) {
        e->failed++;
        print_check(e, &pb, CLMSE_OP_FORWARD, -1, "FAIL", error);
        rc = strstr(error, "host memory") != NULL;
    } else if (!pb.fits) {
        e->skipped += 9;
        print_check(e, &pb, CLMSE_OP_FORWARD, -1, "skip",
                    "the operands and gradients would not fit in the largest allocation");
    } else {
        for (int o = 0; o < 3; o++)
            for (int r = 0; r < 3; r++)
                run_check(e, &pb, ops[o], r, acc);
    }
    fflush(stdout);
    free(acc[0]);
    free(acc[1]);
    problem_release(&pb);
    return rc;
}

/* ---- sizes -------------------------------------------------------------------------------- */

static void add_size(size_t *list, size_t *count, size_t n, size_t cap)
{
    if (n == 0 || n > cap || *count == ST_MAX_SIZES)
        return;
    for (size_t i = 0; i < *count; i++)
        if (list[i] == n)
            return;
    list[(*count)++] = n;
}

static void add_around(size_t *list, size_t *count, size_t n, size_t cap)
{
    add_size(list, count, n - 1, cap);
    add_size(list, count, n, cap);
    add_size(list, count, n + 1, cap);
}

static int compare_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;

    return (x > y) - (x < y);
}

/* The sizes that exercise the plans of a dtype: the edges of the size classes, 2^16 +- 1, and
 * for each plan (every operation and size class) its vector width, work-group size, the
 * elements one work-item (CPU shape) or group (GPU shape) takes before another starts, where
 * every group is in use, and where a work-item's loop passes 65,535 trips, first with one
 * work-item and, in the CPU shape, with every work-item at it. Sorted, at most `cap`. */
static size_t contiguous_sizes(st_env *e, clmse_dtype d, size_t cap, size_t *list)
{
    size_t count = 0;

    add_around(list, &count, 2, cap);
    add_around(list, &count, ST_LOOP_BOUND, cap);
    add_around(list, &count, (size_t)1 << 16, cap);
    add_around(list, &count, (size_t)1 << 17, cap);
    add_around(list, &count, (size_t)1 << 22, cap);
    for (int o = 0; o < 3; o++)
        for (int sc = 0; sc < 3; sc++) {
            clmse_plan p;
            size_t v, wg, step, items, span, bound;

            if (clmse_context_get_plan(e->ctx, d, ops[o], (clmse_size_class)sc, &p, NULL) !=
                CLMSE_SUCCESS)
                continue;
            v = p.vector_width;
            wg = p.work_group_size;
            step = p.shape == CLMSE_SHAPE_CPU ? p.min_per_item : p.min_per_item * wg;
            /* the CPU shape's max_groups groups of wg items, each an item of its own */
            items = p.shape == CLMSE_SHAPE_CPU ? p.max_groups * wg : p.max_groups;
            span = step * items;
            /* the elements 65,535 trips of a work-item's loop cover */
            bound = (size_t)ST_LOOP_BOUND * (p.shape == CLMSE_SHAPE_CPU ? v : wg * p.max_groups);
            add_around(list, &count, v, cap);
            add_around(list, &count, wg, cap);
            add_around(list, &count, step, cap);
            add_around(list, &count, span, cap);
            add_around(list, &count, bound, cap);
            add_around(list, &count, 2 * bound, cap);
            if (p.shape == CLMSE_SHAPE_CPU && items <= cap / bound) {
                /* the last size within the bound on every work-item, the first past it */
                add_size(list, &count, bound * items, cap);
                add_size(list, &count, bound * items + 1, cap);
            }
        }
    qsort(list, count, sizeof *list, compare_size);
    return count;
}

/* ---- float64 on a device without fp64 ------------------------------------------------------ */

/* Each operation on float64 operands, and float32 with float64, must be refused with
 * CLMSE_ERROR_UNSUPPORTED_DTYPE. */
static void check_refusal(st_env *e)
{
    static const st_case cases[] = {
        {"refused", CLMSE_DTYPE_F64, CLMSE_DTYPE_F64, LAY_VEC, LAY_VEC},
        {"refused", CLMSE_DTYPE_F32, CLMSE_DTYPE_F64, LAY_VEC, LAY_VEC},
    };
    const size_t n = 4;
    cl_int err = CL_SUCCESS;
    cl_mem buf = clCreateBuffer(e->clctx, CL_MEM_READ_WRITE, 64 * sizeof(double), NULL, &err);

    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        problem pb;

        memset(&pb, 0, sizeof pb);
        pb.c = &cases[k];
        pb.rows = 1;
        pb.cols = pb.n = n;
        for (int o = 0; o < 3; o++) {
            clmse_tensor x, y, out, gx, gy;
            clmse_mse_args a = {CLMSE_REDUCTION_MEAN, 0, &x, &y, NULL, NULL, NULL, NULL, 0};
            clmse_status st = CLMSE_ERROR_OPENCL;
            char detail[320];

            if (err == CL_SUCCESS &&
                clmse_tensor_init(&x, buf, cases[k].dx, 1, &n, NULL, 0) == CLMSE_SUCCESS &&
                clmse_tensor_init(&y, buf, cases[k].dy, 1, &n, NULL, 8) == CLMSE_SUCCESS &&
                clmse_tensor_init(&out, buf, CLMSE_DTYPE_F64, 0, NULL, NULL, 16) == CLMSE_SUCCESS &&
                clmse_tensor_init(&gx, buf, cases[k].dx, 1, &n, NULL, 24) == CLMSE_SUCCESS &&
                clmse_tensor_init(&gy, buf, cases[k].dy, 1, &n, NULL, 32) == CLMSE_SUCCESS) {
                if (ops[o] != CLMSE_OP_BACKWARD)
                    a.output = &out;
                if (ops[o] != CLMSE_OP_FORWARD) {
                    a.grad_input = &gx;
                    a.grad_target = &gy;
                }
                st = clmse_mse(e->ctx, &a, 0, NULL, NULL);
            }
            if (st == CLMSE_ERROR_UNSUPPORTED_DTYPE) {
                e->passed++;
                print_check(e, &pb, ops[o], 1, "ok", "refused (no fp64)");
            } else {
                e->failed++;
                snprintf(detail, sizeof detail, "got %s (%s), expected %s", clmse_status_string(st),
                         st == CLMSE_SUCCESS ? "accepted" : clmse_context_last_error(e->ctx),
                         clmse_status_string(CLMSE_ERROR_UNSUPPORTED_DTYPE));
                print_check(e, &pb, ops[o], 1, "FAIL", detail);
            }
        }
    }
    if (buf)
        clReleaseMemObject(buf);
}

/* ---- the command -------------------------------------------------------------------------- */

/* The large size: the largest float32 n whose input, target and two gradients fit together in
 * one allocation of the device's largest size (CL_DEVICE_MAX_MEM_ALLOC_SIZE), at most 2^26.
 * Less twice the guard, so that float64 at half of it fits, guards included. */
static size_t large_size(const st_env *e)
{
    cl_ulong n = e->max_alloc / (4 * sizeof(float)) - 2 * ST_GUARD;

    return n > ST_LARGE_CAP ? ST_LARGE_CAP : (size_t)n;
}

static void print_header(const st_env *e, size_t large)
{
    const int acc = clmse_context_accumulation(e->ctx);

    printf("clmse %s selftest%s\n", clmse_version(), e->quick ? " --quick" : "");
    printf("device: %u:%u %s (%s, driver %s)\n", e->info.platform_index, e->info.device_index,
           e->info.name, e->info.platform_name, e->info.driver_version);
    printf("float64: %s; float32 sums accumulate in %s\n",
           e->info.has_fp64 ? "yes" : "no, so it must be refused",
           acc == CLMSE_ACCUMULATE_DOUBLE ? "double" : "float with compensation");
    printf("tuning: %s\n", clmse_context_tuning(e->ctx));
    printf("largest allocation: %llu MiB\n", (unsigned long long)(e->max_alloc >> 20));
    if (e->quick)
        printf("sizes: up to 2^17 + 1 on the contiguous path, up to 4097 on the strided path "
               "(--quick), no large size\n");
    else
        printf("large size: n = %zu float32, the largest whose input, target and two gradients "
               "fit in the largest allocation, at most 2^26\n",
               large);
    printf("reference: long double; elementwise results bit for bit, mean and sum within 1 ulp "
           "of the exact value\n\n");
}

/* The plans no check ran under (none, unless --quick or a small allocation limit). */
static size_t report_plans(const st_env *e)
{
    size_t checked = 0, total = 0;

    for (int d = 0; d < 2; d++) {
        if (d == 1 && !e->info.has_fp64)
            continue;
        for (int o = 0; o < 3; o++)
            for (int sc = 0; sc < 3; sc++) {
                total++;
                if (e->plan_checked[d][o][sc])
                    checked++;
                else
                    printf("note: no check ran under the %s %s %s plan\n",
                           d ? "float64" : "float32", clmse_op_name(ops[o]),
                           clmse_size_class_name((clmse_size_class)sc));
            }
    }
    printf("plans checked: %zu of %zu (dtype x operation x size class)\n", checked, total);
    return checked;
}

static int run_all(st_env *e)
{
    const size_t large = large_size(e);
    const size_t cap = e->quick ? ST_QUICK_CAP : large;
    const size_t strided_cap = e->quick ? ST_QUICK_STRIDED_CAP : large;
    size_t sizes[ST_MAX_SIZES];
    uint64_t seed = ST_SEED;

    print_header(e, large);
    if (!e->info.has_fp64)
        check_refusal(e);
    for (size_t k = 0; k < sizeof contiguous_cases / sizeof contiguous_cases[0]; k++) {
        const st_case *c = &contiguous_cases[k];
        /* float64 gets the bytes of float32, half the elements, except with --quick, whose
         * sizes are small anyway and should reach the medium size class. */
        const size_t dcap = c->dx == CLMSE_DTYPE_F64 && !e->quick ? cap / 2 : cap;
        size_t count;

        if (c->dx == CLMSE_DTYPE_F64 && !e->info.has_fp64)
            continue;
        count = contiguous_sizes(e, c->dx, dcap, sizes);
        if (c->dx == CLMSE_DTYPE_F32 && !e->quick)
            add_size(sizes, &count, large, cap); /* cap == large: the list stays sorted */
        for (size_t i = 0; i < count; i++)
            if (run_problem(e, c, 1, sizes[i], seed += 4, sizes[i] == large && !e->quick))
                return CLI_EXIT_RUNTIME;
    }
    for (size_t k = 0; k < sizeof strided_cases / sizeof strided_cases[0]; k++) {
        const st_case *c = &strided_cases[k];
        const int two_d = is_2d(c->lx) || is_2d(c->ly);
        const size_t count = two_d ? sizeof strided_shapes / sizeof strided_shapes[0]
                                   : sizeof strided_sizes / sizeof strided_sizes[0];

        if ((c->dx == CLMSE_DTYPE_F64 || c->dy == CLMSE_DTYPE_F64) && !e->info.has_fp64)
            continue;
        for (size_t i = 0; i < count; i++) {
            const size_t R = two_d ? strided_shapes[i][0] : 1;
            const size_t C = two_d ? strided_shapes[i][1] : strided_sizes[i];

            /* One element of one dtype is contiguous whatever its strides: the contiguous path. */
            if (R * C == 1 && c->dx == c->dy)
                continue;
            if (R * C <= strided_cap && run_problem(e, c, R, C, seed += 4, 0))
                return CLI_EXIT_RUNTIME;
        }
        if (c->lx == LAY_FORTRAN && c->dx == CLMSE_DTYPE_F32 && !e->quick &&
            run_problem(e, c, strided_large_shape[0], strided_large_shape[1], seed += 4, 0))
            return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}

int cmd_selftest(int argc, char **argv)
{
    clmse_context_options options = {0};
    st_env e;
    clmse_status st;
    cl_device_id dev = NULL;
    cl_int err;
    double start = timing_now_us(), seconds;
    int rc;

    memset(&e, 0, sizeof e);
    for (int i = 1; i < argc; i++) {
        const char *value;

        if (cli_is_help(argv[i])) {
            selftest_usage(stdout);
            return CLI_EXIT_OK;
        }
        if (cli_option_value(argc, argv, &i, "--device", &value)) {
            if (!value)
                return cli_usage_error("selftest", "option '--device' needs a value");
            options.device = value;
        } else if (strcmp(argv[i], "--quick") == 0) {
            e.quick = 1;
        } else {
            return cli_unknown_argument("selftest", argv[i]);
        }
    }

    st = clmse_context_create(&options, &e.ctx);
    if (st != CLMSE_SUCCESS) {
        cli_report_status("selftest", st, NULL, "clmse_context_create");
        /* A malformed --device is the command line's fault; one from CLMSE_DEVICE is not. */
        if (st == CLMSE_ERROR_INVALID_DEVICE_SPEC && options.device && options.device[0])
            return CLI_EXIT_USAGE;
        return CLI_EXIT_RUNTIME;
    }
    st = clmse_context_device_info(e.ctx, &e.info);
    if (st == CLMSE_SUCCESS)
        st = clmse_context_get_cl(e.ctx, &e.clctx, &dev, &e.queue);
    if (st != CLMSE_SUCCESS) {
        rc = cli_report_status("selftest", st, e.ctx, "describing the device");
        goto cleanup;
    }
    err =
        clGetDeviceInfo(dev, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof e.max_alloc, &e.max_alloc, NULL);
    if (err != CL_SUCCESS) {
        fprintf(stderr,
                "clmse selftest: clGetDeviceInfo(CL_DEVICE_MAX_MEM_ALLOC_SIZE) failed: "
                "%d%s\n",
                (int)err, cli_cl_error_name(err));
        rc = CLI_EXIT_RUNTIME;
        goto cleanup;
    }

    rc = run_all(&e);
    seconds = (timing_now_us() - start) / 1e6;
    putchar('\n');
    report_plans(&e);
    if (e.nlisted) {
        printf("failed checks%s:\n", e.failed > e.nlisted ? " (the first ones)" : "");
        for (size_t i = 0; i < e.nlisted; i++)
            printf("  %s\n", e.listed[i]);
    }
    printf("selftest: %zu checks: %zu passed, %zu failed, %zu skipped, in %.1f s on %s\n",
           e.passed + e.failed + e.skipped, e.passed, e.failed, e.skipped, seconds, e.info.name);
    if (rc == CLI_EXIT_OK && e.failed)
        rc = CLI_EXIT_RUNTIME;
    printf("%s\n", rc == CLI_EXIT_OK ? "PASS: every result matches the reference"
                                     : "FAIL: this device or driver computes wrong results");

cleanup:
    for (size_t i = 0; i < e.nlisted; i++)
        free(e.listed[i]);
    clmse_context_release(e.ctx);
    return rc;
}
