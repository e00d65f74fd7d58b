/* Writes judged records with revisions into a sink's disk spool, the way a run that stopped while
 * Elasticsearch was away leaves them (src/delivery/spool.h, record codec format 3), so that a
 * restarted bppipe with `buffer = disk` delivers them to sink-es: the path a correction and a
 * retraction take through the disk buffer, before the decoders fill the revision fields.
 *
 * Usage: es_spool_seed DIR
 * Seeds, oldest first: obs-s version 1 (190/125, final), obs-s version 2 "replace" (130/85),
 * obs-r version 1 (150/95), obs-r version 2 "retract" (no values); all at
 * 2026-03-01T10:00:00Z, route anomaly. */
#include "delivery/record_codec.h"
#include "delivery/spool.h"
#include "pipeline/record.h"

#include <math.h>
#include <stdio.h>

static bp_record *reading(bp_arena *a, const char *stable, const char *logical, int64_t version,
                          bp_revision revision, double sys, double dia)
{
    bp_record *r = bp_record_new(a);
    r->stable_id = bp_arena_strdup(a, stable);
    r->observation_id = bp_arena_strdup(a, logical);
    r->logical_id = bp_arena_strdup(a, logical);
    r->version = version;
    r->revision = revision;
    r->patient_id = "p-spool";
    r->status = revision == BP_REVISION_RETRACT   ? "entered-in-error"
                : revision == BP_REVISION_REPLACE ? "corrected"
                                                  : "final";
    r->effective_ms = 1772359200000LL;
    r->systolic = sys;
    r->diastolic = dia;
    if (!isnan(sys) && bp_record_flag(r, "hypertension", BP_SEV_WARNING) != 0)
        return NULL;
    return r;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    bp_arena a;
    bp_arena_init(&a, 4096);
    bp_record *recs[] = {
        reading(&a, "obs-s/_history/1", "obs-s", 1, BP_REVISION_NONE, 190, 125),
        reading(&a, "obs-s/_history/2", "obs-s", 2, BP_REVISION_REPLACE, 130, 85),
        reading(&a, "obs-r/_history/1", "obs-r", 1, BP_REVISION_NONE, 150, 95),
        reading(&a, "obs-r/_history/2", "obs-r", 2, BP_REVISION_RETRACT, NAN, NAN),
    };
    char err[512];
    bp_spool *s = NULL;
    if (bp_spool_open(argv[1], 1u << 20, &s, err, sizeof err) != BP_SPOOL_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int rc = 0;
    for (size_t i = 0; i < sizeof recs / sizeof recs[0] && rc == 0; i++) {
        bp_buf b;
        bp_buf_init(&b);
        if (!recs[i] || bp_record_encode(recs[i], 0, &b) != 0 ||
            bp_spool_append(s, b.data, b.len) != BP_SPOOL_OK)
            rc = 1;
        bp_buf_free(&b);
    }
    bp_spool_close(s);
    bp_arena_free(&a);
    if (rc)
        fprintf(stderr, "cannot seed the spool\n");
    return rc;
}
