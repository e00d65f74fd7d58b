/* The hash table of one partition's keys and values (see state_table.h). Pure: no globals. */
#include "pipeline/state_table.h"

#include <stdlib.h>
#include <string.h>

#define FNV_PRIME 1099511628211ull
#define FNV_STEP(h, byte) (((h) ^ (byte)) * FNV_PRIME)

uint64_t bp_state_key_hash(uint32_t owner, const void *key, size_t len)
{
    uint64_t h = 1469598103934665603ull ^ owner; /* FNV-1a */
    const unsigned char *p = key;
    size_t i = 0;
    /* Four bytes a turn: the same hash (it orders the buckets, so the snapshot files' bytes),
     * with a quarter of the loop's counting; every state get and put hashes its key. */
    for (; i + 4 <= len; i += 4)
        h = FNV_STEP(FNV_STEP(FNV_STEP(FNV_STEP(h, p[i]), p[i + 1]), p[i + 2]), p[i + 3]);
    for (; i < len; i++)
        h = FNV_STEP(h, p[i]);
    return h ^ (h >> 31);
}

/* The bit of a hash in its bucket's signature: the top six bits (the bucket is the low ones). */
static uint64_t sig_bit(uint64_t h)
{
    return 1ull << (h >> 58);
}

/* n buckets and their signatures in one zeroed block (free(buckets) frees both). */
static bp_state_entry **buckets_new(size_t n, uint64_t **sigs)
{
    bp_state_entry **b = calloc(n, sizeof *b + sizeof **sigs);
    *sigs = b ? (uint64_t *)(b + n) : NULL;
    return b;
}

/* Bucket i's signature again from its chain (an entry left it). */
static void resign(bp_state_table *t, size_t i)
{
    uint64_t sig = 0;
    for (const bp_state_entry *e = t->buckets[i]; e; e = e->hnext)
        sig |= sig_bit(e->hash);
    t->sigs[i] = sig;
}

int bp_state_table_init(bp_state_table *t)
{
    memset(t, 0, sizeof *t);
    t->n_buckets = 64;
    t->buckets = buckets_new(t->n_buckets, &t->sigs);
    return t->buckets ? 0 : -1;
}

static void free_entry(bp_state_entry *e)
{
    for (bp_state_version *v = e->versions, *next; v; v = next) {
        next = v->next;
        free(v);
    }
    free(e->base_block);
    free(e);
}

void bp_state_table_free(bp_state_table *t)
{
    for (size_t i = 0; i < t->n_buckets; i++)
        for (bp_state_entry *e = t->buckets[i], *next; e; e = next) {
            next = e->hnext;
            free_entry(e);
        }
    free(t->buckets);
    t->buckets = NULL;
    t->sigs = NULL;
    t->n_buckets = t->n_entries = 0;
}

bp_state_entry *bp_state_table_find(const bp_state_table *t, uint32_t owner, const void *key,
                                    size_t len, uint64_t h)
{
    size_t i = h & (t->n_buckets - 1);
    if (!(t->sigs[i] & sig_bit(h)))
        return NULL;
    for (bp_state_entry *e = t->buckets[i]; e; e = e->hnext)
        if (e->hash == h && e->owner == owner && e->key_len == len && memcmp(e->key, key, len) == 0)
            return e;
    return NULL;
}

/* Twice the buckets. The order of each new chain follows from the old ones, so the order
 * entries are visited in (and the snapshot files' bytes) depends only on the insertions. */
static void grow(bp_state_table *t)
{
    size_t n = t->n_buckets * 2;
    uint64_t *sigs;
    bp_state_entry **b = buckets_new(n, &sigs);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < t->n_buckets; i++) {
        for (bp_state_entry *e = t->buckets[i], *next; e; e = next) {
            next = e->hnext;
            e->hnext = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            sigs[e->hash & (n - 1)] |= sig_bit(e->hash);
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->sigs = sigs;
    t->n_buckets = n;
}

bp_state_entry *bp_state_table_add(bp_state_table *t, uint32_t owner, const void *key, size_t len,
                                   uint64_t h)
{
    bp_state_entry *e = malloc(sizeof *e + len);
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    memcpy(e->key, key, len);
    e->key_len = len;
    e->owner = owner;
    e->hash = h;
    if (t->n_entries + 1 > t->n_buckets)
        grow(t);
    e->hnext = t->buckets[h & (t->n_buckets - 1)];
    t->buckets[h & (t->n_buckets - 1)] = e;
    t->sigs[h & (t->n_buckets - 1)] |= sig_bit(h);
    t->n_entries++;
    t->keys[owner]++;
    return e;
}

void bp_state_table_remove(bp_state_table *t, bp_state_entry *e)
{
    size_t i = e->hash & (t->n_buckets - 1);
    bp_state_entry **p = &t->buckets[i];
    while (*p && *p != e)
        p = &(*p)->hnext;
    if (*p)
        *p = e->hnext;
    t->n_entries--;
    t->keys[e->owner]--;
    free_entry(e);
    resign(t, i);
}

void bp_state_table_purge_owner(bp_state_table *t, uint32_t owner)
{
    for (size_t i = 0; i < t->n_buckets; i++) {
        for (bp_state_entry **p = &t->buckets[i]; *p;) {
            bp_state_entry *e = *p;
            if (e->owner == owner) {
                *p = e->hnext;
                t->n_entries--;
                t->keys[owner]--;
                free_entry(e);
            } else {
                p = &e->hnext;
            }
        }
        resign(t, i);
    }
}

bool bp_state_entry_current(const bp_state_entry *e, const unsigned char **value, size_t *len)
{
    if (!(e->last ? e->last->present : e->base_present))
        return false;
    *value = e->last ? e->last->value : e->base;
    *len = e->last ? e->last->len : e->base_len;
    return true;
}

bp_state_version *bp_state_version_new(uint64_t seq, const void *value, size_t len, bool present)
{
    size_t n = present ? len : 0;
    bp_state_version *v = malloc(sizeof *v + n);
    if (!v)
        return NULL;
    *v = (bp_state_version){.seq = seq, .present = present, .len = n, .value = n ? v->data : NULL};
    if (n)
        memcpy(v->data, value, n);
    return v;
}

void bp_state_entry_set_base(bp_state_entry *e, unsigned char *value, size_t len)
{
    free(e->base_block);
    e->base_block = value;
    e->base = value;
    e->base_len = len;
    e->base_present = true;
}

void bp_state_entry_replace_last(bp_state_entry *e, bp_state_version *v)
{
    bp_state_version **at = &e->versions;
    while (*at != e->last)
        at = &(*at)->next;
    free(e->last);
    *at = e->last = v;
}

void bp_state_entry_push(bp_state_entry *e, bp_state_version *v)
{
    if (e->last)
        e->last->next = v;
    else
        e->versions = v;
    e->last = v;
}

bool bp_state_entry_fold(bp_state_entry *e)
{
    bp_state_version *v = e->versions;
    if (!v)
        return false;
    free(e->base_block);
    e->base_block = v; /* its bytes are the base now */
    e->base = v->value;
    e->base_len = v->len;
    e->base_present = v->present;
    e->versions = v->next;
    if (!e->versions)
        e->last = NULL;
    return true;
}

bool bp_state_entry_empty(const bp_state_entry *e)
{
    return !e->base_present && !e->versions;
}
