/* Issue 26 in the FHIR decoder (docs/fhir.md "Status" and "Versions"): every reading and
 * retraction says what it is a version of (logical id), which version (meta.versionId, else
 * meta.lastUpdated) and what it does to earlier versions (amended, corrected: replace;
 * entered-in-error: a retraction item without values). Each case is decoded twice, once through
 * the fast JSON path and once, with an escape in it, through cJSON, and both must agree. */
#include "check.h"
#include "decode_helpers.h"

#include <math.h>
#include <stdbool.h>

#define LOINC(c) "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"" c "\"}]}"
#define Q(v) "\"valueQuantity\":{\"value\":" v ",\"unit\":\"mmHg\"}"
#define COMPONENTS                                                                                 \
    "\"component\":[{" LOINC("8480-6") "," Q("120") "},{" LOINC("8462-4") "," Q("80") "}]"
#define SUBJ "\"subject\":{\"reference\":\"Patient/p1\"}"
#define WHEN "\"effectiveDateTime\":\"2026-01-02T03:04:05Z\""
#define WHEN_MS INT64_C(1767323045000)
/* A panel Observation: `head` is its id, status and meta; `tail` anything after the values. */
#define PANEL_OBS(head, tail)                                                                      \
    "{\"resourceType\":\"Observation\"," head "," LOINC("85354-9") "," SUBJ "," WHEN               \
                                                                   "," COMPONENTS tail "}"

static items first, second;

/* The variant with an escape ("Observ\u0061tion" is "Observation"), which the fast path
 * declines: cJSON parses it. */
static char *escaped(const char *json)
{
    const char *at = strstr(json, "\"Observation\"");
    size_t n = strlen(json);
    char *out = malloc(n + 8);
    if (!at) {
        memcpy(out, json, n + 1);
        return out;
    }
    size_t pre = (size_t)(at - json) + strlen("\"Observ");
    memcpy(out, json, pre);
    memcpy(out + pre, "\\u0061", 6);
    memcpy(out + pre + 6, at + strlen("\"Observa"), n - pre - 1 + 1);
    return out;
}

static bool same_num(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

/* Whether an id ends in the 40 hex digits of a content hash. */
static bool ends_in_hash(const char *id)
{
    size_t n = strlen(id);
    return n >= 40 && strspn(id + n - 40, "0123456789abcdef") == 40;
}

/* Decodes `json` by both paths; they must give the same items (a content hash is over the
 * bytes, which differ, so only its form is compared). Returns the fast path's. */
static items *decode(const char *json)
{
    memcpy(&first, decode_text(json, 0), sizeof first);
    char *other = escaped(json);
    CHECK(strcmp(other, json) != 0);
    memcpy(&second, decode_text(other, 0), sizeof second);
    free(other);
    CHECK(first.n == second.n && first.n_skipped == second.n_skipped);
    for (int i = 0; i < first.n && i < second.n; i++) {
        const item *a = &first.v[i], *b = &second.v[i];
        bool hashed = ends_in_hash(a->id) && ends_in_hash(b->id);
        CHECK(a->valid == b->valid);
        CHECK_STR(a->reason, b->reason);
        if (hashed) /* "sha256:<hex>", "<id>/_amended/<hex>": the same up to the hash */
            CHECK(strlen(a->id) == strlen(b->id) && strncmp(a->id, b->id, strlen(a->id) - 40) == 0);
        else
            CHECK_STR(a->id, b->id);
        CHECK_STR(a->logical, b->logical);
        CHECK(a->version == b->version && a->revision == b->revision);
        CHECK_STR(a->patient, b->patient);
        CHECK(a->ms == b->ms && same_num(a->sys, b->sys) && same_num(a->dia, b->dia));
    }
    return &first;
}

/* One reading (valid, nothing skipped) with these revision fields. */
static void reading(const char *what, const char *json, const char *logical, int64_t version,
                    bp_revision revision)
{
    fprintf(stderr, "-- %s\n", what);
    items *it = decode(json);
    CHECK(it->n == 1 && it->n_skipped == 0);
    CHECK(it->v[0].valid);
    CHECK_STR(it->v[0].reason, "");
    CHECK_STR(it->v[0].logical, logical);
    CHECK(it->v[0].version == version);
    CHECK(it->v[0].revision == revision);
    CHECK(it->v[0].sys == 120 && it->v[0].dia == 80);
}

static void versions(void)
{
    reading("versionId is the version",
            PANEL_OBS("\"id\":\"o1\",\"status\":\"final\",\"meta\":{\"versionId\":\"3\","
                      "\"lastUpdated\":\"2026-01-02T03:04:05Z\"}",
                      ""),
            "o1", 3, BP_REVISION_NONE);
    CHECK_STR(first.v[0].id, "o1/_history/3"); /* the stable id as before */
    reading("versionId 0 is no version: lastUpdated in ms",
            PANEL_OBS("\"id\":\"o1\",\"status\":\"final\",\"meta\":{\"versionId\":\"0\","
                      "\"lastUpdated\":\"2026-01-02T03:04:05.250Z\"}",
                      ""),
            "o1", WHEN_MS + 250, BP_REVISION_NONE);
    reading("lastUpdated with an offset",
            PANEL_OBS("\"id\":\"o1\",\"status\":\"final\",\"meta\":{"
                      "\"lastUpdated\":\"2026-01-02T05:04:05+02:00\"}",
                      ""),
            "o1", WHEN_MS, BP_REVISION_NONE);
    reading("a versionId that is not a number, no lastUpdated",
            PANEL_OBS("\"id\":\"o1\",\"status\":\"final\",\"meta\":{\"versionId\":\"W/3\"}", ""),
            "o1", BP_VERSION_NONE, BP_REVISION_NONE);
    const char *not_whole[] = {"-2", "+2", " 2", "2 ", "2.0", "1e3", ""};
    for (size_t i = 0; i < sizeof not_whole / sizeof not_whole[0]; i++) {
        char json[2048];
        snprintf(
            json, sizeof json,
            PANEL_OBS("\"id\":\"o1\",\"status\":\"final\",\"meta\":{\"versionId\":\"%s\"}", ""),
            not_whole[i]);
        reading(not_whole[i], json, "o1", BP_VERSION_NONE, BP_REVISION_NONE);
    }
    reading("the largest versionId that fits",
            PANEL_OBS("\"id\":\"o1\",\"status\":\"final\",\"meta\":{\"versionId\":"
                      "\"9223372036854775807\"}",
                      ""),
            "o1", INT64_MAX, BP_REVISION_NONE);
    /* one more does not fit: not a version (never wrapped); lastUpdated is then the version */
    reading("a versionId that does not fit",
            PANEL_OBS("\"id\":\"o1\",\"status\":\"final\",\"meta\":{\"versionId\":"
                      "\"9223372036854775808\",\"lastUpdated\":\"2026-01-02T03:04:05Z\"}",
                      ""),
            "o1", WHEN_MS, BP_REVISION_NONE);
    /* 2^64 + 1 wraps to 1 in unsigned 64-bit arithmetic */
    reading("a versionId that would wrap to 1",
            PANEL_OBS("\"id\":\"o1\",\"status\":\"final\",\"meta\":{\"versionId\":"
                      "\"18446744073709551617\"}",
                      ""),
            "o1", BP_VERSION_NONE, BP_REVISION_NONE);
    reading("lastUpdated without a zone is no version",
            PANEL_OBS("\"id\":\"o1\",\"status\":\"final\",\"meta\":{"
                      "\"lastUpdated\":\"2026-01-02T03:04:05\"}",
                      ""),
            "o1", BP_VERSION_NONE, BP_REVISION_NONE);
    reading("lastUpdated at the epoch is no version",
            PANEL_OBS("\"id\":\"o1\",\"status\":\"final\",\"meta\":{"
                      "\"lastUpdated\":\"1970-01-01T00:00:00Z\"}",
                      ""),
            "o1", BP_VERSION_NONE, BP_REVISION_NONE);
    reading("a versionId that is a JSON number is not FHIR's string",
            PANEL_OBS("\"id\":\"o1\",\"status\":\"final\",\"meta\":{\"versionId\":5}", ""), "o1",
            BP_VERSION_NONE, BP_REVISION_NONE);
}

static void statuses(void)
{
    reading("amended replaces", PANEL_OBS("\"id\":\"o1\",\"status\":\"amended\"", ""), "o1",
            BP_VERSION_NONE, BP_REVISION_REPLACE);
    reading("corrected replaces",
            PANEL_OBS("\"id\":\"o1\",\"status\":\"corrected\",\"meta\":{\"versionId\":\"2\"}", ""),
            "o1", 2, BP_REVISION_REPLACE);
    reading("final", PANEL_OBS("\"id\":\"o1\",\"status\":\"final\"", ""), "o1", BP_VERSION_NONE,
            BP_REVISION_NONE);
    reading("preliminary", PANEL_OBS("\"id\":\"o1\",\"status\":\"preliminary\"", ""), "o1",
            BP_VERSION_NONE, BP_REVISION_NONE);
    /* the other statuses stay dead letters, with nothing to replace */
    const char *others[] = {"cancelled", "registered", "unknown"};
    for (size_t i = 0; i < 3; i++) {
        char json[2048], reason[64];
        snprintf(json, sizeof json, PANEL_OBS("\"id\":\"o1\",\"status\":\"%s\"", ""), others[i]);
        snprintf(reason, sizeof reason, "status %s is not a reading", others[i]);
        items *it = decode(json);
        CHECK(it->n == 1 && !it->v[0].valid);
        CHECK_STR(it->v[0].reason, reason);
        CHECK_STR(it->v[0].logical, "");
        CHECK(it->v[0].version == BP_VERSION_NONE && it->v[0].revision == BP_REVISION_NONE);
    }
    /* a dead letter with an id is no version of it either */
    items *it =
        decode("{\"resourceType\":\"Observation\",\"id\":\"o1\",\"status\":\"amended\","
               "\"meta\":{\"versionId\":\"2\"}," LOINC("85354-9") "," WHEN "," COMPONENTS "}");
    CHECK(it->n == 1 && !it->v[0].valid);
    CHECK_STR(it->v[0].reason, "no subject (subject.reference or subject.identifier)");
    CHECK_STR(it->v[0].logical, "");
    CHECK(it->v[0].version == BP_VERSION_NONE && it->v[0].revision == BP_REVISION_NONE);
}

static void logical_ids(void)
{
    reading("fullUrl when there is no id",
            "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":[{\"fullUrl\":"
            "\"urn:uuid:0f1e\",\"resource\":" PANEL_OBS("\"status\":\"final\"", "") "}]}",
            "urn:uuid:0f1e", BP_VERSION_NONE, BP_REVISION_NONE);
    reading(
        "the id before the fullUrl",
        "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":[{\"fullUrl\":"
        "\"urn:uuid:0f1e\",\"resource\":" PANEL_OBS("\"id\":\"o7\",\"status\":\"final\"", "") "}]}",
        "o7", BP_VERSION_NONE, BP_REVISION_NONE);
    /* encoded as in the stable id, so no logical id passes for a pair's */
    reading("an id holding a separator", PANEL_OBS("\"id\":\"x+y\",\"status\":\"final\"", ""),
            "x%2By", BP_VERSION_NONE, BP_REVISION_NONE);
    reading("a fullUrl holding a '+'",
            "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":[{\"fullUrl\":"
            "\"http://h/fhir/Observation/a+b\",\"resource\":" PANEL_OBS("\"status\":\"final\"",
                                                                        "") "}]}",
            "http://h/fhir/Observation/a%2Bb", BP_VERSION_NONE, BP_REVISION_NONE);
    /* a content hash names bytes, not a resource: no logical id (the version is still read) */
    reading("neither id nor fullUrl",
            PANEL_OBS("\"status\":\"corrected\",\"meta\":{\"versionId\":\"2\"}", ""), "", 2,
            BP_REVISION_REPLACE);
    CHECK(strncmp(first.v[0].id, "sha256:", 7) == 0);
}

/* One retraction item: no reason, no skip, no values, revision RETRACT. */
static const item *retraction(const char *what, const char *json, const char *logical,
                              const char *stable_id, int64_t version, const char *patient,
                              int64_t ms)
{
    fprintf(stderr, "-- %s\n", what);
    items *it = decode(json);
    CHECK(it->n == 1 && it->n_skipped == 0);
    const item *x = &it->v[0];
    CHECK(x->valid);
    CHECK_STR(x->reason, "");
    CHECK(x->revision == BP_REVISION_RETRACT);
    CHECK_STR(x->logical, logical);
    CHECK_STR(x->id, stable_id);
    CHECK(x->version == version);
    CHECK_STR(x->patient, patient);
    CHECK_STR(x->status, "entered-in-error");
    CHECK(x->ms == ms);
    CHECK(isnan(x->sys) && isnan(x->dia) && isnan(x->hr));
    CHECK(x->flags == 0);
    return x;
}

#define HR_OBS(head)                                                                               \
    "{\"resourceType\":\"Observation\"," head                                                      \
    "," LOINC("8867-4") "," SUBJ "," WHEN ",\"valueQuantity\":{\"value\":70,\"unit\":\"/min\"}}"

static void retractions(void)
{
    /* the values an entered-in-error Observation carries are the wrong ones: none are kept.
     * Its stable id is not the one of the reading it takes back. */
    retraction("entered-in-error with values",
               PANEL_OBS("\"id\":\"e1\",\"status\":\"entered-in-error\"", ""), "e1",
               "e1/_entered-in-error", BP_VERSION_NONE, "p1", WHEN_MS);
    retraction("entered-in-error with a version",
               PANEL_OBS("\"id\":\"e1\",\"status\":\"entered-in-error\",\"meta\":{\"versionId\":"
                         "\"4\",\"lastUpdated\":\"2026-01-02T03:04:05Z\"}",
                         ""),
               "e1", "e1/_history/4", 4, "p1", WHEN_MS);
    /* values, subject and time need not be there: only the logical id is */
    retraction(
        "entered-in-error with nothing but its id and code",
        "{\"resourceType\":\"Observation\",\"id\":\"e2\",\"status\":\"entered-in-error\"," LOINC(
            "85354-9") "}",
        "e2", "e2/_entered-in-error", BP_VERSION_NONE, "", INT64_MIN);
    retraction(
        "entered-in-error with broken values and time",
        "{\"resourceType\":\"Observation\",\"id\":\"e3\",\"status\":\"entered-in-error\"," LOINC(
            "85354-9") "," SUBJ
                       ",\"effectiveDateTime\":\"yesterday\",\"component\":[{" LOINC(
                           "8480-6") ",\"valueQuantity\":{\"value\":\"120\",\"unit\":\"cm\"}}]}",
        "e3", "e3/_entered-in-error", BP_VERSION_NONE, "p1", INT64_MIN);
    retraction(
        "a single-value entered-in-error",
        "{\"resourceType\":\"Observation\",\"id\":\"e4\",\"status\":\"entered-in-error\"," LOINC(
            "8480-6") "," SUBJ "," WHEN "," Q("120") "}",
        "e4", "e4/_entered-in-error", BP_VERSION_NONE, "p1", WHEN_MS);
    retraction(
        "entered-in-error named by its fullUrl",
        "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":[{\"fullUrl\":"
        "\"urn:uuid:0f1e\",\"resource\":" PANEL_OBS("\"status\":\"entered-in-error\"", "") "}]}",
        "urn:uuid:0f1e", "urn:uuid:0f1e/_entered-in-error", BP_VERSION_NONE, "p1", WHEN_MS);
    /* without a name there is nothing to retract: a dead letter saying what is missing */
    items *it = decode(PANEL_OBS("\"status\":\"entered-in-error\"", ""));
    CHECK(it->n == 1 && !it->v[0].valid && it->n_skipped == 0);
    CHECK_STR(it->v[0].reason,
              "entered-in-error Observation without an id or fullUrl: nothing to retract");
    CHECK_STR(it->v[0].logical, "");
    CHECK(it->v[0].revision == BP_REVISION_NONE);
    CHECK(isnan(it->v[0].sys));
    /* ... and a meta.versionId does not make that dead letter a version of anything (the
     * fuzzer's find: a dead letter claimed version 3) */
    it = decode(PANEL_OBS("\"status\":\"entered-in-error\",\"meta\":{\"versionId\":\"3\"}", ""));
    CHECK(it->n == 1 && !it->v[0].valid && it->n_skipped == 0);
    CHECK(it->v[0].version == BP_VERSION_NONE && it->v[0].revision == BP_REVISION_NONE);
    CHECK_STR(it->v[0].logical, "");
    /* an entered-in-error heart rate is not ours, as before */
    it = decode(HR_OBS("\"id\":\"h1\",\"status\":\"entered-in-error\""));
    CHECK(it->n == 0 && it->n_skipped == 1);
    CHECK_STR(it->s[0].reason, BP_SKIP_NOT_BP);
    /* an over-long id is still a dead letter: ids are never cut */
    char *json = malloc(4096);
    char *id = malloc(1100);
    memset(id, 'a', 1099);
    id[1099] = '\0';
    snprintf(json, 4096, PANEL_OBS("\"id\":\"%s\",\"status\":\"entered-in-error\"", ""), id);
    it = decode(json);
    CHECK(it->n == 1 && !it->v[0].valid);
    CHECK_STR(it->v[0].reason, "Observation.id of 1099 bytes is over the limit of 1024");
    CHECK(it->v[0].revision == BP_REVISION_NONE);
    free(json);
    free(id);
}

#define HALF(id, code, status, version, value, when)                                               \
    "{\"resource\":{\"resourceType\":\"Observation\",\"id\":\"" id "\",\"status\":\"" status       \
    "\",\"meta\":{\"versionId\":\"" version                                                        \
    "\"}," LOINC(code) "," SUBJ ",\"effectiveDateTime\":\"" when "\"," Q(value) "}}"
#define BUNDLE(a, b) "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":[" a "," b "]}"
#define T1 "2026-01-02T03:04:05Z"
#define T2 "2026-01-02T03:09:05Z"

static void pairs(void)
{
    /* a corrected systolic half makes the pair a correction; its version is the later one */
    reading("a pair",
            BUNDLE(HALF("s1", "8480-6", "corrected", "2", "120", T1),
                   HALF("d1", "8462-4", "final", "1", "80", T1)),
            "s1+d1", 2, BP_REVISION_REPLACE);
    CHECK_STR(first.v[0].id, "s1/_history/2+d1/_history/1");
    /* a half without a name: the pair cannot be named again */
    reading("a pair with a nameless half",
            "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":[" HALF(
                "s1", "8480-6", "final", "1", "120",
                T1) ",{\"resource\":{\"resourceType\":"
                    "\"Observation\",\"status\":\"final\"," LOINC("8462-4") "," SUBJ "," WHEN
                                                                            "," Q("80") "}}]}",
            "", BP_VERSION_NONE, BP_REVISION_NONE);
    /* two entered-in-error halves: each half, and the pair they may have made, are retracted */
    items *it = decode(BUNDLE(HALF("s1", "8480-6", "entered-in-error", "3", "120", T1),
                              HALF("d1", "8462-4", "entered-in-error", "2", "80", T1)));
    CHECK(it->n == 3 && it->n_skipped == 0);
    const char *logical[] = {"s1", "d1", "s1+d1"};
    const char *stable[] = {"s1/_history/3", "d1/_history/2", "s1/_history/3+d1/_history/2"};
    int64_t version[] = {3, 2, 3};
    for (int i = 0; i < 3 && i < it->n; i++) {
        CHECK(it->v[i].valid && it->v[i].revision == BP_REVISION_RETRACT);
        CHECK_STR(it->v[i].logical, logical[i]);
        CHECK_STR(it->v[i].id, stable[i]);
        CHECK(it->v[i].version == version[i]);
        CHECK(isnan(it->v[i].sys) && isnan(it->v[i].dia));
        CHECK_STR(it->v[i].patient, "p1");
    }
    /* at different times they were never one reading */
    it = decode(BUNDLE(HALF("s1", "8480-6", "entered-in-error", "3", "120", T1),
                       HALF("d1", "8462-4", "entered-in-error", "2", "80", T2)));
    CHECK(it->n == 2);
    CHECK_STR(it->v[0].logical, "s1");
    CHECK_STR(it->v[1].logical, "d1");
    /* a retraction never pairs with a reading */
    it = decode(BUNDLE(HALF("s1", "8480-6", "entered-in-error", "3", "120", T1),
                       HALF("d1", "8462-4", "final", "2", "80", T1)));
    CHECK(it->n == 2);
    CHECK(it->v[0].revision == BP_REVISION_RETRACT && it->v[1].revision == BP_REVISION_NONE);
    CHECK_STR(it->v[1].logical, "d1");
    CHECK(it->v[1].dia == 80 && isnan(it->v[1].sys));
}

int main(void)
{
    versions();
    statuses();
    logical_ids();
    retractions();
    pairs();
    return CHECK_DONE();
}
