/* The host's records and batches. Plugins only see them through bp_host accessors, so this
 * layout is free to change; nothing here is ABI. */
#ifndef BPPIPE_RECORD_H
#define BPPIPE_RECORD_H

#include "base/arena.h"
#include "bppipe/plugin.h"
#include "fhir/fhir_types.h"
#include "pipeline/alarm_event.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum bp_route {
    BP_ROUTE_NORMAL = 0,
    BP_ROUTE_ANOMALY = 1,
    BP_ROUTE_INVALID = 2,
    /* valid FHIR that is not a blood-pressure reading: beside the books, never judged */
    BP_ROUTE_SKIPPED = 3,
    /* an alarm event (issue 25, src/alarm): not a reading, counted apart (alarm_events) */
    BP_ROUTE_ALARM = 4,
    /* an alarm command (an acknowledgement) read from the input: applied by the alarm stage,
     * delivered to no sink, counted apart (alarm_commands) */
    BP_ROUTE_COMMAND = 5,
    /* a retraction (issue 26, docs/revisions.md): revision BP_REVISION_RETRACT, not a reading,
     * never judged, counted apart (retracted); delivered to the BP_CAP_REVISIONS sinks of the
     * reading routes. A retract companion (bp_record.companion) rides on it too. */
    BP_ROUTE_RETRACT = 6,
    BP_ROUTE_COUNT = 7
} bp_route;

/* The routes whose records are readings (judged, dead-lettered) or skipped resources: the
 * books' routes. BP_ROUTE_ALARM, BP_ROUTE_COMMAND and BP_ROUTE_RETRACT come after them. */
#define BP_ROUTE_READING_COUNT 4

typedef enum bp_value_type { BP_VAL_NUMBER, BP_VAL_TEXT, BP_VAL_BOOL } bp_value_type;

/* A detector's named annotation, serialized as a top-level document field. */
typedef struct bp_annotation {
    struct bp_annotation *next;
    const char *key;
    bool kept; /* `key` is the process's one copy of that key (record.c): compared by pointer;
                * a code (lowercase letters, digits, '_', '.'), nothing in it to escape */
    bp_value_type type;
    double number; /* NUMBER, and BOOL as 0/1 */
    const char *text;
} bp_annotation;

typedef struct bp_reason {
    struct bp_reason *next;
    const char *code;
} bp_reason;

struct bp_record {
    bp_arena *arena; /* where this record's strings live (the batch's arena) */

    /* payload and origin: shared by every reading decoded from one payload */
    const char *payload;
    size_t payload_len;
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *key; /* NUL-terminated copy */
    size_t key_len;
    int64_t source_ts_ms;
    /* A reading: the payload record it was decoded from, in the same batch (NULL for payloads
     * and for records read back from the disk spool). A payload: its invalid_reason is the
     * reason of the first of its readings that became a dead letter (the decoder, the
     * plausibility gate or a sink's refusal), so a source sees in commit() which payloads were
     * dead-lettered (source-mllp answers those with AE). */
    struct bp_record *input;
    /* A payload the source added with add_rejected: not decoded, its one item is a dead letter
     * with this reason (bp_decode_input, src/engine/decode_pool.h). NULL for any other. */
    const char *rejected;
    /* keyed state (src/pipeline/state.c, set by bp_state_stamp): the batch the payload was polled
     * in, and the id of its partition's state at that moment (0: none yet, found by partition
     * when used) */
    uint64_t state_seq;
    uint64_t state_scope;

    /* reading */
    const char *stable_id, *observation_id, *patient_id, *practitioner_id, *device_id, *status;
    /* revisions (issue 26, docs/revisions.md): bp_decoded's logical_id, version, revision */
    const char *logical_id;
    int64_t version; /* BP_VERSION_NONE when unknown */
    bp_revision revision;
    /* A retract companion (src/engine/revision_route.c): the engine's retraction of the
     * logical id of the accepted REPLACE just before it in the batch, for the sinks that do not
     * get that replacement. Not counted as retracted, never seen by detectors or alarms. */
    bool companion;
    int64_t effective_ms;
    double systolic, diastolic, heart_rate;
    double mean_pressure; /* NaN when absent (HL7 v2 only so far) */
    unsigned decode_flags;
    /* HL7 v2 provenance (bp_decoded's hl7_*): NULL for a FHIR payload */
    const char *hl7_control_id, *hl7_sending_app, *hl7_sending_facility, *hl7_code,
        *hl7_corrects;
    int resource_index;
    const char *invalid_reason; /* non-NULL: the record is on the invalid route */
    /* non-NULL (and invalid_reason NULL): a skipped resource, not a reading (BP_SKIP_*), with
     * its resourceType and, for an Observation, its code */
    const char *skip_reason, *resource_type, *resource_code;

    /* Not a reading (issue 25): an alarm event the alarm stage appended (route = alarm), or an
     * acknowledgement command decoded from a payload (route = command). NULL for the rest. */
    const bp_alarm_event *alarm;
    const bp_alarm_command *command;

    /* verdict */
    bool anomaly;
    bp_severity severity;
    const char *category, *anomaly_type;
    bp_reason *reasons, *reasons_tail;
    bp_annotation *annotations, *annotations_tail;

    /* delivery */
    uint64_t sinks_pending; /* bit i: sink i has not yet delivered or rejected it */
    const char *docs[2];    /* cached documents: [0] compact, [1] pretty */
    size_t doc_lens[2];
    /* Taken around the cache and the arena once the record is shared by delivery lanes (the
     * run's delivery lock); NULL while one thread owns it. */
    pthread_mutex_t *doc_lock;
};

struct bp_batch {
    bp_record **items;
    size_t count, cap;
    size_t capacity; /* how many payloads the host wants per poll (source batches) */
    bp_arena *arena; /* where records and strings of this batch live */
    uint64_t seq;    /* source batches: poll order from 1 (keyed state); 0 otherwise */
};

void bp_batch_init(bp_batch *b, bp_arena *arena, size_t capacity);
void bp_batch_clear(bp_batch *b); /* forgets the records; the arena is reset by its owner */
void bp_batch_free(bp_batch *b);
int bp_batch_push(bp_batch *b, bp_record *r);

/* A record with no reading yet, every number NaN/-1. */
bp_record *bp_record_new(bp_arena *arena);
/* A reading the decoder found in payload `input` (src/fhir/fhir_decode.h): a copy of `input` (its
 * payload and origin shared, `input` remembered) with the decoded ids, values and invalid
 * reason, strings in `arena`. The skip fields and the plausibility gate are the caller's. NULL on ENOMEM. */
struct bp_decoded;
bp_record *bp_record_from_decoded(bp_arena *arena, const bp_record *input,
                                  const struct bp_decoded *d);
bp_route bp_record_route(const bp_record *r);
/* Marks the payload reading `r` came from as dead-lettered with `reason` (a string that lives as
 * long as the batch), unless an earlier reading of it was; nothing for a record without one. */
void bp_record_mark_input(bp_record *r, const char *reason);

/* Implementations of the host table's record functions (see plugin.h for the contracts).
 * bp_batch_add_payload makes the record only: the host table's add_payload (host.c) then
 * stamps it with its partition's keyed state (bp_state_stamp), which records know nothing of. */
int bp_batch_add_payload(bp_batch *b, const void *data, size_t len, const bp_origin *origin);
/* The same, for a payload the source rejected: marked with `reason` (copied; required, one line,
 * else BP_EINVAL with nothing added). */
int bp_batch_add_rejected(bp_batch *b, const void *data, size_t len, const bp_origin *origin,
                          const char *reason);
const char *bp_record_text(const bp_record *r, bp_field f);
double bp_record_number(const bp_record *r, bp_field f);
int bp_record_flag(bp_record *r, const char *reason, bp_severity sev);
int bp_record_raise_severity(bp_record *r, bp_severity sev);
int bp_record_set_text(bp_record *r, bp_field f, const char *value);
/* The anomaly type the document shows: the one a detector set, except that a flagged reading is
 * never "normal" (untyped or typed "normal", it takes "hypertension"/"hypotension" from its
 * reason codes, else "other"). NULL for an unflagged, untyped reading. */
const char *bp_record_anomaly_type(const bp_record *r);
/* BP_F_REVISION's text: NULL, "replace" or "retract". */
const char *bp_revision_name(bp_revision revision);
int bp_record_annotate(bp_record *r, const char *key, bp_value_type type,
                       double number, const char *text);
/* True when `key` is a name the core's document already uses. */
bool bp_is_core_field(const char *key);

const char *bp_severity_name(bp_severity s);

#endif
