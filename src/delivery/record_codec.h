/* A judged record as bytes, for a sink's disk spool (src/delivery/spool.h): everything a sink can read
 * of a record through bp_host (origin, payload, reading, verdict, reasons, annotations) plus the
 * delivery attempts it has used up, and back. The format is versioned; a spool written by
 * another version is refused, never guessed at (docs/spool.md). */
#ifndef BPPIPE_RECORD_CODEC_H
#define BPPIPE_RECORD_CODEC_H

#include "common/json_buf.h"
#include "pipeline/record.h"

#include <stddef.h>

#define BP_RECORD_CODEC_VERSION 3u

/* Appends the encoding of `r` and its `attempts` to `out`. Returns 0, or -1 when out of memory
 * or a string is longer than 4 GiB - 2. */
int bp_record_encode(const bp_record *r, unsigned attempts, bp_buf *out);

/* Rebuilds a record from `len` bytes into `arena` (strings copied there, NUL-terminated; the
 * record's arena is `arena`, its delivery fields cleared). Returns 0, or -1 with one line in
 * `err` naming what is wrong: a foreign or newer entry, or one cut short. */
int bp_record_decode(const void *data, size_t len, bp_arena *arena, bp_record **out,
                     unsigned *attempts, char *err, size_t errlen);

#endif
