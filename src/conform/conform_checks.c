/* The conformance checks every plugin gets: descriptor, option table, open and close, check mode,
 * reload, and open/close cycles. Each runs in a child process of its own (cmd_conform.c). */
#define _GNU_SOURCE
#include "conform/conform.h"

#include "common/clock.h"
#include "config/options.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <linux/tcp.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MIN_OPTION_SIZE (offsetof(bp_option, help) + sizeof(const char *))
#define SOURCE_CAPS \
    (BP_CAP_POLL_APPENDS | BP_CAP_WHOLE_FILES | BP_CAP_BATCH_COMMIT | BP_CAP_KEYED_STATE)
#define KNOWN_CAPS (SOURCE_CAPS | BP_CAP_REVISIONS)

static bool covers(const bp_plugin *d, size_t end)
{
    return d->struct_size >= end;
}

static bool printable_word(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
            return false;
    return true;
}

static bool one_line(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < ' ' || *s == 0x7f)
            return false;
    return true;
}

cf_status cf_check_descriptor(const cf_env *env, cf_out *out)
{
    const bp_plugin *d = env->plugin->desc;
    if (d->abi_major != BP_ABI_MAJOR || d->abi_minor > BP_ABI_MINOR)
        return cf_say(out, CF_FAIL, "ABI %u.%u, this host speaks %d.%d", d->abi_major,
                      d->abi_minor, BP_ABI_MAJOR, BP_ABI_MINOR);
    size_t need = d->abi_minor >= 2   ? offsetof(bp_plugin, caps) + sizeof d->caps
                  : d->abi_minor >= 1 ? offsetof(bp_plugin, reload) + sizeof d->reload
                                      : offsetof(bp_plugin, flush) + sizeof d->flush;
    if (!covers(d, need))
        return cf_say(out, CF_FAIL, "struct_size %u is too small for the ABI 1.%u members it "
                      "asks for (%zu bytes)", d->struct_size, d->abi_minor, need);
    if (!printable_word(d->version, 64))
        return cf_say(out, CF_FAIL, "version must be one word of 1 to 64 printable characters "
                      "(e.g. \"1.0.0\"), got %s%s%s", d->version ? "'" : "",
                      d->version ? d->version : "NULL", d->version ? "'" : "");
    if (!one_line(d->description, 200))
        return cf_say(out, CF_FAIL, "description must be one line of 1 to 200 characters");
    const char *stray = NULL;
    switch (d->kind) {
    case BP_KIND_SOURCE:
        stray = d->detect ? "detect" : d->write ? "write" : d->flush ? "flush" : NULL;
        break;
    case BP_KIND_DETECTOR:
        stray = d->poll ? "poll" : d->commit ? "commit" : d->write ? "write"
                : d->flush ? "flush" : NULL;
        break;
    case BP_KIND_SINK:
        stray = d->poll ? "poll" : d->commit ? "commit" : d->detect ? "detect" : NULL;
        break;
    }
    if (stray)
        return cf_say(out, CF_FAIL, "a %s plugin sets %s(), a function of another kind (leave "
                      "it NULL)", bp_kind_name(d->kind), stray);
    if (covers(d, offsetof(bp_plugin, caps) + sizeof d->caps)) {
        if (d->caps & ~(uint32_t)KNOWN_CAPS)
            return cf_say(out, CF_FAIL, "caps 0x%x holds bits this ABI does not define (known: "
                          "0x%x)", d->caps, KNOWN_CAPS);
        if ((d->caps & SOURCE_CAPS) && d->kind != BP_KIND_SOURCE)
            return cf_say(out, CF_FAIL, "caps 0x%x: a bit for sources on a %s", d->caps,
                          bp_kind_name(d->kind));
        if ((d->caps & BP_CAP_REVISIONS) && d->kind == BP_KIND_SOURCE)
            return cf_say(out, CF_FAIL, "BP_CAP_REVISIONS is for sinks and detectors, not sources");
        if ((d->caps & BP_CAP_BATCH_COMMIT) && !d->commit)
            return cf_say(out, CF_FAIL, "BP_CAP_BATCH_COMMIT without a commit() to honour it");
        if ((d->caps & BP_CAP_KEYED_STATE) && !d->commit)
            return cf_say(out, CF_FAIL, "BP_CAP_KEYED_STATE without a commit() to persist "
                          "state_changes() in");
    }
    return cf_say(out, CF_PASS, "%s", "");
}

static bool option_name_ok(const bp_option *o)
{
    size_t n = strlen(o->name);
    size_t end = o->type == BP_OPT_PREFIX ? n - 1 : n;
    if (n == 0 || n > 64 || (o->type == BP_OPT_PREFIX && (n < 3 || strcmp(o->name + n - 2, ".*"))))
        return false;
    for (size_t i = 0; i < end; i++) {
        char c = o->name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static bool choices_ok(const char *choices)
{
    if (!choices || !*choices)
        return false;
    for (const char *p = choices; *p; p++)
        if ((unsigned char)*p <= ' ' || (*p == '|' && (p == choices || p[1] == '|' || !p[1])))
            return false;
    return true;
}

static const char *const host_keys[] = {"plugin", "route", "lane_max_records", "lane_max_bytes"};

/* One option's own shape, apart from its default. NULL when fine. */
static const char *option_problem(const bp_plugin *d, const bp_option *o, size_t i)
{
    if (o->struct_size < MIN_OPTION_SIZE)
        return "struct_size is smaller than ABI 1.0's bp_option (use the BP_OPTION_* macros)";
    if (!o->name || !option_name_ok(o))
        return o->type == BP_OPT_PREFIX ? "a pass-through name is lower case and ends in '.*'"
                                        : "a name is 1 to 64 of a-z, 0-9, '_' and '.'";
    for (size_t k = 0; k < (d->kind == BP_KIND_SINK ? 4u : 1u); k++)
        if (strcmp(o->name, host_keys[k]) == 0)
            return "the host's own key: the host never hands it to the plugin's table";
    for (size_t j = 0; j < i; j++)
        if (d->options[j].name && strcmp(d->options[j].name, o->name) == 0)
            return "declared twice";
    if (!one_line(o->help, 300))
        return "help must be one line of 1 to 300 characters";
    if (o->flags & ~(BP_OPT_REQUIRED | BP_OPT_SECRET))
        return "flags hold bits other than BP_OPT_REQUIRED and BP_OPT_SECRET";
    if ((o->flags & BP_OPT_REQUIRED) && o->default_value)
        return "required and with a default, which is never used";
    if (o->type == BP_OPT_PREFIX && (o->default_value || (o->flags & BP_OPT_REQUIRED)))
        return "a pass-through prefix takes no default and cannot be required";
    if ((o->type == BP_OPT_INT || o->type == BP_OPT_DOUBLE) && (isnan(o->min) || isnan(o->max)))
        return "a bound is NaN";
    if (o->type == BP_OPT_INT && o->min <= o->max && o->min > -9007199254740992.0 &&
        o->max < 9007199254740992.0 && ceil(o->min) > floor(o->max))
        return "no integer lies within its bounds";
    if (o->type == BP_OPT_ENUM && !choices_ok(o->choices))
        return "choices must be words separated by single '|'";
    return NULL;
}

cf_status cf_check_options(const cf_env *env, cf_out *out)
{
    const bp_plugin *d = env->plugin->desc;
    for (size_t i = 0; i < d->n_options; i++) {
        const char *why = option_problem(d, &d->options[i], i);
        if (why)
            return cf_say(out, CF_FAIL, "option #%zu (%s): %s", i + 1,
                          d->options[i].name ? d->options[i].name : "unnamed", why);
    }
    /* Every default must pass the validation a value in a pipeline file passes. */
    bp_config cfg;
    bp_errors errs = {0};
    bp_config_load_string(&cfg, "defaults", "[sink.defaults]\n", &errs);
    for (size_t i = 0; i < d->n_options && !errs.n; i++) {
        const bp_option *o = &d->options[i];
        if (!o->default_value || o->type == BP_OPT_PREFIX)
            continue;
        char *assign = malloc(strlen(o->name) + strlen(o->default_value) + 32);
        if (!assign)
            break;
        sprintf(assign, "sink.defaults.%s=%s", o->name, o->default_value);
        bp_config_override(&cfg, assign, &errs);
        free(assign);
    }
    /* A copy of the table without BP_OPT_REQUIRED: only the defaults given are judged here. */
    bp_option *copy = calloc(d->n_options ? d->n_options : 1, sizeof *copy);
    bp_section *s = bp_config_find(&cfg, "sink.defaults");
    for (size_t i = 0; copy && i < d->n_options; i++) {
        memcpy(&copy[i], &d->options[i], sizeof copy[i]);
        copy[i].flags &= ~BP_OPT_REQUIRED;
    }
    if (!copy)
        bp_errors_add(&errs, "kit: out of memory");
    else if (s && !errs.n) {
        bp_section_report_unresolved(s, &errs);
        bp_options_validate(s, copy, d->n_options, NULL, &errs);
    }
    free(copy);
    cf_status st = errs.n ? cf_say(out, CF_FAIL, "a default does not validate: %s", errs.items[0])
                          : cf_say(out, CF_PASS, "%zu option%s", d->n_options,
                                   d->n_options == 1 ? "" : "s");
    bp_errors_free(&errs);
    bp_config_free(&cfg);
    return st;
}

cf_status cf_check_open_close(const cf_env *env, cf_out *out)
{
    if (env->missing[0])
        return cf_say(out, CF_FAIL, "the plugin has required options; pass %s", env->missing);
    bp_ctx *ctx = cf_ctx_new(env);
    if (!ctx)
        return cf_say(out, CF_FAIL, "kit: out of memory");
    int rc = cf_open(ctx, true);
    cf_close_free(ctx);
    if (rc != BP_OK)
        return cf_say(out, CF_FAIL, "open() answered %d%s (its reason is logged on stderr)", rc,
                      rc == BP_FATAL ? " (BP_FATAL)" : ", which open() may not answer: BP_OK "
                      "or BP_FATAL");
    if (*cf_watch_problems())
        return cf_say(out, CF_FAIL, "%s", cf_watch_problems());
    return cf_say(out, CF_PASS, "%s", "");
}

/* -- what a process holds ------------------------------------------------------------------ */

#define MAX_FDS 1024

typedef struct fd_list {
    int fd[MAX_FDS];
    char what[MAX_FDS][64]; /* readlink of /proc/self/fd/N */
    size_t n;
} fd_list;

static void list_fds(fd_list *l)
{
    l->n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) && l->n < MAX_FDS) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == self)
            continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(path, l->what[l->n], sizeof l->what[l->n] - 1);
        l->what[l->n][n > 0 ? n : 0] = '\0';
        l->fd[l->n++] = atoi(e->d_name);
    }
    closedir(d);
}

static bool in_list(const fd_list *l, int fd, const char *what)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->fd[i] == fd && strcmp(l->what[i], what) == 0)
            return true;
    return false;
}

static size_t count_threads(void)
{
    size_t n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static size_t rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* "127.0.0.1:9200, 95 bytes sent, 410 received" for a TCP socket; "" for another. */
static void describe_socket(int fd, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    struct tcp_info ti;
    socklen_t tl = sizeof ti;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    buf[0] = '\0';
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
    } else {
        return;
    }
    memset(&ti, 0, sizeof ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0)
        snprintf(buf, len, "%s:%d, %llu bytes sent, %llu received", host, port,
                 (unsigned long long)ti.tcpi_bytes_sent,
                 (unsigned long long)ti.tcpi_bytes_received);
    else
        snprintf(buf, len, "%s:%d", host, port);
}

/* What the check-mode open left in the working directory. */
static char walk_written[512], walk_created[512];

static void add_name(char *list, size_t len, const char *name)
{
    size_t used = strlen(list);
    if (used + strlen(name) + 8 < len)
        snprintf(list + used, len - used, "%s%s", used ? ", " : "", name);
    else if (used + 5 < len && !strstr(list, "..."))
        snprintf(list + used, len - used, ", ...");
}

static int walk_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)flag;
    if (ftw->level == 0)
        return 0;
    const char *name = path + 2; /* after "./" */
    char item[PATH_MAX + 32];
    if (S_ISDIR(st->st_mode)) {
        snprintf(item, sizeof item, "%s/", name);
        add_name(walk_created, sizeof walk_created, item);
    } else if (S_ISREG(st->st_mode) && st->st_size == 0) {
        add_name(walk_created, sizeof walk_created, name);
    } else {
        snprintf(item, sizeof item, "%s (%lld bytes)", name, (long long)st->st_size);
        add_name(walk_written, sizeof walk_written, item);
    }
    return 0;
}

/* Check mode is what `bppipe check` does: open() then close(), nothing in between. It passes
 * when, in the fresh working directory, it wrote no data (folders and empty files a plugin
 * creates to verify it can write are named in the note), and when after close() no socket it
 * opened is still open and no thread it started still runs. Connections open right after open()
 * are named with what they carried so far: the kit cannot tell a probe from a consumer by the
 * bytes alone, so they are reported, not judged. */
cf_status cf_check_check_mode(const cf_env *env, cf_out *out)
{
    static fd_list before, during, after;
    list_fds(&before);
    size_t threads0 = count_threads();
    bp_ctx *ctx = cf_ctx_new(env);
    if (!ctx)
        return cf_say(out, CF_FAIL, "kit: out of memory");
    int rc = cf_open(ctx, true);
    list_fds(&during);
    char conns[512] = "";
    for (size_t i = 0; i < during.n; i++) {
        char one[160];
        if (in_list(&before, during.fd[i], during.what[i]) ||
            strncmp(during.what[i], "socket:", 7) != 0)
            continue;
        describe_socket(during.fd[i], one, sizeof one);
        if (one[0])
            add_name(conns, sizeof conns, one);
    }
    cf_close_free(ctx);
    if (rc != BP_OK)
        return cf_say(out, CF_FAIL, "open() answered %d", rc);
    size_t threads = 0;
    for (int waited = 0; waited < 3000; waited += 50) {
        threads = count_threads();
        list_fds(&after);
        bool sockets_left = false;
        for (size_t i = 0; i < after.n; i++)
            sockets_left |= !in_list(&before, after.fd[i], after.what[i]) &&
                            strncmp(after.what[i], "socket:", 7) == 0;
        if (threads <= threads0 && !sockets_left)
            break;
        cf_sleep_ms(50);
    }
    for (size_t i = 0; i < after.n; i++)
        if (!in_list(&before, after.fd[i], after.what[i]) &&
            strncmp(after.what[i], "socket:", 7) == 0)
            return cf_say(out, CF_FAIL, "descriptor %d (%s) opened in check mode is still open "
                          "3 s after close()", after.fd[i], after.what[i]);
    if (threads > threads0)
        return cf_say(out, CF_FAIL, "%zu thread%s started in check mode still run%s 3 s after "
                      "close()", threads - threads0, threads - threads0 == 1 ? "" : "s",
                      threads - threads0 == 1 ? "s" : "");
    walk_written[0] = walk_created[0] = '\0';
    nftw(".", walk_entry, 16, FTW_PHYS);
    if (walk_written[0])
        return cf_say(out, CF_FAIL, "check mode wrote to the working directory: %s",
                      walk_written);
    if (*cf_watch_problems())
        return cf_say(out, CF_FAIL, "%s", cf_watch_problems());
    char note[1024] = "no file written";
    if (walk_created[0])
        snprintf(note + strlen(note), sizeof note - strlen(note), "; created, empty: %s",
                 walk_created);
    if (conns[0])
        snprintf(note + strlen(note), sizeof note - strlen(note),
                 "; connections after open(): %s; closed by close()", conns);
    return cf_say(out, CF_PASS, "%s", note);
}

cf_status cf_check_reload(const cf_env *env, cf_out *out)
{
    bp_ctx *ctx = cf_ctx_new(env);
    if (!ctx)
        return cf_say(out, CF_FAIL, "kit: out of memory");
    int rc = cf_open(ctx, true);
    if (rc != BP_OK) {
        cf_close_free(ctx);
        return cf_say(out, CF_FAIL, "open() answered %d", rc);
    }
    cf_watch_stage(true);
    int r1 = ctx->plugin->desc->reload(ctx->state);
    int r2 = ctx->plugin->desc->reload(ctx->state);
    cf_watch_stage(false);
    cf_close_free(ctx);
    if ((r1 != BP_OK && r1 != BP_RETRY) || (r2 != BP_OK && r2 != BP_RETRY))
        return cf_say(out, CF_FAIL, "reload() answered %d, then %d: only BP_OK or BP_RETRY",
                      r1, r2);
    if (*cf_watch_problems())
        return cf_say(out, CF_FAIL, "%s", cf_watch_problems());
    return cf_say(out, CF_PASS, "twice: %d, %d", r1, r2);
}

/* Memory, descriptors and threads after a few warm-up cycles (libraries set up what they keep
 * once, on first use), then after `cycles` more. Descriptors and threads may not grow at all
 * beyond a slack of 2 descriptors; memory may grow by 4 MiB + 5 % (allocator noise). Under
 * AddressSanitizer the memory figure only tells the quarantine's size, so it is reported and
 * the leak check at the child's exit judges instead; under ThreadSanitizer, whose allocator
 * keeps what ended threads cached (librdkafka starts several per instance), the slack is
 * 128 MiB. */
cf_status cf_check_cycles(const cf_env *env, cf_out *out)
{
    static fd_list fds0, fds1;
    size_t rss0 = 0, threads0 = 0;
    unsigned warm = 5;
    double t0 = 0;
    for (unsigned i = 0; i < env->cycles + warm; i++) {
        if (i == warm) {
            list_fds(&fds0);
            rss0 = rss_bytes();
            threads0 = count_threads();
            t0 = bp_now_s() * 1e3;
        }
        bp_ctx *ctx = cf_ctx_new(env);
        if (!ctx)
            return cf_say(out, CF_FAIL, "kit: out of memory at cycle %u", i + 1);
        int rc = cf_open(ctx, true);
        cf_close_free(ctx);
        if (rc != BP_OK)
            return cf_say(out, CF_FAIL, "open() answered %d at cycle %u", rc, i + 1);
        if (*cf_watch_problems())
            return cf_say(out, CF_FAIL, "cycle %u: %s", i + 1, cf_watch_problems());
    }
    double ms = bp_now_s() * 1e3 - t0;
    size_t threads = count_threads();
    for (int waited = 0; threads > threads0 && waited < 3000; waited += 50) {
        cf_sleep_ms(50);
        threads = count_threads();
    }
    list_fds(&fds1);
    size_t rss1 = rss_bytes();
    if (fds1.n > fds0.n + 2) {
        const char *example = "";
        for (size_t i = 0; i < fds1.n && !*example; i++)
            if (!in_list(&fds0, fds1.fd[i], fds1.what[i]))
                example = fds1.what[i];
        return cf_say(out, CF_FAIL, "open descriptors grew from %zu to %zu over %u cycles "
                      "(e.g. %s)", fds0.n, fds1.n, env->cycles, example);
    }
    if (threads > threads0)
        return cf_say(out, CF_FAIL, "threads grew from %zu to %zu over %u cycles", threads0,
                      threads, env->cycles);
    double grew = ((double)rss1 - (double)rss0) / (1024.0 * 1024.0);
#if defined(CF_ASAN)
    bool judge_rss = false;
    size_t slack = 0;
#elif defined(CF_TSAN)
    bool judge_rss = true;
    size_t slack = 128u * 1024 * 1024; /* its allocator keeps the caches of ended threads */
#else
    bool judge_rss = true;
    size_t slack = 4u * 1024 * 1024;
#endif
    if (judge_rss && rss1 > rss0 + slack + rss0 / 20)
        return cf_say(out, CF_FAIL, "resident memory grew by %.1f MiB over %u cycles (from "
                      "%.1f MiB)", grew, env->cycles, (double)rss0 / (1024.0 * 1024.0));
    return cf_say(out, CF_PASS, "%u cycles in %.0f ms; descriptors %zu -> %zu, threads %zu -> "
                  "%zu, resident memory %+.1f MiB%s", env->cycles, ms, fds0.n, fds1.n,
                  threads0, threads, grew,
                  judge_rss ? "" : ", not judged under AddressSanitizer: its leak check at "
                  "exit is");
}
