/* The conformance kit's readings: FHIR Observations written here and decoded by the host's own
 * FHIR decoder into the records a plugin would get (so every record is one the host could hand
 * it), in sets: one reading, missing values, odd and very long strings, a ward's worth of
 * normal and abnormal readings, and dead letters. */
#include "conform/conform.h"
#include "pipeline/state.h"

#include "decode/payload_decode.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -- readings ----------------------------------------------------------------------------- */

void cf_batch_init(cf_batch *cb, size_t capacity)
{
    bp_arena_init(&cb->arena, 64 * 1024);
    bp_batch_init(&cb->b, &cb->arena, capacity);
}

void cf_batch_free(cf_batch *cb)
{
    bp_batch_free(&cb->b);
    bp_arena_free(&cb->arena);
}

static cJSON *component(const char *code, double value, const char *unit)
{
    cJSON *c = cJSON_CreateObject();
    cJSON *coding = cJSON_AddArrayToObject(cJSON_AddObjectToObject(c, "code"), "coding");
    cJSON *one = cJSON_CreateObject();
    cJSON_AddStringToObject(one, "system", "http://loinc.org");
    cJSON_AddStringToObject(one, "code", code);
    cJSON_AddItemToArray(coding, one);
    cJSON *q = cJSON_AddObjectToObject(c, "valueQuantity");
    cJSON_AddNumberToObject(q, "value", value);
    cJSON_AddStringToObject(q, "code", unit);
    return c;
}

/* The Observation of `s` as FHIR JSON (malloc'd), with only the values that are not NaN. */
static char *observation(const spec *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "resourceType", "Observation");
    cJSON_AddStringToObject(o, "id", s->id);
    cJSON_AddStringToObject(o, "status", "final");
    cJSON *coding = cJSON_AddArrayToObject(cJSON_AddObjectToObject(o, "code"), "coding");
    cJSON *bp = cJSON_CreateObject();
    cJSON_AddStringToObject(bp, "system", "http://loinc.org");
    cJSON_AddStringToObject(bp, "code", "85354-9");
    cJSON_AddItemToArray(coding, bp);
    char ref[1200];
    snprintf(ref, sizeof ref, "Patient/%s", s->patient);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "subject"), "reference", ref);
    char when[32];
    snprintf(when, sizeof when, "2026-03-01T%02d:%02d:00Z", 8 + s->minute / 60, s->minute % 60);
    cJSON_AddStringToObject(o, "effectiveDateTime", when);
    cJSON *comps = cJSON_AddArrayToObject(o, "component");
    if (!isnan(s->sys))
        cJSON_AddItemToArray(comps, component("8480-6", s->sys, "mm[Hg]"));
    if (!isnan(s->dia))
        cJSON_AddItemToArray(comps, component("8462-4", s->dia, "mm[Hg]"));
    if (!isnan(s->hr))
        cJSON_AddItemToArray(comps, component("8867-4", s->hr, "/min"));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

typedef struct decode_into {
    cf_batch *cb;
    bp_record *input;
    size_t made;
    char why[256];
} decode_into;

/* The decoder's item as the host's record (as the runner copies it), payload shared. */
static int take(void *user, const bp_decoded *d)
{
    decode_into *di = user;
    bp_arena *a = &di->cb->arena;
    bp_record *rec = bp_record_from_decoded(a, di->input, d);
    if (!rec)
        return -1;
    if (d->skip_reason && !d->invalid_reason)
        snprintf(di->why, sizeof di->why, "skipped: %s", d->skip_reason);
    di->made++;
    return bp_batch_push(&di->cb->b, rec) == BP_OK ? 0 : -1;
}

/* Appends the reading of `s` (or, with `raw`, whatever the decoder makes of those bytes: a dead
 * letter) to `cb`. `offset` is its source position. Returns 0, or -1 with the reason. */
int cf_add_payload_text(cf_batch *cb, const char *text, int64_t offset, bool want_invalid,
                            char *why, size_t why_len)
{
    bp_origin origin = {sizeof origin, "conform", 0, offset, NULL, 0, 1772352000000 + offset};
    bp_batch staging;
    bp_batch_init(&staging, &cb->arena, 1);
    int rc = bp_batch_add_payload(&staging, text, strlen(text), &origin);
    bp_record *input = rc == BP_OK ? staging.items[0] : NULL;
    if (input) /* as the host table's add_payload does for a source */
        bp_state_stamp(input, staging.seq);
    bp_batch_free(&staging);
    if (!input) {
        snprintf(why, why_len, "kit: out of memory");
        return -1;
    }
    decode_into di = {.cb = cb, .input = input};
    size_t before = cb->b.count;
    if (bp_payload_decode(text, strlen(text), NULL, take, &di) != 0 || di.why[0]) {
        snprintf(why, why_len, "kit: %s", di.why[0] ? di.why : "out of memory");
        return -1;
    }
    for (size_t i = before; i < cb->b.count; i++) {
        const char *reason = cb->b.items[i]->invalid_reason;
        if (!reason != !want_invalid) {
            snprintf(why, why_len, "kit: the decoder %s: %s", reason ? "refused a reading"
                     : "took a dead letter", reason ? reason : text);
            return -1;
        }
    }
    return 0;
}

int cf_add_reading(cf_batch *cb, const spec *s, int64_t offset, char *why, size_t why_len)
{
    char *text = observation(s);
    if (!text) {
        snprintf(why, why_len, "kit: out of memory");
        return -1;
    }
    size_t before = cb->b.count;
    int rc = cf_add_payload_text(cb, text, offset, false, why, why_len);
    free(text);
    /* Judged as a detector would have: sinks of route critical take these. */
    for (size_t i = before; rc == 0 && s->critical && i < cb->b.count; i++) {
        bp_record *r = cb->b.items[i];
        bp_record_flag(r, "conform_critical_hypertension", BP_SEV_CRITICAL);
        bp_record_set_text(r, BP_F_ANOMALY_TYPE, "hypertension");
        bp_record_set_text(r, BP_F_CATEGORY, "hypertensive_crisis");
    }
    return rc;
}

static int add_specs(cf_batch *cb, const spec *specs, size_t n, char *why, size_t why_len)
{
    for (size_t i = 0; i < n; i++)
        if (cf_add_reading(cb, &specs[i], (int64_t)cb->b.count, why, why_len) != 0)
            return -1;
    return 0;
}

static const spec single[] = {{"cf-single-1", "cf-patient-1", 128, 84, 72, 0, false}};
const spec cf_missing[] = {
    {"cf-missing-sys", "cf-patient-1", NAN, 85, 70, 1, false},
    {"cf-missing-dia", "cf-patient-1", 135, NAN, 71, 2, false},
    {"cf-missing-hr", "cf-patient-2", 122, 81, NAN, 3, false},
    {"cf-only-sys", "cf-patient-3", 190, NAN, NAN, 4, true},
    {"cf-only-dia", "cf-patient-3", NAN, 125, NAN, 5, false},
};
const spec cf_ward[] = {
    {"cf-ward-1", "cf-patient-1", 118, 76, 64, 10, false},
    {"cf-ward-2", "cf-patient-1", 150, 96, 80, 11, false},
    {"cf-ward-3", "cf-patient-1", 186, 124, 101, 12, true},
    {"cf-ward-4", "cf-patient-2", 86, 55, 58, 13, false},
    {"cf-ward-5", "cf-patient-2", 66, 39, 120, 14, false},
    {"cf-ward-6", "cf-patient-2", 121, 79, 66, 15, false},
    {"cf-ward-7", "cf-patient-3", 142, 91, 75, 16, false},
    {"cf-ward-8", "cf-patient-3", 210, 130, 110, 17, true},
    {"cf-ward-9", "cf-patient-3", 95, 61, 62, 18, false},
    {"cf-ward-10", "cf-patient-4", 131, 85, 70, 19, false},
};

/* Ids of 1 000 bytes, UTF-8 of 2, 3 and 4 bytes, quotes and backslashes, control characters. */
static int add_odd(cf_batch *cb, char *why, size_t why_len)
{
    static char long_id[1001], long_patient[1001];
    memset(long_id, 'i', 1000);
    memset(long_patient, 'p', 1000);
    memcpy(long_id, "cf-long-", 8);
    const spec odd[] = {
        {long_id, long_patient, 141, 92, 77, 20, false},
        {"cf-utf8-\xc3\xa9\xe6\x82\xa3\xe8\x80\x85\xf0\x9f\xa9\xba", "Zo\xc3\xab-\xe6\x82\xa3",
         187, 122, 99, 21, true},
        {"cf-quote-\"'`\\-end", "pa\"ti\\ent'/<&>", 120, 80, 60, 22, false},
        {"cf-ctrl-\t\n\r\x01\x1f\x7f-end", "ctrl\x01\x02\x1b[0m", 88, 58, 61, 23, false},
        {"cf-sp ace;x=1%00%s%n", "spaces and %s %n", 160, 100, 90, 24, false},
    };
    return add_specs(cb, odd, sizeof odd / sizeof odd[0], why, why_len);
}

int cf_fill(cf_batch *cb, cf_set set, char *why, size_t why_len)
{
    switch (set) {
    case SET_EMPTY: return 0;
    case SET_SINGLE: return add_specs(cb, single, 1, why, why_len);
    case SET_MISSING: return add_specs(cb, cf_missing, CF_N_MISSING, why, why_len);
    case SET_ODD: return add_odd(cb, why, why_len);
    case SET_WARD: return add_specs(cb, cf_ward, CF_N_WARD, why, why_len);
    }
    return 0;
}

