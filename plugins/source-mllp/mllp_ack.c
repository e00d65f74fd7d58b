#include "mllp_ack.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct span {
    const char *p;
    size_t n;
} span;

/* Field `n` (n >= 2; MSH-2 is the encoding characters) of the MSH segment seg[0..len), whose
 * field separator is seg[3]. */
static span msh_field(const char *seg, size_t len, int n)
{
    span s = {NULL, 0};
    char fs = seg[3];
    size_t i = 4;
    for (int f = 2; f < n; f++) {
        const char *next = i < len ? memchr(seg + i, fs, len - i) : NULL;
        if (!next)
            return s;
        i = (size_t)(next - seg) + 1;
    }
    if (i > len)
        return s;
    const char *end = memchr(seg + i, fs, len - i);
    s.p = seg + i;
    s.n = end ? (size_t)(end - (seg + i)) : len - i;
    return s;
}

/* Component `c` (from 1) of `f`, split at `cs` ('\0': no components). */
static span component(span f, char cs, int c)
{
    span s = {NULL, 0};
    if (!f.p)
        return s;
    size_t i = 0;
    for (int k = 1; k < c; k++) {
        const char *next = cs ? memchr(f.p + i, cs, f.n - i) : NULL;
        if (!next)
            return s;
        i = (size_t)(next - f.p) + 1;
    }
    const char *end = cs ? memchr(f.p + i, cs, f.n - i) : NULL;
    s.p = f.p + i;
    s.n = end ? (size_t)(end - (f.p + i)) : f.n - i;
    return s;
}

static void copy(char *dst, size_t cap, span s)
{
    size_t n = s.n < cap - 1 ? s.n : cap - 1;
    if (n)
        memcpy(dst, s.p, n);
    dst[n] = '\0';
}

static bool span_is(span s, const char *text)
{
    return s.n == strlen(text) && memcmp(s.p, text, s.n) == 0;
}

/* MSH-15/16 as table 0155 reads; an empty field (in enhanced mode) is "never", and a value the
 * table does not have is "always": a sender that asked for something unclear still gets an
 * answer rather than waiting for one forever. */
static bp_ack_when ack_when(span s)
{
    if (s.n == 0 || span_is(s, "NE"))
        return BP_ACK_NEVER;
    if (span_is(s, "ER"))
        return BP_ACK_ON_ERROR;
    if (span_is(s, "SU"))
        return BP_ACK_ON_SUCCESS;
    return BP_ACK_ALWAYS;
}

/* Whether `id` is one of the comma-separated words of `list`. */
static bool listed(const char *list, span id)
{
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && *p == ' ') {
            p++;
            n--;
        }
        while (n && p[n - 1] == ' ')
            n--;
        if (n == id.n && memcmp(p, id.p, n) == 0)
            return true;
        p = end ? end + 1 : p + n;
    }
    return false;
}

static void reject(bp_ack_header *h, int code, const char *fmt, span a, span b)
{
    if (h->reject_code)
        return;
    h->reject_code = code;
    snprintf(h->reject_reason, sizeof h->reject_reason, fmt, (int)(a.n > 60 ? 60 : a.n),
             a.p ? a.p : "", (int)(b.n > 60 ? 60 : b.n), b.p ? b.p : "");
}

void bp_ack_read_header(const char *msg, size_t len, const bp_ack_policy *policy,
                        bp_ack_header *h)
{
    memset(h, 0, sizeof *h);
    memcpy(h->delims, "|^~\\&", 6);
    h->original_mode = 1;
    size_t i = 0;
    while (i < len && (msg[i] == ' ' || msg[i] == '\t' || msg[i] == '\r' || msg[i] == '\n'))
        i++;
    const char *seg = msg + i;
    size_t rest = len - i;
    span none = {NULL, 0};
    if (rest < 8 || memcmp(seg, "MSH", 3) != 0 || seg[3] == '\r' || seg[3] == '\n' ||
        (seg[3] >= '0' && seg[3] <= '9') || (seg[3] >= 'A' && seg[3] <= 'Z') ||
        (seg[3] >= 'a' && seg[3] <= 'z') || seg[3] == ' ') {
        reject(h, BP_ERR_SEGMENT_SEQUENCE, "not HL7 v2: the message does not start with an MSH "
               "segment%.*s%.*s", none, none);
        return;
    }
    size_t seg_len = 0;
    while (seg_len < rest && seg[seg_len] != '\r' && seg[seg_len] != '\n')
        seg_len++;
    span enc = msh_field(seg, seg_len, 2);
    if (enc.n < 1 || enc.n > 5) {
        reject(h, BP_ERR_SEGMENT_SEQUENCE, "MSH-2 encoding characters are missing%.*s%.*s",
               none, none);
        return;
    }
    /* The answer is written in the message's own delimiters, so the fields copied from it
     * stay as they were escaped. */
    h->delims[0] = seg[3];
    for (size_t k = 0; k < 4; k++)
        h->delims[1 + k] = k < enc.n ? enc.p[k] : "^~\\&"[k];
    for (size_t a = 0; a < 5; a++)
        for (size_t b = a + 1; b < 5; b++)
            if (h->delims[a] == h->delims[b]) {
                memcpy(h->delims, "|^~\\&", 6);
                reject(h, BP_ERR_SEGMENT_SEQUENCE, "MSH-1 and MSH-2 delimiters are not "
                       "distinct%.*s%.*s", none, none);
                return;
            }
    char cs = h->delims[1];
    copy(h->sending_app, sizeof h->sending_app, msh_field(seg, seg_len, 3));
    copy(h->sending_facility, sizeof h->sending_facility, msh_field(seg, seg_len, 4));
    copy(h->receiving_app, sizeof h->receiving_app, msh_field(seg, seg_len, 5));
    copy(h->receiving_facility, sizeof h->receiving_facility, msh_field(seg, seg_len, 6));
    span type = msh_field(seg, seg_len, 9);
    span code = component(type, cs, 1), event = component(type, cs, 2);
    copy(h->trigger, sizeof h->trigger, event);
    copy(h->control_id, sizeof h->control_id, msh_field(seg, seg_len, 10));
    span pid = component(msh_field(seg, seg_len, 11), cs, 1);
    copy(h->processing_id, sizeof h->processing_id, pid);
    span version = component(msh_field(seg, seg_len, 12), cs, 1);
    copy(h->version, sizeof h->version, version);
    span accept = msh_field(seg, seg_len, 15), app = msh_field(seg, seg_len, 16);
    h->original_mode = accept.n == 0 && app.n == 0;
    h->accept = ack_when(accept);
    h->app = ack_when(app);
    if (!span_is(code, "ORU"))
        reject(h, BP_ERR_UNSUPPORTED_TYPE, "message type %.*s%.*s is not ORU^R01 (the "
               "observations of IHE PCD-01)", code, none);
    else if (!span_is(event, "R01"))
        reject(h, BP_ERR_UNSUPPORTED_EVENT, "message event ORU^%.*s%.*s is not ORU^R01", event,
               none);
    if (version.n < 2 || version.p[0] != '2' || version.p[1] != '.')
        reject(h, BP_ERR_UNSUPPORTED_VERSION, "MSH-12 version '%.*s%.*s' is not an HL7 v2 "
               "version (2.x)", version, none);
    if (!listed(policy && policy->processing_ids ? policy->processing_ids : "P", pid))
        reject(h, BP_ERR_UNSUPPORTED_PROCESSING, "MSH-11 processing id '%.*s' is not accepted "
               "here (processing_ids = %.*s)", pid,
               (span){policy && policy->processing_ids ? policy->processing_ids : "P",
                      strlen(policy && policy->processing_ids ? policy->processing_ids : "P")});
}

/* ---- writing ------------------------------------------------------------------------------ */

typedef struct out {
    char **buf;
    size_t *len, *cap;
    bool nomem;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->nomem)
        return;
    if (*o->len + n > *o->cap) {
        size_t cap = *o->cap ? *o->cap : 512;
        while (cap < *o->len + n)
            cap *= 2;
        char *grown = realloc(*o->buf, cap);
        if (!grown) {
            o->nomem = true;
            return;
        }
        *o->buf = grown;
        *o->cap = cap;
    }
    memcpy(*o->buf + *o->len, s, n);
    *o->len += n;
}

static void puts_(out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* Text of ours (a reason) as field content: the message's delimiters escaped, control
 * characters (a line end would end the segment) as spaces. */
static void put_text(out *o, const bp_ack_header *h, const char *s)
{
    static const char names[5] = {'F', 'S', 'R', 'E', 'T'};
    for (; s && *s; s++) {
        const char *d = memchr(h->delims, *s, 5);
        if (d) {
            char esc[3] = {h->delims[3], names[d - h->delims], h->delims[3]};
            put(o, esc, 3);
        } else {
            char c = (unsigned char)*s < 0x20 ? ' ' : *s;
            put(o, &c, 1);
        }
    }
}

static const char *err_text(int code)
{
    switch (code) {
    case BP_ERR_SEGMENT_SEQUENCE: return "Segment sequence error";
    case BP_ERR_UNSUPPORTED_TYPE: return "Unsupported message type";
    case BP_ERR_UNSUPPORTED_EVENT: return "Unsupported event code";
    case BP_ERR_UNSUPPORTED_PROCESSING: return "Unsupported processing id";
    case BP_ERR_UNSUPPORTED_VERSION: return "Unsupported version id";
    default: return "Application internal error";
    }
}

static void write_one(out *o, const bp_ack_header *h, const char *code, int err_code,
                      const char *reason, const char *control_id, const char *timestamp)
{
    char f[2] = {h->delims[0], '\0'}, c[2] = {h->delims[1], '\0'};
    char head[8];
    snprintf(head, sizeof head, "\x0BMSH%c%.4s", h->delims[0], h->delims + 1);
    puts_(o, head);
    /* Sender and receiver swap: the answer comes from the message's receiver. */
    const char *fields[] = {h->receiving_app, h->receiving_facility, h->sending_app,
                            h->sending_facility, timestamp, ""};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        puts_(o, f);
        puts_(o, fields[i]);
    }
    puts_(o, f);
    puts_(o, "ACK");
    if (h->trigger[0]) {
        puts_(o, c);
        puts_(o, h->trigger);
        puts_(o, c);
        puts_(o, "ACK");
    }
    puts_(o, f);
    put_text(o, h, control_id);
    puts_(o, f);
    puts_(o, h->processing_id[0] ? h->processing_id : "P");
    puts_(o, f);
    puts_(o, h->version[0] ? h->version : "2.6");
    puts_(o, "\rMSA");
    puts_(o, f);
    puts_(o, code);
    puts_(o, f);
    puts_(o, h->control_id);
    if (reason && code[1] != 'A') {
        /* MSA-3 is deprecated since v2.4 but still what many senders log; ERR-3 and ERR-8 are
         * where v2.5 and later put the reason. */
        puts_(o, f);
        put_text(o, h, reason);
        char num[16];
        snprintf(num, sizeof num, "%d", err_code);
        puts_(o, "\rERR");
        puts_(o, f);
        puts_(o, f);
        puts_(o, f);
        puts_(o, num);
        puts_(o, c);
        puts_(o, err_text(err_code));
        puts_(o, c);
        puts_(o, "HL70357");
        puts_(o, f);
        puts_(o, "E");
        puts_(o, f);
        puts_(o, f);
        puts_(o, f);
        puts_(o, f);
        put_text(o, h, reason);
    }
    puts_(o, "\r\x1C\r");
}

static bool wanted(bp_ack_when when, bp_ack_outcome outcome)
{
    return when == BP_ACK_ALWAYS || (when == BP_ACK_ON_ERROR && outcome != BP_ACK_ACCEPT) ||
           (when == BP_ACK_ON_SUCCESS && outcome == BP_ACK_ACCEPT);
}

int bp_ack_write(const bp_ack_header *h, bp_ack_outcome outcome, int err_code, const char *reason,
                 const char *control_id, const char *timestamp, char **buf, size_t *len,
                 size_t *cap, char codes[2][3])
{
    out o = {buf, len, cap, false};
    static const char *app_codes[] = {"AA", "AE", "AR"}, *commit_codes[] = {"CA", "CE", "CR"};
    int n = 0;
    char second_id[224];
    if (h->original_mode) {
        write_one(&o, h, app_codes[outcome], err_code, reason, control_id, timestamp);
        memcpy(codes[n++], app_codes[outcome], 3);
    } else {
        if (wanted(h->accept, outcome)) {
            write_one(&o, h, commit_codes[outcome], err_code, reason, control_id, timestamp);
            memcpy(codes[n++], commit_codes[outcome], 3);
        }
        if (wanted(h->app, outcome)) {
            snprintf(second_id, sizeof second_id, "%s%s", control_id, n ? "-A" : "");
            write_one(&o, h, app_codes[outcome], err_code, reason, second_id, timestamp);
            memcpy(codes[n++], app_codes[outcome], 3);
        }
    }
    return o.nomem ? -1 : n;
}
