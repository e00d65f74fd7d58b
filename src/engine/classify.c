/* What one decoded item becomes in a batch (the runner's decode step, runner.c): an alarm
 * command, a skipped resource, a retraction, a dead letter (the decoder's reason or the
 * plausibility gate's), a version the revision ledger skips, or a valid reading for the
 * detectors. Every item goes to `records` in decode order; readings and accepted retractions to
 * `valid` too (docs/revisions.md, "The ledger"). */
#include "engine/classify.h"

#include "common/clock.h"
#include "pipeline/plausibility.h"

/* A decoded retraction (entered-in-error): no values, so no plausibility gate and no verdict.
 * Through the ledger; accepted, it is in `valid` too (only the detectors that honour revisions
 * get it, run_detectors). */
static int on_retraction(const bp_classify *c, bp_record *rec)
{
    bp_arena *a = c->records->arena;
    if (!rec->logical_id) {
        /* The decoders dead-letter such a resource themselves; never a retraction of nothing. */
        if (!(rec->invalid_reason = bp_arena_strdup(a, "a retraction without a logical id: "
                                                       "nothing to retract")))
            return -1;
        bp_record_mark_input(rec, rec->invalid_reason);
        return bp_batch_push(c->records, rec) == BP_OK ? 0 : -1;
    }
    if (bp_batch_push(c->records, rec) != BP_OK)
        return -1;
    int rc = bp_revisions_apply(c->ledger, rec, bp_wall_ms());
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    return bp_batch_push(c->valid, rec) == BP_OK ? 0 : -1;
}

int bp_classify_decoded(const bp_classify *cl, bp_record *in, const bp_decoded *d)
{
    bp_arena *a = cl->records->arena;
    bp_record *rec = bp_record_from_decoded(a, in, d); /* shares its payload's payload and origin */
    if (!rec)
        return -1;
    if (!d->invalid_reason && d->ack_alarm_id) {
        /* An acknowledgement (src/decode/alarm_ack.c): a command for the alarm stage, in batch
         * order with the readings; not a reading, never judged. */
        bp_alarm_command *c = bp_arena_alloc(a, sizeof *c);
        if (!c || !(c->alarm_id = bp_arena_strdup(a, d->ack_alarm_id)) ||
            !(c->by = bp_arena_strdup(a, d->ack_by)) ||
            (d->ack_from && !(c->from = bp_arena_strdup(a, d->ack_from))))
            return -1;
        c->at_ms = d->ack_at_ms;
        rec->command = c;
        return bp_batch_push(cl->records, rec) == BP_OK ? 0 : -1;
    }
    if (!d->invalid_reason && d->skip_reason) {
        /* Valid FHIR that is not ours: no plausibility gate, no detector, only route = skipped
         * sinks (and the skipped counts). */
        if (!(rec->skip_reason = bp_arena_strdup(a, d->skip_reason)) ||
            (d->resource_type && !(rec->resource_type = bp_arena_strdup(a, d->resource_type))) ||
            (d->resource_code && !(rec->resource_code = bp_arena_strdup(a, d->resource_code))))
            return -1;
        return bp_batch_push(cl->records, rec) == BP_OK ? 0 : -1;
    }
    if (!d->invalid_reason && d->revision == BP_REVISION_RETRACT)
        return on_retraction(cl, rec);
    char why[160];
    if (!rec->invalid_reason &&
        bp_plausibility_check(cl->plausible, rec->systolic, rec->diastolic, why, sizeof why) != 0 &&
        !(rec->invalid_reason = bp_arena_strdup(a, why))) /* a measurement error, not an alarm */
        return -1;
    if ((d->invalid_reason && !rec->invalid_reason) || bp_batch_push(cl->records, rec) != BP_OK)
        return -1;
    bp_record_mark_input(rec, rec->invalid_reason); /* the payload was dead-lettered */
    if (rec->invalid_reason)
        return 0;
    /* A valid reading meets the revision ledger in batch order: a version older than what was
     * applied, or one of a retracted logical id, is skipped, never judged. A dead letter does
     * not: it replaces nothing. */
    int rc = bp_revisions_apply(cl->ledger, rec, bp_wall_ms());
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    return bp_batch_push(cl->valid, rec) == BP_OK ? 0 : -1;
}
