#include "alert.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void bp_cooldown_init(bp_cooldown *c, int64_t period_ms)
{
    memset(c, 0, sizeof *c);
    c->period_ms = period_ms;
}

void bp_cooldown_free(bp_cooldown *c)
{
    free(c->items);
    memset(c, 0, sizeof *c);
}

static void make_key(const char *patient, const char *reason, char *out, size_t len)
{
    snprintf(out, len, "%s\x1f%s", patient ? patient : "", reason);
}

static bp_cooldown_entry *find(const bp_cooldown *c, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->items[i].key, key) == 0)
            return &c->items[i];
    return NULL;
}

/* A reading with no reason (critical by severity alone) is keyed by its category. */
static size_t reasons_of(const bp_alert_input *in, const char **out)
{
    if (in->n_reasons == 0) {
        out[0] = in->category ? in->category : "critical";
        return 1;
    }
    for (size_t i = 0; i < in->n_reasons; i++)
        out[i] = in->reasons[i];
    return in->n_reasons;
}

bool bp_cooldown_should_alert(const bp_cooldown *c, const bp_alert_input *in, uint32_t *since)
{
    const char *reasons[BP_ALERT_MAX_REASONS];
    size_t n = reasons_of(in, reasons);
    bool alert = false;
    *since = 0;
    for (size_t i = 0; i < n; i++) {
        char key[160];
        make_key(in->patient_id, reasons[i], key, sizeof key);
        const bp_cooldown_entry *e = find(c, key);
        if (!e || in->severity > e->severity || in->effective_ms - e->last_ms >= c->period_ms ||
            in->effective_ms < e->last_ms - c->period_ms)
            alert = true;
        if (e && e->suppressed > *since)
            *since = e->suppressed;
    }
    return alert;
}

static bp_cooldown_entry *entry(bp_cooldown *c, const char *key)
{
    bp_cooldown_entry *e = find(c, key);
    if (e)
        return e;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        bp_cooldown_entry *items = realloc(c->items, cap * sizeof *items);
        if (!items)
            return NULL;
        c->items = items;
        c->cap = cap;
    }
    e = &c->items[c->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->key, sizeof e->key, "%s", key);
    e->last_ms = INT64_MIN / 2;
    return e;
}

int bp_cooldown_commit(bp_cooldown *c, const bp_alert_input *in)
{
    const char *reasons[BP_ALERT_MAX_REASONS];
    size_t n = reasons_of(in, reasons);
    for (size_t i = 0; i < n; i++) {
        char key[160];
        make_key(in->patient_id, reasons[i], key, sizeof key);
        bp_cooldown_entry *e = entry(c, key);
        if (!e)
            return -1;
        e->last_ms = in->effective_ms;
        e->severity = in->severity;
        e->suppressed = 0;
    }
    return 0;
}

int bp_cooldown_suppress(bp_cooldown *c, const bp_alert_input *in)
{
    const char *reasons[BP_ALERT_MAX_REASONS];
    size_t n = reasons_of(in, reasons);
    for (size_t i = 0; i < n; i++) {
        char key[160];
        make_key(in->patient_id, reasons[i], key, sizeof key);
        bp_cooldown_entry *e = find(c, key);
        if (e)
            e->suppressed++;
    }
    return 0;
}

static void iso(int64_t ms, char *out, size_t len)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, len - n, ".%03dZ", (int)(((ms % 1000) + 1000) % 1000));
}

/* "Patient/<id>" for a plain id; references and identifiers as they came. */
static void patient_reference(const char *id, char *out, size_t len)
{
    if (strchr(id, ':') || id[0] == '#' || strchr(id, '|'))
        snprintf(out, len, "%s", id);
    else
        snprintf(out, len, "Patient/%s", id);
}

/* Appends to a fixed buffer; text beyond its end is dropped. */
static void append(char *buf, size_t cap, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t cap, size_t *used, const char *fmt, ...)
{
    if (*used + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, cap - *used, fmt, ap);
    va_end(ap);
    if (n > 0)
        *used = *used + (size_t)n < cap ? *used + (size_t)n : cap - 1;
}

size_t bp_alert_detected_issue(const bp_alert_input *in, uint32_t since, char *out, size_t len)
{
    char detail[512] = "", when[40], ref[256], id[200];
    size_t used = 0;
    for (size_t i = 0; i < in->n_reasons; i++)
        append(detail, sizeof detail, &used, "%s%s", i ? ", " : "", in->reasons[i]);
    if (!isnan(in->systolic) || !isnan(in->diastolic)) {
        char sys[16] = "-", dia[16] = "-";
        if (!isnan(in->systolic))
            snprintf(sys, sizeof sys, "%g", in->systolic);
        if (!isnan(in->diastolic))
            snprintf(dia, sizeof dia, "%g", in->diastolic);
        append(detail, sizeof detail, &used, "%sblood pressure %s/%s mmHg", used ? "; " : "", sys,
               dia);
    }
    if (in->category)
        append(detail, sizeof detail, &used, " (%s)", in->category);
    if (since)
        append(detail, sizeof detail, &used, "; %u further reading%s since the last alert", since,
               since == 1 ? "" : "s");
    iso(in->effective_ms, when, sizeof when);
    patient_reference(in->patient_id ? in->patient_id : "unknown", ref, sizeof ref);
    /* The alert's id follows the reading's, so a redelivered alert is recognisably the same. */
    snprintf(id, sizeof id, "bp-alert-%s", in->stable_id ? in->stable_id : "unknown");
    for (char *p = id; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '.'))
            *p = '-';
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "resourceType", "DetectedIssue");
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "status", "final");
    cJSON_AddStringToObject(o, "severity", "high");
    cJSON *code = cJSON_AddObjectToObject(o, "code");
    cJSON_AddStringToObject(code, "text", "Critical blood pressure reading");
    cJSON *patient = cJSON_AddObjectToObject(o, "patient");
    cJSON_AddStringToObject(patient, "reference", ref);
    cJSON_AddStringToObject(o, "identifiedDateTime", when);
    if (in->observation_id) {
        char obs[256];
        snprintf(obs, sizeof obs, "Observation/%s", in->observation_id);
        cJSON *impl = cJSON_AddArrayToObject(o, "implicated");
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "reference", obs);
        cJSON_AddItemToArray(impl, r);
    }
    cJSON_AddStringToObject(o, "detail", detail);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    size_t n = text ? strlen(text) : 0;
    if (!text || n + 1 > len) {
        free(text);
        return 0;
    }
    memcpy(out, text, n + 1);
    free(text);
    return n;
}
