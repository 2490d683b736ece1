/* SPDX-License-Identifier: MIT */
/* Command-line parsing and error-reporting helpers shared by the clmse subcommands and
 * clmse-bench (bench/). */
#include "options.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

const char *cli_program = "clmse";

/* "PROGRAM[ CMD]: " on stderr. */
static void print_prefix(const char *cmd)
{
    fprintf(stderr, "%s%s%s: ", cli_program, cmd ? " " : "", cmd ? cmd : "");
}

int cli_is_help(const char *arg) { return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0; }

int cli_option_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *arg = argv[*i];
    size_t len = strlen(name);

    if (strncmp(arg, name, len) != 0)
        return 0;
    if (arg[len] == '=') {
        *value = arg + len + 1;
        return 1;
    }
    if (arg[len] != '\0')
        return 0; /* "--devices" is not "--device" */
    *value = NULL;
    if (*i + 1 < argc)
        *value = argv[++*i];
    return 1;
}

int cli_parse_count(const char *cmd, const char *option, const char *text, size_t max, size_t *out)
{
    char *end = NULL;
    unsigned long long value;

    /* strtoull would skip blanks and accept a sign, silently turning "-1" into 2^64-1. */
    if (!text || text[0] < '0' || text[0] > '9')
        return cli_usage_error(cmd, "option '%s' needs a positive whole number, not '%s'", option,
                               text ? text : "");
    errno = 0;
    value = strtoull(text, &end, 10);
    if (*end != '\0' || (value == 0 && errno == 0))
        return cli_usage_error(cmd, "option '%s' needs a positive whole number, not '%s'", option,
                               text);
    if (errno == ERANGE || value > max)
        return cli_usage_error(cmd, "option '%s': %s is too large (at most %zu)", option, text,
                               max);
    *out = (size_t)value;
    return 0;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    print_prefix(cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun '%s%s%s --help' for usage.\n", cli_program, cmd ? " " : "",
            cmd ? cmd : "");
    return CLI_EXIT_USAGE;
}

int cli_unknown_argument(const char *cmd, const char *arg)
{
    if (arg[0] == '-')
        return cli_usage_error(cmd, "unknown option '%s'", arg);
    return cli_usage_error(cmd, "unexpected argument '%s'", arg);
}

const char *cli_cl_error_name(cl_int err)
{
    switch (err) {
    case CL_MEM_OBJECT_ALLOCATION_FAILURE:
        return " (CL_MEM_OBJECT_ALLOCATION_FAILURE)";
    case CL_OUT_OF_RESOURCES:
        return " (CL_OUT_OF_RESOURCES)";
    case CL_OUT_OF_HOST_MEMORY:
        return " (CL_OUT_OF_HOST_MEMORY)";
    case CL_INVALID_VALUE:
        return " (CL_INVALID_VALUE)";
    case CL_INVALID_BUFFER_SIZE:
        return " (CL_INVALID_BUFFER_SIZE)";
    case CL_BUILD_PROGRAM_FAILURE:
        return " (CL_BUILD_PROGRAM_FAILURE)";
    default:
        return "";
    }
}

int cli_report_status(const char *cmd, clmse_status st, const clmse_context *ctx, const char *what)
{
    const char *details = clmse_context_last_error(ctx);

    print_prefix(cmd);
    if (what)
        fprintf(stderr, "%s: ", what);
    fputs(clmse_status_string(st), stderr);
    if (details[0]) {
        /* One line: each run of white space that holds a line break (a build log's) becomes
         * one space. */
        fputs(": ", stderr);
        for (const char *p = details; *p; p++) {
            if (*p == '\n' || *p == '\r') {
                while (p[1] == '\n' || p[1] == '\r' || p[1] == ' ' || p[1] == '\t')
                    p++;
                if (p[1])
                    fputc(' ', stderr);
                continue;
            }
            fputc(*p, stderr);
        }
    }
    fputc('\n', stderr);
    return CLI_EXIT_RUNTIME;
}

int cli_report_cl(const char *cmd, const char *call, cl_int err)
{
    print_prefix(cmd);
    fprintf(stderr, "%s: %s returned %d%s\n", clmse_status_string(CLMSE_ERROR_OPENCL), call,
            (int)err, cli_cl_error_name(err));
    return CLI_EXIT_RUNTIME;
}
