/* SPDX-License-Identifier: MIT */
/* Runner for the fault-injection suites, whose executable interposes on libclmse's OpenCL calls
 * (fault/cl_fault.c); exits 77 (CTest skip) without a device. */
#include "helpers.h"
#include "suites.h"

int main(void)
{
    int gate = th_device_gate();
    if (gate >= 0)
        return gate;
    SRunner *sr = srunner_create(make_fault_inject_suite());
    srunner_add_suite(sr, make_fault_no_fp64_suite());
    srunner_add_suite(sr, make_fault_lifecycle_suite());
    return th_run_suites(sr, "fault");
}
