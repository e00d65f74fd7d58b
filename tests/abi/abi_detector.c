/* A detector written against a frozen ABI header (abi_version.h): it flags a systolic at or
 * above `limit` as critical, types and categorises it, annotates every reading with its
 * systolic value and the ABI it was built for, and counts its calls and what it was shown, so
 * the test can tell that today's host still loads it, calls it with the right readings only
 * (no dead letters, no skipped resources, no call for a batch without readings), and keeps
 * what it wrote. With retry_first = N it marks the readings and answers BP_RETRY to its first
 * N calls: the host calls again with the same batch, the marks kept. */
#include "abi_version.h"

#include <math.h>
#include <stdlib.h>

typedef struct det {
    const bp_host *host;
    bp_ctx *ctx;
    double limit;
    int64_t retries_left;
    int can_count;
} det;

static const bp_option options[] = {
    BP_OPTION_DOUBLE("limit", "180", 0, 400, 0, "flag systolic at or above this as critical"),
    BP_OPTION_INT("retry_first", "0", 0, 10, 0, "answer BP_RETRY to the first N calls"),
};

static int det_open(const bp_host *host, bp_ctx *ctx, void **state)
{
    det *d = calloc(1, sizeof *d);
    if (!d)
        return BP_FATAL;
    d->host = host;
    d->ctx = ctx;
    d->limit = host->opt_double(ctx, "limit", 180);
    d->retries_left = host->opt_int(ctx, "retry_first", 0);
#ifdef BP_HOST_HAS
    /* Today's header: count is an ABI 1.0 member, so this holds on every host; if the macro
     * answered wrong, the counters the test reads would be missing. */
    d->can_count = BP_HOST_HAS(host, count);
#else
    d->can_count = 1;
#endif
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
    if (d->can_count)
        h->count(d->ctx, "calls", 1);
    if (d->retries_left > 0) {
        d->retries_left--;
        for (size_t i = 0; i < h->batch_count(batch); i++)
            h->annotate_bool(d->ctx, h->batch_at(batch, i), "abi_tried", 1);
        return BP_RETRY;
    }
    for (size_t i = 0; i < h->batch_count(batch); i++) {
        bp_record *r = h->batch_at(batch, i);
        if (d->can_count)
            h->count(d->ctx, "seen", 1);
        if (h->text(r, BP_F_INVALID_REASON))
            h->count(d->ctx, "dead_letters_seen", 1);
        double sys = h->number(r, BP_F_SYSTOLIC);
        h->annotate_text(d->ctx, r, "abi_built_for", ABI_STR_(ABI_VERSION));
        if (isnan(sys))
            continue;
        h->annotate_number(d->ctx, r, "abi_systolic", sys);
        if (sys >= d->limit) {
            h->flag(d->ctx, r, "abi_systolic_high", BP_SEV_CRITICAL);
            h->set_text(d->ctx, r, BP_F_ANOMALY_TYPE, "abi_crisis");
            h->set_text(d->ctx, r, BP_F_CATEGORY, "abi_high");
        }
    }
    return BP_OK;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = ABI_NAME("detector"),
    .version = "1.0.0",
    .kind = BP_KIND_DETECTOR,
    .description = "flags a high systolic; built against a frozen ABI header (tests)",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = det_open,
    .close = det_close,
    .detect = det_detect,
};

BP_PLUGIN(descriptor)
