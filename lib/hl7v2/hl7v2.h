/* A zero-copy reader of HL7 v2 messages (ER7, the "pipe and hat" encoding).
 *
 * A bp_hl7_msg is a view over the caller's bytes: nothing is copied and nothing allocated.
 * The delimiters are the message's own (MSH-1, MSH-2); segments end at \r, \n or \r\n (real
 * senders differ) and empty lines are ignored. Every piece is a bp_hl7_span into the bytes,
 * still escaped; bp_hl7_unescape() decodes one into a caller buffer when its text is needed.
 *
 * Numbering is HL7's: fields, repetitions, components and subcomponents count from 1. For MSH,
 * field 1 is the field separator itself and field 2 the encoding characters, so MSH-9 is what
 * the standard calls MSH-9. A piece that is not there is an empty span (p may be NULL), never
 * an error: HL7 makes trailing empty pieces optional.
 *
 * Pure functions, no global state: any thread may read any message. */
#ifndef BPPIPE_HL7V2_H
#define BPPIPE_HL7V2_H

#include <stdbool.h>
#include <stddef.h>

/* A piece of the message, still escaped. p may be NULL when n is 0. */
typedef struct bp_hl7_span {
    const char *p;
    size_t n;
} bp_hl7_span;

/* The message's delimiters. A sender may leave the last encoding characters out (MSH-2 "^~");
 * an absent one is '\0' and never splits anything. */
typedef struct bp_hl7_delims {
    char field; /* MSH-1, usually '|' */
    char comp;  /* '^' */
    char rep;   /* '~' */
    char esc;   /* '\\' */
    char sub;   /* '&' */
} bp_hl7_delims;

typedef struct bp_hl7_msg {
    const char *data; /* from the "MSH" of the first segment */
    size_t len;       /* to the end of the last segment (MLLP's 0x1C 0x0D dropped) */
    bp_hl7_delims d;
} bp_hl7_msg;

/* One segment: its text without the terminator; `next` is where the following one starts. */
typedef struct bp_hl7_seg {
    bp_hl7_span text;
    size_t next;
} bp_hl7_seg;

/* Opens `len` bytes at `data` as a message. Leading whitespace and an MLLP start byte (0x0B)
 * are skipped, a trailing 0x1C and whitespace dropped. Returns 0, or -1 with *why set to a
 * static sentence: "not HL7 v2: no MSH segment", "MSH-2 encoding characters are not
 * distinct", ... */
int bp_hl7_open(bp_hl7_msg *m, const char *data, size_t len, const char **why);

/* True when `data` looks like an HL7 v2 message: optional whitespace or 0x0B, then "MSH" and
 * a field separator that is not a letter, digit or whitespace. Reads at most 5 bytes past
 * the whitespace. */
bool bp_hl7_sniff(const char *data, size_t len);

/* Segment iteration: start with it->next = 0 (a zeroed bp_hl7_seg); each call moves to the
 * next non-empty segment and returns false after the last. */
bool bp_hl7_next_segment(const bp_hl7_msg *m, bp_hl7_seg *it);

/* True when the segment's name (the text before the first field separator) is `name`. */
bool bp_hl7_seg_is(const bp_hl7_msg *m, bp_hl7_span seg, const char *name);

/* SEG-n of a segment (n >= 1; MSH-1 is the separator, MSH-2 the encoding characters). */
bp_hl7_span bp_hl7_field(const bp_hl7_msg *m, bp_hl7_span seg, int n);

/* The r-th repetition of a field, the c-th component of a repetition (or of a field: its first
 * repetition), the s-th subcomponent of a component. MSH-1 and MSH-2 are never split. */
bp_hl7_span bp_hl7_rep(const bp_hl7_msg *m, bp_hl7_span field, int r);
bp_hl7_span bp_hl7_comp(const bp_hl7_msg *m, bp_hl7_span rep, int c);
bp_hl7_span bp_hl7_sub(const bp_hl7_msg *m, bp_hl7_span comp, int s);

/* SEG-field[rep].comp.sub in one call; comp 0 = the whole repetition, sub 0 = the whole
 * component. bp_hl7_get(m, obx, 3, 1, 1, 0) is OBX-3.1. */
bp_hl7_span bp_hl7_get(const bp_hl7_msg *m, bp_hl7_span seg, int field, int rep, int comp, int sub);

/* How many repetitions a field has (0 when empty). */
int bp_hl7_rep_count(const bp_hl7_msg *m, bp_hl7_span field);

/* Decodes the escapes of `s` into `out` (cap bytes, NUL-terminated): \F\ \S\ \T\ \R\ \E\ become
 * the delimiters, \Xhh..\ the bytes it spells, \.br\ a line feed; \H\ \N\ (highlighting), the
 * other formatting commands (\.sp\, \.in\, ...) and the character-set switches \Cxxyy\ \Mxxyyzz\
 * are dropped; an escape it does not know, or one never closed, is kept as written. The text
 * never grows: cap >= s.n + 1 always suffices. Returns 0 and sets *out_len, or -1 when `out`
 * is too small (nothing is cut silently: the caller gets no text). out_len may be NULL. */
int bp_hl7_unescape(const bp_hl7_msg *m, bp_hl7_span s, char *out, size_t cap, size_t *out_len);

/* True when the span equals the NUL-terminated `s` byte for byte (no unescaping). */
bool bp_hl7_span_eq(bp_hl7_span a, const char *s);

/* The MSH fields a receiver needs, as spans of the message (still escaped). A field may be
 * empty; bp_hl7_msh fails only when the first segment is not MSH. */
typedef struct bp_hl7_msh {
    bp_hl7_span sending_app;        /* MSH-3 */
    bp_hl7_span sending_facility;   /* MSH-4 */
    bp_hl7_span receiving_app;      /* MSH-5 */
    bp_hl7_span receiving_facility; /* MSH-6 */
    bp_hl7_span time;               /* MSH-7 */
    bp_hl7_span type;               /* MSH-9.1, "ORU" */
    bp_hl7_span trigger;            /* MSH-9.2, "R01" */
    bp_hl7_span structure;          /* MSH-9.3, "ORU_R01" (often absent) */
    bp_hl7_span control_id;         /* MSH-10 */
    bp_hl7_span processing_id;      /* MSH-11.1: P, D or T */
    bp_hl7_span version;            /* MSH-12.1, "2.6" */
    bp_hl7_span accept_ack;         /* MSH-15: AL, NE, ER, SU; empty = original mode */
    bp_hl7_span app_ack;            /* MSH-16: AL, NE, ER, SU */
} bp_hl7_msh;

int bp_hl7_msh_read(const bp_hl7_msg *m, bp_hl7_msh *out);

#endif
