#include "alert.h"

#include "common/json_buf.h"
#include "common/sha256.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

size_t bp_alert_n_keys(const bp_alert_input *in)
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

size_t bp_alert_key(const bp_alert_input *in, size_t i, uint8_t *out)
{
    const char *patient = in->patient_id ? in->patient_id : "", *reason = reason_at(in, i);
    size_t np = strlen(patient), nr = strlen(reason);
    if (np <= BP_ALERT_KEY_MAX && nr <= BP_ALERT_KEY_MAX - 5 - np) {
        out[0] = 0;
        for (int b = 0; b < 4; b++)
            out[1 + b] = (uint8_t)((uint32_t)np >> (8 * b));
        memcpy(out + 5, patient, np);
        memcpy(out + 5 + np, reason, nr);
        return 5 + np + nr;
    }
    uint8_t both[64];
    bp_sha256(patient, np, both);
    bp_sha256(reason, nr, both + 32);
    out[0] = 1;
    bp_sha256(both, sizeof both, out + 1);
    return 33;
}

bool bp_cooldown_should_alert(int64_t period_ms, const bp_alert_input *in,
                              const bp_cooldown_entry *entries, uint32_t *since)
{
    bool alert = false;
    *since = 0;
    for (size_t i = 0; i < bp_alert_n_keys(in); i++) {
        const bp_cooldown_entry *e = &entries[i];
        if (!e->present || in->severity > e->severity ||
            in->effective_ms - e->last_ms >= period_ms || in->effective_ms < e->last_ms - period_ms)
            alert = true;
        if (e->present && e->suppressed > *since)
            *since = e->suppressed;
    }
    return alert;
}

void bp_cooldown_sent(bp_cooldown_entry *e, const bp_alert_input *in)
{
    e->present = true;
    e->last_ms = in->effective_ms;
    e->severity = in->severity;
    e->suppressed = 0;
}

void bp_cooldown_suppress(bp_cooldown_entry *e)
{
    if (e->present && e->suppressed < UINT32_MAX)
        e->suppressed++;
}

void bp_cooldown_encode(const bp_cooldown_entry *e, uint8_t *out)
{
    for (int b = 0; b < 8; b++)
        out[b] = (uint8_t)((uint64_t)e->last_ms >> (8 * b));
    out[8] = (uint8_t)e->severity;
    for (int b = 0; b < 4; b++)
        out[9 + b] = (uint8_t)(e->suppressed >> (8 * b));
}

int bp_cooldown_decode(const uint8_t *in, size_t len, bp_cooldown_entry *e)
{
    memset(e, 0, sizeof *e);
    if (!in || len != BP_COOLDOWN_VALUE_LEN || in[8] > 2)
        return -1;
    uint64_t last = 0;
    for (int b = 0; b < 8; b++)
        last |= (uint64_t)in[b] << (8 * b);
    e->last_ms = (int64_t)last;
    e->severity = in[8];
    e->suppressed =
        (uint32_t)in[9] | (uint32_t)in[10] << 8 | (uint32_t)in[11] << 16 | (uint32_t)in[12] << 24;
    e->present = true;
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
static void patient_reference(bp_buf *b, const char *id)
{
    if (strchr(id, ':') || id[0] == '#' || strchr(id, '|'))
        bp_buf_puts(b, id);
    else
        bp_buf_printf(b, "Patient/%s", id);
}

static bool fhir_id_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
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
    bp_buf detail, ref, obs;
    bp_buf_init(&detail);
    bp_buf_init(&ref);
    bp_buf_init(&obs);
    char when[40], id[BP_ALERT_ID_SIZE];
    char *text = NULL;
    for (size_t i = 0; i < in->n_reasons; i++)
        bp_buf_printf(&detail, "%s%s", i ? ", " : "", in->reasons[i]);
    if (!isnan(in->systolic) || !isnan(in->diastolic)) {
        char sys[32] = "-", dia[32] = "-";
        if (!isnan(in->systolic))
            snprintf(sys, sizeof sys, "%g", in->systolic);
        if (!isnan(in->diastolic))
            snprintf(dia, sizeof dia, "%g", in->diastolic);
        bp_buf_printf(&detail, "%sblood pressure %s/%s mmHg", detail.len ? "; " : "", sys, dia);
    }
    if (in->category)
        bp_buf_printf(&detail, " (%s)", in->category);
    if (since)
        bp_buf_printf(&detail, "; %u further reading%s since the last alert", since,
                      since == 1 ? "" : "s");
    if (in->note)
        bp_buf_printf(&detail, "%s%s", detail.len ? "; " : "", in->note);
    bp_buf_puts(&detail, ""); /* a string even when empty */
    iso(in->effective_ms, when, sizeof when);
    patient_reference(&ref, in->patient_id ? in->patient_id : "unknown");
    if (in->observation_id)
        bp_buf_printf(&obs, "Observation/%s", in->observation_id);
    /* The alert's id follows the reading's, so a redelivered alert is recognisably the same. */
    bp_alert_id(in->stable_id, id);
    if (detail.failed || ref.failed || obs.failed)
        goto done;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "resourceType", "DetectedIssue");
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "status", in->status ? in->status : "final");
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
    bp_buf_free(&detail);
    bp_buf_free(&ref);
    bp_buf_free(&obs);
    if (text && len)
        *len = strlen(text);
    return text;
}

size_t bp_alerted_key(const char *logical_id, uint8_t *out)
{
    size_t n = strlen(logical_id);
    if (n + 1 <= BP_ALERT_KEY_MAX) {
        out[0] = 2;
        memcpy(out + 1, logical_id, n);
        return n + 1;
    }
    out[0] = 3;
    bp_sha256(logical_id, n, out + 1);
    return 33;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int b = 0; b < 8; b++)
        p[b] = (uint8_t)(v >> (8 * b));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int b = 0; b < 8; b++)
        v |= (uint64_t)p[b] << (8 * b);
    return v;
}

static uint64_t double_bits(double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    return v;
}

#define ALERTED_HEAD 36 /* tag, version, time, systolic, diastolic, severity, reason count */

size_t bp_alerted_encode(const bp_alerted *a, uint8_t *out, size_t out_size)
{
    const char *texts[4] = {a->stable_id, a->patient_id, a->observation_id, a->category};
    size_t n_reasons =
        a->n_reasons < BP_ALERTED_MAX_REASONS ? a->n_reasons : BP_ALERTED_MAX_REASONS;
    size_t len = ALERTED_HEAD;
    if (out_size < len)
        return 0;
    out[0] = 0xA1;
    put_u64(out + 1, (uint64_t)a->version);
    put_u64(out + 9, (uint64_t)a->effective_ms);
    put_u64(out + 17, double_bits(a->systolic));
    put_u64(out + 25, double_bits(a->diastolic));
    out[33] = (uint8_t)a->severity;
    out[34] = (uint8_t)(n_reasons & 0xff);
    out[35] = (uint8_t)(n_reasons >> 8);
    for (size_t i = 0; i < 4 + n_reasons; i++) {
        const char *s = i < 4 ? texts[i] : a->reasons[i - 4];
        size_t n = s ? strlen(s) : 0;
        if (out_size - len < n + 1)
            return 0;
        if (n)
            memcpy(out + len, s, n);
        out[len + n] = 0;
        len += n + 1;
    }
    return len;
}

int bp_alerted_decode(const uint8_t *in, size_t len, bp_alerted *a, const char **reasons)
{
    memset(a, 0, sizeof *a);
    if (!in || len < ALERTED_HEAD + 4 || in[0] != 0xA1 || in[len - 1] != 0)
        return -1;
    a->version = (int64_t)get_u64(in + 1);
    a->effective_ms = (int64_t)get_u64(in + 9);
    uint64_t sys = get_u64(in + 17), dia = get_u64(in + 25);
    memcpy(&a->systolic, &sys, sizeof sys);
    memcpy(&a->diastolic, &dia, sizeof dia);
    a->severity = in[33];
    size_t n_reasons = (size_t)in[34] | (size_t)in[35] << 8;
    const char **texts[4] = {&a->stable_id, &a->patient_id, &a->observation_id, &a->category};
    size_t at = ALERTED_HEAD;
    for (size_t i = 0; i < 4 + n_reasons; i++) {
        if (at >= len)
            return -1;
        const char *s = (const char *)in + at;
        at += strlen(s) + 1; /* in[len - 1] is a NUL: never beyond it */
        if (i < 4)
            *texts[i] = *s ? s : NULL;
        else if (i - 4 < BP_ALERTED_MAX_REASONS)
            reasons[a->n_reasons++] = s;
    }
    a->reasons = reasons;
    return at == len ? 0 : -1;
}

void bp_alerted_input(const bp_alerted *a, const char *status, const char *note, bp_alert_input *in)
{
    memset(in, 0, sizeof *in);
    in->stable_id = a->stable_id;
    in->observation_id = a->observation_id;
    in->patient_id = a->patient_id;
    in->category = a->category;
    in->reasons = a->reasons;
    in->n_reasons = a->n_reasons;
    in->severity = a->severity;
    in->effective_ms = a->effective_ms;
    in->systolic = a->systolic;
    in->diastolic = a->diastolic;
    in->status = status;
    in->note = note;
}
