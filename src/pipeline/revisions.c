/* The revision ledger (revisions.h): the rules, the value format, and the ledger over the
 * host's keyed state with its bound. */
#include "pipeline/revisions.h"

#include "base/log.h"
#include "common/sha256.h"
#include "pipeline/instance.h"
#include "pipeline/record.h"
#include "pipeline/state.h"

#include <stdlib.h>
#include <string.h>

bp_ledger_verdict bp_ledger_decide(const bp_ledger_entry *e, int64_t version, bp_revision revision)
{
    if (!e)
        return BP_LEDGER_ACCEPT; /* never revised: a first version, or the first revision */
    bool known = version != BP_VERSION_NONE && e->version != BP_VERSION_NONE;
    if (e->retracted)
        /* Only a version known to be newer than the retraction brings the logical id back; a
         * second copy of the retraction is suppressed here too. */
        return known && version > e->version ? BP_LEDGER_ACCEPT : BP_LEDGER_RETRACTED;
    if (known)
        return version > e->version ? BP_LEDGER_ACCEPT : BP_LEDGER_SUPERSEDED;
    /* No order to compare: an original never undoes its correction, a revision wins (the last
     * one read). */
    return revision == BP_REVISION_NONE ? BP_LEDGER_SUPERSEDED : BP_LEDGER_ACCEPT;
}

static void put_i64(unsigned char *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(u >> (8 * i));
}

static int64_t get_i64(const unsigned char *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u |= (uint64_t)p[i] << (8 * i);
    return (int64_t)u;
}

size_t bp_ledger_entry_encode(const bp_ledger_entry *e, unsigned char *buf, size_t cap)
{
    if (cap < BP_LEDGER_VALUE_LEN)
        return 0;
    put_i64(buf, e->version);
    buf[8] = e->retracted ? 1 : 0;
    put_i64(buf + 9, e->applied_ms);
    return BP_LEDGER_VALUE_LEN;
}

int bp_ledger_entry_decode(bp_ledger_entry *e, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    if (len != BP_LEDGER_VALUE_LEN || p[8] > 1)
        return -1;
    e->version = get_i64(p);
    e->retracted = p[8] == 1;
    e->applied_ms = get_i64(p + 9);
    return 0;
}

/* ---- the ledger over keyed state -------------------------------------------------------- */

struct bp_revisions {
    bp_ctx owner; /* a host instance of no plugin, named "revisions" */
    uint64_t max_keys;
    uint64_t added; /* keys added since the last trim */
    bp_revision_counts counts;
};

bp_revisions *bp_revisions_open(const char *file, uint64_t max_keys)
{
    bp_revisions *lg = calloc(1, sizeof *lg);
    if (!lg || !(lg->owner.name = strdup("revisions"))) {
        free(lg);
        bp_log("revisions", BP_LOG_ERROR, "out of memory for the revision ledger");
        return NULL;
    }
    lg->max_keys = max_keys;
    /* The store itself is unbounded for this owner: a put never fails for room, the trim
     * below keeps the bound by forgetting the oldest entries instead. */
    int rc = bp_state_open(&lg->owner, "revision.1", 0, file);
    if (rc != BP_OK) {
        bp_log("revisions", BP_LOG_ERROR, "cannot keep the revision ledger (status %d)", rc);
        free(lg->owner.name);
        free(lg);
        return NULL;
    }
    return lg;
}

void bp_revisions_close(bp_revisions *lg)
{
    if (!lg)
        return;
    bp_state_forget_owner(&lg->owner);
    free(lg->owner.name);
    free(lg);
}

void bp_revisions_get_counts(const bp_revisions *lg, bp_revision_counts *out)
{
    memset(out, 0, sizeof *out);
    if (lg)
        *out = lg->counts;
}

/* The key of a logical id: the id itself, or, when it is longer than a key may be, its hash
 * after a 0x01 byte no id starts with (so it never passes for an id). */
static size_t make_key(const char *logical_id, char *key, size_t cap)
{
    size_t n = strlen(logical_id);
    if (n >= 1 && n <= BP_STATE_MAX_KEY && n <= cap && logical_id[0] != '\x01') {
        memcpy(key, logical_id, n);
        return n;
    }
    key[0] = '\x01';
    bp_sha256_id(logical_id, n, 64, key + 1, cap - 1);
    return 1 + strlen(key + 1);
}

/* ---- the bound: every max_keys/16 new keys, each partition over max_keys loses its oldest --- */

typedef struct held {
    char *topic;
    int32_t partition;
    char *key;
    size_t key_len;
    int64_t applied_ms;
} held;

typedef struct walk {
    held *items;
    size_t n, cap;
    bool failed;
} walk;

static int collect(void *user, const char *topic, int32_t partition, const void *key,
                   size_t key_len, const void *value, size_t len)
{
    walk *w = user;
    bp_ledger_entry e;
    if (bp_ledger_entry_decode(&e, value, len) != 0)
        e.applied_ms = INT64_MIN; /* unreadable: the first to go */
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        held *items = realloc(w->items, cap * sizeof *items);
        if (!items) {
            w->failed = true;
            return 1;
        }
        w->items = items;
        w->cap = cap;
    }
    held *h = &w->items[w->n];
    h->topic = topic ? strdup(topic) : NULL;
    h->key = malloc(key_len);
    if ((topic && !h->topic) || !h->key) {
        free(h->topic);
        free(h->key);
        w->failed = true;
        return 1;
    }
    memcpy(h->key, key, key_len);
    h->key_len = key_len;
    h->partition = partition;
    h->applied_ms = e.applied_ms;
    w->n++;
    return 0;
}

static bool same_partition(const held *a, const held *b)
{
    if (a->partition != b->partition || !a->topic != !b->topic)
        return false;
    return !a->topic || strcmp(a->topic, b->topic) == 0;
}

/* By partition, then oldest first. */
static int by_partition_then_age(const void *x, const void *y)
{
    const held *a = x, *b = y;
    int c = (a->topic ? 1 : 0) - (b->topic ? 1 : 0);
    if (c == 0 && a->topic)
        c = strcmp(a->topic, b->topic);
    if (c == 0 && a->partition != b->partition)
        c = a->partition < b->partition ? -1 : 1;
    if (c == 0 && a->applied_ms != b->applied_ms)
        c = a->applied_ms < b->applied_ms ? -1 : 1;
    return c;
}

/* Deletes the oldest entries of every partition holding more than max_keys, in the batch of
 * `stamp` (committed with it like any change). */
static void trim(bp_revisions *lg, const bp_record *stamp)
{
    walk w = {0};
    bp_state_each(&lg->owner, collect, &w);
    if (!w.failed && w.n > lg->max_keys) {
        qsort(w.items, w.n, sizeof *w.items, by_partition_then_age);
        for (size_t i = 0; i < w.n;) {
            size_t j = i;
            while (j < w.n && same_partition(&w.items[i], &w.items[j]))
                j++;
            bp_record at = *stamp;
            at.topic = w.items[i].topic;
            at.partition = w.items[i].partition;
            at.state_scope = 0; /* the live scope of that partition */
            for (size_t k = i; j - i > lg->max_keys && k < j - lg->max_keys; k++)
                if (bp_state_put(&lg->owner, &at, w.items[k].key, w.items[k].key_len, NULL, 0,
                                 false) == BP_OK)
                    lg->counts.evicted++;
            i = j;
        }
    }
    if (w.failed)
        bp_log("revisions", BP_LOG_WARN,
               "out of memory trimming the revision ledger to "
               "revisions_max_keys; it is tried again later");
    for (size_t i = 0; i < w.n; i++) {
        free(w.items[i].topic);
        free(w.items[i].key);
    }
    free(w.items);
}

int bp_revisions_apply(bp_revisions *lg, bp_record *rec, int64_t now_ms)
{
    if (!lg || !rec->logical_id)
        return 0;
    char key[BP_STATE_MAX_KEY];
    size_t klen = make_key(rec->logical_id, key, sizeof key);
    unsigned char buf[64];
    size_t len = 0;
    bp_ledger_entry e;
    int rc = bp_state_get(&lg->owner, rec, key, klen, buf, sizeof buf, &len);
    bool found = rc == BP_OK && bp_ledger_entry_decode(&e, buf, len) == 0;
    if (rc != BP_OK && rc != BP_END)
        bp_log("revisions", BP_LOG_WARN,
               "a revision ledger entry could not be read (status "
               "%d); the record is taken as a first version",
               rc);
    switch (bp_ledger_decide(found ? &e : NULL, rec->version, rec->revision)) {
    case BP_LEDGER_SUPERSEDED: rec->skip_reason = BP_SKIP_SUPERSEDED; return 1;
    case BP_LEDGER_RETRACTED: rec->skip_reason = BP_SKIP_RETRACTED; return 1;
    case BP_LEDGER_ACCEPT: break;
    }
    if (found && rec->revision == BP_REVISION_NONE)
        rec->revision = BP_REVISION_REPLACE; /* it replaces what was delivered before */
    if (rec->revision == BP_REVISION_NONE)
        return 0; /* a first version: nothing to remember */
    bp_ledger_entry next = {rec->version, rec->revision == BP_REVISION_RETRACT, now_ms};
    len = bp_ledger_entry_encode(&next, buf, sizeof buf);
    if (bp_state_put(&lg->owner, rec, key, klen, buf, len, true) != BP_OK) {
        lg->counts.lost++;
        bp_log("revisions", BP_LOG_ERROR,
               "cannot keep a revision ledger entry: a replay of an "
               "older version of it would not be recognised; free memory");
        return 0;
    }
    if (!found && lg->max_keys && ++lg->added >= (lg->max_keys + 15) / 16) {
        lg->added = 0;
        trim(lg, rec);
    }
    return 0;
}
