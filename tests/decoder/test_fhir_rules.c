/* One table-driven check per decoding rule, on hand-written minimal resources. */
#include "check.h"
#include "decode_helpers.h"

#include <math.h>

#define SYS(v, unit) "{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8480-6\"}]}," \
                     "\"valueQuantity\":{\"value\":" v "," unit "}}"
#define DIA(v, unit) "{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8462-4\"}]}," \
                     "\"valueQuantity\":{\"value\":" v "," unit "}}"
#define MMHG "\"unit\":\"mmHg\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"mm[Hg]\""
#define PANEL "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"85354-9\"}]}"
#define SUBJ "\"subject\":{\"reference\":\"Patient/p1\"}"
#define WHEN "\"effectiveDateTime\":\"2026-01-02T03:04:05Z\""
#define T0 1767323045000LL /* 2026-01-02T03:04:05Z */

/* An Observation with the usual parts, `extra` members and `components`. */
static const char *obs(const char *extra, const char *components)
{
    /* A ring of buffers, so a table can hold many results of obs() at once. */
    static char ring[48][4096];
    static unsigned next;
    char *buf = ring[next++ % 48];
    snprintf(buf, sizeof ring[0],
             "{\"resourceType\":\"Observation\",\"id\":\"o1\",\"status\":\"final\",%s%s"
             "\"component\":[%s]}",
             extra, extra[0] ? "," : "", components);
    return buf;
}

#define STD PANEL "," SUBJ "," WHEN

typedef struct reason_case {
    const char *name, *json, *reason;
} reason_case;

int main(void)
{
    items *it;

    /* the textbook panel */
    it = decode_text(obs(STD, SYS("120", MMHG) "," DIA("80", MMHG)), 0);
    CHECK(it->n == 1 && it->v[0].valid);
    CHECK_NUM(it->v[0].sys, 120);
    CHECK_NUM(it->v[0].dia, 80);
    CHECK(it->v[0].ms == T0);
    CHECK_STR(it->v[0].patient, "p1");
    CHECK_STR(it->v[0].id, "o1");

    /* by code, never by position: diastolic first */
    it = decode_text(obs(STD, DIA("70", MMHG) "," SYS("110", MMHG)), 0);
    CHECK_NUM(it->v[0].sys, 110);
    CHECK_NUM(it->v[0].dia, 70);

    /* the original producer: text-only components, no panel code, no id */
    const char *original =
        "{\"resourceType\":\"Observation\",\"status\":\"final\","
        "\"subject\":{\"reference\":\"Patient/PAT-001\"},"
        "\"performer\":[{\"reference\":\"Practitioner/PRAC-01\"}],"
        "\"effectiveDateTime\":\"2026-01-02T03:04:05.123456+00:00\",\"component\":["
        "{\"code\":{\"text\":\"Systolic Blood Pressure\"},\"valueQuantity\":{\"value\":135,\"unit\":\"mmHg\"}},"
        "{\"code\":{\"text\":\"Diastolic Blood Pressure\"},\"valueQuantity\":{\"value\":85,\"unit\":\"mmHg\"}}]}";
    it = decode_text(original, 0);
    CHECK(it->n == 1 && it->v[0].valid);
    CHECK_NUM(it->v[0].sys, 135);
    CHECK_NUM(it->v[0].dia, 85);
    CHECK(it->v[0].flags & BP_DEC_BY_TEXT);
    CHECK_STR(it->v[0].patient, "PAT-001");
    CHECK_STR(it->v[0].practitioner, "PRAC-01");
    CHECK(it->v[0].ms == T0 + 123);
    CHECK(strncmp(it->v[0].id, "sha256:", 7) == 0 && strlen(it->v[0].id) == 47);
    char first_id[256];
    snprintf(first_id, sizeof first_id, "%s", it->v[0].id);
    it = decode_text(original, 0);
    CHECK_STR(it->v[0].id, first_id); /* content hash: the same bytes, the same id */

    /* a LOINC code without a system (the original producer's other form) */
    it = decode_text(obs(SUBJ "," WHEN,
                         "{\"code\":{\"coding\":[{\"code\":\"8480-6\"}]},\"valueQuantity\":{\"value\":120,\"unit\":\"mmHg\"}},"
                         "{\"code\":{\"coding\":[{\"code\":\"8462-4\"}]},\"valueQuantity\":{\"value\":80,\"unit\":\"mmHg\"}}"),
                     0);
    CHECK(it->v[0].valid && !(it->v[0].flags & BP_DEC_BY_TEXT));
    CHECK_NUM(it->v[0].sys, 120);

    /* text is a fallback only for components with no coding at all */
    it = decode_text(obs(SUBJ "," WHEN,
                         "{\"code\":{\"coding\":[{\"system\":\"http://snomed.info/sct\",\"code\":\"1\"}],"
                         "\"text\":\"Systolic Blood Pressure\"},\"valueQuantity\":{\"value\":120,\"unit\":\"mmHg\"}}"),
                     0);
    CHECK(it->n == 0 && it->n_skipped == 1); /* no BP code: not blood pressure */

    /* MDC device codes */
    it = decode_text(obs(SUBJ "," WHEN,
                         "{\"code\":{\"coding\":[{\"system\":\"urn:iso:std:iso:11073:10101\",\"code\":\"150021\"}]},"
                         "\"valueQuantity\":{\"value\":101,\"code\":\"mm[Hg]\"}},"
                         "{\"code\":{\"coding\":[{\"system\":\"urn:iso:std:iso:11073:10101\",\"code\":\"150022\"}]},"
                         "\"valueQuantity\":{\"value\":61,\"code\":\"mm[Hg]\"}}"),
                     0);
    CHECK(it->v[0].valid);
    CHECK_NUM(it->v[0].sys, 101);
    CHECK_NUM(it->v[0].dia, 61);

    /* units: mm Hg, code only, kPa, decimals kept */
    it = decode_text(obs(STD, SYS("102.7227196535116", "\"unit\":\"mm Hg\"") "," DIA("80.0", "\"code\":\"mm[Hg]\"")), 0);
    CHECK_NUM(it->v[0].sys, 102.7227196535116);
    CHECK_NUM(it->v[0].dia, 80);
    it = decode_text(obs(STD, SYS("16", "\"unit\":\"kPa\"") "," DIA("10.5", "\"code\":\"kPa\"")), 0);
    CHECK_NUM(it->v[0].sys, 16 * 7.50062);
    CHECK_NUM(it->v[0].dia, 10.5 * 7.50062);

    /* heart rate when present */
    it = decode_text(obs(STD, SYS("120", MMHG) "," DIA("80", MMHG)
                         ",{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8867-4\"}]},"
                         "\"valueQuantity\":{\"value\":72,\"unit\":\"/min\"}}"), 0);
    CHECK_NUM(it->v[0].hr, 72);

    /* equal duplicates are one value */
    it = decode_text(obs(STD, SYS("120", MMHG) "," SYS("120.0", MMHG) "," DIA("80", MMHG)), 0);
    CHECK(it->v[0].valid);

    /* one value is still a reading */
    it = decode_text(obs(STD, SYS("120", MMHG) ",{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\","
                         "\"code\":\"8462-4\"}]},\"dataAbsentReason\":{\"text\":\"not performed\"}}"), 0);
    CHECK(it->v[0].valid);
    CHECK(isnan(it->v[0].dia));

    /* times */
    struct { const char *member; int64_t ms; } times[] = {
        {"\"effectiveDateTime\":\"2026-01-02\"", 1767312000000LL},
        {"\"effectiveDateTime\":\"2026-01-02T05:04:05+02:00\"", T0},
        {"\"effectiveDateTime\":\"2026-01-01T22:34:05.5-04:30\"", T0 + 500},
        {"\"effectivePeriod\":{\"start\":\"2026-01-02T03:04:05Z\",\"end\":\"2026-01-02T04:00:00Z\"}", T0},
        {"\"effectivePeriod\":{\"end\":\"2026-01-02T03:04:05Z\"}", T0},
        {"\"effectiveInstant\":\"2026-01-02T03:04:05.000Z\"", T0},
        {"\"issued\":\"2026-01-02T03:04:05Z\"", T0},
    };
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        char extra[512];
        snprintf(extra, sizeof extra, PANEL "," SUBJ ",%s", times[i].member);
        it = decode_text(obs(extra, SYS("120", MMHG)), 0);
        fprintf(stderr, "time case %zu\n", i);
        CHECK(it->v[0].valid);
        CHECK(it->v[0].ms == times[i].ms);
    }

    /* readings by status */
    const char *ok_status[] = {"amended", "corrected", "preliminary"};
    for (size_t i = 0; i < 3; i++) {
        char json[4096];
        snprintf(json, sizeof json, "%s", obs(STD, SYS("120", MMHG)));
        char *st = strstr(json, "final");
        char rebuilt[4096];
        snprintf(rebuilt, sizeof rebuilt, "%.*s%s%s", (int)(st - json), json, ok_status[i], st + 5);
        it = decode_text(rebuilt, 0);
        CHECK(it->v[0].valid);
        CHECK_STR(it->v[0].status, ok_status[i]);
    }

    /* subjects and performers */
    struct { const char *subject, *expect; } subjects[] = {
        {"{\"reference\":\"https://fhir.example.org/r4/Patient/42/_history/3\"}", "42"},
        {"{\"reference\":\"urn:uuid:1234\"}", "urn:uuid:1234"},
        {"{\"reference\":\"#pat\"}", "#pat"},
        {"{\"identifier\":{\"system\":\"urn:mrn\",\"value\":\"77\"}}", "urn:mrn|77"},
    };
    for (size_t i = 0; i < 4; i++) {
        char extra[512];
        snprintf(extra, sizeof extra, PANEL ",\"subject\":%s," WHEN, subjects[i].subject);
        it = decode_text(obs(extra, SYS("120", MMHG)), 0);
        CHECK_STR(it->v[0].patient, subjects[i].expect);
    }
    it = decode_text(obs(STD ",\"performer\":[{\"reference\":\"Organization/o\"},{\"reference\":\"PractitionerRole/r9\"}]",
                         SYS("120", MMHG)), 0);
    CHECK_STR(it->v[0].practitioner, "r9");
    it = decode_text(obs(STD ",\"performer\":[{\"reference\":\"Patient/p1\"}]", SYS("120", MMHG)), 0);
    CHECK_STR(it->v[0].practitioner, "");

    /* a code naming one component next to a top-level value: that value */
    it = decode_text("{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"coding\":[{\"system\":"
                     "\"http://loinc.org\",\"code\":\"8462-4\"}]}," SUBJ "," WHEN
                     ",\"valueQuantity\":{\"value\":77,\"unit\":\"mm[Hg]\"}}", 0);
    CHECK(it->v[0].valid);
    CHECK(isnan(it->v[0].sys));
    CHECK_NUM(it->v[0].dia, 77);
    /* version and fullUrl in ids */
    it = decode_text("{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":[{\"fullUrl\":\"urn:uuid:e1\","
                     "\"resource\":{\"resourceType\":\"Observation\",\"status\":\"final\"," PANEL "," SUBJ "," WHEN
                     ",\"component\":[" SYS("120", MMHG) "]}},{\"resource\":{\"resourceType\":\"Observation\","
                     "\"id\":\"x\",\"meta\":{\"versionId\":\"7\"},\"status\":\"final\"," PANEL "," SUBJ ","
                     "\"effectiveDateTime\":\"2026-01-03\",\"component\":[" SYS("121", MMHG) "]}}]}", 0);
    CHECK(it->n == 2);
    CHECK_STR(it->v[0].id, "urn:uuid:e1");
    CHECK_STR(it->v[1].id, "x/_history/7");
    CHECK(it->v[1].index == 1);

    /* an amended or corrected reading without a version is a new id, not the original's; the
     * same correction replayed keeps its id, and another correction gets another */
#define FIXED(status, sys)                                                                         \
    "{\"resourceType\":\"Observation\",\"id\":\"r9\",\"status\":\"" status "\"," STD              \
    ",\"component\":[" SYS(sys, MMHG) "]}"
    char final_id[256], amended[256];
    it = decode_text(FIXED("final", "150"), 0);
    snprintf(final_id, sizeof final_id, "%s", it->v[0].id);
    CHECK_STR(final_id, "r9");
    it = decode_text(FIXED("amended", "130"), 0);
    snprintf(amended, sizeof amended, "%s", it->v[0].id);
    CHECK(strncmp(amended, "r9/_amended/", 12) == 0 && strlen(amended) == 12 + 40);
    it = decode_text(FIXED("amended", "130"), 0);
    CHECK_STR(it->v[0].id, amended);
    it = decode_text(FIXED("amended", "131"), 0);
    CHECK(strncmp(it->v[0].id, "r9/_amended/", 12) == 0 && strcmp(it->v[0].id, amended) != 0);
    it = decode_text(FIXED("corrected", "130"), 0);
    CHECK(strncmp(it->v[0].id, "r9/_corrected/", 14) == 0);
    /* inside a Bundle too (hash of the resource's printing) */
    it = decode_text("{\"resourceType\":\"Bundle\",\"entry\":[{\"resource\":" FIXED("amended", "130")
                     "}]}", 0);
    CHECK(strncmp(it->v[0].id, "r9/_amended/", 12) == 0);
    /* a version wins over the status */
    it = decode_text("{\"resourceType\":\"Observation\",\"id\":\"r9\",\"meta\":{\"versionId\":\"2\"},"
                     "\"status\":\"amended\"," STD ",\"component\":[" SYS("130", MMHG) "]}", 0);
    CHECK_STR(it->v[0].id, "r9/_history/2");
#undef FIXED

    /* containers: array, NDJSON with a broken line, pairing only within patient and time */
    char two[8192];
    snprintf(two, sizeof two, "[%s,", obs(STD, SYS("120", MMHG)));
    strcat(two, obs(STD, DIA("80", MMHG)));
    strcat(two, "]");
    it = decode_text(two, 0);
    CHECK(it->n == 1); /* a systolic-only and a diastolic-only reading of p1 at T0 pair */
    CHECK_NUM(it->v[0].sys, 120);
    CHECK_NUM(it->v[0].dia, 80);
    char ndjson[8192];
    snprintf(ndjson, sizeof ndjson, "%s\n{\"broken\n", obs(STD, SYS("120", MMHG)));
    char other[512];
    snprintf(other, sizeof other, PANEL ",\"subject\":{\"reference\":\"Patient/p2\"}," WHEN);
    strcat(ndjson, obs(other, DIA("80", MMHG)));
    strcat(ndjson, "\n");
    it = decode_text(ndjson, 0);
    CHECK(it->n == 3); /* p1 and p2 never pair */
    CHECK(it->v[0].valid && it->v[2].valid);
    CHECK(isnan(it->v[0].dia) && isnan(it->v[2].sys));
    CHECK_CONTAINS(it->v[1].reason, "line 2: not JSON at byte");
    CHECK(it->v[1].index == 1);

    /* Bundles of every type, entries with and without fullUrl, each entry one reading */
    const char *types[] = {"transaction", "batch", "collection", "document", "searchset",
                           "transaction-response", "history", "message"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        static char bundle[16384];
        snprintf(bundle, sizeof bundle,
                 "{\"resourceType\":\"Bundle\",\"type\":\"%s\",\"entry\":["
                 "{\"fullUrl\":\"urn:uuid:a\",\"resource\":{\"resourceType\":\"Patient\",\"id\":\"p1\"}},"
                 "{\"fullUrl\":\"urn:uuid:b\",\"resource\":%s},{\"resource\":%s},"
                 "{\"request\":{\"method\":\"DELETE\",\"url\":\"Observation/z\"}}]}",
                 types[i], obs(STD, SYS("120", MMHG) "," DIA("80", MMHG)),
                 obs(PANEL ",\"subject\":{\"reference\":\"Patient/p2\"}," WHEN,
                     SYS("130", MMHG) "," DIA("85", MMHG)));
        it = decode_text(bundle, 0);
        fprintf(stderr, "bundle type %s\n", types[i]);
        CHECK(it->n == 2);
        CHECK(it->v[0].valid && it->v[1].valid);
        CHECK(it->v[0].index == 1 && it->v[1].index == 2);
        CHECK_STR(it->v[0].patient, "p1");
        CHECK_STR(it->v[1].patient, "p2");
        CHECK_NUM(it->v[1].sys, 130);
    }

    /* in a container, a body weight is skipped but a BP Observation that cannot be used is an
     * invalid item with its reason and position */
    static char mixed[16384];
    snprintf(mixed, sizeof mixed,
             "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":["
             "{\"resource\":{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"coding\":"
             "[{\"system\":\"http://loinc.org\",\"code\":\"29463-7\"}]}," SUBJ "," WHEN
             ",\"valueQuantity\":{\"value\":70,\"unit\":\"kg\"}}},"
             "{\"resource\":%s},{\"resource\":%s}]}",
             obs(STD, SYS("12", "\"unit\":\"cm\"")), obs(STD, SYS("120", MMHG)));
    it = decode_text(mixed, 0);
    CHECK(it->n == 2);
    CHECK(!it->v[0].valid && it->v[0].index == 1);
    CHECK_STR(it->v[0].reason, "systolic unit 'cm' is not a pressure unit");
    CHECK(it->v[1].valid && it->v[1].index == 2);

    /* a text-identified BP Observation whose heart rate (listed first) is broken is invalid,
     * not skipped as "not blood pressure" */
    static char hr_first[4096];
    snprintf(hr_first, sizeof hr_first, "[%s]",
             obs(SUBJ "," WHEN,
                 "{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8867-4\"}]},"
                 "\"valueQuantity\":{\"value\":\"fast\",\"unit\":\"/min\"}},"
                 "{\"code\":{\"text\":\"Systolic Blood Pressure\"},\"valueQuantity\":{\"value\":120,\"unit\":\"mmHg\"}}"));
    it = decode_text(hr_first, 0);
    CHECK(it->n == 1 && !it->v[0].valid);
    CHECK_STR(it->v[0].reason, "heart rate value is not a number");

    /* a mean-pressure component next to systolic and diastolic is not a third value */
    it = decode_text(obs(STD, SYS("120", MMHG) "," DIA("80", MMHG)
                         ",{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8478-0\"}]},"
                         "\"valueQuantity\":{\"value\":93,\"unit\":\"mmHg\"}}"), 0);
    CHECK(it->n == 1 && it->v[0].valid);
    CHECK_NUM(it->v[0].sys, 120);
    CHECK_NUM(it->v[0].dia, 80);

    /* the content hash is over the resource's own bytes: the same resource alone, with a
     * trailing newline or CRLF, or as an NDJSON line has one id */
    const char *bare = "{\"resourceType\":\"Observation\",\"status\":\"final\"," SUBJ "," WHEN
                       ",\"component\":[" SYS("120", MMHG) "]}";
    char id_alone[256], with_nl[4096], as_line[8192];
    it = decode_text(bare, 0);
    snprintf(id_alone, sizeof id_alone, "%s", it->v[0].id);
    CHECK(strncmp(id_alone, "sha256:", 7) == 0);
    snprintf(with_nl, sizeof with_nl, "  %s\r\n", bare);
    it = decode_text(with_nl, 0);
    CHECK_STR(it->v[0].id, id_alone);
    /* (another patient on the first line, so the two do not pair) */
    snprintf(as_line, sizeof as_line, "%s\n%s\n",
             obs(PANEL ",\"subject\":{\"reference\":\"Patient/p2\"}," WHEN, DIA("80", MMHG)), bare);
    it = decode_text(as_line, 0);
    CHECK(it->n == 2);
    CHECK_STR(it->v[1].id, id_alone);
    /* and a different value is a different id */
    it = decode_text("{\"resourceType\":\"Observation\",\"status\":\"final\"," SUBJ "," WHEN
                     ",\"component\":[" SYS("121", MMHG) "]}", 0);
    CHECK(strcmp(it->v[0].id, id_alone) != 0);

    /* pairing never crosses times: same patient, one second apart */
    static char apart[8192];
    snprintf(apart, sizeof apart, "[%s,", obs(STD, SYS("120", MMHG)));
    strcat(apart, obs(PANEL "," SUBJ ",\"effectiveDateTime\":\"2026-01-02T03:04:06Z\"", DIA("80", MMHG)));
    strcat(apart, "]");
    it = decode_text(apart, 0);
    CHECK(it->n == 2);
    CHECK(isnan(it->v[0].dia) && isnan(it->v[1].sys));

    /* every rejection with its precise reason */
    static char deep[30000];
    memset(deep, '[', 10000);
    memset(deep + 10000, ']', 10000);
    deep[20000] = '\0';
    reason_case rejects[] = {
        {"not JSON", "{\"resourceType\":\"Observation\",}", "not JSON at byte 30"},
        {"empty", "", "empty payload"},
        {"whitespace", "  \n ", "empty payload"},
        {"non-UTF-8", "{\"a\":\"\xff\"}", "not valid UTF-8 at byte 6"},
        {"deep nesting", deep, "nested deeper than the limit of 1000 at byte 1000"},
        {"trailing data", "{\"resourceType\":\"Observation\"} x", "trailing data after the JSON value"},
        {"no resourceType", "{\"status\":\"final\"}", "not a FHIR resource (no resourceType)"},
        {"not an object", "42", "not a FHIR resource (not a JSON object)"},
        {"resourceType not a type name", "{\"resourceType\":\"observation\"}",
         "not a FHIR resource (resourceType is not a resource type name)"},
        {"empty resourceType", "{\"resourceType\":\"\"}",
         "not a FHIR resource (resourceType is not a resource type name)"},
        {"empty array", "[]", "no FHIR resource in JSON array of 0 elements"},
        {"Bundle.entry not an array", "{\"resourceType\":\"Bundle\",\"entry\":{\"resource\":"
         "{\"resourceType\":\"Patient\"}}}", "Bundle.entry is not an array"},
        {"Bundle entry not an object", "{\"resourceType\":\"Bundle\",\"entry\":[7]}",
         "Bundle entry is not a JSON object"},
        {"Bundle entry with nothing", "{\"resourceType\":\"Bundle\",\"entry\":[{\"fullUrl\":\"x\"}]}",
         "Bundle entry with no resource, request or response"},
        {"syntax error before deep nesting", "{\"a\":x[[[[", "not JSON at byte 5"},
        {"string value", obs(STD, SYS("\"120\"", MMHG)), "systolic value is not a number"},
        {"NaN as a string", obs(STD, SYS("\"NaN\"", MMHG)), "systolic value is not a number"},
        {"huge number", obs(STD, SYS("1e999", MMHG)), "systolic value is not a finite number"},
        {"wrong unit", obs(STD, SYS("12", "\"unit\":\"cm\"")), "systolic unit 'cm' is not a pressure unit"},
        {"no unit", obs(STD, DIA("80", "\"comparator\":\"<\"")), "diastolic value has no unit"},
        {"conflict", obs(STD, SYS("120", MMHG) "," SYS("125", MMHG)), "conflicting systolic values 120 and 125"},
        {"no values", obs(STD, ""), "no systolic or diastolic value"},
        {"absent on the Observation", obs(STD ",\"dataAbsentReason\":{\"text\":\"x\"}", ""),
         "no systolic or diastolic value (dataAbsentReason)"},
        {"no subject", obs(PANEL "," WHEN, SYS("120", MMHG)), "no subject"},
        {"no time", obs(PANEL "," SUBJ, SYS("120", MMHG)), "no effective time"},
        {"time without zone", obs(PANEL "," SUBJ ",\"effectiveDateTime\":\"2026-01-02T03:04:05\"", SYS("120", MMHG)),
         "effectiveDateTime is not a FHIR date-time with a time zone"},
        {"impossible date", obs(PANEL "," SUBJ ",\"effectiveDateTime\":\"2026-02-30\"", SYS("120", MMHG)),
         "effectiveDateTime is not a FHIR date-time"},
        {"ambiguous top-level value", "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"coding\":["
                      "{\"system\":\"http://loinc.org\",\"code\":\"85354-9\"},{\"system\":\"http://loinc.org\",\"code\":"
                      "\"8480-6\"},{\"system\":\"http://loinc.org\",\"code\":\"8462-4\"}]}," SUBJ "," WHEN
                      ",\"valueQuantity\":{\"value\":120,\"unit\":\"mmHg\"}}", "no systolic or diastolic value"},
    };
    for (size_t i = 0; i < sizeof rejects / sizeof rejects[0]; i++) {
        it = decode_text(rejects[i].json, 0);
        fprintf(stderr, "reject case: %s\n", rejects[i].name);
        CHECK(it->n == 1 && !it->v[0].valid);
        CHECK_CONTAINS(it->v[0].reason, rejects[i].reason);
    }
    /* entered-in-error is a retraction (test_fhir_revisions.c); these stay dead letters */
    const char *statuses[][2] = {{"cancelled", "status cancelled is not a reading"},
                                 {"registered", "status registered is not a reading"},
                                 {"unknown", "status unknown is not a reading"}};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        char json[4096];
        snprintf(json, sizeof json, "{\"resourceType\":\"Observation\",\"status\":\"%s\",%s,\"component\":[%s]}",
                 statuses[i][0], STD, SYS("120", MMHG));
        it = decode_text(json, 0);
        CHECK(!it->v[0].valid);
        CHECK_STR(it->v[0].reason, statuses[i][1]);
    }
    /* 100 MB with the default 1 MiB limit: refused at once, without parsing */
    size_t huge_len = 100u << 20;
    char *huge = malloc(huge_len);
    CHECK(huge != NULL);
    if (huge) {
        memset(huge, '[', huge_len);
        items big = {0};
        bp_decode_opts lim = {1u << 20};
        bp_fhir_decode(huge, huge_len, &lim, collect, &big);
        CHECK(big.n == 1);
        CHECK_STR(big.v[0].reason,
                  "payload of 104857600 bytes is over the limit of 1048576 (max_payload_bytes)");
        free(huge);
    }
    /* a configured size limit refuses large payloads without parsing them */
    it = decode_text(obs(STD, SYS("120", MMHG)), 100);
    CHECK_CONTAINS(it->v[0].reason, "is over the limit of 100 (max_payload_bytes)");
    return CHECK_DONE();
}
