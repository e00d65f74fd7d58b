#include "clinical/bp_rules.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

bp_thresholds bp_thresholds_default(void)
{
    bp_thresholds t = {
        .systolic_high = 140,
        .systolic_low = 90,
        .diastolic_high = 90,
        .diastolic_low = 60,
        .critical_systolic_high = 180,
        .critical_systolic_low = 70,
        .critical_diastolic_high = 120,
        .critical_diastolic_low = 40,
    };
    return t;
}

/* ACC/AHA 2017 bands for one value, with decimal readings placed by half-open intervals:
 * stage 1 systolic is 130 <= s < 140, so 139.6 is stage 1 and 140 is stage 2. Crisis is
 * strictly above 180 / 120 as the guideline states. */
static bp_category systolic_band(double s)
{
    if (s > 180)
        return BP_CAT_CRISIS;
    if (s >= 140)
        return BP_CAT_STAGE_2;
    if (s >= 130)
        return BP_CAT_STAGE_1;
    if (s >= 120)
        return BP_CAT_ELEVATED;
    return BP_CAT_NORMAL;
}

static bp_category diastolic_band(double d)
{
    if (d > 120)
        return BP_CAT_CRISIS;
    if (d >= 90)
        return BP_CAT_STAGE_2;
    if (d >= 80)
        return BP_CAT_STAGE_1;
    return BP_CAT_NORMAL; /* "elevated" is defined by systolic alone (120-129 and < 80) */
}

static bp_category category_of(double s, double d)
{
    bool has_s = !isnan(s), has_d = !isnan(d);
    if (!has_s && !has_d)
        return BP_CAT_UNKNOWN;
    bp_category cs = has_s ? systolic_band(s) : BP_CAT_NORMAL;
    bp_category cd = has_d ? diastolic_band(d) : BP_CAT_NORMAL;
    bp_category c = cs > cd ? cs : cd; /* the higher category wins */
    /* Hypotension outranks elevated and normal, but not any stage of hypertension. */
    if (c < BP_CAT_STAGE_1 && ((has_s && s < 90) || (has_d && d < 60)))
        c = BP_CAT_HYPOTENSION;
    /* With both values, "elevated" also needs diastolic < 80: the max above ensures that. A
     * diastolic-only reading is never "elevated", which ACC/AHA defines by systolic. */
    return c;
}

bp_verdict bp_rules_judge(const bp_thresholds *t, double s, double d)
{
    bp_verdict v = {0, category_of(s, d), 0};
    if (!isnan(s) && s > t->systolic_high)
        v.reasons |= BP_R_HYPERTENSION_SYSTOLIC;
    if (!isnan(s) && s < t->systolic_low)
        v.reasons |= BP_R_HYPOTENSION_SYSTOLIC;
    if (!isnan(d) && d > t->diastolic_high)
        v.reasons |= BP_R_HYPERTENSION_DIASTOLIC;
    if (!isnan(d) && d < t->diastolic_low)
        v.reasons |= BP_R_HYPOTENSION_DIASTOLIC;
    if (v.reasons)
        v.severity = 1;
    bool critical = v.category == BP_CAT_CRISIS ||
                    (!isnan(s) && (s > t->critical_systolic_high || s < t->critical_systolic_low)) ||
                    (!isnan(d) && (d > t->critical_diastolic_high || d < t->critical_diastolic_low));
    if (critical)
        v.severity = 2;
    return v;
}

bool bp_rules_is_anomaly(const bp_thresholds *t, double s, double d)
{
    return bp_rules_judge(t, s, d).reasons != 0;
}

const char *bp_reason_code(unsigned bit)
{
    switch (bit) {
    case BP_R_HYPERTENSION_SYSTOLIC: return "hypertension_systolic";
    case BP_R_HYPOTENSION_SYSTOLIC: return "hypotension_systolic";
    case BP_R_HYPERTENSION_DIASTOLIC: return "hypertension_diastolic";
    case BP_R_HYPOTENSION_DIASTOLIC: return "hypotension_diastolic";
    default: return NULL;
    }
}

const char *bp_anomaly_type(unsigned reasons)
{
    if (reasons & (BP_R_HYPERTENSION_SYSTOLIC | BP_R_HYPERTENSION_DIASTOLIC))
        return "hypertension";
    if (reasons & (BP_R_HYPOTENSION_SYSTOLIC | BP_R_HYPOTENSION_DIASTOLIC))
        return "hypotension";
    return "normal";
}

const char *bp_category_name(bp_category c)
{
    switch (c) {
    case BP_CAT_NORMAL: return "normal";
    case BP_CAT_HYPOTENSION: return "hypotension";
    case BP_CAT_ELEVATED: return "elevated";
    case BP_CAT_STAGE_1: return "hypertension_stage_1";
    case BP_CAT_STAGE_2: return "hypertension_stage_2";
    case BP_CAT_CRISIS: return "hypertensive_crisis";
    default: return NULL;
    }
}

const char *bp_thresholds_check(const bp_thresholds *t)
{
    if (!(t->systolic_low < t->systolic_high))
        return "systolic_low must be below systolic_high";
    if (!(t->diastolic_low < t->diastolic_high))
        return "diastolic_low must be below diastolic_high";
    if (!(t->critical_systolic_low <= t->systolic_low &&
          t->critical_systolic_high >= t->systolic_high))
        return "critical systolic bounds must lie outside systolic_low..systolic_high";
    if (!(t->critical_diastolic_low <= t->diastolic_low &&
          t->critical_diastolic_high >= t->diastolic_high))
        return "critical diastolic bounds must lie outside diastolic_low..diastolic_high";
    return NULL;
}

int bp_scheme_parse(const char *name)
{
    static const char *const names[] = {"acc_aha_2017", "esc_esh_2018", "esc_2024"};
    for (int i = 0; name && i < 3; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

const char *bp_scheme_name(bp_scheme s)
{
    return s == BP_SCHEME_ESC_ESH_2018 ? "esc_esh_2018"
           : s == BP_SCHEME_ESC_2024   ? "esc_2024"
                                       : "acc_aha_2017";
}

/* ESC/ESH 2018 office bands, ranked 0 (optimal) .. 5 (grade 3). */
static int esc2018_rank_sys(double s)
{
    return s >= 180 ? 5 : s >= 160 ? 4 : s >= 140 ? 3 : s >= 130 ? 2 : s >= 120 ? 1 : 0;
}

static int esc2018_rank_dia(double d)
{
    return d >= 110 ? 5 : d >= 100 ? 4 : d >= 90 ? 3 : d >= 85 ? 2 : d >= 80 ? 1 : 0;
}

static const char *esc2018(double s, double d)
{
    static const char *const names[] = {"optimal", "normal",  "high_normal",
                                        "grade_1", "grade_2", "grade_3"};
    bool has_s = !isnan(s), has_d = !isnan(d);
    /* Isolated systolic hypertension: systolic >= 140 with diastolic < 90 (both measured). */
    if (has_s && has_d && s >= 140 && d < 90)
        return "isolated_systolic_hypertension";
    int rs = has_s ? esc2018_rank_sys(s) : 0, rd = has_d ? esc2018_rank_dia(d) : 0;
    return names[rs > rd ? rs : rd];
}

static const char *esc2024(double s, double d)
{
    bool has_s = !isnan(s), has_d = !isnan(d);
    if ((has_s && s >= 140) || (has_d && d >= 90))
        return "hypertension";
    if ((has_s && s >= 120) || (has_d && d >= 70))
        return "elevated";
    return "non_elevated";
}

const char *bp_scheme_category(bp_scheme scheme, double s, double d)
{
    if (isnan(s) && isnan(d))
        return NULL;
    switch (scheme) {
    case BP_SCHEME_ESC_ESH_2018: return esc2018(s, d);
    case BP_SCHEME_ESC_2024: return esc2024(s, d);
    default: return bp_category_name(category_of(s, d));
    }
}

int bp_news2_systolic(double s)
{
    if (isnan(s))
        return -1;
    return s <= 90 ? 3 : s <= 100 ? 2 : s <= 110 ? 1 : s < 220 ? 0 : 3;
}

int bp_news2_pulse(double hr)
{
    if (isnan(hr))
        return -1;
    return hr <= 40 ? 3 : hr <= 50 ? 1 : hr <= 90 ? 0 : hr <= 110 ? 1 : hr <= 130 ? 2 : 3;
}
