/* SPDX-License-Identifier: MIT */
/* The kernel sources embedded at build time by cmake/embed_cl.cmake, in assembly order. */
#ifndef CLMSE_KERNELS_H
#define CLMSE_KERNELS_H

#include <stddef.h>

#define CLMSE__DECLARE_CL(name)                     \
    extern const char clmse__cl_##name[];           \
    extern const size_t clmse__cl_##name##_len;     \
    extern const char clmse__cl_##name##_sha256[];

CLMSE__DECLARE_CL(common)
CLMSE__DECLARE_CL(reduce)
CLMSE__DECLARE_CL(mse)
CLMSE__DECLARE_CL(mse_nd)

typedef struct clmse__kernel_file {
    const char *name; /* file name under cl/ (and under $CLMSE_KERNEL_DIR) */
    const char *text;
    const size_t *len;
} clmse__kernel_file;

/* common.cl defines what the others use; reduce.cl's helpers come before mse.cl uses them. */
static const clmse__kernel_file clmse__kernel_files[] = {
    {"common.cl", clmse__cl_common, &clmse__cl_common_len},
    {"reduce.cl", clmse__cl_reduce, &clmse__cl_reduce_len},
    {"mse.cl", clmse__cl_mse, &clmse__cl_mse_len},
    {"mse_nd.cl", clmse__cl_mse_nd, &clmse__cl_mse_nd_len},
};

#endif /* CLMSE_KERNELS_H */
