/* detector-xgboost's history under corrections and retractions (issue 26, lib/clinical/history.h
 * "revisions"): after a correction or a retraction, the features of every following reading are
 * exactly those of a run that never saw the wrong value, kept in memory or stored and read back
 * at every reading; without logical ids the log is a bp_history stored as before. */
#include "check.h"
#include "clinical/history.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MIN 60000LL
#define N 40
#define WRONG 15
#define LATER 3
#define KEEP 8

static struct {
    char id[16];
    int64_t at;
    double s, d;
} stream[N];

static void make_stream(void)
{
    uint64_t rng = 7;
    int64_t t = 0;
    for (int i = 0; i < N; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        int r = (int)(rng >> 33);
        t += (5 + r % 10) * MIN;
        snprintf(stream[i].id, sizeof stream[i].id, "obs-%d", i);
        stream[i].at = i % 11 == 10 ? t - 30 * MIN : t; /* late: not folded */
        stream[i].s = 115 + r % 20;
        stream[i].d = 75 + (r >> 5) % 10;
    }
    stream[7].d = NAN;
}

static bool same_features(const bp_history *a, const bp_history *b, int64_t at, double s, double d)
{
    double fa[BP_FEAT_N], fb[BP_FEAT_N];
    bp_hist_features(a, at, s, d, NAN, fa);
    bp_hist_features(b, at, s, d, NAN, fb);
    for (int k = 0; k < BP_FEAT_N; k++)
        if (isnan(fa[k]) ? !isnan(fb[k]) : fa[k] != fb[k])
            return false;
    return true;
}

static void reload(bp_hist_log *h, bool stored)
{
    if (!stored)
        return;
    uint8_t buf[BP_HIST_LOG_MAX];
    size_t len = bp_hist_log_encode(h, buf);
    CHECK(len <= BP_HIST_LOG_MAX && bp_hist_log_decode(buf, len, h) == 0);
}

/* Run A: the wrong value at WRONG, its revision LATER readings on; run B: the corrected value
 * at its place, or never the reading. Returns the readings after the revision whose features
 * differ; `as_new`: A takes the correction as a new reading (the behaviour before). */
static int compare(bool retract, bool stored, bool as_new)
{
    bp_hist_log a, b;
    bp_hist_log_init(&a);
    bp_hist_log_init(&b);
    int differ = 0;
    for (int i = 0; i < N; i++) {
        uint64_t id = bp_hist_reading_id(stream[i].id);
        if (i > WRONG + LATER)
            differ += !same_features(&a.now, &b.now, stream[i].at, stream[i].s, stream[i].d);
        reload(&a, stored);
        bool wrong = i == WRONG;
        bp_hist_log_add(&a, KEEP, id, stream[i].at, wrong ? 190 : stream[i].s,
                        wrong ? 125 : stream[i].d);
        if (!(wrong && retract))
            bp_hist_log_add(&b, KEEP, id, stream[i].at, stream[i].s, stream[i].d);
        if (i == WRONG + LATER) {
            reload(&a, stored);
            uint64_t w = bp_hist_reading_id(stream[WRONG].id);
            if (as_new)
                bp_hist_log_add(&a, KEEP, w, stream[WRONG].at, stream[WRONG].s, stream[WRONG].d);
            else
                CHECK(bp_hist_log_revise(&a, KEEP, retract, w, stream[WRONG].at, stream[WRONG].s,
                                         stream[WRONG].d, NULL) == 1);
        }
    }
    return differ;
}

int main(void)
{
    make_stream();
    for (int stored = 0; stored < 2; stored++) {
        CHECK(compare(false, stored, false) == 0);
        CHECK(compare(true, stored, false) == 0);
    }
    CHECK(compare(false, false, true) > 0); /* the check can fail */

    /* the correction's features are those of the corrected reading at its place */
    bp_hist_log a, b;
    bp_hist_log_init(&a);
    bp_hist_log_init(&b);
    bp_history want, got;
    for (int i = 0; i <= WRONG + LATER; i++) {
        uint64_t id = bp_hist_reading_id(stream[i].id);
        if (i == WRONG)
            want = b.now;
        bp_hist_log_add(&a, KEEP, id, stream[i].at, i == WRONG ? 60 : stream[i].s, stream[i].d);
        bp_hist_log_add(&b, KEEP, id, stream[i].at, stream[i].s, stream[i].d);
    }
    CHECK(bp_hist_log_revise(&a, KEEP, false, bp_hist_reading_id(stream[WRONG].id),
                             stream[WRONG].at, stream[WRONG].s, stream[WRONG].d, &got) == 1);
    CHECK(same_features(&got, &want, stream[WRONG].at, stream[WRONG].s, stream[WRONG].d));

    /* without ids: nothing kept apart, stored as xgbhist.1 byte for byte, and such a value (one
     * written before revisions) is read back */
    bp_history plain;
    bp_hist_init(&plain);
    bp_hist_log none;
    bp_hist_log_init(&none);
    for (int i = 0; i < N; i++) {
        bp_hist_fold(&plain, stream[i].at, stream[i].s, stream[i].d);
        bp_hist_log_add(&none, KEEP, 0, stream[i].at, stream[i].s, stream[i].d);
        CHECK(none.n == 0);
    }
    uint8_t x[BP_HIST_LOG_MAX], y[BP_HIST_STATE_MAX];
    size_t lx = bp_hist_log_encode(&none, x), ly = bp_hist_encode(&plain, y);
    CHECK(lx == ly && memcmp(x, y, lx) == 0);
    bp_hist_log back;
    CHECK(bp_hist_log_decode(y, ly, &back) == 0 && back.n == 0);
    CHECK(same_features(&back.now, &plain, 1000 * MIN, 120, 80));
    /* the revisable layout, and damaged values refused */
    size_t la = bp_hist_log_encode(&a, x);
    CHECK(x[0] == BP_HIST_LAYOUT_REVISABLE && a.n == KEEP);
    CHECK(bp_hist_log_decode(x, la, &back) == 0 && back.n == KEEP);
    CHECK(bp_hist_log_decode(x, la - 1, &back) == -1 && back.n == 0);
    /* a retraction of a reading no longer kept changes nothing */
    CHECK(bp_hist_log_revise(&a, KEEP, true, bp_hist_reading_id("obs-0"), 0, NAN, NAN, NULL) == 0);
    return CHECK_DONE();
}
