/* Input the host adds to a run from another thread (docs/alarms.md, "Acknowledging"): an
 * alarm acknowledgement the http listener received. Two ways, by the source:
 *   - a source without partitions: bp_runner_inject queues the payload; the main thread
 *     appends it to the next batch it polls (after the source's payloads, with no origin, so
 *     the source's commit() never sees it) and the request is done once that batch is
 *     committed: the acknowledgement was applied and its event delivered;
 *   - a partitioned source with send_input (ABI 1.7, Kafka): bp_runner_send_input asks the
 *     main thread to call the source's send_input between two stage calls, which appends the
 *     message to the source's own input at that partition; done when it is durable there. The
 *     process that owns the partition then reads it in order with the readings.
 * One queue per process, open while bp_run runs: a request made outside a run is refused. */
#ifndef BPPIPE_INJECT_H
#define BPPIPE_INJECT_H

#include <stddef.h>
#include <stdint.h>

struct bp_batch;
struct bp_ctx;

typedef struct bp_inject_req bp_inject_req;

/* The most requests waiting at once; more are refused (the listener answers 503). */
#define BP_INJECT_MAX_QUEUED 256

/* Any thread. Copies `data`; NULL when no run is on, the queue is full or memory ran out. */
bp_inject_req *bp_runner_inject(const void *data, size_t len);
bp_inject_req *bp_runner_send_input(const char *topic, int32_t partition, const void *key,
                                    size_t key_len, const void *data, size_t len);

typedef enum bp_inject_outcome {
    BP_INJECT_DONE = 0,    /* committed (inject) or durable in the source's input (send) */
    BP_INJECT_REFUSED = 1, /* send_input answered BP_EINVAL: not a partition of this input */
    BP_INJECT_FAILED = 2,  /* the run ended first, the source has no send_input, or it failed */
    BP_INJECT_TIMEOUT = 3  /* not done within the time given */
} bp_inject_outcome;

/* Any thread: waits up to timeout_ms for `r` and releases it (the caller must not use it
 * again, whatever the outcome; a request that timed out is still carried out). */
bp_inject_outcome bp_inject_wait(bp_inject_req *r, int timeout_ms);

/* --- the main thread's side (src/engine/runner.c) --- */

/* bp_run's start and end: requests are taken only in between; at the end every request not
 * done fails. */
void bp_inject_run_begin(void);
void bp_inject_run_end(void);
/* Appends the queued payloads to `input` (a polled batch, poll order `seq`): how many. */
size_t bp_inject_drain(struct bp_batch *input, uint64_t seq);
/* How many payloads of batch `seq` the host added (they are the last of its input). */
size_t bp_inject_count(uint64_t seq);
/* The batches up to `seq` are committed: their requests are done. */
void bp_inject_committed(uint64_t seq);
/* Carries out the queued send_input requests with `source` (between two stage calls). */
void bp_inject_serve_sends(struct bp_ctx *source);

#endif
