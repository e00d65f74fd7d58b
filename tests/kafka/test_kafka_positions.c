/* The commit-position tracker of source-kafka: positions only move forward, per partition,
 * and merge/remove keep partitions apart. */
#include "check.h"

#include "positions.h"

int main(void)
{
    bp_kpositions p = {0};
    CHECK(bp_kpos_note(&p, "bp", 0, 41) == 0);
    CHECK(bp_kpos_note(&p, "bp", 0, 7) == 0); /* an older offset never moves it back */
    CHECK(bp_kpos_note(&p, "bp", 1, 3) == 0);
    CHECK(bp_kpos_note(&p, "other", 0, 99) == 0);
    CHECK(p.n == 3);
    const bp_kpos *e = bp_kpos_find(&p, "bp", 0);
    CHECK(e && e->next == 42);
    e = bp_kpos_find(&p, "bp", 1);
    CHECK(e && e->next == 4);
    e = bp_kpos_find(&p, "other", 0);
    CHECK(e && e->next == 100);
    CHECK(bp_kpos_find(&p, "bp", 2) == NULL);
    CHECK(bp_kpos_find(&p, "b", 0) == NULL);

    /* invalid arguments are refused, nothing changes */
    CHECK(bp_kpos_note(&p, NULL, 0, 1) == -1);
    CHECK(bp_kpos_note(&p, "bp", 0, -1) == -1);
    CHECK(bp_kpos_note(&p, "bp", 0, INT64_MAX) == -1);
    CHECK(p.n == 3);

    /* merge raises, never lowers, and adds what is new */
    bp_kpositions q = {0};
    CHECK(bp_kpos_raise(&q, "bp", 0, 10) == 0);
    CHECK(bp_kpos_raise(&q, "bp", 1, 50) == 0);
    CHECK(bp_kpos_raise(&q, "bp", 5, 1) == 0);
    CHECK(bp_kpos_merge(&p, &q) == 0);
    CHECK(p.n == 4);
    CHECK(bp_kpos_find(&p, "bp", 0)->next == 42);
    CHECK(bp_kpos_find(&p, "bp", 1)->next == 50);
    CHECK(bp_kpos_find(&p, "bp", 5)->next == 1);

    /* remove drops exactly one partition */
    bp_kpos_remove(&p, "bp", 1);
    bp_kpos_remove(&p, "bp", 9); /* absent: no effect */
    CHECK(p.n == 3);
    CHECK(bp_kpos_find(&p, "bp", 1) == NULL);
    CHECK(bp_kpos_find(&p, "bp", 0)->next == 42);
    CHECK(bp_kpos_find(&p, "other", 0)->next == 100);
    CHECK(bp_kpos_find(&p, "bp", 5)->next == 1);

    /* many partitions (grows past the first allocation) */
    for (int i = 0; i < 100; i++)
        CHECK(bp_kpos_note(&q, "wide", i, i * 10) == 0);
    CHECK(q.n == 103);
    CHECK(bp_kpos_find(&q, "wide", 99)->next == 991);

    bp_kpos_clear(&p);
    CHECK(p.n == 0 && bp_kpos_find(&p, "bp", 0) == NULL);
    bp_kpos_free(&p);
    bp_kpos_free(&q);
    bp_kpos_free(NULL);
    return CHECK_DONE();
}
