/*
 * The command table and what every command receives. cmd/jobreport.c parses the global options,
 * loads the configuration, installs the signal handlers and dispatches; each cmd/<name>.c parses
 * its own options and prints its own usage.
 */
#ifndef JR_CMD_H
#define JR_CMD_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "err.h"
#include "window.h"

/* Per-run context, passed to every command. */
struct jr_ctx {
    struct jr_config cfg;
    const char *bucket_flag;          /* global --bucket, or NULL */
    double lock_timeout_s;            /* global --lock-timeout */
    volatile sig_atomic_t *cancelled; /* set by SIGINT/SIGTERM */
    bool stdout_tty;
    bool stderr_tty;
    jr_usec started;
};

struct cmd_def {
    const char *name;
    int (*fn)(int argc, char **argv, struct jr_ctx *ctx, struct jr_err *err);
    void (*usage)(FILE *f);
    const char *summary;
};

/*
 * Commands: argv[0] is the command name; options follow. Return 0 on success or -1 with err set
 * (its code becomes the exit status; JR_E_PARTIAL for partial success).
 */
int cmd_generate(int argc, char **argv, struct jr_ctx *ctx, struct jr_err *err);
void cmd_generate_usage(FILE *f);

#endif
