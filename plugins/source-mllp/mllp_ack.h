/* What source-mllp answers to one message: the MSH fields the answer needs, read when the frame
 * arrives; the code HL7 prescribes once the host has settled the message (its readings stored,
 * skipped or dead-lettered); and the acknowledgement(s) themselves, framed for MLLP. */
#ifndef BP_MLLP_ACK_H
#define BP_MLLP_ACK_H

#include <stddef.h>

/* MSH-15 / MSH-16 (HL7 table 0155). */
typedef enum bp_ack_when { BP_ACK_ALWAYS, BP_ACK_NEVER, BP_ACK_ON_ERROR, BP_ACK_ON_SUCCESS } bp_ack_when;

typedef enum bp_ack_outcome {
    BP_ACK_ACCEPT, /* AA / CA: every reading stored (or skipped) */
    BP_ACK_ERROR,  /* AE / CE: stored as a dead letter */
    BP_ACK_REJECT  /* AR / CR: what HL7 says to reject (type, version, processing id, framing) */
} bp_ack_outcome;

/* HL7 table 0357 codes the answers use. */
#define BP_ERR_SEGMENT_SEQUENCE 100
#define BP_ERR_UNSUPPORTED_TYPE 200
#define BP_ERR_UNSUPPORTED_EVENT 201
#define BP_ERR_UNSUPPORTED_PROCESSING 202
#define BP_ERR_UNSUPPORTED_VERSION 203
#define BP_ERR_INTERNAL 207

/* The header of a received message, copied (fields as written, still escaped in the message's
 * own delimiters) so the answer outlives the frame. */
typedef struct bp_ack_header {
    char delims[6]; /* MSH-1 then MSH-2's four characters; "|^~\\&" when no MSH was read */
    char sending_app[128], sending_facility[128], receiving_app[128], receiving_facility[128];
    char trigger[16], control_id[200], processing_id[8], version[16];
    int original_mode;          /* MSH-15 and MSH-16 both empty */
    bp_ack_when accept, app;    /* enhanced mode: when each answer is sent */
    int reject_code;            /* 0, or a BP_ERR_* the message is rejected with at arrival */
    char reject_reason[200];    /* why, when reject_code is set */
} bp_ack_header;

/* What the receiver accepts (options). */
typedef struct bp_ack_policy {
    const char *processing_ids; /* MSH-11 values accepted, e.g. "P" or "P,D,T" */
} bp_ack_policy;

/* Reads the MSH of msg[0..len) into *h and decides what HL7 makes a receiver reject at once: no
 * MSH (not HL7 v2), a message type other than ORU^R01, a version not 2.x, a processing id the
 * policy does not accept. Never fails: a message without MSH gets the default delimiters and
 * an empty control id. */
void bp_ack_read_header(const char *msg, size_t len, const bp_ack_policy *policy,
                        bp_ack_header *h);

/* Appends the framed answers to `out` (grown with realloc; *len and *cap updated): in original mode
 * one acknowledgement (AA/AE/AR); in enhanced mode the accept acknowledgement (CA/CE/CR) when
 * MSH-15 asks for it, then the application acknowledgement when MSH-16 asks for it. `reason`
 * (may be NULL for ACCEPT) goes into ERR-8 and MSA-3, escaped. `control_id` is the answer's own
 * MSH-10 (the second answer gets a suffix). Returns the number of answers written (0 when the
 * sender asked for none) or -1 when memory ran out. `codes` receives the MSA-1 codes written,
 * e.g. "CA" then "AA" (each 2 characters; up to 2 answers). */
int bp_ack_write(const bp_ack_header *h, bp_ack_outcome outcome, int err_code, const char *reason,
                 const char *control_id, const char *timestamp, char **out, size_t *len,
                 size_t *cap, char codes[2][3]);

#endif
