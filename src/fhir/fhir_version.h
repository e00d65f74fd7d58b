/* The order of an Observation's versions (issue 26, docs/fhir.md "Versions"): meta.versionId
 * when it is a whole number, else meta.lastUpdated in milliseconds. */
#ifndef BPPIPE_FHIR_VERSION_H
#define BPPIPE_FHIR_VERSION_H

#include <stdint.h>

/* A meta.versionId text as a version: decimal digits only, at least 1, and small enough for an
 * int64_t. Anything else ("W/\"3\"", a UUID, "0", "-2", "+3", " 3", 20 digits) is no version
 * and gives BP_VERSION_NONE: a number that does not fit is refused, never wrapped or cut. */
int64_t bp_fhir_version_id(const char *text);

/* The version of a resource from its meta.versionId and meta.lastUpdated texts (either may be
 * NULL): the versionId when it is one (above), else lastUpdated in UTC milliseconds when it is a
 * FHIR time after the epoch, else BP_VERSION_NONE. */
int64_t bp_fhir_version(const char *version_id, const char *last_updated);

#endif
