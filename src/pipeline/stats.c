#include "pipeline/stats.h"

#include "base/log.h"
#include "common/clock.h"
#include "common/json_buf.h"
#include "pipeline/pipeline.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static bool word_char(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

/* Folds the numbers that are values into "N", so "not JSON at byte 12" and "... byte 40" are
 * one kind of reason, while digits that belong to a word stay: "UTF-8", "SHA-256", "h2",
 * "v1.2". A number is a value when no letter touches it (a letter and a hyphen before it count
 * as touching, as in "UTF-8", and so does a number of a word before a hyphen, as in
 * "ISO-8859-1"); "40-300" and "3.5" are values. */
static void reason_kind(const char *reason, char *kind, size_t size)
{
    size_t n = 0;
    const char *word_number_end = NULL; /* where the last number kept as part of a word ended */
    for (const char *p = reason; *p && n + 1 < size;) {
        if (!isdigit((unsigned char)*p)) {
            kind[n++] = *p++;
            continue;
        }
        const char *end = p;
        while (isdigit((unsigned char)*end) ||
               (*end == '.' && isdigit((unsigned char)end[1]) && end > p))
            end++;
        char before = p > reason ? p[-1] : '\0';
        bool in_word = word_char(before) || word_char(*end) ||
                       (before == '-' && p - 1 > reason &&
                        (word_char(p[-2]) || p - 1 == word_number_end)); /* ISO-8859-1 */
        if (in_word) {
            word_number_end = end;
            while (p < end && n + 1 < size)
                kind[n++] = *p++;
        } else {
            kind[n++] = 'N';
        }
        p = end;
    }
    kind[n] = '\0';
}

void bp_stats_count_reason(bp_stats *st, const char *reason)
{
    char kind[96];
    reason_kind(reason ? reason : "no reason", kind, sizeof kind);
    size_t n = strlen(kind);
    for (size_t i = 0; i < st->n_reasons; i++) {
        if (strcmp(st->reasons[i].kind, kind) == 0) {
            st->reasons[i].count++;
            return;
        }
    }
    if (st->n_reasons == BP_MAX_REASON_KINDS) {
        st->reasons_other++;
        return;
    }
    memcpy(st->reasons[st->n_reasons].kind, kind, n + 1);
    st->reasons[st->n_reasons].count = 1;
    st->n_reasons++;
}

void bp_stats_count_skipped(bp_stats *st, const char *reason)
{
    for (size_t i = 0; i < st->n_skipped; i++) {
        if (strcmp(st->skipped[i].reason, reason) == 0) {
            st->skipped[i].count++;
            return;
        }
    }
    size_t n = strlen(reason);
    if (st->n_skipped == BP_MAX_SKIP_REASONS || n >= sizeof st->skipped[0].reason) {
        st->skipped_other++;
        return;
    }
    memcpy(st->skipped[st->n_skipped].reason, reason, n + 1);
    st->skipped[st->n_skipped].count = 1;
    st->n_skipped++;
}

static void json_u64(bp_buf *b, const char *key, unsigned long long v, bool comma);

void bp_stats_print_status(const bp_stats *st, const bp_pipeline *p, double rate,
                           const char *note)
{
    char extra[512] = "";
    size_t used = 0;
    /* The source's own counters (e.g. source-kafka's consumer_lag) ride along. A source that
     * counts `partitions_assigned` and has none is waiting for its group: said first. */
    const bp_ctx *src = p ? p->source : NULL;
    for (size_t i = 0; src && i < src->n_counters; i++)
        if (strcmp(src->counters[i].name, "partitions_assigned") == 0 &&
            src->counters[i].value <= 0)
            used = (size_t)snprintf(extra, sizeof extra, " waiting for partition assignment,");
    for (size_t i = 0; src && i < src->n_counters && used + 1 < sizeof extra; i++) {
        int n = snprintf(extra + used, sizeof extra - used, " %s %.15g", src->counters[i].name,
                         src->counters[i].value);
        if (n > 0)
            used += (size_t)n < sizeof extra - used ? (size_t)n : sizeof extra - used - 1;
    }
    /* corrections and retractions once there are any (docs/revisions.md) */
    char revised[96] = "";
    unsigned long long retracted = st->by_route[BP_ROUTE_RETRACT];
    if (st->corrected || retracted)
        snprintf(revised, sizeof revised, " corrected %llu retracted %llu",
                 (unsigned long long)st->corrected, retracted);
    char line[2048];
    snprintf(
        line, sizeof line,
        "bppipe: in %llu (%.0f/s) anomaly %llu normal %llu invalid %llu in-flight %llu%s%s%s%s",
        (unsigned long long)st->readings_in, rate,
        (unsigned long long)st->by_route[BP_ROUTE_ANOMALY],
        (unsigned long long)st->by_route[BP_ROUTE_NORMAL],
        (unsigned long long)st->by_route[BP_ROUTE_INVALID], (unsigned long long)st->in_flight,
        revised, note ? note : "", used ? " |" : "", extra);
    bp_buf f;
    bp_buf_init(&f);
    if (bp_log_get_format() == BP_LOG_JSON) {
        /* the same figures as fields; the note (blocked sinks) as text */
        json_u64(&f, "readings_in", st->readings_in, false);
        bp_buf_puts(&f, ",\"rate\":");
        bp_buf_json_number(&f, rate);
        json_u64(&f, "anomaly", st->by_route[BP_ROUTE_ANOMALY], true);
        json_u64(&f, "normal", st->by_route[BP_ROUTE_NORMAL], true);
        json_u64(&f, "invalid", st->by_route[BP_ROUTE_INVALID], true);
        json_u64(&f, "in_flight", st->in_flight, true);
        json_u64(&f, "corrected", st->corrected, true);
        json_u64(&f, "retracted", retracted, true);
        const char *n = note ? note : "";
        while (*n == ' ' || *n == '|')
            n++;
        if (*n) {
            bp_buf_puts(&f, ",\"note\":");
            bp_buf_json_string(&f, n, strlen(n));
        }
        for (size_t i = 0; src && i < src->n_counters; i++) {
            bp_buf_puts(&f, i ? "," : ",\"source_counters\":{");
            bp_buf_json_string(&f, src->counters[i].name, strlen(src->counters[i].name));
            bp_buf_putc(&f, ':');
            bp_buf_json_number(&f, src->counters[i].value);
            if (i + 1 == src->n_counters)
                bp_buf_putc(&f, '}');
        }
    }
    bp_log_event("core", BP_LOG_INFO, "status", f.failed ? NULL : bp_buf_cstr(&f), line);
    bp_buf_free(&f);
}

static double elapsed(const bp_stats *st)
{
    double e = (st->ended_s ? st->ended_s : bp_now_s()) - st->started_s;
    return e > 0 ? e : 0;
}

static void render_json(const bp_stats *st, const bp_pipeline *p, bp_buf *out);

void bp_stats_print_summary(const bp_stats *st, const bp_pipeline *p)
{
    if (bp_log_get_format() == BP_LOG_JSON) {
        /* one line: the --summary-json object under "summary" */
        bp_buf f;
        bp_buf_init(&f);
        bp_buf_puts(&f, "\"summary\":");
        render_json(st, p, &f);
        bp_log_event("core", BP_LOG_INFO, "summary", f.failed ? NULL : bp_buf_cstr(&f), "");
        bp_buf_free(&f);
        return;
    }
    double secs = elapsed(st);
    unsigned long long in = st->readings_in, an = st->by_route[BP_ROUTE_ANOMALY],
                       no = st->by_route[BP_ROUTE_NORMAL], inv = st->by_route[BP_ROUTE_INVALID],
                       fl = st->in_flight;
    fprintf(stderr, "bppipe: summary of %s\n", p->cfg.path);
    fprintf(stderr, "  elapsed        %.3f s, %.0f readings/s\n", secs,
            secs > 0 ? (double)in / secs : 0.0);
    fprintf(stderr, "  payloads       %llu\n", (unsigned long long)st->payloads);
    fprintf(stderr, "  readings in    %llu = anomaly %llu + normal %llu + invalid %llu"
            " + in flight %llu%s\n", in, an, no, inv, fl,
            in == an + no + inv + fl ? "" : "  ** BOOKS DO NOT BALANCE **");
    if (st->n_reasons) {
        fprintf(stderr, "  invalid by reason:\n");
        for (size_t i = 0; i < st->n_reasons; i++)
            fprintf(stderr, "    %8llu  %s\n", (unsigned long long)st->reasons[i].count,
                    st->reasons[i].kind);
        if (st->reasons_other)
            fprintf(stderr, "    %8llu  (other reasons)\n",
                    (unsigned long long)st->reasons_other);
    }
    unsigned long long ae = st->by_route[BP_ROUTE_ALARM], ac = st->by_route[BP_ROUTE_COMMAND];
    if (ae || ac)
        /* Not readings either: the alarm stage's events (docs/alarms.md) and the commands
         * (acknowledgements) it read from the input. */
        fprintf(stderr, "  alarms         %llu event%s, %llu command%s (beside the books, not in "
                "readings in)\n", ae, ae == 1 ? "" : "s", ac, ac == 1 ? "" : "s");
    unsigned long long rt = st->by_route[BP_ROUTE_RETRACT];
    if (st->corrected || rt)
        /* docs/revisions.md: a correction is one of the readings above, a retraction is not */
        fprintf(stderr,
                "  revisions      corrected %llu (readings above that replaced an earlier "
                "version), retracted %llu (beside the books, not in readings in)\n",
                (unsigned long long)st->corrected, rt);
    if (st->revisions_evicted || st->revisions_lost)
        fprintf(stderr,
                "  revision ledger: %llu entr%s forgotten for revisions_max_keys, %llu not "
                "kept (out of memory)\n",
                (unsigned long long)st->revisions_evicted, st->revisions_evicted == 1 ? "y" : "ies",
                (unsigned long long)st->revisions_lost);
    unsigned long long sk = st->by_route[BP_ROUTE_SKIPPED];
    if (sk || st->n_skipped) {
        /* Beside the books, not inside them: a skipped resource is not a reading. */
        fprintf(stderr, "  skipped        %llu resource%s that %s not blood-pressure readings "
                "(beside the books, not in readings in)\n", sk, sk == 1 ? "" : "s",
                sk == 1 ? "is" : "are");
        fprintf(stderr, "  skipped by reason:\n");
        for (size_t i = 0; i < st->n_skipped; i++)
            fprintf(stderr, "    %8llu  %s\n", (unsigned long long)st->skipped[i].count,
                    st->skipped[i].reason);
        if (st->skipped_other)
            fprintf(stderr, "    %8llu  (other reasons)\n",
                    (unsigned long long)st->skipped_other);
    }
    if (st->invalid_unrouted)
        fprintf(stderr, "  invalid with no [sink] route = invalid: %llu (counted, not stored)\n",
                (unsigned long long)st->invalid_unrouted);
    if (st->sink_rejected)
        fprintf(stderr, "  rejected by a sink and dead-lettered: %llu\n",
                (unsigned long long)st->sink_rejected);
    for (size_t i = 0; i < p->n_sinks; i++) {
        const bp_ctx *s = p->sinks[i];
        fprintf(stderr, "  %-18s %s, route %s: delivered %llu, rejected %llu, retries %llu\n",
                s->name, s->plugin->desc->name, s->route_name,
                (unsigned long long)s->delivered, (unsigned long long)s->rejected,
                (unsigned long long)s->retries);
        if (s->spooled || s->in_spool)
            fprintf(stderr, "  %-18s disk buffer: %llu record(s) written to it, %llu left in it\n",
                    "", (unsigned long long)s->spooled, (unsigned long long)s->in_spool);
    }
    const bp_ctx *all[1 + 64 + BP_MAX_SINKS];
    size_t n = 0;
    all[n++] = p->source;
    for (size_t i = 0; i < p->n_detectors && n < 65; i++)
        all[n++] = p->detectors[i];
    for (size_t i = 0; i < p->n_sinks; i++)
        all[n++] = p->sinks[i];
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; all[i] && c < all[i]->n_counters; c++)
            fprintf(stderr, "  %-14s %s %.15g\n", all[i]->name, all[i]->counters[c].name,
                    all[i]->counters[c].value);
}

static void json_u64(bp_buf *b, const char *key, unsigned long long v, bool comma)
{
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%s\"%s\":%llu", comma ? "," : "", key, v);
    bp_buf_puts(b, tmp);
}

/* The plugins' own count() counters, by instance name, in the order the summary prints them
 * (source, detectors, sinks): "counters":{"sink.alerts":{"alerts_sent":3},...}. Instances that
 * counted nothing are left out; a counter created with a delta of 0 is there with 0. */
static void write_counters(bp_buf *b, const bp_pipeline *p)
{
    bp_buf_puts(b, ",\"counters\":{");
    bool first = true;
    size_t n = 1 + p->n_detectors + p->n_sinks;
    for (size_t i = 0; i < n; i++) {
        const bp_ctx *c = i == 0               ? p->source
                          : i <= p->n_detectors ? p->detectors[i - 1]
                                                : p->sinks[i - 1 - p->n_detectors];
        if (!c || !c->n_counters)
            continue;
        if (!first)
            bp_buf_putc(b, ',');
        first = false;
        bp_buf_json_string(b, c->name, strlen(c->name));
        bp_buf_puts(b, ":{");
        for (size_t k = 0; k < c->n_counters; k++) {
            if (k)
                bp_buf_putc(b, ',');
            bp_buf_json_string(b, c->counters[k].name, strlen(c->counters[k].name));
            bp_buf_putc(b, ':');
            bp_buf_json_number(b, c->counters[k].value);
        }
        bp_buf_putc(b, '}');
    }
    bp_buf_putc(b, '}');
}

/* The summary as one JSON object (what --summary-json writes), appended to `b`. */
static void render_json(const bp_stats *st, const bp_pipeline *p, bp_buf *out)
{
    bp_buf_puts(out, "{\"pipeline\":");
    bp_buf_json_string(out, p->cfg.path, strlen(p->cfg.path));
    char tmp[64];
    snprintf(tmp, sizeof tmp, ",\"elapsed_s\":%.3f", elapsed(st));
    bp_buf_puts(out, tmp);
    json_u64(out, "payloads", st->payloads, true);
    json_u64(out, "readings_in", st->readings_in, true);
    json_u64(out, "anomaly", st->by_route[BP_ROUTE_ANOMALY], true);
    json_u64(out, "normal", st->by_route[BP_ROUTE_NORMAL], true);
    json_u64(out, "invalid", st->by_route[BP_ROUTE_INVALID], true);
    json_u64(out, "in_flight", st->in_flight, true);
    json_u64(out, "invalid_unrouted", st->invalid_unrouted, true);
    json_u64(out, "sink_rejected", st->sink_rejected, true);
    json_u64(out, "source_polls", p->source ? p->source->calls : 0, true);
    json_u64(out, "skipped", st->by_route[BP_ROUTE_SKIPPED], true);
    /* beside the books too: the alarm stage's events and the commands it read (docs/alarms.md) */
    json_u64(out, "alarm_events", st->by_route[BP_ROUTE_ALARM], true);
    json_u64(out, "alarm_commands", st->by_route[BP_ROUTE_COMMAND], true);
    /* revisions (docs/revisions.md): corrected readings are among anomaly and normal,
     * retractions beside the books */
    json_u64(out, "corrected", st->corrected, true);
    json_u64(out, "retracted", st->by_route[BP_ROUTE_RETRACT], true);
    json_u64(out, "revisions_evicted", st->revisions_evicted, true);
    json_u64(out, "revisions_lost", st->revisions_lost, true);
    bp_buf_puts(out, ",\"skipped_by_reason\":{");
    for (size_t i = 0; i < st->n_skipped; i++) {
        if (i)
            bp_buf_putc(out, ',');
        bp_buf_json_string(out, st->skipped[i].reason, strlen(st->skipped[i].reason));
        snprintf(tmp, sizeof tmp, ":%llu", (unsigned long long)st->skipped[i].count);
        bp_buf_puts(out, tmp);
    }
    bp_buf_puts(out, "}");
    bp_buf_puts(out, ",\"invalid_by_reason\":{");
    for (size_t i = 0; i < st->n_reasons; i++) {
        if (i)
            bp_buf_putc(out, ',');
        bp_buf_json_string(out, st->reasons[i].kind, strlen(st->reasons[i].kind));
        snprintf(tmp, sizeof tmp, ":%llu", (unsigned long long)st->reasons[i].count);
        bp_buf_puts(out, tmp);
    }
    bp_buf_puts(out, "},\"sinks\":{");
    for (size_t i = 0; i < p->n_sinks; i++) {
        const bp_ctx *s = p->sinks[i];
        if (i)
            bp_buf_putc(out, ',');
        bp_buf_json_string(out, s->name, strlen(s->name));
        bp_buf_puts(out, ":{\"plugin\":");
        bp_buf_json_string(out, s->plugin->desc->name, strlen(s->plugin->desc->name));
        bp_buf_puts(out, ",\"route\":");
        bp_buf_json_string(out, s->route_name, strlen(s->route_name));
        json_u64(out, "delivered", s->delivered, true);
        json_u64(out, "rejected", s->rejected, true);
        json_u64(out, "retries", s->retries, true);
        json_u64(out, "spooled", s->spooled, true);
        json_u64(out, "in_spool", s->in_spool, true);
        bp_buf_putc(out, '}');
    }
    bp_buf_putc(out, '}');
    write_counters(out, p);
    if (st->alarms_json) {
        bp_buf_puts(out, ",\"alarms\":");
        bp_buf_puts(out, st->alarms_json);
    }
    bp_buf_puts(out, "}");
}

int bp_stats_write_json(const bp_stats *st, const bp_pipeline *p, const char *path)
{
    bp_buf b;
    bp_buf_init(&b);
    render_json(st, p, &b);
    bp_buf_putc(&b, '\n');
    int rc = -1;
    FILE *f = b.failed ? NULL : fopen(path, "w");
    if (f) {
        rc = fwrite(b.data, 1, b.len, f) == b.len ? 0 : -1;
        if (fclose(f) != 0)
            rc = -1;
    }
    bp_buf_free(&b);
    return rc;
}
