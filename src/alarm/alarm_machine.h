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
/* Readings an alarm remembers it was raised or confirmed on (docs/alarms.md "Withdrawal"):
 * the confirmation's readings and the matching ones since, newest kept. */
#define BP_ALARM_MAX_EVIDENCE 8

/* One reading an alarm stands on: a 64-bit digest of its logical id (its stable id when it has
 * none; bp_alarm_reading_key) and its effective time (to restart confirm_within_s from). */
typedef struct bp_alarm_evidence {
    uint64_t reading;
    int64_t at_ms;
} bp_alarm_evidence;

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
    int n_evidence; /* readings of evidence[], oldest first */
    bp_alarm_evidence evidence[BP_ALARM_MAX_EVIDENCE];
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
/* The key a reading is remembered by: a digest of `id` (its logical id, else its stable id);
 * never 0. */
uint64_t bp_alarm_reading_key(const char *id);
/* Whether the alarm stands on reading `key`. */
bool bp_alarm_holds_reading(const bp_alarm_state *st, uint64_t key);
/* Remembers a matching reading while confirming or raised (acknowledged, latched): the oldest
 * is forgotten when BP_ALARM_MAX_EVIDENCE are held. Sets out->changed. */
void bp_alarm_note_reading(bp_alarm_state *st, uint64_t key, int64_t at_ms, bp_alarm_step *out);
/* Reading `key` was taken back (retracted, or corrected to a value the condition does not
 * match): a confirmation forgets it (and is over when none is left); an alarm (raised,
 * acknowledged, latched, or resolved within its cooldown) that stood on no other reading is
 * withdrawn: one `withdrawn` event, and nothing is kept (no escalation, no cooldown). A reading
 * the alarm does not hold changes nothing. */
void bp_alarm_on_taken_back(bp_alarm_state *st, uint64_t key, int64_t now_ms, bp_alarm_step *out);
/* Raised, acknowledged or latched: listed, and counted active. */
bool bp_alarm_is_active(const bp_alarm_state *st);

/* The keyed-state value (namespace alarm.1): a versioned, fixed-order binary record. Version 2
 * (issue 26) appends the readings the alarm stands on; decode still reads version 1 (no
 * readings: such an alarm is never withdrawn). encode writes version 2 and returns its length
 * (at most `len`), decode 0, or -1 for a value it cannot read. */
size_t bp_alarm_state_encode(const bp_alarm_state *st, unsigned char *buf, size_t len);
int bp_alarm_state_decode(bp_alarm_state *st, const unsigned char *buf, size_t len);

#endif
