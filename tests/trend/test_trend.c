/* detector-trend's history, reading by reading: every reason, late readings, eviction and
 * snapshots. Times are minutes after an arbitrary start. */
#include "check.h"
#include "trend.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#define MIN 60000LL

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

    /* snapshot round trip: the history survives a restart */
    char path[] = "/tmp/bppipe-trend-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK(bp_trend_save(&t, path) == 0);
    bp_trend u;
    CHECK(bp_trend_init(&u, &c) == 0);
    char why[256];
    CHECK(bp_trend_load(&u, path, why, sizeof why) == 0);
    CHECK(u.used == t.used);
    CHECK(see(&u, "a", 25, 150, 95) & BP_TREND_SUSTAINED_HYPER);
    bp_trend_observe(&u, "f", 14 * 60 * MIN, 120, 78, &v);
    CHECK(v.readings == 13); /* the baseline came back too */
    CHECK(see(&u, long_a, 4, 150, 85) & BP_TREND_SUSTAINED_HYPER);
    bp_trend_free(&u);
    /* corrupt or foreign snapshots are refused, leaving no half-restored history */
    FILE *f = fopen(path, "r+b");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    CHECK(truncate(path, size - 10) == 0);
    CHECK(bp_trend_init(&u, &c) == 0);
    CHECK(bp_trend_load(&u, path, why, sizeof why) == -1);
    CHECK_CONTAINS(why, "truncated");
    CHECK(u.used == 0);
    f = fopen(path, "wb");
    fputs("something else entirely", f);
    fclose(f);
    CHECK(bp_trend_load(&u, path, why, sizeof why) == -1);
    CHECK_CONTAINS(why, "not a detector-trend snapshot");
    bp_trend_free(&u);
    unlink(path);
    bp_trend_free(&t);

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
    see(&t, "p2", 2, 150, 85);                                  /* p2 starts again (evicts p3) */
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
