/* A delivery lane: its thread and the one loop it runs, whatever the sink's buffer (docs/
 * architecture.md, "Delivery lanes"); a batch delivered from memory with retries and back-off;
 * the FIFO the main thread fills, its bounds and the status line's note. One write to the sink
 * is in lane_write.c, the buffer = disk side of the loop in lane_spool.c. */
#include "delivery/lane.h"

#include "base/backoff.h"
#include "base/log.h"
#include "common/clock.h"
#include "common/clock.h"
#include "config/options.h"
#include "delivery/lane_internal.h"
#include "pipeline/document.h"
#include "pipeline/document.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

static bool abandoned(const bp_lanes *ls)
{
    return atomic_load(&ls->abandon);
}

static bool wake_abandoned(void *lanes)
{
    return abandoned(lanes);
}

/* Sleeps the full-jitter back-off for `attempt`, waking early only when the lanes are told to
 * give up (a second signal, the drain time is over, another sink failed for good). */
static void back_off(bp_lane *l, unsigned attempt, const char *what)
{
    double ms = bp_backoff_ms(l->all->p->settings.retry_initial_ms,
                              l->all->p->settings.retry_max_ms, attempt, &l->own->rng);
    bp_lane_note_retry(l, &l->own->mem_note, what, ms, attempt);
    bp_backoff_sleep(ms, wake_abandoned, l->all);
}

void bp_lane_note_retry(const bp_lane *l, bp_retry_note *n, const char *what, double ms,
                        unsigned attempt)
{
    double now = bp_now_s();
    if (n->attempts++ == 0)
        n->began_s = now;
    if (now < n->next_s) {
        n->unsaid++;
        bp_log(l->sink->name, BP_LOG_DEBUG, "%s; retrying in %.0f ms (attempt %u)", what, ms,
               attempt + 1);
        return;
    }
    if (n->unsaid)
        bp_log(l->sink->name, BP_LOG_WARN,
               "%s; retrying in %.0f ms (attempt %u; %u failed attempt(s) since the last such "
               "warning, %u in %.0f s of this outage)",
               what, ms, attempt + 1, n->unsaid, n->attempts, now - n->began_s);
    else
        bp_log(l->sink->name, BP_LOG_WARN, "%s; retrying in %.0f ms (attempt %u)", what, ms,
               attempt + 1);
    n->unsaid = 0;
    n->next_s = now + BP_RETRY_NOTE_S;
    n->warned = true;
}

void bp_lane_note_over(const bp_lane *l, bp_retry_note *n, const char *again)
{
    if (n->attempts && n->warned && again)
        bp_log(l->sink->name, BP_LOG_INFO, "%s again after %u failed attempt(s) in %.0f s", again,
               n->attempts, bp_now_s() - n->began_s);
    n->attempts = 0;
    n->warned = false; /* unsaid and next_s stay: a flapping sink still warns once per interval */
}

/* The bytes a batch holds for its records: the flight with its arrays of records, and what its
 * arena handed out (payloads, records, strings, work items, cached documents, dead-letter
 * copies). Under mu once the batch is shared: only then do lanes allocate in its arena. */
static size_t flight_bytes(const bp_flight *f)
{
    size_t slots = f->input.cap + f->records.cap + f->valid.cap;
    return sizeof *f + slots * sizeof(bp_record *) + bp_arena_used(&f->arena);
}

/* Brings every lane holding part of `f` up to what it holds now: a batch grows while it is
 * shared (documents are cached in its arena when a lane first writes them, dead letters are
 * copied into it), and a lane counts each batch it holds whole. Under mu. */
static void recount(bp_flight *f)
{
    size_t now = flight_bytes(f);
    if (now <= f->bytes)
        return; /* nothing in its arena is freed before the commit */
    size_t more = now - f->bytes;
    f->bytes = now;
    for (bp_work *w = f->works; w; w = w->sibling) {
        if (w->lane) {
            w->lane->bytes += more;
            w->bytes += more;
        }
    }
}

/* Takes the batches of the write from memory into own->merged: the head batch, and behind it
 * every queued batch while the write stays within BP_LANE_MERGE_RECORDS and _BYTES. They stay
 * in the backlog (and count in its bounds) until each is done. Call under mu. Returns how many,
 * 0 when out of memory. */
static size_t take_merged(bp_lane *l)
{
    struct bp_lane_own *o = l->own;
    size_t k = 0, records = 0, bytes = 0;
    for (bp_work *w = l->head; w; w = w->next, k++) {
        if (k && (records + w->n > BP_LANE_MERGE_RECORDS || bytes + w->bytes > BP_LANE_MERGE_BYTES))
            break;
        if (k == o->merged_cap) {
            size_t cap = o->merged_cap ? 2 * o->merged_cap : 16;
            bp_work **m = realloc(o->merged, cap * sizeof *m);
            if (!m)
                return k; /* what fits is written; the rest waits for the next write */
            o->merged = m;
            o->merged_cap = cap;
        }
        o->merged[k] = w;
        records += w->n;
        bytes += w->bytes;
    }
    return k;
}

/* Loads the records of the `n` merged batches into a->pending, each with its part. */
static int load_merged(bp_lane *l, bp_attempts *a, size_t n)
{
    bp_work **ws = l->own->merged;
    size_t total = 0;
    for (size_t k = 0; k < n; k++)
        total += ws[k]->n;
    bp_batch_clear(&a->pending);
    if (bp_attempts_reserve(l, a, total) != 0 || bp_attempts_parts(a, n) != 0)
        return -1;
    for (size_t k = 0; k < n; k++) {
        a->parts[k] = ws[k]->flight;
        a->left[k] = ws[k]->n;
        for (size_t i = 0; i < ws[k]->n; i++) {
            a->strikes[a->pending.count] = 0;
            a->part[a->pending.count] = (unsigned)k;
            if (bp_batch_push(&a->pending, ws[k]->recs[i]) != BP_OK)
                return -1;
        }
    }
    return 0;
}

/* Pops, oldest first, the merged batches from `*done` on that have nothing left pending (or all
 * of them: `all`), so that each is committed as soon as it and the ones before it are done,
 * not when the whole write is. Takes mu. */
static void pop_merged(bp_lane *l, const bp_attempts *a, size_t *done, size_t n, bool all)
{
    bp_lanes *ls = l->all;
    size_t from = *done;
    while (*done < n && (all || a->left[*done] == 0))
        ++*done;
    if (*done == from)
        return;
    pthread_mutex_lock(&ls->mu);
    for (size_t k = from; k < *done; k++)
        bp_lane_pop_done(l); /* the head is merged[k]: the lane pops only from its own loop */
    pthread_cond_broadcast(&ls->changed);
    pthread_mutex_unlock(&ls->mu);
}

/* At log_level = debug, one line per write (docs/operations.md, "Where the latency goes"): which
 * batches it carried, how long it took, and how long after the first batch's poll returned it
 * began (the time its records waited for the lane). */
static void log_write(const bp_lane *l, size_t n, size_t offered, double began_s)
{
    bp_work *const *ws = l->own->merged;
    const bp_flight *first = ws[0]->flight, *last = ws[n - 1]->flight;
    bp_log(l->sink->name, BP_LOG_DEBUG,
           "wrote %zu record(s) of batch(es) %llu-%llu in %.1f ms, "
           "begun %.1f ms after batch %llu's poll returned",
           offered, (unsigned long long)first->input.seq, (unsigned long long)last->input.seq,
           (bp_now_s() - began_s) * 1000.0, (began_s - first->polled_s) * 1000.0,
           (unsigned long long)first->input.seq);
}

/* Offers the lane's sink every record of the `n` merged batches until each is delivered or
 * rejected, popping each batch once its records are. A write that made progress starts the
 * back-off over; when it took at least half of what it was offered the rest goes again at once
 * (a 429 on some items is the cluster's pace, not an outage). A write that took nothing backs
 * off longer each time; with a disk spool (and room in it), the records such a write left go to
 * the spool instead, and count as done. */
static bp_lane_result deliver(bp_lane *l, size_t n)
{
    bp_ctx *s = l->sink;
    bp_lanes *ls = l->all;
    bp_attempts *a = &l->own->mem;
    bp_work **ws = l->own->merged;
    size_t done = 0; /* merged batches popped */
    if (load_merged(l, a, n) != 0)
        return LANE_FATAL;
    unsigned attempt = 0; /* writes in a row that took nothing: the back-off's exponent */
    bool may_spill = l->own->spool != NULL;
    while (a->pending.count) {
        bp_write_tally t;
        double t0 = bp_now_s();
        size_t offered = a->pending.count;
        bp_lane_result res = bp_lane_write_once(l, a, &t);
        if (res != LANE_OK)
            return res;
        if (bp_log_get_level() >= BP_LOG_DEBUG)
            log_write(l, n, offered, t0);
        pop_merged(l, a, &done, n, false);
        if (!a->pending.count)
            break;
        s->retries++;
        if (abandoned(ls))
            return LANE_ABANDONED;
        if (t.done > 0 && t.failed <= t.done) {
            bp_log(s->name, BP_LOG_DEBUG,
                   "%zu of %zu record(s) taken, %zu not yet durable; offering those again at once",
                   t.done, t.sent, a->pending.count);
            attempt = 0;
            continue;
        }
        if (t.done > 0)
            attempt = 0; /* progress: the sink is up, the back-off starts over */
        if (may_spill && t.done == 0) {
            int rc = bp_lane_spill(l, a->pending.items, a->strikes, a->pending.count);
            if (rc == 0) {
                pop_merged(l, a, &done, n, true); /* durable in the spool: done for the commit */
                bp_lane_note_over(l, &l->own->mem_note, NULL); /* the disk buffer's retries now */
                return LANE_OK;
            }
            may_spill = false; /* full or set aside: the records wait here, as without one */
        }
        pthread_mutex_lock(&ls->mu);
        l->failing = t.done > 0 ? 0 : attempt + 1;
        for (size_t k = done; k < n; k++)
            recount(ws[k]->flight); /* the documents this write cached, while they wait here */
        pthread_mutex_unlock(&ls->mu);
        char what[160];
        snprintf(what, sizeof what, "%zu record(s) not yet durable", a->pending.count);
        back_off(l, attempt, what);
        attempt++;
        if (abandoned(ls))
            return LANE_ABANDONED;
    }
    bp_lane_note_over(l, &l->own->mem_note, "writes deliver");
    return LANE_OK;
}

/* The plugin's reload(), when its descriptor is recent enough to have one. */
static int (*reload_fn(const bp_ctx *c))(void *)
{
    const bp_plugin *d = c->plugin->desc;
    return BP_DESC_HAS(d, reload) ? d->reload : NULL;
}

void bp_lane_pop_done(bp_lane *l)
{
    bp_work *w = l->head;
    l->head = w->next;
    if (!l->head)
        l->tail = NULL;
    recount(w->flight); /* what this lane's write cached, for the lanes still holding it */
    l->records -= w->n;
    l->bytes -= w->bytes;
    l->batches--;
    w->lane = NULL;
    w->flight->remaining -= w->n; /* the last touch of the batch by this lane */
}

/* Calls the sink's reload() (SIGHUP) on the lane thread, and logs how it went. */
static void reload_sink(bp_lane *l)
{
    int rc = reload_fn(l->sink)(l->sink->state);
    bp_log(l->sink->name, rc == BP_OK ? BP_LOG_INFO : BP_LOG_WARN,
           rc == BP_OK ? "reloaded on SIGHUP"
                       : "reload on SIGHUP failed; keeping the previous configuration");
}

/* Waits on the lane's wake-up until `until` (bp_now_s; < 0: no limit). Call under mu. The
 * condition variable's clock is the wall clock, so the deadline is taken there. */
static void wait_until(bp_lane *l, double until)
{
    if (until < 0) {
        pthread_cond_wait(&l->wake, &l->all->mu);
        return;
    }
    double left = until - bp_now_s();
    if (left <= 0)
        return;
    int64_t wall = bp_wall_ms();
    long long ns = (long long)(wall % 1000) * 1000000LL + (long long)(left * 1e9);
    struct timespec ts;
    ts.tv_sec = (time_t)(wall / 1000 + ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    pthread_cond_timedwait(&l->wake, &l->all->mu, &ts);
}

/* The lane thread, for either buffer: one loop that, each turn under mu, stops when the lanes
 * give up, or when told to quit with nothing left it may still deliver; calls reload() when
 * asked; then delivers the head batch from memory, or, while the spool holds records (buffer =
 * disk, lane_spool.c), appends the queued batches behind them and offers the spool's oldest
 * chunk once its back-off is over; else waits. Without a spool (buffer = memory, or set aside
 * after a disk error) the spool's part never applies. */
static void *lane_main(void *arg)
{
    bp_lane *l = arg;
    bp_lanes *ls = l->all;
    const struct bp_lane_own *o = l->own;
    double quit_by = -1; /* after the quit: the spool is delivered until then, while it can be */
    /* "lane:SINK" in top -H and perf --sort comm (15 bytes: the kernel's limit) */
    char name[16];
    const char *sink = l->sink->name;
    snprintf(name, sizeof name, "lane:%s", sink + (strncmp(sink, "sink.", 5) ? 0 : 5));
    prctl(PR_SET_NAME, name, 0, 0, 0);
    pthread_mutex_lock(&ls->mu);
    for (;;) {
        if (abandoned(ls))
            break;
        double now = bp_now_s();
        if (ls->quit && quit_by < 0)
            quit_by = now + (double)ls->p->settings.drain_timeout_ms / 1000.0;
        bool spooling = bp_lane_spooling(l);
        if (quit_by >= 0 && !l->head && (!spooling || now >= quit_by || o->drain_attempt > 0))
            break; /* what is left in the spool is delivered at the next start */
        if (l->reload) {
            l->reload = false;
            pthread_mutex_unlock(&ls->mu);
            reload_sink(l);
            pthread_mutex_lock(&ls->mu);
            continue;
        }
        /* With a full spool the backlog waits for the spool to drain, in order. */
        bool take = l->head && !(spooling && l->spool_full);
        bool drain = spooling && now >= o->next_drain;
        if (!take && !drain) {
            wait_until(l, spooling       ? (o->next_drain > now ? o->next_drain : now + 0.02)
                          : quit_by >= 0 ? now + 0.02
                                         : -1);
            continue;
        }
        bool from_memory = take && !spooling;
        /* the batches stay in the backlog until delivered */
        size_t merged = from_memory ? take_merged(l) : 0;
        pthread_mutex_unlock(&ls->mu);
        bp_lane_result res = LANE_OK;
        if (from_memory) {
            res = merged ? deliver(l, merged) : LANE_FATAL;
        } else {
            if (take)
                bp_lane_absorb(l);
            if (drain && bp_lane_spooling(l))
                res = bp_lane_drain_step(l);
        }
        pthread_mutex_lock(&ls->mu);
        if (res != LANE_OK) {
            if (res == LANE_FATAL)
                ls->fatal = true;
            pthread_cond_broadcast(&ls->changed);
            break;
        }
        if (from_memory) {
            l->failing = 0; /* deliver() popped each batch as it was done */
            pthread_cond_broadcast(&ls->changed);
        }
    }
    pthread_mutex_unlock(&ls->mu);
    bp_document_thread_done();
    return NULL;
}

void bp_lanes_push(bp_lanes *ls, bp_work **w, const size_t *lane, size_t n)
{
    pthread_mutex_lock(&ls->mu);
    for (size_t i = 0; i < n; i++) {
        bp_lane *l = &ls->lanes[lane[i]];
        w[i]->next = NULL;
        if (l->tail)
            l->tail->next = w[i];
        else
            l->head = w[i];
        l->tail = w[i];
        bp_flight *f = w[i]->flight;
        recount(f);
        w[i]->sibling = f->works;
        f->works = w[i];
        w[i]->lane = l;
        w[i]->bytes = f->bytes;
        l->records += w[i]->n;
        l->bytes += w[i]->bytes;
        l->batches++;
        pthread_cond_signal(&l->wake);
    }
    pthread_mutex_unlock(&ls->mu);
}

int bp_lanes_first_full(const bp_lanes *ls)
{
    for (size_t i = 0; i < ls->n; i++) {
        const bp_lane *l = &ls->lanes[i];
        if (l->records >= l->max_records || l->bytes >= l->max_bytes)
            return (int)i;
    }
    return -1;
}

void bp_lanes_request_reload(bp_lanes *ls)
{
    pthread_mutex_lock(&ls->mu);
    for (size_t i = 0; i < ls->n; i++) {
        if (reload_fn(ls->lanes[i].sink)) {
            ls->lanes[i].reload = true;
            pthread_cond_signal(&ls->lanes[i].wake);
        }
    }
    pthread_mutex_unlock(&ls->mu);
}

void bp_lanes_note(bp_lanes *ls, int blocked, uint64_t polls, char *buf, size_t size)
{
    size_t used = strlen(buf);
    pthread_mutex_lock(&ls->mu);
    for (size_t i = 0; i < ls->n && used + 1 < size; i++) {
        const bp_lane *l = &ls->lanes[i];
        bool full = (int)i == blocked;
        if (l->spool_records) {
            int k = snprintf(buf + used, size - used,
                             "%s %s: %" PRIu64 " record(s) in its disk buffer, %.1f MiB%s%s",
                             used ? ";" : " |", l->sink->name, l->spool_records,
                             (double)l->spool_bytes / 1048576.0, l->spool_full ? " (full)" : "",
                             l->failing ? ", retrying" : "");
            if (k > 0)
                used += (size_t)k < size - used ? (size_t)k : size - used - 1;
            if (used + 1 >= size)
                break;
        }
        if (!l->batches || (!full && !l->failing))
            continue;
        int k = snprintf(
            buf + used, size - used, "%s %s%s: backlog %zu record(s) in %zu batch(es), %.1f MiB%s",
            used ? ";" : " |", l->sink->name, full ? " full, source paused" : "", l->records,
            l->batches, (double)l->bytes / 1048576.0, l->failing ? ", retrying" : "");
        if (k > 0)
            used += (size_t)k < size - used ? (size_t)k : size - used - 1;
    }
    pthread_mutex_unlock(&ls->mu);
    if (blocked >= 0 && used + 1 < size)
        snprintf(buf + used, size - used, " (source polls %llu)", (unsigned long long)polls);
}

/* A sink section's own bound, or the [pipeline] one. */
static size_t bound(const bp_ctx *s, const char *key, int64_t fallback)
{
    const char *v = bp_section_value(s->section, key);
    int64_t n;
    if (v && bp_parse_int(v, &n) == 0 && n > 0)
        return (size_t)n;
    return (size_t)fallback;
}

/* The lanes' memory, each lane tied to its sink and its own state; -1 (logged) out of memory,
 * with nothing left allocated. */
static int lanes_alloc(bp_lanes *ls, bp_pipeline *p)
{
    size_t n = ls->n ? ls->n : 1;
    ls->lanes = calloc(n, sizeof *ls->lanes);
    ls->order = calloc(n, sizeof *ls->order);
    ls->own = calloc(n, sizeof *ls->own);
    if (!ls->lanes || !ls->order || !ls->own) {
        free(ls->lanes);
        free(ls->order);
        free(ls->own);
        ls->lanes = NULL;
        ls->order = NULL;
        ls->own = NULL;
        bp_log("core", BP_LOG_ERROR, "out of memory starting the delivery lanes");
        return -1;
    }
    for (size_t i = 0; i < ls->n; i++) {
        bp_lane *l = &ls->lanes[i];
        pthread_cond_init(&l->wake, NULL);
        l->all = ls;
        l->sink = p->sinks[i];
        l->own = &ls->own[i];
        bp_batch_init(&l->own->mem.pending, NULL, 0);
        bp_batch_init(&l->own->mem.again, NULL, 0);
        bp_batch_init(&l->own->back.pending, NULL, 0);
        bp_batch_init(&l->own->back.again, NULL, 0);
        bp_buf_init(&l->own->enc);
    }
    return 0;
}

int bp_lanes_start(bp_lanes *ls, bp_pipeline *p, bp_stats *st)
{
    memset(ls, 0, sizeof *ls);
    ls->p = p;
    ls->st = st;
    atomic_init(&ls->abandon, false);
    pthread_mutex_init(&ls->mu, NULL);
    pthread_cond_init(&ls->changed, NULL);
    ls->n = p->n_sinks;
    if (lanes_alloc(ls, p) != 0)
        return -1;
    size_t k = 0;
    for (int critical = 1; critical >= 0; critical--)
        for (size_t i = 0; i < ls->n; i++)
            if (((p->sinks[i]->routes & BP_ROUTE_CRITICAL) != 0) == (critical == 1))
                ls->order[k++] = i;
    /* Lane threads take no signals: the main thread's handlers see every one. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    uint64_t seed = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull;
    int rc = 0;
    for (size_t i = 0; i < ls->n; i++) {
        bp_lane *l = &ls->lanes[i];
        l->max_records = bound(l->sink, "lane_max_records", p->settings.lane_max_records);
        l->max_bytes = bound(l->sink, "lane_max_bytes", p->settings.lane_max_bytes);
        l->own->rng = (seed ^ (0xD1B54A32D192ED03ull * (i + 1))) | 1;
        const char *buffer = bp_section_value(l->sink->section, "buffer");
        if (buffer && strcmp(buffer, "disk") == 0 &&
            bp_lane_open_spool(l, bp_section_value(l->sink->section, "buffer_path"),
                               bound(l->sink, "buffer_max_bytes", BP_SPOOL_DEFAULT_MAX)) != 0) {
            rc = -1;
            break;
        }
        if (pthread_create(&l->thread, NULL, lane_main, l) != 0) {
            bp_log("core", BP_LOG_ERROR, "cannot start the delivery thread of %s", l->sink->name);
            rc = -1;
            break;
        }
        l->started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

void bp_lanes_stop(bp_lanes *ls, bool abandon)
{
    if (!ls->lanes || ls->stopped)
        return;
    ls->stopped = true;
    pthread_mutex_lock(&ls->mu);
    ls->quit = true;
    if (abandon)
        atomic_store(&ls->abandon, true);
    for (size_t i = 0; i < ls->n; i++)
        pthread_cond_signal(&ls->lanes[i].wake);
    pthread_mutex_unlock(&ls->mu);
    for (size_t i = 0; i < ls->n; i++) {
        bp_lane *l = &ls->lanes[i];
        struct bp_lane_own *o = l->own;
        if (l->started)
            pthread_join(l->thread, NULL);
        l->started = false;
        bp_attempts_free(&o->mem);
        bp_attempts_free(&o->back);
        bp_lane_close_spool(l);
        free(o->refused);
        free(o->refused_why);
        free(o->refused_from);
        free(o->merged);
        o->refused = NULL;
        o->refused_why = NULL;
        o->refused_from = NULL;
        o->merged = NULL;
        o->merged_cap = o->refused_cap = 0;
    }
}

void bp_lanes_free(bp_lanes *ls)
{
    bp_lanes_stop(ls, true);
    for (size_t i = 0; ls->lanes && i < ls->n; i++) {
        pthread_cond_destroy(&ls->lanes[i].wake);
        bp_lane_books_free(&ls->lanes[i].seen);
    }
    free(ls->lanes);
    free(ls->order);
    free(ls->own);
    ls->lanes = NULL;
    ls->order = NULL;
    ls->own = NULL;
    pthread_cond_destroy(&ls->changed);
    pthread_mutex_destroy(&ls->mu);
}
