/* The clinical rules at and around every boundary, table-driven. */
#include "bp_rules.h"
#include "check.h"

#include <math.h>

typedef struct row {
    double s, d;
    const char *reasons; /* codes joined by ',' */
    const char *type, *category;
    int severity;
} row;

static const row rows[] = {
    /* systolic 140/141: > 140 flags; 140 is already stage 2 */
    {140, 70, "", "normal", "hypertension_stage_2", 0},
    {141, 70, "hypertension_systolic", "hypertension", "hypertension_stage_2", 1},
    {139, 70, "", "normal", "hypertension_stage_1", 0},
    {139.6, 70, "", "normal", "hypertension_stage_1", 0},
    /* systolic 89/90: < 90 flags */
    {90, 70, "", "normal", "normal", 0},
    {89, 70, "hypotension_systolic", "hypotension", "hypotension", 1},
    /* diastolic 90/91: > 90 flags; 90 is stage 2 */
    {115, 90, "", "normal", "hypertension_stage_2", 0},
    {115, 91, "hypertension_diastolic", "hypertension", "hypertension_stage_2", 1},
    {115, 89, "", "normal", "hypertension_stage_1", 0},
    /* diastolic 59/60: < 60 flags */
    {115, 60, "", "normal", "normal", 0},
    {115, 59, "hypotension_diastolic", "hypotension", "hypotension", 1},
    /* 120 and 130 systolic: elevated and stage 1 */
    {119, 79, "", "normal", "normal", 0},
    {120, 79, "", "normal", "elevated", 0},
    {129, 79, "", "normal", "elevated", 0},
    {120, 80, "", "normal", "hypertension_stage_1", 0}, /* elevated needs diastolic < 80 */
    {130, 70, "", "normal", "hypertension_stage_1", 0},
    /* crisis: systolic 180/181, diastolic 120/121 */
    {180, 100, "hypertension_systolic,hypertension_diastolic", "hypertension",
     "hypertension_stage_2", 1},
    {181, 100, "hypertension_systolic,hypertension_diastolic", "hypertension",
     "hypertensive_crisis", 2},
    {150, 120, "hypertension_systolic,hypertension_diastolic", "hypertension",
     "hypertension_stage_2", 1},
    {150, 121, "hypertension_systolic,hypertension_diastolic", "hypertension",
     "hypertensive_crisis", 2},
    /* the higher category wins; hypertension outranks hypotension in the anomaly type */
    {85, 95, "hypotension_systolic,hypertension_diastolic", "hypertension",
     "hypertension_stage_2", 1},
    {125, 55, "hypotension_diastolic", "hypotension", "hypotension", 1},
    /* critical low bounds */
    {69, 50, "hypotension_systolic,hypotension_diastolic", "hypotension", "hypotension", 2},
    {75, 39, "hypotension_systolic,hypotension_diastolic", "hypotension", "hypotension", 2},
    /* one value: judged on that value */
    {NAN, 95, "hypertension_diastolic", "hypertension", "hypertension_stage_2", 1},
    {150, NAN, "hypertension_systolic", "hypertension", "hypertension_stage_2", 1},
    {125, NAN, "", "normal", "elevated", 0},
    {NAN, 85, "", "normal", "hypertension_stage_1", 0},
    {NAN, 55, "hypotension_diastolic", "hypotension", "hypotension", 1},
};

static void reasons_text(unsigned bits, char *out, size_t len)
{
    out[0] = '\0';
    for (unsigned b = 1; b <= BP_R_HYPOTENSION_DIASTOLIC; b <<= 1) {
        if (!(bits & b))
            continue;
        if (out[0])
            strncat(out, ",", len - strlen(out) - 1);
        strncat(out, bp_reason_code(b), len - strlen(out) - 1);
    }
}

int main(void)
{
    bp_thresholds t = bp_thresholds_default();
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const row *r = &rows[i];
        bp_verdict v = bp_rules_judge(&t, r->s, r->d);
        char got[200];
        reasons_text(v.reasons, got, sizeof got);
        fprintf(stderr, "row %zu: %g/%g\n", i, r->s, r->d);
        CHECK_STR(got, r->reasons);
        CHECK_STR(bp_anomaly_type(v.reasons), r->type);
        CHECK_STR(bp_category_name(v.category), r->category);
        CHECK(v.severity == r->severity);
        CHECK(bp_rules_is_anomaly(&t, r->s, r->d) == (r->reasons[0] != '\0'));
    }
    /* no value at all: no verdict, no category */
    bp_verdict none = bp_rules_judge(&t, NAN, NAN);
    CHECK(none.reasons == 0 && bp_category_name(none.category) == NULL);

    /* custom thresholds move the flags, not the guideline categories */
    bp_thresholds c = t;
    c.systolic_high = 130;
    bp_verdict v = bp_rules_judge(&c, 135, 70);
    CHECK(v.reasons == BP_R_HYPERTENSION_SYSTOLIC);
    CHECK_STR(bp_category_name(v.category), "hypertension_stage_1");

    /* inconsistent thresholds are refused with a reason */
    CHECK(bp_thresholds_check(&t) == NULL);
    c = t;
    c.systolic_low = 150;
    CHECK_CONTAINS(bp_thresholds_check(&c), "systolic_low must be below systolic_high");
    c = t;
    c.critical_diastolic_high = 100;
    c.diastolic_high = 110;
    CHECK(bp_thresholds_check(&c) != NULL);
    return CHECK_DONE();
}
