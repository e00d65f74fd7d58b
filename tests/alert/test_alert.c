/* Alarm-fatigue control and the DetectedIssue: once per patient and reason per cooldown, at
 * once again when the severity rises, suppressed readings counted into the next alert, and a
 * failed delivery never silences the retry. */
#include "alert.h"
#include "check.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN 60000LL

/* What the host's keyed state does for sink_alert.c, in the small: values by key, stored in
 * their encoded form, so every decision below also goes through the stored form. */
typedef struct store {
    int64_t period_ms;
    struct {
        uint8_t key[BP_ALERT_KEY_MAX];
        size_t key_len;
        uint8_t value[BP_COOLDOWN_VALUE_LEN];
    } items[256];
    size_t n;
} store;

static size_t slot(store *c, const uint8_t *key, size_t len, bool add)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->items[i].key_len == len && memcmp(c->items[i].key, key, len) == 0)
            return i;
    if (!add || c->n == 256)
        return SIZE_MAX;
    memcpy(c->items[c->n].key, key, len);
    c->items[c->n].key_len = len;
    return c->n++;
}

static bp_cooldown_entry entries[16];

static void load(store *c, const bp_alert_input *in)
{
    for (size_t i = 0; i < bp_alert_n_keys(in); i++) {
        uint8_t key[BP_ALERT_KEY_MAX];
        size_t at = slot(c, key, bp_alert_key(in, i, key), false);
        memset(&entries[i], 0, sizeof entries[i]);
        if (at != SIZE_MAX)
            CHECK(bp_cooldown_decode(c->items[at].value, BP_COOLDOWN_VALUE_LEN, &entries[i]) == 0);
    }
}

static void save(store *c, const bp_alert_input *in)
{
    for (size_t i = 0; i < bp_alert_n_keys(in); i++) {
        if (!entries[i].present)
            continue;
        uint8_t key[BP_ALERT_KEY_MAX];
        size_t at = slot(c, key, bp_alert_key(in, i, key), true);
        CHECK(at != SIZE_MAX);
        if (at != SIZE_MAX)
            bp_cooldown_encode(&entries[i], c->items[at].value);
    }
}

static bool should_alert(store *c, const bp_alert_input *in, uint32_t *since)
{
    load(c, in);
    return bp_cooldown_should_alert(c->period_ms, in, entries, since);
}

static void commit(store *c, const bp_alert_input *in)
{
    load(c, in);
    for (size_t i = 0; i < bp_alert_n_keys(in); i++)
        bp_cooldown_sent(&entries[i], in);
    save(c, in);
}

static void suppress(store *c, const bp_alert_input *in)
{
    load(c, in);
    for (size_t i = 0; i < bp_alert_n_keys(in); i++)
        bp_cooldown_suppress(&entries[i]);
    save(c, in);
}

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

/* An alarm event's DetectedIssue (alert_alarm.c): one resource per alarm, its status following
 * the alarm, severity from the priority, the acknowledgement as a mitigation. */
static void test_alarm_issue(void)
{
    bp_alarm_issue_input in = {.alarm_id = "bp~3~0123456789abcdef", .event = "raised",
                               .priority = "medium", .condition = "stage2", .patient_id = "p7",
                               .raised_at_ms = 1700000000000LL, .event_ms = 1700000000000LL,
                               .systolic = 165, .diastolic = 101};
    char *raised = bp_alert_alarm_issue(&in, NULL);
    cJSON *j = cJSON_Parse(raised);
    CHECK_STR(member(j, "resourceType"), "DetectedIssue");
    CHECK_STR(member(j, "status"), "preliminary");
    CHECK_STR(member(j, "severity"), "moderate");
    CHECK_CONTAINS(member(j, "detail"), "165/101 mmHg");
    const cJSON *ident = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "identifier"), 0);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(ident, "value")), in.alarm_id);
    char id[80];
    snprintf(id, sizeof id, "%s", member(j, "id"));
    CHECK(strncmp(id, "bp-alarm-", 9) == 0 && strlen(id) == 9 + 40);
    CHECK(!cJSON_GetObjectItem(j, "mitigation"));
    cJSON_Delete(j);
    free(raised);
    in.event = "acknowledged";
    in.by = "nurse.ana";
    in.event_ms += 60000;
    in.systolic = in.diastolic = NAN;
    char *acked = bp_alert_alarm_issue(&in, NULL);
    j = cJSON_Parse(acked);
    CHECK_STR(member(j, "status"), "final");
    CHECK_STR(member(j, "id"), id); /* the same resource, updated */
    const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "mitigation"), 0);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "author"),
                                                       "display")), "nurse.ana");
    cJSON_Delete(j);
    free(acked);
    CHECK_STR(bp_alert_alarm_status("escalated"), "preliminary");
    CHECK_STR(bp_alert_alarm_status("resolved"), "amended");
    CHECK_STR(bp_alert_alarm_status("withdrawn"), "entered-in-error");
    in.event = "resolved";
    in.priority = "high";
    char *over = bp_alert_alarm_issue(&in, NULL);
    j = cJSON_Parse(over);
    CHECK_STR(member(j, "severity"), "high");
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "identifiedPeriod"), "end") != NULL);
    cJSON_Delete(j);
    free(over);
}

/* A remembered alert (issue 26): its value reads back whole, is never a cooldown, and a
 * cooldown is never one; the logical id's key never collides with a cooldown key; the withdrawal
 * keeps the alert's id. */
static void remembered_alert(void)
{
    const char *rs[] = {"hypertension_systolic", "crisis"};
    bp_alerted a = {.version = 3,
                    .effective_ms = 7 * MIN,
                    .systolic = 190,
                    .diastolic = NAN,
                    .severity = 2,
                    .stable_id = "obs-9/_history/3",
                    .patient_id = "p9",
                    .category = "hypertensive_crisis",
                    .reasons = rs,
                    .n_reasons = 2};
    uint8_t v[512], key[BP_ALERT_KEY_MAX];
    size_t n = bp_alerted_encode(&a, v, sizeof v);
    const char *back_r[BP_ALERTED_MAX_REASONS];
    bp_alerted back;
    CHECK(n > BP_COOLDOWN_VALUE_LEN && bp_alerted_decode(v, n, &back, back_r) == 0);
    CHECK(back.version == 3 && back.effective_ms == 7 * MIN && back.systolic == 190 &&
          isnan(back.diastolic) && back.severity == 2 && back.n_reasons == 2);
    CHECK_STR(back.stable_id, "obs-9/_history/3");
    CHECK_STR(back.patient_id, "p9");
    CHECK(back.observation_id == NULL);
    CHECK_STR(back.reasons[1], "crisis");
    bp_cooldown_entry e;
    CHECK(bp_cooldown_decode(v, n, &e) != 0);
    CHECK(bp_alerted_decode(v, n - 1, &back, back_r) != 0);
    CHECK(bp_alerted_encode(&a, v, 40) == 0);
    uint8_t cd[BP_COOLDOWN_VALUE_LEN] = {0};
    CHECK(bp_alerted_decode(cd, sizeof cd, &back, back_r) != 0);
    CHECK(bp_alerted_key("L1", key) == 3 && key[0] == 2 && memcmp(key + 1, "L1", 2) == 0);
    static char long_id[2000];
    memset(long_id, 'x', sizeof long_id - 1);
    CHECK(bp_alerted_key(long_id, key) == 33 && key[0] == 3);
    bp_alert_input in;
    CHECK(bp_alerted_decode(v, n, &back, back_r) == 0);
    bp_alerted_input(&back, "entered-in-error", "withdrawn: test", &in);
    size_t len;
    char *w = bp_alert_detected_issue(&in, 0, &len);
    char id[BP_ALERT_ID_SIZE];
    bp_alert_id("obs-9/_history/3", id);
    CHECK(w && strstr(w, "\"status\":\"entered-in-error\"") && strstr(w, id) &&
          strstr(w, "withdrawn: test"));
    free(w);
}

int main(void)
{
    test_alarm_issue();
    static store c;
    c.period_ms = 15 * MIN;
    uint32_t since;
    bp_alert_input a0 = reading("p1", 0, 2, "hypertension_systolic");
    CHECK(should_alert(&c, &a0, &since) && since == 0);
    /* not committed (delivery failed): the same reading alerts again */
    CHECK(should_alert(&c, &a0, &since));
    commit(&c, &a0);
    /* within the cooldown: suppressed and counted */
    for (int m = 1; m <= 3; m++) {
        bp_alert_input a = reading("p1", m * 3, 2, "hypertension_systolic");
        CHECK(!should_alert(&c, &a, &since));
        suppress(&c, &a);
    }
    /* another patient, another reason: their own cooldowns */
    bp_alert_input b = reading("p2", 5, 2, "hypertension_systolic");
    CHECK(should_alert(&c, &b, &since));
    bp_alert_input d = reading("p1", 5, 2, "hypotension_diastolic");
    CHECK(should_alert(&c, &d, &since));
    /* after the cooldown: alert again, reporting the suppressed readings */
    bp_alert_input a15 = reading("p1", 15, 2, "hypertension_systolic");
    CHECK(should_alert(&c, &a15, &since) && since == 3);
    cJSON *j = issue(&a15, since);
    CHECK_CONTAINS(member(j, "detail"), "3 further readings since the last alert");
    cJSON_Delete(j);
    commit(&c, &a15);
    /* escalation: a higher severity alerts at once */
    bp_alert_input w = reading("p3", 0, 1, "hypertension_systolic");
    CHECK(should_alert(&c, &w, &since));
    commit(&c, &w);
    bp_alert_input w2 = reading("p3", 2, 1, "hypertension_systolic");
    CHECK(!should_alert(&c, &w2, &since));
    bp_alert_input crit = reading("p3", 3, 2, "hypertension_systolic");
    CHECK(should_alert(&c, &crit, &since));
    /* critical by severity alone (no reason): keyed by its category */
    bp_alert_input none = reading("p4", 0, 2, NULL);
    CHECK(should_alert(&c, &none, &since));
    commit(&c, &none);
    bp_alert_input none2 = reading("p4", 1, 2, NULL);
    CHECK(!should_alert(&c, &none2, &since));

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
                                  "reference")
                  ->valuestring,
              "Observation/obs-1");
    CHECK_STR(cJSON_GetObjectItem(j, "identifiedDateTime")->valuestring,
              "1970-01-01T00:00:00.000Z");
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
    CHECK(should_alert(&c, &la, &since));
    commit(&c, &la);
    bp_alert_input lb = reading(long_b, 101, 2, "hypertension_systolic");
    CHECK(should_alert(&c, &lb, &since));
    /* and a patient id holding the old separator byte is no other patient's key */
    bp_alert_input sa = reading("p9\x1f"
                                "hypertension_systolic",
                                100, 2, "x");
    commit(&c, &sa);
    bp_alert_input sb = reading("p9", 101, 2,
                                "hypertension_systolic\x1f"
                                "x");
    CHECK(should_alert(&c, &sb, &since));

    /* Every reason counts, for the key and the text: a ninth reason was dropped before. */
    bp_alert_input many = reading("p10", 0, 2, "r0");
    static char names[12][8];
    for (int i = 0; i < 12; i++) {
        snprintf(names[i], sizeof names[i], "r%d", i);
        reasons_of(&many)[i] = names[i];
    }
    many.n_reasons = 12;
    commit(&c, &many);
    bp_alert_input r11 = reading("p10", 1, 2, "r11");
    CHECK(!should_alert(&c, &r11, &since)); /* the 12th reason's cooldown runs */
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

    /* the stored form: every field, little-endian; another length or no severity is refused */
    bp_cooldown_entry e = {.present = true,
                           .last_ms = 0x0102030405060708LL,
                           .severity = 2,
                           .suppressed = 0x0A0B0C0D},
                      back;
    uint8_t v[BP_COOLDOWN_VALUE_LEN + 1];
    bp_cooldown_encode(&e, v);
    CHECK(v[0] == 0x08 && v[7] == 0x01 && v[8] == 2 && v[9] == 0x0D && v[12] == 0x0A);
    CHECK(bp_cooldown_decode(v, BP_COOLDOWN_VALUE_LEN, &back) == 0);
    CHECK(back.present && back.last_ms == e.last_ms && back.severity == 2 &&
          back.suppressed == 0x0A0B0C0D);
    e.last_ms = -5 * MIN; /* before 1970 */
    e.severity = 1;
    bp_cooldown_encode(&e, v);
    CHECK(bp_cooldown_decode(v, BP_COOLDOWN_VALUE_LEN, &back) == 0 && back.last_ms == -5 * MIN &&
          back.severity == 1);
    CHECK(bp_cooldown_decode(v, BP_COOLDOWN_VALUE_LEN - 1, &back) == -1 && !back.present);
    CHECK(bp_cooldown_decode(v, BP_COOLDOWN_VALUE_LEN + 1, &back) == -1);
    CHECK(bp_cooldown_decode(NULL, 0, &back) == -1);
    v[8] = 7;
    CHECK(bp_cooldown_decode(v, BP_COOLDOWN_VALUE_LEN, &back) == -1 && !back.present);
    /* a suppressed reading is counted only into a cooldown that runs */
    bp_cooldown_entry fresh = {0};
    bp_cooldown_suppress(&fresh);
    CHECK(!fresh.present && fresh.suppressed == 0);

    /* keys: patient and reason whole and apart, hashed only beyond the host's bound */
    uint8_t k1[BP_ALERT_KEY_MAX], k2[BP_ALERT_KEY_MAX];
    bp_alert_input ka = reading("ab", 0, 2, "c"), kb = reading("a", 0, 2, "bc");
    size_t n1 = bp_alert_key(&ka, 0, k1), n2 = bp_alert_key(&kb, 0, k2);
    CHECK(n1 == 8 && n2 == 8 && memcmp(k1, k2, 8) != 0); /* "abc" either way, apart */
    CHECK(k1[0] == 0 && k1[1] == 2 && k1[2] == 0 && memcmp(k1 + 5, "abc", 3) == 0);
    static char huge_a[1500], huge_b[1500];
    memset(huge_a, 'h', 1400);
    memcpy(huge_b, huge_a, 1400);
    huge_b[1399] = 'i';
    ka = reading(huge_a, 0, 2, "r");
    kb = reading(huge_b, 0, 2, "r");
    n1 = bp_alert_key(&ka, 0, k1);
    n2 = bp_alert_key(&kb, 0, k2);
    CHECK(n1 == 33 && n2 == 33 && k1[0] == 1 && memcmp(k1, k2, 33) != 0);
    CHECK(bp_alert_n_keys(&ka) == 1);
    ka = reading("p", 0, 2, NULL);
    CHECK(bp_alert_n_keys(&ka) == 1);
    n1 = bp_alert_key(&ka, 0, k1);
    CHECK(n1 == 5 + 1 + strlen("hypertensive_crisis")); /* keyed by its category */
    remembered_alert();
    return CHECK_DONE();
}
