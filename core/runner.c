#include "runner.h"

#include "document.h"
#include "fhir_decode.h"
#include "log.h"

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

/* Everything one run needs between batches. */
typedef struct runner {
    bp_pipeline *p;
    bp_stats *st;
    bp_arena arena;
    bp_batch input;   /* payloads from the source */
    bp_batch records; /* every decoded record, valid or not, in payload order */
    bp_batch valid;   /* the records detectors see */
    bp_batch pending; /* scratch: what one sink still has to take */
    bp_batch again;   /* scratch: what it must be offered again */
    bp_batch rejected;
    unsigned *strikes, *strikes_again; /* per pending / again record: attempts that count */
    size_t strikes_cap;
    bp_record *current_input; /* the payload being decoded */
    uint64_t rng;
    bool warned_stop;
    bool warned_stop_waiting; /* told that a stop waits for a sink that cannot deliver */
} runner;

/* xorshift64*: jitter only, not security. */
static double jitter_unit(runner *r)
{
    r->rng ^= r->rng >> 12;
    r->rng ^= r->rng << 25;
    r->rng ^= r->rng >> 27;
    return (double)((r->rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static bool abandon(void)
{
    return stop_requests >= 2;
}

/* Sleeps the full-jitter back-off for `attempt`. With a batch in flight it wakes early only when
 * the batch is abandoned (second signal); with none (the source failing) a first signal is
 * enough, since a stop then has nothing to finish. */
static void back_off(runner *r, unsigned attempt, const char *who, const char *what,
                     bool in_flight)
{
    const bp_settings *s = &r->p->settings;
    double cap = (double)s->retry_initial_ms * pow(2.0, attempt < 30 ? attempt : 30);
    if (cap > (double)s->retry_max_ms)
        cap = (double)s->retry_max_ms;
    double ms = cap * jitter_unit(r);
    bp_log(who, BP_LOG_WARN, "%s; retrying in %.0f ms (attempt %u)", what, ms, attempt + 1);
    double until = bp_now_s() + ms / 1000.0;
    while (in_flight ? !abandon() : !stop_requests) {
        /* A first signal waits for the batch in flight; when a sink cannot deliver it, say so,
         * or the operator sees a process that ignores Ctrl-C. */
        if (stop_requests == 1 && !r->warned_stop_waiting) {
            bp_log("core", BP_LOG_WARN, "stop requested: waiting for %s to deliver the batch in "
                   "flight; signal again to stop now (the batch is then not committed and will "
                   "be read again)", who);
            r->warned_stop_waiting = true;
        }
        double left = until - bp_now_s();
        if (left <= 0)
            break;
        double slice = left < 0.05 ? left : 0.05;
        struct timespec ts = {0, (long)(slice * 1e9)};
        nanosleep(&ts, NULL);
    }
}

static int on_decoded(void *user, const bp_decoded *d)
{
    runner *r = user;
    bp_record *in = r->current_input;
    bp_record *rec = bp_arena_alloc(&r->arena, sizeof *rec);
    if (!rec)
        return -1;
    *rec = *in; /* shares the payload and origin of its payload */
    bp_arena *a = &r->arena;
    rec->invalid_reason = bp_arena_strdup(a, d->invalid_reason);
    rec->stable_id = bp_arena_strdup(a, d->stable_id);
    rec->observation_id = bp_arena_strdup(a, d->observation_id);
    rec->patient_id = bp_arena_strdup(a, d->patient_id);
    rec->practitioner_id = bp_arena_strdup(a, d->practitioner_id);
    rec->device_id = bp_arena_strdup(a, d->device_id);
    rec->status = bp_arena_strdup(a, d->status);
    rec->effective_ms = d->invalid_reason && d->effective_ms == 0 ? INT64_MIN : d->effective_ms;
    rec->systolic = d->systolic;
    rec->diastolic = d->diastolic;
    rec->heart_rate = d->heart_rate;
    rec->decode_flags = d->flags;
    rec->resource_index = d->resource_index;
    if (!d->invalid_reason && d->skip_reason) {
        /* Valid FHIR that is not ours: no plausibility gate, no detector, only route = skipped
         * sinks (and the skipped counts). */
        if (!(rec->skip_reason = bp_arena_strdup(a, d->skip_reason)) ||
            (d->resource_type && !(rec->resource_type = bp_arena_strdup(a, d->resource_type))) ||
            (d->resource_code && !(rec->resource_code = bp_arena_strdup(a, d->resource_code))))
            return -1;
        return bp_batch_push(&r->records, rec) == BP_OK ? 0 : -1;
    }
    char why[160];
    if (!rec->invalid_reason &&
        bp_plausibility_check(&r->p->settings.plausible, rec->systolic, rec->diastolic, why,
                              sizeof why) != 0 &&
        !(rec->invalid_reason = bp_arena_strdup(a, why))) /* a measurement error, not an alarm */
        return -1;
    if ((d->invalid_reason && !rec->invalid_reason) || bp_batch_push(&r->records, rec) != BP_OK)
        return -1;
    if (!rec->invalid_reason && bp_batch_push(&r->valid, rec) != BP_OK)
        return -1;
    return 0;
}

static step_result decode_all(runner *r)
{
    bp_decode_opts opts = {.max_payload_bytes = (size_t)r->p->settings.max_payload_bytes};
    for (size_t i = 0; i < r->input.count; i++) {
        r->current_input = r->input.items[i];
        size_t before = r->records.count;
        if (bp_fhir_decode(r->current_input->payload, r->current_input->payload_len, &opts,
                           on_decoded, r) != 0) {
            bp_log("core", BP_LOG_ERROR, "out of memory while decoding a batch");
            return STEP_FATAL;
        }
        if (r->records.count == before) {
            /* The decoder promises one item per payload at least; never lose one if not. */
            bp_decoded lost = {.invalid_reason = "decoder produced no reading and no reason",
                               .systolic = NAN, .diastolic = NAN, .heart_rate = NAN,
                               .resource_index = -1};
            if (on_decoded(r, &lost) != 0)
                return STEP_FATAL;
        }
    }
    /* Skipped resources ride in `records` to reach their sinks, but are not readings. */
    size_t skipped = 0;
    for (size_t i = 0; i < r->records.count; i++)
        skipped += bp_record_route(r->records.items[i]) == BP_ROUTE_SKIPPED;
    r->st->payloads += r->input.count;
    r->st->readings_in += r->records.count - skipped;
    r->st->in_flight = r->records.count - skipped;
    return STEP_OK;
}

static step_result run_detectors(runner *r)
{
    if (r->valid.count == 0)
        return STEP_OK;
    for (size_t i = 0; i < r->p->n_detectors; i++) {
        bp_ctx *d = r->p->detectors[i];
        for (unsigned attempt = 0;; attempt++) {
            double t0 = bp_now_s();
            int rc = d->plugin->desc->detect(d->state, &r->valid);
            d->busy_s += bp_now_s() - t0;
            d->calls++;
            if (rc == BP_OK)
                break;
            if (rc != BP_RETRY) {
                bp_log(d->name, BP_LOG_ERROR, "detector failed permanently (status %d); stopping",
                       rc);
                return STEP_FATAL;
            }
            if (abandon())
                return STEP_ABANDONED;
            back_off(r, attempt, d->name, "detector asked to retry", true);
        }
    }
    return STEP_OK;
}

/* Marks which sinks each record must reach. */
static void route_all(runner *r)
{
    bp_pipeline *p = r->p;
    for (size_t i = 0; i < r->records.count; i++) {
        bp_record *rec = r->records.items[i];
        bp_route route = bp_record_route(rec);
        rec->sinks_pending = 0;
        bool critical = route != BP_ROUTE_INVALID && route != BP_ROUTE_SKIPPED &&
                        rec->severity == BP_SEV_CRITICAL;
        for (size_t s = 0; s < p->n_sinks; s++)
            if ((p->sinks[s]->routes & BP_ROUTE_BIT(route)) ||
                (critical && (p->sinks[s]->routes & BP_ROUTE_CRITICAL)))
                rec->sinks_pending |= 1ull << s;
        if (route == BP_ROUTE_SKIPPED)
            bp_stats_count_skipped(r->st, rec->skip_reason);
        if (route == BP_ROUTE_INVALID) {
            bp_stats_count_reason(r->st, rec->invalid_reason);
            if (!p->has_invalid_sink) {
                r->st->invalid_unrouted++;
                bp_log("core", BP_LOG_WARN,
                       "invalid payload with no sink for route = invalid (%llu so far): %s",
                       (unsigned long long)r->st->invalid_unrouted, rec->invalid_reason);
            }
        }
    }
}

static bp_outcome outcome_of(const bp_ctx *s, size_t i, int rc)
{
    if (s->outcomes[i] >= 0)
        return (bp_outcome)s->outcomes[i];
    return rc == BP_OK ? BP_DELIVERED : BP_AGAIN;
}

/* Makes room for `n` strike counts in both of the runner's strike arrays. */
static int strikes_reserve(runner *r, size_t n)
{
    if (n <= r->strikes_cap)
        return 0;
    unsigned *a = realloc(r->strikes, n * sizeof *a);
    if (!a)
        return -1;
    r->strikes = a;
    unsigned *b = realloc(r->strikes_again, n * sizeof *b);
    if (!b)
        return -1;
    r->strikes_again = b;
    r->strikes_cap = n;
    return 0;
}

/* What one write did with the records it was offered. */
typedef struct write_tally {
    size_t sent, done, failed; /* done: delivered or rejected */
    bool all_singled_out;      /* every failed record had failed before as the odd one out */
} write_tally;

/* Whether the failed record `i` of a write counts an attempt towards max_record_attempts. Only
 * a failure the sink reported for that record (set_outcome BP_AGAIN) counts, and only when the
 * sink shows it works: it delivered or rejected at least as many records of the same write as
 * it failed (the record is the odd one out), or every record it still fails has already been
 * the odd one out (the rest of the batch went through while they kept failing). A write that
 * delivers nothing while it fails records never singled out is an outage: nothing counts. */
static bool counts_attempt(const bp_ctx *s, size_t i, const write_tally *t, unsigned strikes)
{
    if (s->outcomes[i] != BP_AGAIN)
        return false; /* the batch's status: the sink blamed itself, not the record */
    if (t->done > 0)
        return t->failed <= t->done;
    return strikes > 0 && t->all_singled_out;
}

/* Offers `s` every record still pending for it until each is delivered or rejected. A write
 * that made progress starts the back-off over; when it took at least half of what it was
 * offered the rest goes again at once (a 429 on some items is the cluster's pace, not an
 * outage). A write that took nothing backs off longer each time. */
static step_result deliver_to(runner *r, bp_ctx *s)
{
    uint64_t bit = 1ull << s->index;
    const int64_t max_attempts = r->p->settings.max_record_attempts;
    bp_batch_clear(&r->pending);
    for (size_t i = 0; i < r->records.count; i++)
        if (r->records.items[i]->sinks_pending & bit)
            bp_batch_push(&r->pending, r->records.items[i]);
    if (strikes_reserve(r, r->pending.count) != 0)
        return STEP_FATAL;
    if (r->pending.count)
        memset(r->strikes, 0, r->pending.count * sizeof *r->strikes);
    unsigned attempt = 0; /* writes in a row that took nothing: the back-off's exponent */
    while (r->pending.count) {
        if (bp_ctx_begin_write(s, &r->pending) != 0)
            return STEP_FATAL;
        double t0 = bp_now_s();
        int rc = s->plugin->desc->write(s->state, &r->pending);
        s->busy_s += bp_now_s() - t0;
        s->calls++;
        if (rc == BP_FATAL) {
            bp_ctx_end_write(s);
            bp_log(s->name, BP_LOG_ERROR, "sink failed permanently; stopping without committing "
                   "the batch in flight (it will be delivered again on restart)");
            return STEP_FATAL;
        }
        write_tally t = {.sent = r->pending.count, .all_singled_out = true};
        for (size_t i = 0; i < r->pending.count; i++) {
            if (outcome_of(s, i, rc) != BP_AGAIN) {
                t.done++;
            } else {
                t.failed++;
                if (r->strikes[i] == 0)
                    t.all_singled_out = false;
            }
        }
        bp_batch_clear(&r->again);
        /* Refusals are logged once per write, not once per record: a mapping error can refuse
         * every reading of a batch, and each reason names its own document. */
        size_t refused = 0, lost = 0, given_up = 0;
        const char *first_refused = NULL, *first_lost = NULL;
        for (size_t i = 0; i < r->pending.count; i++) {
            bp_record *rec = r->pending.items[i];
            bp_outcome out = outcome_of(s, i, rc);
            const char *why = s->outcome_reasons[i] ? s->outcome_reasons[i] : "no reason";
            char gave_up[384];
            if (out == BP_AGAIN) {
                unsigned strikes = r->strikes[i] + (counts_attempt(s, i, &t, r->strikes[i]));
                if (max_attempts <= 0 || strikes < (uint64_t)max_attempts) {
                    r->strikes_again[r->again.count] = strikes;
                    bp_batch_push(&r->again, rec);
                    continue;
                }
                /* The sink delivers the others and keeps failing this one: it would stall the
                 * batch (and every commit after it) for good. */
                snprintf(gave_up, sizeof gave_up, "not delivered after %u attempts while the "
                         "sink delivered the others: %s", strikes,
                         s->outcome_reasons[i] ? s->outcome_reasons[i] : "no reason given");
                why = gave_up;
                out = BP_REJECTED;
                given_up++;
            }
            rec->sinks_pending &= ~bit;
            if (out == BP_DELIVERED) {
                s->delivered++;
            } else {
                s->rejected++;
                if (!rec->invalid_reason) {
                    if (!refused++)
                        first_refused = bp_arena_strdup(rec->arena, why);
                    /* A judged reading the sink refuses becomes a dead letter with the reason. */
                    char msg[512];
                    snprintf(msg, sizeof msg, "rejected by %s: %s", s->name, why);
                    rec->invalid_reason = bp_arena_strdup(rec->arena, msg);
                    rec->docs[0] = rec->docs[1] = NULL;
                    bp_batch_push(&r->rejected, rec);
                } else if (!lost++) {
                    first_lost = bp_arena_strdup(rec->arena, why);
                }
            }
        }
        if (refused)
            bp_log(s->name, BP_LOG_WARN, "sink rejected %zu reading(s), routed as dead letters "
                   "with their reasons; the first: %s", refused, first_refused);
        if (lost)
            bp_log(s->name, BP_LOG_ERROR, "%zu dead letter(s) refused by their sink too: counted "
                   "but stored nowhere; the first: %s", lost, first_lost);
        if (given_up)
            bp_log(s->name, BP_LOG_WARN, "%zu reading(s) failed %lld attempts while the sink "
                   "delivered the others; dead-lettered instead of stalling the batch",
                   given_up, (long long)max_attempts);
        bp_ctx_end_write(s);
        bp_batch tmp = r->pending;
        r->pending = r->again;
        r->again = tmp;
        unsigned *st = r->strikes;
        r->strikes = r->strikes_again;
        r->strikes_again = st;
        if (!r->pending.count)
            break;
        s->retries++;
        if (abandon())
            return STEP_ABANDONED;
        char what[160];
        if (t.done > 0 && t.failed <= t.done) {
            bp_log(s->name, BP_LOG_DEBUG, "%zu of %zu record(s) taken, %zu not yet durable; "
                   "offering those again at once", t.done, t.sent, r->pending.count);
            attempt = 0;
            continue;
        }
        if (t.done > 0)
            attempt = 0; /* progress: the sink is up, the back-off starts over */
        snprintf(what, sizeof what, "%zu record(s) not yet durable", r->pending.count);
        back_off(r, attempt, s->name, what, true);
        attempt++;
    }
    return STEP_OK;
}

static step_result deliver_all(runner *r)
{
    bp_pipeline *p = r->p;
    bp_batch_clear(&r->rejected);
    for (size_t s = 0; s < p->n_sinks; s++) {
        step_result res = deliver_to(r, p->sinks[s]);
        if (res != STEP_OK)
            return res;
    }
    if (r->rejected.count == 0)
        return STEP_OK;
    /* Second pass: readings a sink refused go to the dead-letter sinks. */
    r->st->sink_rejected += r->rejected.count;
    for (size_t i = 0; i < r->rejected.count; i++) {
        bp_record *rec = r->rejected.items[i];
        for (size_t s = 0; s < p->n_sinks; s++)
            if (p->sinks[s]->routes & BP_ROUTE_BIT(BP_ROUTE_INVALID))
                rec->sinks_pending |= 1ull << s;
        if (!p->has_invalid_sink)
            bp_log("core", BP_LOG_ERROR, "a sink rejected a reading and no sink has route = "
                   "invalid: it is counted but stored nowhere");
    }
    for (size_t s = 0; s < p->n_sinks; s++) {
        if (!(p->sinks[s]->routes & BP_ROUTE_BIT(BP_ROUTE_INVALID)))
            continue;
        step_result res = deliver_to(r, p->sinks[s]);
        if (res != STEP_OK)
            return res;
    }
    return STEP_OK;
}

static step_result commit_batch(runner *r)
{
    bp_ctx *src = r->p->source;
    if (!src->plugin->desc->commit)
        return STEP_OK;
    for (unsigned attempt = 0;; attempt++) {
        int rc = src->plugin->desc->commit(src->state, &r->input);
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

static step_result process_batch(runner *r)
{
    step_result res = decode_all(r);
    if (res == STEP_OK)
        res = run_detectors(r);
    if (res != STEP_OK)
        return res;
    /* Judged routes are booked before delivery can turn a refused reading into a dead letter. */
    uint64_t routes[BP_ROUTE_COUNT] = {0};
    for (size_t i = 0; i < r->records.count; i++)
        routes[bp_record_route(r->records.items[i])]++;
    route_all(r);
    res = deliver_all(r);
    if (res == STEP_OK)
        res = commit_batch(r);
    if (res != STEP_OK)
        return res;
    for (int i = 0; i < BP_ROUTE_COUNT; i++)
        r->st->by_route[i] += routes[i];
    r->st->in_flight = 0;
    return STEP_OK;
}

/* One call of the source's poll() into r->input, timed; *rc is its status. False (logged) when
 * the source broke the contract by adding more than `capacity` payloads. */
static bool poll_into(runner *r, size_t capacity, int timeout_ms, int *rc)
{
    bp_ctx *src = r->p->source;
    double t0 = bp_now_s();
    *rc = src->plugin->desc->poll(src->state, &r->input, timeout_ms);
    src->busy_s += bp_now_s() - t0;
    src->calls++;
    if (r->input.count <= capacity)
        return true;
    bp_log(src->name, BP_LOG_ERROR, "source added %zu payloads, more than the %zu asked for; "
           "stopping", r->input.count, capacity);
    return false;
}

/* Whether the source declared (ABI 1.2) that poll() can append to a batch. */
static bool polls_append(const bp_ctx *src)
{
    const bp_plugin *d = src->plugin->desc;
    return d->struct_size >= offsetof(bp_plugin, caps) + sizeof d->caps &&
           (d->caps & BP_CAP_POLL_APPENDS);
}

/* [pipeline] linger_ms: after the first payload, polls again into the same batch until it is
 * full, the time is up, or a poll brings nothing. What was gathered is processed whatever a
 * later poll answers, except BP_FATAL (then nothing of the batch is committed). */
static step_result linger(runner *r, size_t capacity, bool *ended)
{
    bp_ctx *src = r->p->source;
    if (r->p->settings.linger_ms <= 0 || r->input.count == 0 || !polls_append(src))
        return STEP_OK;
    double until = bp_now_s() + (double)r->p->settings.linger_ms / 1000.0;
    while (r->input.count < capacity && !stop_requests) {
        double left_ms = (until - bp_now_s()) * 1000.0;
        if (left_ms < 1)
            break;
        size_t before = r->input.count;
        int rc;
        if (!poll_into(r, capacity, (int)left_ms, &rc))
            return STEP_FATAL;
        if (rc != BP_OK && rc != BP_END && rc != BP_RETRY) {
            bp_log(src->name, BP_LOG_ERROR, "source failed permanently (status %d); stopping", rc);
            return STEP_FATAL;
        }
        if (rc == BP_END)
            *ended = true;
        if (rc != BP_OK || r->input.count == before)
            break;
    }
    return STEP_OK;
}

/* Polls once, retrying transient failures. Sets *ended when the source is exhausted. */
static step_result poll_source(runner *r, size_t capacity, bool *ended)
{
    bp_ctx *src = r->p->source;
    for (unsigned attempt = 0;; attempt++) {
        bp_batch_clear(&r->input);
        r->input.capacity = capacity;
        int rc;
        if (!poll_into(r, capacity, (int)r->p->settings.poll_timeout_ms, &rc))
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

static void runner_init(runner *r, bp_pipeline *p, bp_stats *st)
{
    memset(r, 0, sizeof *r);
    r->p = p;
    r->st = st;
    bp_arena_init(&r->arena, 256 * 1024);
    bp_batch *batches[] = {&r->input, &r->records, &r->valid, &r->pending, &r->again,
                           &r->rejected};
    for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++)
        bp_batch_init(batches[i], &r->arena, 0);
    r->rng = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull | 1;
}

static void runner_free(runner *r)
{
    bp_batch *batches[] = {&r->input, &r->records, &r->valid, &r->pending, &r->again,
                           &r->rejected};
    for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++)
        bp_batch_free(batches[i]);
    free(r->strikes);
    free(r->strikes_again);
    bp_arena_free(&r->arena);
}

/* The plugin's reload(), when its descriptor is recent enough to have one. */
static int (*reload_fn(const bp_ctx *c))(void *)
{
    const bp_plugin *d = c->plugin->desc;
    return d->struct_size >= offsetof(bp_plugin, reload) + sizeof d->reload ? d->reload : NULL;
}

/* After SIGHUP, between batches: every instance that can re-read its files does. */
static void reload_all(bp_pipeline *p)
{
    bp_ctx *all[2 + BP_MAX_SINKS + 256];
    size_t n = 0;
    all[n++] = p->source;
    for (size_t i = 0; i < p->n_detectors && n < 256; i++)
        all[n++] = p->detectors[i];
    for (size_t i = 0; i < p->n_sinks; i++)
        all[n++] = p->sinks[i];
    for (size_t i = 0; i < n; i++) {
        int (*fn)(void *) = reload_fn(all[i]);
        if (!fn)
            continue;
        int rc = fn(all[i]->state);
        bp_log(all[i]->name, rc == BP_OK ? BP_LOG_INFO : BP_LOG_WARN,
               rc == BP_OK ? "reloaded on SIGHUP" : "reload on SIGHUP failed; keeping the "
                                                    "previous configuration");
    }
}

static bool limits_reached(const bp_run_opts *o, const bp_stats *st)
{
    if (o->max_records && st->readings_in >= o->max_records)
        return true;
    return o->duration_s > 0 && bp_now_s() - st->started_s >= o->duration_s;
}

int bp_run(bp_pipeline *p, const bp_run_opts *opts, bp_stats *st)
{
    runner r;
    runner_init(&r, p, st);
    memset(st, 0, sizeof *st);
    st->started_s = bp_now_s();
    double last_status = st->started_s;
    uint64_t last_in = 0;
    int status = 0;
    bool ended = false;
    while (!ended && !stop_requests && !limits_reached(opts, st)) {
        bp_arena_reset(&r.arena);
        bp_batch_clear(&r.records);
        bp_batch_clear(&r.valid);
        size_t capacity = (size_t)p->settings.batch_size;
        if (opts->max_records && opts->max_records - st->readings_in < capacity)
            capacity = (size_t)(opts->max_records - st->readings_in);
        step_result res = poll_source(&r, capacity, &ended);
        if (res == STEP_OK && r.input.count)
            res = process_batch(&r);
        if (res != STEP_OK) {
            if (res == STEP_ABANDONED)
                bp_log("core", BP_LOG_WARN, "batch in flight abandoned on a second signal; it "
                       "was not committed and will be delivered again");
            status = 1;
            break;
        }
        if (reload_requested) {
            reload_requested = 0;
            reload_all(p);
        }
        double now = bp_now_s();
        if (stop_requests == 1 && !r.warned_stop) {
            bp_log("core", BP_LOG_INFO, "stop requested: batch drained, flushing sinks");
            r.warned_stop = true;
        }
        if (p->settings.stats_interval_s > 0 &&
            now - last_status >= (double)p->settings.stats_interval_s) {
            bp_stats_print_status(st, p, (double)(st->readings_in - last_in) / (now - last_status));
            last_status = now;
            last_in = st->readings_in;
        }
    }
    st->ended_s = bp_now_s();
    runner_free(&r);
    return status;
}
