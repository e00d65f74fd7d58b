#include "pipeline/plausibility.h"

#include <math.h>
#include <stdio.h>

static int outside(const char *what, double v, double lo, double hi, char *why, size_t len)
{
    snprintf(why, len, "implausible_value: %s %g outside %g-%g mmHg", what, v, lo, hi);
    return -1;
}

int bp_plausibility_check(const bp_plausible *l, double s, double d, char *why, size_t len)
{
    if (!isnan(s) && (s < l->systolic_min || s > l->systolic_max))
        return outside("systolic", s, l->systolic_min, l->systolic_max, why, len);
    if (!isnan(d) && (d < l->diastolic_min || d > l->diastolic_max))
        return outside("diastolic", d, l->diastolic_min, l->diastolic_max, why, len);
    if (!isnan(s) && !isnan(d) && d >= s) {
        snprintf(why, len, "implausible_value: diastolic %g at or above systolic %g", d, s);
        return -1;
    }
    return 0;
}
