/* The transitions of one alarm (alarm_machine.h, docs/alarms.md "States"). */
#include "alarm/alarm_machine.h"

#include "common/sha256.h"

#include <stdio.h>
#include <string.h>

static void emit(bp_alarm_step *out, bp_alarm_event_kind ev)
{
    if (out->n_events < (int)(sizeof out->events / sizeof out->events[0]))
        out->events[out->n_events++] = ev;
    out->changed = true;
}

bool bp_alarm_is_active(const bp_alarm_state *st)
{
    return st->phase == BP_ALARM_ACTIVE || st->phase == BP_ALARM_ACKED ||
           st->phase == BP_ALARM_LATCHED;
}

static void raise_alarm(bp_alarm_state *st, const bp_alarm_condition *c, int64_t now_ms,
                        bp_alarm_step *out)
{
    st->phase = BP_ALARM_ACTIVE;
    st->priority = c->priority;
    st->confirm_n = 0;
    st->clear_n = 0;
    st->tier = 0;
    st->raised_at_ms = now_ms;
    st->next_escalation_ms = c->n_escalate ? now_ms + c->escalate_after_ms[0] : 0;
    st->acked_at_ms = 0;
    st->by[0] = st->from[0] = '\0';
    st->alarm_id[0] = '\0';
    out->raised = true;
    emit(out, BP_ALARM_EV_RAISED);
}

/* A matching reading while nothing is raised: counts toward confirmation, raises when enough. */
static void confirm(bp_alarm_state *st, const bp_alarm_condition *c, int64_t reading_ms,
                    int64_t now_ms, bp_alarm_step *out)
{
    bool restart =
        st->phase != BP_ALARM_CONFIRMING ||
        (c->confirm_within_ms > 0 && reading_ms - st->confirm_first_ms > c->confirm_within_ms);
    if (restart) {
        st->phase = BP_ALARM_CONFIRMING;
        st->confirm_n = 0;
        st->n_evidence = 0; /* a new confirmation stands on its own readings */
        st->confirm_first_ms = reading_ms;
    }
    st->confirm_n++;
    out->changed = true;
    if (st->confirm_n >= c->confirm_readings)
        raise_alarm(st, c, now_ms, out);
    else
        out->delayed = true;
}

void bp_alarm_on_reading(bp_alarm_state *st, const bp_alarm_condition *c, bool matches,
                         int64_t reading_ms, int64_t now_ms, bp_alarm_step *out)
{
    memset(out, 0, sizeof *out);
    switch (st->phase) {
    case BP_ALARM_IDLE:
        if (matches)
            confirm(st, c, reading_ms, now_ms, out);
        break;
    case BP_ALARM_RESOLVED:
        if (matches && now_ms - st->resolved_at_ms >= c->cooldown_ms) {
            confirm(st, c, reading_ms, now_ms, out); /* re-raise: a new alarm */
        } else if (!matches && now_ms - st->resolved_at_ms >= c->cooldown_ms) {
            out->gone = true; /* the cooldown is over: nothing left to remember */
        }
        break;
    case BP_ALARM_CONFIRMING:
        if (matches) {
            confirm(st, c, reading_ms, now_ms, out);
        } else {
            out->gone = true; /* consecutive readings: a clear one starts over */
        }
        break;
    case BP_ALARM_ACTIVE:
    case BP_ALARM_ACKED:
        if (matches) {
            if (st->clear_n) {
                st->clear_n = 0;
                out->changed = true;
            }
            break;
        }
        st->clear_n++;
        out->changed = true;
        if (st->clear_n < c->clear_readings)
            break;
        if (st->phase == BP_ALARM_ACTIVE) {
            st->phase = BP_ALARM_LATCHED; /* stays listed until someone acknowledges it */
        } else {
            st->phase = BP_ALARM_RESOLVED;
            st->resolved_at_ms = now_ms;
            st->next_escalation_ms = 0;
            emit(out, BP_ALARM_EV_RESOLVED);
            out->gone = c->cooldown_ms == 0;
        }
        break;
    case BP_ALARM_LATCHED:
        if (matches) {
            st->phase = BP_ALARM_ACTIVE; /* the condition is back before anyone acknowledged */
            st->clear_n = 0;
            out->changed = true;
        }
        break;
    }
}

void bp_alarm_on_ack(bp_alarm_state *st, const bp_alarm_condition *c, const char *by,
                     const char *from, int64_t now_ms, bool *applied, bp_alarm_step *out)
{
    memset(out, 0, sizeof *out);
    *applied = st->phase == BP_ALARM_ACTIVE || st->phase == BP_ALARM_LATCHED;
    if (!*applied)
        return;
    bool latched = st->phase == BP_ALARM_LATCHED;
    snprintf(st->by, sizeof st->by, "%s", by ? by : "");
    snprintf(st->from, sizeof st->from, "%s", from ? from : "");
    st->acked_at_ms = now_ms;
    st->next_escalation_ms = 0;
    st->phase = BP_ALARM_ACKED;
    emit(out, BP_ALARM_EV_ACKNOWLEDGED);
    if (latched) {
        st->phase = BP_ALARM_RESOLVED;
        st->resolved_at_ms = now_ms;
        emit(out, BP_ALARM_EV_RESOLVED);
        out->gone = c->cooldown_ms == 0;
    }
}

void bp_alarm_on_tick(bp_alarm_state *st, const bp_alarm_condition *c, int64_t now_ms,
                      bp_alarm_step *out)
{
    memset(out, 0, sizeof *out);
    if (st->phase != BP_ALARM_ACTIVE && st->phase != BP_ALARM_LATCHED)
        return;
    while (st->next_escalation_ms > 0 && now_ms >= st->next_escalation_ms) {
        st->tier++;
        emit(out, BP_ALARM_EV_ESCALATED);
        st->next_escalation_ms =
            st->tier < c->n_escalate ? st->next_escalation_ms + c->escalate_after_ms[st->tier] : 0;
    }
}

/* ---- readings taken back (issue 26) ---------------------------------------------------------- */

uint64_t bp_alarm_reading_key(const char *id)
{
    uint8_t d[32];
    bp_sha256(id, strlen(id), d);
    uint64_t k = 0;
    for (int i = 0; i < 8; i++)
        k |= (uint64_t)d[i] << (8 * i);
    return k ? k : 1;
}

static int evidence_at(const bp_alarm_state *st, uint64_t key)
{
    for (int i = 0; i < st->n_evidence; i++)
        if (st->evidence[i].reading == key)
            return i;
    return -1;
}

bool bp_alarm_holds_reading(const bp_alarm_state *st, uint64_t key)
{
    return evidence_at(st, key) >= 0;
}

void bp_alarm_note_reading(bp_alarm_state *st, uint64_t key, int64_t at_ms, bp_alarm_step *out)
{
    int i = evidence_at(st, key);
    if (i < 0 && st->n_evidence == BP_ALARM_MAX_EVIDENCE) {
        memmove(st->evidence, st->evidence + 1, (BP_ALARM_MAX_EVIDENCE - 1) * sizeof *st->evidence);
        st->n_evidence--;
    }
    if (i < 0)
        i = st->n_evidence++;
    st->evidence[i] = (bp_alarm_evidence){key, at_ms};
    out->changed = true;
}

void bp_alarm_on_taken_back(bp_alarm_state *st, uint64_t key, int64_t now_ms, bp_alarm_step *out)
{
    memset(out, 0, sizeof *out);
    int i = evidence_at(st, key);
    if (i < 0)
        return;
    memmove(st->evidence + i, st->evidence + i + 1,
            (size_t)(st->n_evidence - i - 1) * sizeof *st->evidence);
    st->n_evidence--;
    out->changed = true;
    if (st->phase == BP_ALARM_CONFIRMING) {
        /* The confirmation counts the readings it still has; its window starts at the oldest. */
        if (--st->confirm_n <= 0 || st->n_evidence == 0) {
            out->gone = true;
            return;
        }
        st->confirm_first_ms = st->evidence[0].at_ms;
        for (int k = 1; k < st->n_evidence; k++)
            if (st->evidence[k].at_ms < st->confirm_first_ms)
                st->confirm_first_ms = st->evidence[k].at_ms;
        return;
    }
    if (st->n_evidence > 0 || st->phase == BP_ALARM_IDLE)
        return; /* another reading still holds it up */
    /* It should never have been raised: withdrawn and forgotten, so neither an escalation nor
     * a cooldown follows, and the next genuine reading raises a new alarm. */
    st->phase = BP_ALARM_RESOLVED;
    st->resolved_at_ms = now_ms;
    st->next_escalation_ms = 0;
    emit(out, BP_ALARM_EV_WITHDRAWN);
    out->gone = true;
}

/* ---- encoding ----------------------------------------------------------------------------- */

typedef struct enc {
    unsigned char *p;
    size_t len, at;
    bool bad;
} enc;

static void put_u64(enc *e, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        if (e->at < e->len)
            e->p[e->at] = (unsigned char)(v >> (8 * i));
        e->at++;
    }
}

static void put_str(enc *e, const char *s)
{
    size_t n = strlen(s);
    put_u64(e, n);
    for (size_t i = 0; i < n; i++, e->at++)
        if (e->at < e->len)
            e->p[e->at] = (unsigned char)s[i];
}

static uint64_t get_u64(enc *e)
{
    uint64_t v = 0;
    if (e->at + 8 > e->len) {
        e->bad = true;
        return 0;
    }
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)e->p[e->at + (size_t)i] << (8 * i);
    e->at += 8;
    return v;
}

static void get_str(enc *e, char *out, size_t cap)
{
    uint64_t n = get_u64(e);
    if (e->bad || n >= cap || e->at + n > e->len) {
        e->bad = true;
        out[0] = '\0';
        return;
    }
    memcpy(out, e->p + e->at, (size_t)n);
    out[n] = '\0';
    e->at += (size_t)n;
}

#define ALARM_STATE_VERSION 2 /* 1: without the readings (still read) */

size_t bp_alarm_state_encode(const bp_alarm_state *st, unsigned char *buf, size_t len)
{
    enc e = {buf, len, 0, false};
    put_u64(&e, ALARM_STATE_VERSION);
    put_u64(&e, (uint64_t)st->phase);
    put_u64(&e, (uint64_t)st->priority);
    put_u64(&e, (uint64_t)st->confirm_n);
    put_u64(&e, (uint64_t)st->confirm_first_ms);
    put_u64(&e, (uint64_t)st->clear_n);
    put_u64(&e, (uint64_t)st->tier);
    put_u64(&e, (uint64_t)st->raised_at_ms);
    put_u64(&e, (uint64_t)st->next_escalation_ms);
    put_u64(&e, (uint64_t)st->resolved_at_ms);
    put_u64(&e, (uint64_t)st->acked_at_ms);
    put_str(&e, st->alarm_id);
    put_str(&e, st->by);
    put_str(&e, st->from);
    put_u64(&e, (uint64_t)st->n_evidence);
    for (int i = 0; i < st->n_evidence; i++) {
        put_u64(&e, st->evidence[i].reading);
        put_u64(&e, (uint64_t)st->evidence[i].at_ms);
    }
    return e.at <= len ? e.at : 0;
}

int bp_alarm_state_decode(bp_alarm_state *st, const unsigned char *buf, size_t len)
{
    enc e = {(unsigned char *)buf, len, 0, false};
    memset(st, 0, sizeof *st);
    uint64_t version = get_u64(&e);
    if (version != 1 && version != ALARM_STATE_VERSION)
        return -1;
    uint64_t phase = get_u64(&e), prio = get_u64(&e);
    st->confirm_n = (int)get_u64(&e);
    st->confirm_first_ms = (int64_t)get_u64(&e);
    st->clear_n = (int)get_u64(&e);
    st->tier = (int)get_u64(&e);
    st->raised_at_ms = (int64_t)get_u64(&e);
    st->next_escalation_ms = (int64_t)get_u64(&e);
    st->resolved_at_ms = (int64_t)get_u64(&e);
    st->acked_at_ms = (int64_t)get_u64(&e);
    get_str(&e, st->alarm_id, sizeof st->alarm_id);
    get_str(&e, st->by, sizeof st->by);
    get_str(&e, st->from, sizeof st->from);
    if (version >= 2) {
        uint64_t n = get_u64(&e);
        if (n > BP_ALARM_MAX_EVIDENCE)
            return -1;
        st->n_evidence = (int)n;
        for (int i = 0; i < st->n_evidence; i++) {
            st->evidence[i].reading = get_u64(&e);
            st->evidence[i].at_ms = (int64_t)get_u64(&e);
        }
    }
    if (e.bad || e.at != len || phase > BP_ALARM_RESOLVED || prio > BP_ALARM_HIGH)
        return -1;
    st->phase = (bp_alarm_phase)phase;
    st->priority = (bp_alarm_priority)prio;
    return 0;
}
