/* SPDX-License-Identifier: MIT */
/* Launch plans and tuning files: the table's defaults and checks, reproducibility under a
 * given plan, and reading and writing tuning files (good, bad, missing, disabled). */
#include "clmse_tuning.h"
#include "helpers.h"
#include "suites.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLOTS 3 /* ops, and size classes */

static clmse_context *context_with_file(const char *file)
{
    clmse_context_options opt;
    memset(&opt, 0, sizeof opt);
    opt.tuning_file = file;
    return th_context_create_with(&opt);
}

static int dtype_count(clmse_context *ctx)
{
    clmse_device_info info;
    CHECK_OK(ctx, clmse_context_device_info(ctx, &info));
    return info.has_fp64 ? 2 : 1;
}

/* Every slot's source is `want`. */
static void assert_sources(clmse_context *ctx, clmse_plan_source want)
{
    for (int d = 0; d < dtype_count(ctx); d++)
        for (int o = 0; o < SLOTS; o++)
            for (int c = 0; c < SLOTS; c++) {
                clmse_plan p;
                clmse_plan_source src = (clmse_plan_source)-1;
                CHECK_OK(ctx, clmse_context_get_plan(ctx, (clmse_dtype)d, (clmse_op)o,
                                                     (clmse_size_class)c, &p, &src));
                ck_assert_msg(src == want, "dtype %d op %d class %d: source %s, want %s", d, o, c,
                              clmse_plan_source_name(src), clmse_plan_source_name(want));
            }
}

static void assert_plan_eq(const clmse_plan *a, const clmse_plan *b)
{
    ck_assert_int_eq(a->shape, b->shape);
    ck_assert_uint_eq(a->work_group_size, b->work_group_size);
    ck_assert_uint_eq(a->vector_width, b->vector_width);
    ck_assert_uint_eq(a->max_groups, b->max_groups);
    ck_assert_uint_eq(a->min_per_item, b->min_per_item);
    ck_assert_uint_eq(a->final_work_group_size, b->final_work_group_size);
}

static char *temp_dir(void)
{
    char *dir = malloc(64);
    ck_assert_ptr_nonnull(dir);
    snprintf(dir, 64, "/tmp/clmse-plan-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

static void remove_tree(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ---- the table ---------------------------------------------------------------------------- */

START_TEST(test_size_classes)
{
    ck_assert_int_eq(clmse_size_class_of(0), CLMSE_SIZE_SMALL);
    ck_assert_int_eq(clmse_size_class_of(((size_t)1 << 17) - 1), CLMSE_SIZE_SMALL);
    ck_assert_int_eq(clmse_size_class_of((size_t)1 << 17), CLMSE_SIZE_MEDIUM);
    ck_assert_int_eq(clmse_size_class_of(((size_t)1 << 22) - 1), CLMSE_SIZE_MEDIUM);
    ck_assert_int_eq(clmse_size_class_of((size_t)1 << 22), CLMSE_SIZE_LARGE);
    ck_assert_int_eq(clmse_size_class_of(SIZE_MAX), CLMSE_SIZE_LARGE);
    ck_assert_str_eq(clmse_op_name(CLMSE_OP_FUSED), "fused");
    ck_assert_str_eq(clmse_size_class_name(CLMSE_SIZE_MEDIUM), "medium");
    ck_assert_str_eq(clmse_plan_shape_name(CLMSE_SHAPE_GPU), "gpu");
    ck_assert_str_eq(clmse_plan_source_name(CLMSE_PLAN_TUNED), "tuned");
    ck_assert_ptr_null(clmse_op_name((clmse_op)3));
    ck_assert_ptr_null(clmse_size_class_name((clmse_size_class)-1));
    ck_assert_ptr_null(clmse_plan_shape_name((clmse_plan_shape)2));
    ck_assert_ptr_null(clmse_plan_source_name((clmse_plan_source)3));
}
END_TEST

START_TEST(test_defaults_follow_device)
{
    clmse_context *ctx = context_with_file("");
    clmse_device_info info;
    CHECK_OK(ctx, clmse_context_device_info(ctx, &info));
    ck_assert_msg(strncmp(clmse_context_tuning(ctx), "disabled", 8) == 0, "%s",
                  clmse_context_tuning(ctx));
    assert_sources(ctx, CLMSE_PLAN_DEFAULT);
    clmse_plan p;
    CHECK_OK(ctx, clmse_context_get_plan(ctx, CLMSE_DTYPE_F32, CLMSE_OP_FORWARD, CLMSE_SIZE_LARGE,
                                         &p, NULL));
    ck_assert_int_eq(p.shape, (info.type & CL_DEVICE_TYPE_CPU) ? CLMSE_SHAPE_CPU : CLMSE_SHAPE_GPU);
    ck_assert_uint_le(p.work_group_size, info.max_work_group_size);
    ck_assert_uint_le(p.final_work_group_size, info.max_work_group_size);
    /* Every default is a plan set_plan accepts. */
    CHECK_OK(ctx,
             clmse_context_set_plan(ctx, CLMSE_DTYPE_F32, CLMSE_OP_FORWARD, CLMSE_SIZE_LARGE, &p));
    clmse_plan_source src;
    CHECK_OK(ctx, clmse_context_get_plan(ctx, CLMSE_DTYPE_F32, CLMSE_OP_FORWARD, CLMSE_SIZE_LARGE,
                                         &p, &src));
    ck_assert_int_eq(src, CLMSE_PLAN_SET);
    clmse_context_release(ctx);
}
END_TEST

typedef struct bad_plan {
    const char *what;
    clmse_plan plan;
    const char *message; /* part of the expected message */
} bad_plan;

START_TEST(test_set_plan_refuses)
{
    clmse_context *ctx = context_with_file("");
    clmse_device_info info;
    CHECK_OK(ctx, clmse_context_device_info(ctx, &info));
    const size_t too_big = info.max_work_group_size * 2;
    const bad_plan bad[] = {
        {"shape 7", {(clmse_plan_shape)7, 1, 8, 4, 64, 1}, "shape 7"},
        {"cpu shape, wg 3", {CLMSE_SHAPE_CPU, 3, 8, 4, 64, 1}, "work_group_size 3"},
        {"gpu wg 0", {CLMSE_SHAPE_GPU, 0, 1, 4, 64, 1}, "work_group_size 0"},
        {"gpu wg 96", {CLMSE_SHAPE_GPU, 96, 1, 4, 64, 1}, "work_group_size 96"},
        {"gpu wg beyond device", {CLMSE_SHAPE_GPU, too_big, 1, 4, 64, 1}, "work_group_size"},
        {"cpu vec 3", {CLMSE_SHAPE_CPU, 1, 3, 4, 64, 1}, "vector_width 3"},
        {"cpu vec 32", {CLMSE_SHAPE_CPU, 1, 32, 4, 64, 1}, "vector_width 32"},
        {"cpu vec 1", {CLMSE_SHAPE_CPU, 1, 1, 4, 64, 1}, "vector_width 1"},
        {"gpu vec 4", {CLMSE_SHAPE_GPU, 1, 4, 4, 64, 1}, "one element per item"},
        {"groups 0", {CLMSE_SHAPE_CPU, 1, 8, 0, 64, 1}, "max_groups 0"},
        {"groups 65537", {CLMSE_SHAPE_CPU, 1, 8, 65537, 64, 1}, "max_groups 65537"},
        {"per item 0", {CLMSE_SHAPE_CPU, 1, 8, 4, 0, 1}, "min_per_item 0"},
        {"per item 2^41", {CLMSE_SHAPE_CPU, 1, 8, 4, (size_t)1 << 41, 1}, "min_per_item"},
        {"final 0", {CLMSE_SHAPE_CPU, 1, 8, 4, 64, 0}, "final_work_group_size 0"},
        {"final 3", {CLMSE_SHAPE_CPU, 1, 8, 4, 64, 3}, "final_work_group_size 3"},
    };
    clmse_plan before, after;
    CHECK_OK(ctx, clmse_context_get_plan(ctx, CLMSE_DTYPE_F32, CLMSE_OP_FUSED, CLMSE_SIZE_SMALL,
                                         &before, NULL));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        clmse_status st = clmse_context_set_plan(ctx, CLMSE_DTYPE_F32, CLMSE_OP_FUSED,
                                                 CLMSE_SIZE_SMALL, &bad[i].plan);
        ck_assert_msg(st == CLMSE_ERROR_INVALID_PLAN, "%s: %s", bad[i].what,
                      clmse_status_string(st));
        ck_assert_msg(strstr(clmse_context_last_error(ctx), bad[i].message) != NULL,
                      "%s: message '%s' lacks '%s'", bad[i].what, clmse_context_last_error(ctx),
                      bad[i].message);
    }
    CHECK_OK(ctx, clmse_context_get_plan(ctx, CLMSE_DTYPE_F32, CLMSE_OP_FUSED, CLMSE_SIZE_SMALL,
                                         &after, NULL));
    assert_plan_eq(&before, &after);

    /* The table's coordinates and handles. */
    clmse_plan p = before;
    ck_assert_int_eq(
        clmse_context_set_plan(ctx, CLMSE_DTYPE_F16, CLMSE_OP_FORWARD, CLMSE_SIZE_SMALL, &p),
        CLMSE_ERROR_INVALID_DTYPE);
    ck_assert_int_eq(
        clmse_context_get_plan(ctx, CLMSE_DTYPE_I32, CLMSE_OP_FORWARD, CLMSE_SIZE_SMALL, &p, NULL),
        CLMSE_ERROR_INVALID_DTYPE);
    ck_assert_int_eq(
        clmse_context_set_plan(ctx, CLMSE_DTYPE_F32, (clmse_op)3, CLMSE_SIZE_SMALL, &p),
        CLMSE_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clmse_context_last_error(ctx), "op 3"));
    ck_assert_int_eq(clmse_context_get_plan(ctx, CLMSE_DTYPE_F32, CLMSE_OP_FORWARD,
                                            (clmse_size_class)3, &p, NULL),
                     CLMSE_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clmse_context_last_error(ctx), "size class 3"));
    ck_assert_int_eq(
        clmse_context_set_plan(ctx, CLMSE_DTYPE_F32, CLMSE_OP_FORWARD, CLMSE_SIZE_SMALL, NULL),
        CLMSE_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(clmse_context_get_plan(ctx, CLMSE_DTYPE_F32, CLMSE_OP_FORWARD,
                                            CLMSE_SIZE_SMALL, NULL, NULL),
                     CLMSE_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(
        clmse_context_get_plan(NULL, CLMSE_DTYPE_F32, CLMSE_OP_FORWARD, CLMSE_SIZE_SMALL, &p, NULL),
        CLMSE_ERROR_INVALID_HANDLE);
    ck_assert_int_eq(
        clmse_context_set_plan(NULL, CLMSE_DTYPE_F32, CLMSE_OP_FORWARD, CLMSE_SIZE_SMALL, &p),
        CLMSE_ERROR_INVALID_HANDLE);
    ck_assert_str_eq(clmse_context_tuning(NULL), "");
    clmse_context_release(ctx);
}
END_TEST

/* ---- results under plans ------------------------------------------------------------------ */

/* Medium class; not a multiple of any vector width. CLMSE_TEST_SCALE=small: 2^17+3, the
 * smallest medium size, instead of 300001 (the plans below are set for the medium class). */
#define REPRO_N (th_scaled(300001, 131075))

typedef struct repro {
    clmse_context *ctx;
    cl_mem x, y, out, gx, gy;
    float *hx, *hy;
} repro;

static float forward(repro *r, int fused, float *gx_first)
{
    th_buffer_reset(r->ctx, r->out, 1);
    if (fused)
        CHECK_OK(r->ctx,
                 clmse_mse_fused_f32(r->ctx, CLMSE_REDUCTION_MEAN, REPRO_N, r->x, 0, r->y, 0,
                                     r->out, 0, NULL, 0, r->gx, 0, r->gy, 0, 0, NULL, NULL));
    else
        CHECK_OK(r->ctx, clmse_mse_forward_f32(r->ctx, CLMSE_REDUCTION_MEAN, REPRO_N, r->x, 0, r->y,
                                               0, r->out, 0, 0, NULL, NULL));
    float loss;
    th_buffer_read(r->ctx, r->out, 1, &loss, NULL);
    if (gx_first)
        th_buffer_read(r->ctx, r->gx, 1, gx_first, NULL);
    return loss;
}

START_TEST(test_results_under_plans)
{
    repro r;
    th_rng rng;
    r.ctx = context_with_file("");
    r.hx = th_alloc_floats(REPRO_N);
    r.hy = th_alloc_floats(REPRO_N);
    th_rng_seed(&rng, 77);
    th_fill_uniform(&rng, r.hx, REPRO_N);
    th_fill_uniform(&rng, r.hy, REPRO_N);
    r.x = th_buffer(r.ctx, REPRO_N, 0, r.hx, REPRO_N);
    r.y = th_buffer(r.ctx, REPRO_N, 0, r.hy, REPRO_N);
    r.out = th_buffer(r.ctx, 1, 0, NULL, 0);
    r.gx = th_buffer(r.ctx, REPRO_N, 0, NULL, 0);
    r.gy = th_buffer(r.ctx, REPRO_N, 0, NULL, 0);
    const long double ref = th_ref_sum(r.hx, r.hy, REPRO_N) / REPRO_N;

    clmse_plan def;
    CHECK_OK(r.ctx, clmse_context_get_plan(r.ctx, CLMSE_DTYPE_F32, CLMSE_OP_FORWARD,
                                           CLMSE_SIZE_MEDIUM, &def, NULL));
    const clmse_plan plans[] = {
        def,
        {CLMSE_SHAPE_CPU, 1, 4, 2, 4096, 1},    /* two items, an epilogue */
        {CLMSE_SHAPE_CPU, 1, 16, 1, 64, 1},     /* one item writes the loss itself */
        {CLMSE_SHAPE_CPU, 1, 2, 37, 1000, 4},   /* odd counts */
        {CLMSE_SHAPE_CPU, 8, 4, 5, 300, 16},    /* groups of items: a tree, idle items */
        {CLMSE_SHAPE_CPU, 4, 8, 1, 1 << 20, 1}, /* one group writes the loss itself */
        {CLMSE_SHAPE_GPU, 64, 1, 8, 16, 64},
        {CLMSE_SHAPE_GPU, 1, 1, 3, 5, 1},
    };
    float first_gx = 0.0f;
    for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++) {
        for (int op = 0; op < SLOTS; op++)
            CHECK_OK(r.ctx, clmse_context_set_plan(r.ctx, CLMSE_DTYPE_F32, (clmse_op)op,
                                                   CLMSE_SIZE_MEDIUM, &plans[i]));
        float gx0 = 0.0f;
        const float a = forward(&r, 0, NULL), b = forward(&r, 0, NULL), f = forward(&r, 1, &gx0);
        ck_assert_msg(th_bits(a) == th_bits(b), "plan %zu: %a then %a", i, (double)a, (double)b);
        ck_assert_msg(th_bits(a) == th_bits(f), "plan %zu: forward %a, fused %a", i, (double)a,
                      (double)f);
        ck_assert_msg(th_within_one_ulp(a, ref), "plan %zu: %.9g, reference %.12Lg", i, (double)a,
                      ref);
        /* Gradients are elementwise: no plan changes them. */
        if (i == 0)
            first_gx = gx0;
        ck_assert_uint_eq(th_bits(gx0), th_bits(first_gx));
        ck_assert_uint_eq(th_bits(gx0), th_bits(th_grad(th_scale(CLMSE_REDUCTION_MEAN, REPRO_N),
                                                        r.hx[0], r.hy[0], 1.0f)));
    }
    cl_mem all[] = {r.x, r.y, r.out, r.gx, r.gy};
    for (size_t i = 0; i < 5; i++)
        clReleaseMemObject(all[i]);
    free(r.hx);
    free(r.hy);
    clmse_context_release(r.ctx);
}
END_TEST

/* ---- tuning files ------------------------------------------------------------------------- */

START_TEST(test_tuning_round_trip)
{
    char *dir = temp_dir(), path[256];
    snprintf(path, sizeof path, "%s/t.tune", dir);
    clmse_context *ctx = context_with_file("");
    const clmse_plan mine = {CLMSE_SHAPE_CPU, 1, 16, 3, 5000, 2};
    CHECK_OK(ctx, clmse_context_set_plan(ctx, CLMSE_DTYPE_F32, CLMSE_OP_BACKWARD, CLMSE_SIZE_LARGE,
                                         &mine));
    CHECK_OK(ctx, clmse_context_save_tuning(ctx, path));
    clmse_plan untouched;
    CHECK_OK(ctx, clmse_context_get_plan(ctx, CLMSE_DTYPE_F32, CLMSE_OP_FORWARD, CLMSE_SIZE_SMALL,
                                         &untouched, NULL));
    clmse_context_release(ctx);

    ctx = context_with_file(path);
    ck_assert_msg(strncmp(clmse_context_tuning(ctx), "loaded ", 7) == 0, "%s",
                  clmse_context_tuning(ctx));
    ck_assert_ptr_nonnull(strstr(clmse_context_tuning(ctx), path));
    assert_sources(ctx, CLMSE_PLAN_TUNED);
    clmse_plan got;
    CHECK_OK(ctx, clmse_context_get_plan(ctx, CLMSE_DTYPE_F32, CLMSE_OP_BACKWARD, CLMSE_SIZE_LARGE,
                                         &got, NULL));
    assert_plan_eq(&got, &mine);
    CHECK_OK(ctx, clmse_context_get_plan(ctx, CLMSE_DTYPE_F32, CLMSE_OP_FORWARD, CLMSE_SIZE_SMALL,
                                         &got, NULL));
    assert_plan_eq(&got, &untouched);
    clmse_context_release(ctx);

    /* No temporary file is left beside it. */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "test $(ls '%s' | wc -l) -eq 1", dir);
    ck_assert_int_eq(system(cmd), 0);
    remove_tree(dir);
    free(dir);
}
END_TEST

/* A valid file's header for the default device, then `body`. */
static void tuning_text(clmse_context *ctx, const char *body, char *out, size_t cap)
{
    clmse_device_info info;
    CHECK_OK(ctx, clmse_context_device_info(ctx, &info));
    snprintf(out, cap, "clmse-tuning 1\nplatform %s\ndevice %s\ndriver %s\n%s", info.platform_name,
             info.name, info.driver_version, body);
}

typedef struct bad_file {
    const char *what;
    const char *text; /* NULL: the header, then `body` */
    const char *body;
    const char *reason; /* part of clmse_context_tuning() */
} bad_file;

START_TEST(test_tuning_bad_files)
{
    const bad_file bad[] = {
        {"empty", "", NULL, "empty"},
        {"comments only", "# nothing\n", NULL, "empty"},
        {"no magic", "plan f32 forward small cpu 1 8 8 4096 1\n", NULL, "not a clmse tuning"},
        {"version 2", "clmse-tuning 2\n", NULL, "not a clmse tuning"},
        {"other device", "clmse-tuning 1\nplatform X\n", NULL, "written for platform 'X'"},
        {"header only partly", "clmse-tuning 1\n", NULL, "no platform, device or driver"},
        {"plan first", "clmse-tuning 1\nplan f32 forward small cpu 1 8 8 4096 1\n", NULL,
         "a plan before"},
        {"unknown line", NULL, "colour blue\n", "unknown line 'colour blue'"},
        {"unknown dtype", NULL, "plan f16 forward small cpu 1 8 8 4096 1\n", "dtype 'f16'"},
        {"unknown op", NULL, "plan f32 sideways small cpu 1 8 8 4096 1\n", "op 'sideways'"},
        {"unknown class", NULL, "plan f32 forward huge cpu 1 8 8 4096 1\n", "class 'huge'"},
        {"unknown shape", NULL, "plan f32 forward small fpga 1 8 8 4096 1\n", "shape 'fpga'"},
        {"too few fields", NULL, "plan f32 forward small cpu 1 8 8 4096\n", "8 fields"},
        {"too many fields", NULL, "plan f32 forward small cpu 1 8 8 4096 1 1 1 1\n", "more than"},
        {"negative", NULL, "plan f32 forward small cpu 1 8 -8 4096 1\n", "'-8' is not a size"},
        {"overflow", NULL, "plan f32 forward small cpu 1 8 8 99999999999999999999999 1\n",
         "is not a size"},
        {"bad plan", NULL, "plan f32 forward small gpu 3 1 8 4096 3\n", "work_group_size 3"},
        {"twice", NULL,
         "plan f32 forward small cpu 1 8 8 4096 1\nplan f32 forward small cpu 1 4 8 4096 1\n",
         "a second plan for f32 forward small"},
        {"line number", NULL, "# fine\nplan f32 forward small cpu 1 8 8 x 1\n", "line 6:"},
    };
    char *dir = temp_dir(), path[256], text[2048];
    snprintf(path, sizeof path, "%s/bad.tune", dir);
    clmse_context *probe = context_with_file("");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (bad[i].text)
            snprintf(text, sizeof text, "%s", bad[i].text);
        else
            tuning_text(probe, bad[i].body, text, sizeof text);
        th_write_file(path, text, strlen(text));
        clmse_context *ctx = context_with_file(path);
        const char *outcome = clmse_context_tuning(ctx);
        ck_assert_msg(strncmp(outcome, "ignored ", 8) == 0 && strstr(outcome, bad[i].reason),
                      "%s: '%s' lacks '%s'", bad[i].what, outcome, bad[i].reason);
        assert_sources(ctx, CLMSE_PLAN_DEFAULT);
        clmse_context_release(ctx);
    }
    /* A NUL byte inside, and a file larger than 64 KiB. */
    tuning_text(probe, "", text, sizeof text);
    size_t len = strlen(text);
    text[len] = '\0';
    th_write_file(path, text, len + 1);
    clmse_context *ctx = context_with_file(path);
    ck_assert_ptr_nonnull(strstr(clmse_context_tuning(ctx), "NUL"));
    clmse_context_release(ctx);
    char *big = malloc(70000);
    ck_assert_ptr_nonnull(big);
    memset(big, '#', 70000);
    th_write_file(path, big, 70000);
    free(big);
    ctx = context_with_file(path);
    ck_assert_ptr_nonnull(strstr(clmse_context_tuning(ctx), "larger than 64 KiB"));
    clmse_context_release(ctx);
    /* A directory in the file's place. */
    ctx = context_with_file(dir);
    ck_assert_msg(strncmp(clmse_context_tuning(ctx), "ignored ", 8) == 0, "%s",
                  clmse_context_tuning(ctx));
    clmse_context_release(ctx);
    clmse_context_release(probe);
    remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_tuning_directory)
{
    char *dir = temp_dir(), sub[256];
    snprintf(sub, sizeof sub, "%s/a/b", dir);
    unsetenv("CLMSE_TUNING_FILE");
    setenv("CLMSE_TUNING_DIR", sub, 1);
    clmse_context *ctx = context_with_file(NULL);
    ck_assert_msg(strncmp(clmse_context_tuning(ctx), "none at ", 8) == 0 &&
                      strstr(clmse_context_tuning(ctx), sub) != NULL,
                  "%s", clmse_context_tuning(ctx));
    CHECK_OK(ctx, clmse_context_save_tuning(ctx, NULL)); /* creates a/b */
    clmse_context_release(ctx);
    ctx = context_with_file(NULL);
    ck_assert_msg(strncmp(clmse_context_tuning(ctx), "loaded ", 7) == 0, "%s",
                  clmse_context_tuning(ctx));
    assert_sources(ctx, CLMSE_PLAN_TUNED);
    clmse_context_release(ctx);

    /* Switched off: nothing is read, and there is nowhere to save by default. */
    setenv("CLMSE_TUNING_FILE", "off", 1);
    ctx = context_with_file(NULL);
    ck_assert_str_eq(clmse_context_tuning(ctx), "disabled (CLMSE_TUNING_FILE=off)");
    assert_sources(ctx, CLMSE_PLAN_DEFAULT);
    ck_assert_int_eq(clmse_context_save_tuning(ctx, NULL), CLMSE_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clmse_context_last_error(ctx), "disabled"));
    clmse_context_release(ctx);
    unsetenv("CLMSE_TUNING_FILE");
    remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_save_errors)
{
    clmse_context *ctx = context_with_file("");
    ck_assert_int_eq(clmse_context_save_tuning(ctx, "/nonexistent-dir/x.tune"), CLMSE_ERROR_IO);
    ck_assert_ptr_nonnull(strstr(clmse_context_last_error(ctx), "/nonexistent-dir/x.tune"));
    ck_assert_int_eq(clmse_context_save_tuning(ctx, ""), CLMSE_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(clmse_context_save_tuning(NULL, "/tmp/x.tune"), CLMSE_ERROR_INVALID_HANDLE);
    clmse_context_release(ctx);
}
END_TEST

Suite *make_plan_suite(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = th_device_tcase(s, "table");
    tcase_add_test(tc, test_size_classes);
    tcase_add_test(tc, test_defaults_follow_device);
    tcase_add_test(tc, test_set_plan_refuses);
    tc = th_device_tcase(s, "results");
    tcase_add_test(tc, test_results_under_plans);
    tc = th_device_tcase(s, "tuning_files");
    tcase_add_test(tc, test_tuning_round_trip);
    tcase_add_test(tc, test_tuning_bad_files);
    tcase_add_test(tc, test_tuning_directory);
    tcase_add_test(tc, test_save_errors);
    return s;
}
