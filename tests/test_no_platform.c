/* SPDX-License-Identifier: MIT */
/* With OCL_ICD_VENDORS=/nonexistent the loader lists no platform: every entry reports it. */
#include "clmse.h"
#include "suites.h"

#include <string.h>

static char g_dummy; /* a non-NULL value the library must overwrite with NULL */

START_TEST(test_context_create)
{
    clmse_context *ctx = (clmse_context *)&g_dummy;
    ck_assert_int_eq(clmse_context_create(NULL, &ctx), CLMSE_ERROR_NO_PLATFORM);
    ck_assert_ptr_null(ctx);
    ck_assert_str_ne(clmse_context_last_error(NULL), "");

    clmse_context_options opt;
    memset(&opt, 0, sizeof opt);
    opt.device = "cpu";
    ctx = (clmse_context *)&g_dummy;
    ck_assert_int_eq(clmse_context_create(&opt, &ctx), CLMSE_ERROR_NO_PLATFORM);
    ck_assert_ptr_null(ctx);
    ck_assert_str_ne(clmse_context_last_error(NULL), "");
}
END_TEST

START_TEST(test_device_enumeration)
{
    size_t count = 12345;
    ck_assert_int_eq(clmse_device_count(&count), CLMSE_ERROR_NO_PLATFORM);
    ck_assert_str_ne(clmse_context_last_error(NULL), "");

    clmse_device_info info;
    ck_assert_int_eq(clmse_device_get_info(0, &info), CLMSE_ERROR_NO_PLATFORM);
    size_t index = 0;
    ck_assert_int_eq(clmse_device_select("cpu", &index), CLMSE_ERROR_NO_PLATFORM);
    ck_assert_str_ne(clmse_context_last_error(NULL), "");
}
END_TEST

Suite *make_no_platform_suite(void)
{
    Suite *s = suite_create("no_platform");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_context_create);
    tcase_add_test(tc, test_device_enumeration);
    suite_add_tcase(s, tc);
    return s;
}
