/* One MLLP connection of bppipe-monitor: a non-blocking TCP socket that connects, writes one
 * framed message at a time and collects the acknowledgements that come back, each frame
 * (0x0B ... 0x1C 0x0D) read as the MSA segment of an HL7 ACK. */
#ifndef BP_MLLP_LINK_H
#define BP_MLLP_LINK_H

#include <netinet/in.h>
#include <stddef.h>

#define BP_MLLP_START 0x0B
#define BP_MLLP_END1 0x1C
#define BP_MLLP_END2 0x0D

typedef enum { LINK_DOWN, LINK_CONNECTING, LINK_UP } bp_link_state;

typedef struct bp_link {
    int fd;
    bp_link_state state;
    double retry_at;  /* monotonic s: when a link that is down connects again */
    double backoff_s; /* the next wait after a failed connect, doubled up to a cap */
    unsigned char rx[16384];
    size_t rx_len;
} bp_link;

/* What an ACK says: MSA-1 (AA, AE, AR, or CA/CE/CR of an accept acknowledgement) and MSA-2,
 * the control id of the message it answers. */
typedef struct bp_ack {
    char code[3];
    char control_id[64];
} bp_ack;

void bp_link_init(bp_link *l);
/* Starts a non-blocking connect to `to`; the link is CONNECTING (or DOWN with its retry set). */
void bp_link_connect(bp_link *l, const struct sockaddr_in *to, double now);
/* Once poll() says the socket is writable: UP, or DOWN when the connect failed. Returns 0 when
 * up, -1 when down. */
int bp_link_connected(bp_link *l, double now);
/* Closes the socket; the link connects again at now + its back-off (0: at once). */
void bp_link_down(bp_link *l, double now, int at_once);
/* Writes what it can of frame[*off..len); returns 1 when all of it is written, 0 when the
 * socket is full, -1 when the connection broke. */
int bp_link_write(bp_link *l, const unsigned char *frame, size_t len, size_t *off);
/* Reads what the socket has into the link's buffer: 0, or -1 when the peer closed or the
 * connection broke (or a frame grew past the buffer). */
int bp_link_read(bp_link *l);
/* The next complete ACK frame in the buffer, parsed into *ack and removed: 1 when there was
 * one, 0 when none is complete yet. A frame that is no ACK comes back with code "??". */
int bp_link_next_ack(bp_link *l, bp_ack *ack);

/* Parses an HL7 ACK's MSA-1 and MSA-2 (delimiters from its MSH; segments ended by \r or \n).
 * Returns 0, or -1 when there is no MSH or no MSA. Exposed for the tests. */
int bp_ack_parse(const char *msg, size_t len, bp_ack *ack);

#endif
