/* The tree models' vocabulary and history (lib/clinical/history.c): names both ways, features
 * by hand for a short course, missing history as NaN (never 0), late readings, the stored form
 * and every refusal of a damaged one. */
#include "check.h"
#include "clinical/history.h"

#include <math.h>
#include <string.h>

int main(void)
{
    for (int f = 0; f < BP_FEAT_N; f++)
        CHECK(bp_feat_parse(bp_feat_name((bp_feat)f)) == f);
    CHECK(bp_feat_parse("sbp") == -1);
    CHECK(!bp_feat_is_history(BP_FEAT_MAP) && bp_feat_is_history(BP_FEAT_COUNT));

    bp_history h;
    bp_hist_init(&h);
    double f[BP_FEAT_N];
    /* the first reading: its own values, count 0, every history feature missing */
    bp_hist_features(&h, 0, 120, 80, NAN, f);
    CHECK_NUM(f[BP_FEAT_PULSE_PRESSURE], 40);
    CHECK_NUM(f[BP_FEAT_MAP], 80 + 40 / 3.0);
    CHECK_NUM(f[BP_FEAT_COUNT], 0);
    CHECK(isnan(f[BP_FEAT_PULSE]));
    for (int i = BP_FEAT_SECONDS_SINCE_LAST; i < BP_FEAT_N; i++)
        CHECK(isnan(f[i]));
    CHECK(bp_hist_fold(&h, 0, 120, 80));
    /* 15 minutes later, 130/84: deltas, baseline = the one reading, slope 40 mmHg/h */
    bp_hist_features(&h, 900000, 130, 84, 70, f);
    CHECK_NUM(f[BP_FEAT_PULSE], 70);
    CHECK_NUM(f[BP_FEAT_COUNT], 1);
    CHECK_NUM(f[BP_FEAT_SECONDS_SINCE_LAST], 900);
    CHECK_NUM(f[BP_FEAT_DELTA_SYSTOLIC], 10);
    CHECK_NUM(f[BP_FEAT_DELTA_DIASTOLIC], 4);
    CHECK_NUM(f[BP_FEAT_BASELINE_SYSTOLIC], 120);
    CHECK_NUM(f[BP_FEAT_BASELINE_DELTA_SYSTOLIC], 10);
    CHECK_NUM(f[BP_FEAT_SLOPE_SYSTOLIC], 40);
    CHECK_NUM(f[BP_FEAT_SLOPE_DIASTOLIC], 16);
    CHECK(bp_hist_fold(&h, 900000, 130, 84));
    CHECK_NUM(h.base_sys, 125); /* running mean of the first readings */
    /* a late reading is judged but not folded in; one without diastolic is not folded either */
    CHECK(!bp_hist_fold(&h, 600000, 150, 90));
    CHECK(!bp_hist_fold(&h, 1800000, 150, NAN));
    CHECK(h.n == 2 && h.kept == 2);
    /* after many readings: KEEP kept, the weight of a new one is ALPHA */
    for (int i = 2; i < 40; i++)
        CHECK(bp_hist_fold(&h, i * 900000LL, 120, 80));
    CHECK(h.kept == BP_HIST_KEEP && h.n == 40);
    double before = h.base_sys;
    CHECK(bp_hist_fold(&h, 40 * 900000LL, 220, 80));
    CHECK_NUM(h.base_sys, before + BP_HIST_ALPHA * (220 - before));
    /* a constant course has slope 0, which is known (not missing) */
    bp_history flat;
    bp_hist_init(&flat);
    bp_hist_fold(&flat, 0, 120, 80);
    bp_hist_features(&flat, 60000, 120, 80, NAN, f);
    CHECK_NUM(f[BP_FEAT_SLOPE_SYSTOLIC], 0);

    /* the stored form round-trips, and damaged bytes are refused */
    uint8_t raw[BP_HIST_STATE_MAX], bad[BP_HIST_STATE_MAX];
    size_t len = bp_hist_encode(&h, raw);
    CHECK(len == BP_HIST_STATE_MAX);
    bp_history back;
    CHECK(bp_hist_decode(raw, len, &back) == 0);
    CHECK(memcmp(&back.at_ms, &h.at_ms, sizeof h.at_ms) == 0 && back.n == h.n);
    CHECK_NUM(back.base_sys, h.base_sys);
    CHECK(bp_hist_decode(raw, len - 1, &back) == -1 && back.n == 0);
    memcpy(bad, raw, len);
    bad[0] = BP_HIST_KEEP + 1;
    CHECK(bp_hist_decode(bad, len, &back) == -1);
    memcpy(bad, raw, len);
    memcpy(bad + 21, bad + 21 + 24, 8); /* newest time = the next one's: not newest first */
    CHECK(bp_hist_decode(bad, len, &back) == -1);
    bp_hist_init(&flat);
    CHECK(bp_hist_encode(&flat, raw) == 21 && bp_hist_decode(raw, 21, &back) == 0);

    /* keys: the id whole, or NUL + SHA-256 past the bound */
    uint8_t key[BP_HIST_KEY_MAX];
    CHECK(bp_hist_key("PAT-001", key) == 7 && memcmp(key, "PAT-001", 7) == 0);
    char longid[BP_HIST_KEY_MAX + 2];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    CHECK(bp_hist_key(longid, key) == 33 && key[0] == 0);
    return CHECK_DONE();
}
