/* The live page's state (src/ops/live.c) fed directly: a patient id is never cut (two long ids
 * that share their first 63 bytes stay two patients, shown with a prefix and a hash), a short
 * id that looks like that shown form cannot take another's place, a category of the 64
 * characters set_text allows is kept whole, and the patient bound holds. */
#include "check.h"
#include "ops/live.h"
#include "pipeline/record.h"

#include <stdlib.h>

static bp_record *reading(bp_arena *a, const char *patient, const char *category)
{
    bp_record *r = bp_record_new(a);
    r->patient_id = bp_arena_strdup(a, patient);
    r->stable_id = bp_arena_strdup(a, "s");
    r->effective_ms = 1700000000000;
    r->systolic = 120;
    r->diastolic = 80;
    r->category = category ? bp_arena_strdup(a, category) : NULL;
    return r;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

int main(void)
{
    bp_arena a;
    bp_arena_init(&a, 4096);
    bp_batch b;
    bp_batch_init(&b, &a, 0);
    char long1[101], long2[101];
    memset(long1, 'x', 100);
    memset(long2, 'x', 100);
    long1[100] = long2[100] = '\0';
    long2[99] = 'y'; /* differs only after the first 63 bytes */
    char cat[65];
    memset(cat, 'c', 64);
    cat[64] = '\0';
    bp_batch_push(&b, reading(&a, long1, cat));
    bp_batch_push(&b, reading(&a, long2, NULL));
    bp_batch_push(&b, reading(&a, long1, NULL));
    bp_batch_push(&b, reading(&a, "PAT-1", NULL));

    bp_live *l = bp_live_new((bp_live_bounds){.patients = 8, .history = 4, .events = 4}, 0);
    CHECK(l != NULL);
    bp_live_feed(l, &b, 1700000000000);
    bp_buf out;
    bp_buf_init(&out);
    bp_live_render(l, &out, 1700000001000);
    const char *json = bp_buf_cstr(&out);
    CHECK(count(json, "\"id\":") == 3); /* the two long ids are two patients, and PAT-1 */
    CHECK(count(json, "sha256:") >= 2);
    CHECK(strstr(json, "xxxxxxxxxxxxxxxxxxxx\xe2\x80\xa6sha256:") != NULL);
    CHECK(strstr(json, cat) != NULL); /* the 64-character category, whole */
    CHECK(strstr(json, "\"PAT-1\"") != NULL);

    /* A short id spelled like long1's shown form is hashed too, so it is a patient of its own
     * and not long1's. */
    const char *at = strstr(json, "\"id\":\"x");
    CHECK(at != NULL);
    char shown[128] = "";
    if (at) {
        at += strlen("\"id\":\"");
        size_t n = (size_t)(strchr(at, '"') - at);
        CHECK(n < sizeof shown);
        memcpy(shown, at, n < sizeof shown ? n : 0);
        shown[n < sizeof shown ? n : 0] = '\0';
    }
    CHECK(strlen(shown) <= 63 && strstr(shown, "sha256:") != NULL);
    bp_batch_clear(&b);
    bp_batch_push(&b, reading(&a, shown, NULL));
    bp_live_feed(l, &b, 1700000000500);
    bp_buf_reset(&out);
    bp_live_render(l, &out, 1700000001500);
    json = bp_buf_cstr(&out);
    CHECK(count(json, "\"id\":") == 4); /* long1, long2, PAT-1 and the look-alike */

    /* Only the newest 8 of 20 patients are kept. */
    bp_batch_clear(&b);
    for (int i = 0; i < 20; i++) {
        char id[16];
        snprintf(id, sizeof id, "P-%02d", i);
        bp_batch_push(&b, reading(&a, id, NULL));
    }
    bp_live_feed(l, &b, 1700000002000);
    bp_buf_reset(&out);
    bp_live_render(l, &out, 1700000003000);
    json = bp_buf_cstr(&out);
    CHECK(strstr(json, "\"P-19\"") != NULL && strstr(json, "\"P-12\"") != NULL);
    CHECK(strstr(json, "\"P-11\"") == NULL && strstr(json, "\"PAT-1\"") == NULL);

    /* Issue 26: a correction shows its values in place of the wrong ones (in the readings and
     * the events: an anomaly corrected to normal leaves them), its companion retraction changes
     * nothing, a retraction takes the reading away, and a patient left with none is not shown. */
    bp_batch_clear(&b);
    bp_record *wrong = reading(&a, "REV-1", "hypertensive_crisis");
    wrong->logical_id = "Observation/o1";
    wrong->systolic = 191;
    wrong->diastolic = 126;
    wrong->anomaly = true;
    bp_batch_push(&b, wrong);
    bp_record *other = reading(&a, "REV-1", "normal");
    other->logical_id = "Observation/o2";
    other->systolic = 117;
    bp_batch_push(&b, other);
    bp_live_feed(l, &b, 1700000004000);
    bp_buf_reset(&out);
    bp_live_render(l, &out, 1700000004000);
    json = bp_buf_cstr(&out);
    CHECK(count(json, "\"systolic\":191") == 2); /* its readings and the events */
    bp_batch_clear(&b);
    bp_record *fix = reading(&a, "REV-1", "hypertension_stage_1");
    fix->logical_id = "Observation/o1";
    fix->revision = BP_REVISION_REPLACE;
    fix->version = 2;
    fix->systolic = 131;
    bp_batch_push(&b, fix);
    bp_record *companion = reading(&a, "REV-1", NULL);
    companion->logical_id = "Observation/o1";
    companion->revision = BP_REVISION_RETRACT;
    companion->version = 2;
    companion->companion = true; /* the engine marks it (src/engine/revision_route.c) */
    bp_batch_push(&b, companion);
    bp_live_feed(l, &b, 1700000005000);
    bp_buf_reset(&out);
    bp_live_render(l, &out, 1700000005000);
    json = bp_buf_cstr(&out);
    CHECK(count(json, "\"systolic\":191") == 0);
    CHECK(count(json, "\"systolic\":131") == 1); /* in its place; no event any more */
    CHECK(strstr(json, "\"patient_id\":\"REV-1\"") == NULL);
    const char *rev = strstr(json, "\"id\":\"REV-1\"");
    CHECK(rev && strstr(rev, "\"latest\":{\"time\":\"2023-11-14T22:13:20.000Z\",\"systolic\":117"));
    /* retracted: o2 goes (the latest is the corrected o1), then o1 (no patient named) */
    bp_batch_clear(&b);
    bp_record *gone = reading(&a, "REV-1", NULL);
    gone->logical_id = "Observation/o2";
    gone->revision = BP_REVISION_RETRACT;
    gone->version = 3;
    bp_batch_push(&b, gone);
    bp_live_feed(l, &b, 1700000006000);
    bp_buf_reset(&out);
    bp_live_render(l, &out, 1700000006000);
    json = bp_buf_cstr(&out);
    rev = strstr(json, "\"id\":\"REV-1\"");
    CHECK(rev && strstr(rev, "\"latest\":{\"time\":\"2023-11-14T22:13:20.000Z\",\"systolic\":131"));
    CHECK(count(json, "\"systolic\":117") == 0);
    bp_batch_clear(&b);
    gone = reading(&a, "REV-1", NULL);
    gone->patient_id = NULL;
    gone->logical_id = "Observation/o1";
    gone->revision = BP_REVISION_RETRACT;
    bp_batch_push(&b, gone);
    bp_live_feed(l, &b, 1700000007000);
    bp_buf_reset(&out);
    bp_live_render(l, &out, 1700000007000);
    json = bp_buf_cstr(&out);
    CHECK(strstr(json, "REV-1") == NULL);
    CHECK(count(json, "\"id\":") == 7); /* P-13 to P-19 (REV-1 took P-12's place) */

    bp_buf_free(&out);
    bp_live_free(l);
    bp_batch_free(&b);
    bp_arena_free(&a);
    return CHECK_DONE();
}
