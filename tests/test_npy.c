/* SPDX-License-Identifier: MIT */
/* The tool's .npy reader and writer (tools/npy.c): hand-made files, round trips, float16. */
#include "helpers.h"
#include "npy.h"
#include "suites.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERR_LEN 512
#define MAX_FILE 4096

static char g_dir[256]; /* made by the unchecked fixture, shared by the tcase's tests */

static void make_dir(void)
{
    const char *base = getenv("TMPDIR");

    snprintf(g_dir, sizeof g_dir, "%s/clmse-npy-XXXXXX", base && base[0] ? base : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        abort();
    }
}

static void remove_dir(void)
{
    DIR *d = opendir(g_dir);
    struct dirent *e;
    char path[512];

    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", g_dir, e->d_name);
        remove(path);
    }
    closedir(d);
    rmdir(g_dir);
}

/* A path in the test directory; four rotating buffers so a test can hold several. */
static const char *path_of(const char *name)
{
    static char paths[4][512];
    static int next;
    char *p = paths[next++ % 4];

    snprintf(p, sizeof paths[0], "%s/%s", g_dir, name);
    return p;
}

static size_t read_bytes(const char *path, unsigned char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* Writes a string literal's bytes, without its terminating NUL, which may follow others. */
#define WRITE_LITERAL(name, literal) th_write_file(path_of(name), literal, sizeof literal - 1)

static int exists(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0;
}

/* A .npy file as NumPy lays it out: magic, version MAJOR.0, the header length in 2 (1.0) or 4
 * bytes, `dict` padded with spaces and a final '\n' to a multiple of 64, then `data`. */
static size_t build_npy(unsigned char *buf, unsigned major, const char *dict, const void *data,
                        size_t data_len)
{
    size_t pre = major == 1 ? 10 : 12, len = strlen(dict) + 1, n = 0;

    len += (64 - (pre + len) % 64) % 64;
    ck_assert_uint_le(pre + len + data_len, MAX_FILE);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    for (size_t i = 0; i < pre - 8; i++)
        buf[8 + i] = (unsigned char)(len >> (8 * i));
    n = pre;
    memcpy(buf + n, dict, strlen(dict));
    memset(buf + n + strlen(dict), ' ', len - 1 - strlen(dict));
    buf[n + len - 1] = '\n';
    n += len;
    if (data_len)
        memcpy(buf + n, data, data_len);
    return n + data_len;
}

static const char *write_npy(const char *name, unsigned major, const char *dict, const void *data,
                             size_t data_len)
{
    unsigned char buf[MAX_FILE];
    const char *path = path_of(name);

    th_write_file(path, buf, build_npy(buf, major, dict, data, data_len));
    return path;
}

/* Reads `path` expecting success. */
static void read_ok(const char *path, npy_array *a)
{
    char err[ERR_LEN] = "";
    npy_status st = npy_read(path, a, err, sizeof err);

    ck_assert_msg(st == NPY_OK, "%s: status %d: %s", path, (int)st, err);
}

/* Reads `path` expecting `want`, a message, and an array left empty. */
static void read_fails(const char *path, npy_status want)
{
    char err[ERR_LEN] = "";
    npy_array a;
    npy_status st;

    memset(&a, 0x5a, sizeof a); /* npy_read must zero it */
    st = npy_read(path, &a, err, sizeof err);
    ck_assert_msg(st == want, "%s: status %d, want %d (%s)", path, (int)st, (int)want, err);
    ck_assert_msg(err[0] != '\0', "%s: no message", path);
    ck_assert_msg(strchr(err, '\n') == NULL, "%s: message has a line break: %s", path, err);
    ck_assert_ptr_null(a.data);
    ck_assert_uint_eq(a.count, 0);
}

static const char *dict_for(const char *descr, const char *shape)
{
    static char buf[4][256];
    static int next;
    char *p = buf[next++ % 4];

    snprintf(p, sizeof buf[0], "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr,
             shape);
    return p;
}

static void swap_copy(unsigned char *dst, const void *src, size_t count, size_t unit)
{
    const unsigned char *s = src;

    for (size_t i = 0; i < count; i++)
        for (size_t b = 0; b < unit; b++)
            dst[i * unit + b] = s[i * unit + unit - 1 - b];
}

/* ---- core: good files ---------------------------------------------------------------------- */

START_TEST(test_v1_c_order_f4)
{
    const float v[6] = {2.5f, 3.1f, 4.8f, 1.2f, -2.2f, 3.9e-20f};
    npy_array a;

    read_ok(write_npy("c.npy", 1, dict_for("<f4", "(2, 3)"), v, sizeof v), &a);
    ck_assert_uint_eq(a.version, 1);
    ck_assert_str_eq(a.descr, "<f4");
    ck_assert_str_eq(a.type_name, "float32");
    ck_assert_int_ne(a.has_dtype, 0);
    ck_assert_int_eq(a.dtype, CLMSE_DTYPE_F32);
    ck_assert_uint_eq(a.itemsize, 4);
    ck_assert_int_eq(a.fortran_order, 0);
    ck_assert_uint_eq(a.ndim, 2);
    ck_assert_uint_eq(a.shape[0], 2);
    ck_assert_uint_eq(a.shape[1], 3);
    ck_assert_uint_eq(a.count, 6);
    ck_assert_int_eq(a.trailing, 0);
    ck_assert_mem_eq(a.data, v, sizeof v);
    npy_free(&a);
    ck_assert_ptr_null(a.data);
    npy_free(&a); /* twice is harmless */
    npy_free(NULL);
}
END_TEST

START_TEST(test_v2_v3_headers)
{
    const double d[3] = {1.0, -0.5, 1e300};
    const uint16_t h[4] = {0x3c00, 0xc000, 0x7bff, 0x0001}; /* 1, -2, 65504, 2^-24 */
    npy_array a;

    read_ok(write_npy("v2.npy", 2, dict_for("<f8", "(3,)"), d, sizeof d), &a);
    ck_assert_uint_eq(a.version, 2);
    ck_assert_int_eq(a.dtype, CLMSE_DTYPE_F64);
    ck_assert_uint_eq(a.ndim, 1);
    ck_assert_uint_eq(a.shape[0], 3);
    ck_assert_mem_eq(a.data, d, sizeof d);
    npy_free(&a);

    /* 3.0 differs only in allowing UTF-8; double quotes and no trailing comma are Python too. */
    read_ok(write_npy("v3.npy", 3,
                      "{\"descr\": \"<f2\", \"fortran_order\": False, "
                      "\"shape\": (2, 2)}",
                      h, sizeof h),
            &a);
    ck_assert_uint_eq(a.version, 3);
    ck_assert_int_eq(a.dtype, CLMSE_DTYPE_F16);
    ck_assert_uint_eq(a.itemsize, 2);
    ck_assert_uint_eq(a.count, 4);
    ck_assert_mem_eq(a.data, h, sizeof h);
    npy_free(&a);
}
END_TEST

START_TEST(test_fortran_order)
{
    /* A 2x3 array [[1,2,3],[4,5,6]] stored column by column; kept in file order. */
    const float v[6] = {1, 4, 2, 5, 3, 6};
    npy_array a;

    read_ok(write_npy("f.npy", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", v,
                      sizeof v),
            &a);
    ck_assert_int_eq(a.fortran_order, 1);
    ck_assert_uint_eq(a.shape[0], 2);
    ck_assert_uint_eq(a.shape[1], 3);
    ck_assert_mem_eq(a.data, v, sizeof v);
    npy_free(&a);
}
END_TEST

START_TEST(test_scalar_and_empty)
{
    const double one = 0.25;
    npy_array a;

    read_ok(write_npy("s.npy", 1, dict_for("<f8", "()"), &one, sizeof one), &a);
    ck_assert_uint_eq(a.ndim, 0);
    ck_assert_uint_eq(a.count, 1);
    ck_assert_mem_eq(a.data, &one, sizeof one);
    npy_free(&a);

    read_ok(write_npy("e1.npy", 1, dict_for("<f4", "(0,)"), NULL, 0), &a);
    ck_assert_uint_eq(a.ndim, 1);
    ck_assert_uint_eq(a.shape[0], 0);
    ck_assert_uint_eq(a.count, 0);
    ck_assert_ptr_null(a.data);
    ck_assert_int_eq(a.trailing, 0);
    npy_free(&a);

    /* A zero anywhere empties the array, however large the other dimensions. */
    read_ok(write_npy("e3.npy", 1, dict_for("<f4", "(1000000000, 0, 1000000000)"), NULL, 0), &a);
    ck_assert_uint_eq(a.ndim, 3);
    ck_assert_uint_eq(a.count, 0);
    ck_assert_ptr_null(a.data);
    npy_free(&a);
}
END_TEST

START_TEST(test_big_endian)
{
    const float f[3] = {2.5f, -3.25f, 1e-42f};
    const double d[2] = {3.141592653589793, -1e-310};
    const uint16_t h[2] = {0x3555, 0xfbff};
    const float c[4] = {1.5f, -2.0f, 0.125f, 8.0f}; /* two complex64 */
    unsigned char be[64];
    npy_array a;

    swap_copy(be, f, 3, 4);
    read_ok(write_npy("bf4.npy", 1, dict_for(">f4", "(3,)"), be, sizeof f), &a);
    ck_assert_int_eq(a.dtype, CLMSE_DTYPE_F32);
    ck_assert_str_eq(a.descr, ">f4");
    ck_assert_mem_eq(a.data, f, sizeof f);
    npy_free(&a);

    swap_copy(be, d, 2, 8);
    read_ok(write_npy("bf8.npy", 1, dict_for(">f8", "(2,)"), be, sizeof d), &a);
    ck_assert_int_eq(a.dtype, CLMSE_DTYPE_F64);
    ck_assert_mem_eq(a.data, d, sizeof d);
    npy_free(&a);

    swap_copy(be, h, 2, 2);
    read_ok(write_npy("bf2.npy", 1, dict_for(">f2", "(1, 2)"), be, sizeof h), &a);
    ck_assert_int_eq(a.dtype, CLMSE_DTYPE_F16);
    ck_assert_mem_eq(a.data, h, sizeof h);
    npy_free(&a);

    /* Complex numbers swap each of their two parts, not the pair as one 8-byte unit. */
    swap_copy(be, c, 4, 4);
    read_ok(write_npy("bc8.npy", 1, dict_for(">c8", "(2,)"), be, sizeof c), &a);
    ck_assert_int_eq(a.dtype, CLMSE_DTYPE_C64);
    ck_assert_mem_eq(a.data, c, sizeof c);
    npy_free(&a);
}
END_TEST

START_TEST(test_other_dtypes_recognised)
{
    static const struct {
        const char *descr;
        size_t size;
        const char *name;
        int has;
        clmse_dtype dtype;
    } cases[] = {
        {"|b1", 1, "bool", 1, CLMSE_DTYPE_BOOL},
        {"|u1", 1, "uint8", 1, CLMSE_DTYPE_U8},
        {"|i1", 1, "int8", 1, CLMSE_DTYPE_I8},
        {"<i2", 2, "int16", 1, CLMSE_DTYPE_I16},
        {"<i4", 4, "int32", 1, CLMSE_DTYPE_I32},
        {">i4", 4, "int32", 1, CLMSE_DTYPE_I32},
        {"<i8", 8, "int64", 1, CLMSE_DTYPE_I64},
        {"<c8", 8, "complex64", 1, CLMSE_DTYPE_C64},
        {"<c16", 16, "complex128", 1, CLMSE_DTYPE_C128},
        {"<u4", 4, "uint32", 0, NPY_DTYPE_NONE},
        {"<f16", 16, "float128", 0, NPY_DTYPE_NONE},
        {"b1", 1, "bool", 1, CLMSE_DTYPE_BOOL}, /* no byte order: native */
        {"f4", 4, "float32", 1, CLMSE_DTYPE_F32},
        {"=f8", 8, "float64", 1, CLMSE_DTYPE_F64},
    };
    unsigned char data[64] = {1, 0, 1};

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        npy_array a;

        read_ok(write_npy("t.npy", 1, dict_for(cases[i].descr, "(2,)"), data, 2 * cases[i].size),
                &a);
        ck_assert_str_eq(a.type_name, cases[i].name);
        ck_assert_str_eq(a.descr, cases[i].descr);
        ck_assert_uint_eq(a.itemsize, cases[i].size);
        ck_assert_int_eq(a.has_dtype != 0, cases[i].has);
        ck_assert_int_eq(a.dtype, cases[i].dtype);
        ck_assert_uint_eq(a.count, 2);
        npy_free(&a);
    }
}
END_TEST

START_TEST(test_header_variants)
{
    const float v[6] = {1, 2, 3, 4, 5, 6};
    npy_array a;

    /* Any key order and spacing, Python 2's long suffix, a tuple's trailing comma, tabs. */
    read_ok(write_npy("k.npy", 1, "  {'shape':(2L,3L,),\t'fortran_order' : False,'descr':'<f4'}", v,
                      sizeof v),
            &a);
    ck_assert_uint_eq(a.ndim, 2);
    ck_assert_uint_eq(a.shape[0], 2);
    ck_assert_uint_eq(a.shape[1], 3);
    npy_free(&a);

    /* Rank 8 is the most clmse describes. */
    read_ok(write_npy("r8.npy", 1, dict_for("<f4", "(1, 1, 1, 2, 1, 1, 3, 1)"), v, sizeof v), &a);
    ck_assert_uint_eq(a.ndim, 8);
    ck_assert_uint_eq(a.count, 6);
    ck_assert_uint_eq(a.shape[6], 3);
    npy_free(&a);
}
END_TEST

START_TEST(test_trailing_bytes_tolerated)
{
    const float v[3] = {1, 2, 3};
    unsigned char buf[MAX_FILE];
    size_t n = build_npy(buf, 1, dict_for("<f4", "(2,)"), v, sizeof v); /* one float extra */
    npy_array a;

    th_write_file(path_of("tr.npy"), buf, n);
    read_ok(path_of("tr.npy"), &a);
    ck_assert_int_eq(a.trailing, 1);
    ck_assert_uint_eq(a.count, 2);
    ck_assert_mem_eq(a.data, v, 2 * sizeof v[0]);
    npy_free(&a);
}
END_TEST

/* ---- errors -------------------------------------------------------------------------------- */

START_TEST(test_open_errors)
{
    read_fails(path_of("does-not-exist.npy"), NPY_ERR_OPEN);
    read_fails(g_dir, NPY_ERR_OPEN); /* a directory */
    ck_assert_int_eq(npy_read(NULL, NULL, NULL, 0), NPY_ERR_ARGUMENT);
}
END_TEST

START_TEST(test_preamble_errors)
{
    unsigned char buf[MAX_FILE];
    size_t n;

    WRITE_LITERAL("empty.npy", "");
    read_fails(path_of("empty.npy"), NPY_ERR_MAGIC);
    WRITE_LITERAL("zip.npy", "PK\x03\x04 not numpy at all");
    read_fails(path_of("zip.npy"), NPY_ERR_MAGIC);
    WRITE_LITERAL("text.npy", "1.0 2.0\n");
    read_fails(path_of("text.npy"), NPY_ERR_MAGIC);
    WRITE_LITERAL("short.npy", "\x93NUM");
    read_fails(path_of("short.npy"), NPY_ERR_TRUNCATED_HEADER);
    WRITE_LITERAL("short2.npy", "\x93NUMPY\x01");
    read_fails(path_of("short2.npy"), NPY_ERR_TRUNCATED_HEADER);
    WRITE_LITERAL("nolen.npy", "\x93NUMPY\x01\x00\x76");
    read_fails(path_of("nolen.npy"), NPY_ERR_TRUNCATED_HEADER);
    WRITE_LITERAL("nolen2.npy", "\x93NUMPY\x02\x00\x76\x00");
    read_fails(path_of("nolen2.npy"), NPY_ERR_TRUNCATED_HEADER);

    n = build_npy(buf, 1, dict_for("<f4", "()"), "abcd", 4);
    buf[6] = 4;
    th_write_file(path_of("v4.npy"), buf, n);
    read_fails(path_of("v4.npy"), NPY_ERR_VERSION);
    buf[6] = 1;
    buf[7] = 1;
    th_write_file(path_of("v11.npy"), buf, n);
    read_fails(path_of("v11.npy"), NPY_ERR_VERSION);
    buf[6] = 0;
    buf[7] = 0;
    th_write_file(path_of("v0.npy"), buf, n);
    read_fails(path_of("v0.npy"), NPY_ERR_VERSION);
}
END_TEST

START_TEST(test_truncated_header)
{
    unsigned char buf[MAX_FILE];
    size_t n = build_npy(buf, 1, dict_for("<f4", "(3,)"), NULL, 0);

    /* Cut the file inside the header that its length field announces. */
    th_write_file(path_of("th.npy"), buf, 40);
    read_fails(path_of("th.npy"), NPY_ERR_TRUNCATED_HEADER);
    th_write_file(path_of("th2.npy"), buf, n - 1);
    read_fails(path_of("th2.npy"), NPY_ERR_TRUNCATED_HEADER);

    /* A 2.0 length beyond the reader's limit is refused before anything is allocated. */
    n = build_npy(buf, 2, dict_for("<f4", "(3,)"), NULL, 0);
    buf[8] = 0;
    buf[9] = 0;
    buf[10] = 0;
    buf[11] = 0x40; /* 1 GiB */
    th_write_file(path_of("huge.npy"), buf, n);
    read_fails(path_of("huge.npy"), NPY_ERR_HEADER);
}
END_TEST

START_TEST(test_malformed_dict)
{
    static const struct {
        const char *dict;
        npy_status want;
    } cases[] = {
        {"[1, 2, 3]", NPY_ERR_HEADER},
        {"", NPY_ERR_HEADER},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,)", NPY_ERR_HEADER},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,)} junk", NPY_ERR_HEADER},
        {"{'descr': '<f4' 'fortran_order': False, 'shape': (3,)}", NPY_ERR_HEADER},
        {"{'descr' '<f4', 'fortran_order': False, 'shape': (3,)}", NPY_ERR_HEADER},
        {"{descr: '<f4', 'fortran_order': False, 'shape': (3,)}", NPY_ERR_HEADER},
        {"{'descr': '<f4}", NPY_ERR_HEADER}, /* unterminated string */
        {"{'descr': '<\\x66', 'fortran_order': False, 'shape': (3,)}", NPY_ERR_HEADER},
        {"{'descr': 4, 'fortran_order': False, 'shape': (3,)}", NPY_ERR_HEADER},
        {"{'descr': '<f4', 'fortran_order': 0, 'shape': (3,)}", NPY_ERR_HEADER},
        {"{'descr': '<f4', 'fortran_order': Falsey, 'shape': (3,)}", NPY_ERR_HEADER},
        {"{'descr': '<f4', 'fortran_order': false, 'shape': (3,)}", NPY_ERR_HEADER},
        /* keys */
        {"{'descr': '<f4', 'fortran_order': False}", NPY_ERR_KEYS},
        {"{'fortran_order': False, 'shape': (3,)}", NPY_ERR_KEYS},
        {"{'descr': '<f4', 'shape': (3,)}", NPY_ERR_KEYS},
        {"{}", NPY_ERR_KEYS},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", NPY_ERR_KEYS},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1}", NPY_ERR_KEYS},
        /* shape */
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3)}", NPY_ERR_SHAPE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': 3}", NPY_ERR_SHAPE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [3]}", NPY_ERR_SHAPE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", NPY_ERR_SHAPE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (a,)}", NPY_ERR_SHAPE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,,)}", NPY_ERR_SHAPE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (,)}", NPY_ERR_SHAPE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}", NPY_ERR_SHAPE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,)}", NPY_ERR_SHAPE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,", NPY_ERR_SHAPE},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", NPY_ERR_RANK},
        /* descr */
        {"{'descr': '<x4', 'fortran_order': False, 'shape': (3,)}", NPY_ERR_DESCR},
        {"{'descr': '<f3', 'fortran_order': False, 'shape': (3,)}", NPY_ERR_DESCR},
        {"{'descr': '<f', 'fortran_order': False, 'shape': (3,)}", NPY_ERR_DESCR},
        {"{'descr': '<', 'fortran_order': False, 'shape': (3,)}", NPY_ERR_DESCR},
        {"{'descr': '', 'fortran_order': False, 'shape': (3,)}", NPY_ERR_DESCR},
        {"{'descr': '<f4444', 'fortran_order': False, 'shape': (3,)}", NPY_ERR_DESCR},
        {"{'descr': 'float32', 'fortran_order': False, 'shape': (3,)}", NPY_ERR_DESCR},
        {"{'descr': '<f4 ', 'fortran_order': False, 'shape': (3,)}", NPY_ERR_DESCR},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,)}", NPY_ERR_DESCR},
        {"{'descr': '|O', 'fortran_order': False, 'shape': (3,)}", NPY_ERR_OBJECT},
        {"{'descr': '|O8', 'fortran_order': False, 'shape': (3,)}", NPY_ERR_OBJECT},
        {"{'descr': '<U3', 'fortran_order': False, 'shape': (3,)}", NPY_ERR_DTYPE},
        {"{'descr': '|S5', 'fortran_order': False, 'shape': (3,)}", NPY_ERR_DTYPE},
        {"{'descr': '|V8', 'fortran_order': False, 'shape': (3,)}", NPY_ERR_DTYPE},
        {"{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (3,)}", NPY_ERR_DTYPE},
    };
    unsigned char data[256] = {0};

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[ERR_LEN] = "";
        npy_array a;
        npy_status st;
        const char *path = write_npy("bad.npy", 1, cases[i].dict, data, sizeof data);

        st = npy_read(path, &a, err, sizeof err);
        ck_assert_msg(st == cases[i].want, "case %zu \"%s\": status %d, want %d (%s)", i,
                      cases[i].dict, (int)st, (int)cases[i].want, err);
        ck_assert_msg(err[0] != '\0', "case %zu: no message", i);
        ck_assert_ptr_null(a.data);
    }
}
END_TEST

START_TEST(test_truncated_data)
{
    const float v[3] = {1, 2, 3};
    char err[ERR_LEN] = "";
    npy_array a;

    write_npy("td.npy", 1, dict_for("<f4", "(3,)"), v, 8);
    read_fails(path_of("td.npy"), NPY_ERR_TRUNCATED_DATA);
    ck_assert_int_eq(npy_read(path_of("td.npy"), &a, err, sizeof err), NPY_ERR_TRUNCATED_DATA);
    ck_assert_msg(strstr(err, "12 bytes") && strstr(err, "holds 8"), "message: %s", err);

    write_npy("td0.npy", 1, dict_for("<f8", "()"), NULL, 0);
    read_fails(path_of("td0.npy"), NPY_ERR_TRUNCATED_DATA);

    /* A huge claimed shape is refused from the file size, not by trying to allocate it. */
    write_npy("td1.npy", 1, dict_for("<f8", "(1000000000, 1000000000)"), v, sizeof v);
    read_fails(path_of("td1.npy"), NPY_ERR_TRUNCATED_DATA);
}
END_TEST

START_TEST(test_overflow)
{
    char shape[128];

    snprintf(shape, sizeof shape, "(%zu, 2)", (size_t)SIZE_MAX);
    write_npy("o1.npy", 1, dict_for("<f4", shape), NULL, 0);
    read_fails(path_of("o1.npy"), NPY_ERR_OVERFLOW);

    /* Elements fit, bytes do not. */
    snprintf(shape, sizeof shape, "(%zu,)", (size_t)SIZE_MAX / 2 + 1);
    write_npy("o2.npy", 1, dict_for("<f4", shape), NULL, 0);
    read_fails(path_of("o2.npy"), NPY_ERR_OVERFLOW);

    write_npy("o3.npy", 1, dict_for("<f4", "(123456789012345678901234567890,)"), NULL, 0);
    read_fails(path_of("o3.npy"), NPY_ERR_OVERFLOW);
}
END_TEST

/* ---- writer -------------------------------------------------------------------------------- */

static void fill_array(npy_array *a, clmse_dtype dtype, uint32_t ndim, const size_t *shape,
                       void *data)
{
    npy_init(a);
    a->dtype = dtype;
    a->has_dtype = 1;
    a->itemsize = dtype == CLMSE_DTYPE_F16 ? 2 : dtype == CLMSE_DTYPE_F32 ? 4 : 8;
    a->ndim = ndim;
    a->count = 1;
    for (uint32_t i = 0; i < ndim; i++) {
        a->shape[i] = shape[i];
        a->count *= shape[i];
    }
    a->data = a->count ? data : NULL;
}

START_TEST(test_round_trip)
{
    static const size_t shapes[][3] = {{0}, {5}, {2, 3}, {0}, {2, 0, 3}, {1, 1, 6}};
    static const uint32_t ranks[] = {0, 1, 2, 1, 3, 3};
    static const clmse_dtype dtypes[] = {CLMSE_DTYPE_F16, CLMSE_DTYPE_F32, CLMSE_DTYPE_F64};
    unsigned char data[6 * 8];

    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 37 + 11);
    for (size_t t = 0; t < 3; t++)
        for (size_t s = 0; s < sizeof ranks / sizeof ranks[0]; s++)
            for (int fortran = 0; fortran < 2; fortran++) {
                char err[ERR_LEN] = "";
                npy_array w, r;
                npy_status st;

                fill_array(&w, dtypes[t], ranks[s], shapes[s], data);
                w.fortran_order = fortran;
                st = npy_write_atomic(path_of("rt.npy"), &w, err, sizeof err);
                ck_assert_msg(st == NPY_OK, "write: %s", err);
                read_ok(path_of("rt.npy"), &r);
                ck_assert_int_eq(r.dtype, dtypes[t]);
                ck_assert_int_eq(r.fortran_order, fortran);
                ck_assert_uint_eq(r.version, 1);
                ck_assert_uint_eq(r.ndim, ranks[s]);
                ck_assert_uint_eq(r.count, w.count);
                ck_assert_int_eq(r.trailing, 0);
                for (uint32_t k = 0; k < r.ndim; k++)
                    ck_assert_uint_eq(r.shape[k], shapes[s][k]);
                if (w.count)
                    ck_assert_mem_eq(r.data, data, w.count * w.itemsize);
                npy_free(&r);
            }
}
END_TEST

START_TEST(test_header_layout)
{
    static const struct {
        clmse_dtype dtype;
        uint32_t ndim;
        size_t shape[2];
        const char *dict;
    } cases[] = {
        {CLMSE_DTYPE_F32, 1, {3}, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"},
        {CLMSE_DTYPE_F64, 0, {0}, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }"},
        {CLMSE_DTYPE_F16, 2, {2, 3}, "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }"},
    };
    unsigned char data[48] = {0}, buf[MAX_FILE];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[ERR_LEN] = "";
        npy_array w;
        size_t n, header_len, dict_len = strlen(cases[i].dict);

        fill_array(&w, cases[i].dtype, cases[i].ndim, cases[i].shape, data);
        ck_assert_int_eq(npy_write_atomic(path_of("h.npy"), &w, err, sizeof err), NPY_OK);
        n = read_bytes(path_of("h.npy"), buf, sizeof buf);
        ck_assert_mem_eq(buf, "\x93NUMPY\x01\x00", 8);
        header_len = (size_t)buf[8] | (size_t)buf[9] << 8;
        ck_assert_uint_eq((10 + header_len) % 64, 0);
        ck_assert_uint_eq(n, 10 + header_len + w.count * w.itemsize);
        ck_assert_mem_eq(buf + 10, cases[i].dict, dict_len);
        for (size_t k = 10 + dict_len; k < 10 + header_len - 1; k++)
            ck_assert_int_eq(buf[k], ' ');
        ck_assert_int_eq(buf[10 + header_len - 1], '\n');
    }
}
END_TEST

START_TEST(test_atomic_write)
{
    const float v[2] = {1.5f, -2.5f}, old[1] = {7.0f};
    const size_t shape[1] = {2};
    char err[ERR_LEN] = "", tmp[1024], out[512];
    npy_array w, r;

    fill_array(&w, CLMSE_DTYPE_F32, 1, shape, (void *)v);
    /* A missing directory: an error naming the temporary file, and nothing left behind. */
    ck_assert_int_eq(npy_write_atomic(path_of("no-such-dir/x.npy"), &w, err, sizeof err),
                     NPY_ERR_OPEN);
    ck_assert_ptr_nonnull(strstr(err, "no-such-dir"));

    /* The old file survives a written but uncommitted temporary file, and its discard. */
    snprintf(out, sizeof out, "%s", path_of("a.npy"));
    write_npy("a.npy", 1, dict_for("<f4", "(1,)"), old, sizeof old);
    ck_assert_int_eq(npy_write_temp(out, &w, tmp, sizeof tmp, err, sizeof err), NPY_OK);
    ck_assert_msg(strncmp(tmp, out, strlen(out)) == 0 && strstr(tmp, ".tmp."), "tmp %s", tmp);
    ck_assert_int_ne(exists(tmp), 0);
    read_ok(out, &r);
    ck_assert_uint_eq(r.count, 1);
    npy_free(&r);
    npy_discard(tmp);
    ck_assert_int_eq(exists(tmp), 0);
    read_ok(out, &r);
    ck_assert_uint_eq(r.count, 1);
    npy_free(&r);

    /* Commit replaces it; the temporary name is gone. */
    ck_assert_int_eq(npy_write_temp(out, &w, tmp, sizeof tmp, err, sizeof err), NPY_OK);
    ck_assert_int_eq(npy_commit(tmp, out, err, sizeof err), NPY_OK);
    ck_assert_int_eq(exists(tmp), 0);
    read_ok(out, &r);
    ck_assert_uint_eq(r.count, 2);
    ck_assert_mem_eq(r.data, v, sizeof v);
    npy_free(&r);
    npy_discard("");
    npy_discard(NULL);
}
END_TEST

START_TEST(test_writer_refuses)
{
    const int32_t iv[2] = {1, 2};
    const size_t shape[1] = {2};
    char err[ERR_LEN] = "";
    npy_array w;

    fill_array(&w, CLMSE_DTYPE_F32, 1, shape, (void *)iv);
    w.dtype = CLMSE_DTYPE_I32;
    ck_assert_int_eq(npy_write_atomic(path_of("i.npy"), &w, err, sizeof err), NPY_ERR_ARGUMENT);
    w.dtype = CLMSE_DTYPE_F32;
    w.count = 3; /* does not match the shape */
    ck_assert_int_eq(npy_write_atomic(path_of("i.npy"), &w, err, sizeof err), NPY_ERR_ARGUMENT);
    w.count = 2;
    w.data = NULL;
    ck_assert_int_eq(npy_write_atomic(path_of("i.npy"), &w, err, sizeof err), NPY_ERR_ARGUMENT);
    ck_assert_int_eq(exists(path_of("i.npy")), 0);
    ck_assert_int_eq(npy_write_atomic(NULL, &w, err, sizeof err), NPY_ERR_ARGUMENT);
}
END_TEST

/* The stream entry points (the fuzzer's): an image in memory read with its size known and
 * unknown (a pipe's case), whole and one byte short. */
START_TEST(test_streams)
{
    const double v[3] = {1.0, -0.0, 2.5};
    const size_t shape[1] = {3};
    char err[ERR_LEN] = "", *buf = NULL;
    size_t len = 0;
    npy_array w, r;
    npy_status st;
    FILE *f;

    fill_array(&w, CLMSE_DTYPE_F64, 1, shape, (void *)v);
    f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(npy_write_stream(f, &w, err, sizeof err), NPY_OK);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_uint_eq(len, 128 + sizeof v); /* the 69-byte preamble and dict pad to 128 */
    for (int known = 0; known < 2; known++)
        for (size_t cut = 0; cut < 2; cut++) {
            const size_t n = len - cut;

            f = fmemopen(buf, n, "rb");
            ck_assert_ptr_nonnull(f);
            st = npy_read_stream(f, known ? (uintmax_t)n : NPY_SIZE_UNKNOWN, &r, err, sizeof err);
            fclose(f);
            if (cut) {
                ck_assert_msg(st == NPY_ERR_TRUNCATED_DATA, "known %d: %d %s", known, st, err);
                ck_assert_ptr_null(r.data);
                continue;
            }
            ck_assert_msg(st == NPY_OK, "known %d: %s", known, err);
            ck_assert_uint_eq(r.count, 3);
            ck_assert_int_eq(r.trailing, 0);
            ck_assert_mem_eq(r.data, v, sizeof v);
            npy_free(&r);
        }
    ck_assert_int_eq(npy_read_stream(NULL, 0, &r, NULL, 0), NPY_ERR_ARGUMENT);
    ck_assert_int_eq(npy_write_stream(NULL, &w, NULL, 0), NPY_ERR_ARGUMENT);
    free(buf);
}
END_TEST

/* Regression (fuzz/fuzz_npy.c): the reader takes an empty array whose other sizes multiply
 * past SIZE_MAX, so the writer must too, wherever the 0 is; it used to refuse (2^40, 2^40, 0). */
START_TEST(test_write_empty_huge)
{
    static const size_t shapes[][3] = {{(size_t)1 << 40, (size_t)1 << 40, 0},
                                       {0, (size_t)1 << 40, (size_t)1 << 40},
                                       {(size_t)1 << 40, 0, (size_t)1 << 40}};
    char err[ERR_LEN] = "";
    npy_array w, r;

    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        fill_array(&w, CLMSE_DTYPE_F32, 3, shapes[i], NULL);
        ck_assert_msg(npy_write_atomic(path_of("eh.npy"), &w, err, sizeof err) == NPY_OK,
                      "shape %zu: %s", i, err);
        read_ok(path_of("eh.npy"), &r);
        ck_assert_uint_eq(r.count, 0);
        ck_assert_ptr_null(r.data);
        ck_assert_mem_eq(r.shape, shapes[i], sizeof shapes[i]);
        npy_free(&r);
    }
}
END_TEST

START_TEST(test_format_shape)
{
    const size_t s[8] = {2, 3, 4, 5, 6, 7, 8, 9};
    char buf[64];

    npy_format_shape(buf, sizeof buf, 0, s);
    ck_assert_str_eq(buf, "()");
    npy_format_shape(buf, sizeof buf, 1, s);
    ck_assert_str_eq(buf, "(2,)");
    npy_format_shape(buf, sizeof buf, 2, s);
    ck_assert_str_eq(buf, "(2, 3)");
    npy_format_shape(buf, sizeof buf, 8, s);
    ck_assert_str_eq(buf, "(2, 3, 4, 5, 6, 7, 8, 9)");
    npy_format_shape(buf, 6, 8, s); /* truncated, still terminated */
    ck_assert_uint_lt(strlen(buf), 6);
}
END_TEST

/* ---- float16 ------------------------------------------------------------------------------- */

static double bits_to_double(uint64_t b)
{
    double d;

    memcpy(&d, &b, sizeof d);
    return d;
}

static uint64_t double_bits(double d)
{
    uint64_t b;

    memcpy(&b, &d, sizeof b);
    return b;
}

START_TEST(test_half_values)
{
    ck_assert_uint_eq(npy_double_to_half(0.0), 0x0000);
    ck_assert_uint_eq(npy_double_to_half(-0.0), 0x8000);
    ck_assert_uint_eq(npy_double_to_half(1.0), 0x3c00);
    ck_assert_uint_eq(npy_double_to_half(-2.0), 0xc000);
    ck_assert_uint_eq(npy_double_to_half(65504.0), 0x7bff);
    ck_assert_uint_eq(npy_double_to_half(65519.99), 0x7bff);
    ck_assert_uint_eq(npy_double_to_half(65520.0), 0x7c00); /* tie rounds to even: infinity */
    ck_assert_uint_eq(npy_double_to_half(1e300), 0x7c00);
    ck_assert_uint_eq(npy_double_to_half(-1e300), 0xfc00);
    ck_assert_uint_eq(npy_double_to_half(bits_to_double(UINT64_C(0x7ff0000000000000))), 0x7c00);
    ck_assert_uint_eq(npy_double_to_half(0x1p-24), 0x0001);
    ck_assert_uint_eq(npy_double_to_half(0x1p-25), 0x0000); /* tie to even: 0 */
    ck_assert_uint_eq(npy_double_to_half(0x1.0000000000001p-25), 0x0001);
    ck_assert_uint_eq(npy_double_to_half(0x3p-25), 0x0002);     /* 1.5 units: to 2 */
    ck_assert_uint_eq(npy_double_to_half(0x1.ffcp-15), 0x0400); /* 1023.5 units: to normal */
    ck_assert_uint_eq(npy_double_to_half(1.0 + 0x1p-11), 0x3c00);
    ck_assert_uint_eq(npy_double_to_half(1.0 + 0x3p-11), 0x3c02);
    ck_assert_uint_eq(npy_double_to_half(1e-300), 0x0000);
    ck_assert_uint_eq(npy_double_to_half(bits_to_double(1)), 0x0000); /* double subnormal */
    ck_assert_uint_eq(npy_double_to_half(0.1), 0x2e66);
    ck_assert(npy_half_to_double(0x7c00) > 1e308);
    ck_assert(npy_half_to_double(0x0001) == 0x1p-24);
    ck_assert(npy_half_to_double(0x8001) == -0x1p-24);
    ck_assert(npy_half_to_double(0x3555) == 0x1.554p-2);
    {
        double nan = npy_half_to_double(0x7e00);
        uint16_t back = npy_double_to_half(nan);

        ck_assert(nan != nan);
        ck_assert_uint_eq(back & 0x7c00u, 0x7c00u);
        ck_assert_uint_ne(back & 0x3ffu, 0);
        back = npy_double_to_half(bits_to_double(UINT64_C(0xfff0000000000001))); /* tiny payload */
        ck_assert_uint_eq(back & 0xfc00u, 0xfc00u);
        ck_assert_uint_ne(back & 0x3ffu, 0);
    }
}
END_TEST

/* Every finite half round-trips through double, and every midpoint between neighbours rounds
 * to the even one while its neighbouring doubles round to the nearer half. */
START_TEST(test_half_exhaustive)
{
    for (uint32_t h = 0; h < 0x10000u; h++) {
        double d = npy_half_to_double((uint16_t)h);

        if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu)) {
            ck_assert(d != d);
            continue;
        }
        ck_assert_msg(npy_double_to_half(d) == h, "0x%04x -> %a -> 0x%04x", (unsigned)h, d,
                      (unsigned)npy_double_to_half(d));
    }
    for (uint32_t h = 0; h < 0x7bffu; h++) {
        double lo = npy_half_to_double((uint16_t)h), hi = npy_half_to_double((uint16_t)(h + 1));
        double mid = (lo + hi) / 2; /* exact in double */
        uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;

        ck_assert_uint_eq(npy_double_to_half(mid), even);
        ck_assert_uint_eq(npy_double_to_half(bits_to_double(double_bits(mid) - 1)), h);
        ck_assert_uint_eq(npy_double_to_half(bits_to_double(double_bits(mid) + 1)), h + 1);
        ck_assert_uint_eq(npy_double_to_half(-mid), even | 0x8000u);
    }
}
END_TEST

START_TEST(test_convert)
{
    const uint16_t h[3] = {0x3c00, 0x3555, 0xfbff};
    const double d[3] = {0.1, -65520.0, 0x1p-25};
    const size_t shape[1] = {3};
    char err[ERR_LEN] = "";
    npy_array src, dst;

    fill_array(&src, CLMSE_DTYPE_F16, 1, shape, (void *)h);
    src.fortran_order = 1;
    ck_assert_int_eq(npy_convert(&src, CLMSE_DTYPE_F32, &dst, err, sizeof err), NPY_OK);
    ck_assert_int_eq(dst.dtype, CLMSE_DTYPE_F32);
    ck_assert_uint_eq(dst.itemsize, 4);
    ck_assert_int_eq(dst.fortran_order, 1);
    ck_assert_str_eq(dst.type_name, "float32");
    ck_assert_float_eq(((float *)dst.data)[0], 1.0f);
    ck_assert_float_eq(((float *)dst.data)[1], 0x1.554p-2f);
    ck_assert_float_eq(((float *)dst.data)[2], -65504.0f);
    npy_free(&dst);

    fill_array(&src, CLMSE_DTYPE_F64, 1, shape, (void *)d);
    ck_assert_int_eq(npy_convert(&src, CLMSE_DTYPE_F16, &dst, err, sizeof err), NPY_OK);
    ck_assert_uint_eq(((uint16_t *)dst.data)[0], 0x2e66);
    ck_assert_uint_eq(((uint16_t *)dst.data)[1], 0xfc00);
    ck_assert_uint_eq(((uint16_t *)dst.data)[2], 0x0000);
    npy_free(&dst);
    ck_assert_int_eq(npy_convert(&src, CLMSE_DTYPE_F32, &dst, err, sizeof err), NPY_OK);
    ck_assert_float_eq(((float *)dst.data)[0], 0.1f);
    npy_free(&dst);

    src.dtype = CLMSE_DTYPE_I32;
    ck_assert_int_eq(npy_convert(&src, CLMSE_DTYPE_F32, &dst, err, sizeof err), NPY_ERR_ARGUMENT);
    ck_assert_ptr_null(dst.data);
}
END_TEST

Suite *make_npy_suite(void)
{
    Suite *s = suite_create("npy");
    TCase *core = tcase_create("core"), *errors = tcase_create("errors");
    TCase *write = tcase_create("write"), *half = tcase_create("float16");

    tcase_add_unchecked_fixture(core, make_dir, remove_dir);
    tcase_add_test(core, test_v1_c_order_f4);
    tcase_add_test(core, test_v2_v3_headers);
    tcase_add_test(core, test_fortran_order);
    tcase_add_test(core, test_scalar_and_empty);
    tcase_add_test(core, test_big_endian);
    tcase_add_test(core, test_other_dtypes_recognised);
    tcase_add_test(core, test_header_variants);
    tcase_add_test(core, test_trailing_bytes_tolerated);
    suite_add_tcase(s, core);

    tcase_add_unchecked_fixture(errors, make_dir, remove_dir);
    tcase_add_test(errors, test_open_errors);
    tcase_add_test(errors, test_preamble_errors);
    tcase_add_test(errors, test_truncated_header);
    tcase_add_test(errors, test_malformed_dict);
    tcase_add_test(errors, test_truncated_data);
    tcase_add_test(errors, test_overflow);
    suite_add_tcase(s, errors);

    tcase_add_unchecked_fixture(write, make_dir, remove_dir);
    tcase_add_test(write, test_round_trip);
    tcase_add_test(write, test_header_layout);
    tcase_add_test(write, test_atomic_write);
    tcase_add_test(write, test_writer_refuses);
    tcase_add_test(write, test_streams);
    tcase_add_test(write, test_write_empty_huge);
    tcase_add_test(write, test_format_shape);
    suite_add_tcase(s, write);

    tcase_add_test(half, test_half_values);
    tcase_add_test(half, test_half_exhaustive);
    tcase_add_test(half, test_convert);
    suite_add_tcase(s, half);
    return s;
}
