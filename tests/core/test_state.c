/* The host's keyed state (src/pipeline/state.c) through the host table, as plugins reach it: values per
 * partition and instance, versions per uncommitted batch folded at commit, what a source that
 * keeps state sees in state_changes, drop and restore around a rebalance, max_keys, and the
 * snapshot files of sources that keep none. */
#include "check.h"
#include "state_fixture.h"
#include "pipeline/instance.h"
#include "pipeline/record.h"
#include "pipeline/state.h"

#include <stdlib.h>
#include <unistd.h>

/* One payload record of batch `b` from (topic, partition). */
static bp_record *payload(bp_batch *b, const char *topic, int32_t partition, int64_t offset)
{
    bp_origin o = {sizeof o, topic, partition, offset, NULL, 0, -1};
    if (bp_host_table()->add_payload(b, "{}", 2, &o) != BP_OK)
        return NULL;
    return b->items[b->count - 1];
}

typedef struct seen {
    int n;
    char keys[8][32];
    char before[8][32], after[8][32];
    int had_before[8], has_after[8];
    int32_t partition[8];
} seen;

static int visit(void *user, const bp_state_change *c)
{
    seen *s = user;
    if (s->n >= 8)
        return 1;
    snprintf(s->keys[s->n], 32, "%.*s", (int)c->key_len, (const char *)c->key);
    snprintf(s->before[s->n], 32, "%.*s", (int)c->before_len, c->had_before ? (const char *)c->before : "");
    snprintf(s->after[s->n], 32, "%.*s", (int)c->after_len, c->has_after ? (const char *)c->after : "");
    s->had_before[s->n] = c->had_before;
    s->has_after[s->n] = c->has_after;
    s->partition[s->n] = c->partition;
    s->n++;
    return 0;
}

static const char *get(bp_ctx *det, const bp_record *r, const char *key, char *buf, size_t size)
{
    size_t len = 0;
    int rc = bp_host_table()->state_get(det, r, key, strlen(key), buf, size - 1, &len);
    if (rc != BP_OK)
        return rc == BP_END ? "(none)" : "(error)";
    buf[len] = '\0';
    return buf;
}

static void put(bp_ctx *det, const bp_record *r, const char *key, const char *value)
{
    CHECK(bp_host_table()->state_put(det, r, key, strlen(key), value, strlen(value)) == BP_OK);
}

static void test_kafka_like(void)
{
    const bp_host *h = bp_host_table();
    bp_state_configure(true, 0);
    bp_ctx *src = ctx_new("source.kafka", &src_loaded);
    bp_ctx *det = ctx_new("detector.trend", &det_loaded);
    bp_ctx *other = ctx_new("detector.other", &det_loaded);
    CHECK(h->state_open(det, "trend.1", 0, NULL) == BP_OK);
    CHECK(h->state_open(det, "trend.1", 0, NULL) == BP_EINVAL); /* once */
    CHECK(h->state_open(other, "Bad Format", 0, NULL) == BP_EINVAL);
    CHECK(h->state_open(other, "other.1", 2, NULL) == BP_OK);

    bp_arena a;
    bp_arena_init(&a, 4096);
    bp_batch b1, b2, b3;
    bp_batch_init(&b1, &a, 10);
    bp_batch_init(&b2, &a, 10);
    bp_batch_init(&b3, &a, 10);
    b1.seq = 1, b2.seq = 2, b3.seq = 3;
    char buf[64];

    bp_state_begin_poll(1);
    bp_record *r1 = payload(&b1, "bp", 0, 10);
    bp_record *r1b = payload(&b1, "bp", 1, 10);
    CHECK_STR(get(det, r1, "pat-1", buf, sizeof buf), "(none)");
    put(det, r1, "pat-1", "a1");
    put(det, r1b, "pat-1", "other-partition");
    CHECK_STR(get(det, r1, "pat-1", buf, sizeof buf), "a1");
    CHECK_STR(get(det, r1b, "pat-1", buf, sizeof buf), "other-partition");
    CHECK_STR(get(other, r1, "pat-1", buf, sizeof buf), "(none)"); /* instances apart */
    size_t len = 0;
    CHECK(h->state_get(det, r1, "pat-1", 5, buf, 1, &len) == BP_ENOMEM && len == 2);
    CHECK(h->state_get(NULL, r1, "pat-1", 5, buf, sizeof buf, &len) == BP_EINVAL);
    CHECK(h->state_put(det, r1, "", 0, "x", 1) == BP_EINVAL);
    CHECK(h->state_changes(det, &b1, visit, NULL) == BP_EINVAL); /* sources only */

    bp_state_begin_poll(2);
    bp_record *r2 = payload(&b2, "bp", 0, 11);
    put(det, r2, "pat-1", "a2"); /* batch 2 changes what batch 1 set */
    put(det, r2, "pat-2", "b2");
    put(det, r2, "pat-2", "b2'"); /* twice in one batch: one change, the last value */

    seen s1 = {0};
    CHECK(h->state_changes(src, &b1, visit, &s1) == 0);
    CHECK(s1.n == 2);
    CHECK_STR(s1.keys[0], "pat-1");
    CHECK(!s1.had_before[0] && s1.has_after[0]);
    CHECK_STR(s1.after[0], "a1"); /* as of batch 1, though batch 2 changed it since */
    bp_state_commit(1);

    seen s2 = {0};
    CHECK(h->state_changes(src, &b2, visit, &s2) == 0);
    CHECK(s2.n == 2);
    CHECK_STR(s2.keys[0], "pat-1");
    CHECK(s2.had_before[0]);
    CHECK_STR(s2.before[0], "a1");
    CHECK_STR(s2.after[0], "a2");
    CHECK_STR(s2.after[1], "b2'");
    bp_state_commit(2);

    /* max_keys: per partition */
    put(other, r2, "k1", "1");
    put(other, r2, "k2", "2");
    CHECK(h->state_put(other, r2, "k3", 2, "3", 1) == BP_ENOMEM);
    CHECK(h->state_put(other, r1b, "k3", 2, "3", 1) == BP_OK); /* another partition */

    /* A revoke in the middle of poll 3: the record polled before it keeps the old state; the
     * partition's next owner (here the same process, assigned again) restores the committed
     * values, and the dropped scope's changes are never offered. */
    bp_state_begin_poll(3);
    bp_record *before = payload(&b3, "bp", 0, 12);
    CHECK(h->state_drop(src, "bp", 0) == BP_OK);
    CHECK(h->state_restore(src, "bp", 0, "detector.trend/trend.1", "pat-1", 5, "r1", 2) ==
          BP_OK);
    CHECK(h->state_restore(src, "bp", 0, "detector.gone/x.1", "pat-1", 5, "zz", 2) == BP_OK);
    CHECK(h->state_restore(det, "bp", 0, "detector.trend/trend.1", "k", 1, "v", 1) ==
          BP_EINVAL);
    bp_record *after = payload(&b3, "bp", 0, 13);
    CHECK_STR(get(det, before, "pat-1", buf, sizeof buf), "a2");
    CHECK_STR(get(det, after, "pat-1", buf, sizeof buf), "r1");
    CHECK_STR(get(det, after, "pat-2", buf, sizeof buf), "(none)");
    put(det, before, "pat-1", "stale");
    put(det, after, "pat-9", "new");
    CHECK(h->state_delete(det, after, "pat-1", 5) == BP_OK);
    CHECK_STR(get(det, after, "pat-1", buf, sizeof buf), "(none)");
    seen s3 = {0};
    CHECK(h->state_changes(src, &b3, visit, &s3) == 0);
    int found_stale = 0, found_new = 0, found_delete = 0;
    for (int i = 0; i < s3.n; i++) {
        found_stale += strcmp(s3.after[i], "stale") == 0;
        found_new += strcmp(s3.keys[i], "pat-9") == 0 && strcmp(s3.after[i], "new") == 0;
        found_delete += strcmp(s3.keys[i], "pat-1") == 0 && !s3.has_after[i] &&
                        strcmp(s3.before[i], "r1") == 0;
    }
    CHECK(found_stale == 0);
    CHECK(found_new == 1);
    CHECK(found_delete == 1);
    bp_state_commit(3);
    CHECK_STR(get(det, after, "pat-1", buf, sizeof buf), "(none)");

    bp_batch_free(&b1);
    bp_batch_free(&b2);
    bp_batch_free(&b3);
    bp_arena_free(&a);
    bp_ctx_free(other);
    bp_ctx_free(det);
    bp_ctx_free(src);
}

static void test_snapshot(void)
{
    const bp_host *h = bp_host_table();
    char dir[] = "/tmp/bppipe-state-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char file[128];
    snprintf(file, sizeof file, "%s/trend.state", dir);
    bp_state_configure(false, 0);
    bp_ctx *det = ctx_new("detector.trend", &det_loaded);
    CHECK(h->state_open(det, "trend.1", 0, file) == BP_OK);
    bp_arena a;
    bp_arena_init(&a, 4096);
    bp_batch b;
    bp_batch_init(&b, &a, 10);
    b.seq = 1;
    bp_state_begin_poll(1);
    bp_record *r = payload(&b, "ward.ndjson", -1, 0);
    put(det, r, "pat-1", "v1");
    CHECK(bp_state_checkpoint(true) == 0);
    CHECK(access(file, F_OK) != 0); /* nothing committed: nothing written */
    bp_state_commit(1);
    b.seq = 2;
    bp_state_begin_poll(2);
    bp_record *r2 = payload(&b, "other-file.ndjson", -1, 0); /* no partitions: one scope */
    char buf[64];
    CHECK_STR(get(det, r2, "pat-1", buf, sizeof buf), "v1");
    put(det, r2, "pat-1", "v2-uncommitted");
    CHECK(bp_state_checkpoint(false) == 0);
    CHECK(access(file, F_OK) == 0);
    bp_ctx_free(det); /* the last owner: the store is emptied */

    det = ctx_new("detector.trend", &det_loaded);
    CHECK(h->state_open(det, "trend.1", 0, file) == BP_OK);
    CHECK_STR(get(det, r2, "pat-1", buf, sizeof buf), "v1"); /* as of the commit */
    bp_ctx_free(det);

    det = ctx_new("detector.renamed", &det_loaded); /* another owner's file: not read */
    CHECK(h->state_open(det, "trend.1", 0, file) == BP_OK);
    CHECK_STR(get(det, r2, "pat-1", buf, sizeof buf), "(none)");
    bp_ctx_free(det);

    FILE *f = fopen(file, "r+b"); /* damaged: cut in the middle of a value */
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    CHECK(truncate(file, size - 1) == 0);
    det = ctx_new("detector.trend", &det_loaded);
    CHECK(h->state_open(det, "trend.1", 0, file) == BP_OK);
    CHECK_STR(get(det, r2, "pat-1", buf, sizeof buf), "(none)");
    bp_ctx_free(det);

    bp_batch_free(&b);
    bp_arena_free(&a);
    unlink(file);
    rmdir(dir);
}

int main(void)
{
    test_kafka_like();
    test_snapshot();
    bp_state_reset();
    return CHECK_DONE();
}
