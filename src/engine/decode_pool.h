/* Decoding a batch on several cores ([pipeline] decode_threads).
 *
 * The pool splits a batch's payloads into blocks of consecutive payloads. Its helper threads
 * and the calling thread take blocks in turn and decode each into the taker's own arena (the
 * decoder's items, strings copied, since the decoder's are valid only during its callback).
 * When every block is done, the calling thread hands every item to `emit` in payload order,
 * then in the decoder's order within a payload: exactly the calls one thread decoding the
 * payloads one after another would make. The helpers run only the decoder (pure functions),
 * never a plugin, and `emit` runs on the calling thread, so what it touches needs no lock. */
#ifndef BPPIPE_DECODE_POOL_H
#define BPPIPE_DECODE_POOL_H

#include "fhir/fhir_decode.h"
#include "pipeline/record.h"

#include <stddef.h>

/* The most threads a pool decodes with, the calling thread included ([pipeline] decode_threads
 * allows 1..64, src/pipeline/pipeline.c). */
#define BP_DECODE_MAX_THREADS 64

typedef struct bp_decode_pool bp_decode_pool;

/* Called on the calling thread for each item of payload `payload` (an index into the batch);
 * `item`'s strings are valid during the call only. Return 0 to go on; a non-zero value stops
 * the replay and is returned by bp_decode_pool_run. */
typedef int (*bp_decode_pool_emit)(void *user, size_t payload, const bp_decoded *item);

/* What the host makes of one payload record, on any thread: the decoder's items (see
 * bp_payload_decode), or, for a payload the source rejected (add_rejected, `rejected` set), one
 * dead letter with the source's reason and resource_index -1, its bytes never decoded. The one
 * place that decision is made: the runner's inline loop and the pool's threads both call it. */
int bp_decode_input(const bp_record *in, const bp_decode_opts *opts, bp_decode_emit emit,
                    void *user);

/* A pool that decodes with `threads` threads, the caller of bp_decode_pool_run among them:
 * threads - 1 helpers are started. `threads` is 2..BP_DECODE_MAX_THREADS (1 is decoding
 * inline: no pool). Calls bp_fhir_decode_init() before the helpers start. Returns NULL when
 * memory or a thread could not be had (nothing is left running). */
bp_decode_pool *bp_decode_pool_start(unsigned threads);

/* Decodes the payloads of `input` (each through bp_decode_input) and replays every
 * item through `emit` in payload order. A payload for which the decoder emitted nothing gets
 * one invalid item ("decoder produced no reading and no reason"), as the runner's inline
 * loop does. Returns 0; the non-zero value `emit` returned; or -1 when memory ran out while
 * decoding (then nothing is emitted). One call at a time per pool. */
int bp_decode_pool_run(bp_decode_pool *pool, const bp_batch *input, const bp_decode_opts *opts,
                       bp_decode_pool_emit emit, void *user);

/* The same in two steps, so that the caller does other work while the helpers decode
 * ([pipeline] decode_ahead: the next batch decoded while the main thread hands off the
 * current one). bp_decode_pool_submit starts the helpers on the payloads of `input`, which
 * must stay as they are until bp_decode_pool_finish returns; it returns 0, or -1 when memory
 * ran out (nothing was started: decode with bp_decode_pool_run). bp_decode_pool_finish has the
 * calling thread take the blocks no helper has taken yet, waits for the helpers, and replays
 * as bp_decode_pool_run does (same return values). One submitted run at a time; run, submit
 * and finish are called from one thread. */
int bp_decode_pool_submit(bp_decode_pool *pool, const bp_batch *input, const bp_decode_opts *opts);
int bp_decode_pool_finish(bp_decode_pool *pool, bp_decode_pool_emit emit, void *user);

/* Stops and joins the helpers and frees the pool; helpers busy on a run submitted and not
 * finished decode its blocks left first (the run's output is dropped). NULL is fine. */
void bp_decode_pool_stop(bp_decode_pool *pool);

#endif
