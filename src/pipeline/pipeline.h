/* A pipeline: the parsed file, the loaded plugins and their configured instances. Building
 * validates everything before anything runs; opening calls each plugin's open(). */
#ifndef BPPIPE_PIPELINE_H
#define BPPIPE_PIPELINE_H

#include "config/config.h"
#include "pipeline/instance.h"
#include "pipeline/loader.h"
#include "pipeline/plausibility.h"

#define BP_MAX_SINKS 64

typedef struct bp_settings {
    int64_t batch_size;
    int64_t stats_interval_s;
    int64_t poll_timeout_ms;
    int64_t commit_wait_ms; /* a poll's longest wait while batches wait for their commit */
    int64_t linger_ms; /* gather a batch this long after its first payload (0: take what is there) */
    int64_t decode_threads; /* threads decoding a batch, the main thread included (1: inline) */
    bool decode_ahead; /* poll the next batch once one is judged, decode it during the hand-off */
    int64_t max_payload_bytes;
    int64_t retry_initial_ms;
    int64_t retry_max_ms;
    int64_t max_record_attempts; /* a record singled out by a sink is dead-lettered after this */
    int64_t lane_max_records;    /* a sink's backlog at which the source pauses */
    int64_t lane_max_bytes;      /* the memory of the batches a sink's backlog holds, likewise */
    int64_t drain_timeout_ms;    /* after --duration/--max-records: how long lanes may drain */
    int64_t state_interval_ms;   /* snapshot files at most this often (src/pipeline/state.c) */
    int64_t revisions_max_keys;  /* the revision ledger's bound per partition (0: none) */
    const char *revisions_state_file; /* its snapshot file (the config's text); NULL: none */
    /* the operations listener (src/ops/http.c); the texts are the config's, NULL when unset */
    const char *http_listen, *http_port_file, *http_token_env;
    int64_t ready_grace_ms; /* /readyz turns 503 once a sink has been failing this long */
    int64_t live_patients, live_history, live_events; /* the live page's bounds (src/ops/live.h) */
    bp_plausible plausible;
} bp_settings;

typedef struct bp_pipeline {
    bp_config cfg;
    bp_loader loader;
    bp_settings settings;
    bp_ctx *source;
    bp_ctx **detectors;
    size_t n_detectors;
    bp_ctx **sinks;
    size_t n_sinks;
    bool has_invalid_sink;
} bp_pipeline;

/* The [pipeline] section's declared keys (printed by `bppipe run --help`). */
const bp_option *bp_pipeline_options(size_t *n);

/* Loads `path`, applies the command-line `edits` in order (-o, -u; see bp_config_apply),
 * loads plugins, drops the file's keys a swapped-in plugin does not declare, and validates
 * every key. An undefined ${VAR} is an error only in a key that is still part of the
 * pipeline. All problems go to `errs`; returns 0 when there are none. */
int bp_pipeline_build(bp_pipeline *p, const char *path, const bp_edit *edits, size_t n_edits,
                      bp_errors *errs);
/* Calls open() on every instance (source last, so sinks are ready before data flows).
 * Returns 0, or -1 after adding the failing instance to `errs`. */
int bp_pipeline_open(bp_pipeline *p, bp_errors *errs);
/* Flushes sinks and closes every opened instance, in reverse order. */
void bp_pipeline_close(bp_pipeline *p);
void bp_pipeline_free(bp_pipeline *p);

#endif
