/* What a decoded item becomes in its batch (src/engine/classify.c), with items built by hand as
 * the decoders hand them back: a retraction skips the plausibility gate and goes to the
 * detectors' batch once the ledger accepts it; a retraction without a logical id is a dead
 * letter; a correction whose values fail the gate is a dead letter and leaves the ledger as it
 * was; a superseded or retracted version is a skipped record, never in the detectors' batch;
 * two versions in one batch are taken in order. */
#include "check.h"
#include "engine/classify.h"
#include "pipeline/state.h"

#include <math.h>

static bp_arena arena;
static bp_batch input, records, valid;

static bp_decoded item(const char *logical, int64_t version, bp_revision rev, double sys,
                       double dia)
{
    bp_decoded d = {0};
    d.stable_id = logical ? logical : "sha256:x";
    d.patient_id = "p1";
    d.status = rev == BP_REVISION_RETRACT ? "entered-in-error" : "final";
    d.systolic = sys;
    d.diastolic = dia;
    d.heart_rate = d.mean_pressure = NAN;
    d.resource_index = -1;
    d.effective_ms = 1700000000000;
    d.logical_id = logical;
    d.version = version;
    d.revision = rev;
    return d;
}

/* The payload the items come from, stamped like a source's (its partition's keyed state). */
static bp_record *payload(void)
{
    bp_origin o = {sizeof o, "bp", 0, (int64_t)input.count, NULL, 0, -1};
    CHECK(bp_batch_add_payload(&input, "{}", 2, &o) == BP_OK);
    bp_record *in = input.items[input.count - 1];
    bp_state_stamp(in, input.seq);
    return in;
}

static bp_record *last(void)
{
    return records.items[records.count - 1];
}

static bool in_valid(const bp_record *r)
{
    for (size_t i = 0; i < valid.count; i++)
        if (valid.items[i] == r)
            return true;
    return false;
}

int main(void)
{
    bp_arena_init_growing(&arena, 4096);
    bp_batch_init(&input, &arena, 0);
    bp_batch_init(&records, &arena, 0);
    bp_batch_init(&valid, &arena, 0);
    input.seq = records.seq = valid.seq = 1;
    bp_state_configure(false, 0);
    bp_revisions *lg = bp_revisions_open(NULL, 0);
    CHECK(lg != NULL);
    bp_state_begin_poll(1);
    bp_plausible limits = {40, 300, 20, 200};
    bp_classify c = {&limits, lg, &records, &valid};
    bp_decoded d;

    /* a retraction: no values, yet not implausible; accepted, for the detectors that take it */
    d = item("obs-1", 2, BP_REVISION_RETRACT, NAN, NAN);
    CHECK(bp_classify_decoded(&c, payload(), &d) == 0);
    CHECK(!last()->invalid_reason && !last()->skip_reason && in_valid(last()));
    CHECK(bp_record_route(last()) == BP_ROUTE_RETRACT);
    /* its reading, late: skipped as retracted, never judged */
    d = item("obs-1", 1, BP_REVISION_NONE, 150, 95);
    CHECK(bp_classify_decoded(&c, payload(), &d) == 0);
    CHECK_STR(last()->skip_reason, BP_SKIP_RETRACTED);
    CHECK(!in_valid(last()) && bp_record_route(last()) == BP_ROUTE_SKIPPED);
    /* a retraction without a logical id: a dead letter, the payload marked */
    d = item(NULL, 2, BP_REVISION_RETRACT, NAN, NAN);
    bp_record *in = payload();
    CHECK(bp_classify_decoded(&c, in, &d) == 0);
    CHECK(last()->invalid_reason && strstr(last()->invalid_reason, "nothing to retract"));
    CHECK(in->invalid_reason != NULL && !in_valid(last()));

    /* a reading, then two corrections in one batch, then the first correction again */
    d = item("obs-2", 1, BP_REVISION_NONE, 150, 95);
    CHECK(bp_classify_decoded(&c, payload(), &d) == 0 && in_valid(last()));
    /* a correction whose values fail the gate: a dead letter, and the ledger is untouched */
    d = item("obs-2", 2, BP_REVISION_REPLACE, 500, 80);
    CHECK(bp_classify_decoded(&c, payload(), &d) == 0);
    CHECK(last()->invalid_reason && strstr(last()->invalid_reason, "implausible"));
    d = item("obs-2", 1, BP_REVISION_NONE, 150, 95); /* still the version that stands */
    CHECK(bp_classify_decoded(&c, payload(), &d) == 0 && in_valid(last()));
    d = item("obs-2", 2, BP_REVISION_REPLACE, 128, 82);
    CHECK(bp_classify_decoded(&c, payload(), &d) == 0 && in_valid(last()));
    d = item("obs-2", 3, BP_REVISION_REPLACE, 118, 76);
    CHECK(bp_classify_decoded(&c, payload(), &d) == 0 && in_valid(last()));
    d = item("obs-2", 2, BP_REVISION_REPLACE, 128, 82);
    CHECK(bp_classify_decoded(&c, payload(), &d) == 0);
    CHECK_STR(last()->skip_reason, BP_SKIP_SUPERSEDED);
    CHECK(!in_valid(last()));
    /* a newer final after the corrections replaces them too */
    d = item("obs-2", 4, BP_REVISION_NONE, 117, 75);
    CHECK(bp_classify_decoded(&c, payload(), &d) == 0 && in_valid(last()));
    CHECK(last()->revision == BP_REVISION_REPLACE);

    /* every item is in records, in order; the detectors get 1 retraction and 5 readings */
    CHECK(records.count == 10 && valid.count == 6);
    size_t retractions = 0;
    for (size_t i = 0; i < valid.count; i++)
        retractions += valid.items[i]->revision == BP_REVISION_RETRACT;
    CHECK(retractions == 1);

    bp_revisions_close(lg);
    bp_state_reset();
    bp_batch_free(&input);
    bp_batch_free(&records);
    bp_batch_free(&valid);
    bp_arena_free(&arena);
    return CHECK_DONE();
}
