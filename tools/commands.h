/* SPDX-License-Identifier: MIT */
/* The subcommands of the clmse tool and the exit codes they share with main(). */
#ifndef CLMSE_TOOLS_COMMANDS_H
#define CLMSE_TOOLS_COMMANDS_H

enum {
    CLI_EXIT_OK = 0,      /* success */
    CLI_EXIT_RUNTIME = 1, /* the library, OpenCL or a result check failed */
    CLI_EXIT_USAGE = 2    /* the command line, or an input file it names, was wrong */
};

/* Each takes its own argv: argv[0] is the subcommand name, options follow. */
int cmd_info(int argc, char **argv);
int cmd_loss(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_selftest(int argc, char **argv);

#endif /* CLMSE_TOOLS_COMMANDS_H */
