/* The ACK of a received message and the escaping of text written into one. */
#include "hl7v2/hl7v2_ack.h"

#include <string.h>
#include <time.h>

const char *bp_hl7_ack_code_text(bp_hl7_ack_code c)
{
    static const char *const t[] = {"AA", "AE", "AR", "CA", "CE", "CR"};
    return (unsigned)c < sizeof t / sizeof t[0] ? t[c] : "AE";
}

/* HL7 table 0357 (message error condition codes). */
static const char *err_text(int code)
{
    switch (code) {
    case 0: return "Message accepted";
    case 100: return "Segment sequence error";
    case 101: return "Required field missing";
    case 102: return "Data type error";
    case 103: return "Table value not found";
    case 200: return "Unsupported message type";
    case 201: return "Unsupported event code";
    case 202: return "Unsupported processing id";
    case 203: return "Unsupported version id";
    case 204: return "Unknown key identifier";
    case 205: return "Duplicate key identifier";
    case 206: return "Application record locked";
    default: return "Application internal error";
    }
}

void bp_hl7_escape(bp_buf *out, const bp_hl7_delims *d, const char *s, size_t n)
{
    char e = d->esc ? d->esc : '\\';
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        char code = 0;
        if (c == d->field)
            code = 'F';
        else if (d->comp && c == d->comp)
            code = 'S';
        else if (d->sub && c == d->sub)
            code = 'T';
        else if (d->rep && c == d->rep)
            code = 'R';
        else if (c == e)
            code = 'E';
        if (code) {
            char t[3] = {e, code, e};
            bp_buf_put(out, t, 3);
        } else if ((unsigned char)c < 0x20 || c == 0x7F) {
            bp_buf_printf(out, "%cX%02X%c", e, (unsigned char)c, e);
        } else {
            bp_buf_putc(out, c);
        }
    }
}

static void put_span(bp_buf *out, bp_hl7_span s)
{
    if (s.p && s.n)
        bp_buf_put(out, s.p, s.n);
}

static void put_time(bp_buf *out, long long ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms < 0 || !gmtime_r(&t, &tm)) {
        return;
    }
    bp_buf_printf(out, "%04d%02d%02d%02d%02d%02d.%03d+0000", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

int bp_hl7_ack_build(bp_buf *out, const bp_hl7_msg *m, const bp_hl7_ack *a)
{
    bp_hl7_delims d = {'|', '^', '~', '\\', '&'};
    bp_hl7_msh h;
    memset(&h, 0, sizeof h);
    bp_hl7_seg first = {{NULL, 0}, 0};
    if (m && m->data && bp_hl7_msh_read(m, &h) == 0 && bp_hl7_next_segment(m, &first))
        d = m->d;
    else
        m = NULL;
    bp_hl7_span msh = first.text;
    char f = d.field, c = d.comp ? d.comp : '^';

    bp_buf_puts(out, "MSH");
    bp_buf_putc(out, f);
    /* MSH-2 exactly as the message wrote it, so the ACK reads with the same delimiters. */
    if (m) {
        bp_hl7_span enc = bp_hl7_field(m, msh, 2);
        put_span(out, enc);
    } else {
        bp_buf_puts(out, "^~\\&");
    }
    bp_hl7_span swap[4] = {h.receiving_app, h.receiving_facility, h.sending_app,
                           h.sending_facility};
    for (int i = 0; i < 4; i++) {
        bp_buf_putc(out, f);
        put_span(out, swap[i]);
    }
    bp_buf_putc(out, f);
    put_time(out, a->now_ms);
    bp_buf_putc(out, f); /* MSH-8 security */
    bp_buf_putc(out, f);
    bp_buf_puts(out, "ACK");
    if (h.trigger.n) {
        bp_buf_putc(out, c);
        put_span(out, h.trigger);
        bp_buf_putc(out, c);
        bp_buf_puts(out, "ACK");
    }
    bp_buf_putc(out, f);
    if (a->control_id)
        bp_hl7_escape(out, &d, a->control_id, strlen(a->control_id));
    bp_buf_putc(out, f);
    bp_hl7_span pid = m ? bp_hl7_field(m, msh, 11) : msh;
    bp_hl7_span ver = m ? bp_hl7_field(m, msh, 12) : msh;
    if (pid.n)
        put_span(out, pid);
    else
        bp_buf_putc(out, 'P');
    bp_buf_putc(out, f);
    if (ver.n)
        put_span(out, ver);
    else
        bp_buf_puts(out, "2.6");
    bp_buf_putc(out, '\r');

    bp_buf_puts(out, "MSA");
    bp_buf_putc(out, f);
    bp_buf_puts(out, bp_hl7_ack_code_text(a->code));
    bp_buf_putc(out, f);
    put_span(out, h.control_id);
    bp_buf_putc(out, '\r');

    if (a->reason) {
        int code = a->error_code ? a->error_code : 207;
        bp_buf_puts(out, "ERR");
        bp_buf_putc(out, f);
        bp_buf_putc(out, f);
        bp_buf_putc(out, f);
        bp_buf_printf(out, "%d", code);
        bp_buf_putc(out, c);
        bp_buf_puts(out, err_text(code));
        bp_buf_putc(out, c);
        bp_buf_puts(out, "HL70357");
        bp_buf_putc(out, f);
        bp_buf_putc(out, 'E');
        for (int i = 0; i < 4; i++)
            bp_buf_putc(out, f);
        bp_hl7_escape(out, &d, a->reason, strlen(a->reason));
        bp_buf_putc(out, '\r');
    }
    return out->failed ? -1 : 0;
}

bool bp_hl7_ack_wanted(bp_hl7_span mode, bool failed)
{
    if (bp_hl7_span_eq(mode, "NE"))
        return false;
    if (bp_hl7_span_eq(mode, "ER"))
        return failed;
    if (bp_hl7_span_eq(mode, "SU"))
        return !failed;
    return true;
}
