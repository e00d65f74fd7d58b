/* What one decoded item becomes in a batch: see classify.c. The runner calls it for every item
 * the decoders hand back, in payload order. */
#ifndef BPPIPE_CLASSIFY_H
#define BPPIPE_CLASSIFY_H

#include "fhir/fhir_types.h"
#include "pipeline/plausibility.h"
#include "pipeline/record.h"
#include "pipeline/revisions.h"

typedef struct bp_classify {
    const bp_plausible *plausible; /* [pipeline] plausible_* */
    bp_revisions *ledger;          /* the revision ledger; NULL: none (nothing is skipped) */
    bp_batch *records;             /* every item, in order (its arena holds the new records) */
    bp_batch *valid;               /* what the detectors get */
} bp_classify;

/* Adds the record decoded as `d` from payload record `input` (same batch) to c->records, and
 * to c->valid when it is a valid reading or an accepted retraction. 0, or -1 out of memory. */
int bp_classify_decoded(const bp_classify *c, bp_record *input, const bp_decoded *d);

#endif
