/* How a run tells whoever watches it what it does: a table of callbacks and the context they
 * get back, handed to bp_run (src/engine/runner.h). The runner calls them at fixed points of its
 * loop and knows nothing of who answers; operations (src/ops/metrics.c: /metrics, /readyz, the
 * live page) implement one. A run handed no observer (NULL) runs exactly the same, unwatched.
 *
 * Threads and time: every callback is called on the main thread, the one bp_run runs on,
 * between two of its steps, never under a lock of the runner's. While a callback runs the
 * source is not polled, nothing is committed and no status line is printed, so each must
 * return within a few milliseconds (the lanes go on delivering meanwhile). Every callback may
 * be NULL: that point is then not reported. */
#ifndef BPPIPE_RUN_OBSERVER_H
#define BPPIPE_RUN_OBSERVER_H

#include <stdbool.h>

struct bp_batch;
struct bp_flight;
struct bp_lanes;
struct bp_pipeline;
struct bp_stats;

typedef struct bp_run_observer {
    void *ctx; /* the observer's own, passed back to every callback; the runner never reads it */

    /* Once, when the delivery lanes run and before the first poll. `p` (settings, instances)
     * and `ls` (ls->n lanes, one per sink, indexed like p->sinks) may be read during the call,
     * and `p` until `stopped` returns. Returns 0, or -1 after logging why: the run then stops
     * its lanes and bp_run returns 1 without polling; `stopped` is not called, so a failing
     * `started` leaves nothing behind. */
    int (*started)(void *ctx, const struct bp_pipeline *p, const struct bp_lanes *ls);

    /* Often: once right after `started` with `force` set, then every turn of the main loop
     * (after each poll, and about every 100 ms while the loop waits for a full lane or
     * drains; none comes while a poll waits, up to poll_timeout_ms, or a back-off sleeps).
     * Rate-limit what is costly. `st` (the books) and `p` belong to the main thread: read them
     * freely during the call. What the lanes hold (queues, counts, published books) only
     * under ls->mu, which the callback takes and releases itself before returning. */
    void (*tick)(void *ctx, const struct bp_stats *st, const struct bp_pipeline *p,
                 struct bp_lanes *ls, bool force);

    /* A polled batch is decoded, judged by every detector and routed (each record's
     * sinks_pending says which sinks it goes to), just before the lanes get it. `records` and
     * everything its records point to may be read during the call only: afterwards the batch
     * is shared with the lane threads. Records of route = skipped are among them. */
    void (*judged)(void *ctx, const struct bp_batch *records);

    /* A batch was committed: every sink it was routed to delivered or dead-lettered its part.
     * `f` (its records, polled_s and polled_ms) is the main thread's alone during the call,
     * and is reused for another batch once the call returns. */
    void (*committed)(void *ctx, const struct bp_flight *f);

    /* Once, at the end of a run whose `started` returned 0, whatever its outcome: the lanes
     * have stopped (their threads joined) and nothing more is delivered or committed. The
     * lanes are freed right after: release here whatever reads them (a listener's thread). */
    void (*stopped)(void *ctx);
} bp_run_observer;

#endif
