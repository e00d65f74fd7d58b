/* The alarm stage on a fake clock (src/alarm): raised at once and only after N readings (and
 * within T), acknowledged (once: a repeat and an unknown id change nothing), latched, resolved,
 * re-raised (and not within the cooldown), escalated on time with no reading, twice, and not
 * after an acknowledgement; the state kept in a snapshot file across a restart; the ack
 * payload's decoding; the alarm ids; the configuration's errors; withdrawal (issue 26): a
 * retracted or corrected raising reading, a confirmation that forgets one, across a restart. */
#include "alarm/alarm.h"
#include "alarm/alarm_machine.h"
#include "check.h"
#include "decode/alarm_ack.h"
#include "decode/payload_decode.h"
#include "pipeline/document.h"
#include "pipeline/instance.h"
#include "pipeline/state.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 1700000000000LL /* the fake clock's start */
#define MIN 60000LL

/* One batch of the run under test. */
typedef struct batch {
    bp_arena arena;
    bp_batch b;
} batch;

static uint64_t seq;

static void batch_begin(batch *t)
{
    bp_arena_init_growing(&t->arena, 4096);
    bp_batch_init(&t->b, &t->arena, 0);
    t->b.seq = ++seq;
    bp_state_begin_poll(seq);
}

static void batch_end(batch *t)
{
    bp_state_commit(t->b.seq);
    bp_batch_free(&t->b);
    bp_arena_free(&t->arena);
}

/* A payload of partition 0 of topic "bp", stamped with its keyed state (as add_payload does). */
static bp_record *payload(batch *t)
{
    bp_origin o = {sizeof o, "bp", 0, (int64_t)seq, NULL, 0, -1};
    bp_batch in;
    bp_batch_init(&in, &t->arena, 1);
    in.seq = t->b.seq;
    CHECK(bp_host_table()->add_payload(&in, "{}", 2, &o) == BP_OK);
    bp_record *p = in.items[0];
    bp_batch_free(&in);
    return p;
}

/* A judged reading of `patient` in category `category` (severity critical for a crisis). */
static void reading(batch *t, const char *patient, const char *category, int64_t at_ms)
{
    bp_record *r = bp_arena_alloc(&t->arena, sizeof *r);
    *r = *payload(t);
    static int n;
    char id[32];
    snprintf(id, sizeof id, "obs-%d", ++n);
    r->stable_id = bp_arena_strdup(&t->arena, id);
    r->patient_id = patient;
    r->category = category;
    r->anomaly = strcmp(category, "normal") != 0;
    r->severity = strcmp(category, "hypertensive_crisis") == 0 ? BP_SEV_CRITICAL
                  : r->anomaly                                 ? BP_SEV_WARNING
                                                               : BP_SEV_NORMAL;
    r->systolic = r->anomaly ? 190 : 120;
    r->diastolic = 80;
    r->effective_ms = at_ms;
    CHECK(bp_batch_push(&t->b, r) == BP_OK);
}

/* reading() with a logical id and a revision (NONE: a first version; REPLACE: a correction). */
static void version_of(batch *t, const char *patient, const char *category, int64_t at_ms,
                       const char *logical_id, bp_revision revision)
{
    reading(t, patient, category, at_ms);
    bp_record *r = t->b.items[t->b.count - 1];
    r->logical_id = logical_id;
    r->revision = revision;
    r->version = revision == BP_REVISION_REPLACE ? 2 : 1;
}

/* A retraction of `logical_id` (entered-in-error): no values, the patient when known. */
static void retract(batch *t, const char *patient, const char *logical_id)
{
    bp_record *r = bp_arena_alloc(&t->arena, sizeof *r);
    *r = *payload(t);
    r->stable_id = bp_arena_strdup(&t->arena, logical_id);
    r->patient_id = patient;
    r->logical_id = logical_id;
    r->revision = BP_REVISION_RETRACT;
    r->version = 3;
    r->systolic = r->diastolic = NAN;
    CHECK(bp_batch_push(&t->b, r) == BP_OK);
}

static void ack(batch *t, const char *id, const char *by)
{
    bp_record *r = bp_arena_alloc(&t->arena, sizeof *r);
    *r = *payload(t);
    bp_alarm_command *c = bp_arena_alloc(&t->arena, sizeof *c);
    c->alarm_id = bp_arena_strdup(&t->arena, id);
    c->by = by;
    c->from = "127.0.0.1";
    c->at_ms = INT64_MIN;
    r->command = c;
    CHECK(bp_batch_push(&t->b, r) == BP_OK);
}

/* The events the stage appended: "raised:1,escalated:1" (event:tier), in order. */
static const char *events(const batch *t, char *out, size_t len)
{
    out[0] = '\0';
    size_t at = 0;
    for (size_t i = 0; i < t->b.count; i++) {
        const bp_alarm_event *ev = t->b.items[i]->alarm;
        if (ev)
            at += (size_t)snprintf(out + at, len - at, "%s%s:%d", at ? "," : "",
                                   bp_alarm_event_name(ev->event), ev->tier);
    }
    return out;
}

static const bp_alarm_event *first_event(const batch *t)
{
    for (size_t i = 0; i < t->b.count; i++)
        if (t->b.items[i]->alarm)
            return t->b.items[i]->alarm;
    return NULL;
}

static bp_alarms *build(const char *ini)
{
    bp_config cfg;
    bp_errors errs = {0};
    memset(&cfg, 0, sizeof cfg);
    CHECK(bp_config_load_string(&cfg, "test.ini", ini, &errs) == 0);
    bp_alarms *a = NULL;
    CHECK(bp_alarms_build(&a, &cfg, &errs) == 0);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.items[i]);
    bp_errors_free(&errs);
    bp_config_free(&cfg);
    CHECK(a && bp_alarms_open(a) == BP_OK);
    return a;
}

/* One batch: `fill` adds its records, then the stage runs at `now`; the events are returned. */
#define STEP(a, now, buf, ...)                                                                     \
    do {                                                                                           \
        batch t_;                                                                                  \
        batch_begin(&t_);                                                                          \
        __VA_ARGS__;                                                                               \
        CHECK(bp_alarms_process((a), &t_.b, (now)) == 0);                                          \
        CHECK(bp_alarms_tick((a), &t_.b, t_.b.seq, (now)) >= 0);                                   \
        events(&t_, (buf), sizeof(buf));                                                           \
        if (first_event(&t_))                                                                      \
            snprintf(last_id, sizeof last_id, "%s", first_event(&t_)->alarm_id);                   \
        batch_end(&t_);                                                                            \
    } while (0)

static char last_id[BP_ALARM_ID_MAX];

static void test_raise_ack_resolve(void)
{
    bp_alarms *a = build("[alarms]\n"
                         "crisis.match = category=hypertensive_crisis\n"
                         "crisis.priority = high\n"
                         "crisis.clear_readings = 2\n");
    char ev[256];
    /* raised at once, by the first matching reading; a second one raises nothing more */
    STEP(a, T0, ev, reading(&t_, "p1", "hypertensive_crisis", T0));
    CHECK_STR(ev, "raised:0");
    char id[BP_ALARM_ID_MAX];
    snprintf(id, sizeof id, "%s", last_id);
    CHECK(strncmp(id, "bp~0~", 5) == 0 && strlen(id) == 5 + 16);
    STEP(a, T0 + MIN, ev, reading(&t_, "p1", "hypertensive_crisis", T0 + MIN));
    CHECK_STR(ev, "");
    char *list = bp_alarms_list_json(a);
    CHECK_CONTAINS(list, "\"state\":\"raised\"");
    CHECK_CONTAINS(list, "\"priority\":\"high\"");
    CHECK_CONTAINS(list, "\"patient_id\":\"p1\"");
    free(list);
    /* acknowledged once: a repeat and an unknown id do nothing */
    STEP(a, T0 + 2 * MIN, ev, ack(&t_, id, "nurse.ana"));
    CHECK_STR(ev, "acknowledged:0");
    STEP(a, T0 + 3 * MIN, ev, ack(&t_, id, "nurse.ana"); ack(&t_, "bp~0~0000000000000000", "x"));
    CHECK_STR(ev, "");
    bp_alarm_counts c;
    bp_alarms_get_counts(a, &c);
    CHECK(c.commands == 3 && c.commands_applied == 1 && c.commands_ignored == 2);
    list = bp_alarms_list_json(a);
    CHECK_CONTAINS(list, "\"acknowledged_by\":\"nurse.ana\"");
    free(list);
    /* resolved after clear_readings = 2 readings without the condition; a match between resets */
    STEP(a, T0 + 4 * MIN, ev, reading(&t_, "p1", "normal", T0 + 4 * MIN));
    CHECK_STR(ev, "");
    STEP(a, T0 + 5 * MIN, ev, reading(&t_, "p1", "hypertensive_crisis", T0 + 5 * MIN));
    STEP(a, T0 + 6 * MIN, ev, reading(&t_, "p1", "normal", T0 + 6 * MIN));
    CHECK_STR(ev, "");
    STEP(a, T0 + 7 * MIN, ev, reading(&t_, "p1", "normal", T0 + 7 * MIN));
    CHECK_STR(ev, "resolved:0");
    list = bp_alarms_list_json(a);
    CHECK_STR(list, "{\"alarms\":[]}");
    free(list);
    /* re-raised: a new alarm, a new id */
    STEP(a, T0 + 8 * MIN, ev, reading(&t_, "p1", "hypertensive_crisis", T0 + 8 * MIN));
    CHECK_STR(ev, "raised:0");
    CHECK(strcmp(last_id, id) != 0);
    /* another patient's reading touches nothing of p1's */
    STEP(a, T0 + 9 * MIN, ev, reading(&t_, "p2", "normal", T0 + 9 * MIN));
    CHECK_STR(ev, "");
    bp_alarms_free(a);
}

static void test_confirmation(void)
{
    bp_alarms *a = build("[alarms]\n"
                         "stage2.match = category=hypertension_stage_2\n"
                         "stage2.priority = medium\n"
                         "stage2.confirm_readings = 3\n"
                         "stage2.confirm_within_s = 1800\n");
    char ev[256];
    const char *s2 = "hypertension_stage_2";
    STEP(a, T0, ev, reading(&t_, "p1", s2, T0));
    STEP(a, T0 + MIN, ev, reading(&t_, "p1", s2, T0 + MIN));
    CHECK_STR(ev, "");
    /* a reading without the condition starts the count over */
    STEP(a, T0 + 2 * MIN, ev, reading(&t_, "p1", "normal", T0 + 2 * MIN));
    STEP(a, T0 + 3 * MIN, ev, reading(&t_, "p1", s2, T0 + 3 * MIN));
    STEP(a, T0 + 4 * MIN, ev, reading(&t_, "p1", s2, T0 + 4 * MIN));
    CHECK_STR(ev, "");
    /* the third is 40 minutes after the first of the run: outside 1800 s, the count restarts */
    STEP(a, T0 + 43 * MIN, ev, reading(&t_, "p1", s2, T0 + 43 * MIN));
    CHECK_STR(ev, "");
    STEP(a, T0 + 44 * MIN, ev, reading(&t_, "p1", s2, T0 + 44 * MIN));
    CHECK_STR(ev, "");
    /* three within 30 minutes: raised by the third */
    STEP(a, T0 + 45 * MIN, ev, reading(&t_, "p1", s2, T0 + 45 * MIN));
    CHECK_STR(ev, "raised:0");
    bp_alarm_counts c;
    bp_alarms_get_counts(a, &c);
    CHECK(c.readings_delayed == 6); /* 2 + 2 + 2 matching readings that did not raise */
    /* three readings in one batch raise once */
    STEP(a, T0, ev, reading(&t_, "p9", s2, T0); reading(&t_, "p9", s2, T0 + 1);
         reading(&t_, "p9", s2, T0 + 2));
    CHECK_STR(ev, "raised:0");
    bp_alarms_free(a);
}

static void test_latch_and_cooldown(void)
{
    bp_alarms *a = build("[alarms]\n"
                         "low.match = severity=critical+type=hypotension, category=hypotension\n"
                         "low.priority = high\n"
                         "low.cooldown_s = 600\n");
    char ev[256];
    STEP(a, T0, ev, reading(&t_, "p1", "hypotension", T0));
    CHECK_STR(ev, "raised:0");
    char id[BP_ALARM_ID_MAX];
    snprintf(id, sizeof id, "%s", last_id);
    /* cleared before anyone acknowledged: latched, still listed, no event */
    STEP(a, T0 + MIN, ev, reading(&t_, "p1", "normal", T0 + MIN));
    CHECK_STR(ev, "");
    char *list = bp_alarms_list_json(a);
    CHECK_CONTAINS(list, "\"state\":\"latched\"");
    free(list);
    /* acknowledging a latched alarm resolves it */
    STEP(a, T0 + 2 * MIN, ev, ack(&t_, id, "dr.b"));
    CHECK_STR(ev, "acknowledged:0,resolved:0");
    /* within the cooldown (600 s from the resolution) a match raises nothing */
    STEP(a, T0 + 5 * MIN, ev, reading(&t_, "p1", "hypotension", T0 + 5 * MIN));
    CHECK_STR(ev, "");
    STEP(a, T0 + 13 * MIN, ev, reading(&t_, "p1", "hypotension", T0 + 13 * MIN));
    CHECK_STR(ev, "raised:0");
    bp_alarms_free(a);
}

static void test_escalation(void)
{
    bp_alarms *a = build("[alarms]\n"
                         "crisis.match = category=hypertensive_crisis\n"
                         "crisis.priority = high\n"
                         "crisis.escalate_after = 60, 120\n");
    char ev[256];
    STEP(a, T0, ev, reading(&t_, "p1", "hypertensive_crisis", T0));
    STEP(a, T0, ev, reading(&t_, "p2", "hypertensive_crisis", T0));
    char id2[BP_ALARM_ID_MAX];
    snprintf(id2, sizeof id2, "%s", last_id);
    /* no reading at all: only the clock */
    STEP(a, T0 + 59999, ev, (void)0);
    CHECK_STR(ev, "");
    STEP(a, T0 + 60000, ev, (void)0);
    CHECK_STR(ev, "escalated:1,escalated:1"); /* both patients' alarms, tier 1 */
    STEP(a, T0 + 30 * 1000 + 60000, ev, ack(&t_, id2, "nurse.c")); /* p2 acknowledged */
    CHECK_STR(ev, "acknowledged:1");
    STEP(a, T0 + 179999, ev, (void)0);
    CHECK_STR(ev, "");
    STEP(a, T0 + 180000, ev, (void)0);
    CHECK_STR(ev, "escalated:2"); /* p1 only, again: tier 2 */
    STEP(a, T0 + 3600000, ev, (void)0);
    CHECK_STR(ev, ""); /* two tiers configured: no third */
    /* an alarm overdue by two tiers at once (a process down meanwhile) escalates through both */
    STEP(a, T0, ev, reading(&t_, "p3", "hypertensive_crisis", T0));
    STEP(a, T0 + 181000, ev, (void)0);
    CHECK_STR(ev, "escalated:1,escalated:2");
    bp_alarms_free(a);
}

/* The state is exact across a restart: a snapshot file written at the commit, read at open. */
static void test_restart(void)
{
    char path[] = "/tmp/bppipe-alarm-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    unlink(path);
    bp_state_configure(false, 0);
    char ini[512];
    snprintf(ini, sizeof ini,
             "[alarms]\nstate_file = %s\n"
             "crisis.match = category=hypertensive_crisis\n"
             "crisis.priority = high\n"
             "crisis.escalate_after = 60, 60\n",
             path);
    bp_alarms *a = build(ini);
    char ev[256];
    STEP(a, T0, ev, reading(&t_, "acked", "hypertensive_crisis", T0));
    char acked[BP_ALARM_ID_MAX];
    snprintf(acked, sizeof acked, "%s", last_id);
    STEP(a, T0, ev, reading(&t_, "open", "hypertensive_crisis", T0));
    STEP(a, T0 + 1000, ev, ack(&t_, acked, "nurse.d"));
    CHECK_STR(ev, "acknowledged:0");
    CHECK(bp_state_checkpoint(true) == 0);
    bp_alarms_free(a); /* the process ends */
    bp_state_reset();

    a = build(ini);
    char *list = bp_alarms_list_json(a);
    CHECK_CONTAINS(list, "\"patient_id\":\"open\"");
    CHECK_CONTAINS(list, "\"acknowledged_by\":\"nurse.d\"");
    free(list);
    /* the acknowledged alarm is neither raised again nor escalated; the open one escalates */
    STEP(a, T0 + 2000, ev, reading(&t_, "acked", "hypertensive_crisis", T0 + 2000));
    CHECK_STR(ev, "");
    STEP(a, T0 + 60000, ev, (void)0);
    CHECK_STR(ev, "escalated:1");
    STEP(a, T0 + 61000, ev, ack(&t_, acked, "nurse.d"));
    CHECK_STR(ev, ""); /* idempotent across the restart too */
    bp_alarms_free(a);
    bp_state_reset();
    unlink(path);
}

/* A state the store cannot keep (max_keys): the run goes on, the alarm is raised all the same
 * (never silenced), and the loss is counted. */
static void test_max_keys(void)
{
    bp_alarms *a = build("[alarms]\nmax_keys = 1\n"
                         "crisis.match = category=hypertensive_crisis\n");
    char ev[256];
    STEP(a, T0, ev, reading(&t_, "k1", "hypertensive_crisis", T0);
         reading(&t_, "k2", "hypertensive_crisis", T0));
    CHECK_STR(ev, "raised:0,raised:0");
    bp_alarm_counts c;
    bp_alarms_get_counts(a, &c);
    CHECK(c.state_lost == 1);
    bp_alarms_free(a);
}

static int count_of(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

/* A reading's conditions share the key's patient part (built once per reading): each keeps its
 * own state under PATIENT 0x1f CONDITION (the list splits it back), and a key of at most
 * BP_STATE_MAX_KEY - 1 bytes keeps an alarm while a longer one never raises (docs/alarms.md). */
static void test_keys(void)
{
    bp_alarms *a = build("[alarms]\n"
                         "stage2.match = category=hypertension_stage_2\n"
                         "crisis.match = category=hypertensive_crisis\n"
                         "any.match = severity=warning\n");
    char ev[256];
    STEP(a, T0, ev, reading(&t_, "p1", "hypertensive_crisis", T0));
    CHECK_STR(ev, "raised:0,raised:0");
    char *list = bp_alarms_list_json(a);
    CHECK(list && strstr(list, "\"patient_id\":\"p1\",\"condition\":\"crisis\""));
    CHECK(list && strstr(list, "\"patient_id\":\"p1\",\"condition\":\"any\""));
    CHECK(list && count_of(list, "\"patient_id\"") == 2);
    free(list);
    /* "crisis" needs 7 bytes after the patient, "any" 4: the longest id that still raises a
     * crisis, then one byte more (only "any" raises) */
    static char fits[BP_STATE_MAX_KEY], longer[BP_STATE_MAX_KEY + 1];
    size_t n = BP_STATE_MAX_KEY - 1 -
               strlen("\x1f"
                      "crisis");
    memset(fits, 'f', n);
    memset(longer, 'l', n + 1);
    STEP(a, T0 + MIN, ev, reading(&t_, fits, "hypertensive_crisis", T0 + MIN));
    CHECK_STR(ev, "raised:0,raised:0");
    /* an acknowledgement finds the longest key again (the key rebuilt from the list's split) */
    char crisis_id[BP_ALARM_ID_MAX];
    snprintf(crisis_id, sizeof crisis_id, "%s", last_id);
    STEP(a, T0 + MIN + 1, ev, ack(&t_, crisis_id, "nurse.k"));
    CHECK_STR(ev, "acknowledged:0");
    bp_alarm_counts counts;
    bp_alarms_get_counts(a, &counts);
    CHECK(counts.commands_applied == 1 && counts.state_lost == 0);
    STEP(a, T0 + MIN + 2, ev, ack(&t_, crisis_id, "nurse.k"));
    CHECK_STR(ev, ""); /* stored acknowledged: a repeat changes nothing */
    STEP(a, T0 + 2 * MIN, ev, reading(&t_, longer, "hypertensive_crisis", T0 + 2 * MIN));
    CHECK_STR(ev, "raised:0");
    list = bp_alarms_list_json(a);
    CHECK(list && count_of(list, "\"condition\":\"crisis\"") == 2);
    CHECK(list && count_of(list, "\"condition\":\"any\"") == 3);
    free(list);
    bp_alarms_free(a);
}

/* The event document, and the host table's alarm fields. */
static void test_document(void)
{
    bp_alarms *a = build("[alarms]\ncrisis.match = category=hypertensive_crisis\n"
                         "crisis.priority = high\n");
    batch t;
    batch_begin(&t);
    reading(&t, "p1", "hypertensive_crisis", T0);
    CHECK(bp_alarms_process(a, &t.b, T0 + 5) == 0);
    CHECK(t.b.count == 2);
    bp_record *r = t.b.items[1];
    CHECK(bp_record_route(r) == BP_ROUTE_ALARM);
    bp_buf b = {0};
    bp_document_write(&b, r, false, T0);
    CHECK_CONTAINS(b.data, "\"document_type\":\"alarm_event\"");
    CHECK_CONTAINS(b.data, "\"event\":\"raised\"");
    CHECK_CONTAINS(b.data, "\"priority\":\"high\"");
    CHECK_CONTAINS(b.data, "\"condition\":\"crisis\"");
    CHECK_CONTAINS(b.data, "\"patient_id\":\"p1\"");
    CHECK_CONTAINS(b.data, "\"state\":\"raised\"");
    CHECK_CONTAINS(b.data, "\"systolic_pressure\":190");
    CHECK_CONTAINS(b.data, "/raised/0\"");
    bp_buf_free(&b);
    CHECK_STR(bp_record_text(r, BP_F_ALARM_EVENT), "raised");
    CHECK_STR(bp_record_text(r, BP_F_ALARM_PRIORITY), "high");
    CHECK_STR(bp_record_text(t.b.items[0], BP_F_ALARM_ID), NULL);
    CHECK_NUM(bp_record_number(r, BP_F_ALARM_TIER), 0);
    batch_end(&t);
    bp_alarms_free(a);
}

static void test_ids(void)
{
    char id[BP_ALARM_ID_MAX], topic[64], again[BP_ALARM_ID_MAX];
    int32_t part;
    bp_alarm_id_make(id, sizeof id, "blood-pressure", 7, "p1", "crisis", "Observation/1");
    bp_alarm_id_make(again, sizeof again, "blood-pressure", 7, "p1", "crisis", "Observation/1");
    CHECK_STR(id, again); /* deterministic */
    CHECK(bp_alarm_id_location(id, topic, sizeof topic, &part) == 0);
    CHECK_STR(topic, "blood-pressure");
    CHECK(part == 7);
    bp_alarm_id_make(again, sizeof again, "blood-pressure", 7, "p1", "crisis", "Observation/2");
    CHECK(strcmp(id, again) != 0);
    bp_alarm_id_make(id, sizeof id, NULL, -1, "p1", "crisis", "Observation/1");
    CHECK(strlen(id) == 16);
    CHECK(bp_alarm_id_location(id, topic, sizeof topic, &part) == -1 && part == -1);
    CHECK(bp_alarm_id_location("t~x~abc", topic, sizeof topic, &part) == -1);
    CHECK(bp_alarm_id_location("~1~abc", topic, sizeof topic, &part) == -1);
    /* The longest topic name Kafka allows and the largest partition: the id is whole, names
     * them back, and fits the alarm state and the acknowledgement payload (it was cut at 159). */
    char long_topic[250], back[256];
    memset(long_topic, 't', 249);
    long_topic[249] = '\0';
    bp_alarm_id_make(id, sizeof id, long_topic, 2147483647, "p1", "crisis", "Observation/1");
    CHECK(strlen(id) == 249 + 1 + 10 + 1 + 16);
    CHECK(strlen(id) <= BP_ALARM_ACK_ID_MAX);
    CHECK(bp_alarm_id_location(id, back, sizeof back, &part) == 0);
    CHECK_STR(back, long_topic);
    CHECK(part == 2147483647);
    /* An id that cannot fit whole is the hash alone, never a cut one. */
    char small[40];
    bp_alarm_id_make(small, sizeof small, "blood-pressure-of-a-long-named-ward", 3, "p1", "crisis",
                     "Observation/1");
    CHECK(strlen(small) == 16);
}

static int on_item(void *user, const bp_decoded *d)
{
    char *out = user;
    snprintf(out, 256, "%s|%s|%s|%s", d->invalid_reason ? d->invalid_reason : "-",
             d->ack_alarm_id ? d->ack_alarm_id : "-", d->ack_by ? d->ack_by : "-",
             d->ack_from ? d->ack_from : "-");
    return 0;
}

static void test_ack_payload(void)
{
    bp_decode_opts o = {.max_payload_bytes = 1 << 20};
    char out[256];
    const char *ok = " {\"bppipe\":\"alarm-ack\",\"alarm_id\":\"bp~0~ab\",\"by\":\"ana\","
                     "\"at\":\"2026-01-01T00:00:00Z\",\"from\":\"10.0.0.1\"}";
    CHECK(bp_payload_decode(ok, strlen(ok), &o, on_item, out) == 0);
    CHECK_STR(out, "-|bp~0~ab|ana|10.0.0.1");
    const char *no_by = "{\"bppipe\":\"alarm-ack\",\"alarm_id\":\"x\"}";
    CHECK(bp_payload_decode(no_by, strlen(no_by), &o, on_item, out) == 0);
    CHECK_CONTAINS(out, "without \"by\"");
    const char *other = "{\"bppipe\":\"reboot\"}";
    CHECK(bp_payload_decode(other, strlen(other), &o, on_item, out) == 0);
    CHECK_CONTAINS(out, "is not \"alarm-ack\"");
}

static void config_errors(const char *ini, const char *want)
{
    bp_config cfg;
    bp_errors errs = {0};
    memset(&cfg, 0, sizeof cfg);
    bp_config_load_string(&cfg, "t.ini", ini, &errs);
    bp_alarms *a = NULL;
    CHECK(bp_alarms_build(&a, &cfg, &errs) != 0 && !a);
    char all[2048] = "";
    for (size_t i = 0; i < errs.n; i++)
        snprintf(all + strlen(all), sizeof all - strlen(all), "%s\n", errs.items[i]);
    CHECK_CONTAINS(all, want);
    bp_errors_free(&errs);
    bp_config_free(&cfg);
}

static void test_config(void)
{
    config_errors("[alarms]\nx.priority = high\n", "condition 'x' has no x.match");
    config_errors("[alarms]\nx.match = colour=red\n", "t.ini:2: [alarms] key 'x.match'");
    config_errors("[alarms]\nx.match = reason=a\nx.priority = urgent\n",
                  "'urgent' is not one of high, medium, low");
    config_errors("[alarms]\nx.match = reason=a\nx.confirm_reading = 2\n",
                  "did you mean 'x.confirm_readings'");
    config_errors("[alarms]\nx.match = reason=a\nx.escalate_after = 60, soon\n",
                  "is not a list of up to 8 whole seconds");
    config_errors("[alarms]\nstatefile = x\n", "did you mean 'state_file'");
    config_errors("[alarms]\nx.match = severity=high\n", "a severity is warning or critical");
}

/* Issue 26: a retraction of the reading that raised an alarm withdraws it, once; no escalation
 * and no cooldown follow, and a later genuine reading raises a new alarm. */
static void test_withdraw_retracted(void)
{
    bp_alarms *a = build("[alarms]\n"
                         "crisis.match = category=hypertensive_crisis\n"
                         "crisis.priority = high\n"
                         "crisis.cooldown_s = 900\n"
                         "crisis.escalate_after = 60\n");
    char ev[256];
    const char *hc = "hypertensive_crisis";
    STEP(a, T0, ev, version_of(&t_, "p1", hc, T0, "Observation/w", BP_REVISION_NONE));
    CHECK_STR(ev, "raised:0");
    char id[BP_ALARM_ID_MAX];
    snprintf(id, sizeof id, "%s", last_id);
    /* a retraction of another reading, or of this one for another patient, changes nothing */
    STEP(a, T0 + 1000, ev, retract(&t_, "p1", "Observation/other");
         retract(&t_, "p2", "Observation/w"));
    CHECK_STR(ev, "");
    STEP(a, T0 + 2000, ev, retract(&t_, "p1", "Observation/w"));
    CHECK_STR(ev, "withdrawn:0");
    CHECK_STR(last_id, id);
    char *list = bp_alarms_list_json(a);
    CHECK_STR(list, "{\"alarms\":[]}");
    free(list);
    /* the same retraction again (a replay) and the escalation time: nothing */
    STEP(a, T0 + 3000, ev, retract(&t_, "p1", "Observation/w"));
    CHECK_STR(ev, "");
    STEP(a, T0 + 61000, ev, (void)0);
    CHECK_STR(ev, "");
    bp_alarm_counts c;
    bp_alarms_get_counts(a, &c);
    CHECK(c.events[BP_ALARM_EV_WITHDRAWN] == 1 && c.readings_taken_back == 1);
    /* no cooldown after a withdrawal: a genuine crisis raises a new alarm at once */
    STEP(a, T0 + 70000, ev, version_of(&t_, "p1", hc, T0 + 70000, "Observation/g", 0));
    CHECK_STR(ev, "raised:0");
    CHECK(strcmp(last_id, id) != 0);
    /* a retraction that names no patient still finds the alarm */
    STEP(a, T0 + 80000, ev, retract(&t_, NULL, "Observation/g"));
    CHECK_STR(ev, "withdrawn:0");
    /* the withdrawn event's document: state resolved, the retraction as its reading */
    batch t;
    batch_begin(&t);
    version_of(&t, "p3", hc, T0, "Observation/d", BP_REVISION_NONE);
    retract(&t, "p3", "Observation/d");
    CHECK(bp_alarms_process(a, &t.b, T0 + 5) == 0);
    CHECK(t.b.count == 4);
    bp_buf b = {0};
    bp_document_write(&b, t.b.items[3], false, T0);
    CHECK_CONTAINS(b.data, "\"event\":\"withdrawn\"");
    CHECK_CONTAINS(b.data, "\"state\":\"resolved\"");
    CHECK_CONTAINS(b.data, "\"reading_id\":\"Observation/d\"");
    CHECK_CONTAINS(b.data, "/withdrawn/0\"");
    bp_buf_free(&b);
    batch_end(&t);
    bp_alarms_free(a);
}

/* A correction of the raising reading: to a normal value it withdraws the alarm; to a value that
 * still matches it changes nothing (it is the same reading, not a second one). An alarm that a
 * later matching reading also stands on stays until that one is taken back too. */
static void test_withdraw_corrected(void)
{
    bp_alarms *a = build("[alarms]\n"
                         "crisis.match = category=hypertensive_crisis\n"
                         "crisis.priority = high\n");
    char ev[256];
    const char *hc = "hypertensive_crisis";
    STEP(a, T0, ev, version_of(&t_, "p1", hc, T0, "Observation/1", BP_REVISION_NONE));
    CHECK_STR(ev, "raised:0");
    /* still matching: nothing, and the engine's retract companion that follows it (for the
     * sinks that do not get the replacement) withdraws nothing either */
    STEP(a, T0 + 1000, ev, version_of(&t_, "p1", hc, T0, "Observation/1", BP_REVISION_REPLACE);
         retract(&t_, "p1", "Observation/1"); t_.b.items[t_.b.count - 1]->version = 2;
         t_.b.items[t_.b.count - 1]->companion = true);
    CHECK_STR(ev, "");
    char *list = bp_alarms_list_json(a);
    CHECK_CONTAINS(list, "\"state\":\"raised\"");
    free(list);
    STEP(a, T0 + 2000, ev,
         version_of(&t_, "p1", "normal", T0, "Observation/1", BP_REVISION_REPLACE));
    CHECK_STR(ev, "withdrawn:0");
    list = bp_alarms_list_json(a);
    CHECK_STR(list, "{\"alarms\":[]}");
    free(list);
    /* two readings behind it: the first retracted, the alarm stands; both, it is withdrawn */
    STEP(a, T0 + 3000, ev, version_of(&t_, "p2", hc, T0 + 3000, "Observation/a", 0));
    CHECK_STR(ev, "raised:0");
    STEP(a, T0 + 4000, ev, version_of(&t_, "p2", hc, T0 + 4000, "Observation/b", 0));
    STEP(a, T0 + 5000, ev, retract(&t_, "p2", "Observation/a"));
    CHECK_STR(ev, "");
    STEP(a, T0 + 6000, ev,
         version_of(&t_, "p2", "normal", T0 + 4000, "Observation/b", BP_REVISION_REPLACE));
    CHECK_STR(ev, "withdrawn:0");
    /* a correction from normal to a crisis is a reading like any: it raises */
    STEP(a, T0 + 7000, ev, version_of(&t_, "p4", "normal", T0 + 7000, "Observation/n", 0));
    STEP(a, T0 + 8000, ev,
         version_of(&t_, "p4", hc, T0 + 7000, "Observation/n", BP_REVISION_REPLACE));
    CHECK_STR(ev, "raised:0");
    bp_alarms_free(a);
}

/* A confirmation forgets a retracted reading: the next matching one is the first again. */
static void test_confirmation_forgets(void)
{
    bp_alarms *a = build("[alarms]\n"
                         "stage2.match = category=hypertension_stage_2\n"
                         "stage2.confirm_readings = 2\n");
    char ev[256];
    const char *s2 = "hypertension_stage_2";
    STEP(a, T0, ev, version_of(&t_, "p1", s2, T0, "Observation/1", 0));
    CHECK_STR(ev, "");
    STEP(a, T0 + MIN, ev, retract(&t_, "p1", "Observation/1"));
    CHECK_STR(ev, "");
    STEP(a, T0 + 2 * MIN, ev, version_of(&t_, "p1", s2, T0 + 2 * MIN, "Observation/2", 0));
    CHECK_STR(ev, ""); /* it would have raised had the retracted reading still counted */
    STEP(a, T0 + 3 * MIN, ev, version_of(&t_, "p1", s2, T0 + 3 * MIN, "Observation/3", 0));
    CHECK_STR(ev, "raised:0");
    bp_alarms_free(a);
}

/* The readings an alarm stands on survive a restart (the value's version 2), and a version 1
 * value (written before issue 26) is still read: its alarm goes on, only never withdrawn. */
static void test_withdraw_after_restart(void)
{
    char path[] = "/tmp/bppipe-alarm-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    unlink(path);
    bp_state_configure(false, 0);
    char ini[512];
    snprintf(ini, sizeof ini,
             "[alarms]\nstate_file = %s\n"
             "crisis.match = category=hypertensive_crisis\n",
             path);
    bp_alarms *a = build(ini);
    char ev[256];
    STEP(a, T0, ev, version_of(&t_, "p1", "hypertensive_crisis", T0, "Observation/k", 0));
    CHECK_STR(ev, "raised:0");
    CHECK(bp_state_checkpoint(true) == 0);
    bp_alarms_free(a);
    bp_state_reset();
    a = build(ini);
    STEP(a, T0 + 1000, ev, retract(&t_, "p1", "Observation/k"));
    CHECK_STR(ev, "withdrawn:0");
    bp_alarms_free(a);
    bp_state_reset();
    unlink(path);

    /* version 1: the fields up to `from`, as 4ee8540 wrote them */
    unsigned char v1[256];
    size_t n = 0;
    const uint64_t head[] = {1, BP_ALARM_ACTIVE, BP_ALARM_HIGH, 0, 0, 0, 0, (uint64_t)T0, 0, 0, 0};
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        for (int k = 0; k < 8; k++)
            v1[n++] = (unsigned char)(head[i] >> (8 * k));
    const char *strs[] = {"bp~0~0123456789abcdef", "", ""};
    for (int i = 0; i < 3; i++) {
        uint64_t len = strlen(strs[i]);
        for (int k = 0; k < 8; k++)
            v1[n++] = (unsigned char)(len >> (8 * k));
        memcpy(v1 + n, strs[i], len);
        n += len;
    }
    bp_alarm_state st;
    CHECK(bp_alarm_state_decode(&st, v1, n) == 0);
    CHECK(st.phase == BP_ALARM_ACTIVE && st.n_evidence == 0 && st.raised_at_ms == T0);
    CHECK_STR(st.alarm_id, "bp~0~0123456789abcdef");
    CHECK(bp_alarm_state_decode(&st, v1, n - 1) == -1);
    /* version 2 round trip, and a count beyond the bound refused */
    bp_alarm_step step = {0};
    bp_alarm_note_reading(&st, bp_alarm_reading_key("Observation/x"), T0, &step);
    unsigned char v2[1024];
    size_t n2 = bp_alarm_state_encode(&st, v2, sizeof v2);
    bp_alarm_state back;
    CHECK(n2 > n && bp_alarm_state_decode(&back, v2, n2) == 0);
    CHECK(back.n_evidence == 1 &&
          bp_alarm_holds_reading(&back, bp_alarm_reading_key("Observation/x")));
    v2[n2 - 24] = BP_ALARM_MAX_EVIDENCE + 1;
    CHECK(bp_alarm_state_decode(&back, v2, n2) == -1);
}

int main(void)
{
    test_ids();
    test_ack_payload();
    test_config();
    test_document();
    test_raise_ack_resolve();
    test_confirmation();
    test_latch_and_cooldown();
    test_escalation();
    test_restart();
    test_max_keys();
    test_keys();
    test_withdraw_retracted();
    test_withdraw_corrected();
    test_confirmation_forgets();
    test_withdraw_after_restart();
    return CHECK_DONE();
}
