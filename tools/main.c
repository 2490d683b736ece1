/* SPDX-License-Identifier: MIT */
/* Entry point of the clmse tool: subcommand dispatch, usage text and exit codes. */
#include <stdio.h>
#include <string.h>

#include "clmse.h"
#include "commands.h"
#include "options.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"info", cmd_info, "show the library version, every OpenCL device and the one clmse picks"},
    {"loss", cmd_loss, "MSE loss of two .npy files, and its gradients, written as .npy"},
    {"demo", cmd_demo, "check two worked examples, then time the fused forward+backward"},
    {"tune", cmd_tune, "time candidate launch plans and write the device's tuning file"},
    {"selftest", cmd_selftest,
     "check every operation, dtype and launch plan against known answers"},
};

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void usage(FILE *out)
{
    fprintf(out, "clmse %s: PyTorch's nn.MSELoss on OpenCL devices\n\n", clmse_version());
    fputs("Usage: clmse <command> [options]\n"
          "       clmse loss INPUT.npy TARGET.npy [--reduction mean|sum|none] [--out LOSS.npy]\n"
          "                  [--grad-output G.npy] [--grad-input GI.npy] [--grad-target GT.npy]\n"
          "                  [--device SPEC] [--strict-shapes]\n"
          "       clmse tune [--device SPEC] [--dtype f32|f64] [--output FILE] [--quick]\n"
          "                  [--dry-run]\n"
          "       clmse selftest [--device SPEC] [--quick]\n"
          "       clmse help [command] | --help | --version\n\n"
          "Commands:\n",
          out);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fputs("  help     show this help, or a command's with 'clmse help <command>'\n\n"
          "Common options:\n"
          "  --device SPEC  gpu, cpu, accelerator, P:D (as listed by 'clmse info'), or part of\n"
          "                 a device name; default: $CLMSE_DEVICE, else the first GPU, else the\n"
          "                 first accelerator, else the first device\n"
          "  --help         show the command's options\n\n"
          "Exit status: 0 success, 1 runtime or device error, 2 usage error or bad input file.\n",
          out);
}

int main(int argc, char **argv)
{
    /* Subcommands parse argv themselves; this one-element argv asks one for its help. */
    static char help_flag[] = "--help";
    const command *cmd;

    if (argc < 2 || cli_is_help(argv[1])) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        if (argc > 2)
            return cli_unknown_argument(NULL, argv[2]);
        printf("clmse %s\n", clmse_version());
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "help") == 0) {
        char *help_argv[3] = {NULL, help_flag, NULL};

        if (argc == 2) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if (argc > 3)
            return cli_unknown_argument(NULL, argv[3]);
        cmd = find_command(argv[2]);
        if (!cmd)
            return cli_usage_error(NULL, "unknown command '%s'", argv[2]);
        help_argv[0] = argv[2];
        return cmd->run(2, help_argv);
    }
    cmd = find_command(argv[1]);
    if (!cmd && strcmp(argv[1], "bench") == 0) {
        /* The benchmark links CLBlast and OpenMP, which the clmse tool and package do not. */
        fputs("clmse: 'clmse bench' moved to its own program, clmse-bench: run\n"
              "'bench/clmse-bench --help' in a clmse build tree (see README.md, Performance).\n",
              stderr);
        return CLI_EXIT_USAGE;
    }
    if (!cmd) {
        if (argv[1][0] == '-')
            return cli_usage_error(NULL, "unknown option '%s'", argv[1]);
        return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
    }
    return cmd->run(argc - 1, argv + 1);
}
