/* A durable, bounded, append-only FIFO of opaque byte entries kept in one folder: the disk
 * buffer of one sink. An entry is durable (fsync'd) when bp_spool_append() returns 0; entries
 * are read oldest first and marked consumed, durably, after the sink delivered them. A crash
 * between delivery and consume delivers them again (at-least-once). The format, the durability
 * argument and what to do with a refused spool are in docs/spool.md.
 *
 * Threads: a spool has no global state, so different spools may be used from different
 * threads, but one spool must be used by one thread at a time (the caller serialises). A folder
 * is locked (flock) while open: a second bp_spool_open() of it, from this process or another,
 * is refused with BP_SPOOL_EBUSY. Do not use a spool in a child after fork(). */
#ifndef BPPIPE_SPOOL_H
#define BPPIPE_SPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct bp_spool bp_spool;

/* Status codes: 0 ok, positive for the two non-error outcomes, negative for errors. */
enum {
    BP_SPOOL_OK = 0,
    BP_SPOOL_FULL = 1,      /* append: it would exceed max_bytes; nothing was written */
    BP_SPOOL_END = 2,       /* peek: there is no entry at that index */
    BP_SPOOL_EINVAL = -1,   /* an argument was invalid */
    BP_SPOOL_ENOMEM = -2,   /* out of memory */
    BP_SPOOL_EIO = -3,      /* a system call failed; the message names the file and errno */
    BP_SPOOL_EBUSY = -4,    /* open: the folder is open in another spool handle or process */
    BP_SPOOL_ETOOBIG = -5,  /* append: larger than max_bytes (or BP_SPOOL_MAX_ENTRY): never fits */
    BP_SPOOL_EBROKEN = -6,  /* an earlier fsync or rollback failed: close and open again */
    BP_SPOOL_ECORRUPT = -7, /* refused: a spool file is damaged (bad CRC, bad length, gap) */
    BP_SPOOL_EFOREIGN = -8, /* refused: a file in the folder is not part of a bppipe spool */
    BP_SPOOL_EVERSION = -9  /* refused: written in a format version this build cannot read */
};

/* The largest single entry. Lengths are 32-bit on disk; this bound keeps a damaged length from
 * asking for gigabytes of memory. */
#define BP_SPOOL_MAX_ENTRY ((size_t)1 << 30)

/* Format constants (docs/spool.md), for tests and tools that inspect a spool. */
#define BP_SPOOL_FORMAT_VERSION 1u
#define BP_SPOOL_SEGMENT_HEADER 24u /* magic 8, version 4, sequence 8, CRC32C 4 */
#define BP_SPOOL_FRAME_HEADER 12u   /* length 4, CRC32C of the bytes 4, CRC32C of both 4 */
#define BP_SPOOL_HEAD_SIZE 32u      /* magic 8, version 4, sequence 8, offset 8, CRC32C 4 */

/* One entry for bp_spool_append_many(); `data` may be NULL when `len` is 0. */
typedef struct bp_spool_entry {
    const void *data;
    size_t len;
} bp_spool_entry;

/* Opens the spool in folder `dir`, creating the folder (and missing parents) with mode 0700
 * when absent; files are created 0600. An existing spool is verified completely (every CRC)
 * before anything is changed: a damaged, foreign or newer-format spool is refused with
 * BP_SPOOL_ECORRUPT, EFOREIGN or EVERSION and left untouched; a torn tail left by a crash is
 * truncated away. `max_bytes` bounds the entries not yet consumed, counted with their framing
 * (bp_spool_bytes()); it may differ from the value used before. On success *out owns the spool
 * (release with bp_spool_close()). On failure *out is NULL and `err` (when not NULL) holds one
 * line naming the file, cut to errlen - 1 bytes as snprintf does. */
int bp_spool_open(const char *dir, uint64_t max_bytes, bp_spool **out, char *err, size_t errlen);

/* Appends one entry and returns 0 once it is durable. BP_SPOOL_FULL: the unconsumed entries plus
 * this one would exceed max_bytes; nothing was written and the caller should apply
 * backpressure and try again after consuming. `data` is copied; the caller keeps it. */
int bp_spool_append(bp_spool *s, const void *data, size_t len);

/* Appends n entries in order with one fsync, all or nothing: 0 means all n are durable; FULL or
 * an error means none of them was added (a batch larger than max_bytes is BP_SPOOL_ETOOBIG:
 * append it in parts). */
int bp_spool_append_many(bp_spool *s, const bp_spool_entry *entries, size_t n);

/* Reads entry i of the unconsumed ones (0 = oldest) and verifies its CRCs. *data points into
 * memory owned by the spool, valid until the next call on this spool. Reading i = 0, 1, 2, ...
 * in order is one read per entry; going back restarts from the oldest. BP_SPOOL_END when
 * i >= bp_spool_count(); BP_SPOOL_ECORRUPT when the entry no longer verifies. */
int bp_spool_peek(bp_spool *s, uint64_t i, const void **data, size_t *len);

/* Marks the n oldest entries consumed and returns 0 once that is durable; segments that are
 * wholly consumed are deleted. n = 0 only tidies (deletes consumed segments). n greater than
 * bp_spool_count() is BP_SPOOL_EINVAL and consumes nothing. */
int bp_spool_consume(bp_spool *s, uint64_t n);

/* Unconsumed entries, and their bytes with framing (what max_bytes bounds). 0 for NULL. */
uint64_t bp_spool_count(const bp_spool *s);
uint64_t bp_spool_bytes(const bp_spool *s);

/* The message of the last failed call on `s`, naming the file; "" when none. Valid until the
 * next call on `s`. */
const char *bp_spool_error(const bp_spool *s);

/* A fixed phrase for a status code ("spool is full", ...). */
const char *bp_spool_strerror(int status);

/* Closes the files and frees the spool; NULL is fine. Nothing is lost: every entry that an
 * append returned 0 for and that was not consumed is there at the next open. */
void bp_spool_close(bp_spool *s);

/* Internal, exposed for tests: CRC32C (Castagnoli) of n bytes, continuing from `crc` (0 to
 * start). */
uint32_t bp__crc32c(uint32_t crc, const void *p, size_t n);

#endif
