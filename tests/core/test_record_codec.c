/* The spooled-record codec (src/delivery/record_codec.c): a judged record comes back from its bytes with
 * every field a sink can read (origin, payload with NUL bytes, reading, verdict, reasons,
 * annotations of each type, NULLs kept NULL) and its used attempts; an entry cut at any byte, one
 * with stray bytes, a foreign one and a newer format are each refused with a reason. */
#include "check.h"
#include "delivery/record_codec.h"
#include "pipeline/document.h"
#include "pipeline/record.h"

#include <stdint.h>
#include <stdlib.h>

static bp_record *judged(bp_arena *a)
{
    bp_record *r = bp_record_new(a);
    static const char payload[] = "{\"resourceType\":\"Observation\"}\0tail";
    r->payload = bp_arena_strndup(a, payload, sizeof payload - 1);
    r->payload_len = sizeof payload - 1;
    r->topic = "blood-pressure";
    r->partition = 7;
    r->offset = 9007199254740991LL;
    r->key = bp_arena_strndup(a, "pat\0ient", 8);
    r->key_len = 8;
    r->source_ts_ms = 1764600000123LL;
    r->stable_id = "obs/bp-1";
    r->observation_id = "bp-1";
    r->patient_id = "patient-\xc3\xa9";
    r->practitioner_id = NULL;
    r->device_id = "cuff \"7\"";
    r->status = "final";
    r->effective_ms = -1234;
    r->systolic = 182.5;
    r->diastolic = NAN;
    r->heart_rate = 71;
    r->decode_flags = 5;
    r->resource_index = 3;
    r->mean_pressure = 147;
    r->hl7_control_id = "CRISIS-0001";
    r->hl7_sending_app = "WARDGW";
    r->hl7_sending_facility = NULL;
    r->hl7_code = "MDC 150021";
    r->hl7_corrects = "sha256:00";
    CHECK(bp_record_flag(r, "systolic_high", BP_SEV_CRITICAL) == 0);
    CHECK(bp_record_flag(r, "crisis", BP_SEV_WARNING) == 0);
    CHECK(bp_record_set_text(r, BP_F_CATEGORY, "hypertensive_crisis") == 0);
    CHECK(bp_record_annotate(r, "risk", BP_VAL_NUMBER, 0.875, NULL) == 0);
    CHECK(bp_record_annotate(r, "trend", BP_VAL_TEXT, 0, "rising") == 0);
    CHECK(bp_record_annotate(r, "sustained", BP_VAL_BOOL, 1, NULL) == 0);
    return r;
}

static void same_record(const bp_record *a, const bp_record *b)
{
    CHECK(a->payload_len == b->payload_len && memcmp(a->payload, b->payload, a->payload_len) == 0);
    CHECK_STR(a->topic, b->topic);
    CHECK(a->partition == b->partition && a->offset == b->offset);
    CHECK(a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0);
    CHECK(a->source_ts_ms == b->source_ts_ms && a->effective_ms == b->effective_ms);
    CHECK_STR(a->stable_id, b->stable_id);
    CHECK_STR(a->observation_id, b->observation_id);
    CHECK_STR(a->patient_id, b->patient_id);
    CHECK(b->practitioner_id == NULL);
    CHECK_STR(a->device_id, b->device_id);
    CHECK_STR(a->status, b->status);
    CHECK(a->systolic == b->systolic && isnan(b->diastolic) && a->heart_rate == b->heart_rate);
    CHECK(a->decode_flags == b->decode_flags && a->resource_index == b->resource_index);
    CHECK(a->mean_pressure == b->mean_pressure);
    CHECK_STR(a->hl7_control_id, b->hl7_control_id);
    CHECK_STR(a->hl7_sending_app, b->hl7_sending_app);
    CHECK(b->hl7_sending_facility == NULL);
    CHECK_STR(a->hl7_code, b->hl7_code);
    CHECK_STR(a->hl7_corrects, b->hl7_corrects);
    CHECK(a->anomaly == b->anomaly && a->severity == b->severity);
    CHECK_STR(a->category, b->category);
    CHECK_STR(bp_record_anomaly_type(a), bp_record_anomaly_type(b));
    CHECK(b->invalid_reason == NULL && b->skip_reason == NULL);
    const bp_reason *x = a->reasons, *y = b->reasons;
    for (; x && y; x = x->next, y = y->next)
        CHECK_STR(x->code, y->code);
    CHECK(!x && !y);
    const bp_annotation *p = a->annotations, *q = b->annotations;
    for (; p && q; p = p->next, q = q->next) {
        CHECK_STR(p->key, q->key);
        CHECK(p->type == q->type && p->number == q->number);
        CHECK_STR(p->type == BP_VAL_TEXT ? p->text : NULL, q->text);
    }
    CHECK(!p && !q);
    CHECK(b->docs[0] == NULL && b->sinks_pending == 0 && b->doc_lock == NULL);
}

int main(void)
{
    bp_arena a, back;
    bp_arena_init(&a, 4096);
    bp_arena_init(&back, 4096);
    bp_record *r = judged(&a);
    bp_buf buf;
    bp_buf_init(&buf);
    CHECK(bp_record_encode(r, 3, &buf) == 0);

    bp_record *out;
    unsigned attempts = 0;
    char err[256] = "";
    CHECK(bp_record_decode(buf.data, buf.len, &back, &out, &attempts, err, sizeof err) == 0);
    CHECK(attempts == 3);
    if (out) {
        same_record(r, out);
        CHECK(out->arena == &back);
        /* the same document as the original: a sink cannot tell the two apart */
        size_t l1, l2;
        const char *d1 = bp_document_get(r, false, &l1);
        const char *d2 = bp_document_get(out, false, &l2);
        CHECK(d1 && d2 && l1 == l2 && memcmp(d1, d2, l1) == 0);
    }

    /* A dead letter keeps its reason, and no verdict is invented. */
    bp_record *dl = bp_record_new(&a);
    dl->payload = "not json";
    dl->payload_len = 8;
    dl->invalid_reason = "payload is not JSON";
    bp_buf dlb;
    bp_buf_init(&dlb);
    CHECK(bp_record_encode(dl, 0, &dlb) == 0);
    CHECK(bp_record_decode(dlb.data, dlb.len, &back, &out, &attempts, err, sizeof err) == 0);
    CHECK(out && bp_record_route(out) == BP_ROUTE_INVALID && attempts == 0);
    CHECK(out && out->reasons == NULL && out->annotations == NULL && out->category == NULL);
    CHECK_STR(out ? out->invalid_reason : NULL, "payload is not JSON");
    CHECK(out && out->partition == -1 && out->offset == -1 && out->topic == NULL);

    /* Cut at every byte: refused, never half a record. */
    int refused = 0;
    for (size_t cut = 0; cut < buf.len; cut++) {
        err[0] = 0;
        if (bp_record_decode(buf.data, cut, &back, &out, &attempts, err, sizeof err) != 0 &&
            out == NULL && err[0])
            refused++;
    }
    CHECK(refused == (int)buf.len);

    char *longer = malloc(buf.len + 1);
    memcpy(longer, buf.data, buf.len);
    longer[buf.len] = 'x';
    CHECK(bp_record_decode(longer, buf.len + 1, &back, &out, &attempts, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "stray bytes");
    longer[3] = 4; /* a newer format */
    CHECK(bp_record_decode(longer, buf.len, &back, &out, &attempts, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "format 4");
    /* format 1 (before HL7 v2): the same bytes without the tail still read, mean NaN, no hl7 */
    {
        bp_record *plain = bp_record_new(&a);
        plain->stable_id = "x";
        bp_buf one;
        bp_buf_init(&one);
        CHECK(bp_record_encode(plain, 2, &one) == 0);
        size_t tail3 = 4 + 8 + 4; /* format 3: absent logical id, version, revision */
        size_t tail = tail3 + 8 + 5 * 4; /* format 2: mean_pressure and five absent strings */
        one.data[3] = 2;
        CHECK(bp_record_decode(one.data, one.len - tail3, &back, &out, &attempts, err,
                               sizeof err) == 0);
        CHECK(out && out->logical_id == NULL && out->version == BP_VERSION_NONE &&
              out->revision == BP_REVISION_NONE && isnan(out->mean_pressure));
        one.data[3] = 1;
        CHECK(bp_record_decode(one.data, one.len - tail, &back, &out, &attempts, err,
                               sizeof err) == 0);
        CHECK(out && isnan(out->mean_pressure) && out->hl7_control_id == NULL &&
              attempts == 2);
        CHECK_STR(out ? out->stable_id : NULL, "x");
        bp_buf_free(&one);
    }
    CHECK(bp_record_decode("SPAM spam", 9, &back, &out, &attempts, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "not a bppipe spooled record");
    /* a severity no build has */
    memcpy(longer, buf.data, buf.len);
    longer[4 + 4 + 4 + 4 + 8 + 8 + 8 + 24 + 4 + 4] = 9;
    CHECK(bp_record_decode(longer, buf.len, &back, &out, &attempts, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "damaged");
    free(longer);

    bp_buf_free(&buf);
    bp_buf_free(&dlb);
    bp_arena_free(&a);
    bp_arena_free(&back);
    bp_document_thread_done();
    return CHECK_DONE();
}
