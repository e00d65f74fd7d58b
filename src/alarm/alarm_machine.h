/* The lifecycle of one alarm of (patient, condition), pure and on an explicit clock, so every
 * transition is unit-tested with a fake one (tests/alarm). The stage (alarm_stage.c) keeps the
 * state in the host's keyed state, encoded with bp_alarm_state_encode. */
#ifndef BPPIPE_ALARM_MACHINE_H
#define BPPIPE_ALARM_MACHINE_H

#include "alarm/alarm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for every id bp_alarm_id_make writes: a Kafka topic name (at most 249 characters), '~',
 * a partition (10 digits), '~', 16 hex digits and the NUL; and for every `by`/`from` the
 * acknowledgement payload may carry (src/decode/alarm_ack.c: at most 200 bytes). Nothing is cut. */
#define BP_ALARM_ID_MAX 288
#define BP_ALARM_WHO_MAX 208

typedef struct bp_alarm_state {
    bp_alarm_phase phase;
    bp_alarm_priority priority;
    int confirm_n;            /* consecutive matching readings toward confirmation */
    int64_t confirm_first_ms; /* the effective time of the first of them */
    int clear_n;              /* consecutive readings without the condition */
    int tier;                 /* escalation tier reached */
    int64_t raised_at_ms, next_escalation_ms /* 0: none due */, resolved_at_ms, acked_at_ms;
    char alarm_id[BP_ALARM_ID_MAX];
    char by[BP_ALARM_WHO_MAX], from[BP_ALARM_WHO_MAX];
} bp_alarm_state;

/* What one step did: the events to emit, in order, and what became of the state. */
typedef struct bp_alarm_step {
    bp_alarm_event_kind events[BP_ALARM_MAX_TIERS + 2];
    int n_events;
    bool changed; /* the state differs: write it back */
    bool gone;    /* nothing left to keep: delete the key */
    bool delayed; /* a matching reading that did not raise for want of confirmation */
    bool raised;  /* the caller gives the new alarm its id (events[] has RAISED) */
} bp_alarm_step;

/* A judged reading of the patient: `matches` whether `c` matches its verdict, `reading_ms` its
 * effective time (for confirm_within_s), `now_ms` the wall clock. */
void bp_alarm_on_reading(bp_alarm_state *st, const bp_alarm_condition *c, bool matches,
                         int64_t reading_ms, int64_t now_ms, bp_alarm_step *out);
/* An acknowledgement: raised → acknowledged; latched → acknowledged then resolved; anything
 * else (already acknowledged, resolved, idle) does nothing (*applied false). */
void bp_alarm_on_ack(bp_alarm_state *st, const bp_alarm_condition *c, const char *by,
                     const char *from, int64_t now_ms, bool *applied, bp_alarm_step *out);
/* The clock: every tier due at `now_ms` of an alarm nobody acknowledged, one event each. */
void bp_alarm_on_tick(bp_alarm_state *st, const bp_alarm_condition *c, int64_t now_ms,
                      bp_alarm_step *out);
/* Raised, acknowledged or latched: listed, and counted active. */
bool bp_alarm_is_active(const bp_alarm_state *st);

/* The keyed-state value (format alarm.1): a versioned, fixed-order binary record. encode
 * returns its length (at most `len`), decode 0, or -1 for a value it cannot read. */
size_t bp_alarm_state_encode(const bp_alarm_state *st, unsigned char *buf, size_t len);
int bp_alarm_state_decode(bp_alarm_state *st, const unsigned char *buf, size_t len);

#endif
