/* SPDX-License-Identifier: MIT */
/* Every rejected call: exact status, a message, no event, and no output element changed. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "helpers.h"
#include "suites.h"

#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { BN = 16 }; /* every fixture buffer holds BN floats */

static clmse_context *g_ctx;
static cl_mem g_x, g_y, g_g, g_out, g_gx, g_gy;

static void setup(void)
{
    g_ctx = th_context_create();
    float v[BN];
    th_rng rng;
    th_rng_seed(&rng, 3);
    th_fill_uniform(&rng, v, BN);
    g_x = th_buffer(g_ctx, BN, 0, v, BN);
    th_fill_uniform(&rng, v, BN);
    g_y = th_buffer(g_ctx, BN, 0, v, BN);
    g_g = th_buffer(g_ctx, BN, 0, v, BN);
    g_out = th_buffer(g_ctx, BN, 0, NULL, 0);
    g_gx = th_buffer(g_ctx, BN, 0, NULL, 0);
    g_gy = th_buffer(g_ctx, BN, 0, NULL, 0);
}

static void teardown(void)
{
    cl_mem bufs[] = {g_x, g_y, g_g, g_out, g_gx, g_gy};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        clReleaseMemObject(bufs[i]);
    clmse_context_release(g_ctx);
}

static void expect_fail_at(clmse_context *ctx, clmse_status got, clmse_status want, cl_event ev,
                           const char *call, int line)
{
    ck_assert_msg(got == want, "line %d: %s returned %s (%d), want %s (%d)", line, call,
                  clmse_status_string(got), (int)got, clmse_status_string(want), (int)want);
    ck_assert_msg(ev == NULL, "line %d: an event came back from a failed call", line);
    const char *msg = clmse_context_last_error(ctx);
    ck_assert_msg(msg != NULL && msg[0] != '\0', "line %d: no last_error message", line);
    ck_assert_msg(clmse_context_last_cl_error(ctx) == CL_SUCCESS,
                  "line %d: a validation failure reported OpenCL error %d", line,
                  clmse_context_last_cl_error(ctx));
    th_assert_untouched(g_ctx, g_out, BN);
    th_assert_untouched(g_ctx, g_gx, BN);
    th_assert_untouched(g_ctx, g_gy, BN);
}

/* `ev` is in scope for the call text, pre-set to NULL so a touched event shows. */
#define EXPECT_FAIL_CTX(ctx, want, call)                         \
    do {                                                         \
        cl_event ev = NULL;                                      \
        clmse_status st_ = (call);                               \
        expect_fail_at((ctx), st_, (want), ev, #call, __LINE__); \
    } while (0)
#define EXPECT_FAIL(want, call) EXPECT_FAIL_CTX(g_ctx, want, call)

#define MEAN CLMSE_REDUCTION_MEAN
#define NONE CLMSE_REDUCTION_NONE
#define BAD_RED ((clmse_reduction)7)
#define E_ARG CLMSE_ERROR_INVALID_ARGUMENT
#define E_SMALL CLMSE_ERROR_BUFFER_TOO_SMALL
#define E_OVF CLMSE_ERROR_SIZE_OVERFLOW

START_TEST(test_forward_errors)
{
#define FWD(red, n, x, xo, y, yo, o, oo, nw, wl) \
    clmse_mse_forward_f32(g_ctx, red, n, x, xo, y, yo, o, oo, nw, wl, &ev)
    EXPECT_FAIL(E_ARG, FWD(MEAN, BN, NULL, 0, g_y, 0, g_out, 0, 0, NULL));
    EXPECT_FAIL(E_ARG, FWD(MEAN, BN, g_x, 0, NULL, 0, g_out, 0, 0, NULL));
    EXPECT_FAIL(E_ARG, FWD(MEAN, BN, g_x, 0, g_y, 0, NULL, 0, 0, NULL));
    EXPECT_FAIL(E_ARG, FWD(NONE, BN, g_x, 0, g_y, 0, NULL, 0, 0, NULL));
    EXPECT_FAIL(CLMSE_ERROR_INVALID_REDUCTION, FWD(BAD_RED, BN, g_x, 0, g_y, 0, g_out, 0, 0, NULL));
    EXPECT_FAIL(CLMSE_ERROR_INVALID_REDUCTION,
                FWD((clmse_reduction)-1, BN, g_x, 0, g_y, 0, g_out, 0, 0, NULL));

    EXPECT_FAIL(E_SMALL, FWD(MEAN, BN + 1, g_x, 0, g_y, 0, g_out, 0, 0, NULL));
    EXPECT_FAIL(E_SMALL, FWD(MEAN, BN, g_x, 1, g_y, 0, g_out, 0, 0, NULL));
    EXPECT_FAIL(E_SMALL, FWD(MEAN, BN, g_x, 0, g_y, 1, g_out, 0, 0, NULL));
    EXPECT_FAIL(E_SMALL, FWD(NONE, BN, g_x, 0, g_y, 0, g_out, 1, 0, NULL));
    EXPECT_FAIL(E_SMALL, FWD(MEAN, BN, g_x, 0, g_y, 0, g_out, BN, 0, NULL));

    EXPECT_FAIL(E_OVF, FWD(MEAN, SIZE_MAX, g_x, 0, g_y, 0, g_out, 0, 0, NULL));
    EXPECT_FAIL(E_OVF, FWD(MEAN, SIZE_MAX / 2, g_x, 0, g_y, 0, g_out, 0, 0, NULL));
    EXPECT_FAIL(E_OVF, FWD(MEAN, 4, g_x, SIZE_MAX - 1, g_y, 0, g_out, 0, 0, NULL));
    EXPECT_FAIL(E_OVF, FWD(MEAN, 1, g_x, SIZE_MAX - 1, g_y, 0, g_out, 0, 0, NULL));
    EXPECT_FAIL(E_OVF, FWD(MEAN, 4, g_x, 0, g_y, SIZE_MAX - 1, g_out, 0, 0, NULL));
    EXPECT_FAIL(E_OVF, FWD(NONE, 4, g_x, 0, g_y, 0, g_out, SIZE_MAX - 1, 0, NULL));
    EXPECT_FAIL(E_OVF, FWD(MEAN, 4, g_x, 0, g_y, 0, g_out, SIZE_MAX, 0, NULL));

    EXPECT_FAIL(E_ARG, FWD(MEAN, BN, g_x, 0, g_y, 0, g_out, 0, 1, NULL));
    /* OpenCL's rule too: a non-NULL list needs a non-zero count. */
    cl_event unused = NULL;
    EXPECT_FAIL(E_ARG, FWD(MEAN, BN, g_x, 0, g_y, 0, g_out, 0, 0, &unused));

    /* The context stays usable after all those refusals. */
    cl_event ev = NULL;
    ck_assert_int_eq(FWD(MEAN, BN, g_x, 0, g_y, 0, g_out, 3, 0, NULL), CLMSE_SUCCESS);
    float v[BN];
    th_buffer_read(g_ctx, g_out, BN, v, ev);
    ck_assert(!th_is_sentinel(v[3]) && v[3] > 0.0f);
#undef FWD
}
END_TEST

START_TEST(test_backward_errors)
{
#define BWD(red, n, x, y, g, go, gx, gxo, gy, gyo, nw, wl) \
    clmse_mse_backward_f32(g_ctx, red, n, x, 0, y, 0, g, go, gx, gxo, gy, gyo, nw, wl, &ev)
    EXPECT_FAIL(E_ARG, BWD(MEAN, BN, NULL, g_y, g_g, 0, g_gx, 0, g_gy, 0, 0, NULL));
    EXPECT_FAIL(E_ARG, BWD(MEAN, BN, g_x, NULL, g_g, 0, g_gx, 0, g_gy, 0, 0, NULL));
    EXPECT_FAIL(E_ARG, BWD(MEAN, BN, g_x, g_y, g_g, 0, NULL, 0, NULL, 0, 0, NULL));
    EXPECT_FAIL(E_ARG, BWD(NONE, BN, g_x, g_y, NULL, 0, NULL, 0, NULL, 0, 0, NULL));
    EXPECT_FAIL(CLMSE_ERROR_INVALID_REDUCTION,
                BWD(BAD_RED, BN, g_x, g_y, g_g, 0, g_gx, 0, g_gy, 0, 0, NULL));

    EXPECT_FAIL(E_SMALL, BWD(MEAN, BN + 1, g_x, g_y, g_g, 0, g_gx, 0, g_gy, 0, 0, NULL));
    EXPECT_FAIL(E_SMALL, BWD(MEAN, BN, g_x, g_y, g_g, BN, g_gx, 0, g_gy, 0, 0, NULL));
    EXPECT_FAIL(E_SMALL, BWD(NONE, BN, g_x, g_y, g_g, 1, g_gx, 0, g_gy, 0, 0, NULL));
    EXPECT_FAIL(E_SMALL, BWD(MEAN, BN, g_x, g_y, g_g, 0, g_gx, 1, g_gy, 0, 0, NULL));
    EXPECT_FAIL(E_SMALL, BWD(MEAN, BN, g_x, g_y, g_g, 0, g_gx, 0, g_gy, 1, 0, NULL));
    EXPECT_FAIL(E_SMALL, BWD(MEAN, BN, g_x, g_y, NULL, 0, g_gx, 1, NULL, 0, 0, NULL));
    EXPECT_FAIL(E_SMALL, BWD(MEAN, BN, g_x, g_y, NULL, 0, NULL, 0, g_gy, 1, 0, NULL));

    EXPECT_FAIL(E_OVF, BWD(MEAN, SIZE_MAX, g_x, g_y, g_g, 0, g_gx, 0, g_gy, 0, 0, NULL));
    EXPECT_FAIL(E_OVF, BWD(NONE, 4, g_x, g_y, g_g, SIZE_MAX - 1, g_gx, 0, g_gy, 0, 0, NULL));
    EXPECT_FAIL(E_OVF, BWD(MEAN, 4, g_x, g_y, g_g, 0, g_gx, SIZE_MAX - 1, g_gy, 0, 0, NULL));
    EXPECT_FAIL(E_OVF, BWD(MEAN, 4, g_x, g_y, g_g, 0, g_gx, 0, g_gy, SIZE_MAX - 1, 0, NULL));

    EXPECT_FAIL(E_ARG, BWD(MEAN, BN, g_x, g_y, g_g, 0, g_gx, 0, g_gy, 0, 2, NULL));
#undef BWD
}
END_TEST

START_TEST(test_fused_errors)
{
#define FUS(red, n, x, y, o, oo, g, go, gx, gxo, gy, gyo, nw, wl) \
    clmse_mse_fused_f32(g_ctx, red, n, x, 0, y, 0, o, oo, g, go, gx, gxo, gy, gyo, nw, wl, &ev)
    EXPECT_FAIL(E_ARG, FUS(MEAN, BN, g_x, g_y, NULL, 0, g_g, 0, g_gx, 0, g_gy, 0, 0, NULL));
    EXPECT_FAIL(E_ARG, FUS(MEAN, BN, NULL, g_y, g_out, 0, g_g, 0, g_gx, 0, g_gy, 0, 0, NULL));
    EXPECT_FAIL(E_ARG, FUS(MEAN, BN, g_x, NULL, g_out, 0, g_g, 0, g_gx, 0, g_gy, 0, 0, NULL));
    EXPECT_FAIL(CLMSE_ERROR_INVALID_REDUCTION,
                FUS(BAD_RED, BN, g_x, g_y, g_out, 0, g_g, 0, g_gx, 0, g_gy, 0, 0, NULL));
    EXPECT_FAIL(E_SMALL, FUS(NONE, BN, g_x, g_y, g_out, 1, g_g, 0, g_gx, 0, g_gy, 0, 0, NULL));
    EXPECT_FAIL(E_SMALL, FUS(MEAN, BN, g_x, g_y, g_out, BN, g_g, 0, g_gx, 0, g_gy, 0, 0, NULL));
    EXPECT_FAIL(E_SMALL, FUS(NONE, BN, g_x, g_y, g_out, 0, g_g, 1, g_gx, 0, g_gy, 0, 0, NULL));
    EXPECT_FAIL(E_SMALL, FUS(MEAN, BN, g_x, g_y, g_out, 0, g_g, 0, g_gx, 1, g_gy, 0, 0, NULL));
    EXPECT_FAIL(E_SMALL, FUS(MEAN, BN, g_x, g_y, g_out, 0, g_g, 0, g_gx, 0, g_gy, 1, 0, NULL));
    EXPECT_FAIL(E_OVF, FUS(MEAN, SIZE_MAX, g_x, g_y, g_out, 0, g_g, 0, g_gx, 0, g_gy, 0, 0, NULL));
    EXPECT_FAIL(E_OVF, FUS(MEAN, 4, g_x, g_y, g_out, SIZE_MAX, g_g, 0, g_gx, 0, g_gy, 0, 0, NULL));
    EXPECT_FAIL(E_OVF,
                FUS(MEAN, 4, g_x, g_y, g_out, 0, g_g, 0, g_gx, SIZE_MAX - 1, g_gy, 0, 0, NULL));
    EXPECT_FAIL(E_ARG, FUS(MEAN, BN, g_x, g_y, g_out, 0, g_g, 0, g_gx, 0, g_gy, 0, 1, NULL));
#undef FUS
}
END_TEST

START_TEST(test_null_context)
{
    /* Without a context the message lives in the thread's slot. */
    EXPECT_FAIL_CTX(NULL, CLMSE_ERROR_INVALID_HANDLE,
                    clmse_mse_forward_f32(NULL, MEAN, BN, g_x, 0, g_y, 0, g_out, 0, 0, NULL, &ev));
    EXPECT_FAIL_CTX(NULL, CLMSE_ERROR_INVALID_HANDLE,
                    clmse_mse_backward_f32(NULL, MEAN, BN, g_x, 0, g_y, 0, g_g, 0, g_gx, 0, g_gy, 0,
                                           0, NULL, &ev));
    EXPECT_FAIL_CTX(NULL, CLMSE_ERROR_INVALID_HANDLE,
                    clmse_mse_fused_f32(NULL, MEAN, BN, g_x, 0, g_y, 0, g_out, 0, g_g, 0, g_gx, 0,
                                        g_gy, 0, 0, NULL, &ev));
    const float x[3] = {1, 2, 3};
    float out[3] = {th_sentinel(), th_sentinel(), th_sentinel()};
    float gx[3] = {th_sentinel(), th_sentinel(), th_sentinel()};
    EXPECT_FAIL_CTX(NULL, CLMSE_ERROR_INVALID_HANDLE,
                    ((void)ev, clmse_host_forward_f32(NULL, MEAN, 3, x, x, out)));
    EXPECT_FAIL_CTX(NULL, CLMSE_ERROR_INVALID_HANDLE,
                    ((void)ev, clmse_host_backward_f32(NULL, MEAN, 3, x, x, NULL, gx, NULL)));
    EXPECT_FAIL_CTX(NULL, CLMSE_ERROR_INVALID_HANDLE,
                    ((void)ev, clmse_host_fused_f32(NULL, MEAN, 3, x, x, NULL, out, gx, NULL)));
    ck_assert_uint_eq(th_first_non_sentinel(out, 0, 3), 3);
    ck_assert_uint_eq(th_first_non_sentinel(gx, 0, 3), 3);
}
END_TEST

START_TEST(test_host_errors)
{
    const float x[3] = {1, 2, 3};
    float out[3] = {th_sentinel(), th_sentinel(), th_sentinel()};
    float gx[3] = {th_sentinel(), th_sentinel(), th_sentinel()};
    float gy[3] = {th_sentinel(), th_sentinel(), th_sentinel()};
#define HOST(call) ((void)ev, call)
    EXPECT_FAIL(E_ARG, HOST(clmse_host_forward_f32(g_ctx, MEAN, 3, NULL, x, out)));
    EXPECT_FAIL(E_ARG, HOST(clmse_host_forward_f32(g_ctx, MEAN, 3, x, NULL, out)));
    EXPECT_FAIL(E_ARG, HOST(clmse_host_forward_f32(g_ctx, MEAN, 3, x, x, NULL)));
    EXPECT_FAIL(E_ARG, HOST(clmse_host_forward_f32(g_ctx, MEAN, 0, NULL, NULL, NULL)));
    EXPECT_FAIL(CLMSE_ERROR_INVALID_REDUCTION,
                HOST(clmse_host_forward_f32(g_ctx, BAD_RED, 3, x, x, out)));
    EXPECT_FAIL(E_OVF, HOST(clmse_host_forward_f32(g_ctx, NONE, SIZE_MAX, x, x, out)));
    EXPECT_FAIL(E_ARG, HOST(clmse_host_backward_f32(g_ctx, MEAN, 3, NULL, x, NULL, gx, gy)));
    EXPECT_FAIL(E_ARG, HOST(clmse_host_backward_f32(g_ctx, MEAN, 3, x, NULL, NULL, gx, gy)));
    EXPECT_FAIL(E_ARG, HOST(clmse_host_backward_f32(g_ctx, MEAN, 3, x, x, NULL, NULL, NULL)));
    EXPECT_FAIL(CLMSE_ERROR_INVALID_REDUCTION,
                HOST(clmse_host_backward_f32(g_ctx, BAD_RED, 3, x, x, NULL, gx, gy)));
    EXPECT_FAIL(E_ARG, HOST(clmse_host_fused_f32(g_ctx, MEAN, 3, x, x, NULL, NULL, gx, gy)));
    EXPECT_FAIL(E_ARG, HOST(clmse_host_fused_f32(g_ctx, MEAN, 3, NULL, x, NULL, out, gx, gy)));
#undef HOST
    ck_assert_uint_eq(th_first_non_sentinel(out, 0, 3), 3);
    ck_assert_uint_eq(th_first_non_sentinel(gx, 0, 3), 3);
    ck_assert_uint_eq(th_first_non_sentinel(gy, 0, 3), 3);
}
END_TEST

/* ==== build failures ====================================================================== */

static char g_tmpdir[4096];

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Runs at exit so the directory goes even when an assertion ends the test early. */
static void remove_tmpdir(void)
{
    if (g_tmpdir[0])
        nftw(g_tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    g_tmpdir[0] = '\0';
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    ck_assert_msg(in != NULL, "cannot read %s", from);
    FILE *out = fopen(to, "wb");
    ck_assert_msg(out != NULL, "cannot write %s", to);
    char buf[8192];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0)
        ck_assert_uint_eq(fwrite(buf, 1, got, out), got);
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
}

/* Copies the kernel sources into a fresh directory; returns how many there were. */
static int copy_kernels(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_tmpdir, sizeof g_tmpdir, "%s/clmse-kernels-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(g_tmpdir));
    atexit(remove_tmpdir);

    DIR *dir = opendir(CLMSE_SOURCE_DIR "/cl");
    ck_assert_msg(dir != NULL, "cannot open %s/cl", CLMSE_SOURCE_DIR);
    int copied = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".cl") != 0)
            continue;
        char from[4096], to[8192];
        snprintf(from, sizeof from, "%s/cl/%s", CLMSE_SOURCE_DIR, e->d_name);
        snprintf(to, sizeof to, "%s/%s", g_tmpdir, e->d_name);
        copy_file(from, to);
        copied++;
    }
    closedir(dir);
    return copied;
}

START_TEST(test_kernel_dir)
{
    /* _i: 0 an intact copy (proves the copy is complete), 1 a broken mse.cl */
    ck_assert_int_ge(copy_kernels(), 1);
    char path[8192];
    snprintf(path, sizeof path, "%s/mse.cl", g_tmpdir);
    if (_i == 1) {
        FILE *f = fopen(path, "ab");
        ck_assert_msg(f != NULL, "%s missing", path);
        fputs("\nthis is not OpenCL C;\n", f);
        ck_assert_int_eq(fclose(f), 0);
    }
    /* clmse keeps no binary cache of its own, so the build sees these sources (a driver's cache
     * is keyed by the source text). */
    ck_assert_int_eq(setenv("CLMSE_KERNEL_DIR", g_tmpdir, 1), 0);

    clmse_context *ctx = th_context_create();
    const float x[3] = {2.5f, 3.1f, 4.8f}, y[3] = {2.0f, 3.3f, 5.0f};
    cl_mem bx = th_buffer(ctx, 3, 0, x, 3), by = th_buffer(ctx, 3, 0, y, 3);
    cl_mem bout = th_buffer(ctx, 1, 0, NULL, 0);
    cl_event ev = NULL;
    clmse_status st = clmse_mse_forward_f32(ctx, MEAN, 3, bx, 0, by, 0, bout, 0, 0, NULL, &ev);
    if (_i == 0) {
        ck_assert_msg(st == CLMSE_SUCCESS, "%s: %s", clmse_status_string(st),
                      clmse_context_last_error(ctx));
        float v = 0.0f;
        th_buffer_read(ctx, bout, 1, &v, ev);
        ck_assert_float_eq_tol(v, 0.11f, 1e-6f);
    } else {
        ck_assert_int_eq(st, CLMSE_ERROR_BUILD_FAILED);
        ck_assert_ptr_null(ev);
        const char *log = clmse_context_last_error(ctx);
        ck_assert_msg(strstr(log, "error") != NULL, "no build log in \"%s\"", log);
        cl_int cl_err = clmse_context_last_cl_error(ctx);
        ck_assert_msg(cl_err == CL_BUILD_PROGRAM_FAILURE || cl_err == CL_COMPILE_PROGRAM_FAILURE,
                      "last_cl_error %d", cl_err);
        th_assert_untouched(ctx, bout, 1);
        /* A failed build must not be cached as a usable program. */
        float v = th_sentinel();
        ck_assert_int_eq(clmse_host_forward_f32(ctx, MEAN, 3, x, y, &v), CLMSE_ERROR_BUILD_FAILED);
        ck_assert(th_is_sentinel(v));
    }
    ck_assert_int_eq(clReleaseMemObject(bx), CL_SUCCESS);
    ck_assert_int_eq(clReleaseMemObject(by), CL_SUCCESS);
    ck_assert_int_eq(clReleaseMemObject(bout), CL_SUCCESS);
    clmse_context_release(ctx);
    remove_tmpdir();
    unsetenv("CLMSE_KERNEL_DIR");
}
END_TEST

Suite *make_errors_suite(void)
{
    Suite *s = suite_create("errors");
    TCase *tc = th_device_tcase(s, "arguments");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_forward_errors);
    tcase_add_test(tc, test_backward_errors);
    tcase_add_test(tc, test_fused_errors);
    tcase_add_test(tc, test_null_context);
    tcase_add_test(tc, test_host_errors);
    tc = th_device_tcase(s, "build");
    tcase_add_loop_test(tc, test_kernel_dir, 0, 2);
    return s;
}
