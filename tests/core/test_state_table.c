/* The pure parts of the keyed state store, without the process-global or the host table: a
 * partition's table of keys (src/pipeline/state_table.c), the scopes per partition
 * (state_scopes.c) and the uncommitted batches folded at a commit (state_pending.c). */
#include "check.h"
#include "pipeline/state_pending.h"
#include "pipeline/state_scopes.h"
#include "pipeline/state_table.h"

#include <stdio.h>
#include <stdlib.h>

static bp_state_entry *put_key(bp_state_table *t, uint32_t owner, const char *key)
{
    uint64_t h = bp_state_key_hash(owner, key, strlen(key));
    bp_state_entry *e = bp_state_table_find(t, owner, key, strlen(key), h);
    return e ? e : bp_state_table_add(t, owner, key, strlen(key), h);
}

static bp_state_entry *find_key(const bp_state_table *t, uint32_t owner, const char *key)
{
    return bp_state_table_find(t, owner, key, strlen(key),
                               bp_state_key_hash(owner, key, strlen(key)));
}

/* A new version of `e` for batch `seq` (NULL value: a delete). */
static bp_state_version *version(uint64_t seq, const char *value)
{
    return bp_state_version_new(seq, value, value ? strlen(value) : 0, value != NULL);
}

static const char *current(const bp_state_entry *e, char *buf, size_t size)
{
    const unsigned char *v;
    size_t n;
    if (!e || !bp_state_entry_current(e, &v, &n))
        return "(none)";
    snprintf(buf, size, "%.*s", (int)n, n ? (const char *)v : "");
    return buf;
}

static void test_table(void)
{
    bp_state_table t;
    CHECK(bp_state_table_init(&t) == 0);
    CHECK(t.n_buckets == 64 && t.n_entries == 0);
    CHECK(bp_state_key_hash(0, "k", 1) != bp_state_key_hash(1, "k", 1)); /* owners apart */

    /* insert, find, owners apart */
    bp_state_entry *a = put_key(&t, 0, "pat-1");
    CHECK(a && a->key_len == 5 && memcmp(a->key, "pat-1", 5) == 0);
    CHECK(put_key(&t, 0, "pat-1") == a);
    CHECK(find_key(&t, 1, "pat-1") == NULL);
    bp_state_entry *b = put_key(&t, 1, "pat-1");
    CHECK(b && b != a);
    CHECK(t.n_entries == 2 && t.keys[0] == 1 && t.keys[1] == 1);

    /* a value is its newest version, else its base; replace and delete are versions */
    char buf[64];
    CHECK_STR(current(a, buf, sizeof buf), "(none)");
    CHECK(bp_state_entry_empty(a));
    bp_state_entry_push(a, version(1, "v1"));
    CHECK_STR(current(a, buf, sizeof buf), "v1");
    bp_state_entry_push(a, version(2, "v2"));
    CHECK_STR(current(a, buf, sizeof buf), "v2");
    bp_state_entry_push(a, version(3, NULL));
    CHECK_STR(current(a, buf, sizeof buf), "(none)");
    CHECK(bp_state_entry_fold(a)); /* batch 1 committed */
    CHECK(a->base_present && a->base_len == 2 && memcmp(a->base, "v1", 2) == 0);
    CHECK_STR(current(a, buf, sizeof buf), "(none)");
    CHECK(bp_state_entry_fold(a) && bp_state_entry_fold(a));
    CHECK(!bp_state_entry_fold(a)); /* nothing left to fold */
    CHECK(!a->base_present && a->versions == NULL && a->last == NULL);
    CHECK(bp_state_entry_empty(a));

    /* the same batch again: its version is replaced in place, the older ones stay in order */
    bp_state_entry_push(a, version(4, "v4"));
    bp_state_entry_push(a, version(5, "v5"));
    bp_state_entry_replace_last(a, version(5, "v5-again"));
    CHECK_STR(current(a, buf, sizeof buf), "v5-again");
    bp_state_entry_replace_last(a, version(5, NULL)); /* deleted by that batch after all */
    CHECK_STR(current(a, buf, sizeof buf), "(none)");
    bp_state_entry_replace_last(a, version(5, "v5"));
    CHECK(bp_state_entry_fold(a) && a->base_present && memcmp(a->base, "v4", 2) == 0);
    CHECK(a->versions == a->last && a->last->seq == 5);
    bp_state_entry_replace_last(a, version(5, "")); /* the only version: present and empty */
    CHECK(a->versions == a->last && a->last->present && a->last->len == 0);
    CHECK(bp_state_entry_fold(a) && a->base_present && a->base_len == 0);
    CHECK(!a->versions && !a->last && !bp_state_entry_empty(a));
    bp_state_entry_push(a, version(6, NULL));
    CHECK(bp_state_entry_fold(a) && bp_state_entry_empty(a));

    /* delete: the entry goes, the others stay */
    bp_state_table_remove(&t, a);
    CHECK(find_key(&t, 0, "pat-1") == NULL);
    CHECK(find_key(&t, 1, "pat-1") == b);
    CHECK(t.n_entries == 1 && t.keys[0] == 0 && t.keys[1] == 1);

    /* grow: past 64 entries the buckets double, every key is still found */
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        bp_state_entry *e = put_key(&t, (uint32_t)(i % 3), key);
        bp_state_entry_push(e, version(1, key));
    }
    CHECK(t.n_entries == 1001);
    CHECK(t.n_buckets == 1024);
    int found = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        bp_state_entry *e = find_key(&t, (uint32_t)(i % 3), key);
        found += e && strcmp(current(e, buf, sizeof buf), key) == 0;
        found -= find_key(&t, (uint32_t)(i % 3 + 1), key) != NULL;
    }
    CHECK(found == 1000);

    /* purge one owner: its keys go, the others' stay */
    bp_state_table_purge_owner(&t, 1);
    CHECK(t.keys[1] == 0 && t.keys[0] == 334 && t.keys[2] == 333);
    CHECK(t.n_entries == 667);
    CHECK(find_key(&t, 1, "pat-1") == NULL && find_key(&t, 1, "k1") == NULL);
    CHECK(find_key(&t, 0, "k0") != NULL);

    /* removing keys leaves every other key of their buckets found (each bucket's signature is
     * its chain's), and a removed key is gone, also once added again */
    for (int i = 0; i < 1000; i += 6) {
        snprintf(key, sizeof key, "k%d", i);
        bp_state_table_remove(&t, find_key(&t, 0, key));
    }
    found = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        bool want = i % 3 != 1 && i % 6 != 0;
        found += (find_key(&t, (uint32_t)(i % 3), key) != NULL) == want;
    }
    CHECK(found == 1000);
    CHECK(t.n_entries == 667 - 167);
    bp_state_entry *again = put_key(&t, 0, "k0");
    CHECK(again && find_key(&t, 0, "k0") == again);

    bp_state_table_free(&t); /* frees the versions too (checked by the sanitizer run) */
    CHECK(t.buckets == NULL && t.n_entries == 0);
}

static void forget(void *pending, const bp_state_scope *s)
{
    bp_state_pending_forget_scope(pending, s);
}

static void test_scopes(void)
{
    bp_state_scopes ss = {0};
    bp_state_scope *p0 = bp_state_scopes_live(&ss, "bp", 0);
    bp_state_scope *p1 = bp_state_scopes_live(&ss, "bp", 1);
    bp_state_scope *other = bp_state_scopes_live(&ss, "other", 0);
    CHECK(p0 && p1 && other && p0 != p1 && p0 != other);
    CHECK(p0->id == 1 && p1->id == 2 && other->id == 3);
    CHECK(bp_state_scopes_live(&ss, "bp", 0) == p0);
    CHECK(bp_state_scopes_by_id(&ss, 2) == p1);
    CHECK(bp_state_scopes_by_id(&ss, 99) == NULL);

    /* no partitions: one scope whatever the topic (a file source's file names) */
    bp_state_scope *files = bp_state_scopes_live(&ss, "a.ndjson", -1);
    CHECK(files && files->topic == NULL && files->partition == -1);
    CHECK(bp_state_scopes_live(&ss, "b.ndjson", -1) == files);
    CHECK(bp_state_scopes_live(&ss, NULL, -7) == files);

    put_key(&p0->table, 0, "x");
    put_key(&p1->table, 0, "y");
    put_key(&p1->table, 1, "y");
    CHECK(bp_state_scopes_keys(&ss) == 3);

    /* drop: no longer found by partition (a new scope is), still by id until committed */
    bp_state_scopes_drop(&ss, "bp", 1, 5);
    CHECK(p1->dropped && p1->drop_seq == 5);
    CHECK(bp_state_scopes_keys(&ss) == 1);
    bp_state_scope *p1b = bp_state_scopes_live(&ss, "bp", 1);
    CHECK(p1b && p1b != p1 && p1b->id == 5);
    CHECK(bp_state_scopes_by_id(&ss, 2) == p1);

    bp_state_pending pd = {0};
    bp_state_batch *b5 = bp_state_pending_add(&pd, 5);
    CHECK(bp_state_batch_note(b5, p1, find_key(&p1->table, 0, "y")) == 0);
    CHECK(bp_state_batch_note(b5, p0, find_key(&p0->table, 0, "x")) == 0);
    bp_state_scopes_free_dropped(&ss, 4, forget, &pd);
    CHECK(bp_state_scopes_by_id(&ss, 2) == p1); /* batch 5 not committed yet */
    bp_state_scopes_free_dropped(&ss, 5, forget, &pd);
    CHECK(bp_state_scopes_by_id(&ss, 2) == NULL);
    CHECK(b5->n == 1 && b5->items[0].scope == p0); /* its changes were forgotten with it */

    bp_state_scopes_purge_owner(&ss, 0);
    CHECK(bp_state_scopes_keys(&ss) == 0);
    bp_state_pending_free(&pd);
    bp_state_scopes_free(&ss);
    CHECK(ss.list == NULL && ss.last_hit == NULL);
    bp_state_scope *again = bp_state_scopes_live(&ss, "bp", 0);
    CHECK(again && again->id == 6); /* ids are never reused */
    bp_state_scopes_free(&ss);
}

/* More partitions than slots of the index by id: every id still finds its own scope, also
 * after a scope sharing its slot is freed, and a freed one is never found. */
static void test_scopes_many(void)
{
    bp_state_scopes ss = {0};
    bp_state_scope *by_part[100];
    for (int i = 0; i < 100; i++)
        by_part[i] = bp_state_scopes_live(&ss, "bp", i);
    int wrong = 0;
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 100; i++) {
            int k = (i * 37 + round) % 100; /* records of many partitions interleaved */
            wrong += bp_state_scopes_by_id(&ss, (uint64_t)k + 1) != by_part[k];
        }
    CHECK(wrong == 0);
    bp_state_pending pd = {0};
    bp_state_scopes_drop(&ss, "bp", 64, 1); /* id 65: the slot of id 1 */
    bp_state_scopes_drop(&ss, "bp", 2, 1);  /* id 3: the slot of id 67 */
    bp_state_scopes_free_dropped(&ss, 1, forget, &pd);
    CHECK(bp_state_scopes_by_id(&ss, 65) == NULL);
    CHECK(bp_state_scopes_by_id(&ss, 3) == NULL);
    CHECK(bp_state_scopes_by_id(&ss, 1) == by_part[0]);
    CHECK(bp_state_scopes_by_id(&ss, 67) == by_part[66]);
    bp_state_scope *again = bp_state_scopes_live(&ss, "bp", 64);
    CHECK(again && again->id == 101 && bp_state_scopes_by_id(&ss, 101) == again);
    CHECK(bp_state_scopes_by_id(&ss, 37) == by_part[36]);
    bp_state_pending_free(&pd);
    bp_state_scopes_free(&ss);
    CHECK(bp_state_scopes_by_id(&ss, 37) == NULL);
}

static void test_pending(void)
{
    bp_state_scopes ss = {0};
    bp_state_scope *s = bp_state_scopes_live(&ss, "bp", 0);
    bp_state_pending pd = {0};

    /* batches stay in ascending order whatever order they come in */
    CHECK(bp_state_pending_add(&pd, 3) != NULL);
    CHECK(bp_state_pending_add(&pd, 1) != NULL);
    CHECK(bp_state_pending_add(&pd, 2) != NULL);
    CHECK(bp_state_pending_add(&pd, 3) == &pd.batches[2]); /* found, not added */
    CHECK(pd.n == 3 && pd.batches[0].seq == 1 && pd.batches[1].seq == 2 && pd.batches[2].seq == 3);
    CHECK(bp_state_pending_find(&pd, 2) == &pd.batches[1]);
    CHECK(bp_state_pending_find(&pd, 4) == NULL);

    /* key a: set in 1, changed in 3; key b: set in 2, deleted in 3; c: owner 1, set in 1 */
    bp_state_entry *a = put_key(&s->table, 0, "a"), *b = put_key(&s->table, 0, "b");
    bp_state_entry *c = put_key(&s->table, 1, "c");
    bp_state_entry_push(a, version(1, "a1"));
    CHECK(bp_state_batch_note(bp_state_pending_find(&pd, 1), s, a) == 0);
    bp_state_entry_push(c, version(1, "c1"));
    CHECK(bp_state_batch_note(bp_state_pending_find(&pd, 1), s, c) == 0);
    bp_state_entry_push(b, version(2, "b2"));
    CHECK(bp_state_batch_note(bp_state_pending_find(&pd, 2), s, b) == 0);
    bp_state_entry_push(a, version(3, "a3"));
    CHECK(bp_state_batch_note(bp_state_pending_find(&pd, 3), s, a) == 0);
    bp_state_entry_push(b, version(3, NULL));
    CHECK(bp_state_batch_note(bp_state_pending_find(&pd, 3), s, b) == 0);

    /* a commit of 2 folds batches 1 and 2 */
    CHECK(bp_state_pending_commit(&pd, 2));
    CHECK(pd.n == 1 && pd.batches[0].seq == 3);
    CHECK(a->base_present && a->base_len == 2 && memcmp(a->base, "a1", 2) == 0);
    CHECK(b->base_present && memcmp(b->base, "b2", 2) == 0);
    CHECK(a->versions && a->versions->seq == 3);

    /* owner 1's changes are forgotten before it is purged */
    bp_state_entry_push(c, version(3, "c3"));
    CHECK(bp_state_batch_note(&pd.batches[0], s, c) == 0);
    bp_state_pending_forget_owner(&pd, 1);
    CHECK(pd.batches[0].n == 2);
    bp_state_table_purge_owner(&s->table, 1);

    /* committing 3 deletes b: its entry goes */
    CHECK(bp_state_pending_commit(&pd, 3));
    CHECK(pd.n == 0);
    CHECK(find_key(&s->table, 0, "b") == NULL);
    CHECK(s->table.n_entries == 1 && memcmp(a->base, "a3", 2) == 0);
    CHECK(!bp_state_pending_commit(&pd, 9)); /* nothing changed */

    /* a dropped scope's commit changes nothing the snapshot files hold */
    bp_state_entry_push(a, version(10, "a10"));
    CHECK(bp_state_batch_note(bp_state_pending_add(&pd, 10), s, a) == 0);
    s->dropped = true;
    CHECK(!bp_state_pending_commit(&pd, 10));
    CHECK(memcmp(a->base, "a10", 3) == 0);

    bp_state_pending_free(&pd);
    bp_state_scopes_free(&ss);
}

int main(void)
{
    test_table();
    test_scopes();
    test_scopes_many();
    test_pending();
    return CHECK_DONE();
}
