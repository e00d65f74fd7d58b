/* detector-trend: the plugin shell around trend.c. It keeps no patient of its own: each
 * patient's history lives in the host's keyed state (ABI 1.5), read, judged and written back
 * per reading, so the host can keep it per input partition, checkpoint it with the source's
 * commits and restore it where the partition goes. With BP_CAP_REVISIONS (ABI 1.8) a correction
 * rewrites its reading in the history and a retraction removes it (trend.h, "revisions"). */
#include "trend.h"

#include <bppipe/plugin.h>

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(BP_TREND_KEY_MAX == BP_STATE_MAX_KEY, "a patient's key fits the host's bound");
_Static_assert(BP_TREND_HISTORY_MAX <= BP_STATE_MAX_VALUE, "a history fits the host's bound");

typedef struct det {
    const bp_host *host;
    bp_ctx *ctx;
    bp_trend_config cfg;
    int keep; /* revisable readings kept per patient */
    bool warned_limit, warned_refused, warned_put;
} det;

static const bp_option options[] = {
    BP_OPTION_INT("sustained_count", "3", 1, BP_TREND_MAX_SUSTAINED, 0,
                  "readings at stage 2 or above (or hypotensive) within window that flag"),
    BP_OPTION_DOUBLE("window", "1800", 1, 604800, 0, "sustained window, seconds"),
    BP_OPTION_DOUBLE("rapid_delta", "30", 1, 200, 0,
                     "systolic change from the previous reading that flags, mmHg"),
    BP_OPTION_DOUBLE("rapid_window", "900", 1, 86400, 0,
                     "the previous reading counts when at most this many seconds older"),
    BP_OPTION_INT("baseline_min", "10", 2, 100000, 0, "readings before the baseline is trusted"),
    BP_OPTION_DOUBLE("z_threshold", "3", 0.5, 20, 0, "|z| from the personal baseline that flags"),
    BP_OPTION_INT("max_patients", "100000", 1, 100000000, 0,
                  "patients kept per input partition; a new one beyond is judged without history"),
    BP_OPTION_INT("revisable", "8", 0, BP_TREND_MAX_REVISABLE, 0,
                  "a patient's latest readings with a logical id that a correction or retraction "
                  "still takes back exactly (32 bytes each in the state; 0: none)"),
    BP_OPTION_STRING("state_file", NULL, 0,
                     "history snapshot the host writes after commits and reads at start, unless "
                     "the source keeps the state (source-kafka); unset: none"),
};

static int trend_open(const bp_host *host, bp_ctx *ctx, void **state)
{
    if (!BP_HOST_HAS(host, state_open)) {
        host->log(ctx, BP_LOG_ERROR, "this bppipe has no keyed state (ABI 1.5): upgrade it");
        return BP_FATAL;
    }
    det *d = calloc(1, sizeof *d);
    if (!d)
        return BP_FATAL;
    d->host = host;
    d->ctx = ctx;
    bp_trend_config c = bp_trend_config_default();
    c.sustained_count = (int)host->opt_int(ctx, "sustained_count", c.sustained_count);
    c.window_ms = (int64_t)(host->opt_double(ctx, "window", 1800) * 1000);
    c.rapid_delta = host->opt_double(ctx, "rapid_delta", c.rapid_delta);
    c.rapid_window_ms = (int64_t)(host->opt_double(ctx, "rapid_window", 900) * 1000);
    c.baseline_min = (int)host->opt_int(ctx, "baseline_min", c.baseline_min);
    c.z_threshold = host->opt_double(ctx, "z_threshold", c.z_threshold);
    c.max_patients = (size_t)host->opt_int(ctx, "max_patients", (int64_t)c.max_patients);
    d->cfg = c;
    d->keep = (int)host->opt_int(ctx, "revisable", 8);
    /* The host reads the snapshot here (unless the source keeps the state), writes it after
     * commits, and logs what it restored or why it ignored a file. */
    int rc = host->state_open(ctx, BP_TREND_STATE_FORMAT, (uint64_t)c.max_patients,
                              host->opt_string(ctx, "state_file"));
    if (rc != BP_OK) {
        host->log(ctx, BP_LOG_ERROR, "cannot keep the patients' history (keyed state: %d)", rc);
        free(d);
        return BP_FATAL;
    }
    *state = d;
    return BP_OK;
}

static void trend_close(void *state)
{
    free(state);
}

/* The history of the patient keyed `key`, as the host holds it for `r`'s partition (a value
 * that is not this layout counts as none, warned once). *had says whether the host holds the
 * key at all; *raw_len is 0 unless `raw` holds the value `p` was decoded from. */
static void load(det *d, bp_record *r, const uint8_t *key, size_t key_len, bp_trend_history *p,
                 uint8_t *raw, size_t *raw_len, bool *had)
{
    const bp_host *h = d->host;
    *had = false;
    *raw_len = 0;
    int rc = h->state_get(d->ctx, r, key, key_len, raw, BP_TREND_HISTORY_MAX, raw_len);
    *had = rc == BP_OK || rc == BP_ENOMEM;
    if (rc == BP_OK && bp_trend_history_decode(&d->cfg, raw, *raw_len, p) == 0)
        return;
    bp_trend_history_init(p);
    *raw_len = 0;
    if (rc == BP_END)
        return;
    h->count(d->ctx, "state_refused", 1);
    if (!d->warned_refused) {
        d->warned_refused = true;
        h->log(d->ctx, BP_LOG_WARN,
               "a patient's stored history is not of this version's "
               "layout (%d): that patient starts again (counted as state_refused)",
               rc);
    }
}

/* Stores the new history unless it is what was read. */
static void store(det *d, bp_record *r, const uint8_t *key, size_t key_len,
                  const bp_trend_history *p, const uint8_t *raw, size_t raw_len, bool had)
{
    const bp_host *h = d->host;
    uint8_t value[BP_TREND_HISTORY_MAX];
    size_t len = bp_trend_history_encode(&d->cfg, p, value);
    if (len == raw_len && memcmp(value, raw, len) == 0)
        return;
    int rc = h->state_put(d->ctx, r, key, key_len, value, len);
    if (rc == BP_OK)
        return;
    if (!had && rc == BP_ENOMEM) {
        /* max_patients reached in this partition (or memory): judged without history */
        h->count(d->ctx, "patients_over_limit", 1);
        if (!d->warned_limit) {
            d->warned_limit = true;
            h->log(d->ctx, BP_LOG_WARN,
                   "max_patients = %zu reached in a partition: new patients "
                   "are judged without history (counted as patients_over_limit); raise it",
                   d->cfg.max_patients);
        }
        return;
    }
    h->count(d->ctx, "state_put_failed", 1);
    if (!d->warned_put) {
        d->warned_put = true;
        h->log(d->ctx, BP_LOG_WARN,
               "cannot store a patient's history (%d, out of memory?): "
               "that reading is not remembered (counted as state_put_failed)",
               rc);
    }
}

/* A retraction (revision "retract", no values): the reading leaves the patient's history. */
static void retract(det *d, bp_record *r, const char *patient, const char *logical_id)
{
    const bp_host *h = d->host;
    if (!patient || !logical_id) {
        h->count(d->ctx, "retractions_without_patient", 1); /* no history to look in */
        return;
    }
    uint8_t key[BP_TREND_KEY_MAX], raw[BP_TREND_HISTORY_MAX];
    size_t key_len = bp_trend_key(patient, key), raw_len;
    bp_trend_history p;
    bool had;
    load(d, r, key, key_len, &p, raw, &raw_len, &had);
    bp_trend_verdict unused;
    int found = bp_trend_history_revise(&d->cfg, d->keep, &p, BP_TREND_RETRACT,
                                        bp_trend_reading_id(logical_id), 0, NAN, NAN, &unused);
    h->count(d->ctx, found ? "revisions_applied" : "revisions_not_in_history", 1);
    if (found)
        store(d, r, key, key_len, &p, raw, raw_len, had);
}

static int trend_detect(void *state, bp_batch *batch)
{
    det *d = state;
    const bp_host *h = d->host;
    /* In order of precedence: the first reason found names the type of what trend flags. */
    static const struct {
        unsigned bit;
        const char *reason, *type;
    } reasons[] = {{BP_TREND_SUSTAINED_HYPER, "sustained_hypertension", "hypertension"},
                   {BP_TREND_SUSTAINED_HYPO, "sustained_hypotension", "hypotension"},
                   {BP_TREND_RAPID_UP, "rapid_change_up", "rapid_change"},
                   {BP_TREND_RAPID_DOWN, "rapid_change_down", "rapid_change"},
                   {BP_TREND_BASELINE, "baseline_deviation", "baseline_deviation"}};
    for (size_t i = 0; i < h->batch_count(batch); i++) {
        bp_record *r = h->batch_at(batch, i);
        const char *patient = h->text(r, BP_F_PATIENT_ID);
        const char *logical_id = h->text(r, BP_F_LOGICAL_ID);
        const char *revision = h->text(r, BP_F_REVISION);
        if (revision && strcmp(revision, "retract") == 0) {
            retract(d, r, patient, logical_id);
            continue;
        }
        double at = h->number(r, BP_F_EFFECTIVE_MS);
        if (!patient || isnan(at))
            continue;
        uint8_t key[BP_TREND_KEY_MAX], raw[BP_TREND_HISTORY_MAX];
        size_t key_len = bp_trend_key(patient, key), raw_len;
        bp_trend_history p;
        bool had;
        load(d, r, key, key_len, &p, raw, &raw_len, &had);
        bp_trend_verdict v;
        uint64_t id = logical_id ? bp_trend_reading_id(logical_id) : 0;
        double s = h->number(r, BP_F_SYSTOLIC), dia = h->number(r, BP_F_DIASTOLIC);
        if (id && revision && strcmp(revision, "replace") == 0) {
            int found = bp_trend_history_revise(&d->cfg, d->keep, &p, BP_TREND_REPLACE, id,
                                                (int64_t)at, s, dia, &v);
            h->count(d->ctx, found ? "revisions_applied" : "revisions_not_in_history", 1);
        } else {
            bp_trend_history_judge(&d->cfg, d->keep, &p, id, (int64_t)at, s, dia, &v);
        }
        store(d, r, key, key_len, &p, raw, raw_len, had);
        /* A type an earlier detector gave (detector-rules' clinical one) is kept; a reading
         * only trend flags gets trend's own, never "normal". */
        const char *had_type = h->text(r, BP_F_ANOMALY_TYPE);
        bool typed = had_type && strcmp(had_type, "normal") != 0 && strcmp(had_type, "other") != 0;
        const char *type = NULL;
        for (size_t k = 0; k < sizeof reasons / sizeof reasons[0]; k++) {
            if (!(v.reasons & reasons[k].bit))
                continue;
            h->flag(d->ctx, r, reasons[k].reason, BP_SEV_WARNING);
            if (!type)
                type = reasons[k].type;
        }
        if (type && !typed)
            h->set_text(d->ctx, r, BP_F_ANOMALY_TYPE, type);
        h->annotate_number(d->ctx, r, "trend_readings", v.readings);
        if (!isnan(v.z)) {
            h->annotate_number(d->ctx, r, "trend_z", v.z);
            h->annotate_number(d->ctx, r, "trend_baseline", v.baseline);
        }
        if (v.late)
            h->annotate_bool(d->ctx, r, "trend_late", 1);
    }
    return BP_OK;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = 8, /* keyed state (1.5), revisions (1.8) */
    .name = "detector-trend",
    .version = "2.1.0",
    .caps = BP_CAP_REVISIONS,
    .kind = BP_KIND_DETECTOR,
    .description = "per-patient history: sustained, rapid-change and baseline-deviation flags",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = trend_open,
    .close = trend_close,
    .detect = trend_detect,
};

BP_PLUGIN(descriptor)
