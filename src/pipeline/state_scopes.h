/* Private to src/pipeline/state*.c.
 *
 * The scopes of keyed state: one per input partition held (topic, partition), each with its
 * table of keys (state_table.h). A revoked partition's scope is dropped, no longer found by
 * partition, and freed once the batch polled when it was dropped is committed; until then the
 * records polled before the drop still reach it by its id.
 *
 * Pure: no globals and no lock; the caller (state.c) holds the store's lock. */
#ifndef BPPIPE_STATE_SCOPES_H
#define BPPIPE_STATE_SCOPES_H

#include "pipeline/state_table.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct bp_state_scope {
    struct bp_state_scope *next;
    uint64_t id;       /* what records carry (never reused in a process) */
    char *topic;       /* NULL: a source without topics or without partitions */
    int32_t partition; /* -1: a source without partitions */
    bool dropped;      /* revoked: no longer found, freed once drop_seq is committed */
    uint64_t drop_seq; /* the batch being polled when it was dropped */
    bp_state_table table;
} bp_state_scope;

/* Scopes found by id without walking the list: every get and put of a record asks for its
 * scope, and a batch from Kafka mixes records of many partitions (one scope each). Ids are
 * handed out in order, so the scopes of the partitions held sit in distinct slots. */
#define BP_STATE_SCOPES_BY_ID 64

/* Every scope of the process. Zero-initialized it is empty. */
typedef struct bp_state_scopes {
    bp_state_scope *list;     /* newest first */
    bp_state_scope *last_hit; /* the scope found last (most lookups ask for it again) */
    uint64_t next_id;         /* kept across bp_state_scopes_free: ids are never reused */
    bp_state_scope *by_id[BP_STATE_SCOPES_BY_ID]; /* slot id % 64: the newest scope of it */
} bp_state_scopes;

/* The live scope of (topic, partition), created when missing. A partition below 0 means a
 * source without partitions: it has one scope whatever it names its topics. NULL on ENOMEM. */
bp_state_scope *bp_state_scopes_live(bp_state_scopes *ss, const char *topic, int32_t partition);
/* The scope whose id is `id`, dropped or not, or NULL once it is freed. */
bp_state_scope *bp_state_scopes_by_id(const bp_state_scopes *ss, uint64_t id);
/* Drops the live scope of (topic, partition), if any, during the poll of batch `seq`. */
void bp_state_scopes_drop(bp_state_scopes *ss, const char *topic, int32_t partition, uint64_t seq);
/* Frees the dropped scopes whose drop batch is at most `committed_seq`, calling `forget` with
 * each just before it is freed (so that what points into it can let go). */
void bp_state_scopes_free_dropped(bp_state_scopes *ss, uint64_t committed_seq,
                                  void (*forget)(void *user, const bp_state_scope *s), void *user);
/* Removes every key of `owner` from every scope. */
void bp_state_scopes_purge_owner(bp_state_scopes *ss, uint32_t owner);
/* Keys held in the live scopes. */
size_t bp_state_scopes_keys(const bp_state_scopes *ss);
/* Frees every scope (next_id stays). */
void bp_state_scopes_free(bp_state_scopes *ss);

#endif
