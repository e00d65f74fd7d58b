/* Valid FHIR that is not blood pressure is skipped (counted by reason, routable), never a dead
 * letter; what is broken stays a dead letter. */
#include "check.h"
#include "decode_helpers.h"

#include <math.h>

#define LOINC(c) "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"" c "\"}]}"
#define SUBJ "\"subject\":{\"reference\":\"Patient/p1\"}"
#define WHEN "\"effectiveDateTime\":\"2026-01-02T03:04:05Z\""
#define MMHG "\"unit\":\"mmHg\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"mm[Hg]\""
#define COMP(c, v) "{" LOINC(c) ",\"valueQuantity\":{\"value\":" v "," MMHG "}}"
#define BP_OBS(id)                                                                               \
    "{\"resourceType\":\"Observation\",\"id\":\"" id "\",\"status\":\"final\"," LOINC("85354-9") \
    "," SUBJ "," WHEN ",\"component\":[" COMP("8480-6", "120") "," COMP("8462-4", "80") "]}"
#define HR_OBS(id)                                                                              \
    "{\"resourceType\":\"Observation\",\"id\":\"" id "\",\"status\":\"final\"," LOINC("8867-4") \
    "," SUBJ "," WHEN ",\"valueQuantity\":{\"value\":72,\"unit\":\"/min\"}}"
#define CONDITION "{\"resourceType\":\"Condition\",\"id\":\"c1\"," SUBJ "}"

int main(void)
{
    items *it;

    /* A Bundle with a Condition, a heart rate and one BP reading: 1 reading, 2 skipped by
     * reason, 0 invalid; positions and names kept. */
    it = decode_text("{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":["
                     "{\"fullUrl\":\"urn:uuid:c\",\"resource\":" CONDITION "},"
                     "{\"resource\":" HR_OBS("hr1") "},"
                     "{\"resource\":" BP_OBS("bp1") "}]}",
                     0);
    CHECK(it->n == 1 && it->v[0].valid);
    CHECK_STR(it->v[0].id, "bp1");
    CHECK(it->v[0].index == 2);
    CHECK(it->n_skipped == 2);
    CHECK_STR(it->s[0].reason, BP_SKIP_NOT_OBSERVATION);
    CHECK_STR(it->s[0].type, "Condition");
    CHECK_STR(it->s[0].code, "");
    CHECK_STR(it->s[0].id, "Condition/c1");
    CHECK(it->s[0].index == 0);
    CHECK_STR(it->s[1].reason, BP_SKIP_NOT_BP);
    CHECK_STR(it->s[1].type, "Observation");
    CHECK_STR(it->s[1].code, "8867-4");
    CHECK_STR(it->s[1].id, "Observation/hr1");
    CHECK(it->s[1].index == 1);

    /* A top-level heart-rate Observation is skipped, not dead-lettered. */
    it = decode_text(HR_OBS("hr1"), 0);
    CHECK(it->n == 0 && it->n_skipped == 1);
    CHECK_STR(it->s[0].reason, BP_SKIP_NOT_BP);
    CHECK(it->s[0].index == -1);
    /* even with a broken value of its own: it is not ours to judge */
    it = decode_text("{\"resourceType\":\"Observation\",\"status\":\"final\"," LOINC("29463-7")
                     ",\"valueQuantity\":{\"value\":\"heavy\"}}",
                     0);
    CHECK(it->n == 0 && it->n_skipped == 1);
    CHECK_STR(it->s[0].code, "29463-7");
    CHECK_CONTAINS(it->s[0].id, "sha256:"); /* no id, no fullUrl: a content hash */

    /* A top-level resource of another type, an array and NDJSON of others: all skipped. */
    it = decode_text("{\"resourceType\":\"Patient\",\"id\":\"p\",\"meta\":{\"versionId\":\"3\"}}", 0);
    CHECK(it->n == 0 && it->n_skipped == 1);
    CHECK_STR(it->s[0].id, "Patient/p/_history/3");
    it = decode_text("[{\"resourceType\":\"Patient\"},{\"resourceType\":\"Encounter\"}]", 0);
    CHECK(it->n == 0 && it->n_skipped == 2);
    CHECK(strcmp(it->s[0].id, it->s[1].id) != 0);
    it = decode_text("{\"resourceType\":\"Patient\"}\n\n" HR_OBS("h") "\n", 0);
    CHECK(it->n == 0 && it->n_skipped == 2);
    CHECK(it->s[1].index == 2); /* NDJSON line 3 */

    /* Mean pressure alone: skipped under its own reason. */
    it = decode_text("{\"resourceType\":\"Observation\",\"status\":\"final\"," LOINC("8478-0") ","
                     SUBJ "," WHEN ",\"valueQuantity\":{\"value\":90," MMHG "}}",
                     0);
    CHECK(it->n == 0 && it->n_skipped == 1);
    CHECK_STR(it->s[0].reason, BP_SKIP_MEAN_ONLY);

    /* An empty Bundle and a request-only entry: valid FHIR with nothing of ours. */
    it = decode_text("{\"resourceType\":\"Bundle\",\"type\":\"searchset\",\"total\":0}", 0);
    CHECK(it->n == 0 && it->n_skipped == 1);
    CHECK_STR(it->s[0].reason, BP_SKIP_EMPTY_BUNDLE);
    it = decode_text("{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[{\"request\":"
                     "{\"method\":\"DELETE\",\"url\":\"Observation/x\"}}]}",
                     0);
    CHECK(it->n == 0 && it->n_skipped == 1);
    CHECK_STR(it->s[0].reason, BP_SKIP_NO_RESOURCE);
    CHECK_STR(it->s[0].type, "");

    /* What is broken stays a dead letter, beside what is skipped. */
    it = decode_text("[" CONDITION ",{\"status\":\"final\"}]", 0);
    CHECK(it->n == 1 && !it->v[0].valid && it->n_skipped == 1);
    CHECK_STR(it->v[0].reason, "not a FHIR resource (no resourceType)");
    /* a BP code with a broken value is ours, and broken */
    it = decode_text("{\"resourceType\":\"Observation\",\"status\":\"final\"," LOINC("85354-9") ","
                     SUBJ "," WHEN ",\"component\":[" COMP("8480-6", "\"high\"") "]}",
                     0);
    CHECK(it->n == 1 && !it->v[0].valid && it->n_skipped == 0);
    CHECK_CONTAINS(it->v[0].reason, "systolic value is not a number");

    /* Names of skipped resources are whole: ids sharing their first 300 bytes stay apart. */
    static char big[4096];
    char id[301];
    memset(id, 'a', 300);
    id[300] = '\0';
    snprintf(big, sizeof big, "[{\"resourceType\":\"Condition\",\"id\":\"%s1\"},"
             "{\"resourceType\":\"Condition\",\"id\":\"%s2\"}]", id, id);
    it = decode_text(big, 0);
    CHECK(it->n_skipped == 2);
    CHECK(strlen(it->s[0].id) == 10 + 301 && strcmp(it->s[0].id, it->s[1].id) != 0);
    /* A NUL in a skipped resource's id is never handed on (it would end the string early, or
     * reach a document as a marked byte): its name is then a content hash, distinct for
     * distinct resources. (An Observation holding a NUL is a dead letter, docs/fhir.md.) */
    it = decode_text("[{\"resourceType\":\"Condition\",\"id\":\"c\\u0000x\"},"
                     "{\"resourceType\":\"Condition\",\"id\":\"c\\u0000y\"}]",
                     0);
    CHECK(it->n == 0 && it->n_skipped == 2);
    CHECK_CONTAINS(it->s[0].id, "sha256:");
    CHECK(strcmp(it->s[0].id, it->s[1].id) != 0);
    for (int i = 0; i < 2; i++)
        CHECK(strchr(it->s[i].id, '\xff') == NULL && strchr(it->s[i].id, '\xfe') == NULL);
    return CHECK_DONE();
}
