/* The simulated ward: deterministic, realistic in its share of anomalies, and its FHIR output
 * decodes through the core's decoder to the values it meant. */
#include "check.h"
#include "clinical/bp_rules.h"
#include "fhir/fhir_decode.h"
#include "wardsim/ward_sim.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

typedef struct got {
    int n;
    double sys, dia;
    char patient[32], practitioner[32], reason[200], id[64];
    int64_t ms;
} got;

static int take(void *user, const bp_decoded *d)
{
    got *g = user;
    g->n++;
    g->sys = d->systolic;
    g->dia = d->diastolic;
    g->ms = d->effective_ms;
    snprintf(g->patient, sizeof g->patient, "%s", d->patient_id ? d->patient_id : "");
    snprintf(g->practitioner, sizeof g->practitioner, "%s",
             d->practitioner_id ? d->practitioner_id : "");
    snprintf(g->reason, sizeof g->reason, "%s", d->invalid_reason ? d->invalid_reason : "");
    snprintf(g->id, sizeof g->id, "%s", d->stable_id ? d->stable_id : "");
    return 0;
}

static double anomaly_share(uint64_t seed, int n)
{
    bp_ward w;
    bp_thresholds t = bp_thresholds_default();
    CHECK(bp_ward_init(&w, seed, 5, 2, 0, 5.0, 0) == 0);
    int anomalies = 0;
    for (int i = 0; i < n; i++) {
        bp_sim_reading r;
        bp_ward_step(&w, &r);
        anomalies += bp_rules_is_anomaly(&t, r.systolic, r.diastolic);
        CHECK(r.diastolic < r.systolic);
    }
    bp_ward_free(&w);
    return (double)anomalies / n;
}

int main(void)
{
    /* same seed, same values; another seed, other values */
    bp_ward a, b, c;
    CHECK(bp_ward_init(&a, 7, 5, 2, 1767225600000LL, 5.0, 0) == 0);
    CHECK(bp_ward_init(&b, 7, 5, 2, 1767225600000LL, 5.0, 0) == 0);
    CHECK(bp_ward_init(&c, 8, 5, 2, 1767225600000LL, 5.0, 0) == 0);
    int differ = 0;
    char buf_a[4096], buf_b[4096];
    for (int i = 0; i < 1000; i++) {
        bp_sim_reading ra, rb, rc;
        bp_ward_step(&a, &ra);
        bp_ward_step(&b, &rb);
        bp_ward_step(&c, &rc);
        size_t la = bp_ward_fhir(&a, &ra, buf_a, sizeof buf_a);
        size_t lb = bp_ward_fhir(&b, &rb, buf_b, sizeof buf_b);
        CHECK(la > 0 && la == lb && memcmp(buf_a, buf_b, la) == 0);
        differ += ra.systolic != rc.systolic;
        /* patients take turns, practitioners alternate, the clock advances per round */
        CHECK(ra.patient == (size_t)(i % 5));
        CHECK(ra.practitioner == (size_t)(i % 2));
        CHECK(ra.effective_ms == 1767225600000LL + (i / 5) * 5000 + (i % 5) * 1000);
    }
    CHECK(differ > 500);

    /* the output is a vital-signs BP Observation, and decodes to what was simulated */
    bp_sim_reading r;
    bp_ward_step(&a, &r);
    size_t len = bp_ward_fhir(&a, &r, buf_a, sizeof buf_a);
    cJSON *j = cJSON_ParseWithLength(buf_a, len);
    CHECK(j != NULL);
    CHECK_STR(cJSON_GetObjectItem(j, "resourceType")->valuestring, "Observation");
    CHECK_STR(cJSON_GetObjectItem(j, "status")->valuestring, "final");
    cJSON *cat = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "category"), 0);
    CHECK_STR(cJSON_GetArrayItem(cJSON_GetObjectItem(cat, "coding"), 0)->child->next->valuestring,
              "vital-signs");
    cJSON *code = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "code"), "coding"), 0);
    CHECK_STR(cJSON_GetObjectItem(code, "code")->valuestring, "85354-9");
    cJSON_Delete(j);
    got g = {0};
    bp_fhir_decode(buf_a, len, NULL, take, &g);
    CHECK(g.n == 1);
    CHECK_STR(g.reason, "");
    CHECK_NUM(g.sys, r.systolic);
    CHECK_NUM(g.dia, r.diastolic);
    CHECK(g.ms == r.effective_ms);
    char pat[16], prac[16];
    bp_ward_patient_id(r.patient, pat, sizeof pat);
    bp_ward_practitioner_id(r.practitioner, prac, sizeof prac);
    CHECK_STR(g.patient, pat);
    CHECK_STR(g.practitioner, prac);
    CHECK(strlen(g.id) == 36 && g.id[14] == '4'); /* UUID v4 shape */

    /* ids are unique within a run and differ between start times */
    bp_ward d;
    CHECK(bp_ward_init(&d, 7, 5, 2, 1767225600001LL, 5.0, 0) == 0);
    bp_sim_reading rd;
    bp_ward_step(&d, &rd);
    char buf_d[4096];
    size_t ld = bp_ward_fhir(&d, &rd, buf_d, sizeof buf_d);
    got gd = {0};
    bp_fhir_decode(buf_d, ld, NULL, take, &gd);
    CHECK(strcmp(gd.id, g.id) != 0);
    bp_ward_free(&d);

    /* deliberately broken payloads are each dead-lettered with a reason */
    bp_ward e;
    CHECK(bp_ward_init(&e, 3, 5, 2, 0, 5.0, 1.0) == 0);
    int kinds[5] = {0};
    for (int i = 0; i < 200; i++) {
        bp_sim_reading re;
        bp_ward_step(&e, &re);
        CHECK(re.broken >= 1 && re.broken <= 4);
        kinds[re.broken]++;
        char buf_e[4096];
        size_t le = bp_ward_fhir(&e, &re, buf_e, sizeof buf_e);
        got ge = {0};
        bp_fhir_decode(buf_e, le, NULL, take, &ge);
        CHECK(ge.n == 1 && ge.reason[0] != '\0');
    }
    CHECK(kinds[1] && kinds[2] && kinds[3] && kinds[4]);
    bp_ward_free(&e);

    /* realistic physiology: a few percent to a quarter of readings are anomalous */
    for (uint64_t seed = 1; seed <= 5; seed++) {
        double share = anomaly_share(seed, 100000);
        fprintf(stderr, "seed %llu: %.1f%% anomalous\n", (unsigned long long)seed, 100 * share);
        CHECK(share >= 0.03 && share <= 0.25);
    }
    bp_ward_free(&a);
    bp_ward_free(&b);
    bp_ward_free(&c);
    return CHECK_DONE();
}
