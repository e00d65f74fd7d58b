/* One FHIR Observation (a cJSON tree) to one reading or one reason it is not usable. The
 * container walk (fhir_decode.c) calls this for every Observation it finds. */
#ifndef BPPIPE_FHIR_OBSERVATION_H
#define BPPIPE_FHIR_OBSERVATION_H

#include "fhir_decode.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

/* What the extraction found. Strings point into the cJSON tree or into `ids`, which the caller
 * keeps alive as long as the result. */
typedef struct bp_obs_result {
    bp_decoded d;
    bool is_bp;       /* the Observation is about blood pressure at all (codes seen) */
    bool has_sys, has_dia;
    char ids[3][256]; /* storage for composed strings: stable id, patient, practitioner */
    char reason[256]; /* storage for d.invalid_reason */
    bool paired_away; /* merged into another result by pairing: not emitted */
} bp_obs_result;

/* Extracts a reading from `obs`. `full_url` is the Bundle entry's fullUrl or NULL; `raw`,
 * `raw_len` are the bytes the resource was parsed from when the payload is exactly this one
 * resource (for a content hash without re-printing), else NULL. Never fails: problems end up
 * in res->d.invalid_reason. */
void bp_obs_extract(const cJSON *obs, const char *full_url, const char *raw, size_t raw_len,
                    bp_obs_result *res);

/* Points d's composed strings back at this result's own storage, after the result was moved
 * (the container walk keeps results in an array that grows). */
void bp_obs_rebase(bp_obs_result *res);

#endif
