/* Alarm-fatigue control and the DetectedIssue: once per patient and reason per cooldown, at
 * once again when the severity rises, suppressed readings counted into the next alert, and a
 * failed delivery never silences the retry. */
#include "alert.h"
#include "check.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>

#define MIN 60000LL

/* Reason arrays for the readings of this test, one per reading made. */
static const char *reason_store[64][16];
static size_t n_stored;

static bp_alert_input reading(const char *patient, int64_t minute, int severity, const char *reason)
{
    const char **reasons = reason_store[n_stored++ % 64];
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
    reasons[0] = reason;
    in.reasons = reasons;
    in.n_reasons = reason ? 1 : 0;
    return in;
}

static const char **reasons_of(bp_alert_input *in)
{
    return (const char **)in->reasons;
}

/* The DetectedIssue's text, parsed; the caller deletes it. */
static cJSON *issue(const bp_alert_input *in, uint32_t since)
{
    size_t len;
    char *text = bp_alert_detected_issue(in, since, &len);
    CHECK(text != NULL && strlen(text) == len);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(j != NULL);
    return j;
}

static const char *member(const cJSON *j, const char *name)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(j, name));
    return v ? v : "";
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
    cJSON *j = issue(&a15, since);
    CHECK_CONTAINS(member(j, "detail"), "3 further readings since the last alert");
    cJSON_Delete(j);
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
    reasons_of(&x)[1] = "hypertension_diastolic";
    x.n_reasons = 2;
    j = issue(&x, 0);
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
    j = issue(&x, 0);
    CHECK_STR(member(cJSON_GetObjectItem(j, "patient"), "reference"), "urn:uuid:7b4c");
    cJSON_Delete(j);

    /* Nothing is cut. Two patients whose ids share their first 300 bytes have their own
     * cooldowns (a 160-byte key made them one, and the second patient's crisis was silenced). */
    static char long_a[400], long_b[400];
    memset(long_a, 'p', 300);
    memcpy(long_b, long_a, 300);
    strcpy(long_a + 300, "-alice");
    strcpy(long_b + 300, "-bob");
    bp_alert_input la = reading(long_a, 100, 2, "hypertension_systolic");
    CHECK(bp_cooldown_should_alert(&c, &la, &since));
    bp_cooldown_commit(&c, &la);
    bp_alert_input lb = reading(long_b, 101, 2, "hypertension_systolic");
    CHECK(bp_cooldown_should_alert(&c, &lb, &since));
    /* and a patient id holding the old separator byte is no other patient's key */
    bp_alert_input sa = reading("p9\x1f" "hypertension_systolic", 100, 2, "x");
    bp_cooldown_commit(&c, &sa);
    bp_alert_input sb = reading("p9", 101, 2, "hypertension_systolic\x1f" "x");
    CHECK(bp_cooldown_should_alert(&c, &sb, &since));

    /* Every reason counts, for the key and the text: a ninth reason was dropped before. */
    bp_alert_input many = reading("p10", 0, 2, "r0");
    static char names[12][8];
    for (int i = 0; i < 12; i++) {
        snprintf(names[i], sizeof names[i], "r%d", i);
        reasons_of(&many)[i] = names[i];
    }
    many.n_reasons = 12;
    bp_cooldown_commit(&c, &many);
    bp_alert_input r11 = reading("p10", 1, 2, "r11");
    CHECK(!bp_cooldown_should_alert(&c, &r11, &since)); /* the 12th reason's cooldown runs */
    j = issue(&many, 0);
    CHECK_CONTAINS(member(j, "detail"), "r9, r10, r11; blood pressure");
    cJSON_Delete(j);

    /* A long patient and Observation: whole references, and a whole detail. */
    static char long_obs[700];
    memset(long_obs, 'o', 600);
    long_obs[600] = '\0';
    bp_alert_input lx = reading(long_b, 0, 2, "hypertension_systolic");
    lx.observation_id = long_obs;
    lx.stable_id = long_obs;
    j = issue(&lx, 0);
    char want[800];
    snprintf(want, sizeof want, "Patient/%s", long_b);
    CHECK_STR(member(cJSON_GetObjectItem(j, "patient"), "reference"), want);
    snprintf(want, sizeof want, "Observation/%s", long_obs);
    CHECK_STR(member(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "implicated"), 0), "reference"),
              want);
    /* an id that is no FHIR id (too long, or other characters) is hashed, valid and distinct */
    const char *id = member(j, "id");
    CHECK(strncmp(id, "bp-alert-sha256.", 16) == 0 && strlen(id) == 56);
    cJSON_Delete(j);
    char ida[BP_ALERT_ID_SIZE], idb[BP_ALERT_ID_SIZE];
    long_obs[599] = 'x';
    bp_alert_id(long_obs, ida);
    long_obs[599] = 'o';
    bp_alert_id(long_obs, idb);
    CHECK(strcmp(ida, idb) != 0);
    bp_alert_id("obs/_history/2", ida);
    bp_alert_id("obs:_history:2", idb);
    CHECK(strcmp(ida, idb) != 0); /* mapping characters to '-' made these one alert */
    bp_alert_id("sha256.abc", ida);
    CHECK(strncmp(ida, "bp-alert-sha256.", 16) == 0 && strlen(ida) == 56);
    bp_cooldown_free(&c);
    return CHECK_DONE();
}
