/* The keyed-state changelog of source-kafka: the bytes of its records, and the two maps built
 * from them (the changes not yet confirmed by an offset commit, and the latest record per key
 * while a restore reads the topic). Plain data, no librdkafka, so it is tested directly
 * (tests/kafka/test_kafka_changelog.c). docs/architecture.md ("Keyed state and exactness")
 * says why the scheme is exact.
 *
 * A record's key names one key of one owner in one input partition:
 *     u8 version (1) | u16 topic_len | topic | i32 partition | u16 ns_len | ns | u32 key_len | key
 * Its value holds both values a restore may need:
 *     u8 version (1) | u8 flags (1: before, 2: after) | u64 epoch | i64 before_from | i64 tag |
 *     u32 before_len | before | u32 after_len | after
 * All integers little-endian. `after` is valid from offset `tag` (what the commit that wrote it
 * commits for the input partition), `before` from `before_from` (the committed offset at which
 * it was confirmed). `epoch` grows with every restore of the input partition, so a record
 * written by an earlier owner after a newer one took over never wins over the newer one's. */
#ifndef BP_KAFKA_CHANGELOG_H
#define BP_KAFKA_CHANGELOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BP_CLOG_VERSION 1
#define BP_CLOG_MAX_TOPIC 249 /* Kafka's own limit on a topic name */
#define BP_CLOG_MAX_NS 200
#define BP_CLOG_MAX_KEY 1024  /* BP_STATE_MAX_KEY */
#define BP_CLOG_MAX_VALUE 65536 /* BP_STATE_MAX_VALUE */

/* A decoded record key; pointers into the bytes decoded (topic and ns are not NUL-terminated). */
typedef struct bp_clog_key {
    const char *topic;
    size_t topic_len;
    int32_t partition;
    const char *ns;
    size_t ns_len;
    const void *key;
    size_t key_len;
} bp_clog_key;

/* A decoded record value; pointers into the bytes decoded. */
typedef struct bp_clog_value {
    uint64_t epoch;
    int64_t before_from;
    int64_t tag;
    bool has_before;
    const void *before;
    size_t before_len;
    bool has_after;
    const void *after;
    size_t after_len;
} bp_clog_value;

/* Encodes `k` into a malloc'd buffer (*out, *out_len). Returns 0, or -1 (bounds above exceeded,
 * NULL arguments, out of memory). */
int bp_clog_key_encode(const bp_clog_key *k, uint8_t **out, size_t *out_len);
/* Decodes `len` bytes into `k` (pointing into `data`). Returns 0, or -1 when the bytes are not a
 * key of this version (short, long, bounds exceeded): nothing is trusted beyond what parsed. */
int bp_clog_key_decode(const void *data, size_t len, bp_clog_key *k);

int bp_clog_value_encode(const bp_clog_value *v, uint8_t **out, size_t *out_len);
int bp_clog_value_decode(const void *data, size_t len, bp_clog_value *v);

/* Which value a restore hands the host, given the input partition's committed offset
 * `committed` (-1: the group has none; `before_from` is -1 too for a value confirmed while the
 * group had none). */
typedef enum bp_clog_choice {
    BP_CLOG_AFTER = 1,   /* committed >= tag: the commit that wrote the record went through */
    BP_CLOG_BEFORE = 2,  /* before_from <= committed < tag: written, but not committed */
    BP_CLOG_REWOUND = 3  /* committed < before_from: the offsets were moved behind the state;
                            `before` is the oldest value known (the caller warns) */
} bp_clog_choice;

/* Picks the value of `v` as of `committed` into (*value, *len); *value is NULL (and *len 0)
 * when the chosen value is absent (a deleted key, a key new in an uncommitted batch): nothing
 * to restore. Returns which one was chosen. */
bp_clog_choice bp_clog_pick(const bp_clog_value *v, int64_t committed, const void **value,
                            size_t *len);

/* One key's record, as either map keeps it. */
typedef struct bp_clog_entry {
    const uint8_t *ekey; /* the encoded record key: ekey_bytes */
    size_t ekey_len;
    char *topic;   /* NUL-terminated copies of the key's parts, in the entry's own block */
    char *ns;
    int32_t partition;
    const void *key; /* into ekey */
    size_t key_len;
    uint64_t epoch;
    int64_t before_from, tag;
    bool has_before, has_after;
    uint8_t *before, *after; /* owned copies */
    bool before_inline;      /* `before` is in the entry's own block (a pending key's) */
    size_t before_len, after_len;
    uint64_t hash;
    struct bp_clog_entry *next; /* bucket chain */
    uint8_t ekey_bytes[];       /* then topic, ns and an inline before, in one block */
} bp_clog_entry;

typedef struct bp_clog_map {
    bp_clog_entry **buckets; /* a power of two of them (64, doubling) */
    size_t n_buckets, n;
} bp_clog_map;

/* The entry for the encoded key, or NULL. */
bp_clog_entry *bp_clog_map_find(const bp_clog_map *m, const void *ekey, size_t ekey_len);

/* The pending map: merges one change of the checkpoint being written. A key not pending yet
 * takes `before` (with `before_from`, the committed offset it is valid from) and `after`; a key
 * already pending keeps its `before` and `before_from` (the value its partition's committed
 * offset still stands for) and takes the new `after`. Values are copied. Returns 0 or -1
 * (bounds, out of memory: the map is unchanged). */
int bp_clog_pending_merge(bp_clog_map *m, const char *topic, int32_t partition, const char *ns,
                          const void *key, size_t key_len, bool had_before, const void *before,
                          size_t before_len, int64_t before_from, bool has_after,
                          const void *after, size_t after_len);

/* The restore map: offers one changelog record (raw key and value bytes as read). It replaces
 * what the map holds for that key when its (epoch, tag) is not older: the later of two equal
 * ones wins, as it came later in the log. Returns 1 when kept, 0 when an older record, -1 when
 * the bytes do not parse (the caller counts and warns) or out of memory. */
int bp_clog_latest_offer(bp_clog_map *m, const void *key, size_t key_len, const void *value,
                         size_t value_len);

/* Removes every entry of (topic, partition); returns how many. */
size_t bp_clog_map_drop_partition(bp_clog_map *m, const char *topic, int32_t partition);
/* Visits every entry (order unspecified). Returns 0 or the first non-zero a visit returned. */
int bp_clog_map_each(const bp_clog_map *m, int (*visit)(void *user, const bp_clog_entry *e),
                     void *user);
/* Empties the map, keeping the buckets. */
void bp_clog_map_clear(bp_clog_map *m);
/* Releases everything; the map may then be reused as if zero-initialised. NULL is ignored. */
void bp_clog_map_free(bp_clog_map *m);

#endif
