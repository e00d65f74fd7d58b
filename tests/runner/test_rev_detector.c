/* test-revdetector (built with REV_CAPS=1: it declares BP_CAP_REVISIONS) and
 * test-plaindetector (REV_CAPS=0): detectors for the revision tests. Each counts the readings
 * and the retractions its detect() is given, and tries to flag every record: a retraction must
 * answer BP_EINVAL (counted refused_verdicts), a reading BP_OK. */
#include "bppipe/plugin.h"

#include <stdbool.h>
#include <stdlib.h>

typedef struct det {
    const bp_host *h;
    bp_ctx *ctx;
} det;

static int det_open(const bp_host *h, bp_ctx *ctx, void **state)
{
    det *d = calloc(1, sizeof *d);
    if (!d)
        return BP_FATAL;
    d->h = h;
    d->ctx = ctx;
    *state = d;
    return BP_OK;
}

static void det_close(void *state)
{
    free(state);
}

static int det_detect(void *state, bp_batch *b)
{
    det *d = state;
    const bp_host *h = d->h;
    for (size_t i = 0; i < h->batch_count(b); i++) {
        bp_record *r = h->batch_at(b, i);
        const char *rev = h->text(r, BP_F_REVISION);
        bool retract = rev && rev[0] == 'r' && rev[2] == 't'; /* "retract" */
        h->count(d->ctx, retract ? "retractions" : "readings", 1);
        int rc = h->annotate_bool(d->ctx, r, "rev_seen", 1);
        if (rc == BP_EINVAL)
            h->count(d->ctx, "refused_verdicts", 1);
        else if (rc != BP_OK || retract)
            h->count(d->ctx, "unexpected", 1);
    }
    return BP_OK;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
#if REV_CAPS
    .name = "test-revdetector",
    .caps = BP_CAP_REVISIONS,
#else
    .name = "test-plaindetector",
#endif
    .version = "1.0.0",
    .kind = BP_KIND_DETECTOR,
    .description = "counts the readings and retractions it is given (tests)",
    .open = det_open,
    .close = det_close,
    .detect = det_detect,
};

BP_PLUGIN(descriptor)
