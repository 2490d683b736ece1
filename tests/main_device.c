/* SPDX-License-Identifier: MIT */
/* Runner for the suites that need an OpenCL device; exits 77 (CTest skip) when there is none. */
#include "helpers.h"
#include "suites.h"

int main(void)
{
    int gate = th_device_gate();
    if (gate >= 0)
        return gate;
    SRunner *sr = srunner_create(make_context_suite());
    srunner_add_suite(sr, make_mse_suite());
    srunner_add_suite(sr, make_errors_suite());
#ifdef CLMSE_TEST_HAVE_CLBLAST
    srunner_add_suite(sr, make_clblast_suite());
#endif
    srunner_add_suite(sr, make_tensor_f32_suite());
    srunner_add_suite(sr, make_tensor_broadcast_suite());
    srunner_add_suite(sr, make_tensor_strides_suite());
    srunner_add_suite(sr, make_tensor_dtypes_suite());
    srunner_add_suite(sr, make_tensor_edge_suite());
    srunner_add_suite(sr, make_tensor_events_suite());
    srunner_add_suite(sr, make_tensor_errors_suite());
    srunner_add_suite(sr, make_stress_suite());
    srunner_add_suite(sr, make_lifecycle_suite());
    srunner_add_suite(sr, make_plan_suite());
    srunner_add_suite(sr, make_portability_suite());
    srunner_add_suite(sr, make_host_tensor_suite());
    srunner_add_suite(sr, make_shards_suite());
    return th_run_suites(sr, "device");
}
