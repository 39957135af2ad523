/*
 * main(): global options (before or after the command), the command table, configuration,
 * signals, the begin/end log lines, and the one place that prints the final error and turns its
 * category into the exit status.
 */
#include "cmd.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

#include "banned.h"

static volatile sig_atomic_t cancelled;

static const struct cmd_def commands[] = {
    {"generate", cmd_generate, cmd_generate_usage, "write the 1/3/5/7-day reports"},
};

static void
usage(FILE *f)
{
    fprintf(f, "usage: jobreport [global options] <command> [options]\n"
               "\n"
               "commands:\n");
    for (size_t i = 0; i < JR_ARRAY_LEN(commands); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "  %-10s %s\n", "help", "show a command's options");
    fprintf(f, "\n"
               "global options:\n"
               "  --bucket BUCKET         job files and reports: s3://NAME or a directory\n"
               "  -v, --verbose           log progress (-vv: debug)\n"
               "  -q, --quiet             log errors only\n"
               "  --log-format text|json  log line format (default text)\n"
               "  --lock-timeout SECONDS  wait this long for another run's lock (default 0)\n"
               "  -h, --help              show this help\n"
               "  --version               show the version\n"
               "\n"
               "See jobreport(1) for configuration, exit status and examples.\n");
}

static const struct cmd_def *
find_command(const char *name)
{
    for (size_t i = 0; i < JR_ARRAY_LEN(commands); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void
on_signal(int sig)
{
    (void)sig;
    cancelled = 1;
}

static void
install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND; /* a second signal ends the process at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

JR_PRINTF(1, 2) static int fail_usage(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "jobreport: error: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nhint: see 'jobreport --help'\n");
    return 2;
}

static const char *
env_get(const char *name)
{
    return getenv(name);
}

/* Match a global option taking a value: "--name VALUE" or "--name=VALUE". */
static int
take_value(int argc, char **argv, int *i, const char *name, const char **out)
{
    size_t len = strlen(name);
    const char *a = argv[*i];

    if (strncmp(a, name, len) != 0)
        return 0;
    if (a[len] == '=') {
        *out = a + len + 1;
        return 1;
    }
    if (a[len] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *out = argv[++*i];
    return 1;
}

static int
parse_lock_timeout(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);

    if (end == s || *end || v < 0 || v > 86400)
        return -1;
    *out = v;
    return 0;
}

int
main(int argc, char **argv)
{
    struct jr_ctx ctx;
    struct jr_err err = JR_ERR_INIT;
    const struct cmd_def *cmd = NULL;
    char **cargv = calloc((size_t)argc + 1, sizeof(char *));
    int cargc = 0;
    int verbose = 0;
    bool quiet = false;
    const char *log_format = getenv("JOBREPORT_LOG_FORMAT");
    const char *log_level = getenv("JOBREPORT_LOG_LEVEL");
    enum log_level level = LOG_LEVEL_WARN;
    enum log_format format = LOG_FORMAT_TEXT;
    bool want_help = false;
    struct buf opts = BUF_INIT;
    int status;
    int rc;

    if (!cargv)
        return 1;
    status = 0;
    memset(&ctx, 0, sizeof(ctx));
    ctx.started = window_now();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        int t;

        if (strcmp(a, "--") == 0) {
            while (i < argc)
                cargv[cargc++] = argv[i++];
            break;
        }
        if ((t = take_value(argc, argv, &i, "--bucket", &v)) != 0 ||
            (t = take_value(argc, argv, &i, "--log-format", &log_format)) != 0 ||
            (t = take_value(argc, argv, &i, "--lock-timeout", &v)) != 0) {
            if (t < 0) {
                status = fail_usage("option '%s' needs a value", a);
                goto done;
            }
            if (strncmp(a, "--bucket", 8) == 0)
                ctx.bucket_flag = v;
            else if (strncmp(a, "--lock-timeout", 14) == 0 &&
                     parse_lock_timeout(v, &ctx.lock_timeout_s) < 0) {
                status = fail_usage("invalid --lock-timeout '%s': expected seconds", v);
                goto done;
            }
            continue;
        }
        if (strcmp(a, "--verbose") == 0 ||
            (a[0] == '-' && a[1] == 'v' && a[strspn(a + 1, "v") + 1] == '\0')) {
            verbose += a[1] == '-' ? 1 : (int)strlen(a) - 1;
            continue;
        }
        if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            quiet = true;
            continue;
        }
        if (!cmd) {
            if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                usage(stdout);
                goto done;
            }
            if (strcmp(a, "--version") == 0) {
                printf("jobreport %s\n", JR_VERSION);
                goto done;
            }
            if (a[0] == '-') {
                status = fail_usage("unknown global option '%s'", a);
                goto done;
            }
            if (strcmp(a, "help") == 0) {
                const struct cmd_def *h = i + 1 < argc ? find_command(argv[i + 1]) : NULL;

                if (i + 1 < argc && !h) {
                    status = fail_usage("unknown command '%s'", argv[i + 1]);
                    goto done;
                }
                if (h)
                    h->usage(stdout);
                else
                    usage(stdout);
                goto done;
            }
            cmd = find_command(a);
            if (!cmd) {
                status = fail_usage("unknown command '%s'", a);
                goto done;
            }
            cargv[cargc++] = argv[i];
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
            want_help = true;
        cargv[cargc++] = argv[i];
    }
    if (!cmd) {
        usage(stderr);
        status = 2;
        goto done;
    }
    if (want_help) {
        cmd->usage(stdout);
        goto done;
    }

    if (log_level && *log_level && log_level_parse(log_level, &level) < 0) {
        status = fail_usage(
            "invalid JOBREPORT_LOG_LEVEL '%s': expected error, warning, info or debug", log_level);
        goto done;
    }
    if (verbose == 1)
        level = LOG_LEVEL_INFO;
    else if (verbose > 1)
        level = LOG_LEVEL_DEBUG;
    if (quiet)
        level = LOG_LEVEL_ERROR;
    if (log_format && *log_format && log_format_parse(log_format, &format) < 0) {
        status = fail_usage("invalid --log-format '%s': expected text or json", log_format);
        goto done;
    }
    log_setup(level, format);

    ctx.cancelled = &cancelled;
    ctx.stdout_tty = isatty(STDOUT_FILENO);
    ctx.stderr_tty = isatty(STDERR_FILENO);
    install_signals();

    for (int i = 1; i < cargc; i++)
        buf_printf(&opts, "%s%s", i > 1 ? " " : "", cargv[i]);
    log_info("%s: begin (%s)", cmd->name, opts.len ? buf_cstr(&opts) : "no options");
    buf_release(&opts);

    if (config_load(&ctx.cfg, ctx.bucket_flag, env_get, &err) < 0) {
        rc = -1;
    } else {
        optind = 0;
        rc = cmd->fn(cargc, cargv, &ctx, &err);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (rc == 0 || err.code == JR_OK)
            jr_err_set(&err, JR_E_IO, "cannot write to standard output");
        rc = -1;
    }
    status = rc < 0 ? jr_err_exit_status(err.code == JR_OK ? JR_E_INTERNAL : err.code) : 0;
    if (rc < 0) {
        fprintf(stderr, "jobreport: error: %s\n", err.msg[0] ? err.msg : "unknown failure");
        log_info("%s: end: failed (exit %d, %.1fs)", cmd->name, status,
                 (double)(window_now() - ctx.started) / 1e6);
    } else {
        log_info("%s: end: completed (%.1fs)", cmd->name,
                 (double)(window_now() - ctx.started) / 1e6);
    }
    config_release(&ctx.cfg);
done:
    free(cargv);
    return status;
}
