/* SPDX-License-Identifier: MIT */
/* The sizes of the public structs, so that bindings mirroring them (python/clmse, through
 * ctypes) can refuse a library whose layout differs from theirs instead of corrupting memory. */
#include "internal.h"

#include <string.h>

size_t clmse_struct_size(const char *name)
{
    static const struct {
        const char *name;
        size_t size;
    } sizes[] = {
        {"clmse_device_info", sizeof(clmse_device_info)},
        {"clmse_context_options", sizeof(clmse_context_options)},
        {"clmse_tensor", sizeof(clmse_tensor)},
        {"clmse_mse_args", sizeof(clmse_mse_args)},
        {"clmse_host_tensor", sizeof(clmse_host_tensor)},
        {"clmse_host_mse_args", sizeof(clmse_host_mse_args)},
        {"clmse_partial", sizeof(clmse_partial)},
    };
    for (size_t i = 0; name != NULL && i < sizeof sizes / sizeof sizes[0]; i++)
        if (strcmp(name, sizes[i].name) == 0)
            return sizes[i].size;
    return 0;
}
