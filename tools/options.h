/* SPDX-License-Identifier: MIT */
/* Command-line parsing and error-reporting helpers shared by the clmse subcommands and
 * clmse-bench (bench/). */
#ifndef CLMSE_TOOLS_OPTIONS_H
#define CLMSE_TOOLS_OPTIONS_H

#include <stddef.h>

#include "clmse.h" /* cl_int */

#if defined(__GNUC__) || defined(__clang__)
#define CLI_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CLI_PRINTF(fmt, args)
#endif

/* The program named in messages: "clmse" (the default) or "clmse-bench". */
extern const char *cli_program;

/* Nonzero for "--help" and "-h". */
int cli_is_help(const char *arg);

/*
 * Matches argv[*i] against an option that takes a value, as "NAME VALUE" or "NAME=VALUE".
 * Returns 0 when it is another argument. Otherwise returns 1, sets *value (NULL when the value
 * is missing) and advances *i past a separate value.
 */
int cli_option_value(int argc, char **argv, int *i, const char *name, const char **value);

/* Parses a whole number in [1, max]: digits only, fully consumed. Returns 0 on success and
 * reports a usage error naming `option` otherwise (then returns CLI_EXIT_USAGE). */
int cli_parse_count(const char *cmd, const char *option, const char *text, size_t max, size_t *out);

/* Reports a usage error for `PROGRAM CMD` (CMD may be NULL) on stderr with a --help hint.
 * Returns CLI_EXIT_USAGE so callers can `return cli_usage_error(...)`. */
int cli_usage_error(const char *cmd, const char *fmt, ...) CLI_PRINTF(2, 3);

/* cli_usage_error() for an argument nobody claimed: "unknown option" or "unexpected argument". */
int cli_unknown_argument(const char *cmd, const char *arg);

/* " (CL_NAME)" for the OpenCL errors the tool's own buffer and program calls may meet, else "".
 * The library has its own table (src/error.c) but does not export it: tools use the public API
 * only (STYLE.md R23), so the CLI and clmse-bench share this one. */
const char *cli_cl_error_name(cl_int err);

/* Prints "PROGRAM[ CMD]: [WHAT: ]<status text>[: <last error of ctx>]" as one line on stderr
 * (WHAT may be NULL; ctx may be NULL for the thread's last error). Returns CLI_EXIT_RUNTIME. */
int cli_report_status(const char *cmd, clmse_status st, const clmse_context *ctx, const char *what);

/* An OpenCL call of the tool's own, in the same shape: "PROGRAM[ CMD]: <CLMSE_ERROR_OPENCL's
 * text>: CALL returned ERR (CL_NAME)". Returns CLI_EXIT_RUNTIME. */
int cli_report_cl(const char *cmd, const char *call, cl_int err);

#endif /* CLMSE_TOOLS_OPTIONS_H */
