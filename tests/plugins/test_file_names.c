/* sink-file's names: safe, deterministic, and in the original archive's shape. */
#include "check.h"
#include "file_names.h"

#include <stdint.h>
#include <stdio.h>
#include <time.h>

int main(void)
{
    char out[256];
    CHECK(bp_record_file_name("PAT-001", "PRAC-01", 1767323045000LL, "abc-123", out, sizeof out) ==
          0);
    CHECK_STR(out, "PAT-001_PRAC-01_20260102_030405_abc-123.json");
    /* A part a name cannot carry as it is keeps a readable prefix and gains a hash of its exact
     * bytes, so ids that differ only where they were made safe never share a file. */
    CHECK(bp_record_file_name("urn:uuid:7b4c", NULL, 0, "x/_history/2", out, sizeof out) == 0);
    CHECK(strncmp(out, "urn_uuid_7b4c~", 14) == 0 &&
          strstr(out, "_none_19700101_000000_x__history_2~"));
    char a1[BP_NAME_PART_MAX + 1], a2[BP_NAME_PART_MAX + 1];
    bp_name_part("x/_history/2", "noid", a1, sizeof a1);
    bp_name_part("x:_history:2", "noid", a2, sizeof a2);
    CHECK(strcmp(a1, a2) != 0 && strlen(a1) == 12 + 1 + BP_NAME_HASH_HEX);
    bp_name_part("x__history_2", "noid", a2, sizeof a2);
    CHECK(strcmp(a1, a2) != 0);
    /* traversal and hidden names are impossible */
    CHECK(bp_record_file_name("../../etc", "..", 0, ".x", out, sizeof out) == 0);
    CHECK(strstr(out, "/") == NULL && out[0] != '.');
    CHECK(strncmp(out, "_._.._etc~", 10) == 0 && strstr(out, "_19700101_000000__x~"));
    /* Ids of 64 characters (legal FHIR) are kept whole; the name still fits NAME_MAX. */
    char id64[65], pat64[65], prac64[65], obs_v[200];
    memset(id64, 'i', 64), id64[64] = '\0';
    memset(pat64, 'p', 64), pat64[64] = '\0';
    memset(prac64, 'r', 64), prac64[64] = '\0';
    snprintf(obs_v, sizeof obs_v, "%s/_history/%s", id64, id64); /* id + 64-char versionId */
    char big[BP_RECORD_NAME_MAX + 1];
    CHECK(bp_record_file_name(pat64, prac64, 1767323045000LL, obs_v, big, sizeof big) == 0);
    CHECK(strlen(big) <= BP_RECORD_NAME_MAX && strlen(big) + 5 < 255);
    CHECK(strncmp(big, pat64, 64) == 0 && big[64] == '_');
    /* Long ids that share a prefix longer than what is kept still get names of their own, and
     * the same id always the same name. */
    char l1[600], l2[600], n1[BP_RECORD_NAME_MAX + 1], n2[BP_RECORD_NAME_MAX + 1];
    memset(l1, 'a', 599), l1[599] = '\0';
    memcpy(l2, l1, sizeof l1);
    l2[598] = 'b';
    CHECK(bp_record_file_name(l1, l1, 0, l1, n1, sizeof n1) == 0);
    CHECK(bp_record_file_name(l1, l1, 0, l2, n2, sizeof n2) == 0);
    CHECK(strcmp(n1, n2) != 0 && strlen(n1) <= BP_RECORD_NAME_MAX);
    CHECK(bp_record_file_name(l1, l1, 0, l2, n1, sizeof n1) == 0);
    CHECK_STR(n1, n2);
    bp_name_part(id64, "x", a1, sizeof a1);
    CHECK_STR(a1, id64);
    char id65[66];
    memset(id65, 'i', 65), id65[65] = '\0';
    bp_name_part(id65, "x", a1, sizeof a1);
    CHECK(strlen(a1) == BP_NAME_PREFIX + 1 + BP_NAME_HASH_HEX && a1[BP_NAME_PREFIX] == '~');
    bp_safe_name("", "fallback", 64, out, sizeof out);
    CHECK_STR(out, "fallback");
    char longname[400];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    bp_safe_name(longname, "x", 64, out, sizeof out);
    CHECK(strlen(out) == 64);
    /* hourly files */
    CHECK(bp_hour_file_name(1767323045000LL, out, sizeof out) == 0);
    CHECK_STR(out, "bp-20260102T03.ndjson");
    CHECK(bp_hour_file_name(-1, out, sizeof out) == 0);
    CHECK_STR(out, "bp-19691231T23.ndjson");
    /* The name is kept per hour between calls: readings in a row, forwards and backwards over
     * hour, day and epoch boundaries (ms 0 and -1 are different hours), each against gmtime's. */
    int hour_mismatches = 0;
    int64_t at = -7200000LL - 1;
    for (int k = 0; k < 400; k++) {
        at += k % 7 == 3 ? -2500000LL : 611111LL; /* mostly on, now and then back an hour */
        int64_t secs = at >= 0 ? at / 1000 : (at - 999) / 1000;
        time_t t = (time_t)secs;
        struct tm tm;
        char want[64];
        gmtime_r(&t, &tm);
        strftime(want, sizeof want, "bp-%Y%m%dT%H.ndjson", &tm);
        if (bp_hour_file_name(at, out, sizeof out) != 0 || strcmp(out, want) != 0)
            hour_mismatches++;
    }
    CHECK(hour_mismatches == 0);
    CHECK(bp_hour_file_name(0, out, sizeof out) == 0);
    CHECK_STR(out, "bp-19700101T00.ndjson");
    CHECK(bp_hour_file_name(-1, out, sizeof out) == 0);
    CHECK_STR(out, "bp-19691231T23.ndjson");
    char small[8]; /* a name that does not fit is refused, also when the hour is the kept one */
    CHECK(bp_hour_file_name(-1, small, sizeof small) == -1);
    /* dead letters: same payload and position, same name; different, different */
    char a[64], b[64], c[64], d[64], e[64];
    bp_invalid_file_name("{bad", 4, 1, -1, a, sizeof a);
    bp_invalid_file_name("{bad", 4, 1, -1, b, sizeof b);
    bp_invalid_file_name("{bad", 4, 2, -1, c, sizeof c);
    CHECK_STR(a, b);
    CHECK(strcmp(a, c) != 0);
    CHECK(strncmp(a, "invalid_", 8) == 0 && strlen(a) == 8 + 16 + 5);
    /* a whole payload keeps the name earlier versions gave it (a replay overwrites it) */
    CHECK_STR(a, "invalid_b547718e342a172a.json");
    /* two bad resources of one payload (one Bundle, one offset): two names, each the same on
     * a replay (the golden run's not-json.json lost one of its two dead letters) */
    bp_invalid_file_name("{bad", 4, 1, 0, c, sizeof c);
    bp_invalid_file_name("{bad", 4, 1, 1, d, sizeof d);
    bp_invalid_file_name("{bad", 4, 1, 1, e, sizeof e);
    CHECK(strcmp(c, d) != 0 && strcmp(a, c) != 0 && strcmp(a, d) != 0);
    CHECK_STR(d, e);
    /* the index comes from the document: pretty or compact, absent, or faked in the payload */
    const char pretty[] =
        "{\n  \"source\": {\n    \"offset\": 0,\n    \"resource_index\": 12\n  }}";
    const char compact[] = "{\"source\":{\"offset\":0,\"resource_index\":3},\"payload\":\"x\"}";
    const char none[] = "{\"source\":{\"offset\":0},\"payload\":\"\\\"resource_index\\\": 7\"}";
    CHECK(bp_doc_resource_index(pretty, strlen(pretty)) == 12);
    CHECK(bp_doc_resource_index(compact, strlen(compact)) == 3);
    CHECK(bp_doc_resource_index(none, strlen(none)) == -1);
    CHECK(bp_doc_resource_index("", 0) == -1);
    return CHECK_DONE();
}
