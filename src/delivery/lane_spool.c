/* The buffer = disk side of a delivery lane's loop (lane.c; docs/spool.md, "In a lane"). While its
 * sink takes nothing, a lane writes the records it holds to the sink's spool, durably, and counts
 * them done: their batch can be committed, and the source keeps being polled. Records that arrive
 * while the spool holds any go behind them, so the sink still sees them in order. The lane
 * offers the spool's oldest entries to the sink, a chunk at a time, and consumes a chunk once
 * every record of it is delivered or rejected (refused readings are dead-lettered first). A
 * spool that is full stops the spilling: the backlog stays in memory, the lane fills, and the
 * source waits. */
#include "base/backoff.h"
#include "base/log.h"
#include "common/clock.h"
#include "common/clock.h"
#include "delivery/lane_books.h"
#include "delivery/lane_internal.h"
#include "delivery/record_codec.h"
#include "pipeline/document.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Publishes the spool's size for the status line and the bounds. */
static void publish_spool(bp_lane *l, bool full)
{
    struct bp_lane_own *o = l->own;
    pthread_mutex_lock(&l->all->mu);
    l->spool_records = o->spool ? bp_spool_count(o->spool) : 0;
    l->spool_bytes = o->spool ? bp_spool_bytes(o->spool) : 0;
    l->spool_full = full;
    pthread_mutex_unlock(&l->all->mu);
}

static const char *refusal_hint(int status)
{
    switch (status) {
    case BP_SPOOL_ECORRUPT:
    case BP_SPOOL_EFOREIGN:
    case BP_SPOOL_EVERSION:
        return "nothing was read or changed. Move the folder aside to start with an empty buffer "
               "(its records are then not delivered by bppipe; docs/spool.md tells how to look "
               "at them), or point buffer_path elsewhere";
    case BP_SPOOL_EBUSY:
        return "another bppipe process, or another sink of this pipeline, uses that folder: give "
               "each sink of each process its own buffer_path";
    default: return "check that the folder can be created and written by this user";
    }
}

int bp_lane_open_spool(bp_lane *l, const char *dir, uint64_t max_bytes)
{
    struct bp_lane_own *o = l->own;
    const char *name = l->sink->name;
    if (!dir || !*dir) {
        bp_log(name, BP_LOG_ERROR, "buffer = disk needs buffer_path, the folder of the spool");
        return -1;
    }
    char err[512];
    int rc = bp_spool_open(dir, max_bytes, &o->spool, err, sizeof err);
    if (rc != BP_SPOOL_OK) {
        bp_log(name, BP_LOG_ERROR, "disk buffer refused: %s; %s", err, refusal_hint(rc));
        return -1;
    }
    /* Every entry must be a record this build can deliver before any is: a spool is never
     * half-read. */
    bp_arena scratch;
    bp_arena_init(&scratch, 64 * 1024);
    uint64_t n = bp_spool_count(o->spool);
    for (uint64_t i = 0; i < n; i++) {
        const void *data;
        size_t len;
        bp_record *rec;
        unsigned attempts;
        rc = bp_spool_peek(o->spool, i, &data, &len);
        if (rc == BP_SPOOL_OK &&
            bp_record_decode(data, len, &scratch, &rec, &attempts, err, sizeof err) != 0)
            rc = BP_SPOOL_EFOREIGN;
        else if (rc != BP_SPOOL_OK)
            snprintf(err, sizeof err, "%s", bp_spool_error(o->spool));
        bp_arena_reset(&scratch);
        if (rc != BP_SPOOL_OK) {
            bp_log(name, BP_LOG_ERROR,
                   "disk buffer refused: entry %" PRIu64 " of %" PRIu64 " in %s: %s; %s", i + 1, n,
                   dir, err, refusal_hint(rc));
            bp_arena_free(&scratch);
            bp_spool_close(o->spool);
            o->spool = NULL;
            return -1;
        }
    }
    bp_arena_free(&scratch);
    o->spool_max = max_bytes;
    o->spool_dir = dir;
    l->spool_records = n;
    l->spool_bytes = bp_spool_bytes(o->spool);
    if (n)
        bp_log(name, BP_LOG_INFO,
               "%" PRIu64 " record(s) in its disk buffer %s from an earlier run: delivering them "
               "first",
               n, dir);
    return 0;
}

static void free_drained(bp_lane *l)
{
    struct bp_lane_own *o = l->own;
    bp_flight *f = o->drained;
    if (!f)
        return;
    bp_batch_free(&f->input);
    bp_batch_free(&f->records);
    bp_batch_free(&f->valid);
    bp_arena_free(&f->arena);
    free(f);
    o->drained = NULL;
}

void bp_lane_close_spool(bp_lane *l)
{
    struct bp_lane_own *o = l->own;
    if (o->spool && bp_spool_count(o->spool))
        bp_log(l->sink->name, BP_LOG_INFO,
               "%" PRIu64 " record(s) stay in its disk buffer %s; they are delivered first at the "
               "next start",
               bp_spool_count(o->spool), o->spool_dir);
    l->sink->in_spool = o->spool ? bp_spool_count(o->spool) : 0;
    bp_spool_close(o->spool);
    o->spool = NULL;
    free_drained(l);
    bp_buf_free(&o->enc);
    free(o->ents);
    o->ents = NULL;
    o->ents_cap = 0;
}

/* After a disk error the spool cannot be trusted to take more: the lane goes on as a memory
 * lane, and what the spool holds stays on disk for the next start. */
static void set_aside(bp_lane *l, const char *what)
{
    struct bp_lane_own *o = l->own;
    bp_log(l->sink->name, BP_LOG_ERROR,
           "disk buffer %s failed (%s): the sink goes on without it, its backlog waiting in "
           "memory; the %" PRIu64 " record(s) in it stay there for the next start",
           o->spool_dir, what, bp_spool_count(o->spool));
    l->sink->in_spool = bp_spool_count(o->spool);
    bp_spool_close(o->spool);
    o->spool = NULL;
    o->drain_n = 0;
    bp_batch_clear(&o->back.pending);
    publish_spool(l, false);
}

bool bp_lane_spooling(const bp_lane *l)
{
    const struct bp_lane_own *o = l->own;
    return o->spool && (l->spool_records > 0 || o->drain_n > 0);
}

int bp_lane_spill(bp_lane *l, bp_record **recs, const unsigned *strikes, size_t n)
{
    struct bp_lane_own *o = l->own;
    if (!o->spool)
        return 1;
    if (n > o->ents_cap) {
        bp_spool_entry *e = realloc(o->ents, n * sizeof *e);
        if (!e)
            return 1;
        o->ents = e;
        o->ents_cap = n;
    }
    bp_buf_reset(&o->enc);
    for (size_t i = 0; i < n; i++) {
        size_t at = o->enc.len;
        if (bp_record_encode(recs[i], strikes ? strikes[i] : 0, &o->enc) != 0) {
            bp_log(l->sink->name, BP_LOG_WARN,
                   "cannot encode a record for the disk buffer (out of memory); the backlog waits "
                   "in memory");
            return 1;
        }
        o->ents[i].len = o->enc.len - at;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        o->ents[i].data = o->enc.data + at;
        at += o->ents[i].len;
    }
    bool was_empty = bp_spool_count(o->spool) == 0;
    int rc = bp_spool_append_many(o->spool, o->ents, n);
    if (rc == BP_SPOOL_OK) {
        l->sink->spooled += n;
        if (was_empty)
            bp_log(l->sink->name, BP_LOG_WARN,
                   "cannot deliver now: %zu record(s) written to its disk buffer %s, and what "
                   "follows goes there too until it is delivered",
                   n, o->spool_dir);
        publish_spool(l, false);
        bp_lane_publish_books(&l->seen, l->sink, &l->all->mu);
        return 0;
    }
    if (rc == BP_SPOOL_FULL || rc == BP_SPOOL_ETOOBIG) {
        bool was_full;
        pthread_mutex_lock(&l->all->mu);
        was_full = l->spool_full;
        pthread_mutex_unlock(&l->all->mu);
        if (!was_full)
            bp_log(l->sink->name, BP_LOG_WARN,
                   "disk buffer %s is full (%" PRIu64 " record(s), buffer_max_bytes = %" PRIu64
                   "): the backlog waits in memory and the source is paused when the lane is full",
                   o->spool_dir, bp_spool_count(o->spool), o->spool_max);
        publish_spool(l, true);
        return 1;
    }
    set_aside(l, bp_spool_error(o->spool));
    return 1;
}

void bp_lane_absorb(bp_lane *l)
{
    bp_lanes *ls = l->all;
    bp_attempts *a = &l->own->mem;
    bp_batch_clear(&a->pending);
    size_t items = 0;
    pthread_mutex_lock(&ls->mu);
    for (bp_work *w = l->head; w; w = w->next, items++)
        for (size_t i = 0; i < w->n; i++)
            if (bp_batch_push(&a->pending, w->recs[i]) != BP_OK) {
                pthread_mutex_unlock(&ls->mu);
                return; /* out of memory: the backlog waits in memory */
            }
    pthread_mutex_unlock(&ls->mu);
    if (!items || bp_lane_spill(l, a->pending.items, NULL, a->pending.count) != 0)
        return;
    pthread_mutex_lock(&ls->mu);
    for (size_t k = 0; k < items; k++)
        bp_lane_pop_done(l); /* durable in the spool: done for the commit */
    l->failing = 0;
    pthread_cond_broadcast(&ls->changed);
    pthread_mutex_unlock(&ls->mu);
}

/* Reads the spool's oldest entries (up to a batch) into the lane's own batch. */
static int load_chunk(bp_lane *l)
{
    struct bp_lane_own *o = l->own;
    bp_lanes *ls = l->all;
    if (!o->drained) {
        if (!(o->drained = calloc(1, sizeof *o->drained)))
            return -1;
        bp_arena_init_growing(&o->drained->arena, BP_FLIGHT_FIRST_CHUNK);
        bp_batch_init(&o->drained->records, &o->drained->arena, 0);
    }
    bp_flight *f = o->drained;
    bp_arena_reset(&f->arena);
    bp_batch_clear(&o->back.pending);
    uint64_t n = bp_spool_count(o->spool);
    uint64_t chunk = (uint64_t)ls->p->settings.batch_size;
    if (n > chunk)
        n = chunk;
    if (bp_attempts_reserve(l, &o->back, (size_t)n) != 0 || bp_attempts_parts(&o->back, 1) != 0)
        return -1;
    o->back.parts[0] = f; /* the chunk is one part: its dead letters are made in its arena */
    for (uint64_t i = 0; i < n; i++) {
        const void *data;
        size_t len;
        bp_record *rec;
        unsigned attempts;
        char err[256];
        int rc = bp_spool_peek(o->spool, i, &data, &len);
        if (rc != BP_SPOOL_OK) {
            set_aside(l, bp_spool_error(o->spool));
            return -1;
        }
        if (bp_record_decode(data, len, &f->arena, &rec, &attempts, err, sizeof err) != 0) {
            set_aside(l, err); /* verified at open: only memory or the disk can fail here */
            return -1;
        }
        rec->doc_lock = &ls->mu; /* dead-letter copies share this arena with other lanes */
        o->back.strikes[o->back.pending.count] = attempts;
        o->back.part[o->back.pending.count] = 0;
        if (bp_batch_push(&o->back.pending, rec) != BP_OK)
            return -1;
        o->back.left[0]++;
    }
    f->bytes = 0; /* its dead letters count it when they are pushed (lane.c) */
    f->works = NULL;
    f->remaining = 0;
    o->drain_n = n;
    return 0;
}

bp_lane_result bp_lane_drain_step(bp_lane *l)
{
    struct bp_lane_own *o = l->own;
    bp_lanes *ls = l->all;
    bp_ctx *s = l->sink;
    if (!o->drain_n && load_chunk(l) != 0)
        return o->spool ? LANE_FATAL : LANE_OK;
    if (o->back.pending.count) {
        bp_write_tally t;
        bp_lane_result res = bp_lane_write_once(l, &o->back, &t);
        if (res != LANE_OK)
            return res;
        if (o->back.pending.count) {
            s->retries++;
            if (t.done > 0 && t.failed <= t.done) {
                o->drain_attempt = 0; /* the cluster's pace: again at once */
                return LANE_OK;
            }
            if (t.done > 0)
                o->drain_attempt = 0;
            double ms = bp_backoff_ms(ls->p->settings.retry_initial_ms, ls->p->settings.retry_max_ms,
                                      o->drain_attempt, &o->rng);
            char what[160];
            snprintf(what, sizeof what,
                     "%zu record(s) of its disk buffer not yet delivered (%" PRIu64 " in it)",
                     o->back.pending.count, bp_spool_count(o->spool));
            bp_lane_note_retry(l, &o->drain_note, what, ms, o->drain_attempt);
            o->next_drain = bp_now_s() + ms / 1000.0;
            pthread_mutex_lock(&ls->mu);
            l->failing = t.done > 0 ? 0 : o->drain_attempt + 1;
            pthread_mutex_unlock(&ls->mu);
            o->drain_attempt++;
            return LANE_OK;
        }
    }
    pthread_mutex_lock(&ls->mu);
    bool letters_out = o->drained->remaining > 0; /* dead letters on other lanes */
    pthread_mutex_unlock(&ls->mu);
    if (letters_out) {
        o->next_drain = bp_now_s() + 0.02; /* a look again soon, not a spin */
        return LANE_OK;
    }
    if (bp_spool_consume(o->spool, o->drain_n) != BP_SPOOL_OK) {
        set_aside(l, bp_spool_error(o->spool));
        return LANE_OK;
    }
    o->drain_n = 0;
    o->drain_attempt = 0;
    o->next_drain = 0;
    bp_lane_note_over(l, &o->drain_note, "its disk buffer delivers");
    if (bp_spool_count(o->spool) == 0)
        bp_log(s->name, BP_LOG_INFO, "its disk buffer is delivered and empty again");
    pthread_mutex_lock(&ls->mu);
    l->failing = 0;
    pthread_mutex_unlock(&ls->mu);
    publish_spool(l, false);
    return LANE_OK;
}
