/* Keyed state (ABI 1.5): the values detectors and sinks keep per key, held by the host per input
 * partition and folded at the same watermark as the source's commits. See plugin.h ("keyed
 * state") for the contract and docs/architecture.md ("Keyed state and exactness") for why a
 * restore is exact.
 *
 * One store per process, behind one lock: detectors call it on the main thread, sinks on their
 * delivery lanes. Every value is kept as of the last commit (the base) plus one version per
 * uncommitted batch that changed it, so the state as of any commit point is known without
 * stopping the pipeline.
 *
 * state.c implements this header over pure parts, each private to src/pipeline/state*.c:
 * state_owners (which instance holds which slot), state_scopes (a scope per input partition),
 * state_table (a scope's keys and values), state_pending (the uncommitted batches) and
 * state_snapshot (the snapshot file format). */
#ifndef BPPIPE_STATE_H
#define BPPIPE_STATE_H

#include "bppipe/plugin.h"

#include <stdbool.h>
#include <stdint.h>

struct bp_record;

/* Before anything opens: whether the source persists the state itself (BP_CAP_KEYED_STATE),
 * and how often snapshot files are written otherwise (milliseconds; 0: after every commit). */
void bp_state_configure(bool source_keeps_state, int64_t snapshot_interval_ms);

/* The batch polled next has sequence number `seq` (poll order, from 1). */
void bp_state_begin_poll(uint64_t seq);
/* Stamps a payload record the source adds with the batch's sequence number and its partition's
 * state, so the state it is judged with is the one it was read under, whatever is dropped or
 * restored later in the same poll. The host table's add_payload (host.c) calls it. */
void bp_state_stamp(struct bp_record *input, uint64_t seq);
/* The batch `seq` and every one before it are committed: their changes become the base. */
void bp_state_commit(uint64_t seq);
/* Writes the snapshot files when some are due (or `final`: at the end of a run, when anything
 * changed). Returns 0, or -1 when one could not be written (logged; the run goes on). */
int bp_state_checkpoint(bool final);
/* Keys held now in the partitions not dropped (for the summary and /metrics). */
size_t bp_state_keys(void);
/* Visits the current value (its latest version, committed or not) of every key of `ctx` in
 * the partitions held now (not dropped), in no particular order; stops at the first non-zero
 * return, which it returns. The host's own owners use it (the alarm stage: due escalations,
 * the list of active alarms, an acknowledgement by alarm id). The store's lock is held during
 * the walk: `visit` must copy what it needs and call no state function. */
typedef int (*bp_state_each_fn)(void *user, const char *topic, int32_t partition,
                                const void *key, size_t key_len, const void *value, size_t len);
int bp_state_each(const bp_ctx *ctx, bp_state_each_fn visit, void *user);
/* Forgets an instance's registration, its keys and their uncommitted changes; when it was the
 * last owner, empties the store (bp_state_reset). */
void bp_state_forget_owner(const bp_ctx *ctx);
/* Frees everything: the end of the process or of a conform child's plugin. */
void bp_state_reset(void);

/* The host table's functions (see plugin.h). */
int bp_state_open(bp_ctx *ctx, const char *format, uint64_t max_keys, const char *file);
int bp_state_get(bp_ctx *ctx, const struct bp_record *rec, const void *key, size_t key_len,
                 void *out, size_t out_size, size_t *len);
int bp_state_put(bp_ctx *ctx, const struct bp_record *rec, const void *key, size_t key_len,
                 const void *value, size_t len, bool present);
int bp_state_changes(bp_ctx *ctx, const bp_batch *batch, bp_state_visit visit, void *user);
/* state_restore less its counter: sets *ignored when the value's owner no longer exists, for
 * the host table (host.c) to count state_restore_ignored. */
int bp_state_restore(bp_ctx *ctx, const char *topic, int32_t partition, const char *ns,
                     const void *key, size_t key_len, const void *value, size_t len, bool *ignored);
int bp_state_drop(bp_ctx *ctx, const char *topic, int32_t partition);

#endif
