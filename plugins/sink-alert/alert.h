/* Alerts without alarm fatigue: the decision whether a critical reading is announced (per
 * patient and reason, once per cooldown, again at once when the severity rises), the stored
 * form of a cooldown, and the FHIR R4 DetectedIssue that announces it. Pure logic;
 * sink_alert.c keeps the cooldowns in the host's keyed state and delivers. */
#ifndef BPPIPE_ALERT_H
#define BPPIPE_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What sink_alert.c knows about one reading. Every string is used whole: no id, key or reason
 * is ever cut, so two patients or readings that differ anywhere stay apart. */
typedef struct bp_alert_input {
    const char *stable_id, *observation_id, *patient_id, *category;
    const char *const *reasons; /* every reason code of the reading (the caller's array) */
    size_t n_reasons;
    int severity; /* 0 normal, 1 warning, 2 critical */
    int64_t effective_ms;
    double systolic, diastolic; /* NaN when absent */
    /* A revision of an alert already sent (issue 26), with the first alert's stable_id so it
     * keeps its id: "amended" (the reading was corrected and is still critical) or
     * "entered-in-error" (withdrawn: the reading was retracted, or corrected to a value no
     * longer critical); NULL: "final", a new alert. `note` is added to the detail. */
    const char *status, *note;
} bp_alert_input;

/* The cooldown of one key (a patient and a reason), as sink_alert.c keeps it in the host's
 * keyed state: one entry at a time, read before the decision, written after the delivery. */
typedef struct bp_cooldown_entry {
    bool present;        /* false: no alert for this key yet */
    int64_t last_ms;     /* effective time of the last alert for this key */
    int severity;        /* its severity */
    uint32_t suppressed; /* readings not announced since */
} bp_cooldown_entry;

/* How many keys a reading has (one per reason; a reading with none, critical by severity
 * alone, has one keyed by its category) and key `i` of them into `out` (BP_ALERT_KEY_MAX
 * bytes); returns its length. The key holds the patient id and the reason whole, apart: a 0x00
 * byte, the patient id's length (u32, little-endian), the id, the reason. When that exceeds
 * BP_ALERT_KEY_MAX it is a 0x01 byte and SHA-256(SHA-256(id) SHA-256(reason)) instead: no
 * separator an id could also hold, no length beyond which two ids look the same. */
#define BP_ALERT_KEY_MAX 1024
size_t bp_alert_n_keys(const bp_alert_input *in);
size_t bp_alert_key(const bp_alert_input *in, size_t i, uint8_t *out);

/* Whether `in` must be announced now, given the entry of each of its keys (entries[i] for key
 * i). *since receives how many readings of the same patient and reasons were suppressed since
 * the last alert. Changes nothing: once the alert is delivered, bp_cooldown_sent() each entry
 * (or bp_cooldown_suppress() each when it is not announced) and store them, so a failed
 * delivery is tried again rather than silenced. */
bool bp_cooldown_should_alert(int64_t period_ms, const bp_alert_input *in,
                              const bp_cooldown_entry *entries, uint32_t *since);
void bp_cooldown_sent(bp_cooldown_entry *e, const bp_alert_input *in);
/* Counts a suppressed reading into a present entry; leaves an absent one absent. */
void bp_cooldown_suppress(bp_cooldown_entry *e);

/* The stored form, format "alert-cooldown.1": i64 last_ms, u8 severity, u32 suppressed, all
 * little-endian, 13 bytes. Decode returns 0, or -1 for a value of another length or a severity
 * that is none (the entry is then absent). Change the format name with the layout. */
#define BP_COOLDOWN_FORMAT "alert-cooldown.1"
#define BP_COOLDOWN_VALUE_LEN 13
void bp_cooldown_encode(const bp_cooldown_entry *e, uint8_t *out);
int bp_cooldown_decode(const uint8_t *in, size_t len, bp_cooldown_entry *e);

/* The DetectedIssue JSON (one line, NUL-terminated), allocated: the caller frees it. *len
 * receives its length. NULL only when memory ran out. `since` > 0 adds "N further readings
 * since the last alert". Its id is "bp-alert-<reading id>" when that is a FHIR id ([A-Za-z0-9-.],
 * at most 64 characters in all), else "bp-alert-sha256.<40 hex digits of the reading id>":
 * deterministic, valid, and distinct for distinct readings. */
char *bp_alert_detected_issue(const bp_alert_input *in, uint32_t since, size_t *len);

/* A reading this sink alerted on, remembered under its logical id in the same keyed state as
 * the cooldowns (issue 26, docs/plugins/sink-alert.md, "Corrections and retractions"), so that
 * a correction updates that alert and a retraction withdraws it. Its key: a 0x02 byte and the
 * logical id, or a 0x03 byte and SHA-256 of it when that exceeds BP_ALERT_KEY_MAX (the cooldown
 * keys start with 0x00 or 0x01). Its value: a 0xA1 byte; i64 version (0: unknown), i64
 * effective_ms, f64 systolic and diastolic (their bits), u8 severity, u16 number of reasons,
 * all little-endian; then stable_id, patient_id, observation_id, category and each reason, each
 * ended by a NUL byte (an absent one empty). At least 34 bytes: never a 13-byte cooldown, and a
 * cooldown is never taken for one, so the state format stays alert-cooldown.1 (a version that
 * does not know these keys never asks for them). */
typedef struct bp_alerted {
    int64_t version, effective_ms;
    double systolic, diastolic;
    int severity;
    const char *stable_id, *patient_id, *observation_id, *category;
    const char *const *reasons;
    size_t n_reasons;
} bp_alerted;
#define BP_ALERTED_MAX_REASONS 32
size_t bp_alerted_key(const char *logical_id, uint8_t *out);
/* Writes the value of `a` into out (out_size bytes); returns its length, or 0 when it does not
 * fit. */
size_t bp_alerted_encode(const bp_alerted *a, uint8_t *out, size_t out_size);
/* Reads a value; strings and reasons point into `in` (`reasons`: room for
 * BP_ALERTED_MAX_REASONS, the rest are left out). 0, or -1 when it is no such value. */
int bp_alerted_decode(const uint8_t *in, size_t len, bp_alerted *a, const char **reasons);
/* The alert input of the alert `a` remembers, its status `status` and note `note`: the
 * withdrawal or the amendment of that alert (same id). `reasons` as for decode. */
void bp_alerted_input(const bp_alerted *a, const char *status, const char *note,
                      bp_alert_input *in);

/* An alarm event (route = alarm, docs/alarms.md): what sink_alert.c reads of it through the
 * host's BP_F_ALARM_* fields. */
typedef struct bp_alarm_issue_input {
    const char *alarm_id, *event, *priority, *condition, *state, *patient_id, *by;
    int tier;
    int64_t raised_at_ms, event_ms;
    double systolic, diastolic; /* NaN when the event came from no reading */
} bp_alarm_issue_input;

/* The DetectedIssue an alarm event becomes: one resource per alarm (its id from the alarm id,
 * so each event updates the same resource), status following the alarm (raised and escalated:
 * preliminary; acknowledged: final, with a mitigation naming who; resolved: amended, the
 * identified period closed; withdrawn: entered-in-error), severity from the priority (high,
 * moderate, low). One line, allocated; NULL only when memory ran out. */
char *bp_alert_alarm_issue(const bp_alarm_issue_input *in, size_t *len);
/* The FHIR status of an alarm event, as above ("preliminary" for an unknown one). */
const char *bp_alert_alarm_status(const char *event);

/* The alert id of a reading id into out (at least BP_ALERT_ID_SIZE bytes), as above. */
#define BP_ALERT_ID_SIZE 65
void bp_alert_id(const char *stable_id, char *out);

#endif
