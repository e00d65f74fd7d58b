/* The plausibility gate: values no living patient's cuff can read, or a diastolic at or above
 * the systolic, are measurement errors. They go to the invalid route with a reason, before
 * any detector sees them, so they never raise an alarm. */
#ifndef BPPIPE_PLAUSIBILITY_H
#define BPPIPE_PLAUSIBILITY_H

#include <stddef.h>

typedef struct bp_plausible {
    double systolic_min, systolic_max;   /* inclusive, mmHg */
    double diastolic_min, diastolic_max; /* inclusive, mmHg */
} bp_plausible;

/* Returns 0 when the present values (NaN = absent) are plausible, else -1 with a reason such
 * as "implausible_value: systolic 350 outside 40-300 mmHg" in `why`. */
int bp_plausibility_check(const bp_plausible *limits, double systolic, double diastolic,
                          char *why, size_t why_len);

#endif
