/* The buffer = disk half of a delivery lane (docs/spool.md, "In a lane"). While its sink takes
 * nothing, a lane writes the records it holds to the sink's spool, durably, and counts them
 * done: their batch can be committed, and the source keeps being polled. Records that arrive
 * while the spool holds any go behind them, so the sink still sees them in order. The lane
 * offers the spool's oldest entries to the sink, a chunk at a time, and consumes a chunk once
 * every record of it is delivered or rejected (refused readings are dead-lettered first). A
 * spool that is full stops the spilling: the backlog stays in memory, the lane fills, and the
 * source waits. */
#include "delivery/lane.h"

#include "base/backoff.h"
#include "common/clock.h"
#include "pipeline/document.h"
#include "base/log.h"
#include "delivery/record_codec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool abandoned(const bp_lanes *ls)
{
    return atomic_load(&ls->abandon);
}

/* Publishes the spool's size for the status line and the bounds. */
static void publish(bp_lane *l, bool full)
{
    pthread_mutex_lock(&l->all->mu);
    l->spool_records = l->spool ? bp_spool_count(l->spool) : 0;
    l->spool_bytes = l->spool ? bp_spool_bytes(l->spool) : 0;
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
    default:
        return "check that the folder can be created and written by this user";
    }
}

int bp_lane_open_spool(bp_lane *l, const char *dir, uint64_t max_bytes)
{
    const char *name = l->sink->name;
    if (!dir || !*dir) {
        bp_log(name, BP_LOG_ERROR, "buffer = disk needs buffer_path, the folder of the spool");
        return -1;
    }
    char err[512];
    int rc = bp_spool_open(dir, max_bytes, &l->spool, err, sizeof err);
    if (rc != BP_SPOOL_OK) {
        bp_log(name, BP_LOG_ERROR, "disk buffer refused: %s; %s", err, refusal_hint(rc));
        return -1;
    }
    /* Every entry must be a record this build can deliver before any is: a spool is never
     * half-read. */
    bp_arena scratch;
    bp_arena_init(&scratch, 64 * 1024);
    uint64_t n = bp_spool_count(l->spool);
    for (uint64_t i = 0; i < n; i++) {
        const void *data;
        size_t len;
        bp_record *rec;
        unsigned attempts;
        rc = bp_spool_peek(l->spool, i, &data, &len);
        if (rc == BP_SPOOL_OK &&
            bp_record_decode(data, len, &scratch, &rec, &attempts, err, sizeof err) != 0)
            rc = BP_SPOOL_EFOREIGN;
        else if (rc != BP_SPOOL_OK)
            snprintf(err, sizeof err, "%s", bp_spool_error(l->spool));
        bp_arena_reset(&scratch);
        if (rc != BP_SPOOL_OK) {
            bp_log(name, BP_LOG_ERROR, "disk buffer refused: entry %" PRIu64 " of %" PRIu64
                   " in %s: %s; %s", i + 1, n, dir, err, refusal_hint(rc));
            bp_arena_free(&scratch);
            bp_spool_close(l->spool);
            l->spool = NULL;
            return -1;
        }
    }
    bp_arena_free(&scratch);
    l->spool_max = max_bytes;
    l->spool_dir = dir;
    l->spool_records = n;
    l->spool_bytes = bp_spool_bytes(l->spool);
    if (n)
        bp_log(name, BP_LOG_INFO, "%" PRIu64 " record(s) in its disk buffer %s from an earlier "
               "run: delivering them first", n, dir);
    return 0;
}

static void free_drained(bp_lane *l)
{
    bp_flight *f = l->drained;
    if (!f)
        return;
    bp_batch_free(&f->input);
    bp_batch_free(&f->records);
    bp_batch_free(&f->valid);
    bp_arena_free(&f->arena);
    free(f);
    l->drained = NULL;
}

void bp_lane_close_spool(bp_lane *l)
{
    if (l->spool && bp_spool_count(l->spool))
        bp_log(l->sink->name, BP_LOG_INFO, "%" PRIu64 " record(s) stay in its disk buffer %s; "
               "they are delivered first at the next start", bp_spool_count(l->spool),
               l->spool_dir);
    l->sink->in_spool = l->spool ? bp_spool_count(l->spool) : 0;
    bp_spool_close(l->spool);
    l->spool = NULL;
    free_drained(l);
    bp_buf_free(&l->enc);
    free(l->ents);
    l->ents = NULL;
    l->ents_cap = 0;
}

/* After a disk error the spool cannot be trusted to take more: the lane goes on as a memory
 * lane, and what the spool holds stays on disk for the next start. */
static void set_aside(bp_lane *l, const char *what)
{
    bp_log(l->sink->name, BP_LOG_ERROR, "disk buffer %s failed (%s): the sink goes on without "
           "it, its backlog waiting in memory; the %" PRIu64 " record(s) in it stay there for "
           "the next start", l->spool_dir, what, bp_spool_count(l->spool));
    l->sink->in_spool = bp_spool_count(l->spool);
    bp_spool_close(l->spool);
    l->spool = NULL;
    l->drain_n = 0;
    bp_batch_clear(&l->back.pending);
    publish(l, false);
}

int bp_lane_spill(bp_lane *l, bp_record **recs, const unsigned *strikes, size_t n)
{
    if (!l->spool)
        return 1;
    if (n > l->ents_cap) {
        bp_spool_entry *e = realloc(l->ents, n * sizeof *e);
        if (!e)
            return 1;
        l->ents = e;
        l->ents_cap = n;
    }
    bp_buf_reset(&l->enc);
    for (size_t i = 0; i < n; i++) {
        size_t at = l->enc.len;
        if (bp_record_encode(recs[i], strikes ? strikes[i] : 0, &l->enc) != 0) {
            bp_log(l->sink->name, BP_LOG_WARN, "cannot encode a record for the disk buffer "
                   "(out of memory); the backlog waits in memory");
            return 1;
        }
        l->ents[i].len = l->enc.len - at;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        l->ents[i].data = l->enc.data + at;
        at += l->ents[i].len;
    }
    bool was_empty = bp_spool_count(l->spool) == 0;
    int rc = bp_spool_append_many(l->spool, l->ents, n);
    if (rc == BP_SPOOL_OK) {
        l->sink->spooled += n;
        if (was_empty)
            bp_log(l->sink->name, BP_LOG_WARN, "cannot deliver now: %zu record(s) written to its "
                   "disk buffer %s, and what follows goes there too until it is delivered", n,
                   l->spool_dir);
        publish(l, false);
        bp_metrics_lane_publish(l);
        return 0;
    }
    if (rc == BP_SPOOL_FULL || rc == BP_SPOOL_ETOOBIG) {
        bool was_full;
        pthread_mutex_lock(&l->all->mu);
        was_full = l->spool_full;
        pthread_mutex_unlock(&l->all->mu);
        if (!was_full)
            bp_log(l->sink->name, BP_LOG_WARN, "disk buffer %s is full (%" PRIu64 " record(s), "
                   "buffer_max_bytes = %" PRIu64 "): the backlog waits in memory and the source "
                   "is paused when the lane is full", l->spool_dir, bp_spool_count(l->spool),
                   l->spool_max);
        publish(l, true);
        return 1;
    }
    set_aside(l, bp_spool_error(l->spool));
    return 1;
}

/* Takes every batch queued on the lane into the spool at once (one fsync). */
static void absorb(bp_lane *l)
{
    bp_lanes *ls = l->all;
    bp_attempts *a = &l->mem;
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
    bp_lanes *ls = l->all;
    if (!l->drained) {
        if (!(l->drained = calloc(1, sizeof *l->drained)))
            return -1;
        bp_arena_init(&l->drained->arena, 256 * 1024);
        bp_batch_init(&l->drained->records, &l->drained->arena, 0);
    }
    bp_flight *f = l->drained;
    bp_arena_reset(&f->arena);
    bp_batch_clear(&l->back.pending);
    uint64_t n = bp_spool_count(l->spool);
    uint64_t chunk = (uint64_t)ls->p->settings.batch_size;
    if (n > chunk)
        n = chunk;
    if (bp_attempts_reserve(l, &l->back, (size_t)n) != 0)
        return -1;
    for (uint64_t i = 0; i < n; i++) {
        const void *data;
        size_t len;
        bp_record *rec;
        unsigned attempts;
        char err[256];
        int rc = bp_spool_peek(l->spool, i, &data, &len);
        if (rc != BP_SPOOL_OK) {
            set_aside(l, bp_spool_error(l->spool));
            return -1;
        }
        if (bp_record_decode(data, len, &f->arena, &rec, &attempts, err, sizeof err) != 0) {
            set_aside(l, err); /* verified at open: only memory or the disk can fail here */
            return -1;
        }
        rec->doc_lock = &ls->mu; /* dead-letter copies share this arena with other lanes */
        l->back.strikes[l->back.pending.count] = attempts;
        if (bp_batch_push(&l->back.pending, rec) != BP_OK)
            return -1;
    }
    f->bytes = bp_arena_bytes(&f->arena);
    f->remaining = 0;
    l->drain_n = n;
    return 0;
}

/* One step of delivering the spool: a write of the chunk's records not yet done, or, once all
 * are done and their dead letters delivered, consuming the chunk. */
static bp_lane_result drain_step(bp_lane *l)
{
    bp_lanes *ls = l->all;
    bp_ctx *s = l->sink;
    if (!l->drain_n && load_chunk(l) != 0)
        return l->spool ? LANE_FATAL : LANE_OK;
    if (l->back.pending.count) {
        bp_write_tally t;
        bp_lane_result res = bp_lane_write_once(l, &l->back, l->drained, &t);
        if (res != LANE_OK)
            return res;
        if (l->back.pending.count) {
            s->retries++;
            if (t.done > 0 && t.failed <= t.done) {
                l->drain_attempt = 0; /* the cluster's pace: again at once */
                return LANE_OK;
            }
            if (t.done > 0)
                l->drain_attempt = 0;
            double ms = bp_backoff_ms(ls->p->settings.retry_initial_ms,
                                      ls->p->settings.retry_max_ms, l->drain_attempt, &l->rng);
            bp_log(s->name, BP_LOG_WARN, "%zu record(s) of its disk buffer not yet delivered "
                   "(%" PRIu64 " in it); retrying in %.0f ms (attempt %u)",
                   l->back.pending.count, bp_spool_count(l->spool), ms, l->drain_attempt + 1);
            l->next_drain = bp_now_s() + ms / 1000.0;
            pthread_mutex_lock(&ls->mu);
            l->failing = t.done > 0 ? 0 : l->drain_attempt + 1;
            pthread_mutex_unlock(&ls->mu);
            l->drain_attempt++;
            return LANE_OK;
        }
    }
    pthread_mutex_lock(&ls->mu);
    bool letters_out = l->drained->remaining > 0; /* dead letters on other lanes */
    pthread_mutex_unlock(&ls->mu);
    if (letters_out) {
        l->next_drain = bp_now_s() + 0.02; /* a look again soon, not a spin */
        return LANE_OK;
    }
    if (bp_spool_consume(l->spool, l->drain_n) != BP_SPOOL_OK) {
        set_aside(l, bp_spool_error(l->spool));
        return LANE_OK;
    }
    l->drain_n = 0;
    l->drain_attempt = 0;
    l->next_drain = 0;
    if (bp_spool_count(l->spool) == 0)
        bp_log(s->name, BP_LOG_INFO, "its disk buffer is delivered and empty again");
    pthread_mutex_lock(&ls->mu);
    l->failing = 0;
    pthread_mutex_unlock(&ls->mu);
    publish(l, false);
    return LANE_OK;
}

/* Waits on the lane's wake-up until `until` (bp_now_s; < 0: no limit). Call under mu. */
static void wait_until(bp_lane *l, double until)
{
    if (until < 0) {
        pthread_cond_wait(&l->wake, &l->all->mu);
        return;
    }
    double left = until - bp_now_s();
    if (left <= 0)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ns = (long long)ts.tv_nsec + (long long)(left * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    pthread_cond_timedwait(&l->wake, &l->all->mu, &ts);
}

/* Delivers the head batch from memory (the spool is empty, or set aside). */
static bp_lane_result deliver_head(bp_lane *l, bp_lane_result (*deliver)(bp_lane *, bp_work *))
{
    bp_lanes *ls = l->all;
    pthread_mutex_lock(&ls->mu);
    bp_work *w = l->head;
    pthread_mutex_unlock(&ls->mu);
    bp_lane_result res = deliver(l, w);
    if (res != LANE_OK)
        return res;
    pthread_mutex_lock(&ls->mu);
    bp_lane_pop_done(l);
    l->failing = 0;
    pthread_cond_broadcast(&ls->changed);
    pthread_mutex_unlock(&ls->mu);
    return LANE_OK;
}

void *bp_spooled_lane_thread(bp_lane *l, bp_lane_result (*deliver)(bp_lane *, bp_work *))
{
    bp_lanes *ls = l->all;
    double quit_by = -1; /* after the quit: the spool is delivered until then, while it can be */
    bp_lane_result res = LANE_OK;
    pthread_mutex_lock(&ls->mu);
    for (;;) {
        if (abandoned(ls))
            break;
        double now = bp_now_s();
        if (ls->quit && quit_by < 0)
            quit_by = now + (double)ls->p->settings.drain_timeout_ms / 1000.0;
        if (l->reload) {
            l->reload = false;
            pthread_mutex_unlock(&ls->mu);
            bp_lane_reload(l);
            pthread_mutex_lock(&ls->mu);
            continue;
        }
        bool spooling = l->spool && (l->spool_records > 0 || l->drain_n > 0);
        /* With a full spool the backlog waits for the spool to drain, in order. */
        bool take = l->head && !(spooling && l->spool_full);
        bool drain = spooling && now >= l->next_drain;
        if (quit_by >= 0 && !l->head && (!spooling || now >= quit_by || l->drain_attempt > 0))
            break; /* what is left in the spool is delivered at the next start */
        if (!take && !drain) {
            wait_until(l, spooling ? (l->next_drain > now ? l->next_drain : now + 0.02) :
                                     quit_by >= 0 ? now + 0.02 : -1);
            continue;
        }
        pthread_mutex_unlock(&ls->mu);
        if (take && spooling)
            absorb(l);
        else if (take)
            res = deliver_head(l, deliver);
        if (res == LANE_OK && drain && l->spool && (l->spool_records > 0 || l->drain_n > 0))
            res = drain_step(l);
        pthread_mutex_lock(&ls->mu);
        if (res != LANE_OK) {
            if (res == LANE_FATAL)
                ls->fatal = true;
            pthread_cond_broadcast(&ls->changed);
            break;
        }
    }
    pthread_mutex_unlock(&ls->mu);
    bp_document_thread_done();
    return NULL;
}
