/* Per-partition commit positions: for each (topic, partition) the offset to commit next, which
 * is the highest offset seen + 1. Plain data, no librdkafka, so it is tested directly. */
#ifndef BP_KAFKA_POSITIONS_H
#define BP_KAFKA_POSITIONS_H

#include <stddef.h>
#include <stdint.h>

typedef struct bp_kpos {
    char *topic;       /* owned */
    int32_t partition;
    int64_t next;      /* offset to commit: the highest offset noted + 1 */
} bp_kpos;

typedef struct bp_kpositions {
    bp_kpos *items; /* owned; `n` used, `cap` allocated */
    size_t n, cap;
} bp_kpositions;

/* Records that `offset` of (topic, partition) is done: the entry's `next` becomes
 * max(next, offset + 1), never lower, so a position only moves forward. `topic` is copied.
 * Returns 0, or -1 when out of memory or an argument is invalid (NULL topic, offset < 0). */
int bp_kpos_note(bp_kpositions *p, const char *topic, int32_t partition, int64_t offset);

/* Sets (topic, partition) to commit `next` unless it already has a higher one. Returns 0 or -1
 * as bp_kpos_note. */
int bp_kpos_raise(bp_kpositions *p, const char *topic, int32_t partition, int64_t next);

/* Copies every entry of `src` into `dst` with bp_kpos_raise. Returns 0 or -1. */
int bp_kpos_merge(bp_kpositions *dst, const bp_kpositions *src);

/* The entry for (topic, partition), or NULL. The pointer lives until the next change. */
const bp_kpos *bp_kpos_find(const bp_kpositions *p, const char *topic, int32_t partition);

/* Drops the entry for (topic, partition) if there is one. */
void bp_kpos_remove(bp_kpositions *p, const char *topic, int32_t partition);

/* Empties `p`, keeping its allocation. */
void bp_kpos_clear(bp_kpositions *p);

/* Releases everything; `p` may then be reused as if zero-initialised. NULL is ignored. */
void bp_kpos_free(bp_kpositions *p);

#endif
