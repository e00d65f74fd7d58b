#ifndef BP_COMMON_REVISABLE_H
#define BP_COMMON_REVISABLE_H
/* A patient's latest readings that a correction or retraction may still change, kept apart from
 * the history folded before them (issue 26). detector-trend's history and the tree models'
 * history features keep different folds but the same window: which readings stay revisable,
 * where a correction goes, and how the window is stored. Each caller owns its array (its own
 * capacity) and its fold; these functions move the entries and call the fold for what leaves. */

#include <stddef.h>
#include <stdint.h>

typedef struct bp_revisable_entry {
    uint64_t id;   /* bp_revisable_id of the logical id; 0: none (never revised) */
    int64_t at_ms; /* effective time */
    double sys, dia;
} bp_revisable_entry;

/* Folds one reading into the caller's history `base`. */
typedef void (*bp_revisable_fold_fn)(void *ctx, void *base, const bp_revisable_entry *e);

/* A 64-bit digest of a logical id (SHA-256's first 8 bytes, little-endian), never 0. */
uint64_t bp_revisable_id(const char *logical_id);

/* The index of the entry with `id` among e[0..n), or -1. */
int bp_revisable_find(const bp_revisable_entry *e, int n, uint64_t id);

/* Folds the oldest entries into `base` while more than `keep` remain, or while the oldest has
 * no id (nothing can revise it, nor anything before it). */
void bp_revisable_trim(bp_revisable_entry *e, int *n, int keep, bp_revisable_fold_fn fold,
                       void *ctx, void *base);

/* Removes entry i. */
void bp_revisable_remove(bp_revisable_entry *e, int *n, int i);

/* Opens a slot for a reading at `at_ms` that is not kept yet: after the last entry not later
 * than it, where it would have come in time. When all `cap` slots are used the oldest entry is
 * folded into `base` first. Returns the slot's index; *n counts it. */
int bp_revisable_insert_at(bp_revisable_entry *e, int *n, int cap, int64_t at_ms,
                           bp_revisable_fold_fn fold, void *ctx, void *base);

/* The stored form of a window with n >= 1 entries beside two folded histories `now` and `base`,
 * each given as its own encoding (at most 255 bytes):
 *   u8 BP_REVISABLE_LAYOUT, u8 n, u8 length + `now`, u8 length + `base`,
 *   n x (u64 id, i64 at_ms, f64 sys, f64 dia), little-endian, oldest first.
 * 0x80 is a first byte the plain (window-less) encodings of both callers never have, so a value
 * stored before revisions still reads as a history without entries. Returns the length. */
#define BP_REVISABLE_LAYOUT 0x80
#define BP_REVISABLE_ENTRY_BYTES 32
size_t bp_revisable_encode(uint8_t *out, const uint8_t *now, size_t now_len, const uint8_t *base,
                           size_t base_len, const bp_revisable_entry *e, int n);

/* The parts of a stored window (pointers into `in`): 0, or -1 when the bytes are not a window
 * of 1 to `cap` entries whose values are not infinite (NaN is allowed: an absent value). */
typedef struct bp_revisable_parts {
    const uint8_t *now, *base;
    size_t now_len, base_len;
    int n;
} bp_revisable_parts;
int bp_revisable_decode(const uint8_t *in, size_t len, int cap, bp_revisable_parts *parts,
                        bp_revisable_entry *e);

#endif
