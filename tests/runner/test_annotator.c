/* test-annotator: a third-party-style detector. It flags systolic >= `limit` and adds one
 * annotation of every type, so the tests can see them reach every sink unchanged. It also
 * checks that the host refuses what the ABI says it refuses. */
#include "bppipe/plugin.h"

#include <math.h>
#include <stdlib.h>

typedef struct det {
    const bp_host *host;
    bp_ctx *ctx;
    double limit;
} det;

static const bp_option options[] = {
    BP_OPTION_DOUBLE("limit", "150", 0, 400, 0, "flag systolic at or above this"),
};

static int det_open(const bp_host *host, bp_ctx *ctx, void **state)
{
    det *d = calloc(1, sizeof *d);
    if (!d)
        return BP_FATAL;
    d->host = host;
    d->ctx = ctx;
    d->limit = host->opt_double(ctx, "limit", 150);
    *state = d;
    return BP_OK;
}

static void det_close(void *state)
{
    free(state);
}

static int det_detect(void *state, bp_batch *batch)
{
    det *d = state;
    const bp_host *h = d->host;
    for (size_t i = 0; i < h->batch_count(batch); i++) {
        bp_record *r = h->batch_at(batch, i);
        double sys = h->number(r, BP_F_SYSTOLIC);
        h->annotate_number(d->ctx, r, "ext_score", isnan(sys) ? 0 : sys / 1000.0);
        h->annotate_text(d->ctx, r, "ext.model", "v1");
        h->annotate_bool(d->ctx, r, "ext_seen", 1);
        /* The host must refuse a core field name and a malformed key. */
        if (h->annotate_text(d->ctx, r, "patient_id", "x") != BP_EINVAL ||
            h->annotate_text(d->ctx, r, "Bad Key", "x") != BP_EINVAL ||
            h->flag(d->ctx, r, NULL, BP_SEV_WARNING) != BP_EINVAL)
            h->count(d->ctx, "abi_violations_accepted", 1);
        if (!isnan(sys) && sys >= d->limit)
            h->flag(d->ctx, r, "ext_high", BP_SEV_WARNING);
    }
    return BP_OK;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = "test-annotator",
    .version = "1.0.0",
    .kind = BP_KIND_DETECTOR,
    .description = "flags high systolic and annotates every reading (tests)",
    .options = options,
    .n_options = 1,
    .open = det_open,
    .close = det_close,
    .detect = det_detect,
};

BP_PLUGIN(descriptor)
