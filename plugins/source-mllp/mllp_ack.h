/* What source-mllp answers to one message: what HL7 makes a receiver reject at arrival, and
 * the framed acknowledgement(s) once the host has settled the message, written with lib/hl7v2's
 * ACK builder in the message's own delimiters. */
#ifndef BP_MLLP_ACK_H
#define BP_MLLP_ACK_H

#include "common/json_buf.h"

#include <stddef.h>

typedef enum bp_mllp_outcome {
    BP_MLLP_ACCEPT, /* AA / CA: every reading stored or skipped */
    BP_MLLP_ERROR,  /* AE / CE: dead-lettered */
    BP_MLLP_REJECT  /* AR / CR: rejected at arrival (type, version, processing id, framing) */
} bp_mllp_outcome;

/* HL7 table 0357 codes the source gives itself. */
#define BP_MLLP_ERR_SEGMENT_SEQUENCE 100
#define BP_MLLP_ERR_INTERNAL 207

/* What HL7 makes a receiver reject at once: no readable MSH (not HL7 v2), a message type other
 * than ORU^R01, a version that is not 2.x, a processing id (MSH-11) not among the
 * comma-separated `processing_ids`. Returns 0 (accepted) or the table 0357 code, with the
 * reason in reason[0..cap). */
int bp_mllp_check(const char *msg, size_t len, const char *processing_ids, char *reason,
                  size_t cap);

/* Appends the framed answers to message msg[0..len) to `out`: in original mode (MSH-15 and
 * MSH-16 empty, or no MSH) one acknowledgement, AA/AE/AR; in enhanced mode the accept
 * acknowledgement CA/CE/CR when MSH-15 asks for it, then the application acknowledgement
 * AA/AE/AR when MSH-16 does. `reason` (NULL for ACCEPT) goes into ERR with `err_code`;
 * `control_id` is the first answer's MSH-10 (a second one gets "-A" appended). Returns how many
 * answers were written (0: the sender asked for none), their MSA-1 codes in codes[], or -1
 * when memory ran out. */
int bp_mllp_answer(bp_buf *out, const char *msg, size_t len, bp_mllp_outcome outcome, int err_code,
                   const char *reason, const char *control_id, long long now_ms,
                   const char *codes[2]);

#endif
