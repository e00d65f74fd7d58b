/* Delivery lanes: one thread and one bounded FIFO of work per sink instance, so that a sink that
 * is down, slow or retrying holds back only the records routed to it. The main thread polls,
 * decodes, judges, routes and commits; each lane thread alone calls its sink's write() and
 * reload(). See docs/architecture.md, "Delivery lanes". */
#ifndef BPPIPE_LANE_H
#define BPPIPE_LANE_H

#include "common/json_buf.h"
#include "delivery/lane_books.h"
#include "pipeline/pipeline.h"
#include "delivery/spool.h"
#include "pipeline/stats.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* One polled batch from poll to commit: its payloads, the records decoded from them and the
 * arena all of them live in. Owned by the main thread; once handed to the lanes, its arena and
 * the documents cached in its records are touched only under bp_lanes.mu. */
typedef struct bp_flight {
    struct bp_flight *next; /* poll order (main thread) */
    bp_arena arena;
    bp_batch input;   /* the payloads, as the source filled them (commit() gets this) */
    bp_batch records; /* every decoded record, valid or not, in payload order */
    bp_batch valid;   /* the records detectors see */
    size_t remaining; /* deliveries (record x sink) not yet delivered or rejected; under mu */
    size_t bytes;     /* memory the batch holds (its arena), for the lanes' byte bounds */
    uint64_t readings; /* readings in it (skipped resources are not readings) */
    uint64_t routes[BP_ROUTE_COUNT]; /* judged routes, booked when the batch is committed */
    double polled_s;    /* when its poll returned (bp_now_s), for the batch duration */
    int64_t polled_ms;  /* the same on the wall clock: a reading's arrival (src/ops/metrics.c) */
} bp_flight;

/* What one lane must deliver of one batch, in the batch's arena. */
typedef struct bp_work {
    struct bp_work *next;
    bp_flight *flight;
    bp_record **recs;
    size_t n;
} bp_work;

typedef struct bp_lanes bp_lanes;

/* buffer_max_bytes when a buffer = disk sink section does not set it: 1 GiB. */
#define BP_SPOOL_DEFAULT_MAX ((int64_t)1 << 30)

/* Records offered to a sink until each is delivered or rejected, with the attempts each has used
 * towards max_record_attempts. `again` and `strikes_again` are the next round's. */
typedef struct bp_attempts {
    bp_batch pending, again;
    unsigned *strikes, *strikes_again;
    size_t cap;
} bp_attempts;

typedef struct bp_lane {
    bp_lanes *all;
    bp_ctx *sink;
    pthread_t thread;
    bool started;
    pthread_cond_t wake; /* work, reload or quit */
    /* under mu: the FIFO and its backlog (queued plus the batch being written) */
    bp_work *head, *tail;
    size_t records, bytes, batches;
    size_t max_records, max_bytes;
    unsigned failing; /* writes in a row that took nothing (the status line shows it) */
    bool reload;      /* SIGHUP: call reload() between batches, on this thread */
    /* buffer = disk (docs/spool.md): under mu, for the status line and the bounds */
    uint64_t spool_records, spool_bytes;
    bool spool_full; /* the last spill did not fit: the backlog waits for the spool to drain */
    bp_sink_seen seen; /* under mu: the sink's books after its last write (lane_books.h) */
    /* lane thread only */
    uint64_t rng;
    bp_attempts mem;                /* the batch being delivered from memory */
    bp_record **refused;           /* judged readings refused by the last write */
    const char **refused_why;
    size_t n_refused, refused_cap;
    /* buffer = disk, lane thread only (opened and verified before the thread starts) */
    bp_spool *spool;      /* NULL: buffer = memory, or the spool failed and is set aside */
    uint64_t spool_max;
    const char *spool_dir;
    bp_buf enc;           /* encoded records of one spill */
    bp_spool_entry *ents; /* and where each is in enc */
    size_t ents_cap;
    bp_flight *drained;   /* the chunk read back from the spool, in its own arena */
    bp_attempts back;     /* the chunk's records not yet delivered or rejected */
    uint64_t drain_n;     /* spool entries the chunk holds; 0: no chunk */
    unsigned drain_attempt; /* chunk writes in a row that took nothing */
    double next_drain;    /* when the chunk may be offered again (bp_now_s) */
} bp_lane;

struct bp_lanes {
    bp_pipeline *p;
    bp_stats *st;
    pthread_mutex_t mu;      /* lanes' queues, batches' remaining counts, shared arenas */
    pthread_cond_t changed;  /* signalled to the main thread on any progress or failure */
    bp_lane *lanes;          /* one per sink, indexed like p->sinks */
    size_t n;
    size_t *order;           /* hand-off order: route = critical lanes first */
    atomic_bool abandon;     /* lanes stop retrying and return at once */
    bool quit;               /* no more work will come: lanes exit (under mu) */
    bool fatal;              /* a sink answered BP_FATAL (under mu) */
    bool stopped;            /* the threads were joined (main thread) */
};

/* Sets up one lane per sink of `p` with its bounds, opens and verifies the disk spools of
 * buffer = disk sinks (a damaged or foreign one is refused), and starts the threads (signals
 * blocked in them, so the main thread takes SIGINT/SIGTERM/SIGHUP). Returns 0 or -1 (logged). */
int bp_lanes_start(bp_lanes *ls, bp_pipeline *p, bp_stats *st);
/* Hands `n` work items of one batch to their lanes (w[i] to lanes[lane[i]]), under mu. */
void bp_lanes_push(bp_lanes *ls, bp_work **w, const size_t *lane, size_t n);
/* Index of the first lane at or over a bound, or -1. Call under mu. */
int bp_lanes_first_full(const bp_lanes *ls);
/* Asks every lane that has reload() to call it before its next batch. */
void bp_lanes_request_reload(bp_lanes *ls);
/* Appends to `buf` one note per lane with a backlog that is full or failing. Takes mu. */
void bp_lanes_note(bp_lanes *ls, int blocked, uint64_t polls, char *buf, size_t size);
/* Tells the lanes to exit (abandon: without finishing their backlog), joins them and frees
 * what their threads own. The queues, bounds and lock stay until bp_lanes_free. */
void bp_lanes_stop(bp_lanes *ls, bool abandon);
/* Stops the lanes if they run, then releases everything. */
void bp_lanes_free(bp_lanes *ls);

/* Between lane.c and lane_spool.c (the buffer = disk half of a lane). */
typedef enum { LANE_OK, LANE_FATAL, LANE_ABANDONED } bp_lane_result;
/* What one write did with the records it was offered. */
typedef struct bp_write_tally {
    size_t sent, done, failed; /* done: delivered or rejected */
    bool all_singled_out;      /* every failed record had failed before as the odd one out */
} bp_write_tally;
/* One write of a->pending to the lane's sink: delivered and rejected records leave it (refused
 * readings go to the dead-letter lanes as part of `f`), failed ones stay with their strikes. */
bp_lane_result bp_lane_write_once(bp_lane *l, bp_attempts *a, bp_flight *f, bp_write_tally *t);
int bp_attempts_reserve(bp_lane *l, bp_attempts *a, size_t n);
void bp_attempts_free(bp_attempts *a);
/* Appends n records (with their strikes; NULL: none used) to the lane's spool, durably, and
 * counts them spooled. 0 when they are all there; 1 when they do not fit now (spool_full) or
 * the spool has been set aside after a disk error: then none of them is. */
int bp_lane_spill(bp_lane *l, bp_record **recs, const unsigned *strikes, size_t n);
/* The lane thread of a buffer = disk sink; `deliver` delivers one batch from memory. */
void *bp_spooled_lane_thread(bp_lane *l, bp_lane_result (*deliver)(bp_lane *, bp_work *));
/* The head batch of the lane is delivered (or durable in its spool): it leaves the backlog and
 * its deliveries count as done for the commit. Call under mu. */
void bp_lane_pop_done(bp_lane *l);
/* Calls the sink's reload() (SIGHUP) on the lane thread, and logs how it went. */
void bp_lane_reload(bp_lane *l);
/* Opens the lane's spool and verifies every entry decodes; -1 (logged) refuses the start. */
int bp_lane_open_spool(bp_lane *l, const char *dir, uint64_t max_bytes);
void bp_lane_close_spool(bp_lane *l);

#endif
