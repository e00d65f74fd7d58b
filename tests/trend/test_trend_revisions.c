/* detector-trend's history under corrections and retractions (issue 26, trend.h "revisions"):
 * the verdicts after a correction or a retraction are exactly those of a run that never saw the
 * wrong reading, kept in memory or stored and read back at every reading; a history without
 * logical ids, or with ids and no revision, is judged exactly as bp_trend_judge judges; a value
 * stored before revisions (layout trend.1) is still read. */
#include "check.h"
#include "trend.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MIN 60000LL
#define N 80      /* readings of the patient */
#define WRONG 30  /* the reading that was wrong */
#define LATER 3   /* readings between it and its correction */
#define KEEP 8    /* revisable readings kept */

typedef struct reading {
    char id[16];
    int64_t at;
    double s, d;
} reading;

static reading stream[N];

/* One patient every 4 to 9 minutes around 125/80, an episode of stage 2 and one of hypotension
 * (sustained flags), a late reading now and then, and one value of each kind missing. */
static void make_stream(void)
{
    uint64_t rng = 42;
    int64_t t = 0;
    for (int i = 0; i < N; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        int r = (int)(rng >> 33);
        t += (4 + r % 6) * MIN;
        reading *x = &stream[i];
        snprintf(x->id, sizeof x->id, "obs-%d", i);
        x->at = i % 17 == 16 ? t - 20 * MIN : t; /* late */
        x->s = 118 + r % 15;
        x->d = 76 + (r >> 4) % 9;
        if (i >= 40 && i < 45)
            x->s += 30; /* stage 2 */
        if (i >= 55 && i < 59)
            x->s -= 40, x->d -= 25;
    }
    stream[12].d = NAN;
    stream[50].s = NAN;
}

static bool same_verdict(const bp_trend_verdict *a, const bp_trend_verdict *b)
{
    return a->reasons == b->reasons && a->late == b->late && a->readings == b->readings &&
           (isnan(a->z) ? isnan(b->z) : a->z == b->z) &&
           (isnan(a->baseline) ? isnan(b->baseline) : a->baseline == b->baseline);
}

/* A history that is stored and read back before every step when `stored` (what the plugin does
 * through the host's keyed state), else kept in memory. */
typedef struct run {
    bp_trend_history h;
    bool stored;
} run;

static void reload(const bp_trend_config *c, run *r)
{
    if (!r->stored)
        return;
    uint8_t buf[BP_TREND_HISTORY_MAX];
    size_t len = bp_trend_history_encode(c, &r->h, buf);
    CHECK(len <= BP_TREND_HISTORY_MAX);
    CHECK(bp_trend_history_decode(c, buf, len, &r->h) == 0);
}

static void see(const bp_trend_config *c, run *r, const reading *x, double s, double d,
                bp_trend_verdict *v)
{
    reload(c, r);
    bp_trend_history_judge(c, KEEP, &r->h, bp_trend_reading_id(x->id), x->at, s, d, v);
}

/* Run A sees the wrong value of WRONG, LATER readings, then `rev` of it (a correction to
 * `fix_s`/`fix_d`, or a retraction); run B sees the corrected value at its place, or never the
 * reading. The verdicts of every reading after the revision must be the same in both. With
 * `as_new` run A takes the correction as a new reading instead (what happened before issue 26):
 * the count of readings whose verdicts differ is returned. */
static int compare(const bp_trend_config *c, bp_trend_revision rev, bool a_stored, bool b_stored,
                   bool as_new)
{
    const double fix_s = 130, fix_d = 85;
    run a = {.stored = a_stored}, b = {.stored = b_stored};
    bp_trend_history_init(&a.h);
    bp_trend_history_init(&b.h);
    bp_trend_verdict va, vb;
    int differ = 0;
    for (int i = 0; i < N; i++) {
        const reading *x = &stream[i];
        if (i == WRONG) {
            see(c, &a, x, 190, 125, &va); /* the wrong value: a crisis */
            if (rev == BP_TREND_REPLACE)
                see(c, &b, x, fix_s, fix_d, &vb);
            continue;
        }
        see(c, &a, x, x->s, x->d, &va);
        see(c, &b, x, x->s, x->d, &vb);
        if (i > WRONG + LATER) /* before the revision the runs may differ */
            differ += !same_verdict(&va, &vb);
        if (i == WRONG + LATER) { /* the revision arrives */
            reload(c, &a);
            const reading *w = &stream[WRONG];
            uint64_t id = bp_trend_reading_id(w->id);
            bp_trend_verdict vr;
            if (as_new) {
                bp_trend_history_judge(c, KEEP, &a.h, id, w->at, fix_s, fix_d, &vr);
            } else {
                CHECK(bp_trend_history_revise(c, KEEP, &a.h, rev, id, w->at, fix_s, fix_d, &vr) ==
                      1);
            }
        }
    }
    return differ;
}

static void equivalence(const bp_trend_config *c)
{
    for (int stored = 0; stored < 4; stored++) {
        CHECK(compare(c, BP_TREND_REPLACE, stored & 1, stored & 2, false) == 0);
        CHECK(compare(c, BP_TREND_RETRACT, stored & 1, stored & 2, false) == 0);
    }
    /* the check can fail: taken as a new reading, the correction leaves the wrong value in */
    CHECK(compare(c, BP_TREND_REPLACE, false, false, true) > 0);
}

/* The correction's own verdict is the one the corrected reading gets at its place, and the
 * history afterwards is the other run's, byte for byte. */
static void correction_verdict(const bp_trend_config *c)
{
    bp_trend_history a, b;
    bp_trend_history_init(&a);
    bp_trend_history_init(&b);
    bp_trend_verdict va, vb, want = {0}, vr;
    for (int i = 0; i <= WRONG + LATER; i++) {
        const reading *x = &stream[i];
        uint64_t id = bp_trend_reading_id(x->id);
        bool wrong = i == WRONG;
        bp_trend_history_judge(c, KEEP, &a, id, x->at, wrong ? 95 : x->s, wrong ? 55 : x->d, &va);
        bp_trend_history_judge(c, KEEP, &b, id, x->at, x->s, x->d, &vb);
        if (wrong)
            want = vb;
    }
    const reading *w = &stream[WRONG];
    CHECK(bp_trend_history_revise(c, KEEP, &a, BP_TREND_REPLACE, bp_trend_reading_id(w->id), w->at,
                                  w->s, w->d, &vr) == 1);
    CHECK(same_verdict(&vr, &want));
    uint8_t ea[BP_TREND_HISTORY_MAX], eb[BP_TREND_HISTORY_MAX];
    size_t la = bp_trend_history_encode(c, &a, ea), lb = bp_trend_history_encode(c, &b, eb);
    CHECK(la == lb && memcmp(ea, eb, la) == 0);
}

/* Without logical ids, and with ids but no revision, the history judges exactly as a plain
 * bp_trend_judge; without ids nothing is kept apart (the stored form is trend.1, byte for byte). */
static void same_as_plain(const bp_trend_config *c)
{
    bp_patient_state plain;
    bp_patient_state_init(&plain);
    bp_trend_history none, ids;
    bp_trend_history_init(&none);
    bp_trend_history_init(&ids);
    for (int i = 0; i < N; i++) {
        const reading *x = &stream[i];
        bp_trend_verdict vp, vn, vi;
        bp_trend_judge(c, &plain, x->at, x->s, x->d, &vp);
        bp_trend_history_judge(c, KEEP, &none, 0, x->at, x->s, x->d, &vn);
        bp_trend_history_judge(c, KEEP, &ids, bp_trend_reading_id(x->id), x->at, x->s, x->d, &vi);
        CHECK(same_verdict(&vp, &vn) && same_verdict(&vp, &vi));
        CHECK(none.n == 0 && ids.n == (i + 1 < KEEP ? i + 1 : KEEP));
    }
    uint8_t a[BP_TREND_HISTORY_MAX], b[BP_TREND_STATE_MAX];
    size_t la = bp_trend_history_encode(c, &none, a), lb = bp_trend_encode(c, &plain, b);
    CHECK(la == lb && memcmp(a, b, la) == 0);
    /* a trend.1 value (written before revisions) is read as a history without entries */
    bp_trend_history back;
    CHECK(bp_trend_history_decode(c, b, lb, &back) == 0 && back.n == 0);
    bp_trend_verdict v1, v2;
    bp_trend_judge(c, &plain, 999 * MIN, 150, 95, &v1);
    bp_trend_history_judge(c, KEEP, &back, 7, 999 * MIN, 150, 95, &v2);
    CHECK(same_verdict(&v1, &v2));
    /* the revisable layout: tagged, and damaged values refused */
    size_t li = bp_trend_history_encode(c, &ids, a);
    CHECK(a[0] == BP_TREND_LAYOUT_REVISABLE && a[1] == KEEP && li > lb);
    CHECK(bp_trend_history_decode(c, a, li, &back) == 0 && back.n == KEEP);
    CHECK(memcmp(back.entries, ids.entries, sizeof ids.entries[0] * KEEP) == 0);
    CHECK(bp_trend_history_decode(c, a, li - 1, &back) == -1 && back.n == 0);
    a[1] = BP_TREND_MAX_REVISABLE + 1;
    CHECK(bp_trend_history_decode(c, a, li, &back) == -1);
    /* refused after its parts were read (the bytes are decoded straight into the history): none
     * of them is left in it, as after any refusal */
    a[1] = KEEP;
    CHECK(bp_trend_history_decode(c, a, li, &back) == 0 && back.n == KEEP);
    memset(a + li - 32 + 8, 0, 7);
    a[li - 32 + 15] = 0x80; /* the last entry's time: INT64_MIN, the "no time" mark */
    bp_trend_history fresh;
    bp_trend_history_init(&fresh);
    CHECK(bp_trend_history_decode(c, a, li, &back) == -1);
    CHECK(memcmp(&back, &fresh, sizeof back) == 0);
}

/* A revision of a reading that has left the kept ones cannot be undone: reported, and a
 * retraction then changes nothing. A correction of an id never seen is inserted at its time. */
static void beyond_the_window(const bp_trend_config *c)
{
    bp_trend_history h;
    bp_trend_history_init(&h);
    bp_trend_verdict v;
    for (int i = 0; i < 20; i++)
        bp_trend_history_judge(c, KEEP, &h, bp_trend_reading_id(stream[i].id), stream[i].at,
                               stream[i].s, stream[i].d, &v);
    bp_trend_history before = h;
    CHECK(bp_trend_history_revise(c, KEEP, &h, BP_TREND_RETRACT, bp_trend_reading_id("obs-2"), 0,
                                  NAN, NAN, &v) == 0);
    CHECK(memcmp(&h, &before, sizeof h) == 0);
    /* never seen, between obs-17 and obs-18 by time */
    int64_t at = stream[17].at + 1;
    CHECK(bp_trend_history_revise(c, KEEP, &h, BP_TREND_REPLACE, bp_trend_reading_id("new"), at, 125,
                                  80, &v) == 0);
    CHECK(h.n == KEEP);
    int k = 0;
    while (k < h.n && h.entries[k].id != bp_trend_reading_id("new"))
        k++;
    CHECK(k < h.n && h.entries[k].at_ms == at && h.entries[k - 1].at_ms <= at);
    /* keep = 0: nothing kept apart, a revision is never exact */
    bp_trend_history z;
    bp_trend_history_init(&z);
    bp_trend_history_judge(c, 0, &z, 5, 0, 120, 80, &v);
    CHECK(z.n == 0 &&
          bp_trend_history_revise(c, 0, &z, BP_TREND_RETRACT, 5, 0, NAN, NAN, &v) == 0);
}

int main(void)
{
    make_stream();
    bp_trend_config c = bp_trend_config_default();
    equivalence(&c);
    correction_verdict(&c);
    same_as_plain(&c);
    beyond_the_window(&c);
    c.sustained_count = 2; /* another shape of the rings */
    c.baseline_min = 3;
    equivalence(&c);
    return CHECK_DONE();
}
