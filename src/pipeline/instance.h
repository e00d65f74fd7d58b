/* A configured plugin instance (the bp_ctx plugins see) and the host function table. */
#ifndef BPPIPE_INSTANCE_H
#define BPPIPE_INSTANCE_H

#include "bppipe/plugin.h"
#include "config/config.h"
#include "pipeline/loader.h"
#include "pipeline/record.h"

#include <stdbool.h>

/* Routes a sink can take, as a bit mask over bp_route. route = skipped is never part of
 * route = all: skipped resources are not readings. */
#define BP_ROUTE_BIT(r) (1u << (r))
#define BP_ROUTES_ALL (BP_ROUTE_BIT(BP_ROUTE_NORMAL) | BP_ROUTE_BIT(BP_ROUTE_ANOMALY))
/* route = critical: judged readings of severity critical (a subset of the other routes). */
#define BP_ROUTE_CRITICAL (1u << BP_ROUTE_COUNT)

typedef struct bp_counter {
    char *name;
    double value;
} bp_counter;

struct bp_ctx {
    char *name;                 /* the section name, e.g. "sink.anomalies" */
    const bp_section *section;  /* its keys (owned by the pipeline's config) */
    const bp_loaded *plugin;    /* the loaded .so */
    void *state;                /* what open() stored */
    bool opened;
    int state_owner; /* keyed state (src/pipeline/state.c): its slot + 1, 0 when it keeps none */

    /* sinks */
    unsigned routes;   /* BP_ROUTE_BIT mask */
    const char *route_name;
    int alarm_min_tier; /* route = alarm: only events of alarms escalated to this tier or more */
    int index;         /* bit in bp_record.sinks_pending */
    /* outcomes reported during the current write(): indexed by position in the batch */
    bp_batch *writing;
    signed char *outcomes; /* -1 = none reported */
    const char **outcome_reasons;
    size_t outcomes_cap;
    bp_arena scratch; /* the reasons of the current write (reset by bp_ctx_begin_write) */
    /* The documents of the current write that no other sink asks for (bp_document_unshared):
     * emptied by bp_ctx_end_write, its chunks given back when they were more than
     * BP_CTX_DOCS_KEEP. */
    bp_arena docs;

    /* statistics */
    uint64_t delivered, rejected, retries, calls;
    uint64_t spooled;  /* records written to its disk buffer (buffer = disk) */
    uint64_t in_spool; /* records left in the disk buffer when the run ended */
    double busy_s; /* time spent inside the plugin's stage calls */
    bp_counter *counters;
    size_t n_counters;
};

/* The host's function table (one per process). */
const bp_host *bp_host_table(void);

/* Prepares per-write outcome slots for `batch`. Returns 0 or -1 on ENOMEM. */
int bp_ctx_begin_write(bp_ctx *ctx, bp_batch *batch);
void bp_ctx_end_write(bp_ctx *ctx);
/* What an instance's document arena keeps between writes: a paced ward's writes reuse it, a
 * backlog's batch of documents (1.5 MiB for 2 000 readings) is given back after each write. */
#define BP_CTX_DOCS_KEEP (256 * 1024)

void bp_ctx_free(bp_ctx *ctx);

#endif
