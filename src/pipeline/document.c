#include "pipeline/document.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "fhir/fhir_decode.h"

/* A tiny writer that knows whether a comma and which indentation come next. */
typedef struct doc_writer {
    bp_buf *out;
    bool pretty;
    int depth;
    bool first; /* no member written yet at this depth */
} doc_writer;

static void newline(doc_writer *w)
{
    if (!w->pretty)
        return;
    bp_buf_putc(w->out, '\n');
    for (int i = 0; i < w->depth; i++)
        bp_buf_puts(w->out, "  ");
}

/* A field name the code spells, as a string literal (`"" name` refuses anything else): nothing
 * in it to escape and its length known when compiled, so no document scans or measures it. */
#define LIT(name) ("" name), sizeof("" name) - 1

/* `,"name":` with the name escaped where it needs it, and the pretty layout's line and space. */
static void escaped_key(doc_writer *w, const char *name, size_t n)
{
    if (!w->first)
        bp_buf_putc(w->out, ',');
    w->first = false;
    newline(w);
    bp_buf_json_string(w->out, name, n);
    bp_buf_puts(w->out, w->pretty ? ": " : ":");
}

/* `,"name":` (compact) for a name with nothing to escape, in one copy. Inline, as are the
 * fields that call it: with a literal's length known, the copy is a move or two. */
static inline __attribute__((always_inline)) void plain_key(doc_writer *w, const char *name,
                                                            size_t n)
{
    if (w->pretty) {
        escaped_key(w, name, n);
        return;
    }
    if (!bp_buf_reserve(w->out, n + 4))
        return;
    char *d = w->out->data + w->out->len, *o = d;
    if (!w->first)
        *o++ = ',';
    *o++ = '"';
    memcpy(o, name, n);
    o += n;
    *o++ = '"';
    *o++ = ':';
    *o = '\0';
    w->out->len += (size_t)(o - d);
    w->first = false;
}

/* A name from outside the code (an annotation's key), escaped where it needs it. */
static void key(doc_writer *w, const char *name)
{
    size_t n = strlen(name);
    if (bp_json_plain_prefix(name, n) == n)
        plain_key(w, name, n);
    else
        escaped_key(w, name, n);
}

static void open_obj(doc_writer *w)
{
    bp_buf_putc(w->out, '{');
    w->depth++;
    w->first = true;
}

static void close_obj(doc_writer *w)
{
    w->depth--;
    if (!w->first)
        newline(w);
    bp_buf_putc(w->out, '}');
    w->first = false;
}

static inline __attribute__((always_inline)) void text_field(doc_writer *w, const char *name,
                                                             size_t name_len, const char *value)
{
    if (!value)
        return;
    plain_key(w, name, name_len);
    bp_buf_json_string(w->out, value, strlen(value));
}

static inline __attribute__((always_inline)) void number_field(doc_writer *w, const char *name,
                                                               size_t name_len, double value)
{
    if (isnan(value))
        return;
    plain_key(w, name, name_len);
    bp_buf_json_number(w->out, value);
}

static void source_object(doc_writer *w, const bp_record *r)
{
    plain_key(w, LIT("source"));
    open_obj(w);
    text_field(w, LIT("topic"), r->topic);
    if (r->partition >= 0)
        number_field(w, LIT("partition"), r->partition);
    if (r->offset >= 0)
        number_field(w, LIT("offset"), (double)r->offset);
    if (r->key) {
        plain_key(w, LIT("key"));
        bp_buf_json_string(w->out, r->key, r->key_len);
    }
    if (r->resource_index >= 0)
        number_field(w, LIT("resource_index"), r->resource_index);
    close_obj(w);
}

/* Where an HL7 v2 reading came from (docs/hl7v2.md): written only for records decoded from an
 * HL7 v2 message, which always have its control id (possibly empty). */
static void hl7v2_object(doc_writer *w, const bp_record *r)
{
    if (!r->hl7_control_id)
        return;
    plain_key(w, LIT("hl7v2"));
    open_obj(w);
    text_field(w, LIT("control_id"), r->hl7_control_id);
    text_field(w, LIT("sending_application"), r->hl7_sending_app);
    text_field(w, LIT("sending_facility"), r->hl7_sending_facility);
    text_field(w, LIT("code"), r->hl7_code);
    plain_key(w, LIT("invasive"));
    bp_buf_puts(w->out, r->decode_flags & BP_DEC_INVASIVE ? "true" : "false");
    if (r->decode_flags & BP_DEC_CORRECTION) {
        plain_key(w, LIT("correction"));
        bp_buf_puts(w->out, "true");
        text_field(w, LIT("corrects"), r->hl7_corrects);
    }
    close_obj(w);
}

static void verdict_fields(doc_writer *w, const bp_record *r)
{
    plain_key(w, LIT("anomaly"));
    bp_buf_puts(w->out, r->anomaly ? "true" : "false");
    const char *type = bp_record_anomaly_type(r);
    text_field(w, LIT("anomaly_type"), type ? type : "normal");
    plain_key(w, LIT("anomaly_details"));
    bp_buf_putc(w->out, '[');
    for (const bp_reason *it = r->reasons; it; it = it->next) {
        if (it != r->reasons)
            bp_buf_puts(w->out, w->pretty ? ", " : ",");
        bp_buf_json_string(w->out, it->code, strlen(it->code));
    }
    bp_buf_putc(w->out, ']');
    text_field(w, LIT("bp_category"), r->category);
    text_field(w, LIT("severity"), bp_severity_name(r->severity));
    for (const bp_annotation *a = r->annotations; a; a = a->next) {
        if (a->kept) /* a code, as every kept key: nothing in it to escape */
            plain_key(w, a->key, strlen(a->key));
        else
            key(w, a->key);
        if (a->type == BP_VAL_TEXT)
            bp_buf_json_string(w->out, a->text, strlen(a->text));
        else if (a->type == BP_VAL_BOOL)
            bp_buf_puts(w->out, a->number != 0 ? "true" : "false");
        else
            bp_buf_json_number(w->out, a->number);
    }
}

static void time_value(doc_writer *w, long long ms)
{
    bp_buf_putc(w->out, '"');
    bp_buf_iso_time(w->out, ms);
    bp_buf_putc(w->out, '"');
}

/* An alarm event (docs/alarms.md, "Events"): a document of its own kind, not a reading's. Its
 * stable_id is ALARM_ID/EVENT/TIER, so a replay or a retry adds nothing to an idempotent sink. */
static void alarm_document(doc_writer *w, const bp_record *r)
{
    const bp_alarm_event *ev = r->alarm;
    open_obj(w);
    plain_key(w, LIT("@timestamp"));
    time_value(w, ev->event_ms);
    text_field(w, LIT("document_type"), "alarm_event");
    text_field(w, LIT("stable_id"), r->stable_id);
    text_field(w, LIT("alarm_id"), ev->alarm_id);
    text_field(w, LIT("event"), bp_alarm_event_name(ev->event));
    text_field(w, LIT("priority"), bp_alarm_priority_name(ev->priority));
    text_field(w, LIT("condition"), ev->condition);
    text_field(w, LIT("patient_id"), ev->patient_id);
    text_field(w, LIT("state"), bp_alarm_phase_name(ev->state));
    number_field(w, LIT("tier"), ev->tier);
    text_field(w, LIT("by"), ev->by);
    text_field(w, LIT("from"), ev->from);
    plain_key(w, LIT("event_time"));
    time_value(w, ev->event_ms);
    plain_key(w, LIT("raised_at"));
    time_value(w, ev->raised_at_ms);
    text_field(w, LIT("reading_id"), ev->reading_id);
    number_field(w, LIT("systolic_pressure"), ev->systolic);
    number_field(w, LIT("diastolic_pressure"), ev->diastolic);
    close_obj(w);
}

/* A retraction (route retract, docs/revisions.md): which logical id and version no longer
 * stand, and whose; no values and no verdict, nothing was judged. */
static void retract_document(doc_writer *w, const bp_record *r, long long stamp)
{
    open_obj(w);
    plain_key(w, LIT("@timestamp"));
    bp_buf_putc(w->out, '"');
    bp_buf_iso_time(w->out, stamp);
    bp_buf_putc(w->out, '"');
    text_field(w, LIT("stable_id"), r->stable_id);
    text_field(w, LIT("logical_id"), r->logical_id);
    if (r->version != BP_VERSION_NONE)
        number_field(w, LIT("version"), (double)r->version);
    text_field(w, LIT("revision"), bp_revision_name(r->revision));
    text_field(w, LIT("status"), r->status);
    text_field(w, LIT("patient_id"), r->patient_id);
    text_field(w, LIT("route"), "retract");
    source_object(w, r);
    close_obj(w);
}

void bp_document_write(bp_buf *out, const bp_record *r, bool pretty, long long now_ms)
{
    doc_writer w = {out, pretty, 0, true};
    if (r->alarm) {
        alarm_document(&w, r);
        return;
    }
    bool invalid = r->invalid_reason != NULL;
    long long stamp = r->effective_ms != INT64_MIN ? r->effective_ms : now_ms;
    if (!invalid && !r->skip_reason && r->revision == BP_REVISION_RETRACT) {
        retract_document(&w, r, stamp);
        return;
    }

    open_obj(&w);
    plain_key(&w, LIT("@timestamp"));
    bp_buf_putc(out, '"');
    bp_buf_iso_time(out, stamp);
    bp_buf_putc(out, '"');
    text_field(&w, LIT("stable_id"), r->stable_id);
    text_field(&w, LIT("observation_id"), r->observation_id);
    /* revisions (docs/revisions.md): what this is a version of, and what it does */
    text_field(&w, LIT("logical_id"), r->logical_id);
    if (r->version != BP_VERSION_NONE)
        number_field(&w, LIT("version"), (double)r->version);
    text_field(&w, LIT("revision"), bp_revision_name(r->revision));
    text_field(&w, LIT("patient_id"), r->patient_id);
    text_field(&w, LIT("practitioner_id"), r->practitioner_id);
    text_field(&w, LIT("device_id"), r->device_id);
    text_field(&w, LIT("status"), r->status);
    number_field(&w, LIT("systolic_pressure"), r->systolic);
    number_field(&w, LIT("diastolic_pressure"), r->diastolic);
    number_field(&w, LIT("heart_rate"), r->heart_rate);
    number_field(&w, LIT("mean_pressure"), r->mean_pressure);
    if (r->decode_flags & BP_DEC_BY_TEXT)
        text_field(&w, LIT("identified_by"), "text");
    /* A skipped resource (valid FHIR, not blood pressure) says what it was, not a verdict. */
    bool skipped = !invalid && r->skip_reason;
    if (invalid) {
        text_field(&w, LIT("route"), "invalid");
        text_field(&w, LIT("invalid_reason"), r->invalid_reason);
    } else if (skipped) {
        text_field(&w, LIT("route"), "skipped");
        text_field(&w, LIT("skip_reason"), r->skip_reason);
        text_field(&w, LIT("resource_type"), r->resource_type);
        text_field(&w, LIT("resource_code"), r->resource_code);
    } else {
        verdict_fields(&w, r);
    }
    hl7v2_object(&w, r);
    source_object(&w, r);
    /* A skipped resource that is the whole payload carries it; one entry of a Bundle does not
     * (a patient Bundle of megabytes would be repeated for each of its hundreds of entries):
     * source.resource_index says where it is. */
    if ((invalid || (skipped && r->resource_index < 0)) && r->payload) {
        /* The dead letter keeps the payload so an operator can replay or inspect it. */
        plain_key(&w, LIT("payload"));
        bp_buf_json_string(out, r->payload, r->payload_len);
    }
    close_obj(&w);
}

/* One rendering buffer per thread, reused across records: two delivery lanes render their
 * documents at the same time, and only the cache lookup and the copy into the batch's arena
 * take the record's lock. */
static _Thread_local bp_buf scratch;

void bp_document_thread_done(void)
{
    bp_buf_free(&scratch);
    memset(&scratch, 0, sizeof scratch);
}

bool bp_document_unshared(const bp_record *r)
{
    return r->effective_ms != INT64_MIN && (r->sinks_pending & (r->sinks_pending - 1)) == 0;
}

const char *bp_document_get(bp_record *r, bool pretty, size_t *len)
{
    return bp_document_get_in(r, pretty, NULL, len);
}

void bp_document_forget_in(bp_record *r, const bp_arena *from)
{
    if (r->doc_lock)
        pthread_mutex_lock(r->doc_lock);
    for (int slot = 0; slot < 2; slot++) {
        if (r->docs[slot] && bp_arena_owns(from, r->docs[slot])) {
            r->docs[slot] = NULL;
            r->doc_lens[slot] = 0;
        }
    }
    if (r->doc_lock)
        pthread_mutex_unlock(r->doc_lock);
}

const char *bp_document_get_in(bp_record *r, bool pretty, bp_arena *into, size_t *len)
{
    int slot = pretty ? 1 : 0;
    if (r->doc_lock)
        pthread_mutex_lock(r->doc_lock);
    const char *doc = r->docs[slot];
    size_t n = r->doc_lens[slot];
    if (r->doc_lock)
        pthread_mutex_unlock(r->doc_lock);
    if (!doc) {
        bp_buf_reset(&scratch);
        bp_document_write(&scratch, r, pretty, (long long)bp_wall_ms());
        if (scratch.failed)
            return NULL;
        if (r->doc_lock)
            pthread_mutex_lock(r->doc_lock);
        if (!r->docs[slot]) { /* else another lane cached it meanwhile: the same bytes */
            r->docs[slot] = bp_arena_strndup(into ? into : r->arena, scratch.data, scratch.len);
            r->doc_lens[slot] = scratch.len;
        }
        doc = r->docs[slot];
        n = r->doc_lens[slot];
        if (r->doc_lock)
            pthread_mutex_unlock(r->doc_lock);
        if (!doc)
            return NULL;
    }
    if (len)
        *len = n;
    return doc;
}
