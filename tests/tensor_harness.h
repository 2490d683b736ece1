/* SPDX-License-Identifier: MIT */
/* The tensor suites' harness (test_tensor_*.c): one context per test, device tensor views of
 * any dtype and layout guarded by sentinels, a host reference with torch's semantics, and
 * scenarios that run one operand layout pair through every kind of clmse_mse call. */
#ifndef CLMSE_TESTS_TENSOR_HARNESS_H
#define CLMSE_TESTS_TENSOR_HARNESS_H

#include "helpers.h"

#include <stddef.h>
#include <stdint.h>

enum { TAIL = 3 }; /* guarded elements after every view */

/* none, mean, sum, and their names. */
extern const clmse_reduction tm_reductions[3];
extern const char *const tm_red_names[3];
/* float32, float64, float16, bfloat16: the dtypes a loop test's _i % 4 picks. */
extern const clmse_dtype tm_dtypes[4];

/* ---- fixture: one context per test, created in the forked child ---- */
extern clmse_context *tm_ctx;
/* The device does float64. Without it every call with a float64 tensor must be refused with
 * CLMSE_ERROR_UNSUPPORTED_DTYPE (DESIGN.md section 6), and the tests check that instead. */
extern int tm_fp64;
extern int tm_dummy_event; /* its address stands for an event the library must reset */
void tm_setup(void);       /* the checked fixture of every tensor tcase */
void tm_teardown(void);
cl_command_queue tm_queue(void);

/* ---- element values ---- */
/* Bits equal, or both NaN (NaN payloads and signs are not specified). */
int tm_same_value(clmse_dtype d, uint64_t got, uint64_t want);
/* The value of element i of a byte image of dtype d. */
double tm_value_at(const unsigned char *img, clmse_dtype d, size_t i);

/* ---- device tensors ---- */
/* A tensor view of its own buffer. `img` is what the whole buffer must hold: the sentinel
 * everywhere but at the view's elements, which hold `vals` (operands) or the sentinel too
 * (results, until checked). */
typedef struct dt {
    clmse_tensor t;
    size_t numel, total; /* elements in the view / in the buffer */
    unsigned char *img;
    double *vals; /* logical values, C order over t.shape */
    void *host;   /* CL_MEM_USE_HOST_PTR storage, or NULL */
} dt;

/* A buffer layout: strides NULL-like (C order) when has_strides is 0. */
typedef struct layout {
    int given;
    uint32_t nd;
    size_t shape[CLMSE_MAX_NDIM];
    int has_strides;
    int64_t strides[CLMSE_MAX_NDIM];
    size_t offset;
} layout;

enum { BUF_DEVICE = 0, BUF_NULL_IF_EMPTY = 1, BUF_HOST_BACKED = 2 };

/* Buffer position of logical element `flat` (C order) of a view with elements. */
size_t tm_view_pos(const clmse_tensor *t, size_t flat);
/* A C-order layout of `shape` at `offset`. */
layout tm_c_order(uint32_t nd, const size_t *shape, size_t offset);
/* A view of dtype `dtype` laid out as `l`, in a fresh buffer that ends TAIL elements after the
 * view; `vals` (logical values, exactly representable) or all sentinel when NULL. `how`: a
 * device buffer, NULL for an empty view (BUF_NULL_IF_EMPTY), or page-aligned host memory the
 * test can watch (BUF_HOST_BACKED). */
dt *dt_make(clmse_dtype dtype, const layout *l, const double *vals, int how);
void dt_free(dt *d);
/* Writes the expected image (sentinel for results) back to the device. */
void dt_reset(dt *d);
/* The whole buffer as it is now (blocking read); free() it. */
unsigned char *dt_read(const dt *d);
/* Every buffer element outside the view still holds the sentinel. */
void tm_check_outside(const dt *d, const unsigned char *got, const char *what);
/* An operand's buffer must come back exactly as uploaded. */
void tm_check_unchanged(const dt *d, const char *what);
/* Nearest representable values of dtype d, uniform in [-9, 9). */
void tm_random_vals(th_rng *rng, clmse_dtype d, double *v, size_t n);
double *tm_alloc_doubles(size_t n);

/* ---- calls checked against the host reference ---- */
/* Checks every result against the reference and that no operand or guard was touched. */
void tm_verify(const char *tag, clmse_reduction red, const dt *x, const dt *y, const dt *out,
               const dt *g, const dt *gx, const dt *gy);
void tm_fill_args(clmse_mse_args *a, clmse_reduction red, unsigned flags, const dt *x, const dt *y,
                  const dt *out, const dt *g, const dt *gx, const dt *gy);
/* Runs clmse_mse and waits for its event. Returns 1 when it ran, 0 when the device lacks the
 * fp64 a float64 tensor needs and the call was refused as it must be. */
int tm_call_mse(const char *tag, const clmse_mse_args *a);
/* Resets the results, runs clmse_mse, waits on its event and verifies everything. Returns 0
 * when the call was refused for want of fp64, after checking that nothing was written. */
int tm_run_verify(const char *tag, clmse_reduction red, unsigned flags, const dt *x, const dt *y,
                  dt *out, const dt *g, dt *gx, dt *gy);

/* ---- scenarios: one operand layout pair run through every kind of call ---- */
typedef struct scenario {
    const char *name;
    layout x, y;
    layout out;    /* the 'none' output; not given: C order of the broadcast shape */
    layout gx, gy; /* not given: C order of the operand's shape at offset 2 */
} scenario;

#define SHAPE(...) .shape = {__VA_ARGS__}
#define STRIDES(...) .has_strides = 1, .strides = {__VA_ARGS__}

/* Random operands of dtypes dx and dy laid out as s says, run through forward, backward and
 * fused calls of every reduction, each checked with tm_run_verify. */
void tm_run_scenario(const scenario *s, clmse_dtype dx, clmse_dtype dy, uint64_t seed);

#endif /* CLMSE_TESTS_TENSOR_HARNESS_H */
