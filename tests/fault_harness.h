/* SPDX-License-Identifier: MIT */
/* Shared by the fault suites (test_fault_*.c), whose runner interposes on libclmse's OpenCL
 * calls (fault/cl_fault.h): what a failure must look like, OpenCL reference counts, and a
 * workload that reaches every kind of OpenCL call the library makes. */
#ifndef CLMSE_TESTS_FAULT_HARNESS_H
#define CLMSE_TESTS_FAULT_HARNESS_H

#include "fault/cl_fault.h"
#include "helpers.h"

#include <stddef.h>
#include <stdint.h>

/* N1 stays in one work-group everywhere; NBIG (medium size class: 2^15 elements per item on a
 * CPU) needs several, hence scratch and the epilogue. */
enum { N1 = 1000, NBIG = 140000 };

/* ---- what a failure must look like (fault_harness.c) ---- */
typedef enum api { API_CREATE, API_ADOPT, API_DEVICES, API_CALL } api;
/* A call made with call k of the shim's count armed: the failure must have happened, and the
 * entry point must report exactly it (the status clmse.h documents for `a`, mapped from the
 * OpenCL error), on `msg_ctx` (NULL: this thread's context-less slot). */
void ft_check_failure(const char *where, unsigned long k, api a, clmse_status st,
                      const clmse_context *msg_ctx);

typedef struct refs {
    long n[CLF_KIND_COUNT];
} refs;
refs ft_live_refs(void);
/* clmse holds exactly the OpenCL references it held at `base`. */
void ft_check_refs(const refs *base, const char *where, unsigned long k);
extern const refs ft_no_refs; /* all zero */

/* Every field of two device descriptions equal. */
int ft_same_info(const clmse_device_info *a, const clmse_device_info *b);
/* An event clmse returned: NULL after a failure; waited for and released after success. */
void ft_settle_event(clmse_status st, cl_event ev, const char *what);
/* A view of buf at offset 0, asserting clmse_tensor_init succeeds. */
clmse_tensor ft_view(cl_mem buf, clmse_dtype dtype, uint32_t nd, const size_t *shape,
                     const int64_t *strides);

/* ---- the workload (fault_workload.c) ---- */
typedef enum op { OP_FORWARD, OP_BACKWARD, OP_FUSED } op;

/* Results as bytes. */
typedef struct blob {
    unsigned char *p;
    size_t len, cap;
} blob;
void ft_blob_free(blob *b);
int ft_blob_equal(const blob *a, const blob *b);

/* Buffers and arrays of one context; every step resets the results it writes first. */
typedef struct bench {
    clmse_context *ctx;
    cl_command_queue q;
    int fp64;
    float *hx, *hy, *hg; /* NBIG each */
    float *hout, *hgx, *hgy;
    cl_mem x, y, g, out, gx, gy; /* float32, NBIG each */
    /* tensor steps */
    cl_mem t1x, t1y, t1out, t1gx;
    cl_mem t2x, t2y, t2out, t2gx, t2gy;
    cl_mem t3x, t3y, t3out, t3g, t3gx, t3gy;
    cl_mem t4x, t4y, t4out, t4gy;
    cl_mem t5y, t5out;
} bench;
void ft_bench_open(bench *b, clmse_context *ctx);
void ft_bench_close(bench *b);

/* Steps of the workload: float32 device calls, tensor calls, float32 host calls. */
enum { FT_N_STEPS = 20 };
/* Step i (tensors between the two float32 families, so that programs of every kind are built
 * in between others): its results into o, its status into st, its name into name. Returns 0
 * for a step the device cannot run. */
int ft_run_step(bench *b, size_t i, blob *o, clmse_status *st, char *name, size_t cap);

#endif /* CLMSE_TESTS_FAULT_HARNESS_H */
