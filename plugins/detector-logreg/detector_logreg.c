/* detector-logreg: scores every reading with both values with the logistic-regression model
 * that `bppipe train` wrote. Without a usable model (none, or a damaged file) and required =
 * false, the pipeline runs on the other detectors alone, as the original system promised.
 * SIGHUP reads the model file again: a model that loads replaces the old one, a broken one is
 * refused and the old one stays. */
#include "clinical/logreg.h"

#include <bppipe/plugin.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct det {
    const bp_host *host;
    bp_ctx *ctx;
    bp_lr_model model;
    bool have_model, vote;
    double threshold;
    char *path;
    unsigned reloads; /* numbers the reload lines, which the host would merge if identical */
} det;

static const bp_option options[] = {
    BP_OPTION_STRING("model", NULL, BP_OPT_REQUIRED,
                     "model file written by 'bppipe train' (relative to the working directory)"),
    BP_OPTION_DOUBLE("threshold", NULL, 0.000001, 0.999999, 0,
                     "probability at which ml_prediction is 1 (default: the model's)"),
    BP_OPTION_BOOL(
        "required", "false",
        "fail when the model file is missing or unusable (false: warn once, score nothing)"),
    BP_OPTION_ENUM("vote", "score", "flag|score",
                   "flag: a probability at or above threshold flags ml_high_risk; score: only "
                   "annotate"),
};

static int lr_open(const bp_host *host, bp_ctx *ctx, void **state)
{
    det *d = calloc(1, sizeof *d);
    if (!d)
        return BP_FATAL;
    d->host = host;
    d->ctx = ctx;
    const char *path = host->opt_string(ctx, "model");
    if (!(d->path = strdup(path))) {
        free(d);
        return BP_FATAL;
    }
    const char *vote = host->opt_string(ctx, "vote");
    d->vote = vote && strcmp(vote, "flag") == 0;
    char why[512];
    bool missing = access(path, F_OK) != 0 && errno == ENOENT;
    if (!missing && bp_lr_load(path, &d->model, why, sizeof why) == 0) {
        d->have_model = true;
        d->threshold = host->opt_double(ctx, "threshold", d->model.threshold);
        host->log(ctx, BP_LOG_INFO, "model %s: %s features, threshold %g", path,
                  bp_lr_feature_set_name(d->model.features), d->threshold);
    } else if (missing && !host->opt_bool(ctx, "required", 0)) {
        host->log(ctx, BP_LOG_WARN,
                  "no model at %s: running without ML scores (train one with "
                  "'bppipe train --out %s', or set required = true to make this an error)",
                  path, path);
    } else if (!host->opt_bool(ctx, "required", 0)) {
        /* A damaged file must not stop a ward's rules: it runs on them alone, as when there is
         * no model, and a SIGHUP after the file is mended takes it. */
        host->log(ctx, BP_LOG_WARN,
                  "model %s: %s; running without ML scores (mend or retrain it and send SIGHUP, "
                  "or set required = true to make this an error)",
                  path, why);
    } else {
        if (missing)
            snprintf(why, sizeof why, "no such file, and required = true");
        host->log(ctx, BP_LOG_ERROR, "model %s: %s", path, why);
        free(d->path);
        free(d);
        return BP_FATAL;
    }
    *state = d;
    return BP_OK;
}

static void lr_close(void *state)
{
    det *d = state;
    free(d->path);
    free(d);
}

/* SIGHUP, on the main thread between batches: the file is read whole into a new model first,
 * so a missing or broken file changes nothing. */
static int lr_reload(void *state)
{
    det *d = state;
    const bp_host *h = d->host;
    bp_lr_model fresh;
    char why[512];
    if (bp_lr_load(d->path, &fresh, why, sizeof why) != 0) {
        h->log(d->ctx, BP_LOG_ERROR, "model %s not reloaded (SIGHUP %u): %s; %s", d->path,
               ++d->reloads, why,
               d->have_model ? "the previous model stays" : "still running without ML scores");
        return BP_RETRY;
    }
    d->model = fresh;
    d->have_model = true;
    d->threshold = h->opt_double(d->ctx, "threshold", fresh.threshold);
    h->log(d->ctx, BP_LOG_INFO, "model %s reloaded (SIGHUP %u): %s features, threshold %g", d->path,
           ++d->reloads, bp_lr_feature_set_name(fresh.features), d->threshold);
    return BP_OK;
}

static int lr_detect(void *state, bp_batch *batch)
{
    det *d = state;
    const bp_host *h = d->host;
    if (!d->have_model)
        return BP_OK;
    for (size_t i = 0; i < h->batch_count(batch); i++) {
        bp_record *r = h->batch_at(batch, i);
        double s = h->number(r, BP_F_SYSTOLIC), dia = h->number(r, BP_F_DIASTOLIC);
        if (isnan(s) || isnan(dia))
            continue; /* the model needs both values */
        double p = bp_lr_score(&d->model, s, dia);
        int predicted = p >= d->threshold;
        h->annotate_number(d->ctx, r, "ml_risk_score", p);
        h->annotate_number(d->ctx, r, "ml_prediction", predicted);
        if (predicted && d->vote)
            h->flag(d->ctx, r, "ml_high_risk", BP_SEV_WARNING);
    }
    return BP_OK;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = "detector-logreg",
    .version = "1.1.0",
    .kind = BP_KIND_DETECTOR,
    .description = "logistic-regression anomaly probability (ml_risk_score, ml_prediction)",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = lr_open,
    .close = lr_close,
    .detect = lr_detect,
    .reload = lr_reload,
};

BP_PLUGIN(descriptor)
