/* SPDX-License-Identifier: MIT */
/* Test helpers: deterministic data, a long-double reference, ulp checks and OpenCL plumbing. */
#ifndef CLMSE_TESTS_HELPERS_H
#define CLMSE_TESTS_HELPERS_H

#include "clmse.h"
#include "dtype_bits.h"

#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* Device tcases get this limit: a first pocl compile alone can take tens of seconds. */
#define TH_DEVICE_TIMEOUT 300

/* A NaN payload no kernel produces, so any change to a guarded element is visible. */
#define TH_SENTINEL_BITS 0x7fa5a5a5u

/* A tcase with TH_DEVICE_TIMEOUT, already added to `s`. */
TCase *th_device_tcase(Suite *s, const char *name);

/* ---- device runners ---- */
/* Called first in a device runner's main: looks for a device in a child process. Returns -1 to
 * go on, or main's exit code: 77 (none: a CTest skip) or EXIT_FAILURE (none, but
 * CLMSE_REQUIRE_DEVICE=1). */
int th_device_gate(void);
/* Runs sr's suites with CK_ENV and frees it; main's exit code, a failure when no test ran. */
int th_run_suites(SRunner *sr, const char *runner);

/* ---- test scale ---- */
/* CLMSE_TEST_SCALE=small: a reduced set for slow implementations (Oclgrind simulates every
 * work-item). Unset, empty or "full": every size. Any other value fails the calling test, so
 * that a typo does not start an hours-long run. Each suite's comment at its sizes says what
 * shrinks; README "Testing" lists them all. */
int th_scale_small(void);
/* `full`, or `small` under CLMSE_TEST_SCALE=small. */
size_t th_scaled(size_t full, size_t small);
/* Runs fn on `n` new threads, the i-th with (char *)args + i * stride, and joins them. Under
 * CLMSE_TEST_SCALE=small it runs fn once, with args, on the calling thread: Oclgrind's runtime
 * is not thread-safe (jrprice/Oclgrind#28), and its --uninitialized checker crashes (SIGSEGV)
 * as soon as a second host thread enqueues work. Returns how many ran. */
unsigned th_run_workers(unsigned n, void *(*fn)(void *), void *args, size_t stride);

/* ---- data ---- */
typedef struct th_rng {
    uint64_t state;
} th_rng;

void th_rng_seed(th_rng *rng, uint64_t seed);
uint64_t th_rng_next(th_rng *rng); /* splitmix64 */
/* Uniform floats in [-9, 9). */
void th_fill_uniform(th_rng *rng, float *dst, size_t n);
/* Exits the test through Check on allocation failure. */
float *th_alloc_floats(size_t n);

/* ---- float helpers ---- */
uint32_t th_bits(float f);
float th_sentinel(void);
int th_is_sentinel(float f);
/* Distance in representable floats (0 = identical value); UINT64_MAX when either is NaN. */
uint64_t th_ulp_diff(float a, float b);
/* got within one ulp of the float nearest to the exact reference. */
int th_within_one_ulp(float got, long double ref);

/* ---- reference (PyTorch semantics) ---- */
/* torch's elementwise term: d = (float)(x - y), then (float)(d * d). */
float th_term(float x, float y);
/* Sum of th_term over the arrays, accumulated in long double. */
long double th_ref_sum(const float *x, const float *y, size_t n);
/* (float)(2.0 / n) for mean, 2.0f otherwise: the norm of torch's backward. */
float th_scale(clmse_reduction reduction, size_t n);
/* ((scale * (a - b)) * g) in float, in that order: torch's gradient. */
float th_grad(float scale, float a, float b, float g);

/* ---- OpenCL plumbing (all assert success through Check) ---- */
/* Asserts that `call` returned CLMSE_SUCCESS, showing the status and the context's message. */
#define CHECK_OK(ctx, call)                                                                \
    do {                                                                                   \
        clmse_status st_ = (call);                                                         \
        ck_assert_msg(st_ == CLMSE_SUCCESS, "%s: %s: %s", #call, clmse_status_string(st_), \
                      clmse_context_last_error(ctx));                                      \
    } while (0)
/* The device clmse_context_create() picks by default (a root device: never released). */
cl_device_id th_default_device(void);
/* A new cl_context on `dev` alone and a queue on it with `props` (the caller releases both). */
cl_command_queue th_cl_open(cl_device_id dev, cl_command_queue_properties props,
                            cl_context *context);
/* CL_CONTEXT_REFERENCE_COUNT / CL_QUEUE_REFERENCE_COUNT, asserting the query succeeds. */
cl_uint th_context_refs(cl_context c);
cl_uint th_queue_refs(cl_command_queue q);
clmse_context *th_context_create(void);
/* clmse_context_create(opt), asserting that it succeeds. */
clmse_context *th_context_create_with(const clmse_context_options *opt);
/* Returns NULL only when the device cannot do `acc` (DOUBLE on a device without fp64, which
 * must then refuse it with CLMSE_ERROR_UNSUPPORTED_DEVICE). */
clmse_context *th_context_create_acc(clmse_accumulation acc);
/* Whether ctx's device does float64 (clmse_context_device_info's has_fp64). */
int th_has_fp64(clmse_context *ctx);
/* The same for the device clmse_context_create() picks by default. */
int th_default_has_fp64(void);
cl_context th_cl_context(clmse_context *ctx);
cl_command_queue th_cl_queue(clmse_context *ctx);
/* A buffer of `total` floats, all sentinel, with `count` values of `data` at `offset`
 * (data may be NULL). */
cl_mem th_buffer(clmse_context *ctx, size_t total, size_t offset, const float *data, size_t count);
void th_buffer_reset(clmse_context *ctx, cl_mem buf, size_t total);
/* Blocking read of `total` floats from element 0, after `ev` when not NULL (then released). */
void th_buffer_read(clmse_context *ctx, cl_mem buf, size_t total, float *dst, cl_event ev);
/* Index of the first non-sentinel element in [from, to), or `to` if all are sentinel. */
size_t th_first_non_sentinel(const float *v, size_t from, size_t to);
/* Waits for and releases an event the library returned, checking it really completed. */
void th_finish_event(cl_event ev);
/* Waits long enough for a call that ignored its wait list to finish, then asserts `ev` has
 * still not completed (the call is gated by a user event not yet set). */
void th_assert_still_pending(cl_event ev);
/* Asserts every element of buf (total floats) is still the sentinel. */
void th_assert_untouched(clmse_context *ctx, cl_mem buf, size_t total);

/* A view of host memory; strides NULL means C order. */
clmse_host_tensor th_host_view(void *data, clmse_dtype dtype, uint32_t ndim, const size_t *shape,
                               const int64_t *strides);

/* Writes n bytes to path (created or truncated), asserting every step. */
void th_write_file(const char *path, const void *bytes, size_t n);

/* ---- narrow storage formats (tensor tests) ---- */
/* float16 and bfloat16 from float and back, each rounded once (to nearest even); the rest of
 * the encodings (from double, any dtype, the one-ulp rule) are tools/dtype_bits.h's. */
uint16_t th_half_from_float(float f);
float th_half_to_float(uint16_t h);
uint16_t th_bf16_from_float(float f);
float th_bf16_to_float(uint16_t b);

#endif /* CLMSE_TESTS_HELPERS_H */
