/* SPDX-License-Identifier: MIT */
/* The kernel sources embedded at build time by cmake/embed_cl.cmake, and for each program kind
 * the files it is assembled from, in order (generated from the list in src/CMakeLists.txt). */
#ifndef CLMSE_KERNELS_H
#define CLMSE_KERNELS_H

#include <stddef.h>

typedef struct clmse__kernel_file {
    const char *name; /* file name under cl/ (and under $CLMSE_KERNEL_DIR) */
    const char *text;
    const size_t *len;
} clmse__kernel_file;

/* clmse__program_contiguous[] and clmse__program_strided[] */
#include "cl_programs.h"

#endif /* CLMSE_KERNELS_H */
