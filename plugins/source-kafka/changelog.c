#include "changelog.h"

#include "common/le_bytes.h"

#include <stdlib.h>
#include <string.h>

/* ---- little-endian bytes -------------------------------------------------------------- */

typedef struct wbuf {
    uint8_t *p;
    size_t n;
} wbuf;

static void put_u8(wbuf *w, uint8_t v) { w->p[w->n++] = v; }

/* The low `bytes` bytes of `v`, least significant first (one store for a constant `bytes` on
 * a little-endian machine: bp_le_put_n). */
static inline void put_le(wbuf *w, uint64_t v, int bytes)
{
    w->n = (size_t)(bp_le_put_n(w->p + w->n, v, (size_t)bytes) - w->p);
}

static void put_bytes(wbuf *w, const void *src, size_t len)
{
    if (len)
        memcpy(w->p + w->n, src, len);
    w->n += len;
}

typedef struct rbuf {
    const uint8_t *p;
    size_t n, at;
    bool bad;
} rbuf;

static uint64_t get_le(rbuf *r, int bytes)
{
    if (r->bad || r->n - r->at < (size_t)bytes) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)r->p[r->at++] << (8 * i);
    return v;
}

/* `len` bytes at the read position, or NULL (and r->bad) when fewer are left. */
static const void *get_bytes(rbuf *r, size_t len)
{
    if (r->bad || r->n - r->at < len) {
        r->bad = true;
        return NULL;
    }
    const void *at = r->p + r->at;
    r->at += len;
    return at;
}

/* ---- keys and values ------------------------------------------------------------------ */

/* The longest key bp_clog_key_encode writes. */
#define KEY_MAX_BYTES (1 + 2 + BP_CLOG_MAX_TOPIC + 4 + 2 + BP_CLOG_MAX_NS + 4 + BP_CLOG_MAX_KEY)

/* The length of `k`'s encoding, or 0 when it is not a key. */
static size_t key_size(const bp_clog_key *k)
{
    if (!k || !k->topic || !k->ns || (!k->key && k->key_len) || k->topic_len == 0 ||
        k->topic_len > BP_CLOG_MAX_TOPIC || k->ns_len > BP_CLOG_MAX_NS ||
        k->key_len > BP_CLOG_MAX_KEY)
        return 0;
    return 1 + 2 + k->topic_len + 4 + 2 + k->ns_len + 4 + k->key_len;
}

/* Writes `k` (key_size bytes) at `out`. */
static void key_write(const bp_clog_key *k, uint8_t *out)
{
    wbuf w = {out, 0};
    put_u8(&w, BP_CLOG_VERSION);
    put_le(&w, k->topic_len, 2);
    put_bytes(&w, k->topic, k->topic_len);
    put_le(&w, (uint32_t)k->partition, 4);
    put_le(&w, k->ns_len, 2);
    put_bytes(&w, k->ns, k->ns_len);
    put_le(&w, k->key_len, 4);
    put_bytes(&w, k->key, k->key_len);
}

int bp_clog_key_encode(const bp_clog_key *k, uint8_t **out, size_t *out_len)
{
    size_t len = key_size(k);
    uint8_t *p = len && out && out_len ? malloc(len) : NULL;
    if (!p)
        return -1;
    key_write(k, p);
    *out = p;
    *out_len = len;
    return 0;
}

int bp_clog_key_decode(const void *data, size_t len, bp_clog_key *k)
{
    if (!data || !k)
        return -1;
    rbuf r = {data, len, 0, false};
    if (get_le(&r, 1) != BP_CLOG_VERSION)
        return -1;
    k->topic_len = (size_t)get_le(&r, 2);
    k->topic = get_bytes(&r, k->topic_len);
    k->partition = (int32_t)(uint32_t)get_le(&r, 4);
    k->ns_len = (size_t)get_le(&r, 2);
    k->ns = get_bytes(&r, k->ns_len);
    k->key_len = (size_t)get_le(&r, 4);
    if (r.bad || k->key_len > BP_CLOG_MAX_KEY)
        return -1;
    k->key = get_bytes(&r, k->key_len);
    if (r.bad || r.at != len || k->topic_len == 0 || k->topic_len > BP_CLOG_MAX_TOPIC ||
        k->ns_len > BP_CLOG_MAX_NS || k->partition < 0 || memchr(k->topic, 0, k->topic_len) ||
        memchr(k->ns, 0, k->ns_len))
        return -1;
    return 0;
}

int bp_clog_value_encode(const bp_clog_value *v, uint8_t **out, size_t *out_len)
{
    size_t blen = v && v->has_before ? v->before_len : 0;
    size_t alen = v && v->has_after ? v->after_len : 0;
    if (!v || !out || !out_len || blen > BP_CLOG_MAX_VALUE || alen > BP_CLOG_MAX_VALUE ||
        (blen && !v->before) || (alen && !v->after))
        return -1;
    size_t len = 1 + 1 + 8 + 8 + 8 + 4 + blen + 4 + alen;
    wbuf w = {malloc(len), 0};
    if (!w.p)
        return -1;
    put_u8(&w, BP_CLOG_VERSION);
    put_u8(&w, (uint8_t)((v->has_before ? 1 : 0) | (v->has_after ? 2 : 0)));
    put_le(&w, v->epoch, 8);
    put_le(&w, (uint64_t)v->before_from, 8);
    put_le(&w, (uint64_t)v->tag, 8);
    put_le(&w, blen, 4);
    put_bytes(&w, v->before, blen);
    put_le(&w, alen, 4);
    put_bytes(&w, v->after, alen);
    *out = w.p;
    *out_len = w.n;
    return 0;
}

int bp_clog_value_decode(const void *data, size_t len, bp_clog_value *v)
{
    if (!data || !v)
        return -1;
    rbuf r = {data, len, 0, false};
    if (get_le(&r, 1) != BP_CLOG_VERSION)
        return -1;
    uint64_t flags = get_le(&r, 1);
    v->has_before = flags & 1;
    v->has_after = flags & 2;
    v->epoch = get_le(&r, 8);
    v->before_from = (int64_t)get_le(&r, 8);
    v->tag = (int64_t)get_le(&r, 8);
    v->before_len = (size_t)get_le(&r, 4);
    if (r.bad || v->before_len > BP_CLOG_MAX_VALUE)
        return -1;
    v->before = get_bytes(&r, v->before_len);
    v->after_len = (size_t)get_le(&r, 4);
    if (r.bad || v->after_len > BP_CLOG_MAX_VALUE)
        return -1;
    v->after = get_bytes(&r, v->after_len);
    if (r.bad || r.at != len || (flags & ~3u) || v->tag < 0 || v->before_from < -1 ||
        (!v->has_before && v->before_len) || (!v->has_after && v->after_len))
        return -1;
    return 0;
}

bp_clog_choice bp_clog_pick(const bp_clog_value *v, int64_t committed, const void **value,
                            size_t *len)
{
    bp_clog_choice c = committed >= v->tag          ? BP_CLOG_AFTER
                       : committed >= v->before_from ? BP_CLOG_BEFORE
                                                     : BP_CLOG_REWOUND;
    bool present = c == BP_CLOG_AFTER ? v->has_after : v->has_before;
    *value = present ? (c == BP_CLOG_AFTER ? v->after : v->before) : NULL;
    *len = present ? (c == BP_CLOG_AFTER ? v->after_len : v->before_len) : 0;
    /* a present value of length 0 is still a value: point at something that is not NULL */
    if (present && !*value)
        *value = "";
    return c;
}

/* ---- the maps ------------------------------------------------------------------------- */

/* The map's own buckets, never an identity (nothing stores it). Eight bytes a step: a record
 * key is some 170 bytes (topic, owner, the plugin's key), and FNV-1a's byte a step was most of
 * a pending merge. The last mix spreads every bit over the low ones the buckets take. */
static uint64_t hash_bytes(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, sizeof w);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    uint64_t tail = 0;
    for (size_t i = 0; i < len; i++)
        tail |= (uint64_t)p[i] << (8 * i);
    h = (h ^ tail) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
}

static bp_clog_entry *find_hashed(const bp_clog_map *m, const void *ekey, size_t ekey_len,
                                  uint64_t h)
{
    if (!m->n_buckets)
        return NULL;
    for (bp_clog_entry *e = m->buckets[h & (m->n_buckets - 1)]; e; e = e->next)
        if (e->hash == h && e->ekey_len == ekey_len && memcmp(e->ekey, ekey, ekey_len) == 0)
            return e;
    return NULL;
}

bp_clog_entry *bp_clog_map_find(const bp_clog_map *m, const void *ekey, size_t ekey_len)
{
    if (!m || !m->n_buckets || !ekey)
        return NULL;
    return find_hashed(m, ekey, ekey_len, hash_bytes(ekey, ekey_len));
}

static void entry_free(bp_clog_entry *e)
{
    if (!e->before_inline)
        free(e->before);
    free(e->after);
    free(e);
}

static int grow(bp_clog_map *m)
{
    if (m->n < m->n_buckets)
        return 0;
    size_t nb = m->n_buckets ? m->n_buckets * 2 : 64;
    bp_clog_entry **b = calloc(nb, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < m->n_buckets; i++) {
        for (bp_clog_entry *e = m->buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->n_buckets = nb;
    return 0;
}

/* A new entry for the encoded key `ekey`, whose parts `k` are (k's pointers may be elsewhere),
 * and its hash: one block holds the entry, a copy of `ekey` (a lookup compares it without
 * reading another allocation), NUL-terminated copies of the topic and the owner, and `room`
 * more bytes after them. Not yet in the map. */
static bp_clog_entry *entry_new(const uint8_t *ekey, size_t ekey_len, const bp_clog_key *k,
                                uint64_t hash, size_t room)
{
    bp_clog_entry *e =
        calloc(1, sizeof *e + ekey_len + k->topic_len + 1 + k->ns_len + 1 + room);
    if (!e)
        return NULL;
    memcpy(e->ekey_bytes, ekey, ekey_len);
    e->topic = (char *)e->ekey_bytes + ekey_len;
    memcpy(e->topic, k->topic, k->topic_len); /* calloc wrote the NULs */
    e->ns = e->topic + k->topic_len + 1;
    memcpy(e->ns, k->ns, k->ns_len);
    e->ekey = e->ekey_bytes;
    e->ekey_len = ekey_len;
    e->partition = k->partition;
    e->key = e->ekey_bytes + ekey_len - k->key_len; /* the key ends the encoding */
    e->key_len = k->key_len;
    e->hash = hash;
    return e;
}

static void insert(bp_clog_map *m, bp_clog_entry *e)
{
    size_t b = e->hash & (m->n_buckets - 1);
    e->next = m->buckets[b];
    m->buckets[b] = e;
    m->n++;
}

/* Replaces *dst (length *dst_len) by a copy of `src`; -1 leaves it as it was. A value of the
 * same length is copied over the old one: a patient's history changes every batch, its length
 * seldom. */
static int set_copy(uint8_t **dst, size_t *dst_len, const void *src, size_t len)
{
    if (*dst && len && *dst_len == len) {
        memcpy(*dst, src, len);
        return 0;
    }
    uint8_t *c = malloc(len ? len : 1);
    if (!c)
        return -1;
    if (len)
        memcpy(c, src, len);
    free(*dst);
    *dst = c;
    *dst_len = len;
    return 0;
}

int bp_clog_pending_merge(bp_clog_map *m, const char *topic, int32_t partition, const char *ns,
                          const void *key, size_t key_len, bool had_before, const void *before,
                          size_t before_len, int64_t before_from, bool has_after,
                          const void *after, size_t after_len)
{
    if (!m || !topic || !ns || partition < 0 || (had_before && before_len && !before) ||
        (has_after && after_len && !after) || before_len > BP_CLOG_MAX_VALUE ||
        after_len > BP_CLOG_MAX_VALUE)
        return -1;
    bp_clog_key k = {topic, strlen(topic), partition, ns, strlen(ns), key, key_len};
    /* looked up from the stack: only a key new to the map is copied to the heap */
    uint8_t kb[KEY_MAX_BYTES];
    size_t ekey_len = key_size(&k);
    if (!ekey_len)
        return -1;
    key_write(&k, kb);
    uint64_t hash = hash_bytes(kb, ekey_len);
    bp_clog_entry *e = find_hashed(m, kb, ekey_len, hash);
    if (e) {
        if (has_after && set_copy(&e->after, &e->after_len, after, after_len) != 0)
            return -1;
        e->has_after = has_after;
        if (!has_after) {
            free(e->after);
            e->after = NULL;
            e->after_len = 0;
        }
        return 0;
    }
    /* `before` stays as it is while the key is pending: it goes in the entry's block */
    size_t room = had_before ? before_len + 1 : 0;
    if (grow(m) != 0 || !(e = entry_new(kb, ekey_len, &k, hash, room)))
        return -1;
    if (had_before) {
        e->before = (uint8_t *)e->ns + k.ns_len + 1;
        if (before_len)
            memcpy(e->before, before, before_len);
        e->before_len = before_len;
        e->before_inline = true;
    }
    if (has_after && set_copy(&e->after, &e->after_len, after, after_len) != 0) {
        entry_free(e);
        return -1;
    }
    e->has_before = had_before;
    e->has_after = has_after;
    e->before_from = before_from;
    insert(m, e);
    return 0;
}

int bp_clog_latest_offer(bp_clog_map *m, const void *key, size_t key_len, const void *value,
                         size_t value_len)
{
    bp_clog_key k;
    bp_clog_value v;
    if (!m || !key || !value || bp_clog_key_decode(key, key_len, &k) != 0 ||
        bp_clog_value_decode(value, value_len, &v) != 0)
        return -1;
    uint64_t hash = hash_bytes(key, key_len);
    bp_clog_entry *e = find_hashed(m, key, key_len, hash);
    if (e && (v.epoch < e->epoch || (v.epoch == e->epoch && v.tag < e->tag)))
        return 0;
    uint8_t *before = NULL, *after = NULL;
    size_t blen = 0, alen = 0;
    if ((v.has_before && set_copy(&before, &blen, v.before, v.before_len) != 0) ||
        (v.has_after && set_copy(&after, &alen, v.after, v.after_len) != 0)) {
        free(before);
        return -1;
    }
    if (!e) {
        if (grow(m) != 0 || !(e = entry_new(key, key_len, &k, hash, 0))) {
            free(before);
            free(after);
            return -1;
        }
        insert(m, e);
    }
    if (!e->before_inline)
        free(e->before);
    free(e->after);
    e->before = before;
    e->before_inline = false;
    e->after = after;
    e->before_len = blen;
    e->after_len = alen;
    e->has_before = v.has_before;
    e->has_after = v.has_after;
    e->epoch = v.epoch;
    e->before_from = v.before_from;
    e->tag = v.tag;
    return 1;
}

size_t bp_clog_map_drop_partition(bp_clog_map *m, const char *topic, int32_t partition)
{
    size_t dropped = 0;
    for (size_t i = 0; m && topic && i < m->n_buckets; i++) {
        for (bp_clog_entry **at = &m->buckets[i]; *at;) {
            bp_clog_entry *e = *at;
            if (e->partition == partition && strcmp(e->topic, topic) == 0) {
                *at = e->next;
                entry_free(e);
                m->n--;
                dropped++;
            } else {
                at = &e->next;
            }
        }
    }
    return dropped;
}

int bp_clog_map_each(const bp_clog_map *m, int (*visit)(void *user, const bp_clog_entry *e),
                     void *user)
{
    for (size_t i = 0; m && i < m->n_buckets; i++)
        for (const bp_clog_entry *e = m->buckets[i]; e; e = e->next) {
            int rc = visit(user, e);
            if (rc)
                return rc;
        }
    return 0;
}

void bp_clog_map_clear(bp_clog_map *m)
{
    for (size_t i = 0; m && i < m->n_buckets; i++) {
        for (bp_clog_entry *e = m->buckets[i], *next; e; e = next) {
            next = e->next;
            entry_free(e);
        }
        m->buckets[i] = NULL;
    }
    if (m)
        m->n = 0;
}

void bp_clog_map_free(bp_clog_map *m)
{
    if (!m)
        return;
    bp_clog_map_clear(m);
    free(m->buckets);
    memset(m, 0, sizeof *m);
}
