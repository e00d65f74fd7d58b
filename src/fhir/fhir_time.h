/* FHIR date, dateTime and instant text to UTC milliseconds. */
#ifndef BPPIPE_FHIR_TIME_H
#define BPPIPE_FHIR_TIME_H

#include <stdint.h>

/* Accepts YYYY, YYYY-MM, YYYY-MM-DD (taken as the start of that period, UTC) and
 * YYYY-MM-DDThh:mm[:ss[.fff...]](Z|+hh:mm|-hh:mm). A time without a zone is refused: FHIR
 * requires one, and guessing the hospital's zone would shift readings silently.
 * Returns 0 and sets *ms, or -1 when the text is not such a time. */
int bp_fhir_parse_time(const char *text, int64_t *ms);

#endif
