/* The ward's live state behind the page at / (docs/live-page.md): bounded, in memory, fed by the
 * main thread with every judged batch, and rendered by it as one JSON text that the listener
 * (src/ops/http.c) only copies. Nothing here is shared with another thread. */
#ifndef BPPIPE_LIVE_H
#define BPPIPE_LIVE_H

#include "common/json_buf.h"

#include <stddef.h>
#include <stdint.h>

struct bp_batch;
struct bp_pipeline;
typedef struct bp_live bp_live;

/* Bounds: patients kept (the newest seen), readings per patient, recent events. */
typedef struct bp_live_bounds {
    size_t patients, history, events;
} bp_live_bounds;

/* Buckets of the time series: readings per second (last 60 s), anomalies by type per 10 s
 * (last 10 min), the ML risk histogram's bins over [0, 1]. */
#define BP_LIVE_RATE_SLOTS 60
#define BP_LIVE_TYPE_BUCKET_S 10
#define BP_LIVE_TYPE_SLOTS 60
#define BP_LIVE_TYPES 12
#define BP_LIVE_RISK_BINS 10
/* The least time between two renders, in seconds. */
#define BP_LIVE_EVERY_S 1.0

/* alert_sinks: bit i set when a reading routed to sink i is an alert (src/ops/metrics.c sets
 * the sinks of route = critical). NULL on ENOMEM. */
bp_live *bp_live_new(bp_live_bounds b, uint64_t alert_sinks);
void bp_live_free(bp_live *l);
/* Main thread, once a batch is judged and routed (sinks_pending set): takes its readings.
 * now_ms: wall-clock milliseconds (the buckets' time). */
void bp_live_feed(bp_live *l, const struct bp_batch *records, int64_t now_ms);
/* Writes the snapshot (the /api/ward document) into `b`. */
void bp_live_render(const bp_live *l, bp_buf *b, int64_t now_ms);
/* The alarms' burden (src/alarm/burden.h) the snapshot shows as `alarm_burden` (null without
 * one): the caller's, read at each render on the main thread. */
struct bp_burden;
void bp_live_set_burden(bp_live *l, struct bp_burden *burden);
/* The bytes the state holds (its fixed allocation; the rendered text is apart). */
size_t bp_live_bytes(const bp_live *l);

#endif
