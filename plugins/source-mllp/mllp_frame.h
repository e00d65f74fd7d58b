/* MLLP framing (HL7 v2 Minimal Lower Layer Protocol): a message travels as 0x0B, the message,
 * 0x1C 0x0D. A deframer takes the bytes of one connection as they arrive and hands back one
 * event at a time, so the caller can stop between two frames (a full batch) and resume later
 * from where it stopped. Pure: no sockets, no host. */
#ifndef BP_MLLP_FRAME_H
#define BP_MLLP_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define BP_MLLP_SB 0x0B /* start block */
#define BP_MLLP_EB 0x1C /* end block, followed by a carriage return */
#define BP_MLLP_CR 0x0D

typedef enum bp_mllp_event {
    BP_MLLP_NONE = 0,  /* every byte given was consumed; give more */
    BP_MLLP_FRAME,     /* a whole frame: data/len are the bytes between 0x0B and 0x1C */
    BP_MLLP_OVERSIZED, /* a frame over max_bytes ended: data/len its first bytes, total all */
    BP_MLLP_CUT        /* a 0x0B came before the frame's 0x1C: data/len what came before it */
} bp_mllp_event;

typedef struct bp_mllp_deframer {
    int state;
    char *buf; /* the frame so far (at most max_bytes, or keep_bytes once oversized) */
    size_t len, cap;
    size_t max_bytes;  /* a frame longer than this is oversized */
    size_t keep_bytes; /* how much of an oversized frame is kept for its dead letter */
    int reset;         /* a cut frame was handed out: empty the buffer at the next call */
    uint64_t total;    /* bytes of the current frame, also those not kept */
    uint64_t garbage;  /* bytes outside frames skipped so far (line ends between frames not
                          counted: some senders add them) */
} bp_mllp_deframer;

void bp_mllp_deframer_init(bp_mllp_deframer *d, size_t max_bytes, size_t keep_bytes);
void bp_mllp_deframer_free(bp_mllp_deframer *d);
/* True while a frame has begun and not been handed out (a close now ends it). */
int bp_mllp_in_frame(const bp_mllp_deframer *d);

/* A frame begun and never ended (its connection closed or went idle): hands out what it holds
 * (*data, *len, *total as for BP_MLLP_CUT) and forgets it. Returns 0 when no frame had begun,
 * 1 for a frame cut short, 2 for one whose 0x1C came but not the 0x0D after it (complete). */
int bp_mllp_take_partial(bp_mllp_deframer *d, const char **data, size_t *len, uint64_t *total);

/* Consumes bytes of in[0..n) up to and including the end of the next event, sets *used to how
 * many, and returns the event (BP_MLLP_NONE when all n were consumed without one). An event's
 * data (*data, *len; *total for BP_MLLP_OVERSIZED) stays valid until the next call. Returns
 * -1 when memory ran out (the frame is lost; the deframer waits for the next 0x0B). */
int bp_mllp_next(bp_mllp_deframer *d, const char *in, size_t n, size_t *used, const char **data,
                 size_t *len, uint64_t *total);

#endif
