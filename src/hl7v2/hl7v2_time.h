/* HL7 v2 DTM/TS text (YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]) to UTC milliseconds. */
#ifndef BPPIPE_HL7V2_TIME_H
#define BPPIPE_HL7V2_TIME_H

#include <stdbool.h>
#include <stdint.h>

typedef struct bp_hl7_time {
    int64_t local_ms; /* the time as written, read as if it were UTC */
    bool has_zone;
    int zone_min;   /* the offset written (+0100 = 60) when has_zone */
    bool has_clock; /* an hour was written (a date alone is a day, not an instant) */
} bp_hl7_time;

/* Parses n bytes of `s` (the first component of a TS; trailing precision components are not
 * passed). Returns 0, or -1 when it is not such a time (a month 13, a letter, a zone +25:00). */
int bp_hl7_time_parse(const char *s, int n, bp_hl7_time *out);

/* UTC milliseconds of t, taking `fallback_zone_min` when t has none and fallback_ok. Returns
 * 0, or -1 when t has a clock time but no zone and no fallback was allowed: a time without a
 * zone names no instant, and guessing the ward's zone would shift readings silently. A date
 * alone without a zone is taken as the start of that day in UTC, as FHIR dates are. */
int bp_hl7_time_utc(const bp_hl7_time *t, bool fallback_ok, int fallback_zone_min, int64_t *ms);

#endif
