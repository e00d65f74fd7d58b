/* Alerts without alarm fatigue: the decision whether a critical reading is announced (per
 * patient and reason, once per cooldown, again at once when the severity rises), and the FHIR
 * R4 DetectedIssue that announces it. Pure logic; sink_alert.c delivers. */
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
    int severity;          /* 0 normal, 1 warning, 2 critical */
    int64_t effective_ms;
    double systolic, diastolic; /* NaN when absent */
} bp_alert_input;

typedef struct bp_cooldown_entry {
    char *patient, *reason; /* the key, whole (owned copies) */
    int64_t last_ms;    /* effective time of the last alert for this key */
    int severity;       /* its severity */
    uint32_t suppressed; /* readings not announced since */
} bp_cooldown_entry;

typedef struct bp_cooldown {
    int64_t period_ms;
    bp_cooldown_entry *items;
    size_t n, cap;
} bp_cooldown;

void bp_cooldown_init(bp_cooldown *c, int64_t period_ms);
void bp_cooldown_free(bp_cooldown *c);

/* Whether `in` must be announced now. *since receives how many readings of the same patient
 * and reasons were suppressed since the last alert. Does not change the state: call
 * bp_cooldown_commit once the alert is delivered (or bp_cooldown_suppress when it is not
 * announced), so a failed delivery is tried again rather than silenced. */
bool bp_cooldown_should_alert(const bp_cooldown *c, const bp_alert_input *in, uint32_t *since);
/* Returns 0, or -1 when memory ran out (the cooldown is then unchanged for that key). */
int bp_cooldown_commit(bp_cooldown *c, const bp_alert_input *in);
int bp_cooldown_suppress(bp_cooldown *c, const bp_alert_input *in);

/* The DetectedIssue JSON (one line, NUL-terminated), allocated: the caller frees it. *len
 * receives its length. NULL only when memory ran out. `since` > 0 adds "N further readings
 * since the last alert". Its id is "bp-alert-<reading id>" when that is a FHIR id ([A-Za-z0-9-.],
 * at most 64 characters in all), else "bp-alert-sha256.<40 hex digits of the reading id>":
 * deterministic, valid, and distinct for distinct readings. */
char *bp_alert_detected_issue(const bp_alert_input *in, uint32_t since, size_t *len);

/* The alert id of a reading id into out (at least BP_ALERT_ID_SIZE bytes), as above. */
#define BP_ALERT_ID_SIZE 65
void bp_alert_id(const char *stable_id, char *out);

#endif
