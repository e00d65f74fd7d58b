/* Personalised thresholds: a CSV of patient_id and any of the threshold names, giving
 * per-patient overrides of detector-rules' thresholds. */
#ifndef BPPIPE_PROFILES_H
#define BPPIPE_PROFILES_H

#include "clinical/bp_rules.h"

#include <stddef.h>

typedef struct bp_profile {
    char *patient_id;
    bp_thresholds t; /* the defaults with this patient's overrides applied */
    int line;        /* where it was read (the line its record starts on) */
    int matched;     /* some reading was judged with it */
} bp_profile;

typedef struct bp_profiles {
    bp_profile *items; /* sorted by patient_id */
    size_t n;
} bp_profiles;

/* Reads `path`, a CSV as RFC 4180 and spreadsheets write it (csv.h: quoted or not, CRLF or
 * LF, a BOM, spaces after commas); header: patient_id plus any of systolic_high,
 * systolic_low, diastolic_high, diastolic_low; empty cells keep the default from `base`.
 * Every problem is reported in `why` as "path:line: ...": malformed CSV (an unterminated
 * quote, a stray quote), a row with the wrong number of cells, unknown or repeated column,
 * bad number, duplicate patient, thresholds out of order. Returns 0, or -1 and leaves `out`
 * empty. */
int bp_profiles_load(const char *path, const bp_thresholds *base, bp_profiles *out, char *why,
                     size_t why_len);
/* The patient's thresholds, or NULL when the patient has no profile; a profile found is
 * marked as matched. */
const bp_thresholds *bp_profiles_find(bp_profiles *p, const char *patient_id);
/* Marks the profiles of `fresh` whose patient matched in `old` (a reload keeps what the run
 * has seen). */
void bp_profiles_carry_matches(bp_profiles *fresh, const bp_profiles *old);
/* How many profiles matched no reading; the first `max` of them in file order go to
 * `first` (which has room for `max`). */
size_t bp_profiles_unmatched(const bp_profiles *p, const bp_profile **first, size_t max);
void bp_profiles_free(bp_profiles *p);

#endif
