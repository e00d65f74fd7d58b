/* The alarm stage (alarm.h): the state of every (patient, condition) in the host's keyed state,
 * the machine (alarm_machine.c) stepped by readings, acknowledgements and the clock, and one
 * event record per transition appended to the batch, stamped like the record that caused it. */
#include "alarm/alarm.h"

#include "alarm/alarm_machine.h"
#include "base/log.h"
#include "common/json_buf.h"
#include "pipeline/instance.h"
#include "pipeline/state.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The stage looks for due escalations at least this often even when it knows of none: a
 * rebalance or a restore may have brought alarms it has not seen. */
#define SCAN_EVERY_MS 1000

struct bp_alarms {
    bp_alarm_config cfg;
    bp_ctx owner; /* the keyed state's owner: a host instance of no plugin, named "alarms" */
    bool opened;
    bp_alarm_hook hook;
    bp_alarm_reading_hook reading_hook;
    void *hook_user;
    bp_alarm_counts counts;
    int64_t next_due_ms; /* the earliest escalation known to be due (0: none known) */
    int64_t last_scan_ms;
    /* bppipe alarms replay (bp_alarms_set_replay): the readings' clock, no ticks, and each alarm
     * acknowledged replay_ack_ms of reading time after its raise (-1: never) */
    bool replay;
    int64_t replay_ack_ms;
};

int bp_alarms_build(bp_alarms **out, const bp_config *cfg, bp_errors *errs)
{
    *out = NULL;
    const bp_section *s = bp_config_find(cfg, "alarms");
    if (!s)
        return 0;
    bp_alarms *a = calloc(1, sizeof *a);
    if (!a || !(a->owner.name = strdup("alarms"))) {
        free(a);
        bp_errors_add(errs, "out of memory");
        return -1;
    }
    if (bp_alarm_config_read(&a->cfg, s, errs) != 0) {
        bp_alarms_free(a);
        return -1;
    }
    *out = a;
    return 0;
}

int bp_alarms_open(bp_alarms *a)
{
    if (!a || a->opened)
        return BP_OK;
    int rc = bp_state_open(&a->owner, "alarm.1", a->cfg.max_keys, a->cfg.state_file);
    if (rc != BP_OK) {
        bp_log("alarms", BP_LOG_ERROR, "cannot keep the alarm state (status %d)", rc);
        return rc;
    }
    a->opened = true;
    return BP_OK;
}

void bp_alarms_free(bp_alarms *a)
{
    if (!a)
        return;
    if (a->opened)
        bp_state_forget_owner(&a->owner);
    bp_alarm_config_free(&a->cfg);
    free(a->owner.name);
    free(a);
}

void bp_alarms_set_hook(bp_alarms *a, bp_alarm_hook hook, void *user)
{
    a->hook = hook;
    a->hook_user = user;
}

void bp_alarms_set_reading_hook(bp_alarms *a, bp_alarm_reading_hook hook)
{
    a->reading_hook = hook;
}

void bp_alarms_set_replay(bp_alarms *a, int64_t ack_after_ms)
{
    a->replay = true;
    a->replay_ack_ms = ack_after_ms;
}

const bp_alarm_config *bp_alarms_config(const bp_alarms *a)
{
    return &a->cfg;
}

void bp_alarms_get_counts(const bp_alarms *a, bp_alarm_counts *out)
{
    *out = a->counts;
}

/* ---- keys and values ------------------------------------------------------------------------ */

/* A state's key is PATIENT 0x1f CONDITION (a unit separator no id or condition name holds),
 * written in two steps so that a reading's pass over the conditions writes its patient once:
 * key_patient writes PATIENT 0x1f and returns that prefix's length, key_condition appends the
 * condition and returns the key's length. Either returns 0 when the key would not fit
 * BP_STATE_MAX_KEY - 1 bytes: such a patient never has an alarm (docs/alarms.md). */
static size_t key_patient(char key[BP_STATE_MAX_KEY], const char *patient)
{
    size_t n = strlen(patient);
    if (n + 1 >= BP_STATE_MAX_KEY)
        return 0;
    memcpy(key, patient, n);
    key[n] = '\x1f';
    return n + 1;
}

static size_t key_condition(char key[BP_STATE_MAX_KEY], size_t prefix, const char *cond)
{
    size_t n = strlen(cond);
    if (!prefix || prefix + n >= BP_STATE_MAX_KEY)
        return 0;
    memcpy(key + prefix, cond, n + 1);
    return prefix + n;
}

static size_t make_key(char key[BP_STATE_MAX_KEY], const char *patient, const char *cond)
{
    return key_condition(key, key_patient(key, patient), cond);
}

static const bp_alarm_condition *cond_named(const bp_alarms *a, const char *name)
{
    for (int i = 0; i < a->cfg.n_conds; i++)
        if (strcmp(a->cfg.conds[i].name, name) == 0)
            return &a->cfg.conds[i];
    return NULL;
}

/* The state of `key` in the scope of `rec` into *st (idle when it cannot be read). False when
 * the key holds none: *st is left as it was then, for the caller to clear only when it goes on
 * (most conditions of most readings have no alarm, and a cleared state is ~900 bytes). */
static bool load(bp_alarms *a, const bp_record *rec, const char *key, size_t key_len,
                 bp_alarm_state *st)
{
    unsigned char buf[1024];
    size_t len = 0;
    int rc = bp_state_get(&a->owner, rec, key, key_len, buf, sizeof buf, &len);
    if (rc == BP_END)
        return false;
    if (rc != BP_OK || bp_alarm_state_decode(st, buf, len) != 0) {
        bp_log("alarms", BP_LOG_WARN,
               "an alarm state could not be read (status %d); it starts "
               "over",
               rc);
        memset(st, 0, sizeof *st);
    }
    return true;
}

static int store(bp_alarms *a, const bp_record *rec, const char *key, size_t key_len,
                 const bp_alarm_state *st, const bp_alarm_step *step)
{
    if (!step->changed && !step->gone)
        return 0;
    unsigned char buf[1024];
    size_t len = step->gone ? 0 : bp_alarm_state_encode(st, buf, sizeof buf);
    int rc = bp_state_put(&a->owner, rec, key, key_len, buf, len, !step->gone);
    if (rc != BP_OK) {
        /* The run goes on and the events are still emitted: an alarm raised twice (its state
         * lost) is better than a ward that stops, or an alarm nobody hears. */
        a->counts.state_lost++;
        bp_log("alarms", BP_LOG_ERROR,
               "cannot keep an alarm state (status %d): the alarm may be raised again; raise "
               "max_keys in [alarms] or free memory",
               rc);
    }
    return 0;
}

/* ---- event records --------------------------------------------------------------------------- */

/* What caused an event: a reading (its origin, stamp and values), or the partition alone. */
typedef struct cause {
    const bp_record *reading; /* NULL: the clock or a command */
    const bp_record *stamp;   /* whose topic, partition and keyed-state stamp the event takes */
    const char *patient, *cond;
    int64_t now_ms;
} cause;

static int append_event(bp_alarms *a, bp_batch *records, const cause *c, const bp_alarm_state *st,
                        bp_alarm_event_kind kind, int tier)
{
    bp_arena *ar = records->arena;
    bp_record *r = bp_record_new(ar);
    bp_alarm_event *ev = bp_arena_alloc(ar, sizeof *ev);
    if (!r || !ev)
        return -1;
    const bp_record *s = c->stamp;
    r->topic = s->topic ? bp_arena_strdup(ar, s->topic) : NULL;
    r->partition = s->partition;
    r->state_seq = s->state_seq;
    r->state_scope = s->state_scope;
    r->source_ts_ms = s->source_ts_ms;
    ev->event = kind;
    ev->priority = st->priority;
    /* the state after this event: an acknowledged latched alarm is resolved by the next one */
    ev->state = kind == BP_ALARM_EV_ACKNOWLEDGED ? BP_ALARM_ACKED
                : kind == BP_ALARM_EV_RESOLVED   ? BP_ALARM_RESOLVED
                : kind == BP_ALARM_EV_RAISED || kind == BP_ALARM_EV_ESCALATED
                    ? (st->phase == BP_ALARM_LATCHED ? BP_ALARM_LATCHED : BP_ALARM_ACTIVE)
                    : st->phase;
    ev->alarm_id = bp_arena_strdup(ar, st->alarm_id);
    ev->condition = bp_arena_strdup(ar, c->cond);
    ev->patient_id = bp_arena_strdup(ar, c->patient);
    ev->tier = tier;
    if (st->acked_at_ms > 0) {
        /* who acknowledged: on that event, and on the later ones of the alarm (its resolution),
         * so a sink that keeps one record per alarm (a FHIR DetectedIssue) keeps who it was */
        ev->by = bp_arena_strdup(ar, st->by);
        ev->from = *st->from ? bp_arena_strdup(ar, st->from) : NULL;
    }
    ev->event_ms = c->now_ms;
    ev->raised_at_ms = st->raised_at_ms;
    ev->reading_id = c->reading ? c->reading->stable_id : NULL;
    ev->systolic = c->reading ? c->reading->systolic : NAN;
    ev->diastolic = c->reading ? c->reading->diastolic : NAN;
    char sid[BP_ALARM_ID_MAX + 32];
    snprintf(sid, sizeof sid, "%s/%s/%d", st->alarm_id, bp_alarm_event_name(kind), tier);
    r->stable_id = bp_arena_strdup(ar, sid);
    r->patient_id = ev->patient_id;
    r->systolic = ev->systolic; /* the host table's BP_F_SYSTOLIC/DIASTOLIC of the event */
    r->diastolic = ev->diastolic;
    r->effective_ms = c->now_ms;
    r->alarm = ev;
    if (!ev->alarm_id || !ev->condition || !ev->patient_id || !r->stable_id ||
        bp_batch_push(records, r) != BP_OK)
        return -1;
    a->counts.events[kind]++;
    if (a->hook)
        a->hook(a->hook_user, ev);
    return 0;
}

/* Emits the events of `step` in order; the tier each carries is the one after it. */
static int emit_step(bp_alarms *a, bp_batch *records, const cause *c, const bp_alarm_state *st,
                     const bp_alarm_step *step)
{
    int tier = st->tier;
    int escalations = 0;
    for (int i = 0; i < step->n_events; i++)
        escalations += step->events[i] == BP_ALARM_EV_ESCALATED;
    tier -= escalations; /* replayed one tier at a time */
    for (int i = 0; i < step->n_events; i++) {
        if (step->events[i] == BP_ALARM_EV_ESCALATED)
            tier++;
        if (append_event(a, records, c, st, step->events[i], tier) != 0)
            return -1;
    }
    return 0;
}

static void note_due(bp_alarms *a, const bp_alarm_state *st)
{
    if (st->next_escalation_ms > 0 &&
        (a->next_due_ms == 0 || st->next_escalation_ms < a->next_due_ms))
        a->next_due_ms = st->next_escalation_ms;
}

/* ---- readings -------------------------------------------------------------------------------- */

/* A replay's acknowledgement: the alarm of `st` acknowledged by "replay" at reading time `at`,
 * once replay_ack_ms have passed since its raise (bp_alarms_set_replay). */
static int replay_ack(bp_alarms *a, bp_batch *records, const bp_record *rec, const char *key,
                      size_t klen, const bp_alarm_condition *c, bp_alarm_state *st, int64_t at)
{
    if (!a->replay || a->replay_ack_ms < 0 || at - st->raised_at_ms < a->replay_ack_ms)
        return 0;
    bool applied;
    bp_alarm_step step;
    bp_alarm_on_ack(st, c, "replay", NULL, at, &applied, &step);
    cause cs = {rec, rec, rec->patient_id, c->name, at};
    return applied && (store(a, rec, key, klen, st, &step) != 0 ||
                       emit_step(a, records, &cs, st, &step) != 0)
               ? -1
               : 0;
}

/* What a reading is remembered by: its logical id, else its stable id (docs/alarms.md). */
static const char *reading_name(const bp_record *rec)
{
    return rec->logical_id ? rec->logical_id : rec->stable_id ? rec->stable_id : "";
}

/* What one reading's pass over the conditions computes once: the key's patient part, and the
 * reading's key in the evidence (a SHA-256, wanted only by a condition that notes the reading
 * or a correction that may stand under an alarm). */
typedef struct reading_keys {
    char key[BP_STATE_MAX_KEY];
    size_t prefix; /* PATIENT 0x1f (0: a patient id too long to be a key) */
    uint64_t rk;   /* 0: not computed yet */
} reading_keys;

static void keys_begin(reading_keys *k, const char *patient)
{
    k->prefix = key_patient(k->key, patient);
    k->rk = 0;
}

/* The key of (the reading's patient, `cond`) in k->key; 0 when it does not fit. */
static size_t keys_for(reading_keys *k, const char *cond)
{
    return key_condition(k->key, k->prefix, cond);
}

static uint64_t keys_reading(reading_keys *k, const bp_record *rec)
{
    if (!k->rk)
        k->rk = bp_alarm_reading_key(reading_name(rec));
    return k->rk;
}

static int on_reading(bp_alarms *a, bp_batch *records, const bp_record *rec, int64_t now_ms)
{
    reading_keys keys;
    keys_begin(&keys, rec->patient_id);
    const bp_alarm_condition *delayed_by[BP_ALARM_MAX_CONDITIONS];
    int n_delayed = 0;
    int64_t at = rec->effective_ms != INT64_MIN ? rec->effective_ms : now_ms;
    if (a->replay)
        now_ms = at; /* a replay runs on the readings' clock */
    for (int i = 0; i < a->cfg.n_conds; i++) {
        const bp_alarm_condition *c = &a->cfg.conds[i];
        size_t klen = keys_for(&keys, c->name);
        if (!klen)
            continue; /* a patient id too long to be a key: never an alarm (documented) */
        const char *key = keys.key;
        bp_alarm_state st;
        bool held = load(a, rec, key, klen, &st);
        bool matches = bp_alarm_condition_matches(c, rec);
        if (!held && !matches)
            continue; /* idle, and stays so */
        if (!held)
            memset(&st, 0, sizeof st);
        if (!matches && st.phase == BP_ALARM_IDLE)
            continue;
        bp_alarm_step step;
        if (a->replay && replay_ack(a, records, rec, key, klen, c, &st, at) != 0)
            return -1;
        if (rec->revision == BP_REVISION_REPLACE &&
            bp_alarm_holds_reading(&st, keys_reading(&keys, rec))) {
            /* A correction of a reading the alarm stands on is that reading again, not a new
             * one: still matching, nothing changes; no longer matching, it is taken back. */
            if (matches)
                continue;
            bp_alarm_on_taken_back(&st, keys_reading(&keys, rec), now_ms, &step);
            a->counts.readings_taken_back++;
        } else {
            bp_alarm_on_reading(&st, c, matches, at, now_ms, &step);
            if (step.raised)
                bp_alarm_id_make(st.alarm_id, sizeof st.alarm_id, rec->topic, rec->partition,
                                 rec->patient_id, c->name, rec->stable_id);
            if (matches && !step.gone && st.phase != BP_ALARM_RESOLVED && st.phase != BP_ALARM_IDLE)
                bp_alarm_note_reading(&st, keys_reading(&keys, rec), at, &step);
        }
        a->counts.readings_delayed += step.delayed;
        if (step.delayed)
            delayed_by[n_delayed++] = c;
        cause cs = {rec, rec, rec->patient_id, c->name, now_ms};
        if (store(a, rec, key, klen, &st, &step) != 0 ||
            emit_step(a, records, &cs, &st, &step) != 0)
            return -1;
        note_due(a, &st);
    }
    if (a->reading_hook)
        a->reading_hook(a->hook_user, rec, delayed_by, n_delayed);
    return 0;
}

/* ---- scans of the state (ticks, commands, the list) --------------------------------------------
 */

typedef struct found {
    char *topic;
    int32_t partition;
    char *key;
    size_t key_len;
    bp_alarm_state st;
} found;

typedef struct scan {
    found *items;
    size_t n, cap;
    const char *want_id; /* only the alarm of this id */
    uint64_t want_reading;    /* only the states that stand on this reading (0: any) */
    const char *want_patient; /* with want_reading: only this patient's (NULL: any) */
    bool escalating;     /* only alarms with an escalation to come */
    bool failed;
} scan;

static int collect(void *user, const char *topic, int32_t partition, const void *key,
                   size_t key_len, const void *value, size_t len)
{
    scan *sc = user;
    bp_alarm_state st;
    if (bp_alarm_state_decode(&st, value, len) != 0)
        return 0;
    if (sc->want_reading) {
        size_t pl = sc->want_patient ? strlen(sc->want_patient) : 0;
        if (!bp_alarm_holds_reading(&st, sc->want_reading) ||
            (sc->want_patient && (key_len <= pl || memcmp(key, sc->want_patient, pl) != 0 ||
                                  ((const char *)key)[pl] != '\x1f')))
            return 0;
    } else if (sc->want_id && strcmp(st.alarm_id, sc->want_id) != 0) {
        return 0;
    } else if (!sc->want_id && !bp_alarm_is_active(&st)) {
        return 0;
    }
    if (sc->escalating && st.next_escalation_ms <= 0)
        return 0;
    if (sc->n == sc->cap) {
        size_t cap = sc->cap ? sc->cap * 2 : 16;
        found *g = realloc(sc->items, cap * sizeof *g);
        if (!g) {
            sc->failed = true;
            return 1;
        }
        sc->items = g;
        sc->cap = cap;
    }
    found *f = &sc->items[sc->n];
    f->topic = topic ? strdup(topic) : NULL;
    f->key = malloc(key_len + 1);
    if ((topic && !f->topic) || !f->key) {
        free(f->topic);
        free(f->key);
        sc->failed = true;
        return 1;
    }
    memcpy(f->key, key, key_len);
    f->key[key_len] = '\0';
    f->key_len = key_len;
    f->partition = partition;
    f->st = st;
    sc->n++;
    return sc->want_id ? 1 : 0;
}

static void scan_free(scan *sc)
{
    for (size_t i = 0; i < sc->n; i++) {
        free(sc->items[i].topic);
        free(sc->items[i].key);
    }
    free(sc->items);
}

/* A record standing for partition (topic, partition) in batch `seq`: what a state change and an
 * event of the clock or of a command are stamped with. */
static void partition_stamp(bp_record *r, const found *f, uint64_t seq)
{
    memset(r, 0, sizeof *r);
    r->topic = f->topic;
    r->partition = f->partition;
    r->offset = -1;
    r->source_ts_ms = -1;
    r->state_seq = seq;
}

/* The patient and condition of a key (split in place). */
static void split_key(char *key, const char **patient, const char **cond)
{
    char *us = strchr(key, '\x1f');
    *patient = key;
    *cond = "";
    if (us) {
        *us = '\0';
        *cond = us + 1;
    }
}

static int on_command(bp_alarms *a, bp_batch *records, const bp_record *cmd, int64_t now_ms)
{
    a->counts.commands++;
    const bp_alarm_command *ack = cmd->command;
    scan sc = {.want_id = ack->alarm_id};
    bp_state_each(&a->owner, collect, &sc);
    int rc = sc.failed ? -1 : 0;
    bool applied = false;
    if (rc == 0 && sc.n == 1) {
        found *f = &sc.items[0];
        bp_record stamp;
        /* The batch is the command's own (its payload's stamp): `records` is the flight's list
         * of records, which carries no poll order (seq 0), and a change put in no batch is
         * never persisted with that batch's commit. */
        partition_stamp(&stamp, f, cmd->state_seq ? cmd->state_seq : records->seq);
        stamp.source_ts_ms = cmd->source_ts_ms;
        const char *patient, *cname;
        split_key(f->key, &patient, &cname);
        const bp_alarm_condition *c = cond_named(a, cname);
        bp_alarm_condition gone = {.cooldown_ms = 0}; /* a condition since removed from [alarms] */
        bp_alarm_step step;
        bp_alarm_on_ack(&f->st, c ? c : &gone, ack->by, ack->from, now_ms, &applied, &step);
        char key[BP_STATE_MAX_KEY];
        size_t klen = make_key(key, patient, cname);
        cause cs = {NULL, &stamp, patient, cname, now_ms};
        if (applied && (store(a, &stamp, key, klen, &f->st, &step) != 0 ||
                        emit_step(a, records, &cs, &f->st, &step) != 0))
            rc = -1;
    }
    if (applied)
        a->counts.commands_applied++;
    else
        a->counts.commands_ignored++; /* a repeat, an alarm of another process, an unknown id */
    if (!applied)
        bp_log("alarms", BP_LOG_DEBUG, "acknowledgement of %s changed nothing (%s)", ack->alarm_id,
               sc.n ? "already acknowledged or over" : "no such alarm here");
    scan_free(&sc);
    return rc;
}

/* A retraction (revision RETRACT): every alarm and confirmation that stands on its reading is
 * taken back from (bp_alarm_on_taken_back). A retraction names its patient when the resource
 * did; without one every patient's states are looked at (retractions are rare). */
static int on_retract(bp_alarms *a, bp_batch *records, const bp_record *rec, int64_t now_ms)
{
    if (!rec->logical_id || !a->opened)
        return 0; /* nothing names the reading: nothing can stand on it */
    scan sc = {.want_reading = bp_alarm_reading_key(rec->logical_id),
               .want_patient = rec->patient_id};
    bp_state_each(&a->owner, collect, &sc);
    int rc = sc.failed ? -1 : 0;
    for (size_t i = 0; i < sc.n && rc == 0; i++) {
        found *f = &sc.items[i];
        bp_record stamp;
        /* changed with the retraction's batch, in the partition that holds the state */
        partition_stamp(&stamp, f, rec->state_seq ? rec->state_seq : records->seq);
        stamp.source_ts_ms = rec->source_ts_ms;
        char key[BP_STATE_MAX_KEY];
        size_t klen = f->key_len;
        memcpy(key, f->key, klen);
        const char *patient, *cname;
        split_key(f->key, &patient, &cname);
        bp_alarm_step step;
        bp_alarm_on_taken_back(&f->st, sc.want_reading, now_ms, &step);
        a->counts.readings_taken_back++;
        cause cs = {rec, &stamp, patient, cname, now_ms};
        if (store(a, &stamp, key, klen, &f->st, &step) != 0 ||
            emit_step(a, records, &cs, &f->st, &step) != 0)
            rc = -1;
    }
    scan_free(&sc);
    return rc;
}

int bp_alarms_process(bp_alarms *a, bp_batch *records, int64_t now_ms)
{
    if (!a)
        return 0;
    size_t n = records->count; /* the events appended below are not visited */
    for (size_t i = 0; i < n; i++) {
        const bp_record *r = records->items[i];
        bp_route route = bp_record_route(r);
        int rc = 0;
        if (r->revision == BP_REVISION_RETRACT && !r->invalid_reason && !r->skip_reason) {
            if (!r->companion) /* a correction's, for the sinks: it said already */
                rc = on_retract(a, records, r, now_ms);
        } else if (route == BP_ROUTE_COMMAND)
            rc = on_command(a, records, r, now_ms);
        else if ((route == BP_ROUTE_NORMAL || route == BP_ROUTE_ANOMALY) && r->patient_id)
            rc = on_reading(a, records, r, now_ms);
        if (rc != 0) {
            bp_log("alarms", BP_LOG_ERROR, "out of memory in the alarm stage");
            return -1;
        }
    }
    return 0;
}

int bp_alarms_tick(bp_alarms *a, bp_batch *records, uint64_t seq, int64_t now_ms)
{
    if (!a || !a->opened || a->replay) /* a replay's clock is its readings' (no escalations) */
        return 0;
    bool known_due = a->next_due_ms > 0 && now_ms >= a->next_due_ms;
    if (!known_due && now_ms - a->last_scan_ms < SCAN_EVERY_MS)
        return 0;
    a->last_scan_ms = now_ms;
    scan sc = {.escalating = true};
    bp_state_each(&a->owner, collect, &sc);
    int appended = 0, rc = sc.failed ? -1 : 0;
    a->next_due_ms = 0;
    for (size_t i = 0; i < sc.n && rc == 0; i++) {
        found *f = &sc.items[i];
        if (f->st.next_escalation_ms > now_ms) {
            note_due(a, &f->st); /* not yet: remembered, so it fires on time */
            continue;
        }
        bp_record stamp;
        partition_stamp(&stamp, f, seq);
        char key[BP_STATE_MAX_KEY];
        size_t klen = f->key_len;
        memcpy(key, f->key, klen);
        const char *patient, *cname;
        split_key(f->key, &patient, &cname);
        const bp_alarm_condition *c = cond_named(a, cname);
        if (!c)
            continue; /* removed from [alarms]: its alarms escalate no more */
        bp_alarm_step step;
        bp_alarm_on_tick(&f->st, c, now_ms, &step);
        cause cs = {NULL, &stamp, patient, cname, now_ms};
        size_t before = records->count;
        if (store(a, &stamp, key, klen, &f->st, &step) != 0 ||
            emit_step(a, records, &cs, &f->st, &step) != 0)
            rc = -1;
        appended += (int)(records->count - before);
        note_due(a, &f->st);
    }
    scan_free(&sc);
    return rc == 0 ? appended : -1;
}

/* ---- the list of active alarms -------------------------------------------------------------- */

static int by_priority_then_newest(const void *x, const void *y)
{
    const found *a = x, *b = y;
    if (a->st.priority != b->st.priority)
        return a->st.priority > b->st.priority ? -1 : 1;
    if (a->st.raised_at_ms != b->st.raised_at_ms)
        return a->st.raised_at_ms > b->st.raised_at_ms ? -1 : 1;
    return strcmp(a->st.alarm_id, b->st.alarm_id);
}

char *bp_alarms_list_json(bp_alarms *a)
{
    scan sc = {0};
    if (a && a->opened)
        bp_state_each(&a->owner, collect, &sc);
    if (sc.failed) {
        scan_free(&sc);
        return NULL;
    }
    if (a)
        a->counts.active = sc.n;
    if (sc.n > 1)
        qsort(sc.items, sc.n, sizeof *sc.items, by_priority_then_newest);
    bp_buf b = {0};
    bp_buf_puts(&b, "{\"alarms\":[");
    for (size_t i = 0; i < sc.n; i++) {
        found *f = &sc.items[i];
        const char *patient, *cname;
        split_key(f->key, &patient, &cname);
        bp_buf_puts(&b, i ? ",{\"alarm_id\":" : "{\"alarm_id\":");
        bp_buf_json_string(&b, f->st.alarm_id, strlen(f->st.alarm_id));
        bp_buf_puts(&b, ",\"patient_id\":");
        bp_buf_json_string(&b, patient, strlen(patient));
        bp_buf_puts(&b, ",\"condition\":");
        bp_buf_json_string(&b, cname, strlen(cname));
        bp_buf_puts(&b, ",\"priority\":\"");
        bp_buf_puts(&b, bp_alarm_priority_name(f->st.priority));
        bp_buf_puts(&b, "\",\"state\":\"");
        bp_buf_puts(&b, bp_alarm_phase_name(f->st.phase));
        bp_buf_puts(&b, "\",\"tier\":");
        bp_buf_json_number(&b, f->st.tier);
        bp_buf_puts(&b, ",\"raised_at\":\"");
        bp_buf_iso_time(&b, f->st.raised_at_ms);
        bp_buf_putc(&b, '"');
        if (f->st.next_escalation_ms > 0) {
            bp_buf_puts(&b, ",\"escalates_at\":\"");
            bp_buf_iso_time(&b, f->st.next_escalation_ms);
            bp_buf_putc(&b, '"');
        }
        if (f->st.acked_at_ms > 0) {
            bp_buf_puts(&b, ",\"acknowledged_by\":");
            bp_buf_json_string(&b, f->st.by, strlen(f->st.by));
            bp_buf_puts(&b, ",\"acknowledged_at\":\"");
            bp_buf_iso_time(&b, f->st.acked_at_ms);
            bp_buf_putc(&b, '"');
        }
        bp_buf_putc(&b, '}');
    }
    bp_buf_puts(&b, "]}");
    scan_free(&sc);
    if (b.failed) {
        bp_buf_free(&b);
        return NULL;
    }
    return b.data; /* the caller frees it */
}
