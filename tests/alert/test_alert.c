/* Alarm-fatigue control and the DetectedIssue: once per patient and reason per cooldown, at
 * once again when the severity rises, suppressed readings counted into the next alert, and a
 * failed delivery never silences the retry. */
#include "alert.h"
#include "check.h"

#include <cjson/cJSON.h>
#include <math.h>

#define MIN 60000LL

static bp_alert_input reading(const char *patient, int64_t minute, int severity, const char *reason)
{
    bp_alert_input in;
    memset(&in, 0, sizeof in);
    in.stable_id = "obs-1";
    in.observation_id = "obs-1";
    in.patient_id = patient;
    in.category = "hypertensive_crisis";
    in.severity = severity;
    in.effective_ms = minute * MIN;
    in.systolic = 190;
    in.diastolic = 125;
    in.reasons[0] = reason;
    in.n_reasons = reason ? 1 : 0;
    return in;
}

int main(void)
{
    bp_cooldown c;
    bp_cooldown_init(&c, 15 * MIN);
    uint32_t since;
    bp_alert_input a0 = reading("p1", 0, 2, "hypertension_systolic");
    CHECK(bp_cooldown_should_alert(&c, &a0, &since) && since == 0);
    /* not committed (delivery failed): the same reading alerts again */
    CHECK(bp_cooldown_should_alert(&c, &a0, &since));
    bp_cooldown_commit(&c, &a0);
    /* within the cooldown: suppressed and counted */
    for (int m = 1; m <= 3; m++) {
        bp_alert_input a = reading("p1", m * 3, 2, "hypertension_systolic");
        CHECK(!bp_cooldown_should_alert(&c, &a, &since));
        bp_cooldown_suppress(&c, &a);
    }
    /* another patient, another reason: their own cooldowns */
    bp_alert_input b = reading("p2", 5, 2, "hypertension_systolic");
    CHECK(bp_cooldown_should_alert(&c, &b, &since));
    bp_alert_input d = reading("p1", 5, 2, "hypotension_diastolic");
    CHECK(bp_cooldown_should_alert(&c, &d, &since));
    /* after the cooldown: alert again, reporting the suppressed readings */
    bp_alert_input a15 = reading("p1", 15, 2, "hypertension_systolic");
    CHECK(bp_cooldown_should_alert(&c, &a15, &since) && since == 3);
    char out[4096];
    CHECK(bp_alert_detected_issue(&a15, since, out, sizeof out) > 0);
    CHECK_CONTAINS(out, "3 further readings since the last alert");
    bp_cooldown_commit(&c, &a15);
    /* escalation: a higher severity alerts at once */
    bp_alert_input w = reading("p3", 0, 1, "hypertension_systolic");
    CHECK(bp_cooldown_should_alert(&c, &w, &since));
    bp_cooldown_commit(&c, &w);
    bp_alert_input w2 = reading("p3", 2, 1, "hypertension_systolic");
    CHECK(!bp_cooldown_should_alert(&c, &w2, &since));
    bp_alert_input crit = reading("p3", 3, 2, "hypertension_systolic");
    CHECK(bp_cooldown_should_alert(&c, &crit, &since));
    /* critical by severity alone (no reason): keyed by its category */
    bp_alert_input none = reading("p4", 0, 2, NULL);
    CHECK(bp_cooldown_should_alert(&c, &none, &since));
    bp_cooldown_commit(&c, &none);
    bp_alert_input none2 = reading("p4", 1, 2, NULL);
    CHECK(!bp_cooldown_should_alert(&c, &none2, &since));

    /* the DetectedIssue */
    bp_alert_input x = reading("PAT-001", 0, 2, "hypertension_systolic");
    x.reasons[1] = "hypertension_diastolic";
    x.n_reasons = 2;
    CHECK(bp_alert_detected_issue(&x, 0, out, sizeof out) > 0);
    cJSON *j = cJSON_Parse(out);
    CHECK(j != NULL);
    CHECK_STR(cJSON_GetObjectItem(j, "resourceType")->valuestring, "DetectedIssue");
    CHECK_STR(cJSON_GetObjectItem(j, "status")->valuestring, "final");
    CHECK_STR(cJSON_GetObjectItem(j, "severity")->valuestring, "high");
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "patient"), "reference")->valuestring,
              "Patient/PAT-001");
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "implicated"), 0),
                                  "reference")->valuestring, "Observation/obs-1");
    CHECK_STR(cJSON_GetObjectItem(j, "identifiedDateTime")->valuestring, "1970-01-01T00:00:00.000Z");
    CHECK_STR(cJSON_GetObjectItem(j, "detail")->valuestring,
              "hypertension_systolic, hypertension_diastolic; blood pressure 190/125 mmHg "
              "(hypertensive_crisis)");
    CHECK_STR(cJSON_GetObjectItem(j, "id")->valuestring, "bp-alert-obs-1");
    cJSON_Delete(j);
    x.patient_id = "urn:uuid:7b4c";
    bp_alert_detected_issue(&x, 0, out, sizeof out);
    CHECK_CONTAINS(out, "\"reference\":\"urn:uuid:7b4c\"");
    CHECK(bp_alert_detected_issue(&x, 0, out, 20) == 0); /* does not fit: refused, not cut */
    bp_cooldown_free(&c);
    return CHECK_DONE();
}
