/* Keyed state: the host API (state.h, and the host table's state functions of plugin.h) over
 * the store's parts: the owners (state_owners.c), a scope per input partition
 * (state_scopes.c) with its table of keys (state_table.c), the uncommitted batches
 * (state_pending.c) and the snapshot files (state_snapshot.c). Those parts are pure; this file
 * holds the one store of the process and its lock, validates the plugins' arguments, and
 * decides when snapshots are due and what is logged. */
#include "pipeline/state.h"

#include "base/log.h"
#include "common/clock.h"
#include "pipeline/instance.h"
#include "pipeline/record.h"
#include "pipeline/state_owners.h"
#include "pipeline/state_pending.h"
#include "pipeline/state_scopes.h"
#include "pipeline/state_snapshot.h"
#include "pipeline/state_table.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One store per process, behind one lock. The host table's state functions carry no handle
 * (a plugin passes its bp_ctx and a record, plugin.h), the runner's calls (begin_poll, commit,
 * checkpoint) none either, and detectors on the main thread and sinks on their delivery lanes
 * reach the same keys at once. Everything the store holds is reached from here only. */
static struct {
    pthread_mutex_t mu;
    bp_state_owners owners;
    bp_state_scopes scopes;
    bp_state_pending pending;
    uint64_t poll_seq, committed_seq;
    bool source_keeps;
    int64_t interval_ms;
    double last_snapshot_s;
    bool dirty; /* committed changes not yet in the snapshot files */
} S = {.mu = PTHREAD_MUTEX_INITIALIZER, .interval_ms = 1000};

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

void bp_state_stamp(bp_record *input, uint64_t seq)
{
    input->state_seq = seq;
    pthread_mutex_lock(&S.mu);
    if (bp_state_owners_any(&S.owners)) {
        bp_state_scope *s = bp_state_scopes_live(&S.scopes, input->topic, input->partition);
        input->state_scope = s ? s->id : 0;
    }
    pthread_mutex_unlock(&S.mu);
}

static void forget_scope(void *user, const bp_state_scope *s)
{
    bp_state_pending_forget_scope(user, s);
}

void bp_state_commit(uint64_t seq)
{
    pthread_mutex_lock(&S.mu);
    if (bp_state_pending_commit(&S.pending, seq))
        S.dirty = true;
    if (seq > S.committed_seq)
        S.committed_seq = seq;
    bp_state_scopes_free_dropped(&S.scopes, S.committed_seq, forget_scope, &S.pending);
    pthread_mutex_unlock(&S.mu);
}

size_t bp_state_keys(void)
{
    pthread_mutex_lock(&S.mu);
    size_t n = bp_state_scopes_keys(&S.scopes);
    pthread_mutex_unlock(&S.mu);
    return n;
}

/* ---- snapshot files (sources that do not keep the state) --------------------------------- */

/* Writes owner `o`'s committed values of the live scopes. 0, or -1 with errno set. */
static int write_snapshot(int o)
{
    const bp_state_owner *w = &S.owners.slot[o];
    bp_state_snapshot_writer sw;
    if (bp_state_snapshot_begin(&sw, w->file, w->ns) != 0)
        return -1;
    for (const bp_state_scope *s = S.scopes.list; s; s = s->next) {
        if (s->dropped)
            continue;
        const bp_state_table *t = &s->table;
        for (size_t i = 0; i < t->n_buckets; i++)
            for (const bp_state_entry *e = t->buckets[i]; e; e = e->hnext)
                if (e->owner == (uint32_t)o && e->base_present)
                    bp_state_snapshot_put(&sw, s->topic, s->partition, e->key, e->key_len, e->base,
                                          e->base_len);
    }
    return bp_state_snapshot_finish(&sw);
}

int bp_state_checkpoint(bool final)
{
    pthread_mutex_lock(&S.mu);
    int rc = 0;
    double now = bp_now_s();
    bool due = S.dirty && !S.source_keeps &&
               (final || (now - S.last_snapshot_s) * 1000.0 >= (double)S.interval_ms);
    for (int o = 0; due && o < BP_STATE_MAX_OWNERS; o++) {
        const bp_state_owner *w = &S.owners.slot[o];
        if (!w->ctx || !w->file)
            continue;
        if (write_snapshot(o) != 0) {
            bp_log(w->ctx->name, BP_LOG_ERROR,
                   "cannot write the state snapshot %s: %s; the previous one stays, check the "
                   "folder and free space",
                   w->file, strerror(errno));
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

/* The entry of `o`'s key in `s`, added when missing. NULL without a scope or on ENOMEM. */
static bp_state_entry *find_or_add(bp_state_scope *s, uint32_t o, const void *key, size_t len)
{
    if (!s)
        return NULL;
    uint64_t h = bp_state_key_hash(o, key, len);
    bp_state_entry *e = bp_state_table_find(&s->table, o, key, len, h);
    return e ? e : bp_state_table_add(&s->table, o, key, len, h);
}

/* A key read from owner `*(int *)user`'s snapshot becomes its committed value. */
static int load_key(void *user, const char *topic, int32_t partition, const unsigned char *key,
                    size_t key_len, unsigned char *value, size_t len)
{
    const int *slot = user;
    bp_state_scope *s = bp_state_scopes_live(&S.scopes, topic, partition);
    bp_state_entry *e = find_or_add(s, (uint32_t)*slot, key, key_len);
    if (!e)
        return -1;
    bp_state_entry_set_base(e, value, len);
    return 0;
}

/* Frees every key of owner `o` and its uncommitted changes. */
static void purge_owner(int o)
{
    bp_state_pending_forget_owner(&S.pending, (uint32_t)o);
    bp_state_scopes_purge_owner(&S.scopes, (uint32_t)o);
}

/* Reads owner `o`'s snapshot file, if it has one, at its state_open (the lock held). */
static void restore_snapshot(int o)
{
    const bp_state_owner *w = &S.owners.slot[o];
    if (w->file && S.source_keeps) {
        bp_log(w->ctx->name, BP_LOG_INFO,
               "state follows the source's partitions (its changelog); "
               "%s is neither read nor written",
               w->file);
        free(S.owners.slot[o].file);
        S.owners.slot[o].file = NULL;
    } else if (w->file && access(w->file, F_OK) == 0) {
        char why[256];
        size_t loaded = 0;
        if (bp_state_snapshot_read(w->file, w->ns, load_key, &o, why, sizeof why, &loaded) == 0) {
            bp_log(w->ctx->name, BP_LOG_INFO, "restored %zu keys from %s", loaded, w->file);
        } else {
            bp_log(w->ctx->name, BP_LOG_WARN,
                   "ignoring the state snapshot %s (%s): starting with "
                   "no state; it is replaced at the first commit",
                   w->file, why);
            purge_owner(o); /* what a damaged file gave is not kept: all or nothing */
        }
    }
}

/* ---- the host functions --------------------------------------------------------------------- */

int bp_state_open(bp_ctx *ctx, const char *format, uint64_t max_keys, const char *file)
{
    if (!ctx || !bp_state_format_ok(format))
        return BP_EINVAL;
    if (file && !*file)
        file = NULL;
    pthread_mutex_lock(&S.mu);
    int o = bp_state_owner_claim(&S.owners, ctx, format, max_keys, file);
    if (o >= 0)
        restore_snapshot(o);
    pthread_mutex_unlock(&S.mu);
    return o >= 0 ? BP_OK : o;
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
        bp_state_scope *s = bp_state_scopes_by_id(&S.scopes, rec->state_scope);
        if (s)
            return s;
        /* gone: its batch was committed long ago (a record delivered from a disk buffer) */
    }
    return bp_state_scopes_live(&S.scopes, rec->topic, rec->partition);
}

int bp_state_get(bp_ctx *ctx, const bp_record *rec, const void *key, size_t key_len, void *out,
                 size_t out_size, size_t *len)
{
    if (!rec || !key_ok(key, key_len) || !len || (!out && out_size))
        return BP_EINVAL;
    pthread_mutex_lock(&S.mu);
    int o = bp_state_owner_of(&S.owners, ctx), rc = BP_END;
    bp_state_scope *s = o >= 0 ? scope_of(rec) : NULL;
    if (o < 0)
        rc = BP_EINVAL;
    else if (!s)
        rc = BP_ENOMEM;
    const bp_state_entry *e = s ? bp_state_table_find(&s->table, (uint32_t)o, key, key_len,
                                                      bp_state_key_hash((uint32_t)o, key, key_len))
                                : NULL;
    const unsigned char *v;
    size_t n;
    if (e && bp_state_entry_current(e, &v, &n)) {
        *len = n;
        rc = n > out_size ? BP_ENOMEM : BP_OK;
        if (rc == BP_OK && n)
            memcpy(out, v, n);
    }
    pthread_mutex_unlock(&S.mu);
    return rc;
}

/* The entry `o` changes in `s` by a put (`present`) or delete of `key`: the existing one, or
 * a new one within max_keys. NULL with *rc BP_OK when there is nothing to delete, else with
 * *rc BP_ENOMEM. */
static bp_state_entry *entry_to_change(bp_state_scope *s, int o, const void *key, size_t key_len,
                                       bool present, int *rc)
{
    uint64_t h = bp_state_key_hash((uint32_t)o, key, key_len);
    bp_state_entry *e = s ? bp_state_table_find(&s->table, (uint32_t)o, key, key_len, h) : NULL;
    uint64_t max_keys = S.owners.slot[o].max_keys;
    *rc = BP_OK;
    if (!s)
        *rc = BP_ENOMEM;
    else if (!e && !present)
        *rc = BP_OK; /* nothing to delete */
    else if (!e && max_keys && s->table.keys[o] >= max_keys)
        *rc = BP_ENOMEM;
    else if (!e && !(e = bp_state_table_add(&s->table, (uint32_t)o, key, key_len, h)))
        *rc = BP_ENOMEM;
    return *rc == BP_OK ? e : NULL;
}

/* The batch a change of `e` by `rec` belongs to: the record's, unless that one is committed
 * already (a record a sink delivers from its disk buffer) or a later batch changed the key
 * first. */
static uint64_t batch_of_change(const bp_record *rec, const bp_state_entry *e)
{
    uint64_t seq = rec->state_seq;
    if (seq <= S.committed_seq)
        seq = S.committed_seq + 1;
    if (e->last && e->last->seq > seq)
        seq = e->last->seq;
    return seq;
}

/* Makes `v` the value batch `seq` gives `e` of scope `s`: in the place of the batch's version
 * when it has one already, else a new version noted in the batch. BP_OK, or BP_ENOMEM with `v`
 * freed. */
static int set_version(bp_state_scope *s, bp_state_entry *e, uint64_t seq, bp_state_version *v)
{
    if (e->last && e->last->seq == seq) {
        bp_state_entry_replace_last(e, v);
        return BP_OK;
    }
    bp_state_batch *b = bp_state_pending_add(&S.pending, seq);
    if (!b || bp_state_batch_note(b, s, e) != 0) {
        free(v);
        return BP_ENOMEM;
    }
    bp_state_entry_push(e, v);
    return BP_OK;
}

int bp_state_put(bp_ctx *ctx, const bp_record *rec, const void *key, size_t key_len,
                 const void *value, size_t len, bool present)
{
    if (!rec || !key_ok(key, key_len) || (present && ((!value && len) || len > BP_STATE_MAX_VALUE)))
        return BP_EINVAL;
    pthread_mutex_lock(&S.mu);
    int o = bp_state_owner_of(&S.owners, ctx), rc = BP_EINVAL;
    bp_state_scope *s = o >= 0 ? scope_of(rec) : NULL;
    bp_state_entry *e = o >= 0 ? entry_to_change(s, o, key, key_len, present, &rc) : NULL;
    if (e) {
        bp_state_version *v = bp_state_version_new(batch_of_change(rec, e), value, len, present);
        rc = v ? set_version(s, e, v->seq, v) : BP_ENOMEM;
    }
    pthread_mutex_unlock(&S.mu);
    return rc;
}

static bool keeps_state(const bp_ctx *ctx)
{
    const bp_plugin *d = ctx && ctx->plugin ? ctx->plugin->desc : NULL;
    return d && d->kind == BP_KIND_SOURCE && (bp_desc_caps(d) & BP_CAP_KEYED_STATE);
}

int bp_state_changes(bp_ctx *ctx, const bp_batch *batch, bp_state_visit visit, void *user)
{
    if (!keeps_state(ctx) || !batch || !visit)
        return BP_EINVAL;
    pthread_mutex_lock(&S.mu);
    int rc = 0;
    const bp_state_batch *b = bp_state_pending_find(&S.pending, batch->seq);
    for (size_t j = 0; b && j < b->n && rc == 0; j++) {
        const bp_state_scope *s = b->items[j].scope;
        const bp_state_entry *e = b->items[j].e;
        const bp_state_version *v = e->versions;
        if (s->dropped || !v || v->seq != batch->seq)
            continue; /* a revoked partition's changes are never persisted */
        const bp_state_owner *w = &S.owners.slot[e->owner];
        if (!w->ctx)
            continue; /* its instance is gone */
        bp_state_change c = {
            .struct_size = sizeof c,
            .topic = s->topic,
            .partition = s->partition,
            .ns = w->ns,
            .key = e->key,
            .key_len = e->key_len,
            .had_before = e->base_present,
            .before = e->base,
            .before_len = e->base_len,
            .has_after = v->present,
            .after = v->value,
            .after_len = v->len,
        };
        rc = visit(user, &c);
    }
    pthread_mutex_unlock(&S.mu);
    return rc;
}

int bp_state_restore(bp_ctx *ctx, const char *topic, int32_t partition, const char *ns,
                     const void *key, size_t key_len, const void *value, size_t len, bool *ignored)
{
    if (!keeps_state(ctx) || !ns || !key_ok(key, key_len) || (!value && len) ||
        len > BP_STATE_MAX_VALUE)
        return BP_EINVAL;
    pthread_mutex_lock(&S.mu);
    int o = bp_state_owner_by_ns(&S.owners, ns), rc = BP_OK;
    if (o < 0) {
        pthread_mutex_unlock(&S.mu);
        *ignored = true;
        return BP_OK;
    }
    bp_state_scope *s = bp_state_scopes_live(&S.scopes, topic, partition);
    bp_state_entry *e = find_or_add(s, (uint32_t)o, key, key_len);
    unsigned char *copy = e ? malloc(len ? len : 1) : NULL;
    if (!copy) {
        rc = BP_ENOMEM;
    } else {
        memcpy(copy, value, len);
        bp_state_entry_set_base(e, copy, len);
    }
    pthread_mutex_unlock(&S.mu);
    return rc;
}

int bp_state_drop(bp_ctx *ctx, const char *topic, int32_t partition)
{
    if (!keeps_state(ctx))
        return BP_EINVAL;
    pthread_mutex_lock(&S.mu);
    bp_state_scopes_drop(&S.scopes, topic, partition, S.poll_seq);
    pthread_mutex_unlock(&S.mu);
    return BP_OK;
}

int bp_state_each(const bp_ctx *ctx, bp_state_each_fn visit, void *user)
{
    pthread_mutex_lock(&S.mu);
    int o = bp_state_owner_of(&S.owners, ctx), rc = 0;
    for (const bp_state_scope *s = o >= 0 ? S.scopes.list : NULL; s && rc == 0; s = s->next) {
        if (s->dropped)
            continue;
        const bp_state_table *t = &s->table;
        for (size_t i = 0; i < t->n_buckets && rc == 0; i++)
            for (const bp_state_entry *e = t->buckets[i]; e && rc == 0; e = e->hnext) {
                const unsigned char *v;
                size_t n;
                if (e->owner == (uint32_t)o && bp_state_entry_current(e, &v, &n))
                    rc = visit(user, s->topic, s->partition, e->key, e->key_len, v, n);
            }
    }
    pthread_mutex_unlock(&S.mu);
    return rc;
}

/* ---- lifetime ---------------------------------------------------------------------------- */

void bp_state_forget_owner(const bp_ctx *ctx)
{
    pthread_mutex_lock(&S.mu);
    int o = bp_state_owner_of(&S.owners, ctx);
    if (o >= 0) {
        purge_owner(o);
        bp_state_owner_release(&S.owners, o);
    }
    bool none = !bp_state_owners_any(&S.owners);
    pthread_mutex_unlock(&S.mu);
    if (none)
        bp_state_reset();
}

void bp_state_reset(void)
{
    pthread_mutex_lock(&S.mu);
    bp_state_pending_free(&S.pending);
    bp_state_scopes_free(&S.scopes);
    for (int o = 0; o < BP_STATE_MAX_OWNERS; o++)
        bp_state_owner_release(&S.owners, o);
    S.poll_seq = S.committed_seq = 0;
    S.dirty = false;
    pthread_mutex_unlock(&S.mu);
}
