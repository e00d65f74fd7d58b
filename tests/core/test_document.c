/* The serializer: field names, absent values, annotations, the dead-letter shape, escaping of
 * hostile text, and that every document is valid JSON (checked with cJSON). */
#include "check.h"
#include "fhir/fhir_decode.h"
#include "pipeline/document.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>

static bp_record *reading(bp_arena *a)
{
    bp_record *r = bp_record_new(a);
    r->stable_id = "obs-1/_history/2";
    r->observation_id = "obs-1";
    r->patient_id = "PAT-001";
    r->practitioner_id = "PRAC-01";
    r->status = "final";
    r->effective_ms = 1767322800123LL; /* 2026-01-02T03:00:00.123Z */
    r->systolic = 150;
    r->diastolic = 82.5;
    r->topic = "blood-pressure";
    r->partition = 2;
    r->offset = 41;
    r->key = "PAT-001";
    r->key_len = 7;
    return r;
}

static cJSON *parse(const char *doc)
{
    cJSON *j = cJSON_Parse(doc);
    CHECK(j != NULL);
    return j;
}

int main(void)
{
    bp_arena a;
    bp_arena_init(&a, 0);
    bp_buf b;
    bp_buf_init(&b);

    bp_record *r = reading(&a);
    CHECK(bp_record_flag(r, "hypertension_systolic", BP_SEV_WARNING) == BP_OK);
    CHECK(bp_record_set_text(r, BP_F_CATEGORY, "hypertension_stage_2") == BP_OK);
    CHECK(bp_record_set_text(r, BP_F_ANOMALY_TYPE, "hypertension") == BP_OK);
    CHECK(bp_record_annotate(r, "ml_risk_score", BP_VAL_NUMBER, 0.875, NULL) == BP_OK);
    CHECK(bp_record_annotate(r, "trend.note", BP_VAL_TEXT, 0, "rising \"fast\"") == BP_OK);
    bp_document_write(&b, r, false, 0);
    CHECK_STR(bp_buf_cstr(&b),
              "{\"@timestamp\":\"2026-01-02T03:00:00.123Z\",\"stable_id\":\"obs-1/_history/2\","
              "\"observation_id\":\"obs-1\",\"patient_id\":\"PAT-001\",\"practitioner_id\":"
              "\"PRAC-01\",\"status\":\"final\",\"systolic_pressure\":150,\"diastolic_pressure\":"
              "82.5,\"anomaly\":true,\"anomaly_type\":\"hypertension\",\"anomaly_details\":"
              "[\"hypertension_systolic\"],\"bp_category\":\"hypertension_stage_2\",\"severity\":"
              "\"warning\",\"ml_risk_score\":0.875,\"trend.note\":\"rising \\\"fast\\\"\","
              "\"source\":{\"topic\":\"blood-pressure\",\"partition\":2,\"offset\":41,\"key\":"
              "\"PAT-001\"}}");

    /* pretty output parses to the same JSON */
    bp_buf p;
    bp_buf_init(&p);
    bp_document_write(&p, r, true, 0);
    CHECK_CONTAINS(bp_buf_cstr(&p), "{\n  \"@timestamp\": \"2026-01-02T03:00:00.123Z\",\n");
    cJSON *j1 = parse(b.data), *j2 = parse(p.data);
    CHECK(cJSON_Compare(j1, j2, 1));
    cJSON_Delete(j1);
    cJSON_Delete(j2);

    /* an absent value is left out, not written as null or NaN */
    bp_record *one = reading(&a);
    one->diastolic = NAN;
    one->practitioner_id = NULL;
    one->decode_flags = BP_DEC_BY_TEXT;
    bp_buf_reset(&b);
    bp_document_write(&b, one, false, 0);
    CHECK(strstr(b.data, "diastolic") == NULL);
    CHECK(strstr(b.data, "practitioner_id") == NULL);
    CHECK_CONTAINS(b.data, "\"anomaly\":false,\"anomaly_type\":\"normal\",\"anomaly_details\":[]");
    CHECK_CONTAINS(b.data, "\"identified_by\":\"text\"");
    CHECK_CONTAINS(b.data, "\"severity\":\"normal\"");

    /* a dead letter: reason, position, payload; hostile bytes stay valid JSON */
    bp_record *bad = bp_record_new(&a);
    const char payload[] = "{\"x\":\"\xff\xfe\"\n\t\x01}";
    bad->payload = payload;
    bad->payload_len = sizeof payload - 1;
    bad->invalid_reason = "not JSON at byte 7";
    bad->topic = "t";
    bad->partition = 0;
    bad->offset = 9;
    bp_buf_reset(&b);
    bp_document_write(&b, bad, false, 1767322800000LL);
    CHECK_CONTAINS(b.data, "\"@timestamp\":\"2026-01-02T03:00:00.000Z\"");
    CHECK_CONTAINS(b.data, "\"route\":\"invalid\",\"invalid_reason\":\"not JSON at byte 7\"");
    CHECK_CONTAINS(b.data, "\"payload\":\"{\\\"x\\\":\\\"\xEF\xBF\xBD\xEF\xBF\xBD\\\"\\n\\t\\u0001}\"");
    CHECK(strstr(b.data, "anomaly") == NULL);
    cJSON *j3 = parse(b.data);
    cJSON_Delete(j3);

    /* cached documents are rebuilt after a verdict changes */
    size_t len1, len2;
    const char *d1 = bp_document_get(r, false, &len1);
    CHECK(d1 && len1 == strlen(d1));
    CHECK(bp_record_flag(r, "another_reason", BP_SEV_CRITICAL) == BP_OK);
    const char *d2 = bp_document_get(r, false, &len2);
    CHECK_CONTAINS(d2, "\"anomaly_details\":[\"hypertension_systolic\",\"another_reason\"]");
    CHECK_CONTAINS(d2, "\"severity\":\"critical\"");

    /* numbers: shortest round-trip form */
    bp_buf_reset(&b);
    bp_buf_json_number(&b, 102.7227196535116);
    CHECK_STR(b.data, "102.7227196535116");
    bp_buf_reset(&b);
    bp_buf_json_number(&b, 0.1);
    CHECK_STR(b.data, "0.1");
    bp_buf_reset(&b);
    bp_buf_json_number(&b, -3);
    CHECK_STR(b.data, "-3");
    bp_buf_reset(&b);
    bp_buf_iso_time(&b, -1); /* before the epoch rounds down */
    CHECK_STR(b.data, "1969-12-31T23:59:59.999Z");

    bp_buf_free(&b);
    bp_buf_free(&p);
    bp_arena_free(&a);
    return CHECK_DONE();
}
