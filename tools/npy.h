/* SPDX-License-Identifier: MIT */
/* NumPy .npy reader (format 1.0-3.0) and atomic writer for the clmse tool; not library API. */
#ifndef CLMSE_TOOLS_NPY_H
#define CLMSE_TOOLS_NPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "clmse.h" /* clmse_dtype and CLMSE_MAX_NDIM only: npy.c calls no library function */

/*
 * Every function returns NPY_OK or one of these, and on failure writes one line (no path, no
 * trailing newline) to `err` when err is not NULL; callers prefix the file name.
 */
typedef enum npy_status {
    NPY_OK = 0,
    NPY_ERR_ARGUMENT,         /* NULL pointer, or an array the writer cannot describe */
    NPY_ERR_OPEN,             /* cannot open or create the file (missing, permissions, a dir) */
    NPY_ERR_IO,               /* a read, write, flush or rename failed */
    NPY_ERR_MAGIC,            /* empty, or not starting with "\x93NUMPY" */
    NPY_ERR_VERSION,          /* format version other than 1.0, 2.0 and 3.0 */
    NPY_ERR_TRUNCATED_HEADER, /* the file ends inside the preamble or the header */
    NPY_ERR_HEADER,           /* the header is not a Python dict literal, or a value's type */
    NPY_ERR_KEYS,             /* a key missing, repeated or unknown */
    NPY_ERR_SHAPE,            /* 'shape' is not a tuple of non-negative integers */
    NPY_ERR_RANK,             /* more than CLMSE_MAX_NDIM dimensions */
    NPY_ERR_DESCR,            /* unknown or structured 'descr' */
    NPY_ERR_OBJECT,           /* object arrays ('|O'): pickled Python objects, never read */
    NPY_ERR_DTYPE,            /* a known non-numeric type (str, bytes, void, datetime) */
    NPY_ERR_OVERFLOW,         /* element count or byte size does not fit in size_t */
    NPY_ERR_TRUNCATED_DATA,   /* fewer data bytes than the shape and dtype need */
    NPY_ERR_NOMEM             /* out of host memory */
} npy_status;

/* The `dtype` of an array whose NumPy type clmse has no clmse_dtype for (has_dtype == 0). */
#define NPY_DTYPE_NONE ((clmse_dtype)-1)

/*
 * An n-dimensional array as stored in a .npy file.
 *
 * Reading: numeric types are loaded (bool, int8-64, uint8-64, float16-64 and long double,
 * complex); `dtype` is set where clmse has a matching clmse_dtype (has_dtype != 0; uint16,
 * uint32, uint64 and the long double types have none, and get NPY_DTYPE_NONE). Data are
 * converted to the host's byte order and kept in the file's element order: row-major when
 * fortran_order is 0, column-major otherwise. Bytes after the data are tolerated, as NumPy
 * does (np.load ignores them); `trailing` says whether there were any.
 *
 * Writing: only dtype F16, F32 and F64 (written '<f2', '<f4', '<f8'); dtype, ndim, shape,
 * count (checked against the shape), fortran_order and data are used, the rest ignored.
 */
typedef struct npy_array {
    char descr[16];        /* as read, e.g. ">f4" or "<i8" */
    const char *type_name; /* NumPy's name: "float32", "int32", "bool", ... (static) */
    int has_dtype;         /* nonzero when `dtype` is meaningful */
    clmse_dtype dtype;
    size_t itemsize;   /* bytes per element */
    int fortran_order; /* nonzero: column-major */
    uint32_t ndim;     /* 0 (a scalar) to CLMSE_MAX_NDIM */
    size_t shape[CLMSE_MAX_NDIM];
    size_t count;     /* product of shape; 1 for a scalar */
    void *data;       /* count * itemsize bytes, host byte order; NULL when count == 0 */
    unsigned version; /* format major version read: 1, 2 or 3 */
    int trailing;     /* nonzero when bytes followed the data (they were ignored) */
} npy_array;

/* Zeroes an array (no data). */
void npy_init(npy_array *a);

/* Frees the data and zeroes the array. NULL is a harmless no-op. */
void npy_free(npy_array *a);

/*
 * Reads a whole .npy file. On success *out owns its data (npy_free); on failure *out is
 * zeroed and holds nothing. Limits: header at most 1 MiB, rank at most CLMSE_MAX_NDIM.
 */
npy_status npy_read(const char *path, npy_array *out, char *err, size_t errlen);

/* npy_read_stream's `size` for a stream whose length is not known (a pipe). */
#define NPY_SIZE_UNKNOWN UINTMAX_MAX

/*
 * npy_read() on an open stream, from its current position; f is left open. `size` is the
 * number of bytes left in it, or NPY_SIZE_UNKNOWN: a known size refuses a header that claims
 * more data than there is before allocating, an unknown one finds out by reading. npy_read
 * passes a regular file's size; the fuzzer (fuzz/fuzz_npy.c) feeds memory through fmemopen().
 */
npy_status npy_read_stream(FILE *f, uintmax_t size, npy_array *out, char *err, size_t errlen);

/*
 * Writes `a` as a .npy file: format 1.0 (2.0 when the header exceeds 65535 bytes),
 * little-endian, header padded with spaces to a multiple of 64 bytes ending in '\n'.
 * The file is first written to a new temporary file beside `path` ("PATH.tmp.<pid>", created
 * exclusively), flushed and synced; its name goes to `tmp` (tmplen bytes). Nothing is written
 * to `path` itself: npy_commit() renames the temporary file over it, npy_discard() removes
 * it. On failure no temporary file remains.
 */
npy_status npy_write_temp(const char *path, const npy_array *a, char *tmp, size_t tmplen, char *err,
                          size_t errlen);

/*
 * Writes `a` as npy_write_temp() formats it to an open stream, without flushing or syncing;
 * npy_write_temp() checks and formats through the same code.
 * @return NPY_OK, NPY_ERR_ARGUMENT, NPY_ERR_OVERFLOW, NPY_ERR_IO.
 */
npy_status npy_write_stream(FILE *f, const npy_array *a, char *err, size_t errlen);

/* rename(tmp, path): atomic replacement of `path` on POSIX file systems. */
npy_status npy_commit(const char *tmp, const char *path, char *err, size_t errlen);

/* Removes a temporary file from npy_write_temp(); "" and NULL are no-ops. */
void npy_discard(const char *tmp);

/* npy_write_temp() then npy_commit(), discarding the temporary file on failure. */
npy_status npy_write_atomic(const char *path, const npy_array *a, char *err, size_t errlen);

/* Formats a shape as Python prints a tuple: "()", "(3,)", "(2, 3)". Truncates to fit. */
void npy_format_shape(char *buf, size_t len, uint32_t ndim, const size_t *shape);

/*
 * Converts a float16/32/64 array to another of those dtypes (same shape and order), rounding
 * to nearest even once. *dst is new and owned by the caller.
 * @return NPY_OK, NPY_ERR_ARGUMENT (a type other than F16/F32/F64), NPY_ERR_NOMEM.
 */
npy_status npy_convert(const npy_array *src, clmse_dtype dtype, npy_array *dst, char *err,
                       size_t errlen);

/* IEEE binary16 bits to double (exact) and double to binary16 (round to nearest even,
 * overflow to infinity, NaN kept NaN with the sign and top payload bits). */
double npy_half_to_double(uint16_t h);
uint16_t npy_double_to_half(double d);

#endif /* CLMSE_TOOLS_NPY_H */
