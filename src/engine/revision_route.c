/* Routing with revisions (revision_route.h). */
#include "engine/revision_route.h"

#include "pipeline/instance.h"

#include <math.h>
#include <string.h>

static bool takes_revisions(const bp_ctx *sink)
{
    return bp_desc_takes_revisions(sink->plugin->desc) && (sink->routes & BP_ROUTES_READINGS);
}

uint64_t bp_route_sinks(const bp_pipeline *p, const bp_record *rec)
{
    bp_route route = bp_record_route(rec);
    uint64_t mask = 0;
    if (route == BP_ROUTE_RETRACT) {
        for (size_t s = 0; s < p->n_sinks; s++)
            if (takes_revisions(p->sinks[s]))
                mask |= 1ull << s;
        return mask;
    }
    bool critical =
        (route == BP_ROUTE_NORMAL || route == BP_ROUTE_ANOMALY) && rec->severity == BP_SEV_CRITICAL;
    for (size_t s = 0; s < p->n_sinks; s++) {
        const bp_ctx *k = p->sinks[s];
        if (((k->routes & BP_ROUTE_BIT(route)) &&
             (route != BP_ROUTE_ALARM || rec->alarm->tier >= k->alarm_min_tier)) ||
            (critical && (k->routes & BP_ROUTE_CRITICAL)))
            mask |= 1ull << s;
    }
    return mask;
}

uint64_t bp_companion_sinks(const bp_pipeline *p, uint64_t delivered)
{
    uint64_t mask = 0;
    for (size_t s = 0; s < p->n_sinks; s++)
        if (takes_revisions(p->sinks[s]) && !(delivered & (1ull << s)))
            mask |= 1ull << s;
    return mask;
}

/* The companion of `rep`: its identity and origin, none of its values or verdict. */
static bp_record *companion_new(bp_arena *a, const bp_record *rep)
{
    bp_record *c = bp_arena_alloc(a, sizeof *c);
    if (!c)
        return NULL;
    *c = *rep;
    c->revision = BP_REVISION_RETRACT;
    c->companion = true;
    c->systolic = c->diastolic = c->heart_rate = c->mean_pressure = NAN;
    c->anomaly = false;
    c->severity = BP_SEV_NORMAL;
    c->category = c->anomaly_type = NULL;
    c->reasons = c->reasons_tail = NULL;
    c->annotations = c->annotations_tail = NULL;
    c->docs[0] = c->docs[1] = NULL;
    c->doc_lens[0] = c->doc_lens[1] = 0;
    c->doc_lock = NULL;
    return c;
}

/* Makes room at `at` and puts `r` there. */
static int insert_at(bp_batch *b, size_t at, bp_record *r)
{
    if (bp_batch_push(b, r) != BP_OK)
        return -1;
    memmove(&b->items[at + 1], &b->items[at], (b->count - 1 - at) * sizeof *b->items);
    b->items[at] = r;
    return 0;
}

int bp_add_companions(const bp_pipeline *p, bp_batch *records)
{
    int added = 0;
    for (size_t i = 0; i < records->count; i++) {
        const bp_record *rec = records->items[i];
        bp_route route = bp_record_route(rec);
        if (rec->revision != BP_REVISION_REPLACE ||
            (route != BP_ROUTE_NORMAL && route != BP_ROUTE_ANOMALY))
            continue;
        uint64_t sinks = bp_companion_sinks(p, rec->sinks_pending);
        if (!sinks)
            continue;
        bp_record *c = companion_new(records->arena, rec);
        if (!c || insert_at(records, i + 1, c) != 0)
            return -1;
        c->sinks_pending = sinks;
        added++;
        i++; /* past the companion */
    }
    return added;
}
