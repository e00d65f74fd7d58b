/* What an alarm event record and an acknowledgement command record carry (issue 25,
 * docs/alarms.md). Data only: the alarm stage (src/alarm, a floor above) fills them, records
 * (record.h) point at them, documents (document.c) write them. They live in the batch's arena. */
#ifndef BPPIPE_ALARM_EVENT_H
#define BPPIPE_ALARM_EVENT_H

#include <stdint.h>

/* IEC 60601-1-8's three priorities, lowest first so that "at least" compares. */
typedef enum bp_alarm_priority {
    BP_ALARM_LOW = 0,
    BP_ALARM_MEDIUM = 1,
    BP_ALARM_HIGH = 2
} bp_alarm_priority;

/* A transition, the `event` of the document. WITHDRAWN is reserved (issue 26: a retraction). */
typedef enum bp_alarm_event_kind {
    BP_ALARM_EV_RAISED = 0,
    BP_ALARM_EV_ACKNOWLEDGED = 1,
    BP_ALARM_EV_ESCALATED = 2,
    BP_ALARM_EV_RESOLVED = 3,
    BP_ALARM_EV_WITHDRAWN = 4
} bp_alarm_event_kind;

/* Where an alarm of (patient, condition) stands. CONFIRMING: matching readings seen, not yet
 * enough to raise; LATCHED: the condition cleared before anyone acknowledged; RESOLVED: over,
 * kept only while its cooldown runs. */
typedef enum bp_alarm_phase {
    BP_ALARM_IDLE = 0,
    BP_ALARM_CONFIRMING = 1,
    BP_ALARM_ACTIVE = 2, /* raised, not acknowledged ("raised" in documents) */
    BP_ALARM_ACKED = 3,  /* acknowledged, the condition still present */
    BP_ALARM_LATCHED = 4,
    BP_ALARM_RESOLVED = 5
} bp_alarm_phase;

typedef struct bp_alarm_event {
    bp_alarm_event_kind event;
    bp_alarm_priority priority;
    bp_alarm_phase state; /* the alarm's state after the event */
    const char *alarm_id, *condition, *patient_id;
    int tier;                   /* escalation tier reached (0: none yet) */
    const char *by, *from;      /* acknowledged only: who, and from which address */
    int64_t event_ms;           /* when the transition happened (wall clock) */
    int64_t raised_at_ms;       /* when the alarm was raised (wall clock) */
    const char *reading_id;     /* the stable id of the reading that caused it; NULL for a tick */
    double systolic, diastolic; /* of that reading; NaN for a tick or an acknowledgement */
} bp_alarm_event;

/* An acknowledgement that came in as an input payload
 * {"bppipe":"alarm-ack","alarm_id":...,"by":...,"at":...,"from":...}. */
typedef struct bp_alarm_command {
    const char *alarm_id, *by, *from;
    int64_t at_ms; /* the "at" time; INT64_MIN when absent */
} bp_alarm_command;

const char *bp_alarm_priority_name(bp_alarm_priority p);
const char *bp_alarm_event_name(bp_alarm_event_kind e);
/* "confirming", "raised", "acknowledged", "latched", "resolved" ("" for idle). */
const char *bp_alarm_phase_name(bp_alarm_phase s);

#endif
