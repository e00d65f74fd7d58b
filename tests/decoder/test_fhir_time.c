/* FHIR date/dateTime/instant parsing, including the edges of the calendar. */
#include "check.h"
#include "fhir/fhir_time.h"

int main(void)
{
    int64_t ms;
    CHECK(bp_fhir_parse_time("1970-01-01T00:00:00Z", &ms) == 0 && ms == 0);
    CHECK(bp_fhir_parse_time("1970", &ms) == 0 && ms == 0);
    CHECK(bp_fhir_parse_time("1970-02", &ms) == 0 && ms == 31LL * 86400000);
    CHECK(bp_fhir_parse_time("2000-02-29", &ms) == 0 && ms == 951782400000LL);
    CHECK(bp_fhir_parse_time("1969-12-31T23:59:59.999Z", &ms) == 0 && ms == -1);
    CHECK(bp_fhir_parse_time("2026-11-22T18:30:00.123456789+05:30", &ms) == 0 &&
          ms == 1795352400123LL);
    CHECK(bp_fhir_parse_time("2016-12-31T23:59:60Z", &ms) == 0); /* leap second accepted */
    CHECK(bp_fhir_parse_time("2026-11-22T18:30Z", &ms) == 0 && ms == 1795372200000LL);
    const char *bad[] = {"", "20", "2026-13-01", "2026-02-29", "1900-02-29", "2026-01-01T24:00:00Z",
                         "2026-01-01T10:00:00", "2026-01-01T10:00:00+1", "2026-01-01T10:00:00.Z",
                         "2026-01-01 10:00:00Z", "2026-01-01T10:00:00Zjunk", "abcd"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fprintf(stderr, "bad time: '%s'\n", bad[i]);
        CHECK(bp_fhir_parse_time(bad[i], &ms) == -1);
    }
    return CHECK_DONE();
}
