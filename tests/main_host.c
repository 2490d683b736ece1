/* SPDX-License-Identifier: MIT */
/* Runner for the suites that need no OpenCL device; CK_RUN_SUITE picks one. */
#include "suites.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    const char *only = getenv("CK_RUN_SUITE");
    SRunner *sr = srunner_create(make_status_suite());
    srunner_add_suite(sr, make_npy_suite());
    srunner_add_suite(sr, make_tensor_suite());
    srunner_add_suite(sr, make_partial_suite());
    /* no_platform asserts that no platform exists, so it only runs where CTest hides them. */
    if (only && strcmp(only, "no_platform") == 0)
        srunner_add_suite(sr, make_no_platform_suite());
    srunner_run_all(sr, CK_ENV);
    int run = srunner_ntests_run(sr);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (run == 0) {
        fprintf(stderr, "no test ran: CK_RUN_SUITE=%s names no host suite\n",
                only ? only : "(unset)");
        return EXIT_FAILURE;
    }
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
