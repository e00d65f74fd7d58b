/* Private to src/pipeline/state*.c.
 *
 * The keys and values of one partition's keyed state: a chained hash table of entries, each
 * holding a key of one owner (an instance's slot), its value as of the last commit (the base)
 * and one version per uncommitted batch that changed it, oldest first.
 *
 * Pure: no globals and no lock; the caller (state.c) holds the store's lock around every call.
 * The layout of an entry is what plugin.h's "about 150 bytes per key" measures. */
#ifndef BPPIPE_STATE_TABLE_H
#define BPPIPE_STATE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* At most this many instances keep state in one process: an entry's owner is a slot below it
 * (state_owners.h). */
#define BP_STATE_MAX_OWNERS 64

/* The value one uncommitted batch gave a key, in one block with its bytes. */
typedef struct bp_state_version {
    struct bp_state_version *next; /* the next batch's, ascending seq */
    uint64_t seq;
    bool present; /* false: the batch deleted the key */
    size_t len;
    unsigned char *value; /* `data`, NULL when empty or deleted */
    unsigned char data[];
} bp_state_version;

typedef struct bp_state_entry {
    struct bp_state_entry *hnext; /* bucket chain */
    uint64_t hash;
    uint32_t owner;
    size_t key_len;
    bool base_present; /* the value as of the last commit */
    size_t base_len;
    unsigned char *base;
    void *base_block; /* the allocation holding `base`: a folded version, or a restored value */
    bp_state_version *versions, *last;
    unsigned char key[]; /* in the entry's own block: one allocation, one cache line fewer */
} bp_state_entry;

typedef struct bp_state_table {
    bp_state_entry **buckets; /* a power of two of them */
    /* per bucket, a bit for each entry in its chain (bp_state_sig_bit of its hash), in the
     * buckets' block: most lookups of a key that is not there (the alarm stage asks for each
     * condition of each reading) end here, without reading an entry */
    uint64_t *sigs;
    size_t n_buckets, n_entries;
    uint64_t keys[BP_STATE_MAX_OWNERS]; /* entries per owner slot (for max_keys) */
} bp_state_table;

/* The hash of `owner`'s key (FNV-1a, folded). */
uint64_t bp_state_key_hash(uint32_t owner, const void *key, size_t len);

/* An empty table (64 buckets). 0, or -1 on ENOMEM (nothing to free then). */
int bp_state_table_init(bp_state_table *t);
/* Frees every entry and the buckets; `t` must be initialized again before reuse. */
void bp_state_table_free(bp_state_table *t);

/* The entry of `owner`'s key whose hash is `h`, or NULL. */
bp_state_entry *bp_state_table_find(const bp_state_table *t, uint32_t owner, const void *key,
                                    size_t len, uint64_t h);
/* A new entry for a key not in the table (a copy of the key, no value, no version), doubling
 * the buckets when the entries outnumber them. NULL on ENOMEM. */
bp_state_entry *bp_state_table_add(bp_state_table *t, uint32_t owner, const void *key, size_t len,
                                   uint64_t h);
/* Unlinks `e` from the table and frees it with its versions. */
void bp_state_table_remove(bp_state_table *t, bp_state_entry *e);
/* Removes and frees every entry of `owner`. */
void bp_state_table_purge_owner(bp_state_table *t, uint32_t owner);

/* A new version of batch `seq` (its next NULL) holding a copy of `value` (len bytes), or a
 * delete when !present, in one allocation (free() frees both). NULL on ENOMEM. */
bp_state_version *bp_state_version_new(uint64_t seq, const void *value, size_t len, bool present);

/* The value a reader sees now: the newest version, else the base. Returns whether there is one
 * (false: never set, or deleted), with *value and *len set when there is. */
bool bp_state_entry_current(const bp_state_entry *e, const unsigned char **value, size_t *len);
/* Replaces the base with `value` (len bytes, malloc'd: the entry's from now on), present: a
 * committed value restored from elsewhere (a snapshot file, the source's changelog). */
void bp_state_entry_set_base(bp_state_entry *e, unsigned char *value, size_t len);
/* Appends `v` (its next NULL) as the entry's newest version; the entry owns it from now on. */
void bp_state_entry_push(bp_state_entry *e, bp_state_version *v);
/* Puts `v` (its next NULL) in the place of the entry's newest version, which is freed: the
 * same batch changed the key again. */
void bp_state_entry_replace_last(bp_state_entry *e, bp_state_version *v);
/* The oldest version becomes the base (its batch is committed). Returns false when the entry
 * had no version. */
bool bp_state_entry_fold(bp_state_entry *e);
/* True when the entry holds nothing: no base value and no version (it can go). */
bool bp_state_entry_empty(const bp_state_entry *e);

#endif
