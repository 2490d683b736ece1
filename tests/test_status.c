/* SPDX-License-Identifier: MIT */
/* Status strings and version: pure host code that must work with no OpenCL platform at all. */
#include "clmse.h"
#include "suites.h"

#include <stdio.h>
#include <string.h>

#define UNKNOWN_TEXT "unknown clmse status"

static const struct {
    clmse_status status;
    const char *name;
} k_statuses[] = {
#define ENTRY_(name, value, text) {CLMSE_##name, #name},
    CLMSE_STATUS_MAP(ENTRY_)
#undef ENTRY_
};
#define N_STATUSES (sizeof k_statuses / sizeof k_statuses[0])

static int is_known(int value)
{
    for (size_t i = 0; i < N_STATUSES; i++)
        if ((int)k_statuses[i].status == value)
            return 1;
    return 0;
}

START_TEST(test_every_status_has_text)
{
    for (size_t i = 0; i < N_STATUSES; i++) {
        const char *s = clmse_status_string(k_statuses[i].status);
        ck_assert_msg(s != NULL, "%s: NULL", k_statuses[i].name);
        ck_assert_msg(s[0] != '\0', "%s: empty", k_statuses[i].name);
        ck_assert_msg(strcmp(s, UNKNOWN_TEXT) != 0, "%s: reported as unknown", k_statuses[i].name);
        /* Distinct texts, or a log line could not tell two failures apart. */
        for (size_t j = 0; j < i; j++)
            ck_assert_msg(strcmp(s, clmse_status_string(k_statuses[j].status)) != 0,
                          "%s and %s share the text \"%s\"", k_statuses[i].name, k_statuses[j].name,
                          s);
    }
}
END_TEST

START_TEST(test_unknown_status)
{
    ck_assert_str_eq(clmse_status_string((clmse_status)12345), UNKNOWN_TEXT);
    ck_assert_str_eq(clmse_status_string((clmse_status)-1), UNKNOWN_TEXT);
    /* The gaps inside the numbering are unknown too, not neighbours' texts. */
    for (int v = 0; v < 1000; v++) {
        if (is_known(v))
            continue;
        const char *s = clmse_status_string((clmse_status)v);
        ck_assert_msg(s != NULL && strcmp(s, UNKNOWN_TEXT) == 0, "status %d gave \"%s\"", v,
                      s ? s : "(null)");
    }
}
END_TEST

START_TEST(test_version)
{
    ck_assert_uint_eq(clmse_version_number(), CLMSE_VERSION_NUMBER);
    ck_assert_ptr_nonnull(clmse_version());
    ck_assert_str_eq(clmse_version(), CLMSE_VERSION_STRING);
    unsigned major = 0, minor = 0, patch = 0;
    ck_assert_int_eq(sscanf(clmse_version(), "%u.%u.%u", &major, &minor, &patch), 3);
    ck_assert_uint_eq(major * 10000 + minor * 100 + patch, clmse_version_number());
}
END_TEST

/* Bindings compare these with their mirrors of the structs (python/clmse/_lib.py). */
START_TEST(test_struct_size)
{
    ck_assert_uint_eq(clmse_struct_size("clmse_device_info"), sizeof(clmse_device_info));
    ck_assert_uint_eq(clmse_struct_size("clmse_context_options"), sizeof(clmse_context_options));
    ck_assert_uint_eq(clmse_struct_size("clmse_tensor"), sizeof(clmse_tensor));
    ck_assert_uint_eq(clmse_struct_size("clmse_mse_args"), sizeof(clmse_mse_args));
    ck_assert_uint_eq(clmse_struct_size("clmse_host_tensor"), sizeof(clmse_host_tensor));
    ck_assert_uint_eq(clmse_struct_size("clmse_host_mse_args"), sizeof(clmse_host_mse_args));
    ck_assert_uint_eq(clmse_struct_size("clmse_tensor "), 0);
    ck_assert_uint_eq(clmse_struct_size("clmse_context"), 0); /* opaque: no size to mirror */
    ck_assert_uint_eq(clmse_struct_size(""), 0);
    ck_assert_uint_eq(clmse_struct_size(NULL), 0);
}
END_TEST

Suite *make_status_suite(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_every_status_has_text);
    tcase_add_test(tc, test_unknown_status);
    tcase_add_test(tc, test_version);
    tcase_add_test(tc, test_struct_size);
    suite_add_tcase(s, tc);
    return s;
}
