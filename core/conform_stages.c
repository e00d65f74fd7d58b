/* The conformance checks of each kind: a detector's detect(), a sink's write() and flush(), a
 * source's poll() and commit(), on readings the host's own FHIR decoder makes from
 * Observations written here (so every record is one the host could hand a plugin). */
#include "conform.h"

#include "document.h"
#include "fhir_decode.h"
#include "record.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* -- readings ----------------------------------------------------------------------------- */

typedef struct spec {
    const char *id, *patient;
    double sys, dia, hr;
    int minute;
    bool critical; /* judged as a detector would: flagged critical, so route critical sinks see it */
} spec;

typedef struct cf_batch {
    bp_arena arena;
    bp_batch b;
} cf_batch;

static void batch_init(cf_batch *cb, size_t capacity)
{
    bp_arena_init(&cb->arena, 64 * 1024);
    bp_batch_init(&cb->b, &cb->arena, capacity);
}

static void batch_free(cf_batch *cb)
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
    bp_record *rec = bp_arena_alloc(a, sizeof *rec);
    if (!rec)
        return -1;
    *rec = *di->input;
    rec->invalid_reason = bp_arena_strdup(a, d->invalid_reason);
    rec->stable_id = bp_arena_strdup(a, d->stable_id);
    rec->observation_id = bp_arena_strdup(a, d->observation_id);
    rec->patient_id = bp_arena_strdup(a, d->patient_id);
    rec->practitioner_id = bp_arena_strdup(a, d->practitioner_id);
    rec->device_id = bp_arena_strdup(a, d->device_id);
    rec->status = bp_arena_strdup(a, d->status);
    rec->effective_ms = d->invalid_reason && d->effective_ms == 0 ? INT64_MIN : d->effective_ms;
    rec->systolic = d->systolic;
    rec->diastolic = d->diastolic;
    rec->heart_rate = d->heart_rate;
    rec->decode_flags = d->flags;
    rec->resource_index = d->resource_index;
    if (d->skip_reason && !d->invalid_reason)
        snprintf(di->why, sizeof di->why, "skipped: %s", d->skip_reason);
    di->made++;
    return bp_batch_push(&di->cb->b, rec) == BP_OK ? 0 : -1;
}

/* Appends the reading of `s` (or, with `raw`, whatever the decoder makes of those bytes: a dead
 * letter) to `cb`. `offset` is its source position. Returns 0, or -1 with the reason. */
static int add_payload_text(cf_batch *cb, const char *text, int64_t offset, bool want_invalid,
                            char *why, size_t why_len)
{
    bp_origin origin = {sizeof origin, "conform", 0, offset, NULL, 0, 1772352000000 + offset};
    bp_batch staging;
    bp_batch_init(&staging, &cb->arena, 1);
    int rc = bp_batch_add_payload(&staging, text, strlen(text), &origin);
    bp_record *input = rc == BP_OK ? staging.items[0] : NULL;
    bp_batch_free(&staging);
    if (!input) {
        snprintf(why, why_len, "kit: out of memory");
        return -1;
    }
    decode_into di = {.cb = cb, .input = input};
    size_t before = cb->b.count;
    if (bp_fhir_decode(text, strlen(text), NULL, take, &di) != 0 || di.why[0]) {
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

static int add_reading(cf_batch *cb, const spec *s, int64_t offset, char *why, size_t why_len)
{
    char *text = observation(s);
    if (!text) {
        snprintf(why, why_len, "kit: out of memory");
        return -1;
    }
    size_t before = cb->b.count;
    int rc = add_payload_text(cb, text, offset, false, why, why_len);
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
        if (add_reading(cb, &specs[i], (int64_t)cb->b.count, why, why_len) != 0)
            return -1;
    return 0;
}

/* What each reading check feeds: the sets below, built in `cb`. */
typedef enum which { SET_EMPTY, SET_SINGLE, SET_MISSING, SET_ODD, SET_WARD } which;

static const spec single[] = {{"cf-single-1", "cf-patient-1", 128, 84, 72, 0, false}};
static const spec missing[] = {
    {"cf-missing-sys", "cf-patient-1", NAN, 85, 70, 1, false},
    {"cf-missing-dia", "cf-patient-1", 135, NAN, 71, 2, false},
    {"cf-missing-hr", "cf-patient-2", 122, 81, NAN, 3, false},
    {"cf-only-sys", "cf-patient-3", 190, NAN, NAN, 4, true},
    {"cf-only-dia", "cf-patient-3", NAN, 125, NAN, 5, false},
};
static const spec ward[] = {
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

static int fill(cf_batch *cb, which set, char *why, size_t why_len)
{
    switch (set) {
    case SET_EMPTY: return 0;
    case SET_SINGLE: return add_specs(cb, single, 1, why, why_len);
    case SET_MISSING: return add_specs(cb, missing, sizeof missing / sizeof missing[0], why, why_len);
    case SET_ODD: return add_odd(cb, why, why_len);
    case SET_WARD: return add_specs(cb, ward, sizeof ward / sizeof ward[0], why, why_len);
    }
    return 0;
}

/* -- detectors ---------------------------------------------------------------------------- */

static uint64_t hash_text(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return s ? h : 0;
}

/* The reading as decoded: what a detector may read but never change. */
typedef struct reading_print {
    const char *ptrs[7];
    uint64_t hashes[8];
    double numbers[3];
    int64_t effective_ms;
} reading_print;

static void print_of(const bp_record *r, reading_print *p)
{
    const char *s[7] = {r->stable_id, r->observation_id, r->patient_id, r->practitioner_id,
                        r->device_id, r->status, r->payload};
    for (int i = 0; i < 7; i++) {
        p->ptrs[i] = s[i];
        p->hashes[i] = hash_text(s[i]);
    }
    p->hashes[7] = r->payload_len;
    memcpy(p->numbers, (double[]){r->systolic, r->diastolic, r->heart_rate}, sizeof p->numbers);
    p->effective_ms = r->effective_ms;
}

static bool same_print(const reading_print *a, const reading_print *b)
{
    return memcmp(a->ptrs, b->ptrs, sizeof a->ptrs) == 0 &&
           memcmp(a->hashes, b->hashes, sizeof a->hashes) == 0 &&
           memcmp(a->numbers, b->numbers, sizeof a->numbers) == 0 &&
           a->effective_ms == b->effective_ms;
}

/* Opens a detector, runs detect() on `set` (twice with `twice`: history matters to some),
 * checks what it answered, that every reading is as decoded but for the verdict, that every
 * verdict call was taken, that every document still serializes, then closes it. */
static cf_status detect_on(const cf_env *env, which set, bool twice, cf_out *out)
{
    cf_batch cb;
    batch_init(&cb, 0);
    char why[512] = "";
    cf_status st = CF_PASS;
    bp_ctx *ctx = NULL;
    if (fill(&cb, set, why, sizeof why) != 0) {
        st = cf_say(out, CF_FAIL, "%s", why);
        goto done;
    }
    size_t n = cb.b.count;
    reading_print *before = calloc(n ? n : 1, sizeof *before);
    if (!before || !(ctx = cf_ctx_new(env))) {
        free(before);
        st = cf_say(out, CF_FAIL, "kit: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        print_of(cb.b.items[i], &before[i]);
    int rc = cf_open(ctx, true);
    if (rc != BP_OK) {
        free(before);
        st = cf_say(out, CF_FAIL, "open() answered %d", rc);
        goto done;
    }
    unsigned flagged = 0;
    for (int round = 0; round < (twice ? 2 : 1) && st == CF_PASS; round++) {
        cf_progress("detect() judged %zu reading%s (%s)", n, n == 1 ? "" : "s",
                    n ? cb.b.items[0]->observation_id : "an empty batch");
        cf_watch_stage(true);
        rc = ctx->plugin->desc->detect(ctx->state, &cb.b);
        cf_watch_stage(false);
        if (rc != BP_OK)
            st = cf_say(out, CF_FAIL, "detect() answered %d on %zu reading%s%s", rc, n,
                        n == 1 ? "" : "s", round ? " (the second time)" : "");
    }
    for (size_t i = 0; i < n && st == CF_PASS; i++) {
        bp_record *r = cb.b.items[i];
        reading_print now;
        print_of(r, &now);
        if (!same_print(&before[i], &now))
            st = cf_say(out, CF_FAIL, "reading %zu (%s) changed other than through the verdict "
                        "functions", i + 1, r->observation_id ? r->observation_id : "?");
        else if (!bp_document_get(r, false, NULL))
            st = cf_say(out, CF_FAIL, "the document of reading %zu does not serialize", i + 1);
        flagged += r->anomaly;
    }
    free(before);
    if (st == CF_PASS && *cf_watch_problems())
        st = cf_say(out, CF_FAIL, "%s", cf_watch_problems());
    if (st == CF_PASS && n)
        cf_say(out, CF_PASS, "%zu reading%s, %u flagged", n, n == 1 ? "" : "s", flagged);
done:
    cf_close_free(ctx);
    batch_free(&cb);
    return st;
}

cf_status cf_check_detect_empty(const cf_env *env, cf_out *out)
{
    return detect_on(env, SET_EMPTY, false, out);
}

cf_status cf_check_detect_single(const cf_env *env, cf_out *out)
{
    return detect_on(env, SET_SINGLE, false, out);
}

cf_status cf_check_detect_missing(const cf_env *env, cf_out *out)
{
    /* Each alone first (a crash names the reading by being the first to run), then together. */
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        cf_batch cb;
        batch_init(&cb, 0);
        char why[512] = "";
        bp_ctx *ctx = cf_ctx_new(env);
        int rc = !ctx ? BP_ENOMEM : add_reading(&cb, &missing[i], 0, why, sizeof why) != 0
                                        ? BP_EINVAL : cf_open(ctx, true);
        if (rc == BP_OK) {
            cf_progress("detect() judged %s (systolic %g, diastolic %g, heart rate %g)",
                        missing[i].id, missing[i].sys, missing[i].dia, missing[i].hr);
            cf_watch_stage(true);
            rc = ctx->plugin->desc->detect(ctx->state, &cb.b);
            cf_watch_stage(false);
        }
        cf_close_free(ctx);
        batch_free(&cb);
        if (why[0])
            return cf_say(out, CF_FAIL, "%s", why);
        if (rc != BP_OK)
            return cf_say(out, CF_FAIL, "open() or detect() answered %d on %s", rc,
                          missing[i].id);
    }
    return detect_on(env, SET_MISSING, false, out);
}

cf_status cf_check_detect_odd(const cf_env *env, cf_out *out)
{
    return detect_on(env, SET_ODD, true, out);
}

cf_status cf_check_detect_verdicts(const cf_env *env, cf_out *out)
{
    return detect_on(env, SET_WARD, true, out);
}

cf_status cf_check_detect_close(const cf_env *env, cf_out *out)
{
    cf_status st = detect_on(env, SET_WARD, false, out);
    return st == CF_PASS ? cf_say(out, CF_PASS, "closed after judging %zu readings",
                                  sizeof ward / sizeof ward[0])
                         : st;
}

/* -- sinks --------------------------------------------------------------------------------- */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

typedef struct tally {
    size_t delivered, rejected, again_reported, writes;
    char first_reason[200];
} tally;

/* Writes `records` as the host's delivery lane does: outcomes the sink reports, the rest take
 * the batch's status; records answered BP_AGAIN (or a batch BP_RETRY) are written again, alone,
 * up to 8 times with a growing pause. Returns 0 when every record ended delivered or rejected. */
static int deliver(bp_ctx *ctx, const bp_batch *records, tally *t, cf_out *out)
{
    bp_batch pending = {0}, again = {0};
    int result = 0;
    for (size_t i = 0; i < records->count; i++)
        if (bp_batch_push(&pending, records->items[i]) != BP_OK)
            result = -1;
    for (unsigned attempt = 0; result == 0; attempt++) {
        if (attempt == 8) {
            cf_say(out, CF_FAIL, "%zu of %zu records still undelivered after %u writes "
                   "(BP_RETRY or BP_AGAIN each time: is the service it writes to running? give "
                   "it with -o)", pending.count, records->count, attempt);
            result = -1;
            break;
        }
        if (bp_ctx_begin_write(ctx, &pending) != 0) {
            result = -1;
            break;
        }
        cf_progress("write() of %zu record%s (attempt %u)", pending.count,
                    pending.count == 1 ? "" : "s", attempt + 1);
        cf_watch_stage(true);
        int rc = ctx->plugin->desc->write(ctx->state, &pending);
        cf_watch_stage(false);
        t->writes++;
        if (rc != BP_OK && rc != BP_RETRY) {
            bp_ctx_end_write(ctx);
            cf_say(out, CF_FAIL, "write() of %zu record%s answered %d%s", pending.count,
                   pending.count == 1 ? "" : "s", rc,
                   rc == BP_FATAL ? " (BP_FATAL: the pipeline would stop)" : "");
            result = -1;
            break;
        }
        bp_batch_clear(&again);
        for (size_t i = 0; i < pending.count; i++) {
            int o = ctx->outcomes[i] >= 0 ? ctx->outcomes[i] : rc == BP_OK ? BP_DELIVERED : BP_AGAIN;
            if (o == BP_REJECTED && !t->first_reason[0])
                snprintf(t->first_reason, sizeof t->first_reason, "%s",
                         ctx->outcome_reasons[i] ? ctx->outcome_reasons[i] : "?");
            t->delivered += o == BP_DELIVERED;
            t->rejected += o == BP_REJECTED;
            t->again_reported += ctx->outcomes[i] == BP_AGAIN;
            if (o == BP_AGAIN && bp_batch_push(&again, pending.items[i]) != BP_OK)
                result = -1;
        }
        bp_ctx_end_write(ctx);
        if (again.count == 0)
            break;
        bp_batch swap = pending;
        pending = again;
        again = swap;
        sleep_ms(100 * (int)(attempt + 1));
    }
    bp_batch_free(&pending);
    bp_batch_free(&again);
    if (result == 0 && *cf_watch_problems()) {
        cf_say(out, CF_FAIL, "%s", cf_watch_problems());
        result = -1;
    }
    return result;
}

static int flush_sink(bp_ctx *ctx, cf_out *out)
{
    if (!ctx->plugin->desc->flush)
        return 0;
    for (unsigned attempt = 0; attempt < 8; attempt++) {
        cf_progress("flush() ran");
        cf_watch_stage(true);
        int rc = ctx->plugin->desc->flush(ctx->state);
        cf_watch_stage(false);
        if (rc == BP_OK)
            return 0;
        if (rc != BP_RETRY) {
            cf_say(out, CF_FAIL, "flush() answered %d", rc);
            return -1;
        }
        sleep_ms(100 * (int)(attempt + 1));
    }
    cf_say(out, CF_FAIL, "flush() kept answering BP_RETRY");
    return -1;
}

static void say_tally(cf_out *out, const tally *t, size_t n)
{
    char rejected[300] = "";
    if (t->rejected)
        snprintf(rejected, sizeof rejected, ", %zu rejected with a reason (%s)", t->rejected,
                 t->first_reason);
    cf_say(out, CF_PASS, "%zu record%s: %zu delivered%s in %zu write%s", n, n == 1 ? "" : "s",
           t->delivered, rejected, t->writes, t->writes == 1 ? "" : "s");
}

/* Opens a sink, delivers `set` (or, with `dead`, dead letters), flushes, closes. */
static cf_status write_set(const cf_env *env, which set, bool dead, cf_out *out)
{
    cf_batch cb;
    batch_init(&cb, 0);
    char why[512] = "";
    cf_status st = CF_FAIL;
    bp_ctx *ctx = cf_ctx_new(env);
    if (!ctx) {
        cf_say(out, CF_FAIL, "kit: out of memory");
        goto done;
    }
    if (dead) {
        /* Not JSON, cut short, a blood-pressure Observation without a value, one entered in
         * error: what the decoder sends to route = invalid with a reason. */
        static const char *const junk[] = {
            "not json at all \x01\xff",
            "[{\"resourceType\":\"Observation\",",
            "{\"resourceType\":\"Observation\",\"id\":\"cf-dead-1\",\"status\":\"final\","
            "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"85354-9\"}]},"
            "\"subject\":{\"reference\":\"Patient/cf-patient-1\"},"
            "\"effectiveDateTime\":\"2026-03-01T10:00:00Z\",\"component\":[]}",
            "{\"resourceType\":\"Observation\",\"id\":\"cf-dead-2\",\"status\":"
            "\"entered-in-error\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\","
            "\"code\":\"85354-9\"}]},\"subject\":{\"reference\":\"Patient/cf-patient-1\"},"
            "\"effectiveDateTime\":\"2026-03-01T10:00:00Z\",\"component\":[{\"code\":"
            "{\"coding\":[{\"code\":\"8480-6\"}]},\"valueQuantity\":{\"value\":120}}]}",
        };
        for (size_t i = 0; i < 4; i++)
            if (add_payload_text(&cb, junk[i], (int64_t)i, true, why, sizeof why) != 0)
                break;
    } else {
        fill(&cb, set, why, sizeof why);
    }
    if (why[0]) {
        cf_say(out, CF_FAIL, "%s", why);
        goto done;
    }
    if (dead)
        ctx->routes = BP_ROUTE_BIT(BP_ROUTE_INVALID), ctx->route_name = "invalid";
    int rc = cf_open(ctx, true);
    if (rc != BP_OK) {
        cf_say(out, CF_FAIL, "open() answered %d", rc);
        goto done;
    }
    tally t = {0};
    if (deliver(ctx, &cb.b, &t, out) != 0 || flush_sink(ctx, out) != 0)
        goto done;
    if (t.delivered + t.rejected != cb.b.count) {
        cf_say(out, CF_FAIL, "kit: %zu outcomes for %zu records", t.delivered + t.rejected,
               cb.b.count);
        goto done;
    }
    say_tally(out, &t, cb.b.count);
    st = CF_PASS;
done:
    cf_close_free(ctx);
    batch_free(&cb);
    return st;
}

cf_status cf_check_write_empty(const cf_env *env, cf_out *out)
{
    bp_batch empty = {0};
    bp_ctx *ctx = cf_ctx_new(env);
    if (!ctx)
        return cf_say(out, CF_FAIL, "kit: out of memory");
    int rc = cf_open(ctx, true);
    cf_status st = CF_PASS;
    if (rc != BP_OK) {
        st = cf_say(out, CF_FAIL, "open() answered %d", rc);
    } else if (bp_ctx_begin_write(ctx, &empty) != 0) {
        st = cf_say(out, CF_FAIL, "kit: out of memory");
    } else {
        cf_watch_stage(true);
        rc = ctx->plugin->desc->write(ctx->state, &empty);
        cf_watch_stage(false);
        bp_ctx_end_write(ctx);
        if (rc != BP_OK)
            st = cf_say(out, CF_FAIL, "write() of an empty batch answered %d, not BP_OK", rc);
        else if (flush_sink(ctx, out) != 0)
            st = CF_FAIL;
        else if (*cf_watch_problems())
            st = cf_say(out, CF_FAIL, "%s", cf_watch_problems());
    }
    cf_close_free(ctx);
    return st;
}

cf_status cf_check_write_single(const cf_env *env, cf_out *out)
{
    return write_set(env, SET_SINGLE, false, out);
}

cf_status cf_check_write_missing(const cf_env *env, cf_out *out)
{
    return write_set(env, SET_MISSING, false, out);
}

cf_status cf_check_write_odd(const cf_env *env, cf_out *out)
{
    return write_set(env, SET_ODD, false, out);
}

cf_status cf_check_write_dead_letters(const cf_env *env, cf_out *out)
{
    return write_set(env, SET_EMPTY, true, out);
}

/* Per-record outcomes and the host's retry: the ward's readings are written, then (as the host
 * does after a BP_RETRY that delivered the first half) only the second half again, then the
 * whole batch once more (a replay after a restart). Every write must end with each record
 * delivered or rejected, through outcomes the host took. */
cf_status cf_check_write_outcomes(const cf_env *env, cf_out *out)
{
    cf_batch cb;
    batch_init(&cb, 0);
    char why[512] = "";
    cf_status st = CF_FAIL;
    bp_batch rest = {0};
    bp_ctx *ctx = cf_ctx_new(env);
    if (!ctx || fill(&cb, SET_WARD, why, sizeof why) != 0) {
        cf_say(out, CF_FAIL, "%s", why[0] ? why : "kit: out of memory");
        goto done;
    }
    int rc = cf_open(ctx, true);
    if (rc != BP_OK) {
        cf_say(out, CF_FAIL, "open() answered %d", rc);
        goto done;
    }
    for (size_t i = cb.b.count / 2; i < cb.b.count; i++)
        bp_batch_push(&rest, cb.b.items[i]);
    tally first = {0}, retry = {0}, replay = {0};
    if (deliver(ctx, &cb.b, &first, out) != 0)
        goto done;
    if (deliver(ctx, &rest, &retry, out) != 0) {
        char again[sizeof out->msg];
        snprintf(again, sizeof again, "the retry of the last %zu records: %s", rest.count,
                 out->msg);
        cf_say(out, CF_FAIL, "%s", again);
        goto done;
    }
    if (deliver(ctx, &cb.b, &replay, out) != 0 || flush_sink(ctx, out) != 0)
        goto done;
    cf_say(out, CF_PASS, "%zu records: %zu delivered, %zu rejected, %zu answered BP_AGAIN and "
           "written again; the retry of the last %zu and a replay of all delivered too",
           cb.b.count, first.delivered, first.rejected, first.again_reported, rest.count);
    st = CF_PASS;
done:
    bp_batch_free(&rest);
    cf_close_free(ctx);
    batch_free(&cb);
    return st;
}

cf_status cf_check_write_flush_close(const cf_env *env, cf_out *out)
{
    cf_status st = write_set(env, SET_WARD, false, out);
    if (st != CF_PASS)
        return st;
    /* Flush on an idle sink, twice, then close: what shutdown does. */
    bp_ctx *ctx = cf_ctx_new(env);
    if (!ctx)
        return cf_say(out, CF_FAIL, "kit: out of memory");
    int rc = cf_open(ctx, true);
    if (rc != BP_OK)
        st = cf_say(out, CF_FAIL, "open() answered %d", rc);
    else if (flush_sink(ctx, out) != 0 || flush_sink(ctx, out) != 0)
        st = CF_FAIL;
    else if (*cf_watch_problems())
        st = cf_say(out, CF_FAIL, "%s", cf_watch_problems());
    cf_close_free(ctx);
    return st;
}

/* -- sources ------------------------------------------------------------------------------- */

#define POLL_CAPACITY 3
#define POLL_TIMEOUT_MS 300
#define POLL_SLACK_MS 2000

typedef struct polled {
    cf_batch cb;
    int rc;
    double ms;
} polled;

static int poll_once(bp_ctx *ctx, polled *p, size_t capacity, int timeout_ms)
{
    batch_init(&p->cb, capacity);
    double t0 = cf_now_ms();
    cf_progress("poll() with capacity %zu and timeout_ms %d ran", capacity, timeout_ms);
    cf_watch_stage(true);
    p->rc = ctx->plugin->desc->poll(ctx->state, &p->cb.b, timeout_ms);
    cf_watch_stage(false);
    p->ms = cf_now_ms() - t0;
    return p->rc;
}

/* Opens the source and polls up to `max_polls` batches (stopping at BP_END), checking each
 * against the capacity, the timeout and the status poll() may answer; `keep` receives the
 * batches (commit_order commits them). */
static cf_status poll_run(const cf_env *env, bp_ctx **pctx, polled *keep, size_t max_polls,
                          size_t *n_polled, size_t *payloads, cf_out *out)
{
    bp_ctx *ctx = cf_ctx_new(env);
    *pctx = ctx;
    *n_polled = *payloads = 0;
    if (!ctx)
        return cf_say(out, CF_FAIL, "kit: out of memory");
    int rc = cf_open(ctx, true);
    if (rc != BP_OK)
        return cf_say(out, CF_FAIL, "open() answered %d", rc);
    for (size_t i = 0; i < max_polls; i++) {
        polled *p = &keep[i];
        poll_once(ctx, p, POLL_CAPACITY, POLL_TIMEOUT_MS);
        (*n_polled)++;
        size_t got = p->cb.b.count;
        *payloads += got;
        if (p->rc != BP_OK && p->rc != BP_END && p->rc != BP_RETRY)
            return cf_say(out, CF_FAIL, "poll() %zu answered %d", i + 1, p->rc);
        if (got > POLL_CAPACITY)
            return cf_say(out, CF_FAIL, "poll() %zu added %zu payloads to a batch of capacity "
                          "%d", i + 1, got, POLL_CAPACITY);
        if (p->ms > POLL_TIMEOUT_MS + POLL_SLACK_MS)
            return cf_say(out, CF_FAIL, "poll() %zu with timeout_ms %d took %.0f ms", i + 1,
                          POLL_TIMEOUT_MS, p->ms);
        if (*cf_watch_problems())
            return cf_say(out, CF_FAIL, "%s", cf_watch_problems());
        if (p->rc == BP_END)
            break;
        if (p->rc == BP_RETRY)
            sleep_ms(100);
    }
    return CF_PASS;
}

static void free_polled(polled *keep, size_t n)
{
    for (size_t i = 0; i < n; i++)
        batch_free(&keep[i].cb);
}

#define MAX_POLLS 12

cf_status cf_check_poll_capacity(const cf_env *env, cf_out *out)
{
    polled keep[MAX_POLLS];
    size_t n = 0, payloads = 0;
    bp_ctx *ctx = NULL;
    cf_status st = poll_run(env, &ctx, keep, MAX_POLLS, &n, &payloads, out);
    bool ended = n && keep[n - 1].rc == BP_END;
    cf_close_free(ctx);
    free_polled(keep, n);
    if (st == CF_PASS)
        cf_say(out, CF_PASS, "%zu payloads in %zu polls of capacity %d%s", payloads, n,
               POLL_CAPACITY, ended ? ", then BP_END" : "");
    return st;
}

/* A poll waits at most timeout_ms for its first payload: with 0 it returns at once, with a
 * timeout it returns within it (plus a slack for a busy machine). */
cf_status cf_check_poll_timeout(const cf_env *env, cf_out *out)
{
    bp_ctx *ctx = cf_ctx_new(env);
    if (!ctx)
        return cf_say(out, CF_FAIL, "kit: out of memory");
    int rc = cf_open(ctx, true);
    cf_status st = CF_PASS;
    double worst0 = 0, worst = 0;
    if (rc != BP_OK)
        st = cf_say(out, CF_FAIL, "open() answered %d", rc);
    static const int timeouts[] = {0, 0, 50, POLL_TIMEOUT_MS, 0, POLL_TIMEOUT_MS};
    for (size_t i = 0; st == CF_PASS && i < sizeof timeouts / sizeof timeouts[0]; i++) {
        polled p;
        poll_once(ctx, &p, POLL_CAPACITY, timeouts[i]);
        batch_free(&p.cb);
        if (timeouts[i] == 0 && p.ms > worst0)
            worst0 = p.ms;
        if (p.ms > worst)
            worst = p.ms;
        if (p.rc != BP_OK && p.rc != BP_END && p.rc != BP_RETRY)
            st = cf_say(out, CF_FAIL, "poll() with timeout_ms %d answered %d", timeouts[i], p.rc);
        else if (p.ms > timeouts[i] + POLL_SLACK_MS)
            st = cf_say(out, CF_FAIL, "poll() with timeout_ms %d took %.0f ms", timeouts[i], p.ms);
        else if (p.rc == BP_END)
            break;
    }
    if (st == CF_PASS && *cf_watch_problems())
        st = cf_say(out, CF_FAIL, "%s", cf_watch_problems());
    if (st == CF_PASS)
        cf_say(out, CF_PASS, "slowest poll %.0f ms, with timeout 0 %.0f ms", worst, worst0);
    cf_close_free(ctx);
    return st;
}

/* Commits in poll order, as the host does: after each poll without BP_CAP_BATCH_COMMIT, three
 * batches behind with it. Each commit answers BP_OK (BP_RETRY is tried again). Positions a
 * source reports must move forward per topic and partition across the batches in poll order. */
static int commit_one(bp_ctx *ctx, const polled *p, size_t i, cf_out *out)
{
    for (unsigned attempt = 0; attempt < 8; attempt++) {
        cf_progress("commit() of batch %zu ran", i + 1);
        cf_watch_stage(true);
        int rc = ctx->plugin->desc->commit(ctx->state, &p->cb.b);
        cf_watch_stage(false);
        if (rc == BP_OK)
            return 0;
        if (rc != BP_RETRY) {
            cf_say(out, CF_FAIL, "commit() of batch %zu answered %d", i + 1, rc);
            return -1;
        }
        sleep_ms(100 * (int)(attempt + 1));
    }
    cf_say(out, CF_FAIL, "commit() of batch %zu kept answering BP_RETRY", i + 1);
    return -1;
}

static int positions_forward(const polled *keep, size_t n, cf_out *out)
{
    enum { MAXP = 64 };
    struct position {
        const char *topic;
        double partition, offset;
    } last[MAXP];
    size_t nl = 0;
    for (size_t b = 0; b < n; b++)
        for (size_t i = 0; i < keep[b].cb.b.count; i++) {
            const bp_record *r = keep[b].cb.b.items[i];
            double part = bp_record_number(r, BP_F_SOURCE_PARTITION);
            double off = bp_record_number(r, BP_F_SOURCE_OFFSET);
            const char *topic = r->topic ? r->topic : "";
            if (isnan(off))
                continue;
            size_t k = 0;
            while (k < nl && !(strcmp(last[k].topic, topic) == 0 &&
                               (last[k].partition == part ||
                                (isnan(part) && isnan(last[k].partition)))))
                k++;
            if (k == nl && nl < MAXP) {
                last[nl++] = (struct position){topic, part, off};
                continue;
            }
            if (k < nl && off <= last[k].offset) {
                cf_say(out, CF_FAIL, "batch %zu: offset %.0f of %s partition %.0f does not come "
                       "after %.0f, polled before it", b + 1, off, topic, part, last[k].offset);
                return -1;
            }
            if (k < nl)
                last[k].offset = off;
        }
    return 0;
}

#define COMMIT_POLLS 400
#define COMMIT_BATCHES 4   /* batches with payloads to commit before the check is satisfied */
#define COMMIT_BUDGET_MS 15000

cf_status cf_check_poll_commit(const cf_env *env, cf_out *out)
{
    const bp_plugin *d = env->plugin->desc;
    bool ahead = d->struct_size >= offsetof(bp_plugin, caps) + sizeof d->caps &&
                 (d->caps & BP_CAP_BATCH_COMMIT);
    polled *keep = calloc(COMMIT_POLLS, sizeof *keep);
    size_t n = 0, payloads = 0, committed = 0, full = 0;
    bp_ctx *ctx = keep ? cf_ctx_new(env) : NULL;
    cf_status st = CF_PASS;
    if (!ctx) {
        free(keep);
        return cf_say(out, CF_FAIL, "kit: out of memory");
    }
    int rc = cf_open(ctx, true);
    if (rc != BP_OK)
        st = cf_say(out, CF_FAIL, "open() answered %d", rc);
    /* A source that is still joining its group polls empty batches for a while: poll until
     * enough batches with payloads were committed, the source ends, or the budget is spent. */
    double t0 = cf_now_ms();
    while (st == CF_PASS && n < COMMIT_POLLS) {
        polled *p = &keep[n];
        poll_once(ctx, p, POLL_CAPACITY, POLL_TIMEOUT_MS);
        n++;
        payloads += p->cb.b.count;
        full += p->cb.b.count > 0;
        if (p->rc != BP_OK && p->rc != BP_END && p->rc != BP_RETRY) {
            st = cf_say(out, CF_FAIL, "poll() %zu answered %d", n, p->rc);
            break;
        }
        bool last = p->rc == BP_END || n == COMMIT_POLLS || full >= COMMIT_BATCHES ||
                    cf_now_ms() - t0 > COMMIT_BUDGET_MS;
        /* Without the bit one batch is in flight; with it, up to three. */
        size_t behind = ahead ? 3 : 0;
        while (d->commit && committed < n && (last || n - committed > behind)) {
            if (commit_one(ctx, &keep[committed], committed, out) != 0) {
                st = CF_FAIL;
                break;
            }
            committed++;
        }
        if (last)
            break;
        if (p->rc == BP_RETRY)
            sleep_ms(100);
    }
    if (st == CF_PASS && positions_forward(keep, n, out) != 0)
        st = CF_FAIL;
    if (st == CF_PASS && *cf_watch_problems())
        st = cf_say(out, CF_FAIL, "%s", cf_watch_problems());
    if (st == CF_PASS && payloads == 0)
        st = cf_say(out, CF_SKIP, "no payload in %zu polls over %.0f s: nothing to commit in "
                    "order (give the source data to read)", n, (cf_now_ms() - t0) / 1e3);
    else if (st == CF_PASS)
        cf_say(out, CF_PASS, "%zu payloads in %zu polls%s", payloads, n,
               !d->commit ? "; no commit()" : ahead ? "; committed in poll order, up to 3 "
               "batches behind (BP_CAP_BATCH_COMMIT)" : "; each committed after its poll");
    cf_close_free(ctx);
    free_polled(keep, n);
    free(keep);
    return st;
}

cf_status cf_check_poll_close(const cf_env *env, cf_out *out)
{
    polled keep[3];
    size_t n = 0, payloads = 0;
    bp_ctx *ctx = NULL;
    cf_status st = poll_run(env, &ctx, keep, 3, &n, &payloads, out);
    cf_close_free(ctx);
    free_polled(keep, n);
    if (st == CF_PASS)
        cf_say(out, CF_PASS, "closed after %zu polls", n);
    return st;
}
