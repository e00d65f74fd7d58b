#include "alert.h"

#include "sha256.h"

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
    for (size_t i = 0; i < c->n; i++) {
        free(c->items[i].patient);
        free(c->items[i].reason);
    }
    free(c->items);
    memset(c, 0, sizeof *c);
}

/* The key is the patient and the reason, compared whole and apart: no separator byte that an id
 * could also hold, and no length beyond which two ids would look the same. */
static bp_cooldown_entry *find(const bp_cooldown *c, const char *patient, const char *reason)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->items[i].patient, patient) == 0 && strcmp(c->items[i].reason, reason) == 0)
            return &c->items[i];
    return NULL;
}

static size_t n_keys(const bp_alert_input *in)
{
    return in->n_reasons ? in->n_reasons : 1;
}

/* A reading with no reason (critical by severity alone) is keyed by its category. */
static const char *reason_at(const bp_alert_input *in, size_t i)
{
    if (in->n_reasons == 0)
        return in->category ? in->category : "critical";
    return in->reasons[i];
}

static const char *patient_of(const bp_alert_input *in)
{
    return in->patient_id ? in->patient_id : "";
}

bool bp_cooldown_should_alert(const bp_cooldown *c, const bp_alert_input *in, uint32_t *since)
{
    bool alert = false;
    *since = 0;
    for (size_t i = 0; i < n_keys(in); i++) {
        const bp_cooldown_entry *e = find(c, patient_of(in), reason_at(in, i));
        if (!e || in->severity > e->severity || in->effective_ms - e->last_ms >= c->period_ms ||
            in->effective_ms < e->last_ms - c->period_ms)
            alert = true;
        if (e && e->suppressed > *since)
            *since = e->suppressed;
    }
    return alert;
}

static bp_cooldown_entry *entry(bp_cooldown *c, const char *patient, const char *reason)
{
    bp_cooldown_entry *e = find(c, patient, reason);
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
    char *p = strdup(patient), *r = strdup(reason);
    if (!p || !r) {
        free(p);
        free(r);
        return NULL;
    }
    e = &c->items[c->n++];
    memset(e, 0, sizeof *e);
    e->patient = p;
    e->reason = r;
    e->last_ms = INT64_MIN / 2;
    return e;
}

int bp_cooldown_commit(bp_cooldown *c, const bp_alert_input *in)
{
    for (size_t i = 0; i < n_keys(in); i++) {
        bp_cooldown_entry *e = entry(c, patient_of(in), reason_at(in, i));
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
    for (size_t i = 0; i < n_keys(in); i++) {
        bp_cooldown_entry *e = find(c, patient_of(in), reason_at(in, i));
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

/* A growing string: text is never dropped, only memory can run out (then `failed`). */
typedef struct text_buf {
    char *data;
    size_t len, cap;
    bool failed;
} text_buf;

static void append(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(text_buf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (n >= 0 && b->len + (size_t)n + 1 > cap)
            cap *= 2;
        char *data = n < 0 ? NULL : realloc(b->data, cap);
        if (!data) {
            b->failed = true;
            return;
        }
        b->data = data;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* "Patient/<id>" for a plain id; references and identifiers as they came. */
static void patient_reference(text_buf *b, const char *id)
{
    if (strchr(id, ':') || id[0] == '#' || strchr(id, '|'))
        append(b, "%s", id);
    else
        append(b, "Patient/%s", id);
}

static bool fhir_id_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.';
}

void bp_alert_id(const char *stable_id, char *out)
{
    static const char prefix[] = "bp-alert-", hashed[] = "sha256.";
    const char *id = stable_id ? stable_id : "unknown";
    size_t n = strlen(id);
    /* Readable when the reading id is a FHIR id that fits; hashed otherwise (and always when it
     * starts like a hashed one), so two readings never share an alert id: mapping characters
     * or cutting would make "a/b" and "a:b", or two long ids, one alert. */
    bool plain = n > 0 && n <= BP_ALERT_ID_SIZE - sizeof prefix &&
                 strncmp(id, hashed, sizeof hashed - 1) != 0;
    for (size_t i = 0; plain && i < n; i++)
        plain = fhir_id_char(id[i]);
    if (plain) {
        snprintf(out, BP_ALERT_ID_SIZE, "%s%s", prefix, id);
        return;
    }
    uint8_t digest[32];
    bp_sha256(id, n, digest);
    int used = snprintf(out, BP_ALERT_ID_SIZE, "%s%s", prefix, hashed);
    for (int i = 0; i < 20; i++)
        snprintf(out + used + 2 * i, 3, "%02x", digest[i]);
}

char *bp_alert_detected_issue(const bp_alert_input *in, uint32_t since, size_t *len)
{
    text_buf detail = {0}, ref = {0}, obs = {0};
    char when[40], id[BP_ALERT_ID_SIZE];
    char *text = NULL;
    for (size_t i = 0; i < in->n_reasons; i++)
        append(&detail, "%s%s", i ? ", " : "", in->reasons[i]);
    if (!isnan(in->systolic) || !isnan(in->diastolic)) {
        char sys[32] = "-", dia[32] = "-";
        if (!isnan(in->systolic))
            snprintf(sys, sizeof sys, "%g", in->systolic);
        if (!isnan(in->diastolic))
            snprintf(dia, sizeof dia, "%g", in->diastolic);
        append(&detail, "%sblood pressure %s/%s mmHg", detail.len ? "; " : "", sys, dia);
    }
    if (in->category)
        append(&detail, " (%s)", in->category);
    if (since)
        append(&detail, "; %u further reading%s since the last alert", since,
               since == 1 ? "" : "s");
    append(&detail, "%s", ""); /* a string even when empty */
    iso(in->effective_ms, when, sizeof when);
    patient_reference(&ref, in->patient_id ? in->patient_id : "unknown");
    if (in->observation_id)
        append(&obs, "Observation/%s", in->observation_id);
    /* The alert's id follows the reading's, so a redelivered alert is recognisably the same. */
    bp_alert_id(in->stable_id, id);
    if (detail.failed || ref.failed || obs.failed)
        goto done;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "resourceType", "DetectedIssue");
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "status", "final");
    cJSON_AddStringToObject(o, "severity", "high");
    cJSON *code = cJSON_AddObjectToObject(o, "code");
    cJSON_AddStringToObject(code, "text", "Critical blood pressure reading");
    cJSON *patient = cJSON_AddObjectToObject(o, "patient");
    cJSON_AddStringToObject(patient, "reference", ref.data);
    cJSON_AddStringToObject(o, "identifiedDateTime", when);
    if (in->observation_id) {
        cJSON *impl = cJSON_AddArrayToObject(o, "implicated");
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "reference", obs.data);
        cJSON_AddItemToArray(impl, r);
    }
    cJSON_AddStringToObject(o, "detail", detail.data);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
done:
    free(detail.data);
    free(ref.data);
    free(obs.data);
    if (text && len)
        *len = strlen(text);
    return text;
}
