/* lib/common/sha256 against the example vectors of FIPS 180-4 (NIST's "SHA256.pdf" examples and
 * the long message of the Secure Hash Standard validation): one block, the empty message, a
 * message that needs a second block for its padding, and one million 'a' fed in one call. */
#include "check.h"
#include "common/sha256.h"

#include <stdlib.h>

static void hex(const uint8_t d[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static const char *digest_of(const void *data, size_t len)
{
    static char out[65];
    uint8_t d[32];
    bp_sha256(data, len, d);
    hex(d, out);
    return out;
}

int main(void)
{
    CHECK_STR(digest_of("abc", 3),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_STR(digest_of("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK(strlen(two_blocks) * 8 == 448);
    CHECK_STR(digest_of(two_blocks, strlen(two_blocks)),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    size_t million = 1000000;
    char *a = malloc(million);
    CHECK(a != NULL);
    if (a) {
        memset(a, 'a', million);
        CHECK_STR(digest_of(a, million),
                  "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
        free(a);
    }
    /* Around the padding borders: 55 bytes still fit the length in their block, 56 and 63 need
     * a second block, 64 fill one exactly (digests from coreutils' sha256sum). */
    static const struct {
        size_t n;
        const char *digest;
    } borders[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
    };
    char as[64];
    memset(as, 'a', sizeof as);
    for (size_t i = 0; i < sizeof borders / sizeof borders[0]; i++)
        CHECK_STR(digest_of(as, borders[i].n), borders[i].digest);
    /* The id form stable ids use: a prefix of the same digest. */
    char id[48];
    bp_sha256_id("abc", 3, 40, id, sizeof id);
    CHECK_STR(id, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a3");
    /* The x86 SHA extensions (used where the CPU has them) give the portable C's digest for
     * every length across several blocks and both padding cases, from any alignment. */
    printf("SHA extensions %s\n", bp_sha256_accelerated() ? "used" : "absent: portable C only");
    uint8_t data[300];
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < sizeof data; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        data[i] = (uint8_t)x;
    }
    int differ = 0;
    for (size_t off = 0; off < 4; off++)
        for (size_t n = 0; n + off <= sizeof data; n++) {
            uint8_t fast[32], slow[32];
            bp_sha256(data + off, n, fast);
            bp_sha256_portable(data + off, n, slow);
            differ += memcmp(fast, slow, 32) != 0;
        }
    CHECK(differ == 0);
    uint8_t d[32];
    char s[65];
    bp_sha256_portable("abc", 3, d);
    hex(d, s);
    CHECK_STR(s, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    return CHECK_DONE();
}
