/* Delivery lanes: one thread and one bounded FIFO of work per sink instance, so that a sink that
 * is down, slow or retrying holds back only the records routed to it. The main thread polls,
 * decodes, judges, routes and commits; each lane thread alone calls its sink's write() and
 * reload(). See docs/architecture.md, "Delivery lanes".
 *
 * This header is what the engine uses (src/engine/runner.c) and the operations side reads (the
 * bounds, the books' copies); how a lane delivers is private to src/delivery/lane*.c, in
 * lane_internal.h. */
#ifndef BPPIPE_LANE_H
#define BPPIPE_LANE_H

#include "delivery/lane_books.h"
#include "pipeline/pipeline.h"
#include "pipeline/stats.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* The first chunk of a batch's arena (bp_arena_init_growing): one reading of the ward with its
 * documents fits, and a batch of thousands grows to its size in a dozen doublings, kept warm
 * for the next batch. (A fixed first chunk of 256 KiB, counted whole, filled the default
 * lane_max_bytes with 128 batches of one reading.) */
#define BP_FLIGHT_FIRST_CHUNK (4 * 1024)

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
    /* What each lane holding part of the batch counts for it (lane_max_bytes), as of its last
     * count: the flight, its arrays and what its arena handed out (not the arena's chunks).
     * Documents cached and dead-letter copies made once it is shared grow it: the lanes holding
     * part of it are brought up to date under mu (lane.c). The runner sets 0 at the poll. */
    size_t bytes;
    /* every work item of the batch (bp_work.sibling); under mu */
    struct bp_work *works;
    uint64_t readings;               /* readings in it (skipped resources are not readings) */
    uint64_t routes[BP_ROUTE_COUNT]; /* judged routes, booked when the batch is committed */
    uint64_t corrected; /* accepted corrections among its readings (docs/revisions.md), likewise */
    double polled_s;                 /* when its poll returned (bp_now_s), for the batch duration */
    int64_t polled_ms; /* the same on the wall clock: a reading's arrival (both set by the
                          runner when its poll returns) */
} bp_flight;

/* What one lane must deliver of one batch, in the batch's arena. The lane fills in the rest
 * when it is pushed (bp_lanes_push). */
typedef struct bp_work {
    struct bp_work *next;
    bp_flight *flight;
    bp_record **recs;
    size_t n;
    struct bp_work *sibling; /* the batch's next work item (bp_flight.works) */
    struct bp_lane *lane;    /* the lane it waits in; NULL once done */
    size_t bytes;            /* what that lane counts for it: the batch's bytes */
} bp_work;

typedef struct bp_lanes bp_lanes;

/* One lane. What the main thread may read (under mu) is here; what only the lane's own thread
 * touches (the batch being delivered, its retries, the disk spool) is behind `own`, private to
 * src/delivery (lane_internal.h). */
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
    bool spool_full;   /* the last spill did not fit: the backlog waits for the spool to drain */
    bp_sink_seen seen; /* under mu: the sink's books after its last write (lane_books.h) */
    struct bp_lane_own *own; /* the lane thread's own state */
} bp_lane;

struct bp_lanes {
    bp_pipeline *p;
    bp_stats *st;
    pthread_mutex_t mu;     /* lanes' queues, batches' remaining counts, shared arenas */
    pthread_cond_t changed; /* signalled to the main thread on any progress or failure */
    bp_lane *lanes;         /* one per sink, indexed like p->sinks */
    size_t n;
    size_t *order;           /* hand-off order: route = critical lanes first */
    atomic_bool abandon;     /* lanes stop retrying and return at once */
    bool quit;               /* no more work will come: lanes exit (under mu) */
    bool fatal;              /* a sink answered BP_FATAL (under mu) */
    bool stopped;            /* the threads were joined (main thread) */
    struct bp_lane_own *own; /* one per lane, what lanes[i].own points to */
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
/* Stops the lanes if they run, then releases everything (the books' copies included). */
void bp_lanes_free(bp_lanes *ls);

#endif
