/* SPDX-License-Identifier: MIT */
/* Runner for the fault-injection suite, whose executable interposes on libclmse's OpenCL calls
 * (fault/cl_fault.c); exits 77 (CTest skip) without a device. */
#include "helpers.h"
#include "suites.h"

int main(void)
{
    int gate = th_device_gate();
    if (gate >= 0)
        return gate;
    return th_run_suites(srunner_create(make_fault_suite()), "fault");
}
