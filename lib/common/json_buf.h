/* A growable text buffer with JSON writing helpers. The document serializer and the CLI's
 * machine-readable outputs use it; it allocates only when it grows. */
#ifndef BPPIPE_JSON_BUF_H
#define BPPIPE_JSON_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct bp_buf {
    char *data; /* NUL-terminated when len > 0 or after bp_buf_cstr */
    size_t len, cap;
    bool failed; /* an allocation failed; later writes are ignored */
} bp_buf;

void bp_buf_init(bp_buf *b);
void bp_buf_free(bp_buf *b);
void bp_buf_reset(bp_buf *b);
void bp_buf_put(bp_buf *b, const char *s, size_t n);
void bp_buf_puts(bp_buf *b, const char *s);
void bp_buf_putc(bp_buf *b, char c);
/* Appends printf-style text; an encoding error counts as a failure (b->failed). */
void bp_buf_printf(bp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* bp_buf_reserve when the room is not there yet: grows the buffer, or fails. */
bool bp_buf_grow(bp_buf *b, size_t extra);
/* Makes room for `extra` more bytes and the NUL after them, for a caller that writes into
 * b->data + b->len itself and then adds to b->len; false (and b->failed) when memory ran out.
 * Inline: a document makes some fifty small appends, nearly all into room already there. */
static inline bool bp_buf_reserve(bp_buf *b, size_t extra)
{
    return (!b->failed && b->len + extra < b->cap) || bp_buf_grow(b, extra);
}
/* A JSON string literal with quotes; invalid UTF-8 bytes become U+FFFD so the output is
 * always valid JSON whatever the input. */
void bp_buf_json_string(bp_buf *b, const char *s, size_t n);
/* How many of s's first n bytes a JSON string holds as they are (printable ASCII, no quote, no
 * backslash): n when s needs no escaping. */
size_t bp_json_plain_prefix(const char *s, size_t n);
/* A JSON number; integers print without a fraction, NaN/Inf print as null. */
void bp_buf_json_number(bp_buf *b, double v);
/* "2026-11-22T18:30:00.000Z" for milliseconds since the epoch. */
void bp_buf_iso_time(bp_buf *b, long long ms);
const char *bp_buf_cstr(bp_buf *b);

#endif
