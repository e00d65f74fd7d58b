/* One write to a lane's sink and what becomes of each record it was offered: delivered, offered
 * again with its strikes towards max_record_attempts, or rejected, a refused judged reading
 * then handed to the route = invalid lanes as a dead letter. Used by the lane's loop (lane.c)
 * for batches from memory and by its spool side (lane_spool.c) for chunks of the spool. */
#include "base/log.h"
#include "common/clock.h"
#include "delivery/lane_books.h"
#include "delivery/lane_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What /metrics shows of the lane's sink (lane_books.h). */
static void publish_books(bp_lane *l)
{
    bp_lane_publish_books(&l->seen, l->sink, &l->all->mu);
}

static bp_outcome outcome_of(const bp_ctx *s, size_t i, int rc)
{
    if (s->outcomes[i] >= 0)
        return (bp_outcome)s->outcomes[i];
    return rc == BP_OK ? BP_DELIVERED : BP_AGAIN;
}

/* Grows the array `p` to `n` items, or returns -1 from the function using it (`p` kept, the
 * caller's capacity not raised, so a later call grows it again). */
#define GROW_OR_FAIL(p, n)                                                                         \
    do {                                                                                           \
        void *grown_ = realloc((p), (n) * sizeof *(p));                                            \
        if (!grown_)                                                                               \
            return -1;                                                                             \
        (p) = grown_;                                                                              \
    } while (0)

int bp_attempts_reserve(bp_lane *l, bp_attempts *a, size_t n)
{
    struct bp_lane_own *o = l->own;
    if (n > a->cap) {
        GROW_OR_FAIL(a->strikes, n);
        GROW_OR_FAIL(a->strikes_again, n);
        GROW_OR_FAIL(a->part, n);
        GROW_OR_FAIL(a->part_again, n);
        a->cap = n;
    }
    if (n > o->refused_cap) {
        GROW_OR_FAIL(o->refused, n);
        GROW_OR_FAIL(o->refused_why, n);
        GROW_OR_FAIL(o->refused_from, n);
        o->refused_cap = n;
    }
    return 0;
}

int bp_attempts_parts(bp_attempts *a, size_t n)
{
    if (n > a->parts_cap) {
        GROW_OR_FAIL(a->parts, n);
        GROW_OR_FAIL(a->left, n);
        a->parts_cap = n;
    }
    if (n)
        memset(a->left, 0, n * sizeof *a->left);
    a->n_parts = n;
    return 0;
}

void bp_attempts_free(bp_attempts *a)
{
    bp_batch_free(&a->pending);
    bp_batch_free(&a->again);
    free(a->strikes);
    free(a->strikes_again);
    free(a->part);
    free(a->part_again);
    free(a->parts);
    free(a->left);
    a->strikes = a->strikes_again = NULL;
    a->part = a->part_again = NULL;
    a->parts = NULL;
    a->left = NULL;
    a->cap = a->parts_cap = a->n_parts = 0;
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

/* Hands `n` judged readings of the batch `f` that the last write refused to every route =
 * invalid lane as dead letters, before this lane's part of the batch counts as done. Each
 * becomes a copy with the reason (the original may still be in another lane's hands,
 * unchanged), made in the batch's arena under mu. The copies' deliveries are added to the
 * batch's remaining count first, so the batch cannot be committed before they are delivered.
 * Returns whether any lane took them. */
static bool hand_to_invalid(bp_lane *l, bp_flight *f, bp_record *const *refused,
                            const char *const *why, size_t n)
{
    bp_lanes *ls = l->all;
    pthread_mutex_lock(&ls->mu);
    ls->st->sink_rejected += n;
    bp_record **copies = bp_arena_alloc(&f->arena, n * sizeof *copies);
    size_t made = 0;
    for (size_t i = 0; copies && i < n; i++) {
        bp_record *c = bp_arena_alloc(&f->arena, sizeof *c);
        char msg[512];
        snprintf(msg, sizeof msg, "rejected by %s: %s", l->sink->name, why[i]);
        if (!c)
            break;
        *c = *refused[i];
        c->invalid_reason = bp_arena_strdup(&f->arena, msg);
        c->docs[0] = c->docs[1] = NULL;
        if (!c->invalid_reason)
            break;
        bp_record_mark_input(c, c->invalid_reason); /* under mu: the commit reads it after */
        copies[made++] = c;
    }
    if (made < n)
        bp_log("core", BP_LOG_ERROR,
               "out of memory: %zu refused reading(s) counted but not dead-lettered", n - made);
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
    return any;
}

/* Hands the judged readings the last write refused to the dead-letter lanes, each as part of
 * its own batch: a merged write refuses readings of several batches, in batch order. */
static void hand_dead_letters(bp_lane *l)
{
    struct bp_lane_own *o = l->own;
    bool any = true;
    for (size_t i = 0, j; i < o->n_refused; i = j) {
        for (j = i + 1; j < o->n_refused && o->refused_from[j] == o->refused_from[i]; j++)
            ;
        if (!hand_to_invalid(l, o->refused_from[i], o->refused + i, o->refused_why + i, j - i))
            any = false;
    }
    if (!any)
        bp_log("core", BP_LOG_ERROR,
               "a sink rejected a reading and no sink has route = invalid: it is counted but "
               "stored nowhere");
    o->n_refused = 0;
}

/* How many records of a->pending the write that answered `rc` took, and how many it failed. */
static bp_write_tally tally_write(const bp_ctx *s, const bp_attempts *a, int rc)
{
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
    return t;
}

/* Sorts the records of the write that answered `rc`: a failed one goes to a->again with its
 * strikes (or, past max_record_attempts while the sink delivers the others, is rejected);
 * delivered and rejected ones are booked on the sink, and refused judged readings are kept in
 * own->refused to become dead letters. Refusals are logged once per write, not once per
 * record: a mapping error can refuse every reading of a batch, and each reason names its own
 * document. */
static void sort_outcomes(bp_lane *l, bp_attempts *a, int rc, const bp_write_tally *t)
{
    bp_ctx *s = l->sink;
    struct bp_lane_own *o = l->own;
    const int64_t max_attempts = l->all->p->settings.max_record_attempts;
    bp_batch_clear(&a->again);
    if (a->n_parts)
        memset(a->left, 0, a->n_parts * sizeof *a->left);
    size_t lost = 0, given_up = 0;
    char first_refused[256] = "", first_lost[256] = "";
    o->n_refused = 0;
    for (size_t i = 0; i < a->pending.count; i++) {
        bp_record *rec = a->pending.items[i];
        bp_outcome out = outcome_of(s, i, rc);
        const char *why = s->outcome_reasons[i] ? s->outcome_reasons[i] : "no reason";
        if (out == BP_AGAIN) {
            unsigned strikes = a->strikes[i] + (counts_attempt(s, i, t, a->strikes[i]));
            if (max_attempts <= 0 || strikes < (uint64_t)max_attempts) {
                a->strikes_again[a->again.count] = strikes;
                a->part_again[a->again.count] = a->part[i];
                a->left[a->part[i]]++;
                bp_batch_push(&a->again, rec);
                continue;
            }
            /* The sink delivers the others and keeps failing this one: it would stall the
             * batch (and every commit after it) for good. */
            char gave_up[384];
            snprintf(gave_up, sizeof gave_up,
                     "not delivered after %u attempts while the sink delivered the others: %s",
                     strikes, s->outcome_reasons[i] ? s->outcome_reasons[i] : "no reason given");
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
            if (!o->n_refused)
                snprintf(first_refused, sizeof first_refused, "%s", why);
            o->refused[o->n_refused] = rec;
            o->refused_from[o->n_refused] = a->parts[a->part[i]];
            o->refused_why[o->n_refused++] = why;
        } else if (!lost++) {
            snprintf(first_lost, sizeof first_lost, "%s", why);
        }
    }
    if (o->n_refused)
        bp_log(s->name, BP_LOG_WARN,
               "sink rejected %zu reading(s), routed as dead letters with their reasons; the "
               "first: %s",
               o->n_refused, first_refused);
    if (lost)
        bp_log(s->name, BP_LOG_ERROR,
               "%zu dead letter(s) refused by their sink too: counted but stored nowhere; the "
               "first: %s",
               lost, first_lost);
    if (given_up)
        bp_log(s->name, BP_LOG_WARN,
               "%zu reading(s) failed %lld attempts while the sink delivered the others; "
               "dead-lettered instead of stalling the batch",
               given_up, (long long)max_attempts);
}

bp_lane_result bp_lane_write_once(bp_lane *l, bp_attempts *a, bp_write_tally *tally)
{
    bp_ctx *s = l->sink;
    if (bp_ctx_begin_write(s, &a->pending) != 0)
        return LANE_FATAL;
    publish_books(l); /* the retries and spills since the last write */
    double t0 = bp_now_s();
    int rc = s->plugin->desc->write(s->state, &a->pending);
    s->busy_s += bp_now_s() - t0;
    s->calls++;
    if (rc == BP_FATAL) {
        bp_ctx_end_write(s);
        bp_log(s->name, BP_LOG_ERROR,
               "sink failed permanently; stopping without committing the batch in flight (it will "
               "be delivered again on restart)");
        return LANE_FATAL;
    }
    bp_write_tally t = tally_write(s, a, rc);
    sort_outcomes(l, a, rc, &t);
    hand_dead_letters(l); /* the reasons live until the next begin_write */
    bp_ctx_end_write(s);
    publish_books(l); /* what /metrics shows of this sink */
    bp_batch tmp = a->pending;
    a->pending = a->again;
    a->again = tmp;
    unsigned *st = a->strikes;
    a->strikes = a->strikes_again;
    a->strikes_again = st;
    unsigned *pt = a->part;
    a->part = a->part_again;
    a->part_again = pt;
    *tally = t;
    return LANE_OK;
}
