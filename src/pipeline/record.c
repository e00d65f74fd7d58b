#include "pipeline/record.h"

#include "fhir/fhir_decode.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void bp_batch_init(bp_batch *b, bp_arena *arena, size_t capacity)
{
    memset(b, 0, sizeof *b);
    b->arena = arena;
    b->capacity = capacity;
}

void bp_batch_clear(bp_batch *b)
{
    b->count = 0;
}

void bp_batch_free(bp_batch *b)
{
    free(b->items);
    b->items = NULL;
    b->count = b->cap = 0;
}

int bp_batch_push(bp_batch *b, bp_record *r)
{
    if (b->count == b->cap) {
        /* From 8: a batch of one reading (a paced ward) is common, and the array is part of
         * what a lane counts; a batch of 500 doubles to its size once, then stays warm. */
        size_t cap = b->cap ? b->cap * 2 : 8;
        bp_record **items = realloc(b->items, cap * sizeof *items);
        if (!items)
            return BP_ENOMEM;
        b->items = items;
        b->cap = cap;
    }
    b->items[b->count++] = r;
    return BP_OK;
}

bp_record *bp_record_new(bp_arena *arena)
{
    bp_record *r = bp_arena_alloc(arena, sizeof *r);
    if (!r)
        return NULL;
    r->arena = arena;
    r->partition = -1;
    r->offset = -1;
    r->source_ts_ms = -1;
    r->effective_ms = INT64_MIN;
    r->systolic = r->diastolic = r->heart_rate = r->mean_pressure = NAN;
    r->resource_index = -1;
    return r;
}

bp_record *bp_record_from_decoded(bp_arena *a, const bp_record *input, const bp_decoded *d)
{
    bp_record *rec = bp_arena_alloc(a, sizeof *rec);
    if (!rec)
        return NULL;
    *rec = *input;
    rec->input = (bp_record *)input; /* the batch's own payload record, not a copy */
    rec->rejected = NULL;            /* a mark of payloads, not of readings */
    rec->invalid_reason = bp_arena_strdup(a, d->invalid_reason);
    rec->stable_id = bp_arena_strdup(a, d->stable_id);
    rec->observation_id = bp_arena_strdup(a, d->observation_id);
    rec->patient_id = bp_arena_strdup(a, d->patient_id);
    rec->practitioner_id = bp_arena_strdup(a, d->practitioner_id);
    rec->device_id = bp_arena_strdup(a, d->device_id);
    rec->status = bp_arena_strdup(a, d->status);
    rec->effective_ms = d->invalid_reason && d->effective_ms == 0 ? INT64_MIN : d->effective_ms;
    rec->systolic = d->systolic;
    rec->diastolic = d->diastolic;
    rec->heart_rate = d->heart_rate;
    rec->mean_pressure = d->mean_pressure;
    rec->decode_flags = d->flags;
    rec->hl7_control_id = bp_arena_strdup(a, d->hl7_control_id);
    rec->hl7_sending_app = bp_arena_strdup(a, d->hl7_sending_app);
    rec->hl7_sending_facility = bp_arena_strdup(a, d->hl7_sending_facility);
    rec->hl7_code = bp_arena_strdup(a, d->hl7_code);
    rec->hl7_corrects = bp_arena_strdup(a, d->hl7_corrects);
    rec->logical_id = bp_arena_strdup(a, d->logical_id);
    rec->version = d->version;
    rec->revision = d->revision;
    rec->resource_index = d->resource_index;
    if ((d->invalid_reason && !rec->invalid_reason) || (d->stable_id && !rec->stable_id) ||
        (d->observation_id && !rec->observation_id) || (d->patient_id && !rec->patient_id) ||
        (d->practitioner_id && !rec->practitioner_id) || (d->device_id && !rec->device_id) ||
        (d->status && !rec->status) || (d->hl7_control_id && !rec->hl7_control_id) ||
        (d->hl7_sending_app && !rec->hl7_sending_app) ||
        (d->hl7_sending_facility && !rec->hl7_sending_facility) ||
        (d->hl7_code && !rec->hl7_code) || (d->hl7_corrects && !rec->hl7_corrects) ||
        (d->logical_id && !rec->logical_id))
        return NULL; /* out of memory: never a record with an id silently missing */
    return rec;
}

void bp_record_mark_input(bp_record *r, const char *reason)
{
    if (r && r->input && reason && !r->input->invalid_reason)
        r->input->invalid_reason = reason;
}

bp_route bp_record_route(const bp_record *r)
{
    if (r->alarm)
        return BP_ROUTE_ALARM;
    if (r->command && !r->invalid_reason)
        return BP_ROUTE_COMMAND;
    if (r->invalid_reason)
        return BP_ROUTE_INVALID;
    if (r->skip_reason)
        return BP_ROUTE_SKIPPED;
    if (r->revision == BP_REVISION_RETRACT)
        return BP_ROUTE_RETRACT;
    return r->anomaly ? BP_ROUTE_ANOMALY : BP_ROUTE_NORMAL;
}

int bp_batch_add_payload(bp_batch *b, const void *data, size_t len, const bp_origin *origin)
{
    if (!b || (!data && len))
        return BP_EINVAL;
    if (origin && origin->struct_size < offsetof(bp_origin, timestamp_ms) + sizeof(int64_t))
        return BP_EINVAL;
    bp_record *r = bp_record_new(b->arena);
    if (!r)
        return BP_ENOMEM;
    /* The payload is kept NUL-terminated so the decoder and the invalid-route document can
     * treat it as text without another copy. */
    r->payload = bp_arena_strndup(b->arena, data ? data : "", len);
    r->payload_len = len;
    if (!r->payload)
        return BP_ENOMEM;
    if (origin) {
        /* A batch's payloads mostly come from one topic: the previous payload's copy serves. */
        const bp_record *prev = b->count ? b->items[b->count - 1] : NULL;
        r->topic = origin->topic && prev && prev->topic && strcmp(prev->topic, origin->topic) == 0
                       ? prev->topic
                       : bp_arena_strdup(b->arena, origin->topic);
        r->partition = origin->partition;
        r->offset = origin->offset;
        r->source_ts_ms = origin->timestamp_ms;
        if (origin->key) {
            r->key = bp_arena_strndup(b->arena, origin->key, origin->key_len);
            r->key_len = origin->key_len;
            if (!r->key)
                return BP_ENOMEM;
        }
        if (origin->topic && !r->topic)
            return BP_ENOMEM;
    }
    return bp_batch_push(b, r);
}

int bp_batch_add_rejected(bp_batch *b, const void *data, size_t len, const bp_origin *origin,
                          const char *reason)
{
    /* One line: the reason is a document field, a log line and source-mllp's ERR-8. */
    if (!reason || !*reason || strpbrk(reason, "\r\n"))
        return BP_EINVAL;
    size_t before = b ? b->count : 0;
    int rc = bp_batch_add_payload(b, data, len, origin);
    if (rc != BP_OK)
        return rc;
    bp_record *r = b->items[b->count - 1];
    if (!(r->rejected = bp_arena_strdup(b->arena, reason))) {
        b->count = before; /* never a rejected payload without its reason */
        return BP_ENOMEM;
    }
    r->invalid_reason = r->rejected; /* what commit() reads, before and after decoding */
    return BP_OK;
}

const char *bp_revision_name(bp_revision revision)
{
    return revision == BP_REVISION_REPLACE   ? "replace"
           : revision == BP_REVISION_RETRACT ? "retract"
                                             : NULL;
}

const char *bp_record_text(const bp_record *r, bp_field f)
{
    if (!r)
        return NULL;
    switch (f) {
    case BP_F_STABLE_ID: return r->stable_id;
    case BP_F_OBSERVATION_ID: return r->observation_id;
    case BP_F_PATIENT_ID: return r->patient_id;
    case BP_F_PRACTITIONER_ID: return r->practitioner_id;
    case BP_F_DEVICE_ID: return r->device_id;
    case BP_F_LOGICAL_ID: return r->logical_id;
    case BP_F_REVISION: return bp_revision_name(r->revision);
    case BP_F_STATUS: return r->status;
    case BP_F_SOURCE_TOPIC: return r->topic;
    case BP_F_SOURCE_KEY: return r->key;
    case BP_F_CATEGORY: return r->category;
    case BP_F_ANOMALY_TYPE: return bp_record_anomaly_type(r);
    case BP_F_INVALID_REASON: return r->invalid_reason;
    case BP_F_ALARM_ID: return r->alarm ? r->alarm->alarm_id : NULL;
    case BP_F_ALARM_EVENT: return r->alarm ? bp_alarm_event_name(r->alarm->event) : NULL;
    case BP_F_ALARM_PRIORITY: return r->alarm ? bp_alarm_priority_name(r->alarm->priority) : NULL;
    case BP_F_ALARM_CONDITION: return r->alarm ? r->alarm->condition : NULL;
    case BP_F_ALARM_STATE: return r->alarm ? bp_alarm_phase_name(r->alarm->state) : NULL;
    case BP_F_ALARM_BY: return r->alarm ? r->alarm->by : NULL;
    default: return NULL;
    }
}

static double int_or_nan(int64_t v, int64_t absent)
{
    return v == absent ? NAN : (double)v;
}

double bp_record_number(const bp_record *r, bp_field f)
{
    if (!r)
        return NAN;
    switch (f) {
    case BP_F_EFFECTIVE_MS: return int_or_nan(r->effective_ms, INT64_MIN);
    case BP_F_SYSTOLIC: return r->systolic;
    case BP_F_DIASTOLIC: return r->diastolic;
    case BP_F_HEART_RATE: return r->heart_rate;
    case BP_F_VERSION: return int_or_nan(r->version, BP_VERSION_NONE);
    case BP_F_SOURCE_PARTITION: return int_or_nan(r->partition, -1);
    case BP_F_SOURCE_OFFSET: return int_or_nan(r->offset, -1);
    case BP_F_SOURCE_TIMESTAMP_MS: return int_or_nan(r->source_ts_ms, -1);
    case BP_F_SOURCE_KEY_LEN: return r->key ? (double)r->key_len : NAN;
    case BP_F_ANOMALY: return r->anomaly ? 1.0 : 0.0;
    case BP_F_SEVERITY: return (double)r->severity;
    case BP_F_ALARM_TIER: return r->alarm ? (double)r->alarm->tier : NAN;
    case BP_F_ALARM_RAISED_AT_MS: return r->alarm ? (double)r->alarm->raised_at_ms : NAN;
    case BP_F_ALARM_EVENT_MS: return r->alarm ? (double)r->alarm->event_ms : NAN;
    default: return NAN;
    }
}

static bool is_code(const char *s, bool allow_dot)
{
    if (!s || !*s || strlen(s) > 64)
        return false;
    for (; *s; s++) {
        char c = *s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                  (allow_dot && c == '.');
        if (!ok)
            return false;
    }
    return true;
}

/* A retraction carries no reading: nothing to judge (plugin.h, BP_F_REVISION). */
static bool retraction(const bp_record *r)
{
    return r->revision == BP_REVISION_RETRACT;
}

static void invalidate_docs(bp_record *r)
{
    r->docs[0] = r->docs[1] = NULL;
}

int bp_record_flag(bp_record *r, const char *reason, bp_severity sev)
{
    if (!r || !is_code(reason, false) || sev < BP_SEV_NORMAL || sev > BP_SEV_CRITICAL ||
        retraction(r))
        return BP_EINVAL;
    for (const bp_reason *it = r->reasons; it; it = it->next)
        if (strcmp(it->code, reason) == 0)
            goto raise; /* the same reason twice is one reason */
    bp_reason *n = bp_arena_alloc(r->arena, sizeof *n);
    if (!n || !(n->code = bp_arena_strdup(r->arena, reason)))
        return BP_ENOMEM;
    if (r->reasons_tail)
        r->reasons_tail->next = n;
    else
        r->reasons = n;
    r->reasons_tail = n;
raise:
    r->anomaly = true;
    if (sev > r->severity)
        r->severity = sev;
    invalidate_docs(r);
    return BP_OK;
}

int bp_record_raise_severity(bp_record *r, bp_severity sev)
{
    if (!r || sev < BP_SEV_NORMAL || sev > BP_SEV_CRITICAL || retraction(r))
        return BP_EINVAL;
    if (sev > r->severity)
        r->severity = sev;
    invalidate_docs(r);
    return BP_OK;
}

static bool is_normal(const char *type)
{
    return !type || strcmp(type, "normal") == 0;
}

/* The type of a flagged reading no detector typed: from its reason codes when one names a
 * direction, else "other". Never "normal": a flagged reading is an anomaly of some kind. */
static const char *derived_type(const bp_record *r)
{
    for (const bp_reason *it = r->reasons; it; it = it->next) {
        if (strstr(it->code, "hypertension"))
            return "hypertension";
        if (strstr(it->code, "hypotension"))
            return "hypotension";
    }
    return "other";
}

const char *bp_record_anomaly_type(const bp_record *r)
{
    if (!r->anomaly)
        return r->anomaly_type; /* NULL: the document says "normal" */
    return is_normal(r->anomaly_type) ? derived_type(r) : r->anomaly_type;
}

int bp_record_set_text(bp_record *r, bp_field f, const char *value)
{
    if (!r || !is_code(value, false) || retraction(r))
        return BP_EINVAL;
    /* A detector that found nothing says "normal"; on a reading another detector flagged (and
     * maybe typed) that is not a verdict on its kind, so it changes nothing. */
    if (f == BP_F_ANOMALY_TYPE && r->anomaly && is_normal(value))
        return BP_OK;
    const char *copy = bp_arena_strdup(r->arena, value);
    if (!copy)
        return BP_ENOMEM;
    if (f == BP_F_CATEGORY)
        r->category = copy;
    else if (f == BP_F_ANOMALY_TYPE)
        r->anomaly_type = copy;
    else
        return BP_EINVAL;
    invalidate_docs(r);
    return BP_OK;
}

/* Names the document already uses on any route; an annotation may not shadow them. */
static const char *const core_fields[] = {
    "@timestamp", "observation_id", "stable_id", "patient_id", "practitioner_id", "device_id",
    "status", "systolic_pressure", "diastolic_pressure", "heart_rate", "anomaly", "anomaly_type",
    "anomaly_details", "bp_category", "severity", "identified_by", "source", "invalid_reason",
    "payload", "route", "effective_time", "skip_reason", "resource_type", "resource_code",
    "mean_pressure", "hl7v2", "logical_id", "version", "revision"};

/* A core name, or one followed by '.': Elasticsearch reads "source.offset" as the path into
 * the core's "source" object, so the annotation would collide with the core's own mapping. */
bool bp_is_core_field(const char *key)
{
    size_t n = strcspn(key, ".");
    for (size_t i = 0; i < sizeof core_fields / sizeof core_fields[0]; i++)
        if (strncmp(core_fields[i], key, n) == 0 && core_fields[i][n] == '\0')
            return true;
    return false;
}

/* ---- annotation keys, checked once per name -------------------------------------------------
 * Every detector annotates every reading with the same few keys, passed as the same pointers
 * (string literals): checking each key (is_code, not a core name), copying it into the batch's
 * arena and comparing it with every annotation already set was a tenth of the main thread's
 * time in the ward. A key that passed is kept for the process as one copy (`names`), so its
 * annotations share that copy and are told apart by the pointer. A thread finds a key again by
 * the caller's pointer in a table of its own, confirmed by the bytes (a plugin may pass a buffer
 * it rewrites). Past NAMES_MAX names (a plugin making keys up per reading, which plugin.h
 * advises against) a key is checked and copied into the arena each time, as before. */
#define NAMES_MAX 256
#define SLOTS 128 /* per thread; at most SLOTS_MAX used, so a probe always ends */
#define SLOTS_MAX 96

static pthread_mutex_t names_mu = PTHREAD_MUTEX_INITIALIZER;
static char *names[NAMES_MAX];
static size_t n_names;

typedef struct key_slot {
    const char *from; /* the caller's pointer */
    const char *name; /* its kept copy */
} key_slot;
static _Thread_local key_slot slots[SLOTS];
static _Thread_local size_t n_slots;

/* The kept copy of a checked key: the one already kept, or a new one. NULL when NAMES_MAX
 * names are kept (or on ENOMEM): the caller copies the key itself. */
static const char *keep_name(const char *key)
{
    const char *kept = NULL;
    pthread_mutex_lock(&names_mu);
    for (size_t i = 0; i < n_names && !kept; i++)
        if (strcmp(names[i], key) == 0)
            kept = names[i];
    if (!kept && n_names < NAMES_MAX && (names[n_names] = strdup(key)))
        kept = names[n_names++];
    pthread_mutex_unlock(&names_mu);
    return kept;
}

/* 1: `key` is a valid annotation key, *name its kept copy (NULL: not kept, copy it); 0: it is
 * refused. */
static int annotation_key(const char *key, const char **name)
{
    if (!key)
        return 0;
    size_t i = (size_t)(((uintptr_t)key >> 3) * 0x9E3779B97F4A7C15u >> 57) & (SLOTS - 1);
    for (; slots[i].from; i = (i + 1) & (SLOTS - 1)) {
        if (slots[i].from != key)
            continue;
        if (strcmp(slots[i].name, key) == 0) {
            *name = slots[i].name;
            return 1;
        }
        break; /* the same buffer with another key in it now */
    }
    if (!is_code(key, true) || bp_is_core_field(key))
        return 0;
    *name = keep_name(key);
    if (*name && (slots[i].from || n_slots < SLOTS_MAX)) {
        n_slots += !slots[i].from;
        slots[i] = (key_slot){key, *name};
    }
    return 1;
}

int bp_record_annotate(bp_record *r, const char *key, bp_value_type type, double number,
                       const char *text)
{
    const char *name = NULL;
    if (!r || !annotation_key(key, &name) || retraction(r))
        return BP_EINVAL;
    if (type == BP_VAL_TEXT && !text)
        return BP_EINVAL;
    if (type == BP_VAL_NUMBER && !isfinite(number))
        return BP_EINVAL; /* JSON has no NaN; leave the annotation out instead */
    const char *copy = NULL;
    if (type == BP_VAL_TEXT && !(copy = bp_arena_strdup(r->arena, text)))
        return BP_ENOMEM;
    bp_annotation *a = NULL;
    /* two kept keys are the same key only as the same copy */
    for (bp_annotation *it = r->annotations; it && !a; it = it->next)
        if (it->key == name || ((!name || !it->kept) && strcmp(it->key, key) == 0))
            a = it;
    if (!a) {
        a = bp_arena_alloc(r->arena, sizeof *a);
        if (!a || !(a->key = name ? name : bp_arena_strdup(r->arena, key)))
            return BP_ENOMEM;
        a->kept = name != NULL;
        if (r->annotations_tail)
            r->annotations_tail->next = a;
        else
            r->annotations = a;
        r->annotations_tail = a;
    }
    a->type = type;
    a->number = number;
    a->text = copy;
    invalidate_docs(r);
    return BP_OK;
}

const char *bp_severity_name(bp_severity s)
{
    switch (s) {
    case BP_SEV_WARNING: return "warning";
    case BP_SEV_CRITICAL: return "critical";
    default: return "normal";
    }
}
