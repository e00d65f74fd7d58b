/* Private to src/pipeline/state*.c.
 *
 * The snapshot file of one owner of keyed state (for sources that do not keep state
 * themselves): its committed values, written atomically, read back at state_open.
 *
 * The format, version 1 (numbers are 32-bit little-endian, a "field" is its length then its
 * bytes):
 *     "BPSTATE1"                  magic and version
 *     field  ns                   the owner's "SECTION/FORMAT", at most 1024 bytes
 *     then per key, to the end of the file:
 *     field  topic, or FFFFFFFF   no topic; at most 4096 bytes
 *     u32    partition            the int32 as stored (FFFFFFFF: no partitions)
 *     field  key                  1 to BP_STATE_MAX_KEY bytes
 *     field  value                at most BP_STATE_MAX_VALUE bytes
 * A file with another magic (another version, or detector-trend's own older file), another
 * owner's ns or a damaged record is refused whole, with the reason.
 *
 * Pure: no globals and no lock; knows files, not the store. */
#ifndef BPPIPE_STATE_SNAPSHOT_H
#define BPPIPE_STATE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A snapshot being written: to a temporary file beside the target, renamed over it at the
 * end. Members are private to state_snapshot.c. */
typedef struct bp_state_snapshot_writer {
    const char *file; /* the target (the caller's, kept until finish) */
    char *tmp;
    FILE *f;
    bool ok; /* every write so far went through */
} bp_state_snapshot_writer;

/* Creates the temporary file (0600) and writes the header for owner `ns`. 0, or -1 with errno
 * set (nothing to finish then). */
int bp_state_snapshot_begin(bp_state_snapshot_writer *w, const char *file, const char *ns);
/* Appends one key's value (`topic` NULL: none). After a failed write the rest are skipped and
 * finish reports it. */
void bp_state_snapshot_put(bp_state_snapshot_writer *w, const char *topic, int32_t partition,
                           const void *key, size_t key_len, const void *value, size_t len);
/* Flushes and syncs the file, renames it over the target and syncs the folder. 0, or -1 with
 * errno set and the temporary file removed (the previous snapshot stays). */
int bp_state_snapshot_finish(bp_state_snapshot_writer *w);

/* Called per key read: `topic` is NULL for none; `value` (len bytes plus a NUL) is malloc'd and
 * becomes the callee's when it returns 0. -1: it cannot take it (the read stops as damaged). */
typedef int (*bp_state_snapshot_visit)(void *user, const char *topic, int32_t partition,
                                       const unsigned char *key, size_t key_len,
                                       unsigned char *value, size_t len);

/* Reads the snapshot `file` of owner `ns`, handing each key to `visit`; *loaded counts them.
 * 0 at its end, or -1 with *why set (what was visited before stays the caller's to undo). */
int bp_state_snapshot_read(const char *file, const char *ns, bp_state_snapshot_visit visit,
                           void *user, char *why, size_t why_len, size_t *loaded);

#endif
