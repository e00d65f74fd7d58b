#include "ops/live.h"

#include "alarm/burden_report.h"
#include "common/sha256.h"
#include "pipeline/record.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One reading as the page shows it; strings copied (the batch's arena goes away). */
typedef struct reading {
    uint64_t lid; /* digest of its logical id (a correction or retraction finds it); 0: none */
    int64_t t_ms; /* the reading's effective time (its arrival when it has none) */
    float systolic, diastolic;
    float risk; /* ml_risk_score; NaN: none */
    unsigned char severity;
    char category[65]; /* set_text values are 1 to 64 characters: never cut */
    char type[65];     /* anomaly type; "" for a normal reading */
} reading;

typedef struct patient {
    char id[64];
    uint64_t seen; /* feed sequence of its last reading: the newest seen are kept */
    size_t n, head; /* ring of `history` readings: head is the next slot */
    reading *ring;
} patient;

typedef struct event {
    reading r;
    char patient[64];
    bool alert;
} event;

struct bp_live {
    bp_live_bounds b;
    uint64_t alert_sinks;
    uint64_t seq;
    patient *pat; /* b.patients slots; used: n_pat */
    size_t n_pat;
    reading *rings; /* patients * history */
    int32_t *slots; /* open-addressing index: patient slot or -1; n_slots a power of two */
    size_t n_slots;
    event *ev; /* ring of b.events, newest at ev_head - 1 */
    size_t n_ev, ev_head;
    uint64_t readings, anomalies, alerts;
    int64_t started_ms;
    /* readings per wall-clock second, slot = second % RATE_SLOTS, stamped with its second */
    int64_t rate_sec[BP_LIVE_RATE_SLOTS];
    uint32_t rate[BP_LIVE_RATE_SLOTS];
    /* anomalies by type per 10 s bucket */
    char types[BP_LIVE_TYPES][65]; /* the types seen, in order; the last is "other" once full */
    size_t n_types;
    int64_t type_bucket[BP_LIVE_TYPE_SLOTS];
    uint32_t type_count[BP_LIVE_TYPE_SLOTS][BP_LIVE_TYPES];
    uint64_t risk_bins[BP_LIVE_RISK_BINS];
    struct bp_burden *burden; /* the alarms' burden (bp_live_set_burden), NULL: none; not ours */
};

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

bp_live *bp_live_new(bp_live_bounds b, uint64_t alert_sinks)
{
    if (!b.patients || !b.history || !b.events)
        return NULL;
    bp_live *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->b = b;
    l->alert_sinks = alert_sinks;
    l->n_slots = 16;
    while (l->n_slots < 2 * b.patients)
        l->n_slots *= 2;
    l->pat = calloc(b.patients, sizeof *l->pat);
    l->rings = calloc(b.patients * b.history, sizeof *l->rings);
    l->slots = malloc(l->n_slots * sizeof *l->slots);
    l->ev = calloc(b.events, sizeof *l->ev);
    if (!l->pat || !l->rings || !l->slots || !l->ev) {
        bp_live_free(l);
        return NULL;
    }
    for (size_t i = 0; i < l->n_slots; i++)
        l->slots[i] = -1;
    for (size_t i = 0; i < b.patients; i++)
        l->pat[i].ring = l->rings + i * b.history;
    l->started_ms = -1;
    return l;
}

void bp_live_free(bp_live *l)
{
    if (!l)
        return;
    free(l->pat);
    free(l->rings);
    free(l->slots);
    free(l->ev);
    free(l);
}

size_t bp_live_bytes(const bp_live *l)
{
    return sizeof *l + l->b.patients * sizeof *l->pat +
           l->b.patients * l->b.history * sizeof *l->rings + l->n_slots * sizeof *l->slots +
           l->b.events * sizeof *l->ev;
}

/* The index slot of `id`: where it is, or the empty one where it would go. */
static size_t probe(const bp_live *l, const char *id)
{
    size_t mask = l->n_slots - 1, i = (size_t)hash_id(id) & mask;
    while (l->slots[i] >= 0 && strcmp(l->pat[l->slots[i]].id, id) != 0)
        i = (i + 1) & mask;
    return i;
}

static void reindex(bp_live *l)
{
    for (size_t i = 0; i < l->n_slots; i++)
        l->slots[i] = -1;
    for (size_t p = 0; p < l->n_pat; p++)
        l->slots[probe(l, l->pat[p].id)] = (int32_t)p;
}

/* The form a patient id is kept in: as is up to LIVE_ID_MAX bytes; a longer one as its first
 * characters, an ellipsis and "sha256:" with 32 hex digits of the whole id, so two long ids
 * that share a beginning stay two patients. A short id that looks like that form is kept in
 * it too, so it never equals another's. */
#define LIVE_ID_MAX 63
#define LIVE_ID_MARK "\xe2\x80\xa6sha256:"
static void live_id(const char *id, char out[LIVE_ID_MAX + 1])
{
    size_t n = strlen(id);
    if (n <= LIVE_ID_MAX && !strstr(id, LIVE_ID_MARK)) {
        memcpy(out, id, n + 1);
        return;
    }
    size_t keep = n < 20 ? n : 20;
    while (keep > 0 && ((unsigned char)id[keep] & 0xC0) == 0x80)
        keep--; /* never half a UTF-8 character */
    char digest[48];
    bp_sha256_id(id, n, 32, digest, sizeof digest);
    snprintf(out, LIVE_ID_MAX + 1, "%.*s\xe2\x80\xa6%s", (int)keep, id, digest);
}

/* The patient `id`, added (evicting the one seen longest ago when all slots are taken). */
static patient *find_patient(bp_live *l, const char *full_id)
{
    char id[LIVE_ID_MAX + 1];
    live_id(full_id, id);
    size_t s = probe(l, id);
    if (l->slots[s] >= 0)
        return &l->pat[l->slots[s]];
    bool fresh = l->n_pat < l->b.patients;
    size_t p = fresh ? l->n_pat++ : 0;
    for (size_t i = 1; !fresh && i < l->n_pat; i++)
        if (l->pat[i].seen < l->pat[p].seen)
            p = i;
    patient *pt = &l->pat[p];
    snprintf(pt->id, sizeof pt->id, "%s", id);
    pt->n = pt->head = 0;
    if (fresh)
        l->slots[s] = (int32_t)p; /* nothing to take out of the index */
    else
        reindex(l); /* the evicted id leaves the index (linear probing has no deletion) */
    return pt;
}

static size_t type_index(bp_live *l, const char *type)
{
    for (size_t i = 0; i < l->n_types; i++)
        if (strcmp(l->types[i], type) == 0)
            return i;
    if (l->n_types + 1 < BP_LIVE_TYPES) {
        snprintf(l->types[l->n_types], sizeof l->types[0], "%s", type);
        return l->n_types++;
    }
    if (l->n_types + 1 == BP_LIVE_TYPES)
        snprintf(l->types[l->n_types++], sizeof l->types[0], "other");
    return BP_LIVE_TYPES - 1;
}

static double risk_of(const bp_record *r)
{
    for (const bp_annotation *a = r->annotations; a; a = a->next)
        if (a->type == BP_VAL_NUMBER && strcmp(a->key, "ml_risk_score") == 0)
            return a->number;
    return NAN;
}

/* ---- revisions (issue 26): a corrected reading shows its new values, a retracted one goes -- */

static uint64_t lid_of(const char *logical_id)
{
    return logical_id && *logical_id ? hash_id(logical_id) | 1 : 0; /* never 0 */
}

/* Position in `p`'s ring of its k-th kept reading, oldest first. */
static size_t ring_at(const bp_live *l, const patient *p, size_t k)
{
    return (p->head + l->b.history - p->n + k) % l->b.history;
}

/* The kept reading of `p` with logical id `lid`, or NULL. */
static reading *find_kept(const bp_live *l, patient *p, uint64_t lid)
{
    for (size_t k = 0; k < p->n; k++)
        if (p->ring[ring_at(l, p, k)].lid == lid)
            return &p->ring[ring_at(l, p, k)];
    return NULL;
}

/* Drops `p`'s readings of `lid`, the newer ones moving back a place. */
static void drop_kept(const bp_live *l, patient *p, uint64_t lid)
{
    size_t w = 0;
    for (size_t k = 0; k < p->n; k++) {
        reading rd = p->ring[ring_at(l, p, k)];
        if (rd.lid != lid)
            p->ring[(p->head + l->b.history - p->n + w++) % l->b.history] = rd;
    }
    p->head = (p->head + l->b.history - (p->n - w)) % l->b.history;
    p->n = w;
}

/* The recent events of patient `who` (NULL: any) about `lid`: dropped, or given `with` when it
 * is not NULL (the alert mark of each stays). */
static void revise_events(bp_live *l, const char *who, uint64_t lid, const reading *with)
{
    size_t w = 0, start = (l->ev_head + l->b.events - l->n_ev) % l->b.events;
    for (size_t k = 0; k < l->n_ev; k++) {
        event e = l->ev[(start + k) % l->b.events];
        if (e.r.lid == lid && (!who || strcmp(e.patient, who) == 0)) {
            if (!with)
                continue;
            e.r = *with;
        }
        l->ev[(start + w++) % l->b.events] = e;
    }
    l->ev_head = (start + w) % l->b.events;
    l->n_ev = w;
}

/* A retraction: the reading of its logical id leaves its patient's readings and the events;
 * one that names no patient is looked for in every patient's. The totals and the series keep
 * counting it: they say what came, as the books do. */
static void retract(bp_live *l, const bp_record *r)
{
    uint64_t lid = lid_of(r->logical_id);
    if (!lid)
        return;
    char id[LIVE_ID_MAX + 1];
    if (r->patient_id && *r->patient_id)
        live_id(r->patient_id, id);
    for (size_t i = 0; i < l->n_pat; i++)
        if (!r->patient_id || !*r->patient_id || strcmp(l->pat[i].id, id) == 0)
            drop_kept(l, &l->pat[i], lid);
    revise_events(l, r->patient_id && *r->patient_id ? id : NULL, lid, NULL);
}

static void take(bp_live *l, const bp_record *r, int64_t now_ms)
{
    reading rd;
    memset(&rd, 0, sizeof rd);
    rd.lid = lid_of(r->logical_id);
    rd.t_ms = r->effective_ms > 0 ? r->effective_ms : now_ms;
    rd.systolic = (float)r->systolic;
    rd.diastolic = (float)r->diastolic;
    double risk = risk_of(r);
    rd.risk = (float)risk;
    rd.severity = (unsigned char)r->severity;
    snprintf(rd.category, sizeof rd.category, "%s", r->category ? r->category : "");
    const char *type = r->anomaly ? bp_record_anomaly_type(r) : NULL;
    snprintf(rd.type, sizeof rd.type, "%s", type ? type : "");
    bool alert = (r->sinks_pending & l->alert_sinks) != 0;

    patient *p = find_patient(l, r->patient_id && *r->patient_id ? r->patient_id : "(none)");
    reading *kept = r->revision == BP_REVISION_REPLACE && rd.lid ? find_kept(l, p, rd.lid) : NULL;
    if (kept) {
        /* A correction of a reading still shown: shown in its place with the new values; an
         * event about it takes them too, and goes when the reading is no anomaly or alert any
         * more (a correction of an anomaly to a normal value). */
        *kept = rd;
        revise_events(l, p->id, rd.lid, r->anomaly || alert ? &rd : NULL);
        return;
    }
    p->seen = ++l->seq;
    p->ring[p->head] = rd;
    p->head = (p->head + 1) % l->b.history;
    if (p->n < l->b.history)
        p->n++;

    l->readings++;
    int64_t sec = now_ms / 1000;
    size_t rs = (size_t)(sec % BP_LIVE_RATE_SLOTS);
    if (l->rate_sec[rs] != sec) {
        l->rate_sec[rs] = sec;
        l->rate[rs] = 0;
    }
    l->rate[rs]++;
    if (!isnan(risk)) {
        int bin = (int)(risk * BP_LIVE_RISK_BINS);
        l->risk_bins[bin < 0 ? 0 : bin >= BP_LIVE_RISK_BINS ? BP_LIVE_RISK_BINS - 1 : bin]++;
    }
    if (!r->anomaly && !alert)
        return;
    if (r->anomaly) {
        l->anomalies++;
        int64_t bucket = now_ms / 1000 / BP_LIVE_TYPE_BUCKET_S;
        size_t ts = (size_t)(bucket % BP_LIVE_TYPE_SLOTS);
        if (l->type_bucket[ts] != bucket) {
            l->type_bucket[ts] = bucket;
            memset(l->type_count[ts], 0, sizeof l->type_count[ts]);
        }
        l->type_count[ts][type_index(l, rd.type[0] ? rd.type : "other")]++;
    }
    l->alerts += alert;
    event *e = &l->ev[l->ev_head];
    e->r = rd;
    e->alert = alert;
    snprintf(e->patient, sizeof e->patient, "%s", p->id);
    l->ev_head = (l->ev_head + 1) % l->b.events;
    if (l->n_ev < l->b.events)
        l->n_ev++;
}

void bp_live_feed(bp_live *l, const bp_batch *records, int64_t now_ms)
{
    if (!l)
        return;
    if (l->started_ms < 0)
        l->started_ms = now_ms;
    for (size_t i = 0; i < records->count; i++) {
        const bp_record *r = records->items[i];
        bp_route route = bp_record_route(r);
        if (r->revision == BP_REVISION_RETRACT && !r->invalid_reason && !r->skip_reason) {
            if (!r->companion) /* a correction's, for the sinks: it said already */
                retract(l, r);
        } else if (route == BP_ROUTE_NORMAL || route == BP_ROUTE_ANOMALY) {
            take(l, r, now_ms);
        }
    }
}

/* The trend of a patient's systolic pressure: the least-squares slope over its last (at most 5)
 * readings, per reading; rising at +2 mmHg per reading or more, falling at -2 or less, steady
 * between; "unknown" with fewer than 3 readings. */
static const char *trend(const bp_live *l, const patient *p)
{
    size_t k = p->n < 5 ? p->n : 5;
    if (k < 3)
        return "unknown";
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < k; i++) {
        size_t at = (p->head + l->b.history - k + i) % l->b.history;
        double y = p->ring[at].systolic, x = (double)i;
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    double slope = (k * sxy - sx * sy) / (k * sxx - sx * sx);
    return slope >= 2 ? "rising" : slope <= -2 ? "falling" : "steady";
}

static void key(bp_buf *b, const char *k)
{
    bp_buf_json_string(b, k, strlen(k));
    bp_buf_putc(b, ':');
}

static void str_field(bp_buf *b, const char *k, const char *v)
{
    key(b, k);
    if (v && *v)
        bp_buf_json_string(b, v, strlen(v));
    else
        bp_buf_puts(b, "null");
}

static void num_field(bp_buf *b, const char *k, double v)
{
    key(b, k);
    bp_buf_json_number(b, v);
}

static void put_reading(bp_buf *b, const reading *r)
{
    bp_buf_putc(b, '{');
    key(b, "time");
    bp_buf_putc(b, '"');
    bp_buf_iso_time(b, r->t_ms);
    bp_buf_puts(b, "\",");
    num_field(b, "systolic", r->systolic);
    bp_buf_putc(b, ',');
    num_field(b, "diastolic", r->diastolic);
    bp_buf_putc(b, ',');
    str_field(b, "category", r->category);
    bp_buf_putc(b, ',');
    str_field(b, "severity", bp_severity_name((bp_severity)r->severity));
    bp_buf_putc(b, ',');
    str_field(b, "anomaly_type", r->type);
    bp_buf_putc(b, ',');
    /* 3 decimals are what the page shows; JSON numbers keep them */
    num_field(b, "ml_risk", isnan(r->risk) ? NAN : round(r->risk * 1000.0) / 1000.0);
    bp_buf_putc(b, '}');
}

static int by_id(const void *a, const void *b)
{
    return strcmp((*(const patient *const *)a)->id, (*(const patient *const *)b)->id);
}

static void put_patients(const bp_live *l, bp_buf *b)
{
    const patient **order = malloc((l->n_pat ? l->n_pat : 1) * sizeof *order);
    if (!order) {
        b->failed = true;
        return;
    }
    for (size_t i = 0; i < l->n_pat; i++)
        order[i] = &l->pat[i];
    qsort(order, l->n_pat, sizeof *order, by_id);
    key(b, "patients");
    bp_buf_putc(b, '[');
    size_t shown = 0;
    for (size_t i = 0; i < l->n_pat; i++) {
        const patient *p = order[i];
        if (p->n == 0)
            continue; /* every reading of it was retracted */
        size_t last = (p->head + l->b.history - 1) % l->b.history;
        bp_buf_puts(b, shown++ ? ",{" : "{");
        str_field(b, "id", p->id);
        bp_buf_puts(b, ",\"latest\":");
        put_reading(b, &p->ring[last]);
        bp_buf_putc(b, ',');
        str_field(b, "trend", trend(l, p));
        bp_buf_puts(b, ",\"readings\":[");
        for (size_t k = 0; k < p->n; k++) {
            if (k)
                bp_buf_putc(b, ',');
            put_reading(b, &p->ring[(p->head + l->b.history - p->n + k) % l->b.history]);
        }
        bp_buf_puts(b, "]}");
    }
    bp_buf_putc(b, ']');
    free(order);
}

static void put_events(const bp_live *l, bp_buf *b)
{
    key(b, "events");
    bp_buf_putc(b, '[');
    for (size_t k = 0; k < l->n_ev; k++) {
        const event *e = &l->ev[(l->ev_head + l->b.events - 1 - k) % l->b.events];
        bp_buf_puts(b, k ? ",{" : "{");
        str_field(b, "patient_id", e->patient);
        bp_buf_puts(b, e->alert ? ",\"alert\":true,\"reading\":" : ",\"alert\":false,\"reading\":");
        put_reading(b, &e->r);
        bp_buf_putc(b, '}');
    }
    bp_buf_putc(b, ']');
}

static void put_series(const bp_live *l, bp_buf *b, int64_t now_ms)
{
    int64_t sec = now_ms / 1000;
    /* readings/s: the mean over the last 5 whole seconds */
    uint64_t recent = 0;
    bp_buf_puts(b, ",\"rate\":{\"bucket_s\":1,\"counts\":[");
    for (int64_t s = sec - BP_LIVE_RATE_SLOTS; s < sec; s++) {
        size_t at = (size_t)(s % BP_LIVE_RATE_SLOTS);
        uint32_t v = l->rate_sec[at] == s ? l->rate[at] : 0;
        if (s >= sec - 5)
            recent += v;
        if (s > sec - BP_LIVE_RATE_SLOTS)
            bp_buf_putc(b, ',');
        bp_buf_json_number(b, v);
    }
    bp_buf_puts(b, "]},");
    num_field(b, "readings_per_second", (double)recent / 5.0);
    bp_buf_puts(b, ",\"anomalies_over_time\":{\"bucket_s\":");
    bp_buf_json_number(b, BP_LIVE_TYPE_BUCKET_S);
    bp_buf_puts(b, ",\"types\":[");
    for (size_t i = 0; i < l->n_types; i++) {
        if (i)
            bp_buf_putc(b, ',');
        bp_buf_json_string(b, l->types[i], strlen(l->types[i]));
    }
    bp_buf_puts(b, "],\"buckets\":[");
    int64_t now_b = sec / BP_LIVE_TYPE_BUCKET_S;
    for (int64_t k = now_b - BP_LIVE_TYPE_SLOTS + 1; k <= now_b; k++) {
        size_t at = (size_t)(k % BP_LIVE_TYPE_SLOTS);
        bp_buf_puts(b, k > now_b - BP_LIVE_TYPE_SLOTS + 1 ? ",{\"start\":\"" : "{\"start\":\"");
        bp_buf_iso_time(b, k * BP_LIVE_TYPE_BUCKET_S * 1000);
        bp_buf_puts(b, "\",\"counts\":[");
        for (size_t i = 0; i < l->n_types; i++) {
            if (i)
                bp_buf_putc(b, ',');
            bp_buf_json_number(b, l->type_bucket[at] == k ? l->type_count[at][i] : 0);
        }
        bp_buf_puts(b, "]}");
    }
    bp_buf_puts(b, "]},\"ml_risk_histogram\":{\"bins\":");
    bp_buf_json_number(b, BP_LIVE_RISK_BINS);
    bp_buf_puts(b, ",\"counts\":[");
    for (size_t i = 0; i < BP_LIVE_RISK_BINS; i++) {
        if (i)
            bp_buf_putc(b, ',');
        bp_buf_json_number(b, (double)l->risk_bins[i]);
    }
    bp_buf_puts(b, "]}");
}

void bp_live_render(const bp_live *l, bp_buf *b, int64_t now_ms)
{
    bp_buf_puts(b, "{\"generated_at\":\"");
    bp_buf_iso_time(b, now_ms);
    bp_buf_puts(b, "\",\"started_at\":");
    if (l->started_ms >= 0) {
        bp_buf_putc(b, '"');
        bp_buf_iso_time(b, l->started_ms);
        bp_buf_putc(b, '"');
    } else {
        bp_buf_puts(b, "null");
    }
    bp_buf_puts(b, ",\"bounds\":{");
    num_field(b, "patients", (double)l->b.patients);
    bp_buf_putc(b, ',');
    num_field(b, "history", (double)l->b.history);
    bp_buf_putc(b, ',');
    num_field(b, "events", (double)l->b.events);
    bp_buf_puts(b, "},");
    num_field(b, "memory_bytes", (double)bp_live_bytes(l));
    bp_buf_puts(b, ",\"totals\":{");
    num_field(b, "readings", (double)l->readings);
    bp_buf_putc(b, ',');
    num_field(b, "anomalies", (double)l->anomalies);
    bp_buf_putc(b, ',');
    num_field(b, "alerts", (double)l->alerts);
    bp_buf_puts(b, "},");
    put_patients(l, b);
    bp_buf_putc(b, ',');
    put_events(l, b);
    put_series(l, b, now_ms);
    bp_buf_puts(b, ",\"alarm_burden\":");
    if (l->burden)
        bp_burden_write_json(l->burden, b);
    else
        bp_buf_puts(b, "null");
    bp_buf_puts(b, "}\n");
}

void bp_live_set_burden(bp_live *l, struct bp_burden *burden)
{
    l->burden = burden;
}
