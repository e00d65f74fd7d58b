/* The copy of a sink's books that the operations side reads. A sink's books (delivered,
 * rejected, retries, spooled and its count() counters, in its bp_ctx) are written by its lane
 * thread alone, so the lane copies them under the lanes' lock after every write and spill; the
 * main thread reads the copy under the same lock (src/ops/metrics.c renders it). */
#ifndef BPPIPE_LANE_BOOKS_H
#define BPPIPE_LANE_BOOKS_H

#include "pipeline/instance.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* A sink's books as its lane last published them. Read and written under the lanes' mu; the
 * counters' names are owned here (copies), in the sink's order. Zeroed: nothing published. */
typedef struct bp_sink_seen {
    uint64_t delivered, rejected, retries, spooled;
    bp_counter *counters;
    size_t n_counters, cap;
} bp_sink_seen;

/* Lane thread: copies the books of `sink` into `seen`, taking `mu` (the lanes' lock). A counter
 * whose name cannot be copied (out of memory) is left out until a later publish. */
void bp_lane_publish_books(bp_sink_seen *seen, const bp_ctx *sink, pthread_mutex_t *mu);

/* Frees what `seen` holds and zeroes it (idempotent). Call once no lane thread runs. */
void bp_lane_books_free(bp_sink_seen *seen);

#endif
