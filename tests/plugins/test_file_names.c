/* sink-file's names: safe, deterministic, and in the original archive's shape. */
#include "check.h"
#include "file_names.h"

int main(void)
{
    char out[256];
    CHECK(bp_record_file_name("PAT-001", "PRAC-01", 1767323045000LL, "abc-123", out, sizeof out) == 0);
    CHECK_STR(out, "PAT-001_PRAC-01_20260102_030405_abc-123.json");
    CHECK(bp_record_file_name("urn:uuid:7b4c", NULL, 0, "x/_history/2", out, sizeof out) == 0);
    CHECK_STR(out, "urn_uuid_7b4c_none_19700101_000000_x__history_2.json");
    /* traversal and hidden names are impossible */
    CHECK(bp_record_file_name("../../etc", "..", 0, ".x", out, sizeof out) == 0);
    CHECK(strstr(out, "/") == NULL && out[0] != '.');
    CHECK_STR(out, "_._.._etc__._19700101_000000__x.json");
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
    /* dead letters: same payload and position, same name; different, different */
    char a[64], b[64], c[64];
    bp_invalid_file_name("{bad", 4, 1, a, sizeof a);
    bp_invalid_file_name("{bad", 4, 1, b, sizeof b);
    bp_invalid_file_name("{bad", 4, 2, c, sizeof c);
    CHECK_STR(a, b);
    CHECK(strcmp(a, c) != 0);
    CHECK(strncmp(a, "invalid_", 8) == 0 && strlen(a) == 8 + 16 + 5);
    return CHECK_DONE();
}
