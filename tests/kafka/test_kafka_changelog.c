/* source-kafka's keyed-state changelog: records round-trip through their bytes, every cut or
 * altered byte string is refused (never read past), the restore picks before/after by the
 * committed offset, the pending map keeps the first unconfirmed `before`, and the restore map
 * keeps the newest (epoch, tag) per key. */
#include "check.h"

#include "changelog.h"

#include <stdlib.h>

static void roundtrip(void)
{
    bp_clog_key k = {"blood-pressure", 14, 5, "detector.trend/trend.1", 22, "p\0x", 3};
    uint8_t *kb;
    size_t kn;
    CHECK(bp_clog_key_encode(&k, &kb, &kn) == 0);
    bp_clog_key d;
    CHECK(bp_clog_key_decode(kb, kn, &d) == 0);
    CHECK(d.topic_len == 14 && memcmp(d.topic, "blood-pressure", 14) == 0);
    CHECK(d.partition == 5 && d.ns_len == 22 && d.key_len == 3 && memcmp(d.key, "p\0x", 3) == 0);
    /* every shorter prefix, and one byte more, are refused */
    for (size_t n = 0; n < kn; n++)
        CHECK(bp_clog_key_decode(kb, n, &d) == -1);
    uint8_t *longer = malloc(kn + 1);
    memcpy(longer, kb, kn);
    longer[kn] = 0;
    CHECK(bp_clog_key_decode(longer, kn + 1, &d) == -1);
    longer[0] = 2; /* another version */
    CHECK(bp_clog_key_decode(longer, kn, &d) == -1);
    free(longer);
    free(kb);

    bp_clog_value v = {.epoch = 3, .before_from = 100, .tag = 250, .has_before = true,
                       .before = "old", .before_len = 3, .has_after = true, .after = "newer",
                       .after_len = 5};
    uint8_t *vb;
    size_t vn;
    CHECK(bp_clog_value_encode(&v, &vb, &vn) == 0);
    CHECK(vn == 1 + 1 + 24 + 4 + 3 + 4 + 5);
    /* little-endian on the wire: the tag's low byte first */
    CHECK(vb[2] == 3 && vb[10] == 100 && vb[18] == 250 && vb[19] == 0);
    bp_clog_value w;
    CHECK(bp_clog_value_decode(vb, vn, &w) == 0);
    CHECK(w.epoch == 3 && w.before_from == 100 && w.tag == 250 && w.has_before && w.has_after);
    CHECK(w.before_len == 3 && memcmp(w.before, "old", 3) == 0);
    CHECK(w.after_len == 5 && memcmp(w.after, "newer", 5) == 0);
    for (size_t n = 0; n < vn; n++)
        CHECK(bp_clog_value_decode(vb, n, &w) == -1);
    vb[1] = 4; /* an unknown flag */
    CHECK(bp_clog_value_decode(vb, vn, &w) == -1);
    vb[1] = 1; /* no after, but after bytes */
    CHECK(bp_clog_value_decode(vb, vn, &w) == -1);
    vb[1] = 3;
    vb[26] = 0xff; /* a before length far past the end */
    CHECK(bp_clog_value_decode(vb, vn, &w) == -1);
    free(vb);

    /* a deletion (no after) and a key new in the checkpoint (no before) */
    bp_clog_value del = {.epoch = 1, .before_from = -1, .tag = 7, .has_before = true,
                         .before = "x", .before_len = 1};
    CHECK(bp_clog_value_encode(&del, &vb, &vn) == 0);
    CHECK(bp_clog_value_decode(vb, vn, &w) == 0 && !w.has_after && w.before_from == -1);
    free(vb);
    /* bounds */
    bp_clog_key big = {"t", 1, 0, "ns", 2, "k", BP_CLOG_MAX_KEY + 1};
    CHECK(bp_clog_key_encode(&big, &kb, &kn) == -1);
    bp_clog_key notopic = {"", 0, 0, "ns", 2, "k", 1};
    CHECK(bp_clog_key_encode(&notopic, &kb, &kn) == -1);
}

static void pick(void)
{
    bp_clog_value v = {.before_from = 100, .tag = 250, .has_before = true, .before = "b",
                       .before_len = 1, .has_after = true, .after = "a", .after_len = 1};
    const void *val;
    size_t len;
    CHECK(bp_clog_pick(&v, 250, &val, &len) == BP_CLOG_AFTER && len == 1 &&
          memcmp(val, "a", 1) == 0);
    CHECK(bp_clog_pick(&v, 900, &val, &len) == BP_CLOG_AFTER);
    /* written, then the process died before its offset commit */
    CHECK(bp_clog_pick(&v, 249, &val, &len) == BP_CLOG_BEFORE && memcmp(val, "b", 1) == 0);
    CHECK(bp_clog_pick(&v, 100, &val, &len) == BP_CLOG_BEFORE);
    /* offsets rewound behind the state */
    CHECK(bp_clog_pick(&v, 99, &val, &len) == BP_CLOG_REWOUND && memcmp(val, "b", 1) == 0);
    CHECK(bp_clog_pick(&v, -1, &val, &len) == BP_CLOG_REWOUND);
    /* a key new in an uncommitted checkpoint of a partition never committed before */
    bp_clog_value fresh = {.before_from = -1, .tag = 10, .has_after = true, .after = "a",
                           .after_len = 1};
    CHECK(bp_clog_pick(&fresh, -1, &val, &len) == BP_CLOG_BEFORE && val == NULL && len == 0);
    CHECK(bp_clog_pick(&fresh, 10, &val, &len) == BP_CLOG_AFTER && val != NULL);
    /* a deleted key restores nothing once its deletion is committed */
    bp_clog_value gone = {.before_from = 3, .tag = 10, .has_before = true, .before = "b",
                          .before_len = 1};
    CHECK(bp_clog_pick(&gone, 10, &val, &len) == BP_CLOG_AFTER && val == NULL);
    /* an empty value is a value */
    bp_clog_value empty = {.before_from = 0, .tag = 1, .has_after = true};
    CHECK(bp_clog_pick(&empty, 1, &val, &len) == BP_CLOG_AFTER && val != NULL && len == 0);
}

static int count_visit(void *user, const bp_clog_entry *e)
{
    (void)e;
    ++*(int *)user;
    return 0;
}

static void pending(void)
{
    bp_clog_map m = {0};
    /* checkpoint 1 (offset commit refused): p1 from "v0" (confirmed at 40) to "v1" */
    CHECK(bp_clog_pending_merge(&m, "bp", 0, "t/1", "p1", 2, true, "v0", 2, 40, true, "v1", 2) ==
          0);
    CHECK(bp_clog_pending_merge(&m, "bp", 1, "t/1", "p2", 2, false, NULL, 0, -1, true, "w1", 2) ==
          0);
    CHECK(m.n == 2);
    /* checkpoint 2: the host's before is now v1; the pending before stays v0 from 40 */
    CHECK(bp_clog_pending_merge(&m, "bp", 0, "t/1", "p1", 2, true, "v1", 2, 60, true, "v2", 2) ==
          0);
    CHECK(m.n == 2);
    bp_clog_key k = {"bp", 2, 0, "t/1", 3, "p1", 2};
    uint8_t *kb;
    size_t kn;
    CHECK(bp_clog_key_encode(&k, &kb, &kn) == 0);
    bp_clog_entry *e = bp_clog_map_find(&m, kb, kn);
    CHECK(e && e->has_before && e->before_len == 2 && memcmp(e->before, "v0", 2) == 0);
    CHECK(e && e->before_from == 40 && e->has_after && memcmp(e->after, "v2", 2) == 0);
    CHECK(e && strcmp(e->topic, "bp") == 0 && strcmp(e->ns, "t/1") == 0 && e->partition == 0);
    /* checkpoint 3 deletes it */
    CHECK(bp_clog_pending_merge(&m, "bp", 0, "t/1", "p1", 2, true, "v2", 2, 60, false, NULL, 0) ==
          0);
    e = bp_clog_map_find(&m, kb, kn);
    CHECK(e && !e->has_after && e->after == NULL && memcmp(e->before, "v0", 2) == 0);
    /* put again, then values of other lengths and of the same (copied over the last one) */
    static const char *const afters[] = {"v3", "v44", "v5", "v6", "v777", "v8"};
    for (size_t i = 0; i < sizeof afters / sizeof afters[0]; i++) {
        size_t len = strlen(afters[i]);
        CHECK(bp_clog_pending_merge(&m, "bp", 0, "t/1", "p1", 2, true, "zz", 2, 70, true,
                                    afters[i], len) == 0);
        e = bp_clog_map_find(&m, kb, kn);
        CHECK(e && e->has_after && e->after_len == len && memcmp(e->after, afters[i], len) == 0);
        CHECK(e && e->before_len == 2 && memcmp(e->before, "v0", 2) == 0 && e->before_from == 40);
    }
    CHECK(bp_clog_pending_merge(&m, "bp", 0, "t/1", "p1", 2, true, "v8", 2, 80, false, NULL, 0) ==
          0);
    free(kb);
    /* the same key of another owner or partition is another entry */
    CHECK(bp_clog_pending_merge(&m, "bp", 1, "t/1", "p1", 2, false, NULL, 0, -1, true, "x", 1) ==
          0);
    CHECK(bp_clog_pending_merge(&m, "bp", 0, "a/1", "p1", 2, false, NULL, 0, -1, true, "x", 1) ==
          0);
    CHECK(m.n == 4);
    int n = 0;
    CHECK(bp_clog_map_each(&m, count_visit, &n) == 0 && n == 4);
    /* giving partition 1 up forgets its two entries */
    CHECK(bp_clog_map_drop_partition(&m, "bp", 1) == 2 && m.n == 2);
    CHECK(bp_clog_map_drop_partition(&m, "other", 0) == 0);
    /* enough keys to grow the buckets several times */
    char key[16];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        CHECK(bp_clog_pending_merge(&m, "bp", i % 3, "t/1", key, strlen(key), false, NULL, 0, -1,
                                    true, key, strlen(key)) == 0);
    }
    CHECK(m.n == 5002);
    bp_clog_map_clear(&m);
    CHECK(m.n == 0);
    bp_clog_map_free(&m);
}

/* Offers a record (key p of partition 0) with (epoch, tag, after) to the restore map. */
static int offer(bp_clog_map *m, uint64_t epoch, int64_t tag, const char *after)
{
    bp_clog_key k = {"bp", 2, 0, "t/1", 3, "p", 1};
    bp_clog_value v = {.epoch = epoch, .before_from = 0, .tag = tag, .has_after = true,
                       .after = after, .after_len = strlen(after)};
    uint8_t *kb, *vb;
    size_t kn, vn;
    if (bp_clog_key_encode(&k, &kb, &kn) != 0 || bp_clog_value_encode(&v, &vb, &vn) != 0)
        return -2;
    int rc = bp_clog_latest_offer(m, kb, kn, vb, vn);
    free(kb);
    free(vb);
    return rc;
}

static const char *latest_after(bp_clog_map *m)
{
    static char buf[32];
    if (m->n != 1)
        return NULL;
    for (size_t i = 0; i < m->n_buckets; i++)
        if (m->buckets[i]) {
            snprintf(buf, sizeof buf, "%.*s", (int)m->buckets[i]->after_len,
                     (const char *)m->buckets[i]->after);
            return buf;
        }
    return NULL;
}

static void latest(void)
{
    bp_clog_map m = {0};
    CHECK(offer(&m, 1, 100, "a") == 1);
    CHECK(offer(&m, 1, 200, "b") == 1);
    CHECK_STR(latest_after(&m), "b");
    /* the same checkpoint written again (a retried flush) is taken: it came later */
    CHECK(offer(&m, 1, 200, "b2") == 1);
    CHECK_STR(latest_after(&m), "b2");
    /* an earlier owner's record that landed after the newer owner's is not */
    CHECK(offer(&m, 2, 300, "c") == 1);
    CHECK(offer(&m, 1, 250, "zombie") == 0);
    CHECK_STR(latest_after(&m), "c");
    /* after offsets were rewound, the new epoch's lower tags win */
    CHECK(offer(&m, 3, 120, "rewound") == 1);
    CHECK_STR(latest_after(&m), "rewound");
    /* a record that does not parse is refused and changes nothing */
    CHECK(bp_clog_latest_offer(&m, "junk", 4, "junk", 4) == -1);
    CHECK(m.n == 1);
    bp_clog_map_free(&m);
}

int main(void)
{
    roundtrip();
    pick();
    pending();
    latest();
    return CHECK_DONE();
}
