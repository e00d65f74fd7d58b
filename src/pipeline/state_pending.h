/* Private to src/pipeline/state*.c.
 *
 * The uncommitted batches of keyed state: for each batch (by sequence number, ascending) the
 * keys it changed, each key's change being a version on its entry (state_table.h). A source
 * that keeps state reads them in commit() (state_changes); the runner's commit of a batch folds
 * its versions, and those of every batch before it, into the base.
 *
 * Pure: no globals and no lock; the caller (state.c) holds the store's lock. */
#ifndef BPPIPE_STATE_PENDING_H
#define BPPIPE_STATE_PENDING_H

#include "pipeline/state_scopes.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One key one batch changed. */
typedef struct bp_state_touch {
    bp_state_scope *scope;
    bp_state_entry *e;
} bp_state_touch;

/* The keys one uncommitted batch changed. */
typedef struct bp_state_batch {
    uint64_t seq;
    bp_state_touch *items;
    size_t n, cap;
} bp_state_batch;

/* Every uncommitted batch that changed a key. Zero-initialized it is empty. */
typedef struct bp_state_pending {
    bp_state_batch *batches; /* ascending seq */
    size_t n, cap;
} bp_state_pending;

/* The batch `seq`, added in its place when missing. NULL on ENOMEM. */
bp_state_batch *bp_state_pending_add(bp_state_pending *pd, uint64_t seq);
/* The batch `seq`, or NULL when it changed nothing. */
bp_state_batch *bp_state_pending_find(const bp_state_pending *pd, uint64_t seq);
/* Notes that batch `b` changed entry `e` of scope `s`. 0, or -1 on ENOMEM. */
int bp_state_batch_note(bp_state_batch *b, bp_state_scope *s, bp_state_entry *e);
/* Commits every batch up to `seq`: each key's oldest version becomes its base, and an entry
 * left with nothing is removed from its table. Returns whether a key of a scope not dropped
 * changed (the snapshot files are then out of date). */
bool bp_state_pending_commit(bp_state_pending *pd, uint64_t seq);
/* Forgets the changes of scope `s` (about to be freed). */
void bp_state_pending_forget_scope(bp_state_pending *pd, const bp_state_scope *s);
/* Forgets the changes of the keys of `owner` (about to be purged). */
void bp_state_pending_forget_owner(bp_state_pending *pd, uint32_t owner);
/* Frees the lists (the versions stay with their entries). */
void bp_state_pending_free(bp_state_pending *pd);

#endif
