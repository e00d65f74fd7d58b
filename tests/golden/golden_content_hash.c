/* Golden values of the content hash, spelled out. Stable ids made of a hash become
 * Elasticsearch _ids and archive file names, so the hash must give the same hex for the same
 * input forever. The decoder tests check the shape of these ids (`sha256:` and 40 hex digits,
 * distinct inputs distinct); this test freezes their exact value:
 *  - SHA-256 itself (FIPS 180-4 vectors, across the block boundaries) and the `sha256:` form;
 *  - an Observation with no id that is the whole payload: the hash of the payload's own bytes;
 *  - the same kind of resource inside a Bundle: the hash of cJSON's unformatted printing of the
 *    parsed resource, given here in full, so a change in how the tree is built (the decoder's
 *    fast path) or printed (cJSON: numbers, escapes, raw UTF-8) shows up as that text changing;
 *  - an amended Observation without a version (`/_amended/` and the hash), alone and inside a
 *    Bundle, and a skipped resource with no id (its name is the hash too).
 * tests/golden/golden.sh freezes such ids end to end, as the sinks write them. */
#include "check.h"
#include "common/sha256.h"
#include "decoder/decode_helpers.h"

#include <stdint.h>
#include <stdlib.h>

static const char *hex(const uint8_t d[32])
{
    static char out[65];
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    return out;
}

static const char *digest(const void *data, size_t len)
{
    uint8_t d[32];
    bp_sha256(data, len, d);
    return hex(d);
}

static const char *id_of(const char *data, int hex_chars)
{
    static char out[80];
    bp_sha256_id(data, strlen(data), hex_chars, out, sizeof out);
    return out;
}

#define BP_COMPONENTS(s, d)                                                                        \
    "\"component\":[{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":"             \
    "\"8480-6\"}]},\"valueQuantity\":{\"value\":" s ",\"unit\":\"mmHg\"}},{\"code\":{\"coding\":"  \
    "[{\"system\":\"http://loinc.org\",\"code\":\"8462-4\"}]},\"valueQuantity\":{\"value\":" d     \
    ",\"unit\":\"mmHg\"}}]"

/* An Observation with no id, whole payload. */
static const char OBS_ALONE[] =
    "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"coding\":[{\"system\":"
    "\"http://loinc.org\",\"code\":\"85354-9\"}]},\"subject\":{\"reference\":\"Patient/p\"},"
    "\"effectiveDateTime\":\"2026-01-02T03:04:05Z\"," BP_COMPONENTS("120", "80") "}";

/* Amended, no version, whole payload. */
static const char AMENDED_ALONE[] =
    "{\"resourceType\":\"Observation\",\"id\":\"o-2\",\"status\":\"amended\",\"code\":{\"coding\":"
    "[{\"system\":\"http://loinc.org\",\"code\":\"85354-9\"}]},\"subject\":{\"reference\":"
    "\"Patient/p\"},\"effectiveDateTime\":\"2026-01-02T03:04:05Z\"," BP_COMPONENTS("131", "85") "}";
#define AMENDED_ALONE_HEX "2ff2783f5bddce471e1f12baa726f774f6a843b1"

/* The same kinds, inside a Bundle, written the way a person would (spaces, escapes, exponents).
 * Entry 0: no id, no fullUrl. Entry 1: amended, no version. Entry 2: a Condition, no id. */
// clang-format off
static const char BUNDLE[] =
    "{ \"resourceType\": \"Bundle\", \"type\": \"collection\", \"entry\": [\n"
    "  { \"resource\": { \"resourceType\": \"Observation\", \"status\": \"final\",\n"
    "      \"code\": { \"coding\": [ { \"system\": \"http://loinc.org\",\n"
    "          \"code\": \"85354-9\",\n"
    "          \"display\":\n"
    "              \"syst\\u00f3lico \\/ diast\\u00f3lico \\ud83d\\ude00 \xc3\xa9\" } ] },\n"
    "      \"subject\": { \"reference\": \"Patient/p\" },\n"
    "      \"effectiveDateTime\": \"2026-01-02T03:04:05Z\",\n"
    "      \"note\": [ { \"text\": \"q\\\" b\\\\ t\\t n\\n c\\u0001 d\\u007f\" } ],\n"
    "      \"extension\": [ { \"url\": \"n\", \"valueDecimal\": 1.0000000000000002 },\n"
    "          { \"url\": \"e\", \"valueDecimal\": 1E+2 },\n"
    "          { \"url\": \"z\", \"valueDecimal\": -0.0 },\n"
    "          { \"url\": \"big\", \"valueInteger\": 123456789012345678 },\n"
    "          { \"url\": \"tiny\", \"valueDecimal\": 1e-7 },\n"
    "          { \"url\": \"tenth\", \"valueDecimal\": 0.1 },\n"
    "          { \"url\": \"t\", \"valueBoolean\": true, \"valueString\": null } ],\n"
    "      " BP_COMPONENTS("120.50", "8.0e1") " } },\n"
    "  { \"resource\": { \"resourceType\": \"Observation\", \"id\": \"o-1\",\n"
    "      \"status\": \"amended\",\n"
    "      \"code\": { \"coding\": [ { \"system\": \"http://loinc.org\",\n"
    "          \"code\": \"85354-9\" } ] },\n"
    "      \"subject\": { \"reference\": \"Patient/p\" },\n"
    "      \"effectiveDateTime\": \"2026-01-02T03:04:05Z\",\n"
    "      " BP_COMPONENTS("131", "85") " } },\n"
    "  { \"resource\": { \"resourceType\": \"Condition\",\n"
    "      \"code\": { \"text\": \"Hypertension\" },\n"
    "      \"subject\": { \"reference\": \"Patient/p\" }, \"onsetDateTime\": \"2026-01-01\" } }\n"
    "] }\n";
// clang-format on

int main(void)
{
    /* SHA-256 (FIPS 180-4 and NIST CAVS examples): empty, one block, two blocks, 55/56/64
     * bytes (the padding boundaries), a million 'a's. */
    CHECK_STR(digest("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK_STR(digest("abc", 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK_STR(digest(two, strlen(two)),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    static char a[1000000];
    memset(a, 'a', sizeof a);
    CHECK_STR(digest(a, 55), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    CHECK_STR(digest(a, 56), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
    CHECK_STR(digest(a, 64), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
    CHECK_STR(digest(a, sizeof a),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

    /* The id form: "sha256:" and the first hex digits. */
    CHECK_STR(id_of("abc", 40), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a3");
    CHECK_STR(id_of("abc", 64),
              "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    /* A whole-payload Observation without id: the hash of the payload's own bytes. */
    items *it = decode_text(OBS_ALONE, 0);
    CHECK(it->n == 1 && it->v[0].valid);
    CHECK_STR(it->v[0].id, "sha256:da0b2769df365d22b8ecb269eeae26449e956c90");
    CHECK_STR(it->v[0].id, id_of(OBS_ALONE, 40));
    /* Amended without a version, whole payload: the id, /_amended/ and the payload's hash. */
    it = decode_text(AMENDED_ALONE, 0);
    CHECK(it->n == 1 && it->v[0].valid);
    CHECK_STR(it->v[0].id, "o-2/_amended/" AMENDED_ALONE_HEX);
    CHECK_STR(id_of(AMENDED_ALONE, 40), "sha256:" AMENDED_ALONE_HEX);

    /* Inside a Bundle: the hash of cJSON's printing of the parsed resource, which is this text
     * (cJSON 1.7.15: integers as integers, -0.0 as -0, 1E+2 as 100, 1e-7 as 1e-07, 15
     * significant digits when they read back within DBL_EPSILON, so 1.0000000000000002 prints
     * as 1, else 17; \u escapes and \/ decoded and non-ASCII written raw, control characters
     * as \u00XX, DEL raw; members in their order). */
    static const char ENTRY0_PRINTED[] =
        "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"coding\":[{\"system\":"
        "\"http://loinc.org\",\"code\":\"85354-9\",\"display\":\"syst\xc3\xb3lico / "
        "diast\xc3\xb3lico \xf0\x9f\x98\x80 "
        "\xc3\xa9\"}]},\"subject\":{\"reference\":\"Patient/p\"},"
        "\"effectiveDateTime\":\"2026-01-02T03:04:05Z\",\"note\":[{\"text\":"
        "\"q\\\" b\\\\ t\\t n\\n c\\u0001 d\x7f\"}],\"extension\":[{\"url\":\"n\","
        "\"valueDecimal\":1},"
        "{\"url\":\"e\",\"valueDecimal\":100},{\"url\":\"z\",\"valueDecimal\":-0},{\"url\":\"big\","
        "\"valueInteger\":1.2345678901234568e+17},{\"url\":\"tiny\",\"valueDecimal\":1e-07},"
        "{\"url\":\"tenth\",\"valueDecimal\":0.1},{\"url\":\"t\",\"valueBoolean\":true,"
        "\"valueString\":null}]," BP_COMPONENTS("120.5", "80") "}";
    static const char ENTRY1_PRINTED[] =
        "{\"resourceType\":\"Observation\",\"id\":\"o-1\",\"status\":\"amended\",\"code\":{"
        "\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"85354-9\"}]},\"subject\":{"
        "\"reference\":\"Patient/"
        "p\"},\"effectiveDateTime\":\"2026-01-02T03:04:05Z\"," BP_COMPONENTS("131", "85") "}";
    static const char ENTRY2_PRINTED[] =
        "{\"resourceType\":\"Condition\",\"code\":{\"text\":\"Hypertension\"},\"subject\":"
        "{\"reference\":\"Patient/p\"},\"onsetDateTime\":\"2026-01-01\"}";
    it = decode_text(BUNDLE, 0);
    CHECK(it->n == 2 && it->v[0].valid && it->v[1].valid && it->n_skipped == 1);
    CHECK_STR(it->v[0].id, "sha256:01024f477753ce6c2ff1bb3cd663a472ad74a92f");
    CHECK_STR(it->v[0].id, id_of(ENTRY0_PRINTED, 40));
    CHECK_STR(it->v[1].id, "o-1/_amended/f52925e6a8fc0927adb1ce9457c5f5c45da251c4");
    CHECK_STR(id_of(ENTRY1_PRINTED, 40), "sha256:f52925e6a8fc0927adb1ce9457c5f5c45da251c4");
    CHECK_STR(it->s[0].id, "sha256:90eecb73f1f4cf4db8a0874d4ee6b93c23fcf9e6");
    CHECK_STR(it->s[0].id, id_of(ENTRY2_PRINTED, 40));
    return CHECK_DONE();
}
