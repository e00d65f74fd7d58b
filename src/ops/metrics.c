#include "ops/metrics.h"

#include "alarm/ack_config.h"
#include "alarm/alarm.h"
#include "base/log.h"
#include "common/clock.h"
#include "delivery/lane.h"
#include "delivery/lane_books.h"
#include "ops/alarm_api.h"
#include "ops/http.h"
#include "ops/live.h"
#include "ops/metrics_alarms.h"
#include "pipeline/pipeline.h"
#include "pipeline/stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const route_names[BP_ROUTE_READING_COUNT] = {"normal", "anomaly", "invalid",
                                                                 "skipped"};

const double bp_metrics_bounds[BP_METRICS_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                      1,     2.5,  5,     10,   30,  60,   300};

static void observe(bp_histogram *h, double v)
{
    if (v < 0)
        v = 0; /* a source clock a little ahead of ours */
    size_t i = 0;
    while (i < BP_METRICS_BUCKETS && v > bp_metrics_bounds[i])
        i++;
    h->bucket[i]++;
    h->count++;
    h->sum += v;
}

/* The observer's `committed`: a batch's duration and its readings' end-to-end latencies. */
static void committed(void *ctx, const bp_flight *f)
{
    bp_metrics *m = ctx;
    if (!m->http)
        return;
    observe(&m->batch, bp_now_s() - f->polled_s);
    int64_t now = bp_wall_ms();
    for (size_t i = 0; i < f->records.count; i++) {
        const bp_record *r = f->records.items[i];
        if (bp_record_route(r) == BP_ROUTE_SKIPPED)
            continue;
        /* From the source's timestamp (Kafka: the record's timestamp, append time on a topic
         * with LogAppendTime) when it gives one that is not in the future, else from arrival. */
        int64_t from =
            r->source_ts_ms >= 0 && r->source_ts_ms <= now ? r->source_ts_ms : f->polled_ms;
        observe(&m->e2e, (double)(now - from) / 1000.0);
    }
}

static void histogram(bp_buf *b, const char *name, const char *help, const bp_histogram *h);

/* A reading routed to one of these sinks is an alert on the live page: the sinks of
 * route = critical. That route is where a pipeline without [alarms] sends what must reach
 * someone now (a sink-alert sink; pipelines/ward.ini has alarms instead), so the page asks the
 * routing rather than a plugin's name; a sink-alert on another route, or another plugin on
 * route = critical, is judged by its route like the rest. Bit i: the sink whose index is i. */
static uint64_t alerting_sinks(const bp_pipeline *p)
{
    uint64_t sinks = 0;
    for (size_t i = 0; i < p->n_sinks; i++)
        if (p->sinks[i]->routes & BP_ROUTE_CRITICAL)
            sinks |= 1ull << p->sinks[i]->index;
    return sinks;
}

/* The alarm endpoints' state: who may acknowledge and the audit, from [alarms]. NULL (logged)
 * when a file is refused; *api NULL without [alarms]. */
static int alarm_api_start(const bp_pipeline *p, bp_alarm_api **api)
{
    *api = NULL;
    if (!bp_config_find(&p->cfg, "alarms"))
        return 0;
    const char *users_file = bp_alarm_users_file(&p->cfg);
    const char *audit_file = bp_alarm_audit_file(&p->cfg);
    char err[1024];
    bp_users *users = NULL;
    bp_audit *audit = NULL;
    if (users_file && !(users = bp_users_load(users_file, err, sizeof err))) {
        bp_log("alarms", BP_LOG_ERROR, "%s", err);
        return -1;
    }
    if (audit_file && !(audit = bp_audit_open(audit_file, err, sizeof err))) {
        bp_log("alarms", BP_LOG_ERROR, "%s", err);
        bp_users_free(users);
        return -1;
    }
    const bp_plugin *d = p->source->plugin->desc;
    bool can_forward = BP_DESC_HAS(d, send_input) && d->send_input;
    if (!(*api = bp_alarm_api_new(users, audit, can_forward))) {
        bp_log("alarms", BP_LOG_ERROR, "out of memory starting the alarm endpoints");
        bp_users_free(users);
        bp_audit_close(audit);
        return -1;
    }
    if (users)
        bp_log("alarms", BP_LOG_INFO, "%zu user(s) may acknowledge alarms (%s); audit: %s",
               bp_users_count(users), users_file, audit_file);
    return 0;
}

/* The observer's `started`: the token, the per-lane state, the live page's and the listener. */
static int started(void *ctx, const bp_pipeline *p, const bp_lanes *ls)
{
    bp_metrics *m = ctx;
    size_t n_lanes = ls->n;
    const bp_settings *s = &p->settings;
    const char *token = NULL;
    if (s->http_token_env) {
        token = getenv(s->http_token_env);
        if (!token || !*token) {
            bp_log("core", BP_LOG_ERROR,
                   "http_token_env = %s: that environment variable is "
                   "unset or empty, so the listener would have no token",
                   s->http_token_env);
            return -1;
        }
    }
    m->n = n_lanes;
    if (n_lanes && !(m->failing_since = calloc(n_lanes, sizeof *m->failing_since))) {
        bp_log("core", BP_LOG_ERROR, "out of memory starting the http listener");
        return -1;
    }
    bp_live_bounds lb = {(size_t)s->live_patients, (size_t)s->live_history,
                         (size_t)s->live_events};
    if (!(m->live = bp_live_new(lb, alerting_sinks(p)))) {
        bp_log("core", BP_LOG_ERROR, "out of memory for the live page's state");
        free(m->failing_since);
        m->failing_since = NULL;
        return -1;
    }
    bp_live_set_burden(m->live, m->burden);
    bp_alarm_api *api = NULL;
    if (alarm_api_start(p, &api) != 0 ||
        !(m->http = bp_http_start(s->http_listen, s->http_port_file, token))) {
        bp_alarm_api_free(api);
        bp_live_free(m->live);
        m->live = NULL;
        free(m->failing_since);
        m->failing_since = NULL;
        return -1;
    }
    if (api) {
        bp_http_set_alarms(m->http, api);
        m->alarm_api = api;
    }
    return 0;
}

/* Appends a label value with the escapes the text format asks for (\\, \" and \n). */
static void label_value(bp_buf *b, const char *s)
{
    bp_buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            bp_buf_putc(b, '\\');
        if (*s == '\n') {
            bp_buf_puts(b, "\\n");
            continue;
        }
        bp_buf_putc(b, *s);
    }
    bp_buf_putc(b, '"');
}

/* A dead-letter reason kind as a label: what a payload put between quotes (a unit, a status)
 * is replaced by '...', so no value of a reading reaches a label, and the text is cut at 80
 * bytes. The kinds are at most BP_MAX_REASON_KINDS, then "other": a bounded set. */
static void reason_label(const char *kind, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = kind; *p && n + 6 < size && n < 80; p++) {
        if (*p == '\'' || *p == '"') {
            const char *close = strchr(p + 1, *p);
            memcpy(out + n, "'...'", 5);
            n += 5;
            if (!close)
                break;
            p = close;
            continue;
        }
        out[n++] = *p;
    }
    out[n] = '\0';
}

static void family(bp_buf *b, const char *name, const char *type, const char *help)
{
    char line[512];
    snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    bp_buf_puts(b, line);
}

/* One sample: name{label="value"} number. label may be NULL. */
static void sample(bp_buf *b, const char *name, const char *label, const char *value, double v)
{
    bp_buf_puts(b, name);
    if (label) {
        bp_buf_putc(b, '{');
        bp_buf_puts(b, label);
        bp_buf_putc(b, '=');
        label_value(b, value);
        bp_buf_putc(b, '}');
    }
    char num[48];
    snprintf(num, sizeof num, " %.17g\n", v);
    bp_buf_puts(b, num);
}

static void sink_family(bp_buf *b, const bp_lanes *ls, const char *name, const char *type,
                        const char *help, int which)
{
    family(b, name, type, help);
    for (size_t i = 0; i < ls->n; i++) {
        const bp_lane *l = &ls->lanes[i];
        double v = which == 0   ? (double)l->seen.delivered
                   : which == 1 ? (double)l->seen.rejected
                   : which == 2 ? (double)l->seen.retries
                   : which == 3 ? (double)l->records
                   : which == 4 ? (double)l->seen.spooled
                                : (double)l->spool_records;
        sample(b, name, "sink", l->sink->name, v);
    }
}

static void plugin_counters(bp_buf *b, const char *instance, const bp_counter *c, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        bp_buf_puts(b, "bppipe_plugin_value{instance=");
        label_value(b, instance);
        bp_buf_puts(b, ",name=");
        label_value(b, c[k].name);
        char num[48];
        snprintf(num, sizeof num, "} %.17g\n", c[k].value);
        bp_buf_puts(b, num);
    }
}

void bp_metrics_render(bp_buf *b, const bp_metrics *m, const bp_stats *st, const bp_pipeline *p,
                       const bp_lanes *ls, double now)
{
    const double *failing_since = m->failing_since;
    family(b, "bppipe_up", "gauge", "1 while the pipeline runs.");
    sample(b, "bppipe_up", NULL, NULL, 1);
    family(b, "bppipe_payloads_total", "counter", "Payloads taken from the source.");
    sample(b, "bppipe_payloads_total", NULL, NULL, (double)st->payloads);
    family(b, "bppipe_readings_decoded_total", "counter",
           "Records decoding produced, valid or not (skipped resources are not readings).");
    sample(b, "bppipe_readings_decoded_total", NULL, NULL, (double)st->readings_in);
    family(b, "bppipe_readings_total", "counter",
           "Readings by route, counted once every sink has them and the batch is committed.");
    for (int r = 0; r < BP_ROUTE_READING_COUNT; r++) /* alarm events and commands: not readings */
        sample(b, "bppipe_readings_total", "route", route_names[r], (double)st->by_route[r]);
    /* revisions (docs/revisions.md) */
    family(b, "bppipe_corrected_total", "counter",
           "Readings that replaced an earlier version of their logical id (also in "
           "bppipe_readings_total).");
    sample(b, "bppipe_corrected_total", NULL, NULL, (double)st->corrected);
    family(b, "bppipe_retracted_total", "counter",
           "Retractions (entered-in-error) applied: not readings.");
    sample(b, "bppipe_retracted_total", NULL, NULL, (double)st->by_route[BP_ROUTE_RETRACT]);
    family(b, "bppipe_revisions_evicted_total", "counter",
           "Revision ledger entries forgotten to stay within revisions_max_keys.");
    sample(b, "bppipe_revisions_evicted_total", NULL, NULL, (double)st->revisions_evicted);
    family(b, "bppipe_readings_in_flight", "gauge", "Readings decoded, not yet committed.");
    sample(b, "bppipe_readings_in_flight", NULL, NULL, (double)st->in_flight);
    family(b, "bppipe_source_polls_total", "counter", "Calls of the source's poll().");
    sample(b, "bppipe_source_polls_total", NULL, NULL, p->source ? (double)p->source->calls : 0);

    family(b, "bppipe_dead_letters_total", "counter",
           "Invalid readings by kind of reason, and judged readings a sink rejected.");
    char label[96];
    for (size_t i = 0; i < st->n_reasons; i++) {
        reason_label(st->reasons[i].kind, label, sizeof label);
        sample(b, "bppipe_dead_letters_total", "reason", label, (double)st->reasons[i].count);
    }
    if (st->reasons_other)
        sample(b, "bppipe_dead_letters_total", "reason", "other", (double)st->reasons_other);
    sample(b, "bppipe_dead_letters_total", "reason", "rejected by a sink",
           (double)st->sink_rejected);
    family(b, "bppipe_dead_letters_unrouted_total", "counter",
           "Invalid readings with no route = invalid sink to take them.");
    sample(b, "bppipe_dead_letters_unrouted_total", NULL, NULL, (double)st->invalid_unrouted);
    family(b, "bppipe_skipped_total", "counter",
           "Valid FHIR resources that are not blood-pressure readings, by reason.");
    for (size_t i = 0; i < st->n_skipped; i++)
        sample(b, "bppipe_skipped_total", "reason", st->skipped[i].reason,
               (double)st->skipped[i].count);

    sink_family(b, ls, "bppipe_sink_delivered_total", "counter", "Records a sink delivered.", 0);
    sink_family(b, ls, "bppipe_sink_rejected_total", "counter", "Records a sink rejected.", 1);
    sink_family(b, ls, "bppipe_sink_retries_total", "counter",
                "Writes of a sink that left records to offer again.", 2);
    sink_family(b, ls, "bppipe_sink_backlog_records", "gauge",
                "Records queued for a sink in memory, the batch being written included.", 3);
    sink_family(b, ls, "bppipe_sink_spooled_total", "counter",
                "Records written to a sink's disk buffer (buffer = disk).", 4);
    sink_family(b, ls, "bppipe_sink_spool_records", "gauge", "Records in a sink's disk buffer now.",
                5);
    family(b, "bppipe_sink_failing_seconds", "gauge",
           "How long a sink's writes have taken nothing (0 while it delivers).");
    for (size_t i = 0; i < ls->n; i++)
        sample(b, "bppipe_sink_failing_seconds", "sink", ls->lanes[i].sink->name,
               failing_since && failing_since[i] > 0 ? now - failing_since[i] : 0);

    histogram(b, "bppipe_e2e_latency_seconds",
              "From a reading's source timestamp (Kafka: its "
              "record timestamp; else its arrival) to the commit after every sink acknowledged "
              "it.",
              &m->e2e);
    histogram(b, "bppipe_batch_duration_seconds", "From a batch's poll to its commit.", &m->batch);
    family(b, "bppipe_plugin_value", "gauge",
           "The sum of a plugin's count() calls (a counter, or a level such as consumer_lag).");
    const bp_ctx *src = p->source;
    if (src)
        plugin_counters(b, src->name, src->counters, src->n_counters);
    for (size_t i = 0; i < p->n_detectors; i++)
        plugin_counters(b, p->detectors[i]->name, p->detectors[i]->counters,
                        p->detectors[i]->n_counters);
    for (size_t i = 0; i < ls->n; i++)
        plugin_counters(b, ls->lanes[i].sink->name, ls->lanes[i].seen.counters,
                        ls->lanes[i].seen.n_counters);
    if (m->burden)
        bp_metrics_alarms_render(b, m->burden);
}

static void histogram(bp_buf *b, const char *name, const char *help, const bp_histogram *h)
{
    family(b, name, "histogram", help);
    char line[160];
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= BP_METRICS_BUCKETS; i++) {
        cumulative += h->bucket[i];
        if (i < BP_METRICS_BUCKETS)
            snprintf(line, sizeof line, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
                     bp_metrics_bounds[i], cumulative);
        else
            snprintf(line, sizeof line, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cumulative);
        bp_buf_puts(b, line);
    }
    snprintf(line, sizeof line, "%s_sum %.17g\n%s_count %" PRIu64 "\n", name, h->sum, name,
             h->count);
    bp_buf_puts(b, line);
}

/* The /readyz verdict, under the lanes' mu: the source has its partitions (when it counts
 * partitions_assigned, as source-kafka does), no sink has failed past ready_grace_ms. */
static int readiness(const bp_metrics *m, const bp_pipeline *p, const bp_lanes *ls, double now,
                     char *why, size_t size)
{
    const bp_ctx *src = p->source;
    for (size_t k = 0; src && k < src->n_counters; k++) {
        if (strcmp(src->counters[k].name, "partitions_assigned") == 0 &&
            src->counters[k].value <= 0) {
            snprintf(why, size, "%s has no partitions assigned", src->name);
            return 0;
        }
    }
    if (ls->fatal) {
        snprintf(why, size, "a sink failed permanently");
        return 0;
    }
    double grace = (double)p->settings.ready_grace_ms / 1000.0;
    for (size_t i = 0; i < ls->n; i++) {
        double since = m->failing_since[i];
        if (since > 0 && now - since >= grace) {
            snprintf(why, size, "%s failing for %.0f s", ls->lanes[i].sink->name, now - since);
            return 0;
        }
    }
    why[0] = '\0';
    return 1;
}

/* The observer's `tick`: the snapshot every BP_METRICS_EVERY_S, the live page's every
 * BP_LIVE_EVERY_S. */
static void tick(void *ctx, const bp_stats *st, const bp_pipeline *p, bp_lanes *ls, bool force)
{
    bp_metrics *m = ctx;
    if (!m->http)
        return;
    double now = bp_now_s();
    if (!force && now - m->last < BP_METRICS_EVERY_S)
        return;
    m->last = now;
    bp_buf_reset(&m->text);
    char why[256];
    pthread_mutex_lock(&ls->mu);
    for (size_t i = 0; i < ls->n && i < m->n; i++) {
        if (!ls->lanes[i].failing)
            m->failing_since[i] = 0;
        else if (m->failing_since[i] == 0)
            m->failing_since[i] = now;
    }
    bp_metrics_render(&m->text, m, st, p, ls, now);
    int ready = readiness(m, p, ls, now, why, sizeof why);
    pthread_mutex_unlock(&ls->mu);
    if (m->text.failed) {
        bp_log("core", BP_LOG_WARN, "out of memory building /metrics; serving the last one");
        bp_buf_reset(&m->text);
        return;
    }
    bp_http_publish(m->http, m->text.data ? m->text.data : "", m->text.len, ready, why);
    if (force || now - m->live_last >= BP_LIVE_EVERY_S) {
        m->live_last = now;
        bp_buf_reset(&m->live_text);
        bp_live_render(m->live, &m->live_text, bp_wall_ms());
        if (m->live_text.failed)
            bp_log("core", BP_LOG_WARN, "out of memory building /api/ward; serving the last one");
        else
            bp_http_publish_live(m->http, m->live_text.data, m->live_text.len);
        bp_buf_reset(&m->live_text);
        char *list = m->alarms && m->alarm_api ? bp_alarms_list_json(m->alarms) : NULL;
        if (list)
            bp_alarm_api_publish(m->alarm_api, list, strlen(list));
        free(list);
    }
}

/* The observer's `judged`: the batch's readings to the live page's state. */
static void judged(void *ctx, const bp_batch *records)
{
    bp_metrics *m = ctx;
    if (m->live)
        bp_live_feed(m->live, records, bp_wall_ms());
}

/* The observer's `stopped`: the lanes are stopped, so the listener goes and `m` is emptied. */
static void stopped(void *ctx)
{
    bp_metrics *m = ctx;
    bp_http_stop(m->http); /* frees the alarm endpoints' state too */
    m->http = NULL;
    m->alarm_api = NULL;
    bp_live_free(m->live);
    m->live = NULL;
    bp_buf_free(&m->live_text);
    free(m->failing_since);
    m->failing_since = NULL;
    bp_buf_free(&m->text);
}

const bp_run_observer *bp_metrics_observer(bp_metrics *m, const bp_pipeline *p)
{
    memset(m, 0, sizeof *m);
    bp_buf_init(&m->text);
    bp_buf_init(&m->live_text);
    if (!p->settings.http_listen)
        return NULL;
    m->observer = (bp_run_observer){.ctx = m,
                                    .started = started,
                                    .tick = tick,
                                    .judged = judged,
                                    .committed = committed,
                                    .stopped = stopped};
    return &m->observer;
}
