/* Alarm events as FHIR R4 DetectedIssue (alert.h, docs/alarms.md "FHIR"). DetectedIssue.status
 * is bound (required) to ObservationStatus; DetectedIssue.severity (required) to high | moderate
 * | low; an acknowledgement is a mitigation (action, date, author). */
#include "alert.h"

#include "common/sha256.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *bp_alert_alarm_status(const char *event)
{
    if (!event)
        return "preliminary";
    if (strcmp(event, "acknowledged") == 0)
        return "final"; /* a clinician has seen it: the issue is confirmed */
    if (strcmp(event, "resolved") == 0)
        return "amended"; /* final, then changed: the condition is over */
    if (strcmp(event, "withdrawn") == 0)
        return "entered-in-error"; /* it should never have been raised */
    return "preliminary";          /* raised, escalated: nobody has acted on it yet */
}

static const char *severity_of(const char *priority)
{
    if (priority && strcmp(priority, "high") == 0)
        return "high";
    if (priority && strcmp(priority, "medium") == 0)
        return "moderate";
    return "low";
}

static void iso(int64_t ms, char *out, size_t len)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, len - n, ".%03dZ", (int)(((ms % 1000) + 1000) % 1000));
}

/* "bp-alarm-" and 40 hex digits of SHA-256 of the alarm id: a valid FHIR id (the alarm id may
 * hold a topic name and '~'), the same for every event of one alarm. */
static void resource_id(const char *alarm_id, char *out, size_t len)
{
    uint8_t d[32];
    bp_sha256(alarm_id, strlen(alarm_id), d);
    int used = snprintf(out, len, "bp-alarm-");
    for (int i = 0; i < 20 && (size_t)used + 2 * (size_t)i + 3 <= len; i++)
        snprintf(out + used + 2 * i, 3, "%02x", d[i]);
}

char *bp_alert_alarm_issue(const bp_alarm_issue_input *in, size_t *len)
{
    char id[64], raised[40], at[40], detail[512], ref[600], vals[64] = "";
    const char *alarm_id = in->alarm_id ? in->alarm_id : "unknown";
    resource_id(alarm_id, id, sizeof id);
    iso(in->raised_at_ms, raised, sizeof raised);
    iso(in->event_ms, at, sizeof at);
    const char *pid = in->patient_id ? in->patient_id : "unknown";
    if (strchr(pid, ':') || strchr(pid, '|') || pid[0] == '#')
        snprintf(ref, sizeof ref, "%s", pid);
    else
        snprintf(ref, sizeof ref, "Patient/%s", pid);
    if (!isnan(in->systolic) || !isnan(in->diastolic))
        snprintf(vals, sizeof vals, "; blood pressure %g/%g mmHg", in->systolic, in->diastolic);
    snprintf(detail, sizeof detail, "alarm %s (%s priority): %s%s%s",
             in->condition ? in->condition : "?", in->priority ? in->priority : "?",
             in->event ? in->event : "raised", vals, in->tier > 0 ? "; escalated" : "");
    if (in->tier > 0)
        snprintf(detail + strlen(detail), sizeof detail - strlen(detail), " to tier %d", in->tier);
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "resourceType", "DetectedIssue");
    cJSON_AddStringToObject(o, "id", id);
    cJSON *ids = cJSON_AddArrayToObject(o, "identifier");
    cJSON *ident = cJSON_CreateObject();
    cJSON_AddStringToObject(ident, "system", "urn:bppipe:alarm");
    cJSON_AddStringToObject(ident, "value", alarm_id);
    cJSON_AddItemToArray(ids, ident);
    cJSON_AddStringToObject(o, "status", bp_alert_alarm_status(in->event));
    cJSON *code = cJSON_AddObjectToObject(o, "code");
    cJSON_AddStringToObject(code, "text", in->condition ? in->condition : "alarm");
    cJSON_AddStringToObject(o, "severity", severity_of(in->priority));
    cJSON *patient = cJSON_AddObjectToObject(o, "patient");
    cJSON_AddStringToObject(patient, "reference", ref);
    bool over =
        in->event && (strcmp(in->event, "resolved") == 0 || strcmp(in->event, "withdrawn") == 0);
    cJSON *period = cJSON_AddObjectToObject(o, "identifiedPeriod");
    cJSON_AddStringToObject(period, "start", raised);
    if (over)
        cJSON_AddStringToObject(period, "end", at);
    cJSON_AddStringToObject(o, "detail", detail);
    if (in->by && *in->by) {
        /* who acknowledged: the mitigation, the one place DetectedIssue has for it */
        cJSON *mits = cJSON_AddArrayToObject(o, "mitigation");
        cJSON *m = cJSON_CreateObject();
        cJSON *action = cJSON_AddObjectToObject(m, "action");
        cJSON_AddStringToObject(action, "text", "alarm acknowledged");
        cJSON_AddStringToObject(m, "date", at);
        cJSON *author = cJSON_AddObjectToObject(m, "author");
        cJSON_AddStringToObject(author, "display", in->by);
        cJSON_AddItemToArray(mits, m);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text && len)
        *len = strlen(text);
    return text;
}
