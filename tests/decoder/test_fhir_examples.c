/* Every file of the FHIR examples in tests/data/fhir-examples (written by HL7, Synthea, servers
 * and converters), decoded with default settings, gives exactly the readings written below:
 * how many, and for each its position, stable id, patient, practitioner, device, values and
 * time, as read from the file by hand (the MANIFEST's "expected extraction", under bppipe's
 * rules of docs/fhir.md where they are wider: a reading with one value is still a reading, and
 * C-CDA's separate systolic and diastolic Observations are paired). Everything else in a file
 * is accounted for: dead letters by reason, skipped resources by reason. */
#include "check.h"
#include "decode_helpers.h"

#include <math.h>

/* Skip reasons counted whole (the helper keeps only the first MAX_ITEMS skipped items). */
typedef struct counted {
    items it;
    int not_observation, not_bp, mean_only, other_skip;
} counted;

static int count_and_collect(void *user, const bp_decoded *d)
{
    counted *c = user;
    if (d->skip_reason && !d->invalid_reason) {
        const char *r = d->skip_reason;
        c->not_observation += strcmp(r, BP_SKIP_NOT_OBSERVATION) == 0;
        c->not_bp += strcmp(r, BP_SKIP_NOT_BP) == 0;
        c->mean_only += strcmp(r, BP_SKIP_MEAN_ONLY) == 0;
        c->other_skip += strcmp(r, BP_SKIP_NOT_OBSERVATION) != 0 &&
                         strcmp(r, BP_SKIP_NOT_BP) != 0 && strcmp(r, BP_SKIP_MEAN_ONLY) != 0;
    }
    return collect(&c->it, d);
}

/* Decodes a file whole, with the default options (no limit below the file's size). */
static counted *decode_file(const char *name)
{
    static counted c;
    memset(&c, 0, sizeof c);
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
        return &c;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)size + 1);
    size_t n = buf ? fread(buf, 1, (size_t)size, f) : 0;
    fclose(f);
    CHECK(buf && n == (size_t)size);
    bp_fhir_decode(buf, n, NULL, count_and_collect, &c);
    free(buf);
    return &c;
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

/* One reading as read from the file. "" = absent; NAN = no value. */
typedef struct reading {
    int index; /* entry position, -1 for a single resource */
    const char *stable_id, *observation_id, *patient, *practitioner, *device;
    double sys, dia;
    int64_t ms;
    /* issue 26: the logical id when it is not observation_id (a pair), and meta's version */
    const char *logical;
    int64_t version;
} reading;

static void check_reading(const char *file, const item *x, const reading *r)
{
    fprintf(stderr, "-- %s, reading %s\n", file, r->stable_id);
    CHECK(x->valid);
    CHECK_STR(x->reason, "");
    CHECK(x->index == r->index);
    CHECK_STR(x->id, r->stable_id);
    CHECK_STR(x->obs_id, r->observation_id);
    CHECK_STR(x->patient, r->patient);
    CHECK_STR(x->practitioner, r->practitioner);
    CHECK_STR(x->device, r->device);
    CHECK_STR(x->status, "final");
    CHECK_NUM(x->sys, r->sys);
    CHECK_NUM(x->dia, r->dia);
    CHECK(isnan(x->hr)); /* no example carries a heart rate inside its panel */
    CHECK(x->ms == r->ms);
    CHECK(x->flags == 0); /* every component is coded: none recognised by its text */
    /* what the reading is a version of: its id (or the pair's), whatever its stable id adds */
    CHECK_STR(x->logical, r->logical ? r->logical : r->observation_id);
    CHECK(x->version == r->version);
    CHECK(x->revision == BP_REVISION_NONE); /* every example is final */
}

/* A file whose items are exactly `n` readings, nothing invalid, and `skipped` skipped. */
static counted *readings_only(const char *file, int n, const reading *expected, int skipped)
{
    counted *c = decode_file(file);
    fprintf(stderr, "-- %s: %d items, %d skipped\n", file, c->it.n, c->it.n_skipped);
    CHECK(c->it.n == n);
    CHECK(c->it.n_skipped == skipped);
    for (int i = 0; i < n && i < c->it.n; i++)
        check_reading(file, &c->it.v[i], &expected[i]);
    return c;
}

int main(void)
{
    /* 1: HL7 R5 spec example; date-only time, the start of that day in UTC */
    readings_only("r5-spec_observation-example-bloodpressure.json", 1,
                  (reading[]){{-1, "blood-pressure", "blood-pressure", "example", "example", "",
                               107, 60, utc(2012, 9, 17, 0, 0, 0), NULL, BP_VERSION_NONE}},
                  0);

    /* 2: diastolic has only a dataAbsentReason (not-performed): systolic alone is a reading */
    readings_only("r5-spec_observation-example-bloodpressure-dar.json", 1,
                  (reading[]){{-1, "blood-pressure-dar", "blood-pressure-dar", "example", "example",
                               "", 107, NAN, utc(2012, 9, 17, 0, 0, 0), NULL, BP_VERSION_NONE}},
                  0);

    /* 3: US Core; references with a display */
    readings_only("us-core_blood-pressure.json", 1,
                  (reading[]){{-1, "blood-pressure", "blood-pressure", "example", "practitioner-1",
                               "", 109, 44, utc(1999, 7, 2, 0, 0, 0), NULL, BP_VERSION_NONE}},
                  0);

    /* 4: Synthea transaction Bundle: 137 entries, 71 Observations, 3 BP panels (diastolic
     * component first), subject as urn:uuid, no performer; 11:18:46 at -04:00 is 12:18:46Z */
    const char *synthea_patient = "urn:uuid:7b4cf3d5-26bd-4c44-8f45-f11928c63c0e";
    counted *c = readings_only(
        "synthea_7b4cf3d5-transaction-bundle.json", 3,
        (reading[]){
            {10, "abf57e49-89ca-410a-985e-f9438d6128e4", "abf57e49-89ca-410a-985e-f9438d6128e4",
             synthea_patient, "", "", 111, 86, utc(2011, 8, 22, 12, 18, 46), NULL, BP_VERSION_NONE},
            {35, "0112a83a-fe18-4aec-889b-8807bc70ae22", "0112a83a-fe18-4aec-889b-8807bc70ae22",
             synthea_patient, "", "", 126, 71, utc(2014, 8, 25, 12, 18, 46), NULL, BP_VERSION_NONE},
            {103, "d47ea3e2-faa0-471f-9c17-e92e5a32e787", "d47ea3e2-faa0-471f-9c17-e92e5a32e787",
             synthea_patient, "", "", 124, 75, utc(2017, 8, 28, 12, 18, 46), NULL,
             BP_VERSION_NONE}},
        134);
    /* the other 134 entries are skipped by reason, never dead letters: 66 resources of other
     * types (Patient, Encounter, Condition, ...) and the 68 other Observations */
    CHECK(c->not_observation == 66 && c->not_bp == 68 && c->mean_only == 0 &&
          c->other_skip == 0);

    /* 5: PHD device panel: MDC + LOINC codes, a mean component (not used), performer is the
     * Patient (no practitioner), 11:38:15-05:00 */
    readings_only(
        "phd_compound-numeric-blood-pressure.json", 1,
        (reading[]){{-1, "compound-numeric-blood-pressure", "compound-numeric-blood-pressure",
                     "patientExample-1", "", "phd-711000FEFF5F49B0.B0495F001071", 116, 71,
                     utc(2018, 11, 11, 16, 38, 15), NULL, BP_VERSION_NONE}},
        0);

    /* 6: C-CDA conversion, a batch Bundle of 24 entries: systolic (entry 11) and diastolic
     * (entry 12) are separate Observations of one patient and time: one reading at the first's
     * position, its stable id both ids; the other 10 Observations (heart rate, temperature,
     * ...) and 12 other resources are skipped */
    c = readings_only(
        "fhir-converter_CCD-expected.json", 1,
        (reading[]){{11,
                     "d99e9d72-8454-82de-93ec-5a74c1b684e6+"
                     "da2d9997-53d4-17ae-9ffc-95ac2123cf38",
                     "d99e9d72-8454-82de-93ec-5a74c1b684e6", "03a91833-bc93-2b74-b2a0-7851c2c34ebc",
                     "", "", 120, 80, utc(2014, 10, 1, 15, 30, 26),
                     "d99e9d72-8454-82de-93ec-5a74c1b684e6+"
                     "da2d9997-53d4-17ae-9ffc-95ac2123cf38",
                     BP_VERSION_NONE}},
        22);
    CHECK(c->not_observation == 12 && c->not_bp == 10 && c->other_skip == 0);

    /* 7: subject by identifier only; performer a contained Organization (no practitioner);
     * device a contained Device, as written */
    readings_only("be-patient-monitoring_Observation-BloodPressureExample.json", 1,
                  (reading[]){{-1, "BloodPressureExample", "BloodPressureExample",
                               "https://vitalsigns.byteflies.net/FHIR/patient|"
                               "D358D4B4-6007-4C3E-A33B-056773F45DC9",
                               "", "#vital-signs-box", 140, 74, utc(2024, 11, 18, 9, 38, 52), NULL,
                               BP_VERSION_NONE}},
                  0);

    /* 8: four components, diastolic, systolic, and the same again (equal values); versioned id
     * (meta.versionId "2" is the version; its lastUpdated is not used beside it); subject with
     * extensions beside its reference */
    readings_only(
        "icanbwell-summary_Observation-ac59c2e9-1868.json", 1,
        (reading[]){{-1, "ac59c2e9-d108-03bd-1868-ac048edbea8a/_history/2",
                     "ac59c2e9-d108-03bd-1868-ac048edbea8a", "ac59c2e9-d108-03bd-b501-c330d80054eb",
                     "", "", 114, 79, utc(2022, 11, 19, 20, 58, 10), NULL, 2}},
        0);

    /* 9: average self-measured BP coded 76534-7, components 8480-6/8462-4 decide; the
     * effective time (06:00-06:00), not `issued` */
    readings_only(
        "fhir-test-cases_obs-vs-1.json", 1,
        (reading[]){{-1, "AverageSMBP-example", "AverageSMBP-example", "patient-example-Sally-Sue",
                     "practitioner-example-Mary-Hill", "example-smbp-device", 136, 86,
                     utc(2023, 3, 1, 12, 0, 0), NULL, BP_VERSION_NONE}},
        0);

    /* 10: panel code, no components, a stray top-level value: not a reading, a dead letter */
    c = decode_file("icanbwell-server_accessHistory-observation1.json");
    CHECK(c->it.n == 1 && !c->it.v[0].valid && c->it.n_skipped == 0);
    CHECK_STR(c->it.v[0].reason, "no systolic or diastolic value");
    CHECK_STR(c->it.v[0].id, "obs1");
    CHECK_STR(c->it.v[0].logical, ""); /* a dead letter replaces nothing */
    CHECK(c->it.v[0].version == BP_VERSION_NONE && c->it.v[0].revision == BP_REVISION_NONE);

    /* 11: mean pressure alone is not a reading, and not broken either: skipped */
    c = decode_file("r5-spec_observation-example-mbp.json");
    CHECK(c->it.n == 0 && c->it.n_skipped == 1 && c->mean_only == 1);
    CHECK_STR(c->it.s[0].reason, BP_SKIP_MEAN_ONLY);
    CHECK_STR(c->it.s[0].type, "Observation");
    CHECK_STR(c->it.s[0].code, "8478-0");
    return CHECK_DONE();
}
