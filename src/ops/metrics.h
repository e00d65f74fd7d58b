/* What the operations listener serves, built on the main thread: the Prometheus text of the
 * run's books and the readiness verdict, published to src/ops/http.c at most every 200 ms.
 * Sinks' books are written by their lane threads, so each lane copies them (and its sink's
 * count() counters) into its bp_sink_seen under the lanes' lock after every write; the main
 * thread reads those copies under the same lock. See docs/operations.md. */
#ifndef BPPIPE_METRICS_H
#define BPPIPE_METRICS_H

#include "pipeline/instance.h"
#include "common/json_buf.h"

#include <stdbool.h>
#include <stdint.h>

struct bp_lanes;
struct bp_pipeline;
struct bp_stats;
struct bp_http;

/* Upper bounds of the latency histograms' buckets, in seconds (+Inf beside them). */
#define BP_METRICS_BUCKETS 14
extern const double bp_metrics_bounds[BP_METRICS_BUCKETS];

/* A Prometheus histogram: counts per bucket (not cumulative here), their count and sum. */
typedef struct bp_histogram {
    uint64_t bucket[BP_METRICS_BUCKETS + 1]; /* the last: above every bound */
    uint64_t count;
    double sum;
} bp_histogram;

/* The least time between two publishes, in seconds. */
#define BP_METRICS_EVERY_S 0.2

typedef struct bp_metrics {
    struct bp_http *http; /* NULL: no http_listen, nothing is built */
    bp_buf text;
    double last;           /* bp_now_s() of the last publish */
    double *failing_since; /* per lane: when its writes started taking nothing; 0: they take */
    size_t n;
    bp_histogram e2e;   /* per reading: source timestamp (or arrival) to the batch's commit */
    bp_histogram batch; /* per batch: poll to commit */
    struct bp_live *live; /* the ward's live state (src/ops/live.h); NULL without a listener */
    bp_buf live_text;
    double live_last; /* bp_now_s() of its last render */
} bp_metrics;

/* Starts the listener when [pipeline] http_listen is set (and reads the token from the
 * variable http_token_env names). 0, or -1 after logging why (the run must not start). */
int bp_metrics_start(bp_metrics *m, const struct bp_pipeline *p, size_t n_lanes);
/* Main thread: builds and publishes the snapshot when BP_METRICS_EVERY_S has passed (or
 * `force`). Takes the lanes' mu. Nothing without a listener. */
void bp_metrics_tick(bp_metrics *m, const struct bp_stats *st, const struct bp_pipeline *p,
                     struct bp_lanes *ls, bool force);
struct bp_flight;
/* Main thread, when a poll returned: stamps the batch with the time (monotonic and wall). */
void bp_metrics_polled(struct bp_flight *f);
/* Main thread, when a batch is committed (every sink has acknowledged its readings): observes
 * each reading's end-to-end latency and the batch's duration. Nothing without a listener. */
void bp_metrics_committed(bp_metrics *m, const struct bp_flight *f);
struct bp_batch;
/* Main thread, once a batch is judged and routed: feeds its readings to the live page's state.
 * Nothing without a listener. */
void bp_metrics_judged(bp_metrics *m, const struct bp_batch *records);
/* Stops the listener and frees what the lanes' copies hold. Call after the lanes stopped. */
void bp_metrics_stop(bp_metrics *m, struct bp_lanes *ls);
/* The Prometheus text itself (exposed for the tests). Call under the lanes' mu. */
void bp_metrics_render(bp_buf *b, const bp_metrics *m, const struct bp_stats *st,
                       const struct bp_pipeline *p, const struct bp_lanes *ls, double now);

#endif
