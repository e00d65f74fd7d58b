/* Private to src/delivery/lane*.c: what the files of the delivery lanes share, and nothing else
 * includes. lane.c runs a lane (its thread and its one loop, batches from memory with their
 * back-off, the FIFO and its bounds); lane_write.c is one write to the sink and what becomes of
 * each record; lane_spool.c is the buffer = disk side of the loop (docs/spool.md, "In a lane");
 * lane_books.c copies a sink's books for the operations side. */
#ifndef BPPIPE_LANE_INTERNAL_H
#define BPPIPE_LANE_INTERNAL_H

#include "common/json_buf.h"
#include "delivery/lane.h"
#include "delivery/spool.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* buffer_max_bytes when a buffer = disk sink section does not set it: 1 GiB. */
#define BP_SPOOL_DEFAULT_MAX ((int64_t)1 << 30)

/* How a lane's step ended: go on, stop the run (the sink answered BP_FATAL, or out of memory),
 * or stop at once because the lanes were told to give up. */
typedef enum { LANE_OK, LANE_FATAL, LANE_ABANDONED } bp_lane_result;

/* What one write did with the records it was offered. */
typedef struct bp_write_tally {
    size_t sent, done, failed; /* done: delivered or rejected */
    bool all_singled_out;      /* every failed record had failed before as the odd one out */
} bp_write_tally;

/* Records offered to a sink until each is delivered or rejected, with the attempts each has used
 * towards max_record_attempts and the part (the polled batch) each belongs to: one write may
 * carry the records of several batches queued on the lane (lane.c, "merged writes"), and each
 * batch's dead letters, bytes and count of deliveries owed stay its own. `again`,
 * `strikes_again` and `part_again` are the next round's. */
typedef struct bp_attempts {
    bp_batch pending, again;
    unsigned *strikes, *strikes_again;
    unsigned *part, *part_again; /* index into parts */
    size_t cap;
    bp_flight **parts; /* the batch of each part: where its dead letters are made */
    size_t *left;      /* per part: its records still in pending */
    size_t n_parts, parts_cap;
} bp_attempts;

/* A write from memory takes every batch queued on the lane behind the first, up to these bounds
 * (the first batch is always taken whole): a sink that is slower than the source then pays its
 * fixed costs per write (sink-file's syncfs, a _bulk request's round trip) once for several
 * batches instead of once for each, and catches up. Bounded so that one write stays a size a
 * sink handles well (1 024 files are one syncfs group of sink-file; a _bulk of 1 024 documents
 * is about a MiB); a larger bound (4 096) kept the lane full, and the source paused, long
 * enough to put bench/latency.sh's p99 near 300 ms. */
#define BP_LANE_MERGE_RECORDS 1024
#define BP_LANE_MERGE_BYTES ((size_t)16 << 20)

/* How often a retry that repeats through an outage is said at warn: the interval of the log's
 * own rate limit (src/base/log.c), so these lines keep the pace of the others. */
#define BP_RETRY_NOTE_S 10.0

/* What was said of one kind of retry (a batch from memory, the disk buffer's chunk): each
 * attempt has its line, but only the first of an outage, and then one per BP_RETRY_NOTE_S with
 * the attempts since, are warnings (the rest are debug), and a warned outage's end is said. A
 * sink down for 15 s is three lines above debug, not one per attempt. */
typedef struct bp_retry_note {
    double next_s;     /* bp_now_s from which the next warning may be said */
    double began_s;    /* the outage's first failed attempt */
    unsigned attempts; /* failed attempts of this outage */
    unsigned unsaid;   /* failed attempts since the last warning */
    bool warned;       /* this outage had a warning: its end is said */
} bp_retry_note;

/* What only the lane's thread touches once it runs (bp_lane.own). The spool is opened and
 * verified on the main thread before the thread starts, and closed after it was joined. */
struct bp_lane_own {
    uint64_t rng;     /* the back-off's jitter */
    bp_attempts mem;  /* the batch being delivered from memory */
    bp_work **merged; /* the queued batches the write from memory carries, oldest first */
    size_t merged_cap;
    bp_record **refused; /* judged readings refused by the last write */
    const char **refused_why;
    bp_flight **refused_from; /* the batch each refused reading belongs to */
    size_t n_refused, refused_cap;
    /* buffer = disk */
    bp_spool *spool; /* NULL: buffer = memory, or the spool failed and is set aside */
    uint64_t spool_max;
    const char *spool_dir;
    bp_buf enc;           /* encoded records of one spill */
    bp_spool_entry *ents; /* and where each is in enc */
    size_t ents_cap;
    bp_flight *drained;     /* the chunk read back from the spool, in its own arena */
    bp_attempts back;       /* the chunk's records not yet delivered or rejected */
    uint64_t drain_n;       /* spool entries the chunk holds; 0: no chunk */
    unsigned drain_attempt; /* chunk writes in a row that took nothing */
    double next_drain;      /* when the chunk may be offered again (bp_now_s) */
    /* how the retries of a batch from memory and of the chunk were said */
    bp_retry_note mem_note, drain_note;
};

/* lane_write.c */

/* One write of a->pending to the lane's sink: delivered and rejected records leave it (refused
 * readings go to the dead-letter lanes as part of their own batch, a->parts), failed ones stay
 * with their strikes and parts, and a->left counts what each part still has pending. */
bp_lane_result bp_lane_write_once(bp_lane *l, bp_attempts *a, bp_write_tally *t);
/* Makes room for `n` strike and part counts in both of a's arrays and `n` refusals. 0 or -1. */
int bp_attempts_reserve(bp_lane *l, bp_attempts *a, size_t n);
/* Makes a->parts hold `n` parts, none with records yet. 0 or -1. */
int bp_attempts_parts(bp_attempts *a, size_t n);
/* Frees what `a` holds; it can be used again after bp_batch_init of its batches. */
void bp_attempts_free(bp_attempts *a);

/* lane.c */

/* The head batch of the lane is delivered (or durable in its spool): it leaves the backlog and
 * its deliveries count as done for the commit. Call under mu. */
void bp_lane_pop_done(bp_lane *l);
/* Says a failed attempt ("WHAT; retrying in MS ms (attempt ATTEMPT+1)"): at warn when it is the
 * first of an outage or BP_RETRY_NOTE_S have passed since the last warning (then with the
 * attempts since), at debug otherwise. Lane thread. */
void bp_lane_note_retry(const bp_lane *l, bp_retry_note *n, const char *what, double ms,
                        unsigned attempt);
/* The outage of `n` is over: `again` ("writes deliver", ...) is said with its attempts and
 * length when the outage had a warning; quietly (`again` NULL) when another note takes it on. */
void bp_lane_note_over(const bp_lane *l, bp_retry_note *n, const char *again);

/* lane_spool.c: the lane's spool, all on the lane thread except open and close. */

/* Opens the lane's spool and verifies every entry decodes; -1 (logged) refuses the start. */
int bp_lane_open_spool(bp_lane *l, const char *dir, uint64_t max_bytes);
/* Closes the spool (what it holds stays for the next start, and is booked as the sink's
 * in_spool) and frees the lane's spool buffers. Main thread, after the lane was joined. */
void bp_lane_close_spool(bp_lane *l);
/* Whether the spool holds records or a chunk of it is out: then new batches go behind them, in
 * order. Lane thread (it alone changes what this reads), with or without mu. */
bool bp_lane_spooling(const bp_lane *l);
/* Appends n records (with their strikes; NULL: none used) to the lane's spool, durably, and
 * counts them spooled. 0 when they are all there; 1 when they do not fit now (spool_full) or
 * the spool has been set aside after a disk error: then none of them is. */
int bp_lane_spill(bp_lane *l, bp_record **recs, const unsigned *strikes, size_t n);
/* Takes every batch queued on the lane into the spool at once (one fsync); they are done for
 * the commit. When they do not fit, or out of memory, they stay queued. */
void bp_lane_absorb(bp_lane *l);
/* One step of delivering the spool: a write of the oldest chunk's records not yet done (a write
 * that leaves some sets the chunk's back-off in own->next_drain), or, once all are done and
 * their dead letters delivered, consuming the chunk. */
bp_lane_result bp_lane_drain_step(bp_lane *l);

#endif
