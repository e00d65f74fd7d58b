/* sink-file's filter of the names its per-record folder may hold (name_filter.h): a name added
 * is always held (the sink then looks it up before writing, which a version check and a replay
 * need); a name never added is, nearly always, not (its look-up is saved). */
#include "check.h"
#include "name_filter.h"

#include <stdio.h>

int main(void)
{
    bp_name_filter f = {0};
    CHECK(bp_name_filter_may_hold(&f, "obs_a.json")); /* not filled: every name may be there */
    CHECK(bp_name_filter_init(&f) == 0);
    CHECK(!bp_name_filter_may_hold(&f, "obs_a.json"));
    bp_name_filter_add(&f, "obs_a.json");
    CHECK(bp_name_filter_may_hold(&f, "obs_a.json"));
    CHECK(!bp_name_filter_may_hold(&f, "obs_b.json"));
    char name[64];
    for (int i = 0; i < 100000; i++) {
        snprintf(name, sizeof name, "P%d_none_20260101_000000_r%d.json", i % 2000, i);
        bp_name_filter_add(&f, name);
    }
    int missed = 0, wasted = 0;
    for (int i = 0; i < 100000; i++) {
        snprintf(name, sizeof name, "P%d_none_20260101_000000_r%d.json", i % 2000, i);
        missed += !bp_name_filter_may_hold(&f, name);
        snprintf(name, sizeof name, "P%d_none_20260101_000001_r%d.json", i % 2000, i);
        wasted += bp_name_filter_may_hold(&f, name);
    }
    CHECK(missed == 0);  /* never: a held name not looked up could be overwritten */
    CHECK(wasted < 100); /* about 4 expected at 100 000 names (name_filter.h) */
    CHECK(f.count == 100001);
    bp_name_filter_free(&f);
    CHECK(bp_name_filter_may_hold(&f, "obs_b.json"));
    return CHECK_DONE();
}
