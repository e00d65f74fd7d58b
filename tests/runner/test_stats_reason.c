/* Invalid reasons are grouped in the summary by kind: numbers that are values (byte offsets,
 * sizes, readings) are folded to N, digits inside words are kept ("UTF-8" is not "UTF-N"). */
#include "check.h"
#include "pipeline/stats.h"

#include <stdlib.h>

static const char *kind_of(const char *reason)
{
    static bp_stats st;
    memset(&st, 0, sizeof st);
    bp_stats_count_reason(&st, reason);
    return st.n_reasons == 1 ? st.reasons[0].kind : NULL;
}

int main(void)
{
    CHECK_STR(kind_of("not JSON at byte 12"), "not JSON at byte N");
    CHECK_STR(kind_of("not valid UTF-8 at byte 17"), "not valid UTF-8 at byte N");
    CHECK_STR(kind_of("payload of 2000000 bytes is over max_payload_bytes (1048576)"),
              "payload of N bytes is over max_payload_bytes (N)");
    CHECK_STR(kind_of("implausible_value: systolic 350 outside 40-300"),
              "implausible_value: systolic N outside N-N");
    CHECK_STR(kind_of("systolic 120.5 and 130 conflict"), "systolic N and N conflict");
    CHECK_STR(kind_of("SHA-256 of v1.2 in h2 at -5"), "SHA-256 of v1.2 in h2 at -N");
    CHECK_STR(kind_of("ISO-8859-1 text"), "ISO-8859-1 text");
    CHECK_STR(kind_of("12 at the start"), "N at the start");

    /* Reasons that differ only in their values are one kind; the set of kinds stays bounded. */
    bp_stats st;
    memset(&st, 0, sizeof st);
    char why[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(why, sizeof why, "not valid UTF-8 at byte %d", i);
        bp_stats_count_reason(&st, why);
    }
    CHECK(st.n_reasons == 1 && st.reasons[0].count == 1000);
    for (int i = 0; i < 100; i++) {
        snprintf(why, sizeof why, "reason kind%c%c", 'a' + i % 26, 'a' + i / 26);
        bp_stats_count_reason(&st, why);
    }
    CHECK(st.n_reasons == BP_MAX_REASON_KINDS && st.reasons_other == 100 - (BP_MAX_REASON_KINDS - 1));
    return CHECK_DONE();
}
