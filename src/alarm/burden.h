/* The burden alarms cause, measured (docs/alarms.md, "The burden"): fed every alarm event and
 * every judged reading, it keeps per pipeline, per priority and per condition the alarms per
 * patient-day, the share acknowledged, the time to acknowledge (p50, p90), the escalations,
 * the readings a confirmation delayed, and the share of alarms that come from the tenth of the
 * patients with the most alarms. /metrics, the run summary, the live page and
 * `bppipe alarms replay` all read it.
 *
 * Definitions (the docs say the same):
 *   patient-days     distinct patients seen in readings x (latest - earliest effective time of
 *                    any reading) / 86 400 000 ms. On a ward whose patients stay the whole span
 *                    it is the census; with turnover it counts more days than were spent, so
 *                    alarms per patient-day then reads low. 0 when the span is 0.
 *   alarms           `raised` events; a re-raise after resolution is a new alarm.
 *   share acked      `acknowledged` events / alarms (at most 1).
 *   time to ack      event time of `acknowledged` - its `raised_at`; p50 and p90 by nearest
 *                    rank (the value of rank ceil(q n) in ascending order) over a log-bucketed
 *                    histogram: buckets grow by 2 %, so a quantile is within 1 % of the exact
 *                    one (and exact when it is the smallest or largest time seen), 1 s to 30
 *                    days, below 1 s one bucket.
 *   escalations      `escalated` events (each tier counts); escalated alarms: those that
 *                    reached tier 1.
 *   delayed readings readings that matched a condition whose confirmation had not yet
 *                    completed: the pipeline row counts each reading once, a condition's row
 *                    the readings that condition held back.
 *   top 10 % share   ceil(patients / 10) patients with the most alarms of the row (patients:
 *                    every patient seen, in a reading or an event), their alarms / the row's.
 *
 * Bounded memory: at most BP_BURDEN_MAX_PATIENTS patients (a 64-bit hash of the id and one
 * alarm count per row, 8 + 4 x BP_BURDEN_ROWS bytes each, plus a 4-byte index slot at most
 * twice over: about 6.5 MiB at the bound), at most BP_BURDEN_MAX_CONDITIONS named conditions
 * (later ones are counted under "other"), and one fixed histogram per row (3 KiB). A patient
 * beyond the bound is not tracked: its readings and alarms count, but patient-days and the top
 * 10 % share are then computed over the tracked patients only (`patients_capped` says so).
 * Two patient ids whose hashes collide count as one (odds about 1e-10 at the bound).
 *
 * Pure: no clock, no lock, no I/O; one thread at a time (the main thread). */
#ifndef BPPIPE_ALARM_BURDEN_H
#define BPPIPE_ALARM_BURDEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BP_BURDEN_MAX_PATIENTS 65536
#define BP_BURDEN_MAX_CONDITIONS 16
/* Rows: the pipeline, the three priorities, the named conditions, then "other". */
#define BP_BURDEN_ROWS (1 + 3 + BP_BURDEN_MAX_CONDITIONS + 1)

typedef struct bp_burden bp_burden;

/* One alarm event, as the alarm stage emits it (its document, docs/alarms.md). The strings
 * are read during the call only. */
typedef struct bp_burden_event {
    const char *alarm_id;
    const char *event;     /* raised, acknowledged, escalated, resolved, withdrawn */
    const char *priority;  /* high, medium, low (another word: pipeline and condition rows only) */
    const char *condition; /* NULL or "": counted as "other" */
    const char *patient_id;
    int64_t event_ms;  /* when the transition happened */
    int64_t raised_ms; /* when the alarm was raised (for the time to acknowledge) */
    int tier;          /* the escalation tier after the event */
} bp_burden_event;

typedef enum bp_burden_row_kind {
    BP_BURDEN_PIPELINE,
    BP_BURDEN_PRIORITY,
    BP_BURDEN_CONDITION
} bp_burden_row_kind;

/* One row's figures. Rates and shares are NaN when undefined (no patient-day, no alarm, no
 * acknowledgement): the reports write them as null or leave them out. */
typedef struct bp_burden_figures {
    bp_burden_row_kind kind;
    const char *name;     /* "" for the pipeline; the priority; the condition or "other" */
    const char *priority; /* a condition's priority as its events gave it ("" before any) */
    uint64_t alarms, acknowledged, escalations, escalated_alarms, resolved, withdrawn;
    uint64_t delayed_readings;
    double per_patient_day;
    double share_acknowledged;
    uint64_t acks_timed; /* acknowledgements with a time to acknowledge */
    double ack_sum_s, ack_p50_s, ack_p90_s;
    double top10_share;
} bp_burden_figures;

typedef struct bp_burden_totals {
    uint64_t readings;
    uint64_t delayed_readings; /* each reading once, whatever number of conditions held it */
    uint64_t patients;         /* tracked: at most BP_BURDEN_MAX_PATIENTS */
    bool patients_capped;      /* more patients came than are tracked */
    int64_t first_ms, last_ms; /* effective times of the earliest and latest reading; -1: none */
    double patient_days;
    uint64_t events; /* alarm events fed, of any kind */
} bp_burden_totals;

/* NULL when out of memory. */
bp_burden *bp_burden_new(void);
void bp_burden_free(bp_burden *b);

/* A judged reading: its patient (NULL: counted, no patient), its effective time (< 0: absent,
 * not in the span) and whether an alarm confirmation held it back (any condition). */
void bp_burden_add_reading(bp_burden *b, const char *patient_id, int64_t effective_ms,
                           bool delayed);
/* One reading a confirmation of `condition` (of `priority`) held back: that row's count. */
void bp_burden_add_delay(bp_burden *b, const char *condition, const char *priority);
void bp_burden_add_event(bp_burden *b, const bp_burden_event *e);

/* How many rows there are now: the pipeline (row 0), the three priorities (1-3, high, medium,
 * low), then each condition seen, in the order first seen ("other" among them once used). */
size_t bp_burden_rows(const bp_burden *b);
/* Row i's figures, computed from the counts (quantiles and the top 10 % share are recomputed
 * only after a change: O(patients) per row then). `b` is not const for that cache. */
void bp_burden_row(bp_burden *b, size_t i, bp_burden_figures *out);
void bp_burden_totals_get(const bp_burden *b, bp_burden_totals *out);

#endif
