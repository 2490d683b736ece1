/* SPDX-License-Identifier: MIT */
/* Suite constructors; each suite's name equals its CTest CK_RUN_SUITE value. */
#ifndef CLMSE_TESTS_SUITES_H
#define CLMSE_TESTS_SUITES_H

#include <check.h>

/* host runner: no OpenCL device needed */
Suite *make_status_suite(void);
Suite *make_npy_suite(void);
Suite *make_tensor_suite(void);
Suite *make_partial_suite(void);
Suite *make_no_platform_suite(void);

/* device runner */
Suite *make_context_suite(void);
Suite *make_mse_suite(void);
Suite *make_errors_suite(void);
Suite *make_clblast_suite(void); /* built with CLMSE_TEST_HAVE_CLBLAST (CLBlast found) */
Suite *make_tensor_f32_suite(void);
Suite *make_tensor_broadcast_suite(void);
Suite *make_tensor_strides_suite(void);
Suite *make_tensor_dtypes_suite(void);
Suite *make_tensor_edge_suite(void);
Suite *make_tensor_events_suite(void);
Suite *make_tensor_errors_suite(void);
Suite *make_stress_suite(void);
Suite *make_lifecycle_suite(void);
Suite *make_plan_suite(void);
Suite *make_portability_suite(void);
Suite *make_host_tensor_suite(void);
Suite *make_shards_suite(void);

/* fault runner: interposes on libclmse's OpenCL calls */
Suite *make_fault_inject_suite(void);
Suite *make_fault_no_fp64_suite(void);
Suite *make_fault_lifecycle_suite(void);

#endif /* CLMSE_TESTS_SUITES_H */
