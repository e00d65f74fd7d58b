#include "pipeline/pipeline.h"

#include "base/log.h"
#include "config/listen_addr.h"
#include "config/options.h"
#include "pipeline/state.h"

#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const bp_option pipeline_options[] = {
    BP_OPTION_STRING("plugin_path", NULL, 0,
                     "extra plugin directories, ':'-separated, relative to this file"),
    BP_OPTION_INT("batch_size", "500", 1, 100000, 0, "payloads taken from the source per batch"),
    BP_OPTION_INT("stats_interval", "10", 0, 86400, 0,
                  "seconds between status lines on stderr (0 = none)"),
    BP_OPTION_INT("poll_timeout_ms", "200", 1, 60000, 0,
                  "longest wait for the source when it has nothing"),
    BP_OPTION_INT("commit_wait_ms", "20", 1, 60000, 0,
                  "while polled batches wait for their commit, the longest a poll waits for a "
                  "first payload: how late a finished batch is committed (a Kafka offset, an "
                  "MLLP acknowledgement) when nothing new arrives"),
    BP_OPTION_INT("linger_ms", "0", 0, 60000, 0,
                  "after a batch's first payload, keep gathering this long until batch_size "
                  "(fewer, larger sink requests; every reading waits up to this long)"),
    /* 64: the decode pool's BP_DECODE_MAX_THREADS (src/engine/decode_pool.h) */
    BP_OPTION_INT("decode_threads", NULL, 1, 64, 0,
                  "threads that decode a batch's payloads together, the main thread included "
                  "(1: the main thread alone); unset: the online processors, at most 4"),
    BP_OPTION_BOOL("decode_ahead", "false",
                   "with decode threads: poll the next batch once this one is judged and "
                   "decode it on them while this one is handed to the sinks (less work on the "
                   "main thread, one batch more in memory; false: poll after the hand-off)"),
    BP_OPTION_INT("max_payload_bytes", NULL, 1, 1073741824, 0,
                  "larger payloads go to the invalid route unparsed; unset: 1048576 (1 MiB, "
                  "Kafka's message.max.bytes), 67108864 (64 MiB) from a source of whole files "
                  "(source-file)"),
    BP_OPTION_INT("retry_initial_ms", "100", 1, 600000, 0, "first back-off after a failure"),
    BP_OPTION_INT("retry_max_ms", "30000", 1, 3600000, 0, "back-off cap (full jitter below it)"),
    BP_OPTION_INT("max_record_attempts", "20", 0, 1000000, 0,
                  "a reading a sink keeps failing while it delivers the others is dead-lettered "
                  "after this many attempts (0: never; an outage never dead-letters)"),
    BP_OPTION_INT("lane_max_records", "5000", 1, 10000000, 0,
                  "each sink delivers on its own thread from a queue; once this many records "
                  "wait for one sink, the source is paused until it takes some (a sink section "
                  "may set its own)"),
    BP_OPTION_INT("lane_max_bytes", "33554432", 1024, 68719476736.0, 0,
                  "likewise for the bytes the batches waiting for one sink use (payloads, "
                  "records, documents; default 32 MiB; a sink section may set its own)"),
    BP_OPTION_INT("drain_timeout_ms", "5000", 0, 3600000, 0,
                  "when --duration or --max-records ends a run, how long sinks may still "
                  "deliver; what is not delivered then is left uncommitted and read again"),
    BP_OPTION_ENUM("log_level", "info", "error|warn|info|debug", "least severe level logged"),
    BP_OPTION_ENUM("log_format", "text", "text|json",
                   "stderr as text lines, or one JSON object per line (time, level, component, "
                   "message, fields); BPPIPE_LOG_FORMAT sets it before the file is read"),
    BP_OPTION_STRING("http_listen", NULL, 0,
                     "HOST:PORT (a bare PORT: 127.0.0.1) of the operations listener: /metrics, "
                     "/healthz, /readyz (docs/operations.md); port 0: any free port; unset: none"),
    BP_OPTION_STRING("http_port_file", NULL, 0,
                     "file the listener writes its HOST:PORT into once it listens (for port 0)"),
    BP_OPTION_STRING("http_token_env", NULL, 0,
                     "name of the environment variable holding the bearer token the listener "
                     "asks for (never the token itself); unset: no token"),
    BP_OPTION_INT("state_interval_ms", "1000", 0, 86400000, 0,
                  "with a source that does not keep state itself (not source-kafka): the "
                  "shortest time between two writes of the state snapshot files, always after "
                  "a commit (0: after every commit)"),
    BP_OPTION_INT("revisions_max_keys", "100000", 0, 100000000, 0,
                  "the revision ledger (docs/revisions.md) remembers this many corrected or "
                  "retracted logical ids per input partition, the least recently revised "
                  "forgotten first (0: no bound)"),
    BP_OPTION_STRING("revisions_state_file", NULL, 0,
                     "with a source that does not keep state itself (not source-kafka): the "
                     "revision ledger's snapshot file, so a restart still recognises a replayed "
                     "old version; unset: in memory only"),
    BP_OPTION_INT("ready_grace_ms", "10000", 0, 86400000, 0,
                  "/readyz answers 503 once a sink has failed to deliver for this long"),
    BP_OPTION_INT("live_patients", "500", 1, 100000, 0,
                  "the live page (/, /api/ward; docs/live-page.md) keeps this many patients, "
                  "the newest seen"),
    BP_OPTION_INT("live_history", "20", 1, 1000, 0,
                  "the live page keeps this many readings per patient"),
    BP_OPTION_INT("live_events", "100", 1, 100000, 0,
                  "the live page keeps this many recent anomalies and alerts"),
    BP_OPTION_DOUBLE("plausible_systolic_min", "40", 0, 400, 0,
                     "lower systolic values are measurement errors (invalid route)"),
    BP_OPTION_DOUBLE("plausible_systolic_max", "300", 0, 400, 0,
                     "higher systolic values are measurement errors (invalid route)"),
    BP_OPTION_DOUBLE("plausible_diastolic_min", "20", 0, 400, 0,
                     "lower diastolic values are measurement errors (invalid route)"),
    BP_OPTION_DOUBLE("plausible_diastolic_max", "200", 0, 400, 0,
                     "higher diastolic values are measurement errors (invalid route)"),
};

const bp_option *bp_pipeline_options(size_t *n)
{
    *n = sizeof pipeline_options / sizeof pipeline_options[0];
    return pipeline_options;
}

/* The [pipeline] value of `key` as given, or its declared default. An invalid value has been
 * reported by validation already (the pipeline will not run), so its failed parse reads 0. */
static const char *setting_text(const bp_section *s, const char *key)
{
    size_t n;
    const bp_option *all = bp_pipeline_options(&n);
    const char *text = s ? bp_section_value(s, key) : NULL;
    return text ? text : bp_options_find(all, n, key)->default_value;
}

/* 0 when the key has no value and no default. */
static int64_t setting(const bp_section *s, const char *key)
{
    int64_t v = 0;
    const char *text = setting_text(s, key);
    if (text)
        bp_parse_int(text, &v);
    return v;
}

static bool setting_bool(const bp_section *s, const char *key)
{
    bool v = false;
    const char *text = setting_text(s, key);
    if (text)
        bp_parse_bool(text, &v);
    return v;
}

static double setting_double(const bp_section *s, const char *key)
{
    double v = 0;
    bp_parse_double(setting_text(s, key), &v);
    return v;
}

#define BP_MAX_PAYLOAD_FILES (64 * 1024 * 1024)
#define BP_MAX_PAYLOAD_MESSAGES (1024 * 1024)

/* max_payload_bytes when [pipeline] does not set it: Kafka's 1 MiB message limit for message
 * sources, room for a real patient's Bundle (Synthea writes 1 to 5 MB, a long history more)
 * from a source of whole files. */
static int64_t default_max_payload(const bp_ctx *source)
{
    const bp_plugin *d = source ? source->plugin->desc : NULL;
    bool files = bp_desc_caps(d) & BP_CAP_WHOLE_FILES;
    return files ? BP_MAX_PAYLOAD_FILES : BP_MAX_PAYLOAD_MESSAGES;
}

/* decode_threads when unset: the online processors, at most 4, at least 1. */
static int64_t default_decode_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 4 ? 4 : n;
}

static void read_settings(bp_pipeline *p, const bp_section *s)
{
    bp_settings *st = &p->settings;
    st->batch_size = setting(s, "batch_size");
    st->stats_interval_s = setting(s, "stats_interval");
    st->poll_timeout_ms = setting(s, "poll_timeout_ms");
    st->linger_ms = setting(s, "linger_ms");
    st->commit_wait_ms = setting(s, "commit_wait_ms");
    st->decode_threads = setting(s, "decode_threads");
    if (st->decode_threads < 1)
        st->decode_threads = default_decode_threads();
    st->decode_ahead = setting_bool(s, "decode_ahead");
    st->max_payload_bytes = setting(s, "max_payload_bytes");
    st->retry_initial_ms = setting(s, "retry_initial_ms");
    st->retry_max_ms = setting(s, "retry_max_ms");
    st->max_record_attempts = setting(s, "max_record_attempts");
    st->lane_max_records = setting(s, "lane_max_records");
    st->lane_max_bytes = setting(s, "lane_max_bytes");
    st->drain_timeout_ms = setting(s, "drain_timeout_ms");
    st->state_interval_ms = setting(s, "state_interval_ms");
    st->http_listen = s ? bp_section_value(s, "http_listen") : NULL;
    st->http_port_file = s ? bp_section_value(s, "http_port_file") : NULL;
    st->http_token_env = s ? bp_section_value(s, "http_token_env") : NULL;
    st->ready_grace_ms = setting(s, "ready_grace_ms");
    st->revisions_max_keys = setting(s, "revisions_max_keys");
    st->revisions_state_file = s ? bp_section_value(s, "revisions_state_file") : NULL;
    st->live_patients = setting(s, "live_patients");
    st->live_history = setting(s, "live_history");
    st->live_events = setting(s, "live_events");
    st->plausible.systolic_min = setting_double(s, "plausible_systolic_min");
    st->plausible.systolic_max = setting_double(s, "plausible_systolic_max");
    st->plausible.diastolic_min = setting_double(s, "plausible_diastolic_min");
    st->plausible.diastolic_max = setting_double(s, "plausible_diastolic_max");
    const char *level = s ? bp_section_value(s, "log_level") : NULL;
    if (level && bp_log_level_parse(level) >= 0)
        bp_log_set_level((bp_log_level)bp_log_level_parse(level));
    const char *format = s ? bp_section_value(s, "log_format") : NULL;
    if (format && bp_log_format_parse(format) >= 0)
        bp_log_set_format((bp_log_format)bp_log_format_parse(format));
}

static const char *kind_word(bp_section_kind k)
{
    return k == BP_SEC_SOURCE ? "source" : k == BP_SEC_DETECTOR ? "detector" : "sink";
}

static bp_kind plugin_kind(bp_section_kind k)
{
    return k == BP_SEC_SOURCE ? BP_KIND_SOURCE : k == BP_SEC_DETECTOR ? BP_KIND_DETECTOR
                                                                       : BP_KIND_SINK;
}

static int parse_route(const char *text, unsigned *mask)
{
    if (!text || strcmp(text, "all") == 0)
        *mask = BP_ROUTES_ALL;
    else if (strcmp(text, "anomaly") == 0)
        *mask = BP_ROUTE_BIT(BP_ROUTE_ANOMALY);
    else if (strcmp(text, "normal") == 0)
        *mask = BP_ROUTE_BIT(BP_ROUTE_NORMAL);
    else if (strcmp(text, "invalid") == 0)
        *mask = BP_ROUTE_BIT(BP_ROUTE_INVALID);
    else if (strcmp(text, "critical") == 0)
        *mask = BP_ROUTE_CRITICAL;
    else if (strcmp(text, "skipped") == 0)
        *mask = BP_ROUTE_BIT(BP_ROUTE_SKIPPED); /* never part of all: not readings */
    else if (strcmp(text, "alarm") == 0)
        *mask = BP_ROUTE_BIT(BP_ROUTE_ALARM); /* alarm events (src/alarm), not readings */
    else
        return -1;
    return 0;
}

static const char *const source_keys[] = {"plugin", NULL};
static const char *const sink_keys[] = {"plugin", "route", "lane_max_records",
                                        "lane_max_bytes", "buffer", "buffer_path",
                                        "buffer_max_bytes", "alarm_min_tier", NULL};

/* What a section's keys are checked against: the host's keys and the plugin's options. */
typedef struct stage_keys {
    const char *const *host;
    const bp_plugin *desc;
} stage_keys;

static bool stage_declares(void *user, const char *key)
{
    const stage_keys *k = user;
    for (const char *const *h = k->host; *h; h++)
        if (strcmp(*h, key) == 0)
            return true;
    return bp_options_find(k->desc->options, k->desc->n_options, key) != NULL;
}

/* After -o replaced the file's plugin of `s`, the file's keys the new plugin does not declare
 * belonged to the old one: they are dropped, and named (never their values, which may be
 * secrets) in one line. Keys both take, such as a sink's route, stay. */
static void resolve_swap(bp_section *s, const bp_plugin *desc)
{
    const char *from = bp_section_swapped_from(s);
    if (!from)
        return;
    stage_keys keys = {s->kind == BP_SEC_SINK ? sink_keys : source_keys, desc};
    char names[1024];
    size_t n = bp_section_drop_undeclared(s, stage_declares, &keys, names, sizeof names);
    if (n)
        bp_log(s->name, BP_LOG_INFO, "plugin %s replaced by %s (-o): dropped %zu key%s of "
               "the file that %s does not take: %s", *from ? from : "(unset)", desc->name, n,
               n == 1 ? "" : "s", desc->name, names);
}

/* A stage whose plugin could not be resolved: its unresolved ${VAR}s are reported, unless -o
 * swapped the plugin, when nobody can tell which keys the new one would have kept. */
static bp_ctx *stage_failed(bp_section *s, bp_errors *errs)
{
    bp_section_report_unresolved(s, bp_section_swapped_from(s) ? NULL : errs);
    return NULL;
}

/* A sink section's own lane bounds, as the [pipeline] keys of the same names. */
static void check_lane_bounds(const bp_section *s, bp_errors *errs)
{
    static const char *const keys[] = {"lane_max_records", "lane_max_bytes"};
    size_t n;
    const bp_option *all = bp_pipeline_options(&n);
    for (size_t i = 0; i < 2; i++) {
        const bp_kv *kv = bp_section_get(s, keys[i]);
        const bp_option *o = bp_options_find(all, n, keys[i]);
        int64_t v;
        char where[512];
        if (kv && (bp_parse_int(kv->value, &v) != 0 || v < o->min || v > o->max))
            bp_errors_add(errs, "%s: [%s] key '%s': '%s' is not an integer from %.0f to %.0f",
                          bp_where(kv->file, kv->line, where, sizeof where), s->name, keys[i],
                          kv->value, o->min, o->max);
    }
}

/* A sink section's durable buffer (docs/spool.md): buffer = memory (the default) or disk, which
 * needs buffer_path; buffer_max_bytes bounds the spool. */
static void check_buffer(const bp_section *s, bp_errors *errs)
{
    char where[512];
    const bp_kv *kind = bp_section_get(s, "buffer");
    const bp_kv *path = bp_section_get(s, "buffer_path");
    const bp_kv *max = bp_section_get(s, "buffer_max_bytes");
    bool disk = kind && strcmp(kind->value, "disk") == 0;
    if (kind && !disk && strcmp(kind->value, "memory") != 0)
        bp_errors_add(errs, "%s: [%s] key 'buffer': '%s' is not one of memory, disk",
                      bp_where(kind->file, kind->line, where, sizeof where), s->name,
                      kind->value);
    if (disk && (!path || !*path->value))
        bp_errors_add(errs, "%s: [%s] buffer = disk needs buffer_path, the folder of the sink's "
                      "spool (created 0700 if absent; one folder per sink and process)",
                      bp_where(kind->file, kind->line, where, sizeof where), s->name);
    int64_t v;
    if (max && (bp_parse_int(max->value, &v) != 0 || v < 1048576 || v > ((int64_t)1 << 50)))
        bp_errors_add(errs, "%s: [%s] key 'buffer_max_bytes': '%s' is not an integer from "
                      "1048576 (1 MiB) to 1125899906842624 (1 PiB)",
                      bp_where(max->file, max->line, where, sizeof where), s->name, max->value);
    const bp_kv *stray = !disk ? (path ? path : max) : NULL;
    if (stray)
        bp_errors_add(errs, "%s: [%s] key '%s' is set but buffer is not disk: add buffer = disk, "
                      "or remove the key", bp_where(stray->file, stray->line, where, sizeof where),
                      s->name, stray->key);
}

/* alarm_min_tier = K (docs/alarms.md): a sink of route = alarm takes only the events of alarms
 * escalated to tier K or more (the next tier's pager). Returns K (0 when unset or wrong). */
static int check_min_tier(const bp_section *s, unsigned routes, bp_errors *errs)
{
    char where[512];
    const bp_kv *kv = bp_section_get(s, "alarm_min_tier");
    int64_t v = 0;
    if (!kv)
        return 0;
    bp_where(kv->file, kv->line, where, sizeof where);
    if (bp_parse_int(kv->value, &v) != 0 || v < 0 || v > 8) {
        bp_errors_add(errs, "%s: [%s] key 'alarm_min_tier': '%s' is not an integer from 0 to 8",
                      where, s->name, kv->value);
        return 0;
    }
    if (!(routes & BP_ROUTE_BIT(BP_ROUTE_ALARM)))
        bp_errors_add(errs, "%s: [%s] key 'alarm_min_tier' needs route = alarm (it selects alarm "
                      "events by escalation tier); set the route or remove the key", where,
                      s->name);
    return (int)v;
}

/* http_listen is an address the listener can take (docs/operations.md), so `check` refuses
 * what `run` would. */
static void check_http(const bp_section *s, bp_errors *errs)
{
    char where[512], host[64];
    unsigned port;
    const bp_kv *kv = bp_section_get(s, "http_listen");
    if (kv && bp_parse_listen(kv->value, host, sizeof host, &port) != 0)
        bp_errors_add(errs, "%s: [pipeline] key 'http_listen': '%s' is not HOST:PORT or PORT "
                      "with an IPv4 address and a port from 0 to 65535 (e.g. 127.0.0.1:9464)",
                      bp_where(kv->file, kv->line, where, sizeof where), kv->value);
}

/* Builds the instance of one stage section; NULL (with errors added) when it cannot. */
static bp_ctx *build_stage(bp_pipeline *p, bp_section *s, bp_errors *errs)
{
    char where[512];
    const bp_kv *plugin_kv = bp_section_get(s, "plugin");
    if (!plugin_kv || !plugin_kv->value) {
        if (plugin_kv) {
            bp_section_report_unresolved(s, errs);
            return NULL;
        }
        bp_errors_add(errs, "%s: [%s] missing required key 'plugin' (the %s plugin to run, see "
                      "'bppipe plugins')", bp_where(s->file, s->line, where, sizeof where),
                      s->name, kind_word(s->kind));
        return stage_failed(s, errs);
    }
    bp_where(plugin_kv->file, plugin_kv->line, where, sizeof where);
    const bp_loaded *lp;
    char err[2048];
    if (bp_loader_find(&p->loader, plugin_kv->value, &lp, err, sizeof err) != 0) {
        bp_errors_add(errs, "%s: [%s] key 'plugin': %s", where, s->name, err);
        return stage_failed(s, errs);
    }
    if (lp->desc->kind != plugin_kind(s->kind)) {
        bp_errors_add(errs, "%s: [%s] key 'plugin': '%s' is a %s plugin, not a %s", where,
                      s->name, plugin_kv->value, bp_kind_name(lp->desc->kind),
                      kind_word(s->kind));
        return stage_failed(s, errs);
    }
    resolve_swap(s, lp->desc);
    bp_section_report_unresolved(s, errs);
    unsigned routes = 0;
    if (s->kind == BP_SEC_SINK) {
        const bp_kv *route = bp_section_get(s, "route");
        if (parse_route(route ? route->value : NULL, &routes) != 0) {
            bp_errors_add(errs, "%s: [%s] key 'route': '%s' is not one of anomaly|normal|all|"
                          "critical|invalid|skipped|alarm",
                          bp_where(route->file, route->line, where, sizeof where), s->name,
                          route->value);
            return NULL;
        }
    }
    bp_options_validate(s, lp->desc->options, lp->desc->n_options,
                        s->kind == BP_SEC_SINK ? sink_keys : source_keys, errs);
    int min_tier = 0;
    if (s->kind == BP_SEC_SINK) {
        check_lane_bounds(s, errs);
        check_buffer(s, errs);
        min_tier = check_min_tier(s, routes, errs);
        const bp_kv *buf = bp_section_get(s, "buffer");
        if ((routes & BP_ROUTE_BIT(BP_ROUTE_ALARM)) && buf && strcmp(buf->value, "disk") == 0)
            /* the spool's record codec keeps readings, not an event's fields */
            bp_errors_add(errs, "%s: [%s] route = alarm does not take buffer = disk yet (the "
                          "spool would lose the events' fields); remove buffer and its keys",
                          bp_where(buf->file, buf->line, where, sizeof where), s->name);
    }
    bp_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx || !(ctx->name = strdup(s->name))) {
        free(ctx);
        bp_errors_add(errs, "out of memory");
        return NULL;
    }
    ctx->section = s;
    ctx->plugin = lp;
    ctx->routes = routes;
    ctx->route_name = bp_section_value(s, "route") ? bp_section_value(s, "route") : "all";
    ctx->alarm_min_tier = min_tier;
    return ctx;
}

static int push_ctx(bp_ctx ***list, size_t *n, bp_ctx *ctx)
{
    bp_ctx **grown = realloc(*list, (*n + 1) * sizeof *grown);
    if (!grown)
        return -1;
    *list = grown;
    grown[(*n)++] = ctx;
    return 0;
}

static void build_stages(bp_pipeline *p, bp_errors *errs)
{
    const bp_section *first_source = NULL;
    /* One error for all the sink sections past the limit, not one each (10 000 sections made
     * 9 936 lines): the first of them, and how many follow it. */
    bool said_too_many = false;
    for (size_t i = 0; i < p->cfg.n_sections; i++) {
        bp_section *s = &p->cfg.sections[i];
        if (s->kind == BP_SEC_PIPELINE || s->kind == BP_SEC_ALARMS)
            continue; /* [alarms]: read by the alarm stage (src/alarm) */
        char where[512];
        if (s->kind == BP_SEC_SOURCE && first_source) {
            /* A source added by -o most likely means to replace the file's: say how. */
            char hint[300] = "";
            if (s->line <= 0)
                snprintf(hint, sizeof hint, " (remove it with -u %s)", first_source->name);
            bp_errors_add(errs, "%s: [%s] a pipeline has one source; [%s] is already defined at "
                          "line %d%s", bp_where(s->file, s->line, where, sizeof where), s->name,
                          first_source->name, first_source->line, hint);
            continue;
        }
        if (s->kind == BP_SEC_SOURCE)
            first_source = s;
        if (s->kind == BP_SEC_SINK && p->n_sinks >= BP_MAX_SINKS) {
            if (!said_too_many) {
                size_t more = 0;
                for (size_t k = i + 1; k < p->cfg.n_sections; k++)
                    more += p->cfg.sections[k].kind == BP_SEC_SINK;
                bp_errors_add(errs, "%s: [%s] and %zu more sink section(s) after it: a pipeline "
                              "has at most %d sinks", bp_where(s->file, s->line, where,
                              sizeof where), s->name, more, BP_MAX_SINKS);
                said_too_many = true;
            }
            continue;
        }
        bp_ctx *ctx = build_stage(p, s, errs);
        if (!ctx)
            continue;
        int rc = 0;
        if (s->kind == BP_SEC_SOURCE) {
            p->source = ctx;
        } else if (s->kind == BP_SEC_DETECTOR) {
            rc = push_ctx(&p->detectors, &p->n_detectors, ctx);
        } else {
            ctx->index = (int)p->n_sinks;
            rc = push_ctx(&p->sinks, &p->n_sinks, ctx);
            if (ctx->routes & BP_ROUTE_BIT(BP_ROUTE_INVALID))
                p->has_invalid_sink = true;
        }
        if (rc != 0) {
            bp_ctx_free(ctx);
            bp_errors_add(errs, "out of memory");
        }
    }
}

/* A section of that kind exists (even one that failed to build and reported its own error). */
static bool has_kind(const bp_config *cfg, bp_section_kind kind)
{
    for (size_t i = 0; i < cfg->n_sections; i++)
        if (cfg->sections[i].kind == kind)
            return true;
    return false;
}

int bp_pipeline_build(bp_pipeline *p, const char *path, const bp_edit *edits, size_t n_edits,
                      bp_errors *errs)
{
    memset(p, 0, sizeof *p);
    if (bp_config_load(&p->cfg, path, errs) != 0)
        return -1;
    bp_config_apply(&p->cfg, edits, n_edits, errs);

    bp_section *ps = bp_config_find(&p->cfg, "pipeline");
    size_t n_popts;
    const bp_option *popts = bp_pipeline_options(&n_popts);
    if (ps) {
        bp_section_report_unresolved(ps, errs);
        bp_options_validate(ps, popts, n_popts, NULL, errs);
        check_http(ps, errs);
    }
    read_settings(p, ps);

    /* plugin_path entries are relative to the pipeline file, so a pipeline folder with its
     * own plugins works from any working directory. */
    char dir_buf[PATH_MAX];
    snprintf(dir_buf, sizeof dir_buf, "%s", path);
    const char *base = dirname(dir_buf);
    if (bp_loader_init(&p->loader, ps ? bp_section_value(ps, "plugin_path") : NULL, base) != 0) {
        bp_errors_add(errs, "out of memory");
        return -1;
    }
    build_stages(p, errs);
    bp_config_report_unresolved(&p->cfg, errs); /* sections no stage was built from */
    if (!p->settings.max_payload_bytes)
        p->settings.max_payload_bytes = default_max_payload(p->source);
    if (!p->source && !has_kind(&p->cfg, BP_SEC_SOURCE))
        bp_errors_add(errs, "%s: no [source.NAME] section: a pipeline needs exactly one source",
                      path);
    if (p->n_sinks == 0 && !has_kind(&p->cfg, BP_SEC_SINK))
        bp_errors_add(errs, "%s: no [sink.NAME] section: readings would go nowhere; add one "
                      "(e.g. plugin = sink-file)", path);
    return errs->n ? -1 : 0;
}

static int open_ctx(bp_ctx *ctx, bp_errors *errs)
{
    if (!ctx || ctx->opened)
        return 0;
    int rc = ctx->plugin->desc->open(bp_host_table(), ctx, &ctx->state);
    if (rc != BP_OK) {
        bp_errors_add(errs, "[%s] plugin %s could not start (see the message above)", ctx->name,
                      ctx->plugin->desc->name);
        return -1;
    }
    ctx->opened = true;
    return 0;
}

int bp_pipeline_open(bp_pipeline *p, bp_errors *errs)
{
    /* Before any instance declares its state: where that state is kept. */
    const bp_plugin *d = p->source ? p->source->plugin->desc : NULL;
    bp_state_configure(bp_desc_caps(d) & BP_CAP_KEYED_STATE,
                       p->settings.state_interval_ms);
    for (size_t i = 0; i < p->n_sinks; i++)
        if (open_ctx(p->sinks[i], errs) != 0)
            return -1;
    for (size_t i = 0; i < p->n_detectors; i++)
        if (open_ctx(p->detectors[i], errs) != 0)
            return -1;
    return open_ctx(p->source, errs);
}

static void close_ctx(bp_ctx *ctx)
{
    if (!ctx || !ctx->opened)
        return;
    ctx->plugin->desc->close(ctx->state);
    bp_state_forget_owner(ctx);
    ctx->opened = false;
    ctx->state = NULL;
}

void bp_pipeline_close(bp_pipeline *p)
{
    close_ctx(p->source);
    for (size_t i = p->n_detectors; i-- > 0;)
        close_ctx(p->detectors[i]);
    for (size_t i = p->n_sinks; i-- > 0;) {
        bp_ctx *s = p->sinks[i];
        if (s->opened && s->plugin->desc->flush && s->plugin->desc->flush(s->state) != BP_OK)
            bp_log(s->name, BP_LOG_ERROR, "flush failed at shutdown");
        close_ctx(s);
    }
}

void bp_pipeline_free(bp_pipeline *p)
{
    bp_pipeline_close(p);
    bp_ctx_free(p->source);
    for (size_t i = 0; i < p->n_detectors; i++)
        bp_ctx_free(p->detectors[i]);
    for (size_t i = 0; i < p->n_sinks; i++)
        bp_ctx_free(p->sinks[i]);
    free(p->detectors);
    free(p->sinks);
    bp_loader_free(&p->loader);
    bp_config_free(&p->cfg);
    memset(p, 0, sizeof *p);
}
