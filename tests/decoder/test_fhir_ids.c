/* Ids are never cut: long ids stay whole and distinct, over-long ones and ids holding a NUL
 * character are dead letters with their reason, and no two distinct inputs share a stable id. */
#include "check.h"
#include "decode_helpers.h"
#include "fhir/fhir_observation.h"

#include <stdarg.h>

#define COMPONENTS                                                                             \
    "\"component\":[{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8480-6\"}]},"  \
    "\"valueQuantity\":{\"value\":120,\"unit\":\"mmHg\"}},{\"code\":{\"coding\":[{\"system\":"      \
    "\"http://loinc.org\",\"code\":\"8462-4\"}]},\"valueQuantity\":{\"value\":80,\"unit\":"        \
    "\"mmHg\"}}]"
#define PANEL "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"85354-9\"}]}"
#define WHEN "\"effectiveDateTime\":\"2026-01-02T03:04:05Z\""

/* printf into a fresh buffer the test frees at exit (a ring, so a few can be alive at once). */
static const char *fmt(const char *f, ...)
{
    static char *ring[8];
    static unsigned next;
    char **slot = &ring[next++ % 8];
    free(*slot);
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(NULL, 0, f, ap);
    va_end(ap);
    *slot = malloc((size_t)n + 1);
    va_start(ap, f);
    vsnprintf(*slot, (size_t)n + 1, f, ap);
    va_end(ap);
    return *slot;
}

/* `n` copies of `c`, then `tail`. */
static const char *run_of(char c, size_t n, const char *tail)
{
    static char buf[4][4096];
    static unsigned next;
    char *b = buf[next++ % 4];
    memset(b, c, n);
    snprintf(b + n, sizeof buf[0] - n, "%s", tail);
    return b;
}

/* An Observation with the given members before the usual panel, patient and time. */
static const char *obs_with(const char *members, const char *patient_ref)
{
    return fmt("{\"resourceType\":\"Observation\",%s\"status\":\"final\"," PANEL ","
               "\"subject\":{\"reference\":\"%s\"}," WHEN "," COMPONENTS "}",
               members, patient_ref);
}

static const char *bundle2(const char *a, const char *b)
{
    return fmt("{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":["
               "{\"resource\":%s},{\"resource\":%s}]}", a, b);
}

static void long_ids_stay_whole(void)
{
    /* two ids of 300 bytes that share their first 299: two readings, two stable ids */
    const char *id_a = run_of('a', 299, "1"), *id_b = run_of('a', 299, "2");
    char a_copy[512], b_copy[512];
    snprintf(a_copy, sizeof a_copy, "%s", id_a);
    snprintf(b_copy, sizeof b_copy, "%s", id_b);
    const char *oa = obs_with(fmt("\"id\":\"%s\",", a_copy), "Patient/p1");
    const char *ob = obs_with(fmt("\"id\":\"%s\",", b_copy), "Patient/p1");
    items *it = decode_text(bundle2(oa, ob), 0);
    CHECK(it->n == 2 && it->v[0].valid && it->v[1].valid);
    CHECK_STR(it->v[0].id, a_copy);
    CHECK_STR(it->v[1].id, b_copy);
    CHECK(strcmp(it->v[0].id, it->v[1].id) != 0);

    /* the same through a versioned id: "<id>/_history/<v>" whole */
    it = decode_text(obs_with(fmt("\"id\":\"%s\",\"meta\":{\"versionId\":\"7\"},", a_copy),
                              "Patient/p1"), 0);
    CHECK(it->n == 1 && it->v[0].valid);
    CHECK_STR(it->v[0].id, fmt("%s/_history/7", a_copy));

    /* two patients that differ after byte 255, as a relative and as an absolute reference */
    char pa[400], pb[400];
    snprintf(pa, sizeof pa, "%s", run_of('p', 300, "A"));
    snprintf(pb, sizeof pb, "%s", run_of('p', 300, "B"));
    it = decode_text(bundle2(obs_with("\"id\":\"o1\",", fmt("Patient/%s", pa)),
                             obs_with("\"id\":\"o2\",",
                                      fmt("https://fhir.example.org/r4/Patient/%s/_history/3",
                                          pb))), 0);
    CHECK(it->n == 2 && it->v[0].valid && it->v[1].valid);
    CHECK_STR(it->v[0].patient, pa);
    CHECK_STR(it->v[1].patient, pb);

    /* a subject by identifier: "<system>|<value>" whole */
    char value[400];
    snprintf(value, sizeof value, "%s", run_of('9', 300, "0"));
    it = decode_text(fmt("{\"resourceType\":\"Observation\",\"id\":\"o\",\"status\":\"final\","
                         PANEL ",\"subject\":{\"identifier\":{\"system\":\"urn:oid:1.2.3\","
                         "\"value\":\"%s\"}}," WHEN "," COMPONENTS "}", value), 0);
    CHECK(it->n == 1 && it->v[0].valid);
    CHECK_STR(it->v[0].patient, fmt("urn:oid:1.2.3|%s", value));

    /* a practitioner and a device of 600 bytes */
    char prac[700];
    snprintf(prac, sizeof prac, "%s", run_of('r', 600, ""));
    it = decode_text(obs_with(fmt("\"id\":\"o\",\"performer\":[{\"reference\":"
                                  "\"Practitioner/%s\"}],\"device\":{\"reference\":"
                                  "\"Device/%s\"},", prac, prac), "Patient/p"), 0);
    CHECK(it->n == 1 && it->v[0].valid);
    CHECK_STR(it->v[0].practitioner, prac);
    CHECK_STR(it->v[0].device, prac);

    /* the limit itself is allowed: an id of exactly BP_FHIR_ID_MAX bytes */
    char limit_id[BP_FHIR_ID_MAX + 1];
    snprintf(limit_id, sizeof limit_id, "%s", run_of('x', BP_FHIR_ID_MAX, ""));
    it = decode_text(obs_with(fmt("\"id\":\"%s\",", limit_id), "Patient/p"), 0);
    CHECK(it->n == 1 && it->v[0].valid);
    CHECK_STR(it->v[0].id, limit_id);

    /* a pair of two 1000-byte ids: both whole, joined by '+' */
    char s_id[1001], d_id[1001];
    snprintf(s_id, sizeof s_id, "%s", run_of('s', 1000, ""));
    snprintf(d_id, sizeof d_id, "%s", run_of('d', 1000, ""));
    const char *single =
        "{\"resourceType\":\"Observation\",\"id\":\"%s\",\"status\":\"final\",\"code\":{"
        "\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"%s\"}]},\"subject\":{"
        "\"reference\":\"Patient/p\"}," WHEN ",\"valueQuantity\":{\"value\":%d,\"unit\":"
        "\"mm[Hg]\"}}";
    char sys_obs[2048], dia_obs[2048];
    snprintf(sys_obs, sizeof sys_obs, single, s_id, "8480-6", 120);
    snprintf(dia_obs, sizeof dia_obs, single, d_id, "8462-4", 80);
    it = decode_text(bundle2(sys_obs, dia_obs), 0);
    CHECK(it->n == 1 && it->v[0].valid);
    CHECK_STR(it->v[0].id, fmt("%s+%s", s_id, d_id));
    CHECK_NUM(it->v[0].sys, 120);
    CHECK_NUM(it->v[0].dia, 80);
}

static void over_the_limit(void)
{
    char over[BP_FHIR_ID_MAX + 2];
    snprintf(over, sizeof over, "%s", run_of('x', BP_FHIR_ID_MAX + 1, ""));
    items *it = decode_text(obs_with(fmt("\"id\":\"%s\",", over), "Patient/p"), 0);
    CHECK(it->n == 1 && !it->v[0].valid);
    CHECK_STR(it->v[0].reason, "Observation.id of 1025 bytes is over the limit of 1024");
    CHECK(strncmp(it->v[0].id, "sha256:", 7) == 0 && strlen(it->v[0].id) == 47);

    /* the id fits, with its version it does not */
    it = decode_text(obs_with(fmt("\"id\":\"%s\",\"meta\":{\"versionId\":\"12\"},",
                                  run_of('x', 1015, "")), "Patient/p"), 0);
    CHECK(it->n == 1 && !it->v[0].valid);
    CHECK_STR(it->v[0].reason, "stable id of 1027 bytes is over the limit of 1024");

    it = decode_text(obs_with("\"id\":\"o\",", fmt("Patient/%s", over)), 0);
    CHECK(it->n == 1 && !it->v[0].valid);
    CHECK_STR(it->v[0].reason, "patient id of 1025 bytes is over the limit of 1024");
    CHECK_STR(it->v[0].patient, ""); /* the dead letter carries no over-long id */
    CHECK_STR(it->v[0].id, "o");

    it = decode_text(obs_with(fmt("\"id\":\"o\",\"performer\":[{\"reference\":"
                                  "\"PractitionerRole/%s\"}],", over), "Patient/p"), 0);
    CHECK(it->n == 1 && !it->v[0].valid);
    CHECK_STR(it->v[0].reason, "practitioner id of 1025 bytes is over the limit of 1024");

    it = decode_text(obs_with(fmt("\"id\":\"o\",\"device\":{\"reference\":\"%s\"},", over),
                              "Patient/p"), 0);
    CHECK(it->n == 1 && !it->v[0].valid);
    CHECK_STR(it->v[0].reason, "device id of 1025 bytes is over the limit of 1024");

    /* a fullUrl as the stable id */
    it = decode_text(fmt("{\"resourceType\":\"Bundle\",\"entry\":[{\"fullUrl\":\"urn:uuid:%s\","
                         "\"resource\":%s}]}", over, obs_with("", "Patient/p")), 0);
    CHECK(it->n == 1 && !it->v[0].valid);
    CHECK_STR(it->v[0].reason, "stable id of 1034 bytes is over the limit of 1024");
}

static void nul_characters(void)
{
    /* an escaped NUL in the id: a dead letter, never "ab" */
    items *it = decode_text(obs_with("\"id\":\"ab\\u0000cd\",", "Patient/p"), 0);
    CHECK(it->n == 1 && !it->v[0].valid);
    CHECK_STR(it->v[0].reason, "id holds a NUL character (\\u0000)");
    CHECK(strncmp(it->v[0].id, "sha256:", 7) == 0 && strlen(it->v[0].id) == 47);
    char first[64];
    snprintf(first, sizeof first, "%s", it->v[0].id);
    /* ... named by its content: another NUL id is another dead letter */
    it = decode_text(obs_with("\"id\":\"ab\\u0000ce\",", "Patient/p"), 0);
    CHECK(it->n == 1 && !it->v[0].valid && strcmp(it->v[0].id, first) != 0);

    /* in the patient reference, two patients would otherwise both be "p" */
    it = decode_text(obs_with("\"id\":\"o\",", "Patient/p\\u0000x"), 0);
    CHECK(it->n == 1 && !it->v[0].valid);
    CHECK_STR(it->v[0].reason, "subject.reference holds a NUL character (\\u0000)");
    CHECK_STR(it->v[0].patient, "");

    /* deeper, in a code, in a member name, and in the entry's fullUrl */
    it = decode_text(fmt("{\"resourceType\":\"Observation\",\"id\":\"o\",\"status\":\"final\","
                         "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":"
                         "\"85354-9\\u0000\"}]},\"subject\":{\"reference\":\"Patient/p\"},"
                         WHEN "," COMPONENTS "}"), 0);
    CHECK(it->n == 1 && !it->v[0].valid);
    CHECK_STR(it->v[0].reason, "code.coding[0].code holds a NUL character (\\u0000)");
    it = decode_text(obs_with("\"id\":\"o\",\"no\\u0000te\":1,", "Patient/p"), 0);
    CHECK(it->n == 1 && !it->v[0].valid);
    CHECK_STR(it->v[0].reason, "no\\u0000te holds a NUL character (\\u0000)");
    it = decode_text(fmt("{\"resourceType\":\"Bundle\",\"entry\":[{\"fullUrl\":\"urn:x\\u0000\","
                         "\"resource\":%s},{\"resource\":%s}]}", obs_with("", "Patient/p"),
                         obs_with("\"id\":\"fine\",", "Patient/p")), 0);
    CHECK(it->n == 2 && !it->v[0].valid && it->v[1].valid);
    CHECK_STR(it->v[0].reason, "the Bundle entry's fullUrl holds a NUL character (\\u0000)");
    CHECK_STR(it->v[1].id, "fine"); /* the other entry is a reading as before */

    /* a path too long to quote ends in a mark */
    const char *k = "abcdefghijklmnopqrstuvwxyz0123456789ABCD"; /* 40 bytes */
    it = decode_text(obs_with(fmt("\"id\":\"o\",\"%s\":{\"%s\":{\"%s\":{\"%s\":\"\\u0000\"}}},",
                                  k, k, k, k), "Patient/p"), 0);
    CHECK(it->n == 1 && !it->v[0].valid);
    CHECK_STR(it->v[0].reason, fmt("%s.%s.%s\xe2\x80\xa6 holds a NUL character (\\u0000)", k, k,
                                   k));

    /* a raw 0 byte inside a string (not JSON, but cJSON would cut there) */
    const char *raw = obs_with("\"id\":\"abXcd\",", "Patient/p");
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", raw);
    size_t len = strlen(buf);
    *strchr(buf, 'X') = '\0';
    static items got;
    memset(&got, 0, sizeof got);
    bp_fhir_decode(buf, len, NULL, collect, &got);
    CHECK(got.n == 1 && !got.v[0].valid);
    CHECK_STR(got.v[0].reason, "id holds a NUL character (\\u0000)");

    /* an escaped backslash before u0000 is text, not a NUL: a reading with that id */
    it = decode_text(obs_with("\"id\":\"a\\\\u0000\",", "Patient/p"), 0);
    CHECK(it->n == 1 && it->v[0].valid);
    CHECK_STR(it->v[0].id, "a\\u0000");
    /* and three backslashes are an escaped one and a NUL */
    it = decode_text(obs_with("\"id\":\"a\\\\\\u0000\",", "Patient/p"), 0);
    CHECK(it->n == 1 && !it->v[0].valid);

    /* byte positions in reasons are those of the payload, as without the NUL */
    it = decode_text("{\"id\":\"\\u0000\",}", 0);
    char with_nul[256];
    snprintf(with_nul, sizeof with_nul, "%s", it->n == 1 ? it->v[0].reason : "?");
    it = decode_text("{\"id\":\"\\u0041\",}", 0);
    CHECK(it->n == 1);
    CHECK_CONTAINS(with_nul, "not JSON at byte ");
    CHECK_STR(with_nul, it->v[0].reason);
}

static void no_collisions(void)
{
    /* an id that looks like a versioned one is not that version */
    items *it = decode_text(obs_with("\"id\":\"a/_history/1\",", "Patient/p"), 0);
    CHECK(it->n == 1 && it->v[0].valid);
    CHECK_STR(it->v[0].id, "a%2F_history%2F1");
    it = decode_text(obs_with("\"id\":\"a\",\"meta\":{\"versionId\":\"1\"},", "Patient/p"), 0);
    CHECK_STR(it->v[0].id, "a/_history/1");
    /* an id with '+' is not a pair, one with ':' not a content hash, '%' itself is encoded */
    it = decode_text(obs_with("\"id\":\"x+y\",", "Patient/p"), 0);
    CHECK_STR(it->v[0].id, "x%2By");
    it = decode_text(obs_with("\"id\":\"sha256:00\",", "Patient/p"), 0);
    CHECK_STR(it->v[0].id, "sha256%3A00");
    it = decode_text(obs_with("\"id\":\"x%2By\",", "Patient/p"), 0);
    CHECK_STR(it->v[0].id, "x%252By");
    /* valid FHIR ids are never changed */
    it = decode_text(obs_with("\"id\":\"Ab-9.z\",", "Patient/p"), 0);
    CHECK_STR(it->v[0].id, "Ab-9.z");

    /* "Patient/a/b" and "Patient/a/c" are two references, kept whole, not both "a" */
    it = decode_text(bundle2(obs_with("\"id\":\"o1\",", "Patient/a/b"),
                             obs_with("\"id\":\"o2\",", "Patient/a/c")), 0);
    CHECK(it->n == 2);
    CHECK_STR(it->v[0].patient, "Patient/a/b");
    CHECK_STR(it->v[1].patient, "Patient/a/c");
    it = decode_text(obs_with("\"id\":\"o\",", "Patient/a/_history/2"), 0);
    CHECK_STR(it->v[0].patient, "a");
}

static void reasons_mark_what_they_shorten(void)
{
    /* a long status is quoted shortened, with a mark, and cut between UTF-8 characters: 39
     * bytes (19 é and x) fit the 40 quoted, the next é would not */
#define E19 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9" \
            "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    const char *status = E19 "x\xc3\xa9\xc3\xa9\xc3\xa9";
    items *it = decode_text(fmt("{\"resourceType\":\"Observation\",\"id\":\"o\",\"status\":\"%s\","
                                PANEL ",\"subject\":{\"reference\":\"Patient/p\"}," WHEN ","
                                COMPONENTS "}", status), 0);
    CHECK(it->n == 1 && !it->v[0].valid);
    CHECK_STR(it->v[0].reason, "status " E19 "x\xe2\x80\xa6 is not a reading");
    it = decode_text(fmt("{\"resourceType\":\"Observation\",\"id\":\"o\",\"status\":\"short\","
                         PANEL ",\"subject\":{\"reference\":\"Patient/p\"}," WHEN ","
                         COMPONENTS "}"), 0);
    CHECK_STR(it->v[0].reason, "status short is not a reading");

    /* values in a reason are exact */
    it = decode_text(fmt("{\"resourceType\":\"Observation\",\"id\":\"o\",\"status\":\"final\","
                         PANEL ",\"subject\":{\"reference\":\"Patient/p\"}," WHEN ",\"component\":["
                         "{\"code\":{\"coding\":[{\"code\":\"8480-6\"}]},\"valueQuantity\":{"
                         "\"value\":120.0000001,\"unit\":\"mmHg\"}},{\"code\":{\"coding\":[{"
                         "\"code\":\"8480-6\"}]},\"valueQuantity\":{\"value\":120.0000002,"
                         "\"unit\":\"mmHg\"}}]}"), 0);
    CHECK(it->n == 1 && !it->v[0].valid);
    CHECK_STR(it->v[0].reason, "conflicting systolic values 120.0000001 and 120.0000002");
}

int main(void)
{
    long_ids_stay_whole();
    over_the_limit();
    nul_characters();
    no_collisions();
    reasons_mark_what_they_shorten();
    return CHECK_DONE();
}
