/* The batch loop: poll the source, decode, run the detectors in order, route every record to
 * the sinks of its route, retry what a sink could not take, then let the source commit. One
 * batch is in flight at a time, so a failing sink pauses the source and memory stays bounded. */
#ifndef BPPIPE_RUNNER_H
#define BPPIPE_RUNNER_H

#include "pipeline.h"
#include "stats.h"

typedef struct bp_run_opts {
    uint64_t max_records; /* stop once this many records were delivered or dead-lettered; 0 = no
                             limit */
    double duration_s;    /* stop after this long; 0 = no limit */
} bp_run_opts;

/* SIGINT/SIGTERM: the first asks for a clean stop (finish the batch in flight, flush, commit),
 * the second abandons the batch in flight (it is not committed, so it is delivered again). */
void bp_runner_install_signals(void);
/* Asks the loop to stop as a signal would (tests, embedding). */
void bp_runner_request_stop(void);

/* Runs until the source ends, a limit is reached, a stop is requested or a stage fails
 * permanently. Fills `st`. Returns the process exit status: 0 clean, 1 runtime failure. */
int bp_run(bp_pipeline *p, const bp_run_opts *opts, bp_stats *st);

#endif
