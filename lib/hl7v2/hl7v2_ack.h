/* Writing HL7 v2: escaping text for a field, and the acknowledgement (ACK) of a received
 * message, as source-mllp sends it back (docs/plugins/source-mllp.md has the contract). */
#ifndef BPPIPE_HL7V2_ACK_H
#define BPPIPE_HL7V2_ACK_H

#include "common/json_buf.h"
#include "hl7v2/hl7v2.h"

#include <stdbool.h>

/* MSA-1. A*: original mode and enhanced mode's application acknowledgement; C*: enhanced mode's
 * accept acknowledgement (commit accept / error / reject). */
typedef enum bp_hl7_ack_code {
    BP_HL7_AA, /* accepted: every reading stored */
    BP_HL7_AE, /* application error: the message could not be processed (dead-lettered) */
    BP_HL7_AR, /* rejected: not a message this receiver takes (type, version, processing id) */
    BP_HL7_CA,
    BP_HL7_CE,
    BP_HL7_CR,
} bp_hl7_ack_code;

/* "AA", "AE", ... */
const char *bp_hl7_ack_code_text(bp_hl7_ack_code c);

typedef struct bp_hl7_ack {
    bp_hl7_ack_code code;
    const char *control_id; /* the ACK's own MSH-10 (unique per ACK); NULL or "" = empty */
    long long now_ms;       /* the ACK's MSH-7, UTC milliseconds since the epoch */
    /* The error (AE, AR, CE, CR): NULL for none. When set, an ERR segment carries
     * ERR-3 = <error_code>^<its table 0357 text>^HL70357, ERR-4 = E, and ERR-8 = this text,
     * escaped with the message's delimiters. */
    const char *reason;
    int error_code; /* HL7 table 0357: 100 segment sequence, 101 required field missing,
                       102 data type, 103 table value not found, 200 unsupported message
                       type, 201 unsupported event, 202 unsupported processing id, 203
                       unsupported version, 207 application internal error; 0 = 207 */
} bp_hl7_ack;

/* Appends the ACK of message `m` to `out`: segments ended by \r, no MLLP framing.
 *   MSH: the message's delimiters, MSH-3/4 = its MSH-5/6 and MSH-5/6 = its MSH-3/4 (sender and
 *        receiver swapped), MSH-7 now, MSH-9 ACK^<its trigger>^ACK, MSH-10 the ACK's control
 *        id, MSH-11 and MSH-12 as it sent them (P and 2.6 when empty);
 *   MSA: the code and its MSH-10 (MSA-2);
 *   ERR: when a->reason is set (above).
 * m may be NULL (bytes with no readable MSH): standard delimiters, empty names and MSA-2.
 * Returns 0, or -1 when `out` failed to grow. */
int bp_hl7_ack_build(bp_buf *out, const bp_hl7_msg *m, const bp_hl7_ack *a);

/* Appends `s` (n bytes) escaped for a field of a message with delimiters `d`: each delimiter
 * as \F\ \S\ \T\ \R\ \E\, CR and LF as \X0D\ \X0A\, other control bytes as \Xhh\. */
void bp_hl7_escape(bp_buf *out, const bp_hl7_delims *d, const char *s, size_t n);

/* Whether an acknowledgement is due under an MSH-15/16 mode (AL always, NE never, ER only when
 * the message failed, SU only when it succeeded; empty or unknown = AL, as in original mode). */
bool bp_hl7_ack_wanted(bp_hl7_span mode, bool failed);

#endif
