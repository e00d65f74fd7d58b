/* `bppipe conform NAME|PATH.so [-o KEY=VALUE]...`: the contract of include/bppipe/plugin.h run
 * against one plugin. The parent only loads the plugin (the loader's own checks) and validates
 * the options (the same validation as a pipeline's); every check then runs in a child process of
 * its own, in a fresh empty working directory, under an alarm, so a crash or a hang fails that
 * check and the kit goes on with the next. docs/conform.md lists what each check does. */
#define _GNU_SOURCE /* mkdtemp, strsignal */
#include "cli/commands.h"

#include "base/log.h"
#include "common/clock.h"
#include "config/options.h"
#include "conform/conform.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_USAGE 2
#define DEFAULT_TIMEOUT_S 60
#define DEFAULT_CYCLES 1000

static const cf_check common_head[] = {
    {"descriptor", cf_check_descriptor, false, 1},
    {"options", cf_check_options, false, 1},
    {"open_close", cf_check_open_close, false, 1},
    {"check_mode", cf_check_check_mode, true, 1},
};
static const cf_check detector_checks[] = {
    {"empty_batch", cf_check_detect_empty, true, 1},
    {"single_reading", cf_check_detect_single, true, 1},
    {"missing_values", cf_check_detect_missing, true, 1},
    {"odd_strings", cf_check_detect_odd, true, 1},
    {"verdicts", cf_check_detect_verdicts, true, 1},
    {"close_after_use", cf_check_detect_close, true, 1},
};
static const cf_check sink_checks[] = {
    {"empty_batch", cf_check_write_empty, true, 1},
    {"single_reading", cf_check_write_single, true, 1},
    {"missing_values", cf_check_write_missing, true, 1},
    {"odd_strings", cf_check_write_odd, true, 1},
    {"dead_letters", cf_check_write_dead_letters, true, 1},
    {"outcomes_retry", cf_check_write_outcomes, true, 1},
    {"flush_close", cf_check_write_flush_close, true, 1},
};
static const cf_check source_checks[] = {
    /* commit_order right after capacity: a member that left a consumer group before it was
     * assigned anything (timeout polls briefly) can hold the next join up for its session. */
    {"capacity", cf_check_poll_capacity, true, 1},
    {"commit_order", cf_check_poll_commit, true, 1},
    {"timeout", cf_check_poll_timeout, true, 1},
    {"close_after_use", cf_check_poll_close, true, 1},
};
static const cf_check reload_check = {"reload", cf_check_reload, true, 1};
static const cf_check cycles_check = {"cycles", cf_check_cycles, true, 10};

#define MAX_CHECKS 20

/* The checks for `d`, in the order they run. */
static size_t plan(const bp_plugin *d, cf_check *out)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof common_head / sizeof common_head[0]; i++)
        out[n++] = common_head[i];
    const cf_check *k = d->kind == BP_KIND_DETECTOR ? detector_checks
                        : d->kind == BP_KIND_SINK   ? sink_checks
                                                    : source_checks;
    size_t nk = d->kind == BP_KIND_DETECTOR ? sizeof detector_checks / sizeof detector_checks[0]
                : d->kind == BP_KIND_SINK   ? sizeof sink_checks / sizeof sink_checks[0]
                                            : sizeof source_checks / sizeof source_checks[0];
    for (size_t i = 0; i < nk; i++)
        out[n++] = k[i];
    if (BP_DESC_HAS(d, reload) && d->reload)
        out[n++] = reload_check;
    out[n++] = cycles_check;
    return n;
}

/* Keeps only the checks named by --check (all when none is); an unknown name is an error that
 * lists the checks of this plugin. */
static int select_checks(cf_check *checks, size_t *n, const char **only, size_t n_only)
{
    for (size_t k = 0; k < n_only; k++) {
        bool known = false;
        for (size_t i = 0; i < *n; i++)
            known |= strcmp(checks[i].name, only[k]) == 0;
        if (!known) {
            fprintf(stderr, "error: --check %s: this plugin's checks are", only[k]);
            for (size_t i = 0; i < *n; i++)
                fprintf(stderr, "%s %s", i ? "," : "", checks[i].name);
            fputc('\n', stderr);
            return -1;
        }
    }
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++) {
        bool wanted = n_only == 0;
        for (size_t k = 0; k < n_only; k++)
            wanted |= strcmp(checks[i].name, only[k]) == 0;
        if (wanted)
            checks[kept++] = checks[i];
    }
    *n = kept;
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* Reads what the child reports until it closes its end or `deadline_ms` passes. */
static bool read_report(int fd, char *buf, size_t len, double deadline_ms)
{
    size_t got = 0;
    for (;;) {
        double left = deadline_ms - bp_now_s() * 1e3;
        if (left <= 0)
            return false;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, left > 1000 ? 1000 : (int)left + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        ssize_t n = read(fd, buf + got, len - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        if (got == len - 1) {
            /* Full of progress lines (1 000 cycles write 2 000): keep the last complete line
             * and what follows it, which may be the start of the report. */
            char *end = memrchr(buf, '\n', got);
            char *start = end ? memrchr(buf, '\n', (size_t)(end - buf)) : NULL;
            start = start ? start + 1 : end ? end + 1 : buf + got;
            got -= (size_t)(start - buf);
            memmove(buf, start, got);
        }
    }
    buf[got] = '\0';
    return true;
}

/* The child: a fresh working directory, standard output onto standard error (a plugin writing
 * to stdout must not garble the report), the alarm, the check, its report through the pipe,
 * and exit() so that a sanitizer's leak check runs at the end of the child too. */
#if defined(CF_TSAN)
static void *nothing(void *arg)
{
    return arg;
}
#endif

static void child(const cf_check *c, const cf_env *env, const char *dir, int fd, unsigned secs)
{
    dup2(STDERR_FILENO, STDOUT_FILENO);
    if (chdir(dir) != 0) {
        dprintf(fd, "Rfcannot enter the temporary folder %s: %s", dir, strerror(errno));
        exit(0);
    }
    cf_report_to(fd);
#if defined(CF_TSAN)
    /* ThreadSanitizer starts its background thread with the program's first thread: start it
     * now, so that a check counting threads does not count it as the plugin's. */
    pthread_t first;
    if (pthread_create(&first, NULL, nothing, NULL) == 0)
        pthread_join(first, NULL);
#endif
    signal(SIGALRM, SIG_DFL);
    alarm(secs);
    cf_out out = {{0}};
    cf_status st = c->fn(env, &out);
    dprintf(fd, "R%c%s", st == CF_PASS ? 'o' : st == CF_SKIP ? 's' : 'f', out.msg);
    close(fd);
    cf_report_to(-1);
    exit(0);
}

/* Splits what a check's process wrote: progress lines ("P...") and the final report ("R" and
 * a status letter and the message). `last` receives the last progress line, `report` the
 * report ("" when there is none: it crashed or hung). */
static void parse_report(char *buf, char **last, char **report)
{
    *last = *report = "";
    for (char *line = buf; *line;) {
        if (*line == 'R') {
            *report = line + 1;
            return;
        }
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (*line == 'P')
            *last = line + 1;
        if (!nl)
            return;
        line = nl + 1;
    }
}

/* Runs one check in a child and says what came of it in `out`. */
static cf_status run_check(const cf_check *c, const cf_env *env, unsigned timeout_s, cf_out *out)
{
    unsigned secs = timeout_s * c->timeout_factor;
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/bppipe-conform-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int p[2];
    if (!mkdtemp(dir))
        return cf_say(out, CF_FAIL, "kit: cannot make a temporary folder in %s: %s",
                      tmp && *tmp ? tmp : "/tmp", strerror(errno));
    if (pipe2(p, O_CLOEXEC) != 0) {
        rmdir(dir);
        return cf_say(out, CF_FAIL, "kit: pipe: %s", strerror(errno));
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        rmdir(dir);
        return cf_say(out, CF_FAIL, "kit: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(p[0]);
        child(c, env, dir, p[1], secs);
    }
    close(p[1]);
    static char buf[16384];
    bool in_time = read_report(p[0], buf, sizeof buf, bp_now_s() * 1e3 + secs * 1e3 + 5e3);
    close(p[0]);
    if (!in_time)
        kill(pid, SIGKILL); /* the alarm did not end it (blocked, or caught by the plugin) */
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    char *last, *report;
    parse_report(buf, &last, &report);
    char where[700] = "";
    if (*last)
        snprintf(where, sizeof where, " while %s", last);

    if (!in_time || (WIFSIGNALED(ws) && WTERMSIG(ws) == SIGALRM))
        return cf_say(out, CF_FAIL, "timed out after %u s%s (a hang, or raise --timeout)", secs,
                      where);
    if (WIFSIGNALED(ws) && report[0])
        /* the check had finished: what killed the process came after it, at exit (a
         * sanitizer's leak report with abort_on_error, a destructor) */
        return cf_say(out, CF_FAIL, "%s, but its process then ended by signal %d (%s) (a "
                      "sanitizer's leak report? see stderr)",
                      report[0] == 'o' ? "passed" : report + 1, WTERMSIG(ws),
                      strsignal(WTERMSIG(ws)));
    if (WIFSIGNALED(ws))
        return cf_say(out, CF_FAIL, "crashed: killed by signal %d (%s)%s", WTERMSIG(ws),
                      strsignal(WTERMSIG(ws)), where);
    int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    if (!report[0])
        return cf_say(out, CF_FAIL, "crashed: its process exited with status %d%s, before "
                      "reporting (a crash a sanitizer caught, or exit() in the plugin: see "
                      "stderr)", code, where);
    if (code != 0)
        return cf_say(out, CF_FAIL, "%s, but its process then exited with status %d (a "
                      "sanitizer's leak report? see stderr)",
                      report[0] == 'o' ? "passed" : report + 1, code);
    snprintf(out->msg, sizeof out->msg, "%s", report + 1);
    return report[0] == 'o' ? CF_PASS : report[0] == 's' ? CF_SKIP : CF_FAIL;
}

static void usage(FILE *out)
{
    fputs("usage: bppipe conform NAME|PATH.so [-o KEY=VALUE]... [--timeout SECONDS]\n"
          "                      [--cycles N] [--check NAME]... [--log-level LEVEL]\n\n"
          "Runs the contract of include/bppipe/plugin.h against one plugin: its descriptor and\n"
          "option table, open and close with the defaults and the -o options, that check\n"
          "mode (open then close, as 'bppipe check' does) writes no data and leaves no\n"
          "connection or thread behind, then by kind: a detector on an empty batch, one\n"
          "reading, readings with a missing value, odd and very long strings, using only the\n"
          "host's verdict functions; a sink on the same, dead letters, per-record outcomes\n"
          "and a retry with the remaining records, flush and close; a source's batch\n"
          "capacity, poll timeout and commits in poll order; reload() when it has one; and\n"
          "N open/close cycles (default 1000) without growth of memory, descriptors or\n"
          "threads. Each check runs in a child process of its own, in a fresh empty\n"
          "temporary folder as its working directory (give the files a plugin reads as\n"
          "absolute paths), under an alarm: a crash or a hang fails that check, not the kit.\n\n"
          "  NAME                 a plugin found as 'bppipe plugins' finds it; PATH.so a file\n"
          "  -o KEY=VALUE         an option of the plugin (required ones must be given; a\n"
          "                       sink that delivers to a service needs it running, e.g.\n"
          "                       -o url=http://127.0.0.1:9200 for sink-es)\n"
          "  --timeout SECONDS    the time each check may take (default 60; cycles: 10x)\n"
          "  --cycles N           open/close cycles of the cycles check (default 1000)\n"
          "  --check NAME         run only this check (repeatable)\n"
          "  --log-level LEVEL    the plugin's log lines shown on stderr: error, warn\n"
          "                       (default), info or debug\n\n"
          "Prints 'ok   CHECK', 'FAIL CHECK: why' or 'skip CHECK: why' per check and\n"
          "'N passed, M failed'. Exit 0 when every check passed, 1 when one failed, 2 for a\n"
          "usage error or a plugin that cannot be loaded. docs/conform.md tells more.\n",
          out);
}

typedef struct conform_args {
    const char *plugin;
    const char **opts;
    size_t n_opts;
    unsigned timeout_s, cycles;
    const char **only; /* --check NAME: run only these */
    size_t n_only;
    int log_level;
} conform_args;

static int parse_uint(const char *flag, const char *text, unsigned lo, unsigned *out)
{
    int64_t v;
    if (!text || bp_parse_int(text, &v) != 0 || v < lo || v > 1000000) {
        fprintf(stderr, "error: %s needs a whole number from %u to 1000000\n", flag, lo);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

/* 0 ok, 1 --help, -1 usage error (said). */
static int parse_args(int argc, char **argv, conform_args *a)
{
    a->timeout_s = DEFAULT_TIMEOUT_S;
    a->cycles = DEFAULT_CYCLES;
    a->log_level = BP_LOG_WARN;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
            return 1;
        if (strcmp(arg, "-o") == 0 || strcmp(arg, "--option") == 0) {
            const char *eq = next ? strchr(next, '=') : NULL;
            if (!eq || eq == next) {
                fprintf(stderr, "error: -o needs KEY=VALUE (argument %d)\n", i + 1);
                return -1;
            }
            a->opts[a->n_opts++] = next;
            i++;
        } else if (strcmp(arg, "--timeout") == 0) {
            if (parse_uint(arg, next, 1, &a->timeout_s) != 0)
                return -1;
            i++;
        } else if (strcmp(arg, "--cycles") == 0) {
            if (parse_uint(arg, next, 1, &a->cycles) != 0)
                return -1;
            i++;
        } else if (strcmp(arg, "--check") == 0) {
            if (!next) {
                fprintf(stderr, "error: --check needs a check's name\n");
                return -1;
            }
            a->only[a->n_only++] = next;
            i++;
        } else if (strcmp(arg, "--log-level") == 0) {
            if (!next || (a->log_level = bp_log_level_parse(next)) < 0) {
                fprintf(stderr, "error: --log-level needs error, warn, info or debug\n");
                return -1;
            }
            i++;
        } else if (arg[0] == '-' && arg[1]) {
            fprintf(stderr, "error: unknown option '%s' (see bppipe conform --help)\n", arg);
            return -1;
        } else if (a->plugin) {
            fprintf(stderr, "error: one plugin at a time ('%s' and '%s')\n", a->plugin, arg);
            return -1;
        } else {
            a->plugin = arg;
        }
    }
    if (!a->plugin) {
        fprintf(stderr, "error: name a plugin (bppipe conform NAME|PATH.so)\n");
        return -1;
    }
    return 0;
}

static bool is_path(const char *s)
{
    size_t n = strlen(s);
    return strchr(s, '/') || (n > 3 && strcmp(s + n - 3, ".so") == 0);
}

static const char *section_of(bp_kind kind)
{
    return kind == BP_KIND_SOURCE ? "source.conform"
           : kind == BP_KIND_DETECTOR ? "detector.conform" : "sink.conform";
}

/* The plugin's section from the -o options, validated as a pipeline's would be. Missing
 * required options are not a usage error: open_close names them. Returns 0, or -1 after
 * printing the errors. */
static int build_section(bp_config *cfg, const conform_args *a, cf_env *env)
{
    const bp_plugin *d = env->plugin->desc;
    bp_errors errs = {0};
    char text[256];
    snprintf(text, sizeof text, "[%s]\nplugin = %s\n", section_of(d->kind), d->name);
    int rc = bp_config_load_string(cfg, "conform", text, &errs);
    for (size_t i = 0; rc == 0 && i < a->n_opts; i++) {
        char *assign = malloc(strlen(section_of(d->kind)) + strlen(a->opts[i]) + 2);
        if (!assign) {
            bp_errors_add(&errs, "out of memory");
            break;
        }
        sprintf(assign, "%s.%s", section_of(d->kind), a->opts[i]);
        bp_config_override(cfg, assign, &errs);
        free(assign);
    }
    env->section = bp_config_find(cfg, section_of(d->kind));
    if (rc == 0 && env->section && errs.n == 0) {
        static const char *const sink_keys[] = {"plugin", "route", "lane_max_records",
                                                "lane_max_bytes", NULL};
        static const char *const other_keys[] = {"plugin", NULL};
        bp_section_report_unresolved(env->section, &errs);
        bp_options_validate(env->section, d->options, d->n_options,
                            d->kind == BP_KIND_SINK ? sink_keys : other_keys, &errs);
        size_t missing = 0;
        for (size_t i = 0; i < d->n_options; i++) {
            const bp_option *o = &d->options[i];
            if (!(o->flags & BP_OPT_REQUIRED) || o->type == BP_OPT_PREFIX ||
                bp_section_get(env->section, o->name))
                continue;
            size_t used = strlen(env->missing);
            snprintf(env->missing + used, sizeof env->missing - used, "%s-o %s=...",
                     used ? ", " : "", o->name);
            missing++;
        }
        if (errs.n == missing) {
            bp_errors_free(&errs);
            return 0;
        }
    }
    bp_errors_print(&errs);
    bp_errors_free(&errs);
    return -1;
}

static const char *status_word(cf_status s)
{
    return s == CF_PASS ? "ok  " : s == CF_SKIP ? "skip" : "FAIL";
}

int bp_cmd_conform(int argc, char **argv)
{
    conform_args a = {0};
    a.opts = calloc((size_t)argc, sizeof *a.opts);
    a.only = calloc((size_t)argc, sizeof *a.only);
    if (!a.opts || !a.only) {
        free(a.opts);
        free(a.only);
        return 1;
    }
    int parsed = parse_args(argc, argv, &a);
    if (parsed != 0) {
        usage(parsed > 0 ? stdout : stderr);
        free(a.opts);
        free(a.only);
        return parsed > 0 ? 0 : EXIT_USAGE;
    }
    bp_log_set_level((bp_log_level)a.log_level);
    bp_loader ld;
    bp_config cfg = {0};
    cf_env env = {.cycles = a.cycles};
    int status = EXIT_USAGE;
    if (bp_loader_init(&ld, NULL, NULL) != 0) {
        free(a.opts);
        free(a.only);
        return 1;
    }
    char err[2048];
    int found = is_path(a.plugin) ? bp_loader_open_file(&ld, a.plugin, &env.plugin, err, sizeof err)
                                  : bp_loader_find(&ld, a.plugin, &env.plugin, err, sizeof err);
    if (found != 0) {
        fprintf(stderr, "error: %s\n", err);
        goto done;
    }
    if (build_section(&cfg, &a, &env) != 0)
        goto done;
    const bp_plugin *d = env.plugin->desc;
    printf("conform %s %s (%s plugin, ABI %u.%u): %s\n", d->name, d->version ? d->version : "?",
           bp_kind_name(d->kind), d->abi_major, d->abi_minor, env.plugin->path);
    cf_check checks[MAX_CHECKS];
    size_t n = plan(d, checks);
    if (select_checks(checks, &n, a.only, a.n_only) != 0)
        goto done;
    unsigned passed = 0, failed = 0, skipped = 0;
    bool opened = true;
    for (size_t i = 0; i < n; i++) {
        cf_out out = {{0}};
        cf_status st;
        if (checks[i].needs_open && !opened)
            st = cf_say(&out, CF_SKIP, "needs an instance that opens (see open_close)");
        else
            st = run_check(&checks[i], &env, a.timeout_s, &out);
        if (checks[i].fn == cf_check_open_close && st != CF_PASS)
            opened = false;
        passed += st == CF_PASS;
        failed += st == CF_FAIL;
        skipped += st == CF_SKIP;
        if (st == CF_PASS)
            printf("ok   %s%s%s%s\n", checks[i].name, out.msg[0] ? " (" : "", out.msg,
                   out.msg[0] ? ")" : "");
        else
            printf("%s %s: %s\n", status_word(st), checks[i].name, out.msg);
        fflush(stdout);
    }
    if (skipped)
        printf("%u passed, %u failed, %u skipped\n", passed, failed, skipped);
    else
        printf("%u passed, %u failed\n", passed, failed);
    status = failed ? 1 : 0;
done:
    bp_config_free(&cfg);
    bp_loader_free(&ld);
    free(a.opts);
    free(a.only);
    return status;
}
