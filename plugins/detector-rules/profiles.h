/* Personalised thresholds: a CSV of patient_id and any of the threshold names, giving
 * per-patient overrides of detector-rules' thresholds. */
#ifndef BPPIPE_PROFILES_H
#define BPPIPE_PROFILES_H

#include "bp_rules.h"

#include <stddef.h>

typedef struct bp_profile {
    char *patient_id;
    bp_thresholds t; /* the defaults with this patient's overrides applied */
    int line;        /* where it was read */
} bp_profile;

typedef struct bp_profiles {
    bp_profile *items; /* sorted by patient_id */
    size_t n;
} bp_profiles;

/* Reads `path` (header: patient_id plus any of systolic_high, systolic_low, diastolic_high,
 * diastolic_low; empty cells keep the default from `base`). Every problem is reported in
 * `why` with its line number: unknown column, bad number, duplicate patient, thresholds out of
 * order. Returns 0, or -1 and leaves `out` empty. */
int bp_profiles_load(const char *path, const bp_thresholds *base, bp_profiles *out, char *why,
                     size_t why_len);
/* The patient's thresholds, or NULL when the patient has no profile. */
const bp_thresholds *bp_profiles_find(const bp_profiles *p, const char *patient_id);
void bp_profiles_free(bp_profiles *p);

#endif
