/* The clinical rules of bppipe, in one place: thresholds that flag an anomaly, the ACC/AHA 2017
 * category of a reading, and a severity. detector-rules applies them; `bppipe train` labels
 * its training data with the same function, so the model learns exactly these rules. */
#ifndef BPPIPE_RULES_H
#define BPPIPE_RULES_H

#include <stdbool.h>

typedef struct bp_thresholds {
    double systolic_high;   /* anomaly when systolic > this (default 140) */
    double systolic_low;    /* anomaly when systolic < this (default 90) */
    double diastolic_high;  /* anomaly when diastolic > this (default 90) */
    double diastolic_low;   /* anomaly when diastolic < this (default 60) */
    double critical_systolic_high;  /* critical at or above (default 180, i.e. > 180 crisis) */
    double critical_systolic_low;   /* critical below (default 70) */
    double critical_diastolic_high; /* critical above (default 120) */
    double critical_diastolic_low;  /* critical below (default 40) */
} bp_thresholds;

/* Reason bits, in the order their codes are reported. */
enum {
    BP_R_HYPERTENSION_SYSTOLIC = 1 << 0,
    BP_R_HYPOTENSION_SYSTOLIC = 1 << 1,
    BP_R_HYPERTENSION_DIASTOLIC = 1 << 2,
    BP_R_HYPOTENSION_DIASTOLIC = 1 << 3
};

typedef enum bp_category {
    BP_CAT_UNKNOWN = 0, /* no value at all */
    BP_CAT_NORMAL,
    BP_CAT_HYPOTENSION,
    BP_CAT_ELEVATED,
    BP_CAT_STAGE_1,
    BP_CAT_STAGE_2,
    BP_CAT_CRISIS
} bp_category;

typedef struct bp_verdict {
    unsigned reasons;     /* BP_R_* bits */
    bp_category category;
    int severity;         /* 0 normal, 1 warning, 2 critical (matches bp_severity) */
} bp_verdict;

/* The original system's thresholds and this project's critical bounds. */
bp_thresholds bp_thresholds_default(void);

/* Judges one reading. NaN means "not measured": a reading is judged on the values it has.
 * Pure: no I/O, no allocation. */
bp_verdict bp_rules_judge(const bp_thresholds *t, double systolic, double diastolic);

/* True when the verdict flags an anomaly (any reason). This is the training label. */
bool bp_rules_is_anomaly(const bp_thresholds *t, double systolic, double diastolic);

/* Reason code of one BP_R_* bit, e.g. "hypertension_systolic". */
const char *bp_reason_code(unsigned bit);
/* "hypertension" if any hypertension reason, else "hypotension" if any, else "normal". */
const char *bp_anomaly_type(unsigned reasons);
/* "hypertensive_crisis", "hypertension_stage_2", ... ; NULL for BP_CAT_UNKNOWN. */
const char *bp_category_name(bp_category c);

/* Guideline schemes for the category of one reading. */
typedef enum bp_scheme {
    BP_SCHEME_ACC_AHA_2017 = 0, /* normal, elevated, stage 1, stage 2, crisis (+ hypotension) */
    BP_SCHEME_ESC_ESH_2018 = 1, /* optimal, normal, high normal, grade 1-3, isolated systolic */
    BP_SCHEME_ESC_2024 = 2      /* non-elevated, elevated, hypertension */
} bp_scheme;

/* "acc_aha_2017" | "esc_esh_2018" | "esc_2024" -> scheme; -1 when unknown. */
int bp_scheme_parse(const char *name);
const char *bp_scheme_name(bp_scheme s);

/* The category name of a reading under `scheme` (NULL when both values are absent). For ACC/AHA
 * this is bp_category_name(bp_rules_judge(...).category). Bands are half-open at their upper
 * bound, so decimal readings fall in exactly one; the higher category of the two values wins. */
const char *bp_scheme_category(bp_scheme scheme, double systolic, double diastolic);

/* Partial NEWS2 (Royal College of Physicians, 2017) sub-scores: systolic (<=90: 3, 91-100: 2,
 * 101-110: 1, 111-219: 0, >=220: 3) and pulse (<=40: 3, 41-50: 1, 51-90: 0, 91-110: 1,
 * 111-130: 2, >=131: 3). -1 when the value is absent. */
int bp_news2_systolic(double systolic);
int bp_news2_pulse(double heart_rate);

/* Checks the thresholds are ordered (low < high, critical bounds outside the anomaly ones);
 * returns NULL or a sentence saying what is wrong. */
const char *bp_thresholds_check(const bp_thresholds *t);

#endif
