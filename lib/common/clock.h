/* The two clocks of bppipe, in one place: a monotonic one for durations, timeouts and rates
 * (never jumps when an operator or NTP sets the time), and the wall clock for what is written
 * down (document stamps, log lines, end-to-end latencies against a reading's own time). */
#ifndef BP_COMMON_CLOCK_H
#define BP_COMMON_CLOCK_H

#include <stdint.h>

/* Seconds on the monotonic clock (CLOCK_MONOTONIC), from an arbitrary start. */
double bp_now_s(void);

/* Milliseconds since the Unix epoch on the wall clock (CLOCK_REALTIME). */
int64_t bp_wall_ms(void);

/* Days from 1970-01-01 to the date y-m-d (month 1-12, day 1-31) of the proleptic Gregorian
 * calendar; negative before 1970. Both decoders' times (FHIR and HL7 v2) are built on it. */
int64_t bp_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
