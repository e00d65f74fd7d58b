/* The main thread's loop: poll the source, decode, run the detectors in order, route every
 * record to the sinks of its route and hand it to their delivery lanes (src/delivery/lane.h), then let
 * the source commit each batch, in poll order, once every routed sink delivered or
 * dead-lettered all of it. A full lane pauses the source, so memory stays bounded. */
#ifndef BPPIPE_RUNNER_H
#define BPPIPE_RUNNER_H

#include "alarm/alarm.h"
#include "engine/run_observer.h"
#include "pipeline/pipeline.h"
#include "pipeline/stats.h"

typedef struct bp_run_opts {
    uint64_t max_records; /* stop polling once this many readings were read; 0 = no limit */
    double duration_s;    /* stop polling after this long; 0 = no limit. After either limit the
                             lanes get drain_timeout_ms, then what is left stays uncommitted */
    bp_alarms *alarms;    /* the alarm stage ([alarms], src/alarm); NULL: none. The caller's */
} bp_run_opts;

/* SIGINT/SIGTERM: the first asks for a clean stop (stop polling, let the lanes deliver what is
 * in flight, commit, flush), the second abandons what is in flight (not committed, so it is
 * delivered again). */
void bp_runner_install_signals(void);
/* Asks the loop to stop as a signal would (tests, embedding). */
void bp_runner_request_stop(void);

/* Runs until the source ends, a limit is reached, a stop is requested or a stage fails
 * permanently. Fills `st`. `observer` (src/engine/run_observer.h; NULL: none) is told what the
 * run does; it is the caller's and must outlive the call. Returns the process exit status:
 * 0 clean, 1 runtime failure. */
int bp_run(bp_pipeline *p, const bp_run_opts *opts, const bp_run_observer *observer, bp_stats *st);

#endif
