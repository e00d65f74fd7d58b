/* The revision ledger (issue 26, docs/revisions.md): which logical ids were replaced or
 * retracted, and up to which version, so that a replayed older version, a second copy of a
 * correction or a reading whose retraction came first is skipped instead of undoing what was
 * applied. It lives in the host's keyed state (namespace "revisions/revision.1"), per input
 * partition, committed with the source's positions like every other keyed state: source-kafka's
 * changelog, or the snapshot file [pipeline] revisions_state_file. Only logical ids that were
 * ever replaced or retracted are kept (a first version adds nothing); at most max_keys per
 * partition, the least recently revised forgotten first (counted: evicted). */
#ifndef BPPIPE_REVISIONS_H
#define BPPIPE_REVISIONS_H

#include "fhir/fhir_types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bp_record;

/* What the ledger knows of one logical id. */
typedef struct bp_ledger_entry {
    int64_t version;    /* the last applied version, BP_VERSION_NONE when it had none */
    bool retracted;     /* the last applied revision was a retraction */
    int64_t applied_ms; /* when it was applied (wall clock): the eviction order */
} bp_ledger_entry;

typedef enum bp_ledger_verdict {
    BP_LEDGER_ACCEPT = 0,     /* deliver it */
    BP_LEDGER_SUPERSEDED = 1, /* skipped: BP_SKIP_SUPERSEDED */
    BP_LEDGER_RETRACTED = 2   /* skipped: BP_SKIP_RETRACTED */
} bp_ledger_verdict;

/* The rules of docs/revisions.md ("The ledger") for a record of `version` and `revision`
 * against `e`, what the ledger holds for its logical id (NULL: nothing). Pure. */
bp_ledger_verdict bp_ledger_decide(const bp_ledger_entry *e, int64_t version, bp_revision revision);

/* The value format "revision.1": version (i64), flags (u8: 1 retracted), applied_ms (i64),
 * little-endian, 17 bytes. encode returns the length (0 when `cap` is too small); decode 0 or
 * -1 for a value of another length or unknown flags. */
#define BP_LEDGER_VALUE_LEN 17
size_t bp_ledger_entry_encode(const bp_ledger_entry *e, unsigned char *buf, size_t cap);
int bp_ledger_entry_decode(bp_ledger_entry *e, const void *buf, size_t len);

typedef struct bp_revisions bp_revisions;

typedef struct bp_revision_counts {
    uint64_t evicted; /* entries forgotten to keep a partition within max_keys */
    uint64_t lost;    /* entries the store could not keep (out of memory) */
} bp_revision_counts;

/* Opens the ledger's keyed state (after bp_state_configure, before the first poll). `file`:
 * the snapshot file for a source that does not keep state (NULL: memory only); max_keys: the
 * bound per partition (0: none). NULL when it cannot (logged). */
bp_revisions *bp_revisions_open(const char *file, uint64_t max_keys);
/* Forgets the ledger's keys (after the final checkpoint) and frees it. NULL is fine. */
void bp_revisions_close(bp_revisions *lg);

/* Applies the ledger to `rec`, a valid reading or an accepted-to-be retraction with a logical
 * id, in batch order (two versions of one logical id in one batch: the later one sees the
 * earlier). Suppressed: sets rec->skip_reason (BP_SKIP_SUPERSEDED or BP_SKIP_RETRACTED) and
 * returns 1. Accepted: returns 0, after turning a record without revision into a REPLACE when
 * the logical id was revised before, and noting a REPLACE or RETRACT as the latest. A record
 * without a logical id is accepted untouched. -1 when out of memory for the record. */
int bp_revisions_apply(bp_revisions *lg, struct bp_record *rec, int64_t now_ms);

void bp_revisions_get_counts(const bp_revisions *lg, bp_revision_counts *out);

#endif
