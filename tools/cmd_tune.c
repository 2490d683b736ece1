/* SPDX-License-Identifier: MIT */
/* `clmse tune`: times candidate launch plans on one device and writes the winners to the
 * device's tuning file, which every later clmse context on that device loads. */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clmse.h"
#include "clmse_tuning.h"
#include "commands.h"
#include "options.h"
#include "timing.h"
#include "workload.h"

#define TUNE_ROUNDS 15 /* timed runs of every candidate, round-robin */
#define TUNE_QUICK_ROUNDS 5
#define TUNE_MAX_CANDIDATES 256
#define TUNE_SCREEN_ROUNDS 2 /* every candidate, before the finalists get the full rounds */
#define TUNE_FINALISTS 6
#define TUNE_MARGIN 0.03    /* a candidate must beat the default by 3% to replace it */
#define TUNE_TOLERANCE 1e-5 /* a candidate's loss against the default plan's, relative */

/* The element count each size class is timed at. */
static const size_t class_n[3] = {(size_t)1 << 15, (size_t)1 << 20, (size_t)1 << 24};

typedef struct tune_env {
    clmse_context *ctx;
    cl_context clctx;
    cl_command_queue queue;
    clmse_device_info info;
    size_t rounds;
    mse_workload w; /* the buffers of the size class being tuned */
} tune_env;

static void tune_usage(FILE *out)
{
    fputs("Usage: clmse tune [--device SPEC] [--dtype f32|f64] [--output FILE] [--quick]\n"
          "                  [--dry-run]\n\n"
          "Times candidate launch plans (kernel shape, work-group size, vector width, groups,\n"
          "elements per work-item) for forward, backward and fused MSE at one N per size\n"
          "class (2^15, 2^20, 2^24): every candidate for 2 rounds, then the default and the 6\n"
          "fastest for 15 more. It keeps a candidate only where it beats the default plan by\n"
          "3% or more, and writes every plan to the device's tuning file, which each later\n"
          "clmse context on this device loads ('clmse info' shows the plans and their source).\n"
          "Forward and fused are tuned together and share a plan, so their losses stay equal\n"
          "bit for bit.\n\n"
          "Options:\n"
          "  --device SPEC  gpu, cpu, accelerator, P:D, or part of a device name\n"
          "  --dtype T      tune only f32 or only f64 (default: both, f64 where the device has\n"
          "                 it); the other's plans are written as the defaults\n"
          "  --output FILE  write there instead of the device's tuning file\n"
          "  --quick        5 final rounds instead of 15\n"
          "  --dry-run      measure and report, write nothing\n"
          "  --help         show this help\n",
          out);
}

/* ---- candidates -------------------------------------------------------------------------- */

/* What a plan launches for n elements: plans that agree on it are the same candidate. */
static void launch_of(const clmse_plan *p, size_t n, size_t key[4])
{
    /* the CPU shape's max_groups groups hold max_groups * wg items of min_per_item or more */
    const int cpu = p->shape == CLMSE_SHAPE_CPU;
    size_t per_group = cpu ? p->min_per_item : p->min_per_item * p->work_group_size;
    size_t most = cpu ? p->max_groups * p->work_group_size : p->max_groups;
    size_t groups = n / per_group + (n % per_group != 0);

    groups = groups < 1 ? 1 : groups > most ? most : groups;
    key[0] = (size_t)p->shape * 1000003u + p->work_group_size;
    key[1] = p->vector_width;
    key[2] = groups;
    key[3] = groups > 1 ? p->final_work_group_size : 0;
}

static int add(clmse_plan *list, size_t *count, const clmse_plan *p, size_t n)
{
    size_t mine[4], other[4];

    if (*count == TUNE_MAX_CANDIDATES)
        return 0;
    launch_of(p, n, mine);
    for (size_t i = 0; i < *count; i++) {
        launch_of(&list[i], n, other);
        if (memcmp(mine, other, sizeof mine) == 0)
            return 0;
    }
    list[(*count)++] = *p;
    return 1;
}

/* The default first, then both shapes on every device: the defaults follow the device type,
 * but a tuner should be able to find out that a device behaves like the other kind. */
static size_t candidates(const tune_env *e, const clmse_plan *def, clmse_plan *list)
{
    const size_t cus = e->info.compute_units ? e->info.compute_units : 1;
    /* groups of 1 where the compiler vectorises in a work-item, of 64 where the device runs
     * work-items across SIMD lanes (see clmse__plan_default) */
    static const size_t cpu_wgs[] = {1, 64};
    static const size_t vecs[] = {4, 8, 16};
    static const size_t per_cu[] = {1, 2, 4, 8, 16, 32};
    static const size_t cpu_items[] = {(size_t)1 << 13, (size_t)1 << 15, (size_t)1 << 17};
    static const size_t wgs[] = {64, 128, 256, 512};
    static const size_t gpu_items[] = {4, 16, 64};
    size_t count = 0;
    clmse_plan p;

    add(list, &count, def, e->w.n);
    for (size_t w = 0; w < sizeof cpu_wgs / sizeof cpu_wgs[0]; w++)
        for (size_t v = 0; v < sizeof vecs / sizeof vecs[0]; v++)
            for (size_t g = 0; g < sizeof per_cu / sizeof per_cu[0]; g++)
                for (size_t m = 0; m < sizeof cpu_items / sizeof cpu_items[0]; m++) {
                    size_t wg = cpu_wgs[w], items;
                    while (wg > e->info.max_work_group_size)
                        wg /= 2;
                    items = cpu_items[m] / wg;
                    p = (clmse_plan){CLMSE_SHAPE_CPU,           wg, vecs[v], per_cu[g] * cus,
                                     items < 256 ? 256 : items, wg};
                    add(list, &count, &p, e->w.n);
                }
    for (size_t w = 0; w < sizeof wgs / sizeof wgs[0]; w++)
        for (size_t g = 2; g <= 16; g *= 2)
            for (size_t m = 0; m < sizeof gpu_items / sizeof gpu_items[0]; m++) {
                size_t groups = g * cus > 65536 ? 65536 : g * cus;
                p = (clmse_plan){CLMSE_SHAPE_GPU, wgs[w], 1, groups, gpu_items[m], wgs[w]};
                add(list, &count, &p, e->w.n);
            }
    return count;
}

/* ---- timing ------------------------------------------------------------------------------ */

/* One run of `op` under plan p, enqueue to clFinish, in microseconds; < 0 on failure. */
static double run_once(tune_env *e, clmse_size_class c, clmse_op op, const clmse_plan *p)
{
    clmse_status st = clmse_context_set_plan(e->ctx, e->w.dtype, op, c, p);
    double start = timing_now_us();

    if (st == CLMSE_SUCCESS)
        st = workload_enqueue(e->ctx, &e->w, op);
    if (st != CLMSE_SUCCESS) {
        cli_report_status("tune", st, e->ctx, "a candidate plan");
        return -1.0;
    }
    cl_int err = clFinish(e->queue);
    if (err != CL_SUCCESS) {
        cli_report_cl("tune", "clFinish", err);
        return -1.0;
    }
    return timing_now_us() - start;
}

static int read_loss(tune_env *e, double *out)
{
    cl_int err;

    if (e->w.dtype == CLMSE_DTYPE_F64) {
        err = clEnqueueReadBuffer(e->queue, e->w.loss, CL_TRUE, 0, sizeof(double), out, 0, NULL,
                                  NULL);
    } else {
        float f = 0.0f;

        err = clEnqueueReadBuffer(e->queue, e->w.loss, CL_TRUE, 0, sizeof f, &f, 0, NULL, NULL);
        *out = f;
    }
    return err == CL_SUCCESS ? 0 : cli_report_cl("tune", "clEnqueueReadBuffer(loss)", err);
}

/* Warm-up run of every candidate (kernel builds happen here, untimed) and the loss check: a
 * candidate the device cannot run, or whose loss strays from the default's (list[0]), is
 * dropped (scores[i] = INFINITY, else 0). Returns 0 or an exit code. */
static int warm_up(tune_env *e, clmse_size_class c, const clmse_op *ops, size_t nops,
                   const clmse_plan *list, size_t count, double *scores)
{
    double reference = 0.0;

    for (size_t i = 0; i < count; i++) {
        /* The library's own check decides what the device can run (the default always). */
        clmse_status st = clmse_context_set_plan(e->ctx, e->w.dtype, ops[0], c, &list[i]);
        scores[i] = st == CLMSE_ERROR_INVALID_PLAN ? INFINITY : 0.0;
        if (st != CLMSE_SUCCESS && st != CLMSE_ERROR_INVALID_PLAN)
            return cli_report_status("tune", st, e->ctx, "clmse_context_set_plan");
        for (size_t k = 0; k < nops && scores[i] == 0.0; k++) {
            double loss = 0.0;

            if (run_once(e, c, ops[k], &list[i]) < 0.0)
                return CLI_EXIT_RUNTIME;
            if (ops[k] == CLMSE_OP_BACKWARD)
                continue;
            if (read_loss(e, &loss) != 0)
                return CLI_EXIT_RUNTIME;
            if (i == 0)
                reference = loss;
            else if (!(fabs(loss - reference) <= TUNE_TOLERANCE * fabs(reference)))
                scores[i] = INFINITY;
        }
    }
    return 0;
}

/* Times the candidates list[pick[0..m)] for `rounds` rounds, round-robin so that drift on a
 * shared machine touches all alike; scores[pick[j]] = the median of the sum over `ops`. */
static int time_some(tune_env *e, clmse_size_class c, const clmse_op *ops, size_t nops,
                     const clmse_plan *list, const size_t *pick, size_t m, size_t rounds,
                     double *scores)
{
    double *times = calloc(m * rounds, sizeof(double));

    if (times == NULL) {
        fprintf(stderr, "clmse tune: out of host memory\n");
        return CLI_EXIT_RUNTIME;
    }
    for (size_t r = 0; r < rounds; r++)
        for (size_t j = 0; j < m; j++)
            for (size_t k = 0; k < nops; k++) {
                double us = run_once(e, c, ops[k], &list[pick[j]]);

                if (us < 0.0) {
                    free(times);
                    return CLI_EXIT_RUNTIME;
                }
                times[j * rounds + r] += us;
            }
    for (size_t j = 0; j < m; j++)
        scores[pick[j]] = timing_median(times + j * rounds, rounds);
    free(times);
    return 0;
}

static const double *g_scores; /* for qsort's comparison of candidate indices */

static int compare_score(const void *a, const void *b)
{
    double x = g_scores[*(const size_t *)a], y = g_scores[*(const size_t *)b];

    return (x > y) - (x < y);
}

/* Successive halving: every candidate for TUNE_SCREEN_ROUNDS, then the default and the
 * TUNE_FINALISTS fastest for e->rounds. Scores: the finalists' medians in microseconds,
 * INFINITY for the others. */
static int score(tune_env *e, clmse_size_class c, const clmse_op *ops, size_t nops,
                 const clmse_plan *list, size_t count, double *scores)
{
    size_t pick[TUNE_MAX_CANDIDATES], m = 0;
    int rc = warm_up(e, c, ops, nops, list, count, scores);

    for (size_t i = 0; i < count; i++)
        if (scores[i] == 0.0)
            pick[m++] = i;
    if (rc == 0)
        rc = time_some(e, c, ops, nops, list, pick, m, TUNE_SCREEN_ROUNDS, scores);
    if (rc != 0)
        return rc;
    g_scores = scores;
    qsort(pick, m, sizeof pick[0], compare_score);
    m = m < TUNE_FINALISTS ? m : TUNE_FINALISTS;
    size_t j = 0;
    while (j < m && pick[j] != 0)
        j++;
    if (j == m) /* the default always makes the final */
        pick[m++] = 0;
    /* Small inputs take microseconds, and launch jitter is as large: ten times the rounds. */
    const size_t rounds = e->rounds * (c == CLMSE_SIZE_SMALL ? 10u : 1u);
    rc = time_some(e, c, ops, nops, list, pick, m, rounds, scores);
    /* Only the final's times compare: the others were timed in fewer rounds. */
    for (size_t i = 0; i < count; i++) {
        int finalist = 0;

        for (size_t f = 0; f < m; f++)
            finalist |= pick[f] == i;
        if (!finalist)
            scores[i] = INFINITY;
    }
    return rc;
}

static void print_plan(const clmse_plan *p)
{
    printf("%s wg %zu vec %zu groups %zu per_item %zu final %zu", clmse_plan_shape_name(p->shape),
           p->work_group_size, p->vector_width, p->max_groups, p->min_per_item,
           p->final_work_group_size);
}

/* Tunes one (dtype, size class): forward with fused, then backward. */
static int tune_class(tune_env *e, clmse_size_class c)
{
    static const clmse_op reduce_ops[] = {CLMSE_OP_FORWARD, CLMSE_OP_FUSED};
    static const clmse_op grad_ops[] = {CLMSE_OP_BACKWARD};
    struct {
        const char *label;
        const clmse_op *ops;
        size_t nops;
    } groups[] = {{"forward+fused", reduce_ops, 2}, {"backward", grad_ops, 1}};
    clmse_plan list[TUNE_MAX_CANDIDATES], def;
    double scores[TUNE_MAX_CANDIDATES];

    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        clmse_status st =
            clmse_context_get_plan(e->ctx, e->w.dtype, groups[g].ops[0], c, &def, NULL);
        if (st != CLMSE_SUCCESS)
            return cli_report_status("tune", st, e->ctx, "clmse_context_get_plan");
        size_t count = candidates(e, &def, list), best = 0;
        int rc = score(e, c, groups[g].ops, groups[g].nops, list, count, scores);

        if (rc != 0)
            return rc;
        for (size_t i = 1; i < count; i++)
            if (scores[i] < scores[best])
                best = i;
        if (!(scores[best] < scores[0] * (1.0 - TUNE_MARGIN)))
            best = 0;
        for (size_t k = 0; k < groups[g].nops; k++) {
            st = clmse_context_set_plan(e->ctx, e->w.dtype, groups[g].ops[k], c, &list[best]);
            if (st != CLMSE_SUCCESS)
                return cli_report_status("tune", st, e->ctx, "clmse_context_set_plan");
        }
        printf("  %-3s %-6s n=%-9zu %-14s %3zu candidates  default %10.1f us  chosen %10.1f us"
               "  (%.2fx)  ",
               e->w.dtype == CLMSE_DTYPE_F64 ? "f64" : "f32", clmse_size_class_name(c), e->w.n,
               groups[g].label, count, scores[0], scores[best], scores[best] / scores[0]);
        print_plan(&list[best]);
        printf("%s\n", best == 0 ? " (the default)" : "");
        fflush(stdout);
    }
    return 0;
}

/* ---- buffers ----------------------------------------------------------------------------- */

static void release_buffers(tune_env *e)
{
    cl_mem *all[] = {&e->w.x, &e->w.y, &e->w.loss, &e->w.gx, &e->w.gy};

    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (*all[i]) {
            clReleaseMemObject(*all[i]);
            *all[i] = NULL;
        }
}

/* Buffers of n elements with the bench's values in [-1, 1); tensors over them. */
static int setup_buffers(tune_env *e, size_t n)
{
    const size_t el = clmse_dtype_size(e->w.dtype), bytes = n * el;
    cl_mem *big[] = {&e->w.x, &e->w.y, &e->w.gx, &e->w.gy};
    void *host = malloc(bytes);
    cl_int err = CL_SUCCESS;

    e->w.n = n;
    if (host == NULL) {
        fprintf(stderr, "clmse tune: out of host memory for %zu elements\n", n);
        return CLI_EXIT_RUNTIME;
    }
    for (size_t i = 0; i < 4 && err == CL_SUCCESS; i++)
        *big[i] = clCreateBuffer(e->clctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err == CL_SUCCESS)
        e->w.loss = clCreateBuffer(e->clctx, CL_MEM_READ_WRITE, el, NULL, &err);
    for (int b = 0; b < 2 && err == CL_SUCCESS; b++) {
        if (e->w.dtype == CLMSE_DTYPE_F64)
            workload_fill_f64(host, n, (uint64_t)b + 1);
        else
            workload_fill_f32(host, n, (uint64_t)b + 1);
        err = clEnqueueWriteBuffer(e->queue, b ? e->w.y : e->w.x, CL_TRUE, 0, bytes, host, 0, NULL,
                                   NULL);
    }
    free(host);
    if (err != CL_SUCCESS) {
        release_buffers(e);
        return cli_report_cl("tune", "clCreateBuffer/clEnqueueWriteBuffer", err);
    }
    clmse_status st = workload_views(&e->w);
    if (st != CLMSE_SUCCESS) {
        release_buffers(e);
        return cli_report_status("tune", st, NULL, "clmse_tensor_init");
    }
    return 0;
}

/* Reads the file back the way a user's context will, and says where it is. */
static int check_written(const char *spec, const char *output)
{
    clmse_context_options opt = {0};
    clmse_context *ctx = NULL;

    opt.device = spec;
    opt.tuning_file = output;
    clmse_status st = clmse_context_create(&opt, &ctx);
    if (st != CLMSE_SUCCESS)
        return cli_report_status("tune", st, NULL, "clmse_context_create (reading the file back)");
    const char *outcome = clmse_context_tuning(ctx);
    int ok = strncmp(outcome, "loaded ", 7) == 0;
    printf("tuning file: %s\n", outcome);
    if (!ok)
        fprintf(stderr, "clmse tune: the file written does not load: %s\n", outcome);
    clmse_context_release(ctx);
    return ok ? 0 : CLI_EXIT_RUNTIME;
}

/* ---- command ----------------------------------------------------------------------------- */

static int parse(int argc, char **argv, const char **spec, const char **dtype, const char **output,
                 int *quick, int *dry_run, int *help)
{
    for (int i = 1; i < argc; i++) {
        const char **slot = NULL, *value = NULL;

        if (cli_is_help(argv[i])) {
            *help = 1;
            return 0;
        }
        if (strcmp(argv[i], "--quick") == 0) {
            *quick = 1;
            continue;
        }
        if (strcmp(argv[i], "--dry-run") == 0) {
            *dry_run = 1;
            continue;
        }
        if (cli_option_value(argc, argv, &i, "--device", &value))
            slot = spec;
        else if (cli_option_value(argc, argv, &i, "--dtype", &value))
            slot = dtype;
        else if (cli_option_value(argc, argv, &i, "--output", &value))
            slot = output;
        else
            return cli_unknown_argument("tune", argv[i]);
        if (value == NULL || value[0] == '\0')
            return cli_usage_error("tune", "option '%s' needs a value", argv[i]);
        *slot = value;
    }
    if (*dtype && strcmp(*dtype, "f32") != 0 && strcmp(*dtype, "f64") != 0)
        return cli_usage_error("tune", "--dtype must be f32 or f64, not '%s'", *dtype);
    return 0;
}

int cmd_tune(int argc, char **argv)
{
    const char *spec = NULL, *dtype = NULL, *output = NULL;
    int quick = 0, dry_run = 0, help = 0, rc;
    tune_env e;
    clmse_context_options opt = {0};

    if ((rc = parse(argc, argv, &spec, &dtype, &output, &quick, &dry_run, &help)) != 0)
        return rc;
    if (help) {
        tune_usage(stdout);
        return CLI_EXIT_OK;
    }
    memset(&e, 0, sizeof e);
    e.rounds = quick ? TUNE_QUICK_ROUNDS : TUNE_ROUNDS;
    opt.device = spec;
    opt.tuning_file = ""; /* start from the defaults, whatever a previous run wrote */
    clmse_status st = clmse_context_create(&opt, &e.ctx);
    if (st != CLMSE_SUCCESS) {
        rc = cli_report_status("tune", st, NULL, "clmse_context_create");
        return st == CLMSE_ERROR_INVALID_DEVICE_SPEC ? CLI_EXIT_USAGE : rc;
    }
    if ((st = clmse_context_device_info(e.ctx, &e.info)) != CLMSE_SUCCESS ||
        (st = clmse_context_get_cl(e.ctx, &e.clctx, NULL, &e.queue)) != CLMSE_SUCCESS) {
        rc = cli_report_status("tune", st, e.ctx, "clmse_context_device_info");
        clmse_context_release(e.ctx);
        return rc;
    }
    if (dtype && strcmp(dtype, "f64") == 0 && !e.info.has_fp64) {
        fprintf(stderr, "clmse tune: device '%s' has no fp64\n", e.info.name);
        clmse_context_release(e.ctx);
        return CLI_EXIT_RUNTIME;
    }
    printf("clmse %s tune: %s (%s), %d screening and %zu final rounds\n", clmse_version(),
           e.info.name, e.info.platform_name, TUNE_SCREEN_ROUNDS, e.rounds);
    rc = 0;
    for (int d = 0; d < 2 && rc == 0; d++) {
        e.w.dtype = (clmse_dtype)d;
        if ((d == CLMSE_DTYPE_F64 && !e.info.has_fp64) ||
            (dtype && strcmp(dtype, d ? "f64" : "f32") != 0))
            continue;
        for (int c = 0; c < 3 && rc == 0; c++) {
            rc = setup_buffers(&e, class_n[c]);
            if (rc == 0)
                rc = tune_class(&e, (clmse_size_class)c);
            release_buffers(&e);
        }
    }
    if (rc == 0 && !dry_run) {
        st = clmse_context_save_tuning(e.ctx, output);
        if (st != CLMSE_SUCCESS)
            rc = cli_report_status("tune", st, e.ctx, "clmse_context_save_tuning");
    }
    clmse_context_release(e.ctx);
    if (rc == 0 && !dry_run)
        rc = check_written(spec, output);
    return rc;
}
