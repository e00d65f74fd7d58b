/* detector-xgboost: scores every reading with a gradient-boosted tree model (or a random
 * forest) that Python's xgboost or `bppipe train --model gbtree` saved. The model's own feature
 * names pick its inputs from the vocabulary of lib/clinical/history.h; when one of them needs
 * the patient's history, the plugin keeps a small history per patient in the host's keyed
 * state (as detector-trend does). One prediction call per batch. Without a usable model (none,
 * or a damaged file) and required = false, the pipeline runs without it, with one warning;
 * SIGHUP reads the file again and keeps the old model when the new one does not load. */
#include "clinical/history.h"
#include "gbtree/gbtree.h"

#include <bppipe/plugin.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(BP_HIST_KEY_MAX <= BP_STATE_MAX_KEY, "a patient's key fits the host's bound");
_Static_assert(BP_HIST_LOG_MAX <= BP_STATE_MAX_VALUE, "a history fits the host's bound");

typedef struct det {
    const bp_host *host;
    bp_ctx *ctx;
    bp_gbt model;
    bool have_model, vote, keep_history, warned_state, annotate_features;
    double threshold;
    int keep; /* revisable readings kept per patient (issue 26) */
    char *path;
    const char *features; /* the `features` option, or NULL: the model's own names */
    unsigned reloads;
    /* per batch, grown as needed */
    float *rows, *scores;
    size_t *at; /* record index of each row */
    size_t cap;
} det;

static const bp_option options[] = {
    BP_OPTION_STRING("model", NULL, BP_OPT_REQUIRED,
                     "XGBoost model file, JSON or UBJSON (relative to the working directory)"),
    BP_OPTION_DOUBLE("threshold", NULL, 0.000001, 0.999999, 0,
                     "probability at which xgb_prediction is 1 (default: the model's attribute "
                     "'threshold', else 0.5)"),
    BP_OPTION_BOOL(
        "required", "false",
        "fail when the model file is missing or unusable (false: warn once, score nothing)"),
    BP_OPTION_ENUM("vote", "flag", "flag|score",
                   "flag: a probability at or above threshold flags xgb_high_risk; score: only "
                   "annotate"),
    BP_OPTION_STRING("features", NULL, 0,
                     "comma-separated vocabulary names of the model's inputs, for a model saved "
                     "without feature names (default: the model's own names)"),
    BP_OPTION_BOOL("annotate_features", "false",
                   "also annotate each model input as xgb_feature.NAME (a missing one is left "
                   "out): the archive then holds the rows the model saw, for retraining"),
    BP_OPTION_INT("max_patients", "100000", 1, 100000000, 0,
                  "patients whose history is kept per input partition"),
    BP_OPTION_INT("revisable", "8", 0, BP_HIST_MAX_REVISABLE, 0,
                  "a patient's latest readings with a logical id that a correction or retraction "
                  "still takes back exactly (32 bytes each in the stored history; 0: none)"),
    BP_OPTION_STRING("state_file", NULL, 0,
                     "history snapshot the host writes after commits and reads at start, unless "
                     "the source keeps the state; unset: none"),
};

static void describe(det *d, const char *verb)
{
    const bp_gbt *m = &d->model;
    char list[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < m->n_features && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? "," : "",
                                bp_feat_name(m->feat[i]));
    d->host->log(d->ctx, BP_LOG_INFO,
                 "model %s%s: %s version %s, %d rounds x %d trees on %s, threshold %g", d->path,
                 verb, m->name, m->version, m->rounds, m->trees_per_round, list, d->threshold);
}

static int xgb_open(const bp_host *host, bp_ctx *ctx, void **state)
{
    det *d = calloc(1, sizeof *d);
    if (!d || !(d->path = strdup(host->opt_string(ctx, "model")))) {
        free(d);
        return BP_FATAL;
    }
    d->host = host;
    d->ctx = ctx;
    d->features = host->opt_string(ctx, "features");
    d->annotate_features = host->opt_bool(ctx, "annotate_features", 0);
    const char *vote = host->opt_string(ctx, "vote");
    d->vote = !vote || strcmp(vote, "flag") == 0;
    char why[512];
    bool missing = access(d->path, F_OK) != 0 && errno == ENOENT;
    if (!missing && bp_gbt_load(d->path, d->features, &d->model, why, sizeof why) == 0) {
        d->have_model = true;
        d->threshold = host->opt_double(ctx, "threshold", d->model.threshold);
        describe(d, "");
    } else if (missing && !host->opt_bool(ctx, "required", 0)) {
        host->log(ctx, BP_LOG_WARN,
                  "no model at %s: running without tree scores (train one "
                  "with 'bppipe train --model gbtree --out %s', or set required = true to make "
                  "this an error)",
                  d->path, d->path);
    } else if (!host->opt_bool(ctx, "required", 0)) {
        /* A damaged file must not stop a ward's rules: it runs without the model, as when
         * there is none, and a SIGHUP after the file is mended takes it. */
        host->log(ctx, BP_LOG_WARN,
                  "model %s: %s; running without tree scores (mend or retrain it and send "
                  "SIGHUP, or set required = true to make this an error)",
                  d->path, why);
    } else {
        if (missing)
            snprintf(why, sizeof why, "no such file, and required = true");
        host->log(ctx, BP_LOG_ERROR, "model %s: %s", d->path, why);
        free(d->path);
        free(d);
        return BP_FATAL;
    }
    /* The history is kept whatever the model needs now: a model that needs it may come with
     * a reload, and it then finds the patients' courses already there. */
    d->keep_history = BP_HOST_HAS(host, state_open);
    d->keep = (int)host->opt_int(ctx, "revisable", 8);
    if (d->keep_history &&
        host->state_open(ctx, BP_HIST_FORMAT, (uint64_t)host->opt_int(ctx, "max_patients", 100000),
                         host->opt_string(ctx, "state_file")) != BP_OK) {
        host->log(ctx, BP_LOG_ERROR, "cannot keep the patients' history (keyed state)");
        bp_gbt_free(&d->model);
        free(d->path);
        free(d);
        return BP_FATAL;
    }
    if (!d->keep_history && d->have_model && d->model.uses_history)
        host->log(ctx, BP_LOG_WARN,
                  "this bppipe has no keyed state (ABI 1.5): history features "
                  "are missing for every reading; upgrade bppipe");
    *state = d;
    return BP_OK;
}

static void xgb_close(void *state)
{
    det *d = state;
    bp_gbt_free(&d->model);
    free(d->rows);
    free(d->scores);
    free(d->at);
    free(d->path);
    free(d);
}

static int xgb_reload(void *state)
{
    det *d = state;
    bp_gbt fresh;
    char why[512];
    if (bp_gbt_load(d->path, d->features, &fresh, why, sizeof why) != 0) {
        d->host->log(d->ctx, BP_LOG_ERROR, "model %s not reloaded (SIGHUP %u): %s; %s", d->path,
                     ++d->reloads, why,
                     d->have_model ? "the previous model stays"
                                   : "still running without tree "
                                     "scores");
        return BP_RETRY;
    }
    bp_gbt_free(&d->model);
    d->model = fresh;
    d->have_model = true;
    d->threshold = d->host->opt_double(d->ctx, "threshold", fresh.threshold);
    char verb[64];
    snprintf(verb, sizeof verb, " reloaded (SIGHUP %u)", ++d->reloads);
    describe(d, verb);
    return BP_OK;
}

static int grow(det *d, size_t n)
{
    if (n <= d->cap)
        return 0;
    size_t cap = n < 256 ? 256 : n;
    float *rows = realloc(d->rows, cap * BP_FEAT_N * sizeof *rows);
    if (rows)
        d->rows = rows;
    float *scores = realloc(d->scores, cap * sizeof *scores);
    if (scores)
        d->scores = scores;
    size_t *at = realloc(d->at, cap * sizeof *at);
    if (at)
        d->at = at;
    if (!rows || !scores || !at)
        return -1;
    d->cap = cap;
    return 0;
}

/* The patient's history before `r` (for a correction: before the corrected reading's place),
 * and the history with `r` folded in (a retraction: taken out) stored back. */
static void history(det *d, bp_record *r, double at, double s, double dia, bp_history *h)
{
    const bp_host *host = d->host;
    bp_hist_init(h);
    const char *patient = host->text(r, BP_F_PATIENT_ID);
    const char *logical_id = host->text(r, BP_F_LOGICAL_ID);
    const char *revision = host->text(r, BP_F_REVISION);
    bool retract = revision && strcmp(revision, "retract") == 0;
    bool replace = revision && strcmp(revision, "replace") == 0 && logical_id;
    if (!d->keep_history || !patient || (isnan(at) && !retract) || (retract && !logical_id))
        return;
    uint8_t key[BP_HIST_KEY_MAX], raw[BP_HIST_LOG_MAX];
    size_t key_len = bp_hist_key(patient, key), len = 0;
    int rc = host->state_get(d->ctx, r, key, key_len, raw, sizeof raw, &len);
    bp_hist_log log;
    bp_hist_log_init(&log);
    if (rc == BP_OK && bp_hist_log_decode(raw, len, &log) != 0) {
        host->count(d->ctx, "state_refused", 1);
        bp_hist_log_init(&log);
    }
    size_t old_len = rc == BP_OK ? len : 0;
    uint64_t id = logical_id ? bp_hist_reading_id(logical_id) : 0;
    int64_t at_ms = isnan(at) ? 0 : (int64_t)at; /* a retraction has no time */
    if (retract || replace) {
        int found = bp_hist_log_revise(&log, d->keep, retract, id, at_ms, s, dia, h);
        host->count(d->ctx, found ? "revisions_applied" : "revisions_not_in_history", 1);
    } else {
        *h = log.now;
        bp_hist_log_add(&log, d->keep, id, at_ms, s, dia);
    }
    if (rc != BP_OK && log.n == 0 && log.now.n == 0)
        return; /* a new patient's reading that could not be folded: nothing to keep yet */
    uint8_t value[BP_HIST_LOG_MAX];
    len = bp_hist_log_encode(&log, value);
    if (len == old_len && memcmp(value, raw, len) == 0)
        return; /* unchanged (a late reading, a retraction of nothing) */
    rc = host->state_put(d->ctx, r, key, key_len, value, len);
    if (rc != BP_OK) {
        host->count(d->ctx, "state_put_failed", 1);
        if (!d->warned_state) {
            d->warned_state = true;
            host->log(d->ctx, BP_LOG_WARN,
                      "cannot store a patient's history (%d: max_patients "
                      "reached, or out of memory): that reading is not remembered (counted as "
                      "state_put_failed)",
                      rc);
        }
    }
}

static int xgb_detect(void *state, bp_batch *batch)
{
    det *d = state;
    const bp_host *h = d->host;
    size_t count = h->batch_count(batch), n = 0;
    if (grow(d, count) != 0)
        return BP_RETRY;
    /* Features first, in batch order, so a patient's two readings in one batch see each other;
     * then one prediction for the whole batch. */
    for (size_t i = 0; i < count; i++) {
        bp_record *r = h->batch_at(batch, i);
        double s = h->number(r, BP_F_SYSTOLIC), dia = h->number(r, BP_F_DIASTOLIC);
        double at = h->number(r, BP_F_EFFECTIVE_MS);
        bp_history hist;
        history(d, r, at, s, dia, &hist);
        if (!d->have_model || isnan(s) || isnan(dia))
            continue; /* a reading without both pressures is not scored */
        double all[BP_FEAT_N];
        bp_hist_features(&hist, (int64_t)at, s, dia, h->number(r, BP_F_HEART_RATE), all);
        bp_gbt_row(&d->model, all, d->rows + n * d->model.n_features);
        d->at[n++] = i;
        for (size_t k = 0; d->annotate_features && k < d->model.n_features; k++) {
            char key[64];
            snprintf(key, sizeof key, "xgb_feature.%s", bp_feat_name(d->model.feat[k]));
            h->annotate_number(d->ctx, r, key, all[d->model.feat[k]]); /* NaN: left out */
        }
    }
    if (n == 0)
        return BP_OK;
    char why[256];
    if (bp_gbt_predict(&d->model, d->rows, n, d->scores, why, sizeof why) != 0) {
        h->log(d->ctx, BP_LOG_ERROR, "model %s: %s; this batch is not scored", d->path, why);
        h->count(d->ctx, "predict_failed", (double)n);
        return BP_OK;
    }
    for (size_t j = 0; j < n; j++) {
        bp_record *r = h->batch_at(batch, d->at[j]);
        double p = d->scores[j];
        int predicted = p >= d->threshold;
        h->annotate_number(d->ctx, r, "xgb_risk_score", p);
        h->annotate_number(d->ctx, r, "xgb_prediction", predicted);
        h->annotate_text(d->ctx, r, "xgb_model", d->model.name);
        h->annotate_text(d->ctx, r, "xgb_model_version", d->model.version);
        if (predicted && d->vote)
            h->flag(d->ctx, r, "xgb_high_risk", BP_SEV_WARNING);
    }
    return BP_OK;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = 8, /* keyed state (1.5), revisions (1.8) */
    .name = "detector-xgboost",
    .version = "1.1.0",
    .caps = BP_CAP_REVISIONS,
    .kind = BP_KIND_DETECTOR,
    .description = "gradient-boosted trees / random forests (XGBoost) on the reading and the "
                   "patient's history (xgb_risk_score)",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = xgb_open,
    .close = xgb_close,
    .detect = xgb_detect,
    .reload = xgb_reload,
};

BP_PLUGIN(descriptor)
