/* The alarm acknowledgement payload (alarm_ack.h). */
#include "decode/alarm_ack.h"

#include "fhir/fhir_time.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

bool bp_alarm_ack_sniff(const char *data, size_t len)
{
    const char *end = data + len, *p = skip_ws(data, end);
    if (p >= end || *p != '{')
        return false;
    p = skip_ws(p + 1, end);
    return (size_t)(end - p) >= 8 && memcmp(p, "\"bppipe\"", 8) == 0;
}

/* A string member of 1 to `max` bytes, else NULL (the payload is then refused, never cut). */
static const char *text_of(const cJSON *o, const char *name, size_t max)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    const char *s = cJSON_IsString(v) ? v->valuestring : NULL;
    return s && *s && strlen(s) <= max ? s : NULL;
}

int bp_alarm_ack_decode(const char *data, size_t len, bp_decode_emit emit, void *user)
{
    bp_decoded d = {.systolic = NAN,
                    .diastolic = NAN,
                    .heart_rate = NAN,
                    .mean_pressure = NAN,
                    .resource_index = -1,
                    .ack_at_ms = INT64_MIN};
    cJSON *o = cJSON_ParseWithLength(data, len);
    const char *kind = o ? text_of(o, "bppipe", BP_ALARM_ACK_TEXT_MAX) : NULL;
    if (!o)
        d.invalid_reason = "bppipe command: not JSON";
    else if (!kind || strcmp(kind, "alarm-ack") != 0)
        d.invalid_reason = "bppipe command: \"bppipe\" is not \"alarm-ack\"";
    else if (!(d.ack_alarm_id = text_of(o, "alarm_id", BP_ALARM_ACK_ID_MAX)))
        d.invalid_reason = "bppipe command: alarm-ack without an alarm_id";
    else if (!(d.ack_by = text_of(o, "by", BP_ALARM_ACK_TEXT_MAX)))
        d.invalid_reason = "bppipe command: alarm-ack without \"by\" (who acknowledged)";
    if (!d.invalid_reason) {
        d.ack_from = text_of(o, "from", BP_ALARM_ACK_TEXT_MAX);
        const char *at = text_of(o, "at", BP_ALARM_ACK_TEXT_MAX);
        int64_t ms;
        if (at && bp_fhir_parse_time(at, &ms) == 0)
            d.ack_at_ms = ms;
        d.stable_id = d.ack_alarm_id;
    }
    int rc = emit(user, &d); /* the strings live in `o` until it is freed */
    cJSON_Delete(o);
    return rc;
}
