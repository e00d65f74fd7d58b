/* PCD-01 to readings. One pass over the segments: PID sets the patient, OBR the order (its
 * filler number and time), each OBX lands in the group of its channel (OBX-4 without its last
 * level), its kind (cuff or arterial line) and its time (OBX-14); a group is emitted when its
 * OBR ends. docs/hl7v2.md says what is read from where and why. */
#include "hl7v2/hl7v2_decode.h"

#include "common/json_buf.h"
#include "common/sha256.h"
#include "hl7v2/hl7v2.h"
#include "hl7v2/hl7v2_codes.h"
#include "hl7v2/hl7v2_time.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT (BP_HL7V2_MAX_TEXT + 1)

typedef struct group {
    bool invasive;
    bp_hl7_span channel, time; /* OBX-4 without its last level; OBX-14.1 as written */
    double part[5];            /* by bp_bp_part: sys, dia, mean, pulse (NaN when absent) */
    int part_obx[5];           /* the OBX that gave each part */
    int first_obx;             /* ordinal (from 1) of the group's first OBX */
    char code[40];             /* the code of the systolic, else of the first value */
    char status;               /* C when any OBX is C, else the first status */
    int retract_obx;           /* the first OBX that is W or D (a retraction), 0 when none */
    int result_obx;            /* the first OBX that is a result (F, C, ...), 0 when none */
    unsigned retract_parts;    /* 1 << bp_bp_part of what the W and D OBX name */
    bp_hl7_span device;        /* OBX-18.1 of the group's OBX, else of a row above */
    bool bad;
    char why[240];
} group;

typedef struct ctx {
    const bp_hl7_msg *m;
    bp_decode_emit emit;
    void *user;
    int rc;
    bool nomem;
    int items;
    char control_id[TEXT], app[TEXT], fac[TEXT];
    bp_hl7_span msh_time;
    int64_t version; /* MSH-7 in UTC ms, BP_VERSION_NONE when unreadable (docs/hl7v2.md) */
    /* PID */
    bool have_pid;
    char patient[2 * TEXT + 1];
    const char *patient_why;
    /* OBR */
    bp_hl7_span obr3, obr7, last_device;
    group *groups;
    size_t n_groups, cap_groups;
    int n_obx;
} ctx;

static const char *status_word(char s)
{
    switch (s) {
    case 'C': return "corrected";
    case 'A': return "amended";
    case 'P':
    case 'R':
    case 'S': return "preliminary";
    default: return "final"; /* F, U */
    }
}

/* The unescaped text of a span into out (TEXT bytes); -1 when longer than the limit or when it
 * holds a NUL byte (it would cut every C string made of it). */
static int text_of(const ctx *c, bp_hl7_span s, char *out)
{
    size_t n;
    if (s.n >= TEXT || bp_hl7_unescape(c->m, s, out, TEXT, &n) != 0 || memchr(out, 0, n)) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

/* A reason quotes bytes of the message (a value, a unit, a time): anything but printable ASCII
 * becomes '?', so a reason is one clean line in a log or an ERR segment whatever was sent. */
static void clean(char *why)
{
    for (unsigned char *p = (unsigned char *)why; *p; p++)
        if (*p < 0x20 || *p >= 0x7F)
            *p = '?';
}

static void base_item(const ctx *c, bp_decoded *d)
{
    memset(d, 0, sizeof *d);
    d->systolic = d->diastolic = d->heart_rate = d->mean_pressure = NAN;
    d->effective_ms = INT64_MIN;
    d->resource_index = -1;
    d->hl7_control_id = c->control_id;
    d->hl7_sending_app = c->app[0] ? c->app : NULL;
    d->hl7_sending_facility = c->fac[0] ? c->fac : NULL;
}

static void put(ctx *c, const bp_decoded *d)
{
    if (c->rc)
        return;
    c->items++;
    c->rc = c->emit(c->user, d);
}

static void message_invalid(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void message_invalid(ctx *c, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    clean(why);
    bp_decoded d;
    base_item(c, &d);
    d.invalid_reason = why;
    put(c, &d);
}

static void group_bad(group *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void group_bad(group *g, const char *fmt, ...)
{
    if (g->bad)
        return; /* the first reason is the one to fix first */
    g->bad = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->why, sizeof g->why, fmt, ap);
    va_end(ap);
    clean(g->why);
}

static bool span_same(bp_hl7_span a, bp_hl7_span b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* "1.1.1.1" -> "1.1.1": the channel of a metric is its containment path without the metric. */
static bp_hl7_span channel_of(bp_hl7_span sub_id)
{
    for (size_t i = sub_id.n; i > 0; i--)
        if (sub_id.p[i - 1] == '.')
            return (bp_hl7_span){sub_id.p, i - 1};
    return sub_id;
}

static group *group_for(ctx *c, bool invasive, bp_hl7_span channel, bp_hl7_span time, int obx)
{
    for (size_t i = 0; i < c->n_groups; i++) {
        group *g = &c->groups[i];
        if (g->invasive == invasive && span_same(g->channel, channel) && span_same(g->time, time))
            return g;
    }
    if (c->n_groups == c->cap_groups) {
        size_t cap = c->cap_groups ? 2 * c->cap_groups : 8;
        group *gs = realloc(c->groups, cap * sizeof *gs);
        if (!gs)
            return NULL;
        c->groups = gs;
        c->cap_groups = cap;
    }
    group *g = &c->groups[c->n_groups++];
    memset(g, 0, sizeof *g);
    g->invasive = invasive;
    g->channel = channel;
    g->time = time;
    for (int i = 0; i < 5; i++)
        g->part[i] = NAN;
    g->first_obx = obx;
    return g;
}

static const char *part_name(bp_bp_part p)
{
    static const char *const names[] = {"",     "systolic",   "diastolic",
                                        "mean", "pulse rate", "compound"};
    return names[p];
}

/* A number as OBX-5 of type NM writes it: optional sign, digits, optional fraction; spaces
 * around allowed. */
static int number_of(const char *s, double *v)
{
    char *end;
    while (*s == ' ')
        s++;
    if (!*s)
        return -1;
    *v = strtod(s, &end);
    while (*end == ' ')
        end++;
    return *end || !isfinite(*v) || end == s ? -1 : 0;
}

/* One value of a BP OBX into its group: the unit checked and converted. */
static void add_value(ctx *c, group *g, bp_bp_part part, const bp_bp_code *code, int obx,
                      const char *value, bp_hl7_span unit_id, bp_hl7_span unit_text)
{
    double v;
    if (number_of(value, &v) != 0) {
        group_bad(g, "OBX %d (%s %s): value \"%.40s\" is not a number", obx, code->text,
                  part_name(part), value);
        return;
    }
    char uid[TEXT], utext[TEXT];
    text_of(c, unit_id, uid);
    text_of(c, unit_text, utext);
    bp_unit_kind k = bp_unit_classify(uid, utext);
    if (part == BP_PART_PULSE) {
        if (k != BP_UNIT_PER_MIN && k != BP_UNIT_NONE) {
            group_bad(g, "OBX %d (%s pulse rate): unit \"%.40s\" is not a rate per minute", obx,
                      code->text, uid[0] ? uid : utext);
            return;
        }
    } else if (k == BP_UNIT_KPA) {
        v *= BP_KPA_TO_MMHG;
    } else if (k != BP_UNIT_MMHG) {
        if (k == BP_UNIT_NONE)
            group_bad(g, "OBX %d (%s %s): no unit in OBX-6", obx, code->text, part_name(part));
        else
            group_bad(g, "OBX %d (%s %s): unit \"%.40s\" is not mmHg, mm[Hg] or kPa", obx,
                      code->text, part_name(part), uid[0] ? uid : utext);
        return;
    }
    if (!isnan(g->part[part]) && g->part[part] != v) {
        group_bad(g, "OBX %d and OBX %d: two %s values for one channel and time", g->part_obx[part],
                  obx, part_name(part));
        return;
    }
    g->part[part] = v;
    g->part_obx[part] = obx;
    if (part == BP_PART_SYS || !g->code[0])
        snprintf(g->code, sizeof g->code, "%s", code->text);
}

/* A skipped OBX is named too (sinks that index by id keep a retransmit once): the facility,
 * the patient, OBR-3, its code, OBX-4, OBX-14 and its status. */
static void skip_id(const ctx *c, bp_hl7_span seg, char *out)
{
    const bp_hl7_msg *m = c->m;
    bp_hl7_span parts[5] = {c->obr3, bp_hl7_get(m, seg, 3, 1, 1, 0), bp_hl7_field(m, seg, 4),
                            bp_hl7_get(m, seg, 14, 1, 1, 0), bp_hl7_get(m, seg, 11, 1, 1, 0)};
    bp_buf b;
    bp_buf_init(&b);
    bp_buf_printf(&b, "hl7v2-obx\n%s\n%s", c->fac, c->have_pid ? c->patient : "");
    for (int i = 0; i < 5; i++) {
        bp_buf_putc(&b, '\n');
        if (parts[i].n)
            bp_buf_put(&b, parts[i].p, parts[i].n);
    }
    if (b.failed)
        out[0] = '\0';
    else
        bp_sha256_id(b.data, b.len, 40, out, 48);
    bp_buf_free(&b);
}

static void skip_obx(ctx *c, bp_hl7_span seg, int obx, const char *reason, const char *code_text,
                     const char *hl7_code)
{
    bp_decoded d;
    base_item(c, &d);
    char id[48];
    skip_id(c, seg, id);
    d.stable_id = id[0] ? id : NULL;
    d.skip_reason = reason;
    d.resource_type = "OBX";
    d.resource_code = code_text[0] ? code_text : NULL;
    d.hl7_code = hl7_code && hl7_code[0] ? hl7_code : NULL;
    d.resource_index = obx - 1;
    d.patient_id = c->have_pid && !c->patient_why ? c->patient : NULL;
    put(c, &d);
}

/* A retraction and a result for one channel and time: which one holds is not for the decoder
 * to guess. */
static void mixed(group *g)
{
    group_bad(g,
              "OBX %d retracts (OBX-11 W or D) the observation OBX %d reports: a channel and "
              "time is either retracted or a result in one message",
              g->retract_obx, g->result_obx);
}

/* A W (wrong) or D (deleted) OBX takes back the observation of its channel and time (issue 26):
 * its value is the wrong one and is not read. */
static void retract_obx(group *g, int obx, const bp_bp_code *code)
{
    if (!g->retract_obx)
        g->retract_obx = obx;
    g->retract_parts |= code->part == BP_PART_COMPOUND
                            ? (1u << BP_PART_SYS) | (1u << BP_PART_DIA) | (1u << BP_PART_MEAN)
                            : 1u << code->part;
    if (code->part == BP_PART_SYS || code->part == BP_PART_COMPOUND || !g->code[0])
        snprintf(g->code, sizeof g->code, "%s", code->text);
    if (g->result_obx)
        mixed(g);
}

static void on_obx(ctx *c, bp_hl7_span seg)
{
    const bp_hl7_msg *m = c->m;
    int obx = ++c->n_obx;
    bp_hl7_span vtype = bp_hl7_get(m, seg, 2, 1, 1, 0);
    bp_hl7_span value = bp_hl7_get(m, seg, 5, 1, 0, 0);
    bp_hl7_span status = bp_hl7_get(m, seg, 11, 1, 1, 0);
    bp_hl7_span sub_id = bp_hl7_field(m, seg, 4);
    bp_hl7_span device = bp_hl7_get(m, seg, 18, 1, 1, 0);

    char id1[TEXT], sys1[TEXT], id2[TEXT], sys2[TEXT];
    text_of(c, bp_hl7_get(m, seg, 3, 1, 1, 0), id1);
    text_of(c, bp_hl7_get(m, seg, 3, 1, 3, 0), sys1);
    text_of(c, bp_hl7_get(m, seg, 3, 1, 4, 0), id2);
    text_of(c, bp_hl7_get(m, seg, 3, 1, 6, 0), sys2);
    bp_bp_code code;
    bool known = bp_bp_classify(id1, sys1, &code);
    if (code.part == BP_PART_NONE && id2[0]) {
        /* the alternate coding (OBX-3.4-6) may name what the first one does not */
        bp_bp_code alt;
        if (bp_bp_classify(id2, sys2, &alt) && alt.part != BP_PART_NONE) {
            code = alt;
            known = true;
        }
    }
    (void)known;

    if (vtype.n == 0 && value.n == 0) {
        /* A row of the containment tree (MDS, VMD, channel, the compound's head): no value, it
         * only says where the values below it come from. */
        if (device.n)
            c->last_device = device;
        return;
    }
    char st = status.n == 1 ? status.p[0] : 0;
    if (code.part == BP_PART_NONE) {
        skip_obx(c, seg, obx, BP_SKIP_OBX_NOT_BP, id1, code.text);
        return;
    }
    if (st == 'X') {
        skip_obx(c, seg, obx, BP_SKIP_OBX_STATUS_X, id1, code.text);
        return;
    }
    if (st == 'I' || st == 'N' || st == 'O') {
        skip_obx(c, seg, obx, BP_SKIP_OBX_STATUS_OTHER, id1, code.text);
        return;
    }
    bp_hl7_span time = bp_hl7_get(m, seg, 14, 1, 1, 0);
    group *g = group_for(c, code.invasive, channel_of(sub_id), time, obx);
    if (!g) {
        c->nomem = true;
        c->rc = -1;
        return;
    }
    if (!g->device.n)
        g->device = device.n ? device : c->last_device;
    if (st == 'W' || st == 'D') {
        retract_obx(g, obx, &code);
        return;
    }
    if (!g->result_obx)
        g->result_obx = obx;
    if (g->retract_obx)
        mixed(g);
    if (st == 'C' || !g->status)
        g->status = st ? st : g->status;
    if (!st || !strchr("FRPCSUA", st)) {
        char s[TEXT];
        text_of(c, status, s);
        group_bad(g, "OBX %d (%s %s): result status \"%.20s\" in OBX-11 is not one HL7 defines",
                  obx, code.text, part_name(code.part), s);
        return;
    }
    char v[TEXT];
    if (text_of(c, value, v) != 0) {
        group_bad(g, "OBX %d (%s): value longer than %d bytes or holding a NUL byte", obx,
                  code.text, BP_HL7V2_MAX_TEXT);
        return;
    }
    bp_hl7_span unit_id = bp_hl7_get(m, seg, 6, 1, 1, 0);
    bp_hl7_span unit_text = bp_hl7_get(m, seg, 6, 1, 2, 0);
    if (code.part == BP_PART_COMPOUND) {
        /* A compound written whole (OBX-2 NA, OBX-5 "120^80^93"): systolic, diastolic, mean. */
        if (!v[0]) {
            group_bad(g, "OBX %d (%s compound) has no value in OBX-5", obx, code.text);
            return;
        }
        bp_bp_part parts[3] = {BP_PART_SYS, BP_PART_DIA, BP_PART_MEAN};
        for (int i = 0; i < 3; i++) {
            char pv[TEXT];
            text_of(c, bp_hl7_get(m, seg, 5, 1, i + 1, 0), pv);
            if (pv[0])
                add_value(c, g, parts[i], &code, obx, pv, unit_id, unit_text);
        }
        return;
    }
    if (!v[0]) {
        group_bad(g, "OBX %d (%s %s) has no value in OBX-5", obx, code.text, part_name(code.part));
        return;
    }
    add_value(c, g, code.part, &code, obx, v, unit_id, unit_text);
}

/* The time of a group: OBX-14, else OBR-7, else MSH-7; a time without a zone takes MSH-7's. */
static int group_time(ctx *c, const group *g, int64_t *ms, bp_hl7_span *used, char *why,
                      size_t whylen)
{
    bp_hl7_span t = g->time.n ? g->time : c->obr7.n ? c->obr7 : c->msh_time;
    const char *from = g->time.n ? "OBX-14" : c->obr7.n ? "OBR-7" : "MSH-7";
    *used = t;
    if (!t.n) {
        snprintf(why, whylen, "no time: OBX-14, OBR-7 and MSH-7 are empty");
        return -1;
    }
    bp_hl7_time ht, mt;
    if (t.n > 40 || bp_hl7_time_parse(t.p, (int)t.n, &ht) != 0) {
        snprintf(why, whylen, "%s \"%.*s\" is not an HL7 time", from, (int)(t.n > 40 ? 40 : t.n),
                 t.p);
        clean(why);
        return -1;
    }
    bool msh_zone = c->msh_time.n && c->msh_time.n <= 40 &&
                    bp_hl7_time_parse(c->msh_time.p, (int)c->msh_time.n, &mt) == 0 && mt.has_zone;
    if (bp_hl7_time_utc(&ht, msh_zone, msh_zone ? mt.zone_min : 0, ms) != 0) {
        snprintf(why, whylen, "%s \"%.*s\" has no time zone, nor has MSH-7", from, (int)t.n, t.p);
        clean(why);
        return -1;
    }
    return 0;
}

/* `status` is hashed in after the identity: NULL for the identity itself (the logical id, and
 * the stable id of F, R, P, S, U, A), "corrected" for a C, "retracted" for a W or D, so each
 * has an id of its own. */
static void stable_id(const ctx *c, const group *g, bp_hl7_span time, const char *status, char *out)
{
    /* What identifies the observation (the HL7 Point-of-Care Device mapping: OBR-3 + OBX-3 +
     * OBX-4), with the facility, the patient and the time: a retransmit gives the same id, the
     * next measurement of the channel another. Never the control id, never the connection. */
    char buf[4 * TEXT + 160];
    int n = snprintf(buf, sizeof buf, "hl7v2\n%s\n%s\n%.*s\n%s\n%.*s\n%.*s%s%s", c->fac, c->patient,
                     (int)(c->obr3.n < TEXT ? c->obr3.n : TEXT), c->obr3.p ? c->obr3.p : "",
                     g->invasive ? "arterial" : "cuff",
                     (int)(g->channel.n < TEXT ? g->channel.n : TEXT),
                     g->channel.p ? g->channel.p : "", (int)(time.n < TEXT ? time.n : TEXT),
                     time.p ? time.p : "", status ? "\n" : "", status ? status : "");
    bp_sha256_id(buf, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1), 40, out, 48);
}

/* A pulse rate alone in its channel (the Cdog-style tree puts it under the device, not the
 * cuff) belongs to the one cuff reading of the order at its time, when there is exactly one. */
static void attach_pulses(ctx *c)
{
    for (size_t i = 0; i < c->n_groups; i++) {
        group *p = &c->groups[i];
        if (p->bad || isnan(p->part[BP_PART_PULSE]) || !isnan(p->part[BP_PART_SYS]) ||
            !isnan(p->part[BP_PART_DIA]) || !isnan(p->part[BP_PART_MEAN]))
            continue;
        group *target = NULL;
        int candidates = 0;
        for (size_t j = 0; j < c->n_groups; j++) {
            group *g = &c->groups[j];
            if (j == i || g->invasive || !isnan(g->part[BP_PART_PULSE]) ||
                isnan(g->part[BP_PART_SYS]) || !span_same(g->time, p->time))
                continue;
            target = g;
            candidates++;
        }
        if (candidates == 1) {
            target->part[BP_PART_PULSE] = p->part[BP_PART_PULSE];
            p->part[BP_PART_PULSE] = NAN;
            p->status = 0; /* emptied: emits nothing */
        }
    }
}

/* What a readable group is: a reading (its own stable id, and the identity as its logical id),
 * or a retraction of the identity (no values). */
static void name_group(const ctx *c, const group *g, bp_hl7_span used, bool retract, bp_decoded *d,
                       char *id, char *logical)
{
    bool corrected = !retract && g->status == 'C';
    stable_id(c, g, used, retract ? "retracted" : corrected ? "corrected" : NULL, id);
    stable_id(c, g, used, NULL, logical);
    d->stable_id = id;
    d->logical_id = logical;
    d->version = c->version;
    if (retract) {
        d->revision = BP_REVISION_RETRACT;
        return;
    }
    if (corrected) {
        d->hl7_corrects = logical; /* the stable id the F, R or P version had */
        d->flags |= BP_DEC_CORRECTION;
    }
    if (corrected || g->status == 'A')
        d->revision = BP_REVISION_REPLACE;
}

static void flush(ctx *c)
{
    attach_pulses(c);
    for (size_t i = 0; i < c->n_groups && !c->rc; i++) {
        group *g = &c->groups[i];
        /* W and D OBX give no values: what they name stands for them */
        bool retract = g->retract_obx && !g->result_obx;
        unsigned named = g->retract_parts;
        bool has_sys = retract ? (named >> BP_PART_SYS) & 1u : !isnan(g->part[BP_PART_SYS]);
        bool has_dia = retract ? (named >> BP_PART_DIA) & 1u : !isnan(g->part[BP_PART_DIA]);
        bool has_mean = retract ? (named >> BP_PART_MEAN) & 1u : !isnan(g->part[BP_PART_MEAN]);
        bool has_pulse = retract ? (named >> BP_PART_PULSE) & 1u : !isnan(g->part[BP_PART_PULSE]);
        if (!g->bad && !has_sys && !has_dia && !has_mean && !has_pulse)
            continue; /* its pulse went to a reading */
        bp_decoded d;
        base_item(c, &d);
        d.resource_index = g->first_obx - 1;
        d.hl7_code = g->code[0] ? g->code : NULL;
        char device[TEXT], why[256], id[48], logical[48];
        if (text_of(c, g->device, device) == 0 && device[0])
            d.device_id = device;
        d.patient_id = c->have_pid && !c->patient_why ? c->patient : NULL;
        /* HL7's v2-to-FHIR mapping of W; also on a dead letter, so it says what it was */
        d.status = retract ? "entered-in-error" : status_word(g->status);
        int64_t ms;
        bp_hl7_span used;
        if (!c->have_pid || c->patient_why) {
            d.invalid_reason = c->have_pid ? c->patient_why : "no PID segment before the OBR";
        } else if (g->bad) {
            d.invalid_reason = g->why;
        } else if (group_time(c, g, &ms, &used, why, sizeof why) != 0) {
            d.invalid_reason = why; /* a retraction too: the time is part of what it names */
        } else {
            d.effective_ms = ms;
            name_group(c, g, used, retract, &d, id, logical);
        }
        if (g->invasive)
            d.flags |= BP_DEC_INVASIVE;
        if (!retract) {
            d.systolic = g->part[BP_PART_SYS];
            d.diastolic = g->part[BP_PART_DIA];
            d.mean_pressure = g->part[BP_PART_MEAN];
            d.heart_rate = g->part[BP_PART_PULSE];
        }
        if (!d.invalid_reason && !retract && (has_sys != has_dia)) {
            snprintf(why, sizeof why, "channel %.*s: %s without %s (OBX %d)",
                     (int)(g->channel.n > 40 ? 40 : g->channel.n), g->channel.p ? g->channel.p : "",
                     has_sys ? "systolic" : "diastolic", has_sys ? "diastolic" : "systolic",
                     g->part_obx[has_sys ? BP_PART_SYS : BP_PART_DIA]);
            clean(why);
            d.invalid_reason = why;
        }
        if (d.invalid_reason) {
            /* a dead letter replaces nothing */
            d.logical_id = NULL;
            d.version = BP_VERSION_NONE;
            d.revision = BP_REVISION_NONE;
        } else if (!has_sys && !has_dia) {
            /* a mean or pulse alone (or the retraction of one) is not a blood-pressure reading */
            d.skip_reason = has_mean ? BP_SKIP_MEAN_ONLY : BP_SKIP_PULSE_ONLY;
            d.resource_type = "OBX";
            d.resource_code = NULL;
            d.flags &= ~BP_DEC_CORRECTION;
            d.hl7_corrects = NULL;
            d.logical_id = NULL;
            d.version = BP_VERSION_NONE;
            d.revision = BP_REVISION_NONE;
        }
        put(c, &d);
    }
    c->n_groups = 0;
}

static void on_pid(ctx *c, bp_hl7_span seg)
{
    const bp_hl7_msg *m = c->m;
    c->have_pid = true;
    c->patient_why = NULL;
    char id[TEXT], auth[TEXT];
    bp_hl7_span a = bp_hl7_get(m, seg, 3, 1, 4, 1);
    if (!a.n)
        a = bp_hl7_get(m, seg, 3, 1, 4, 2);
    if (text_of(c, bp_hl7_get(m, seg, 3, 1, 1, 0), id) != 0 || text_of(c, a, auth) != 0) {
        c->patient_why = "PID-3 patient identifier longer than 256 bytes or holding a NUL byte";
        return;
    }
    if (!id[0]) {
        c->patient_why = "PID-3 has no patient identifier";
        return;
    }
    if (auth[0])
        snprintf(c->patient, sizeof c->patient, "%s|%s", auth, id);
    else
        snprintf(c->patient, sizeof c->patient, "%s", id);
}

/* The order of a message's versions of an observation: MSH-7, the time the message was made,
 * in UTC ms. Only a time with a zone (or a date alone, the start of that day in UTC) names an
 * instant; otherwise, or before 1970, the version is unknown (BP_VERSION_NONE). */
static int64_t message_version(bp_hl7_span msh7)
{
    bp_hl7_time t;
    int64_t ms;
    if (!msh7.n || msh7.n > 40 || bp_hl7_time_parse(msh7.p, (int)msh7.n, &t) != 0 ||
        bp_hl7_time_utc(&t, false, 0, &ms) != 0 || ms < 1)
        return BP_VERSION_NONE;
    return ms;
}

int bp_hl7v2_decode(const char *data, size_t len, const bp_decode_opts *opts, bp_decode_emit emit,
                    void *user)
{
    bp_hl7_msg m;
    ctx c = {.m = &m, .emit = emit, .user = user};
    memset(&m, 0, sizeof m);
    if (opts && opts->max_payload_bytes && len > opts->max_payload_bytes) {
        message_invalid(&c, "payload of %zu bytes exceeds max_payload_bytes %zu", len,
                        opts->max_payload_bytes);
        return c.rc;
    }
    const char *why = NULL;
    if (bp_hl7_open(&m, data, len, &why) != 0) {
        message_invalid(&c, "%s", why);
        return c.rc;
    }
    bp_hl7_msh h;
    bp_hl7_msh_read(&m, &h);
    text_of(&c, h.control_id, c.control_id);
    text_of(&c, bp_hl7_comp(&m, h.sending_app, 1), c.app);
    text_of(&c, bp_hl7_comp(&m, h.sending_facility, 1), c.fac);
    c.msh_time = h.time;
    c.version = message_version(h.time);
    if (!bp_hl7_span_eq(h.type, "ORU") || !bp_hl7_span_eq(h.trigger, "R01")) {
        char t[TEXT], e[TEXT];
        text_of(&c, h.type, t);
        text_of(&c, h.trigger, e);
        if (!t[0])
            message_invalid(&c, "MSH-9 message type is empty; only ORU^R01 is read");
        else
            message_invalid(&c, "message type %.40s^%.40s is not ORU^R01", t, e);
        return c.rc;
    }
    bp_hl7_seg it = {{NULL, 0}, 0};
    bp_hl7_next_segment(&m, &it); /* MSH */
    while (!c.rc && bp_hl7_next_segment(&m, &it)) {
        bp_hl7_span s = it.text;
        if (bp_hl7_seg_is(&m, s, "PID")) {
            flush(&c);
            on_pid(&c, s);
        } else if (bp_hl7_seg_is(&m, s, "OBR")) {
            flush(&c);
            c.obr3 = bp_hl7_get(&m, s, 3, 1, 0, 0);
            c.obr7 = bp_hl7_get(&m, s, 7, 1, 1, 0);
            c.last_device = (bp_hl7_span){NULL, 0};
        } else if (bp_hl7_seg_is(&m, s, "OBX")) {
            on_obx(&c, s);
        }
    }
    if (!c.rc)
        flush(&c);
    free(c.groups);
    if (c.nomem) {
        c.rc = 0;
        message_invalid(&c, "out of memory while decoding");
        return c.rc ? c.rc : -1;
    }
    if (!c.rc && c.items == 0) {
        if (c.n_obx == 0)
            message_invalid(&c, "ORU^R01 has no OBX segment");
        else {
            bp_decoded d;
            base_item(&c, &d);
            d.skip_reason = BP_SKIP_NO_OBSERVATION;
            d.resource_type = "ORU^R01";
            char id[48], key[3 * TEXT];
            int n = snprintf(key, sizeof key, "hl7v2-msg\n%s\n%s", c.fac, c.control_id);
            bp_sha256_id(key, (size_t)n < sizeof key ? (size_t)n : sizeof key - 1, 40, id, 48);
            d.stable_id = id;
            d.patient_id = c.have_pid && !c.patient_why ? c.patient : NULL;
            put(&c, &d);
        }
    }
    return c.rc;
}
