/* SPDX-License-Identifier: MIT */
/* NumPy .npy reader (format 1.0-3.0) and atomic writer for the clmse tool; see npy.h. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* fileno, fstat, open, fsync, getpid under strict -std=c11 */
#endif

#include "npy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#if defined(__GNUC__) || defined(__clang__)
#define NPY_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define NPY_PRINTF(fmt, args)
#endif

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64              /* NumPy pads headers so that the data start 64-aligned */
#define NPY_MAX_HEADER (1u << 20) /* a rank-8 float header needs ~250 bytes */
#define NPY_TMP_ATTEMPTS 100
#define NPY_WRITE_CHUNK 4096 /* elements byte-swapped at a time on big-endian hosts */

static npy_status fail(char *err, size_t errlen, npy_status st, const char *fmt, ...)
    NPY_PRINTF(4, 5);

static npy_status fail(char *err, size_t errlen, npy_status st, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

static int host_is_little(void)
{
    const uint16_t one = 1;
    unsigned char first;

    memcpy(&first, &one, 1);
    return first == 1;
}

/* Reverses the byte order of `count` units of `unit` bytes each. */
static void swap_units(unsigned char *p, size_t count, size_t unit)
{
    for (size_t i = 0; i < count; i++, p += unit)
        for (size_t lo = 0, hi = unit - 1; lo < hi; lo++, hi--) {
            unsigned char t = p[lo];

            p[lo] = p[hi];
            p[hi] = t;
        }
}

void npy_init(npy_array *a)
{
    if (a)
        memset(a, 0, sizeof *a);
}

void npy_free(npy_array *a)
{
    if (!a)
        return;
    free(a->data);
    npy_init(a);
}

/* ---- shape formatting -------------------------------------------------------------------- */

void npy_format_shape(char *buf, size_t len, uint32_t ndim, const size_t *shape)
{
    size_t used = 0;

    if (!buf || len == 0)
        return;
    buf[0] = '\0';
#define NPY_APPEND_(...)                                        \
    do {                                                        \
        int n_ = snprintf(buf + used, len - used, __VA_ARGS__); \
        if (n_ < 0 || (size_t)n_ >= len - used)                 \
            return; /* truncated: buf holds what fitted */      \
        used += (size_t)n_;                                     \
    } while (0)
    NPY_APPEND_("(");
    for (uint32_t i = 0; i < ndim; i++)
        NPY_APPEND_("%s%zu", i ? ", " : "", shape[i]);
    if (ndim == 1)
        NPY_APPEND_(",");
    NPY_APPEND_(")");
#undef NPY_APPEND_
}

/* ---- dtype descriptors ------------------------------------------------------------------- */

typedef struct type_entry {
    char kind;
    size_t size;
    const char *name;
    int has_dtype;
    clmse_dtype dtype;
} type_entry;

static const type_entry k_types[] = {
    {'b', 1, "bool", 1, CLMSE_DTYPE_BOOL},      {'i', 1, "int8", 1, CLMSE_DTYPE_I8},
    {'i', 2, "int16", 1, CLMSE_DTYPE_I16},      {'i', 4, "int32", 1, CLMSE_DTYPE_I32},
    {'i', 8, "int64", 1, CLMSE_DTYPE_I64},      {'u', 1, "uint8", 1, CLMSE_DTYPE_U8},
    {'u', 2, "uint16", 0, NPY_DTYPE_NONE},      {'u', 4, "uint32", 0, NPY_DTYPE_NONE},
    {'u', 8, "uint64", 0, NPY_DTYPE_NONE},      {'f', 2, "float16", 1, CLMSE_DTYPE_F16},
    {'f', 4, "float32", 1, CLMSE_DTYPE_F32},    {'f', 8, "float64", 1, CLMSE_DTYPE_F64},
    {'f', 12, "float96", 0, NPY_DTYPE_NONE},    {'f', 16, "float128", 0, NPY_DTYPE_NONE},
    {'c', 8, "complex64", 1, CLMSE_DTYPE_C64},  {'c', 16, "complex128", 1, CLMSE_DTYPE_C128},
    {'c', 24, "complex192", 0, NPY_DTYPE_NONE}, {'c', 32, "complex256", 0, NPY_DTYPE_NONE},
};

static const char *non_numeric_name(char kind)
{
    switch (kind) {
    case 'S':
    case 'a':
        return "bytes";
    case 'U':
        return "str";
    case 'V':
        return "void";
    case 'M':
        return "datetime64";
    case 'm':
        return "timedelta64";
    default:
        return NULL;
    }
}

/* Parses a descr such as "<f4", "|b1", ">i8" or "f8" (no order: native) into *a; *swap says
 * whether the data must be byte-swapped into host order. */
static npy_status parse_descr(const char *s, size_t len, npy_array *a, int *swap, char *err,
                              size_t errlen)
{
    size_t p = 0, size = 0;
    char order = '=', kind;
    const char *name;

    if (len == 0)
        return fail(err, errlen, NPY_ERR_DESCR, "the header's 'descr' is empty");
    if (len >= sizeof a->descr)
        return fail(err, errlen, NPY_ERR_DESCR, "unknown dtype descr '%.*s'",
                    (int)(len > 40 ? 40 : len), s);
    if (strchr("<>|=", s[0])) /* s[0] is never '\0': the header holds no NUL inside strings */
        order = s[p++];
    if (p >= len)
        return fail(err, errlen, NPY_ERR_DESCR, "unknown dtype descr '%.*s'", (int)len, s);
    kind = s[p++];
    if (kind == 'O')
        return fail(err, errlen, NPY_ERR_OBJECT,
                    "object arrays (descr '%.*s') are not supported: they hold pickled Python "
                    "objects",
                    (int)len, s);
    name = non_numeric_name(kind);
    if (name)
        return fail(err, errlen, NPY_ERR_DTYPE, "dtype %s (descr '%.*s') is not numeric", name,
                    (int)len, s);
    if (p >= len || len - p > 2)
        return fail(err, errlen, NPY_ERR_DESCR, "unknown dtype descr '%.*s'", (int)len, s);
    for (; p < len; p++) {
        if (s[p] < '0' || s[p] > '9')
            return fail(err, errlen, NPY_ERR_DESCR, "unknown dtype descr '%.*s'", (int)len, s);
        size = size * 10 + (size_t)(s[p] - '0');
    }
    for (size_t i = 0; i < sizeof k_types / sizeof k_types[0]; i++) {
        const type_entry *t = &k_types[i];

        if (t->kind != kind || t->size != size)
            continue;
        memcpy(a->descr, s, len);
        a->descr[len] = '\0';
        a->type_name = t->name;
        a->has_dtype = t->has_dtype;
        a->dtype = t->dtype;
        a->itemsize = size;
        *swap =
            size > 1 && ((order == '>' && host_is_little()) || (order == '<' && !host_is_little()));
        return NPY_OK;
    }
    return fail(err, errlen, NPY_ERR_DESCR, "unknown dtype descr '%.*s'", (int)len, s);
}

/* ---- header dict parser ------------------------------------------------------------------ */
/* The header is a Python literal: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * in any key order, with either quote, optional trailing commas, and the 'L' suffix that
 * Python 2 NumPy wrote after long integers. Nothing else is evaluated. */

typedef struct parser {
    const char *s;
    size_t n, i;
} parser;

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void skip_ws(parser *p)
{
    while (p->i < p->n && is_space(p->s[p->i]))
        p->i++;
}

static int peek(const parser *p) { return p->i < p->n ? (unsigned char)p->s[p->i] : -1; }

/* A quoted string without escapes; *str and *len point into the header. */
static int parse_string(parser *p, const char **str, size_t *len)
{
    char quote;
    size_t start;

    if (peek(p) != '\'' && peek(p) != '"')
        return 0;
    quote = p->s[p->i++];
    start = p->i;
    while (p->i < p->n && p->s[p->i] != quote) {
        if (p->s[p->i] == '\\' || p->s[p->i] == '\n' || p->s[p->i] == '\0')
            return 0;
        p->i++;
    }
    if (p->i >= p->n)
        return 0;
    *str = p->s + start;
    *len = p->i - start;
    p->i++;
    return 1;
}

static int match_word(parser *p, const char *word)
{
    size_t len = strlen(word);
    char next;

    if (p->n - p->i < len || memcmp(p->s + p->i, word, len) != 0)
        return 0;
    next = p->i + len < p->n ? p->s[p->i + len] : ' ';
    if ((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z') ||
        (next >= '0' && next <= '9') || next == '_')
        return 0;
    p->i += len;
    return 1;
}

static int shape_excerpt(const parser *p, size_t start)
{
    size_t end = p->i < p->n ? p->i + 1 : p->n;

    return (int)(end - start > 60 ? 60 : end - start);
}

static npy_status parse_shape(parser *p, npy_array *a, char *err, size_t errlen)
{
    size_t start = p->i;
    uint32_t ndim = 0;
    int comma = 0;

    /* The text of the shape up to and including the offending character, for messages. */
#define NPY_SHAPE_TEXT_ shape_excerpt(p, start), p->s + start
    if (peek(p) != '(')
        return fail(err, errlen, NPY_ERR_SHAPE, "the header's 'shape' is not a tuple");
    p->i++;
    for (;;) {
        size_t value = 0;

        skip_ws(p);
        if (peek(p) == ')') {
            p->i++;
            break;
        }
        if (peek(p) < '0' || peek(p) > '9')
            return fail(err, errlen, NPY_ERR_SHAPE,
                        "the header's 'shape' %.*s is not a tuple of non-negative integers",
                        NPY_SHAPE_TEXT_);
        while (peek(p) >= '0' && peek(p) <= '9') {
            size_t digit = (size_t)(p->s[p->i] - '0');

            if (value > (SIZE_MAX - digit) / 10)
                return fail(err, errlen, NPY_ERR_OVERFLOW,
                            "a dimension of the header's 'shape' does not fit in size_t");
            value = value * 10 + digit;
            p->i++;
        }
        if (peek(p) == 'L' || peek(p) == 'l')
            p->i++;
        if (ndim < CLMSE_MAX_NDIM)
            a->shape[ndim] = value;
        ndim++;
        skip_ws(p);
        if (peek(p) == ',') {
            p->i++;
            comma = 1;
        } else if (peek(p) == ')') {
            p->i++;
            comma = 0;
            break;
        } else {
            return fail(err, errlen, NPY_ERR_SHAPE, "the header's 'shape' %.*s is malformed",
                        NPY_SHAPE_TEXT_);
        }
    }
    if (ndim == 1 && !comma)
        return fail(err, errlen, NPY_ERR_SHAPE,
                    "the header's 'shape' %.*s is an integer in parentheses, not a tuple",
                    (int)(p->i - start), p->s + start);
#undef NPY_SHAPE_TEXT_
    if (ndim > CLMSE_MAX_NDIM)
        return fail(err, errlen, NPY_ERR_RANK, "rank %u exceeds the maximum of %d dimensions",
                    (unsigned)ndim, CLMSE_MAX_NDIM);
    a->ndim = ndim;
    return NPY_OK;
}

enum { KEY_DESCR = 1, KEY_FORTRAN = 2, KEY_SHAPE = 4 };

static npy_status parse_header(const char *s, size_t n, npy_array *a, int *swap, char *err,
                               size_t errlen)
{
    parser p = {s, n, 0};
    unsigned seen = 0;
    npy_status st;

    skip_ws(&p);
    if (peek(&p) != '{')
        return fail(err, errlen, NPY_ERR_HEADER, "the header is not a Python dict literal");
    p.i++;
    for (;;) {
        const char *key;
        size_t key_len;
        unsigned bit;

        skip_ws(&p);
        if (peek(&p) == '}')
            break;
        if (!parse_string(&p, &key, &key_len))
            return fail(err, errlen, NPY_ERR_HEADER,
                        "the header dict is malformed at byte %zu (expected a quoted key)", p.i);
        if (key_len == 5 && memcmp(key, "descr", 5) == 0)
            bit = KEY_DESCR;
        else if (key_len == 13 && memcmp(key, "fortran_order", 13) == 0)
            bit = KEY_FORTRAN;
        else if (key_len == 5 && memcmp(key, "shape", 5) == 0)
            bit = KEY_SHAPE;
        else
            return fail(err, errlen, NPY_ERR_KEYS, "the header has an unexpected key '%.*s'",
                        (int)(key_len > 40 ? 40 : key_len), key);
        if (seen & bit)
            return fail(err, errlen, NPY_ERR_KEYS, "the header has the key '%.*s' twice",
                        (int)key_len, key);
        seen |= bit;
        skip_ws(&p);
        if (peek(&p) != ':')
            return fail(err, errlen, NPY_ERR_HEADER,
                        "the header dict is malformed at byte %zu (expected ':')", p.i);
        p.i++;
        skip_ws(&p);
        if (bit == KEY_DESCR) {
            const char *d;
            size_t d_len;

            if (peek(&p) == '[')
                return fail(err, errlen, NPY_ERR_DESCR,
                            "structured dtypes (a list as 'descr') are not supported");
            if (!parse_string(&p, &d, &d_len))
                return fail(err, errlen, NPY_ERR_HEADER, "the header's 'descr' is not a string");
            if ((st = parse_descr(d, d_len, a, swap, err, errlen)) != NPY_OK)
                return st;
        } else if (bit == KEY_FORTRAN) {
            if (match_word(&p, "True"))
                a->fortran_order = 1;
            else if (match_word(&p, "False"))
                a->fortran_order = 0;
            else
                return fail(err, errlen, NPY_ERR_HEADER,
                            "the header's 'fortran_order' is not True or False");
        } else if ((st = parse_shape(&p, a, err, errlen)) != NPY_OK) {
            return st;
        }
        skip_ws(&p);
        if (peek(&p) == ',') {
            p.i++;
            continue;
        }
        if (peek(&p) != '}')
            return fail(err, errlen, NPY_ERR_HEADER,
                        "the header dict is malformed at byte %zu (expected ',' or '}')", p.i);
        break;
    }
    p.i++; /* the '}' */
    skip_ws(&p);
    if (p.i < p.n)
        return fail(err, errlen, NPY_ERR_HEADER,
                    "the header has unexpected text after its dict, at byte %zu", p.i);
    if (!(seen & KEY_DESCR))
        return fail(err, errlen, NPY_ERR_KEYS, "the header lacks the key 'descr'");
    if (!(seen & KEY_FORTRAN))
        return fail(err, errlen, NPY_ERR_KEYS, "the header lacks the key 'fortran_order'");
    if (!(seen & KEY_SHAPE))
        return fail(err, errlen, NPY_ERR_KEYS, "the header lacks the key 'shape'");
    return NPY_OK;
}

/* ---- reader ------------------------------------------------------------------------------ */

static npy_status read_error(FILE *f, char *err, size_t errlen, npy_status truncated,
                             const char *what)
{
    if (ferror(f))
        return fail(err, errlen, NPY_ERR_IO, "read failed: %s", strerror(errno));
    return fail(err, errlen, truncated, "%s", what);
}

npy_status npy_read(const char *path, npy_array *out, char *err, size_t errlen)
{
    FILE *f;
    struct stat sb;
    uintmax_t size = NPY_SIZE_UNKNOWN;
    npy_status st;

    npy_init(out);
    if (!path || !out)
        return fail(err, errlen, NPY_ERR_ARGUMENT, "npy_read: NULL argument");
    f = fopen(path, "rb");
    if (!f)
        return fail(err, errlen, NPY_ERR_OPEN, "cannot open: %s", strerror(errno));
    if (fstat(fileno(f), &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) {
            fclose(f);
            return fail(err, errlen, NPY_ERR_OPEN, "cannot read: it is a directory");
        }
        /* Knowing the size lets a lying header be refused before anything is allocated. */
        if (S_ISREG(sb.st_mode) && sb.st_size >= 0)
            size = (uintmax_t)sb.st_size;
    }
    st = npy_read_stream(f, size, out, err, errlen);
    fclose(f);
    return st;
}

npy_status npy_read_stream(FILE *f, uintmax_t size, npy_array *out, char *err, size_t errlen)
{
    npy_array a;
    char *header = NULL;
    unsigned char pre[12];
    const int have_size = size != NPY_SIZE_UNKNOWN;
    const uintmax_t file_size = have_size ? size : 0;
    uintmax_t data_offset;
    int swap = 0;
    size_t n, len_bytes, header_len, bytes = 0;
    char shape_text[256];
    npy_status st;

    npy_init(&a);
    npy_init(out);
    if (!f || !out)
        return fail(err, errlen, NPY_ERR_ARGUMENT, "npy_read_stream: NULL argument");

    n = fread(pre, 1, 8, f);
    if (n == 0 && !ferror(f)) {
        st = fail(err, errlen, NPY_ERR_MAGIC, "not a .npy file: it is empty");
        goto cleanup;
    }
    if (memcmp(pre, NPY_MAGIC, n < NPY_MAGIC_LEN ? n : NPY_MAGIC_LEN) != 0) {
        st = fail(err, errlen, NPY_ERR_MAGIC,
                  "not a .npy file (it does not start with "
                  "\\x93NUMPY)");
        goto cleanup;
    }
    if (n < 8) {
        st = read_error(f, err, errlen, NPY_ERR_TRUNCATED_HEADER,
                        "truncated .npy header: the file ends inside the format preamble");
        goto cleanup;
    }
    a.version = pre[6];
    if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0) {
        st = fail(err, errlen, NPY_ERR_VERSION,
                  "unsupported .npy format version %u.%u (1.0, 2.0 and 3.0 are read)",
                  (unsigned)pre[6], (unsigned)pre[7]);
        goto cleanup;
    }
    len_bytes = a.version == 1 ? 2 : 4;
    if (fread(pre + 8, 1, len_bytes, f) != len_bytes) {
        st = read_error(f, err, errlen, NPY_ERR_TRUNCATED_HEADER,
                        "truncated .npy header: the file ends inside the header length");
        goto cleanup;
    }
    if (len_bytes == 2) {
        header_len = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else {
        uint32_t v = (uint32_t)pre[8] | (uint32_t)pre[9] << 8 | (uint32_t)pre[10] << 16 |
                     (uint32_t)pre[11] << 24;

        if (v > NPY_MAX_HEADER) {
            st = fail(err, errlen, NPY_ERR_HEADER,
                      "the header length %lu exceeds the limit of %u bytes", (unsigned long)v,
                      NPY_MAX_HEADER);
            goto cleanup;
        }
        header_len = v;
    }
    data_offset = 8 + len_bytes + header_len;
    if (have_size && file_size < data_offset) {
        st = fail(err, errlen, NPY_ERR_TRUNCATED_HEADER,
                  "truncated .npy header: it claims %zu bytes but the file ends %ju bytes "
                  "into it",
                  header_len, file_size - (8 + len_bytes));
        goto cleanup;
    }
    header = malloc(header_len + 1);
    if (!header) {
        st = fail(err, errlen, NPY_ERR_NOMEM, "out of memory for a %zu-byte header", header_len);
        goto cleanup;
    }
    if (fread(header, 1, header_len, f) != header_len) {
        st = read_error(f, err, errlen, NPY_ERR_TRUNCATED_HEADER,
                        "truncated .npy header: the file ends inside the header");
        goto cleanup;
    }
    header[header_len] = '\0';
    if ((st = parse_header(header, header_len, &a, &swap, err, errlen)) != NPY_OK)
        goto cleanup;

    npy_format_shape(shape_text, sizeof shape_text, a.ndim, a.shape);
    a.count = 1;
    for (uint32_t i = 0; i < a.ndim; i++)
        if (a.shape[i] == 0)
            a.count = 0;
    for (uint32_t i = 0; i < a.ndim && a.count != 0; i++) {
        if (a.count > SIZE_MAX / a.shape[i]) {
            st = fail(err, errlen, NPY_ERR_OVERFLOW,
                      "shape %s has more elements than fit in size_t", shape_text);
            goto cleanup;
        }
        a.count *= a.shape[i];
    }
    if (a.count > SIZE_MAX / a.itemsize) {
        st = fail(err, errlen, NPY_ERR_OVERFLOW,
                  "shape %s of %s has more bytes than fit in "
                  "size_t",
                  shape_text, a.type_name);
        goto cleanup;
    }
    bytes = a.count * a.itemsize;
    if (have_size && file_size - data_offset < bytes) {
        st = fail(err, errlen, NPY_ERR_TRUNCATED_DATA,
                  "truncated data: shape %s of %s needs %zu bytes, the file holds %ju", shape_text,
                  a.type_name, bytes, file_size - data_offset);
        goto cleanup;
    }
    if (bytes > 0) {
        a.data = malloc(bytes);
        if (!a.data) {
            st = fail(err, errlen, NPY_ERR_NOMEM, "out of memory for %zu bytes of data", bytes);
            goto cleanup;
        }
        n = fread(a.data, 1, bytes, f);
        if (n != bytes) {
            if (ferror(f))
                st = fail(err, errlen, NPY_ERR_IO, "read failed: %s", strerror(errno));
            else
                st = fail(err, errlen, NPY_ERR_TRUNCATED_DATA,
                          "truncated data: shape %s of %s needs %zu bytes, the file holds %zu",
                          shape_text, a.type_name, bytes, n);
            goto cleanup;
        }
        if (swap) /* complex numbers are two floats, each swapped on its own */
            swap_units(a.data, a.type_name[0] == 'c' ? 2 * a.count : a.count,
                       a.type_name[0] == 'c' ? a.itemsize / 2 : a.itemsize);
    }
    /* Like NumPy, ignore anything after the data; note it for callers that care. */
    a.trailing = have_size ? file_size - data_offset > bytes : fgetc(f) != EOF;
    *out = a;
    npy_init(&a);
    st = NPY_OK;

cleanup:
    free(header);
    npy_free(&a);
    return st;
}

/* ---- writer ------------------------------------------------------------------------------ */

static const char *float_descr(clmse_dtype dtype, size_t *itemsize)
{
    switch (dtype) {
    case CLMSE_DTYPE_F16:
        *itemsize = 2;
        return "<f2";
    case CLMSE_DTYPE_F32:
        *itemsize = 4;
        return "<f4";
    case CLMSE_DTYPE_F64:
        *itemsize = 8;
        return "<f8";
    default:
        return NULL;
    }
}

/* Writes `count` elements little-endian, swapping through a small buffer on big-endian hosts. */
static int write_le(FILE *f, const void *data, size_t count, size_t itemsize)
{
    unsigned char chunk[NPY_WRITE_CHUNK * 8];
    const unsigned char *p = data;

    if (host_is_little())
        return fwrite(data, itemsize, count, f) == count;
    while (count > 0) {
        size_t k = count < NPY_WRITE_CHUNK ? count : NPY_WRITE_CHUNK;

        memcpy(chunk, p, k * itemsize);
        swap_units(chunk, k, itemsize);
        if (fwrite(chunk, itemsize, k, f) != k)
            return 0;
        p += k * itemsize;
        count -= k;
    }
    return 1;
}

/* A validated array's preamble and padded header, ready to be written before its data. */
typedef struct npy_image {
    unsigned char pre[12];
    /* The dict is at most ~300 bytes at rank 8; the space for padding to NPY_ALIGN is added. */
    char header[512 + NPY_ALIGN];
    size_t pre_len, header_len, count, itemsize;
} npy_image;

static npy_status build_image(const npy_array *a, npy_image *img, char *err, size_t errlen)
{
    char shape_text[256];
    const char *descr;
    size_t itemsize = 0, count = 1, dict_len, header_len, pre_len;
    int n;

    descr = float_descr(a->dtype, &itemsize);
    if (!descr)
        return fail(err, errlen, NPY_ERR_ARGUMENT,
                    "cannot write dtype %d: only float16, "
                    "float32 and float64 are written",
                    (int)a->dtype);
    if (a->ndim > CLMSE_MAX_NDIM)
        return fail(err, errlen, NPY_ERR_ARGUMENT, "cannot write rank %u", (unsigned)a->ndim);
    /* Counted as the reader counts: a 0 anywhere makes the array empty, whatever the other
     * sizes multiply to, so that every array it returns can be written back. */
    for (uint32_t i = 0; i < a->ndim; i++)
        if (a->shape[i] == 0)
            count = 0;
    for (uint32_t i = 0; i < a->ndim && count != 0; i++) {
        if (count > SIZE_MAX / a->shape[i])
            return fail(err, errlen, NPY_ERR_OVERFLOW, "shape overflows size_t");
        count *= a->shape[i];
    }
    if (count != a->count || (count > 0 && !a->data) || count > SIZE_MAX / itemsize)
        return fail(err, errlen, NPY_ERR_ARGUMENT, "array count %zu or data do not match its shape",
                    a->count);

    npy_format_shape(shape_text, sizeof shape_text, a->ndim, a->shape);
    n = snprintf(img->header, sizeof img->header,
                 "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr,
                 a->fortran_order ? "True" : "False", shape_text);
    if (n < 0 || (size_t)n + NPY_ALIGN >= sizeof img->header)
        return fail(err, errlen, NPY_ERR_ARGUMENT, "header too long");
    dict_len = (size_t)n;
    /* Version 1.0 stores the header length in 16 bits; 2.0 only differs in using 32. */
    pre_len = dict_len + 1 + 10 > 65535 ? 12 : 10;
    header_len = dict_len + 1;
    header_len += (NPY_ALIGN - (pre_len + header_len) % NPY_ALIGN) % NPY_ALIGN;
    memset(img->header + dict_len, ' ', header_len - 1 - dict_len);
    img->header[header_len - 1] = '\n';
    memcpy(img->pre, NPY_MAGIC, NPY_MAGIC_LEN);
    img->pre[6] = pre_len == 10 ? 1 : 2;
    img->pre[7] = 0;
    for (size_t i = 0; i < pre_len - 8; i++)
        img->pre[8 + i] = (unsigned char)(header_len >> (8 * i));
    img->pre_len = pre_len;
    img->header_len = header_len;
    img->count = count;
    img->itemsize = itemsize;
    return NPY_OK;
}

/* Writes the preamble, the header and the data; 0 on a short write. */
static int write_image(FILE *f, const npy_image *img, const void *data)
{
    return fwrite(img->pre, 1, img->pre_len, f) == img->pre_len &&
           fwrite(img->header, 1, img->header_len, f) == img->header_len &&
           (img->count == 0 || write_le(f, data, img->count, img->itemsize));
}

npy_status npy_write_stream(FILE *f, const npy_array *a, char *err, size_t errlen)
{
    npy_image img;
    npy_status st;

    if (!f || !a)
        return fail(err, errlen, NPY_ERR_ARGUMENT, "npy_write_stream: NULL argument");
    if ((st = build_image(a, &img, err, errlen)) != NPY_OK)
        return st;
    errno = 0;
    if (!write_image(f, &img, a->data))
        return fail(err, errlen, NPY_ERR_IO, "write failed: %s",
                    errno ? strerror(errno) : "short write");
    return NPY_OK;
}

npy_status npy_write_temp(const char *path, const npy_array *a, char *tmp, size_t tmplen, char *err,
                          size_t errlen)
{
    npy_image img;
    npy_status st;
    int fd = -1, n, saved;
    FILE *f;

    if (!path || !a || !tmp || tmplen == 0)
        return fail(err, errlen, NPY_ERR_ARGUMENT, "npy_write_temp: NULL argument");
    tmp[0] = '\0';
    /* Everything is checked before the temporary file exists. */
    if ((st = build_image(a, &img, err, errlen)) != NPY_OK)
        return st;

    /* O_EXCL: never write through a stale or planted file (or symlink) of the same name. */
    for (int attempt = 0; attempt < NPY_TMP_ATTEMPTS; attempt++) {
        n = attempt == 0 ? snprintf(tmp, tmplen, "%s.tmp.%ld", path, (long)getpid())
                         : snprintf(tmp, tmplen, "%s.tmp.%ld.%d", path, (long)getpid(), attempt);
        if (n < 0 || (size_t)n >= tmplen) {
            tmp[0] = '\0';
            return fail(err, errlen, NPY_ERR_ARGUMENT, "the output path is too long");
        }
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    if (fd < 0) {
        saved = errno;
        fail(err, errlen, NPY_ERR_OPEN, "cannot create the temporary file '%s': %s", tmp,
             strerror(saved));
        tmp[0] = '\0';
        return NPY_ERR_OPEN;
    }
    f = fdopen(fd, "wb");
    if (!f) {
        saved = errno;
        close(fd);
        remove(tmp);
        fail(err, errlen, NPY_ERR_IO, "cannot open the temporary file '%s': %s", tmp,
             strerror(saved));
        tmp[0] = '\0';
        return NPY_ERR_IO;
    }
    errno = 0;
    if (!write_image(f, &img, a->data) || fflush(f) != 0 ||
        (fsync(fileno(f)) != 0 && errno != EINVAL)) {
        saved = errno;
        fclose(f);
        remove(tmp);
        fail(err, errlen, NPY_ERR_IO, "cannot write the temporary file '%s': %s", tmp,
             saved ? strerror(saved) : "write failed");
        tmp[0] = '\0';
        return NPY_ERR_IO;
    }
    if (fclose(f) != 0) {
        saved = errno;
        remove(tmp);
        fail(err, errlen, NPY_ERR_IO, "cannot close the temporary file '%s': %s", tmp,
             strerror(saved));
        tmp[0] = '\0';
        return NPY_ERR_IO;
    }
    return NPY_OK;
}

npy_status npy_commit(const char *tmp, const char *path, char *err, size_t errlen)
{
    if (!tmp || !path || !tmp[0])
        return fail(err, errlen, NPY_ERR_ARGUMENT, "npy_commit: no temporary file");
    if (rename(tmp, path) != 0)
        return fail(err, errlen, NPY_ERR_IO, "cannot rename '%s' to it: %s", tmp, strerror(errno));
    return NPY_OK;
}

void npy_discard(const char *tmp)
{
    if (tmp && tmp[0])
        remove(tmp);
}

npy_status npy_write_atomic(const char *path, const npy_array *a, char *err, size_t errlen)
{
    char tmp[4096];
    npy_status st = npy_write_temp(path, a, tmp, sizeof tmp, err, errlen);

    if (st != NPY_OK)
        return st;
    st = npy_commit(tmp, path, err, errlen);
    if (st != NPY_OK)
        npy_discard(tmp);
    return st;
}

/* ---- float16 and conversions ------------------------------------------------------------- */

static double from_bits(uint64_t b)
{
    double d;

    memcpy(&d, &b, sizeof d);
    return d;
}

double npy_half_to_double(uint16_t h)
{
    uint64_t sign = (uint64_t)(h >> 15) << 63;
    unsigned exp = (h >> 10) & 0x1fu;
    uint64_t mant = h & 0x3ffu;

    if (exp == 0) { /* zero or subnormal: mant * 2^-24, exact */
        double v = (double)mant * 0x1p-24;

        return sign ? -v : v;
    }
    if (exp == 31) /* infinity, or NaN keeping its payload (the quiet bit maps onto double's) */
        return from_bits(sign | UINT64_C(0x7ff) << 52 | mant << 42);
    return from_bits(sign | (uint64_t)(exp - 15 + 1023) << 52 | mant << 42);
}

uint16_t npy_double_to_half(double d)
{
    uint64_t b, mant, q, rem, half;
    uint16_t sign;
    int exp, e, shift;

    memcpy(&b, &d, sizeof b);
    sign = (uint16_t)((b >> 48) & 0x8000u);
    exp = (int)((b >> 52) & 0x7ffu);
    mant = b & ((UINT64_C(1) << 52) - 1);
    if (exp == 0x7ff) {
        if (mant == 0)
            return sign | 0x7c00u;
        return (uint16_t)(sign | 0x7e00u | (uint16_t)(mant >> 42)); /* quiet, never infinity */
    }
    e = exp - 1023;
    if (e > 15)
        return sign | 0x7c00u;
    mant |= UINT64_C(1) << 52; /* double subnormals have e = -1023 and round to zero below */
    if (e >= -14) {            /* a normal half: keep 10 of the 52 fraction bits */
        unsigned he = (unsigned)(e + 15);

        q = mant >> 42;
        rem = mant & ((UINT64_C(1) << 42) - 1);
        half = UINT64_C(1) << 41;
        if (rem > half || (rem == half && (q & 1)))
            q++;
        if (q == 0x800) { /* rounding carried into the exponent */
            q = 0x400;
            he++;
        }
        if (he >= 31)
            return sign | 0x7c00u;
        return (uint16_t)(sign | he << 10 | (unsigned)(q & 0x3ffu));
    }
    /* Subnormal half: units of 2^-24. value = mant * 2^(e-52), so q = mant >> (28 - e). */
    shift = 28 - e;
    if (shift > 53) /* below half of the smallest subnormal */
        return sign;
    q = mant >> shift;
    rem = mant & ((UINT64_C(1) << shift) - 1);
    half = UINT64_C(1) << (shift - 1);
    if (rem > half || (rem == half && (q & 1)))
        q++; /* may reach 0x400, the smallest normal, whose bits are exactly that */
    return (uint16_t)(sign | q);
}

static double load_float(const unsigned char *p, clmse_dtype dtype)
{
    switch (dtype) {
    case CLMSE_DTYPE_F16: {
        uint16_t h;

        memcpy(&h, p, sizeof h);
        return npy_half_to_double(h);
    }
    case CLMSE_DTYPE_F32: {
        float f;

        memcpy(&f, p, sizeof f);
        return f;
    }
    default: {
        double v;

        memcpy(&v, p, sizeof v);
        return v;
    }
    }
}

static void store_float(unsigned char *p, clmse_dtype dtype, double v)
{
    if (dtype == CLMSE_DTYPE_F16) {
        uint16_t h = npy_double_to_half(v);

        memcpy(p, &h, sizeof h);
    } else if (dtype == CLMSE_DTYPE_F32) {
        float f = (float)v; /* one rounding, to nearest even */

        memcpy(p, &f, sizeof f);
    } else {
        memcpy(p, &v, sizeof v);
    }
}

npy_status npy_convert(const npy_array *src, clmse_dtype dtype, npy_array *dst, char *err,
                       size_t errlen)
{
    size_t in_size = 0, out_size = 0;
    const char *descr;

    if (dst)
        npy_init(dst);
    if (!src || !dst)
        return fail(err, errlen, NPY_ERR_ARGUMENT, "npy_convert: NULL argument");
    descr = float_descr(dtype, &out_size);
    if (!src->has_dtype || !float_descr(src->dtype, &in_size) || !descr)
        return fail(err, errlen, NPY_ERR_ARGUMENT,
                    "only float16, float32 and float64 are converted");
    if (src->count > 0 && !src->data)
        return fail(err, errlen, NPY_ERR_ARGUMENT, "npy_convert: no data");
    *dst = *src;
    dst->data = NULL;
    dst->dtype = dtype;
    dst->itemsize = out_size;
    dst->type_name = dtype == CLMSE_DTYPE_F16   ? "float16"
                     : dtype == CLMSE_DTYPE_F32 ? "float32"
                                                : "float64";
    snprintf(dst->descr, sizeof dst->descr, "%s", descr);
    if (src->count == 0)
        return NPY_OK;
    /* count * in_size fits (the source exists); out_size is at most 4x in_size. */
    if (src->count > SIZE_MAX / out_size) {
        npy_init(dst);
        return fail(err, errlen, NPY_ERR_OVERFLOW, "converted size overflows size_t");
    }
    dst->data = malloc(src->count * out_size);
    if (!dst->data) {
        npy_init(dst);
        return fail(err, errlen, NPY_ERR_NOMEM, "out of memory converting %zu elements",
                    src->count);
    }
    for (size_t i = 0; i < src->count; i++)
        store_float((unsigned char *)dst->data + i * out_size, dtype,
                    load_float((const unsigned char *)src->data + i * in_size, src->dtype));
    return NPY_OK;
}
