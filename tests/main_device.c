/* SPDX-License-Identifier: MIT */
/* Runner for the suites that need an OpenCL device; exits 77 (CTest skip) when there is none. */
#include "clmse.h"
#include "suites.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { PROBE_DEVICE = 0, PROBE_NONE = 1, PROBE_ERROR = 2 };

static int probe_in_process(void)
{
    size_t count = 0;
    clmse_status st = clmse_device_count(&count);
    if (st == CLMSE_SUCCESS)
        return count > 0 ? PROBE_DEVICE : PROBE_NONE;
    fprintf(stderr, "clmse_device_count: %s: %s\n", clmse_status_string(st),
            clmse_context_last_error(NULL));
    return st == CLMSE_ERROR_NO_PLATFORM ? PROBE_NONE : PROBE_ERROR;
}

/* Probes in a child so this process never loads the OpenCL runtime before Check forks:
 * runtimes that start worker threads at init do not survive fork (openmm/openmm#1886). */
static int probe_devices(void)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return probe_in_process();
    if (pid == 0)
        _exit(probe_in_process());
    int ws = 0;
    if (waitpid(pid, &ws, 0) != pid || !WIFEXITED(ws))
        return PROBE_ERROR;
    return WEXITSTATUS(ws);
}

int main(void)
{
    int probe = probe_devices();
    if (probe == PROBE_NONE) {
        const char *req = getenv("CLMSE_REQUIRE_DEVICE");
        if (req && strcmp(req, "1") == 0) {
            fprintf(stderr, "no OpenCL device, and CLMSE_REQUIRE_DEVICE=1\n");
            return EXIT_FAILURE;
        }
        fprintf(stderr, "no OpenCL platform or device: skipping\n");
        return 77;
    }
    /* A probe error still runs the suites: they report the failure in detail. */

    SRunner *sr = srunner_create(make_context_suite());
    srunner_add_suite(sr, make_mse_suite());
    srunner_add_suite(sr, make_errors_suite());
    srunner_add_suite(sr, make_clblast_suite());
    srunner_add_suite(sr, make_tensor_mse_suite());
    srunner_add_suite(sr, make_stress_suite());
    srunner_add_suite(sr, make_lifecycle_suite());
    srunner_run_all(sr, CK_ENV);
    int run = srunner_ntests_run(sr);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (run == 0) {
        const char *only = getenv("CK_RUN_SUITE");
        fprintf(stderr, "no test ran: CK_RUN_SUITE=%s names no device suite\n",
                only ? only : "(unset)");
        return EXIT_FAILURE;
    }
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
