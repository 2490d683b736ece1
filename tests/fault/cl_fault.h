/* SPDX-License-Identifier: MIT */
/* Fault injection for the OpenCL calls libclmse makes: an interposing shim that counts them,
 * fails a chosen one, counts the OpenCL references libclmse holds, and can show it a device
 * without fp64. */
#ifndef CLMSE_TESTS_CL_FAULT_H
#define CLMSE_TESTS_CL_FAULT_H

#include <stddef.h>

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

/*
 * The executable that links this file defines the OpenCL entry points libclmse.so imports, so
 * the dynamic linker binds libclmse's references here (ELF interposition); every call is
 * forwarded to the ICD loader through dlsym(RTLD_NEXT). Only calls made from libclmse's own
 * code are counted or failed: the test's OpenCL calls, and the runtime's, pass through.
 *
 * Injectable calls are those that can fail for reasons outside the caller's control: object
 * creation, build, kernel arguments, enqueues, waits and queries. Retains and releases are
 * not (they fail only for invalid objects), but they are counted as references.
 */

typedef enum clf_kind {
    CLF_CONTEXT,
    CLF_QUEUE,
    CLF_DEVICE,
    CLF_MEM,
    CLF_PROGRAM,
    CLF_KERNEL,
    CLF_EVENT,
    CLF_KIND_COUNT
} clf_kind;

/* Counts injectable calls from zero again and fails the k-th one from now (1-based) with an
 * error that call could really return; k == 0 only counts. A failed call never reaches the
 * runtime, so it has no side effect. One failure per arming. */
void clf_arm(unsigned long k);
/* Stops failing calls; counting goes on. */
void clf_disarm(void);
/* Injectable calls libclmse made since the last clf_arm(). */
unsigned long clf_calls(void);
/* The function failed since the last clf_arm() (NULL if none yet) and the error it returned. */
const char *clf_failed_function(void);
cl_int clf_failed_error(void);

/* Call sites: with recording on, each site (return address into libclmse) of an injectable
 * call is remembered; with skipping on, calls from remembered sites are neither counted nor
 * failed, so a sweep can target only the sites an earlier sweep did not reach. */
void clf_record_sites(int on);
void clf_skip_recorded_sites(int on);
size_t clf_recorded_sites(void);

/* References libclmse holds: objects it created or retained, minus those it released. Events it
 * returns to the caller stay counted until the caller releases them. */
long clf_live(clf_kind kind);
const char *clf_kind_name(clf_kind kind);

/* Per-function totals of failures injected since the process started. */
size_t clf_function_count(void);
const char *clf_function_name(size_t i);
unsigned long clf_function_failures(size_t i);

/* An emulated device without double precision, for libclmse's eyes only. With `on`, its
 * clGetDeviceInfo calls see no cl_khr_fp64 in CL_DEVICE_EXTENSIONS (nor cl_khr_fp64 or
 * __opencl_c_fp64 in CL_DEVICE_EXTENSIONS_WITH_VERSION and CL_DEVICE_OPENCL_C_FEATURES), a
 * CL_DEVICE_DOUBLE_FP_CONFIG of 0 and double vector widths of 0; and the programs it creates
 * start with a prelude that undefines cl_khr_fp64 and makes the double types undeclared, so a
 * kernel that uses double fails to build, as it would on such a device. The test's own calls
 * still see the real device. */
void clf_hide_fp64(int on);

/* clBuildProgram calls libclmse made since the process started. */
size_t clf_builds(void);
/* Copies the options of the i-th of them (0-based) into buf; returns 1 if its program was
 * created with fp64 hidden, 0 if not, -1 if that build is no longer kept (only the last
 * CLF_KEPT_BUILDS are). */
#define CLF_KEPT_BUILDS 256
int clf_build_options(size_t i, char *buf, size_t cap);

/* 1 once interposition is seen to work: libclmse is loaded and its OpenCL imports bind here. */
int clf_active(void);
/* Writes the names of OpenCL functions libclmse imports that do not bind to this shim
 * (space-separated) and returns how many there are: their calls would escape injection.
 * *imports is set to the number of OpenCL import relocations examined. */
size_t clf_uncovered(char *buf, size_t cap, size_t *imports);

#endif /* CLMSE_TESTS_CL_FAULT_H */
