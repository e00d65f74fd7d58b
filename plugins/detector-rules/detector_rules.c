/* detector-rules: the plugin shell around bp_rules.c. */
#include "clinical/bp_rules.h"
#include "clinical/profiles.h"

#include <bppipe/plugin.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rules {
    const bp_host *host;
    bp_ctx *ctx;
    bp_thresholds t;
    bp_scheme scheme;
    const char *profiles_path; /* NULL: no personalised thresholds */
    bp_profiles profiles;
    unsigned long long judged; /* readings judged: no warning about profiles when none were */
} rules;

static const bp_option options[] = {
    BP_OPTION_ENUM("scheme", "acc_aha_2017", "acc_aha_2017|esc_esh_2018|esc_2024",
                   "guideline used for bp_category (docs/clinical.md)"),
    BP_OPTION_DOUBLE("systolic_high", "140", 0, 400, 0, "anomaly when systolic is above this"),
    BP_OPTION_DOUBLE("systolic_low", "90", 0, 400, 0, "anomaly when systolic is below this"),
    BP_OPTION_DOUBLE("diastolic_high", "90", 0, 300, 0, "anomaly when diastolic is above this"),
    BP_OPTION_DOUBLE("diastolic_low", "60", 0, 300, 0, "anomaly when diastolic is below this"),
    BP_OPTION_DOUBLE("critical_systolic_high", "180", 0, 400, 0,
                     "severity critical when systolic is above this"),
    BP_OPTION_DOUBLE("critical_systolic_low", "70", 0, 400, 0,
                     "severity critical when systolic is below this"),
    BP_OPTION_DOUBLE("critical_diastolic_high", "120", 0, 300, 0,
                     "severity critical when diastolic is above this"),
    BP_OPTION_DOUBLE("critical_diastolic_low", "40", 0, 300, 0,
                     "severity critical when diastolic is below this"),
    BP_OPTION_STRING("profiles", NULL, 0,
                     "CSV of per-patient thresholds (patient_id,systolic_high,...); re-read on "
                     "SIGHUP"),
};

static int rules_open(const bp_host *host, bp_ctx *ctx, void **state)
{
    rules *r = calloc(1, sizeof *r);
    if (!r)
        return BP_FATAL;
    r->host = host;
    r->ctx = ctx;
    bp_thresholds d = bp_thresholds_default();
    r->t.systolic_high = host->opt_double(ctx, "systolic_high", d.systolic_high);
    r->t.systolic_low = host->opt_double(ctx, "systolic_low", d.systolic_low);
    r->t.diastolic_high = host->opt_double(ctx, "diastolic_high", d.diastolic_high);
    r->t.diastolic_low = host->opt_double(ctx, "diastolic_low", d.diastolic_low);
    r->t.critical_systolic_high =
        host->opt_double(ctx, "critical_systolic_high", d.critical_systolic_high);
    r->t.critical_systolic_low =
        host->opt_double(ctx, "critical_systolic_low", d.critical_systolic_low);
    r->t.critical_diastolic_high =
        host->opt_double(ctx, "critical_diastolic_high", d.critical_diastolic_high);
    r->t.critical_diastolic_low =
        host->opt_double(ctx, "critical_diastolic_low", d.critical_diastolic_low);
    r->scheme = (bp_scheme)bp_scheme_parse(host->opt_string(ctx, "scheme"));
    const char *problem = bp_thresholds_check(&r->t);
    if (problem) {
        host->log(ctx, BP_LOG_ERROR, "inconsistent thresholds: %s; fix the section's values",
                  problem);
        free(r);
        return BP_FATAL;
    }
    r->profiles_path = host->opt_string(ctx, "profiles");
    char why[512];
    if (r->profiles_path &&
        bp_profiles_load(r->profiles_path, &r->t, &r->profiles, why, sizeof why) != 0) {
        host->log(ctx, BP_LOG_ERROR, "profiles: %s", why);
        free(r);
        return BP_FATAL;
    }
    if (r->profiles_path)
        host->log(ctx, BP_LOG_INFO, "%zu patient profiles from %s", r->profiles.n,
                  r->profiles_path);
    *state = r;
    return BP_OK;
}

/* A profile whose patient_id never matched a reading is usually a typo or a different id
 * scheme (a prefix, spaces, case), and its patient is quietly judged by the defaults. The
 * warning gives the count and the first lines, which locate the profiles in the file and
 * are not patient data. The ids are pseudonymous, but a pseudonym still singles out one
 * patient (it is personal data in GDPR's sense), and plugin.h allows patient data only at
 * BP_LOG_DEBUG: so the first 3 ids go at DEBUG, where an operator who asks for them sees
 * them, and never into the WARN line that monitoring collects. */
static void report_unmatched(rules *r)
{
    if (!r->profiles_path || !r->judged)
        return;
    const bp_profile *first[3];
    size_t max = sizeof first / sizeof first[0];
    size_t n = bp_profiles_unmatched(&r->profiles, first, max);
    if (!n)
        return;
    size_t shown = n < max ? n : max;
    char lines[64] = "", ids[3 * 64 + 16] = "";
    for (size_t i = 0; i < shown; i++) {
        size_t used = strlen(lines);
        snprintf(lines + used, sizeof lines - used, "%s%d", i ? ", " : "", first[i]->line);
        used = strlen(ids);
        snprintf(ids + used, sizeof ids - used, "%s'%.48s'", i ? ", " : "",
                 first[i]->patient_id);
    }
    r->host->log(r->ctx, BP_LOG_WARN,
                 "%zu of %zu patient profiles in %s matched no reading (line%s %s%s): their "
                 "patients, if any, were judged by the default thresholds; check that the ids "
                 "are written as the readings' patient_id (log_level = debug shows them)",
                 n, r->profiles.n, r->profiles_path, shown > 1 ? "s" : "", lines,
                 n > shown ? ", ..." : "");
    r->host->log(r->ctx, BP_LOG_DEBUG, "profiles that matched no reading: %s%s", ids,
                 n > shown ? ", ..." : "");
}

static void rules_close(void *state)
{
    rules *r = state;
    report_unmatched(r);
    bp_profiles_free(&r->profiles);
    free(r);
}

/* SIGHUP: a new profiles file replaces the old one only when all of it is valid. */
static int rules_reload(void *state)
{
    rules *r = state;
    if (!r->profiles_path)
        return BP_OK;
    bp_profiles fresh;
    char why[512];
    if (bp_profiles_load(r->profiles_path, &r->t, &fresh, why, sizeof why) != 0) {
        r->host->log(r->ctx, BP_LOG_ERROR, "profiles not reloaded: %s", why);
        return BP_RETRY;
    }
    bp_profiles_carry_matches(&fresh, &r->profiles);
    bp_profiles_free(&r->profiles);
    r->profiles = fresh;
    r->host->log(r->ctx, BP_LOG_INFO, "%zu patient profiles reloaded", fresh.n);
    return BP_OK;
}

static int rules_detect(void *state, bp_batch *batch)
{
    rules *r = state;
    const bp_host *h = r->host;
    for (size_t i = 0; i < h->batch_count(batch); i++) {
        bp_record *rec = h->batch_at(batch, i);
        if (h->text(rec, BP_F_INVALID_REASON))
            continue;
        double s = h->number(rec, BP_F_SYSTOLIC), d = h->number(rec, BP_F_DIASTOLIC);
        r->judged++;
        const bp_thresholds *own = bp_profiles_find(&r->profiles, h->text(rec, BP_F_PATIENT_ID));
        bp_verdict v = bp_rules_judge(own ? own : &r->t, s, d);
        h->annotate_text(r->ctx, rec, "thresholds", own ? "profile" : "default");
        for (unsigned bit = 1; bit <= BP_R_HYPOTENSION_DIASTOLIC; bit <<= 1)
            if (v.reasons & bit)
                h->flag(r->ctx, rec, bp_reason_code(bit), (bp_severity)v.severity);
        h->raise_severity(r->ctx, rec, (bp_severity)v.severity);
        h->set_text(r->ctx, rec, BP_F_ANOMALY_TYPE, bp_anomaly_type(v.reasons));
        const char *category = bp_scheme_category(r->scheme, s, d);
        if (category) {
            h->set_text(r->ctx, rec, BP_F_CATEGORY, category);
            h->annotate_text(r->ctx, rec, "bp_scheme", bp_scheme_name(r->scheme));
        }
        /* NEWS2 needs more than blood pressure; these sub-scores are labelled partial. */
        int news_sys = bp_news2_systolic(s), news_pulse = bp_news2_pulse(h->number(rec, BP_F_HEART_RATE));
        if (news_sys >= 0)
            h->annotate_number(r->ctx, rec, "news2_systolic", news_sys);
        if (news_pulse >= 0)
            h->annotate_number(r->ctx, rec, "news2_pulse", news_pulse);
        if (news_sys >= 0 || news_pulse >= 0)
            h->annotate_bool(r->ctx, rec, "news2_partial", 1);
    }
    return BP_OK;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = "detector-rules",
    .version = "1.0.0",
    .kind = BP_KIND_DETECTOR,
    .description = "clinical thresholds, ACC/AHA 2017 category and severity",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = rules_open,
    .close = rules_close,
    .detect = rules_detect,
    .reload = rules_reload,
};

BP_PLUGIN(descriptor)
