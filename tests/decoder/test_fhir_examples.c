/* Every file of the FHIR examples in tests/data/fhir-examples (written by HL7, Synthea, servers
 * and converters) decodes to what its MANIFEST says, under bppipe's rules (see docs/fhir.md for where those
 * rules are wider than the MANIFEST's "usable": a reading with one value is still a reading,
 * and C-CDA's separate systolic and diastolic Observations are paired). */
#include "check.h"
#include "decode_helpers.h"

#include <math.h>

static items *decode_file(const char *name)
{
    static items it;
    memset(&it, 0, sizeof it);
    const char *dir = getenv("BPPIPE_TEST_DATA");
    if (!dir || !*dir) {
        fprintf(stderr, "BPPIPE_TEST_DATA is not set: run this test through ctest, or set it "
                        "to tests/data\n");
        exit(1);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/fhir-examples/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s: the examples of tests/data must be present\n", path);
        CHECK(f != NULL);
        return &it;
    }
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    bp_fhir_decode(buf, n, NULL, collect, &it);
    return &it;
}

/* Milliseconds for a UTC wall time given with its offset already applied. */
static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
    /* days from civil, as the decoder does; written out again so the test is independent */
    int64_t yy = y - (mo <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return ((days * 24 + h) * 60 + mi) * 60000 + (int64_t)s * 1000;
}

static void one_reading(const char *file, const char *patient, const char *practitioner,
                        double sys, double dia, int64_t ms, const char *id)
{
    items *it = decode_file(file);
    fprintf(stderr, "-- %s\n", file);
    CHECK(it->n == 1);
    item *x = &it->v[0];
    CHECK(x->valid);
    CHECK_STR(x->reason, "");
    CHECK_STR(x->patient, patient);
    CHECK_STR(x->practitioner, practitioner);
    CHECK_NUM(x->sys, sys);
    CHECK_NUM(x->dia, dia);
    CHECK(x->ms == ms);
    CHECK_STR(x->status, "final");
    CHECK_STR(x->id, id);
}

int main(void)
{
    /* 1: HL7 R5 spec example, date-only time (midnight UTC) */
    one_reading("r5-spec_observation-example-bloodpressure.json", "example", "example", 107, 60,
                utc(2012, 9, 17, 0, 0, 0), "blood-pressure");
    /* 2: diastolic has only a dataAbsentReason: a reading with systolic alone */
    one_reading("r5-spec_observation-example-bloodpressure-dar.json", "example", "example", 107,
                NAN, utc(2012, 9, 17, 0, 0, 0), "blood-pressure-dar");
    /* 3: US Core */
    one_reading("us-core_blood-pressure.json", "example", "practitioner-1", 109, 44,
                utc(1999, 7, 2, 0, 0, 0), "blood-pressure");
    /* 5: device panel, MDC + LOINC codes, performer is the Patient: no practitioner */
    one_reading("phd_compound-numeric-blood-pressure.json", "patientExample-1", "", 116, 71,
                utc(2018, 11, 11, 16, 38, 15), "compound-numeric-blood-pressure");
    /* 7: subject by identifier only; performer is a contained Organization */
    one_reading("be-patient-monitoring_Observation-BloodPressureExample.json",
                "https://vitalsigns.byteflies.net/FHIR/patient|D358D4B4-6007-4C3E-A33B-056773F45DC9",
                "", 140, 74, utc(2024, 11, 18, 9, 38, 52), "BloodPressureExample");
    /* 8: duplicated components with equal values, diastolic first; versioned id */
    one_reading("icanbwell-summary_Observation-ac59c2e9-1868.json",
                "ac59c2e9-d108-03bd-b501-c330d80054eb", "", 114, 79,
                utc(2022, 11, 19, 20, 58, 10), "ac59c2e9-d108-03bd-1868-ac048edbea8a/_history/2");
    /* 9: averaged self-measured BP under another panel code; components decide */
    one_reading("fhir-test-cases_obs-vs-1.json", "patient-example-Sally-Sue",
                "practitioner-example-Mary-Hill", 136, 86, utc(2023, 3, 1, 12, 0, 0),
                "AverageSMBP-example");

    /* 4: Synthea transaction Bundle: 137 entries, 3 BP panels, all usable */
    items *it = decode_file("synthea_7b4cf3d5-transaction-bundle.json");
    CHECK(it->n == 3);
    for (int i = 0; i < it->n; i++) {
        CHECK(it->v[i].valid);
        CHECK_STR(it->v[i].patient, "urn:uuid:7b4cf3d5-26bd-4c44-8f45-f11928c63c0e");
        CHECK_STR(it->v[i].practitioner, "");
    }
    /* the other 134 entries (Patient, Encounter, Conditions, heart rates, ...) are skipped by
     * reason, never dead letters */
    CHECK(it->n_skipped == 134);
    int not_obs = 0, not_bp = 0;
    for (int i = 0; i < it->n_skipped && i < MAX_ITEMS; i++) {
        not_obs += strcmp(it->s[i].reason, BP_SKIP_NOT_OBSERVATION) == 0;
        not_bp += strcmp(it->s[i].reason, BP_SKIP_NOT_BP) == 0;
    }
    CHECK(not_obs > 0 && not_bp > 0 && not_obs + not_bp == (it->n_skipped < MAX_ITEMS
                                                                ? it->n_skipped : MAX_ITEMS));
    CHECK(it->v[0].index == 10);
    CHECK_NUM(it->v[0].sys, 111);
    CHECK_NUM(it->v[0].dia, 86);
    CHECK(it->v[0].ms == utc(2011, 8, 22, 12, 18, 46));
    CHECK(it->v[2].index == 103);
    CHECK_NUM(it->v[2].sys, 124);
    CHECK_NUM(it->v[2].dia, 75);
    CHECK(it->v[2].ms == utc(2017, 8, 28, 12, 18, 46));

    /* 6: C-CDA conversion: entries 11 (systolic) and 12 (diastolic) pair into one reading */
    it = decode_file("fhir-converter_CCD-expected.json");
    CHECK(it->n == 1);
    CHECK(it->v[0].valid);
    CHECK(it->v[0].index == 11);
    CHECK_STR(it->v[0].patient, "03a91833-bc93-2b74-b2a0-7851c2c34ebc");
    CHECK_NUM(it->v[0].sys, 120);
    CHECK_NUM(it->v[0].dia, 80);
    CHECK(it->v[0].ms == utc(2014, 10, 1, 15, 30, 26));
    CHECK_CONTAINS(it->v[0].id, "+"); /* both Observations' ids */

    /* 10: panel code with a stray top-level value and no components: rejected */
    it = decode_file("icanbwell-server_accessHistory-observation1.json");
    CHECK(it->n == 1 && !it->v[0].valid);
    CHECK_STR(it->v[0].reason, "no systolic or diastolic value");

    /* 11: mean pressure alone is not a reading, and not broken either: skipped */
    it = decode_file("r5-spec_observation-example-mbp.json");
    CHECK(it->n == 0 && it->n_skipped == 1);
    CHECK_STR(it->s[0].reason, BP_SKIP_MEAN_ONLY);
    CHECK_STR(it->s[0].type, "Observation");
    CHECK_STR(it->s[0].code, "8478-0");
    return CHECK_DONE();
}
