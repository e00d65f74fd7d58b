#include "common/sha256.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define BP_SHA256_NI 1
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void block_portable(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] +
                      w[i];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
}

#ifdef BP_SHA256_NI
/* One block with the x86 SHA extensions (Intel's SHA-NI: the two 4-round halves of each group
 * of 4 rounds, and the message schedule, in hardware): the same function as block_portable, an
 * order of magnitude fewer cycles. The state is kept as the instructions want it, ABEF and CDGH.
 * w[i & 3] holds the schedule's words 4i..4i+3 of the group in use and those being built. */
__attribute__((target("sha,sse4.1,ssse3"))) static void block_ni(uint32_t h[8], const uint8_t *p)
{
    const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i cdab = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1);
    __m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B);
    __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
    __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
    __m128i abef0 = abef, cdgh0 = cdgh, w[4];
    for (int i = 0; i < 16; i++) {
        if (i < 4)
            w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), swap);
        __m128i m = _mm_add_epi32(w[i & 3], _mm_loadu_si128((const __m128i *)&K[4 * i]));
        cdgh = _mm_sha256rnds2_epu32(cdgh, abef, m);
        abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(m, 0x0E));
        /* the group after next: it needs words 4i-3..4i of the schedule before w[(i-1)&3] is
         * overwritten below */
        if (i >= 3 && i < 15)
            w[(i + 1) & 3] = _mm_sha256msg2_epu32(
                _mm_add_epi32(w[(i + 1) & 3], _mm_alignr_epi8(w[i & 3], w[(i - 1) & 3], 4)),
                w[i & 3]);
        if (i >= 1 && i < 13)
            w[(i - 1) & 3] = _mm_sha256msg1_epu32(w[(i - 1) & 3], w[i & 3]);
    }
    abef = _mm_add_epi32(abef, abef0);
    cdgh = _mm_add_epi32(cdgh, cdgh0);
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(dchg, feba, 8));
}

/* 1: the CPU has the SHA extensions (and SSSE3, SSE4.1), 0: not, -1: not asked yet. */
static atomic_int have_ni = -1;

static bool cpu_has_ni(void)
{
    int v = atomic_load_explicit(&have_ni, memory_order_relaxed);
    if (v < 0) {
        unsigned a, b, c, d;
        bool sse = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSSE3) && (c & bit_SSE4_1);
        v = sse && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
        atomic_store_explicit(&have_ni, v, memory_order_relaxed);
    }
    return v;
}
#endif

bool bp_sha256_accelerated(void)
{
#ifdef BP_SHA256_NI
    return cpu_has_ni();
#else
    return false;
#endif
}

static void blocks(uint32_t h[8], const uint8_t *p, size_t n, bool portable)
{
#ifdef BP_SHA256_NI
    if (!portable && cpu_has_ni()) {
        for (size_t i = 0; i < n; i++)
            block_ni(h, p + 64 * i);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        block_portable(h, p + 64 * i);
}

/* `v` as 4 big-endian bytes at `out`: one swap and one store where the compiler knows how (GCC
 * 12 turned the byte-by-byte form into ~200 instructions, a third of a hash with SHA-NI). */
static void put_be32(uint8_t *out, uint32_t v)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
    memcpy(out, &v, sizeof v);
#else
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
#endif
}

static void sha256(const void *data, size_t len, uint8_t out[32], bool portable)
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const uint8_t *p = data;
    size_t left = len;
    blocks(h, p, left / 64, portable);
    p += left / 64 * 64;
    left %= 64;
    uint8_t tail[128] = {0};
    memcpy(tail, p, left);
    tail[left] = 0x80;
    size_t tail_len = left < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    put_be32(tail + tail_len - 8, (uint32_t)(bits >> 32));
    put_be32(tail + tail_len - 4, (uint32_t)bits);
    blocks(h, tail, tail_len / 64, portable);
    for (int i = 0; i < 8; i++)
        put_be32(out + 4 * i, h[i]);
}

void bp_sha256(const void *data, size_t len, uint8_t out[32])
{
    sha256(data, len, out, false);
}

void bp_sha256_portable(const void *data, size_t len, uint8_t out[32])
{
    sha256(data, len, out, true);
}

void bp_sha256_id(const void *data, size_t len, int hex_chars, char *out, size_t out_len)
{
    uint8_t digest[32];
    bp_sha256(data, len, digest);
    if (hex_chars > 64)
        hex_chars = 64;
    int n = snprintf(out, out_len, "sha256:");
    for (int i = 0; i < hex_chars / 2 && (size_t)n + 3 <= out_len; i++)
        n += snprintf(out + n, out_len - (size_t)n, "%02x", digest[i]);
}
