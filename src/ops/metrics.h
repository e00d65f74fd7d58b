/* What the operations listener serves, built on the main thread: the Prometheus text of the
 * run's books and the readiness verdict, published to src/ops/http.c at most every 200 ms, and
 * the live page's state (src/ops/live.h). It watches a run as its observer
 * (src/engine/run_observer.h): the engine never calls it.
 * Sinks' books are written by their lane threads, so each lane copies them (and its sink's
 * count() counters) into its bp_sink_seen under the lanes' lock after every write; the main
 * thread reads those copies under the same lock. See docs/operations.md. */
#ifndef BPPIPE_METRICS_H
#define BPPIPE_METRICS_H

#include "common/json_buf.h"
#include "engine/run_observer.h"
#include "pipeline/instance.h"

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
    bp_run_observer observer; /* what bp_metrics_observer hands out; ctx is this struct */
    struct bp_http *http;     /* NULL: not listening (yet, or any more), nothing is built */
    bp_buf text;
    double last;           /* bp_now_s() of the last publish */
    double *failing_since; /* per lane: when its writes started taking nothing; 0: they take */
    size_t n;
    bp_histogram e2e;   /* per reading: source timestamp (or arrival) to the batch's commit */
    bp_histogram batch; /* per batch: poll to commit */
    struct bp_live *live; /* the ward's live state (src/ops/live.h); NULL without a listener */
    bp_buf live_text;
    double live_last; /* bp_now_s() of its last render */
    /* The alarms' burden (src/alarm/burden.h) served as bppipe_alarms_* and on the live page;
     * the caller's, set after bp_metrics_observer and before the run; NULL: no alarms. */
    struct bp_burden *burden;
    /* The alarm stage (src/alarm/alarm.h) whose active alarms /api/alarms lists, published with
     * the live page's snapshot; NULL: none. The caller sets it after bp_metrics_observer. */
    struct bp_alarms *alarms;
    struct bp_alarm_api *alarm_api; /* the listener's (freed with it); NULL without [alarms] */
} bp_metrics;

/* The observer that serves a run on [pipeline] http_listen, for bp_run (src/engine/runner.h):
 * fills `m` (the caller's storage, which must outlive the run; once the run returned it holds
 * nothing to free) and returns its observer, or NULL when `p` has no http_listen: such a run
 * has nothing to serve and goes unobserved. The callbacks, on the run's main thread:
 *   started   reads the token from the variable http_token_env names, [alarms] users_file
 *             and audit_file (src/ops/alarm_api.h), and starts the listener; -1 (logged)
 *             when it cannot, and the run must not start;
 *   tick      builds and publishes the snapshot when BP_METRICS_EVERY_S has passed (or
 *             `force`), the live page's and the alarm list every BP_LIVE_EVERY_S; takes the
 *             lanes' mu;
 *   judged    feeds the batch's readings to the live page's state;
 *   committed observes each reading's end-to-end latency and the batch's duration;
 *   stopped   stops the listener and frees everything `m` holds. */
const bp_run_observer *bp_metrics_observer(bp_metrics *m, const struct bp_pipeline *p);
/* The Prometheus text itself (exposed for the tests). Call under the lanes' mu. */
void bp_metrics_render(bp_buf *b, const bp_metrics *m, const struct bp_stats *st,
                       const struct bp_pipeline *p, const struct bp_lanes *ls, double now);

#endif
