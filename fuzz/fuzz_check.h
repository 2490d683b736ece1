/* SPDX-License-Identifier: MIT */
/* What the fuzz targets share: libFuzzer's entry point and a check that survives NDEBUG. */
#ifndef CLMSE_FUZZ_CHECK_H
#define CLMSE_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not assert(): it must hold in release builds too, and name the failing condition. */
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                 \
        }                                                                            \
    } while (0)

#endif /* CLMSE_FUZZ_CHECK_H */
