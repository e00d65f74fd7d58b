#include "delivery/lane.h"

#include "base/backoff.h"
#include "common/clock.h"
#include "pipeline/document.h"
#include "base/log.h"
#include "config/options.h"

#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
                              l->all->p->settings.retry_max_ms, attempt, &l->rng);
    bp_log(l->sink->name, BP_LOG_WARN, "%s; retrying in %.0f ms (attempt %u)", what, ms,
           attempt + 1);
    bp_backoff_sleep(ms, wake_abandoned, l->all);
}

static bp_outcome outcome_of(const bp_ctx *s, size_t i, int rc)
{
    if (s->outcomes[i] >= 0)
        return (bp_outcome)s->outcomes[i];
    return rc == BP_OK ? BP_DELIVERED : BP_AGAIN;
}

/* Makes room for `n` strike counts in both of a's strike arrays and `n` refusals. */
int bp_attempts_reserve(bp_lane *l, bp_attempts *a, size_t n)
{
    if (n > a->cap) {
        unsigned *x = realloc(a->strikes, n * sizeof *x);
        if (!x)
            return -1;
        a->strikes = x;
        unsigned *y = realloc(a->strikes_again, n * sizeof *y);
        if (!y)
            return -1;
        a->strikes_again = y;
        a->cap = n;
    }
    if (n > l->refused_cap) {
        bp_record **r = realloc(l->refused, n * sizeof *r);
        if (!r)
            return -1;
        l->refused = r;
        const char **w = realloc(l->refused_why, n * sizeof *w);
        if (!w)
            return -1;
        l->refused_why = w;
        l->refused_cap = n;
    }
    return 0;
}

void bp_attempts_free(bp_attempts *a)
{
    bp_batch_free(&a->pending);
    bp_batch_free(&a->again);
    free(a->strikes);
    free(a->strikes_again);
    a->strikes = a->strikes_again = NULL;
    a->cap = 0;
}

/* Whether the failed record `i` of a write counts an attempt towards max_record_attempts. Only
 * a failure the sink reported for that record (set_outcome BP_AGAIN) counts, and only when the
 * sink shows it works: it delivered or rejected at least as many records of the same write as
 * it failed (the record is the odd one out), or every record it still fails has already been
 * the odd one out (the rest of the batch went through while they kept failing). A write that
 * delivers nothing while it fails records never singled out is an outage: nothing counts. */
static bool counts_attempt(const bp_ctx *s, size_t i, const bp_write_tally *t, unsigned strikes)
{
    if (s->outcomes[i] != BP_AGAIN)
        return false; /* the batch's status: the sink blamed itself, not the record */
    if (t->done > 0)
        return t->failed <= t->done;
    return strikes > 0 && t->all_singled_out;
}

/* Hands the judged readings the last write refused to every route = invalid lane as dead
 * letters, before this lane's part of the batch counts as done. Each becomes a copy with the
 * reason (the original may still be in another lane's hands, unchanged), made in the batch's
 * arena under mu. The copies' deliveries are added to the batch's remaining count first, so
 * the batch cannot be committed before they are delivered. */
static void hand_dead_letters(bp_lane *l, bp_flight *f)
{
    bp_lanes *ls = l->all;
    if (!l->n_refused)
        return;
    pthread_mutex_lock(&ls->mu);
    ls->st->sink_rejected += l->n_refused;
    bp_record **copies = bp_arena_alloc(&f->arena, l->n_refused * sizeof *copies);
    size_t made = 0;
    for (size_t i = 0; copies && i < l->n_refused; i++) {
        bp_record *c = bp_arena_alloc(&f->arena, sizeof *c);
        char msg[512];
        snprintf(msg, sizeof msg, "rejected by %s: %s", l->sink->name, l->refused_why[i]);
        if (!c)
            break;
        *c = *l->refused[i];
        c->invalid_reason = bp_arena_strdup(&f->arena, msg);
        c->docs[0] = c->docs[1] = NULL;
        if (!c->invalid_reason)
            break;
        copies[made++] = c;
    }
    if (made < l->n_refused)
        bp_log("core", BP_LOG_ERROR, "out of memory: %zu refused reading(s) counted but not "
               "dead-lettered", l->n_refused - made);
    bool any = false;
    for (size_t d = 0; made && d < ls->n; d++) {
        bp_lane *dl = &ls->lanes[d];
        if (!(dl->sink->routes & BP_ROUTE_BIT(BP_ROUTE_INVALID)))
            continue;
        bp_work *w = bp_arena_alloc(&f->arena, sizeof *w);
        if (!w) {
            bp_log("core", BP_LOG_ERROR, "out of memory handing dead letters to %s",
                   dl->sink->name);
            continue;
        }
        w->flight = f;
        w->recs = copies;
        w->n = made;
        f->remaining += made;
        bp_work *one[1] = {w};
        size_t idx[1] = {d};
        pthread_mutex_unlock(&ls->mu);
        bp_lanes_push(ls, one, idx, 1);
        pthread_mutex_lock(&ls->mu);
        any = true;
    }
    pthread_mutex_unlock(&ls->mu);
    if (!any)
        bp_log("core", BP_LOG_ERROR, "a sink rejected a reading and no sink has route = "
               "invalid: it is counted but stored nowhere");
    l->n_refused = 0;
}

bp_lane_result bp_lane_write_once(bp_lane *l, bp_attempts *a, bp_flight *f,
                                  bp_write_tally *tally)
{
    bp_ctx *s = l->sink;
    const int64_t max_attempts = l->all->p->settings.max_record_attempts;
    if (bp_ctx_begin_write(s, &a->pending) != 0)
        return LANE_FATAL;
    bp_metrics_lane_publish(l); /* the retries and spills since the last write */
    double t0 = bp_now_s();
    int rc = s->plugin->desc->write(s->state, &a->pending);
    s->busy_s += bp_now_s() - t0;
    s->calls++;
    if (rc == BP_FATAL) {
        bp_ctx_end_write(s);
        bp_log(s->name, BP_LOG_ERROR, "sink failed permanently; stopping without committing "
               "the batch in flight (it will be delivered again on restart)");
        return LANE_FATAL;
    }
    bp_write_tally t = {.sent = a->pending.count, .all_singled_out = true};
    for (size_t i = 0; i < a->pending.count; i++) {
        if (outcome_of(s, i, rc) != BP_AGAIN) {
            t.done++;
        } else {
            t.failed++;
            if (a->strikes[i] == 0)
                t.all_singled_out = false;
        }
    }
    bp_batch_clear(&a->again);
    /* Refusals are logged once per write, not once per record: a mapping error can refuse
     * every reading of a batch, and each reason names its own document. */
    size_t lost = 0, given_up = 0;
    char first_refused[256] = "", first_lost[256] = "";
    l->n_refused = 0;
    for (size_t i = 0; i < a->pending.count; i++) {
        bp_record *rec = a->pending.items[i];
        bp_outcome out = outcome_of(s, i, rc);
        const char *why = s->outcome_reasons[i] ? s->outcome_reasons[i] : "no reason";
        if (out == BP_AGAIN) {
            unsigned strikes = a->strikes[i] + (counts_attempt(s, i, &t, a->strikes[i]));
            if (max_attempts <= 0 || strikes < (uint64_t)max_attempts) {
                a->strikes_again[a->again.count] = strikes;
                bp_batch_push(&a->again, rec);
                continue;
            }
            /* The sink delivers the others and keeps failing this one: it would stall the
             * batch (and every commit after it) for good. */
            char gave_up[384];
            snprintf(gave_up, sizeof gave_up, "not delivered after %u attempts while the "
                     "sink delivered the others: %s", strikes,
                     s->outcome_reasons[i] ? s->outcome_reasons[i] : "no reason given");
            why = bp_arena_strdup(&s->scratch, gave_up);
            if (!why)
                why = "not delivered after max_record_attempts";
            out = BP_REJECTED;
            given_up++;
        }
        if (out == BP_DELIVERED) {
            s->delivered++;
            continue;
        }
        s->rejected++;
        if (!rec->invalid_reason) {
            /* A judged reading the sink refuses becomes a dead letter with the reason. */
            if (!l->n_refused)
                snprintf(first_refused, sizeof first_refused, "%s", why);
            l->refused[l->n_refused] = rec;
            l->refused_why[l->n_refused++] = why;
        } else if (!lost++) {
            snprintf(first_lost, sizeof first_lost, "%s", why);
        }
    }
    if (l->n_refused)
        bp_log(s->name, BP_LOG_WARN, "sink rejected %zu reading(s), routed as dead letters "
               "with their reasons; the first: %s", l->n_refused, first_refused);
    if (lost)
        bp_log(s->name, BP_LOG_ERROR, "%zu dead letter(s) refused by their sink too: counted "
               "but stored nowhere; the first: %s", lost, first_lost);
    if (given_up)
        bp_log(s->name, BP_LOG_WARN, "%zu reading(s) failed %lld attempts while the sink "
               "delivered the others; dead-lettered instead of stalling the batch",
               given_up, (long long)max_attempts);
    hand_dead_letters(l, f); /* the reasons live until the next begin_write */
    bp_ctx_end_write(s);
    bp_metrics_lane_publish(l); /* what /metrics shows of this sink */
    bp_batch tmp = a->pending;
    a->pending = a->again;
    a->again = tmp;
    unsigned *st = a->strikes;
    a->strikes = a->strikes_again;
    a->strikes_again = st;
    *tally = t;
    return LANE_OK;
}

/* Offers the lane's sink every record of `w` until each is delivered or rejected. A write that
 * made progress starts the back-off over; when it took at least half of what it was offered
 * the rest goes again at once (a 429 on some items is the cluster's pace, not an outage). A
 * write that took nothing backs off longer each time; with a disk spool (and room in it), the
 * records such a write left go to the spool instead, and count as done. */
static bp_lane_result deliver(bp_lane *l, bp_work *w)
{
    bp_ctx *s = l->sink;
    bp_lanes *ls = l->all;
    bp_attempts *a = &l->mem;
    bp_batch_clear(&a->pending);
    for (size_t i = 0; i < w->n; i++)
        if (bp_batch_push(&a->pending, w->recs[i]) != BP_OK)
            return LANE_FATAL;
    if (bp_attempts_reserve(l, a, a->pending.count) != 0)
        return LANE_FATAL;
    if (a->pending.count)
        memset(a->strikes, 0, a->pending.count * sizeof *a->strikes);
    unsigned attempt = 0; /* writes in a row that took nothing: the back-off's exponent */
    bool may_spill = l->spool != NULL;
    while (a->pending.count) {
        bp_write_tally t;
        bp_lane_result res = bp_lane_write_once(l, a, w->flight, &t);
        if (res != LANE_OK)
            return res;
        if (!a->pending.count)
            break;
        s->retries++;
        if (abandoned(ls))
            return LANE_ABANDONED;
        if (t.done > 0 && t.failed <= t.done) {
            bp_log(s->name, BP_LOG_DEBUG, "%zu of %zu record(s) taken, %zu not yet durable; "
                   "offering those again at once", t.done, t.sent, a->pending.count);
            attempt = 0;
            continue;
        }
        if (t.done > 0)
            attempt = 0; /* progress: the sink is up, the back-off starts over */
        if (may_spill && t.done == 0) {
            int rc = bp_lane_spill(l, a->pending.items, a->strikes, a->pending.count);
            if (rc == 0)
                return LANE_OK;
            may_spill = false; /* full or set aside: the records wait here, as without one */
        }
        pthread_mutex_lock(&ls->mu);
        l->failing = t.done > 0 ? 0 : attempt + 1;
        pthread_mutex_unlock(&ls->mu);
        char what[160];
        snprintf(what, sizeof what, "%zu record(s) not yet durable", a->pending.count);
        back_off(l, attempt, what);
        attempt++;
        if (abandoned(ls))
            return LANE_ABANDONED;
    }
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
    l->records -= w->n;
    l->bytes -= w->flight->bytes;
    l->batches--;
    w->flight->remaining -= w->n; /* the last touch of the batch by this lane */
}

void bp_lane_reload(bp_lane *l)
{
    int rc = reload_fn(l->sink)(l->sink->state);
    bp_log(l->sink->name, rc == BP_OK ? BP_LOG_INFO : BP_LOG_WARN,
           rc == BP_OK ? "reloaded on SIGHUP" : "reload on SIGHUP failed; keeping the previous "
                                                "configuration");
}

static void *lane_main(void *arg)
{
    bp_lane *l = arg;
    bp_lanes *ls = l->all;
    if (l->spool)
        return bp_spooled_lane_thread(l, deliver);
    pthread_mutex_lock(&ls->mu);
    for (;;) {
        while (!l->head && !ls->quit && !l->reload && !abandoned(ls))
            pthread_cond_wait(&l->wake, &ls->mu);
        if (abandoned(ls) || (ls->quit && !l->head))
            break;
        if (l->reload) {
            l->reload = false;
            pthread_mutex_unlock(&ls->mu);
            bp_lane_reload(l);
            pthread_mutex_lock(&ls->mu);
            continue;
        }
        bp_work *w = l->head; /* stays in the backlog until delivered */
        pthread_mutex_unlock(&ls->mu);
        bp_lane_result res = deliver(l, w);
        pthread_mutex_lock(&ls->mu);
        if (res != LANE_OK) {
            if (res == LANE_FATAL)
                ls->fatal = true;
            pthread_cond_broadcast(&ls->changed);
            break;
        }
        bp_lane_pop_done(l);
        l->failing = 0;
        pthread_cond_broadcast(&ls->changed);
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
        l->records += w[i]->n;
        l->bytes += w[i]->flight->bytes;
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
            int k = snprintf(buf + used, size - used, "%s %s: %" PRIu64 " record(s) in its disk "
                             "buffer, %.1f MiB%s%s", used ? ";" : " |", l->sink->name,
                             l->spool_records, (double)l->spool_bytes / 1048576.0,
                             l->spool_full ? " (full)" : "", l->failing ? ", retrying" : "");
            if (k > 0)
                used += (size_t)k < size - used ? (size_t)k : size - used - 1;
            if (used + 1 >= size)
                break;
        }
        if (!l->batches || (!full && !l->failing))
            continue;
        int k = snprintf(buf + used, size - used, "%s %s%s: backlog %zu record(s) in %zu "
                         "batch(es), %.1f MiB%s", used ? ";" : " |", l->sink->name,
                         full ? " full, source paused" : "", l->records, l->batches,
                         (double)l->bytes / 1048576.0, l->failing ? ", retrying" : "");
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

int bp_lanes_start(bp_lanes *ls, bp_pipeline *p, bp_stats *st)
{
    memset(ls, 0, sizeof *ls);
    ls->p = p;
    ls->st = st;
    atomic_init(&ls->abandon, false);
    pthread_mutex_init(&ls->mu, NULL);
    pthread_cond_init(&ls->changed, NULL);
    ls->n = p->n_sinks;
    ls->lanes = calloc(ls->n ? ls->n : 1, sizeof *ls->lanes);
    ls->order = calloc(ls->n ? ls->n : 1, sizeof *ls->order);
    if (!ls->lanes || !ls->order) {
        bp_log("core", BP_LOG_ERROR, "out of memory starting the delivery lanes");
        return -1;
    }
    for (size_t i = 0; i < ls->n; i++)
        pthread_cond_init(&ls->lanes[i].wake, NULL);
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
        l->all = ls;
        l->sink = p->sinks[i];
        l->max_records = bound(l->sink, "lane_max_records", p->settings.lane_max_records);
        l->max_bytes = bound(l->sink, "lane_max_bytes", p->settings.lane_max_bytes);
        l->rng = (seed ^ (0xD1B54A32D192ED03ull * (i + 1))) | 1;
        bp_batch_init(&l->mem.pending, NULL, 0);
        bp_batch_init(&l->mem.again, NULL, 0);
        bp_batch_init(&l->back.pending, NULL, 0);
        bp_batch_init(&l->back.again, NULL, 0);
        bp_buf_init(&l->enc);
        const char *buffer = bp_section_value(l->sink->section, "buffer");
        if (buffer && strcmp(buffer, "disk") == 0 &&
            bp_lane_open_spool(l, bp_section_value(l->sink->section, "buffer_path"),
                               bound(l->sink, "buffer_max_bytes", BP_SPOOL_DEFAULT_MAX)) != 0) {
            rc = -1;
            break;
        }
        if (pthread_create(&l->thread, NULL, lane_main, l) != 0) {
            bp_log("core", BP_LOG_ERROR, "cannot start the delivery thread of %s",
                   l->sink->name);
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
        if (l->started)
            pthread_join(l->thread, NULL);
        l->started = false;
        bp_attempts_free(&l->mem);
        bp_attempts_free(&l->back);
        bp_lane_close_spool(l);
        free(l->refused);
        free(l->refused_why);
        l->refused = NULL;
        l->refused_why = NULL;
    }
}

void bp_lanes_free(bp_lanes *ls)
{
    bp_lanes_stop(ls, true);
    for (size_t i = 0; ls->lanes && i < ls->n; i++)
        pthread_cond_destroy(&ls->lanes[i].wake);
    free(ls->lanes);
    free(ls->order);
    ls->lanes = NULL;
    ls->order = NULL;
    pthread_cond_destroy(&ls->changed);
    pthread_mutex_destroy(&ls->mu);
}
