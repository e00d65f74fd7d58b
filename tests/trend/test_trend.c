/* detector-trend's history, reading by reading: every reason, late readings, eviction, the
 * judge over one patient's state and its stored form (what the host keeps). Times are minutes
 * after an arbitrary start. */
#include "check.h"
#include "trend.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#define MIN 60000LL

/* A series that visits every field: an episode of each kind, a baseline, a late reading. */
static const struct {
    int64_t minute;
    double s, d;
} series[] = {{0, 120, 80},   {10, 150, 85},   {20, 145, 92},  {25, 150, 95},  {27, 85, 55},
              {28, 88, 58},   {29, 86, 61},    {24, 170, 80},  {60, 118, 78},  {120, 119, 77},
              {180, 121, 79}, {240, 118, NAN}, {300, NAN, 95}, {360, 120, 78}, {420, 119, 80},
              {480, 122, 79}, {540, 118, 78},  {600, 120, 80}, {660, 150, 80}};

/* Judges the series against `p` and, in step, the pool's patient "s"; the number of readings
 * whose verdicts differ. */
static int judge_series(const bp_trend_config *c, bp_patient_state *p)
{
    bp_trend t;
    if (bp_trend_init(&t, c) != 0)
        return -1;
    int differ = 0;
    for (size_t i = 0; i < sizeof series / sizeof series[0]; i++) {
        bp_trend_verdict a, b;
        bp_trend_judge(c, p, series[i].minute * MIN, series[i].s, series[i].d, &a);
        bp_trend_observe(&t, "s", series[i].minute * MIN, series[i].s, series[i].d, &b);
        differ += a.reasons != b.reasons || a.late != b.late || a.readings != b.readings ||
                  (isnan(a.z) ? !isnan(b.z) : a.z != b.z);
    }
    bp_trend_free(&t);
    return differ;
}

static bool same_state(const bp_patient_state *a, const bp_patient_state *b, int n)
{
    bool same = a->latest_ms == b->latest_ms && a->prev_ms == b->prev_ms &&
                a->prev_sys == b->prev_sys && a->mean == b->mean && a->var == b->var &&
                a->n == b->n;
    /* the rings are sets: compare them sorted, newest first */
    int64_t xa[2][BP_TREND_MAX_SUSTAINED], xb[2][BP_TREND_MAX_SUSTAINED];
    for (int k = 0; k < n; k++) {
        xa[0][k] = a->high_ms[k], xa[1][k] = a->low_ms[k];
        xb[0][k] = b->high_ms[k], xb[1][k] = b->low_ms[k];
    }
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) {
                if (xa[r][j] > xa[r][i]) {
                    int64_t x = xa[r][i];
                    xa[r][i] = xa[r][j], xa[r][j] = x;
                }
                if (xb[r][j] > xb[r][i]) {
                    int64_t x = xb[r][i];
                    xb[r][i] = xb[r][j], xb[r][j] = x;
                }
            }
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < n; i++)
            same = same && xa[r][i] == xb[r][i];
    return same;
}

static void put64(uint8_t *o, int64_t v)
{
    for (int i = 0; i < 8; i++)
        o[i] = (uint8_t)((uint64_t)v >> (8 * i));
}

/* The stored form: every field round-trips, the layout is the documented one, a value that is
 * not one is refused, and a history encoded and decoded at every reading is judged exactly as
 * one kept in memory. */
static void stored_form(const bp_trend_config *c)
{
    uint8_t buf[BP_TREND_STATE_MAX], again[BP_TREND_STATE_MAX];
    bp_patient_state p, q;
    bp_patient_state_init(&p);
    size_t len = bp_trend_encode(c, &p, buf);
    CHECK(len == 3 && buf[0] == 0 && buf[1] == 0 && buf[2] == 0); /* never seen */
    CHECK(bp_trend_decode(c, buf, len, &q) == 0 && same_state(&p, &q, c->sustained_count));

    /* every field set, by hand, with values whose bytes are all different */
    p.latest_ms = 0x0102030405060708LL;
    p.prev_ms = 0x0102030405060000LL;
    p.prev_sys = 131.25;
    p.mean = 123.5;
    p.var = 17.0625;
    p.n = 0x0A0B0C0D;
    p.high_ms[0] = p.latest_ms - 5;
    p.high_ms[1] = p.latest_ms;
    p.high_ms[2] = p.latest_ms - c->window_ms; /* can never count again: not written */
    p.low_ms[2] = p.latest_ms - 7;
    len = bp_trend_encode(c, &p, buf);
    CHECK(len == 3 + 8 + 36 + 3 * 8);
    CHECK(buf[0] == 3 && buf[1] == 2 && buf[2] == 1);
    CHECK(buf[3] == 0x08 && buf[10] == 0x01);  /* little-endian latest_ms */
    CHECK(buf[11] == 0x0D && buf[14] == 0x0A); /* n */
    uint8_t want[8];
    put64(want, p.latest_ms);
    CHECK(memcmp(buf + 47, want, 8) == 0); /* newest stage-2 time first */
    CHECK(bp_trend_decode(c, buf, len, &q) == 0);
    bp_patient_state expect = p;
    expect.high_ms[2] = INT64_MIN;
    CHECK(same_state(&expect, &q, c->sustained_count));
    CHECK(q.latest_ms == p.latest_ms && q.prev_ms == p.prev_ms && q.prev_sys == 131.25 &&
          q.mean == 123.5 && q.var == 17.0625 && q.n == 0x0A0B0C0D);
    CHECK(bp_trend_encode(c, &q, again) == len && memcmp(again, buf, len) == 0); /* canonical */

    /* refused: short, long, foreign flags, counts beyond the bound, no time, not finite */
    for (size_t n = 0; n < len; n++)
        CHECK(bp_trend_decode(c, buf, n, &q) == -1);
    CHECK(bp_trend_decode(c, buf, len + 1, &q) == -1);
    CHECK(q.latest_ms == INT64_MIN && q.n == 0); /* a refusal leaves no history */
    memcpy(again, buf, len);
    again[0] = 7;
    CHECK(bp_trend_decode(c, again, len, &q) == -1);
    memcpy(again, buf, len);
    again[1] = 9;
    CHECK(bp_trend_decode(c, again, 3 + 8 + 36 + 10 * 8, &q) == -1);
    memcpy(again, buf, len);
    put64(again + 3, INT64_MIN);
    CHECK(bp_trend_decode(c, again, len, &q) == -1);
    memcpy(again, buf, len);
    double inf = INFINITY;
    uint64_t bits;
    memcpy(&bits, &inf, 8);
    put64(again + 31, (int64_t)bits); /* the mean */
    CHECK(bp_trend_decode(c, again, len, &q) == -1);
    memcpy(again, buf, len);
    put64(again + 47, p.latest_ms - 10); /* times out of the written order */
    CHECK(bp_trend_decode(c, again, len, &q) == -1);
    const uint8_t text[] = "{\"patient\":\"a\"}";
    CHECK(bp_trend_decode(c, text, sizeof text - 1, &q) == -1);
    CHECK(bp_trend_decode(c, NULL, 0, &q) == -1);

    /* a value written with a larger sustained_count keeps the newest times */
    bp_trend_config wide = *c;
    wide.sustained_count = 5;
    bp_patient_state w;
    bp_patient_state_init(&w);
    w.latest_ms = 100 * MIN;
    for (int k = 0; k < 5; k++)
        w.high_ms[k] = (96 + k) * MIN;
    len = bp_trend_encode(&wide, &w, buf);
    CHECK(buf[1] == 5);
    CHECK(bp_trend_decode(c, buf, len, &q) == 0);
    CHECK(q.high_ms[0] == 100 * MIN && q.high_ms[1] == 99 * MIN && q.high_ms[2] == 98 * MIN);
    CHECK(q.high_ms[3] == INT64_MIN);

    /* encoded and decoded at every reading, as the plugin does: the same verdicts and state */
    bp_patient_state mem, kept;
    bp_patient_state_init(&mem);
    bp_patient_state_init(&kept);
    int differ = 0;
    size_t longest = 0;
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < sizeof series / sizeof series[0]; i++) {
            int64_t at = (series[i].minute + round * 700) * MIN;
            bp_trend_verdict a, b;
            bp_trend_judge(c, &mem, at, series[i].s, series[i].d, &a);
            bp_trend_judge(c, &kept, at, series[i].s, series[i].d, &b);
            len = bp_trend_encode(c, &kept, buf);
            longest = len > longest ? len : longest;
            CHECK(bp_trend_decode(c, buf, len, &kept) == 0);
            differ += a.reasons != b.reasons || a.late != b.late || a.readings != b.readings;
        }
    CHECK(differ == 0);
    CHECK(longest <= BP_TREND_STATE_MAX);
    CHECK(bp_trend_encode(c, &mem, buf) == bp_trend_encode(c, &kept, again) &&
          memcmp(buf, again, bp_trend_encode(c, &mem, buf)) == 0);

    /* keys: whole ids up to the bound, hashed beyond it, never one another's */
    uint8_t k1[BP_TREND_KEY_MAX], k2[BP_TREND_KEY_MAX];
    CHECK(bp_trend_key("PAT-001", k1) == 7 && memcmp(k1, "PAT-001", 7) == 0);
    static char big[2100];
    memset(big, 'p', 1024);
    CHECK(bp_trend_key(big, k1) == 1024 && memcmp(k1, big, 1024) == 0); /* whole */
    memset(big, 'p', 2000);
    size_t n1 = bp_trend_key(big, k1);
    big[1999] = 'q';
    size_t n2 = bp_trend_key(big, k2);
    CHECK(n1 == 33 && n2 == 33 && k1[0] == 0 && memcmp(k1, k2, 33) != 0);
    CHECK(bp_trend_key("", k1) == 33 && k1[0] == 0); /* an empty id is a key too */
}

static unsigned see(bp_trend *t, const char *p, int64_t minute, double s, double d)
{
    bp_trend_verdict v;
    bp_trend_observe(t, p, minute * MIN, s, d, &v);
    return v.reasons;
}

int main(void)
{
    bp_trend_config c = bp_trend_config_default();
    bp_trend t;
    CHECK(bp_trend_init(&t, &c) == 0);

    /* sustained hypertension: 3 stage-2 readings within 30 minutes */
    CHECK(see(&t, "a", 0, 150, 85) == 0);
    CHECK(see(&t, "a", 10, 145, 80) == 0);
    CHECK(see(&t, "a", 20, 150, 92) & BP_TREND_SUSTAINED_HYPER);
    /* ... but not when spread over more than the window */
    CHECK(see(&t, "b", 0, 150, 85) == 0);
    CHECK(see(&t, "b", 20, 150, 85) == 0);
    CHECK(!(see(&t, "b", 45, 150, 85) & BP_TREND_SUSTAINED_HYPER));
    /* sustained hypotension */
    see(&t, "c", 0, 85, 55);
    see(&t, "c", 5, 88, 58);
    CHECK(see(&t, "c", 9, 86, 61) & BP_TREND_SUSTAINED_HYPO);
    /* patients never mix */
    CHECK(!(see(&t, "d", 21, 150, 92) & BP_TREND_SUSTAINED_HYPER));

    /* rapid change, up and down, only within the rapid window */
    see(&t, "e", 0, 120, 80);
    CHECK(see(&t, "e", 10, 150, 85) & BP_TREND_RAPID_UP);
    CHECK(see(&t, "e", 20, 119, 80) & BP_TREND_RAPID_DOWN);
    CHECK(!(see(&t, "e", 40, 150, 80) & (BP_TREND_RAPID_UP | BP_TREND_RAPID_DOWN)));
    CHECK(!(see(&t, "e", 45, 121, 80) & BP_TREND_RAPID_DOWN)); /* 29 mmHg: below the delta */

    /* baseline: quiet readings, then a jump of many standard deviations */
    bp_trend_verdict v;
    for (int i = 0; i < 12; i++) {
        bp_trend_observe(&t, "f", i * 60 * MIN, 118 + (i % 3), 78, &v);
        CHECK(!(v.reasons & BP_TREND_BASELINE));
    }
    bp_trend_observe(&t, "f", 13 * 60 * MIN, 135, 80, &v);
    CHECK(v.reasons & BP_TREND_BASELINE);
    CHECK(v.z > 3 && fabs(v.baseline - 119) < 1.5);
    CHECK(v.readings == 12);
    /* fewer than baseline_min readings: no z yet */
    bp_trend_observe(&t, "g", 0, 120, 80, &v);
    bp_trend_observe(&t, "g", 60 * MIN, 180, 80, &v);
    CHECK(isnan(v.z) && !(v.reasons & BP_TREND_BASELINE));

    /* late readings: judged, but they move neither the baseline nor the previous reading */
    see(&t, "h", 100, 120, 80);
    bp_trend_observe(&t, "h", 50, 170, 80, &v);
    CHECK(v.late);
    CHECK(!(v.reasons & BP_TREND_RAPID_UP));
    CHECK(!(see(&t, "h", 105, 125, 80) & (BP_TREND_RAPID_UP | BP_TREND_RAPID_DOWN)));
    /* a late stage-2 reading still counts towards the sustained window around its time */
    see(&t, "i", 30, 150, 80);
    see(&t, "i", 40, 150, 80);
    CHECK(see(&t, "i", 20, 150, 80) & BP_TREND_SUSTAINED_HYPER);

    /* long ids are kept apart by their hash */
    char long_a[200], long_b[200];
    memset(long_a, 'x', 150);
    long_a[150] = '\0';
    memcpy(long_b, long_a, 151);
    long_b[149] = 'y';
    see(&t, long_a, 0, 150, 85);
    see(&t, long_a, 1, 150, 85);
    CHECK(!(see(&t, long_b, 2, 150, 85) & BP_TREND_SUSTAINED_HYPER));
    CHECK(see(&t, long_a, 3, 150, 85) & BP_TREND_SUSTAINED_HYPER);
    /* ... and apart from every short id: the stored form of a long id was a 40-byte id that a
     * patient could have ("<23 bytes>~<FNV-1a hex>"), and that patient then shared the long
     * one's history. */
    char forged[64];
    uint64_t h = 1469598103934665603ull;
    for (const char *s = long_a; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    h ^= h >> 29;
    snprintf(forged, sizeof forged, "%.23s~%016llx", long_a, (unsigned long long)h);
    CHECK(!(see(&t, forged, 4, 150, 85) & BP_TREND_SUSTAINED_HYPER));
    CHECK(!(see(&t, forged, 5, 150, 85) & BP_TREND_SUSTAINED_HYPER));
    /* Two 41-byte ids with one 64-bit FNV-1a hash (found by a collision search): the stored form
     * before, their first 23 bytes and that hash, was one key, and one history for two
     * patients. SHA-256 keeps them apart. */
    const char *fnv_a = "urn:uuid:patient-prefixb996e0d1be99ca58zz";
    const char *fnv_b = "urn:uuid:patient-prefix05e888ac4cb16b3ezz";
    see(&t, fnv_a, 0, 150, 85);
    see(&t, fnv_a, 1, 150, 85);
    CHECK(!(see(&t, fnv_b, 2, 150, 85) & BP_TREND_SUSTAINED_HYPER));
    CHECK(see(&t, fnv_a, 3, 150, 85) & BP_TREND_SUSTAINED_HYPER);
    /* a short id starting like a hashed key is hashed too, and stays its own patient */
    CHECK(!(see(&t, "\x01short", 4, 150, 85) & BP_TREND_SUSTAINED_HYPER));
    see(&t, "\x01short", 5, 150, 85);
    CHECK(see(&t, "\x01short", 6, 150, 85) & BP_TREND_SUSTAINED_HYPER);

    /* the judge is a function of one patient's state: the pool gives the same verdicts */
    bp_patient_state alone;
    bp_patient_state_init(&alone);
    CHECK(judge_series(&c, &alone) == 0);
    bp_trend_free(&t);
    stored_form(&c);

    /* bounded memory: the least recently seen patient is forgotten first */
    c.max_patients = 3;
    CHECK(bp_trend_init(&t, &c) == 0);
    see(&t, "p1", 0, 150, 85);
    see(&t, "p2", 0, 150, 85);
    see(&t, "p3", 0, 150, 85);
    see(&t, "p1", 1, 150, 85); /* p1 is recent again: p2 is now the oldest */
    see(&t, "p4", 0, 150, 85); /* evicts p2 */
    CHECK(t.evicted == 1 && t.used == 3);
    CHECK(see(&t, "p1", 2, 150, 85) & BP_TREND_SUSTAINED_HYPER); /* p1 kept its history */
    see(&t, "p2", 2, 150, 85);                                   /* p2 starts again (evicts p3) */
    CHECK(!(see(&t, "p2", 3, 150, 85) & BP_TREND_SUSTAINED_HYPER));
    /* many evictions keep the index consistent */
    for (int i = 0; i < 10000; i++) {
        char id[16];
        snprintf(id, sizeof id, "q%d", i % 7);
        see(&t, id, i, 120, 80);
    }
    CHECK(t.used == 3);
    CHECK(bp_trend_bytes_per_patient(&t) > sizeof(bp_patient_state));
    bp_trend_free(&t);
    return CHECK_DONE();
}
