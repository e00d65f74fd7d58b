/* The conformance kit's instances and the host table that watches a plugin: every call goes on
 * to the host's own function (src/pipeline/host.c), and what the contract of include/bppipe/plugin.h
 * does not allow is noted. One instance per check process, on its main thread. */
#include "conform/conform.h"

#include "base/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    bp_ctx *ctx;       /* the instance under watch */
    pthread_t thread;  /* the thread making stage calls */
    bool inside;       /* a stage call is running */
    char problems[700];
    unsigned n_problems;
} w;

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    if (w.n_problems++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w.problems, sizeof w.problems, fmt, ap);
        va_end(ap);
    } else {
        char *more = strstr(w.problems, " [and ");
        if (more)
            *more = '\0';
        size_t used = strlen(w.problems);
        snprintf(w.problems + used, sizeof w.problems - used, " [and %u more]",
                 w.n_problems - 1);
    }
}

const char *cf_watch_problems(void)
{
    return w.problems;
}

void cf_watch_reset(bp_ctx *ctx)
{
    w.ctx = ctx;
    w.thread = pthread_self();
    w.inside = false;
}

void cf_watch_stage(bool inside)
{
    w.inside = inside;
}

/* Where and by whom a host function may be called. `ctx_arg` is false for functions without a
 * context argument. */
static void entering(const char *fn, bp_ctx *ctx, bool ctx_arg)
{
    if (!pthread_equal(pthread_self(), w.thread))
        note("host %s() called from a thread other than the stage call's", fn);
    else if (!w.inside)
        note("host %s() called outside a stage call", fn);
    if (ctx_arg && ctx != w.ctx)
        note("host %s() called with %s context than the one open() received", fn,
             ctx ? "another" : "a NULL");
}

static const bp_host *real(void)
{
    return bp_host_table();
}

static bp_kind kind(void)
{
    return w.ctx ? w.ctx->plugin->desc->kind : BP_KIND_DETECTOR;
}

static void w_log(bp_ctx *ctx, bp_log_level level, const char *fmt, ...)
{
    entering("log", ctx, true);
    if (!fmt)
        return;
    va_list ap;
    va_start(ap, fmt);
    bp_logv(ctx ? ctx->name : NULL, level, fmt, ap);
    va_end(ap);
}

static const char *w_opt_string(bp_ctx *ctx, const char *name)
{
    entering("opt_string", ctx, true);
    return real()->opt_string(ctx, name);
}

static int64_t w_opt_int(bp_ctx *ctx, const char *name, int64_t fallback)
{
    entering("opt_int", ctx, true);
    return real()->opt_int(ctx, name, fallback);
}

static double w_opt_double(bp_ctx *ctx, const char *name, double fallback)
{
    entering("opt_double", ctx, true);
    return real()->opt_double(ctx, name, fallback);
}

static int w_opt_bool(bp_ctx *ctx, const char *name, int fallback)
{
    entering("opt_bool", ctx, true);
    return real()->opt_bool(ctx, name, fallback);
}

static int w_opt_each(bp_ctx *ctx, const char *prefix, bp_opt_visit visit, void *user)
{
    entering("opt_each", ctx, true);
    return real()->opt_each(ctx, prefix, visit, user);
}

static size_t w_batch_count(const bp_batch *b)
{
    entering("batch_count", NULL, false);
    return real()->batch_count(b);
}

static bp_record *w_batch_at(const bp_batch *b, size_t i)
{
    entering("batch_at", NULL, false);
    return real()->batch_at(b, i);
}

static int w_add_payload(bp_batch *b, const void *data, size_t len, const bp_origin *origin)
{
    entering("add_payload", NULL, false);
    if (kind() != BP_KIND_SOURCE)
        note("a %s called add_payload(), which is for sources' poll()", bp_kind_name(kind()));
    int rc = real()->add_payload(b, data, len, origin);
    if (rc != BP_OK)
        note("add_payload() answered %d (a NULL payload, or an origin of struct_size %u)", rc,
             origin ? origin->struct_size : 0);
    return rc;
}

static int w_add_rejected(bp_batch *b, const void *data, size_t len, const bp_origin *origin,
                          const char *reason)
{
    entering("add_rejected", NULL, false);
    if (kind() != BP_KIND_SOURCE)
        note("a %s called add_rejected(), which is for sources' poll()", bp_kind_name(kind()));
    int rc = real()->add_rejected(b, data, len, origin, reason);
    if (rc != BP_OK)
        note("add_rejected() answered %d (a NULL payload, a reason NULL, empty or of more than "
             "one line, or an origin of struct_size %u)",
             rc, origin ? origin->struct_size : 0);
    return rc;
}

static size_t w_batch_capacity(const bp_batch *b)
{
    entering("batch_capacity", NULL, false);
    return real()->batch_capacity(b);
}

static const char *w_text(const bp_record *r, bp_field f)
{
    entering("text", NULL, false);
    return real()->text(r, f);
}

static double w_number(const bp_record *r, bp_field f)
{
    entering("number", NULL, false);
    return real()->number(r, f);
}

static const void *w_payload(const bp_record *r, size_t *len)
{
    entering("payload", NULL, false);
    return real()->payload(r, len);
}

static const char *w_document(bp_ctx *ctx, const bp_record *r, unsigned flags, size_t *len)
{
    entering("document", ctx, true);
    return real()->document(ctx, r, flags, len);
}

/* A verdict call: only detectors make them, and the host must have taken it. */
static int verdict(const char *fn, int rc, const char *arg)
{
    if (kind() == BP_KIND_SINK)
        note("a sink called %s(): verdicts are the detectors' (the host answers BP_EINVAL)", fn);
    else if (rc != BP_OK)
        note("%s(%s%s%s) answered %d: the host refused it (see plugin.h for what it takes)",
             fn, arg ? "'" : "", arg ? arg : "", arg ? "'" : "", rc);
    return rc;
}

static int w_flag(bp_ctx *ctx, bp_record *r, const char *reason, bp_severity sev)
{
    entering("flag", ctx, true);
    return verdict("flag", real()->flag(ctx, r, reason, sev), reason);
}

static int w_raise(bp_ctx *ctx, bp_record *r, bp_severity sev)
{
    entering("raise_severity", ctx, true);
    return verdict("raise_severity", real()->raise_severity(ctx, r, sev), NULL);
}

static int w_set_text(bp_ctx *ctx, bp_record *r, bp_field f, const char *value)
{
    entering("set_text", ctx, true);
    return verdict("set_text", real()->set_text(ctx, r, f, value), value);
}

static int w_annotate_number(bp_ctx *ctx, bp_record *r, const char *key, double v)
{
    entering("annotate_number", ctx, true);
    return verdict("annotate_number", real()->annotate_number(ctx, r, key, v), key);
}

static int w_annotate_text(bp_ctx *ctx, bp_record *r, const char *key, const char *v)
{
    entering("annotate_text", ctx, true);
    return verdict("annotate_text", real()->annotate_text(ctx, r, key, v), key);
}

static int w_annotate_bool(bp_ctx *ctx, bp_record *r, const char *key, int v)
{
    entering("annotate_bool", ctx, true);
    return verdict("annotate_bool", real()->annotate_bool(ctx, r, key, v), key);
}

static int w_set_outcome(bp_ctx *ctx, bp_record *r, bp_outcome outcome, const char *reason)
{
    entering("set_outcome", ctx, true);
    int rc = real()->set_outcome(ctx, r, outcome, reason);
    if (kind() != BP_KIND_SINK)
        note("a %s called set_outcome(), which is for sinks' write()", bp_kind_name(kind()));
    else if (rc != BP_OK)
        note("set_outcome(%d) answered %d (a record not of this write, an unknown outcome, or "
             "BP_REJECTED without a reason)", (int)outcome, rc);
    return rc;
}

static void w_count(bp_ctx *ctx, const char *name, double delta)
{
    entering("count", ctx, true);
    real()->count(ctx, name, delta);
}

static int w_state_open(bp_ctx *ctx, const char *format, uint64_t max_keys, const char *file)
{
    entering("state_open", ctx, true);
    int rc = real()->state_open(ctx, format, max_keys, file);
    if (rc == BP_EINVAL)
        note("state_open(\"%s\") answered BP_EINVAL (a format outside 1 to 64 of [a-z0-9_.-], or "
             "a second call for one instance)", format ? format : "(null)");
    return rc;
}

static int w_state_get(bp_ctx *ctx, const bp_record *r, const void *key, size_t key_len,
                       void *out, size_t out_size, size_t *len)
{
    entering("state_get", ctx, true);
    return real()->state_get(ctx, r, key, key_len, out, out_size, len);
}

static int w_state_put(bp_ctx *ctx, const bp_record *r, const void *key, size_t key_len,
                       const void *value, size_t len)
{
    entering("state_put", ctx, true);
    return real()->state_put(ctx, r, key, key_len, value, len);
}

static int w_state_delete(bp_ctx *ctx, const bp_record *r, const void *key, size_t key_len)
{
    entering("state_delete", ctx, true);
    return real()->state_delete(ctx, r, key, key_len);
}

static int w_state_changes(bp_ctx *ctx, const bp_batch *b, bp_state_visit visit, void *user)
{
    entering("state_changes", ctx, true);
    return real()->state_changes(ctx, b, visit, user);
}

static int w_state_restore(bp_ctx *ctx, const char *topic, int32_t partition, const char *ns,
                           const void *key, size_t key_len, const void *value, size_t len)
{
    entering("state_restore", ctx, true);
    return real()->state_restore(ctx, topic, partition, ns, key, key_len, value, len);
}

static int w_state_drop(bp_ctx *ctx, const char *topic, int32_t partition)
{
    entering("state_drop", ctx, true);
    return real()->state_drop(ctx, topic, partition);
}

static const bp_host watch_table = {
    .struct_size = sizeof(bp_host),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .log = w_log,
    .opt_string = w_opt_string,
    .opt_int = w_opt_int,
    .opt_double = w_opt_double,
    .opt_bool = w_opt_bool,
    .opt_each = w_opt_each,
    .batch_count = w_batch_count,
    .batch_at = w_batch_at,
    .add_payload = w_add_payload,
    .batch_capacity = w_batch_capacity,
    .text = w_text,
    .number = w_number,
    .payload = w_payload,
    .document = w_document,
    .flag = w_flag,
    .raise_severity = w_raise,
    .set_text = w_set_text,
    .annotate_number = w_annotate_number,
    .annotate_text = w_annotate_text,
    .annotate_bool = w_annotate_bool,
    .set_outcome = w_set_outcome,
    .count = w_count,
    .state_open = w_state_open,
    .state_get = w_state_get,
    .state_put = w_state_put,
    .state_delete = w_state_delete,
    .state_changes = w_state_changes,
    .state_restore = w_state_restore,
    .state_drop = w_state_drop,
    .add_rejected = w_add_rejected,
};

const bp_host *cf_watch_host(void)
{
    return &watch_table;
}

static const char *section_kind_name(bp_kind k)
{
    return k == BP_KIND_SOURCE ? "source" : k == BP_KIND_DETECTOR ? "detector" : "sink";
}

bp_ctx *cf_ctx_new(const cf_env *env)
{
    bp_ctx *ctx = calloc(1, sizeof *ctx);
    char name[64];
    snprintf(name, sizeof name, "%s.conform", section_kind_name(env->plugin->desc->kind));
    if (!ctx || !(ctx->name = strdup(name))) {
        free(ctx);
        return NULL;
    }
    ctx->section = env->section;
    ctx->plugin = env->plugin;
    ctx->routes = BP_ROUTES_ALL;
    ctx->route_name = "all";
    return ctx;
}

int cf_open(bp_ctx *ctx, bool watched)
{
    cf_watch_reset(ctx);
    cf_progress("open() ran");
    cf_watch_stage(true);
    int rc = ctx->plugin->desc->open(watched ? cf_watch_host() : bp_host_table(), ctx,
                                     &ctx->state);
    cf_watch_stage(false);
    ctx->opened = rc == BP_OK;
    return rc;
}

void cf_close_free(bp_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->opened) {
        cf_progress("close() ran");
        cf_watch_stage(true);
        ctx->plugin->desc->close(ctx->state);
        cf_watch_stage(false);
        ctx->opened = false;
    }
    bp_ctx_free(ctx);
}
