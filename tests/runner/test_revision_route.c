/* Routing with revisions (src/engine/revision_route.c, docs/revisions.md "Routing"): a
 * retraction reaches the sinks that honour revisions (BP_CAP_REVISIONS, ABI 1.8) and take
 * readings, never the others (a plugin built for 1.7 cannot declare it), nor route =
 * invalid, skipped or alarm; an accepted correction goes to its route's sinks and leaves a
 * retract companion, right after it, for the capable sinks that do not get it; a retraction's
 * document carries no values and no verdict, and no detector can judge it. */
#include "check.h"
#include "engine/revision_route.h"
#include "pipeline/document.h"
#include "pipeline/instance.h"

#include <math.h>
#include <stdlib.h>

static const bp_plugin capable = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = "capable-sink",
    .kind = BP_KIND_SINK,
    .caps = BP_CAP_REVISIONS,
};
static const bp_plugin plain = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = "plain-sink",
    .kind = BP_KIND_SINK,
};
/* built for ABI 1.7, whose header has no BP_CAP_REVISIONS: its caps never hold the bit, so
 * never a retraction */
static const bp_plugin old = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = 1,
    .abi_minor = 7,
    .name = "old-sink",
    .kind = BP_KIND_SINK,
    .caps = BP_CAP_BATCH_COMMIT,
};
/* built against today's header, declaring the cap, but asking only for a 1.0 host (sink-es
 * does, so that it loads in older hosts): abi_minor is what it needs, not what it knows, so it
 * takes revisions */
static const bp_plugin needs_1_0 = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = 1,
    .abi_minor = 0,
    .name = "lenient-sink",
    .kind = BP_KIND_SINK,
    .caps = BP_CAP_REVISIONS,
};
static const bp_plugin detector = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = "capable-detector",
    .kind = BP_KIND_DETECTOR,
    .caps = BP_CAP_REVISIONS,
};
static const bp_loaded l_capable = {.desc = &capable}, l_plain = {.desc = &plain},
                       l_old = {.desc = &old}, l_detector = {.desc = &detector};

enum {
    C_NORMAL,
    C_ANOMALY,
    C_ALL,
    C_CRITICAL,
    C_INVALID,
    C_SKIPPED,
    C_ALARM,
    P_NORMAL,
    P_ANOMALY,
    O_ANOMALY,
    N_SINKS
};
#define BIT(i) (1ull << (i))

static bp_ctx sinks[N_SINKS];
static bp_ctx *sink_ptrs[N_SINKS];

static void sink(int i, const bp_loaded *l, unsigned routes)
{
    sinks[i].name = "sink";
    sinks[i].plugin = l;
    sinks[i].routes = routes;
    sinks[i].index = i;
    sink_ptrs[i] = &sinks[i];
}

static bp_record *reading(bp_arena *a, const char *logical, bp_revision rev, bool anomaly,
                          bp_severity sev)
{
    bp_record *r = bp_record_new(a);
    r->stable_id = "sha256:abc";
    r->logical_id = logical;
    r->patient_id = "p1";
    r->status = rev == BP_REVISION_RETRACT ? "entered-in-error" : "corrected";
    r->version = 2;
    r->revision = rev;
    if (rev != BP_REVISION_RETRACT) {
        r->systolic = 150;
        r->diastolic = 95;
    }
    r->anomaly = anomaly;
    r->severity = sev;
    r->effective_ms = 1700000000000;
    return r;
}

static void route_batch(const bp_pipeline *p, bp_batch *b)
{
    for (size_t i = 0; i < b->count; i++)
        b->items[i]->sinks_pending = bp_route_sinks(p, b->items[i]);
}

int main(void)
{
    sink(C_NORMAL, &l_capable, BP_ROUTE_BIT(BP_ROUTE_NORMAL));
    sink(C_ANOMALY, &l_capable, BP_ROUTE_BIT(BP_ROUTE_ANOMALY));
    sink(C_ALL, &l_capable, BP_ROUTES_ALL);
    sink(C_CRITICAL, &l_capable, BP_ROUTE_CRITICAL);
    sink(C_INVALID, &l_capable, BP_ROUTE_BIT(BP_ROUTE_INVALID));
    sink(C_SKIPPED, &l_capable, BP_ROUTE_BIT(BP_ROUTE_SKIPPED));
    sink(C_ALARM, &l_capable, BP_ROUTE_BIT(BP_ROUTE_ALARM));
    sink(P_NORMAL, &l_plain, BP_ROUTE_BIT(BP_ROUTE_NORMAL));
    sink(P_ANOMALY, &l_plain, BP_ROUTE_BIT(BP_ROUTE_ANOMALY));
    sink(O_ANOMALY, &l_old, BP_ROUTE_BIT(BP_ROUTE_ANOMALY));
    bp_pipeline p = {.sinks = sink_ptrs, .n_sinks = N_SINKS};
    bp_arena a;
    bp_arena_init_growing(&a, 4096);
    const uint64_t capable_readers = BIT(C_NORMAL) | BIT(C_ANOMALY) | BIT(C_ALL) | BIT(C_CRITICAL);

    CHECK(bp_desc_takes_revisions(&needs_1_0) && !bp_desc_takes_revisions(&old) &&
          !bp_desc_takes_revisions(&plain) && bp_desc_takes_revisions(&capable));

    /* a retraction: its route, and the capable sinks of readings only */
    bp_record *gone = reading(&a, "Observation/x", BP_REVISION_RETRACT, false, BP_SEV_NORMAL);
    CHECK(bp_record_route(gone) == BP_ROUTE_RETRACT);
    CHECK(bp_route_sinks(&p, gone) == capable_readers);
    /* suppressed or dead-lettered, it is a skipped resource or a dead letter like any other */
    gone->skip_reason = "retracted: the Observation was entered in error";
    CHECK(bp_record_route(gone) == BP_ROUTE_SKIPPED);
    CHECK(bp_route_sinks(&p, gone) == BIT(C_SKIPPED));
    gone->skip_reason = NULL;

    /* no detector judges a retraction, through the host table either */
    bp_ctx det = {.name = "detector.x", .plugin = &l_detector};
    const bp_host *h = bp_host_table();
    CHECK(h->flag(&det, gone, "hypertension", BP_SEV_CRITICAL) == BP_EINVAL);
    CHECK(h->raise_severity(&det, gone, BP_SEV_WARNING) == BP_EINVAL);
    CHECK(h->set_text(&det, gone, BP_F_CATEGORY, "high") == BP_EINVAL);
    CHECK(h->annotate_number(&det, gone, "score", 1) == BP_EINVAL);
    CHECK(h->annotate_text(&det, gone, "why", "x") == BP_EINVAL);
    CHECK(h->annotate_bool(&det, gone, "seen", 1) == BP_EINVAL);
    CHECK(!gone->anomaly && gone->severity == BP_SEV_NORMAL && !gone->annotations);
    CHECK_STR(h->text(gone, BP_F_REVISION), "retract");
    CHECK_STR(h->text(gone, BP_F_LOGICAL_ID), "Observation/x");
    CHECK(h->number(gone, BP_F_VERSION) == 2);

    /* its document: who and which version, route retract, no values, no verdict */
    bp_buf doc;
    bp_buf_init(&doc);
    bp_document_write(&doc, gone, false, 0);
    const char *d = bp_buf_cstr(&doc);
    CHECK(strstr(d, "\"route\":\"retract\"") && strstr(d, "\"revision\":\"retract\"") &&
          strstr(d, "\"logical_id\":\"Observation/x\"") && strstr(d, "\"version\":2") &&
          strstr(d, "\"patient_id\":\"p1\"") && strstr(d, "\"status\":\"entered-in-error\"") &&
          strstr(d, "\"stable_id\":\"sha256:abc\"") && strstr(d, "\"source\":"));
    CHECK(!strstr(d, "pressure") && !strstr(d, "anomaly") && !strstr(d, "severity") &&
          !strstr(d, "bp_category"));
    if (!strstr(d, "\"route\":\"retract\""))
        fprintf(stderr, "%s\n", d);

    /* a correction routed normal: the normal sinks and route = all get it; the capable anomaly
     * and critical sinks held the old version maybe, and get its retract companion, right
     * after it; the plain and the old sinks never */
    bp_batch b;
    bp_batch_init(&b, &a, 0);
    bp_record *first = reading(&a, "Observation/first", BP_REVISION_NONE, true, BP_SEV_WARNING);
    bp_record *fix = reading(&a, "Observation/x", BP_REVISION_REPLACE, false, BP_SEV_NORMAL);
    bp_record *last = reading(&a, "Observation/last", BP_REVISION_NONE, false, BP_SEV_NORMAL);
    CHECK(bp_batch_push(&b, first) == BP_OK && bp_batch_push(&b, fix) == BP_OK &&
          bp_batch_push(&b, last) == BP_OK);
    route_batch(&p, &b);
    CHECK(fix->sinks_pending == (BIT(C_NORMAL) | BIT(C_ALL) | BIT(P_NORMAL)));
    CHECK(bp_add_companions(&p, &b) == 1);
    CHECK(b.count == 4 && b.items[0] == first && b.items[1] == fix && b.items[3] == last);
    bp_record *c = b.items[2];
    CHECK(c->companion && c->revision == BP_REVISION_RETRACT &&
          bp_record_route(c) == BP_ROUTE_RETRACT);
    CHECK(c->sinks_pending == (BIT(C_ANOMALY) | BIT(C_CRITICAL)));
    CHECK_STR(c->logical_id, "Observation/x");
    CHECK_STR(c->patient_id, "p1");
    CHECK(c->version == 2 && isnan(c->systolic) && isnan(c->diastolic) && !c->anomaly);
    CHECK(fix->revision == BP_REVISION_REPLACE && fix->systolic == 150); /* untouched */

    /* a critical correction: the critical sink gets it, so only the anomaly sink's companion
     * is left... and with route anomaly, the anomaly sinks get it: no companion for them */
    bp_batch_clear(&b);
    bp_record *crit = reading(&a, "Observation/y", BP_REVISION_REPLACE, true, BP_SEV_CRITICAL);
    CHECK(bp_batch_push(&b, crit) == BP_OK);
    route_batch(&p, &b);
    CHECK(crit->sinks_pending ==
          (BIT(C_ANOMALY) | BIT(C_ALL) | BIT(C_CRITICAL) | BIT(P_ANOMALY) | BIT(O_ANOMALY)));
    CHECK(bp_add_companions(&p, &b) == 1 && b.count == 2);
    CHECK(b.items[1]->sinks_pending == BIT(C_NORMAL));

    /* no companion when every capable reader gets the correction, nor for a first version */
    sink(0, &l_capable, BP_ROUTES_ALL);
    bp_pipeline one = {.sinks = sink_ptrs, .n_sinks = 1};
    bp_batch_clear(&b);
    CHECK(bp_batch_push(&b, fix) == BP_OK && bp_batch_push(&b, first) == BP_OK);
    route_batch(&one, &b);
    CHECK(bp_add_companions(&one, &b) == 0 && b.count == 2);
    /* nor in a pipeline of sinks that do not honour revisions */
    bp_ctx *plain_only[] = {&sinks[P_NORMAL], &sinks[P_ANOMALY], &sinks[O_ANOMALY]};
    bp_pipeline none = {.sinks = plain_only, .n_sinks = 3};
    route_batch(&none, &b);
    CHECK(bp_add_companions(&none, &b) == 0 && b.count == 2);
    CHECK(bp_route_sinks(&none, gone) == 0);

    bp_buf_free(&doc);
    bp_batch_free(&b);
    bp_arena_free(&a);
    return CHECK_DONE();
}
