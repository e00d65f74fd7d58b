/* detector-trend: the plugin shell around trend.c. */
#include "trend.h"

#include <bppipe/plugin.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct det {
    const bp_host *host;
    bp_ctx *ctx;
    bp_trend trend;
    const char *state_file; /* lives as long as the instance (host-owned option) */
    uint64_t observed;      /* readings seen; `bppipe check` sees none and writes nothing */
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
                  "patients kept; the least recently seen is forgotten first"),
    BP_OPTION_STRING("state_file", NULL, 0,
                     "snapshot written at shutdown and read at start (unset: none)"),
};

static int trend_open(const bp_host *host, bp_ctx *ctx, void **state)
{
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
    if (bp_trend_init(&d->trend, &c) != 0) {
        host->log(ctx, BP_LOG_ERROR, "cannot hold %zu patients (out of memory); lower "
                  "max_patients", c.max_patients);
        free(d);
        return BP_FATAL;
    }
    d->state_file = host->opt_string(ctx, "state_file");
    if (d->state_file && access(d->state_file, F_OK) == 0) {
        char why[256];
        if (bp_trend_load(&d->trend, d->state_file, why, sizeof why) == 0)
            host->log(ctx, BP_LOG_INFO, "restored %zu patients from %s", d->trend.used,
                      d->state_file);
        else
            host->log(ctx, BP_LOG_WARN, "ignoring snapshot %s (%s): starting with no history",
                      d->state_file, why);
    }
    *state = d;
    return BP_OK;
}

static void trend_close(void *state)
{
    det *d = state;
    if (d->state_file && d->observed && bp_trend_save(&d->trend, d->state_file) != 0)
        d->host->log(d->ctx, BP_LOG_ERROR, "cannot write snapshot %s: %s", d->state_file,
                     strerror(errno));
    bp_trend_free(&d->trend);
    free(d);
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
        double at = h->number(r, BP_F_EFFECTIVE_MS);
        const char *patient = h->text(r, BP_F_PATIENT_ID);
        if (!patient || isnan(at))
            continue;
        bp_trend_verdict v;
        d->observed++;
        bp_trend_observe(&d->trend, patient, (int64_t)at, h->number(r, BP_F_SYSTOLIC),
                         h->number(r, BP_F_DIASTOLIC), &v);
        /* A type an earlier detector gave (detector-rules' clinical one) is kept; a reading
         * only trend flags gets trend's own, never "normal". */
        const char *had = h->text(r, BP_F_ANOMALY_TYPE);
        bool typed = had && strcmp(had, "normal") != 0 && strcmp(had, "other") != 0;
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
    .abi_minor = BP_ABI_MINOR,
    .name = "detector-trend",
    .version = "1.0.0",
    .kind = BP_KIND_DETECTOR,
    .description = "per-patient history: sustained, rapid-change and baseline-deviation flags",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = trend_open,
    .close = trend_close,
    .detect = trend_detect,
};

BP_PLUGIN(descriptor)
