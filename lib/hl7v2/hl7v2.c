/* The HL7 v2 reader: delimiters, segments, the split into fields and below, escapes. Every
 * piece is found by scanning the segment again (segments are short: a few hundred bytes), so
 * the view holds no index and costs nothing to open. */
#include "hl7v2/hl7v2.h"

#include <string.h>

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static size_t skip_lead(const char *data, size_t len)
{
    size_t i = 0;
    while (i < len && (is_ws(data[i]) || data[i] == 0x0B))
        i++;
    return i;
}

bool bp_hl7_sniff(const char *data, size_t len)
{
    if (!data)
        return false;
    size_t i = skip_lead(data, len);
    if (len - i < 4 || memcmp(data + i, "MSH", 3) != 0)
        return false;
    char fs = data[i + 3];
    return !is_alnum(fs) && !is_ws(fs) && fs != 0 && fs != 0x0B && fs != 0x1C;
}

/* A delimiter must be printable, not alphanumeric, not whitespace. */
static bool delim_ok(char c)
{
    unsigned char u = (unsigned char)c;
    return u > 0x20 && u < 0x7F && !is_alnum(c);
}

int bp_hl7_open(bp_hl7_msg *m, const char *data, size_t len, const char **why)
{
    memset(m, 0, sizeof *m);
    const char *dummy;
    if (!why)
        why = &dummy;
    if (!data) {
        *why = "not HL7 v2: empty message";
        return -1;
    }
    size_t i = skip_lead(data, len);
    while (len > i && (is_ws(data[len - 1]) || data[len - 1] == 0x1C))
        len--;
    if (len - i < 3 || memcmp(data + i, "MSH", 3) != 0) {
        *why = "not HL7 v2: no MSH segment";
        return -1;
    }
    if (len - i < 5 || !delim_ok(data[i + 3])) {
        *why = "MSH-1 field separator missing or not a valid delimiter";
        return -1;
    }
    m->data = data + i;
    m->len = len - i;
    m->d.field = m->data[3];
    /* MSH-2: up to the next field separator or the end of the segment; a fifth character
     * (2.7's truncation character) is allowed and ignored. */
    char enc[4] = {0, 0, 0, 0};
    size_t k = 4, n = 0;
    while (k < m->len && m->data[k] != m->d.field && m->data[k] != '\r' && m->data[k] != '\n') {
        if (n == 5) {
            *why = "MSH-2 encoding characters longer than 5";
            return -1;
        }
        if (!delim_ok(m->data[k])) {
            *why = "MSH-2 encoding characters include a letter, digit or space";
            return -1;
        }
        if (n < 4)
            enc[n] = m->data[k];
        n++, k++;
    }
    if (n == 0) {
        *why = "MSH-2 encoding characters missing";
        return -1;
    }
    char all[5] = {m->d.field, enc[0], enc[1], enc[2], enc[3]};
    for (int a = 0; a < 5; a++)
        for (int b = a + 1; b < 5; b++)
            if (all[a] && all[a] == all[b]) {
                *why = "MSH-1 and MSH-2 delimiters are not distinct";
                return -1;
            }
    m->d.comp = enc[0];
    m->d.rep = enc[1];
    m->d.esc = enc[2];
    m->d.sub = enc[3];
    return 0;
}

bool bp_hl7_next_segment(const bp_hl7_msg *m, bp_hl7_seg *it)
{
    size_t i = it->next;
    while (i < m->len && (m->data[i] == '\r' || m->data[i] == '\n'))
        i++;
    if (i >= m->len)
        return false;
    size_t e = i;
    while (e < m->len && m->data[e] != '\r' && m->data[e] != '\n')
        e++;
    it->text.p = m->data + i;
    it->text.n = e - i;
    it->next = e;
    return true;
}

bool bp_hl7_seg_is(const bp_hl7_msg *m, bp_hl7_span seg, const char *name)
{
    size_t n = strlen(name);
    return seg.n >= n && memcmp(seg.p, name, n) == 0 && (seg.n == n || seg.p[n] == m->d.field);
}

/* The idx-th (0-based) piece of s split at delimiter d; empty when there are fewer. */
static bp_hl7_span split(bp_hl7_span s, char d, int idx)
{
    bp_hl7_span out = {NULL, 0};
    if (!s.p || idx < 0)
        return out;
    if (!d)
        return idx == 0 ? s : out;
    size_t start = 0;
    for (int k = 0; k < idx; k++) {
        const char *q = memchr(s.p + start, d, s.n - start);
        if (!q)
            return out;
        start = (size_t)(q - s.p) + 1;
    }
    const char *q = memchr(s.p + start, d, s.n - start);
    out.p = s.p + start;
    out.n = q ? (size_t)(q - out.p) : s.n - start;
    return out;
}

static bool is_msh(const bp_hl7_msg *m, bp_hl7_span seg)
{
    return seg.n >= 4 && memcmp(seg.p, "MSH", 3) == 0 && seg.p[3] == m->d.field;
}

/* MSH-1 and MSH-2 are delimiters, never split further: they are the spans that start at the
 * fourth and fifth bytes of the message. */
static bool is_msh_head(const bp_hl7_msg *m, bp_hl7_span s)
{
    return s.p && (s.p == m->data + 3 || s.p == m->data + 4);
}

bp_hl7_span bp_hl7_field(const bp_hl7_msg *m, bp_hl7_span seg, int n)
{
    bp_hl7_span none = {NULL, 0};
    if (n < 1)
        return none;
    if (is_msh(m, seg)) {
        if (n == 1) {
            bp_hl7_span fs = {seg.p + 3, 1};
            return fs;
        }
        return split(seg, m->d.field, n - 1);
    }
    return split(seg, m->d.field, n);
}

bp_hl7_span bp_hl7_rep(const bp_hl7_msg *m, bp_hl7_span field, int r)
{
    if (is_msh_head(m, field))
        return r == 1 ? field : (bp_hl7_span){NULL, 0};
    return split(field, m->d.rep, r - 1);
}

bp_hl7_span bp_hl7_comp(const bp_hl7_msg *m, bp_hl7_span rep, int c)
{
    if (is_msh_head(m, rep))
        return c == 1 ? rep : (bp_hl7_span){NULL, 0};
    /* A field with repetitions: its first one. */
    bp_hl7_span first = split(rep, m->d.rep, 0);
    return split(first, m->d.comp, c - 1);
}

bp_hl7_span bp_hl7_sub(const bp_hl7_msg *m, bp_hl7_span comp, int s)
{
    if (is_msh_head(m, comp))
        return s == 1 ? comp : (bp_hl7_span){NULL, 0};
    return split(comp, m->d.sub, s - 1);
}

bp_hl7_span bp_hl7_get(const bp_hl7_msg *m, bp_hl7_span seg, int field, int rep, int comp, int sub)
{
    bp_hl7_span s = bp_hl7_field(m, seg, field);
    if (is_msh_head(m, s))
        return (rep <= 1 && comp <= 1 && sub <= 1) ? s : (bp_hl7_span){NULL, 0};
    s = split(s, m->d.rep, rep < 1 ? 0 : rep - 1);
    if (comp > 0)
        s = split(s, m->d.comp, comp - 1);
    if (comp > 0 && sub > 0)
        s = split(s, m->d.sub, sub - 1);
    return s;
}

int bp_hl7_rep_count(const bp_hl7_msg *m, bp_hl7_span field)
{
    if (!field.p || field.n == 0)
        return 0;
    if (is_msh_head(m, field) || !m->d.rep)
        return 1;
    int n = 1;
    for (size_t i = 0; i < field.n; i++)
        n += field.p[i] == m->d.rep;
    return n;
}

bool bp_hl7_span_eq(bp_hl7_span a, const char *s)
{
    size_t n = strlen(s);
    return a.n == n && (n == 0 || memcmp(a.p, s, n) == 0);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Writes the decoding of one escape body (the text between the escape characters) at out;
 * returns the bytes written, or -1 when the escape is unknown and must be kept as written. */
static long unescape_one(const bp_hl7_msg *m, const char *b, size_t n, char *out)
{
    if (n == 1) {
        switch (b[0]) {
        case 'F': *out = m->d.field; return 1;
        case 'S': *out = m->d.comp; return 1;
        case 'T': *out = m->d.sub; return 1;
        case 'R': *out = m->d.rep; return 1;
        case 'E': *out = m->d.esc; return 1;
        case 'H':
        case 'N': return 0; /* highlighting on and off */
        default: return -1;
        }
    }
    if (n >= 3 && (b[0] == 'X' || b[0] == 'x') && (n - 1) % 2 == 0) {
        for (size_t i = 1; i < n; i++)
            if (hexval(b[i]) < 0)
                return -1;
        long w = 0;
        for (size_t i = 1; i < n; i += 2)
            out[w++] = (char)(hexval(b[i]) * 16 + hexval(b[i + 1]));
        return w;
    }
    if (n >= 2 && b[0] == '.') {
        if (n == 3 && memcmp(b, ".br", 3) == 0) {
            *out = '\n';
            return 1;
        }
        return 0; /* .sp .in .ti .sk .ce .fi .nf: layout of a formatted text, not its words */
    }
    if (n >= 2 && (b[0] == 'C' || b[0] == 'M'))
        return 0; /* character set switches: the bytes after them are passed as they are */
    return -1;
}

int bp_hl7_unescape(const bp_hl7_msg *m, bp_hl7_span s, char *out, size_t cap, size_t *out_len)
{
    if (out_len)
        *out_len = 0;
    if (!out || cap == 0 || s.n >= cap) {
        /* The decoded text is at most s.n bytes; refusing here keeps the rule simple for
         * callers: a buffer of s.n + 1 bytes always works, a smaller one never does. */
        if (out && cap)
            out[0] = '\0';
        return -1;
    }
    size_t w = 0;
    char e = m->d.esc;
    for (size_t i = 0; i < s.n;) {
        if (e && s.p[i] == e) {
            const char *close = memchr(s.p + i + 1, e, s.n - i - 1);
            if (close) {
                size_t bn = (size_t)(close - (s.p + i + 1));
                long k = bn ? unescape_one(m, s.p + i + 1, bn, out + w) : -1;
                if (k >= 0) {
                    w += (size_t)k;
                    i += bn + 2;
                    continue;
                }
            }
        }
        out[w++] = s.p[i++];
    }
    out[w] = '\0';
    if (out_len)
        *out_len = w;
    return 0;
}

int bp_hl7_msh_read(const bp_hl7_msg *m, bp_hl7_msh *o)
{
    memset(o, 0, sizeof *o);
    bp_hl7_seg it = {{NULL, 0}, 0};
    if (!m->data || !bp_hl7_next_segment(m, &it) || !is_msh(m, it.text))
        return -1;
    bp_hl7_span seg = it.text;
    o->sending_app = bp_hl7_field(m, seg, 3);
    o->sending_facility = bp_hl7_field(m, seg, 4);
    o->receiving_app = bp_hl7_field(m, seg, 5);
    o->receiving_facility = bp_hl7_field(m, seg, 6);
    o->time = bp_hl7_get(m, seg, 7, 1, 1, 0);
    o->type = bp_hl7_get(m, seg, 9, 1, 1, 0);
    o->trigger = bp_hl7_get(m, seg, 9, 1, 2, 0);
    o->structure = bp_hl7_get(m, seg, 9, 1, 3, 0);
    o->control_id = bp_hl7_field(m, seg, 10);
    o->processing_id = bp_hl7_get(m, seg, 11, 1, 1, 0);
    o->version = bp_hl7_get(m, seg, 12, 1, 1, 0);
    o->accept_ack = bp_hl7_field(m, seg, 15);
    o->app_ack = bp_hl7_field(m, seg, 16);
    return 0;
}
