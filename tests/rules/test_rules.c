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
    /* ESC/ESH 2018 at its boundaries (the higher category wins; ISH needs both values) */
    struct { double s, d; const char *cat; } esh[] = {
        {119, 79, "optimal"}, {120, 79, "normal"}, {119, 80, "normal"}, {129, 84, "normal"},
        {130, 84, "high_normal"}, {125, 85, "high_normal"}, {139, 89, "high_normal"},
        {140, 90, "grade_1"}, {135, 90, "grade_1"}, {159, 99, "grade_1"}, {160, 100, "grade_2"},
        {150, 100, "grade_2"}, {179, 109, "grade_2"}, {180, 110, "grade_3"}, {150, 110, "grade_3"},
        {140, 89, "isolated_systolic_hypertension"}, {185, 70, "isolated_systolic_hypertension"},
        {139.9, 89.9, "high_normal"}, {145, NAN, "grade_1"}, {NAN, 95, "grade_1"},
    };
    for (size_t i = 0; i < sizeof esh / sizeof esh[0]; i++) {
        fprintf(stderr, "esc/esh %g/%g\n", esh[i].s, esh[i].d);
        CHECK_STR(bp_scheme_category(BP_SCHEME_ESC_ESH_2018, esh[i].s, esh[i].d), esh[i].cat);
    }
    /* ESC 2024 */
    struct { double s, d; const char *cat; } esc[] = {
        {119, 69, "non_elevated"}, {120, 69, "elevated"}, {119, 70, "elevated"},
        {139, 89, "elevated"}, {140, 60, "hypertension"}, {110, 90, "hypertension"},
        {NAN, 65, "non_elevated"},
    };
    for (size_t i = 0; i < sizeof esc / sizeof esc[0]; i++)
        CHECK_STR(bp_scheme_category(BP_SCHEME_ESC_2024, esc[i].s, esc[i].d), esc[i].cat);
    CHECK(bp_scheme_category(BP_SCHEME_ESC_2024, NAN, NAN) == NULL);
    CHECK_STR(bp_scheme_category(BP_SCHEME_ACC_AHA_2017, 181, 80), "hypertensive_crisis");
    CHECK(bp_scheme_parse("esc_2024") == BP_SCHEME_ESC_2024 && bp_scheme_parse("who") == -1);

    /* NEWS2 bands, each edge */
    struct { double v; int score; } sys[] = {{90, 3}, {91, 2}, {100, 2}, {101, 1}, {110, 1},
                                             {111, 0}, {219, 0}, {220, 3}, {60, 3}};
    for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++)
        CHECK(bp_news2_systolic(sys[i].v) == sys[i].score);
    struct { double v; int score; } hr[] = {{40, 3}, {41, 1}, {50, 1}, {51, 0}, {90, 0}, {91, 1},
                                            {110, 1}, {111, 2}, {130, 2}, {131, 3}};
    for (size_t i = 0; i < sizeof hr / sizeof hr[0]; i++)
        CHECK(bp_news2_pulse(hr[i].v) == hr[i].score);
    CHECK(bp_news2_systolic(NAN) == -1 && bp_news2_pulse(NAN) == -1);
    return CHECK_DONE();
}
