/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the tool's .npy reader (tools/npy.c): any bytes parse or fail cleanly,
 * the same with and without a known size, and what parses survives a write and a re-read. */
#define _POSIX_C_SOURCE 200809L /* fmemopen, open_memstream */

#include "fuzz_check.h"
#include "npy.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_LEN 512

static int host_is_little(void)
{
    const uint16_t one = 1;
    unsigned char first;

    memcpy(&first, &one, 1);
    return first == 1;
}

/* Reads `size` bytes through a memory stream, announcing their size or not (a pipe). */
static npy_status read_mem(const uint8_t *bytes, size_t size, int known, npy_array *a, char *err)
{
    static unsigned char none[1]; /* libFuzzer may pass NULL for an empty input */
    /* fmemopen takes a non-const buffer; mode "rb" never writes to it. */
    FILE *f = fmemopen(size ? (void *)(uintptr_t)bytes : none, size, "rb");
    npy_status st;

    CHECK(f != NULL);
    memset(a, 0xa5, sizeof *a); /* npy_read_stream must overwrite every byte */
    err[0] = '\0';
    st = npy_read_stream(f, known ? (uintmax_t)size : NPY_SIZE_UNKNOWN, a, err, ERR_LEN);
    fclose(f);
    return st;
}

static void check_failure(npy_status st, const npy_array *a, const char *err)
{
    npy_array zero;

    /* A stream is open and memory cannot fail to read: no ARGUMENT, OPEN or IO. */
    CHECK(st >= NPY_ERR_MAGIC && st <= NPY_ERR_NOMEM);
    CHECK(err[0] != '\0');
    npy_init(&zero);
    CHECK(memcmp(a, &zero, sizeof zero) == 0);
}

/* What the reader returned must describe the input's own header and data. */
static void check_success(const npy_array *a, const uint8_t *bytes, size_t size)
{
    size_t count = 1, nbytes, header_len, data_offset, unit;
    int swapped, overflow = 0, empty = 0;

    CHECK(size >= 10 && a->version == bytes[6] && a->version >= 1 && a->version <= 3);
    if (a->version == 1) {
        header_len = (size_t)bytes[8] | (size_t)bytes[9] << 8;
        data_offset = 10 + header_len;
    } else {
        CHECK(size >= 12);
        header_len = (size_t)bytes[8] | (size_t)bytes[9] << 8 | (size_t)bytes[10] << 16 |
                     (size_t)bytes[11] << 24;
        data_offset = 12 + header_len;
    }
    CHECK(data_offset <= size);
    CHECK(a->ndim <= CLMSE_MAX_NDIM);
    for (uint32_t i = 0; i < a->ndim; i++) {
        overflow |= __builtin_mul_overflow(count, a->shape[i], &count);
        empty |= a->shape[i] == 0;
    }
    CHECK(!overflow || empty); /* a zero dimension makes any product 0 */
    CHECK(a->count == (empty ? 0 : count));
    count = a->count;
    CHECK(a->itemsize > 0 && a->type_name != NULL);
    CHECK(strlen(a->descr) > 0 && strlen(a->descr) < sizeof a->descr);
    CHECK(!a->has_dtype || clmse_dtype_size(a->dtype) == a->itemsize);
    CHECK(!__builtin_mul_overflow(count, a->itemsize, &nbytes));
    CHECK(nbytes <= size - data_offset);
    CHECK((count == 0) == (a->data == NULL));
    CHECK(a->fortran_order == 0 || a->fortran_order == 1);
    CHECK(a->trailing == (size - data_offset > nbytes));

    /* The data are the file's, each number byte-reversed when its order is not the host's. */
    swapped = a->itemsize > 1 && a->descr[0] == (host_is_little() ? '>' : '<');
    unit = a->type_name[0] == 'c' ? a->itemsize / 2 : a->itemsize;
    for (size_t i = 0; i < nbytes; i++) {
        size_t j = swapped ? i - i % unit + (unit - 1 - i % unit) : i;

        CHECK(((const unsigned char *)a->data)[i] == bytes[data_offset + j]);
    }
}

static int same_value(const unsigned char *x, const unsigned char *y, clmse_dtype dtype)
{
    double u, v;

    if (dtype == CLMSE_DTYPE_F16) {
        uint16_t h, k;

        memcpy(&h, x, 2);
        memcpy(&k, y, 2);
        u = npy_half_to_double(h);
        v = npy_half_to_double(k);
    } else if (dtype == CLMSE_DTYPE_F32) {
        float f, g;

        memcpy(&f, x, 4);
        memcpy(&g, y, 4);
        u = f;
        v = g;
    } else {
        memcpy(&u, x, 8);
        memcpy(&v, y, 8);
    }
    if (isnan(u) || isnan(v)) /* the conversions quiet signalling NaNs */
        return isnan(u) && isnan(v);
    return memcmp(x, y, clmse_dtype_size(dtype)) == 0; /* also tells -0 from +0 */
}

/* Writes `a` to memory; the caller frees *buf. */
static npy_status write_mem(const npy_array *a, char **buf, size_t *len, char *err)
{
    FILE *f = open_memstream(buf, len);
    npy_status st;

    CHECK(f != NULL);
    st = npy_write_stream(f, a, err, ERR_LEN);
    CHECK(fclose(f) == 0);
    return st;
}

/* Float arrays: written back, re-read, and widened to float64 and narrowed again, unchanged. */
static void round_trip(const npy_array *a)
{
    char err[ERR_LEN], *buf = NULL, *again = NULL;
    size_t len = 0, again_len = 0, nbytes = a->count * a->itemsize;
    npy_array b, wide, back;
    npy_status st;

    st = write_mem(a, &buf, &len, err);
    if (!a->has_dtype || (a->dtype != CLMSE_DTYPE_F16 && a->dtype != CLMSE_DTYPE_F32 &&
                          a->dtype != CLMSE_DTYPE_F64)) {
        CHECK(st == NPY_ERR_ARGUMENT); /* only floats are written */
        free(buf);
        return;
    }
    CHECK(st == NPY_OK);
    CHECK(len >= nbytes && (len - nbytes) % 64 == 0); /* the data start 64-byte aligned */

    st = read_mem((const uint8_t *)buf, len, 1, &b, err);
    CHECK(st == NPY_OK);
    CHECK(b.version == 1 && !b.trailing && b.descr[0] == '<');
    CHECK(b.has_dtype && b.dtype == a->dtype && b.itemsize == a->itemsize);
    CHECK(b.ndim == a->ndim && b.count == a->count && b.fortran_order == a->fortran_order);
    CHECK(a->ndim == 0 || memcmp(b.shape, a->shape, a->ndim * sizeof a->shape[0]) == 0);
    CHECK(nbytes == 0 || memcmp(b.data, a->data, nbytes) == 0);

    /* Writing what was read gives the same bytes: the header depends on nothing else. */
    CHECK(write_mem(&b, &again, &again_len, err) == NPY_OK);
    CHECK(again_len == len && memcmp(again, buf, len) == 0);

    /* float64 holds every float16 and float32 exactly, so narrowing back is exact. */
    CHECK(npy_convert(a, CLMSE_DTYPE_F64, &wide, err, ERR_LEN) == NPY_OK);
    CHECK(npy_convert(&wide, a->dtype, &back, err, ERR_LEN) == NPY_OK);
    CHECK(back.count == a->count && back.itemsize == a->itemsize);
    for (size_t i = 0; i < a->count; i++)
        CHECK(same_value((const unsigned char *)a->data + i * a->itemsize,
                         (const unsigned char *)back.data + i * a->itemsize, a->dtype));

    npy_free(&back);
    npy_free(&wide);
    npy_free(&b);
    free(again);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[ERR_LEN], err2[ERR_LEN];
    npy_array a, p;
    npy_status st, st2;

    st = read_mem(data, size, 1, &a, err);
    if (st != NPY_OK) {
        check_failure(st, &a, err);
    } else {
        check_success(&a, data, size);
        round_trip(&a);
    }

    /* Unknown size (a pipe): the same verdict. Skipped after TRUNCATED_DATA, where the reader
     * would first allocate the bytes the header claims, however many. */
    if (st != NPY_ERR_TRUNCATED_DATA) {
        st2 = read_mem(data, size, 0, &p, err2);
        CHECK(st2 == st);
        if (st2 != NPY_OK) {
            check_failure(st2, &p, err2);
        } else {
            CHECK(strcmp(p.descr, a.descr) == 0 && p.type_name == a.type_name);
            CHECK(p.has_dtype == a.has_dtype && (!a.has_dtype || p.dtype == a.dtype));
            CHECK(p.itemsize == a.itemsize && p.fortran_order == a.fortran_order);
            CHECK(p.ndim == a.ndim && p.count == a.count && p.version == a.version);
            CHECK(a.ndim == 0 || memcmp(p.shape, a.shape, a.ndim * sizeof a.shape[0]) == 0);
            CHECK(a.count == 0 || memcmp(p.data, a.data, a.count * a.itemsize) == 0);
            CHECK(p.trailing == a.trailing);
            npy_free(&p);
        }
    }
    npy_free(&a);
    return 0;
}
