#include "engine/runner.h"

#include "base/backoff.h"
#include "base/log.h"
#include "common/clock.h"
#include "delivery/lane.h"
#include "engine/classify.h"
#include "engine/decode_pool.h"
#include "engine/inject.h"
#include "engine/revision_route.h"
#include "pipeline/document.h"
#include "pipeline/revisions.h"
#include "pipeline/state.h"

#include <math.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop_requests;
static volatile sig_atomic_t reload_requested;

static void on_hangup(int sig)
{
    (void)sig;
    reload_requested = 1;
}

static void on_signal(int sig)
{
    (void)sig;
    if (stop_requests < 2)
        stop_requests++;
}

void bp_runner_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_hangup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void bp_runner_request_stop(void)
{
    if (stop_requests < 1)
        stop_requests = 1;
}

typedef enum { STEP_OK, STEP_FATAL, STEP_ABANDONED } step_result;

/* Batches polled but not committed are kept for reuse, their arenas warm. */
#define SPARE_FLIGHTS 4

/* Everything one run needs on the main thread. */
typedef struct runner {
    bp_pipeline *p;
    bp_stats *st;
    const bp_run_opts *opts;
    bp_lanes lanes;
    const bp_run_observer *obs; /* told what the run does (run_observer.h); NULL: no one */
    bp_flight *head, *tail; /* polled, not yet committed, in poll order */
    bp_flight *spare;       /* up to SPARE_FLIGHTS for reuse */
    size_t n_spare;
    bp_flight *f;           /* the batch being polled and judged */
    /* [pipeline] decode_ahead: the batch polled once the one before it was judged, its payloads
     * on the decode pool while the main thread handed that one off; judged next. */
    bp_flight *ahead;
    bool ahead_decoding;      /* its payloads were submitted to the pool */
    bool ahead_failed;        /* the poll ahead failed for good: the run stops after the hand-off */
    double ahead_poll_began;  /* when its poll began (bp_now_s), for the stage line */
    bp_record *current_input; /* the payload being decoded */
    bp_decode_pool *decode;   /* NULL: the main thread decodes alone (decode_threads = 1) */
    bp_revisions *ledger;     /* the revision ledger (src/pipeline/revisions.h) */
    uint64_t rng;
    double last_status;
    uint64_t last_in;
    uint64_t next_seq;        /* the last batch's poll order (keyed state) */
    bool warned_stop;
    bool warned_stop_waiting; /* told that a stop waits for a sink that cannot deliver */
    double paused_s;          /* when a full lane paused the source (bp_now_s), 0: not paused */
    int paused_by;            /* the full lane's index while paused */
} runner;

/* The per-batch stage lines below cost a pass over the batch: only at log_level = debug. */
static bool tracing(void)
{
    return bp_log_get_level() >= BP_LOG_DEBUG;
}

static bool abandon(void)
{
    return stop_requests >= 2;
}

static bool wake_abandoned(void *unused)
{
    (void)unused;
    return abandon();
}

static bool wake_stopped(void *unused)
{
    (void)unused;
    return stop_requests != 0;
}

/* Sleeps the full-jitter back-off for `attempt` on the main thread (a detector, the source's
 * poll or commit). With batches in flight it wakes early only when they are abandoned (second
 * signal); with none (the source failing) a first signal is enough. */
static void back_off(runner *r, unsigned attempt, const char *who, const char *what,
                     bool in_flight)
{
    const bp_settings *s = &r->p->settings;
    double ms = bp_backoff_ms(s->retry_initial_ms, s->retry_max_ms, attempt, &r->rng);
    bp_log(who, BP_LOG_WARN, "%s; retrying in %.0f ms (attempt %u)", what, ms, attempt + 1);
    bp_backoff_sleep(ms, in_flight ? wake_abandoned : wake_stopped, NULL);
}

static int on_decoded(void *user, const bp_decoded *d)
{
    runner *r = user;
    bp_classify c = {&r->p->settings.plausible, r->ledger, &r->f->records, &r->f->valid};
    return bp_classify_decoded(&c, r->current_input, d); /* classify.c */
}

/* An item the decode pool decoded, replayed on the main thread in payload order. */
static int on_pooled(void *user, size_t payload, const bp_decoded *d)
{
    runner *r = user;
    r->current_input = r->f->input.items[payload];
    return on_decoded(r, d);
}

static step_result decode_all(runner *r)
{
    bp_decode_opts opts = {.max_payload_bytes = (size_t)r->p->settings.max_payload_bytes};
    /* A batch polled ahead was submitted to the pool then: its decoding is finished here. */
    bool submitted = r->ahead_decoding;
    r->ahead_decoding = false;
    if (r->decode &&
        (submitted ? bp_decode_pool_finish(r->decode, on_pooled, r)
                   : bp_decode_pool_run(r->decode, &r->f->input, &opts, on_pooled, r)) != 0) {
        bp_log("core", BP_LOG_ERROR, "out of memory while decoding a batch");
        return STEP_FATAL;
    }
    for (size_t i = 0; !r->decode && i < r->f->input.count; i++) {
        r->current_input = r->f->input.items[i];
        size_t before = r->f->records.count;
        if (bp_decode_input(r->current_input, &opts, on_decoded, r) != 0) {
            bp_log("core", BP_LOG_ERROR, "out of memory while decoding a batch");
            return STEP_FATAL;
        }
        if (r->f->records.count == before) {
            /* The decoder promises one item per payload at least; never lose one if not. */
            bp_decoded lost = {.invalid_reason = "decoder produced no reading and no reason",
                               .systolic = NAN, .diastolic = NAN, .heart_rate = NAN, .mean_pressure = NAN,
                               .resource_index = -1};
            if (on_decoded(r, &lost) != 0)
                return STEP_FATAL;
        }
    }
    /* Skipped resources ride in `records` to reach their sinks, but are not readings; nor are
     * alarm commands, nor retractions. */
    size_t skipped = 0;
    for (size_t i = 0; i < r->f->records.count; i++) {
        bp_route route = bp_record_route(r->f->records.items[i]);
        skipped += route == BP_ROUTE_SKIPPED || route == BP_ROUTE_COMMAND ||
                   route == BP_ROUTE_ALARM || /* events a tick appended before the decode */
                   route == BP_ROUTE_RETRACT;
    }
    r->f->readings = r->f->records.count - skipped;
    r->st->payloads += r->f->input.count;
    r->st->readings_in += r->f->readings;
    r->st->in_flight += r->f->readings;
    return STEP_OK;
}

/* One detector's detect() on `batch`, retried while it asks to. */
static step_result run_detector(runner *r, bp_ctx *d, bp_batch *batch)
{
    for (unsigned attempt = 0;; attempt++) {
        double t0 = bp_now_s();
        int rc = d->plugin->desc->detect(d->state, batch);
        d->busy_s += bp_now_s() - t0;
        d->calls++;
        if (rc == BP_OK)
            return STEP_OK;
        if (rc != BP_RETRY) {
            bp_log(d->name, BP_LOG_ERROR, "detector failed permanently (status %d); stopping", rc);
            return STEP_FATAL;
        }
        if (abandon())
            return STEP_ABANDONED;
        back_off(r, attempt, d->name, "detector asked to retry", true);
    }
}

/* The batch a detector that does not honour revisions sees: `valid` without its retractions.
 * Its items array is the caller's to free. */
static int readings_only(const bp_batch *valid, bp_batch *out)
{
    bp_batch_init(out, valid->arena, 0);
    out->seq = valid->seq;
    for (size_t i = 0; i < valid->count; i++)
        if (valid->items[i]->revision != BP_REVISION_RETRACT &&
            bp_batch_push(out, valid->items[i]) != BP_OK)
            return -1;
    return 0;
}

/* Every detector in file order on the batch's valid records; the retractions among them only
 * to the detectors that honour revisions (BP_CAP_REVISIONS, docs/revisions.md). */
static step_result run_detectors(runner *r)
{
    bp_batch *valid = &r->f->valid;
    if (valid->count == 0)
        return STEP_OK;
    size_t retractions = 0;
    for (size_t i = 0; i < valid->count; i++)
        retractions += valid->items[i]->revision == BP_REVISION_RETRACT;
    bp_batch plain;
    bp_batch_init(&plain, valid->arena, 0);
    bool built = false;
    step_result res = STEP_OK;
    for (size_t i = 0; i < r->p->n_detectors && res == STEP_OK; i++) {
        bp_ctx *d = r->p->detectors[i];
        bp_batch *batch = valid;
        if (retractions && !bp_desc_takes_revisions(d->plugin->desc)) {
            if (!built && readings_only(valid, &plain) != 0) {
                bp_log("core", BP_LOG_ERROR, "out of memory judging a batch");
                res = STEP_FATAL;
                break;
            }
            built = true;
            batch = &plain;
        }
        if (batch->count)
            res = run_detector(r, d, batch);
    }
    bp_batch_free(&plain);
    return res;
}

/* Marks which sinks each record must reach. */
static void route_all(runner *r)
{
    bp_pipeline *p = r->p;
    for (size_t i = 0; i < r->f->records.count; i++) {
        bp_record *rec = r->f->records.items[i];
        bp_route route = bp_record_route(rec);
        rec->sinks_pending = bp_route_sinks(p, rec); /* revision_route.c */
        if (route == BP_ROUTE_SKIPPED)
            bp_stats_count_skipped(r->st, rec->skip_reason);
        if (route == BP_ROUTE_INVALID) {
            bp_stats_count_reason(r->st, rec->invalid_reason);
            if (!p->has_invalid_sink) {
                /* The same words every time, so the rate limit keeps it to a line a while; the
                 * count and each reason are in the books and the summary. */
                r->st->invalid_unrouted++;
                bp_log("core", BP_LOG_WARN,
                       "invalid payloads are not kept: no sink has route = invalid (the summary "
                       "counts them, by reason); add one to keep them as dead letters");
                bp_log("core", BP_LOG_DEBUG, "invalid payload not kept: %s", rec->invalid_reason);
            }
        }
    }
}

static step_result commit_batch(runner *r, bp_flight *f)
{
    bp_ctx *src = r->p->source;
    /* The payloads the host added (src/engine/inject.h) are the last of the batch and none of
     * the source's positions: commit() sees the source's own only. */
    bp_batch own = f->input;
    size_t added = bp_inject_count(f->input.seq);
    own.count -= added < own.count ? added : own.count;
    if (!src->plugin->desc->commit || (added && own.count == 0))
        return STEP_OK;
    for (unsigned attempt = 0;; attempt++) {
        double t0 = bp_now_s();
        int rc = src->plugin->desc->commit(src->state, &own);
        double t1 = bp_now_s();
        if (rc == BP_OK && tracing())
            bp_log("core", BP_LOG_DEBUG,
                   "batch %llu committed %.1f ms after its poll returned (commit() took %.1f ms)",
                   (unsigned long long)f->input.seq, (t1 - f->polled_s) * 1000.0,
                   (t1 - t0) * 1000.0);
        if (rc == BP_OK)
            return STEP_OK;
        if (rc != BP_RETRY) {
            bp_log(src->name, BP_LOG_ERROR, "commit failed permanently; stopping");
            return STEP_FATAL;
        }
        if (abandon())
            return STEP_ABANDONED;
        back_off(r, attempt, src->name, "commit failed", true);
    }
}

/* One call of the source's poll() into r->f->input, timed; *rc is its status. False (logged) when
 * the source broke the contract by adding more than `capacity` payloads. */
static bool poll_into(runner *r, size_t capacity, int timeout_ms, int *rc)
{
    bp_ctx *src = r->p->source;
    double t0 = bp_now_s();
    *rc = src->plugin->desc->poll(src->state, &r->f->input, timeout_ms);
    src->busy_s += bp_now_s() - t0;
    src->calls++;
    if (r->f->input.count <= capacity)
        return true;
    bp_log(src->name, BP_LOG_ERROR, "source added %zu payloads, more than the %zu asked for; "
           "stopping", r->f->input.count, capacity);
    return false;
}

/* Whether the source declared (ABI 1.2) that poll() can append to a batch. */
static bool polls_append(const bp_ctx *src)
{
    const bp_plugin *d = src->plugin->desc;
    return bp_desc_caps(d) & BP_CAP_POLL_APPENDS;
}

/* [pipeline] linger_ms: after the first payload, polls again into the same batch until it is
 * full, the time is up, or a poll brings nothing. What was gathered is processed whatever a
 * later poll answers, except BP_FATAL (then nothing of the batch is committed). */
static step_result linger(runner *r, size_t capacity, bool *ended)
{
    bp_ctx *src = r->p->source;
    if (r->p->settings.linger_ms <= 0 || r->f->input.count == 0 || !polls_append(src))
        return STEP_OK;
    double until = bp_now_s() + (double)r->p->settings.linger_ms / 1000.0;
    while (r->f->input.count < capacity && !stop_requests) {
        double left_ms = (until - bp_now_s()) * 1000.0;
        if (left_ms < 1)
            break;
        size_t before = r->f->input.count;
        int rc;
        if (!poll_into(r, capacity, (int)left_ms, &rc))
            return STEP_FATAL;
        if (rc != BP_OK && rc != BP_END && rc != BP_RETRY) {
            bp_log(src->name, BP_LOG_ERROR, "source failed permanently (status %d); stopping", rc);
            return STEP_FATAL;
        }
        if (rc == BP_END)
            *ended = true;
        if (rc != BP_OK || r->f->input.count == before)
            break;
    }
    return STEP_OK;
}

/* How long a poll may wait for its first payload. While earlier batches wait for their commit, at
 * most commit_wait_ms: a batch the lanes finish meanwhile is committed only when the poll returns
 * (the source's poll cannot be woken), and what is stored but not committed is read again after
 * a crash or by a partition's next owner, and is not yet acknowledged to an MLLP sender. */
static int poll_wait_ms(const runner *r)
{
    int ms = (int)r->p->settings.poll_timeout_ms;
    int lag = (int)r->p->settings.commit_wait_ms;
    return r->head && ms > lag ? lag : ms;
}

/* Polls once, retrying transient failures. Sets *ended when the source is exhausted. */
static step_result poll_source(runner *r, size_t capacity, bool *ended)
{
    bp_ctx *src = r->p->source;
    for (unsigned attempt = 0;; attempt++) {
        bp_batch_clear(&r->f->input);
        r->f->input.capacity = capacity;
        int rc;
        if (!poll_into(r, capacity, poll_wait_ms(r), &rc))
            return STEP_FATAL;
        if (rc == BP_OK || rc == BP_END) {
            *ended = rc == BP_END;
            return *ended ? STEP_OK : linger(r, capacity, ended);
        }
        if (rc != BP_RETRY) {
            bp_log(src->name, BP_LOG_ERROR, "source failed permanently (status %d); stopping", rc);
            return STEP_FATAL;
        }
        if (stop_requests)
            return STEP_OK; /* nothing in flight: a stop needs no retry */
        back_off(r, attempt, src->name, "source asked to retry", false);
    }
}

/* A batch to poll into: a spare one (its arena and arrays warm) or a new one. */
static bp_flight *flight_new(runner *r)
{
    bp_flight *f = r->spare;
    if (f) {
        r->spare = f->next;
        r->n_spare--;
    } else if ((f = calloc(1, sizeof *f))) {
        bp_arena_init_growing(&f->arena, BP_FLIGHT_FIRST_CHUNK);
        bp_batch_init(&f->input, &f->arena, 0);
        bp_batch_init(&f->records, &f->arena, 0);
        bp_batch_init(&f->valid, &f->arena, 0);
    } else {
        return NULL;
    }
    f->next = NULL;
    f->input.seq = ++r->next_seq;
    /* the judged records are of the same batch (the alarm stage stamps its changes with it) */
    f->records.seq = f->valid.seq = f->input.seq;
    bp_state_begin_poll(f->input.seq);
    f->remaining = 0;
    f->bytes = 0;
    f->works = NULL;
    f->readings = 0;
    f->corrected = 0;
    memset(f->routes, 0, sizeof f->routes);
    return f;
}

static void flight_free(bp_flight *f)
{
    bp_batch_free(&f->input);
    bp_batch_free(&f->records);
    bp_batch_free(&f->valid);
    bp_arena_free(&f->arena);
    free(f);
}

/* A committed (or unused) batch: its memory is kept for the next one, up to SPARE_FLIGHTS. */
static void flight_done(runner *r, bp_flight *f)
{
    bp_arena_reset(&f->arena);
    bp_batch_clear(&f->input);
    bp_batch_clear(&f->records);
    bp_batch_clear(&f->valid);
    if (r->n_spare >= SPARE_FLIGHTS) {
        flight_free(f);
        return;
    }
    f->next = r->spare;
    r->spare = f;
    r->n_spare++;
}

/* Gives every lane its part of the judged batch: one work item per sink with records routed to
 * it, built in the batch's arena before any lane sees the batch, and handed over critical lanes
 * first. From then on the batch is shared: its arena and documents only under the lanes' lock. */
static step_result hand_off(runner *r)
{
    bp_flight *f = r->f;
    bp_lanes *ls = &r->lanes;
    bp_work *work[BP_MAX_SINKS];
    size_t idx[BP_MAX_SINKS], n = 0, total = 0;
    for (size_t k = 0; k < ls->n; k++) {
        size_t s = ls->order[k];
        uint64_t bit = 1ull << s;
        size_t count = 0;
        for (size_t i = 0; i < f->records.count; i++)
            count += (f->records.items[i]->sinks_pending & bit) != 0;
        if (!count)
            continue;
        bp_work *w = bp_arena_alloc(&f->arena, sizeof *w);
        bp_record **recs = bp_arena_alloc(&f->arena, count * sizeof *recs);
        if (!w || !recs) {
            bp_log("core", BP_LOG_ERROR, "out of memory routing a batch");
            return STEP_FATAL;
        }
        size_t j = 0;
        for (size_t i = 0; i < f->records.count; i++)
            if (f->records.items[i]->sinks_pending & bit)
                recs[j++] = f->records.items[i];
        w->flight = f;
        w->recs = recs;
        w->n = count;
        work[n] = w;
        idx[n++] = s;
        total += count;
    }
    for (size_t i = 0; i < f->records.count; i++)
        f->records.items[i]->doc_lock = &ls->mu;
    f->remaining = total; /* its bytes are counted by the lanes it is pushed to */
    if (r->tail)
        r->tail->next = f;
    else
        r->head = f;
    r->tail = f;
    r->f = NULL;
    bp_lanes_push(ls, work, idx, n);
    return STEP_OK;
}

/* What the run tells its observer, when it has one and that one listens (run_observer.h). */
static void observe_tick(runner *r, bool force)
{
    if (r->obs && r->obs->tick)
        r->obs->tick(r->obs->ctx, r->st, r->p, &r->lanes, force);
}

static void observe_judged(runner *r, const bp_batch *records)
{
    if (r->obs && r->obs->judged)
        r->obs->judged(r->obs->ctx, records);
}

static void observe_committed(runner *r, const bp_flight *f)
{
    if (r->obs && r->obs->committed)
        r->obs->committed(r->obs->ctx, f);
}

/* The alarm stage (src/alarm) after the detectors: acknowledgements and verdicts in batch order,
 * then the escalations due now; their event records are appended to the batch. */
static step_result run_alarms(runner *r)
{
    bp_alarms *al = r->opts->alarms;
    if (!al)
        return STEP_OK;
    int64_t now = bp_wall_ms();
    if (bp_alarms_process(al, &r->f->records, now) != 0 ||
        bp_alarms_tick(al, &r->f->records, r->f->input.seq, now) < 0)
        return STEP_FATAL; /* logged */
    return STEP_OK;
}

static bool limits_reached(const bp_run_opts *o, const bp_stats *st)
{
    if (o->max_records && st->readings_in >= o->max_records)
        return true;
    return o->duration_s > 0 && bp_now_s() - st->started_s >= o->duration_s;
}

/* Whether the source may be polled while earlier batches wait for their commit: it has no
 * commit(), or it declared (ABI 1.3) that commit() takes the batch's own positions. */
static bool commits_ahead(const bp_ctx *src)
{
    const bp_plugin *d = src->plugin->desc;
    if (!d->commit)
        return true;
    return bp_desc_caps(d) & BP_CAP_BATCH_COMMIT;
}

/* How many payloads the next poll may bring: a batch, or what is left of max_records. */
static size_t poll_capacity(const runner *r)
{
    size_t capacity = (size_t)r->p->settings.batch_size;
    if (r->opts->max_records && r->opts->max_records - r->st->readings_in < capacity)
        capacity = (size_t)(r->opts->max_records - r->st->readings_in);
    return capacity;
}

/* Whether every lane is still below its bounds once it holds the judged batch `f` too, counted
 * as if all of it went to every lane (its routes are not marked yet): what the loop checks
 * before a poll, as it will stand after the hand-off. */
static bool lanes_take(runner *r, const bp_flight *f)
{
    size_t slots = f->input.cap + f->records.cap + f->valid.cap;
    size_t bytes = sizeof *f + slots * sizeof(bp_record *) + bp_arena_used(&f->arena);
    bool room = true;
    pthread_mutex_lock(&r->lanes.mu);
    for (size_t i = 0; i < r->lanes.n && room; i++) {
        const bp_lane *l = &r->lanes.lanes[i];
        room = l->records + f->records.count < l->max_records && l->bytes + bytes < l->max_bytes;
    }
    pthread_mutex_unlock(&r->lanes.mu);
    return room;
}

/* [pipeline] decode_ahead: whether the next batch may be polled now, before the judged batch
 * in r->f is handed off. Only when the loop would poll right after the hand-off anyway (no stop,
 * no end, no limit, no lane full once it holds this batch, a source that may be polled with
 * batches uncommitted), with a pool to decode on and no linger_ms (a poll ahead never waits:
 * the judged batch waits for it). A source paused behind a full lane is so polled no sooner. */
static bool may_poll_ahead(runner *r, bool ended)
{
    const bp_settings *s = &r->p->settings;
    if (!r->decode || !s->decode_ahead || s->linger_ms > 0 || ended || stop_requests ||
        r->f->input.count == 0 || limits_reached(r->opts, r->st) || !commits_ahead(r->p->source))
        return false;
    return lanes_take(r, r->f);
}

/* Polls the next batch without waiting and submits its payloads to the decode pool, whose
 * helpers decode them while the main thread routes, hands off and commits the batch in r->f
 * (judged already, so a rebalance inside this poll finds it as it finds every judged batch not
 * yet committed). The next turn of the loop judges it (poll_and_process). What this poll brings
 * is processed whatever happens meanwhile (a stop, the source's end, a limit, a full lane): it
 * is never dropped. A poll that fails for good is reported after the hand-off. */
static void poll_ahead(runner *r, bool *ended)
{
    if (!may_poll_ahead(r, *ended))
        return;
    size_t capacity = poll_capacity(r);
    bp_flight *judged = r->f, *next = flight_new(r);
    if (!next)
        return; /* polled after the hand-off instead, which says what failed */
    r->f = next;
    double began = bp_now_s();
    bp_batch_clear(&next->input);
    next->input.capacity = capacity;
    int rc;
    bool fits = poll_into(r, capacity, 0, &rc);
    next->polled_s = bp_now_s();
    next->polled_ms = bp_wall_ms();
    r->f = judged;
    if (fits && rc != BP_OK && rc != BP_END && rc != BP_RETRY)
        bp_log(r->p->source->name, BP_LOG_ERROR, "source failed permanently (status %d); stopping",
               rc);
    if (!fits || (rc != BP_OK && rc != BP_END && rc != BP_RETRY)) {
        r->ahead_failed = true;
        flight_done(r, next);
        return;
    }
    if (rc == BP_END)
        *ended = true;
    if (rc == BP_RETRY)
        bp_batch_clear(&next->input); /* as poll_source: what it holds is polled again */
    bp_inject_drain(&next->input, next->input.seq);
    if (next->input.count == 0) {
        flight_done(r, next); /* the next turn polls as usual (and ticks the alarm stage) */
        return;
    }
    bp_decode_opts opts = {.max_payload_bytes = (size_t)r->p->settings.max_payload_bytes};
    r->ahead = next;
    r->ahead_poll_began = began;
    r->ahead_decoding = bp_decode_pool_submit(r->decode, &next->input, &opts) == 0;
}

/* Decodes, judges and routes the polled batch, then hands it to the lanes; polls the next one
 * once this one is judged when it may (poll_ahead). */
static step_result process_batch(runner *r, bool *ended)
{
    step_result res = decode_all(r);
    if (res == STEP_OK)
        res = run_detectors(r);
    if (res == STEP_OK)
        res = run_alarms(r);
    if (res != STEP_OK)
        return res;
    poll_ahead(r, ended);
    /* Judged routes are booked at commit, as judged: a refused reading stays under its route.
     * An accepted correction is a reading of its route and, beside the books, corrected. */
    for (size_t i = 0; i < r->f->records.count; i++) {
        const bp_record *rec = r->f->records.items[i];
        bp_route route = bp_record_route(rec);
        r->f->routes[route]++;
        r->f->corrected += rec->revision == BP_REVISION_REPLACE &&
                           (route == BP_ROUTE_NORMAL || route == BP_ROUTE_ANOMALY);
    }
    route_all(r);
    observe_judged(r, &r->f->records);
    /* After the observer (the live page shows the correction, not its companion): what the
     * sinks that held the old version and do not get the new one must remove. */
    if (bp_add_companions(r->p, &r->f->records) < 0) {
        bp_log("core", BP_LOG_ERROR, "out of memory routing a batch");
        return STEP_FATAL;
    }
    return hand_off(r);
}

/* Commits, in poll order, every batch at the head whose deliveries are all done: the
 * contiguous watermark. A batch behind one that is not done waits, even when it is done. */
static step_result commit_done(runner *r)
{
    for (;;) {
        pthread_mutex_lock(&r->lanes.mu);
        bp_flight *f = r->head && r->head->remaining == 0 ? r->head : NULL;
        pthread_mutex_unlock(&r->lanes.mu);
        if (!f)
            return STEP_OK;
        /* No lane holds any part of it any more: it is the main thread's alone again. */
        step_result res = commit_batch(r, f);
        if (res != STEP_OK)
            return res;
        /* The state as of this commit is the base now; the snapshot files (sources that do not
         * keep the state themselves) are written from it at these points only. */
        bp_state_commit(f->input.seq);
        bp_state_checkpoint(false);
        bp_inject_committed(f->input.seq); /* an acknowledgement's answer waits for this */
        r->head = f->next;
        if (!r->head)
            r->tail = NULL;
        for (int i = 0; i < BP_ROUTE_COUNT; i++)
            r->st->by_route[i] += f->routes[i];
        r->st->corrected += f->corrected;
        bp_revision_counts rc;
        bp_revisions_get_counts(r->ledger, &rc);
        r->st->revisions_evicted = rc.evicted;
        r->st->revisions_lost = rc.lost;
        r->st->in_flight -= f->readings;
        observe_committed(r, f);
        flight_done(r, f);
    }
}

/* The status line every stats_interval, also while the source is paused behind a full lane or
 * a drain waits: it names every sink that holds a backlog and cannot deliver it now. */
static void status_tick(runner *r, int blocked)
{
    bp_pipeline *p = r->p;
    observe_tick(r, false);
    double now = bp_now_s();
    if (p->settings.stats_interval_s <= 0 ||
        now - r->last_status < (double)p->settings.stats_interval_s)
        return;
    char note[1024] = "";
    bp_lanes_note(&r->lanes, blocked, p->source->calls, note, sizeof note);
    bp_stats_print_status(r->st, p, (double)(r->st->readings_in - r->last_in) /
                          (now - r->last_status), note);
    r->last_status = now;
    r->last_in = r->st->readings_in;
}

static bool lanes_fatal(runner *r)
{
    pthread_mutex_lock(&r->lanes.mu);
    bool fatal = r->lanes.fatal;
    pthread_mutex_unlock(&r->lanes.mu);
    return fatal;
}

/* Waits up to 100 ms for a lane to make progress (or fail) while lane `blocked` is full. */
static void wait_for_lanes(runner *r)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 100 * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->lanes.mu);
    if (!r->lanes.fatal)
        pthread_cond_timedwait(&r->lanes.changed, &r->lanes.mu, &until);
    pthread_mutex_unlock(&r->lanes.mu);
}

/* The name of a lane with a backlog that is failing, else of any lane with a backlog;
 * *failing tells which. */
static const char *waiting_for(runner *r, bool *failing)
{
    const char *who = NULL;
    *failing = false;
    pthread_mutex_lock(&r->lanes.mu);
    for (size_t i = 0; i < r->lanes.n && !*failing; i++) {
        const bp_lane *l = &r->lanes.lanes[i];
        if (l->batches && (l->failing || !who)) {
            who = l->sink->name;
            *failing = l->failing > 0;
        }
    }
    pthread_mutex_unlock(&r->lanes.mu);
    return who;
}

/* Polling has stopped: lets the lanes deliver what they hold and commits it. Unbounded after
 * the source ended or a first signal (a second abandons); bounded by drain_timeout_ms after
 * --duration or --max-records. Returns the exit status. */
static int drain(runner *r, bool bounded)
{
    const bp_settings *s = &r->p->settings;
    double started = bp_now_s();
    double deadline = bounded ? started + (double)s->drain_timeout_ms / 1000.0 : -1;
    int status = 0;
    bool give_up = false;
    for (;;) {
        step_result res = commit_done(r);
        if (res != STEP_OK) {
            status = 1;
            give_up = true;
            if (res == STEP_ABANDONED)
                bp_log("core", BP_LOG_WARN, "batches in flight abandoned on a second signal; "
                       "they were not committed and will be delivered again");
            break;
        }
        if (!r->head)
            break;
        if (lanes_fatal(r)) {
            status = 1;
            give_up = true;
            break;
        }
        if (abandon()) {
            bp_log("core", BP_LOG_WARN, "batches in flight abandoned on a second signal; they "
                   "were not committed and will be delivered again");
            status = 1;
            give_up = true;
            break;
        }
        double now = bp_now_s();
        if (deadline < 0 && r->opts->duration_s > 0 &&
            now - r->st->started_s >= r->opts->duration_s)
            deadline = now + (double)s->drain_timeout_ms / 1000.0;
        bool failing;
        if (deadline >= 0 && now >= deadline) {
            const char *who = waiting_for(r, &failing);
            bp_log("core", BP_LOG_WARN, "drain time (drain_timeout_ms = %lld) is over with "
                   "%llu reading(s) not yet delivered (waiting for %s): they are left "
                   "uncommitted and will be read again", (long long)s->drain_timeout_ms,
                   (unsigned long long)r->st->in_flight, who ? who : "the sinks");
            give_up = true;
            break;
        }
        const char *who = stop_requests == 1 && !r->warned_stop_waiting ?
                          waiting_for(r, &failing) : NULL;
        if (who && (failing || now - started >= 1.0)) {
            /* A first signal waits for the batches in flight; when a sink cannot deliver them,
             * say so, or the operator sees a process that ignores Ctrl-C. */
            bp_log("core", BP_LOG_WARN, "stop requested: waiting for %s to deliver the batch in "
                   "flight; signal again to stop now (the batch is then not committed and will "
                   "be read again)", who);
            r->warned_stop_waiting = true;
        }
        status_tick(r, -1);
        wait_for_lanes(r);
    }
    bp_lanes_stop(&r->lanes, give_up);
    if (give_up && status == 0)
        commit_done(r); /* what the lanes finished at the last moment */
    if (stop_requests == 1 && status == 0 && !r->head)
        bp_log("core", BP_LOG_INFO, "stop requested: batches drained, flushing sinks");
    return status;
}

/* Call once the lanes stopped. */
static void runner_free(runner *r)
{
    /* The pool first: a batch polled ahead may still be decoded by its helpers. */
    bp_decode_pool_stop(r->decode);
    r->decode = NULL;
    bp_flight *lists[] = {r->head, r->spare, r->f, r->ahead};
    for (size_t i = 0; i < 4; i++) {
        for (bp_flight *f = lists[i]; f;) {
            bp_flight *next = f == r->f || f == r->ahead ? NULL : f->next;
            flight_free(f);
            f = next;
        }
    }
    r->head = r->tail = r->spare = r->f = r->ahead = NULL;
    bp_lanes_free(&r->lanes);
    bp_revisions_close(r->ledger); /* after the final checkpoint: its keys are written */
    r->ledger = NULL;
    bp_fhir_decode_thread_done();
    bp_document_thread_done();
}

/* After SIGHUP, between batches: every instance that can re-read its files does; sinks on their
 * own lane thread, between two of their batches. */
static void reload_all(runner *r)
{
    bp_pipeline *p = r->p;
    bp_ctx *all[1 + 256];
    size_t n = 0;
    all[n++] = p->source;
    for (size_t i = 0; i < p->n_detectors && n < 257; i++)
        all[n++] = p->detectors[i];
    for (size_t i = 0; i < n; i++) {
        const bp_plugin *d = all[i]->plugin->desc;
        int (*fn)(void *) =
            BP_DESC_HAS(d, reload) ? d->reload : NULL;
        if (!fn)
            continue;
        int rc = fn(all[i]->state);
        bp_log(all[i]->name, rc == BP_OK ? BP_LOG_INFO : BP_LOG_WARN,
               rc == BP_OK ? "reloaded on SIGHUP" : "reload on SIGHUP failed; keeping the "
                                                    "previous configuration");
    }
    bp_lanes_request_reload(&r->lanes);
}

/* At log_level = debug, where a batch's time went before the lanes got it (docs/operations.md,
 * "Where the latency goes"): how long its oldest payload waited from the source's timestamp
 * (Kafka's CreateTime or LogAppendTime) to the poll's return, the poll itself, and decoding,
 * judging and routing (from the poll's return: for a batch polled ahead, the part of it spent
 * waiting for the hand-off of the batch before it, `began_s` the end of that wait, is said
 * too). Call once the batch is handed off (r->f is then NULL: `f` is still the main thread's
 * to read, only its arena is shared). */
static void log_batch_stages(const bp_flight *f, double poll_began_s, double began_s, bool ahead)
{
    int64_t oldest = -1;
    for (size_t i = 0; i < f->input.count; i++) {
        int64_t ts = f->input.items[i]->source_ts_ms;
        if (ts >= 0 && (oldest < 0 || ts < oldest))
            oldest = ts;
    }
    char waited[96] = "no source timestamp";
    if (oldest >= 0)
        snprintf(waited, sizeof waited, "the oldest waited %lld ms from its source timestamp",
                 (long long)(f->polled_ms - oldest));
    char behind[96] = "";
    if (ahead)
        snprintf(behind, sizeof behind, " (polled ahead: %.1f ms of it behind the batch before it)",
                 (began_s - f->polled_s) * 1000.0);
    bp_log("core", BP_LOG_DEBUG,
           "batch %llu: %zu payload(s), %s to the poll's return; the poll "
           "took %.1f ms, decoding, judging and routing %.1f ms%s",
           (unsigned long long)f->input.seq, f->input.count, waited,
           (f->polled_s - poll_began_s) * 1000.0, (bp_now_s() - f->polled_s) * 1000.0, behind);
}

/* Polls one batch into a new flight, or takes the one polled ahead, and sends it down the
 * lanes. */
static step_result poll_and_process(runner *r, bool *ended)
{
    step_result res = STEP_OK;
    double poll_began;
    bool ahead = r->ahead != NULL;
    if (ahead) {
        r->f = r->ahead;
        r->ahead = NULL;
        poll_began = r->ahead_poll_began;
    } else {
        size_t capacity = poll_capacity(r);
        if (!(r->f = flight_new(r))) {
            bp_log("core", BP_LOG_ERROR, "out of memory for a new batch");
            return STEP_FATAL;
        }
        poll_began = bp_now_s();
        res = poll_source(r, capacity, ended);
        /* When the poll returned: a batch's duration runs from here to its commit, and a
         * reading without a source timestamp arrived at polled_ms. */
        r->f->polled_s = bp_now_s();
        r->f->polled_ms = bp_wall_ms();
        if (res == STEP_OK)
            bp_inject_drain(&r->f->input, r->f->input.seq);
    }
    if (res == STEP_OK && r->f->input.count) {
        bp_flight *f = r->f;
        double began = bp_now_s();
        res = process_batch(r, ended);
        if (res == STEP_OK && tracing())
            log_batch_stages(f, poll_began, began, ahead); /* handed off: still in r->head's list */
        return res;
    }
    if (res == STEP_OK && r->opts->alarms) {
        /* Nothing polled: escalations still fire on time. A batch of events alone is routed
         * and committed like any (its source commit() gets a batch with no payloads). */
        int n = bp_alarms_tick(r->opts->alarms, &r->f->records, r->f->input.seq, bp_wall_ms());
        if (n < 0)
            return STEP_FATAL;
        if (n > 0)
            return process_batch(r, ended);
    }
    if (res == STEP_OK) {
        flight_done(r, r->f);
        r->f = NULL;
    }
    return res;
}

int bp_run(bp_pipeline *p, const bp_run_opts *opts, const bp_run_observer *observer, bp_stats *st)
{
    runner r;
    memset(&r, 0, sizeof r);
    r.p = p;
    r.st = st;
    r.opts = opts;
    r.obs = observer;
    r.rng = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull | 1;
    memset(st, 0, sizeof *st);
    st->started_s = bp_now_s();
    r.last_status = st->started_s;
    /* cJSON's hooks before any lane thread can parse (sink-es reads its responses with it). */
    bp_fhir_decode_init();
    if (p->settings.decode_threads > 1 &&
        !(r.decode = bp_decode_pool_start((unsigned)p->settings.decode_threads)))
        bp_log("core", BP_LOG_WARN, "could not start %lld decode threads; the main thread "
               "decodes alone", (long long)p->settings.decode_threads);
    /* The revision ledger's keyed state, before the first poll (a source's restore on
     * assignment finds its owner). */
    const char *ledger_file = p->settings.revisions_state_file;
    if (!(r.ledger = bp_revisions_open(ledger_file && *ledger_file ? ledger_file : NULL,
                                       (uint64_t)p->settings.revisions_max_keys))) {
        bp_decode_pool_stop(r.decode);
        st->ended_s = bp_now_s();
        return 1;
    }
    if (bp_lanes_start(&r.lanes, p, st) != 0) {
        bp_revisions_close(r.ledger);
        bp_decode_pool_stop(r.decode);
        bp_lanes_free(&r.lanes);
        st->ended_s = bp_now_s();
        return 1;
    }
    /* The observer (the http listener) starts once the lanes run and is told they stopped
     * before they are freed. */
    if (r.obs && r.obs->started && r.obs->started(r.obs->ctx, p, &r.lanes) != 0) {
        bp_lanes_stop(&r.lanes, true);
        st->ended_s = bp_now_s();
        runner_free(&r);
        return 1;
    }
    observe_tick(&r, true);
    bp_inject_run_begin();
    int status = 0;
    bool ended = false, bounded = false, failed = false;
    for (;;) {
        step_result res = commit_done(&r);
        if (res == STEP_OK && lanes_fatal(&r))
            res = STEP_FATAL;
        if (res != STEP_OK) {
            if (res == STEP_ABANDONED)
                bp_log("core", BP_LOG_WARN, "batch in flight abandoned on a second signal; it "
                       "was not committed and will be delivered again");
            status = 1;
            break;
        }
        if (r.ahead_failed) {
            /* The poll ahead failed for good: the batch before it was handed off, and what the
             * lanes hold is delivered, as when the source ends (exit 1 after). */
            failed = true;
            break;
        }
        if ((ended || stop_requests || limits_reached(opts, st)) && (!r.ahead || abandon())) {
            /* A limit ends the run even when a sink is blocked: the drain is bounded. A batch
             * polled ahead is judged and handed off first (below), unless a second signal
             * abandons it: never dropped by a first signal, the source's end or a limit. */
            bounded = limits_reached(opts, st);
            break;
        }
        bp_inject_serve_sends(p->source); /* acknowledgements for another partition's owner */
        pthread_mutex_lock(&r.lanes.mu);
        int full = bp_lanes_first_full(&r.lanes);
        pthread_mutex_unlock(&r.lanes.mu);
        if (full < 0 && r.head && !commits_ahead(p->source)) {
            /* A source of ABI 1.2 or older with commit() may keep "the positions of the last
             * poll": it gets one batch in flight, as it was built for. */
            observe_tick(&r, false);
            wait_for_lanes(&r);
            continue;
        }
        if (full >= 0 && !(r.ahead && stop_requests)) {
            /* Backpressure: a sink's backlog is at its bound, so the source waits (and a batch
             * polled ahead, unjudged, with it). After a first signal that batch is handed off
             * at once: the drain below waits for the lanes, says what it waits for, and a
             * second signal abandons what they hold. */
            if (r.paused_s == 0) {
                r.paused_s = bp_now_s();
                r.paused_by = full;
            }
            status_tick(&r, full);
            wait_for_lanes(&r);
            continue;
        }
        if (r.paused_s > 0) {
            /* each pause once, when it ends: every reading behind it waited this long more */
            bp_log("core", BP_LOG_DEBUG, "source paused %.1f ms: the backlog of %s was full",
                   (bp_now_s() - r.paused_s) * 1000.0, r.lanes.lanes[r.paused_by].sink->name);
            r.paused_s = 0;
        }
        res = poll_and_process(&r, &ended);
        if (res == STEP_FATAL) {
            /* The source or a detector failed for good: the batch it was on is not delivered,
             * but what the lanes hold already is, as when the source ends (exit 1 after). */
            failed = true;
            break;
        }
        if (res != STEP_OK) {
            bp_log("core", BP_LOG_WARN, "batch in flight abandoned on a second signal; it was "
                   "not committed and will be delivered again");
            status = 1;
            break;
        }
        if (reload_requested) {
            reload_requested = 0;
            reload_all(&r);
        }
        if (stop_requests == 1 && !r.warned_stop) {
            bp_log("core", BP_LOG_INFO, "stop requested: polling stopped, draining the sinks");
            r.warned_stop = true;
        }
        status_tick(&r, -1);
    }
    if (status == 0)
        status = drain(&r, bounded) || failed ? 1 : 0;
    else
        bp_lanes_stop(&r.lanes, true); /* a failure: nothing more is committed */
    bp_inject_run_end(); /* what was not committed is answered as failed */
    if (bp_state_checkpoint(true) != 0)
        status = 1; /* logged: the snapshot files are one commit behind */
    if (r.obs && r.obs->stopped)
        r.obs->stopped(r.obs->ctx);
    st->ended_s = bp_now_s();
    runner_free(&r);
    return status;
}
