/* The alarm stage (issue 25, docs/alarms.md): after the detectors, on the main thread, turns the
 * verdicts of judged readings into alarms with a lifecycle (raised, acknowledged, escalated,
 * latched, resolved) and appends one event record (route = alarm) per transition to the batch.
 *
 * The state of each (patient, condition) is host keyed state (src/pipeline/state.h) of an
 * internal owner, so it follows the input partitions and is exact across kill -9 and rebalances
 * as the detectors' state is; an event record shares the topic, partition and keyed-state stamp
 * of the reading (or, for an escalation on time, of the partition) that caused it, so it is
 * delivered and committed with that batch.
 *
 * Files: alarm_config.c ([alarms] keys, conditions), alarm_machine.c (the pure transitions, on
 * an explicit clock), alarm_stage.c (keyed state, records, ticks, commands), alarm_id.c (ids),
 * alarm_list.c (the JSON list of active alarms). */
#ifndef BPPIPE_ALARM_H
#define BPPIPE_ALARM_H

#include "config/config.h"
#include "pipeline/alarm_event.h"
#include "pipeline/record.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BP_ALARM_MAX_CONDITIONS 32
#define BP_ALARM_MAX_TERMS 8
#define BP_ALARM_MAX_TIERS 8

/* One term of a condition's `match`: FIELD=VALUE over the verdict, all of a term's parts must
 * hold ("severity=critical+type=hypotension"); a condition matches when any term does. */
typedef enum bp_alarm_field {
    BP_AF_REASON,   /* one of the reading's reason codes (anomaly_details) */
    BP_AF_CATEGORY, /* bp_category */
    BP_AF_SEVERITY, /* warning | critical: at least that severity */
    BP_AF_TYPE      /* anomaly_type */
} bp_alarm_field;

typedef struct bp_alarm_part {
    bp_alarm_field field;
    char *value;
} bp_alarm_part;

typedef struct bp_alarm_term {
    bp_alarm_part parts[4];
    int n_parts;
} bp_alarm_term;

typedef struct bp_alarm_condition {
    char *name; /* [a-z0-9_]: the CONDITION of CONDITION.match */
    bp_alarm_term terms[BP_ALARM_MAX_TERMS];
    int n_terms;
    bp_alarm_priority priority;
    int confirm_readings;      /* consecutive matching readings before it raises (1: at once) */
    int64_t confirm_within_ms; /* those readings within this time of the first (0: any) */
    int clear_readings;        /* consecutive non-matching readings that resolve it */
    int64_t cooldown_ms;       /* no new alarm this long after the previous one resolved */
    int64_t escalate_after_ms[BP_ALARM_MAX_TIERS]; /* interval to each next tier, from raise */
    int n_escalate;
} bp_alarm_condition;

typedef struct bp_alarm_config {
    bp_alarm_condition conds[BP_ALARM_MAX_CONDITIONS];
    int n_conds;
    char *state_file; /* the snapshot file of the alarm state (sources that do not keep state) */
    uint64_t max_keys;
} bp_alarm_config;

/* The [alarms] keys (for `bppipe run --help` and docs): the per-condition keys are written
 * CONDITION.KEY. */
const char *const *bp_alarm_condition_keys(void);

/* Reads and validates [alarms] (NULL: no alarms; returns 0 with n_conds 0). Every problem goes
 * to `errs` with the file, line and what to write instead. Returns 0 when there were none. */
int bp_alarm_config_read(bp_alarm_config *c, const bp_section *s, bp_errors *errs);
void bp_alarm_config_free(bp_alarm_config *c);
/* Whether `cond` matches the verdict of judged reading `r`. */
bool bp_alarm_condition_matches(const bp_alarm_condition *cond, const bp_record *r);

/* ---- the stage ------------------------------------------------------------------------------ */

typedef struct bp_alarms bp_alarms;

/* Sees every event as it is appended (the burden figures, src/alarm/burden.c), on the main
 * thread; `ev` lives until the call returns. */
typedef void (*bp_alarm_hook)(void *user, const bp_alarm_event *ev);
/* Sees every valid reading of a patient the stage judged, once all its conditions are done:
 * `delayed_by` lists the n conditions it matched that held it back for want of confirmation
 * (the burden's delayed readings; n = 0: none). Main thread; the user of bp_alarms_set_hook. */
struct bp_alarm_condition;
typedef void (*bp_alarm_reading_hook)(void *user, const bp_record *r,
                                      const struct bp_alarm_condition *const *delayed_by, int n);

/* Builds the stage from [alarms] of `cfg` (none: *out NULL, 0). Errors as bp_alarm_config_read. */
int bp_alarms_build(bp_alarms **out, const bp_config *cfg, bp_errors *errs);
/* Declares the keyed state (namespace alarm.1, values of version 2) and restores its snapshot file,
 * if any. Call after bp_pipeline_open (the store is configured there). BP_OK or a BP_E* status
 * (logged). */
int bp_alarms_open(bp_alarms *a);
void bp_alarms_free(bp_alarms *a);
void bp_alarms_set_hook(bp_alarms *a, bp_alarm_hook hook, void *user);
/* The readings' hook beside `hook` (same user); NULL: none. */
void bp_alarms_set_reading_hook(bp_alarms *a, bp_alarm_reading_hook hook);
/* Replay mode (`bppipe alarms replay`, docs/alarms.md): the stage runs on the readings' clock
 * (each reading's effective time is "now"), fires no escalation, and, since nobody acknowledges
 * during a replay, acknowledges (by "replay") each alarm at the patient's first reading at
 * least `ack_after_ms` after the one that raised it; -1: never (alarms then stay until the
 * end, latched when their condition cleared, and never re-raise). */
void bp_alarms_set_replay(bp_alarms *a, int64_t ack_after_ms);
const bp_alarm_config *bp_alarms_config(const bp_alarms *a);

/* The stage over a judged batch: visits `records` in order (the records present on entry),
 * applies acknowledgement commands and the verdicts of valid readings, and appends the event
 * records. `now_ms`: the wall clock. 0, or -1 on ENOMEM (logged). */
int bp_alarms_process(bp_alarms *a, bp_batch *records, int64_t now_ms);
/* Escalations due at `now_ms` with no reading: appends their event records to `records`,
 * stamped with the alarm's partition and batch `records->seq`... see alarm_stage.c. Returns how
 * many events were appended, or -1 on ENOMEM. Cheap when nothing is due (an index of the next
 * due time). */
int bp_alarms_tick(bp_alarms *a, bp_batch *records, uint64_t seq, int64_t now_ms);

/* The books of the stage (summary, /metrics): events by kind, commands applied and ignored. */
typedef struct bp_alarm_counts {
    uint64_t events[5]; /* by bp_alarm_event_kind */
    uint64_t commands, commands_applied, commands_ignored;
    uint64_t readings_delayed; /* matching readings that did not raise for want of confirmation */
    uint64_t active;           /* alarms raised, acknowledged or latched now */
    uint64_t state_lost;       /* states the keyed state could not keep (max_keys, memory) */
    /* readings an alarm or a confirmation stood on that were retracted or corrected out of
     * its condition (each (reading, condition) once; a withdrawal is events[WITHDRAWN]) */
    uint64_t readings_taken_back;
} bp_alarm_counts;
void bp_alarms_get_counts(const bp_alarms *a, bp_alarm_counts *out);

/* The active alarms (raised, acknowledged, latched) as JSON text, newest and highest priority
 * first: {"alarms":[{"alarm_id","patient_id","condition","priority","state","tier",
 * "raised_at","acknowledged_by","acknowledged_at"},...]}. malloc'd; NULL on ENOMEM. Main
 * thread only; publish the copy to other threads. */
char *bp_alarms_list_json(bp_alarms *a);

/* ---- alarm ids ------------------------------------------------------------------------------ */

/* The id of the alarm reading `reading_stable_id` raised for (patient, condition): 16 hex digits
 * of SHA-256, prefixed with "TOPIC~PARTITION~" when the reading came from a partitioned input
 * (topic non-NULL, partition >= 0). Deterministic: a replay gives the same id. */
void bp_alarm_id_make(char *out, size_t out_len, const char *topic, int32_t partition,
                      const char *patient, const char *condition, const char *reading_stable_id);
/* Which input partition owns alarm `id`: 0 with `topic` and *partition set, or -1 when the id
 * names none (an alarm of an unpartitioned source; `topic` "" and *partition -1). */
int bp_alarm_id_location(const char *id, char *topic, size_t topic_len, int32_t *partition);

#endif
