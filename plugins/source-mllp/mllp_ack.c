#include "mllp_ack.h"

#include "hl7v2/hl7v2.h"
#include "hl7v2/hl7v2_ack.h"
#include "mllp_frame.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Whether `id` is one of the comma-separated words of `list` (spaces around words ignored). */
static bool listed(const char *list, bp_hl7_span id)
{
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *w = p;
        while (n && *w == ' ') {
            w++;
            n--;
        }
        while (n && w[n - 1] == ' ')
            n--;
        if (n && n == id.n && memcmp(w, id.p, n) == 0)
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

static int clip(bp_hl7_span s)
{
    return s.n > 40 ? 40 : (int)s.n;
}

int bp_mllp_check(const char *msg, size_t len, const char *processing_ids, char *reason, size_t cap)
{
    bp_hl7_msg m;
    bp_hl7_msh h;
    const char *why = NULL;
    if (bp_hl7_open(&m, msg, len, &why) != 0 || bp_hl7_msh_read(&m, &h) != 0) {
        snprintf(reason, cap, "%s", why ? why : "not HL7 v2: no MSH segment");
        return BP_MLLP_ERR_SEGMENT_SEQUENCE;
    }
    if (!bp_hl7_span_eq(h.type, "ORU")) {
        snprintf(reason, cap, "message type %.*s^%.*s is not ORU^R01 (IHE PCD-01 observations)",
                 clip(h.type), h.type.p ? h.type.p : "", clip(h.trigger),
                 h.trigger.p ? h.trigger.p : "");
        return 200;
    }
    if (!bp_hl7_span_eq(h.trigger, "R01")) {
        snprintf(reason, cap, "message event ORU^%.*s is not ORU^R01", clip(h.trigger),
                 h.trigger.p ? h.trigger.p : "");
        return 201;
    }
    if (h.version.n < 2 || h.version.p[0] != '2' || h.version.p[1] != '.') {
        snprintf(reason, cap, "MSH-12 version '%.*s' is not an HL7 v2 version (2.x)",
                 clip(h.version), h.version.p ? h.version.p : "");
        return 203;
    }
    if (!listed(processing_ids, h.processing_id)) {
        snprintf(reason, cap,
                 "MSH-11 processing id '%.*s' is not accepted here "
                 "(processing_ids = %s)",
                 clip(h.processing_id), h.processing_id.p ? h.processing_id.p : "", processing_ids);
        return 202;
    }
    return 0;
}

static int frame_one(bp_buf *out, const bp_hl7_msg *m, bp_hl7_ack_code code, int err_code,
                     const char *reason, const char *control_id, long long now_ms)
{
    bp_hl7_ack a = {.code = code,
                    .control_id = control_id,
                    .now_ms = now_ms,
                    .reason = reason,
                    .error_code = err_code};
    bp_buf_putc(out, BP_MLLP_SB);
    if (bp_hl7_ack_build(out, m, &a) != 0)
        return -1;
    bp_buf_putc(out, BP_MLLP_EB);
    bp_buf_putc(out, BP_MLLP_CR);
    return out->failed ? -1 : 0;
}

int bp_mllp_answer(bp_buf *out, const char *msg, size_t len, bp_mllp_outcome outcome, int err_code,
                   const char *reason, const char *control_id, long long now_ms,
                   const char *codes[2])
{
    static const bp_hl7_ack_code app[] = {BP_HL7_AA, BP_HL7_AE, BP_HL7_AR};
    static const bp_hl7_ack_code accept[] = {BP_HL7_CA, BP_HL7_CE, BP_HL7_CR};
    bp_hl7_msg m;
    bp_hl7_msh h;
    const char *why;
    bool readable = bp_hl7_open(&m, msg, len, &why) == 0 && bp_hl7_msh_read(&m, &h) == 0;
    const char *text = outcome == BP_MLLP_ACCEPT ? NULL : reason ? reason : "not processed";
    bool failed = outcome != BP_MLLP_ACCEPT;
    if (!readable || (h.accept_ack.n == 0 && h.app_ack.n == 0)) {
        /* Original mode: one answer, the application acknowledgement. */
        codes[0] = bp_hl7_ack_code_text(app[outcome]);
        return frame_one(out, readable ? &m : NULL, app[outcome], err_code, text, control_id,
                         now_ms) == 0
                   ? 1
                   : -1;
    }
    /* Enhanced mode: an empty field asks for nothing (MSH-15 NE with MSH-16 AL is original
     * mode written out), so a sender gets only the answers it named. */
    int n = 0;
    if (h.accept_ack.n && bp_hl7_ack_wanted(h.accept_ack, failed)) {
        if (frame_one(out, &m, accept[outcome], err_code, text, control_id, now_ms) != 0)
            return -1;
        codes[n++] = bp_hl7_ack_code_text(accept[outcome]);
    }
    if (h.app_ack.n && bp_hl7_ack_wanted(h.app_ack, failed)) {
        char id[128];
        snprintf(id, sizeof id, "%s%s", control_id ? control_id : "", n ? "-A" : "");
        if (frame_one(out, &m, app[outcome], err_code, text, id, now_ms) != 0)
            return -1;
        codes[n++] = bp_hl7_ack_code_text(app[outcome]);
    }
    return n;
}
