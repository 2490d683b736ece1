/* SPDX-License-Identifier: MIT */
/* Status names and version queries: static data generated from the header's one list. */
#include "internal.h"

const char *clmse_status_string(clmse_status status)
{
    switch (status) {
#define CLMSE_STATUS_CASE_(name, value, text) \
    case CLMSE_##name:                        \
        return text;
        CLMSE_STATUS_MAP(CLMSE_STATUS_CASE_)
#undef CLMSE_STATUS_CASE_
    }
    return "unknown clmse status";
}

const char *clmse_version(void) { return CLMSE_VERSION_STRING; }

unsigned clmse_version_number(void) { return CLMSE_VERSION_NUMBER; }
