/* source-faker's pure parts: the PRNG, the patient model's physiology, the FHIR writer, ids,
 * timing and the start_time parser. */
#include "check.h"
#include "fhir/fhir_decode.h"
#include "wardsim/ward_sim.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

#define START_MS 1767225600000LL /* 2026-01-01T00:00:00Z */

/* The rules of the brief: systolic > 140 or < 90, diastolic > 90 or < 60. */
static int anomalous(int sys, int dia)
{
    return sys > 140 || sys < 90 || dia > 90 || dia < 60;
}

static void test_rng(void)
{
    /* splitmix64 from state 0 gives these published first outputs; they seed xoshiro. */
    bp_rng r;
    bp_rng_seed(&r, 0);
    CHECK(r.s[0] == 0xE220A8397B1DCDAFull);
    CHECK(r.s[1] == 0x6E789E6AA1B965F4ull);
    CHECK(r.s[2] == 0x06C45D188009454Full);
    CHECK(r.s[3] == 0xF88BB8A8724C81ECull);
    /* xoshiro256**: rotl(s1 * 5, 7) * 9 */
    uint64_t x = 0x6E789E6AA1B965F4ull * 5;
    CHECK(bp_rng_next(&r) == ((x << 7) | (x >> 57)) * 9);

    bp_rng a, b, c;
    bp_rng_seed(&a, 7);
    bp_rng_seed(&b, 7);
    bp_rng_seed(&c, 8);
    int same = 1, differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t va = bp_rng_next(&a), vb = bp_rng_next(&b), vc = bp_rng_next(&c);
        same &= va == vb;
        differ += va != vc;
    }
    CHECK(same);
    CHECK(differ == 1000);

    /* uniform in [0, 1) with mean 1/2; normal with mean 0 and sd 1 */
    double lo = 1, hi = 0, sum = 0, nsum = 0, nsq = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = bp_rng_uniform(&a);
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
        sum += u;
        double z = bp_rng_normal(&a);
        CHECK(isfinite(z));
        nsum += z;
        nsq += z * z;
    }
    CHECK(lo >= 0 && lo < 0.001 && hi < 1 && hi > 0.999);
    CHECK(fabs(sum / n - 0.5) < 0.005);
    double mean = nsum / n, sd = sqrt(nsq / n - mean * mean);
    CHECK(fabs(mean) < 0.01);
    CHECK(fabs(sd - 1) < 0.01);
}

/* Share of anomalous readings over `n` readings of the default ward (5 patients, 2
 * practitioners, rate 1); also counts each kind of excursion. */
static double anomaly_share(uint64_t seed, int n, int kinds[4])
{
    bp_ward w;
    CHECK(bp_ward_init(&w, seed, 5, 2, START_MS, 1.0, 0) == 0);
    int anomalies = 0;
    for (int i = 0; i < n; i++) {
        bp_sim_reading r;
        bp_ward_step(&w, &r);
        CHECK(r.diastolic < r.systolic && r.diastolic >= 30 && r.systolic <= 250);
        anomalies += anomalous(r.systolic, r.diastolic);
        kinds[0] += r.systolic > 140;
        kinds[1] += r.systolic < 90;
        kinds[2] += r.diastolic > 90;
        kinds[3] += r.diastolic < 60;
    }
    bp_ward_free(&w);
    return (double)anomalies / n;
}

static void test_physiology(void)
{
    for (uint64_t seed = 1; seed <= 8; seed++) {
        int kinds[4] = {0};
        double share = anomaly_share(seed * 1000003, 100000, kinds);
        fprintf(stderr, "seed %llu: %.1f%% anomalous (sys>140 %d, sys<90 %d, dia>90 %d, "
                "dia<60 %d)\n", (unsigned long long)(seed * 1000003), 100 * share, kinds[0],
                kinds[1], kinds[2], kinds[3]);
        CHECK(share >= 0.02 && share <= 0.25);
        /* both hypertension and hypotension happen, not just one tail */
        CHECK(kinds[0] > 100 && kinds[1] + kinds[3] > 100);
    }

    /* Not uniform noise: consecutive readings of a patient are correlated (AR(1) and
     * episodes), and patients differ in their baselines. */
    bp_ward w;
    const size_t patients = 40;
    CHECK(bp_ward_init(&w, 99, patients, 3, START_MS, 1.0, 0) == 0);
    double sums[40] = {0}, prev[40] = {0};
    double sxy = 0, sx = 0, sy = 0, sxx = 0, syy = 0;
    int pairs = 0;
    const int rounds = 2000;
    for (int k = 0; k < rounds * (int)patients; k++) {
        bp_sim_reading r;
        bp_ward_step(&w, &r);
        sums[r.patient] += r.systolic;
        if (k >= (int)patients) {
            double x = prev[r.patient], y = r.systolic;
            sxy += x * y, sx += x, sy += y, sxx += x * x, syy += y * y;
            pairs++;
        }
        prev[r.patient] = r.systolic;
    }
    double corr = (sxy - sx * sy / pairs) /
                  sqrt((sxx - sx * sx / pairs) * (syy - sy * sy / pairs));
    fprintf(stderr, "lag-1 correlation of systolic within a patient: %.2f\n", corr);
    CHECK(corr > 0.5);
    double m = 0, m2 = 0;
    for (size_t i = 0; i < patients; i++) {
        double mean = sums[i] / rounds;
        m += mean;
        m2 += mean * mean;
    }
    m /= (double)patients;
    double spread = sqrt(m2 / (double)patients - m * m);
    fprintf(stderr, "patients' mean systolic: %.1f, spread between patients %.1f mmHg\n", m,
            spread);
    CHECK(m > 110 && m < 135);
    CHECK(spread > 3);
    bp_ward_free(&w);
}

static const cJSON *by_code(const cJSON *components, const char *code)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, components)
    {
        const cJSON *coding = cJSON_GetArrayItem(
            cJSON_GetObjectItem(cJSON_GetObjectItem(c, "code"), "coding"), 0);
        const char *sys = cJSON_GetStringValue(cJSON_GetObjectItem(coding, "system"));
        const char *got = cJSON_GetStringValue(cJSON_GetObjectItem(coding, "code"));
        if (sys && got && strcmp(sys, "http://loinc.org") == 0 && strcmp(got, code) == 0)
            return c;
    }
    return NULL;
}

static void check_quantity(const cJSON *component, int want)
{
    const cJSON *q = cJSON_GetObjectItem(component, "valueQuantity");
    const cJSON *v = cJSON_GetObjectItem(q, "value");
    CHECK(cJSON_IsNumber(v) && v->valuedouble == want);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(q, "unit")), "mmHg");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(q, "system")),
              "http://unitsofmeasure.org");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(q, "code")), "mm[Hg]");
}

static int is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
            return 0;
    }
    return 1;
}

/* Every field of the vital-signs BP profile the brief names, for a few hundred readings. */
static void test_fhir_profile(void)
{
    bp_ward w;
    CHECK(bp_ward_init(&w, 5, 12, 3, START_MS, 2.0, 0) == 0);
    bp_ward_set_jitter(&w, 0.2);
    char buf[2048];
    for (int i = 0; i < 300; i++) {
        bp_sim_reading r;
        bp_ward_step(&w, &r);
        size_t len = bp_ward_fhir(&w, &r, buf, sizeof buf);
        CHECK(len > 0 && len == strlen(buf));
        CHECK(!memchr(buf, '\n', len)); /* one line: NDJSON-safe */
        cJSON *j = cJSON_ParseWithLength(buf, len);
        CHECK(j != NULL);
        if (!j)
            continue;
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "resourceType")), "Observation");
        CHECK(is_uuid(cJSON_GetStringValue(cJSON_GetObjectItem(j, "id"))));
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "status")), "final");
        const cJSON *cat = cJSON_GetArrayItem(
            cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "category"), 0),
                                "coding"), 0);
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cat, "system")),
                  "http://terminology.hl7.org/CodeSystem/observation-category");
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cat, "code")), "vital-signs");
        const cJSON *code = cJSON_GetArrayItem(
            cJSON_GetObjectItem(cJSON_GetObjectItem(j, "code"), "coding"), 0);
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(code, "system")), "http://loinc.org");
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(code, "code")), "85354-9");
        const cJSON *comps = cJSON_GetObjectItem(j, "component");
        CHECK(cJSON_GetArraySize(comps) == 2);
        const cJSON *sys = by_code(comps, "8480-6"), *dia = by_code(comps, "8462-4");
        CHECK(sys && dia);
        if (sys && dia) {
            check_quantity(sys, r.systolic);
            check_quantity(dia, r.diastolic);
        }
        char want[64], id[16];
        bp_ward_patient_id(r.patient, id, sizeof id);
        snprintf(want, sizeof want, "Patient/%s", id);
        CHECK_STR(cJSON_GetStringValue(
                      cJSON_GetObjectItem(cJSON_GetObjectItem(j, "subject"), "reference")),
                  want);
        bp_ward_practitioner_id(r.practitioner, id, sizeof id);
        snprintf(want, sizeof want, "Practitioner/%s", id);
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(
                      cJSON_GetArrayItem(cJSON_GetObjectItem(j, "performer"), 0), "reference")),
                  want);
        const char *when = cJSON_GetStringValue(cJSON_GetObjectItem(j, "effectiveDateTime"));
        int64_t ms = -1;
        CHECK(when && when[strlen(when) - 1] == 'Z');
        CHECK(bp_ward_parse_time(when, &ms) == 0 && ms == r.effective_ms);
        cJSON_Delete(j);
    }
    /* the writer refuses a buffer that is too small instead of cutting the JSON */
    bp_sim_reading r;
    bp_ward_step(&w, &r);
    size_t len = bp_ward_fhir(&w, &r, buf, sizeof buf);
    char small[2048];
    CHECK(bp_ward_fhir(&w, &r, small, len) == 0);
    CHECK(bp_ward_fhir(&w, &r, small, len + 1) == len);
    bp_ward_free(&w);
}

static int by_string(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void test_ids(void)
{
    /* unique over 100 000 readings, UUID-shaped (version 4, variant 10xx) */
    const int n = 100000;
    char(*ids)[40] = malloc((size_t)n * sizeof *ids);
    bp_ward w;
    CHECK(ids && bp_ward_init(&w, 7, 5, 2, START_MS, 1.0, 0) == 0);
    char buf[2048];
    int shaped = 1;
    for (int i = 0; ids && i < n; i++) {
        bp_sim_reading r;
        bp_ward_step(&w, &r);
        size_t len = bp_ward_fhir(&w, &r, buf, sizeof buf);
        const char *at = strstr(buf, "\"id\":\"");
        CHECK(len > 0 && at);
        snprintf(ids[i], sizeof ids[i], "%.36s", at + 6);
        shaped &= is_uuid(ids[i]) && ids[i][14] == '4' && strchr("89ab", ids[i][19]);
    }
    CHECK(shaped);
    qsort(ids, (size_t)n, sizeof *ids, by_string);
    int dups = 0;
    for (int i = 1; i < n; i++)
        dups += strcmp(ids[i - 1], ids[i]) == 0;
    CHECK(dups == 0);
    bp_ward_free(&w);
    free(ids);

    /* the id depends on seed, start time and sequence */
    char a[2048], b[2048];
    bp_ward x, y;
    bp_sim_reading rx, ry;
    CHECK(bp_ward_init(&x, 7, 5, 2, START_MS, 1.0, 0) == 0);
    CHECK(bp_ward_init(&y, 8, 5, 2, START_MS, 1.0, 0) == 0);
    bp_ward_step(&x, &rx);
    bp_ward_step(&y, &ry);
    bp_ward_fhir(&x, &rx, a, sizeof a);
    bp_ward_fhir(&y, &ry, b, sizeof b);
    CHECK(strncmp(strstr(a, "\"id\""), strstr(b, "\"id\""), 44) != 0);
    bp_ward_free(&y);
    CHECK(bp_ward_init(&y, 7, 5, 2, START_MS + 1000, 1.0, 0) == 0);
    bp_ward_step(&y, &ry);
    bp_ward_fhir(&y, &ry, b, sizeof b);
    CHECK(strncmp(strstr(a, "\"id\""), strstr(b, "\"id\""), 44) != 0);
    bp_ward_free(&x);
    bp_ward_free(&y);
}

static void test_determinism_and_timing(void)
{
    /* same seed and start: the same bytes; jitter changes times, never values */
    bp_ward a, b, plain;
    CHECK(bp_ward_init(&a, 3, 5, 2, START_MS, 5.0, 0.05) == 0);
    CHECK(bp_ward_init(&b, 3, 5, 2, START_MS, 5.0, 0.05) == 0);
    CHECK(bp_ward_init(&plain, 3, 5, 2, START_MS, 5.0, 0.05) == 0);
    bp_ward_set_jitter(&a, 0.2);
    bp_ward_set_jitter(&b, 0.2);
    char ba[2048], bb[2048];
    int identical = 1, same_values = 1, moved = 0, in_bounds = 1, ordered = 1;
    int64_t last = -1;
    for (int i = 0; i < 10000; i++) {
        bp_sim_reading ra, rb, rp;
        bp_ward_step(&a, &ra);
        bp_ward_step(&b, &rb);
        bp_ward_step(&plain, &rp);
        size_t la = bp_ward_fhir(&a, &ra, ba, sizeof ba);
        size_t lb = bp_ward_fhir(&b, &rb, bb, sizeof bb);
        identical &= la > 0 && la == lb && memcmp(ba, bb, la) == 0;
        same_values &= ra.systolic == rp.systolic && ra.diastolic == rp.diastolic &&
                       ra.broken == rp.broken;
        /* each patient every 5 s, patients 1 s apart, jitter at most 20 % of that second */
        int64_t slot = START_MS + (i / 5) * 5000 + (i % 5) * 1000;
        CHECK(rp.effective_ms == slot);
        in_bounds &= llabs(ra.effective_ms - slot) <= 200;
        moved += ra.effective_ms != slot;
        ordered &= ra.effective_ms > last;
        last = ra.effective_ms;
        CHECK(ra.patient == (size_t)(i % 5) && ra.practitioner == (size_t)(i % 2));
        if (i == 0)
            CHECK(ra.effective_ms == START_MS); /* the run starts exactly at start_time */
    }
    CHECK(identical);
    CHECK(same_values);
    CHECK(in_bounds);
    CHECK(ordered);
    CHECK(moved > 9000);
    CHECK_NUM(bp_ward_due_s(&a, 7), 5.0 + 2 * 1.0);
    bp_ward_free(&a);
    bp_ward_free(&b);
    bp_ward_free(&plain);

    bp_ward bad;
    CHECK(bp_ward_init(&bad, 1, 0, 2, START_MS, 1.0, 0) == -1);
    CHECK(bp_ward_init(&bad, 1, 5, 0, START_MS, 1.0, 0) == -1);
    CHECK(bp_ward_init(&bad, 1, 5, 2, START_MS, 0.0, 0) == -1);
    CHECK(bp_ward_init(&bad, 1, 5, 2, START_MS, 1.0, 1.5) == -1);
    bp_ward_free(&bad);

    char id[16];
    bp_ward_patient_id(0, id, sizeof id);
    CHECK_STR(id, "PAT-001");
    bp_ward_patient_id(41, id, sizeof id);
    CHECK_STR(id, "PAT-042");
    bp_ward_patient_id(999, id, sizeof id);
    CHECK_STR(id, "PAT-1000");
    bp_ward_practitioner_id(0, id, sizeof id);
    CHECK_STR(id, "PRAC-01");
    bp_ward_practitioner_id(11, id, sizeof id);
    CHECK_STR(id, "PRAC-12");
}

static void test_parse_time(void)
{
    int64_t ms = 0;
    CHECK(bp_ward_parse_time("2026-01-01T00:00:00Z", &ms) == 0 && ms == START_MS);
    CHECK(bp_ward_parse_time("2026-01-01T00:00:00.250Z", &ms) == 0 && ms == START_MS + 250);
    CHECK(bp_ward_parse_time("2026-01-01T00:00:00.5Z", &ms) == 0 && ms == START_MS + 500);
    CHECK(bp_ward_parse_time("2026-01-01T00:00:01.123456Z", &ms) == 0 && ms == START_MS + 1123);
    CHECK(bp_ward_parse_time("2026-01-01T00:00:00+00:00", &ms) == 0 && ms == START_MS);
    CHECK(bp_ward_parse_time("1970-01-01T00:00:00Z", &ms) == 0 && ms == 0);
    CHECK(bp_ward_parse_time("2024-02-29T12:30:45Z", &ms) == 0 && ms == 1709209845000LL);
    ms = 42;
    const char *bad[] = {"",
                         "2026-01-01",
                         "2026-01-01T00:00:00",       /* no zone: local time is ambiguous */
                         "2026-01-01T00:00:00+01:00", /* not UTC */
                         "2026-01-01 00:00:00Z",
                         "2026-02-30T00:00:00Z",
                         "2026-13-01T00:00:00Z",
                         "2026-01-01T24:00:00Z",
                         "2026-01-01T00:00:00.Z",
                         "2026-01-01T00:00:00Zjunk",
                         "1969-12-31T23:59:59Z",
                         "26-01-01T00:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = bp_ward_parse_time(bad[i], &ms);
        if (rc != -1)
            fprintf(stderr, "accepted \"%s\"\n", bad[i]);
        CHECK(rc == -1);
    }
    CHECK(ms == 42);
    CHECK(bp_ward_parse_time(NULL, &ms) == -1);
}

typedef struct verdict {
    int items, invalid;
} verdict;

static int count_items(void *user, const bp_decoded *d)
{
    verdict *v = user;
    v->items++;
    v->invalid += d->invalid_reason != NULL;
    return 0;
}

static void test_invalid(void)
{
    bp_ward w;
    CHECK(bp_ward_init(&w, 11, 5, 2, START_MS, 1.0, 0.1) == 0);
    int kinds[5] = {0}, broken = 0, dead = 0, clean_ok = 1;
    const int n = 20000;
    char buf[2048];
    for (int i = 0; i < n; i++) {
        bp_sim_reading r;
        bp_ward_step(&w, &r);
        size_t len = bp_ward_fhir(&w, &r, buf, sizeof buf);
        CHECK(len > 0);
        CHECK(r.broken >= 0 && r.broken <= 4);
        kinds[r.broken]++;
        broken += r.broken != 0;
        verdict v = {0, 0};
        bp_fhir_decode(buf, len, NULL, count_items, &v);
        if (r.broken) {
            dead += v.items == 1 && v.invalid == 1;
            cJSON *j = cJSON_ParseWithLength(buf, len);
            if (r.broken == BP_BROKEN_TRUNCATED)
                CHECK(j == NULL);
            if (r.broken == BP_BROKEN_NOT_OBS)
                CHECK(j && !cJSON_GetObjectItem(j, "resourceType"));
            if (r.broken == BP_BROKEN_NO_SUBJECT)
                CHECK(j && !cJSON_GetObjectItem(j, "subject"));
            if (r.broken == BP_BROKEN_UNIT)
                CHECK(strstr(buf, "\"code\":\"cm\"") != NULL);
            cJSON_Delete(j);
        } else {
            clean_ok &= v.items == 1 && v.invalid == 0;
        }
    }
    fprintf(stderr, "invalid_rate 0.1: %d broken of %d (%d/%d/%d/%d)\n", broken, n, kinds[1],
            kinds[2], kinds[3], kinds[4]);
    CHECK(broken > n * 0.08 && broken < n * 0.12);
    CHECK(kinds[1] > 300 && kinds[2] > 300 && kinds[3] > 300 && kinds[4] > 300);
    CHECK(dead == broken); /* every broken payload is dead-lettered by the core's decoder */
    CHECK(clean_ok);       /* and every other one decodes to exactly one reading */
    bp_ward_free(&w);
}

int main(void)
{
    test_rng();
    test_physiology();
    test_fhir_profile();
    test_ids();
    test_determinism_and_timing();
    test_parse_time();
    test_invalid();
    return CHECK_DONE();
}
