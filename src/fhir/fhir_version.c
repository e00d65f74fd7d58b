#include "fhir/fhir_version.h"

#include "fhir/fhir_time.h"
#include "fhir/fhir_types.h"

int64_t bp_fhir_version_id(const char *text)
{
    if (!text || !*text)
        return BP_VERSION_NONE;
    int64_t v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return BP_VERSION_NONE;
        int digit = *p - '0';
        if (v > (INT64_MAX - digit) / 10)
            return BP_VERSION_NONE; /* does not fit: not a version, never a wrapped one */
        v = v * 10 + digit;
    }
    return v >= 1 ? v : BP_VERSION_NONE;
}

int64_t bp_fhir_version(const char *version_id, const char *last_updated)
{
    int64_t v = bp_fhir_version_id(version_id);
    if (v != BP_VERSION_NONE)
        return v;
    int64_t ms;
    /* lastUpdated is an instant; the time parser refuses a time of day without a zone, so a
     * version is never shifted by a guessed zone. Before 1970 (or at it) is no version: versions
     * are >= 1. */
    if (last_updated && bp_fhir_parse_time(last_updated, &ms) == 0 && ms >= 1)
        return ms;
    return BP_VERSION_NONE;
}
