#include "pipeline/state.h"

#include "pipeline/instance.h"
#include "base/log.h"
#include "pipeline/record.h"
#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A value one uncommitted batch gave a key. */
typedef struct version {
    struct version *next; /* the next batch's, ascending seq */
    uint64_t seq;
    bool present; /* false: the batch deleted the key */
    size_t len;
    unsigned char *value;
} version;

typedef struct entry {
    struct entry *hnext; /* bucket chain */
    uint64_t hash;
    uint32_t owner;
    size_t key_len;
    unsigned char *key;
    bool base_present; /* the value as of the last commit */
    size_t base_len;
    unsigned char *base;
    version *versions, *last;
} entry;

struct bp_state_scope {
    struct bp_state_scope *next;
    uint64_t id; /* what records carry (never reused in a process) */
    char *topic; /* NULL: a source without topics */
    int32_t partition;
    bool dropped;      /* revoked: no longer found, freed once drop_seq is committed */
    uint64_t drop_seq; /* the batch being polled when it was dropped */
    entry **buckets;
    size_t n_buckets, n_entries;
    uint64_t keys[BP_STATE_MAX_OWNERS];
};

typedef struct change {
    bp_state_scope *scope;
    entry *e;
} change;

/* The keys one uncommitted batch changed. */
typedef struct pending {
    uint64_t seq;
    change *items;
    size_t n, cap;
} pending;

typedef struct owner {
    const bp_ctx *ctx; /* NULL: free slot */
    char *ns;          /* "SECTION/FORMAT" */
    uint64_t max_keys;
    char *file; /* snapshot file, NULL: none */
    bool warned_full;
} state_owner;

static struct {
    pthread_mutex_t mu;
    state_owner owners[BP_STATE_MAX_OWNERS];
    bp_state_scope *scopes;
    bp_state_scope *last_hit;
    pending *pend; /* ascending seq */
    size_t n_pend, cap_pend;
    uint64_t poll_seq, committed_seq;
    bool source_keeps;
    int64_t interval_ms;
    double last_snapshot_s;
    bool dirty; /* committed changes not yet in the snapshot files */
    uint64_t restore_ignored;
    uint64_t next_scope_id;
} S = {.mu = PTHREAD_MUTEX_INITIALIZER, .interval_ms = 1000};

/* ---- keys and scopes ------------------------------------------------------------------ */

static uint64_t hash_key(uint32_t owner, const void *key, size_t len)
{
    uint64_t h = 1469598103934665603ull ^ owner; /* FNV-1a */
    const unsigned char *p = key;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 31);
}

/* A source without partitions keeps one scope, whatever it names its topics (source-file names
 * files there): a patient's history does not depend on the file the reading came from. */
static bool partitioned(int32_t partition)
{
    return partition >= 0;
}

static bool same_scope(const bp_state_scope *s, const char *topic, int32_t partition)
{
    if (!partitioned(partition))
        return !partitioned(s->partition);
    return s->partition == partition &&
           (s->topic && topic ? strcmp(s->topic, topic) == 0 : s->topic == topic);
}

/* The live scope of (topic, partition), created when missing. NULL on ENOMEM. */
static bp_state_scope *scope_for(const char *topic, int32_t partition)
{
    if (S.last_hit && !S.last_hit->dropped && same_scope(S.last_hit, topic, partition))
        return S.last_hit;
    for (bp_state_scope *s = S.scopes; s; s = s->next)
        if (!s->dropped && same_scope(s, topic, partition))
            return S.last_hit = s;
    bp_state_scope *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->partition = partitioned(partition) ? partition : -1;
    s->id = ++S.next_scope_id;
    s->n_buckets = 64;
    s->buckets = calloc(s->n_buckets, sizeof *s->buckets);
    if (!s->buckets || (partitioned(partition) && topic && !(s->topic = strdup(topic)))) {
        free(s->buckets);
        free(s);
        return NULL;
    }
    s->next = S.scopes;
    S.scopes = s;
    return S.last_hit = s;
}

static entry *find(const bp_state_scope *s, uint32_t owner, const void *key, size_t len,
                   uint64_t h)
{
    for (entry *e = s->buckets[h & (s->n_buckets - 1)]; e; e = e->hnext)
        if (e->hash == h && e->owner == owner && e->key_len == len &&
            memcmp(e->key, key, len) == 0)
            return e;
    return NULL;
}

static void grow(bp_state_scope *s)
{
    size_t n = s->n_buckets * 2;
    entry **b = calloc(n, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < s->n_buckets; i++) {
        for (entry *e = s->buckets[i], *next; e; e = next) {
            next = e->hnext;
            e->hnext = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->n_buckets = n;
}

static entry *add(bp_state_scope *s, uint32_t owner, const void *key, size_t len, uint64_t h)
{
    entry *e = calloc(1, sizeof *e);
    if (!e || !(e->key = malloc(len ? len : 1))) {
        free(e);
        return NULL;
    }
    memcpy(e->key, key, len);
    e->key_len = len;
    e->owner = owner;
    e->hash = h;
    if (s->n_entries + 1 > s->n_buckets)
        grow(s);
    e->hnext = s->buckets[h & (s->n_buckets - 1)];
    s->buckets[h & (s->n_buckets - 1)] = e;
    s->n_entries++;
    s->keys[owner]++;
    return e;
}

static void free_entry(entry *e)
{
    for (version *v = e->versions, *next; v; v = next) {
        next = v->next;
        free(v->value);
        free(v);
    }
    free(e->base);
    free(e->key);
    free(e);
}

static void unlink_entry(bp_state_scope *s, entry *e)
{
    entry **p = &s->buckets[e->hash & (s->n_buckets - 1)];
    while (*p && *p != e)
        p = &(*p)->hnext;
    if (*p)
        *p = e->hnext;
    s->n_entries--;
    s->keys[e->owner]--;
}

static void free_scope(bp_state_scope *s)
{
    for (size_t i = 0; i < s->n_buckets; i++)
        for (entry *e = s->buckets[i], *next; e; e = next) {
            next = e->hnext;
            free_entry(e);
        }
    free(s->buckets);
    free(s->topic);
    free(s);
}

/* ---- owners --------------------------------------------------------------------------- */

static int owner_of(const bp_ctx *ctx)
{
    if (!ctx || ctx->state_owner <= 0 || ctx->state_owner > BP_STATE_MAX_OWNERS ||
        S.owners[ctx->state_owner - 1].ctx != ctx)
        return -1;
    return ctx->state_owner - 1;
}

static int owner_by_ns(const char *ns)
{
    for (int i = 0; i < BP_STATE_MAX_OWNERS; i++)
        if (S.owners[i].ctx && strcmp(S.owners[i].ns, ns) == 0)
            return i;
    return -1;
}

static bool format_ok(const char *f)
{
    size_t n = f ? strlen(f) : 0;
    if (n < 1 || n > BP_STATE_MAX_FORMAT)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((f[i] >= 'a' && f[i] <= 'z') || (f[i] >= '0' && f[i] <= '9') || f[i] == '_' ||
              f[i] == '.' || f[i] == '-'))
            return false;
    return true;
}

/* ---- uncommitted changes ---------------------------------------------------------------- */

static pending *pending_for(uint64_t seq)
{
    size_t at = S.n_pend;
    while (at > 0 && S.pend[at - 1].seq >= seq)
        at--;
    if (at < S.n_pend && S.pend[at].seq == seq)
        return &S.pend[at];
    if (S.n_pend == S.cap_pend) {
        size_t cap = S.cap_pend ? S.cap_pend * 2 : 8;
        pending *p = realloc(S.pend, cap * sizeof *p);
        if (!p)
            return NULL;
        S.pend = p;
        S.cap_pend = cap;
    }
    /* Ascending seq: a sink's lane may change a key for an older batch than a detector did. */
    if (at < S.n_pend)
        memmove(S.pend + at + 1, S.pend + at, (S.n_pend - at) * sizeof *S.pend);
    S.n_pend++;
    pending *p = &S.pend[at];
    memset(p, 0, sizeof *p);
    p->seq = seq;
    return p;
}

static int note_change(pending *p, bp_state_scope *s, entry *e)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        change *c = realloc(p->items, cap * sizeof *c);
        if (!c)
            return -1;
        p->items = c;
        p->cap = cap;
    }
    p->items[p->n++] = (change){s, e};
    return 0;
}

/* ---- configuration and the runner's calls ----------------------------------------------- */

void bp_state_configure(bool source_keeps_state, int64_t snapshot_interval_ms)
{
    pthread_mutex_lock(&S.mu);
    S.source_keeps = source_keeps_state;
    S.interval_ms = snapshot_interval_ms;
    pthread_mutex_unlock(&S.mu);
}

void bp_state_begin_poll(uint64_t seq)
{
    pthread_mutex_lock(&S.mu);
    S.poll_seq = seq;
    pthread_mutex_unlock(&S.mu);
}

static bool any_owner(void)
{
    for (int i = 0; i < BP_STATE_MAX_OWNERS; i++)
        if (S.owners[i].ctx)
            return true;
    return false;
}

void bp_state_stamp(bp_record *input, uint64_t seq)
{
    input->state_seq = seq;
    pthread_mutex_lock(&S.mu);
    if (any_owner())
    {
        bp_state_scope *s = scope_for(input->topic, input->partition);
        input->state_scope = s ? s->id : 0;
    }
    pthread_mutex_unlock(&S.mu);
}

/* Removes every change of `s` from the uncommitted lists (the scope is being freed). */
static void forget_changes_of(const bp_state_scope *s)
{
    for (size_t i = 0; i < S.n_pend; i++) {
        pending *p = &S.pend[i];
        size_t k = 0;
        for (size_t j = 0; j < p->n; j++)
            if (p->items[j].scope != s)
                p->items[k++] = p->items[j];
        p->n = k;
    }
}

void bp_state_commit(uint64_t seq)
{
    pthread_mutex_lock(&S.mu);
    size_t done = 0;
    for (; done < S.n_pend && S.pend[done].seq <= seq; done++) {
        pending *p = &S.pend[done];
        for (size_t j = 0; j < p->n; j++) {
            bp_state_scope *s = p->items[j].scope;
            entry *e = p->items[j].e;
            version *v = e->versions;
            if (!v)
                continue;
            free(e->base);
            e->base = v->value;
            e->base_len = v->len;
            e->base_present = v->present;
            e->versions = v->next;
            if (!e->versions)
                e->last = NULL;
            free(v);
            if (!s->dropped)
                S.dirty = true;
            if (!e->base_present && !e->versions) {
                unlink_entry(s, e);
                free_entry(e);
            }
        }
        free(p->items);
    }
    if (done)
        memmove(S.pend, S.pend + done, (S.n_pend - done) * sizeof *S.pend);
    S.n_pend -= done;
    if (seq > S.committed_seq)
        S.committed_seq = seq;
    for (bp_state_scope **sp = &S.scopes; *sp;) {
        bp_state_scope *s = *sp;
        if (s->dropped && s->drop_seq <= S.committed_seq) {
            *sp = s->next;
            if (S.last_hit == s)
                S.last_hit = NULL;
            forget_changes_of(s);
            free_scope(s);
        } else {
            sp = &s->next;
        }
    }
    pthread_mutex_unlock(&S.mu);
}

size_t bp_state_keys(void)
{
    pthread_mutex_lock(&S.mu);
    size_t n = 0;
    for (bp_state_scope *s = S.scopes; s; s = s->next)
        if (!s->dropped)
            n += s->n_entries;
    pthread_mutex_unlock(&S.mu);
    return n;
}

/* ---- snapshot files (sources that do not keep the state) --------------------------------- */

#define SNAP_MAGIC "BPSTATE1"

static bool put_u32(FILE *f, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    return fwrite(b, 4, 1, f) == 1;
}

static bool put_bytes(FILE *f, const void *p, size_t n)
{
    return put_u32(f, (uint32_t)n) && (n == 0 || fwrite(p, n, 1, f) == 1);
}

/* Writes owner `o`'s committed values: magic, its ns, then (topic or none, partition, key,
 * value) per key; atomically (a temporary file, fsync, rename, fsync of the folder), 0600. */
static int write_snapshot(int o)
{
    const state_owner *w = &S.owners[o];
    size_t n = strlen(w->file) + 32;
    char *tmp = malloc(n);
    if (!tmp)
        return -1;
    snprintf(tmp, n, "%s.tmp.%ld", w->file, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        free(tmp);
        errno = saved;
        return -1;
    }
    bool ok = fwrite(SNAP_MAGIC, 8, 1, f) == 1 && put_bytes(f, w->ns, strlen(w->ns));
    for (bp_state_scope *s = S.scopes; ok && s; s = s->next) {
        if (s->dropped)
            continue;
        for (size_t i = 0; ok && i < s->n_buckets; i++)
            for (entry *e = s->buckets[i]; ok && e; e = e->hnext) {
                if (e->owner != (uint32_t)o || !e->base_present)
                    continue;
                ok = (s->topic ? put_bytes(f, s->topic, strlen(s->topic))
                               : put_u32(f, UINT32_MAX)) &&
                     put_u32(f, (uint32_t)s->partition) && put_bytes(f, e->key, e->key_len) &&
                     put_bytes(f, e->base, e->base_len);
            }
    }
    ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    int saved = errno;
    if (!ok || rename(tmp, w->file) != 0) {
        saved = errno;
        unlink(tmp);
        free(tmp);
        errno = saved;
        return -1;
    }
    free(tmp);
    /* The rename itself is durable only once the folder is. */
    char *dir = strdup(w->file);
    if (dir) {
        char *slash = strrchr(dir, '/');
        const char *d = slash ? (slash == dir ? "/" : (*slash = '\0', dir)) : ".";
        int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
    return 0;
}

int bp_state_checkpoint(bool final)
{
    pthread_mutex_lock(&S.mu);
    int rc = 0;
    double now = bp_now_s();
    bool due = S.dirty && !S.source_keeps &&
               (final || (now - S.last_snapshot_s) * 1000.0 >= (double)S.interval_ms);
    for (int o = 0; due && o < BP_STATE_MAX_OWNERS; o++) {
        if (!S.owners[o].ctx || !S.owners[o].file)
            continue;
        if (write_snapshot(o) != 0) {
            bp_log(S.owners[o].ctx->name, BP_LOG_ERROR,
                   "cannot write the state snapshot %s: %s; the previous one stays, check the "
                   "folder and free space",
                   S.owners[o].file, strerror(errno));
            rc = -1;
        }
    }
    if (due && rc == 0) {
        S.dirty = false;
        S.last_snapshot_s = now;
    }
    pthread_mutex_unlock(&S.mu);
    return rc;
}

static bool get_u32(FILE *f, uint32_t *v)
{
    unsigned char b[4];
    if (fread(b, 4, 1, f) != 1)
        return false;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return true;
}

/* Reads a length-prefixed field of at most `max` bytes into a new allocation (NUL-terminated).
 * 1: read, 0: the end of the file before it, -1: damaged. */
static int get_bytes(FILE *f, size_t max, unsigned char **out, size_t *len)
{
    uint32_t n;
    if (!get_u32(f, &n))
        return 0;
    if (n > max || !(*out = malloc((size_t)n + 1)))
        return -1;
    if (n && fread(*out, n, 1, f) != 1) {
        free(*out);
        *out = NULL;
        return -1;
    }
    (*out)[n] = '\0';
    *len = n;
    return 1;
}

/* Loads owner `o`'s snapshot as committed values. 0, or -1 with *why set. */
static int load_snapshot(int o, char *why, size_t why_len, size_t *loaded)
{
    FILE *f = fopen(S.owners[o].file, "rb");
    if (!f) {
        snprintf(why, why_len, "cannot read it: %s", strerror(errno));
        return -1;
    }
    char magic[8];
    unsigned char *ns = NULL;
    size_t ns_len = 0;
    int rc = -1;
    if (fread(magic, 8, 1, f) != 1 || memcmp(magic, SNAP_MAGIC, 8) != 0) {
        snprintf(why, why_len, "not a bppipe state snapshot (an older detector-trend one is "
                               "not read: that history starts again)");
        goto done;
    }
    if (get_bytes(f, 1024, &ns, &ns_len) != 1 || strcmp((char *)ns, S.owners[o].ns) != 0) {
        snprintf(why, why_len, "it holds the state of %s, not of %s", ns ? (char *)ns : "?",
                 S.owners[o].ns);
        goto done;
    }
    for (;;) {
        unsigned char *topic = NULL, *key = NULL, *value = NULL;
        size_t tl = 0, kl = 0, vl = 0;
        uint32_t tlen, part;
        if (!get_u32(f, &tlen)) {
            rc = 0; /* the end */
            break;
        }
        bool ok = tlen == UINT32_MAX || tlen <= 4096;
        if (ok && tlen != UINT32_MAX) {
            ok = (topic = malloc((size_t)tlen + 1)) && (tlen == 0 || fread(topic, tlen, 1, f) == 1);
            if (topic)
                topic[tlen] = '\0';
            tl = tlen;
        }
        ok = ok && get_u32(f, &part) && get_bytes(f, BP_STATE_MAX_KEY, &key, &kl) == 1 &&
             get_bytes(f, BP_STATE_MAX_VALUE, &value, &vl) == 1;
        bp_state_scope *s = ok ? scope_for((char *)topic, (int32_t)part) : NULL;
        uint64_t h = hash_key((uint32_t)o, key, kl);
        entry *e = s ? find(s, (uint32_t)o, key, kl, h) : NULL;
        if (s && !e)
            e = add(s, (uint32_t)o, key, kl, h);
        (void)tl;
        free(topic);
        free(key);
        if (!e) {
            free(value);
            snprintf(why, why_len, "it is damaged after %zu keys", *loaded);
            break;
        }
        free(e->base);
        e->base = value;
        e->base_len = vl;
        e->base_present = true;
        ++*loaded;
    }
done:
    free(ns);
    fclose(f);
    return rc;
}

/* Frees every key of owner `o` and its uncommitted changes. */
static void purge_owner(int o)
{
    for (size_t i = 0; i < S.n_pend; i++) {
        pending *p = &S.pend[i];
        size_t k = 0;
        for (size_t j = 0; j < p->n; j++)
            if (p->items[j].e->owner != (uint32_t)o)
                p->items[k++] = p->items[j];
        p->n = k;
    }
    for (bp_state_scope *s = S.scopes; s; s = s->next)
        for (size_t i = 0; i < s->n_buckets; i++)
            for (entry **p = &s->buckets[i]; *p;) {
                entry *e = *p;
                if (e->owner == (uint32_t)o) {
                    *p = e->hnext;
                    s->n_entries--;
                    s->keys[o]--;
                    free_entry(e);
                } else {
                    p = &e->hnext;
                }
            }
}

/* ---- the host functions --------------------------------------------------------------------- */

int bp_state_open(bp_ctx *ctx, const char *format, uint64_t max_keys, const char *file)
{
    if (!ctx || !format_ok(format))
        return BP_EINVAL;
    if (file && !*file)
        file = NULL;
    pthread_mutex_lock(&S.mu);
    int o = owner_of(ctx), rc = BP_OK;
    if (o >= 0) {
        pthread_mutex_unlock(&S.mu);
        return BP_EINVAL; /* once per instance */
    }
    for (int i = 0; i < BP_STATE_MAX_OWNERS && o < 0; i++)
        if (!S.owners[i].ctx)
            o = i;
    size_t n = strlen(ctx->name) + strlen(format) + 2;
    char *ns = o >= 0 ? malloc(n) : NULL;
    char *path = file ? strdup(file) : NULL;
    if (!ns || (file && !path)) {
        free(ns);
        free(path);
        pthread_mutex_unlock(&S.mu);
        return o < 0 ? BP_EINVAL : BP_ENOMEM;
    }
    snprintf(ns, n, "%s/%s", ctx->name, format);
    if (owner_by_ns(ns) >= 0) { /* the same section opened twice in one process */
        free(ns);
        free(path);
        pthread_mutex_unlock(&S.mu);
        return BP_EINVAL;
    }
    S.owners[o] = (state_owner){.ctx = ctx, .ns = ns, .max_keys = max_keys, .file = path};
    ctx->state_owner = o + 1;
    if (path && S.source_keeps) {
        bp_log(ctx->name, BP_LOG_INFO, "state follows the source's partitions (its changelog); "
               "%s is neither read nor written", path);
        free(S.owners[o].file);
        S.owners[o].file = NULL;
    } else if (path && access(path, F_OK) == 0) {
        char why[256];
        size_t loaded = 0;
        if (load_snapshot(o, why, sizeof why, &loaded) == 0) {
            bp_log(ctx->name, BP_LOG_INFO, "restored %zu keys from %s", loaded, path);
        } else {
            bp_log(ctx->name, BP_LOG_WARN, "ignoring the state snapshot %s (%s): starting with "
                   "no state; it is replaced at the first commit", path, why);
            purge_owner(o); /* what a damaged file gave is not kept: all or nothing */
        }
    }
    pthread_mutex_unlock(&S.mu);
    return rc;
}

static bool key_ok(const void *key, size_t len)
{
    return key && len >= 1 && len <= BP_STATE_MAX_KEY;
}

/* The scope a record's state lives in: the one stamped when it was polled, else the live one
 * of its partition (a record the host built itself, as the conform kit does). */
static bp_state_scope *scope_of(const bp_record *rec)
{
    if (rec->state_scope) {
        if (S.last_hit && S.last_hit->id == rec->state_scope)
            return S.last_hit;
        for (bp_state_scope *s = S.scopes; s; s = s->next)
            if (s->id == rec->state_scope)
                return s;
        /* gone: its batch was committed long ago (a record delivered from a disk buffer) */
    }
    return scope_for(rec->topic, rec->partition);
}

int bp_state_get(bp_ctx *ctx, const bp_record *rec, const void *key, size_t key_len, void *out,
                 size_t out_size, size_t *len)
{
    if (!rec || !key_ok(key, key_len) || !len || (!out && out_size))
        return BP_EINVAL;
    pthread_mutex_lock(&S.mu);
    int o = owner_of(ctx), rc = BP_END;
    bp_state_scope *s = o >= 0 ? scope_of(rec) : NULL;
    if (o < 0)
        rc = BP_EINVAL;
    else if (!s)
        rc = BP_ENOMEM;
    entry *e = s ? find(s, (uint32_t)o, key, key_len, hash_key((uint32_t)o, key, key_len)) : NULL;
    if (e) {
        bool present = e->last ? e->last->present : e->base_present;
        const unsigned char *v = e->last ? e->last->value : e->base;
        size_t n = e->last ? e->last->len : e->base_len;
        if (present) {
            *len = n;
            rc = n > out_size ? BP_ENOMEM : BP_OK;
            if (rc == BP_OK && n)
                memcpy(out, v, n);
        }
    }
    pthread_mutex_unlock(&S.mu);
    return rc;
}

int bp_state_put(bp_ctx *ctx, const bp_record *rec, const void *key, size_t key_len,
                 const void *value, size_t len, bool present)
{
    if (!rec || !key_ok(key, key_len) || (present && ((!value && len) || len > BP_STATE_MAX_VALUE)))
        return BP_EINVAL;
    pthread_mutex_lock(&S.mu);
    int o = owner_of(ctx);
    if (o < 0) {
        pthread_mutex_unlock(&S.mu);
        return BP_EINVAL;
    }
    int rc = BP_OK;
    bp_state_scope *s = scope_of(rec);
    uint64_t h = hash_key((uint32_t)o, key, key_len);
    entry *e = s ? find(s, (uint32_t)o, key, key_len, h) : NULL;
    if (!s) {
        rc = BP_ENOMEM;
    } else if (!e && !present) {
        rc = BP_OK; /* nothing to delete */
    } else if (!e && S.owners[o].max_keys && s->keys[o] >= S.owners[o].max_keys) {
        rc = BP_ENOMEM;
    } else if (!e && !(e = add(s, (uint32_t)o, key, key_len, h))) {
        rc = BP_ENOMEM;
    }
    if (rc != BP_OK || !e) {
        pthread_mutex_unlock(&S.mu);
        return rc;
    }
    /* The batch the change belongs to: the record's, unless that one is committed already (a
     * record a sink delivers from its disk buffer) or a later batch changed the key first. */
    uint64_t seq = rec->state_seq;
    if (seq <= S.committed_seq)
        seq = S.committed_seq + 1;
    if (e->last && e->last->seq > seq)
        seq = e->last->seq;
    unsigned char *copy = present && len ? malloc(len) : NULL;
    if (present && len && !copy) {
        pthread_mutex_unlock(&S.mu);
        return BP_ENOMEM;
    }
    if (copy)
        memcpy(copy, value, len);
    if (e->last && e->last->seq == seq) {
        free(e->last->value);
        e->last->value = copy;
        e->last->len = present ? len : 0;
        e->last->present = present;
    } else {
        pending *p = pending_for(seq);
        version *v = p ? calloc(1, sizeof *v) : NULL;
        if (!v || note_change(p, s, e) != 0) {
            free(v);
            free(copy);
            pthread_mutex_unlock(&S.mu);
            return BP_ENOMEM;
        }
        *v = (version){.seq = seq, .present = present, .len = present ? len : 0, .value = copy};
        if (e->last)
            e->last->next = v;
        else
            e->versions = v;
        e->last = v;
    }
    pthread_mutex_unlock(&S.mu);
    return BP_OK;
}

static bool keeps_state(const bp_ctx *ctx)
{
    const bp_plugin *d = ctx && ctx->plugin ? ctx->plugin->desc : NULL;
    return d && d->kind == BP_KIND_SOURCE &&
           (bp_desc_caps(d) & BP_CAP_KEYED_STATE);
}

int bp_state_changes(bp_ctx *ctx, const bp_batch *batch, bp_state_visit visit, void *user)
{
    if (!keeps_state(ctx) || !batch || !visit)
        return BP_EINVAL;
    pthread_mutex_lock(&S.mu);
    int rc = 0;
    pending *p = NULL;
    for (size_t i = 0; i < S.n_pend && !p; i++)
        if (S.pend[i].seq == batch->seq)
            p = &S.pend[i];
    for (size_t j = 0; p && j < p->n && rc == 0; j++) {
        const bp_state_scope *s = p->items[j].scope;
        const entry *e = p->items[j].e;
        const version *v = e->versions;
        if (s->dropped || !v || v->seq != batch->seq)
            continue; /* a revoked partition's changes are never persisted */
        bp_state_change c = {
            .struct_size = sizeof c,
            .topic = s->topic,
            .partition = s->partition,
            .ns = S.owners[e->owner].ctx ? S.owners[e->owner].ns : "",
            .key = e->key,
            .key_len = e->key_len,
            .had_before = e->base_present,
            .before = e->base,
            .before_len = e->base_len,
            .has_after = v->present,
            .after = v->value,
            .after_len = v->len,
        };
        if (!S.owners[e->owner].ctx)
            continue; /* its instance is gone */
        rc = visit(user, &c);
    }
    pthread_mutex_unlock(&S.mu);
    return rc;
}

int bp_state_restore(bp_ctx *ctx, const char *topic, int32_t partition, const char *ns,
                     const void *key, size_t key_len, const void *value, size_t len)
{
    if (!keeps_state(ctx) || !ns || !key_ok(key, key_len) || (!value && len) ||
        len > BP_STATE_MAX_VALUE)
        return BP_EINVAL;
    pthread_mutex_lock(&S.mu);
    int o = owner_by_ns(ns), rc = BP_OK;
    if (o < 0) {
        S.restore_ignored++;
        pthread_mutex_unlock(&S.mu);
        bp_host_table()->count(ctx, "state_restore_ignored", 1);
        return BP_OK;
    }
    bp_state_scope *s = scope_for(topic, partition);
    uint64_t h = hash_key((uint32_t)o, key, key_len);
    entry *e = s ? find(s, (uint32_t)o, key, key_len, h) : NULL;
    if (s && !e)
        e = add(s, (uint32_t)o, key, key_len, h);
    unsigned char *copy = e ? malloc(len ? len : 1) : NULL;
    if (!copy) {
        rc = BP_ENOMEM;
    } else {
        memcpy(copy, value, len);
        free(e->base);
        e->base = copy;
        e->base_len = len;
        e->base_present = true;
    }
    pthread_mutex_unlock(&S.mu);
    return rc;
}

int bp_state_drop(bp_ctx *ctx, const char *topic, int32_t partition)
{
    if (!keeps_state(ctx))
        return BP_EINVAL;
    pthread_mutex_lock(&S.mu);
    for (bp_state_scope *s = S.scopes; s; s = s->next)
        if (!s->dropped && same_scope(s, topic, partition)) {
            s->dropped = true;
            s->drop_seq = S.poll_seq;
            if (S.last_hit == s)
                S.last_hit = NULL;
        }
    pthread_mutex_unlock(&S.mu);
    return BP_OK;
}

/* ---- lifetime ---------------------------------------------------------------------------- */

void bp_state_forget_owner(const bp_ctx *ctx)
{
    pthread_mutex_lock(&S.mu);
    int o = owner_of(ctx);
    if (o >= 0) {
        purge_owner(o);
        free(S.owners[o].ns);
        free(S.owners[o].file);
        memset(&S.owners[o], 0, sizeof S.owners[o]);
    }
    bool none = !any_owner();
    pthread_mutex_unlock(&S.mu);
    if (none)
        bp_state_reset();
}

void bp_state_reset(void)
{
    pthread_mutex_lock(&S.mu);
    for (size_t i = 0; i < S.n_pend; i++)
        free(S.pend[i].items);
    free(S.pend);
    S.pend = NULL;
    S.n_pend = S.cap_pend = 0;
    for (bp_state_scope *s = S.scopes, *next; s; s = next) {
        next = s->next;
        free_scope(s);
    }
    S.scopes = S.last_hit = NULL;
    for (int o = 0; o < BP_STATE_MAX_OWNERS; o++) {
        free(S.owners[o].ns);
        free(S.owners[o].file);
        memset(&S.owners[o], 0, sizeof S.owners[o]);
    }
    S.poll_seq = S.committed_seq = 0;
    S.dirty = false;
    S.restore_ignored = 0;
    pthread_mutex_unlock(&S.mu);
}
